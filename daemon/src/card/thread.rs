//! The card thread and the async handle to it.
//!
//! [`spawn_card_thread`] moves a [`CardBackend`] onto a dedicated thread.
//! The thread alternates between running queued commands and waiting for
//! reader events; a command wakes it through the backend's waker. Events
//! flow to one [`CardEvents`] receiver (the session), commands come from
//! any number of [`CardHandle`] clones.
//!
//! Every operation names the card it is meant for by fingerprint. The
//! thread tracks which card sits in which reader from the events it
//! forwards, so a signature meant for one professional's card is never
//! made by another card that took its place.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError, TryRecvError};
use std::time::Duration;

use ihe::dsig::{Sha256Digest, SignatureAlgorithm};
use tokio::sync::{mpsc as async_mpsc, oneshot};

use super::{CardBackend, CardError, CardEvent, CardWaker, Fingerprint, Pin, PinOutcome};

/// Longest pause between attempts when the card service keeps failing.
const MAX_SERVICE_BACKOFF: Duration = Duration::from_secs(5);

/// The events of one card thread, in the order they happened.
#[derive(Debug)]
pub struct CardEvents {
    receiver: async_mpsc::UnboundedReceiver<CardEvent>,
}

impl CardEvents {
    /// The next event; `None` once the card thread has stopped.
    pub async fn recv(&mut self) -> Option<CardEvent> {
        self.receiver.recv().await
    }
}

type Reply<T> = oneshot::Sender<Result<T, CardError>>;

enum Command {
    VerifyPin {
        card: Fingerprint,
        pin: Pin,
        reply: Reply<PinOutcome>,
    },
    StartPinpad {
        card: Fingerprint,
        reply: Reply<()>,
    },
    Sign {
        card: Fingerprint,
        algorithm: SignatureAlgorithm,
        digest: Sha256Digest,
        reply: Reply<Vec<u8>>,
    },
    ResetSecurity {
        card: Fingerprint,
        reply: Reply<()>,
    },
    Shutdown,
}

struct HandleInner {
    commands: mpsc::Sender<Command>,
    waker: CardWaker,
    description: String,
}

impl Drop for HandleInner {
    /// The last handle gone: the thread stops (and releases the readers).
    fn drop(&mut self) {
        // A send error means the thread has already stopped.
        let _ = self.commands.send(Command::Shutdown);
        (self.waker)();
    }
}

/// The async side of a card thread. Cheap to clone; the thread stops when
/// the last clone is dropped.
#[derive(Clone)]
pub struct CardHandle {
    inner: Arc<HandleInner>,
}

impl std::fmt::Debug for CardHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardHandle")
            .field("backend", &self.inner.description)
            .finish()
    }
}

/// Starts the card thread for `backend`.
pub fn spawn_card_thread(
    backend: Box<dyn CardBackend>,
) -> Result<(CardHandle, CardEvents), std::io::Error> {
    let (command_tx, command_rx) = mpsc::channel();
    let (event_tx, event_rx) = async_mpsc::unbounded_channel();
    let waker = backend.waker();
    let description = backend.description();
    std::thread::Builder::new()
        .name("dspconnect-card".to_owned())
        .spawn(move || run(backend, command_rx, event_tx))?;
    Ok((
        CardHandle {
            inner: Arc::new(HandleInner {
                commands: command_tx,
                waker,
                description,
            }),
        },
        CardEvents { receiver: event_rx },
    ))
}

impl CardHandle {
    /// What the backend is, for logs and status.
    pub fn description(&self) -> &str {
        &self.inner.description
    }

    /// VERIFY on `card`; the PIN is dropped (zeroized) by the card thread
    /// right after the command.
    pub async fn verify_pin(&self, card: Fingerprint, pin: Pin) -> Result<PinOutcome, CardError> {
        self.request(|reply| Command::VerifyPin { card, pin, reply })
            .await
    }

    /// Starts pinpad entry on `card`'s reader; the outcome arrives as
    /// [`CardEvent::PinpadResult`].
    pub async fn start_pinpad_verify(&self, card: Fingerprint) -> Result<(), CardError> {
        self.request(|reply| Command::StartPinpad { card, reply })
            .await
    }

    /// Signs `digest` with `card`'s authentication key.
    pub async fn sign(
        &self,
        card: Fingerprint,
        algorithm: SignatureAlgorithm,
        digest: &Sha256Digest,
    ) -> Result<Vec<u8>, CardError> {
        let digest = *digest;
        self.request(|reply| Command::Sign {
            card,
            algorithm,
            digest,
            reply,
        })
        .await
    }

    /// Makes `card` forget its PIN verification (logout).
    pub async fn reset_security_state(&self, card: Fingerprint) -> Result<(), CardError> {
        self.request(|reply| Command::ResetSecurity { card, reply })
            .await
    }

