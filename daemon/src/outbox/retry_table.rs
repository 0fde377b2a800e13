//! The retry table: what the outbox does after each way an upload can
//! fail. One row per XDS error code, per HTTP status (class), per transport
//! outcome and per platform fault; `docs/outbox.md` renders it (a test
//! checks the document is current) and each row has its own unit test.

use dspconnect::ErrorCode;
use ihe::xds::XdsErrorCode;

use super::uploader::{PlatformFault, TransportFailure, UploadFailure};

/// What a failure leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Temporary: try again after the backoff, with the same uniqueId;
    /// after `max_attempts_for_retryable` attempts the job fails.
    Retry,
    /// The uniqueId is already registered: read the entry back. Same SHA-1
    /// and author ⇒ Done (an earlier attempt succeeded); anything else ⇒
    /// Conflict, reported, never overwritten.
    ReadBack,
    /// The job fails with the row's message and what to do; the content is
    /// kept until the user retries or discards it.
    Permanent,
    /// The assertion is refused: the session must re-authenticate; the job
    /// waits for it and the attempt does not count.
    WaitForSession,
}

impl Decision {
    fn as_str(self) -> &'static str {
        match self {
            Decision::Retry => "retry",
            Decision::ReadBack => "read back",
            Decision::Permanent => "permanent",
            Decision::WaitForSession => "wait for session",
        }
    }

    /// When one answer carries several codes, the strongest decides.
    fn strength(self) -> u8 {
        match self {
            Decision::Retry => 0,
            Decision::ReadBack => 1,
            Decision::Permanent => 2,
            Decision::WaitForSession => 3,
        }
    }
}

/// What a row matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// A registry error code this crate knows.
    Xds(XdsErrorCode),
    /// A registry error code it does not know (`XdsErrorCode::Other`).
    XdsUnknown,
    /// A registry failure that names no error.
    RegistryWithoutCode,
    /// One HTTP status (before its class).
    HttpStatus(u16),
    /// An HTTP status class: 1 for 1xx … 5 for 5xx.
    HttpClass(u16),
    Transport(TransportFailure),
    Fault(PlatformFault),
    /// A fault subcode not listed.
    FaultUnknown,
}

impl Trigger {
    fn describe(&self) -> String {
        match self {
            Trigger::Xds(code) => format!("`{code}`"),
            Trigger::XdsUnknown => "any other XDS error code".to_owned(),
            Trigger::RegistryWithoutCode => "registry failure without an error code".to_owned(),
            Trigger::HttpStatus(s) => format!("HTTP {s}"),
            Trigger::HttpClass(c) => format!("HTTP {c}xx (other)"),
            Trigger::Transport(t) => format!("transport: {t}"),
            Trigger::Fault(f) => format!("fault `{f}`"),
            Trigger::FaultUnknown => "any other fault".to_owned(),
        }
    }
}

/// One row.
#[derive(Debug, Clone)]
pub struct Rule {
    pub trigger: Trigger,
    pub decision: Decision,
    /// The code recorded on the job (Conflict for a read-back mismatch).
    pub code: ErrorCode,
    /// What happened, in words.
    pub message: &'static str,
    /// What the user can do (empty for rows that resolve themselves).
    pub hint: &'static str,
}

const fn row(
    trigger: Trigger,
    decision: Decision,
    code: ErrorCode,
    message: &'static str,
    hint: &'static str,
) -> Rule {
    Rule {
        trigger,
        decision,
        code,
        message,
        hint,
    }
}

use Decision::{Permanent, ReadBack, Retry, WaitForSession};
use XdsErrorCode as X;

const REPORT_BUG: &str = "this is a dspconnect bug: report it with the job id; discard the job";
const CHANGE_METADATA: &str =
    "correct the metadata the message names, push the document again, and discard this job";
const WAIT: &str = "";

