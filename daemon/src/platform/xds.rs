//! XDS.b: ITI-41 (MTOM, the document streamed from the spool copy with its
//! Content-Length), ITI-18 (FindDocuments, GetDocuments), ITI-43 (streamed
//! into the caller's sink), ITI-57 (confidentiality change).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use dspconnect::ipc::protocol::{DocumentSummary, ListParams, Professional};
use dspconnect::model::{
    ConfidentialityMode, DropFolderPath, EHealthId, PatientInformedStatement, StatementSource,
    UtcTimestamp,
};
use futures_util::StreamExt as _;
use ihe::mtom::{AttachmentSpec, MtomEvent, MtomLayout, MtomLimits, MtomParser, RootPart, Segment};
use ihe::xds::*;
use ihe::xml::Element;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::io::AsyncWriteExt as _;
use uuid::Uuid;

use super::secret::zeroizing_bytes;
use super::transport::{CallFailure, error_chain, payload_of, read_body};
use super::{PlatformClient, PlatformError};
use crate::outbox::{
    JobRecord, PlatformFault, ReadBackOutcome, RegisteredEntry,
    StatementSource as JobStatementSource, UploadFailure, UploadOutcome,
};
use crate::session::{Assertion, Matricule};

pub const ITI41: &str = "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b";
pub const ITI43: &str = "urn:ihe:iti:2007:RetrieveDocumentSet";
pub const ITI18: &str = "urn:ihe:iti:2007:RegistryStoredQuery";
pub const ITI57: &str = "urn:ihe:iti:2010:UpdateDocumentSet";

/// The assigning authority of matricules.
const MATRICULE_AUTHORITY: &str = "1.3.182.4.4";

/// The XDS `sourceId` when the profile gives no OID root of ours: a fixed
/// UUID-derived OID (ISO/IEC 9834-8) naming dspconnectd.
const DEFAULT_SOURCE_ID: &str = "2.25.241346046474930116826476335424917096187";

const DOCUMENT_CID: &str = "document@dspconnect";
const ROOT_CID: &str = "root@dspconnect";

/// What a retrieval delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrievedInfo {
    pub size: u64,
    /// SHA-256, lowercase hex.
    pub sha256: String,
    pub mime_type: String,
}

fn cx(matricule: &str) -> String {
    format!("{matricule}^^^&{MATRICULE_AUTHORITY}&ISO")
}

