//! The drop folder end to end: a software card's session on the sandbox
//! over HTTPS (the platform client), the outbox, and the drop folder. A
//! dropped report reaches the DSP once, with a receipt; a report for a
//! patient the professional has no access to ends in `failed/` with the
//! `dspctl access` hint; after access is opened with the presence code and
//! the file moved back, it is sent.

#![cfg(feature = "sandbox")]

mod daemon_support;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use daemon_support::*;
use dspconnect::ipc::protocol::{ListParams, SessionState};
use dspconnect::model::{Matricule, Pin, PresenceCode};
use dspconnectd::card::PlatformKind;
use dspconnectd::card::software::{SoftwareCard, software_reader};
use dspconnectd::card::spawn_card_thread;
use dspconnectd::config::DropFolderConfig;
use dspconnectd::drop_folder::spawn_drop_folder;
use dspconnectd::outbox::{
    JobRecord, Outbox, OutboxPolicy, PlatformFault, ReadBackOutcome, ResolveContext, UploadFailure,
    UploadOutcome, Uploader,
};
use dspconnectd::platform::PlatformClient;
use dspconnectd::session::{Assertion, SessionConfig, SessionHandle, spawn_session};
use serde_json::{Value, json};

const REFERENT_GP: &str = "SBX1001";
const MARIE: &str = "1945093006704";
const TOM: &str = "2005062201818";

/// The outbox's uploader, in the session's name (as the daemon's).
struct SessionUploader {
    platform: PlatformClient,
    session: SessionHandle,
}

impl SessionUploader {
    fn assertion(&self, job: &JobRecord) -> Result<Assertion, UploadFailure> {
        match (self.session.owner(), self.session.current_assertion()) {
            (Some(owner), Some(a)) if owner == job.owner => Ok(a),
            _ => Err(UploadFailure::Fault {
                fault: PlatformFault::AssertionMissing,
                message: "no session".into(),
            }),
        }
    }
}

impl Uploader for SessionUploader {
    async fn upload(&self, job: &JobRecord, content: &Path) -> UploadOutcome {
        match self.assertion(job) {
            Ok(a) => self.platform.submit(&a, job, content).await,
            Err(f) => UploadOutcome::Failed(f),
        }
    }

