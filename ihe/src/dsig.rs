//! XML-DSig over exclusive C14N and SHA-256: making signatures through a
//! [`Signer`] that only ever sees a digest (so the key can stay on a
//! smartcard), and checking them within a strict, documented subset.
//!
//! What we make and what we accept (both sides, nothing else):
//! - `SignedInfo` canonicalized with exclusive C14N 1.0 without comments
//!   (an `InclusiveNamespaces` PrefixList is accepted on read, never written);
//! - `SignatureMethod` `rsa-sha256` (PKCS#1 v1.5, 2048–8192-bit keys) or
//!   `ecdsa-sha256` on P-256 (the value is raw `r‖s`, 64 bytes, as
//!   XML-DSig 1.1 §6.4.3 requires);
//! - each `Reference` a same-document `#id` whose `Transforms` are exactly
//!   `[exc-c14n]`, or `[enveloped-signature, exc-c14n]` for an enveloped
//!   signature, with an optional PrefixList on the exc-c14n transform;
//!   `DigestMethod` SHA-256;
//! - no `Object`, `Manifest`, XPath or XSLT transforms, inclusive C14N,
//!   comments, external or empty-URI references, HMAC.
//!
//! An `#id` resolves against the attributes `wsu:Id`, `Id`, `ID` and
//! `xml:id` of every element of the document; a value carried by two
//! elements (or twice by one) is refused outright, so a reference can never
//! mean two things. Lower-case `id` is not an ID here (ebRIM uses it for
//! its own object identifiers, which are data, never signature targets).
//!
//! Which element each reference must resolve to — and where it must sit in
//! the document — is the caller's business: [`crate::wssec`] requires the
//! envelope's Body and Timestamp in their places, [`crate::saml`] the
//! Assertion carrying the signature.

mod key;
mod sign;
mod signer;
mod software;
mod verify;

use std::fmt;

pub use key::{CertificateError, CertificateKey};
pub use sign::{PendingEnvelopedSignature, PendingSignature, Reference, SignError, key_info_x509};
pub use signer::{
    SHA256_DIGEST_INFO_PREFIX, Signer, SignerError, ecdsa_p256_der_to_raw, rsa_sha256_digest_info,
};
pub use software::{EcdsaP256SoftwareSigner, RsaSoftwareSigner};
pub use verify::{
    DsigError, DuplicateIdError, IdIndex, ParsedReference, ParsedSignature, digest_element,
    element_at, id_attribute_values, parent_scope_of, parse_signature,
};

use crate::xml::ns;

/// Exclusive XML canonicalization 1.0 without comments.
pub const ALG_EXC_C14N: &str = ns::EXC_C14N;
/// RSA PKCS#1 v1.5 with SHA-256 (RFC 6931 §2.3.2).
pub const ALG_RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
/// ECDSA with SHA-256 (RFC 6931 §2.3.6).
pub const ALG_ECDSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";
/// SHA-256 digest (XML Encryption §5.7.2).
pub const ALG_SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
/// The enveloped-signature transform (XML-DSig §6.6.4).
pub const ALG_ENVELOPED_SIGNATURE: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

/// The prefix we write the XML-DSig namespace with.
pub const DS_PREFIX: &str = "ds";
/// The prefix we write `InclusiveNamespaces` with.
pub const EC_PREFIX: &str = "ec";

/// A SHA-256 digest.
pub type Sha256Digest = [u8; 32];

/// The signature algorithms we make and accept. Both digest with SHA-256.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignatureAlgorithm {
    /// RSA PKCS#1 v1.5 over SHA-256: what LuxTrust cards make.
    RsaSha256,
    /// ECDSA on P-256 over SHA-256, signature as raw `r‖s`.
    EcdsaP256Sha256,
}

impl SignatureAlgorithm {
    /// The XML-DSig `SignatureMethod` URI.
    pub fn uri(self) -> &'static str {
        match self {
            SignatureAlgorithm::RsaSha256 => ALG_RSA_SHA256,
            SignatureAlgorithm::EcdsaP256Sha256 => ALG_ECDSA_SHA256,
        }
    }

    /// The algorithm named by a `SignatureMethod` URI, if we support it.
    pub fn from_uri(uri: &str) -> Option<Self> {
        match uri {
            ALG_RSA_SHA256 => Some(SignatureAlgorithm::RsaSha256),
            ALG_ECDSA_SHA256 => Some(SignatureAlgorithm::EcdsaP256Sha256),
            _ => None,
        }
    }

    /// The algorithm a certificate's key signs with.
    pub fn for_certificate(certificate_der: &[u8]) -> Result<Self, CertificateError> {
        Ok(CertificateKey::from_certificate(certificate_der)?.algorithm())
    }
}

impl fmt::Display for SignatureAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SignatureAlgorithm::RsaSha256 => "RSA-SHA256",
            SignatureAlgorithm::EcdsaP256Sha256 => "ECDSA-P256-SHA256",
        })
    }
}

/// SHA-256 of `data`.
pub(crate) fn sha256(data: &[u8]) -> Sha256Digest {
    use sha2::Digest;
    sha2::Sha256::digest(data).into()
}

/// Base64 (standard alphabet, padded) as XML Schema's base64Binary allows
/// it: whitespace anywhere is ignored.
pub(crate) fn decode_base64_xml(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let compact: String = text
        .chars()
        .filter(|c| !matches!(c, ' ' | '\t' | '\n' | '\r'))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .ok()
}

pub(crate) fn encode_base64(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// Checks that `id` can be an `xs:ID` (an NCName), so that a reference to
/// it resolves in every XML-DSig implementation.
pub(crate) fn is_ncname(id: &str) -> bool {
    let mut chars = id.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    let start = |c: char| c == '_' || c.is_alphabetic();
    start(first) && chars.all(|c| start(c) || c.is_numeric() || matches!(c, '-' | '.' | '\u{b7}'))
}

#[cfg(test)]
mod tests;
