//! The schema, as ordered migrations. `PRAGMA user_version` records how many
//! have been applied. Append new migrations at the end; never edit one that
//! has shipped (a database that applied it would not see the change).

use rusqlite::Connection;

use super::{During, Result, StoreError};

/// Migration `n` (1-based) brings the schema from version `n - 1` to `n`.
pub const MIGRATIONS: &[&str] = &[
    // 1: the HPD, patients and consents, documents, logs, outbox, replay cache.
    r#"
CREATE TABLE professionals (
    ehealth_id     TEXT PRIMARY KEY,
    given_name     TEXT NOT NULL,
    family_name    TEXT NOT NULL,
    profession     TEXT NOT NULL,
    specialty      TEXT,
    matricule      TEXT NOT NULL UNIQUE,
    email          TEXT,
    status         TEXT NOT NULL
                   CHECK (status IN ('pending_activation', 'active', 'deactivated')),
    password_hash  TEXT,
    created_at     INTEGER NOT NULL
) STRICT;

-- Card authentication certificates bound at activation (SHA-256 of the DER).
CREATE TABLE card_certificates (
    fingerprint    TEXT PRIMARY KEY,
    ehealth_id     TEXT NOT NULL REFERENCES professionals (ehealth_id),
    serial         TEXT,
    bound_at       INTEGER NOT NULL,
    revoked        INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1)),
    revoked_at     INTEGER
) STRICT;
CREATE INDEX card_certificates_by_professional ON card_certificates (ehealth_id);

CREATE TABLE activation_letters (
    id              INTEGER PRIMARY KEY,
    ehealth_id      TEXT NOT NULL REFERENCES professionals (ehealth_id),
    matricule       TEXT NOT NULL,
    code_hash       TEXT NOT NULL,
    issued_at       INTEGER NOT NULL,
    not_on_or_after INTEGER NOT NULL,
    used_at         INTEGER
) STRICT;
CREATE INDEX activation_letters_by_matricule ON activation_letters (matricule);

CREATE TABLE patients (
    matricule      TEXT PRIMARY KEY,
    given_name     TEXT NOT NULL,
    family_name    TEXT NOT NULL,
    password_hash  TEXT,
    created_at     INTEGER NOT NULL
) STRICT;

-- Accompagnateurs are persons with a portal login, not professionals.
CREATE TABLE accompagnateurs (
    login          TEXT PRIMARY KEY,
    given_name     TEXT NOT NULL,
    family_name    TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    created_at     INTEGER NOT NULL
) STRICT;

CREATE TABLE patient_accompagnateurs (
    patient        TEXT NOT NULL REFERENCES patients (matricule),
    accompagnateur TEXT NOT NULL REFERENCES accompagnateurs (login),
    named_at       INTEGER NOT NULL,
    PRIMARY KEY (patient, accompagnateur)
) STRICT;

-- The patient's consents about professionals: médecin référent (one at
-- most), cercle de confiance, black list.
CREATE TABLE patient_professionals (
    patient        TEXT NOT NULL REFERENCES patients (matricule),
    ehealth_id     TEXT NOT NULL REFERENCES professionals (ehealth_id),
    relation       TEXT NOT NULL CHECK (relation IN ('referent', 'cercle', 'black_list')),
    since          INTEGER NOT NULL,
    PRIMARY KEY (patient, ehealth_id, relation)
) STRICT;
CREATE UNIQUE INDEX one_referent_per_patient
    ON patient_professionals (patient) WHERE relation = 'referent';

CREATE TABLE presence_codes (
    id              INTEGER PRIMARY KEY,
    patient         TEXT NOT NULL REFERENCES patients (matricule),
    code_hash       TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    not_on_or_after INTEGER NOT NULL,
    spent_at        INTEGER,
    spent_by        TEXT REFERENCES professionals (ehealth_id)
) STRICT;
CREATE INDEX presence_codes_by_patient ON presence_codes (patient, created_at);

CREATE TABLE consultation_grants (
    id              TEXT PRIMARY KEY,
    professional    TEXT NOT NULL REFERENCES professionals (ehealth_id),
    patient         TEXT NOT NULL REFERENCES patients (matricule),
    presence_code   INTEGER REFERENCES presence_codes (id),
    granted_at      INTEGER NOT NULL,
    not_on_or_after INTEGER NOT NULL
) STRICT;
CREATE INDEX consultation_grants_by_pair ON consultation_grants (professional, patient);

