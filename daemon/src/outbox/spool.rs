//! The spool on disk (blocking I/O; the async outbox calls it from
//! `spawn_blocking` where the work is large).
//!
//! ```text
//! <spool>/            0700
//!   tmp/<job_id>/     a job being written; removed at start (never acknowledged)
//!   jobs/<job_id>/    a job acknowledged to the caller
//!     content         0600, the document (removed once registered)
//!     job.json        0600, the JobRecord (replaced atomically)
//!   uploads/<id>/     chunked uploads (see uploads.rs)
//! ```
//!
//! A job becomes durable in one step: the complete `tmp/<id>` folder
//! (content and job.json fsynced) is renamed to `jobs/<id>` and `jobs/` is
//! fsynced. Only then is the job acknowledged.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sha1::Digest as _;
use uuid::Uuid;

use super::error::OutboxError;
use super::metadata::SNIFF_BYTES;
use super::record::{ContentInfo, JobRecord, RECORD_VERSION};
use crate::private_fs;

pub(crate) const CONTENT: &str = "content";
pub(crate) const RECORD: &str = "job.json";

/// Copy buffer: large enough for throughput, small enough that memory
/// stays flat whatever the document's size.
const COPY_BUFFER: usize = 64 * 1024;

pub(crate) struct Spool {
    root: PathBuf,
    tmp: PathBuf,
    jobs: PathBuf,
    uploads: PathBuf,
}

/// A job folder in `tmp/`, content written, not yet committed.
pub(crate) struct Staged {
    pub dir: PathBuf,
    pub content: ContentInfo,
    /// The content's first bytes, for recognising its type.
    pub head: Vec<u8>,
}

/// What was found at start.
pub(crate) struct Loaded {
    pub records: Vec<JobRecord>,
    /// Job folders that could not be read (left in place for a human).
    pub damaged: Vec<OutboxError>,
}

