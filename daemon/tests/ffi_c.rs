//! libdspconnect as a C program uses it: examples/c/push.c and
//! examples/c/events.c compiled with gcc against the shared library and
//! include/dspconnect.h, run against the real daemon and the sandbox, and
//! again under AddressSanitizer + UBSan and under valgrind (no leak, no
//! invalid access); and
//! daemon/tests/c/restart_mid_call.c, a call in flight when the daemon is
//! killed. (The Python binding's tests are in ffi_python.rs.)
//!
//! A missing valgrind skips the valgrind runs (with a message) unless
//! DSP_REQUIRE_TOOLS is set, as the test script does.

mod daemon_support;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use daemon_support::*;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_owned()
}

/// Whether valgrind runs. Absent: skipped (false) unless DSP_REQUIRE_TOOLS
/// is set, when it fails.
fn have_valgrind() -> bool {
    let runs = Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !runs {
        assert!(
            std::env::var_os("DSP_REQUIRE_TOOLS").is_none(),
            "valgrind is required (DSP_REQUIRE_TOOLS is set) but does not run: install the Debian package valgrind"
        );
        eprintln!(
            "SKIPPED: valgrind is not installed (Debian package valgrind); set DSP_REQUIRE_TOOLS=1 to make this a failure"
        );
    }
    runs
}

/// gcc flags for a program under AddressSanitizer (leaks included) and
/// UBSan: the first error ends it with a failure.
const SANITIZERS: &[&str] = &[
    "-fsanitize=address,undefined",
    "-fno-omit-frame-pointer",
    "-fno-sanitize-recover=all",
];

/// gcc -std=c99 -Wall -Werror of an example against the library.
fn compile_c(source: &str, program: &Path, lib: &Path) {
    compile_c_with(source, program, lib, &[]);
}

fn compile_c_with(source: &str, program: &Path, lib: &Path, extra: &[&str]) {
    let compiled = Command::new("gcc")
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-g"])
        .args(extra)
        .arg(workspace().join(source))
        .arg("-I")
        .arg(workspace().join("include"))
        .arg("-L")
        .arg(lib)
        .arg("-ldspconnect")
        .arg("-lpthread")
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-o")
        .arg(program)
        .output()
        .expect("gcc runs (Debian package gcc)");
    assert!(
        compiled.status.success(),
        "gcc {source}: {}",
        String::from_utf8_lossy(&compiled.stderr)
    );
}

/// Runs `program` with `args`, under valgrind when `valgrind`; its stdout
/// when it succeeds (and valgrind found nothing).
fn run_c(program: &Path, args: &[&std::ffi::OsStr], valgrind: bool, daemon: &Daemon) -> String {
    let mut command = if valgrind {
        let mut c = Command::new("valgrind");
        c.args([
            "--leak-check=full",
            "--errors-for-leak-kinds=definite,possible",
            "--error-exitcode=1",
            "--quiet",
        ])
        .arg(program);
        c
    } else {
        Command::new(program)
    };
    let run = command.args(args).output().expect("the program runs");
    let stdout = String::from_utf8_lossy(&run.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "{} (valgrind: {valgrind}) {}:\n{stdout}\n{stderr}\n{}",
        program.display(),
        run.status,
        daemon.logs()
    );
    if valgrind {
        assert!(
            !stderr.contains("Invalid read") && !stderr.contains("definitely lost"),
            "valgrind: {stderr}"
        );
    }
    stdout
}

