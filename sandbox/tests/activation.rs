//! Activation and password reset end to end over HTTPS: both steps signed
//! by the card, the confirmation code read from the sandbox's mail outbox,
//! then a login with the newly bound card; and each wrong input refused with
//! its own subcode.

mod common;
mod platform;

use dspconnect_sandbox::activation::issue_reset_letter;
use dspconnect_sandbox::idp;
use dspconnect_sandbox::pki::{CardCredentials, Fingerprint, Validity};
use dspconnect_sandbox::policy::ProfessionalStatus;
use dspconnect_sandbox::soap_service::attribute;
use dspconnect_sandbox::store::demo::{
    DEMO_PENDING_ACTIVATION, DEMO_PHARMACIST, DEMO_PROFESSIONAL_PASSWORD, DEMO_REFERENT_GP,
};
use ihe::dsig::RsaSoftwareSigner;
use ihe::xml::Element;
use platform::*;
use time::Duration;

/// Luc Wagner's matricule (the professional pending activation).
const PENDING_MATRICULE: &str = "1981090309264";
const GP_MATRICULE: &str = "1972110504599";
const LUC_EMAIL: &str = "luc.wagner@sandbox.invalid";
const NEW_PASSWORD: &str = "Correct-Horse-7";

fn activation_request(code: &str, matricule: &str, email: &str) -> Element {
    dsp_request(
        "ActivationRequest",
        &[
            ("ActivationCode", code),
            ("Matricule", matricule),
            ("Email", email),
        ],
    )
}

fn confirm_request(code: &str, matricule: &str, email_code: &str, password: &str) -> Element {
    dsp_request(
        "ActivationConfirmRequest",
        &[
            ("ActivationCode", code),
            ("Matricule", matricule),
            ("EmailCode", email_code),
            ("NewPassword", password),
        ],
    )
}

fn reset(mut request: Element) -> Element {
    request.set_attr("purpose", "reset");
    request
}

/// The 8-digit code of the last e-mail to `recipient` in the mail outbox.
fn mailed_code(platform: &Platform, recipient: &str) -> String {
    let mails = platform.store().outbox(Some(recipient)).expect("outbox");
    let mail = mails.last().expect("an e-mail was sent");
    assert!(mail.subject.contains("SANDBOX"), "{}", mail.subject);
    mail.body
        .split(|c: char| !c.is_ascii_digit())
        .find(|word| word.len() == 8)
        .unwrap_or_else(|| panic!("no 8-digit code in {:?}", mail.body))
        .to_owned()
}

struct Pending {
    platform: Platform,
    letter: String,
    card: CardCredentials,
    signer: RsaSoftwareSigner,
}

/// A fresh sandbox, the pending professional's letter code and unbound card.
async fn pending() -> Pending {
    let mut platform = Platform::start().await;
    let letter = platform
        .sandbox
        .take_demo_activation_code()
        .expect("a first start issues the demo letter")
        .expose()
        .to_owned();
    let card = platform.card(DEMO_PENDING_ACTIVATION);
    let signer = signer(&card);
    Pending {
        platform,
        letter,
        card,
        signer,
    }
}

#[tokio::test]
async fn the_pending_professional_activates_and_logs_in_with_the_newly_bound_card() {
    let Pending {
        platform,
        letter,
        card,
        signer,
    } = pending().await;
    let pending_id = id(DEMO_PENDING_ACTIVATION);
    assert!(
        platform
            .store()
            .card_bindings_of(&pending_id)
            .unwrap()
            .is_empty()
    );
    platform
        .card_login(&signer, DEMO_PENDING_ACTIVATION)
        .await
        .assert_refused("ProfessionalNotActive");

    // Step 1: letter code, matricule, e-mail; signed by the card.
    let started = platform
        .activation(
            &signer,
            activation_request(&letter, PENDING_MATRICULE, LUC_EMAIL),
        )
        .await;
    assert_eq!(started.field("EmailSentTo"), "l***@sandbox.invalid");
    let until = started.field("NotOnOrAfter");
    let until = time::OffsetDateTime::parse(&until, &time::format_description::well_known::Rfc3339)
        .expect("xs:dateTime");
    assert!(until > platform.now() + Duration::minutes(29));
    let email_code = mailed_code(&platform, LUC_EMAIL);

    // Step 2: the e-mailed code and the new password, signed by the same card.
    let confirmed = platform
        .activation(
            &signer,
            confirm_request(&letter, PENDING_MATRICULE, &email_code, NEW_PASSWORD),
        )
        .await;
    assert_eq!(confirmed.field("EHealthId"), DEMO_PENDING_ACTIVATION);
    let record = platform.store().professional(&pending_id).unwrap().unwrap();
    assert_eq!(record.status, ProfessionalStatus::Active);
    let bindings = platform.store().card_bindings_of(&pending_id).unwrap();
    assert_eq!(bindings.len(), 1);
    assert_eq!(
        bindings[0].fingerprint,
        Fingerprint::of_der(&card.certificate_der).to_string()
    );

    // The newly bound card logs in; so does the new password.
    let assertion = platform
        .card_login(&signer, DEMO_PENDING_ACTIVATION)
        .await
        .assertion();
    assert_eq!(assertion.subject.value, DEMO_PENDING_ACTIVATION);
    assert_eq!(
        assertion.attribute(attribute::ACCESS_LEVEL).unwrap().values,
        ["card"]
    );
    platform
        .password_login(PENDING_MATRICULE, NEW_PASSWORD, DEMO_PENDING_ACTIVATION)
        .await;

    // The letter and the code are spent; the account is active.
    platform
        .activation(
            &signer,
            confirm_request(&letter, PENDING_MATRICULE, &email_code, NEW_PASSWORD),
        )
        .await
        .assert_refused("ActivationCodeUsed");
    let new_letter = issue_reset_letter(platform.store(), &pending_id, platform.now()).unwrap();
    platform
        .activation(
            &signer,
            activation_request(new_letter.expose(), PENDING_MATRICULE, LUC_EMAIL),
        )
        .await
        .assert_refused("AlreadyActive");
}

