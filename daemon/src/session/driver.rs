//! The session task: owns the [`Machine`], the card handle and the
//! authenticator, feeds the machine card events, requests, operation
//! outcomes and timers, and carries out its effects. Card operations and
//! authentications run as their own tasks, so a removal or a lock is seen
//! while a signature or a platform call is under way.
//!
//! Timers run on tokio's clock: renewal (`renewal_lead` before the
//! assertion's NotOnOrAfter, or half-way when the assertion is shorter),
//! expiry, retry backoff, and the idle timeout counted from the last
//! [`SessionHandle::touch`].

use std::future::pending;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use dspconnect::ipc::protocol::{CardStatus, Event, LockReason, SessionInfo, SessionState};
use time::OffsetDateTime;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::time::{Instant, sleep_until};

use super::machine::{Effect, Input, Machine, OpId};
use super::{ActiveSession, Assertion, Authenticator, Matricule, Password, SessionError};
use crate::card::{
    CardEvent, CardEvents, CardHandle, CardSigner, Pin, PlatformKind, check_test_card,
};
use crate::outbox::Owner;

/// How the session behaves.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Lock after this long without [`SessionHandle::touch`] (60 min).
    pub idle_timeout: Duration,
    /// Renew the assertion this long before it expires (5 min).
    pub renewal_lead: Duration,
    /// First pause before retrying a failed authentication (10 s); it
    /// doubles up to `retry_max` (5 min).
    pub retry_initial: Duration,
    pub retry_max: Duration,
    /// The profile's kind, for the test-card guard.
    pub profile: PlatformKind,
    /// The sandbox's LuxTrust test CA certificates (DER), for the guard.
    pub test_ca_certificates: Vec<Vec<u8>>,
}

impl SessionConfig {
    /// The session of the configuration file's `[session]` settings, for a
    /// platform profile of kind `profile`.
    pub fn from_settings(settings: &crate::config::SessionConfig, profile: PlatformKind) -> Self {
        SessionConfig {
            idle_timeout: Duration::from_secs(u64::from(settings.idle_timeout_minutes) * 60),
            renewal_lead: Duration::from_secs(u64::from(settings.renew_before_expiry_seconds)),
            ..SessionConfig::new(profile)
        }
    }

    /// The defaults for a profile of `profile` kind.
    pub fn new(profile: PlatformKind) -> Self {
        SessionConfig {
            idle_timeout: Duration::from_secs(60 * 60),
            renewal_lead: Duration::from_secs(5 * 60),
            retry_initial: Duration::from_secs(10),
            retry_max: Duration::from_secs(5 * 60),
            profile,
            test_ca_certificates: Vec::new(),
        }
    }
}

type InfoReply = oneshot::Sender<Result<SessionInfo, SessionError>>;

enum Request {
    Unlock {
        pin: Pin,
        reply: InfoReply,
    },
    UnlockPinpad {
        reply: InfoReply,
    },
    Lock {
        reason: LockReason,
        reply: InfoReply,
    },
    PasswordLogin {
        matricule: Matricule,
        password: Password,
        reply: InfoReply,
    },
    CardSigner {
        reply: oneshot::Sender<Result<CardSigner, SessionError>>,
    },
}

/// The card and the session, as last published.
#[derive(Debug, Clone, PartialEq)]
struct Snapshot {
    card: CardStatus,
    session: SessionInfo,
}

/// The IPC layer's (and the tray's, the outbox's) way into the session.
/// Cheap to clone; the session task stops when the last handle is gone.
#[derive(Clone)]
pub struct SessionHandle {
    requests: mpsc::Sender<Request>,
    snapshot: watch::Receiver<Snapshot>,
    active: watch::Receiver<Option<ActiveSession>>,
    card_owner: watch::Receiver<Option<Owner>>,
    activity: Arc<Mutex<Instant>>,
    events: broadcast::Sender<Event>,
}

impl std::fmt::Debug for SessionHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionHandle")
            .field("state", &self.snapshot.borrow().session.state)
            .finish_non_exhaustive()
    }
}

