//! The software card — a **test and sandbox facility**, never a way to
//! reach the real platform.
//!
//! It stands in for a LuxTrust card in a reader when the daemon runs on
//! the sandbox: it loads a card export of the sandbox (certificate, PKCS#8
//! key, PIN; see [`credentials`]), keeps a PIN retry counter, signs only
//! after a verified PIN, and reports the same [`CardEvent`]s as a real
//! card. Tests and the embedded sandbox insert, remove and reset it through
//! [`SoftwareReaderControl`], and can type on its optional pinpad.
//!
//! Its certificates come from the sandbox's LuxTrust *test* CA, so the
//! test-card guard ([`super::check_test_card`]) makes a production profile
//! refuse it before any PIN is asked.
//!
//! **The PIN counter** behaves like a card's: a try is counted before the
//! PIN is compared, a right PIN restores [`PIN_TRIES`] tries, and after
//! [`PIN_TRIES`] wrong PINs the card is blocked. The counter lives with the
//! card object (removing and inserting the card keeps it) and is also
//! written to `pin-counter.json` in the export directory (mode 0600), so a
//! blocked software card stays blocked across daemon restarts. Deleting
//! that file unblocks it: it stands in for the PUK. If the counter cannot
//! be written, VERIFY fails without comparing the PIN.

pub mod credentials;

use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use ihe::dsig::{RsaSoftwareSigner, Sha256Digest, SignatureAlgorithm, Signer, SignerError};
use serde::{Deserialize, Serialize};

use super::{
    CardBackend, CardError, CardEvent, CardIdentity, CardWaker, PIN_TRIES, Pin, PinOutcome,
    PinStatus,
};
pub use credentials::SoftwareCardError;

/// The file next to the export that keeps the PIN counter.
pub const PIN_COUNTER_FILE: &str = "pin-counter.json";

/// The name the software reader shows, saying what it is.
pub const SOFTWARE_READER_NAME: &str = "dspconnect software card reader (SANDBOX)";

#[derive(Serialize, Deserialize)]
struct StoredCounter {
    tries_left: u8,
}

struct Chip {
    signer: RsaSoftwareSigner,
    reference_pin: Pin,
    tries_left: u8,
    verified: bool,
    counter_file: PathBuf,
    signatures: u64,
    verifies: u64,
}

/// A software card (see the module documentation). Clones are the same
/// card: they share its PIN counter and verification state.
#[derive(Clone)]
pub struct SoftwareCard {
    identity: Arc<CardIdentity>,
    issuer_certificates_der: Arc<Vec<Vec<u8>>>,
    chip: Arc<Mutex<Chip>>,
}

impl std::fmt::Debug for SoftwareCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftwareCard")
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded state is a few counters and flags, each updated in one
    // statement: a panic elsewhere cannot leave it half-changed.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl SoftwareCard {
    /// Loads a card export directory (see [`credentials`]) and its PIN
    /// counter, if one was stored.
    pub fn load(dir: &Path) -> Result<Self, SoftwareCardError> {
        let loaded = credentials::load(dir)?;
        let counter_file = dir.join(PIN_COUNTER_FILE);
        let tries_left = match std::fs::read_to_string(&counter_file) {
            Ok(text) => {
                let stored: StoredCounter =
                    serde_json::from_str(&text).map_err(|e| SoftwareCardError::BadManifest {
                        path: counter_file.clone(),
                        reason: e.to_string(),
                    })?;
                stored.tries_left.min(PIN_TRIES)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => PIN_TRIES,
            Err(source) => {
                return Err(SoftwareCardError::Read {
                    path: counter_file,
                    source,
                });
            }
        };
        Ok(SoftwareCard {
            identity: Arc::new(loaded.identity),
            issuer_certificates_der: Arc::new(loaded.issuer_certificates_der),
            chip: Arc::new(Mutex::new(Chip {
                signer: loaded.signer,
                reference_pin: loaded.pin,
                tries_left,
                verified: false,
                counter_file,
                signatures: 0,
                verifies: 0,
            })),
        })
    }

    pub fn identity(&self) -> &Arc<CardIdentity> {
        &self.identity
    }

    /// The issuing CA certificates of the export (the test CA), DER.
    pub fn issuer_certificates_der(&self) -> &[Vec<u8>] {
        &self.issuer_certificates_der
    }

    /// Signatures made so far by this card object.
    pub fn signature_count(&self) -> u64 {
        lock(&self.chip).signatures
    }

    /// VERIFY commands received so far (also those refused as blocked).
    pub fn verify_count(&self) -> u64 {
        lock(&self.chip).verifies
    }

    /// The PIN counter.
    pub fn pin_status(&self) -> PinStatus {
        let tries_left = lock(&self.chip).tries_left;
        PinStatus {
            tries_left: Some(tries_left),
            blocked: tries_left == 0,
        }
    }

    /// Whether the card holds a PIN verification now.
    pub fn is_verified(&self) -> bool {
        lock(&self.chip).verified
    }

    fn verify(&self, pin: Pin) -> Result<PinOutcome, CardError> {
        let mut chip = lock(&self.chip);
        chip.verifies += 1;
        if chip.tries_left == 0 {
            chip.verified = false;
            return Ok(PinOutcome::Blocked);
        }
        let remaining = chip.tries_left - 1;
        chip.store_counter(remaining)?;
        if pins_match(&pin, &chip.reference_pin) {
            chip.store_counter(PIN_TRIES)?;
            chip.verified = true;
            Ok(PinOutcome::Verified)
        } else {
            chip.verified = false;
            Ok(if remaining == 0 {
                PinOutcome::Blocked
            } else {
                PinOutcome::Wrong {
                    tries_left: remaining,
                }
            })
        }
    }

    fn sign(
        &self,
        algorithm: SignatureAlgorithm,
        digest: &Sha256Digest,
    ) -> Result<Vec<u8>, CardError> {
        let mut chip = lock(&self.chip);
        if !chip.verified {
            return Err(CardError::PinRequired);
        }
        let signature = chip
            .signer
            .sign_prehashed(algorithm, digest)
            .map_err(|e| match e {
                SignerError::UnsupportedAlgorithm {
                    requested,
                    supported,
                } => CardError::UnsupportedAlgorithm {
                    requested,
                    supported,
                },
                other => CardError::Device {
                    message: other.to_string(),
                },
            })?;
        chip.signatures += 1;
        Ok(signature)
    }

    fn forget_verification(&self) {
        lock(&self.chip).verified = false;
    }
}