/// The table.
#[rustfmt::skip]
pub const RULES: &[Rule] = &[
    // ---- XDS registry / repository error codes (ITI TF-3 Table 4.2.4.1-2)
    row(Trigger::Xds(X::DocumentUniqueIdError), Permanent, ErrorCode::Registry,
        "the repository refused the document's uniqueId",
        "discard the job and push the document again (it gets a new uniqueId)"),
    row(Trigger::Xds(X::DuplicateUniqueIdInRegistry), ReadBack, ErrorCode::Conflict,
        "the registry already holds this uniqueId",
        "nothing was overwritten: look at the patient's documents in the DSP, then discard the job or push the document again as a new one"),
    row(Trigger::Xds(X::ExtraMetadataNotSaved), Permanent, ErrorCode::Registry,
        "the registry refused metadata it does not keep",
        "report it to the platform's support with the job id; discard the job"),
    row(Trigger::Xds(X::MissingDocument), Permanent, ErrorCode::Internal,
        "the repository received no document content", REPORT_BUG),
    row(Trigger::Xds(X::MissingDocumentMetadata), Permanent, ErrorCode::Internal,
        "the repository received content without its metadata", REPORT_BUG),
    row(Trigger::Xds(X::MissingHomeCommunityId), Permanent, ErrorCode::Config,
        "the platform needs a home community id",
        "set platform.home_community_id in the configuration, then retry the job"),
    row(Trigger::Xds(X::NonIdenticalHash), Permanent, ErrorCode::Registry,
        "the repository found another SHA-1 than the one sent: the spooled copy changed",
        "discard the job and push the document again"),
    row(Trigger::Xds(X::NonIdenticalSize), Permanent, ErrorCode::Registry,
        "the repository found another size than the one sent: the spooled copy changed",
        "discard the job and push the document again"),
    row(Trigger::Xds(X::PatientIdDoesNotMatch), Permanent, ErrorCode::Internal,
        "the document and its submission name different patients", REPORT_BUG),
    row(Trigger::Xds(X::RegistryBusy), Retry, ErrorCode::Registry,
        "the registry is busy", WAIT),
    row(Trigger::Xds(X::RegistryDeprecatedDocumentError), Permanent, ErrorCode::Registry,
        "the document being replaced was already replaced",
        "list the patient's documents and replace the current version; discard this job"),
    row(Trigger::Xds(X::RegistryDuplicateUniqueIdInMessage), Permanent, ErrorCode::Internal,
        "the submission used one uniqueId twice", REPORT_BUG),
    row(Trigger::Xds(X::RegistryError), Retry, ErrorCode::Registry,
        "the registry reported an internal error", WAIT),
    row(Trigger::Xds(X::RegistryMetadataError), Permanent, ErrorCode::BadMetadata,
        "the registry refused the metadata", CHANGE_METADATA),
    row(Trigger::Xds(X::RegistryNotAvailable), Retry, ErrorCode::Registry,
        "the registry is not available", WAIT),
    row(Trigger::Xds(X::RegistryOutOfResources), Retry, ErrorCode::Registry,
        "the registry is out of resources", WAIT),
    row(Trigger::Xds(X::RepositoryBusy), Retry, ErrorCode::Registry,
        "the repository is busy", WAIT),
    row(Trigger::Xds(X::RepositoryDuplicateUniqueIdInMessage), Permanent, ErrorCode::Internal,
        "the submission used one uniqueId twice", REPORT_BUG),
    row(Trigger::Xds(X::RepositoryError), Retry, ErrorCode::Registry,
        "the repository reported an internal error", WAIT),
    row(Trigger::Xds(X::RepositoryMetadataError), Permanent, ErrorCode::BadMetadata,
        "the repository refused the metadata", CHANGE_METADATA),
    row(Trigger::Xds(X::RepositoryNotAvailable), Retry, ErrorCode::Registry,
        "the repository is not available", WAIT),
    row(Trigger::Xds(X::RepositoryOutOfResources), Retry, ErrorCode::Registry,
        "the repository is out of resources", WAIT),
    row(Trigger::Xds(X::ResultNotSinglePatient), Permanent, ErrorCode::Internal,
        "a query answer mixed patients", REPORT_BUG),
    row(Trigger::Xds(X::StoredQueryMissingParam), Permanent, ErrorCode::Internal,
        "a stored query lacked a parameter", REPORT_BUG),
    row(Trigger::Xds(X::StoredQueryParamNumber), Permanent, ErrorCode::Internal,
        "a stored query parameter was given the wrong number of times", REPORT_BUG),
    row(Trigger::Xds(X::TooManyResults), Permanent, ErrorCode::Internal,
        "a query matched too many entries", REPORT_BUG),
    row(Trigger::Xds(X::UnavailableCommunity), Retry, ErrorCode::Registry,
        "the community is not available", WAIT),
    row(Trigger::Xds(X::UnknownCommunity), Permanent, ErrorCode::Config,
        "the platform does not know the home community id",
        "check platform.home_community_id in the configuration, then retry the job"),
    row(Trigger::Xds(X::UnknownPatientId), Permanent, ErrorCode::Registry,
        "the platform knows no DSP for this patient",
        "check the matricule; the patient may have no DSP or may have closed it; discard the job"),
    row(Trigger::Xds(X::UnknownRepositoryId), Permanent, ErrorCode::Config,
        "the platform does not know the repository id",
        "check platform.repository_unique_id in the configuration, then retry the job"),
    row(Trigger::Xds(X::UnknownStoredQuery), Permanent, ErrorCode::Internal,
        "the registry does not know a stored query we use", REPORT_BUG),
    row(Trigger::Xds(X::MetadataUpdateError), Permanent, ErrorCode::Registry,
        "the registry refused the metadata update",
        "read the message; list the patient's documents to see the current version"),
    row(Trigger::Xds(X::MetadataUpdateOperationError), Permanent, ErrorCode::Registry,
        "the registry does not allow this metadata update",
        "read the message; discard the job"),
    row(Trigger::Xds(X::MetadataVersionError), Permanent, ErrorCode::Registry,
        "the entry changed since it was read",
        "list the patient's documents again and repeat the change"),
    row(Trigger::Xds(X::PatientIdReconciliationError), Permanent, ErrorCode::Registry,
        "the registry could not reconcile the patient ids",
        "report it to the platform's support with the job id; discard the job"),
    row(Trigger::Xds(X::UnresolvedReferenceException), Permanent, ErrorCode::UnknownDocument,
        "the document being replaced is not in the DSP, or not visible to you",
        "check the uniqueId of the replaced document; discard the job"),
    row(Trigger::Xds(X::PartialReplaceContentNotProcessed), Permanent, ErrorCode::Registry,
        "the replacement was not processed", "read the message; retry the job once the cause is fixed"),
    row(Trigger::Xds(X::PartialAppendContentNotProcessed), Permanent, ErrorCode::Registry,
        "the append was not processed", "read the message; retry the job once the cause is fixed"),
    row(Trigger::Xds(X::PartialFolderContentNotProcessed), Permanent, ErrorCode::Registry,
        "the folder content was not processed", "read the message; retry the job once the cause is fixed"),
    row(Trigger::Xds(X::PartialTransformNotProcessed), Permanent, ErrorCode::Registry,
        "the transformation was not processed", "read the message; retry the job once the cause is fixed"),
    row(Trigger::Xds(X::PartialTransformReplaceNotProcessed), Permanent, ErrorCode::Registry,
        "the transforming replacement was not processed", "read the message; retry the job once the cause is fixed"),
    row(Trigger::Xds(X::InvalidDocumentContent), Permanent, ErrorCode::UnsupportedMimeType,
        "the platform refused the document's content",
        "send a PDF (PDF/A) or a CDA document, or a DOC/DOCX/RTF/ODT the platform converts; discard the job"),
    row(Trigger::Xds(X::DocumentQueued), Retry, ErrorCode::Registry,
        "the platform queued the document without confirming it", WAIT),
    row(Trigger::XdsUnknown, Permanent, ErrorCode::Registry,
        "the platform answered an error code dspconnect does not know",
        "read the message; report the code so it gets a row in this table; retry the job once the cause is gone"),
    row(Trigger::RegistryWithoutCode, Retry, ErrorCode::Registry,
        "the registry answered Failure without saying why", WAIT),
    // ---- HTTP statuses without a SOAP answer
    row(Trigger::HttpStatus(401), WaitForSession, ErrorCode::NotAuthenticated,
        "the platform wants authentication", WAIT),
    row(Trigger::HttpStatus(403), Permanent, ErrorCode::AccessDenied,
        "the platform refused the request (HTTP 403)",
        "check that this workstation may reach the platform; retry the job"),
    row(Trigger::HttpStatus(408), Retry, ErrorCode::PlatformUnreachable,
        "the platform timed out reading the request", WAIT),
    row(Trigger::HttpStatus(413), Permanent, ErrorCode::FileTooLarge,
        "the platform refuses a document this large",
        "send a smaller document (lower outbox.max_document_bytes to catch this at push); discard the job"),
    row(Trigger::HttpStatus(429), Retry, ErrorCode::PlatformUnreachable,
        "the platform asks to slow down", WAIT),
    row(Trigger::HttpClass(1), Permanent, ErrorCode::Platform,
        "the platform answered with an unexpected informational status",
        "report it to the platform's support; retry the job"),
    row(Trigger::HttpClass(2), Retry, ErrorCode::Platform,
        "the platform answered without a readable registry response (outcome unknown)", WAIT),
    row(Trigger::HttpClass(3), Permanent, ErrorCode::Config,
        "the platform endpoint redirects elsewhere",
        "set the endpoint URL it redirects to in the platform profile, then retry the job"),
    row(Trigger::HttpClass(4), Permanent, ErrorCode::Platform,
        "the platform refused the request",
        "read the message; report it to the platform's support; retry the job once fixed"),
    row(Trigger::HttpClass(5), Retry, ErrorCode::PlatformUnreachable,
        "the platform failed or is unavailable", WAIT),
    // ---- transport
    row(Trigger::Transport(TransportFailure::Connect), Retry, ErrorCode::PlatformUnreachable,
        "the platform cannot be reached (nothing was sent)", WAIT),
    row(Trigger::Transport(TransportFailure::Tls), Permanent, ErrorCode::Tls,
        "the TLS connection failed: the platform's certificate does not chain to the pinned CA",
        "check platform.ca_file and the network (a proxy inspecting TLS?), then retry the job"),
    row(Trigger::Transport(TransportFailure::Timeout), Retry, ErrorCode::PlatformUnreachable,
        "no answer in time (outcome unknown: the retry resends the same uniqueId)", WAIT),
    row(Trigger::Transport(TransportFailure::CutAfterSend), Retry, ErrorCode::PlatformUnreachable,
        "the connection broke after sending (outcome unknown: the retry resends the same uniqueId)", WAIT),
    // ---- platform faults
    row(Trigger::Fault(PlatformFault::AssertionMissing), WaitForSession, ErrorCode::NotAuthenticated,
        "the platform saw no assertion", WAIT),
    row(Trigger::Fault(PlatformFault::AssertionInvalid), WaitForSession, ErrorCode::NotAuthenticated,
        "the platform refused the assertion", WAIT),
    row(Trigger::Fault(PlatformFault::AssertionExpired), WaitForSession, ErrorCode::SessionExpired,
        "the assertion expired", WAIT),
    row(Trigger::Fault(PlatformFault::PasswordSessionLimited), WaitForSession, ErrorCode::PasswordSessionLimited,
        "a password session cannot send documents",
        "unlock the session with the LuxTrust card"),
    row(Trigger::Fault(PlatformFault::AccessDenied), Permanent, ErrorCode::AccessDenied,
        "the DSP's access rules refuse this submission to you",
        "you need a therapeutic relationship with the patient (médecin référent, cercle de confiance) or a presence code; then retry the job"),
    row(Trigger::Fault(PlatformFault::GrantExpired), Permanent, ErrorCode::GrantExpired,
        "the consultation grant this job rests on has expired",
        "ask the patient for a new presence code, open access again, then retry the job"),
    row(Trigger::Fault(PlatformFault::UnknownDocument), Permanent, ErrorCode::UnknownDocument,
        "the document being replaced is unknown or not visible to you",
        "check the uniqueId of the replaced document; discard the job"),
    row(Trigger::Fault(PlatformFault::Malformed), Permanent, ErrorCode::Internal,
        "the platform found the request malformed", REPORT_BUG),
    row(Trigger::FaultUnknown, Permanent, ErrorCode::Platform,
        "the platform answered a fault dspconnect does not know",
        "read the message; report the fault so it gets a row in this table; retry the job once the cause is gone"),
];

