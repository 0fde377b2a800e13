//! The local audit log: one JSON line per action taken on behalf of the
//! user (issue 4 item 7), in a 0700 folder of 0600 files, rotated by size.
//!
//! A record can hold no secret: it has only typed fields (an action from a
//! fixed list, identifiers checked for their shape, an error code), and no
//! free text. A PIN, a password, a presence code or a portal ticket has no
//! field to go into.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use dspconnect::ErrorCode;
use dspconnect::model::ConfidentialityMode;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::private_fs::{self, PrivateDirError};

/// Name of the file being written.
pub const CURRENT_FILE: &str = "audit.jsonl";

/// What was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    SessionUnlock,
    SessionLock,
    PasswordLogin,
    AccountActivate,
    AccountActivateConfirm,
    PasswordChange,
    /// A presence code was exchanged for a consultation grant.
    PatientAccess,
    /// A document was accepted into the outbox.
    DocumentPush,
    /// A replacement was accepted into the outbox.
    DocumentReplace,
    /// The outbox finished a job (registered, failed or conflict).
    DocumentUpload,
    DocumentSetMode,
    DocumentList,
    DocumentGet,
    DspOpen,
    AnomalyReport,
    HpdLookup,
    JobRetry,
    JobDiscard,
}

/// How it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditOutcome {
    /// Done.
    Ok,
    /// Accepted for later (a queued push).
    Accepted,
    /// Refused by the platform's rules or by us.
    Refused,
    /// Failed (error code says why).
    Failed,
    /// The platform holds a different document with the same uniqueId.
    Conflict,
}

/// A field value that does not have the shape of its type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit field {field}: {problem}")]
pub struct AuditFieldError {
    pub field: &'static str,
    pub problem: &'static str,
}

macro_rules! checked_string {
    ($(#[$doc:meta])* $name:ident, $field:literal, $check:expr, $problem:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Result<Self, AuditFieldError> {
                let value = value.into();
                let check: fn(&str) -> bool = $check;
                if check(&value) {
                    Ok($name(value))
                } else {
                    Err(AuditFieldError { field: $field, problem: $problem })
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = AuditFieldError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                $name::new(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }
    };
}

checked_string!(
    /// A professional's eHealth id.
    EHealthId,
    "professional",
    |s| (1..=64).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_')),
    "must be 1 to 64 letters, digits, '.', '-' or '_'"
);

checked_string!(
    /// A patient's matricule (13 digits, or the older 11). Seam: becomes
    /// `dspconnect::model::Matricule` when the model lands.
    PatientMatricule,
    "patient",
    |s| matches!(s.len(), 11 | 13) && s.bytes().all(|b| b.is_ascii_digit()),
    "must be 11 or 13 digits"
);

checked_string!(
    /// A document uniqueId (an OID, possibly with an `^extension`).
    DocumentUniqueId,
    "document_unique_id",
    |s| (1..=128).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'^' | b'-' | b'_' | b':')),
    "must be an identifier of at most 128 characters without spaces"
);

/// One audit line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditRecord {
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
    pub action: AuditAction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub professional: Option<EHealthId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient: Option<PatientMatricule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_unique_id: Option<DocumentUniqueId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<ConfidentialityMode>,
    pub outcome: AuditOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<ErrorCode>,
}

impl AuditRecord {
    /// A record of `action` now, with no subject yet.
    pub fn now(action: AuditAction, outcome: AuditOutcome) -> AuditRecord {
        AuditRecord {
            time: OffsetDateTime::now_utc(),
            action,
            professional: None,
            patient: None,
            document_unique_id: None,
            job_id: None,
            mode: None,
            outcome,
            error_code: None,
        }
    }
}

/// The audit log cannot be written or read.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit log folder: {0}")]
    Folder(#[from] PrivateDirError),
    #[error("audit log {}: cannot {action}: {source}", path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        source: io::Error,
    },
    #[error("audit log: keep_files must be at least 1 and max_file_bytes at least 1")]
    BadLimits,
}

impl AuditError {
    pub fn code(&self) -> ErrorCode {
        match self {
            AuditError::Folder(PrivateDirError::Insecure { .. }) | AuditError::BadLimits => {
                ErrorCode::Config
            }
            _ => ErrorCode::Io,
        }
    }
}

struct Writer {
    file: File,
    size: u64,
}

/// The audit log of one user.
pub struct AuditLog {
    dir: PathBuf,
    max_file_bytes: u64,
    keep_files: u32,
    writer: Mutex<Option<Writer>>,
}

