//! The PC/SC card backend (feature `pcsc`): readers and cards through the
//! system's PC/SC service (pcsc-lite's `pcscd` on Linux, WinSCard on
//! Windows), the card spoken to with the [`super::luxtrust`] profile.
//!
//! - One `pcsc::Context`, owned by the card thread. `wait_for_change`
//!   blocks in `SCardGetStatusChange` (with the PnP pseudo-reader, so that
//!   readers plugged in or out wake it); the waker calls
//!   `SCardCancel` on a clone of the context.
//! - Cards are opened in **shared** mode (other middleware may use the
//!   reader too) and every multi-APDU operation runs inside
//!   `SCardBeginTransaction`/`SCardEndTransaction`, so no other program's
//!   APDUs interleave with ours.
//! - A card reset by another program (`SCARD_W_RESET_CARD`) is reconnected
//!   and reported as [`CardEvent::CardReset`]: the card has forgotten the
//!   PIN, which is "PIN needed", not an error loop.
//! - pcscd stopping (`SCARD_E_NO_SERVICE`, `SCARD_E_SERVICE_STOPPED`,
//!   invalid handles) drops the context; the card thread reports
//!   [`CardEvent::ServiceFailed`] and the next wait establishes a new
//!   context and reports readers and cards afresh.
//! - The pinpad (PC/SC part 10 `FEATURE_VERIFY_PIN_DIRECT`) runs on its
//!   own thread with its own context and card handle, so PIN entry on the
//!   reader never blocks the card thread; its outcome arrives as
//!   [`CardEvent::PinpadResult`]. See [`super::pinpad`].

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{CStr, CString};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use ihe::dsig::{Sha256Digest, SignatureAlgorithm};
use pcsc::{Card, Context, Disposition, Protocols, ReaderState, Scope, ShareMode, State};

use super::apdu::{Transmit, TransmitError, hex};
use super::pinpad::{self, PinpadFeatures};
use super::{CardBackend, CardError, CardEvent, CardWaker, Pin, PinOutcome, PinStatus, luxtrust};

/// How long one `SCardGetStatusChange` waits before the backend looks at
/// the reader list again and asks each connected card whether another
/// program reset it (`SCardStatus` answers `SCARD_W_RESET_CARD`; no APDU is
/// sent). PnP and the waker end the wait at once.
const STATUS_WAIT: Duration = Duration::from_secs(2);

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Each guarded value is replaced or pushed to in one statement.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Which readers the backend watches.
#[derive(Debug, Clone, Default)]
pub struct PcscOptions {
    /// Watch only readers whose name contains this (configured); otherwise
    /// every reader, and the session follows the first LuxTrust card.
    pub reader_filter: Option<String>,
}

struct ReaderEntry {
    name: CString,
    /// Whether a (responsive) card was present, and the reader's event
    /// counter, at the last wait.
    present: bool,
    event_count: u32,
    pinpad: PinpadFeatures,
    /// The card in the reader, connected in shared mode, once read.
    card: Option<Card>,
}

/// See the module documentation.
pub struct PcscBackend {
    options: PcscOptions,
    context: Option<Context>,
    /// The context the waker cancels (a clone of `context`).
    cancel_target: Arc<Mutex<Option<Context>>>,
    woken: Arc<AtomicBool>,
    readers: BTreeMap<String, ReaderEntry>,
    /// The states passed to `SCardGetStatusChange`: one per watched reader
    /// and the PnP pseudo-reader last, each synced after every wait.
    watch: Vec<ReaderState>,
    /// Events produced outside `wait_for_change` (pinpad results, resets
    /// seen during an operation), returned by the next wait.
    pending: Arc<Mutex<Vec<CardEvent>>>,
    pinpad_busy: Arc<Mutex<BTreeSet<String>>>,
}

