//! The XDS.b endpoints over HTTPS with a real client and IdP-signed
//! assertions: ITI-41 → ITI-18 → ITI-43 (bytes identical), listing and
//! reading as the policy says, the access trail, the security header, and
//! the schema validity of every answer kind.

mod common;

use std::path::PathBuf;
use std::sync::LazyLock;

use common::xds::{Doc, ITI18, ITI41, Platform, cx, start_shared};
use dspconnect_sandbox::pki::Pki;
use dspconnect_sandbox::policy::{EHealthId, PatientId, Subject};
use dspconnect_sandbox::store::PresenceCodeRedemption;
use dspconnect_sandbox::store::demo::{
    DEMO_BLACK_LISTED, DEMO_CERCLE_SPECIALIST, DEMO_PATIENT_WITH_RELATIONS, DEMO_PHARMACIST,
    DEMO_REFERENT_GP,
};
use dspconnect_sandbox::xds::{REGISTRY_PATH, REPOSITORY_PATH, REPOSITORY_UNIQUE_ID};
use ihe::xds::*;
use ihe::xml::ParseLimits;
use time::Duration;

static PKI_TEMPLATE: LazyLock<PathBuf> = LazyLock::new(|| {
    let dir = common::fresh_shared_dir("xds-roundtrip-tests").join("template");
    Pki::load_or_create(&dir).expect("PKI created");
    dir
});

/// One sandbox for the tests of this file: each works on its own
/// documents, and none moves the clock.
static PLATFORM: LazyLock<Platform> = LazyLock::new(|| start_shared(&PKI_TEMPLATE));

const MARIE: &str = DEMO_PATIENT_WITH_RELATIONS;

fn patient(matricule: &str) -> PatientId {
    PatientId::new(matricule).expect("a demo matricule")
}

