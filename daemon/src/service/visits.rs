//! When each professional last listed each patient's documents, for the
//! "since last visit" filter. Kept in the daemon's state folder (0600),
//! next to the spool: it survives restarts.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use time::OffsetDateTime;

use crate::private_fs;

const FILE_NAME: &str = "visits.json";

pub struct Visits {
    path: PathBuf,
    /// "professional patient" → last list (RFC 3339 in the file).
    last: Mutex<HashMap<String, i64>>,
}

impl Visits {
    /// Loads the visits kept beside `spool_dir`; an unreadable file is
    /// logged and started afresh (it only filters lists).
    pub fn open(spool_dir: &Path) -> Visits {
        let folder = spool_dir.parent().unwrap_or(spool_dir);
        let path = folder.join(FILE_NAME);
        let last = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(path = %path.display(), error = %e, "last-visit times unreadable; starting afresh");
                HashMap::new()
            }),
            Err(_) => HashMap::new(),
        };
        Visits {
            path,
            last: Mutex::new(last),
        }
    }

    /// Records a visit now and returns the previous one.
    pub fn visit(&self, professional: &str, patient: &str) -> Option<OffsetDateTime> {
        let key = format!("{professional} {patient}");
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        let previous = last.insert(key, now);
        match serde_json::to_vec(&*last) {
            Ok(bytes) => {
                if let Err(e) = private_fs::write_atomically(&self.path, &bytes) {
                    tracing::warn!(path = %self.path.display(), error = %e, "cannot keep the last-visit time");
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot encode the last-visit times"),
        }
        previous.and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_visit_is_remembered_across_opens() {
        let dir = tempfile::tempdir().unwrap();
        let spool = dir.path().join("spool");
        let visits = Visits::open(&spool);
        assert!(visits.visit("SBX1001", "1945093006704").is_none());
        let reopened = Visits::open(&spool);
        assert!(reopened.visit("SBX1001", "1945093006704").is_some());
        assert!(reopened.visit("SBX1002", "1945093006704").is_none());
    }
}
