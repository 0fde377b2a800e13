//! A small XDS client for the sandbox's tests, written with `ihe::xds` and
//! `ihe::mtom` (the daemon's client is not used: the sandbox is tested
//! against the standard messages, not against our own client), and the
//! schema check of what the sandbox answers.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use dspconnect::model::{EHealthId, PatientInformedStatement, StatementSource, UtcTimestamp};
use dspconnect_sandbox::server::SandboxContext;
use dspconnect_sandbox::xds::{
    EHEALTH_ID_AUTHORITY, REGISTRY_PATH, REPOSITORY_PATH, REPOSITORY_UNIQUE_ID,
};
use dspconnect_sandbox::{RunningSandbox, Sandbox, SandboxConfig};
use ihe::mtom::{AttachmentSpec, MtomEvent, MtomLayout, MtomLimits, RootPart, read_message};
use ihe::soap::{Addressing, Envelope, Fault};
use ihe::wssec::{Timestamp, bearer_security_header};
use ihe::xds::*;
use ihe::xml::{Element, Node, ParseLimits, ns};
use reqwest::StatusCode;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::assertions::{Login, assertion};

pub const ITI41: &str = "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b";
pub const ITI43: &str = "urn:ihe:iti:2007:RetrieveDocumentSet";
pub const ITI18: &str = "urn:ihe:iti:2007:RegistryStoredQuery";
pub const ITI57: &str = "urn:ihe:iti:2010:UpdateDocumentSet";

/// The scheme of the sandbox profile's document codes.
pub const CODES: &str = "urn:dspconnect:sandbox:codes";
/// The sandbox's confidentiality code scheme.
pub const MODES: &str = "urn:dspconnect:sandbox:confidentiality";
/// The content-ID of the one document a test submission carries.
pub const DOCUMENT_CID: &str = "document1@test.dspconnect";

/// A running sandbox as the tests reach it.
#[derive(Clone)]
pub struct Platform {
    pub base_url: String,
    pub ca_pem: String,
    pub context: SandboxContext,
}

impl Platform {
    fn of(sandbox: &RunningSandbox) -> Self {
        Platform {
            base_url: sandbox.base_url().to_owned(),
            ca_pem: sandbox.ca_certificate_pem().to_owned(),
            context: sandbox.context().clone(),
        }
    }

    pub fn now(&self) -> OffsetDateTime {
        self.context.clock().now()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// A professional with a card session.
    pub fn professional(&self, ehealth_id: &str) -> Professional {
        Professional::new(self, ehealth_id, Login::Card)
    }

    /// A professional with a password session.
    pub fn password_session(&self, ehealth_id: &str) -> Professional {
        Professional::new(self, ehealth_id, Login::Password)
    }
}

/// Starts a sandbox for one test (its own data directory and database).
pub async fn start(template: &Path) -> (RunningSandbox, Platform) {
    start_configured(template, |config| config).await
}

/// [`start`], with the configuration changed by `configure`.
pub async fn start_configured(
    template: &Path,
    configure: impl FnOnce(SandboxConfig) -> SandboxConfig,
) -> (RunningSandbox, Platform) {
    let config = configure(SandboxConfig::new(super::data_dir_with_pki(template)));
    let sandbox = Sandbox::start(config).await.expect("the sandbox starts");
    let platform = Platform::of(&sandbox);
    (sandbox, platform)
}

/// Starts a sandbox that serves until the test process ends, on its own
/// runtime thread, for the tests of a binary that can share one.
pub fn start_shared(template: &Path) -> Platform {
    let config = SandboxConfig::new(super::data_dir_with_pki(template));
    let (found, platform) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let sandbox = Sandbox::start(config).await.expect("the sandbox starts");
            found.send(Platform::of(&sandbox)).expect("platform sent");
            std::future::pending::<()>().await;
        });
    });
    platform.recv().expect("the shared sandbox started")
}

/// A unique document or submission uniqueId (`2.25.<UUID as a number>`).
pub fn new_unique_id() -> String {
    format!("2.25.{}", Uuid::new_v4().as_u128())
}

