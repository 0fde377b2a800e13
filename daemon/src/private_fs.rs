//! Private folders and files for data at rest (spool, audit log): folders
//! 0700, files 0600, created so rather than tightened afterwards, and
//! durable writes (fsync of the file, then of the folder that names it).
//!
//! DESIGN.md "Session, identity and data at rest": the spool and the audit
//! log hold patients' documents and who did what; no other user may read or
//! change them.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

#[cfg(unix)]
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};

/// Mode of every folder we create.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every file we create.
pub const FILE_MODE: u32 = 0o600;

/// A private folder cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PrivateDirError {
    #[error(
        "{path}: other users have access (mode {mode:04o}); it holds patients' documents or \
         audit records, so it must be private: run `chmod 700 {path}` or choose another folder"
    )]
    Insecure { path: PathBuf, mode: u32 },
    #[error("{path}: exists but is not a folder; move it away or choose another folder")]
    NotADirectory { path: PathBuf },
    #[error("{path}: cannot {action}: {source}")]
    Io {
        path: PathBuf,
        action: &'static str,
        source: io::Error,
    },
}

fn io_err(path: &Path, action: &'static str) -> impl FnOnce(io::Error) -> PrivateDirError {
    let path = path.to_owned();
    move |source| PrivateDirError::Io {
        path,
        action,
        source,
    }
}

/// Creates `path` (and missing parents) as 0700 folders, or checks that an
/// existing one gives no access to group or others. Group/other *read* is
/// refused as well as write: the content is medical.
pub fn ensure_private_dir(path: &Path) -> Result<(), PrivateDirError> {
    match fs::metadata(path) {
        Ok(meta) => {
            if !meta.is_dir() {
                return Err(PrivateDirError::NotADirectory {
                    path: path.to_owned(),
                });
            }
            check_private(path, &meta)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            create_private_dir_all(path).map_err(io_err(path, "create the folder"))?;
            let meta = fs::metadata(path).map_err(io_err(path, "read the folder's mode"))?;
            check_private(path, &meta)
        }
        Err(e) => Err(io_err(path, "read the folder's mode")(e)),
    }
}

#[cfg(unix)]
fn check_private(path: &Path, meta: &fs::Metadata) -> Result<(), PrivateDirError> {
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(PrivateDirError::Insecure {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path, _meta: &fs::Metadata) -> Result<(), PrivateDirError> {
    // Windows: the per-user profile folder's ACL applies; an explicit DACL
    // check belongs to the cfg(windows) module when it comes.
    Ok(())
}

/// `create_dir_all` with mode 0700 on each folder created. The mode is set
/// again explicitly because the umask may have removed bits we need (never
/// added any: umask only clears).
pub fn create_private_dir_all(path: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    builder.mode(DIR_MODE);
    builder.create(path)?;
    set_mode(path, DIR_MODE)
}

/// Creates one 0700 folder; fails if it exists.
pub fn create_private_dir(path: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    #[cfg(unix)]
    builder.mode(DIR_MODE);
    builder.create(path)?;
    set_mode(path, DIR_MODE)
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> io::Result<()> {
    Ok(())
}

/// Creates a new 0600 file for writing; fails if it exists.
pub fn create_private_file(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(FILE_MODE);
    options.open(path)
}

/// Opens a 0600 file for appending, creating it if needed.
pub fn open_private_append(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    options.mode(FILE_MODE);
    options.open(path)
}

/// Flushes a folder's entries (a rename or a new file in it) to disk.
pub fn sync_dir(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(path)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        // Windows cannot open a folder as a file; NTFS journals renames.
        let _ = path;
        Ok(())
    }
}

/// Replaces `path` atomically with `bytes`: write `<path>.tmp` (0600),
/// fsync it, rename over `path`, fsync the folder. A crash leaves either
/// the old or the new file, plus perhaps a stale `.tmp` that readers ignore.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    replace_contents(path, bytes)?;
    match path.parent() {
        Some(parent) => sync_dir(parent),
        None => Ok(()),
    }
}

/// As [`write_atomically`] but without flushing the folder: after a crash
/// the file holds its new content or, when the rename had not reached the
/// disk, its previous one — never a mix, never nothing (the new content is
/// flushed before the rename). For records whose previous version is a
/// safe state to resume from; it saves one flush.
pub fn replace_contents(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = tmp_sibling(path);
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut file = create_private_file(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&tmp, path)
}

/// The temporary name [`write_atomically`] uses for `path`.
pub fn tmp_sibling(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn mode_of(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn creates_private_folders_and_files() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b");
        ensure_private_dir(&dir).unwrap();
        assert_eq!(mode_of(&dir), 0o700);
        assert_eq!(mode_of(&root.path().join("a")), 0o700);
        let file = dir.join("f");
        write_atomically(&file, b"x").unwrap();
        assert_eq!(mode_of(&file), 0o600);
        assert_eq!(fs::read(&file).unwrap(), b"x");
        write_atomically(&file, b"y").unwrap();
        assert_eq!(fs::read(&file).unwrap(), b"y");
        assert!(!tmp_sibling(&file).exists());
    }

    #[test]
    fn refuses_folders_others_can_use() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("open");
        fs::create_dir(&dir).unwrap();
        for mode in [0o777, 0o720, 0o702, 0o750] {
            fs::set_permissions(&dir, fs::Permissions::from_mode(mode)).unwrap();
            let err = ensure_private_dir(&dir).unwrap_err();
            assert!(matches!(err, PrivateDirError::Insecure { .. }), "{mode:o}");
            assert!(err.to_string().contains("chmod 700"), "{err}");
        }
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
        ensure_private_dir(&dir).unwrap();
        let file = root.path().join("file");
        fs::write(&file, b"").unwrap();
        assert!(matches!(
            ensure_private_dir(&file),
            Err(PrivateDirError::NotADirectory { .. })
        ));
    }
}
