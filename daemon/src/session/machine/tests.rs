//! The transition table: every state × every input, with the state reached
//! and the effects asked for; then the finer points (what is answered, who
//! owns the session, stale outcomes, swapped cards).

use std::sync::{Arc, LazyLock};

use dspconnect::ipc::protocol::{LockReason, SessionState as S};
use ihe::saml::{AssertionSpec, NameId, SamlAttribute};
use ihe::xml::NsScope;
use time::{Duration, OffsetDateTime};

use super::*;
use crate::card::test_certificates::identity;

static CARD_A: LazyLock<Arc<CardIdentity>> =
    LazyLock::new(|| identity("Dr Anne Muller", "2854201475"));
static CARD_B: LazyLock<Arc<CardIdentity>> =
    LazyLock::new(|| identity("Dr Bernard Weber", "1970031512"));
const R1: &str = "Reader 1";
const R2: &str = "Reader 2";
const PASSWORD_USER: &str = "1980010100123";

fn assertion_for(subject: &str) -> Assertion {
    let now = OffsetDateTime::now_utc();
    let spec = AssertionSpec {
        id: format!("_a-{}", uuid::Uuid::new_v4()),
        issue_instant: now,
        issuer: "https://idp.sandbox.example".into(),
        subject: NameId {
            value: subject.into(),
            format: None,
        },
        not_before: now - Duration::minutes(1),
        not_on_or_after: now + Duration::hours(1),
        audience: None,
        authn_instant: now,
        authn_context_class: ihe::saml::AUTHN_CONTEXT_X509.into(),
        session_index: None,
        attributes: vec![SamlAttribute::single(
            super::super::assertion::XSPA_SUBJECT_ID,
            "Dr Paul Password",
        )],
    };
    let saml =
        ihe::saml::Assertion::from_element(&spec.to_unsigned_element(), &NsScope::new()).unwrap();
    Assertion::new(saml).unwrap()
}

fn present(identity: &Arc<CardIdentity>, verified: bool, blocked: bool) -> PresentCard {
    PresentCard {
        reader: R1.into(),
        identity: identity.clone(),
        pin: PinStatus {
            tries_left: blocked.then_some(0),
            blocked,
        },
        refusal: None,
        verified,
    }
}

/// A machine in `state`, as described in the table's header. Every
/// pending operation has id 1; the next id is 2.
fn in_state(state: S) -> Machine {
    let mut m = Machine::new();
    m.readers.insert(R1.into(), state == S::PinpadPending);
    let a = &*CARD_A;
    match state {
        S::NoCard => {}
        S::CardPresent => m.card = Some(present(a, false, false)),
        S::PinpadPending => {
            m.card = Some(present(a, false, false));
            m.pending_pin = Some(1);
        }
        S::Unlocked => {
            m.card = Some(present(a, true, false));
            m.owner = Some(SessionOwner::Card(a.clone()));
            m.pending_auth = Some((1, AuthKind::Card));
        }
        S::Authenticated | S::Expiring => {
            m.card = Some(present(a, true, false));
            m.owner = Some(SessionOwner::Card(a.clone()));
            m.assertion = Some(assertion_for(&a.ehealth_id));
        }
        S::Locked => {
            m.owner = Some(SessionOwner::Card(a.clone()));
            m.lock_reason = Some(LockReason::CardRemoved);
        }
        S::Expired => {
            m.card = Some(present(a, true, false));
            m.owner = Some(SessionOwner::Card(a.clone()));
        }
        S::Blocked => m.card = Some(present(a, false, true)),
        S::Password => {
            let assertion = assertion_for(PASSWORD_USER);
            m.owner = Some(SessionOwner::Password(Professional {
                ehealth_id: PASSWORD_USER.into(),
                name: "Dr Paul Password".into(),
                profession: None,
                specialty: None,
            }));
            m.assertion = Some(assertion);
        }
    }
    m.state = state;
    m.next_op = 2;
    m
}

