//! The DSP services end to end over HTTPS, with assertions from real card
//! (and password) logins: code de présence, portal ticket, anomaly report,
//! HPD lookup and password change, each allowed or refused as policy.md
//! says, and written to the patient's access log.

mod common;
mod platform;

use dspconnect::model::ConfidentialityMode;
use dspconnect_sandbox::policy::{Operation, PatientId, Subject, decide};
use dspconnect_sandbox::store::demo::{
    DEMO_BLACK_LISTED, DEMO_CERCLE_SPECIALIST, DEMO_PATIENT_WITH_RELATIONS,
    DEMO_PATIENT_WITHOUT_RELATIONS, DEMO_PENDING_ACTIVATION, DEMO_PHARMACIST,
    DEMO_PROFESSIONAL_PASSWORD, DEMO_REFERENT_GP,
};
use dspconnect_sandbox::store::{NewDocument, TicketRedemption};
use ihe::xml::Element;
use platform::*;
use time::Duration;

const GP_MATRICULE: &str = "1972110504599";
const PHARMACIST_MATRICULE: &str = "1977041205615";

fn patient(matricule: &str) -> PatientId {
    PatientId::new(matricule).expect("matricule")
}

fn presence(matricule: &str, code: &str) -> Element {
    dsp_request(
        "PresenceCodeAccessRequest",
        &[("PatientId", &cx(matricule)), ("PresenceCode", code)],
    )
}

fn anomaly(matricule: &str, unique_id: &str) -> Element {
    dsp_request(
        "AnomalyReportRequest",
        &[
            ("PatientId", &cx(matricule)),
            ("DocumentUniqueId", unique_id),
            (
                "Description",
                "The dosage on page 2 is wrong (10 mg, not 100 mg).",
            ),
        ],
    )
}

/// Registers a document of `matricule` by `author` in `mode`.
fn document(
    platform: &Platform,
    matricule: &str,
    author: &str,
    mode: ConfidentialityMode,
    n: u32,
) -> String {
    let unique_id = format!("1.3.182.4.4.99.2.{n}");
    platform
        .store()
        .insert_document(
            &NewDocument {
                entry_uuid: format!("urn:uuid:00000000-0000-4000-8000-{n:012}"),
                unique_id: unique_id.clone(),
                patient: patient(matricule),
                author: id(author),
                mode,
                metadata: b"<rim:ExtrinsicObject/>".to_vec(),
                body_path: format!("documents/{n}.pdf"),
                hash: "da39a3ee5e6b4b0d3255bfef95601890afd80709".into(),
                size: 0,
                mime_type: "application/pdf".into(),
            },
            platform.now(),
        )
        .expect("document registered");
    unique_id
}

/// The operations and outcomes of a patient's access log, by one professional.
fn logged(platform: &Platform, matricule: &str, professional: &str) -> Vec<(String, bool, String)> {
    platform
        .store()
        .access_trail(&patient(matricule))
        .expect("trail")
        .into_iter()
        .filter(|r| r.subject.professional_id().map(|p| p.as_str()) == Some(professional))
        .map(|r| (r.operation, r.allowed, r.rule))
        .collect()
}

