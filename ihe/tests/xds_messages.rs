//! Every message kind we write validates against the official schemas, and
//! reads back to the same value.

mod common_xds;

use common_xds::*;
use ihe::xds::*;
use ihe::xml::ParseLimits;

/// Writes, validates, reads back, and compares.
fn round_trip<M: XdsMessage + PartialEq + std::fmt::Debug>(msg: &M, what: &str) -> Vec<u8> {
    let xml = write_valid(msg, what);
    let back = M::from_xml(&xml, &ParseLimits::default()).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(&back, msg, "{what}: read back differs");
    xml
}

const ENTRY: &str = "urn:uuid:0b0e1a8e-3a9f-4f6a-9d4c-5e2a7c1d0f01";
const SET: &str = "urn:uuid:0b0e1a8e-3a9f-4f6a-9d4c-5e2a7c1d0f02";

#[test]
fn submit_objects_request_with_every_attribute() {
    let req = submission(full_entry(ENTRY), submission_set(SET));
    let xml = round_trip(&req, "SubmitObjectsRequest");
    let text = String::from_utf8(xml).unwrap();
    // The escaping is the XML layer's; check the data got through it.
    // (C14N escaping: `>` stays as is in attribute values.)
    assert!(
        text.contains(r#"value="Compte rendu &lt;consultation> &amp; &quot;suivi&quot; d'Émile""#)
    );
    assert!(text.contains("urn:dspconnect:patientInformedConsent"));
}

#[test]
fn submission_with_symbolic_ids_and_a_replacement() {
    let mut entry = full_entry("Document01");
    entry.availability_status = None;
    entry.home_community_id = None;
    let mut req = submission(entry, submission_set("SubmissionSet01"));
    req.objects.associations.push(Association::replacement(
        "Rplc01",
        "Document01",
        "urn:uuid:7d5c9a7e-1f4b-4c55-8c1e-2a1f9f0c3b44",
    ));
    round_trip(&req, "SubmitObjectsRequest with RPLC");
    assert_eq!(
        req.objects.associations[1].association_type.as_uri(),
        "urn:ihe:iti:2007:AssociationType:RPLC"
    );
}

#[test]
fn provide_and_register_inline_validates_and_include_reads_back() {
    let content = b"%PDF-1.4\n\x00\xff binary".to_vec();
    let mut entry = full_entry("Document01");
    entry.hash = Some(Sha1Hash::of(&content).into());
    entry.size = Some((content.len() as u64).into());
    let req = ProvideAndRegisterRequest {
        submission: submission(entry, submission_set("SubmissionSet01")),
        documents: vec![Document {
            id: "Document01".into(),
            content: DocumentContent::Inline(content.clone()),
        }],
    };
    round_trip(&req, "ProvideAndRegisterDocumentSetRequest (inline)");

    // The MTOM form: not schema-valid by design (recipes.md), but it must
    // read back, with the Content-ID recoverable.
    let mtom = ProvideAndRegisterRequest {
        documents: vec![Document {
            id: "Document01".into(),
            content: DocumentContent::include("doc1@dspconnect.lu"),
        }],
        ..req
    };
    let xml = mtom.to_xml().unwrap();
    let text = String::from_utf8(xml.clone()).unwrap();
    assert!(text.contains(r#"<xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" href="cid:doc1@dspconnect.lu">"#));
    let back = ProvideAndRegisterRequest::from_xml(&xml, &ParseLimits::default()).unwrap();
    assert_eq!(back, mtom);
    assert_eq!(
        back.document("Document01")
            .unwrap()
            .content
            .content_id()
            .as_deref(),
        Some("doc1@dspconnect.lu")
    );
}

#[test]
fn confidentiality_update_iti57() {
    // The entry as a registry returns it.
    let mut current = full_entry(ENTRY);
    current.version = Some("2".into());
    current.logical_id = Some("urn:uuid:0b0e1a8e-3a9f-4f6a-9d4c-5e2a7c1d0f00".into());
    let restricted = Code::new("R", "2.16.840.1.113883.5.25", "Restreint");
    let req = SubmitObjectsRequest::confidentiality_update(
        &current,
        ConfidentialityChange {
            submission_set: submission_set("SubmissionSet01"),
            new_entry_uuid: "urn:uuid:0b0e1a8e-3a9f-4f6a-9d4c-5e2a7c1d0f03".into(),
            association_id: "Update01".into(),
            confidentiality_codes: vec![restricted.clone()],
        },
    )
    .unwrap();
    round_trip(&req, "ITI-57 SubmitObjectsRequest");

    // What the sandbox sees.
    let updates = req.document_updates();
    assert_eq!(updates.len(), 1);
    let u = updates[0];
    assert_eq!(u.previous_version, "2");
    assert_eq!(
        u.entry.entry_uuid,
        "urn:uuid:0b0e1a8e-3a9f-4f6a-9d4c-5e2a7c1d0f03"
    );
    assert_eq!(u.entry.logical_id, current.logical_id);
    assert_eq!(u.entry.unique_id, current.unique_id);
    assert_eq!(u.entry.confidentiality_codes, vec![restricted]);
    assert_eq!(u.entry.version, None);
    assert_eq!(
        u.association.submission_set_status,
        Some(SubmissionSetStatus::Original)
    );
    assert!(req.is_metadata_update());
    // Everything but the codes, ids, version and status is unchanged.
    let expected = DocumentEntry {
        entry_uuid: u.entry.entry_uuid.clone(),
        logical_id: current.logical_id.clone(),
        version: None,
        availability_status: None,
        confidentiality_codes: u.entry.confidentiality_codes.clone(),
        ..current.clone()
    };
    assert_eq!(u.entry, &expected);

    // A first version (no lid) takes its entryUUID as logical id.
    current.logical_id = None;
    let req = SubmitObjectsRequest::confidentiality_update(
        &current,
        ConfidentialityChange {
            submission_set: submission_set("SubmissionSet01"),
            new_entry_uuid: "urn:uuid:0b0e1a8e-3a9f-4f6a-9d4c-5e2a7c1d0f03".into(),
            association_id: "Update01".into(),
            confidentiality_codes: vec![],
        },
    )
    .unwrap();
    assert_eq!(
        req.objects.document_entries[0].logical_id.as_deref(),
        Some(ENTRY)
    );

    // An entry that never came from the registry cannot be updated.
    current.version = None;
    let err = SubmitObjectsRequest::confidentiality_update(
        &current,
        ConfidentialityChange {
            submission_set: submission_set("SubmissionSet01"),
            new_entry_uuid: "urn:uuid:0b0e1a8e-3a9f-4f6a-9d4c-5e2a7c1d0f03".into(),
            association_id: "Update01".into(),
            confidentiality_codes: vec![],
        },
    )
    .unwrap_err();
    assert!(matches!(err, UpdateError::MissingVersion { .. }));
}

#[test]
fn find_documents_request() {
    let query = FindDocumentsQuery {
        patient_id: PATIENT.into(),
        statuses: vec![AvailabilityStatus::Approved, AvailabilityStatus::Deprecated],
        creation_time_from: Some(Dtm::parse("20240101").unwrap()),
        creation_time_to: Some(Dtm::parse("20240512103000").unwrap()),
        class_codes: vec![code_from_query_string("11488-4^^2.16.840.1.113883.6.1")],
        type_codes: vec![code_from_query_string("34133-9^^2.16.840.1.113883.6.1")],
        confidentiality_codes: vec![
            vec![
                code_from_query_string("N^^2.16.840.1.113883.5.25"),
                code_from_query_string("R^^2.16.840.1.113883.5.25"),
            ],
            vec![code_from_query_string("V^^1.3.182.4.5")],
        ],
        other_parameters: vec![Slot::single(
            "$XDSDocumentEntryType",
            "('urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1')",
        )],
    };
    let request = AdhocQueryRequest::new(
        &StoredQuery::FindDocuments(query.clone()),
        ReturnType::LeafClass,
    )
    .unwrap();
    let xml = round_trip(&request, "AdhocQueryRequest FindDocuments");
    let back = AdhocQueryRequest::from_xml(&xml, &ParseLimits::default()).unwrap();
    assert_eq!(
        back.stored_query().unwrap(),
        StoredQuery::FindDocuments(query)
    );
    let confidentiality = back
        .parameters
        .iter()
        .find(|s| s.name == "$XDSDocumentEntryConfidentialityCode")
        .unwrap();
    // AND of ORs: one Value per group.
    assert_eq!(
        confidentiality.values,
        vec![
            "('N^^2.16.840.1.113883.5.25','R^^2.16.840.1.113883.5.25')".to_owned(),
            "('V^^1.3.182.4.5')".to_owned()
        ]
    );
}

#[test]
fn get_documents_requests_by_unique_id_and_by_uuid() {
    for (ids, return_type) in [
        (
            DocumentIds::UniqueIds(vec!["1.3.182.4.99.1.1".into(), "1.3.182.4.99.1.2".into()]),
            ReturnType::LeafClass,
        ),
        (
            DocumentIds::EntryUuids(vec![ENTRY.into()]),
            ReturnType::ObjectRef,
        ),
    ] {
        let query = GetDocumentsQuery {
            ids,
            other_parameters: vec![],
        };
        let mut request =
            AdhocQueryRequest::new(&StoredQuery::GetDocuments(query.clone()), return_type).unwrap();
        request.home_community_id = Some("urn:oid:1.3.182.4".into());
        let xml = round_trip(&request, "AdhocQueryRequest GetDocuments");
        let back = AdhocQueryRequest::from_xml(&xml, &ParseLimits::default()).unwrap();
        assert_eq!(
            back.stored_query().unwrap(),
            StoredQuery::GetDocuments(query)
        );
    }
}

#[test]
fn query_responses_leaf_class_object_ref_and_failure() {
    let mut entry = full_entry(ENTRY);
    entry.version = Some("1".into());
    entry.logical_id = Some(ENTRY.into());
    let leaf = AdhocQueryResponse::success(RegistryObjectList {
        document_entries: vec![
            entry.clone(),
            full_entry("urn:uuid:0b0e1a8e-3a9f-4f6a-9d4c-5e2a7c1d0f09"),
        ],
        ..RegistryObjectList::default()
    });
    round_trip(&leaf, "AdhocQueryResponse LeafClass");
    let (objects, warnings) = leaf.into_result().unwrap();
    assert_eq!(objects.document_entries[0], entry);
    assert!(warnings.is_empty());

    let refs = AdhocQueryResponse::success(RegistryObjectList {
        object_refs: vec![ObjectRef {
            id: ENTRY.into(),
            home: Some("urn:oid:1.3.182.4".into()),
        }],
        ..RegistryObjectList::default()
    });
    round_trip(&refs, "AdhocQueryResponse ObjectRef");

    let failed = AdhocQueryResponse::failure(vec![RegistryError::error(
        XdsErrorCode::StoredQueryMissingParam,
        "$XDSDocumentEntryPatientId is missing",
        Some("urn:uuid:14d4debf-8f97-4251-9a74-a90016b0af0d".into()),
    )]);
    round_trip(&failed, "AdhocQueryResponse Failure");
    let failure = failed.into_result().unwrap_err();
    assert!(failure.has(&XdsErrorCode::StoredQueryMissingParam));
}

#[test]
fn registry_responses() {
    round_trip(&RegistryResponse::success(), "RegistryResponse Success");
    let failure = RegistryResponse::with_errors(
        ResponseStatus::Failure,
        vec![
            RegistryError::error(
                XdsErrorCode::RegistryMetadataError,
                "creationTime: '2024-05-12' is not YYYY[MM[DD[hh[mm[ss]]]]]",
                Some("Document01".into()),
            ),
            RegistryError::error(
                XdsErrorCode::Other("DSPAccessDenied".into()),
                "not in the cercle de confiance",
                None,
            ),
            RegistryError::warning(
                XdsErrorCode::ExtraMetadataNotSaved,
                "urn:x:y not stored",
                None,
            ),
        ],
    );
    round_trip(&failure, "RegistryResponse Failure");
    let partial = RegistryResponse {
        request_id: Some("urn:uuid:0b0e1a8e-3a9f-4f6a-9d4c-5e2a7c1d0f10".into()),
        response_slots: vec![Slot::single("urn:dspconnect:note", "x")],
        ..RegistryResponse::with_errors(
            ResponseStatus::PartialSuccess,
            vec![RegistryError::warning(
                XdsErrorCode::PartialReplaceContentNotProcessed,
                "x",
                None,
            )],
        )
    };
    round_trip(&partial, "RegistryResponse PartialSuccess");
}

#[test]
fn retrieve_request_and_response() {
    let request = RetrieveDocumentSetRequest {
        documents: vec![
            DocumentRequest {
                home_community_id: None,
                repository_unique_id: "1.3.182.4.1.1".into(),
                document_unique_id: "1.3.182.4.99.1.1".into(),
            },
            DocumentRequest {
                home_community_id: Some("urn:oid:1.3.182.4".into()),
                repository_unique_id: "1.3.182.4.1.1".into(),
                document_unique_id: "1.3.182.4.99.1.2".into(),
            },
        ],
    };
    round_trip(&request, "RetrieveDocumentSetRequest");

    let response = RetrieveDocumentSetResponse {
        response: RegistryResponse::success(),
        documents: vec![DocumentResponse {
            home_community_id: Some("urn:oid:1.3.182.4".into()),
            repository_unique_id: "1.3.182.4.1.1".into(),
            document_unique_id: "1.3.182.4.99.1.1".into(),
            new_repository_unique_id: None,
            new_document_unique_id: None,
            mime_type: "application/pdf".into(),
            content: DocumentContent::Inline(b"%PDF-1.4 test".to_vec()),
        }],
    };
    round_trip(&response, "RetrieveDocumentSetResponse");
    let docs = response.clone().into_result().unwrap();
    assert_eq!(
        docs[0].content,
        DocumentContent::Inline(b"%PDF-1.4 test".to_vec())
    );

    let missing = RetrieveDocumentSetResponse {
        response: RegistryResponse::with_errors(
            ResponseStatus::Failure,
            vec![RegistryError::error(
                XdsErrorCode::MissingDocument,
                "1.3.182.4.99.1.7 unknown",
                None,
            )],
        ),
        documents: vec![],
    };
    round_trip(&missing, "RetrieveDocumentSetResponse Failure");
    assert!(
        missing
            .into_result()
            .unwrap_err()
            .has(&XdsErrorCode::MissingDocument)
    );

    assert!(matches!(
        RetrieveDocumentSetRequest { documents: vec![] }.to_xml(),
        Err(WriteError::Empty { .. })
    ));
}

#[test]
fn control_characters_are_refused_by_the_writer() {
    let mut entry = full_entry(ENTRY);
    entry.title = Some("bell \u{7}".into());
    let err = submission(entry, submission_set(SET)).to_xml().unwrap_err();
    assert_eq!(
        err.to_string(),
        "attribute value of <rim:LocalizedString> contains U+0007, which XML 1.0 cannot carry; remove control characters"
    );
}