/// `<id>^<family>^<given>^^^^^^&<authority>&ISO`.
pub fn author_person(ehealth_id: &str) -> String {
    format!("{ehealth_id}^Family^Given^^^^^^&{EHEALTH_ID_AUTHORITY}&ISO")
}

/// The patient id of a matricule.
pub fn cx(matricule: &str) -> String {
    format!("{matricule}^^^&1.3.182.4.4&ISO")
}

/// The confidentiality code of a mode code (`N`, `R`, `P`, `VA`).
pub fn mode_code(code: &str) -> Code {
    let name = match code {
        "N" => "Normal",
        "R" => "Restreint",
        "P" => "Privé",
        "VA" => "Visite d'annonce",
        other => other,
    };
    Code::new(code, MODES, name)
}

/// The patient-informed statement of `ehealth_id`, as the client writes it.
pub fn statement(ehealth_id: &str, at: OffsetDateTime) -> String {
    PatientInformedStatement::new(
        ehealth_id
            .parse::<EHealthId>()
            .expect("a client eHealth id"),
        UtcTimestamp::from(at),
        StatementSource::Api,
    )
    .to_wire()
}

/// What a test submits: one document of one patient by one author.
#[derive(Clone, Debug)]
pub struct Doc {
    pub matricule: String,
    pub author: String,
    pub mode: String,
    pub unique_id: String,
    pub content: Vec<u8>,
    pub mime_type: String,
}

impl Doc {
    /// A small PDF in mode `mode` (`N`, `R`, `P`, `VA`).
    pub fn new(matricule: &str, author: &str, mode: &str) -> Self {
        let unique_id = new_unique_id();
        Doc {
            matricule: matricule.into(),
            author: author.into(),
            mode: mode.into(),
            content: format!("%PDF-1.7\n% SANDBOX test document {unique_id}\n%%EOF\n").into_bytes(),
            unique_id,
            mime_type: "application/pdf".into(),
        }
    }

    /// The DocumentEntry (symbolic id `Document01`), every required
    /// attribute set, hash and size stated.
    pub fn entry(&self, now: OffsetDateTime) -> DocumentEntry {
        let code = |c: &str, name: &str| Some(Code::new(c, CODES, name));
        DocumentEntry {
            entry_uuid: "Document01".into(),
            object_type: Some(DocumentEntryType::Stable),
            unique_id: Some(self.unique_id.clone()),
            patient_id: Some(cx(&self.matricule)),
            source_patient_id: Some(format!("P-{}^^^&1.2.3.4.5&ISO", self.matricule)),
            mime_type: Some(self.mime_type.clone()),
            title: Some("Compte rendu (SANDBOX)".into()),
            class_code: code("REPORT", "Rapport"),
            type_code: code("CLINICAL-NOTE", "Note clinique"),
            format_code: Some(Code::new(
                "urn:ihe:iti:xds:2017:mimeTypeSufficient",
                "1.3.6.1.4.1.19376.1.2.3",
                "mimeType Sufficient",
            )),
            practice_setting_code: code("GENERAL", "Médecine générale"),
            healthcare_facility_type_code: code("PRACTICE", "Cabinet médical"),
            confidentiality_codes: vec![mode_code(&self.mode)],
            creation_time: Some(Dtm::from_datetime(now).into()),
            language_code: Some("fr-LU".into()),
            hash: Some(Sha1Hash::of(&self.content).into()),
            size: Some((self.content.len() as u64).into()),
            authors: vec![Author {
                person: Some(author_person(&self.author)),
                ..Author::default()
            }],
            extra_slots: vec![Slot::single(
                PatientInformedStatement::SLOT_NAME,
                statement(&self.author, now),
            )],
            ..DocumentEntry::default()
        }
    }

    /// The SubmissionSet (symbolic id `SubmissionSet01`).
    pub fn submission_set(&self, now: OffsetDateTime) -> SubmissionSet {
        SubmissionSet {
            entry_uuid: "SubmissionSet01".into(),
            unique_id: Some(new_unique_id()),
            source_id: Some("1.3.182.4.4.77".into()),
            patient_id: Some(cx(&self.matricule)),
            submission_time: Some(Dtm::from_datetime(now).into()),
            content_type_code: Some(Code::new("REPORT", CODES, "Rapport")),
            authors: vec![Author {
                person: Some(author_person(&self.author)),
                ..Author::default()
            }],
            ..SubmissionSet::default()
        }
    }

