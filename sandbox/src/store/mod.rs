//! The sandbox's persistence: one SQLite database (rusqlite, SQLite bundled)
//! holding the HPD, the patients and their consents, presence codes and
//! consultation grants, document entries, the access log, anomaly reports,
//! the mail outbox and the replay cache. Document bodies live in files; the
//! store keeps their paths.
//!
//! - Every SQL statement is in this module and binds its parameters; the
//!   rest of the sandbox calls typed functions.
//! - The schema is versioned (`PRAGMA user_version`, see [`migrations`]):
//!   opening a database applies the migrations it lacks, in order, each in a
//!   transaction; a database newer than this build is refused.
//! - WAL journal, foreign keys on. [`Store`] is `Clone + Send + Sync`: one
//!   connection behind `Arc<Mutex<_>>`. Calls are short (no I/O besides
//!   SQLite; the argon2 hashes take a few milliseconds), so async handlers may
//!   call them directly or through `spawn_blocking`; the mutex also makes
//!   each read-check-write function (spending a presence code, a duplicate
//!   uniqueId check) atomic.
//! - Secrets (passwords, activation and presence codes) are stored as
//!   argon2id PHC strings only ([`secret`]).

pub mod demo;
mod documents;
mod facts;
mod hpd;
mod journal;
mod mail;
pub mod migrations;
mod patients;
mod replay;
pub mod secret;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use time::OffsetDateTime;

pub use demo::DemoSeed;
pub use documents::{DocumentRecord, DocumentStatus, NewDocument};
pub use hpd::{ActivationLetter, CardBinding, LetterCheck, NewProfessional, ProfessionalRecord};
pub use journal::{AccessRecord, AnomalyReport, NewAccess};
pub use mail::Mail;
pub use patients::{AccompagnateurRecord, NewPatient, PatientRecord, PresenceCodeRedemption};
pub use secret::OneTimeCode;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "cannot open the sandbox database {path}: {source}; check the data directory's permissions"
    )]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("database error while {doing}: {source}")]
    Sqlite {
        doing: &'static str,
        source: rusqlite::Error,
    },
    #[error(
        "the sandbox database is at schema version {found}, newer than this build knows ({known}); \
         run a newer dspconnect-sandbox or use another data directory"
    )]
    NewerSchema { found: i64, known: i64 },
    #[error("migrating the sandbox database to schema version {version} failed: {source}")]
    Migration {
        version: i64,
        source: rusqlite::Error,
    },
    #[error("the store's lock was poisoned by a panic in another thread; restart the sandbox")]
    Poisoned,
    #[error("no {what} '{id}' in the store")]
    NotFound { what: &'static str, id: String },
    #[error("{what} '{id}' already exists in the store")]
    AlreadyExists { what: &'static str, id: String },
    #[error(
        "a document with uniqueId '{0}' is already registered (XDSDuplicateUniqueIdInRegistry)"
    )]
    DuplicateUniqueId(String),
    #[error("{what}: {reason}")]
    Invalid { what: &'static str, reason: String },
    #[error(
        "the stored {what} '{value}' is not valid: the database was changed outside the sandbox; \
         fix the row or start with a fresh data directory"
    )]
    Corrupt { what: &'static str, value: String },
    #[error("cannot hash a secret: {0}")]
    Hash(String),
}

type Result<T> = std::result::Result<T, StoreError>;

/// Attaches what the store was doing to a SQLite error.
trait During<T> {
    fn during(self, doing: &'static str) -> Result<T>;
}

impl<T> During<T> for std::result::Result<T, rusqlite::Error> {
    fn during(self, doing: &'static str) -> Result<T> {
        self.map_err(|source| StoreError::Sqlite { doing, source })
    }
}

/// Whether a SQLite error is a UNIQUE or PRIMARY KEY violation.
fn is_unique_violation(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(e, _)
            if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
    )
}

/// Instants are stored as Unix seconds.
fn unix(at: OffsetDateTime) -> i64 {
    at.unix_timestamp()
}

fn from_unix(seconds: i64, what: &'static str) -> Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(seconds).map_err(|_| StoreError::Corrupt {
        what,
        value: seconds.to_string(),
    })
}

/// The sandbox's database. Cheap to clone; all clones share one connection.
#[derive(Clone)]
pub struct Store {
    connection: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its
    /// schema up to date.
    pub fn open(path: &Path) -> Result<Self> {
        let connection = Connection::open(path).map_err(|source| StoreError::Open {
            path: path.to_owned(),
            source,
        })?;
        Self::prepare(connection)
    }

    /// A private in-memory database (tests, throw-away instances).
    pub fn open_in_memory() -> Result<Self> {
        let connection = Connection::open_in_memory().map_err(|source| StoreError::Open {
            path: PathBuf::from(":memory:"),
            source,
        })?;
        Self::prepare(connection)
    }

    fn prepare(mut connection: Connection) -> Result<Self> {
        connection
            .busy_timeout(std::time::Duration::from_secs(5))
            .during("setting the busy timeout")?;
        // WAL lets readers in other processes (sqlite3 CLI, a second sandbox
        // reading the outbox) proceed while we write. In-memory databases
        // answer "memory"; that is fine.
        let _mode: String = connection
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .during("switching to the WAL journal")?;
        connection
            .execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")
            .during("setting connection pragmas")?;
        migrations::migrate(&mut connection)?;
        Ok(Self {
            connection: Arc::new(Mutex::new(connection)),
        })
    }

    /// Runs `work` with the connection, holding the lock.
    fn with<T>(&self, work: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        let mut connection = self.connection.lock().map_err(|_| StoreError::Poisoned)?;
        work(&mut connection)
    }

    /// The schema version the database is at.
    pub fn schema_version(&self) -> Result<i64> {
        self.with(|connection| migrations::current_version(connection))
    }
}

#[cfg(test)]
mod tests;
