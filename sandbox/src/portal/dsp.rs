//! What the portals and the admin API do to a DSP, each act decided by the
//! policy engine (`policy::decide` on `Store::facts_for`) and written to the
//! patient's access trail: list the documents a subject may see, read one,
//! change a mode, report an anomaly, and read the trail itself without
//! revealing what the viewer may not read. Also the patient's consents
//! (référent, cercle de confiance, black list, accompagnateur) and codes de
//! présence, which only the titulaire edits.

use std::collections::HashMap;

use dspconnect::model::{ConfidentialityCodeTable, ConfidentialityMode};
use ihe::xds::{AvailabilityStatus, Checked, DocumentEntry};
use ihe::xml::ParseLimits;
use time::{Duration, OffsetDateTime};

use crate::policy::{
    AccompagnateurId, Decision, EHealthId, Facts, Operation, PatientId, Subject, decide,
};
use crate::store::{
    AccessRecord, DocumentRecord, DocumentStatus, NewAccess, OneTimeCode, Store, StoreError,
};

/// How long a code de présence made in the portal or the admin API stays
/// valid (until presented; the consultation grant it becomes has its own
/// lifetime).
pub(crate) const PRESENCE_CODE_LIFETIME: Duration = Duration::hours(24);

/// A DSP operation that failed for a reason other than the policy.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DspError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "the stored metadata of document '{unique_id}' cannot be read ({reason}); its mode cannot be changed"
    )]
    Metadata { unique_id: String, reason: String },
}

/// A document a subject may list, with the facts its listing was decided on
/// (for the further questions a page asks: may this subject read it,
/// report on it, change its mode).
#[derive(Debug, Clone)]
pub(crate) struct ListedDocument {
    pub record: DocumentRecord,
    pub facts: Facts,
    pub title: String,
    /// The document's creation time from its metadata, else when it was registered.
    pub date: OffsetDateTime,
}

impl ListedDocument {
    /// The policy's answer to `operation` on this document.
    pub fn decide(&self, operation: Operation) -> Decision {
        decide(&self.facts, operation)
    }
}

/// What a document's metadata says about it, for people.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Description {
    pub title: Option<String>,
    pub creation_time: Option<OffsetDateTime>,
}

fn read_entry(metadata: &[u8]) -> Result<DocumentEntry, String> {
    let element = ihe::xml::parse(metadata, &ParseLimits::default()).map_err(|e| e.to_string())?;
    DocumentEntry::from_element(&element).map_err(|e| e.to_string())
}

/// The title and creation time in a stored DocumentEntry; nothing when it
/// cannot be read.
pub(crate) fn describe(metadata: &[u8]) -> Description {
    match read_entry(metadata) {
        Ok(entry) => Description {
            title: entry.title.filter(|t| !t.trim().is_empty()),
            creation_time: match entry.creation_time {
                Some(Checked::Valid(dtm)) => Some(dtm.start()),
                _ => None,
            },
        },
        Err(_) => Description::default(),
    }
}

fn listed(record: DocumentRecord, facts: Facts) -> ListedDocument {
    let description = describe(&record.metadata);
    ListedDocument {
        title: description
            .title
            .unwrap_or_else(|| format!("Document {}", record.unique_id)),
        date: description.creation_time.unwrap_or(record.created_at),
        record,
        facts,
    }
}

/// The patient's current (Approved) documents that `subject` may list,
/// oldest first. Listing is not recorded here (see [`record`]).
pub(crate) fn listed_documents(
    store: &Store,
    subject: &Subject,
    patient: &PatientId,
    now: OffsetDateTime,
) -> Result<Vec<ListedDocument>, StoreError> {
    let mut out = Vec::new();
    for record in store.documents_of_patient(patient, Some(DocumentStatus::Approved))? {
        let facts = store.facts_for(subject, patient, Some(&record.entry_uuid), now)?;
        if decide(&facts, Operation::List).is_allowed() {
            out.push(listed(record, facts));
        }
    }
    Ok(out)
}

/// The patient's current document with this uniqueId, with the facts for
/// `subject`; `None` when there is none (unknown, another patient's, or
/// replaced), which callers answer alike.
pub(crate) fn current_document(
    store: &Store,
    subject: &Subject,
    patient: &PatientId,
    unique_id: &str,
    now: OffsetDateTime,
) -> Result<Option<ListedDocument>, StoreError> {
    let Some(record) = store.document_by_unique_id(unique_id)? else {
        return Ok(None);
    };
    if record.patient != *patient || record.status != DocumentStatus::Approved {
        return Ok(None);
    }
    let facts = store.facts_for(subject, patient, Some(&record.entry_uuid), now)?;
    Ok(Some(listed(record, facts)))
}