    /// The ITI-41 request: the set, the entry, their HasMember, the
    /// document as an MTOM include.
    pub fn request(&self, now: OffsetDateTime) -> ProvideAndRegisterRequest {
        request_of(self.submission_set(now), self.entry(now))
    }

    /// The ITI-41 request replacing (RPLC) the entry `replaced`.
    pub fn replacing(&self, replaced: &str, now: OffsetDateTime) -> ProvideAndRegisterRequest {
        let mut request = self.request(now);
        request
            .submission
            .objects
            .associations
            .push(Association::replacement(
                "Replace01",
                "Document01",
                replaced,
            ));
        request
    }
}

/// An ITI-41 request from a set and an entry (whatever they hold).
pub fn request_of(set: SubmissionSet, entry: DocumentEntry) -> ProvideAndRegisterRequest {
    let member =
        Association::has_member("Member01", set.entry_uuid.clone(), entry.entry_uuid.clone());
    ProvideAndRegisterRequest {
        documents: vec![Document {
            id: entry.entry_uuid.clone(),
            content: DocumentContent::include(DOCUMENT_CID),
        }],
        submission: SubmitObjectsRequest {
            objects: RegistryObjectList {
                submission_sets: vec![set],
                document_entries: vec![entry],
                associations: vec![member],
                ..RegistryObjectList::default()
            },
            request_slots: Vec::new(),
        },
    }
}

/// A professional calling the platform through a pinned HTTPS client.
pub struct Professional {
    platform: Platform,
    client: reqwest::Client,
    pub ehealth_id: String,
    login: Login,
}

impl Professional {
    pub fn new(platform: &Platform, ehealth_id: &str, login: Login) -> Self {
        Professional {
            platform: platform.clone(),
            client: super::pinned_client(&platform.ca_pem),
            ehealth_id: ehealth_id.into(),
            login,
        }
    }

    /// A SOAP envelope with WS-Addressing headers and the assertion.
    pub fn envelope(&self, payload: Element, action: &str, path: &str) -> (Vec<u8>, String) {
        let now = self.platform.now();
        let message_id = Uuid::new_v4();
        let addressing = Addressing::request(action, message_id, &self.platform.url(path));
        let security = bearer_security_header(
            &Timestamp::new(now, Duration::minutes(5)),
            "TS-1",
            assertion(
                self.platform.context.pki(),
                &self.ehealth_id,
                self.login,
                now,
            ),
        );
        let envelope = Envelope::new(payload)
            .with_headers(addressing.to_headers())
            .with_header(security);
        (envelope.to_bytes(), format!("urn:uuid:{message_id}"))
    }

    /// ITI-41 with `document` as the MTOM attachment [`DOCUMENT_CID`].
    pub async fn submit(
        &self,
        request: &ProvideAndRegisterRequest,
        document: &[u8],
        mime_type: &str,
    ) -> Reply {
        let (content_type, body, message_id) = self.submit_body(request, document, mime_type);
        self.post(REPOSITORY_PATH, &content_type, body, message_id)
            .await
    }

    /// The Content-Type, MTOM body and MessageID of an ITI-41 request.
    pub fn submit_body(
        &self,
        request: &ProvideAndRegisterRequest,
        document: &[u8],
        mime_type: &str,
    ) -> (String, Vec<u8>, String) {
        let payload = request.to_element().expect("the request is writable");
        let (envelope, message_id) = self.envelope(payload, ITI41, REPOSITORY_PATH);
        let layout = MtomLayout::new(
            RootPart {
                content_id: "root@test.dspconnect".into(),
                envelope,
            },
            vec![AttachmentSpec {
                content_id: DOCUMENT_CID.into(),
                content_type: mime_type.into(),
                length: document.len() as u64,
            }],
            Some(ITI41),
        )
        .expect("MTOM layout");
        let content_type = layout.content_type().to_owned();
        let mut body = Vec::new();
        layout
            .into_reader(vec![document])
            .expect("one source")
            .read_to_end(&mut body)
            .expect("MTOM body");
        (content_type, body, message_id)
    }

