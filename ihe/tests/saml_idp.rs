//! The sandbox IdP's side: assertions signed through our Signer API verify
//! with xmlsec1 and with ours, in the Response and carried into a bearer
//! header; the client reads the Response; refusals of the assertion
//! verifier.

mod signing;

use ihe::dsig::{DsigError, PendingEnvelopedSignature, SignatureAlgorithm, Signer};
use ihe::saml::{
    self, AssertionSpec, NameId, Response, ResponseSpec, SamlAttribute, SamlError, Status,
};
use ihe::soap::Envelope;
use ihe::wssec::{Timestamp, WsSecurityError, bearer_security_header, verify_bearer_envelope};
use ihe::xml::{Element, Node, NsScope, ParseLimits, ns};
use signing::*;
use time::Duration;
use time::macros::datetime;

fn spec() -> AssertionSpec {
    AssertionSpec {
        id: "_a-00000001".into(),
        issue_instant: datetime!(2024-05-01 08:30:01 UTC),
        issuer: "https://idp.sandbox.example".into(),
        subject: NameId {
            value: "2854201975".into(),
            format: Some(saml::NAMEID_UNSPECIFIED.into()),
        },
        not_before: datetime!(2024-05-01 08:30 UTC),
        not_on_or_after: datetime!(2024-05-01 12:30 UTC),
        audience: Some("urn:esante:dsp".into()),
        authn_instant: datetime!(2024-05-01 08:30 UTC),
        authn_context_class: saml::AUTHN_CONTEXT_X509.into(),
        session_index: Some("s-1".into()),
        attributes: vec![
            SamlAttribute {
                name: "urn:oasis:names:tc:xspa:1.0:subject:subject-id".into(),
                name_format: Some(saml::ATTRNAME_FORMAT_URI.into()),
                friendly_name: Some("name".into()),
                values: vec!["Dr Anne Müller & Co <x>".into()],
            },
            SamlAttribute::single("urn:dspconnect:role", "médecin référent"),
        ],
    }
}

fn response(assertion: Element) -> Element {
    ResponseSpec {
        id: "_r-00000001".into(),
        in_response_to: Some("_req1".into()),
        issue_instant: datetime!(2024-05-01 08:30:01 UTC),
        issuer: "https://idp.sandbox.example".into(),
        destination: None,
        status: Status::success(),
        assertion: Some(assertion),
    }
    .to_element()
}

#[test]
fn our_signed_assertion_verifies_with_xmlsec1_and_ours() {
    let idp = rsa_signer("idp-rsa");
    let signed = spec().sign(&idp).unwrap();
    let doc = ihe::xml::to_document(&response(signed));
    xmlsec1_verify(&doc, idp.certificate_der(), &assertion_id_attrs(), None)
        .expect("xmlsec1 accepts our assertion signature");

    let root = parse_doc(&doc);
    let read = Response::from_element(&root, &NsScope::new()).unwrap();
    assert_eq!(read.in_response_to.as_deref(), Some("_req1"));
    assert!(read.status.is_success());
    let assertion = read.into_assertion().unwrap();
    assertion.verify(idp.certificate_der()).unwrap();
    assert_eq!(assertion.subject.value, "2854201975");
    assert_eq!(assertion.session_index.as_deref(), Some("s-1"));
    assert_eq!(
        assertion.subject_confirmation_method.as_deref(),
        Some(saml::CONFIRMATION_BEARER)
    );
    assert_eq!(
        assertion.attribute("urn:dspconnect:role").unwrap().values,
        vec!["médecin référent".to_owned()]
    );
    assert_eq!(
        assertion
            .attribute("urn:oasis:names:tc:xspa:1.0:subject:subject-id")
            .unwrap()
            .friendly_name
            .as_deref(),
        Some("name")
    );

    // Carried into an XDS call's bearer header.
    let ts = Timestamp::new(datetime!(2024-05-01 09:00 UTC), Duration::minutes(5));
    let call = Envelope::new(Element::new("urn:test", "p", "Q"))
        .with_header(bearer_security_header(
            &ts,
            "ts-1",
            assertion.element().clone(),
        ))
        .to_bytes();
    xmlsec1_verify(&call, idp.certificate_der(), &assertion_id_attrs(), None)
        .expect("xmlsec1 accepts the carried assertion");
    verify_bearer_envelope(&call, &ParseLimits::SOAP, idp.certificate_der()).unwrap();

    // Tampered attribute value: both refuse.
    let text = String::from_utf8(doc).unwrap();
    let tampered = text.replacen("référent", "référant", 1).into_bytes();
    assert!(
        xmlsec1_verify(
            &tampered,
            idp.certificate_der(),
            &assertion_id_attrs(),
            None
        )
        .is_err()
    );
    let root = parse_doc(&tampered);
    assert!(matches!(
        saml::verify_assertion(
            root.child(ns::SAML, "Assertion").unwrap(),
            &NsScope::new().inside(&root),
            idp.certificate_der()
        ),
        Err(SamlError::Signature(DsigError::DigestMismatch { .. }))
    ));
}

