//! The portals in a real browser: headless Chromium (Debian `chromium`)
//! trusting the sandbox CA through its own NSS database (certificate
//! verification stays on; nothing else is trusted), checked against the
//! policy engine.
//!
//! - The professional portal: Chromium opens a ticket URL (`--dump-dom`)
//!   and the DOM lists exactly the documents the policy lets that
//!   professional list.
//! - The patient portal: Chromium is driven over the DevTools protocol
//!   (a WebSocket client here) to sign in with the login form, and the
//!   patient's page lists their documents but not the Visite d'annonce.
//!
//! Needs `chromium` and `certutil` (Debian `libnss3-tools`); it fails with
//! the install command when either is missing. It takes a few seconds, so
//! it stays in the default run.

mod common;
mod portal_support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use dspconnect::model::ConfidentialityMode::{Normal, Prive, Restreint, VisiteAnnonce};
use dspconnect_sandbox::policy::{Operation, Subject, decide};
use dspconnect_sandbox::store::TicketRedemption;
use futures_util::{SinkExt, StreamExt};
use portal_support::*;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_tungstenite::tungstenite::Message;

/// Longest a browser step may take before the test gives up.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

fn tool(name: &str, package: &str) -> PathBuf {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!("`{name}` is not installed; install it: apt-get install -y {package}")
        })
}

/// A Chromium home whose NSS database trusts the sandbox CA (and only it:
/// the database is new), and a profile directory.
struct Browser {
    chromium: PathBuf,
    home: PathBuf,
    profile: PathBuf,
}

impl Browser {
    fn new(root: &Path, ca_pem_path: &Path) -> Self {
        let chromium = tool("chromium", "chromium");
        let certutil = tool("certutil", "libnss3-tools");
        let home = root.join("home");
        let nssdb = home.join(".pki/nssdb");
        std::fs::create_dir_all(&nssdb).expect("NSS directory");
        let database = format!("sql:{}", nssdb.display());
        let run = |args: &[&str]| {
            let output = std::process::Command::new(&certutil)
                .args(args)
                .output()
                .expect("certutil runs");
            assert!(
                output.status.success(),
                "certutil {args:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        };
        run(&["-N", "-d", &database, "--empty-password"]);
        let ca = ca_pem_path.to_str().expect("UTF-8 path");
        // "C,," : a CA trusted to issue server certificates.
        run(&[
            "-A",
            "-d",
            &database,
            "-n",
            "dspconnect-sandbox",
            "-t",
            "C,,",
            "-i",
            ca,
        ]);
        Self {
            chromium,
            home,
            profile: root.join("profile"),
        }
    }

    fn command(&self) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(&self.chromium);
        command
            .env("HOME", &self.home)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--no-default-browser-check",
            ])
            .arg(format!("--user-data-dir={}", self.profile.display()))
            .stdin(Stdio::null())
            .kill_on_drop(true);
        command
    }

    /// The DOM Chromium builds for `url`.
    async fn dump_dom(&self, url: &str) -> String {
        let mut command = self.command();
        command.arg("--dump-dom").arg(url);
        let output = tokio::time::timeout(STEP_TIMEOUT, command.output())
            .await
            .expect("chromium --dump-dom finished in time")
            .expect("chromium runs");
        assert!(
            output.status.success(),
            "chromium: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("UTF-8 DOM")
    }

    /// Chromium with the DevTools protocol on a port it chooses.
    async fn devtools(&self) -> DevTools {
        let mut command = self.command();
        command
            .arg("--remote-debugging-port=0")
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("chromium starts");
        let stderr = child.stderr.take().expect("stderr piped");
        let mut lines = BufReader::new(stderr).lines();
        let url = tokio::time::timeout(STEP_TIMEOUT, async {
            while let Some(line) = lines.next_line().await.expect("stderr readable") {
                if let Some(at) = line.find("ws://") {
                    return line[at..].trim().to_owned();
                }
            }
            panic!("chromium exited without a DevTools address");
        })
        .await
        .expect("DevTools address in time");
        // Keep draining stderr so the browser never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let (socket, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .expect("DevTools WebSocket");
        DevTools {
            _child: child,
            socket,
            next_id: 0,
        }
    }
}

/// A Chrome DevTools protocol connection (flat sessions).
struct DevTools {
    _child: tokio::process::Child,
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    next_id: u64,
}