    /// ITI-41 of a [`Doc`].
    pub async fn submit_doc(&self, doc: &Doc) -> Reply {
        self.submit(
            &doc.request(self.platform.now()),
            &doc.content,
            &doc.mime_type,
        )
        .await
    }

    /// A plain SOAP call.
    pub async fn call(&self, path: &str, action: &str, payload: Element) -> Reply {
        let (envelope, message_id) = self.envelope(payload, action, path);
        let content_type = format!("application/soap+xml; charset=UTF-8; action=\"{action}\"");
        self.post(path, &content_type, envelope, message_id).await
    }

    pub async fn post(
        &self,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
        message_id: String,
    ) -> Reply {
        let response = self
            .send(path, content_type, body)
            .await
            .expect("the sandbox answers");
        Reply::read(response, message_id).await
    }

    /// Sends a request as it is, for tests that look at the transport.
    pub async fn send(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Result<reqwest::Response> {
        self.client
            .post(self.platform.url(path))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
    }

    /// ITI-18.
    pub async fn query(&self, query: &StoredQuery, return_type: ReturnType) -> Reply {
        let request = AdhocQueryRequest::new(query, return_type).expect("query");
        self.call(
            REGISTRY_PATH,
            ITI18,
            request.to_element().expect("writable"),
        )
        .await
    }

    /// ITI-18 GetDocuments by uniqueId, LeafClass: the entries listed.
    pub async fn get_documents(&self, unique_ids: &[&str]) -> Vec<DocumentEntry> {
        let query = StoredQuery::GetDocuments(GetDocumentsQuery {
            ids: DocumentIds::UniqueIds(unique_ids.iter().map(|s| s.to_string()).collect()),
            other_parameters: Vec::new(),
        });
        let (objects, _) = self
            .query(&query, ReturnType::LeafClass)
            .await
            .query_response()
            .into_result()
            .expect("GetDocuments succeeds");
        objects.document_entries
    }

    /// ITI-18 FindDocuments of a patient, Approved and Deprecated, LeafClass.
    pub async fn find_documents(&self, matricule: &str) -> Vec<DocumentEntry> {
        let query = StoredQuery::FindDocuments(FindDocumentsQuery {
            patient_id: cx(matricule),
            statuses: vec![AvailabilityStatus::Approved, AvailabilityStatus::Deprecated],
            ..FindDocumentsQuery::default()
        });
        let (objects, _) = self
            .query(&query, ReturnType::LeafClass)
            .await
            .query_response()
            .into_result()
            .expect("FindDocuments succeeds");
        objects.document_entries
    }

    /// ITI-43 of documents of this repository.
    pub async fn retrieve(&self, unique_ids: &[&str]) -> Reply {
        let request = RetrieveDocumentSetRequest {
            documents: unique_ids
                .iter()
                .map(|id| DocumentRequest {
                    home_community_id: None,
                    repository_unique_id: REPOSITORY_UNIQUE_ID.into(),
                    document_unique_id: id.to_string(),
                })
                .collect(),
        };
        self.call(
            REPOSITORY_PATH,
            ITI43,
            request.to_element().expect("writable"),
        )
        .await
    }

    /// ITI-57: the confidentiality code of `current` (as read) to `mode`.
    pub async fn change_mode(&self, current: &DocumentEntry, mode: &str) -> Reply {
        let now = self.platform.now();
        let set = SubmissionSet {
            entry_uuid: "SubmissionSet01".into(),
            unique_id: Some(new_unique_id()),
            source_id: Some("1.3.182.4.4.77".into()),
            patient_id: current.patient_id.clone(),
            submission_time: Some(Dtm::from_datetime(now).into()),
            content_type_code: Some(Code::new("REPORT", CODES, "Rapport")),
            authors: vec![Author {
                person: Some(author_person(&self.ehealth_id)),
                ..Author::default()
            }],
            ..SubmissionSet::default()
        };
        let request = SubmitObjectsRequest::confidentiality_update(
            current,
            ConfidentialityChange {
                submission_set: set,
                new_entry_uuid: format!("urn:uuid:{}", Uuid::new_v4()),
                association_id: "Member01".into(),
                confidentiality_codes: vec![mode_code(mode)],
            },
        )
        .expect("an update of an entry read from the registry");
        self.call(
            REGISTRY_PATH,
            ITI57,
            request.to_element().expect("writable"),
        )
        .await
    }
}

/// An answer of the sandbox, MTOM unpacked.
pub struct Reply {
    pub status: StatusCode,
    pub content_type: String,
    /// The SOAP envelope (the MTOM root part, or the whole body).
    pub envelope: Vec<u8>,
    /// MTOM attachments by Content-ID.
    pub attachments: BTreeMap<String, Vec<u8>>,
    /// The request's MessageID.
    pub request_message_id: String,
}

impl Reply {
    async fn read(response: reqwest::Response, request_message_id: String) -> Reply {
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = response.bytes().await.expect("the whole answer");
        let (envelope, attachments) = if content_type.starts_with("multipart/related") {
            let mut attachments: BTreeMap<String, Vec<u8>> = BTreeMap::new();
            let message = read_message(&content_type, MtomLimits::default(), &body[..], |event| {
                if let MtomEvent::AttachmentData { part, data } = event {
                    attachments
                        .entry(part.content_id.clone())
                        .or_default()
                        .extend_from_slice(data);
                }
                Ok(())
            })
            .expect("a valid MTOM answer");
            for part in &message.attachments {
                attachments.entry(part.content_id.clone()).or_default();
            }
            (message.root_body, attachments)
        } else {
            (body.to_vec(), BTreeMap::new())
        };
        Reply {
            status,
            content_type,
            envelope,
            attachments,
            request_message_id,
        }
    }

