//! SOAP 1.2 envelopes: writing, reading with limits, faults and
//! WS-Addressing headers.
//!
//! The reader finds `Header` and `Body` by namespace URI, refuses anything
//! but a SOAP 1.2 envelope (a SOAP 1.1 one gets its own error, since it is
//! the usual misconfiguration), and surfaces a `Fault` in the Body as
//! [`SoapError::Fault`] so that callers cannot mistake it for a payload.

mod addressing;
mod fault;

pub use addressing::{ANONYMOUS_ADDRESS, Addressing, message_id_urn};
pub use fault::{Fault, FaultCode, FaultReason, QName};

use crate::xml::{self, Element, Node, NsDecl, NsScope, ParseLimits, XmlError, ns};

/// The SOAP 1.1 envelope namespace, recognised only to refuse it clearly.
pub const SOAP11_ENVELOPE_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";

/// The prefix we write the SOAP 1.2 namespace with.
pub const SOAP_PREFIX: &str = "soap";

/// The media type of a SOAP 1.2 message (RFC 3902).
pub const SOAP12_CONTENT_TYPE: &str = "application/soap+xml";

/// Why a message is not an acceptable SOAP 1.2 envelope, or the fault it
/// carries.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SoapError {
    #[error("the SOAP message is not acceptable XML: {0}")]
    Xml(#[from] XmlError),
    #[error(
        "this is a SOAP 1.1 envelope ({SOAP11_ENVELOPE_NS}); only SOAP 1.2 ({}) is spoken here: \
         send an application/soap+xml SOAP 1.2 envelope",
        ns::SOAP12
    )]
    Soap11Envelope,
    #[error(
        "the root element is {found}, not a SOAP 1.2 Envelope ({{{}}}Envelope)",
        ns::SOAP12
    )]
    NotAnEnvelope { found: String },
    #[error("the SOAP Envelope has no Body element")]
    MissingBody,
    #[error("the SOAP Envelope has more than one Header element")]
    DuplicateHeader,
    #[error("the SOAP Envelope has more than one Body element")]
    DuplicateBody,
    #[error("the SOAP Header comes after the Body; SOAP 1.2 requires Header first")]
    HeaderAfterBody,
    #[error("the SOAP Envelope contains {found}; only Header and Body are allowed")]
    UnexpectedEnvelopeChild { found: String },
    #[error("the SOAP Envelope contains text outside Header and Body")]
    TextInEnvelope,
    #[error("the service answered with a {0}")]
    Fault(Box<Fault>),
    #[error("the SOAP Fault is malformed: {problem}")]
    MalformedFault { problem: String },
    #[error("the SOAP Body is empty; a payload element was expected")]
    EmptyBody,
    #[error("the SOAP Body holds {count} elements; exactly one payload was expected")]
    MultiplePayloads { count: usize },
    #[error("the WS-Addressing header {header} appears more than once")]
    DuplicateAddressingHeader { header: &'static str },
    #[error("WS-Addressing headers are present but wsa:Action is missing")]
    MissingAddressingAction,
}

/// The name of an element as `{namespace}local` (or `local`), for errors.
pub(crate) fn expanded_name(el: &Element) -> String {
    match &el.ns {
        Some(uri) => format!("{{{uri}}}{}", el.local),
        None => el.local.clone(),
    }
}

/// A SOAP 1.2 envelope as header blocks and body elements.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// Header blocks, in order (no `Header` element is written when empty).
    pub headers: Vec<Element>,
    /// The children of `Body`: one payload element in every message kind we
    /// use.
    pub body: Vec<Element>,
}

impl Envelope {
    /// An envelope with one payload and no headers.
    pub fn new(payload: Element) -> Self {
        Envelope {
            headers: Vec::new(),
            body: vec![payload],
        }
    }

    /// Adds a header block after the existing ones.
    pub fn with_header(mut self, header: Element) -> Self {
        self.headers.push(header);
        self
    }

    /// Adds header blocks after the existing ones.
    pub fn with_headers(mut self, headers: impl IntoIterator<Item = Element>) -> Self {
        self.headers.extend(headers);
        self
    }

