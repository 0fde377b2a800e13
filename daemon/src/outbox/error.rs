//! Outbox errors, each with its fixed IPC [`ErrorCode`] and, where a
//! request field is at fault, the field's name.

use std::io;
use std::path::PathBuf;

use dspconnect::ErrorCode;
use dspconnect::ipc::protocol::{JobState, RpcError};

use crate::private_fs::PrivateDirError;

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("outbox spool: {0}")]
    SpoolFolder(#[from] PrivateDirError),
    #[error("outbox spool {}: cannot {action}: {source}", path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        source: io::Error,
    },
    #[error("{}: the path must be absolute (the daemon does not share the caller's working folder)", path.display())]
    PathNotAbsolute { path: PathBuf },
    #[error("{}: no such file", path.display())]
    SourceNotFound { path: PathBuf },
    #[error("{}: not a regular file (a folder, device or pipe); name the document file itself", path.display())]
    SourceNotAFile { path: PathBuf },
    #[error("{}: the daemon cannot read this file: {source}", path.display())]
    SourceUnreadable { path: PathBuf, source: io::Error },
    #[error("the document is empty; nothing would reach the DSP")]
    SourceEmpty,
    #[error(
        "the document is larger than the limit of {limit} bytes (outbox.max_document_bytes){}",
        size.map(|s| format!(": {s} bytes")).unwrap_or_default()
    )]
    SourceTooLarge { size: Option<u64>, limit: u64 },
    #[error("{field}: {problem}")]
    BadMetadata {
        field: &'static str,
        problem: String,
    },
    #[error("metadata.patient: {0}")]
    BadMatricule(#[source] dspconnect::model::MatriculeError),
    #[error(
        "metadata.patient_statement.informed_and_agrees must be true: the charter requires the \
         patient's agreement, « dûment averti », before a document is sent"
    )]
    MissingPatientStatement,
    #[error("{0}")]
    UnsupportedMimeType(String),
    #[error("{field}: {problem}")]
    BadOwner {
        field: &'static str,
        problem: String,
    },
    #[error("no job has the id '{0}'")]
    UnknownJob(String),
    #[error("no upload has the id '{0}' (expired, committed and used, or never begun)")]
    UnknownUpload(String),
    #[error("upload offset {got} is wrong: {expected} bytes were received so far; send from there")]
    UploadOffset { expected: u64, got: u64 },
    #[error("the upload would exceed the {announced} bytes announced at begin")]
    UploadOverrun { announced: u64 },
    #[error(
        "the upload has {received} of the {announced} bytes announced; send the rest before commit"
    )]
    UploadIncomplete { received: u64, announced: u64 },
    #[error(
        "the upload's SHA-256 is {actual}, not the {claimed} given at commit; the upload was removed: send it again"
    )]
    UploadHashMismatch { claimed: String, actual: String },
    #[error("the upload was already committed; push it, or begin a new one")]
    UploadAlreadyCommitted,
    #[error("the upload is not committed yet; commit it with its SHA-256 first")]
    UploadNotCommitted,
    #[error("job {job_id} is being uploaded right now; wait for the attempt to end")]
    JobBusy { job_id: String },
    #[error("job {job_id} is {state:?}: {why}")]
    NotRetryable {
        job_id: String,
        state: JobState,
        why: &'static str,
    },
    #[error("outbox spool {}: damaged record: {problem}", path.display())]
    Corrupt { path: PathBuf, problem: String },
    #[error("outbox internal error: {0}")]
    Internal(String),
}

impl OutboxError {
    /// The fixed code for IPC and the C ABI.
    pub fn code(&self) -> ErrorCode {
        use OutboxError::*;
        match self {
            SpoolFolder(
                PrivateDirError::Insecure { .. } | PrivateDirError::NotADirectory { .. },
            ) => ErrorCode::Config,
            SpoolFolder(PrivateDirError::Io { .. }) | Io { .. } | SourceUnreadable { .. } => {
                ErrorCode::Io
            }
            PathNotAbsolute { .. } => ErrorCode::InvalidArgument,
            SourceNotFound { .. } => ErrorCode::FileNotFound,
            SourceNotAFile { .. } => ErrorCode::NotAFile,
            SourceEmpty => ErrorCode::EmptyFile,
            SourceTooLarge { .. } => ErrorCode::FileTooLarge,
            BadMetadata { .. } => ErrorCode::BadMetadata,
            BadMatricule(_) => ErrorCode::BadMatricule,
            MissingPatientStatement => ErrorCode::MissingPatientStatement,
            UnsupportedMimeType(_) => ErrorCode::UnsupportedMimeType,
            BadOwner { .. } => ErrorCode::InvalidArgument,
            UnknownJob(_) => ErrorCode::UnknownJob,
            UnknownUpload(_)
            | UploadOffset { .. }
            | UploadOverrun { .. }
            | UploadIncomplete { .. }
            | UploadHashMismatch { .. }
            | UploadAlreadyCommitted
            | UploadNotCommitted
            | JobBusy { .. }
            | NotRetryable { .. } => ErrorCode::InvalidArgument,
            Corrupt { .. } | Internal(_) => ErrorCode::Internal,
        }
    }

    /// The request field at fault, when there is one.
    pub fn field(&self) -> Option<&'static str> {
        use OutboxError::*;
        match self {
            PathNotAbsolute { .. }
            | SourceNotFound { .. }
            | SourceNotAFile { .. }
            | SourceUnreadable { .. } => Some("source.path"),
            BadMetadata { field, .. } | BadOwner { field, .. } => Some(field),
            BadMatricule(_) => Some("metadata.patient"),
            MissingPatientStatement => Some("metadata.patient_statement"),
            UnsupportedMimeType(_) => Some("metadata.mime_type"),
            UnknownUpload(_) => Some("upload_id"),
            UploadOffset { .. } => Some("offset"),
            UploadHashMismatch { .. } => Some("sha256"),
            UnknownJob(_) | JobBusy { .. } | NotRetryable { .. } => Some("job_id"),
            _ => None,
        }
    }

    /// The JSON-RPC error the IPC server answers.
    pub fn to_rpc(&self) -> RpcError {
        let error = RpcError::new(self.code(), self.to_string());
        match self.field() {
            Some(field) => error.with_field(field),
            None => error,
        }
    }

    pub(crate) fn io(
        path: impl Into<PathBuf>,
        action: &'static str,
    ) -> impl FnOnce(io::Error) -> OutboxError {
        let path = path.into();
        move |source| OutboxError::Io {
            path,
            action,
            source,
        }
    }
}
