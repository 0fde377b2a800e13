//! Corrections and mode changes over HTTPS: RPLC (ITI-41 with a replace
//! association) and ITI-57 confidentialityCode updates, allowed and refused
//! as the charter and policy.md say, for several roles.

mod common;

use std::path::PathBuf;
use std::sync::LazyLock;

use common::xds::{Doc, ITI57, Platform, Professional, Reply, mode_code, start_shared};
use dspconnect_sandbox::pki::Pki;
use dspconnect_sandbox::policy::{EHealthId, PatientId, Subject};
use dspconnect_sandbox::store::DocumentStatus;
use dspconnect_sandbox::store::demo::{
    DEMO_BLACK_LISTED, DEMO_CERCLE_SPECIALIST, DEMO_PATIENT_EXAMPLE_MATRICULE,
    DEMO_PATIENT_WITH_RELATIONS, DEMO_PATIENT_WITHOUT_RELATIONS, DEMO_PHARMACIST, DEMO_REFERENT_GP,
};
use dspconnect_sandbox::xds::REGISTRY_PATH;
use ihe::xds::*;
use time::Duration;

static PKI_TEMPLATE: LazyLock<PathBuf> = LazyLock::new(|| {
    let dir = common::fresh_shared_dir("xds-update-tests").join("template");
    Pki::load_or_create(&dir).expect("PKI created");
    dir
});

static PLATFORM: LazyLock<Platform> = LazyLock::new(|| start_shared(&PKI_TEMPLATE));

const MARIE: &str = DEMO_PATIENT_WITH_RELATIONS;
const TOM: &str = DEMO_PATIENT_WITHOUT_RELATIONS;
const HENRI: &str = DEMO_PATIENT_EXAMPLE_MATRICULE;

fn patient(matricule: &str) -> PatientId {
    PatientId::new(matricule).expect("a demo matricule")
}

/// Gives `professional` a consultation grant on `matricule`'s DSP.
fn grant(platform: &Platform, professional: &str, matricule: &str) {
    let store = platform.context.store();
    let code = store
        .create_presence_code(&patient(matricule), platform.now(), Duration::hours(1))
        .expect("code");
    store
        .redeem_presence_code(
            &patient(matricule),
            code.expose(),
            &EHealthId::new(professional).expect("id"),
            platform.now(),
            Duration::hours(4),
        )
        .expect("redeemed");
}

/// The current entry of `unique_id`, read by `reader`.
async fn current(reader: &Professional, unique_id: &str) -> DocumentEntry {
    let mut entries = reader.get_documents(&[unique_id]).await;
    assert_eq!(
        entries.len(),
        1,
        "{unique_id} is listed for {}",
        reader.ehealth_id
    );
    entries.remove(0)
}

/// The mode code of the current entry of `unique_id`.
async fn mode_of(reader: &Professional, unique_id: &str) -> String {
    current(reader, unique_id).await.confidentiality_codes[0]
        .code
        .clone()
}

