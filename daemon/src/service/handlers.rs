//! One function per IPC method (`docs/ipc.md`). Each validates its input
//! (naming the field at fault), checks the session it needs, calls the
//! session, the outbox or the platform, and records what it did on the
//! user's behalf in the audit log.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use dspconnect::ErrorCode;
use dspconnect::ipc::protocol::*;
use dspconnect::model::{
    ActivationCode, ConfidentialityMode, EmailConfirmationCode, Matricule, Password, Pin,
    PresenceCode,
};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{Core, browser, reads};
use crate::audit::{
    AuditAction, AuditOutcome, AuditRecord, DocumentUniqueId, EHealthId, PatientMatricule,
};
use crate::ipc_server::{ConnectionContext, Router};
use crate::outbox::{AccessBasis, ContentSource, EnqueueRequest, Owner, ResolveContext};
use crate::platform::PlatformError;
use crate::session::{ActiveSession, SessionError};

/// The daemon's handler: every method of the protocol.
pub(crate) fn router(core: Arc<Core>) -> Router {
    macro_rules! route {
        ($router:expr, $method:ty, $f:path) => {{
            let core = core.clone();
            $router.route::<$method, _>(move |ctx, params| {
                let core = core.clone();
                async move { $f(&core, ctx, params).await }
            })
        }};
    }
    let r = Router::new();
    let r = route!(r, StatusMethod, status);
    let r = route!(r, Unlock, unlock);
    let r = route!(r, Lock, lock);
    let r = route!(r, PasswordLogin, password_login);
    let r = route!(r, ActivateAccount, activate);
    let r = route!(r, ConfirmActivation, confirm_activation);
    let r = route!(r, ChangePassword, change_password);
    let r = route!(r, PatientAccess, patient_access);
    let r = route!(r, Push, push);
    let r = route!(r, Replace, replace);
    let r = route!(r, UploadBegin, upload_begin);
    let r = route!(r, UploadChunk, upload_chunk);
    let r = route!(r, UploadCommit, upload_commit);
    let r = route!(r, JobStatus, job_status);
    let r = route!(r, JobWait, job_wait);
    let r = route!(r, JobList, job_list);
    let r = route!(r, SetMode, set_mode);
    let r = route!(r, List, list);
    let r = route!(r, GetToPath, get_to_path);
    let r = route!(r, OpenRead, open_read);
    let r = route!(r, ReadChunk, read_chunk);
    let r = route!(r, CloseRead, close_read);
    let r = route!(r, OpenDsp, open_dsp);
    let r = route!(r, ReportAnomaly, report_anomaly);
    let r = route!(r, HpdLookup, hpd_lookup);
    route!(r, LogTail, log_tail)
}

// ------------------------------------------------------------------ helpers

fn session_error(e: SessionError) -> RpcError {
    let hint = match &e {
        SessionError::NoCard | SessionError::CardRemoved => Some("insert the LuxTrust card"),
        SessionError::Locked { .. } | SessionError::PinNotVerified => {
            Some("unlock with the card's PIN: dspctl unlock")
        }
        _ => None,
    };
    let tries = e.pin_tries_left();
    let mut error = RpcError::new(e.code(), e.to_string());
    if let Some(hint) = hint {
        error = error.with_hint(hint);
    }
    if let Some(tries) = tries {
        error = error.with_pin_tries_left(tries);
    }
    error
}

fn platform_error(e: PlatformError) -> RpcError {
    e.to_rpc()
}

fn matricule(field: &str, value: &str) -> Result<Matricule, RpcError> {
    value.parse::<Matricule>().map_err(|e| {
        RpcError::new(
            ErrorCode::BadMatricule,
            format!("'{value}' is not a matricule: {e}"),
        )
        .with_field(field)
        .with_hint("give the patient's 13-digit national identification number")
    })
}

