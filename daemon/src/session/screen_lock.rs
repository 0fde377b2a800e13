//! Locking the session when the desktop locks its screen.
//!
//! Two sources, each used when present:
//! - the session bus: `ActiveChanged(true)` of `org.freedesktop.ScreenSaver`
//!   (KDE, Xfce, most desktops) and of `org.gnome.ScreenSaver` (GNOME);
//! - the system bus: logind's `Lock` signal on this login session's object
//!   (`org.freedesktop.login1.Session`), found from `XDG_SESSION_ID` or
//!   this process's id.
//!
//! A bus that is not there (a server, a container, a service outside any
//! login session) is logged once and otherwise ignored: the idle timeout
//! still locks the session.

use futures_util::StreamExt;
use futures_util::stream::select_all;
use tokio::sync::watch;
use zbus::zvariant::OwnedObjectPath;
use zbus::{Connection, MatchRule, MessageStream};

use super::SessionHandle;
use dspconnect::ipc::protocol::LockReason;

const SCREENSAVER_INTERFACES: [&str; 2] = ["org.freedesktop.ScreenSaver", "org.gnome.ScreenSaver"];
const LOGIN1: &str = "org.freedesktop.login1";
const LOGIN1_SESSION: &str = "org.freedesktop.login1.Session";

/// Which session bus to follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionBus {
    /// `DBUS_SESSION_BUS_ADDRESS`, as every desktop program does.
    FromEnvironment,
    /// This address (tests start a private bus).
    Address(String),
}

/// Where the watcher is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatcherState {
    Starting,
    /// Subscribed: a screen lock from now on locks the session.
    Listening,
    /// No bus could be followed; the idle timeout still applies.
    Unavailable,
}

/// A running screen-lock watcher.
#[derive(Debug)]
pub struct ScreenLockWatcher {
    state: watch::Receiver<WatcherState>,
    task: tokio::task::JoinHandle<()>,
}

impl ScreenLockWatcher {
    /// Waits until the watcher is listening or has given up.
    pub async fn ready(&mut self) -> WatcherState {
        let state = self
            .state
            .wait_for(|s| *s != WatcherState::Starting)
            .await
            .map(|s| *s);
        state.unwrap_or(WatcherState::Unavailable)
    }
}

impl Drop for ScreenLockWatcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts following the screen lock; each lock locks `session` with
/// [`LockReason::ScreenLocked`]. Dropping the watcher stops it.
pub fn spawn_screen_lock_watcher(session: SessionHandle, bus: SessionBus) -> ScreenLockWatcher {
    let (state_tx, state_rx) = watch::channel(WatcherState::Starting);
    let task = tokio::spawn(async move {
        let mut streams = Vec::new();
        match screensaver_streams(&bus).await {
            Ok(found) => streams.extend(found),
            Err(error) => tracing::info!(
                %error,
                "no session D-Bus to follow: the desktop's screen lock will not lock the session \
                 (the idle timeout still does)"
            ),
        }
        match logind_stream().await {
            Ok(stream) => streams.push(stream),
            Err(error) => tracing::info!(
                %error,
                "logind's session Lock signal cannot be followed (no system bus or no login \
                 session for this process)"
            ),
        }
        if streams.is_empty() {
            state_tx.send_replace(WatcherState::Unavailable);
            return;
        }
        state_tx.send_replace(WatcherState::Listening);
        let mut signals = select_all(streams);
        while let Some(message) = signals.next().await {
            let Ok(message) = message else { continue };
            let header = message.header();
            let locked = match header.member().map(|m| m.as_str()) {
                Some("ActiveChanged") => message.body().deserialize::<bool>().unwrap_or(false),
                Some("Lock") => true,
                _ => false,
            };
            if locked {
                tracing::info!("the desktop locked its screen: locking the session");
                if session.lock(LockReason::ScreenLocked).await.is_err() {
                    // The session task has stopped: nothing left to lock.
                    break;
                }
            }
        }
    });
    ScreenLockWatcher {
        state: state_rx,
        task,
    }
}

async fn screensaver_streams(bus: &SessionBus) -> zbus::Result<Vec<MessageStream>> {
    let connection = match bus {
        SessionBus::FromEnvironment => Connection::session().await?,
        SessionBus::Address(address) => {
            zbus::connection::Builder::address(address.as_str())?
                .build()
                .await?
        }
    };
    let mut streams = Vec::new();
    for interface in SCREENSAVER_INTERFACES {
        let rule = MatchRule::builder()
            .msg_type(zbus::message::Type::Signal)
            .interface(interface)?
            .member("ActiveChanged")?
            .build();
        streams.push(MessageStream::for_match_rule(rule, &connection, None).await?);
    }
    Ok(streams)
}

async fn logind_stream() -> zbus::Result<MessageStream> {
    let connection = Connection::system().await?;
    let manager = zbus::Proxy::new(
        &connection,
        LOGIN1,
        "/org/freedesktop/login1",
        "org.freedesktop.login1.Manager",
    )
    .await?;
    let path: OwnedObjectPath = match std::env::var("XDG_SESSION_ID") {
        Ok(id) if !id.is_empty() => manager.call("GetSession", &(id,)).await?,
        _ => {
            manager
                .call("GetSessionByPID", &(std::process::id(),))
                .await?
        }
    };
    let rule = MatchRule::builder()
        .msg_type(zbus::message::Type::Signal)
        .sender(LOGIN1)?
        .path(path)?
        .interface(LOGIN1_SESSION)?
        .member("Lock")?
        .build();
    MessageStream::for_match_rule(rule, &connection, None).await
}
