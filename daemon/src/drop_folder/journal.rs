//! The drop folder's journal (`.dspconnect/journal.jsonl`): one JSON line
//! per step, fsynced before the step it announces. A claim (path and
//! SHA-256) is written before the file moves to `queued/`, so that neither
//! a rescan nor a restart hands the same file over twice; `sent` lines keep
//! (SHA-256, matricule) for the duplicate window, however long the copies
//! stay in `sent/`.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::outbox::StatementSource;
use crate::private_fs;

/// One journal line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Entry {
    /// A document is about to move to `queued/` and be handed over.
    Claim {
        claim: String,
        /// Where it was, relative to the drop folder.
        source: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sidecar: Option<String>,
        /// Its name in `queued/` (and later in `sent/` or `failed/`).
        name: String,
        sha256: String,
        patient: String,
        statement_source: StatementSource,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// The outbox has the job.
    Enqueued {
        claim: String,
        job_id: String,
        unique_id: String,
    },
    /// Registered in the DSP (or a duplicate of a document that was):
    /// counts for the duplicate window.
    Sent {
        claim: String,
        sha256: String,
        patient: String,
        unique_id: String,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// Ended in `failed/`.
    Failed {
        claim: String,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// A claim whose file never moved (a crash right after the claim): the
    /// file is taken again from where it is.
    Abandoned { claim: String },
}

/// Where a claim stands.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    pub claim: String,
    pub source: String,
    pub sidecar: Option<String>,
    pub name: String,
    pub sha256: String,
    pub patient: String,
    pub statement_source: StatementSource,
    pub at: OffsetDateTime,
    /// (job id, uniqueId) once enqueued.
    pub job: Option<(String, String)>,
}

/// A document registered for a patient.
#[derive(Debug, Clone, PartialEq)]
pub struct SentRecord {
    pub unique_id: String,
    pub at: OffsetDateTime,
}

/// The journal, loaded, with an open append handle.
pub struct Journal {
    path: PathBuf,
    file: File,
    appended: usize,
    /// Claims not finished (neither sent nor failed nor abandoned).
    pub open: HashMap<String, Claim>,
    /// (SHA-256, matricule) → the last registration.
    pub sent: HashMap<(String, String), SentRecord>,
}

impl Journal {
    /// Loads the journal, keeps what still matters (open claims and sends
    /// within `window`), rewrites it compacted, and opens it for appending.
    /// A torn last line (a crash while writing it) is ignored.
    pub fn open(path: &Path, window: time::Duration) -> io::Result<Journal> {
        let mut open: HashMap<String, Claim> = HashMap::new();
        let mut sent: HashMap<(String, String), SentRecord> = HashMap::new();
        match fs::read(path) {
            Ok(bytes) => {
                // A torn last line (even cut inside a UTF-8 character) is skipped.
                for line in bytes.split(|b| *b == b'\n') {
                    if line.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    match serde_json::from_slice::<Entry>(line) {
                        Ok(entry) => apply(&mut open, &mut sent, entry),
                        Err(e) => {
                            tracing::warn!(error = %e, "drop-folder journal line skipped");
                        }
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let now = OffsetDateTime::now_utc();
        sent.retain(|_, r| r.at + window > now);
        let mut journal = Journal {
            path: path.to_owned(),
            file: private_fs::open_private_append(path)?,
            open,
            sent,
            appended: 0,
        };
        journal.compact(window)?;
        Ok(journal)
    }

    /// Rewrites the journal with what still matters: the open claims and
    /// the sends within `window`. Done at open and after many appends.
    pub fn compact(&mut self, window: time::Duration) -> io::Result<()> {
        let now = OffsetDateTime::now_utc();
        self.sent.retain(|_, r| r.at + window > now);
        let mut text = String::new();
        let mut claims: Vec<&Claim> = self.open.values().collect();
        claims.sort_by_key(|c| c.at);
        for c in claims {
            push_line(&mut text, &c.to_entry())?;
            if let Some((job_id, unique_id)) = &c.job {
                push_line(
                    &mut text,
                    &Entry::Enqueued {
                        claim: c.claim.clone(),
                        job_id: job_id.clone(),
                        unique_id: unique_id.clone(),
                    },
                )?;
            }
        }
        for ((sha256, patient), r) in &self.sent {
            push_line(
                &mut text,
                &Entry::Sent {
                    claim: String::new(),
                    sha256: sha256.clone(),
                    patient: patient.clone(),
                    unique_id: r.unique_id.clone(),
                    at: r.at,
                },
            )?;
        }
        private_fs::write_atomically(&self.path, text.as_bytes())?;
        self.file = private_fs::open_private_append(&self.path)?;
        self.appended = 0;
        Ok(())
    }

    /// Lines appended since the last compaction.
    pub fn appended(&self) -> usize {
        self.appended
    }

    /// Appends `entry` durably, then applies it.
    pub fn record(&mut self, entry: Entry) -> io::Result<()> {
        self.append(entry, true)
    }

    /// Appends an entry that a restart can rebuild when a crash loses it
    /// (the claim–job link, found again through the job's claim id; a
    /// send, settled again from the outbox): written, not flushed — the
    /// next flushed entry carries it to disk, and a line a crash tears or
    /// zeroes is skipped at load.
    pub fn record_recoverable(&mut self, entry: Entry) -> io::Result<()> {
        self.append(entry, false)
    }

    fn append(&mut self, entry: Entry, flush: bool) -> io::Result<()> {
        let mut line = serde_json::to_string(&entry).map_err(io::Error::other)?;
        line.push('\n');
        self.file.write_all(line.as_bytes())?;
        if flush {
            self.file.sync_data()?;
        }
        self.appended += 1;
        apply(&mut self.open, &mut self.sent, entry);
        Ok(())
    }

    /// The last registration of this content for this patient, within the window.
    pub fn sent_within(
        &self,
        sha256: &str,
        patient: &str,
        window: time::Duration,
    ) -> Option<&SentRecord> {
        self.sent
            .get(&(sha256.to_owned(), patient.to_owned()))
            .filter(|r| r.at + window > OffsetDateTime::now_utc())
    }

    /// An open claim for this content and patient (queued, not finished).
    pub fn in_flight(&self, sha256: &str, patient: &str) -> Option<&Claim> {
        self.open
            .values()
            .find(|c| c.sha256 == sha256 && c.patient == patient)
    }

    /// The open claim holding `job_id`.
    pub fn claim_of_job(&self, job_id: &str) -> Option<&Claim> {
        self.open
            .values()
            .find(|c| c.job.as_ref().is_some_and(|(j, _)| j == job_id))
    }
}

impl Claim {
    fn to_entry(&self) -> Entry {
        Entry::Claim {
            claim: self.claim.clone(),
            source: self.source.clone(),
            sidecar: self.sidecar.clone(),
            name: self.name.clone(),
            sha256: self.sha256.clone(),
            patient: self.patient.clone(),
            statement_source: self.statement_source,
            at: self.at,
        }
    }
}

fn push_line(text: &mut String, entry: &Entry) -> io::Result<()> {
    text.push_str(&serde_json::to_string(entry).map_err(io::Error::other)?);
    text.push('\n');
    Ok(())
}

fn apply(
    open: &mut HashMap<String, Claim>,
    sent: &mut HashMap<(String, String), SentRecord>,
    entry: Entry,
) {
    match entry {
        Entry::Claim {
            claim,
            source,
            sidecar,
            name,
            sha256,
            patient,
            statement_source,
            at,
        } => {
            open.insert(
                claim.clone(),
                Claim {
                    claim,
                    source,
                    sidecar,
                    name,
                    sha256,
                    patient,
                    statement_source,
                    at,
                    job: None,
                },
            );
        }
        Entry::Enqueued {
            claim,
            job_id,
            unique_id,
        } => {
            if let Some(c) = open.get_mut(&claim) {
                c.job = Some((job_id, unique_id));
            }
        }
        Entry::Sent {
            claim,
            sha256,
            patient,
            unique_id,
            at,
        } => {
            open.remove(&claim);
            sent.insert((sha256, patient), SentRecord { unique_id, at });
        }
        Entry::Failed { claim, .. } | Entry::Abandoned { claim } => {
            open.remove(&claim);
        }
    }
}

/// Removes a stale journal temporary left by a crash during compaction.
pub fn clean(path: &Path) {
    let _ = fs::remove_file(private_fs::tmp_sibling(path));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_survive_reopening_and_sends_expire_with_the_window() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let window = time::Duration::days(30);
        let mut j = Journal::open(&path, window).unwrap();
        let now = OffsetDateTime::now_utc();
        for (claim, sha) in [("a", "11"), ("b", "22")] {
            j.record(Entry::Claim {
                claim: claim.into(),
                source: format!("{claim}.pdf"),
                sidecar: None,
                name: format!("{claim}.pdf"),
                sha256: sha.into(),
                patient: "1893120105732".into(),
                statement_source: StatementSource::Sidecar,
                at: now,
            })
            .unwrap();
        }
        j.record(Entry::Enqueued {
            claim: "a".into(),
            job_id: "j".into(),
            unique_id: "2.25.1".into(),
        })
        .unwrap();
        j.record(Entry::Sent {
            claim: "b".into(),
            sha256: "22".into(),
            patient: "1893120105732".into(),
            unique_id: "2.25.2".into(),
            at: now,
        })
        .unwrap();
        j.record(Entry::Sent {
            claim: String::new(),
            sha256: "33".into(),
            patient: "1893120105732".into(),
            unique_id: "2.25.3".into(),
            at: now - time::Duration::days(40),
        })
        .unwrap();
        // A torn line at the end.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"op\":\"claim\",\"source\":\"r\xc3")
            .unwrap();
        drop(j);
        let j = Journal::open(&path, window).unwrap();
        assert_eq!(j.open.len(), 1);
        assert_eq!(j.open["a"].job.as_ref().unwrap().0, "j");
        assert!(j.sent_within("22", "1893120105732", window).is_some());
        assert!(j.sent_within("33", "1893120105732", window).is_none());
        assert!(j.in_flight("11", "1893120105732").is_some());
        assert_eq!(j.claim_of_job("j").unwrap().claim, "a");
    }
}