/// Starts the session task (on the current tokio runtime) over a card
/// thread's handle and events.
/// Session and card changes are sent on `events` (and kept for
/// [`SessionHandle::status`]).
pub fn spawn_session<A: Authenticator>(
    card: CardHandle,
    card_events: CardEvents,
    authenticator: Arc<A>,
    config: SessionConfig,
    events: broadcast::Sender<Event>,
) -> SessionHandle {
    let machine = Machine::new();
    let snapshot = Snapshot {
        card: machine.card_status(),
        session: machine.session_info(),
    };
    let (snapshot_tx, snapshot_rx) = watch::channel(snapshot);
    let (active_tx, active_rx) = watch::channel(None);
    let (card_owner_tx, card_owner_rx) = watch::channel(None);
    let (request_tx, request_rx) = mpsc::channel(16);
    let (result_tx, result_rx) = mpsc::unbounded_channel();
    let activity = Arc::new(Mutex::new(Instant::now()));
    let driver = Driver {
        machine,
        card,
        authenticator,
        config,
        results: result_tx,
        unlock_waiters: Vec::new(),
        password_waiters: Vec::new(),
        pinpad_op: None,
        renew_at: None,
        expire_at: None,
        retry_at: None,
        deadlines_for: None,
        failures: 0,
        activity: activity.clone(),
        snapshot: snapshot_tx,
        active: active_tx,
        card_owner: card_owner_tx,
        events: events.clone(),
    };
    tokio::spawn(driver.run(request_rx, card_events, result_rx));
    SessionHandle {
        requests: request_tx,
        snapshot: snapshot_rx,
        active: active_rx,
        card_owner: card_owner_rx,
        activity,
        events,
    }
}

impl SessionHandle {
    /// Verifies the PIN (unless the card in the reader is already
    /// verified: the PIN is asked once per insertion) and authenticates.
    /// Answers when the session is open or the attempt failed; a wrong PIN
    /// reports the tries left.
    pub async fn unlock(&self, pin: Pin) -> Result<SessionInfo, SessionError> {
        self.touch();
        self.call(|reply| Request::Unlock { pin, reply }).await
    }

    /// Starts PIN entry on the reader's pinpad and answers as soon as the
    /// reader waits for the PIN (`PinpadPending`), without waiting for the
    /// user; the outcome comes as session events.
    pub async fn unlock_pinpad(&self) -> Result<SessionInfo, SessionError> {
        self.touch();
        self.call(|reply| Request::UnlockPinpad { reply }).await
    }

    /// Locks the session and makes the card forget its PIN verification;
    /// answers once the card has.
    pub async fn lock(&self, reason: LockReason) -> Result<SessionInfo, SessionError> {
        self.call(|reply| Request::Lock { reason, reply }).await
    }

    /// Opens a password session (limited access).
    pub async fn password_login(
        &self,
        matricule: Matricule,
        password: Password,
    ) -> Result<SessionInfo, SessionError> {
        self.touch();
        self.call(|reply| Request::PasswordLogin {
            matricule,
            password,
            reply,
        })
        .await
    }

