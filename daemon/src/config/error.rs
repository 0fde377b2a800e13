//! Configuration errors: every one names the file and the key at fault.

use std::fmt;
use std::path::{Path, PathBuf};

use dspconnect::ErrorCode;

use super::Config;

/// One thing wrong with one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The dotted key (`platform.registry_url`).
    pub key: String,
    /// What is wrong and what to do.
    pub message: String,
}

impl Problem {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// The configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: cannot read the configuration: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Not TOML, a value of the wrong type, an unknown or missing key.
    #[error("{}{}: {problem}", origin.display(), line.map(|l| format!(" line {l}")).unwrap_or_default())]
    Syntax {
        origin: PathBuf,
        line: Option<usize>,
        problem: Problem,
    },
    /// Parsed, but breaks one or more rules.
    #[error("{}: invalid configuration: {}", origin.display(), join(problems))]
    Invalid {
        origin: PathBuf,
        problems: Vec<Problem>,
    },
    #[error(
        "no configuration location: neither XDG_CONFIG_HOME nor HOME is set; \
         name the file with --config or {}",
        super::CONFIG_ENV
    )]
    NoLocation,
    #[error("{}: the configuration file was removed; the running configuration stays", path.display())]
    Removed { path: PathBuf },
    #[error("{}: cannot watch the configuration for changes: {source}", path.display())]
    Watch {
        path: PathBuf,
        source: notify::Error,
    },
}

fn join(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(Problem::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl ConfigError {
    /// The IPC / C ABI code.
    pub fn code(&self) -> ErrorCode {
        match self {
            ConfigError::Read { .. } | ConfigError::Watch { .. } => ErrorCode::Io,
            _ => ErrorCode::Config,
        }
    }

    /// The keys at fault, for callers that point at them.
    pub fn keys(&self) -> Vec<&str> {
        match self {
            ConfigError::Syntax { problem, .. } => vec![problem.key.as_str()],
            ConfigError::Invalid { problems, .. } => {
                problems.iter().map(|p| p.key.as_str()).collect()
            }
            _ => Vec::new(),
        }
    }
}

/// Parses TOML into a [`Config`], naming the key of a type error, an
/// unknown key (refused by `deny_unknown_fields`) or a missing one.
pub(super) fn parse_toml(text: &str, origin: &Path) -> Result<Config, ConfigError> {
    let syntax = |line: Option<usize>, key: String, message: String| ConfigError::Syntax {
        origin: origin.to_owned(),
        line,
        problem: Problem { key, message },
    };
    let deserializer = match toml::Deserializer::parse(text) {
        Ok(d) => d,
        Err(e) => {
            let line = e.span().map(|s| line_of(text, s.start));
            return Err(syntax(line, "(file)".into(), e.message().trim().to_owned()));
        }
    };
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.inner();
        let line = inner.span().map(|s| line_of(text, s.start));
        let (key, message) = name_the_key(&path, inner.message().trim());
        syntax(line, key, message)
    })
}

/// serde reports an unknown or missing field as a message on the enclosing
/// table; turn it into the key itself (`platform.colour: unknown key`).
fn name_the_key(path: &str, message: &str) -> (String, String) {
    // serde_path_to_error already ends the path with an unknown key, but
    // not with a missing one.
    let under = |field: &str| {
        if path.is_empty() || path == "." {
            field.to_owned()
        } else if path == field || path.ends_with(&format!(".{field}")) {
            path.to_owned()
        } else {
            format!("{path}.{field}")
        }
    };
    if let Some(rest) = message.strip_prefix("unknown field `")
        && let Some((field, expected)) = rest.split_once('`')
    {
        let expected = expected.trim_start_matches(',').trim();
        return (
            under(field),
            format!("unknown key (a typo?); {expected}")
                .trim_end_matches("; ")
                .to_owned(),
        );
    }
    if let Some(rest) = message.strip_prefix("missing field `")
        && let Some((field, _)) = rest.split_once('`')
    {
        return (under(field), "required but missing".to_owned());
    }
    let key = if path.is_empty() || path == "." {
        "(file)".to_owned()
    } else {
        path.to_owned()
    };
    (key, message.to_owned())
}

fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_missing_fields_name_the_key() {
        assert_eq!(
            name_the_key(
                "platform",
                "unknown field `colour`, expected `name` or `kind`"
            ),
            (
                "platform.colour".to_owned(),
                "unknown key (a typo?); expected `name` or `kind`".to_owned()
            )
        );
        assert_eq!(
            name_the_key("platform.colour", "unknown field `colour`, expected `name`").0,
            "platform.colour"
        );
        assert_eq!(
            name_the_key("platform", "missing field `registry_url`"),
            (
                "platform.registry_url".to_owned(),
                "required but missing".to_owned()
            )
        );
        assert_eq!(
            name_the_key("", "unknown field `nope`, expected one of `platform`"),
            (
                "nope".to_owned(),
                "unknown key (a typo?); expected one of `platform`".to_owned()
            )
        );
        assert_eq!(
            name_the_key("session.idle_timeout_minutes", "invalid type"),
            (
                "session.idle_timeout_minutes".to_owned(),
                "invalid type".to_owned()
            )
        );
    }

    #[test]
    fn lines_count_from_one() {
        assert_eq!(line_of("a\nb\nc", 0), 1);
        assert_eq!(line_of("a\nb\nc", 2), 2);
        assert_eq!(line_of("a\nb\nc", 99), 3);
    }
}
