//! Strings across the boundary: borrowed in (UTF-8, NUL-terminated),
//! owned out (freed by `dsp_string_free`).

use std::ffi::{CStr, CString, c_char};

use zeroize::Zeroize as _;

use super::error::dsp_error;
use crate::ErrorCode;

/// A required UTF-8 string argument.
///
/// # Safety
/// `ptr` is NULL or a NUL-terminated string valid for the call.
pub(crate) unsafe fn arg<'a>(ptr: *const c_char, name: &str) -> Result<&'a str, Box<dsp_error>> {
    if ptr.is_null() {
        return Err(dsp_error::null_argument(name));
    }
    // SAFETY: non-NULL and NUL-terminated by the caller's contract.
    unsafe { CStr::from_ptr(ptr) }.to_str().map_err(|_| {
        dsp_error::new(
            ErrorCode::InvalidUtf8,
            &format!("argument '{name}' is not valid UTF-8"),
        )
    })
}

/// An optional UTF-8 string argument (NULL: absent).
///
/// # Safety
/// As [`arg`].
pub(crate) unsafe fn optional_arg<'a>(
    ptr: *const c_char,
    name: &str,
) -> Result<Option<&'a str>, Box<dsp_error>> {
    if ptr.is_null() {
        Ok(None)
    } else {
        // SAFETY: forwarded contract.
        unsafe { arg(ptr, name) }.map(Some)
    }
}

/// A string handed to the caller (freed by `dsp_string_free`).
pub(crate) fn out_string(text: &str) -> *mut c_char {
    let bytes: Vec<u8> = text.bytes().take_while(|&b| b != 0).collect();
    CString::new(bytes).unwrap_or_default().into_raw()
}

/// Writes `value` through an out-pointer that must not be NULL.
///
/// # Safety
/// `out` is NULL or valid for writes.
pub(crate) unsafe fn write_out<T>(out: *mut T, value: T, name: &str) -> Result<(), Box<dsp_error>> {
    if out.is_null() {
        return Err(dsp_error::null_argument(name));
    }
    // SAFETY: non-NULL and writable by the caller's contract.
    unsafe { out.write(value) };
    Ok(())
}

/// Frees a string returned by this library (its bytes are wiped first: it
/// may be a one-time URL); NULL is accepted.
#[unsafe(no_mangle)]
pub extern "C" fn dsp_string_free(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: `s` came from `CString::into_raw` in this library and is
        // freed once, by contract.
        let owned = unsafe { CString::from_raw(s) };
        let mut bytes = owned.into_bytes();
        bytes.zeroize();
    }
}

/// The library's version (the crate version), a static string.
#[unsafe(no_mangle)]
pub extern "C" fn dsp_version() -> *const c_char {
    const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    VERSION.as_ptr().cast()
}
