//! Outbox tests: the spool across restarts and crash points, and the
//! scheduler's decisions driven by a scripted platform. The script only
//! chooses *how* the platform answers; the registry it keeps behaves as
//! XDS says (a uniqueId once registered answers
//! `XDSDuplicateUniqueIdInRegistry`, the SHA-1 is checked against the
//! bytes received), so the outbox's logic is what is under test.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dspconnect::ErrorCode;
use dspconnect::ipc::protocol::{Job, JobState, PatientStatement, PushMetadata};
use dspconnect::model::ConfidentialityMode;
use ihe::xds::XdsErrorCode;
use sha1::Digest as _;
use tokio::sync::watch;

use super::*;
use crate::config::DocumentDefaults;
use dspconnect::model::ConfidentialityCodeTable;

// ------------------------------------------------------------------ fixtures

const PDF: &[u8] = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer\n%%EOF\n";

fn gp() -> Owner {
    Owner::new("2854201475", &"a1".repeat(32)).unwrap()
}

fn other_gp() -> Owner {
    Owner::new("2854209999", &"b2".repeat(32)).unwrap()
}

/// The same eHealth id with another card.
fn gp_other_card() -> Owner {
    Owner::new("2854201475", &"c3".repeat(32)).unwrap()
}

fn policy() -> OutboxPolicy {
    OutboxPolicy {
        max_document_bytes: 1024 * 1024,
        retry_base: Duration::from_millis(10),
        retry_max: Duration::from_millis(40),
        max_attempts_for_retryable: 4,
        keep_done: Duration::from_secs(3600),
        upload_expiry: Duration::from_secs(3600),
        parallel_uploads: 2,
    }
}

fn context() -> ResolveContext {
    ResolveContext {
        codes: ConfidentialityCodeTable::sandbox(),
        defaults: DocumentDefaults::sandbox(),
        unique_id_root: None,
    }
}

fn metadata() -> PushMetadata {
    PushMetadata {
        patient: "1893120105732".into(),
        title: "Lettre de sortie".into(),
        mode: ConfidentialityMode::Normal,
        patient_statement: PatientStatement {
            informed_and_agrees: true,
            stated_at: None,
        },
        mime_type: None,
        class_code: None,
        type_code: None,
        format_code: None,
        practice_setting_code: None,
        healthcare_facility_type_code: None,
        language: None,
        creation_time: None,
        service_start: None,
        service_stop: None,
        comments: None,
    }
}

fn request(source: ContentSource, owner: Owner) -> EnqueueRequest {
    EnqueueRequest {
        source,
        metadata: metadata(),
        replaces: None,
        owner,
        access: None,
        context: context(),
    }
}

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn spool(&self) -> PathBuf {
        self.dir.path().join("spool")
    }
    fn open(&self) -> Outbox {
        Outbox::open(&self.spool(), policy(), None).unwrap()
    }
    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }
}

fn sha1_hex(bytes: &[u8]) -> String {
    spool::hex(&sha1::Sha1::digest(bytes))
}

// ------------------------------------------------------------------ the scripted platform

/// How the platform answers one upload.
#[derive(Clone)]
enum Answer {
    /// As a registry does: register, or answer duplicate.
    Normally,
    /// Fail without registering.
    Fail(UploadFailure),
    /// Register, then lose the answer.
    RegisterThenFail(UploadFailure),
    /// Send (registering or not), then never answer: the upload is still
    /// under way until the scheduler gives it up.
    Hang { registered: bool },
    /// Answer as a registry does, after this long.
    Slowly(Duration),
}

#[derive(Default)]
struct Platform {
    /// uniqueId → (SHA-1, author).
    registry: Mutex<HashMap<String, (String, String)>>,
    script: Mutex<VecDeque<Answer>>,
    read_back_script: Mutex<VecDeque<ReadBackOutcome>>,
    uploads: AtomicUsize,
    read_backs: AtomicUsize,
    /// Uploads dropped by the scheduler before they answered.
    abandoned: Arc<AtomicUsize>,
}

/// Counts an upload future dropped before its answer.
struct AbandonGuard(Arc<AtomicUsize>);

impl Drop for AbandonGuard {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl Platform {
    fn new(script: Vec<Answer>) -> Arc<Platform> {
        Arc::new(Platform {
            script: Mutex::new(script.into()),
            ..Platform::default()
        })
    }

    fn register(&self, job: &JobRecord, content: &Path) -> UploadOutcome {
        let mut registry = self.registry.lock().unwrap();
        if registry.contains_key(&job.document_unique_id) {
            return UploadOutcome::Failed(UploadFailure::Registry {
                codes: vec![XdsErrorCode::DuplicateUniqueIdInRegistry],
                message: "uniqueId already registered".into(),
            });
        }
        let bytes = std::fs::read(content).expect("the spool copy exists during upload");
        let hash = sha1_hex(&bytes);
        if hash != job.content.sha1 || bytes.len() as u64 != job.content.size {
            return UploadOutcome::Failed(UploadFailure::Registry {
                codes: vec![XdsErrorCode::NonIdenticalHash],
                message: "hash differs".into(),
            });
        }
        registry.insert(
            job.document_unique_id.clone(),
            (hash, job.owner.ehealth_id.clone()),
        );
        UploadOutcome::Registered
    }

