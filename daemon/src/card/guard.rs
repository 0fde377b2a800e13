//! The test-card guard: a card issued by the sandbox's LuxTrust *test* CA
//! is accepted only by the sandbox profile. A production profile refuses
//! it before any PIN is asked, so a test credential can never authenticate
//! to the real platform (nor be mistaken for a real professional).

use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use super::{CardError, CardIdentity};
pub use crate::config::PlatformKind;

/// Every name in the sandbox's test PKI carries this, so a test card from
/// any sandbox install is recognised even when its CA certificate is not at
/// hand.
pub const SANDBOX_NAME_MARKER: &str = "SANDBOX";

/// Refuses `card` under a production profile when it is a test card: its
/// issuer is one of `test_ca_certificates` (DER; the sandbox's LuxTrust
/// test CA), or its issuer's name carries the sandbox's marker. Under the
/// sandbox profile every card passes (the sandbox's IdP checks the chain).
pub fn check_test_card(
    profile: PlatformKind,
    test_ca_certificates: &[Vec<u8>],
    card: &CardIdentity,
) -> Result<(), CardError> {
    if profile == PlatformKind::Sandbox {
        return Ok(());
    }
    let refused = || CardError::TestCardRefused {
        issuer: card.issuer.clone(),
    };
    if card.issuer.contains(SANDBOX_NAME_MARKER) {
        return Err(refused());
    }
    for ca in test_ca_certificates {
        // An unreadable test-CA certificate cannot match any issuer; the
        // marker check above still stands.
        if let Ok((_, ca)) = X509Certificate::from_der(ca)
            && ca.subject().as_raw() == card.issuer_der()
        {
            return Err(refused());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use time::{Duration, OffsetDateTime};

    use super::*;
    use crate::card::test_certificates::{ca, issued_by};

    fn card_from(issuer: &rcgen::CertifiedIssuer<'static, rcgen::KeyPair>) -> CardIdentity {
        let now = OffsetDateTime::now_utc();
        let der = issued_by(
            issuer,
            "Dr Anne Muller",
            "2854201475",
            now - Duration::days(1),
            now + Duration::days(30),
        );
        CardIdentity::from_certificate(&der).unwrap()
    }

    #[test]
    fn production_refuses_cards_of_the_test_ca_and_sandbox_names() {
        // A test CA whose name lacks the marker: recognised by its subject.
        let test_ca = ca("LuxTrust Test CA", "Test");
        let marked_ca = ca("LuxTrust Test CA (SANDBOX)", "dspconnect SANDBOX");
        let real_ca = ca("LuxTrust Qualified CA", "LuxTrust S.A.");
        let test_cas = vec![test_ca.der().to_vec()];

        let err =
            check_test_card(PlatformKind::Production, &test_cas, &card_from(&test_ca)).unwrap_err();
        assert!(matches!(err, CardError::TestCardRefused { .. }), "{err}");
        assert_eq!(err.code(), dspconnect::ErrorCode::TestCardRefused);
        assert!(
            check_test_card(PlatformKind::Production, &[], &card_from(&marked_ca)).is_err(),
            "the SANDBOX marker alone suffices"
        );
        assert!(check_test_card(PlatformKind::Production, &test_cas, &card_from(&real_ca)).is_ok());
        for issuer in [&test_ca, &marked_ca, &real_ca] {
            assert!(check_test_card(PlatformKind::Sandbox, &test_cas, &card_from(issuer)).is_ok());
        }
    }
}
