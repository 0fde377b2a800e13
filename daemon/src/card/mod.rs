//! The professional's card, behind one async API whatever holds the key.
//!
//! - [`CardBackend`]: the blocking trait a card implementation fills (the
//!   software card here; PC/SC and PKCS#11 later), run on a dedicated
//!   thread by [`spawn_card_thread`].
//! - [`CardHandle`]: the async side — `verify_pin`, `start_pinpad_verify`,
//!   `sign`, `reset_security_state` — and [`CardEvents`], the stream of
//!   [`CardEvent`]s (readers, insertion with the card's [`CardIdentity`],
//!   removal, reset by another program, pinpad results).
//! - [`CardSigner`]: one signature by one card, handed to the platform
//!   authenticator (one card signature per assertion).
//! - [`check_test_card`]: the test-card guard.
//! - [`Pin`] (the model's): the PIN, zeroized after its VERIFY.
//! - [`software`] (feature `sandbox`): the software card, a test facility.
//! - [`pcsc`] (feature `pcsc`): cards in PC/SC readers, spoken to with the
//!   [`luxtrust`] profile over the [`apdu`] layer; [`pinpad`] entry.

pub mod apdu;
mod backend;
mod error;
mod guard;
mod identity;
pub mod luxtrust;
#[cfg(feature = "pcsc")]
pub mod pcsc;
pub mod pinpad;
pub mod pkcs11;
#[cfg(feature = "sandbox")]
pub mod software;
#[cfg(test)]
pub(crate) mod test_certificates;
mod thread;

use std::sync::Arc;

use ihe::dsig::{SignError, SignatureAlgorithm};
use ihe::wssec::{PendingEnvelope, SignedEnvelope};
use time::OffsetDateTime;

pub use backend::{CardBackend, CardEvent, CardWaker};
pub use dspconnect::model::{Pin, PinError};
pub use error::{CardError, PIN_TRIES, PinOutcome, PinStatus};
pub use guard::{PlatformKind, SANDBOX_NAME_MARKER, check_test_card};
pub use identity::{CardIdentity, Fingerprint};
pub use thread::{CardEvents, CardHandle, spawn_card_thread};

/// Why a card could not sign a prepared envelope.
#[derive(Debug, thiserror::Error)]
pub enum CardSignError {
    #[error(transparent)]
    Card(#[from] CardError),
    #[error("the card's signature cannot be put in the message: {0}")]
    Envelope(#[from] SignError),
}

/// The right to have one card make one signature. The session gives one
/// to the authenticator per assertion; spending it is the only way to
/// sign, so an authentication costs exactly one card signature and the PIN
/// is never asked for it (the card is already verified).
pub struct CardSigner {
    card: CardHandle,
    identity: Arc<CardIdentity>,
}

impl std::fmt::Debug for CardSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardSigner")
            .field("identity", &self.identity)
            .finish()
    }
}

impl CardSigner {
    /// A signature by the card `identity` names, through `card`.
    pub fn new(card: CardHandle, identity: Arc<CardIdentity>) -> Self {
        CardSigner { card, identity }
    }

    /// Who signs.
    pub fn identity(&self) -> &CardIdentity {
        &self.identity
    }

    /// The signing certificate (DER), for the BinarySecurityToken.
    pub fn certificate_der(&self) -> &[u8] {
        self.identity.certificate_der()
    }

    /// The algorithm the card's key signs with.
    pub fn algorithm(&self) -> SignatureAlgorithm {
        self.identity.algorithm
    }

    /// Signs a SHA-256 digest. An expired or not-yet-valid certificate is
    /// refused before the card is asked.
    pub async fn sign(
        self,
        algorithm: SignatureAlgorithm,
        digest: &ihe::dsig::Sha256Digest,
    ) -> Result<Vec<u8>, CardError> {
        self.identity.check_validity(OffsetDateTime::now_utc())?;
        self.card
            .sign(self.identity.fingerprint, algorithm, digest)
            .await
    }

    /// Signs a prepared WS-Security envelope (whose certificate must be
    /// this card's) and puts the signature in place.
    pub async fn sign_envelope(
        self,
        pending: PendingEnvelope,
    ) -> Result<SignedEnvelope, CardSignError> {
        let digest = *pending.digest_to_sign();
        let value = self.sign(pending.algorithm(), &digest).await?;
        Ok(pending.finish(&value)?)
    }
}
