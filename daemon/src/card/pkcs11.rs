//! The PKCS#11 card backend: the card vendor's middleware module (the way
//! most deployed software uses such cards), loaded at run time with
//! `cryptoki`. When `card.pkcs11_module` is configured it is the
//! production default (`card.backend = "auto"`).
//!
//! - Readers are the module's slots, cards its tokens. Modules rarely
//!   support `C_WaitForSlotEvent` (SoftHSM does not), so the card thread
//!   polls the slots every [`POLL`] (and at once when woken).
//! - The authentication certificate is the first X.509 certificate on the
//!   token that carries a professional's identity; its key is the private
//!   key with the same `CKA_ID`, found after login (private objects are
//!   invisible before).
//! - PIN: `C_Login`. PKCS#11 does not expose the PIN counter, only the
//!   `CKF_USER_PIN_FINAL_TRY` and `CKF_USER_PIN_LOCKED` flags; the backend
//!   counts the wrong PINs it sent since the last right one (like the card:
//!   [`PIN_TRIES`]), corrected by those flags, and sends no login once it
//!   counts the PIN as blocked (re-inserting the token or restarting the
//!   daemon starts the count afresh: the token's own counter rules).
//! - Signing: `CKM_RSA_PKCS` over the DigestInfo built on the host.
//! - A token with a protected authentication path (pinpad) logs in with no
//!   PIN on a thread of its own; the outcome comes as a pinpad event.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as Pkcs11Error, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, CertificateType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, SessionState, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use ihe::dsig::{Sha256Digest, SignatureAlgorithm};

use super::{
    CardBackend, CardError, CardEvent, CardIdentity, CardWaker, PIN_TRIES, Pin, PinOutcome,
    PinStatus,
};

/// How often the slots are looked at.
pub const POLL: Duration = Duration::from_millis(500);

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Each guarded value is replaced or pushed to in one statement.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Why the module cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum Pkcs11OpenError {
    #[error("cannot load the PKCS#11 module {}: {reason}", path.display())]
    Load { path: PathBuf, reason: String },
}

struct Token {
    slot: Slot,
    serial: String,
    session: Session,
    certificate_id: Vec<u8>,
    pinpad: bool,
    wrong_pins: u8,
}

/// See the module documentation.
pub struct Pkcs11Backend {
    module: PathBuf,
    token_label: Option<String>,
    pkcs11: Pkcs11,
    woken: Arc<(Mutex<bool>, Condvar)>,
    started: bool,
    readers: BTreeMap<String, Slot>,
    tokens: BTreeMap<String, Token>,
    pending: Arc<Mutex<Vec<CardEvent>>>,
    pinpad_busy: Arc<Mutex<bool>>,
}

impl Pkcs11Backend {
    /// Loads and initialises `module`; `token_label` picks a token by label.
    pub fn open(module: &Path, token_label: Option<String>) -> Result<Self, Pkcs11OpenError> {
        let failed = |reason: String| Pkcs11OpenError::Load {
            path: module.to_owned(),
            reason,
        };
        let pkcs11 = Pkcs11::new(module).map_err(|e| failed(e.to_string()))?;
        match pkcs11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(()) | Err(Pkcs11Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(e) => return Err(failed(e.to_string())),
        }
        Ok(Pkcs11Backend {
            module: module.to_owned(),
            token_label,
            pkcs11,
            woken: Arc::new((Mutex::new(false), Condvar::new())),
            started: false,
            readers: BTreeMap::new(),
            tokens: BTreeMap::new(),
            pending: Arc::new(Mutex::new(Vec::new())),
            pinpad_busy: Arc::new(Mutex::new(false)),
        })
    }

    fn reader_name(&self, slot: Slot) -> String {
        let description = self
            .pkcs11
            .get_slot_info(slot)
            .map(|info| info.slot_description().trim().to_owned())
            .unwrap_or_default();
        format!("{description} (PKCS#11 slot {})", slot.id())
    }

