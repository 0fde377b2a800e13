//! A started sandbox with the demo cards, and the client side of its SOAP
//! exchanges, for the IdP, activation and DSP-service tests: requests are
//! really signed (`ihe::wssec` + `RsaSoftwareSigner` with a card's exported
//! credentials) and sent over HTTPS to a client pinning the sandbox CA.
//! Every answer is validated with `xmllint` against the SOAP 1.2 schema, and
//! its payload against the SAML protocol schema or the sandbox's
//! `schema/dsp-1.xsd`; every `dsp:` request the tests send is validated
//! against the latter too.

#![allow(dead_code)] // each test binary uses a different subset

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::LazyLock;

use dspconnect_sandbox::cards;
use dspconnect_sandbox::idp;
use dspconnect_sandbox::pki::{
    CardCredentials, Pki, Professional, ProfessionalCredentials, Validity,
};
use dspconnect_sandbox::policy::EHealthId;
use dspconnect_sandbox::services::envelope::DSP_NS;
use dspconnect_sandbox::soap_service::FAULT_NS;
use dspconnect_sandbox::store::Store;
use dspconnect_sandbox::{RunningSandbox, Sandbox, SandboxConfig};
use ihe::dsig::RsaSoftwareSigner;
use ihe::saml::{Assertion, AuthnRequest, Response};
use ihe::soap::{Addressing, Envelope, Fault, SoapError};
use ihe::wssec::{SecurityIds, SecurityParams, Timestamp, bearer_security_header, sign_envelope};
use ihe::xml::{self, Element, NsScope, ParseLimits, ns};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::common;

/// One PKI with the demo cards for every sandbox of a test binary (RSA keys
/// are slow to make); each sandbox copies it into its own data directory
/// and binds the copied cards in its fresh database.
static TEMPLATE: LazyLock<PathBuf> = LazyLock::new(|| {
    let dir = common::fresh_shared_dir(&format!("{}-platform", env!("CARGO_CRATE_NAME")))
        .join("template");
    let pki = Pki::load_or_create(&dir).expect("PKI created");
    let store = Store::open_in_memory().expect("store");
    let now = OffsetDateTime::now_utc();
    store.seed_demo(now).expect("demo data");
    cards::ensure_demo_cards(&pki, &store, &dir, now).expect("demo cards issued");
    dir
});

/// Who the SAML requests say they come from.
pub const SOFTWARE_ID: &str = "urn:dspconnect:software:sandbox-tests";

/// A running sandbox and an HTTPS client that trusts only its CA.
pub struct Platform {
    pub sandbox: RunningSandbox,
    pub client: reqwest::Client,
}