#[tokio::test]
async fn the_author_replaces_a_document_and_the_replaced_entry_is_deprecated() {
    let platform = &*PLATFORM;
    let gp = platform.professional(DEMO_REFERENT_GP);
    let original = Doc::new(MARIE, DEMO_REFERENT_GP, "R");
    gp.submit_doc(&original).await.assert_success();
    let replaced = current(&gp, &original.unique_id).await;

    let correction = Doc::new(MARIE, DEMO_REFERENT_GP, "R");
    let reply = gp
        .submit(
            &correction.replacing(&replaced.entry_uuid, platform.now()),
            &correction.content,
            &correction.mime_type,
        )
        .await;
    reply.assert_success();
    reply.assert_schema_valid();

    let entries = gp.find_documents(MARIE).await;
    let status_of = |unique_id: &str| {
        entries
            .iter()
            .find(|e| e.unique_id.as_deref() == Some(unique_id))
            .and_then(|e| e.availability_status.clone())
    };
    assert_eq!(
        status_of(&original.unique_id),
        Some(AvailabilityStatus::Deprecated)
    );
    assert_eq!(
        status_of(&correction.unique_id),
        Some(AvailabilityStatus::Approved)
    );
    let store = platform.context.store();
    let old = store
        .document(&replaced.entry_uuid)
        .expect("store")
        .expect("kept");
    let new = store
        .document_by_unique_id(&correction.unique_id)
        .expect("store")
        .expect("registered");
    assert_eq!(old.status, DocumentStatus::Deprecated);
    assert_eq!(old.replaced_by.as_deref(), Some(new.entry_uuid.as_str()));
    // Both bodies stay readable.
    let both = gp
        .retrieve(&[&original.unique_id, &correction.unique_id])
        .await;
    assert_eq!(both.document(&original.unique_id), original.content);
    assert_eq!(both.document(&correction.unique_id), correction.content);

    // A Deprecated entry is not replaced again.
    let late = Doc::new(MARIE, DEMO_REFERENT_GP, "N");
    let reply = gp
        .submit(
            &late.replacing(&replaced.entry_uuid, platform.now()),
            &late.content,
            &late.mime_type,
        )
        .await;
    let (code, _) = reply.single_error();
    assert_eq!(code, "XDSRegistryDeprecatedDocumentError");

    let trail = store.access_trail(&patient(MARIE)).expect("trail");
    let gp_subject = Subject::card(EHealthId::new(DEMO_REFERENT_GP).expect("id"));
    assert!(trail.iter().any(|a| a.subject == gp_subject
        && a.operation == "replace"
        && a.allowed
        && a.entry_uuid.as_deref() == Some(replaced.entry_uuid.as_str())));
}

#[tokio::test]
async fn only_the_author_replaces_and_only_entries_of_the_same_dsp() {
    let platform = &*PLATFORM;
    let gp = platform.professional(DEMO_REFERENT_GP);
    let original = Doc::new(MARIE, DEMO_REFERENT_GP, "N");
    gp.submit_doc(&original).await.assert_success();
    let target = current(&gp, &original.unique_id).await.entry_uuid;

    for (professional, code, rule) in [
        (DEMO_CERCLE_SPECIALIST, "DSPAccessDenied", "REPLACE: "),
        (DEMO_BLACK_LISTED, "DSPAccessDenied", "BLACK-LIST: "),
    ] {
        let correction = Doc::new(MARIE, professional, "N");
        let reply = platform
            .professional(professional)
            .submit(
                &correction.replacing(&target, platform.now()),
                &correction.content,
                &correction.mime_type,
            )
            .await;
        reply.assert_schema_valid();
        let (found, context) = reply.single_error();
        assert_eq!(found, code, "{professional}: {context}");
        assert!(context.starts_with(rule), "{professional}: {context}");
    }

    // Unknown targets, and targets in another DSP, are unresolved.
    for (matricule, replaced) in [
        (
            MARIE,
            "urn:uuid:2c1f6d2e-5d55-4f0e-9a0b-7a8f7c6c1e01".to_owned(),
        ),
        (TOM, target.clone()),
    ] {
        let correction = Doc::new(matricule, DEMO_REFERENT_GP, "N");
        let reply = gp
            .submit(
                &correction.replacing(&replaced, platform.now()),
                &correction.content,
                &correction.mime_type,
            )
            .await;
        assert_eq!(reply.single_error().0, "UnresolvedReferenceException");
    }
    assert_eq!(
        current(&gp, &original.unique_id).await.availability_status,
        Some(AvailabilityStatus::Approved)
    );
}

