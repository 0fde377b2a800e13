//! The C ABI's discipline, from Rust: NULL arguments, NULL-tolerant frees,
//! no daemon, the version.

use std::ffi::{CStr, CString};
use std::ptr;

use dspconnect::ErrorCode;
use dspconnect::ffi::*;

fn code_and_free(error: *mut dsp_error) -> u32 {
    assert!(!error.is_null(), "the call must fail");
    let code = dsp_error_code(error);
    let message = unsafe { CStr::from_ptr(dsp_error_message(error)) }
        .to_str()
        .unwrap()
        .to_owned();
    assert!(!message.is_empty());
    dsp_error_free(error);
    code
}

#[test]
fn the_version_is_the_crate_version() {
    let version = unsafe { CStr::from_ptr(dsp_version()) }.to_str().unwrap();
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
}

#[test]
fn frees_accept_null() {
    dsp_error_free(ptr::null_mut());
    dsp_client_free(ptr::null_mut());
    dsp_string_free(ptr::null_mut());
    dsp_document_list_free(ptr::null_mut());
}

#[test]
fn null_arguments_are_refused_by_name() {
    assert_eq!(
        code_and_free(dsp_status_get(ptr::null(), ptr::null_mut())),
        ErrorCode::NullArgument.number()
    );
    assert_eq!(
        code_and_free(dsp_connect(ptr::null(), 1000, ptr::null_mut())),
        ErrorCode::NullArgument.number()
    );
    let error = dsp_lock(ptr::null());
    let message = unsafe { CStr::from_ptr(dsp_error_message(error)) }
        .to_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("client"), "{message}");
    dsp_error_free(error);
    assert_eq!(
        dsp_error_code(ptr::null()),
        ErrorCode::NullArgument.number()
    );
    assert!(dsp_error_hint(ptr::null()).is_null());
    assert_eq!(dsp_error_pin_tries_left(ptr::null()), -1);
}

#[test]
fn no_daemon_is_daemon_not_running() {
    let dir = tempfile::tempdir().unwrap();
    let socket = CString::new(dir.path().join("none.sock").to_str().unwrap()).unwrap();
    let mut client = ptr::null_mut();
    let error = dsp_connect(socket.as_ptr(), 1000, &mut client);
    assert!(client.is_null());
    assert_eq!(code_and_free(error), ErrorCode::DaemonNotRunning.number());
}

#[test]
fn strings_that_are_not_utf8_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = dir.path().join("x").to_str().unwrap().as_bytes().to_vec();
    bytes.push(0xff);
    let socket = CString::new(bytes).unwrap();
    let mut client = ptr::null_mut();
    assert_eq!(
        code_and_free(dsp_connect(socket.as_ptr(), 1000, &mut client)),
        ErrorCode::InvalidArgument.number()
    );
}
