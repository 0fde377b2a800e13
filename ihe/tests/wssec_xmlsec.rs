//! Signed envelopes made by our code verify with `xmlsec1 --verify` and
//! with our verifier; tampered ones fail in both; an envelope signed by
//! `xmlsec1 --sign` verifies with ours.

mod signing;

use ihe::dsig::{SignError, SignatureAlgorithm, Signer};
use ihe::soap::{Addressing, Envelope};
use ihe::wssec::{
    PendingEnvelope, SecurityIds, SecurityParams, Timestamp, WsSecurityError, sign_envelope,
    verify_signed_envelope,
};
use ihe::xml::{Element, ParseLimits, ns};
use signing::*;
use time::Duration;
use time::macros::datetime;
use uuid::Uuid;

fn envelope() -> Envelope {
    let payload = Element::new(ns::SAMLP, "samlp", "AuthnRequest")
        .with_attr("ID", "_r1")
        .with_attr("Version", "2.0")
        .with_attr("IssueInstant", "2024-05-01T08:30:00Z")
        .with_child(
            Element::new(ns::SAML, "saml", "Issuer").with_text("Praxis & Co <\"Müller\">\r\n"),
        );
    Envelope::new(payload).with_headers(
        Addressing::request(
            "urn:dspconnect:authn",
            Uuid::from_u128(1),
            "https://idp.example/SAML2Server/AuthenticationService",
        )
        .to_headers(),
    )
}

fn params() -> SecurityParams {
    SecurityParams {
        timestamp: Timestamp::new(datetime!(2024-05-01 08:30 UTC), Duration::minutes(5)),
        ids: SecurityIds::from_uuid(Uuid::from_u128(0xabc)),
        assertion: None,
    }
}

fn signed_bytes(signer: &dyn Signer) -> Vec<u8> {
    sign_envelope(envelope(), params(), signer)
        .expect("signing works")
        .to_bytes()
}

fn replace_once(doc: &[u8], from: &str, to: &str) -> Vec<u8> {
    let text = std::str::from_utf8(doc).unwrap();
    assert_eq!(text.matches(from).count(), 1, "'{from}' must occur once");
    text.replacen(from, to, 1).into_bytes()
}

fn both_accept(doc: &[u8], cert: &[u8]) {
    xmlsec1_verify(doc, cert, &envelope_id_attrs(), None).expect("xmlsec1 accepts");
    verify_signed_envelope(doc, &ParseLimits::SOAP).expect("our verifier accepts");
}

fn both_refuse(doc: &[u8], cert: &[u8]) -> WsSecurityError {
    assert!(
        xmlsec1_verify(doc, cert, &envelope_id_attrs(), None).is_err(),
        "xmlsec1 must refuse:\n{}",
        String::from_utf8_lossy(doc)
    );
    verify_signed_envelope(doc, &ParseLimits::SOAP).expect_err("our verifier must refuse")
}

#[test]
fn rsa_signed_envelope_verifies_in_both_and_tampering_fails_in_both() {
    let signer = rsa_signer("professional-rsa");
    let doc = signed_bytes(&signer);
    both_accept(&doc, signer.certificate_der());

    let verified = verify_signed_envelope(&doc, &ParseLimits::SOAP).unwrap();
    assert_eq!(verified.certificate_der(), signer.certificate_der());
    assert_eq!(verified.timestamp(), params().timestamp);
    assert_eq!(
        verified
            .payload()
            .unwrap()
            .child(ns::SAML, "Issuer")
            .unwrap()
            .text(),
        "Praxis & Co <\"Müller\">\r\n"
    );
    assert_eq!(
        verified.addressing().unwrap().action,
        "urn:dspconnect:authn"
    );

    // One byte of signed Body text.
    let err = both_refuse(
        &replace_once(&doc, "Praxis", "Prbxis"),
        signer.certificate_der(),
    );
    assert!(matches!(
        err,
        WsSecurityError::Signature(ihe::dsig::DsigError::DigestMismatch { .. })
    ));
    // The Timestamp's expiry pushed out.
    let err = both_refuse(
        &replace_once(&doc, "2024-05-01T08:35:00Z", "2034-05-01T08:35:00Z"),
        signer.certificate_der(),
    );
    assert!(matches!(
        err,
        WsSecurityError::Signature(ihe::dsig::DsigError::DigestMismatch { .. })
    ));
}

