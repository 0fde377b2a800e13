//! Signature wrapping and structural attacks on a signed envelope: each is
//! refused with its own error. Where `xmlsec1 --verify` (which checks only
//! digests and the value) accepts the attack, the test says so: those are
//! the cases where our verifier is deliberately stricter.

mod signing;

use ihe::dsig::{DsigError, Signer};
use ihe::soap::{Envelope, SoapError};
use ihe::wssec::{
    SecurityIds, SecurityParams, Timestamp, WsSecurityError, sign_envelope, verify_signed_envelope,
};
use ihe::xml::{Element, Node, ParseLimits, ns};
use signing::*;
use time::Duration;
use time::macros::datetime;
use uuid::Uuid;

const BODY_ID: &str = "body-00000000-0000-0000-0000-000000000abc";
const TS_ID: &str = "ts-00000000-0000-0000-0000-000000000abc";

fn signed() -> Element {
    let signer = rsa_signer("professional-rsa");
    let envelope = Envelope::new(
        Element::new("urn:test", "p", "Transfer")
            .with_attr("amount", "10")
            .with_text("to Alice"),
    )
    .with_header(Element::new(ns::WSA, "wsa", "Action").with_text("urn:transfer"));
    let params = SecurityParams {
        timestamp: Timestamp::new(datetime!(2024-05-01 08:30 UTC), Duration::minutes(5)),
        ids: SecurityIds::from_uuid(Uuid::from_u128(0xabc)),
        assertion: None,
    };
    let doc = sign_envelope(envelope, params, &signer).unwrap().to_bytes();
    parse_doc(&doc)
}

fn forged_body() -> Element {
    Element::new(ns::SOAP12, "soap", "Body").with_child(
        Element::new("urn:test", "p", "Transfer")
            .with_attr("amount", "1000000")
            .with_text("to Mallory"),
    )
}

/// A Timestamp without Id, as an attacker would add.
fn forged_timestamp() -> Element {
    let wsu = |l: &str| Element::new(ns::WSU, "wsu", l);
    wsu("Timestamp")
        .with_child(wsu("Created").with_text("2030-01-01T00:00:00Z"))
        .with_child(wsu("Expires").with_text("2031-01-01T00:00:00Z"))
}

fn ours(doc: &Element) -> Result<(), WsSecurityError> {
    verify_signed_envelope(&write_doc(doc), &ParseLimits::SOAP).map(|_| ())
}

fn xmlsec1_accepts(doc: &Element) -> bool {
    let bytes = write_doc(doc);
    xmlsec1_verify(
        &bytes,
        &token_certificate(&bytes),
        &envelope_id_attrs(),
        None,
    )
    .is_ok()
}

#[test]
fn the_untouched_message_verifies() {
    let doc = signed();
    assert_eq!(ours(&doc), Ok(()));
    assert!(xmlsec1_accepts(&doc));
}

#[test]
fn signed_body_moved_into_a_header_next_to_a_forged_body() {
    let mut doc = signed();
    let (i, body) = take_child(&mut doc, ns::SOAP12, "Body");
    doc.children.insert(i, Node::Element(forged_body()));
    header_mut(&mut doc).push(wrapper(body));
    assert_eq!(
        ours(&doc),
        Err(WsSecurityError::SignedBodyMisplaced { id: BODY_ID.into() })
    );
    // xmlsec1 resolves the ID wherever the Body went: the classic wrapping.
    assert!(xmlsec1_accepts(&doc));
}

#[test]
fn signed_body_moved_into_the_security_header() {
    let mut doc = signed();
    let (i, body) = take_child(&mut doc, ns::SOAP12, "Body");
    doc.children.insert(i, Node::Element(forged_body()));
    security_mut(&mut doc).push(wrapper(body));
    assert_eq!(
        ours(&doc),
        Err(WsSecurityError::UnexpectedSecurityChild {
            found: "{urn:attacker}Wrapper".into()
        })
    );
    assert!(xmlsec1_accepts(&doc));
}

