//! Document entries (XDS DocumentEntry versions). Bodies are files written
//! by the repository while streaming the upload; the store keeps their path,
//! hash and size.

use dspconnect::model::ConfidentialityMode;
use rusqlite::{Connection, OptionalExtension, Row, params};
use time::OffsetDateTime;

use super::hpd::stored_ehealth_id;
use super::{During, Result, Store, StoreError, from_unix, unix};
use crate::policy::{EHealthId, PatientId};

/// XDS availability status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DocumentStatus {
    Approved,
    /// Replaced (RPLC) or superseded by a newer version (ITI-57).
    Deprecated,
}

impl DocumentStatus {
    fn as_str(self) -> &'static str {
        match self {
            DocumentStatus::Approved => "approved",
            DocumentStatus::Deprecated => "deprecated",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "approved" => Some(DocumentStatus::Approved),
            "deprecated" => Some(DocumentStatus::Deprecated),
            _ => None,
        }
    }
}

/// A document entry to register.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDocument {
    /// The entryUUID (`urn:uuid:…`); also the logicalId of a first version.
    pub entry_uuid: String,
    pub unique_id: String,
    pub patient: PatientId,
    pub author: EHealthId,
    pub mode: ConfidentialityMode,
    /// The DocumentEntry metadata as received (serialised ebRIM).
    pub metadata: Vec<u8>,
    /// Where the body was written, relative to the data directory.
    pub body_path: String,
    /// SHA-1 of the body, lowercase hex (XDS `hash`).
    pub hash: String,
    pub size: u64,
    pub mime_type: String,
}

/// A stored document entry version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocumentRecord {
    pub entry_uuid: String,
    pub unique_id: String,
    pub logical_id: String,
    pub version: i64,
    pub patient: PatientId,
    pub author: EHealthId,
    pub mode: ConfidentialityMode,
    pub status: DocumentStatus,
    pub metadata: Vec<u8>,
    pub body_path: String,
    pub hash: String,
    pub size: u64,
    pub mime_type: String,
    pub created_at: OffsetDateTime,
    /// The entry that replaced this one (RPLC), if any.
    pub replaced_by: Option<String>,
}

const COLUMNS: &str = "entry_uuid, unique_id, logical_id, version, patient, author, mode, status, \
     metadata, body_path, hash, size, mime_type, created_at, replaced_by";

struct RawDocument {
    entry_uuid: String,
    unique_id: String,
    logical_id: String,
    version: i64,
    patient: String,
    author: String,
    mode: String,
    status: String,
    metadata: Vec<u8>,
    body_path: String,
    hash: String,
    size: i64,
    mime_type: String,
    created_at: i64,
    replaced_by: Option<String>,
}

fn raw_from_row(row: &Row<'_>) -> rusqlite::Result<RawDocument> {
    Ok(RawDocument {
        entry_uuid: row.get(0)?,
        unique_id: row.get(1)?,
        logical_id: row.get(2)?,
        version: row.get(3)?,
        patient: row.get(4)?,
        author: row.get(5)?,
        mode: row.get(6)?,
        status: row.get(7)?,
        metadata: row.get(8)?,
        body_path: row.get(9)?,
        hash: row.get(10)?,
        size: row.get(11)?,
        mime_type: row.get(12)?,
        created_at: row.get(13)?,
        replaced_by: row.get(14)?,
    })
}

impl RawDocument {
    fn check(self) -> Result<DocumentRecord> {
        let corrupt = |what, value: &str| StoreError::Corrupt {
            what,
            value: value.to_owned(),
        };
        Ok(DocumentRecord {
            mode: self
                .mode
                .parse()
                .map_err(|_| corrupt("confidentiality mode", &self.mode))?,
            status: DocumentStatus::parse(&self.status)
                .ok_or_else(|| corrupt("document status", &self.status))?,
            patient: PatientId::new(self.patient)
                .map_err(|e| corrupt("patient matricule", &e.value))?,
            author: stored_ehealth_id(self.author)?,
            size: u64::try_from(self.size)
                .map_err(|_| corrupt("document size", &self.size.to_string()))?,
            created_at: from_unix(self.created_at, "document creation time")?,
            entry_uuid: self.entry_uuid,
            unique_id: self.unique_id,
            logical_id: self.logical_id,
            version: self.version,
            metadata: self.metadata,
            body_path: self.body_path,
            hash: self.hash,
            mime_type: self.mime_type,
            replaced_by: self.replaced_by,
        })
    }
}