#[test]
fn p256_signed_envelope_verifies_in_both_and_tampering_fails_in_both() {
    let signer = p256_signer("professional-p256");
    let doc = signed_bytes(&signer);
    assert!(
        std::str::from_utf8(&doc)
            .unwrap()
            .contains(SignatureAlgorithm::EcdsaP256Sha256.uri())
    );
    both_accept(&doc, signer.certificate_der());
    let err = both_refuse(
        &replace_once(&doc, r#"ID="_r1""#, r#"ID="_r2""#),
        signer.certificate_der(),
    );
    assert!(matches!(
        err,
        WsSecurityError::Signature(ihe::dsig::DsigError::DigestMismatch { .. })
    ));
}

#[test]
fn two_phase_signing_gives_the_same_message_as_one_shot() {
    let signer = rsa_signer("professional-rsa");
    let pending =
        PendingEnvelope::prepare(envelope(), signer.certificate_der().to_vec(), params()).unwrap();
    assert_eq!(pending.algorithm(), SignatureAlgorithm::RsaSha256);
    // The "card thread" only ever sees the 32-byte digest.
    let digest = *pending.digest_to_sign();
    let value = signer
        .sign_prehashed(SignatureAlgorithm::RsaSha256, &digest)
        .unwrap();
    let two_phase = pending.finish(&value).unwrap().to_bytes();
    // RSA PKCS#1 v1.5 is deterministic, so the messages are identical.
    assert_eq!(two_phase, signed_bytes(&signer));
}

#[test]
fn finish_refuses_a_signature_from_another_key_or_in_der_form() {
    let card = rsa_signer("professional-rsa");
    let intruder = rsa_signer("intruder-rsa");
    let pending =
        PendingEnvelope::prepare(envelope(), card.certificate_der().to_vec(), params()).unwrap();
    let wrong = intruder
        .sign_prehashed(SignatureAlgorithm::RsaSha256, pending.digest_to_sign())
        .unwrap();
    assert!(matches!(
        pending.finish(&wrong),
        Err(SignError::SignatureDoesNotVerify { .. })
    ));

    let ec = p256_signer("professional-p256");
    let pending =
        PendingEnvelope::prepare(envelope(), ec.certificate_der().to_vec(), params()).unwrap();
    let raw = ec
        .sign_prehashed(
            SignatureAlgorithm::EcdsaP256Sha256,
            pending.digest_to_sign(),
        )
        .unwrap();
    let der = p256::ecdsa::Signature::from_slice(&raw).unwrap().to_der();
    assert!(matches!(
        pending.clone().finish(der.as_bytes()),
        Err(SignError::SignatureDoesNotVerify { .. })
    ));
    // Converted back to raw r‖s it is accepted.
    let converted = ihe::dsig::ecdsa_p256_der_to_raw(der.as_bytes()).unwrap();
    assert!(pending.finish(&converted).is_ok());
}

#[test]
fn prepare_refuses_bad_and_colliding_ids() {
    let signer = rsa_signer("professional-rsa");
    let mut bad = params();
    bad.ids.body = "1-starts-with-a-digit".into();
    assert!(matches!(
        PendingEnvelope::prepare(envelope(), signer.certificate_der().to_vec(), bad),
        Err(SignError::InvalidId { .. })
    ));
    let mut colliding = params();
    colliding.ids.timestamp = colliding.ids.body.clone();
    assert!(matches!(
        PendingEnvelope::prepare(envelope(), signer.certificate_der().to_vec(), colliding),
        Err(SignError::DuplicateId { .. })
    ));
    // An ID already used inside the payload collides too.
    let mut payload_clash = params();
    payload_clash.ids.token = "_r1".into();
    assert!(matches!(
        PendingEnvelope::prepare(envelope(), signer.certificate_der().to_vec(), payload_clash),
        Err(SignError::DuplicateId { id }) if id == "_r1"
    ));
}

/// A WS-Security envelope template in the usual WSS4J shape, signed by
/// `xmlsec1 --sign`: our verifier accepts the independent signer's output.
#[test]
fn envelope_signed_by_xmlsec1_verifies_with_ours() {
    for (name, alg) in [
        ("professional-rsa", SignatureAlgorithm::RsaSha256),
        ("professional-p256", SignatureAlgorithm::EcdsaP256Sha256),
    ] {
        let cert = cert_der(name);
        let template = wss4j_style_template(&cert, alg);
        let signed = xmlsec1_sign(template.as_bytes(), name, &envelope_id_attrs());
        let verified = verify_signed_envelope(&signed, &ParseLimits::SOAP)
            .unwrap_or_else(|e| panic!("{name}: {e}\n{}", String::from_utf8_lossy(&signed)));
        assert_eq!(verified.certificate_der(), cert.as_slice());
        assert_eq!(verified.payload().unwrap().text(), "données & <détails>");
    }
}

fn wss4j_style_template(cert: &[u8], alg: SignatureAlgorithm) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(cert);
    format!(
        r##"<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope">
  <soap:Header>
    <wsse:Security xmlns:wsse="{wsse}" xmlns:wsu="{wsu}" soap:mustUnderstand="true">
      <wsu:Timestamp wsu:Id="TS-1">
        <wsu:Created>2024-05-01T08:30:00.123Z</wsu:Created>
        <wsu:Expires>2024-05-01T08:35:00.123Z</wsu:Expires>
      </wsu:Timestamp>
      <wsse:BinarySecurityToken EncodingType="{enc}" ValueType="{vt}" wsu:Id="X509-1">{b64}</wsse:BinarySecurityToken>
      <ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#" Id="SIG-1">
        <ds:SignedInfo>
          <ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#">
            <ec:InclusiveNamespaces xmlns:ec="http://www.w3.org/2001/10/xml-exc-c14n#" PrefixList="soap"/>
          </ds:CanonicalizationMethod>
          <ds:SignatureMethod Algorithm="{alg}"/>
          <ds:Reference URI="#TS-1">
            <ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#">
              <ec:InclusiveNamespaces xmlns:ec="http://www.w3.org/2001/10/xml-exc-c14n#" PrefixList="wsse soap"/>
            </ds:Transform></ds:Transforms>
            <ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>
            <ds:DigestValue></ds:DigestValue>
          </ds:Reference>
          <ds:Reference URI="#id-body">
            <ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>
            <ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>
            <ds:DigestValue></ds:DigestValue>
          </ds:Reference>
        </ds:SignedInfo>
        <ds:SignatureValue></ds:SignatureValue>
        <ds:KeyInfo Id="KI-1">
          <wsse:SecurityTokenReference wsu:Id="STR-1">
            <wsse:Reference URI="#X509-1" ValueType="{vt}"/>
          </wsse:SecurityTokenReference>
        </ds:KeyInfo>
      </ds:Signature>
    </wsse:Security>
  </soap:Header>
  <soap:Body xmlns:wsu="{wsu}" wsu:Id="id-body"><p:Ping xmlns:p="urn:test">données &amp; &lt;détails&gt;</p:Ping></soap:Body>
</soap:Envelope>
"##,
        wsse = ns::WSSE,
        wsu = ns::WSU,
        enc = ihe::wssec::ENCODING_BASE64_BINARY,
        vt = ihe::wssec::VALUE_TYPE_X509V3,
        alg = alg.uri(),
    )
}
