//! The command line: one subcommand per IPC method (or group of chunked
//! methods). Secrets are never arguments: they come from the terminal
//! without echo, or from standard input when a `--…-stdin` flag says so.

use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand};
use dspconnect::ipc::protocol::CodeParam;
use dspconnect::model::ConfidentialityMode;

/// Which command exercises each IPC method (shown in `--help`; a test
/// checks it covers every method).
pub const METHOD_COMMANDS: &[(&str, &str)] = &[
    ("status", "status"),
    ("session.unlock", "unlock"),
    ("session.lock", "lock"),
    ("session.password_login", "login"),
    ("account.activate", "activate"),
    ("account.activate_confirm", "activate-confirm"),
    ("account.change_password", "password"),
    ("patient.access", "access"),
    ("document.push", "push"),
    ("document.replace", "replace"),
    ("document.upload_begin", "push --upload, replace --upload"),
    ("document.upload_chunk", "push --upload, replace --upload"),
    ("document.upload_commit", "push --upload, replace --upload"),
    ("job.status", "job"),
    ("job.wait", "job --wait"),
    ("job.list", "jobs"),
    ("document.set_mode", "mode"),
    ("document.list", "list"),
    ("document.get", "get"),
    ("document.open_read", "get --chunks"),
    ("document.read_chunk", "get --chunks"),
    ("document.close_read", "get --chunks"),
    ("dsp.open", "open"),
    ("document.report_anomaly", "anomaly"),
    ("hpd.lookup", "hpd"),
    ("log.tail", "log"),
    ("events.subscribe", "watch, unlock --pinpad"),
];

fn methods_help() -> String {
    let width = METHOD_COMMANDS
        .iter()
        .map(|(m, _)| m.len())
        .max()
        .unwrap_or(0);
    let mut help = String::from(
        "IPC methods and the commands that call them (docs/ipc.md describes the protocol):\n",
    );
    for (method, command) in METHOD_COMMANDS {
        help.push_str(&format!("  {method:<width$}  {command}\n"));
    }
    help.push_str(
        "\nExit status: 0 success, 1 error from the daemon (or a job that failed), \
         2 usage error, 3 daemon not running.",
    );
    help
}

/// Talk to the dspconnect daemon (dspconnectd) from a shell.
#[derive(Debug, Parser)]
#[command(name = "dspctl", version, after_help = methods_help())]
pub struct Cli {
    /// Print the daemon's answer as one JSON document instead of text
    /// (`watch`: one JSON event per line).
    #[arg(long, global = true)]
    pub json: bool,

    /// The daemon's socket path [default: $DSPCONNECT_SOCKET, else
    /// $XDG_RUNTIME_DIR/dspconnect/dspconnectd.sock]
    #[arg(long, global = true, value_name = "PATH", conflicts_with = "endpoint")]
    pub socket: Option<PathBuf>,

    /// The daemon's endpoint name in $XDG_RUNTIME_DIR/dspconnect/
    #[arg(long, global = true, value_name = "NAME")]
    pub endpoint: Option<String>,

    /// Seconds to wait for each answer
    #[arg(long, global = true, value_name = "SECS", default_value_t = 30)]
    pub timeout: u64,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Daemon, platform, card, session and outbox at a glance
    Status,

    /// Unlock the session: the card PIN, asked without echo, or typed on
    /// the reader's pinpad
    Unlock {
        /// Type the PIN on the reader's pinpad
        #[arg(long, conflicts_with = "pin_stdin")]
        pinpad: bool,
        /// Read the PIN from the first line of standard input
        #[arg(long)]
        pin_stdin: bool,
    },

    /// Lock the session now
    Lock,

    /// Open a password session (limited access: account and directory,
    /// never DSP documents)
    Login {
        /// Your matricule
        #[arg(long, value_name = "M")]
        matricule: String,
        /// Read the password from the first line of standard input
        #[arg(long)]
        password_stdin: bool,
    },