    fn entries(&self) -> usize {
        self.registry.lock().unwrap().len()
    }
}

impl Uploader for Platform {
    async fn upload(&self, job: &JobRecord, content: &Path) -> UploadOutcome {
        self.uploads.fetch_add(1, Ordering::SeqCst);
        let answer = self
            .script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(Answer::Normally);
        match answer {
            Answer::Normally => self.register(job, content),
            Answer::Fail(f) => UploadOutcome::Failed(f),
            Answer::RegisterThenFail(f) => {
                assert_eq!(self.register(job, content), UploadOutcome::Registered);
                UploadOutcome::Failed(f)
            }
            Answer::Slowly(delay) => {
                tokio::time::sleep(delay).await;
                self.register(job, content)
            }
            Answer::Hang { registered } => {
                if registered {
                    assert_eq!(self.register(job, content), UploadOutcome::Registered);
                }
                let _guard = AbandonGuard(Arc::clone(&self.abandoned));
                std::future::pending::<UploadOutcome>().await
            }
        }
    }

    async fn read_back(&self, job: &JobRecord) -> ReadBackOutcome {
        self.read_backs.fetch_add(1, Ordering::SeqCst);
        if let Some(scripted) = self.read_back_script.lock().unwrap().pop_front() {
            return scripted;
        }
        match self.registry.lock().unwrap().get(&job.document_unique_id) {
            Some((sha1, author)) => ReadBackOutcome::Found(RegisteredEntry {
                sha1: sha1.clone(),
                author_ehealth_id: author.clone(),
            }),
            None => ReadBackOutcome::NotFound,
        }
    }
}

fn transport(failure: TransportFailure) -> UploadFailure {
    UploadFailure::Transport {
        failure,
        message: "scripted".into(),
    }
}

async fn wait_final(outbox: &Outbox, job: &Job) -> Job {
    let done = outbox
        .wait(&job.job_id, Duration::from_secs(10))
        .await
        .unwrap();
    assert!(done.state.is_final(), "job did not finish: {done:?}");
    done
}

/// Polls until the job is in `state` (for non-final states).
async fn wait_state(outbox: &Outbox, job_id: &str, state: JobState) {
    for _ in 0..500 {
        if outbox.job(job_id).unwrap().state == state {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "job never reached {state:?}: {:?}",
        outbox.job(job_id).unwrap()
    );
}

// ------------------------------------------------------------------ spool

#[tokio::test]
async fn jobs_survive_a_restart_with_the_same_ids() {
    let env = Env::new();
    let outbox = env.open();
    let path = env.file("report.pdf", PDF);
    let a = outbox
        .enqueue(request(ContentSource::Path(path), gp()))
        .await
        .unwrap();
    let b = outbox
        .enqueue(request(ContentSource::Bytes(PDF.to_vec()), gp()))
        .await
        .unwrap();
    assert_eq!(a.state, JobState::Queued);
    assert_ne!(a.unique_id, b.unique_id);
    let record_a = outbox.record(&a.job_id).unwrap();
    drop(outbox);

    let reopened = env.open();
    let jobs = reopened.jobs();
    assert_eq!(
        jobs.iter().map(|j| j.job_id.as_str()).collect::<Vec<_>>(),
        [a.job_id.as_str(), b.job_id.as_str()]
    );
    let again = reopened.record(&a.job_id).unwrap();
    assert_eq!(again, record_a);
    assert_eq!(again.content.sha1, sha1_hex(PDF));
    assert_eq!(again.content.size, PDF.len() as u64);
    assert_eq!(again.metadata.mime_type, "application/pdf");
    let content = env.spool().join("jobs").join(&a.job_id).join("content");
    assert_eq!(std::fs::read(content).unwrap(), PDF);
    // New jobs continue the order.
    let c = reopened
        .enqueue(request(ContentSource::Bytes(PDF.to_vec()), gp()))
        .await
        .unwrap();
    assert!(reopened.record(&c.job_id).unwrap().sequence > again.sequence);
}

#[tokio::test]
async fn crash_leftovers_are_cleaned_and_never_acknowledged() {
    let env = Env::new();
    let outbox = env.open();
    let job = outbox
        .enqueue(request(ContentSource::Bytes(PDF.to_vec()), gp()))
        .await
        .unwrap();
    drop(outbox);
    // A crash during an enqueue: a half-written tmp job.
    let half = env.spool().join("tmp").join(Uuid::new_v4().to_string());
    std::fs::create_dir(&half).unwrap();
    std::fs::write(half.join("content"), b"%PDF-half").unwrap();
    // A crash during a state change: a stale job.json.tmp.
    let stale = env
        .spool()
        .join("jobs")
        .join(&job.job_id)
        .join("job.json.tmp");
    std::fs::write(&stale, b"{ half a record").unwrap();

    let reopened = env.open();
    assert_eq!(
        std::fs::read_dir(env.spool().join("tmp")).unwrap().count(),
        0
    );
    assert!(!stale.exists());
    assert_eq!(reopened.jobs().len(), 1);
    assert_eq!(reopened.job(&job.job_id).unwrap().state, JobState::Queued);
}

#[tokio::test]
async fn a_damaged_record_is_reported_and_left_in_place() {
    let env = Env::new();
    let outbox = env.open();
    let job = outbox
        .enqueue(request(ContentSource::Bytes(PDF.to_vec()), gp()))
        .await
        .unwrap();
    drop(outbox);
    let record = env.spool().join("jobs").join(&job.job_id).join("job.json");
    std::fs::write(&record, b"not json").unwrap();
    let reopened = env.open();
    assert!(reopened.jobs().is_empty());
    assert_eq!(reopened.damaged().len(), 1, "{:?}", reopened.damaged());
    assert!(record.exists());
}

#[cfg(unix)]
#[tokio::test]
async fn spool_folders_are_0700_and_files_0600() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let outbox = env.open();
    let job = outbox
        .enqueue(request(ContentSource::Bytes(PDF.to_vec()), gp()))
        .await
        .unwrap();
    let upload = outbox.upload_begin(4).await.unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let spool = env.spool();
    for dir in [
        spool.clone(),
        spool.join("tmp"),
        spool.join("jobs"),
        spool.join("uploads"),
        spool.join("jobs").join(&job.job_id),
        spool.join("uploads").join(&upload),
    ] {
        assert_eq!(mode(&dir), 0o700, "{}", dir.display());
    }
    for file in [
        spool.join("jobs").join(&job.job_id).join("content"),
        spool.join("jobs").join(&job.job_id).join("job.json"),
        spool.join("uploads").join(&upload).join("content"),
        spool.join("uploads").join(&upload).join("upload.json"),
    ] {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    drop(outbox);
    std::fs::set_permissions(&spool, std::fs::Permissions::from_mode(0o757)).unwrap();
    let err = Outbox::open(&spool, policy(), None).err().unwrap();
    assert_eq!(err.code(), ErrorCode::Config);
    assert!(err.to_string().contains("chmod 700"), "{err}");
}

#[tokio::test]
async fn each_bad_source_has_its_own_error() {
    let env = Env::new();
    let outbox = env.open();
    let cases: Vec<(ContentSource, ErrorCode)> = vec![
        (
            ContentSource::Path(env.dir.path().join("missing.pdf")),
            ErrorCode::FileNotFound,
        ),
        (
            ContentSource::Path(env.dir.path().to_owned()),
            ErrorCode::NotAFile,
        ),
        (
            ContentSource::Path(env.file("empty.pdf", b"")),
            ErrorCode::EmptyFile,
        ),
        (
            ContentSource::Path(env.file("big.pdf", &vec![b'%'; 1024 * 1024 + 1])),
            ErrorCode::FileTooLarge,
        ),
        (
            ContentSource::Path(PathBuf::from("relative.pdf")),
            ErrorCode::InvalidArgument,
        ),
        (ContentSource::Bytes(Vec::new()), ErrorCode::EmptyFile),
        (
            ContentSource::Bytes(b"GIF89a....".to_vec()),
            ErrorCode::UnsupportedMimeType,
        ),
        (
            ContentSource::Upload("not-an-upload".into()),
            ErrorCode::InvalidArgument,
        ),
    ];
    for (source, code) in cases {
        let err = outbox
            .enqueue(request(source.clone(), gp()))
            .await
            .unwrap_err();
        assert_eq!(err.code(), code, "{source:?}: {err}");
        let rpc = err.to_rpc();
        assert_eq!(rpc.code(), code);
    }
    let mut bad = request(ContentSource::Bytes(PDF.to_vec()), gp());
    bad.metadata.patient = "12".into();
    let err = outbox.enqueue(bad).await.unwrap_err();
    assert_eq!(err.to_rpc().data.field.as_deref(), Some("metadata.patient"));
    // Nothing was left behind by the refused pushes.
    assert!(outbox.jobs().is_empty());
    assert_eq!(
        std::fs::read_dir(env.spool().join("tmp")).unwrap().count(),
        0
    );
    assert_eq!(
        std::fs::read_dir(env.spool().join("jobs")).unwrap().count(),
        0
    );
}

#[tokio::test]
async fn chunked_uploads_check_offsets_size_and_hash() {
    let env = Env::new();
    let outbox = env.open();
    let id = outbox.upload_begin(PDF.len() as u64).await.unwrap();
    let (first, rest) = PDF.split_at(10);
    assert_eq!(
        outbox.upload_append(&id, 0, first.to_vec()).await.unwrap(),
        10
    );
    // A repeated chunk is refused with the offset to resume from.
    let err = outbox
        .upload_append(&id, 0, first.to_vec())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            OutboxError::UploadOffset {
                expected: 10,
                got: 0
            }
        ),
        "{err}"
    );
    let err = outbox
        .upload_commit(&id, &spool::hex(&sha2::Sha256::digest(PDF)))
        .await
        .unwrap_err();
    assert!(matches!(err, OutboxError::UploadIncomplete { .. }), "{err}");
    let err = outbox
        .upload_append(&id, 10, [rest, b"more"].concat())
        .await
        .unwrap_err();
    assert!(matches!(err, OutboxError::UploadOverrun { .. }), "{err}");
    // Not committed yet: cannot be pushed.
    let err = outbox
        .enqueue(request(ContentSource::Upload(id.clone()), gp()))
        .await
        .unwrap_err();
    assert!(matches!(err, OutboxError::UploadNotCommitted), "{err}");
    outbox.upload_append(&id, 10, rest.to_vec()).await.unwrap();
    let committed = outbox
        .upload_commit(&id, &spool::hex(&sha2::Sha256::digest(PDF)).to_uppercase())
        .await
        .unwrap();
    assert_eq!(committed.size, PDF.len() as u64);
    let job = outbox
        .enqueue(request(ContentSource::Upload(id.clone()), gp()))
        .await
        .unwrap();
    assert_eq!(
        outbox.record(&job.job_id).unwrap().content.sha1,
        sha1_hex(PDF)
    );
    // Used once, then gone.
    assert!(!env.spool().join("uploads").join(&id).exists());

