//! What every XDS message kind offers: a writer to an [`Element`] (for the
//! SOAP Body) and a reader from one, plus byte-level conveniences.

use crate::xml::{self, Element, ParseLimits};

use super::error::{ReadError, WriteError};

/// A message kind with a root element of its own.
pub trait XdsMessage: Sized {
    /// Namespace URI and local name of the root element.
    const ROOT: (&'static str, &'static str);

    /// Builds the root element (to put in a SOAP Body, or to serialize).
    fn to_element(&self) -> Result<Element, WriteError>;

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