impl PcscBackend {
    /// A backend; nothing is opened until the card thread's first wait
    /// (so a daemon starts even while pcscd is down).
    pub fn new(options: PcscOptions) -> Self {
        PcscBackend {
            options,
            context: None,
            cancel_target: Arc::new(Mutex::new(None)),
            woken: Arc::new(AtomicBool::new(false)),
            readers: BTreeMap::new(),
            watch: Vec::new(),
            pending: Arc::new(Mutex::new(Vec::new())),
            pinpad_busy: Arc::new(Mutex::new(BTreeSet::new())),
        }
    }

    fn context(&mut self) -> Result<Context, CardError> {
        if let Some(context) = &self.context {
            return Ok(context.clone());
        }
        let context = Context::establish(Scope::User).map_err(|e| service_error(&e))?;
        *lock(&self.cancel_target) = Some(context.clone());
        self.context = Some(context.clone());
        Ok(context)
    }

    /// Forgets everything tied to the old context after a service failure.
    fn drop_context(&mut self) {
        self.readers.clear();
        self.watch.clear();
        *lock(&self.cancel_target) = None;
        self.context = None;
    }

    fn watched(&self, name: &str) -> bool {
        self.options
            .reader_filter
            .as_deref()
            .is_none_or(|filter| name.contains(filter))
    }

    /// Adds and removes readers after the reader list changed.
    fn sync_readers(
        &mut self,
        context: &Context,
        events: &mut Vec<CardEvent>,
    ) -> Result<(), CardError> {
        let names: Vec<CString> = match context.list_readers_owned() {
            Ok(names) => names,
            Err(pcsc::Error::NoReadersAvailable) => Vec::new(),
            Err(e) => return Err(self.fail(&e)),
        };
        let present: BTreeSet<String> = names
            .iter()
            .map(|n| n.to_string_lossy().into_owned())
            .filter(|n| self.watched(n))
            .collect();
        let gone: Vec<String> = self
            .readers
            .keys()
            .filter(|n| !present.contains(*n))
            .cloned()
            .collect();
        for reader in gone {
            self.readers.remove(&reader);
            tracing::info!(%reader, "card reader removed");
            events.push(CardEvent::ReaderRemoved { reader });
        }
        for name in names {
            let reader = name.to_string_lossy().into_owned();
            if !present.contains(&reader) || self.readers.contains_key(&reader) {
                continue;
            }
            let pinpad = pinpad::discover_without_card(context, &name);
            tracing::info!(%reader, pinpad = pinpad.verify_pin_direct.is_some(), "card reader found");
            events.push(CardEvent::ReaderAdded {
                reader: reader.clone(),
                pinpad: pinpad.verify_pin_direct.is_some(),
            });
            self.watch
                .push(ReaderState::new(name.clone(), State::UNAWARE));
            self.readers.insert(
                reader,
                ReaderEntry {
                    name,
                    present: false,
                    event_count: 0,
                    pinpad,
                    card: None,
                },
            );
        }
        let readers = &self.readers;
        self.watch.retain(|state| {
            state.name() == pcsc::PNP_NOTIFICATION()
                || readers.contains_key(state.name().to_string_lossy().as_ref())
        });
        // The PnP pseudo-reader stays last (it is added once; its synced
        // state carries the reader count, so it wakes only on a change).
        if !self
            .watch
            .iter()
            .any(|s| s.name() == pcsc::PNP_NOTIFICATION())
        {
            self.watch
                .push(ReaderState::new(pcsc::PNP_NOTIFICATION(), State::UNAWARE));
        }
        Ok(())
    }

    /// Maps a PC/SC failure; a failure of the service itself drops the
    /// context so that the next wait starts afresh.
    fn fail(&mut self, error: &pcsc::Error) -> CardError {
        let mapped = service_error(error);
        if is_service_failure(error) {
            self.drop_context();
        }
        mapped
    }

