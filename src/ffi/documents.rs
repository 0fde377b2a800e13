//! Documents beyond the push: replacement (RPLC), a job's state without
//! waiting, retrieval into memory.

use std::ffi::c_char;

use zeroize::Zeroize as _;

use super::client::{
    accepted_out, client_ref, dsp_client, dsp_job_state, dsp_push_metadata, file_source, job_state,
    push_metadata, upload_source,
};
use super::error::{dsp_error, guard};
use super::strings::{arg, out_string};
use crate::ErrorCode;
use crate::ipc::protocol::*;

/// Queues a replacement (RPLC) of the document `replaces` (a uniqueId this
/// professional authored) by the file at `path`; otherwise as
/// `dsp_push_file`: `*job_id` and `*unique_id` (the new document's; each
/// may be NULL) are freed with `dsp_string_free`.
#[unsafe(no_mangle)]
pub extern "C" fn dsp_replace_file(
    client: *const dsp_client,
    replaces: *const c_char,
    path: *const c_char,
    metadata: *const dsp_push_metadata,
    job_id: *mut *mut c_char,
    unique_id: *mut *mut c_char,
) -> *mut dsp_error {
    guard(|| {
        // SAFETY: handle contract.
        let client = unsafe { client_ref(client) }?;
        // SAFETY: string contract.
        let replaces = unsafe { arg(replaces, "replaces") }?.to_owned();
        // SAFETY: string contract.
        let source = unsafe { file_source(path) }?;
        // SAFETY: struct contract.
        let metadata = unsafe { push_metadata(metadata) }?;
        let accepted = client.call::<Replace>(&ReplaceParams {
            replaces,
            source,
            metadata,
        })?;
        accepted_out(accepted, job_id, unique_id)
    })
}

/// Queues a replacement (RPLC) of the document `replaces` by `length`
/// bytes at `data`; otherwise as `dsp_push_buffer`.
#[unsafe(no_mangle)]
pub extern "C" fn dsp_replace_buffer(
    client: *const dsp_client,
    replaces: *const c_char,
    data: *const u8,
    length: usize,
    metadata: *const dsp_push_metadata,
    job_id: *mut *mut c_char,
    unique_id: *mut *mut c_char,
) -> *mut dsp_error {
    guard(|| {
        // SAFETY: handle contract.
        let client = unsafe { client_ref(client) }?;
        // SAFETY: string contract.
        let replaces = unsafe { arg(replaces, "replaces") }?.to_owned();
        // SAFETY: struct contract.
        let metadata = unsafe { push_metadata(metadata) }?;
        // SAFETY: buffer contract.
        let source = unsafe { upload_source(client, data, length) }?;
        let accepted = client.call::<Replace>(&ReplaceParams {
            replaces,
            source,
            metadata,
        })?;
        accepted_out(accepted, job_id, unique_id)
    })
}

/// A job's state as `dsp_job_status` reports it. The caller sets `size`
/// to `sizeof(dsp_job_info)` before the call (another value is
/// `DSP_E_STRUCT_VERSION`: the struct may grow in later versions).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct dsp_job_info {
    /// `sizeof(dsp_job_info)`, set by the caller.
    pub size: u32,
    pub state: dsp_job_state,
    /// Upload attempts so far.
    pub attempts: u32,
    /// A FAILED or CONFLICT job's error code (`dsp_code`), else 0.
    pub error_code: u32,
    /// The document's size in bytes.
    pub document_size: u64,
    /// Bytes sent in the current attempt.
    pub sent: u64,
}

/// A job's state now, without waiting (`job.status`). `info->size` must
/// be `sizeof(dsp_job_info)`; an unknown job is `DSP_E_UNKNOWN_JOB`.
#[unsafe(no_mangle)]
pub extern "C" fn dsp_job_status(
    client: *const dsp_client,
    job_id: *const c_char,
    info: *mut dsp_job_info,
) -> *mut dsp_error {
    guard(|| {
        // SAFETY: handle contract.
        let client = unsafe { client_ref(client) }?;
        if info.is_null() {
            return Err(dsp_error::null_argument("info"));
        }
        // SAFETY: `info` is non-NULL and points to a struct whose first
        // field, `size`, the caller set.
        let size = unsafe { info.cast::<u32>().read() };
        let expected = std::mem::size_of::<dsp_job_info>();
        if size as usize != expected {
            return Err(dsp_error::new(
                ErrorCode::StructVersion,
                &format!(
                    "info->size is {size}; set it to sizeof(dsp_job_info) ({expected} in this \
                     library version) before the call"
                ),
            ));
        }
        // SAFETY: string contract.
        let job_id = unsafe { arg(job_id, "job_id") }?.to_owned();
        let job = client.call::<JobStatus>(&JobRef { job_id })?;
        let value = dsp_job_info {
            size,
            state: job_state(job.state),
            attempts: job.attempts,
            error_code: job.error.as_ref().map_or(0, |e| e.code.number()),
            document_size: job.size,
            sent: job.sent,
        };
        // SAFETY: checked non-NULL; writable by contract.
        unsafe { info.write(value) };
        Ok(())
    })
}

/// Bytes before a buffer handed out by `dsp_get_to_buffer`: its length, so
/// that `dsp_buffer_free` needs only the pointer.
const HEADER: usize = std::mem::size_of::<usize>();

