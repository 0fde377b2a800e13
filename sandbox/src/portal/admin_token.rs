//! The admin API's bearer token: 256 random bits made at the first start,
//! kept in the data directory (0600) and printed by the binary at start, so
//! that only whoever can read the data directory or the sandbox's output
//! drives the admin API.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::web_session::{random_token, same_token};

/// The token's file in the data directory.
pub const ADMIN_TOKEN_FILE: &str = "admin-token";

/// Why the admin token could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum AdminTokenError {
    #[error("cannot {doing} the admin token file {}: {source}", path.display())]
    Io {
        doing: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the admin token file {} does not hold a token (64 hex digits); delete it and restart the sandbox to make a new one",
        path.display()
    )]
    Malformed { path: PathBuf },
    #[error(
        "the admin token file {} can be read by other users (mode {mode:o}): run chmod 600 on it, or delete it and restart the sandbox",
        path.display()
    )]
    TooOpen { path: PathBuf, mode: u32 },
}

/// The admin API's token. Zeroized on drop; never shown by `Debug`.
pub struct AdminToken(Zeroizing<String>);

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

impl AdminToken {
    /// Path of the token file in `data_dir`.
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join(ADMIN_TOKEN_FILE)
    }

    /// Reads the token in `data_dir`, making it on the first start.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, AdminTokenError> {
        let path = Self::path(data_dir);
        match create_new_private(&path) {
            Ok(mut file) => {
                let token = random_token();
                let written = file
                    .write_all(format!("{}\n", token.as_str()).as_bytes())
                    .and_then(|()| file.sync_all());
                if let Err(source) = written {
                    // A half-written token would lock the API out at the next start.
                    let _ = std::fs::remove_file(&path);
                    return Err(AdminTokenError::Io {
                        doing: "write",
                        path,
                        source,
                    });
                }
                Ok(AdminToken(token))
            }
            Err(source) if source.kind() == std::io::ErrorKind::AlreadyExists => {
                Self::load(data_dir)
            }
            Err(source) => Err(AdminTokenError::Io {
                doing: "create",
                path,
                source,
            }),
        }
    }

    /// Reads the token a sandbox made in `data_dir`.
    pub fn load(data_dir: &Path) -> Result<Self, AdminTokenError> {
        let path = Self::path(data_dir);
        check_private(&path)?;
        let text = Zeroizing::new(std::fs::read_to_string(&path).map_err(|source| {
            AdminTokenError::Io {
                doing: "read",
                path: path.clone(),
                source,
            }
        })?);
        let token = text.trim();
        if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(AdminTokenError::Malformed { path });
        }
        Ok(AdminToken(Zeroizing::new(token.to_owned())))
    }

    /// The token, to print or to send as `Authorization: Bearer …`.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether `presented` is this token (compared in constant time).
    pub(crate) fn matches(&self, presented: &str) -> bool {
        same_token(presented, &self.0)
    }
}

#[cfg(unix)]
fn create_new_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn create_new_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

#[cfg(unix)]
fn check_private(path: &Path) -> Result<(), AdminTokenError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(|source| AdminTokenError::Io {
            doing: "read",
            path: path.to_owned(),
            source,
        })?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 != 0 {
        return Err(AdminTokenError::TooOpen {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path) -> Result<(), AdminTokenError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_once_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let token = AdminToken::load_or_create(dir.path()).unwrap();
        assert_eq!(token.expose().len(), 64);
        assert_eq!(format!("{token:?}"), "AdminToken(<redacted>)");
        let again = AdminToken::load_or_create(dir.path()).unwrap();
        assert_eq!(again.expose(), token.expose());
        assert!(token.matches(again.expose()));
        assert!(!token.matches("0"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let path = AdminToken::path(dir.path());
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert!(matches!(
                AdminToken::load(dir.path()),
                Err(AdminTokenError::TooOpen { .. })
            ));
        }
    }

    #[test]
    fn a_damaged_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = AdminToken::path(dir.path());
        std::fs::write(&path, "short\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        assert!(matches!(
            AdminToken::load_or_create(dir.path()),
            Err(AdminTokenError::Malformed { .. })
        ));
    }
}
