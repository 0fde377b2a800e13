//! The password login: the same AuthnRequest, with a `wsse:UsernameToken`
//! (the professional's matricule and their password as `PasswordText`) in
//! place of the card signature. It gets an assertion whose access level is
//! `limited` (charter: « un identifiant / mot de passe … avec des accès
//! limités. L'identifiant est le matricule d'assuré social »).
//!
//! A wrong password and an unknown matricule get the same answer
//! (`f:WrongPassword`), after the same work (one argon2 verification), so
//! that the service does not tell which matricules have an account.

use std::sync::OnceLock;

use axum::response::Response;
use ihe::soap::{Addressing, Envelope, SOAP12_CONTENT_TYPE};
use ihe::wssec::Timestamp;
use ihe::xml::{self, Element, Node, ParseLimits, ns};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use zeroize::Zeroizing;

use super::card_request::{FRESHNESS, check_message_id, timestamp_fault};
use super::{ACTION, active_professional, assertion, authn_request};
use crate::server::SandboxContext;
use crate::services::envelope::{check_action, internal, malformed, reply};
use crate::soap_service::{AccessLevel, SandboxFault};
use crate::store::secret;

/// The `Type` of a `wsse:Password` sent in clear (over TLS).
pub const PASSWORD_TEXT_TYPE: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText";

/// Whether the request's Security header holds a UsernameToken (a password
/// login) rather than a signature.
pub(super) fn carries_username_token(body: &[u8]) -> Result<bool, SandboxFault> {
    let root = xml::parse(body, &ParseLimits::SOAP).map_err(|e| {
        malformed(format!(
            "the request is not a SOAP 1.2 envelope ({SOAP12_CONTENT_TYPE}): {e}"
        ))
    })?;
    Ok(root
        .children_named(ns::SOAP12, "Header")
        .flat_map(|header| header.children_named(ns::WSSE, "Security"))
        .any(|security| security.child(ns::WSSE, "UsernameToken").is_some()))
}

/// The password login.
pub(super) fn login(
    ctx: &SandboxContext,
    body: &[u8],
    now: OffsetDateTime,
) -> Result<Response, SandboxFault> {
    let envelope =
        Envelope::parse(body, &ParseLimits::SOAP).map_err(|e| malformed(e.to_string()))?;
    let addressing =
        Addressing::from_headers(&envelope.headers).map_err(|e| malformed(e.to_string()))?;
    let token = username_token(&envelope, now)?;
    check_message_id(ctx, addressing.as_ref(), now)?;
    check_action(addressing.as_ref(), ACTION)?;
    let payload = envelope.payload().map_err(|e| malformed(e.to_string()))?;
    let authn = authn_request(payload)?;

    let wrong = || {
        SandboxFault::sender(
            "WrongPassword",
            "the matricule or the password is wrong (the password is the one chosen at activation)",
        )
    };
    let store = ctx.store();
    let account = store
        .professional_by_matricule(&token.username)
        .map_err(|e| internal("reading the HPD", e))?;
    let professional = match account {
        Some(record) if record.has_password => store
            .check_professional_password(&token.username, &token.password)
            .map_err(|e| internal("checking a password", e))?
            .ok_or_else(wrong)?,
        _ => {
            // As much work as a real check, then the same answer.
            let _ = secret::verify_secret(dummy_hash()?, token.password.as_bytes());
            return Err(wrong());
        }
    };
    // A client that knows only the matricule (a professional at the login
    // screen types matricule and password) names it as psEHealthID too.
    let named_by_matricule = authn.ps_ehealth_id == token.username.as_str();
    if professional.ehealth_id.as_str() != authn.ps_ehealth_id && !named_by_matricule {
        return Err(wrong());
    }
    let professional = active_professional(ctx, professional.ehealth_id.as_str())?;
    tracing::info!(ehealth_id = %professional.ehealth_id, "password login");
    let response = assertion::signed_response(
        ctx,
        &professional,
        AccessLevel::Limited,
        super::AUTHN_CONTEXT_PASSWORD,
        &authn.id,
        now,
    )?;
    Ok(reply(ACTION, addressing.as_ref(), response))
}

