//! The durable outbox: a document handed to the daemon reaches the DSP
//! exactly once, whatever fails in between.
//!
//! - [`Outbox::enqueue`] copies the content into the spool (hashing it on
//!   the way), writes the job record, fsyncs and renames the job into
//!   place; only then does it return, and only then may the IPC answer.
//! - The job's document uniqueId, submission-set uniqueId and entry UUIDs
//!   are fixed at enqueue, so a retry after an unknown outcome resends the
//!   same submission and the registry's duplicate answer settles it.
//! - [`Outbox::spawn_scheduler`] uploads, for the professional whose
//!   session is authenticated, that professional's due jobs in order,
//!   through an [`Uploader`]; each failure is decided by the
//!   [`retry_table`].
//! - Every state change is an IPC [`Job`] on a broadcast channel
//!   ([`Outbox::subscribe`]); [`Outbox::wait`] serves `job.wait`.
//!
//! Layout, states and the user's operations are in `docs/outbox.md`.

mod error;
mod metadata;
mod record;
pub mod retry_table;
mod scheduler;
mod spool;
mod uploader;
mod uploads;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use dspconnect::ErrorCode;
use dspconnect::ipc::protocol::{
    ErrorInfo, Job, JobState, OutboxSummary, PushMetadata, UploadCommitted,
};
use time::OffsetDateTime;
use tokio::sync::{Notify, broadcast};
use uuid::Uuid;

use crate::audit::{
    AuditAction, AuditLog, AuditOutcome, AuditRecord, DocumentUniqueId, EHealthId, PatientMatricule,
};
use crate::config::OutboxConfig;

pub use error::OutboxError;
pub use metadata::{ACCEPTED_MIME_TYPES, DocumentMetadata, ResolveContext, sniff};
pub use record::{
    AccessBasis, ContentInfo, EntryUuids, JobRecord, Owner, StatementSource, new_unique_id,
};
pub use scheduler::SchedulerHandle;
pub use uploader::{
    PlatformFault, ReadBackOutcome, RegisteredEntry, TransportFailure, UploadFailure,
    UploadOutcome, Uploader,
};

use spool::Spool;
use uploads::UploadStore;

/// Capacity of the job-event channel; a subscriber that falls further
/// behind sees `Lagged` and re-reads the states it cares about.
const EVENT_CAPACITY: usize = 256;

/// The limits and timers the outbox applies; replaceable live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxPolicy {
    pub max_document_bytes: u64,
    pub retry_base: Duration,
    pub retry_max: Duration,
    pub max_attempts_for_retryable: u32,
    pub keep_done: Duration,
    pub upload_expiry: Duration,
    /// Uploads under way at once (at least 1).
    pub parallel_uploads: usize,
}

impl OutboxPolicy {
    pub fn from_config(c: &OutboxConfig) -> OutboxPolicy {
        OutboxPolicy {
            max_document_bytes: c.max_document_bytes,
            retry_base: Duration::from_secs(c.retry_base_seconds.into()),
            retry_max: Duration::from_secs(c.retry_max_seconds.into()),
            max_attempts_for_retryable: c.max_attempts_for_retryable,
            keep_done: Duration::from_secs(u64::from(c.keep_done_hours) * 3600),
            upload_expiry: Duration::from_secs(u64::from(c.upload_expiry_minutes) * 60),
            parallel_uploads: c.parallel_uploads.max(1) as usize,
        }
    }

    /// Delay before the attempt after `attempts` attempts: the base doubled
    /// per attempt, capped, plus up to 10 % so that many workstations
    /// retrying after an outage do not all come back at once.
    pub fn backoff(&self, attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(30);
        let delay = self
            .retry_base
            .saturating_mul(1u32 << doublings)
            .min(self.retry_max);
        let jitter_permille = u32::try_from(Uuid::new_v4().as_u128() % 101).unwrap_or(0);
        delay + delay * jitter_permille / 1000
    }
}

/// Where a pushed document's content comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContentSource {
    /// A file the daemon copies (absolute path).
    Path(PathBuf),
    /// Content given inline (base64 already decoded by the IPC layer).
    Bytes(Vec<u8>),
    /// A committed chunked upload, by id.
    Upload(String),
}