    /// One signature by the card in the reader, whose PIN must be verified
    /// (the PIN is asked once per insertion): for requests signed by the
    /// card outside the session, such as account activation.
    pub async fn card_signer(&self) -> Result<CardSigner, SessionError> {
        self.touch();
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request::CardSigner { reply })
            .await
            .map_err(|_| SessionError::Stopped)?;
        answer.await.map_err(|_| SessionError::Stopped)?
    }

    /// The card and the session now.
    pub fn status(&self) -> (CardStatus, SessionInfo) {
        let snapshot = self.snapshot.borrow();
        (snapshot.card.clone(), snapshot.session.clone())
    }

    /// The open platform session, if any.
    pub fn current_session(&self) -> Option<ActiveSession> {
        self.active.borrow().clone()
    }

    /// The assertion to put in the headers of platform calls, if a session
    /// is open.
    pub fn current_assertion(&self) -> Option<Assertion> {
        self.active.borrow().as_ref().map(|s| s.assertion.clone())
    }

    /// Whom the open card session belongs to (eHealth id and card
    /// fingerprint): the owner of jobs queued now. `None` without a card
    /// session.
    pub fn owner(&self) -> Option<Owner> {
        self.active
            .borrow()
            .as_ref()
            .and_then(ActiveSession::outbox_owner)
    }

    /// The outbox scheduler's input: the card session's owner while one is
    /// open (`Authenticated` or `Expiring`), `None` otherwise; published
    /// again with each new assertion, so uploads that waited for a renewal
    /// resume.
    pub fn watch_owner(&self) -> watch::Receiver<Option<Owner>> {
        self.card_owner.clone()
    }

    /// Whether the open session may reach DSP documents (a card session).
    pub fn can_reach_documents(&self) -> bool {
        self.active
            .borrow()
            .as_ref()
            .is_some_and(ActiveSession::can_reach_documents)
    }

    /// The open session (card or password), as it changes.
    pub fn watch_session(&self) -> watch::Receiver<Option<ActiveSession>> {
        self.active.clone()
    }

    /// Card and session events from now on.
    pub fn subscribe_events(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// The user did something: the idle timeout starts again.
    pub fn touch(&self) {
        *self.activity.lock().unwrap_or_else(PoisonError::into_inner) = Instant::now();
    }

    async fn call(
        &self,
        request: impl FnOnce(InfoReply) -> Request,
    ) -> Result<SessionInfo, SessionError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(request(reply))
            .await
            .map_err(|_| SessionError::Stopped)?;
        answer.await.map_err(|_| SessionError::Stopped)?
    }
}

/// The secrets a request brought, used by at most one effect and dropped
/// (zeroized) when the request has been applied.
#[derive(Default)]
struct Secrets {
    pin: Option<Pin>,
    password: Option<(Matricule, Password)>,
}

enum Waiter {
    Unlock(InfoReply),
    Password(InfoReply),
    /// Answered once the card has forgotten its PIN verification.
    Lock(InfoReply),
}

struct Driver<A> {
    machine: Machine,
    card: CardHandle,
    authenticator: Arc<A>,
    config: SessionConfig,
    results: mpsc::UnboundedSender<Input>,
    unlock_waiters: Vec<InfoReply>,
    password_waiters: Vec<InfoReply>,
    /// The PIN check whose outcome the next pinpad result is.
    pinpad_op: Option<OpId>,
    renew_at: Option<Instant>,
    expire_at: Option<Instant>,
    retry_at: Option<Instant>,
    /// The assertion the renewal and expiry timers were set for.
    deadlines_for: Option<Assertion>,
    failures: u32,
    activity: Arc<Mutex<Instant>>,
    snapshot: watch::Sender<Snapshot>,
    active: watch::Sender<Option<ActiveSession>>,
    card_owner: watch::Sender<Option<Owner>>,
    events: broadcast::Sender<Event>,
}

async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => sleep_until(at).await,
        None => pending().await,
    }
}

impl<A: Authenticator> Driver<A> {
    async fn run(
        mut self,
        mut requests: mpsc::Receiver<Request>,
        mut card_events: CardEvents,
        mut results: mpsc::UnboundedReceiver<Input>,
    ) {
        let mut card_thread_alive = true;
        loop {
            let idle_at = self.idle_deadline();
            tokio::select! {
                request = requests.recv() => match request {
                    Some(request) => self.request(request),
                    None => break,
                },
                event = card_events.recv(), if card_thread_alive => match event {
                    Some(event) => self.card_event(event),
                    None => {
                        card_thread_alive = false;
                        tracing::error!("the card thread stopped; the card is no longer seen");
                        self.apply(Input::ServiceFailed, Secrets::default(), None);
                    }
                },
                Some(input) = results.recv() => self.apply(input, Secrets::default(), None),
                () = sleep_until_some(self.renew_at) => {
                    self.renew_at = None;
                    self.apply(Input::RenewalDue, Secrets::default(), None);
                }
                () = sleep_until_some(self.expire_at) => {
                    self.expire_at = None;
                    self.apply(Input::AssertionExpired, Secrets::default(), None);
                }
                () = sleep_until_some(self.retry_at) => {
                    self.retry_at = None;
                    self.apply(Input::RetryDue, Secrets::default(), None);
                }
                () = sleep_until_some(idle_at) => {
                    // A touch since the deadline was computed moves it on.
                    if self.idle_deadline().is_some_and(|at| at <= Instant::now()) {
                        tracing::info!("idle timeout: locking the session");
                        self.apply(Input::Lock(LockReason::IdleTimeout), Secrets::default(), None);
                    }
                }
            }
        }
        tracing::debug!("session task stopped");
    }

