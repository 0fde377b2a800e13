//! Fault injection seen by a real HTTPS client: each kind of fault, the
//! "lost answer after a successful registration" (the document really was
//! registered), the paths it covers, and the reproducibility of a seeded
//! plan.

mod common;

use std::path::PathBuf;
use std::sync::LazyLock;
use std::time::Duration;

use common::xds::{Doc, ITI18, Platform, Professional, cx, start};
use dspconnect_sandbox::faults::{FaultPlan, FaultRule};
use dspconnect_sandbox::pki::Pki;
use dspconnect_sandbox::store::demo::{DEMO_PATIENT_WITH_RELATIONS, DEMO_REFERENT_GP};
use dspconnect_sandbox::xds::{REGISTRY_PATH, REPOSITORY_PATH};
use ihe::xds::*;

static PKI_TEMPLATE: LazyLock<PathBuf> = LazyLock::new(|| {
    let dir = common::fresh_shared_dir("faults-tests").join("template");
    Pki::load_or_create(&dir).expect("PKI created");
    dir
});

const MARIE: &str = DEMO_PATIENT_WITH_RELATIONS;

fn plan(rule: FaultRule, seed: Option<u64>) -> FaultPlan {
    FaultPlan {
        seed,
        rules: vec![rule],
    }
}

fn rule(prefix: &str) -> FaultRule {
    FaultRule {
        path_prefix: prefix.into(),
        ..FaultRule::default()
    }
}

/// The ITI-18 request body of a FindDocuments on Marie's DSP.
fn find_documents(gp: &Professional) -> Vec<u8> {
    let query = AdhocQueryRequest::new(
        &StoredQuery::FindDocuments(FindDocumentsQuery {
            patient_id: cx(MARIE),
            statuses: vec![AvailabilityStatus::Approved],
            ..FindDocumentsQuery::default()
        }),
        ReturnType::LeafClass,
    )
    .expect("query")
    .to_element()
    .expect("writable");
    gp.envelope(query, ITI18, REGISTRY_PATH).0
}

const SOAP: &str = "application/soap+xml; charset=UTF-8";

async fn health(platform: &Platform) -> reqwest::StatusCode {
    common::pinned_client(&platform.ca_pem)
        .get(platform.url("/health"))
        .send()
        .await
        .expect("health answers")
        .status()
}

