//! What the IdP answers: a `samlp:Response` holding an assertion it signs,
//! naming the professional, their profession and how they authenticated.

use ihe::saml::{
    ATTRNAME_FORMAT_URI, AssertionSpec, NAMEID_UNSPECIFIED, NameId, ResponseSpec, SamlAttribute,
    Status,
};
use ihe::xml::Element;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::server::SandboxContext;
use crate::services::envelope::internal;
use crate::soap_service::{AccessLevel, SandboxFault, attribute};
use crate::store::ProfessionalRecord;

/// The IdP's SAML entity id (`saml:Issuer` of its responses and assertions).
pub const IDP_ENTITY_ID: &str = "urn:dspconnect:sandbox:idp";
/// The authentication context of a password login.
pub const AUTHN_CONTEXT_PASSWORD: &str =
    "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport";

/// A SAML id: an NCName, unique.
fn new_id() -> String {
    format!("_{}", Uuid::new_v4().simple())
}

/// The signed assertion for `professional`, in a successful `samlp:Response`
/// to the AuthnRequest `in_response_to`.
pub fn signed_response(
    ctx: &SandboxContext,
    professional: &ProfessionalRecord,
    access: AccessLevel,
    authn_context_class: &str,
    in_response_to: &str,
    now: OffsetDateTime,
) -> Result<Element, SandboxFault> {
    let lifetime = time::Duration::try_from(ctx.config().assertion_lifetime)
        .map_err(|e| internal("reading the assertion lifetime", e))?;
    let uri_attribute = |name: &str, value: &str| SamlAttribute {
        name_format: Some(ATTRNAME_FORMAT_URI.to_owned()),
        ..SamlAttribute::single(name, value)
    };
    let spec = AssertionSpec {
        id: new_id(),
        issue_instant: now,
        issuer: IDP_ENTITY_ID.to_owned(),
        subject: NameId {
            value: professional.ehealth_id.to_string(),
            format: Some(NAMEID_UNSPECIFIED.to_owned()),
        },
        not_before: now,
        not_on_or_after: now + lifetime,
        audience: None,
        authn_instant: now,
        authn_context_class: authn_context_class.to_owned(),
        session_index: None,
        attributes: vec![
            uri_attribute(attribute::SUBJECT_ID, &professional.full_name()),
            uri_attribute(attribute::ROLE, &professional.profession),
            uri_attribute(attribute::ACCESS_LEVEL, access.as_str()),
        ],
    };
    let assertion = spec
        .sign(ctx.pki().idp_signing())
        .map_err(|e| internal("signing the assertion", e))?;
    tracing::info!(
        ehealth_id = %professional.ehealth_id,
        access = access.as_str(),
        assertion_id = %spec.id,
        not_on_or_after = %spec.not_on_or_after,
        "issued an assertion"
    );
    Ok(ResponseSpec {
        id: new_id(),
        in_response_to: Some(in_response_to.to_owned()),
        issue_instant: now,
        issuer: IDP_ENTITY_ID.to_owned(),
        destination: None,
        status: Status::success(),
        assertion: Some(assertion),
    }
    .to_element())
}
