//! Patients, accompagnateurs, the patient's consents (référent, cercle de
//! confiance, black list, accompagnateur), codes de présence and the
//! consultation grants they are exchanged for.

use rusqlite::{Connection, OptionalExtension, params};
use time::{Duration, OffsetDateTime};

use super::hpd::{found, stored_ehealth_id};
use super::secret::{self, OneTimeCode};
use super::{During, Result, Store, StoreError, from_unix, is_unique_violation, unix};
use crate::policy::{AccompagnateurId, ConsultationGrant, EHealthId, PatientId, PatientRelations};

/// Groups of four symbols in a presence code (40 random bits).
const PRESENCE_CODE_GROUPS: usize = 2;
/// How many of a patient's latest codes a presented code is compared with.
const PRESENCE_CODE_SEARCH_LIMIT: i64 = 20;

/// A patient to register.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewPatient {
    pub id: PatientId,
    pub given_name: String,
    pub family_name: String,
}

/// A registered patient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatientRecord {
    pub id: PatientId,
    pub given_name: String,
    pub family_name: String,
    pub has_portal_password: bool,
    pub created_at: OffsetDateTime,
}

/// A registered accompagnateur.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccompagnateurRecord {
    pub login: AccompagnateurId,
    pub given_name: String,
    pub family_name: String,
    pub created_at: OffsetDateTime,
}

/// What presenting a code de présence gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PresenceCodeRedemption {
    /// The code is spent; this grant opens PC for the consultation.
    Granted(ConsultationGrant),
    /// No code of this patient is this one.
    Invalid,
    /// The code was already presented (by anyone).
    Spent,
    /// The code's time has passed.
    Expired,
}

/// The patient's consents about professionals, as stored.
#[derive(Clone, Copy)]
enum CareRelation {
    Referent,
    Cercle,
    BlackList,
}

impl CareRelation {
    fn as_str(self) -> &'static str {
        match self {
            CareRelation::Referent => "referent",
            CareRelation::Cercle => "cercle",
            CareRelation::BlackList => "black_list",
        }
    }
}

fn stored_patient_id(text: String) -> Result<PatientId> {
    PatientId::new(text).map_err(|e| StoreError::Corrupt {
        what: "patient matricule",
        value: e.value,
    })
}

fn stored_accompagnateur(text: String) -> Result<AccompagnateurId> {
    AccompagnateurId::new(text).map_err(|e| StoreError::Corrupt {
        what: "accompagnateur login",
        value: e.value,
    })
}

fn patient_exists(connection: &Connection, patient: &PatientId) -> Result<()> {
    let exists: bool = connection
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM patients WHERE matricule = ?1)",
            [patient.as_str()],
            |row| row.get(0),
        )
        .during("looking a patient up")?;
    if exists {
        Ok(())
    } else {
        Err(StoreError::NotFound {
            what: "patient",
            id: patient.to_string(),
        })
    }
}

fn insert_error(
    what: &'static str,
    id: &str,
    doing: &'static str,
) -> impl Fn(rusqlite::Error) -> StoreError {
    let id = id.to_owned();
    move |source| {
        if is_unique_violation(&source) {
            StoreError::AlreadyExists {
                what,
                id: id.clone(),
            }
        } else if matches!(&source, rusqlite::Error::SqliteFailure(e, _)
            if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY)
        {
            StoreError::Invalid {
                what,
                reason: format!(
                    "'{id}' names a patient, professional or person the store does not know"
                ),
            }
        } else {
            StoreError::Sqlite { doing, source }
        }
    }
}

impl Store {
    /// Registers a patient, with a portal password (sandbox login) or none.
    pub fn add_patient(
        &self,
        patient: &NewPatient,
        portal_password: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<()> {
        let hash = portal_password
            .map(|password| secret::hash_secret(password.as_bytes()))
            .transpose()?;
        self.with(|connection| {
            connection
                .execute(
                    "INSERT INTO patients (matricule, given_name, family_name, password_hash, created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![
                        patient.id.as_str(),
                        patient.given_name,
                        patient.family_name,
                        hash,
                        unix(now)
                    ],
                )
                .map_err(insert_error("patient", patient.id.as_str(), "adding a patient"))?;
            Ok(())
        })
    }

