//! The Unix side: a socket file in a 0700 directory, mode 0600, and the
//! peer's uid checked on every connection. The directory mode is the real
//! barrier (another user cannot even reach the socket); the uid check is the
//! second one, for when someone loosens the modes by hand.

use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;

use dspconnect::ipc::Endpoint;
use interprocess::local_socket::tokio::{Listener, Stream};
use interprocess::local_socket::traits::StreamCommon as _;
use interprocess::local_socket::{GenericFilePath, ListenerOptions, ToFsName};
use interprocess::os::unix::local_socket::ListenerOptionsExt;

use super::BindError;

const DIR_MODE: u32 = 0o700;
const SOCKET_MODE: u32 = 0o600;

/// The effective uid of this process: the only user served.
pub(crate) fn own_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Creates or checks the socket directory, clears a stale socket, and
/// listens with mode 0600. Needs a tokio runtime.
pub(crate) fn listen(endpoint: &Endpoint) -> Result<Listener, BindError> {
    let path = endpoint.path();
    let dir = path.parent().ok_or_else(|| BindError::NoDirectory {
        path: path.to_owned(),
    })?;
    prepare_directory(dir)?;
    clear_stale_socket(path)?;
    let name = path
        .to_fs_name::<GenericFilePath>()
        .map_err(|source| BindError::Listen {
            path: path.to_owned(),
            source,
        })?;
    let listener = ListenerOptions::new()
        .name(name)
        .mode(SOCKET_MODE)
        // Unlink the socket file when the listener is dropped.
        .reclaim_name(true)
        .try_overwrite(false)
        .create_tokio()
        .map_err(|source| match source.kind() {
            // Another daemon bound it between our check and our bind.
            ErrorKind::AddrInUse => BindError::AlreadyRunning {
                path: path.to_owned(),
            },
            _ => BindError::Listen {
                path: path.to_owned(),
                source,
            },
        })?;
    // Dropping `listener` on error removes the socket file again.
    check_socket_file(path)?;
    Ok(listener)
}

fn prepare_directory(dir: &Path) -> Result<(), BindError> {
    match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == ErrorKind::NotFound => {
            if let Some(parent) = dir.parent() {
                std::fs::create_dir_all(parent).map_err(|source| BindError::CreateDirectory {
                    path: parent.to_owned(),
                    source,
                })?;
            }
            match std::fs::DirBuilder::new().mode(DIR_MODE).create(dir) {
                Ok(()) => {}
                // Another process created it meanwhile: checked below.
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                Err(source) => {
                    return Err(BindError::CreateDirectory {
                        path: dir.to_owned(),
                        source,
                    });
                }
            }
        }
        Err(source) => {
            return Err(BindError::Inspect {
                path: dir.to_owned(),
                source,
            });
        }
        Ok(_) => {}
    }
    let meta = std::fs::symlink_metadata(dir).map_err(|source| BindError::Inspect {
        path: dir.to_owned(),
        source,
    })?;
    if !meta.file_type().is_dir() {
        return Err(BindError::NoDirectory {
            path: dir.to_owned(),
        });
    }
    if meta.uid() != own_uid() {
        return Err(BindError::DirectoryNotOurs {
            path: dir.to_owned(),
            owner: meta.uid(),
            us: own_uid(),
        });
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(BindError::DirectoryMode {
            path: dir.to_owned(),
            mode,
        });
    }
    Ok(())
}

/// A socket file nobody answers on is left by a daemon that died: remove
/// it. One somebody answers on belongs to a live daemon: refuse.
fn clear_stale_socket(path: &Path) -> Result<(), BindError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(BindError::Inspect {
                path: path.to_owned(),
                source,
            });
        }
    };
    if !meta.file_type().is_socket() {
        return Err(BindError::NotASocket {
            path: path.to_owned(),
        });
    }
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => Err(BindError::AlreadyRunning {
            path: path.to_owned(),
        }),
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
            tracing::info!(socket = %path.display(), "removing the stale socket of a daemon that is gone");
            match std::fs::remove_file(path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
                Err(source) => Err(BindError::RemoveStale {
                    path: path.to_owned(),
                    source,
                }),
            }
        }
        Err(source) => Err(BindError::Inspect {
            path: path.to_owned(),
            source,
        }),
    }
}

fn check_socket_file(path: &Path) -> Result<(), BindError> {
    let meta = std::fs::symlink_metadata(path).map_err(|source| BindError::Inspect {
        path: path.to_owned(),
        source,
    })?;
    let mode = meta.permissions().mode() & 0o7777;
    if !meta.file_type().is_socket() || mode != SOCKET_MODE || meta.uid() != own_uid() {
        return Err(BindError::SocketMode {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

/// The peer's uid and pid, or why it is refused.
pub(crate) fn authorize_peer(stream: &Stream) -> Result<(Option<u32>, Option<u32>), String> {
    let creds = stream
        .peer_creds()
        .map_err(|e| format!("the peer's credentials cannot be read ({e})"))?;
    let pid = creds.pid().and_then(|p| u32::try_from(p).ok());
    let us = own_uid();
    match creds.euid() {
        Some(uid) if uid == us => Ok((Some(uid), pid)),
        Some(uid) => Err(format!(
            "this daemon serves uid {us} only; connections from uid {uid} are refused"
        )),
        None => Err("the peer's uid is unknown; connection refused".to_owned()),
    }
}
