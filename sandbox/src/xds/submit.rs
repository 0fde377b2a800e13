//! ITI-41 Provide and Register Document Set-b: one DocumentEntry with its
//! document, one SubmissionSet, the HasMember association and at most one
//! RPLC association, checked in this order:
//!
//! 1. the message's structure and every required attribute
//!    (`XDSRegistryMetadataError`, all problems at once), the documents
//!    against their entries (`XDSMissingDocument`,
//!    `XDSMissingDocumentMetadata`), the patient of the set and of the entry
//!    (`XDSPatientIdDoesNotMatch`);
//! 2. hash and size against the bytes received (`XDSNonIdenticalHash`,
//!    `XDSNonIdenticalSize`);
//! 3. the author and the patient-informed statement's author against the
//!    assertion's subject (`DSPAuthorNotSubject`);
//! 4. the patient is known (`XDSUnknownPatientId`); the uniqueId is new
//!    (`XDSDuplicateUniqueIdInRegistry` — checked before the policy, so
//!    that a retry after a lost answer learns that its first attempt
//!    succeeded);
//! 5. the policy: Submit in the entry's mode, or Replace for an RPLC
//!    (`DSPAccessDenied`, `DSPGrantExpired`), written to the access trail;
//! 6. the body is moved into `data_dir/documents/`, the entry registered
//!    (symbolic ids replaced by fresh UUIDs), the replaced entry deprecated.

use axum::response::Response;
use ihe::xds::{
    AssociationType, DocumentContent, DocumentEntry, ProvideAndRegisterRequest, RegistryError,
    RegistryResponse, ResponseStatus, SubmissionSetStatus, XdsErrorCode, XdsMessage,
};
use uuid::Uuid;

use super::access::{self, Verdict};
use super::call::Call;
use super::metadata::{self, CheckedEntry, metadata_error};
use super::receive::{self, Attachment};
use super::stored;
use super::{DOCUMENTS_DIR, REPOSITORY_UNIQUE_ID, XdsService, error_code};
use crate::policy::{EHealthId, Operation};
use crate::store::{DocumentStatus, NewDocument, StoreError};

type Errors = Vec<RegistryError>;

fn error(code: XdsErrorCode, context: impl Into<String>, location: Option<String>) -> Errors {
    vec![RegistryError::error(code, context, location)]
}

/// Answers an ITI-41 call whose attachments were received.
pub(crate) async fn provide_and_register(
    service: &XdsService,
    call: &Call,
    attachments: Vec<Attachment>,
) -> Response {
    let response = match register(service, call, attachments).await {
        Ok(warnings) => RegistryResponse::with_errors(ResponseStatus::Success, warnings),
        Err(errors) => RegistryResponse::with_errors(ResponseStatus::Failure, errors),
    };
    call.reply_or_fault(response.to_element())
}

/// The parts of a submission the sandbox takes.
struct Parts<'a> {
    entry: &'a DocumentEntry,
    checked: CheckedEntry,
    set_authors: Vec<String>,
    /// The entryUUID an RPLC association replaces.
    replaces: Option<String>,
    /// Classifications and identifiers of the entry the sandbox does not
    /// keep (reported as XDSExtraMetadataNotSaved).
    dropped_extras: usize,
}

