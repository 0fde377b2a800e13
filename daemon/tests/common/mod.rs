//! A scripted daemon: the real IPC server on its own socket, in a runtime
//! of its own, answering through a small in-memory handler. It tests the
//! IPC server itself (framing, concurrency, events) and the paths of
//! `dspctl` the real daemon cannot be made to take on demand (a pinpad, a
//! burst of events); everything else runs against the real `dspconnectd`
//! (daemon_support, daemon_e2e.rs, dspctl_real.rs).

#![allow(dead_code)] // each test file uses a different part

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use dspconnect::ErrorCode;
use dspconnect::ipc::Endpoint;
use dspconnect::ipc::protocol::*;
use dspconnect::model::ConfidentialityMode;
use dspconnectd::ipc_server::{ConnectionContext, IpcServer, Router, ServerOptions};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::{broadcast, oneshot};

pub const PIN: &str = "1234";
pub const PATIENT: &str = "1893120105732";

pub struct TestDaemon {
    /// Holds the socket directory; removed on drop.
    pub dir: tempfile::TempDir,
    pub endpoint: Endpoint,
    pub events: broadcast::Sender<Event>,
    pub state: Arc<Mutex<State>>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub sandbox: bool,
    /// Jobs are created done (otherwise they stay queued for ever).
    pub complete_jobs: bool,
    pub event_capacity: usize,
    pub server: ServerOptions,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            sandbox: true,
            complete_jobs: false,
            event_capacity: 256,
            server: ServerOptions::default(),
        }
    }
}

/// What the handler remembers.
#[derive(Debug, Default)]
pub struct State {
    pub sandbox: bool,
    pub complete_jobs: bool,
    pub jobs: Vec<Job>,
    pub uploads: HashMap<String, Vec<u8>>,
    pub committed: HashMap<String, Vec<u8>>,
    pub reads: HashMap<String, Vec<u8>>,
    /// (method, peer pid) of every call, in arrival order.
    pub calls: Vec<(String, Option<u32>)>,
    pub last_pin: Option<String>,
    pub last_push: Option<PushParams>,
}

/// The content `document.get` and `document.open_read` return.
pub fn document_content() -> Vec<u8> {
    (0..300_000u32).map(|i| (i % 251) as u8).collect()
}

impl TestDaemon {
    pub fn start(name: &str) -> TestDaemon {
        TestDaemon::start_with(name, Options::default())
    }

    pub fn start_with(name: &str, options: Options) -> TestDaemon {
        let dir = tempfile::tempdir().unwrap();
        // The server creates the `dspconnect` directory itself (0700).
        let endpoint =
            Endpoint::at_path(dir.path().join("dspconnect").join(format!("{name}.sock")));
        let (events, _) = broadcast::channel(options.event_capacity);
        let state = Arc::new(Mutex::new(State {
            sandbox: options.sandbox,
            complete_jobs: options.complete_jobs,
            ..State::default()
        }));
        let (stop, stopped) = oneshot::channel::<()>();
        let (ready, bound) = std::sync::mpsc::channel();
        let thread = {
            let endpoint = endpoint.clone();
            let events = events.clone();
            let state = Arc::clone(&state);
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async move {
                    let server = match IpcServer::bind(endpoint, events.clone()) {
                        Ok(s) => s.with_options(options.server),
                        Err(e) => {
                            ready.send(Err(e.to_string())).unwrap();
                            return;
                        }
                    };
                    ready.send(Ok(())).unwrap();
                    let handler = Arc::new(router(state, events));
                    server
                        .serve(handler, async {
                            let _ = stopped.await;
                        })
                        .await;
                });
            })
        };
        bound
            .recv()
            .unwrap()
            .expect("the test daemon could not bind");
        TestDaemon {
            dir,
            endpoint,
            events,
            state,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    pub fn socket(&self) -> &Path {
        self.endpoint.path()
    }

    /// Shuts the server down and waits until `serve` has returned.
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }

    pub fn publish(&self, event: Event) {
        // No subscriber is not an error for the daemon.
        let _ = self.events.send(event);
    }

    pub fn calls(&self) -> Vec<String> {
        self.state
            .lock()
            .unwrap()
            .calls
            .iter()
            .map(|(m, _)| m.clone())
            .collect()
    }
}