/// Everything a push or replace hands to the outbox.
#[derive(Debug, Clone)]
pub struct EnqueueRequest {
    pub source: ContentSource,
    pub metadata: PushMetadata,
    /// uniqueId of the document replaced (RPLC), for `document.replace`.
    pub replaces: Option<String>,
    /// The professional of the session that pushes.
    pub owner: Owner,
    /// The consultation grant the access rests on, when it is a presence code.
    pub access: Option<AccessBasis>,
    /// The platform profile's codes and defaults at the time of the push.
    pub context: ResolveContext,
}

/// Where a job comes from, beyond the request itself (kept in its record).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobOrigin {
    pub statement_source: StatementSource,
    /// The drop folder's claim id (see [`Outbox::find_by_drop_claim`]).
    pub drop_claim: Option<String>,
}

/// The outbox. Cheap to clone; all clones share one spool.
#[derive(Clone)]
pub struct Outbox {
    inner: Arc<Inner>,
}

struct Inner {
    spool: Spool,
    uploads: UploadStore,
    state: Mutex<State>,
    events: broadcast::Sender<Job>,
    /// Wakes the scheduler when a job arrives or a policy changes.
    wake: Notify,
    policy: Mutex<OutboxPolicy>,
    audit: Option<Arc<AuditLog>>,
    damaged: Vec<String>,
}

struct State {
    jobs: BTreeMap<Uuid, JobRecord>,
    next_sequence: u64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave a record half-changed:
    // records are replaced whole, after the spool write succeeded.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Outbox {
    /// Opens the spool (creating it 0700; refusing one other users can
    /// use), removes what a crash left unfinished, and loads every job. A
    /// job found `Uploading` had an unknown outcome: it is queued again and
    /// will be resent with the same uniqueId.
    pub fn open(
        spool_dir: &Path,
        policy: OutboxPolicy,
        audit: Option<Arc<AuditLog>>,
    ) -> Result<Outbox, OutboxError> {
        let spool = Spool::open(spool_dir)?;
        let loaded = spool.recover()?;
        let now = OffsetDateTime::now_utc();
        let mut jobs = BTreeMap::new();
        let mut next_sequence = 0;
        for mut record in loaded.records {
            if record.state == JobState::Uploading {
                record.state = JobState::Queued;
                record.outcome_unknown = true;
                record.last_error = Some(ErrorInfo {
                    code: ErrorCode::PlatformUnreachable,
                    message: "the daemon stopped during an upload; whether the platform \
                              registered the document is unknown"
                        .to_owned(),
                    hint: Some(
                        "nothing to do: it is sent again with the same uniqueId, and the \
                         platform's duplicate answer settles it"
                            .to_owned(),
                    ),
                });
                record.updated_at = now;
                spool.save(&record)?;
            }
            if record.state == JobState::Done {
                // A crash between recording Done and removing the content.
                spool.remove_content(record.job_id)?;
            }
            next_sequence = next_sequence.max(record.sequence + 1);
            jobs.insert(record.job_id, record);
        }
        let damaged: Vec<String> = loaded.damaged.iter().map(ToString::to_string).collect();
        for problem in &damaged {
            tracing::error!(%problem, "outbox job left in place, not loaded");
        }
        let uploads = UploadStore::new(spool.uploads_dir());
        uploads.expire(SystemTime::now(), policy.upload_expiry)?;
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        Ok(Outbox {
            inner: Arc::new(Inner {
                spool,
                uploads,
                state: Mutex::new(State {
                    jobs,
                    next_sequence,
                }),
                events,
                wake: Notify::new(),
                policy: Mutex::new(policy),
                audit,
                damaged,
            }),
        })
    }

    /// The spool folder.
    pub fn spool_dir(&self) -> &Path {
        self.inner.spool.root()
    }

    /// Job folders found unreadable at open (left in place).
    pub fn damaged(&self) -> &[String] {
        &self.inner.damaged
    }

    pub fn policy(&self) -> OutboxPolicy {
        lock(&self.inner.policy).clone()
    }

    /// Applies a new policy (live configuration reload).
    pub fn set_policy(&self, policy: OutboxPolicy) {
        *lock(&self.inner.policy) = policy;
        self.inner.wake.notify_one();
    }

    /// Job state changes, as the IPC `Job`.
    pub fn subscribe(&self) -> broadcast::Receiver<Job> {
        self.inner.events.subscribe()
    }

