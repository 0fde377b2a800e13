//! What every SOAP service of the sandbox shares: refusing with a fault in
//! the sandbox's fault vocabulary (`docs/platform-protocol.md`, "Faults"),
//! and finding out who calls, from the IdP's assertion in the call's
//! WS-Security header.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ihe::soap::{Fault, FaultCode, QName};
use ihe::wssec::{VerifiedBearerEnvelope, WsSecurityError, verify_bearer_envelope};
use ihe::xml::{Element, ParseLimits};
use time::{Duration, OffsetDateTime};

/// Namespace of the sandbox's fault subcodes.
pub const FAULT_NS: &str = "urn:dspconnect:sandbox:fault";
/// Prefix the sandbox writes [`FAULT_NS`] with.
pub const FAULT_PREFIX: &str = "f";

/// Names of the attributes the IdP puts in its assertions.
pub mod attribute {
    /// The professional's name.
    pub const SUBJECT_ID: &str = "urn:oasis:names:tc:xspa:1.0:subject:subject-id";
    /// The profession.
    pub const ROLE: &str = "urn:oasis:names:tc:xacml:2.0:subject:role";
    /// `card` or `limited` (password session).
    pub const ACCESS_LEVEL: &str = "urn:dspconnect:sandbox:access-level";
}

/// Clock skew tolerated on assertion validity.
pub const MAX_CLOCK_SKEW: Duration = Duration::minutes(2);

/// How the caller authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessLevel {
    /// With the LuxTrust card: full access as the policy allows.
    Card,
    /// With matricule and password: account and directory only.
    Limited,
}

impl AccessLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            AccessLevel::Card => "card",
            AccessLevel::Limited => "limited",
        }
    }
}

/// The professional behind a call, from a verified, valid assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub ehealth_id: String,
    pub name: String,
    pub profession: Option<String>,
    pub access: AccessLevel,
    pub assertion_id: String,
    pub expires: Option<OffsetDateTime>,
}

/// A refusal, as a SOAP 1.2 fault with one of the sandbox's subcodes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{subcode}: {reason}")]
pub struct SandboxFault {
    /// `Sender` when the request is at fault, `Receiver` otherwise.
    pub sender: bool,
    /// The local name of the subcode in [`FAULT_NS`] (`InvalidSignature`, …).
    pub subcode: &'static str,
    pub reason: String,
    /// Extra detail entries (e.g. the policy rule and its citation).
    pub detail: Vec<Element>,
}

impl SandboxFault {
    /// A fault the caller caused.
    pub fn sender(subcode: &'static str, reason: impl Into<String>) -> Self {
        SandboxFault {
            sender: true,
            subcode,
            reason: reason.into(),
            detail: Vec::new(),
        }
    }

    /// A fault on the sandbox's side.
    pub fn receiver(subcode: &'static str, reason: impl Into<String>) -> Self {
        SandboxFault {
            sender: false,
            subcode,
            reason: reason.into(),
            detail: Vec::new(),
        }
    }

    /// Adds a `f:<local>` detail entry with text.
    pub fn with_detail(mut self, local: &str, text: impl Into<String>) -> Self {
        self.detail
            .push(Element::new(FAULT_NS, FAULT_PREFIX, local).with_text(text));
        self
    }

    /// The SOAP fault.
    pub fn to_fault(&self) -> Fault {
        let code = if self.sender {
            FaultCode::Sender
        } else {
            FaultCode::Receiver
        };
        let mut fault = Fault::new(code, self.reason.clone()).with_subcode(QName::new(
            FAULT_NS,
            FAULT_PREFIX,
            self.subcode,
        ));
        for entry in &self.detail {
            fault = fault.with_detail(entry.clone());
        }
        fault
    }

    /// The subcode of a WS-Security refusal (signature, timestamp, assertion).
    pub fn from_security(error: &WsSecurityError) -> Self {
        use WsSecurityError as E;
        let subcode = match error {
            E::MissingAssertion | E::MissingHeader | E::MissingSecurityHeader => "AssertionMissing",
            E::MultipleAssertions { .. } => "AssertionInvalid",
            E::Assertion(_) => "AssertionInvalid",
            E::Soap(_) => "Malformed",
            E::MissingTimestamp => "TimestampMissing",
            _ => "InvalidSignature",
        };
        SandboxFault::sender(subcode, error.to_string())
    }
}

impl IntoResponse for SandboxFault {
    /// SOAP 1.2 over HTTP: 400 for sender faults, 500 for receiver faults.
    fn into_response(self) -> Response {
        let status = if self.sender {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::INTERNAL_SERVER_ERROR
        };
        soap_response(status, self.to_fault().to_envelope().to_bytes())
    }
}

/// A SOAP 1.2 HTTP response.
pub fn soap_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/soap+xml; charset=UTF-8"),
    );
    response
}

/// Checks the call's assertion (signed by this sandbox's IdP, within its
/// validity) and says who calls.
pub fn authenticate_bearer(
    body: &[u8],
    limits: &ParseLimits,
    idp_certificate_der: &[u8],
    now: OffsetDateTime,
) -> Result<(Caller, VerifiedBearerEnvelope), SandboxFault> {
    let verified = verify_bearer_envelope(body, limits, idp_certificate_der)
        .map_err(|e| SandboxFault::from_security(&e))?;
    let caller = caller_of(&verified, now)?;
    Ok((caller, verified))
}

