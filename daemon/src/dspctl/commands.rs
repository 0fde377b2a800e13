//! Each command: checks that need no daemon, then the calls and what to print.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use dspconnect::ErrorCode;
use std::marker::PhantomData;

use dspconnect::ipc::protocol::*;
use dspconnect::ipc::{Client, ClientError};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::cli::{Cli, Command, MetadataArgs};
use super::secrets::SecretReader;
use super::{Failure, Output, render};

/// How long `unlock --pinpad` waits for the PIN to be typed on the reader.
const PINPAD_WAIT: Duration = Duration::from_secs(120);

/// The charter's words, quoted when a push lacks the patient's agreement.
const CHARTER_STATEMENT: &str = "the DSP charter requires the patient's approval before a \
document is shared:\n  « L'enregistrement d'une donnée médicale dans le DSP équivaut à un \
partage d'informations entre professionnels de santé, pour lequel le patient est averti et \
consentant. »\n  « Obtenir l'approbation du patient, dûment averti »\nAdd --patient-informed \
to state that the patient was informed and agrees.";

/// Refusals that need no daemon (so they come before any connection).
pub(super) fn check_locally(command: &Command) -> Result<(), Failure> {
    match command {
        Command::Push { metadata, .. } | Command::Replace { metadata, .. }
            if !metadata.patient_informed =>
        {
            Err(Failure::usage(CHARTER_STATEMENT))
        }
        Command::Get { output, .. } if output.exists() => Err(Failure::usage(format!(
            "{} exists already: name a new file",
            output.display()
        ))),
        _ => Ok(()),
    }
}

/// A method whose result is kept as the daemon sent it, so that `--json`
/// prints exactly that (members this dspctl does not know included).
struct AsSent<M>(PhantomData<M>);

impl<M: Method> Method for AsSent<M> {
    const NAME: &'static str = M::NAME;
    type Params = M::Params;
    type Result = Value;
}

/// The typed result and the result as sent.
fn call<M: Method>(client: &mut Client, params: &M::Params) -> Result<(M::Result, Value), Failure> {
    let timeout = client.timeout();
    call_with_timeout::<M>(client, params, timeout)
}

fn call_with_timeout<M: Method>(
    client: &mut Client,
    params: &M::Params,
    timeout: Duration,
) -> Result<(M::Result, Value), Failure> {
    let raw = client.call_with_timeout::<AsSent<M>>(params, timeout)?;
    let typed = serde_json::from_value(raw.clone()).map_err(|e| {
        Failure::Daemon(ClientError {
            code: ErrorCode::Protocol,
            message: format!("the daemon's answer to {} is malformed: {e}", M::NAME),
            rpc: None,
        })
    })?;
    Ok((typed, raw))
}

/// `status`, which every invocation asks first.
pub(super) fn status(client: &mut Client) -> Result<(Status, Value), Failure> {
    call::<StatusMethod>(client, &Empty {})
}

fn to_json<T: Serialize>(value: &T) -> Result<Value, Failure> {
    serde_json::to_value(value).map_err(|e| {
        Failure::local(
            ErrorCode::Internal,
            format!("cannot encode the result: {e}"),
        )
    })
}

fn answer(json: Value, human: String) -> Result<Output, Failure> {
    Ok(Output {
        json: Some(json),
        human,
        failed: false,
    })
}

