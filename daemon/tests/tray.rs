//! The tray over a private `dbus-daemon --session` started by the test,
//! with the desktop's side played by stand-ins on that bus: a
//! StatusNotifierWatcher (the tray host) and a notification server, each
//! recording what the daemon shows.
//!
//! ksni connects to the bus named by `DBUS_SESSION_BUS_ADDRESS`; a test
//! cannot set it for its own process without `unsafe`, so each test runs
//! its body in a child (this same test binary) with the variable set.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dspconnect::ErrorCode;
use dspconnect::ipc::protocol::{
    CardStatus, ErrorInfo, Event, Job, JobState, OutboxSummary, Professional, SessionInfo,
    SessionState, Status,
};
use dspconnect::model::ConfidentialityMode;
use dspconnectd::tray::{TrayAction, TrayOptions, TrayPhase, spawn_tray};
use tokio::sync::{broadcast, watch};
use zbus::object_server::SignalEmitter;
use zbus::zvariant::OwnedValue;

#[cfg(feature = "sandbox")]
mod session_support;

const CHILD: &str = "DSPCONNECT_TRAY_TEST_CHILD";

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
            .expect(
                "dbus-daemon is needed for this test (Debian package dbus-daemon; the test \
                 script installs it)",
            );
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

/// Runs the test `name` of this binary in a child whose session bus is `address`.
fn run_child(name: &str, address: &str) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env("DBUS_SESSION_BUS_ADDRESS", address)
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{name} failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("1 passed"), "{name} did not run:\n{stdout}");
}

fn in_child() -> bool {
    std::env::var_os(CHILD).is_some()
}

#[test]
fn the_tray_on_a_private_session_bus() {
    if in_child() {
        return;
    }
    let bus = PrivateBus::start();
    run_child("child_tray_follows_the_daemon", &bus.address);
}

#[cfg(feature = "sandbox")]
#[test]
fn lock_session_in_the_menu_locks_the_session() {
    if in_child() {
        return;
    }
    let bus = PrivateBus::start();
    run_child("child_lock_session_locks", &bus.address);
}

#[test]
fn the_tray_without_a_session_bus() {
    if in_child() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let address = format!("unix:path={}", dir.path().join("none.sock").display());
    run_child("child_tray_without_a_bus", &address);
}

// ------------------------------------------------------------------ the desktop's stand-ins

/// The tray host's registry.
#[derive(Clone, Default)]
struct Watcher {
    items: Arc<Mutex<Vec<String>>>,
}

#[zbus::interface(name = "org.kde.StatusNotifierWatcher")]
impl Watcher {
    async fn register_status_notifier_item(
        &self,
        service: String,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
    ) {
        self.items.lock().unwrap().push(service.clone());
        let _ = Self::status_notifier_item_registered(&emitter, &service).await;
    }

    fn register_status_notifier_host(&self, _service: String) {}

    #[zbus(property)]
    fn registered_status_notifier_items(&self) -> Vec<String> {
        self.items.lock().unwrap().clone()
    }

    #[zbus(property)]
    fn is_status_notifier_host_registered(&self) -> bool {
        true
    }

    #[zbus(property)]
    fn protocol_version(&self) -> i32 {
        0
    }

    #[zbus(signal)]
    async fn status_notifier_item_registered(
        emitter: &SignalEmitter<'_>,
        service: &str,
    ) -> zbus::Result<()>;
}