    fn idle_deadline(&self) -> Option<Instant> {
        let unlocked = matches!(
            self.machine.state(),
            SessionState::PinpadPending
                | SessionState::Unlocked
                | SessionState::Authenticated
                | SessionState::Expiring
                | SessionState::Expired
                | SessionState::Password
        );
        unlocked.then(|| {
            *self.activity.lock().unwrap_or_else(PoisonError::into_inner) + self.config.idle_timeout
        })
    }

    fn request(&mut self, request: Request) {
        match request {
            Request::Unlock { pin, reply } => {
                let secrets = Secrets {
                    pin: Some(pin),
                    password: None,
                };
                self.apply(Input::UnlockWithPin, secrets, Some(Waiter::Unlock(reply)));
            }
            Request::UnlockPinpad { reply } => {
                self.apply(
                    Input::UnlockWithPinpad,
                    Secrets::default(),
                    Some(Waiter::Unlock(reply)),
                );
            }
            Request::Lock { reason, reply } => {
                tracing::info!(?reason, "locking the session");
                self.apply(
                    Input::Lock(reason),
                    Secrets::default(),
                    Some(Waiter::Lock(reply)),
                );
            }
            Request::CardSigner { reply } => {
                let answer = match self.machine.verified_card() {
                    Some(identity) => Ok(CardSigner::new(self.card.clone(), identity)),
                    None if self.machine.card_status().card_present => {
                        Err(SessionError::PinNotVerified)
                    }
                    None => Err(SessionError::NoCard),
                };
                let _ = reply.send(answer);
            }
            Request::PasswordLogin {
                matricule,
                password,
                reply,
            } => {
                let secrets = Secrets {
                    pin: None,
                    password: Some((matricule, password)),
                };
                self.apply(Input::PasswordLogin, secrets, Some(Waiter::Password(reply)));
            }
        }
    }

    fn card_event(&mut self, event: CardEvent) {
        let input = match event {
            CardEvent::ReaderAdded { reader, pinpad } => Input::ReaderAdded { reader, pinpad },
            CardEvent::ReaderRemoved { reader } => Input::ReaderRemoved { reader },
            CardEvent::CardInserted {
                reader,
                identity,
                pin,
            } => {
                let refusal = identity
                    .check_validity(OffsetDateTime::now_utc())
                    .and_then(|()| {
                        check_test_card(
                            self.config.profile,
                            &self.config.test_ca_certificates,
                            &identity,
                        )
                    })
                    .err();
                if let Some(refusal) = &refusal {
                    tracing::warn!(%reader, %refusal, "the inserted card cannot be used");
                }
                Input::CardInserted {
                    reader,
                    identity,
                    pin,
                    refusal,
                }
            }
            CardEvent::CardUnusable { reader, error } => {
                tracing::warn!(%reader, %error, "a card that cannot be used is in the reader");
                let _ = self.events.send(Event::Notice {
                    message: format!("The card in '{reader}' cannot be used: {error}"),
                });
                return;
            }
            CardEvent::CardRemoved { reader } => Input::CardRemoved { reader },
            CardEvent::CardReset { reader } => Input::CardReset { reader },
            CardEvent::PinpadResult { outcome, .. } => Input::PinChecked {
                // No pinpad entry expected: op 0 is never issued, so the
                // machine treats the outcome as stale.
                op: self.pinpad_op.take().unwrap_or(0),
                outcome,
            },
            CardEvent::ServiceFailed { error } => {
                tracing::warn!(%error, "the card service failed");
                Input::ServiceFailed
            }
        };
        self.apply(input, Secrets::default(), None);
    }

