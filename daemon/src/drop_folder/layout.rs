//! The drop folder's folders, their permissions, the moves between them,
//! and the receipts and error reports written next to the files.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use dspconnect::ErrorCode;
use dspconnect::model::ConfidentialityMode;
use serde::{Deserialize, Serialize};

use super::sidecar::SIDECAR_SUFFIX;
use super::{DropFolderError, FAILED, INBOX, QUEUED, SENT, STATE};
use crate::outbox::StatementSource;
use crate::private_fs;

/// The drop folder and the daemon's folders inside it.
#[derive(Debug, Clone)]
pub struct Dirs {
    pub root: PathBuf,
    pub inbox: PathBuf,
    pub queued: PathBuf,
    pub sent: PathBuf,
    pub failed: PathBuf,
    pub state: PathBuf,
}

/// Checks the drop folder and creates the daemon's folders in it (0700).
pub fn prepare(root: &Path, allow_shared: bool) -> Result<Dirs, DropFolderError> {
    let meta = match fs::symlink_metadata(root) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(DropFolderError::NotFound {
                path: root.to_owned(),
            });
        }
        Err(source) => {
            return Err(DropFolderError::Io {
                path: root.to_owned(),
                action: "read the folder's mode",
                source,
            });
        }
    };
    if meta.file_type().is_symlink() {
        return Err(DropFolderError::Symlink {
            path: root.to_owned(),
        });
    }
    if !meta.is_dir() {
        return Err(DropFolderError::NotADirectory {
            path: root.to_owned(),
        });
    }
    check_owner_and_mode(root, &meta, allow_shared)?;
    let dirs = Dirs {
        root: root.to_owned(),
        inbox: root.join(INBOX),
        queued: root.join(QUEUED),
        sent: root.join(SENT),
        failed: root.join(FAILED),
        state: root.join(STATE),
    };
    for dir in [&dirs.queued, &dirs.sent, &dirs.failed, &dirs.state] {
        state_dir(dir, allow_shared)?;
    }
    // The inbox is written by the practice software: created 0700, and,
    // like the drop folder, refused when other users can write to it.
    match fs::symlink_metadata(&dirs.inbox) {
        Ok(meta) if meta.file_type().is_symlink() || !meta.is_dir() => {
            return Err(DropFolderError::NotADirectory {
                path: dirs.inbox.clone(),
            });
        }
        Ok(meta) => check_owner_and_mode(&dirs.inbox, &meta, allow_shared)?,
        Err(_) => state_dir(&dirs.inbox, allow_shared)?,
    }
    Ok(dirs)
}