#[tokio::test]
async fn a_mode_change_is_a_new_version_of_the_same_entry() {
    let platform = &*PLATFORM;
    let gp = platform.professional(DEMO_REFERENT_GP);
    let doc = Doc::new(MARIE, DEMO_REFERENT_GP, "N");
    gp.submit_doc(&doc).await.assert_success();
    let first = current(&gp, &doc.unique_id).await;

    let reply = gp.change_mode(&first, "R").await;
    reply.assert_success();
    reply.assert_schema_valid();
    assert!(reply.content_type.contains("UpdateDocumentSetResponse"));
    assert_eq!(
        reply.relates_to().as_deref(),
        Some(reply.request_message_id.as_str())
    );

    let second = current(&gp, &doc.unique_id).await;
    assert_ne!(second.entry_uuid, first.entry_uuid);
    assert_eq!(second.logical_id, first.logical_id);
    assert_eq!(
        second.logical_id.as_deref(),
        Some(first.entry_uuid.as_str())
    );
    assert_eq!(second.version.as_deref(), Some("2"));
    assert_eq!(second.confidentiality_codes, vec![mode_code("R")]);
    assert_eq!(second.hash, first.hash);
    assert_eq!(second.title, first.title);
    let versions: Vec<(String, Option<AvailabilityStatus>, String)> = gp
        .find_documents(MARIE)
        .await
        .into_iter()
        .filter(|e| e.unique_id.as_deref() == Some(doc.unique_id.as_str()))
        .map(|e| {
            (
                e.version.unwrap_or_default(),
                e.availability_status,
                e.confidentiality_codes[0].code.clone(),
            )
        })
        .collect();
    assert_eq!(
        versions,
        vec![
            ("1".into(), Some(AvailabilityStatus::Deprecated), "N".into()),
            ("2".into(), Some(AvailabilityStatus::Approved), "R".into()),
        ]
    );
    // The document itself did not change.
    assert_eq!(
        gp.retrieve(&[&doc.unique_id])
            .await
            .document(&doc.unique_id),
        doc.content
    );

    // An update from the version before is refused.
    let stale = gp.change_mode(&first, "P").await;
    stale.assert_schema_valid();
    let (code, context) = stale.single_error();
    assert_eq!(code, "XDSMetadataVersionError");
    assert!(context.contains("current version"), "{context}");

    // Only the confidentialityCode changes.
    let mut retitled = second.clone();
    retitled.title = Some("Autre titre".into());
    let reply = gp.change_mode(&retitled, "N").await;
    let (code, context) = reply.single_error();
    assert_eq!(code, "XDSMetadataUpdateError");
    assert!(
        context.starts_with("DocumentEntry.title differs"),
        "{context}"
    );

    // A code outside the table is a metadata error.
    let reply = gp.change_mode(&second, "SECRET").await;
    assert_eq!(reply.single_error().0, "XDSRegistryMetadataError");

    let trail = platform
        .context
        .store()
        .access_trail(&patient(MARIE))
        .expect("trail");
    let gp_subject = Subject::card(EHealthId::new(DEMO_REFERENT_GP).expect("id"));
    assert!(trail.iter().any(|a| a.subject == gp_subject
        && a.operation == "change_mode"
        && a.allowed
        && a.rule == "MODE-NORMAL-RESTREINT"));
}

#[tokio::test]
async fn a_submission_without_previous_version_is_not_an_update() {
    let platform = &*PLATFORM;
    let gp = platform.professional(DEMO_REFERENT_GP);
    let doc = Doc::new(MARIE, DEMO_REFERENT_GP, "N");
    let register = doc.request(platform.now()).submission;
    let reply = gp
        .call(
            REGISTRY_PATH,
            ITI57,
            register.to_element().expect("writable"),
        )
        .await;
    reply.assert_schema_valid();
    let (code, context) = reply.single_error();
    assert_eq!(code, "XDSRegistryError");
    assert!(context.contains("ITI-41"), "{context}");
}

/// One row of the mode-change table: who acts, on which document, to which
/// mode, and what comes back (`None` for allowed, else the error code and
/// the rule).
struct Change {
    actor: &'static str,
    /// Author and patient of the document, and its mode before the change.
    author: &'static str,
    patient: &'static str,
    from: &'static str,
    to: &'static str,
    refused: Option<(&'static str, &'static str)>,
}

const fn allowed(
    actor: &'static str,
    author: &'static str,
    patient: &'static str,
    from: &'static str,
    to: &'static str,
) -> Change {
    Change {
        actor,
        author,
        patient,
        from,
        to,
        refused: None,
    }
}

const fn refused(
    actor: &'static str,
    author: &'static str,
    patient: &'static str,
    from: &'static str,
    to: &'static str,
    code: &'static str,
    rule: &'static str,
) -> Change {
    Change {
        actor,
        author,
        patient,
        from,
        to,
        refused: Some((code, rule)),
    }
}