    /// A card appeared in `reader`: connect, read who it is.
    fn card_arrived(&mut self, context: &Context, reader: &str, atr: &[u8]) -> CardEvent {
        let Some(entry) = self.readers.get_mut(reader) else {
            return CardEvent::CardRemoved {
                reader: reader.to_owned(),
            };
        };
        match read_card(context, &entry.name) {
            Ok((card, contents, pin)) => {
                tracing::info!(
                    %reader,
                    atr = %luxtrust::describe_atr(atr),
                    holder = %contents.identity.holder_name,
                    "LuxTrust card inserted"
                );
                if let Some(features) = pinpad::discover(&card) {
                    entry.pinpad = features;
                }
                entry.card = Some(card);
                CardEvent::CardInserted {
                    reader: reader.to_owned(),
                    identity: Arc::new(contents.identity),
                    pin,
                }
            }
            Err(error) => {
                tracing::warn!(%reader, atr = %hex(atr), %error, "card in the reader cannot be used");
                CardEvent::CardUnusable {
                    reader: reader.to_owned(),
                    error,
                }
            }
        }
    }

    /// Runs `operation` on the card in `reader` inside a transaction. A
    /// reset card is reconnected, reported, and the operation answers
    /// [`CardError::PinRequired`] unless `retry_after_reset` (then it runs
    /// once more on the reconnected card).
    fn with_card<T>(
        &mut self,
        reader: &str,
        retry_after_reset: bool,
        mut operation: impl FnMut(&mut dyn Transmit) -> Result<T, CardError>,
    ) -> Result<T, CardError> {
        let context = self.context()?;
        let entry = self.readers.get_mut(reader).ok_or(CardError::NotPresent)?;
        if entry.card.is_none() {
            let card = context
                .connect(&entry.name, ShareMode::Shared, Protocols::ANY)
                .map_err(|e| card_error(reader, &e))?;
            entry.card = Some(card);
        }
        let Some(card) = entry.card.as_mut() else {
            return Err(CardError::NotPresent);
        };
        let mut attempts = 0;
        loop {
            attempts += 1;
            let outcome = match card.transaction() {
                Ok(transaction) => {
                    let mut channel = PcscChannel { card: &transaction };
                    let result = operation(&mut channel);
                    // Dropping the transaction ends it (LeaveCard).
                    drop(transaction);
                    result
                }
                Err(pcsc::Error::ResetCard) => Err(CardError::PinRequired),
                Err(e) => Err(card_error(reader, &e)),
            };
            match outcome {
                Err(CardError::PinRequired) if attempts == 1 => {
                    // Either the card said 6982 or PC/SC said "reset".
                    // Reconnecting tells them apart and acknowledges a reset.
                    match card.reconnect(ShareMode::Shared, Protocols::ANY, Disposition::LeaveCard)
                    {
                        Ok(()) => {}
                        Err(e) => return Err(card_error(reader, &e)),
                    }
                    lock(&self.pending).push(CardEvent::CardReset {
                        reader: reader.to_owned(),
                    });
                    self.woken.store(true, Ordering::SeqCst);
                    if !retry_after_reset {
                        return Err(CardError::PinRequired);
                    }
                }
                Err(CardError::Removed) => {
                    entry.card = None;
                    return Err(CardError::Removed);
                }
                other => return other,
            }
        }
    }
}

/// Connects to the card in `reader` and reads its identity and PIN state,
/// all inside one transaction.
fn read_card(
    context: &Context,
    reader: &CStr,
) -> Result<(Card, luxtrust::CardContents, PinStatus), CardError> {
    let name = reader.to_string_lossy();
    let mut card = context
        .connect(reader, ShareMode::Shared, Protocols::ANY)
        .map_err(|e| card_error(&name, &e))?;
    let read = {
        let transaction = card.transaction().map_err(|e| card_error(&name, &e))?;
        let mut channel = PcscChannel { card: &transaction };
        let contents = luxtrust::read_identity(&mut channel)?;
        let pin = match &contents {
            Some(_) => luxtrust::pin_state(&mut channel)?.1,
            None => PinStatus::default(),
        };
        (contents, pin)
    };
    match read {
        (Some(contents), pin) => Ok((card, contents, pin)),
        (None, _) => Err(CardError::BadCertificate {
            reason: "this card is not a LuxTrust card (no LuxTrust application)".into(),
        }),
    }
}

