//! Reading an XDS request body as it arrives. An MTOM body goes through
//! [`MtomParser`] chunk by chunk: the root part (the SOAP envelope) is
//! collected under the parser's bound, every attachment is written to a
//! temporary file in `data_dir/documents/` while its SHA-1 and size are
//! computed. Memory stays at a few buffers whatever the document's size.
//! A plain SOAP body is read whole, under the SOAP size limit.

use std::path::Path;

use axum::body::Body;
use axum::http::{HeaderMap, header};
use futures_util::StreamExt;
use ihe::mtom::{MediaType, MtomEvent, MtomLimits, MtomParser};
use ihe::xds::Sha1Hash;
use ihe::xml::ParseLimits;
use sha1::Digest;
use tempfile::TempPath;
use tokio::io::{AsyncWriteExt, BufWriter};

use crate::soap_service::SandboxFault;

/// Name prefix of uploads in progress in the documents folder.
const UPLOAD_PREFIX: &str = ".upload-";

/// Write buffer of an upload: large writes, few system calls.
const WRITE_BUFFER: usize = 1024 * 1024;

/// A request body, read.
pub(crate) struct Received {
    /// The SOAP envelope (the MTOM root part, or the whole plain body).
    pub envelope: Vec<u8>,
    /// The SOAP action from the Content-Type (of the message, else of the
    /// root part), if given.
    pub action: Option<String>,
    /// MTOM attachments, in message order.
    pub attachments: Vec<Attachment>,
}

/// An MTOM attachment, on disk.
#[derive(Debug)]
pub(crate) struct Attachment {
    /// Content-ID, without angle brackets.
    pub content_id: String,
    /// Removed when dropped, unless kept (persisted) first.
    pub file: TempPath,
    pub sha1: Sha1Hash,
    pub size: u64,
}

fn malformed(reason: impl Into<String>) -> SandboxFault {
    SandboxFault::sender("Malformed", reason)
}

/// A failure of the sandbox's own disk.
pub(crate) fn storage_failure(doing: &str, error: &std::io::Error) -> SandboxFault {
    tracing::error!(%error, "XDS storage failure while {doing}");
    SandboxFault::receiver(
        "Internal",
        format!("the sandbox could not store the request ({doing}: {error}); try again"),
    )
}

/// Reads the body of an XDS request announced by `headers`.
pub(crate) async fn receive(
    headers: &HeaderMap,
    body: Body,
    documents: &Path,
) -> Result<Received, SandboxFault> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .ok_or_else(|| {
            malformed(
                "the request has no readable Content-Type: send application/soap+xml, \
                 or multipart/related (MTOM) for ITI-41",
            )
        })?;
    let media = MediaType::parse(content_type)
        .map_err(|e| malformed(format!("the Content-Type is not usable: {e}")))?;
    match media.essence.as_str() {
        "multipart/related" => receive_mtom(content_type, body, documents).await,
        "application/soap+xml" => Ok(Received {
            envelope: read_bounded(body, ParseLimits::SOAP.max_bytes).await?,
            action: media.param("action").map(str::to_owned),
            attachments: Vec::new(),
        }),
        other => Err(malformed(format!(
            "the Content-Type is {other}: send application/soap+xml (SOAP 1.2), \
             or multipart/related (MTOM) for ITI-41"
        ))),
    }
}

fn body_error(error: &axum::Error) -> SandboxFault {
    malformed(format!("the request body could not be read: {error}"))
}