#[test]
fn signed_body_duplicated() {
    let mut doc = signed();
    let body = child_mut(&mut doc, ns::SOAP12, "Body").clone();
    header_mut(&mut doc).push(wrapper(body));
    assert_eq!(
        ours(&doc),
        Err(WsSecurityError::Signature(DsigError::DuplicateId {
            id: BODY_ID.into()
        }))
    );
    assert!(!xmlsec1_accepts(&doc), "xmlsec1 refuses duplicate IDs too");
}

#[test]
fn a_second_body_in_the_envelope() {
    let mut doc = signed();
    doc.push(forged_body());
    assert_eq!(
        ours(&doc),
        Err(WsSecurityError::Soap(SoapError::DuplicateBody))
    );
}

#[test]
fn signed_timestamp_moved_out_of_the_security_header() {
    let mut doc = signed();
    let security = security_mut(&mut doc);
    let (i, ts) = take_child(security, ns::WSU, "Timestamp");
    security
        .children
        .insert(i, Node::Element(forged_timestamp()));
    header_mut(&mut doc).push(wrapper(ts));
    assert_eq!(
        ours(&doc),
        Err(WsSecurityError::SignedTimestampMisplaced { id: TS_ID.into() })
    );
    assert!(xmlsec1_accepts(&doc));
}

#[test]
fn a_second_timestamp_in_the_security_header() {
    let mut doc = signed();
    security_mut(&mut doc).push(forged_timestamp());
    assert_eq!(
        ours(&doc),
        Err(WsSecurityError::MultipleTimestamps { count: 2 })
    );
    assert!(xmlsec1_accepts(&doc));
}

#[test]
fn an_id_reused_in_an_attribute_xmlsec1_does_not_index() {
    let mut doc = signed();
    header_mut(&mut doc).push(Element::new("urn:attacker", "w", "Decoy").with_attr("ID", BODY_ID));
    assert_eq!(
        ours(&doc),
        Err(WsSecurityError::Signature(DsigError::DuplicateId {
            id: BODY_ID.into()
        }))
    );
    assert!(xmlsec1_accepts(&doc));
}

#[test]
fn security_header_wrapped_in_another_header_block() {
    let mut doc = signed();
    let header = header_mut(&mut doc);
    let (i, security) = take_child(header, ns::WSSE, "Security");
    header.children.insert(i, Node::Element(wrapper(security)));
    assert_eq!(ours(&doc), Err(WsSecurityError::MissingSecurityHeader));
    assert!(xmlsec1_accepts(&doc));
}

#[test]
fn two_security_headers() {
    let mut doc = signed();
    let header = header_mut(&mut doc);
    header.push(Element::new(ns::WSSE, "wsse", "Security"));
    assert_eq!(
        ours(&doc),
        Err(WsSecurityError::MultipleSecurityHeaders { count: 2 })
    );
}

#[test]
fn two_signatures() {
    let mut doc = signed();
    let security = security_mut(&mut doc);
    let sig = security
        .elements()
        .find(|e| e.is(ns::DS, "Signature"))
        .unwrap()
        .clone();
    security.push(sig);
    assert_eq!(
        ours(&doc),
        Err(WsSecurityError::MultipleSignatures { count: 2 })
    );
}

#[test]
fn token_moved_out_of_the_security_header() {
    let mut doc = signed();
    let (_, token) = take_child(security_mut(&mut doc), ns::WSSE, "BinarySecurityToken");
    header_mut(&mut doc).push(wrapper(token));
    assert!(matches!(
        ours(&doc),
        Err(WsSecurityError::TokenMisplaced { .. })
    ));
}

#[test]
fn token_replaced_by_another_certificate() {
    let mut doc = signed();
    let token = child_mut(security_mut(&mut doc), ns::WSSE, "BinarySecurityToken");
    token.children = vec![Node::Text(base64_of(&cert_der("intruder-rsa")))];
    assert!(matches!(
        ours(&doc),
        Err(WsSecurityError::Signature(
            DsigError::SignatureValueInvalid { .. }
        ))
    ));
    assert!(!xmlsec1_accepts(&doc));
}