impl AuditLog {
    /// Opens (creating 0700) the folder. `keep_files` counts the current
    /// file: with 3, `audit.jsonl`, `audit.1.jsonl` and `audit.2.jsonl`.
    pub fn open(dir: &Path, max_file_bytes: u64, keep_files: u32) -> Result<AuditLog, AuditError> {
        if keep_files == 0 || max_file_bytes == 0 {
            return Err(AuditError::BadLimits);
        }
        private_fs::ensure_private_dir(dir)?;
        Ok(AuditLog {
            dir: dir.to_owned(),
            max_file_bytes,
            keep_files,
            writer: Mutex::new(None),
        })
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// File `index` (0 = current, 1 = the newest rotated, …).
    pub fn file_path(&self, index: u32) -> PathBuf {
        if index == 0 {
            self.dir.join(CURRENT_FILE)
        } else {
            self.dir.join(format!("audit.{index}.jsonl"))
        }
    }

    fn io(&self, path: PathBuf, action: &'static str) -> impl FnOnce(io::Error) -> AuditError {
        move |source| AuditError::Io {
            path,
            action,
            source,
        }
    }

    /// Appends one record (and flushes it to disk: the audit trail must
    /// survive a crash of the daemon).
    pub fn record(&self, record: &AuditRecord) -> Result<(), AuditError> {
        // Typed fields only: serializing them cannot fail.
        let mut line = serde_json::to_vec(record).unwrap_or_default();
        line.push(b'\n');
        let mut guard = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let current = self.file_path(0);
        if guard.is_none() {
            let file = private_fs::open_private_append(&current)
                .map_err(self.io(current.clone(), "open"))?;
            let size = file
                .metadata()
                .map_err(self.io(current.clone(), "read the size of"))?
                .len();
            *guard = Some(Writer { file, size });
        }
        let needs_rotation = guard
            .as_ref()
            .is_some_and(|w| w.size > 0 && w.size + line.len() as u64 > self.max_file_bytes);
        if needs_rotation {
            *guard = None;
            self.rotate()?;
            let file = private_fs::open_private_append(&current)
                .map_err(self.io(current.clone(), "open"))?;
            *guard = Some(Writer { file, size: 0 });
        }
        let Some(writer) = guard.as_mut() else {
            // Set just above in every branch.
            return Ok(());
        };
        writer
            .file
            .write_all(&line)
            .and_then(|()| writer.file.sync_data())
            .map_err(self.io(current, "append to"))?;
        writer.size += line.len() as u64;
        Ok(())
    }

    /// Shifts `audit.K.jsonl` to `audit.K+1.jsonl`, dropping the oldest,
    /// and moves the current file to `audit.1.jsonl`.
    fn rotate(&self) -> Result<(), AuditError> {
        let oldest = self.file_path(self.keep_files - 1);
        remove_if_present(&oldest).map_err(self.io(oldest, "remove"))?;
        for index in (0..self.keep_files.saturating_sub(1)).rev() {
            let from = self.file_path(index);
            let to = self.file_path(index + 1);
            match fs::rename(&from, &to) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(self.io(from, "rotate")(e)),
            }
        }
        private_fs::sync_dir(&self.dir).map_err(self.io(self.dir.clone(), "sync"))
    }

    /// The newest `n` lines, oldest first, across rotated files.
    pub fn tail(&self, n: usize) -> Result<Vec<String>, AuditError> {
        // Holding the writer lock keeps a rotation from moving files
        // between the reads.
        let _guard = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut newest_first: Vec<Vec<String>> = Vec::new();
        let mut found = 0;
        for index in 0..self.keep_files {
            if found >= n {
                break;
            }
            let path = self.file_path(index);
            let lines = match last_lines(&path, n - found) {
                Ok(lines) => lines,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(self.io(path, "read")(e)),
            };
            found += lines.len();
            newest_first.push(lines);
        }
        Ok(newest_first.into_iter().rev().flatten().collect())
    }
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// The last `want` lines of a file, in file order, reading backwards in
/// blocks so that memory stays proportional to what is returned.
fn last_lines(path: &Path, want: usize) -> io::Result<Vec<String>> {
    const BLOCK: u64 = 64 * 1024;
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    if want == 0 || len == 0 {
        return Ok(Vec::new());
    }
    let mut pos = len;
    let mut tail: Vec<u8> = Vec::new();
    loop {
        let start = pos.saturating_sub(BLOCK);
        let mut block = vec![0u8; usize::try_from(pos - start).unwrap_or(0)];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut block)?;
        block.extend_from_slice(&tail);
        tail = block;
        pos = start;
        // want + 1 newlines (the file ends with one) guarantee `want` whole lines.
        if pos == 0 || tail.iter().filter(|&&b| b == b'\n').count() > want {
            break;
        }
    }
    let text = String::from_utf8_lossy(&tail);
    let mut lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    if pos > 0 {
        // The first piece may be the end of a longer line.
        lines.remove(0);
    }
    let skip = lines.len().saturating_sub(want);
    Ok(lines[skip..].iter().map(|l| (*l).to_owned()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(unix)]
    use std::os::unix::fs::PermissionsExt;

    fn record(n: u32) -> AuditRecord {
        AuditRecord {
            professional: Some(EHealthId::new("2854201475").unwrap()),
            patient: Some(PatientMatricule::new("1893120105732").unwrap()),
            document_unique_id: Some(DocumentUniqueId::new(format!("2.25.{n}")).unwrap()),
            job_id: Some(Uuid::new_v4()),
            mode: Some(ConfidentialityMode::Restreint),
            error_code: (n % 2 == 1).then_some(ErrorCode::Registry),
            ..AuditRecord::now(AuditAction::DocumentPush, AuditOutcome::Accepted)
        }
    }

    fn unique_id_of(line: &str) -> String {
        let back: AuditRecord = serde_json::from_str(line).unwrap();
        back.document_unique_id.unwrap().as_str().to_owned()
    }

    #[test]
    fn records_round_trip_as_json_lines() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::open(&dir.path().join("audit"), 1 << 20, 3).unwrap();
        let r = record(1);
        log.record(&r).unwrap();
        let lines = log.tail(10).unwrap();
        assert_eq!(lines.len(), 1);
        let back: AuditRecord = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(back.action, AuditAction::DocumentPush);
        assert_eq!(back.error_code, Some(ErrorCode::Registry));
        assert_eq!(back.patient, r.patient);
        let v: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(v["action"], "document_push");
        assert_eq!(v["error_code"], 506);
    }

