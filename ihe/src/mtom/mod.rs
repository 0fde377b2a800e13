//! MTOM/XOP (`multipart/related; type="application/xop+xml"`) bodies, as
//! ITI-41 Provide and Register and ITI-43 Retrieve carry documents.
//!
//! Both directions stream: a document is never held in memory whole.
//! - Writing: [`MtomLayout`] plans the body (header value, exact
//!   Content-Length, literal segments and attachment slots) so that an
//!   async caller can stream files itself; [`MtomBody`] is a blocking
//!   [`std::io::Read`] over the same plan.
//! - Reading: [`MtomParser`] is a push parser fed arbitrary chunks;
//!   [`read_message`] drives it from a [`std::io::Read`].
//! - `xop:Include/@href` values: [`href_for_content_id`] and
//!   [`content_id_from_href`] (RFC 2392 `cid:` URLs).

mod content_id;
mod content_type;
mod parser;
mod reader;
mod writer;

pub use content_id::{ContentIdError, content_id_from_href, href_for_content_id};
pub use content_type::{ContentTypeError, MediaType, MtomContentType, XOP_MEDIA_TYPE};
pub use parser::{
    MtomEvent, MtomLimits, MtomMessage, MtomParseError, MtomParser, MtomPart, TransferEncoding,
};
pub use reader::{MtomReadError, read_message};
pub use writer::{
    AttachmentSpec, MtomBody, MtomLayout, MtomWriteError, ROOT_CONTENT_TYPE, RootPart,
    SOAP12_START_INFO, Segment,
};
