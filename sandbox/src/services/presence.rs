//! `dsp:PresenceCodeAccessRequest`: a professional presents the patient's
//! code de présence; if the policy lets them (not black-listed, card
//! session, in the HPD) and the code is valid, it is spent at once and
//! exchanged for a consultation grant (policy.md, "Presence code"). The
//! client keeps the grant, never the code (charter: « sans conserver les
//! éléments de connexion fournis par le patient … (code de présence) »).

use dspconnect::model::PresenceCode;
use ihe::xml::Element;

use super::envelope::{Fields, dsp, dsp_text, internal, xs_date_time};
use super::{Call, log_access, patient_id, refusal};
use crate::policy::{Operation, decide};
use crate::soap_service::SandboxFault;
use crate::store::{PresenceCodeRedemption, StoreError};

pub(super) fn present(call: &Call<'_>, payload: &Element) -> Result<Element, SandboxFault> {
    let fields = Fields::of(payload, &["PatientId", "PresenceCode"])?;
    let patient = patient_id(&fields.required("PatientId")?)?;
    let mut typed = fields.secret("PresenceCode")?;
    let subject = call.subject()?;
    let professional = call.ehealth_id()?;
    let invalid = || {
        SandboxFault::sender(
            "PresenceCodeInvalid",
            "this is not a code de présence of this patient: ask the patient for the code \
             shown in their portal",
        )
    };

    let store = call.ctx.store();
    // An unknown patient is answered like a wrong code: whether a DSP exists
    // is not told to whoever tries codes.
    let facts = match store.facts_for(&subject, &patient, None, call.now) {
        Ok(facts) => facts,
        Err(StoreError::NotFound { .. }) => return Err(invalid()),
        Err(e) => return Err(internal("reading the patient's consents", e)),
    };
    let decision = decide(&facts, Operation::PresentPresenceCode);
    if !decision.is_allowed() {
        log_access(call, &patient, &subject, &decision, None)?;
        return Err(refusal(&decision, &facts));
    }
    let code = PresenceCode::new(std::mem::take(&mut *typed)).map_err(|_| invalid())?;
    let lifetime = time::Duration::try_from(call.ctx.config().consultation_grant_lifetime)
        .map_err(|e| internal("reading the consultation grant lifetime", e))?;
    let redemption = store
        .redeem_presence_code(&patient, code.expose(), &professional, call.now, lifetime)
        .map_err(|e| internal("spending the code de présence", e))?;
    let grant = match redemption {
        PresenceCodeRedemption::Granted(grant) => grant,
        PresenceCodeRedemption::Invalid => return Err(invalid()),
        PresenceCodeRedemption::Spent => {
            return Err(SandboxFault::sender(
                "PresenceCodeSpent",
                "this code de présence was already presented; a code is used once: ask the \
                 patient for a new one",
            ));
        }
        PresenceCodeRedemption::Expired => {
            return Err(SandboxFault::sender(
                "PresenceCodeExpired",
                "this code de présence has expired: ask the patient for a new one",
            ));
        }
    };
    log_access(call, &patient, &subject, &decision, None)?;
    tracing::info!(
        ehealth_id = %professional,
        grant_id = %grant.id,
        not_on_or_after = %grant.not_on_or_after,
        "code de présence spent for a consultation grant"
    );
    Ok(dsp("PresenceCodeAccessResponse")
        .with_child(dsp_text("GrantId", grant.id.clone()))
        .with_child(dsp_text(
            "PatientId",
            format!(
                "{}^^^&{}&ISO",
                grant.patient,
                dspconnect::model::MATRICULE_AUTHORITY_OID
            ),
        ))
        .with_child(dsp_text(
            "NotOnOrAfter",
            xs_date_time(grant.not_on_or_after)?,
        )))
}