fn unique_id(field: &str, value: &str) -> Result<(), RpcError> {
    let ok = !value.is_empty()
        && value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b'^' || b.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(RpcError::new(
            ErrorCode::BadMetadata,
            format!("'{value}' is not a document uniqueId (an OID such as 2.25.1234…)"),
        )
        .with_field(field)
        .with_hint("take the unique_id from document.list or from the push's answer"))
    }
}

/// The open card session (DSP documents need one).
fn card_session(core: &Core) -> Result<ActiveSession, RpcError> {
    core.session.touch();
    match core.session.current_session() {
        Some(session) if session.can_reach_documents() => Ok(session),
        Some(_) => Err(RpcError::new(
            ErrorCode::PasswordSessionLimited,
            "a password session cannot reach DSP documents (charter: only the LuxTrust \
             smartcard gives access to the DSP)",
        )
        .with_hint("lock it, insert the LuxTrust card and unlock with its PIN")),
        None => Err(no_session(core)),
    }
}

/// Any open session (account and directory calls accept a password one).
fn any_session(core: &Core) -> Result<ActiveSession, RpcError> {
    core.session.touch();
    core.session
        .current_session()
        .ok_or_else(|| no_session(core))
}

fn no_session(core: &Core) -> RpcError {
    let (card, session) = core.session.status();
    let (code, hint) = match session.state {
        SessionState::NoCard => (
            ErrorCode::NoCard,
            "insert the LuxTrust card, then: dspctl unlock",
        ),
        SessionState::Blocked => (
            ErrorCode::CardBlocked,
            "the card's PIN is blocked; unblock it with LuxTrust's PUK tools",
        ),
        SessionState::Expired => (
            ErrorCode::SessionExpired,
            "the platform session expired; it is renewed while the card is in the reader, or \
             unlock again",
        ),
        SessionState::Unlocked => (
            ErrorCode::NotAuthenticated,
            "the platform authentication is under way; try again in a moment",
        ),
        _ if card.card_present => (
            ErrorCode::SessionLocked,
            "unlock with the card's PIN: dspctl unlock",
        ),
        _ => (
            ErrorCode::NotAuthenticated,
            "insert the LuxTrust card, then: dspctl unlock",
        ),
    };
    RpcError::new(
        code,
        format!(
            "no platform session is open (session is {:?})",
            session.state
        ),
    )
    .with_hint(hint)
}

fn audit(core: &Core, record: AuditRecord) {
    if let Err(e) = core.audit.record(&record) {
        tracing::error!(error = %e, "the audit log cannot be written");
    }
}

fn audit_record(
    action: AuditAction,
    result: &Result<impl Sized, RpcError>,
    professional: Option<&str>,
    patient: Option<&str>,
    document: Option<&str>,
) -> AuditRecord {
    let outcome = match result {
        Ok(_) => AuditOutcome::Ok,
        Err(e)
            if matches!(
                e.code(),
                ErrorCode::AccessDenied | ErrorCode::ModeChangeRefused
            ) =>
        {
            AuditOutcome::Refused
        }
        Err(_) => AuditOutcome::Failed,
    };
    let mut record = AuditRecord::now(action, outcome);
    record.professional = professional.and_then(|p| EHealthId::new(p).ok());
    record.patient = patient.and_then(|p| PatientMatricule::new(p).ok());
    record.document_unique_id = document.and_then(|d| DocumentUniqueId::new(d).ok());
    record.error_code = result.as_ref().err().map(RpcError::code);
    record
}

fn professional_of(core: &Core) -> Option<String> {
    core.session
        .current_session()
        .map(|s| s.professional.ehealth_id)
}

// ------------------------------------------------------------------ status and session

async fn status(core: &Core, _: ConnectionContext, _: Empty) -> Result<Status, RpcError> {
    Ok(core.status())
}

