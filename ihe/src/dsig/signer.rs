//! The [`Signer`] seam: whatever holds the private key (a smartcard, a
//! PKCS#11 token, a software key in the sandbox) signs a SHA-256 digest
//! that this crate computed, and never sees the XML.

use super::SignatureAlgorithm;

/// The DER prefix of a PKCS#1 v1.5 `DigestInfo` for SHA-256
/// (RFC 8017 §9.2, note 1); the 32 digest bytes follow it.
pub const SHA256_DIGEST_INFO_PREFIX: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

/// Why a signer could not sign.
#[derive(Debug, thiserror::Error)]
pub enum SignerError {
    #[error("this signer's key cannot sign with {requested}; it signs with {supported}")]
    UnsupportedAlgorithm {
        requested: SignatureAlgorithm,
        supported: SignatureAlgorithm,
    },
    #[error("a SHA-256 digest is 32 bytes; {actual} bytes were given")]
    DigestLength { actual: usize },
    #[error("the private key does not match the certificate's public key; load the pair together")]
    KeyCertificateMismatch,
    #[error("the private key cannot be loaded: {reason}")]
    InvalidKey { reason: String },
    #[error("the ECDSA signature is not a valid DER Ecdsa-Sig-Value for P-256")]
    InvalidEcdsaDer,
    #[error("the signing device failed: {0}")]
    Device(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Signs SHA-256 digests with a private key that may live on a device.
///
/// The caller computes the digest (of a canonical `SignedInfo`); the signer
/// only applies its key:
/// - [`SignatureAlgorithm::RsaSha256`]: builds the PKCS#1 v1.5 `DigestInfo`
///   itself ([`rsa_sha256_digest_info`]) and returns the signature, as long
///   as the modulus;
/// - [`SignatureAlgorithm::EcdsaP256Sha256`]: returns the raw `r‖s`
///   (64 bytes), not DER ([`ecdsa_p256_der_to_raw`] converts what PKCS#11
///   or OpenSSL-style devices return).
///
/// The result is checked against [`Signer::certificate_der`] before it is
/// put in a message, so a wrong key or format is caught at once.
pub trait Signer {
    /// The DER X.509 certificate of the signing key.
    fn certificate_der(&self) -> &[u8];

    /// Signs `digest` (32 bytes of SHA-256) with `algorithm`.
    fn sign_prehashed(
        &self,
        algorithm: SignatureAlgorithm,
        digest: &[u8],
    ) -> Result<Vec<u8>, SignerError>;
}

/// The PKCS#1 v1.5 `DigestInfo` for a SHA-256 digest: what an RSA card
/// pads and signs ("raw" or "PKCS#1 with DigestInfo supplied" mode).
pub fn rsa_sha256_digest_info(digest: &[u8]) -> Result<[u8; 51], SignerError> {
    if digest.len() != 32 {
        return Err(SignerError::DigestLength {
            actual: digest.len(),
        });
    }
    let mut out = [0u8; 51];
    out[..19].copy_from_slice(&SHA256_DIGEST_INFO_PREFIX);
    out[19..].copy_from_slice(digest);
    Ok(out)
}

/// Converts a DER `Ecdsa-Sig-Value` (SEQUENCE of two INTEGERs) on P-256 to
/// the raw `r‖s` XML-DSig requires.
pub fn ecdsa_p256_der_to_raw(der: &[u8]) -> Result<[u8; 64], SignerError> {
    let sig = p256::ecdsa::Signature::from_der(der).map_err(|_| SignerError::InvalidEcdsaDer)?;
    Ok(sig.to_bytes().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_info_is_prefix_then_digest() {
        let info = rsa_sha256_digest_info(&[7u8; 32]).unwrap();
        assert_eq!(&info[..19], &SHA256_DIGEST_INFO_PREFIX);
        assert_eq!(&info[19..], &[7u8; 32]);
        assert!(matches!(
            rsa_sha256_digest_info(&[0u8; 20]),
            Err(SignerError::DigestLength { actual: 20 })
        ));
    }

    #[test]
    fn der_ecdsa_converts_to_fixed_width() {
        // r = 1, s = 0x80 (needs a leading zero in DER).
        let der = [0x30, 0x07, 0x02, 0x01, 0x01, 0x02, 0x02, 0x00, 0x80];
        let raw = ecdsa_p256_der_to_raw(&der).unwrap();
        assert_eq!(raw[31], 1);
        assert_eq!(raw[63], 0x80);
        assert!(raw[..31].iter().all(|&b| b == 0));
        assert!(matches!(
            ecdsa_p256_der_to_raw(&[0x30, 0x00]),
            Err(SignerError::InvalidEcdsaDer)
        ));
    }
}
