//! ITI-43 Retrieve Document Set: `xds:RetrieveDocumentSetRequest` and
//! `xds:RetrieveDocumentSetResponse`.

use crate::xml::{Element, ns};

use super::error::{ReadError, WriteError};
use super::message::XdsMessage;
use super::response::{RegistryFailure, RegistryResponse, required_registry_response};
use super::rim::{LONG_NAME, check_len, expect_root, missing_child, only_children, single_child};
use super::submit::DocumentContent;

/// One document asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocumentRequest {
    pub home_community_id: Option<String>,
    pub repository_unique_id: String,
    pub document_unique_id: String,
}

/// `xds:RetrieveDocumentSetRequest`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetrieveDocumentSetRequest {
    pub documents: Vec<DocumentRequest>,
}

/// One document returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocumentResponse {
    pub home_community_id: Option<String>,
    pub repository_unique_id: String,
    pub document_unique_id: String,
    /// On-demand documents only.
    pub new_repository_unique_id: Option<String>,
    /// On-demand documents only.
    pub new_document_unique_id: Option<String>,
    pub mime_type: String,
    pub content: DocumentContent,
}

/// `xds:RetrieveDocumentSetResponse`: the status and errors, and the
/// documents found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetrieveDocumentSetResponse {
    pub response: RegistryResponse,
    pub documents: Vec<DocumentResponse>,
}

impl RetrieveDocumentSetResponse {
    /// The documents on success; the failure as an error value otherwise.
    pub fn into_result(self) -> Result<Vec<DocumentResponse>, RegistryFailure> {
        self.response.into_result()?;
        Ok(self.documents)
    }
}

fn xds(local: &str) -> Element {
    Element::new(ns::XDSB, "xds", local)
}

/// A `rim:LongName` text element.
fn text_element(local: &str, value: &str) -> Result<Element, WriteError> {
    check_len(
        || format!("xds:{local} '{value}'"),
        value,
        LONG_NAME,
        "LongName",
    )?;
    Ok(xds(local).with_text(value))
}

/// The text of the `xds:{local}` child, if present (at most one).
fn child_text(el: &Element, local: &str) -> Result<Option<String>, ReadError> {
    match single_child(el, ns::XDSB, local)? {
        None => Ok(None),
        Some(c) => {
            only_children(c, &[])?;
            Ok(Some(c.text()))
        }
    }
}

fn required_text(el: &Element, local: &'static str) -> Result<String, ReadError> {
    child_text(el, local)?.ok_or_else(|| missing_child(el, &format!("xds:{local}")))
}

fn write_ids(
    el: &mut Element,
    home: &Option<String>,
    repository: &str,
    document: &str,
) -> Result<(), WriteError> {
    if let Some(h) = home {
        el.push(text_element("HomeCommunityId", h)?);
    }
    el.push(text_element("RepositoryUniqueId", repository)?);
    el.push(text_element("DocumentUniqueId", document)?);
    Ok(())
}

impl XdsMessage for RetrieveDocumentSetRequest {
    const ROOT: (&'static str, &'static str) = (ns::XDSB, "RetrieveDocumentSetRequest");

    fn write_element(&self) -> Result<Element, WriteError> {
        if self.documents.is_empty() {
            return Err(WriteError::Empty {
                field: "the document list of a RetrieveDocumentSetRequest".into(),
                why: "the schema requires at least one DocumentRequest",
            });
        }
        let mut el = xds("RetrieveDocumentSetRequest");
        for d in &self.documents {
            let mut r = xds("DocumentRequest");
            write_ids(
                &mut r,
                &d.home_community_id,
                &d.repository_unique_id,
                &d.document_unique_id,
            )?;
            el.push(r);
        }
        Ok(el)
    }

    fn from_element(el: &Element) -> Result<Self, ReadError> {
        expect_root(el, ns::XDSB, "RetrieveDocumentSetRequest")?;
        only_children(el, &[(ns::XDSB, "DocumentRequest")])?;
        let documents: Vec<DocumentRequest> = el
            .children_named(ns::XDSB, "DocumentRequest")
            .map(|r| {
                only_children(
                    r,
                    &[
                        (ns::XDSB, "HomeCommunityId"),
                        (ns::XDSB, "RepositoryUniqueId"),
                        (ns::XDSB, "DocumentUniqueId"),
                    ],
                )?;
                Ok(DocumentRequest {
                    home_community_id: child_text(r, "HomeCommunityId")?,
                    repository_unique_id: required_text(r, "RepositoryUniqueId")?,
                    document_unique_id: required_text(r, "DocumentUniqueId")?,
                })
            })
            .collect::<Result<_, ReadError>>()?;
        if documents.is_empty() {
            return Err(missing_child(el, "xds:DocumentRequest"));
        }
        Ok(RetrieveDocumentSetRequest { documents })
    }
}

impl XdsMessage for RetrieveDocumentSetResponse {
    const ROOT: (&'static str, &'static str) = (ns::XDSB, "RetrieveDocumentSetResponse");

    fn write_element(&self) -> Result<Element, WriteError> {
        let mut el = xds("RetrieveDocumentSetResponse");
        el.push(self.response.to_element()?);
        for d in &self.documents {
            let mut r = xds("DocumentResponse");
            write_ids(
                &mut r,
                &d.home_community_id,
                &d.repository_unique_id,
                &d.document_unique_id,
            )?;
            if let Some(v) = &d.new_repository_unique_id {
                r.push(text_element("NewRepositoryUniqueId", v)?);
            }
            if let Some(v) = &d.new_document_unique_id {
                r.push(text_element("NewDocumentUniqueId", v)?);
            }
            r.push(text_element("mimeType", &d.mime_type)?);
            let mut doc = xds("Document");
            d.content.write_into(&mut doc);
            r.push(doc);
            el.push(r);
        }
        Ok(el)
    }

    fn from_element(el: &Element) -> Result<Self, ReadError> {
        expect_root(el, ns::XDSB, "RetrieveDocumentSetResponse")?;
        only_children(
            el,
            &[(ns::RS, "RegistryResponse"), (ns::XDSB, "DocumentResponse")],
        )?;
        let response = required_registry_response(el)?;
        let documents = el
            .children_named(ns::XDSB, "DocumentResponse")
            .map(|r| {
                only_children(
                    r,
                    &[
                        (ns::XDSB, "HomeCommunityId"),
                        (ns::XDSB, "RepositoryUniqueId"),
                        (ns::XDSB, "DocumentUniqueId"),
                        (ns::XDSB, "NewRepositoryUniqueId"),
                        (ns::XDSB, "NewDocumentUniqueId"),
                        (ns::XDSB, "mimeType"),
                        (ns::XDSB, "Document"),
                    ],
                )?;
                let document_unique_id = required_text(r, "DocumentUniqueId")?;
                let doc = single_child(r, ns::XDSB, "Document")?
                    .ok_or_else(|| missing_child(r, "xds:Document"))?;
                Ok(DocumentResponse {
                    home_community_id: child_text(r, "HomeCommunityId")?,
                    repository_unique_id: required_text(r, "RepositoryUniqueId")?,
                    new_repository_unique_id: child_text(r, "NewRepositoryUniqueId")?,
                    new_document_unique_id: child_text(r, "NewDocumentUniqueId")?,
                    mime_type: required_text(r, "mimeType")?,
                    content: DocumentContent::read(doc, &document_unique_id)?,
                    document_unique_id,
                })
            })
            .collect::<Result<_, ReadError>>()?;
        Ok(RetrieveDocumentSetResponse {
            response,
            documents,
        })
    }
}