async fn unlock(
    core: &Core,
    _: ConnectionContext,
    p: UnlockParams,
) -> Result<SessionInfo, RpcError> {
    let result = match p.pin {
        Some(pin) => {
            let pin = Pin::new(pin.expose().to_owned()).map_err(|e| {
                RpcError::new(ErrorCode::BadPin, e.to_string())
                    .with_field("pin")
                    .with_hint("the LuxTrust PIN is 4 to 8 digits")
            })?;
            core.session.unlock(pin).await.map_err(session_error)
        }
        None => core.session.unlock_pinpad().await.map_err(session_error),
    };
    let professional = result
        .as_ref()
        .ok()
        .and_then(|s| s.professional.as_ref().map(|p| p.ehealth_id.clone()));
    audit(
        core,
        audit_record(
            AuditAction::SessionUnlock,
            &result,
            professional.as_deref(),
            None,
            None,
        ),
    );
    result
}

async fn lock(core: &Core, _: ConnectionContext, _: Empty) -> Result<SessionInfo, RpcError> {
    let professional = professional_of(core);
    let result = core
        .session
        .lock(LockReason::Explicit)
        .await
        .map_err(session_error);
    audit(
        core,
        audit_record(
            AuditAction::SessionLock,
            &result,
            professional.as_deref(),
            None,
            None,
        ),
    );
    result
}

async fn password_login(
    core: &Core,
    _: ConnectionContext,
    p: PasswordLoginParams,
) -> Result<SessionInfo, RpcError> {
    let matricule = matricule("matricule", &p.matricule)?;
    let password = Password::existing(p.password.expose().to_owned()).map_err(|e| {
        RpcError::new(ErrorCode::InvalidArgument, e.to_string()).with_field("password")
    })?;
    let result = core
        .session
        .password_login(matricule, password)
        .await
        .map_err(session_error);
    let professional = result
        .as_ref()
        .ok()
        .and_then(|s| s.professional.as_ref().map(|p| p.ehealth_id.clone()));
    audit(
        core,
        audit_record(
            AuditAction::PasswordLogin,
            &result,
            professional.as_deref(),
            None,
            None,
        ),
    );
    result
}

// ------------------------------------------------------------------ account

async fn activate(
    core: &Core,
    _: ConnectionContext,
    p: ActivateParams,
) -> Result<ActivationPending, RpcError> {
    let code = ActivationCode::new(p.activation_code.expose().to_owned()).map_err(|e| {
        RpcError::new(ErrorCode::InvalidArgument, e.to_string())
            .with_field("activation_code")
            .with_hint("type the code exactly as printed on the Agence eSanté's letter")
    })?;
    let matricule = matricule("matricule", &p.matricule)?;
    let email = p.email.trim();
    if !email.contains('@') || email.len() > 254 || email.chars().any(char::is_whitespace) {
        return Err(RpcError::new(
            ErrorCode::InvalidArgument,
            format!("'{email}' is not an e-mail address"),
        )
        .with_field("email"));
    }
    let signer = core.session.card_signer().await.map_err(session_error)?;
    let result = core
        .platform
        .current()
        .activate(signer, code, &matricule, email)
        .await
        .map_err(platform_error);
    audit(
        core,
        audit_record(AuditAction::AccountActivate, &result, None, None, None),
    );
    result
}

async fn confirm_activation(
    core: &Core,
    _: ConnectionContext,
    p: ConfirmActivationParams,
) -> Result<ActivationDone, RpcError> {
    let code = ActivationCode::new(p.activation_code.expose().to_owned()).map_err(|e| {
        RpcError::new(ErrorCode::InvalidArgument, e.to_string()).with_field("activation_code")
    })?;
    let matricule = matricule("matricule", &p.matricule)?;
    let email_code = EmailConfirmationCode::new(p.email_code.expose().to_owned()).map_err(|e| {
        RpcError::new(ErrorCode::InvalidArgument, e.to_string())
            .with_field("email_code")
            .with_hint("type the code from the confirmation e-mail")
    })?;
    let password = Password::new(p.new_password.expose().to_owned()).map_err(|e| {
        RpcError::new(ErrorCode::WeakPassword, e.to_string()).with_field("new_password")
    })?;
    let signer = core.session.card_signer().await.map_err(session_error)?;
    let result = core
        .platform
        .current()
        .confirm_activation(signer, code, &matricule, email_code, password)
        .await
        .map_err(platform_error);
    let professional = result
        .as_ref()
        .ok()
        .map(|d| d.professional.ehealth_id.clone());
    audit(
        core,
        audit_record(
            AuditAction::AccountActivateConfirm,
            &result,
            professional.as_deref(),
            None,
            None,
        ),
    );
    result
}