const GP: &str = DEMO_REFERENT_GP;
const CARDIO: &str = DEMO_CERCLE_SPECIALIST;
const PHARMA: &str = DEMO_PHARMACIST;
const DENIED: &str = "DSPAccessDenied";

/// policy.md, "Change a document's mode", over ITI-57. On Marie's DSP the
/// GP is médecin référent, the cardiologist in the cercle de confiance and
/// Dr Hoffmann black-listed; on Tom's the cardiologist and the pharmacist
/// hold consultation grants (code de présence); on Henri's the cardiologist
/// holds one and the pharmacist nothing.
const TABLE: &[Change] = &[
    allowed(GP, GP, MARIE, "N", "R"),
    allowed(CARDIO, GP, MARIE, "N", "R"),
    allowed(GP, GP, MARIE, "N", "P"),
    refused(CARDIO, GP, MARIE, "N", "P", DENIED, "MODE-NORMAL-PRIVE"),
    allowed(GP, CARDIO, MARIE, "R", "N"),
    allowed(CARDIO, GP, MARIE, "R", "P"),
    refused(GP, GP, MARIE, "P", "N", DENIED, "MODE-FROM-PRIVE"),
    refused(CARDIO, GP, MARIE, "P", "R", DENIED, "READ-PRIVE"),
    allowed(CARDIO, GP, MARIE, "VA", "P"),
    refused(GP, GP, MARIE, "N", "VA", DENIED, "MODE-TO-ANNONCE"),
    refused(GP, GP, MARIE, "N", "N", "DSPModeUnchanged", "MODE-SAME"),
    refused(DEMO_BLACK_LISTED, GP, MARIE, "N", "R", DENIED, "BLACK-LIST"),
    allowed(PHARMA, CARDIO, TOM, "VA", "N"),
    refused(
        PHARMA,
        CARDIO,
        TOM,
        "N",
        "R",
        DENIED,
        "MODE-NORMAL-RESTREINT",
    ),
    refused(PHARMA, CARDIO, HENRI, "N", "R", DENIED, "NO-CARE-RELATION"),
];

#[tokio::test]
async fn mode_changes_are_allowed_and_refused_as_the_charter_says() {
    let platform = &*PLATFORM;
    grant(platform, CARDIO, TOM);
    grant(platform, PHARMA, TOM);
    grant(platform, CARDIO, HENRI);
    for (row, change) in TABLE.iter().enumerate() {
        let author = platform.professional(change.author);
        let doc = Doc::new(change.patient, change.author, change.from);
        author.submit_doc(&doc).await.assert_success();
        let entry = current(&author, &doc.unique_id).await;
        let reply: Reply = platform
            .professional(change.actor)
            .change_mode(&entry, change.to)
            .await;
        reply.assert_schema_valid();
        let what = format!(
            "row {row}: {} changes {}'s {} document to {}",
            change.actor, change.author, change.from, change.to
        );
        match change.refused {
            None => {
                reply.assert_success();
                assert_eq!(mode_of(&author, &doc.unique_id).await, change.to, "{what}");
            }
            Some((code, rule)) => {
                let (found, context) = reply.single_error();
                assert_eq!(found, code, "{what}: {context}");
                assert!(
                    context.starts_with(&format!("{rule}: ")),
                    "{what}: {context}"
                );
                assert_eq!(
                    mode_of(&author, &doc.unique_id).await,
                    change.from,
                    "{what}"
                );
                let trail = platform
                    .context
                    .store()
                    .access_trail(&patient(change.patient))
                    .expect("trail");
                let actor = Subject::card(EHealthId::new(change.actor).expect("id"));
                assert!(
                    trail.iter().any(|a| a.subject == actor
                        && a.operation == "change_mode"
                        && !a.allowed
                        && a.rule == rule
                        && a.entry_uuid.as_deref() == Some(entry.entry_uuid.as_str())),
                    "{what}: the refusal is in the trail"
                );
            }
        }
    }
}
