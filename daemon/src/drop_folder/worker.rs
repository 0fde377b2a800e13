//! The drop folder's thread: notices files, decides when they are
//! complete, hands them over, and follows their jobs to `sent/` or
//! `failed/`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use dspconnect::ErrorCode;
use dspconnect::ipc::protocol::{Job, JobState};
use dspconnect::model::Matricule;
use notify::{EventKind, RecursiveMode, event::AccessKind, event::AccessMode, event::ModifyKind};
use notify_debouncer_full::{
    DebounceEventResult, Debouncer, NoCache, RecommendedCache, new_debouncer, new_debouncer_opt,
};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tokio::sync::{broadcast, mpsc, watch};

use super::journal::{Claim, Entry, Journal};
use super::layout::{
    self, Dirs, ERROR_SUFFIX, ErrorReport, Failure, RECEIPT_SUFFIX, Receipt, display_name,
    with_suffix,
};
use super::sidecar::{self, DEFAULTS_FILE, MAX_SIDECAR_BYTES, SIDECAR_SUFFIX, Sidecar};
use super::{DropFolderError, DropFolderStatus, FAILED, INBOX, QUEUED, SENT, STATE};
use crate::config::{DropFolderConfig, DropWatch};
use crate::outbox::{
    ContentSource, EnqueueRequest, JobOrigin, Outbox, OutboxError, Owner, ResolveContext, sniff,
};

/// RFC 3339 text of a time.
fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// What the watcher tells the worker: paths that changed, and whether the
/// change was a close-after-write or a rename into place.
pub(super) type Signal = Vec<(PathBuf, bool)>;

/// Keeps the watcher alive.
pub(super) enum WatcherGuard {
    Events(Debouncer<notify::RecommendedWatcher, RecommendedCache>),
    Poll(Debouncer<notify::PollWatcher, NoCache>),
}

/// Debounce timeout: short, since completeness is decided here.
const DEBOUNCE: Duration = Duration::from_millis(50);
/// Re-check period while some file is incomplete.
const RECHECK: Duration = Duration::from_millis(100);
/// The journal is rewritten after this many lines.
const COMPACT_AFTER: usize = 10_000;
/// Housekeeping of `sent/`.
const HOUSEKEEPING: Duration = Duration::from_secs(3600);

pub(super) fn start_watcher(
    config: &DropFolderConfig,
    dirs: &Dirs,
    signals: mpsc::UnboundedSender<Signal>,
) -> Result<WatcherGuard, DropFolderError> {
    let handler = move |result: DebounceEventResult| match result {
        Ok(events) => {
            let mut changed = Vec::new();
            for e in events {
                let closed = matches!(
                    e.event.kind,
                    EventKind::Access(AccessKind::Close(AccessMode::Write))
                        | EventKind::Modify(ModifyKind::Name(_))
                );
                for p in &e.event.paths {
                    changed.push((p.clone(), closed));
                }
            }
            let _ = signals.send(changed);
        }
        Err(errors) => {
            for e in errors {
                tracing::warn!(error = %e, "drop-folder watcher error; the periodic rescan covers it");
            }
            let _ = signals.send(Vec::new());
        }
    };
    let watch_err = |path: &Path| {
        let path = path.to_owned();
        move |source| DropFolderError::Watch { path, source }
    };
    let mut guard = match config.watch {
        DropWatch::Events => WatcherGuard::Events(
            new_debouncer(DEBOUNCE, None, handler).map_err(watch_err(&dirs.root))?,
        ),
        DropWatch::Poll => {
            let poll = Duration::from_secs(config.poll_seconds.max(1).into());
            WatcherGuard::Poll(
                new_debouncer_opt::<_, notify::PollWatcher, NoCache>(
                    DEBOUNCE,
                    None,
                    handler,
                    NoCache,
                    notify::Config::default().with_poll_interval(poll),
                )
                .map_err(watch_err(&dirs.root))?,
            )
        }
    };
    let mut watch = |path: &Path, mode: RecursiveMode| match &mut guard {
        WatcherGuard::Events(d) => d.watch(path, mode),
        WatcherGuard::Poll(d) => d.watch(path, mode),
    };
    watch(&dirs.root, RecursiveMode::NonRecursive).map_err(watch_err(&dirs.root))?;
    watch(&dirs.inbox, RecursiveMode::Recursive).map_err(watch_err(&dirs.inbox))?;
    Ok(guard)
}

/// Where a document was dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Folder {
    Root,
    /// `inbox/<name>/` (the name is checked as a matricule when used).
    Inbox(String),
}

/// One thing found by a scan.
#[derive(Debug)]
enum Candidate {
    Doc {
        doc: PathBuf,
        sidecar: Option<PathBuf>,
        folder: Folder,
    },
    OrphanSidecar {
        sidecar: PathBuf,
    },
    Reject {
        path: PathBuf,
        sidecar: Option<PathBuf>,
        failure: Failure,
        /// Taken at once (a symlink: nothing is being written through it).
        immediate: bool,
    },
}

/// What was last seen of a path.
#[derive(Debug, Clone)]
struct Track {
    len: u64,
    mtime: Option<SystemTime>,
    since: Instant,
    first_seen: Instant,
}

pub(super) struct Worker {
    config: DropFolderConfig,
    dirs: Dirs,
    journal: Journal,
    outbox: Outbox,
    owner: watch::Receiver<Option<Owner>>,
    context: watch::Receiver<ResolveContext>,
    status: watch::Sender<DropFolderStatus>,
    jobs: broadcast::Receiver<Job>,
    tracks: HashMap<PathBuf, Track>,
    closed: HashMap<PathBuf, SystemTime>,
    counters: DropFolderStatus,
    window: time::Duration,
    access: super::AccessLookup,
}

