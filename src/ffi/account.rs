//! The professional's account: password session, activation, password
//! change; and the HPD directory.

use std::ffi::c_char;

use super::client::{client_ref, dsp_client, dsp_session_state, session_state};
use super::error::{dsp_error, guard};
use super::strings::{arg, dsp_string_free, optional_arg, out_string};
use crate::ErrorCode;
use crate::ipc::protocol::*;

/// Writes `text` to an optional string out-parameter (NULL: not wanted).
///
/// # Safety
/// `out` is NULL or valid for writes.
unsafe fn optional_out(out: *mut *mut c_char, text: &str) {
    if !out.is_null() {
        // SAFETY: non-NULL out-pointers are writable by contract.
        unsafe { out.write(out_string(text)) };
    }
}

/// Opens a password session with the professional's matricule and
/// platform password: account and directory only, never DSP documents
/// (those answer `DSP_E_PASSWORD_SESSION_LIMITED`). `*state` (may be NULL)
/// receives the new session state (`DSP_SESSION_PASSWORD`). The library
/// keeps no copy of the password.
#[unsafe(no_mangle)]
pub extern "C" fn dsp_password_login(
    client: *const dsp_client,
    matricule: *const c_char,
    password: *const c_char,
    state: *mut dsp_session_state,
) -> *mut dsp_error {
    guard(|| {
        // SAFETY: handle contract.
        let client = unsafe { client_ref(client) }?;
        let params = PasswordLoginParams {
            // SAFETY: string contract (twice).
            matricule: unsafe { arg(matricule, "matricule") }?.to_owned(),
            password: SecretString::new(unsafe { arg(password, "password") }?),
        };
        let session = client.call::<PasswordLogin>(&params)?;
        if !state.is_null() {
            // SAFETY: non-NULL out-pointer is writable.
            unsafe { state.write(session_state(session.state)) };
        }
        Ok(())
    })
}

/// First step of activating the professional's account: the code of the
/// Agence eSanté's letter, the professional's matricule and an e-mail
/// address they can read now; the request is signed with the card.
/// `*email_sent_to` (the address, partly masked) and `*code_expires_at`
/// (RFC 3339) may each be NULL when not wanted; free them with
/// `dsp_string_free`.
#[unsafe(no_mangle)]
pub extern "C" fn dsp_account_activate(
    client: *const dsp_client,
    activation_code: *const c_char,
    matricule: *const c_char,
    email: *const c_char,
    email_sent_to: *mut *mut c_char,
    code_expires_at: *mut *mut c_char,
) -> *mut dsp_error {
    guard(|| {
        // SAFETY: handle contract.
        let client = unsafe { client_ref(client) }?;
        let params = ActivateParams {
            // SAFETY: string contract (three times).
            activation_code: SecretString::new(unsafe { arg(activation_code, "activation_code") }?),
            matricule: unsafe { arg(matricule, "matricule") }?.to_owned(),
            email: unsafe { arg(email, "email") }?.to_owned(),
        };
        let pending = client.call::<ActivateAccount>(&params)?;
        // SAFETY: out-pointer contract (twice).
        unsafe { optional_out(email_sent_to, &pending.email_sent_to) };
        unsafe { optional_out(code_expires_at, &pending.code_expires_at) };
        Ok(())
    })
}

/// Second step of the activation: the letter's code again, the code
/// received by e-mail and the new platform password. `*ehealth_id` (may be
/// NULL) receives the activated professional's eHealth id; free it with
/// `dsp_string_free`. The library keeps no copy of the codes or password.
#[unsafe(no_mangle)]
pub extern "C" fn dsp_account_activate_confirm(
    client: *const dsp_client,
    activation_code: *const c_char,
    matricule: *const c_char,
    email_code: *const c_char,
    new_password: *const c_char,
    ehealth_id: *mut *mut c_char,
) -> *mut dsp_error {
    guard(|| {
        // SAFETY: handle contract.
        let client = unsafe { client_ref(client) }?;
        let params = ConfirmActivationParams {
            // SAFETY: string contract (four times).
            activation_code: SecretString::new(unsafe { arg(activation_code, "activation_code") }?),
            matricule: unsafe { arg(matricule, "matricule") }?.to_owned(),
            email_code: SecretString::new(unsafe { arg(email_code, "email_code") }?),
            new_password: SecretString::new(unsafe { arg(new_password, "new_password") }?),
        };
        let done = client.call::<ConfirmActivation>(&params)?;
        // SAFETY: out-pointer contract.
        unsafe { optional_out(ehealth_id, &done.professional.ehealth_id) };
        Ok(())
    })
}

