//! Broken input gives a specific reader error; input that is structurally
//! fine but breaks XDS rules is read as it is, for the registry to judge.

mod common_xds;

use common_xds::*;
use ihe::xds::*;
use ihe::xml::{ParseLimits, XmlError};

const LCM: &str = r#"xmlns:lcm="urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0" xmlns:rim="urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0""#;

fn submit(objects: &str) -> Result<SubmitObjectsRequest, ReadError> {
    let xml = format!(
        "<lcm:SubmitObjectsRequest {LCM}><rim:RegistryObjectList>{objects}</rim:RegistryObjectList></lcm:SubmitObjectsRequest>"
    );
    SubmitObjectsRequest::from_xml(xml.as_bytes(), &ParseLimits::default())
}

#[test]
fn wrong_root_element_names_both() {
    let query = AdhocQueryRequest::new(
        &StoredQuery::GetDocuments(GetDocumentsQuery {
            ids: DocumentIds::UniqueIds(vec!["1.2.3".into()]),
            other_parameters: vec![],
        }),
        ReturnType::LeafClass,
    )
    .unwrap()
    .to_xml()
    .unwrap();
    let err = SubmitObjectsRequest::from_xml(&query, &ParseLimits::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "expected a <lcm:SubmitObjectsRequest> element, found <query:AdhocQueryRequest>; is this the right message kind?"
    );
    // Same local name, other namespace: still the wrong root.
    let err = RegistryResponse::from_xml(
        br#"<RegistryResponse xmlns="urn:example" status="x"/>"#,
        &ParseLimits::default(),
    )
    .unwrap_err();
    assert!(
        matches!(err, ReadError::WrongRoot { ref found, .. } if found == "{urn:example}RegistryResponse")
    );
}

