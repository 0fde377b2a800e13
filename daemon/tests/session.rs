//! The session task over the software card and a signing authenticator:
//! PIN once per insertion, tries left and blocking, locks, card reset and
//! swap, renewal without the PIN (one card signature per assertion),
//! expiry, idle timeout on tokio's paused clock, pinpad, password sessions,
//! the test-card guard, and secrets kept out of `Debug`.

#![cfg(feature = "sandbox")]

mod session_support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use dspconnect::ErrorCode;
use dspconnect::ipc::protocol::{LockReason, SessionState};
use dspconnect_sandbox::pki::Validity;
use dspconnectd::card::PlatformKind;
use dspconnectd::card::software::SoftwareCard;
use dspconnectd::session::{Matricule, Password, SessionConfig, SessionError, SessionKind};
use session_support::*;
use time::OffsetDateTime;

#[tokio::test]
async fn unlock_verifies_once_and_authenticates_with_one_card_signature() {
    let a = export_valid(&anne(), PIN_A);
    let mut rig = rig();
    let info = rig.insert(&a.card).await;
    assert_eq!(info.state, SessionState::CardPresent);
    let (card, _) = rig.session.status();
    assert!(card.reader_present && card.card_present);
    assert_eq!(
        card.holder.as_ref().map(|p| p.name.as_str()),
        Some("Dr Anne Muller")
    );
    assert_eq!(
        card.certificate_fingerprint.as_deref(),
        Some(a.card.identity().fingerprint.to_string().as_str())
    );

    let info = rig.session.unlock(pin(PIN_A)).await.unwrap();
    assert_eq!(info.state, SessionState::Authenticated);
    assert_eq!(info.professional.unwrap().ehealth_id, anne().ehealth_id);
    assert!(info.expires_at.is_some());
    assert_eq!(a.card.verify_count(), 1);
    assert_eq!(a.card.signature_count(), 1);
    assert_eq!(rig.auth.card_authentications.load(Ordering::SeqCst), 1);

    let session = rig.session.current_session().unwrap();
    assert_eq!(session.kind, SessionKind::Card);
    assert!(session.can_reach_documents());
    assert_eq!(session.professional.ehealth_id, anne().ehealth_id);
    assert_eq!(
        session.certificate_fingerprint,
        Some(a.card.identity().fingerprint)
    );
    let owner = rig.session.owner().unwrap();
    assert_eq!(owner.ehealth_id, anne().ehealth_id);
    assert_eq!(
        owner.certificate_sha256,
        a.card.identity().fingerprint.to_string()
    );
    assert_eq!(*rig.session.watch_owner().borrow(), Some(owner));
    let assertion = rig.session.current_assertion().unwrap();
    assert_eq!(assertion.subject_ehealth_id(), anne().ehealth_id);
    assert_eq!(assertion.element().local, "Assertion");
    assert_eq!(*rig.session.watch_session().borrow(), Some(session));

    // Unlocking again while the card stays verified: no VERIFY, no signature.
    let info = rig.session.unlock(pin(PIN_A)).await.unwrap();
    assert_eq!(info.state, SessionState::Authenticated);
    assert_eq!(a.card.verify_count(), 1);
    assert_eq!(a.card.signature_count(), 1);
}

#[tokio::test]
async fn every_transition_is_an_event() {
    let a = export_valid(&anne(), PIN_A);
    let mut rig = rig();
    rig.insert(&a.card).await;
    rig.drain();
    rig.session.unlock(pin(PIN_A)).await.unwrap();
    assert_eq!(rig.next_session().await.state, SessionState::Unlocked);
    assert_eq!(rig.next_session().await.state, SessionState::Authenticated);
    rig.session.lock(LockReason::Explicit).await.unwrap();
    let locked = rig.next_session().await;
    assert_eq!(locked.state, SessionState::Locked);
    assert_eq!(locked.lock_reason, Some(LockReason::Explicit));
}

