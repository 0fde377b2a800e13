//! The drop folder: practice software that can only write files drops
//! `report.pdf` and its sidecar `report.pdf.dsp.json` (or drops into
//! `inbox/<matricule>/`), and the document reaches the DSP exactly once.
//!
//! - A file is taken only when complete: after a close-after-write (or a
//!   rename into place: the `*.tmp` → final convention) with no change
//!   since, or once its size and modification time have been stable for
//!   `settle_ms`. The folder is rescanned at start and every
//!   `poll_seconds` (events are lost while the daemon is down, and network
//!   shares send none).
//! - The handoff is journaled: the claim (path and SHA-256) is fsynced
//!   before the file moves to `queued/`, and the outbox job carries the
//!   claim id, so neither a rescan nor a crash hands a file over twice.
//! - The file moves to `sent/` with a `.receipt.json` once the platform
//!   registered it, or to `failed/` with an `.error.json` that says why and
//!   how to resubmit (move it back). The same content for the same patient
//!   already sent within `duplicate_window_days` is not sent again.
//! - Anything that cannot be a document (symlinks, folders, bad names or
//!   sidecars, empty or oversized files, unsupported types, orphans) ends
//!   in `failed/` with its reason: nothing is lost, nothing stays silent.
//!
//! Layout and examples: `docs/drop-folder.md`.

mod journal;
mod layout;
pub mod sidecar;
mod worker;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::sync::watch;

use crate::config::DropFolderConfig;
use crate::outbox::{Outbox, Owner, ResolveContext};
use crate::private_fs::PrivateDirError;

pub use layout::{ErrorReport, Receipt};

/// Names inside the drop folder that belong to the daemon.
pub const QUEUED: &str = "queued";
pub const SENT: &str = "sent";
pub const FAILED: &str = "failed";
pub const INBOX: &str = "inbox";
pub const STATE: &str = ".dspconnect";

/// The drop folder cannot start.
#[derive(Debug, thiserror::Error)]
pub enum DropFolderError {
    #[error("drop_folder.path is not set: there is no drop folder to watch")]
    NotConfigured,
    #[error(
        "drop folder {}: does not exist; create it (mkdir -m 700 {}) or correct drop_folder.path",
        path.display(), path.display()
    )]
    NotFound { path: PathBuf },
    #[error("drop folder {}: not a folder; correct drop_folder.path", path.display())]
    NotADirectory { path: PathBuf },
    #[error(
        "drop folder {}: is a symbolic link; name the real folder in drop_folder.path",
        path.display()
    )]
    Symlink { path: PathBuf },
    #[error(
        "drop folder {}: other users can write to it (mode {mode:04o}), so they could make the \
         daemon send documents in your name; run `chmod go-w {}`, or, for a network share that \
         shows fixed modes, set drop_folder.allow_writable_by_others = true",
        path.display(), path.display()
    )]
    WritableByOthers { path: PathBuf, mode: u32 },
    #[error(
        "drop folder {}: belongs to user {owner}, not to the daemon's user {me}; use a folder of \
         your own, or set drop_folder.allow_writable_by_others = true for a network share",
        path.display()
    )]
    NotOwned { path: PathBuf, owner: u32, me: u32 },
    #[error("drop folder state: {0}")]
    StateFolder(#[from] PrivateDirError),
    #[error("drop folder {}: cannot {action}: {source}", path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        source: std::io::Error,
    },
    #[error("drop folder {}: cannot watch for changes: {source}", path.display())]
    Watch {
        path: PathBuf,
        source: notify::Error,
    },
}

/// What the drop folder is doing, for status and the tray.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DropFolderStatus {
    /// Complete documents waiting for a card session to be handed over.
    pub waiting_for_session: u32,
    /// Files seen but not complete yet (or waiting for their sidecar).
    pub incomplete: u32,
    /// Handed over to the outbox and not finished (in `queued/`).
    pub queued: u32,
    /// Moved to `sent/` since start (duplicates included).
    pub sent: u64,
    /// Moved to `failed/` since start.
    pub failed: u64,
    /// The last file that failed, and why.
    pub last_failure: Option<String>,
}