#[test]
fn the_header_is_c99_and_cpp_clean() {
    for (compiler, args) in [
        ("gcc", ["-std=c99", "-x", "c"]),
        ("g++", ["-std=c++17", "-x", "c++"]),
    ] {
        let out = Command::new(compiler)
            .args(["-Wall", "-Wextra", "-Werror", "-pedantic", "-fsyntax-only"])
            .args(args)
            .arg(workspace().join("include/dspconnect.h"))
            .output()
            .unwrap_or_else(|e| panic!("{compiler} runs (Debian package {compiler}): {e}"));
        assert!(
            out.status.success(),
            "{compiler}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn the_c_example_pushes_a_report_through_the_library() {
    let lib = ffi_library_dir();
    let out = tempfile::tempdir().unwrap();
    let program = out.path().join("push");
    let compiled = Command::new("gcc")
        .arg("-std=c99")
        .arg("-Wall")
        .arg("-Werror")
        .arg(workspace().join("examples/c/push.c"))
        .arg("-I")
        .arg(workspace().join("include"))
        .arg("-L")
        .arg(&lib)
        .arg("-ldspconnect")
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-o")
        .arg(&program)
        .output()
        .expect("gcc runs (Debian package gcc)");
    assert!(
        compiled.status.success(),
        "gcc: {}",
        String::from_utf8_lossy(&compiled.stderr)
    );

    let sandbox = ExternalSandbox::start();
    let home = DaemonHome::new();
    let (card, pin) = sandbox.export_card("SBX1001", sandbox.dir.path());
    home.write_config(sandbox.profile(), |_| {});
    let daemon = Daemon::start(&home, &["--software-card", card.to_str().unwrap()]);
    let report = home.path("home").join("report.pdf");
    std::fs::write(&report, pdf(25_000, 7)).unwrap();

    let run = Command::new(&program)
        .arg(&daemon.socket)
        .arg(&pin)
        .arg("1945093006704")
        .arg(&report)
        .output()
        .expect("the example runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}\n{}\n{}",
        String::from_utf8_lossy(&run.stderr),
        daemon.logs()
    );
    assert!(stdout.contains("sandbox=1"), "{stdout}");
    assert!(stdout.contains("(done)"), "{stdout}");
    assert!(stdout.contains("Lettre de sortie (C)"), "{stdout}");
    assert!(stdout.contains("mode now Normal"), "{stdout}");
    assert!(stdout.contains("DSP URL: https://"), "{stdout}");
    assert!(
        stdout.contains("bad matricule: code 300, field metadata.patient"),
        "{stdout}"
    );
}

#[test]
fn the_pkg_config_file_gives_the_version_and_the_flags_to_build_with() {
    let lib = ffi_library_dir();
    let pkg = |args: &[&str]| {
        let out = Command::new("pkg-config")
            .env("PKG_CONFIG_PATH", workspace().join("include"))
            .arg(format!(
                "--define-variable=includedir={}",
                workspace().join("include").display()
            ))
            .arg(format!("--define-variable=libdir={}", lib.display()))
            .args(args)
            .arg("dspconnect")
            .output()
            .expect("pkg-config runs (Debian package pkg-config)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert_eq!(pkg(&["--modversion"]), env!("CARGO_PKG_VERSION"));
    let flags = pkg(&["--cflags", "--libs"]);
    let out = tempfile::tempdir().unwrap();
    let compiled = Command::new("gcc")
        .arg(workspace().join("examples/c/push.c"))
        .args(flags.split_whitespace())
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-o")
        .arg(out.path().join("push"))
        .output()
        .expect("gcc runs");
    assert!(
        compiled.status.success(),
        "gcc {flags}: {}",
        String::from_utf8_lossy(&compiled.stderr)
    );
}

/// The C examples against one daemon, plainly and under valgrind: events
/// by callback (on the library's thread, calling back into the library),
/// non-blocking job status, retrieval into memory, replacement (RPLC), the
/// HPD directory, no callback after unregistering or freeing; and the push
/// example's strings, lists and errors all freed.
#[test]
fn the_c_examples_run_against_the_daemon_under_asan_and_valgrind() {
    let lib = ffi_library_dir();
    let out = tempfile::tempdir().unwrap();
    let events = out.path().join("events");
    let push = out.path().join("push");
    compile_c("examples/c/events.c", &events, &lib);
    compile_c("examples/c/push.c", &push, &lib);
    let events_asan = out.path().join("events-asan");
    let push_asan = out.path().join("push-asan");
    compile_c_with("examples/c/events.c", &events_asan, &lib, SANITIZERS);
    compile_c_with("examples/c/push.c", &push_asan, &lib, SANITIZERS);

    let sandbox = ExternalSandbox::start();
    let home = DaemonHome::new();
    let (card, pin) = sandbox.export_card("SBX1001", sandbox.dir.path());
    home.write_config(sandbox.profile(), |_| {});
    let daemon = Daemon::start(&home, &["--software-card", card.to_str().unwrap()]);
    let report = home.path("home").join("bilan.pdf");
    std::fs::write(&report, pdf(30_000, 9)).unwrap();
    let args = [
        daemon.socket.as_os_str(),
        std::ffi::OsStr::new(&pin),
        std::ffi::OsStr::new("1945093006704"),
        report.as_os_str(),
    ];

    // Plain, under AddressSanitizer + UBSan, and under valgrind.
    let mut runs = vec![(&events, &push, false), (&events_asan, &push_asan, false)];
    if have_valgrind() {
        runs.push((&events, &push, true));
    }
    for (events, push, valgrind) in runs {
        let stdout = run_c(events, &args, valgrind, &daemon);
        let context = format!("{} (valgrind: {valgrind})\n{stdout}", events.display());
        assert!(stdout.contains("job status Done after "), "{context}");
        assert!(stdout.contains("done event for the job yes"), "{context}");
        assert!(stdout.contains("status from the callback ok"), "{context}");
        assert!(!stdout.contains("session events 0,"), "{context}");
        let size = std::fs::metadata(&report).unwrap().len();
        assert!(
            stdout.contains(&format!(
                "get_to_buffer: {size} bytes, application/pdf, identical"
            )),
            "{context}"
        );
        assert!(
            stdout.contains("too large: code 304, data NULL"),
            "{context}"
        );
        assert!(
            stdout.contains(": Done\n"),
            "the replacement is registered: {context}"
        );
        assert!(
            stdout.contains("listed: original no, replacement yes"),
            "{context}"
        );
        assert!(stdout.contains("hpd: SBX1002 "), "{context}");
        assert!(stdout.contains("unknown job: code 313"), "{context}");
        assert!(
            stdout.contains("after unregistering: 0 new events"),
            "{context}"
        );
        assert!(
            stdout.contains("callbacks after dsp_client_free: 0"),
            "{context}"
        );

        let stdout = run_c(push, &args, valgrind, &daemon);
        assert!(
            stdout.contains("(done)") && stdout.contains("mode now Normal"),
            "{} (valgrind: {valgrind})\n{stdout}",
            push.display()
        );
    }
}

/// The account calls from C against the daemon (under valgrind when it is
/// there): the pending professional activates the account with the card
/// and the letter, opens a password session (no documents in it), changes
/// the password; wrong inputs answer their codes.
#[test]
fn the_c_account_example_activates_logs_in_and_changes_the_password() {
    let lib = ffi_library_dir();
    let out = tempfile::tempdir().unwrap();
    let program = out.path().join("account");
    compile_c("examples/c/account.c", &program, &lib);

    let sandbox = ExternalSandbox::start();
    let letter = sandbox
        .activation_letter
        .clone()
        .expect("the demo letter's code at first start");
    let home = DaemonHome::new();
    let (card, pin) = sandbox.export_card("SBX1005", sandbox.dir.path());
    home.write_config(sandbox.profile(), |_| {});
    let daemon = Daemon::start(&home, &["--software-card", card.to_str().unwrap()]);
    let matricule = sandbox
        .store()
        .professional(&dspconnect_sandbox::policy::EHealthId::new("SBX1005").unwrap())
        .unwrap()
        .expect("SBX1005 in the HPD")
        .matricule
        .to_string();
    let email = "dr.pending@example.lu";
    let valgrind = have_valgrind();
    fn os(s: &str) -> &std::ffi::OsStr {
        std::ffi::OsStr::new(s)
    }

    let stdout = run_c(
        &program,
        &[
            daemon.socket.as_os_str(),
            os(&pin),
            os("activate"),
            os(&letter),
            os(&matricule),
            os(email),
        ],
        valgrind,
        &daemon,
    );
    assert!(
        stdout.contains("unlock before activation: code 502"),
        "{stdout}"
    );
    assert!(stdout.contains("wrong letter code: code 509"), "{stdout}");
    assert!(stdout.contains("activation code sent to "), "{stdout}");

    let email_code = sandbox.mailed_code(email);
    let stdout = run_c(
        &program,
        &[
            daemon.socket.as_os_str(),
            os(&pin),
            os("confirm"),
            os(&letter),
            os(&matricule),
            os(&email_code),
            os("Neues-Passwort-2026"),
            os("Noch-ein-Passwort-2027"),
        ],
        valgrind,
        &daemon,
    );
    assert!(stdout.contains("activated SBX1005"), "{stdout}");
    assert!(
        stdout.contains("password session: state 9 (password)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("documents in a password session: code 412"),
        "{stdout}"
    );
    assert!(stdout.contains("weak password: code 311"), "{stdout}");
    assert!(stdout.contains("password changed"), "{stdout}");
    assert!(stdout.contains("old password: code "), "{stdout}");
    assert!(stdout.contains("new password session: state 9"), "{stdout}");
}

/// A call blocked in the daemon when the daemon is killed (SIGKILL):
/// `dsp_job_wait` on a job that cannot finish (the platform is unavailable)
/// answers DSP_E_CONNECTION_LOST (201) at once — long before its 60 s
/// timeout, without hanging or crashing; the dead handle's next call fails
/// with 201 too (no SIGPIPE in the host), and after the daemon is started
/// again a new client's status works. Plainly and under valgrind.
#[test]
fn a_call_in_flight_when_the_daemon_is_killed_answers_connection_lost() {
    let lib = ffi_library_dir();
    let out = tempfile::tempdir().unwrap();
    let program = out.path().join("restart_mid_call");
    compile_c("daemon/tests/c/restart_mid_call.c", &program, &lib);

    let sandbox = ExternalSandbox::start();
    let home = DaemonHome::new();
    let (card, pin) = sandbox.export_card("SBX1001", sandbox.dir.path());
    home.write_config(sandbox.profile(), |_| {});
    let card_arg = ["--software-card", card.to_str().unwrap()];
    // The platform accepts nothing: the job retries and never ends.
    sandbox.set_faults(dspconnect_sandbox::faults::FaultPlan {
        seed: Some(7),
        rules: vec![dspconnect_sandbox::faults::FaultRule {
            path_prefix: "/xds/".to_owned(),
            unavailable_percent: 100,
            ..Default::default()
        }],
    });

    let mut runs = vec![false];
    if have_valgrind() {
        runs.push(true);
    }
    for valgrind in runs {
        let mut daemon = Daemon::start(&home, &card_arg);
        let mut command = if valgrind {
            let mut c = Command::new("valgrind");
            c.args([
                "--leak-check=full",
                "--errors-for-leak-kinds=definite,possible",
                "--error-exitcode=1",
                "--quiet",
            ])
            .arg(&program);
            c
        } else {
            Command::new(&program)
        };
        let mut child = command
            .arg(&daemon.socket)
            .arg(&pin)
            .arg("1945093006704")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the program starts");
        let stdout = child.stdout.take().expect("stdout");
        let (lines, next) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let mut seen = Vec::new();
        let mut expect_line = |prefix: &str, within: Duration, child: &mut std::process::Child| {
            match next.recv_timeout(within) {
                Ok(line) if line.starts_with(prefix) => {
                    seen.push(line.clone());
                    line
                }
                other => {
                    let _ = child.kill();
                    let output = child.wait_with_output_of_stderr();
                    panic!(
                        "valgrind: {valgrind}: expected a line {prefix:?} within {within:?}, got {other:?}\nbefore: {seen:?}\n{output}"
                    )
                }
            }
        };

        expect_line("waiting on ", Duration::from_secs(120), &mut child);
        // The program prints just before the call: let it block in the daemon.
        std::thread::sleep(Duration::from_millis(1500));
        let killed = Instant::now();
        daemon.kill9();
        let answer = expect_line("job_wait: ", Duration::from_secs(30), &mut child);
        let returned_after = killed.elapsed();
        assert!(
            answer.starts_with("job_wait: code 201 after ")
                && answer.ends_with("(connection lost)"),
            "valgrind: {valgrind}: {answer}"
        );
        assert!(
            returned_after < Duration::from_secs(10),
            "valgrind: {valgrind}: the call returned {returned_after:?} after the kill"
        );
        let waited_ms: u64 = answer
            .trim_start_matches("job_wait: code 201 after ")
            .split(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{answer}"));
        assert!(
            waited_ms >= 1_000,
            "the call was in flight when the daemon died: {answer}"
        );
        let old = expect_line("old client: ", Duration::from_secs(30), &mut child);
        assert_eq!(old, "old client: code 201", "valgrind: {valgrind}");
        expect_line("restart the daemon", Duration::from_secs(30), &mut child);

        let daemon = Daemon::start(&home, &card_arg);
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(b"restarted\n").expect("answer the program");
        drop(stdin);
        let status = expect_line("new client: ", Duration::from_secs(60), &mut child);
        assert!(
            status.starts_with("new client: status ok, sandbox 1, session "),
            "valgrind: {valgrind}: {status}"
        );
        // The job spooled before the kill is still there, waiting.
        assert!(
            !status.ends_with("outbox waiting 0"),
            "valgrind: {valgrind}: {status}"
        );
        let exit = child.wait().expect("the program ends");
        let mut stderr = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
        }
        assert!(
            exit.success(),
            "valgrind: {valgrind}: {exit}\n{seen:?}\n{stderr}\n{}",
            daemon.logs()
        );
        if valgrind {
            assert!(
                !stderr.contains("Invalid read") && !stderr.contains("definitely lost"),
                "valgrind: {stderr}"
            );
        }
        eprintln!("valgrind: {valgrind}: returned {returned_after:?} after the kill: {seen:?}");
        drop(daemon);
    }
}

/// The stderr of a child that was killed, for a failure message.
trait StderrOf {
    fn wait_with_output_of_stderr(&mut self) -> String;
}

impl StderrOf for std::process::Child {
    fn wait_with_output_of_stderr(&mut self) -> String {
        let _ = self.wait();
        let mut stderr = String::new();
        if let Some(mut e) = self.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
        }
        stderr
    }
}
