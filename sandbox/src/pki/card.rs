//! A professional's card credentials as files, for the virtual card (APDUs
//! over vpcd) and the software card to load.
//!
//! An export directory (mode 0700, every file 0600) holds:
//!
//! | file | content |
//! |---|---|
//! | `card.json` | the manifest below |
//! | `certificate.pem` | the card's authentication certificate (PEM) |
//! | `private-key.pem` | its RSA 2048 private key, PKCS#8 PEM, unencrypted |
//! | `luxtrust-test-ca.pem` | the issuing LuxTrust test CA certificate (PEM) |
//!
//! `card.json`:
//! ```json
//! {
//!   "format": "dspconnect-sandbox-card",
//!   "version": 1,
//!   "notice": "SANDBOX — nothing issued here is valid on the real platform",
//!   "holder": { "name": "Dr Anne Muller", "ehealth_id": "2854201475" },
//!   "pin": "123456",
//!   "certificate": "certificate.pem",
//!   "private_key": "private-key.pem",
//!   "issuer_certificates": ["luxtrust-test-ca.pem"],
//!   "certificate_sha256": "<lowercase hex of SHA-256 over the certificate DER>",
//!   "serial": "<lowercase hex>",
//!   "not_before": "<RFC 3339>",
//!   "not_after": "<RFC 3339>"
//! }
//! ```
//! File names in the manifest are plain names inside the directory. A
//! reader must refuse another `format` or a higher `version`, check that the
//! certificate's SHA-256 matches and that the key belongs to the
//! certificate — [`CardCredentials::load`] does all of this.

use std::fmt;
use std::path::{Path, PathBuf};

use rsa::RsaPrivateKey;
use rsa::pkcs8::EncodePublicKey;
use rsa::rand_core::{OsRng, RngCore};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;
use zeroize::{Zeroize, Zeroizing};

use super::files::{self, FileError};
use super::identifiers::{CertificateSerial, Fingerprint};
use super::keys::{self, KeyError};
use super::{Professional, ProfessionalCredentials};

/// The manifest's file name.
pub const CARD_MANIFEST: &str = "card.json";
/// The manifest's `format` value.
pub const CARD_FORMAT: &str = "dspconnect-sandbox-card";
/// The manifest version this code writes and reads.
pub const CARD_FORMAT_VERSION: u32 = 1;

const CERTIFICATE_FILE: &str = "certificate.pem";
const PRIVATE_KEY_FILE: &str = "private-key.pem";
const ISSUER_FILE: &str = "luxtrust-test-ca.pem";
const NOTICE: &str = "SANDBOX — nothing issued here is valid on the real platform";

const PIN_MIN_DIGITS: usize = 4;
const PIN_MAX_DIGITS: usize = 12;
const GENERATED_PIN_DIGITS: usize = 6;

/// Why card credentials cannot be written or read.
#[derive(Debug, thiserror::Error)]
pub enum CardError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("{dir} is not empty; export a card into a new or empty directory")]
    DirectoryNotEmpty { dir: PathBuf },
    #[error("the card PIN must be {PIN_MIN_DIGITS} to {PIN_MAX_DIGITS} digits")]
    InvalidPin,
    #[error("{path} is not a card manifest: {reason}")]
    BadManifest { path: PathBuf, reason: String },
    #[error(
        "{path} has format '{found}' version {version}; this program reads '{CARD_FORMAT}' version {CARD_FORMAT_VERSION}"
    )]
    UnsupportedFormat {
        path: PathBuf,
        found: String,
        version: u32,
    },
    #[error("{path} is not a PEM certificate: {reason}")]
    BadCertificate { path: PathBuf, reason: String },
    #[error(
        "the certificate in {dir} does not match the manifest: {reason}; export the card again"
    )]
    Inconsistent { dir: PathBuf, reason: &'static str },
}

/// A card PIN: 4 to 12 digits, zeroized when dropped, never shown by
/// `Debug`.
#[derive(Clone)]
pub struct CardPin(Zeroizing<String>);

