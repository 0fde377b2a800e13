//! The running daemon: wires the configuration, the platform (the embedded
//! sandbox by default), the card thread, the session, the outbox and its
//! scheduler, the audit log and the IPC server together, and keeps them
//! in step with configuration changes.
//!
//! - [`startup`]: choosing the platform and the card, and what is printed
//!   for the user at start.
//! - [`live`]: the platform client of the profile in force, swapped when
//!   the profile changes.
//! - [`handlers`]: one function per IPC method.
//! - [`reads`], [`visits`], [`grants`]: the small pieces of state the
//!   handlers keep (documents open for chunked reading, last list per
//!   patient, consultation grants).

mod browser;
mod grants;
mod handlers;
mod live;
mod reads;
mod reminder;
pub mod startup;
mod visits;

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use dspconnect::ipc::Endpoint;
use dspconnect::ipc::protocol::{Event, LockReason, Status};
use tokio::sync::{broadcast, mpsc};

use crate::audit::{AuditError, AuditLog};
use crate::card::spawn_card_thread;
use crate::config::watch::{ReloadEvent, watch};
use crate::config::{Applies, Config, ConfigError, ConfigLocation};
use crate::ipc_server::{BindError, IpcServer, RECOMMENDED_EVENT_CAPACITY};
use crate::outbox::{Outbox, OutboxError, OutboxPolicy};
use crate::session::{
    SessionBus, SessionConfig, SessionHandle, spawn_screen_lock_watcher, spawn_session,
};

pub use live::LivePlatform;
pub use startup::{PlatformChoice, StartupError};

/// How the daemon was started (command line).
#[derive(Debug, Clone)]
pub struct DaemonOptions {
    pub config: ConfigLocation,
    pub endpoint: Endpoint,
    /// Force the embedded sandbox even when a platform is configured.
    pub force_sandbox: bool,
    /// A software card to put in the software reader instead of the demo
    /// GP's (sandbox builds; tests and demonstrations of other roles).
    pub software_card: Option<PathBuf>,
}

/// Why the daemon stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Startup(#[from] StartupError),
    #[error("audit log: {0}")]
    Audit(#[from] AuditError),
    #[error("outbox: {0}")]
    Outbox(#[from] OutboxError),
    #[error("cannot start the card thread: {0}")]
    CardThread(std::io::Error),
    #[error("IPC socket: {0}")]
    Bind(#[from] BindError),
    #[error("drop folder: {0}")]
    DropFolder(#[from] crate::drop_folder::DropFolderError),
}

/// What every handler shares.
pub(crate) struct Core {
    pub(crate) config: Mutex<Config>,
    pub(crate) platform: LivePlatform,
    pub(crate) session: SessionHandle,
    pub(crate) outbox: Outbox,
    pub(crate) audit: Arc<AuditLog>,
    pub(crate) reads: reads::OpenReads,
    pub(crate) visits: visits::Visits,
    pub(crate) grants: Arc<grants::Grants>,
    pub(crate) reminders: Arc<reminder::Reminders>,
    pub(crate) sandbox: bool,
}

impl Core {
    pub(crate) fn status(&self) -> Status {
        let (card, session) = self.session.status();
        Status {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            protocol: dspconnect::ipc::protocol::PROTOCOL_VERSION,
            sandbox: self.sandbox,
            platform: self.platform.current().profile().name.clone(),
            card,
            session,
            outbox: self.outbox.summary(),
        }
    }
}

/// Runs the daemon until `shutdown` completes. `ready` is called once the
/// socket listens, with what to tell the user.
pub async fn run(
    options: DaemonOptions,
    shutdown: impl Future<Output = ()>,
    ready: impl FnOnce(&startup::Banner),
) -> Result<(), DaemonError> {
    let config = Config::load(&options.config)?;
    let choice = startup::choose_platform(&config, &options).await?;
    let profile = choice.profile.clone();
    let sandbox = choice.is_sandbox();

    let audit = Arc::new(AuditLog::open(
        &config.log.audit_dir,
        config.log.audit_max_file_bytes,
        config.log.audit_keep_files,
    )?);
    let outbox = Outbox::open(
        &config.outbox.spool_dir,
        OutboxPolicy::from_config(&config.outbox),
        Some(audit.clone()),
    )?;
    for problem in outbox.damaged() {
        tracing::error!(%problem, "a spooled job could not be read; it was left in place");
    }

    let platform = LivePlatform::new(&profile, config.drop_folder.path.clone())?;
    let (events, _) = broadcast::channel::<Event>(RECOMMENDED_EVENT_CAPACITY);
    let (card_handle, card_events) =
        spawn_card_thread(choice.card_backend).map_err(DaemonError::CardThread)?;
    let mut session_config = SessionConfig::from_settings(&config.session, profile.kind);
    session_config.test_ca_certificates = choice.test_ca_certificates.clone();
    let session = spawn_session(
        card_handle,
        card_events,
        Arc::new(platform.clone()),
        session_config,
        events.clone(),
    );
    let scheduler = outbox.spawn_scheduler(
        Arc::new(live::LiveUploader::new(platform.clone(), session.clone())),
        session.watch_owner(),
    );
    forward_job_events(&outbox, &events);

    let grants = Arc::new(grants::Grants::default());
    let drop_folder = match &config.drop_folder.path {
        Some(path) => {
            let lookup = grants.clone();
            let handle = crate::drop_folder::spawn_drop_folder_with_access(
                &config.drop_folder,
                outbox.clone(),
                session.watch_owner(),
                crate::outbox::ResolveContext::from_profile(&profile),
                Arc::new(move |owner, patient| lookup.current(&owner.ehealth_id, patient)),
            )?;
            tracing::info!(folder = %path.display(), "drop folder watched");
            Some(handle)
        }
        None => None,
    };

    let screen_lock = config
        .session
        .lock_on_screen_lock
        .then(|| spawn_screen_lock_watcher(session.clone(), SessionBus::FromEnvironment));

    let core = Arc::new(Core {
        config: Mutex::new(config.clone()),
        platform,
        session,
        outbox,
        audit,
        reads: reads::OpenReads::default(),
        visits: visits::Visits::open(&config.outbox.spool_dir),
        grants,
        reminders: Arc::new(reminder::Reminders::open(&config.outbox.spool_dir)),
        sandbox,
    });
    reminder::spawn(core.clone(), core.reminders.clone(), events.clone());

    let (reload_tx, reload_rx) = mpsc::channel(8);
    let _config_watcher = match watch(&options.config, config.clone(), reload_tx) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!(error = %e, "configuration changes will not be seen until a restart");
            None
        }
    };
    tokio::spawn(apply_reloads(core.clone(), reload_rx, choice.from_config));

    let tray = config
        .tray
        .enabled
        .then(|| start_tray(&core, &events, &config));

    let server = IpcServer::bind(options.endpoint.clone(), events)?;
    let router = handlers::router(core.clone());
    ready(&startup::Banner {
        socket: options.endpoint.path().to_owned(),
        profile_name: profile.name.clone(),
        sandbox: choice.sandbox_details.clone(),
    });
    server.serve(Arc::new(router), shutdown).await;

    if let Some(tray) = tray {
        tray.shutdown().await;
    }
    if let Some(drop_folder) = drop_folder {
        drop_folder.shutdown().await;
    }
    scheduler.stop().await;
    drop(screen_lock);
    if let Some(running) = choice.embedded {
        running.shutdown().await;
    }
    tracing::info!("dspconnectd stopped");
    Ok(())
}

/// The tray, fed with the daemon's status as it changes (recomputed on
/// each event, and every few seconds for the session's clock).
fn start_tray(
    core: &Arc<Core>,
    events: &broadcast::Sender<Event>,
    config: &Config,
) -> crate::tray::TrayHandle {
    let (status_tx, status_rx) = tokio::sync::watch::channel(core.status());
    let mut changes = events.subscribe();
    let watched = core.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
        loop {
            tokio::select! {
                event = changes.recv() => {
                    if matches!(event, Err(broadcast::error::RecvError::Closed)) {
                        break;
                    }
                }
                _ = tick.tick() => {}
            }
            let status = watched.status();
            status_tx.send_if_modified(|current| {
                let changed = *current != status;
                *current = status;
                changed
            });
            if status_tx.is_closed() {
                break;
            }
        }
    });
    let mut tray = crate::tray::spawn_tray(
        status_rx,
        events.subscribe(),
        crate::tray::TrayOptions::from_config(config),
    );
    if let Some(actions) = tray.take_actions() {
        crate::tray::follow_actions(actions, core.session.clone(), None);
    }
    tray
}

