//! The platform client driven directly against a sandbox in this process,
//! over HTTPS with the sandbox's CA pinned: card and password logins, the
//! ITI-41 / ITI-18 / ITI-43 round trip with its hashes, RPLC, ITI-57 mode
//! changes allowed and refused, presence-code access then a consultation,
//! and the typed errors (with their hints) a caller sees for a wrong CA, a
//! platform that is down, a 503, an access refusal and a lost answer.

#![cfg(feature = "sandbox")]

mod daemon_support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use daemon_support::*;
use dspconnect::ErrorCode;
use dspconnect::ipc::protocol::{DocumentSummary, ListParams};
use dspconnect::model::{ConfidentialityMode, Matricule, Password, Pin, PresenceCode};
use dspconnect_sandbox::faults::{FaultPlan, FaultRule};
use dspconnectd::card::software::{SoftwareCard, software_reader};
use dspconnectd::card::{CardEvent, CardSigner, spawn_card_thread};
use dspconnectd::config::PlatformProfile;
use dspconnectd::outbox::retry_table::{Decision, decide};
use dspconnectd::outbox::{
    ContentSource, EnqueueRequest, JobRecord, Outbox, OutboxPolicy, Owner, PlatformFault,
    ReadBackOutcome, ResolveContext, TransportFailure, UploadFailure, UploadOutcome,
};
use dspconnectd::platform::{PlatformClient, PlatformError};
use dspconnectd::session::{Assertion, AuthError, Authenticator as _};
use sha2::{Digest as _, Sha256};

const REFERENT_GP: &str = "SBX1001";
const REFERENT_GP_MATRICULE: &str = "1972110504599";
const PHARMACIST: &str = "SBX1004";
const PROFESSIONAL_PASSWORD: &str = "sandbox-professional";
const MARIE: &str = "1945093006704";
const TOM: &str = "2005062201818";

/// A logged-in professional: the assertion and the outbox owner of their
/// card.
struct Login {
    assertion: Assertion,
    owner: Owner,
}

/// Logs in with `ehealth_id`'s card exported from the sandbox: PIN
/// verified on the software card, then the card-signed AuthnRequest.
async fn card_login(sandbox: &ExternalSandbox, client: &PlatformClient, ehealth_id: &str) -> Login {
    let work = sandbox.dir.path().join(format!("export-{ehealth_id}"));
    std::fs::create_dir_all(&work).unwrap();
    let (card_dir, pin) = sandbox.export_card(ehealth_id, &work);
    let card = SoftwareCard::load(&card_dir).expect("software card");
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
        .verify_pin(identity.fingerprint, Pin::new(pin).expect("PIN"))
        .await
        .expect("PIN verified");
    let assertion = client
        .authenticate_with_card(CardSigner::new(handle, identity.clone()))
        .await
        .expect("card login");
    assert_eq!(assertion.subject_ehealth_id(), ehealth_id);
    let owner = Owner::new(&identity.ehealth_id, &identity.fingerprint.to_string()).unwrap();
    Login { assertion, owner }
}

fn spool(dir: &Path) -> Outbox {
    Outbox::open(
        &dir.join("spool"),
        OutboxPolicy::from_config(&Default::default()),
        None,
    )
    .expect("outbox")
}

/// An outbox job for `patient` (spooled as the daemon does) and its content.
async fn job(
    outbox: &Outbox,
    profile: &PlatformProfile,
    owner: &Owner,
    patient: &str,
    title: &str,
    content: Vec<u8>,
    replaces: Option<String>,
) -> (JobRecord, PathBuf) {
    let job = outbox
        .enqueue(EnqueueRequest {
            source: ContentSource::Bytes(content),
            metadata: metadata(patient, title, ConfidentialityMode::Normal),
            replaces,
            owner: owner.clone(),
            access: None,
            context: ResolveContext::from_profile(profile),
        })
        .await
        .expect("enqueue");
    let record = outbox.record(&job.job_id).expect("record");
    let content = outbox.content_path(&job.job_id).expect("content path");
    (record, content)
}

fn matricule(digits: &str) -> Matricule {
    digits.parse().expect("matricule")
}

fn list_params(patient: &str, include_deprecated: bool) -> ListParams {
    ListParams {
        patient: patient.to_owned(),
        include_deprecated,
        ..Default::default()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn only<'a>(listed: &'a [DocumentSummary], unique_id: &str) -> &'a DocumentSummary {
    let found: Vec<_> = listed.iter().filter(|d| d.unique_id == unique_id).collect();
    assert_eq!(found.len(), 1, "{unique_id} in {listed:?}");
    found[0]
}

fn rule(prefix: &str) -> FaultRule {
    FaultRule {
        path_prefix: prefix.to_owned(),
        ..FaultRule::default()
    }
}

fn failure_of(outcome: UploadOutcome) -> UploadFailure {
    match outcome {
        UploadOutcome::Failed(failure) => failure,
        UploadOutcome::Registered => panic!("the submission must fail"),
    }
}

/// The lost answer: the repository registers the document, then breaks
/// the connection before any byte of its answer. The whole body was sent,
/// so the client cannot know: an unknown outcome (read back), never a
/// connect failure (which would send it again as if nothing happened).
#[test]
fn a_lost_answer_after_the_whole_body_is_an_unknown_outcome_and_the_entry_is_there() {
    let sandbox = ExternalSandbox::start();
    let profile = sandbox.profile();
    let work = tempfile::tempdir().unwrap();
    sandbox.runtime.block_on(async {
        let client = PlatformClient::new(&profile).unwrap();
        let gp = card_login(&sandbox, &client, REFERENT_GP).await;
        let outbox = spool(work.path());
        // Larger than one read chunk of the spool file, so that the body
        // is several chunks.
        let (record, content) = job(
            &outbox,
            &profile,
            &gp.owner,
            MARIE,
            "Compte rendu (réponse perdue)",
            pdf(200 * 1024, 3),
            None,
        )
        .await;
        sandbox.set_faults(FaultPlan {
            seed: Some(1),
            rules: vec![FaultRule {
                lost_answer_percent: 100,
                ..rule("/xds/repository")
            }],
        });
        let failure = failure_of(client.submit(&gp.assertion, &record, &content).await);
        sandbox.clear_faults();
        assert!(
            matches!(
                failure,
                UploadFailure::Transport {
                    failure: TransportFailure::CutAfterSend,
                    ..
                }
            ),
            "{failure:?}"
        );
        assert!(failure.outcome_unknown(), "{failure:?}");
        // The platform did register it: the read-back finds it, same hash
        // and author.
        match client.find_by_unique_id(&gp.assertion, &record).await {
            ReadBackOutcome::Found(entry) => {
                assert_eq!(entry.sha1, record.content.sha1);
                assert_eq!(entry.author_ehealth_id, REFERENT_GP);
            }
            other => panic!("the registered entry must be found: {other:?}"),
        }
    });
}