/// An HTTP answer.
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Platform {
    pub async fn start() -> Self {
        Self::start_with(|config| config).await
    }

    pub async fn start_with(configure: impl FnOnce(SandboxConfig) -> SandboxConfig) -> Self {
        let config = configure(SandboxConfig::new(common::data_dir_with_pki(&TEMPLATE)));
        let sandbox = Sandbox::start(config).await.expect("sandbox started");
        let client = common::pinned_client(sandbox.ca_certificate_pem());
        Platform { sandbox, client }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sandbox.base_url())
    }

    /// The sandbox's time (tests move it forward).
    pub fn now(&self) -> OffsetDateTime {
        self.sandbox.context().clock().now()
    }

    pub fn advance(&self, by: Duration) {
        self.sandbox.context().clock().advance(by);
    }

    pub fn store(&self) -> &Store {
        self.sandbox.context().store()
    }

    pub fn pki(&self) -> &Pki {
        self.sandbox.pki()
    }

    /// A demo professional's card, exported with the library call behind
    /// `dspconnect-sandbox export-card` and read back from the export.
    pub fn card(&self, ehealth_id: &str) -> CardCredentials {
        let temp = tempfile::tempdir().expect("tempdir");
        let out = temp.path().join("card");
        let exported = cards::export_card(
            self.pki(),
            self.store(),
            self.sandbox.data_dir(),
            ehealth_id,
            &out,
            self.now(),
        )
        .expect("card exported");
        let loaded = CardCredentials::load(&out).expect("exported card reads back");
        assert_eq!(loaded.certificate_der, exported.credentials.certificate_der);
        loaded
    }

    /// A card the HPD does not know: a fresh certificate from this
    /// sandbox's LuxTrust test CA for `ehealth_id`, valid during `validity`.
    pub fn extra_card(
        &self,
        name: &str,
        ehealth_id: &str,
        validity: Validity,
    ) -> ProfessionalCredentials {
        self.pki()
            .issue_professional_certificate(
                &Professional {
                    name: name.to_owned(),
                    ehealth_id: ehealth_id.to_owned(),
                },
                validity,
            )
            .expect("certificate issued")
    }

    /// POSTs a SOAP 1.2 message; the answer is checked against the SOAP
    /// 1.2 envelope schema.
    pub async fn post(&self, path: &str, action: &str, body: Vec<u8>) -> Answer {
        let response = self
            .client
            .post(self.url(path))
            .header(
                "content-type",
                format!("application/soap+xml; charset=UTF-8; action=\"{action}\""),
            )
            .body(body)
            .send()
            .await
            .expect("the sandbox answers");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let body = response.bytes().await.expect("body").to_vec();
        assert!(
            content_type.starts_with("application/soap+xml"),
            "{status} {content_type}: {}",
            String::from_utf8_lossy(&body)
        );
        assert_valid(&body, &ihe_schema("soap/soap-1.2-envelope.xsd"));
        Answer { status, body }
    }

    /// A card login: the signed AuthnRequest for `ehealth_id`.
    pub async fn card_login(&self, signer: &RsaSoftwareSigner, ehealth_id: &str) -> Answer {
        let request = card_signed(
            signer,
            authn_request(ehealth_id, self.now()),
            idp::ACTION,
            &self.url(idp::PATH),
            Uuid::new_v4(),
            self.now(),
        );
        self.post(idp::PATH, idp::ACTION, request).await
    }

    /// The assertion of a successful card login, namespace-complete, to put
    /// in the Security header of later calls.
    pub async fn login(&self, card: &CardCredentials) -> Element {
        let answer = self
            .card_login(&signer(card), &card.professional.ehealth_id)
            .await;
        answer.assertion().element().clone()
    }

    /// The assertion of a successful password login.
    pub async fn password_login(
        &self,
        matricule: &str,
        password: &str,
        ehealth_id: &str,
    ) -> Element {
        let answer = self
            .post(
                idp::PATH,
                idp::ACTION,
                password_request(matricule, password, ehealth_id, self.now()),
            )
            .await;
        answer.assertion().element().clone()
    }

    /// A DSP-service call with `assertion` (the request is checked against
    /// `schema/dsp-1.xsd` first).
    pub async fn dsp(&self, assertion: &Element, payload: Element) -> Answer {
        assert_valid(&xml::to_document(&payload), &dsp_schema());
        self.dsp_unchecked(assertion, payload).await
    }

    /// A DSP-service call whose payload is not checked against the schema
    /// (to send what a faulty client would).
    pub async fn dsp_unchecked(&self, assertion: &Element, payload: Element) -> Answer {
        let operation = payload
            .local
            .strip_suffix("Request")
            .expect("a dsp request")
            .to_owned();
        let action = format!("{}{operation}", dspconnect_sandbox::services::ACTION_PREFIX);
        let to = self.url(dspconnect_sandbox::services::PATH);
        let body = Envelope::new(payload)
            .with_headers(Addressing::request(&action, Uuid::new_v4(), &to).to_headers())
            .with_header(bearer_security_header(
                &Timestamp::new(self.now(), Duration::minutes(5)),
                "ts-call",
                assertion.clone(),
            ))
            .to_bytes();
        self.post(dspconnect_sandbox::services::PATH, &action, body)
            .await
    }

    /// An activation step signed by `signer` (the request is checked
    /// against `schema/dsp-1.xsd` first).
    pub async fn activation(&self, signer: &RsaSoftwareSigner, payload: Element) -> Answer {
        assert_valid(&xml::to_document(&payload), &dsp_schema());
        let operation = payload
            .local
            .strip_suffix("Request")
            .expect("an activation request")
            .to_owned();
        let action = format!(
            "{}{operation}",
            dspconnect_sandbox::activation::ACTION_PREFIX
        );
        let body = card_signed(
            signer,
            payload,
            &action,
            &self.url(dspconnect_sandbox::activation::PATH),
            Uuid::new_v4(),
            self.now(),
        );
        self.post(dspconnect_sandbox::activation::PATH, &action, body)
            .await
    }
}

