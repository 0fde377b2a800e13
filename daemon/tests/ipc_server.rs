//! The IPC server over its real socket: framing, errors, concurrency,
//! events, file modes and peer checks. Each test has its own endpoint.

mod common;

use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::time::Duration;

use common::{Options, PATIENT, Raw, TestDaemon};
use dspconnect::ErrorCode;
use dspconnect::ipc::protocol::*;
use dspconnect::ipc::{Client, Endpoint};
use dspconnectd::ipc_server::{BindError, IpcServer, ServerOptions};
use serde_json::{Value, json};

fn client(d: &TestDaemon) -> Client {
    Client::connect(&d.endpoint, Duration::from_secs(20)).unwrap()
}

fn assert_error(answer: &Value, id: Value, wire: i64, code: ErrorCode) {
    assert_eq!(answer["jsonrpc"], "2.0", "{answer}");
    assert_eq!(answer["id"], id, "{answer}");
    assert!(answer.get("result").is_none(), "{answer}");
    assert_eq!(answer["error"]["code"], wire, "{answer}");
    assert_eq!(answer["error"]["data"]["code"], code.number(), "{answer}");
    assert_eq!(answer["error"]["data"]["name"], code.name(), "{answer}");
}

fn status_works(raw: &mut Raw, id: u64) {
    let answer = raw.ask(&format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"status"}}"#
    ));
    assert_eq!(answer["id"], id, "{answer}");
    assert_eq!(answer["result"]["protocol"], PROTOCOL_VERSION, "{answer}");
}

#[test]
fn status_over_the_typed_client() {
    let d = TestDaemon::start("status");
    let mut c = client(&d);
    let s = c.call::<StatusMethod>(&Empty {}).unwrap();
    assert!(s.sandbox);
    assert_eq!(s.session.state, SessionState::Authenticated);
    // The handler saw the caller's pid: it is this very process.
    let calls = d.state.lock().unwrap().calls.clone();
    assert_eq!(calls, vec![("status".to_owned(), Some(std::process::id()))]);
}

#[test]
fn socket_directory_is_0700_the_socket_0600_and_removed_on_shutdown() {
    let mut d = TestDaemon::start("modes");
    let socket = d.socket().to_owned();
    let dir = socket.parent().unwrap().to_owned();
    let dir_meta = std::fs::symlink_metadata(&dir).unwrap();
    assert_eq!(dir_meta.permissions().mode() & 0o7777, 0o700);
    let sock_meta = std::fs::symlink_metadata(&socket).unwrap();
    assert_eq!(sock_meta.permissions().mode() & 0o7777, 0o600);
    assert_eq!(sock_meta.uid(), dir_meta.uid());
    d.stop();
    assert!(!socket.exists(), "the socket file survived shutdown");
    let e = Client::connect(&d.endpoint, Duration::from_secs(1)).unwrap_err();
    assert_eq!(e.code, ErrorCode::DaemonNotRunning);
}

/// The error binding `endpoint` gives (the test expects one).
fn bind_error(endpoint: &Endpoint) -> BindError {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (events, _) = tokio::sync::broadcast::channel(4);
        IpcServer::bind(endpoint.clone(), events).expect_err("bind succeeded")
    })
}

#[test]
fn a_live_daemon_is_never_displaced() {
    let d = TestDaemon::start("live");
    let e = bind_error(&d.endpoint);
    assert!(matches!(e, BindError::AlreadyRunning { .. }), "{e:?}");
    let message = e.to_string();
    assert!(message.contains("already running"), "{message}");
    assert!(
        message.contains(&d.socket().display().to_string()),
        "{message}"
    );
    // And the first one still serves.
    client(&d).call::<StatusMethod>(&Empty {}).unwrap();
}