    /// The patient with this matricule.
    pub fn patient(&self, id: &PatientId) -> Result<Option<PatientRecord>> {
        self.with(|connection| {
            connection
                .query_row(
                    "SELECT matricule, given_name, family_name, password_hash IS NOT NULL, created_at \
                     FROM patients WHERE matricule = ?1",
                    [id.as_str()],
                    |row| {
                        Ok((
                            row.get::<_, String>(0)?,
                            row.get::<_, String>(1)?,
                            row.get::<_, String>(2)?,
                            row.get::<_, bool>(3)?,
                            row.get::<_, i64>(4)?,
                        ))
                    },
                )
                .optional()
                .during("reading a patient")?
                .map(|(id, given_name, family_name, has_portal_password, created_at)| {
                    Ok(PatientRecord {
                        id: stored_patient_id(id)?,
                        given_name,
                        family_name,
                        has_portal_password,
                        created_at: from_unix(created_at, "patient creation time")?,
                    })
                })
                .transpose()
        })
    }

    /// Sets a patient's portal password.
    pub fn set_patient_password(&self, id: &PatientId, password: &str) -> Result<()> {
        let hash = secret::hash_secret(password.as_bytes())?;
        self.with(|connection| {
            let changed = connection
                .execute(
                    "UPDATE patients SET password_hash = ?2 WHERE matricule = ?1",
                    params![id.as_str(), hash],
                )
                .during("setting a patient's password")?;
            found(changed, "patient", id.as_str())
        })
    }

    /// Whether `password` is this patient's portal password.
    pub fn check_patient_password(&self, id: &PatientId, password: &str) -> Result<bool> {
        let hash: Option<Option<String>> = self.with(|connection| {
            connection
                .query_row(
                    "SELECT password_hash FROM patients WHERE matricule = ?1",
                    [id.as_str()],
                    |row| row.get(0),
                )
                .optional()
                .during("reading a patient's password")
        })?;
        match hash.flatten() {
            Some(hash) => secret::verify_secret(&hash, password.as_bytes()),
            None => Ok(false),
        }
    }

    /// Registers an accompagnateur (a person with a portal login).
    pub fn add_accompagnateur(
        &self,
        login: &AccompagnateurId,
        given_name: &str,
        family_name: &str,
        password: &str,
        now: OffsetDateTime,
    ) -> Result<()> {
        let hash = secret::hash_secret(password.as_bytes())?;
        self.with(|connection| {
            connection
                .execute(
                    "INSERT INTO accompagnateurs (login, given_name, family_name, password_hash, created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![login.as_str(), given_name, family_name, hash, unix(now)],
                )
                .map_err(insert_error(
                    "accompagnateur",
                    login.as_str(),
                    "adding an accompagnateur",
                ))?;
            Ok(())
        })
    }

    /// The accompagnateur with this login.
    pub fn accompagnateur(&self, login: &AccompagnateurId) -> Result<Option<AccompagnateurRecord>> {
        self.with(|connection| {
            connection
                .query_row(
                    "SELECT login, given_name, family_name, created_at FROM accompagnateurs WHERE login = ?1",
                    [login.as_str()],
                    |row| {
                        Ok((
                            row.get::<_, String>(0)?,
                            row.get::<_, String>(1)?,
                            row.get::<_, String>(2)?,
                            row.get::<_, i64>(3)?,
                        ))
                    },
                )
                .optional()
                .during("reading an accompagnateur")?
                .map(|(login, given_name, family_name, created_at)| {
                    Ok(AccompagnateurRecord {
                        login: stored_accompagnateur(login)?,
                        given_name,
                        family_name,
                        created_at: from_unix(created_at, "accompagnateur creation time")?,
                    })
                })
                .transpose()
        })
    }

    /// Whether `password` is this accompagnateur's portal password.
    pub fn check_accompagnateur_password(
        &self,
        login: &AccompagnateurId,
        password: &str,
    ) -> Result<bool> {
        let hash: Option<String> = self.with(|connection| {
            connection
                .query_row(
                    "SELECT password_hash FROM accompagnateurs WHERE login = ?1",
                    [login.as_str()],
                    |row| row.get(0),
                )
                .optional()
                .during("reading an accompagnateur's password")
        })?;
        match hash {
            Some(hash) => secret::verify_secret(&hash, password.as_bytes()),
            None => Ok(false),
        }
    }

