//! Shared by the session tests: the sandbox's real test PKI, card exports,
//! a software reader on a card thread, and a small authenticator that
//! really signs an AuthnRequest envelope with the card and verifies it.

#![allow(dead_code)] // Each test binary uses a different part.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use dspconnect::ipc::protocol::{Event, SessionInfo, SessionState};
use dspconnect_sandbox::pki::{CardPin, Pki, Professional, Validity};
use dspconnectd::card::software::{SoftwareCard, SoftwareReaderControl, software_reader};
use dspconnectd::card::{CardHandle, CardSigner, Pin, PlatformKind, spawn_card_thread};
use dspconnectd::session::{
    Assertion, AuthError, Authenticator, Matricule, Password, SessionConfig, SessionHandle,
    XSPA_SUBJECT_ID, spawn_session,
};
use ihe::saml::{AssertionSpec, AuthnRequest, NameId, SamlAttribute};
use ihe::soap::Envelope;
use ihe::wssec::{PendingEnvelope, SecurityIds, SecurityParams, Timestamp, verify_signed_envelope};
use ihe::xml::{NsScope, ParseLimits};
use tempfile::TempDir;
use time::OffsetDateTime;
use tokio::sync::broadcast;

pub const PIN_A: &str = "58274619";
pub const PIN_B: &str = "4711";

pub struct TestPki {
    _dir: TempDir,
    pub pki: Pki,
}

/// One sandbox PKI per test binary (creating it costs RSA key generations).
pub static PKI: LazyLock<TestPki> = LazyLock::new(|| {
    let dir = tempfile::tempdir().expect("temporary directory");
    let pki = Pki::load_or_create(dir.path()).expect("sandbox PKI");
    TestPki { _dir: dir, pki }
});

pub fn anne() -> Professional {
    Professional {
        name: "Dr Anne Muller".into(),
        ehealth_id: "2854201475".into(),
    }
}

pub fn bernard() -> Professional {
    Professional {
        name: "Dr Bernard Weber".into(),
        ehealth_id: "1970031512".into(),
    }
}

/// A card exported by the sandbox into its own directory.
pub struct ExportedCard {
    pub dir: TempDir,
    pub card: SoftwareCard,
}

impl ExportedCard {
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("card")
    }
}

/// Exports a card into `<new temporary dir>/card` without loading it.
pub fn export_files(professional: &Professional, pin: &str, validity: Validity) -> TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    PKI.pki
        .export_card(
            professional,
            validity,
            &CardPin::new(pin.to_owned()).expect("PIN"),
            &dir.path().join("card"),
        )
        .expect("card export");
    dir
}

pub fn export(professional: &Professional, pin: &str, validity: Validity) -> ExportedCard {
    let dir = export_files(professional, pin, validity);
    let card = SoftwareCard::load(&dir.path().join("card")).expect("software card");
    ExportedCard { dir, card }
}

pub fn export_valid(professional: &Professional, pin: &str) -> ExportedCard {
    export(professional, pin, Validity::days_from_now(365))
}

pub fn pin(digits: &str) -> Pin {
    Pin::new(digits.to_owned()).expect("well-formed PIN")
}

/// A small IdP: checks the signed AuthnRequest the way the platform does
/// (WS-Security signature, the card certificate against the sandbox's
/// LuxTrust test CA, the requested eHealth id against the certificate) and
/// answers an assertion for that professional.
pub struct TestAuthenticator {
    pub assertion_lifetime: time::Duration,
    pub fail: AtomicBool,
    pub card_authentications: AtomicU64,
    pub password: (String, String),
}

impl TestAuthenticator {
    pub fn new(assertion_lifetime: time::Duration) -> Self {
        TestAuthenticator {
            assertion_lifetime,
            fail: AtomicBool::new(false),
            card_authentications: AtomicU64::new(0),
            // A valid matricule (check digits), the password user's.
            password: ("1893120105732".into(), "correct horse battery".into()),
        }
    }

    fn assertion(&self, subject: &str, name: &str) -> Result<Assertion, AuthError> {
        let now = OffsetDateTime::now_utc();
        let spec = AssertionSpec {
            id: format!("_a-{}", uuid::Uuid::new_v4()),
            issue_instant: now,
            issuer: "https://idp.sandbox.test".into(),
            subject: NameId {
                value: subject.into(),
                format: Some(ihe::saml::NAMEID_UNSPECIFIED.into()),
            },
            not_before: now - time::Duration::minutes(1),
            not_on_or_after: now + self.assertion_lifetime,
            audience: Some("urn:esante:dsp".into()),
            authn_instant: now,
            authn_context_class: ihe::saml::AUTHN_CONTEXT_X509.into(),
            session_index: None,
            attributes: vec![SamlAttribute::single(XSPA_SUBJECT_ID, name)],
        };
        let saml = ihe::saml::Assertion::from_element(&spec.to_unsigned_element(), &NsScope::new())
            .map_err(|e| AuthError::InvalidResponse {
                reason: e.to_string(),
            })?;
        Assertion::new(saml)
    }
}

fn refused(reason: impl ToString) -> AuthError {
    AuthError::Refused {
        reason: reason.to_string(),
    }
}

