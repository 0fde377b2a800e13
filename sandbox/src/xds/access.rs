//! The XDS transactions' way to the policy engine: gather the facts, let
//! [`crate::policy::decide`] answer, write the access trail, and turn a
//! refusal into a `RegistryError` that cites the rule.

use ihe::xds::{RegistryError, XdsErrorCode};
use time::format_description::well_known::Rfc3339;

use super::XdsService;
use super::call::Call;
use super::error_code;
use crate::policy::{self, Decision, Facts, Operation, Outcome, PatientId, Role, rules};
use crate::store::{NewAccess, StoreError};

/// A decision with the facts it was taken on.
pub(crate) struct Verdict {
    pub decision: Decision,
    pub facts: Facts,
}

impl Verdict {
    pub(crate) fn is_allowed(&self) -> bool {
        self.decision.is_allowed()
    }
}

/// Decides `operation` by the caller on `patient`'s DSP (and the entry
/// `entry_uuid`, for operations on a document).
pub(crate) fn decide(
    service: &XdsService,
    call: &Call,
    patient: &PatientId,
    entry_uuid: Option<&str>,
    operation: Operation,
) -> Result<Verdict, StoreError> {
    let now = service.context.clock().now();
    let facts = service
        .context
        .store()
        .facts_for(&call.subject, patient, entry_uuid, now)?;
    let decision = policy::decide(&facts, operation);
    Ok(Verdict { decision, facts })
}

/// Writes the decision to the patient's access trail.
pub(crate) fn record(
    service: &XdsService,
    call: &Call,
    patient: &PatientId,
    decision: &Decision,
    entry_uuid: Option<&str>,
) -> Result<(), StoreError> {
    service.context.store().record_access(&NewAccess {
        at: service.context.clock().now(),
        patient,
        subject: &call.subject,
        decision,
        entry_uuid,
    })?;
    Ok(())
}

/// The `RegistryError` of a refusal: `DSPModeUnchanged` for a change to
/// the same mode, `DSPGrantExpired` when the only thing missing is a
/// consultation grant that has expired, `DSPAccessDenied` otherwise. The
/// `codeContext` starts with the rule id.
pub(crate) fn refusal(verdict: &Verdict, location: Option<String>) -> RegistryError {
    let decision = &verdict.decision;
    let rule = decision.rule;
    let (code, context) = match decision.outcome {
        Outcome::AlreadyInMode => (
            error_code::MODE_UNCHANGED,
            format!("{}: {} ({})", rule.id, decision.reason(), rule.citation()),
        ),
        _ => match expired_grant(verdict) {
            Some(expired) => (
                error_code::GRANT_EXPIRED,
                format!(
                    "{}: your consultation grant for this patient expired at {expired}; \
                     present a new code de présence ({})",
                    rule.id,
                    rule.citation()
                ),
            ),
            None => (
                error_code::ACCESS_DENIED,
                format!("{}: {} ({})", rule.id, decision.reason(), rule.citation()),
            ),
        },
    };
    RegistryError::error(XdsErrorCode::Other(code.to_owned()), context, location)
}

/// When the refusal is the absence of a care relation and the caller held
/// a consultation grant for this patient that has expired: its expiry.
fn expired_grant(verdict: &Verdict) -> Option<String> {
    let facts = &verdict.facts;
    if verdict.decision.rule.id != rules::NO_CARE_RELATION.id
        || verdict.decision.roles.contains(Role::PresenceCode)
    {
        return None;
    }
    let professional = facts.subject.professional_id()?;
    facts
        .grants
        .iter()
        .filter(|grant| {
            &grant.professional == professional
                && grant.patient == facts.relations.patient
                && grant.not_on_or_after <= facts.now
        })
        .map(|grant| grant.not_on_or_after)
        .max()
        .map(|at| at.format(&Rfc3339).unwrap_or_else(|_| at.to_string()))
}

/// The `RegistryError` of a store failure (logged; the caller may retry).
pub(crate) fn store_failure(error: &StoreError, code: XdsErrorCode) -> RegistryError {
    tracing::error!(%error, "XDS store failure");
    RegistryError::error(
        code,
        format!("the sandbox's store failed: {error}; try again"),
        None,
    )
}
