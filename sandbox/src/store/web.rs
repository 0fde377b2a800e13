//! The web side's secrets: one-time portal tickets, browser sessions, and
//! the e-mail confirmation codes of account activation.
//!
//! Tickets and session tokens are 256 random bits, so a SHA-256 of them is
//! enough at rest (no password stretching needed); the e-mail code is short
//! and typed by a person, so it is argon2-hashed like the other codes and its
//! tries are counted.

use std::fmt;

use rand_core::{OsRng, RngCore};
use rusqlite::{OptionalExtension, params};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};
use zeroize::Zeroizing;

use super::hpd::found;
use super::{During, Result, Store, StoreError, from_unix, secret, unix};
use crate::policy::{EHealthId, PatientId};

/// Wrong e-mail codes accepted before the code is void.
pub const EMAIL_CODE_MAX_ATTEMPTS: i64 = 5;

/// A bearer token in clear (portal ticket or session cookie): handed out
/// once, zeroized on drop, never shown by `Debug`.
pub struct WebToken(Zeroizing<String>);

impl WebToken {
    fn generate() -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(bytes.as_mut());
        let mut text = Zeroizing::new(String::with_capacity(64));
        for b in bytes.iter() {
            text.push(char::from(HEX[usize::from(b >> 4)]));
            text.push(char::from(HEX[usize::from(b & 15)]));
        }
        WebToken(text)
    }

    /// The token, to put in a URL or a cookie.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for WebToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebToken(<redacted>)")
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.trim().as_bytes());
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
    out
}

/// What presenting a portal ticket amounts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TicketRedemption {
    /// The ticket was valid and is now spent: open this patient's DSP page
    /// for this professional.
    Redeemed {
        ehealth_id: EHealthId,
        patient: PatientId,
    },
    /// No such ticket.
    Unknown,
    /// The ticket's time has passed.
    Expired,
    /// The ticket was already redeemed (a second use of a bearer secret).
    AlreadyUsed,
}

/// Who a browser session belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebSubject {
    /// A professional, for one patient's DSP (opened by a portal ticket).
    Professional {
        ehealth_id: EHealthId,
        patient: PatientId,
    },
    /// The patient, on their own DSP.
    Patient(PatientId),
    /// An accompagnateur, by login (reads the DSPs of the patients who named them).
    Accompagnateur(String),
}

/// A live browser session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSession {
    pub subject: WebSubject,
    pub not_on_or_after: OffsetDateTime,
}

/// What an e-mail confirmation code amounts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailCodeCheck {
    /// The right code, in time, from the card that started the activation.
    Valid { email_code_id: i64, email: String },
    /// No confirmation was started for this letter.
    NotStarted,
    /// The code is wrong (the try is counted).
    Invalid { attempts_left: i64 },
    /// The code's time has passed, or too many wrong tries voided it.
    Expired,
    /// Step 2 is signed by another card than step 1.
    OtherCard,
    /// The code was already used.
    Used,
}

