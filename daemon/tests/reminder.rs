//! The Visite d'annonce reminder (issue 7), end to end: the real
//! `dspconnectd` with its tray on a private `dbus-daemon --session`, where
//! a stand-in notification server records what the daemon shows, and the
//! sandbox over HTTPS in this process.
//!
//! A document's registration time, as the platform lists it (ITI-18), is
//! its creation time: the documents here are pushed with a creation time
//! days ago, which is what the platform then reports.

mod daemon_support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use daemon_support::*;
use dspconnect::ipc::client::Client;
use dspconnect::ipc::protocol::*;
use dspconnect::model::ConfidentialityMode;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use zbus::zvariant::OwnedValue;

const REFERENT_GP: &str = "SBX1001";
const MARIE: &str = "1945093006704";
const TOM: &str = "2005062201818";
const SUMMARY: &str = "Documents still in Visite d'annonce";

/// A private session bus, stopped when dropped.
struct PrivateBus {
    child: Child,
    address: String,
    _dir: tempfile::TempDir,
}

impl PrivateBus {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new("dbus-daemon")
            .arg("--session")
            .arg("--nofork")
            .arg("--print-address=1")
            .arg(format!(
                "--address=unix:path={}",
                dir.path().join("bus.sock").display()
            ))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon is needed for this test (Debian package dbus-daemon)");
        let mut address = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut address)
            .unwrap();
        let address = address.trim().to_owned();
        assert!(
            address.starts_with("unix:"),
            "dbus-daemon printed {address:?}"
        );
        PrivateBus {
            child,
            address,
            _dir: dir,
        }
    }
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A notification server that records each notification (summary, body).
#[derive(Clone, Default)]
struct Notifications {
    shown: Arc<Mutex<Vec<(String, String)>>>,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Notifications {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        _app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        _actions: Vec<String>,
        _hints: HashMap<String, OwnedValue>,
        _expire_timeout: i32,
    ) -> u32 {
        let mut shown = self.shown.lock().unwrap();
        shown.push((summary, body));
        shown.len() as u32
    }

    fn get_capabilities(&self) -> Vec<String> {
        vec!["body".into()]
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        (
            "stand-in".into(),
            "dspconnect tests".into(),
            "0".into(),
            "1.2".into(),
        )
    }

    fn close_notification(&self, _id: u32) {}
}

fn days_ago(days: i64) -> String {
    (OffsetDateTime::now_utc() - time::Duration::days(days))
        .format(&Rfc3339)
        .unwrap()
}

fn push(
    client: &mut Client,
    patient: &str,
    title: &str,
    mode: ConfidentialityMode,
    created_days_ago: i64,
    seed: u8,
) -> String {
    use base64::Engine as _;
    let mut meta = metadata(patient, title, mode);
    meta.creation_time = Some(days_ago(created_days_ago));
    let accepted = client
        .call::<Push>(&PushParams {
            source: DocumentSource::Base64(
                base64::engine::general_purpose::STANDARD.encode(pdf(4_000, seed)),
            ),
            metadata: meta,
        })
        .unwrap();
    let job = wait_job(client, &accepted.job_id, Duration::from_secs(60));
    assert_eq!(job.state, JobState::Done, "{job:?}");
    accepted.unique_id
}

fn set_mode(client: &mut Client, patient: &str, unique_id: &str, mode: ConfidentialityMode) {
    let changed = client
        .call::<SetMode>(&SetModeParams {
            patient: patient.to_owned(),
            unique_id: unique_id.to_owned(),
            mode,
        })
        .unwrap();
    assert_eq!(changed.mode, mode);
}

/// The lines of the daemon's log that end a reminder check.
fn checks(daemon: &Daemon) -> Vec<String> {
    daemon
        .logs()
        .lines()
        .filter(|l| l.contains("Visite d'annonce reminder check"))
        .map(str::to_owned)
        .collect()
}

