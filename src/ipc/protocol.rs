//! The local IPC protocol: JSON-RPC 2.0, one JSON message per line (`\n`),
//! over a local socket. Any language can speak it; `docs/ipc.md` gives an
//! example exchange per method.
//!
//! Every method is a type implementing [`Method`]: its wire name, its
//! parameters and its result. The daemon dispatches on the name; clients
//! (`dspctl`, the C library) call through the same types, so the two sides
//! cannot drift apart.
//!
//! Identifiers cross the wire as plain strings (a matricule, a document
//! uniqueId) and are validated by the daemon, which answers a specific
//! error naming the field; that keeps every binding simple.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::error_code::ErrorCode;
use crate::model::ConfidentialityMode;

/// Longest accepted message line, newline excluded. Larger documents travel
/// by path or in chunks.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;

/// Largest chunk of document data in one upload or read call (before
/// base64), so that a chunk message stays well under [`MAX_LINE_BYTES`].
pub const MAX_CHUNK_BYTES: usize = 512 * 1024;

/// The protocol version; bumped on incompatible changes.
pub const PROTOCOL_VERSION: u32 = 1;

/// The notification method the daemon uses to push events.
pub const EVENT_NOTIFICATION: &str = "event";

// ------------------------------------------------------------------ JSON-RPC

/// A JSON-RPC 2.0 request (a notification when `id` is absent).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Request {
    pub jsonrpc: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Value>,
    pub method: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Value>,
}

/// A JSON-RPC 2.0 response: exactly one of `result` and `error`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Response {
    pub jsonrpc: String,
    pub id: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<RpcError>,
}

/// A message from the daemon: a response or a pushed event.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ServerMessage {
    Response(Response),
    Notification(Notification),
}

/// A notification pushed by the daemon (`method` is [`EVENT_NOTIFICATION`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Notification {
    pub jsonrpc: String,
    pub method: String,
    pub params: Event,
}

/// The `error` member of a response.
///
/// `code` is one of our fixed [`ErrorCode`] numbers, except for the four
/// protocol-level failures JSON-RPC defines (-32700 parse error, -32600
/// invalid request, -32601 method not found, -32602 invalid params), which
/// keep their standard numbers there. `data.code` is always ours.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    pub data: ErrorData,
}

/// What every error carries besides its message.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ErrorData {
    /// Our fixed code.
    pub code: ErrorCode,
    /// The code's symbolic name (`DSP_E_…`).
    pub name: String,
    /// The request field at fault, when one is (`metadata.patient`, `path`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What the user can do about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// PIN tries left, for [`ErrorCode::WrongPin`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_tries_left: Option<u8>,
}

impl RpcError {
    /// An error with our code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        let wire = match code {
            ErrorCode::ParseError => -32700,
            ErrorCode::Protocol => -32600,
            ErrorCode::MethodNotFound => -32601,
            ErrorCode::InvalidParams => -32602,
            other => i64::from(other.number()),
        };
        RpcError {
            code: wire,
            message: message.into(),
            data: ErrorData {
                code,
                name: code.name().to_owned(),
                field: None,
                hint: None,
                pin_tries_left: None,
            },
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.data.field = Some(field.into());
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.data.hint = Some(hint.into());
        self
    }

    pub fn with_pin_tries_left(mut self, tries: u8) -> Self {
        self.data.pin_tries_left = Some(tries);
        self
    }

    /// Our fixed code.
    pub fn code(&self) -> ErrorCode {
        self.data.code
    }
}

