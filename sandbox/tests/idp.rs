//! The IdP end to end over HTTPS: AuthnRequests really signed with the
//! demo professionals' exported cards; the assertion issued, and each
//! refusal with its own `f:` subcode.

mod common;
mod platform;

use std::io::Write;
use std::sync::{Arc, LazyLock, Mutex};

use dspconnect_sandbox::idp::{self, AUTHN_CONTEXT_PASSWORD, IDP_ENTITY_ID};
use dspconnect_sandbox::pki::{Fingerprint, Validity};
use dspconnect_sandbox::soap_service::attribute;
use dspconnect_sandbox::store::demo::{
    DEMO_BLACK_LISTED, DEMO_PENDING_ACTIVATION, DEMO_PHARMACIST, DEMO_PROFESSIONAL_PASSWORD,
    DEMO_REFERENT_GP,
};
use ihe::saml::AUTHN_CONTEXT_X509;
use ihe::xml::{self, Node, ns};
use platform::*;
use time::Duration;
use uuid::Uuid;

/// The GP's own matricule (password login id).
const GP_MATRICULE: &str = "1972110504599";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The sandbox's log, for this test binary (one process-wide subscriber).
static LOG: LazyLock<Captured> = LazyLock::new(|| {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();
    captured
});

fn log_text() -> String {
    String::from_utf8_lossy(&LOG.0.lock().expect("log buffer")).into_owned()
}

#[tokio::test]
async fn a_demo_gp_gets_an_assertion_the_idp_certificate_verifies() {
    LazyLock::force(&LOG);
    let platform = Platform::start().await;
    let card = platform.card(DEMO_REFERENT_GP);
    let signer = signer(&card);
    let message_id = Uuid::new_v4();
    let authn = authn_request(DEMO_REFERENT_GP, platform.now());
    let request_id = authn.attr("ID").expect("ID").to_owned();
    let before = platform.now();
    let answer = platform
        .post(
            idp::PATH,
            idp::ACTION,
            card_signed(
                &signer,
                authn,
                idp::ACTION,
                &platform.url(idp::PATH),
                message_id,
                platform.now(),
            ),
        )
        .await;

    let envelope = answer.envelope();
    let addressing = ihe::soap::Addressing::from_headers(&envelope.headers)
        .expect("addressing")
        .expect("the answer has WS-Addressing headers");
    assert_eq!(
        addressing.relates_to.as_deref(),
        Some(ihe::soap::message_id_urn(message_id).as_str())
    );
    let response = answer.saml_response();
    assert_eq!(
        response.in_response_to.as_deref(),
        Some(request_id.as_str())
    );
    assert_eq!(response.issuer.as_deref(), Some(IDP_ENTITY_ID));
    let assertion = response
        .into_assertion()
        .expect("success with an assertion");
    assertion
        .verify(platform.pki().idp_signing().certificate_der())
        .expect("signed by the IdP");
    assert_eq!(assertion.issuer, IDP_ENTITY_ID);
    assert_eq!(assertion.subject.value, DEMO_REFERENT_GP);
    let value = |name: &str| assertion.attribute(name).expect(name).values.clone();
    assert_eq!(value(attribute::SUBJECT_ID), ["Anne Weber"]);
    assert_eq!(value(attribute::ROLE), ["médecin"]);
    assert_eq!(value(attribute::ACCESS_LEVEL), ["card"]);
    assert_eq!(
        assertion.authn_context_class.as_deref(),
        Some(AUTHN_CONTEXT_X509)
    );
    let lifetime = assertion.not_on_or_after.expect("NotOnOrAfter") - assertion.issue_instant;
    assert_eq!(lifetime, Duration::hours(1));
    assert!(assertion.issue_instant >= before - Duration::seconds(1));
    // Valid now, and expired an hour later.
    assertion
        .check_validity(platform.now(), Duration::ZERO)
        .expect("valid now");
    assert!(
        assertion
            .check_validity(platform.now() + Duration::minutes(61), Duration::ZERO)
            .is_err()
    );

    // The assertion opens the DSP services.
    let lookup = platform
        .dsp(
            assertion.element(),
            dsp_request("HpdLookupRequest", &[("EHealthId", DEMO_PHARMACIST)]),
        )
        .await;
    assert_eq!(lookup.payload().elements().count(), 1);

    // The sandbox logged the verified certificate: subject and serial.
    let log = log_text();
    let line = log
        .lines()
        .find(|l| {
            l.contains("verified the card certificate") && l.contains(&card.serial.to_string())
        })
        .unwrap_or_else(|| panic!("no log line of the verified certificate in:\n{log}"));
    assert!(
        line.contains("Anne Weber") && line.contains(DEMO_REFERENT_GP),
        "{line}"
    );
    assert!(!log.contains(card.pin.expose()), "the PIN is never logged");
}

