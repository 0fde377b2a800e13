//! ITI-41 refusals over HTTPS: one test per attribute ITI TF-3 requires of
//! a Document Source (missing and malformed), and each other way a
//! submission is refused — hash, size, duplicate uniqueId, unknown patient,
//! author or statement not the assertion's subject, and the policy.

mod common;

use std::path::PathBuf;
use std::sync::LazyLock;

use common::xds::{Doc, Platform, Reply, cx, start, start_configured, start_shared, statement};
use dspconnect::model::{Matricule, PatientInformedStatement};
use dspconnect_sandbox::pki::Pki;
use dspconnect_sandbox::policy::{EHealthId, PatientId, Subject};
use dspconnect_sandbox::store::demo::{
    DEMO_BLACK_LISTED, DEMO_CERCLE_SPECIALIST, DEMO_PATIENT_WITH_RELATIONS,
    DEMO_PATIENT_WITHOUT_RELATIONS, DEMO_PHARMACIST, DEMO_REFERENT_GP,
};
use ihe::xds::*;
use time::Duration;

static PKI_TEMPLATE: LazyLock<PathBuf> = LazyLock::new(|| {
    let dir = common::fresh_shared_dir("xds-submit-tests").join("template");
    Pki::load_or_create(&dir).expect("PKI created");
    dir
});

/// Shared by the tests that do not move the clock.
static PLATFORM: LazyLock<Platform> = LazyLock::new(|| start_shared(&PKI_TEMPLATE));

const MARIE: &str = DEMO_PATIENT_WITH_RELATIONS;

fn patient(matricule: &str) -> PatientId {
    PatientId::new(matricule).expect("a demo matricule")
}

/// The GP submits a Normal document of Marie's, changed by `change`.
async fn submit_changed(change: impl FnOnce(&mut ProvideAndRegisterRequest)) -> (Doc, Reply) {
    let platform = &*PLATFORM;
    let doc = Doc::new(MARIE, DEMO_REFERENT_GP, "N");
    let mut request = doc.request(platform.now());
    change(&mut request);
    let reply = platform
        .professional(DEMO_REFERENT_GP)
        .submit(&request, &doc.content, &doc.mime_type)
        .await;
    (doc, reply)
}

/// Asserts that the submission was refused with one error of `code` whose
/// context starts with `context`, that the answer validates, and that
/// nothing was registered.
fn assert_refused(doc: &Doc, reply: &Reply, code: &str, context: &str) {
    assert_eq!(reply.status, 200);
    reply.assert_schema_valid();
    let (found_code, found_context) = reply.single_error();
    assert_eq!(found_code, code, "{found_context}");
    assert!(
        found_context.starts_with(context),
        "expected the context to start with {context:?}: {found_context}"
    );
    let registered = PLATFORM
        .context
        .store()
        .document_by_unique_id(&doc.unique_id)
        .expect("store");
    assert!(registered.is_none(), "a refused submission was registered");
}

async fn metadata_refusal(
    change: impl FnOnce(&mut ProvideAndRegisterRequest),
    attribute: &str,
    variant: &str,
) {
    let (doc, reply) = submit_changed(change).await;
    let context = format!("{attribute} {variant}");
    assert_refused(&doc, &reply, "XDSRegistryMetadataError", &context);
}

fn entry(request: &mut ProvideAndRegisterRequest) -> &mut DocumentEntry {
    &mut request.submission.objects.document_entries[0]
}

fn set(request: &mut ProvideAndRegisterRequest) -> &mut SubmissionSet {
    &mut request.submission.objects.submission_sets[0]
}

fn malformed_time(raw: &str) -> Option<Checked<Dtm>> {
    Some(Checked::parse_with(raw, Dtm::parse))
}

/// One test per required attribute: the attribute left out, then given
/// malformed; each time a single `XDSRegistryMetadataError` naming it.
macro_rules! required_attribute {
    ($test:ident, $attribute:expr, missing: $missing:expr, malformed: [$($malformed:expr),* $(,)?]) => {
        #[tokio::test]
        async fn $test() {
            metadata_refusal($missing, $attribute, "is missing").await;
            $( metadata_refusal($malformed, $attribute, "is malformed").await; )*
        }
    };
}

required_attribute!(entry_object_type, "DocumentEntry.objectType",
    missing: |r| entry(r).object_type = None,
    malformed: [|r| entry(r).object_type = Some(DocumentEntryType::OnDemand)]);