async fn register(
    service: &XdsService,
    call: &Call,
    mut attachments: Vec<Attachment>,
) -> Result<Errors, Errors> {
    let request = ProvideAndRegisterRequest::from_element(&call.payload).map_err(|e| {
        vec![metadata_error(
            format!("the ProvideAndRegisterDocumentSetRequest cannot be read: {e}"),
            None,
        )]
    })?;
    let parts = structure(service, &request)?;
    let entry_id = parts.entry.entry_uuid.clone();
    let body = document_body(service, &request, &entry_id, &mut attachments).await?;
    check_body(&parts.checked, &body, &entry_id)?;
    check_authorship(call, &parts)?;

    let store = service.context.store();
    let checked = &parts.checked;
    let store_error =
        |e: &StoreError| vec![access::store_failure(e, XdsErrorCode::RepositoryError)];
    if store
        .patient(&checked.patient)
        .map_err(|e| store_error(&e))?
        .is_none()
    {
        return Err(error(
            XdsErrorCode::UnknownPatientId,
            format!("patient {} has no DSP in the sandbox", checked.patient),
            Some(entry_id),
        ));
    }
    if store
        .document_by_unique_id(&checked.unique_id)
        .map_err(|e| store_error(&e))?
        .is_some()
    {
        return Err(duplicate(&checked.unique_id));
    }
    let new_uuid = fresh_entry_uuid(service, parts.entry)?;
    let verdict = authorize(service, call, &parts, &entry_id)?;

    let name = new_uuid.trim_start_matches("urn:uuid:").to_owned();
    let target = service.documents.join(&name);
    let stored_entry = DocumentEntry {
        entry_uuid: new_uuid.clone(),
        logical_id: Some(new_uuid.clone()),
        version: None,
        availability_status: None,
        hash: Some(body.sha1.into()),
        size: Some(body.size.into()),
        repository_unique_id: Some(REPOSITORY_UNIQUE_ID.to_owned()),
        home_community_id: None,
        other_classifications: Vec::new(),
        other_external_identifiers: Vec::new(),
        ..parts.entry.clone()
    };
    let metadata = stored::to_stored(&stored_entry).map_err(|e| {
        error(
            XdsErrorCode::RegistryMetadataError,
            e.to_string(),
            Some(entry_id.clone()),
        )
    })?;
    let author = EHealthId::new(checked.author.clone()).map_err(|e| {
        error(
            XdsErrorCode::RegistryMetadataError,
            format!("DocumentEntry.author is malformed: {e}"),
            Some(entry_id.clone()),
        )
    })?;
    let document = NewDocument {
        entry_uuid: new_uuid.clone(),
        unique_id: checked.unique_id.clone(),
        patient: checked.patient.clone(),
        author,
        mode: checked.mode,
        metadata,
        body_path: format!("{DOCUMENTS_DIR}/{name}"),
        hash: body.sha1.to_string(),
        size: body.size,
        mime_type: checked.mime_type.clone(),
    };
    body.file.persist(&target).map_err(|e| {
        vec![RegistryError::error(
            XdsErrorCode::RepositoryError,
            format!("the sandbox could not store the document: {}", e.error),
            Some(entry_id.clone()),
        )]
    })?;
    let now = service.context.clock().now();
    let registered = match &parts.replaces {
        Some(replaced) => store.replace_document(replaced, &document, now),
        None => store.insert_document(&document, now),
    };
    if let Err(e) = registered {
        // The body belongs to no entry.
        if let Err(remove) = std::fs::remove_file(&target) {
            tracing::warn!(error = %remove, "cannot remove an unregistered document body");
        }
        return Err(match e {
            StoreError::DuplicateUniqueId(unique_id) => duplicate(&unique_id),
            StoreError::AlreadyExists { .. } => entry_uuid_taken(&entry_id),
            other => store_error(&other),
        });
    }
    let logged_entry = parts.replaces.as_deref().unwrap_or(&new_uuid);
    access::record(
        service,
        call,
        &checked.patient,
        &verdict.decision,
        Some(logged_entry),
    )
    .map_err(|e| store_error(&e))?;
    let mut warnings = Vec::new();
    if parts.dropped_extras > 0 {
        warnings.push(RegistryError::warning(
            XdsErrorCode::ExtraMetadataNotSaved,
            format!(
                "{} classification(s) or external identifier(s) of DocumentEntry '{entry_id}' that XDS does not define were not saved",
                parts.dropped_extras
            ),
            Some(entry_id),
        ));
    }
    Ok(warnings)
}