#[test]
fn two_phase_assertion_signing_matches_one_shot() {
    let idp = rsa_signer("idp-rsa");
    let pending: PendingEnvelopedSignature = spec()
        .prepare_signature(idp.certificate_der().to_vec())
        .unwrap();
    assert_eq!(pending.algorithm(), SignatureAlgorithm::RsaSha256);
    let value = idp
        .sign_prehashed(SignatureAlgorithm::RsaSha256, pending.digest_to_sign())
        .unwrap();
    assert_eq!(pending.finish(&value).unwrap(), spec().sign(&idp).unwrap());
}

#[test]
fn p256_idp_assertion_verifies_with_xmlsec1() {
    let idp = p256_signer("professional-p256");
    let doc = ihe::xml::to_document(&response(spec().sign(&idp).unwrap()));
    xmlsec1_verify(&doc, idp.certificate_der(), &assertion_id_attrs(), None).unwrap();
}

#[test]
fn failure_status_is_a_typed_error() {
    let failed = ResponseSpec {
        id: "_r2".into(),
        in_response_to: Some("_req2".into()),
        issue_instant: datetime!(2024-05-01 08:30:01 UTC),
        issuer: "https://idp.sandbox.example".into(),
        destination: None,
        status: Status::failure(
            saml::STATUS_RESPONDER,
            saml::STATUS_AUTHN_FAILED,
            "certificate revoked",
        ),
        assertion: None,
    }
    .to_element();
    let read = Response::from_element(&parse_doc(&ihe::xml::to_document(&failed)), &NsScope::new())
        .unwrap();
    let err = read.into_assertion().unwrap_err();
    assert_eq!(
        err,
        SamlError::Status {
            code: saml::STATUS_RESPONDER.into(),
            subcode: Some(saml::STATUS_AUTHN_FAILED.into()),
            message: Some("certificate revoked".into()),
        }
    );
    assert!(err.to_string().contains("certificate revoked"));
}

#[test]
fn validity_window_is_checked_against_the_callers_clock() {
    let idp = rsa_signer("idp-rsa");
    let root = parse_doc(&ihe::xml::to_document(&spec().sign(&idp).unwrap()));
    let a = saml::verify_assertion(&root, &NsScope::new(), idp.certificate_der()).unwrap();
    let skew = Duration::minutes(2);
    assert_eq!(
        a.check_validity(datetime!(2024-05-01 10:00 UTC), skew),
        Ok(())
    );
    assert_eq!(
        a.check_validity(datetime!(2024-05-01 08:29 UTC), skew),
        Ok(())
    );
    assert!(matches!(
        a.check_validity(datetime!(2024-05-01 08:27 UTC), skew),
        Err(SamlError::NotYetValid { .. })
    ));
    assert!(matches!(
        a.check_validity(datetime!(2024-05-01 12:32 UTC), skew),
        Err(SamlError::Expired { .. })
    ));
}

// ------------------------------------------------------------ refusals

fn signed_assertion() -> Element {
    spec().sign(&rsa_signer("idp-rsa")).unwrap()
}

fn verify(el: &Element) -> Result<ihe::saml::Assertion, SamlError> {
    saml::verify_assertion(el, &NsScope::new(), &cert_der("idp-rsa"))
}

fn signature_of(el: &mut Element) -> &mut Element {
    child_mut(el, ns::DS, "Signature")
}

#[test]
fn unsigned_or_doubly_signed_assertions_are_refused() {
    let unsigned = spec().to_unsigned_element();
    assert_eq!(verify(&unsigned), Err(SamlError::NotSigned));
    let mut doubled = signed_assertion();
    let sig = signature_of(&mut doubled).clone();
    doubled.push(sig);
    assert_eq!(
        verify(&doubled),
        Err(SamlError::MultipleSignatures { count: 2 })
    );
}

