//! ITI-43 Retrieve Document Set: each document the policy lets the caller
//! read, as an MTOM attachment streamed from its file (never read whole);
//! each read, allowed or refused, written to the patient's access trail.
//! The answer is always MTOM, also when it carries no document.

use std::io;
use std::pin::Pin;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream, StreamExt};
use ihe::mtom::{AttachmentSpec, MtomLayout, RootPart, Segment};
use ihe::xds::{
    DocumentContent, DocumentResponse, RegistryError, RegistryResponse, ResponseStatus,
    RetrieveDocumentSetRequest, RetrieveDocumentSetResponse, XdsErrorCode, XdsMessage,
};
use tokio::io::AsyncReadExt;
use tokio_util::io::ReaderStream;

use super::access;
use super::call::{Call, fault_reply};
use super::{REPOSITORY_UNIQUE_ID, XdsService};
use crate::policy::Operation;
use crate::soap_service::SandboxFault;
use crate::store::DocumentRecord;

/// Read size when streaming a document.
const READ_CHUNK: usize = 64 * 1024;

/// Content-ID of the answer's root part.
const ROOT_CONTENT_ID: &str = "root.message@sandbox.dspconnect";

/// A document to send: its answer entry and its open file.
struct Outgoing {
    response: DocumentResponse,
    file: tokio::fs::File,
    size: u64,
}

pub(crate) async fn retrieve(service: &XdsService, call: &Call) -> Response {
    let request = match RetrieveDocumentSetRequest::from_element(&call.payload) {
        Ok(request) => request,
        Err(e) => {
            let error = RegistryError::error(
                XdsErrorCode::RepositoryError,
                format!("the RetrieveDocumentSetRequest cannot be read: {e}"),
                None,
            );
            return answer(call, ResponseStatus::Failure, vec![error], Vec::new());
        }
    };
    let mut errors = Vec::new();
    let mut outgoing = Vec::new();
    for (index, wanted) in request.documents.iter().enumerate() {
        match fetch(
            service,
            call,
            &wanted.repository_unique_id,
            &wanted.document_unique_id,
            index,
        )
        .await
        {
            Ok(document) => outgoing.push(document),
            Err(error) => errors.push(error),
        }
    }
    let status = match (outgoing.is_empty(), errors.is_empty()) {
        (_, true) => ResponseStatus::Success,
        (false, false) => ResponseStatus::PartialSuccess,
        (true, false) => ResponseStatus::Failure,
    };
    answer(call, status, errors, outgoing)
}

/// One requested document, if it can be sent.
async fn fetch(
    service: &XdsService,
    call: &Call,
    repository: &str,
    unique_id: &str,
    index: usize,
) -> Result<Outgoing, RegistryError> {
    let located = |code: XdsErrorCode, context: String| {
        RegistryError::error(code, context, Some(unique_id.to_owned()))
    };
    if repository != REPOSITORY_UNIQUE_ID {
        return Err(located(
            XdsErrorCode::UnknownRepositoryId,
            format!("repository {repository} is not this one ({REPOSITORY_UNIQUE_ID})"),
        ));
    }
    let unknown = || {
        located(
            XdsErrorCode::DocumentUniqueIdError,
            format!("no document {unique_id} in this repository"),
        )
    };
    let store_failure = |e| access::store_failure(&e, XdsErrorCode::RepositoryError);
    let record = service
        .context
        .store()
        .document_by_unique_id(unique_id)
        .map_err(store_failure)?
        .ok_or_else(unknown)?;
    let verdict = access::decide(
        service,
        call,
        &record.patient,
        Some(&record.entry_uuid),
        Operation::Read,
    )
    .map_err(store_failure)?;
    access::record(
        service,
        call,
        &record.patient,
        &verdict.decision,
        Some(&record.entry_uuid),
    )
    .map_err(store_failure)?;
    if !verdict.is_allowed() {
        return Err(access::refusal(&verdict, Some(unique_id.to_owned())));
    }
    let file = open_body(service, &record).await.map_err(|e| {
        tracing::error!(error = %e, entry = %record.entry_uuid, "cannot open a document body");
        located(
            XdsErrorCode::RepositoryError,
            format!("the body of document {unique_id} cannot be read: {e}"),
        )
    })?;
    Ok(Outgoing {
        response: DocumentResponse {
            home_community_id: None,
            repository_unique_id: REPOSITORY_UNIQUE_ID.to_owned(),
            document_unique_id: record.unique_id.clone(),
            new_repository_unique_id: None,
            new_document_unique_id: None,
            mime_type: record.mime_type.clone(),
            content: DocumentContent::include(&format!("document{index}@sandbox.dspconnect")),
        },
        file,
        size: record.size,
    })
}

