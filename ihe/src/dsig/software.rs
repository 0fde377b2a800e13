//! Signers over a private key held in memory: the sandbox's IdP, the
//! software card, tests. The keys zeroize themselves on drop (`rsa` and
//! `p256` implement `ZeroizeOnDrop`) and never appear in `Debug`.

use p256::ecdsa::signature::hazmat::PrehashSigner;
use rsa::pkcs1::EncodeRsaPublicKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::{Pkcs1v15Sign, RsaPrivateKey};

use super::{CertificateKey, SignatureAlgorithm, Signer, SignerError, rsa_sha256_digest_info};

/// An RSA key with its certificate, signing `rsa-sha256`.
pub struct RsaSoftwareSigner {
    key: RsaPrivateKey,
    certificate_der: Vec<u8>,
}

impl std::fmt::Debug for RsaSoftwareSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaSoftwareSigner")
            .field("key", &"<redacted>")
            .field("certificate_bytes", &self.certificate_der.len())
            .finish()
    }
}

impl RsaSoftwareSigner {
    /// Pairs a key with its certificate; refuses a certificate for another
    /// key.
    pub fn new(key: RsaPrivateKey, certificate_der: Vec<u8>) -> Result<Self, SignerError> {
        let cert_key = CertificateKey::from_certificate(&certificate_der).map_err(|e| {
            SignerError::InvalidKey {
                reason: format!("certificate: {e}"),
            }
        })?;
        let public = key
            .to_public_key()
            .to_pkcs1_der()
            .map_err(|e| SignerError::InvalidKey {
                reason: e.to_string(),
            })?;
        if cert_key.algorithm() != SignatureAlgorithm::RsaSha256
            || cert_key.public_key_bytes() != public.as_bytes()
        {
            return Err(SignerError::KeyCertificateMismatch);
        }
        Ok(RsaSoftwareSigner {
            key,
            certificate_der,
        })
    }

    /// From a PKCS#8 DER private key.
    pub fn from_pkcs8_der(key_der: &[u8], certificate_der: Vec<u8>) -> Result<Self, SignerError> {
        let key = RsaPrivateKey::from_pkcs8_der(key_der).map_err(|e| SignerError::InvalidKey {
            reason: e.to_string(),
        })?;
        Self::new(key, certificate_der)
    }

    /// From a PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_pkcs8_pem(key_pem: &str, certificate_der: Vec<u8>) -> Result<Self, SignerError> {
        let key = RsaPrivateKey::from_pkcs8_pem(key_pem).map_err(|e| SignerError::InvalidKey {
            reason: e.to_string(),
        })?;
        Self::new(key, certificate_der)
    }
}

impl Signer for RsaSoftwareSigner {
    fn certificate_der(&self) -> &[u8] {
        &self.certificate_der
    }

    fn sign_prehashed(
        &self,
        algorithm: SignatureAlgorithm,
        digest: &[u8],
    ) -> Result<Vec<u8>, SignerError> {
        if algorithm != SignatureAlgorithm::RsaSha256 {
            return Err(SignerError::UnsupportedAlgorithm {
                requested: algorithm,
                supported: SignatureAlgorithm::RsaSha256,
            });
        }
        // Pad and sign the DigestInfo ourselves, exactly as a card in raw
        // PKCS#1 mode does, so this path is the card's path.
        let digest_info = rsa_sha256_digest_info(digest)?;
        self.key
            .sign_with_rng(
                &mut rsa::rand_core::OsRng,
                Pkcs1v15Sign::new_unprefixed(),
                &digest_info,
            )
            .map_err(|e| SignerError::Device(Box::new(e)))
    }
}

/// A P-256 key with its certificate, signing `ecdsa-sha256` (RFC 6979
/// deterministic nonces).
pub struct EcdsaP256SoftwareSigner {
    key: p256::ecdsa::SigningKey,
    certificate_der: Vec<u8>,
}

impl std::fmt::Debug for EcdsaP256SoftwareSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EcdsaP256SoftwareSigner")
            .field("key", &"<redacted>")
            .field("certificate_bytes", &self.certificate_der.len())
            .finish()
    }
}

impl EcdsaP256SoftwareSigner {
    /// Pairs a key with its certificate; refuses a certificate for another
    /// key.
    pub fn new(
        key: p256::ecdsa::SigningKey,
        certificate_der: Vec<u8>,
    ) -> Result<Self, SignerError> {
        let cert_key = CertificateKey::from_certificate(&certificate_der).map_err(|e| {
            SignerError::InvalidKey {
                reason: format!("certificate: {e}"),
            }
        })?;
        let point = key.verifying_key().to_encoded_point(false);
        if cert_key.algorithm() != SignatureAlgorithm::EcdsaP256Sha256
            || cert_key.public_key_bytes() != point.as_bytes()
        {
            return Err(SignerError::KeyCertificateMismatch);
        }
        Ok(EcdsaP256SoftwareSigner {
            key,
            certificate_der,
        })
    }

    /// From a PKCS#8 DER private key.
    pub fn from_pkcs8_der(key_der: &[u8], certificate_der: Vec<u8>) -> Result<Self, SignerError> {
        let key = p256::ecdsa::SigningKey::from_pkcs8_der(key_der).map_err(|e| {
            SignerError::InvalidKey {
                reason: e.to_string(),
            }
        })?;
        Self::new(key, certificate_der)
    }

    /// From a PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_pkcs8_pem(key_pem: &str, certificate_der: Vec<u8>) -> Result<Self, SignerError> {
        let key = p256::ecdsa::SigningKey::from_pkcs8_pem(key_pem).map_err(|e| {
            SignerError::InvalidKey {
                reason: e.to_string(),
            }
        })?;
        Self::new(key, certificate_der)
    }
}

impl Signer for EcdsaP256SoftwareSigner {
    fn certificate_der(&self) -> &[u8] {
        &self.certificate_der
    }

    fn sign_prehashed(
        &self,
        algorithm: SignatureAlgorithm,
        digest: &[u8],
    ) -> Result<Vec<u8>, SignerError> {
        if algorithm != SignatureAlgorithm::EcdsaP256Sha256 {
            return Err(SignerError::UnsupportedAlgorithm {
                requested: algorithm,
                supported: SignatureAlgorithm::EcdsaP256Sha256,
            });
        }
        if digest.len() != 32 {
            return Err(SignerError::DigestLength {
                actual: digest.len(),
            });
        }
        let sig: p256::ecdsa::Signature = self
            .key
            .sign_prehash(digest)
            .map_err(|e| SignerError::Device(Box::new(e)))?;
        Ok(sig.to_bytes().to_vec())
    }
}