#[test]
fn extrinsic_object_without_id() {
    let err = submit(r#"<rim:ExtrinsicObject mimeType="text/plain"/>"#).unwrap_err();
    assert_eq!(
        err,
        ReadError::MissingAttribute {
            element: "rim:ExtrinsicObject".into(),
            attribute: "id"
        }
    );
    assert_eq!(
        err.to_string(),
        "<rim:ExtrinsicObject> has no 'id' attribute, which the schema requires"
    );
}

#[test]
fn malformed_uuid_references() {
    let err = submit(r#"<rim:ExtrinsicObject id="urn:uuid:not-a-uuid"/>"#).unwrap_err();
    assert!(
        matches!(
            err,
            ReadError::MalformedUuid {
                attribute: "id",
                ..
            }
        ),
        "{err}"
    );
    let err = submit(
        r#"<rim:Association id="a" associationType="urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember" sourceObject="s" targetObject="urn:uuid:1234"/>"#,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"<rim:Association> targetObject="urn:uuid:1234" is not a well-formed urn:uuid reference (expected urn:uuid: followed by 8-4-4-4-12 hexadecimal digits)"#
    );
    let err = submit(
        r#"<rim:ExtrinsicObject id="d"><rim:Classification id="c" classifiedObject="d" classificationScheme="urn:uuid:41a5887f-8865-4c09-adf7-e362475b143g"/></rim:ExtrinsicObject>"#,
    )
    .unwrap_err();
    assert!(matches!(
        err,
        ReadError::MalformedUuid {
            attribute: "classificationScheme",
            ..
        }
    ));
}

#[test]
fn bad_nesting() {
    let err = submit(r#"<rim:ExtrinsicObject id="d"><rim:Association id="a" associationType="x" sourceObject="s" targetObject="t"/></rim:ExtrinsicObject>"#)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "<rim:Association> is not allowed inside <rim:ExtrinsicObject>"
    );
    let err = submit(r#"<rim:ExtrinsicObject id="d"><rim:Slot name="x"><rim:ValueList><rim:Value><rim:Value/></rim:Value></rim:ValueList></rim:Slot></rim:ExtrinsicObject>"#)
        .unwrap_err();
    assert!(matches!(err, ReadError::UnexpectedElement { .. }));
    let err = submit(r#"<rim:ExtrinsicObject id="d"><rim:Slot name="x"/></rim:ExtrinsicObject>"#)
        .unwrap_err();
    assert!(matches!(err, ReadError::MissingChild { .. }));
    let err = submit(r#"<other xmlns="urn:x"/>"#).unwrap_err();
    assert_eq!(
        err.to_string(),
        "<{urn:x}other> is not allowed inside <rim:RegistryObjectList>"
    );
    let err = submit(r#"<rim:ExtrinsicObject id="d"><rim:Name/><rim:Name/></rim:ExtrinsicObject>"#)
        .unwrap_err();
    assert!(matches!(err, ReadError::DuplicateChild { .. }));
    let xml = format!("<lcm:SubmitObjectsRequest {LCM}/>");
    let err = SubmitObjectsRequest::from_xml(xml.as_bytes(), &ParseLimits::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "<lcm:SubmitObjectsRequest> has no <rim:RegistryObjectList> child, which the schema requires"
    );
}

#[test]
fn not_xml_and_over_limits() {
    let err = SubmitObjectsRequest::from_xml(b"<lcm:SubmitObjectsRequest", &ParseLimits::default())
        .unwrap_err();
    assert!(matches!(
        err,
        ReadError::Xml(XmlError::Syntax { .. }) | ReadError::Xml(XmlError::UnboundPrefix(_))
    ));
    let doctype = br#"<!DOCTYPE x [<!ENTITY a "b">]><x/>"#;
    assert_eq!(
        SubmitObjectsRequest::from_xml(doctype, &ParseLimits::default()).unwrap_err(),
        ReadError::Xml(XmlError::DoctypeForbidden)
    );
    let big = submission(full_entry("Document01"), submission_set("SubmissionSet01"))
        .to_xml()
        .unwrap();
    let small = ParseLimits {
        max_bytes: 1024,
        ..ParseLimits::default()
    };
    assert!(matches!(
        SubmitObjectsRequest::from_xml(&big, &small).unwrap_err(),
        ReadError::Xml(XmlError::TooLarge { .. })
    ));
    let few = ParseLimits {
        max_elements: 20,
        ..ParseLimits::default()
    };
    assert!(matches!(
        SubmitObjectsRequest::from_xml(&big, &few).unwrap_err(),
        ReadError::Xml(XmlError::TooManyElements(20))
    ));
}

#[test]
fn broken_document_content() {
    let pnr = |doc: &str| {
        let xml = format!(
            r#"<xds:ProvideAndRegisterDocumentSetRequest xmlns:xds="urn:ihe:iti:xds-b:2007" xmlns:xop="http://www.w3.org/2004/08/xop/include"><lcm:SubmitObjectsRequest {LCM}><rim:RegistryObjectList/></lcm:SubmitObjectsRequest>{doc}</xds:ProvideAndRegisterDocumentSetRequest>"#
        );
        ProvideAndRegisterRequest::from_xml(xml.as_bytes(), &ParseLimits::default())
    };
    assert!(matches!(
        pnr(r#"<xds:Document id="d">not base64!</xds:Document>"#).unwrap_err(),
        ReadError::MalformedBase64 { ref id, .. } if id == "d"
    ));
    assert_eq!(
        pnr(r#"<xds:Document id="d">QUJD<xop:Include href="cid:x"/></xds:Document>"#).unwrap_err(),
        ReadError::MixedDocumentContent { id: "d".into() }
    );
    assert_eq!(
        pnr(r#"<xds:Document id="d"><xop:Include/></xds:Document>"#).unwrap_err(),
        ReadError::IncludeWithoutHref { id: "d".into() }
    );
    assert!(matches!(
        pnr(r#"<xds:Document>QUJD</xds:Document>"#).unwrap_err(),
        ReadError::MissingAttribute {
            attribute: "id",
            ..
        }
    ));
    // Line breaks inside base64 are fine.
    let ok = pnr("<xds:Document id=\"d\">QU\nJD\r\n</xds:Document>").unwrap();
    assert_eq!(
        ok.documents[0].content,
        DocumentContent::Inline(b"ABC".to_vec())
    );
}

/// These are for the registry to refuse (XDSRegistryMetadataError and
/// friends), so the reader keeps them as they are.
#[test]
fn xds_rule_breaks_are_read_not_refused() {
    let req = submit(
        r#"
        <rim:ExtrinsicObject id="Document01" objectType="urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1">
          <rim:Slot name="creationTime"><rim:ValueList><rim:Value>2024-05-12</rim:Value></rim:ValueList></rim:Slot>
          <rim:Slot name="size"><rim:ValueList><rim:Value>-3</rim:Value></rim:ValueList></rim:Slot>
          <rim:Slot name="serviceStartTime"><rim:ValueList><rim:Value>20240512</rim:Value><rim:Value>20240513</rim:Value></rim:ValueList></rim:Slot>
          <rim:Classification id="c1" classifiedObject="Document01" classificationScheme="urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a" nodeRepresentation="A"/>
          <rim:Classification id="c2" classifiedObject="Document01" classificationScheme="urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a" nodeRepresentation="B"/>
          <rim:Classification id="c3" classifiedObject="SomethingElse" classificationScheme="urn:uuid:f0306f51-975f-434e-a61c-c59651d33983" nodeRepresentation="T"/>
        </rim:ExtrinsicObject>
        <rim:Association id="a1" associationType="urn:ihe:iti:2007:AssociationType:RPLC" sourceObject="Document01" targetObject="urn:uuid:00000000-0000-4000-8000-000000000000"/>
        <rim:Association id="a2" associationType="urn:example:Unknown" sourceObject="Nowhere" targetObject="Nothing"/>
        "#,
    )
    .unwrap();
    let e = &req.objects.document_entries[0];
    // Nothing required by XDS is checked: no patient, no uniqueId, no set.
    assert_eq!(e.patient_id, None);
    assert_eq!(e.unique_id, None);
    assert!(req.objects.submission_sets.is_empty());
    // Malformed values are kept with their raw text and the reason.
    match &e.creation_time {
        Some(Checked::Malformed { raw, problem }) => {
            assert_eq!(raw, "2024-05-12");
            assert!(problem.contains("YYYY[MM[DD"), "{problem}");
        }
        other => panic!("creationTime should be kept as malformed: {other:?}"),
    }
    assert!(matches!(e.size, Some(Checked::Malformed { ref raw, .. }) if raw == "-3"));
    // Two values for a single-valued slot: left for the registry to see.
    assert_eq!(e.service_start_time, None);
    assert_eq!(e.extra_slots[0].name, "serviceStartTime");
    // The second classCode and the classification of another object are kept.
    assert_eq!(e.class_code.as_ref().unwrap().code, "A");
    assert_eq!(e.other_classifications.len(), 2);
    assert_eq!(e.type_code, None);
    // Associations pointing at nothing known are read as written.
    assert_eq!(
        req.objects.associations[0].association_type,
        AssociationType::Replace
    );
    assert_eq!(
        req.objects.associations[1].association_type,
        AssociationType::Other("urn:example:Unknown".into())
    );
    assert_eq!(req.objects.associations[1].source, "Nowhere");

    // And all of it is written back as received.
    let again =
        SubmitObjectsRequest::from_xml(&req.to_xml().unwrap(), &ParseLimits::default()).unwrap();
    assert_eq!(again, req);
}

#[test]
fn registry_error_without_code_context_is_refused_but_unknown_codes_are_kept() {
    let rs = r#"xmlns:rs="urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0""#;
    let xml = format!(
        r#"<rs:RegistryResponse {rs} status="urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Failure"><rs:RegistryErrorList><rs:RegistryError errorCode="XDSRegistryError"/></rs:RegistryErrorList></rs:RegistryResponse>"#
    );
    assert_eq!(
        RegistryResponse::from_xml(xml.as_bytes(), &ParseLimits::default()).unwrap_err(),
        ReadError::MissingAttribute {
            element: "rs:RegistryError".into(),
            attribute: "codeContext"
        }
    );
    let xml = format!(
        r#"<rs:RegistryResponse {rs} status="urn:example:Odd"><rs:RegistryErrorList><rs:RegistryError errorCode="LUX-1234" codeContext="refusé"/></rs:RegistryErrorList></rs:RegistryResponse>"#
    );
    let r = RegistryResponse::from_xml(xml.as_bytes(), &ParseLimits::default()).unwrap();
    assert_eq!(r.status, ResponseStatus::Other("urn:example:Odd".into()));
    assert_eq!(
        r.errors[0].error_code,
        XdsErrorCode::Other("LUX-1234".into())
    );
    // The schema default severity.
    assert_eq!(r.errors[0].severity, Severity::Error);
    assert!(r.into_result().is_err());
}

#[test]
fn query_request_without_response_option() {
    let xml = r#"<query:AdhocQueryRequest xmlns:query="urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0" xmlns:rim="urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"><rim:AdhocQuery id="urn:uuid:14d4debf-8f97-4251-9a74-a90016b0af0d"/></query:AdhocQueryRequest>"#;
    assert_eq!(
        AdhocQueryRequest::from_xml(xml.as_bytes(), &ParseLimits::default())
            .unwrap_err()
            .to_string(),
        "<query:AdhocQueryRequest> has no <query:ResponseOption> child, which the schema requires"
    );
}
