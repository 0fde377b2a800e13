//! The XML layer every message kind is built on: an owned tree
//! ([`Element`]), a namespace-aware parser with limits ([`parse`]), a writer
//! ([`to_string`]) and exclusive canonicalization ([`exclusive_c14n`]).

mod c14n;
mod dom;
pub mod ns;
mod parse;
mod write;

pub use c14n::{NsScope, escape_attr, escape_text, exclusive_c14n};
pub use dom::{Attribute, Descendants, Element, Node, NsDecl};
pub use parse::{ParseLimits, XmlError, parse, parse_str};
pub use write::{to_document, to_string, write_in_scope};
