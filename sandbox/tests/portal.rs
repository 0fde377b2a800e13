//! The professional web portal and the patient portal over HTTPS, with a
//! client pinning the sandbox CA: one-time tickets (previews and prefetch
//! do not spend them), the documents each professional may see, reads in
//! the access log, anomaly reports, the patient's and the accompagnateur's
//! views, every consent edit, CSRF and origin checks, and escaping.

mod common;
mod portal_support;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::LazyLock;

use dspconnect::model::ConfidentialityMode::{self, Normal, Prive, Restreint, VisiteAnnonce};
use dspconnect_sandbox::policy::{Operation, Subject, decide};
use dspconnect_sandbox::store::{NewPatient, PresenceCodeRedemption};
use portal_support::*;
use reqwest::{Method, StatusCode};

/// A form post (path, fields), then the consent key and what it should hold.
type EditStep = (
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static str,
    serde_json::Value,
);

static TEMPLATE: LazyLock<PathBuf> = LazyLock::new(|| pki_template("portal-tests"));

/// The documents of Marie Reuter (the demo référent, cercle de confiance,
/// black list and accompagnateur) every test starts with.
struct Dsp {
    normal_by_referent: Seeded,
    restreint_by_referent: Seeded,
    prive_by_referent: Seeded,
    prive_by_cercle: Seeded,
    annonce_by_cercle: Seeded,
    normal_by_black_listed: Seeded,
}

impl Dsp {
    fn seed(platform: &Platform) -> Self {
        let ctx = platform.ctx();
        let doc = |author, mode, title| seed_document(ctx, MARIE, author, mode, title);
        Dsp {
            normal_by_referent: doc(REFERENT, Normal, "Compte rendu de consultation"),
            restreint_by_referent: doc(REFERENT, Restreint, "Bilan psychologique"),
            prive_by_referent: doc(REFERENT, Prive, "Note privée du médecin référent"),
            prive_by_cercle: doc(CERCLE, Prive, "Note privée du cardiologue"),
            annonce_by_cercle: doc(CERCLE, VisiteAnnonce, "Résultat à annoncer"),
            normal_by_black_listed: doc(BLACK_LISTED, Normal, "Ordonnance <dermatologie> & suivi"),
        }
    }

    fn all(&self) -> [&Seeded; 6] {
        [
            &self.normal_by_referent,
            &self.restreint_by_referent,
            &self.prive_by_referent,
            &self.prive_by_cercle,
            &self.annonce_by_cercle,
            &self.normal_by_black_listed,
        ]
    }
}

fn ids<'a>(docs: impl IntoIterator<Item = &'a Seeded>) -> BTreeSet<String> {
    docs.into_iter().map(|d| d.unique_id.clone()).collect()
}

/// What the policy engine itself lets `subject` list, asked directly.
fn policy_listing(platform: &Platform, subject: &Subject, dsp: &Dsp) -> BTreeSet<String> {
    let ctx = platform.ctx();
    dsp.all()
        .into_iter()
        .filter(|doc| {
            let facts = ctx
                .store()
                .facts_for(
                    subject,
                    &patient_id(MARIE),
                    Some(&doc.entry_uuid),
                    ctx.clock().now(),
                )
                .expect("facts");
            decide(&facts, Operation::List).is_allowed()
        })
        .map(|doc| doc.unique_id.clone())
        .collect()
}