/// Changes the professional's platform password (a password that does not
/// meet the rules is `DSP_E_WEAK_PASSWORD`). The library keeps no copy.
#[unsafe(no_mangle)]
pub extern "C" fn dsp_change_password(
    client: *const dsp_client,
    old_password: *const c_char,
    new_password: *const c_char,
) -> *mut dsp_error {
    guard(|| {
        // SAFETY: handle contract.
        let client = unsafe { client_ref(client) }?;
        let params = ChangePasswordParams {
            // SAFETY: string contract (twice).
            old_password: SecretString::new(unsafe { arg(old_password, "old_password") }?),
            new_password: SecretString::new(unsafe { arg(new_password, "new_password") }?),
        };
        client.call::<ChangePassword>(&params).map(|_| ())
    })
}

/// One professional of the HPD directory.
#[repr(C)]
#[derive(Debug)]
pub struct dsp_professional {
    pub ehealth_id: *mut c_char,
    pub name: *mut c_char,
    /// NULL when the directory does not say.
    pub profession: *mut c_char,
    /// NULL when the directory does not say.
    pub specialty: *mut c_char,
}

/// The professionals of `dsp_hpd_lookup`; free with
/// `dsp_professional_list_free()`.
#[repr(C)]
#[derive(Debug)]
pub struct dsp_professional_list {
    pub professionals: *mut dsp_professional,
    pub count: usize,
}

/// Looks up professionals in the HPD directory by eHealth id or by part of
/// a name (either may be NULL, not both); `*out` is freed with
/// `dsp_professional_list_free()` (an empty list when nobody matches).
#[unsafe(no_mangle)]
pub extern "C" fn dsp_hpd_lookup(
    client: *const dsp_client,
    ehealth_id: *const c_char,
    name: *const c_char,
    out: *mut *mut dsp_professional_list,
) -> *mut dsp_error {
    guard(|| {
        // SAFETY: handle contract.
        let client = unsafe { client_ref(client) }?;
        if out.is_null() {
            return Err(dsp_error::null_argument("out"));
        }
        let params = HpdLookupParams {
            // SAFETY: string contract (twice).
            ehealth_id: unsafe { optional_arg(ehealth_id, "ehealth_id") }?.map(str::to_owned),
            name: unsafe { optional_arg(name, "name") }?.map(str::to_owned),
        };
        if params.ehealth_id.is_none() && params.name.is_none() {
            return Err(dsp_error::new(
                ErrorCode::InvalidArgument,
                "give an eHealth id or part of a name (both are NULL)",
            ));
        }
        let found = client.call::<HpdLookup>(&params)?;
        let optional = |s: &Option<String>| s.as_deref().map_or(std::ptr::null_mut(), out_string);
        let professionals: Box<[dsp_professional]> = found
            .professionals
            .iter()
            .map(|p| dsp_professional {
                ehealth_id: out_string(&p.ehealth_id),
                name: out_string(&p.name),
                profession: optional(&p.profession),
                specialty: optional(&p.specialty),
            })
            .collect();
        let count = professionals.len();
        let list = Box::new(dsp_professional_list {
            professionals: Box::into_raw(professionals).cast::<dsp_professional>(),
            count,
        });
        // SAFETY: `out` checked non-NULL above.
        unsafe { out.write(Box::into_raw(list)) };
        Ok(())
    })
}

/// Frees a professional list; NULL is accepted.
#[unsafe(no_mangle)]
pub extern "C" fn dsp_professional_list_free(list: *mut dsp_professional_list) {
    if list.is_null() {
        return;
    }
    // SAFETY: `list` came from `dsp_hpd_lookup` and is freed once.
    let list = unsafe { Box::from_raw(list) };
    // SAFETY: `professionals`/`count` are the boxed slice made there.
    let professionals = unsafe {
        Box::from_raw(std::ptr::slice_from_raw_parts_mut(
            list.professionals,
            list.count,
        ))
    };
    for p in professionals.iter() {
        for s in [p.ehealth_id, p.name, p.profession, p.specialty] {
            dsp_string_free(s);
        }
    }
}