    // ------------------------------------------------------------ enqueue

    /// Spools a document durably and returns its job (state Queued). The
    /// metadata is checked before any content is copied.
    pub async fn enqueue(&self, request: EnqueueRequest) -> Result<Job, OutboxError> {
        self.enqueue_from(request, JobOrigin::default()).await
    }

    /// [`Outbox::enqueue`], recording where the job comes from (the drop
    /// folder: the statement's source and its claim id).
    pub async fn enqueue_from(
        &self,
        request: EnqueueRequest,
        origin: JobOrigin,
    ) -> Result<Job, OutboxError> {
        let now = OffsetDateTime::now_utc();
        let checked = metadata::check(&request.metadata, &request.context, now)?;
        if let Some(replaced) = &request.replaces
            && !is_unique_id(replaced)
        {
            return Err(OutboxError::BadMetadata {
                field: "replaces",
                problem: format!("'{replaced}' is not a document uniqueId"),
            });
        }
        let limit = self.policy().max_document_bytes;
        let job_id = Uuid::new_v4();
        let inner = Arc::clone(&self.inner);
        let source = request.source.clone();
        let staged = blocking(move || stage(&inner, job_id, source, limit)).await?;
        let metadata = match checked.finish(&staged.head) {
            Ok(m) => m,
            Err(e) => {
                self.inner.spool.discard_staged(staged);
                return Err(e);
            }
        };
        let sequence = {
            let mut state = lock(&self.inner.state);
            let s = state.next_sequence;
            state.next_sequence += 1;
            s
        };
        let root = request.context.unique_id_root.as_deref();
        let record = JobRecord {
            version: record::RECORD_VERSION,
            job_id,
            sequence,
            document_unique_id: new_unique_id(root),
            submission_set_unique_id: new_unique_id(root),
            entry_uuids: EntryUuids {
                document_entry: Uuid::new_v4(),
                submission_set: Uuid::new_v4(),
                has_member: Uuid::new_v4(),
                replacement: request.replaces.as_ref().map(|_| Uuid::new_v4()),
            },
            metadata,
            replaces: request.replaces.clone(),
            owner: request.owner.clone(),
            access: request.access.clone(),
            content: staged.content.clone(),
            state: JobState::Queued,
            attempts: 0,
            outcome_unknown: false,
            next_attempt_at: None,
            last_error: None,
            created_at: now,
            updated_at: now,
            finished_at: None,
            statement_source: origin.statement_source,
            drop_claim: origin.drop_claim,
        };
        let inner = Arc::clone(&self.inner);
        let to_commit = record.clone();
        blocking(move || {
            let result = inner.spool.commit(&staged, &to_commit);
            if result.is_err() {
                inner.spool.discard_staged(staged);
            }
            result
        })
        .await?;
        if let ContentSource::Upload(id) = &request.source
            && let Err(e) = self.inner.uploads.remove(id)
        {
            tracing::warn!(error = %e, "used upload not removed; it expires later");
        }
        let job = record.to_job();
        lock(&self.inner.state).jobs.insert(job_id, record.clone());
        let _ = self.inner.events.send(job.clone());
        self.inner.wake.notify_one();
        let action = if record.replaces.is_some() {
            AuditAction::DocumentReplace
        } else {
            AuditAction::DocumentPush
        };
        self.audit(&record, action, AuditOutcome::Accepted, None);
        Ok(job)
    }

    // ------------------------------------------------------------ reading

    fn parse_id(id: &str) -> Result<Uuid, OutboxError> {
        Uuid::parse_str(id).map_err(|_| OutboxError::UnknownJob(id.to_owned()))
    }

    fn record_by_uuid(&self, id: Uuid) -> Result<JobRecord, OutboxError> {
        lock(&self.inner.state)
            .jobs
            .get(&id)
            .cloned()
            .ok_or_else(|| OutboxError::UnknownJob(id.to_string()))
    }

    /// A job's record (the uploader's view).
    pub fn record(&self, job_id: &str) -> Result<JobRecord, OutboxError> {
        self.record_by_uuid(Self::parse_id(job_id)?)
    }

