//! The sandbox's web side (issue 3, items 7–9): the professional web
//! portal a one-time ticket opens, the patient portal, and the admin JSON
//! API the tests and the demo drive the platform with.
//!
//! - [`professional`]: `/portal/…` — a ticket (issued by the DSP services
//!   to an authenticated professional) is redeemed once, by a real `GET`,
//!   into a browser session on one patient's DSP: the documents the policy
//!   lets that professional list, each viewable, each with an anomaly
//!   report form (« signaler au gestionnaire »).
//! - [`patient`]: `/patient/…` — patients (matricule + sandbox password)
//!   and accompagnateurs (login + password): documents, médecin référent,
//!   cercle de confiance, black list, accompagnateurs, codes de présence,
//!   mode changes and the access trail. The accompagnateur reads only.
//! - [`admin`]: `/admin/api/…` — the same patient operations as JSON, and
//!   the platform's back office (anomaly reports, mail outbox, clock, card
//!   revocation), behind the [`AdminToken`].
//!
//! Every access decision is the policy engine's (`policy::decide` on
//! `Store::facts_for`, in [`dsp`]); every page says SANDBOX; every value
//! shown is HTML-escaped; every state-changing form carries a per-session
//! CSRF token; cookies are `__Host-`, `HttpOnly; Secure; SameSite=Strict`.
//! Tickets, session tokens, passwords and codes are never logged (the
//! server's trace layer logs route templates only).

mod admin;
mod admin_token;
mod document_body;
mod dsp;
mod error;
mod html;
mod names;
mod patient;
mod professional;
mod web_session;

use std::sync::Arc;

use axum::Router;
use axum::http::HeaderValue;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::middleware;
use axum::response::Response;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

pub use admin_token::{ADMIN_TOKEN_FILE, AdminToken, AdminTokenError};

use crate::server::{Mount, MountError, SandboxContext};

/// Largest request body the portals and the admin API accept (forms, JSON).
const BODY_LIMIT: usize = 256 * 1024;

/// What every portal handler works with.
#[derive(Clone)]
pub(crate) struct PortalState {
    pub ctx: SandboxContext,
    pub admin_token: Arc<AdminToken>,
}

/// The portals and the admin API, as a [`Mount`] for [`crate::Sandbox`].
/// Makes the admin token on the first start.
pub fn mount(ctx: &SandboxContext) -> Result<Mount, MountError> {
    let admin_token = AdminToken::load_or_create(ctx.data_dir())?;
    let state = PortalState {
        ctx: ctx.clone(),
        admin_token: Arc::new(admin_token),
    };
    let router = Router::new()
        .merge(professional::routes())
        .merge(patient::routes())
        .merge(admin::routes())
        .with_state(state)
        .layer(middleware::map_response(security_headers));
    let mut mount = Mount::new(router).body_limit(BODY_LIMIT);
    for (method, path, description) in professional::ENDPOINTS
        .iter()
        .chain(patient::ENDPOINTS)
        .chain(admin::ENDPOINTS)
    {
        mount = mount.endpoint(method, *path, *description);
    }
    Ok(mount)
}

/// Headers on every portal answer: nothing cached; no referrer leaves the
/// sandbox (a ticket URL must not travel on) while same-origin forms still
/// carry their real `Origin` (with `no-referrer` browsers send
/// `Origin: null`, which the origin check refuses); no framing, no type
/// sniffing; HTML pages run no script at all.
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let defaults = [
        (CACHE_CONTROL, "no-store"),
        (REFERRER_POLICY, "same-origin"),
        (X_FRAME_OPTIONS, "DENY"),
        (X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ];
    for (name, value) in defaults {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
    let is_html = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/html"));
    if is_html && !headers.contains_key(CONTENT_SECURITY_POLICY) {
        headers.insert(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
                 frame-ancestors 'none'; base-uri 'none'",
            ),
        );
    }
    response
}

/// Characters kept as they are in a path segment (uniqueIds are OIDs).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'.').remove(b'-').remove(b'_');

/// `text` as one URL path segment.
pub(crate) fn segment(text: &str) -> String {
    utf8_percent_encode(text, SEGMENT).to_string()
}