required_attribute!(entry_unique_id, "DocumentEntry.uniqueId",
missing: |r| entry(r).unique_id = None,
malformed: [
    |r| entry(r).unique_id = Some("1.3.182.abc".into()),
    |r| entry(r).unique_id = Some("1.3.182.4^".into()),
]);

required_attribute!(entry_patient_id, "DocumentEntry.patientId",
missing: |r| entry(r).patient_id = None,
malformed: [
    |r| entry(r).patient_id = Some(format!("{MARIE}^^^&2.16.756.5.30&ISO")),
    |r| entry(r).patient_id = Some(cx("1945093006705")),
    |r| entry(r).patient_id = Some(MARIE.into()),
]);

required_attribute!(entry_source_patient_id, "DocumentEntry.sourcePatientId",
    missing: |r| entry(r).source_patient_id = None,
    malformed: [|r| entry(r).source_patient_id = Some("P-12345".into())]);

required_attribute!(entry_mime_type, "DocumentEntry.mimeType",
    missing: |r| entry(r).mime_type = None,
    malformed: [|r| entry(r).mime_type = Some("image/png".into())]);

/// A code without its codingScheme slot.
fn without_scheme(code: &mut Option<Code>) {
    if let Some(code) = code {
        code.coding_scheme = None;
    }
}

required_attribute!(entry_class_code, "DocumentEntry.classCode",
    missing: |r| entry(r).class_code = None,
    malformed: [|r| without_scheme(&mut entry(r).class_code)]);

required_attribute!(entry_type_code, "DocumentEntry.typeCode",
    missing: |r| entry(r).type_code = None,
    malformed: [|r| without_scheme(&mut entry(r).type_code)]);

required_attribute!(entry_format_code, "DocumentEntry.formatCode",
    missing: |r| entry(r).format_code = None,
    malformed: [|r| without_scheme(&mut entry(r).format_code)]);

required_attribute!(entry_practice_setting_code, "DocumentEntry.practiceSettingCode",
    missing: |r| entry(r).practice_setting_code = None,
    malformed: [|r| without_scheme(&mut entry(r).practice_setting_code)]);

required_attribute!(entry_healthcare_facility_type_code, "DocumentEntry.healthcareFacilityTypeCode",
missing: |r| entry(r).healthcare_facility_type_code = None,
malformed: [|r| {
    if let Some(code) = &mut entry(r).healthcare_facility_type_code {
        code.display_name = None;
    }
}]);

required_attribute!(entry_confidentiality_code, "DocumentEntry.confidentialityCode",
missing: |r| entry(r).confidentiality_codes.clear(),
malformed: [
    |r| entry(r).confidentiality_codes = vec![Code::new("X", common::xds::MODES, "Secret")],
    |r| entry(r).confidentiality_codes = vec![Code::new("N", "2.16.840.1.113883.5.25", "normal")],
    |r| entry(r).confidentiality_codes.push(common::xds::mode_code("R")),
]);

required_attribute!(entry_creation_time, "DocumentEntry.creationTime",
missing: |r| entry(r).creation_time = None,
malformed: [
    |r| entry(r).creation_time = malformed_time("2024-05-12"),
    |r| entry(r).creation_time = malformed_time("20241345"),
]);

required_attribute!(entry_language_code, "DocumentEntry.languageCode",
    missing: |r| entry(r).language_code = None,
    malformed: [|r| entry(r).language_code = Some("français".into())]);

required_attribute!(entry_author, "DocumentEntry.author",
missing: |r| entry(r).authors.clear(),
malformed: [
    |r| entry(r).authors[0].person = Some(format!("{DEMO_REFERENT_GP}^Weber^Anne^^^^^^&1.3.182.4.4&ISO")),
    |r| entry(r).authors[0].person = Some(format!("{DEMO_REFERENT_GP}^Weber^Anne")),
    |r| entry(r).authors[0].person = None,
    |r| {
        let second = entry(r).authors[0].clone();
        entry(r).authors.push(second);
    },
]);

required_attribute!(entry_patient_informed_statement,
&format!("DocumentEntry.slot {}", PatientInformedStatement::SLOT_NAME),
missing: |r| entry(r).extra_slots.clear(),
malformed: [
    |r| entry(r).extra_slots = vec![Slot::single(PatientInformedStatement::SLOT_NAME, "yes")],
    |r| entry(r).extra_slots = vec![Slot::new(PatientInformedStatement::SLOT_NAME, vec![])],
]);

