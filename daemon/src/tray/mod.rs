//! The system-tray item (a StatusNotifierItem, with `ksni` on zbus) and
//! desktop notifications.
//!
//! The item's icon, status and tooltip follow the daemon's [`Status`]
//! (no card / locked / ready as Dr X / uploading N / last error); its menu
//! offers Lock session, Unlock…, Open drop folder, Open failed folder,
//! Open log and Quit. It starts without a StatusNotifierWatcher and
//! appears when one comes (`assume_sni_available`); without a session bus
//! at all, it logs once and stays away.
//!
//! Notifications: an upload that failed (with the reason), the card
//! removed, the session expiring or expired, and the daemon's notices
//! (such as documents still in Visite d'annonce); successes optionally.

mod notify;
pub mod view;

use std::path::PathBuf;

use dspconnect::ipc::protocol::{Event, JobState, SessionState, Status};
use ksni::menu::{MenuItem, StandardItem};
use ksni::{OfflineReason, ToolTip, TrayMethods};
use tokio::sync::{broadcast, mpsc, watch};

pub use notify::{Level, Notification};
pub use view::{Urgency, View, view};

/// What the user chose in the tray's menu that the daemon acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayAction {
    /// Lock the session now ([`LockReason::Explicit`](dspconnect::ipc::protocol::LockReason)).
    Lock,
    /// The user wants to unlock (the tray has shown how; a pinpad reader
    /// can be started by the daemon).
    Unlock,
    /// The drop folder was opened in the file manager.
    OpenDropFolder,
    /// `failed/` was opened in the file manager.
    OpenFailedFolder,
    /// The log folder was opened.
    OpenLog,
    /// The tray item was removed (the daemon keeps running).
    QuitTray,
}

/// Where the tray's menu leads, and what it notifies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrayOptions {
    pub drop_folder: Option<PathBuf>,
    /// The audit log folder (`log.audit_dir`).
    pub log_dir: Option<PathBuf>,
    /// Notify each registered upload too (failures are always notified).
    pub notify_successes: bool,
}

impl TrayOptions {
    /// From the configuration: the drop folder, the audit log folder and
    /// `tray.notify_successes`.
    pub fn from_config(config: &crate::config::Config) -> TrayOptions {
        TrayOptions {
            drop_folder: config.drop_folder.path.clone(),
            log_dir: Some(config.log.audit_dir.clone()),
            notify_successes: config.tray.notify_successes,
        }
    }
}

/// Where the item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayPhase {
    Starting,
    /// Registered with a StatusNotifierWatcher: shown.
    Shown,
    /// On the bus, waiting for a StatusNotifierWatcher to appear.
    WatcherOffline,
    /// No session bus: no item (notifications are off too).
    Unavailable,
    /// Quit from its menu, or shut down.
    Stopped,
}

/// The running tray.
pub struct TrayHandle {
    actions: Option<mpsc::UnboundedReceiver<TrayAction>>,
    phase: watch::Receiver<TrayPhase>,
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for TrayHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrayHandle")
            .field("phase", &*self.phase.borrow())
            .finish_non_exhaustive()
    }
}

impl TrayHandle {
    /// The menu choices the daemon acts on (Lock, Unlock); taken once.
    pub fn take_actions(&mut self) -> Option<mpsc::UnboundedReceiver<TrayAction>> {
        self.actions.take()
    }

    pub fn phase(&self) -> watch::Receiver<TrayPhase> {
        self.phase.clone()
    }