impl Spool {
    /// Opens (creating) the spool; refuses one other users have access to.
    pub fn open(root: &Path) -> Result<Spool, OutboxError> {
        private_fs::ensure_private_dir(root)?;
        let spool = Spool {
            root: root.to_owned(),
            tmp: root.join("tmp"),
            jobs: root.join("jobs"),
            uploads: root.join("uploads"),
        };
        for dir in [&spool.tmp, &spool.jobs, &spool.uploads] {
            private_fs::ensure_private_dir(dir)?;
        }
        Ok(spool)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn uploads_dir(&self) -> &Path {
        &self.uploads
    }

    pub fn job_dir(&self, job_id: Uuid) -> PathBuf {
        self.jobs.join(job_id.to_string())
    }

    pub fn content_path(&self, job_id: Uuid) -> PathBuf {
        self.job_dir(job_id).join(CONTENT)
    }

    /// Removes what a crash left in `tmp/` (jobs never acknowledged) and
    /// stale `job.json.tmp` files, and reads every job.
    pub fn recover(&self) -> Result<Loaded, OutboxError> {
        for entry in read_dir(&self.tmp)? {
            let path = entry.path();
            remove_any(&path).map_err(OutboxError::io(&path, "remove the unfinished job"))?;
        }
        private_fs::sync_dir(&self.tmp).map_err(OutboxError::io(&self.tmp, "sync"))?;
        let mut loaded = Loaded {
            records: Vec::new(),
            damaged: Vec::new(),
        };
        for entry in read_dir(&self.jobs)? {
            let dir = entry.path();
            let stale = private_fs::tmp_sibling(&dir.join(RECORD));
            match fs::remove_file(&stale) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    return Err(OutboxError::io(&stale, "remove")(e));
                }
                _ => {}
            }
            match read_record(&dir) {
                Ok(record) => loaded.records.push(record),
                Err(e) => loaded.damaged.push(e),
            }
        }
        loaded.records.sort_by_key(|r| r.sequence);
        Ok(loaded)
    }

    /// Copies `source` into `tmp/<job_id>/content` (0600) while computing
    /// its size, SHA-1 and SHA-256, refusing more than `limit` bytes.
    pub fn stage_copy(
        &self,
        job_id: Uuid,
        source: &mut dyn Read,
        limit: u64,
    ) -> Result<Staged, OutboxError> {
        let dir = self.tmp.join(job_id.to_string());
        private_fs::create_private_dir(&dir).map_err(OutboxError::io(&dir, "create"))?;
        let result = copy_hashing(source, &dir.join(CONTENT), limit);
        match result {
            Ok((content, head)) => Ok(Staged { dir, content, head }),
            Err(e) => {
                // Best effort: whatever stays is removed at the next start.
                let _ = fs::remove_dir_all(&dir);
                Err(e)
            }
        }
    }

    /// Moves an already hashed file (a committed upload, on the same file
    /// system) into `tmp/<job_id>/content`.
    pub fn stage_move(
        &self,
        job_id: Uuid,
        from: &Path,
        content: ContentInfo,
        head: Vec<u8>,
    ) -> Result<Staged, OutboxError> {
        let dir = self.tmp.join(job_id.to_string());
        private_fs::create_private_dir(&dir).map_err(OutboxError::io(&dir, "create"))?;
        let to = dir.join(CONTENT);
        if let Err(e) = fs::rename(from, &to) {
            let _ = fs::remove_dir_all(&dir);
            return Err(OutboxError::io(from, "move the upload into the spool")(e));
        }
        Ok(Staged { dir, content, head })
    }

    /// Writes job.json into the staged folder and makes the job durable:
    /// fsync, rename `tmp/<id>` → `jobs/<id>`, fsync `jobs/` and `tmp/`.
    pub fn commit(&self, staged: &Staged, record: &JobRecord) -> Result<(), OutboxError> {
        let record_path = staged.dir.join(RECORD);
        let bytes = encode(record)?;
        let mut file = private_fs::create_private_file(&record_path)
            .map_err(OutboxError::io(&record_path, "create"))?;
        file.write_all(&bytes)
            .and_then(|()| file.sync_all())
            .map_err(OutboxError::io(&record_path, "write"))?;
        drop(file);
        private_fs::sync_dir(&staged.dir).map_err(OutboxError::io(&staged.dir, "sync"))?;
        let target = self.job_dir(record.job_id);
        fs::rename(&staged.dir, &target).map_err(OutboxError::io(&target, "commit the job"))?;
        // Flushing jobs/ makes the rename durable, both its ends at once (a
        // journaled file system commits a rename whole); tmp/ needs no
        // flush of its own, and whatever a crash leaves there is removed
        // at the next start.
        private_fs::sync_dir(&self.jobs).map_err(OutboxError::io(&self.jobs, "sync"))
    }

    /// Drops a staged job that will not be committed.
    pub fn discard_staged(&self, staged: Staged) {
        // Best effort: a leftover is removed at the next start.
        let _ = fs::remove_dir_all(&staged.dir);
    }

    /// Replaces job.json atomically.
    pub fn save(&self, record: &JobRecord) -> Result<(), OutboxError> {
        let path = self.job_dir(record.job_id).join(RECORD);
        let bytes = encode(record)?;
        private_fs::write_atomically(&path, &bytes).map_err(OutboxError::io(&path, "write"))
    }

    /// Replaces job.json atomically for a step whose previous record is a
    /// safe state to resume from after a crash (uploading, done: the
    /// resend under the same uniqueId is settled by the duplicate rule).
    /// The record's bytes are flushed, the folder is not.
    pub fn save_progress(&self, record: &JobRecord) -> Result<(), OutboxError> {
        let path = self.job_dir(record.job_id).join(RECORD);
        let bytes = encode(record)?;
        private_fs::replace_contents(&path, &bytes).map_err(OutboxError::io(&path, "write"))
    }

    /// Removes a job's content (it was registered). Not flushed: a copy
    /// that reappears after a crash belongs to a done job, and is removed
    /// again at the next start.
    pub fn remove_content(&self, job_id: Uuid) -> Result<(), OutboxError> {
        let path = self.content_path(job_id);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(OutboxError::io(&path, "remove")(e))
            }
            _ => Ok(()),
        }
    }

    /// Removes a whole job folder.
    pub fn remove_job(&self, job_id: Uuid) -> Result<(), OutboxError> {
        let dir = self.job_dir(job_id);
        remove_any(&dir).map_err(OutboxError::io(&dir, "remove"))?;
        private_fs::sync_dir(&self.jobs).map_err(OutboxError::io(&self.jobs, "sync"))
    }
}

fn encode(record: &JobRecord) -> Result<Vec<u8>, OutboxError> {
    serde_json::to_vec_pretty(record).map_err(|e| OutboxError::Internal(format!("job.json: {e}")))
}