impl Drop for TestDaemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A raw line-level connection, for what the typed client cannot send.
pub struct Raw {
    pub stream: UnixStream,
    reader: BufReader<UnixStream>,
}

impl Raw {
    pub fn connect(path: &Path) -> Raw {
        let stream = UnixStream::connect(path).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        Raw { stream, reader }
    }

    pub fn send(&mut self, line: &str) {
        self.stream.write_all(line.as_bytes()).unwrap();
        self.stream.write_all(b"\n").unwrap();
    }

    pub fn recv(&mut self) -> Value {
        let mut line = String::new();
        let n = self.reader.read_line(&mut line).unwrap();
        assert!(n > 0, "the server closed the connection");
        assert!(line.ends_with('\n'), "unterminated line {line:?}");
        serde_json::from_str(&line).unwrap()
    }

    /// Sends a line and returns the answer.
    pub fn ask(&mut self, line: &str) -> Value {
        self.send(line);
        self.recv()
    }
}

fn professional() -> Professional {
    Professional {
        ehealth_id: "2854201475".into(),
        name: "Dr Test Généraliste".into(),
        profession: Some("Médecin".into()),
        specialty: None,
    }
}

fn session(state: SessionState) -> SessionInfo {
    SessionInfo {
        state,
        lock_reason: None,
        professional: Some(professional()),
        expires_at: Some("2030-01-01T12:00:00Z".into()),
    }
}

fn check_patient(patient: &str, field: &str) -> Result<(), RpcError> {
    if patient.len() == 13 && patient.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(RpcError::new(
            ErrorCode::BadMatricule,
            format!("'{patient}' is not a matricule"),
        )
        .with_field(field)
        .with_hint("a matricule has 13 digits"))
    }
}

fn summary(patient: &str, unique_id: &str, mode: ConfidentialityMode) -> DocumentSummary {
    DocumentSummary {
        unique_id: unique_id.into(),
        entry_uuid: "urn:uuid:0d3f1b9e-7a52-4c1e-9d1e-1b0c3a4f5e60".into(),
        patient: patient.into(),
        title: "Lettre de sortie".into(),
        mode,
        mime_type: "application/pdf".into(),
        size: 1234,
        hash: "da39a3ee5e6b4b0d3255bfef95601890afd80709".into(),
        author: professional(),
        creation_time: "2025-01-01T10:00:00Z".into(),
        submission_time: Some("2025-01-01T10:05:00Z".into()),
        status: "Approved".into(),
    }
}

type Shared = Arc<Mutex<State>>;

fn record(state: &Shared, ctx: &ConnectionContext, method: &str) {
    state
        .lock()
        .unwrap()
        .calls
        .push((method.to_owned(), ctx.peer_pid));
}

fn enqueue(
    state: &Shared,
    events: &broadcast::Sender<Event>,
    source: &DocumentSource,
    metadata: &PushMetadata,
    replaces: Option<String>,
) -> Result<PushAccepted, RpcError> {
    check_patient(&metadata.patient, "metadata.patient")?;
    if !metadata.patient_statement.informed_and_agrees {
        return Err(RpcError::new(
            ErrorCode::MissingPatientStatement,
            "the patient must be informed and agree",
        )
        .with_field("metadata.patient_statement.informed_and_agrees"));
    }
    let mut s = state.lock().unwrap();
    let size = match source {
        DocumentSource::Path(p) => {
            let meta = std::fs::metadata(p).map_err(|_| {
                RpcError::new(ErrorCode::FileNotFound, format!("no file {p}"))
                    .with_field("source.path")
            })?;
            if !meta.is_file() {
                return Err(
                    RpcError::new(ErrorCode::NotAFile, format!("{p} is not a file"))
                        .with_field("source.path"),
                );
            }
            meta.len()
        }
        DocumentSource::Base64(b) => BASE64.decode(b).map(|v| v.len() as u64).map_err(|e| {
            RpcError::new(ErrorCode::InvalidArgument, e.to_string()).with_field("source.base64")
        })?,
        DocumentSource::Upload(id) => s
            .committed
            .get(id)
            .map(|v| v.len() as u64)
            .ok_or_else(|| RpcError::new(ErrorCode::InvalidArgument, "no such upload"))?,
    };
    let n = s.jobs.len() + 1;
    let job = Job {
        job_id: format!("job-{n}"),
        state: if s.complete_jobs {
            JobState::Done
        } else {
            JobState::Queued
        },
        unique_id: format!("2.25.{n}"),
        patient: metadata.patient.clone(),
        title: metadata.title.clone(),
        mode: metadata.mode,
        professional: professional().ehealth_id,
        replaces,
        attempts: 0,
        size,
        sent: 0,
        created_at: "2025-01-01T10:00:00Z".into(),
        updated_at: "2025-01-01T10:00:00Z".into(),
        error: None,
    };
    s.jobs.push(job.clone());
    let _ = events.send(Event::Job { job: job.clone() });
    Ok(PushAccepted {
        job_id: job.job_id,
        unique_id: job.unique_id,
    })
}