#[tokio::test]
async fn the_assertion_lifetime_is_configurable() {
    let platform = Platform::start_with(|config| {
        config.with_assertion_lifetime(std::time::Duration::from_secs(10 * 60))
    })
    .await;
    let assertion = platform
        .card_login(&signer(&platform.card(DEMO_PHARMACIST)), DEMO_PHARMACIST)
        .await
        .assertion();
    assert_eq!(
        assertion.not_on_or_after.expect("NotOnOrAfter") - assertion.issue_instant,
        Duration::minutes(10)
    );
}

#[tokio::test]
async fn a_tampered_or_missing_signature_is_refused_as_invalid_signature() {
    let platform = Platform::start().await;
    let signer = signer(&platform.card(DEMO_REFERENT_GP));
    let signed = card_signed(
        &signer,
        authn_request(DEMO_REFERENT_GP, platform.now()),
        idp::ACTION,
        &platform.url(idp::PATH),
        Uuid::new_v4(),
        platform.now(),
    );
    let tampered = String::from_utf8(signed)
        .expect("UTF-8")
        .replace(SOFTWARE_ID, "urn:dspconnect:software:forged");
    platform
        .post(idp::PATH, idp::ACTION, tampered.into_bytes())
        .await
        .assert_refused("InvalidSignature");

    // Signature wrapping: the signed Body moved into a header, a forged Body
    // (asking for another professional) in its place.
    let mut envelope = signed_element(
        &signer,
        authn_request(DEMO_REFERENT_GP, platform.now()),
        idp::ACTION,
        &platform.url(idp::PATH),
        Uuid::new_v4(),
        platform.now(),
    )
    .into_element();
    let body_index = envelope.children.len() - 1;
    let Node::Element(signed_body) = envelope.children[body_index].clone() else {
        panic!("the Body is the last child");
    };
    let mut forged_body = xml::Element::new(ns::SOAP12, "soap", "Body");
    forged_body.push(authn_request(DEMO_PHARMACIST, platform.now()));
    envelope.children[body_index] = Node::Element(forged_body);
    let Some(Node::Element(header)) = envelope.children.first_mut() else {
        panic!("the Header is the first child");
    };
    header.push(xml::Element::new("urn:wrapper", "w", "Wrapper").with_child(signed_body));
    let answer = platform
        .post(idp::PATH, idp::ACTION, xml::to_document(&envelope))
        .await;
    answer.assert_refused("InvalidSignature");

    // Not signed at all: a Timestamp and nothing else.
    let unsigned = ihe::soap::Envelope::new(authn_request(DEMO_REFERENT_GP, platform.now()))
        .with_headers(
            ihe::soap::Addressing::request(idp::ACTION, Uuid::new_v4(), "https://x.invalid")
                .to_headers(),
        )
        .with_header(
            xml::Element::new(ns::WSSE, "wsse", "Security").with_child(
                xml::Element::new(ns::WSU, "wsu", "Timestamp")
                    .with_child(
                        xml::Element::new(ns::WSU, "wsu", "Created")
                            .with_text("2024-01-01T00:00:00Z"),
                    )
                    .with_child(
                        xml::Element::new(ns::WSU, "wsu", "Expires")
                            .with_text("2024-01-01T00:05:00Z"),
                    ),
            ),
        )
        .to_bytes();
    platform
        .post(idp::PATH, idp::ACTION, unsigned)
        .await
        .assert_refused("InvalidSignature");
}

