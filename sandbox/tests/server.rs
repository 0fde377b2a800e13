//! The HTTPS server over a real TLS connection: a client that pins the
//! sandbox CA (and nothing else) gets through, others are refused.

mod common;

use std::path::PathBuf;
use std::sync::LazyLock;

use axum::Router;
use axum::body::Bytes;
use axum::routing::post;
use dspconnect_sandbox::pki::Pki;
use dspconnect_sandbox::server::{Mount, SANDBOX_HEADER};
use dspconnect_sandbox::{Sandbox, SandboxConfig, SandboxError};

/// One PKI for every sandbox started by these tests (RSA keys are slow to
/// make); each sandbox gets its own data directory holding a copy of it.
static PKI_TEMPLATE: LazyLock<PathBuf> = LazyLock::new(|| {
    let dir = common::fresh_shared_dir("server-tests").join("template");
    Pki::load_or_create(&dir).expect("PKI created");
    dir
});

fn config() -> SandboxConfig {
    SandboxConfig::new(common::data_dir_with_pki(&PKI_TEMPLATE))
}

#[tokio::test]
async fn serves_health_and_the_sandbox_page_to_a_client_pinning_its_ca() {
    let sandbox = Sandbox::start(config()).await.expect("started");
    assert_ne!(
        sandbox.local_addr().port(),
        0,
        "the chosen port is reported"
    );
    assert!(sandbox.local_addr().ip().is_loopback());
    assert_eq!(
        sandbox.base_url(),
        format!("https://127.0.0.1:{}", sandbox.local_addr().port())
    );
    assert_eq!(
        sandbox.ca_certificate_pem(),
        std::fs::read_to_string(sandbox.ca_certificate_path()).expect("CA file")
    );
    let client = common::pinned_client(sandbox.ca_certificate_pem());

    let health = client
        .get(format!("{}/health", sandbox.base_url()))
        .send()
        .await
        .expect("health answered");
    assert_eq!(health.status(), 200);
    assert!(health.headers().contains_key("x-request-id"));
    assert!(
        health.headers()[SANDBOX_HEADER]
            .to_str()
            .expect("ASCII")
            .starts_with("SANDBOX")
    );
    let body: serde_json::Value =
        serde_json::from_str(&health.text().await.expect("body")).expect("JSON");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["sandbox"], true);

    let index = client
        .get(format!("{}/", sandbox.base_url()))
        .header("x-request-id", "test-request-42")
        .send()
        .await
        .expect("index answered");
    assert_eq!(index.status(), 200);
    assert_eq!(index.headers()["x-request-id"], "test-request-42");
    let page = index.text().await.expect("page");
    assert!(page.contains(">SANDBOX<"), "{page}");
    assert!(page.contains("nothing issued here is valid on the real platform"));
    assert!(page.contains("<code>/health</code>"));
    assert!(page.contains(&sandbox.pki().platform_ca_fingerprint().to_string()));

    let missing = client
        .get(format!("{}/no/such/thing", sandbox.base_url()))
        .send()
        .await
        .expect("answered");
    assert_eq!(missing.status(), 404);
    assert!(missing.text().await.expect("body").starts_with("SANDBOX"));

    sandbox.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_client_that_does_not_pin_the_sandbox_ca_is_refused() {
    let sandbox = Sandbox::start(config()).await.expect("started");
    let url = format!("{}/health", sandbox.base_url());

    // The system's roots (rustls-platform-verifier) do not know the sandbox.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let system_roots = reqwest::Client::builder().build().expect("client");
    let refused = system_roots.get(&url).send().await;
    assert!(
        refused.as_ref().is_err_and(reqwest::Error::is_connect),
        "{refused:?}"
    );

    // Pinning another CA of the sandbox (the LuxTrust test CA) is no better.
    let wrong_pin = common::pinned_client(sandbox.pki().luxtrust_ca_pem());
    let refused = wrong_pin.get(&url).send().await;
    assert!(
        refused.as_ref().is_err_and(reqwest::Error::is_connect),
        "{refused:?}"
    );

    // The server was there all along.
    let pinned = common::pinned_client(sandbox.ca_certificate_pem());
    assert_eq!(pinned.get(&url).send().await.expect("ok").status(), 200);
    sandbox.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn mounted_routes_are_served_listed_and_body_limited() {
    let config = config().with_max_body_bytes(1024);
    let data_dir = config.data_dir.clone();
    let sandbox = Sandbox::new(config)
        .mount(move |context| {
            assert_eq!(context.data_dir(), data_dir.as_path());
            let router = Router::new().route(
                "/test/count-bytes",
                post(|body: Bytes| async move { body.len().to_string() }),
            );
            Ok(Mount::new(router)
                .endpoint("POST", "/test/count-bytes", "counts the bytes it receives")
                .body_limit(64))
        })
        .launch()
        .await
        .expect("started");
    let client = common::pinned_client(sandbox.ca_certificate_pem());
    let base = sandbox.base_url();

    let page = client
        .get(format!("{base}/"))
        .send()
        .await
        .expect("index")
        .text()
        .await
        .expect("page");
    assert!(page.contains("<code>/test/count-bytes</code>"));
    assert!(page.contains("counts the bytes it receives"));

    let at_limit = client
        .post(format!("{base}/test/count-bytes"))
        .body(vec![b'x'; 64])
        .send()
        .await
        .expect("answered");
    assert_eq!(at_limit.status(), 200);
    assert_eq!(at_limit.text().await.expect("body"), "64");

    let over_mount_limit = client
        .post(format!("{base}/test/count-bytes"))
        .body(vec![b'x'; 65])
        .send()
        .await
        .expect("answered");
    assert_eq!(over_mount_limit.status(), 413);

    // The sandbox's own routes keep the configured default (1024 bytes).
    let over_default = client
        .post(format!("{base}/health"))
        .body(vec![b'x'; 1025])
        .send()
        .await
        .expect("answered");
    assert_eq!(over_default.status(), 413);

    sandbox.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn shutdown_stops_serving_and_a_restart_keeps_the_same_ca() {
    let config = config();
    let first = Sandbox::start(config.clone()).await.expect("started");
    let ca = first.ca_certificate_pem().to_owned();
    let address = first.local_addr();
    let client = common::pinned_client(&ca);
    let url = format!("{}/health", first.base_url());
    assert_eq!(client.get(&url).send().await.expect("up").status(), 200);

    first.shutdown().await.expect("clean shutdown");
    assert!(
        tokio::net::TcpStream::connect(address).await.is_err(),
        "still accepting after shutdown"
    );

    let second = Sandbox::start(config.clone().with_port(address.port()))
        .await
        .expect("restarted on the same port");
    assert_eq!(second.ca_certificate_pem(), ca);
    // The client pinned to the first start's CA trusts the second start.
    assert_eq!(client.get(&url).send().await.expect("up").status(), 200);
    second.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_second_sandbox_on_the_same_data_directory_is_refused() {
    let config = config();
    let first = Sandbox::start(config.clone()).await.expect("started");
    match Sandbox::start(config.clone()).await {
        Err(error @ SandboxError::DataDirInUse { .. }) => {
            assert!(error.to_string().contains("another sandbox"), "{error}");
        }
        other => panic!("expected DataDirInUse, got {other:?}"),
    }
    first.shutdown().await.expect("clean shutdown");
    let again = Sandbox::start(config)
        .await
        .expect("the lock is released at shutdown");
    again.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_port_in_use_is_reported() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    match Sandbox::start(config().with_port(port)).await {
        Err(SandboxError::Bind { address, .. }) => assert_eq!(address.port(), port),
        other => panic!("expected Bind, got {other:?}"),
    }
}
