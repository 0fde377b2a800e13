//! The admin JSON API over HTTPS: refused without its token; every
//! operation, each checked against what the store then holds; errors name
//! the field and the reason; unknown fields are refused.

mod common;
mod portal_support;

use std::path::PathBuf;
use std::sync::LazyLock;

use dspconnect::model::ConfidentialityMode::{Normal, Prive, Restreint, VisiteAnnonce};
use dspconnect_sandbox::pki::{CertificateSerial, Professional, Validity};
use dspconnect_sandbox::portal::AdminToken;
use dspconnect_sandbox::store::PresenceCodeRedemption;
use portal_support::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

static TEMPLATE: LazyLock<PathBuf> = LazyLock::new(|| pki_template("portal-admin-tests"));

fn error_of(body: &Value) -> (&str, &str) {
    (
        body["error"]["field"].as_str().expect("field"),
        body["error"]["reason"].as_str().expect("reason"),
    )
}

#[tokio::test]
async fn the_admin_api_refuses_calls_without_its_token() {
    let platform = Platform::start(&TEMPLATE).await;
    let path = AdminToken::path(platform.sandbox.data_dir());
    assert_eq!(common::mode_of(&path), 0o600);
    assert_eq!(platform.admin_token.len(), 64);

    let client = pinned_client(platform.sandbox.ca_certificate_pem());
    let url = platform.url(&format!("/admin/api/patients/{MARIE}"));
    for authorization in [
        None,
        Some("Bearer 0000".to_owned()),
        Some(format!("Basic {}", platform.admin_token)),
        Some(format!("Bearer {}x", platform.admin_token)),
    ] {
        let mut request = client.get(&url);
        if let Some(value) = &authorization {
            request = request.header("authorization", value);
        }
        let answer = request.send().await.expect("answered");
        assert_eq!(
            answer.status(),
            StatusCode::UNAUTHORIZED,
            "{authorization:?}"
        );
        assert!(answer.headers().contains_key("www-authenticate"));
        let body: Value = serde_json::from_str(&answer.text().await.expect("body")).expect("JSON");
        assert_eq!(error_of(&body).0, "Authorization", "{body}");
    }
    // A write without the token changes nothing.
    let answer = client
        .put(platform.url(&format!("/admin/api/patients/{MARIE}/referent")))
        .body(r#"{"ehealth_id": null}"#)
        .send()
        .await
        .expect("answered");
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    let (status, consents) = platform
        .admin(Method::GET, &format!("/admin/api/patients/{MARIE}"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(consents["referent"], REFERENT);

    // The same token after a restart on the same data directory.
    let data_dir = platform.sandbox.data_dir().to_owned();
    let token = platform.admin_token.clone();
    platform.sandbox.shutdown().await.expect("stopped");
    let again =
        dspconnect_sandbox::Sandbox::start(dspconnect_sandbox::SandboxConfig::new(&data_dir))
            .await
            .expect("restarted");
    assert_eq!(
        AdminToken::load(again.data_dir()).expect("token").expose(),
        token
    );
}

#[tokio::test]
async fn the_patient_operations_change_the_store_as_the_portal_does() {
    let platform = Platform::start(&TEMPLATE).await;
    let consents = format!("/admin/api/patients/{MARIE}");
    let (status, initial) = platform.admin(Method::GET, &consents, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        initial,
        json!({
            "patient": MARIE,
            "referent": REFERENT,
            "cercle": [CERCLE],
            "black_list": [BLACK_LISTED],
            "accompagnateurs": [ACCOMPAGNATEUR],
        })
    );

    let steps: Vec<(Method, String, Option<Value>, &str, Value)> = vec![
        (
            Method::PUT,
            format!("{consents}/referent"),
            Some(json!({ "ehealth_id": PHARMACIST })),
            "referent",
            json!(PHARMACIST),
        ),
        (
            Method::PUT,
            format!("{consents}/referent"),
            Some(json!({ "ehealth_id": null })),
            "referent",
            Value::Null,
        ),
        (
            Method::POST,
            format!("{consents}/cercle"),
            Some(json!({ "ehealth_id": PHARMACIST })),
            "cercle",
            json!([CERCLE, PHARMACIST]),
        ),
        (
            Method::DELETE,
            format!("{consents}/cercle/{CERCLE}"),
            None,
            "cercle",
            json!([PHARMACIST]),
        ),
        (
            Method::POST,
            format!("{consents}/black-list"),
            Some(json!({ "ehealth_id": REFERENT })),
            "black_list",
            json!([REFERENT, BLACK_LISTED]),
        ),
        (
            Method::DELETE,
            format!("{consents}/black-list/{BLACK_LISTED}"),
            None,
            "black_list",
            json!([REFERENT]),
        ),
        (
            Method::DELETE,
            format!("{consents}/accompagnateurs/{ACCOMPAGNATEUR}"),
            None,
            "accompagnateurs",
            json!([]),
        ),
        (
            Method::POST,
            format!("/admin/api/patients/{TOM}/accompagnateurs"),
            Some(json!({ "login": ACCOMPAGNATEUR })),
            "accompagnateurs",
            json!([ACCOMPAGNATEUR]),
        ),
    ];
    for (method, path, body, key, expected) in steps {
        let (status, answer) = platform.admin(method.clone(), &path, body).await;
        assert_eq!(status, StatusCode::OK, "{method} {path}: {answer}");
        assert_eq!(answer[key], expected, "{method} {path}");
        let patient = answer["patient"].as_str().expect("patient").to_owned();
        let relations = platform
            .ctx()
            .store()
            .relations(&patient_id(&patient))
            .expect("relations");
        let stored: Value = match key {
            "referent" => json!(relations.referent.map(|r| r.to_string())),
            "cercle" => json!(
                relations
                    .cercle
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
            ),
            "black_list" => json!(
                relations
                    .black_list
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
            ),
            _ => json!(
                relations
                    .accompagnateurs
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
            ),
        };
        assert_eq!(stored, expected, "the store holds what the API answered");
    }

    // Errors name the field and say why.
    let cases: Vec<(Method, String, Option<Value>, StatusCode, &str)> = vec![
        (
            Method::POST,
            format!("{consents}/cercle"),
            Some(json!({ "ehealth_id": "SBX9999" })),
            StatusCode::NOT_FOUND,
            "ehealth_id",
        ),
        (
            Method::POST,
            format!("{consents}/cercle"),
            Some(json!({ "ehealth_id": "not an id" })),
            StatusCode::BAD_REQUEST,
            "ehealth_id",
        ),
        (
            Method::POST,
            format!("{consents}/cercle"),
            Some(json!({ "ehealth_id": PHARMACIST, "since": "today" })),
            StatusCode::BAD_REQUEST,
            "since",
        ),
        (
            Method::POST,
            format!("{consents}/cercle"),
            Some(json!({})),
            StatusCode::BAD_REQUEST,
            "ehealth_id",
        ),
        (
            Method::PUT,
            format!("{consents}/referent"),
            Some(json!({})),
            StatusCode::BAD_REQUEST,
            "ehealth_id",
        ),
        (
            Method::POST,
            format!("{consents}/cercle"),
            Some(json!({ "ehealth_id": 12 })),
            StatusCode::BAD_REQUEST,
            "ehealth_id",
        ),
        (
            Method::POST,
            format!("{consents}/cercle"),
            None,
            StatusCode::BAD_REQUEST,
            "body",
        ),
        (
            Method::DELETE,
            format!("{consents}/cercle/{BLACK_LISTED}"),
            None,
            StatusCode::NOT_FOUND,
            "ehealth_id",
        ),
        (
            Method::POST,
            format!("{consents}/accompagnateurs"),
            Some(json!({ "login": "nobody" })),
            StatusCode::NOT_FOUND,
            "login",
        ),
        (
            Method::GET,
            "/admin/api/patients/1893120105733".to_owned(),
            None,
            StatusCode::BAD_REQUEST,
            "matricule",
        ),
        (
            Method::PUT,
            "/admin/api/patients/2001010100111/referent".to_owned(),
            Some(json!({ "ehealth_id": null })),
            StatusCode::NOT_FOUND,
            "matricule",
        ),
        (
            Method::GET,
            "/admin/api/mail?to=x".to_owned(),
            None,
            StatusCode::BAD_REQUEST,
            "query",
        ),
    ];
    for (method, path, body, status, field) in cases {
        let (got, answer) = platform.admin(method.clone(), &path, body).await;
        assert_eq!(got, status, "{method} {path}: {answer}");
        let (named, reason) = error_of(&answer);
        assert_eq!(named, field, "{method} {path}: {answer}");
        assert!(!reason.is_empty());
    }

    // A code de présence, returned once, that a professional can present.
    let (status, created) = platform
        .admin(
            Method::POST,
            &format!("{consents}/presence-codes"),
            Some(json!({ "valid_for_seconds": 600 })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let code = created["code"].as_str().expect("code");
    let not_on_or_after = time::OffsetDateTime::parse(
        created["not_on_or_after"].as_str().expect("expiry"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("RFC 3339");
    let in_ten_minutes = platform.ctx().clock().now() + time::Duration::seconds(600);
    assert!((not_on_or_after - in_ten_minutes).abs() < time::Duration::seconds(5));
    let store = platform.ctx().store();
    let redeemed = store
        .redeem_presence_code(
            &patient_id(MARIE),
            code,
            &ehealth(PHARMACIST),
            platform.ctx().clock().now(),
            time::Duration::hours(4),
        )
        .expect("redeem");
    assert!(matches!(redeemed, PresenceCodeRedemption::Granted(_)));
    let (status, _) = platform
        .admin(Method::POST, &format!("{consents}/presence-codes"), None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "the body is optional");
    let (status, too_long) = platform
        .admin(
            Method::POST,
            &format!("{consents}/presence-codes"),
            Some(json!({ "valid_for_seconds": 0 })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_of(&too_long).0, "valid_for_seconds");
}

#[tokio::test]
async fn a_mode_change_is_asked_as_the_patient_through_the_policy() {
    let platform = Platform::start(&TEMPLATE).await;
    let ctx = platform.ctx();
    let normal = seed_document(ctx, MARIE, REFERENT, Normal, "Normal");
    let prive = seed_document(ctx, MARIE, CERCLE, Prive, "Privé");
    let annonce = seed_document(ctx, MARIE, CERCLE, VisiteAnnonce, "Annonce");
    let mode = |doc: &Seeded| {
        format!(
            "/admin/api/patients/{MARIE}/documents/{}/mode",
            doc.unique_id
        )
    };

    let (status, changed) = platform
        .admin(
            Method::PUT,
            &mode(&normal),
            Some(json!({ "mode": "restreint" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["mode"], "restreint");
    assert_eq!(changed["version"], 2);
    assert_eq!(changed["logical_id"], normal.entry_uuid.as_str());
    let stored = ctx
        .store()
        .document_by_unique_id(&normal.unique_id)
        .expect("read")
        .expect("document");
    assert_eq!(stored.mode, Restreint);
    assert_eq!(changed["entry_uuid"], stored.entry_uuid.as_str());
    let versions = ctx
        .store()
        .document_versions(&normal.entry_uuid)
        .expect("versions");
    assert_eq!(versions.len(), 2, "the mode history is kept");

    let (status, same) = platform
        .admin(Method::PUT, &mode(&prive), Some(json!({ "mode": "prive" })))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(same["error"]["rule"], "MODE-SAME");
    let (status, refused) = platform
        .admin(
            Method::PUT,
            &mode(&prive),
            Some(json!({ "mode": "visite_annonce" })),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(refused["error"]["rule"], "MODE-TO-ANNONCE");
    assert_eq!(error_of(&refused).0, "mode");
    let (status, hidden) = platform
        .admin(
            Method::PUT,
            &mode(&annonce),
            Some(json!({ "mode": "normal" })),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "hidden from the patient: {hidden}"
    );
    assert_eq!(error_of(&hidden).0, "unique_id");
    let (status, bad) = platform
        .admin(
            Method::PUT,
            &mode(&prive),
            Some(json!({ "mode": "secret" })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_of(&bad).0, "mode");

    // Each decision is in the trail, asked as the patient.
    let trail = ctx.store().access_trail(&patient_id(MARIE)).expect("trail");
    let changes: Vec<(bool, &str)> = trail
        .iter()
        .filter(|a| a.operation == "change_mode")
        .map(|a| (a.allowed, a.rule.as_str()))
        .collect();
    assert_eq!(
        changes,
        vec![
            (true, "MODE-NORMAL-RESTREINT"),
            (false, "MODE-SAME"),
            (false, "MODE-TO-ANNONCE"),
        ]
    );
    assert!(
        trail
            .iter()
            .filter(|a| a.operation == "change_mode")
            .all(|a| a.subject == dspconnect_sandbox::policy::Subject::Patient(patient_id(MARIE)))
    );
}

#[tokio::test]
async fn the_back_office_reads_mail_moves_the_clock_and_revokes_cards() {
    let platform = Platform::start(&TEMPLATE).await;
    let ctx = platform.ctx();
    let now = ctx.clock().now();
    ctx.store()
        .queue_mail(
            "anne.weber@sandbox.invalid",
            "Code",
            "Votre code: 12345678",
            now,
        )
        .expect("mail");
    ctx.store()
        .queue_mail("luc@sandbox.invalid", "Autre", "x", now)
        .expect("mail");
    let (status, mail) = platform
        .admin(
            Method::GET,
            "/admin/api/mail?recipient=anne.weber@sandbox.invalid",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let mails = mail["mail"].as_array().expect("list");
    assert_eq!(mails.len(), 1, "{mail}");
    assert_eq!(mails[0]["body"], "Votre code: 12345678");
    assert_eq!(mails[0]["subject"], "Code");
    let (_, all) = platform.admin(Method::GET, "/admin/api/mail", None).await;
    assert_eq!(all["mail"].as_array().expect("list").len(), 2);

    // The clock only moves forward.
    let (status, moved) = platform
        .admin(
            Method::POST,
            "/admin/api/clock/advance",
            Some(json!({ "seconds": 7200 })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!(moved["offset_seconds"], 7200);
    assert_eq!(ctx.clock().offset(), time::Duration::hours(2));
    for seconds in [0, -5] {
        let (status, refused) = platform
            .admin(
                Method::POST,
                "/admin/api/clock/advance",
                Some(json!({ "seconds": seconds })),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(error_of(&refused).0, "seconds");
    }
    assert_eq!(ctx.clock().offset(), time::Duration::hours(2));

    // Revoking a bound card: in the PKI (the IdP's chain check) and in the HPD.
    let card = ctx
        .pki()
        .issue_professional_certificate(
            &Professional {
                name: "Anne Weber".into(),
                ehealth_id: REFERENT.into(),
            },
            Validity::days_from_now(30),
        )
        .expect("card");
    ctx.store()
        .bind_card_certificate(
            &ehealth(REFERENT),
            &card.fingerprint(),
            Some(card.serial()),
            ctx.clock().now(),
        )
        .expect("bound");
    let (status, revoked) = platform
        .admin(
            Method::POST,
            "/admin/api/cards/revoke",
            Some(json!({ "certificate_pem": card.certificate_pem() })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{revoked}");
    assert_eq!(revoked["bound_to"], REFERENT);
    assert_eq!(revoked["serial"], card.serial().to_string());
    assert_eq!(revoked["fingerprint"], card.fingerprint().to_string());
    assert!(ctx.pki().is_revoked(card.serial()).expect("revocations"));
    let binding = ctx
        .store()
        .card_binding(&card.fingerprint())
        .expect("read")
        .expect("binding");
    assert!(binding.revoked);

    // By serial alone: the PKI only.
    let (status, by_serial) = platform
        .admin(
            Method::POST,
            "/admin/api/cards/revoke",
            Some(json!({ "serial": "0a1b2c" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{by_serial}");
    assert_eq!(by_serial["bound_to"], Value::Null);
    assert!(
        ctx.pki()
            .is_revoked(&CertificateSerial::from_hex("0a1b2c").expect("hex"))
            .expect("revocations")
    );
    for (body, field) in [
        (json!({}), "certificate_pem"),
        (json!({ "serial": "xyz" }), "serial"),
        (json!({ "certificate_pem": "not pem" }), "certificate_pem"),
        (
            json!({ "serial": "0a", "certificate_pem": "x" }),
            "certificate_pem",
        ),
    ] {
        let (status, refused) = platform
            .admin(Method::POST, "/admin/api/cards/revoke", Some(body.clone()))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {refused}");
        assert_eq!(error_of(&refused).0, field, "{body}");
    }
}

#[tokio::test]
async fn a_reset_letter_is_issued_for_an_active_professional() {
    let platform = Platform::start(&TEMPLATE).await;
    let ctx = platform.ctx();
    let path = format!("/admin/api/professionals/{REFERENT}/reset-letter");
    let (status, letter) = platform.admin(Method::POST, &path, None).await;
    assert_eq!(status, StatusCode::CREATED, "{letter}");
    assert_eq!(letter["ehealth_id"], REFERENT);
    let code = letter["code"].as_str().expect("code");
    let matricule = ctx
        .store()
        .professional(&ehealth(REFERENT))
        .expect("read")
        .expect("listed")
        .matricule;
    let check = ctx
        .store()
        .check_activation_letter(&matricule, code, ctx.clock().now())
        .expect("checked");
    assert!(
        matches!(check, dspconnect_sandbox::store::LetterCheck::Valid(ref l) if l.ehealth_id == ehealth(REFERENT)),
        "{check:?}"
    );

    ctx.store()
        .set_professional_status(
            &ehealth(BLACK_LISTED),
            dspconnect_sandbox::policy::ProfessionalStatus::Deactivated,
        )
        .expect("deactivated");
    for (path, body, status) in [
        (
            format!("/admin/api/professionals/{BLACK_LISTED}/reset-letter"),
            None,
            StatusCode::CONFLICT,
        ),
        (
            "/admin/api/professionals/SBX9999/reset-letter".to_owned(),
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            "/admin/api/professionals/not%20an%20id/reset-letter".to_owned(),
            None,
            StatusCode::BAD_REQUEST,
        ),
        (
            path.clone(),
            Some(json!({ "lifetime": 3 })),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (got, answer) = platform.admin(Method::POST, &path, body).await;
        assert_eq!(got, status, "{path}: {answer}");
        let field = error_of(&answer).0;
        assert!(field == "ehealth_id" || field == "lifetime", "{answer}");
    }
}

#[tokio::test]
async fn a_fault_plan_is_set_read_and_lifted() {
    let platform = Platform::start(&TEMPLATE).await;
    let plan = json!({
        "seed": 7,
        "rules": [ { "path_prefix": "/patient/", "unavailable_percent": 100 } ],
    });
    let (status, set) = platform
        .admin(Method::PUT, "/admin/api/faults", Some(plan.clone()))
        .await;
    assert_eq!(status, StatusCode::OK, "{set}");
    assert_eq!(set["seed"], 7);
    assert_eq!(set["rules"][0]["path_prefix"], "/patient/");
    assert_eq!(set["rules"][0]["unavailable_percent"], 100);
    let (_, read) = platform.admin(Method::GET, "/admin/api/faults", None).await;
    assert_eq!(read, set);
    assert_eq!(platform.ctx().faults().plan().rules.len(), 1);

    let mut browser = platform.browser();
    assert_eq!(
        browser.get("/patient/login").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(browser.get("/health").await.status, StatusCode::OK);

    for (body, field) in [
        (
            json!({ "rules": [ { "path_prefix": "patient", "unavailable_percent": 5 } ] }),
            "rules[0].path_prefix",
        ),
        (
            json!({ "rules": [ { "path_prefix": "/admin/", "unavailable_percent": 5 } ] }),
            "rules[0].path_prefix",
        ),
        (
            json!({ "rules": [
                { "path_prefix": "/xds/", "unavailable_percent": 5 },
                { "path_prefix": "/xds/", "cut_percent": 5 } ] }),
            "rules[1].path_prefix",
        ),
        (
            json!({ "rules": [ { "path_prefix": "/xds/", "unavailable_percent": 60, "cut_percent": 50 } ] }),
            "rules[0].unavailable_percent",
        ),
        (
            json!({ "rules": [ { "path_prefix": "/xds/", "delay_percent": 5 } ] }),
            "rules[0].delay_ms",
        ),
        (
            json!({ "rules": [ { "path_prefix": "/xds/", "unavailable": 5 } ] }),
            "rules[0].unavailable",
        ),
        (json!({ "seeds": 1 }), "seeds"),
    ] {
        let (status, refused) = platform
            .admin(Method::PUT, "/admin/api/faults", Some(body.clone()))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {refused}");
        assert_eq!(error_of(&refused).0, field, "{body}: {refused}");
    }
    // A refused plan leaves the one in force.
    assert_eq!(platform.ctx().faults().plan().rules.len(), 1);

    let (status, lifted) = platform
        .admin(Method::DELETE, "/admin/api/faults", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(lifted, json!({ "rules": [] }));
    assert_eq!(browser.get("/patient/login").await.status, StatusCode::OK);
}

/// Stops the binary if the test fails before it does.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[tokio::test]
async fn the_binary_prints_the_admin_token_and_the_portals() {
    use std::io::{BufRead, BufReader};
    let data_dir = common::data_dir_with_pki(&TEMPLATE);
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_dspconnect-sandbox"))
        .arg("--data-dir")
        .arg(&data_dir)
        .args(["--port", "0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("binary starts");
    let mut running = Running(child);
    let stdout = running.0.stdout.take().expect("stdout");
    let lines: Vec<String> = BufReader::new(stdout)
        .lines()
        .map(|line| line.expect("UTF-8"))
        .take_while(|line| !line.starts_with("stop with"))
        .collect();
    let line = |prefix: &str| {
        lines
            .iter()
            .find(|line| line.starts_with(prefix))
            .unwrap_or_else(|| panic!("no '{prefix}' line in {lines:?}"))
            .clone()
    };
    let base_url = line("base URL: ")["base URL: ".len()..].to_owned();
    assert_eq!(
        line("patient portal: "),
        format!("patient portal: {base_url}/patient/login")
    );
    assert!(line("professional portal: ").contains("/portal/open?ticket="));
    assert!(line(&format!("  patient {MARIE} ")).ends_with(PATIENT_PASSWORD));
    assert!(
        line(&format!("  accompagnateur {ACCOMPAGNATEUR} ")).ends_with(ACCOMPAGNATEUR_PASSWORD)
    );
    let admin = line("admin API: ");
    let token = admin
        .split("Bearer ")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("token in the admin line");
    assert_eq!(
        token,
        AdminToken::load(&data_dir).expect("token file").expose()
    );
    let ca = std::fs::read_to_string(data_dir.join("pki/platform-ca.pem")).expect("CA");
    let answer = pinned_client(&ca)
        .get(format!("{base_url}/admin/api/patients/{MARIE}"))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .expect("answered");
    assert_eq!(answer.status(), StatusCode::OK);
    let stopped = std::process::Command::new("kill")
        .args(["-TERM", &running.0.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(stopped.success());
    assert!(running.0.wait().expect("exits").success());
}