    async fn read_back(&self, job: &JobRecord) -> ReadBackOutcome {
        match self.assertion(job) {
            Ok(a) => self.platform.find_by_unique_id(&a, job).await,
            Err(f) => ReadBackOutcome::Failed(f),
        }
    }
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

async fn wait_file(path: &Path, within: Duration) {
    let deadline = Instant::now() + within;
    while std::fs::symlink_metadata(path).is_err() {
        assert!(
            Instant::now() < deadline,
            "{} did not appear",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn drop_pair(root: &Path, name: &str, bytes: &[u8], sidecar: Value) {
    std::fs::write(
        root.join(format!("{name}.dsp.json")),
        serde_json::to_vec(&sidecar).unwrap(),
    )
    .unwrap();
    std::fs::write(root.join(name), bytes).unwrap();
}

#[test]
fn dropped_reports_reach_the_sandbox_once_or_fail_with_the_access_hint() {
    let sandbox = ExternalSandbox::start();
    let profile = sandbox.profile();
    let work = tempfile::tempdir().unwrap();
    let (card_dir, pin) = sandbox.export_card(REFERENT_GP, work.path());
    let presence_code = sandbox.presence_code(TOM);
    sandbox.runtime.block_on(async {
        let platform = PlatformClient::new(&profile).unwrap();
        let card = SoftwareCard::load(&card_dir).unwrap();
        let (reader, control) = software_reader(false);
        control.insert(&card);
        let (card_handle, card_events) = spawn_card_thread(Box::new(reader)).unwrap();
        let (events, _) = tokio::sync::broadcast::channel(256);
        let session = spawn_session(
            card_handle,
            card_events,
            Arc::new(platform.clone()),
            SessionConfig::new(PlatformKind::Sandbox),
            events,
        );
        // The card is seen, then unlocked.
        let deadline = Instant::now() + Duration::from_secs(30);
        while session.status().1.state != SessionState::CardPresent {
            assert!(Instant::now() < deadline, "{:?}", session.status());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let info = session
            .unlock(Pin::new(pin.clone()).unwrap())
            .await
            .unwrap();
        assert_eq!(info.state, SessionState::Authenticated);

        let outbox = Outbox::open(
            &work.path().join("spool"),
            OutboxPolicy {
                max_document_bytes: 16 * 1024 * 1024,
                retry_base: Duration::from_millis(100),
                retry_max: Duration::from_secs(2),
                max_attempts_for_retryable: 10,
                keep_done: Duration::from_secs(3600),
                upload_expiry: Duration::from_secs(3600),
                parallel_uploads: 2,
            },
            None,
        )
        .unwrap();
        let _scheduler = outbox.spawn_scheduler(
            Arc::new(SessionUploader {
                platform: platform.clone(),
                session: session.clone(),
            }),
            session.watch_owner(),
        );
        let root = work.path().join("drop");
        dspconnectd::private_fs::create_private_dir_all(&root).unwrap();
        let config = DropFolderConfig {
            path: Some(root.clone()),
            ..DropFolderConfig::default()
        };
        let handle = spawn_drop_folder(
            &config,
            outbox.clone(),
            session.watch_owner(),
            ResolveContext::from_profile(&profile),
        )
        .unwrap();

        // A discharge letter for Marie (the GP is her médecin référent).
        let letter = pdf(64 * 1024, 7);
        drop_pair(
            &root,
            "Lettre de sortie.pdf",
            &letter,
            json!({
                "patient": MARIE,
                "title": "Lettre de sortie",
                "mode": "restreint",
                "patient_statement": {"informed_and_agrees": true}
            }),
        );
        let receipt_path = root.join("sent/Lettre de sortie.pdf.receipt.json");
        wait_file(&receipt_path, Duration::from_secs(60)).await;
        let receipt = read_json(&receipt_path);
        assert_eq!(receipt["patient"], MARIE);
        assert_eq!(receipt["statement_source"], "sidecar");
        let unique_id = receipt["uniqueId"].as_str().unwrap().to_owned();
        // It is in the DSP, once.
        let assertion = session.current_assertion().unwrap();
        let marie: Matricule = MARIE.parse().unwrap();
        let listed = platform
            .list(
                &assertion,
                &marie,
                &ListParams {
                    patient: MARIE.to_owned(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let count = listed.iter().filter(|d| d.unique_id == unique_id).count();
        assert_eq!(count, 1, "{listed:?}");
        assert_eq!(
            listed
                .iter()
                .filter(|d| d.title == "Lettre de sortie")
                .count(),
            1
        );

        // The same letter again: not sent again.
        drop_pair(
            &root,
            "Lettre de sortie (copie).pdf",
            &letter,
            json!({"patient": MARIE, "patient_statement": {"informed_and_agrees": true}}),
        );
        let dup = root.join("sent/Lettre de sortie (copie).pdf.receipt.json");
        wait_file(&dup, Duration::from_secs(30)).await;
        assert_eq!(read_json(&dup)["duplicate"], true);

        // Tom: no relation, no grant: failed/, with how to open access.
        let consult = pdf(8 * 1024, 9);
        drop_pair(
            &root,
            "Consultation.pdf",
            &consult,
            json!({"patient": TOM, "patient_statement": {"informed_and_agrees": true}}),
        );
        let error_path = root.join("failed/Consultation.pdf.error.json");
        wait_file(&error_path, Duration::from_secs(60)).await;
        let error = read_json(&error_path);
        assert_eq!(error["code"], "DSP_E_ACCESS_DENIED", "{error}");
        assert!(
            error["hint"]
                .as_str()
                .unwrap()
                .contains(&format!("dspctl access {TOM}")),
            "{error}"
        );

        // Access opened with the patient's presence code, the file moved back.
        let tom: Matricule = TOM.parse().unwrap();
        platform
            .patient_access(&assertion, &tom, PresenceCode::new(presence_code).unwrap())
            .await
            .unwrap();
        for name in ["Consultation.pdf.dsp.json", "Consultation.pdf"] {
            std::fs::rename(root.join("failed").join(name), root.join(name)).unwrap();
        }
        let receipt = root.join("sent/Consultation.pdf.receipt.json");
        wait_file(&receipt, Duration::from_secs(60)).await;
        handle.shutdown().await;
    });
}