impl Worker {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        config: DropFolderConfig,
        dirs: Dirs,
        journal: Journal,
        outbox: Outbox,
        owner: watch::Receiver<Option<Owner>>,
        context: watch::Receiver<ResolveContext>,
        status: watch::Sender<DropFolderStatus>,
        jobs: broadcast::Receiver<Job>,
        access: super::AccessLookup,
    ) -> Worker {
        let window = time::Duration::days(config.duplicate_window_days.into());
        Worker {
            config,
            dirs,
            journal,
            outbox,
            owner,
            context,
            status,
            jobs,
            tracks: HashMap::new(),
            closed: HashMap::new(),
            counters: DropFolderStatus::default(),
            window,
            access,
        }
    }

    pub(super) async fn run(
        mut self,
        mut signals: mpsc::UnboundedReceiver<Signal>,
        mut stop: watch::Receiver<bool>,
    ) {
        self.reconcile().await;
        self.housekeeping();
        let mut last_housekeeping = Instant::now();
        let poll = Duration::from_secs(self.config.poll_seconds.max(1).into());
        let mut last_scan = Instant::now() - poll;
        loop {
            if *stop.borrow() {
                break;
            }
            // (Documents waiting for the session are looked at again when
            // the owner changes, and at each poll.)
            let wait = if self.counters.incomplete > 0 {
                RECHECK.min(poll)
            } else {
                poll
            };
            let deadline = (last_scan + wait).max(Instant::now());
            let mut scan = false;
            tokio::select! {
                _ = stop.changed() => break,
                signal = signals.recv() => {
                    match signal {
                        Some(changed) => {
                            self.note(changed);
                            while let Ok(more) = signals.try_recv() {
                                self.note(more);
                            }
                            scan = true;
                        }
                        None => {
                            // The watcher is gone: poll from now on.
                            tokio::time::sleep(poll).await;
                            scan = true;
                        }
                    }
                }
                job = self.jobs.recv() => {
                    match job {
                        Ok(job) => {
                            self.on_job(job).await;
                            // Sent and failed counts follow each job at once.
                            self.publish();
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => self.reconcile().await,
                        Err(broadcast::error::RecvError::Closed) => {
                            tokio::time::sleep(poll).await;
                        }
                    }
                }
                _ = self.owner.changed() => {
                    // Claims taken before a crash and never handed to the
                    // outbox wait for a session (resume_claim): now.
                    if self.owner.borrow().is_some() {
                        self.reconcile().await;
                    }
                    scan = true;
                }
                _ = self.context.changed() => scan = true,
                _ = tokio::time::sleep_until(deadline.into()) => scan = true,
            }
            if scan {
                last_scan = Instant::now();
                self.scan_and_process(&stop).await;
                self.publish();
            }
            if self.journal.appended() >= COMPACT_AFTER
                && let Err(e) = self.journal.compact(self.window)
            {
                tracing::warn!(error = %e, "drop-folder journal not compacted");
            }
            if last_housekeeping.elapsed() >= HOUSEKEEPING {
                last_housekeeping = Instant::now();
                self.housekeeping();
            }
        }
    }

    fn note(&mut self, changed: Signal) {
        let now = SystemTime::now();
        for (path, closed) in changed {
            if closed {
                self.closed.insert(path, now);
            }
        }
    }

    fn publish(&mut self) {
        self.counters.queued = u32::try_from(self.journal.open.len()).unwrap_or(u32::MAX);
        self.status.send_if_modified(|s| {
            if *s == self.counters {
                false
            } else {
                *s = self.counters.clone();
                true
            }
        });
    }

    fn housekeeping(&mut self) {
        let keep = Duration::from_secs(u64::from(self.config.keep_sent_days) * 86_400);
        match layout::expire_sent(&self.dirs.sent, keep) {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                removed = n,
                "old copies removed from the drop folder's sent/"
            ),
            Err(e) => tracing::warn!(error = %e, "sent/ housekeeping failed"),
        }
    }

    // ------------------------------------------------------------ scanning

    /// Lists what is in the drop folder and its inbox.
    fn scan(&self) -> Vec<Candidate> {
        let mut out = Vec::new();
        let reserved = [INBOX, QUEUED, SENT, FAILED, STATE];
        scan_dir(&self.dirs.root, &reserved, true, &Folder::Root, &mut out);
        let entries = match fs::read_dir(&self.dirs.inbox) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, "the drop folder's inbox cannot be read");
                return out;
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let Ok(meta) = fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.is_dir() && shared_dir(&meta) && !self.config.allow_writable_by_others {
                // Anyone could drop a document for this patient in your name.
                let mut found = Vec::new();
                scan_dir(&path, &[], false, &Folder::Inbox(String::new()), &mut found);
                let failure = Failure::new(
                    ErrorCode::PermissionDenied,
                    format!(
                        "the folder {} can be written by other users, so anyone could send a                          document in your name from it",
                        display_name(&path, &self.dirs.root)
                    ),
                )
                .hint("run `chmod go-w` on the folder (or set drop_folder.allow_writable_by_others = true for a network share), then move the files back");
                for c in found {
                    let (path, sidecar) = match c {
                        Candidate::Doc { doc, sidecar, .. } => (doc, sidecar),
                        Candidate::OrphanSidecar { sidecar } => (sidecar, None),
                        Candidate::Reject { path, sidecar, .. } => (path, sidecar),
                    };
                    out.push(Candidate::Reject {
                        path,
                        sidecar,
                        failure: failure.clone(),
                        immediate: false,
                    });
                }
            } else if meta.is_dir() {
                match name.to_str() {
                    Some(n) if !n.starts_with('.') => {
                        scan_dir(&path, &[], false, &Folder::Inbox(n.to_owned()), &mut out);
                    }
                    Some(_) => {}
                    None => {
                        // A folder with a non-UTF-8 name cannot be a
                        // matricule: its files fail with that reason.
                        scan_dir(
                            &path,
                            &[],
                            false,
                            &Folder::Inbox(name.to_string_lossy().into_owned()),
                            &mut out,
                        );
                    }
                }
            } else if name.to_str() == Some(DEFAULTS_FILE) || is_in_progress(&name) {
                continue;
            } else if meta.file_type().is_symlink() {
                out.push(Candidate::Reject {
                    path,
                    sidecar: None,
                    failure: symlink_failure(),
                    immediate: true,
                });
            } else {
                out.push(Candidate::Reject {
                    path,
                    sidecar: None,
                    failure: Failure::new(
                        ErrorCode::InvalidArgument,
                        "a file directly in inbox/ has no patient",
                    )
                    .hint("drop documents into inbox/<matricule>/, or next to a sidecar in the drop folder itself"),
                    immediate: false,
                });
            }
        }
        out
    }

    /// Whether the file at `path` is complete now; updates its track.
    fn complete(&mut self, path: &Path) -> Option<(bool, Instant)> {
        let meta = fs::symlink_metadata(path).ok()?;
        let now = Instant::now();
        let len = meta.len();
        let mtime = meta.modified().ok();
        let track = self.tracks.entry(path.to_owned()).or_insert(Track {
            len,
            mtime,
            since: now,
            first_seen: now,
        });
        if track.len != len || track.mtime != mtime {
            track.len = len;
            track.mtime = mtime;
            track.since = now;
        }
        let settle = Duration::from_millis(self.config.settle_ms.into());
        let unchanged_for = now.duration_since(track.since).max(
            mtime
                .and_then(|m| SystemTime::now().duration_since(m).ok())
                .unwrap_or_default(),
        );
        let closed = match (self.closed.get(path), mtime) {
            (Some(closed_at), Some(m)) => m <= *closed_at,
            _ => false,
        };
        Some((closed || unchanged_for >= settle, track.first_seen))
    }

    async fn scan_and_process(&mut self, stop: &watch::Receiver<bool>) {
        let candidates = self.scan();
        let mut seen: HashSet<PathBuf> = HashSet::new();
        let orphan_wait = Duration::from_secs(self.config.orphan_wait_seconds.into());
        let mut incomplete = 0u32;
        let mut waiting = 0u32;
        for candidate in candidates {
            if *stop.borrow() {
                return;
            }
            match candidate {
                Candidate::Reject {
                    path,
                    sidecar,
                    failure,
                    immediate,
                } => {
                    seen.insert(path.clone());
                    let ready = immediate || self.complete(&path).is_some_and(|(c, _)| c);
                    if ready {
                        self.fail_files(&path, sidecar.as_deref(), failure, None);
                    } else {
                        incomplete += 1;
                    }
                }
                Candidate::OrphanSidecar { sidecar } => {
                    seen.insert(sidecar.clone());
                    match self.complete(&sidecar) {
                        // (The document may have come since the listing.)
                        Some((true, first))
                            if first.elapsed() >= orphan_wait
                                && fs::symlink_metadata(sidecar_document(&sidecar)).is_err() =>
                        {
                            let doc = sidecar_document(&sidecar);
                            let failure = Failure::new(
                                ErrorCode::FileNotFound,
                                format!(
                                    "sidecar without its document: {} did not appear within {} s",
                                    display_name(&doc, &self.dirs.root),
                                    self.config.orphan_wait_seconds
                                ),
                            )
                            .hint("write the document under the name the sidecar is named after (the sidecar's name minus .dsp.json)");
                            self.fail_files(&sidecar, None, failure, None);
                        }
                        _ => incomplete += 1,
                    }
                }
                Candidate::Doc {
                    doc,
                    sidecar,
                    folder,
                } => {
                    seen.insert(doc.clone());
                    if let Some(s) = &sidecar {
                        seen.insert(s.clone());
                    }
                    let Some((doc_done, first)) = self.complete(&doc) else {
                        continue;
                    };
                    let side_done = match &sidecar {
                        Some(s) => self.complete(s).is_some_and(|(c, _)| c),
                        None => true,
                    };
                    if !doc_done || !side_done {
                        incomplete += 1;
                        continue;
                    }
                    if sidecar.is_none() && folder == Folder::Root {
                        if first.elapsed() >= orphan_wait
                            && fs::symlink_metadata(with_suffix(&doc, SIDECAR_SUFFIX)).is_err()
                        {
                            let failure = Failure::new(
                                ErrorCode::BadMetadata,
                                format!(
                                    "document without its sidecar: {} did not appear within {} s",
                                    display_name(&with_suffix(&doc, SIDECAR_SUFFIX), &self.dirs.root),
                                    self.config.orphan_wait_seconds
                                ),
                            )
                            .hint("write the sidecar (the document's name + .dsp.json) with the patient and the patient statement, or drop the document into inbox/<matricule>/");
                            self.fail_files(&doc, None, failure, None);
                        } else {
                            incomplete += 1;
                        }
                        continue;
                    }
                    match self.hand_over(&doc, sidecar.as_deref(), &folder).await {
                        Handoff::Done => {}
                        Handoff::WaitSession => waiting += 1,
                        Handoff::Changed => incomplete += 1,
                    }
                }
            }
        }
        self.tracks.retain(|p, _| seen.contains(p));
        let stale = SystemTime::now() - Duration::from_secs(60);
        self.closed.retain(|p, at| seen.contains(p) || *at > stale);
        self.counters.incomplete = incomplete;
        self.counters.waiting_for_session = waiting;
    }

    // ------------------------------------------------------------ the handoff

    /// Checks a complete document and hands it to the outbox.
    async fn hand_over(&mut self, doc: &Path, sidecar: Option<&Path>, folder: &Folder) -> Handoff {
        let limit = self.outbox.policy().max_document_bytes;
        let prepared = match self.prepare(doc, sidecar, folder, limit) {
            Ok(p) => p,
            Err(failure) => {
                self.fail_files(doc, sidecar, failure, None);
                return Handoff::Done;
            }
        };
        let Some(owner) = self.owner.borrow().clone() else {
            return Handoff::WaitSession;
        };
        let (sha256, len, mtime) = match hash_file(doc) {
            Ok(h) => h,
            Err(e) => {
                self.fail_files(
                    doc,
                    sidecar,
                    Failure::new(ErrorCode::Io, format!("cannot read the document: {e}")).hint(
                        "check the file's permissions: the daemon's user must be able to read it",
                    ),
                    None,
                );
                return Handoff::Done;
            }
        };
        let still = fs::symlink_metadata(doc).ok();
        if still.as_ref().map(|m| (m.len(), m.modified().ok())) != Some((len, mtime)) {
            self.tracks.remove(doc);
            return Handoff::Changed;
        }
        let patient = prepared.metadata.patient.clone();
        let patient = patient
            .parse::<Matricule>()
            .map(|m| m.to_string())
            .unwrap_or(patient);
        // The same content for the same patient: not sent again.
        if let Some(earlier) = self.journal.sent_within(&sha256, &patient, self.window) {
            let receipt = Receipt {
                file: display_name(doc, &self.dirs.root),
                unique_id: earlier.unique_id.clone(),
                registered_at: Some(rfc3339(earlier.at)),
                patient: patient.clone(),
                title: Some(prepared.metadata.title.clone()),
                mode: Some(prepared.metadata.mode),
                statement_source: prepared.statement_source,
                sha256: sha256.clone(),
                job_id: None,
                duplicate: true,
                note: Some(format!(
                    "not sent again: the same content was registered for this patient on {} \
                     as document {}",
                    rfc3339(earlier.at),
                    earlier.unique_id
                )),
            };
            self.duplicate(doc, sidecar, &receipt);
            return Handoff::Done;
        }
        if let Some(queued) = self.journal.in_flight(&sha256, &patient) {
            let receipt = Receipt {
                file: display_name(doc, &self.dirs.root),
                unique_id: queued
                    .job
                    .as_ref()
                    .map(|(_, u)| u.clone())
                    .unwrap_or_default(),
                registered_at: None,
                patient: patient.clone(),
                title: Some(prepared.metadata.title.clone()),
                mode: Some(prepared.metadata.mode),
                statement_source: prepared.statement_source,
                sha256: sha256.clone(),
                job_id: queued.job.as_ref().map(|(j, _)| j.clone()),
                duplicate: true,
                note: Some(format!(
                    "not sent: the same content for this patient is already queued as {}",
                    queued.name
                )),
            };
            self.duplicate(doc, sidecar, &receipt);
            return Handoff::Done;
        }
        // Claim (durably), then move, then enqueue.
        let Some(doc_name) = doc.file_name().and_then(|n| n.to_str()) else {
            return Handoff::Done;
        };
        let name = layout::free_name(
            doc_name,
            &[&self.dirs.queued, &self.dirs.sent, &self.dirs.failed],
        );
        let claim_id = uuid::Uuid::new_v4().to_string();
        let claim = Entry::Claim {
            claim: claim_id.clone(),
            source: display_name(doc, &self.dirs.root),
            sidecar: sidecar.map(|s| display_name(s, &self.dirs.root)),
            name: name.clone(),
            sha256: sha256.clone(),
            patient: patient.clone(),
            statement_source: prepared.statement_source,
            at: OffsetDateTime::now_utc(),
        };
        if let Err(e) = self.journal.record(claim) {
            tracing::error!(error = %e, "drop-folder journal not written; the file stays where it is");
            return Handoff::Changed;
        }
        let queued = self.dirs.queued.join(&name);
        if let Err(e) = layout::move_file(doc, &queued) {
            tracing::error!(error = %e, file = %doc.display(), "file not moved to queued/; taken again later");
            let _ = self.journal.record(Entry::Abandoned { claim: claim_id });
            return Handoff::Changed;
        }
        if let Some(s) = sidecar
            && let Err(e) = layout::move_file(s, &with_suffix(&queued, SIDECAR_SUFFIX))
        {
            tracing::warn!(error = %e, "sidecar not moved to queued/ with its document");
        }
        self.tracks.remove(doc);
        self.enqueue(&claim_id, &queued, prepared, owner).await;
        Handoff::Done
    }

    /// Reads the sidecar (and the inbox defaults) and checks what can be
    /// checked before the handoff.
    fn prepare(
        &self,
        doc: &Path,
        sidecar_path: Option<&Path>,
        folder: &Folder,
        limit: u64,
    ) -> Result<sidecar::Resolved, Failure> {
        let meta = fs::symlink_metadata(doc)
            .map_err(|e| Failure::new(ErrorCode::Io, format!("cannot read the document: {e}")))?;
        if meta.len() == 0 {
            return Err(Failure::new(
                ErrorCode::EmptyFile,
                "the document is empty; nothing would reach the DSP",
            )
            .hint("export the document again; make sure the program finished writing it"));
        }
        if meta.len() > limit {
            return Err(Failure::new(
                ErrorCode::FileTooLarge,
                format!(
                    "the document has {} bytes, more than the limit of {limit} bytes \
                     (outbox.max_document_bytes)",
                    meta.len()
                ),
            )
            .hint("reduce the document's size (e.g. lower the scan resolution), or raise outbox.max_document_bytes"));
        }
        let side = match sidecar_path {
            Some(p) => Some(read_sidecar(p)?),
            None => None,
        };
        let (defaults, folder_patient) = match folder {
            Folder::Root => (None, None),
            Folder::Inbox(name) => {
                if let Err(e) = name.parse::<Matricule>() {
                    return Err(Failure::new(
                        ErrorCode::BadMatricule,
                        format!("the inbox folder '{name}' is not a valid matricule: {e}"),
                    )
                    .field(Some("patient".into()))
                    .hint("name the folder after the patient's 13-digit matricule: inbox/1893120105732/"));
                }
                (self.inbox_defaults()?, Some(name.as_str()))
            }
        };
        let resolved = sidecar::resolve(
            doc,
            side.as_ref(),
            defaults.as_ref(),
            folder_patient,
            self.config.patient_statement_default,
        )
        .map_err(|p| {
            let code = match p.field.as_deref() {
                Some("patient") => ErrorCode::BadMatricule,
                Some(f) if f.starts_with("patient_statement") => ErrorCode::MissingPatientStatement,
                _ => ErrorCode::BadMetadata,
            };
            Failure::new(code, p.message)
                .field(p.field)
                .hint("correct the sidecar, then move the document and its sidecar back into the drop folder")
        })?;
        if let Some(m) = resolved.metadata.mime_type.as_deref()
            && !crate::outbox::ACCEPTED_MIME_TYPES.contains(&m)
        {
            return Err(unsupported(format!(
                "mime_type '{m}' is not a type the DSP takes"
            )));
        }
        // A PDF must look like one (a renamed image is not a document).
        if resolved.metadata.mime_type.as_deref() == Some("application/pdf") {
            let mut head = [0u8; 512];
            let n = fs::File::open(doc)
                .and_then(|mut f| f.read(&mut head))
                .map_err(|e| {
                    Failure::new(ErrorCode::Io, format!("cannot read the document: {e}"))
                })?;
            if sniff(&head[..n]) != Some("application/pdf") {
                return Err(unsupported(
                    "the file is named .pdf but its content is not a PDF (it does not start with %PDF-)"
                        .to_owned(),
                ));
            }
        }
        Ok(resolved)
    }

    fn inbox_defaults(&self) -> Result<Option<Sidecar>, Failure> {
        let path = self.dirs.inbox.join(DEFAULTS_FILE);
        match fs::symlink_metadata(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            _ => {}
        }
        let d = read_sidecar(&path).map_err(|f| Failure {
            reason: format!("inbox/{DEFAULTS_FILE}: {}", f.reason),
            hint: Some(format!(
                "correct inbox/{DEFAULTS_FILE}, then move the document back into its inbox folder"
            )),
            ..f
        })?;
        sidecar::check_defaults(&d).map_err(|p| {
            Failure::new(ErrorCode::BadMetadata, p.message)
                .field(p.field)
                .hint(format!("correct inbox/{DEFAULTS_FILE}, then move the document back into its inbox folder"))
        })?;
        Ok(Some(d))
    }

    /// Hands a claimed file (in `queued/`) to the outbox.
    async fn enqueue(
        &mut self,
        claim_id: &str,
        queued: &Path,
        prepared: sidecar::Resolved,
        owner: Owner,
    ) {
        let access = (self.access)(&owner, &prepared.metadata.patient);
        let request = EnqueueRequest {
            source: ContentSource::Path(queued.to_owned()),
            metadata: prepared.metadata,
            replaces: prepared.replaces,
            owner,
            access,
            context: self.context.borrow().clone(),
        };
        let origin = JobOrigin {
            statement_source: prepared.statement_source,
            drop_claim: Some(claim_id.to_owned()),
        };
        match self.outbox.enqueue_from(request, origin).await {
            Ok(job) => {
                if let Err(e) = self.journal.record_recoverable(Entry::Enqueued {
                    claim: claim_id.to_owned(),
                    job_id: job.job_id.clone(),
                    unique_id: job.unique_id.clone(),
                }) {
                    // The job carries the claim id: a restart finds it.
                    tracing::error!(error = %e, "drop-folder journal not written after the handoff");
                }
                let claimed = self.journal.open.get(claim_id).map(|c| c.sha256.clone());
                if let (Ok(record), Some(sha)) = (self.outbox.record(&job.job_id), claimed)
                    && record.content.sha256 != sha
                {
                    let _ = self.outbox.discard(&job.job_id);
                    self.fail_claim(
                        claim_id,
                        Failure::new(
                            ErrorCode::InvalidArgument,
                            "the file changed while it was being handed over",
                        )
                        .hint("write the file completely before it appears in the drop folder (close it, or write name.tmp and rename it)"),
                        None,
                    );
                }
            }
            Err(e) => {
                let failure = outbox_failure(&e);
                self.fail_claim(claim_id, failure, None);
            }
        }
    }

    // ------------------------------------------------------------ following jobs

    async fn on_job(&mut self, job: Job) {
        let Some(claim) = self.journal.claim_of_job(&job.job_id).cloned() else {
            return;
        };
        self.settle_job(&claim, &job);
        self.publish();
    }

    fn settle_job(&mut self, claim: &Claim, job: &Job) {
        match job.state {
            JobState::Done => self.finish_sent(claim, job),
            JobState::Failed | JobState::Conflict => {
                let failure = job_failure(job);
                self.fail_claim(&claim.claim, failure, Some(job.job_id.clone()));
                if let Err(e) = self.outbox.discard(&job.job_id) {
                    tracing::warn!(error = %e, "failed drop-folder job not discarded from the outbox");
                }
            }
            _ => {}
        }
    }

    fn finish_sent(&mut self, claim: &Claim, job: &Job) {
        let queued = self.dirs.queued.join(&claim.name);
        let name = if fs::symlink_metadata(&queued).is_ok() {
            let name = layout::free_name(&claim.name, &[&self.dirs.sent]);
            let sent = self.dirs.sent.join(&name);
            if let Err(e) = layout::move_file(&queued, &sent) {
                tracing::error!(error = %e, "sent document not moved to sent/; retried later");
                return;
            }
            let side = with_suffix(&queued, SIDECAR_SUFFIX);
            if fs::symlink_metadata(&side).is_ok() {
                let _ = layout::move_file(&side, &with_suffix(&sent, SIDECAR_SUFFIX));
            }
            name
        } else {
            // Moved before a crash, perhaps without its sidecar.
            let side = with_suffix(&queued, SIDECAR_SUFFIX);
            if fs::symlink_metadata(&side).is_ok() {
                let sent = self.dirs.sent.join(&claim.name);
                if let Err(e) = layout::move_file(&side, &with_suffix(&sent, SIDECAR_SUFFIX)) {
                    tracing::warn!(error = %e, "the sent document's sidecar stays in queued/");
                }
            }
            claim.name.clone()
        };
        let statement_source = self
            .outbox
            .record(&job.job_id)
            .map(|r| r.statement_source)
            .unwrap_or(claim.statement_source);
        let receipt = Receipt {
            file: claim.source.clone(),
            unique_id: job.unique_id.clone(),
            registered_at: Some(job.updated_at.clone()),
            patient: job.patient.clone(),
            title: Some(job.title.clone()),
            mode: Some(job.mode),
            statement_source,
            sha256: claim.sha256.clone(),
            job_id: Some(job.job_id.clone()),
            duplicate: false,
            note: None,
        };
        let path = with_suffix(&self.dirs.sent.join(&name), RECEIPT_SUFFIX);
        if let Err(e) = layout::write_report(&path, &receipt) {
            tracing::error!(error = %e, "receipt not written");
        }
        if let Err(e) = self.journal.record_recoverable(Entry::Sent {
            claim: claim.claim.clone(),
            sha256: claim.sha256.clone(),
            patient: claim.patient.clone(),
            unique_id: job.unique_id.clone(),
            at: OffsetDateTime::now_utc(),
        }) {
            tracing::error!(error = %e, "drop-folder journal not written after a send");
        }
        self.counters.sent += 1;
        tracing::info!(file = %claim.source, unique_id = %job.unique_id, "dropped document registered in the DSP");
    }

    /// After a restart or a lag: settles every open claim from the outbox.
    async fn reconcile(&mut self) {
        let claims: Vec<Claim> = self.journal.open.values().cloned().collect();
        for claim in claims {
            let job_id = match &claim.job {
                Some((job_id, _)) => Some(job_id.clone()),
                None => self.outbox.find_by_drop_claim(&claim.claim).map(|r| {
                    let job = r.to_job();
                    let _ = self.journal.record(Entry::Enqueued {
                        claim: claim.claim.clone(),
                        job_id: job.job_id.clone(),
                        unique_id: job.unique_id.clone(),
                    });
                    job.job_id
                }),
            };
            match job_id {
                Some(job_id) => match self.outbox.job(&job_id) {
                    Ok(job) => {
                        let claim = self.journal.open.get(&claim.claim).cloned().unwrap_or(claim);
                        self.settle_job(&claim, &job);
                    }
                    Err(_) => self.fail_claim(
                        &claim.claim,
                        Failure::new(
                            ErrorCode::UnknownJob,
                            format!("the outbox no longer has job {job_id} (discarded with dspctl, or removed long after it was registered)"),
                        )
                        .hint("check the patient's DSP: if the document is not there, move it back into the drop folder"),
                        Some(job_id),
                    ),
                },
                None => self.resume_claim(&claim).await,
            }
        }
        self.publish();
    }

    /// A claim the outbox never received (a crash between the claim and
    /// the enqueue).
    async fn resume_claim(&mut self, claim: &Claim) {
        let queued = self.dirs.queued.join(&claim.name);
        let source = self.dirs.root.join(&claim.source);
        if fs::symlink_metadata(&queued).is_err() {
            if fs::symlink_metadata(&source).is_ok() {
                // It never moved: it is taken again from where it is.
                let _ = self.journal.record(Entry::Abandoned {
                    claim: claim.claim.clone(),
                });
            } else {
                tracing::error!(file = %claim.source, "a claimed drop-folder file is neither in queued/ nor where it was dropped");
                let _ = self.journal.record(Entry::Failed {
                    claim: claim.claim.clone(),
                    at: OffsetDateTime::now_utc(),
                });
            }
            return;
        }
        let sidecar = with_suffix(&queued, SIDECAR_SUFFIX);
        if let Some(original) = &claim.sidecar {
            let original = self.dirs.root.join(original);
            if fs::symlink_metadata(&sidecar).is_err() && fs::symlink_metadata(&original).is_ok() {
                let _ = layout::move_file(&original, &sidecar);
            }
        }
        let folder = folder_of(&claim.source);
        let limit = self.outbox.policy().max_document_bytes;
        let side = fs::symlink_metadata(&sidecar)
            .is_ok()
            .then_some(sidecar.as_path());
        let prepared = match self.prepare(&queued, side, &folder, limit) {
            Ok(p) => p,
            Err(f) => {
                self.fail_claim(&claim.claim, f, None);
                return;
            }
        };
        let Some(owner) = self.owner.borrow().clone() else {
            // Enqueued at the next reconcile with a session; the file is
            // safe in queued/ meanwhile.
            return;
        };
        self.enqueue(&claim.claim, &queued, prepared, owner).await;
    }

    // ------------------------------------------------------------ failures

    /// Moves a claimed file (in `queued/`) to `failed/` with its report.
    fn fail_claim(&mut self, claim_id: &str, failure: Failure, job_id: Option<String>) {
        let Some(claim) = self.journal.open.get(claim_id).cloned() else {
            return;
        };
        let queued = self.dirs.queued.join(&claim.name);
        let side = with_suffix(&queued, SIDECAR_SUFFIX);
        let side = fs::symlink_metadata(&side).is_ok().then_some(side);
        if fs::symlink_metadata(&queued).is_ok() {
            self.move_to_failed(&queued, side.as_deref(), &claim.source, &failure, job_id);
        }
        if let Err(e) = self.journal.record(Entry::Failed {
            claim: claim_id.to_owned(),
            at: OffsetDateTime::now_utc(),
        }) {
            tracing::error!(error = %e, "drop-folder journal not written after a failure");
        }
    }

    /// Moves an unclaimed file (and its sidecar) to `failed/` with its report.
    fn fail_files(
        &mut self,
        path: &Path,
        sidecar: Option<&Path>,
        failure: Failure,
        job_id: Option<String>,
    ) {
        let original = display_name(path, &self.dirs.root);
        self.tracks.remove(path);
        self.move_to_failed(path, sidecar, &original, &failure, job_id);
    }

    fn move_to_failed(
        &mut self,
        path: &Path,
        sidecar: Option<&Path>,
        original: &str,
        failure: &Failure,
        job_id: Option<String>,
    ) {
        let lossy = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "unnamed".to_owned());
        let name = layout::free_name(&lossy, &[&self.dirs.failed]);
        let target = self.dirs.failed.join(&name);
        if let Err(e) = layout::move_file(path, &target) {
            tracing::error!(error = %e, file = %path.display(), "file not moved to failed/");
            return;
        }
        let original_side = sidecar.map(|s| display_name(s, &self.dirs.root));
        if let Some(s) = sidecar
            && let Err(e) = layout::move_file(s, &with_suffix(&target, SIDECAR_SUFFIX))
        {
            tracing::warn!(error = %e, "sidecar not moved to failed/ with its document");
        }
        let folder = Path::new(original)
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(|p| self.dirs.root.join(p))
            .unwrap_or_else(|| self.dirs.root.clone());
        let moved = match &original_side {
            Some(_) => format!("failed/{name} and failed/{name}{SIDECAR_SUFFIX}"),
            None => format!("failed/{name}"),
        };
        let resubmit = format!(
            "correct what the reason says, then move {moved} back into {} (keeping the names: \
             {}{}); it is then taken as a new document",
            folder.display(),
            Path::new(original)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            if original_side.is_some() {
                format!(
                    " and its sidecar {}",
                    with_suffix(Path::new(original), SIDECAR_SUFFIX)
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default()
                )
            } else {
                String::new()
            }
        );
        let report = ErrorReport {
            file: original.to_owned(),
            code: failure.code.name().to_owned(),
            reason: failure.reason.clone(),
            field: failure.field.clone(),
            hint: failure.hint.clone(),
            resubmit,
            failed_at: rfc3339(OffsetDateTime::now_utc()),
            job_id,
        };
        if let Err(e) = layout::write_report(&with_suffix(&target, ERROR_SUFFIX), &report) {
            tracing::error!(error = %e, "error report not written");
        }
        self.counters.failed += 1;
        self.counters.last_failure = Some(format!("{original}: {}", failure.reason));
        tracing::warn!(file = %original, code = failure.code.name(), reason = %failure.reason, "dropped file moved to failed/");
    }

    /// Moves a duplicate to `sent/` with a receipt that says so.
    fn duplicate(&mut self, doc: &Path, sidecar: Option<&Path>, receipt: &Receipt) {
        let Some(doc_name) = doc.file_name().and_then(|n| n.to_str()) else {
            return;
        };
        let name = layout::free_name(doc_name, &[&self.dirs.sent]);
        let target = self.dirs.sent.join(&name);
        if let Err(e) = layout::move_file(doc, &target) {
            tracing::error!(error = %e, "duplicate not moved to sent/");
            return;
        }
        if let Some(s) = sidecar {
            let _ = layout::move_file(s, &with_suffix(&target, SIDECAR_SUFFIX));
        }
        if let Err(e) = layout::write_report(&with_suffix(&target, RECEIPT_SUFFIX), receipt) {
            tracing::error!(error = %e, "receipt not written");
        }
        self.tracks.remove(doc);
        self.counters.sent += 1;
        tracing::info!(file = %receipt.file, "dropped document is a duplicate; not sent again");
    }
}

