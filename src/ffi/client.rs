//! `dsp_client`: one connection to dspconnectd, and the calls on it.

use std::ffi::c_char;
use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use zeroize::Zeroizing;

use super::error::{dsp_error, guard};
use super::strings::{arg, optional_arg, out_string, write_out};
use crate::ErrorCode;
use crate::ipc::protocol::*;
use crate::ipc::{Client, Endpoint};
use crate::model::ConfidentialityMode;

/// A connection to the daemon. Opaque; free with `dsp_client_free()`.
pub struct dsp_client {
    pub(super) inner: Mutex<Client>,
    /// Where `inner` is connected, for the event callback's own connection.
    pub(super) endpoint: Endpoint,
    pub(super) timeout: Duration,
    /// The thread calling the event callback, when one is registered.
    pub(super) events: Mutex<Option<super::events::EventThread>>,
}

impl Drop for dsp_client {
    fn drop(&mut self) {
        // No callback runs once `dsp_client_free` returns.
        let thread = self
            .events
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        super::events::stop(thread);
    }
}

/// The charter's confidentiality modes.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum dsp_mode {
    DSP_MODE_NORMAL = 0,
    DSP_MODE_RESTREINT = 1,
    DSP_MODE_PRIVE = 2,
    DSP_MODE_VISITE_ANNONCE = 3,
}

/// Where the session is.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum dsp_session_state {
    DSP_SESSION_NO_CARD = 0,
    DSP_SESSION_CARD_PRESENT = 1,
    DSP_SESSION_PINPAD_PENDING = 2,
    DSP_SESSION_UNLOCKED = 3,
    DSP_SESSION_AUTHENTICATED = 4,
    DSP_SESSION_EXPIRING = 5,
    DSP_SESSION_LOCKED = 6,
    DSP_SESSION_EXPIRED = 7,
    DSP_SESSION_BLOCKED = 8,
    DSP_SESSION_PASSWORD = 9,
}

/// Where an outbox job is.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum dsp_job_state {
    DSP_JOB_QUEUED = 0,
    DSP_JOB_UPLOADING = 1,
    DSP_JOB_WAITING_FOR_SESSION = 2,
    DSP_JOB_RETRY_WAITING = 3,
    DSP_JOB_DONE = 4,
    DSP_JOB_FAILED = 5,
    DSP_JOB_CONFLICT = 6,
}

/// The daemon, card and session at a glance (`dsp_status_get`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct dsp_status {
    /// Nothing reaches the real DSP: the platform is the sandbox.
    pub sandbox: bool,
    pub reader_present: bool,
    pub card_present: bool,
    /// The reader has a pinpad: unlock with a NULL PIN.
    pub pinpad: bool,
    /// The card's PIN is blocked.
    pub blocked: bool,
    /// The card in the reader is not the session's.
    pub card_swapped: bool,
    /// PIN tries left, or -1 when unknown.
    pub pin_tries_left: i32,
    pub session: dsp_session_state,
    pub outbox_queued: u32,
    pub outbox_waiting: u32,
    pub outbox_failed: u32,
    pub outbox_done: u32,
}

/// A document's metadata for a push. Strings are UTF-8; NULL optional
/// strings take the platform profile's defaults.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct dsp_push_metadata {
    /// The patient's matricule (13 digits). Required.
    pub patient: *const c_char,
    /// Required.
    pub title: *const c_char,
    pub mode: dsp_mode,
    /// The professional states that the patient was informed and agrees
    /// (charter: « Obtenir l'approbation du patient, dûment averti »). A
    /// push without it is refused.
    pub patient_informed: bool,
    /// MIME type, or NULL to recognise it from the content.
    pub mime_type: *const c_char,
}

/// One document as listed.
#[repr(C)]
#[derive(Debug)]
pub struct dsp_document {
    pub unique_id: *mut c_char,
    pub title: *mut c_char,
    pub mode: dsp_mode,
    pub mime_type: *mut c_char,
    pub size: u64,
    /// The author's eHealth id.
    pub author: *mut c_char,
    /// RFC 3339.
    pub creation_time: *mut c_char,
    /// Replaced by a newer document.
    pub deprecated: bool,
}