    fn parsed(&self) -> Result<Envelope, ihe::soap::SoapError> {
        Envelope::parse(&self.envelope, &ParseLimits::SOAP)
    }

    /// The payload of a non-fault answer.
    pub fn payload(&self) -> Element {
        match self.parsed() {
            Ok(envelope) => envelope.into_payload().expect("one payload"),
            Err(e) => panic!(
                "expected an answer, got {e} (HTTP {}):\n{}",
                self.status,
                String::from_utf8_lossy(&self.envelope)
            ),
        }
    }

    /// The fault of a fault answer.
    pub fn fault(&self) -> Fault {
        match self.parsed() {
            Err(ihe::soap::SoapError::Fault(fault)) => *fault,
            other => panic!(
                "expected a fault, got {other:?}:\n{}",
                String::from_utf8_lossy(&self.envelope)
            ),
        }
    }

    /// The sandbox subcode of a fault answer (`AccessDenied`, …).
    pub fn fault_subcode(&self) -> String {
        let fault = self.fault();
        fault
            .subcodes
            .first()
            .map(|q| q.local.clone())
            .unwrap_or_default()
    }

    /// `wsa:RelatesTo` of the answer.
    pub fn relates_to(&self) -> Option<String> {
        let root = ihe::xml::parse(&self.envelope, &ParseLimits::SOAP).expect("XML");
        let header = root.child(ns::SOAP12, "Header")?;
        header
            .child(ns::WSA, "RelatesTo")
            .map(|r| r.text().trim().to_owned())
    }

    pub fn registry_response(&self) -> RegistryResponse {
        RegistryResponse::from_element(&self.payload()).expect("a RegistryResponse")
    }

    pub fn query_response(&self) -> AdhocQueryResponse {
        AdhocQueryResponse::from_element(&self.payload()).expect("an AdhocQueryResponse")
    }

    pub fn retrieve_response(&self) -> RetrieveDocumentSetResponse {
        RetrieveDocumentSetResponse::from_element(&self.payload())
            .expect("a RetrieveDocumentSetResponse")
    }

    /// The bytes of the document a Retrieve answer includes for `unique_id`.
    pub fn document(&self, unique_id: &str) -> Vec<u8> {
        let response = self.retrieve_response();
        let document = response
            .documents
            .iter()
            .find(|d| d.document_unique_id == unique_id)
            .unwrap_or_else(|| panic!("{unique_id} is not in the answer"));
        let content_id = document.content.content_id().expect("an xop:Include");
        self.attachments
            .get(&content_id)
            .unwrap_or_else(|| panic!("no MIME part <{content_id}>"))
            .clone()
    }