#[tokio::test]
async fn a_document_goes_in_is_found_and_comes_back_identical() {
    let platform = &*PLATFORM;
    let gp = platform.professional(DEMO_REFERENT_GP);
    let doc = Doc::new(MARIE, DEMO_REFERENT_GP, "N");

    let submitted = gp.submit_doc(&doc).await;
    assert_eq!(submitted.status, 200);
    assert!(submitted.content_type.starts_with("application/soap+xml"));
    assert!(
        submitted
            .content_type
            .contains("ProvideAndRegisterDocumentSet-bResponse"),
        "{}",
        submitted.content_type
    );
    submitted.assert_success();
    submitted.assert_schema_valid();
    assert_eq!(
        submitted.relates_to().as_deref(),
        Some(submitted.request_message_id.as_str())
    );

    // ITI-18 FindDocuments, LeafClass: the entry as registered.
    let found = gp.find_documents(MARIE).await;
    let entry = found
        .iter()
        .find(|e| e.unique_id.as_deref() == Some(doc.unique_id.as_str()))
        .expect("the new entry is found");
    assert!(
        entry.entry_uuid.starts_with("urn:uuid:"),
        "the symbolic id was replaced: {}",
        entry.entry_uuid
    );
    assert_eq!(entry.logical_id.as_deref(), Some(entry.entry_uuid.as_str()));
    assert_eq!(entry.version.as_deref(), Some("1"));
    assert_eq!(
        entry.availability_status,
        Some(AvailabilityStatus::Approved)
    );
    assert_eq!(
        entry.repository_unique_id.as_deref(),
        Some(REPOSITORY_UNIQUE_ID)
    );
    assert_eq!(
        entry.hash.as_ref().and_then(Checked::valid),
        Some(&Sha1Hash::of(&doc.content))
    );
    assert_eq!(
        entry.size.as_ref().and_then(Checked::valid),
        Some(&(doc.content.len() as u64))
    );
    assert_eq!(
        entry.confidentiality_codes,
        vec![common::xds::mode_code("N")]
    );
    assert_eq!(entry.patient_id.as_deref(), Some(cx(MARIE).as_str()));
    assert_eq!(
        entry.authors[0].person.as_deref(),
        Some(common::xds::author_person(DEMO_REFERENT_GP).as_str())
    );

    // ITI-18 GetDocuments, ObjectRef.
    let by_id = gp
        .query(
            &StoredQuery::GetDocuments(GetDocumentsQuery {
                ids: DocumentIds::UniqueIds(vec![doc.unique_id.clone()]),
                other_parameters: Vec::new(),
            }),
            ReturnType::ObjectRef,
        )
        .await;
    by_id.assert_schema_valid();
    let (objects, _) = by_id.query_response().into_result().expect("success");
    assert_eq!(objects.object_refs.len(), 1);
    assert_eq!(objects.object_refs[0].id, entry.entry_uuid);
    assert!(objects.document_entries.is_empty());

    // ITI-43: the same bytes, as an MTOM attachment.
    let retrieved = gp.retrieve(&[&doc.unique_id]).await;
    assert_eq!(retrieved.status, 200);
    assert!(
        retrieved.content_type.starts_with("multipart/related"),
        "{}",
        retrieved.content_type
    );
    retrieved.assert_schema_valid();
    assert_eq!(
        retrieved.relates_to().as_deref(),
        Some(retrieved.request_message_id.as_str())
    );
    let response = retrieved.retrieve_response();
    assert_eq!(response.response.status, ResponseStatus::Success);
    assert_eq!(response.documents[0].mime_type, "application/pdf");
    assert_eq!(retrieved.document(&doc.unique_id), doc.content);

    // The body is a file of the data directory.
    let record = platform
        .context
        .store()
        .document(&entry.entry_uuid)
        .expect("store")
        .expect("registered");
    let body = platform.context.data_dir().join(&record.body_path);
    assert_eq!(std::fs::read(&body).expect("the body file"), doc.content);
    assert!(record.body_path.starts_with("documents/"));

    // Every act is in Marie's access trail.
    let trail = platform
        .context
        .store()
        .access_trail(&patient(MARIE))
        .expect("trail");
    let gp_subject = Subject::card(EHealthId::new(DEMO_REFERENT_GP).expect("id"));
    for operation in ["submit", "list", "read"] {
        assert!(
            trail.iter().any(|a| a.subject == gp_subject
                && a.operation == operation
                && a.allowed
                && a.entry_uuid.as_deref() == Some(entry.entry_uuid.as_str())),
            "no allowed {operation} by the GP in {trail:#?}"
        );
    }
}

#[tokio::test]
async fn a_document_sent_inline_is_stored_like_an_attachment() {
    let platform = &*PLATFORM;
    let gp = platform.professional(DEMO_REFERENT_GP);
    let doc = Doc::new(MARIE, DEMO_REFERENT_GP, "N");
    let mut request = doc.request(platform.now());
    request.documents[0].content = DocumentContent::Inline(doc.content.clone());
    let reply = gp
        .call(
            REPOSITORY_PATH,
            ITI41,
            request.to_element().expect("writable"),
        )
        .await;
    reply.assert_success();
    let retrieved = gp.retrieve(&[&doc.unique_id]).await;
    assert_eq!(retrieved.document(&doc.unique_id), doc.content);
}