/// The documents of `dsp_list`; free with `dsp_document_list_free()`.
#[repr(C)]
#[derive(Debug)]
pub struct dsp_document_list {
    pub documents: *mut dsp_document,
    pub count: usize,
}

pub(super) fn mode_of(mode: ConfidentialityMode) -> dsp_mode {
    match mode {
        ConfidentialityMode::Normal => dsp_mode::DSP_MODE_NORMAL,
        ConfidentialityMode::Restreint => dsp_mode::DSP_MODE_RESTREINT,
        ConfidentialityMode::Prive => dsp_mode::DSP_MODE_PRIVE,
        ConfidentialityMode::VisiteAnnonce => dsp_mode::DSP_MODE_VISITE_ANNONCE,
    }
}

fn confidentiality(mode: dsp_mode) -> ConfidentialityMode {
    match mode {
        dsp_mode::DSP_MODE_NORMAL => ConfidentialityMode::Normal,
        dsp_mode::DSP_MODE_RESTREINT => ConfidentialityMode::Restreint,
        dsp_mode::DSP_MODE_PRIVE => ConfidentialityMode::Prive,
        dsp_mode::DSP_MODE_VISITE_ANNONCE => ConfidentialityMode::VisiteAnnonce,
    }
}

/// A mode given as a plain integer by a host language: checked, since a C
/// enum can hold any value.
pub(super) fn checked_mode(raw: u32) -> Result<dsp_mode, Box<dsp_error>> {
    Ok(match raw {
        0 => dsp_mode::DSP_MODE_NORMAL,
        1 => dsp_mode::DSP_MODE_RESTREINT,
        2 => dsp_mode::DSP_MODE_PRIVE,
        3 => dsp_mode::DSP_MODE_VISITE_ANNONCE,
        other => {
            return Err(dsp_error::new(
                ErrorCode::BadMode,
                &format!("mode {other} is not a dsp_mode (0 to 3)"),
            ));
        }
    })
}

pub(super) fn session_state(state: SessionState) -> dsp_session_state {
    use dsp_session_state::*;
    match state {
        SessionState::NoCard => DSP_SESSION_NO_CARD,
        SessionState::CardPresent => DSP_SESSION_CARD_PRESENT,
        SessionState::PinpadPending => DSP_SESSION_PINPAD_PENDING,
        SessionState::Unlocked => DSP_SESSION_UNLOCKED,
        SessionState::Authenticated => DSP_SESSION_AUTHENTICATED,
        SessionState::Expiring => DSP_SESSION_EXPIRING,
        SessionState::Locked => DSP_SESSION_LOCKED,
        SessionState::Expired => DSP_SESSION_EXPIRED,
        SessionState::Blocked => DSP_SESSION_BLOCKED,
        SessionState::Password => DSP_SESSION_PASSWORD,
    }
}

pub(super) fn job_state(state: JobState) -> dsp_job_state {
    use dsp_job_state::*;
    match state {
        JobState::Queued => DSP_JOB_QUEUED,
        JobState::Uploading => DSP_JOB_UPLOADING,
        JobState::WaitingForSession => DSP_JOB_WAITING_FOR_SESSION,
        JobState::RetryWaiting => DSP_JOB_RETRY_WAITING,
        JobState::Done => DSP_JOB_DONE,
        JobState::Failed => DSP_JOB_FAILED,
        JobState::Conflict => DSP_JOB_CONFLICT,
    }
}

/// The client behind a handle.
///
/// # Safety
/// `client` is NULL or a live handle from `dsp_connect`.
pub(super) unsafe fn client_ref<'a>(
    client: *const dsp_client,
) -> Result<&'a dsp_client, Box<dsp_error>> {
    // SAFETY: the caller's contract.
    unsafe { client.as_ref() }.ok_or_else(|| dsp_error::null_argument("client"))
}

