//! Browser sessions of the portals: the cookies, the per-session CSRF
//! token, and the checks every state-changing form passes.
//!
//! - Cookies are `__Host-` prefixed, `HttpOnly; Secure; SameSite=Strict;
//!   Path=/`: no script reads them, no other site's request carries them,
//!   and no other origin can plant one.
//! - The CSRF token of a session is a one-way function of its cookie token:
//!   the page can carry it without revealing the cookie, and the server
//!   keeps no extra state. Login forms, which have no session yet, use a
//!   double-submit nonce (a short-lived cookie and the same value in the
//!   form).
//! - A state-changing request that names an `Origin` other than the
//!   sandbox's is refused before anything else.

use axum::http::header::{COOKIE, HOST, ORIGIN};
use axum::http::{HeaderMap, HeaderValue};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use time::Duration;
use zeroize::Zeroizing;

use super::error::PortalError;

/// The professional portal's session cookie (one patient's DSP, opened by a ticket).
pub(crate) const PROFESSIONAL_COOKIE: &str = "__Host-dspconnect-portal";
/// The patient portal's session cookie (patient or accompagnateur).
pub(crate) const PATIENT_COOKIE: &str = "__Host-dspconnect-patient";
/// The login form's double-submit nonce.
pub(crate) const LOGIN_COOKIE: &str = "__Host-dspconnect-login";

/// How long a professional's browser session lasts after the ticket is redeemed.
pub(crate) const PROFESSIONAL_SESSION_LIFETIME: Duration = Duration::minutes(30);
/// How long a patient's or accompagnateur's browser session lasts.
pub(crate) const PATIENT_SESSION_LIFETIME: Duration = Duration::minutes(30);
/// How long a login form may stay open.
pub(crate) const LOGIN_FORM_LIFETIME: Duration = Duration::minutes(15);

const HEX: &[u8; 16] = b"0123456789abcdef";

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
    out
}

/// 256 random bits as hex (a login nonce).
pub(crate) fn random_token() -> Zeroizing<String> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    OsRng.fill_bytes(bytes.as_mut());
    Zeroizing::new(hex(bytes.as_ref()))
}

/// The value of cookie `name` in the request, if any.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
}

/// `Set-Cookie` for a session or nonce cookie.
pub(crate) fn set_cookie(name: &str, value: &str, lifetime: Duration) -> HeaderValue {
    cookie_header(&format!(
        "{name}={value}; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age={}",
        lifetime.whole_seconds().max(0)
    ))
}

/// `Set-Cookie` that removes a cookie.
pub(crate) fn clear_cookie(name: &str) -> HeaderValue {
    cookie_header(&format!(
        "{name}=; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=0"
    ))
}

fn cookie_header(text: &str) -> HeaderValue {
    // Names are our constants and values hex tokens: always a valid header.
    // Should that ever change, an empty value (no cookie) is the safe failure.
    HeaderValue::from_str(text).unwrap_or(HeaderValue::from_static(""))
}

/// The CSRF token of the session whose cookie token is `session_token`.
pub(crate) fn csrf_token(session_token: &str) -> String {
    let mut digest = Sha256::new();
    digest.update(b"dspconnect-sandbox portal csrf v1\0");
    digest.update(session_token.as_bytes());
    hex(&digest.finalize())
}

/// Compares two tokens without stopping at the first difference.
pub(crate) fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |diff, (x, y)| diff | (x ^ y))
            == 0
}

/// Refuses a state-changing request sent from another origin: `Origin`
/// must be the sandbox's base URL or the HTTPS origin of the `Host` the
/// browser asked (`localhost` is in the certificate too). Browsers send
/// `Origin` on every POST; a request without one (a script, a test client)
/// still needs the CSRF token.
pub(crate) fn check_origin(headers: &HeaderMap, base_url: &str) -> Result<(), PortalError> {
    let Some(origin) = headers.get(ORIGIN) else {
        return Ok(());
    };
    let origin = origin.as_bytes();
    let own_host = headers
        .get(HOST)
        .is_some_and(|host| origin.strip_prefix(b"https://") == Some(host.as_bytes()));
    if origin == base_url.as_bytes() || own_host {
        Ok(())
    } else {
        Err(PortalError::ForeignOrigin)
    }
}

/// Checks a form's CSRF token against the expected one.
pub(crate) fn check_csrf(presented: Option<&str>, expected: &str) -> Result<(), PortalError> {
    match presented {
        Some(token) if same_token(token, expected) => Ok(()),
        _ => Err(PortalError::CsrfRefused),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, HeaderValue::from_static("a=1; b=2"));
        headers.append(COOKIE, HeaderValue::from_static("__Host-x=tok"));
        assert_eq!(cookie(&headers, "b"), Some("2"));
        assert_eq!(cookie(&headers, "__Host-x"), Some("tok"));
        assert_eq!(cookie(&headers, "c"), None);
    }

    #[test]
    fn session_cookies_carry_every_attribute() {
        let header = set_cookie(PATIENT_COOKIE, "abc", Duration::minutes(1));
        assert_eq!(
            header.to_str().unwrap(),
            "__Host-dspconnect-patient=abc; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=60"
        );
        assert!(
            clear_cookie(LOGIN_COOKIE)
                .to_str()
                .unwrap()
                .ends_with("Max-Age=0")
        );
    }

    #[test]
    fn csrf_tokens_are_per_session_and_do_not_reveal_it() {
        let a = csrf_token("session-a");
        assert_eq!(a, csrf_token("session-a"));
        assert_ne!(a, csrf_token("session-b"));
        assert!(!a.contains("session-a"));
        assert!(check_csrf(Some(&a), &a).is_ok());
        assert!(check_csrf(Some("x"), &a).is_err());
        assert!(check_csrf(None, &a).is_err());
    }

    #[test]
    fn foreign_origins_are_refused() {
        let base = "https://127.0.0.1:8443";
        let mut headers = HeaderMap::new();
        assert!(check_origin(&headers, base).is_ok());
        headers.insert(ORIGIN, HeaderValue::from_static("https://127.0.0.1:8443"));
        assert!(check_origin(&headers, base).is_ok());
        headers.insert(ORIGIN, HeaderValue::from_static("null"));
        assert!(check_origin(&headers, base).is_err());
        headers.insert(HOST, HeaderValue::from_static("localhost:8443"));
        headers.insert(ORIGIN, HeaderValue::from_static("https://localhost:8443"));
        assert!(check_origin(&headers, base).is_ok());
        headers.insert(ORIGIN, HeaderValue::from_static("http://localhost:8443"));
        assert!(check_origin(&headers, base).is_err());
        headers.insert(ORIGIN, HeaderValue::from_static("https://evil.example"));
        assert!(check_origin(&headers, base).is_err());
    }
}
