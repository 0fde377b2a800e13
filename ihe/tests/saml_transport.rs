//! An assertion signed by `xmlsec1 --sign` (not by our code), with
//! `xsi:type="xs:string"` values, an InclusiveNamespaces PrefixList `xs`
//! and the `xs`/`xsi` declarations on an ancestor (the Response, or the SOAP
//! Envelope around it), survives being carried into our WS-Security header:
//! xmlsec1 and our verifier both still accept it there. A naive copy (the
//! element without its inherited declarations) is refused by both, which
//! shows the test can fail.

mod signing;

use ihe::dsig::{DsigError, SignatureAlgorithm};
use ihe::saml::{self, Assertion, Response, SamlError};
use ihe::soap::Envelope;
use ihe::wssec::{
    SecurityIds, SecurityParams, Timestamp, WsSecurityError, bearer_security_header, sign_envelope,
    verify_bearer_envelope, verify_signed_envelope,
};
use ihe::xml::{Element, NsScope, ParseLimits, ns};
use signing::*;
use time::Duration;
use time::macros::datetime;
use uuid::Uuid;

const ASSERTION_SIGNATURE: &str = "//*[local-name()='Assertion']/*[local-name()='Signature']";
const ENVELOPE_SIGNATURE: &str =
    "/*/*[local-name()='Header']/*[local-name()='Security']/*[local-name()='Signature']";

/// The IdP's Response with the assertion to sign; `outer_decls` go on the
/// Response start tag (the assertion declares nothing itself).
fn response_template(outer_decls: &str) -> String {
    use base64::Engine;
    let cert = base64::engine::general_purpose::STANDARD.encode(cert_der("idp-rsa"));
    format!(
        r##"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"{outer_decls} ID="_resp1" Version="2.0" IssueInstant="2024-05-01T08:30:01Z" InResponseTo="_req1">
  <saml:Issuer>https://idp.sandbox.example</saml:Issuer>
  <samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>
  <saml:Assertion ID="_assert1" Version="2.0" IssueInstant="2024-05-01T08:30:01Z">
    <saml:Issuer>https://idp.sandbox.example</saml:Issuer>
    <ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
      <ds:SignedInfo>
        <ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
        <ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>
        <ds:Reference URI="#_assert1">
          <ds:Transforms>
            <ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>
            <ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"><ec:InclusiveNamespaces xmlns:ec="http://www.w3.org/2001/10/xml-exc-c14n#" PrefixList="xs"/></ds:Transform>
          </ds:Transforms>
          <ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>
          <ds:DigestValue></ds:DigestValue>
        </ds:Reference>
      </ds:SignedInfo>
      <ds:SignatureValue></ds:SignatureValue>
      <ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>
    </ds:Signature>
    <saml:Subject>
      <saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified">2854201975</saml:NameID>
      <saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"/>
    </saml:Subject>
    <saml:Conditions NotBefore="2024-05-01T08:30:00Z" NotOnOrAfter="2024-05-01T12:30:00Z">
      <saml:AudienceRestriction><saml:Audience>urn:esante:dsp</saml:Audience></saml:AudienceRestriction>
    </saml:Conditions>
    <saml:AuthnStatement AuthnInstant="2024-05-01T08:30:00Z">
      <saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:X509</saml:AuthnContextClassRef></saml:AuthnContext>
    </saml:AuthnStatement>
    <saml:AttributeStatement>
      <saml:Attribute Name="urn:oasis:names:tc:xspa:1.0:subject:subject-id" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri">
        <saml:AttributeValue xsi:type="xs:string">Dr Anne Müller &amp; Co &lt;Cabinet&gt;</saml:AttributeValue>
      </saml:Attribute>
      <saml:Attribute Name="urn:oasis:names:tc:xspa:1.0:subject:organization">
        <saml:AttributeValue xsi:type="xs:string">Cabinet Esch</saml:AttributeValue>
        <saml:AttributeValue xsi:type="xs:string">Hôpital</saml:AttributeValue>
      </saml:Attribute>
    </saml:AttributeStatement>
  </saml:Assertion>
</samlp:Response>"##
    )
}

