//! The HTTPS server: axum over rustls (ring) on 127.0.0.1, serving the
//! sandbox's own pages and whatever the platform services mount.
//!
//! Library first: the daemon embeds a sandbox with [`Sandbox::start`]; the
//! `dspconnect-sandbox` binary is a thin wrapper around it.

mod layers;
mod mount;
mod pages;
mod tls;

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use axum_server::Handle;
use axum_server::tls_rustls::RustlsConfig;
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::config::SandboxConfig;
use crate::faults::{self, FaultInjector};
use crate::pki::{Pki, PkiError};
use crate::store::{OneTimeCode, Store, StoreError};

pub use layers::SANDBOX_HEADER;
pub use mount::{Endpoint, Mount};
pub use pages::SANDBOX_NOTICE;
pub(crate) use pages::escape as escape_html;

/// Error a mount factory may return.
pub type MountError = Box<dyn std::error::Error + Send + Sync>;

type MountFactory = Box<dyn FnOnce(&SandboxContext) -> Result<Mount, MountError> + Send>;

/// Why the sandbox did not start or did not stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error(transparent)]
    Pki(#[from] PkiError),
    #[error("the PKI could not be prepared: {0}")]
    PkiTask(#[source] tokio::task::JoinError),
    #[error("the sandbox database could not be prepared: {0}")]
    Store(#[from] StoreError),
    #[error(
        "another sandbox is already running on the data directory {} (it holds {}); \
         stop it, or give this one its own --data-dir",
        path.parent().map(Path::display).map(|d| d.to_string()).unwrap_or_default(),
        path.display()
    )]
    DataDirInUse { path: PathBuf },
    #[error("cannot lock the data directory ({}): {source}", path.display())]
    Lock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot build the TLS configuration from the PKI: {0}")]
    Tls(#[source] rustls::Error),
    #[error("cannot listen on {address}: {source} (choose another --port, or 0 for any)")]
    Bind {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("a platform service could not be mounted: {0}")]
    Mount(#[source] MountError),
    #[error("the HTTPS server stopped with an error: {0}")]
    Serve(#[source] std::io::Error),
    #[error("the HTTPS server task failed: {0}")]
    ServeTask(#[source] tokio::task::JoinError),
}

/// What a mounted service gets to build its routes: the PKI (IdP signing
/// key, card verification), the store, the clock, the configuration (data
/// directory) and the public base URL.
#[derive(Debug, Clone)]
pub struct SandboxContext {
    pki: Arc<Pki>,
    config: Arc<SandboxConfig>,
    store: Store,
    clock: Clock,
    base_url: Arc<str>,
    faults: FaultInjector,
}

impl SandboxContext {
    pub fn pki(&self) -> &Arc<Pki> {
        &self.pki
    }
    pub fn config(&self) -> &SandboxConfig {
        &self.config
    }
    pub fn data_dir(&self) -> &Path {
        &self.config.data_dir
    }
    /// The database (HPD, patients, documents, logs).
    pub fn store(&self) -> &Store {
        &self.store
    }
    /// The sandbox's time (see [`Clock`]).
    pub fn clock(&self) -> &Clock {
        &self.clock
    }
    /// `https://127.0.0.1:<port>`, for URLs handed to clients.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }
    /// The fault plan in force (the admin API sets it; see [`crate::faults`]).
    pub fn faults(&self) -> &FaultInjector {
        &self.faults
    }
}

/// The database file in the data directory.
pub const DATABASE_FILE: &str = "sandbox.sqlite3";

/// The lock file that keeps a data directory to one running sandbox.
pub const LOCK_FILE: &str = "sandbox.lock";

/// Takes the data directory for this process: two sandboxes on one
/// database would hand out the same ports' worth of state twice.
fn lock_data_dir(data_dir: &Path) -> Result<std::fs::File, SandboxError> {
    let path = data_dir.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| SandboxError::Lock {
            path: path.clone(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(SandboxError::DataDirInUse { path }),
        Err(std::fs::TryLockError::Error(source)) => Err(SandboxError::Lock { path, source }),
    }
}

/// A sandbox to start. [`Sandbox::start`] starts the platform as it is;
/// [`Sandbox::new`] + [`Sandbox::mount`] + [`Sandbox::launch`] add routes.
///
/// This is the composition point of the platform: each service (IdP at
/// `/SAML2Server/AuthenticationService`, the XDS.b endpoints, the portal)
/// is a [`Mount`] added in [`Sandbox::start`]. A mount must not define `/`,
/// `/health` or a fallback, which the sandbox serves itself (axum refuses
/// overlapping routes when the router is built).
pub struct Sandbox {
    config: SandboxConfig,
    mounts: Vec<MountFactory>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("config", &self.config)
            .field("mounts", &self.mounts.len())
            .finish()
    }
}

impl Sandbox {
    /// A sandbox serving only its own pages until services are mounted.
    pub fn new(config: SandboxConfig) -> Self {
        Self {
            config,
            mounts: Vec::new(),
        }
    }

    /// Adds a service, built once the PKI is loaded.
    pub fn mount<F>(mut self, factory: F) -> Self
    where
        F: FnOnce(&SandboxContext) -> Result<Mount, MountError> + Send + 'static,
    {
        self.mounts.push(Box::new(factory));
        self
    }

    /// Starts the platform: loads (or, on first start, creates) the PKI in
    /// the data directory, binds 127.0.0.1 on the configured port and serves
    /// HTTPS until [`RunningSandbox::shutdown`].
    pub async fn start(config: SandboxConfig) -> Result<RunningSandbox, SandboxError> {
        Self::new(config)
            .mount(crate::cards::mount)
            .mount(crate::idp::mount)
            .mount(crate::activation::mount)
            .mount(crate::services::mount)
            .mount(crate::xds::repository_mount)
            .mount(crate::xds::registry_mount)
            .mount(crate::portal::mount)
            .launch()
            .await
    }

    /// Starts this sandbox with its mounts.
    pub async fn launch(self) -> Result<RunningSandbox, SandboxError> {
        let config = Arc::new(self.config);
        let data_dir = config.data_dir.clone();
        // Creating the PKI generates RSA keys: seconds of CPU, kept off the
        // async worker threads.
        let pki = tokio::task::spawn_blocking(move || Pki::load_or_create(&data_dir))
            .await
            .map_err(SandboxError::PkiTask)??;
        let pki = Arc::new(pki);
        let data_dir_lock = lock_data_dir(&config.data_dir)?;
        let clock = Clock::new();
        let database = config.data_dir.join(DATABASE_FILE);
        let seeding_clock = clock.clone();
        let (store, seed) = tokio::task::spawn_blocking(move || {
            let store = Store::open(&database)?;
            // Demo data on first start (idempotent afterwards).
            let seed = store.seed_demo(seeding_clock.now())?;
            Ok::<_, StoreError>((store, seed))
        })
        .await
        .map_err(SandboxError::PkiTask)??;

        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, config.port));
        let listener = std::net::TcpListener::bind(address)
            .map_err(|source| SandboxError::Bind { address, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| SandboxError::Bind { address, source })?;
        let base_url = format!("https://{local_addr}");

        let context = SandboxContext {
            pki: Arc::clone(&pki),
            config: Arc::clone(&config),
            store,
            clock,
            base_url: Arc::from(base_url.as_str()),
            faults: FaultInjector::new(),
        };
        let mounts = self
            .mounts
            .into_iter()
            .map(|factory| factory(&context))
            .collect::<Result<Vec<_>, _>>()
            .map_err(SandboxError::Mount)?;
        let router = build_router(&context, mounts);
        let tls = tls::server_config(&pki).map_err(SandboxError::Tls)?;
        let handle = Handle::new();
        let handshake_timeout = config.tls_handshake_timeout;
        let server =
            axum_server::from_tcp_rustls(listener, RustlsConfig::from_config(Arc::new(tls)))
                .map_err(|source| SandboxError::Bind { address, source })?
                .map(|acceptor| acceptor.handshake_timeout(handshake_timeout))
                .first_request_timeout(handshake_timeout)
                .handle(handle.clone());
        let task = tokio::spawn(server.serve(router.into_make_service()));

        tracing::info!(%base_url, data_dir = %config.data_dir.display(), "sandbox listening");
        Ok(RunningSandbox {
            base_url,
            local_addr,
            pki,
            config,
            context,
            demo_activation_code: seed.activation_code,
            _data_dir_lock: data_dir_lock,
            handle,
            task: Some(task),
        })
    }
}

fn build_router(context: &SandboxContext, mounts: Vec<Mount>) -> Router {
    let default_limit = context.config.max_body_bytes;
    let mut endpoints = pages::builtin_endpoints();
    let mut router = Router::new();
    for mount in mounts {
        endpoints.extend(mount.endpoints);
        let limit = mount.body_limit.unwrap_or(default_limit);
        router = router.merge(layers::with_body_limit(mount.router, limit));
    }
    let page = Arc::new(pages::index_html(
        &endpoints,
        &context.pki.platform_ca_fingerprint().to_string(),
    ));
    let own = Router::new()
        .route("/", get(move || pages::index(Arc::clone(&page))))
        .route("/health", get(pages::health))
        .fallback(not_found);
    router = router.merge(layers::with_body_limit(own, default_limit));
    router = faults::layer(router, context.faults.clone());
    layers::observed(router)
}

async fn not_found() -> (StatusCode, &'static str) {
    (
        StatusCode::NOT_FOUND,
        "SANDBOX: no such endpoint; GET / lists what this sandbox serves\n",
    )
}

/// A started sandbox. Dropping it stops the server at once; call
/// [`RunningSandbox::shutdown`] to let requests in flight finish.
#[derive(Debug)]
pub struct RunningSandbox {
    base_url: String,
    local_addr: SocketAddr,
    pki: Arc<Pki>,
    config: Arc<SandboxConfig>,
    context: SandboxContext,
    demo_activation_code: Option<OneTimeCode>,
    /// Held while running; closing it releases the data directory.
    _data_dir_lock: std::fs::File,
    handle: Handle<SocketAddr>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl RunningSandbox {
    /// `https://127.0.0.1:<port>`, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The bound address (the chosen port when 0 was configured).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// PEM of the platform CA, the one root a client should trust.
    pub fn ca_certificate_pem(&self) -> &str {
        self.pki.platform_ca_pem()
    }

    /// Path of the platform CA's PEM file.
    pub fn ca_certificate_path(&self) -> PathBuf {
        self.pki.platform_ca_path()
    }

    pub fn data_dir(&self) -> &Path {
        &self.config.data_dir
    }

    pub fn pki(&self) -> &Arc<Pki> {
        &self.pki
    }

    /// The store, clock and PKI the services run on (tests inspect and
    /// prepare the platform's state through it).
    pub fn context(&self) -> &SandboxContext {
        &self.context
    }

    /// The activation code of the demo professional pending activation, in
    /// clear, when this start created the demo data (it is stored hashed
    /// and cannot be shown again).
    pub fn take_demo_activation_code(&mut self) -> Option<OneTimeCode> {
        self.demo_activation_code.take()
    }

    /// Stops accepting connections, lets requests in flight finish (up to
    /// the configured grace period) and waits for the server to end.
    pub async fn shutdown(mut self) -> Result<(), SandboxError> {
        self.handle
            .graceful_shutdown(Some(self.config.shutdown_grace));
        self.join().await
    }

    /// Serves until `signal` completes, then shuts down gracefully; returns
    /// early with the error if the server fails on its own.
    pub async fn run_until(mut self, signal: impl Future<Output = ()>) -> Result<(), SandboxError> {
        let Some(task) = self.task.as_mut() else {
            return Ok(());
        };
        tokio::select! {
            () = signal => self.shutdown().await,
            ended = task => {
                self.task = None;
                finished(ended)
            }
        }
    }

    async fn join(&mut self) -> Result<(), SandboxError> {
        match self.task.take() {
            Some(task) => finished(task.await),
            None => Ok(()),
        }
    }
}

fn finished(
    ended: Result<std::io::Result<()>, tokio::task::JoinError>,
) -> Result<(), SandboxError> {
    ended
        .map_err(SandboxError::ServeTask)?
        .map_err(SandboxError::Serve)
}

impl Drop for RunningSandbox {
    fn drop(&mut self) {
        if self.task.is_some() {
            self.handle.shutdown();
        }
    }
}