fn read_record(dir: &Path) -> Result<JobRecord, OutboxError> {
    let path = dir.join(RECORD);
    let bytes = fs::read(&path).map_err(OutboxError::io(&path, "read"))?;
    let record: JobRecord = serde_json::from_slice(&bytes).map_err(|e| OutboxError::Corrupt {
        path: path.clone(),
        problem: e.to_string(),
    })?;
    if record.version > RECORD_VERSION {
        return Err(OutboxError::Corrupt {
            path,
            problem: format!(
                "written by a newer dspconnectd (layout {}); upgrade this one",
                record.version
            ),
        });
    }
    let named = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    if named != record.job_id.to_string() {
        return Err(OutboxError::Corrupt {
            path,
            problem: format!("folder {named} holds job {}", record.job_id),
        });
    }
    Ok(record)
}

fn read_dir(dir: &Path) -> Result<Vec<fs::DirEntry>, OutboxError> {
    fs::read_dir(dir)
        .and_then(|entries| entries.collect::<io::Result<Vec<_>>>())
        .map_err(OutboxError::io(dir, "list"))
}

fn remove_any(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Streams `source` into a new 0600 file at `to`, hashing as it goes.
fn copy_hashing(
    source: &mut dyn Read,
    to: &Path,
    limit: u64,
) -> Result<(ContentInfo, Vec<u8>), OutboxError> {
    let mut out = private_fs::create_private_file(to).map_err(OutboxError::io(to, "create"))?;
    let mut hashes = Hashes::new();
    let mut buffer = vec![0u8; COPY_BUFFER];
    loop {
        let n = match source.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(OutboxError::io(to, "read the document")(e)),
        };
        let chunk = &buffer[..n];
        if hashes.size + n as u64 > limit {
            return Err(OutboxError::SourceTooLarge { size: None, limit });
        }
        hashes.update(chunk);
        out.write_all(chunk)
            .map_err(OutboxError::io(to, "write the spool copy"))?;
    }
    if hashes.size == 0 {
        return Err(OutboxError::SourceEmpty);
    }
    out.sync_all().map_err(OutboxError::io(to, "sync"))?;
    Ok(hashes.finish())
}

/// Size, SHA-1, SHA-256 and the first bytes, in one pass.
pub(crate) struct Hashes {
    sha1: sha1::Sha1,
    sha256: sha2::Sha256,
    size: u64,
    head: Vec<u8>,
}

impl Hashes {
    pub fn new() -> Hashes {
        Hashes {
            sha1: sha1::Sha1::new(),
            sha256: sha2::Sha256::new(),
            size: 0,
            head: Vec::with_capacity(SNIFF_BYTES),
        }
    }

    pub fn update(&mut self, chunk: &[u8]) {
        self.sha1.update(chunk);
        self.sha256.update(chunk);
        self.size += chunk.len() as u64;
        let room = SNIFF_BYTES - self.head.len();
        self.head.extend_from_slice(&chunk[..room.min(chunk.len())]);
    }

    pub fn finish(self) -> (ContentInfo, Vec<u8>) {
        (
            ContentInfo {
                size: self.size,
                sha1: hex(&self.sha1.finalize()),
                sha256: hex(&self.sha256.finalize()),
            },
            self.head,
        )
    }
}

/// Hashes a whole file.
pub(crate) fn hash_file(path: &Path) -> io::Result<(ContentInfo, Vec<u8>)> {
    let mut file = File::open(path)?;
    let mut hashes = Hashes::new();
    let mut buffer = vec![0u8; COPY_BUFFER];
    loop {
        match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => hashes.update(&buffer[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(hashes.finish())
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            // Writing to a String cannot fail.
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_match_known_values() {
        let mut h = Hashes::new();
        h.update(b"a");
        h.update(b"bc");
        let (info, head) = h.finish();
        assert_eq!(info.size, 3);
        assert_eq!(info.sha1, "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(
            info.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(head, b"abc");
    }

    #[test]
    fn the_copy_stops_at_the_limit_and_leaves_nothing() {
        let root = tempfile::tempdir().unwrap();
        let spool = Spool::open(&root.path().join("spool")).unwrap();
        let id = Uuid::new_v4();
        let mut big = io::repeat(7).take(200_000);
        let err = spool.stage_copy(id, &mut big, 100_000).err().unwrap();
        assert!(matches!(err, OutboxError::SourceTooLarge { .. }), "{err}");
        assert_eq!(
            fs::read_dir(root.path().join("spool/tmp")).unwrap().count(),
            0
        );
        let err = spool.stage_copy(id, &mut io::empty(), 100).err().unwrap();
        assert!(matches!(err, OutboxError::SourceEmpty), "{err}");
    }
}