impl CardPin {
    /// Checks and wraps a PIN (the caller's copy is zeroized).
    pub fn new(mut digits: String) -> Result<Self, CardError> {
        let valid = (PIN_MIN_DIGITS..=PIN_MAX_DIGITS).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit());
        let pin = Zeroizing::new(std::mem::take(&mut digits));
        if valid {
            Ok(Self(pin))
        } else {
            Err(CardError::InvalidPin)
        }
    }

    /// A random 6-digit PIN.
    pub fn generate() -> Self {
        let mut pin = Zeroizing::new(String::with_capacity(GENERATED_PIN_DIGITS));
        while pin.len() < GENERATED_PIN_DIGITS {
            // Rejection sampling keeps every digit equally likely.
            let byte = (OsRng.next_u32() & 0xff) as u8;
            if byte < 250 {
                pin.push(char::from(b'0' + byte % 10));
            }
        }
        Self(pin)
    }

    /// The digits, for the card's VERIFY.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for CardPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CardPin(<redacted>)")
    }
}

impl PartialEq for CardPin {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes() == other.0.as_bytes()
    }
}

#[derive(Serialize, Deserialize)]
struct Manifest {
    format: String,
    version: u32,
    notice: String,
    holder: Holder,
    pin: String,
    certificate: String,
    private_key: String,
    issuer_certificates: Vec<String>,
    certificate_sha256: String,
    serial: String,
    #[serde(with = "time::serde::rfc3339")]
    not_before: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    not_after: OffsetDateTime,
}

impl Drop for Manifest {
    fn drop(&mut self) {
        self.pin.zeroize();
    }
}

#[derive(Serialize, Deserialize)]
struct Holder {
    name: String,
    ehealth_id: String,
}

/// A card's credentials as read from an export directory.
pub struct CardCredentials {
    pub professional: Professional,
    pub certificate_der: Vec<u8>,
    pub certificate_pem: String,
    /// Zeroized when dropped.
    pub private_key: RsaPrivateKey,
    pub pin: CardPin,
    /// DER of the issuing CA certificates, nearest first.
    pub issuer_certificates_der: Vec<Vec<u8>>,
    pub serial: CertificateSerial,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
}

impl fmt::Debug for CardCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CardCredentials")
            .field("professional", &self.professional)
            .field("serial", &self.serial)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

impl CardCredentials {
    /// Writes `credentials` and `pin` into `dir` (created 0700 if missing;
    /// an existing one must be empty and private). Returns the manifest path.
    pub fn write(
        dir: &Path,
        credentials: &ProfessionalCredentials,
        pin: &CardPin,
        issuer_pem: &str,
    ) -> Result<PathBuf, CardError> {
        files::ensure_private_dir(dir, 0o077)?;
        let mut entries = std::fs::read_dir(dir).map_err(|e| FileError::io("list", dir, e))?;
        if entries.next().is_some() {
            return Err(CardError::DirectoryNotEmpty {
                dir: dir.to_path_buf(),
            });
        }
        let validity = credentials.validity();
        let manifest = Manifest {
            format: CARD_FORMAT.to_owned(),
            version: CARD_FORMAT_VERSION,
            notice: NOTICE.to_owned(),
            holder: Holder {
                name: credentials.professional().name.clone(),
                ehealth_id: credentials.professional().ehealth_id.clone(),
            },
            pin: pin.expose().to_owned(),
            certificate: CERTIFICATE_FILE.to_owned(),
            private_key: PRIVATE_KEY_FILE.to_owned(),
            issuer_certificates: vec![ISSUER_FILE.to_owned()],
            certificate_sha256: credentials.fingerprint().to_string(),
            serial: credentials.serial().to_string(),
            not_before: validity.not_before,
            not_after: validity.not_after,
        };
        let manifest_path = dir.join(CARD_MANIFEST);
        let mut json = Zeroizing::new(serde_json::to_vec_pretty(&manifest).map_err(|e| {
            CardError::BadManifest {
                path: manifest_path.clone(),
                reason: e.to_string(),
            }
        })?);
        json.push(b'\n');

        let key_pem = keys::rsa_to_pkcs8_pem(credentials.private_key())?;
        files::create_private_file(
            &dir.join(CERTIFICATE_FILE),
            credentials.certificate_pem().as_bytes(),
        )?;
        files::create_private_file(&dir.join(PRIVATE_KEY_FILE), key_pem.as_bytes())?;
        files::create_private_file(&dir.join(ISSUER_FILE), issuer_pem.as_bytes())?;
        // The manifest last: its presence means the export is complete.
        files::create_private_file(&manifest_path, &json)?;
        Ok(manifest_path)
    }

