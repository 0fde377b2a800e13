//! Chunked uploads (`document.upload_begin` / `_chunk` / `_commit`), for
//! content too large for one IPC line that the caller cannot name by path.
//!
//! ```text
//! uploads/<upload_id>/
//!   content       0600, the bytes received so far (its length is the offset)
//!   upload.json   0600, the announced size; after commit, size and hashes
//! ```
//!
//! Chunks must arrive in order: each names the offset it starts at, which
//! must equal the bytes received. Commit checks the size announced at
//! begin and the caller's SHA-256, and computes the SHA-1 the XDS
//! submission needs. An upload not used within the expiry is removed.

use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::error::OutboxError;
use super::metadata::SNIFF_BYTES;
use super::record::ContentInfo;
use super::spool::{CONTENT, hash_file};
use crate::private_fs;

const STATE: &str = "upload.json";

#[derive(Debug, Clone, Serialize, Deserialize)]
struct UploadState {
    announced: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    committed: Option<ContentInfo>,
}

/// A committed upload, ready to become a job's content.
pub(crate) struct CommittedUpload {
    pub content_path: PathBuf,
    pub content: ContentInfo,
    pub head: Vec<u8>,
}

pub(crate) struct UploadStore {
    dir: PathBuf,
    /// Serialises appends and commits (an upload is one caller's stream;
    /// the lock only keeps two connections from interleaving).
    lock: Mutex<()>,
}

impl UploadStore {
    pub fn new(dir: &Path) -> UploadStore {
        UploadStore {
            dir: dir.to_owned(),
            lock: Mutex::new(()),
        }
    }

    fn guard(&self) -> std::sync::MutexGuard<'_, ()> {
        self.lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn upload_dir(&self, id: &str) -> Result<PathBuf, OutboxError> {
        // Only our own ids name folders: nothing like "../x" gets through.
        let id = Uuid::parse_str(id).map_err(|_| OutboxError::UnknownUpload(id.to_owned()))?;
        let dir = self.dir.join(id.to_string());
        if dir.is_dir() {
            Ok(dir)
        } else {
            Err(OutboxError::UnknownUpload(id.to_string()))
        }
    }

    fn state(dir: &Path) -> Result<UploadState, OutboxError> {
        let path = dir.join(STATE);
        let bytes = fs::read(&path).map_err(OutboxError::io(&path, "read"))?;
        serde_json::from_slice(&bytes).map_err(|e| OutboxError::Corrupt {
            path,
            problem: e.to_string(),
        })
    }

    fn write_state(dir: &Path, state: &UploadState) -> Result<(), OutboxError> {
        let path = dir.join(STATE);
        let bytes = serde_json::to_vec(state)
            .map_err(|e| OutboxError::Internal(format!("upload.json: {e}")))?;
        private_fs::write_atomically(&path, &bytes).map_err(OutboxError::io(&path, "write"))
    }

    /// Starts an upload of `size` bytes (1 to `limit`).
    pub fn begin(&self, size: u64, limit: u64) -> Result<String, OutboxError> {
        if size == 0 {
            return Err(OutboxError::SourceEmpty);
        }
        if size > limit {
            return Err(OutboxError::SourceTooLarge {
                size: Some(size),
                limit,
            });
        }
        let id = Uuid::new_v4();
        let dir = self.dir.join(id.to_string());
        private_fs::create_private_dir(&dir).map_err(OutboxError::io(&dir, "create"))?;
        let content = dir.join(CONTENT);
        private_fs::create_private_file(&content).map_err(OutboxError::io(&content, "create"))?;
        Self::write_state(
            &dir,
            &UploadState {
                announced: size,
                committed: None,
            },
        )?;
        Ok(id.to_string())
    }

    /// Appends `data` at `offset`; returns the bytes received.
    pub fn append(&self, id: &str, offset: u64, data: &[u8]) -> Result<u64, OutboxError> {
        let _guard = self.guard();
        let dir = self.upload_dir(id)?;
        let state = Self::state(&dir)?;
        if state.committed.is_some() {
            return Err(OutboxError::UploadAlreadyCommitted);
        }
        let content = dir.join(CONTENT);
        let received = fs::metadata(&content)
            .map_err(OutboxError::io(&content, "read the size of"))?
            .len();
        if offset != received {
            return Err(OutboxError::UploadOffset {
                expected: received,
                got: offset,
            });
        }
        if received + data.len() as u64 > state.announced {
            return Err(OutboxError::UploadOverrun {
                announced: state.announced,
            });
        }
        let mut file = OpenOptions::new()
            .append(true)
            .open(&content)
            .map_err(OutboxError::io(&content, "open"))?;
        file.write_all(data)
            .map_err(OutboxError::io(&content, "append to"))?;
        Ok(received + data.len() as u64)
    }

