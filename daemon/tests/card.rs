//! The card layer over the software card: the card thread's handle and
//! events, signing only after VERIFY and only by the card meant, the
//! export loader's refusals.

#![cfg(feature = "sandbox")]

mod session_support;

use dspconnectd::card::software::{SoftwareCard, SoftwareCardError, software_reader};
use dspconnectd::card::{
    CardError, CardEvent, CardEvents, PinOutcome, PinStatus, spawn_card_thread,
};
use ihe::dsig::{CertificateKey, SignatureAlgorithm};
use session_support::*;
use sha2::{Digest, Sha256};

async fn next_event(events: &mut CardEvents) -> CardEvent {
    tokio::time::timeout(std::time::Duration::from_secs(60), events.recv())
        .await
        .expect("a card event within 60 s")
        .expect("the card thread runs")
}

#[tokio::test]
async fn the_card_signs_only_after_verify_and_only_for_the_card_meant() {
    let a = export_valid(&anne(), PIN_A);
    let b = export_valid(&bernard(), PIN_B);
    let (backend, reader) = software_reader(false);
    let (card, mut events) = spawn_card_thread(Box::new(backend)).unwrap();
    assert!(matches!(
        next_event(&mut events).await,
        CardEvent::ReaderAdded { pinpad: false, .. }
    ));
    reader.insert(&a.card);
    let CardEvent::CardInserted {
        identity,
        pin: status,
        ..
    } = next_event(&mut events).await
    else {
        panic!("expected the insertion")
    };
    assert_eq!(identity.ehealth_id, anne().ehealth_id);
    assert_eq!(identity.holder_name, anne().name);
    assert_eq!(identity.algorithm, SignatureAlgorithm::RsaSha256);
    assert_eq!(
        status,
        PinStatus {
            tries_left: Some(3),
            blocked: false
        }
    );

    let fingerprint = identity.fingerprint;
    let message = b"the SignedInfo of an AuthnRequest";
    let digest: [u8; 32] = Sha256::digest(message).into();
    let sign = |fp| card.sign(fp, SignatureAlgorithm::RsaSha256, &digest);

    assert_eq!(sign(fingerprint).await, Err(CardError::PinRequired));
    assert_eq!(
        card.verify_pin(fingerprint, pin("0000")).await,
        Ok(PinOutcome::Wrong { tries_left: 2 })
    );
    assert_eq!(
        card.verify_pin(fingerprint, pin(PIN_A)).await,
        Ok(PinOutcome::Verified)
    );
    let signature = sign(fingerprint).await.unwrap();
    let key = CertificateKey::from_certificate(identity.certificate_der()).unwrap();
    assert!(key.verifies(message, &signature));
    assert!(!key.verifies(b"another message", &signature));
    assert_eq!(a.card.signature_count(), 1);

    // Another card's fingerprint: that card is not here.
    let other = b.card.identity().fingerprint;
    assert_eq!(sign(other).await, Err(CardError::NotPresent));
    assert_eq!(
        card.sign(fingerprint, SignatureAlgorithm::EcdsaP256Sha256, &digest)
            .await,
        Err(CardError::UnsupportedAlgorithm {
            requested: SignatureAlgorithm::EcdsaP256Sha256,
            supported: SignatureAlgorithm::RsaSha256,
        })
    );

    // Logout: the PIN is needed again.
    card.reset_security_state(fingerprint).await.unwrap();
    assert_eq!(sign(fingerprint).await, Err(CardError::PinRequired));

    // B takes A's place: a signature meant for A is refused.
    card.verify_pin(fingerprint, pin(PIN_A)).await.unwrap();
    reader.insert(&b.card);
    assert!(matches!(
        next_event(&mut events).await,
        CardEvent::CardRemoved { .. }
    ));
    assert!(matches!(
        next_event(&mut events).await,
        CardEvent::CardInserted { .. }
    ));
    assert_eq!(sign(fingerprint).await, Err(CardError::NotPresent));
    assert_eq!(sign(other).await, Err(CardError::PinRequired));
    assert!(
        !a.card.is_verified(),
        "a removed card forgets its verification"
    );

    // Reset by another program is reported as such.
    reader.reset_card();
    assert!(matches!(
        next_event(&mut events).await,
        CardEvent::CardReset { .. }
    ));

    // The last handle gone, the thread stops.
    drop(card);
    assert!(
        tokio::time::timeout(std::time::Duration::from_secs(60), events.recv())
            .await
            .expect("the thread stops")
            .is_none()
    );
}

