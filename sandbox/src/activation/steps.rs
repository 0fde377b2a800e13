//! The two steps of an activation (or a reset): checking the letter and the
//! card, e-mailing the confirmation code, then binding the card and setting
//! the password.

use axum::response::Response;
use dspconnect::model::{ActivationCode, EmailConfirmationCode, Matricule, Password};
use ihe::xml::Element;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::{ACTION_PREFIX, EMAIL_CODE_LIFETIME};
use crate::idp::card_request::CardRequest;
use crate::policy::ProfessionalStatus;
use crate::server::SandboxContext;
use crate::services::envelope::{
    Fields, check_action, dsp, dsp_text, internal, malformed, reply, xs_date_time,
};
use crate::soap_service::SandboxFault;
use crate::store::{ActivationLetter, EmailCodeCheck, LetterCheck, ProfessionalRecord, StoreError};

/// Subject of the confirmation e-mail.
pub const EMAIL_SUBJECT: &str =
    "SANDBOX — eSanté : code de confirmation de l'activation / activation confirmation code";
/// Longest e-mail address accepted (RFC 5321 path limit).
const MAX_EMAIL_CHARS: usize = 254;

/// Step 1: `dsp:ActivationRequest`.
pub(super) fn start(
    ctx: &SandboxContext,
    request: &CardRequest,
    payload: &Element,
    now: OffsetDateTime,
) -> Result<Response, SandboxFault> {
    let addressing = request.envelope.addressing();
    check_action(addressing, &format!("{ACTION_PREFIX}Activation"))?;
    let fields = Fields::of(payload, &["ActivationCode", "Matricule", "Email"])?;
    let reset = is_reset(payload)?;
    let email = checked_email(&fields.required("Email")?)?;
    let (letter, professional) = checked_letter(ctx, request, &fields, reset, now)?;

    let store = ctx.store();
    let fingerprint = request.certificate.fingerprint.to_string();
    let code = store
        .start_email_confirmation(letter.id, &email, &fingerprint, now, EMAIL_CODE_LIFETIME)
        .map_err(|e| internal("starting the e-mail confirmation", e))?;
    let not_on_or_after = xs_date_time(now + EMAIL_CODE_LIFETIME)?;
    let body = Zeroizing::new(format!(
        "SANDBOX — nothing issued here is valid on the real platform.\n\n\
         Agence eSanté (sandbox) — {what}\n\n\
         Votre code de confirmation : {code}\n\
         Your confirmation code: {code}\n\n\
         Valable jusqu'au / valid until {not_on_or_after} ({minutes} minutes).\n\
         Si vous n'avez pas demandé ce code, ignorez ce message. \
         If you did not ask for this code, ignore this message.\n",
        what = if reset {
            "réinitialisation de votre accès / access reset"
        } else {
            "activation de votre compte / account activation"
        },
        code = code.as_str(),
        minutes = EMAIL_CODE_LIFETIME.whole_minutes(),
    ));
    store
        .queue_mail(&email, EMAIL_SUBJECT, &body, now)
        .map_err(|e| internal("queueing the confirmation e-mail", e))?;
    tracing::info!(
        ehealth_id = %professional.ehealth_id,
        reset,
        serial = %request.certificate.serial,
        "activation started: confirmation code put in the mail outbox"
    );
    Ok(reply(
        &format!("{ACTION_PREFIX}ActivationResponse"),
        addressing,
        dsp("ActivationResponse")
            .with_child(dsp_text("EmailSentTo", masked_email(&email)))
            .with_child(dsp_text("NotOnOrAfter", not_on_or_after)),
    ))
}