    // A wrong hash at commit removes the upload.
    let id = outbox.upload_begin(3).await.unwrap();
    outbox.upload_append(&id, 0, b"abc".to_vec()).await.unwrap();
    let err = outbox
        .upload_commit(&id, &"0".repeat(64))
        .await
        .unwrap_err();
    assert!(
        matches!(err, OutboxError::UploadHashMismatch { .. }),
        "{err}"
    );
    assert!(matches!(
        outbox
            .upload_append(&id, 3, b"d".to_vec())
            .await
            .unwrap_err(),
        OutboxError::UnknownUpload(_)
    ));
    // Sizes are checked at begin.
    assert_eq!(
        outbox.upload_begin(0).await.unwrap_err().code(),
        ErrorCode::EmptyFile
    );
    assert_eq!(
        outbox
            .upload_begin(1024 * 1024 + 1)
            .await
            .unwrap_err()
            .code(),
        ErrorCode::FileTooLarge
    );
}

#[tokio::test]
async fn abandoned_uploads_expire() {
    let env = Env::new();
    let outbox = env.open();
    let old = outbox.upload_begin(5).await.unwrap();
    outbox.upload_append(&old, 0, b"ab".to_vec()).await.unwrap();
    let fresh = outbox.upload_begin(5).await.unwrap();
    uploads::age_upload(
        &env.spool().join("uploads"),
        &old,
        Duration::from_secs(7200),
    )
    .unwrap();
    outbox.housekeeping(OffsetDateTime::now_utc()).unwrap();
    assert!(!env.spool().join("uploads").join(&old).exists());
    assert!(env.spool().join("uploads").join(&fresh).exists());
}

