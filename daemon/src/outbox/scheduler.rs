//! The upload scheduler: one task that, for the professional whose
//! session is authenticated, starts that professional's due jobs in
//! enqueue order, up to `outbox.parallel_uploads` at once (with a distant
//! platform one upload waits for its answer while the next is sent), and
//! applies the retry table to each failure. A replacement waits until the
//! document it replaces is registered.
//!
//! The session layer feeds it a `watch` channel of `Option<Owner>`: `Some`
//! while a card session is authenticated (eHealth id and certificate
//! fingerprint), `None` otherwise. Publishing again (even the same value)
//! after renewing a refused assertion resumes uploads that waited for it.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use dspconnect::ErrorCode;
use dspconnect::ipc::protocol::{ErrorInfo, JobState};
use futures_util::StreamExt as _;
use futures_util::stream::FuturesUnordered;
use time::OffsetDateTime;
use tokio::sync::{Mutex, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use uuid::Uuid;

use super::record::{JobRecord, Owner, rfc3339};
use super::retry_table::{Decision, Rule, decide};
use super::uploader::{ReadBackOutcome, UploadFailure, UploadOutcome, Uploader};
use super::{Durability, Outbox, lock};
use crate::audit::{AuditAction, AuditOutcome};

/// How often registered jobs and stale uploads are cleaned up.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(600);

/// A running scheduler.
pub struct SchedulerHandle {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl SchedulerHandle {
    /// Stops after the current attempt (if any) and waits for the task.
    /// A job cut off mid-upload by a harder stop is recovered at the next
    /// start as an unknown outcome.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }

    /// The task ended (the session channel was closed, or it was stopped).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

enum NextDue {
    Job(Uuid),
    At(OffsetDateTime),
    Nothing,
}

/// What an attempt means for the session.
enum AfterAttempt {
    Continue,
    /// The platform refused the assertion: wait for the session to renew it.
    SessionRefused,
}

impl Outbox {
    /// Starts the scheduler. It runs until [`SchedulerHandle::stop`] or
    /// until the `sessions` sender is dropped.
    pub fn spawn_scheduler<U: Uploader>(
        &self,
        uploader: Arc<U>,
        sessions: watch::Receiver<Option<Owner>>,
    ) -> SchedulerHandle {
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(run(self.clone(), uploader, sessions, stop_rx));
        SchedulerHandle { stop, task }
    }

    /// Marks Queued and retry-waiting jobs whose owner is not the usable
    /// session as waiting for their professional (they cannot go before).
    fn mark_waiting(&self, session: Option<&Owner>) {
        let waiting: Vec<Uuid> = lock(&self.inner.state)
            .jobs
            .values()
            .filter(|r| {
                matches!(r.state, JobState::Queued | JobState::RetryWaiting)
                    && Some(&r.owner) != session
            })
            .map(|r| r.job_id)
            .collect();
        for id in waiting {
            if let Err(e) = self.update(id, |r| r.state = JobState::WaitingForSession) {
                tracing::error!(error = %e, "job state not saved");
            }
        }
    }

    /// The owner's first due job in enqueue order that is not `under_way`,
    /// or when the next one is due.
    fn next_due(&self, owner: &Owner, now: OffsetDateTime, under_way: &HashSet<Uuid>) -> NextDue {
        let state = lock(&self.inner.state);
        let pending: HashSet<&str> = state
            .jobs
            .values()
            .filter(|r| !r.state.is_final())
            .map(|r| r.document_unique_id.as_str())
            .collect();
        // Only jobs that can still go: done ones stay in memory for hours
        // and would make every turn sort thousands.
        let mut mine: Vec<&JobRecord> = state
            .jobs
            .values()
            .filter(|r| !r.state.is_final() && &r.owner == owner && !under_way.contains(&r.job_id))
            .collect();
        mine.sort_by_key(|r| r.sequence);
        let mut earliest: Option<OffsetDateTime> = None;
        for r in mine {
            // A replacement waits until the document it replaces is registered.
            if r.replaces.as_deref().is_some_and(|u| pending.contains(u)) {
                continue;
            }
            match (r.state, r.next_attempt_at) {
                (JobState::Queued | JobState::WaitingForSession, _) => {
                    return NextDue::Job(r.job_id);
                }
                (JobState::RetryWaiting, None) => return NextDue::Job(r.job_id),
                (JobState::RetryWaiting, Some(t)) if t <= now => return NextDue::Job(r.job_id),
                (JobState::RetryWaiting, Some(t)) => {
                    earliest = Some(earliest.map_or(t, |e| e.min(t)));
                }
                _ => {}
            }
        }
        earliest.map_or(NextDue::Nothing, NextDue::At)
    }

    /// Records a final state; a registered job's content is removed.
    fn finish(&self, id: Uuid, state: JobState, error: Option<ErrorInfo>) {
        let now = OffsetDateTime::now_utc();
        let code = error.as_ref().map(|e| e.code);
        // Done undone by a crash leaves the job uploading, which is resent
        // and settled by the duplicate rule; a failure is kept for sure.
        let durability = if state == JobState::Done {
            Durability::Progress
        } else {
            Durability::Flushed
        };
        let record = match self.store(id, durability, |r| {
            r.state = state;
            r.last_error = error;
            r.next_attempt_at = None;
            r.finished_at = Some(now);
            if state == JobState::Done {
                r.outcome_unknown = false;
            }
        }) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "final job state not saved");
                return;
            }
        };
        if state == JobState::Done
            && let Err(e) = self.inner.spool.remove_content(id)
        {
            tracing::warn!(error = %e, "registered document's spool copy not removed");
        }
        // Announced once the spool copy is gone: whoever waits for the job
        // sees it finished whole.
        self.announce(&record);
        let outcome = match state {
            JobState::Done => AuditOutcome::Ok,
            JobState::Conflict => AuditOutcome::Conflict,
            _ => AuditOutcome::Failed,
        };
        self.audit(&record, AuditAction::DocumentUpload, outcome, code);
    }

    fn wait_for_session(&self, id: Uuid, info: ErrorInfo) {
        if let Err(e) = self.update(id, |r| {
            r.state = JobState::WaitingForSession;
            // Refused before the platform looked at it: not an attempt.
            r.attempts = r.attempts.saturating_sub(1);
            r.last_error = Some(info);
        }) {
            tracing::error!(error = %e, "job state not saved");
        }
    }

    /// Records a registered job as done (record, spool copy, audit: three
    /// fsyncs) on a blocking thread while the next upload goes. At most
    /// one is outstanding, so they complete in order; the job's waiters
    /// hear of it once it is on disk, and the scheduler is woken for a
    /// replacement that waited for it.
    async fn finish_in_background(&self, finishing: &Finishing, id: Uuid) {
        let mut finishing = finishing.lock().await;
        if let Some(previous) = finishing.take() {
            let _ = previous.await;
        }
        let outbox = self.clone();
        *finishing = Some(tokio::task::spawn_blocking(move || {
            outbox.finish(id, JobState::Done, None);
            outbox.inner.wake.notify_one();
        }));
    }

    /// An upload cut off because its professional's session ended: it
    /// waits for them, and is not counted as an attempt (the platform did
    /// not fail). Part of it may have reached the platform, or all of it:
    /// the outcome is unknown, which the retry's duplicate rule settles.
    fn interrupted_by_session_end(&self, id: Uuid) {
        let info = ErrorInfo {
            code: ErrorCode::SessionLocked,
            message: "the upload was stopped because the professional's session ended (card \
                      removed or session locked)"
                .to_owned(),
            hint: Some(
                "insert the card and give the PIN: the upload starts again by itself".to_owned(),
            ),
        };
        match self.update(id, |r| {
            r.state = JobState::WaitingForSession;
            r.attempts = r.attempts.saturating_sub(1);
            r.outcome_unknown = true;
            r.last_error = Some(info);
        }) {
            Ok(_) => tracing::info!(job = %id, "upload stopped: the session ended"),
            Err(e) => tracing::error!(error = %e, "job state not saved"),
        }
    }

    /// A temporary failure: wait and retry, or give up after the allowed
    /// attempts (the job can still be retried by the user).
    fn retry_later(&self, record: &JobRecord, rule: &Rule, failure: &UploadFailure) {
        let policy = self.policy();
        if record.attempts >= policy.max_attempts_for_retryable {
            self.finish(
                record.job_id,
                JobState::Failed,
                Some(ErrorInfo {
                    code: rule.code,
                    message: format!(
                        "gave up after {} attempts; the last: {}: {failure}",
                        record.attempts, rule.message
                    ),
                    hint: Some(
                        "check that the platform is reachable (dspctl doctor), then retry the job"
                            .to_owned(),
                    ),
                }),
            );
            return;
        }
        let delay = policy.backoff(record.attempts);
        let at = OffsetDateTime::now_utc()
            + time::Duration::try_from(delay).unwrap_or(time::Duration::MAX);
        let unknown = failure.outcome_unknown();
        let info = error_info(rule, failure);
        if let Err(e) = self.update(record.job_id, |r| {
            r.state = JobState::RetryWaiting;
            r.next_attempt_at = Some(at);
            r.outcome_unknown = unknown || r.outcome_unknown;
            r.last_error = Some(info);
        }) {
            tracing::error!(error = %e, "job state not saved");
        }
    }

    fn fail_permanently(&self, id: Uuid, rule: &Rule, failure: &UploadFailure) {
        self.finish(id, JobState::Failed, Some(error_info(rule, failure)));
    }

    async fn attempt<U: Uploader>(
        &self,
        uploader: &U,
        sessions: &mut watch::Receiver<Option<Owner>>,
        finishing: &Finishing,
        id: Uuid,
    ) -> AfterAttempt {
        let Ok(record) = self.record_by_uuid(id) else {
            // Discarded meanwhile.
            return AfterAttempt::Continue;
        };
        let now = OffsetDateTime::now_utc();
        if let Some(access) = &record.access
            && access.expires_at <= now
        {
            self.finish(
                id,
                JobState::Failed,
                Some(ErrorInfo {
                    code: ErrorCode::GrantExpired,
                    message: format!(
                        "the consultation grant this job rests on expired at {}",
                        rfc3339(access.expires_at)
                    ),
                    hint: Some(
                        "ask the patient for a new presence code, open access again, then retry \
                         the job"
                            .to_owned(),
                    ),
                }),
            );
            return AfterAttempt::Continue;
        }
        let content = self.inner.spool.content_path(id);
        if !content.is_file() {
            // Only a hand-edited or damaged spool gets here.
            self.finish(
                id,
                JobState::Failed,
                Some(ErrorInfo {
                    code: ErrorCode::Io,
                    message: format!("the spooled copy {} is missing", content.display()),
                    hint: Some("discard the job and push the document again".to_owned()),
                }),
            );
            return AfterAttempt::Continue;
        }
        // "Uploading" is kept in memory only (status, events): on disk the
        // job stays as it was, so a crash during the upload finds it
        // queued and resends it under the same uniqueId, which the
        // duplicate rule settles — exactly what an "uploading" record
        // would lead to, without writing a record per attempt.
        let record = match self.update_with(id, Durability::MemoryOnly, |r| {
            r.state = JobState::Uploading;
            r.attempts += 1;
            r.next_attempt_at = None;
        }) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "job not started");
                return AfterAttempt::Continue;
            }
        };
        // The session ending (card pulled, lock, another professional's
        // card) stops the upload at once: the job's right to go rests on
        // its professional's open session. What was sent may still have
        // been registered; the retry, under the same uniqueId, finds out.
        let outcome = tokio::select! {
            outcome = uploader.upload(&record, &content) => outcome,
            () = session_left(sessions, &record.owner) => {
                self.interrupted_by_session_end(id);
                return AfterAttempt::Continue;
            }
        };
        let failure = match outcome {
            UploadOutcome::Registered => {
                self.finish_in_background(finishing, id).await;
                return AfterAttempt::Continue;
            }
            UploadOutcome::Failed(f) => f,
        };
        let rule = decide(&failure);
        match rule.decision {
            Decision::Retry => self.retry_later(&record, rule, &failure),
            Decision::Permanent => self.fail_permanently(id, rule, &failure),
            Decision::WaitForSession => {
                self.wait_for_session(id, error_info(rule, &failure));
                return AfterAttempt::SessionRefused;
            }
            Decision::ReadBack => return self.read_back(uploader, &record, rule).await,
        }
        AfterAttempt::Continue
    }

    /// The duplicate rule: same SHA-1 and author ⇒ Done; anything else ⇒
    /// Conflict, reported, never overwritten.
    async fn read_back<U: Uploader>(
        &self,
        uploader: &U,
        record: &JobRecord,
        duplicate: &Rule,
    ) -> AfterAttempt {
        let id = record.job_id;
        let conflict = |message: String| ErrorInfo {
            code: ErrorCode::Conflict,
            message,
            hint: Some(duplicate.hint.to_owned()),
        };
        match uploader.read_back(record).await {
            ReadBackOutcome::Found(entry) => {
                let same_hash = entry.sha1.eq_ignore_ascii_case(&record.content.sha1);
                let same_author = entry.author_ehealth_id == record.owner.ehealth_id;
                if same_hash && same_author {
                    self.finish(id, JobState::Done, None);
                } else {
                    let mut differences = Vec::new();
                    if !same_hash {
                        differences.push(format!(
                            "its SHA-1 is {}, this document's is {}",
                            entry.sha1, record.content.sha1
                        ));
                    }
                    if !same_author {
                        differences.push(format!("its author is {}", entry.author_ehealth_id));
                    }
                    self.finish(
                        id,
                        JobState::Conflict,
                        Some(conflict(format!(
                            "the DSP already holds a different document under uniqueId {}: {}",
                            record.document_unique_id,
                            differences.join("; ")
                        ))),
                    );
                }
            }
            ReadBackOutcome::NotFound => self.finish(
                id,
                JobState::Conflict,
                Some(conflict(format!(
                    "the platform reports uniqueId {} as registered but shows no such entry to you",
                    record.document_unique_id
                ))),
            ),
            ReadBackOutcome::Failed(failure) => {
                let rule = decide(&failure);
                match rule.decision {
                    Decision::WaitForSession => {
                        self.wait_for_session(id, error_info(rule, &failure));
                        return AfterAttempt::SessionRefused;
                    }
                    Decision::Permanent => self.fail_permanently(id, rule, &failure),
                    // Retrying resends the upload; its duplicate answer
                    // leads here again.
                    Decision::Retry | Decision::ReadBack => {
                        self.retry_later(record, rule, &failure);
                    }
                }
            }
        }
        AfterAttempt::Continue
    }
}

