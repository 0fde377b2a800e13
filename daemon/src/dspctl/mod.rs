//! `dspctl`: every IPC method from a shell, through the same blocking
//! client the C library uses.
//!
//! Each invocation connects once, asks `status` (one cheap round trip, so
//! that every command can say SANDBOX when it is one), then runs its
//! command. Output is text by default and the daemon's result as one JSON
//! document with `--json`. Exit status: 0 success, 1 error from the daemon,
//! 2 usage error, 3 daemon not running.

pub mod cli;
mod commands;
pub mod doctor;
mod render;
mod secrets;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use dspconnect::ErrorCode;
use dspconnect::ipc::{Client, ClientError, Endpoint, EndpointError};

pub use cli::{Cli, Command, METHOD_COMMANDS};

/// Why a command did not succeed; decides the exit status.
#[derive(Debug)]
pub enum Failure {
    /// The command line or the user's input is wrong (exit 2).
    Usage(String),
    /// The daemon answered an error, or could not be reached (exit 1, or 3
    /// when it is not running).
    Daemon(ClientError),
    /// Something failed on this side (a local file) (exit 1).
    Local { code: ErrorCode, message: String },
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Self {
        Failure::Usage(message.into())
    }

    fn local(code: ErrorCode, message: impl Into<String>) -> Self {
        Failure::Local {
            code,
            message: message.into(),
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Usage(_) => 2,
            Failure::Daemon(e) if e.code == ErrorCode::DaemonNotRunning => 3,
            Failure::Daemon(_) | Failure::Local { .. } => 1,
        }
    }
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        Failure::Daemon(e)
    }
}

/// What a command produced.
pub(crate) struct Output {
    /// The result, as the daemon sent it (`--json`); `None` when the
    /// command printed as it went (`watch`).
    pub json: Option<serde_json::Value>,
    pub human: String,
    /// The command ran but what it reports is a failure (a failed job).
    pub failed: bool,
}

/// The `dspctl` program.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(Outcome::Succeeded) => ExitCode::SUCCESS,
        // What failed (a job) is in the output already.
        Ok(Outcome::ReportedFailure) => ExitCode::from(1),
        Err(failure) => {
            report(&failure, cli.json);
            ExitCode::from(failure.exit_code())
        }
    }
}

enum Outcome {
    Succeeded,
    ReportedFailure,
}

fn run(cli: &Cli) -> Result<Outcome, Failure> {
    commands::check_locally(&cli.command)?;
    if let Command::Doctor = cli.command {
        return Ok(run_doctor(cli));
    }
    let endpoint = endpoint(cli)?;
    let mut client = Client::connect(&endpoint, Duration::from_secs(cli.timeout))?;
    let status = commands::status(&mut client)?;
    if status.0.sandbox {
        eprintln!(
            "SANDBOX — platform '{}' is the test platform: nothing done here reaches the real DSP",
            status.0.platform
        );
    }
    let output = commands::execute(cli, &mut client, status)?;
    if let (true, Some(json)) = (cli.json, &output.json) {
        let text = serde_json::to_string_pretty(json)
            .map_err(|e| Failure::local(ErrorCode::Internal, format!("cannot print JSON: {e}")))?;
        println!("{text}");
    } else if !cli.json {
        print!("{}", output.human);
    }
    Ok(if output.failed {
        Outcome::ReportedFailure
    } else {
        Outcome::Succeeded
    })
}

fn run_doctor(cli: &Cli) -> Outcome {
    let endpoint = endpoint(cli).map_err(|f| match f {
        Failure::Usage(m) => m,
        Failure::Daemon(e) => e.message,
        Failure::Local { message, .. } => message,
    });
    let findings = doctor::diagnose(endpoint, Duration::from_secs(cli.timeout));
    if cli.json {
        match serde_json::to_string_pretty(&findings) {
            Ok(text) => println!("{text}"),
            Err(e) => eprintln!("error: cannot print JSON: {e}"),
        }
    } else {
        print!("{}", doctor::render(&findings));
    }
    if findings
        .iter()
        .any(|f| f.verdict == doctor::Verdict::Failed)
    {
        Outcome::ReportedFailure
    } else {
        Outcome::Succeeded
    }
}

fn endpoint(cli: &Cli) -> Result<Endpoint, Failure> {
    if let Some(path) = &cli.socket {
        return Ok(Endpoint::at_path(path));
    }
    let resolved = match &cli.endpoint {
        Some(name) => Endpoint::named(name),
        None => Endpoint::default_endpoint(),
    };
    resolved.map_err(|e| match e {
        EndpointError::BadName(_) => Failure::usage(e.to_string()),
        EndpointError::NoRuntimeDir => Failure::Daemon(ClientError {
            code: ErrorCode::DaemonNotRunning,
            message: e.to_string(),
            rpc: None,
        }),
    })
}

fn report(failure: &Failure, json: bool) {
    match failure {
        Failure::Usage(message) => eprintln!("error: {message}"),
        Failure::Local { code, message } => {
            eprintln!("error: {message}");
            eprintln!("[{}]", code.name());
        }
        Failure::Daemon(e) => match &e.rpc {
            Some(rpc) => {
                match &rpc.data.field {
                    Some(field) => eprintln!("error: {} (field '{field}')", rpc.message),
                    None => eprintln!("error: {}", rpc.message),
                }
                if let Some(hint) = &rpc.data.hint {
                    eprintln!("hint: {hint}");
                }
                if let Some(tries) = rpc.data.pin_tries_left {
                    eprintln!("PIN tries left: {tries}");
                }
                eprintln!("[{}]", rpc.data.name);
                if json {
                    let error = serde_json::json!({ "error": rpc });
                    println!("{error:#}");
                }
            }
            None => {
                eprintln!("error: {}", e.message);
                eprintln!("[{}]", e.code.name());
            }
        },
    }
}