/// Decides `operation` for `subject` on the DSP itself (no document).
pub(crate) fn decide_on_dsp(
    store: &Store,
    subject: &Subject,
    patient: &PatientId,
    operation: Operation,
    now: OffsetDateTime,
) -> Result<Decision, StoreError> {
    let facts = store.facts_for(subject, patient, None, now)?;
    Ok(decide(&facts, operation))
}

/// Writes a decision to the patient's access trail.
pub(crate) fn record(
    store: &Store,
    subject: &Subject,
    patient: &PatientId,
    decision: &Decision,
    entry_uuid: Option<&str>,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    store.record_access(&NewAccess {
        at: now,
        patient,
        subject,
        decision,
        entry_uuid,
    })?;
    Ok(())
}

/// What asking for a mode change gave.
#[derive(Debug)]
pub(crate) enum ModeChange {
    /// The new version of the entry.
    Changed(Box<DocumentRecord>),
    /// The policy said no (or that the document already is in that mode).
    Refused(Decision),
}

/// Changes `document`'s mode to `to` as `subject`, if the policy allows:
/// a new version of the entry (new entryUUID, same logicalId and uniqueId,
/// the new confidentialityCode), as an ITI-57 update would make. The
/// decision is written to the trail either way.
pub(crate) fn change_mode(
    store: &Store,
    subject: &Subject,
    document: &ListedDocument,
    to: ConfidentialityMode,
    now: OffsetDateTime,
) -> Result<ModeChange, DspError> {
    let decision = document.decide(Operation::ChangeMode { to });
    let patient = &document.record.patient;
    record(
        store,
        subject,
        patient,
        &decision,
        Some(&document.record.entry_uuid),
        now,
    )?;
    if !decision.is_allowed() {
        return Ok(ModeChange::Refused(decision));
    }
    let new_entry_uuid = format!("urn:uuid:{}", uuid::Uuid::new_v4());
    let metadata = metadata_in_mode(&document.record, &new_entry_uuid, to)?;
    let changed = store.change_document_mode(
        &document.record.entry_uuid,
        &new_entry_uuid,
        to,
        metadata,
        now,
    )?;
    Ok(ModeChange::Changed(Box::new(changed)))
}

/// The entry's metadata as its next version in mode `to`: new id, same
/// logical id, next version number, Approved, and the mode's code (from
/// the sandbox's code table) in place of any mode code it carried.
fn metadata_in_mode(
    record: &DocumentRecord,
    new_entry_uuid: &str,
    to: ConfidentialityMode,
) -> Result<Vec<u8>, DspError> {
    let unreadable = |reason: String| DspError::Metadata {
        unique_id: record.unique_id.clone(),
        reason,
    };
    let mut entry = read_entry(&record.metadata).map_err(unreadable)?;
    let table = ConfidentialityCodeTable::sandbox();
    entry.confidentiality_codes.retain(|code| {
        table
            .mode_for(
                &code.code,
                code.coding_scheme.as_deref().unwrap_or_default(),
            )
            .is_err()
    });
    let code = table.code_for(to);
    entry.confidentiality_codes.push(ihe::xds::Code::new(
        code.code(),
        code.coding_scheme(),
        code.display_name(),
    ));
    entry.entry_uuid = new_entry_uuid.to_owned();
    entry.logical_id = Some(record.logical_id.clone());
    entry.version = Some((record.version + 1).to_string());
    entry.availability_status = Some(AvailabilityStatus::Approved);
    let element = entry.to_element().map_err(|e| unreadable(e.to_string()))?;
    Ok(ihe::xml::to_string(&element).into_bytes())
}

/// One line of the access trail a viewer may see.
#[derive(Debug, Clone)]
pub(crate) struct TrailLine {
    pub access: AccessRecord,
    /// The document's title (current version), when the line concerns one.
    pub document_title: Option<String>,
}

