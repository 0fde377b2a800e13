//! What the portal tests share: a started sandbox with the admin token, a
//! browser-like HTTPS client (pinned CA, cookie jar, no automatic
//! redirects), documents seeded through the store, and small HTML readers.

#![allow(dead_code)] // each test binary uses a different subset

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use dspconnect::model::{ConfidentialityCodeTable, ConfidentialityMode};
use dspconnect_sandbox::pki::Pki;
use dspconnect_sandbox::policy::{EHealthId, PatientId};
use dspconnect_sandbox::portal::AdminToken;
use dspconnect_sandbox::server::SandboxContext;
use dspconnect_sandbox::store::NewDocument;
use dspconnect_sandbox::store::demo;
use dspconnect_sandbox::{RunningSandbox, Sandbox, SandboxConfig};
use ihe::xds::{Checked, Code, DocumentEntry, Dtm};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, SET_COOKIE};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use super::common;

pub const MARIE: &str = demo::DEMO_PATIENT_WITH_RELATIONS;
pub const TOM: &str = demo::DEMO_PATIENT_WITHOUT_RELATIONS;
pub const REFERENT: &str = demo::DEMO_REFERENT_GP;
pub const CERCLE: &str = demo::DEMO_CERCLE_SPECIALIST;
pub const BLACK_LISTED: &str = demo::DEMO_BLACK_LISTED;
pub const PHARMACIST: &str = demo::DEMO_PHARMACIST;
pub const PATIENT_PASSWORD: &str = demo::DEMO_PATIENT_PASSWORD;
pub const ACCOMPAGNATEUR: &str = demo::DEMO_ACCOMPAGNATEUR;
pub const ACCOMPAGNATEUR_PASSWORD: &str = demo::DEMO_ACCOMPAGNATEUR_PASSWORD;

/// A PKI with the demo cards, made once per test binary under `name` (RSA
/// keys are slow to make); each sandbox copies it and binds the copied
/// cards in its fresh database.
pub fn pki_template(name: &str) -> PathBuf {
    let dir = common::fresh_shared_dir(name).join("template");
    let pki = Pki::load_or_create(&dir).expect("PKI created");
    let store = dspconnect_sandbox::store::Store::open_in_memory().expect("store");
    let now = time::OffsetDateTime::now_utc();
    store.seed_demo(now).expect("demo data");
    dspconnect_sandbox::cards::ensure_demo_cards(&pki, &store, &dir, now)
        .expect("demo cards issued");
    dir
}

/// A sandbox started as the binary starts it (portal mounted), with its
/// admin token.
pub struct Platform {
    pub sandbox: RunningSandbox,
    pub admin_token: String,
}

impl Platform {
    pub async fn start(template: &Path) -> Self {
        let sandbox = Sandbox::start(SandboxConfig::new(common::data_dir_with_pki(template)))
            .await
            .expect("sandbox started");
        let admin_token = AdminToken::load(sandbox.data_dir())
            .expect("admin token made at start")
            .expose()
            .to_owned();
        Self {
            sandbox,
            admin_token,
        }
    }

    pub fn ctx(&self) -> &SandboxContext {
        self.sandbox.context()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sandbox.base_url())
    }

    pub fn browser(&self) -> Browser {
        Browser::new(self.sandbox.base_url(), self.sandbox.ca_certificate_pem())
    }

    /// A portal ticket for `professional` on `patient`'s DSP, as the DSP
    /// services would issue it.
    pub fn ticket(&self, professional: &str, patient: &str) -> String {
        self.ctx()
            .store()
            .issue_portal_ticket(
                &ehealth(professional),
                &patient_id(patient),
                self.ctx().clock().now(),
                time::Duration::minutes(2),
            )
            .expect("ticket issued")
            .expose()
            .to_owned()
    }

    /// An admin API call.
    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (StatusCode, serde_json::Value) {
        let client = pinned_client(self.sandbox.ca_certificate_pem());
        let mut request = client
            .request(method, self.url(path))
            .header("authorization", format!("Bearer {}", self.admin_token));
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let answer = request.send().await.expect("admin API answered");
        let status = answer.status();
        let text = answer.text().await.expect("admin body");
        let json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        (status, json)
    }
}

pub fn ehealth(id: &str) -> EHealthId {
    EHealthId::new(id).expect("eHealth id")
}

pub fn patient_id(matricule: &str) -> PatientId {
    PatientId::new(matricule).expect("matricule")
}

/// An HTTPS client trusting exactly the sandbox CA, following no redirect.
pub fn pinned_client(ca_pem: &str) -> reqwest::Client {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.expect("CA PEM")).expect("CA root");
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// One answer, read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn location(&self) -> &str {
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("no Location in {self:?}"))
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().expect("ASCII cookie").to_owned())
            .collect()
    }

    /// The CSRF token of the first form on the page.
    pub fn csrf(&self) -> String {
        hidden_value(&self.body, "csrf").unwrap_or_else(|| panic!("no CSRF field in {}", self.body))
    }

    /// The uniqueIds of the document rows, in page order.
    pub fn document_ids(&self) -> Vec<String> {
        attribute_values(&self.body, "tr class=\"document\" data-unique-id")
    }
}