#[tokio::test]
async fn wrong_pins_report_tries_left_then_block_without_further_verify() {
    let a = export_valid(&anne(), PIN_A);
    let mut rig = rig();
    rig.insert(&a.card).await;
    for expected in [2u8, 1] {
        let err = rig.session.unlock(pin("0000")).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::WrongPin, "{err}");
        assert_eq!(err.pin_tries_left(), Some(expected));
        let (card, info) = rig.session.status();
        assert_eq!(card.pin_tries_left, Some(expected));
        assert_eq!(info.state, SessionState::CardPresent);
    }
    let err = rig.session.unlock(pin("0000")).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::CardBlocked, "{err}");
    let (card, info) = rig.session.status();
    assert_eq!(info.state, SessionState::Blocked);
    assert!(card.blocked);
    assert_eq!(a.card.verify_count(), 3);

    // Even the right PIN is not sent to a blocked card.
    let err = rig.session.unlock(pin(PIN_A)).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::CardBlocked);
    assert_eq!(a.card.verify_count(), 3);
    assert_eq!(a.card.signature_count(), 0);

    // Blocked survives removal and reinsertion, and a daemon restart.
    rig.reader.remove();
    rig.wait_state(SessionState::NoCard).await;
    assert_eq!(rig.insert(&a.card).await.state, SessionState::Blocked);
    let reloaded = SoftwareCard::load(&a.path()).unwrap();
    assert!(reloaded.pin_status().blocked);
    assert_eq!(rig.insert(&reloaded).await.state, SessionState::Blocked);
    assert!(rig.session.unlock(pin(PIN_A)).await.is_err());
    assert_eq!(reloaded.verify_count(), 0);
}

#[tokio::test]
async fn a_right_pin_restores_the_tries() {
    let a = export_valid(&anne(), PIN_A);
    let mut rig = rig();
    rig.insert(&a.card).await;
    assert!(rig.session.unlock(pin("0000")).await.is_err());
    rig.session.unlock(pin(PIN_A)).await.unwrap();
    assert_eq!(a.card.pin_status().tries_left, Some(3));
    assert_eq!(
        SoftwareCard::load(&a.path())
            .unwrap()
            .pin_status()
            .tries_left,
        Some(3)
    );
}

#[tokio::test]
async fn removal_locks_and_reinsertion_needs_the_pin() {
    let a = export_valid(&anne(), PIN_A);
    let mut rig = rig();
    rig.sign_in(&a.card, PIN_A).await;
    rig.reader.remove();
    let info = rig.wait_state(SessionState::Locked).await;
    assert_eq!(info.lock_reason, Some(LockReason::CardRemoved));
    assert!(rig.session.current_assertion().is_none());
    assert!(rig.session.watch_session().borrow().is_none());
    assert!(rig.session.watch_owner().borrow().is_none());
    assert!(!rig.session.status().0.card_present);
    let err = rig.session.unlock(pin(PIN_A)).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::NoCard);

    // The same card back: still locked, the PIN is needed again.
    let info = rig.insert(&a.card).await;
    assert_eq!(info.state, SessionState::Locked);
    assert!(!rig.session.status().0.swapped);
    assert!(!a.card.is_verified());
    rig.session.unlock(pin(PIN_A)).await.unwrap();
    assert_eq!(a.card.verify_count(), 2);
    assert_eq!(a.card.signature_count(), 2);
}

#[tokio::test]
async fn an_explicit_lock_resets_the_card_and_the_pin_opens_it_again() {
    let a = export_valid(&anne(), PIN_A);
    let mut rig = rig();
    rig.sign_in(&a.card, PIN_A).await;
    assert!(a.card.is_verified());
    let info = rig.session.lock(LockReason::Explicit).await.unwrap();
    assert_eq!(info.state, SessionState::Locked);
    assert_eq!(info.lock_reason, Some(LockReason::Explicit));
    assert_eq!(info.professional.unwrap().ehealth_id, anne().ehealth_id);
    assert!(rig.session.current_session().is_none());
    assert!(
        !a.card.is_verified(),
        "the lock answers once the card forgot"
    );
    rig.session.unlock(pin(PIN_A)).await.unwrap();
    assert_eq!(a.card.verify_count(), 2);
}

