//! `dsp:AnomalyReportRequest`: « signaler au gestionnaire » an anomaly in a
//! document, allowed to a professional the policy lets report on it (any
//! professional who can read it).

use ihe::xml::Element;

use super::envelope::{Fields, dsp, dsp_text, internal, malformed};
use super::{Call, log_access, patient_id, refusal};
use crate::policy::{Operation, decide};
use crate::soap_service::SandboxFault;
use crate::store::StoreError;

/// Longest description accepted.
pub const MAX_DESCRIPTION_CHARS: usize = 4000;

pub(super) fn report(call: &Call<'_>, payload: &Element) -> Result<Element, SandboxFault> {
    let fields = Fields::of(payload, &["PatientId", "DocumentUniqueId", "Description"])?;
    let patient = patient_id(&fields.required("PatientId")?)?;
    let unique_id = fields.required("DocumentUniqueId")?;
    let description = fields.required("Description")?;
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(malformed(format!(
            "dsp:Description has more than {MAX_DESCRIPTION_CHARS} characters"
        )));
    }
    let subject = call.subject()?;
    let reporter = call.ehealth_id()?;
    let unknown = || {
        SandboxFault::sender(
            "UnknownDocument",
            format!("no document with uniqueId '{unique_id}' in this patient's DSP"),
        )
    };

    let store = call.ctx.store();
    let document = store
        .document_by_unique_id(&unique_id)
        .map_err(|e| internal("reading the registry", e))?
        .filter(|d| d.patient == patient)
        .ok_or_else(unknown)?;
    let facts = match store.facts_for(&subject, &patient, Some(&document.entry_uuid), call.now) {
        Ok(facts) => facts,
        Err(StoreError::NotFound { .. }) => return Err(unknown()),
        Err(e) => return Err(internal("reading the patient's consents", e)),
    };
    let decision = decide(&facts, Operation::ReportAnomaly);
    log_access(
        call,
        &patient,
        &subject,
        &decision,
        Some(&document.entry_uuid),
    )?;
    if !decision.is_allowed() {
        return Err(refusal(&decision, &facts));
    }
    let report_id = store
        .add_anomaly_report(&document.entry_uuid, &reporter, &description, call.now)
        .map_err(|e| internal("recording the anomaly report", e))?;
    tracing::info!(
        ehealth_id = %reporter,
        report_id,
        entry_uuid = %document.entry_uuid,
        "anomaly reported"
    );
    Ok(dsp("AnomalyReportResponse").with_child(dsp_text("ReportId", report_id.to_string())))
}