/// The patient's access trail as `viewer` may see it: a line about a
/// document appears only if the viewer may read that document now (its
/// current version), so that a Visite d'annonce stays hidden from the
/// patient and the accompagnateur until it is announced — its very
/// existence included.
pub(crate) fn visible_trail(
    store: &Store,
    viewer: &Subject,
    patient: &PatientId,
    now: OffsetDateTime,
) -> Result<Vec<TrailLine>, StoreError> {
    // Per logical document: the title, if the viewer may read it.
    let mut readable: HashMap<String, Option<String>> = HashMap::new();
    let mut lines = Vec::new();
    for access in store.access_trail(patient)? {
        let document_title = match &access.entry_uuid {
            None => None,
            Some(entry_uuid) => {
                let Some(version) = store.document(entry_uuid)? else {
                    continue;
                };
                if !readable.contains_key(&version.logical_id) {
                    let verdict = readable_title(store, viewer, patient, &version, now)?;
                    readable.insert(version.logical_id.clone(), verdict);
                }
                match readable.get(&version.logical_id).cloned().flatten() {
                    Some(title) => Some(title),
                    None => continue,
                }
            }
        };
        lines.push(TrailLine {
            access,
            document_title,
        });
    }
    Ok(lines)
}

/// The title of the current version of `version`'s document if `viewer`
/// may read it.
fn readable_title(
    store: &Store,
    viewer: &Subject,
    patient: &PatientId,
    version: &DocumentRecord,
    now: OffsetDateTime,
) -> Result<Option<String>, StoreError> {
    let versions = store.document_versions(&version.logical_id)?;
    let current = versions
        .iter()
        .rev()
        .find(|v| v.status == DocumentStatus::Approved)
        .or(versions.last())
        .unwrap_or(version);
    if current.patient != *patient {
        return Ok(None);
    }
    let facts = store.facts_for(viewer, patient, Some(&current.entry_uuid), now)?;
    if !decide(&facts, Operation::Read).is_allowed() {
        return Ok(None);
    }
    Ok(Some(describe(&current.metadata).title.unwrap_or_else(
        || format!("Document {}", current.unique_id),
    )))
}

/// A change the titulaire makes to their consents (charter, « Droit du
/// patient »).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ConsentEdit {
    /// Choose (or, with `None`, stop having) a médecin référent.
    Referent(Option<EHealthId>),
    AddToCercle(EHealthId),
    RemoveFromCercle(EHealthId),
    AddToBlackList(EHealthId),
    RemoveFromBlackList(EHealthId),
    NameAccompagnateur(AccompagnateurId),
    RemoveAccompagnateur(AccompagnateurId),
}

/// Applies a consent edit for `patient`. Professionals must be in the HPD
/// and accompagnateurs registered (`NotFound` otherwise).
pub(crate) fn edit_consent(
    store: &Store,
    patient: &PatientId,
    edit: &ConsentEdit,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let listed = |id: &EHealthId| -> Result<(), StoreError> {
        match store.professional(id)? {
            Some(_) => Ok(()),
            None => Err(StoreError::NotFound {
                what: "professional in the HPD",
                id: id.to_string(),
            }),
        }
    };
    match edit {
        ConsentEdit::Referent(referent) => {
            if let Some(id) = referent {
                listed(id)?;
            }
            store.set_referent(patient, referent.as_ref(), now)
        }
        ConsentEdit::AddToCercle(id) => {
            listed(id)?;
            store.add_to_cercle(patient, id, now)
        }
        ConsentEdit::RemoveFromCercle(id) => store.remove_from_cercle(patient, id),
        ConsentEdit::AddToBlackList(id) => {
            listed(id)?;
            store.add_to_black_list(patient, id, now)
        }
        ConsentEdit::RemoveFromBlackList(id) => store.remove_from_black_list(patient, id),
        ConsentEdit::NameAccompagnateur(login) => {
            if store.accompagnateur(login)?.is_none() {
                return Err(StoreError::NotFound {
                    what: "accompagnateur",
                    id: login.to_string(),
                });
            }
            store.name_accompagnateur(patient, login, now)
        }
        ConsentEdit::RemoveAccompagnateur(login) => store.remove_accompagnateur(patient, login),
    }
}

/// A new code de présence for the patient, valid `lifetime`; shown once.
pub(crate) fn create_presence_code(
    store: &Store,
    patient: &PatientId,
    now: OffsetDateTime,
    lifetime: Duration,
) -> Result<(OneTimeCode, OffsetDateTime), StoreError> {
    let code = store.create_presence_code(patient, now, lifetime)?;
    Ok((code, now + lifetime))
}