fn caller_of(
    verified: &VerifiedBearerEnvelope,
    now: OffsetDateTime,
) -> Result<Caller, SandboxFault> {
    let assertion = verified.assertion();
    assertion
        .check_validity(now, MAX_CLOCK_SKEW)
        .map_err(|e| SandboxFault::sender("AssertionExpired", e.to_string()))?;
    let single = |name: &str| {
        assertion
            .attribute(name)
            .and_then(|a| a.values.first())
            .map(|v| v.trim().to_owned())
    };
    let access = match single(attribute::ACCESS_LEVEL).as_deref() {
        Some("card") => AccessLevel::Card,
        Some("limited") => AccessLevel::Limited,
        other => {
            return Err(SandboxFault::sender(
                "AssertionInvalid",
                format!(
                    "the assertion's {} attribute is {:?}; expected card or limited",
                    attribute::ACCESS_LEVEL,
                    other
                ),
            ));
        }
    };
    let ehealth_id = assertion.subject.value.trim().to_owned();
    if ehealth_id.is_empty() {
        return Err(SandboxFault::sender(
            "AssertionInvalid",
            "the assertion names no subject",
        ));
    }
    Ok(Caller {
        ehealth_id,
        name: single(attribute::SUBJECT_ID).unwrap_or_default(),
        profession: single(attribute::ROLE),
        access,
        assertion_id: assertion.id.clone(),
        expires: assertion.not_on_or_after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::Pki;
    use ihe::saml::{AssertionSpec, NameId, SamlAttribute};
    use ihe::soap::Envelope;
    use ihe::wssec::{Timestamp, bearer_security_header};

    fn assertion(pki: &Pki, subject: &str, access: &str, now: OffsetDateTime) -> Element {
        AssertionSpec {
            id: "_a1".into(),
            issue_instant: now,
            issuer: "sandbox-idp".into(),
            subject: NameId {
                value: subject.into(),
                format: None,
            },
            not_before: now,
            not_on_or_after: now + Duration::hours(1),
            audience: None,
            authn_instant: now,
            authn_context_class: "urn:oasis:names:tc:SAML:2.0:ac:classes:X509".into(),
            session_index: None,
            attributes: vec![
                SamlAttribute::single(attribute::SUBJECT_ID, "Dr Anne Muller"),
                SamlAttribute::single(attribute::ROLE, "Médecin généraliste"),
                SamlAttribute::single(attribute::ACCESS_LEVEL, access),
            ],
        }
        .sign(pki.idp_signing())
        .unwrap()
    }

    fn call(assertion: Option<Element>, now: OffsetDateTime) -> Vec<u8> {
        let mut envelope = Envelope::new(Element::new("urn:x", "x", "Ping"));
        if let Some(a) = assertion {
            let ts = Timestamp::new(now, Duration::minutes(5));
            envelope = envelope.with_header(bearer_security_header(&ts, "ts", a));
        }
        envelope.to_bytes()
    }

    #[test]
    fn a_valid_assertion_names_the_caller_and_anything_else_is_a_specific_fault() {
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki::load_or_create(dir.path()).unwrap();
        let idp = pki.idp_signing().certificate_der().to_vec();
        let now = OffsetDateTime::now_utc();
        let limits = ParseLimits::SOAP;

        let body = call(Some(assertion(&pki, "GP000001", "card", now)), now);
        let (caller, _) = authenticate_bearer(&body, &limits, &idp, now).unwrap();
        assert_eq!(caller.ehealth_id, "GP000001");
        assert_eq!(caller.name, "Dr Anne Muller");
        assert_eq!(caller.access, AccessLevel::Card);

        let body = call(Some(assertion(&pki, "GP000001", "limited", now)), now);
        let (caller, _) = authenticate_bearer(&body, &limits, &idp, now).unwrap();
        assert_eq!(caller.access, AccessLevel::Limited);

        let fault = authenticate_bearer(&call(None, now), &limits, &idp, now).unwrap_err();
        assert_eq!(fault.subcode, "AssertionMissing");

        let later = now + Duration::hours(2);
        let body = call(Some(assertion(&pki, "GP000001", "card", now)), now);
        let fault = authenticate_bearer(&body, &limits, &idp, later).unwrap_err();
        assert_eq!(fault.subcode, "AssertionExpired");

        let tampered = String::from_utf8(body)
            .unwrap()
            .replace("GP000001", "GP000666");
        let fault = authenticate_bearer(tampered.as_bytes(), &limits, &idp, now).unwrap_err();
        assert_eq!(fault.subcode, "AssertionInvalid", "{fault}");

        let body = call(Some(assertion(&pki, "GP000001", "admin", now)), now);
        let fault = authenticate_bearer(&body, &limits, &idp, now).unwrap_err();
        assert_eq!(fault.subcode, "AssertionInvalid");
    }

    #[test]
    fn faults_carry_the_sandbox_subcode() {
        let fault = SandboxFault::sender("AccessDenied", "Privé: patient and author only")
            .with_detail("Rule", "read.prive");
        let xml = String::from_utf8(fault.to_fault().to_envelope().to_bytes()).unwrap();
        assert!(xml.contains(FAULT_NS));
        assert!(xml.contains(":AccessDenied"));
        assert!(xml.contains("read.prive"));
    }
}
