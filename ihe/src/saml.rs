//! SAML 2.0 for the eSanté platform's authentication service (SOAP
//! binding) and IHE XUA.
//!
//! - [`AuthnRequest`]: what the client sends (inside a WS-Security-signed
//!   envelope, see [`crate::wssec`]), with the X509 authentication context
//!   and the professional's `psEHealthID` as an extension.
//! - [`ResponseSpec`] / [`AssertionSpec`]: what the sandbox IdP answers; the
//!   assertion is signed (enveloped signature, exc-c14n with the `xs`
//!   prefix listed, so that `xsi:type="xs:string"` values stay covered).
//! - [`Response`] / [`Assertion`]: what the client reads. The assertion is
//!   kept as a *namespace-complete copy* ([`Assertion::element`]): every
//!   namespace in scope on its ancestors in the Response is declared on it,
//!   so put into a WS-Security header it still verifies.
//! - [`verify_assertion`]: checks an assertion's enveloped signature with
//!   the IdP's certificate (the sandbox on every XDS call; the client may).

mod assertion;
mod authn_request;
mod response;

pub use assertion::{
    Assertion, AssertionSpec, NameId, SamlAttribute, namespace_complete_copy, verify_assertion,
};
pub use authn_request::AuthnRequest;
pub use response::{Response, ResponseSpec, Status};

use time::OffsetDateTime;

use crate::dsig::DsigError;
use crate::xml::{Element, ns};
use crate::xsd_datetime;

/// Namespace of the `psEHealthID` AuthnRequest extension.
///
/// The real platform's extension namespace is not public; the sandbox
/// defines this one. [`AuthnRequest::ps_ehealth_id_namespace`] carries it,
/// so a platform profile can replace it without code changes.
pub const PS_EHEALTH_ID_NS: &str = "urn:dspconnect:sandbox:esante:saml:extensions:1.0";
/// The prefix we write [`PS_EHEALTH_ID_NS`] with.
pub const PS_EHEALTH_ID_PREFIX: &str = "esante";
/// Authentication by X.509 certificate (SAML authn context classes §3.4.23).
pub const AUTHN_CONTEXT_X509: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:X509";
/// The SAML SOAP binding.
pub const BINDING_SOAP: &str = "urn:oasis:names:tc:SAML:2.0:bindings:SOAP";
/// Bearer subject confirmation.
pub const CONFIRMATION_BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
/// Unspecified NameID format.
pub const NAMEID_UNSPECIFIED: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified";
/// Attribute names that are URIs.
pub const ATTRNAME_FORMAT_URI: &str = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri";

/// Top-level status: the request succeeded.
pub const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
/// Top-level status: the requester's fault.
pub const STATUS_REQUESTER: &str = "urn:oasis:names:tc:SAML:2.0:status:Requester";
/// Top-level status: the IdP's fault.
pub const STATUS_RESPONDER: &str = "urn:oasis:names:tc:SAML:2.0:status:Responder";
/// Second-level status: the principal could not be authenticated.
pub const STATUS_AUTHN_FAILED: &str = "urn:oasis:names:tc:SAML:2.0:status:AuthnFailed";
/// Second-level status: the request is refused.
pub const STATUS_REQUEST_DENIED: &str = "urn:oasis:names:tc:SAML:2.0:status:RequestDenied";

/// The prefix we write the SAML assertion namespace with.
pub const SAML_PREFIX: &str = "saml";
/// The prefix we write the SAML protocol namespace with.
pub const SAMLP_PREFIX: &str = "samlp";

/// Why a SAML message is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SamlError {
    #[error("expected {expected}, found {found}")]
    UnexpectedElement {
        expected: &'static str,
        found: String,
    },
    #[error("{parent} has no {element}")]
    MissingElement {
        parent: &'static str,
        element: &'static str,
    },
    #[error("{element} has no {attribute} attribute")]
    MissingAttribute {
        element: &'static str,
        attribute: &'static str,
    },
    #[error("SAML version '{found}' is not supported; only 2.0 is")]
    UnsupportedVersion { found: String },
    #[error("{field} '{value}' is not an xs:dateTime with a time zone")]
    InvalidDateTime { field: &'static str, value: String },
    #[error("the IdP refused the request: status {code}{}{}",
        subcode.as_deref().map(|s| format!(" / {s}")).unwrap_or_default(),
        message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Status {
        code: String,
        subcode: Option<String>,
        message: Option<String>,
    },
    #[error("the Response holds {count} assertions; exactly one is accepted")]
    MultipleAssertions { count: usize },
    #[error("the Response holds an EncryptedAssertion, which is not supported")]
    EncryptedAssertion,
    #[error("the Response reports success but holds no assertion")]
    NoAssertion,
    #[error("the assertion is not valid before {not_before} (now {now})")]
    NotYetValid {
        not_before: OffsetDateTime,
        now: OffsetDateTime,
    },
    #[error("the assertion expired at {not_on_or_after} (now {now}); authenticate again")]
    Expired {
        not_on_or_after: OffsetDateTime,
        now: OffsetDateTime,
    },
    #[error("the assertion is not signed")]
    NotSigned,
    #[error("the assertion holds {count} signatures; exactly one is accepted")]
    MultipleSignatures { count: usize },
    #[error(
        "the assertion's signature has {count} references; exactly one (to the assertion) is accepted"
    )]
    SignatureReferenceCount { count: usize },
    #[error("the assertion's signature reference lacks the enveloped-signature transform")]
    SignatureNotEnveloped,
    #[error("the assertion's signature covers '#{found}', not the assertion '{expected}'")]
    SignatureReferenceMismatch { expected: String, found: String },
    #[error("the assertion's signature is refused: {0}")]
    Signature(#[from] DsigError),
}

pub(crate) fn saml(local: &str) -> Element {
    Element::new(ns::SAML, SAML_PREFIX, local)
}

pub(crate) fn samlp(local: &str) -> Element {
    Element::new(ns::SAMLP, SAMLP_PREFIX, local)
}

pub(crate) fn required_attr<'a>(
    el: &'a Element,
    element: &'static str,
    attribute: &'static str,
) -> Result<&'a str, SamlError> {
    el.attr(attribute)
        .ok_or(SamlError::MissingAttribute { element, attribute })
}

pub(crate) fn required_child<'a>(
    el: &'a Element,
    ns: &str,
    parent: &'static str,
    element: &'static str,
) -> Result<&'a Element, SamlError> {
    el.child(ns, element)
        .ok_or(SamlError::MissingElement { parent, element })
}

pub(crate) fn parse_instant(field: &'static str, value: &str) -> Result<OffsetDateTime, SamlError> {
    xsd_datetime::parse(value).ok_or_else(|| SamlError::InvalidDateTime {
        field,
        value: value.to_owned(),
    })
}

pub(crate) fn optional_instant(
    el: &Element,
    field: &'static str,
    attribute: &str,
) -> Result<Option<OffsetDateTime>, SamlError> {
    el.attr(attribute)
        .map(|v| parse_instant(field, v))
        .transpose()
}

pub(crate) fn check_version(el: &Element, element: &'static str) -> Result<(), SamlError> {
    match required_attr(el, element, "Version")? {
        "2.0" => Ok(()),
        other => Err(SamlError::UnsupportedVersion {
            found: other.to_owned(),
        }),
    }
}

pub(crate) fn expect(
    el: &Element,
    ns: &str,
    local: &'static str,
    expected: &'static str,
) -> Result<(), SamlError> {
    if el.is(ns, local) {
        Ok(())
    } else {
        Err(SamlError::UnexpectedElement {
            expected,
            found: crate::soap::expanded_name(el),
        })
    }
}
