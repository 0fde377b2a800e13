//! `dspctl` as a user runs it: the real binary against the real IPC server
//! (with the test handler of `common`).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use clap::{CommandFactory, Parser};
use common::{Options, PATIENT, PIN, TestDaemon, document_content, file_with};
use dspconnect::ipc::protocol::*;
use dspconnect::model::ConfidentialityMode;
use dspconnectd::dspctl::{Cli, Command as Sub, METHOD_COMMANDS};
use sha2::{Digest, Sha256};

fn dspctl(d: &TestDaemon, args: &[&str]) -> Output {
    dspctl_with_stdin(d, args, "")
}

fn dspctl_with_stdin(d: &TestDaemon, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dspctl"))
        .arg("--socket")
        .arg(d.socket())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn ok(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

#[test]
fn help_lists_every_method_and_every_listed_command_exists() {
    let out = Command::new(env!("CARGO_BIN_EXE_dspctl"))
        .arg("--help")
        .output()
        .unwrap();
    let help = ok(&out);
    for method in METHOD_NAMES {
        assert!(
            help.contains(method),
            "`dspctl --help` does not mention {method}"
        );
    }
    let methods: Vec<&str> = METHOD_COMMANDS.iter().map(|(m, _)| *m).collect();
    assert_eq!(
        methods, METHOD_NAMES,
        "METHOD_COMMANDS is out of step with the protocol"
    );
    let cli = Cli::command();
    for (method, commands) in METHOD_COMMANDS {
        for command in commands.split(", ") {
            let mut words = command.split(' ');
            let name = words.next().unwrap();
            let sub = cli
                .find_subcommand(name)
                .unwrap_or_else(|| panic!("{method}: no subcommand '{name}'"));
            for flag in words {
                let long = flag.trim_start_matches("--");
                assert!(
                    sub.get_arguments().any(|a| a.get_long() == Some(long)),
                    "{method}: '{name}' has no {flag}"
                );
            }
        }
    }
}

#[test]
fn the_command_line_parses_as_documented() {
    let cli = Cli::try_parse_from([
        "dspctl",
        "push",
        "r.pdf",
        "--patient",
        PATIENT,
        "--title",
        "Lettre",
        "--mode",
        "visite d'annonce",
        "--type-code",
        "34133-9@2.16.840.1.113883.6.1",
        "--patient-informed",
        "--json",
    ])
    .unwrap();
    assert!(cli.json);
    match cli.command {
        Sub::Push {
            metadata, upload, ..
        } => {
            assert_eq!(metadata.mode, ConfidentialityMode::VisiteAnnonce);
            assert_eq!(metadata.type_code.unwrap().code, "34133-9");
            assert!(metadata.patient_informed && !upload);
        }
        other => panic!("{other:?}"),
    }
    // A PIN is never an argument.
    assert!(Cli::try_parse_from(["dspctl", "unlock", "--pin", "1234"]).is_err());
    assert!(Cli::try_parse_from(["dspctl", "unlock", "1234"]).is_err());
    assert!(Cli::try_parse_from(["dspctl", "unlock", "--pinpad", "--pin-stdin"]).is_err());
    // push needs a patient and a title; mode must be one of the four.
    assert!(Cli::try_parse_from(["dspctl", "push", "r.pdf", "--title", "t"]).is_err());
    let e = Cli::try_parse_from(["dspctl", "mode", PATIENT, "2.25.1", "secret"]).unwrap_err();
    assert!(
        e.to_string().contains("unknown confidentiality mode"),
        "{e}"
    );
    // hpd needs one of its two queries.
    assert!(Cli::try_parse_from(["dspctl", "hpd"]).is_err());
    assert!(Cli::try_parse_from(["dspctl", "hpd", "--name", "Dupont"]).is_ok());
    assert!(
        Cli::try_parse_from(["dspctl", "--socket", "/a", "--endpoint", "b", "status"]).is_err()
    );
    let cli = Cli::try_parse_from(["dspctl", "log", "-n", "5"]).unwrap();
    assert!(matches!(cli.command, Sub::Log { lines: 5 }));
}

#[test]
fn usage_errors_exit_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_dspctl"))
        .args(["mode", PATIENT])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

#[test]
fn a_push_without_the_patient_statement_is_refused_quoting_the_charter() {
    // No daemon is needed to refuse it.
    let dir = tempfile::tempdir().unwrap();
    let file = file_with(dir.path(), "r.pdf", b"%PDF-1.4");
    let out = Command::new(env!("CARGO_BIN_EXE_dspctl"))
        .args(["--socket", "/nonexistent/d.sock", "push"])
        .arg(&file)
        .args(["--patient", PATIENT, "--title", "Lettre"])
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("« Obtenir l'approbation du patient, dûment averti »"),
        "{stderr}"
    );
    assert!(stderr.contains("--patient-informed"), "{stderr}");
}

#[test]
fn no_daemon_exits_3_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dspctl"))
        .arg("--socket")
        .arg(dir.path().join("none.sock"))
        .arg("status")
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("the daemon is not running"), "{stderr}");
    assert!(stderr.contains("[DSP_E_DAEMON_NOT_RUNNING]"), "{stderr}");
}

