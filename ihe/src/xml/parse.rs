//! Parsing bytes into an [`Element`] tree with quick-xml's `NsReader`,
//! namespaces resolved by URI, under explicit size limits.
//!
//! What we refuse, on purpose: a DOCTYPE (no DTD means no external or
//! expanding entities), processing instructions other than the XML
//! declaration, entities other than the five predefined ones and character
//! references, encodings other than UTF-8, and input over the limits.

use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

use super::dom::{Attribute, Element, Node, NsDecl};
use super::ns;

/// Bounds on what the parser accepts. Every message kind picks its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseLimits {
    /// Largest input, in bytes.
    pub max_bytes: usize,
    /// Deepest element nesting.
    pub max_depth: usize,
    /// Most elements in the document.
    pub max_elements: usize,
    /// Most attributes (declarations included) on one element.
    pub max_attributes: usize,
}

impl ParseLimits {
    /// Limits for SOAP messages: 16 MiB, 64 levels, 200,000 elements.
    pub const SOAP: ParseLimits = ParseLimits {
        max_bytes: 16 * 1024 * 1024,
        max_depth: 64,
        max_elements: 200_000,
        max_attributes: 64,
    };
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits::SOAP
    }
}

/// Why an input is not acceptable XML.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum XmlError {
    #[error("XML input is {size} bytes, over the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("XML input is not valid UTF-8 (at byte {offset}); only UTF-8 is accepted")]
    NotUtf8 { offset: usize },
    #[error("XML declares encoding '{0}'; only UTF-8 is accepted")]
    UnsupportedEncoding(String),
    #[error("XML version {0} is not supported; only 1.0 is accepted")]
    UnsupportedVersion(String),
    #[error("malformed XML at byte {offset}: {message}")]
    Syntax { offset: u64, message: String },
    #[error("a DOCTYPE is not accepted (no DTDs, no custom entities)")]
    DoctypeForbidden,
    #[error("processing instruction <?{0} ...?> is not accepted")]
    ProcessingInstructionForbidden(String),
    #[error(
        "entity '&{0};' is not defined (only &lt; &gt; &amp; &quot; &apos; and character references)"
    )]
    UnknownEntity(String),
    #[error(
        "namespace declaration '{0}' uses a reference or a tab/line break; write the namespace URI literally"
    )]
    NamespaceUriNotLiteral(String),
    #[error(
        "character U+{code:04X} at byte {offset} is not allowed in XML 1.0 (control characters other than tab, CR and LF)"
    )]
    ForbiddenCharacter { offset: usize, code: u32 },
    #[error(
        "'{0}' is not a valid namespaced name (one optional 'prefix:', no reserved 'xmlns' prefix)"
    )]
    InvalidName(String),
    #[error("namespace prefix '{0}' is used but not declared")]
    UnboundPrefix(String),
    #[error("element nesting deeper than {0} levels")]
    TooDeep(usize),
    #[error("more than {0} elements")]
    TooManyElements(usize),
    #[error("element <{element}> has more than {limit} attributes")]
    TooManyAttributes { element: String, limit: usize },
    #[error("attribute '{attribute}' appears twice on <{element}>")]
    DuplicateAttribute { element: String, attribute: String },
    #[error("no root element")]
    NoRoot,
    #[error("content after the root element")]
    ContentAfterRoot,
    #[error("text outside the root element")]
    TextOutsideRoot,
}

/// Parses a whole document and returns its root element.
pub fn parse(input: &[u8], limits: &ParseLimits) -> Result<Element, XmlError> {
    if input.len() > limits.max_bytes {
        return Err(XmlError::TooLarge {
            size: input.len(),
            limit: limits.max_bytes,
        });
    }
    let text = std::str::from_utf8(input).map_err(|e| XmlError::NotUtf8 {
        offset: e.valid_up_to(),
    })?;
    // A UTF-8 byte order mark is allowed before the document.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    parse_str(text, limits)
}

