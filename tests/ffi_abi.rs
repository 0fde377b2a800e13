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
    dsp_professional_list_free(ptr::null_mut());
    dsp_buffer_free(ptr::null_mut());
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
        ErrorCode::InvalidUtf8.number()
    );
}

/// The message of a failed call (the error is freed).
fn message_and_free(error: *mut dsp_error) -> (u32, String) {
    assert!(!error.is_null(), "the call must fail");
    let code = dsp_error_code(error);
    let message = unsafe { CStr::from_ptr(dsp_error_message(error)) }
        .to_str()
        .unwrap()
        .to_owned();
    dsp_error_free(error);
    (code, message)
}

fn assert_null_argument(error: *mut dsp_error, name: &str) {
    let (code, message) = message_and_free(error);
    assert_eq!(code, ErrorCode::NullArgument.number(), "{message}");
    assert!(message.contains(&format!("'{name}'")), "{name}: {message}");
}

/// A scripted daemon: accepts one connection and answers every request
/// line with `answer` (its `{id}` replaced), recording the methods.
fn scripted_daemon(
    answer: &'static str,
) -> (
    tempfile::TempDir,
    CString,
    std::thread::JoinHandle<Vec<String>>,
) {
    use interprocess::local_socket::{GenericFilePath, ListenerOptions, prelude::*};
    use std::io::{BufRead, BufReader, Write};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.sock");
    let listener = ListenerOptions::new()
        .name(path.clone().to_fs_name::<GenericFilePath>().unwrap())
        .create_sync()
        .unwrap();
    let peer = std::thread::spawn(move || {
        let conn = listener.accept().unwrap();
        let mut reader = BufReader::new(&conn);
        let mut methods = Vec::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return methods;
            }
            let request: serde_json::Value = serde_json::from_str(&line).unwrap();
            methods.push(request["method"].as_str().unwrap().to_owned());
            let reply = answer.replace("{id}", &request["id"].to_string());
            (&conn).write_all(reply.as_bytes()).unwrap();
            (&conn).write_all(b"\n").unwrap();
        }
    });
    let socket = CString::new(path.to_str().unwrap()).unwrap();
    (dir, socket, peer)
}