/// A notification server that records each notification.
#[derive(Clone, Default)]
struct Notifications {
    shown: Arc<Mutex<Vec<(String, String, u8)>>>,
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
        hints: HashMap<String, OwnedValue>,
        _expire_timeout: i32,
    ) -> u32 {
        let urgency = hints
            .get("urgency")
            .and_then(|v| u8::try_from(v).ok())
            .unwrap_or(1);
        let mut shown = self.shown.lock().unwrap();
        shown.push((summary, body, urgency));
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

// ------------------------------------------------------------------ helpers

fn status(state: SessionState, card_present: bool) -> Status {
    Status {
        version: "0".into(),
        protocol: 1,
        sandbox: true,
        platform: "sandbox".into(),
        card: CardStatus {
            reader_present: true,
            card_present,
            ..CardStatus::default()
        },
        session: SessionInfo {
            state,
            lock_reason: None,
            professional: (state == SessionState::Authenticated).then(|| Professional {
                ehealth_id: "2854201475".into(),
                name: "Dr Anne Muller".into(),
                profession: None,
                specialty: None,
            }),
            expires_at: None,
        },
        outbox: OutboxSummary::default(),
    }
}

fn failed_job() -> Job {
    Job {
        job_id: "5b2f0b9e-0000-4000-8000-000000000001".into(),
        state: JobState::Failed,
        unique_id: "2.25.1".into(),
        patient: "1893120105732".into(),
        title: "Lettre de sortie".into(),
        mode: ConfidentialityMode::Normal,
        professional: "2854201475".into(),
        replaces: None,
        attempts: 1,
        size: 10,
        sent: 0,
        created_at: "2026-11-28T20:00:00Z".into(),
        updated_at: "2026-11-28T20:00:01Z".into(),
        error: Some(ErrorInfo {
            code: ErrorCode::AccessDenied,
            message: "the DSP's access rules refuse this submission to you".into(),
            hint: Some("open access with dspctl access".into()),
        }),
    }
}

async fn eventually<T>(what: &str, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn item_property(conn: &zbus::Connection, service: &str, name: &str) -> OwnedValue {
    let reply = conn
        .call_method(
            Some(service),
            "/StatusNotifierItem",
            Some("org.freedesktop.DBus.Properties"),
            "Get",
            &("org.kde.StatusNotifierItem", name),
        )
        .await
        .unwrap();
    let value: OwnedValue = reply.body().deserialize().unwrap();
    value
}

async fn item_status(conn: &zbus::Connection, service: &str) -> String {
    String::try_from(item_property(conn, service, "Status").await).unwrap()
}

async fn tooltip(conn: &zbus::Connection, service: &str) -> String {
    let v = item_property(conn, service, "ToolTip").await;
    type Pixmaps = Vec<(i32, i32, Vec<u8>)>;
    let (_icon, _pixmaps, _title, description): (String, Pixmaps, String, String) =
        v.try_into().unwrap();
    description
}

/// The menu's items: label → id.
async fn menu_items(conn: &zbus::Connection, service: &str) -> HashMap<String, i32> {
    let reply = conn
        .call_method(
            Some(service),
            "/MenuBar",
            Some("com.canonical.dbusmenu"),
            "GetLayout",
            &(0i32, -1i32, Vec::<String>::new()),
        )
        .await
        .unwrap();
    type Node = (i32, HashMap<String, OwnedValue>, Vec<OwnedValue>);
    let (_revision, root): (u32, Node) = reply.body().deserialize().unwrap();
    let mut items = HashMap::new();
    for child in root.2 {
        let (id, props, _children): Node = child.try_into().unwrap();
        if let Some(label) = props.get("label") {
            let label = String::try_from(label.try_clone().unwrap()).unwrap();
            items.insert(label, id);
        }
    }
    items
}

// ------------------------------------------------------------------ the children

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_tray_follows_the_daemon() {
    if !in_child() {
        return;
    }
    let conn = zbus::Connection::session().await.unwrap();
    let notifications = Notifications::default();
    conn.object_server()
        .at("/org/freedesktop/Notifications", notifications.clone())
        .await
        .unwrap();
    conn.request_name("org.freedesktop.Notifications")
        .await
        .unwrap();

    let (status_tx, status_rx) = watch::channel(status(SessionState::NoCard, false));
    let (events_tx, events_rx) = broadcast::channel(16);
    let drop_dir = tempfile::tempdir().unwrap();
    let mut tray = spawn_tray(
        status_rx,
        events_rx,
        TrayOptions {
            drop_folder: Some(drop_dir.path().to_owned()),
            log_dir: None,
            notify_successes: false,
        },
    );
    let mut actions = tray.take_actions().unwrap();
    let mut phase = tray.phase();

    // No tray host yet: the item waits for one.
    phase
        .wait_for(|p| *p == TrayPhase::WatcherOffline)
        .await
        .unwrap();
    let watcher = Watcher::default();
    conn.object_server()
        .at("/StatusNotifierWatcher", watcher.clone())
        .await
        .unwrap();
    conn.request_name("org.kde.StatusNotifierWatcher")
        .await
        .unwrap();
    let service = eventually("the item to register", async || {
        watcher.items.lock().unwrap().first().cloned()
    })
    .await;
    assert!(
        service.starts_with("org.kde.StatusNotifierItem-"),
        "{service}"
    );
    assert!(tooltip(&conn, &service).await.contains("No card"));

    // Card in, session open: ready as the professional.
    status_tx.send_replace(status(SessionState::Authenticated, true));
    eventually("ready as Dr X", async || {
        tooltip(&conn, &service)
            .await
            .contains("Ready as Dr Anne Muller")
            .then_some(())
    })
    .await;
    assert_eq!(item_status(&conn, &service).await, "Active");
    let tip = tooltip(&conn, &service).await;
    assert!(tip.contains("SANDBOX"), "{tip}");

    // Uploads under way.
    let mut uploading = status(SessionState::Authenticated, true);
    uploading.outbox.uploading = 1;
    uploading.outbox.queued = 1;
    status_tx.send_replace(uploading);
    eventually("uploading 2", async || {
        tooltip(&conn, &service)
            .await
            .contains("Uploading 2 documents")
            .then_some(())
    })
    .await;

    // A failed upload: a notification with the reason; the item asks for attention.
    events_tx.send(Event::Job { job: failed_job() }).unwrap();
    let (summary, body, urgency) = eventually("the failure notification", async || {
        notifications.shown.lock().unwrap().first().cloned()
    })
    .await;
    assert_eq!(summary, "Upload failed: Lettre de sortie");
    assert!(body.contains("access rules"), "{body}");
    assert_eq!(urgency, 2);
    eventually("the error in the tooltip", async || {
        (item_status(&conn, &service).await == "NeedsAttention").then_some(())
    })
    .await;
    assert!(
        tooltip(&conn, &service)
            .await
            .contains("Last error: Lettre de sortie")
    );

    // Menu: Lock session reaches the daemon.
    let items = menu_items(&conn, &service).await;
    for label in [
        "Lock session",
        "Unlock…",
        "Open drop folder",
        "Open failed folder",
        "Open log",
        "Quit",
    ] {
        assert!(items.contains_key(label), "{label} missing from {items:?}");
    }
    let lock_id = items["Lock session"];
    conn.call_method(
        Some(service.as_str()),
        "/MenuBar",
        Some("com.canonical.dbusmenu"),
        "Event",
        &(lock_id, "clicked", zbus::zvariant::Value::I32(0), 0u32),
    )
    .await
    .unwrap();
    let action = tokio::time::timeout(Duration::from_secs(5), actions.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(action, TrayAction::Lock);

    // The card removed: locked, and a notification.
    let mut locked = status(SessionState::Locked, false);
    locked.session.lock_reason = Some(dspconnect::ipc::protocol::LockReason::CardRemoved);
    status_tx.send_replace(locked);
    eventually("the card notification", async || {
        notifications
            .shown
            .lock()
            .unwrap()
            .iter()
            .any(|(s, _, _)| s == "Card removed")
            .then_some(())
    })
    .await;
    eventually("locked in the tooltip", async || {
        tooltip(&conn, &service)
            .await
            .contains("Locked")
            .then_some(())
    })
    .await;

    // The session expiring: a notification.
    status_tx.send_replace(status(SessionState::Authenticated, true));
    status_tx.send_replace(status(SessionState::Expiring, true));
    eventually("the expiry notification", async || {
        notifications
            .shown
            .lock()
            .unwrap()
            .iter()
            .any(|(s, _, _)| s == "DSP session expiring")
            .then_some(())
    })
    .await;

    // Quit removes the item; the daemon is told.
    let quit_id = menu_items(&conn, &service).await["Quit"];
    conn.call_method(
        Some(service.as_str()),
        "/MenuBar",
        Some("com.canonical.dbusmenu"),
        "Event",
        &(quit_id, "clicked", zbus::zvariant::Value::I32(0), 0u32),
    )
    .await
    .unwrap();
    let action = tokio::time::timeout(Duration::from_secs(5), actions.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(action, TrayAction::QuitTray);
    phase.wait_for(|p| *p == TrayPhase::Stopped).await.unwrap();
    tray.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_tray_without_a_bus() {
    if !in_child() {
        return;
    }
    let (status_tx, status_rx) = watch::channel(status(SessionState::NoCard, false));
    let (events_tx, events_rx) = broadcast::channel(16);
    let tray = spawn_tray(status_rx, events_rx, TrayOptions::default());
    let mut phase = tray.phase();
    phase
        .wait_for(|p| *p == TrayPhase::Unavailable)
        .await
        .unwrap();
    // Events and status changes are still taken (and notifications dropped) without error.
    events_tx.send(Event::Job { job: failed_job() }).unwrap();
    status_tx.send_replace(status(SessionState::Authenticated, true));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(*phase.borrow(), TrayPhase::Unavailable);
    tray.shutdown().await;
}

/// With a real session (software card, sandbox PKI): the menu's Lock
/// session locks it, and the item follows the session's events.
#[cfg(feature = "sandbox")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_lock_session_locks() {
    use dspconnect::ipc::protocol::LockReason;
    use session_support::*;
    if !in_child() {
        return;
    }
    let conn = zbus::Connection::session().await.unwrap();
    let watcher = Watcher::default();
    conn.object_server()
        .at("/StatusNotifierWatcher", watcher.clone())
        .await
        .unwrap();
    conn.request_name("org.kde.StatusNotifierWatcher")
        .await
        .unwrap();

    let a = export_valid(&anne(), PIN_A);
    let mut rig = rig();
    rig.sign_in(&a.card, PIN_A).await;
    let (card, session) = rig.session.status();
    let (_status_tx, status_rx) = watch::channel(Status {
        card,
        session,
        ..status(SessionState::NoCard, false)
    });
    let mut tray = spawn_tray(
        status_rx,
        rig.session.subscribe_events(),
        TrayOptions::default(),
    );
    let _follow =
        dspconnectd::tray::follow_actions(tray.take_actions().unwrap(), rig.session.clone(), None);
    let service = eventually("the item to register", async || {
        watcher.items.lock().unwrap().first().cloned()
    })
    .await;
    assert!(
        tooltip(&conn, &service)
            .await
            .contains("Ready as Dr Anne Muller"),
        "{}",
        tooltip(&conn, &service).await
    );
    let lock_id = menu_items(&conn, &service).await["Lock session"];
    conn.call_method(
        Some(service.as_str()),
        "/MenuBar",
        Some("com.canonical.dbusmenu"),
        "Event",
        &(lock_id, "clicked", zbus::zvariant::Value::I32(0), 0u32),
    )
    .await
    .unwrap();
    let locked = rig.wait_state(SessionState::Locked).await;
    assert_eq!(locked.lock_reason, Some(LockReason::Explicit));
    until_not_verified(&a.card).await;
    eventually("locked in the tooltip", async || {
        tooltip(&conn, &service)
            .await
            .contains("Locked")
            .then_some(())
    })
    .await;
    tray.shutdown().await;
}
