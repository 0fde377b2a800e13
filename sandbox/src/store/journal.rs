//! The access log (the patient's access trail, CSS art. 60quater(4)) and
//! anomaly reports (« signaler au gestionnaire »).

use rusqlite::params;
use time::OffsetDateTime;

use super::documents::document_in;
use super::hpd::stored_ehealth_id;
use super::{During, Result, Store, StoreError, from_unix, unix};
use crate::policy::{
    AccompagnateurId, Decision, EHealthId, Outcome, PatientId, SessionKind, Subject,
};

/// One access to record: who asked what about which patient (and
/// document), and what the policy answered.
#[derive(Clone, Copy, Debug)]
pub struct NewAccess<'a> {
    pub at: OffsetDateTime,
    pub patient: &'a PatientId,
    pub subject: &'a Subject,
    pub decision: &'a Decision,
    pub entry_uuid: Option<&'a str>,
}

/// One line of a patient's access trail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessRecord {
    pub id: i64,
    pub at: OffsetDateTime,
    pub patient: PatientId,
    pub subject: Subject,
    /// [`crate::policy::Operation::name`].
    pub operation: String,
    pub entry_uuid: Option<String>,
    pub allowed: bool,
    /// The policy rule the decision rested on.
    pub rule: String,
}

/// An anomaly reported in a document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnomalyReport {
    pub id: i64,
    pub entry_uuid: String,
    pub patient: PatientId,
    pub reporter: EHealthId,
    pub description: String,
    pub created_at: OffsetDateTime,
}

fn actor(subject: &Subject) -> (&'static str, &str) {
    match subject {
        Subject::Patient(id) => ("patient", id.as_str()),
        Subject::Accompagnateur(login) => ("accompagnateur", login.as_str()),
        Subject::Professional {
            id,
            session: SessionKind::Card,
        } => ("professional_card", id.as_str()),
        Subject::Professional {
            id,
            session: SessionKind::Password,
        } => ("professional_password", id.as_str()),
    }
}

fn subject_from(kind: &str, id: String) -> Result<Subject> {
    let corrupt = |value: String| StoreError::Corrupt {
        what: "access log actor",
        value,
    };
    Ok(match kind {
        "patient" => Subject::Patient(PatientId::new(id).map_err(|e| corrupt(e.value))?),
        "accompagnateur" => {
            Subject::Accompagnateur(AccompagnateurId::new(id).map_err(|e| corrupt(e.value))?)
        }
        "professional_card" => Subject::card(stored_ehealth_id(id)?),
        "professional_password" => Subject::password(stored_ehealth_id(id)?),
        other => return Err(corrupt(other.to_owned())),
    })
}

impl Store {
    /// Writes one access (allowed or refused) to the patient's trail.
    pub fn record_access(&self, access: &NewAccess<'_>) -> Result<i64> {
        let (actor_kind, actor_id) = actor(access.subject);
        self.with(|connection| {
            connection
                .execute(
                    "INSERT INTO access_log (at, patient, actor_kind, actor_id, operation, entry_uuid, allowed, rule) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![
                        unix(access.at),
                        access.patient.as_str(),
                        actor_kind,
                        actor_id,
                        access.decision.operation.name(),
                        access.entry_uuid,
                        access.decision.outcome == Outcome::Allowed,
                        access.decision.rule.id,
                    ],
                )
                .during("writing the access log")?;
            Ok(connection.last_insert_rowid())
        })
    }

    /// Every access to the patient's DSP, oldest first. Entries about
    /// documents the viewer may not read (a Visite d'annonce, for the
    /// patient) must be filtered by the caller through the policy.
    pub fn access_trail(&self, patient: &PatientId) -> Result<Vec<AccessRecord>> {
        self.with(|connection| {
            let mut statement = connection
                .prepare(
                    "SELECT id, at, patient, actor_kind, actor_id, operation, entry_uuid, allowed, rule \
                     FROM access_log WHERE patient = ?1 ORDER BY at, id",
                )
                .during("reading the access log")?;
            let rows = statement
                .query_map([patient.as_str()], |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, i64>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, String>(3)?,
                        row.get::<_, String>(4)?,
                        row.get::<_, String>(5)?,
                        row.get::<_, Option<String>>(6)?,
                        row.get::<_, bool>(7)?,
                        row.get::<_, String>(8)?,
                    ))
                })
                .during("reading the access log")?;
            rows.map(|row| {
                let (id, at, patient, kind, actor_id, operation, entry_uuid, allowed, rule) =
                    row.during("reading the access log")?;
                Ok(AccessRecord {
                    id,
                    at: from_unix(at, "access time")?,
                    patient: PatientId::new(patient).map_err(|e| StoreError::Corrupt {
                        what: "access log patient",
                        value: e.value,
                    })?,
                    subject: subject_from(&kind, actor_id)?,
                    operation,
                    entry_uuid,
                    allowed,
                    rule,
                })
            })
            .collect()
        })
    }

    /// Records an anomaly report about a document.
    pub fn add_anomaly_report(
        &self,
        entry_uuid: &str,
        reporter: &EHealthId,
        description: &str,
        now: OffsetDateTime,
    ) -> Result<i64> {
        self.with(|connection| {
            let document = document_in(connection, entry_uuid)?.ok_or_else(|| StoreError::NotFound {
                what: "document entry",
                id: entry_uuid.to_owned(),
            })?;
            connection
                .execute(
                    "INSERT INTO anomaly_reports (entry_uuid, patient, reporter, description, created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![
                        entry_uuid,
                        document.patient.as_str(),
                        reporter.as_str(),
                        description,
                        unix(now)
                    ],
                )
                .during("recording an anomaly report")?;
            Ok(connection.last_insert_rowid())
        })
    }

    /// Anomaly reports, of one patient or all, oldest first.
    pub fn anomaly_reports(&self, patient: Option<&PatientId>) -> Result<Vec<AnomalyReport>> {
        self.with(|connection| {
            let mut statement = connection
                .prepare(
                    "SELECT id, entry_uuid, patient, reporter, description, created_at FROM anomaly_reports \
                     WHERE ?1 IS NULL OR patient = ?1 ORDER BY created_at, id",
                )
                .during("listing anomaly reports")?;
            let rows = statement
                .query_map([patient.map(PatientId::as_str)], |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, String>(3)?,
                        row.get::<_, String>(4)?,
                        row.get::<_, i64>(5)?,
                    ))
                })
                .during("listing anomaly reports")?;
            rows.map(|row| {
                let (id, entry_uuid, patient, reporter, description, created_at) =
                    row.during("listing anomaly reports")?;
                Ok(AnomalyReport {
                    id,
                    entry_uuid,
                    patient: PatientId::new(patient).map_err(|e| StoreError::Corrupt {
                        what: "anomaly report patient",
                        value: e.value,
                    })?,
                    reporter: stored_ehealth_id(reporter)?,
                    description,
                    created_at: from_unix(created_at, "anomaly report time")?,
                })
            })
            .collect()
        })
    }
}
