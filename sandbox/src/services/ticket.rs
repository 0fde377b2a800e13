//! `dsp:PortalTicketRequest`: a one-time URL, valid 2 minutes, that opens
//! the patient's DSP page in the browser for this professional. Issued to
//! any professional of the HPD in a card session; the page itself lists only
//! what the policy lets them see. The ticket is a bearer secret: only its
//! hash is stored, and it is never logged.

use ihe::xml::Element;
use zeroize::Zeroizing;

use super::envelope::{Fields, dsp, dsp_text, internal, xs_date_time};
use super::{Call, PORTAL_TICKET_LIFETIME, patient_id};
use crate::policy::ProfessionalStatus;
use crate::soap_service::{AccessLevel, SandboxFault};

/// The portal path a ticket opens (served by the portal).
pub const PORTAL_OPEN_PATH: &str = "/portal/open";

pub(super) fn issue(call: &Call<'_>, payload: &Element) -> Result<Element, SandboxFault> {
    let fields = Fields::of(payload, &["PatientId"])?;
    let patient = patient_id(&fields.required("PatientId")?)?;
    if call.caller.access == AccessLevel::Limited {
        return Err(SandboxFault::sender(
            "PasswordSessionLimited",
            "a password session has limited access (account and directory only): log in with \
             your LuxTrust card to open a DSP",
        ));
    }
    let professional = call.ehealth_id()?;
    let store = call.ctx.store();
    let active = store
        .professional(&professional)
        .map_err(|e| internal("reading the HPD", e))?
        .is_some_and(|p| p.status == ProfessionalStatus::Active);
    if !active {
        return Err(SandboxFault::sender(
            "ProfessionalNotActive",
            format!("{professional} is not an active professional of the HPD"),
        ));
    }
    let known = store
        .patient(&patient)
        .map_err(|e| internal("reading the patients", e))?
        .is_some();
    if !known {
        return Err(SandboxFault::sender(
            "UnknownPatient",
            format!("no DSP for the patient {patient}"),
        ));
    }
    let ticket = store
        .issue_portal_ticket(&professional, &patient, call.now, PORTAL_TICKET_LIFETIME)
        .map_err(|e| internal("issuing a portal ticket", e))?;
    let url = Zeroizing::new(format!(
        "{}{PORTAL_OPEN_PATH}?ticket={}",
        call.ctx.base_url(),
        ticket.expose()
    ));
    tracing::info!(ehealth_id = %professional, "portal ticket issued");
    Ok(dsp("PortalTicketResponse")
        .with_child(dsp_text("Url", url.as_str()))
        .with_child(dsp_text(
            "NotOnOrAfter",
            xs_date_time(call.now + PORTAL_TICKET_LIFETIME)?,
        )))
}