/// A buffer for the caller: `bytes` behind a length header; the pointer to
/// the bytes.
fn out_buffer(mut bytes: Vec<u8>) -> *mut u8 {
    let length = bytes.len();
    let mut owned = Vec::with_capacity(HEADER + length);
    owned.extend_from_slice(&length.to_ne_bytes());
    owned.extend_from_slice(&bytes);
    bytes.zeroize();
    let raw = Box::into_raw(owned.into_boxed_slice()).cast::<u8>();
    // SAFETY: the allocation is HEADER + length bytes long.
    unsafe { raw.add(HEADER) }
}

/// Reads an opened document to its end: exactly `size` bytes.
fn read_all(
    client: &dsp_client,
    handle: &ReadHandle,
    max_size: u64,
) -> Result<Vec<u8>, Box<dsp_error>> {
    if handle.size > max_size {
        return Err(dsp_error::new(
            ErrorCode::FileTooLarge,
            &format!(
                "the document has {} bytes, more than max_size ({max_size}); retrieve it with \
                 dsp_get_to_path instead",
                handle.size
            ),
        ));
    }
    let size = usize::try_from(handle.size).map_err(|_| {
        dsp_error::new(
            ErrorCode::FileTooLarge,
            "the document does not fit in memory",
        )
    })?;
    let mut bytes = Vec::with_capacity(size);
    use base64::Engine as _;
    loop {
        let chunk = client.call::<ReadChunk>(&ReadChunkParams {
            read_id: handle.read_id.clone(),
            offset: bytes.len() as u64,
            length: MAX_CHUNK_BYTES as u32,
        })?;
        let before = bytes.len();
        base64::engine::general_purpose::STANDARD
            .decode_vec(chunk.data.as_bytes(), &mut bytes)
            .map_err(|e| {
                dsp_error::new(
                    ErrorCode::Protocol,
                    &format!("the daemon sent a chunk that is not base64: {e}"),
                )
            })?;
        if bytes.len() > size {
            bytes.zeroize();
            return Err(dsp_error::new(
                ErrorCode::Protocol,
                &format!("the daemon sent more than the {size} bytes it announced"),
            ));
        }
        if chunk.eof {
            break;
        }
        if bytes.len() == before {
            bytes.zeroize();
            return Err(dsp_error::new(
                ErrorCode::Protocol,
                "the daemon sent an empty chunk before the end of the document",
            ));
        }
    }
    if bytes.len() != size {
        bytes.zeroize();
        return Err(dsp_error::new(
            ErrorCode::Protocol,
            &format!("the daemon announced {size} bytes and sent {}", bytes.len()),
        ));
    }
    Ok(bytes)
}

/// Retrieves a document into memory, for small documents: `*data` receives
/// its `*length` bytes (free with `dsp_buffer_free`, which wipes them) and
/// `*mime_type` (may be NULL when not wanted) its type, freed with
/// `dsp_string_free`. A document larger than `max_size` bytes is
/// `DSP_E_FILE_TOO_LARGE` (use `dsp_get_to_path` for those); nothing of it
/// is written to disk. On error `*data` is NULL and `*length` 0.
#[unsafe(no_mangle)]
pub extern "C" fn dsp_get_to_buffer(
    client: *const dsp_client,
    patient: *const c_char,
    unique_id: *const c_char,
    max_size: u64,
    data: *mut *mut u8,
    length: *mut usize,
    mime_type: *mut *mut c_char,
) -> *mut dsp_error {
    guard(|| {
        // SAFETY: handle contract.
        let client = unsafe { client_ref(client) }?;
        if data.is_null() {
            return Err(dsp_error::null_argument("data"));
        }
        if length.is_null() {
            return Err(dsp_error::null_argument("length"));
        }
        // SAFETY: both checked non-NULL; writable by contract.
        unsafe {
            data.write(std::ptr::null_mut());
            length.write(0);
        }
        let params = OpenReadParams {
            // SAFETY: string contract (twice).
            patient: unsafe { arg(patient, "patient") }?.to_owned(),
            unique_id: unsafe { arg(unique_id, "unique_id") }?.to_owned(),
        };
        let handle = client.call::<OpenRead>(&params)?;
        let read = read_all(client, &handle, max_size);
        let closed = client.call::<CloseRead>(&ReadRef {
            read_id: handle.read_id.clone(),
        });
        let bytes = read?;
        closed?;
        let count = bytes.len();
        // SAFETY: checked non-NULL above (three times; `mime_type` here).
        unsafe {
            data.write(out_buffer(bytes));
            length.write(count);
            if !mime_type.is_null() {
                mime_type.write(out_string(&handle.mime_type));
            }
        }
        Ok(())
    })
}

/// Frees (and wipes) a buffer from `dsp_get_to_buffer`; NULL is accepted.
#[unsafe(no_mangle)]
pub extern "C" fn dsp_buffer_free(data: *mut u8) {
    if data.is_null() {
        return;
    }
    // SAFETY: `data` came from `out_buffer`: HEADER bytes before it hold
    // the length of what follows, in one boxed slice; freed once.
    unsafe {
        let start = data.sub(HEADER);
        let length = usize::from_ne_bytes(*start.cast::<[u8; HEADER]>());
        let mut owned = Box::from_raw(std::ptr::slice_from_raw_parts_mut(start, HEADER + length));
        owned.zeroize();
    }
}