async fn change_password(
    core: &Core,
    _: ConnectionContext,
    p: ChangePasswordParams,
) -> Result<Empty, RpcError> {
    let session = any_session(core)?;
    let old = Password::existing(p.old_password.expose().to_owned()).map_err(|e| {
        RpcError::new(ErrorCode::InvalidArgument, e.to_string()).with_field("old_password")
    })?;
    let new = Password::new(p.new_password.expose().to_owned()).map_err(|e| {
        RpcError::new(ErrorCode::WeakPassword, e.to_string()).with_field("new_password")
    })?;
    let result = core
        .platform
        .current()
        .change_password(&session.assertion, old, new)
        .await
        .map(|()| Empty {})
        .map_err(platform_error);
    let professional = session.professional.ehealth_id.clone();
    audit(
        core,
        audit_record(
            AuditAction::PasswordChange,
            &result,
            Some(&professional),
            None,
            None,
        ),
    );
    result
}

// ------------------------------------------------------------------ patient access

async fn patient_access(
    core: &Core,
    _: ConnectionContext,
    p: PatientAccessParams,
) -> Result<ConsultationGrant, RpcError> {
    let patient = matricule("patient", &p.patient)?;
    let code = PresenceCode::new(p.presence_code.expose().to_owned()).map_err(|e| {
        RpcError::new(ErrorCode::BadPresenceCode, e.to_string())
            .with_field("presence_code")
            .with_hint("ask the patient for the code de présence shown in their DSP")
    })?;
    let session = card_session(core)?;
    let professional = session.professional.ehealth_id.clone();
    let result = core
        .platform
        .current()
        .patient_access(&session.assertion, &patient, code)
        .await
        .map_err(platform_error);
    if let Ok(grant) = &result {
        match OffsetDateTime::parse(&grant.expires_at, &Rfc3339) {
            Ok(expires_at) => core.grants.insert(
                &professional,
                &patient.as_digits(),
                AccessBasis {
                    grant_id: grant.grant_id.clone(),
                    expires_at,
                },
            ),
            Err(e) => tracing::warn!(error = %e, "the platform's grant has an unreadable end"),
        }
    }
    audit(
        core,
        audit_record(
            AuditAction::PatientAccess,
            &result,
            Some(&professional),
            Some(&patient.as_digits()),
            None,
        ),
    );
    result
}

// ------------------------------------------------------------------ pushes

async fn push(core: &Core, _: ConnectionContext, p: PushParams) -> Result<PushAccepted, RpcError> {
    enqueue(core, p.source, p.metadata, None).await
}

async fn replace(
    core: &Core,
    _: ConnectionContext,
    p: ReplaceParams,
) -> Result<PushAccepted, RpcError> {
    unique_id("replaces", &p.replaces)?;
    enqueue(core, p.source, p.metadata, Some(p.replaces)).await
}

/// The professional a push is queued for: the open card session's, else
/// the card in the reader's (the job then waits for its PIN).
fn push_owner(core: &Core) -> Result<Owner, RpcError> {
    core.session.touch();
    if let Some(owner) = core.session.owner() {
        return Ok(owner);
    }
    let (card, _) = core.session.status();
    match (card.holder, card.certificate_fingerprint) {
        (Some(holder), Some(fingerprint)) => Owner::new(&holder.ehealth_id, &fingerprint)
            .map_err(|e| RpcError::new(ErrorCode::CardError, e.to_string())),
        _ => Err(if core.session.current_session().is_some() {
            RpcError::new(
                ErrorCode::PasswordSessionLimited,
                "a password session cannot send documents to the DSP",
            )
            .with_hint("insert the LuxTrust card and unlock it")
        } else {
            RpcError::new(
                ErrorCode::NoCard,
                "documents are queued in the name of the card's holder, and no card is in the \
                 reader",
            )
            .with_hint("insert the LuxTrust card (the PIN can come later: the document waits)")
        }),
    }
}

