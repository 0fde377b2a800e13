//! The seam every card implementation fills: a *blocking* backend that
//! runs on its own thread ([`super::spawn_card_thread`]) and reports what
//! happens in the readers as [`CardEvent`]s.
//!
//! Why blocking: PC/SC (`SCardGetStatusChange`, `SCardTransmit`,
//! `SCardControl`) and PKCS#11 (`C_WaitForSlotEvent`, `C_Login`, `C_Sign`)
//! are blocking C APIs whose handles must not be used from several threads
//! at once. One thread owns them; the async side sends it commands over a
//! channel and wakes it with [`CardBackend::waker`] (`Context::cancel` for
//! PC/SC) so that a command never waits for the next reader event.

use std::sync::Arc;

use ihe::dsig::{Sha256Digest, SignatureAlgorithm};

use super::{CardError, CardIdentity, Pin, PinOutcome, PinStatus};

/// Something another thread calls to make the card thread's current (or
/// next) [`CardBackend::wait_for_change`] return at once.
pub type CardWaker = Arc<dyn Fn() + Send + Sync>;

/// What happened in the readers.
#[derive(Debug, Clone, PartialEq)]
pub enum CardEvent {
    /// A reader appeared (also reported for each reader present at start).
    ReaderAdded { reader: String, pinpad: bool },
    /// A reader disappeared; a card in it is gone too (a `CardRemoved` for
    /// it is not required).
    ReaderRemoved { reader: String },
    /// A card was inserted (or was present at start) and its
    /// authentication certificate read.
    CardInserted {
        reader: String,
        identity: Arc<CardIdentity>,
        /// The PIN counter, when the card tells it without a VERIFY.
        pin: PinStatus,
    },
    /// A card is in the reader but cannot be used (no professional
    /// certificate on it, unknown card type, unreadable).
    CardUnusable { reader: String, error: CardError },
    /// The card left the reader.
    CardRemoved { reader: String },
    /// Another program reset the card (PC/SC `SCARD_W_RESET_CARD`): it has
    /// forgotten its PIN verification, and the PIN is needed again.
    CardReset { reader: String },
    /// The outcome of PIN entry on the reader's pinpad, started by
    /// [`CardBackend::start_pinpad_verify`].
    PinpadResult {
        reader: String,
        outcome: Result<PinOutcome, CardError>,
    },
    /// The card service failed (pcscd stopped, middleware crashed). The
    /// backend reports the readers and cards again once it recovers.
    ServiceFailed { error: CardError },
}

/// A card implementation, driven by the card thread. Every method may
/// block; none is called concurrently with another.
///
/// Operations name the reader holding the card; the card thread has already
/// checked that the card in it is the one the caller meant (by
/// fingerprint), so a backend only answers for what it finds there now.
pub trait CardBackend: Send + 'static {
    /// A short description for logs ("software card (SANDBOX)", "PC/SC").
    fn description(&self) -> String;

    /// The waker the card thread hands to the async side. It may be called
    /// at any time from any thread, also while no `wait_for_change` is
    /// running: the next call must then return at once (a sticky flag), or
    /// a command could wait for the next reader event.
    fn waker(&self) -> CardWaker;

    /// Blocks until something changes in the readers or cards, or until
    /// woken; returns the changes (none when woken). The first call reports
    /// the state found at start (readers, inserted cards) as events.
    fn wait_for_change(&mut self) -> Result<Vec<CardEvent>, CardError>;

    /// Sends VERIFY with `pin`, then drops the PIN (which zeroizes it).
    /// A blocked card answers [`PinOutcome::Blocked`] without any VERIFY
    /// when the backend knows it is blocked.
    fn verify_pin(&mut self, reader: &str, pin: Pin) -> Result<PinOutcome, CardError>;

    /// Starts PIN entry on the reader's pinpad and returns without waiting
    /// for the user; the outcome comes later as
    /// [`CardEvent::PinpadResult`]. [`CardError::PinpadUnavailable`] when
    /// the reader has none.
    fn start_pinpad_verify(&mut self, reader: &str) -> Result<(), CardError>;

    /// Signs a SHA-256 digest with the card's authentication key. For
    /// [`SignatureAlgorithm::RsaSha256`] the host builds the PKCS#1 v1.5
    /// `DigestInfo` ([`ihe::dsig::rsa_sha256_digest_info`]) and the card
    /// pads and signs it. [`CardError::PinRequired`] when the card is not
    /// (or no longer) verified.
    fn sign(
        &mut self,
        reader: &str,
        algorithm: SignatureAlgorithm,
        digest: &Sha256Digest,
    ) -> Result<Vec<u8>, CardError>;

    /// Makes the card forget its PIN verification (logout / reset of the
    /// security state), so that nothing can be signed without the PIN again.
    fn reset_security_state(&mut self, reader: &str) -> Result<(), CardError>;
}
