//! ITI-57 Update Document Set, for the one update the DSP knows: a change
//! of confidentialityCode (the charter's mode changes). The request holds a
//! SubmissionSet, the new version of the DocumentEntry (new entryUUID, the
//! same logicalId, every other attribute unchanged) and a HasMember
//! association with `PreviousVersion`; the registry checks the version,
//! asks the policy (ChangeMode), registers the new version and deprecates
//! the previous one.

use axum::response::Response;
use dspconnect::model::{ConfidentialityMode, Matricule};
use ihe::xds::{
    AssociationType, DocumentEntry, RegistryError, RegistryResponse, ResponseStatus,
    SubmitObjectsRequest, XdsErrorCode, XdsMessage,
};
use uuid::Uuid;

use super::access;
use super::call::Call;
use super::metadata::{self, metadata_error};
use super::stored;
use super::{XdsService, error_code};
use crate::policy::{Operation, PatientId};
use crate::store::{DocumentRecord, DocumentStatus, StoreError};

type Errors = Vec<RegistryError>;

fn error(code: XdsErrorCode, context: impl Into<String>, location: Option<&str>) -> Errors {
    vec![RegistryError::error(
        code,
        context,
        location.map(str::to_owned),
    )]
}

fn store_error(error: &StoreError) -> Errors {
    vec![access::store_failure(error, XdsErrorCode::RegistryError)]
}

pub(crate) fn update_document_set(service: &XdsService, call: &Call) -> Response {
    let response = match update(service, call) {
        Ok(()) => RegistryResponse::success(),
        Err(errors) => RegistryResponse::with_errors(ResponseStatus::Failure, errors),
    };
    call.reply_or_fault(response.to_element())
}

fn update(service: &XdsService, call: &Call) -> Result<(), Errors> {
    let request = SubmitObjectsRequest::from_element(&call.payload).map_err(|e| {
        vec![metadata_error(
            format!("the SubmitObjectsRequest cannot be read: {e}"),
            None,
        )]
    })?;
    if !request.is_metadata_update() {
        return Err(error(
            XdsErrorCode::RegistryError,
            "ITI-42 Register Document Set is not offered: submit documents with ITI-41 on /xds/repository; \
             an ITI-57 update carries a HasMember association with a PreviousVersion slot",
            None,
        ));
    }
    let objects = &request.objects;
    let operation_error =
        |context: String| error(XdsErrorCode::MetadataUpdateOperationError, context, None);
    if let Some(association) = objects.associations.iter().find(|a| {
        matches!(
            a.association_type,
            AssociationType::UpdateAvailabilityStatus | AssociationType::SubmitAssociation
        )
    }) {
        return Err(operation_error(format!(
            "association '{}' ({}) asks for an update the sandbox does not offer: it changes a document's confidentialityCode only",
            association.id, association.association_type
        )));
    }
    let updates = request.document_updates();
    let [change] = updates.as_slice() else {
        return Err(operation_error(format!(
            "the request holds {} DocumentEntry updates; the sandbox takes one per request",
            updates.len()
        )));
    };
    if objects.submission_sets.len() != 1
        || objects.document_entries.len() != 1
        || objects.associations.len() != 1
        || !objects.other_objects.is_empty()
    {
        return Err(operation_error(
            "an update holds one SubmissionSet, the new version of one DocumentEntry and their HasMember association, nothing else"
                .to_owned(),
        ));
    }
    let new_version = change.entry;
    let location = Some(new_version.entry_uuid.as_str());
    let set = metadata::check_submission_set(&objects.submission_sets[0])?;
    if let Some(author) = set
        .authors
        .iter()
        .find(|a| a.as_str() != call.professional())
    {
        return Err(error(
            XdsErrorCode::Other(error_code::AUTHOR_NOT_SUBJECT.to_owned()),
            format!(
                "SubmissionSet.author names {author}, but the assertion is {}'s",
                call.professional()
            ),
            location,
        ));
    }

    let update_error =
        |context: String| error(XdsErrorCode::MetadataUpdateError, context, location);
    let store = service.context.store();
    let new_uuid = checked_new_uuid(&new_version.entry_uuid).ok_or_else(|| {
        update_error(format!(
            "the new version's entryUUID '{}' is not a urn:uuid: an update names its new version with a fresh UUID",
            new_version.entry_uuid
        ))
    })?;
    if store
        .document(&new_uuid)
        .map_err(|e| store_error(&e))?
        .is_some()
    {
        return Err(update_error(format!(
            "entryUUID {new_uuid} is already used: give the new version a fresh UUID"
        )));
    }
    let logical_id = new_version.logical_id.as_deref().ok_or_else(|| {
        update_error(
            "the new version has no logicalId (lid): it names the entry being updated".to_owned(),
        )
    })?;
    let versions = store
        .document_versions(logical_id)
        .map_err(|e| store_error(&e))?;
    let Some(current) = versions
        .iter()
        .rev()
        .find(|v| v.status == DocumentStatus::Approved)
    else {
        return Err(if versions.is_empty() {
            error(
                XdsErrorCode::UnresolvedReferenceException,
                format!("no entry has the logicalId {logical_id}"),
                location,
            )
        } else {
            error(
                XdsErrorCode::RegistryDeprecatedDocumentError,
                format!("the entry {logical_id} is Deprecated (replaced): update its replacement"),
                location,
            )
        });
    };
    if change.previous_version.trim() != current.version.to_string() {
        return Err(error(
            XdsErrorCode::MetadataVersionError,
            format!(
                "PreviousVersion is '{}' but the current version of {logical_id} is {}: read the entry again",
                change.previous_version, current.version
            ),
            location,
        ));
    }
    check_patient(current, new_version, &set.patient)?;
    let mode = new_mode(service, new_version)?;
    check_unchanged(current, new_version)?;

    let verdict = access::decide(
        service,
        call,
        &current.patient,
        Some(&current.entry_uuid),
        Operation::ChangeMode { to: mode },
    )
    .map_err(|e| store_error(&e))?;
    if !verdict.is_allowed() {
        access::record(
            service,
            call,
            &current.patient,
            &verdict.decision,
            Some(&current.entry_uuid),
        )
        .map_err(|e| store_error(&e))?;
        return Err(vec![access::refusal(
            &verdict,
            Some(new_version.entry_uuid.clone()),
        )]);
    }
    let mut next = stored::from_stored(current).map_err(|e| update_error(e.to_string()))?;
    next.entry_uuid = new_uuid.clone();
    next.logical_id = Some(current.logical_id.clone());
    next.confidentiality_codes = vec![stored::confidentiality_code(&service.codes, mode)];
    let metadata = stored::to_stored(&next).map_err(|e| update_error(e.to_string()))?;
    let now = service.context.clock().now();
    store
        .change_document_mode(&current.entry_uuid, &new_uuid, mode, metadata, now)
        .map_err(|e| store_error(&e))?;
    access::record(
        service,
        call,
        &current.patient,
        &verdict.decision,
        Some(&new_uuid),
    )
    .map_err(|e| store_error(&e))?;
    Ok(())
}

