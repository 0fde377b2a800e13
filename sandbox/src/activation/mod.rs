//! Account activation and password reset at `/activation` (the
//! « Activation de mon compte » procedure): the letter's activation code,
//! the professional's matricule, a personal e-mail address and the LuxTrust
//! card. Both steps are signed by the card exactly like the login (that is
//! how the platform learns which certificate to bind), without an assertion.
//!
//! 1. `dsp:ActivationRequest` — the letter and matricule are checked, the
//!    card must be the professional's (LuxTrust test CA, their eHealth id);
//!    an 8-digit code is e-mailed (to the sandbox's mail outbox), bound to
//!    the letter, the address and this card.
//! 2. `dsp:ActivationConfirmRequest`, signed by the same card — with the
//!    e-mailed code and the new password: the card is bound, the password
//!    set, the letter and the code used, the account active.
//!
//! A password reset after a loss of credentials is the same path with
//! `purpose="reset"` on an active account, with a new letter from the
//! Agence ([`issue_reset_letter`]).

mod steps;

use axum::Router;
use axum::body::Bytes;
use axum::response::Response;
use axum::routing::post;
use time::{Duration, OffsetDateTime};

use crate::idp::card_request::verify_card_request;
use crate::policy::{EHealthId, ProfessionalStatus};
use crate::server::{Mount, MountError, SandboxContext};
use crate::services::envelope::{DSP_NS, REQUEST_BODY_LIMIT, blocking, malformed};
use crate::soap_service::SandboxFault;
use crate::store::{OneTimeCode, Store, StoreError};

/// Where the activation service listens.
pub const PATH: &str = "/activation";
/// `wsa:Action` prefix: `…:Activation`, `…:ActivationConfirm`, and
/// `…Response` for the answers.
pub const ACTION_PREFIX: &str = "urn:dspconnect:sandbox:activation:";
/// How long the e-mailed confirmation code is valid.
pub const EMAIL_CODE_LIFETIME: Duration = Duration::minutes(30);
/// How long a reset letter's code is valid.
pub const RESET_LETTER_LIFETIME: Duration = Duration::days(30);

/// The activation service's routes.
pub fn mount(ctx: &SandboxContext) -> Result<Mount, MountError> {
    let ctx = ctx.clone();
    let router = Router::new().route(
        PATH,
        post(move |body: Bytes| {
            let ctx = ctx.clone();
            async move { blocking("activation", move || handle(&ctx, &body)).await }
        }),
    );
    Ok(Mount::new(router)
        .endpoint(
            "POST",
            PATH,
            "Activation and password reset: letter code + matricule + e-mail, signed by the \
             LuxTrust card; then the e-mailed code and the new password",
        )
        .body_limit(REQUEST_BODY_LIMIT))
}

fn handle(ctx: &SandboxContext, body: &[u8]) -> Result<Response, SandboxFault> {
    let now = ctx.clock().now();
    let request = verify_card_request(ctx, body, now)?;
    let payload = request
        .envelope
        .payload()
        .map_err(|e| malformed(e.to_string()))?;
    if payload.ns.as_deref() != Some(DSP_NS) {
        return Err(malformed(format!(
            "the activation service takes dsp:ActivationRequest or dsp:ActivationConfirmRequest \
             ({DSP_NS}), not {{{}}}{}",
            payload.ns.as_deref().unwrap_or(""),
            payload.local
        )));
    }
    match payload.local.as_str() {
        "ActivationRequest" => steps::start(ctx, &request, payload, now),
        "ActivationConfirmRequest" => steps::confirm(ctx, &request, payload, now),
        other => Err(malformed(format!(
            "dsp:{other} is not an activation request; send dsp:ActivationRequest or \
             dsp:ActivationConfirmRequest"
        ))),
    }
}

/// Why a reset letter cannot be issued.
#[derive(Debug, thiserror::Error)]
pub enum ResetLetterError {
    #[error("no professional '{0}' in the HPD")]
    UnknownProfessional(EHealthId),
    #[error(
        "{0} is deactivated: a deactivated account is not reset; the Agence reactivates it first"
    )]
    Deactivated(EHealthId),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Issues a new letter to `ehealth_id` (password reset after a loss of
/// credentials, or a new activation letter when the first one expired):
/// its code, valid [`RESET_LETTER_LIFETIME`], is returned once in clear.
/// The professional then goes through the activation path, with
/// `purpose="reset"` if the account is active.
pub fn issue_reset_letter(
    store: &Store,
    ehealth_id: &EHealthId,
    now: OffsetDateTime,
) -> Result<OneTimeCode, ResetLetterError> {
    let professional = store
        .professional(ehealth_id)?
        .ok_or_else(|| ResetLetterError::UnknownProfessional(ehealth_id.clone()))?;
    if professional.status == ProfessionalStatus::Deactivated {
        return Err(ResetLetterError::Deactivated(ehealth_id.clone()));
    }
    let code = store.issue_activation_letter(ehealth_id, now, RESET_LETTER_LIFETIME)?;
    tracing::info!(%ehealth_id, "issued a reset letter");
    Ok(code)
}
