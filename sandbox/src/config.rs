//! What a sandbox instance is started with: where it keeps its data, which
//! port it listens on, and the limits it applies to requests.

use std::path::PathBuf;
use std::time::Duration;

/// The directory name under the user's data directory
/// (`$XDG_DATA_HOME` or `~/.local/share` on Linux).
pub const DATA_DIR_NAME: &str = "dspconnect-sandbox";

/// Default ceiling on a request body, for every route that does not set its
/// own (see [`crate::server::Mount::body_limit`]).
pub const DEFAULT_MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// How long an assertion of the IdP is valid by default (issue 3: « 1 h by
/// default, configurable »).
pub const DEFAULT_ASSERTION_LIFETIME: Duration = Duration::from_secs(60 * 60);

/// How long a consultation grant (a spent code de présence) lasts by
/// default (policy.md: « default lifetime 4 h, configurable »).
pub const DEFAULT_CONSULTATION_GRANT_LIFETIME: Duration = Duration::from_secs(4 * 60 * 60);

/// Default ceiling on an ITI-41 Provide and Register body (the document and
/// its envelope): 2 GiB. Documents are streamed to disk, so the ceiling
/// bounds the disk, not the memory.
pub const DEFAULT_MAX_DOCUMENT_BYTES: usize = 2 * 1024 * 1024 * 1024;

/// Configuration of one sandbox instance.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Where the PKI (and, later, the database and documents) live.
    pub data_dir: PathBuf,
    /// TCP port on 127.0.0.1; 0 lets the system choose (the chosen port is
    /// reported by [`crate::server::RunningSandbox::base_url`]).
    pub port: u16,
    /// Largest request body accepted by routes that do not set their own.
    pub max_body_bytes: usize,
    /// Largest ITI-41 request body the repository accepts (`/xds/repository`).
    pub max_document_bytes: usize,
    /// How long a client may take to finish the TLS handshake.
    pub tls_handshake_timeout: Duration,
    /// How long [`crate::server::RunningSandbox::shutdown`] lets requests in
    /// flight finish before closing their connections.
    pub shutdown_grace: Duration,
    /// Validity of the assertions the IdP issues.
    pub assertion_lifetime: Duration,
    /// Lifetime of the consultation grant a code de présence is exchanged for.
    pub consultation_grant_lifetime: Duration,
}

impl SandboxConfig {
    /// A configuration with the given data directory and every other value
    /// at its default (any free port).
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            port: 0,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_document_bytes: DEFAULT_MAX_DOCUMENT_BYTES,
            tls_handshake_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(5),
            assertion_lifetime: DEFAULT_ASSERTION_LIFETIME,
            consultation_grant_lifetime: DEFAULT_CONSULTATION_GRANT_LIFETIME,
        }
    }

    /// Sets the port (0 = any free port).
    pub fn with_port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Sets how long the IdP's assertions are valid.
    pub fn with_assertion_lifetime(mut self, lifetime: Duration) -> Self {
        self.assertion_lifetime = lifetime;
        self
    }

    /// Sets how long a consultation grant lasts.
    pub fn with_consultation_grant_lifetime(mut self, lifetime: Duration) -> Self {
        self.consultation_grant_lifetime = lifetime;
        self
    }

    /// Sets the default request body ceiling.
    pub fn with_max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// Sets the ITI-41 request body ceiling of the repository.
    pub fn with_max_document_bytes(mut self, bytes: usize) -> Self {
        self.max_document_bytes = bytes;
        self
    }
}

/// Why the default data directory cannot be determined.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "cannot find a data directory for the sandbox: neither XDG_DATA_HOME nor HOME is set; \
         pass --data-dir DIR"
    )]
    NoDataDirectory,
}

/// `$XDG_DATA_HOME/dspconnect-sandbox`, or `~/.local/share/dspconnect-sandbox`
/// when `XDG_DATA_HOME` is not set (the platform's equivalent elsewhere).
pub fn default_data_dir() -> Result<PathBuf, ConfigError> {
    dirs::data_dir()
        .map(|base| base.join(DATA_DIR_NAME))
        .ok_or(ConfigError::NoDataDirectory)
}