/// The hash a password is checked against when there is no account, so
/// that a refusal costs the same either way.
fn dummy_hash() -> Result<&'static str, SandboxFault> {
    static HASH: OnceLock<String> = OnceLock::new();
    if let Some(hash) = HASH.get() {
        return Ok(hash);
    }
    let hash = secret::hash_secret(b"no account has this password")
        .map_err(|e| internal("preparing the password check", e))?;
    Ok(HASH.get_or_init(|| hash))
}

struct UsernameToken {
    username: String,
    password: Zeroizing<String>,
}

/// The one Security header: a UsernameToken with a PasswordText, and an
/// optional Timestamp (checked when present); nothing else.
fn username_token(envelope: &Envelope, now: OffsetDateTime) -> Result<UsernameToken, SandboxFault> {
    let securities: Vec<&Element> = envelope
        .headers
        .iter()
        .filter(|h| h.is(ns::WSSE, "Security"))
        .collect();
    let [security] = securities.as_slice() else {
        return Err(malformed(format!(
            "a password login has exactly one wsse:Security header, not {}",
            securities.len()
        )));
    };
    let mut token = None;
    let mut timestamp = None;
    for child in security.elements() {
        let slot = if child.is(ns::WSSE, "UsernameToken") {
            &mut token
        } else if child.is(ns::WSU, "Timestamp") {
            &mut timestamp
        } else {
            return Err(malformed(format!(
                "the Security header of a password login holds {{{}}}{}; it takes a \
                 wsse:UsernameToken and an optional wsu:Timestamp",
                child.ns.as_deref().unwrap_or(""),
                child.local
            )));
        };
        if slot.replace(child).is_some() {
            return Err(malformed(format!(
                "the Security header holds two {}",
                child.local
            )));
        }
    }
    if let Some(timestamp) = timestamp {
        read_timestamp(timestamp)?
            .check_freshness(now, &FRESHNESS)
            .map_err(|e| timestamp_fault(&e))?;
    }
    let token = token.ok_or_else(|| malformed("the Security header has no wsse:UsernameToken"))?;
    let username = token
        .child(ns::WSSE, "Username")
        .map(|u| u.text().trim().to_owned())
        .filter(|u| !u.is_empty())
        .ok_or_else(|| malformed("the UsernameToken has no wsse:Username (the matricule)"))?;
    let password = token
        .child(ns::WSSE, "Password")
        .ok_or_else(|| malformed("the UsernameToken has no wsse:Password"))?;
    match password.attr("Type") {
        None | Some(PASSWORD_TEXT_TYPE) => {}
        Some(other) => {
            return Err(malformed(format!(
                "the password Type '{other}' is not accepted; send it as {PASSWORD_TEXT_TYPE}"
            )));
        }
    }
    // The password is the element's text as typed (no trimming).
    let text: Zeroizing<String> = Zeroizing::new(
        password
            .children
            .iter()
            .filter_map(|n| match n {
                Node::Text(t) => Some(t.as_str()),
                Node::Element(_) => None,
            })
            .collect(),
    );
    Ok(UsernameToken {
        username,
        password: text,
    })
}

fn read_timestamp(el: &Element) -> Result<Timestamp, SandboxFault> {
    let instant = |local: &str| -> Result<OffsetDateTime, SandboxFault> {
        let text = el
            .child(ns::WSU, local)
            .map(|e| e.text())
            .ok_or_else(|| malformed(format!("the wsu:Timestamp has no wsu:{local}")))?;
        OffsetDateTime::parse(text.trim(), &Rfc3339).map_err(|_| {
            malformed(format!(
                "wsu:{local} '{}' is not an xs:dateTime with a time zone",
                text.trim()
            ))
        })
    };
    Ok(Timestamp {
        created: instant("Created")?,
        expires: instant("Expires")?,
    })
}