-- One row per DocumentEntry version: a mode change (ITI-57) adds a version
-- with a new entryUUID and the same logicalId and uniqueId.
CREATE TABLE documents (
    entry_uuid     TEXT PRIMARY KEY,
    unique_id      TEXT NOT NULL,
    logical_id     TEXT NOT NULL,
    version        INTEGER NOT NULL CHECK (version >= 1),
    patient        TEXT NOT NULL REFERENCES patients (matricule),
    author         TEXT NOT NULL REFERENCES professionals (ehealth_id),
    mode           TEXT NOT NULL
                   CHECK (mode IN ('normal', 'restreint', 'prive', 'visite_annonce')),
    status         TEXT NOT NULL CHECK (status IN ('approved', 'deprecated')),
    metadata       BLOB NOT NULL,
    body_path      TEXT NOT NULL,
    hash           TEXT NOT NULL,
    size           INTEGER NOT NULL CHECK (size >= 0),
    mime_type      TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    replaced_by    TEXT REFERENCES documents (entry_uuid),
    UNIQUE (logical_id, version)
) STRICT;
CREATE INDEX documents_by_patient ON documents (patient, status);
CREATE INDEX documents_by_unique_id ON documents (unique_id);

-- Who did (or tried) what, when: the patient's access trail (CSS art. 60quater(4)).
CREATE TABLE access_log (
    id             INTEGER PRIMARY KEY,
    at             INTEGER NOT NULL,
    patient        TEXT NOT NULL,
    actor_kind     TEXT NOT NULL,
    actor_id       TEXT NOT NULL,
    operation      TEXT NOT NULL,
    entry_uuid     TEXT,
    allowed        INTEGER NOT NULL CHECK (allowed IN (0, 1)),
    rule           TEXT NOT NULL
) STRICT;
CREATE INDEX access_log_by_patient ON access_log (patient, at);

CREATE TABLE anomaly_reports (
    id             INTEGER PRIMARY KEY,
    entry_uuid     TEXT NOT NULL REFERENCES documents (entry_uuid),
    patient        TEXT NOT NULL REFERENCES patients (matricule),
    reporter       TEXT NOT NULL REFERENCES professionals (ehealth_id),
    description    TEXT NOT NULL,
    created_at     INTEGER NOT NULL
) STRICT;

CREATE TABLE mail_outbox (
    id             INTEGER PRIMARY KEY,
    recipient      TEXT NOT NULL,
    subject        TEXT NOT NULL,
    body           TEXT NOT NULL,
    created_at     INTEGER NOT NULL
) STRICT;
CREATE INDEX mail_outbox_by_recipient ON mail_outbox (recipient);

CREATE TABLE replay_cache (
    message_id     TEXT PRIMARY KEY,
    seen_at        INTEGER NOT NULL
) STRICT;
CREATE INDEX replay_cache_by_age ON replay_cache (seen_at);

-- Facts about the instance itself (e.g. that the demo data was seeded).
CREATE TABLE sandbox_meta (
    key            TEXT PRIMARY KEY,
    value          TEXT NOT NULL
) STRICT;
"#,
];

/// The schema version this build brings a database to.
pub fn latest_version() -> i64 {
    // A handful of migrations: the cast cannot truncate.
    MIGRATIONS.len() as i64
}

/// The version recorded in the database.
pub fn current_version(connection: &Connection) -> Result<i64> {
    connection
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .during("reading the schema version")
}

/// Applies the migrations the database lacks, each in its own transaction
/// together with the version bump, so that an interrupted migration leaves
/// the previous version intact.
pub fn migrate(connection: &mut Connection) -> Result<()> {
    let found = current_version(connection)?;
    let known = latest_version();
    if found > known {
        return Err(StoreError::NewerSchema { found, known });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
        let version = index as i64 + 1;
        let failed = |source| StoreError::Migration { version, source };
        let transaction = connection.transaction().map_err(failed)?;
        transaction.execute_batch(sql).map_err(failed)?;
        // PRAGMA takes no bound parameters; `version` is our own integer.
        transaction
            .execute_batch(&format!("PRAGMA user_version = {version}"))
            .map_err(failed)?;
        transaction.commit().map_err(failed)?;
    }
    Ok(())
}