impl Answer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The SOAP fault this answer is (panics if it is not one).
    pub fn fault(&self) -> Fault {
        match Envelope::parse(&self.body, &ParseLimits::SOAP) {
            Err(SoapError::Fault(fault)) => *fault,
            other => panic!("expected a fault, got {other:?}: {}", self.text()),
        }
    }

    /// The `f:` subcode of the fault this answer is.
    pub fn subcode(&self) -> String {
        let fault = self.fault();
        let subcode = fault
            .subcodes
            .iter()
            .find(|q| q.ns == FAULT_NS)
            .unwrap_or_else(|| panic!("no sandbox subcode in {}", self.text()));
        subcode.local.clone()
    }

    /// The fault's `f:<local>` detail text.
    pub fn detail(&self, local: &str) -> Option<String> {
        self.fault()
            .detail
            .iter()
            .find(|d| d.is(FAULT_NS, local))
            .map(|d| d.text())
    }

    /// Asserts a refusal with `subcode` and the right HTTP status.
    pub fn assert_refused(&self, subcode: &str) {
        assert_eq!(self.subcode(), subcode, "{}", self.text());
        let expected = if subcode == "Internal" { 500 } else { 400 };
        assert_eq!(self.status, expected, "{}", self.text());
    }

    pub fn envelope(&self) -> Envelope {
        assert_eq!(self.status, 200, "{}", self.text());
        Envelope::parse(&self.body, &ParseLimits::SOAP).expect("a SOAP envelope")
    }

    /// The payload of a successful answer, validated against its schema.
    pub fn payload(&self) -> Element {
        let payload = self.envelope().into_payload().expect("one payload");
        let schema = if payload.is(ns::SAMLP, "Response") {
            ihe_schema("saml/sstc-saml-schema-protocol-2.0.xsd")
        } else {
            assert_eq!(payload.ns.as_deref(), Some(DSP_NS), "{}", self.text());
            dsp_schema()
        };
        assert_valid(&xml::to_document(&payload), &schema);
        payload
    }

    /// The `samlp:Response` of a successful login.
    pub fn saml_response(&self) -> Response {
        Response::from_element(&self.payload(), &NsScope::new()).expect("a samlp:Response")
    }

    /// The assertion of a successful login, its signature checked with the
    /// sandbox's IdP certificate by the caller.
    pub fn assertion(&self) -> Assertion {
        self.saml_response()
            .into_assertion()
            .expect("a successful response with an assertion")
    }

    /// The trimmed text of the payload's `dsp:<local>`.
    pub fn field(&self, local: &str) -> String {
        self.payload()
            .child(DSP_NS, local)
            .unwrap_or_else(|| panic!("no dsp:{local} in {}", self.text()))
            .text()
            .trim()
            .to_owned()
    }
}

/// A software signer with a card's key and certificate.
pub fn signer(card: &CardCredentials) -> RsaSoftwareSigner {
    RsaSoftwareSigner::new(card.private_key.clone(), card.certificate_der.clone())
        .expect("the card's key matches its certificate")
}

/// A software signer for freshly issued credentials.
pub fn signer_of(credentials: &ProfessionalCredentials) -> RsaSoftwareSigner {
    RsaSoftwareSigner::new(
        credentials.private_key().clone(),
        credentials.certificate_der().to_vec(),
    )
    .expect("the key matches its certificate")
}