#[tokio::test]
async fn a_card_reset_by_another_program_asks_for_the_pin_again() {
    let a = export_valid(&anne(), PIN_A);
    let mut rig = rig();
    rig.sign_in(&a.card, PIN_A).await;
    rig.reader.reset_card();
    let info = rig.wait_state(SessionState::CardPresent).await;
    assert_eq!(info.lock_reason, Some(LockReason::CardReset));
    assert!(rig.session.current_session().is_none());
    rig.session.unlock(pin(PIN_A)).await.unwrap();
    assert_eq!(a.card.verify_count(), 2);
    assert_eq!(rig.session.status().1.state, SessionState::Authenticated);
}

#[tokio::test]
async fn a_different_card_ends_the_old_session() {
    let a = export_valid(&anne(), PIN_A);
    let b = export_valid(&bernard(), PIN_B);
    let mut rig = rig();
    rig.sign_in(&a.card, PIN_A).await;
    let info = rig.insert(&b.card).await;
    assert_eq!(info.state, SessionState::CardPresent);
    assert_eq!(info.professional, None, "Anne's identity is dropped");
    let (card, _) = rig.session.status();
    assert!(card.swapped);
    assert_eq!(card.holder.unwrap().ehealth_id, bernard().ehealth_id);
    assert!(rig.session.owner().is_none());

    // Anne's PIN on Bernard's card is just a wrong PIN.
    assert_eq!(
        rig.session.unlock(pin(PIN_A)).await.unwrap_err().code(),
        ErrorCode::WrongPin
    );
    rig.session.unlock(pin(PIN_B)).await.unwrap();
    let owner = rig.session.owner().unwrap();
    assert_eq!(owner.ehealth_id, bernard().ehealth_id);
    assert_eq!(
        owner.certificate_sha256,
        b.card.identity().fingerprint.to_string()
    );
    assert!(!rig.session.status().0.swapped);
    assert_eq!(a.card.signature_count(), 1);
    assert_eq!(b.card.signature_count(), 1);
}

fn renewing_config() -> SessionConfig {
    let mut config = sandbox_config();
    config.renewal_lead = Duration::from_secs(5 * 60);
    config
}

#[tokio::test(start_paused = true)]
async fn renewal_signs_again_without_the_pin() {
    let a = export_valid(&anne(), PIN_A);
    let mut rig = rig_with(
        renewing_config(),
        TestAuthenticator::new(time::Duration::minutes(20)),
        false,
    );
    let first = rig.sign_in(&a.card, PIN_A).await;
    let mut owners = rig.session.watch_owner();
    owners.mark_unchanged();
    let started = tokio::time::Instant::now();
    let mut expiries = vec![first.expires_at.clone().unwrap()];
    // Renewals at 15, 30 and 45 minutes (20-minute assertions, renewed 5
    // minutes ahead), all before the 60-minute idle timeout.
    while expiries.len() < 4 {
        let info = rig.next_session().await;
        assert_eq!(info.state, SessionState::Authenticated, "{info:?}");
        expiries.push(info.expires_at.unwrap());
    }
    let elapsed = started.elapsed();
    assert!(
        // Renewal is due 5 minutes before NotOnOrAfter, which the test
        // IdP sets a few milliseconds before the session reads it.
        elapsed > Duration::from_secs(44 * 60 + 50) && elapsed <= Duration::from_secs(45 * 60),
        "{elapsed:?}"
    );
    expiries.dedup();
    assert_eq!(expiries.len(), 4, "each renewal brings a new assertion");
    assert_eq!(a.card.verify_count(), 1, "the PIN was given once");
    assert_eq!(
        a.card.signature_count(),
        4,
        "one card signature per assertion"
    );
    assert!(
        owners.has_changed().unwrap(),
        "the owner is published again with each new assertion"
    );
    let owner = owners.borrow().clone();
    assert_eq!(owner.map(|o| o.ehealth_id), Some(anne().ehealth_id));
}