const XS_XSI: &str = r#" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance""#;

/// The Response signed by xmlsec1 with the xs/xsi declarations on the Response.
fn signed_response() -> Vec<u8> {
    let template = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{}",
        response_template(XS_XSI)
    );
    xmlsec1_sign(template.as_bytes(), "idp-rsa", &assertion_id_attrs())
}

/// The Response inside a SOAP envelope that carries the xs/xsi
/// declarations, signed there by xmlsec1.
fn signed_soap_response() -> Vec<u8> {
    let template = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<S:Envelope xmlns:S=\"{}\"{XS_XSI}><S:Body>{}</S:Body></S:Envelope>",
        ns::SOAP12,
        response_template("")
    );
    xmlsec1_sign(template.as_bytes(), "idp-rsa", &assertion_id_attrs())
}

fn xds_query() -> Element {
    Element::new(ns::QUERY, "query", "AdhocQueryRequest").with_child(
        Element::new(ns::RIM, "rim", "AdhocQuery")
            .with_attr("id", "urn:uuid:14d4debf-8f97-4251-9a74-a90016b0af0d"),
    )
}

fn bearer_envelope(assertion: Element) -> Vec<u8> {
    let ts = Timestamp::new(datetime!(2024-05-01 09:00 UTC), Duration::minutes(5));
    Envelope::new(xds_query())
        .with_header(bearer_security_header(&ts, "ts-1", assertion))
        .to_bytes()
}

fn read_assertion(response_doc: &[u8]) -> Assertion {
    let root = parse_doc(response_doc);
    Response::from_element(&root, &NsScope::new())
        .unwrap()
        .into_assertion()
        .unwrap()
}

fn check_fields(a: &Assertion) {
    assert_eq!(a.id, "_assert1");
    assert_eq!(a.issuer, "https://idp.sandbox.example");
    assert_eq!(a.subject.value, "2854201975");
    assert_eq!(a.not_before, Some(datetime!(2024-05-01 08:30 UTC)));
    assert_eq!(a.not_on_or_after, Some(datetime!(2024-05-01 12:30 UTC)));
    assert_eq!(a.audiences, vec!["urn:esante:dsp".to_owned()]);
    assert_eq!(
        a.authn_context_class.as_deref(),
        Some(saml::AUTHN_CONTEXT_X509)
    );
    assert_eq!(
        a.attribute("urn:oasis:names:tc:xspa:1.0:subject:subject-id")
            .unwrap()
            .values,
        vec!["Dr Anne Müller & Co <Cabinet>".to_owned()]
    );
    assert_eq!(
        a.attribute("urn:oasis:names:tc:xspa:1.0:subject:organization")
            .unwrap()
            .values
            .len(),
        2
    );
}

#[test]
fn xmlsec1_signed_assertion_verifies_in_its_response() {
    let doc = signed_response();
    let idp = cert_der("idp-rsa");
    xmlsec1_verify(&doc, &idp, &assertion_id_attrs(), None).expect("xmlsec1 accepts its own");
    let root = parse_doc(&doc);
    let assertion_el = root.child(ns::SAML, "Assertion").unwrap();
    let verified =
        saml::verify_assertion(assertion_el, &NsScope::new().inside(&root), &idp).unwrap();
    check_fields(&verified);
    // The namespace-complete copy verifies alone.
    verified.verify(&idp).unwrap();
}