pub(super) fn execute(
    cli: &Cli,
    client: &mut Client,
    (status, status_as_sent): (Status, Value),
) -> Result<Output, Failure> {
    match &cli.command {
        Command::Status => {
            let human = render::status(&status);
            answer(status_as_sent, human)
        }
        Command::Unlock { pinpad, pin_stdin } => {
            let (session, raw) = if *pinpad {
                let session = unlock_on_pinpad(client)?;
                let raw = to_json(&session)?;
                (session, raw)
            } else {
                let pin = SecretReader::new(*pin_stdin).read("PIN", "--pin-stdin")?;
                call::<Unlock>(client, &UnlockParams { pin: Some(pin) })?
            };
            let human = format!("session: {}\n", render::session(&session));
            answer(raw, human)
        }
        Command::Lock => {
            let (session, raw) = call::<Lock>(client, &Empty {})?;
            let human = format!("session: {}\n", render::session(&session));
            answer(raw, human)
        }
        Command::Login {
            matricule,
            password_stdin,
        } => {
            let password =
                SecretReader::new(*password_stdin).read("password", "--password-stdin")?;
            let (session, raw) = call::<PasswordLogin>(
                client,
                &PasswordLoginParams {
                    matricule: matricule.clone(),
                    password,
                },
            )?;
            let human = format!(
                "session: {}\n(a password session reaches your account and the directory, \
                 never DSP documents: unlock with the card for those)\n",
                render::session(&session)
            );
            answer(raw, human)
        }
        Command::Activate {
            matricule,
            email,
            secrets_stdin,
        } => {
            let activation_code = SecretReader::new(*secrets_stdin)
                .read("activation code (from the letter)", "--secrets-stdin")?;
            let (pending, raw) = call::<ActivateAccount>(
                client,
                &ActivateParams {
                    activation_code,
                    matricule: matricule.clone(),
                    email: email.clone(),
                },
            )?;
            let human = format!(
                "a confirmation code was sent to {} (valid until {}).\n\
                 Next: dspctl activate-confirm --matricule {matricule}\n",
                pending.email_sent_to, pending.code_expires_at
            );
            answer(raw, human)
        }
        Command::ActivateConfirm {
            matricule,
            secrets_stdin,
        } => {
            let mut secrets = SecretReader::new(*secrets_stdin);
            let activation_code =
                secrets.read("activation code (from the letter)", "--secrets-stdin")?;
            let email_code = secrets.read("code received by e-mail", "--secrets-stdin")?;
            let new_password = secrets.read_new("new password", "--secrets-stdin")?;
            let (done, raw) = call::<ConfirmActivation>(
                client,
                &ConfirmActivationParams {
                    activation_code,
                    matricule: matricule.clone(),
                    email_code,
                    new_password,
                },
            )?;
            let human = format!(
                "account activated for {} ({})\n",
                done.professional.name, done.professional.ehealth_id
            );
            answer(raw, human)
        }
        Command::Password { secrets_stdin } => {
            let mut secrets = SecretReader::new(*secrets_stdin);
            let old_password = secrets.read("current password", "--secrets-stdin")?;
            let new_password = secrets.read_new("new password", "--secrets-stdin")?;
            let (Empty {}, raw) = call::<ChangePassword>(
                client,
                &ChangePasswordParams {
                    old_password,
                    new_password,
                },
            )?;
            answer(raw, "password changed\n".to_owned())
        }
        Command::Access {
            patient,
            code_stdin,
        } => {
            let presence_code =
                SecretReader::new(*code_stdin).read("presence code", "--code-stdin")?;
            let (grant, raw) = call::<PatientAccess>(
                client,
                &PatientAccessParams {
                    patient: patient.clone(),
                    presence_code,
                },
            )?;
            let human = format!(
                "access to patient {} granted until {} (grant {})\n",
                grant.patient, grant.expires_at, grant.grant_id
            );
            answer(raw, human)
        }
        Command::Push {
            file,
            metadata,
            upload,
        } => {
            let source = document_source(client, file, *upload)?;
            let (accepted, raw) = call::<Push>(
                client,
                &PushParams {
                    source,
                    metadata: push_metadata(metadata),
                },
            )?;
            answer(raw, queued(&accepted))
        }
        Command::Replace {
            unique_id,
            file,
            metadata,
            upload,
        } => {
            let source = document_source(client, file, *upload)?;
            let (accepted, raw) = call::<Replace>(
                client,
                &ReplaceParams {
                    replaces: unique_id.clone(),
                    source,
                    metadata: push_metadata(metadata),
                },
            )?;
            answer(raw, queued(&accepted))
        }
        Command::Jobs => {
            let (list, raw) = call::<JobList>(client, &Empty {})?;
            let human = render::jobs(&list);
            answer(raw, human)
        }
        Command::Job { id, wait } => {
            let (job, raw) = match wait {
                Some(secs) => call_with_timeout::<JobWait>(
                    client,
                    &JobWaitParams {
                        job_id: id.clone(),
                        timeout_ms: secs.saturating_mul(1000),
                    },
                    Duration::from_secs(secs.saturating_add(cli.timeout)),
                )?,
                None => call::<JobStatus>(client, &JobRef { job_id: id.clone() })?,
            };
            let failed = matches!(job.state, JobState::Failed | JobState::Conflict);
            let human = render::job(&job);
            let mut out = answer(raw, human)?;
            out.failed = failed;
            Ok(out)
        }
        Command::Mode {
            patient,
            unique_id,
            mode,
        } => {
            let (document, raw) = call::<SetMode>(
                client,
                &SetModeParams {
                    patient: patient.clone(),
                    unique_id: unique_id.clone(),
                    mode: *mode,
                },
            )?;
            let human = render::document(&document);
            answer(raw, human)
        }
        Command::List {
            patient,
            since_last_visit,
            mine_in_visite_annonce,
            include_deprecated,
        } => {
            let (list, raw) = call::<List>(
                client,
                &ListParams {
                    patient: patient.clone(),
                    since_last_visit: *since_last_visit,
                    mine_in_visite_annonce: *mine_in_visite_annonce,
                    include_deprecated: *include_deprecated,
                },
            )?;
            let human = render::documents(&list);
            answer(raw, human)
        }
        Command::Get {
            patient,
            unique_id,
            output: path,
            chunks,
        } => {
            let path = absolute(path)?;
            let (retrieved, raw) = if *chunks {
                // Assembled here: shaped as document.get's answer.
                let retrieved = read_in_chunks(client, patient, unique_id, &path)?;
                let raw = to_json(&retrieved)?;
                (retrieved, raw)
            } else {
                call::<GetToPath>(
                    client,
                    &GetParams {
                        patient: patient.clone(),
                        unique_id: unique_id.clone(),
                        path: path_string(&path)?,
                    },
                )?
            };
            let human = format!(
                "saved {} ({} bytes, {}, sha256 {})\n",
                retrieved.path, retrieved.size, retrieved.mime_type, retrieved.sha256
            );
            answer(raw, human)
        }
        Command::Open {
            patient,
            no_browser,
        } => {
            let (url, raw) = call::<OpenDsp>(
                client,
                &OpenDspParams {
                    patient: patient.clone(),
                    launch_browser: !*no_browser,
                },
            )?;
            let human = if url.browser_launched {
                format!(
                    "opened the DSP of patient {patient} in your browser (the link is valid until {})\n",
                    url.expires_at
                )
            } else {
                format!(
                    "one-time link to the DSP of patient {patient}, valid until {} \
                     (a secret: do not share it):\n{}\n",
                    url.expires_at, url.url
                )
            };
            answer(raw, human)
        }
        Command::Anomaly {
            patient,
            unique_id,
            text,
        } => {
            let (reported, raw) = call::<ReportAnomaly>(
                client,
                &ReportAnomalyParams {
                    patient: patient.clone(),
                    unique_id: unique_id.clone(),
                    description: text.clone(),
                },
            )?;
            let human = format!("anomaly reported (report {})\n", reported.report_id);
            answer(raw, human)
        }
        Command::Hpd { ehealth_id, name } => {
            let (found, raw) = call::<HpdLookup>(
                client,
                &HpdLookupParams {
                    ehealth_id: ehealth_id.clone(),
                    name: name.clone(),
                },
            )?;
            let human = render::professionals(&found);
            answer(raw, human)
        }
        Command::Log { lines } => {
            let (log, raw) = call::<LogTail>(client, &LogTailParams { lines: *lines })?;
            let human = log.lines.iter().map(|l| format!("{l}\n")).collect();
            answer(raw, human)
        }
        Command::Watch => watch(client, cli.json),
        Command::Doctor => Err(Failure::usage("doctor runs without a daemon connection")),
    }
}