/// Step 2: `dsp:ActivationConfirmRequest`.
pub(super) fn confirm(
    ctx: &SandboxContext,
    request: &CardRequest,
    payload: &Element,
    now: OffsetDateTime,
) -> Result<Response, SandboxFault> {
    let addressing = request.envelope.addressing();
    check_action(addressing, &format!("{ACTION_PREFIX}ActivationConfirm"))?;
    let fields = Fields::of(
        payload,
        &["ActivationCode", "Matricule", "EmailCode", "NewPassword"],
    )?;
    let reset = is_reset(payload)?;
    let (letter, professional) = checked_letter(ctx, request, &fields, reset, now)?;

    let mut new_password = fields.secret("NewPassword")?;
    let password = Password::new(std::mem::take(&mut *new_password))
        .map_err(|e| SandboxFault::sender("WeakPassword", e.to_string()))?;
    let mut typed_code = fields.secret("EmailCode")?;
    let email_code = EmailConfirmationCode::new(std::mem::take(&mut *typed_code))
        .map_err(|e| SandboxFault::sender("EmailCodeInvalid", e.to_string()))?;

    let store = ctx.store();
    let certificate = &request.certificate;
    let fingerprint = certificate.fingerprint.to_string();
    let check = store
        .check_email_confirmation(letter.id, email_code.expose(), &fingerprint, now)
        .map_err(|e| internal("checking the e-mail code", e))?;
    let email_code_id = match check {
        EmailCodeCheck::Valid { email_code_id, .. } => email_code_id,
        EmailCodeCheck::NotStarted => {
            return Err(SandboxFault::sender(
                "EmailCodeInvalid",
                "no confirmation code was e-mailed for this letter: send dsp:ActivationRequest first",
            ));
        }
        EmailCodeCheck::Invalid { attempts_left } => {
            return Err(SandboxFault::sender(
                "EmailCodeInvalid",
                format!(
                    "the e-mail confirmation code is wrong; {attempts_left} more tries before it is void"
                ),
            ));
        }
        EmailCodeCheck::Expired | EmailCodeCheck::Used => {
            return Err(SandboxFault::sender(
                "EmailCodeExpired",
                "the e-mail confirmation code has expired, was used, or was tried wrongly too \
                 often: ask for a new one with dsp:ActivationRequest",
            ));
        }
        EmailCodeCheck::OtherCard => {
            return Err(SandboxFault::sender(
                "CardChanged",
                "this confirmation is signed with another card than the activation request: \
                 sign both steps with the same card",
            ));
        }
    };

    // Each write below can be repeated: a confirmation interrupted halfway
    // is completed by sending it again.
    let id = &professional.ehealth_id;
    let bound = store
        .card_binding(&certificate.fingerprint)
        .map_err(|e| internal("reading the card bindings", e))?;
    if bound.is_none() {
        match store.bind_card_certificate(
            id,
            &certificate.fingerprint,
            Some(&certificate.serial),
            now,
        ) {
            Ok(()) | Err(StoreError::AlreadyExists { .. }) => {}
            Err(e) => return Err(internal("binding the card", e)),
        }
    }
    store
        .set_professional_password(id, password.expose())
        .map_err(|e| internal("setting the password", e))?;
    if professional.status != ProfessionalStatus::Active {
        store
            .set_professional_status(id, ProfessionalStatus::Active)
            .map_err(|e| internal("activating the account", e))?;
    }
    let used = |result: Result<(), StoreError>, doing: &str| match result {
        Ok(()) => Ok(()),
        // Another confirmation of the same letter finished first.
        Err(StoreError::NotFound { .. }) => Err(SandboxFault::sender(
            "ActivationCodeUsed",
            "this letter was used by another confirmation at the same time",
        )),
        Err(e) => Err(internal(doing, e)),
    };
    used(
        store.mark_email_code_used(email_code_id, now),
        "using the e-mail code",
    )?;
    used(
        store.mark_activation_letter_used(letter.id, now),
        "using the letter",
    )?;
    tracing::info!(
        ehealth_id = %id,
        reset,
        serial = %certificate.serial,
        fingerprint = %certificate.fingerprint,
        "account activated: card bound, password set"
    );
    Ok(reply(
        &format!("{ACTION_PREFIX}ActivationConfirmResponse"),
        addressing,
        dsp("ActivationConfirmResponse").with_child(dsp_text("EHealthId", id.as_str())),
    ))
}

/// `purpose="reset"`, or no purpose (a first activation).
fn is_reset(payload: &Element) -> Result<bool, SandboxFault> {
    match payload.attr("purpose") {
        None => Ok(false),
        Some("reset") => Ok(true),
        Some(other) => Err(malformed(format!(
            "purpose '{other}' is not known; it is 'reset' (after a loss of credentials) or absent"
        ))),
    }
}

