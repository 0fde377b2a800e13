//! ebRIM 3.0 / XDS.b messages: metadata types, and a writer and a reader
//! for every message kind the daemon (client) and the sandbox (server)
//! exchange.
//!
//! | Transaction | Request | Response |
//! |---|---|---|
//! | ITI-41 Provide and Register | [`ProvideAndRegisterRequest`] | [`RegistryResponse`] |
//! | ITI-42 Register / ITI-57 Update | [`SubmitObjectsRequest`] | [`RegistryResponse`] |
//! | ITI-18 Stored Query | [`AdhocQueryRequest`] ([`StoredQuery`]) | [`AdhocQueryResponse`] |
//! | ITI-43 Retrieve | [`RetrieveDocumentSetRequest`] | [`RetrieveDocumentSetResponse`] |
//!
//! Each implements [`XdsMessage`]: `to_element` for the SOAP Body,
//! `from_element` to read one, and `to_xml`/`from_xml` on whole documents.
//! Namespaces are matched by URI, never by prefix.
//!
//! # What a reader refuses, and what it leaves to the registry
//!
//! Readers capture what is there; they do not apply XDS business rules.
//! The line is the schema:
//!
//! - **Reader errors** ([`ReadError`]): input that is not XML or is over
//!   the parse limits; a wrong root element; bad nesting (an element where
//!   the schema has no place for it, a second one where it allows one); an
//!   attribute or child the *schema* requires (an `ExtrinsicObject` without
//!   `id`, a `Slot` without `ValueList`, an `Association` without
//!   `targetObject`); a `urn:uuid:` reference that is not a UUID (after
//!   removing whitespace, see [`rim`]); document content that is not
//!   base64.
//! - **Not reader errors** — for the registry, which answers
//!   `XDSRegistryMetadataError` and friends: anything XDS requires but the
//!   schema does not. Metadata fields are `Option`s or lists; a malformed
//!   time, size or hash is kept as [`Checked::Malformed`] with its raw text;
//!   unknown slots, classifications and identifiers are kept in the
//!   `extra_…`/`other_…` fields and written back. An association whose
//!   source or target points at nothing, a classification that classifies
//!   another object, two classCodes: all are read and kept as written.
//! - Stored query parameters are kept raw in the request and decoded on
//!   demand by [`AdhocQueryRequest::stored_query`], whose errors carry the
//!   XDS error code the registry answers with. Values are data: see
//!   [`query_value`].
//!
//! Two leniencies are documented where they apply: whitespace inside
//! `urn:uuid:` references ([`rim`]) and an unterminated single string in a
//! query value ([`query_value`]). One more: an `AdhocQueryResponse` without
//! its (schema-required) `RegistryObjectList` reads as an empty list.
//!
//! Not kept by the readers (layout, or nothing XDS gives a meaning to): the
//! document order of the object list; the ids of the classifications and
//! identifiers the types model (the writer derives new ones); the language
//! and charset of localized strings and any second translation; the
//! `VersionInfo` of classifications and identifiers; `isOpaque`; names and
//! classifications of associations; a `RegistryObjectList` nested in a
//! package; the text of a `RegistryError` (IHE requires it empty); the
//! `RequestSlotList`, name and `QueryExpression` of an `AdhocQueryRequest`.
//!
//! Writers produce schema-valid XML or a [`WriteError`] (a value over an
//! ebRIM length limit, an empty list the schema forbids). Classification
//! and external identifier ids are derived from the owner's id (see
//! `rim::derived_id`): the same metadata is always written the same way.

mod association;
mod checked;
mod code;
pub mod constants;
mod document_entry;
mod dtm;
mod error;
mod message;
mod object_list;
mod query;
mod query_response;
pub mod query_value;
mod response;
mod retrieve;
pub mod rim;
mod submission_set;
mod submit;
mod update;
mod vocabulary;

pub use association::Association;
pub use checked::{Checked, Sha1Hash, Sha1HashError};
pub use code::{Author, Code};
pub use document_entry::DocumentEntry;
pub use dtm::{Dtm, DtmError, DtmPrecision};
pub use error::{ReadError, WriteError};
pub use message::XdsMessage;
pub use object_list::RegistryObjectList;
pub use query::{
    AdhocQueryRequest, DocumentIds, FindDocumentsQuery, GetDocumentsQuery, QueryParamError,
    ReturnType, StoredQuery, code_from_query_string, code_to_query_string,
};
pub use query_response::AdhocQueryResponse;
pub use query_value::{QueryLiteral, QueryValue, QueryValueError};
pub use response::{
    RegistryError, RegistryFailure, RegistryResponse, ResponseStatus, Severity, XdsErrorCode,
};
pub use retrieve::{
    DocumentRequest, DocumentResponse, RetrieveDocumentSetRequest, RetrieveDocumentSetResponse,
};
pub use rim::{Classification, ExternalIdentifier, ObjectRef, Slot};
pub use submission_set::SubmissionSet;
pub use submit::{Document, DocumentContent, ProvideAndRegisterRequest, SubmitObjectsRequest};
pub use update::{ConfidentialityChange, DocumentUpdate, UpdateError};
pub use vocabulary::{AssociationType, AvailabilityStatus, DocumentEntryType, SubmissionSetStatus};