impl dsp_client {
    pub(super) fn call<M: Method>(&self, params: &M::Params) -> Result<M::Result, Box<dsp_error>> {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .call::<M>(params)
            .map_err(dsp_error::from_client)
    }

    fn call_with_timeout<M: Method>(
        &self,
        params: &M::Params,
        timeout: Duration,
    ) -> Result<M::Result, Box<dsp_error>> {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .call_with_timeout::<M>(params, timeout)
            .map_err(dsp_error::from_client)
    }
}

/// Connects to the daemon: at `socket` (a path), or when NULL at the
/// default endpoint (`$DSPCONNECT_SOCKET`, else
/// `$XDG_RUNTIME_DIR/dspconnect/dspconnectd.sock`). Each call waits at
/// most `timeout_ms` for its answer. `*out` receives the handle.
#[unsafe(no_mangle)]
pub extern "C" fn dsp_connect(
    socket: *const c_char,
    timeout_ms: u32,
    out: *mut *mut dsp_client,
) -> *mut dsp_error {
    guard(|| {
        if out.is_null() {
            return Err(dsp_error::null_argument("out"));
        }
        // SAFETY: `socket` is NULL or a NUL-terminated string.
        let endpoint = match unsafe { optional_arg(socket, "socket") }? {
            Some(path) => Endpoint::at_path(path),
            None => Endpoint::default_endpoint()
                .map_err(|e| dsp_error::new(ErrorCode::DaemonNotRunning, &e.to_string()))?,
        };
        let timeout = Duration::from_millis(u64::from(timeout_ms.max(1)));
        let client = Client::connect(&endpoint, timeout).map_err(dsp_error::from_client)?;
        let handle = Box::into_raw(Box::new(dsp_client {
            inner: Mutex::new(client),
            endpoint,
            timeout,
            events: Mutex::new(None),
        }));
        // SAFETY: `out` is non-NULL and writable by contract.
        unsafe { write_out(out, handle, "out") }
    })
}

/// Closes the connection; NULL is accepted. An event callback registered
/// on it is unregistered first: its thread is joined, so no callback runs
/// after this returns (called from the callback itself, the thread ends
/// when the callback returns instead).
#[unsafe(no_mangle)]
pub extern "C" fn dsp_client_free(client: *mut dsp_client) {
    if !client.is_null() {
        // SAFETY: from `Box::into_raw` in `dsp_connect`, freed once.
        drop(unsafe { Box::from_raw(client) });
    }
}

/// `status` as `dsp_status_get` reads it: only the fields it reports
/// (the others are skipped without being stored; the C ABI is polled often).
struct StatusFields;

impl Method for StatusFields {
    const NAME: &'static str = StatusMethod::NAME;
    type Params = Empty;
    type Result = StatusView;
}