    /// The patients who named this person their accompagnateur.
    pub fn patients_accompanied_by(&self, login: &AccompagnateurId) -> Result<Vec<PatientId>> {
        self.with(|connection| {
            let mut statement = connection
                .prepare(
                    "SELECT patient FROM patient_accompagnateurs WHERE accompagnateur = ?1 ORDER BY patient",
                )
                .during("listing accompanied patients")?;
            let rows = statement
                .query_map([login.as_str()], |row| row.get::<_, String>(0))
                .during("listing accompanied patients")?;
            rows.map(|row| stored_patient_id(row.during("listing accompanied patients")?))
                .collect()
        })
    }

    /// Chooses (or, with `None`, removes) the patient's médecin référent.
    pub fn set_referent(
        &self,
        patient: &PatientId,
        referent: Option<&EHealthId>,
        now: OffsetDateTime,
    ) -> Result<()> {
        self.with(|connection| {
            patient_exists(connection, patient)?;
            let transaction = connection.transaction().during("choosing a référent")?;
            transaction
                .execute(
                    "DELETE FROM patient_professionals WHERE patient = ?1 AND relation = ?2",
                    params![patient.as_str(), CareRelation::Referent.as_str()],
                )
                .during("choosing a référent")?;
            if let Some(referent) = referent {
                transaction
                    .execute(
                        "INSERT INTO patient_professionals (patient, ehealth_id, relation, since) \
                         VALUES (?1, ?2, ?3, ?4)",
                        params![
                            patient.as_str(),
                            referent.as_str(),
                            CareRelation::Referent.as_str(),
                            unix(now)
                        ],
                    )
                    .map_err(insert_error(
                        "médecin référent",
                        referent.as_str(),
                        "choosing a référent",
                    ))?;
            }
            transaction.commit().during("choosing a référent")
        })
    }

    /// Adds a professional to the patient's cercle de confiance.
    pub fn add_to_cercle(
        &self,
        patient: &PatientId,
        professional: &EHealthId,
        now: OffsetDateTime,
    ) -> Result<()> {
        self.add_relation(patient, professional, CareRelation::Cercle, now)
    }

    /// Removes a professional from the patient's cercle de confiance.
    pub fn remove_from_cercle(&self, patient: &PatientId, professional: &EHealthId) -> Result<()> {
        self.remove_relation(patient, professional, CareRelation::Cercle)
    }

    /// Puts a professional on the patient's black list.
    pub fn add_to_black_list(
        &self,
        patient: &PatientId,
        professional: &EHealthId,
        now: OffsetDateTime,
    ) -> Result<()> {
        self.add_relation(patient, professional, CareRelation::BlackList, now)
    }

    /// Takes a professional off the patient's black list.
    pub fn remove_from_black_list(
        &self,
        patient: &PatientId,
        professional: &EHealthId,
    ) -> Result<()> {
        self.remove_relation(patient, professional, CareRelation::BlackList)
    }

    fn add_relation(
        &self,
        patient: &PatientId,
        professional: &EHealthId,
        relation: CareRelation,
        now: OffsetDateTime,
    ) -> Result<()> {
        self.with(|connection| {
            patient_exists(connection, patient)?;
            connection
                .execute(
                    "INSERT OR IGNORE INTO patient_professionals (patient, ehealth_id, relation, since) \
                     VALUES (?1, ?2, ?3, ?4)",
                    params![patient.as_str(), professional.as_str(), relation.as_str(), unix(now)],
                )
                .map_err(insert_error(
                    "professional",
                    professional.as_str(),
                    "recording a patient's consent",
                ))?;
            Ok(())
        })
    }

    fn remove_relation(
        &self,
        patient: &PatientId,
        professional: &EHealthId,
        relation: CareRelation,
    ) -> Result<()> {
        self.with(|connection| {
            let changed = connection
                .execute(
                    "DELETE FROM patient_professionals WHERE patient = ?1 AND ehealth_id = ?2 AND relation = ?3",
                    params![patient.as_str(), professional.as_str(), relation.as_str()],
                )
                .during("removing a patient's consent")?;
            found(changed, "such consent for professional", professional.as_str())
        })
    }

