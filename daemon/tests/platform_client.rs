//! The platform client driven directly against a sandbox in this process,
//! over HTTPS with the sandbox's CA pinned: card and password logins, the
//! ITI-41 / ITI-18 / ITI-43 round trip with its hashes, RPLC, ITI-57 mode
//! changes allowed and refused, presence-code access then a consultation,
//! and the typed errors (with their hints) a caller sees for a wrong CA, a
//! platform that is down, a 503, an access refusal and a lost answer.

#![cfg(feature = "sandbox")]

mod daemon_support;

use std::path::{Path, PathBuf};

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

/// The GP's card session: ITI-41, ITI-18 and ITI-43 with the hashes
/// checked end to end, a replacement (RPLC), a mode change the charter
/// allows and one it refuses, and a 503 the outbox retries.
#[test]
fn card_session_submits_lists_retrieves_replaces_and_changes_modes() {
    let sandbox = ExternalSandbox::start();
    let profile = sandbox.profile();
    let work = tempfile::tempdir().unwrap();
    sandbox.runtime.block_on(async {
        let client = PlatformClient::new(&profile).unwrap();
        let gp = card_login(&sandbox, &client, REFERENT_GP).await;
        let marie = matricule(MARIE);
        let outbox = spool(work.path());

        // ITI-41.
        let letter = pdf(300 * 1024, 11);
        let (first, content) = job(
            &outbox,
            &profile,
            &gp.owner,
            MARIE,
            "Lettre de sortie",
            letter.clone(),
            None,
        )
        .await;
        assert_eq!(
            client.submit(&gp.assertion, &first, &content).await,
            UploadOutcome::Registered
        );

        // ITI-18: the entry, with the SHA-1 and size of what was sent.
        let listed = client
            .list(&gp.assertion, &marie, &list_params(MARIE, false))
            .await
            .unwrap();
        let entry = only(&listed, &first.document_unique_id);
        assert_eq!(entry.hash, hex(&sha1::Sha1::digest(&letter)));
        assert_eq!(entry.hash, first.content.sha1);
        assert_eq!(entry.size, letter.len() as u64);
        assert_eq!(entry.title, "Lettre de sortie");
        assert_eq!(entry.mode, ConfidentialityMode::Normal);
        assert_eq!(entry.author.ehealth_id, REFERENT_GP);
        assert_eq!(entry.status, "Approved");

        // ITI-43: the bytes streamed into the sink are the letter's.
        let mut sink: Vec<u8> = Vec::new();
        let info = client
            .retrieve_to(&gp.assertion, &marie, &first.document_unique_id, &mut sink)
            .await
            .unwrap();
        assert!(
            sink == letter,
            "the retrieved bytes differ from the sent ones"
        );
        assert_eq!(info.size, letter.len() as u64);
        assert_eq!(info.sha256, hex(&Sha256::digest(&letter)));
        assert_eq!(info.sha256, first.content.sha256);
        assert_eq!(info.mime_type, "application/pdf");

        // An unknown uniqueId: the typed error and its hint.
        let mut nothing: Vec<u8> = Vec::new();
        let error = client
            .retrieve_to(&gp.assertion, &marie, "2.25.1234567", &mut nothing)
            .await
            .unwrap_err();
        assert!(
            matches!(error, PlatformError::UnknownDocument { .. }),
            "{error:?}"
        );
        assert_eq!(error.code(), ErrorCode::UnknownDocument);
        assert!(error.hint().unwrap().contains("dspctl list"), "{error:?}");
        assert!(nothing.is_empty());

        // RPLC: the new version replaces the first, which is deprecated.
        let corrected = pdf(40 * 1024, 12);
        let (second, content) = job(
            &outbox,
            &profile,
            &gp.owner,
            MARIE,
            "Lettre de sortie (corrigée)",
            corrected.clone(),
            Some(first.document_unique_id.clone()),
        )
        .await;
        assert_eq!(
            client.submit(&gp.assertion, &second, &content).await,
            UploadOutcome::Registered
        );
        let approved = client
            .list(&gp.assertion, &marie, &list_params(MARIE, false))
            .await
            .unwrap();
        assert!(
            approved
                .iter()
                .all(|d| d.unique_id != first.document_unique_id),
            "the replaced entry is still approved: {approved:?}"
        );
        assert_eq!(
            only(&approved, &second.document_unique_id).hash,
            second.content.sha1
        );
        let all = client
            .list(&gp.assertion, &marie, &list_params(MARIE, true))
            .await
            .unwrap();
        assert_eq!(only(&all, &first.document_unique_id).status, "Deprecated");
        // Replacing a uniqueId the DSP does not have fails before sending.
        let (orphan, content) = job(
            &outbox,
            &profile,
            &gp.owner,
            MARIE,
            "Remplace rien",
            pdf(2048, 13),
            Some("2.25.987654321".to_owned()),
        )
        .await;
        let failure = failure_of(client.submit(&gp.assertion, &orphan, &content).await);
        assert!(
            matches!(
                &failure,
                UploadFailure::Fault {
                    fault: PlatformFault::UnknownDocument,
                    ..
                }
            ),
            "{failure:?}"
        );

        // ITI-57: Normal → Restreint is allowed.
        let changed = client
            .set_mode(
                &gp.assertion,
                &marie,
                &second.document_unique_id,
                ConfidentialityMode::Restreint,
            )
            .await
            .unwrap();
        assert_eq!(changed.mode, ConfidentialityMode::Restreint);
        assert_eq!(changed.unique_id, second.document_unique_id);
        let listed = client
            .list(&gp.assertion, &marie, &list_params(MARIE, false))
            .await
            .unwrap();
        assert_eq!(
            only(&listed, &second.document_unique_id).mode,
            ConfidentialityMode::Restreint
        );
        // … and into Visite d'annonce later is refused by the charter.
        let error = client
            .set_mode(
                &gp.assertion,
                &marie,
                &second.document_unique_id,
                ConfidentialityMode::VisiteAnnonce,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(error, PlatformError::ModeChangeRefused { .. }),
            "{error:?}"
        );
        assert_eq!(error.code(), ErrorCode::ModeChangeRefused);
        assert!(error.hint().unwrap().contains("mode table"), "{error:?}");
        let listed = client
            .list(&gp.assertion, &marie, &list_params(MARIE, false))
            .await
            .unwrap();
        assert_eq!(
            only(&listed, &second.document_unique_id).mode,
            ConfidentialityMode::Restreint
        );

        // 503 from the registry: a platform-unreachable error with the
        // network hint; from the repository: an HTTP failure the outbox
        // retries (nothing was processed: not an unknown outcome).
        sandbox.set_faults(FaultPlan {
            seed: Some(2),
            rules: vec![
                FaultRule {
                    unavailable_percent: 100,
                    ..rule("/xds/registry")
                },
                FaultRule {
                    unavailable_percent: 100,
                    ..rule("/xds/repository")
                },
            ],
        });
        let error = client
            .list(&gp.assertion, &marie, &list_params(MARIE, false))
            .await
            .unwrap_err();
        assert!(
            matches!(error, PlatformError::Http { status: 503, .. }),
            "{error:?}"
        );
        assert_eq!(error.code(), ErrorCode::PlatformUnreachable);
        assert!(error.hint().unwrap().contains("check the network"));
        let (third, content) = job(
            &outbox,
            &profile,
            &gp.owner,
            MARIE,
            "Pendant la panne",
            pdf(4096, 14),
            None,
        )
        .await;
        let failure = failure_of(client.submit(&gp.assertion, &third, &content).await);
        sandbox.clear_faults();
        assert!(
            matches!(failure, UploadFailure::Http { status: 503, .. }),
            "{failure:?}"
        );
        assert!(!failure.outcome_unknown());
        assert_eq!(decide(&failure).decision, Decision::Retry);
        // Once the platform answers again, the same job goes through.
        assert_eq!(
            client.submit(&gp.assertion, &third, &content).await,
            UploadOutcome::Registered
        );
    });
}