/// Parses a whole document given as a string.
pub fn parse_str(text: &str, limits: &ParseLimits) -> Result<Element, XmlError> {
    if text.len() > limits.max_bytes {
        return Err(XmlError::TooLarge {
            size: text.len(),
            limit: limits.max_bytes,
        });
    }
    // quick-xml does not check the XML 1.0 Char production; libxml2 does.
    if let Some((offset, c)) = text.char_indices().find(|&(_, c)| !is_xml_char(c)) {
        return Err(XmlError::ForbiddenCharacter {
            offset,
            code: u32::from(c),
        });
    }
    let mut reader = NsReader::from_str(text);
    {
        let config = reader.config_mut();
        config.trim_text(false);
        config.check_end_names = true;
        config.check_comments = true;
        config.expand_empty_elements = false;
        config.allow_unmatched_ends = false;
        config.allow_dangling_amp = false;
    }

    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut elements = 0usize;
    let mut version = XmlVersion::Implicit1_0;

    loop {
        let offset = reader.buffer_position();
        let event = reader.read_event().map_err(|e| XmlError::Syntax {
            offset,
            message: e.to_string(),
        })?;
        match event {
            Event::Decl(decl) => {
                if let Ok(v) = decl.version()
                    && v.as_ref() != "1.0"
                {
                    return Err(XmlError::UnsupportedVersion(v.into_owned()));
                }
                version = XmlVersion::Explicit1_0;
                if let Some(enc) = decl.encoding() {
                    let enc = enc.map_err(|e| XmlError::Syntax {
                        offset,
                        message: e.to_string(),
                    })?;
                    if !enc.eq_ignore_ascii_case("utf-8") {
                        return Err(XmlError::UnsupportedEncoding(enc.into_owned()));
                    }
                }
            }
            Event::DocType(_) => return Err(XmlError::DoctypeForbidden),
            Event::PI(pi) => {
                return Err(XmlError::ProcessingInstructionForbidden(
                    pi.target().to_owned(),
                ));
            }
            Event::Comment(_) => {}
            Event::Start(start) | Event::Empty(start) if root.is_some() && stack.is_empty() => {
                let _ = start;
                return Err(XmlError::ContentAfterRoot);
            }
            Event::Start(start) => {
                elements += 1;
                if elements > limits.max_elements {
                    return Err(XmlError::TooManyElements(limits.max_elements));
                }
                if stack.len() >= limits.max_depth {
                    return Err(XmlError::TooDeep(limits.max_depth));
                }
                let el = element_from(&reader, &start, version, offset, limits)?;
                stack.push(el);
            }
            Event::Empty(start) => {
                elements += 1;
                if elements > limits.max_elements {
                    return Err(XmlError::TooManyElements(limits.max_elements));
                }
                if stack.len() >= limits.max_depth {
                    return Err(XmlError::TooDeep(limits.max_depth));
                }
                let el = element_from(&reader, &start, version, offset, limits)?;
                close(el, &mut stack, &mut root);
            }
            Event::End(_) => {
                // check_end_names guarantees the match.
                let el = stack.pop().ok_or_else(|| XmlError::Syntax {
                    offset,
                    message: "unexpected end tag".into(),
                })?;
                close(el, &mut stack, &mut root);
            }
            Event::Text(t) => {
                let content = t.xml_content(version);
                push_text(&mut stack, &content)?;
            }
            Event::CData(c) => {
                let content = c.xml_content(version);
                if stack.is_empty() {
                    return Err(XmlError::TextOutsideRoot);
                }
                push_text(&mut stack, &content)?;
            }
            Event::GeneralRef(r) => {
                let resolved = if r.is_char_ref() {
                    match r.resolve_char_ref() {
                        Ok(Some(c)) if is_xml_char(c) => c.to_string(),
                        Ok(Some(c)) => {
                            return Err(XmlError::ForbiddenCharacter {
                                offset: usize::try_from(offset).unwrap_or(usize::MAX),
                                code: u32::from(c),
                            });
                        }
                        Ok(None) => {
                            return Err(XmlError::UnknownEntity(
                                r.xml_content(version).into_owned(),
                            ));
                        }
                        Err(e) => {
                            return Err(XmlError::Syntax {
                                offset,
                                message: e.to_string(),
                            });
                        }
                    }
                } else {
                    let name = r.xml_content(version);
                    match predefined_entity(&name) {
                        Some(s) => s.to_owned(),
                        None => return Err(XmlError::UnknownEntity(name.into_owned())),
                    }
                };
                if stack.is_empty() {
                    return Err(XmlError::TextOutsideRoot);
                }
                push_text(&mut stack, &resolved)?;
            }
            Event::Eof => {
                if !stack.is_empty() {
                    return Err(XmlError::Syntax {
                        offset,
                        message: format!("unclosed element <{}>", stack[stack.len() - 1].qname()),
                    });
                }
                return root.ok_or(XmlError::NoRoot);
            }
        }
    }
}

fn predefined_entity(name: &str) -> Option<&'static str> {
    Some(match name {
        "lt" => "<",
        "gt" => ">",
        "amp" => "&",
        "quot" => "\"",
        "apos" => "'",
        _ => return None,
    })
}

