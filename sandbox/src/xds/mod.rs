//! The XDS.b registry and repository of the sandbox (issue 3, item 5; the
//! contract is `docs/platform-protocol.md`, "XDS.b").
//!
//! | path | transactions |
//! |---|---|
//! | [`REPOSITORY_PATH`] | ITI-41 Provide and Register (MTOM, streamed to disk), ITI-43 Retrieve (MTOM, streamed from disk) |
//! | [`REGISTRY_PATH`] | ITI-18 Registry Stored Query (FindDocuments, GetDocuments), ITI-57 Update Document Set (confidentialityCode) |
//!
//! How a call goes:
//! 1. [`receive`]: the body is read as it arrives; an MTOM attachment goes
//!    to a temporary file in `data_dir/documents/` while its SHA-1 and size
//!    are computed, so a document is never held in memory.
//! 2. [`call`]: the assertion in the WS-Security header is checked (a
//!    password session is refused), the transaction is found from the
//!    payload element and checked against the SOAP action.
//! 3. The transaction ([`submit`], [`retrieve`], [`query`], [`update`])
//!    checks the metadata ([`metadata`]), asks the policy engine through
//!    [`access`] — which also writes the patient's access trail — and
//!    answers with WS-Addressing headers relating to the request.
//!
//! Problems with the security header are SOAP faults (IHE XUA); everything
//! about the request's content or the policy is answered in a
//! `RegistryErrorList`, with the standard XDS codes and the sandbox's own
//! codes of [`error_code`].

mod access;
mod call;
mod metadata;
mod query;
mod receive;
mod retrieve;
mod stored;
mod submit;
mod update;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::post;
use dspconnect::model::ConfidentialityCodeTable;

use crate::server::{Mount, MountError, SandboxContext};

/// Where the repository listens (ITI-41, ITI-43).
pub const REPOSITORY_PATH: &str = "/xds/repository";
/// Where the registry listens (ITI-18, ITI-57).
pub const REGISTRY_PATH: &str = "/xds/registry";
/// The repository's uniqueId (`repositoryUniqueId` of every entry; ITI-43
/// requests name it).
pub const REPOSITORY_UNIQUE_ID: &str = "1.3.182.4.4.99.1";
/// The assigning authority of eHealth ids in the sandbox: `authorPerson`
/// is an XCN `<eHealth id>^<family>^<given>^^^^^^&1.3.182.4.4.99.2&ISO`.
pub const EHEALTH_ID_AUTHORITY: &str = "1.3.182.4.4.99.2";
/// The folder of document bodies, in the data directory.
pub const DOCUMENTS_DIR: &str = "documents";

/// The sandbox's own `errorCode` values, for what the XDS tables have no
/// code for (the ebRS `errorCode` is a free string; ITI TF-3 has no policy
/// code).
pub mod error_code {
    /// The access policy refuses; `codeContext` starts with the rule id
    /// (`BLACK-LIST: …`) and cites the charter or the recorded decision.
    pub const ACCESS_DENIED: &str = "DSPAccessDenied";
    /// The access policy would have needed a consultation grant that has
    /// expired (rule `NO-CARE-RELATION`); present a new code de présence.
    pub const GRANT_EXPIRED: &str = "DSPGrantExpired";
    /// ITI-57 to the mode the document already has (rule `MODE-SAME`).
    pub const MODE_UNCHANGED: &str = "DSPModeUnchanged";
    /// An `authorPerson`, or the patient-informed statement's author, is
    /// not the professional the assertion names.
    pub const AUTHOR_NOT_SUBJECT: &str = "DSPAuthorNotSubject";
}

/// What every XDS handler shares.
#[derive(Debug)]
pub(crate) struct XdsService {
    context: SandboxContext,
    /// The only source of the confidentiality codes (the sandbox profile).
    codes: ConfidentialityCodeTable,
    /// `data_dir/documents`: bodies and uploads in progress.
    documents: PathBuf,
}

impl XdsService {
    fn new(context: &SandboxContext) -> Result<Arc<Self>, MountError> {
        let documents = context.data_dir().join(DOCUMENTS_DIR);
        create_private_dir(&documents)?;
        Ok(Arc::new(XdsService {
            context: context.clone(),
            codes: ConfidentialityCodeTable::sandbox(),
            documents,
        }))
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// The repository (`/xds/repository`): ITI-41 and ITI-43, with the body
/// ceiling of [`crate::config::SandboxConfig::max_document_bytes`].
pub fn repository_mount(context: &SandboxContext) -> Result<Mount, MountError> {
    let service = XdsService::new(context)?;
    // Uploads a previous run left half-written (the sandbox stopped during
    // an upload) belong to no entry.
    receive::remove_stale_uploads(&service.documents)?;
    let router = Router::new()
        .route(REPOSITORY_PATH, post(repository))
        .with_state(service);
    Ok(Mount::new(router)
        .endpoint(
            "POST",
            REPOSITORY_PATH,
            "XDS.b repository: ITI-41 Provide and Register (MTOM), ITI-43 Retrieve",
        )
        .body_limit(context.config().max_document_bytes))
}

/// The registry (`/xds/registry`): ITI-18 and ITI-57.
pub fn registry_mount(context: &SandboxContext) -> Result<Mount, MountError> {
    let service = XdsService::new(context)?;
    let router = Router::new()
        .route(REGISTRY_PATH, post(registry))
        .with_state(service);
    Ok(Mount::new(router).endpoint(
        "POST",
        REGISTRY_PATH,
        "XDS.b registry: ITI-18 Stored Query (FindDocuments, GetDocuments), ITI-57 Update Document Set",
    ))
}

async fn repository(State(service): State<Arc<XdsService>>, request: Request) -> Response {
    serve(
        &service,
        request,
        &[
            call::Transaction::ProvideAndRegister,
            call::Transaction::Retrieve,
        ],
    )
    .await
}

async fn registry(State(service): State<Arc<XdsService>>, request: Request) -> Response {
    serve(
        &service,
        request,
        &[
            call::Transaction::StoredQuery,
            call::Transaction::UpdateDocumentSet,
        ],
    )
    .await
}

async fn serve(service: &XdsService, request: Request, served: &[call::Transaction]) -> Response {
    let (parts, body) = request.into_parts();
    let received = match receive::receive(&parts.headers, body, &service.documents).await {
        Ok(received) => received,
        Err(fault) => return call::fault_reply(fault, None),
    };
    let call = match call::open(service, &received, served) {
        Ok(call) => call,
        Err(refusal) => return call::fault_reply(refusal.fault, refusal.relates_to),
    };
    match call.transaction {
        call::Transaction::ProvideAndRegister => {
            submit::provide_and_register(service, &call, received.attachments).await
        }
        call::Transaction::Retrieve => retrieve::retrieve(service, &call).await,
        call::Transaction::StoredQuery => query::stored_query(service, &call),
        call::Transaction::UpdateDocumentSet => update::update_document_set(service, &call),
    }
}
