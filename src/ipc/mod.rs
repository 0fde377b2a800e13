//! The local IPC between programs and the daemon: the protocol types
//! ([`protocol`]) and where the socket lives ([`Endpoint`]).

pub mod client;
pub mod protocol;

pub use client::{Client, ClientError};

use std::path::PathBuf;

/// Environment variable naming the socket path explicitly.
pub const SOCKET_ENV: &str = "DSPCONNECT_SOCKET";

/// Where the daemon listens: a Unix socket in `$XDG_RUNTIME_DIR/dspconnect/`
/// (Windows: a named pipe, in its own `cfg(windows)` module when it comes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    path: PathBuf,
}

/// The socket location cannot be determined.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EndpointError {
    #[error(
        "XDG_RUNTIME_DIR is not set, so the daemon's socket has no home; \
         log in through a session manager or set {SOCKET_ENV} to a socket path"
    )]
    NoRuntimeDir,
    #[error("endpoint name '{0}' is invalid: use 1 to 64 letters, digits, '-', '_' or '.'")]
    BadName(String),
}

impl Endpoint {
    /// The default endpoint: `$DSPCONNECT_SOCKET`, else
    /// `$XDG_RUNTIME_DIR/dspconnect/dspconnectd.sock`.
    pub fn default_endpoint() -> Result<Endpoint, EndpointError> {
        if let Some(p) = std::env::var_os(SOCKET_ENV).filter(|p| !p.is_empty()) {
            return Ok(Endpoint { path: p.into() });
        }
        Endpoint::named("dspconnectd")
    }

    /// A named endpoint in the runtime directory (tests use one per test, so
    /// that they run in parallel).
    pub fn named(name: &str) -> Result<Endpoint, EndpointError> {
        let valid = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && !name.starts_with('.');
        if !valid {
            return Err(EndpointError::BadName(name.to_owned()));
        }
        let runtime = std::env::var_os("XDG_RUNTIME_DIR")
            .filter(|p| !p.is_empty())
            .ok_or(EndpointError::NoRuntimeDir)?;
        Ok(Endpoint {
            path: PathBuf::from(runtime)
                .join("dspconnect")
                .join(format!("{name}.sock")),
        })
    }

    /// An endpoint at an explicit socket path.
    pub fn at_path(path: impl Into<PathBuf>) -> Endpoint {
        Endpoint { path: path.into() }
    }

    /// The socket's file-system path.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        for bad in ["", "../x", "a/b", ".hidden", &"x".repeat(65)] {
            assert_eq!(
                Endpoint::named(bad),
                Err(EndpointError::BadName(bad.to_owned())),
                "{bad}"
            );
        }
    }
}