    async fn request<T: Send + 'static>(
        &self,
        command: impl FnOnce(Reply<T>) -> Command,
    ) -> Result<T, CardError> {
        let (reply, answer) = oneshot::channel();
        self.inner
            .commands
            .send(command(reply))
            .map_err(|_| CardError::ThreadStopped)?;
        (self.inner.waker)();
        // Waiting through the blocking pool tells tokio that work is under
        // way outside the runtime: with paused time (tests), the clock does
        // not jump ahead to the next timer while the card is busy.
        tokio::task::spawn_blocking(move || answer.blocking_recv())
            .await
            .map_err(|_| CardError::ThreadStopped)?
            .map_err(|_| CardError::ThreadStopped)?
    }
}

fn run(
    mut backend: Box<dyn CardBackend>,
    commands: mpsc::Receiver<Command>,
    events: async_mpsc::UnboundedSender<CardEvent>,
) {
    let description = backend.description();
    tracing::debug!(backend = %description, "card thread started");
    let mut cards = CardsInReaders::default();
    let mut failures: u32 = 0;
    loop {
        loop {
            match commands.try_recv() {
                Ok(Command::Shutdown) | Err(TryRecvError::Disconnected) => {
                    tracing::debug!(backend = %description, "card thread stopped");
                    return;
                }
                Ok(command) => execute(backend.as_mut(), &cards, command),
                Err(TryRecvError::Empty) => break,
            }
        }
        match backend.wait_for_change() {
            Ok(changes) => {
                failures = 0;
                for change in changes {
                    cards.track(&change);
                    // Nobody listening is not the card thread's problem:
                    // commands may still come.
                    let _ = events.send(change);
                }
            }
            Err(error) => {
                failures = failures.saturating_add(1);
                tracing::warn!(backend = %description, %error, "card service failed");
                cards.clear();
                let _ = events.send(CardEvent::ServiceFailed { error });
                let pause = Duration::from_millis(250)
                    .saturating_mul(failures)
                    .min(MAX_SERVICE_BACKOFF);
                match commands.recv_timeout(pause) {
                    Ok(Command::Shutdown) | Err(RecvTimeoutError::Disconnected) => return,
                    Ok(command) => execute(backend.as_mut(), &cards, command),
                    Err(RecvTimeoutError::Timeout) => {}
                }
            }
        }
    }
}

/// Which card is in which reader, as the forwarded events said.
#[derive(Default)]
struct CardsInReaders {
    by_reader: BTreeMap<String, Fingerprint>,
}

impl CardsInReaders {
    fn track(&mut self, event: &CardEvent) {
        match event {
            CardEvent::CardInserted {
                reader, identity, ..
            } => {
                self.by_reader.insert(reader.clone(), identity.fingerprint);
            }
            CardEvent::CardRemoved { reader }
            | CardEvent::ReaderRemoved { reader }
            | CardEvent::CardUnusable { reader, .. } => {
                self.by_reader.remove(reader);
            }
            CardEvent::ServiceFailed { .. } => self.clear(),
            CardEvent::ReaderAdded { .. }
            | CardEvent::CardReset { .. }
            | CardEvent::PinpadResult { .. } => {}
        }
    }

    fn clear(&mut self) {
        self.by_reader.clear();
    }

    fn reader_of(&self, card: &Fingerprint) -> Result<String, CardError> {
        self.by_reader
            .iter()
            .find(|(_, fingerprint)| *fingerprint == card)
            .map(|(reader, _)| reader.clone())
            .ok_or(CardError::NotPresent)
    }
}

fn execute(backend: &mut dyn CardBackend, cards: &CardsInReaders, command: Command) {
    // A dropped reply receiver means the caller gave up: nothing to do.
    match command {
        Command::VerifyPin { card, pin, reply } => {
            let result = cards
                .reader_of(&card)
                .and_then(|reader| backend.verify_pin(&reader, pin));
            let _ = reply.send(result);
        }
        Command::StartPinpad { card, reply } => {
            let result = cards
                .reader_of(&card)
                .and_then(|reader| backend.start_pinpad_verify(&reader));
            let _ = reply.send(result);
        }
        Command::Sign {
            card,
            algorithm,
            digest,
            reply,
        } => {
            let result = cards
                .reader_of(&card)
                .and_then(|reader| backend.sign(&reader, algorithm, &digest));
            let _ = reply.send(result);
        }
        Command::ResetSecurity { card, reply } => {
            let result = cards
                .reader_of(&card)
                .and_then(|reader| backend.reset_security_state(&reader));
            let _ = reply.send(result);
        }
        Command::Shutdown => {}
    }
}
