//! The seam to the platform's authentication service. The platform client
//! implements [`Authenticator`]; the session calls it with one card
//! signature per assertion, and never with the PIN.

use std::future::Future;

use dspconnect::ErrorCode;

use super::{Assertion, Matricule, Password};
use crate::card::{CardError, CardSigner};

/// Why an authentication failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuthError {
    #[error(transparent)]
    Card(#[from] CardError),
    #[error("the platform refused the authentication: {reason}")]
    Refused { reason: String },
    #[error("the platform cannot be reached: {reason}; the session tries again by itself")]
    Unreachable { reason: String },
    #[error("the platform's answer cannot be used: {reason}")]
    InvalidResponse { reason: String },
    #[error(
        "the platform authenticated '{got}' instead of the card holder '{expected}'; the \
         session was not opened"
    )]
    WrongSubject { expected: String, got: String },
    #[error("{message}")]
    Platform {
        code: ErrorCode,
        message: String,
        retryable: bool,
    },
}

impl AuthError {
    /// The fixed code callers see.
    pub fn code(&self) -> ErrorCode {
        match self {
            AuthError::Card(e) => e.code(),
            AuthError::Refused { .. } | AuthError::WrongSubject { .. } => {
                ErrorCode::AuthenticationRefused
            }
            AuthError::Unreachable { .. } => ErrorCode::PlatformUnreachable,
            AuthError::InvalidResponse { .. } => ErrorCode::Platform,
            AuthError::Platform { code, .. } => *code,
        }
    }

    /// Whether trying again later (without the user) may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            AuthError::Unreachable { .. } => true,
            AuthError::Platform { retryable, .. } => *retryable,
            AuthError::Card(CardError::Device { .. } | CardError::Reader { .. }) => true,
            AuthError::Card(_)
            | AuthError::Refused { .. }
            | AuthError::InvalidResponse { .. }
            | AuthError::WrongSubject { .. } => false,
        }
    }
}

/// Authenticates the professional to the platform.
///
/// Implementations must be cheap to call concurrently with other platform
/// calls and must not keep the secrets they are given.
pub trait Authenticator: Send + Sync + 'static {
    /// Signs the authentication request with the card (spending `signer`:
    /// exactly one card signature) and returns the platform's assertion.
    /// The PIN is not involved: the card is already verified.
    fn authenticate_with_card(
        &self,
        signer: CardSigner,
    ) -> impl Future<Output = Result<Assertion, AuthError>> + Send;

    /// Opens a password session for the professional `matricule` (limited
    /// access: account and directory, never DSP documents). The password is
    /// dropped (zeroized) when the call ends.
    fn authenticate_with_password(
        &self,
        matricule: &Matricule,
        password: Password,
    ) -> impl Future<Output = Result<Assertion, AuthError>> + Send;
}