async fn read_bounded(body: Body, limit: usize) -> Result<Vec<u8>, SandboxFault> {
    let mut stream = body.into_data_stream();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| body_error(&e))?;
        if bytes.len() + chunk.len() > limit {
            return Err(malformed(format!(
                "a plain SOAP request is limited to {limit} bytes; send documents as MTOM attachments"
            )));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// An attachment being written.
struct Upload {
    content_id: String,
    writer: BufWriter<tokio::fs::File>,
    path: TempPath,
    hasher: sha1::Sha1,
    size: u64,
}

impl Upload {
    fn start(documents: &Path, content_id: &str) -> Result<Upload, SandboxFault> {
        let file = tempfile::Builder::new()
            .prefix(UPLOAD_PREFIX)
            .tempfile_in(documents)
            .map_err(|e| storage_failure("creating an upload file", &e))?;
        let (file, path) = file.into_parts();
        Ok(Upload {
            content_id: content_id.to_owned(),
            writer: BufWriter::with_capacity(WRITE_BUFFER, tokio::fs::File::from_std(file)),
            path,
            hasher: sha1::Sha1::new(),
            size: 0,
        })
    }

    async fn write(&mut self, data: &[u8]) -> Result<(), SandboxFault> {
        self.hasher.update(data);
        self.size += data.len() as u64;
        self.writer
            .write_all(data)
            .await
            .map_err(|e| storage_failure("writing an upload", &e))
    }

    async fn finish(mut self) -> Result<Attachment, SandboxFault> {
        self.writer
            .flush()
            .await
            .map_err(|e| storage_failure("writing an upload", &e))?;
        // On disk before it is registered: an entry never points at a body
        // a crash could lose.
        self.writer
            .into_inner()
            .sync_all()
            .await
            .map_err(|e| storage_failure("syncing an upload", &e))?;
        Ok(Attachment {
            content_id: self.content_id,
            file: self.path,
            sha1: Sha1Hash(self.hasher.finalize().into()),
            size: self.size,
        })
    }
}

async fn receive_mtom(
    content_type: &str,
    body: Body,
    documents: &Path,
) -> Result<Received, SandboxFault> {
    let mut parser = MtomParser::new(content_type, MtomLimits::default())
        .map_err(|e| malformed(format!("the MTOM body cannot be read: {e}")))?;
    let mut action = parser.header().action.clone();
    let mut stream = body.into_data_stream();
    let mut attachments = Vec::new();
    let mut upload: Option<Upload> = None;
    loop {
        let input_ended = match stream.next().await {
            Some(Ok(chunk)) => {
                parser.feed(&chunk);
                false
            }
            Some(Err(error)) => return Err(body_error(&error)),
            None => {
                parser.end_input();
                true
            }
        };
        while let Some(event) = parser
            .next_event()
            .map_err(|e| malformed(format!("the MTOM body cannot be read: {e}")))?
        {
            match event {
                MtomEvent::PartStart(part) if part.is_root => {
                    if action.is_none() {
                        action = MediaType::parse(&part.content_type)
                            .ok()
                            .and_then(|m| m.param("action").map(str::to_owned));
                    }
                }
                MtomEvent::PartStart(part) => {
                    upload = Some(Upload::start(documents, &part.content_id)?);
                }
                MtomEvent::AttachmentData { data, .. } => {
                    if let Some(upload) = upload.as_mut() {
                        upload.write(data).await?;
                    }
                }
                MtomEvent::PartEnd(part) if part.is_root => {}
                MtomEvent::PartEnd(_) => {
                    if let Some(done) = upload.take() {
                        attachments.push(done.finish().await?);
                    }
                }
                MtomEvent::End => {
                    let message = parser
                        .into_message()
                        .map_err(|e| malformed(format!("the MTOM body cannot be read: {e}")))?;
                    return Ok(Received {
                        envelope: message.root_body,
                        action,
                        attachments,
                    });
                }
            }
        }
        if input_ended {
            // The parser reports a truncated body as an error once told the
            // input ended; this only guards against asking for more forever.
            return Err(malformed(
                "the MTOM body ended before its final boundary (truncated upload?)",
            ));
        }
    }
}

/// Writes a document that came inline (base64 in the envelope) to an
/// upload file, like an attachment.
pub(crate) async fn store_inline(
    documents: &Path,
    name: &str,
    bytes: &[u8],
) -> Result<Attachment, SandboxFault> {
    let mut upload = Upload::start(documents, name)?;
    upload.write(bytes).await?;
    upload.finish().await
}

/// Removes uploads a stopped sandbox left behind.
pub(crate) fn remove_stale_uploads(documents: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(documents)? {
        let entry = entry?;
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with(UPLOAD_PREFIX)
        {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}