#[test]
fn a_stale_socket_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let socket_dir = dir.path().join("dspconnect");
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&socket_dir)
        .unwrap();
    let path = socket_dir.join("stale.sock");
    // A socket file whose listener is gone, as a killed daemon leaves it.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (events, _) = tokio::sync::broadcast::channel(4);
        let server = IpcServer::bind(Endpoint::at_path(&path), events).unwrap();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        drop(server);
    });
    assert!(!path.exists());
}

#[test]
fn unsafe_places_for_the_socket_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let private = dir.path().join("private");
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&private)
        .unwrap();
    // A regular file where the socket should be.
    let file = private.join("file.sock");
    std::fs::write(&file, b"not a socket").unwrap();
    let e = bind_error(&Endpoint::at_path(&file));
    assert!(matches!(e, BindError::NotASocket { .. }), "{e:?}");
    assert_eq!(std::fs::read(&file).unwrap(), b"not a socket");
    // A directory others can enter (the server never loosens nor
    // silently tightens a directory it did not create).
    let open = dir.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
    let e = bind_error(&Endpoint::at_path(open.join("d.sock")));
    assert!(
        matches!(e, BindError::DirectoryMode { mode: 0o755, .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains("chmod 700"), "{e}");
}

/// 100 MB without a newline, written in pieces while the server answers:
/// one LineTooLong (id null), and the same connection then works.
#[test]
fn a_100_mb_line_is_refused_and_the_connection_keeps_serving() {
    let d = TestDaemon::start("longline");
    let mut raw = Raw::connect(d.socket());
    let mut writer = raw.stream.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        let piece = vec![b'x'; 1024 * 1024];
        for _ in 0..100 {
            writer.write_all(&piece).unwrap();
        }
        writer.write_all(b"\n").unwrap();
        writer
            .write_all(b"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"status\"}\n")
            .unwrap();
    });
    let first = raw.recv();
    assert_error(&first, Value::Null, 204, ErrorCode::LineTooLong);
    let second = raw.recv();
    assert_eq!(second["id"], 2, "{second}");
    assert!(second["result"]["version"].is_string(), "{second}");
    sender.join().unwrap();
    status_works(&mut raw, 3);
    // A line of exactly the limit is still read (and answered as bad JSON).
    let mut exact = vec![b' '; MAX_LINE_BYTES - 1];
    exact[0] = b'{';
    raw.stream.write_all(&exact).unwrap();
    raw.stream.write_all(b"\n").unwrap();
    assert_error(&raw.recv(), Value::Null, -32700, ErrorCode::ParseError);
}