fn content_source(source: DocumentSource) -> Result<ContentSource, RpcError> {
    match source {
        DocumentSource::Path(path) => {
            let path = PathBuf::from(path);
            if !path.is_absolute() {
                return Err(RpcError::new(
                    ErrorCode::InvalidArgument,
                    format!("'{}' is not an absolute path", path.display()),
                )
                .with_field("source.path")
                .with_hint("give the full path: the daemon does not share your working folder"));
            }
            Ok(ContentSource::Path(path))
        }
        DocumentSource::Base64(data) => base64::engine::general_purpose::STANDARD
            .decode(data.as_bytes())
            .map(ContentSource::Bytes)
            .map_err(|e| {
                RpcError::new(ErrorCode::InvalidArgument, format!("not valid base64: {e}"))
                    .with_field("source.base64")
            }),
        DocumentSource::Upload(id) => Ok(ContentSource::Upload(id)),
    }
}

async fn enqueue(
    core: &Core,
    source: DocumentSource,
    metadata: PushMetadata,
    replaces: Option<String>,
) -> Result<PushAccepted, RpcError> {
    // The patient first: the most common mistake, named precisely.
    let patient = matricule("metadata.patient", &metadata.patient)?;
    let source = content_source(source)?;
    let owner = push_owner(core)?;
    let access = core.grants.current(&owner.ehealth_id, &patient.as_digits());
    let context = ResolveContext::from_profile(core.platform.current().profile());
    let job = core
        .outbox
        .enqueue(EnqueueRequest {
            source,
            metadata,
            replaces,
            owner,
            access,
            context,
        })
        .await
        .map_err(|e| e.to_rpc())?;
    Ok(PushAccepted {
        job_id: job.job_id,
        unique_id: job.unique_id,
    })
}

async fn upload_begin(
    core: &Core,
    _: ConnectionContext,
    p: UploadBeginParams,
) -> Result<UploadHandle, RpcError> {
    let upload_id = core
        .outbox
        .upload_begin(p.size)
        .await
        .map_err(|e| e.to_rpc())?;
    Ok(UploadHandle { upload_id })
}

async fn upload_chunk(
    core: &Core,
    _: ConnectionContext,
    p: UploadChunkParams,
) -> Result<UploadProgress, RpcError> {
    let data = base64::engine::general_purpose::STANDARD
        .decode(p.data.as_bytes())
        .map_err(|e| {
            RpcError::new(ErrorCode::InvalidArgument, format!("not valid base64: {e}"))
                .with_field("data")
        })?;
    if data.len() > MAX_CHUNK_BYTES {
        return Err(RpcError::new(
            ErrorCode::InvalidArgument,
            format!(
                "a chunk carries at most {MAX_CHUNK_BYTES} bytes, this one {}",
                data.len()
            ),
        )
        .with_field("data"));
    }
    let received = core
        .outbox
        .upload_append(&p.upload_id, p.offset, data)
        .await
        .map_err(|e| e.to_rpc())?;
    Ok(UploadProgress { received })
}

async fn upload_commit(
    core: &Core,
    _: ConnectionContext,
    p: UploadCommitParams,
) -> Result<UploadCommitted, RpcError> {
    core.outbox
        .upload_commit(&p.upload_id, &p.sha256)
        .await
        .map_err(|e| e.to_rpc())
}

// ------------------------------------------------------------------ jobs

async fn job_status(core: &Core, _: ConnectionContext, p: JobRef) -> Result<Job, RpcError> {
    core.outbox.job(&p.job_id).map_err(|e| e.to_rpc())
}

