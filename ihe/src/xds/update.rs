//! ITI-57 Update Document Set, for the one update dspconnect makes: a
//! change of confidentiality code (the charter's mode changes).
//!
//! The update is a `SubmitObjectsRequest` holding a SubmissionSet, a new
//! version of the DocumentEntry (new entryUUID, same logicalId and
//! uniqueId, the new codes) and a HasMember association from the set to it
//! with the slots `SubmissionSetStatus=Original` and `PreviousVersion` = the
//! version being replaced (ITI TF-2 3.57.4.1.3.3.1.1).

use super::association::Association;
use super::code::Code;
use super::constants::URN_UUID_PREFIX;
use super::document_entry::DocumentEntry;
use super::object_list::RegistryObjectList;
use super::rim::is_hyphenated_uuid;
use super::submission_set::SubmissionSet;
use super::submit::SubmitObjectsRequest;
use super::vocabulary::AssociationType;

/// Why an update cannot be built from the entry given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpdateError {
    #[error(
        "entry '{entry}' has no version; read it from the registry (GetDocuments, LeafClass) before updating it"
    )]
    MissingVersion { entry: String },
    #[error(
        "entry '{entry}' has no urn:uuid logical id; only an entry read from the registry can be updated"
    )]
    NotARegistryEntry { entry: String },
    #[error("the new entryUUID '{0}' is not a urn:uuid; updates need a fresh UUID")]
    NewIdNotAUuid(String),
}

/// What the caller supplies for a confidentiality change.
#[derive(Clone, Debug)]
pub struct ConfidentialityChange {
    /// The SubmissionSet of the update (its uniqueId, sourceId, patientId,
    /// submissionTime and author are the caller's).
    pub submission_set: SubmissionSet,
    /// Id for the new version of the entry.
    pub new_entry_uuid: String,
    /// Id for the HasMember association.
    pub association_id: String,
    /// The codes that replace the entry's confidentiality codes.
    pub confidentiality_codes: Vec<Code>,
}

impl SubmitObjectsRequest {
    /// Builds the ITI-57 request that replaces the confidentiality codes of
    /// `current` (an entry as read from the registry: it must carry its
    /// version and a `urn:uuid` logical id or entryUUID).
    pub fn confidentiality_update(
        current: &DocumentEntry,
        change: ConfidentialityChange,
    ) -> Result<Self, UpdateError> {
        let previous_version =
            current
                .version
                .clone()
                .ok_or_else(|| UpdateError::MissingVersion {
                    entry: current.entry_uuid.clone(),
                })?;
        let logical_id = current
            .logical_id
            .clone()
            .unwrap_or_else(|| current.entry_uuid.clone());
        if !is_uuid_ref(&logical_id) {
            return Err(UpdateError::NotARegistryEntry {
                entry: current.entry_uuid.clone(),
            });
        }
        if !is_uuid_ref(&change.new_entry_uuid) {
            return Err(UpdateError::NewIdNotAUuid(change.new_entry_uuid));
        }
        let new_version = DocumentEntry {
            entry_uuid: change.new_entry_uuid.clone(),
            logical_id: Some(logical_id),
            // The registry numbers versions and sets the status.
            version: None,
            availability_status: None,
            confidentiality_codes: change.confidentiality_codes,
            ..current.clone()
        };
        let member = Association {
            previous_version: Some(previous_version),
            ..Association::has_member(
                change.association_id,
                change.submission_set.entry_uuid.clone(),
                change.new_entry_uuid,
            )
        };
        Ok(SubmitObjectsRequest {
            objects: RegistryObjectList {
                submission_sets: vec![change.submission_set],
                document_entries: vec![new_version],
                associations: vec![member],
                ..RegistryObjectList::default()
            },
            request_slots: Vec::new(),
        })
    }

    /// The metadata updates in this request: each HasMember association from
    /// a SubmissionSet of the request that carries `PreviousVersion`, with
    /// the DocumentEntry of the request it points at. Associations whose
    /// target is not in the request are left out (the registry reports
    /// them).
    pub fn document_updates(&self) -> Vec<DocumentUpdate<'_>> {
        let objects = &self.objects;
        objects
            .associations
            .iter()
            .filter(|a| a.association_type == AssociationType::HasMember)
            .filter(|a| {
                objects
                    .submission_sets
                    .iter()
                    .any(|s| s.entry_uuid == a.source)
            })
            .filter_map(|a| {
                let previous_version = a.previous_version.as_deref()?;
                let entry = objects
                    .document_entries
                    .iter()
                    .find(|e| e.entry_uuid == a.target)?;
                Some(DocumentUpdate {
                    entry,
                    association: a,
                    previous_version,
                })
            })
            .collect()
    }

    /// True when the request updates existing metadata (ITI-57) rather
    /// than submitting new documents.
    pub fn is_metadata_update(&self) -> bool {
        self.objects.associations.iter().any(|a| {
            a.previous_version.is_some()
                || matches!(
                    a.association_type,
                    AssociationType::UpdateAvailabilityStatus | AssociationType::SubmitAssociation
                )
        })
    }
}

/// One DocumentEntry update found in a request.
#[derive(Clone, Copy, Debug)]
pub struct DocumentUpdate<'a> {
    /// The new version (its `logical_id` names the entry it updates).
    pub entry: &'a DocumentEntry,
    pub association: &'a Association,
    /// The version the submitter believes is current.
    pub previous_version: &'a str,
}

fn is_uuid_ref(s: &str) -> bool {
    s.get(..URN_UUID_PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(URN_UUID_PREFIX))
        && is_hyphenated_uuid(&s[URN_UUID_PREFIX.len()..])
}
