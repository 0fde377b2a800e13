//! The session state machine, without I/O: [`Machine::apply`] takes an
//! [`Input`] (a card event, a request, the outcome of an operation, a
//! timer) and returns the [`Effect`]s the driver must carry out. The states
//! are exactly [`SessionState`]; the machine keeps beside it what decides
//! the next one (the card, its PIN counter, the owner, the assertion, the
//! operations under way).
//!
//! The rules (DESIGN.md "Session, identity and data at rest"):
//! - the PIN is verified once per card insertion; while the card stays in
//!   and verified, unlocking or renewing never sends VERIFY again;
//! - a blocked card is never sent VERIFY;
//! - card removal, an explicit lock, the idle timeout and the screen lock
//!   lock the session and reset the card's security state;
//! - a card reset by another program means "PIN needed" (`CardPresent`);
//! - a different card (another certificate fingerprint) ends the old
//!   session: its owner is forgotten and the card status says `swapped`;
//! - a failed renewal leaves the session `Expiring`, then `Expired` when
//!   the assertion runs out; retries go on while the card is usable;
//! - a password session is `Password`, with no access to documents; it
//!   cannot be renewed (the password is not kept), so it ends `Expired`.
//!
//! Choices the design left open: the session's own card put back after a
//! removal leaves the session `Locked` (the reason kept) until the PIN is
//! given; a card in a second reader waits until the session's card leaves;
//! an authentication refused for good (not retryable) is not retried until
//! the user unlocks again (which, the card being verified, costs a
//! signature and no PIN).
//!
//! Every operation carries an [`OpId`]; an outcome for an operation that
//! was cancelled or superseded (the card left, the session was locked) is
//! ignored — except a PIN verification that succeeded after all, which
//! is undone by resetting the card's security state.

use std::collections::BTreeMap;
use std::sync::Arc;

use dspconnect::ipc::protocol::{CardStatus, LockReason, Professional, SessionInfo, SessionState};
use time::format_description::well_known::Rfc3339;

use super::{ActiveSession, Assertion, AuthError, SessionError, SessionKind};
use crate::card::{CardError, CardIdentity, Fingerprint, PinOutcome, PinStatus};

/// Identifies one PIN verification or authentication.
pub type OpId = u64;

/// Something that happened.
#[derive(Debug, Clone)]
pub enum Input {
    ReaderAdded {
        reader: String,
        pinpad: bool,
    },
    ReaderRemoved {
        reader: String,
    },
    /// A card was inserted; `refusal` says why it cannot be used here
    /// (certificate expired or not yet valid, test card refused), as the
    /// driver found when it arrived.
    CardInserted {
        reader: String,
        identity: Arc<CardIdentity>,
        pin: PinStatus,
        refusal: Option<CardError>,
    },
    CardRemoved {
        reader: String,
    },
    /// Another program reset the card.
    CardReset {
        reader: String,
    },
    /// The card service failed: every reader and card is gone until it
    /// reports them again.
    ServiceFailed,
    /// The user gave the PIN.
    UnlockWithPin,
    /// The user asked for PIN entry on the reader's pinpad.
    UnlockWithPinpad,
    /// A VERIFY (or pinpad entry) finished.
    PinChecked {
        op: OpId,
        outcome: Result<PinOutcome, CardError>,
    },
    /// An authentication finished.
    AuthDone {
        op: OpId,
        outcome: Result<Assertion, AuthError>,
    },
    /// Time to renew the assertion.
    RenewalDue,
    /// Time to retry a failed authentication.
    RetryDue,
    /// The assertion's NotOnOrAfter has passed.
    AssertionExpired,
    Lock(LockReason),
    /// The user asked for a password session.
    PasswordLogin,
}