/// An AuthnRequest for `ehealth_id`.
pub fn authn_request(ehealth_id: &str, now: OffsetDateTime) -> Element {
    AuthnRequest::new(
        &format!("_{}", Uuid::new_v4().simple()),
        now,
        SOFTWARE_ID,
        ehealth_id,
    )
    .to_element()
}

/// `payload` in an envelope with WS-Addressing headers, signed by `signer`
/// (Timestamp created at `created`, valid 5 minutes).
pub fn card_signed(
    signer: &RsaSoftwareSigner,
    payload: Element,
    action: &str,
    to: &str,
    message_id: Uuid,
    created: OffsetDateTime,
) -> Vec<u8> {
    signed_element(signer, payload, action, to, message_id, created).to_bytes()
}

pub fn signed_element(
    signer: &RsaSoftwareSigner,
    payload: Element,
    action: &str,
    to: &str,
    message_id: Uuid,
    created: OffsetDateTime,
) -> ihe::wssec::SignedEnvelope {
    let envelope = Envelope::new(payload)
        .with_headers(Addressing::request(action, message_id, to).to_headers());
    sign_envelope(
        envelope,
        SecurityParams {
            timestamp: Timestamp::new(created, Duration::minutes(5)),
            ids: SecurityIds::from_uuid(Uuid::new_v4()),
            assertion: None,
        },
        signer,
    )
    .expect("signed")
}

/// A password login: the AuthnRequest with a UsernameToken.
pub fn password_request(
    matricule: &str,
    password: &str,
    ehealth_id: &str,
    now: OffsetDateTime,
) -> Vec<u8> {
    let wsse = |local: &str| Element::new(ns::WSSE, "wsse", local);
    let security = wsse("Security")
        .with_attr_ns(ns::SOAP12, "soap", "mustUnderstand", "true")
        .with_child(
            wsse("UsernameToken")
                .with_child(wsse("Username").with_text(matricule))
                .with_child(
                    wsse("Password")
                        .with_attr("Type", idp::PASSWORD_TEXT_TYPE)
                        .with_text(password),
                ),
        );
    Envelope::new(authn_request(ehealth_id, now))
        .with_headers(
            Addressing::request(idp::ACTION, Uuid::new_v4(), "https://sandbox.invalid/idp")
                .to_headers(),
        )
        .with_header(security)
        .to_bytes()
}

/// A `dsp:` element with text children, in order.
pub fn dsp_request(local: &str, fields: &[(&str, &str)]) -> Element {
    let mut el = Element::new(DSP_NS, "dsp", local);
    for (name, value) in fields {
        el.push(Element::new(DSP_NS, "dsp", name).with_text(*value));
    }
    el
}

/// A valid 13-digit matricule that no demo patient has.
pub fn unknown_matricule() -> String {
    dspconnect::model::Matricule::from_parts(1999, 12, 31, 7)
        .expect("a valid matricule")
        .as_digits()
}

/// A patient's XDS id.
pub fn cx(matricule: &str) -> String {
    format!("{matricule}^^^&1.3.182.4.4&ISO")
}

pub fn id(text: &str) -> EHealthId {
    EHealthId::new(text).expect("eHealth id")
}

pub fn ihe_schema(relative: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../ihe/reference/schema")
        .join(relative);
    assert!(path.is_file(), "schema {} is missing", path.display());
    path
}

pub fn dsp_schema() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/dsp-1.xsd")
}

/// Validates `doc` with `xmllint --noout --nonet --schema`; panics with
/// xmllint's messages when it does not validate, and with a clear message
/// when xmllint is missing.
pub fn assert_valid(doc: &[u8], schema: &Path) {
    let mut file = tempfile::NamedTempFile::new().expect("temporary file");
    file.write_all(doc).expect("write the document");
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--nonet")
        .arg("--schema")
        .arg(schema)
        .arg(file.path())
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run xmllint ({e}): install the Debian package libxml2-utils")
        });
    assert!(
        out.status.success(),
        "does not validate against {}:\n{}\n{}",
        schema.display(),
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(doc)
    );
}