impl Authenticator for TestAuthenticator {
    async fn authenticate_with_card(&self, signer: CardSigner) -> Result<Assertion, AuthError> {
        let now = OffsetDateTime::now_utc();
        let request = AuthnRequest::new(
            &format!("_req-{}", uuid::Uuid::new_v4()),
            now,
            "urn:dspconnect:tests",
            &signer.identity().ehealth_id,
        );
        let params = SecurityParams {
            timestamp: Timestamp::new(now, time::Duration::minutes(5)),
            ids: SecurityIds::from_uuid(uuid::Uuid::new_v4()),
            assertion: None,
        };
        let pending = PendingEnvelope::prepare(
            Envelope::new(request.to_element()),
            signer.certificate_der().to_vec(),
            params,
        )
        .map_err(refused)?;
        let signed = signer.sign_envelope(pending).await.map_err(|e| match e {
            dspconnectd::card::CardSignError::Card(card) => AuthError::Card(card),
            other => refused(other),
        })?;

        // The platform's side.
        let verified =
            verify_signed_envelope(&signed.to_bytes(), &ParseLimits::default()).map_err(refused)?;
        let certificate = PKI
            .pki
            .verify_professional_certificate(verified.certificate_der(), now)
            .map_err(refused)?;
        let asked =
            AuthnRequest::from_element(verified.payload().map_err(refused)?).map_err(refused)?;
        if asked.ps_ehealth_id != certificate.ehealth_id {
            return Err(refused("the request names another professional"));
        }
        self.card_authentications.fetch_add(1, Ordering::SeqCst);
        if self.fail.load(Ordering::SeqCst) {
            return Err(AuthError::Unreachable {
                reason: "the test platform is down".into(),
            });
        }
        self.assertion(&certificate.ehealth_id, &certificate.name)
    }

    async fn authenticate_with_password(
        &self,
        matricule: &Matricule,
        password: Password,
    ) -> Result<Assertion, AuthError> {
        let matricule = matricule.as_digits();
        if (matricule.as_str(), password.expose())
            != (self.password.0.as_str(), self.password.1.as_str())
        {
            return Err(refused("wrong matricule or password"));
        }
        self.assertion(&matricule, "Dr Paul Password")
    }
}

/// Waits until `card` has forgotten its PIN verification.
pub async fn until_not_verified(card: &SoftwareCard) {
    // A lock the session decided by itself resets the card right after.
    for _ in 0..500 {
        if !card.is_verified() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the card is still verified after the lock");
}

/// A software reader on a card thread, a session over it, its events.
pub struct Rig {
    pub reader: SoftwareReaderControl,
    pub card_handle: CardHandle,
    pub session: SessionHandle,
    pub events: broadcast::Receiver<Event>,
    pub auth: Arc<TestAuthenticator>,
}

pub fn rig_with(config: SessionConfig, auth: TestAuthenticator, pinpad: bool) -> Rig {
    let (backend, reader) = software_reader(pinpad);
    let (card_handle, card_events) = spawn_card_thread(Box::new(backend)).expect("card thread");
    let (events_tx, events) = broadcast::channel(256);
    let auth = Arc::new(auth);
    let session = spawn_session(
        card_handle.clone(),
        card_events,
        auth.clone(),
        config,
        events_tx,
    );
    Rig {
        reader,
        card_handle,
        session,
        events,
        auth,
    }
}

pub fn sandbox_config() -> SessionConfig {
    SessionConfig::new(PlatformKind::Sandbox)
}

pub fn rig() -> Rig {
    rig_with(
        sandbox_config(),
        TestAuthenticator::new(time::Duration::hours(8)),
        false,
    )
}

impl Rig {
    /// The next session event, skipping card events.
    pub async fn next_session(&mut self) -> SessionInfo {
        loop {
            match self.events.recv().await.expect("events") {
                Event::Session { session } => return session,
                _ => continue,
            }
        }
    }

    /// Session events until one in `state`; returns it.
    pub async fn until_state(&mut self, state: SessionState) -> SessionInfo {
        loop {
            let info = self.next_session().await;
            if info.state == state {
                return info;
            }
        }
    }

    /// Like [`Rig::until_state`], giving up after 60 s of real time (for
    /// tests that do not pause the clock).
    pub async fn wait_state(&mut self, state: SessionState) -> SessionInfo {
        tokio::time::timeout(Duration::from_secs(60), self.until_state(state))
            .await
            .unwrap_or_else(|_| panic!("no {state:?} within 60 s; now {:?}", self.session.status()))
    }

    /// Forgets the events received so far.
    pub fn drain(&mut self) {
        while self.events.try_recv().is_ok() {}
    }

    /// Inserts `card` and returns the session once the card is seen.
    pub async fn insert(&mut self, card: &SoftwareCard) -> SessionInfo {
        self.drain();
        self.reader.insert(card);
        let fingerprint = card.identity().fingerprint.to_string();
        loop {
            match self.events.recv().await.expect("events") {
                Event::Card { card }
                    if card.certificate_fingerprint.as_deref() == Some(&fingerprint) =>
                {
                    return self.session.status().1;
                }
                _ => continue,
            }
        }
    }

    /// Inserts `card`, unlocks with `digits` (Authenticated), and forgets
    /// the events so far.
    pub async fn sign_in(&mut self, card: &SoftwareCard, digits: &str) -> SessionInfo {
        self.insert(card).await;
        let info = self.session.unlock(pin(digits)).await.expect("unlock");
        assert_eq!(info.state, SessionState::Authenticated, "{info:?}");
        self.drain();
        info
    }
}