    /// The first header block named `{ns}local`.
    pub fn header(&self, ns: &str, local: &str) -> Option<&Element> {
        self.headers.iter().find(|h| h.is(ns, local))
    }

    /// The `soap:Envelope` tree.
    pub fn to_element(&self) -> Element {
        self.clone().into_element()
    }

    /// The `soap:Envelope` tree, consuming the envelope.
    pub fn into_element(self) -> Element {
        let mut envelope = Element::new(ns::SOAP12, SOAP_PREFIX, "Envelope");
        if !self.headers.is_empty() {
            let mut header = Element::new(ns::SOAP12, SOAP_PREFIX, "Header");
            for h in self.headers {
                header.push(h);
            }
            envelope.push(header);
        }
        let mut body = Element::new(ns::SOAP12, SOAP_PREFIX, "Body");
        for b in self.body {
            body.push(b);
        }
        envelope.push(body);
        envelope
    }

    /// The envelope as a UTF-8 document with an XML declaration.
    pub fn to_bytes(&self) -> Vec<u8> {
        xml::to_document(&self.to_element())
    }

    /// Reads an envelope from bytes. A Fault in the Body is returned as
    /// [`SoapError::Fault`].
    pub fn parse(input: &[u8], limits: &ParseLimits) -> Result<Envelope, SoapError> {
        let root = xml::parse(input, limits)?;
        Envelope::from_element(root)
    }

    /// Reads an envelope from a parsed tree. A Fault in the Body is returned
    /// as [`SoapError::Fault`].
    pub fn from_element(root: Element) -> Result<Envelope, SoapError> {
        let parts = EnvelopeParts::of(&root)?;
        let envelope_scope = NsScope::new().inside(&root);
        check_for_fault(parts.body, &envelope_scope)?;
        let (header_index, body_index) = (parts.header_index, parts.body_index);
        let mut headers = Vec::new();
        let mut body = Vec::new();
        for (i, node) in root.children.into_iter().enumerate() {
            let Node::Element(el) = node else { continue };
            if Some(i) == header_index {
                headers = detach_children(el, &envelope_scope);
            } else if i == body_index {
                body = detach_children(el, &envelope_scope);
            }
        }
        Ok(Envelope { headers, body })
    }

    /// The one payload element of the Body.
    pub fn payload(&self) -> Result<&Element, SoapError> {
        match self.body.as_slice() {
            [one] => Ok(one),
            [] => Err(SoapError::EmptyBody),
            many => Err(SoapError::MultiplePayloads { count: many.len() }),
        }
    }

    /// The one payload element of the Body, consuming the envelope.
    pub fn into_payload(mut self) -> Result<Element, SoapError> {
        match self.body.len() {
            1 => Ok(self.body.remove(0)),
            0 => Err(SoapError::EmptyBody),
            count => Err(SoapError::MultiplePayloads { count }),
        }
    }
}

/// The element children of `el` (whose parent's scope is `parent_scope`),
/// each declaring the namespaces it inherited, so that it means the same
/// once taken out of the envelope.
fn detach_children(el: Element, parent_scope: &NsScope) -> Vec<Element> {
    let scope = parent_scope.inside(&el);
    el.children
        .into_iter()
        .filter_map(|n| match n {
            Node::Element(mut e) => {
                declare_inherited_namespaces(&mut e, &scope);
                Some(e)
            }
            Node::Text(_) => None,
        })
        .collect()
}

/// Declares on `el` every namespace binding of `parent_scope` that `el`
/// does not declare itself, so that `el` keeps its meaning wherever it is
/// moved: prefixes used only inside attribute values or text
/// (`xsi:type="xs:string"`, fault codes) stay bound, and so does an
/// exclusive-C14N InclusiveNamespaces PrefixList. Exclusive C14N renders
/// only visibly used and listed prefixes, so the canonical form, and any
/// signature over it, is unchanged.
pub fn declare_inherited_namespaces(el: &mut Element, parent_scope: &NsScope) {
    for (prefix, uri) in parent_scope.effective() {
        if prefix == "xml" {
            continue;
        }
        let declared = el
            .ns_decls
            .iter()
            .any(|d| d.prefix.as_deref().unwrap_or("") == prefix);
        if !declared {
            el.ns_decls.push(NsDecl {
                prefix: (!prefix.is_empty()).then_some(prefix),
                uri,
            });
        }
    }
}

