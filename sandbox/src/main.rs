//! `dspconnect-sandbox`: runs the sandbox platform standalone, or exports a
//! professional's card credentials.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use dspconnect_sandbox::cards::{self, CardBindingState};
use dspconnect_sandbox::config::{self, SandboxConfig};
use dspconnect_sandbox::pki::Pki;
use dspconnect_sandbox::portal::AdminToken;
use dspconnect_sandbox::server::{DATABASE_FILE, SANDBOX_NOTICE, Sandbox};
use dspconnect_sandbox::store::Store;

/// The dspconnect sandbox: a stand-in for the eSanté platform.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Data directory (PKI, later the database and documents).
    /// Default: $XDG_DATA_HOME/dspconnect-sandbox or ~/.local/share/dspconnect-sandbox.
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,

    /// Port on 127.0.0.1 (0 = any free port).
    #[arg(long, default_value_t = 0, value_name = "N")]
    port: u16,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Copy a professional's LuxTrust test card (card.json with the PIN,
    /// certificate, private key, issuing CA) to OUT_DIR. The professional is
    /// looked up in the sandbox's HPD (start the sandbox once first); an
    /// active one gets the card bound to them, one pending activation an
    /// unbound card that their activation binds.
    ExportCard {
        /// The professional's eHealth id in the HPD (e.g. SBX1001).
        ehealth_id: String,
        /// New or empty directory to write into (created 0700).
        out_dir: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let mut message = format!("dspconnect-sandbox: {error}");
            let mut source = error.source();
            while let Some(cause) = source {
                message.push_str(&format!("\n  caused by: {cause}"));
                source = cause.source();
            }
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

type AnyError = Box<dyn std::error::Error>;

fn run(cli: Cli) -> Result<(), AnyError> {
    let data_dir = match cli.data_dir {
        Some(dir) => dir,
        None => config::default_data_dir()?,
    };
    match cli.command {
        None => serve(SandboxConfig::new(data_dir).with_port(cli.port)),
        Some(Command::ExportCard {
            ehealth_id,
            out_dir,
        }) => export_card(&data_dir, &ehealth_id, &out_dir),
    }
}

fn serve(config: SandboxConfig) -> Result<(), AnyError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut sandbox = Sandbox::start(config).await?;
        let activation_code = sandbox.take_demo_activation_code();
        let mut out = std::io::stdout().lock();
        writeln!(out, "{SANDBOX_NOTICE}")?;
        writeln!(out, "base URL: {}", sandbox.base_url())?;
        writeln!(
            out,
            "CA certificate (trust only this one): {}",
            sandbox.ca_certificate_path().display()
        )?;
        writeln!(out, "data directory: {}", sandbox.data_dir().display())?;
        writeln!(
            out,
            "professional portal: {}/portal/open?ticket=… (tickets from the DSP services)",
            sandbox.base_url()
        )?;
        writeln!(out, "patient portal: {}/patient/login", sandbox.base_url())?;
        {
            use dspconnect_sandbox::store::demo::{
                DEMO_ACCOMPAGNATEUR_PASSWORD, DEMO_ACCOMPAGNATEURS, DEMO_PATIENT_PASSWORD,
                DEMO_PATIENTS,
            };
            for p in DEMO_PATIENTS {
                writeln!(
                    out,
                    "  patient {} {} {}, password {DEMO_PATIENT_PASSWORD}",
                    p.matricule, p.given_name, p.family_name
                )?;
            }
            for a in DEMO_ACCOMPAGNATEURS {
                writeln!(
                    out,
                    "  accompagnateur {} ({} {}), password {DEMO_ACCOMPAGNATEUR_PASSWORD}",
                    a.login, a.given_name, a.family_name
                )?;
            }
        }
        let admin_token = AdminToken::load(sandbox.data_dir())?;
        writeln!(
            out,
            "admin API: {}/admin/api/… with 'Authorization: Bearer {}' (kept in {})",
            sandbox.base_url(),
            admin_token.expose(),
            AdminToken::path(sandbox.data_dir()).display()
        )?;
        drop(admin_token);
        writeln!(out, "demo professionals (HPD):")?;
        for p in dspconnect_sandbox::store::demo::DEMO_PROFESSIONALS {
            writeln!(
                out,
                "  {:<9} {} {} ({}) — {}",
                p.ehealth_id, p.given_name, p.family_name, p.profession, p.situation
            )?;
        }
        writeln!(
            out,
            "demo cards: {} (copy one out with: dspconnect-sandbox --data-dir {} export-card <eHealth id> <dir>)",
            sandbox.data_dir().join(dspconnect_sandbox::cards::CARDS_DIR).display(),
            sandbox.data_dir().display()
        )?;
        match &activation_code {
            Some(code) => writeln!(
                out,
                "activation letter code for {} (shown once): {}",
                dspconnect_sandbox::store::demo::DEMO_PENDING_ACTIVATION,
                code.expose()
            )?,
            None => writeln!(
                out,
                "the activation letter code of {} was shown at the first start only",
                dspconnect_sandbox::store::demo::DEMO_PENDING_ACTIVATION
            )?,
        }
        // Watch the signals before saying how to stop: a SIGTERM sent as soon
        // as that line appears must stop the sandbox cleanly, not kill it.
        let stop = stop_requested();
        writeln!(out, "stop with Ctrl-C")?;
        out.flush()?;
        drop(out);
        sandbox.run_until(stop).await?;
        Ok(())
    })
}