impl Store {
    /// Issues a one-time portal ticket for `professional` on `patient`'s DSP.
    pub fn issue_portal_ticket(
        &self,
        professional: &EHealthId,
        patient: &PatientId,
        now: OffsetDateTime,
        lifetime: Duration,
    ) -> Result<WebToken> {
        let token = WebToken::generate();
        let hash = token_hash(token.expose());
        self.with(|connection| {
            connection
                .execute(
                    "INSERT INTO portal_tickets \
                     (token_hash, ehealth_id, patient, created_at, not_on_or_after) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![
                        hash,
                        professional.as_str(),
                        patient.as_str(),
                        unix(now),
                        unix(now + lifetime)
                    ],
                )
                .during("issuing a portal ticket")?;
            Ok(())
        })?;
        Ok(token)
    }

    /// Spends a portal ticket. Atomic: of two simultaneous presentations,
    /// one is `Redeemed` and the other `AlreadyUsed`.
    pub fn redeem_portal_ticket(
        &self,
        ticket: &str,
        now: OffsetDateTime,
    ) -> Result<TicketRedemption> {
        let hash = token_hash(ticket);
        self.with(|connection| {
            let transaction = connection
                .transaction()
                .during("redeeming a portal ticket")?;
            let row: Option<(String, String, i64, Option<i64>)> = transaction
                .query_row(
                    "SELECT ehealth_id, patient, not_on_or_after, redeemed_at \
                     FROM portal_tickets WHERE token_hash = ?1",
                    [&hash],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()
                .during("redeeming a portal ticket")?;
            let Some((ehealth_id, patient, not_on_or_after, redeemed_at)) = row else {
                return Ok(TicketRedemption::Unknown);
            };
            if redeemed_at.is_some() {
                return Ok(TicketRedemption::AlreadyUsed);
            }
            if unix(now) >= not_on_or_after {
                return Ok(TicketRedemption::Expired);
            }
            transaction
                .execute(
                    "UPDATE portal_tickets SET redeemed_at = ?2 \
                     WHERE token_hash = ?1 AND redeemed_at IS NULL",
                    params![hash, unix(now)],
                )
                .during("redeeming a portal ticket")?;
            transaction.commit().during("redeeming a portal ticket")?;
            Ok(TicketRedemption::Redeemed {
                ehealth_id: EHealthId::new(ehealth_id.clone()).map_err(|_| {
                    StoreError::Corrupt {
                        what: "eHealth id",
                        value: ehealth_id,
                    }
                })?,
                patient: PatientId::new(patient.clone()).map_err(|_| StoreError::Corrupt {
                    what: "patient matricule",
                    value: patient,
                })?,
            })
        })
    }

    /// Opens a browser session; the token goes into the session cookie.
    pub fn open_web_session(
        &self,
        subject: &WebSubject,
        now: OffsetDateTime,
        lifetime: Duration,
    ) -> Result<WebToken> {
        let token = WebToken::generate();
        let hash = token_hash(token.expose());
        let (kind, who, patient) = match subject {
            WebSubject::Professional {
                ehealth_id,
                patient,
            } => ("professional", ehealth_id.as_str(), Some(patient.as_str())),
            WebSubject::Patient(p) => ("patient", p.as_str(), Some(p.as_str())),
            WebSubject::Accompagnateur(login) => ("accompagnateur", login.as_str(), None),
        };
        self.with(|connection| {
            connection
                .execute(
                    "INSERT INTO web_sessions \
                     (token_hash, kind, subject, patient, created_at, not_on_or_after) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![hash, kind, who, patient, unix(now), unix(now + lifetime)],
                )
                .during("opening a web session")?;
            Ok(())
        })?;
        Ok(token)
    }

    /// The live session a cookie token stands for, if any.
    pub fn web_session(&self, token: &str, now: OffsetDateTime) -> Result<Option<WebSession>> {
        let hash = token_hash(token);
        let row: Option<(String, String, Option<String>, i64)> = self.with(|connection| {
            connection
                .query_row(
                    "SELECT kind, subject, patient, not_on_or_after FROM web_sessions \
                     WHERE token_hash = ?1 AND closed_at IS NULL AND not_on_or_after > ?2",
                    params![hash, unix(now)],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()
                .during("reading a web session")
        })?;
        let Some((kind, subject, patient, not_on_or_after)) = row else {
            return Ok(None);
        };
        let corrupt = |value: String| StoreError::Corrupt {
            what: "web session",
            value,
        };
        let patient_id = |p: Option<String>| -> Result<PatientId> {
            let p = p.ok_or_else(|| corrupt("session without its patient".into()))?;
            PatientId::new(p.clone()).map_err(|_| corrupt(p))
        };
        let subject = match kind.as_str() {
            "professional" => WebSubject::Professional {
                ehealth_id: EHealthId::new(subject.clone()).map_err(|_| corrupt(subject))?,
                patient: patient_id(patient)?,
            },
            "patient" => WebSubject::Patient(patient_id(patient)?),
            "accompagnateur" => WebSubject::Accompagnateur(subject),
            other => return Err(corrupt(other.to_owned())),
        };
        Ok(Some(WebSession {
            subject,
            not_on_or_after: from_unix(not_on_or_after, "web session expiry")?,
        }))
    }

    /// Ends a browser session (log out).
    pub fn close_web_session(&self, token: &str, now: OffsetDateTime) -> Result<()> {
        let hash = token_hash(token);
        self.with(|connection| {
            connection
                .execute(
                    "UPDATE web_sessions SET closed_at = ?2 WHERE token_hash = ?1 AND closed_at IS NULL",
                    params![hash, unix(now)],
                )
                .during("closing a web session")?;
            Ok(())
        })
    }

    /// Starts the e-mail confirmation of an activation: an 8-digit code,
    /// returned once (to be mailed), bound to the letter, the address and
    /// the card that signed the request. A new start voids earlier codes.
    pub fn start_email_confirmation(
        &self,
        letter_id: i64,
        email: &str,
        certificate_fingerprint: &str,
        now: OffsetDateTime,
        lifetime: Duration,
    ) -> Result<Zeroizing<String>> {
        let code = secret::generate_digits(8);
        let hash = secret::hash_code(&code)?;
        self.with(|connection| {
            let transaction = connection.transaction().during("starting an e-mail confirmation")?;
            transaction
                .execute(
                    "UPDATE activation_email_codes SET used_at = ?2 \
                     WHERE letter_id = ?1 AND used_at IS NULL",
                    params![letter_id, unix(now)],
                )
                .during("voiding earlier e-mail codes")?;
            transaction
                .execute(
                    "INSERT INTO activation_email_codes \
                     (letter_id, email, certificate_fingerprint, code_hash, created_at, not_on_or_after) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        letter_id,
                        email,
                        certificate_fingerprint,
                        hash,
                        unix(now),
                        unix(now + lifetime)
                    ],
                )
                .during("starting an e-mail confirmation")?;
            transaction.commit().during("starting an e-mail confirmation")?;
            Ok(())
        })?;
        Ok(code)
    }

    /// Checks an e-mail confirmation code presented for `letter_id` by the
    /// card with `certificate_fingerprint`. A wrong code counts a try; after
    /// [`EMAIL_CODE_MAX_ATTEMPTS`] the code is void.
    pub fn check_email_confirmation(
        &self,
        letter_id: i64,
        code: &str,
        certificate_fingerprint: &str,
        now: OffsetDateTime,
    ) -> Result<EmailCodeCheck> {
        type Row = (i64, String, String, String, i64, i64, Option<i64>);
        let row: Option<Row> = self.with(|connection| {
            connection
                .query_row(
                    "SELECT id, email, certificate_fingerprint, code_hash, not_on_or_after, \
                     attempts, used_at FROM activation_email_codes WHERE letter_id = ?1 \
                     ORDER BY id DESC LIMIT 1",
                    [letter_id],
                    |r| {
                        Ok((
                            r.get(0)?,
                            r.get(1)?,
                            r.get(2)?,
                            r.get(3)?,
                            r.get(4)?,
                            r.get(5)?,
                            r.get(6)?,
                        ))
                    },
                )
                .optional()
                .during("reading an e-mail confirmation")
        })?;
        let Some((id, email, fingerprint, hash, not_on_or_after, attempts, used_at)) = row else {
            return Ok(EmailCodeCheck::NotStarted);
        };
        if used_at.is_some() {
            return Ok(EmailCodeCheck::Used);
        }
        if unix(now) >= not_on_or_after || attempts >= EMAIL_CODE_MAX_ATTEMPTS {
            return Ok(EmailCodeCheck::Expired);
        }
        if fingerprint != certificate_fingerprint {
            return Ok(EmailCodeCheck::OtherCard);
        }
        if secret::verify_code(&hash, code)? {
            return Ok(EmailCodeCheck::Valid {
                email_code_id: id,
                email,
            });
        }
        self.with(|connection| {
            connection
                .execute(
                    "UPDATE activation_email_codes SET attempts = attempts + 1 WHERE id = ?1",
                    [id],
                )
                .during("counting a wrong e-mail code")?;
            Ok(())
        })?;
        Ok(EmailCodeCheck::Invalid {
            attempts_left: EMAIL_CODE_MAX_ATTEMPTS - attempts - 1,
        })
    }

    /// Marks an e-mail code used (once the activation is complete).
    pub fn mark_email_code_used(&self, email_code_id: i64, now: OffsetDateTime) -> Result<()> {
        self.with(|connection| {
            let changed = connection
                .execute(
                    "UPDATE activation_email_codes SET used_at = ?2 WHERE id = ?1 AND used_at IS NULL",
                    params![email_code_id, unix(now)],
                )
                .during("using an e-mail code")?;
            found(changed, "unused e-mail code", &email_code_id.to_string())
        })
    }
}