/// A `urn:uuid:` id, lower-cased (the reader checked its shape).
fn checked_new_uuid(id: &str) -> Option<String> {
    let uuid = id.strip_prefix("urn:uuid:")?;
    Uuid::parse_str(uuid)
        .ok()
        .map(|u| format!("urn:uuid:{}", u.hyphenated()))
}

fn check_patient(
    current: &DocumentRecord,
    new_version: &DocumentEntry,
    set_patient: &PatientId,
) -> Result<(), Errors> {
    let location = Some(new_version.entry_uuid.as_str());
    let entry_patient = new_version
        .patient_id
        .as_deref()
        .map(Matricule::from_cx)
        .and_then(Result::ok)
        .map(|m| PatientId::from_matricule(&m));
    if entry_patient.as_ref() != Some(&current.patient) || set_patient != &current.patient {
        return Err(error(
            XdsErrorCode::PatientIdDoesNotMatch,
            format!(
                "the entry belongs to patient {}; the update's DocumentEntry.patientId and SubmissionSet.patientId must name that patient",
                current.patient
            ),
            location,
        ));
    }
    Ok(())
}

/// The mode of the new version's one confidentialityCode.
fn new_mode(
    service: &XdsService,
    new_version: &DocumentEntry,
) -> Result<ConfidentialityMode, Errors> {
    let location = Some(new_version.entry_uuid.clone());
    let [code] = new_version.confidentiality_codes.as_slice() else {
        return Err(vec![metadata_error(
            format!(
                "DocumentEntry.confidentialityCode: the new version carries {} codes; a DSP document has exactly one mode",
                new_version.confidentiality_codes.len()
            ),
            location,
        )]);
    };
    service
        .codes
        .mode_for(&code.code, code.coding_scheme.as_deref().unwrap_or_default())
        .map_err(|e| {
            vec![metadata_error(
                format!(
                    "DocumentEntry.confidentialityCode is malformed: {e}; the platform's codes are {}",
                    metadata::describe_table(&service.codes)
                ),
                location,
            )]
        })
}

/// Everything but the confidentialityCode (and the ids, version, status and
/// repository attributes the registry sets) is the current version's.
fn check_unchanged(current: &DocumentRecord, new_version: &DocumentEntry) -> Result<(), Errors> {
    let stored = stored::from_stored(current)
        .map_err(|e| error(XdsErrorCode::RegistryError, e.to_string(), None))?;
    let persons = |entry: &DocumentEntry| -> Vec<Option<String>> {
        entry.authors.iter().map(|a| a.person.clone()).collect()
    };
    let differs: Option<&str> = [
        ("uniqueId", stored.unique_id != new_version.unique_id),
        ("mimeType", stored.mime_type != new_version.mime_type),
        ("classCode", stored.class_code != new_version.class_code),
        ("typeCode", stored.type_code != new_version.type_code),
        ("formatCode", stored.format_code != new_version.format_code),
        (
            "practiceSettingCode",
            stored.practice_setting_code != new_version.practice_setting_code,
        ),
        (
            "healthcareFacilityTypeCode",
            stored.healthcare_facility_type_code != new_version.healthcare_facility_type_code,
        ),
        (
            "creationTime",
            stored.creation_time != new_version.creation_time,
        ),
        (
            "languageCode",
            stored.language_code != new_version.language_code,
        ),
        (
            "sourcePatientId",
            stored.source_patient_id != new_version.source_patient_id,
        ),
        ("title", stored.title != new_version.title),
        ("author", persons(&stored) != persons(new_version)),
    ]
    .into_iter()
    .find_map(|(name, changed)| changed.then_some(name));
    match differs {
        None => Ok(()),
        Some(attribute) => Err(error(
            XdsErrorCode::MetadataUpdateError,
            format!(
                "DocumentEntry.{attribute} differs from the current version's: the sandbox updates the confidentialityCode only; copy every other attribute from the entry as read (GetDocuments)"
            ),
            Some(new_version.entry_uuid.as_str()),
        )),
    }
}