#[tokio::test]
async fn a_blocked_card_says_so_when_inserted() {
    let a = export_valid(&anne(), PIN_A);
    let (backend, reader) = software_reader(false);
    let (card, mut events) = spawn_card_thread(Box::new(backend)).unwrap();
    next_event(&mut events).await;
    reader.insert(&a.card);
    next_event(&mut events).await;
    let fingerprint = a.card.identity().fingerprint;
    for expected in [
        PinOutcome::Wrong { tries_left: 2 },
        PinOutcome::Wrong { tries_left: 1 },
        PinOutcome::Blocked,
        PinOutcome::Blocked,
    ] {
        assert_eq!(
            card.verify_pin(fingerprint, pin("1234")).await,
            Ok(expected)
        );
    }
    // Blocked means blocked: the right PIN does not open it either.
    assert_eq!(
        card.verify_pin(fingerprint, pin(PIN_A)).await,
        Ok(PinOutcome::Blocked)
    );
    reader.remove();
    next_event(&mut events).await;
    reader.insert(&a.card);
    let CardEvent::CardInserted { pin: status, .. } = next_event(&mut events).await else {
        panic!("expected the insertion")
    };
    assert!(status.blocked);
    // The counter file is the PUK: without it the card is fresh again.
    std::fs::remove_file(a.path().join(dspconnectd::card::software::PIN_COUNTER_FILE)).unwrap();
    assert!(!SoftwareCard::load(&a.path()).unwrap().pin_status().blocked);
}

fn manifest(card: &ExportedCard) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(card.path().join("card.json")).unwrap()).unwrap()
}

fn write_manifest(card: &ExportedCard, manifest: &serde_json::Value) {
    std::fs::write(card.path().join("card.json"), manifest.to_string()).unwrap();
}

#[test]
fn the_loader_refuses_what_the_format_forbids() {
    let a = export_valid(&anne(), PIN_A);
    let b = export_valid(&bernard(), PIN_B);
    let original = manifest(&a);

    let mut m = original.clone();
    m["certificate_sha256"] = serde_json::json!("00".repeat(32));
    write_manifest(&a, &m);
    assert!(matches!(
        SoftwareCard::load(&a.path()),
        Err(SoftwareCardError::Inconsistent { .. })
    ));

    let mut m = original.clone();
    m["format"] = serde_json::json!("someone-elses-card");
    write_manifest(&a, &m);
    assert!(matches!(
        SoftwareCard::load(&a.path()),
        Err(SoftwareCardError::UnsupportedFormat { .. })
    ));

    let mut m = original.clone();
    m["version"] = serde_json::json!(2);
    write_manifest(&a, &m);
    assert!(matches!(
        SoftwareCard::load(&a.path()),
        Err(SoftwareCardError::UnsupportedFormat { .. })
    ));

    let mut m = original.clone();
    m["private_key"] = serde_json::json!("../private-key.pem");
    write_manifest(&a, &m);
    assert!(matches!(
        SoftwareCard::load(&a.path()),
        Err(SoftwareCardError::BadManifest { .. })
    ));

    // Another card's key does not belong to this certificate.
    let mut m = original.clone();
    std::fs::copy(
        b.path().join("private-key.pem"),
        a.path().join("other-key.pem"),
    )
    .unwrap();
    m["private_key"] = serde_json::json!("other-key.pem");
    write_manifest(&a, &m);
    assert!(matches!(
        SoftwareCard::load(&a.path()),
        Err(SoftwareCardError::BadKey { .. })
    ));

    write_manifest(&a, &original);
    assert!(SoftwareCard::load(&a.path()).is_ok());

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let key = a.path().join("private-key.pem");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = SoftwareCard::load(&a.path()).unwrap_err();
        assert!(matches!(err, SoftwareCardError::TooOpen { .. }), "{err}");
        assert!(err.to_string().contains("chmod 600"));
    }
}

#[test]
fn a_pin_that_could_never_be_typed_is_refused() {
    // The sandbox allows up to 12 digits; a card's PIN block holds 8.
    let long = export_files(
        &anne(),
        "1234567890",
        dspconnect_sandbox::pki::Validity::days_from_now(30),
    );
    assert!(matches!(
        SoftwareCard::load(&long.path().join("card")),
        Err(SoftwareCardError::BadPin { .. })
    ));
}
