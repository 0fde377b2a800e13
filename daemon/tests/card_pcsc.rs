//! The card through a real pcscd with the virtual LuxTrust card (vpcd):
//! the daemon (feature `pcsc`) on its embedded sandbox with
//! `card.backend = "pcsc"`, the virtual card (`dsp-virtual-card`) holding
//! the demo GP's sandbox test card. The test script starts `pcscd -f -a`;
//! run alone, these tests skip when pcscd is not running (unless
//! `DSP_REQUIRE_TOOLS` is set, as the test script does).
//!
//! vpcd has two readers (ports 35963 and 35964), shared by every test
//! here: the tests take turns.
#![cfg(feature = "pcsc")]

mod daemon_support;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use daemon_support::*;
use dspconnect::ErrorCode;
use dspconnect::ipc::client::Client;
use dspconnect::ipc::protocol::*;
use dspconnect::model::ConfidentialityMode;
use dspconnect_sandbox::faults::{FaultPlan, FaultRule};

const READER_0: u16 = 35963;
const READER_1: u16 = 35964;
const MARIE: &str = "1945093006704";

static READERS: Mutex<()> = Mutex::new(());

fn pcscd_running() -> bool {
    Path::new("/run/pcscd/pcscd.comm").exists()
        && Command::new("pgrep")
            .args(["-x", "pcscd"])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

/// The readers for this test, or `None` (skip) without pcscd.
fn take_readers() -> Option<MutexGuard<'static, ()>> {
    if !pcscd_running() {
        assert!(
            std::env::var_os("DSP_REQUIRE_TOOLS").is_none(),
            "pcscd is not running: install pcscd and vsmartcard-vpcd and start `pcscd -f -a`"
        );
        eprintln!("skipped: pcscd with vpcd is not running (start `pcscd -f -a`)");
        return None;
    }
    Some(READERS.lock().unwrap_or_else(PoisonError::into_inner))
}

fn binary(name: &str) -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_dspconnectd")).with_file_name(name)
}

/// The `dsp-virtual-card` process, driven through its standard input.
struct VirtualCard {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
}

impl VirtualCard {
    fn start(card: &Path) -> VirtualCard {
        let exe = binary("dsp-virtual-card");
        assert!(
            exe.exists(),
            "{} is missing: build the workspace first (cargo build --workspace --all-targets)",
            exe.display()
        );
        let mut child = Command::new(exe)
            .arg("--card")
            .arg(card)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("virtual card starts");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut card = VirtualCard {
            child,
            stdin,
            lines,
        };
        card.expect_line("ready");
        card
    }

    fn command(&mut self, command: &str, answer_starts: &str) -> String {
        writeln!(self.stdin, "{command}").expect("command sent");
        self.expect_line(answer_starts)
    }

    fn expect_line(&mut self, starts: &str) -> String {
        let line = self
            .lines
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("the virtual card did not say '{starts}'"));
        assert!(
            line.starts_with(starts),
            "expected '{starts}…', got '{line}'"
        );
        line
    }

    fn insert(&mut self, port: u16) {
        self.command(&format!("insert {port}"), "inserted");
    }

    fn remove(&mut self) {
        self.command("remove", "removed");
    }

    /// `(tries_left, signatures, verifies)`.
    fn counters(&mut self) -> (u8, u64, u64) {
        let line = self.command("status", "status");
        let field = |name: &str| -> u64 {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(&format!("{name}=")))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no {name} in '{line}'"))
        };
        (
            field("tries_left") as u8,
            field("signatures"),
            field("verifies"),
        )
    }
}

impl Drop for VirtualCard {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A daemon on its embedded sandbox reading cards through PC/SC, and the
/// demo GP's card (exported by the daemon at start) with its PIN.
fn daemon_with_pcsc(home: &DaemonHome) -> (Daemon, PathBuf, String) {
    daemon_with_pcsc_on_port(home, 0)
}

/// The same, with the embedded sandbox on `port` (0: any free one).
fn daemon_with_pcsc_on_port(home: &DaemonHome, port: u16) -> (Daemon, PathBuf, String) {
    let file = home.config_file();
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(
        &file,
        format!(
            "[card]\nbackend = \"pcsc\"\n\n[tray]\nenabled = false\n\n[session]\n\
             lock_on_screen_lock = false\n\n[sandbox]\nport = {port}\n"
        ),
    )
    .unwrap();
    let daemon = Daemon::start(home, &[]);
    let card = find_card_json(&home.path("data"))
        .expect("the daemon exported the demo GP's card")
        .parent()
        .unwrap()
        .to_owned();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(card.join("card.json")).unwrap()).unwrap();
    let pin = manifest["pin"].as_str().unwrap().to_owned();
    (daemon, card, pin)
}

