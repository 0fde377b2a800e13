//! The public key of an X.509 certificate, and checking a signature value
//! with it (ring). Trust in the certificate (chain, validity, revocation)
//! is not decided here: the sandbox and the daemon do that.

use ring::signature::{ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use x509_parser::oid_registry::{OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_PKCS1_RSAENCRYPTION};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::SignatureAlgorithm;

/// Why a certificate's key cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CertificateError {
    #[error("the certificate is not valid DER X.509: {reason}")]
    Unparsable { reason: String },
    #[error("the certificate is followed by {extra} bytes of other data")]
    TrailingData { extra: usize },
    #[error(
        "the certificate's key type (OID {oid}) is not supported; use an RSA or an EC P-256 key"
    )]
    UnsupportedKeyType { oid: String },
    #[error("the certificate's EC key is on curve {curve}; only P-256 (prime256v1) is supported")]
    UnsupportedCurve { curve: String },
}

/// A certificate's public key, in the form ring verifies with.
#[derive(Clone, PartialEq, Eq)]
pub struct CertificateKey {
    algorithm: SignatureAlgorithm,
    /// RSAPublicKey DER (RSA) or the uncompressed point (EC).
    public_key: Vec<u8>,
}

impl std::fmt::Debug for CertificateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateKey")
            .field("algorithm", &self.algorithm)
            .field("public_key_bytes", &self.public_key.len())
            .finish()
    }
}

impl CertificateKey {
    /// Extracts the subject public key of a DER certificate.
    pub fn from_certificate(certificate_der: &[u8]) -> Result<Self, CertificateError> {
        let (rest, cert) = X509Certificate::from_der(certificate_der).map_err(|e| {
            CertificateError::Unparsable {
                reason: e.to_string(),
            }
        })?;
        if !rest.is_empty() {
            return Err(CertificateError::TrailingData { extra: rest.len() });
        }
        let spki = cert.public_key();
        let oid = &spki.algorithm.algorithm;
        let algorithm = if *oid == OID_PKCS1_RSAENCRYPTION {
            SignatureAlgorithm::RsaSha256
        } else if *oid == OID_KEY_TYPE_EC_PUBLIC_KEY {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok());
            match curve {
                Some(c) if c == OID_EC_P256 => SignatureAlgorithm::EcdsaP256Sha256,
                Some(c) => {
                    return Err(CertificateError::UnsupportedCurve {
                        curve: c.to_id_string(),
                    });
                }
                None => {
                    return Err(CertificateError::UnsupportedCurve {
                        curve: "(not a named curve)".into(),
                    });
                }
            }
        } else {
            return Err(CertificateError::UnsupportedKeyType {
                oid: oid.to_id_string(),
            });
        };
        Ok(CertificateKey {
            algorithm,
            public_key: spki.subject_public_key.data.to_vec(),
        })
    }

    /// The signature algorithm this key signs with.
    pub fn algorithm(&self) -> SignatureAlgorithm {
        self.algorithm
    }

    /// The raw public key: RSAPublicKey DER for RSA, the uncompressed SEC1
    /// point for P-256.
    pub fn public_key_bytes(&self) -> &[u8] {
        &self.public_key
    }

    /// True when `signature` is a valid signature of `message` by this key.
    /// RSA keys under 2048 bits are refused (by ring) and so never verify.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        let alg: &'static dyn ring::signature::VerificationAlgorithm = match self.algorithm {
            SignatureAlgorithm::RsaSha256 => &RSA_PKCS1_2048_8192_SHA256,
            SignatureAlgorithm::EcdsaP256Sha256 => &ECDSA_P256_SHA256_FIXED,
        };
        UnparsedPublicKey::new(alg, &self.public_key)
            .verify(message, signature)
            .is_ok()
    }
}