fn find(trigger: &Trigger) -> Option<&'static Rule> {
    RULES.iter().find(|r| &r.trigger == trigger)
}

/// The row for one registry error code.
pub fn rule_for_xds(code: &XdsErrorCode) -> &'static Rule {
    find(&Trigger::Xds(code.clone()))
        .or_else(|| find(&Trigger::XdsUnknown))
        .unwrap_or(&FALLBACK)
}

/// The row for an HTTP status: the status's own, else its class's.
pub fn rule_for_http(status: u16) -> &'static Rule {
    find(&Trigger::HttpStatus(status))
        .or_else(|| find(&Trigger::HttpClass(status / 100)))
        .unwrap_or(&FALLBACK)
}

/// The row deciding `failure`. With several registry codes the strongest
/// decision wins (a permanent error beats a duplicate, which beats a
/// temporary one).
pub fn decide(failure: &UploadFailure) -> &'static Rule {
    match failure {
        UploadFailure::Registry { codes, .. } => codes
            .iter()
            .map(rule_for_xds)
            .max_by_key(|r| r.decision.strength())
            .or_else(|| find(&Trigger::RegistryWithoutCode))
            .unwrap_or(&FALLBACK),
        UploadFailure::Fault { fault, .. } => find(&Trigger::Fault(fault.clone()))
            .or_else(|| find(&Trigger::FaultUnknown))
            .unwrap_or(&FALLBACK),
        UploadFailure::Http { status, .. } => rule_for_http(*status),
        UploadFailure::Transport { failure, .. } => {
            find(&Trigger::Transport(*failure)).unwrap_or(&FALLBACK)
        }
    }
}

