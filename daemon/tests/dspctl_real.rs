//! `dspctl` against the real daemon and the sandbox: what a professional
//! types in a shell, end to end, and `dspctl doctor` with and without a
//! daemon.

mod daemon_support;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use daemon_support::*;

const MARIE: &str = "1945093006704";

fn dspctl(daemon: &Daemon, home: &DaemonHome, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dspctl"))
        .arg("--socket")
        .arg(&daemon.socket)
        .args(args)
        .env("HOME", home.path("home"))
        .env("XDG_CONFIG_HOME", home.path("config"))
        .env("XDG_RUNTIME_DIR", home.path("runtime"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("dspctl runs");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("stdin written");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("dspctl ends")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "dspctl failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_professional_works_from_the_shell() {
    let sandbox = ExternalSandbox::start();
    let home = DaemonHome::new();
    let (card, pin) = sandbox.export_card("SBX1001", sandbox.dir.path());
    home.write_config(sandbox.profile(), |_| {});
    let daemon = Daemon::start(&home, &["--software-card", card.to_str().unwrap()]);

    let status = dspctl(&daemon, &home, &["status"], None);
    assert!(
        String::from_utf8_lossy(&status.stderr).contains("SANDBOX"),
        "dspctl says SANDBOX"
    );
    ok(&status);

    let unlocked = ok(&dspctl(
        &daemon,
        &home,
        &["unlock", "--pin-stdin"],
        Some(&format!("{pin}\n")),
    ));
    assert!(unlocked.contains("authenticated"), "{unlocked}");

    let report = home.path("home").join("lettre.pdf");
    std::fs::write(&report, pdf(40_000, 4)).unwrap();
    let pushed = ok(&dspctl(
        &daemon,
        &home,
        &[
            "--json",
            "push",
            report.to_str().unwrap(),
            "--patient",
            MARIE,
            "--title",
            "Lettre du shell",
            "--mode",
            "restreint",
            "--patient-informed",
        ],
        None,
    ));
    let accepted: serde_json::Value = serde_json::from_str(&pushed).expect("JSON");
    let job_id = accepted["job_id"].as_str().expect("job id").to_owned();
    let unique_id = accepted["unique_id"]
        .as_str()
        .expect("unique id")
        .to_owned();
    let job = ok(&dspctl(
        &daemon,
        &home,
        &["job", &job_id, "--wait", "60"],
        None,
    ));
    assert!(job.contains("done"), "{job}");

    let listed = ok(&dspctl(&daemon, &home, &["list", MARIE], None));
    assert!(listed.contains("Lettre du shell"), "{listed}");
    let out = home.path("home").join("copie.pdf");
    ok(&dspctl(
        &daemon,
        &home,
        &["get", MARIE, &unique_id, "--output", out.to_str().unwrap()],
        None,
    ));
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(&report).unwrap()
    );

    // A push without the patient's statement never leaves the shell.
    let refused = dspctl(
        &daemon,
        &home,
        &[
            "push",
            report.to_str().unwrap(),
            "--patient",
            MARIE,
            "--title",
            "Sans accord",
        ],
        None,
    );
    assert!(!refused.status.success());

    let doctor = dspctl(&daemon, &home, &["doctor"], None);
    let text = String::from_utf8_lossy(&doctor.stdout).into_owned();
    assert!(text.contains("socket"), "{text}");
    assert!(text.contains("SANDBOX"), "{text}");
    assert!(text.contains("authenticated"), "{text}");
    assert!(doctor.status.success(), "{text}");
}

#[test]
fn doctor_without_a_daemon_says_what_to_start() {
    let home = DaemonHome::new();
    let out = Command::new(env!("CARGO_BIN_EXE_dspctl"))
        .arg("--socket")
        .arg(home.socket())
        .arg("doctor")
        .env("HOME", home.path("home"))
        .env("XDG_CONFIG_HOME", home.path("config"))
        .env("XDG_RUNTIME_DIR", home.path("runtime"))
        .output()
        .expect("dspctl runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("FAIL  socket"), "{text}");
    assert!(text.contains("start the daemon"), "{text}");
    assert!(text.contains("ok    config"), "{text}");
}