#[tokio::test]
async fn stale_future_and_missing_timestamps_are_each_refused() {
    let platform = Platform::start().await;
    let signer = signer(&platform.card(DEMO_REFERENT_GP));
    let at = |created| {
        card_signed(
            &signer,
            authn_request(DEMO_REFERENT_GP, created),
            idp::ACTION,
            &platform.url(idp::PATH),
            Uuid::new_v4(),
            created,
        )
    };
    platform
        .post(
            idp::PATH,
            idp::ACTION,
            at(platform.now() - Duration::minutes(10)),
        )
        .await
        .assert_refused("TimestampStale");
    platform
        .post(
            idp::PATH,
            idp::ACTION,
            at(platform.now() + Duration::minutes(10)),
        )
        .await
        .assert_refused("TimestampInFuture");

    // The Timestamp taken out of a signed request.
    let mut envelope = signed_element(
        &signer,
        authn_request(DEMO_REFERENT_GP, platform.now()),
        idp::ACTION,
        &platform.url(idp::PATH),
        Uuid::new_v4(),
        platform.now(),
    )
    .into_element();
    let Some(Node::Element(header)) = envelope.children.first_mut() else {
        panic!("the Header is the first child");
    };
    for node in header.children.iter_mut() {
        if let Node::Element(security) = node
            && security.is(ns::WSSE, "Security")
        {
            security
                .children
                .retain(|n| !matches!(n, Node::Element(e) if e.is(ns::WSU, "Timestamp")));
        }
    }
    platform
        .post(idp::PATH, idp::ACTION, xml::to_document(&envelope))
        .await
        .assert_refused("TimestampMissing");
}

#[tokio::test]
async fn a_replayed_message_id_or_signed_content_is_refused() {
    let platform = Platform::start().await;
    let signer = signer(&platform.card(DEMO_REFERENT_GP));
    let message_id = Uuid::new_v4();
    let request = card_signed(
        &signer,
        authn_request(DEMO_REFERENT_GP, platform.now()),
        idp::ACTION,
        &platform.url(idp::PATH),
        message_id,
        platform.now(),
    );
    let first = platform.post(idp::PATH, idp::ACTION, request.clone()).await;
    assert_eq!(first.status, 200, "{}", first.text());
    platform
        .post(idp::PATH, idp::ACTION, request.clone())
        .await
        .assert_refused("MessageReplayed");

    // Another signed request that reuses the MessageID.
    let same_id = card_signed(
        &signer,
        authn_request(DEMO_REFERENT_GP, platform.now()),
        idp::ACTION,
        &platform.url(idp::PATH),
        message_id,
        platform.now(),
    );
    platform
        .post(idp::PATH, idp::ACTION, same_id)
        .await
        .assert_refused("MessageReplayed");

    // The same signed request with a fresh (unsigned) MessageID.
    let fresh_id = String::from_utf8(request).expect("UTF-8").replace(
        &message_id.hyphenated().to_string(),
        &Uuid::new_v4().hyphenated().to_string(),
    );
    let answer = platform
        .post(idp::PATH, idp::ACTION, fresh_id.into_bytes())
        .await;
    answer.assert_refused("MessageReplayed");
    assert!(
        answer.fault().reason().contains("signed"),
        "{}",
        answer.text()
    );
}

#[tokio::test]
async fn expired_not_yet_valid_revoked_and_foreign_certificates_are_each_refused() {
    let platform = Platform::start().await;
    let now = platform.now();
    let platform = &platform;
    let login_with = |credentials: &dspconnect_sandbox::pki::ProfessionalCredentials| {
        let signer = signer_of(credentials);
        let id = credentials.professional().ehealth_id.clone();
        async move { platform.card_login(&signer, &id).await }
    };
    let expired = platform.extra_card(
        "Claire Muller",
        DEMO_PHARMACIST,
        Validity::between(now - Duration::days(400), now - Duration::days(35)),
    );
    login_with(&expired)
        .await
        .assert_refused("CertificateExpired");
    let not_yet = platform.extra_card(
        "Claire Muller",
        DEMO_PHARMACIST,
        Validity::between(now + Duration::days(2), now + Duration::days(400)),
    );
    login_with(&not_yet)
        .await
        .assert_refused("CertificateNotYetValid");

    // A card of another "LuxTrust Test CA" (same name, other key).
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let foreign_pki =
        dspconnect_sandbox::pki::Pki::load_or_create(&elsewhere.path().join("data")).expect("PKI");
    let foreign = foreign_pki
        .issue_professional_certificate(
            &dspconnect_sandbox::pki::Professional {
                name: "Anne Weber".into(),
                ehealth_id: DEMO_REFERENT_GP.into(),
            },
            Validity::days_from_now(30),
        )
        .expect("issued");
    login_with(&foreign)
        .await
        .assert_refused("CertificateUntrusted");

    // The GP's own bound card, revoked (« faites désactiver votre moyen
    // d'authentification »): refused by the PKI's revocation list.
    let card = platform.card(DEMO_REFERENT_GP);
    let gp = signer(&card);
    let ok = platform.card_login(&gp, DEMO_REFERENT_GP).await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    platform.pki().revoke(&card.serial).expect("revoked");
    platform
        .card_login(&gp, DEMO_REFERENT_GP)
        .await
        .assert_refused("CertificateRevoked");

    // A card deactivated in the HPD only (its binding revoked).
    let pharmacist = platform.card(DEMO_PHARMACIST);
    platform
        .store()
        .revoke_card_certificate(
            &Fingerprint::of_der(&pharmacist.certificate_der),
            platform.now(),
        )
        .expect("binding revoked");
    platform
        .card_login(&signer(&pharmacist), DEMO_PHARMACIST)
        .await
        .assert_refused("CertificateRevoked");
}