#[test]
fn new_exports_refuse_null_arguments_by_name() {
    let s = c"x".as_ptr();
    let null_c = ptr::null::<std::ffi::c_char>();
    let mut text = ptr::null_mut();
    let mut list = ptr::null_mut();
    let mut info = dsp_job_info {
        size: std::mem::size_of::<dsp_job_info>() as u32,
        state: dsp_job_state::DSP_JOB_QUEUED,
        attempts: 0,
        error_code: 0,
        document_size: 0,
        sent: 0,
    };
    let metadata = dsp_push_metadata {
        patient: s,
        title: s,
        mode: dsp_mode::DSP_MODE_NORMAL,
        patient_informed: true,
        mime_type: ptr::null(),
    };
    let mut data = ptr::null_mut();
    let mut length = 0usize;
    let nc = ptr::null::<dsp_client>();
    assert_null_argument(dsp_set_event_callback(nc, None, ptr::null_mut()), "client");
    assert_null_argument(dsp_job_status(nc, s, &mut info), "client");
    assert_null_argument(
        dsp_replace_file(nc, s, s, &metadata, &mut text, &mut text),
        "client",
    );
    assert_null_argument(
        dsp_replace_buffer(nc, s, [1u8].as_ptr(), 1, &metadata, &mut text, &mut text),
        "client",
    );
    assert_null_argument(dsp_password_login(nc, s, s, ptr::null_mut()), "client");
    assert_null_argument(
        dsp_account_activate(nc, s, s, s, ptr::null_mut(), ptr::null_mut()),
        "client",
    );
    assert_null_argument(
        dsp_account_activate_confirm(nc, s, s, s, s, ptr::null_mut()),
        "client",
    );
    assert_null_argument(dsp_change_password(nc, s, s), "client");
    assert_null_argument(dsp_hpd_lookup(nc, s, null_c, &mut list), "client");
    assert_null_argument(
        dsp_get_to_buffer(nc, s, s, 1 << 20, &mut data, &mut length, ptr::null_mut()),
        "client",
    );

    // Against a live connection: every other required argument, by name,
    // before anything is sent (the scripted daemon would answer an error).
    let (_dir, socket, peer) = scripted_daemon(
        r#"{"jsonrpc":"2.0","id":{id},"error":{"code":900,"message":"unexpected request","data":{"code":900,"name":"DSP_E_INTERNAL"}}}"#,
    );
    let mut client = ptr::null_mut();
    assert!(dsp_connect(socket.as_ptr(), 5000, &mut client).is_null());
    let c = client.cast_const();
    assert_null_argument(dsp_job_status(c, null_c, &mut info), "job_id");
    assert_null_argument(dsp_job_status(c, s, ptr::null_mut()), "info");
    assert_null_argument(
        dsp_replace_file(c, null_c, s, &metadata, &mut text, &mut text),
        "replaces",
    );
    assert_null_argument(
        dsp_replace_file(c, s, null_c, &metadata, &mut text, &mut text),
        "path",
    );
    assert_null_argument(
        dsp_replace_file(c, s, s, ptr::null(), &mut text, &mut text),
        "metadata",
    );
    assert_null_argument(
        dsp_replace_buffer(
            c,
            null_c,
            [1u8].as_ptr(),
            1,
            &metadata,
            &mut text,
            &mut text,
        ),
        "replaces",
    );
    assert_null_argument(
        dsp_replace_buffer(c, s, ptr::null(), 1, &metadata, &mut text, &mut text),
        "data",
    );
    assert_null_argument(
        dsp_replace_buffer(c, s, [1u8].as_ptr(), 1, ptr::null(), &mut text, &mut text),
        "metadata",
    );
    let bad_title = dsp_push_metadata {
        title: null_c,
        ..metadata
    };
    assert_null_argument(
        dsp_replace_buffer(c, s, [1u8].as_ptr(), 1, &bad_title, &mut text, &mut text),
        "metadata.title",
    );
    assert_null_argument(
        dsp_password_login(c, null_c, s, ptr::null_mut()),
        "matricule",
    );
    assert_null_argument(
        dsp_password_login(c, s, null_c, ptr::null_mut()),
        "password",
    );
    assert_null_argument(
        dsp_account_activate(c, null_c, s, s, ptr::null_mut(), ptr::null_mut()),
        "activation_code",
    );
    assert_null_argument(
        dsp_account_activate(c, s, null_c, s, ptr::null_mut(), ptr::null_mut()),
        "matricule",
    );
    assert_null_argument(
        dsp_account_activate(c, s, s, null_c, ptr::null_mut(), ptr::null_mut()),
        "email",
    );
    for (i, name) in ["activation_code", "matricule", "email_code", "new_password"]
        .iter()
        .enumerate()
    {
        let arg = |k: usize| if k == i { null_c } else { s };
        assert_null_argument(
            dsp_account_activate_confirm(c, arg(0), arg(1), arg(2), arg(3), ptr::null_mut()),
            name,
        );
    }
    assert_null_argument(dsp_change_password(c, null_c, s), "old_password");
    assert_null_argument(dsp_change_password(c, s, null_c), "new_password");
    assert_null_argument(dsp_hpd_lookup(c, s, null_c, ptr::null_mut()), "out");
    let (code, message) = message_and_free(dsp_hpd_lookup(c, null_c, null_c, &mut list));
    assert_eq!(code, ErrorCode::InvalidArgument.number(), "{message}");
    assert!(
        message.contains("eHealth id") && message.contains("name"),
        "{message}"
    );
    assert!(list.is_null());
    assert_null_argument(
        dsp_get_to_buffer(c, s, s, 1, ptr::null_mut(), &mut length, ptr::null_mut()),
        "data",
    );
    assert_null_argument(
        dsp_get_to_buffer(c, s, s, 1, &mut data, ptr::null_mut(), ptr::null_mut()),
        "length",
    );
    assert_null_argument(
        dsp_get_to_buffer(c, null_c, s, 1, &mut data, &mut length, ptr::null_mut()),
        "patient",
    );
    assert_null_argument(
        dsp_get_to_buffer(c, s, null_c, 1, &mut data, &mut length, ptr::null_mut()),
        "unique_id",
    );
    assert!(data.is_null() && length == 0);

    // Strings that are not UTF-8 are refused before anything is sent.
    let bad = CString::new(vec![b'a', 0xff]).unwrap();
    for error in [
        dsp_password_login(c, bad.as_ptr(), s, ptr::null_mut()),
        dsp_change_password(c, s, bad.as_ptr()),
        dsp_hpd_lookup(c, null_c, bad.as_ptr(), &mut list),
        dsp_job_status(c, bad.as_ptr(), &mut info),
        dsp_replace_file(c, bad.as_ptr(), s, &metadata, &mut text, &mut text),
        dsp_account_activate(c, s, s, bad.as_ptr(), ptr::null_mut(), ptr::null_mut()),
        dsp_account_activate_confirm(c, s, s, s, bad.as_ptr(), ptr::null_mut()),
        dsp_get_to_buffer(
            c,
            s,
            bad.as_ptr(),
            1,
            &mut data,
            &mut length,
            ptr::null_mut(),
        ),
    ] {
        let (code, message) = message_and_free(error);
        assert_eq!(code, ErrorCode::InvalidUtf8.number(), "{message}");
        assert!(message.contains("not valid UTF-8"), "{message}");
    }

    // A struct whose size is not this library's is refused, naming both.
    for size in [0u32, 8, 1000] {
        info.size = size;
        let (code, message) = message_and_free(dsp_job_status(c, s, &mut info));
        assert_eq!(code, ErrorCode::StructVersion.number(), "{message}");
        assert!(
            message.contains(&format!("is {size}"))
                && message.contains(&std::mem::size_of::<dsp_job_info>().to_string()),
            "{message}"
        );
    }
    // A mode outside the enum.
    let mut bad_mode = metadata;
    unsafe { ptr::addr_of_mut!(bad_mode.mode).cast::<u32>().write(9) };
    let (code, _) = message_and_free(dsp_replace_file(c, s, s, &bad_mode, &mut text, &mut text));
    assert_eq!(code, ErrorCode::BadMode.number());
    assert!(text.is_null());

    dsp_client_free(client);
    assert!(
        peer.join().unwrap().is_empty(),
        "nothing reaches the daemon when an argument is bad"
    );
}

