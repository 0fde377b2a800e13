//! Property tests: any metadata we can hold is written and read back
//! unchanged, and what we write validates.

mod common_xds;

use common_xds::*;
use ihe::xds::*;
use ihe::xml::ParseLimits;
use proptest::prelude::*;

/// Text XML 1.0 can carry, markup characters and non-ASCII included.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{0,20}",
        "[<>&'\"\t\n\r ]{0,6}",
        "[a-zÀ-ÿ\u{4e00}-\u{4e10}\u{1F600}-\u{1F610} ]{0,12}",
    ]
}

fn opt_text() -> impl Strategy<Value = Option<String>> {
    prop::option::of(text())
}

fn id() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z][A-Za-z0-9._-]{0,12}",
        any::<u128>().prop_map(|n| format!("urn:uuid:{}", uuid::Uuid::from_u128(n).hyphenated())),
    ]
}

fn code() -> impl Strategy<Value = Code> {
    (text(), opt_text(), opt_text()).prop_map(|(code, coding_scheme, display_name)| Code {
        code,
        coding_scheme,
        display_name,
    })
}

fn dtm() -> impl Strategy<Value = Checked<Dtm>> {
    prop_oneof![
        3 => (1900i32..2100, 1u8..=12, 1u8..=28, 0u8..24, 0u8..60, 0u8..60, 4usize..=14)
            .prop_map(|(y, mo, d, h, mi, s, len)| {
                let len = len - len % 2;
                let full = format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}");
                Checked::parse_with(&full[..len], Dtm::parse)
            }),
        1 => text().prop_map(|t| Checked::parse_with(&t, Dtm::parse)),
    ]
}

fn author() -> impl Strategy<Value = Author> {
    (
        opt_text(),
        prop::collection::vec(text(), 0..3),
        prop::collection::vec(text(), 0..2),
        prop::collection::vec(text(), 0..2),
        prop::collection::vec(text(), 0..2),
    )
        .prop_map(
            |(person, institutions, roles, specialties, telecom)| Author {
                person,
                institutions,
                roles,
                specialties,
                telecom,
                extra_slots: vec![],
            },
        )
}

fn status() -> impl Strategy<Value = Option<AvailabilityStatus>> {
    prop::option::of(prop_oneof![
        Just(AvailabilityStatus::Approved),
        Just(AvailabilityStatus::Deprecated),
        "urn:x:[a-z]{1,8}".prop_map(AvailabilityStatus::Other),
    ])
}

fn entry() -> impl Strategy<Value = DocumentEntry> {
    let ids = (
        id(),
        prop::option::of(id()),
        prop::option::of("[0-9.]{1,16}"),
        opt_text(),
        opt_text(),
        opt_text(),
    );
    let patient = (
        prop::collection::vec(text(), 0..3),
        opt_text(),
        opt_text(),
        opt_text(),
        opt_text(),
    );
    let codes = (
        prop::option::of(code()),
        prop::option::of(code()),
        prop::option::of(code()),
        prop::option::of(code()),
        prop::option::of(code()),
        prop::collection::vec(code(), 0..3),
        prop::collection::vec(code(), 0..3),
    );
    let times = (
        prop::option::of(dtm()),
        prop::option::of(dtm()),
        prop::option::of(dtm()),
    );
    let content = (
        prop::option::of(prop_oneof![
            any::<[u8; 20]>().prop_map(|h| Checked::Valid(Sha1Hash(h))),
            text().prop_map(|t| Checked::parse_with(&t, Sha1Hash::from_hex)),
        ]),
        prop::option::of(prop_oneof![
            any::<u64>().prop_map(Checked::Valid),
            "[-+ a-z0-9]{0,6}".prop_map(|t| Checked::parse_with(&t, |s: &str| {
                if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
                    s.parse::<u64>().map_err(|e| e.to_string())
                } else {
                    Err(format!("'{s}' is not a size: expected decimal digits"))
                }
            })),
        ]),
        prop::collection::vec(author(), 0..3),
    );
    let registry = (
        status(),
        prop::option::of("urn:oid:[0-9.]{1,10}"),
        prop::option::of(prop_oneof![
            Just(DocumentEntryType::Stable),
            Just(DocumentEntryType::OnDemand),
        ]),
        prop::collection::vec(
            ("urn:ext:[a-z]{1,6}", prop::collection::vec(text(), 0..3)),
            0..3,
        ),
    );
    (ids, patient, codes, times, content, registry).prop_map(
        |(
            (entry_uuid, logical_id, version, unique_id, patient_id, mime_type),
            (source_patient_info, source_patient_id, title, comments, language_code),
            (
                class_code,
                type_code,
                format_code,
                practice_setting_code,
                healthcare_facility_type_code,
                confidentiality_codes,
                event_codes,
            ),
            (creation_time, service_start_time, service_stop_time),
            (hash, size, authors),
            (availability_status, home_community_id, object_type, extra),
        )| DocumentEntry {
            entry_uuid,
            logical_id,
            version,
            unique_id,
            patient_id,
            source_patient_id,
            source_patient_info,
            mime_type,
            title,
            comments,
            class_code,
            type_code,
            format_code,
            practice_setting_code,
            healthcare_facility_type_code,
            confidentiality_codes,
            event_codes,
            creation_time,
            service_start_time,
            service_stop_time,
            language_code,
            hash,
            size,
            authors,
            legal_authenticator: None,
            repository_unique_id: Some("1.3.182.4.1.1".into()),
            availability_status,
            home_community_id,
            object_type,
            extra_slots: extra.into_iter().map(|(n, v)| Slot::new(n, v)).collect(),
            other_classifications: vec![],
            other_external_identifiers: vec![],
        },
    )
}