#[tokio::test]
async fn password_sessions_are_refused_on_every_xds_transaction() {
    let platform = &*PLATFORM;
    let gp = platform.professional(DEMO_REFERENT_GP);
    let doc = Doc::new(MARIE, DEMO_REFERENT_GP, "N");
    gp.submit_doc(&doc).await.assert_success();
    let entry = gp.get_documents(&[&doc.unique_id]).await.remove(0);

    let limited = platform.password_session(DEMO_REFERENT_GP);
    let other = Doc::new(MARIE, DEMO_REFERENT_GP, "N");
    let replies = [
        ("ITI-41", limited.submit_doc(&other).await),
        (
            "ITI-18",
            limited
                .query(
                    &StoredQuery::FindDocuments(FindDocumentsQuery {
                        patient_id: cx(MARIE),
                        statuses: vec![AvailabilityStatus::Approved],
                        ..FindDocumentsQuery::default()
                    }),
                    ReturnType::LeafClass,
                )
                .await,
        ),
        ("ITI-43", limited.retrieve(&[&doc.unique_id]).await),
        ("ITI-57", limited.change_mode(&entry, "R").await),
    ];
    for (transaction, reply) in replies {
        assert_eq!(reply.status, 400, "{transaction}");
        assert_eq!(
            reply.fault_subcode(),
            "PasswordSessionLimited",
            "{transaction}"
        );
        let fault = reply.fault();
        assert!(
            fault.reason().contains("LuxTrust card"),
            "{}",
            fault.reason()
        );
        assert!(
            fault.detail.iter().any(|d| d.text() == "PASSWORD-SESSION"),
            "{transaction}: the fault cites the rule"
        );
        assert_eq!(
            reply.relates_to().as_deref(),
            Some(reply.request_message_id.as_str()),
            "{transaction}"
        );
        xmllint_envelope(&reply.envelope);
    }
    assert!(
        platform
            .context
            .store()
            .document_by_unique_id(&other.unique_id)
            .expect("store")
            .is_none(),
        "nothing was registered"
    );
    let entries = gp.get_documents(&[&doc.unique_id]).await;
    assert_eq!(entries[0].version.as_deref(), Some("1"), "no mode changed");
}

fn xmllint_envelope(envelope: &[u8]) {
    common::xds::xmllint(
        envelope,
        &common::xds::schema_dir().join("soap/soap-1.2-envelope.xsd"),
    )
    .unwrap_or_else(|e| panic!("the fault envelope is not SOAP 1.2: {e}"));
}

#[tokio::test]
async fn calls_without_a_valid_assertion_are_faults() {
    let platform = &*PLATFORM;
    let gp = platform.professional(DEMO_REFERENT_GP);
    let query = AdhocQueryRequest::new(
        &StoredQuery::FindDocuments(FindDocumentsQuery {
            patient_id: cx(MARIE),
            statuses: vec![AvailabilityStatus::Approved],
            ..FindDocumentsQuery::default()
        }),
        ReturnType::LeafClass,
    )
    .expect("query")
    .to_element()
    .expect("writable");

    // No Security header at all.
    let bare = ihe::soap::Envelope::new(query.clone()).to_bytes();
    let reply = gp
        .post(
            REGISTRY_PATH,
            "application/soap+xml; charset=UTF-8",
            bare,
            String::new(),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.fault_subcode(), "AssertionMissing");

    // An assertion that expired an hour ago.
    let past = platform.now() - Duration::hours(2);
    let stale = common::assertions::assertion(
        platform.context.pki(),
        DEMO_REFERENT_GP,
        common::assertions::Login::Card,
        past,
    );
    let envelope = ihe::soap::Envelope::new(query.clone())
        .with_header(ihe::wssec::bearer_security_header(
            &ihe::wssec::Timestamp::new(platform.now(), Duration::minutes(5)),
            "TS-1",
            stale,
        ))
        .to_bytes();
    let reply = gp
        .post(
            REGISTRY_PATH,
            "application/soap+xml",
            envelope,
            String::new(),
        )
        .await;
    assert_eq!(reply.fault_subcode(), "AssertionExpired");

    // An assertion whose subject was changed after signing.
    let (envelope, _) = gp.envelope(query, ITI18, REGISTRY_PATH);
    let tampered = String::from_utf8(envelope)
        .expect("UTF-8")
        .replace(DEMO_REFERENT_GP, DEMO_CERCLE_SPECIALIST);
    let reply = gp
        .post(
            REGISTRY_PATH,
            "application/soap+xml",
            tampered.into_bytes(),
            String::new(),
        )
        .await;
    assert_eq!(reply.fault_subcode(), "AssertionInvalid");
}

