//! WS-Security 1.0 headers (X.509 token profile 1.0, SAML token profile
//! 1.1) for SOAP 1.2.
//!
//! Two kinds of message carry one:
//! - the **authentication request**, signed by the professional's card:
//!   `wsu:Timestamp`, `wsse:BinarySecurityToken` (the X.509 certificate),
//!   and a `ds:Signature` over the Body and the Timestamp
//!   ([`PendingEnvelope`], [`sign_envelope`]; checked by
//!   [`verify_signed_envelope`]);
//! - every **XDS call** after it (IHE XUA, bearer): `wsu:Timestamp` and the
//!   IdP's signed SAML assertion, which we do not sign again
//!   ([`bearer_security_header`]; checked by [`verify_bearer_envelope`]).
//!
//! Verification is strict on purpose. Besides the XML-DSig subset of
//! [`crate::dsig`], a signed envelope must have exactly one Security header
//! (a direct child of `soap:Header`) holding exactly one `ds:Signature` and
//! one `wsu:Timestamp` as direct children; the signature's references must
//! be exactly the envelope's own Body (the direct child of the Envelope)
//! and that Timestamp; every ID in the whole document must be unique; the
//! key is the certificate of the BinarySecurityToken (a direct child of the
//! same Security header) that KeyInfo points to. Anything else — a signed
//! Body or Timestamp moved elsewhere or duplicated, a wrapper element, a
//! reference to some other element — is refused with its own error. This
//! is what defeats signature wrapping: a digest check alone (which is all
//! `xmlsec1 --verify` does) accepts a signed Body moved into a header next
//! to a forged one.
//!
//! The WS-Addressing headers are **not** covered by the signature; they are
//! returned for routing only. Certificate trust (chain, validity dates,
//! revocation) is the caller's decision: this module returns the
//! certificate that verified the signature.

mod sign;
mod timestamp;
mod verify;

pub use sign::{
    PendingEnvelope, SecurityIds, SecurityParams, SignedEnvelope, bearer_security_header,
    sign_envelope,
};
pub use timestamp::{FreshnessError, FreshnessPolicy, Timestamp};
pub use verify::{
    SecurityFaultCode, VerifiedBearerEnvelope, VerifiedEnvelope, WsSecurityError,
    verify_bearer_envelope, verify_signed_envelope,
};

/// `ValueType` of a BinarySecurityToken holding one X.509 v3 certificate.
pub const VALUE_TYPE_X509V3: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3";
/// `EncodingType` base64 for a BinarySecurityToken.
pub const ENCODING_BASE64_BINARY: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary";
/// The prefix we write the WS-Security extension namespace with.
pub const WSSE_PREFIX: &str = "wsse";
/// The prefix we write the WS-Security utility namespace with.
pub const WSU_PREFIX: &str = "wsu";