/// A CA with exactly the sandbox platform CA's subject, but another key.
fn forged_platform_ca_pem(real_ca_pem: &str) -> String {
    use rcgen::{
        BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue, IsCa, KeyPair,
    };
    let mut dn = DistinguishedName::new();
    dn.push(
        DnType::CountryName,
        DnValue::PrintableString("LU".try_into().unwrap()),
    );
    dn.push(
        DnType::OrganizationName,
        "dspconnect SANDBOX (not valid on the real platform)",
    );
    dn.push(DnType::CommonName, "eSante Platform Test CA (SANDBOX)");
    let mut params = CertificateParams::default();
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    let forged = params.self_signed(&KeyPair::generate().unwrap()).unwrap();
    // The names are byte for byte the same: only the key tells them apart.
    let subject = |der: &[u8]| {
        let (_, cert) = x509_parser::parse_x509_certificate(der).unwrap();
        cert.tbs_certificate.subject.as_raw().to_vec()
    };
    let real_der = {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject as _;
        CertificateDer::from_pem_slice(real_ca_pem.as_bytes()).unwrap()
    };
    assert_eq!(subject(forged.der()), subject(&real_der));
    forged.pem()
}

/// A pharmacist without any relationship to Tom: his entries are not
/// listed and a submission is refused; Tom's code de présence (once) lets
/// her in for a consultation. The GP, without a relationship either, is
/// refused the document (DSPAccessDenied, with the presence-code hint).
/// Then the password session and its limits, and the transport errors a
/// caller sees: a CA that is not the platform's (even with the same name)
/// and a platform that is down.
#[test]
fn presence_code_access_password_session_and_transport_errors() {
    let sandbox = ExternalSandbox::start();
    let profile = sandbox.profile();
    let work = tempfile::tempdir().unwrap();
    let code = sandbox.presence_code(TOM);
    sandbox.runtime.block_on(async {
        let client = PlatformClient::new(&profile).unwrap();
        let pharmacist = card_login(&sandbox, &client, PHARMACIST).await;
        let tom = matricule(TOM);
        let outbox = spool(work.path());

        // No relationship: Tom's entries stay out of the list, and a
        // submission is refused by the access rules.
        let listed = client
            .list(&pharmacist.assertion, &tom, &list_params(TOM, false))
            .await
            .unwrap();
        assert!(listed.is_empty(), "{listed:?}");
        let (note, content) = job(
            &outbox,
            &profile,
            &pharmacist.owner,
            TOM,
            "Plan de médication",
            pdf(8 * 1024, 21),
            None,
        )
        .await;
        let failure = failure_of(client.submit(&pharmacist.assertion, &note, &content).await);
        assert!(
            matches!(
                &failure,
                UploadFailure::Fault {
                    fault: PlatformFault::AccessDenied,
                    ..
                }
            ),
            "{failure:?}"
        );
        assert_eq!(decide(&failure).decision, Decision::Permanent);

        // A wrong code is refused with its own code and hint.
        let error = client
            .patient_access(
                &pharmacist.assertion,
                &tom,
                PresenceCode::new(wrong_code(&code)).unwrap(),
            )
            .await
            .unwrap_err();
        assert_eq!(error.code(), ErrorCode::PresenceCodeRefused, "{error:?}");
        assert!(error.hint().is_some(), "{error:?}");

        // The patient's code opens the consultation.
        let grant = client
            .patient_access(
                &pharmacist.assertion,
                &tom,
                PresenceCode::new(code.clone()).unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(grant.patient, TOM);
        assert!(!grant.grant_id.is_empty());
        // A code works once.
        let error = client
            .patient_access(
                &pharmacist.assertion,
                &tom,
                PresenceCode::new(code.clone()).unwrap(),
            )
            .await
            .unwrap_err();
        assert_eq!(error.code(), ErrorCode::PresenceCodeRefused, "{error:?}");
        assert_eq!(
            client.submit(&pharmacist.assertion, &note, &content).await,
            UploadOutcome::Registered
        );
        let listed = client
            .list(&pharmacist.assertion, &tom, &list_params(TOM, false))
            .await
            .unwrap();
        assert_eq!(
            only(&listed, &note.document_unique_id).hash,
            note.content.sha1
        );
        let mut sink: Vec<u8> = Vec::new();
        let info = client
            .retrieve_to(
                &pharmacist.assertion,
                &tom,
                &note.document_unique_id,
                &mut sink,
            )
            .await
            .unwrap();
        assert_eq!(info.sha256, note.content.sha256);
        assert_eq!(hex(&Sha256::digest(&sink)), note.content.sha256);

        // The GP has no relationship with Tom: the entry is not listed,
        // and retrieving it by its uniqueId is refused (DSPAccessDenied)
        // with the presence-code hint, as the IPC caller sees it too.
        let gp = card_login(&sandbox, &client, REFERENT_GP).await;
        let listed = client
            .list(&gp.assertion, &tom, &list_params(TOM, false))
            .await
            .unwrap();
        assert!(listed.is_empty(), "{listed:?}");
        let mut sink: Vec<u8> = Vec::new();
        let error = client
            .retrieve_to(&gp.assertion, &tom, &note.document_unique_id, &mut sink)
            .await
            .unwrap_err();
        assert!(
            matches!(error, PlatformError::AccessDenied { .. }),
            "{error:?}"
        );
        assert!(error.to_string().contains("DSPAccessDenied"), "{error}");
        assert!(sink.is_empty());
        assert_eq!(error.code(), ErrorCode::AccessDenied);
        let hint = error.hint().unwrap();
        assert!(hint.contains("dspctl access"), "{hint}");
        let rpc = error.to_rpc();
        assert_eq!(rpc.data.code, ErrorCode::AccessDenied);
        assert_eq!(rpc.data.hint.as_deref(), Some(hint));

        // Password session: the matricule and the password chosen at
        // activation; it reaches the services, not DSP documents.
        let password = client
            .authenticate_with_password(
                &matricule(REFERENT_GP_MATRICULE),
                Password::new(PROFESSIONAL_PASSWORD.to_owned()).unwrap(),
            )
            .await
            .expect("password login");
        assert_eq!(password.subject_ehealth_id(), REFERENT_GP);
        let error = client
            .list(&password, &matricule(MARIE), &list_params(MARIE, false))
            .await
            .unwrap_err();
        assert_eq!(error.code(), ErrorCode::PasswordSessionLimited, "{error:?}");
        assert!(error.hint().unwrap().contains("card"), "{error:?}");
        let refused = client
            .authenticate_with_password(
                &matricule(REFERENT_GP_MATRICULE),
                Password::new("not-the-password-42".to_owned()).unwrap(),
            )
            .await
            .unwrap_err();
        assert!(matches!(refused, AuthError::Refused { .. }), "{refused:?}");
        assert_eq!(refused.code(), ErrorCode::AuthenticationRefused);

        // A pinned CA that is not the platform's, with the very same name:
        // TLS fails before anything is sent, and nothing falls back to
        // another trust store.
        let forged = work.path().join("forged-ca.pem");
        std::fs::write(
            &forged,
            forged_platform_ca_pem(sandbox.running().ca_certificate_pem()),
        )
        .unwrap();
        let wrong_ca = PlatformClient::new(&PlatformProfile {
            ca_file: Some(forged),
            ..profile.clone()
        })
        .unwrap();
        let error = wrong_ca
            .list(&pharmacist.assertion, &tom, &list_params(TOM, false))
            .await
            .unwrap_err();
        assert!(matches!(error, PlatformError::Tls { .. }), "{error:?}");
        assert_eq!(error.code(), ErrorCode::Tls);
        assert!(
            error.hint().unwrap().contains("platform.ca_file"),
            "{error:?}"
        );
        let error = wrong_ca.probe().await.unwrap_err();
        assert!(matches!(error, PlatformError::Tls { .. }), "{error:?}");
        let failure = failure_of(
            wrong_ca
                .submit(&pharmacist.assertion, &note, &content)
                .await,
        );
        assert!(
            matches!(
                failure,
                UploadFailure::Transport {
                    failure: TransportFailure::Tls,
                    ..
                }
            ),
            "{failure:?}"
        );
        assert!(!failure.outcome_unknown());
        assert_eq!(decide(&failure).decision, Decision::Permanent);
        let refused = wrong_ca
            .authenticate_with_password(
                &matricule(REFERENT_GP_MATRICULE),
                Password::new(PROFESSIONAL_PASSWORD.to_owned()).unwrap(),
            )
            .await
            .unwrap_err();
        assert_eq!(refused.code(), ErrorCode::Tls, "{refused:?}");

        // The platform down (nothing listens on its port): connect
        // failures, retried, never an unknown outcome.
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let down = PlatformClient::new(&PlatformProfile::sandbox(
            &format!("https://127.0.0.1:{port}"),
            profile.ca_file.clone().unwrap(),
            profile.idp_certificate_file.clone().unwrap(),
        ))
        .unwrap();
        let error = down
            .list(&pharmacist.assertion, &tom, &list_params(TOM, false))
            .await
            .unwrap_err();
        assert!(
            matches!(error, PlatformError::Unreachable { .. }),
            "{error:?}"
        );
        assert_eq!(error.code(), ErrorCode::PlatformUnreachable);
        assert!(error.hint().unwrap().contains("check the network"));
        let failure = failure_of(down.submit(&pharmacist.assertion, &note, &content).await);
        assert!(
            matches!(
                failure,
                UploadFailure::Transport {
                    failure: TransportFailure::Connect,
                    ..
                }
            ),
            "{failure:?}"
        );
        assert!(!failure.outcome_unknown());
        assert_eq!(decide(&failure).decision, Decision::Retry);
        let refused = down
            .authenticate_with_password(
                &matricule(REFERENT_GP_MATRICULE),
                Password::new(PROFESSIONAL_PASSWORD.to_owned()).unwrap(),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(refused, AuthError::Unreachable { .. }),
            "{refused:?}"
        );
    });
}

/// A code of the same shape as `code` that is not it.
fn wrong_code(code: &str) -> String {
    code.chars()
        .map(|c| match c {
            '0'..='8' => char::from(c as u8 + 1),
            '9' => '0',
            'A'..='Y' => char::from(c as u8 + 1),
            'Z' => 'A',
            other => other,
        })
        .collect()
}