fn duplicate(unique_id: &str) -> Errors {
    error(
        XdsErrorCode::DuplicateUniqueIdInRegistry,
        format!(
            "a document with uniqueId {unique_id} is already registered; if this is a retry, read the entry back (GetDocuments) to see whether the first attempt succeeded"
        ),
        Some(unique_id.to_owned()),
    )
}

fn entry_uuid_taken(entry_id: &str) -> Errors {
    error(
        XdsErrorCode::RegistryMetadataError,
        format!(
            "DocumentEntry.entryUUID {entry_id} is already used by another entry; use a symbolic id or a fresh UUID"
        ),
        Some(entry_id.to_owned()),
    )
}

/// One SubmissionSet, one DocumentEntry, their HasMember association and at
/// most one RPLC; every required attribute.
fn structure<'a>(
    service: &XdsService,
    request: &'a ProvideAndRegisterRequest,
) -> Result<Parts<'a>, Errors> {
    let objects = &request.submission.objects;
    let mut errors = Vec::new();
    for other in &objects.other_objects {
        errors.push(metadata_error(
            format!(
                "the submission holds a {} '{}', which the sandbox does not take: send one SubmissionSet, one DocumentEntry and their associations (no Folders)",
                other.local,
                other.attr("id").unwrap_or_default()
            ),
            other.attr("id").map(str::to_owned),
        ));
    }
    let set = match objects.submission_sets.as_slice() {
        [set] => Some(set),
        sets => {
            errors.push(metadata_error(
                format!(
                    "SubmissionSet: a submission holds exactly one, this one holds {}",
                    sets.len()
                ),
                None,
            ));
            None
        }
    };
    let entry = match objects.document_entries.as_slice() {
        [entry] => Some(entry),
        entries => {
            errors.push(metadata_error(
                format!(
                    "DocumentEntry: the sandbox takes one document per submission, this one holds {}",
                    entries.len()
                ),
                None,
            ));
            None
        }
    };
    let (Some(set), Some(entry)) = (set, entry) else {
        return Err(errors);
    };
    let checked_set = metadata::check_submission_set(set);
    let checked_entry = metadata::check_entry(entry, &service.codes);
    let mut member = false;
    let mut replaces = None;
    for association in &objects.associations {
        let id = association.id.clone();
        match &association.association_type {
            AssociationType::HasMember
                if association.source == set.entry_uuid && association.target == entry.entry_uuid =>
            {
                if association
                    .submission_set_status
                    .as_ref()
                    .is_some_and(|s| *s != SubmissionSetStatus::Original)
                {
                    errors.push(metadata_error(
                        format!("association '{id}': the SubmissionSetStatus of a submitted entry is Original"),
                        Some(id),
                    ));
                }
                member = true;
            }
            AssociationType::Replace if association.source == entry.entry_uuid && replaces.is_none() => {
                if association.target.starts_with("urn:uuid:") {
                    replaces = Some(association.target.clone());
                } else {
                    errors.push(metadata_error(
                        format!(
                            "association '{id}' (RPLC) targets '{}': the replaced entry is named by its entryUUID (urn:uuid:…)",
                            association.target
                        ),
                        Some(id),
                    ));
                }
            }
            other => errors.push(metadata_error(
                format!(
                    "association '{id}' ({other}, {} → {}) is not taken by the sandbox: a submission holds the SubmissionSet's HasMember to its entry and at most one RPLC from it",
                    association.source, association.target
                ),
                Some(id),
            )),
        }
    }
    if !member {
        errors.push(metadata_error(
            format!(
                "the HasMember association from SubmissionSet '{}' to DocumentEntry '{}' is missing",
                set.entry_uuid, entry.entry_uuid
            ),
            Some(entry.entry_uuid.clone()),
        ));
    }
    if set.entry_uuid == entry.entry_uuid {
        errors.push(metadata_error(
            format!(
                "the SubmissionSet and the DocumentEntry both have the id '{}'",
                set.entry_uuid
            ),
            Some(set.entry_uuid.clone()),
        ));
    }
    let (checked_set, checked_entry) = match (checked_set, checked_entry) {
        (Ok(set), Ok(entry)) if errors.is_empty() => (set, entry),
        (set, entry) => {
            errors.extend(set.err().unwrap_or_default());
            errors.extend(entry.err().unwrap_or_default());
            return Err(errors);
        }
    };
    if checked_set.patient != checked_entry.patient {
        return Err(error(
            XdsErrorCode::PatientIdDoesNotMatch,
            format!(
                "the SubmissionSet is for patient {} but DocumentEntry '{}' for patient {}",
                checked_set.patient, entry.entry_uuid, checked_entry.patient
            ),
            Some(entry.entry_uuid.clone()),
        ));
    }
    Ok(Parts {
        entry,
        checked: checked_entry,
        set_authors: checked_set.authors,
        replaces,
        dropped_extras: entry.other_classifications.len() + entry.other_external_identifiers.len(),
    })
}