    /// Names an accompagnateur for the patient.
    pub fn name_accompagnateur(
        &self,
        patient: &PatientId,
        login: &AccompagnateurId,
        now: OffsetDateTime,
    ) -> Result<()> {
        self.with(|connection| {
            patient_exists(connection, patient)?;
            connection
                .execute(
                    "INSERT OR IGNORE INTO patient_accompagnateurs (patient, accompagnateur, named_at) \
                     VALUES (?1, ?2, ?3)",
                    params![patient.as_str(), login.as_str(), unix(now)],
                )
                .map_err(insert_error("accompagnateur", login.as_str(), "naming an accompagnateur"))?;
            Ok(())
        })
    }

    /// Withdraws an accompagnateur.
    pub fn remove_accompagnateur(
        &self,
        patient: &PatientId,
        login: &AccompagnateurId,
    ) -> Result<()> {
        self.with(|connection| {
            let changed = connection
                .execute(
                    "DELETE FROM patient_accompagnateurs WHERE patient = ?1 AND accompagnateur = ?2",
                    params![patient.as_str(), login.as_str()],
                )
                .during("withdrawing an accompagnateur")?;
            found(changed, "accompagnateur of this patient", login.as_str())
        })
    }

    /// The patient's consents, as the policy reads them.
    pub fn relations(&self, patient: &PatientId) -> Result<PatientRelations> {
        self.with(|connection| relations_in(connection, patient))
    }

    /// Creates a code de présence for the patient: returned once in clear,
    /// stored as a hash.
    pub fn create_presence_code(
        &self,
        patient: &PatientId,
        now: OffsetDateTime,
        lifetime: Duration,
    ) -> Result<OneTimeCode> {
        let code = OneTimeCode::generate(PRESENCE_CODE_GROUPS);
        let hash = secret::hash_code(code.expose())?;
        self.with(|connection| {
            patient_exists(connection, patient)?;
            connection
                .execute(
                    "INSERT INTO presence_codes (patient, code_hash, created_at, not_on_or_after) \
                     VALUES (?1, ?2, ?3, ?4)",
                    params![patient.as_str(), hash, unix(now), unix(now + lifetime)],
                )
                .during("creating a presence code")?;
            Ok(())
        })?;
        Ok(code)
    }

    /// A professional presents a patient's code de présence: if it is valid
    /// it is spent at once and exchanged for a consultation grant lasting
    /// `grant_lifetime`. Presenting it again is refused (`Spent`).
    pub fn redeem_presence_code(
        &self,
        patient: &PatientId,
        code: &str,
        professional: &EHealthId,
        now: OffsetDateTime,
        grant_lifetime: Duration,
    ) -> Result<PresenceCodeRedemption> {
        let candidates: Vec<(i64, String, i64, Option<i64>)> = self.with(|connection| {
            patient_exists(connection, patient)?;
            let mut statement = connection
                .prepare(
                    "SELECT id, code_hash, not_on_or_after, spent_at FROM presence_codes \
                     WHERE patient = ?1 ORDER BY created_at DESC, id DESC LIMIT ?2",
                )
                .during("reading presence codes")?;
            let rows = statement
                .query_map(
                    params![patient.as_str(), PRESENCE_CODE_SEARCH_LIMIT],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
                )
                .during("reading presence codes")?;
            rows.collect::<rusqlite::Result<_>>()
                .during("reading presence codes")
        })?;
        // Hashes are compared outside the lock (argon2 takes milliseconds).
        let mut matching = None;
        for (code_id, hash, not_on_or_after, spent_at) in candidates {
            if secret::verify_code(&hash, code)? {
                matching = Some((code_id, not_on_or_after, spent_at));
                break;
            }
        }
        let Some((code_id, not_on_or_after, spent_at)) = matching else {
            return Ok(PresenceCodeRedemption::Invalid);
        };
        if spent_at.is_some() {
            return Ok(PresenceCodeRedemption::Spent);
        }
        if now >= from_unix(not_on_or_after, "presence code expiry")? {
            return Ok(PresenceCodeRedemption::Expired);
        }
        let grant = ConsultationGrant {
            id: uuid::Uuid::new_v4().to_string(),
            professional: professional.clone(),
            patient: patient.clone(),
            not_on_or_after: now + grant_lifetime,
        };
        self.with(|connection| {
            let transaction = connection.transaction().during("spending a presence code")?;
            // Spent only if still unspent: of two professionals presenting
            // the same code at once, one gets the grant.
            let spent_now = transaction
                .execute(
                    "UPDATE presence_codes SET spent_at = ?2, spent_by = ?3 \
                     WHERE id = ?1 AND spent_at IS NULL",
                    params![code_id, unix(now), professional.as_str()],
                )
                .map_err(insert_error(
                    "professional",
                    professional.as_str(),
                    "spending a presence code",
                ))?;
            if spent_now == 0 {
                return Ok(PresenceCodeRedemption::Spent);
            }
            transaction
                .execute(
                    "INSERT INTO consultation_grants (id, professional, patient, presence_code, granted_at, not_on_or_after) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        grant.id,
                        professional.as_str(),
                        patient.as_str(),
                        code_id,
                        unix(now),
                        unix(grant.not_on_or_after)
                    ],
                )
                .during("granting a consultation")?;
            transaction.commit().during("spending a presence code")?;
            Ok(PresenceCodeRedemption::Granted(grant))
        })
    }

    /// The consultation grant with this id.
    pub fn consultation_grant(&self, id: &str) -> Result<Option<ConsultationGrant>> {
        self.with(|connection| {
            let raw: Option<(String, String, String, i64)> = connection
                .query_row(
                    "SELECT id, professional, patient, not_on_or_after FROM consultation_grants WHERE id = ?1",
                    [id],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
                )
                .optional()
                .during("reading a consultation grant")?;
            raw.map(check_grant).transpose()
        })
    }

    /// A professional's grants for a patient, latest expiry first.
    pub fn grants_of(
        &self,
        professional: &EHealthId,
        patient: &PatientId,
    ) -> Result<Vec<ConsultationGrant>> {
        self.with(|connection| grants_in(connection, professional, patient))
    }
}