    /// Finishes an upload: all announced bytes are there and their SHA-256
    /// is `sha256` (hex). A mismatch removes the upload.
    pub fn commit(&self, id: &str, sha256: &str) -> Result<ContentInfo, OutboxError> {
        let _guard = self.guard();
        let dir = self.upload_dir(id)?;
        let mut state = Self::state(&dir)?;
        if state.committed.is_some() {
            return Err(OutboxError::UploadAlreadyCommitted);
        }
        let content = dir.join(CONTENT);
        let received = fs::metadata(&content)
            .map_err(OutboxError::io(&content, "read the size of"))?
            .len();
        if received != state.announced {
            return Err(OutboxError::UploadIncomplete {
                received,
                announced: state.announced,
            });
        }
        let (info, _head) = hash_file(&content).map_err(OutboxError::io(&content, "read"))?;
        if !info.sha256.eq_ignore_ascii_case(sha256.trim()) {
            let _ = fs::remove_dir_all(&dir);
            return Err(OutboxError::UploadHashMismatch {
                claimed: sha256.trim().to_owned(),
                actual: info.sha256,
            });
        }
        fs::File::open(&content)
            .and_then(|f| f.sync_all())
            .map_err(OutboxError::io(&content, "sync"))?;
        state.committed = Some(info.clone());
        Self::write_state(&dir, &state)?;
        Ok(info)
    }

    /// A committed upload's content, for moving into the spool.
    pub fn committed(&self, id: &str) -> Result<CommittedUpload, OutboxError> {
        let _guard = self.guard();
        let dir = self.upload_dir(id)?;
        let content = Self::state(&dir)?
            .committed
            .ok_or(OutboxError::UploadNotCommitted)?;
        let content_path = dir.join(CONTENT);
        let mut head = vec![0u8; SNIFF_BYTES];
        let n = fs::File::open(&content_path)
            .and_then(|f| f.take(SNIFF_BYTES as u64).read(&mut head))
            .map_err(OutboxError::io(&content_path, "read"))?;
        head.truncate(n);
        Ok(CommittedUpload {
            content_path,
            content,
            head,
        })
    }

    /// Removes an upload (after its content moved into a job).
    pub fn remove(&self, id: &str) -> Result<(), OutboxError> {
        let dir = self.upload_dir(id)?;
        fs::remove_dir_all(&dir).map_err(OutboxError::io(&dir, "remove"))
    }

    /// Removes uploads untouched for longer than `max_idle`; returns how many.
    pub fn expire(&self, now: SystemTime, max_idle: Duration) -> Result<usize, OutboxError> {
        let _guard = self.guard();
        let mut removed = 0;
        let entries = fs::read_dir(&self.dir).map_err(OutboxError::io(&self.dir, "list"))?;
        for entry in entries {
            let entry = entry.map_err(OutboxError::io(&self.dir, "list"))?;
            let dir = entry.path();
            let touched = last_touched(&dir);
            let idle = now.duration_since(touched).unwrap_or_default();
            if idle > max_idle {
                let removal = if dir.is_dir() {
                    fs::remove_dir_all(&dir)
                } else {
                    fs::remove_file(&dir)
                };
                removal.map_err(OutboxError::io(&dir, "remove"))?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// The newest modification time of an upload's files (an append touches
/// `content`, begin and commit touch `upload.json`).
fn last_touched(dir: &Path) -> SystemTime {
    [dir.to_owned(), dir.join(CONTENT), dir.join(STATE)]
        .iter()
        .filter_map(|p| fs::metadata(p).and_then(|m| m.modified()).ok())
        .max()
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

/// Test access to the idle clock: makes an upload look older.
#[cfg(test)]
pub(crate) fn age_upload(dir: &Path, id: &str, by: Duration) -> std::io::Result<()> {
    let then = SystemTime::now() - by;
    for p in [
        dir.join(id),
        dir.join(id).join(CONTENT),
        dir.join(id).join(STATE),
    ] {
        fs::File::options()
            .write(p.is_file())
            .read(true)
            .open(&p)?
            .set_modified(then)?;
    }
    Ok(())
}
