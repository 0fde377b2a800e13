//! Every message kind this part of `ihe` emits validates with
//! `xmllint --schema` against the official schemas: SAML payloads against
//! the SAML protocol/assertion schemas, signatures against XML-DSig, and
//! envelopes against SOAP 1.2 (whose Header/Body content is lax, so each
//! payload is also validated on its own).

mod common;
mod signing;

use common::{schema, xmllint_validate};
use ihe::saml::{self, AssertionSpec, AuthnRequest, NameId, ResponseSpec, SamlAttribute, Status};
use ihe::soap::{Addressing, Envelope, Fault, FaultCode, QName};
use ihe::wssec::{
    SecurityIds, SecurityParams, Timestamp, WsSecurityError, bearer_security_header, sign_envelope,
};
use ihe::xml::{Element, ns, to_document};
use signing::*;
use time::Duration;
use time::macros::datetime;
use uuid::Uuid;

const SAML_PROTOCOL: &str = "saml/sstc-saml-schema-protocol-2.0.xsd";
const SAML_ASSERTION: &str = "saml/sstc-saml-schema-assertion-2.0.xsd";
const XMLDSIG: &str = "saml/xmldsig-core-schema.xsd";
const SOAP: &str = "soap/soap-1.2-envelope.xsd";

fn valid(doc: &[u8], schema_file: &str) {
    if let Err(e) = xmllint_validate(doc, &schema(schema_file)) {
        panic!(
            "does not validate against {schema_file}:\n{e}\n{}",
            String::from_utf8_lossy(doc)
        );
    }
}

fn authn_request() -> AuthnRequest {
    AuthnRequest {
        destination: Some("https://idp.sandbox.example/SAML2Server/AuthenticationService".into()),
        ..AuthnRequest::new(
            "_req-1",
            datetime!(2024-05-01 08:30 UTC),
            "urn:dspconnect:software:test",
            "2854201975",
        )
    }
}

fn assertion_spec() -> AssertionSpec {
    AssertionSpec {
        id: "_a-1".into(),
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
        attributes: vec![SamlAttribute {
            name: "urn:oasis:names:tc:xspa:1.0:subject:subject-id".into(),
            name_format: Some(saml::ATTRNAME_FORMAT_URI.into()),
            friendly_name: None,
            values: vec!["Dr Anne Müller".into(), "second".into()],
        }],
    }
}

fn signed_assertion() -> Element {
    assertion_spec().sign(&rsa_signer("idp-rsa")).unwrap()
}

#[test]
fn authn_request_validates() {
    valid(&to_document(&authn_request().to_element()), SAML_PROTOCOL);
}

#[test]
fn responses_validate() {
    let success = ResponseSpec {
        id: "_r-1".into(),
        in_response_to: Some("_req-1".into()),
        issue_instant: datetime!(2024-05-01 08:30:01 UTC),
        issuer: "https://idp.sandbox.example".into(),
        destination: Some("urn:dspconnect:software:test".into()),
        status: Status::success(),
        assertion: Some(signed_assertion()),
    };
    valid(&to_document(&success.to_element()), SAML_PROTOCOL);
    let failure = ResponseSpec {
        status: Status::failure(
            saml::STATUS_RESPONDER,
            saml::STATUS_AUTHN_FAILED,
            "certificate revoked",
        ),
        assertion: None,
        ..success
    };
    valid(&to_document(&failure.to_element()), SAML_PROTOCOL);
}

#[test]
fn assertion_alone_validates() {
    valid(&to_document(&signed_assertion()), SAML_ASSERTION);
}

#[test]
fn signed_authentication_envelope_validates() {
    for signer in [
        Box::new(rsa_signer("professional-rsa")) as Box<dyn ihe::dsig::Signer>,
        Box::new(p256_signer("professional-p256")),
    ] {
        let envelope = Envelope::new(authn_request().to_element()).with_headers(
            Addressing::request(
                "urn:dspconnect:authn",
                Uuid::from_u128(1),
                "https://idp.sandbox.example/SAML2Server/AuthenticationService",
            )
            .to_headers(),
        );
        let params = SecurityParams {
            timestamp: Timestamp::new(datetime!(2024-05-01 08:30 UTC), Duration::minutes(5)),
            ids: SecurityIds::from_uuid(Uuid::from_u128(2)),
            assertion: None,
        };
        let signed = sign_envelope(envelope, params, signer.as_ref()).unwrap();
        valid(&signed.to_bytes(), SOAP);
        let root = signed.element();
        let signature = root
            .descendants()
            .find(|e| e.is(ns::DS, "Signature"))
            .unwrap();
        valid(&to_document(signature), XMLDSIG);
        let payload = root
            .child(ns::SOAP12, "Body")
            .unwrap()
            .elements()
            .next()
            .unwrap();
        valid(&to_document(payload), SAML_PROTOCOL);
    }
}

#[test]
fn bearer_envelope_validates() {
    let ts = Timestamp::new(datetime!(2024-05-01 09:00 UTC), Duration::minutes(5));
    let envelope = Envelope::new(Element::new(ns::QUERY, "query", "AdhocQueryRequest"))
        .with_headers(
            Addressing::request(
                "urn:ihe:iti:2007:RegistryStoredQuery",
                Uuid::from_u128(3),
                "https://xds.sandbox.example/registry",
            )
            .to_headers(),
        )
        .with_header(bearer_security_header(&ts, "ts-1", signed_assertion()));
    valid(&envelope.to_bytes(), SOAP);
}

#[test]
fn response_envelope_with_relates_to_validates() {
    let envelope = Envelope::new(Element::new("urn:test", "p", "Answer")).with_headers(
        Addressing::response(
            "urn:ihe:iti:2007:RegistryStoredQueryResponse",
            Uuid::from_u128(4),
            "urn:uuid:00000000-0000-0000-0000-000000000003",
        )
        .to_headers(),
    );
    valid(&envelope.to_bytes(), SOAP);
}

#[test]
fn faults_validate() {
    let fault = Fault::new(FaultCode::Sender, "the signature is refused")
        .with_subcode(QName::new(ns::WSSE, "wsse", "FailedCheck"))
        .with_subcode(QName::new(
            "urn:dspconnect:sandbox",
            "dsp",
            "DigestMismatch",
        ))
        .with_detail(Element::new("urn:dspconnect:sandbox", "dsp", "Why").with_text("digest"));
    valid(&fault.to_envelope().to_bytes(), SOAP);
    // The fault the sandbox answers a refused message with.
    let refusal = WsSecurityError::BodyNotSigned.to_fault();
    valid(&refusal.to_envelope().to_bytes(), SOAP);
}

#[test]
fn a_broken_message_does_not_validate() {
    // Guards the helper: xmllint really judges the documents.
    let mut el = authn_request().to_element();
    el.set_attr("Version", "two");
    el.set_attr("Unexpected", "1");
    assert!(xmllint_validate(&to_document(&el), &schema(SAML_PROTOCOL)).is_err());
}