/// The longest `job.wait`: callers loop for longer waits.
const MAX_JOB_WAIT: Duration = Duration::from_secs(600);

async fn job_wait(core: &Core, _: ConnectionContext, p: JobWaitParams) -> Result<Job, RpcError> {
    let timeout = Duration::from_millis(p.timeout_ms).min(MAX_JOB_WAIT);
    core.outbox
        .wait(&p.job_id, timeout)
        .await
        .map_err(|e| e.to_rpc())
}

async fn job_list(core: &Core, _: ConnectionContext, _: Empty) -> Result<JobListResult, RpcError> {
    Ok(JobListResult {
        jobs: core.outbox.jobs(),
    })
}

// ------------------------------------------------------------------ documents

async fn set_mode(
    core: &Core,
    _: ConnectionContext,
    p: SetModeParams,
) -> Result<DocumentSummary, RpcError> {
    let patient = matricule("patient", &p.patient)?;
    unique_id("unique_id", &p.unique_id)?;
    let session = card_session(core)?;
    let professional = session.professional.ehealth_id.clone();
    let result = core
        .platform
        .current()
        .set_mode(&session.assertion, &patient, &p.unique_id, p.mode)
        .await
        .map_err(platform_error);
    let mut record = audit_record(
        AuditAction::DocumentSetMode,
        &result,
        Some(&professional),
        Some(&patient.as_digits()),
        Some(&p.unique_id),
    );
    record.mode = Some(p.mode);
    audit(core, record);
    result
}

async fn list(core: &Core, _: ConnectionContext, p: ListParams) -> Result<DocumentList, RpcError> {
    let patient = matricule("patient", &p.patient)?;
    let session = card_session(core)?;
    let professional = session.professional.ehealth_id.clone();
    let query = ListParams {
        patient: patient.as_digits(),
        since_last_visit: false,
        mine_in_visite_annonce: false,
        include_deprecated: p.include_deprecated,
    };
    let result = core
        .platform
        .current()
        .list(&session.assertion, &patient, &query)
        .await
        .map_err(platform_error);
    audit(
        core,
        audit_record(
            AuditAction::DocumentList,
            &result,
            Some(&professional),
            Some(&patient.as_digits()),
            None,
        ),
    );
    let mut documents = result?;
    let previous_visit = core.visits.visit(&professional, &patient.as_digits());
    if p.since_last_visit
        && let Some(previous) = previous_visit
    {
        documents.retain(|d| {
            let registered = d.submission_time.as_deref().unwrap_or(&d.creation_time);
            OffsetDateTime::parse(registered, &Rfc3339).map_or(true, |t| t > previous)
        });
    }
    if p.mine_in_visite_annonce {
        documents.retain(|d| {
            d.author.ehealth_id == professional && d.mode == ConfidentialityMode::VisiteAnnonce
        });
    }
    Ok(DocumentList {
        patient: patient.as_digits(),
        documents,
    })
}

/// The file `document.get` writes: absolute, not there yet, in an existing folder.
fn output_path(path: &str) -> Result<PathBuf, RpcError> {
    let path = PathBuf::from(path);
    let bad = |why: &str| {
        RpcError::new(
            ErrorCode::BadOutputPath,
            format!("'{}' {why}", path.display()),
        )
        .with_field("path")
    };
    if !path.is_absolute() {
        return Err(
            bad("is not an absolute path").with_hint("give the full path of the file to create")
        );
    }
    if path.symlink_metadata().is_ok() {
        return Err(bad("already exists; the daemon never overwrites a file")
            .with_hint("choose a new file name"));
    }
    match path.parent() {
        Some(parent) if parent.is_dir() => Ok(path),
        _ => Err(bad("is not in an existing folder")),
    }
}