/// Returns the Fault carried by `body` as an error, if there is one.
/// SOAP 1.2 §5.4: a Fault is the only element child of the Body.
pub(crate) fn check_for_fault(body: &Element, envelope_scope: &NsScope) -> Result<(), SoapError> {
    let Some(fault) = body.child(ns::SOAP12, "Fault") else {
        return Ok(());
    };
    let count = body.elements().count();
    if count != 1 {
        return Err(SoapError::MalformedFault {
            problem: format!("the Body holds a Fault and {} other elements", count - 1),
        });
    }
    let scope = envelope_scope.inside(body);
    let fault = Fault::from_element(fault, &scope)?;
    Err(SoapError::Fault(Box::new(fault)))
}

/// The structure of a SOAP 1.2 envelope, checked: where its Header and
/// Body are, by index into `envelope.children`.
#[derive(Clone, Copy, Debug)]
pub struct EnvelopeParts<'a> {
    pub envelope: &'a Element,
    pub header: Option<&'a Element>,
    pub body: &'a Element,
    /// Index of the Header in `envelope.children`.
    pub header_index: Option<usize>,
    /// Index of the Body in `envelope.children`.
    pub body_index: usize,
}

impl<'a> EnvelopeParts<'a> {
    /// Checks that `root` is a SOAP 1.2 Envelope whose element children are
    /// exactly an optional Header followed by one Body (SOAP 1.2 §5.1), with
    /// only whitespace text between them.
    pub fn of(root: &'a Element) -> Result<Self, SoapError> {
        if root.is(SOAP11_ENVELOPE_NS, "Envelope") {
            return Err(SoapError::Soap11Envelope);
        }
        if !root.is(ns::SOAP12, "Envelope") {
            return Err(SoapError::NotAnEnvelope {
                found: expanded_name(root),
            });
        }
        let mut header: Option<(usize, &Element)> = None;
        let mut body: Option<(usize, &Element)> = None;
        for (i, node) in root.children.iter().enumerate() {
            match node {
                Node::Text(t) if t.chars().all(|c| matches!(c, ' ' | '\t' | '\n' | '\r')) => {}
                Node::Text(_) => return Err(SoapError::TextInEnvelope),
                Node::Element(el) if el.is(ns::SOAP12, "Header") => {
                    if header.is_some() {
                        return Err(SoapError::DuplicateHeader);
                    }
                    if body.is_some() {
                        return Err(SoapError::HeaderAfterBody);
                    }
                    header = Some((i, el));
                }
                Node::Element(el) if el.is(ns::SOAP12, "Body") => {
                    if body.is_some() {
                        return Err(SoapError::DuplicateBody);
                    }
                    body = Some((i, el));
                }
                Node::Element(el) => {
                    return Err(SoapError::UnexpectedEnvelopeChild {
                        found: expanded_name(el),
                    });
                }
            }
        }
        let (body_index, body) = body.ok_or(SoapError::MissingBody)?;
        Ok(EnvelopeParts {
            envelope: root,
            header: header.map(|(_, h)| h),
            body,
            header_index: header.map(|(i, _)| i),
            body_index,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Envelope, SoapError> {
        Envelope::parse(s.as_bytes(), &ParseLimits::default())
    }

    #[test]
    fn writes_and_reads_back_headers_and_payload() {
        let envelope = Envelope::new(Element::new("urn:p", "p", "Ping").with_text("a < b & c"))
            .with_header(Element::new("urn:h", "h", "Hint").with_text("x"));
        let bytes = envelope.to_bytes();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with(
            r#"<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Header>"#
        ));
        let back = Envelope::parse(&bytes, &ParseLimits::default()).unwrap();
        // Parsed elements also carry the declarations the writer added, so
        // compare what they serialize to.
        assert_eq!(
            xml::to_string(&back.to_element()),
            xml::to_string(&envelope.to_element())
        );
        assert_eq!(back.payload().unwrap().text(), "a < b & c");
        assert_eq!(back.header("urn:h", "Hint").unwrap().text(), "x");
    }

    #[test]
    fn finds_parts_by_namespace_not_prefix() {
        let env = parse(
            r#"<E:Envelope xmlns:E="http://www.w3.org/2003/05/soap-envelope">
                 <E:Body><Ping xmlns="urn:p"/></E:Body>
               </E:Envelope>"#,
        )
        .unwrap();
        assert!(env.payload().unwrap().is("urn:p", "Ping"));
        assert!(env.headers.is_empty());
    }

    #[test]
    fn refuses_what_is_not_a_soap12_envelope() {
        assert_eq!(
            parse(
                r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>"#
            ),
            Err(SoapError::Soap11Envelope)
        );
        assert_eq!(
            parse(r#"<Envelope xmlns="urn:other"><Body/></Envelope>"#),
            Err(SoapError::NotAnEnvelope {
                found: "{urn:other}Envelope".into()
            })
        );
        let s = ns::SOAP12;
        assert_eq!(
            parse(&format!(
                r#"<s:Envelope xmlns:s="{s}"><s:Header/></s:Envelope>"#
            )),
            Err(SoapError::MissingBody)
        );
        assert_eq!(
            parse(&format!(
                r#"<s:Envelope xmlns:s="{s}"><s:Body/><s:Header/></s:Envelope>"#
            )),
            Err(SoapError::HeaderAfterBody)
        );
        assert_eq!(
            parse(&format!(
                r#"<s:Envelope xmlns:s="{s}"><s:Body/><s:Body/></s:Envelope>"#
            )),
            Err(SoapError::DuplicateBody)
        );
        assert_eq!(
            parse(&format!(
                r#"<s:Envelope xmlns:s="{s}"><s:Header/><s:Header/><s:Body/></s:Envelope>"#
            )),
            Err(SoapError::DuplicateHeader)
        );
        assert_eq!(
            parse(&format!(
                r#"<s:Envelope xmlns:s="{s}"><s:Body/><x:W xmlns:x="urn:x"/></s:Envelope>"#
            )),
            Err(SoapError::UnexpectedEnvelopeChild {
                found: "{urn:x}W".into()
            })
        );
        assert_eq!(
            parse(&format!(
                r#"<s:Envelope xmlns:s="{s}">hi<s:Body/></s:Envelope>"#
            )),
            Err(SoapError::TextInEnvelope)
        );
        assert!(matches!(
            parse("<not xml"),
            Err(SoapError::Xml(XmlError::Syntax { .. }))
        ));
    }

    #[test]
    fn detached_payload_keeps_namespaces_used_in_values() {
        let s = ns::SOAP12;
        let env = parse(&format!(
            r#"<s:Envelope xmlns:s="{s}" xmlns:xs="urn:xs" xmlns:xsi="urn:xsi"><s:Body><v xsi:type="xs:string">1</v></s:Body></s:Envelope>"#
        ))
        .unwrap();
        let alone = xml::to_string(env.payload().unwrap());
        let back = xml::parse_str(&alone, &ParseLimits::default()).unwrap();
        assert_eq!(
            NsScope::new().inside(&back).lookup("xs"),
            Some("urn:xs"),
            "{alone}"
        );
    }

    #[test]
    fn payload_requires_exactly_one_element() {
        let s = ns::SOAP12;
        let empty = parse(&format!(
            r#"<s:Envelope xmlns:s="{s}"><s:Body> </s:Body></s:Envelope>"#
        ))
        .unwrap();
        assert_eq!(empty.payload(), Err(SoapError::EmptyBody));
        let two = parse(&format!(
            r#"<s:Envelope xmlns:s="{s}"><s:Body><a/><b/></s:Body></s:Envelope>"#
        ))
        .unwrap();
        assert_eq!(
            two.into_payload(),
            Err(SoapError::MultiplePayloads { count: 2 })
        );
    }

    #[test]
    fn enforces_parse_limits() {
        let limits = ParseLimits {
            max_bytes: 64,
            ..ParseLimits::default()
        };
        let big = Envelope::new(Element::new("urn:p", "p", "Ping").with_text("x".repeat(100)));
        assert!(matches!(
            Envelope::parse(&big.to_bytes(), &limits),
            Err(SoapError::Xml(XmlError::TooLarge { .. }))
        ));
    }
}