/// The letter these fields name, and its professional, who must be the
/// holder of the signing card and in a state this step applies to.
fn checked_letter(
    ctx: &SandboxContext,
    request: &CardRequest,
    fields: &crate::services::envelope::Fields<'_>,
    reset: bool,
    now: OffsetDateTime,
) -> Result<(ActivationLetter, ProfessionalRecord), SandboxFault> {
    let mut typed = fields.secret("ActivationCode")?;
    let code = ActivationCode::new(std::mem::take(&mut *typed))
        .map_err(|e| SandboxFault::sender("ActivationCodeInvalid", e.to_string()))?;
    let matricule_text = fields.required("Matricule")?;
    let matricule: Matricule = matricule_text.parse().map_err(|e| {
        malformed(format!(
            "dsp:Matricule '{matricule_text}' is not a matricule: {e}"
        ))
    })?;
    let store = ctx.store();
    let check = store
        .check_activation_letter(&matricule.as_digits(), code.expose(), now)
        .map_err(|e| internal("checking the activation letter", e))?;
    let letter = match check {
        LetterCheck::Valid(letter) => letter,
        LetterCheck::CodeInvalid => {
            return Err(SandboxFault::sender(
                "ActivationCodeInvalid",
                "the activation code is not the one of an Agence letter: check it against the letter",
            ));
        }
        LetterCheck::MatriculeMismatch => {
            return Err(SandboxFault::sender(
                "MatriculeMismatch",
                "the activation code belongs to a letter for another matricule: type your own \
                 matricule, as on your social-security card",
            ));
        }
        LetterCheck::Expired => {
            return Err(SandboxFault::sender(
                "ActivationCodeExpired",
                "the letter's activation code has expired: ask the Agence eSanté for a new letter",
            ));
        }
        LetterCheck::Used => {
            return Err(SandboxFault::sender(
                "ActivationCodeUsed",
                "this letter was already used: ask the Agence eSanté for a new letter to reset \
                 your access",
            ));
        }
    };
    let professional = store
        .professional(&letter.ehealth_id)
        .map_err(|e| internal("reading the HPD", e))?
        .ok_or_else(|| {
            internal(
                "reading the HPD",
                format!(
                    "the letter names {}, who is not in the HPD",
                    letter.ehealth_id
                ),
            )
        })?;
    match professional.status {
        ProfessionalStatus::Active if !reset => {
            return Err(SandboxFault::sender(
                "AlreadyActive",
                format!(
                    "the account of {} is already active; to reset lost credentials, send the \
                     request with purpose=\"reset\"",
                    professional.ehealth_id
                ),
            ));
        }
        ProfessionalStatus::Deactivated => {
            return Err(SandboxFault::sender(
                "ProfessionalNotActive",
                format!(
                    "the account of {} was deactivated by the Agence eSanté",
                    professional.ehealth_id
                ),
            ));
        }
        ProfessionalStatus::Active | ProfessionalStatus::PendingActivation => {}
    }
    let certificate = &request.certificate;
    if certificate.ehealth_id != professional.ehealth_id.as_str() {
        return Err(SandboxFault::sender(
            "CardHolderMismatch",
            format!(
                "the letter is for {} but the request is signed with the card of {}: use your \
                 own LuxTrust card",
                professional.ehealth_id, certificate.ehealth_id
            ),
        ));
    }
    let binding = store
        .card_binding(&certificate.fingerprint)
        .map_err(|e| internal("reading the card bindings", e))?;
    if let Some(binding) = binding {
        if binding.ehealth_id != professional.ehealth_id {
            return Err(SandboxFault::sender(
                "CardHolderMismatch",
                format!("this card is bound to {}", binding.ehealth_id),
            ));
        }
        if binding.revoked {
            return Err(SandboxFault::sender(
                "CertificateRevoked",
                "this card was deactivated: activate with a new card",
            ));
        }
    }
    Ok((letter, professional))
}

/// An e-mail address as a person types it: one `@`, something on each
/// side, no spaces or control characters.
fn checked_email(text: &str) -> Result<String, SandboxFault> {
    let bad = |why: &str| {
        malformed(format!(
            "dsp:Email '{text}' is not an e-mail address: {why}"
        ))
    };
    if text.chars().count() > MAX_EMAIL_CHARS {
        return Err(bad("it is longer than 254 characters"));
    }
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("it contains a space or a control character"));
    }
    match text.split_once('@') {
        Some((local, domain))
            if !local.is_empty() && !domain.is_empty() && !domain.contains('@') =>
        {
            Ok(text.to_owned())
        }
        _ => Err(bad(
            "it needs exactly one '@' with a name before it and a domain after it",
        )),
    }
}

/// `a***@example.org`: enough for the professional to recognise the
/// address, not enough to harvest it.
fn masked_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_checked_and_masked() {
        assert_eq!(
            checked_email("luc.wagner@sandbox.invalid").unwrap(),
            "luc.wagner@sandbox.invalid"
        );
        for bad in [
            "",
            "luc",
            "@x",
            "luc@",
            "a@b@c",
            "luc wagner@x.lu",
            "l\u{7}@x",
        ] {
            assert_eq!(
                checked_email(bad).unwrap_err().subcode,
                "Malformed",
                "{bad}"
            );
        }
        assert_eq!(
            masked_email("luc.wagner@sandbox.invalid"),
            "l***@sandbox.invalid"
        );
    }
}