#[test]
fn push_prints_the_job_id_and_json_parses() {
    let d = TestDaemon::start("ctl-push");
    let file = file_with(d.dir.path(), "lettre.pdf", b"%PDF-1.4 test");
    let rel_args = [
        "--patient",
        PATIENT,
        "--title",
        "Lettre de sortie",
        "--mode",
        "restreint",
        "--patient-informed",
        "--mime",
        "application/pdf",
    ];
    let out = dspctl(
        &d,
        &[&["push", file.to_str().unwrap()][..], &rel_args].concat(),
    );
    let stdout = ok(&out);
    assert!(stdout.contains("queued: job job-1"), "{stdout}");
    assert!(text(&out.stderr).contains("SANDBOX"), "no SANDBOX banner");
    let sent = d.state.lock().unwrap().last_push.clone().unwrap();
    assert_eq!(
        sent.source,
        DocumentSource::Path(file.to_str().unwrap().to_owned())
    );
    assert_eq!(sent.metadata.mode, ConfidentialityMode::Restreint);
    assert!(sent.metadata.patient_statement.informed_and_agrees);
    assert_eq!(sent.metadata.mime_type.as_deref(), Some("application/pdf"));

    let out = dspctl(
        &d,
        &[&["--json", "push", file.to_str().unwrap()][..], &rel_args].concat(),
    );
    let accepted: PushAccepted = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(accepted.job_id, "job-2");

    // The jobs table lists both, aligned.
    let table = ok(&dspctl(&d, &["jobs"]));
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(
        lines[0].starts_with("JOB") && lines[1].starts_with("job-1"),
        "{table}"
    );
    let column = lines[0].find("STATE").unwrap();
    assert_eq!(lines[1].find("queued"), Some(column), "{table}");

    let job: Job = serde_json::from_str(&ok(&dspctl(&d, &["--json", "job", "job-2"]))).unwrap();
    assert_eq!(job.state, JobState::Queued);
    let human = ok(&dspctl(&d, &["job", "job-2", "--wait", "1"]));
    assert!(
        human.contains("state:") && human.contains("queued"),
        "{human}"
    );
    assert_eq!(
        d.calls().iter().filter(|c| *c == "job.wait").count(),
        1,
        "{:?}",
        d.calls()
    );
}