impl CardBackend for PcscBackend {
    fn description(&self) -> String {
        match &self.options.reader_filter {
            Some(filter) => format!("PC/SC (readers matching '{filter}')"),
            None => "PC/SC".to_owned(),
        }
    }

    fn waker(&self) -> CardWaker {
        let woken = self.woken.clone();
        let target = self.cancel_target.clone();
        Arc::new(move || {
            woken.store(true, Ordering::SeqCst);
            if let Some(context) = lock(&target).as_ref() {
                // Fails only when no wait is running: the flag covers that.
                let _ = context.cancel();
            }
        })
    }

    fn wait_for_change(&mut self) -> Result<Vec<CardEvent>, CardError> {
        let mut events = std::mem::take(&mut *lock(&self.pending));
        let context = self.context()?;
        self.sync_readers(&context, &mut events)?;
        if self.woken.swap(false, Ordering::SeqCst) || !events.is_empty() {
            // Report what is known now; new readers get their card state
            // on the next wait (their state is UNAWARE, which returns at once).
            return Ok(events);
        }
        match context.get_status_change(STATUS_WAIT, &mut self.watch) {
            Ok(()) | Err(pcsc::Error::Timeout) | Err(pcsc::Error::Cancelled) => {}
            Err(e) => return Err(self.fail(&e)),
        }
        self.woken.store(false, Ordering::SeqCst);
        let mut arrived = Vec::new();
        for state in &mut self.watch {
            state.sync_current_state();
            let reader = state.name().to_string_lossy().into_owned();
            let Some(entry) = self.readers.get_mut(&reader) else {
                continue;
            };
            let after = state.event_state();
            let is_present = after.contains(State::PRESENT) && !after.contains(State::MUTE);
            // The event counter changes when a card was swapped between
            // two waits.
            let swapped = entry.present && is_present && state.event_count() != entry.event_count;
            let was_present = entry.present;
            entry.present = is_present;
            entry.event_count = state.event_count();
            if was_present && (!is_present || swapped) {
                entry.card = None;
                tracing::info!(%reader, "card removed");
                events.push(CardEvent::CardRemoved {
                    reader: reader.clone(),
                });
            }
            if is_present && (!was_present || swapped) {
                arrived.push((reader, state.atr().to_vec()));
            }
        }
        for (reader, atr) in arrived {
            let event = self.card_arrived(&context, &reader, &atr);
            events.push(event);
        }
        for (reader, entry) in &mut self.readers {
            let Some(card) = entry.card.as_mut() else {
                continue;
            };
            if let Err(pcsc::Error::ResetCard) = card.status2_owned() {
                tracing::info!(%reader, "the card was reset by another program: PIN needed");
                if card
                    .reconnect(ShareMode::Shared, Protocols::ANY, Disposition::LeaveCard)
                    .is_err()
                {
                    entry.card = None;
                }
                events.push(CardEvent::CardReset {
                    reader: reader.clone(),
                });
            }
        }
        Ok(events)
    }

    fn verify_pin(&mut self, reader: &str, pin: Pin) -> Result<PinOutcome, CardError> {
        let outcome = self.with_card(reader, true, |channel| luxtrust::verify(channel, &pin));
        drop(pin);
        outcome
    }

