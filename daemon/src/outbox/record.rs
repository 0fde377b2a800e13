//! A job as the spool keeps it (`jobs/<job_id>/job.json`).

use dspconnect::ipc::protocol::{ErrorInfo, Job, JobState};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use super::error::OutboxError;
use super::metadata::DocumentMetadata;

/// Version of the `job.json` layout; a reader refuses a newer one.
pub const RECORD_VERSION: u32 = 1;

/// The professional a job belongs to: it uploads only in a session of the
/// same eHealth id *and* the same card certificate (DESIGN.md "Session,
/// identity and data at rest"). The session publishes the same type.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Owner {
    pub ehealth_id: String,
    /// SHA-256 of the authentication certificate (DER), lowercase hex.
    pub certificate_sha256: String,
}

impl Owner {
    /// Checks the shapes: an eHealth id of 1–64 letters, digits, `.-_`;
    /// a fingerprint of 64 hex digits (kept lowercase).
    pub fn new(ehealth_id: &str, certificate_sha256: &str) -> Result<Owner, OutboxError> {
        let id_ok = (1..=64).contains(&ehealth_id.len())
            && ehealth_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
        if !id_ok {
            return Err(OutboxError::BadOwner {
                field: "owner.ehealth_id",
                problem: "must be 1 to 64 letters, digits, '.', '-' or '_'".into(),
            });
        }
        if certificate_sha256.len() != 64
            || !certificate_sha256.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(OutboxError::BadOwner {
                field: "owner.certificate_sha256",
                problem: "must be 64 hex digits (the SHA-256 of the certificate)".into(),
            });
        }
        Ok(Owner {
            ehealth_id: ehealth_id.to_owned(),
            certificate_sha256: certificate_sha256.to_ascii_lowercase(),
        })
    }
}

/// What the professional's access to the patient rests on, when it is a
/// presence code: the consultation grant the platform gave for it (never
/// the code itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessBasis {
    pub grant_id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// Size and hashes of the spooled content, computed while copying it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentInfo {
    pub size: u64,
    /// SHA-1, lowercase hex: the XDS `hash`.
    pub sha1: String,
    /// SHA-256, lowercase hex: checks chunked uploads and local copies.
    pub sha256: String,
}

/// The ebRIM entry UUIDs of the submission, fixed at enqueue so that a
/// retry resends exactly the same submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryUuids {
    pub document_entry: Uuid,
    pub submission_set: Uuid,
    /// The SubmissionSet → DocumentEntry `HasMember` association.
    pub has_member: Uuid,
    /// The `RPLC` association, for a replacement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replacement: Option<Uuid>,
}

/// Where a job's patient-informed statement came from (each drop-folder
/// receipt records it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatementSource {
    /// The IPC push's `metadata.patient_statement` (every job before the
    /// drop folder existed, hence the default).
    #[default]
    Ipc,
    /// The dropped document's sidecar.
    Sidecar,
    /// The drop folder's configured default (`drop_folder.patient_statement_default`).
    FolderDefault,
}

impl StatementSource {
    pub fn as_str(self) -> &'static str {
        match self {
            StatementSource::Ipc => "ipc",
            StatementSource::Sidecar => "sidecar",
            StatementSource::FolderDefault => "folder_default",
        }
    }
}

/// One outbox job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    pub version: u32,
    pub job_id: Uuid,
    /// Enqueue order (jobs of one professional upload in this order).
    pub sequence: u64,
    /// The document's uniqueId, fixed at enqueue: a retry after an unknown
    /// outcome resends it, and the registry's duplicate answer resolves it.
    pub document_unique_id: String,
    pub submission_set_unique_id: String,
    pub entry_uuids: EntryUuids,
    pub metadata: DocumentMetadata,
    /// uniqueId of the document this one replaces (RPLC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
    pub owner: Owner,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<AccessBasis>,
    pub content: ContentInfo,
    pub state: JobState,
    /// Attempts made (an attempt refused for an expired assertion does not count).
    pub attempts: u32,
    /// The last attempt ended without knowing whether the platform
    /// registered the document (connection cut, timeout, daemon stopped).
    #[serde(default)]
    pub outcome_unknown: bool,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub next_attempt_at: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<ErrorInfo>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// When the job reached a final state.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
    /// Where the patient-informed statement came from (absent in records
    /// written before it was kept: those came over IPC).
    #[serde(default)]
    pub statement_source: StatementSource,
    /// The drop folder's claim id, for a job handed over by the drop
    /// folder (it finds its job again after a crash with it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop_claim: Option<String>,
}

impl JobRecord {
    /// The IPC view of the job.
    pub fn to_job(&self) -> Job {
        Job {
            job_id: self.job_id.to_string(),
            state: self.state,
            unique_id: self.document_unique_id.clone(),
            patient: self.metadata.patient.clone(),
            title: self.metadata.title.clone(),
            mode: self.metadata.mode,
            professional: self.owner.ehealth_id.clone(),
            replaces: self.replaces.clone(),
            attempts: self.attempts,
            size: self.content.size,
            // Progress within an attempt is not tracked yet: the platform
            // client streams the spool file and may report it later.
            sent: if self.state == JobState::Done {
                self.content.size
            } else {
                0
            },
            created_at: rfc3339(self.created_at),
            updated_at: rfc3339(self.updated_at),
            error: self.last_error.clone(),
        }
    }
}

/// RFC 3339 text of a time (UTC times always format).
pub(crate) fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// A new uniqueId: `<root>.<a random UUID as a decimal number>`, with
/// root `2.25` (ISO/IEC 9834-8 UUID-derived OIDs) unless the profile
/// names one. At most 64 characters when the root has at most 24.
pub fn new_unique_id(root: Option<&str>) -> String {
    format!("{}.{}", root.unwrap_or("2.25"), Uuid::new_v4().as_u128())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_ids_are_oids_that_fit_xds() {
        for _ in 0..100 {
            let id = new_unique_id(None);
            assert!(crate::config::is_oid(&id), "{id}");
            assert!(id.len() <= 64);
            let rooted = new_unique_id(Some("1.3.182.4.4.77.123456789"));
            assert!(rooted.len() <= 64, "{rooted}");
        }
        assert_ne!(new_unique_id(None), new_unique_id(None));
    }

    #[test]
    fn owners_are_checked_and_fingerprints_lowercased() {
        let o = Owner::new("2854201475", &"AB".repeat(32)).unwrap();
        assert_eq!(o.certificate_sha256, "ab".repeat(32));
        assert!(Owner::new("", &"ab".repeat(32)).is_err());
        assert!(Owner::new("x y", &"ab".repeat(32)).is_err());
        assert!(Owner::new("id", "abc").is_err());
    }
}
