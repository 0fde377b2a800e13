//! What every XDS message kind offers: a writer to an [`Element`] (for the
//! SOAP Body) and a reader from one, plus byte-level conveniences.

use crate::xml::{self, Element, Node, ParseLimits};

use super::error::{ReadError, WriteError, element_name};

/// A message kind with a root element of its own.
pub trait XdsMessage: Sized {
    /// Namespace URI and local name of the root element.
    const ROOT: (&'static str, &'static str);

    /// Builds the root element without the final check; use
    /// [`XdsMessage::to_element`].
    fn write_element(&self) -> Result<Element, WriteError>;

    /// Builds the root element (to put in a SOAP Body, or to serialize),
    /// refusing characters XML 1.0 cannot carry.
    fn to_element(&self) -> Result<Element, WriteError> {
        let el = self.write_element()?;
        check_xml_chars(&el)?;
        Ok(el)
    }

    /// Reads the root element. Fails on another root element.
    fn from_element(el: &Element) -> Result<Self, ReadError>;

    /// The message as a standalone UTF-8 document.
    fn to_xml(&self) -> Result<Vec<u8>, WriteError> {
        Ok(xml::to_document(&self.to_element()?))
    }

    /// Parses a standalone document under `limits` and reads it.
    fn from_xml(bytes: &[u8], limits: &ParseLimits) -> Result<Self, ReadError> {
        let root = xml::parse(bytes, limits)?;
        Self::from_element(&root)
    }
}

/// XML 1.0 `Char`: no control characters but tab, line feed and carriage
/// return, and not U+FFFE/U+FFFF (surrogates are not Rust chars).
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Every attribute value and text in the tree is made of XML characters.
pub(crate) fn check_xml_chars(el: &Element) -> Result<(), WriteError> {
    let bad = |context: String, value: &str| -> Result<(), WriteError> {
        match value.chars().find(|c| !is_xml_char(*c)) {
            Some(c) => Err(WriteError::NotXmlCharacter {
                context,
                code_point: u32::from(c),
            }),
            None => Ok(()),
        }
    };
    for a in &el.attrs {
        bad(
            format!("attribute {} of <{}>", a.qname(), element_name(el)),
            &a.value,
        )?;
    }
    for child in &el.children {
        match child {
            Node::Element(c) => check_xml_chars(c)?,
            Node::Text(t) => bad(format!("the text of <{}>", element_name(el)), t)?,
        }
    }
    Ok(())
}