#[cfg(unix)]
fn check_owner_and_mode(
    root: &Path,
    meta: &fs::Metadata,
    allow_shared: bool,
) -> Result<(), DropFolderError> {
    use std::os::unix::fs::MetadataExt;
    let mode = meta.mode() & 0o7777;
    let me = rustix::process::geteuid().as_raw();
    if mode & 0o022 != 0 {
        if !allow_shared {
            return Err(DropFolderError::WritableByOthers {
                path: root.to_owned(),
                mode,
            });
        }
        tracing::warn!(
            path = %root.display(),
            mode = format!("{mode:04o}"),
            "the drop folder is writable by other users (accepted by \
             drop_folder.allow_writable_by_others): anyone who can write there can send \
             documents in the name of the professional whose card is in"
        );
    }
    if meta.uid() != me {
        if !allow_shared {
            return Err(DropFolderError::NotOwned {
                path: root.to_owned(),
                owner: meta.uid(),
                me,
            });
        }
        tracing::warn!(path = %root.display(), owner = meta.uid(), "the drop folder belongs to another user");
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_owner_and_mode(
    _root: &Path,
    _meta: &fs::Metadata,
    _allow_shared: bool,
) -> Result<(), DropFolderError> {
    // Windows: the folder's ACL is checked by the cfg(windows) port.
    Ok(())
}

/// A state folder: created 0700; an existing one must be private unless
/// the drop folder is an accepted shared one (whose fixed modes apply to
/// every folder in it).
fn state_dir(dir: &Path, allow_shared: bool) -> Result<(), DropFolderError> {
    match private_fs::ensure_private_dir(dir) {
        Ok(()) => Ok(()),
        Err(private_fs::PrivateDirError::Insecure { path, mode }) if allow_shared => {
            tracing::warn!(path = %path.display(), mode = format!("{mode:04o}"), "drop-folder state folder is not private (shared drop folder)");
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// A name free in every folder of `dirs` a file may pass through:
/// `name`, else `stem (2).ext`, `stem (3).ext`, … (the sidecar and report
/// names follow the document's).
pub fn free_name(name: &str, in_dirs: &[&Path]) -> String {
    let taken = |candidate: &str| {
        in_dirs.iter().any(|d| {
            let p = d.join(candidate);
            fs::symlink_metadata(&p).is_ok()
                || fs::symlink_metadata(with_suffix(&p, SIDECAR_SUFFIX)).is_ok()
        })
    };
    if !taken(name) {
        return name.to_owned();
    }
    let (stem, ext) = match name.rfind('.') {
        Some(i) if i > 0 => (&name[..i], &name[i..]),
        _ => (name, ""),
    };
    (2u32..)
        .map(|n| format!("{stem} ({n}){ext}"))
        .find(|c| !taken(c))
        .unwrap_or_else(|| format!("{stem}-{}{ext}", uuid::Uuid::new_v4()))
}

/// `path` with `suffix` appended to its file name.
pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name: OsString = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

/// Moves `from` to `to` (same file system), durably.
pub fn move_file(from: &Path, to: &Path) -> io::Result<()> {
    fs::rename(from, to)?;
    if let Some(parent) = to.parent() {
        private_fs::sync_dir(parent)?;
    }
    if let Some(parent) = from.parent() {
        private_fs::sync_dir(parent)?;
    }
    Ok(())
}

/// `sent/<name>.receipt.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Receipt {
    /// The file as it was dropped (relative to the drop folder).
    pub file: String,
    /// The document's uniqueId in the DSP.
    #[serde(rename = "uniqueId")]
    pub unique_id: String,
    /// When the platform registered it (or, for a duplicate, when the
    /// earlier copy was registered).
    pub registered_at: String,
    pub patient: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<ConfidentialityMode>,
    /// Where the patient-informed statement came from.
    pub statement_source: StatementSource,
    pub sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// Set when this content was already sent for this patient: it was
    /// not sent again, and `uniqueId` is the earlier document's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub duplicate: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `failed/<name>.error.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorReport {
    /// The file as it was dropped (relative to the drop folder; non-UTF-8
    /// bytes shown as U+FFFD).
    pub file: String,
    /// The fixed error name (`DSP_E_BAD_MATRICULE`, …).
    pub code: String,
    /// What is wrong, exactly.
    pub reason: String,
    /// The sidecar field at fault, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What to do about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// How to send it again.
    pub resubmit: String,
    pub failed_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
}

/// Why a file failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub code: ErrorCode,
    pub reason: String,
    pub field: Option<String>,
    pub hint: Option<String>,
}

impl Failure {
    pub fn new(code: ErrorCode, reason: impl Into<String>) -> Failure {
        Failure {
            code,
            reason: reason.into(),
            field: None,
            hint: None,
        }
    }

    pub fn field(mut self, field: Option<String>) -> Failure {
        self.field = field;
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Failure {
        self.hint = Some(hint.into());
        self
    }
}

/// Writes a JSON report next to a file, atomically (0600).
pub fn write_report<T: Serialize>(path: &Path, report: &T) -> io::Result<()> {
    let mut bytes = serde_json::to_vec_pretty(report).map_err(io::Error::other)?;
    bytes.push(b'\n');
    private_fs::write_atomically(path, &bytes)
}

/// Suffix of a receipt in `sent/`.
pub const RECEIPT_SUFFIX: &str = ".receipt.json";
/// Suffix of an error report in `failed/`.
pub const ERROR_SUFFIX: &str = ".error.json";

/// Removes copies in `sent/` whose receipt is older than `keep`, with
/// their sidecars and receipts. (A moved file keeps its own modification
/// time; the receipt's is when it was sent.)
pub fn expire_sent(sent: &Path, keep: Duration) -> io::Result<usize> {
    let now = SystemTime::now();
    let mut removed = 0;
    for entry in fs::read_dir(sent)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(document) = name.to_str().and_then(|n| n.strip_suffix(RECEIPT_SUFFIX)) else {
            continue;
        };
        let meta = entry.metadata()?;
        let old = meta
            .modified()
            .ok()
            .and_then(|m| now.duration_since(m).ok())
            .is_some_and(|age| age >= keep);
        if !old {
            continue;
        }
        let doc = sent.join(document);
        for p in [with_suffix(&doc, SIDECAR_SUFFIX), doc, entry.path()] {
            match fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        removed += 1;
    }
    Ok(removed)
}

/// A name's display form (lossy for non-UTF-8 names).
pub fn display_name(path: &Path, root: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}
