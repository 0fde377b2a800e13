//! The DSP services at `/dsp/services` (`docs/platform-protocol.md`, "DSP
//! services"): SOAP 1.2 calls carrying the IdP's assertion (bearer) in
//! their Security header, dispatched on the payload element:
//!
//! | payload | what |
//! |---|---|
//! | `dsp:PresenceCodeAccessRequest` | spend a code de présence for a consultation grant (`presence.rs`) |
//! | `dsp:PortalTicketRequest` | a one-time URL to the patient's DSP page (`ticket.rs`) |
//! | `dsp:AnomalyReportRequest` | « signaler au gestionnaire » an anomaly in a document (`anomaly.rs`) |
//! | `dsp:HpdLookupRequest` | the HPD by eHealth id or name (`account.rs`) |
//! | `dsp:PasswordChangeRequest` | change one's password (`account.rs`) |
//!
//! Access decisions are the policy engine's ([`crate::policy::decide`]);
//! every decision about a patient's DSP is written to its access log.

mod account;
mod anomaly;
pub mod envelope;
mod presence;
mod ticket;

use axum::Router;
use axum::body::Bytes;
use axum::response::Response;
use axum::routing::post;
use dspconnect::model::Matricule;
use ihe::xml::ParseLimits;
use time::{Duration, OffsetDateTime};

use crate::policy::{Decision, EHealthId, Facts, PatientId, Subject, rules};
use crate::server::{Mount, MountError, SandboxContext};
use crate::soap_service::{AccessLevel, Caller, SandboxFault, authenticate_bearer};
use envelope::{DSP_NS, REQUEST_BODY_LIMIT, blocking, check_action, internal, malformed};

/// Where the DSP services listen.
pub const PATH: &str = "/dsp/services";
/// `wsa:Action` prefix: `…<Operation>` for a request, `…<Operation>Response`
/// for its answer.
pub const ACTION_PREFIX: &str = "urn:dspconnect:sandbox:dsp:";
/// How long a portal ticket can be redeemed.
pub const PORTAL_TICKET_LIFETIME: Duration = Duration::minutes(2);

/// The DSP services' routes.
pub fn mount(ctx: &SandboxContext) -> Result<Mount, MountError> {
    let ctx = ctx.clone();
    let router = Router::new().route(
        PATH,
        post(move |body: Bytes| {
            let ctx = ctx.clone();
            async move { blocking("dsp service", move || handle(&ctx, &body)).await }
        }),
    );
    Ok(Mount::new(router)
        .endpoint(
            "POST",
            PATH,
            "DSP services with the assertion: code de présence, portal ticket, anomaly report, \
             HPD lookup, password change",
        )
        .body_limit(REQUEST_BODY_LIMIT))
}

/// Who calls, and when.
pub(crate) struct Call<'a> {
    pub ctx: &'a SandboxContext,
    pub caller: Caller,
    pub now: OffsetDateTime,
}

impl Call<'_> {
    /// The caller as the policy sees them.
    pub fn subject(&self) -> Result<Subject, SandboxFault> {
        let id = self.ehealth_id()?;
        Ok(match self.caller.access {
            AccessLevel::Card => Subject::card(id),
            AccessLevel::Limited => Subject::password(id),
        })
    }

    pub fn ehealth_id(&self) -> Result<EHealthId, SandboxFault> {
        EHealthId::new(self.caller.ehealth_id.clone()).map_err(|e| {
            SandboxFault::sender("AssertionInvalid", format!("the assertion's subject: {e}"))
        })
    }
}

fn handle(ctx: &SandboxContext, body: &[u8]) -> Result<Response, SandboxFault> {
    let now = ctx.clock().now();
    let (caller, envelope) = authenticate_bearer(
        body,
        &ParseLimits::SOAP,
        ctx.pki().idp_signing().certificate_der(),
        now,
    )?;
    let payload = envelope.payload().map_err(|e| malformed(e.to_string()))?;
    if payload.ns.as_deref() != Some(DSP_NS) {
        return Err(malformed(format!(
            "the DSP services take dsp: requests ({DSP_NS}), not {{{}}}{}",
            payload.ns.as_deref().unwrap_or(""),
            payload.local
        )));
    }
    let operation = payload
        .local
        .strip_suffix("Request")
        .unwrap_or(&payload.local)
        .to_owned();
    check_action(
        envelope.addressing(),
        &format!("{ACTION_PREFIX}{operation}"),
    )?;
    let call = Call { ctx, caller, now };
    let answer = match operation.as_str() {
        "PresenceCodeAccess" => presence::present(&call, payload)?,
        "PortalTicket" => ticket::issue(&call, payload)?,
        "AnomalyReport" => anomaly::report(&call, payload)?,
        "HpdLookup" => account::lookup(&call, payload)?,
        "PasswordChange" => account::change_password(&call, payload)?,
        _ => {
            return Err(malformed(format!(
                "dsp:{} is not a DSP service; see docs/platform-protocol.md, \"DSP services\"",
                payload.local
            )));
        }
    };
    Ok(envelope::reply(
        &format!("{ACTION_PREFIX}{operation}Response"),
        envelope.addressing(),
        answer,
    ))
}

/// A patient's DSP, by its XDS patient id (CX).
pub(crate) fn patient_id(cx: &str) -> Result<PatientId, SandboxFault> {
    let matricule = Matricule::from_cx(cx).map_err(|e| malformed(format!("dsp:PatientId: {e}")))?;
    if matricule.is_legacy() {
        return Err(malformed(format!(
            "dsp:PatientId '{cx}' is an old 11-digit matricule; DSPs are opened with the 13-digit one"
        )));
    }
    Ok(PatientId::from_matricule(&matricule))
}

/// The fault of a refusal by the policy: `f:PasswordSessionLimited` for a
/// password session, `f:GrantExpired` when the only relationship the
/// professional had was a consultation grant that expired, `f:AccessDenied`
/// otherwise — each naming the rule and its citation.
pub(crate) fn refusal(decision: &Decision, facts: &Facts) -> SandboxFault {
    let subcode = if decision.rule == &rules::PASSWORD_SESSION {
        "PasswordSessionLimited"
    } else if decision.rule == &rules::NO_CARE_RELATION && holds_expired_grant(facts) {
        "GrantExpired"
    } else {
        "AccessDenied"
    };
    let reason = if subcode == "GrantExpired" {
        format!(
            "your consultation grant for this patient has expired: {}",
            decision.reason()
        )
    } else {
        decision.reason().to_owned()
    };
    SandboxFault::sender(subcode, reason)
        .with_detail("Rule", decision.rule.id)
        .with_detail("Citation", decision.rule.citation())
}

fn holds_expired_grant(facts: &Facts) -> bool {
    let Some(id) = facts.subject.professional_id() else {
        return false;
    };
    facts.grants.iter().any(|grant| {
        &grant.professional == id
            && grant.patient == facts.relations.patient
            && grant.not_on_or_after <= facts.now
    })
}

/// Writes a decision about `patient`'s DSP to its access log.
pub(crate) fn log_access(
    call: &Call<'_>,
    patient: &PatientId,
    subject: &Subject,
    decision: &Decision,
    entry_uuid: Option<&str>,
) -> Result<(), SandboxFault> {
    call.ctx
        .store()
        .record_access(&crate::store::NewAccess {
            at: call.now,
            patient,
            subject,
            decision,
            entry_uuid,
        })
        .map(|_| ())
        .map_err(|e| internal("writing the access log", e))
}