    fn apply(&mut self, input: Input, mut secrets: Secrets, waiter: Option<Waiter>) {
        let effects = self.machine.apply(input);
        let mut answers: Vec<(InfoReply, Result<(), SessionError>)> = Vec::new();
        let mut waiter = waiter;
        for effect in effects {
            match effect {
                Effect::VerifyPin { op, card } => {
                    let handle = self.card.clone();
                    let results = self.results.clone();
                    let pin = secrets.pin.take();
                    tokio::spawn(async move {
                        let outcome = match pin {
                            Some(pin) => handle.verify_pin(card, pin).await,
                            None => Err(crate::card::CardError::Device {
                                message: "no PIN came with the request".to_owned(),
                            }),
                        };
                        let _ = results.send(Input::PinChecked { op, outcome });
                    });
                }
                Effect::StartPinpad { op, card } => {
                    self.pinpad_op = Some(op);
                    // The caller is answered once the reader waits for the
                    // PIN (so it can tell the user to type it there), or
                    // with the reason it could not start.
                    let reply = match waiter.take() {
                        Some(Waiter::Unlock(reply)) => Some(reply),
                        other => {
                            waiter = other;
                            None
                        }
                    };
                    let snapshot = self.snapshot.subscribe();
                    let handle = self.card.clone();
                    let results = self.results.clone();
                    tokio::spawn(async move {
                        let started = handle.start_pinpad_verify(card).await;
                        if let Err(error) = &started {
                            let _ = results.send(Input::PinChecked {
                                op,
                                outcome: Err(error.clone()),
                            });
                        }
                        if let Some(reply) = reply {
                            let answer = match started {
                                Ok(()) => Ok(snapshot.borrow().session.clone()),
                                Err(error) => Err(SessionError::Card(error)),
                            };
                            let _ = reply.send(answer);
                        }
                    });
                }
                Effect::AuthenticateWithCard { op, card } => {
                    tracing::info!(holder = %card.holder_name, "authenticating with the card");
                    let signer = CardSigner::new(self.card.clone(), card);
                    let authenticator = self.authenticator.clone();
                    let results = self.results.clone();
                    tokio::spawn(async move {
                        let outcome = authenticator.authenticate_with_card(signer).await;
                        let _ = results.send(Input::AuthDone { op, outcome });
                    });
                }
                Effect::AuthenticateWithPassword { op } => {
                    let authenticator = self.authenticator.clone();
                    let results = self.results.clone();
                    let credentials = secrets.password.take();
                    tokio::spawn(async move {
                        let outcome = match credentials {
                            Some((matricule, password)) => {
                                authenticator
                                    .authenticate_with_password(&matricule, password)
                                    .await
                            }
                            None => Err(super::AuthError::InvalidResponse {
                                reason: "no password came with the request".to_owned(),
                            }),
                        };
                        let _ = results.send(Input::AuthDone { op, outcome });
                    });
                }
                Effect::ResetCardSecurity { card } => {
                    let reply = match waiter.take() {
                        Some(Waiter::Lock(reply)) => Some(reply),
                        other => {
                            waiter = other;
                            None
                        }
                    };
                    // The answer is the state the lock made, taken now: the
                    // published snapshot is updated only after this loop, and
                    // the card may answer first (a race seen under load).
                    let locked = self.machine.session_info();
                    let handle = self.card.clone();
                    tokio::spawn(async move {
                        if let Err(error) = handle.reset_security_state(card).await {
                            // A card already gone has nothing to forget.
                            tracing::debug!(%error, "resetting the card's security state");
                        }
                        if let Some(reply) = reply {
                            let _ = reply.send(Ok(locked));
                        }
                    });
                }
                Effect::RetryLater => {
                    self.failures = self.failures.saturating_add(1);
                    let delay = self
                        .config
                        .retry_initial
                        .saturating_mul(1 << self.failures.saturating_sub(1).min(16))
                        .min(self.config.retry_max);
                    tracing::info!(?delay, "authentication failed; retrying later");
                    self.retry_at = Some(Instant::now() + delay);
                }
                Effect::Reply(result) => match waiter.take() {
                    Some(Waiter::Unlock(reply) | Waiter::Password(reply)) => {
                        answers.push((reply, result));
                    }
                    other => waiter = other,
                },
                Effect::UnlockDone(result) => {
                    for reply in self.unlock_waiters.drain(..) {
                        answers.push((reply, result.clone()));
                    }
                }
                Effect::PasswordLoginDone(result) => {
                    for reply in self.password_waiters.drain(..) {
                        answers.push((reply, result.clone()));
                    }
                }
            }
        }
        match waiter {
            Some(Waiter::Unlock(reply)) => self.unlock_waiters.push(reply),
            Some(Waiter::Password(reply)) => self.password_waiters.push(reply),
            // Nothing for the card to forget: answered with the new state.
            Some(Waiter::Lock(reply)) => answers.push((reply, Ok(()))),
            None => {}
        }
        // The PIN and the password, if unused, are zeroized here.
        drop(secrets);
        self.after_transition();
        let info = self.machine.session_info();
        for (reply, result) in answers {
            // A caller that gave up does not need the answer.
            let _ = reply.send(result.map(|()| info.clone()));
        }
    }