    /// Where a job's spooled content is (what the uploader streams).
    pub fn content_path(&self, job_id: &str) -> Result<PathBuf, OutboxError> {
        Ok(self.inner.spool.content_path(Self::parse_id(job_id)?))
    }

    /// A job (`job.status`).
    pub fn job(&self, job_id: &str) -> Result<Job, OutboxError> {
        self.record(job_id).map(|r| r.to_job())
    }

    /// The job the drop folder handed over under `claim`, if the outbox has it.
    pub fn find_by_drop_claim(&self, claim: &str) -> Option<JobRecord> {
        lock(&self.inner.state)
            .jobs
            .values()
            .find(|r| r.drop_claim.as_deref() == Some(claim))
            .cloned()
    }

    /// Every job, in enqueue order (`job.list`).
    pub fn jobs(&self) -> Vec<Job> {
        let state = lock(&self.inner.state);
        let mut records: Vec<&JobRecord> = state.jobs.values().collect();
        records.sort_by_key(|r| r.sequence);
        records.into_iter().map(JobRecord::to_job).collect()
    }

    /// Counts by state (`status`).
    pub fn summary(&self) -> OutboxSummary {
        let state = lock(&self.inner.state);
        let mut s = OutboxSummary::default();
        for r in state.jobs.values() {
            match r.state {
                JobState::Queued => s.queued += 1,
                JobState::Uploading => s.uploading += 1,
                JobState::WaitingForSession | JobState::RetryWaiting => s.waiting += 1,
                JobState::Failed | JobState::Conflict => s.failed += 1,
                JobState::Done => s.done += 1,
            }
        }
        s
    }