#[test]
fn daemon_errors_exit_1_with_message_hint_and_code() {
    let d = TestDaemon::start("ctl-errors");
    let file = file_with(d.dir.path(), "r.pdf", b"%PDF");
    let out = dspctl(
        &d,
        &[
            "push",
            file.to_str().unwrap(),
            "--patient",
            "12",
            "--title",
            "t",
            "--patient-informed",
        ],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error: '12' is not a matricule (field 'metadata.patient')"),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: a matricule has 13 digits"),
        "{stderr}"
    );
    assert!(stderr.contains("[DSP_E_BAD_MATRICULE]"), "{stderr}");

    let missing = d.dir.path().join("missing.pdf");
    let out = dspctl(
        &d,
        &[
            "push",
            missing.to_str().unwrap(),
            "--patient",
            PATIENT,
            "--title",
            "t",
            "--patient-informed",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("[DSP_E_FILE_NOT_FOUND]"));

    let out = dspctl(&d, &["--json", "job", "job-99"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(v["error"]["data"]["name"], "DSP_E_UNKNOWN_JOB");
}

#[test]
fn secrets_come_from_stdin_and_never_from_arguments() {
    let d = TestDaemon::start("ctl-secrets");
    let out = dspctl_with_stdin(&d, &["unlock", "--pin-stdin"], &format!("{PIN}\n"));
    assert!(ok(&out).contains("session: authenticated"));
    assert_eq!(d.state.lock().unwrap().last_pin.as_deref(), Some(PIN));

    let out = dspctl_with_stdin(&d, &["unlock", "--pin-stdin"], "9999\n");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("PIN tries left: 2") && stderr.contains("[DSP_E_WRONG_PIN]"),
        "{stderr}"
    );

    // Without a terminal and without --pin-stdin there is no way to ask.
    let out = Command::new("setsid")
        .arg(env!("CARGO_BIN_EXE_dspctl"))
        .args(["--socket", d.socket().to_str().unwrap(), "unlock"])
        .stdin(Stdio::null())
        .output()
        .expect("setsid (util-linux) is needed for this test");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--pin-stdin"), "{stderr}");

    let out = dspctl_with_stdin(
        &d,
        &["login", "--matricule", PATIENT, "--password-stdin"],
        "secret-pw\n",
    );
    assert!(ok(&out).contains("password"));
    let out = dspctl_with_stdin(&d, &["access", PATIENT, "--code-stdin"], "AB12CD\n");
    assert!(ok(&out).contains("grant-1"));
    let out = dspctl_with_stdin(
        &d,
        &[
            "activate",
            "--matricule",
            PATIENT,
            "--email",
            "d@example.lu",
            "--secrets-stdin",
        ],
        "LETTER-CODE\n",
    );
    assert!(ok(&out).contains("d***@example.lu"));
    let out = dspctl_with_stdin(
        &d,
        &[
            "activate-confirm",
            "--matricule",
            PATIENT,
            "--secrets-stdin",
        ],
        "LETTER-CODE\n777\nNew-Password-1\n",
    );
    assert!(ok(&out).contains("account activated"));
    let out = dspctl_with_stdin(&d, &["password", "--secrets-stdin"], "old\nnew\n");
    assert!(ok(&out).contains("password changed"));
    // Missing lines on stdin are an error, not an empty secret.
    let out = dspctl_with_stdin(&d, &["password", "--secrets-stdin"], "old\n");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

#[test]
fn chunked_upload_and_download_move_the_exact_bytes() {
    let d = TestDaemon::start("ctl-chunks");
    let content: Vec<u8> = (0..1_300_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let file = file_with(d.dir.path(), "big.pdf", &content);
    let out = dspctl(
        &d,
        &[
            "push",
            file.to_str().unwrap(),
            "--upload",
            "--patient",
            PATIENT,
            "--title",
            "t",
            "--patient-informed",
        ],
    );
    ok(&out);
    {
        let s = d.state.lock().unwrap();
        let push = s.last_push.clone().unwrap();
        let DocumentSource::Upload(id) = push.source else {
            panic!("not an upload: {:?}", push.source)
        };
        assert_eq!(s.committed[&id], content);
    }
    let chunk_calls = d
        .calls()
        .iter()
        .filter(|c| *c == "document.upload_chunk")
        .count();
    assert_eq!(chunk_calls, content.len().div_ceil(MAX_CHUNK_BYTES));

    for (name, extra) in [("by-daemon.pdf", None), ("by-chunks.pdf", Some("--chunks"))] {
        let target = d.dir.path().join(name);
        let mut args = vec![
            "--json",
            "get",
            PATIENT,
            "2.25.100",
            "-o",
            target.to_str().unwrap(),
        ];
        args.extend(extra);
        let retrieved: Retrieved = serde_json::from_str(&ok(&dspctl(&d, &args))).unwrap();
        let expected = document_content();
        assert_eq!(std::fs::read(&target).unwrap(), expected, "{name}");
        assert_eq!(retrieved.sha256, format!("{:x}", Sha256::digest(&expected)));
        assert_eq!(retrieved.size, expected.len() as u64);
        // The file exists now: a second get refuses to overwrite it.
        let again = dspctl(&d, &args);
        assert_eq!(again.status.code(), Some(2), "{}", text(&again.stderr));
    }
    assert!(d.calls().contains(&"document.close_read".to_owned()));
}

#[test]
fn every_other_command_reaches_its_method() {
    let d = TestDaemon::start_with(
        "ctl-all",
        Options {
            sandbox: false,
            ..Options::default()
        },
    );
    let status = ok(&dspctl(&d, &["status"]));
    assert!(
        status.contains("session:") && status.contains("authenticated"),
        "{status}"
    );
    let file = file_with(d.dir.path(), "v2.pdf", b"%PDF-2");
    let runs: Vec<(Vec<&str>, &str, &str)> = vec![
        (vec!["lock"], "session.lock", "locked (explicit)"),
        (
            vec!["list", PATIENT, "--since-last-visit"],
            "document.list",
            "2.25.101",
        ),
        (
            vec!["mode", PATIENT, "2.25.100", "prive"],
            "document.set_mode",
            "Privé",
        ),
        (
            vec!["open", PATIENT, "--no-browser"],
            "dsp.open",
            "https://127.0.0.1:8443/portal/ticket",
        ),
        (vec!["open", PATIENT], "dsp.open", "opened the DSP"),
        (
            vec!["anomaly", PATIENT, "2.25.100", "wrong patient"],
            "document.report_anomaly",
            "anomaly-1",
        ),
        (
            vec!["hpd", "--name", "Test"],
            "hpd.lookup",
            "Dr Test Généraliste",
        ),
        (vec!["log", "-n", "2"], "log.tail", "\"seq\":1"),
        (
            vec![
                "replace",
                "2.25.100",
                file.to_str().unwrap(),
                "--patient",
                PATIENT,
                "--title",
                "v2",
                "--patient-informed",
            ],
            "document.replace",
            "queued: job job-1",
        ),
    ];
    for (args, method, expected) in runs {
        let out = dspctl(&d, &args);
        let stdout = ok(&out);
        assert!(stdout.contains(expected), "{args:?}: {stdout}");
        assert_eq!(
            d.calls().last().map(String::as_str),
            Some(method),
            "{args:?}"
        );
        // Not a sandbox: no banner.
        assert!(!text(&out.stderr).contains("SANDBOX"), "{args:?}");
    }
    // A refused mode change is the daemon's error.
    let out = dspctl(&d, &["mode", PATIENT, "2.25.100", "visite_annonce"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("[DSP_E_MODE_CHANGE_REFUSED]"));
}

#[test]
fn watch_prints_events_as_they_come() {
    let d = TestDaemon::start("ctl-watch");
    for json in [false, true] {
        let mut args = vec!["--socket", d.socket().to_str().unwrap()];
        if json {
            args.push("--json");
        }
        args.push("watch");
        let mut child = Command::new(env!("CARGO_BIN_EXE_dspctl"))
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        // Events are published once dspctl says it is watching (subscribed).
        let mut line = String::new();
        while !line.contains("watching events") {
            line.clear();
            assert!(
                stderr.read_line(&mut line).unwrap() > 0,
                "dspctl watch ended"
            );
        }
        d.publish(Event::Notice {
            message: "documents still in Visite d'annonce".into(),
        });
        d.publish(Event::Session {
            session: SessionInfo {
                state: SessionState::Locked,
                lock_reason: Some(LockReason::CardRemoved),
                professional: None,
                expires_at: None,
            },
        });
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        let mut second = String::new();
        stdout.read_line(&mut first).unwrap();
        stdout.read_line(&mut second).unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        if json {
            let e: Event = serde_json::from_str(&first).unwrap();
            assert_eq!(
                e,
                Event::Notice {
                    message: "documents still in Visite d'annonce".into()
                }
            );
            let e: Event = serde_json::from_str(&second).unwrap();
            assert!(matches!(e, Event::Session { .. }), "{second}");
        } else {
            assert_eq!(
                first.trim_end(),
                "notice   documents still in Visite d'annonce"
            );
            assert_eq!(second.trim_end(), "session  locked (card removed)");
        }
    }
}

#[test]
fn unlock_on_the_pinpad_waits_for_the_session_event() {
    let d = TestDaemon::start("ctl-pinpad");
    let mut child = Command::new(env!("CARGO_BIN_EXE_dspctl"))
        .args([
            "--socket",
            d.socket().to_str().unwrap(),
            "unlock",
            "--pinpad",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("pinpad") {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "dspctl ended early"
        );
    }
    // Unrelated events do not end the wait.
    d.publish(Event::Notice {
        message: "x".into(),
    });
    std::thread::sleep(Duration::from_millis(100));
    d.publish(Event::Session {
        session: SessionInfo {
            state: SessionState::Authenticated,
            lock_reason: None,
            professional: None,
            expires_at: None,
        },
    });
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stdout).contains("session: authenticated"),
        "{}",
        text(&out.stdout)
    );
    let calls = d.calls();
    assert_eq!(calls, vec!["status", "session.unlock"]);
}