#[tokio::test(start_paused = true)]
async fn a_failed_renewal_goes_expiring_then_expired_then_recovers() {
    let a = export_valid(&anne(), PIN_A);
    let mut rig = rig_with(
        renewing_config(),
        TestAuthenticator::new(time::Duration::minutes(20)),
        false,
    );
    rig.sign_in(&a.card, PIN_A).await;
    let started = tokio::time::Instant::now();
    rig.auth.fail.store(true, Ordering::SeqCst);

    let expiring = rig.next_session().await;
    assert_eq!(expiring.state, SessionState::Expiring);
    assert!(started.elapsed() >= Duration::from_secs(15 * 60));
    assert!(
        rig.session.current_session().is_some(),
        "still valid while Expiring"
    );

    let expired = rig.until_state(SessionState::Expired).await;
    assert_eq!(expired.expires_at, None);
    let at_expiry = started.elapsed();
    assert!(
        at_expiry >= Duration::from_secs(20 * 60) && at_expiry < Duration::from_secs(21 * 60),
        "{at_expiry:?}"
    );
    assert!(rig.session.current_session().is_none());

    rig.auth.fail.store(false, Ordering::SeqCst);
    let back = rig.until_state(SessionState::Authenticated).await;
    assert!(back.expires_at.is_some());
    assert_eq!(a.card.verify_count(), 1, "retries never ask for the PIN");
    assert!(rig.auth.card_authentications.load(Ordering::SeqCst) >= 3);
}

#[tokio::test(start_paused = true)]
async fn the_idle_timeout_locks_an_hour_after_the_last_activity() {
    let a = export_valid(&anne(), PIN_A);
    let mut rig = rig();
    rig.sign_in(&a.card, PIN_A).await;
    rig.drain();
    tokio::time::advance(Duration::from_secs(40 * 60)).await;
    assert_eq!(rig.session.status().1.state, SessionState::Authenticated);
    rig.session.touch();
    let touched = tokio::time::Instant::now();

    let locked = rig.next_session().await;
    assert_eq!(locked.state, SessionState::Locked);
    assert_eq!(locked.lock_reason, Some(LockReason::IdleTimeout));
    let idle = touched.elapsed();
    assert!(
        idle >= Duration::from_secs(60 * 60) && idle < Duration::from_secs(61 * 60),
        "locked after {idle:?} of inactivity"
    );
    until_not_verified(&a.card).await;
}

#[tokio::test]
async fn pinpad_entry_answers_at_once_and_the_result_comes_as_events() {
    let a = export_valid(&anne(), PIN_A);
    let mut rig = rig_with(
        sandbox_config(),
        TestAuthenticator::new(time::Duration::hours(8)),
        true,
    );
    rig.insert(&a.card).await;
    assert!(rig.session.status().0.pinpad);
    let info = rig.session.unlock_pinpad().await.unwrap();
    assert_eq!(info.state, SessionState::PinpadPending);
    let err = rig.session.unlock(pin(PIN_A)).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::PinpadPending);
    // The answer came once the reader was waiting for the PIN.
    assert!(rig.reader.pinpad_waiting());

    rig.drain();
    rig.reader.type_on_pinpad(pin("1111")).unwrap();
    rig.wait_state(SessionState::CardPresent).await;
    assert_eq!(rig.session.status().0.pin_tries_left, Some(2));

    rig.session.unlock_pinpad().await.unwrap();
    assert!(rig.reader.pinpad_waiting());
    rig.reader.type_on_pinpad(pin(PIN_A)).unwrap();
    rig.wait_state(SessionState::Authenticated).await;
    assert_eq!(a.card.verify_count(), 2);
}