fn error_info(rule: &Rule, failure: &UploadFailure) -> ErrorInfo {
    ErrorInfo {
        code: rule.code,
        message: format!("{}: {failure}", rule.message),
        hint: (!rule.hint.is_empty()).then(|| rule.hint.to_owned()),
    }
}

/// Resolves when the session is no longer `owner`'s. A republished
/// session of the same professional (a renewed assertion) does not count;
/// a closed channel (the daemon stopping) never resolves here, the stop
/// path handles it.
async fn session_left(sessions: &mut watch::Receiver<Option<Owner>>, owner: &Owner) {
    loop {
        if sessions.borrow_and_update().as_ref() != Some(owner) {
            return;
        }
        if sessions.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

fn instant_of(t: OffsetDateTime) -> Instant {
    let wait = t - OffsetDateTime::now_utc();
    Instant::now() + Duration::try_from(wait).unwrap_or(Duration::ZERO)
}

/// The last registered job being recorded as done, on a blocking thread.
type Finishing = Mutex<Option<JoinHandle<()>>>;

/// An attempt under way, and what it returns.
type UnderWay<'a> = Pin<Box<dyn Future<Output = (Uuid, AfterAttempt)> + Send + 'a>>;

async fn run<U: Uploader>(
    outbox: Outbox,
    uploader: Arc<U>,
    sessions: watch::Receiver<Option<Owner>>,
    stop: watch::Receiver<bool>,
) {
    let finishing = Mutex::new(None);
    schedule(&outbox, uploader.as_ref(), sessions, stop, &finishing).await;
    if let Some(last) = finishing.into_inner() {
        let _ = last.await;
    }
}

async fn schedule<U: Uploader>(
    outbox: &Outbox,
    uploader: &U,
    mut sessions: watch::Receiver<Option<Owner>>,
    mut stop: watch::Receiver<bool>,
    finishing: &Finishing,
) {
    let mut session_refused = false;
    let mut next_housekeeping = Instant::now();
    let mut attempts: FuturesUnordered<UnderWay<'_>> = FuturesUnordered::new();
    let mut under_way: HashSet<Uuid> = HashSet::new();
    loop {
        if *stop.borrow() {
            break;
        }
        if Instant::now() >= next_housekeeping {
            if let Err(e) = outbox.housekeeping(OffsetDateTime::now_utc()) {
                tracing::warn!(error = %e, "outbox housekeeping failed");
            }
            next_housekeeping = Instant::now() + HOUSEKEEPING_EVERY;
        }
        let session = sessions.borrow_and_update().clone();
        let usable = if session_refused { None } else { session };
        outbox.mark_waiting(usable.as_ref());
        let next = match &usable {
            Some(owner) if attempts.len() < outbox.policy().parallel_uploads => {
                outbox.next_due(owner, OffsetDateTime::now_utc(), &under_way)
            }
            _ => NextDue::Nothing,
        };
        let wake_at = match next {
            NextDue::Job(id) => {
                under_way.insert(id);
                let mut own_sessions = sessions.clone();
                attempts.push(Box::pin(async move {
                    let after = outbox
                        .attempt(uploader, &mut own_sessions, finishing, id)
                        .await;
                    (id, after)
                }));
                continue;
            }
            NextDue::At(t) => instant_of(t).min(next_housekeeping),
            NextDue::Nothing => next_housekeeping,
        };
        tokio::select! {
            Some((id, after)) = attempts.next(), if !attempts.is_empty() => {
                under_way.remove(&id);
                if let AfterAttempt::SessionRefused = after {
                    session_refused = true;
                }
            }
            changed = sessions.changed() => {
                if changed.is_err() {
                    break;
                }
                session_refused = false;
            }
            () = outbox.inner.wake.notified() => {}
            () = tokio::time::sleep_until(wake_at) => {}
            _ = stop.changed() => {}
        }
    }
    // Stopping: the attempts under way end first (a harder stop leaves
    // them to the next start, as unknown outcomes).
    while attempts.next().await.is_some() {}
}
