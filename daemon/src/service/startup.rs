//! Choosing the platform and the card at start, logging, and what the
//! daemon prints for the user once it listens.

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::reload;
use tracing_subscriber::util::SubscriberInitExt;

use super::DaemonOptions;
use crate::card::{CardBackend, CardError, CardEvent, CardWaker, PinOutcome};
use crate::config::{Config, LogLevel, PlatformKind, PlatformProfile};

/// Why the daemon cannot start with this configuration.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(
        "no platform is configured and this build has no embedded sandbox (built without the \
         `sandbox` feature); configure [platform] in the configuration file \
         (docs/configuration.md)"
    )]
    NoPlatform,
    #[error("the embedded sandbox did not start: {0}")]
    Sandbox(String),
    #[error("the software card in {}: {reason}", dir.display())]
    SoftwareCard { dir: PathBuf, reason: String },
    #[error("the platform client cannot be built for profile '{profile}': {reason}")]
    Platform { profile: String, reason: String },
    #[error("card.backend = \"{backend}\": {reason}")]
    CardBackend {
        backend: &'static str,
        reason: String,
    },
}

/// What the sandbox is, for the start banner.
#[derive(Debug, Clone)]
pub struct SandboxDetails {
    pub base_url: String,
    pub ca_file: PathBuf,
    pub data_dir: PathBuf,
    pub card_holder: String,
    /// The software card's PIN: a sandbox test credential, printed at start
    /// so a newcomer can unlock; never logged.
    pub card_pin: Option<String>,
    pub card_dir: PathBuf,
    /// A real card layer configured with the sandbox (card.backend): the
    /// software card is not used.
    pub real_card: Option<String>,
}

/// What the daemon tells the user once it listens.
#[derive(Debug, Clone)]
pub struct Banner {
    pub socket: PathBuf,
    pub profile_name: String,
    pub sandbox: Option<SandboxDetails>,
}

impl Banner {
    /// The text printed on standard output at start.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let socket = self.socket.display();
        match &self.sandbox {
            Some(s) => {
                out.push_str(
                    "SANDBOX — dspconnectd runs on the embedded sandbox platform; nothing done \
                     here reaches the real DSP.\n",
                );
                out.push_str(&format!(
                    "  platform:     {} ({})\n",
                    s.base_url, self.profile_name
                ));
                out.push_str(&format!("  platform CA:  {}\n", s.ca_file.display()));
                out.push_str(&format!("  sandbox data: {}\n", s.data_dir.display()));
                match &s.real_card {
                    Some(backend) => out.push_str(&format!(
                        "  card:         {backend} (insert a sandbox test card)\n"
                    )),
                    None => {
                        out.push_str(&format!(
                            "  card:         software card of {} ({})\n",
                            s.card_holder,
                            s.card_dir.display()
                        ));
                        if let Some(pin) = &s.card_pin {
                            out.push_str(&format!("  card PIN:     {pin} (sandbox test card)\n"));
                        }
                    }
                }
            }
            None => out.push_str(&format!("dspconnectd: platform '{}'\n", self.profile_name)),
        }
        out.push_str(&format!("  IPC socket:   {socket}\n"));
        out.push_str("Try:\n");
        out.push_str("  dspctl status\n");
        out.push_str("  dspctl unlock\n");
        out.push_str(
            "  dspctl push report.pdf --patient 1945093006704 --title 'Lettre' --mode normal \
             --patient-informed\n",
        );
        out.push_str("  dspctl list 1945093006704\n");
        out.push_str("  dspctl open 1945093006704\n");
        out.push_str("Stop with Ctrl-C (queued documents are kept and sent at the next start).\n");
        out
    }
}

/// The platform and card the daemon runs with.
pub struct PlatformChoice {
    pub profile: PlatformProfile,
    pub card_backend: Box<dyn CardBackend>,
    /// The sandbox's LuxTrust test CA (DER), for the test-card guard.
    pub test_ca_certificates: Vec<Vec<u8>>,
    pub embedded: Option<EmbeddedSandbox>,
    pub sandbox_details: Option<SandboxDetails>,
    /// The profile came from the configuration file (not the embedded sandbox).
    pub from_config: bool,
}