#[tokio::test]
async fn a_reader_without_pinpad_refuses_pinpad_entry() {
    let a = export_valid(&anne(), PIN_A);
    let mut rig = rig();
    rig.insert(&a.card).await;
    let err = rig.session.unlock_pinpad().await.unwrap_err();
    assert!(matches!(
        err,
        SessionError::Card(dspconnectd::card::CardError::PinpadUnavailable)
    ));
}

#[tokio::test]
async fn a_production_profile_refuses_the_test_card_before_any_pin() {
    let a = export_valid(&anne(), PIN_A);
    let mut config = SessionConfig::new(PlatformKind::Production);
    config.test_ca_certificates = a.card.issuer_certificates_der().to_vec();
    let mut rig = rig_with(
        config,
        TestAuthenticator::new(time::Duration::hours(8)),
        false,
    );
    assert_eq!(rig.insert(&a.card).await.state, SessionState::CardPresent);
    let err = rig.session.unlock(pin(PIN_A)).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::TestCardRefused, "{err}");
    assert_eq!(a.card.verify_count(), 0);
}

#[tokio::test]
async fn an_expired_certificate_is_refused_before_any_pin() {
    let now = OffsetDateTime::now_utc();
    let a = export(
        &anne(),
        PIN_A,
        Validity::between(
            now - time::Duration::days(400),
            now - time::Duration::days(1),
        ),
    );
    let mut rig = rig();
    rig.insert(&a.card).await;
    let err = rig.session.unlock(pin(PIN_A)).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::CertificateNotValid, "{err}");
    assert_eq!(a.card.verify_count(), 0);
}

#[tokio::test]
async fn a_password_session_has_limited_access() {
    let mut rig = rig();
    let (matricule, password) = rig.auth.password.clone();
    let matricule: Matricule = matricule.parse().unwrap();
    let err = rig
        .session
        .password_login(matricule, Password::existing("wrong".into()).unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::AuthenticationRefused);
    let info = rig
        .session
        .password_login(matricule, Password::existing(password).unwrap())
        .await
        .unwrap();
    assert_eq!(info.state, SessionState::Password);
    assert_eq!(info.professional.unwrap().name, "Dr Paul Password");
    let session = rig.session.current_session().unwrap();
    assert_eq!(session.kind, SessionKind::Password);
    assert!(!session.can_reach_documents());
    assert!(!rig.session.can_reach_documents());
    assert_eq!(session.certificate_fingerprint, None);
    assert_eq!(rig.session.owner(), None, "a password session owns no jobs");
    assert_eq!(*rig.session.watch_owner().borrow(), None);

    // A card unlocked afterwards replaces it with a full session.
    let a = export_valid(&anne(), PIN_A);
    assert_eq!(rig.insert(&a.card).await.state, SessionState::Password);
    rig.session.unlock(pin(PIN_A)).await.unwrap();
    assert!(rig.session.can_reach_documents());
}

#[tokio::test]
async fn the_pin_appears_in_no_debug_output_nor_event() {
    let a = export_valid(&anne(), PIN_A);
    let mut rig = rig();
    rig.insert(&a.card).await;
    rig.drain();
    let wrong = "93715284";
    assert!(rig.session.unlock(pin(wrong)).await.is_err());
    rig.session.unlock(pin(PIN_A)).await.unwrap();
    let mut shown = format!(
        "{:?} {:?} {:?} {:?} {:?} {:?}",
        rig.session,
        rig.session.status(),
        rig.session.current_session(),
        a.card,
        pin(PIN_A),
        rig.card_handle,
    );
    while let Ok(event) = rig.events.try_recv() {
        shown.push_str(&format!("{event:?}"));
        shown.push_str(&serde_json::to_string(&event).unwrap());
    }
    assert!(shown.contains("Authenticated"), "{shown}");
    for secret in [PIN_A, wrong] {
        assert!(
            !shown.contains(secret),
            "the PIN {secret} shows in: {shown}"
        );
    }
}