#[tokio::test]
async fn unavailable_calls_are_answered_503_and_control_paths_never() {
    let (sandbox, platform) = start(&PKI_TEMPLATE).await;
    let gp = platform.professional(DEMO_REFERENT_GP);
    platform
        .context
        .faults()
        .set(plan(
            FaultRule {
                unavailable_percent: 100,
                ..rule("/")
            },
            None,
        ))
        .expect("a valid plan");
    let answer = gp
        .send(REGISTRY_PATH, SOAP, find_documents(&gp))
        .await
        .expect("an answer");
    assert_eq!(answer.status(), 503);
    assert_eq!(answer.headers()["retry-after"], "1");
    assert!(answer.text().await.expect("body").starts_with("SANDBOX"));
    // The IdP's path is covered too.
    let idp = gp
        .send("/SAML2Server/AuthenticationService", SOAP, Vec::new())
        .await
        .expect("an answer");
    assert_eq!(idp.status(), 503);
    // The health check is never faulted.
    assert_eq!(health(&platform).await, 200);

    platform.context.faults().clear();
    let answer = gp
        .send(REGISTRY_PATH, SOAP, find_documents(&gp))
        .await
        .expect("an answer");
    assert_eq!(answer.status(), 200);
    sandbox.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn delayed_calls_outlast_a_short_client_timeout_and_then_succeed() {
    let (sandbox, platform) = start(&PKI_TEMPLATE).await;
    let gp = platform.professional(DEMO_REFERENT_GP);
    platform
        .context
        .faults()
        .set(plan(
            FaultRule {
                delay_percent: 100,
                delay_ms: 1500,
                ..rule("/xds/")
            },
            None,
        ))
        .expect("a valid plan");
    let impatient = common::pinned_client(&platform.ca_pem)
        .post(platform.url(REGISTRY_PATH))
        .header("content-type", SOAP)
        .timeout(Duration::from_millis(300))
        .body(find_documents(&gp))
        .send()
        .await;
    assert!(
        impatient.as_ref().is_err_and(reqwest::Error::is_timeout),
        "{impatient:?}"
    );
    let patient = gp
        .send(REGISTRY_PATH, SOAP, find_documents(&gp))
        .await
        .expect("an answer");
    assert_eq!(patient.status(), 200);
    assert!(
        patient
            .text()
            .await
            .expect("body")
            .contains("AdhocQueryResponse")
    );
    sandbox.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_cut_answer_starts_and_breaks_off() {
    let (sandbox, platform) = start(&PKI_TEMPLATE).await;
    let gp = platform.professional(DEMO_REFERENT_GP);
    platform
        .context
        .faults()
        .set(plan(
            FaultRule {
                cut_percent: 100,
                ..rule("/xds/registry")
            },
            None,
        ))
        .expect("a valid plan");
    let answer = gp
        .send(REGISTRY_PATH, SOAP, find_documents(&gp))
        .await
        .expect("the status line and headers arrive");
    assert_eq!(answer.status(), 200);
    // reqwest reports a body that breaks off while it reads it as a
    // decoding error whose cause is the connection's end.
    let body = answer.bytes().await;
    assert!(
        body.as_ref().is_err_and(|e| e.is_body() || e.is_decode()),
        "{body:?}"
    );
    let cause = format!("{:?}", body.expect_err("checked above"));
    assert!(cause.contains("Body"), "{cause}");
    sandbox.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_lost_answer_follows_a_registration_that_happened() {
    let (sandbox, platform) = start(&PKI_TEMPLATE).await;
    let gp = platform.professional(DEMO_REFERENT_GP);
    platform
        .context
        .faults()
        .set(plan(
            FaultRule {
                lost_answer_percent: 100,
                ..rule(REPOSITORY_PATH)
            },
            None,
        ))
        .expect("a valid plan");
    let doc = Doc::new(MARIE, DEMO_REFERENT_GP, "N");
    let request = doc.request(platform.now());
    let (content_type, body, _) = gp.submit_body(&request, &doc.content, &doc.mime_type);
    let lost = gp.send(REPOSITORY_PATH, &content_type, body.clone()).await;
    let error = lost.expect_err("no answer arrives");
    assert!(
        error.is_request() && !error.is_timeout(),
        "the connection broke before a status line: {error:?}"
    );

    platform.context.faults().clear();
    // The registration happened: the entry reads back with the document's
    // hash, and the retry is a duplicate.
    let entries = gp.get_documents(&[&doc.unique_id]).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(
        entries[0].hash.as_ref().and_then(Checked::valid),
        Some(&Sha1Hash::of(&doc.content))
    );
    let retry = gp.submit(&request, &doc.content, &doc.mime_type).await;
    assert_eq!(retry.single_error().0, "XDSDuplicateUniqueIdInRegistry");
    assert_eq!(
        gp.retrieve(&[&doc.unique_id])
            .await
            .document(&doc.unique_id),
        doc.content
    );
    sandbox.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_seeded_plan_faults_the_same_calls_every_time() {
    let (sandbox, platform) = start(&PKI_TEMPLATE).await;
    let gp = platform.professional(DEMO_REFERENT_GP);
    let seeded = plan(
        FaultRule {
            unavailable_percent: 50,
            ..rule("/xds/")
        },
        Some(2026),
    );
    let mut runs = Vec::new();
    for _ in 0..2 {
        platform
            .context
            .faults()
            .set(seeded.clone())
            .expect("a valid plan");
        let mut statuses = Vec::new();
        for _ in 0..24 {
            let answer = gp
                .send(REGISTRY_PATH, SOAP, find_documents(&gp))
                .await
                .expect("an answer");
            statuses.push(answer.status().as_u16());
        }
        runs.push(statuses);
    }
    assert_eq!(runs[0], runs[1]);
    assert!(
        runs[0].contains(&503) && runs[0].contains(&200),
        "{:?}",
        runs[0]
    );
    assert_eq!(platform.context.faults().plan(), seeded);
    sandbox.shutdown().await.expect("clean shutdown");
}
