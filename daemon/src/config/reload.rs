//! What a configuration change means for the running daemon.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use super::Config;
use super::keys;

/// How a changed setting takes effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Applies {
    /// Applied at once by the running daemon.
    Live,
    /// The platform profile changed: the session must end (the assertion
    /// belongs to the old platform); the new profile is used from the next
    /// authentication.
    EndsSession,
    /// Takes effect when the daemon restarts.
    NeedsRestart,
}

impl Applies {
    /// The words used in `docs/configuration.md` and in reload reports.
    pub fn describe(self) -> &'static str {
        match self {
            Applies::Live => "applied live",
            Applies::EndsSession => "ends the session",
            Applies::NeedsRestart => "needs a restart",
        }
    }
}

/// One changed setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The documented key that changed (`outbox.retry_base_seconds`,
    /// `platform.defaults.class_code`).
    pub key: String,
    pub applies: Applies,
}

/// Every setting a reload changed, classified.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadEffect {
    /// In documentation order, each key once.
    pub changes: Vec<Change>,
}

impl ReloadEffect {
    /// Nothing changed.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The platform profile changed: end the session.
    pub fn ends_session(&self) -> bool {
        self.changes
            .iter()
            .any(|c| c.applies == Applies::EndsSession)
    }

    /// Some change waits for a restart.
    pub fn needs_restart(&self) -> bool {
        self.changes
            .iter()
            .any(|c| c.applies == Applies::NeedsRestart)
    }

    /// The changed keys of one class.
    pub fn keys(&self, applies: Applies) -> Vec<&str> {
        self.changes
            .iter()
            .filter(|c| c.applies == applies)
            .map(|c| c.key.as_str())
            .collect()
    }
}

impl fmt::Display for ReloadEffect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("no setting changed");
        }
        let mut first = true;
        for applies in [Applies::Live, Applies::EndsSession, Applies::NeedsRestart] {
            let keys = self.keys(applies);
            if keys.is_empty() {
                continue;
            }
            if !first {
                f.write_str("; ")?;
            }
            first = false;
            write!(f, "{}: {}", applies.describe(), keys.join(", "))?;
        }
        Ok(())
    }
}

/// The settings that differ between `old` and `new`, classified by the key
/// table. Keys are compared on the serialized form, so no field can be
/// forgotten; the derived `sandbox.enabled` is compared as resolved.
pub fn diff(old: &Config, new: &Config) -> ReloadEffect {
    let old_leaves = leaves(old);
    let new_leaves = leaves(new);
    let mut changed: Vec<String> = old_leaves
        .iter()
        .filter(|(k, v)| new_leaves.get(*k) != Some(v))
        .map(|(k, _)| k.clone())
        .chain(
            new_leaves
                .keys()
                .filter(|k| !old_leaves.contains_key(*k))
                .cloned(),
        )
        .collect();
    if old.sandbox_enabled() != new.sandbox_enabled() {
        changed.push("sandbox.enabled".to_owned());
    }
    let mut changes: Vec<(usize, Change)> = Vec::new();
    for leaf in changed {
        let (position, key, applies) = match keys::covering(&leaf) {
            Some(doc) => (
                keys::KEYS
                    .iter()
                    .position(|d| d.key == doc.key)
                    .unwrap_or(usize::MAX),
                doc.key.to_owned(),
                doc.applies,
            ),
            // Unreachable while the key-table test passes; a restart is
            // the safe reading of a key nobody classified.
            None => (usize::MAX, leaf, Applies::NeedsRestart),
        };
        if !changes.iter().any(|(_, c)| c.key == key) {
            changes.push((position, Change { key, applies }));
        }
    }
    changes.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.key.cmp(&b.1.key)));
    ReloadEffect {
        changes: changes.into_iter().map(|(_, c)| c).collect(),
    }
}

/// Dotted key → value of every scalar (arrays count as one value).
pub(super) fn leaves(config: &Config) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    // Serializing plain structs of strings, numbers, bools and paths
    // cannot fail; an empty map here would only make every key look
    // changed, never hide a change.
    let value = serde_json::to_value(config).unwrap_or(Value::Null);
    flatten("", &value, &mut out);
    out
}

fn flatten(prefix: &str, value: &Value, out: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        other => {
            out.insert(prefix.to_owned(), other.clone());
        }
    }
}
