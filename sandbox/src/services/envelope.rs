//! What the sandbox's own SOAP exchanges (IdP, activation, DSP services)
//! share: the `dsp` vocabulary, reading a request payload's fields strictly,
//! answering with WS-Addressing headers, and running a handler off the
//! async threads (argon2 hashes and RSA signatures take milliseconds).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ihe::soap::{Addressing, Envelope};
use ihe::xml::{Element, Node};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::soap_service::{SandboxFault, soap_response};

/// Namespace of the DSP-service and activation messages.
pub const DSP_NS: &str = "urn:dspconnect:sandbox:dsp:1";
/// Prefix the sandbox writes [`DSP_NS`] with.
pub const DSP_PREFIX: &str = "dsp";

/// Largest request any of these services accepts (they carry a few
/// identifiers, an assertion or a certificate, never a document).
pub const REQUEST_BODY_LIMIT: usize = 1024 * 1024;

/// A `dsp:` element.
pub fn dsp(local: &str) -> Element {
    Element::new(DSP_NS, DSP_PREFIX, local)
}

/// A `dsp:` element holding text.
pub fn dsp_text(local: &str, text: impl Into<String>) -> Element {
    dsp(local).with_text(text)
}

/// An instant as `xs:dateTime` in UTC, to the second.
pub fn xs_date_time(at: OffsetDateTime) -> Result<String, SandboxFault> {
    at.to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(at)
        .format(&Rfc3339)
        .map_err(|e| internal("formatting an instant", e))
}

/// A fault on the sandbox's side (database, files), logged with its cause.
pub fn internal(doing: &str, error: impl std::fmt::Display) -> SandboxFault {
    tracing::error!(%error, "the sandbox failed while {doing}");
    SandboxFault::receiver(
        "Internal",
        format!("the sandbox failed while {doing}: {error}; retry, or report it"),
    )
}

/// A request that is not what the operation expects.
pub fn malformed(reason: impl Into<String>) -> SandboxFault {
    SandboxFault::sender("Malformed", reason)
}

/// The `dsp:` children of a request payload, checked: nothing else, none
/// twice, text only.
pub struct Fields<'a> {
    payload: &'a Element,
}

impl<'a> Fields<'a> {
    /// Accepts `payload` if its children are `dsp:` elements named in
    /// `allowed`, each at most once.
    pub fn of(payload: &'a Element, allowed: &[&str]) -> Result<Self, SandboxFault> {
        let name = payload.local.as_str();
        let mut seen: Vec<&str> = Vec::new();
        for node in &payload.children {
            let child = match node {
                Node::Element(child) => child,
                Node::Text(text) if text.trim().is_empty() => continue,
                Node::Text(_) => {
                    return Err(malformed(format!(
                        "dsp:{name} holds text outside its elements"
                    )));
                }
            };
            let known =
                child.ns.as_deref() == Some(DSP_NS) && allowed.contains(&child.local.as_str());
            if !known {
                return Err(malformed(format!(
                    "dsp:{name} holds {{{}}}{}, which it does not take; it takes {}",
                    child.ns.as_deref().unwrap_or(""),
                    child.local,
                    allowed
                        .iter()
                        .map(|a| format!("dsp:{a}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            if seen.contains(&child.local.as_str()) {
                return Err(malformed(format!(
                    "dsp:{name} holds dsp:{} twice",
                    child.local
                )));
            }
            if child.elements().next().is_some() {
                return Err(malformed(format!(
                    "dsp:{} must hold text only",
                    child.local
                )));
            }
            seen.push(child.local.as_str());
        }
        Ok(Fields { payload })
    }

    /// The trimmed text of `dsp:<local>`, if present.
    pub fn optional(&self, local: &str) -> Option<String> {
        self.payload
            .child(DSP_NS, local)
            .map(|el| el.text().trim().to_owned())
    }

    /// The trimmed text of `dsp:<local>`, which must be present and not blank.
    pub fn required(&self, local: &str) -> Result<String, SandboxFault> {
        match self.optional(local) {
            Some(text) if !text.is_empty() => Ok(text),
            Some(_) => Err(malformed(format!(
                "dsp:{local} in dsp:{} is empty",
                self.payload.local
            ))),
            None => Err(malformed(format!(
                "dsp:{} lacks dsp:{local}",
                self.payload.local
            ))),
        }
    }

    /// A secret field (code, password): its text, zeroized on drop, not
    /// trimmed (a password may start or end with a space).
    pub fn secret(&self, local: &str) -> Result<Zeroizing<String>, SandboxFault> {
        let text = Zeroizing::new(
            self.payload
                .child(DSP_NS, local)
                .map(Element::text)
                .ok_or_else(|| {
                    malformed(format!("dsp:{} lacks dsp:{local}", self.payload.local))
                })?,
        );
        if text.trim().is_empty() {
            return Err(malformed(format!(
                "dsp:{local} in dsp:{} is empty",
                self.payload.local
            )));
        }
        Ok(text)
    }
}

/// Refuses a request whose `wsa:Action` (when it has one) is not `expected`.
pub fn check_action(addressing: Option<&Addressing>, expected: &str) -> Result<(), SandboxFault> {
    match addressing {
        Some(a) if a.action != expected => Err(malformed(format!(
            "wsa:Action is '{}', but the payload asks for '{expected}'",
            a.action
        ))),
        _ => Ok(()),
    }
}

/// A SOAP 1.2 answer (200) with `wsa:Action`, a new `wsa:MessageID` and
/// `wsa:RelatesTo` the request's MessageID when it had one.
pub fn reply(action: &str, request: Option<&Addressing>, payload: Element) -> Response {
    let relates_to = request.and_then(|a| a.message_id.clone());
    let headers = Addressing {
        action: action.to_owned(),
        message_id: Some(ihe::soap::message_id_urn(Uuid::new_v4())),
        to: None,
        reply_to: None,
        relates_to,
    }
    .to_headers();
    soap_response(
        StatusCode::OK,
        Envelope::new(payload).with_headers(headers).to_bytes(),
    )
}

/// Runs `work` on the blocking pool and answers its response or its fault
/// (logged: subcode only, the reason may name what the caller sent).
pub async fn blocking<F>(operation: &'static str, work: F) -> Response
where
    F: FnOnce() -> Result<Response, SandboxFault> + Send + 'static,
{
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(response)) => response,
        Ok(Err(fault)) => {
            tracing::info!(operation, subcode = fault.subcode, "refused");
            fault.into_response()
        }
        Err(error) => internal(operation, error).into_response(),
    }
}