    fn after_transition(&mut self) {
        match self.machine.assertion() {
            None => {
                self.deadlines_for = None;
                self.renew_at = None;
                self.expire_at = None;
            }
            Some(assertion) if self.deadlines_for.as_ref() != Some(assertion) => {
                let now = Instant::now();
                let remaining = (assertion.not_on_or_after() - OffsetDateTime::now_utc())
                    .try_into()
                    .unwrap_or(Duration::ZERO);
                self.expire_at = Some(now + remaining);
                self.renew_at = (self.machine.state() != SessionState::Password)
                    .then(|| now + remaining - self.config.renewal_lead.min(remaining / 2));
                self.deadlines_for = Some(assertion.clone());
                self.failures = 0;
                self.retry_at = None;
            }
            Some(_) => {}
        }
        if !matches!(
            self.machine.state(),
            SessionState::Unlocked | SessionState::Expiring | SessionState::Expired
        ) {
            self.retry_at = None;
        }

        let snapshot = Snapshot {
            card: self.machine.card_status(),
            session: self.machine.session_info(),
        };
        // Status and the open session first, so that whoever reacts to an
        // event reads the state it announces.
        let previous = self.snapshot.send_replace(snapshot.clone());
        let active = self.machine.active_session();
        let owner = active.as_ref().and_then(ActiveSession::outbox_owner);
        let renewed = active.as_ref().map(|s| &s.assertion)
            != self.active.borrow().as_ref().map(|s| &s.assertion);
        self.active.send_if_modified(|current| {
            if *current != active {
                *current = active;
                true
            } else {
                false
            }
        });
        // Also when the owner stays the same but the assertion is new.
        if renewed || *self.card_owner.borrow() != owner {
            self.card_owner.send_replace(owner);
        }
        if snapshot.card != previous.card {
            let _ = self.events.send(Event::Card {
                card: snapshot.card,
            });
        }
        if snapshot.session != previous.session {
            tracing::info!(state = ?snapshot.session.state, "session");
            let _ = self.events.send(Event::Session {
                session: snapshot.session,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configuration_file_sets_the_timers() {
        let mut settings = crate::config::SessionConfig::default();
        let config = SessionConfig::from_settings(&settings, PlatformKind::Production);
        assert_eq!(config.idle_timeout, Duration::from_secs(60 * 60));
        assert_eq!(config.renewal_lead, Duration::from_secs(300));
        assert_eq!(config.profile, PlatformKind::Production);
        settings.idle_timeout_minutes = 15;
        settings.renew_before_expiry_seconds = 120;
        let config = SessionConfig::from_settings(&settings, PlatformKind::Sandbox);
        assert_eq!(config.idle_timeout, Duration::from_secs(15 * 60));
        assert_eq!(config.renewal_lead, Duration::from_secs(120));
    }
}