/// Only reached if a row were deleted from the table (the row tests
/// catch that): fail safe, never retry forever.
static FALLBACK: Rule = row(
    Trigger::FaultUnknown,
    Permanent,
    ErrorCode::Internal,
    "an outcome the retry table does not cover",
    REPORT_BUG,
);

/// The Markdown table of `docs/outbox.md`.
pub fn render_markdown() -> String {
    let mut out = String::from(
        "| outcome | decision | error code | meaning | what to do |\n|---|---|---|---|---|\n",
    );
    for r in RULES {
        out.push_str(&format!(
            "| {} | {} | `{}` | {} | {} |\n",
            r.trigger.describe(),
            r.decision.as_str(),
            r.code.name(),
            r.message,
            if r.hint.is_empty() { "—" } else { r.hint },
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xds(code: XdsErrorCode) -> UploadFailure {
        UploadFailure::Registry {
            codes: vec![code],
            message: "m".into(),
        }
    }
    fn http(status: u16) -> UploadFailure {
        UploadFailure::Http {
            status,
            message: "m".into(),
        }
    }
    fn transport(failure: TransportFailure) -> UploadFailure {
        UploadFailure::Transport {
            failure,
            message: "m".into(),
        }
    }
    fn fault(fault: PlatformFault) -> UploadFailure {
        UploadFailure::Fault {
            fault,
            message: "m".into(),
        }
    }

    /// One test per row: the failure, the row it must hit, and the
    /// decision and code written out here (not read from the table).
    macro_rules! row_tests {
        ($( $name:ident: $failure:expr => $trigger:expr, $decision:ident, $code:ident; )*) => {
            $(
                #[test]
                fn $name() {
                    let rule = decide(&$failure);
                    assert_eq!(rule.trigger, $trigger);
                    assert_eq!(rule.decision, Decision::$decision);
                    assert_eq!(rule.code, ErrorCode::$code);
                    assert!(!rule.message.is_empty());
                    if rule.decision == Decision::Permanent {
                        assert!(!rule.hint.is_empty(), "a permanent failure says what to do");
                    }
                }
            )*
            fn tested_triggers() -> Vec<Trigger> {
                vec![$($trigger),*]
            }
        };
    }

    row_tests! {
        xds_document_unique_id_error: xds(X::DocumentUniqueIdError) => Trigger::Xds(X::DocumentUniqueIdError), Permanent, Registry;
        xds_duplicate_unique_id_in_registry: xds(X::DuplicateUniqueIdInRegistry) => Trigger::Xds(X::DuplicateUniqueIdInRegistry), ReadBack, Conflict;
        xds_extra_metadata_not_saved: xds(X::ExtraMetadataNotSaved) => Trigger::Xds(X::ExtraMetadataNotSaved), Permanent, Registry;
        xds_missing_document: xds(X::MissingDocument) => Trigger::Xds(X::MissingDocument), Permanent, Internal;
        xds_missing_document_metadata: xds(X::MissingDocumentMetadata) => Trigger::Xds(X::MissingDocumentMetadata), Permanent, Internal;
        xds_missing_home_community_id: xds(X::MissingHomeCommunityId) => Trigger::Xds(X::MissingHomeCommunityId), Permanent, Config;
        xds_non_identical_hash: xds(X::NonIdenticalHash) => Trigger::Xds(X::NonIdenticalHash), Permanent, Registry;
        xds_non_identical_size: xds(X::NonIdenticalSize) => Trigger::Xds(X::NonIdenticalSize), Permanent, Registry;
        xds_patient_id_does_not_match: xds(X::PatientIdDoesNotMatch) => Trigger::Xds(X::PatientIdDoesNotMatch), Permanent, Internal;
        xds_registry_busy: xds(X::RegistryBusy) => Trigger::Xds(X::RegistryBusy), Retry, Registry;
        xds_registry_deprecated_document_error: xds(X::RegistryDeprecatedDocumentError) => Trigger::Xds(X::RegistryDeprecatedDocumentError), Permanent, Registry;
        xds_registry_duplicate_unique_id_in_message: xds(X::RegistryDuplicateUniqueIdInMessage) => Trigger::Xds(X::RegistryDuplicateUniqueIdInMessage), Permanent, Internal;
        xds_registry_error: xds(X::RegistryError) => Trigger::Xds(X::RegistryError), Retry, Registry;
        xds_registry_metadata_error: xds(X::RegistryMetadataError) => Trigger::Xds(X::RegistryMetadataError), Permanent, BadMetadata;
        xds_registry_not_available: xds(X::RegistryNotAvailable) => Trigger::Xds(X::RegistryNotAvailable), Retry, Registry;
        xds_registry_out_of_resources: xds(X::RegistryOutOfResources) => Trigger::Xds(X::RegistryOutOfResources), Retry, Registry;
        xds_repository_busy: xds(X::RepositoryBusy) => Trigger::Xds(X::RepositoryBusy), Retry, Registry;
        xds_repository_duplicate_unique_id_in_message: xds(X::RepositoryDuplicateUniqueIdInMessage) => Trigger::Xds(X::RepositoryDuplicateUniqueIdInMessage), Permanent, Internal;
        xds_repository_error: xds(X::RepositoryError) => Trigger::Xds(X::RepositoryError), Retry, Registry;
        xds_repository_metadata_error: xds(X::RepositoryMetadataError) => Trigger::Xds(X::RepositoryMetadataError), Permanent, BadMetadata;
        xds_repository_not_available: xds(X::RepositoryNotAvailable) => Trigger::Xds(X::RepositoryNotAvailable), Retry, Registry;
        xds_repository_out_of_resources: xds(X::RepositoryOutOfResources) => Trigger::Xds(X::RepositoryOutOfResources), Retry, Registry;
        xds_result_not_single_patient: xds(X::ResultNotSinglePatient) => Trigger::Xds(X::ResultNotSinglePatient), Permanent, Internal;
        xds_stored_query_missing_param: xds(X::StoredQueryMissingParam) => Trigger::Xds(X::StoredQueryMissingParam), Permanent, Internal;
        xds_stored_query_param_number: xds(X::StoredQueryParamNumber) => Trigger::Xds(X::StoredQueryParamNumber), Permanent, Internal;
        xds_too_many_results: xds(X::TooManyResults) => Trigger::Xds(X::TooManyResults), Permanent, Internal;
        xds_unavailable_community: xds(X::UnavailableCommunity) => Trigger::Xds(X::UnavailableCommunity), Retry, Registry;
        xds_unknown_community: xds(X::UnknownCommunity) => Trigger::Xds(X::UnknownCommunity), Permanent, Config;
        xds_unknown_patient_id: xds(X::UnknownPatientId) => Trigger::Xds(X::UnknownPatientId), Permanent, Registry;
        xds_unknown_repository_id: xds(X::UnknownRepositoryId) => Trigger::Xds(X::UnknownRepositoryId), Permanent, Config;
        xds_unknown_stored_query: xds(X::UnknownStoredQuery) => Trigger::Xds(X::UnknownStoredQuery), Permanent, Internal;
        xds_metadata_update_error: xds(X::MetadataUpdateError) => Trigger::Xds(X::MetadataUpdateError), Permanent, Registry;
        xds_metadata_update_operation_error: xds(X::MetadataUpdateOperationError) => Trigger::Xds(X::MetadataUpdateOperationError), Permanent, Registry;
        xds_metadata_version_error: xds(X::MetadataVersionError) => Trigger::Xds(X::MetadataVersionError), Permanent, Registry;
        xds_patient_id_reconciliation_error: xds(X::PatientIdReconciliationError) => Trigger::Xds(X::PatientIdReconciliationError), Permanent, Registry;
        xds_unresolved_reference_exception: xds(X::UnresolvedReferenceException) => Trigger::Xds(X::UnresolvedReferenceException), Permanent, UnknownDocument;
        xds_partial_replace_content_not_processed: xds(X::PartialReplaceContentNotProcessed) => Trigger::Xds(X::PartialReplaceContentNotProcessed), Permanent, Registry;
        xds_partial_append_content_not_processed: xds(X::PartialAppendContentNotProcessed) => Trigger::Xds(X::PartialAppendContentNotProcessed), Permanent, Registry;
        xds_partial_folder_content_not_processed: xds(X::PartialFolderContentNotProcessed) => Trigger::Xds(X::PartialFolderContentNotProcessed), Permanent, Registry;
        xds_partial_transform_not_processed: xds(X::PartialTransformNotProcessed) => Trigger::Xds(X::PartialTransformNotProcessed), Permanent, Registry;
        xds_partial_transform_replace_not_processed: xds(X::PartialTransformReplaceNotProcessed) => Trigger::Xds(X::PartialTransformReplaceNotProcessed), Permanent, Registry;
        xds_invalid_document_content: xds(X::InvalidDocumentContent) => Trigger::Xds(X::InvalidDocumentContent), Permanent, UnsupportedMimeType;
        xds_document_queued: xds(X::DocumentQueued) => Trigger::Xds(X::DocumentQueued), Retry, Registry;
        xds_unknown_code: xds(X::Other("XDSPolicyViolation".into())) => Trigger::XdsUnknown, Permanent, Registry;
        registry_without_code: UploadFailure::Registry { codes: vec![], message: "m".into() } => Trigger::RegistryWithoutCode, Retry, Registry;
        http_401: http(401) => Trigger::HttpStatus(401), WaitForSession, NotAuthenticated;
        http_403: http(403) => Trigger::HttpStatus(403), Permanent, AccessDenied;
        http_408: http(408) => Trigger::HttpStatus(408), Retry, PlatformUnreachable;
        http_413: http(413) => Trigger::HttpStatus(413), Permanent, FileTooLarge;
        http_429: http(429) => Trigger::HttpStatus(429), Retry, PlatformUnreachable;
        http_1xx: http(102) => Trigger::HttpClass(1), Permanent, Platform;
        http_2xx: http(200) => Trigger::HttpClass(2), Retry, Platform;
        http_3xx: http(302) => Trigger::HttpClass(3), Permanent, Config;
        http_4xx: http(404) => Trigger::HttpClass(4), Permanent, Platform;
        http_5xx: http(503) => Trigger::HttpClass(5), Retry, PlatformUnreachable;
        transport_connect: transport(TransportFailure::Connect) => Trigger::Transport(TransportFailure::Connect), Retry, PlatformUnreachable;
        transport_tls: transport(TransportFailure::Tls) => Trigger::Transport(TransportFailure::Tls), Permanent, Tls;
        transport_timeout: transport(TransportFailure::Timeout) => Trigger::Transport(TransportFailure::Timeout), Retry, PlatformUnreachable;
        transport_cut_after_send: transport(TransportFailure::CutAfterSend) => Trigger::Transport(TransportFailure::CutAfterSend), Retry, PlatformUnreachable;
        fault_assertion_missing: fault(PlatformFault::AssertionMissing) => Trigger::Fault(PlatformFault::AssertionMissing), WaitForSession, NotAuthenticated;
        fault_assertion_invalid: fault(PlatformFault::AssertionInvalid) => Trigger::Fault(PlatformFault::AssertionInvalid), WaitForSession, NotAuthenticated;
        fault_assertion_expired: fault(PlatformFault::AssertionExpired) => Trigger::Fault(PlatformFault::AssertionExpired), WaitForSession, SessionExpired;
        fault_password_session_limited: fault(PlatformFault::PasswordSessionLimited) => Trigger::Fault(PlatformFault::PasswordSessionLimited), WaitForSession, PasswordSessionLimited;
        fault_access_denied: fault(PlatformFault::AccessDenied) => Trigger::Fault(PlatformFault::AccessDenied), Permanent, AccessDenied;
        fault_grant_expired: fault(PlatformFault::GrantExpired) => Trigger::Fault(PlatformFault::GrantExpired), Permanent, GrantExpired;
        fault_unknown_document: fault(PlatformFault::UnknownDocument) => Trigger::Fault(PlatformFault::UnknownDocument), Permanent, UnknownDocument;
        fault_malformed: fault(PlatformFault::Malformed) => Trigger::Fault(PlatformFault::Malformed), Permanent, Internal;
        fault_unknown: fault(PlatformFault::from_subcode("Unheard")) => Trigger::FaultUnknown, Permanent, Platform;
    }

    #[test]
    fn every_row_has_its_test_and_no_row_repeats() {
        let tested = tested_triggers();
        for rule in RULES {
            assert!(
                tested.contains(&rule.trigger),
                "{:?} has no row test",
                rule.trigger
            );
            assert_eq!(
                RULES.iter().filter(|r| r.trigger == rule.trigger).count(),
                1,
                "{:?} has two rows",
                rule.trigger
            );
        }
        assert_eq!(tested.len(), RULES.len());
    }

    #[test]
    fn the_strongest_of_several_codes_decides() {
        let both = UploadFailure::Registry {
            codes: vec![X::RegistryBusy, X::DuplicateUniqueIdInRegistry],
            message: "m".into(),
        };
        assert_eq!(decide(&both).decision, Decision::ReadBack);
        let with_permanent = UploadFailure::Registry {
            codes: vec![X::DuplicateUniqueIdInRegistry, X::RegistryMetadataError],
            message: "m".into(),
        };
        assert_eq!(decide(&with_permanent).decision, Decision::Permanent);
    }

    #[test]
    fn outbox_doc_is_current() {
        crate::test_support::check_doc_section(
            "docs/outbox.md",
            "<!-- retry-table:begin -->",
            "<!-- retry-table:end -->",
            &render_markdown(),
        );
    }
}
