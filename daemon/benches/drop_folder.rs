//! The drop folder's cost against the bare operation it wraps (issue 7's
//! goals), against the sandbox over HTTPS:
//!
//! - 1,000 documents of 20 KB dropped at once (with sidecars) until every
//!   receipt is in `sent/`, against the platform client posting the same
//!   ITI-41 submissions directly (goal ≤ 1.3×);
//! - time from close-after-write to upload start, one document at a time
//!   (goal ≤ 0.5 s).
//!
//! `cargo bench -p dspconnectd --bench drop_folder` writes
//! `target/bench-results/drop-folder.md`; `scripts/test.sh --long` gathers
//! it into docs/benchmarks.md. Without `--bench` it runs a small smoke
//! version and writes nothing.

#[path = "../tests/daemon_support/mod.rs"]
mod daemon_support;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use daemon_support::*;
use dspconnect::ipc::protocol::SessionState;
use dspconnect::model::{ConfidentialityMode, Pin};
use dspconnectd::card::PlatformKind;
use dspconnectd::card::software::{SoftwareCard, software_reader};
use dspconnectd::card::spawn_card_thread;
use dspconnectd::config::DropFolderConfig;
use dspconnectd::drop_folder::{DropFolderStatus, spawn_drop_folder};
use dspconnectd::outbox::{
    ContentSource, EnqueueRequest, JobRecord, Outbox, OutboxPolicy, PlatformFault, ReadBackOutcome,
    ResolveContext, UploadFailure, UploadOutcome, Uploader,
};
use dspconnectd::platform::PlatformClient;
use dspconnectd::session::{SessionConfig, SessionHandle, spawn_session};

const MARIE: &str = "1945093006704";

/// Throughput rounds, drop folder and baseline interleaved.
const ROUNDS: usize = 3;

/// The session's uploader (as the daemon's), noting when each upload starts.
struct TimedUploader {
    platform: PlatformClient,
    session: SessionHandle,
    started: Mutex<HashMap<String, Instant>>,
}

impl Uploader for TimedUploader {
    async fn upload(&self, job: &JobRecord, content: &Path) -> UploadOutcome {
        self.started
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(job.metadata.title.clone())
            .or_insert_with(Instant::now);
        match (self.session.owner(), self.session.current_assertion()) {
            (Some(owner), Some(a)) if owner == job.owner => {
                self.platform.submit(&a, job, content).await
            }
            _ => UploadOutcome::Failed(UploadFailure::Fault {
                fault: PlatformFault::AssertionMissing,
                message: "no session".into(),
            }),
        }
    }

    async fn read_back(&self, job: &JobRecord) -> ReadBackOutcome {
        match self.session.current_assertion() {
            Some(a) => self.platform.find_by_unique_id(&a, job).await,
            None => ReadBackOutcome::Failed(UploadFailure::Fault {
                fault: PlatformFault::AssertionMissing,
                message: "no session".into(),
            }),
        }
    }
}

fn main() -> ExitCode {
    let full = std::env::args().any(|a| a == "--bench");
    let (files, latency_files) = if full { (1_000, 50) } else { (10, 5) };
    let report = run(files, 20 * 1024, latency_files);
    if full {
        let dir = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
            .join("bench-results");
        if let Err(e) = std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(dir.join("drop-folder.md"), &report))
        {
            eprintln!("drop_folder: cannot write the report: {e}");
            return ExitCode::FAILURE;
        }
    }
    print!("{report}");
    ExitCode::SUCCESS
}

fn count_receipts(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".receipt.json"))
                .count()
        })
        .unwrap_or(0)
}