fn queued(accepted: &PushAccepted) -> String {
    format!(
        "queued: job {} (document {})\nfollow it with: dspctl job {} --wait 60\n",
        accepted.job_id, accepted.unique_id, accepted.job_id
    )
}

fn push_metadata(m: &MetadataArgs) -> PushMetadata {
    PushMetadata {
        patient: m.patient.clone(),
        title: m.title.clone(),
        mode: m.mode,
        patient_statement: PatientStatement {
            informed_and_agrees: m.patient_informed,
            stated_at: m.informed_at.clone(),
        },
        mime_type: m.mime.clone(),
        class_code: m.class_code.clone(),
        type_code: m.type_code.clone(),
        format_code: m.format_code.clone(),
        practice_setting_code: m.practice_setting.clone(),
        healthcare_facility_type_code: m.facility_type.clone(),
        language: m.language.clone(),
        creation_time: m.creation_time.clone(),
        service_start: m.service_start.clone(),
        service_stop: m.service_stop.clone(),
        comments: m.comments.clone(),
    }
}

fn absolute(path: &Path) -> Result<PathBuf, Failure> {
    std::path::absolute(path).map_err(|e| {
        Failure::local(
            ErrorCode::Io,
            format!("cannot make {} absolute: {e}", path.display()),
        )
    })
}

