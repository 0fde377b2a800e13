//! dspconnectd: the professional's card session, the platform connection
//! and the durable outbox, served to practice software over a local socket.
//! With no configuration it runs the embedded sandbox platform (SANDBOX).

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use dspconnect::ipc::Endpoint;
use dspconnectd::config::{CONFIG_ENV, Config, ConfigLocation};
use dspconnectd::service::{self, DaemonOptions, startup};

/// The dspconnect daemon.
#[derive(Debug, Parser)]
#[command(name = "dspconnectd", version, about)]
struct Cli {
    /// Configuration file [default: $DSPCONNECT_CONFIG, else
    /// $XDG_CONFIG_HOME/dspconnect/dspconnectd.toml]
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// The IPC socket path [default: $DSPCONNECT_SOCKET, else
    /// $XDG_RUNTIME_DIR/dspconnect/dspconnectd.sock]
    #[arg(long, value_name = "PATH", conflicts_with = "endpoint")]
    socket: Option<PathBuf>,

    /// An endpoint name in $XDG_RUNTIME_DIR/dspconnect/ (tests run several daemons)
    #[arg(long, value_name = "NAME")]
    endpoint: Option<String>,

    /// Run on the embedded sandbox even when a platform is configured
    #[arg(long)]
    sandbox: bool,

    /// A sandbox software card (a directory exported by
    /// `dspconnect-sandbox export-card`) instead of the demo GP's
    #[arg(long, value_name = "DIR")]
    software_card: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let Some(location) =
        ConfigLocation::resolve(cli.config.as_deref(), |name| std::env::var_os(name))
    else {
        eprintln!(
            "dspconnectd: neither HOME nor XDG_CONFIG_HOME is set, and no configuration was \
             named; give --config FILE or set {CONFIG_ENV}"
        );
        return ExitCode::from(2);
    };
    let endpoint = match (&cli.socket, &cli.endpoint) {
        (Some(path), _) => Ok(Endpoint::at_path(path.clone())),
        (None, Some(name)) => Endpoint::named(name),
        (None, None) => Endpoint::default_endpoint(),
    };
    let endpoint = match endpoint {
        Ok(endpoint) => endpoint,
        Err(e) => {
            eprintln!("dspconnectd: {e}");
            return ExitCode::from(2);
        }
    };
    // The log level comes from the configuration; a broken file is
    // reported by `run` with every problem listed.
    let level = Config::load(&location)
        .map(|c| c.log.level)
        .unwrap_or(dspconnectd::config::LogLevel::Info);
    startup::init_logging(level);

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("dspconnectd: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let options = DaemonOptions {
        config: location,
        endpoint,
        force_sandbox: cli.sandbox,
        software_card: cli.software_card,
    };
    let result = runtime.block_on(service::run(options, shutdown_signal(), |banner| {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(banner.render().as_bytes());
        let _ = out.flush();
    }));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let mut message = format!("dspconnectd: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                message.push_str(&format!("\n  caused by: {cause}"));
                source = cause.source();
            }
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

/// Ctrl-C or SIGTERM (systemd's stop).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    tracing::info!("stopping");
}