fn ihe_code(code: &dspconnect::model::Code) -> Code {
    Code::new(code.code(), code.coding_scheme(), code.display_name())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The eHealth id in an XCN `authorPerson` (its first component).
fn ehealth_id_of(person: &str) -> &str {
    person.split('^').next().unwrap_or_default()
}

/// "Given Family" from an XCN (`id^family^given^…`), or the id.
fn name_of(person: &str) -> String {
    let parts: Vec<&str> = person.split('^').collect();
    let family = parts.get(1).copied().unwrap_or_default();
    let given = parts.get(2).copied().unwrap_or_default();
    let name = format!("{given} {family}");
    let name = name.trim();
    if name.is_empty() {
        ehealth_id_of(person).to_owned()
    } else {
        name.to_owned()
    }
}

/// Registry errors whose codes are the platform's policy decisions, as
/// the faults the retry table and callers know.
fn policy_failure(failure: &RegistryFailure) -> Option<PlatformFault> {
    let has = |code: &str| {
        failure
            .errors
            .iter()
            .any(|e| e.severity.is_error() && e.error_code.as_str() == code)
    };
    if has("DSPAccessDenied") || has("DSPAuthorNotSubject") {
        Some(PlatformFault::AccessDenied)
    } else if has("DSPGrantExpired") {
        Some(PlatformFault::GrantExpired)
    } else {
        None
    }
}

fn registry_error(failure: RegistryFailure) -> PlatformError {
    let message = failure.to_string();
    match policy_failure(&failure) {
        Some(PlatformFault::AccessDenied) => PlatformError::AccessDenied { message },
        Some(PlatformFault::GrantExpired) => PlatformError::GrantExpired { message },
        _ if failure.has(&XdsErrorCode::DocumentUniqueIdError)
            || failure.has(&XdsErrorCode::UnresolvedReferenceException) =>
        {
            PlatformError::UnknownDocument { message }
        }
        _ => PlatformError::Registry {
            codes: failure
                .errors
                .iter()
                .map(|e| e.error_code.as_str().to_owned())
                .collect(),
            message,
        },
    }
}

impl PlatformClient {
    fn author(&self, ehealth_id: &str) -> Author {
        Author {
            person: Some(format!(
                "{ehealth_id}^^^^^^^^&{}&ISO",
                self.profile().ehealth_id_authority()
            )),
            ..Author::default()
        }
    }

    fn source_id(&self) -> String {
        self.profile()
            .unique_id_root
            .clone()
            .unwrap_or_else(|| DEFAULT_SOURCE_ID.to_owned())
    }

    /// The SubmissionSet of a submission or an update by `ehealth_id`.
    fn submission_set(
        &self,
        unique_id: String,
        patient: &str,
        ehealth_id: &str,
        content_type: Code,
    ) -> SubmissionSet {
        SubmissionSet {
            entry_uuid: "SubmissionSet01".into(),
            unique_id: Some(unique_id),
            source_id: Some(self.source_id()),
            patient_id: Some(cx(patient)),
            submission_time: Some(Dtm::from_datetime(OffsetDateTime::now_utc()).into()),
            content_type_code: Some(content_type),
            authors: vec![self.author(ehealth_id)],
            ..SubmissionSet::default()
        }
    }

    /// The ITI-41 request of a job. Symbolic ids: the registry names the
    /// objects; what identifies the document across retries is its
    /// uniqueId.
    fn provide_and_register(
        &self,
        job: &JobRecord,
        replaced_entry_uuid: Option<String>,
    ) -> Result<ProvideAndRegisterRequest, String> {
        let m = &job.metadata;
        let author = &job.owner.ehealth_id;
        let source = match job.statement_source {
            JobStatementSource::Ipc => StatementSource::Api,
            JobStatementSource::Sidecar => StatementSource::Sidecar,
            JobStatementSource::FolderDefault => StatementSource::FolderDefault {
                folder: self
                    .inner
                    .drop_folder
                    .as_deref()
                    .ok_or("the statement rests on a drop folder default, and no drop folder is configured")
                    .and_then(|f| DropFolderPath::new(f).map_err(|_| "the drop folder's path cannot be written in a statement"))?,
            },
        };
        let statement = PatientInformedStatement::new(
            author
                .parse::<EHealthId>()
                .map_err(|e| format!("the job's professional '{author}': {e}"))?,
            UtcTimestamp::from(m.patient_informed_at),
            source,
        )
        .to_wire();
        let entry = DocumentEntry {
            entry_uuid: "Document01".into(),
            object_type: Some(DocumentEntryType::Stable),
            unique_id: Some(job.document_unique_id.clone()),
            patient_id: Some(cx(&m.patient)),
            source_patient_id: Some(cx(&m.patient)),
            mime_type: Some(m.mime_type.clone()),
            title: Some(m.title.clone()),
            comments: m.comments.clone(),
            class_code: Some(ihe_code(&m.class_code)),
            type_code: Some(ihe_code(&m.type_code)),
            format_code: Some(ihe_code(&m.format_code)),
            practice_setting_code: Some(ihe_code(&m.practice_setting_code)),
            healthcare_facility_type_code: Some(ihe_code(&m.healthcare_facility_type_code)),
            confidentiality_codes: vec![ihe_code(&m.confidentiality_code)],
            creation_time: Some(Dtm::from_datetime(m.creation_time).into()),
            service_start_time: m.service_start.map(|t| Dtm::from_datetime(t).into()),
            service_stop_time: m.service_stop.map(|t| Dtm::from_datetime(t).into()),
            language_code: Some(m.language.clone()),
            hash: Some(
                Sha1Hash::from_hex(&job.content.sha1)
                    .map_err(|e| e.0)?
                    .into(),
            ),
            size: Some(job.content.size.into()),
            authors: vec![self.author(author)],
            extra_slots: vec![Slot::single(
                self.profile().patient_informed_slot.clone(),
                statement,
            )],
            ..DocumentEntry::default()
        };
        let set = self.submission_set(
            job.submission_set_unique_id.clone(),
            &m.patient,
            author,
            ihe_code(&m.class_code),
        );
        let mut associations = vec![Association::has_member(
            "Member01",
            "SubmissionSet01",
            "Document01",
        )];
        if let Some(replaced) = replaced_entry_uuid {
            associations.push(Association::replacement(
                "Replace01",
                "Document01",
                replaced,
            ));
        }
        Ok(ProvideAndRegisterRequest {
            documents: vec![Document {
                id: "Document01".into(),
                content: DocumentContent::include(DOCUMENT_CID),
            }],
            submission: SubmitObjectsRequest {
                objects: RegistryObjectList {
                    submission_sets: vec![set],
                    document_entries: vec![entry],
                    associations,
                    ..RegistryObjectList::default()
                },
                request_slots: Vec::new(),
            },
        })
    }

    /// ITI-41 of an outbox job, the content streamed from `content`.
    pub async fn submit(
        &self,
        assertion: &Assertion,
        job: &JobRecord,
        content: &Path,
    ) -> UploadOutcome {
        match self.try_submit(assertion, job, content).await {
            Ok(()) => UploadOutcome::Registered,
            Err(failure) => UploadOutcome::Failed(failure),
        }
    }

    async fn try_submit(
        &self,
        assertion: &Assertion,
        job: &JobRecord,
        content: &Path,
    ) -> Result<(), UploadFailure> {
        let replaced = match &job.replaces {
            Some(unique_id) => match self.entry_by_unique_id(assertion, unique_id).await {
                Ok(Some(entry)) => Some(entry.entry_uuid),
                Ok(None) => {
                    return Err(UploadFailure::Fault {
                        fault: PlatformFault::UnknownDocument,
                        message: format!("the document {unique_id} to replace is not in the DSP"),
                    });
                }
                Err(failure) => return Err(failure.into_upload_failure()),
            },
            None => None,
        };
        let request =
            self.provide_and_register(job, replaced)
                .map_err(|reason| UploadFailure::Fault {
                    fault: PlatformFault::Malformed,
                    message: reason,
                })?;
        let payload = request.to_element().map_err(|e| UploadFailure::Fault {
            fault: PlatformFault::Malformed,
            message: e.to_string(),
        })?;
        let url = self.profile().repository_url.clone();
        let envelope = self.bearer_envelope(payload, ITI41, &url, assertion);
        let layout = MtomLayout::new(
            RootPart {
                content_id: ROOT_CID.into(),
                // Moved out of its zeroizing buffer without a copy; the
                // body stream puts it back into one (`zeroizing_bytes`).
                envelope: std::mem::take(&mut *envelope.into_zeroizing()),
            },
            vec![AttachmentSpec {
                content_id: DOCUMENT_CID.into(),
                content_type: job.metadata.mime_type.clone(),
                length: job.content.size,
            }],
            Some(ITI41),
        )
        .map_err(|e| UploadFailure::Fault {
            fault: PlatformFault::Malformed,
            message: e.to_string(),
        })?;
        let content_type = layout.content_type().to_owned();
        let length = layout.content_length();
        let sent_all = Arc::new(AtomicBool::new(false));
        let body = body_stream(
            layout.into_segments(),
            content.to_owned(),
            length,
            sent_all.clone(),
        );
        let response = self
            .transport()
            .client()
            .post(&url)
            .header("content-type", content_type)
            .header("content-length", length)
            .body(reqwest::Body::wrap_stream(body))
            .send()
            .await
            .map_err(|e| {
                CallFailure::transport(&url, &e, sent_all.load(Ordering::SeqCst))
                    .into_upload_failure()
            })?;
        let payload = read_answer(&url, response)
            .await
            .map_err(CallFailure::into_upload_failure)?;
        let answer =
            RegistryResponse::from_element(&payload).map_err(|e| UploadFailure::Fault {
                fault: PlatformFault::Other("InvalidAnswer".to_owned()),
                message: format!("the repository's answer is not a RegistryResponse: {e}"),
            })?;
        match answer.into_result() {
            Ok(_warnings) => Ok(()),
            Err(failure) => Err(match policy_failure(&failure) {
                Some(fault) => UploadFailure::Fault {
                    fault,
                    message: failure.to_string(),
                },
                None => UploadFailure::from(failure),
            }),
        }
    }

    /// ITI-18 GetDocuments by uniqueId, for the outbox's read-back.
    pub async fn find_by_unique_id(
        &self,
        assertion: &Assertion,
        job: &JobRecord,
    ) -> ReadBackOutcome {
        match self
            .entry_by_unique_id(assertion, &job.document_unique_id)
            .await
        {
            Ok(Some(entry)) => ReadBackOutcome::Found(RegisteredEntry {
                sha1: entry
                    .hash
                    .as_ref()
                    .and_then(|h| h.valid().map(ToString::to_string))
                    .unwrap_or_default(),
                author_ehealth_id: entry
                    .authors
                    .first()
                    .and_then(|a| a.person.as_deref())
                    .map(ehealth_id_of)
                    .unwrap_or_default()
                    .to_owned(),
            }),
            Ok(None) => ReadBackOutcome::NotFound,
            Err(failure) => ReadBackOutcome::Failed(failure.into_upload_failure()),
        }
    }

    async fn query(
        &self,
        assertion: &Assertion,
        query: StoredQuery,
    ) -> Result<Result<RegistryObjectList, RegistryFailure>, CallFailure> {
        let request = AdhocQueryRequest::new(&query, ReturnType::LeafClass)
            .and_then(|r| r.to_element())
            .map_err(|e| CallFailure::invalid(format!("the query cannot be written: {e}")))?;
        let url = self.profile().registry_url.clone();
        let envelope = self.bearer_envelope(request, ITI18, &url, assertion);
        let payload = self.transport().soap(&url, ITI18, envelope).await?;
        let answer = AdhocQueryResponse::from_element(&payload).map_err(|e| {
            CallFailure::invalid(format!(
                "the registry's answer is not a query response: {e}"
            ))
        })?;
        Ok(answer.into_result().map(|(objects, _warnings)| objects))
    }

    async fn entry_by_unique_id(
        &self,
        assertion: &Assertion,
        unique_id: &str,
    ) -> Result<Option<DocumentEntry>, CallFailure> {
        let query = StoredQuery::GetDocuments(GetDocumentsQuery {
            ids: DocumentIds::UniqueIds(vec![unique_id.to_owned()]),
            other_parameters: Vec::new(),
        });
        match self.query(assertion, query).await? {
            Ok(objects) => Ok(objects.document_entries.into_iter().next()),
            Err(failure) if failure.has(&XdsErrorCode::DocumentUniqueIdError) => Ok(None),
            Err(failure) => Err(CallFailure::invalid(failure.to_string())),
        }
    }

    fn summary(&self, entry: &DocumentEntry) -> Result<DocumentSummary, PlatformError> {
        let invalid = |what: &str| PlatformError::InvalidResponse {
            reason: format!("a registry entry has no valid {what}"),
        };
        let code = entry
            .confidentiality_codes
            .first()
            .ok_or_else(|| invalid("confidentialityCode"))?;
        let mode = self
            .profile()
            .confidentiality_codes
            .mode_for(
                &code.code,
                code.coding_scheme.as_deref().unwrap_or_default(),
            )
            .map_err(|e| PlatformError::InvalidResponse {
                reason: e.to_string(),
            })?;
        let person = entry
            .authors
            .first()
            .and_then(|a| a.person.clone())
            .unwrap_or_default();
        let creation = entry
            .creation_time
            .as_ref()
            .and_then(|c| c.valid())
            .map(|d| d.start().format(&Rfc3339).unwrap_or_default())
            .unwrap_or_default();
        Ok(DocumentSummary {
            unique_id: entry.unique_id.clone().ok_or_else(|| invalid("uniqueId"))?,
            entry_uuid: entry.entry_uuid.clone(),
            patient: entry
                .patient_id
                .as_deref()
                .map(|p| p.split('^').next().unwrap_or_default().to_owned())
                .unwrap_or_default(),
            title: entry.title.clone().unwrap_or_default(),
            mode,
            mime_type: entry.mime_type.clone().unwrap_or_default(),
            size: entry
                .size
                .as_ref()
                .and_then(|s| s.valid().copied())
                .unwrap_or_default(),
            hash: entry
                .hash
                .as_ref()
                .and_then(|h| h.valid().map(ToString::to_string))
                .unwrap_or_default(),
            author: Professional {
                ehealth_id: ehealth_id_of(&person).to_owned(),
                name: name_of(&person),
                profession: None,
                specialty: None,
            },
            creation_time: creation,
            submission_time: None,
            status: match &entry.availability_status {
                Some(AvailabilityStatus::Deprecated) => "Deprecated".to_owned(),
                Some(AvailabilityStatus::Approved) | None => "Approved".to_owned(),
                Some(other) => other
                    .as_uri()
                    .rsplit(':')
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
            },
        })
    }

    /// ITI-18 FindDocuments: the patient's entries this professional may see.
    pub async fn list(
        &self,
        assertion: &Assertion,
        patient: &Matricule,
        params: &ListParams,
    ) -> Result<Vec<DocumentSummary>, PlatformError> {
        let mut statuses = vec![AvailabilityStatus::Approved];
        if params.include_deprecated {
            statuses.push(AvailabilityStatus::Deprecated);
        }
        let query = StoredQuery::FindDocuments(FindDocumentsQuery {
            patient_id: cx(&patient.as_digits()),
            statuses,
            ..FindDocumentsQuery::default()
        });
        let objects = self
            .query(assertion, query)
            .await
            .map_err(CallFailure::into_error)?
            .map_err(registry_error)?;
        objects
            .document_entries
            .iter()
            .map(|entry| self.summary(entry))
            .collect()
    }

    /// ITI-43 of one document, its bytes written to `sink` as they arrive.
    pub async fn retrieve_to(
        &self,
        assertion: &Assertion,
        patient: &Matricule,
        unique_id: &str,
        sink: &mut (dyn tokio::io::AsyncWrite + Unpin + Send),
    ) -> Result<RetrievedInfo, PlatformError> {
        let _ = patient; // The repository finds the document by uniqueId.
        let request = RetrieveDocumentSetRequest {
            documents: vec![DocumentRequest {
                home_community_id: self.profile().home_community_id.clone(),
                repository_unique_id: self.profile().repository_unique_id.clone(),
                document_unique_id: unique_id.to_owned(),
            }],
        };
        let payload = request.to_element().map_err(|e| PlatformError::Request {
            reason: e.to_string(),
        })?;
        let url = self.profile().repository_url.clone();
        let envelope = self.bearer_envelope(payload, ITI43, &url, assertion);
        let response = self
            .transport()
            .client()
            .post(&url)
            .header(
                "content-type",
                format!("application/soap+xml; charset=UTF-8; action=\"{ITI43}\""),
            )
            .body(envelope)
            .send()
            .await
            .map_err(|e| CallFailure::transport(&url, &e, true).into_error())?;
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        if !content_type.starts_with("multipart/related") {
            // A fault or an HTTP error: no document.
            let payload = read_answer(&url, response)
                .await
                .map_err(CallFailure::into_error)?;
            return Err(retrieve_failure(&payload));
        }
        let mut parser = MtomParser::new(&content_type, MtomLimits::default()).map_err(|e| {
            PlatformError::InvalidResponse {
                reason: format!("the repository's MTOM answer: {e}"),
            }
        })?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut stream = response.bytes_stream();
        let mut pending = Vec::new();
        let mut ended = false;
        while !ended {
            match stream.next().await {
                Some(Ok(chunk)) => parser.feed(&chunk),
                Some(Err(e)) => {
                    return Err(PlatformError::Unreachable {
                        url,
                        reason: format!("the answer broke off: {}", error_chain(&e)),
                    });
                }
                None => {
                    parser.end_input();
                    ended = true;
                }
            }
            loop {
                let event = parser
                    .next_event()
                    .map_err(|e| PlatformError::InvalidResponse {
                        reason: format!("the repository's MTOM answer: {e}"),
                    })?;
                match event {
                    Some(MtomEvent::AttachmentData { data, .. }) => pending.extend_from_slice(data),
                    Some(MtomEvent::End) => {
                        ended = true;
                        break;
                    }
                    Some(_) => {}
                    None => break,
                }
            }
            if !pending.is_empty() {
                hasher.update(&pending);
                size += pending.len() as u64;
                sink.write_all(&pending)
                    .await
                    .map_err(|e| PlatformError::Sink {
                        reason: e.to_string(),
                    })?;
                zeroize::Zeroize::zeroize(&mut pending);
                pending.clear();
            }
        }
        let message = parser
            .into_message()
            .map_err(|e| PlatformError::InvalidResponse {
                reason: format!("the repository's MTOM answer: {e}"),
            })?;
        let payload = payload_of(&message.root_body).map_err(CallFailure::into_error)?;
        let answer = RetrieveDocumentSetResponse::from_element(&payload).map_err(|e| {
            PlatformError::InvalidResponse {
                reason: format!("not a RetrieveDocumentSetResponse: {e}"),
            }
        })?;
        let documents = answer.into_result().map_err(registry_error)?;
        let document = documents
            .into_iter()
            .find(|d| d.document_unique_id == unique_id)
            .ok_or_else(|| PlatformError::UnknownDocument {
                message: format!("the repository sent no document {unique_id}"),
            })?;
        sink.flush().await.map_err(|e| PlatformError::Sink {
            reason: e.to_string(),
        })?;
        Ok(RetrievedInfo {
            size,
            sha256: hex(&hasher.finalize()),
            mime_type: document.mime_type,
        })
    }

    /// ITI-57: the document's confidentiality mode changed to `mode`. A
    /// change to the mode it already has is answered with the entry as is.
    pub async fn set_mode(
        &self,
        assertion: &Assertion,
        patient: &Matricule,
        unique_id: &str,
        mode: ConfidentialityMode,
    ) -> Result<DocumentSummary, PlatformError> {
        let current = self
            .entry_by_unique_id(assertion, unique_id)
            .await
            .map_err(CallFailure::into_error)?
            .ok_or_else(|| PlatformError::UnknownDocument {
                message: format!("no document {unique_id} visible to you"),
            })?;
        let ehealth_id = assertion.subject_ehealth_id().to_owned();
        let code = ihe_code(self.profile().confidentiality_codes.code_for(mode));
        let set = self.submission_set(
            format!("2.25.{}", Uuid::new_v4().as_u128()),
            &patient.as_digits(),
            &ehealth_id,
            current
                .class_code
                .clone()
                .unwrap_or_else(|| Code::new("REPORT", "urn:dspconnect:codes", "Report")),
        );
        let request = SubmitObjectsRequest::confidentiality_update(
            &current,
            ConfidentialityChange {
                submission_set: set,
                new_entry_uuid: format!("urn:uuid:{}", Uuid::new_v4()),
                association_id: "Member01".into(),
                confidentiality_codes: vec![code],
            },
        )
        .map_err(|e| PlatformError::Request {
            reason: e.to_string(),
        })?
        .to_element()
        .map_err(|e| PlatformError::Request {
            reason: e.to_string(),
        })?;
        let url = self.profile().registry_url.clone();
        let envelope = self.bearer_envelope(request, ITI57, &url, assertion);
        let payload = self
            .transport()
            .soap(&url, ITI57, envelope)
            .await
            .map_err(CallFailure::into_error)?;
        let answer = RegistryResponse::from_element(&payload).map_err(|e| {
            PlatformError::InvalidResponse {
                reason: format!("not a RegistryResponse: {e}"),
            }
        })?;
        if let Err(failure) = answer.into_result() {
            let unchanged = failure
                .errors
                .iter()
                .any(|e| e.error_code.as_str() == "DSPModeUnchanged");
            if !unchanged {
                let message = failure.to_string();
                return Err(match policy_failure(&failure) {
                    Some(PlatformFault::AccessDenied) => {
                        PlatformError::ModeChangeRefused { message }
                    }
                    _ => registry_error(failure),
                });
            }
        }
        let updated = self
            .entry_by_unique_id(assertion, unique_id)
            .await
            .map_err(CallFailure::into_error)?
            .unwrap_or(current);
        self.summary(&updated)
    }
}

/// A retrieval answered without MTOM: the fault, or the registry errors.
fn retrieve_failure(payload: &Element) -> PlatformError {
    match RetrieveDocumentSetResponse::from_element(payload) {
        Ok(answer) => match answer.into_result() {
            Err(failure) => registry_error(failure),
            Ok(_) => PlatformError::InvalidResponse {
                reason: "the repository answered without the document".to_owned(),
            },
        },
        Err(e) => PlatformError::InvalidResponse {
            reason: format!("not a RetrieveDocumentSetResponse: {e}"),
        },
    }
}

/// The SOAP payload of an answer that may be MTOM (the root part) or plain.
async fn read_answer(url: &str, response: reqwest::Response) -> Result<Element, CallFailure> {
    let (content_type, body) = read_body(url, response).await?;
    if content_type.starts_with("multipart/related") {
        let message =
            ihe::mtom::read_message(&content_type, MtomLimits::default(), &body[..], |_| Ok(()))
                .map_err(|e| CallFailure::invalid(format!("the MTOM answer: {e}")))?;
        payload_of(&message.root_body)
    } else {
        payload_of(&body)
    }
}

/// The MTOM body: literal segments, and the document streamed from its
/// spool file. `sent_all` is set once `length` bytes (the Content-Length)
/// were handed to the HTTP client: an error after that leaves the outcome
/// unknown. (With a Content-Length, hyper stops polling the stream after
/// its last byte, so the stream's end cannot be what sets the flag.)
fn body_stream(
    segments: Vec<Segment>,
    content: std::path::PathBuf,
    length: u64,
    sent_all: Arc<AtomicBool>,
) -> impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static {
    let mut handed_over = 0u64;
    futures_util::stream::iter(segments)
        .then(move |segment| {
            let content = content.clone();
            async move {
                match segment {
                    // The envelope holds the assertion: zeroized when
                    // hyper drops it.
                    Segment::Bytes(bytes) => Ok(futures_util::stream::once(async move {
                        Ok(zeroizing_bytes(zeroize::Zeroizing::new(bytes)))
                    })
                    .boxed()),
                    Segment::Attachment { length, .. } => {
                        let file = tokio::fs::File::open(&content).await?;
                        use tokio::io::AsyncReadExt as _;
                        Ok(tokio_util::io::ReaderStream::with_capacity(
                            file.take(length),
                            64 * 1024,
                        )
                        .boxed())
                    }
                }
            }
        })
        .map(|opened: Result<_, std::io::Error>| match opened {
            Ok(stream) => stream,
            Err(e) => futures_util::stream::once(async move { Err(e) }).boxed(),
        })
        .flatten()
        .map(move |chunk| {
            if let Ok(bytes) = &chunk {
                handed_over += bytes.len() as u64;
                if handed_over >= length {
                    sent_all.store(true, Ordering::SeqCst);
                }
            }
            chunk
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The flag that makes a lost answer an unknown outcome is set when the
    /// last of the Content-Length's bytes is handed over, without the
    /// stream's end ever being polled (hyper does not poll it when the
    /// length is known).
    #[tokio::test]
    async fn sent_all_is_set_by_the_last_byte_not_by_the_end_of_the_stream() {
        let dir = tempfile::tempdir().unwrap();
        let content = dir.path().join("document");
        std::fs::write(&content, vec![b'x'; 150 * 1024]).unwrap();
        let segments = vec![
            Segment::Bytes(b"--head--".to_vec()),
            Segment::Attachment {
                index: 0,
                length: 150 * 1024,
            },
            Segment::Bytes(b"--tail--".to_vec()),
        ];
        let length = 8 + 150 * 1024 + 8;
        let sent_all = Arc::new(AtomicBool::new(false));
        let mut stream = Box::pin(body_stream(segments, content, length, sent_all.clone()));
        let mut seen = 0u64;
        while seen < length {
            assert!(
                !sent_all.load(Ordering::SeqCst),
                "set after {seen} of {length} bytes"
            );
            let chunk = stream.next().await.expect("a chunk").expect("bytes");
            seen += chunk.len() as u64;
        }
        assert_eq!(seen, length);
        assert!(sent_all.load(Ordering::SeqCst));
    }
}