    /// The single error of a failed RegistryResponse: (code, context).
    pub fn single_error(&self) -> (String, String) {
        let response = self.registry_response();
        assert_eq!(
            response.status,
            ResponseStatus::Failure,
            "{}",
            String::from_utf8_lossy(&self.envelope)
        );
        let errors: Vec<_> = response
            .errors
            .iter()
            .map(|e| (e.error_code.as_str().to_owned(), e.code_context.clone()))
            .collect();
        assert_eq!(errors.len(), 1, "{errors:#?}");
        errors.into_iter().next().unwrap_or_default()
    }

    /// Asserts a successful RegistryResponse.
    pub fn assert_success(&self) {
        let response = self.registry_response();
        assert!(
            response.clone().into_result().is_ok(),
            "HTTP {}: {:#?}",
            self.status,
            response.errors
        );
    }

    /// Validates the envelope against SOAP 1.2 and the payload against its
    /// XDS schema (a Retrieve answer in its inlined form: each
    /// `xop:Include` replaced by the base64 of its MIME part).
    pub fn assert_schema_valid(&self) {
        xmllint(
            &self.envelope,
            &schema_dir().join("soap/soap-1.2-envelope.xsd"),
        )
        .unwrap_or_else(|e| panic!("the envelope is not SOAP 1.2: {e}"));
        let mut payload = self.payload();
        let schema = match (payload.ns.as_deref(), payload.local.as_str()) {
            (Some(ns::RS), "RegistryResponse") => "ebRS30/rs.xsd",
            (Some(ns::QUERY), "AdhocQueryResponse") => "ebRS30/query.xsd",
            (Some(ns::XDSB), "RetrieveDocumentSetResponse") => {
                inline_includes(&mut payload, &self.attachments);
                "IHE/XDS.b_DocumentRepository.xsd"
            }
            other => panic!("no schema for {other:?}"),
        };
        let document = ihe::xml::to_document(&payload);
        xmllint(&document, &schema_dir().join(schema)).unwrap_or_else(|e| {
            panic!(
                "the answer does not validate against {schema}: {e}\n{}",
                String::from_utf8_lossy(&document)
            )
        });
    }
}

/// Replaces every `xop:Include` by the base64 of the part it names.
fn inline_includes(el: &mut Element, attachments: &BTreeMap<String, Vec<u8>>) {
    let include = el
        .elements()
        .find(|c| c.is(ns::XOP, "Include"))
        .and_then(|c| c.attr("href"))
        .map(str::to_owned);
    if let Some(href) = include {
        let content_id = ihe::mtom::content_id_from_href(&href).expect("a cid: URL");
        let bytes = attachments.get(&content_id).expect("the included part");
        el.children = vec![Node::Text(
            base64::engine::general_purpose::STANDARD.encode(bytes),
        )];
        return;
    }
    for child in el.children.iter_mut() {
        if let Node::Element(child) = child {
            inline_includes(child, attachments);
        }
    }
}

/// The official schemas, vendored in `ihe/reference/schema`.
pub fn schema_dir() -> PathBuf {
    let dir = std::env::var_os("DSPCONNECT_IHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../ihe/reference"))
        .join("schema");
    assert!(
        dir.join("ebRS30/rs.xsd").is_file(),
        "the IHE schemas are not at {} (set DSPCONNECT_IHE_DIR to the folder holding schema/)",
        dir.display()
    );
    dir
}

/// `xmllint --noout --nonet --schema`; panics when xmllint is missing.
pub fn xmllint(xml: &[u8], schema: &Path) -> Result<(), String> {
    let mut file = tempfile::NamedTempFile::new().expect("temporary file");
    file.write_all(xml).expect("write");
    let out = std::process::Command::new("xmllint")
        .arg("--noout")
        .arg("--nonet")
        .arg("--schema")
        .arg(schema)
        .arg(file.path())
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run xmllint ({e}): install the Debian package libxml2-utils")
        });
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}