#[test]
fn token_replaced_by_a_certificate_of_another_key_type() {
    let mut doc = signed();
    let token = child_mut(security_mut(&mut doc), ns::WSSE, "BinarySecurityToken");
    token.children = vec![Node::Text(base64_of(&cert_der("professional-p256")))];
    assert!(matches!(
        ours(&doc),
        Err(WsSecurityError::Signature(
            DsigError::KeyAlgorithmMismatch { .. }
        ))
    ));
}

fn base64_of(der: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(der)
}

/// Re-signs `doc` after editing its SignedInfo, with the professional's
/// key, so that only the reference structure is wrong.
fn resign(mut doc: Element, edit: impl FnOnce(&mut Element)) -> Element {
    let signer = rsa_signer("professional-rsa");
    let security = security_mut(&mut doc);
    let signature = child_mut(security, ns::DS, "Signature");
    let signed_info = child_mut(signature, ns::DS, "SignedInfo");
    edit(signed_info);
    let c14n = ihe::xml::exclusive_c14n(signed_info, &ihe::xml::NsScope::new(), &[]);
    let digest: [u8; 32] = {
        use sha2::Digest;
        sha2::Sha256::digest(&c14n).into()
    };
    let value = signer
        .sign_prehashed(ihe::dsig::SignatureAlgorithm::RsaSha256, &digest)
        .unwrap();
    let sv = child_mut(signature, ns::DS, "SignatureValue");
    sv.children = vec![Node::Text(base64_of(&value))];
    doc
}

fn references(signed_info: &mut Element) -> Vec<Element> {
    signed_info
        .elements()
        .filter(|e| e.is(ns::DS, "Reference"))
        .cloned()
        .collect()
}

fn remove_references(signed_info: &mut Element) {
    signed_info
        .children
        .retain(|n| !matches!(n, Node::Element(e) if e.is(ns::DS, "Reference")));
}

#[test]
fn resigning_without_edits_still_verifies() {
    // Guards the helper: the edits below are the only cause of refusal.
    let doc = resign(signed(), |_| {});
    assert_eq!(ours(&doc), Ok(()));
}

#[test]
fn body_not_covered() {
    let doc = resign(signed(), |si| {
        let refs = references(si);
        remove_references(si);
        si.push(refs[1].clone()); // the Timestamp only
    });
    assert_eq!(ours(&doc), Err(WsSecurityError::BodyNotSigned));
    assert!(xmlsec1_accepts(&doc));
}

#[test]
fn timestamp_not_covered() {
    let doc = resign(signed(), |si| {
        let refs = references(si);
        remove_references(si);
        si.push(refs[0].clone());
    });
    assert_eq!(ours(&doc), Err(WsSecurityError::TimestampNotSigned));
}

#[test]
fn the_same_element_referenced_twice() {
    let doc = resign(signed(), |si| {
        let refs = references(si);
        si.push(refs[0].clone());
    });
    assert_eq!(
        ours(&doc),
        Err(WsSecurityError::DuplicateReference { id: BODY_ID.into() })
    );
}

#[test]
fn reference_to_an_element_that_is_not_body_or_timestamp() {
    let mut doc = signed();
    // Give the wsa:Action header an Id and sign it instead of the Body.
    child_mut(header_mut(&mut doc), ns::WSA, "Action").set_attr_ns(
        ns::WSU,
        "wsu",
        "Id",
        "action-1",
    );
    let action = child_mut(header_mut(&mut doc), ns::WSA, "Action").clone();
    let digest = {
        use sha2::Digest;
        let scope = ihe::xml::NsScope::new();
        let c14n = ihe::xml::exclusive_c14n(&action, &scope, &[]);
        base64_of(&sha2::Sha256::digest(&c14n))
    };
    let doc = resign(doc, |si| {
        let mut refs = references(si);
        remove_references(si);
        let r = &mut refs[0];
        r.set_attr("URI", "#action-1");
        let dv = child_mut(r, ns::DS, "DigestValue");
        dv.children = vec![Node::Text(digest)];
        si.push(refs[0].clone());
        si.push(refs[1].clone());
    });
    assert_eq!(
        ours(&doc),
        Err(WsSecurityError::UnexpectedReference {
            id: "action-1".into(),
            element: format!("{{{}}}Action", ns::WSA)
        })
    );
    assert!(xmlsec1_accepts_with_action_id(&doc));
}

