//! DocumentEntry metadata as the registry keeps it (the ebRIM XML of the
//! `ExtrinsicObject`, in the store) and as it answers it: the store's
//! record (id, logicalId, version, status, mode, hash, size) is the truth
//! that overrides what the XML says.

use dspconnect::model::{ConfidentialityCodeTable, ConfidentialityMode};
use ihe::xds::{
    AvailabilityStatus, Checked, Code, DocumentEntry, DocumentEntryType, Sha1Hash, WriteError,
};
use ihe::xml::{self, ParseLimits};

use super::REPOSITORY_UNIQUE_ID;
use crate::store::{DocumentRecord, DocumentStatus};

/// Why stored metadata cannot be answered.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StoredMetadataError {
    #[error(
        "the stored metadata of entry {entry} cannot be read ({problem}): the database was changed outside the sandbox"
    )]
    Unreadable { entry: String, problem: String },
    #[error("the metadata of entry {entry} cannot be written: {source}")]
    Write {
        entry: String,
        #[source]
        source: WriteError,
    },
}

/// The wire code of `mode`, from the platform's table.
pub(crate) fn confidentiality_code(
    table: &ConfidentialityCodeTable,
    mode: ConfidentialityMode,
) -> Code {
    let code = table.code_for(mode);
    Code::new(code.code(), code.coding_scheme(), code.display_name())
}

/// The XML the store keeps for `entry`.
pub(crate) fn to_stored(entry: &DocumentEntry) -> Result<Vec<u8>, StoredMetadataError> {
    let element = entry
        .to_element()
        .map_err(|source| StoredMetadataError::Write {
            entry: entry.entry_uuid.clone(),
            source,
        })?;
    Ok(xml::to_string(&element).into_bytes())
}

/// The entry read back from the store's XML, without the record's overrides.
pub(crate) fn from_stored(record: &DocumentRecord) -> Result<DocumentEntry, StoredMetadataError> {
    let unreadable = |problem: String| StoredMetadataError::Unreadable {
        entry: record.entry_uuid.clone(),
        problem,
    };
    let element =
        xml::parse(&record.metadata, &ParseLimits::SOAP).map_err(|e| unreadable(e.to_string()))?;
    DocumentEntry::from_element(&element).map_err(|e| unreadable(e.to_string()))
}

/// The entry as the registry answers it (ITI-18 LeafClass).
pub(crate) fn answered(
    record: &DocumentRecord,
    table: &ConfidentialityCodeTable,
) -> Result<DocumentEntry, StoredMetadataError> {
    let mut entry = from_stored(record)?;
    entry.entry_uuid = record.entry_uuid.clone();
    entry.logical_id = Some(record.logical_id.clone());
    entry.version = Some(record.version.to_string());
    entry.availability_status = Some(match record.status {
        DocumentStatus::Approved => AvailabilityStatus::Approved,
        DocumentStatus::Deprecated => AvailabilityStatus::Deprecated,
    });
    entry.object_type = Some(DocumentEntryType::Stable);
    entry.unique_id = Some(record.unique_id.clone());
    entry.mime_type = Some(record.mime_type.clone());
    entry.confidentiality_codes = vec![confidentiality_code(table, record.mode)];
    entry.hash = Some(match Sha1Hash::from_hex(&record.hash) {
        Ok(hash) => Checked::Valid(hash),
        Err(e) => {
            return Err(StoredMetadataError::Unreadable {
                entry: record.entry_uuid.clone(),
                problem: e.to_string(),
            });
        }
    });
    entry.size = Some(Checked::Valid(record.size));
    entry.repository_unique_id = Some(REPOSITORY_UNIQUE_ID.to_owned());
    entry.home_community_id = None;
    Ok(entry)
}
