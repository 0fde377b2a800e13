//! What the session's handle answers when a request cannot be done.

use dspconnect::ErrorCode;
use dspconnect::ipc::protocol::LockReason;

use super::AuthError;
use crate::card::CardError;

/// Why a session request failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SessionError {
    #[error("no card is in the reader; insert the LuxTrust card")]
    NoCard,
    #[error("the card was removed before the request finished; insert it again")]
    CardRemoved,
    #[error(transparent)]
    Card(#[from] CardError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("the card's PIN is not verified; unlock first (`dspctl unlock`), then try again")]
    PinNotVerified,
    #[error("PIN entry on the reader's pinpad is in progress; finish it on the reader")]
    PinpadPending,
    #[error("the session was locked ({reason:?}) before the request finished; unlock again")]
    Locked { reason: LockReason },
    #[error("another unlock or login is in progress; wait for its answer")]
    Busy,
    #[error(
        "a card session is open; lock it before opening a password session (a password \
         session has less access)"
    )]
    CardSessionOpen,
    #[error("the session service has stopped; restart dspconnectd")]
    Stopped,
}

impl SessionError {
    /// The fixed code callers see.
    pub fn code(&self) -> ErrorCode {
        match self {
            SessionError::NoCard | SessionError::CardRemoved => ErrorCode::NoCard,
            SessionError::Card(e) => e.code(),
            SessionError::Auth(e) => e.code(),
            SessionError::PinpadPending => ErrorCode::PinpadPending,
            SessionError::PinNotVerified => ErrorCode::SessionLocked,
            SessionError::Locked { .. } => ErrorCode::SessionLocked,
            SessionError::Busy | SessionError::CardSessionOpen => ErrorCode::InvalidArgument,
            SessionError::Stopped => ErrorCode::Internal,
        }
    }

    /// PIN tries left, for a wrong PIN or a blocked card.
    pub fn pin_tries_left(&self) -> Option<u8> {
        match self {
            SessionError::Card(e) | SessionError::Auth(AuthError::Card(e)) => e.pin_tries_left(),
            _ => None,
        }
    }
}