fn find_card_json(dir: &Path) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.ends_with("daemon-card/SBX1001") && path.join("card.json").exists() {
                return Some(path.join("card.json"));
            }
            if let Some(found) = find_card_json(&path) {
                return Some(found);
            }
        }
    }
    None
}

fn status(client: &mut Client) -> Status {
    client.call::<StatusMethod>(&Empty {}).expect("status")
}

fn wait_status(client: &mut Client, what: &str, done: impl Fn(&Status) -> bool) -> Status {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = status(client);
        if done(&now) {
            return now;
        }
        assert!(Instant::now() < deadline, "never {what}: {now:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn card_in(client: &mut Client, reader: &str) -> Status {
    wait_status(client, &format!("a card in {reader}"), |s| {
        s.card.card_present && s.card.reader.as_deref() == Some(reader)
    })
}

fn push(client: &mut Client, home: &DaemonHome, name: &str, size: usize) -> PushAccepted {
    let path = home.path("home").join(name);
    std::fs::write(&path, pdf(size, name.len() as u8)).unwrap();
    client
        .call::<Push>(&PushParams {
            source: DocumentSource::Path(path.display().to_string()),
            metadata: metadata(MARIE, name, ConfidentialityMode::Normal),
        })
        .expect("push accepted")
}

fn listed_with_title(client: &mut Client, title: &str) -> usize {
    client
        .call::<List>(&ListParams {
            patient: MARIE.to_owned(),
            ..ListParams::default()
        })
        .expect("list")
        .documents
        .iter()
        .filter(|d| d.title == title)
        .count()
}

#[test]
fn the_virtual_card_authenticates_through_pcscd_and_a_document_is_pushed() {
    let Some(_readers) = take_readers() else {
        return;
    };
    let home = DaemonHome::new();
    let (daemon, card_dir, pin) = daemon_with_pcsc(&home);
    let mut client = daemon.client();
    let mut card = VirtualCard::start(&card_dir);
    assert!(!status(&mut client).card.card_present);
    let findings = doctor(&daemon, &home);
    assert_eq!(diagnosed(&findings, "pcscd").0, "ok", "{findings:?}");
    let (verdict, readers) = diagnosed(&findings, "reader");
    assert_eq!(verdict, "ok", "{readers}");
    assert!(readers.contains("Virtual PCD 00 00"), "{readers}");
    let (verdict, message) = diagnosed(&findings, "card");
    assert_eq!(verdict, "warning", "{message}");
    assert!(message.contains("no card in the reader"), "{message}");

    card.insert(READER_0);
    let seen = card_in(&mut client, "Virtual PCD 00 00");
    assert_eq!(seen.session.state, SessionState::CardPresent, "{seen:?}");
    assert_eq!(
        seen.card.holder.as_ref().map(|h| h.ehealth_id.as_str()),
        Some("SBX1001")
    );
    assert_eq!(seen.card.pin_tries_left, Some(3), "read without a VERIFY");
    let fingerprint = seen
        .card
        .certificate_fingerprint
        .clone()
        .expect("fingerprint");

    let session = unlock(&mut client, &pin);
    assert_eq!(
        session.professional.as_ref().map(|p| p.ehealth_id.as_str()),
        Some("SBX1001")
    );
    let (_, signatures, verifies) = card.counters();
    assert_eq!((signatures, verifies), (1, 1), "one VERIFY, one signature");
    // The sandbox (embedded, logging into the daemon's log) verified the
    // certificate read from the card, and the signature made on it.
    let logs = daemon.logs();
    let verified = logs
        .lines()
        .find(|l| l.contains("verified the card certificate of a signed request"))
        .unwrap_or_else(|| panic!("no certificate verification in the sandbox log:\n{logs}"));
    assert!(
        verified
            .to_lowercase()
            .contains(&fingerprint.to_lowercase().replace(':', ""))
            || verified.contains(&fingerprint),
        "the verified certificate is the card's ({fingerprint}): {verified}"
    );
    assert!(verified.contains("SBX1001"), "{verified}");

    let accepted = push(&mut client, &home, "Lettre pcsc", 200 * 1024);
    let job = wait_job(&mut client, &accepted.job_id, Duration::from_secs(60));
    assert_eq!(job.state, JobState::Done, "{job:?}\n{}", daemon.logs());
    assert_eq!(listed_with_title(&mut client, "Lettre pcsc"), 1);
    assert!(!daemon.logs().contains(&pin), "the PIN is in the log");
}

#[test]
fn wrong_pins_report_tries_left_then_block_without_further_verify() {
    let Some(_readers) = take_readers() else {
        return;
    };
    let home = DaemonHome::new();
    let (daemon, card_dir, pin) = daemon_with_pcsc(&home);
    let mut client = daemon.client();
    let (verdict, message) = diagnosed(&doctor(&daemon, &home), "card");
    assert_eq!(verdict, "warning", "{message}");
    assert!(message.contains("no card in the reader"), "{message}");
    let mut card = VirtualCard::start(&card_dir);
    card.insert(READER_0);
    card_in(&mut client, "Virtual PCD 00 00");
    let wrong = if pin == "0000" { "1111" } else { "0000" };
    let try_pin = |client: &mut Client| {
        client
            .call::<Unlock>(&UnlockParams {
                pin: Some(SecretString::new(wrong)),
            })
            .expect_err("a wrong PIN is refused")
    };
    for expected in [2u8, 1] {
        let err = try_pin(&mut client);
        assert_eq!(err.code, ErrorCode::WrongPin, "{err}");
        assert_eq!(
            err.rpc.as_ref().and_then(|r| r.data.pin_tries_left),
            Some(expected),
            "{err}"
        );
        assert_eq!(status(&mut client).card.pin_tries_left, Some(expected));
    }
    let err = try_pin(&mut client);
    assert_eq!(err.code, ErrorCode::CardBlocked, "{err}");
    assert!(err.to_string().contains("PUK"), "says what to do: {err}");
    let now = status(&mut client);
    assert_eq!(now.session.state, SessionState::Blocked, "{now:?}");
    assert_eq!(card.counters(), (0, 0, 3));
    // Blocked: neither a wrong nor the right PIN reaches the card.
    let err = try_pin(&mut client);
    assert_eq!(err.code, ErrorCode::CardBlocked, "{err}");
    let err = client
        .call::<Unlock>(&UnlockParams {
            pin: Some(SecretString::new(&pin)),
        })
        .expect_err("blocked");
    assert_eq!(err.code, ErrorCode::CardBlocked, "{err}");
    assert_eq!(card.counters(), (0, 0, 3), "no VERIFY once blocked");
    let (verdict, message) = diagnosed(&doctor(&daemon, &home), "card");
    assert_eq!(verdict, "failed", "{message}");
    assert!(message.contains("blocked"), "{message}");
}

#[test]
fn a_card_pulled_during_an_upload_locks_and_the_job_completes_once_after_the_pin() {
    let Some(_readers) = take_readers() else {
        return;
    };
    let home = DaemonHome::new();
    let port = free_port();
    let (daemon, card_dir, pin) = daemon_with_pcsc_on_port(&home, port);
    let admin = EmbeddedSandboxAdmin::new(
        find_file(&home.path("data"), "admin-token")
            .expect("the embedded sandbox's admin token")
            .parent()
            .unwrap(),
        port,
    );
    let mut client = daemon.client();
    let mut card = VirtualCard::start(&card_dir);
    card.insert(READER_0);
    card_in(&mut client, "Virtual PCD 00 00");
    unlock(&mut client, &pin);

    // The repository holds every submission for a minute before it reads
    // it: the upload is surely under way when the card leaves.
    admin.set_faults(&FaultPlan {
        rules: vec![FaultRule {
            path_prefix: "/xds/repository".into(),
            delay_percent: 100,
            delay_ms: 60_000,
            ..FaultRule::default()
        }],
        ..FaultPlan::default()
    });
    let accepted = push(&mut client, &home, "Pulled mid-upload", 4 * 1024 * 1024);
    wait_job_state(&mut client, &accepted.job_id, JobState::Uploading);
    card.remove();
    wait_status(&mut client, "locked after the removal", |s| {
        !s.card.card_present && s.session.state != SessionState::Authenticated
    });
    // The upload stops with the session: the job waits for the card.
    let job = wait_job_state(&mut client, &accepted.job_id, JobState::WaitingForSession);
    assert_eq!(
        job.error.as_ref().map(|e| e.code),
        Some(ErrorCode::SessionLocked),
        "{job:?}"
    );
    admin.clear_faults();
    std::thread::sleep(Duration::from_millis(500));
    let still = client
        .call::<JobStatus>(&JobRef {
            job_id: accepted.job_id.clone(),
        })
        .expect("job status");
    assert_eq!(still.state, JobState::WaitingForSession, "{still:?}");

    card.insert(READER_0);
    card_in(&mut client, "Virtual PCD 00 00");
    unlock(&mut client, &pin);
    let job = wait_job(&mut client, &accepted.job_id, Duration::from_secs(120));
    assert_eq!(job.state, JobState::Done, "{job:?}\n{}", daemon.logs());
    assert_eq!(listed_with_title(&mut client, "Pulled mid-upload"), 1);
}

/// Polls the job until it is in `state` (a non-final one).
fn wait_job_state(client: &mut Client, job_id: &str, state: JobState) -> Job {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let job = client
            .call::<JobStatus>(&JobRef {
                job_id: job_id.to_owned(),
            })
            .expect("job status");
        if job.state == state {
            return job;
        }
        assert!(
            Instant::now() < deadline,
            "the job never reached {state:?}: {job:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if let Some(found) = find_file(&path, name) {
                return Some(found);
            }
        } else if path.file_name().is_some_and(|n| n == name) {
            return Some(path);
        }
    }
    None
}