fn push_text(stack: &mut [Element], text: &str) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(parent) => {
            // Adjacent text (text, entity, CDATA) is one text node, as in the
            // XPath data model C14N is defined on.
            if let Some(Node::Text(prev)) = parent.children.last_mut() {
                prev.push_str(text);
            } else if !text.is_empty() {
                parent.children.push(Node::Text(text.to_owned()));
            }
            Ok(())
        }
        None if text.chars().all(|c| matches!(c, ' ' | '\t' | '\n' | '\r')) => Ok(()),
        None => Err(XmlError::TextOutsideRoot),
    }
}

fn close(el: Element, stack: &mut [Element], root: &mut Option<Element>) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(Node::Element(el)),
        None => *root = Some(el),
    }
}

fn element_from(
    reader: &NsReader<&[u8]>,
    start: &BytesStart<'_>,
    version: XmlVersion,
    offset: u64,
    limits: &ParseLimits,
) -> Result<Element, XmlError> {
    let resolver = reader.resolver();
    let qname = start.name();
    let raw_name = qname.0;
    let (prefix, local) = qname_parts(raw_name)?;
    if prefix == Some("xmlns") {
        return Err(XmlError::InvalidName(raw_name.to_owned()));
    }
    let (resolved, _) = resolver.resolve_element(qname);
    let ns = match resolved {
        ResolveResult::Bound(n) => Some(n.0.to_owned()),
        ResolveResult::Unbound => None,
        ResolveResult::Unknown(p) => return Err(XmlError::UnboundPrefix(p.to_owned())),
    };
    let mut el = Element {
        prefix: prefix.map(str::to_owned),
        local: local.to_owned(),
        ns,
        ns_decls: Vec::new(),
        attrs: Vec::new(),
        children: Vec::new(),
    };
    let mut count = 0usize;
    for attr in start.attributes().with_checks(true) {
        let attr = attr.map_err(|e| XmlError::Syntax {
            offset,
            message: e.to_string(),
        })?;
        count += 1;
        if count > limits.max_attributes {
            return Err(XmlError::TooManyAttributes {
                element: el.qname(),
                limit: limits.max_attributes,
            });
        }
        let key = attr.key.0;
        // quick-xml does not check this well-formedness rule; libxml2 (and
        // so xmlsec1) does, and a document the two read differently must
        // not get through.
        if attr.value.contains('<') {
            return Err(XmlError::Syntax {
                offset,
                message: format!("attribute '{key}': '<' is not allowed in an attribute value"),
            });
        }
        let value =
            attr.normalized_value(version)
                .map_err(|e| match e {
                    quick_xml::Error::Escape(
                        quick_xml::escape::EscapeError::UnrecognizedEntity(_, name),
                    ) => XmlError::UnknownEntity(name),
                    other => XmlError::Syntax {
                        offset,
                        message: format!("attribute '{key}': {other}"),
                    },
                })?
                .into_owned();
        // NsReader resolves prefixes with the raw declaration value, so an
        // escaped or whitespace-normalized URI would differ between an
        // element's `ns` and its `ns_decls`; such URIs are refused.
        let is_declaration = key == "xmlns" || key.starts_with("xmlns:");
        if is_declaration && *attr.value != *value {
            return Err(XmlError::NamespaceUriNotLiteral(key.to_owned()));
        }
        if key == "xmlns" {
            el.ns_decls.push(NsDecl {
                prefix: None,
                uri: value,
            });
            continue;
        }
        if let Some(p) = key.strip_prefix("xmlns:") {
            el.ns_decls.push(NsDecl {
                prefix: Some(p.to_owned()),
                uri: value,
            });
            continue;
        }
        if let Some(c) = value.chars().find(|&c| !is_xml_char(c)) {
            return Err(XmlError::ForbiddenCharacter {
                offset: usize::try_from(offset).unwrap_or(usize::MAX),
                code: u32::from(c),
            });
        }
        let (aprefix, alocal) = qname_parts(key)?;
        let ans = match aprefix {
            None => None,
            Some("xml") => Some(ns::XML.to_owned()),
            Some(_) => {
                let (resolved, _) = resolver.resolve_attribute(attr.key);
                match resolved {
                    ResolveResult::Bound(n) => Some(n.0.to_owned()),
                    ResolveResult::Unbound => None,
                    ResolveResult::Unknown(p) => {
                        return Err(XmlError::UnboundPrefix(p.to_owned()));
                    }
                }
            }
        };
        if el
            .attrs
            .iter()
            .any(|a| a.local == alocal && a.ns == ans && (ans.is_some() || a.prefix.is_none()))
        {
            return Err(XmlError::DuplicateAttribute {
                element: el.qname(),
                attribute: key.to_owned(),
            });
        }
        el.attrs.push(Attribute {
            prefix: aprefix.map(str::to_owned),
            local: alocal.to_owned(),
            ns: ans,
            value,
        });
    }
    Ok(el)
}