fn one(connection: &Connection, sql: &str, param: &str) -> Result<Option<DocumentRecord>> {
    connection
        .query_row(sql, [param], raw_from_row)
        .optional()
        .during("reading a document entry")?
        .map(RawDocument::check)
        .transpose()
}

pub(super) fn document_in(
    connection: &Connection,
    entry_uuid: &str,
) -> Result<Option<DocumentRecord>> {
    one(
        connection,
        &format!("SELECT {COLUMNS} FROM documents WHERE entry_uuid = ?1"),
        entry_uuid,
    )
}

fn size_value(size: u64) -> Result<i64> {
    i64::try_from(size).map_err(|_| StoreError::Invalid {
        what: "document size",
        reason: format!("{size} bytes is beyond what the store records"),
    })
}

fn insert(
    connection: &Connection,
    document: &NewDocument,
    logical_id: &str,
    version: i64,
    now: OffsetDateTime,
) -> Result<()> {
    connection
        .execute(
            &format!(
                "INSERT INTO documents ({COLUMNS}) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'approved', ?8, ?9, ?10, ?11, ?12, ?13, NULL)"
            ),
            params![
                document.entry_uuid,
                document.unique_id,
                logical_id,
                version,
                document.patient.as_str(),
                document.author.as_str(),
                document.mode.as_str(),
                document.metadata,
                document.body_path,
                document.hash,
                size_value(document.size)?,
                document.mime_type,
                unix(now),
            ],
        )
        .map_err(|source| match &source {
            rusqlite::Error::SqliteFailure(e, _)
                if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
            {
                StoreError::AlreadyExists {
                    what: "document entryUUID",
                    id: document.entry_uuid.clone(),
                }
            }
            rusqlite::Error::SqliteFailure(e, _)
                if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY =>
            {
                StoreError::Invalid {
                    what: "document",
                    reason: format!(
                        "patient '{}' or author '{}' is not known to the store",
                        document.patient, document.author
                    ),
                }
            }
            _ => StoreError::Sqlite {
                doing: "registering a document",
                source,
            },
        })?;
    Ok(())
}

fn unique_id_taken(connection: &Connection, unique_id: &str) -> Result<bool> {
    connection
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM documents WHERE unique_id = ?1)",
            [unique_id],
            |row| row.get(0),
        )
        .during("checking a uniqueId")
}

/// The entry, which must exist, belong to `patient` and be Approved.
fn approved_entry(connection: &Connection, entry_uuid: &str) -> Result<DocumentRecord> {
    let entry = document_in(connection, entry_uuid)?.ok_or_else(|| StoreError::NotFound {
        what: "document entry",
        id: entry_uuid.to_owned(),
    })?;
    if entry.status != DocumentStatus::Approved {
        return Err(StoreError::Invalid {
            what: "document entry",
            reason: format!("'{entry_uuid}' is Deprecated: act on its current version"),
        });
    }
    Ok(entry)
}

impl Store {
    /// Registers a new document (version 1, Approved). A uniqueId already
    /// registered is refused with [`StoreError::DuplicateUniqueId`].
    pub fn insert_document(
        &self,
        document: &NewDocument,
        now: OffsetDateTime,
    ) -> Result<DocumentRecord> {
        self.with(|connection| {
            let transaction = connection.transaction().during("registering a document")?;
            if unique_id_taken(&transaction, &document.unique_id)? {
                return Err(StoreError::DuplicateUniqueId(document.unique_id.clone()));
            }
            insert(&transaction, document, &document.entry_uuid, 1, now)?;
            let record = document_in(&transaction, &document.entry_uuid)?;
            transaction.commit().during("registering a document")?;
            record.ok_or_else(|| StoreError::NotFound {
                what: "document entry just registered",
                id: document.entry_uuid.clone(),
            })
        })
    }

    /// The entry with this entryUUID (any version, any status).
    pub fn document(&self, entry_uuid: &str) -> Result<Option<DocumentRecord>> {
        self.with(|connection| document_in(connection, entry_uuid))
    }

    /// The current version of the document with this uniqueId: the Approved
    /// one, else the latest.
    pub fn document_by_unique_id(&self, unique_id: &str) -> Result<Option<DocumentRecord>> {
        self.with(|connection| {
            one(
                connection,
                &format!(
                    "SELECT {COLUMNS} FROM documents WHERE unique_id = ?1 \
                     ORDER BY status = 'approved' DESC, version DESC, created_at DESC LIMIT 1"
                ),
                unique_id,
            )
        })
    }