fn assert_sandbox_page(answer: &Answer) {
    assert!(
        answer
            .body
            .contains(r#"<div class="banner" id="sandbox-banner">SANDBOX</div>"#),
        "{}",
        answer.body
    );
    assert_eq!(answer.headers["referrer-policy"], "same-origin");
    assert_eq!(answer.headers["cache-control"], "no-store");
}

#[tokio::test]
async fn a_ticket_opens_the_dsp_once_and_previews_do_not_spend_it() {
    let platform = Platform::start(&TEMPLATE).await;
    let ticket = platform.ticket(REFERENT, MARIE);
    let open = format!("/portal/open?ticket={ticket}");
    let mut browser = platform.browser();

    // A HEAD and each kind of prefetch or preview: answered, not spent.
    let head = browser.head(&open).await;
    assert_eq!(head.status, StatusCode::OK);
    assert!(head.set_cookies().is_empty());
    for header in [
        ("sec-purpose", "prefetch"),
        ("sec-purpose", "prefetch;prerender"),
        ("purpose", "prefetch"),
        ("x-moz", "prefetch"),
        ("x-purpose", "preview"),
    ] {
        let preview = browser.get_with(&open, header).await;
        assert_eq!(preview.status, StatusCode::OK, "{header:?}");
        assert!(preview.set_cookies().is_empty(), "{header:?}");
        assert!(preview.body.contains(r#"id="unspent""#), "{}", preview.body);
        assert_sandbox_page(&preview);
    }
    assert!(browser.cookie("__Host-dspconnect-portal").is_none());

    // The real GET spends it: a session cookie and a 303 to the patient.
    let opened = browser.get(&open).await;
    assert_eq!(opened.status, StatusCode::SEE_OTHER, "{}", opened.body);
    assert_eq!(opened.location(), format!("/portal/patient/{MARIE}"));
    assert_eq!(opened.headers["referrer-policy"], "same-origin");
    let cookies = opened.set_cookies();
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    let cookie = &cookies[0];
    assert!(cookie.starts_with("__Host-dspconnect-portal="), "{cookie}");
    for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(
            cookie.split("; ").any(|part| part == attribute),
            "{attribute} missing in {cookie}"
        );
    }
    assert!(!cookie.contains(&ticket), "the cookie is not the ticket");
    let page = browser.get(opened.location()).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_sandbox_page(&page);

    // Spent: a second GET, even from another browser, is refused.
    let again = platform.browser().get(&open).await;
    assert_eq!(again.status, StatusCode::GONE);
    assert!(again.body.contains("already used"), "{}", again.body);
    assert!(again.set_cookies().is_empty());

    // Unknown, missing and expired tickets each say so.
    let unknown = platform.browser().get("/portal/open?ticket=0123abcd").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(unknown.body.contains("not valid"), "{}", unknown.body);
    let missing = platform.browser().get("/portal/open").await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert!(missing.body.contains("no ticket"), "{}", missing.body);
    let late = platform.ticket(REFERENT, MARIE);
    let (status, _) = platform
        .admin(
            Method::POST,
            "/admin/api/clock/advance",
            Some(serde_json::json!({ "seconds": 180 })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let expired = platform
        .browser()
        .get(&format!("/portal/open?ticket={late}"))
        .await;
    assert_eq!(expired.status, StatusCode::GONE);
    assert!(expired.body.contains("expired"), "{}", expired.body);
}

#[tokio::test]
async fn each_professional_sees_exactly_the_documents_the_policy_allows() {
    let platform = Platform::start(&TEMPLATE).await;
    let dsp = Dsp::seed(&platform);
    // The pharmacist, with no relationship to Marie, sees nothing…
    let without_grant = platform
        .browser()
        .open_ticket(&platform.ticket(PHARMACIST, MARIE))
        .await;
    assert_eq!(without_grant.status, StatusCode::OK);
    assert!(
        without_grant.document_ids().is_empty(),
        "{}",
        without_grant.body
    );
    assert!(without_grant.body.contains(r#"id="no-documents""#));
    // … until Marie gives a code de présence for a consultation.
    let store = platform.ctx().store();
    let now = platform.ctx().clock().now();
    let code = store
        .create_presence_code(&patient_id(MARIE), now, time::Duration::hours(1))
        .expect("code");
    let redeemed = store
        .redeem_presence_code(
            &patient_id(MARIE),
            code.expose(),
            &ehealth(PHARMACIST),
            now,
            time::Duration::hours(4),
        )
        .expect("redeemed");
    assert!(matches!(redeemed, PresenceCodeRedemption::Granted(_)));

    let d = &dsp;
    let cases: [(&str, &str, BTreeSet<String>); 4] = [
        (
            "médecin référent",
            REFERENT,
            ids([
                &d.normal_by_referent,
                &d.restreint_by_referent,
                &d.prive_by_referent,
                &d.annonce_by_cercle,
                &d.normal_by_black_listed,
            ]),
        ),
        (
            "cercle de confiance",
            CERCLE,
            ids([
                &d.normal_by_referent,
                &d.restreint_by_referent,
                &d.prive_by_cercle,
                &d.annonce_by_cercle,
                &d.normal_by_black_listed,
            ]),
        ),
        // Black-listed: nothing, not even what they wrote.
        ("black list", BLACK_LISTED, BTreeSet::new()),
        // A consultation grant opens Normal and Visite d'annonce only.
        (
            "pharmacist with a grant",
            PHARMACIST,
            ids([
                &d.normal_by_referent,
                &d.annonce_by_cercle,
                &d.normal_by_black_listed,
            ]),
        ),
    ];
    for (who, professional, expected) in cases {
        let page = platform
            .browser()
            .open_ticket(&platform.ticket(professional, MARIE))
            .await;
        assert_eq!(page.status, StatusCode::OK, "{who}: {}", page.body);
        let listed: BTreeSet<String> = page.document_ids().into_iter().collect();
        assert_eq!(listed, expected, "{who}");
        assert_eq!(
            listed,
            policy_listing(&platform, &Subject::card(ehealth(professional)), &dsp),
            "{who}: the page and the policy engine agree"
        );
        if expected.is_empty() {
            assert!(page.body.contains(r#"id="no-documents""#), "{who}");
        }
        // Each row: title (escaped), mode in the charter's words, author, date.
        for doc in dsp
            .all()
            .into_iter()
            .filter(|d| expected.contains(&d.unique_id))
        {
            let row_start = page
                .body
                .find(&format!(r#"data-unique-id="{}""#, doc.unique_id))
                .expect("row");
            let row = &page.body
                [row_start..row_start + page.body[row_start..].find("</tr>").expect("row end")];
            let escaped_title = doc
                .title
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;");
            assert!(row.contains(&escaped_title), "{row}");
            let mode = doc.mode.charter_name().replace('\'', "&#39;");
            assert!(row.contains(&mode), "{row}");
            assert!(row.contains(&format!("— {}", doc.author)), "{row}");
            assert!(row.contains("2024-05-17 09:30 UTC"), "{row}");
            assert!(row.contains(r#"name="description""#), "report form: {row}");
        }
        assert!(!page.body.contains("<dermatologie>"), "titles are escaped");
    }
}

#[tokio::test]
async fn documents_open_inline_for_those_who_may_read_them_and_every_read_is_logged() {
    let platform = Platform::start(&TEMPLATE).await;
    let dsp = Dsp::seed(&platform);
    let mut browser = platform.browser();
    let page = browser.open_ticket(&platform.ticket(REFERENT, MARIE)).await;
    assert_eq!(page.status, StatusCode::OK);
    let base = format!("/portal/patient/{MARIE}/document/");

    let shown = browser
        .get(&format!("{base}{}", dsp.normal_by_referent.unique_id))
        .await;
    assert_eq!(shown.status, StatusCode::OK);
    assert_eq!(shown.headers["content-type"], "application/pdf");
    assert_eq!(shown.headers["content-disposition"], "inline");
    assert_eq!(
        shown.body.as_bytes(),
        dsp.normal_by_referent.body.as_slice()
    );

    // Privé of another author: as if it did not exist.
    let hidden = browser
        .get(&format!("{base}{}", dsp.prive_by_cercle.unique_id))
        .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    let unknown = browser.get(&format!("{base}1.2.3.4.5")).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    let trail = platform
        .ctx()
        .store()
        .access_trail(&patient_id(MARIE))
        .expect("trail");
    let referent = Subject::card(ehealth(REFERENT));
    let reads: Vec<(String, bool)> = trail
        .iter()
        .filter(|a| a.subject == referent && a.operation == "read")
        .map(|a| (a.entry_uuid.clone().unwrap_or_default(), a.allowed))
        .collect();
    assert_eq!(
        reads,
        vec![
            (dsp.normal_by_referent.entry_uuid.clone(), true),
            (dsp.prive_by_cercle.entry_uuid.clone(), false),
        ]
    );
    let listed = trail
        .iter()
        .filter(|a| a.subject == referent && a.operation == "list")
        .count();
    assert_eq!(listed, 5, "one list line per document shown");

    // The session opens Marie's DSP only; no session opens nothing.
    let other = browser.get(&format!("/portal/patient/{TOM}")).await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
    let anonymous = platform
        .browser()
        .get(&format!("/portal/patient/{MARIE}"))
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn anomaly_reports_need_the_csrf_token_and_reach_the_admin_list() {
    let platform = Platform::start(&TEMPLATE).await;
    let dsp = Dsp::seed(&platform);
    let mut browser = platform.browser();
    let page = browser.open_ticket(&platform.ticket(CERCLE, MARIE)).await;
    let csrf = page.csrf();
    let action = format!(
        "/portal/patient/{MARIE}/document/{}/anomaly",
        dsp.normal_by_referent.unique_id
    );

    let without = browser.post(&action, &[("description", "x")]).await;
    assert_eq!(without.status, StatusCode::FORBIDDEN);
    assert!(without.body.contains("CSRF"), "{}", without.body);
    let wrong = browser
        .post(&action, &[("csrf", "00"), ("description", "x")])
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let empty = browser
        .post(&action, &[("csrf", &csrf), ("description", "  ")])
        .await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);

    // A form posted from another site is refused even with the token.
    let client = pinned_client(platform.sandbox.ca_certificate_pem());
    let foreign = browser
        .send(
            client
                .post(browser.url(&action))
                .header("origin", "https://evil.example")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("csrf={csrf}&description=x")),
        )
        .await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN);

    let reported = browser
        .post(
            &action,
            &[
                ("csrf", &csrf),
                (
                    "description",
                    "Le poids indiqué est erroné (82 kg, pas 28 kg).",
                ),
            ],
        )
        .await;
    assert_eq!(reported.status, StatusCode::SEE_OTHER, "{}", reported.body);
    let back = browser.get(reported.location()).await;
    assert!(back.body.contains(r#"id="notice""#), "{}", back.body);

    // A document this professional may not read cannot be reported on.
    let refused = browser
        .post(
            &format!(
                "/portal/patient/{MARIE}/document/{}/anomaly",
                dsp.prive_by_referent.unique_id
            ),
            &[("csrf", &csrf), ("description", "x")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);

    let (status, list) = platform
        .admin(Method::GET, "/admin/api/anomaly-reports", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let reports = list["anomaly_reports"].as_array().expect("list");
    assert_eq!(reports.len(), 1, "{list}");
    assert_eq!(
        reports[0]["unique_id"],
        dsp.normal_by_referent.unique_id.as_str()
    );
    assert_eq!(reports[0]["reporter"], CERCLE);
    assert_eq!(reports[0]["patient"], MARIE);
    assert_eq!(
        reports[0]["description"],
        "Le poids indiqué est erroné (82 kg, pas 28 kg)."
    );
    let (_, mine) = platform
        .admin(
            Method::GET,
            &format!("/admin/api/anomaly-reports?patient={TOM}"),
            None,
        )
        .await;
    assert_eq!(mine["anomaly_reports"], serde_json::json!([]));
}

#[tokio::test]
async fn a_patient_sees_their_documents_but_not_a_visite_d_annonce() {
    let platform = Platform::start(&TEMPLATE).await;
    let dsp = Dsp::seed(&platform);
    let mut browser = platform.browser();

    // Sign-in refusals: no login form nonce, a wrong password.
    let forged = browser
        .post(
            "/patient/login",
            &[
                ("csrf", "00"),
                ("kind", "patient"),
                ("identifier", MARIE),
                ("password", PATIENT_PASSWORD),
            ],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let form = browser.get("/patient/login").await;
    assert_sandbox_page(&form);
    let nonce_cookie = form.set_cookies().join(" ");
    assert!(
        nonce_cookie.contains("__Host-dspconnect-login="),
        "{nonce_cookie}"
    );
    assert!(nonce_cookie.contains("HttpOnly; Secure; SameSite=Strict; Path=/"));
    let wrong = browser
        .post(
            "/patient/login",
            &[
                ("csrf", &form.csrf()),
                ("kind", "patient"),
                ("identifier", MARIE),
                ("password", "not-it"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(browser.cookie("__Host-dspconnect-patient").is_none());

    let signed_in = browser.sign_in("patient", MARIE, PATIENT_PASSWORD).await;
    assert_eq!(signed_in.location(), "/patient/");
    let session_cookie = signed_in
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("__Host-dspconnect-patient="))
        .expect("session cookie");
    assert!(session_cookie.contains("HttpOnly; Secure; SameSite=Strict; Path=/"));
    let home = browser.get("/patient/").await;
    assert_eq!(home.status, StatusCode::SEE_OTHER);
    assert_eq!(home.location(), format!("/patient/dsp/{MARIE}"));
    let page = browser.get(home.location()).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_sandbox_page(&page);

    let listed: BTreeSet<String> = page.document_ids().into_iter().collect();
    let d = &dsp;
    assert_eq!(
        listed,
        ids([
            &d.normal_by_referent,
            &d.restreint_by_referent,
            &d.prive_by_referent,
            &d.prive_by_cercle,
            &d.normal_by_black_listed,
        ])
    );
    assert_eq!(
        listed,
        policy_listing(&platform, &Subject::Patient(patient_id(MARIE)), &dsp)
    );
    assert!(!page.body.contains(&dsp.annonce_by_cercle.title));
    assert!(!page.body.contains(&dsp.annonce_by_cercle.unique_id));

    let base = format!("/patient/dsp/{MARIE}/document/");
    let read = browser
        .get(&format!("{base}{}", dsp.prive_by_cercle.unique_id))
        .await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body.as_bytes(), dsp.prive_by_cercle.body.as_slice());
    let hidden = browser
        .get(&format!("{base}{}", dsp.annonce_by_cercle.unique_id))
        .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);

    // Another patient's DSP is not the patient's to open.
    let other = browser.get(&format!("/patient/dsp/{TOM}")).await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
    assert!(other.body.contains("NO-RELATION"), "{}", other.body);

    // Signing out closes the session server-side.
    let csrf = page.csrf();
    let cookie = browser
        .cookie("__Host-dspconnect-patient")
        .expect("cookie")
        .to_owned();
    let out = browser.post("/patient/logout", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    let replayed = browser
        .send(
            pinned_client(platform.sandbox.ca_certificate_pem())
                .get(browser.url(&format!("/patient/dsp/{MARIE}")))
                .header("cookie", format!("__Host-dspconnect-patient={cookie}")),
        )
        .await;
    assert_eq!(replayed.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_access_trail_hides_a_visite_d_annonce_until_it_is_announced() {
    let platform = Platform::start(&TEMPLATE).await;
    let dsp = Dsp::seed(&platform);
    // The référent opens the DSP and reads the Visite d'annonce and a Normal document.
    let mut professional = platform.browser();
    professional
        .open_ticket(&platform.ticket(REFERENT, MARIE))
        .await;
    for doc in [&dsp.annonce_by_cercle, &dsp.normal_by_referent] {
        let read = professional
            .get(&format!(
                "/portal/patient/{MARIE}/document/{}",
                doc.unique_id
            ))
            .await;
        assert_eq!(read.status, StatusCode::OK);
    }

    let mut patient = platform.browser();
    patient.sign_in("patient", MARIE, PATIENT_PASSWORD).await;
    let trail = patient.get(&format!("/patient/dsp/{MARIE}/trail")).await;
    assert_eq!(trail.status, StatusCode::OK, "{}", trail.body);
    assert_sandbox_page(&trail);
    let entries = attribute_values(&trail.body, "data-entry-uuid");
    assert!(
        entries.contains(&dsp.normal_by_referent.entry_uuid),
        "{}",
        trail.body
    );
    assert!(
        !entries.contains(&dsp.annonce_by_cercle.entry_uuid),
        "{}",
        trail.body
    );
    assert!(!trail.body.contains(&dsp.annonce_by_cercle.title));
    assert!(
        trail.body.contains("Anne Weber"),
        "who accessed: {}",
        trail.body
    );
    assert!(trail.body.contains("read the document"));

    // Once announced (a professional moves it to Normal, a new version),
    // the patient sees who read it, the earlier lines included.
    let store = platform.ctx().store();
    let current = store
        .document(&dsp.annonce_by_cercle.entry_uuid)
        .expect("read")
        .expect("document");
    store
        .change_document_mode(
            &current.entry_uuid,
            "urn:uuid:7d0b1d64-6a3e-4c1e-9d55-3f0d7c1b2a10",
            Normal,
            current.metadata.clone(),
            platform.ctx().clock().now(),
        )
        .expect("announced");
    let trail = patient.get(&format!("/patient/dsp/{MARIE}/trail")).await;
    let entries = attribute_values(&trail.body, "data-entry-uuid");
    assert!(
        entries.contains(&dsp.annonce_by_cercle.entry_uuid),
        "{}",
        trail.body
    );
    assert!(trail.body.contains(&dsp.annonce_by_cercle.title));
}

#[tokio::test]
async fn the_patient_edits_consents_and_modes_as_the_charter_allows() {
    let platform = Platform::start(&TEMPLATE).await;
    let dsp = Dsp::seed(&platform);
    let mut browser = platform.browser();
    browser.sign_in("patient", MARIE, PATIENT_PASSWORD).await;
    let page = browser.get(&format!("/patient/dsp/{MARIE}")).await;
    let csrf = page.csrf();
    for form in [
        r#"action="/patient/referent""#,
        r#"action="/patient/cercle""#,
        r#"action="/patient/black-list""#,
        r#"action="/patient/accompagnateurs""#,
        r#"action="/patient/presence-code""#,
        r#"class="mode-change""#,
    ] {
        assert!(page.body.contains(form), "{form} missing");
    }
    let consents = || async {
        let (status, body) = platform
            .admin(Method::GET, &format!("/admin/api/patients/{MARIE}"), None)
            .await;
        assert_eq!(status, StatusCode::OK);
        body
    };
    // Every edit without the token is refused and changes nothing.
    for path in [
        "/patient/referent",
        "/patient/cercle",
        "/patient/black-list",
        "/patient/accompagnateurs",
        "/patient/presence-code",
    ] {
        let refused = browser
            .post(
                path,
                &[("professional", PHARMACIST), ("login", ACCOMPAGNATEUR)],
            )
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{path}");
    }
    let unchanged = consents().await;
    assert_eq!(unchanged["referent"], REFERENT);

    let steps: [EditStep; 8] = [
        (
            "/patient/referent",
            &[("professional", PHARMACIST)],
            "referent",
            serde_json::json!(PHARMACIST),
        ),
        (
            "/patient/referent",
            &[("professional", "")],
            "referent",
            serde_json::Value::Null,
        ),
        (
            "/patient/cercle",
            &[("action", "add"), ("professional", PHARMACIST)],
            "cercle",
            serde_json::json!([CERCLE, PHARMACIST]),
        ),
        (
            "/patient/cercle",
            &[("action", "remove"), ("professional", CERCLE)],
            "cercle",
            serde_json::json!([PHARMACIST]),
        ),
        (
            "/patient/black-list",
            &[("action", "add"), ("professional", CERCLE)],
            "black_list",
            serde_json::json!([CERCLE, BLACK_LISTED]),
        ),
        (
            "/patient/black-list",
            &[("action", "remove"), ("professional", BLACK_LISTED)],
            "black_list",
            serde_json::json!([CERCLE]),
        ),
        (
            "/patient/accompagnateurs",
            &[("action", "remove"), ("login", ACCOMPAGNATEUR)],
            "accompagnateurs",
            serde_json::json!([]),
        ),
        (
            "/patient/accompagnateurs",
            &[("action", "add"), ("login", ACCOMPAGNATEUR)],
            "accompagnateurs",
            serde_json::json!([ACCOMPAGNATEUR]),
        ),
    ];
    for (path, fields, key, expected) in steps {
        let mut with_csrf = vec![("csrf", csrf.as_str())];
        with_csrf.extend_from_slice(fields);
        let answer = browser.post(path, &with_csrf).await;
        assert_eq!(
            answer.status,
            StatusCode::SEE_OTHER,
            "{path}: {}",
            answer.body
        );
        let shown = browser.get(answer.location()).await;
        assert!(shown.body.contains(r#"id="notice""#), "{path}");
        assert_eq!(consents().await[key], expected, "{path} {fields:?}");
    }
    let unknown = browser
        .post(
            "/patient/cercle",
            &[
                ("csrf", &csrf),
                ("action", "add"),
                ("professional", "SBX9999"),
            ],
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.body);

    // The HPD search lists professionals with their choose buttons.
    let found = browser.get("/patient/hpd?q=Muller").await;
    assert_eq!(found.status, StatusCode::OK);
    assert_eq!(
        attribute_values(&found.body, "tr class=\"professional\" data-ehealth-id"),
        vec![PHARMACIST.to_owned()]
    );
    let by_id = browser.get(&format!("/patient/hpd?q={REFERENT}")).await;
    assert_eq!(
        attribute_values(&by_id.body, "tr class=\"professional\" data-ehealth-id"),
        vec![REFERENT.to_owned()]
    );

    // A code de présence, shown once, that a professional can present.
    let code_page = browser
        .post("/patient/presence-code", &[("csrf", &csrf)])
        .await;
    assert_eq!(code_page.status, StatusCode::OK, "{}", code_page.body);
    let marker = r#"id="presence-code">"#;
    let start = code_page.body.find(marker).expect("code") + marker.len();
    let code = &code_page.body[start..start + code_page.body[start..].find('<').expect("end")];
    let redeemed = platform
        .ctx()
        .store()
        .redeem_presence_code(
            &patient_id(MARIE),
            code,
            &ehealth(BLACK_LISTED),
            platform.ctx().clock().now(),
            time::Duration::hours(4),
        )
        .expect("redeem");
    assert!(
        matches!(redeemed, PresenceCodeRedemption::Granted(_)),
        "{code}"
    );

    // Mode changes: allowed ones make a new version; refusals show the rule.
    let mode_of = |unique_id: &str| {
        platform
            .ctx()
            .store()
            .document_by_unique_id(unique_id)
            .expect("read")
            .expect("document")
    };
    let change = |doc: &Seeded, to: ConfidentialityMode| {
        (
            format!("/patient/document/{}/mode", doc.unique_id),
            to.as_str(),
        )
    };
    let (path, to) = change(&dsp.normal_by_referent, Restreint);
    let changed = browser.post(&path, &[("csrf", &csrf), ("mode", to)]).await;
    assert_eq!(changed.status, StatusCode::SEE_OTHER, "{}", changed.body);
    let now_restreint = mode_of(&dsp.normal_by_referent.unique_id);
    assert_eq!(now_restreint.mode, Restreint);
    assert_eq!(now_restreint.version, 2);
    let metadata = String::from_utf8(now_restreint.metadata.clone()).expect("UTF-8");
    assert!(metadata.contains(r#"nodeRepresentation="R""#), "{metadata}");
    assert!(metadata.contains(&now_restreint.entry_uuid), "{metadata}");

    let (path, to) = change(&dsp.prive_by_cercle, Normal);
    let privé_to_normal = browser.post(&path, &[("csrf", &csrf), ("mode", to)]).await;
    assert_eq!(privé_to_normal.status, StatusCode::SEE_OTHER);
    assert_eq!(mode_of(&dsp.prive_by_cercle.unique_id).mode, Normal);

    let (path, to) = change(&dsp.restreint_by_referent, VisiteAnnonce);
    let refused = browser.post(&path, &[("csrf", &csrf), ("mode", to)]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(
        refused.body.contains(r#"data-rule="MODE-TO-ANNONCE""#),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("Refused"));
    let (path, to) = change(&dsp.prive_by_referent, Prive);
    let same = browser.post(&path, &[("csrf", &csrf), ("mode", to)]).await;
    assert_eq!(same.status, StatusCode::CONFLICT);
    assert!(
        same.body.contains(r#"data-rule="MODE-SAME""#),
        "{}",
        same.body
    );
    let (path, to) = change(&dsp.annonce_by_cercle, Normal);
    let hidden = browser.post(&path, &[("csrf", &csrf), ("mode", to)]).await;
    assert_eq!(
        hidden.status,
        StatusCode::NOT_FOUND,
        "a Visite d'annonce is not the patient's to see"
    );
    assert_eq!(
        mode_of(&dsp.annonce_by_cercle.unique_id).mode,
        VisiteAnnonce
    );
    let (path, _) = change(&dsp.normal_by_black_listed, Normal);
    let nonsense = browser
        .post(&path, &[("csrf", &csrf), ("mode", "secret")])
        .await;
    assert_eq!(nonsense.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn an_accompagnateur_reads_as_the_patient_and_edits_nothing() {
    let platform = Platform::start(&TEMPLATE).await;
    let dsp = Dsp::seed(&platform);
    let mut browser = platform.browser();
    browser
        .sign_in("accompagnateur", ACCOMPAGNATEUR, ACCOMPAGNATEUR_PASSWORD)
        .await;
    let home = browser.get("/patient/").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(
        home.body
            .contains(&format!(r#"href="/patient/dsp/{MARIE}""#)),
        "{}",
        home.body
    );
    let csrf = home.csrf();

    let page = browser.get(&format!("/patient/dsp/{MARIE}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let listed: BTreeSet<String> = page.document_ids().into_iter().collect();
    assert_eq!(
        listed,
        policy_listing(
            &platform,
            &Subject::Accompagnateur(
                dspconnect_sandbox::policy::AccompagnateurId::new(ACCOMPAGNATEUR).expect("login")
            ),
            &dsp
        )
    );
    assert!(!listed.contains(&dsp.annonce_by_cercle.unique_id));
    assert_eq!(listed.len(), 5);
    for form in [
        "/patient/referent",
        "/patient/cercle",
        "/patient/black-list",
        "/patient/accompagnateurs",
        "/patient/presence-code",
        "mode-change",
    ] {
        assert!(!page.body.contains(form), "an edit form ({form}) is shown");
    }
    let read = browser
        .get(&format!(
            "/patient/dsp/{MARIE}/document/{}",
            dsp.prive_by_referent.unique_id
        ))
        .await;
    assert_eq!(
        read.status,
        StatusCode::OK,
        "the accompagnateur reads Privé"
    );

    // Every edit, with a valid token, is refused server-side.
    let mode = format!(
        "/patient/document/{}/mode",
        dsp.normal_by_referent.unique_id
    );
    for (path, fields) in [
        ("/patient/referent", vec![("professional", PHARMACIST)]),
        (
            "/patient/cercle",
            vec![("action", "add"), ("professional", PHARMACIST)],
        ),
        (
            "/patient/black-list",
            vec![("action", "add"), ("professional", REFERENT)],
        ),
        (
            "/patient/accompagnateurs",
            vec![("action", "remove"), ("login", ACCOMPAGNATEUR)],
        ),
        ("/patient/presence-code", vec![]),
        (mode.as_str(), vec![("mode", "restreint")]),
    ] {
        let mut with_csrf = vec![("csrf", csrf.as_str())];
        with_csrf.extend(fields);
        let refused = browser.post(path, &with_csrf).await;
        assert_eq!(
            refused.status,
            StatusCode::FORBIDDEN,
            "{path}: {}",
            refused.body
        );
        assert!(refused.body.contains("accompagnateur"), "{}", refused.body);
    }
    let hpd = browser.get("/patient/hpd?q=Weber").await;
    assert_eq!(hpd.status, StatusCode::FORBIDDEN);
    let (_, consents) = platform
        .admin(Method::GET, &format!("/admin/api/patients/{MARIE}"), None)
        .await;
    assert_eq!(consents["referent"], REFERENT);
    assert_eq!(consents["black_list"], serde_json::json!([BLACK_LISTED]));
    assert_eq!(
        consents["accompagnateurs"],
        serde_json::json!([ACCOMPAGNATEUR])
    );
    assert_eq!(
        platform
            .ctx()
            .store()
            .document_by_unique_id(&dsp.normal_by_referent.unique_id)
            .expect("read")
            .expect("doc")
            .mode,
        Normal
    );

    // A DSP whose patient did not name them stays closed.
    let other = browser.get(&format!("/patient/dsp/{TOM}")).await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
    // The trail is theirs to read, and their own reading is in it.
    let trail = browser.get(&format!("/patient/dsp/{MARIE}/trail")).await;
    assert_eq!(trail.status, StatusCode::OK);
    assert!(
        trail.body.contains("accompagnateur Jean Reuter"),
        "{}",
        trail.body
    );
    assert!(!trail.body.contains(&dsp.annonce_by_cercle.entry_uuid));
}

#[tokio::test]
async fn hostile_text_is_shown_escaped() {
    let platform = Platform::start(&TEMPLATE).await;
    let hostile = "2001010100111";
    let store = platform.ctx().store();
    store
        .add_patient(
            &NewPatient {
                id: patient_id(hostile),
                given_name: "<script>alert(1)</script>".into(),
                family_name: "O'Brien \"&\"".into(),
            },
            Some("sandbox-patient"),
            platform.ctx().clock().now(),
        )
        .expect("patient");
    store
        .set_referent(
            &patient_id(hostile),
            Some(&ehealth(REFERENT)),
            platform.ctx().clock().now(),
        )
        .expect("referent");
    seed_document(
        platform.ctx(),
        hostile,
        REFERENT,
        Normal,
        r#"<img src=x onerror="alert(2)">"#,
    );
    let page = platform
        .browser()
        .open_ticket(&platform.ticket(REFERENT, hostile))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(!page.body.contains("<script>alert"), "{}", page.body);
    assert!(!page.body.contains("<img src=x"), "{}", page.body);
    assert!(page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(page.body.contains("O&#39;Brien &quot;&amp;&quot;"));
    assert!(
        page.body
            .contains("&lt;img src=x onerror=&quot;alert(2)&quot;&gt;")
    );
    assert!(
        page.headers["content-security-policy"]
            .to_str()
            .expect("ASCII")
            .starts_with("default-src 'none'"),
        "pages run no script"
    );
}