fn path_string(path: &Path) -> Result<String, Failure> {
    path.to_str().map(str::to_owned).ok_or_else(|| {
        Failure::usage(format!(
            "{} is not valid UTF-8, which the daemon's protocol needs",
            path.display()
        ))
    })
}

/// The daemon reads the file by its absolute path, or (`--upload`) the
/// content goes over the socket in chunks.
fn document_source(
    client: &mut Client,
    file: &Path,
    upload: bool,
) -> Result<DocumentSource, Failure> {
    let path = absolute(file)?;
    if !upload {
        return Ok(DocumentSource::Path(path_string(&path)?));
    }
    let mut input = File::open(&path).map_err(|e| {
        let code = if e.kind() == std::io::ErrorKind::NotFound {
            ErrorCode::FileNotFound
        } else {
            ErrorCode::Io
        };
        Failure::local(code, format!("cannot read {}: {e}", path.display()))
    })?;
    let size = input
        .metadata()
        .map_err(|e| Failure::local(ErrorCode::Io, format!("{}: {e}", path.display())))?
        .len();
    let handle = client.call::<UploadBegin>(&UploadBeginParams { size })?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; MAX_CHUNK_BYTES];
    let mut offset = 0u64;
    loop {
        let n = read_full(&mut input, &mut buffer)
            .map_err(|e| Failure::local(ErrorCode::Io, format!("{}: {e}", path.display())))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        let progress = client.call::<UploadChunk>(&UploadChunkParams {
            upload_id: handle.upload_id.clone(),
            offset,
            data: BASE64.encode(&buffer[..n]),
        })?;
        offset = progress.received;
    }
    let committed = client.call::<UploadCommit>(&UploadCommitParams {
        upload_id: handle.upload_id,
        sha256: format!("{:x}", hasher.finalize()),
    })?;
    Ok(DocumentSource::Upload(committed.upload_id))
}