#[derive(serde::Serialize, serde::Deserialize)]
struct StatusView {
    sandbox: bool,
    card: CardView,
    session: SessionView,
    outbox: OutboxSummary,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct CardView {
    reader_present: bool,
    card_present: bool,
    pinpad: bool,
    #[serde(default)]
    pin_tries_left: Option<u8>,
    blocked: bool,
    swapped: bool,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct SessionView {
    state: SessionState,
}

/// Fills `*out` with the daemon's status.
#[unsafe(no_mangle)]
pub extern "C" fn dsp_status_get(
    client: *const dsp_client,
    out: *mut dsp_status,
) -> *mut dsp_error {
    guard(|| {
        // SAFETY: handle contract.
        let client = unsafe { client_ref(client) }?;
        let status = client.call::<StatusFields>(&Empty {})?;
        let value = dsp_status {
            sandbox: status.sandbox,
            reader_present: status.card.reader_present,
            card_present: status.card.card_present,
            pinpad: status.card.pinpad,
            blocked: status.card.blocked,
            card_swapped: status.card.swapped,
            pin_tries_left: status.card.pin_tries_left.map_or(-1, i32::from),
            session: session_state(status.session.state),
            outbox_queued: status.outbox.queued,
            outbox_waiting: status.outbox.waiting,
            outbox_failed: status.outbox.failed,
            outbox_done: status.outbox.done,
        };
        // SAFETY: `out` is NULL or writable.
        unsafe { write_out(out, value, "out") }
    })
}

/// Verifies the card's PIN and opens the platform session; with a NULL
/// `pin`, PIN entry starts on the reader's pinpad and the call answers at
/// once (the outcome comes as a session event). A wrong PIN's error gives
/// the tries left (`dsp_error_pin_tries_left`). The library keeps no copy
/// of the PIN.
#[unsafe(no_mangle)]
pub extern "C" fn dsp_unlock(client: *const dsp_client, pin: *const c_char) -> *mut dsp_error {
    guard(|| {
        // SAFETY: handle contract.
        let client = unsafe { client_ref(client) }?;
        // SAFETY: `pin` is NULL or NUL-terminated.
        let pin = unsafe { optional_arg(pin, "pin") }?.map(SecretString::new);
        client.call::<Unlock>(&UnlockParams { pin }).map(|_| ())
    })
}

/// Locks the session now.
#[unsafe(no_mangle)]
pub extern "C" fn dsp_lock(client: *const dsp_client) -> *mut dsp_error {
    guard(|| {
        // SAFETY: handle contract.
        let client = unsafe { client_ref(client) }?;
        client.call::<Lock>(&Empty {}).map(|_| ())
    })
}

/// The IPC metadata of a C metadata struct.
///
/// # Safety
/// `metadata` is NULL or a valid struct whose strings are NULL or
/// NUL-terminated.
pub(super) unsafe fn push_metadata(
    metadata: *const dsp_push_metadata,
) -> Result<PushMetadata, Box<dsp_error>> {
    // SAFETY: the caller's contract.
    let m = unsafe { metadata.as_ref() }.ok_or_else(|| dsp_error::null_argument("metadata"))?;
    // The enum may hold any integer when it comes from another language.
    // SAFETY: reading the field's bits as the u32 it is (repr(u32)).
    let raw_mode = unsafe { std::ptr::addr_of!(m.mode).cast::<u32>().read() };
    Ok(PushMetadata {
        // SAFETY: string fields are NULL or NUL-terminated.
        patient: unsafe { arg(m.patient, "metadata.patient") }?.to_owned(),
        // SAFETY: as above.
        title: unsafe { arg(m.title, "metadata.title") }?.to_owned(),
        mode: confidentiality(checked_mode(raw_mode)?),
        patient_statement: PatientStatement {
            informed_and_agrees: m.patient_informed,
            stated_at: None,
        },
        // SAFETY: as above.
        mime_type: unsafe { optional_arg(m.mime_type, "metadata.mime_type") }?.map(str::to_owned),
        class_code: None,
        type_code: None,
        format_code: None,
        practice_setting_code: None,
        healthcare_facility_type_code: None,
        language: None,
        creation_time: None,
        service_start: None,
        service_stop: None,
        comments: None,
    })
}

pub(super) fn accepted_out(
    accepted: PushAccepted,
    job_id: *mut *mut c_char,
    unique_id: *mut *mut c_char,
) -> Result<(), Box<dsp_error>> {
    if !job_id.is_null() {
        // SAFETY: non-NULL out-pointers are writable by contract.
        unsafe { job_id.write(out_string(&accepted.job_id)) };
    }
    if !unique_id.is_null() {
        // SAFETY: as above.
        unsafe { unique_id.write(out_string(&accepted.unique_id)) };
    }
    Ok(())
}

/// A push source naming a file (made absolute: the daemon has another
/// working directory).
///
/// # Safety
/// `path` is NULL or a NUL-terminated string.
pub(super) unsafe fn file_source(path: *const c_char) -> Result<DocumentSource, Box<dsp_error>> {
    // SAFETY: the caller's contract.
    let path = unsafe { arg(path, "path") }?;
    let path = std::path::absolute(Path::new(path))
        .map_err(|e| dsp_error::new(ErrorCode::InvalidArgument, &format!("path: {e}")))?;
    Ok(DocumentSource::Path(path.display().to_string()))
}

/// Sends `length` bytes at `data` to the daemon in chunks; the push source
/// naming the committed upload.
///
/// # Safety
/// `data` is NULL (with `length` 0) or points to `length` readable bytes.
pub(super) unsafe fn upload_source(
    client: &dsp_client,
    data: *const u8,
    length: usize,
) -> Result<DocumentSource, Box<dsp_error>> {
    if data.is_null() && length > 0 {
        return Err(dsp_error::null_argument("data"));
    }
    let bytes = if length == 0 {
        &[][..]
    } else {
        // SAFETY: `data` points to `length` readable bytes by contract.
        unsafe { std::slice::from_raw_parts(data, length) }
    };
    let upload = client.call::<UploadBegin>(&UploadBeginParams {
        size: length as u64,
    })?;
    use base64::Engine as _;
    let mut offset = 0usize;
    for chunk in bytes.chunks(MAX_CHUNK_BYTES) {
        client.call::<UploadChunk>(&UploadChunkParams {
            upload_id: upload.upload_id.clone(),
            offset: offset as u64,
            data: base64::engine::general_purpose::STANDARD.encode(chunk),
        })?;
        offset += chunk.len();
    }
    use sha2::Digest as _;
    let sha256: String = sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    client.call::<UploadCommit>(&UploadCommitParams {
        upload_id: upload.upload_id.clone(),
        sha256,
    })?;
    Ok(DocumentSource::Upload(upload.upload_id))
}

/// Queues the file at `path` (absolute) for the patient's DSP. Answers
/// once the document is safely spooled: `*job_id` and `*unique_id` (each
/// may be NULL when not wanted; free them with `dsp_string_free`).
#[unsafe(no_mangle)]
pub extern "C" fn dsp_push_file(
    client: *const dsp_client,
    path: *const c_char,
    metadata: *const dsp_push_metadata,
    job_id: *mut *mut c_char,
    unique_id: *mut *mut c_char,
) -> *mut dsp_error {
    guard(|| {
        // SAFETY: handle contract.
        let client = unsafe { client_ref(client) }?;
        // SAFETY: string contract.
        let source = unsafe { file_source(path) }?;
        // SAFETY: struct contract.
        let metadata = unsafe { push_metadata(metadata) }?;
        let accepted = client.call::<Push>(&PushParams { source, metadata })?;
        accepted_out(accepted, job_id, unique_id)
    })
}

/// Queues `length` bytes at `data` as a document (sent over the socket in
/// chunks; nothing is written to disk by the library).
#[unsafe(no_mangle)]
pub extern "C" fn dsp_push_buffer(
    client: *const dsp_client,
    data: *const u8,
    length: usize,
    metadata: *const dsp_push_metadata,
    job_id: *mut *mut c_char,
    unique_id: *mut *mut c_char,
) -> *mut dsp_error {
    guard(|| {
        // SAFETY: handle contract.
        let client = unsafe { client_ref(client) }?;
        // SAFETY: struct contract.
        let metadata = unsafe { push_metadata(metadata) }?;
        // SAFETY: buffer contract.
        let source = unsafe { upload_source(client, data, length) }?;
        let accepted = client.call::<Push>(&PushParams { source, metadata })?;
        accepted_out(accepted, job_id, unique_id)
    })
}

/// Waits up to `timeout_ms` for the job to end; `*state` is its state
/// either way (a final one: DONE, FAILED, CONFLICT).
#[unsafe(no_mangle)]
pub extern "C" fn dsp_job_wait(
    client: *const dsp_client,
    job_id: *const c_char,
    timeout_ms: u32,
    state: *mut dsp_job_state,
) -> *mut dsp_error {
    guard(|| {
        // SAFETY: handle contract.
        let client = unsafe { client_ref(client) }?;
        // SAFETY: string contract.
        let job_id = unsafe { arg(job_id, "job_id") }?.to_owned();
        let job = client.call_with_timeout::<JobWait>(
            &JobWaitParams {
                job_id,
                timeout_ms: u64::from(timeout_ms),
            },
            Duration::from_millis(u64::from(timeout_ms)) + Duration::from_secs(30),
        )?;
        // SAFETY: out-pointer contract.
        unsafe { write_out(state, job_state(job.state), "state") }
    })
}

/// Changes a document's confidentiality mode, as the charter allows.
#[unsafe(no_mangle)]
pub extern "C" fn dsp_set_mode(
    client: *const dsp_client,
    patient: *const c_char,
    unique_id: *const c_char,
    mode: u32,
) -> *mut dsp_error {
    guard(|| {
        // SAFETY: handle contract.
        let client = unsafe { client_ref(client) }?;
        let params = SetModeParams {
            // SAFETY: string contract.
            patient: unsafe { arg(patient, "patient") }?.to_owned(),
            // SAFETY: string contract.
            unique_id: unsafe { arg(unique_id, "unique_id") }?.to_owned(),
            mode: confidentiality(checked_mode(mode)?),
        };
        client.call::<SetMode>(&params).map(|_| ())
    })
}

/// The patient's documents this professional may see; `*out` is freed with
/// `dsp_document_list_free()`.
#[unsafe(no_mangle)]
pub extern "C" fn dsp_list(
    client: *const dsp_client,
    patient: *const c_char,
    out: *mut *mut dsp_document_list,
) -> *mut dsp_error {
    guard(|| {
        // SAFETY: handle contract.
        let client = unsafe { client_ref(client) }?;
        if out.is_null() {
            return Err(dsp_error::null_argument("out"));
        }
        let list = client.call::<List>(&ListParams {
            // SAFETY: string contract.
            patient: unsafe { arg(patient, "patient") }?.to_owned(),
            ..ListParams::default()
        })?;
        let documents: Box<[dsp_document]> = list
            .documents
            .iter()
            .map(|d| dsp_document {
                unique_id: out_string(&d.unique_id),
                title: out_string(&d.title),
                mode: mode_of(d.mode),
                mime_type: out_string(&d.mime_type),
                size: d.size,
                author: out_string(&d.author.ehealth_id),
                creation_time: out_string(&d.creation_time),
                deprecated: d.status == "Deprecated",
            })
            .collect();
        let count = documents.len();
        let list = Box::new(dsp_document_list {
            documents: Box::into_raw(documents).cast::<dsp_document>(),
            count,
        });
        // SAFETY: `out` checked non-NULL above.
        unsafe { write_out(out, Box::into_raw(list), "out") }
    })
}

/// Frees a document list; NULL is accepted.
#[unsafe(no_mangle)]
pub extern "C" fn dsp_document_list_free(list: *mut dsp_document_list) {
    if list.is_null() {
        return;
    }
    // SAFETY: `list` came from `dsp_list` and is freed once.
    let list = unsafe { Box::from_raw(list) };
    // SAFETY: `documents`/`count` are the boxed slice made in `dsp_list`.
    let documents = unsafe {
        Box::from_raw(std::ptr::slice_from_raw_parts_mut(
            list.documents,
            list.count,
        ))
    };
    for d in documents.iter() {
        for s in [d.unique_id, d.title, d.mime_type, d.author, d.creation_time] {
            super::strings::dsp_string_free(s);
        }
    }
}

/// Retrieves a document into the file `path` (absolute; it must not exist).
#[unsafe(no_mangle)]
pub extern "C" fn dsp_get_to_path(
    client: *const dsp_client,
    patient: *const c_char,
    unique_id: *const c_char,
    path: *const c_char,
) -> *mut dsp_error {
    guard(|| {
        // SAFETY: handle contract.
        let client = unsafe { client_ref(client) }?;
        let params = GetParams {
            // SAFETY: string contract (three times).
            patient: unsafe { arg(patient, "patient") }?.to_owned(),
            unique_id: unsafe { arg(unique_id, "unique_id") }?.to_owned(),
            path: unsafe { arg(path, "path") }?.to_owned(),
        };
        client.call::<GetToPath>(&params).map(|_| ())
    })
}

/// A one-time URL opening the patient's DSP (`*url`, a bearer secret: do
/// not log it; free with `dsp_string_free`, which wipes it); the default
/// browser is opened when `launch_browser`.
#[unsafe(no_mangle)]
pub extern "C" fn dsp_open_dsp(
    client: *const dsp_client,
    patient: *const c_char,
    launch_browser: bool,
    url: *mut *mut c_char,
) -> *mut dsp_error {
    guard(|| {
        // SAFETY: handle contract.
        let client = unsafe { client_ref(client) }?;
        let answer = client.call::<OpenDsp>(&OpenDspParams {
            // SAFETY: string contract.
            patient: unsafe { arg(patient, "patient") }?.to_owned(),
            launch_browser,
        })?;
        let secret = Zeroizing::new(answer.url);
        if url.is_null() {
            return Ok(());
        }
        // SAFETY: non-NULL out-pointer is writable.
        unsafe { url.write(out_string(&secret)) };
        Ok(())
    })
}

/// Opens access to a patient with their presence code (code de présence):
/// spent at once for a consultation grant; the library keeps no copy.
#[unsafe(no_mangle)]
pub extern "C" fn dsp_patient_access(
    client: *const dsp_client,
    patient: *const c_char,
    presence_code: *const c_char,
) -> *mut dsp_error {
    guard(|| {
        // SAFETY: handle contract.
        let client = unsafe { client_ref(client) }?;
        let params = PatientAccessParams {
            // SAFETY: string contract (twice).
            patient: unsafe { arg(patient, "patient") }?.to_owned(),
            presence_code: SecretString::new(unsafe { arg(presence_code, "presence_code") }?),
        };
        client.call::<PatientAccess>(&params).map(|_| ())
    })
}

/// Reports an anomaly in a document to the platform's manager.
#[unsafe(no_mangle)]
pub extern "C" fn dsp_report_anomaly(
    client: *const dsp_client,
    patient: *const c_char,
    unique_id: *const c_char,
    description: *const c_char,
) -> *mut dsp_error {
    guard(|| {
        // SAFETY: handle contract.
        let client = unsafe { client_ref(client) }?;
        let params = ReportAnomalyParams {
            // SAFETY: string contract (three times).
            patient: unsafe { arg(patient, "patient") }?.to_owned(),
            unique_id: unsafe { arg(unique_id, "unique_id") }?.to_owned(),
            description: unsafe { arg(description, "description") }?.to_owned(),
        };
        client.call::<ReportAnomaly>(&params).map(|_| ())
    })
}

/// Starts event delivery on this connection (card, session, job events).
#[unsafe(no_mangle)]
pub extern "C" fn dsp_subscribe(client: *const dsp_client) -> *mut dsp_error {
    guard(|| {
        // SAFETY: handle contract.
        let client = unsafe { client_ref(client) }?;
        client.call::<Subscribe>(&Empty {}).map(|_| ())
    })
}

/// Waits up to `timeout_ms` for the next event (after `dsp_subscribe`):
/// `*event_json` is the event as JSON (`{"kind": "job", …}`, docs/ipc.md),
/// freed with `dsp_string_free`, or NULL when none came in time. For hosts
/// that cannot take callbacks.
#[unsafe(no_mangle)]
pub extern "C" fn dsp_next_event(
    client: *const dsp_client,
    timeout_ms: u32,
    event_json: *mut *mut c_char,
) -> *mut dsp_error {
    guard(|| {
        // SAFETY: handle contract.
        let client = unsafe { client_ref(client) }?;
        if event_json.is_null() {
            return Err(dsp_error::null_argument("event_json"));
        }
        let event = client
            .inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .next_event(Duration::from_millis(u64::from(timeout_ms)))
            .map_err(dsp_error::from_client)?;
        let text = match event {
            Some(event) => {
                let json = serde_json::to_string(&event).map_err(|e| {
                    dsp_error::new(ErrorCode::Internal, &format!("event as JSON: {e}"))
                })?;
                out_string(&json)
            }
            None => std::ptr::null_mut(),
        };
        // SAFETY: checked non-NULL above.
        unsafe { event_json.write(text) };
        Ok(())
    })
}