impl PlatformChoice {
    pub fn is_sandbox(&self) -> bool {
        self.profile.kind == PlatformKind::Sandbox
    }
}

#[cfg(feature = "sandbox")]
pub use embedded::EmbeddedSandbox;

#[cfg(not(feature = "sandbox"))]
pub enum EmbeddedSandbox {}

#[cfg(not(feature = "sandbox"))]
impl EmbeddedSandbox {
    pub async fn shutdown(self) {
        match self {}
    }
}

/// The platform of this configuration: the embedded sandbox when it is
/// enabled (the default without `[platform]`), else the configured profile.
pub async fn choose_platform(
    config: &Config,
    options: &DaemonOptions,
) -> Result<PlatformChoice, StartupError> {
    if config.sandbox_enabled() || options.force_sandbox {
        #[cfg(feature = "sandbox")]
        return embedded::start(config, options).await;
        #[cfg(not(feature = "sandbox"))]
        return Err(StartupError::NoPlatform);
    }
    let Some(profile) = config.platform.clone() else {
        return Err(StartupError::NoPlatform);
    };
    let card_backend = configured_card(&profile, config, options)?;
    Ok(PlatformChoice {
        profile,
        card_backend,
        test_ca_certificates: Vec::new(),
        embedded: None,
        sandbox_details: None,
        from_config: true,
    })
}

fn configured_card(
    profile: &PlatformProfile,
    config: &Config,
    options: &DaemonOptions,
) -> Result<Box<dyn CardBackend>, StartupError> {
    if let Some(dir) = &options.software_card {
        #[cfg(feature = "sandbox")]
        {
            if profile.kind != PlatformKind::Sandbox {
                return Err(StartupError::SoftwareCard {
                    dir: dir.clone(),
                    reason: "a software card is a sandbox test card; the configured platform \
                             is production"
                        .to_owned(),
                });
            }
            let (reader, _) = embedded::software_card_reader(dir)?;
            return Ok(Box::new(reader));
        }
        #[cfg(not(feature = "sandbox"))]
        return Err(StartupError::SoftwareCard {
            dir: dir.clone(),
            reason: "this build has no software card (built without the `sandbox` feature)"
                .to_owned(),
        });
    }
    match real_card(&config.card)? {
        Some(backend) => Ok(backend),
        None => {
            tracing::warn!(
                platform = %profile.name,
                "this build reads no cards (built without the `pcsc` feature and no \
                 card.pkcs11_module configured); only password sessions can open"
            );
            Ok(Box::new(NoReaders::default()))
        }
    }
}

/// The real card layer `card` asks for: `Ok(None)` when it says `auto`
/// and this build has none to offer.
pub(super) fn real_card(
    card: &crate::config::CardConfig,
) -> Result<Option<Box<dyn CardBackend>>, StartupError> {
    use crate::config::CardBackendKind;
    let kind = match (card.backend, &card.pkcs11_module) {
        (CardBackendKind::Auto, Some(_)) => CardBackendKind::Pkcs11,
        (CardBackendKind::Auto, None) if cfg!(feature = "pcsc") => CardBackendKind::Pcsc,
        (CardBackendKind::Auto, None) => return Ok(None),
        (kind, _) => kind,
    };
    match kind {
        CardBackendKind::Pcsc => {
            #[cfg(feature = "pcsc")]
            return Ok(Some(Box::new(crate::card::pcsc::PcscBackend::new(
                crate::card::pcsc::PcscOptions {
                    reader_filter: card.reader.clone(),
                },
            ))));
            #[cfg(not(feature = "pcsc"))]
            return Err(StartupError::CardBackend {
                backend: kind.as_str(),
                reason: "this build has no PC/SC support; rebuild with `--features pcsc` \
                         (needs libpcsclite-dev), or configure the vendor's PKCS#11 module"
                    .to_owned(),
            });
        }
        CardBackendKind::Pkcs11 => {
            let Some(module) = &card.pkcs11_module else {
                return Err(StartupError::CardBackend {
                    backend: kind.as_str(),
                    reason: "card.pkcs11_module is not set".to_owned(),
                });
            };
            let backend =
                crate::card::pkcs11::Pkcs11Backend::open(module, card.pkcs11_token_label.clone())
                    .map_err(|e| StartupError::CardBackend {
                    backend: kind.as_str(),
                    reason: e.to_string(),
                })?;
            Ok(Some(Box::new(backend)))
        }
        CardBackendKind::Auto => Ok(None),
    }
}

