//! Why a portal request was refused, and the page that says so.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::dsp::DspError;
use super::html::{esc, respond};
use crate::policy::Decision;
use crate::store::StoreError;

/// A refused or failed portal request; each variant is a page with its status.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PortalError {
    #[error("no professional session: open the link from your practice software again")]
    NoProfessionalSession,
    #[error("not signed in to the patient portal")]
    NoPatientSession,
    #[error(
        "this browser session opened another patient's DSP: open the link from your practice software for this patient"
    )]
    OtherPatient,
    #[error(
        "the form is stale or was not sent by this portal (CSRF token missing or wrong): reload the page and try again"
    )]
    CsrfRefused,
    #[error("the request came from another site; the portal accepts forms from its own pages only")]
    ForeignOrigin,
    #[error(
        "an accompagnateur reads the DSP and changes nothing (charter: « des droits équivalents au patient pour la lecture »)"
    )]
    ReadOnly,
    #[error("{what} not found")]
    NotFound { what: String },
    #[error("{field}: {reason}")]
    BadInput { field: &'static str, reason: String },
    #[error("refused by the DSP access policy")]
    Refused(Decision),
    #[error("the sandbox failed: {0}")]
    Internal(String),
}

impl From<StoreError> for PortalError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound { what, id } => PortalError::NotFound {
                what: format!("{what} '{id}'"),
            },
            other => PortalError::Internal(other.to_string()),
        }
    }
}

impl From<DspError> for PortalError {
    fn from(error: DspError) -> Self {
        match error {
            DspError::Store(store) => store.into(),
            other => PortalError::Internal(other.to_string()),
        }
    }
}

impl PortalError {
    fn status(&self) -> StatusCode {
        match self {
            PortalError::NoProfessionalSession | PortalError::NoPatientSession => {
                StatusCode::UNAUTHORIZED
            }
            PortalError::OtherPatient
            | PortalError::CsrfRefused
            | PortalError::ForeignOrigin
            | PortalError::ReadOnly => StatusCode::FORBIDDEN,
            PortalError::Refused(decision) => refusal_status(decision),
            PortalError::NotFound { .. } => StatusCode::NOT_FOUND,
            PortalError::BadInput { .. } => StatusCode::BAD_REQUEST,
            PortalError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// 409 for a change to the mode a document already has, 403 otherwise.
pub(crate) fn refusal_status(decision: &Decision) -> StatusCode {
    if decision.outcome == crate::policy::Outcome::AlreadyInMode {
        StatusCode::CONFLICT
    } else {
        StatusCode::FORBIDDEN
    }
}

/// The markup that explains a policy refusal: the rule, its reason and
/// what the charter (or the recorded decision) says.
pub(crate) fn refusal_markup(decision: &Decision) -> String {
    format!(
        r#"<div class="refused" id="refusal" data-rule="{id}"><p>Refused: you may not {operation}.</p><p><strong>{reason}</strong></p><p>Rule <code>{id}</code> — {citation}</p></div>"#,
        id = esc(decision.rule.id),
        operation = esc(&decision.operation.to_string()),
        reason = esc(decision.reason()),
        citation = esc(&decision.rule.citation()),
    )
}

impl IntoResponse for PortalError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = match &self {
            PortalError::Refused(decision) => refusal_markup(decision),
            PortalError::NoPatientSession => format!(
                r#"<p id="error">{}.</p><p><a href="/patient/login">Sign in</a></p>"#,
                esc(&self.to_string())
            ),
            PortalError::Internal(reason) => {
                tracing::error!(%reason, "portal request failed");
                format!(r#"<p id="error">{}</p>"#, esc(&self.to_string()))
            }
            _ => format!(r#"<p id="error">{}.</p>"#, esc(&self.to_string())),
        };
        let title = match status {
            StatusCode::UNAUTHORIZED => "Not signed in",
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::BAD_REQUEST => "Invalid request",
            StatusCode::INTERNAL_SERVER_ERROR => "Sandbox error",
            _ => "Refused",
        };
        respond(status, title, &body)
    }
}