fn find_job(state: &Shared, id: &str) -> Result<Job, RpcError> {
    state
        .lock()
        .unwrap()
        .jobs
        .iter()
        .find(|j| j.job_id == id)
        .cloned()
        .ok_or_else(|| {
            RpcError::new(ErrorCode::UnknownJob, format!("no job {id}")).with_field("job_id")
        })
}

macro_rules! with {
    ($state:ident, $events:ident, |$ctx:ident, $p:ident| $body:expr) => {{
        let $state = Arc::clone(&$state);
        let $events = $events.clone();
        move |$ctx: ConnectionContext, $p| {
            let $state = Arc::clone(&$state);
            let $events = $events.clone();
            async move {
                let _ = &$events;
                $body
            }
        }
    }};
}

pub fn router(state: Shared, events: broadcast::Sender<Event>) -> Router {
    Router::new()
        .route::<StatusMethod, _>(with!(state, events, |ctx, _p| {
            record(&state, &ctx, "status");
            let s = state.lock().unwrap();
            Ok(Status {
                version: "test".into(),
                protocol: PROTOCOL_VERSION,
                sandbox: s.sandbox,
                platform: if s.sandbox {
                    "sandbox".into()
                } else {
                    "test-platform".into()
                },
                card: CardStatus {
                    reader_present: true,
                    card_present: true,
                    reader: Some("Virtual PCD 00 00".into()),
                    holder: Some(professional()),
                    ..CardStatus::default()
                },
                session: session(SessionState::Authenticated),
                outbox: OutboxSummary {
                    queued: s.jobs.len() as u32,
                    ..OutboxSummary::default()
                },
            })
        }))
        .route::<Unlock, _>(with!(state, events, |ctx, p| {
            record(&state, &ctx, "session.unlock");
            match p.pin {
                None => Ok(session(SessionState::PinpadPending)),
                Some(pin) if pin.expose() == PIN => {
                    state.lock().unwrap().last_pin = Some(pin.expose().to_owned());
                    Ok(session(SessionState::Authenticated))
                }
                Some(_) => Err(RpcError::new(ErrorCode::WrongPin, "wrong PIN")
                    .with_pin_tries_left(2)
                    .with_hint("2 tries left before the card blocks")),
            }
        }))
        .route::<Lock, _>(with!(state, events, |ctx, _p| {
            record(&state, &ctx, "session.lock");
            Ok(SessionInfo {
                lock_reason: Some(LockReason::Explicit),
                ..session(SessionState::Locked)
            })
        }))
        .route::<PasswordLogin, _>(with!(state, events, |ctx, p| {
            record(&state, &ctx, "session.password_login");
            check_patient(&p.matricule, "matricule")?;
            if p.password.expose() != "secret-pw" {
                return Err(RpcError::new(
                    ErrorCode::AuthenticationRefused,
                    "wrong password",
                ));
            }
            Ok(session(SessionState::Password))
        }))
        .route::<ActivateAccount, _>(with!(state, events, |ctx, p| {
            record(&state, &ctx, "account.activate");
            check_patient(&p.matricule, "matricule")?;
            Ok(ActivationPending {
                email_sent_to: "d***@example.lu".into(),
                code_expires_at: "2030-01-01T12:00:00Z".into(),
            })
        }))
        .route::<ConfirmActivation, _>(with!(state, events, |ctx, p| {
            record(&state, &ctx, "account.activate_confirm");
            if p.email_code.expose() != "777" {
                return Err(RpcError::new(
                    ErrorCode::ActivationRefused,
                    "wrong e-mail code",
                ));
            }
            Ok(ActivationDone {
                professional: professional(),
            })
        }))
        .route::<ChangePassword, _>(with!(state, events, |ctx, _p| {
            record(&state, &ctx, "account.change_password");
            Ok(Empty {})
        }))
        .route::<PatientAccess, _>(with!(state, events, |ctx, p| {
            record(&state, &ctx, "patient.access");
            check_patient(&p.patient, "patient")?;
            Ok(ConsultationGrant {
                grant_id: "grant-1".into(),
                patient: p.patient,
                expires_at: "2030-01-01T12:00:00Z".into(),
            })
        }))
        .route::<Push, _>(with!(state, events, |ctx, p| {
            record(&state, &ctx, "document.push");
            let accepted = enqueue(&state, &events, &p.source, &p.metadata, None)?;
            state.lock().unwrap().last_push = Some(p);
            Ok(accepted)
        }))
        .route::<Replace, _>(with!(state, events, |ctx, p| {
            record(&state, &ctx, "document.replace");
            enqueue(
                &state,
                &events,
                &p.source,
                &p.metadata,
                Some(p.replaces.clone()),
            )
        }))
        .route::<UploadBegin, _>(with!(state, events, |ctx, _p| {
            record(&state, &ctx, "document.upload_begin");
            let mut s = state.lock().unwrap();
            let id = format!("upload-{}", s.uploads.len() + s.committed.len() + 1);
            s.uploads.insert(id.clone(), Vec::new());
            Ok(UploadHandle { upload_id: id })
        }))
        .route::<UploadChunk, _>(with!(state, events, |ctx, p| {
            record(&state, &ctx, "document.upload_chunk");
            let data = BASE64.decode(&p.data).map_err(|e| {
                RpcError::new(ErrorCode::InvalidArgument, e.to_string()).with_field("data")
            })?;
            if data.len() > MAX_CHUNK_BYTES {
                return Err(
                    RpcError::new(ErrorCode::InvalidArgument, "chunk too big").with_field("data")
                );
            }
            let mut s = state.lock().unwrap();
            let buf = s
                .uploads
                .get_mut(&p.upload_id)
                .ok_or_else(|| RpcError::new(ErrorCode::InvalidArgument, "no such upload"))?;
            if p.offset != buf.len() as u64 {
                return Err(
                    RpcError::new(ErrorCode::InvalidArgument, "wrong offset").with_field("offset")
                );
            }
            buf.extend_from_slice(&data);
            Ok(UploadProgress {
                received: buf.len() as u64,
            })
        }))
        .route::<UploadCommit, _>(with!(state, events, |ctx, p| {
            record(&state, &ctx, "document.upload_commit");
            let mut s = state.lock().unwrap();
            let buf = s
                .uploads
                .remove(&p.upload_id)
                .ok_or_else(|| RpcError::new(ErrorCode::InvalidArgument, "no such upload"))?;
            let digest = format!("{:x}", Sha256::digest(&buf));
            if digest != p.sha256 {
                return Err(RpcError::new(ErrorCode::InvalidArgument, "sha256 mismatch")
                    .with_field("sha256"));
            }
            let size = buf.len() as u64;
            s.committed.insert(p.upload_id.clone(), buf);
            Ok(UploadCommitted {
                upload_id: p.upload_id,
                size,
            })
        }))
        .route::<JobStatus, _>(with!(state, events, |ctx, p| {
            record(&state, &ctx, "job.status");
            find_job(&state, &p.job_id)
        }))
        .route::<JobWait, _>(with!(state, events, |ctx, p| {
            record(&state, &ctx, "job.wait");
            // Jobs of the test handler never move: waiting for one that
            // is not done lasts the whole timeout.
            let job = find_job(&state, &p.job_id)?;
            if !job.state.is_final() {
                tokio::time::sleep(Duration::from_millis(p.timeout_ms)).await;
            }
            Ok(job)
        }))
        .route::<JobList, _>(with!(state, events, |ctx, _p| {
            record(&state, &ctx, "job.list");
            Ok(JobListResult {
                jobs: state.lock().unwrap().jobs.clone(),
            })
        }))
        .route::<SetMode, _>(with!(state, events, |ctx, p| {
            record(&state, &ctx, "document.set_mode");
            check_patient(&p.patient, "patient")?;
            if p.mode == ConfidentialityMode::VisiteAnnonce {
                return Err(RpcError::new(
                    ErrorCode::ModeChangeRefused,
                    "a document cannot go back to Visite d'annonce",
                ));
            }
            Ok(summary(&p.patient, &p.unique_id, p.mode))
        }))
        .route::<List, _>(with!(state, events, |ctx, p| {
            record(&state, &ctx, "document.list");
            check_patient(&p.patient, "patient")?;
            Ok(DocumentList {
                documents: vec![
                    summary(&p.patient, "2.25.100", ConfidentialityMode::Normal),
                    summary(&p.patient, "2.25.101", ConfidentialityMode::Restreint),
                ],
                patient: p.patient,
            })
        }))
        .route::<GetToPath, _>(with!(state, events, |ctx, p| {
            record(&state, &ctx, "document.get");
            let content = document_content();
            std::fs::write(&p.path, &content).map_err(|e| {
                RpcError::new(ErrorCode::BadOutputPath, e.to_string()).with_field("path")
            })?;
            Ok(Retrieved {
                path: p.path,
                size: content.len() as u64,
                sha256: format!("{:x}", Sha256::digest(&content)),
                mime_type: "application/pdf".into(),
            })
        }))
        .route::<OpenRead, _>(with!(state, events, |ctx, _p| {
            record(&state, &ctx, "document.open_read");
            let content = document_content();
            let size = content.len() as u64;
            let mut s = state.lock().unwrap();
            let id = format!("read-{}", s.reads.len() + 1);
            s.reads.insert(id.clone(), content);
            Ok(ReadHandle {
                read_id: id,
                size,
                mime_type: "application/pdf".into(),
            })
        }))
        .route::<ReadChunk, _>(with!(state, events, |ctx, p| {
            record(&state, &ctx, "document.read_chunk");
            let s = state.lock().unwrap();
            let content = s
                .reads
                .get(&p.read_id)
                .ok_or_else(|| RpcError::new(ErrorCode::InvalidArgument, "no such read"))?;
            let start = (p.offset as usize).min(content.len());
            let end = (start + (p.length as usize).min(MAX_CHUNK_BYTES)).min(content.len());
            Ok(Chunk {
                data: BASE64.encode(&content[start..end]),
                eof: end == content.len(),
            })
        }))
        .route::<CloseRead, _>(with!(state, events, |ctx, p| {
            record(&state, &ctx, "document.close_read");
            state.lock().unwrap().reads.remove(&p.read_id);
            Ok(Empty {})
        }))
        .route::<OpenDsp, _>(with!(state, events, |ctx, p| {
            record(&state, &ctx, "dsp.open");
            Ok(DspUrl {
                url: format!(
                    "https://127.0.0.1:8443/portal/ticket/abc?patient={}",
                    p.patient
                ),
                expires_at: "2030-01-01T12:00:00Z".into(),
                browser_launched: p.launch_browser,
            })
        }))
        .route::<ReportAnomaly, _>(with!(state, events, |ctx, _p| {
            record(&state, &ctx, "document.report_anomaly");
            Ok(AnomalyReported {
                report_id: "anomaly-1".into(),
            })
        }))
        .route::<HpdLookup, _>(with!(state, events, |ctx, _p| {
            record(&state, &ctx, "hpd.lookup");
            Ok(HpdResult {
                professionals: vec![professional()],
            })
        }))
        .route::<LogTail, _>(with!(state, events, |ctx, p| {
            record(&state, &ctx, "log.tail");
            Ok(LogLines {
                lines: (0..p.lines.min(3))
                    .map(|i| format!(r#"{{"seq":{i},"action":"push"}}"#))
                    .collect(),
            })
        }))
}

/// A path in `dir` with `content`.
pub fn file_with(dir: &Path, name: &str, content: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}