    /// Reads and checks an export directory.
    pub fn load(dir: &Path) -> Result<Self, CardError> {
        let manifest_path = dir.join(CARD_MANIFEST);
        let text = files::read_private_text(&manifest_path)?;
        let bad = |reason: String| CardError::BadManifest {
            path: manifest_path.clone(),
            reason,
        };
        let mut manifest: Manifest = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        if manifest.format != CARD_FORMAT || manifest.version > CARD_FORMAT_VERSION {
            return Err(CardError::UnsupportedFormat {
                path: manifest_path,
                found: manifest.format.clone(),
                version: manifest.version,
            });
        }
        let pin = CardPin::new(std::mem::take(&mut manifest.pin))?;
        let inside = |name: &str| -> Result<PathBuf, CardError> {
            let plain =
                !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\']);
            if plain {
                Ok(dir.join(name))
            } else {
                Err(bad(format!("'{name}' is not a plain file name")))
            }
        };

        let certificate_path = inside(&manifest.certificate)?;
        let certificate_pem = files::read_text(&certificate_path)?;
        let certificate_der = single_certificate(&certificate_path, &certificate_pem)?;
        if Fingerprint::of_der(&certificate_der).to_string() != manifest.certificate_sha256 {
            return Err(CardError::Inconsistent {
                dir: dir.to_path_buf(),
                reason: "its SHA-256 differs from certificate_sha256",
            });
        }
        let key_path = inside(&manifest.private_key)?;
        let key_pem = files::read_private_text(&key_path)?;
        let private_key = keys::rsa_from_pkcs8_pem(&key_pem, &key_path.display().to_string())?;
        check_key_matches(dir, &certificate_der, &private_key)?;

        let issuer_certificates_der = manifest
            .issuer_certificates
            .iter()
            .map(|name| {
                let path = inside(name)?;
                single_certificate(&path, &files::read_text(&path)?)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let serial =
            CertificateSerial::from_hex(&manifest.serial).map_err(|e| bad(e.to_string()))?;

        Ok(Self {
            professional: Professional {
                name: manifest.holder.name.clone(),
                ehealth_id: manifest.holder.ehealth_id.clone(),
            },
            certificate_der,
            certificate_pem,
            private_key,
            pin,
            issuer_certificates_der,
            serial,
            not_before: manifest.not_before,
            not_after: manifest.not_after,
        })
    }
}

fn single_certificate(path: &Path, pem: &str) -> Result<Vec<u8>, CardError> {
    let bad = |reason: String| CardError::BadCertificate {
        path: path.to_path_buf(),
        reason,
    };
    let mut certs = CertificateDer::pem_slice_iter(pem.as_bytes());
    let der = certs
        .next()
        .ok_or_else(|| bad("no CERTIFICATE block".to_owned()))?
        .map_err(|e| bad(e.to_string()))?;
    if certs.next().is_some() {
        return Err(bad("more than one CERTIFICATE block".to_owned()));
    }
    Ok(der.to_vec())
}

fn check_key_matches(
    dir: &Path,
    certificate_der: &[u8],
    key: &RsaPrivateKey,
) -> Result<(), CardError> {
    let inconsistent = |reason| CardError::Inconsistent {
        dir: dir.to_path_buf(),
        reason,
    };
    let (_, certificate) = X509Certificate::from_der(certificate_der)
        .map_err(|_| inconsistent("the certificate cannot be parsed"))?;
    let public = key
        .to_public_key()
        .to_public_key_der()
        .map_err(|_| inconsistent("the private key's public half cannot be encoded"))?;
    if public.as_bytes() != certificate.public_key().raw {
        return Err(inconsistent(
            "the private key does not belong to the certificate",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pin_is_four_to_twelve_digits() {
        for good in ["0000", "123456", "123456789012"] {
            assert!(CardPin::new(good.to_owned()).is_ok(), "{good}");
        }
        for bad in ["", "123", "1234567890123", "12a4", "12 34", "١٢٣٤"] {
            assert!(
                matches!(CardPin::new(bad.to_owned()), Err(CardError::InvalidPin)),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_pin_never_shows_in_debug() {
        let pin = CardPin::new("987654".to_owned()).expect("valid");
        assert!(!format!("{pin:?}").contains("987654"));
    }

    #[test]
    fn generated_pins_are_six_digits_and_vary() {
        let pins: Vec<String> = (0..20)
            .map(|_| CardPin::generate().expose().to_owned())
            .collect();
        assert!(
            pins.iter()
                .all(|pin| pin.len() == 6 && pin.bytes().all(|b| b.is_ascii_digit()))
        );
        // 20 draws of 10^6 values: all equal only if generation is broken.
        assert!(pins.iter().any(|pin| pin != &pins[0]));
    }
}