required_attribute!(submission_set_unique_id, "SubmissionSet.uniqueId",
    missing: |r| set(r).unique_id = None,
    malformed: [|r| set(r).unique_id = Some("urn:oid:1.2.3".into())]);

required_attribute!(submission_set_source_id, "SubmissionSet.sourceId",
    missing: |r| set(r).source_id = None,
    malformed: [|r| set(r).source_id = Some("1.02.3".into())]);

required_attribute!(submission_set_patient_id, "SubmissionSet.patientId",
    missing: |r| set(r).patient_id = None,
    malformed: [|r| set(r).patient_id = Some(cx("12345"))]);

required_attribute!(submission_set_submission_time, "SubmissionSet.submissionTime",
    missing: |r| set(r).submission_time = None,
    malformed: [|r| set(r).submission_time = malformed_time("yesterday")]);

required_attribute!(submission_set_content_type_code, "SubmissionSet.contentTypeCode",
missing: |r| set(r).content_type_code = None,
malformed: [|r| {
    if let Some(code) = &mut set(r).content_type_code {
        code.code = String::new();
    }
}]);

#[tokio::test]
async fn entry_uuid() {
    // Missing: an empty id (its document and association follow it).
    metadata_refusal(
        |r| {
            entry(r).entry_uuid = String::new();
            r.documents[0].id = String::new();
            r.submission.objects.associations[0].target = String::new();
        },
        "DocumentEntry.entryUUID",
        "is missing",
    )
    .await;
    // Malformed: not a UUID behind urn:uuid: (the message cannot be read).
    let (doc, reply) = submit_changed(|r| {
        entry(r).entry_uuid = "urn:uuid:not-a-uuid".into();
        r.documents[0].id = "urn:uuid:not-a-uuid".into();
        r.submission.objects.associations[0].target = "urn:uuid:not-a-uuid".into();
    })
    .await;
    assert_refused(
        &doc,
        &reply,
        "XDSRegistryMetadataError",
        "the ProvideAndRegisterDocumentSetRequest cannot be read",
    );
    assert!(reply.single_error().1.contains("urn:uuid:not-a-uuid"));
    // Taken: the UUID of an entry already registered.
    let first = Doc::new(MARIE, DEMO_REFERENT_GP, "N");
    let uuid = format!("urn:uuid:{}", uuid::Uuid::new_v4());
    let mut request = first.request(PLATFORM.now());
    entry(&mut request).entry_uuid = uuid.clone();
    request.documents[0].id = uuid.clone();
    request.submission.objects.associations[0].target = uuid.clone();
    let gp = PLATFORM.professional(DEMO_REFERENT_GP);
    gp.submit(&request, &first.content, &first.mime_type)
        .await
        .assert_success();
    let registered = gp.get_documents(&[&first.unique_id]).await;
    assert_eq!(registered[0].entry_uuid, uuid, "a UUID given is kept");
    let (doc, reply) = submit_changed(|r| {
        entry(r).entry_uuid = uuid.clone();
        r.documents[0].id = uuid.clone();
        r.submission.objects.associations[0].target = uuid.clone();
    })
    .await;
    assert_refused(
        &doc,
        &reply,
        "XDSRegistryMetadataError",
        "DocumentEntry.entryUUID",
    );
}

#[tokio::test]
async fn submission_set_entry_uuid() {
    metadata_refusal(
        |r| {
            set(r).entry_uuid = String::new();
            r.submission.objects.associations[0].source = String::new();
        },
        "SubmissionSet.entryUUID",
        "is missing",
    )
    .await;
}

#[tokio::test]
async fn optional_attributes_when_given_must_be_well_formed() {
    for (attribute, change) in [
        (
            "DocumentEntry.hash",
            Box::new(|r: &mut ProvideAndRegisterRequest| {
                entry(r).hash = Some(Checked::parse_with("xyz", Sha1Hash::from_hex))
            }) as Box<dyn FnOnce(&mut ProvideAndRegisterRequest)>,
        ),
        (
            "DocumentEntry.size",
            Box::new(|r| entry(r).size = Some(Checked::parse_with("12a", |s| s.parse::<u64>()))),
        ),
        (
            "DocumentEntry.serviceStartTime",
            Box::new(|r| entry(r).service_start_time = malformed_time("2024-01-01")),
        ),
        (
            "SubmissionSet.author",
            Box::new(|r| set(r).authors[0].person = Some("Weber^Anne".into())),
        ),
    ] {
        metadata_refusal(change, attribute, "is malformed").await;
    }
}