enum Handoff {
    Done,
    WaitSession,
    Changed,
}

/// Lists one folder (the drop folder or an inbox sub-folder).
fn scan_dir(dir: &Path, reserved: &[&str], root: bool, folder: &Folder, out: &mut Vec<Candidate>) {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(error = %e, folder = %dir.display(), "drop folder not readable");
            return;
        }
    };
    let mut documents: BTreeMap<PathBuf, ()> = BTreeMap::new();
    let mut sidecars: HashSet<PathBuf> = HashSet::new();
    let mut in_progress: Vec<String> = Vec::new();
    let mut symlinks: Vec<PathBuf> = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let path = entry.path();
        if name.to_str().is_some_and(|n| reserved.contains(&n)) {
            continue;
        }
        if is_in_progress(&name) {
            if let Some(n) = name.to_str() {
                in_progress.push(n.to_owned());
            }
            continue;
        }
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.file_type().is_symlink() {
            symlinks.push(path);
            continue;
        }
        if meta.is_dir() {
            out.push(Candidate::Reject {
                path,
                sidecar: None,
                failure: Failure::new(ErrorCode::NotAFile, "a folder is not a document").hint(
                    if root {
                        "drop files, not folders; a patient's folder belongs in inbox/<matricule>/"
                    } else {
                        "drop the files themselves into inbox/<matricule>/, not a folder"
                    },
                ),
                immediate: false,
            });
            continue;
        }
        if !meta.is_file() {
            out.push(Candidate::Reject {
                path,
                sidecar: None,
                failure: Failure::new(
                    ErrorCode::NotAFile,
                    "not a regular file (a pipe, socket or device)",
                ),
                immediate: true,
            });
            continue;
        }
        let Some(text) = name.to_str() else {
            out.push(Candidate::Reject {
                path,
                sidecar: None,
                failure: Failure::new(
                    ErrorCode::InvalidUtf8,
                    format!(
                        "the file name is not valid UTF-8 ({}): it cannot be a document title or sidecar name",
                        name.to_string_lossy()
                    ),
                )
                .hint("rename the file with a UTF-8 name (the program that wrote it may use another encoding)"),
                immediate: false,
            });
            continue;
        };
        if text.ends_with(SIDECAR_SUFFIX) {
            sidecars.insert(path);
        } else {
            documents.insert(path, ());
        }
    }
    for link in symlinks {
        // A symlinked sidecar is refused with its document, and the reverse.
        if link.to_str().is_some_and(|n| n.ends_with(SIDECAR_SUFFIX)) {
            let doc = sidecar_document(&link);
            if documents.remove(&doc).is_some() {
                out.push(Candidate::Reject {
                    path: doc,
                    sidecar: Some(link),
                    failure: Failure::new(
                        ErrorCode::NotAFile,
                        "its sidecar is a symbolic link, which is not taken: it could point outside the drop folder",
                    )
                    .hint("write the sidecar itself into the drop folder"),
                    immediate: true,
                });
                continue;
            }
        }
        let side = with_suffix(&link, SIDECAR_SUFFIX);
        let pair = sidecars.remove(&side).then_some(side);
        out.push(Candidate::Reject {
            path: link,
            sidecar: pair,
            failure: symlink_failure(),
            immediate: true,
        });
    }
    for doc in documents.into_keys() {
        let side = with_suffix(&doc, SIDECAR_SUFFIX);
        // A listing taken while files are added may miss some: the
        // sidecar is looked for by name too.
        let sidecar = (sidecars.remove(&side)
            || fs::symlink_metadata(&side).is_ok_and(|m| m.is_file()))
        .then_some(side);
        if sidecar::mime_for(&doc).is_none() {
            let ext = doc
                .extension()
                .map(|e| e.to_string_lossy().into_owned())
                .unwrap_or_default();
            let accepted: Vec<&str> = sidecar::EXTENSIONS.iter().map(|(e, _)| *e).collect();
            out.push(Candidate::Reject {
                path: doc,
                sidecar,
                failure: Failure::new(
                    ErrorCode::UnsupportedMimeType,
                    format!(
                        "unsupported type '{ext}': the DSP takes {}",
                        accepted.join(", ")
                    ),
                )
                .hint("print or export the document as PDF"),
                immediate: false,
            });
            continue;
        }
        out.push(Candidate::Doc {
            doc,
            sidecar,
            folder: folder.clone(),
        });
    }
    let mut orphans: Vec<PathBuf> = sidecars.into_iter().collect();
    orphans.sort();
    for sidecar in orphans {
        // Its document is still being written under a temporary name.
        let doc = sidecar_document(&sidecar);
        let doc_name = doc.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if !doc_name.is_empty() && in_progress.iter().any(|n| n.starts_with(doc_name)) {
            continue;
        }
        out.push(Candidate::OrphanSidecar { sidecar });
    }
}

