//! Submissions: `lcm:SubmitObjectsRequest` (ITI-42 and ITI-57) and
//! `xds:ProvideAndRegisterDocumentSetRequest` (ITI-41).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::xml::{Element, ns};

use super::error::{ReadError, WriteError};
use super::message::XdsMessage;
use super::object_list::RegistryObjectList;
use super::rim::{
    Slot, expect_root, missing_child, only_children, required_reference, single_child,
};

/// `lcm:SubmitObjectsRequest`: metadata to register.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubmitObjectsRequest {
    pub objects: RegistryObjectList,
    /// `RequestSlotList` (rarely used; kept).
    pub request_slots: Vec<Slot>,
}

impl XdsMessage for SubmitObjectsRequest {
    const ROOT: (&'static str, &'static str) = (ns::LCM, "SubmitObjectsRequest");

    fn write_element(&self) -> Result<Element, WriteError> {
        let mut el = Element::new(ns::LCM, "lcm", "SubmitObjectsRequest");
        if let Some(list) = slot_list(ns::RS, "rs", "RequestSlotList", &self.request_slots)? {
            el.push(list);
        }
        el.push(self.objects.to_element()?);
        Ok(el)
    }

    fn from_element(el: &Element) -> Result<Self, ReadError> {
        expect_root(el, ns::LCM, "SubmitObjectsRequest")?;
        only_children(
            el,
            &[(ns::RS, "RequestSlotList"), (ns::RIM, "RegistryObjectList")],
        )?;
        let request_slots = read_slot_list(el, ns::RS, "RequestSlotList")?;
        let list = single_child(el, ns::RIM, "RegistryObjectList")?
            .ok_or_else(|| missing_child(el, "rim:RegistryObjectList"))?;
        Ok(SubmitObjectsRequest {
            objects: RegistryObjectList::from_element(list)?,
            request_slots,
        })
    }
}

/// The content of an `xds:Document` (or of a Retrieve `Document`).
#[derive(Clone, PartialEq, Eq)]
pub enum DocumentContent {
    /// The bytes, written inline as base64 (the XOP infoset form, and what
    /// the schema validates).
    Inline(Vec<u8>),
    /// `<xop:Include href="cid:…"/>`: the bytes travel in a MIME part of
    /// the MTOM package.
    Include { href: String },
}

impl DocumentContent {
    /// An include of the MIME part with Content-ID `content_id` (without
    /// angle brackets), written as a `cid:` URL (RFC 2392).
    pub fn include(content_id: &str) -> Self {
        DocumentContent::Include {
            href: format!("cid:{}", percent_encode_cid(content_id)),
        }
    }

    /// The Content-ID an include refers to: the href without `cid:`,
    /// percent-decoded. `None` for inline content or a non-`cid:` href.
    pub fn content_id(&self) -> Option<String> {
        match self {
            DocumentContent::Inline(_) => None,
            DocumentContent::Include { href } => {
                let rest = href
                    .get(..4)
                    .filter(|p| p.eq_ignore_ascii_case("cid:"))
                    .map(|_| &href[4..])?;
                percent_decode(rest)
            }
        }
    }

    pub(crate) fn write_into(&self, el: &mut Element) {
        match self {
            DocumentContent::Inline(bytes) => {
                el.push_text(BASE64.encode(bytes));
            }
            DocumentContent::Include { href } => {
                el.push(Element::new(ns::XOP, "xop", "Include").with_attr("href", href.clone()));
            }
        }
    }

    /// Reads base64 text or one `xop:Include`; `id` names the document in
    /// errors.
    pub(crate) fn read(el: &Element, id: &str) -> Result<Self, ReadError> {
        only_children(el, &[(ns::XOP, "Include")])?;
        let include = single_child(el, ns::XOP, "Include")?;
        let text = el.text();
        match include {
            Some(inc) => {
                if !text.trim().is_empty() {
                    return Err(ReadError::MixedDocumentContent { id: id.to_owned() });
                }
                let href = inc
                    .attr("href")
                    .ok_or_else(|| ReadError::IncludeWithoutHref { id: id.to_owned() })?;
                Ok(DocumentContent::Include {
                    href: href.to_owned(),
                })
            }
            None => {
                // base64Binary allows whitespace (line breaks) anywhere.
                let compact: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
                BASE64
                    .decode(&compact)
                    .map(DocumentContent::Inline)
                    .map_err(|e| ReadError::MalformedBase64 {
                        id: id.to_owned(),
                        problem: e.to_string(),
                    })
            }
        }
    }
}