    fn start_pinpad_verify(&mut self, reader: &str) -> Result<(), CardError> {
        let context = self.context()?;
        let entry = self.readers.get(reader).ok_or(CardError::NotPresent)?;
        let Some(ioctl) = entry.pinpad.verify_pin_direct else {
            return Err(CardError::PinpadUnavailable);
        };
        if !lock(&self.pinpad_busy).insert(reader.to_owned()) {
            return Err(CardError::PinpadBusy);
        }
        let name = entry.name.clone();
        let reader = reader.to_owned();
        let pending = self.pending.clone();
        let busy = self.pinpad_busy.clone();
        let woken = self.woken.clone();
        let target = self.cancel_target.clone();
        // Its own context: a pinpad entry takes as long as the user does.
        drop(context);
        std::thread::Builder::new()
            .name("dspconnect-pinpad".to_owned())
            .spawn(move || {
                let outcome = pinpad::verify_on_reader(&name, ioctl);
                lock(&busy).remove(&reader);
                lock(&pending).push(CardEvent::PinpadResult { reader, outcome });
                woken.store(true, Ordering::SeqCst);
                if let Some(context) = lock(&target).as_ref() {
                    let _ = context.cancel();
                }
            })
            .map_err(|e| CardError::Device {
                message: format!("cannot start the pinpad thread: {e}"),
            })?;
        Ok(())
    }

    fn sign(
        &mut self,
        reader: &str,
        algorithm: SignatureAlgorithm,
        digest: &Sha256Digest,
    ) -> Result<Vec<u8>, CardError> {
        self.with_card(reader, false, |channel| {
            luxtrust::sign(channel, algorithm, digest)
        })
    }

    fn reset_security_state(&mut self, reader: &str) -> Result<(), CardError> {
        match self.with_card(reader, false, luxtrust::logout) {
            // Forgotten already, or gone: nothing is left to forget.
            Err(CardError::PinRequired | CardError::Removed | CardError::NotPresent) => Ok(()),
            other => other,
        }
    }
}

/// APDUs through a card handle inside its transaction.
pub(crate) struct PcscChannel<'a> {
    pub(crate) card: &'a Card,
}

impl Transmit for PcscChannel<'_> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransmitError> {
        let mut buffer = [0u8; pcsc::MAX_BUFFER_SIZE_EXTENDED];
        let result = self
            .card
            .transmit(command, &mut buffer)
            .map(<[u8]>::to_vec)
            .map_err(|e| match e {
                pcsc::Error::RemovedCard | pcsc::Error::NoSmartcard => TransmitError::Removed,
                pcsc::Error::ResetCard => TransmitError::Reset,
                other => TransmitError::Reader(other.to_string()),
            });
        zeroize::Zeroize::zeroize(&mut buffer[..]);
        result
    }
}

fn is_service_failure(error: &pcsc::Error) -> bool {
    matches!(
        error,
        pcsc::Error::NoService
            | pcsc::Error::ServiceStopped
            | pcsc::Error::InvalidHandle
            | pcsc::Error::CommError
            | pcsc::Error::InternalError
            | pcsc::Error::UnknownResMng
    )
}

fn service_error(error: &pcsc::Error) -> CardError {
    match error {
        pcsc::Error::NoService | pcsc::Error::ServiceStopped => CardError::Reader {
            reader: "PC/SC".into(),
            message: "the PC/SC service (pcscd) is not running; start it (systemctl start \
                      pcscd.socket) and the daemon reconnects by itself"
                .into(),
        },
        other => CardError::Reader {
            reader: "PC/SC".into(),
            message: other.to_string(),
        },
    }
}

pub(crate) fn card_error(reader: &str, error: &pcsc::Error) -> CardError {
    match error {
        pcsc::Error::RemovedCard | pcsc::Error::NoSmartcard => CardError::Removed,
        pcsc::Error::ResetCard => CardError::PinRequired,
        pcsc::Error::UnknownReader | pcsc::Error::ReaderUnavailable => CardError::Reader {
            reader: reader.to_owned(),
            message: "the reader is gone".into(),
        },
        other => CardError::Reader {
            reader: reader.to_owned(),
            message: other.to_string(),
        },
    }
}