#[test]
fn xmlsec1_signed_assertion_survives_transport_into_our_security_header() {
    let idp = cert_der("idp-rsa");
    for (name, response_doc) in [
        ("declarations on the Response", signed_response()),
        ("declarations on the SOAP Envelope", signed_soap_response()),
    ] {
        // The client's path: parse the answer, take the assertion.
        let assertion = match name {
            "declarations on the Response" => read_assertion(&response_doc),
            _ => {
                let payload = Envelope::parse(&response_doc, &ParseLimits::SOAP)
                    .unwrap()
                    .into_payload()
                    .unwrap();
                Response::from_element(&payload, &NsScope::new())
                    .unwrap()
                    .into_assertion()
                    .unwrap()
            }
        };
        check_fields(&assertion);
        let call = bearer_envelope(assertion.element().clone());

        xmlsec1_verify(&call, &idp, &assertion_id_attrs(), None)
            .unwrap_or_else(|e| panic!("{name}: xmlsec1 refuses the carried assertion: {e}"));
        let verified = verify_bearer_envelope(&call, &ParseLimits::SOAP, &idp)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        check_fields(verified.assertion());
        assert_eq!(
            verified.timestamp().unwrap().created,
            datetime!(2024-05-01 09:00 UTC)
        );
        assert!(
            verified
                .payload()
                .unwrap()
                .is(ns::QUERY, "AdhocQueryRequest")
        );

        // Tampering with a carried attribute value fails in both.
        let text = String::from_utf8(call.clone()).unwrap();
        let tampered = text
            .replacen("Cabinet Esch", "Cabinet Evil", 1)
            .into_bytes();
        assert!(xmlsec1_verify(&tampered, &idp, &assertion_id_attrs(), None).is_err());
        assert!(matches!(
            verify_bearer_envelope(&tampered, &ParseLimits::SOAP, &idp),
            Err(WsSecurityError::Assertion(SamlError::Signature(
                DsigError::DigestMismatch { .. }
            )))
        ));
    }
}

#[test]
fn a_naive_copy_without_inherited_namespaces_fails_in_both() {
    let idp = cert_der("idp-rsa");
    let root = parse_doc(&signed_response());
    let naive = root.child(ns::SAML, "Assertion").unwrap().clone();
    let call = bearer_envelope(naive);
    // Our writer still binds xsi (used in attribute names) where needed,
    // but xs only appears inside values: it is lost, and with it the
    // PrefixList rendering the signature covers.
    assert!(xmlsec1_verify(&call, &idp, &assertion_id_attrs(), None).is_err());
    assert!(matches!(
        verify_bearer_envelope(&call, &ParseLimits::SOAP, &idp),
        Err(WsSecurityError::Assertion(SamlError::Signature(
            DsigError::DigestMismatch { .. }
        )))
    ));
}

#[test]
fn carried_assertion_and_our_own_signature_both_verify_in_one_message() {
    let idp = cert_der("idp-rsa");
    let card = rsa_signer("professional-rsa");
    let assertion = read_assertion(&signed_response());
    let params = SecurityParams {
        timestamp: Timestamp::new(datetime!(2024-05-01 09:00 UTC), Duration::minutes(5)),
        ids: SecurityIds::from_uuid(Uuid::from_u128(9)),
        assertion: Some(assertion.element().clone()),
    };
    let doc = sign_envelope(Envelope::new(xds_query()), params, &card)
        .unwrap()
        .to_bytes();
    let mut ids = envelope_id_attrs();
    ids.extend(assertion_id_attrs());
    xmlsec1_verify(&doc, &idp, &ids, Some(ASSERTION_SIGNATURE)).expect("assertion signature");
    xmlsec1_verify(
        &doc,
        &cert_der("professional-rsa"),
        &ids,
        Some(ENVELOPE_SIGNATURE),
    )
    .expect("envelope signature");
    let verified = verify_signed_envelope(&doc, &ParseLimits::SOAP).unwrap();
    check_fields(&verified.verify_assertion(&idp).unwrap().unwrap());
    assert!(matches!(
        verified.verify_assertion(&cert_der("intruder-rsa")),
        Some(Err(SamlError::Signature(
            DsigError::SignatureValueInvalid {
                algorithm: SignatureAlgorithm::RsaSha256
            }
        )))
    ));
}
