//! The IdP at `/SAML2Server/AuthenticationService` (SOAP 1.2, SAML SOAP
//! binding): the card login, whose AuthnRequest is signed by the
//! professional's LuxTrust card with WS-Security, and the password login
//! (matricule + password in a `wsse:UsernameToken`), which gets a limited
//! assertion (charter: « avec des accès limités »).
//!
//! The card login checks, in this order, each refusal with its own subcode
//! (`docs/platform-protocol.md`, "Card login"): the signature and its
//! references, the Timestamp, the MessageID ([`card_request`]); the
//! certificate (LuxTrust test CA, validity, revocation); the AuthnRequest's
//! `psEHealthID` against the certificate's eHealth id; the professional (in
//! the HPD, active, this certificate bound to them and not deactivated).

mod assertion;
pub mod card_request;
mod password;

use axum::Router;
use axum::body::Bytes;
use axum::response::Response;
use axum::routing::post;
use ihe::saml::{AUTHN_CONTEXT_X509, AuthnRequest, PS_EHEALTH_ID_NS};
use ihe::xml::{Element, ns};
use time::OffsetDateTime;

use crate::policy::{EHealthId, ProfessionalStatus};
use crate::server::{Mount, MountError, SandboxContext};
use crate::services::envelope::{
    REQUEST_BODY_LIMIT, blocking, check_action, internal, malformed, reply,
};
use crate::soap_service::{AccessLevel, SandboxFault};
use crate::store::ProfessionalRecord;

pub use assertion::{AUTHN_CONTEXT_PASSWORD, IDP_ENTITY_ID};
pub use password::PASSWORD_TEXT_TYPE;

/// Where the IdP listens.
pub const PATH: &str = "/SAML2Server/AuthenticationService";
/// The `wsa:Action` of the login request and its answer.
pub const ACTION: &str = "http://www.oasis-open.org/committees/security";

/// The IdP's routes.
pub fn mount(ctx: &SandboxContext) -> Result<Mount, MountError> {
    let ctx = ctx.clone();
    let router = Router::new().route(
        PATH,
        post(move |body: Bytes| {
            let ctx = ctx.clone();
            async move { blocking("login", move || authenticate(&ctx, &body)).await }
        }),
    );
    Ok(Mount::new(router)
        .endpoint(
            "POST",
            PATH,
            "IdP: card login (AuthnRequest signed by the LuxTrust card) or password login \
             (UsernameToken) → signed SAML assertion",
        )
        .body_limit(REQUEST_BODY_LIMIT))
}

fn authenticate(ctx: &SandboxContext, body: &[u8]) -> Result<Response, SandboxFault> {
    let now = ctx.clock().now();
    if password::carries_username_token(body)? {
        password::login(ctx, body, now)
    } else {
        card_login(ctx, body, now)
    }
}

fn card_login(
    ctx: &SandboxContext,
    body: &[u8],
    now: OffsetDateTime,
) -> Result<Response, SandboxFault> {
    let request = card_request::verify_card_request(ctx, body, now)?;
    check_action(request.envelope.addressing(), ACTION)?;
    let payload = request
        .envelope
        .payload()
        .map_err(|e| malformed(e.to_string()))?;
    let authn = authn_request(payload)?;
    if authn.authn_context_class != AUTHN_CONTEXT_X509 {
        return Err(malformed(format!(
            "a card login asks for the authentication context {AUTHN_CONTEXT_X509}, not '{}'",
            authn.authn_context_class
        )));
    }
    let certificate = &request.certificate;
    if authn.ps_ehealth_id != certificate.ehealth_id {
        return Err(SandboxFault::sender(
            "CardHolderMismatch",
            format!(
                "the request is for psEHealthID '{}' but is signed with the card of '{}'",
                authn.ps_ehealth_id, certificate.ehealth_id
            ),
        ));
    }
    let professional = active_professional(ctx, &authn.ps_ehealth_id)?;
    let binding = ctx
        .store()
        .card_binding(&certificate.fingerprint)
        .map_err(|e| internal("reading the card bindings", e))?;
    match binding {
        Some(binding) if binding.ehealth_id == professional.ehealth_id => {
            if binding.revoked {
                return Err(SandboxFault::sender(
                    "CertificateRevoked",
                    format!(
                        "the card {} of {} was deactivated; activate a new card with the \
                         Agence's letter",
                        certificate.serial, professional.ehealth_id
                    ),
                ));
            }
        }
        _ => {
            return Err(SandboxFault::sender(
                "CertificateNotBound",
                format!(
                    "the card {} is not the card bound to {}: log in with the card you \
                     activated, or bind this one through the activation service",
                    certificate.serial, professional.ehealth_id
                ),
            ));
        }
    }
    let response = assertion::signed_response(
        ctx,
        &professional,
        AccessLevel::Card,
        AUTHN_CONTEXT_X509,
        &authn.id,
        now,
    )?;
    Ok(reply(ACTION, request.envelope.addressing(), response))
}

/// Reads the AuthnRequest and checks its `psEHealthID` extension namespace.
fn authn_request(payload: &Element) -> Result<AuthnRequest, SandboxFault> {
    if !payload.is(ns::SAMLP, "AuthnRequest") {
        return Err(malformed(format!(
            "the IdP expects a samlp:AuthnRequest, not {{{}}}{}",
            payload.ns.as_deref().unwrap_or(""),
            payload.local
        )));
    }
    let authn = AuthnRequest::from_element(payload).map_err(|e| malformed(e.to_string()))?;
    if authn.ps_ehealth_id_namespace != PS_EHEALTH_ID_NS {
        return Err(malformed(format!(
            "the psEHealthID extension is in the namespace '{}'; this platform reads it in '{}'",
            authn.ps_ehealth_id_namespace, PS_EHEALTH_ID_NS
        )));
    }
    Ok(authn)
}

/// The professional the login is for: in the HPD and active.
fn active_professional(
    ctx: &SandboxContext,
    ehealth_id: &str,
) -> Result<ProfessionalRecord, SandboxFault> {
    let unknown = || {
        SandboxFault::sender(
            "UnknownProfessional",
            format!("no professional with eHealth id '{ehealth_id}' in the HPD"),
        )
    };
    let id = EHealthId::new(ehealth_id).map_err(|_| unknown())?;
    let professional = ctx
        .store()
        .professional(&id)
        .map_err(|e| internal("reading the HPD", e))?
        .ok_or_else(unknown)?;
    match professional.status {
        ProfessionalStatus::Active => Ok(professional),
        ProfessionalStatus::PendingActivation => Err(SandboxFault::sender(
            "ProfessionalNotActive",
            format!(
                "the account of {ehealth_id} is pending activation: activate it with the \
                 Agence's letter first"
            ),
        )),
        ProfessionalStatus::Deactivated => Err(SandboxFault::sender(
            "ProfessionalNotActive",
            format!("the account of {ehealth_id} was deactivated by the Agence eSanté"),
        )),
    }
}
