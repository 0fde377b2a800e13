//! The daemon's configuration: a TOML file in
//! `$XDG_CONFIG_HOME/dspconnect/dspconnectd.toml` (or named by `--config` /
//! `DSPCONNECT_CONFIG`), parsed with unknown keys refused, validated with
//! errors that name the key, and reloaded on change ([`watch`]).
//!
//! With no file at all, [`Config::default()`] applies: no platform profile,
//! so the embedded sandbox runs. A real platform is only ever used when a
//! `[platform]` profile is configured explicitly. Every key, its default and
//! whether it applies live is in `docs/configuration.md`, rendered from
//! [`keys::KEYS`] and checked by a test.

mod error;
pub mod keys;
mod paths;
mod platform;
mod reload;
mod validate;
pub mod watch;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use error::{ConfigError, Problem};
pub use paths::{CONFIG_ENV, CONFIG_FILE_NAME, ConfigLocation, XdgDirs};
pub use platform::{AssertionKind, DocumentDefaults, PlatformKind, PlatformProfile};
pub use reload::{Applies, Change, ReloadEffect, diff};
pub(crate) use validate::is_language_tag;
#[cfg(test)]
pub(crate) use validate::is_oid;

/// The whole configuration file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The platform profile; absent means the embedded sandbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<PlatformProfile>,
    #[serde(default)]
    pub sandbox: SandboxConfig,
    #[serde(default)]
    pub drop_folder: DropFolderConfig,
    #[serde(default)]
    pub session: SessionConfig,
    #[serde(default)]
    pub outbox: OutboxConfig,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub tray: TrayConfig,
    #[serde(default)]
    pub card: CardConfig,
}

impl Default for Config {
    /// No platform profile: the embedded sandbox, with default folders.
    fn default() -> Self {
        Config {
            platform: None,
            sandbox: SandboxConfig::default(),
            drop_folder: DropFolderConfig::default(),
            session: SessionConfig::default(),
            outbox: OutboxConfig::default(),
            log: LogConfig::default(),
            tray: TrayConfig::default(),
            card: CardConfig::default(),
        }
    }
}

/// The embedded sandbox (DESIGN.md: the default only so that the first run
/// works; a production build may leave it out).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxConfig {
    /// Run the sandbox in-process. Absent: true exactly when no
    /// `[platform]` is configured (see [`Config::sandbox_enabled`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Where the sandbox keeps its database and test PKI.
    pub data_dir: PathBuf,
    /// TCP port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            enabled: None,
            data_dir: XdgDirs::from_env().data_path("sandbox"),
            port: 0,
        }
    }
}

/// The drop folder (watched for `report.pdf` + `report.pdf.dsp.json`);
/// see `docs/drop-folder.md` and [`crate::drop_folder`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DropFolderConfig {
    /// The folder to watch; absent: no drop folder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// Polling period, for file systems without change notification.
    pub poll_seconds: u32,
    /// Whether a dropped document whose sidecar says nothing about it
    /// carries the statement that the patient was informed and agrees. Off
    /// by default: the statement is then required in every sidecar.
    pub patient_statement_default: bool,
    /// How long copies in `sent/` are kept.
    pub keep_sent_days: u32,
    /// How changes are noticed: file-system events, or polling (network
    /// shares send no events).
    pub watch: DropWatch,
    /// A file whose size and modification time have not changed for this
    /// long is complete even without a close-after-write event.
    pub settle_ms: u32,
    /// A document without its sidecar (or the reverse) fails after this long.
    pub orphan_wait_seconds: u32,
    /// The same content for the same patient is not sent again within
    /// this many days (kept in the journal, whatever `keep_sent_days` says).
    pub duplicate_window_days: u32,
    /// Accept a drop folder that other users can write to (network shares
    /// often show fixed 0777 modes); logs a warning.
    pub allow_writable_by_others: bool,
}

/// How the drop folder notices new files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropWatch {
    /// File-system events (inotify), with a rescan every `poll_seconds`.
    Events,
    /// Polling every `poll_seconds` only (network shares).
    Poll,
}

impl Default for DropFolderConfig {
    fn default() -> Self {
        DropFolderConfig {
            path: None,
            poll_seconds: 2,
            patient_statement_default: false,
            keep_sent_days: 30,
            watch: DropWatch::Events,
            settle_ms: 2000,
            orphan_wait_seconds: 120,
            duplicate_window_days: 365,
            allow_writable_by_others: false,
        }
    }
}

/// The system-tray item and desktop notifications.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrayConfig {
    /// Show the tray item and send desktop notifications.
    pub enabled: bool,
    /// Notify each registered upload too (failures are always notified).
    pub notify_successes: bool,
    /// Remind the professional of their documents still in Visite
    /// d'annonce after this many days (0: never).
    pub visite_annonce_reminder_days: u32,
}

impl Default for TrayConfig {
    fn default() -> Self {
        TrayConfig {
            enabled: true,
            notify_successes: false,
            visite_annonce_reminder_days: 7,
        }
    }
}