/// Outbox job changes become IPC `job` events.
fn forward_job_events(outbox: &Outbox, events: &broadcast::Sender<Event>) {
    let mut jobs = outbox.subscribe();
    let events = events.clone();
    tokio::spawn(async move {
        loop {
            match jobs.recv().await {
                Ok(job) => {
                    let _ = events.send(Event::Job { job });
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    let _ = events.send(Event::Notice {
                        message: format!(
                            "{missed} job updates were missed; `job.list` has every job's state"
                        ),
                    });
                }
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
    });
}

/// Applies configuration changes as they are accepted. `profile_from_config`
/// is false when the platform is the embedded sandbox (a configured
/// profile then does not replace it until restart).
async fn apply_reloads(
    core: Arc<Core>,
    mut reloads: mpsc::Receiver<ReloadEvent>,
    profile_from_config: bool,
) {
    while let Some(event) = reloads.recv().await {
        let (new, effect) = match event {
            Ok(accepted) => accepted,
            Err(refused) => {
                tracing::error!(
                    error = %refused,
                    "the new configuration was refused; the running configuration stays in force"
                );
                continue;
            }
        };
        for change in &effect.changes {
            tracing::info!(key = %change.key, applies = change.applies.describe(), "configuration changed");
        }
        core.outbox
            .set_policy(OutboxPolicy::from_config(&new.outbox));
        startup::set_log_level(new.log.level);
        if effect.ends_session() {
            if profile_from_config {
                if let Some(profile) = &new.platform {
                    match core.platform.replace(profile) {
                        Ok(()) => tracing::info!(
                            platform = %profile.name,
                            "the platform profile changed: the session ends; unlock again"
                        ),
                        Err(e) => tracing::error!(
                            error = %e,
                            "the new platform profile cannot be used; the session ends and \
                             the previous profile stays until it is fixed"
                        ),
                    }
                }
            } else {
                tracing::warn!(
                    "a platform profile was configured while the embedded sandbox runs; \
                     restart dspconnectd to use it"
                );
            }
            if let Err(e) = core.session.lock(LockReason::ProfileChanged).await {
                tracing::warn!(error = %e, "could not lock the session after the profile change");
            }
        }
        if effect.needs_restart() {
            tracing::warn!(
                keys = ?effect.keys(Applies::NeedsRestart),
                "these settings apply after a restart of dspconnectd"
            );
        }
        let days = new.tray.visite_annonce_reminder_days;
        let before = std::mem::replace(
            &mut *core.config.lock().unwrap_or_else(PoisonError::into_inner),
            new,
        );
        if before.tray.visite_annonce_reminder_days != days {
            core.reminders.check_now();
        }
    }
}
