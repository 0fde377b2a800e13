//! Errors of the XDS readers and writers.

use crate::xml::{Element, XmlError};

/// Why a message could not be read. Only structural problems end up here
/// (see the module documentation of [`crate::xds`] for the line between a
/// reader error and a registry metadata error).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error("the message is not acceptable XML: {0}")]
    Xml(#[from] XmlError),
    #[error("expected a <{expected}> element, found <{found}>; is this the right message kind?")]
    WrongRoot { expected: String, found: String },
    #[error("<{element}> has no '{attribute}' attribute, which the schema requires")]
    MissingAttribute {
        element: String,
        attribute: &'static str,
    },
    #[error("<{parent}> has no <{child}> child, which the schema requires")]
    MissingChild { parent: String, child: String },
    #[error("<{parent}> has more than one <{child}>; the schema allows one")]
    DuplicateChild { parent: String, child: String },
    #[error("<{found}> is not allowed inside <{parent}>")]
    UnexpectedElement { parent: String, found: String },
    #[error(
        "<{element}> {attribute}=\"{value}\" is not a well-formed urn:uuid reference (expected urn:uuid: followed by 8-4-4-4-12 hexadecimal digits)"
    )]
    MalformedUuid {
        element: String,
        attribute: &'static str,
        value: String,
    },
    #[error("<{element}> {attribute}=\"{value}\" is not a boolean (true, false, 1 or 0)")]
    MalformedBoolean {
        element: String,
        attribute: &'static str,
        value: String,
    },
    #[error("document '{id}': its content is not valid base64 ({problem})")]
    MalformedBase64 { id: String, problem: String },
    #[error(
        "document '{id}': its content mixes base64 text with <xop:Include>; use one or the other"
    )]
    MixedDocumentContent { id: String },
    #[error("document '{id}': <xop:Include> has no href attribute")]
    IncludeWithoutHref { id: String },
}

/// Why a value cannot be written so that the message still validates.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    #[error(
        "{field} is {length} characters long, but ebRIM allows at most {limit} ({kind}); shorten it"
    )]
    TooLong {
        field: String,
        length: usize,
        limit: usize,
        kind: &'static str,
    },
    #[error(
        "{context} contains U+{code_point:04X}, which XML 1.0 cannot carry; remove control characters"
    )]
    NotXmlCharacter { context: String, code_point: u32 },
    #[error("{field} is empty; {why}")]
    Empty { field: String, why: &'static str },
}

/// The name of an element for messages: the conventional prefix for its
/// namespace (not the one used in the input, which may be anything).
pub(crate) fn element_name(el: &Element) -> String {
    match el.ns.as_deref() {
        Some(ns) => match conventional_prefix(ns) {
            Some(p) => format!("{p}:{}", el.local),
            None => format!("{{{ns}}}{}", el.local),
        },
        None => el.local.clone(),
    }
}

pub(crate) fn conventional_prefix(ns: &str) -> Option<&'static str> {
    use crate::xml::ns;
    Some(match ns {
        ns::RIM => "rim",
        ns::LCM => "lcm",
        ns::RS => "rs",
        ns::QUERY => "query",
        ns::XDSB => "xds",
        ns::XOP => "xop",
        ns::SOAP12 => "soap",
        _ => return None,
    })
}
