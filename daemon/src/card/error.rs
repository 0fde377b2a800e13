//! What a card operation answers: the PIN outcomes and the typed failures,
//! each mapping to one of the fixed [`ErrorCode`]s.

use dspconnect::ErrorCode;
use ihe::dsig::SignatureAlgorithm;
use time::OffsetDateTime;

/// How many wrong PINs a card accepts before it blocks (LuxTrust cards and
/// the software card alike).
pub const PIN_TRIES: u8 = 3;

/// What a VERIFY answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinOutcome {
    /// The PIN is right: the card stays verified until it is removed, reset
    /// or told to forget ([`super::CardHandle::reset_security_state`]).
    Verified,
    /// The PIN is wrong (`63Cx`); `tries_left` more before the card blocks.
    Wrong { tries_left: u8 },
    /// The PIN is blocked (`6983`): no VERIFY may be sent any more.
    Blocked,
}

/// The PIN counter as the card reports it without a VERIFY (when it can).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PinStatus {
    pub tries_left: Option<u8>,
    pub blocked: bool,
}

/// Why a card operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    #[error("no card reader is connected; plug in the card reader")]
    NoReader,
    #[error("no card is in the reader; insert the LuxTrust card")]
    NotPresent,
    #[error(
        "the card asks for the PIN again (it was reset by another program or forgot its \
         verification); unlock the session with the PIN"
    )]
    PinRequired,
    #[error(
        "the card's PIN is blocked after {PIN_TRIES} wrong PINs; unblock it with the PUK \
         (see LuxTrust)"
    )]
    Blocked,
    #[error("wrong PIN: {tries_left} tries left before the card blocks")]
    WrongPin { tries_left: u8 },
    #[error("the card's certificate expired on {not_after}; the card must be renewed (LuxTrust)")]
    CertificateExpired { not_after: OffsetDateTime },
    #[error("the card's certificate is not valid before {not_before}; check this computer's clock")]
    CertificateNotYetValid { not_before: OffsetDateTime },
    #[error("the card's certificate cannot be used: {reason}")]
    BadCertificate { reason: String },
    #[error(
        "this is a sandbox test card (issued by '{issuer}'); the production platform refuses \
         it: insert your LuxTrust card, or use the sandbox profile"
    )]
    TestCardRefused { issuer: String },
    #[error("the card was removed during the operation; insert it again")]
    Removed,
    #[error("the reader has no pinpad; give the PIN through the application instead")]
    PinpadUnavailable,
    #[error("PIN entry on the reader's pinpad is already in progress; finish it on the reader")]
    PinpadBusy,
    #[error("the card cannot sign with {requested}; its key signs with {supported}")]
    UnsupportedAlgorithm {
        requested: SignatureAlgorithm,
        supported: SignatureAlgorithm,
    },
    #[error("the reader '{reader}' failed: {message}; check the reader and the PC/SC service")]
    Reader { reader: String, message: String },
    #[error("the card failed: {message}")]
    Device { message: String },
    #[error("the card service has stopped; restart dspconnectd")]
    ThreadStopped,
}

impl CardError {
    /// The fixed code callers see.
    pub fn code(&self) -> ErrorCode {
        match self {
            CardError::NoReader => ErrorCode::NoReader,
            CardError::NotPresent | CardError::Removed => ErrorCode::NoCard,
            CardError::PinRequired => ErrorCode::SessionLocked,
            CardError::Blocked => ErrorCode::CardBlocked,
            CardError::WrongPin { .. } => ErrorCode::WrongPin,
            CardError::CertificateExpired { .. } | CardError::CertificateNotYetValid { .. } => {
                ErrorCode::CertificateNotValid
            }
            CardError::TestCardRefused { .. } => ErrorCode::TestCardRefused,
            CardError::PinpadUnavailable => ErrorCode::InvalidArgument,
            CardError::PinpadBusy => ErrorCode::PinpadPending,
            CardError::BadCertificate { .. }
            | CardError::UnsupportedAlgorithm { .. }
            | CardError::Reader { .. }
            | CardError::Device { .. }
            | CardError::ThreadStopped => ErrorCode::CardError,
        }
    }

    /// PIN tries left, when the error reports them.
    pub fn pin_tries_left(&self) -> Option<u8> {
        match self {
            CardError::WrongPin { tries_left } => Some(*tries_left),
            CardError::Blocked => Some(0),
            _ => None,
        }
    }
}

impl From<PinOutcome> for Result<(), CardError> {
    fn from(outcome: PinOutcome) -> Self {
        match outcome {
            PinOutcome::Verified => Ok(()),
            PinOutcome::Wrong { tries_left } => Err(CardError::WrongPin { tries_left }),
            PinOutcome::Blocked => Err(CardError::Blocked),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_failures_carry_their_code_and_tries() {
        let wrong: Result<(), CardError> = PinOutcome::Wrong { tries_left: 2 }.into();
        let wrong = wrong.unwrap_err();
        assert_eq!(wrong.code(), ErrorCode::WrongPin);
        assert_eq!(wrong.pin_tries_left(), Some(2));
        let blocked: Result<(), CardError> = PinOutcome::Blocked.into();
        assert_eq!(blocked.unwrap_err().code(), ErrorCode::CardBlocked);
        assert_eq!(CardError::Removed.code(), ErrorCode::NoCard);
        assert_eq!(CardError::PinRequired.code(), ErrorCode::SessionLocked);
    }
}
