//! Key pairs of the test PKI. RSA keys are made with the `rsa` crate (ring,
//! rcgen's backend here, cannot generate them) and handed to rcgen as PKCS#8
//! DER; ECDSA P-256 keys (TLS only) are made by rcgen itself.

use rcgen::{KeyPair, PKCS_ECDSA_P256_SHA256, PKCS_RSA_SHA256};
use rsa::RsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rustls::pki_types::PrivatePkcs8KeyDer;
use zeroize::Zeroizing;

/// RSA modulus size of every RSA key the sandbox makes (LuxTrust cards,
/// the LuxTrust test CA and the IdP signing key).
pub const RSA_BITS: usize = 2048;

/// Why a key could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("RSA key generation failed: {0}")]
    RsaGeneration(#[source] rsa::Error),
    #[error("cannot encode the private key as PKCS#8: {0}")]
    Pkcs8Encode(#[source] rsa::pkcs8::Error),
    #[error("{what} is not a PKCS#8 RSA private key in PEM form: {source}")]
    Pkcs8Decode {
        what: String,
        #[source]
        source: rsa::pkcs8::Error,
    },
    #[error("{what} cannot be used to sign certificates: {source}")]
    Unusable {
        what: String,
        #[source]
        source: rcgen::Error,
    },
}

/// A fresh RSA 2048 private key.
pub fn generate_rsa() -> Result<RsaPrivateKey, KeyError> {
    RsaPrivateKey::new(&mut rsa::rand_core::OsRng, RSA_BITS).map_err(KeyError::RsaGeneration)
}

/// The PKCS#8 PEM form of an RSA key (what the data directory and card
/// exports hold), zeroized when dropped.
pub fn rsa_to_pkcs8_pem(key: &RsaPrivateKey) -> Result<Zeroizing<String>, KeyError> {
    key.to_pkcs8_pem(LineEnding::LF)
        .map_err(KeyError::Pkcs8Encode)
}

/// Reads a PKCS#8 PEM RSA key; `what` names it in errors.
pub fn rsa_from_pkcs8_pem(pem: &str, what: &str) -> Result<RsaPrivateKey, KeyError> {
    RsaPrivateKey::from_pkcs8_pem(pem).map_err(|source| KeyError::Pkcs8Decode {
        what: what.to_owned(),
        source,
    })
}

/// The rcgen view of an RSA key, signing with RSA-SHA256 (PKCS#1 v1.5).
pub fn rsa_signing_key_pair(key: &RsaPrivateKey, what: &str) -> Result<KeyPair, KeyError> {
    let der = key.to_pkcs8_der().map_err(KeyError::Pkcs8Encode)?;
    KeyPair::from_pkcs8_der_and_sign_algo(
        &PrivatePkcs8KeyDer::from(der.as_bytes()),
        &PKCS_RSA_SHA256,
    )
    .map_err(|source| KeyError::Unusable {
        what: what.to_owned(),
        source,
    })
}

/// A fresh ECDSA P-256 key pair (TLS CA and server certificate).
pub fn generate_ecdsa() -> Result<KeyPair, KeyError> {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(|source| KeyError::Unusable {
        what: "a new ECDSA P-256 key".to_owned(),
        source,
    })
}

/// Reads a PKCS#8 PEM ECDSA P-256 key; `what` names it in errors.
pub fn ecdsa_from_pem(pem: &str, what: &str) -> Result<KeyPair, KeyError> {
    KeyPair::from_pkcs8_pem_and_sign_algo(pem, &PKCS_ECDSA_P256_SHA256).map_err(|source| {
        KeyError::Unusable {
            what: what.to_owned(),
            source,
        }
    })
}