/// XML 1.0 `Char`: what may appear in a document, literally or as a
/// character reference.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
}

/// Splits a name into prefix and local part, refusing what Namespaces in
/// XML does not allow (quick-xml accepts `a:b:c`, `:a`, `a:`).
fn qname_parts(name: &str) -> Result<(Option<&str>, &str), XmlError> {
    let (prefix, local) = split_qname(name);
    if !is_ncname(local) || prefix.is_some_and(|p| !is_ncname(p)) {
        return Err(XmlError::InvalidName(name.to_owned()));
    }
    Ok((prefix, local))
}

/// Namespaces in XML `NCName`: an XML 1.0 `Name` without colons.
fn is_ncname(name: &str) -> bool {
    let start = |c: char| {
        matches!(c,
            'A'..='Z' | '_' | 'a'..='z' | '\u{c0}'..='\u{d6}' | '\u{d8}'..='\u{f6}'
            | '\u{f8}'..='\u{2ff}' | '\u{370}'..='\u{37d}' | '\u{37f}'..='\u{1fff}'
            | '\u{200c}'..='\u{200d}' | '\u{2070}'..='\u{218f}' | '\u{2c00}'..='\u{2fef}'
            | '\u{3001}'..='\u{d7ff}' | '\u{f900}'..='\u{fdcf}' | '\u{fdf0}'..='\u{fffd}'
            | '\u{10000}'..='\u{effff}')
    };
    let rest = |c: char| {
        start(c)
            || matches!(c, '-' | '.' | '0'..='9' | '\u{b7}' | '\u{300}'..='\u{36f}' | '\u{203f}'..='\u{2040}')
    };
    let mut chars = name.chars();
    chars.next().is_some_and(start) && chars.all(rest)
}