#[tokio::test]
async fn unknown_unbound_pending_and_mismatched_professionals_are_each_refused() {
    let platform = Platform::start().await;
    let unknown = platform.extra_card("Nobody Known", "SBX-9999", Validity::days_from_now(30));
    platform
        .card_login(&signer_of(&unknown), "SBX-9999")
        .await
        .assert_refused("UnknownProfessional");

    // A second card of an active professional, never bound.
    let second = platform.extra_card(
        "Claire Muller",
        DEMO_PHARMACIST,
        Validity::days_from_now(30),
    );
    platform
        .card_login(&signer_of(&second), DEMO_PHARMACIST)
        .await
        .assert_refused("CertificateNotBound");

    // The professional pending activation, with their (unbound) card.
    let pending = platform.card(DEMO_PENDING_ACTIVATION);
    platform
        .card_login(&signer(&pending), DEMO_PENDING_ACTIVATION)
        .await
        .assert_refused("ProfessionalNotActive");

    // The black-listed professional's card, asking for the GP's identity.
    let other = platform.card(DEMO_BLACK_LISTED);
    platform
        .card_login(&signer(&other), DEMO_REFERENT_GP)
        .await
        .assert_refused("CardHolderMismatch");

    // A deactivated account.
    platform
        .store()
        .set_professional_status(
            &id(DEMO_BLACK_LISTED),
            dspconnect_sandbox::policy::ProfessionalStatus::Deactivated,
        )
        .expect("deactivated");
    platform
        .card_login(&signer(&other), DEMO_BLACK_LISTED)
        .await
        .assert_refused("ProfessionalNotActive");
}

#[tokio::test]
async fn a_password_login_gets_a_limited_assertion_and_a_wrong_one_says_no_more() {
    let platform = Platform::start().await;
    let assertion = platform
        .post(
            idp::PATH,
            idp::ACTION,
            password_request(
                GP_MATRICULE,
                DEMO_PROFESSIONAL_PASSWORD,
                DEMO_REFERENT_GP,
                platform.now(),
            ),
        )
        .await
        .assertion();
    assertion
        .verify(platform.pki().idp_signing().certificate_der())
        .expect("signed by the IdP");
    assert_eq!(assertion.subject.value, DEMO_REFERENT_GP);
    assert_eq!(
        assertion
            .attribute(attribute::ACCESS_LEVEL)
            .expect("level")
            .values,
        ["limited"]
    );
    assert_eq!(
        assertion.authn_context_class.as_deref(),
        Some(AUTHN_CONTEXT_PASSWORD)
    );

    let platform = &platform;
    let refusal = |matricule: &'static str, password: &'static str, ehealth_id: &'static str| {
        let body = password_request(matricule, password, ehealth_id, platform.now());
        async move { platform.post(idp::PATH, idp::ACTION, body).await }
    };
    let wrong = refusal(GP_MATRICULE, "not-the-password-1", DEMO_REFERENT_GP).await;
    wrong.assert_refused("WrongPassword");
    // An unknown matricule, a pending account without a password, a
    // password with someone else's eHealth id: the same answer.
    for other in [
        refusal(
            "1999010100013",
            DEMO_PROFESSIONAL_PASSWORD,
            DEMO_REFERENT_GP,
        )
        .await,
        refusal(
            "1981090309264",
            DEMO_PROFESSIONAL_PASSWORD,
            DEMO_PENDING_ACTIVATION,
        )
        .await,
        refusal(GP_MATRICULE, DEMO_PROFESSIONAL_PASSWORD, DEMO_PHARMACIST).await,
    ] {
        other.assert_refused("WrongPassword");
        assert_eq!(other.fault().reason(), wrong.fault().reason());
    }
    let log = log_text();
    assert!(
        !log.contains(DEMO_PROFESSIONAL_PASSWORD),
        "passwords are never logged"
    );
}