/// The card session's timers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionConfig {
    /// Lock after this long without a request on behalf of the user.
    pub idle_timeout_minutes: u32,
    /// Lock when the desktop's screen locks.
    pub lock_on_screen_lock: bool,
    /// Renew the platform assertion this long before it expires.
    pub renew_before_expiry_seconds: u32,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            idle_timeout_minutes: 60,
            lock_on_screen_lock: true,
            renew_before_expiry_seconds: 300,
        }
    }
}

/// The durable outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboxConfig {
    pub spool_dir: PathBuf,
    /// Largest document accepted, in bytes.
    pub max_document_bytes: u64,
    /// First retry delay; doubled on each further attempt.
    pub retry_base_seconds: u32,
    /// Longest retry delay.
    pub retry_max_seconds: u32,
    /// A job whose failures are all temporary stops after this many attempts.
    pub max_attempts_for_retryable: u32,
    /// How long a registered job's record stays for `job.status`.
    pub keep_done_hours: u32,
    /// A chunked upload not used within this time is removed.
    pub upload_expiry_minutes: u32,
    /// Uploads of one professional's jobs that may be under way at once.
    pub parallel_uploads: u32,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        OutboxConfig {
            spool_dir: XdgDirs::from_env().state_path("outbox"),
            max_document_bytes: 256 * 1024 * 1024,
            retry_base_seconds: 30,
            retry_max_seconds: 3600,
            max_attempts_for_retryable: 50,
            keep_done_hours: 168,
            parallel_uploads: 2,
            upload_expiry_minutes: 60,
        }
    }
}

/// Where the professional's card is read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CardConfig {
    pub backend: CardBackendKind,
    /// Watch only readers whose name contains this (PC/SC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reader: Option<String>,
    /// The card vendor's PKCS#11 module (a `.so`/`.dll` path).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pkcs11_module: Option<PathBuf>,
    /// The PKCS#11 token to use, by label (default: the first token with an
    /// authentication certificate).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pkcs11_token_label: Option<String>,
}

impl Default for CardConfig {
    fn default() -> Self {
        CardConfig {
            backend: CardBackendKind::Auto,
            reader: None,
            pkcs11_module: None,
            pkcs11_token_label: None,
        }
    }
}

/// Which card layer reads the card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardBackendKind {
    /// The embedded sandbox's software card when the sandbox runs; else
    /// PKCS#11 when a module is configured (the vendor's middleware is the
    /// production default), else PC/SC.
    Auto,
    /// PC/SC readers, with the (experimental) LuxTrust APDU profile.
    Pcsc,
    /// The configured PKCS#11 module.
    Pkcs11,
}

impl CardBackendKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CardBackendKind::Auto => "auto",
            CardBackendKind::Pcsc => "pcsc",
            CardBackendKind::Pkcs11 => "pkcs11",
        }
    }
}

/// Logging and the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub level: LogLevel,
    pub audit_dir: PathBuf,
    /// The audit file is rotated when it would grow past this size.
    pub audit_max_file_bytes: u64,
    /// Audit files kept, the current one included.
    pub audit_keep_files: u32,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: LogLevel::Info,
            audit_dir: XdgDirs::from_env().state_path("audit"),
            audit_max_file_bytes: 10 * 1024 * 1024,
            audit_keep_files: 10,
        }
    }
}

/// Log verbosity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

impl Config {
    /// Whether the embedded sandbox runs: `sandbox.enabled` when set, else
    /// true exactly when no platform profile is configured.
    pub fn sandbox_enabled(&self) -> bool {
        self.sandbox.enabled.unwrap_or(self.platform.is_none())
    }

    /// Parses and validates a configuration text. `origin` names the file
    /// in error messages.
    pub fn from_toml_str(text: &str, origin: &Path) -> Result<Config, ConfigError> {
        let config = error::parse_toml(text, origin)?;
        config.validate().map_err(|problems| ConfigError::Invalid {
            origin: origin.to_owned(),
            problems,
        })?;
        Ok(config)
    }

    /// Loads the configuration at `location`. A missing file at the default
    /// location means the defaults (the embedded sandbox); a missing file
    /// that was named explicitly is an error.
    pub fn load(location: &ConfigLocation) -> Result<Config, ConfigError> {
        match std::fs::read_to_string(&location.path) {
            Ok(text) => Config::from_toml_str(&text, &location.path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !location.explicit => {
                let config = Config::default();
                config.validate().map_err(|problems| ConfigError::Invalid {
                    origin: location.path.clone(),
                    problems,
                })?;
                Ok(config)
            }
            Err(source) => Err(ConfigError::Read {
                path: location.path.clone(),
                source,
            }),
        }
    }

    /// Checks every rule; all problems at once, each naming its key.
    pub fn validate(&self) -> Result<(), Vec<Problem>> {
        let problems = validate::check(self);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

#[cfg(test)]
mod tests;