/// The entry's document, on disk: its MTOM attachment, or its inline bytes
/// written out.
async fn document_body(
    service: &XdsService,
    request: &ProvideAndRegisterRequest,
    entry_id: &str,
    attachments: &mut Vec<Attachment>,
) -> Result<Attachment, Errors> {
    let mut errors = Vec::new();
    for document in &request.documents {
        if document.id != entry_id {
            errors.push(RegistryError::error(
                XdsErrorCode::MissingDocumentMetadata,
                format!(
                    "xds:Document '{}' has no DocumentEntry in the submission",
                    document.id
                ),
                Some(document.id.clone()),
            ));
        }
    }
    let documents: Vec<_> = request
        .documents
        .iter()
        .filter(|d| d.id == entry_id)
        .collect();
    let document = match documents.as_slice() {
        [one] => *one,
        [] => {
            errors.push(RegistryError::error(
                XdsErrorCode::MissingDocument,
                format!("DocumentEntry '{entry_id}' has no xds:Document"),
                Some(entry_id.to_owned()),
            ));
            return Err(errors);
        }
        many => {
            errors.push(metadata_error(
                format!(
                    "DocumentEntry '{entry_id}' has {} xds:Document elements",
                    many.len()
                ),
                Some(entry_id.to_owned()),
            ));
            return Err(errors);
        }
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    let missing = |what: String| {
        error(
            XdsErrorCode::MissingDocument,
            what,
            Some(entry_id.to_owned()),
        )
    };
    match &document.content {
        DocumentContent::Include { href } => {
            let content_id = document.content.content_id().ok_or_else(|| {
                missing(format!(
                    "xds:Document '{entry_id}' includes '{href}', which is not a cid: URL"
                ))
            })?;
            let index = attachments
                .iter()
                .position(|a| a.content_id == content_id)
                .ok_or_else(|| {
                    missing(format!(
                        "xds:Document '{entry_id}' includes MIME part <{content_id}>, which the message does not hold"
                    ))
                })?;
            Ok(attachments.swap_remove(index))
        }
        DocumentContent::Inline(bytes) => {
            receive::store_inline(&service.documents, entry_id, bytes)
                .await
                .map_err(|fault| {
                    error(
                        XdsErrorCode::RepositoryError,
                        fault.reason,
                        Some(entry_id.to_owned()),
                    )
                })
        }
    }
}

/// The hash and size the entry states, against the bytes received.
fn check_body(checked: &CheckedEntry, body: &Attachment, entry_id: &str) -> Result<(), Errors> {
    let mut errors = Vec::new();
    if let Some(hash) = checked.hash
        && hash != body.sha1
    {
        errors.push(RegistryError::error(
            XdsErrorCode::NonIdenticalHash,
            format!(
                "DocumentEntry.hash is {hash} but the document received has SHA-1 {}",
                body.sha1
            ),
            Some(entry_id.to_owned()),
        ));
    }
    if let Some(size) = checked.size
        && size != body.size
    {
        errors.push(RegistryError::error(
            XdsErrorCode::NonIdenticalSize,
            format!(
                "DocumentEntry.size is {size} but the document received has {} bytes",
                body.size
            ),
            Some(entry_id.to_owned()),
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// The author of the entry and of the set, and the author of the
/// patient-informed statement, are the professional the assertion names.
fn check_authorship(call: &Call, parts: &Parts<'_>) -> Result<(), Errors> {
    let subject = call.professional();
    let entry_id = &parts.entry.entry_uuid;
    let not_subject = |what: String| {
        RegistryError::error(
            XdsErrorCode::Other(error_code::AUTHOR_NOT_SUBJECT.to_owned()),
            format!(
                "{what}, but the assertion is {subject}'s: a professional submits only documents they author"
            ),
            Some(entry_id.clone()),
        )
    };
    let mut errors = Vec::new();
    if parts.checked.author != subject {
        errors.push(not_subject(format!(
            "DocumentEntry.author names {}",
            parts.checked.author
        )));
    }
    for author in parts.set_authors.iter().filter(|a| a.as_str() != subject) {
        errors.push(not_subject(format!("SubmissionSet.author names {author}")));
    }
    let stated_by = parts.checked.statement.stated_by().as_str();
    if stated_by != subject {
        errors.push(not_subject(format!(
            "the patient-informed statement is made by {stated_by}"
        )));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// The entryUUID to register: the one sent when it is a UUID (ITI TF-3: a
/// registry keeps UUIDs it is given), a fresh one for a symbolic id.
fn fresh_entry_uuid(service: &XdsService, entry: &DocumentEntry) -> Result<String, Errors> {
    let id = &entry.entry_uuid;
    if !id.starts_with("urn:uuid:") {
        return Ok(format!("urn:uuid:{}", Uuid::new_v4()));
    }
    match service.context.store().document(id) {
        Ok(None) => Ok(id.clone()),
        Ok(Some(_)) => Err(entry_uuid_taken(id)),
        Err(e) => Err(vec![access::store_failure(
            &e,
            XdsErrorCode::RepositoryError,
        )]),
    }
}

/// Submit (or, with RPLC, Replace) as the policy says; a refusal is written
/// to the trail and answered.
fn authorize(
    service: &XdsService,
    call: &Call,
    parts: &Parts<'_>,
    entry_id: &str,
) -> Result<Verdict, Errors> {
    let checked = &parts.checked;
    let store = service.context.store();
    let store_error = |e: &StoreError| vec![access::store_failure(e, XdsErrorCode::RegistryError)];
    let (entry_uuid, operation) = match &parts.replaces {
        Some(replaced) => {
            let unresolved = || {
                error(
                    XdsErrorCode::UnresolvedReferenceException,
                    format!(
                        "the RPLC association targets {replaced}, which is not in the registry"
                    ),
                    Some(replaced.clone()),
                )
            };
            let target = store
                .document(replaced)
                .map_err(|e| store_error(&e))?
                .ok_or_else(unresolved)?;
            if target.patient != checked.patient {
                // Another DSP's entries are not confirmed to exist.
                return Err(unresolved());
            }
            if target.status != DocumentStatus::Approved {
                return Err(error(
                    XdsErrorCode::RegistryDeprecatedDocumentError,
                    format!(
                        "the RPLC association targets {replaced}, which is Deprecated: replace its current version"
                    ),
                    Some(replaced.clone()),
                ));
            }
            (Some(replaced.as_str()), Operation::Replace)
        }
        None => (None, Operation::Submit { mode: checked.mode }),
    };
    let verdict = access::decide(service, call, &checked.patient, entry_uuid, operation)
        .map_err(|e| store_error(&e))?;
    if !verdict.is_allowed() {
        access::record(
            service,
            call,
            &checked.patient,
            &verdict.decision,
            entry_uuid,
        )
        .map_err(|e| store_error(&e))?;
        return Err(vec![access::refusal(&verdict, Some(entry_id.to_owned()))]);
    }
    Ok(verdict)
}