impl std::fmt::Display for RpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.message)?;
        if let Some(field) = &self.data.field {
            write!(f, " (field '{field}')")?;
        }
        if let Some(hint) = &self.data.hint {
            write!(f, "; {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for RpcError {}

/// One IPC method: its name, parameters and result.
pub trait Method {
    const NAME: &'static str;
    type Params: Serialize + DeserializeOwned;
    type Result: Serialize + DeserializeOwned;
}

macro_rules! methods {
    ($( $(#[doc = $doc:literal])* $ty:ident = $name:literal, $params:ty => $result:ty; )*) => {
        $(
            $(#[doc = $doc])*
            #[derive(Debug, Clone, Copy)]
            pub struct $ty;
            impl Method for $ty {
                const NAME: &'static str = $name;
                type Params = $params;
                type Result = $result;
            }
        )*
        /// Every method name, for dispatch tables and documentation checks.
        pub const METHOD_NAMES: &[&str] = &[$($name,)*];
    };
}

methods! {
    /// Daemon, platform, card, session and outbox at a glance.
    StatusMethod = "status", Empty => Status;
    /// Verify the PIN (or start pinpad entry when `pin` is absent and the reader has one) and authenticate.
    Unlock = "session.unlock", UnlockParams => SessionInfo;
    /// Lock the session now.
    Lock = "session.lock", Empty => SessionInfo;
    /// Open a password session (matricule + password): limited access, never DSP documents.
    PasswordLogin = "session.password_login", PasswordLoginParams => SessionInfo;
    /// First step of account activation: letter code, matricule, e-mail; signed by the card.
    ActivateAccount = "account.activate", ActivateParams => ActivationPending;
    /// Second step: the code sent by e-mail and the new password.
    ConfirmActivation = "account.activate_confirm", ConfirmActivationParams => ActivationDone;
    /// Change the platform password.
    ChangePassword = "account.change_password", ChangePasswordParams => Empty;
    /// Open access to a patient with the patient's presence code (code de présence).
    PatientAccess = "patient.access", PatientAccessParams => ConsultationGrant;
    /// Queue a document for the DSP; returns at once with the job id.
    Push = "document.push", PushParams => PushAccepted;
    /// Queue a replacement (RPLC) of a document this professional authored.
    Replace = "document.replace", ReplaceParams => PushAccepted;
    /// Start a chunked upload of document content.
    UploadBegin = "document.upload_begin", UploadBeginParams => UploadHandle;
    /// Send one chunk of an upload (at most MAX_CHUNK_BYTES before base64).
    UploadChunk = "document.upload_chunk", UploadChunkParams => UploadProgress;
    /// Finish an upload; the result's id is then used as a push source.
    UploadCommit = "document.upload_commit", UploadCommitParams => UploadCommitted;
    /// A job's state.
    JobStatus = "job.status", JobRef => Job;
    /// Wait until a job ends or the timeout passes; returns its state either way.
    JobWait = "job.wait", JobWaitParams => Job;
    /// All jobs the outbox holds.
    JobList = "job.list", Empty => JobListResult;
    /// Change a document's confidentiality mode, as the charter allows.
    SetMode = "document.set_mode", SetModeParams => DocumentSummary;
    /// A patient's documents visible to this professional.
    List = "document.list", ListParams => DocumentList;
    /// Retrieve a document into a file the caller names.
    GetToPath = "document.get", GetParams => Retrieved;
    /// Retrieve a document for reading in chunks (documents up to the configured size).
    OpenRead = "document.open_read", OpenReadParams => ReadHandle;
    /// Read a chunk of an opened document.
    ReadChunk = "document.read_chunk", ReadChunkParams => Chunk;
    /// Release an opened document.
    CloseRead = "document.close_read", ReadRef => Empty;
    /// One-time URL opening the patient's DSP in the browser (launched unless asked not to).
    OpenDsp = "dsp.open", OpenDspParams => DspUrl;
    /// Report an anomaly in a document to the platform's manager.
    ReportAnomaly = "document.report_anomaly", ReportAnomalyParams => AnomalyReported;
    /// Look up professionals in the HPD directory.
    HpdLookup = "hpd.lookup", HpdLookupParams => HpdResult;
    /// The last lines of the local audit log.
    LogTail = "log.tail", LogTailParams => LogLines;
    /// Receive events on this connection from now on.
    Subscribe = "events.subscribe", Empty => Subscribed;
}

// ------------------------------------------------------------------ values

/// No parameters, or an empty result.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

/// A secret on its way over the socket (PIN, password, presence code):
/// zeroized when dropped, never shown by `Debug`.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct SecretString(Zeroizing<String>);

impl SecretString {
    pub fn new(s: impl Into<String>) -> Self {
        SecretString(Zeroizing::new(s.into()))
    }
    /// The secret itself, to hand to the type that validates it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretString(****)")
    }
}

/// What `status` answers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Status {
    /// The daemon's version (the crate version).
    pub version: String,
    pub protocol: u32,
    /// True when the platform is the sandbox: nothing done here reaches the real DSP.
    pub sandbox: bool,
    /// The platform profile's name.
    pub platform: String,
    pub card: CardStatus,
    pub session: SessionInfo,
    pub outbox: OutboxSummary,
}

/// The card as the daemon sees it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CardStatus {
    /// A reader is connected.
    pub reader_present: bool,
    /// A card is in a reader.
    pub card_present: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reader: Option<String>,
    /// The reader has a pinpad (the PIN is then typed on the reader).
    pub pinpad: bool,
    /// PIN tries left, when the card says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_tries_left: Option<u8>,
    /// The PIN is blocked.
    pub blocked: bool,
    /// The card is not the one the current session or waiting jobs belong to.
    pub swapped: bool,
    /// The card holder, from the certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<Professional>,
    /// The authentication certificate's SHA-256 fingerprint (hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_fingerprint: Option<String>,
    /// End of the certificate's validity (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_not_after: Option<String>,
}

/// A professional as identified by the card or the platform.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Professional {
    pub ehealth_id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profession: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub specialty: Option<String>,
}

/// Where the session is in its life (DESIGN.md "Session, identity and data at rest").
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    /// No card in any reader.
    NoCard,
    /// A card is present; the PIN is needed.
    CardPresent,
    /// PIN entry on the reader's pinpad is in progress.
    PinpadPending,
    /// The PIN is verified; the platform authentication is under way.
    Unlocked,
    /// The platform session is open.
    Authenticated,
    /// The platform session ends soon and could not be renewed yet.
    Expiring,
    /// Locked (card removed, explicitly, idle, screen lock); the PIN is needed again.
    Locked,
    /// The platform session expired; it is renewed when the card is usable.
    Expired,
    /// The card's PIN is blocked.
    Blocked,
    /// A password session: account and directory only, never DSP documents.
    Password,
}