    fn scan(&mut self, events: &mut Vec<CardEvent>) -> Result<(), CardError> {
        let slots = self.pkcs11.get_all_slots().map_err(|e| module_error(&e))?;
        let with_token = self
            .pkcs11
            .get_slots_with_token()
            .map_err(|e| module_error(&e))?;
        let mut seen = BTreeMap::new();
        for slot in slots {
            seen.insert(self.reader_name(slot), slot);
        }
        for (reader, _) in self
            .readers
            .iter()
            .filter(|(r, _)| !seen.contains_key(*r))
            .map(|(r, s)| (r.clone(), *s))
            .collect::<Vec<_>>()
        {
            self.readers.remove(&reader);
            self.tokens.remove(&reader);
            events.push(CardEvent::ReaderRemoved { reader });
        }
        for (reader, slot) in &seen {
            if !self.readers.contains_key(reader) {
                let pinpad = self
                    .pkcs11
                    .get_token_info(*slot)
                    .map(|t| t.protected_authentication_path())
                    .unwrap_or(false);
                self.readers.insert(reader.clone(), *slot);
                events.push(CardEvent::ReaderAdded {
                    reader: reader.clone(),
                    pinpad,
                });
            }
            let info = with_token
                .contains(slot)
                .then(|| self.pkcs11.get_token_info(*slot).ok())
                .flatten();
            let wanted = info.as_ref().filter(|info| {
                self.token_label
                    .as_deref()
                    .is_none_or(|label| info.label().trim() == label)
            });
            let serial = wanted.map(|info| info.serial_number().trim().to_owned());
            let known = self.tokens.get(reader).map(|t| t.serial.clone());
            if known.is_some() && known != serial {
                self.tokens.remove(reader);
                events.push(CardEvent::CardRemoved {
                    reader: reader.clone(),
                });
            }
            if let (Some(info), None) = (wanted, self.tokens.get(reader)) {
                let pinpad = info.protected_authentication_path();
                let serial = info.serial_number().trim().to_owned();
                let status = pin_status(info.user_pin_locked(), info.user_pin_final_try(), 0);
                match self.open_token(*slot, serial, pinpad) {
                    Ok((token, identity)) => {
                        tracing::info!(%reader, holder = %identity.holder_name, "PKCS#11 token with a professional certificate");
                        self.tokens.insert(reader.clone(), token);
                        events.push(CardEvent::CardInserted {
                            reader: reader.clone(),
                            identity: Arc::new(identity),
                            pin: status,
                        });
                    }
                    Err(error) => {
                        tracing::warn!(%reader, %error, "the PKCS#11 token cannot be used");
                        events.push(CardEvent::CardUnusable {
                            reader: reader.clone(),
                            error,
                        });
                    }
                }
            }
        }
        Ok(())
    }

    fn open_token(
        &self,
        slot: Slot,
        serial: String,
        pinpad: bool,
    ) -> Result<(Token, CardIdentity), CardError> {
        let session = self
            .pkcs11
            .open_ro_session(slot)
            .map_err(|e| token_error(&e))?;
        let certificates = session
            .find_objects(&[
                Attribute::Class(ObjectClass::CERTIFICATE),
                Attribute::CertificateType(CertificateType::X_509),
            ])
            .map_err(|e| token_error(&e))?;
        let mut last_problem = None;
        for handle in certificates {
            let attributes = session
                .get_attributes(handle, &[AttributeType::Value, AttributeType::Id])
                .map_err(|e| token_error(&e))?;
            let mut value = None;
            let mut id = Vec::new();
            for attribute in attributes {
                match attribute {
                    Attribute::Value(v) => value = Some(v),
                    Attribute::Id(v) => id = v,
                    _ => {}
                }
            }
            let Some(der) = value else { continue };
            match CardIdentity::from_certificate(&der) {
                Ok(identity) => {
                    return Ok((
                        Token {
                            slot,
                            serial,
                            session,
                            certificate_id: id,
                            pinpad,
                            wrong_pins: 0,
                        },
                        identity,
                    ));
                }
                Err(problem) => last_problem = Some(problem),
            }
        }
        Err(last_problem.unwrap_or(CardError::BadCertificate {
            reason: "the token holds no X.509 certificate of a professional".into(),
        }))
    }