    /// Activate your account, step 1: the code from the Agence eSanté's
    /// letter (asked), your matricule and an e-mail address
    Activate {
        #[arg(long, value_name = "M")]
        matricule: String,
        #[arg(long)]
        email: String,
        /// Read the activation code from standard input
        #[arg(long)]
        secrets_stdin: bool,
    },

    /// Activate your account, step 2: the letter's code, the code received
    /// by e-mail and your new password (all asked)
    ActivateConfirm {
        #[arg(long, value_name = "M")]
        matricule: String,
        /// Read the activation code, the e-mail code and the new password
        /// from standard input, one per line, in that order
        #[arg(long)]
        secrets_stdin: bool,
    },

    /// Change your platform password (old and new asked)
    Password {
        /// Read the old then the new password from standard input, one per line
        #[arg(long)]
        secrets_stdin: bool,
    },

    /// Open access to a patient with the code de présence the patient gives
    /// you (asked; spent at once, never stored)
    Access {
        /// The patient's matricule
        patient: String,
        /// Read the presence code from standard input
        #[arg(long)]
        code_stdin: bool,
    },

    /// Queue a document for the patient's DSP; prints the job id
    Push {
        /// The document
        file: PathBuf,
        #[command(flatten)]
        metadata: MetadataArgs,
        /// Send the content over the socket in chunks instead of letting the
        /// daemon read the file
        #[arg(long)]
        upload: bool,
    },

    /// Queue a replacement of a document you authored
    Replace {
        /// The uniqueId of the document being replaced
        unique_id: String,
        /// The new version
        file: PathBuf,
        #[command(flatten)]
        metadata: MetadataArgs,
        /// Send the content over the socket in chunks
        #[arg(long)]
        upload: bool,
    },

    /// All jobs of the outbox
    Jobs,

    /// One job's state (exit status 1 when it failed)
    Job {
        /// The job id `push` printed
        id: String,
        /// Wait up to SECS seconds for the job to end
        #[arg(long, value_name = "SECS")]
        wait: Option<u64>,
    },

    /// Change a document's confidentiality mode, as the charter allows
    Mode {
        /// The patient's matricule
        patient: String,
        /// The document's uniqueId (as `list` shows it)
        unique_id: String,
        /// normal, restreint, prive or visite_annonce
        mode: ConfidentialityMode,
    },

    /// A patient's documents visible to you
    List {
        /// The patient's matricule
        patient: String,
        /// Only documents registered since your previous list of this patient
        #[arg(long)]
        since_last_visit: bool,
        /// Only your documents still in « Visite d'annonce »
        #[arg(long)]
        mine_in_visite_annonce: bool,
        /// Include replaced (deprecated) entries
        #[arg(long)]
        include_deprecated: bool,
    },

    /// Retrieve a document into a new file
    Get {
        /// The patient's matricule
        patient: String,
        /// The document's uniqueId (as `list` shows it)
        unique_id: String,
        /// The file to create (it must not exist)
        #[arg(short, long, value_name = "PATH")]
        output: PathBuf,
        /// Receive the content over the socket in chunks and write the file
        /// here, instead of letting the daemon write it
        #[arg(long)]
        chunks: bool,
    },

    /// Open the patient's DSP in the browser (one-time URL)
    Open {
        /// The patient's matricule
        patient: String,
        /// Print the URL instead of opening the browser (it is a one-time
        /// bearer secret: do not share it)
        #[arg(long)]
        no_browser: bool,
    },

    /// Report an anomaly in a document to the DSP's manager at the Agence eSanté
    Anomaly {
        /// The patient's matricule
        patient: String,
        /// The document's uniqueId (as `list` shows it)
        unique_id: String,
        /// What is wrong
        text: String,
    },

    /// Look up professionals in the HPD directory
    #[command(group(ArgGroup::new("query").required(true).args(["ehealth_id", "name"])))]
    Hpd {
        #[arg(long, value_name = "ID")]
        ehealth_id: Option<String>,
        /// Part of a family or given name
        #[arg(long)]
        name: Option<String>,
    },