#[tokio::test]
async fn every_problem_is_reported_at_once() {
    let (doc, reply) = submit_changed(|r| {
        entry(r).class_code = None;
        entry(r).language_code = None;
        set(r).source_id = None;
    })
    .await;
    reply.assert_schema_valid();
    let response = reply.registry_response();
    let contexts: Vec<&str> = response
        .errors
        .iter()
        .map(|e| e.code_context.as_str())
        .collect();
    assert_eq!(contexts.len(), 3, "{contexts:#?}");
    for attribute in [
        "DocumentEntry.classCode",
        "DocumentEntry.languageCode",
        "SubmissionSet.sourceId",
    ] {
        assert!(
            contexts.iter().any(|c| c.starts_with(attribute)),
            "{attribute}: {contexts:#?}"
        );
    }
    assert!(
        response
            .errors
            .iter()
            .all(|e| e.error_code == XdsErrorCode::RegistryMetadataError
                && e.severity == Severity::Error)
    );
    assert!(
        response
            .errors
            .iter()
            .any(|e| e.location.as_deref() == Some("Document01"))
    );
    assert!(
        PLATFORM
            .context
            .store()
            .document_by_unique_id(&doc.unique_id)
            .expect("store")
            .is_none()
    );
}

#[tokio::test]
async fn the_submission_set_author_may_be_left_out() {
    let (doc, reply) = submit_changed(|r| set(r).authors.clear()).await;
    reply.assert_success();
    assert!(
        PLATFORM
            .context
            .store()
            .document_by_unique_id(&doc.unique_id)
            .expect("store")
            .is_some()
    );
}

#[tokio::test]
async fn the_structure_is_one_set_one_entry_and_their_association() {
    let (doc, reply) = submit_changed(|r| r.submission.objects.associations.clear()).await;
    assert_refused(
        &doc,
        &reply,
        "XDSRegistryMetadataError",
        "the HasMember association",
    );
    let (doc, reply) = submit_changed(|r| {
        let mut second = r.submission.objects.document_entries[0].clone();
        second.entry_uuid = "Document02".into();
        r.submission.objects.document_entries.push(second);
    })
    .await;
    assert_refused(
        &doc,
        &reply,
        "XDSRegistryMetadataError",
        "DocumentEntry: the sandbox takes one document per submission",
    );
    let (doc, reply) = submit_changed(|r| {
        r.submission.objects.associations.push(Association::new(
            "Append01",
            AssociationType::Append,
            "Document01",
            "urn:uuid:5f3e3a5e-7a57-4e2b-9a53-0d5c1b2f6c11",
        ))
    })
    .await;
    assert_refused(
        &doc,
        &reply,
        "XDSRegistryMetadataError",
        "association 'Append01'",
    );
}

#[tokio::test]
async fn documents_and_entries_must_match() {
    let (doc, reply) = submit_changed(|r| {
        r.documents[0].content = DocumentContent::include("elsewhere@test.dspconnect");
    })
    .await;
    assert_refused(
        &doc,
        &reply,
        "XDSMissingDocument",
        "xds:Document 'Document01' includes MIME part <elsewhere@test.dspconnect>",
    );
    let (doc, reply) = submit_changed(|r| r.documents.clear()).await;
    assert_refused(
        &doc,
        &reply,
        "XDSMissingDocument",
        "DocumentEntry 'Document01' has no xds:Document",
    );
    let (doc, reply) = submit_changed(|r| {
        r.documents.push(Document {
            id: "Document02".into(),
            content: DocumentContent::include(common::xds::DOCUMENT_CID),
        })
    })
    .await;
    assert_refused(
        &doc,
        &reply,
        "XDSMissingDocumentMetadata",
        "xds:Document 'Document02'",
    );
}