    fn token(&mut self, reader: &str) -> Result<&mut Token, CardError> {
        self.tokens.get_mut(reader).ok_or(CardError::NotPresent)
    }

    fn private_key(token: &Token) -> Result<ObjectHandle, CardError> {
        let keys = token
            .session
            .find_objects(&[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::Id(token.certificate_id.clone()),
            ])
            .map_err(|e| token_error(&e))?;
        if let Some(key) = keys.into_iter().next() {
            return Ok(key);
        }
        // Private keys are invisible before login: tell "PIN needed" from
        // a token that really lacks the key.
        let logged_in = token
            .session
            .get_session_info()
            .map(|info| {
                matches!(
                    info.session_state(),
                    SessionState::RoUser | SessionState::RwUser
                )
            })
            .map_err(|e| token_error(&e))?;
        if !logged_in {
            return Err(CardError::PinRequired);
        }
        Err(CardError::BadCertificate {
            reason: format!(
                "the token has no private key for its authentication certificate (no private \
                 key with CKA_ID {}); the card's key is missing: ask the card issuer",
                super::apdu::hex(&token.certificate_id)
            ),
        })
    }
}

fn pin_status(locked: bool, final_try: bool, wrong_pins: u8) -> PinStatus {
    if locked {
        return PinStatus {
            tries_left: Some(0),
            blocked: true,
        };
    }
    let counted = PIN_TRIES.saturating_sub(wrong_pins);
    PinStatus {
        tries_left: Some(if final_try { 1.min(counted) } else { counted }),
        blocked: counted == 0,
    }
}

impl CardBackend for Pkcs11Backend {
    fn description(&self) -> String {
        format!("PKCS#11 ({})", self.module.display())
    }

    fn waker(&self) -> CardWaker {
        let woken = self.woken.clone();
        Arc::new(move || {
            let (flag, condvar) = &*woken;
            *lock(flag) = true;
            condvar.notify_all();
        })
    }

    fn wait_for_change(&mut self) -> Result<Vec<CardEvent>, CardError> {
        if self.started {
            let (flag, condvar) = &*self.woken;
            let mut woken = lock(flag);
            if !*woken {
                woken = condvar
                    .wait_timeout(woken, POLL)
                    .map(|(guard, _)| guard)
                    .unwrap_or_else(|e| e.into_inner().0);
            }
            *woken = false;
        }
        self.started = true;
        let mut events = std::mem::take(&mut *lock(&self.pending));
        self.scan(&mut events)?;
        Ok(events)
    }