#[tokio::test]
async fn the_action_must_be_the_payloads_and_the_endpoint_must_serve_it() {
    let platform = &*PLATFORM;
    let gp = platform.professional(DEMO_REFERENT_GP);
    let query = AdhocQueryRequest::new(
        &StoredQuery::FindDocuments(FindDocumentsQuery {
            patient_id: cx(MARIE),
            statuses: vec![AvailabilityStatus::Approved],
            ..FindDocumentsQuery::default()
        }),
        ReturnType::LeafClass,
    )
    .expect("query")
    .to_element()
    .expect("writable");

    // A query sent to the repository.
    let reply = gp.call(REPOSITORY_PATH, ITI18, query.clone()).await;
    assert_eq!(reply.fault_subcode(), "Malformed");
    assert!(reply.fault().reason().contains("AdhocQueryRequest"));

    // A query announced as ITI-41 in the Content-Type.
    let (envelope, id) = gp.envelope(query.clone(), ITI18, REGISTRY_PATH);
    let reply = gp
        .post(
            REGISTRY_PATH,
            &format!("application/soap+xml; action=\"{ITI41}\""),
            envelope,
            id,
        )
        .await;
    assert_eq!(reply.fault_subcode(), "Malformed");
    assert!(
        reply.fault().reason().contains("Content-Type"),
        "{}",
        reply.fault().reason()
    );

    // A query announced as ITI-41 in wsa:Action.
    let (envelope, id) = gp.envelope(query, ITI41, REGISTRY_PATH);
    let reply = gp
        .post(REGISTRY_PATH, "application/soap+xml", envelope, id)
        .await;
    assert_eq!(reply.fault_subcode(), "Malformed");
    assert!(reply.fault().reason().contains("wsa:Action"));
    assert_eq!(
        reply.relates_to().as_deref(),
        Some(reply.request_message_id.as_str())
    );
}

#[tokio::test]
async fn the_injection_looking_sample_query_gets_a_clean_error() {
    let platform = &*PLATFORM;
    let gp = platform.professional(DEMO_REFERENT_GP);
    let sample = std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../ihe/reference/samples/ipf/iti18request.xml"),
    )
    .expect("the IPF sample");
    let request = ihe::xml::parse(&sample, &ParseLimits::SOAP).expect("the sample parses");
    let reply = gp.call(REGISTRY_PATH, ITI18, request).await;
    assert_eq!(reply.status, 200);
    reply.assert_schema_valid();
    let response = reply.query_response();
    assert_eq!(response.status, ResponseStatus::Failure);
    assert_eq!(response.errors.len(), 1);
    assert_eq!(
        response.errors[0].error_code,
        XdsErrorCode::UnknownPatientId
    );
    assert!(
        response.errors[0]
            .code_context
            .contains("2.16.756.5.33.2.5.1.5.1"),
        "{}",
        response.errors[0].code_context
    );
    assert!(response.objects.is_empty());
    // The registry works on.
    let doc = Doc::new(MARIE, DEMO_REFERENT_GP, "N");
    gp.submit_doc(&doc).await.assert_success();
    assert_eq!(gp.get_documents(&[&doc.unique_id]).await.len(), 1);
}

