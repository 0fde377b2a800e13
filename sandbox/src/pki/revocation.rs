//! Revoked card certificates ("En cas de perte, faites désactiver votre
//! moyen d'authentification"): a JSON file in the PKI directory, read on
//! every check so that a revocation made by another process (the CLI, a
//! later store) takes effect at once.
//!
//! File format (`revoked-serials.json`, mode 0600):
//! `{"revoked": [{"serial": "<lowercase hex>", "revoked_at": "<RFC 3339>"}]}`

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::files::{self, FileError};
use super::identifiers::CertificateSerial;

/// Why the revocation list cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum RevocationError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error("revocation list {path} is not valid: {reason}; fix or remove the file")]
    Corrupt { path: PathBuf, reason: String },
}

/// One revoked certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedCertificate {
    pub serial: CertificateSerial,
    pub revoked_at: OffsetDateTime,
}

#[derive(Serialize, Deserialize, Default)]
struct RevocationFile {
    revoked: Vec<RevocationEntry>,
}

#[derive(Serialize, Deserialize)]
struct RevocationEntry {
    serial: String,
    #[serde(with = "time::serde::rfc3339")]
    revoked_at: OffsetDateTime,
}

pub(crate) struct RevocationList {
    path: PathBuf,
    // Serialises read-modify-write cycles within this process; another
    // process writing at the same instant could still lose an update, which
    // the sandbox accepts (revocations are rare, manual acts).
    update: Mutex<()>,
}

impl RevocationList {
    pub(crate) fn at(path: PathBuf) -> Self {
        Self {
            path,
            update: Mutex::new(()),
        }
    }

    pub(crate) fn create_empty(path: &Path) -> Result<(), RevocationError> {
        write(path, &RevocationFile::default())
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn list(&self) -> Result<Vec<RevokedCertificate>, RevocationError> {
        read(&self.path)?
            .revoked
            .into_iter()
            .map(|entry| {
                let serial = CertificateSerial::from_hex(&entry.serial).map_err(|e| {
                    RevocationError::Corrupt {
                        path: self.path.clone(),
                        reason: e.to_string(),
                    }
                })?;
                Ok(RevokedCertificate {
                    serial,
                    revoked_at: entry.revoked_at,
                })
            })
            .collect()
    }

    pub(crate) fn is_revoked(&self, serial: &CertificateSerial) -> Result<bool, RevocationError> {
        Ok(self.list()?.iter().any(|entry| &entry.serial == serial))
    }

    /// Adds `serial`; revoking an already revoked serial keeps the first date.
    pub(crate) fn revoke(
        &self,
        serial: &CertificateSerial,
        at: OffsetDateTime,
    ) -> Result<(), RevocationError> {
        // A poisoned lock only means another revocation panicked mid-way;
        // the file itself is replaced atomically, so carrying on is safe.
        let _guard = self.update.lock().unwrap_or_else(|e| e.into_inner());
        if self.is_revoked(serial)? {
            return Ok(());
        }
        let mut file = read(&self.path)?;
        file.revoked.push(RevocationEntry {
            serial: serial.to_string(),
            revoked_at: at,
        });
        write(&self.path, &file)
    }
}

fn read(path: &Path) -> Result<RevocationFile, RevocationError> {
    let text = files::read_text(path)?;
    serde_json::from_str(&text).map_err(|e| RevocationError::Corrupt {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

fn write(path: &Path, file: &RevocationFile) -> Result<(), RevocationError> {
    let mut json = serde_json::to_vec_pretty(file).map_err(|e| RevocationError::Corrupt {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    json.push(b'\n');
    Ok(files::write_private_file(path, &json)?)
}