// ------------------------------------------------------------------ scheduler

struct Running {
    platform: Arc<Platform>,
    session: watch::Sender<Option<Owner>>,
    scheduler: SchedulerHandle,
}

fn start(outbox: &Outbox, platform: Arc<Platform>, session: Option<Owner>) -> Running {
    let (tx, rx) = watch::channel(session);
    let scheduler = outbox.spawn_scheduler(Arc::clone(&platform), rx);
    Running {
        platform,
        session: tx,
        scheduler,
    }
}

async fn push(outbox: &Outbox, owner: Owner) -> Job {
    outbox
        .enqueue(request(ContentSource::Bytes(PDF.to_vec()), owner))
        .await
        .unwrap()
}

#[tokio::test]
async fn success_registers_once_and_removes_the_content() {
    let env = Env::new();
    let outbox = env.open();
    let mut events = outbox.subscribe();
    let run = start(&outbox, Platform::new(vec![]), Some(gp()));
    let job = push(&outbox, gp()).await;
    let done = wait_final(&outbox, &job).await;
    assert_eq!(done.state, JobState::Done);
    assert_eq!(done.attempts, 1);
    assert_eq!(run.platform.entries(), 1);
    assert_eq!(
        run.platform.registry.lock().unwrap()[&job.unique_id],
        (sha1_hex(PDF), "2854201475".to_owned())
    );
    let dir = env.spool().join("jobs").join(&job.job_id);
    assert!(!dir.join("content").exists());
    assert!(dir.join("job.json").exists());
    let mut states = Vec::new();
    while let Ok(j) = events.try_recv() {
        states.push(j.state);
    }
    assert_eq!(
        states,
        [JobState::Queued, JobState::Uploading, JobState::Done]
    );
    run.scheduler.stop().await;
}

#[tokio::test]
async fn a_temporary_failure_is_retried_then_succeeds() {
    let env = Env::new();
    let outbox = env.open();
    let platform = Platform::new(vec![
        Answer::Fail(transport(TransportFailure::Connect)),
        Answer::Fail(UploadFailure::Http {
            status: 503,
            message: "down".into(),
        }),
    ]);
    let run = start(&outbox, platform, Some(gp()));
    let mut events = outbox.subscribe();
    let job = push(&outbox, gp()).await;
    let done = wait_final(&outbox, &job).await;
    assert_eq!(done.state, JobState::Done);
    assert_eq!(done.attempts, 3);
    assert_eq!(done.error, None);
    assert_eq!(run.platform.entries(), 1);
    let mut saw_retry = false;
    while let Ok(j) = events.try_recv() {
        saw_retry |= j.state == JobState::RetryWaiting;
    }
    assert!(saw_retry);
    run.scheduler.stop().await;
}

#[tokio::test]
async fn temporary_failures_stop_after_the_allowed_attempts() {
    let env = Env::new();
    let outbox = env.open();
    let down = Answer::Fail(transport(TransportFailure::Connect));
    let platform = Platform::new(vec![down.clone(), down.clone(), down.clone(), down]);
    let run = start(&outbox, platform, Some(gp()));
    let job = push(&outbox, gp()).await;
    let failed = wait_final(&outbox, &job).await;
    assert_eq!(failed.state, JobState::Failed);
    assert_eq!(failed.attempts, 4);
    let error = failed.error.unwrap();
    assert_eq!(error.code, ErrorCode::PlatformUnreachable);
    assert!(
        error.message.contains("gave up after 4 attempts"),
        "{}",
        error.message
    );
    // The user retries once the platform is back.
    outbox.retry(&job.job_id, None).unwrap();
    let done = wait_final(&outbox, &job).await;
    assert_eq!(done.state, JobState::Done);
    assert_eq!(run.platform.entries(), 1);
    run.scheduler.stop().await;
}

