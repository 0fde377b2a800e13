//! Reading a card export of the sandbox (its format is documented in
//! `sandbox/src/pki/card.rs`) without depending on the sandbox crate:
//!
//! | file | content |
//! |---|---|
//! | `card.json` | manifest: `format` "dspconnect-sandbox-card", `version` 1, `holder`, `pin`, file names, `certificate_sha256`, validity |
//! | `certificate.pem` | the authentication certificate |
//! | `private-key.pem` | its RSA key, PKCS#8 PEM, mode 0600 |
//! | `luxtrust-test-ca.pem` | the issuing test CA |
//!
//! Checked as the format asks: the format and version, plain file names
//! inside the directory, the certificate's SHA-256 against the manifest,
//! the key against the certificate, and the PIN's shape.

use std::path::{Path, PathBuf};

use ihe::dsig::RsaSoftwareSigner;
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::card::{CardIdentity, Fingerprint, Pin};

/// The manifest's file name.
pub const MANIFEST_FILE: &str = "card.json";
/// The manifest's `format`.
pub const CARD_FORMAT: &str = "dspconnect-sandbox-card";
/// The highest manifest version understood here.
pub const CARD_FORMAT_VERSION: u32 = 1;

/// Why an export directory cannot be loaded as a software card.
#[derive(Debug, thiserror::Error)]
pub enum SoftwareCardError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path} holds a private key but other users can access it (mode {mode:o}); run \
         `chmod 600 {path}`"
    )]
    TooOpen { path: PathBuf, mode: u32 },
    #[error("{path} is not a card manifest: {reason}")]
    BadManifest { path: PathBuf, reason: String },
    #[error(
        "{path} has format '{found}' version {version}; this daemon reads '{CARD_FORMAT}' up to \
         version {CARD_FORMAT_VERSION}: export the card again with a matching sandbox"
    )]
    UnsupportedFormat {
        path: PathBuf,
        found: String,
        version: u32,
    },
    #[error("{path} is not a single PEM certificate: {reason}")]
    BadCertificate { path: PathBuf, reason: String },
    #[error("the card in {dir} is inconsistent: {reason}; export the card again")]
    Inconsistent { dir: PathBuf, reason: String },
    #[error("{path} is not a usable PKCS#8 RSA key for the certificate: {reason}")]
    BadKey { path: PathBuf, reason: String },
    #[error(
        "the PIN in {path} is not 4 to 8 digits, so it could never be typed; export the card with such a PIN"
    )]
    BadPin { path: PathBuf },
    #[error("cannot store the PIN counter in {path}: {source}")]
    Counter {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

#[derive(Deserialize)]
struct Manifest {
    format: String,
    version: u32,
    pin: Zeroizing<String>,
    certificate: String,
    private_key: String,
    #[serde(default)]
    issuer_certificates: Vec<String>,
    certificate_sha256: String,
}

/// What a software card is made of.
pub(super) struct LoadedCredentials {
    pub identity: CardIdentity,
    pub signer: RsaSoftwareSigner,
    pub pin: Pin,
    pub issuer_certificates_der: Vec<Vec<u8>>,
}

pub(super) fn load(dir: &Path) -> Result<LoadedCredentials, SoftwareCardError> {
    let manifest_path = dir.join(MANIFEST_FILE);
    let bad = |reason: String| SoftwareCardError::BadManifest {
        path: manifest_path.clone(),
        reason,
    };
    let text = Zeroizing::new(read_private(&manifest_path)?);
    let manifest: Manifest = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    if manifest.format != CARD_FORMAT || manifest.version > CARD_FORMAT_VERSION {
        return Err(SoftwareCardError::UnsupportedFormat {
            path: manifest_path,
            found: manifest.format.clone(),
            version: manifest.version,
        });
    }
    let inside = |name: &str| -> Result<PathBuf, SoftwareCardError> {
        let plain = !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\']);
        if plain {
            Ok(dir.join(name))
        } else {
            Err(bad(format!("'{name}' is not a plain file name")))
        }
    };

    let certificate_path = inside(&manifest.certificate)?;
    let certificate_der = single_certificate(&certificate_path)?;
    if Fingerprint::of_der(&certificate_der).to_string() != manifest.certificate_sha256 {
        return Err(SoftwareCardError::Inconsistent {
            dir: dir.to_path_buf(),
            reason: "the certificate's SHA-256 differs from certificate_sha256".to_owned(),
        });
    }
    let identity = CardIdentity::from_certificate(&certificate_der).map_err(|e| {
        SoftwareCardError::BadCertificate {
            path: certificate_path.clone(),
            reason: e.to_string(),
        }
    })?;

    let key_path = inside(&manifest.private_key)?;
    let key_pem = Zeroizing::new(read_private(&key_path)?);
    let signer = RsaSoftwareSigner::from_pkcs8_pem(&key_pem, certificate_der).map_err(|e| {
        SoftwareCardError::BadKey {
            path: key_path.clone(),
            reason: e.to_string(),
        }
    })?;

    let issuer_certificates_der = manifest
        .issuer_certificates
        .iter()
        .map(|name| single_certificate(&inside(name)?))
        .collect::<Result<Vec<_>, _>>()?;

    let pin = Pin::new(manifest.pin.to_string()).map_err(|_| SoftwareCardError::BadPin {
        path: manifest_path.clone(),
    })?;
    Ok(LoadedCredentials {
        identity,
        signer,
        pin,
        issuer_certificates_der,
    })
}

fn read(path: &Path) -> Result<String, SoftwareCardError> {
    std::fs::read_to_string(path).map_err(|source| SoftwareCardError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads a file holding a secret, refusing it when other users can read
/// or write it.
fn read_private(path: &Path) -> Result<String, SoftwareCardError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let metadata = std::fs::metadata(path).map_err(|source| SoftwareCardError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(SoftwareCardError::TooOpen {
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    read(path)
}

fn single_certificate(path: &Path) -> Result<Vec<u8>, SoftwareCardError> {
    let bad = |reason: String| SoftwareCardError::BadCertificate {
        path: path.to_path_buf(),
        reason,
    };
    let text = read(path)?;
    let mut blocks = x509_parser::pem::Pem::iter_from_buffer(text.as_bytes());
    let pem = blocks
        .next()
        .ok_or_else(|| bad("no PEM block".to_owned()))?
        .map_err(|e| bad(e.to_string()))?;
    if pem.label != "CERTIFICATE" {
        return Err(bad(format!("the PEM block is a {}", pem.label)));
    }
    if blocks.next().is_some() {
        return Err(bad("more than one PEM block".to_owned()));
    }
    Ok(pem.contents)
}