#[tokio::test]
async fn a_presence_code_gives_one_professional_one_grant_once() {
    let platform = Platform::start().await;
    let tom = patient(DEMO_PATIENT_WITHOUT_RELATIONS);
    let code = platform
        .store()
        .create_presence_code(&tom, platform.now(), Duration::hours(1))
        .expect("code created by the patient");
    let pharmacist = platform.login(&platform.card(DEMO_PHARMACIST)).await;
    let before = platform.now();
    let granted = platform
        .dsp(
            &pharmacist,
            presence(DEMO_PATIENT_WITHOUT_RELATIONS, code.expose()),
        )
        .await;
    let grant_id = granted.field("GrantId");
    assert_eq!(
        granted.field("PatientId"),
        cx(DEMO_PATIENT_WITHOUT_RELATIONS)
    );
    let until = time::OffsetDateTime::parse(
        &granted.field("NotOnOrAfter"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("xs:dateTime");
    let lifetime = until - before;
    assert!(
        (Duration::hours(4) - Duration::seconds(2)..=Duration::hours(4) + Duration::seconds(2))
            .contains(&lifetime),
        "{lifetime}"
    );
    let grant = platform
        .store()
        .consultation_grant(&grant_id)
        .expect("read")
        .expect("the grant is stored");
    assert_eq!(grant.professional, id(DEMO_PHARMACIST));
    assert_eq!(grant.patient, tom);
    // The policy now sees the pharmacist as PC for Tom: Normal is readable.
    let normal = document(
        &platform,
        DEMO_PATIENT_WITHOUT_RELATIONS,
        DEMO_REFERENT_GP,
        ConfidentialityMode::Normal,
        1,
    );
    let entry = platform
        .store()
        .document_by_unique_id(&normal)
        .unwrap()
        .unwrap();
    let facts = platform
        .store()
        .facts_for(
            &Subject::card(id(DEMO_PHARMACIST)),
            &tom,
            Some(&entry.entry_uuid),
            platform.now(),
        )
        .unwrap();
    assert!(decide(&facts, Operation::Read).is_allowed());
    assert_eq!(
        logged(&platform, DEMO_PATIENT_WITHOUT_RELATIONS, DEMO_PHARMACIST),
        [(
            "present_presence_code".to_owned(),
            true,
            "PRESENCE-CODE".to_owned()
        )]
    );

    // Presented again, by another professional: spent.
    let specialist = platform.login(&platform.card(DEMO_CERCLE_SPECIALIST)).await;
    platform
        .dsp(
            &specialist,
            presence(DEMO_PATIENT_WITHOUT_RELATIONS, code.expose()),
        )
        .await
        .assert_refused("PresenceCodeSpent");
    // A code that is not this patient's.
    platform
        .dsp(
            &specialist,
            presence(DEMO_PATIENT_WITHOUT_RELATIONS, "ABCD-EFGH"),
        )
        .await
        .assert_refused("PresenceCodeInvalid");
    // A DSP without codes, and one that does not exist: the same answer.
    platform
        .dsp(&specialist, presence("1893120105732", "ABCD-EFGH"))
        .await
        .assert_refused("PresenceCodeInvalid");
    platform
        .dsp(&specialist, presence(&unknown_matricule(), "ABCD-EFGH"))
        .await
        .assert_refused("PresenceCodeInvalid");
    platform
        .dsp(&specialist, presence("2000010100013", "ABCD-EFGH"))
        .await
        .assert_refused("Malformed");
}

#[tokio::test]
async fn a_black_listed_professional_is_refused_even_with_a_valid_code() {
    let platform = Platform::start().await;
    let marie = patient(DEMO_PATIENT_WITH_RELATIONS);
    let code = platform
        .store()
        .create_presence_code(&marie, platform.now(), Duration::hours(1))
        .expect("code");
    let black_listed = platform.login(&platform.card(DEMO_BLACK_LISTED)).await;
    let refused = platform
        .dsp(
            &black_listed,
            presence(DEMO_PATIENT_WITH_RELATIONS, code.expose()),
        )
        .await;
    refused.assert_refused("AccessDenied");
    assert_eq!(refused.detail("Rule").as_deref(), Some("BLACK-LIST"));
    assert!(
        refused
            .detail("Citation")
            .is_some_and(|c| c.contains("Black list")),
        "{}",
        refused.text()
    );
    assert_eq!(
        logged(&platform, DEMO_PATIENT_WITH_RELATIONS, DEMO_BLACK_LISTED),
        [(
            "present_presence_code".to_owned(),
            false,
            "BLACK-LIST".to_owned()
        )]
    );
    // The refusal did not spend the code.
    let pharmacist = platform.login(&platform.card(DEMO_PHARMACIST)).await;
    platform
        .dsp(
            &pharmacist,
            presence(DEMO_PATIENT_WITH_RELATIONS, code.expose()),
        )
        .await
        .payload();
}

#[tokio::test]
async fn a_password_session_is_refused_the_dsp_but_reaches_account_and_directory() {
    let platform = Platform::start().await;
    let tom = patient(DEMO_PATIENT_WITHOUT_RELATIONS);
    let code = platform
        .store()
        .create_presence_code(&tom, platform.now(), Duration::hours(1))
        .expect("code");
    let limited = platform
        .password_login(
            PHARMACIST_MATRICULE,
            DEMO_PROFESSIONAL_PASSWORD,
            DEMO_PHARMACIST,
        )
        .await;
    let refused = platform
        .dsp(
            &limited,
            presence(DEMO_PATIENT_WITHOUT_RELATIONS, code.expose()),
        )
        .await;
    refused.assert_refused("PasswordSessionLimited");
    assert_eq!(refused.detail("Rule").as_deref(), Some("PASSWORD-SESSION"));
    platform
        .dsp(
            &limited,
            dsp_request(
                "PortalTicketRequest",
                &[("PatientId", &cx(DEMO_PATIENT_WITHOUT_RELATIONS))],
            ),
        )
        .await
        .assert_refused("PasswordSessionLimited");
    let normal = document(
        &platform,
        DEMO_PATIENT_WITHOUT_RELATIONS,
        DEMO_PHARMACIST,
        ConfidentialityMode::Normal,
        3,
    );
    platform
        .dsp(&limited, anomaly(DEMO_PATIENT_WITHOUT_RELATIONS, &normal))
        .await
        .assert_refused("PasswordSessionLimited");

    // Directory and account: allowed.
    let found = platform
        .dsp(
            &limited,
            dsp_request("HpdLookupRequest", &[("Name", "Weber")]),
        )
        .await
        .payload();
    assert_eq!(found.elements().count(), 1);
    platform
        .dsp(
            &limited,
            dsp_request(
                "PasswordChangeRequest",
                &[
                    ("OldPassword", DEMO_PROFESSIONAL_PASSWORD),
                    ("NewPassword", "Pharmacie-du-Coin-3"),
                ],
            ),
        )
        .await
        .payload();
    platform
        .password_login(PHARMACIST_MATRICULE, "Pharmacie-du-Coin-3", DEMO_PHARMACIST)
        .await;
    // The code was never spent.
    let pharmacist = platform.login(&platform.card(DEMO_PHARMACIST)).await;
    platform
        .dsp(
            &pharmacist,
            presence(DEMO_PATIENT_WITHOUT_RELATIONS, code.expose()),
        )
        .await
        .payload();
}

#[tokio::test]
async fn codes_and_grants_expire() {
    let platform = Platform::start().await;
    let tom = patient(DEMO_PATIENT_WITHOUT_RELATIONS);
    let short_lived = platform
        .store()
        .create_presence_code(&tom, platform.now(), Duration::minutes(10))
        .expect("code");
    let code = platform
        .store()
        .create_presence_code(&tom, platform.now(), Duration::hours(1))
        .expect("code");
    let normal = document(
        &platform,
        DEMO_PATIENT_WITHOUT_RELATIONS,
        DEMO_REFERENT_GP,
        ConfidentialityMode::Normal,
        4,
    );
    let pharmacist_card = platform.card(DEMO_PHARMACIST);
    let pharmacist = platform.login(&pharmacist_card).await;
    // Without a grant: no relationship with Tom.
    let refused = platform
        .dsp(
            &pharmacist,
            anomaly(DEMO_PATIENT_WITHOUT_RELATIONS, &normal),
        )
        .await;
    refused.assert_refused("AccessDenied");
    assert_eq!(refused.detail("Rule").as_deref(), Some("NO-CARE-RELATION"));

    platform
        .dsp(
            &pharmacist,
            presence(DEMO_PATIENT_WITHOUT_RELATIONS, code.expose()),
        )
        .await
        .payload();
    platform
        .dsp(
            &pharmacist,
            anomaly(DEMO_PATIENT_WITHOUT_RELATIONS, &normal),
        )
        .await
        .payload();

    platform.advance(Duration::minutes(11));
    platform
        .dsp(
            &pharmacist,
            presence(DEMO_PATIENT_WITHOUT_RELATIONS, short_lived.expose()),
        )
        .await
        .assert_refused("PresenceCodeExpired");

    // Four hours later the grant is over (and the 1-hour assertion too).
    platform.advance(Duration::hours(4));
    platform
        .dsp(
            &pharmacist,
            anomaly(DEMO_PATIENT_WITHOUT_RELATIONS, &normal),
        )
        .await
        .assert_refused("AssertionExpired");
    let pharmacist = platform.login(&pharmacist_card).await;
    let expired = platform
        .dsp(
            &pharmacist,
            anomaly(DEMO_PATIENT_WITHOUT_RELATIONS, &normal),
        )
        .await;
    expired.assert_refused("GrantExpired");
    assert_eq!(expired.detail("Rule").as_deref(), Some("NO-CARE-RELATION"));
}

#[tokio::test]
async fn the_grant_lifetime_is_configurable() {
    let platform = Platform::start_with(|config| {
        config.with_consultation_grant_lifetime(std::time::Duration::from_secs(30 * 60))
    })
    .await;
    let tom = patient(DEMO_PATIENT_WITHOUT_RELATIONS);
    let code = platform
        .store()
        .create_presence_code(&tom, platform.now(), Duration::hours(1))
        .expect("code");
    let pharmacist = platform.login(&platform.card(DEMO_PHARMACIST)).await;
    let granted = platform
        .dsp(
            &pharmacist,
            presence(DEMO_PATIENT_WITHOUT_RELATIONS, code.expose()),
        )
        .await;
    let grant = platform
        .store()
        .consultation_grant(&granted.field("GrantId"))
        .unwrap()
        .unwrap();
    let lifetime = grant.not_on_or_after - platform.now();
    assert!(
        lifetime <= Duration::minutes(30) && lifetime > Duration::minutes(29),
        "{lifetime}"
    );
}

#[tokio::test]
async fn anomaly_reports_follow_the_reading_rule() {
    let platform = Platform::start().await;
    let normal = document(
        &platform,
        DEMO_PATIENT_WITH_RELATIONS,
        DEMO_REFERENT_GP,
        ConfidentialityMode::Normal,
        5,
    );
    let prive = document(
        &platform,
        DEMO_PATIENT_WITH_RELATIONS,
        DEMO_REFERENT_GP,
        ConfidentialityMode::Prive,
        6,
    );
    let specialist = platform.login(&platform.card(DEMO_CERCLE_SPECIALIST)).await;

    let report = platform
        .dsp(&specialist, anomaly(DEMO_PATIENT_WITH_RELATIONS, &normal))
        .await;
    let report_id: i64 = report.field("ReportId").parse().expect("a number");
    let reports = platform
        .store()
        .anomaly_reports(Some(&patient(DEMO_PATIENT_WITH_RELATIONS)))
        .unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].id, report_id);
    assert_eq!(reports[0].reporter, id(DEMO_CERCLE_SPECIALIST));
    assert!(reports[0].description.contains("dosage"));

    // Privé: the author and the patient only.
    let refused = platform
        .dsp(&specialist, anomaly(DEMO_PATIENT_WITH_RELATIONS, &prive))
        .await;
    refused.assert_refused("AccessDenied");
    assert_eq!(refused.detail("Rule").as_deref(), Some("READ-PRIVE"));
    let author = platform.login(&platform.card(DEMO_REFERENT_GP)).await;
    platform
        .dsp(&author, anomaly(DEMO_PATIENT_WITH_RELATIONS, &prive))
        .await
        .payload();

    // The black-listed professional reports nothing.
    let black_listed = platform.login(&platform.card(DEMO_BLACK_LISTED)).await;
    let refused = platform
        .dsp(&black_listed, anomaly(DEMO_PATIENT_WITH_RELATIONS, &normal))
        .await;
    refused.assert_refused("AccessDenied");
    assert_eq!(refused.detail("Rule").as_deref(), Some("BLACK-LIST"));

    // Unknown documents, or another patient's.
    platform
        .dsp(
            &specialist,
            anomaly(DEMO_PATIENT_WITH_RELATIONS, "1.3.182.4.4.99.2.404"),
        )
        .await
        .assert_refused("UnknownDocument");
    platform
        .dsp(
            &specialist,
            anomaly(DEMO_PATIENT_WITHOUT_RELATIONS, &normal),
        )
        .await
        .assert_refused("UnknownDocument");

    assert_eq!(
        logged(
            &platform,
            DEMO_PATIENT_WITH_RELATIONS,
            DEMO_CERCLE_SPECIALIST
        ),
        [
            (
                "report_anomaly".to_owned(),
                true,
                "REPORT-ANOMALY".to_owned()
            ),
            ("report_anomaly".to_owned(), false, "READ-PRIVE".to_owned()),
        ]
    );
    assert_eq!(platform.store().anomaly_reports(None).unwrap().len(), 2);
}