    #[test]
    fn rotation_keeps_n_files_and_tail_returns_the_newest_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("audit");
        // The longer kind of line (odd numbers carry an error code).
        let one_line = serde_json::to_vec(&record(1001)).unwrap().len() as u64 + 1;
        // About three lines per file.
        let log = AuditLog::open(&folder, one_line * 3 + 10, 3).unwrap();
        for n in 1000..1040 {
            log.record(&record(n)).unwrap();
        }
        let mut names: Vec<String> = fs::read_dir(&folder)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["audit.1.jsonl", "audit.2.jsonl", "audit.jsonl"]);
        for name in &names {
            let size = fs::metadata(folder.join(name)).unwrap().len();
            assert!(size <= one_line * 3 + 10, "{name} is {size} bytes");
        }

        let tail = log.tail(5).unwrap();
        let ids: Vec<String> = tail.iter().map(|l| unique_id_of(l)).collect();
        assert_eq!(
            ids,
            [
                "2.25.1035",
                "2.25.1036",
                "2.25.1037",
                "2.25.1038",
                "2.25.1039"
            ]
        );

        // More than the files hold: everything kept, oldest first, across files.
        let all = log.tail(1000).unwrap();
        let ids: Vec<String> = all.iter().map(|l| unique_id_of(l)).collect();
        let first: u32 = ids[0].trim_start_matches("2.25.").parse().unwrap();
        let expected: Vec<String> = (first..1040).map(|n| format!("2.25.{n}")).collect();
        assert_eq!(ids, expected);
        assert!(ids.len() >= 7 && ids.len() <= 9, "{}", ids.len());
        assert!(log.tail(0).unwrap().is_empty());
    }

    #[test]
    fn last_lines_reads_across_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut text = String::new();
        for n in 0..5000 {
            text.push_str(&format!("line {n} {}\n", "x".repeat(n % 50)));
        }
        fs::write(&path, &text).unwrap();
        let last = last_lines(&path, 3000).unwrap();
        assert_eq!(last.len(), 3000);
        assert!(last[0].starts_with("line 2000 "));
        assert!(last[2999].starts_with("line 4999 "));
    }

    #[cfg(unix)]
    #[test]
    fn files_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("audit");
        let log = AuditLog::open(&folder, 1 << 20, 2).unwrap();
        log.record(&record(1)).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&folder), 0o700);
        assert_eq!(mode(&folder.join(CURRENT_FILE)), 0o600);
        fs::set_permissions(&folder, fs::Permissions::from_mode(0o755)).unwrap();
        assert!(matches!(
            AuditLog::open(&folder, 1 << 20, 2),
            Err(AuditError::Folder(PrivateDirError::Insecure { .. }))
        ));
    }

    #[test]
    fn fields_refuse_free_text() {
        assert!(EHealthId::new("PIN 1234").is_err());
        assert!(PatientMatricule::new("1893120105732").is_ok());
        assert!(PatientMatricule::new("secret-code").is_err());
        assert!(DocumentUniqueId::new("a b").is_err());
        // A record read back is checked the same way.
        let mut v = serde_json::to_value(record(1)).unwrap();
        v["patient"] = serde_json::json!("my password");
        assert!(serde_json::from_value::<AuditRecord>(v).is_err());
        let mut v = serde_json::to_value(record(1)).unwrap();
        v["note"] = serde_json::json!("free text");
        assert!(serde_json::from_value::<AuditRecord>(v).is_err());
    }
}
