//! The local IPC server: JSON-RPC 2.0, one message per line, on a local
//! socket only the daemon's own user can reach (`docs/ipc.md` is the
//! protocol reference).
//!
//! - **Security.** Unix: the socket lives in a directory created 0700 (an
//!   existing one must be ours and closed to group and others) and is
//!   created 0600; both are checked after creation. Every connection's peer
//!   uid is checked as well; another user's connection gets one
//!   `PermissionDenied` error line and is closed. A stale socket file (no
//!   one answers on it) is replaced; a live daemon on it makes [`IpcServer::bind`]
//!   fail with [`BindError::AlreadyRunning`]. Windows: a named pipe with a
//!   per-user DACL (`windows.rs`, not built here).
//! - **Framing.** Lines of at most
//!   [`MAX_LINE_BYTES`](dspconnect::ipc::protocol::MAX_LINE_BYTES); a longer one is
//!   answered with `LineTooLong` (id null) and skipped up to its newline
//!   without being buffered; the connection keeps serving.
//! - **Concurrency.** Requests on one connection run concurrently, up to
//!   [`ServerOptions::max_in_flight`], and are answered as they finish — out
//!   of order, matched by their ids. Past that limit the server stops
//!   reading that connection until one finishes. Events never wait for
//!   requests.
//! - **Events.** `events.subscribe` (answered by the server itself) starts
//!   delivery of every [`Event`] sent on the daemon's broadcast channel to
//!   that connection. A subscriber that falls behind by more than the
//!   channel's capacity gets a `notice` event saying how many it missed;
//!   sending on the channel never waits for subscribers.
//! - **Shutdown.** [`IpcServer::serve`] returns when its shutdown future
//!   completes: it stops accepting, removes the socket file, gives running
//!   requests [`ServerOptions::shutdown_grace`] to answer, then closes.

mod connection;
mod envelope;
mod framing;
mod handler;

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as platform;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as platform;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use dspconnect::ipc::Endpoint;
use dspconnect::ipc::protocol::Event;
use interprocess::local_socket::tokio::Listener;
use interprocess::local_socket::traits::tokio::Listener as _;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinSet;

pub use handler::{ConnectionContext, Handler, Router, decode_params};

/// A capacity for the event channel that absorbs bursts (a job's progress
/// events) without making a subscriber that reads normally lag.
pub const RECOMMENDED_EVENT_CAPACITY: usize = 256;

/// Tuning; the defaults suit the daemon.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Requests one connection may have running at once.
    pub max_in_flight: usize,
    /// Answers and events queued for one connection before their senders
    /// wait (requests) or fall behind (events).
    pub outgoing_queue: usize,
    /// How long running requests may take to answer at shutdown.
    pub shutdown_grace: Duration,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            max_in_flight: 32,
            outgoing_queue: 64,
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

/// Why the server cannot listen; each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error(
        "another dspconnectd is already running and answering on {path}; stop it first \
         (`dspctl status` talks to it), or give this one another endpoint"
    )]
    AlreadyRunning { path: PathBuf },
    #[error("{path} exists and is not a socket; remove it or choose another socket path")]
    NotASocket { path: PathBuf },
    #[error(
        "{path} is not a directory that can hold the daemon's socket; choose another socket path"
    )]
    NoDirectory { path: PathBuf },
    #[error(
        "the socket directory {path} belongs to uid {owner}, not to this user (uid {us}); \
         choose a socket path in a directory you own"
    )]
    DirectoryNotOurs { path: PathBuf, owner: u32, us: u32 },
    #[error(
        "the socket directory {path} has mode {mode:04o}: other users could reach the socket; \
         run `chmod 700 {}` or choose another socket path",
        path.display()
    )]
    DirectoryMode { path: PathBuf, mode: u32 },
    #[error(
        "the socket {path} came out with mode {mode:04o} instead of 0600 (or not owned by \
         this user); the file system does not honour socket modes: choose a socket path on \
         another file system (the default is in $XDG_RUNTIME_DIR)"
    )]
    SocketMode { path: PathBuf, mode: u32 },
    #[error("cannot create the socket directory {path}: {source}")]
    CreateDirectory {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot remove the stale socket {path}: {source}; remove it by hand")]
    RemoveStale {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot inspect {path}: {source}")]
    Inspect {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot listen on {path}: {source}")]
    Listen {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A bound server, ready to [`serve`](IpcServer::serve).
pub struct IpcServer {
    listener: Listener,
    endpoint: Endpoint,
    events: broadcast::Sender<Event>,
    options: ServerOptions,
}

impl std::fmt::Debug for IpcServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IpcServer")
            .field("endpoint", &self.endpoint)
            .field("options", &self.options)
            .finish()
    }
}

impl IpcServer {
    /// Listens on `endpoint`; subscribers get the events sent on `events`
    /// (see [`RECOMMENDED_EVENT_CAPACITY`]). Must run inside a tokio runtime.
    pub fn bind(endpoint: Endpoint, events: broadcast::Sender<Event>) -> Result<Self, BindError> {
        let listener = platform::listen(&endpoint)?;
        tracing::info!(socket = %endpoint.path().display(), "IPC server listening");
        Ok(IpcServer {
            listener,
            endpoint,
            events,
            options: ServerOptions::default(),
        })
    }

    pub fn with_options(mut self, options: ServerOptions) -> Self {
        self.options = options;
        self
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Serves connections until `shutdown` completes, then shuts down
    /// gracefully (see the module documentation) and removes the socket.
    pub async fn serve<H: Handler>(self, handler: Arc<H>, shutdown: impl Future<Output = ()>) {
        let IpcServer {
            listener,
            endpoint,
            events,
            options,
        } = self;
        let (stop, stop_receiver) = watch::channel(false);
        let mut connections = JoinSet::new();
        let mut next_connection = 0u64;
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                Some(finished) = connections.join_next(), if !connections.is_empty() => {
                    if let Err(e) = finished && e.is_panic() {
                        tracing::error!("a connection task failed: {e}");
                    }
                }
                accepted = listener.accept() => match accepted {
                    Ok(stream) => {
                        next_connection += 1;
                        connections.spawn(connection::serve(
                            stream,
                            next_connection,
                            Arc::clone(&handler),
                            events.clone(),
                            options.clone(),
                            stop_receiver.clone(),
                        ));
                    }
                    Err(e) => {
                        // Out of file descriptors and the like: wait a bit
                        // rather than spin.
                        tracing::warn!("accepting a connection failed: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
            }
        }
        // New clients now see "daemon not running" instead of hanging.
        drop(listener);
        tracing::info!(socket = %endpoint.path().display(), "IPC server stopping");
        let _ = stop.send(true);
        let drained =
            tokio::time::timeout(options.shutdown_grace + Duration::from_secs(1), async {
                while connections.join_next().await.is_some() {}
            })
            .await;
        if drained.is_err() {
            connections.abort_all();
        }
    }
}