/// Why a session was locked.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LockReason {
    CardRemoved,
    Explicit,
    IdleTimeout,
    ScreenLocked,
    CardReset,
    ProfileChanged,
}

/// The session, as `status`, `session.*` and session events report it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SessionInfo {
    pub state: SessionState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_reason: Option<LockReason>,
    /// The professional the session belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub professional: Option<Professional>,
    /// When the platform assertion expires (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

/// Counts of outbox jobs by state.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct OutboxSummary {
    pub queued: u32,
    pub uploading: u32,
    pub waiting: u32,
    pub failed: u32,
    pub done: u32,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnlockParams {
    /// The card PIN; absent to use the reader's pinpad.
    #[serde(default)]
    pub pin: Option<SecretString>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordLoginParams {
    pub matricule: String,
    pub password: SecretString,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivateParams {
    /// The code from the Agence eSanté's activation letter.
    pub activation_code: SecretString,
    /// The professional's own matricule.
    pub matricule: String,
    /// A personal e-mail address the professional can read now.
    pub email: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ActivationPending {
    /// The address the confirmation code was sent to, partly masked.
    pub email_sent_to: String,
    /// Until when the confirmation code is valid (RFC 3339).
    pub code_expires_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmActivationParams {
    pub activation_code: SecretString,
    pub matricule: String,
    pub email_code: SecretString,
    pub new_password: SecretString,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ActivationDone {
    pub professional: Professional,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordParams {
    pub old_password: SecretString,
    pub new_password: SecretString,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatientAccessParams {
    pub patient: String,
    /// Spent at once for a consultation grant; the daemon never keeps it.
    pub presence_code: SecretString,
}

/// Access to a patient for one consultation, obtained with a presence code.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ConsultationGrant {
    pub grant_id: String,
    pub patient: String,
    pub expires_at: String,
}

/// Where pushed content comes from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum DocumentSource {
    /// A file the daemon reads (absolute path).
    Path(String),
    /// Small content inline, base64 (the whole message stays under 1 MiB).
    Base64(String),
    /// Content sent earlier with `document.upload_*`.
    Upload(String),
}

/// The professional's statement that the patient was informed and agrees
/// (charter: « Obtenir l'approbation du patient, dûment averti »).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PatientStatement {
    /// Must be true: the document is not sent otherwise.
    pub informed_and_agrees: bool,
    /// When the patient agreed (RFC 3339); now when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stated_at: Option<String>,
}

/// A code from a coding scheme (class, type, format, …).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CodeParam {
    pub code: String,
    pub scheme: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
}

/// Document metadata given by the caller; what is absent comes from the
/// platform profile's defaults.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PushMetadata {
    /// The patient's matricule.
    pub patient: String,
    pub title: String,
    #[serde(default = "default_mode")]
    pub mode: ConfidentialityMode,
    pub patient_statement: PatientStatement,
    /// MIME type; guessed from the content when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_code: Option<CodeParam>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub type_code: Option<CodeParam>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format_code: Option<CodeParam>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub practice_setting_code: Option<CodeParam>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcare_facility_type_code: Option<CodeParam>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// RFC 3339; now when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_start: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_stop: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comments: Option<String>,
}

fn default_mode() -> ConfidentialityMode {
    ConfidentialityMode::Normal
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PushParams {
    pub source: DocumentSource,
    pub metadata: PushMetadata,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ReplaceParams {
    /// The uniqueId of the document being replaced.
    pub replaces: String,
    pub source: DocumentSource,
    pub metadata: PushMetadata,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PushAccepted {
    pub job_id: String,
    /// The document's uniqueId, fixed now so that retries are safe.
    pub unique_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct UploadBeginParams {
    /// Total size announced, in bytes.
    pub size: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UploadHandle {
    pub upload_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct UploadChunkParams {
    pub upload_id: String,
    /// Must equal the bytes received so far.
    pub offset: u64,
    /// Base64 of at most MAX_CHUNK_BYTES.
    pub data: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UploadProgress {
    pub received: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct UploadCommitParams {
    pub upload_id: String,
    /// SHA-256 (hex) of the whole content, checked by the daemon.
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UploadCommitted {
    pub upload_id: String,
    pub size: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JobRef {
    pub job_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JobWaitParams {
    pub job_id: String,
    pub timeout_ms: u64,
}

/// Where an outbox job is.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Safely spooled, waiting for its turn.
    Queued,
    /// Being sent.
    Uploading,
    /// Waiting for its professional's session (card, PIN).
    WaitingForSession,
    /// Waiting to retry after a temporary failure.
    RetryWaiting,
    /// Registered in the DSP.
    Done,
    /// Stopped for good; `error` says why and what to do.
    Failed,
    /// The platform holds a different document with the same uniqueId.
    Conflict,
}

impl JobState {
    /// True when the job will not change state any more.
    pub fn is_final(self) -> bool {
        matches!(self, JobState::Done | JobState::Failed | JobState::Conflict)
    }
}

/// An error as recorded on a job or event.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ErrorInfo {
    pub code: ErrorCode,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// An outbox job.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Job {
    pub job_id: String,
    pub state: JobState,
    pub unique_id: String,
    pub patient: String,
    pub title: String,
    pub mode: ConfidentialityMode,
    /// The professional the job belongs to (eHealth id).
    pub professional: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
    pub attempts: u32,
    pub size: u64,
    /// Bytes sent in the current attempt.
    pub sent: u64,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct JobListResult {
    pub jobs: Vec<Job>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SetModeParams {
    pub patient: String,
    pub unique_id: String,
    pub mode: ConfidentialityMode,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    pub patient: String,
    /// Only documents registered since this professional's previous list of this patient.
    #[serde(default)]
    pub since_last_visit: bool,
    /// Only this professional's documents still in Visite d'annonce.
    #[serde(default)]
    pub mine_in_visite_annonce: bool,
    /// Include deprecated (replaced) entries.
    #[serde(default)]
    pub include_deprecated: bool,
}

/// A document entry as listed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DocumentSummary {
    pub unique_id: String,
    pub entry_uuid: String,
    pub patient: String,
    pub title: String,
    pub mode: ConfidentialityMode,
    pub mime_type: String,
    pub size: u64,
    /// SHA-1 hex, as registered.
    pub hash: String,
    pub author: Professional,
    pub creation_time: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submission_time: Option<String>,
    /// Approved or Deprecated.
    pub status: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DocumentList {
    pub patient: String,
    pub documents: Vec<DocumentSummary>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GetParams {
    pub patient: String,
    pub unique_id: String,
    /// Absolute path of a file to create; it must not exist yet.
    pub path: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Retrieved {
    pub path: String,
    pub size: u64,
    pub sha256: String,
    pub mime_type: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OpenReadParams {
    pub patient: String,
    pub unique_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ReadHandle {
    pub read_id: String,
    pub size: u64,
    pub mime_type: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ReadChunkParams {
    pub read_id: String,
    pub offset: u64,
    /// At most MAX_CHUNK_BYTES.
    pub length: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Chunk {
    /// Base64.
    pub data: String,
    pub eof: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ReadRef {
    pub read_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OpenDspParams {
    pub patient: String,
    /// Open the default browser (default true).
    #[serde(default = "yes")]
    pub launch_browser: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DspUrl {
    /// One-time URL; a bearer secret: do not log or share it.
    pub url: String,
    pub expires_at: String,
    pub browser_launched: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ReportAnomalyParams {
    pub patient: String,
    pub unique_id: String,
    pub description: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AnomalyReported {
    pub report_id: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HpdLookupParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ehealth_id: Option<String>,
    /// Part of a family or given name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HpdResult {
    pub professionals: Vec<Professional>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LogTailParams {
    #[serde(default = "default_tail")]
    pub lines: u32,
}

fn default_tail() -> u32 {
    50
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LogLines {
    /// Audit log lines (JSON each), oldest first.
    pub lines: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Subscribed {
    pub subscribed: bool,
}

/// An event pushed to subscribers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    Card {
        card: CardStatus,
    },
    Session {
        session: SessionInfo,
    },
    Job {
        job: Job,
    },
    /// Something the user should know (e.g. documents still in Visite d'annonce).
    Notice {
        message: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn method_names_are_unique() {
        let mut names = METHOD_NAMES.to_vec();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), METHOD_NAMES.len());
    }

    #[test]
    fn secrets_do_not_show_in_debug() {
        let p = UnlockParams {
            pin: Some(SecretString::new("123456")),
        };
        assert!(!format!("{p:?}").contains("123456"));
    }

    #[test]
    fn push_params_have_a_stable_wire_form() {
        let wire = json!({
            "source": {"path": "/tmp/r.pdf"},
            "metadata": {
                "patient": "1893120105732",
                "title": "Lettre de sortie",
                "mode": "restreint",
                "patient_statement": {"informed_and_agrees": true}
            }
        });
        let p: PushParams = serde_json::from_value(wire).unwrap();
        assert_eq!(p.source, DocumentSource::Path("/tmp/r.pdf".into()));
        assert_eq!(p.metadata.mode, ConfidentialityMode::Restreint);
        let unknown = json!({
            "source": {"path": "/tmp/r.pdf"},
            "metadata": {"patient": "1", "title": "t", "patient_statement": {"informed_and_agrees": true}, "colour": "red"}
        });
        let err = serde_json::from_value::<PushParams>(unknown).unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");
    }

    #[test]
    fn protocol_errors_keep_standard_numbers_and_our_code() {
        let e = RpcError::new(ErrorCode::MethodNotFound, "no such method 'x'");
        assert_eq!(e.code, -32601);
        assert_eq!(e.code(), ErrorCode::MethodNotFound);
        let e = RpcError::new(ErrorCode::BadMatricule, "bad").with_field("metadata.patient");
        assert_eq!(e.code, 300);
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["data"]["code"], 300);
        assert_eq!(v["data"]["name"], "DSP_E_BAD_MATRICULE");
        assert_eq!(v["data"]["field"], "metadata.patient");
    }

    #[test]
    fn events_are_tagged_by_kind() {
        let e = Event::Notice {
            message: "m".into(),
        };
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            json!({"kind": "notice", "message": "m"})
        );
    }
}
