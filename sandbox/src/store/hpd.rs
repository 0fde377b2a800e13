//! The HPD (annuaire national des professionnels de santé): professionals,
//! their bound card certificates and their activation letters.

use rusqlite::{OptionalExtension, Row, params};
use time::{Duration, OffsetDateTime};

use super::secret::{self, OneTimeCode};
use super::{During, Result, Store, StoreError, from_unix, is_unique_violation, unix};
use crate::pki::{CertificateSerial, Fingerprint};
use crate::policy::{EHealthId, ProfessionalStatus};

/// Groups of four symbols in an activation code (60 random bits).
const ACTIVATION_CODE_GROUPS: usize = 3;
/// How many other letters are checked to tell a code typed with the wrong
/// matricule from a wrong code.
const MISMATCH_SEARCH_LIMIT: i64 = 200;

/// A professional to list in the HPD.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewProfessional {
    pub ehealth_id: EHealthId,
    pub given_name: String,
    pub family_name: String,
    /// « médecin », « pharmacien », …
    pub profession: String,
    /// « médecine générale », « cardiologie », …
    pub specialty: Option<String>,
    /// The professional's own social-security matricule (password login id).
    pub matricule: String,
    pub email: Option<String>,
    pub status: ProfessionalStatus,
}

/// A professional as listed in the HPD (the password hash stays inside the store).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfessionalRecord {
    pub ehealth_id: EHealthId,
    pub given_name: String,
    pub family_name: String,
    pub profession: String,
    pub specialty: Option<String>,
    pub matricule: String,
    pub email: Option<String>,
    pub status: ProfessionalStatus,
    pub has_password: bool,
    pub created_at: OffsetDateTime,
}

impl ProfessionalRecord {
    /// "Given Family".
    pub fn full_name(&self) -> String {
        format!("{} {}", self.given_name, self.family_name)
    }
}

/// A card certificate bound to a professional.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardBinding {
    /// SHA-256 of the certificate's DER, lowercase hex.
    pub fingerprint: String,
    pub ehealth_id: EHealthId,
    /// Certificate serial, lowercase hex, when known.
    pub serial: Option<String>,
    pub bound_at: OffsetDateTime,
    pub revoked: bool,
    pub revoked_at: Option<OffsetDateTime>,
}

/// An activation letter that matched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActivationLetter {
    pub id: i64,
    pub ehealth_id: EHealthId,
    pub matricule: String,
    pub issued_at: OffsetDateTime,
    pub not_on_or_after: OffsetDateTime,
}

/// What an activation code and matricule amount to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LetterCheck {
    /// A letter for this matricule with this code, unused and in time.
    Valid(ActivationLetter),
    /// No letter carries this code.
    CodeInvalid,
    /// The code belongs to a letter for another matricule.
    MatriculeMismatch,
    /// The letter's time has passed.
    Expired,
    /// The letter was already used.
    Used,
}

const PROFESSIONAL_COLUMNS: &str = "ehealth_id, given_name, family_name, profession, specialty, \
     matricule, email, status, password_hash IS NOT NULL, created_at";

fn professional_from_row(row: &Row<'_>) -> rusqlite::Result<RawProfessional> {
    Ok(RawProfessional {
        ehealth_id: row.get(0)?,
        given_name: row.get(1)?,
        family_name: row.get(2)?,
        profession: row.get(3)?,
        specialty: row.get(4)?,
        matricule: row.get(5)?,
        email: row.get(6)?,
        status: row.get(7)?,
        has_password: row.get(8)?,
        created_at: row.get(9)?,
    })
}

/// A row as SQLite gives it, before its values are checked.
struct RawProfessional {
    ehealth_id: String,
    given_name: String,
    family_name: String,
    profession: String,
    specialty: Option<String>,
    matricule: String,
    email: Option<String>,
    status: String,
    has_password: bool,
    created_at: i64,
}

impl RawProfessional {
    fn check(self) -> Result<ProfessionalRecord> {
        Ok(ProfessionalRecord {
            ehealth_id: stored_ehealth_id(self.ehealth_id)?,
            status: ProfessionalStatus::parse(&self.status).ok_or(StoreError::Corrupt {
                what: "professional status",
                value: self.status,
            })?,
            given_name: self.given_name,
            family_name: self.family_name,
            profession: self.profession,
            specialty: self.specialty,
            matricule: self.matricule,
            email: self.email,
            has_password: self.has_password,
            created_at: from_unix(self.created_at, "professional creation time")?,
        })
    }
}

pub(super) fn stored_ehealth_id(text: String) -> Result<EHealthId> {
    EHealthId::new(text).map_err(|e| StoreError::Corrupt {
        what: "eHealth id",
        value: e.value,
    })
}