#[tokio::test]
async fn find_documents_filters_by_status_creation_time_and_confidentiality() {
    let platform = &*PLATFORM;
    // Henri Bausch's DSP is only used here; the pharmacist takes a
    // presence code to work on it.
    let henri = dspconnect_sandbox::store::demo::DEMO_PATIENT_EXAMPLE_MATRICULE;
    let store = platform.context.store();
    let code = store
        .create_presence_code(&patient(henri), platform.now(), Duration::hours(1))
        .expect("code");
    let granted = store
        .redeem_presence_code(
            &patient(henri),
            code.expose(),
            &EHealthId::new(DEMO_PHARMACIST).expect("id"),
            platform.now(),
            Duration::hours(4),
        )
        .expect("redeemed");
    assert!(matches!(granted, PresenceCodeRedemption::Granted(_)));
    let pharmacist = platform.professional(DEMO_PHARMACIST);
    let normal = Doc::new(henri, DEMO_PHARMACIST, "N");
    let annonce = Doc::new(henri, DEMO_PHARMACIST, "VA");
    pharmacist.submit_doc(&normal).await.assert_success();
    pharmacist.submit_doc(&annonce).await.assert_success();

    let find = |statuses: Vec<AvailabilityStatus>,
                confidentiality: Vec<Vec<Code>>,
                from: Option<Dtm>,
                to: Option<Dtm>| {
        StoredQuery::FindDocuments(FindDocumentsQuery {
            patient_id: cx(henri),
            statuses,
            creation_time_from: from,
            creation_time_to: to,
            confidentiality_codes: confidentiality,
            ..FindDocumentsQuery::default()
        })
    };
    let unique_ids = |reply: common::xds::Reply| -> Vec<String> {
        reply.assert_schema_valid();
        let (objects, _) = reply.query_response().into_result().expect("success");
        let mut ids: Vec<String> = objects
            .document_entries
            .iter()
            .filter_map(|e| e.unique_id.clone())
            .collect();
        ids.sort();
        ids
    };
    let mut both = vec![normal.unique_id.clone(), annonce.unique_id.clone()];
    both.sort();
    let approved = vec![AvailabilityStatus::Approved];
    let hour_ago = Dtm::from_datetime(platform.now() - Duration::hours(1));
    let in_an_hour = Dtm::from_datetime(platform.now() + Duration::hours(1));

    let all = pharmacist
        .query(
            &find(approved.clone(), vec![], None, None),
            ReturnType::LeafClass,
        )
        .await;
    assert_eq!(unique_ids(all), both);
    let va = common::xds::mode_code("VA");
    let only_va = pharmacist
        .query(
            &find(approved.clone(), vec![vec![va.clone()]], None, None),
            ReturnType::LeafClass,
        )
        .await;
    assert_eq!(unique_ids(only_va), vec![annonce.unique_id.clone()]);
    // A bare code (no scheme) matches too; two AND-ed groups must both match.
    let bare = Code {
        code: "N".into(),
        coding_scheme: None,
        display_name: None,
    };
    let bare_n = pharmacist
        .query(
            &find(
                approved.clone(),
                vec![vec![bare.clone(), va.clone()], vec![bare]],
                None,
                None,
            ),
            ReturnType::LeafClass,
        )
        .await;
    assert_eq!(unique_ids(bare_n), vec![normal.unique_id.clone()]);
    let window = pharmacist
        .query(
            &find(approved.clone(), vec![], Some(hour_ago), Some(in_an_hour)),
            ReturnType::LeafClass,
        )
        .await;
    assert_eq!(unique_ids(window), both);
    let later = pharmacist
        .query(
            &find(approved.clone(), vec![], Some(in_an_hour), None),
            ReturnType::LeafClass,
        )
        .await;
    assert!(unique_ids(later).is_empty());
    let earlier = pharmacist
        .query(
            &find(approved.clone(), vec![], None, Some(hour_ago)),
            ReturnType::LeafClass,
        )
        .await;
    assert!(unique_ids(earlier).is_empty());
    let deprecated = pharmacist
        .query(
            &find(vec![AvailabilityStatus::Deprecated], vec![], None, None),
            ReturnType::LeafClass,
        )
        .await;
    assert!(unique_ids(deprecated).is_empty());

    // GetDocuments by entryUUID; documents of two patients at once are
    // refused.
    let entry_uuids: Vec<String> = [&normal, &annonce]
        .iter()
        .map(|doc| {
            platform
                .context
                .store()
                .document_by_unique_id(&doc.unique_id)
                .expect("store")
                .expect("registered")
                .entry_uuid
        })
        .collect();
    let by_uuid = pharmacist
        .query(
            &StoredQuery::GetDocuments(GetDocumentsQuery {
                ids: DocumentIds::EntryUuids(entry_uuids.clone()),
                other_parameters: Vec::new(),
            }),
            ReturnType::LeafClass,
        )
        .await;
    assert_eq!(unique_ids(by_uuid), both);
    let tom = dspconnect_sandbox::store::demo::DEMO_PATIENT_WITHOUT_RELATIONS;
    let code = store
        .create_presence_code(&patient(tom), platform.now(), Duration::hours(1))
        .expect("code");
    store
        .redeem_presence_code(
            &patient(tom),
            code.expose(),
            &EHealthId::new(DEMO_PHARMACIST).expect("id"),
            platform.now(),
            Duration::hours(4),
        )
        .expect("redeemed");
    let toms = Doc::new(tom, DEMO_PHARMACIST, "N");
    pharmacist.submit_doc(&toms).await.assert_success();
    let two_patients = pharmacist
        .query(
            &StoredQuery::GetDocuments(GetDocumentsQuery {
                ids: DocumentIds::UniqueIds(vec![normal.unique_id.clone(), toms.unique_id.clone()]),
                other_parameters: Vec::new(),
            }),
            ReturnType::LeafClass,
        )
        .await;
    two_patients.assert_schema_valid();
    assert_eq!(
        two_patients.query_response().errors[0].error_code,
        XdsErrorCode::ResultNotSinglePatient
    );

    // Status is required; an unknown query id is refused by name.
    let no_status = pharmacist
        .query(&find(vec![], vec![], None, None), ReturnType::LeafClass)
        .await;
    let response = no_status.query_response();
    assert_eq!(
        response.errors[0].error_code,
        XdsErrorCode::StoredQueryMissingParam
    );
    let other = pharmacist
        .query(
            &StoredQuery::Other {
                query_id: ihe::xds::constants::stored_query::GET_SUBMISSION_SETS.into(),
                parameters: vec![Slot::single(
                    "$uuid",
                    "('urn:uuid:00000000-0000-4000-8000-000000000000')",
                )],
            },
            ReturnType::LeafClass,
        )
        .await;
    other.assert_schema_valid();
    assert_eq!(
        other.query_response().errors[0].error_code,
        XdsErrorCode::UnknownStoredQuery
    );
}