/// The running drop folder. Dropping it stops the watcher thread (without
/// waiting); [`DropFolderHandle::shutdown`] stops and waits.
pub struct DropFolderHandle {
    root: PathBuf,
    stop: watch::Sender<bool>,
    context: watch::Sender<ResolveContext>,
    status: watch::Receiver<DropFolderStatus>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for DropFolderHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DropFolderHandle")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

impl DropFolderHandle {
    /// The watched folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `failed/`, for the tray's "Open failed folder".
    pub fn failed_dir(&self) -> PathBuf {
        self.root.join(FAILED)
    }

    /// Replaces the platform profile's codes and defaults used for new
    /// handoffs (a live profile change).
    pub fn set_context(&self, context: ResolveContext) {
        self.context.send_replace(context);
    }

    /// The drop folder's counters, as they change.
    pub fn status(&self) -> watch::Receiver<DropFolderStatus> {
        self.status.clone()
    }

    /// Stops watching and waits for the current step (a handoff or a move
    /// in progress) to finish. A configuration change is applied by
    /// shutting down and spawning again.
    pub async fn shutdown(mut self) {
        self.stop.send_replace(true);
        if let Some(thread) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

impl Drop for DropFolderHandle {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

/// Starts the drop folder described by `config` on its own thread: checks
/// the folder (refusing one other users can write to unless
/// `allow_writable_by_others`), creates `queued/`, `sent/`, `failed/`,
/// `inbox/` and `.dspconnect/` (0700), reconciles the journal with the
/// outbox (a crash between steps), rescans, then watches.
///
/// Documents are handed to `outbox` in the name of the card session's
/// owner (`owner`, from `SessionHandle::watch_owner`); while it is `None`,
/// complete documents wait in the folder. `context` is the platform
/// profile's codes and defaults ([`ResolveContext::from_profile`]).
pub fn spawn_drop_folder(
    config: &DropFolderConfig,
    outbox: Outbox,
    owner: watch::Receiver<Option<Owner>>,
    context: ResolveContext,
) -> Result<DropFolderHandle, DropFolderError> {
    spawn_drop_folder_with_access(config, outbox, owner, context, Arc::new(|_, _| None))
}

/// The professional's current consultation grant for a patient (from a
/// code de présence given through `dspctl access`), if any: a document
/// dropped for that patient uploads under it, as a push through the IPC
/// does. The drop folder never reads codes from files.
pub type AccessLookup =
    Arc<dyn Fn(&Owner, &str) -> Option<crate::outbox::AccessBasis> + Send + Sync>;

/// [`spawn_drop_folder`], with the daemon's consultation grants.
pub fn spawn_drop_folder_with_access(
    config: &DropFolderConfig,
    outbox: Outbox,
    owner: watch::Receiver<Option<Owner>>,
    context: ResolveContext,
    access: AccessLookup,
) -> Result<DropFolderHandle, DropFolderError> {
    let root = config.path.clone().ok_or(DropFolderError::NotConfigured)?;
    let dirs = layout::prepare(&root, config.allow_writable_by_others)?;
    let window = time::Duration::days(config.duplicate_window_days.into());
    let journal_path = dirs.state.join("journal.jsonl");
    journal::clean(&journal_path);
    let journal =
        journal::Journal::open(&journal_path, window).map_err(|source| DropFolderError::Io {
            path: journal_path.clone(),
            action: "open the journal",
            source,
        })?;
    let (stop, stop_rx) = watch::channel(false);
    let (context_tx, context_rx) = watch::channel(context);
    let (status_tx, status_rx) = watch::channel(DropFolderStatus::default());
    let (signals_tx, signals_rx) = tokio::sync::mpsc::unbounded_channel();
    let watcher = worker::start_watcher(config, &dirs, signals_tx)?;
    let jobs = outbox.subscribe();
    let worker = worker::Worker::new(
        config.clone(),
        dirs,
        journal,
        outbox,
        owner,
        context_rx,
        status_tx,
        jobs,
        access,
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| DropFolderError::Io {
            path: root.clone(),
            action: "start the drop folder's runtime",
            source,
        })?;
    let thread = std::thread::Builder::new()
        .name("dsp-drop-folder".into())
        .spawn(move || {
            let _watcher = watcher;
            runtime.block_on(worker.run(signals_rx, stop_rx));
        })
        .map_err(|source| DropFolderError::Io {
            path: root.clone(),
            action: "start the drop folder's thread",
            source,
        })?;
    Ok(DropFolderHandle {
        root,
        stop,
        context: context_tx,
        status: status_rx,
        thread: Some(thread),
    })
}

#[cfg(test)]
mod tests;