async fn get_to_path(
    core: &Core,
    _: ConnectionContext,
    p: GetParams,
) -> Result<Retrieved, RpcError> {
    let patient = matricule("patient", &p.patient)?;
    unique_id("unique_id", &p.unique_id)?;
    let path = output_path(&p.path)?;
    let session = card_session(core)?;
    let professional = session.professional.ehealth_id.clone();
    let result = retrieve_into_file(core, &session, &patient, &p.unique_id, &path).await;
    audit(
        core,
        audit_record(
            AuditAction::DocumentGet,
            &result,
            Some(&professional),
            Some(&patient.as_digits()),
            Some(&p.unique_id),
        ),
    );
    result
}

async fn retrieve_into_file(
    core: &Core,
    session: &ActiveSession,
    patient: &Matricule,
    unique_id: &str,
    path: &Path,
) -> Result<Retrieved, RpcError> {
    let io_error = |what: &str, e: std::io::Error| {
        RpcError::new(ErrorCode::Io, format!("{what} {}: {e}", path.display())).with_field("path")
    };
    let file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .await
        .map_err(|e| io_error("cannot create", e))?;
    let mut sink = tokio::io::BufWriter::new(file);
    let outcome = core
        .platform
        .current()
        .retrieve_to(&session.assertion, patient, unique_id, &mut sink)
        .await
        .map_err(platform_error);
    let finished = match outcome {
        Ok(info) => {
            use tokio::io::AsyncWriteExt as _;
            match sink.flush().await {
                Ok(()) => match sink.get_ref().sync_all().await {
                    Ok(()) => Ok(info),
                    Err(e) => Err(io_error("cannot write", e)),
                },
                Err(e) => Err(io_error("cannot write", e)),
            }
        }
        Err(e) => Err(e),
    };
    match finished {
        Ok(info) => Ok(Retrieved {
            path: path.display().to_string(),
            size: info.size,
            sha256: info.sha256,
            mime_type: info.mime_type,
        }),
        Err(e) => {
            // Nothing half-written stays behind under the caller's name.
            drop(sink);
            let _ = tokio::fs::remove_file(path).await;
            Err(e)
        }
    }
}

async fn open_read(
    core: &Core,
    _: ConnectionContext,
    p: OpenReadParams,
) -> Result<ReadHandle, RpcError> {
    let patient = matricule("patient", &p.patient)?;
    unique_id("unique_id", &p.unique_id)?;
    let session = card_session(core)?;
    let professional = session.professional.ehealth_id.clone();
    let mut sink = LimitedBuffer::default();
    let result = core
        .platform
        .current()
        .retrieve_to(&session.assertion, &patient, &p.unique_id, &mut sink)
        .await
        .map_err(|e| {
            if sink.overflowed {
                RpcError::new(
                    ErrorCode::FileTooLarge,
                    format!(
                        "the document is larger than {} MiB, too large to read in chunks",
                        reads::MAX_OPEN_READ_BYTES / (1024 * 1024)
                    ),
                )
                .with_hint("retrieve it into a file with document.get")
            } else {
                platform_error(e)
            }
        });
    audit(
        core,
        audit_record(
            AuditAction::DocumentGet,
            &result,
            Some(&professional),
            Some(&patient.as_digits()),
            Some(&p.unique_id),
        ),
    );
    let info = result?;
    core.reads
        .open(std::mem::take(&mut sink.data), info.mime_type)
}

/// Collects a retrieved document in memory, refusing past the limit.
#[derive(Default)]
struct LimitedBuffer {
    data: Vec<u8>,
    overflowed: bool,
}

impl tokio::io::AsyncWrite for LimitedBuffer {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        if self.data.len() as u64 + buf.len() as u64 > reads::MAX_OPEN_READ_BYTES {
            self.overflowed = true;
            return std::task::Poll::Ready(Err(std::io::Error::other(
                "document too large to read in chunks",
            )));
        }
        self.data.extend_from_slice(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

impl Drop for LimitedBuffer {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.data);
    }
}

async fn read_chunk(
    core: &Core,
    _: ConnectionContext,
    p: ReadChunkParams,
) -> Result<Chunk, RpcError> {
    core.reads.chunk(&p.read_id, p.offset, p.length)
}