#[tokio::test]
async fn hash_and_size_must_be_the_documents() {
    let (doc, reply) =
        submit_changed(|r| entry(r).hash = Some(Sha1Hash::of(b"another document").into())).await;
    assert_refused(
        &doc,
        &reply,
        "XDSNonIdenticalHash",
        "DocumentEntry.hash is ",
    );
    let (doc, reply) = submit_changed(|r| entry(r).size = Some(1u64.into())).await;
    assert_refused(
        &doc,
        &reply,
        "XDSNonIdenticalSize",
        "DocumentEntry.size is 1 ",
    );
    // Neither is required of the source: the repository computes them.
    let (doc, reply) = submit_changed(|r| {
        entry(r).hash = None;
        entry(r).size = None;
    })
    .await;
    reply.assert_success();
    let registered = PLATFORM
        .context
        .store()
        .document_by_unique_id(&doc.unique_id)
        .expect("store")
        .expect("registered");
    assert_eq!(registered.hash, Sha1Hash::of(&doc.content).to_string());
    assert_eq!(registered.size, doc.content.len() as u64);
}

#[tokio::test]
async fn a_known_unique_id_is_a_duplicate() {
    let platform = &*PLATFORM;
    let gp = platform.professional(DEMO_REFERENT_GP);
    let doc = Doc::new(MARIE, DEMO_REFERENT_GP, "N");
    let request = doc.request(platform.now());
    gp.submit(&request, &doc.content, &doc.mime_type)
        .await
        .assert_success();
    // The same request again (a retry after a lost answer).
    let again = gp.submit(&request, &doc.content, &doc.mime_type).await;
    again.assert_schema_valid();
    let (code, context) = again.single_error();
    assert_eq!(code, "XDSDuplicateUniqueIdInRegistry");
    assert!(context.contains(&doc.unique_id), "{context}");
    // Another document under the same uniqueId.
    let other = Doc {
        content: b"%PDF-1.7 other".to_vec(),
        ..doc.clone()
    };
    let reply = gp.submit_doc(&other).await;
    assert_eq!(reply.single_error().0, "XDSDuplicateUniqueIdInRegistry");
    let stored = platform
        .context
        .store()
        .document_by_unique_id(&doc.unique_id)
        .expect("store")
        .expect("registered");
    assert_eq!(
        stored.hash,
        Sha1Hash::of(&doc.content).to_string(),
        "the first stays"
    );
}

#[tokio::test]
async fn the_patient_must_have_a_dsp_and_be_the_sets() {
    let stranger = Matricule::from_parts(1980, 1, 1, 123)
        .expect("a valid matricule")
        .to_string();
    let (doc, reply) = submit_changed(|r| {
        entry(r).patient_id = Some(cx(&stranger));
        set(r).patient_id = Some(cx(&stranger));
    })
    .await;
    assert_refused(
        &doc,
        &reply,
        "XDSUnknownPatientId",
        &format!("patient {stranger} has no DSP"),
    );
    let (doc, reply) =
        submit_changed(|r| set(r).patient_id = Some(cx(DEMO_PATIENT_WITHOUT_RELATIONS))).await;
    assert_refused(
        &doc,
        &reply,
        "XDSPatientIdDoesNotMatch",
        "the SubmissionSet is for patient",
    );
}

#[tokio::test]
async fn the_author_and_the_statement_are_the_assertions_subject() {
    let platform = &*PLATFORM;
    // The cardiologist sends a document naming the GP as its author.
    let doc = Doc::new(MARIE, DEMO_REFERENT_GP, "N");
    let reply = platform
        .professional(DEMO_CERCLE_SPECIALIST)
        .submit_doc(&doc)
        .await;
    reply.assert_schema_valid();
    let response = reply.registry_response();
    assert_eq!(response.status, ResponseStatus::Failure);
    assert!(
        response
            .errors
            .iter()
            .all(|e| e.error_code.as_str() == "DSPAuthorNotSubject")
    );
    let contexts: Vec<&str> = response
        .errors
        .iter()
        .map(|e| e.code_context.as_str())
        .collect();
    assert!(
        contexts
            .iter()
            .any(|c| c.starts_with("DocumentEntry.author names SBX1001")),
        "{contexts:#?}"
    );
    assert!(
        contexts
            .iter()
            .any(|c| c.starts_with("SubmissionSet.author names SBX1001")),
        "{contexts:#?}"
    );
    assert!(
        contexts
            .iter()
            .any(|c| c.starts_with("the patient-informed statement is made by SBX1001")),
        "{contexts:#?}"
    );
    assert!(
        platform
            .context
            .store()
            .document_by_unique_id(&doc.unique_id)
            .expect("store")
            .is_none()
    );

    // The GP's document, with the cardiologist's statement.
    let (doc, reply) = submit_changed(|r| {
        entry(r).extra_slots = vec![Slot::single(
            PatientInformedStatement::SLOT_NAME,
            statement(DEMO_CERCLE_SPECIALIST, PLATFORM.now()),
        )]
    })
    .await;
    assert_refused(
        &doc,
        &reply,
        "DSPAuthorNotSubject",
        "the patient-informed statement is made by SBX1002",
    );
}