fn check_grant(raw: (String, String, String, i64)) -> Result<ConsultationGrant> {
    let (id, professional, patient, not_on_or_after) = raw;
    Ok(ConsultationGrant {
        id,
        professional: stored_ehealth_id(professional)?,
        patient: stored_patient_id(patient)?,
        not_on_or_after: from_unix(not_on_or_after, "consultation grant expiry")?,
    })
}

pub(super) fn grants_in(
    connection: &Connection,
    professional: &EHealthId,
    patient: &PatientId,
) -> Result<Vec<ConsultationGrant>> {
    let mut statement = connection
        .prepare(
            "SELECT id, professional, patient, not_on_or_after FROM consultation_grants \
             WHERE professional = ?1 AND patient = ?2 ORDER BY not_on_or_after DESC, id LIMIT 32",
        )
        .during("reading consultation grants")?;
    let rows = statement
        .query_map(params![professional.as_str(), patient.as_str()], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })
        .during("reading consultation grants")?;
    rows.map(|row| check_grant(row.during("reading consultation grants")?))
        .collect()
}

pub(super) fn relations_in(
    connection: &Connection,
    patient: &PatientId,
) -> Result<PatientRelations> {
    patient_exists(connection, patient)?;
    let mut relations = PatientRelations::none(patient.clone());
    let mut statement = connection
        .prepare(
            "SELECT ehealth_id, relation FROM patient_professionals WHERE patient = ?1 \
             ORDER BY relation, ehealth_id",
        )
        .during("reading a patient's consents")?;
    let rows = statement
        .query_map([patient.as_str()], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })
        .during("reading a patient's consents")?;
    for row in rows {
        let (ehealth_id, relation) = row.during("reading a patient's consents")?;
        let ehealth_id = stored_ehealth_id(ehealth_id)?;
        match relation.as_str() {
            "referent" => relations.referent = Some(ehealth_id),
            "cercle" => relations.cercle.push(ehealth_id),
            "black_list" => relations.black_list.push(ehealth_id),
            _ => {
                return Err(StoreError::Corrupt {
                    what: "patient relation",
                    value: relation,
                });
            }
        }
    }
    let mut statement = connection
        .prepare(
            "SELECT accompagnateur FROM patient_accompagnateurs WHERE patient = ?1 ORDER BY accompagnateur",
        )
        .during("reading a patient's accompagnateurs")?;
    let rows = statement
        .query_map([patient.as_str()], |row| row.get::<_, String>(0))
        .during("reading a patient's accompagnateurs")?;
    for row in rows {
        relations.accompagnateurs.push(stored_accompagnateur(
            row.during("reading a patient's accompagnateurs")?,
        )?);
    }
    Ok(relations)
}