    /// Waits until the job reaches a final state or `timeout` passes, and
    /// returns its state either way (`job.wait`).
    pub async fn wait(&self, job_id: &str, timeout: Duration) -> Result<Job, OutboxError> {
        let id = Self::parse_id(job_id)?;
        let mut events = self.subscribe();
        let current = self.record_by_uuid(id)?.to_job();
        if current.state.is_final() {
            return Ok(current);
        }
        let wanted = id.to_string();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, events.recv()).await {
                Ok(Ok(job)) if job.job_id == wanted && job.state.is_final() => return Ok(job),
                Ok(Ok(_)) => {}
                Ok(Err(broadcast::error::RecvError::Lagged(_))) => {
                    let job = self.record_by_uuid(id)?.to_job();
                    if job.state.is_final() {
                        return Ok(job);
                    }
                }
                Ok(Err(broadcast::error::RecvError::Closed)) | Err(_) => {
                    return self.record_by_uuid(id).map(|r| r.to_job());
                }
            }
        }
    }

    // ------------------------------------------------------------ user operations

    /// Sends a failed job again (or a waiting one now). `access` replaces
    /// the job's access basis, for a job that failed because its
    /// consultation grant expired. A conflict is never resent under the
    /// same uniqueId; a registered job has nothing to retry.
    pub fn retry(&self, job_id: &str, access: Option<AccessBasis>) -> Result<Job, OutboxError> {
        let id = Self::parse_id(job_id)?;
        let record = self.record_by_uuid(id)?;
        let refuse = |why| OutboxError::NotRetryable {
            job_id: job_id.to_owned(),
            state: record.state,
            why,
        };
        match record.state {
            JobState::Uploading => {
                return Err(OutboxError::JobBusy {
                    job_id: job_id.to_owned(),
                });
            }
            JobState::Done => return Err(refuse("it is registered in the DSP already")),
            JobState::Conflict => {
                return Err(refuse(
                    "the DSP holds a different document under its uniqueId; it is never \
                     overwritten: check the DSP, discard this job, and push the document again \
                     if it is still needed",
                ));
            }
            JobState::Failed
            | JobState::Queued
            | JobState::RetryWaiting
            | JobState::WaitingForSession => {}
        }
        let content = self.inner.spool.content_path(id);
        if !content.is_file() {
            return Err(OutboxError::Corrupt {
                path: content,
                problem: "the job's content is missing; discard the job and push again".into(),
            });
        }
        let updated = self.update(id, |r| {
            if r.state == JobState::Failed {
                r.attempts = 0;
                r.last_error = None;
                r.finished_at = None;
            }
            r.state = JobState::Queued;
            r.next_attempt_at = None;
            if let Some(a) = access {
                r.access = Some(a);
            }
        })?;
        self.audit(
            &updated,
            AuditAction::JobRetry,
            AuditOutcome::Accepted,
            None,
        );
        self.inner.wake.notify_one();
        Ok(updated.to_job())
    }

    /// Removes a job and its content, whatever its state, except while it
    /// is being uploaded.
    pub fn discard(&self, job_id: &str) -> Result<(), OutboxError> {
        let id = Self::parse_id(job_id)?;
        let removed = {
            let mut state = lock(&self.inner.state);
            let record = state
                .jobs
                .get(&id)
                .ok_or_else(|| OutboxError::UnknownJob(job_id.to_owned()))?;
            if record.state == JobState::Uploading {
                return Err(OutboxError::JobBusy {
                    job_id: job_id.to_owned(),
                });
            }
            self.inner.spool.remove_job(id)?;
            state.jobs.remove(&id)
        };
        if let Some(record) = removed {
            self.audit(&record, AuditAction::JobDiscard, AuditOutcome::Ok, None);
        }
        Ok(())
    }

    /// Removes registered jobs older than `keep_done` and expired uploads.
    /// The scheduler runs it periodically.
    pub fn housekeeping(&self, now: OffsetDateTime) -> Result<(), OutboxError> {
        let policy = self.policy();
        let keep = time::Duration::try_from(policy.keep_done).unwrap_or(time::Duration::MAX);
        {
            let mut state = lock(&self.inner.state);
            let expired: Vec<Uuid> = state
                .jobs
                .values()
                .filter(|r| {
                    r.state == JobState::Done && r.finished_at.is_some_and(|t| t + keep <= now)
                })
                .map(|r| r.job_id)
                .collect();
            for id in expired {
                self.inner.spool.remove_job(id)?;
                state.jobs.remove(&id);
            }
        }
        self.inner
            .uploads
            .expire(SystemTime::now(), policy.upload_expiry)?;
        Ok(())
    }

    // ------------------------------------------------------------ chunked uploads

    /// `document.upload_begin`: returns the upload id.
    pub async fn upload_begin(&self, size: u64) -> Result<String, OutboxError> {
        let limit = self.policy().max_document_bytes;
        let inner = Arc::clone(&self.inner);
        blocking(move || inner.uploads.begin(size, limit)).await
    }

    /// `document.upload_chunk`: appends at `offset`; returns the bytes received.
    pub async fn upload_append(
        &self,
        upload_id: &str,
        offset: u64,
        data: Vec<u8>,
    ) -> Result<u64, OutboxError> {
        let inner = Arc::clone(&self.inner);
        let id = upload_id.to_owned();
        blocking(move || inner.uploads.append(&id, offset, &data)).await
    }

    /// `document.upload_commit`: checks size and SHA-256.
    pub async fn upload_commit(
        &self,
        upload_id: &str,
        sha256: &str,
    ) -> Result<UploadCommitted, OutboxError> {
        let inner = Arc::clone(&self.inner);
        let id = upload_id.to_owned();
        let sha = sha256.to_owned();
        let info = blocking(move || inner.uploads.commit(&id, &sha)).await?;
        Ok(UploadCommitted {
            upload_id: upload_id.to_owned(),
            size: info.size,
        })
    }

    // ------------------------------------------------------------ internals

    /// Changes a job: the spool first, then memory, then an event. The
    /// record write (a few KiB, two fsyncs) is done in place, under the
    /// lock, so that memory never runs ahead of the disk.
    fn update(
        &self,
        id: Uuid,
        change: impl FnOnce(&mut JobRecord),
    ) -> Result<JobRecord, OutboxError> {
        self.update_with(id, Durability::Flushed, change)
    }

    fn update_with(
        &self,
        id: Uuid,
        durability: Durability,
        change: impl FnOnce(&mut JobRecord),
    ) -> Result<JobRecord, OutboxError> {
        let next = self.store(id, durability, change)?;
        self.announce(&next);
        Ok(next)
    }

    /// Tells waiters and subscribers of a job's new state.
    fn announce(&self, record: &JobRecord) {
        let _ = self.inner.events.send(record.to_job());
    }

    /// Changes a job on disk and in memory without announcing it (the
    /// caller does, once what goes with the change is done too).
    fn store(
        &self,
        id: Uuid,
        durability: Durability,
        change: impl FnOnce(&mut JobRecord),
    ) -> Result<JobRecord, OutboxError> {
        let mut state = lock(&self.inner.state);
        let current = state
            .jobs
            .get(&id)
            .ok_or_else(|| OutboxError::UnknownJob(id.to_string()))?;
        let mut next = current.clone();
        change(&mut next);
        next.updated_at = OffsetDateTime::now_utc();
        match durability {
            Durability::Flushed => self.inner.spool.save(&next)?,
            Durability::Progress => self.inner.spool.save_progress(&next)?,
            Durability::MemoryOnly => {}
        }
        state.jobs.insert(id, next.clone());
        Ok(next)
    }

    fn audit(
        &self,
        record: &JobRecord,
        action: AuditAction,
        outcome: AuditOutcome,
        error_code: Option<ErrorCode>,
    ) {
        let Some(log) = &self.inner.audit else {
            return;
        };
        let entry = AuditRecord {
            professional: EHealthId::new(record.owner.ehealth_id.clone()).ok(),
            patient: PatientMatricule::new(record.metadata.patient.clone()).ok(),
            document_unique_id: DocumentUniqueId::new(record.document_unique_id.clone()).ok(),
            job_id: Some(record.job_id),
            mode: Some(record.metadata.mode),
            error_code,
            ..AuditRecord::now(action, outcome)
        };
        if let Err(e) = log.record(&entry) {
            tracing::error!(error = %e, "audit record not written");
        }
    }
}