/// Fills `buffer` unless the file ends first; the bytes read.
fn read_full(input: &mut impl Read, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match input.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// `document.open_read` + `read_chunk` into a new file; the file is removed
/// again if anything fails.
fn read_in_chunks(
    client: &mut Client,
    patient: &str,
    unique_id: &str,
    path: &Path,
) -> Result<Retrieved, Failure> {
    let handle = client.call::<OpenRead>(&OpenReadParams {
        patient: patient.to_owned(),
        unique_id: unique_id.to_owned(),
    })?;
    let mut file = File::create_new(path).map_err(|e| {
        Failure::local(
            ErrorCode::BadOutputPath,
            format!("cannot create {}: {e}", path.display()),
        )
    })?;
    let copied = copy_chunks(client, &handle, &mut file, path);
    let closed = client.call::<CloseRead>(&ReadRef {
        read_id: handle.read_id.clone(),
    });
    let outcome = copied.and_then(|sha256| {
        closed?;
        Ok(Retrieved {
            path: path_string(path)?,
            size: handle.size,
            sha256,
            mime_type: handle.mime_type.clone(),
        })
    });
    if outcome.is_err() {
        let _ = std::fs::remove_file(path);
    }
    outcome
}

fn copy_chunks(
    client: &mut Client,
    handle: &ReadHandle,
    file: &mut File,
    path: &Path,
) -> Result<String, Failure> {
    let write_error = |e: std::io::Error| {
        Failure::local(ErrorCode::Io, format!("writing {}: {e}", path.display()))
    };
    let mut hasher = Sha256::new();
    let mut offset = 0u64;
    loop {
        let chunk = client.call::<ReadChunk>(&ReadChunkParams {
            read_id: handle.read_id.clone(),
            offset,
            length: MAX_CHUNK_BYTES as u32,
        })?;
        let data = BASE64.decode(&chunk.data).map_err(|e| {
            Failure::local(
                ErrorCode::Protocol,
                format!("the daemon sent a chunk that is not base64: {e}"),
            )
        })?;
        file.write_all(&data).map_err(write_error)?;
        hasher.update(&data);
        offset += data.len() as u64;
        if chunk.eof {
            break;
        }
        if data.is_empty() {
            return Err(Failure::local(
                ErrorCode::Protocol,
                format!("the daemon sent an empty chunk at offset {offset} before the end"),
            ));
        }
    }
    file.sync_all().map_err(write_error)?;
    if offset != handle.size {
        return Err(Failure::local(
            ErrorCode::Protocol,
            format!(
                "the daemon announced {} bytes and sent {offset}",
                handle.size
            ),
        ));
    }
    Ok(format!("{:x}", hasher.finalize()))
}

/// Subscribes before unlocking, so that the end of pinpad entry (a session
/// event) cannot be missed.
fn unlock_on_pinpad(client: &mut Client) -> Result<SessionInfo, Failure> {
    client.call::<Subscribe>(&Empty {})?;
    let session = client.call::<Unlock>(&UnlockParams { pin: None })?;
    if session.state != SessionState::PinpadPending {
        return Ok(session);
    }
    eprintln!("type your PIN on the reader's pinpad…");
    let deadline = Instant::now() + PINPAD_WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Failure::local(
                ErrorCode::Timeout,
                "no PIN was typed on the pinpad in time; run `dspctl unlock --pinpad` again",
            ));
        }
        if let Some(Event::Session { session }) = client.next_event(left)?
            && session.state != SessionState::PinpadPending
        {
            return Ok(session);
        }
    }
}

fn watch(client: &mut Client, json: bool) -> Result<Output, Failure> {
    client.call::<Subscribe>(&Empty {})?;
    eprintln!("watching events (Ctrl-C to stop)");
    let mut stdout = std::io::stdout();
    loop {
        let Some(event) = client.next_event(Duration::from_secs(3600))? else {
            continue;
        };
        let line = if json {
            serde_json::to_string(&event).map_err(|e| {
                Failure::local(ErrorCode::Internal, format!("cannot print an event: {e}"))
            })?
        } else {
            render::event(&event)
        };
        // A closed pipe (`dspctl watch | head`) ends the watch.
        if writeln!(stdout, "{line}")
            .and_then(|()| stdout.flush())
            .is_err()
        {
            return Ok(Output {
                json: None,
                human: String::new(),
                failed: false,
            });
        }
    }
}