    /// The patient's entries, optionally of one status, oldest first.
    pub fn documents_of_patient(
        &self,
        patient: &PatientId,
        status: Option<DocumentStatus>,
    ) -> Result<Vec<DocumentRecord>> {
        self.with(|connection| {
            let mut statement = connection
                .prepare(&format!(
                    "SELECT {COLUMNS} FROM documents WHERE patient = ?1 AND (?2 IS NULL OR status = ?2) \
                     ORDER BY created_at, logical_id, version"
                ))
                .during("listing a patient's documents")?;
            let rows = statement
                .query_map(
                    params![patient.as_str(), status.map(DocumentStatus::as_str)],
                    raw_from_row,
                )
                .during("listing a patient's documents")?;
            rows.map(|row| row.during("listing a patient's documents")?.check())
                .collect()
        })
    }

    /// Every version of a document (its mode history), oldest first.
    pub fn document_versions(&self, logical_id: &str) -> Result<Vec<DocumentRecord>> {
        self.with(|connection| {
            let mut statement = connection
                .prepare(&format!(
                    "SELECT {COLUMNS} FROM documents WHERE logical_id = ?1 ORDER BY version"
                ))
                .during("listing document versions")?;
            let rows = statement
                .query_map([logical_id], raw_from_row)
                .during("listing document versions")?;
            rows.map(|row| row.during("listing document versions")?.check())
                .collect()
        })
    }

    /// Registers `replacement` (RPLC) and deprecates the Approved entry it
    /// replaces, which keeps its versions (its mode history).
    pub fn replace_document(
        &self,
        replaced_entry_uuid: &str,
        replacement: &NewDocument,
        now: OffsetDateTime,
    ) -> Result<DocumentRecord> {
        self.with(|connection| {
            let transaction = connection.transaction().during("replacing a document")?;
            let replaced = approved_entry(&transaction, replaced_entry_uuid)?;
            if replaced.patient != replacement.patient {
                return Err(StoreError::Invalid {
                    what: "replacement document",
                    reason: format!(
                        "it is for patient {} but replaces a document of patient {}",
                        replacement.patient, replaced.patient
                    ),
                });
            }
            if unique_id_taken(&transaction, &replacement.unique_id)? {
                return Err(StoreError::DuplicateUniqueId(replacement.unique_id.clone()));
            }
            insert(&transaction, replacement, &replacement.entry_uuid, 1, now)?;
            transaction
                .execute(
                    "UPDATE documents SET status = 'deprecated', replaced_by = ?2 WHERE entry_uuid = ?1",
                    params![replaced_entry_uuid, replacement.entry_uuid],
                )
                .during("deprecating a replaced document")?;
            let record = document_in(&transaction, &replacement.entry_uuid)?;
            transaction.commit().during("replacing a document")?;
            record.ok_or_else(|| StoreError::NotFound {
                what: "replacement just registered",
                id: replacement.entry_uuid.clone(),
            })
        })
    }

    /// A mode change (ITI-57): a new version with `new_entry_uuid`, the same
    /// logicalId and uniqueId, mode `mode` and the updated `metadata`; the
    /// previous version becomes Deprecated.
    pub fn change_document_mode(
        &self,
        entry_uuid: &str,
        new_entry_uuid: &str,
        mode: ConfidentialityMode,
        metadata: Vec<u8>,
        now: OffsetDateTime,
    ) -> Result<DocumentRecord> {
        self.with(|connection| {
            let transaction = connection
                .transaction()
                .during("changing a document's mode")?;
            let current = approved_entry(&transaction, entry_uuid)?;
            let next = NewDocument {
                entry_uuid: new_entry_uuid.to_owned(),
                unique_id: current.unique_id.clone(),
                patient: current.patient.clone(),
                author: current.author.clone(),
                mode,
                metadata,
                body_path: current.body_path.clone(),
                hash: current.hash.clone(),
                size: current.size,
                mime_type: current.mime_type.clone(),
            };
            insert(
                &transaction,
                &next,
                &current.logical_id,
                current.version + 1,
                now,
            )?;
            transaction
                .execute(
                    "UPDATE documents SET status = 'deprecated' WHERE entry_uuid = ?1",
                    [entry_uuid],
                )
                .during("deprecating the previous version")?;
            let record = document_in(&transaction, new_entry_uuid)?;
            transaction.commit().during("changing a document's mode")?;
            record.ok_or_else(|| StoreError::NotFound {
                what: "document version just registered",
                id: new_entry_uuid.to_owned(),
            })
        })
    }
}
