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

use crate::config::SandboxConfig;
use crate::pki::{Pki, PkiError};

pub use layers::SANDBOX_HEADER;
pub use mount::{Endpoint, Mount};
pub use pages::SANDBOX_NOTICE;

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
/// key, card verification) and the configuration (data directory).
#[derive(Debug, Clone)]
pub struct SandboxContext {
    pki: Arc<Pki>,
    config: Arc<SandboxConfig>,
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
        Self::new(config).launch().await
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
        let context = SandboxContext {
            pki: Arc::clone(&pki),
            config: Arc::clone(&config),
        };
        let mounts = self
            .mounts
            .into_iter()
            .map(|factory| factory(&context))
            .collect::<Result<Vec<_>, _>>()
            .map_err(SandboxError::Mount)?;
        let router = build_router(&context, mounts);
        let tls = tls::server_config(&pki).map_err(SandboxError::Tls)?;

        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, config.port));
        let listener = std::net::TcpListener::bind(address)
            .map_err(|source| SandboxError::Bind { address, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| SandboxError::Bind { address, source })?;
        let handle = Handle::new();
        let handshake_timeout = config.tls_handshake_timeout;
        let server =
            axum_server::from_tcp_rustls(listener, RustlsConfig::from_config(Arc::new(tls)))
                .map_err(|source| SandboxError::Bind { address, source })?
                .map(|acceptor| acceptor.handshake_timeout(handshake_timeout))
                .first_request_timeout(handshake_timeout)
                .handle(handle.clone());
        let task = tokio::spawn(server.serve(router.into_make_service()));

        let base_url = format!("https://{local_addr}");
        tracing::info!(%base_url, data_dir = %config.data_dir.display(), "sandbox listening");
        Ok(RunningSandbox {
            base_url,
            local_addr,
            pki,
            config,
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