fn request(entry: DocumentEntry) -> SubmitObjectsRequest {
    let set = submission_set("SubmissionSet01");
    submission(entry, set)
}

proptest! {
    #[test]
    fn any_document_entry_reads_back_unchanged(e in entry()) {
        let req = request(e);
        let xml = req.to_xml().unwrap();
        let back = SubmitObjectsRequest::from_xml(&xml, &ParseLimits::default()).unwrap();
        prop_assert_eq!(back, req);
    }

    #[test]
    fn any_find_documents_query_reads_back_unchanged(
        patient_id in text(),
        statuses in prop::collection::vec(prop_oneof![
            Just(AvailabilityStatus::Approved),
            Just(AvailabilityStatus::Deprecated),
            "urn:x:[a-z']{1,8}".prop_map(AvailabilityStatus::Other),
        ], 0..4),
        from in prop::option::of(dtm()),
        codes in prop::collection::vec(prop::collection::vec(
            ("[a-zA-Z0-9' ,()]{1,10}", prop::option::of("[0-9.]{1,10}")).prop_map(|(code, coding_scheme)| Code { code, coding_scheme, display_name: None }),
            1..3), 0..3),
    ) {
        let q = FindDocumentsQuery {
            patient_id,
            statuses,
            creation_time_from: from.and_then(|c| c.valid().copied()),
            confidentiality_codes: codes,
            ..FindDocumentsQuery::default()
        };
        let request = AdhocQueryRequest::new(&StoredQuery::FindDocuments(q.clone()), ReturnType::LeafClass).unwrap();
        let back = AdhocQueryRequest::from_xml(&request.to_xml().unwrap(), &ParseLimits::default()).unwrap();
        prop_assert_eq!(back.stored_query().unwrap(), StoredQuery::FindDocuments(q));
    }
}

proptest! {
    // Each case runs xmllint: a few cases only.
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn any_document_entry_is_written_schema_valid(e in entry()) {
        write_valid(&request(e), "generated SubmitObjectsRequest");
    }
}

/// Runs every reader on `bytes`: none may panic, whatever the input.
fn read_with_every_reader(bytes: &[u8]) {
    let limits = ParseLimits::default();
    let _ = SubmitObjectsRequest::from_xml(bytes, &limits);
    let _ = ProvideAndRegisterRequest::from_xml(bytes, &limits);
    let _ = AdhocQueryRequest::from_xml(bytes, &limits).map(|q| q.stored_query());
    let _ = AdhocQueryResponse::from_xml(bytes, &limits);
    let _ = RegistryResponse::from_xml(bytes, &limits);
    let _ = RetrieveDocumentSetRequest::from_xml(bytes, &limits);
    let _ = RetrieveDocumentSetResponse::from_xml(bytes, &limits);
}

proptest! {
    #[test]
    fn corrupted_messages_never_panic_a_reader(
        cut_at in any::<prop::sample::Index>(),
        cut_len in 0usize..40,
        insert in "[<>/=\"' a-z:]{0,6}",
    ) {
        let xml = submission(full_entry("Document01"), submission_set("SubmissionSet01")).to_xml().unwrap();
        let at = cut_at.index(xml.len());
        let mut corrupted = xml[..at].to_vec();
        corrupted.extend_from_slice(insert.as_bytes());
        corrupted.extend_from_slice(&xml[(at + cut_len).min(xml.len())..]);
        read_with_every_reader(&corrupted);
    }
}