fn xmlsec1_accepts_with_action_id(doc: &Element) -> bool {
    let bytes = write_doc(doc);
    let mut ids = envelope_id_attrs();
    ids.push(("Id".into(), format!("{}:Action", ns::WSA)));
    xmlsec1_verify(&bytes, &token_certificate(&bytes), &ids, None).is_ok()
}

#[test]
fn enveloped_transform_is_refused_in_a_message_signature() {
    let doc = resign(signed(), |si| {
        for r in si.elements_mut() {
            if r.is(ns::DS, "Reference") {
                let transforms = child_mut(r, ns::DS, "Transforms");
                transforms.children.insert(
                    0,
                    Node::Element(
                        Element::new(ns::DS, "ds", "Transform")
                            .with_attr("Algorithm", ihe::dsig::ALG_ENVELOPED_SIGNATURE),
                    ),
                );
            }
        }
    });
    assert_eq!(
        ours(&doc),
        Err(WsSecurityError::EnvelopedReference { id: BODY_ID.into() })
    );
}

#[test]
fn unsupported_algorithms_are_refused_by_name() {
    type IsExpected = fn(&WsSecurityError) -> bool;
    let cases: [(&str, &str, IsExpected); 4] = [
        (
            "http://www.w3.org/2001/10/xml-exc-c14n#",
            "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
            |e| {
                matches!(
                    e,
                    WsSecurityError::Signature(DsigError::UnsupportedCanonicalization { .. })
                        | WsSecurityError::Signature(DsigError::UnsupportedTransforms { .. })
                )
            },
        ),
        (
            ihe::dsig::ALG_RSA_SHA256,
            "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
            |e| {
                matches!(
                    e,
                    WsSecurityError::Signature(DsigError::UnsupportedSignatureMethod { .. })
                )
            },
        ),
        (
            ihe::dsig::ALG_SHA256,
            "http://www.w3.org/2000/09/xmldsig#sha1",
            |e| {
                matches!(
                    e,
                    WsSecurityError::Signature(DsigError::UnsupportedDigestMethod { .. })
                )
            },
        ),
        (
            r##"URI="#body-"##,
            r##"URI="http://elsewhere/#body-"##,
            |e| {
                matches!(
                    e,
                    WsSecurityError::Signature(DsigError::UnsupportedReferenceUri { .. })
                )
            },
        ),
    ];
    let original = write_doc(&signed());
    let text = String::from_utf8(original).unwrap();
    for (from, to, check) in cases {
        assert!(text.contains(from), "{from}");
        let changed = text.replacen(from, to, 1);
        let err = verify_signed_envelope(changed.as_bytes(), &ParseLimits::SOAP).unwrap_err();
        assert!(check(&err), "{from} -> {to}: {err:?}");
    }
}

#[test]
fn a_fault_is_reported_as_a_fault() {
    let fault = ihe::soap::Fault::new(ihe::soap::FaultCode::Receiver, "down");
    let bytes = fault.to_envelope().to_bytes();
    assert!(matches!(
        verify_signed_envelope(&bytes, &ParseLimits::SOAP),
        Err(WsSecurityError::Soap(SoapError::Fault(_)))
    ));
}

#[test]
fn refusals_map_to_ws_security_fault_codes() {
    use ihe::wssec::SecurityFaultCode;
    let mut doc = signed();
    let (i, body) = take_child(&mut doc, ns::SOAP12, "Body");
    doc.children.insert(i, Node::Element(forged_body()));
    header_mut(&mut doc).push(wrapper(body));
    let err = ours(&doc).unwrap_err();
    assert_eq!(err.fault_code(), SecurityFaultCode::InvalidSecurity);
    let fault = err.to_fault();
    assert!(fault.has_subcode(ns::WSSE, "InvalidSecurity"));
    assert!(
        fault.reason().contains("signature wrapping"),
        "{}",
        fault.reason()
    );
}
