//! Serving a stored document to a browser: streamed from its file (a
//! document may be large), with its MIME type, shown inline, and kept from
//! running script in the sandbox's origin.

use std::path::{Component, Path, PathBuf};

use axum::body::Body;
use axum::http::header::{
    CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_SECURITY_POLICY, CONTENT_TYPE,
};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio_util::io::ReaderStream;

use super::error::PortalError;
use crate::store::DocumentRecord;

/// Types a browser shows without running anything in the page's origin;
/// every other type (HTML, XML and CDA, SVG…) is served in a CSP sandbox.
const INERT_TYPES: [&str; 4] = ["application/pdf", "image/png", "image/jpeg", "image/gif"];

/// The body file of `record`, which the store names relative to the data
/// directory; a path that would leave it is refused.
fn body_path(data_dir: &Path, record: &DocumentRecord) -> Result<PathBuf, PortalError> {
    let relative = Path::new(&record.body_path);
    let inside = relative
        .components()
        .all(|component| matches!(component, Component::Normal(_)));
    if !inside || relative.as_os_str().is_empty() {
        return Err(PortalError::Internal(format!(
            "document '{}' names a body file outside the data directory",
            record.unique_id
        )));
    }
    Ok(data_dir.join(relative))
}

/// The document's body as an inline response.
pub(crate) async fn serve(
    data_dir: &Path,
    record: &DocumentRecord,
) -> Result<Response, PortalError> {
    let path = body_path(data_dir, record)?;
    let file = tokio::fs::File::open(&path).await.map_err(|e| {
        PortalError::Internal(format!(
            "the body of document '{}' cannot be opened: {e}",
            record.unique_id
        ))
    })?;
    let length = file
        .metadata()
        .await
        .map_err(|e| {
            PortalError::Internal(format!(
                "the body of document '{}' cannot be read: {e}",
                record.unique_id
            ))
        })?
        .len();
    let mime = record.mime_type.trim().to_ascii_lowercase();
    let content_type = HeaderValue::from_str(&mime)
        .ok()
        .filter(|_| mime.contains('/'))
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let mut response = (
        StatusCode::OK,
        [
            (CONTENT_TYPE, content_type),
            (CONTENT_DISPOSITION, HeaderValue::from_static("inline")),
            (CONTENT_LENGTH, HeaderValue::from(length)),
        ],
        Body::from_stream(ReaderStream::new(file)),
    )
        .into_response();
    if !INERT_TYPES.contains(&mime.as_str()) {
        response.headers_mut().insert(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'",
            ),
        );
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(body_path: &str) -> DocumentRecord {
        DocumentRecord {
            entry_uuid: "urn:uuid:1".into(),
            unique_id: "1.2.3".into(),
            logical_id: "urn:uuid:1".into(),
            version: 1,
            patient: crate::policy::PatientId::new("1893120105732").unwrap(),
            author: crate::policy::EHealthId::new("SBX-1001").unwrap(),
            mode: dspconnect::model::ConfidentialityMode::Normal,
            status: crate::store::DocumentStatus::Approved,
            metadata: Vec::new(),
            body_path: body_path.into(),
            hash: String::new(),
            size: 0,
            mime_type: "application/pdf".into(),
            created_at: time::OffsetDateTime::UNIX_EPOCH,
            replaced_by: None,
        }
    }

    #[test]
    fn body_paths_stay_inside_the_data_directory() {
        let dir = Path::new("/data");
        assert_eq!(
            body_path(dir, &record("documents/a.pdf")).unwrap(),
            Path::new("/data/documents/a.pdf")
        );
        for bad in ["../etc/passwd", "/etc/passwd", "documents/../../x", ""] {
            assert!(body_path(dir, &record(bad)).is_err(), "{bad}");
        }
    }
}