fn run(files: usize, bytes: usize, latency_files: usize) -> String {
    let sandbox = ExternalSandbox::start();
    let profile = sandbox.profile();
    let work = tempfile::tempdir().expect("work dir");
    let (card_dir, pin) = sandbox.export_card("SBX1001", work.path());
    let (through_drop, latencies) = sandbox.runtime.block_on(async {
        let platform = PlatformClient::new(&profile).expect("platform client");
        let card = SoftwareCard::load(&card_dir).expect("card");
        let (reader, control) = software_reader(false);
        control.insert(&card);
        let (card_handle, card_events) = spawn_card_thread(Box::new(reader)).expect("card");
        let (events, _) = tokio::sync::broadcast::channel(256);
        let session = spawn_session(
            card_handle,
            card_events,
            Arc::new(platform.clone()),
            SessionConfig::new(PlatformKind::Sandbox),
            events,
        );
        while session.status().1.state != SessionState::CardPresent {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        session
            .unlock(Pin::new(pin.clone()).expect("PIN"))
            .await
            .expect("unlock");
        let outbox = Outbox::open(
            &work.path().join("spool"),
            OutboxPolicy::from_config(&Default::default()),
            None,
        )
        .expect("outbox");
        let uploader = Arc::new(TimedUploader {
            platform: platform.clone(),
            session: session.clone(),
            started: Mutex::new(HashMap::new()),
        });
        let _scheduler = outbox.spawn_scheduler(Arc::clone(&uploader), session.watch_owner());
        let root = work.path().join("drop");
        dspconnectd::private_fs::create_private_dir_all(&root).expect("drop folder");
        let handle = spawn_drop_folder(
            &DropFolderConfig {
                path: Some(root.clone()),
                ..DropFolderConfig::default()
            },
            outbox.clone(),
            session.watch_owner(),
            ResolveContext::from_profile(&profile),
        )
        .expect("drop folder");
        let sidecar =
            br#"{"patient": "1945093006704", "patient_statement": {"informed_and_agrees": true}}"#;

        // Latency: one document at a time, close to upload start.
        let mut latencies = Vec::new();
        for i in 0..latency_files {
            let name = format!("Latency {i}.pdf");
            std::fs::write(root.join(format!("{name}.dsp.json")), sidecar).expect("sidecar");
            let mut f = std::fs::File::create(root.join(&name)).expect("document");
            f.write_all(&pdf(bytes, (i % 251) as u8)).expect("write");
            f.write_all(format!("% latency {i}\n").as_bytes())
                .expect("write");
            drop(f);
            let closed = Instant::now();
            let title = format!("Latency {i}");
            loop {
                if let Some(t) = uploader.started.lock().expect("lock").get(&title) {
                    latencies.push(*t - closed);
                    break;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        let mut status = handle.status();
        let sent_reaches = async |status: &mut tokio::sync::watch::Receiver<DropFolderStatus>,
                                  n: usize| {
            // The drop folder's own count of receipts written (reading
            // sent/ every few ms would cost more as it fills).
            while status.borrow_and_update().sent < n as u64 {
                status.changed().await.expect("drop folder running");
            }
        };
        sent_reaches(&mut status, latency_files).await;
        assert_eq!(count_receipts(&root.join("sent")), latency_files);

        // Throughput: all at once, until every receipt is written; each
        // round followed by the platform client alone with as many
        // documents (the machine may be shared: rounds interleave, and the
        // ratio is the median of the rounds').
        let mut rounds = Vec::new();
        for round in 0..ROUNDS {
            let started = Instant::now();
            for i in 0..files {
                let name = format!("Bench {round}-{i}.pdf");
                std::fs::write(root.join(format!("{name}.dsp.json")), sidecar).expect("sidecar");
                let mut content = pdf(bytes, (i % 251) as u8);
                content.extend_from_slice(format!("% bench {round} {i}\n").as_bytes());
                std::fs::write(root.join(&name), content).expect("document");
            }
            sent_reaches(&mut status, latency_files + (round + 1) * files).await;
            let through_drop = started.elapsed();
            assert_eq!(
                count_receipts(&root.join("sent")),
                latency_files + (round + 1) * files
            );
            let bare = bare_submissions(&profile, &card_dir, &pin, round, files, bytes).await;
            rounds.push((through_drop, bare));
        }
        handle.shutdown().await;
        (rounds, latencies)
    });
    let mut ratios: Vec<f64> = through_drop
        .iter()
        .map(|(drop, bare)| drop.as_secs_f64() / bare.as_secs_f64())
        .collect();
    ratios.sort_by(f64::total_cmp);
    let ratio = ratios[ratios.len() / 2];
    let (drop_median, bare_median) = {
        let mut drops: Vec<Duration> = through_drop.iter().map(|r| r.0).collect();
        let mut bares: Vec<Duration> = through_drop.iter().map(|r| r.1).collect();
        drops.sort();
        bares.sort();
        (drops[drops.len() / 2], bares[bares.len() / 2])
    };
    let all_ratios = ratios
        .iter()
        .map(|r| format!("{r:.2}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut latencies = latencies;
    latencies.sort();
    let median = latencies[latencies.len() / 2];
    let max = latencies[latencies.len() - 1];
    format!(
        "## Drop folder (`cargo bench -p dspconnectd --bench drop_folder`)\n\n\
         | measure | drop folder | baseline | ratio | goal |\n\
         |---|---|---|---|---|\n\
         | {files} documents of {} KB dropped at once, until every receipt is in `sent/` (median of {ROUNDS} rounds, each followed by its baseline; ratios {all_ratios}) | {:.2} s | {:.2} s platform client alone | {ratio:.2}× | ≤ 1.3× |\n\
         | close-after-write to upload start ({} documents, one at a time) | median {:.0} ms, max {:.0} ms | — | — | ≤ 0.5 s |\n\n",
        bytes / 1024,
        drop_median.as_secs_f64(),
        bare_median.as_secs_f64(),
        latencies.len(),
        median.as_secs_f64() * 1e3,
        max.as_secs_f64() * 1e3,
    )
}

/// The same submissions by the platform client alone (spooled first, as
/// the outbox does; only the posting is timed).
async fn bare_submissions(
    profile: &dspconnectd::config::PlatformProfile,
    card_dir: &Path,
    pin: &str,
    round: usize,
    files: usize,
    bytes: usize,
) -> Duration {
    {
        use dspconnectd::card::{CardEvent, CardSigner};
        use dspconnectd::session::Authenticator as _;
        let client = PlatformClient::new(profile).expect("platform client");
        let card = SoftwareCard::load(card_dir).expect("card");
        let (reader, control) = software_reader(false);
        control.insert(&card);
        let (handle, mut events) = spawn_card_thread(Box::new(reader)).expect("card thread");
        let identity = loop {
            match events.recv().await.expect("card event") {
                CardEvent::CardInserted { identity, .. } => break identity,
                _ => continue,
            }
        };
        handle
            .verify_pin(identity.fingerprint, Pin::new(pin.to_owned()).expect("PIN"))
            .await
            .expect("PIN verified");
        let assertion = client
            .authenticate_with_card(CardSigner::new(handle.clone(), identity.clone()))
            .await
            .expect("authenticated");
        let spool = tempfile::tempdir().expect("spool");
        let outbox = Outbox::open(
            &spool.path().join("spool"),
            OutboxPolicy::from_config(&Default::default()),
            None,
        )
        .expect("outbox");
        let owner = dspconnectd::outbox::Owner::new(
            &identity.ehealth_id,
            &identity.fingerprint.to_string(),
        )
        .expect("owner");
        let mut records = Vec::new();
        for i in 0..files {
            let mut content = pdf(bytes, (i % 251) as u8);
            content.extend_from_slice(format!("% bare {round} {i}\n").as_bytes());
            let job = outbox
                .enqueue(EnqueueRequest {
                    source: ContentSource::Bytes(content),
                    metadata: metadata(
                        MARIE,
                        &format!("Bare {round}-{i}"),
                        ConfidentialityMode::Normal,
                    ),
                    replaces: None,
                    owner: owner.clone(),
                    access: None,
                    context: ResolveContext::from_profile(profile),
                })
                .await
                .expect("enqueue");
            let record = outbox.record(&job.job_id).expect("record");
            let content = outbox.content_path(&job.job_id).expect("content path");
            records.push((record, content));
        }
        let started = Instant::now();
        for (record, content) in &records {
            let outcome = client.submit(&assertion, record, content).await;
            assert_eq!(outcome, UploadOutcome::Registered);
        }
        started.elapsed()
    }
}