#[test]
fn the_card_moves_between_readers_survives_a_reset_and_a_pcscd_restart() {
    let Some(_readers) = take_readers() else {
        return;
    };
    let home = DaemonHome::new();
    let (daemon, card_dir, pin) = daemon_with_pcsc(&home);
    let mut client = daemon.client();
    let mut card = VirtualCard::start(&card_dir);
    card.insert(READER_0);
    card_in(&mut client, "Virtual PCD 00 00");
    unlock(&mut client, &pin);

    // Moved to the second reader: the PIN is needed again.
    card.remove();
    card.insert(READER_1);
    let moved = card_in(&mut client, "Virtual PCD 00 01");
    assert_ne!(
        moved.session.state,
        SessionState::Authenticated,
        "{moved:?}"
    );
    unlock(&mut client, &pin);

    // Another program resets the card: it forgets the PIN, and the daemon
    // asks for it again instead of failing in a loop.
    {
        let context = pcsc::Context::establish(pcsc::Scope::User).expect("PC/SC context");
        let reader = std::ffi::CString::new("Virtual PCD 00 01").unwrap();
        let mut other = context
            .connect(&reader, pcsc::ShareMode::Shared, pcsc::Protocols::ANY)
            .expect("another program opens the card");
        other
            .reconnect(
                pcsc::ShareMode::Shared,
                pcsc::Protocols::ANY,
                pcsc::Disposition::ResetCard,
            )
            .expect("another program resets the card");
    }
    let reset = wait_status(&mut client, "PIN needed after the reset", |s| {
        s.card.card_present && s.session.state != SessionState::Authenticated
    });
    assert!(
        matches!(
            reset.session.state,
            SessionState::Locked | SessionState::CardPresent
        ),
        "{reset:?}"
    );
    unlock(&mut client, &pin);

    // pcscd stops and starts again while the daemon runs.
    let pcscd = which("pcscd");
    assert!(
        Command::new("pkill")
            .args(["-x", "pcscd"])
            .status()
            .unwrap()
            .success(),
        "pcscd stopped"
    );
    let gone = wait_status(&mut client, "the card gone with pcscd", |s| {
        !s.card.card_present
    });
    assert_ne!(gone.session.state, SessionState::Authenticated, "{gone:?}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while pcscd_running() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let (verdict, message) = diagnosed(&doctor(&daemon, &home), "pcscd");
    assert_eq!(verdict, "failed", "{message}");
    assert!(message.contains("not running"), "{message}");
    // Detached through a shell: pcscd outlives this test (the test script
    // stops it at the end).
    let started = Command::new("sh")
        .arg("-c")
        .arg(format!("{} -f -a >/dev/null 2>&1 &", pcscd.display()))
        .status()
        .expect("pcscd starts again");
    assert!(started.success());
    card.insert(READER_0);
    card_in(&mut client, "Virtual PCD 00 00");
    unlock(&mut client, &pin);
    let accepted = push(&mut client, &home, "After pcscd restart", 50 * 1024);
    let job = wait_job(&mut client, &accepted.job_id, Duration::from_secs(60));
    assert_eq!(job.state, JobState::Done, "{job:?}\n{}", daemon.logs());
}

#[test]
fn doctor_reports_no_reader_when_none_matches() {
    let Some(_readers) = take_readers() else {
        return;
    };
    let home = DaemonHome::new();
    let file = home.config_file();
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(
        &file,
        "[card]\nbackend = \"pcsc\"\nreader = \"No such reader\"\n\n[tray]\nenabled = false\n",
    )
    .unwrap();
    let daemon = Daemon::start(&home, &[]);
    let findings = doctor(&daemon, &home);
    assert_eq!(diagnosed(&findings, "pcscd").0, "ok", "{findings:?}");
    let (verdict, message) = diagnosed(&findings, "reader");
    assert_eq!(verdict, "warning", "{message}");
    assert!(message.contains("No such reader"), "{message}");
    let (verdict, message) = diagnosed(&findings, "card");
    assert_eq!(verdict, "warning", "{message}");
    assert!(message.contains("no card reader"), "{message}");
}

fn which(program: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/sbin", "/bin"] {
        let path = Path::new(dir).join(program);
        if path.exists() {
            return path;
        }
    }
    panic!("{program} not found");
}