/// Ctrl-C, or SIGTERM where there is one (service managers, `kill`). The
/// handlers are installed when this is called, not when it is first awaited.
fn stop_requested() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let signals = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        )
    };
    async move {
        #[cfg(unix)]
        match signals {
            (Ok(mut interrupt), Ok(mut terminate)) => {
                tokio::select! {
                    _ = interrupt.recv() => {}
                    _ = terminate.recv() => {}
                }
            }
            (_, Err(error)) | (Err(error), _) => {
                tracing::warn!(%error, "cannot watch SIGTERM; stop with Ctrl-C");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("stopping");
    }
}

fn export_card(
    data_dir: &std::path::Path,
    ehealth_id: &str,
    out_dir: &std::path::Path,
) -> Result<(), AnyError> {
    let database = data_dir.join(DATABASE_FILE);
    if !database.is_file() {
        return Err(format!(
            "{} has no sandbox database yet: start the sandbox once (it creates the HPD and \
             the demo professionals), then export their cards",
            data_dir.display()
        )
        .into());
    }
    let pki = Pki::load_or_create(data_dir)?;
    let store = Store::open(&database)?;
    let exported = cards::export_card(
        &pki,
        &store,
        data_dir,
        ehealth_id,
        out_dir,
        time::OffsetDateTime::now_utc(),
    )?;
    let card = &exported.credentials;
    println!("{SANDBOX_NOTICE}");
    println!(
        "card of {} (eHealth id {}) written to {}",
        card.professional.name,
        card.professional.ehealth_id,
        out_dir.display()
    );
    println!("certificate serial: {}", card.serial);
    let rfc3339 = &time::format_description::well_known::Rfc3339;
    println!(
        "valid from {} until {}",
        card.not_before.format(rfc3339)?,
        card.not_after.format(rfc3339)?
    );
    match exported.state {
        CardBindingState::Bound => println!("bound to {ehealth_id} in the HPD: it logs in"),
        CardBindingState::Revoked => println!(
            "WARNING: this card was deactivated (revoked): the IdP refuses it; \
             activate a new card with a reset letter"
        ),
        CardBindingState::Unbound => println!(
            "UNBOUND: {ehealth_id} is pending activation; the activation request signed with \
             this card binds it"
        ),
    }
    println!(
        "manifest (holds the PIN): {}",
        out_dir
            .join(dspconnect_sandbox::pki::CARD_MANIFEST)
            .display()
    );
    Ok(())
}
