//! `dsp_error`: what a failed call returns, and the panic boundary.

use std::ffi::{CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::ErrorCode;
use crate::ipc::ClientError;

/// A failed call's error. Opaque; read it with `dsp_error_code()`,
/// `dsp_error_message()`, `dsp_error_hint()`, free it with
/// `dsp_error_free()`.
pub struct dsp_error {
    code: ErrorCode,
    message: CString,
    hint: Option<CString>,
    field: Option<CString>,
    pin_tries_left: i32,
}

fn c_string(text: &str) -> CString {
    // Interior NULs cannot be carried in a C string: cut there.
    let bytes: Vec<u8> = text.bytes().take_while(|&b| b != 0).collect();
    CString::new(bytes).unwrap_or_default()
}

impl dsp_error {
    pub(crate) fn new(code: ErrorCode, message: &str) -> Box<dsp_error> {
        Box::new(dsp_error {
            code,
            message: c_string(message),
            hint: None,
            field: None,
            pin_tries_left: -1,
        })
    }

    pub(crate) fn null_argument(name: &str) -> Box<dsp_error> {
        dsp_error::new(
            ErrorCode::NullArgument,
            &format!("argument '{name}' is NULL; pass a valid pointer"),
        )
    }

    pub(crate) fn from_client(e: ClientError) -> Box<dsp_error> {
        let mut error = dsp_error::new(e.code, &e.message);
        if let Some(rpc) = e.rpc {
            error.hint = rpc.data.hint.as_deref().map(c_string);
            error.field = rpc.data.field.as_deref().map(c_string);
            error.pin_tries_left = rpc.data.pin_tries_left.map_or(-1, i32::from);
        }
        error
    }
}

thread_local! {
    /// Set by `testing::panic_in_next_call`: the next guarded call panics.
    pub(super) static PANIC_NEXT_CALL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` behind the panic boundary: its error, or `DSP_E_PANIC`.
pub(crate) fn guard(f: impl FnOnce() -> Result<(), Box<dsp_error>>) -> *mut dsp_error {
    let run = || {
        if PANIC_NEXT_CALL.with(|p| p.replace(false)) {
            panic!("a panic forced by dspconnect::ffi::testing::panic_in_next_call");
        }
        f()
    };
    match catch_unwind(AssertUnwindSafe(run)) {
        Ok(Ok(())) => std::ptr::null_mut(),
        Ok(Err(error)) => Box::into_raw(error),
        Err(_) => Box::into_raw(dsp_error::new(
            ErrorCode::Panic,
            "internal error in libdspconnect (a panic was caught); please report it",
        )),
    }
}

/// The error's fixed code (`dsp_code`); `DSP_E_NULL_ARGUMENT` for NULL.
#[unsafe(no_mangle)]
pub extern "C" fn dsp_error_code(error: *const dsp_error) -> u32 {
    // SAFETY: a non-NULL `error` is a live `dsp_error` from this library.
    match unsafe { error.as_ref() } {
        Some(e) => e.code.number(),
        None => ErrorCode::NullArgument.number(),
    }
}

/// The error's message (UTF-8), valid until `dsp_error_free()`; never NULL
/// for a non-NULL error.
#[unsafe(no_mangle)]
pub extern "C" fn dsp_error_message(error: *const dsp_error) -> *const c_char {
    // SAFETY: as in `dsp_error_code`.
    match unsafe { error.as_ref() } {
        Some(e) => e.message.as_ptr(),
        None => c"NULL error".as_ptr(),
    }
}

/// What the user can do about it, or NULL; valid until `dsp_error_free()`.
#[unsafe(no_mangle)]
pub extern "C" fn dsp_error_hint(error: *const dsp_error) -> *const c_char {
    // SAFETY: as in `dsp_error_code`.
    unsafe { error.as_ref() }
        .and_then(|e| e.hint.as_ref())
        .map_or(std::ptr::null(), |h| h.as_ptr())
}

/// The request field at fault (`metadata.patient`), or NULL.
#[unsafe(no_mangle)]
pub extern "C" fn dsp_error_field(error: *const dsp_error) -> *const c_char {
    // SAFETY: as in `dsp_error_code`.
    unsafe { error.as_ref() }
        .and_then(|e| e.field.as_ref())
        .map_or(std::ptr::null(), |f| f.as_ptr())
}

/// PIN tries left after a wrong PIN, or -1 when not known.
#[unsafe(no_mangle)]
pub extern "C" fn dsp_error_pin_tries_left(error: *const dsp_error) -> i32 {
    // SAFETY: as in `dsp_error_code`.
    unsafe { error.as_ref() }.map_or(-1, |e| e.pin_tries_left)
}

/// Frees an error; NULL is accepted.
#[unsafe(no_mangle)]
pub extern "C" fn dsp_error_free(error: *mut dsp_error) {
    if !error.is_null() {
        // SAFETY: `error` came from `Box::into_raw` in this library and is
        // freed once, by contract.
        drop(unsafe { Box::from_raw(error) });
    }
}
