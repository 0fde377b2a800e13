//! Assertions as the sandbox's IdP issues them, signed in the test with
//! the IdP's key: the XDS and DSP-service tests call the platform as a
//! logged-in professional without going through the IdP.

use dspconnect_sandbox::pki::Pki;
use dspconnect_sandbox::soap_service::attribute;
use ihe::saml::{self, AssertionSpec, NameId, SamlAttribute};
use ihe::xml::Element;
use time::{Duration, OffsetDateTime};

/// How the professional logged in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Login {
    /// LuxTrust card: `access-level` = `card`.
    Card,
    /// Matricule and password: `access-level` = `limited`.
    Password,
}

/// A signed assertion for `ehealth_id`, issued at `now`, valid one hour.
pub fn assertion(pki: &Pki, ehealth_id: &str, login: Login, now: OffsetDateTime) -> Element {
    let access = match login {
        Login::Card => "card",
        Login::Password => "limited",
    };
    AssertionSpec {
        id: format!("_{}", uuid::Uuid::new_v4()),
        issue_instant: now,
        issuer: "https://sandbox.dspconnect.invalid/SAML2Server".into(),
        subject: NameId {
            value: ehealth_id.into(),
            format: Some(saml::NAMEID_UNSPECIFIED.into()),
        },
        not_before: now - Duration::seconds(5),
        not_on_or_after: now + Duration::hours(1),
        audience: None,
        authn_instant: now,
        authn_context_class: saml::AUTHN_CONTEXT_X509.into(),
        session_index: None,
        attributes: vec![
            SamlAttribute::single(attribute::SUBJECT_ID, &format!("Professional {ehealth_id}")),
            SamlAttribute::single(attribute::ROLE, "médecin"),
            SamlAttribute::single(attribute::ACCESS_LEVEL, access),
        ],
    }
    .sign(pki.idp_signing())
    .expect("the IdP key signs")
}