impl fmt::Debug for DocumentContent {
    /// Sizes, not bytes: documents can be large and are health data.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DocumentContent::Inline(b) => write!(f, "Inline({} bytes)", b.len()),
            DocumentContent::Include { href } => write!(f, "Include({href})"),
        }
    }
}

/// One `xds:Document` of a ProvideAndRegister request: the id of the
/// DocumentEntry it belongs to, and its content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document {
    pub id: String,
    pub content: DocumentContent,
}

/// `xds:ProvideAndRegisterDocumentSetRequest` (ITI-41).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProvideAndRegisterRequest {
    pub submission: SubmitObjectsRequest,
    pub documents: Vec<Document>,
}

impl ProvideAndRegisterRequest {
    /// The document whose id is `entry_id`.
    pub fn document(&self, entry_id: &str) -> Option<&Document> {
        self.documents.iter().find(|d| d.id == entry_id)
    }
}

impl XdsMessage for ProvideAndRegisterRequest {
    const ROOT: (&'static str, &'static str) = (ns::XDSB, "ProvideAndRegisterDocumentSetRequest");

    fn write_element(&self) -> Result<Element, WriteError> {
        let mut el = Element::new(ns::XDSB, "xds", "ProvideAndRegisterDocumentSetRequest");
        el.push(self.submission.to_element()?);
        for d in &self.documents {
            let mut doc = Element::new(ns::XDSB, "xds", "Document").with_attr("id", d.id.clone());
            d.content.write_into(&mut doc);
            el.push(doc);
        }
        Ok(el)
    }

    fn from_element(el: &Element) -> Result<Self, ReadError> {
        expect_root(el, ns::XDSB, "ProvideAndRegisterDocumentSetRequest")?;
        only_children(
            el,
            &[(ns::LCM, "SubmitObjectsRequest"), (ns::XDSB, "Document")],
        )?;
        let submission = single_child(el, ns::LCM, "SubmitObjectsRequest")?
            .ok_or_else(|| missing_child(el, "lcm:SubmitObjectsRequest"))?;
        let documents = el
            .children_named(ns::XDSB, "Document")
            .map(|d| {
                let id = required_reference(d, "id")?;
                let content = DocumentContent::read(d, &id)?;
                Ok(Document { id, content })
            })
            .collect::<Result<_, ReadError>>()?;
        Ok(ProvideAndRegisterRequest {
            submission: SubmitObjectsRequest::from_element(submission)?,
            documents,
        })
    }
}

/// A `…SlotList` element, or nothing when there are no slots.
pub(crate) fn slot_list(
    ns: &str,
    prefix: &str,
    local: &str,
    slots: &[Slot],
) -> Result<Option<Element>, WriteError> {
    if slots.is_empty() {
        return Ok(None);
    }
    let mut el = Element::new(ns, prefix, local);
    for s in slots {
        el.push(s.to_element()?);
    }
    Ok(Some(el))
}

pub(crate) fn read_slot_list(
    parent: &Element,
    ns: &str,
    local: &str,
) -> Result<Vec<Slot>, ReadError> {
    match single_child(parent, ns, local)? {
        None => Ok(Vec::new()),
        Some(list) => {
            only_children(list, &[(crate::xml::ns::RIM, "Slot")])?;
            list.children_named(crate::xml::ns::RIM, "Slot")
                .map(Slot::from_element)
                .collect()
        }
    }
}

/// Percent-encodes what may not appear in a `cid:` URL (RFC 2392 uses URL
/// syntax: keep unreserved characters and the few Content-ID specials).
fn percent_encode_cid(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~@!$&'()*+,;=:".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ids_survive_the_cid_url() {
        for id in ["doc1@dspconnect", "a b/c%d", "1.2.3.4"] {
            assert_eq!(
                DocumentContent::include(id).content_id().as_deref(),
                Some(id)
            );
        }
        assert_eq!(
            DocumentContent::Include {
                href: "http://x/y".into()
            }
            .content_id(),
            None
        );
        assert_eq!(DocumentContent::Inline(vec![1]).content_id(), None);
    }

    #[test]
    fn debug_shows_size_not_bytes() {
        assert_eq!(
            format!("{:?}", DocumentContent::Inline(vec![7; 5])),
            "Inline(5 bytes)"
        );
    }
}