#[tokio::test]
async fn a_portal_ticket_is_a_one_time_url_for_this_professional_and_patient() {
    let platform = Platform::start().await;
    let gp = platform.login(&platform.card(DEMO_REFERENT_GP)).await;
    let answer = platform
        .dsp(
            &gp,
            dsp_request(
                "PortalTicketRequest",
                &[("PatientId", &cx(DEMO_PATIENT_WITH_RELATIONS))],
            ),
        )
        .await;
    let url = answer.field("Url");
    let prefix = platform.url("/portal/open?ticket=");
    let ticket = url
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{url} does not start with {prefix}"));
    assert_eq!(ticket.len(), 64);
    let until = time::OffsetDateTime::parse(
        &answer.field("NotOnOrAfter"),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!(until <= platform.now() + Duration::minutes(2));
    assert_eq!(
        platform
            .store()
            .redeem_portal_ticket(ticket, platform.now())
            .unwrap(),
        TicketRedemption::Redeemed {
            ehealth_id: id(DEMO_REFERENT_GP),
            patient: patient(DEMO_PATIENT_WITH_RELATIONS),
        }
    );
    assert_eq!(
        platform
            .store()
            .redeem_portal_ticket(ticket, platform.now())
            .unwrap(),
        TicketRedemption::AlreadyUsed
    );
    platform
        .dsp(
            &gp,
            dsp_request(
                "PortalTicketRequest",
                &[("PatientId", &cx(&unknown_matricule()))],
            ),
        )
        .await
        .assert_refused("UnknownPatient");
}

#[tokio::test]
async fn the_hpd_lookup_finds_active_professionals_by_id_or_name() {
    let platform = Platform::start().await;
    let gp = platform.login(&platform.card(DEMO_REFERENT_GP)).await;
    let by_id = platform
        .dsp(
            &gp,
            dsp_request("HpdLookupRequest", &[("EHealthId", DEMO_CERCLE_SPECIALIST)]),
        )
        .await
        .payload();
    let entries: Vec<&Element> = by_id.elements().collect();
    assert_eq!(entries.len(), 1);
    let entry = entries[0];
    assert_eq!(entry.attr("ehealthId"), Some(DEMO_CERCLE_SPECIALIST));
    let text = |local: &str| {
        entry
            .child(dspconnect_sandbox::services::envelope::DSP_NS, local)
            .map(|e| e.text())
    };
    assert_eq!(text("GivenName").as_deref(), Some("Marc"));
    assert_eq!(text("FamilyName").as_deref(), Some("Schmit"));
    assert_eq!(text("Profession").as_deref(), Some("médecin"));
    assert_eq!(text("Specialty").as_deref(), Some("cardiologie"));
    assert!(!String::from_utf8_lossy(&ihe::xml::to_document(&by_id)).contains("1969012507186"));

    let by_name = platform
        .dsp(&gp, dsp_request("HpdLookupRequest", &[("Name", "mul")]))
        .await
        .payload();
    let ids: Vec<&str> = by_name
        .elements()
        .filter_map(|e| e.attr("ehealthId"))
        .collect();
    assert_eq!(ids, [DEMO_PHARMACIST]);
    // Pending professionals are not listed.
    let pending = platform
        .dsp(
            &gp,
            dsp_request(
                "HpdLookupRequest",
                &[("EHealthId", DEMO_PENDING_ACTIVATION)],
            ),
        )
        .await
        .payload();
    assert_eq!(pending.elements().count(), 0);
    // Both criteria must match.
    let both = platform
        .dsp(
            &gp,
            dsp_request(
                "HpdLookupRequest",
                &[("EHealthId", DEMO_CERCLE_SPECIALIST), ("Name", "Weber")],
            ),
        )
        .await
        .payload();
    assert_eq!(both.elements().count(), 0);
    platform
        .dsp(&gp, dsp_request("HpdLookupRequest", &[]))
        .await
        .assert_refused("Malformed");
}

#[tokio::test]
async fn a_password_change_checks_the_old_password_and_the_policy() {
    let platform = Platform::start().await;
    let gp = platform.login(&platform.card(DEMO_REFERENT_GP)).await;
    let change = |old: &str, new: &str| {
        dsp_request(
            "PasswordChangeRequest",
            &[("OldPassword", old), ("NewPassword", new)],
        )
    };
    platform
        .dsp(&gp, change("not-my-password-1", "Brand-New-Pass-9"))
        .await
        .assert_refused("WrongPassword");
    platform
        .dsp(&gp, change(DEMO_PROFESSIONAL_PASSWORD, "short"))
        .await
        .assert_refused("WeakPassword");
    platform
        .dsp(
            &gp,
            change(DEMO_PROFESSIONAL_PASSWORD, DEMO_PROFESSIONAL_PASSWORD),
        )
        .await
        .assert_refused("WeakPassword");
    platform
        .dsp(&gp, change(DEMO_PROFESSIONAL_PASSWORD, "Brand-New-Pass-9"))
        .await
        .payload();
    platform
        .password_login(GP_MATRICULE, "Brand-New-Pass-9", DEMO_REFERENT_GP)
        .await;
    platform
        .post(
            dspconnect_sandbox::idp::PATH,
            dspconnect_sandbox::idp::ACTION,
            password_request(
                GP_MATRICULE,
                DEMO_PROFESSIONAL_PASSWORD,
                DEMO_REFERENT_GP,
                platform.now(),
            ),
        )
        .await
        .assert_refused("WrongPassword");
}

#[tokio::test]
async fn calls_without_a_valid_assertion_or_with_an_unknown_payload_are_refused() {
    let platform = Platform::start().await;
    let no_assertion =
        ihe::soap::Envelope::new(dsp_request("HpdLookupRequest", &[("Name", "Weber")])).to_bytes();
    platform
        .post(dspconnect_sandbox::services::PATH, "x", no_assertion)
        .await
        .assert_refused("AssertionMissing");
    let gp = platform.login(&platform.card(DEMO_REFERENT_GP)).await;
    platform
        .dsp_unchecked(&gp, dsp_request("TeleportRequest", &[]))
        .await
        .assert_refused("Malformed");
    platform
        .dsp_unchecked(
            &gp,
            dsp_request(
                "PresenceCodeAccessRequest",
                &[("PatientId", &cx(DEMO_PATIENT_WITH_RELATIONS))],
            ),
        )
        .await
        .assert_refused("Malformed");
}