#[test]
fn an_assertion_signed_by_another_key_is_refused() {
    let forged = spec().sign(&rsa_signer("intruder-rsa")).unwrap();
    assert!(matches!(
        verify(&forged),
        Err(SamlError::Signature(
            DsigError::SignatureValueInvalid { .. }
        ))
    ));
}

#[test]
fn a_signature_moved_from_another_assertion_is_refused() {
    // The attacker takes a genuine signed assertion's signature and puts it
    // into their own assertion with another ID.
    let genuine = signed_assertion();
    let mut forged = AssertionSpec {
        id: "_forged".into(),
        ..spec()
    }
    .to_unsigned_element();
    let sig = genuine.child(ns::DS, "Signature").unwrap().clone();
    forged.children.insert(1, Node::Element(sig));
    assert_eq!(
        verify(&forged),
        Err(SamlError::SignatureReferenceMismatch {
            expected: "_forged".into(),
            found: "_a-00000001".into()
        })
    );
    // Same ID, changed content: the digest no longer matches.
    let mut changed = signed_assertion();
    child_mut(&mut changed, ns::SAML, "Subject")
        .elements_mut()
        .next()
        .unwrap()
        .children = vec![Node::Text("someone-else".into())];
    assert!(matches!(
        verify(&changed),
        Err(SamlError::Signature(DsigError::DigestMismatch { .. }))
    ));
}

#[test]
fn a_duplicate_id_inside_the_assertion_is_refused() {
    let mut el = signed_assertion();
    child_mut(&mut el, ns::SAML, "Subject").set_attr("ID", "_a-00000001");
    assert_eq!(
        verify(&el),
        Err(SamlError::Signature(DsigError::DuplicateId {
            id: "_a-00000001".into()
        }))
    );
}

#[test]
fn a_reference_without_the_enveloped_transform_is_refused() {
    let mut el = signed_assertion();
    let sig = signature_of(&mut el);
    let si = child_mut(sig, ns::DS, "SignedInfo");
    let reference = child_mut(si, ns::DS, "Reference");
    let transforms = child_mut(reference, ns::DS, "Transforms");
    transforms.children.remove(0);
    assert_eq!(verify(&el), Err(SamlError::SignatureNotEnveloped));
}

#[test]
fn bearer_envelope_refusals() {
    let idp = cert_der("idp-rsa");
    let ts = Timestamp::new(datetime!(2024-05-01 09:00 UTC), Duration::minutes(5));
    let query = || Envelope::new(Element::new("urn:test", "p", "Q"));

    let without_assertion = query()
        .with_header(
            Element::new(ns::WSSE, "wsse", "Security").with_child(
                bearer_security_header(&ts, "ts-1", Element::new("urn:x", "x", "Nothing"))
                    .elements()
                    .next()
                    .unwrap()
                    .clone(),
            ),
        )
        .to_bytes();
    assert_eq!(
        verify_bearer_envelope(&without_assertion, &ParseLimits::SOAP, &idp),
        Err(WsSecurityError::MissingAssertion)
    );

    let mut header = bearer_security_header(&ts, "ts-1", signed_assertion());
    header.push(Element::new("urn:x", "x", "Extra"));
    let extra = query().with_header(header).to_bytes();
    assert_eq!(
        verify_bearer_envelope(&extra, &ParseLimits::SOAP, &idp),
        Err(WsSecurityError::UnexpectedSecurityChild {
            found: "{urn:x}Extra".into()
        })
    );

    let mut two = bearer_security_header(&ts, "ts-1", signed_assertion());
    two.push(
        AssertionSpec {
            id: "_other".into(),
            ..spec()
        }
        .sign(&rsa_signer("idp-rsa"))
        .unwrap(),
    );
    let two = query().with_header(two).to_bytes();
    assert_eq!(
        verify_bearer_envelope(&two, &ParseLimits::SOAP, &idp),
        Err(WsSecurityError::MultipleAssertions { count: 2 })
    );

    // The signed assertion duplicated elsewhere in the message: refused
    // (duplicate ID), whichever copy the application would have used.
    let dup = query()
        .with_header(bearer_security_header(&ts, "ts-1", signed_assertion()))
        .with_header(wrapper(signed_assertion()))
        .to_bytes();
    assert_eq!(
        verify_bearer_envelope(&dup, &ParseLimits::SOAP, &idp),
        Err(WsSecurityError::Signature(DsigError::DuplicateId {
            id: "_a-00000001".into()
        }))
    );
}