const STATES: [S; 10] = [
    S::NoCard,
    S::CardPresent,
    S::PinpadPending,
    S::Unlocked,
    S::Authenticated,
    S::Expiring,
    S::Locked,
    S::Expired,
    S::Blocked,
    S::Password,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum K {
    ReaderAdded,
    ReaderRemoved,
    InsertSameCard,
    InsertOtherCard,
    CardRemoved,
    CardReset,
    UnlockWithPin,
    UnlockWithPinpad,
    PinVerified,
    PinWrong,
    PinBlocked,
    PinFailed,
    AuthOk,
    AuthFailedRetryable,
    AuthPinRequired,
    RenewalDue,
    RetryDue,
    AssertionExpired,
    Lock,
    PasswordLogin,
}

const INPUTS: [K; 20] = [
    K::ReaderAdded,
    K::ReaderRemoved,
    K::InsertSameCard,
    K::InsertOtherCard,
    K::CardRemoved,
    K::CardReset,
    K::UnlockWithPin,
    K::UnlockWithPinpad,
    K::PinVerified,
    K::PinWrong,
    K::PinBlocked,
    K::PinFailed,
    K::AuthOk,
    K::AuthFailedRetryable,
    K::AuthPinRequired,
    K::RenewalDue,
    K::RetryDue,
    K::AssertionExpired,
    K::Lock,
    K::PasswordLogin,
];

fn input(kind: K) -> Input {
    let inserted = |identity: &Arc<CardIdentity>| Input::CardInserted {
        reader: R1.into(),
        identity: identity.clone(),
        pin: PinStatus {
            tries_left: Some(3),
            blocked: false,
        },
        refusal: None,
    };
    let pin = |outcome| Input::PinChecked { op: 1, outcome };
    let auth = |outcome| Input::AuthDone { op: 1, outcome };
    match kind {
        K::ReaderAdded => Input::ReaderAdded {
            reader: R2.into(),
            pinpad: false,
        },
        K::ReaderRemoved => Input::ReaderRemoved { reader: R1.into() },
        K::InsertSameCard => inserted(&CARD_A),
        K::InsertOtherCard => inserted(&CARD_B),
        K::CardRemoved => Input::CardRemoved { reader: R1.into() },
        K::CardReset => Input::CardReset { reader: R1.into() },
        K::UnlockWithPin => Input::UnlockWithPin,
        K::UnlockWithPinpad => Input::UnlockWithPinpad,
        K::PinVerified => pin(Ok(PinOutcome::Verified)),
        K::PinWrong => pin(Ok(PinOutcome::Wrong { tries_left: 2 })),
        K::PinBlocked => pin(Ok(PinOutcome::Blocked)),
        K::PinFailed => pin(Err(CardError::Removed)),
        K::AuthOk => auth(Ok(assertion_for(&CARD_A.ehealth_id))),
        K::AuthFailedRetryable => auth(Err(AuthError::Unreachable {
            reason: "connection refused".into(),
        })),
        K::AuthPinRequired => auth(Err(AuthError::Card(CardError::PinRequired))),
        K::RenewalDue => Input::RenewalDue,
        K::RetryDue => Input::RetryDue,
        K::AssertionExpired => Input::AssertionExpired,
        K::Lock => Input::Lock(LockReason::Explicit),
        K::PasswordLogin => Input::PasswordLogin,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum E {
    VerifyPin,
    StartPinpad,
    AuthCard,
    AuthPassword,
    Reset,
    RetryLater,
    Reply,
    UnlockDone,
    PasswordDone,
}

fn kind_of(effect: &Effect) -> E {
    match effect {
        Effect::VerifyPin { .. } => E::VerifyPin,
        Effect::StartPinpad { .. } => E::StartPinpad,
        Effect::AuthenticateWithCard { .. } => E::AuthCard,
        Effect::AuthenticateWithPassword { .. } => E::AuthPassword,
        Effect::ResetCardSecurity { .. } => E::Reset,
        Effect::RetryLater => E::RetryLater,
        Effect::Reply(_) => E::Reply,
        Effect::UnlockDone(_) => E::UnlockDone,
        Effect::PasswordLoginDone(_) => E::PasswordDone,
    }
}

type Row = (S, K, S, &'static [E]);

/// State fixtures (see `in_state`): reader R1 (a pinpad only in
/// PinpadPending); card A in R1 except in NoCard, Locked (removed) and
/// Password; A verified in Unlocked, Authenticated, Expiring, Expired;
/// A blocked in Blocked; owner A from Unlocked to Expired; a pending PIN
/// check (PinpadPending) or card authentication (Unlocked) with id 1.
#[rustfmt::skip]
const TABLE: &[Row] = &[
    // A second reader appears: nothing changes.
    (S::NoCard, K::ReaderAdded, S::NoCard, &[]),
    (S::CardPresent, K::ReaderAdded, S::CardPresent, &[]),
    (S::PinpadPending, K::ReaderAdded, S::PinpadPending, &[]),
    (S::Unlocked, K::ReaderAdded, S::Unlocked, &[]),
    (S::Authenticated, K::ReaderAdded, S::Authenticated, &[]),
    (S::Expiring, K::ReaderAdded, S::Expiring, &[]),
    (S::Locked, K::ReaderAdded, S::Locked, &[]),
    (S::Expired, K::ReaderAdded, S::Expired, &[]),
    (S::Blocked, K::ReaderAdded, S::Blocked, &[]),
    (S::Password, K::ReaderAdded, S::Password, &[]),
    // The card's reader is unplugged: as a removal.
    (S::NoCard, K::ReaderRemoved, S::NoCard, &[]),
    (S::CardPresent, K::ReaderRemoved, S::NoCard, &[]),
    (S::PinpadPending, K::ReaderRemoved, S::NoCard, &[E::UnlockDone]),
    (S::Unlocked, K::ReaderRemoved, S::Locked, &[E::UnlockDone]),
    (S::Authenticated, K::ReaderRemoved, S::Locked, &[]),
    (S::Expiring, K::ReaderRemoved, S::Locked, &[]),
    (S::Locked, K::ReaderRemoved, S::Locked, &[]),
    (S::Expired, K::ReaderRemoved, S::Locked, &[]),
    (S::Blocked, K::ReaderRemoved, S::NoCard, &[]),
    (S::Password, K::ReaderRemoved, S::Password, &[]),
    // Card A (re)inserted in R1: a session of A stays locked, PIN needed.
    (S::NoCard, K::InsertSameCard, S::CardPresent, &[]),
    (S::CardPresent, K::InsertSameCard, S::CardPresent, &[]),
    (S::PinpadPending, K::InsertSameCard, S::CardPresent, &[E::UnlockDone]),
    (S::Unlocked, K::InsertSameCard, S::Locked, &[E::UnlockDone]),
    (S::Authenticated, K::InsertSameCard, S::Locked, &[]),
    (S::Expiring, K::InsertSameCard, S::Locked, &[]),
    (S::Locked, K::InsertSameCard, S::Locked, &[]),
    (S::Expired, K::InsertSameCard, S::Locked, &[]),
    (S::Blocked, K::InsertSameCard, S::CardPresent, &[]),
    (S::Password, K::InsertSameCard, S::Password, &[]),
    // Card B inserted in R1: A's session ends (swapped).
    (S::NoCard, K::InsertOtherCard, S::CardPresent, &[]),
    (S::CardPresent, K::InsertOtherCard, S::CardPresent, &[]),
    (S::PinpadPending, K::InsertOtherCard, S::CardPresent, &[E::UnlockDone]),
    (S::Unlocked, K::InsertOtherCard, S::CardPresent, &[E::UnlockDone]),
    (S::Authenticated, K::InsertOtherCard, S::CardPresent, &[]),
    (S::Expiring, K::InsertOtherCard, S::CardPresent, &[]),
    (S::Locked, K::InsertOtherCard, S::CardPresent, &[]),
    (S::Expired, K::InsertOtherCard, S::CardPresent, &[]),
    (S::Blocked, K::InsertOtherCard, S::CardPresent, &[]),
    (S::Password, K::InsertOtherCard, S::Password, &[]),
    // Card removed: a session locks; a password session is not the card's.
    (S::NoCard, K::CardRemoved, S::NoCard, &[]),
    (S::CardPresent, K::CardRemoved, S::NoCard, &[]),
    (S::PinpadPending, K::CardRemoved, S::NoCard, &[E::UnlockDone]),
    (S::Unlocked, K::CardRemoved, S::Locked, &[E::UnlockDone]),
    (S::Authenticated, K::CardRemoved, S::Locked, &[]),
    (S::Expiring, K::CardRemoved, S::Locked, &[]),
    (S::Locked, K::CardRemoved, S::Locked, &[]),
    (S::Expired, K::CardRemoved, S::Locked, &[]),
    (S::Blocked, K::CardRemoved, S::NoCard, &[]),
    (S::Password, K::CardRemoved, S::Password, &[]),
    // Card reset by another program: PIN needed again, no error loop.
    (S::NoCard, K::CardReset, S::NoCard, &[]),
    (S::CardPresent, K::CardReset, S::CardPresent, &[]),
    (S::PinpadPending, K::CardReset, S::CardPresent, &[E::UnlockDone]),
    (S::Unlocked, K::CardReset, S::CardPresent, &[E::UnlockDone]),
    (S::Authenticated, K::CardReset, S::CardPresent, &[]),
    (S::Expiring, K::CardReset, S::CardPresent, &[]),
    (S::Locked, K::CardReset, S::Locked, &[]),
    (S::Expired, K::CardReset, S::CardPresent, &[]),
    (S::Blocked, K::CardReset, S::Blocked, &[]),
    (S::Password, K::CardReset, S::Password, &[]),
    // Unlock with a PIN: VERIFY only on an unverified, usable card.
    (S::NoCard, K::UnlockWithPin, S::NoCard, &[E::Reply]),
    (S::CardPresent, K::UnlockWithPin, S::CardPresent, &[E::VerifyPin]),
    (S::PinpadPending, K::UnlockWithPin, S::PinpadPending, &[E::Reply]),
    (S::Unlocked, K::UnlockWithPin, S::Unlocked, &[]),
    (S::Authenticated, K::UnlockWithPin, S::Authenticated, &[E::Reply]),
    (S::Expiring, K::UnlockWithPin, S::Expiring, &[E::Reply]),
    (S::Locked, K::UnlockWithPin, S::Locked, &[E::Reply]),
    (S::Expired, K::UnlockWithPin, S::Expired, &[E::AuthCard]),
    (S::Blocked, K::UnlockWithPin, S::Blocked, &[E::Reply]),
    (S::Password, K::UnlockWithPin, S::Password, &[E::Reply]),
    // Unlock on the pinpad: R1 has none outside PinpadPending.
    (S::NoCard, K::UnlockWithPinpad, S::NoCard, &[E::Reply]),
    (S::CardPresent, K::UnlockWithPinpad, S::CardPresent, &[E::Reply]),
    (S::PinpadPending, K::UnlockWithPinpad, S::PinpadPending, &[E::Reply]),
    (S::Unlocked, K::UnlockWithPinpad, S::Unlocked, &[]),
    (S::Authenticated, K::UnlockWithPinpad, S::Authenticated, &[E::Reply]),
    (S::Expiring, K::UnlockWithPinpad, S::Expiring, &[E::Reply]),
    (S::Locked, K::UnlockWithPinpad, S::Locked, &[E::Reply]),
    (S::Expired, K::UnlockWithPinpad, S::Expired, &[E::AuthCard]),
    (S::Blocked, K::UnlockWithPinpad, S::Blocked, &[E::Reply]),
    (S::Password, K::UnlockWithPinpad, S::Password, &[E::Reply]),
    // PIN check 1 verified: only PinpadPending waits for it; elsewhere a
    // stale success on an unverified card is undone.
    (S::NoCard, K::PinVerified, S::NoCard, &[]),
    (S::CardPresent, K::PinVerified, S::CardPresent, &[E::Reset]),
    (S::PinpadPending, K::PinVerified, S::Unlocked, &[E::AuthCard]),
    (S::Unlocked, K::PinVerified, S::Unlocked, &[]),
    (S::Authenticated, K::PinVerified, S::Authenticated, &[]),
    (S::Expiring, K::PinVerified, S::Expiring, &[]),
    (S::Locked, K::PinVerified, S::Locked, &[]),
    (S::Expired, K::PinVerified, S::Expired, &[]),
    (S::Blocked, K::PinVerified, S::Blocked, &[E::Reset]),
    (S::Password, K::PinVerified, S::Password, &[]),
    // PIN check 1 wrong.
    (S::NoCard, K::PinWrong, S::NoCard, &[]),
    (S::CardPresent, K::PinWrong, S::CardPresent, &[]),
    (S::PinpadPending, K::PinWrong, S::CardPresent, &[E::UnlockDone]),
    (S::Unlocked, K::PinWrong, S::Unlocked, &[]),
    (S::Authenticated, K::PinWrong, S::Authenticated, &[]),
    (S::Expiring, K::PinWrong, S::Expiring, &[]),
    (S::Locked, K::PinWrong, S::Locked, &[]),
    (S::Expired, K::PinWrong, S::Expired, &[]),
    (S::Blocked, K::PinWrong, S::Blocked, &[]),
    (S::Password, K::PinWrong, S::Password, &[]),
    // PIN check 1 blocked.
    (S::NoCard, K::PinBlocked, S::NoCard, &[]),
    (S::CardPresent, K::PinBlocked, S::CardPresent, &[]),
    (S::PinpadPending, K::PinBlocked, S::Blocked, &[E::UnlockDone]),
    (S::Unlocked, K::PinBlocked, S::Unlocked, &[]),
    (S::Authenticated, K::PinBlocked, S::Authenticated, &[]),
    (S::Expiring, K::PinBlocked, S::Expiring, &[]),
    (S::Locked, K::PinBlocked, S::Locked, &[]),
    (S::Expired, K::PinBlocked, S::Expired, &[]),
    (S::Blocked, K::PinBlocked, S::Blocked, &[]),
    (S::Password, K::PinBlocked, S::Password, &[]),
    // PIN check 1 failed (card removed during VERIFY).
    (S::NoCard, K::PinFailed, S::NoCard, &[]),
    (S::CardPresent, K::PinFailed, S::CardPresent, &[]),
    (S::PinpadPending, K::PinFailed, S::CardPresent, &[E::UnlockDone]),
    (S::Unlocked, K::PinFailed, S::Unlocked, &[]),
    (S::Authenticated, K::PinFailed, S::Authenticated, &[]),
    (S::Expiring, K::PinFailed, S::Expiring, &[]),
    (S::Locked, K::PinFailed, S::Locked, &[]),
    (S::Expired, K::PinFailed, S::Expired, &[]),
    (S::Blocked, K::PinFailed, S::Blocked, &[]),
    (S::Password, K::PinFailed, S::Password, &[]),
    // Authentication 1 succeeded: only Unlocked waits for it.
    (S::NoCard, K::AuthOk, S::NoCard, &[]),
    (S::CardPresent, K::AuthOk, S::CardPresent, &[]),
    (S::PinpadPending, K::AuthOk, S::PinpadPending, &[]),
    (S::Unlocked, K::AuthOk, S::Authenticated, &[E::UnlockDone]),
    (S::Authenticated, K::AuthOk, S::Authenticated, &[]),
    (S::Expiring, K::AuthOk, S::Expiring, &[]),
    (S::Locked, K::AuthOk, S::Locked, &[]),
    (S::Expired, K::AuthOk, S::Expired, &[]),
    (S::Blocked, K::AuthOk, S::Blocked, &[]),
    (S::Password, K::AuthOk, S::Password, &[]),
    // Authentication 1 failed, platform unreachable: retried later.
    (S::NoCard, K::AuthFailedRetryable, S::NoCard, &[]),
    (S::CardPresent, K::AuthFailedRetryable, S::CardPresent, &[]),
    (S::PinpadPending, K::AuthFailedRetryable, S::PinpadPending, &[]),
    (S::Unlocked, K::AuthFailedRetryable, S::Unlocked, &[E::RetryLater, E::UnlockDone]),
    (S::Authenticated, K::AuthFailedRetryable, S::Authenticated, &[]),
    (S::Expiring, K::AuthFailedRetryable, S::Expiring, &[]),
    (S::Locked, K::AuthFailedRetryable, S::Locked, &[]),
    (S::Expired, K::AuthFailedRetryable, S::Expired, &[]),
    (S::Blocked, K::AuthFailedRetryable, S::Blocked, &[]),
    (S::Password, K::AuthFailedRetryable, S::Password, &[]),
    // Authentication 1 failed: the card wants its PIN again (reset).
    (S::NoCard, K::AuthPinRequired, S::NoCard, &[]),
    (S::CardPresent, K::AuthPinRequired, S::CardPresent, &[]),
    (S::PinpadPending, K::AuthPinRequired, S::PinpadPending, &[]),
    (S::Unlocked, K::AuthPinRequired, S::CardPresent, &[E::UnlockDone]),
    (S::Authenticated, K::AuthPinRequired, S::Authenticated, &[]),
    (S::Expiring, K::AuthPinRequired, S::Expiring, &[]),
    (S::Locked, K::AuthPinRequired, S::Locked, &[]),
    (S::Expired, K::AuthPinRequired, S::Expired, &[]),
    (S::Blocked, K::AuthPinRequired, S::Blocked, &[]),
    (S::Password, K::AuthPinRequired, S::Password, &[]),
    // Renewal time: a card signature, no PIN.
    (S::NoCard, K::RenewalDue, S::NoCard, &[]),
    (S::CardPresent, K::RenewalDue, S::CardPresent, &[]),
    (S::PinpadPending, K::RenewalDue, S::PinpadPending, &[]),
    (S::Unlocked, K::RenewalDue, S::Unlocked, &[]),
    (S::Authenticated, K::RenewalDue, S::Authenticated, &[E::AuthCard]),
    (S::Expiring, K::RenewalDue, S::Expiring, &[]),
    (S::Locked, K::RenewalDue, S::Locked, &[]),
    (S::Expired, K::RenewalDue, S::Expired, &[]),
    (S::Blocked, K::RenewalDue, S::Blocked, &[]),
    (S::Password, K::RenewalDue, S::Password, &[]),
    // Retry time: only when no authentication is under way.
    (S::NoCard, K::RetryDue, S::NoCard, &[]),
    (S::CardPresent, K::RetryDue, S::CardPresent, &[]),
    (S::PinpadPending, K::RetryDue, S::PinpadPending, &[]),
    (S::Unlocked, K::RetryDue, S::Unlocked, &[]),
    (S::Authenticated, K::RetryDue, S::Authenticated, &[]),
    (S::Expiring, K::RetryDue, S::Expiring, &[E::AuthCard]),
    (S::Locked, K::RetryDue, S::Locked, &[]),
    (S::Expired, K::RetryDue, S::Expired, &[E::AuthCard]),
    (S::Blocked, K::RetryDue, S::Blocked, &[]),
    (S::Password, K::RetryDue, S::Password, &[]),
    // The assertion ran out.
    (S::NoCard, K::AssertionExpired, S::NoCard, &[]),
    (S::CardPresent, K::AssertionExpired, S::CardPresent, &[]),
    (S::PinpadPending, K::AssertionExpired, S::PinpadPending, &[]),
    (S::Unlocked, K::AssertionExpired, S::Unlocked, &[]),
    (S::Authenticated, K::AssertionExpired, S::Expired, &[E::AuthCard]),
    (S::Expiring, K::AssertionExpired, S::Expired, &[]),
    (S::Locked, K::AssertionExpired, S::Locked, &[]),
    (S::Expired, K::AssertionExpired, S::Expired, &[]),
    (S::Blocked, K::AssertionExpired, S::Blocked, &[]),
    (S::Password, K::AssertionExpired, S::Expired, &[]),
    // Lock (explicit; idle and screen lock act the same): the card forgets.
    (S::NoCard, K::Lock, S::NoCard, &[]),
    (S::CardPresent, K::Lock, S::CardPresent, &[]),
    (S::PinpadPending, K::Lock, S::Locked, &[E::Reset, E::UnlockDone]),
    (S::Unlocked, K::Lock, S::Locked, &[E::Reset, E::UnlockDone]),
    (S::Authenticated, K::Lock, S::Locked, &[E::Reset]),
    (S::Expiring, K::Lock, S::Locked, &[E::Reset]),
    (S::Locked, K::Lock, S::Locked, &[]),
    (S::Expired, K::Lock, S::Locked, &[E::Reset]),
    (S::Blocked, K::Lock, S::Blocked, &[]),
    (S::Password, K::Lock, S::Locked, &[]),
    // Password login: not over an open card session or an operation.
    (S::NoCard, K::PasswordLogin, S::NoCard, &[E::AuthPassword]),
    (S::CardPresent, K::PasswordLogin, S::CardPresent, &[E::AuthPassword]),
    (S::PinpadPending, K::PasswordLogin, S::PinpadPending, &[E::Reply]),
    (S::Unlocked, K::PasswordLogin, S::Unlocked, &[E::Reply]),
    (S::Authenticated, K::PasswordLogin, S::Authenticated, &[E::Reply]),
    (S::Expiring, K::PasswordLogin, S::Expiring, &[E::Reply]),
    (S::Locked, K::PasswordLogin, S::Locked, &[E::AuthPassword]),
    (S::Expired, K::PasswordLogin, S::Expired, &[E::Reply]),
    (S::Blocked, K::PasswordLogin, S::Blocked, &[E::AuthPassword]),
    (S::Password, K::PasswordLogin, S::Password, &[E::AuthPassword]),
];

#[test]
fn the_table_covers_every_state_and_input_once() {
    for state in STATES {
        for kind in INPUTS {
            let rows = TABLE
                .iter()
                .filter(|(s, k, _, _)| *s == state && *k == kind)
                .count();
            assert_eq!(rows, 1, "{state:?} × {kind:?} has {rows} rows");
        }
    }
    assert_eq!(TABLE.len(), STATES.len() * INPUTS.len());
}

#[test]
fn every_state_and_input_goes_where_the_table_says() {
    let mut failures = Vec::new();
    for &(state, kind, expected_state, expected_effects) in TABLE {
        let mut machine = in_state(state);
        let effects = machine.apply(input(kind));
        let mut got: Vec<E> = effects.iter().map(kind_of).collect();
        got.sort();
        let mut want = expected_effects.to_vec();
        want.sort();
        if machine.state() != expected_state || got != want {
            failures.push(format!(
                "{state:?} × {kind:?}: expected {expected_state:?} {want:?}, got {:?} {got:?}",
                machine.state()
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// The fixtures are states the machine really reaches from NoCard.
#[test]
fn every_fixture_state_is_reachable() {
    let a = || Input::CardInserted {
        reader: R1.into(),
        identity: CARD_A.clone(),
        pin: PinStatus::default(),
        refusal: None,
    };
    let reader = |pinpad| Input::ReaderAdded {
        reader: R1.into(),
        pinpad,
    };
    let verified = |op| Input::PinChecked {
        op,
        outcome: Ok(PinOutcome::Verified),
    };
    let authenticated = |op| Input::AuthDone {
        op,
        outcome: Ok(assertion_for(&CARD_A.ehealth_id)),
    };
    let unreachable = |op| Input::AuthDone {
        op,
        outcome: Err(AuthError::Unreachable {
            reason: "down".into(),
        }),
    };
    let paths: Vec<(S, Vec<Input>)> = vec![
        (S::NoCard, vec![reader(false)]),
        (S::CardPresent, vec![reader(false), a()]),
        (
            S::PinpadPending,
            vec![reader(true), a(), Input::UnlockWithPinpad],
        ),
        (
            S::Unlocked,
            vec![reader(false), a(), Input::UnlockWithPin, verified(1)],
        ),
        (
            S::Authenticated,
            vec![
                reader(false),
                a(),
                Input::UnlockWithPin,
                verified(1),
                authenticated(2),
            ],
        ),
        (
            S::Expiring,
            vec![
                reader(false),
                a(),
                Input::UnlockWithPin,
                verified(1),
                authenticated(2),
                Input::RenewalDue,
                unreachable(3),
            ],
        ),
        (
            S::Locked,
            vec![
                reader(false),
                a(),
                Input::UnlockWithPin,
                verified(1),
                authenticated(2),
                Input::CardRemoved { reader: R1.into() },
            ],
        ),
        (
            S::Expired,
            vec![
                reader(false),
                a(),
                Input::UnlockWithPin,
                verified(1),
                authenticated(2),
                Input::AssertionExpired,
            ],
        ),
        (
            S::Blocked,
            vec![
                reader(false),
                a(),
                Input::UnlockWithPin,
                Input::PinChecked {
                    op: 1,
                    outcome: Ok(PinOutcome::Blocked),
                },
            ],
        ),
        (
            S::Password,
            vec![
                reader(false),
                Input::PasswordLogin,
                Input::AuthDone {
                    op: 1,
                    outcome: Ok(assertion_for(PASSWORD_USER)),
                },
            ],
        ),
    ];
    for (state, inputs) in paths {
        let mut machine = Machine::new();
        for i in inputs {
            machine.apply(i);
        }
        assert_eq!(machine.state(), state);
        let fixture = in_state(state);
        let (got, want) = (machine.session_info(), fixture.session_info());
        assert_eq!(got.lock_reason, want.lock_reason, "{state:?}");
        assert_eq!(got.professional, want.professional, "{state:?}");
        assert_eq!(
            got.expires_at.is_some(),
            want.expires_at.is_some(),
            "{state:?}"
        );
        assert_eq!(
            machine.card_verified(),
            fixture.card_verified(),
            "{state:?}"
        );
        assert_eq!(machine.card.is_some(), fixture.card.is_some(), "{state:?}");
        assert_eq!(
            machine.assertion.is_some(),
            fixture.assertion.is_some(),
            "{state:?}"
        );
    }
}

fn reply_of(effects: &[Effect]) -> &Result<(), SessionError> {
    effects
        .iter()
        .find_map(|e| match e {
            Effect::Reply(r) | Effect::UnlockDone(r) | Effect::PasswordLoginDone(r) => Some(r),
            _ => None,
        })
        .expect("an answer")
}

#[test]
fn requests_are_answered_with_the_reason() {
    let mut m = in_state(S::NoCard);
    assert!(matches!(
        reply_of(&m.apply(Input::UnlockWithPin)),
        Err(SessionError::NoCard)
    ));
    let mut m = in_state(S::Blocked);
    let effects = m.apply(Input::UnlockWithPin);
    let err = reply_of(&effects).as_ref().unwrap_err();
    assert!(matches!(err, SessionError::Card(CardError::Blocked)));
    assert_eq!(err.pin_tries_left(), Some(0));
    let mut m = in_state(S::CardPresent);
    assert!(matches!(
        reply_of(&m.apply(Input::UnlockWithPinpad)),
        Err(SessionError::Card(CardError::PinpadUnavailable))
    ));
    let mut m = in_state(S::Authenticated);
    assert!(reply_of(&m.apply(Input::UnlockWithPin)).is_ok());
    let mut m = in_state(S::PinpadPending);
    let effects = m.apply(input(K::PinWrong));
    let err = reply_of(&effects).as_ref().unwrap_err();
    assert_eq!(err.pin_tries_left(), Some(2));
    assert_eq!(m.card_status().pin_tries_left, Some(2));
    let mut m = in_state(S::Authenticated);
    assert!(matches!(
        reply_of(&m.apply(Input::PasswordLogin)),
        Err(SessionError::CardSessionOpen)
    ));
}

#[test]
fn a_refused_card_is_never_sent_the_pin() {
    let mut m = in_state(S::NoCard);
    m.apply(Input::CardInserted {
        reader: R1.into(),
        identity: CARD_A.clone(),
        pin: PinStatus::default(),
        refusal: Some(CardError::TestCardRefused {
            issuer: "LuxTrust Test CA (SANDBOX)".into(),
        }),
    });
    assert_eq!(m.state(), S::CardPresent);
    let effects = m.apply(Input::UnlockWithPin);
    assert_eq!(effects.len(), 1, "{effects:?}");
    assert!(matches!(
        reply_of(&effects),
        Err(SessionError::Card(CardError::TestCardRefused { .. }))
    ));
}

#[test]
fn a_different_card_drops_the_old_owner_and_says_swapped() {
    let mut m = in_state(S::Authenticated);
    assert!(m.active_session().is_some());
    m.apply(input(K::CardRemoved));
    assert_eq!(m.session_info().lock_reason, Some(LockReason::CardRemoved));
    assert_eq!(
        m.session_info().professional.map(|p| p.ehealth_id),
        Some(CARD_A.ehealth_id.clone())
    );
    m.apply(input(K::InsertOtherCard));
    let info = m.session_info();
    let card = m.card_status();
    assert_eq!(info.state, S::CardPresent);
    assert_eq!(info.professional, None);
    assert!(card.swapped);
    assert_eq!(
        card.holder.map(|p| p.ehealth_id),
        Some(CARD_B.ehealth_id.clone())
    );
    // B unlocks: B's session, no longer swapped.
    let effects = m.apply(Input::UnlockWithPin);
    let Some(Effect::VerifyPin { op, card }) = effects.first() else {
        panic!("{effects:?}")
    };
    assert_eq!(*card, CARD_B.fingerprint);
    m.apply(Input::PinChecked {
        op: *op,
        outcome: Ok(PinOutcome::Verified),
    });
    assert!(!m.card_status().swapped);
    assert_eq!(
        m.session_info().professional.map(|p| p.ehealth_id),
        Some(CARD_B.ehealth_id.clone())
    );
}

#[test]
fn the_same_card_back_is_not_a_swap() {
    let mut m = in_state(S::Authenticated);
    m.apply(input(K::CardRemoved));
    m.apply(input(K::InsertSameCard));
    assert!(!m.card_status().swapped);
    assert_eq!(m.state(), S::Locked);
}

#[test]
fn an_assertion_for_someone_else_is_refused() {
    let mut m = in_state(S::Unlocked);
    let effects = m.apply(Input::AuthDone {
        op: 1,
        outcome: Ok(assertion_for(&CARD_B.ehealth_id)),
    });
    assert!(matches!(
        reply_of(&effects),
        Err(SessionError::Auth(AuthError::WrongSubject { .. }))
    ));
    assert_eq!(m.state(), S::Unlocked);
    assert!(m.active_session().is_none());
}

#[test]
fn a_stale_authentication_is_ignored() {
    let mut m = in_state(S::Unlocked);
    m.apply(Input::Lock(LockReason::IdleTimeout));
    assert_eq!(m.session_info().lock_reason, Some(LockReason::IdleTimeout));
    let effects = m.apply(input(K::AuthOk));
    assert!(effects.is_empty());
    assert_eq!(m.state(), S::Locked);
    assert!(m.assertion().is_none());
}

#[test]
fn renewal_failure_goes_expiring_then_expired_and_recovers() {
    let mut m = in_state(S::Authenticated);
    let effects = m.apply(Input::RenewalDue);
    let Some(Effect::AuthenticateWithCard { op, .. }) = effects.first() else {
        panic!("{effects:?}")
    };
    let effects = m.apply(Input::AuthDone {
        op: *op,
        outcome: Err(AuthError::Unreachable {
            reason: "down".into(),
        }),
    });
    assert_eq!(m.state(), S::Expiring);
    assert!(effects.iter().any(|e| matches!(e, Effect::RetryLater)));
    assert!(m.active_session().is_some(), "the assertion is still valid");
    m.apply(Input::AssertionExpired);
    assert_eq!(m.state(), S::Expired);
    assert!(m.active_session().is_none());
    let effects = m.apply(Input::RetryDue);
    let Some(Effect::AuthenticateWithCard { op, .. }) = effects.first() else {
        panic!("{effects:?}")
    };
    m.apply(Input::AuthDone {
        op: *op,
        outcome: Ok(assertion_for(&CARD_A.ehealth_id)),
    });
    assert_eq!(m.state(), S::Authenticated);
}

#[test]
fn a_pinpad_unlock_answers_at_once_and_goes_pending() {
    let mut m = in_state(S::CardPresent);
    m.readers.insert(R1.into(), true);
    let effects = m.apply(Input::UnlockWithPinpad);
    let kinds: Vec<E> = effects.iter().map(kind_of).collect();
    assert_eq!(kinds, [E::StartPinpad, E::Reply]);
    assert!(reply_of(&effects).is_ok());
    assert_eq!(m.state(), S::PinpadPending);
    assert!(m.card_status().pinpad);
}

#[test]
fn password_sessions_cannot_reach_documents() {
    let m = in_state(S::Password);
    let session = m.active_session().unwrap();
    assert_eq!(session.kind, SessionKind::Password);
    assert!(!session.can_reach_documents());
    assert_eq!(session.certificate_fingerprint, None);
    assert_eq!(session.outbox_owner(), None);
    assert_eq!(session.professional.name, "Dr Paul Password");
    let card = in_state(S::Authenticated).active_session().unwrap();
    assert!(card.can_reach_documents());
    assert_eq!(card.certificate_fingerprint, Some(CARD_A.fingerprint));
    let owner = card.outbox_owner().unwrap();
    assert_eq!(owner.ehealth_id, CARD_A.ehealth_id);
    assert_eq!(owner.certificate_sha256, CARD_A.fingerprint.to_string());
}

#[test]
fn a_lock_during_a_pin_check_undoes_a_late_success() {
    let mut m = in_state(S::CardPresent);
    let effects = m.apply(Input::UnlockWithPin);
    let Some(Effect::VerifyPin { op, .. }) = effects.first() else {
        panic!("{effects:?}")
    };
    let op = *op;
    let effects = m.apply(Input::Lock(LockReason::ScreenLocked));
    let kinds: Vec<E> = effects.iter().map(kind_of).collect();
    assert!(
        kinds.contains(&E::Reset) && kinds.contains(&E::UnlockDone),
        "{kinds:?}"
    );
    let effects = m.apply(Input::PinChecked {
        op,
        outcome: Ok(PinOutcome::Verified),
    });
    assert!(matches!(
        effects.as_slice(),
        [Effect::ResetCardSecurity { .. }]
    ));
    assert_eq!(m.state(), S::CardPresent);
}

#[test]
fn a_card_in_a_second_reader_waits_for_the_first_to_leave() {
    let mut m = in_state(S::Authenticated);
    m.apply(Input::ReaderAdded {
        reader: R2.into(),
        pinpad: false,
    });
    let b_in_r2 = || Input::CardInserted {
        reader: R2.into(),
        identity: CARD_B.clone(),
        pin: PinStatus::default(),
        refusal: None,
    };
    assert!(m.apply(b_in_r2()).is_empty());
    assert_eq!(m.state(), S::Authenticated);
    assert_eq!(
        m.card_status().holder.map(|p| p.ehealth_id),
        Some(CARD_A.ehealth_id.clone())
    );
    // A leaves: B is the card now, and another professional's.
    m.apply(input(K::CardRemoved));
    let card = m.card_status();
    assert_eq!(card.reader.as_deref(), Some(R2));
    assert_eq!(
        card.holder.map(|p| p.ehealth_id),
        Some(CARD_B.ehealth_id.clone())
    );
    assert!(card.swapped);
    assert_eq!(m.state(), S::CardPresent);

    // A card that left its reader while waiting is forgotten.
    let mut m = in_state(S::Authenticated);
    m.apply(b_in_r2());
    m.apply(Input::CardRemoved { reader: R2.into() });
    m.apply(input(K::CardRemoved));
    assert_eq!(m.state(), S::Locked);
    assert!(!m.card_status().card_present);
}

#[test]
fn a_failed_card_service_forgets_every_reader_and_locks() {
    let mut m = in_state(S::Authenticated);
    m.apply(Input::ServiceFailed);
    assert_eq!(m.state(), S::Locked);
    let card = m.card_status();
    assert!(!card.reader_present && !card.card_present);
    assert_eq!(m.session_info().lock_reason, Some(LockReason::CardRemoved));
}