fn split_qname(name: &str) -> (Option<&str>, &str) {
    match name.split_once(':') {
        Some((p, l)) => (Some(p), l),
        None => (None, name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Element, XmlError> {
        parse(s.as_bytes(), &ParseLimits::default())
    }

    #[test]
    fn resolves_namespaces_by_uri_not_prefix() {
        let a = p(r#"<x:a xmlns:x="urn:one"><y:b xmlns:y="urn:one" y:at="v"/></x:a>"#).unwrap();
        assert!(a.is("urn:one", "a"));
        let b = a.child("urn:one", "b").unwrap();
        assert_eq!(b.attr_ns("urn:one", "at"), Some("v"));
        assert_eq!(b.prefix.as_deref(), Some("y"));
    }

    #[test]
    fn default_namespace_applies_to_elements_not_attributes() {
        let a = p(r#"<a xmlns="urn:d" at="1"><b/></a>"#).unwrap();
        assert!(a.is("urn:d", "a"));
        assert_eq!(a.attrs[0].ns, None);
        assert!(a.elements().next().unwrap().is("urn:d", "b"));
    }

    #[test]
    fn entities_and_char_refs_are_expanded_and_text_merged() {
        let a = p("<a>x &amp; y &#60;&#x3E; <![CDATA[<z>]]></a>").unwrap();
        assert_eq!(a.children.len(), 1);
        assert_eq!(a.text(), "x & y <> <z>");
    }

    #[test]
    fn attribute_values_are_normalized() {
        let a = p("<a v=\"one\ntwo\tthree&#9;four\"/>").unwrap();
        assert_eq!(a.attr("v"), Some("one two three\tfour"));
    }

    #[test]
    fn line_endings_are_normalized_in_text() {
        let a = p("<a>one\r\ntwo\rthree</a>").unwrap();
        assert_eq!(a.text(), "one\ntwo\nthree");
    }

    #[test]
    fn refuses_what_we_never_accept() {
        assert_eq!(
            p(r#"<!DOCTYPE a [<!ENTITY e "boom">]><a>&e;</a>"#),
            Err(XmlError::DoctypeForbidden)
        );
        assert_eq!(p("<a>&e;</a>"), Err(XmlError::UnknownEntity("e".into())));
        assert!(matches!(
            p("<a><?php x ?></a>"),
            Err(XmlError::ProcessingInstructionForbidden(t)) if t == "php"
        ));
        assert_eq!(
            p(r#"<?xml version="1.0" encoding="ISO-8859-1"?><a/>"#),
            Err(XmlError::UnsupportedEncoding("ISO-8859-1".into()))
        );
        assert_eq!(p("<x:a/>"), Err(XmlError::UnboundPrefix("x".into())));
        assert_eq!(p("<a/><b/>"), Err(XmlError::ContentAfterRoot));
        assert_eq!(p("<a/>text"), Err(XmlError::TextOutsideRoot));
        assert_eq!(p("   "), Err(XmlError::NoRoot));
        assert!(matches!(p("<a><b></a>"), Err(XmlError::Syntax { .. })));
        assert!(matches!(p("<a>"), Err(XmlError::Syntax { .. })));
        assert!(matches!(
            p(r#"<a x="1" x="2"/>"#),
            Err(XmlError::Syntax { .. } | XmlError::DuplicateAttribute { .. })
        ));
        assert!(matches!(
            p(r#"<a xmlns:p="urn:x" xmlns:q="urn:x" p:x="1" q:x="2"/>"#),
            Err(XmlError::DuplicateAttribute { .. })
        ));
        assert!(matches!(
            parse(b"<a>\xff</a>", &ParseLimits::default()),
            Err(XmlError::NotUtf8 { offset: 3 })
        ));
    }

    /// Found by fuzzing (fuzz target `xml`): these were accepted, and the
    /// escaped namespace URI came out different in `ns` and `ns_decls`, so
    /// the canonical form changed through `to_string` + `parse`.
    #[test]
    fn refuses_lt_in_attributes_and_escaped_namespace_uris() {
        assert!(matches!(
            p(r#"<a x="1<2"/>"#),
            Err(XmlError::Syntax { message, .. }) if message.contains("'<' is not allowed")
        ));
        assert_eq!(
            p(r#"<q:a xmlns:q="urn:x&lt;y"/>"#),
            Err(XmlError::NamespaceUriNotLiteral("xmlns:q".into()))
        );
        assert_eq!(
            p(r#"<a xmlns="urn:&#x78;"/>"#),
            Err(XmlError::NamespaceUriNotLiteral("xmlns".into()))
        );
        assert_eq!(
            p("<a xmlns=\"urn:x\ty\"/>"),
            Err(XmlError::NamespaceUriNotLiteral("xmlns".into()))
        );
        assert_eq!(
            p("<a>\u{0}</a>"),
            Err(XmlError::ForbiddenCharacter { offset: 3, code: 0 })
        );
        assert!(matches!(
            p("<a>&#x1;</a>"),
            Err(XmlError::ForbiddenCharacter { code: 1, .. })
        ));
        assert!(matches!(
            p(r#"<a x="&#x1b;"/>"#),
            Err(XmlError::ForbiddenCharacter { code: 0x1b, .. })
        ));
        assert_eq!(
            p(r#"<a xmlns:p="urn:p"><p:b:c/></a>"#),
            Err(XmlError::InvalidName("p:b:c".into()))
        );
        assert_eq!(
            p(r#"<xmlns:a/>"#),
            Err(XmlError::InvalidName("xmlns:a".into()))
        );
        assert_eq!(p(r#"<a :x="1"/>"#), Err(XmlError::InvalidName(":x".into())));
        assert_eq!(p("<ml/ ></ml/>"), Err(XmlError::InvalidName("ml/".into())));
        assert_eq!(p(r#"<a 1x="1"/>"#), Err(XmlError::InvalidName("1x".into())));
        assert!(p("<é.b-c_d·e/>").is_ok());
        // Ordinary attribute values may still use references.
        assert_eq!(
            p(r#"<a x="1&lt;2&#x9;"/>"#).unwrap().attr("x"),
            Some("1<2\t")
        );
    }

    #[test]
    fn enforces_limits() {
        let limits = ParseLimits {
            max_bytes: 100,
            max_depth: 3,
            max_elements: 5,
            max_attributes: 2,
        };
        let big = format!("<a>{}</a>", "x".repeat(200));
        assert!(matches!(
            parse(big.as_bytes(), &limits),
            Err(XmlError::TooLarge { .. })
        ));
        assert_eq!(
            parse(b"<a><b><c><d/></c></b></a>", &limits),
            Err(XmlError::TooDeep(3))
        );
        assert_eq!(
            parse(b"<a><b/><b/><b/><b/><b/></a>", &limits),
            Err(XmlError::TooManyElements(5))
        );
        assert!(matches!(
            parse(br#"<a x="1" y="2" z="3"/>"#, &limits),
            Err(XmlError::TooManyAttributes { .. })
        ));
    }

    #[test]
    fn comments_are_dropped() {
        let a = p("<a>x<!-- hidden -->y</a>").unwrap();
        assert_eq!(a.text(), "xy");
    }
}