/// Whether group or others may write to a folder.
#[cfg(unix)]
fn shared_dir(meta: &fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o022 != 0
}

#[cfg(not(unix))]
fn shared_dir(_meta: &fs::Metadata) -> bool {
    false
}

/// Names being written, by convention, or hidden: not looked at.
fn is_in_progress(name: &std::ffi::OsStr) -> bool {
    let Some(n) = name.to_str() else {
        return false;
    };
    let lower = n.to_ascii_lowercase();
    n.starts_with('.')
        || n.starts_with("~$")
        || n.ends_with('~')
        || [".tmp", ".part", ".partial", ".crdownload", ".swp"]
            .iter()
            .any(|s| lower.ends_with(s))
}

fn symlink_failure() -> Failure {
    Failure::new(
        ErrorCode::NotAFile,
        "a symbolic link is not taken: it could point outside the drop folder",
    )
    .hint("copy the document itself into the drop folder")
}

fn unsupported(reason: String) -> Failure {
    Failure::new(ErrorCode::UnsupportedMimeType, reason)
        .hint("print or export the document as PDF, then drop it again")
}

fn sidecar_document(sidecar: &Path) -> PathBuf {
    let name = sidecar
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(SIDECAR_SUFFIX))
        .unwrap_or_default()
        .to_owned();
    sidecar.with_file_name(name)
}

