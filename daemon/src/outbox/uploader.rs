//! What the outbox asks of the platform client: upload one job, read one
//! entry back. The platform client implements [`Uploader`]; the outbox
//! decides what each outcome means with the retry table.

use std::fmt;
use std::future::Future;
use std::path::Path;

use ihe::xds::{RegistryFailure, XdsErrorCode};

use super::record::JobRecord;

/// Uploads jobs to the platform, in the session currently authenticated.
pub trait Uploader: Send + Sync + 'static {
    /// ITI-41 (with RPLC when `job.replaces` is set): sends the job's
    /// metadata, with the ids and entry UUIDs recorded in the job, and the
    /// content streamed from `content` (its size and SHA-1 are in
    /// `job.content`).
    fn upload(&self, job: &JobRecord, content: &Path)
    -> impl Future<Output = UploadOutcome> + Send;

    /// ITI-18 GetDocuments by `job.document_unique_id`: what the registry
    /// holds under the job's uniqueId. The job is passed whole because the
    /// query is made for that patient, in the owner's session.
    fn read_back(&self, job: &JobRecord) -> impl Future<Output = ReadBackOutcome> + Send;
}

/// The end of one upload attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadOutcome {
    /// The registry answered Success (warnings allowed).
    Registered,
    Failed(UploadFailure),
}

/// Why an attempt (or a read-back) failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadFailure {
    /// A `RegistryResponse` with errors: the codes of severity Error (a
    /// warning never fails a submission).
    Registry {
        codes: Vec<XdsErrorCode>,
        message: String,
    },
    /// A SOAP fault (assertion, access rules, grant, …).
    Fault {
        fault: PlatformFault,
        message: String,
    },
    /// An HTTP status that carried no SOAP answer.
    Http { status: u16, message: String },
    /// No answer at all.
    Transport {
        failure: TransportFailure,
        message: String,
    },
}

impl UploadFailure {
    /// Whether the platform may have registered the document anyway.
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            UploadFailure::Transport {
                failure: TransportFailure::Timeout | TransportFailure::CutAfterSend,
                ..
            }
        ) || matches!(self, UploadFailure::Http { status, .. } if *status == 504)
    }

    pub fn message(&self) -> &str {
        match self {
            UploadFailure::Registry { message, .. }
            | UploadFailure::Fault { message, .. }
            | UploadFailure::Http { message, .. }
            | UploadFailure::Transport { message, .. } => message,
        }
    }
}

impl fmt::Display for UploadFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UploadFailure::Registry { codes, message } => {
                let codes: Vec<&str> = codes.iter().map(XdsErrorCode::as_str).collect();
                write!(f, "registry error {}: {message}", codes.join(", "))
            }
            UploadFailure::Fault { fault, message } => {
                write!(f, "platform fault {fault}: {message}")
            }
            UploadFailure::Http { status, message } => write!(f, "HTTP {status}: {message}"),
            UploadFailure::Transport { failure, message } => write!(f, "{failure}: {message}"),
        }
    }
}

impl From<RegistryFailure> for UploadFailure {
    fn from(failure: RegistryFailure) -> Self {
        let codes = failure
            .errors
            .iter()
            .filter(|e| e.severity.is_error())
            .map(|e| e.error_code.clone())
            .collect();
        UploadFailure::Registry {
            codes,
            message: failure.to_string(),
        }
    }
}

/// A transport failure, by what it says about the request's fate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportFailure {
    /// No connection: nothing was sent.
    Connect,
    /// The TLS handshake failed (the server's certificate does not chain
    /// to the pinned CA, or TLS itself failed): nothing was sent.
    Tls,
    /// No answer in time after sending: the outcome is unknown.
    Timeout,
    /// The connection broke after the request was sent: the outcome is unknown.
    CutAfterSend,
}

impl fmt::Display for TransportFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportFailure::Connect => "connection failed",
            TransportFailure::Tls => "TLS failed",
            TransportFailure::Timeout => "timed out waiting for the answer",
            TransportFailure::CutAfterSend => "connection cut after sending",
        })
    }
}

/// The platform's SOAP fault subcodes that matter to uploads
/// (docs/platform-protocol.md, "Faults").
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PlatformFault {
    AssertionMissing,
    AssertionInvalid,
    AssertionExpired,
    PasswordSessionLimited,
    AccessDenied,
    GrantExpired,
    UnknownDocument,
    Malformed,
    /// Any other subcode, as received.
    Other(String),
}

impl PlatformFault {
    /// From a subcode's local name (`AssertionExpired`).
    pub fn from_subcode(local_name: &str) -> PlatformFault {
        match local_name {
            "AssertionMissing" => PlatformFault::AssertionMissing,
            "AssertionInvalid" => PlatformFault::AssertionInvalid,
            "AssertionExpired" => PlatformFault::AssertionExpired,
            "PasswordSessionLimited" => PlatformFault::PasswordSessionLimited,
            "AccessDenied" => PlatformFault::AccessDenied,
            "GrantExpired" => PlatformFault::GrantExpired,
            "UnknownDocument" => PlatformFault::UnknownDocument,
            "Malformed" => PlatformFault::Malformed,
            other => PlatformFault::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            PlatformFault::AssertionMissing => "AssertionMissing",
            PlatformFault::AssertionInvalid => "AssertionInvalid",
            PlatformFault::AssertionExpired => "AssertionExpired",
            PlatformFault::PasswordSessionLimited => "PasswordSessionLimited",
            PlatformFault::AccessDenied => "AccessDenied",
            PlatformFault::GrantExpired => "GrantExpired",
            PlatformFault::UnknownDocument => "UnknownDocument",
            PlatformFault::Malformed => "Malformed",
            PlatformFault::Other(s) => s,
        }
    }
}

impl fmt::Display for PlatformFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "f:{}", self.as_str())
    }
}

/// What a read-back found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadBackOutcome {
    Found(RegisteredEntry),
    /// The registry shows no entry with this uniqueId to this professional.
    NotFound,
    Failed(UploadFailure),
}

/// The registered entry's facts the duplicate rule compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredEntry {
    /// SHA-1 hex, as registered.
    pub sha1: String,
    /// The author's eHealth id.
    pub author_ehealth_id: String,
}