#[tokio::test]
async fn each_wrong_letter_input_is_refused_with_its_own_subcode() {
    let Pending {
        platform,
        letter,
        signer,
        ..
    } = pending().await;
    let start =
        |code: &str, matricule: &str, email: &str| activation_request(code, matricule, email);
    platform
        .activation(
            &signer,
            start("ZZZZ-ZZZZ-ZZZZ", PENDING_MATRICULE, LUC_EMAIL),
        )
        .await
        .assert_refused("ActivationCodeInvalid");
    // Not even the form of a code.
    platform
        .activation(&signer, start("?", PENDING_MATRICULE, LUC_EMAIL))
        .await
        .assert_refused("ActivationCodeInvalid");
    platform
        .activation(&signer, start(&letter, GP_MATRICULE, LUC_EMAIL))
        .await
        .assert_refused("MatriculeMismatch");
    platform
        .activation(&signer, start(&letter, PENDING_MATRICULE, "not an address"))
        .await
        .assert_refused("Malformed");
    platform
        .activation(&signer, start(&letter, "12345", LUC_EMAIL))
        .await
        .assert_refused("Malformed");

    // Somebody else's card with Luc's letter.
    let other = signer_of(&platform.extra_card(
        "Claire Muller",
        DEMO_PHARMACIST,
        Validity::days_from_now(30),
    ));
    platform
        .activation(&other, start(&letter, PENDING_MATRICULE, LUC_EMAIL))
        .await
        .assert_refused("CardHolderMismatch");

    // An active professional without purpose="reset".
    let gp_letter =
        issue_reset_letter(platform.store(), &id(DEMO_REFERENT_GP), platform.now()).unwrap();
    let gp = platform::signer(&platform.card(DEMO_REFERENT_GP));
    platform
        .activation(
            &gp,
            start(gp_letter.expose(), GP_MATRICULE, "anne@sandbox.invalid"),
        )
        .await
        .assert_refused("AlreadyActive");

    // The letter's 90 days pass.
    platform.advance(Duration::days(91));
    platform
        .activation(&signer, start(&letter, PENDING_MATRICULE, LUC_EMAIL))
        .await
        .assert_refused("ActivationCodeExpired");
}

#[tokio::test]
async fn each_wrong_confirmation_input_is_refused_with_its_own_subcode() {
    let Pending {
        platform,
        letter,
        signer,
        ..
    } = pending().await;
    // No code was e-mailed yet.
    platform
        .activation(
            &signer,
            confirm_request(&letter, PENDING_MATRICULE, "12345678", NEW_PASSWORD),
        )
        .await
        .assert_refused("EmailCodeInvalid");

    platform
        .activation(
            &signer,
            activation_request(&letter, PENDING_MATRICULE, LUC_EMAIL),
        )
        .await
        .payload();
    let email_code = mailed_code(&platform, LUC_EMAIL);
    let wrong_code = if email_code == "00000000" {
        "11111111"
    } else {
        "00000000"
    };
    let answer = platform
        .activation(
            &signer,
            confirm_request(&letter, PENDING_MATRICULE, wrong_code, NEW_PASSWORD),
        )
        .await;
    answer.assert_refused("EmailCodeInvalid");
    assert!(
        answer.fault().reason().contains("4 more tries"),
        "{}",
        answer.text()
    );
    platform
        .activation(
            &signer,
            confirm_request(&letter, PENDING_MATRICULE, &email_code, "short"),
        )
        .await
        .assert_refused("WeakPassword");
    platform
        .activation(
            &signer,
            confirm_request(
                &letter,
                PENDING_MATRICULE,
                &email_code,
                "onlylowercaseletters",
            ),
        )
        .await
        .assert_refused("WeakPassword");

    // Step 2 signed with another card of the same professional.
    let second_card = signer_of(&platform.extra_card(
        "Luc Wagner",
        DEMO_PENDING_ACTIVATION,
        Validity::days_from_now(30),
    ));
    platform
        .activation(
            &second_card,
            confirm_request(&letter, PENDING_MATRICULE, &email_code, NEW_PASSWORD),
        )
        .await
        .assert_refused("CardChanged");

    // The code's 30 minutes pass.
    platform.advance(Duration::minutes(31));
    platform
        .activation(
            &signer,
            confirm_request(&letter, PENDING_MATRICULE, &email_code, NEW_PASSWORD),
        )
        .await
        .assert_refused("EmailCodeExpired");
    // Nothing was bound or activated on the way.
    let pending_id = id(DEMO_PENDING_ACTIVATION);
    assert!(
        platform
            .store()
            .card_bindings_of(&pending_id)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        platform
            .store()
            .professional(&pending_id)
            .unwrap()
            .unwrap()
            .status,
        ProfessionalStatus::PendingActivation
    );
}

