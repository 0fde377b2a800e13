//! The operations a password session may use too (charter: « avec des accès
//! limités »: account and directory only): looking professionals up in the
//! HPD, and changing one's password (« Ce dernier peut être modifié à tout
//! moment par le professionnel de santé »).

use dspconnect::model::Password;
use ihe::xml::Element;

use super::Call;
use super::envelope::{Fields, dsp, dsp_text, internal, malformed};
use crate::policy::{EHealthId, ProfessionalStatus};
use crate::soap_service::SandboxFault;
use crate::store::ProfessionalRecord;

/// Most professionals one lookup answers (`truncated="true"` beyond).
pub const MAX_LOOKUP_RESULTS: usize = 100;
/// Shortest name part searched for.
pub const MIN_NAME_PART_CHARS: usize = 2;

/// `dsp:HpdLookupRequest`: by eHealth id, by a part of the given or family
/// name, or both (both must match). Only active professionals are listed;
/// neither their matricule nor their e-mail is shown.
pub(super) fn lookup(call: &Call<'_>, payload: &Element) -> Result<Element, SandboxFault> {
    let fields = Fields::of(payload, &["EHealthId", "Name"])?;
    let by_id = fields.optional("EHealthId").filter(|s| !s.is_empty());
    let by_name = fields.optional("Name").filter(|s| !s.is_empty());
    let store = call.ctx.store();
    let mut found: Vec<ProfessionalRecord> = match (&by_id, &by_name) {
        (None, None) => {
            return Err(malformed(
                "dsp:HpdLookupRequest needs dsp:EHealthId, dsp:Name, or both",
            ));
        }
        (Some(id), _) => match EHealthId::new(id.clone()) {
            Ok(id) => store
                .professional(&id)
                .map_err(|e| internal("reading the HPD", e))?
                .into_iter()
                .collect(),
            // No eHealth id has that form, so nobody matches.
            Err(_) => Vec::new(),
        },
        (None, Some(name)) => {
            if name.chars().count() < MIN_NAME_PART_CHARS {
                return Err(malformed(format!(
                    "dsp:Name needs at least {MIN_NAME_PART_CHARS} characters"
                )));
            }
            store
                .search_professionals(name)
                .map_err(|e| internal("searching the HPD", e))?
        }
    };
    if let (Some(_), Some(name)) = (&by_id, &by_name) {
        let name = name.to_lowercase();
        found.retain(|p| {
            p.given_name.to_lowercase().contains(&name)
                || p.family_name.to_lowercase().contains(&name)
        });
    }
    found.retain(|p| p.status == ProfessionalStatus::Active);
    let truncated = found.len() > MAX_LOOKUP_RESULTS;
    let mut response = dsp("HpdLookupResponse");
    if truncated {
        response.set_attr("truncated", "true");
    }
    for professional in found.into_iter().take(MAX_LOOKUP_RESULTS) {
        let mut entry = dsp("Professional")
            .with_attr("ehealthId", professional.ehealth_id.as_str())
            .with_child(dsp_text("GivenName", professional.given_name))
            .with_child(dsp_text("FamilyName", professional.family_name))
            .with_child(dsp_text("Profession", professional.profession));
        if let Some(specialty) = professional.specialty {
            entry.push(dsp_text("Specialty", specialty));
        }
        response.push(entry);
    }
    Ok(response)
}

/// `dsp:PasswordChangeRequest`: the current password, then a new one that
/// follows the password policy and differs from it.
pub(super) fn change_password(call: &Call<'_>, payload: &Element) -> Result<Element, SandboxFault> {
    let fields = Fields::of(payload, &["OldPassword", "NewPassword"])?;
    let old = fields.secret("OldPassword")?;
    let mut typed = fields.secret("NewPassword")?;
    let id = call.ehealth_id()?;
    let store = call.ctx.store();
    let professional = store
        .professional(&id)
        .map_err(|e| internal("reading the HPD", e))?
        .ok_or_else(|| {
            SandboxFault::sender(
                "UnknownProfessional",
                format!("no professional '{id}' in the HPD"),
            )
        })?;
    let new = Password::new(std::mem::take(&mut *typed))
        .map_err(|e| SandboxFault::sender("WeakPassword", e.to_string()))?;
    let matches = store
        .check_professional_password(&professional.matricule, &old)
        .map_err(|e| internal("checking the password", e))?
        .is_some_and(|p| p.ehealth_id == id);
    if !matches {
        return Err(SandboxFault::sender(
            "WrongPassword",
            "the current password is wrong",
        ));
    }
    if new.expose() == old.as_str() {
        return Err(SandboxFault::sender(
            "WeakPassword",
            "the new password is the current one: choose another",
        ));
    }
    store
        .set_professional_password(&id, new.expose())
        .map_err(|e| internal("setting the password", e))?;
    tracing::info!(ehealth_id = %id, "password changed");
    Ok(dsp("PasswordChangeResponse"))
}