#[tokio::test]
async fn a_permanent_failure_says_what_to_do_and_keeps_the_content() {
    let env = Env::new();
    let outbox = env.open();
    let platform = Platform::new(vec![Answer::Fail(UploadFailure::Registry {
        codes: vec![XdsErrorCode::RegistryMetadataError],
        message: "typeCode unknown".into(),
    })]);
    let run = start(&outbox, platform, Some(gp()));
    let job = push(&outbox, gp()).await;
    let failed = wait_final(&outbox, &job).await;
    assert_eq!(failed.state, JobState::Failed);
    assert_eq!(failed.attempts, 1);
    let error = failed.error.unwrap();
    assert_eq!(error.code, ErrorCode::BadMetadata);
    assert!(
        error.message.contains("typeCode unknown"),
        "{}",
        error.message
    );
    assert!(error.hint.unwrap().contains("correct the metadata"));
    assert!(
        env.spool()
            .join("jobs")
            .join(&job.job_id)
            .join("content")
            .exists()
    );
    assert_eq!(run.platform.uploads.load(Ordering::SeqCst), 1);
    // Discard removes it all.
    outbox.discard(&job.job_id).unwrap();
    assert!(!env.spool().join("jobs").join(&job.job_id).exists());
    assert!(matches!(
        outbox.job(&job.job_id),
        Err(OutboxError::UnknownJob(_))
    ));
    run.scheduler.stop().await;
}

#[tokio::test]
async fn a_duplicate_with_the_same_hash_and_author_is_done() {
    let env = Env::new();
    let outbox = env.open();
    let platform = Platform::new(vec![]);
    // Enqueue before the scheduler runs, then register the same document
    // as if an earlier attempt had succeeded.
    let job = push(&outbox, gp()).await;
    platform.registry.lock().unwrap().insert(
        job.unique_id.clone(),
        (sha1_hex(PDF).to_uppercase(), "2854201475".into()),
    );
    let run = start(&outbox, platform, Some(gp()));
    let done = wait_final(&outbox, &job).await;
    assert_eq!(done.state, JobState::Done);
    assert_eq!(run.platform.uploads.load(Ordering::SeqCst), 1);
    assert_eq!(run.platform.read_backs.load(Ordering::SeqCst), 1);
    assert_eq!(run.platform.entries(), 1);
    run.scheduler.stop().await;
}

#[tokio::test]
async fn a_duplicate_with_another_hash_is_a_conflict_never_overwritten() {
    let env = Env::new();
    let outbox = env.open();
    let platform = Platform::new(vec![]);
    let job = push(&outbox, gp()).await;
    let theirs = ("0".repeat(40), "2854201475".to_owned());
    platform
        .registry
        .lock()
        .unwrap()
        .insert(job.unique_id.clone(), theirs.clone());
    let run = start(&outbox, platform, Some(gp()));
    let conflict = wait_final(&outbox, &job).await;
    assert_eq!(conflict.state, JobState::Conflict);
    let error = conflict.error.unwrap();
    assert_eq!(error.code, ErrorCode::Conflict);
    assert!(error.message.contains("SHA-1"), "{}", error.message);
    assert!(error.hint.unwrap().contains("nothing was overwritten"));
    assert_eq!(
        run.platform.registry.lock().unwrap()[&job.unique_id],
        theirs
    );
    assert!(
        env.spool()
            .join("jobs")
            .join(&job.job_id)
            .join("content")
            .exists()
    );
    assert!(matches!(
        outbox.retry(&job.job_id, None),
        Err(OutboxError::NotRetryable { .. })
    ));
    run.scheduler.stop().await;
}

#[tokio::test]
async fn a_duplicate_by_another_author_is_a_conflict() {
    let env = Env::new();
    let outbox = env.open();
    let platform = Platform::new(vec![]);
    let job = push(&outbox, gp()).await;
    platform
        .registry
        .lock()
        .unwrap()
        .insert(job.unique_id.clone(), (sha1_hex(PDF), "2854209999".into()));
    let run = start(&outbox, platform, Some(gp()));
    let conflict = wait_final(&outbox, &job).await;
    assert_eq!(conflict.state, JobState::Conflict);
    assert!(
        conflict
            .error
            .unwrap()
            .message
            .contains("author is 2854209999")
    );
    run.scheduler.stop().await;
}

#[tokio::test]
async fn an_unknown_outcome_then_a_duplicate_is_done_once() {
    let env = Env::new();
    let outbox = env.open();
    let platform = Platform::new(vec![Answer::RegisterThenFail(transport(
        TransportFailure::CutAfterSend,
    ))]);
    let mut events = outbox.subscribe();
    let run = start(&outbox, platform, Some(gp()));
    let job = push(&outbox, gp()).await;
    let done = wait_final(&outbox, &job).await;
    assert_eq!(done.state, JobState::Done);
    assert_eq!(done.unique_id, job.unique_id);
    assert_eq!(run.platform.entries(), 1);
    assert_eq!(run.platform.uploads.load(Ordering::SeqCst), 2);
    assert_eq!(run.platform.read_backs.load(Ordering::SeqCst), 1);
    let mut done_events = 0;
    while let Ok(j) = events.try_recv() {
        done_events += usize::from(j.job_id == job.job_id && j.state == JobState::Done);
    }
    assert_eq!(done_events, 1);
    run.scheduler.stop().await;
}