async fn close_read(core: &Core, _: ConnectionContext, p: ReadRef) -> Result<Empty, RpcError> {
    core.reads.close(&p.read_id).map(|()| Empty {})
}

async fn open_dsp(core: &Core, _: ConnectionContext, p: OpenDspParams) -> Result<DspUrl, RpcError> {
    let patient = matricule("patient", &p.patient)?;
    let session = card_session(core)?;
    let professional = session.professional.ehealth_id.clone();
    let result = core
        .platform
        .current()
        .portal_ticket(&session.assertion, &patient)
        .await
        .map_err(platform_error);
    audit(
        core,
        audit_record(
            AuditAction::DspOpen,
            &result,
            Some(&professional),
            Some(&patient.as_digits()),
            None,
        ),
    );
    let ticket = result?;
    let url = ticket.url().to_owned();
    let browser_launched = p.launch_browser
        && match browser::launch(&url) {
            Ok(()) => true,
            Err(reason) => {
                tracing::warn!(%reason, "the browser could not be opened; the caller has the URL");
                false
            }
        };
    Ok(DspUrl {
        url,
        expires_at: ticket.expires_at(),
        browser_launched,
    })
}

async fn report_anomaly(
    core: &Core,
    _: ConnectionContext,
    p: ReportAnomalyParams,
) -> Result<AnomalyReported, RpcError> {
    let patient = matricule("patient", &p.patient)?;
    unique_id("unique_id", &p.unique_id)?;
    let description = p.description.trim();
    if description.is_empty() || description.len() > 4000 {
        return Err(RpcError::new(
            ErrorCode::InvalidArgument,
            "the description must say what is wrong, in 1 to 4000 characters",
        )
        .with_field("description"));
    }
    let session = card_session(core)?;
    let professional = session.professional.ehealth_id.clone();
    let result = core
        .platform
        .current()
        .report_anomaly(&session.assertion, &patient, &p.unique_id, description)
        .await
        .map_err(platform_error);
    audit(
        core,
        audit_record(
            AuditAction::AnomalyReport,
            &result,
            Some(&professional),
            Some(&patient.as_digits()),
            Some(&p.unique_id),
        ),
    );
    result
}

async fn hpd_lookup(
    core: &Core,
    _: ConnectionContext,
    p: HpdLookupParams,
) -> Result<HpdResult, RpcError> {
    if p.ehealth_id.as_deref().is_none_or(str::is_empty)
        && p.name.as_deref().is_none_or(|n| n.trim().len() < 2)
    {
        return Err(RpcError::new(
            ErrorCode::InvalidArgument,
            "give an eHealth id, or at least two letters of a name",
        )
        .with_field("name"));
    }
    let session = any_session(core)?;
    let professional = session.professional.ehealth_id.clone();
    let result = core
        .platform
        .current()
        .hpd_lookup(&session.assertion, &p)
        .await
        .map_err(platform_error);
    audit(
        core,
        audit_record(
            AuditAction::HpdLookup,
            &result,
            Some(&professional),
            None,
            None,
        ),
    );
    result
}

/// The most lines `log.tail` answers.
const MAX_TAIL_LINES: u32 = 1000;

async fn log_tail(
    core: &Core,
    _: ConnectionContext,
    p: LogTailParams,
) -> Result<LogLines, RpcError> {
    if p.lines == 0 || p.lines > MAX_TAIL_LINES {
        return Err(RpcError::new(
            ErrorCode::InvalidArgument,
            format!(
                "lines must be between 1 and {MAX_TAIL_LINES}, not {}",
                p.lines
            ),
        )
        .with_field("lines"));
    }
    let audit = core.audit.clone();
    let lines = tokio::task::spawn_blocking(move || audit.tail(p.lines as usize))
        .await
        .map_err(|e| RpcError::new(ErrorCode::Internal, e.to_string()))?
        .map_err(|e| RpcError::new(e.code(), e.to_string()))?;
    Ok(LogLines { lines })
}
