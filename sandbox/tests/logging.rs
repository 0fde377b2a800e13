//! Request logs name the route and the request id, never a body, a query
//! string or the concrete path (which may carry a bearer ticket).
//! (Its own test binary: it installs the process-wide tracing subscriber.)

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::routing::post;
use dspconnect_sandbox::pki::Pki;
use dspconnect_sandbox::server::Mount;
use dspconnect_sandbox::{Sandbox, SandboxConfig};

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
async fn request_logs_carry_route_and_id_but_no_body_query_or_ticket() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let data_dir = common::fresh_shared_dir("logging-tests").join("data");
    Pki::load_or_create(&data_dir).expect("PKI");
    let sandbox = Sandbox::new(SandboxConfig::new(&data_dir))
        .mount(|_| {
            Ok(Mount::new(Router::new().route(
                "/test/tickets/{ticket}",
                post(|body: Bytes| async move { body.len().to_string() }),
            )))
        })
        .launch()
        .await
        .expect("started");
    let client = common::pinned_client(sandbox.ca_certificate_pem());
    let answer = client
        .post(format!(
            "{}/test/tickets/TICKET-SECRET-1?code=QUERY-SECRET-2",
            sandbox.base_url()
        ))
        .header("x-request-id", "log-test-7")
        .body("BODY-SECRET-3")
        .send()
        .await
        .expect("answered");
    assert_eq!(answer.status(), 200);
    sandbox.shutdown().await.expect("clean shutdown");

    let log = String::from_utf8(captured.0.lock().expect("log buffer").clone()).expect("UTF-8");
    let request_line = log
        .lines()
        .find(|line| line.contains("request_id=log-test-7") && line.contains("status="))
        .unwrap_or_else(|| panic!("no line for the request in:\n{log}"));
    assert!(
        request_line.contains("route=/test/tickets/{ticket}"),
        "{request_line}"
    );
    assert!(request_line.contains("status=200"), "{request_line}");
    for secret in ["TICKET-SECRET-1", "QUERY-SECRET-2", "BODY-SECRET-3"] {
        assert!(!log.contains(secret), "{secret} logged:\n{log}");
    }
}