/// How far a job record's change is flushed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Durability {
    /// Record and folder: the change survives a crash.
    Flushed,
    /// The record's bytes only: after a crash the change may be undone,
    /// which is safe for the scheduler's done step.
    Progress,
    /// Not written: a crash undoes it, which is safe for the start of an
    /// upload (the job is resent under the same uniqueId).
    MemoryOnly,
}

/// Copies or moves the content into `tmp/<job_id>/`.
fn stage(
    inner: &Inner,
    job_id: Uuid,
    source: ContentSource,
    limit: u64,
) -> Result<spool::Staged, OutboxError> {
    match source {
        ContentSource::Path(path) => {
            let mut file = open_source(&path, limit)?;
            inner.spool.stage_copy(job_id, &mut file, limit)
        }
        ContentSource::Bytes(bytes) => {
            if bytes.len() as u64 > limit {
                return Err(OutboxError::SourceTooLarge {
                    size: Some(bytes.len() as u64),
                    limit,
                });
            }
            inner.spool.stage_copy(job_id, &mut bytes.as_slice(), limit)
        }
        ContentSource::Upload(id) => {
            let upload = inner.uploads.committed(&id)?;
            if upload.content.size > limit {
                return Err(OutboxError::SourceTooLarge {
                    size: Some(upload.content.size),
                    limit,
                });
            }
            inner
                .spool
                .stage_move(job_id, &upload.content_path, upload.content, upload.head)
        }
    }
}

/// Opens a file to push, with a specific error for each way it can be wrong.
fn open_source(path: &Path, limit: u64) -> Result<fs::File, OutboxError> {
    if !path.is_absolute() {
        return Err(OutboxError::PathNotAbsolute {
            path: path.to_owned(),
        });
    }
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(OutboxError::SourceNotFound {
                path: path.to_owned(),
            });
        }
        Err(source) => {
            return Err(OutboxError::SourceUnreadable {
                path: path.to_owned(),
                source,
            });
        }
    };
    if !meta.is_file() {
        return Err(OutboxError::SourceNotAFile {
            path: path.to_owned(),
        });
    }
    if meta.len() == 0 {
        return Err(OutboxError::SourceEmpty);
    }
    if meta.len() > limit {
        return Err(OutboxError::SourceTooLarge {
            size: Some(meta.len()),
            limit,
        });
    }
    fs::File::open(path).map_err(|source| OutboxError::SourceUnreadable {
        path: path.to_owned(),
        source,
    })
}

fn is_unique_id(s: &str) -> bool {
    (1..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'^' | b'-' | b'_' | b':'))
}

/// Runs blocking spool work off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, OutboxError> + Send + 'static,
) -> Result<T, OutboxError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| OutboxError::Internal(format!("spool task failed: {e}")))?
}

#[cfg(test)]
mod tests;
