//! The Windows side: a named pipe whose DACL admits only its owner (the
//! user running the daemon) and SYSTEM.
//!
//! Not compiled on the Linux machines this project is built on: kept small
//! and written against interprocess 2.4's documented Windows API. What it
//! relies on, and what is still to do once it can be built and tested:
//! - `interprocess` creates the first pipe instance with
//!   `FILE_FLAG_FIRST_PIPE_INSTANCE` (a second daemon, or a squatter that
//!   created the name first, makes `listen` fail instead of sharing it) and
//!   with `PIPE_REJECT_REMOTE_CLIENTS`.
//! - The DACL is protected (`P`: nothing inherited) and grants GENERIC_ALL
//!   to `OW` (OWNER RIGHTS: the pipe's owner, which is the token owner of
//!   the daemon — the user, or the Administrators group for an elevated
//!   administrator) and to `SY`. The default DACL would let Everyone read.
//! - There is no second, per-connection check of the client's SID yet: that
//!   needs the client token (`ImpersonateNamedPipeClient` +
//!   `GetTokenInformation`), which means Win32 calls this crate does not make
//!   without `unsafe`. The DACL is the barrier.

use std::io::ErrorKind;

use dspconnect::ipc::Endpoint;
use interprocess::local_socket::tokio::{Listener, Stream};
use interprocess::local_socket::traits::StreamCommon as _;
use interprocess::local_socket::{GenericFilePath, ListenerOptions, ToFsName};
use interprocess::os::windows::local_socket::ListenerOptionsExt;
use interprocess::os::windows::security_descriptor::SecurityDescriptor;
use widestring::U16CString;

use super::BindError;

/// Protected DACL: full access for the pipe's owner and SYSTEM only.
const PIPE_SDDL: &str = "D:P(A;;GA;;;OW)(A;;GA;;;SY)";

/// Listens on the endpoint's pipe path (`\\.\pipe\…`). Needs a tokio runtime.
pub(crate) fn listen(endpoint: &Endpoint) -> Result<Listener, BindError> {
    let path = endpoint.path();
    let listen_error = |source| BindError::Listen {
        path: path.to_owned(),
        source,
    };
    let sddl = U16CString::from_str(PIPE_SDDL)
        .map_err(|e| listen_error(std::io::Error::new(ErrorKind::InvalidInput, e)))?;
    let descriptor = SecurityDescriptor::deserialize(&sddl).map_err(listen_error)?;
    let name = path.to_fs_name::<GenericFilePath>().map_err(listen_error)?;
    ListenerOptions::new()
        .name(name)
        .security_descriptor(descriptor)
        .create_tokio()
        .map_err(|source| match source.kind() {
            // FILE_FLAG_FIRST_PIPE_INSTANCE: the name is taken.
            ErrorKind::AddrInUse | ErrorKind::PermissionDenied => BindError::AlreadyRunning {
                path: path.to_owned(),
            },
            _ => listen_error(source),
        })
}

/// The DACL admitted the peer; its pid is recorded for the audit log.
pub(crate) fn authorize_peer(stream: &Stream) -> Result<(Option<u32>, Option<u32>), String> {
    let pid = stream.peer_creds().ok().and_then(|c| c.pid());
    Ok((None, pid))
}