/// Compares without an early exit on the first differing digit, so the
/// comparison time says nothing about the PIN.
fn pins_match(given: &Pin, reference: &Pin) -> bool {
    let (a, b) = (given.expose().as_bytes(), reference.expose().as_bytes());
    let mut difference = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        difference |= usize::from(x ^ y);
    }
    difference == 0
}

impl Chip {
    fn store_counter(&mut self, tries_left: u8) -> Result<(), CardError> {
        if tries_left != self.tries_left {
            write_counter(&self.counter_file, tries_left).map_err(|source| CardError::Device {
                message: format!(
                    "cannot store the PIN counter in {}: {source}",
                    self.counter_file.display()
                ),
            })?;
        }
        self.tries_left = tries_left;
        Ok(())
    }
}

/// Writes the counter whole or not at all (temporary file, fsync, rename).
fn write_counter(path: &Path, tries_left: u8) -> std::io::Result<()> {
    let json = serde_json::to_vec(&StoredCounter { tries_left }).map_err(std::io::Error::other)?;
    let temporary = path.with_extension("json.tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&temporary)?;
    file.write_all(&json)?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}

struct ReaderState {
    card: Option<SoftwareCard>,
    changes: VecDeque<CardEvent>,
    woken: bool,
    pinpad_waiting: bool,
}

struct Shared {
    reader: String,
    pinpad: bool,
    state: Mutex<ReaderState>,
    changed: Condvar,
}

impl Shared {
    fn push(&self, state: &mut ReaderState, event: CardEvent) {
        state.changes.push_back(event);
        self.changed.notify_all();
    }

    fn inserted(&self, card: &SoftwareCard) -> CardEvent {
        CardEvent::CardInserted {
            reader: self.reader.clone(),
            identity: card.identity.clone(),
            pin: card.pin_status(),
        }
    }

    fn take_card(&self, state: &mut ReaderState) -> Option<SoftwareCard> {
        let card = state.card.take()?;
        card.forget_verification();
        if state.pinpad_waiting {
            state.pinpad_waiting = false;
            self.push(
                state,
                CardEvent::PinpadResult {
                    reader: self.reader.clone(),
                    outcome: Err(CardError::Removed),
                },
            );
        }
        self.push(
            state,
            CardEvent::CardRemoved {
                reader: self.reader.clone(),
            },
        );
        Some(card)
    }
}

/// A reader holding at most one [`SoftwareCard`]: the [`CardBackend`] the
/// card thread runs.
pub struct SoftwareReader {
    shared: Arc<Shared>,
}

/// The hands that insert, remove and reset the software card (tests, the
/// embedded sandbox). Clones act on the same reader.
#[derive(Clone)]
pub struct SoftwareReaderControl {
    shared: Arc<Shared>,
}

/// A software reader named [`SOFTWARE_READER_NAME`], empty, with or
/// without a pinpad.
pub fn software_reader(pinpad: bool) -> (SoftwareReader, SoftwareReaderControl) {
    let shared = Arc::new(Shared {
        reader: SOFTWARE_READER_NAME.to_owned(),
        pinpad,
        state: Mutex::new(ReaderState {
            card: None,
            changes: VecDeque::new(),
            woken: false,
            pinpad_waiting: false,
        }),
        changed: Condvar::new(),
    });
    {
        let mut state = lock(&shared.state);
        shared.push(
            &mut state,
            CardEvent::ReaderAdded {
                reader: shared.reader.clone(),
                pinpad,
            },
        );
    }
    (
        SoftwareReader {
            shared: shared.clone(),
        },
        SoftwareReaderControl { shared },
    )
}

impl SoftwareReaderControl {
    /// Puts `card` in the reader (taking out the one there, if any).
    pub fn insert(&self, card: &SoftwareCard) {
        let mut state = lock(&self.shared.state);
        self.shared.take_card(&mut state);
        card.forget_verification();
        state.card = Some(card.clone());
        let event = self.shared.inserted(card);
        self.shared.push(&mut state, event);
    }

    /// Takes the card out of the reader.
    pub fn remove(&self) -> Option<SoftwareCard> {
        let mut state = lock(&self.shared.state);
        self.shared.take_card(&mut state)
    }

    /// Another program resets the card: it forgets its PIN verification.
    pub fn reset_card(&self) {
        let mut state = lock(&self.shared.state);
        if let Some(card) = &state.card {
            card.forget_verification();
            let event = CardEvent::CardReset {
                reader: self.shared.reader.clone(),
            };
            self.shared.push(&mut state, event);
        }
    }

    /// Whether PIN entry on the pinpad is waiting for the user.
    pub fn pinpad_waiting(&self) -> bool {
        lock(&self.shared.state).pinpad_waiting
    }

    /// The user types `pin` on the reader's pinpad; the outcome is reported
    /// as [`CardEvent::PinpadResult`]. Refused when no entry is waiting.
    pub fn type_on_pinpad(&self, pin: Pin) -> Result<(), CardError> {
        let mut state = lock(&self.shared.state);
        if !state.pinpad_waiting {
            return Err(CardError::PinpadUnavailable);
        }
        state.pinpad_waiting = false;
        let outcome = match &state.card {
            Some(card) => card.verify(pin),
            None => Err(CardError::Removed),
        };
        let event = CardEvent::PinpadResult {
            reader: self.shared.reader.clone(),
            outcome,
        };
        self.shared.push(&mut state, event);
        Ok(())
    }

    /// The card now in the reader.
    pub fn card(&self) -> Option<SoftwareCard> {
        lock(&self.shared.state).card.clone()
    }
}

impl SoftwareReader {
    fn card_in(&self, reader: &str) -> Result<SoftwareCard, CardError> {
        if reader != self.shared.reader {
            return Err(CardError::NotPresent);
        }
        lock(&self.shared.state)
            .card
            .clone()
            .ok_or(CardError::NotPresent)
    }
}

impl CardBackend for SoftwareReader {
    fn description(&self) -> String {
        "software card (SANDBOX)".to_owned()
    }

    fn waker(&self) -> CardWaker {
        let shared = self.shared.clone();
        Arc::new(move || {
            lock(&shared.state).woken = true;
            shared.changed.notify_all();
        })
    }

    fn wait_for_change(&mut self) -> Result<Vec<CardEvent>, CardError> {
        let mut state = lock(&self.shared.state);
        loop {
            if !state.changes.is_empty() {
                state.woken = false;
                return Ok(state.changes.drain(..).collect());
            }
            if state.woken {
                state.woken = false;
                return Ok(Vec::new());
            }
            state = self
                .shared
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn verify_pin(&mut self, reader: &str, pin: Pin) -> Result<PinOutcome, CardError> {
        self.card_in(reader)?.verify(pin)
    }

    fn start_pinpad_verify(&mut self, reader: &str) -> Result<(), CardError> {
        self.card_in(reader)?;
        if !self.shared.pinpad {
            return Err(CardError::PinpadUnavailable);
        }
        let mut state = lock(&self.shared.state);
        if state.pinpad_waiting {
            return Err(CardError::PinpadBusy);
        }
        state.pinpad_waiting = true;
        Ok(())
    }

    fn sign(
        &mut self,
        reader: &str,
        algorithm: SignatureAlgorithm,
        digest: &Sha256Digest,
    ) -> Result<Vec<u8>, CardError> {
        self.card_in(reader)?.sign(algorithm, digest)
    }

    fn reset_security_state(&mut self, reader: &str) -> Result<(), CardError> {
        self.card_in(reader)?.forget_verification();
        Ok(())
    }
}