#[tokio::test]
async fn a_job_uploading_at_a_crash_is_resent_with_the_same_unique_id() {
    let env = Env::new();
    let outbox = env.open();
    let job = push(&outbox, gp()).await;
    drop(outbox);
    // The daemon died during the upload, after the platform registered it.
    let record_path = env.spool().join("jobs").join(&job.job_id).join("job.json");
    let mut record: JobRecord =
        serde_json::from_slice(&std::fs::read(&record_path).unwrap()).unwrap();
    record.state = JobState::Uploading;
    record.attempts = 1;
    std::fs::write(&record_path, serde_json::to_vec(&record).unwrap()).unwrap();
    let platform = Platform::new(vec![]);
    platform
        .registry
        .lock()
        .unwrap()
        .insert(job.unique_id.clone(), (sha1_hex(PDF), "2854201475".into()));

    let outbox = env.open();
    let recovered = outbox.record(&job.job_id).unwrap();
    assert_eq!(recovered.state, JobState::Queued);
    assert!(recovered.outcome_unknown);
    assert_eq!(recovered.document_unique_id, job.unique_id);
    let run = start(&outbox, platform, Some(gp()));
    let done = wait_final(&outbox, &job).await;
    assert_eq!(done.state, JobState::Done);
    assert_eq!(run.platform.entries(), 1);
    assert_eq!(run.platform.read_backs.load(Ordering::SeqCst), 1);
    run.scheduler.stop().await;
}

#[tokio::test]
async fn an_expired_grant_fails_with_grant_expired_without_uploading() {
    let env = Env::new();
    let outbox = env.open();
    let run = start(&outbox, Platform::new(vec![]), Some(gp()));
    let mut req = request(ContentSource::Bytes(PDF.to_vec()), gp());
    req.access = Some(AccessBasis {
        grant_id: "grant-1".into(),
        expires_at: OffsetDateTime::now_utc() - time::Duration::minutes(1),
    });
    let job = outbox.enqueue(req).await.unwrap();
    let failed = wait_final(&outbox, &job).await;
    assert_eq!(failed.state, JobState::Failed);
    let error = failed.error.unwrap();
    assert_eq!(error.code, ErrorCode::GrantExpired);
    assert!(error.hint.unwrap().contains("new presence code"));
    assert_eq!(run.platform.uploads.load(Ordering::SeqCst), 0);
    // With a new grant the user retries and it goes through.
    outbox
        .retry(
            &job.job_id,
            Some(AccessBasis {
                grant_id: "grant-2".into(),
                expires_at: OffsetDateTime::now_utc() + time::Duration::hours(4),
            }),
        )
        .unwrap();
    assert_eq!(wait_final(&outbox, &job).await.state, JobState::Done);
    run.scheduler.stop().await;
}

#[tokio::test]
async fn a_job_waits_for_its_own_professional() {
    let env = Env::new();
    let outbox = env.open();
    let run = start(&outbox, Platform::new(vec![]), Some(other_gp()));
    let job = push(&outbox, gp()).await;
    wait_state(&outbox, &job.job_id, JobState::WaitingForSession).await;
    // Another card of the same professional is not the same identity either.
    run.session.send(Some(gp_other_card())).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        outbox.job(&job.job_id).unwrap().state,
        JobState::WaitingForSession
    );
    run.session.send(None).unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(run.platform.uploads.load(Ordering::SeqCst), 0);
    // The other professional's own job uploads in their session, not ours.
    let theirs = push(&outbox, other_gp()).await;
    run.session.send(Some(gp())).unwrap();
    assert_eq!(wait_final(&outbox, &job).await.state, JobState::Done);
    assert_eq!(
        outbox.job(&theirs.job_id).unwrap().state,
        JobState::WaitingForSession
    );
    assert_eq!(run.platform.uploads.load(Ordering::SeqCst), 1);
    run.session.send(Some(other_gp())).unwrap();
    assert_eq!(wait_final(&outbox, &theirs).await.state, JobState::Done);
    let authors: Vec<String> = run
        .platform
        .registry
        .lock()
        .unwrap()
        .values()
        .map(|(_, a)| a.clone())
        .collect();
    assert_eq!(authors.len(), 2);
    run.scheduler.stop().await;
}

#[tokio::test]
async fn a_refused_assertion_waits_for_the_session_without_counting() {
    let env = Env::new();
    let outbox = env.open();
    let platform = Platform::new(vec![Answer::Fail(UploadFailure::Fault {
        fault: PlatformFault::AssertionExpired,
        message: "expired".into(),
    })]);
    let run = start(&outbox, platform, Some(gp()));
    let job = push(&outbox, gp()).await;
    wait_state(&outbox, &job.job_id, JobState::WaitingForSession).await;
    let waiting = outbox.job(&job.job_id).unwrap();
    assert_eq!(waiting.attempts, 0);
    assert_eq!(waiting.error.unwrap().code, ErrorCode::SessionExpired);
    // Nothing happens until the session publishes a renewed assertion.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(run.platform.uploads.load(Ordering::SeqCst), 1);
    run.session.send(Some(gp())).unwrap();
    let done = wait_final(&outbox, &job).await;
    assert_eq!(done.state, JobState::Done);
    assert_eq!(done.attempts, 1);
    run.scheduler.stop().await;
}