/// What the driver must do.
#[derive(Debug, Clone)]
pub enum Effect {
    /// Send VERIFY with the PIN the request carried, to this card.
    VerifyPin { op: OpId, card: Fingerprint },
    /// Start PIN entry on the pinpad of this card's reader.
    StartPinpad { op: OpId, card: Fingerprint },
    /// Authenticate with one signature of this card.
    AuthenticateWithCard { op: OpId, card: Arc<CardIdentity> },
    /// Authenticate with the matricule and password the request carried.
    AuthenticateWithPassword { op: OpId },
    /// Make this card forget its PIN verification.
    ResetCardSecurity { card: Fingerprint },
    /// Schedule [`Input::RetryDue`] after the next backoff delay.
    RetryLater,
    /// Answer the request being applied now.
    Reply(Result<(), SessionError>),
    /// Answer every unlock request still waiting.
    UnlockDone(Result<(), SessionError>),
    /// Answer every password-login request still waiting.
    PasswordLoginDone(Result<(), SessionError>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AuthKind {
    Card,
    Password,
}

#[derive(Debug, Clone)]
struct PresentCard {
    reader: String,
    identity: Arc<CardIdentity>,
    pin: PinStatus,
    refusal: Option<CardError>,
    verified: bool,
}

#[derive(Debug, Clone)]
enum SessionOwner {
    Card(Arc<CardIdentity>),
    Password(Professional),
}

impl SessionOwner {
    fn professional(&self) -> Professional {
        match self {
            SessionOwner::Card(identity) => identity.professional(),
            SessionOwner::Password(professional) => professional.clone(),
        }
    }

    fn certificate_fingerprint(&self) -> Option<Fingerprint> {
        match self {
            SessionOwner::Card(identity) => Some(identity.fingerprint),
            SessionOwner::Password(_) => None,
        }
    }
}

/// The session's state and what decides its next one.
#[derive(Debug, Clone)]
pub struct Machine {
    state: SessionState,
    lock_reason: Option<LockReason>,
    /// Reader name → has a pinpad.
    readers: BTreeMap<String, bool>,
    card: Option<PresentCard>,
    /// Cards in other readers, by reader: the session takes the first of
    /// them when its card leaves.
    waiting_cards: BTreeMap<String, PresentCard>,
    swapped: bool,
    owner: Option<SessionOwner>,
    assertion: Option<Assertion>,
    pending_pin: Option<OpId>,
    pending_auth: Option<(OpId, AuthKind)>,
    next_op: OpId,
}

impl Default for Machine {
    fn default() -> Self {
        Self::new()
    }
}

impl Machine {
    /// No reader, no card, no session.
    pub fn new() -> Self {
        Machine {
            state: SessionState::NoCard,
            lock_reason: None,
            readers: BTreeMap::new(),
            card: None,
            waiting_cards: BTreeMap::new(),
            swapped: false,
            owner: None,
            assertion: None,
            pending_pin: None,
            pending_auth: None,
            next_op: 1,
        }
    }

    pub fn state(&self) -> SessionState {
        self.state
    }

    /// The assertion of the open session, if any.
    pub fn assertion(&self) -> Option<&Assertion> {
        self.assertion.as_ref()
    }

    /// Applies `input` and returns what to do.
    pub fn apply(&mut self, input: Input) -> Vec<Effect> {
        let mut effects = Vec::new();
        let fx = &mut effects;
        match input {
            Input::ReaderAdded { reader, pinpad } => {
                self.readers.insert(reader, pinpad);
            }
            Input::ReaderRemoved { reader } => {
                self.readers.remove(&reader);
                self.waiting_cards.remove(&reader);
                if self.card_is_in(&reader) {
                    self.card_gone(fx);
                    self.take_waiting_card();
                }
            }
            Input::ServiceFailed => {
                self.readers.clear();
                self.waiting_cards.clear();
                if self.card.is_some() {
                    self.card_gone(fx);
                }
            }
            Input::CardInserted {
                reader,
                identity,
                pin,
                refusal,
            } => {
                if let Some(current) = &self.card {
                    if current.reader != reader {
                        // The session follows one card; another one in a
                        // second reader waits until this one leaves.
                        self.waiting_cards.insert(
                            reader.clone(),
                            PresentCard {
                                reader,
                                identity,
                                pin,
                                refusal,
                                verified: false,
                            },
                        );
                        return effects;
                    }
                    // A new card in the same reader without a removal
                    // seen in between: the old one is gone.
                    self.card_gone(fx);
                }
                self.card_arrived(reader, identity, pin, refusal);
            }
            Input::CardRemoved { reader } => {
                self.waiting_cards.remove(&reader);
                if self.card_is_in(&reader) {
                    self.card_gone(fx);
                    self.take_waiting_card();
                }
            }
            Input::CardReset { reader } => {
                if self.card_is_in(&reader) {
                    self.card_reset(fx);
                }
            }
            Input::UnlockWithPin => self.unlock(false, fx),
            Input::UnlockWithPinpad => self.unlock(true, fx),
            Input::PinChecked { op, outcome } => self.pin_checked(op, outcome, fx),
            Input::AuthDone { op, outcome } => self.auth_done(op, outcome, fx),
            Input::RenewalDue => {
                if self.state == SessionState::Authenticated && self.pending_auth.is_none() {
                    self.start_card_auth(fx);
                }
            }
            Input::RetryDue => {
                let retrying = matches!(
                    self.state,
                    SessionState::Unlocked | SessionState::Expiring | SessionState::Expired
                );
                if retrying && self.pending_auth.is_none() && self.card_verified() {
                    self.start_card_auth(fx);
                }
            }
            Input::AssertionExpired => {
                let renewing = self.state == SessionState::Authenticated;
                if matches!(
                    self.state,
                    SessionState::Authenticated | SessionState::Expiring | SessionState::Password
                ) {
                    self.assertion = None;
                    self.state = SessionState::Expired;
                }
                // Expired without a renewal having been tried (an assertion
                // shorter than the renewal lead, a clock jump): try now.
                // After a failed renewal, its retries go on by themselves.
                if renewing && self.pending_auth.is_none() && self.card_verified() {
                    self.start_card_auth(fx);
                }
            }
            Input::Lock(reason) => self.lock(reason, fx),
            Input::PasswordLogin => self.password_login(fx),
        }
        effects
    }

    fn op(&mut self) -> OpId {
        let op = self.next_op;
        self.next_op += 1;
        op
    }

    fn card_is_in(&self, reader: &str) -> bool {
        self.card.as_ref().is_some_and(|c| c.reader == reader)
    }

    /// The card in the reader, when its PIN is verified: it can sign for
    /// something other than the session (account activation).
    pub fn verified_card(&self) -> Option<Arc<CardIdentity>> {
        self.card
            .as_ref()
            .filter(|c| c.verified)
            .map(|c| c.identity.clone())
    }

    fn card_verified(&self) -> bool {
        self.card.as_ref().is_some_and(|c| c.verified)
    }

    fn has_password_session(&self) -> bool {
        matches!(self.owner, Some(SessionOwner::Password(_))) && self.assertion.is_some()
    }

    /// The state when nothing is being verified or authenticated, from
    /// what the machine knows.
    fn rest(&self) -> SessionState {
        if self.has_password_session() {
            return SessionState::Password;
        }
        let locked = self.owner.is_some()
            && self
                .lock_reason
                .is_some_and(|reason| reason != LockReason::CardReset);
        match &self.card {
            Some(card) if card.pin.blocked => SessionState::Blocked,
            Some(_) if locked => SessionState::Locked,
            Some(_) => SessionState::CardPresent,
            None if matches!(self.owner, Some(SessionOwner::Card(_))) || locked => {
                SessionState::Locked
            }
            None => SessionState::NoCard,
        }
    }

    fn cancel_pin(&mut self, fx: &mut Vec<Effect>, why: SessionError) {
        if self.pending_pin.take().is_some() {
            fx.push(Effect::UnlockDone(Err(why)));
        }
    }

    fn cancel_card_auth(&mut self, fx: &mut Vec<Effect>, why: SessionError) {
        if let Some((_, AuthKind::Card)) = self.pending_auth {
            self.pending_auth = None;
            fx.push(Effect::UnlockDone(Err(why)));
        }
    }

    fn cancel_password_auth(&mut self, fx: &mut Vec<Effect>, why: SessionError) {
        if let Some((_, AuthKind::Password)) = self.pending_auth {
            self.pending_auth = None;
            fx.push(Effect::PasswordLoginDone(Err(why)));
        }
    }

    fn card_gone(&mut self, fx: &mut Vec<Effect>) {
        self.card = None;
        self.swapped = false;
        self.cancel_pin(fx, SessionError::CardRemoved);
        self.cancel_card_auth(fx, SessionError::CardRemoved);
        if matches!(self.owner, Some(SessionOwner::Card(_))) {
            self.assertion = None;
            self.lock_reason = Some(LockReason::CardRemoved);
            self.state = SessionState::Locked;
        } else {
            self.state = self.rest();
        }
    }

    /// After the session's card left: a card waiting in another reader
    /// arrives now.
    fn take_waiting_card(&mut self) {
        if let Some(reader) = self.waiting_cards.keys().next().cloned()
            && let Some(card) = self.waiting_cards.remove(&reader)
        {
            self.card_arrived(card.reader, card.identity, card.pin, card.refusal);
        }
    }

    fn card_arrived(
        &mut self,
        reader: String,
        identity: Arc<CardIdentity>,
        pin: PinStatus,
        refusal: Option<CardError>,
    ) {
        let swapped = matches!(
            &self.owner,
            Some(SessionOwner::Card(owner)) if owner.fingerprint != identity.fingerprint
        );
        if swapped {
            // Another professional's card: the old session ends here. Its
            // queued jobs wait for their own card (the outbox knows whose
            // they are).
            self.owner = None;
            self.assertion = None;
            self.lock_reason = None;
        }
        self.swapped = swapped;
        self.card = Some(PresentCard {
            reader,
            identity,
            pin,
            refusal,
            verified: false,
        });
        self.state = self.rest();
    }

    fn card_reset(&mut self, fx: &mut Vec<Effect>) {
        if let Some(card) = &mut self.card {
            card.verified = false;
        }
        self.cancel_pin(fx, SessionError::Card(CardError::PinRequired));
        self.cancel_card_auth(fx, SessionError::Card(CardError::PinRequired));
        if matches!(
            self.state,
            SessionState::PinpadPending
                | SessionState::Unlocked
                | SessionState::Authenticated
                | SessionState::Expiring
                | SessionState::Expired
        ) {
            if matches!(self.owner, Some(SessionOwner::Card(_))) {
                self.assertion = None;
                self.lock_reason = Some(LockReason::CardReset);
            }
            self.state = self.rest();
        }
    }

    fn unlock(&mut self, pinpad: bool, fx: &mut Vec<Effect>) {
        if self.pending_pin.is_some() || matches!(self.pending_auth, Some((_, AuthKind::Password)))
        {
            let busy = if self.state == SessionState::PinpadPending {
                SessionError::PinpadPending
            } else {
                SessionError::Busy
            };
            fx.push(Effect::Reply(Err(busy)));
            return;
        }
        let Some(card) = &self.card else {
            fx.push(Effect::Reply(Err(SessionError::NoCard)));
            return;
        };
        if card.verified {
            // PIN once per insertion: the card is verified, so only the
            // platform session may be missing.
            match self.state {
                SessionState::Unlocked | SessionState::Expired => {
                    if self.pending_auth.is_none() {
                        self.start_card_auth(fx);
                    }
                }
                _ => fx.push(Effect::Reply(Ok(()))),
            }
            return;
        }
        if let Some(refusal) = &card.refusal {
            fx.push(Effect::Reply(Err(SessionError::Card(refusal.clone()))));
            return;
        }
        if card.pin.blocked {
            fx.push(Effect::Reply(Err(SessionError::Card(CardError::Blocked))));
            return;
        }
        let fingerprint = card.identity.fingerprint;
        if pinpad {
            let has_pinpad = self.readers.get(&card.reader).copied().unwrap_or(false);
            if !has_pinpad {
                fx.push(Effect::Reply(Err(SessionError::Card(
                    CardError::PinpadUnavailable,
                ))));
                return;
            }
            let op = self.op();
            self.pending_pin = Some(op);
            self.state = SessionState::PinpadPending;
            fx.push(Effect::StartPinpad {
                op,
                card: fingerprint,
            });
            fx.push(Effect::Reply(Ok(())));
        } else {
            let op = self.op();
            self.pending_pin = Some(op);
            fx.push(Effect::VerifyPin {
                op,
                card: fingerprint,
            });
        }
    }

    fn pin_checked(
        &mut self,
        op: OpId,
        outcome: Result<PinOutcome, CardError>,
        fx: &mut Vec<Effect>,
    ) {
        if self.pending_pin != Some(op) {
            // Cancelled: a verification that succeeded anyway is undone.
            if let (Ok(PinOutcome::Verified), Some(card)) = (&outcome, &self.card)
                && !card.verified
            {
                fx.push(Effect::ResetCardSecurity {
                    card: card.identity.fingerprint,
                });
            }
            return;
        }
        self.pending_pin = None;
        let Some(card) = &mut self.card else {
            return;
        };
        match outcome {
            Ok(PinOutcome::Verified) => {
                card.verified = true;
                card.pin = PinStatus::default();
                let identity = card.identity.clone();
                self.swapped = false;
                self.owner = Some(SessionOwner::Card(identity));
                self.assertion = None;
                self.lock_reason = None;
                self.state = SessionState::Unlocked;
                self.start_card_auth(fx);
            }
            Ok(PinOutcome::Wrong { tries_left }) => {
                card.verified = false;
                card.pin = PinStatus {
                    tries_left: Some(tries_left),
                    blocked: false,
                };
                self.state = self.rest();
                fx.push(Effect::UnlockDone(Err(SessionError::Card(
                    CardError::WrongPin { tries_left },
                ))));
            }
            Ok(PinOutcome::Blocked) => {
                card.verified = false;
                card.pin = PinStatus {
                    tries_left: Some(0),
                    blocked: true,
                };
                self.state = self.rest();
                fx.push(Effect::UnlockDone(Err(SessionError::Card(
                    CardError::Blocked,
                ))));
            }
            Err(error) => {
                card.verified = false;
                self.state = self.rest();
                fx.push(Effect::UnlockDone(Err(SessionError::Card(error))));
            }
        }
    }

    fn start_card_auth(&mut self, fx: &mut Vec<Effect>) {
        let Some(card) = &self.card else {
            return;
        };
        let identity = card.identity.clone();
        let op = self.op();
        self.pending_auth = Some((op, AuthKind::Card));
        fx.push(Effect::AuthenticateWithCard { op, card: identity });
    }

    fn auth_done(&mut self, op: OpId, outcome: Result<Assertion, AuthError>, fx: &mut Vec<Effect>) {
        let Some((pending, kind)) = self.pending_auth else {
            return;
        };
        if pending != op {
            return;
        }
        self.pending_auth = None;
        match kind {
            AuthKind::Card => {
                let outcome = outcome.and_then(|assertion| self.check_subject(assertion));
                match outcome {
                    Ok(assertion) => {
                        self.assertion = Some(assertion);
                        self.lock_reason = None;
                        self.state = SessionState::Authenticated;
                        fx.push(Effect::UnlockDone(Ok(())));
                    }
                    Err(error) => self.card_auth_failed(error, fx),
                }
            }
            AuthKind::Password => match outcome {
                Ok(assertion) => {
                    let ehealth_id = assertion.subject_ehealth_id().to_owned();
                    let name = assertion.subject_name().unwrap_or(&ehealth_id).to_owned();
                    self.owner = Some(SessionOwner::Password(Professional {
                        ehealth_id,
                        name,
                        profession: None,
                        specialty: None,
                    }));
                    self.assertion = Some(assertion);
                    self.lock_reason = None;
                    self.state = SessionState::Password;
                    fx.push(Effect::PasswordLoginDone(Ok(())));
                }
                Err(error) => fx.push(Effect::PasswordLoginDone(Err(SessionError::Auth(error)))),
            },
        }
    }

    /// The platform must have authenticated the card's holder.
    fn check_subject(&self, assertion: Assertion) -> Result<Assertion, AuthError> {
        match &self.owner {
            Some(SessionOwner::Card(identity))
                if identity.ehealth_id != assertion.subject_ehealth_id() =>
            {
                Err(AuthError::WrongSubject {
                    expected: identity.ehealth_id.clone(),
                    got: assertion.subject_ehealth_id().to_owned(),
                })
            }
            _ => Ok(assertion),
        }
    }

    fn card_auth_failed(&mut self, error: AuthError, fx: &mut Vec<Effect>) {
        match &error {
            AuthError::Card(CardError::PinRequired) => {
                if let Some(card) = &mut self.card {
                    card.verified = false;
                }
                self.assertion = None;
                self.lock_reason = Some(LockReason::CardReset);
                self.state = self.rest();
            }
            // The removal event follows and locks the session.
            AuthError::Card(CardError::Removed | CardError::NotPresent) => {}
            _ => {
                if self.state == SessionState::Authenticated {
                    self.state = SessionState::Expiring;
                }
                if error.is_retryable() {
                    fx.push(Effect::RetryLater);
                }
            }
        }
        fx.push(Effect::UnlockDone(Err(SessionError::Auth(error))));
    }

    fn lock(&mut self, reason: LockReason, fx: &mut Vec<Effect>) {
        let why = SessionError::Locked { reason };
        let verifying = self.pending_pin.is_some();
        self.cancel_pin(fx, why.clone());
        self.cancel_password_auth(fx, why.clone());
        let unlocked = matches!(
            self.state,
            SessionState::PinpadPending
                | SessionState::Unlocked
                | SessionState::Authenticated
                | SessionState::Expiring
                | SessionState::Expired
                | SessionState::Password
        );
        if unlocked {
            self.cancel_card_auth(fx, why);
            self.assertion = None;
            self.lock_reason = Some(reason);
            self.state = SessionState::Locked;
        }
        if let Some(card) = &mut self.card
            && (card.verified || verifying)
        {
            card.verified = false;
            fx.push(Effect::ResetCardSecurity {
                card: card.identity.fingerprint,
            });
        }
    }

    fn password_login(&mut self, fx: &mut Vec<Effect>) {
        if self.pending_pin.is_some() || self.pending_auth.is_some() {
            let busy = if self.state == SessionState::PinpadPending {
                SessionError::PinpadPending
            } else {
                SessionError::Busy
            };
            fx.push(Effect::Reply(Err(busy)));
            return;
        }
        if self.card_verified() {
            fx.push(Effect::Reply(Err(SessionError::CardSessionOpen)));
            return;
        }
        let op = self.op();
        self.pending_auth = Some((op, AuthKind::Password));
        fx.push(Effect::AuthenticateWithPassword { op });
    }

    /// The session as callers see it.
    pub fn session_info(&self) -> SessionInfo {
        let lock_reason = match self.state {
            SessionState::Locked | SessionState::CardPresent => self.lock_reason,
            _ => None,
        };
        SessionInfo {
            state: self.state,
            lock_reason,
            professional: self.owner.as_ref().map(SessionOwner::professional),
            expires_at: self
                .assertion
                .as_ref()
                .and_then(|a| a.not_on_or_after().format(&Rfc3339).ok()),
        }
    }

    /// The card as callers see it.
    pub fn card_status(&self) -> CardStatus {
        let reader = match &self.card {
            Some(card) => Some(card.reader.clone()),
            None => self.readers.keys().next().cloned(),
        };
        let pinpad = reader
            .as_ref()
            .and_then(|r| self.readers.get(r))
            .copied()
            .unwrap_or(false);
        let card = self.card.as_ref();
        CardStatus {
            reader_present: !self.readers.is_empty(),
            card_present: card.is_some(),
            reader,
            pinpad,
            pin_tries_left: card.and_then(|c| c.pin.tries_left),
            blocked: card.is_some_and(|c| c.pin.blocked),
            swapped: self.swapped,
            holder: card.map(|c| c.identity.professional()),
            certificate_fingerprint: card.map(|c| c.identity.fingerprint.to_string()),
            certificate_not_after: card.and_then(|c| c.identity.not_after.format(&Rfc3339).ok()),
        }
    }

    /// The open platform session, if any: a card session while
    /// `Authenticated` or `Expiring`, a password session while `Password`.
    pub fn active_session(&self) -> Option<ActiveSession> {
        let kind = match (self.state, &self.owner) {
            (SessionState::Authenticated | SessionState::Expiring, Some(SessionOwner::Card(_))) => {
                SessionKind::Card
            }
            (SessionState::Password, Some(SessionOwner::Password(_))) => SessionKind::Password,
            _ => return None,
        };
        let owner = self.owner.as_ref()?;
        Some(ActiveSession {
            professional: owner.professional(),
            certificate_fingerprint: owner.certificate_fingerprint(),
            kind,
            assertion: self.assertion.clone()?,
        })
    }
}

#[cfg(test)]
mod tests;
