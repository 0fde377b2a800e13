//! The desktop's screen lock, over a private `dbus-daemon --session`
//! started by the test: `ActiveChanged(true)` locks the session; a bus
//! that is not there is not an error.

#![cfg(feature = "sandbox")]

mod session_support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use dspconnect::ipc::protocol::{LockReason, SessionState};
use dspconnectd::session::{SessionBus, WatcherState, spawn_screen_lock_watcher};
use session_support::*;

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
        // The address is printed once the bus accepts connections.
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

async fn emit_active_changed(address: &str, interface: &str, active: bool) {
    let connection = zbus::connection::Builder::address(address)
        .unwrap()
        .build()
        .await
        .unwrap();
    connection
        .emit_signal(
            None::<zbus::names::BusName<'_>>,
            "/org/freedesktop/ScreenSaver",
            interface,
            "ActiveChanged",
            &(active,),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn the_screensaver_locking_the_screen_locks_the_session() {
    let bus = PrivateBus::start();
    let a = export_valid(&anne(), PIN_A);
    let mut rig = rig();
    rig.sign_in(&a.card, PIN_A).await;

    let mut watcher = spawn_screen_lock_watcher(
        rig.session.clone(),
        SessionBus::Address(bus.address.clone()),
    );
    assert_eq!(watcher.ready().await, WatcherState::Listening);

    emit_active_changed(&bus.address, "org.freedesktop.ScreenSaver", true).await;
    let locked = rig.wait_state(SessionState::Locked).await;
    assert_eq!(locked.lock_reason, Some(LockReason::ScreenLocked));
    assert!(rig.session.current_session().is_none());
    until_not_verified(&a.card).await;

    // GNOME's interface locks too.
    rig.session.unlock(pin(PIN_A)).await.unwrap();
    rig.drain();
    emit_active_changed(&bus.address, "org.gnome.ScreenSaver", true).await;
    let locked = rig.wait_state(SessionState::Locked).await;
    assert_eq!(locked.lock_reason, Some(LockReason::ScreenLocked));
}

#[tokio::test]
async fn an_absent_bus_is_logged_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let rig = rig();
    let mut watcher = spawn_screen_lock_watcher(
        rig.session.clone(),
        SessionBus::Address(format!(
            "unix:path={}",
            dir.path().join("no-bus.sock").display()
        )),
    );
    let state = watcher.ready().await;
    // Without a system bus (containers, CI) nothing can be followed; with
    // one, logind may still be.
    if std::path::Path::new("/run/dbus/system_bus_socket").exists() {
        assert_ne!(state, WatcherState::Starting);
    } else {
        assert_eq!(state, WatcherState::Unavailable);
    }
    assert_eq!(rig.session.status().1.state, SessionState::NoCard);
}