    /// Removes the item and stops notifying.
    pub async fn shutdown(mut self) {
        self.stop.send_replace(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for TrayHandle {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

/// Starts the tray on the current tokio runtime, on the session bus of
/// `DBUS_SESSION_BUS_ADDRESS`. `status` is the daemon's status as it
/// changes; `events` its event stream (jobs, card, session, notices).
pub fn spawn_tray(
    status: watch::Receiver<Status>,
    events: broadcast::Receiver<Event>,
    options: TrayOptions,
) -> TrayHandle {
    let (actions_tx, actions_rx) = mpsc::unbounded_channel();
    let (phase_tx, phase_rx) = watch::channel(TrayPhase::Starting);
    let (stop_tx, stop_rx) = watch::channel(false);
    let task = tokio::spawn(run(status, events, options, actions_tx, phase_tx, stop_rx));
    TrayHandle {
        actions: Some(actions_rx),
        phase: phase_rx,
        stop: stop_tx,
        task: Some(task),
    }
}

/// Acts on the menu choices that concern the session: Lock session locks
/// it ([`LockReason::Explicit`](dspconnect::ipc::protocol::LockReason::Explicit)).
/// The other choices are left to `others` (the tray has already opened
/// folders and shown the unlock hint itself).
pub fn follow_actions(
    mut actions: mpsc::UnboundedReceiver<TrayAction>,
    session: crate::session::SessionHandle,
    others: Option<mpsc::UnboundedSender<TrayAction>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(action) = actions.recv().await {
            match action {
                TrayAction::Lock => {
                    match session
                        .lock(dspconnect::ipc::protocol::LockReason::Explicit)
                        .await
                    {
                        Ok(_) => tracing::info!("session locked from the tray"),
                        Err(error) => tracing::warn!(%error, "the tray's Lock session failed"),
                    }
                }
                other => {
                    if let Some(tx) = &others {
                        let _ = tx.send(other);
                    }
                }
            }
        }
    })
}

/// The ksni item.
struct Item {
    view: View,
    has_drop_folder: bool,
    locked: bool,
    has_error: bool,
    menu: mpsc::UnboundedSender<MenuChoice>,
    phase: watch::Sender<TrayPhase>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MenuChoice {
    Action(TrayAction),
    DismissError,
}

impl ksni::Tray for Item {
    fn id(&self) -> String {
        "dspconnect".into()
    }

    fn title(&self) -> String {
        self.view.title.clone()
    }

    fn category(&self) -> ksni::Category {
        ksni::Category::ApplicationStatus
    }

    fn status(&self) -> ksni::Status {
        match self.view.urgency {
            Urgency::Passive => ksni::Status::Passive,
            Urgency::Active => ksni::Status::Active,
            Urgency::NeedsAttention => ksni::Status::NeedsAttention,
        }
    }

    fn icon_name(&self) -> String {
        self.view.icon.into()
    }

    fn tool_tip(&self) -> ToolTip {
        ToolTip {
            icon_name: self.view.icon.into(),
            icon_pixmap: Vec::new(),
            title: self.view.title.clone(),
            description: self.view.description(),
        }
    }

    fn menu(&self) -> Vec<MenuItem<Self>> {
        let choose = |choice: MenuChoice| -> Box<dyn Fn(&mut Self) + Send> {
            Box::new(move |item: &mut Self| {
                let _ = item.menu.send(choice);
            })
        };
        vec![
            StandardItem {
                label: "Lock session".into(),
                enabled: !self.locked,
                icon_name: "system-lock-screen".into(),
                activate: choose(MenuChoice::Action(TrayAction::Lock)),
                ..Default::default()
            }
            .into(),
            StandardItem {
                label: "Unlock…".into(),
                enabled: self.locked,
                icon_name: "changes-allow".into(),
                activate: choose(MenuChoice::Action(TrayAction::Unlock)),
                ..Default::default()
            }
            .into(),
            MenuItem::Separator,
            StandardItem {
                label: "Open drop folder".into(),
                visible: self.has_drop_folder,
                icon_name: "folder".into(),
                activate: choose(MenuChoice::Action(TrayAction::OpenDropFolder)),
                ..Default::default()
            }
            .into(),
            StandardItem {
                label: "Open failed folder".into(),
                visible: self.has_drop_folder,
                icon_name: "folder-important".into(),
                activate: choose(MenuChoice::Action(TrayAction::OpenFailedFolder)),
                ..Default::default()
            }
            .into(),
            StandardItem {
                label: "Open log".into(),
                icon_name: "text-x-log".into(),
                activate: choose(MenuChoice::Action(TrayAction::OpenLog)),
                ..Default::default()
            }
            .into(),
            StandardItem {
                label: "Dismiss last error".into(),
                visible: self.has_error,
                activate: choose(MenuChoice::DismissError),
                ..Default::default()
            }
            .into(),
            MenuItem::Separator,
            StandardItem {
                label: "Quit".into(),
                icon_name: "application-exit".into(),
                activate: choose(MenuChoice::Action(TrayAction::QuitTray)),
                ..Default::default()
            }
            .into(),
        ]
    }

    fn watcher_online(&self) {
        tracing::info!("tray: a StatusNotifierWatcher appeared; the item is shown");
        self.phase.send_replace(TrayPhase::Shown);
    }

    fn watcher_offline(&self, reason: OfflineReason) -> bool {
        if *self.phase.borrow() != TrayPhase::WatcherOffline {
            tracing::info!(
                ?reason,
                "tray: no StatusNotifierWatcher on the session bus (no tray host yet); the item \
                 appears when one comes"
            );
        }
        self.phase.send_replace(TrayPhase::WatcherOffline);
        true
    }
}

/// The tray's state besides the daemon's status.
struct Model {
    status: Option<Status>,
    last_error: Option<String>,
    options: TrayOptions,
}

impl Model {
    fn view(&self) -> View {
        view(self.status.as_ref(), self.last_error.as_deref())
    }

    fn locked(&self) -> bool {
        !matches!(
            self.status.as_ref().map(|s| s.session.state),
            Some(SessionState::Authenticated | SessionState::Expiring | SessionState::Unlocked)
        )
    }

    fn apply(item: &mut Item, model: &Model) {
        item.view = model.view();
        item.locked = model.locked();
        item.has_error = model.last_error.is_some();
        item.has_drop_folder = model.options.drop_folder.is_some();
    }
}

async fn run(
    mut status: watch::Receiver<Status>,
    mut events: broadcast::Receiver<Event>,
    options: TrayOptions,
    actions: mpsc::UnboundedSender<TrayAction>,
    phase: watch::Sender<TrayPhase>,
    mut stop: watch::Receiver<bool>,
) {
    let mut model = Model {
        status: Some(status.borrow_and_update().clone()),
        last_error: None,
        options,
    };
    let (menu_tx, mut menu_rx) = mpsc::unbounded_channel();
    let mut item = Item {
        view: model.view(),
        has_drop_folder: false,
        locked: true,
        has_error: false,
        menu: menu_tx,
        phase: phase.clone(),
    };
    Model::apply(&mut item, &model);
    let handle = match item.assume_sni_available(true).spawn().await {
        Ok(h) => {
            if *phase.borrow() == TrayPhase::Starting {
                phase.send_replace(TrayPhase::Shown);
            }
            Some(h)
        }
        Err(error) => {
            tracing::info!(%error, "tray: no session D-Bus; no tray item (the daemon runs without it)");
            phase.send_replace(TrayPhase::Unavailable);
            None
        }
    };
    let mut notifier = notify::Notifier::default();
    let mut card_present = model.status.as_ref().is_some_and(|s| s.card.card_present);
    let mut session_state = model.status.as_ref().map(|s| s.session.state);
    loop {
        let mut changed = false;
        tokio::select! {
            _ = stop.changed() => break,
            r = status.changed() => {
                if r.is_err() {
                    break;
                }
                let s = status.borrow_and_update().clone();
                if let Some(n) = transitions(&mut card_present, &mut session_state, &s) {
                    notifier.send(&n).await;
                }
                model.status = Some(s);
                changed = true;
            }
            e = events.recv() => match e {
                Ok(event) => {
                    if let Some(n) = on_event(&mut model, &event) {
                        notifier.send(&n).await;
                    }
                    changed = true;
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => {
                    // No more events; the status still drives the item.
                    events = broadcast::channel(1).1;
                }
            },
            Some(choice) = menu_rx.recv() => match choice {
                MenuChoice::DismissError => {
                    model.last_error = None;
                    changed = true;
                }
                MenuChoice::Action(action) => {
                    let quit = action == TrayAction::QuitTray;
                    act(action, &model.options, &mut notifier).await;
                    let _ = actions.send(action);
                    if quit {
                        break;
                    }
                }
            },
        }
        if changed && let Some(h) = &handle {
            let _ = h.update(|item| Model::apply(item, &model)).await;
        }
    }
    if let Some(h) = handle {
        h.shutdown().await;
    }
    phase.send_replace(TrayPhase::Stopped);
}

/// Notifications from status changes (the card removed, the session
/// expiring or expired).
fn transitions(
    card_present: &mut bool,
    session_state: &mut Option<SessionState>,
    status: &Status,
) -> Option<Notification> {
    let mut out = None;
    if *card_present && !status.card.card_present {
        out = Some(Notification {
            summary: "Card removed".into(),
            body: "The LuxTrust card was removed: the session is locked. Insert it and unlock \
                   to continue uploading."
                .into(),
            level: Level::Normal,
            icon: "media-eject",
        });
    }
    *card_present = status.card.card_present;
    let before = *session_state;
    *session_state = Some(status.session.state);
    if before != Some(status.session.state) {
        match status.session.state {
            SessionState::Expiring => {
                out = out.or(Some(Notification {
                    summary: "DSP session expiring".into(),
                    body: "The platform session ends soon and could not be renewed yet; \
                           uploads pause when it ends."
                        .into(),
                    level: Level::Normal,
                    icon: "appointment-soon",
                }));
            }
            SessionState::Expired => {
                out = out.or(Some(Notification {
                    summary: "DSP session expired".into(),
                    body: "Uploads wait until the session is renewed (keep the card inserted, \
                           or unlock again)."
                        .into(),
                    level: Level::Normal,
                    icon: "appointment-missed",
                }));
            }
            _ => {}
        }
    }
    out
}

fn on_event(model: &mut Model, event: &Event) -> Option<Notification> {
    match event {
        Event::Job { job } => match job.state {
            JobState::Failed | JobState::Conflict => {
                let reason = job
                    .error
                    .as_ref()
                    .map(|e| e.message.clone())
                    .unwrap_or_else(|| format!("{:?}", job.state));
                let hint = job
                    .error
                    .as_ref()
                    .and_then(|e| e.hint.clone())
                    .map(|h| format!("\n{h}"))
                    .unwrap_or_default();
                model.last_error = Some(format!("{}: {reason}", job.title));
                Some(Notification {
                    summary: format!("Upload failed: {}", job.title),
                    body: format!("{reason}{hint}"),
                    level: Level::Critical,
                    icon: "dialog-error",
                })
            }
            JobState::Done if model.options.notify_successes => Some(Notification {
                summary: format!("Uploaded: {}", job.title),
                body: "Registered in the DSP.".into(),
                level: Level::Low,
                icon: "document-send",
            }),
            _ => None,
        },
        // The item shows the change at once; the notifications come from
        // the status alone, the one source whose values arrive in order
        // (an event could be seen before an older status still queued,
        // which then looked like the card leaving).
        Event::Card { card } => {
            if let Some(s) = model.status.as_mut() {
                s.card = card.clone();
            }
            None
        }
        Event::Session { session } => {
            if let Some(s) = model.status.as_mut() {
                s.session = session.clone();
            }
            None
        }
        Event::Notice { message } => Some(notice(message)),
    }
}

/// A notice as a notification: a notice of several lines has its summary
/// on the first (the Visite d'annonce reminder), else the summary is the
/// program's name.
fn notice(message: &str) -> Notification {
    let (summary, body) = match message.split_once('\n') {
        Some((summary, body)) if !summary.trim().is_empty() => (summary.trim(), body.trim()),
        _ => ("dspconnect", message),
    };
    Notification {
        summary: summary.to_owned(),
        body: body.to_owned(),
        level: Level::Normal,
        icon: "dialog-information",
    }
}

/// What the tray does itself for a menu choice.
async fn act(action: TrayAction, options: &TrayOptions, notifier: &mut notify::Notifier) {
    let open = |path: Option<PathBuf>| {
        if let Some(p) = path {
            open_in_file_manager(p);
        }
    };
    match action {
        TrayAction::OpenDropFolder => open(options.drop_folder.clone()),
        TrayAction::OpenFailedFolder => {
            open(options.drop_folder.as_ref().map(|d| d.join("failed")));
        }
        TrayAction::OpenLog => open(options.log_dir.clone()),
        TrayAction::Unlock => {
            notifier
                .send(&Notification {
                    summary: "Unlock the DSP session".into(),
                    body: "Run `dspctl unlock` (the PIN is asked there, or on the reader's \
                           pinpad), or unlock from your practice software."
                        .into(),
                    level: Level::Normal,
                    icon: "changes-allow",
                })
                .await;
        }
        TrayAction::Lock | TrayAction::QuitTray => {}
    }
}

/// `xdg-open <path>`, reaped on a thread of its own.
fn open_in_file_manager(path: PathBuf) {
    match std::process::Command::new("xdg-open").arg(&path).spawn() {
        Ok(mut child) => {
            std::thread::spawn(move || {
                let _ = child.wait();
            });
        }
        Err(error) => {
            tracing::info!(%error, path = %path.display(), "xdg-open is not available to open the folder");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(card_present: bool) -> Status {
        use dspconnect::ipc::protocol::{CardStatus, OutboxSummary, SessionInfo};
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
                state: SessionState::NoCard,
                lock_reason: None,
                professional: None,
                expires_at: None,
            },
            outbox: OutboxSummary::default(),
        }
    }

    /// The card inserted: its event can be seen before an older status
    /// (card absent) still waiting in the status channel. That must not
    /// read as the card leaving.
    #[test]
    fn an_event_ahead_of_an_older_status_is_not_a_card_removal() {
        let mut model = Model {
            status: Some(status(false)),
            last_error: None,
            options: TrayOptions::default(),
        };
        let (mut card_present, mut session_state) = (false, Some(SessionState::NoCard));
        let inserted = Event::Card {
            card: status(true).card,
        };
        assert!(on_event(&mut model, &inserted).is_none());
        assert!(model.status.as_ref().is_some_and(|s| s.card.card_present));
        let older = status(false);
        assert!(transitions(&mut card_present, &mut session_state, &older).is_none());
        assert!(transitions(&mut card_present, &mut session_state, &status(true)).is_none());
        let removed = transitions(&mut card_present, &mut session_state, &status(false));
        assert_eq!(removed.map(|n| n.summary), Some("Card removed".to_owned()));
    }

    #[test]
    fn a_notice_of_several_lines_has_its_own_summary() {
        let n = notice("Documents still in Visite d'annonce\n2 of your documents are …");
        assert_eq!(n.summary, "Documents still in Visite d'annonce");
        assert_eq!(n.body, "2 of your documents are …");
        let n = notice("5 job updates were missed");
        assert_eq!(n.summary, "dspconnect");
        assert_eq!(n.body, "5 job updates were missed");
    }
}