impl DevTools {
    async fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        self.socket
            .send(Message::text(message.to_string()))
            .await
            .expect("DevTools send");
        tokio::time::timeout(STEP_TIMEOUT, async {
            loop {
                let frame = self
                    .socket
                    .next()
                    .await
                    .expect("DevTools open")
                    .expect("DevTools frame");
                let Message::Text(text) = frame else { continue };
                let answer: Value = serde_json::from_str(&text).expect("DevTools JSON");
                if answer["id"] == json!(id) {
                    if let Some(error) = answer.get("error") {
                        panic!("{method}: {error}");
                    }
                    return answer["result"].clone();
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{method} answered in time"))
    }

    /// A new page, attached: its session id.
    async fn new_page(&mut self) -> String {
        let target = self
            .call(None, "Target.createTarget", json!({ "url": "about:blank" }))
            .await;
        let attached = self
            .call(
                None,
                "Target.attachToTarget",
                json!({ "targetId": target["targetId"], "flatten": true }),
            )
            .await;
        attached["sessionId"]
            .as_str()
            .expect("session id")
            .to_owned()
    }

    async fn evaluate(&mut self, session: &str, expression: &str) -> Value {
        let result = self
            .call(
                Some(session),
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true }),
            )
            .await;
        result["result"]["value"].clone()
    }

    /// Waits until the page at `path` has loaded; its DOM.
    async fn wait_for_page(&mut self, session: &str, path: &str) -> String {
        let started = Instant::now();
        loop {
            let state = self
                .evaluate(session, "location.pathname + ' ' + document.readyState")
                .await;
            if state == json!(format!("{path} complete")) {
                return self
                    .evaluate(session, "document.documentElement.outerHTML")
                    .await
                    .as_str()
                    .expect("DOM text")
                    .to_owned();
            }
            if started.elapsed() > STEP_TIMEOUT {
                let dom = self.evaluate(session, "document.body.innerText").await;
                panic!("the page never reached {path} (now: {state}): {dom}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn listed_ids(dom: &str) -> BTreeSet<String> {
    attribute_values(dom, "tr class=\"document\" data-unique-id")
        .into_iter()
        .collect()
}

fn policy_listing(platform: &Platform, subject: &Subject, docs: &[&Seeded]) -> BTreeSet<String> {
    let ctx = platform.ctx();
    docs.iter()
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

#[tokio::test]
async fn chromium_sees_exactly_what_the_policy_allows_in_both_portals() {
    let started = Instant::now();
    let template = pki_template("portal-chromium-tests");
    let platform = Platform::start(&template).await;
    let ctx = platform.ctx();
    let normal = seed_document(ctx, MARIE, REFERENT, Normal, "Compte rendu");
    let restreint = seed_document(ctx, MARIE, REFERENT, Restreint, "Bilan");
    let prive_referent = seed_document(ctx, MARIE, REFERENT, Prive, "Note du référent");
    let prive_cercle = seed_document(ctx, MARIE, CERCLE, Prive, "Note du cardiologue");
    let annonce = seed_document(ctx, MARIE, CERCLE, VisiteAnnonce, "Résultat à annoncer");
    let docs = [
        &normal,
        &restreint,
        &prive_referent,
        &prive_cercle,
        &annonce,
    ];
    let browser = Browser::new(
        &platform.sandbox.data_dir().join("chromium"),
        &platform.sandbox.ca_certificate_path(),
    );

    // The professional portal: the cercle de confiance's cardiologist.
    let ticket = platform.ticket(CERCLE, MARIE);
    let dom = browser
        .dump_dom(&platform.url(&format!("/portal/open?ticket={ticket}")))
        .await;
    assert!(dom.contains(r#"id="sandbox-banner">SANDBOX<"#), "{dom}");
    let expected: BTreeSet<String> = [&normal, &restreint, &prive_cercle, &annonce]
        .iter()
        .map(|d| d.unique_id.clone())
        .collect();
    assert_eq!(listed_ids(&dom), expected, "{dom}");
    assert_eq!(
        listed_ids(&dom),
        policy_listing(&platform, &Subject::card(ehealth(CERCLE)), &docs)
    );
    assert!(dom.contains("Résultat à annoncer"));
    // Chromium spent the ticket once, on its real navigation.
    assert_eq!(
        ctx.store()
            .redeem_portal_ticket(&ticket, ctx.clock().now())
            .expect("redeem"),
        TicketRedemption::AlreadyUsed
    );

    // The patient portal: sign in through the form, as a person would.
    let mut devtools = browser.devtools().await;
    let page = devtools.new_page().await;
    devtools
        .call(
            Some(&page),
            "Page.navigate",
            json!({ "url": platform.url("/patient/login") }),
        )
        .await;
    devtools.wait_for_page(&page, "/patient/login").await;
    let submitted = devtools
        .evaluate(
            &page,
            &format!(
                "(() => {{ const form = document.getElementById('patient-login'); \
                 form.elements.identifier.value = '{MARIE}'; \
                 form.elements.password.value = '{PATIENT_PASSWORD}'; \
                 form.requestSubmit(); return true; }})()"
            ),
        )
        .await;
    assert_eq!(submitted, json!(true));
    let dom = devtools
        .wait_for_page(&page, &format!("/patient/dsp/{MARIE}"))
        .await;
    assert!(dom.contains(r#"id="sandbox-banner">SANDBOX<"#), "{dom}");
    let expected: BTreeSet<String> = [&normal, &restreint, &prive_referent, &prive_cercle]
        .iter()
        .map(|d| d.unique_id.clone())
        .collect();
    assert_eq!(listed_ids(&dom), expected, "{dom}");
    assert_eq!(
        listed_ids(&dom),
        policy_listing(&platform, &Subject::Patient(patient_id(MARIE)), &docs)
    );
    assert!(!dom.contains(&annonce.unique_id));
    assert!(!dom.contains("Résultat à annoncer"));

    eprintln!(
        "headless Chromium check of both portals took {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