    /// The last lines of the daemon's audit log
    Log {
        #[arg(short = 'n', long, value_name = "N", default_value_t = 50)]
        lines: u32,
    },

    /// Print card, session and job events as they happen, until Ctrl-C
    Watch,

    /// Check each layer (configuration, socket, daemon, card, session,
    /// platform, TLS, clock) and say what to fix; works without a daemon
    Doctor,
}

/// Document metadata for `push` and `replace`.
#[derive(Debug, Clone, Args)]
pub struct MetadataArgs {
    /// The patient's matricule
    #[arg(long, value_name = "M")]
    pub patient: String,
    /// The document's title, as professionals will see it in the DSP
    #[arg(long)]
    pub title: String,
    /// normal, restreint, prive or visite_annonce
    #[arg(long, default_value = "normal")]
    pub mode: ConfidentialityMode,
    /// MIME type [default: guessed by the daemon]
    #[arg(long, value_name = "TYPE")]
    pub mime: Option<String>,
    /// Required: you state that the patient was informed and agrees
    /// (charter: « Obtenir l'approbation du patient, dûment averti »)
    #[arg(long)]
    pub patient_informed: bool,
    /// When the patient agreed (RFC 3339) [default: now]
    #[arg(long, value_name = "TIME")]
    pub informed_at: Option<String>,
    /// Class code [default: from the platform profile]
    #[arg(long, value_name = "CODE@SCHEME", value_parser = parse_code)]
    pub class_code: Option<CodeParam>,
    /// Type code, e.g. 34133-9@2.16.840.1.113883.6.1 [default: from the profile]
    #[arg(long, value_name = "CODE@SCHEME", value_parser = parse_code)]
    pub type_code: Option<CodeParam>,
    /// Format code [default: from the profile]
    #[arg(long, value_name = "CODE@SCHEME", value_parser = parse_code)]
    pub format_code: Option<CodeParam>,
    /// Practice setting code [default: from the profile]
    #[arg(long, value_name = "CODE@SCHEME", value_parser = parse_code)]
    pub practice_setting: Option<CodeParam>,
    /// Healthcare facility type code [default: from the profile]
    #[arg(long, value_name = "CODE@SCHEME", value_parser = parse_code)]
    pub facility_type: Option<CodeParam>,
    /// Language of the document (e.g. fr-LU)
    #[arg(long)]
    pub language: Option<String>,
    /// When the document was written (RFC 3339) [default: now]
    #[arg(long, value_name = "TIME")]
    pub creation_time: Option<String>,
    /// Start of the care the document covers (RFC 3339)
    #[arg(long, value_name = "TIME")]
    pub service_start: Option<String>,
    /// End of the care the document covers (RFC 3339)
    #[arg(long, value_name = "TIME")]
    pub service_stop: Option<String>,
    /// A comment registered with the document
    #[arg(long)]
    pub comments: Option<String>,
}

/// `CODE@SCHEME`: neither codes nor scheme OIDs contain '@'.
fn parse_code(s: &str) -> Result<CodeParam, String> {
    match s.split_once('@') {
        Some((code, scheme)) if !code.is_empty() && !scheme.is_empty() && !scheme.contains('@') => {
            Ok(CodeParam {
                code: code.to_owned(),
                scheme: scheme.to_owned(),
                display: None,
            })
        }
        _ => Err(format!(
            "'{s}' is not CODE@SCHEME (e.g. 34133-9@2.16.840.1.113883.6.1)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn codes_are_code_at_scheme() {
        let c = parse_code("34133-9@2.16.840.1.113883.6.1").unwrap();
        assert_eq!(
            (c.code.as_str(), c.scheme.as_str()),
            ("34133-9", "2.16.840.1.113883.6.1")
        );
        for bad in ["34133-9", "@x", "x@", "a@b@c"] {
            assert!(parse_code(bad).is_err(), "{bad}");
        }
    }
}