/// Waits for the `n`th reminder check (1-based) and returns its log line.
fn wait_check(daemon: &Daemon, n: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let lines = checks(daemon);
        if lines.len() >= n {
            assert_eq!(lines.len(), n, "more checks than expected: {lines:#?}");
            return lines[n - 1].clone();
        }
        assert!(
            Instant::now() < deadline,
            "reminder check {n} did not come; checks so far: {lines:#?}\n{}",
            daemon.logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn relock(client: &mut Client, pin: &str) {
    client.call::<Lock>(&Empty {}).expect("lock the session");
    unlock(client, pin);
}

/// The next reminder `notice` events within `wait`.
fn notices(events: &mut Client, wait: Duration) -> Vec<String> {
    let deadline = Instant::now() + wait;
    let mut out = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match events.next_event(left).expect("events") {
            Some(Event::Notice { message }) if message.starts_with(SUMMARY) => out.push(message),
            Some(_) => {}
            None => break,
        }
    }
    out
}

/// The reminders shown (the tray may show others, e.g. about the card).
fn shown(n: &Notifications) -> Vec<(String, String)> {
    n.shown
        .lock()
        .unwrap()
        .iter()
        .filter(|(summary, _)| summary == SUMMARY)
        .cloned()
        .collect()
}

fn wait_shown(n: &Notifications, count: usize) -> Vec<(String, String)> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let s = shown(n);
        if s.len() >= count || Instant::now() > deadline {
            return s;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn documents_left_in_visite_annonce_are_reminded_once() {
    let bus = PrivateBus::start();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let notifications = Notifications::default();
    let _server = runtime.block_on(async {
        zbus::connection::Builder::address(bus.address.as_str())
            .unwrap()
            .serve_at("/org/freedesktop/Notifications", notifications.clone())
            .unwrap()
            .name("org.freedesktop.Notifications")
            .unwrap()
            .build()
            .await
            .expect("the stand-in notification server on the private bus")
    });

    let sandbox = ExternalSandbox::start();
    let home = DaemonHome::new();
    let (card, pin) = sandbox.export_card(REFERENT_GP, sandbox.dir.path());
    let profile = sandbox.profile();
    home.write_config(profile.clone(), |c| {
        c.tray.visite_annonce_reminder_days = 7;
    });
    let address = std::path::PathBuf::from(&bus.address);
    let daemon = Daemon::start_with_env(
        &home,
        &["--software-card", card.to_str().unwrap()],
        "info",
        &[("DBUS_SESSION_BUS_ADDRESS", &address)],
    );
    let mut client = daemon.client();
    let mut events = daemon.client();
    assert!(events.call::<Subscribe>(&Empty {}).unwrap().subscribed);

    // At authentication: nothing of this professional's is known yet.
    unlock(&mut client, &pin);
    let first = wait_check(&daemon, 1);
    assert!(first.contains("overdue=0"), "{first}");

    // Tom named nobody: a consultation grant with his presence code.
    client
        .call::<PatientAccess>(&PatientAccessParams {
            patient: TOM.to_owned(),
            presence_code: SecretString::new(sandbox.presence_code(TOM)),
        })
        .unwrap();
    let old_annonce = push(
        &mut client,
        MARIE,
        "Annonce diagnostique",
        ConfidentialityMode::VisiteAnnonce,
        8,
        1,
    );
    push(
        &mut client,
        MARIE,
        "Lettre de sortie",
        ConfidentialityMode::Normal,
        8,
        2,
    );
    let recent_annonce = push(
        &mut client,
        MARIE,
        "Résultat récent",
        ConfidentialityMode::VisiteAnnonce,
        2,
        3,
    );
    let tom_annonce = push(
        &mut client,
        TOM,
        "Compte rendu",
        ConfidentialityMode::VisiteAnnonce,
        10,
        4,
    );

    // The next authentication: one reminder of the two old ones, for two patients.
    relock(&mut client, &pin);
    let second = wait_check(&daemon, 2);
    assert!(
        second.contains("overdue=2") && second.contains("reminded=true"),
        "{second}\n{}",
        daemon.logs()
    );
    let s = wait_shown(&notifications, 1);
    assert_eq!(s.len(), 1, "{s:#?}");
    let (summary, body) = &s[0];
    assert_eq!(summary, SUMMARY);
    assert!(
        body.starts_with("2 of your documents are still hidden"),
        "{body}"
    );
    assert!(body.contains("after more than 7 days"), "{body}");
    assert!(body.contains("…6704") && body.contains("…1818"), "{body}");
    assert!(body.contains("dspctl mode"), "{body}");
    // Privacy: no full matricule, no title.
    for secret in [
        MARIE,
        TOM,
        "Annonce diagnostique",
        "Compte rendu",
        &old_annonce,
    ] {
        assert!(!body.contains(secret), "{secret} in {body}");
    }
    // The EHRs get the same notice.
    let got = notices(&mut events, Duration::from_secs(5));
    assert_eq!(got, vec![format!("{summary}\n{body}")]);

    // Authenticating again the same day: no second reminder of the same documents.
    relock(&mut client, &pin);
    let third = wait_check(&daemon, 3);
    assert!(
        third.contains("overdue=2") && third.contains("reminded=false"),
        "{third}"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(shown(&notifications).len(), 1);

    // The patients received the accompaniment: the modes change.
    set_mode(
        &mut client,
        MARIE,
        &old_annonce,
        ConfidentialityMode::Normal,
    );
    set_mode(&mut client, TOM, &tom_annonce, ConfidentialityMode::Normal);

    // The setting, changed live to 1 day: a check at once, which now
    // finds only the recent one (2 days old).
    home.write_config(profile.clone(), |c| {
        c.tray.visite_annonce_reminder_days = 1;
    });
    let fourth = wait_check(&daemon, 4);
    assert!(
        fourth.contains("overdue=1") && fourth.contains("reminded=true"),
        "{fourth}"
    );
    let s = wait_shown(&notifications, 2);
    assert_eq!(s.len(), 2, "{s:#?}");
    let (summary, body) = &s[1];
    assert_eq!(summary, SUMMARY);
    assert!(body.starts_with("1 of your documents is"), "{body}");
    assert!(body.contains("after more than 1 day"), "{body}");
    assert!(body.contains("1 patient: matricule ending …6704"), "{body}");
    assert!(!body.contains("…1818"), "{body}");
    assert_eq!(notices(&mut events, Duration::from_secs(5)).len(), 1);

    // The last one changed too: nothing left, no reminder.
    set_mode(
        &mut client,
        MARIE,
        &recent_annonce,
        ConfidentialityMode::Restreint,
    );
    relock(&mut client, &pin);
    let fifth = wait_check(&daemon, 5);
    assert!(
        fifth.contains("overdue=0") && fifth.contains("reminded=false"),
        "{fifth}"
    );
    // Both patients are forgotten: the next check lists nobody.
    home.write_config(profile.clone(), |c| {
        c.tray.visite_annonce_reminder_days = 0;
    });
    let sixth = wait_check(&daemon, 6);
    assert!(sixth.contains("off"), "{sixth}");
    home.write_config(profile, |c| {
        c.tray.visite_annonce_reminder_days = 3;
    });
    let seventh = wait_check(&daemon, 7);
    assert!(
        seventh.contains("patients=0") && seventh.contains("overdue=0"),
        "{seventh}"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(shown(&notifications).len(), 2);

    // Each list the reminder made is in the audit log.
    let audited = all_bytes_under(&home.audit_dir())
        .into_iter()
        .flat_map(|(_, bytes)| {
            String::from_utf8_lossy(&bytes)
                .lines()
                .filter(|l| l.contains("\"document_list\"") && l.contains("\"visite_annonce\""))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect::<Vec<_>>();
    // Checks 2 to 4 listed both patients (the fourth dropped Tom, whose
    // document had changed), the fifth Marie only (then dropped her).
    assert_eq!(audited.len(), 7, "{audited:#?}");
    assert_eq!(
        audited.iter().filter(|l| l.contains(TOM)).count(),
        3,
        "{audited:#?}"
    );
    assert!(
        audited.iter().all(|l| l.contains(REFERENT_GP)),
        "{audited:#?}"
    );
    assert!(notices(&mut events, Duration::from_secs(1)).is_empty());
}