/// Card pulled (or session locked) mid-upload: the upload stops at once,
/// the job waits for its professional without counting an attempt, and
/// goes once the session is back — whether or not the cut-off request had
/// reached the registry.
#[tokio::test]
async fn an_upload_under_way_stops_when_the_session_ends_and_goes_once_after() {
    for registered in [false, true] {
        let env = Env::new();
        let outbox = env.open();
        let platform = Platform::new(vec![Answer::Hang { registered }]);
        let run = start(&outbox, platform, Some(gp()));
        let job = push(&outbox, gp()).await;
        wait_state(&outbox, &job.job_id, JobState::Uploading).await;
        // A renewed assertion of the same professional does not stop it.
        run.session.send(Some(gp())).unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(outbox.job(&job.job_id).unwrap().state, JobState::Uploading);
        assert_eq!(run.platform.abandoned.load(Ordering::SeqCst), 0);

        run.session.send(None).unwrap();
        wait_state(&outbox, &job.job_id, JobState::WaitingForSession).await;
        assert_eq!(run.platform.abandoned.load(Ordering::SeqCst), 1);
        let record = outbox.record(&job.job_id).unwrap();
        assert!(record.outcome_unknown, "registered={registered}");
        assert_eq!(record.attempts, 0);
        assert_eq!(
            record.last_error.as_ref().map(|e| e.code),
            Some(ErrorCode::SessionLocked)
        );
        // Nothing goes while the card is out.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(run.platform.uploads.load(Ordering::SeqCst), 1);

        run.session.send(Some(gp())).unwrap();
        let done = wait_final(&outbox, &job).await;
        assert_eq!(done.state, JobState::Done, "registered={registered}");
        assert_eq!(run.platform.entries(), 1);
        assert_eq!(run.platform.uploads.load(Ordering::SeqCst), 2);
        // A request that had registered is settled by reading it back.
        assert_eq!(
            run.platform.read_backs.load(Ordering::SeqCst),
            usize::from(registered)
        );
        run.scheduler.stop().await;
    }
}

/// `outbox.parallel_uploads` jobs go at once, no more; a new limit applies
/// live; a replacement never goes while the document it replaces is under
/// way, however many slots are free.
#[tokio::test]
async fn uploads_go_in_parallel_up_to_the_limit_and_a_replacement_still_waits() {
    let env = Env::new();
    let outbox = env.open();
    assert_eq!(outbox.policy().parallel_uploads, 2);
    let hang = || Answer::Hang { registered: false };
    let platform = Platform::new(vec![hang(), hang(), hang()]);
    let original = push(&outbox, gp()).await;
    let mut req = request(ContentSource::Bytes(PDF.to_vec()), gp());
    req.replaces = Some(original.unique_id.clone());
    let replacement = outbox.enqueue(req).await.unwrap();
    let second = push(&outbox, gp()).await;
    let third = push(&outbox, gp()).await;
    let run = start(&outbox, platform, Some(gp()));
    wait_state(&outbox, &original.job_id, JobState::Uploading).await;
    wait_state(&outbox, &second.job_id, JobState::Uploading).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let state = |job: &Job| outbox.job(&job.job_id).unwrap().state;
    assert_eq!(state(&third), JobState::Queued);
    assert_eq!(state(&replacement), JobState::Queued);
    assert_eq!(run.platform.uploads.load(Ordering::SeqCst), 2);

    let mut wider = outbox.policy();
    wider.parallel_uploads = 4;
    outbox.set_policy(wider);
    wait_state(&outbox, &third.job_id, JobState::Uploading).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(state(&replacement), JobState::Queued);
    assert_eq!(run.platform.uploads.load(Ordering::SeqCst), 3);

    // The session ends: every upload under way stops and waits.
    run.session.send(None).unwrap();
    for job in [&original, &second, &third] {
        wait_state(&outbox, &job.job_id, JobState::WaitingForSession).await;
    }
    assert_eq!(run.platform.abandoned.load(Ordering::SeqCst), 3);
    run.scheduler.stop().await;
}