#[tokio::test]
async fn the_policy_decides_who_submits() {
    let platform = &*PLATFORM;
    for (professional, rule) in [
        (DEMO_BLACK_LISTED, "BLACK-LIST"),
        (DEMO_PHARMACIST, "NO-CARE-RELATION"),
    ] {
        let doc = Doc::new(MARIE, professional, "N");
        let reply = platform.professional(professional).submit_doc(&doc).await;
        assert_refused(&doc, &reply, "DSPAccessDenied", &format!("{rule}: "));
        let trail = platform
            .context
            .store()
            .access_trail(&patient(MARIE))
            .expect("trail");
        let subject = Subject::card(EHealthId::new(professional).expect("id"));
        assert!(
            trail.iter().any(|a| a.subject == subject
                && a.operation == "submit"
                && !a.allowed
                && a.rule == rule),
            "the refusal is in the trail"
        );
    }
    // The cercle de confiance submits, in any mode.
    for mode in ["N", "R", "P", "VA"] {
        let doc = Doc::new(MARIE, DEMO_CERCLE_SPECIALIST, mode);
        platform
            .professional(DEMO_CERCLE_SPECIALIST)
            .submit_doc(&doc)
            .await
            .assert_success();
    }
}

#[tokio::test]
async fn a_consultation_grant_opens_submission_until_it_expires() {
    let (sandbox, platform) = start(&PKI_TEMPLATE).await;
    let tom = patient(DEMO_PATIENT_WITHOUT_RELATIONS);
    let store = platform.context.store();
    let code = store
        .create_presence_code(&tom, platform.now(), Duration::hours(1))
        .expect("code");
    store
        .redeem_presence_code(
            &tom,
            code.expose(),
            &EHealthId::new(DEMO_PHARMACIST).expect("id"),
            platform.now(),
            Duration::hours(4),
        )
        .expect("redeemed");
    let pharmacist = platform.professional(DEMO_PHARMACIST);
    let doc = Doc::new(DEMO_PATIENT_WITHOUT_RELATIONS, DEMO_PHARMACIST, "N");
    pharmacist.submit_doc(&doc).await.assert_success();

    platform.context.clock().advance(Duration::hours(5));
    let late = Doc::new(DEMO_PATIENT_WITHOUT_RELATIONS, DEMO_PHARMACIST, "N");
    let reply = pharmacist.submit_doc(&late).await;
    reply.assert_schema_valid();
    let (code, context) = reply.single_error();
    assert_eq!(code, "DSPGrantExpired");
    assert!(
        context.starts_with("NO-CARE-RELATION: your consultation grant"),
        "{context}"
    );
    assert!(
        store
            .document_by_unique_id(&late.unique_id)
            .expect("store")
            .is_none()
    );
    sandbox.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn uploads_beyond_the_configured_ceiling_are_refused() {
    let (sandbox, platform) = start_configured(&PKI_TEMPLATE, |config| {
        config.with_max_document_bytes(64 * 1024)
    })
    .await;
    let gp = platform.professional(DEMO_REFERENT_GP);
    let mut doc = Doc::new(MARIE, DEMO_REFERENT_GP, "N");
    doc.content = vec![b'%'; 128 * 1024];
    let (content_type, body, _) =
        gp.submit_body(&doc.request(platform.now()), &doc.content, &doc.mime_type);
    let answer = gp
        .send(
            dspconnect_sandbox::xds::REPOSITORY_PATH,
            &content_type,
            body,
        )
        .await
        .expect("an answer");
    assert_eq!(answer.status(), 413);
    assert!(
        platform
            .context
            .store()
            .document_by_unique_id(&doc.unique_id)
            .expect("store")
            .is_none()
    );
    // Within the ceiling, the same submission goes through.
    let small = Doc::new(MARIE, DEMO_REFERENT_GP, "N");
    gp.submit_doc(&small).await.assert_success();
    sandbox.shutdown().await.expect("clean shutdown");
}