/// The body file, checked to hold the recorded number of bytes.
async fn open_body(service: &XdsService, record: &DocumentRecord) -> io::Result<tokio::fs::File> {
    let path = service.context.data_dir().join(&record.body_path);
    let file = tokio::fs::File::open(&path).await?;
    let length = file.metadata().await?.len();
    if length != record.size {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{} holds {length} bytes, the entry says {}",
                path.display(),
                record.size
            ),
        ));
    }
    Ok(file)
}

type ByteStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// The MTOM answer: the envelope, then each document streamed from its file.
fn answer(
    call: &Call,
    status: ResponseStatus,
    errors: Vec<RegistryError>,
    outgoing: Vec<Outgoing>,
) -> Response {
    let mut documents = Vec::with_capacity(outgoing.len());
    let mut specs = Vec::with_capacity(outgoing.len());
    let mut files = Vec::with_capacity(outgoing.len());
    for document in outgoing {
        specs.push(AttachmentSpec {
            content_id: document.response.content.content_id().unwrap_or_default(),
            content_type: document.response.mime_type.clone(),
            length: document.size,
        });
        files.push(Some(document.file));
        documents.push(document.response);
    }
    let message = RetrieveDocumentSetResponse {
        response: RegistryResponse::with_errors(status, errors),
        documents,
    };
    let internal = |reason: String| {
        tracing::error!(%reason, "cannot write an ITI-43 answer");
        fault_reply(
            SandboxFault::receiver("Internal", reason),
            call.relates_to.clone(),
        )
    };
    let payload = match message.to_element() {
        Ok(payload) => payload,
        Err(e) => return internal(format!("the answer cannot be written: {e}")),
    };
    let envelope = call.reply_envelope(payload).to_bytes();
    let layout = match MtomLayout::new(
        RootPart {
            content_id: ROOT_CONTENT_ID.to_owned(),
            envelope,
        },
        specs,
        Some(call.transaction.response_action()),
    ) {
        Ok(layout) => layout,
        Err(e) => return internal(format!("the MTOM answer cannot be laid out: {e}")),
    };
    let content_type = HeaderValue::from_str(layout.content_type());
    let content_length = layout.content_length();
    let Ok(content_type) = content_type else {
        return internal("the MTOM Content-Type is not a header value".to_owned());
    };
    let segments = layout.into_segments();
    let body: ByteStream = Box::pin(stream::iter(segments).flat_map(
        move |segment| -> ByteStream {
            match segment {
                Segment::Bytes(bytes) => {
                    Box::pin(stream::once(async move { Ok(Bytes::from(bytes)) }))
                }
                Segment::Attachment { index, length } => {
                    match files.get_mut(index).and_then(Option::take) {
                        Some(file) => {
                            Box::pin(ReaderStream::with_capacity(file.take(length), READ_CHUNK))
                        }
                        // Every slot of the layout has its file; a missing one
                        // breaks the answer rather than sending a wrong length.
                        None => Box::pin(stream::once(async move {
                            Err(io::Error::other(format!("attachment {index} has no file")))
                        })),
                    }
                }
            }
        },
    ));
    let mut response = (StatusCode::OK, Body::from_stream(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(content_length));
    response
}