fn folder_of(source: &str) -> Folder {
    let parts: Vec<&str> = source.split('/').collect();
    match parts.as_slice() {
        [INBOX, patient, _file] => Folder::Inbox((*patient).to_owned()),
        _ => Folder::Root,
    }
}

/// Reads a sidecar: a regular file (no symlink), small, valid JSON.
fn read_sidecar(path: &Path) -> Result<Sidecar, Failure> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let meta = fs::symlink_metadata(path)
        .map_err(|e| Failure::new(ErrorCode::Io, format!("cannot read {name}: {e}")))?;
    if !meta.is_file() {
        return Err(Failure::new(
            ErrorCode::NotAFile,
            format!("{name} is not a regular file (a symbolic link or a folder)"),
        ));
    }
    if meta.len() > MAX_SIDECAR_BYTES {
        return Err(Failure::new(
            ErrorCode::BadMetadata,
            format!(
                "{name} has {} bytes; a sidecar is at most {MAX_SIDECAR_BYTES}",
                meta.len()
            ),
        ));
    }
    let bytes = fs::read(path)
        .map_err(|e| Failure::new(ErrorCode::Io, format!("cannot read {name}: {e}")))?;
    sidecar::parse(&bytes, &name).map_err(|p| {
        Failure::new(ErrorCode::BadMetadata, p.message)
            .field(p.field)
            .hint("correct the sidecar (docs/drop-folder.md lists its fields), then move the document and its sidecar back into the drop folder")
    })
}