/// Submits one document of Marie's in each mode, by her médecin référent.
async fn maries_documents(platform: &Platform) -> [Doc; 4] {
    let gp = platform.professional(DEMO_REFERENT_GP);
    let docs = ["N", "R", "P", "VA"].map(|mode| Doc::new(MARIE, DEMO_REFERENT_GP, mode));
    for doc in &docs {
        gp.submit_doc(doc).await.assert_success();
    }
    docs
}

#[tokio::test]
async fn listing_and_reading_follow_the_policy() {
    let platform = &*PLATFORM;
    let [normal, restreint, prive, annonce] = maries_documents(platform).await;
    let ids = [&normal, &restreint, &prive, &annonce].map(|d| d.unique_id.as_str());

    let listed = |entries: Vec<DocumentEntry>| -> Vec<String> {
        entries
            .into_iter()
            .filter_map(|e| e.unique_id)
            .filter(|id| ids.contains(&id.as_str()))
            .collect()
    };
    // The author (also the référent) lists all four.
    let gp = platform.professional(DEMO_REFERENT_GP);
    assert_eq!(listed(gp.get_documents(&ids).await).len(), 4);
    // The cercle de confiance: Normal, Restreint, Visite d'annonce; not Privé.
    let cardiologist = platform.professional(DEMO_CERCLE_SPECIALIST);
    assert_eq!(
        listed(cardiologist.get_documents(&ids).await),
        vec![
            normal.unique_id.clone(),
            restreint.unique_id.clone(),
            annonce.unique_id.clone()
        ]
    );
    // No relationship, or black-listed: nothing.
    let pharmacist = platform.professional(DEMO_PHARMACIST);
    assert!(listed(pharmacist.find_documents(MARIE).await).is_empty());
    let black_listed = platform.professional(DEMO_BLACK_LISTED);
    assert!(listed(black_listed.get_documents(&ids).await).is_empty());

    // Reading: the same, with the rule in the refusal.
    let refused = |reply: &common::xds::Reply| -> (String, String) {
        reply.assert_schema_valid();
        let response = reply.retrieve_response();
        assert_eq!(response.response.status, ResponseStatus::Failure);
        assert!(response.documents.is_empty());
        let error = &response.response.errors[0];
        (
            error.error_code.as_str().to_owned(),
            error.code_context.clone(),
        )
    };
    let (code, context) = refused(&cardiologist.retrieve(&[&prive.unique_id]).await);
    assert_eq!(code, "DSPAccessDenied");
    assert!(context.starts_with("READ-PRIVE: "), "{context}");
    assert!(
        context.contains("accessible uniquement au patient et à l'auteur"),
        "{context}"
    );
    let (code, context) = refused(&pharmacist.retrieve(&[&normal.unique_id]).await);
    assert_eq!(code, "DSPAccessDenied");
    assert!(context.starts_with("NO-CARE-RELATION: "), "{context}");
    let (_, context) = refused(&black_listed.retrieve(&[&normal.unique_id]).await);
    assert!(context.starts_with("BLACK-LIST: "), "{context}");

    // Part allowed, part refused, part unknown: PartialSuccess.
    let mixed = cardiologist
        .retrieve(&[&normal.unique_id, &prive.unique_id, "2.25.1"])
        .await;
    mixed.assert_schema_valid();
    let response = mixed.retrieve_response();
    assert_eq!(response.response.status, ResponseStatus::PartialSuccess);
    assert_eq!(mixed.document(&normal.unique_id), normal.content);
    let codes: Vec<&str> = response
        .response
        .errors
        .iter()
        .map(|e| e.error_code.as_str())
        .collect();
    assert_eq!(codes, vec!["DSPAccessDenied", "XDSDocumentUniqueIdError"]);

    // Another repository is not this one.
    let request = RetrieveDocumentSetRequest {
        documents: vec![DocumentRequest {
            home_community_id: None,
            repository_unique_id: "1.2.3.4".into(),
            document_unique_id: normal.unique_id.clone(),
        }],
    };
    let reply = cardiologist
        .call(
            REPOSITORY_PATH,
            common::xds::ITI43,
            request.to_element().expect("writable"),
        )
        .await;
    assert_eq!(
        reply.retrieve_response().response.errors[0].error_code,
        XdsErrorCode::UnknownRepositoryId
    );

    // A presence code opens Normal and Visite d'annonce, never Restreint
    // or Privé.
    let store = platform.context.store();
    let code = store
        .create_presence_code(&patient(MARIE), platform.now(), Duration::hours(1))
        .expect("code");
    store
        .redeem_presence_code(
            &patient(MARIE),
            code.expose(),
            &EHealthId::new(DEMO_PHARMACIST).expect("id"),
            platform.now(),
            Duration::hours(4),
        )
        .expect("redeemed");
    assert_eq!(
        listed(pharmacist.get_documents(&ids).await),
        vec![normal.unique_id.clone(), annonce.unique_id.clone()]
    );
    assert_eq!(
        pharmacist
            .retrieve(&[&annonce.unique_id])
            .await
            .document(&annonce.unique_id),
        annonce.content
    );
    let (_, context) = refused(&pharmacist.retrieve(&[&restreint.unique_id]).await);
    assert!(context.starts_with("READ-RESTREINT: "), "{context}");
    // The black list wins over a presence code.
    let code = store
        .create_presence_code(&patient(MARIE), platform.now(), Duration::hours(1))
        .expect("code");
    store
        .redeem_presence_code(
            &patient(MARIE),
            code.expose(),
            &EHealthId::new(DEMO_BLACK_LISTED).expect("id"),
            platform.now(),
            Duration::hours(4),
        )
        .expect("redeemed");
    assert!(listed(black_listed.get_documents(&ids).await).is_empty());

    // Refused reads are in the trail too; unlisted entries are not.
    let trail = store.access_trail(&patient(MARIE)).expect("trail");
    let cardiologist_subject = Subject::card(EHealthId::new(DEMO_CERCLE_SPECIALIST).expect("id"));
    let prive_entry = store
        .document_by_unique_id(&prive.unique_id)
        .expect("store")
        .expect("registered")
        .entry_uuid;
    assert!(trail.iter().any(|a| a.subject == cardiologist_subject
        && a.operation == "read"
        && !a.allowed
        && a.rule == "READ-PRIVE"
        && a.entry_uuid.as_deref() == Some(prive_entry.as_str())));
    assert!(!trail.iter().any(|a| a.subject == cardiologist_subject
        && a.operation == "list"
        && a.entry_uuid.as_deref() == Some(prive_entry.as_str())));
}