#[tokio::test]
async fn a_reset_letter_sets_a_new_password_and_binds_a_replacement_card() {
    let platform = Platform::start().await;
    let gp_id = id(DEMO_REFERENT_GP);
    let email = "anne.private@sandbox.invalid";

    // Password forgotten, same card.
    let old_card = signer(&platform.card(DEMO_REFERENT_GP));
    let letter = issue_reset_letter(platform.store(), &gp_id, platform.now()).unwrap();
    platform
        .activation(
            &old_card,
            reset(activation_request(letter.expose(), GP_MATRICULE, email)),
        )
        .await
        .payload();
    let code = mailed_code(&platform, email);
    let confirmed = platform
        .activation(
            &old_card,
            reset(confirm_request(
                letter.expose(),
                GP_MATRICULE,
                &code,
                NEW_PASSWORD,
            )),
        )
        .await;
    assert_eq!(confirmed.field("EHealthId"), DEMO_REFERENT_GP);
    platform
        .password_login(GP_MATRICULE, NEW_PASSWORD, DEMO_REFERENT_GP)
        .await;
    platform
        .post(
            idp::PATH,
            idp::ACTION,
            password_request(
                GP_MATRICULE,
                DEMO_PROFESSIONAL_PASSWORD,
                DEMO_REFERENT_GP,
                platform.now(),
            ),
        )
        .await
        .assert_refused("WrongPassword");
    assert_eq!(platform.store().card_bindings_of(&gp_id).unwrap().len(), 1);

    // Card lost: a new card, a new letter; the new card is bound and logs in.
    let new_card = platform.extra_card("Anne Weber", DEMO_REFERENT_GP, Validity::days_from_now(30));
    let new_signer = signer_of(&new_card);
    platform
        .card_login(&new_signer, DEMO_REFERENT_GP)
        .await
        .assert_refused("CertificateNotBound");
    let letter = issue_reset_letter(platform.store(), &gp_id, platform.now()).unwrap();
    platform
        .activation(
            &new_signer,
            reset(activation_request(letter.expose(), GP_MATRICULE, email)),
        )
        .await
        .payload();
    let code = mailed_code(&platform, email);
    platform
        .activation(
            &new_signer,
            reset(confirm_request(
                letter.expose(),
                GP_MATRICULE,
                &code,
                "Another-Pass-8",
            )),
        )
        .await
        .payload();
    let assertion = platform
        .card_login(&new_signer, DEMO_REFERENT_GP)
        .await
        .assertion();
    assert_eq!(assertion.subject.value, DEMO_REFERENT_GP);
    assert_eq!(platform.store().card_bindings_of(&gp_id).unwrap().len(), 2);
}

#[tokio::test]
async fn activation_requests_are_card_signed_like_the_login() {
    let Pending {
        platform,
        letter,
        signer,
        ..
    } = pending().await;
    // Stale.
    let body = card_signed(
        &signer,
        activation_request(&letter, PENDING_MATRICULE, LUC_EMAIL),
        &format!(
            "{}Activation",
            dspconnect_sandbox::activation::ACTION_PREFIX
        ),
        &platform.url(dspconnect_sandbox::activation::PATH),
        uuid::Uuid::new_v4(),
        platform.now() - Duration::minutes(20),
    );
    platform
        .post(dspconnect_sandbox::activation::PATH, "x", body)
        .await
        .assert_refused("TimestampStale");
    // Expired card.
    let expired = signer_of(&platform.extra_card(
        "Luc Wagner",
        DEMO_PENDING_ACTIVATION,
        Validity::between(
            platform.now() - Duration::days(400),
            platform.now() - Duration::days(40),
        ),
    ));
    platform
        .activation(
            &expired,
            activation_request(&letter, PENDING_MATRICULE, LUC_EMAIL),
        )
        .await
        .assert_refused("CertificateExpired");
    // Something that is not an activation request.
    platform
        .activation(
            &signer,
            dsp_request("HpdLookupRequest", &[("Name", "Weber")]),
        )
        .await
        .assert_refused("Malformed");
    // No e-mail was sent for any of these.
    assert!(platform.store().outbox(Some(LUC_EMAIL)).unwrap().is_empty());
}