#[test]
fn each_malformed_request_gets_its_own_code_and_the_connection_survives() {
    let d = TestDaemon::start("malformed");
    let mut raw = Raw::connect(d.socket());

    let a = raw.ask("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"status\"");
    assert_error(&a, Value::Null, -32700, ErrorCode::ParseError);
    assert!(
        a["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not valid JSON")
    );

    let a = raw.ask(r#"{"jsonrpc":"1.0","id":2,"method":"status"}"#);
    assert_error(&a, json!(2), -32600, ErrorCode::Protocol);
    let a = raw.ask(r#"[{"jsonrpc":"2.0","id":3,"method":"status"}]"#);
    assert_error(&a, Value::Null, -32600, ErrorCode::Protocol);
    assert!(a["error"]["message"].as_str().unwrap().contains("batches"));

    let a = raw.ask(r#"{"jsonrpc":"2.0","id":"m","method":"document.teleport"}"#);
    assert_error(&a, json!("m"), -32601, ErrorCode::MethodNotFound);
    assert!(
        a["error"]["message"]
            .as_str()
            .unwrap()
            .contains("document.teleport")
    );

    // Wrong type, deep in the params: the field is named by its path.
    let a = raw.ask(&format!(
        r#"{{"jsonrpc":"2.0","id":5,"method":"document.push","params":{{"source":{{"path":"/tmp/a.pdf"}},"metadata":{{"patient":{PATIENT},"title":"t","patient_statement":{{"informed_and_agrees":true}}}}}}}}"#
    ));
    assert_error(&a, json!(5), -32602, ErrorCode::InvalidParams);
    assert_eq!(a["error"]["data"]["field"], "metadata.patient");
    assert!(
        a["error"]["message"]
            .as_str()
            .unwrap()
            .contains("invalid type"),
        "{a}"
    );

    // No params at all for a method that needs them.
    let a = raw.ask(r#"{"jsonrpc":"2.0","id":6,"method":"document.push"}"#);
    assert_error(&a, json!(6), -32602, ErrorCode::InvalidParams);
    assert!(
        a["error"]["message"]
            .as_str()
            .unwrap()
            .contains("missing field `source`"),
        "{a}"
    );

    // An unknown field is named too.
    let a = raw.ask(r#"{"jsonrpc":"2.0","id":7,"method":"status","params":{"verbose":true}}"#);
    assert_error(&a, json!(7), -32602, ErrorCode::InvalidParams);
    assert!(
        a["error"]["message"].as_str().unwrap().contains("verbose"),
        "{a}"
    );

    // A handler's own error keeps our code as the JSON-RPC code.
    let a = raw.ask(r#"{"jsonrpc":"2.0","id":8,"method":"patient.access","params":{"patient":"12","presence_code":"X"}}"#);
    assert_error(&a, json!(8), 300, ErrorCode::BadMatricule);
    assert_eq!(a["error"]["data"]["field"], "patient");

    // Blank lines are ignored; invalid UTF-8 is a parse error.
    raw.stream.write_all(b"\n  \n\xff\xfe\n").unwrap();
    assert_error(&raw.recv(), Value::Null, -32700, ErrorCode::ParseError);
    status_works(&mut raw, 9);
}

#[test]
fn notifications_run_without_an_answer() {
    let d = TestDaemon::start("notify");
    let mut raw = Raw::connect(d.socket());
    raw.send(r#"{"jsonrpc":"2.0","method":"session.lock"}"#);
    // The next line read is the answer to the next request, not to the notification.
    status_works(&mut raw, 1);
    // Both ran (concurrently, so in either order; the notification may
    // still be finishing).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut calls = d.calls();
    while calls.len() < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
        calls = d.calls();
    }
    calls.sort();
    assert_eq!(calls, vec!["session.lock", "status"]);
}

/// Requests on one connection run concurrently: a slow one does not hold
/// back a quick one sent after it, and each answer carries its own id.
#[test]
fn answers_come_as_requests_finish() {
    let d = TestDaemon::start("ooo");
    let mut c = client(&d);
    let job = c
        .call::<Push>(&PushParams {
            source: DocumentSource::Base64("JVBERi0=".into()),
            metadata: common_metadata(),
        })
        .unwrap();
    let mut raw = Raw::connect(d.socket());
    raw.send(&format!(
        r#"{{"jsonrpc":"2.0","id":"slow","method":"job.wait","params":{{"job_id":"{}","timeout_ms":1500}}}}"#,
        job.job_id
    ));
    raw.send(r#"{"jsonrpc":"2.0","id":"quick","method":"status"}"#);
    assert_eq!(raw.recv()["id"], "quick");
    let slow = raw.recv();
    assert_eq!(slow["id"], "slow");
    assert_eq!(slow["result"]["job_id"], job.job_id.as_str());
}

fn common_metadata() -> PushMetadata {
    serde_json::from_value(json!({
        "patient": PATIENT,
        "title": "Compte rendu",
        "patient_statement": {"informed_and_agrees": true}
    }))
    .unwrap()
}

#[test]
fn fifty_clients_at_once() {
    let d = TestDaemon::start("fifty");
    let threads: Vec<_> = (0..50)
        .map(|i| {
            let endpoint = d.endpoint.clone();
            std::thread::spawn(move || {
                let mut c = Client::connect(&endpoint, Duration::from_secs(30)).unwrap();
                for _ in 0..10 {
                    assert_eq!(
                        c.call::<StatusMethod>(&Empty {}).unwrap().protocol,
                        PROTOCOL_VERSION
                    );
                }
                let accepted = c
                    .call::<Push>(&PushParams {
                        source: DocumentSource::Base64("JVBERi0=".into()),
                        metadata: PushMetadata {
                            title: format!("document {i}"),
                            ..common_metadata()
                        },
                    })
                    .unwrap();
                c.call::<JobStatus>(&JobRef {
                    job_id: accepted.job_id.clone(),
                })
                .unwrap()
                .title
            })
        })
        .collect();
    let mut titles: Vec<String> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    titles.sort();
    titles.dedup();
    assert_eq!(titles.len(), 50);
    assert_eq!(d.state.lock().unwrap().jobs.len(), 50);
}

#[test]
fn events_flow_only_after_subscribing_and_in_order() {
    let d = TestDaemon::start("events");
    let mut c = client(&d);
    d.publish(Event::Notice {
        message: "before".into(),
    });
    c.call::<StatusMethod>(&Empty {}).unwrap();
    assert_eq!(c.next_event(Duration::from_millis(200)).unwrap(), None);
    assert!(c.call::<Subscribe>(&Empty {}).unwrap().subscribed);
    // Subscribing twice is harmless: events are not doubled.
    assert!(c.call::<Subscribe>(&Empty {}).unwrap().subscribed);
    for i in 0..5 {
        d.publish(Event::Notice {
            message: format!("n{i}"),
        });
    }
    for i in 0..5 {
        let e = c.next_event(Duration::from_secs(10)).unwrap();
        assert_eq!(
            e,
            Some(Event::Notice {
                message: format!("n{i}")
            })
        );
    }
    assert_eq!(c.next_event(Duration::from_millis(200)).unwrap(), None);
    // A push made on another connection shows up as a job event.
    let mut other = client(&d);
    let accepted = other
        .call::<Push>(&PushParams {
            source: DocumentSource::Base64("JVBERi0=".into()),
            metadata: common_metadata(),
        })
        .unwrap();
    match c.next_event(Duration::from_secs(10)).unwrap() {
        Some(Event::Job { job }) => assert_eq!(job.job_id, accepted.job_id),
        other => panic!("expected a job event, got {other:?}"),
    }
    // Requests still work on the subscribed connection.
    c.call::<StatusMethod>(&Empty {}).unwrap();
}

/// A subscriber that stops reading falls behind; the daemon's sends do not
/// wait for it, and when it reads again it is told what it missed.
#[test]
fn a_lagging_subscriber_is_told_events_were_dropped() {
    let d = TestDaemon::start_with(
        "lag",
        Options {
            event_capacity: 16,
            ..Options::default()
        },
    );
    let mut raw = Raw::connect(d.socket());
    let a = raw.ask(r#"{"jsonrpc":"2.0","id":1,"method":"events.subscribe"}"#);
    assert_eq!(a["result"]["subscribed"], true, "{a}");
    let total = 5000;
    let padding = "p".repeat(2000);
    for i in 0..total {
        // ~10 MB of events: far more than the socket and queues hold.
        d.publish(Event::Notice {
            message: format!("{i} {padding}"),
        });
    }
    let mut seen = Vec::new();
    let mut dropped_notices = Vec::new();
    loop {
        let line = raw.recv();
        assert_eq!(line["method"], "event", "{line}");
        let message = line["params"]["message"].as_str().unwrap().to_owned();
        if message.contains("events were dropped") {
            dropped_notices.push(message);
            continue;
        }
        let n: usize = message.split(' ').next().unwrap().parse().unwrap();
        seen.push(n);
        if n == total - 1 {
            break;
        }
    }
    assert!(
        !dropped_notices.is_empty(),
        "no lag notice among {} events",
        seen.len()
    );
    assert!(
        seen.len() < total,
        "every event arrived: there was no lag to report"
    );
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "events out of order");
    let reported: usize = dropped_notices
        .iter()
        .map(|m| m.split(' ').next().unwrap().parse::<usize>().unwrap())
        .sum();
    assert_eq!(reported + seen.len(), total, "{dropped_notices:?}");
    status_works(&mut raw, 2);
}

#[test]
fn shutdown_lets_running_requests_answer() {
    let mut d = TestDaemon::start_with(
        "grace",
        Options {
            server: ServerOptions {
                shutdown_grace: Duration::from_secs(10),
                ..ServerOptions::default()
            },
            ..Options::default()
        },
    );
    let mut c = client(&d);
    let accepted = c
        .call::<Push>(&PushParams {
            source: DocumentSource::Base64("JVBERi0=".into()),
            metadata: common_metadata(),
        })
        .unwrap();
    let mut raw = Raw::connect(d.socket());
    raw.send(&format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"job.wait","params":{{"job_id":"{}","timeout_ms":800}}}}"#,
        accepted.job_id
    ));
    // Let the request reach the handler before stopping.
    std::thread::sleep(Duration::from_millis(200));
    d.stop();
    let answer = raw.recv();
    assert_eq!(
        answer["result"]["job_id"],
        accepted.job_id.as_str(),
        "{answer}"
    );
    let mut rest = Vec::new();
    raw.stream.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "{rest:?}");
}

fn nobody() -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    let line = passwd
        .lines()
        .find(|l| l.starts_with("nobody:"))
        .expect("no user 'nobody' in /etc/passwd");
    let fields: Vec<&str> = line.split(':').collect();
    (fields[2].parse().unwrap(), fields[3].parse().unwrap())
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").unwrap().uid() == 0
}

/// `dspctl` copied where `nobody` can execute it.
fn dspctl_for_nobody(dir: &std::path::Path) -> std::path::PathBuf {
    let exe = dir.join("dspctl");
    std::fs::copy(env!("CARGO_BIN_EXE_dspctl"), &exe).unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    exe
}

/// Another user cannot connect: the 0700 directory stops it at connect(),
/// and with the modes opened by hand, the peer-uid check still refuses it
/// with a PermissionDenied error line.
#[test]
fn another_user_cannot_connect() {
    let d = TestDaemon::start("otheruid");
    let socket = d.socket().to_owned();
    let dir = socket.parent().unwrap().to_owned();
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    if !is_root() {
        println!(
            "PARTIAL CHECK: not running as root, so no client can be started as another user; \
             checked only the 0700 directory and 0600 socket modes. Run the tests as root \
             for the full check."
        );
        return;
    }
    use std::os::unix::process::CommandExt;
    let (uid, gid) = nobody();
    let bin_dir = tempfile::tempdir().unwrap();
    let dspctl = dspctl_for_nobody(bin_dir.path());
    let run_as_nobody = || {
        std::process::Command::new(&dspctl)
            .args(["--socket", socket.to_str().unwrap(), "status"])
            .uid(uid)
            .gid(gid)
            .env_clear()
            .output()
            .unwrap()
    };

    // 1. The directory mode: connect() fails with EACCES.
    let out = run_as_nobody();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("not allowed to connect"), "{stderr}");
    assert!(stderr.contains("DSP_E_PERMISSION_DENIED"), "{stderr}");
    assert!(d.calls().is_empty());

    // 2. Modes loosened by hand: the peer uid check refuses.
    let tempdir_root = d.dir.path().to_owned();
    for (path, mode) in [(&tempdir_root, 0o755), (&dir, 0o755), (&socket, 0o666)] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let out = run_as_nobody();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("connections from uid {uid} are refused")),
        "{stderr}"
    );
    assert!(stderr.contains("DSP_E_PERMISSION_DENIED"), "{stderr}");
    assert!(d.calls().is_empty(), "a refused peer reached the handler");

    // The owner is still served.
    let mut raw = Raw::connect(&socket);
    status_works(&mut raw, 1);
}