/// SHA-256 (hex), size and modification time of a file, read once.
fn hash_file(path: &Path) -> io::Result<(String, u64, Option<SystemTime>)> {
    let mut file = fs::File::open(path)?;
    let before = file.metadata()?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut len = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        len += n as u64;
        hasher.update(&buf[..n]);
    }
    let digest = hasher.finalize();
    let hex = digest.iter().map(|b| format!("{b:02x}")).collect();
    let _ = before;
    Ok((hex, len, file.metadata()?.modified().ok()))
}

fn outbox_failure(e: &OutboxError) -> Failure {
    let code = e.code();
    let hint = match code {
        ErrorCode::BadMatricule | ErrorCode::BadMetadata | ErrorCode::MissingPatientStatement => {
            "correct the sidecar, then move the document and its sidecar back into the drop folder"
        }
        ErrorCode::UnsupportedMimeType => "print or export the document as PDF, then drop it again",
        ErrorCode::FileTooLarge => "reduce the document's size, or raise outbox.max_document_bytes",
        _ => {
            "move the document back into the drop folder to try again; if it fails again, see the daemon's log"
        }
    };
    Failure::new(code, e.to_string())
        .field(
            e.field()
                .map(|f| f.trim_start_matches("metadata.").to_owned()),
        )
        .hint(hint)
}

/// The failure of a job, with the access hint where the platform refused
/// access to the patient.
fn job_failure(job: &Job) -> Failure {
    let (code, message, hint) = match &job.error {
        Some(e) => (e.code, e.message.clone(), e.hint.clone()),
        None => (
            ErrorCode::Platform,
            format!("the upload ended as {:?}", job.state),
            None,
        ),
    };
    match code {
        ErrorCode::AccessDenied | ErrorCode::GrantExpired => Failure::new(
            code,
            format!(
                "you have no access to patient {}'s DSP (not the médecin référent, not in the \
                 cercle de confiance, and no current consultation grant): {message}",
                job.patient
            ),
        )
        .hint(format!(
            "ask the patient for the code de présence and run `dspctl access {}` (the code is \
             asked for, never read from a file), then move the document and its sidecar back \
             into the drop folder",
            job.patient
        )),
        ErrorCode::Conflict => Failure::new(code, message).hint(hint.unwrap_or_else(|| {
            "the DSP holds a different document under this uniqueId; check the patient's DSP \
             before moving the document back"
                .to_owned()
        })),
        _ => Failure::new(code, message).hint(hint.unwrap_or_else(|| {
            "move the document and its sidecar back into the drop folder to try again".to_owned()
        })),
    }
}