#[test]
fn daemon_errors_come_back_through_the_new_exports() {
    let (_dir, socket, peer) = scripted_daemon(
        r#"{"jsonrpc":"2.0","id":{id},"error":{"code":313,"message":"no job 'j-1'","data":{"code":313,"name":"DSP_E_UNKNOWN_JOB","field":"job_id","hint":"list the jobs"}}}"#,
    );
    let mut client = ptr::null_mut();
    assert!(dsp_connect(socket.as_ptr(), 5000, &mut client).is_null());
    let mut info = dsp_job_info {
        size: std::mem::size_of::<dsp_job_info>() as u32,
        state: dsp_job_state::DSP_JOB_DONE,
        attempts: 7,
        error_code: 0,
        document_size: 0,
        sent: 0,
    };
    let error = dsp_job_status(client, c"j-1".as_ptr(), &mut info);
    let field = unsafe { CStr::from_ptr(dsp_error_field(error)) }
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(field, "job_id");
    assert_eq!(code_and_free(error), ErrorCode::UnknownJob.number());
    assert_eq!(info.attempts, 7, "a failed call leaves the struct alone");
    let mut data = ptr::null_mut();
    let mut length = 5usize;
    let error = dsp_get_to_buffer(
        client,
        c"1945093006704".as_ptr(),
        c"2.25.1".as_ptr(),
        1 << 20,
        &mut data,
        &mut length,
        ptr::null_mut(),
    );
    assert_eq!(code_and_free(error), ErrorCode::UnknownJob.number());
    assert!(
        data.is_null() && length == 0,
        "outputs are cleared on error"
    );
    let mut list = ptr::null_mut();
    assert_eq!(
        code_and_free(dsp_hpd_lookup(
            client,
            ptr::null(),
            c"Muller".as_ptr(),
            &mut list
        )),
        ErrorCode::UnknownJob.number()
    );
    assert!(list.is_null());
    dsp_client_free(client);
    assert_eq!(
        peer.join().unwrap(),
        ["job.status", "document.open_read", "hpd.lookup"]
    );
}

#[test]
fn a_panic_inside_an_export_becomes_dsp_e_panic() {
    let mut status = std::mem::MaybeUninit::<dsp_status>::uninit();
    dspconnect::ffi::testing::panic_in_next_call();
    let (code, message) = message_and_free(dsp_status_get(ptr::null(), status.as_mut_ptr()));
    assert_eq!(code, ErrorCode::Panic.number(), "{message}");
    assert!(message.contains("panic"), "{message}");
    // The boundary holds for the new exports too, and the library goes on.
    dspconnect::ffi::testing::panic_in_next_call();
    let (code, _) = message_and_free(dsp_hpd_lookup(
        ptr::null(),
        ptr::null(),
        ptr::null(),
        ptr::null_mut(),
    ));
    assert_eq!(code, ErrorCode::Panic.number());
    dspconnect::ffi::testing::panic_in_next_call();
    let (code, _) = message_and_free(dsp_set_event_callback(ptr::null(), None, ptr::null_mut()));
    assert_eq!(code, ErrorCode::Panic.number());
    assert_eq!(
        code_and_free(dsp_status_get(ptr::null(), status.as_mut_ptr())),
        ErrorCode::NullArgument.number()
    );
}