    fn verify_pin(&mut self, reader: &str, pin: Pin) -> Result<PinOutcome, CardError> {
        let slot = self.token(reader)?.slot;
        let info = self
            .pkcs11
            .get_token_info(slot)
            .map_err(|e| token_error(&e))?;
        let token = self.token(reader)?;
        if pin_status(info.user_pin_locked(), false, token.wrong_pins).blocked {
            return Ok(PinOutcome::Blocked);
        }
        let secret = AuthPin::from(pin.expose().to_owned());
        drop(pin);
        let result = token.session.login(UserType::User, Some(&secret));
        drop(secret);
        match result {
            Ok(()) | Err(Pkcs11Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {
                token.wrong_pins = 0;
                Ok(PinOutcome::Verified)
            }
            Err(Pkcs11Error::Pkcs11(RvError::PinIncorrect, _)) => {
                token.wrong_pins = token.wrong_pins.saturating_add(1);
                let wrong_pins = token.wrong_pins;
                let info = self
                    .pkcs11
                    .get_token_info(slot)
                    .map_err(|e| token_error(&e))?;
                let status = pin_status(
                    info.user_pin_locked(),
                    info.user_pin_final_try(),
                    wrong_pins,
                );
                Ok(match status.tries_left {
                    Some(tries_left) if !status.blocked => PinOutcome::Wrong { tries_left },
                    _ => PinOutcome::Blocked,
                })
            }
            Err(Pkcs11Error::Pkcs11(RvError::PinLocked, _)) => Ok(PinOutcome::Blocked),
            Err(e) => Err(token_error(&e)),
        }
    }

    fn start_pinpad_verify(&mut self, reader: &str) -> Result<(), CardError> {
        let token = self.tokens.get(reader).ok_or(CardError::NotPresent)?;
        if !token.pinpad {
            return Err(CardError::PinpadUnavailable);
        }
        {
            let mut busy = lock(&self.pinpad_busy);
            if *busy {
                return Err(CardError::PinpadBusy);
            }
            *busy = true;
        }
        let slot = token.slot;
        let pkcs11 = self.pkcs11.clone();
        let pending = self.pending.clone();
        let busy = self.pinpad_busy.clone();
        let waker = self.waker();
        let reader = reader.to_owned();
        std::thread::Builder::new()
            .name("dspconnect-pkcs11-pinpad".to_owned())
            .spawn(move || {
                // Login state is shared by every session of the token.
                let outcome = pkcs11
                    .open_ro_session(slot)
                    .and_then(|session| session.login(UserType::User, None))
                    .map(|()| PinOutcome::Verified)
                    .or_else(|e| match e {
                        Pkcs11Error::Pkcs11(RvError::UserAlreadyLoggedIn, _) => {
                            Ok(PinOutcome::Verified)
                        }
                        Pkcs11Error::Pkcs11(RvError::PinLocked, _) => Ok(PinOutcome::Blocked),
                        other => Err(token_error(&other)),
                    });
                *lock(&busy) = false;
                lock(&pending).push(CardEvent::PinpadResult { reader, outcome });
                waker();
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
        if algorithm != SignatureAlgorithm::RsaSha256 {
            return Err(CardError::UnsupportedAlgorithm {
                requested: algorithm,
                supported: SignatureAlgorithm::RsaSha256,
            });
        }
        let digest_info =
            ihe::dsig::rsa_sha256_digest_info(digest).map_err(|e| CardError::Device {
                message: e.to_string(),
            })?;
        let token = self.token(reader)?;
        let key = Self::private_key(token)?;
        token
            .session
            .sign(&Mechanism::RsaPkcs, key, &digest_info)
            .map_err(|e| token_error(&e))
    }

    fn reset_security_state(&mut self, reader: &str) -> Result<(), CardError> {
        let Ok(token) = self.token(reader) else {
            return Ok(());
        };
        match token.session.logout() {
            Ok(()) | Err(Pkcs11Error::Pkcs11(RvError::UserNotLoggedIn, _)) => Ok(()),
            Err(e) => match token_error(&e) {
                CardError::Removed => Ok(()),
                other => Err(other),
            },
        }
    }
}

fn module_error(error: &Pkcs11Error) -> CardError {
    CardError::Reader {
        reader: "PKCS#11".into(),
        message: error.to_string(),
    }
}

fn token_error(error: &Pkcs11Error) -> CardError {
    match error {
        Pkcs11Error::Pkcs11(
            RvError::DeviceRemoved
            | RvError::TokenNotPresent
            | RvError::SessionHandleInvalid
            | RvError::SessionClosed,
            _,
        ) => CardError::Removed,
        Pkcs11Error::Pkcs11(RvError::UserNotLoggedIn, _) => CardError::PinRequired,
        Pkcs11Error::Pkcs11(RvError::PinLocked, _) => CardError::Blocked,
        other => CardError::Device {
            message: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pin_count_follows_wrong_pins_and_the_token_flags() {
        assert_eq!(pin_status(false, false, 0).tries_left, Some(3));
        assert_eq!(pin_status(false, false, 2).tries_left, Some(1));
        assert!(pin_status(false, false, 3).blocked);
        assert_eq!(pin_status(false, true, 0).tries_left, Some(1));
        let locked = pin_status(true, false, 0);
        assert!(locked.blocked);
        assert_eq!(locked.tries_left, Some(0));
    }

    #[test]
    fn a_missing_module_is_a_clear_error() {
        let err = match Pkcs11Backend::open(Path::new("/nonexistent/libvendor-pkcs11.so"), None) {
            Err(e) => e,
            Ok(_) => panic!("a missing module loaded"),
        };
        let text = err.to_string();
        assert!(text.contains("/nonexistent/libvendor-pkcs11.so"), "{text}");
    }
}