/// Stopping lets every upload under way finish: none is cut off.
#[tokio::test]
async fn stopping_waits_for_every_upload_under_way() {
    let env = Env::new();
    let outbox = env.open();
    let slowly = || Answer::Slowly(Duration::from_millis(300));
    let platform = Platform::new(vec![slowly(), slowly()]);
    let first = push(&outbox, gp()).await;
    let second = push(&outbox, gp()).await;
    let run = start(&outbox, platform, Some(gp()));
    wait_state(&outbox, &first.job_id, JobState::Uploading).await;
    wait_state(&outbox, &second.job_id, JobState::Uploading).await;
    run.scheduler.stop().await;
    for job in [&first, &second] {
        assert_eq!(outbox.job(&job.job_id).unwrap().state, JobState::Done);
    }
    assert_eq!(run.platform.entries(), 2);
    assert_eq!(run.platform.abandoned.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_replacement_waits_for_the_document_it_replaces() {
    let env = Env::new();
    let outbox = env.open();
    let original = push(&outbox, gp()).await;
    let mut req = request(ContentSource::Bytes(PDF.to_vec()), gp());
    req.replaces = Some(original.unique_id.clone());
    let replacement = outbox.enqueue(req).await.unwrap();
    assert!(
        outbox
            .record(&replacement.job_id)
            .unwrap()
            .entry_uuids
            .replacement
            .is_some()
    );
    // The original fails once, temporarily; the replacement must not overtake it.
    let platform = Platform::new(vec![Answer::Fail(transport(TransportFailure::Connect))]);
    let run = start(&outbox, platform, Some(gp()));
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut events = outbox.subscribe();
    let recorder = {
        let order = Arc::clone(&order);
        tokio::spawn(async move {
            while let Ok(j) = events.recv().await {
                if j.state == JobState::Done {
                    order.lock().unwrap().push(j.job_id);
                }
            }
        })
    };
    assert_eq!(
        wait_final(&outbox, &replacement).await.state,
        JobState::Done
    );
    assert_eq!(wait_final(&outbox, &original).await.state, JobState::Done);
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(
        *order.lock().unwrap(),
        [original.job_id.clone(), replacement.job_id.clone()]
    );
    recorder.abort();
    run.scheduler.stop().await;
}

#[tokio::test]
async fn wait_returns_the_current_state_at_the_timeout() {
    let env = Env::new();
    let outbox = env.open();
    let job = push(&outbox, gp()).await;
    let waited = outbox
        .wait(&job.job_id, Duration::from_millis(50))
        .await
        .unwrap();
    assert_eq!(waited.state, JobState::Queued);
    assert!(matches!(
        outbox
            .wait(&Uuid::new_v4().to_string(), Duration::ZERO)
            .await,
        Err(OutboxError::UnknownJob(_))
    ));
}

#[tokio::test]
async fn registered_records_are_kept_for_a_while_then_removed() {
    let env = Env::new();
    let outbox = env.open();
    let run = start(&outbox, Platform::new(vec![]), Some(gp()));
    let job = push(&outbox, gp()).await;
    wait_final(&outbox, &job).await;
    run.scheduler.stop().await;
    outbox.housekeeping(OffsetDateTime::now_utc()).unwrap();
    assert_eq!(outbox.job(&job.job_id).unwrap().state, JobState::Done);
    outbox
        .housekeeping(OffsetDateTime::now_utc() + time::Duration::hours(2))
        .unwrap();
    assert!(outbox.job(&job.job_id).is_err());
    assert!(!env.spool().join("jobs").join(&job.job_id).exists());
}

#[tokio::test]
async fn outcomes_are_audited_without_secrets() {
    let env = Env::new();
    let audit =
        Arc::new(crate::audit::AuditLog::open(&env.dir.path().join("audit"), 1 << 20, 2).unwrap());
    let outbox = Outbox::open(&env.spool(), policy(), Some(Arc::clone(&audit))).unwrap();
    let run = start(&outbox, Platform::new(vec![]), Some(gp()));
    let job = push(&outbox, gp()).await;
    wait_final(&outbox, &job).await;
    run.scheduler.stop().await;
    let lines = audit.tail(10).unwrap();
    assert_eq!(lines.len(), 2, "{lines:?}");
    let push_line: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    let upload_line: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
    assert_eq!(push_line["action"], "document_push");
    assert_eq!(push_line["outcome"], "accepted");
    assert_eq!(upload_line["action"], "document_upload");
    assert_eq!(upload_line["outcome"], "ok");
    assert_eq!(upload_line["document_unique_id"], job.unique_id.as_str());
    assert_eq!(upload_line["patient"], "1893120105732");
}

#[test]
fn backoff_doubles_and_is_capped() {
    let p = OutboxPolicy {
        retry_base: Duration::from_secs(10),
        retry_max: Duration::from_secs(60),
        ..policy()
    };
    let within = |d: Duration, base: u64| {
        d >= Duration::from_secs(base) && d <= Duration::from_secs(base) * 11 / 10
    };
    assert!(within(p.backoff(1), 10));
    assert!(within(p.backoff(2), 20));
    assert!(within(p.backoff(3), 40));
    assert!(within(p.backoff(4), 60));
    assert!(within(p.backoff(40), 60));
}

#[test]
fn policy_comes_from_the_configuration() {
    let c = crate::config::OutboxConfig::default();
    let p = OutboxPolicy::from_config(&c);
    assert_eq!(p.retry_base, Duration::from_secs(30));
    assert_eq!(p.keep_done, Duration::from_secs(168 * 3600));
    assert_eq!(p.max_document_bytes, 256 * 1024 * 1024);
}

#[tokio::test]
async fn a_missing_spool_copy_fails_the_job_without_uploading() {
    let env = Env::new();
    let outbox = env.open();
    let job = push(&outbox, gp()).await;
    std::fs::remove_file(env.spool().join("jobs").join(&job.job_id).join("content")).unwrap();
    let run = start(&outbox, Platform::new(vec![]), Some(gp()));
    let failed = wait_final(&outbox, &job).await;
    assert_eq!(failed.state, JobState::Failed);
    assert_eq!(failed.error.unwrap().code, ErrorCode::Io);
    assert_eq!(run.platform.uploads.load(Ordering::SeqCst), 0);
    run.scheduler.stop().await;
}

/// Long mode: a 200 MB document is spooled by streaming (the copy buffer
/// is 64 KiB; memory is measured by the benchmarks, not here), with the
/// size and hashes computed on the way.
#[ignore = "long mode"]
#[tokio::test]
async fn a_large_document_is_spooled_with_correct_hashes() {
    use std::io::Write as _;
    const SIZE: usize = 200 * 1024 * 1024;
    let env = Env::new();
    let outbox = Outbox::open(
        &env.spool(),
        OutboxPolicy {
            max_document_bytes: SIZE as u64,
            ..policy()
        },
        None,
    )
    .unwrap();
    let path = env.dir.path().join("large.pdf");
    let mut file = std::fs::File::create(&path).unwrap();
    let mut sha1 = sha1::Sha1::new();
    let mut block = vec![0u8; 1024 * 1024];
    block[..5].copy_from_slice(b"%PDF-");
    for i in 0..SIZE / block.len() {
        block[100] = i as u8;
        file.write_all(&block).unwrap();
        sha1.update(&block);
        block[..5].copy_from_slice(b"xxxxx");
    }
    drop(file);
    let job = outbox
        .enqueue(request(ContentSource::Path(path), gp()))
        .await
        .unwrap();
    let record = outbox.record(&job.job_id).unwrap();
    assert_eq!(record.content.size, SIZE as u64);
    assert_eq!(record.content.sha1, spool::hex(&sha1.finalize()));
    assert_eq!(record.metadata.mime_type, "application/pdf");
}