/// A card layer with no reader: the session stays at "no card".
#[derive(Default)]
struct NoReaders {
    woken: Arc<(Mutex<bool>, Condvar)>,
    reported: bool,
}

impl CardBackend for NoReaders {
    fn description(&self) -> String {
        "no card reader support in this build".to_owned()
    }

    fn waker(&self) -> CardWaker {
        let woken = self.woken.clone();
        Arc::new(move || {
            let (flag, condvar) = &*woken;
            *flag.lock().unwrap_or_else(PoisonError::into_inner) = true;
            condvar.notify_all();
        })
    }

    fn wait_for_change(&mut self) -> Result<Vec<CardEvent>, CardError> {
        if !self.reported {
            self.reported = true;
            return Ok(Vec::new());
        }
        let (flag, condvar) = &*self.woken;
        let mut woken = flag.lock().unwrap_or_else(PoisonError::into_inner);
        while !*woken {
            woken = condvar.wait(woken).unwrap_or_else(PoisonError::into_inner);
        }
        *woken = false;
        Ok(Vec::new())
    }

    fn verify_pin(&mut self, _: &str, _: crate::card::Pin) -> Result<PinOutcome, CardError> {
        Err(CardError::NoReader)
    }

    fn start_pinpad_verify(&mut self, _: &str) -> Result<(), CardError> {
        Err(CardError::NoReader)
    }

    fn sign(
        &mut self,
        _: &str,
        _: ihe::dsig::SignatureAlgorithm,
        _: &ihe::dsig::Sha256Digest,
    ) -> Result<Vec<u8>, CardError> {
        Err(CardError::NoReader)
    }

    fn reset_security_state(&mut self, _: &str) -> Result<(), CardError> {
        Ok(())
    }
}

#[cfg(feature = "sandbox")]
mod embedded {
    use std::path::{Path, PathBuf};

    use dspconnect_sandbox::config::SandboxConfig as EmbeddedConfig;
    use dspconnect_sandbox::server::{RunningSandbox, Sandbox};
    use dspconnect_sandbox::store::demo::DEMO_REFERENT_GP;

    use super::{PlatformChoice, SandboxDetails, StartupError};
    use crate::card::software::{SoftwareCard, SoftwareReader, software_reader};
    use crate::config::{Config, PlatformProfile};
    use crate::service::DaemonOptions;

    /// The sandbox running inside the daemon.
    pub struct EmbeddedSandbox(RunningSandbox);

    impl EmbeddedSandbox {
        pub async fn shutdown(self) {
            if let Err(e) = self.0.shutdown().await {
                tracing::warn!(error = %e, "the embedded sandbox did not stop cleanly");
            }
        }
    }

