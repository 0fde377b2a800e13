//! The SAML Response of the authentication service: written by the sandbox
//! IdP, read by the client.

use time::OffsetDateTime;

use super::{
    Assertion, STATUS_SUCCESS, SamlError, check_version, expect, parse_instant, required_attr,
    required_child, saml, samlp,
};
use crate::xml::{Element, NsScope, ns};
use crate::xsd_datetime;

/// A Response's status: top-level code, optional second-level code and
/// message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub code: String,
    pub subcode: Option<String>,
    pub message: Option<String>,
}

impl Status {
    pub fn success() -> Self {
        Status {
            code: STATUS_SUCCESS.to_owned(),
            subcode: None,
            message: None,
        }
    }

    /// A failure with a top-level code (Requester/Responder), a second-level
    /// code and a message.
    pub fn failure(code: &str, subcode: &str, message: &str) -> Self {
        Status {
            code: code.to_owned(),
            subcode: Some(subcode.to_owned()),
            message: Some(message.to_owned()),
        }
    }

    pub fn is_success(&self) -> bool {
        self.code == STATUS_SUCCESS
    }

    fn to_element(&self) -> Element {
        let mut code = samlp("StatusCode").with_attr("Value", self.code.clone());
        if let Some(s) = &self.subcode {
            code.push(samlp("StatusCode").with_attr("Value", s.clone()));
        }
        let mut status = samlp("Status").with_child(code);
        if let Some(m) = &self.message {
            status.push(samlp("StatusMessage").with_text(m.clone()));
        }
        status
    }

    fn from_element(el: &Element) -> Result<Self, SamlError> {
        let code = required_child(el, ns::SAMLP, "Status", "StatusCode")?;
        Ok(Status {
            code: required_attr(code, "StatusCode", "Value")?.to_owned(),
            subcode: code
                .child(ns::SAMLP, "StatusCode")
                .and_then(|c| c.attr("Value"))
                .map(str::to_owned),
            message: el
                .child(ns::SAMLP, "StatusMessage")
                .map(|m| m.text().trim().to_owned()),
        })
    }
}

/// What the sandbox IdP answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseSpec {
    pub id: String,
    pub in_response_to: Option<String>,
    pub issue_instant: OffsetDateTime,
    pub issuer: String,
    pub destination: Option<String>,
    pub status: Status,
    /// The signed assertion ([`super::AssertionSpec::sign`]).
    pub assertion: Option<Element>,
}

impl ResponseSpec {
    /// The `samlp:Response` element, in schema order (Issuer, Status,
    /// Assertion).
    pub fn to_element(&self) -> Element {
        let mut el = samlp("Response")
            .with_attr("ID", self.id.clone())
            .with_attr("Version", "2.0")
            .with_attr("IssueInstant", xsd_datetime::format(self.issue_instant));
        if let Some(r) = &self.in_response_to {
            el.set_attr("InResponseTo", r.clone());
        }
        if let Some(d) = &self.destination {
            el.set_attr("Destination", d.clone());
        }
        el.push(saml("Issuer").with_text(self.issuer.clone()));
        el.push(self.status.to_element());
        if let Some(a) = &self.assertion {
            el.push(a.clone());
        }
        el
    }
}

/// A Response as the client reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub id: String,
    pub in_response_to: Option<String>,
    pub issue_instant: OffsetDateTime,
    pub issuer: Option<String>,
    pub destination: Option<String>,
    pub status: Status,
    /// Read, NOT verified: see [`Assertion::verify`].
    pub assertion: Option<Assertion>,
}

impl Response {
    /// Reads a `samlp:Response` whose parent's namespace scope is
    /// `parent_scope` (use [`NsScope::new`] for a payload taken from
    /// [`crate::soap::Envelope`], which keeps inherited namespaces).
    pub fn from_element(el: &Element, parent_scope: &NsScope) -> Result<Self, SamlError> {
        expect(el, ns::SAMLP, "Response", "samlp:Response")?;
        check_version(el, "Response")?;
        let scope = parent_scope.inside(el);
        if el.child(ns::SAML, "EncryptedAssertion").is_some() {
            return Err(SamlError::EncryptedAssertion);
        }
        let assertions: Vec<&Element> = el.children_named(ns::SAML, "Assertion").collect();
        let assertion = match assertions.as_slice() {
            [] => None,
            [one] => Some(Assertion::from_element(one, &scope)?),
            many => return Err(SamlError::MultipleAssertions { count: many.len() }),
        };
        Ok(Response {
            id: required_attr(el, "Response", "ID")?.to_owned(),
            in_response_to: el.attr("InResponseTo").map(str::to_owned),
            issue_instant: parse_instant(
                "IssueInstant",
                required_attr(el, "Response", "IssueInstant")?,
            )?,
            issuer: el
                .child(ns::SAML, "Issuer")
                .map(|i| i.text().trim().to_owned()),
            destination: el.attr("Destination").map(str::to_owned),
            status: Status::from_element(required_child(el, ns::SAMLP, "Response", "Status")?)?,
            assertion,
        })
    }

    /// The assertion of a successful Response; a failure status is returned
    /// as [`SamlError::Status`].
    pub fn into_assertion(self) -> Result<Assertion, SamlError> {
        if !self.status.is_success() {
            return Err(SamlError::Status {
                code: self.status.code,
                subcode: self.status.subcode,
                message: self.status.message,
            });
        }
        self.assertion.ok_or(SamlError::NoAssertion)
    }
}