/// The value of the first hidden input named `name`.
pub fn hidden_value(html: &str, name: &str) -> Option<String> {
    let marker = format!(r#"name="{name}" value=""#);
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

/// Every value of `attribute="…"` (the marker includes what precedes it).
pub fn attribute_values(html: &str, marker: &str) -> Vec<String> {
    let marker = format!("{marker}=\"");
    html.match_indices(&marker)
        .filter_map(|(at, _)| {
            let start = at + marker.len();
            let end = html[start..].find('"')? + start;
            Some(html[start..end].to_owned())
        })
        .collect()
}

/// A browser: a cookie jar over the pinned client, sending what a browser
/// sends (its cookies; the sandbox's Origin on POST).
pub struct Browser {
    client: reqwest::Client,
    base: String,
    cookies: BTreeMap<String, String>,
}

impl Browser {
    pub fn new(base: &str, ca_pem: &str) -> Self {
        Self {
            client: pinned_client(ca_pem),
            base: base.to_owned(),
            cookies: BTreeMap::new(),
        }
    }

    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(String::as_str)
    }

    pub fn forget_cookies(&mut self) {
        self.cookies.clear();
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub async fn send(&mut self, request: reqwest::RequestBuilder) -> Answer {
        let request = if self.cookies.is_empty() {
            request
        } else {
            request.header("cookie", self.cookie_header())
        };
        let answer = request.send().await.expect("answered");
        let status = answer.status();
        let headers = answer.headers().clone();
        let body = answer.text().await.expect("body");
        for line in headers.get_all(SET_COOKIE) {
            let line = line.to_str().expect("ASCII");
            let pair = line.split(';').next().unwrap_or_default();
            let (name, value) = pair.split_once('=').expect("name=value");
            if line.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        Answer {
            status,
            headers,
            body,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&mut self, path: &str) -> Answer {
        let request = self.client.get(self.url(path));
        self.send(request).await
    }

    pub async fn get_with(&mut self, path: &str, header: (&str, &str)) -> Answer {
        let request = self.client.get(self.url(path)).header(header.0, header.1);
        self.send(request).await
    }

    pub async fn head(&mut self, path: &str) -> Answer {
        let request = self.client.head(self.url(path));
        self.send(request).await
    }

    /// A form POST from the sandbox's own page.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let request = self
            .client
            .post(self.url(path))
            .header("origin", self.base.clone())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        self.send(request).await
    }

    /// Opens a ticket URL and follows the 303 to the patient's page.
    pub async fn open_ticket(&mut self, ticket: &str) -> Answer {
        let opened = self.get(&format!("/portal/open?ticket={ticket}")).await;
        assert_eq!(opened.status, StatusCode::SEE_OTHER, "{}", opened.body);
        let location = opened.location().to_owned();
        self.get(&location).await
    }

    /// Signs in to the patient portal as a patient or an accompagnateur.
    pub async fn sign_in(&mut self, kind: &str, identifier: &str, password: &str) -> Answer {
        let form = self.get("/patient/login").await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.body);
        let csrf = form.csrf();
        let answer = self
            .post(
                "/patient/login",
                &[
                    ("csrf", &csrf),
                    ("kind", kind),
                    ("identifier", identifier),
                    ("password", password),
                ],
            )
            .await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        answer
    }
}

/// A document seeded through the store, as the repository would register it.
#[derive(Debug, Clone)]
pub struct Seeded {
    pub unique_id: String,
    pub entry_uuid: String,
    pub title: String,
    pub mode: ConfidentialityMode,
    pub author: String,
    pub body: Vec<u8>,
}

/// Registers a PDF for `patient` by `author` in `mode`, its body written
/// under the data directory and its metadata a real DocumentEntry.
pub fn seed_document(
    ctx: &SandboxContext,
    patient: &str,
    author: &str,
    mode: ConfidentialityMode,
    title: &str,
) -> Seeded {
    let uuid = uuid::Uuid::new_v4();
    let entry_uuid = format!("urn:uuid:{uuid}");
    let unique_id = format!("1.3.182.4.4.99.2.{}", uuid.as_u128() % 1_000_000_000_000);
    let body = format!("%PDF-1.4\n% SANDBOX test document: {title}\n%%EOF\n").into_bytes();
    let relative = format!("documents/{uuid}.pdf");
    let path = ctx.data_dir().join(&relative);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("documents dir");
    std::fs::write(&path, &body).expect("body written");
    let code = ConfidentialityCodeTable::sandbox().code_for(mode).clone();
    let entry = DocumentEntry {
        entry_uuid: entry_uuid.clone(),
        logical_id: Some(entry_uuid.clone()),
        version: Some("1".into()),
        unique_id: Some(unique_id.clone()),
        patient_id: Some(format!("{patient}^^^&1.3.182.4.4&ISO")),
        mime_type: Some("application/pdf".into()),
        title: Some(title.to_owned()),
        confidentiality_codes: vec![Code::new(
            code.code(),
            code.coding_scheme(),
            code.display_name(),
        )],
        creation_time: Some(Checked::Valid(Dtm::from_datetime(
            time::macros::datetime!(2024-05-17 09:30 UTC),
        ))),
        ..DocumentEntry::default()
    };
    let metadata = ihe::xml::to_string(&entry.to_element().expect("metadata")).into_bytes();
    let sha1: String = {
        use sha1::Digest;
        sha1::Sha1::digest(&body)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    ctx.store()
        .insert_document(
            &NewDocument {
                entry_uuid: entry_uuid.clone(),
                unique_id: unique_id.clone(),
                patient: patient_id(patient),
                author: ehealth(author),
                mode,
                metadata,
                body_path: relative,
                hash: sha1,
                size: body.len() as u64,
                mime_type: "application/pdf".into(),
            },
            ctx.clock().now(),
        )
        .expect("document registered");
    Seeded {
        unique_id,
        entry_uuid,
        title: title.to_owned(),
        mode,
        author: author.to_owned(),
        body,
    }
}