    pub(super) async fn start(
        config: &Config,
        options: &DaemonOptions,
    ) -> Result<PlatformChoice, StartupError> {
        let sandbox_error = |e: &dyn std::fmt::Display| StartupError::Sandbox(e.to_string());
        let data_dir = config.sandbox.data_dir.clone();
        let running = Sandbox::start(EmbeddedConfig::new(&data_dir).with_port(config.sandbox.port))
            .await
            .map_err(|e| sandbox_error(&e))?;
        let pki = running.pki().clone();
        let idp_certificate = pki.dir().join(dspconnect_sandbox::pki::IDP_SIGNING_CERT);
        let profile = PlatformProfile::sandbox(
            running.base_url(),
            running.ca_certificate_path(),
            idp_certificate,
        );
        let card_dir = match &options.software_card {
            Some(dir) => dir.clone(),
            None => demo_card(&running, &config.sandbox.data_dir)?,
        };
        // A real card layer asked for explicitly (a sandbox test card in a
        // PC/SC reader, a SoftHSM token) replaces the software card.
        let explicit = options.software_card.is_none()
            && config.card.backend != crate::config::CardBackendKind::Auto;
        let (card_backend, real_card): (Box<dyn crate::card::CardBackend>, _) = if explicit {
            match super::real_card(&config.card)? {
                Some(backend) => {
                    let description = backend.description();
                    (backend, Some(description))
                }
                None => (Box::new(software_card_reader(&card_dir)?.0), None),
            }
        } else {
            (Box::new(software_card_reader(&card_dir)?.0), None)
        };
        let holder = crate::card::software::SoftwareCard::load(&card_dir)
            .map(|card| card.identity().holder_name.clone())
            .unwrap_or_default();
        let details = SandboxDetails {
            base_url: running.base_url().to_owned(),
            ca_file: running.ca_certificate_path(),
            data_dir: running.data_dir().to_owned(),
            card_holder: holder,
            card_pin: if real_card.is_some() {
                None
            } else {
                card_pin(&card_dir)
            },
            card_dir,
            real_card,
        };
        tracing::warn!(
            base_url = %details.base_url,
            "SANDBOX: the embedded sandbox platform runs; nothing reaches the real DSP"
        );
        Ok(PlatformChoice {
            profile,
            card_backend,
            test_ca_certificates: vec![pki.luxtrust_ca_der().to_vec()],
            embedded: Some(EmbeddedSandbox(running)),
            sandbox_details: Some(details),
            from_config: false,
        })
    }

    /// The demo GP's card, exported once next to the sandbox's data (the
    /// PIN counter lives with the copy the daemon uses).
    fn demo_card(running: &RunningSandbox, data_dir: &Path) -> Result<PathBuf, StartupError> {
        let dir = data_dir.join("daemon-card").join(DEMO_REFERENT_GP);
        if dir.join("card.json").exists() {
            return Ok(dir);
        }
        let ctx = running.context();
        dspconnect_sandbox::cards::export_card(
            ctx.pki(),
            ctx.store(),
            ctx.data_dir(),
            DEMO_REFERENT_GP,
            &dir,
            ctx.clock().now(),
        )
        .map_err(|e| StartupError::SoftwareCard {
            dir: dir.clone(),
            reason: e.to_string(),
        })?;
        Ok(dir)
    }

    fn card_pin(dir: &Path) -> Option<String> {
        dspconnect_sandbox::pki::CardCredentials::load(dir)
            .ok()
            .map(|c| c.pin.expose().to_owned())
    }

    /// A software reader with the card of `dir` inserted.
    pub(super) fn software_card_reader(
        dir: &Path,
    ) -> Result<(SoftwareReader, SoftwareCard), StartupError> {
        let card = SoftwareCard::load(dir).map_err(|e| StartupError::SoftwareCard {
            dir: dir.to_owned(),
            reason: e.to_string(),
        })?;
        let (reader, control) = software_reader(false);
        control.insert(&card);
        // The reader keeps its card while the control is gone: nobody
        // removes it in a running daemon (tests use their own control).
        Ok((reader, card))
    }
}

static LOG_LEVEL: OnceLock<reload::Handle<EnvFilter, tracing_subscriber::Registry>> =
    OnceLock::new();

/// Starts logging to standard error at `level` (`RUST_LOG` overrides it).
pub fn init_logging(level: LogLevel) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| filter_for(level));
    let (layer, handle) = reload::Layer::new(filter);
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if tracing_subscriber::registry()
        .with(layer)
        .with(fmt)
        .try_init()
        .is_ok()
    {
        let _ = LOG_LEVEL.set(handle);
    }
}

/// Applies a new log level (live configuration reload).
pub fn set_log_level(level: LogLevel) {
    if std::env::var_os("RUST_LOG").is_some() {
        return;
    }
    if let Some(handle) = LOG_LEVEL.get() {
        let _ = handle.reload(filter_for(level));
    }
}

fn filter_for(level: LogLevel) -> EnvFilter {
    // Dependencies speak at warn; ours at the configured level.
    EnvFilter::new(format!(
        "warn,dspconnectd={0},dspconnect={0},dspconnect_sandbox={0}",
        level.as_str()
    ))
}