/// A `card_certificates` row: fingerprint, eHealth id, serial, bound at,
/// revoked, revoked at.
type RawBinding = (String, String, Option<String>, i64, bool, Option<i64>);

fn binding_from_row(row: &Row<'_>) -> rusqlite::Result<RawBinding> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
    ))
}

fn check_binding(raw: RawBinding) -> Result<CardBinding> {
    let (fingerprint, ehealth_id, serial, bound_at, revoked, revoked_at) = raw;
    Ok(CardBinding {
        fingerprint,
        ehealth_id: stored_ehealth_id(ehealth_id)?,
        serial,
        bound_at: from_unix(bound_at, "certificate binding time")?,
        revoked,
        revoked_at: revoked_at
            .map(|at| from_unix(at, "certificate revocation time"))
            .transpose()?,
    })
}

impl Store {
    /// Lists a professional in the HPD.
    pub fn add_professional(
        &self,
        professional: &NewProfessional,
        now: OffsetDateTime,
    ) -> Result<()> {
        self.with(|connection| {
            connection
                .execute(
                    "INSERT INTO professionals (ehealth_id, given_name, family_name, profession, \
                     specialty, matricule, email, status, created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    params![
                        professional.ehealth_id.as_str(),
                        professional.given_name,
                        professional.family_name,
                        professional.profession,
                        professional.specialty,
                        professional.matricule,
                        professional.email,
                        professional.status.as_str(),
                        unix(now),
                    ],
                )
                .map_err(|source| {
                    if is_unique_violation(&source) {
                        StoreError::AlreadyExists {
                            what: "professional (eHealth id or matricule)",
                            id: professional.ehealth_id.to_string(),
                        }
                    } else {
                        StoreError::Sqlite {
                            doing: "adding a professional",
                            source,
                        }
                    }
                })?;
            Ok(())
        })
    }

    /// The professional with this eHealth id.
    pub fn professional(&self, id: &EHealthId) -> Result<Option<ProfessionalRecord>> {
        self.with(|connection| {
            connection
                .query_row(
                    &format!(
                        "SELECT {PROFESSIONAL_COLUMNS} FROM professionals WHERE ehealth_id = ?1"
                    ),
                    [id.as_str()],
                    professional_from_row,
                )
                .optional()
                .during("reading a professional")?
                .map(RawProfessional::check)
                .transpose()
        })
    }

    /// The professional whose own matricule this is (password login).
    pub fn professional_by_matricule(&self, matricule: &str) -> Result<Option<ProfessionalRecord>> {
        self.with(|connection| {
            connection
                .query_row(
                    &format!(
                        "SELECT {PROFESSIONAL_COLUMNS} FROM professionals WHERE matricule = ?1"
                    ),
                    [matricule],
                    professional_from_row,
                )
                .optional()
                .during("reading a professional by matricule")?
                .map(RawProfessional::check)
                .transpose()
        })
    }

    /// Every professional, by family then given name.
    pub fn professionals(&self) -> Result<Vec<ProfessionalRecord>> {
        self.search_professionals("")
    }

    /// Professionals whose given or family name contains `name_part`
    /// (case-insensitive for ASCII), by family then given name.
    pub fn search_professionals(&self, name_part: &str) -> Result<Vec<ProfessionalRecord>> {
        // LIKE wildcards in the input are matched literally.
        let escaped = name_part
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let pattern = format!("%{escaped}%");
        self.with(|connection| {
            let mut statement = connection
                .prepare(&format!(
                    "SELECT {PROFESSIONAL_COLUMNS} FROM professionals \
                     WHERE given_name LIKE ?1 ESCAPE '\\' OR family_name LIKE ?1 ESCAPE '\\' \
                     ORDER BY family_name, given_name, ehealth_id"
                ))
                .during("searching the HPD")?;
            let rows = statement
                .query_map([pattern], professional_from_row)
                .during("searching the HPD")?;
            rows.map(|row| row.during("searching the HPD")?.check())
                .collect()
        })
    }

    /// Sets a professional's status (activation, deactivation).
    pub fn set_professional_status(
        &self,
        id: &EHealthId,
        status: ProfessionalStatus,
    ) -> Result<()> {
        self.with(|connection| {
            let changed = connection
                .execute(
                    "UPDATE professionals SET status = ?2 WHERE ehealth_id = ?1",
                    params![id.as_str(), status.as_str()],
                )
                .during("setting a professional's status")?;
            found(changed, "professional", id.as_str())
        })
    }

    /// Sets (or changes: charter « peut être modifié à tout moment ») a
    /// professional's password; only its hash is kept.
    pub fn set_professional_password(&self, id: &EHealthId, password: &str) -> Result<()> {
        let hash = secret::hash_secret(password.as_bytes())?;
        self.with(|connection| {
            let changed = connection
                .execute(
                    "UPDATE professionals SET password_hash = ?2 WHERE ehealth_id = ?1",
                    params![id.as_str(), hash],
                )
                .during("setting a professional's password")?;
            found(changed, "professional", id.as_str())
        })
    }

    /// The professional with this matricule, if `password` is theirs.
    pub fn check_professional_password(
        &self,
        matricule: &str,
        password: &str,
    ) -> Result<Option<ProfessionalRecord>> {
        let stored: Option<(Option<String>, RawProfessional)> = self.with(|connection| {
            connection
                .query_row(
                    &format!(
                        "SELECT password_hash, {PROFESSIONAL_COLUMNS} FROM professionals WHERE matricule = ?1"
                    ),
                    [matricule],
                    |row| {
                        let hash: Option<String> = row.get(0)?;
                        let raw = RawProfessional {
                            ehealth_id: row.get(1)?,
                            given_name: row.get(2)?,
                            family_name: row.get(3)?,
                            profession: row.get(4)?,
                            specialty: row.get(5)?,
                            matricule: row.get(6)?,
                            email: row.get(7)?,
                            status: row.get(8)?,
                            has_password: row.get(9)?,
                            created_at: row.get(10)?,
                        };
                        Ok((hash, raw))
                    },
                )
                .optional()
                .during("reading a professional's password")
        })?;
        // The hash is checked outside the lock: argon2 takes milliseconds.
        match stored {
            Some((Some(hash), raw)) if secret::verify_secret(&hash, password.as_bytes())? => {
                Ok(Some(raw.check()?))
            }
            _ => Ok(None),
        }
    }

    /// Binds a card certificate to a professional (activation).
    pub fn bind_card_certificate(
        &self,
        id: &EHealthId,
        fingerprint: &Fingerprint,
        serial: Option<&CertificateSerial>,
        now: OffsetDateTime,
    ) -> Result<()> {
        self.with(|connection| {
            connection
                .execute(
                    "INSERT INTO card_certificates (fingerprint, ehealth_id, serial, bound_at) \
                     VALUES (?1, ?2, ?3, ?4)",
                    params![
                        fingerprint.to_string(),
                        id.as_str(),
                        serial.map(ToString::to_string),
                        unix(now)
                    ],
                )
                .map_err(|source| {
                    if is_unique_violation(&source) {
                        StoreError::AlreadyExists {
                            what: "card certificate binding",
                            id: fingerprint.to_string(),
                        }
                    } else {
                        StoreError::Sqlite {
                            doing: "binding a card certificate",
                            source,
                        }
                    }
                })?;
            Ok(())
        })
    }

    /// Who this certificate is bound to, if anyone.
    pub fn card_binding(&self, fingerprint: &Fingerprint) -> Result<Option<CardBinding>> {
        self.with(|connection| {
            connection
                .query_row(
                    "SELECT fingerprint, ehealth_id, serial, bound_at, revoked, revoked_at \
                     FROM card_certificates WHERE fingerprint = ?1",
                    [fingerprint.to_string()],
                    binding_from_row,
                )
                .optional()
                .during("reading a card binding")?
                .map(check_binding)
                .transpose()
        })
    }

    /// Every certificate bound to a professional, oldest first.
    pub fn card_bindings_of(&self, id: &EHealthId) -> Result<Vec<CardBinding>> {
        self.with(|connection| {
            let mut statement = connection
                .prepare(
                    "SELECT fingerprint, ehealth_id, serial, bound_at, revoked, revoked_at \
                     FROM card_certificates WHERE ehealth_id = ?1 ORDER BY bound_at, fingerprint",
                )
                .during("listing card bindings")?;
            let rows = statement
                .query_map([id.as_str()], binding_from_row)
                .during("listing card bindings")?;
            rows.map(|row| check_binding(row.during("listing card bindings")?))
                .collect()
        })
    }

    /// Marks a bound certificate revoked (« faites désactiver votre moyen
    /// d'authentification »).
    pub fn revoke_card_certificate(
        &self,
        fingerprint: &Fingerprint,
        now: OffsetDateTime,
    ) -> Result<()> {
        self.with(|connection| {
            let changed = connection
                .execute(
                    "UPDATE card_certificates SET revoked = 1, revoked_at = COALESCE(revoked_at, ?2) \
                     WHERE fingerprint = ?1",
                    params![fingerprint.to_string(), unix(now)],
                )
                .during("revoking a card certificate")?;
            found(changed, "card certificate binding", &fingerprint.to_string())
        })
    }

    /// Issues an activation letter for a listed professional: its code is
    /// returned once, in clear, and only its hash is kept.
    pub fn issue_activation_letter(
        &self,
        id: &EHealthId,
        now: OffsetDateTime,
        lifetime: Duration,
    ) -> Result<OneTimeCode> {
        let code = OneTimeCode::generate(ACTIVATION_CODE_GROUPS);
        let hash = secret::hash_code(code.expose())?;
        self.with(|connection| {
            let matricule: String = connection
                .query_row(
                    "SELECT matricule FROM professionals WHERE ehealth_id = ?1",
                    [id.as_str()],
                    |row| row.get(0),
                )
                .optional()
                .during("reading a professional's matricule")?
                .ok_or_else(|| StoreError::NotFound {
                    what: "professional",
                    id: id.to_string(),
                })?;
            connection
                .execute(
                    "INSERT INTO activation_letters (ehealth_id, matricule, code_hash, issued_at, not_on_or_after) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![id.as_str(), matricule, hash, unix(now), unix(now + lifetime)],
                )
                .during("issuing an activation letter")?;
            Ok(())
        })?;
        Ok(code)
    }

    /// Checks an activation code typed with a matricule (the activation
    /// request); does not use the letter up (see
    /// [`Store::mark_activation_letter_used`]).
    pub fn check_activation_letter(
        &self,
        matricule: &str,
        code: &str,
        now: OffsetDateTime,
    ) -> Result<LetterCheck> {
        type RawLetter = (i64, String, String, String, i64, i64, Option<i64>);
        let read = |sql: &str, param: &dyn rusqlite::ToSql| -> Result<Vec<RawLetter>> {
            self.with(|connection| {
                let mut statement = connection
                    .prepare(sql)
                    .during("reading activation letters")?;
                let rows = statement
                    .query_map([param], |row| {
                        Ok((
                            row.get(0)?,
                            row.get(1)?,
                            row.get(2)?,
                            row.get(3)?,
                            row.get(4)?,
                            row.get(5)?,
                            row.get(6)?,
                        ))
                    })
                    .during("reading activation letters")?;
                rows.map(|row| row.during("reading activation letters"))
                    .collect()
            })
        };
        let columns = "id, ehealth_id, matricule, code_hash, issued_at, not_on_or_after, used_at";
        let own = read(
            &format!(
                "SELECT {columns} FROM activation_letters WHERE matricule = ?1 ORDER BY issued_at DESC, id DESC"
            ),
            &matricule,
        )?;
        for (id, ehealth_id, matricule, hash, issued_at, not_on_or_after, used_at) in own {
            if !secret::verify_code(&hash, code)? {
                continue;
            }
            if used_at.is_some() {
                return Ok(LetterCheck::Used);
            }
            let not_on_or_after = from_unix(not_on_or_after, "activation letter expiry")?;
            if now >= not_on_or_after {
                return Ok(LetterCheck::Expired);
            }
            return Ok(LetterCheck::Valid(ActivationLetter {
                id,
                ehealth_id: stored_ehealth_id(ehealth_id)?,
                matricule,
                issued_at: from_unix(issued_at, "activation letter issue time")?,
                not_on_or_after,
            }));
        }
        // Not this matricule's code: is it another (unused) letter's?
        let others = read(
            &format!(
                "SELECT {columns} FROM activation_letters WHERE used_at IS NULL AND matricule <> ?1 \
                 ORDER BY issued_at DESC LIMIT {MISMATCH_SEARCH_LIMIT}"
            ),
            &matricule,
        )?;
        for (_, _, _, hash, _, _, _) in others {
            if secret::verify_code(&hash, code)? {
                return Ok(LetterCheck::MatriculeMismatch);
            }
        }
        Ok(LetterCheck::CodeInvalid)
    }

    /// Uses a letter up (activation confirmed); a letter is used once.
    pub fn mark_activation_letter_used(&self, letter_id: i64, now: OffsetDateTime) -> Result<()> {
        self.with(|connection| {
            let changed = connection
                .execute(
                    "UPDATE activation_letters SET used_at = ?2 WHERE id = ?1 AND used_at IS NULL",
                    params![letter_id, unix(now)],
                )
                .during("using an activation letter")?;
            found(changed, "unused activation letter", &letter_id.to_string())
        })
    }
}

/// `NotFound` when an UPDATE changed nothing.
pub(super) fn found(changed: usize, what: &'static str, id: &str) -> Result<()> {
    if changed == 0 {
        Err(StoreError::NotFound {
            what,
            id: id.to_owned(),
        })
    } else {
        Ok(())
    }
}
