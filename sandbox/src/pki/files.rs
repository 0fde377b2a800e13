//! Files that hold keys and secrets: directories only their owner can
//! enter (0700), files only their owner can read (0600), written whole or
//! not at all (temporary file + rename).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A file-system failure, naming the path and what was being done.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path} is accessible by other users (mode {mode:o}); it holds private keys: \
         run `chmod {wanted:o} {path}` or remove it"
    )]
    TooOpen {
        path: PathBuf,
        mode: u32,
        wanted: u32,
    },
}

impl FileError {
    pub(crate) fn io(action: &'static str, path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Mode bits of a private directory.
pub const PRIVATE_DIR_MODE: u32 = 0o700;
/// Mode bits of a private file.
pub const PRIVATE_FILE_MODE: u32 = 0o600;

/// Creates `dir` (and its parents) if missing, mode 0700 for what is
/// created; an existing directory must not be open to other users in the
/// bits of `forbidden`.
pub fn ensure_private_dir(dir: &Path, forbidden: u32) -> Result<(), FileError> {
    if !dir.exists() {
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, PRIVATE_DIR_MODE);
        builder
            .create(dir)
            .map_err(|e| FileError::io("create directory", dir, e))?;
    }
    check_not_open(dir, forbidden, PRIVATE_DIR_MODE)
}

/// Sets a directory that this process just created to mode 0700.
pub fn restrict_dir(dir: &Path) -> Result<(), FileError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(PRIVATE_DIR_MODE))
            .map_err(|e| FileError::io("restrict the permissions of", dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Refuses a path whose mode has any bit of `forbidden` set.
pub fn check_not_open(path: &Path, forbidden: u32, wanted: u32) -> Result<(), FileError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path)
            .map_err(|e| FileError::io("inspect", path, e))?
            .permissions()
            .mode()
            & 0o7777;
        if mode & forbidden != 0 {
            return Err(FileError::TooOpen {
                path: path.to_path_buf(),
                mode,
                wanted,
            });
        }
    }
    #[cfg(not(unix))]
    let _ = (path, forbidden, wanted);
    Ok(())
}

/// Writes `contents` to `path` with mode 0600, atomically: a reader sees the
/// old file or the new one, never half of it.
pub fn write_private_file(path: &Path, contents: &[u8]) -> Result<(), FileError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    // tempfile creates the file 0600 and removes it if we fail before persist.
    let mut temp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| FileError::io("create a temporary file in", dir, e))?;
    temp.write_all(contents)
        .and_then(|()| temp.as_file().sync_all())
        .map_err(|e| FileError::io("write", temp.path(), e))?;
    temp.persist(path)
        .map_err(|e| FileError::io("replace", path, e.error))?;
    Ok(())
}

/// Creates `path` with mode 0600; fails if it already exists.
pub fn create_private_file(path: &Path, contents: &[u8]) -> Result<(), FileError> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, PRIVATE_FILE_MODE);
    let mut file = options
        .open(path)
        .map_err(|e| FileError::io("create", path, e))?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(|e| FileError::io("write", path, e))
}

/// Reads a text file.
pub fn read_text(path: &Path) -> Result<String, FileError> {
    fs::read_to_string(path).map_err(|e| FileError::io("read", path, e))
}

/// Reads a file holding a secret: it must be private to its owner.
pub fn read_private_text(path: &Path) -> Result<zeroize::Zeroizing<String>, FileError> {
    check_not_open(path, 0o077, PRIVATE_FILE_MODE)?;
    read_text(path).map(zeroize::Zeroizing::new)
}
