//! The portals never log a secret: not the ticket, not a session cookie,
//! not a password, a code de présence or the admin token — even with every
//! log level on. (Its own test binary: it installs the process-wide
//! tracing subscriber.)

mod common;
mod portal_support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use portal_support::*;
use reqwest::{Method, StatusCode};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_secret_reaches_the_log() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let template = pki_template("portal-logging-tests");
    let platform = Platform::start(&template).await;
    let mut secrets = vec![platform.admin_token.clone()];

    let ticket = platform.ticket(REFERENT, MARIE);
    secrets.push(ticket.clone());
    let mut professional = platform.browser();
    let page = professional.open_ticket(&ticket).await;
    assert_eq!(page.status, StatusCode::OK);
    secrets.push(
        professional
            .cookie("__Host-dspconnect-portal")
            .expect("session")
            .to_owned(),
    );
    secrets.push(page.csrf());

    let mut patient = platform.browser();
    patient.sign_in("patient", MARIE, PATIENT_PASSWORD).await;
    secrets.push(PATIENT_PASSWORD.to_owned());
    let session = patient
        .cookie("__Host-dspconnect-patient")
        .expect("session")
        .to_owned();
    secrets.push(session);
    let dsp = patient.get(&format!("/patient/dsp/{MARIE}")).await;
    let code_page = patient
        .post("/patient/presence-code", &[("csrf", &dsp.csrf())])
        .await;
    assert_eq!(code_page.status, StatusCode::OK);
    let marker = r#"id="presence-code">"#;
    let start = code_page.body.find(marker).expect("code") + marker.len();
    secrets.push(code_page.body[start..start + 9].to_owned());

    let (status, created) = platform
        .admin(
            Method::POST,
            &format!("/admin/api/patients/{MARIE}/presence-codes"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    secrets.push(created["code"].as_str().expect("code").to_owned());

    platform.sandbox.shutdown().await.expect("clean shutdown");
    let log = String::from_utf8(captured.0.lock().expect("log buffer").clone()).expect("UTF-8");
    assert!(
        log.contains("route=/portal/open"),
        "the requests were logged:\n{log}"
    );
    assert!(log.contains("portal ticket redeemed"), "{log}");
    for secret in &secrets {
        assert!(!secret.is_empty());
        // Not in full, and not in any 16-character piece either.
        let piece = &secret[..secret.len().min(16)];
        assert!(
            !log.contains(piece),
            "a secret ({piece}…) was logged:\n{log}"
        );
    }
}
