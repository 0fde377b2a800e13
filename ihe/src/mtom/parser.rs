//! A push parser for MTOM/XOP `multipart/related` bodies (RFC 2046 §5.1,
//! RFC 2387, XOP), sans-io: the caller feeds chunks of any size as they
//! arrive and pulls [`MtomEvent`]s.
//!
//! The root part (the SOAP envelope) is collected in memory under
//! [`MtomLimits::max_root_bytes`]; attachments are handed out slice by slice
//! and never accumulated, so a 1 GB document costs the caller's chunk size
//! plus one boundary length of memory.
//!
//! ```
//! # use ihe::mtom::*;
//! # fn demo(content_type: &str, chunks: &[&[u8]]) -> Result<(), MtomParseError> {
//! let mut parser = MtomParser::new(content_type, MtomLimits::default())?;
//! for chunk in chunks {
//!     parser.feed(chunk);
//!     while let Some(event) = parser.next_event()? {
//!         if let MtomEvent::AttachmentData { part: _, data: _ } = event {
//!             // write `data` to the file for `part.content_id`, hash it…
//!         }
//!     }
//! }
//! parser.end_input();
//! while let Some(_event) = parser.next_event()? {}
//! let message = parser.into_message()?;
//! # Ok(()) }
//! ```

use std::collections::HashMap;

use memchr::memmem;

use super::content_id::{self, ContentIdError};
use super::content_type::{ContentTypeError, MediaType, MtomContentType, XOP_MEDIA_TYPE};

/// Most headers one part may carry (MTOM parts have three or four).
const MAX_PART_HEADERS: usize = 32;

/// The content type a part without a `Content-Type` header has (RFC 2045 §5.2).
const DEFAULT_CONTENT_TYPE: &str = "text/plain; charset=us-ascii";

/// Bounds on what the parser accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MtomLimits {
    /// Largest header block of one part, in bytes.
    pub max_header_bytes: usize,
    /// Most parts in one message, the root included.
    pub max_parts: usize,
    /// Largest root part (the SOAP envelope), in bytes.
    pub max_root_bytes: usize,
    /// Most bytes tolerated before the first boundary (RFC 2046 preamble).
    pub max_preamble_bytes: usize,
}

impl Default for MtomLimits {
    /// 16 KiB of headers per part, 1,000 parts, a 16 MiB envelope (the SOAP
    /// limit of the XML layer), 4 KiB of preamble.
    fn default() -> Self {
        MtomLimits {
            max_header_bytes: 16 * 1024,
            max_parts: 1000,
            max_root_bytes: crate::xml::ParseLimits::SOAP.max_bytes,
            max_preamble_bytes: 4 * 1024,
        }
    }
}

/// Content-Transfer-Encodings an XOP part may use: all carry raw octets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferEncoding {
    Binary,
    EightBit,
    /// Also what a part without the header has (RFC 2045 §6.1).
    SevenBit,
}

/// A part of the message, as announced by its headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MtomPart {
    /// Position in the message, from 0.
    pub index: usize,
    /// Content-ID without angle brackets.
    pub content_id: String,
    /// The part's `Content-Type` value as written (RFC 2045 default when absent).
    pub content_type: String,
    pub transfer_encoding: TransferEncoding,
    /// True for the root part (the `start` one, or the first without `start`).
    pub is_root: bool,
    /// Body bytes read so far; the full length once the part has ended.
    pub length: u64,
}

/// What the parser found next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MtomEvent<'a> {
    /// A part's headers were read; its body follows.
    PartStart(&'a MtomPart),
    /// A slice of an attachment's body, in order. Never sent for the root
    /// part, which is collected instead ([`MtomParser::root_body`]).
    AttachmentData { part: &'a MtomPart, data: &'a [u8] },
    /// The part ended; `length` is final.
    PartEnd(&'a MtomPart),
    /// The final boundary was read: the message is complete and valid.
    End,
}

/// Why a body is not an acceptable MTOM message. Offsets count bytes from
/// the start of the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MtomParseError {
    #[error("Content-Type header: {0}")]
    ContentType(#[from] ContentTypeError),
    #[error(
        "more than {limit} bytes before the first boundary '--{boundary}': the body is not the multipart message its Content-Type announces"
    )]
    GarbageBeforeFirstBoundary { boundary: String, limit: usize },
    #[error(
        "the body ended before its first boundary '--{boundary}': it is not the multipart message its Content-Type announces"
    )]
    NoBoundary { boundary: String },
    #[error(
        "unexpected '{found}' at byte {offset}, after a boundary; a boundary line ends with CRLF, or with '--' for the last one (is the boundary also used inside a part?)"
    )]
    MalformedDelimiter { offset: u64, found: String },
    #[error("the body ended inside the boundary line at byte {offset}")]
    TruncatedDelimiter { offset: u64 },
    #[error("headers of part {part} are longer than {limit} bytes")]
    HeadersTooLarge { part: usize, limit: usize },
    #[error("headers of part {part} are malformed at byte {offset}: {reason}")]
    MalformedHeaders {
        part: usize,
        offset: u64,
        reason: String,
    },
    #[error("part {part} has more than {limit} headers")]
    TooManyHeaders { part: usize, limit: usize },
    #[error("part {part} has more than one {header} header")]
    DuplicateHeader { part: usize, header: &'static str },
    #[error("part {part} has no Content-ID header; every MTOM part needs one")]
    MissingContentId { part: usize },
    #[error("part {part} has an unusable Content-ID: {source}")]
    InvalidContentId { part: usize, source: ContentIdError },
    #[error("Content-ID <{content_id}> is used by part {first} and part {second}")]
    DuplicateContentId {
        content_id: String,
        first: usize,
        second: usize,
    },
    #[error(
        "part <{content_id}> uses Content-Transfer-Encoding '{encoding}'; MTOM parts carry raw octets, so only binary, 8bit and 7bit are accepted"
    )]
    UnsupportedTransferEncoding {
        content_id: String,
        encoding: String,
    },
    #[error("the message has more than {limit} parts")]
    TooManyParts { limit: usize },
    #[error("the root part <{content_id}> is larger than {limit} bytes")]
    RootTooLarge { content_id: String, limit: usize },
    #[error(
        "the root part <{content_id}> has Content-Type '{content_type}'; an MTOM root part must be application/xop+xml"
    )]
    RootNotXop {
        content_id: String,
        content_type: String,
    },
    #[error("the start parameter names <{start}>, but no part has that Content-ID")]
    StartPartMissing { start: String },
    #[error("the message has no parts")]
    NoParts,
    #[error("the body ended inside the headers of part {part}")]
    TruncatedHeaders { part: usize },
    #[error(
        "the body ended inside part {part} <{content_id}> without the final boundary '--{boundary}--' (truncated upload?)"
    )]
    MissingFinalBoundary {
        part: usize,
        content_id: String,
        boundary: String,
    },
    #[error("the message is not complete: read events until MtomEvent::End before into_message")]
    NotFinished,
}

enum State {
    /// Before the first boundary (discarding an RFC 2046 preamble).
    Preamble {
        discarded: usize,
    },
    /// Just after `CRLF--boundary`: `--` or padding and CRLF must follow.
    DelimiterTail,
    /// Reading a part's header block; `scanned` bytes hold no terminator.
    Headers {
        scanned: usize,
    },
    Body,
    /// After the final boundary; the epilogue is ignored.
    Done {
        end_reported: bool,
    },
    Failed(MtomParseError),
}

/// The push parser. See the [module documentation](self) for the loop.
pub struct MtomParser {
    header: MtomContentType,
    limits: MtomLimits,
    /// `CRLF--boundary`: what ends every part body.
    delimiter: Vec<u8>,
    finder: memmem::Finder<'static>,
    /// Unprocessed input from `pos`; bytes before `pos` are consumed.
    buf: Vec<u8>,
    pos: usize,
    /// Bytes the last returned event still borrowed, consumed on the next call.
    pending_consume: usize,
    /// Input offset of `buf[0]`, counting the virtual CRLF (see `new`).
    buf_offset: u64,
    input_ended: bool,
    state: State,
    parts: Vec<MtomPart>,
    /// Content-ID → index of the part that has it.
    seen_ids: HashMap<String, usize>,
    root_index: Option<usize>,
    root_complete: bool,
    root_body: Vec<u8>,
}

impl std::fmt::Debug for MtomParser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MtomParser")
            .field("header", &self.header)
            .field("parts", &self.parts)
            .field("buffered", &(self.buf.len() - self.pos))
            .finish_non_exhaustive()
    }
}

/// The virtual line end the parser starts with, so that a boundary at the
/// very start of the body matches the same `CRLF--boundary` pattern as every
/// later one.
const VIRTUAL_CRLF: &[u8] = b"\r\n";

impl MtomParser {
    /// A parser for a body announced by this `Content-Type` header value.
    pub fn new(content_type: &str, limits: MtomLimits) -> Result<MtomParser, MtomParseError> {
        Ok(Self::from_header(
            MtomContentType::parse(content_type)?,
            limits,
        ))
    }

    /// A parser for an already parsed header.
    pub fn from_header(header: MtomContentType, limits: MtomLimits) -> MtomParser {
        let delimiter = [b"\r\n--", header.boundary.as_bytes()].concat();
        let finder = memmem::Finder::new(&delimiter).into_owned();
        MtomParser {
            header,
            limits,
            delimiter,
            finder,
            buf: VIRTUAL_CRLF.to_vec(),
            pos: 0,
            pending_consume: 0,
            buf_offset: 0,
            input_ended: false,
            state: State::Preamble { discarded: 0 },
            parts: Vec::new(),
            seen_ids: HashMap::new(),
            root_index: None,
            root_complete: false,
            root_body: Vec::new(),
        }
    }

    /// The message header this parser was built from.
    pub fn header(&self) -> &MtomContentType {
        &self.header
    }

    /// Appends a chunk of the body. Chunks may split anything anywhere.
    /// Pull events after each feed: unpulled input stays buffered.
    pub fn feed(&mut self, chunk: &[u8]) {
        self.consume_pending();
        if matches!(self.state, State::Done { .. } | State::Failed(_)) {
            return; // epilogue, or input after an error: nothing to keep
        }
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.buf_offset += self.pos as u64;
            self.pos = 0;
        }
        self.buf.extend_from_slice(chunk);
    }

    /// Says that the body is complete; from now on a missing piece is an
    /// error instead of a request for more input.
    pub fn end_input(&mut self) {
        self.input_ended = true;
    }

    /// The next event, `Ok(None)` when more input is needed (or, after
    /// [`MtomEvent::End`], forever). Errors are final: every later call
    /// returns the same error.
    pub fn next_event(&mut self) -> Result<Option<MtomEvent<'_>>, MtomParseError> {
        self.consume_pending();
        match self.step() {
            Ok(Step::NeedInput) => Ok(None),
            Ok(Step::PartStart) => Ok(self.parts.last().map(MtomEvent::PartStart)),
            Ok(Step::PartEnd) => Ok(self.parts.last().map(MtomEvent::PartEnd)),
            Ok(Step::End) => Ok(Some(MtomEvent::End)),
            Ok(Step::Data { len }) => {
                let data = &self.buf[self.pos..self.pos + len];
                Ok(self
                    .parts
                    .last()
                    .map(|part| MtomEvent::AttachmentData { part, data }))
            }
            Err(error) => {
                self.state = State::Failed(error.clone());
                Err(error)
            }
        }
    }

    /// The root part's bytes, once the root part has ended.
    pub fn root_body(&self) -> Option<&[u8]> {
        self.root_complete.then_some(self.root_body.as_slice())
    }

    /// The parts seen so far (the last one may still be open).
    pub fn parts(&self) -> &[MtomPart] {
        &self.parts
    }

    /// The complete message, after [`MtomEvent::End`] was returned.
    pub fn into_message(self) -> Result<MtomMessage, MtomParseError> {
        match self.state {
            State::Done { end_reported: true } => {}
            State::Failed(error) => return Err(error),
            _ => return Err(MtomParseError::NotFinished),
        }
        let root_index = self.root_index.ok_or(MtomParseError::NotFinished)?;
        let mut parts = self.parts;
        let root = parts.remove(root_index);
        Ok(MtomMessage {
            header: self.header,
            root,
            root_body: self.root_body,
            attachments: parts,
        })
    }

    fn consume_pending(&mut self) {
        self.pos += std::mem::take(&mut self.pending_consume);
    }

    fn offset_of(&self, index: usize) -> u64 {
        (self.buf_offset + index as u64).saturating_sub(VIRTUAL_CRLF.len() as u64)
    }

    fn step(&mut self) -> Result<Step, MtomParseError> {
        loop {
            match &mut self.state {
                State::Failed(error) => return Err(error.clone()),
                State::Done { end_reported } => {
                    if *end_reported {
                        self.pos = self.buf.len();
                        return Ok(Step::NeedInput);
                    }
                    *end_reported = true;
                    return Ok(Step::End);
                }
                State::Preamble { discarded } => {
                    let rest = &self.buf[self.pos..];
                    match self.finder.find(rest) {
                        Some(at) => {
                            let preamble = (*discarded + at).saturating_sub(VIRTUAL_CRLF.len());
                            if preamble > self.limits.max_preamble_bytes {
                                return Err(self.garbage_before_first_boundary());
                            }
                            self.pos += at + self.delimiter.len();
                            self.state = State::DelimiterTail;
                        }
                        None => {
                            if self.input_ended {
                                // Everything left is preamble now.
                                let preamble =
                                    (*discarded + rest.len()).saturating_sub(VIRTUAL_CRLF.len());
                                if preamble > self.limits.max_preamble_bytes {
                                    return Err(self.garbage_before_first_boundary());
                                }
                                return Err(MtomParseError::NoBoundary {
                                    boundary: self.header.boundary.clone(),
                                });
                            }
                            let drop = rest.len().saturating_sub(self.delimiter.len() - 1);
                            *discarded += drop;
                            self.pos += drop;
                            if discarded.saturating_sub(VIRTUAL_CRLF.len())
                                > self.limits.max_preamble_bytes
                            {
                                return Err(self.garbage_before_first_boundary());
                            }
                            return Ok(Step::NeedInput);
                        }
                    }
                }
                State::DelimiterTail => {
                    let rest = &self.buf[self.pos..];
                    if rest.starts_with(b"--") {
                        self.pos += 2;
                        self.finish_message()?;
                        self.state = State::Done {
                            end_reported: false,
                        };
                        continue;
                    }
                    let padding = rest
                        .iter()
                        .take_while(|&&b| b == b' ' || b == b'\t')
                        .count();
                    let after = &rest[padding..];
                    if after.starts_with(b"\r\n") {
                        self.pos += padding + 2;
                        self.start_part()?;
                        self.state = State::Headers { scanned: 0 };
                        continue;
                    }
                    let could_complete = after.is_empty() || after == b"\r" || rest == b"-";
                    if could_complete && padding <= self.limits.max_header_bytes {
                        if self.input_ended {
                            return Err(MtomParseError::TruncatedDelimiter {
                                offset: self.offset_of(self.pos),
                            });
                        }
                        return Ok(Step::NeedInput);
                    }
                    // Name the first byte that cannot continue the line.
                    let bad_at = if rest.first() == Some(&b'-') {
                        1
                    } else if after.first() == Some(&b'\r') {
                        padding + 1
                    } else {
                        padding
                    };
                    let found = rest
                        .get(bad_at)
                        .map(|&b| char::from(b).escape_default().to_string())
                        .unwrap_or_default();
                    return Err(MtomParseError::MalformedDelimiter {
                        offset: self.offset_of(self.pos + bad_at),
                        found,
                    });
                }
                State::Headers { scanned } => {
                    let rest = &self.buf[self.pos..];
                    let part = self.parts.len();
                    let block_end = if rest.starts_with(b"\r\n") {
                        Some(2) // no headers at all
                    } else {
                        let from = scanned.saturating_sub(3);
                        memmem::find(&rest[from..], b"\r\n\r\n").map(|at| from + at + 4)
                    };
                    let Some(block_end) = block_end else {
                        if rest.len() > self.limits.max_header_bytes {
                            return Err(MtomParseError::HeadersTooLarge {
                                part,
                                limit: self.limits.max_header_bytes,
                            });
                        }
                        if self.input_ended {
                            return Err(MtomParseError::TruncatedHeaders { part });
                        }
                        *scanned = rest.len();
                        return Ok(Step::NeedInput);
                    };
                    if block_end > self.limits.max_header_bytes {
                        return Err(MtomParseError::HeadersTooLarge {
                            part,
                            limit: self.limits.max_header_bytes,
                        });
                    }
                    let offset = self.offset_of(self.pos);
                    let new_part = self.read_part_headers(&rest[..block_end], part, offset)?;
                    self.pos += block_end;
                    if new_part.is_root {
                        self.root_index = Some(part);
                    }
                    self.seen_ids.insert(new_part.content_id.clone(), part);
                    self.parts.push(new_part);
                    self.state = State::Body;
                    return Ok(Step::PartStart);
                }
                State::Body => {
                    let rest = &self.buf[self.pos..];
                    let (data_len, at_delimiter) = match self.finder.find(rest) {
                        Some(at) => (at, true),
                        None => {
                            if self.input_ended {
                                return Err(self.missing_final_boundary());
                            }
                            // Keep what could be the start of a delimiter
                            // split across chunks.
                            (rest.len().saturating_sub(self.delimiter.len() - 1), false)
                        }
                    };
                    let is_root = self.parts.last().is_some_and(|p| p.is_root);
                    if data_len > 0 {
                        if let Some(part) = self.parts.last_mut() {
                            part.length += data_len as u64;
                        }
                        if is_root {
                            if self.root_body.len() + data_len > self.limits.max_root_bytes {
                                return Err(MtomParseError::RootTooLarge {
                                    content_id: self.current_content_id(),
                                    limit: self.limits.max_root_bytes,
                                });
                            }
                            self.root_body.extend_from_slice(&rest[..data_len]);
                            self.pos += data_len;
                        } else {
                            self.pending_consume = data_len;
                            return Ok(Step::Data { len: data_len });
                        }
                    }
                    if !at_delimiter {
                        return Ok(Step::NeedInput);
                    }
                    self.pos += self.delimiter.len();
                    self.root_complete |= is_root;
                    self.state = State::DelimiterTail;
                    return Ok(Step::PartEnd);
                }
            }
        }
    }

    fn garbage_before_first_boundary(&self) -> MtomParseError {
        MtomParseError::GarbageBeforeFirstBoundary {
            boundary: self.header.boundary.clone(),
            limit: self.limits.max_preamble_bytes,
        }
    }

    fn missing_final_boundary(&self) -> MtomParseError {
        MtomParseError::MissingFinalBoundary {
            part: self.parts.len().saturating_sub(1),
            content_id: self.current_content_id(),
            boundary: self.header.boundary.clone(),
        }
    }

    fn current_content_id(&self) -> String {
        self.parts
            .last()
            .map(|p| p.content_id.clone())
            .unwrap_or_default()
    }

    /// Called at each boundary that opens a part.
    fn start_part(&self) -> Result<(), MtomParseError> {
        if self.parts.len() >= self.limits.max_parts {
            return Err(MtomParseError::TooManyParts {
                limit: self.limits.max_parts,
            });
        }
        Ok(())
    }

    /// Called at the final boundary: the message must be complete.
    fn finish_message(&self) -> Result<(), MtomParseError> {
        if self.parts.is_empty() {
            return Err(MtomParseError::NoParts);
        }
        if self.root_index.is_none() {
            return Err(MtomParseError::StartPartMissing {
                start: self.header.start.clone().unwrap_or_default(),
            });
        }
        Ok(())
    }

    fn read_part_headers(
        &self,
        block: &[u8],
        index: usize,
        offset: u64,
    ) -> Result<MtomPart, MtomParseError> {
        let mut storage = [httparse::EMPTY_HEADER; MAX_PART_HEADERS];
        let headers = match httparse::parse_headers(block, &mut storage) {
            Ok(httparse::Status::Complete((_, headers))) => headers,
            Ok(httparse::Status::Partial) => {
                // The block ends with an empty line, so httparse stopping
                // short means a line it could not read as a header.
                return Err(MtomParseError::MalformedHeaders {
                    part: index,
                    offset,
                    reason: "a header line is incomplete".to_owned(),
                });
            }
            Err(httparse::Error::TooManyHeaders) => {
                return Err(MtomParseError::TooManyHeaders {
                    part: index,
                    limit: MAX_PART_HEADERS,
                });
            }
            Err(error) => {
                return Err(MtomParseError::MalformedHeaders {
                    part: index,
                    offset,
                    reason: error.to_string(),
                });
            }
        };

        let mut content_id = None;
        let mut content_type = None;
        let mut encoding = None;
        for header in headers.iter() {
            let slot = if header.name.eq_ignore_ascii_case("content-id") {
                (&mut content_id, "Content-ID")
            } else if header.name.eq_ignore_ascii_case("content-type") {
                (&mut content_type, "Content-Type")
            } else if header
                .name
                .eq_ignore_ascii_case("content-transfer-encoding")
            {
                (&mut encoding, "Content-Transfer-Encoding")
            } else {
                continue; // other headers (Content-Length, …) change nothing for us
            };
            let value = std::str::from_utf8(header.value).map_err(|_| {
                MtomParseError::MalformedHeaders {
                    part: index,
                    offset,
                    reason: format!("the {} header is not UTF-8", slot.1),
                }
            })?;
            if slot.0.replace(value.trim()).is_some() {
                return Err(MtomParseError::DuplicateHeader {
                    part: index,
                    header: slot.1,
                });
            }
        }

        let content_id = content_id.ok_or(MtomParseError::MissingContentId { part: index })?;
        let content_id = content_id::normalize(content_id).map_err(|source| {
            MtomParseError::InvalidContentId {
                part: index,
                source,
            }
        })?;
        if let Some(&first) = self.seen_ids.get(&content_id) {
            return Err(MtomParseError::DuplicateContentId {
                content_id,
                first,
                second: index,
            });
        }

        let transfer_encoding = match encoding {
            None => TransferEncoding::SevenBit,
            Some(value) if value.eq_ignore_ascii_case("binary") => TransferEncoding::Binary,
            Some(value) if value.eq_ignore_ascii_case("8bit") => TransferEncoding::EightBit,
            Some(value) if value.eq_ignore_ascii_case("7bit") => TransferEncoding::SevenBit,
            Some(other) => {
                return Err(MtomParseError::UnsupportedTransferEncoding {
                    content_id,
                    encoding: other.to_owned(),
                });
            }
        };

        let is_root = match &self.header.start {
            Some(start) => *start == content_id,
            None => index == 0,
        };
        let content_type = content_type.unwrap_or(DEFAULT_CONTENT_TYPE).to_owned();
        if is_root {
            let essence = MediaType::parse(&content_type).map(|m| m.essence);
            if essence.as_deref() != Ok(XOP_MEDIA_TYPE) {
                return Err(MtomParseError::RootNotXop {
                    content_id,
                    content_type,
                });
            }
        }
        Ok(MtomPart {
            index,
            content_id,
            content_type,
            transfer_encoding,
            is_root,
            length: 0,
        })
    }
}

enum Step {
    NeedInput,
    PartStart,
    Data { len: usize },
    PartEnd,
    End,
}

/// A completely parsed message: the root part's bytes and the attachments'
/// descriptions (their bytes went to the caller as they arrived).
#[derive(Clone, PartialEq, Eq)]
pub struct MtomMessage {
    pub header: MtomContentType,
    pub root: MtomPart,
    pub root_body: Vec<u8>,
    /// Every part but the root, in message order.
    pub attachments: Vec<MtomPart>,
}

impl std::fmt::Debug for MtomMessage {
    // The envelope can carry a SAML assertion (a bearer token): its size
    // only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MtomMessage")
            .field("header", &self.header)
            .field("root", &self.root)
            .field("root_body_bytes", &self.root_body.len())
            .field("attachments", &self.attachments)
            .finish()
    }
}

impl MtomMessage {
    /// The attachment with this Content-ID (without angle brackets).
    pub fn attachment(&self, content_id: &str) -> Option<&MtomPart> {
        self.attachments.iter().find(|p| p.content_id == content_id)
    }

    /// The attachment an `xop:Include/@href` (`cid:` URL) points at.
    pub fn attachment_for_href(&self, href: &str) -> Result<Option<&MtomPart>, ContentIdError> {
        let content_id = content_id::content_id_from_href(href)?;
        Ok(self.attachment(&content_id))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    const CT: &str =
        "multipart/related; boundary=\"B\"; type=\"application/xop+xml\"; start=\"<root@x>\"";
    const ROOT_HEAD: &str = "Content-Type: application/xop+xml; type=\"application/soap+xml\"\r\nContent-Transfer-Encoding: binary\r\nContent-ID: <root@x>\r\n\r\n";

    /// Attachments by Content-ID, concatenated from the data events.
    type Attachments = BTreeMap<String, Vec<u8>>;

    fn parse_chunked(
        content_type: &str,
        limits: MtomLimits,
        body: &[u8],
        chunk: usize,
    ) -> Result<(MtomMessage, Attachments), MtomParseError> {
        let mut parser = MtomParser::new(content_type, limits)?;
        let mut attachments = Attachments::new();
        let mut ended = false;
        let mut chunks = body.chunks(chunk.max(1)).peekable();
        loop {
            match chunks.next() {
                Some(piece) => parser.feed(piece),
                None => parser.end_input(),
            }
            while let Some(event) = parser.next_event()? {
                match event {
                    MtomEvent::PartStart(part) => {
                        assert!(!ended);
                        if !part.is_root {
                            attachments.insert(part.content_id.clone(), Vec::new());
                        }
                    }
                    MtomEvent::AttachmentData { part, data } => {
                        assert!(!data.is_empty(), "empty data events are noise");
                        attachments
                            .get_mut(&part.content_id)
                            .expect("data after its PartStart")
                            .extend_from_slice(data);
                    }
                    MtomEvent::PartEnd(part) => {
                        if !part.is_root {
                            assert_eq!(part.length, attachments[&part.content_id].len() as u64);
                        }
                    }
                    MtomEvent::End => ended = true,
                }
            }
            if ended {
                return Ok((parser.into_message()?, attachments));
            }
            if chunks.peek().is_none() && parser.input_ended {
                return parser.into_message().map(|m| (m, attachments));
            }
        }
    }

    fn parse(body: &[u8]) -> Result<(MtomMessage, Attachments), MtomParseError> {
        parse_chunked(CT, MtomLimits::default(), body, usize::MAX)
    }

    fn body_of(parts: &[(&str, &str)]) -> Vec<u8> {
        let mut body = Vec::new();
        for (head, content) in parts {
            body.extend_from_slice(format!("--B\r\n{head}{content}\r\n").as_bytes());
        }
        body.extend_from_slice(b"--B--\r\n");
        body
    }

    fn attachment_head(id: &str) -> String {
        format!(
            "Content-Type: application/pdf\r\nContent-Transfer-Encoding: binary\r\nContent-ID: {id}\r\n\r\n"
        )
    }

    #[test]
    fn parses_a_minimal_message() {
        let body = body_of(&[
            (ROOT_HEAD, "<e/>"),
            (&attachment_head("<d@x>"), "PDF\r\n--"),
        ]);
        let (message, attachments) = parse(&body).unwrap();
        assert_eq!(message.root_body, b"<e/>");
        assert_eq!(message.root.content_id, "root@x");
        assert_eq!(message.root.transfer_encoding, TransferEncoding::Binary);
        assert_eq!(message.attachments.len(), 1);
        assert_eq!(message.attachments[0].length, 7);
        assert_eq!(message.attachments[0].content_type, "application/pdf");
        assert_eq!(attachments["d@x"], b"PDF\r\n--");
        assert_eq!(
            message
                .attachment_for_href("cid:d%40x")
                .unwrap()
                .map(|p| p.index),
            Some(1)
        );
    }

    #[test]
    fn accepts_preamble_padding_epilogue_bare_ids_and_any_header_case() {
        let mut body = b"This is a preamble.\r\n".to_vec();
        body.extend_from_slice(b"--B \t\r\ncontent-type: Application/XOP+XML\r\ncontent-id: root@x\r\n\r\n<e/>\r\n--B\r\nCONTENT-ID: <d@x>\r\ncontent-transfer-encoding: 8BIT\r\nX-Other: ignored\r\n\r\nabc\r\n--B--\r\nepilogue, ignored\r\n--B\r\n");
        let (message, attachments) = parse(&body).unwrap();
        assert_eq!(message.root_body, b"<e/>");
        assert_eq!(
            message.attachments[0].transfer_encoding,
            TransferEncoding::EightBit
        );
        assert_eq!(message.attachments[0].content_type, DEFAULT_CONTENT_TYPE);
        assert_eq!(attachments["d@x"], b"abc");
    }

    #[test]
    fn root_is_the_start_part_wherever_it_is_or_else_the_first() {
        let body = body_of(&[(&attachment_head("<d@x>"), "abc"), (ROOT_HEAD, "<e/>")]);
        let (message, attachments) = parse(&body).unwrap();
        assert_eq!(message.root.index, 1);
        assert_eq!(message.root_body, b"<e/>");
        assert_eq!(attachments["d@x"], b"abc");

        let no_start = "multipart/related; boundary=B; type=\"application/xop+xml\"";
        let body = body_of(&[(ROOT_HEAD, "<e/>"), (&attachment_head("<d@x>"), "abc")]);
        let (message, _) = parse_chunked(no_start, MtomLimits::default(), &body, 5).unwrap();
        assert_eq!(message.root.content_id, "root@x");
    }

    #[test]
    fn empty_parts_and_message_ending_without_crlf() {
        let mut body = body_of(&[(ROOT_HEAD, ""), (&attachment_head("<d@x>"), "")]);
        body.truncate(body.len() - 2);
        let (message, attachments) = parse(&body).unwrap();
        assert!(message.root_body.is_empty());
        assert!(attachments["d@x"].is_empty());
    }

    #[test]
    fn every_chunk_size_gives_the_same_result() {
        let tricky = "\r\n-\r\n--\r\n-B\r--B\n--Bx\r\r\n--A\r\n--\r\n-";
        let body = body_of(&[
            (ROOT_HEAD, "<e>\r\n--</e>"),
            (&attachment_head("<d@x>"), tricky),
            (&attachment_head("<empty@x>"), ""),
        ]);
        // "\r\n--Bx" inside the attachment would be a delimiter: keep it out.
        assert!(memmem::find(tricky.as_bytes(), b"\r\n--B").is_none());
        let (whole, whole_attachments) = parse(&body).unwrap();
        assert_eq!(whole_attachments["d@x"], tricky.as_bytes());
        for chunk in 1..=body.len() + 1 {
            let (message, attachments) =
                parse_chunked(CT, MtomLimits::default(), &body, chunk).unwrap();
            assert_eq!(message, whole, "chunk size {chunk}");
            assert_eq!(attachments, whole_attachments, "chunk size {chunk}");
        }
    }

    fn parse_error(body: &[u8]) -> MtomParseError {
        let error = parse(body).unwrap_err();
        // The same error whatever the chunking.
        for chunk in [1, 2, 3, 7, 64] {
            assert_eq!(
                parse_chunked(CT, MtomLimits::default(), body, chunk).unwrap_err(),
                error,
                "chunk size {chunk}"
            );
        }
        error
    }

    #[test]
    fn truncated_bodies_are_refused() {
        let body = body_of(&[(ROOT_HEAD, "<e/>"), (&attachment_head("<d@x>"), "abcdef")]);
        let cut_in_attachment = &body[..body.len() - 12];
        assert!(matches!(
            parse_error(cut_in_attachment),
            MtomParseError::MissingFinalBoundary { part: 1, ref content_id, .. } if content_id == "d@x"
        ));
        let cut_in_headers = &body[..30];
        assert_eq!(
            parse_error(cut_in_headers),
            MtomParseError::TruncatedHeaders { part: 0 }
        );
        let cut_after_boundary = &body[..body.len() - 4];
        assert!(matches!(
            parse_error(cut_after_boundary),
            MtomParseError::TruncatedDelimiter { .. }
        ));
        assert!(matches!(
            parse_error(b""),
            MtomParseError::NoBoundary { .. }
        ));
        assert!(matches!(
            parse_error(b"<soap:Envelope/>"),
            MtomParseError::NoBoundary { .. }
        ));
    }

    #[test]
    fn garbage_is_refused() {
        let long_preamble = vec![b'x'; MtomLimits::default().max_preamble_bytes + 1];
        assert!(matches!(
            parse_error(&long_preamble),
            MtomParseError::GarbageBeforeFirstBoundary { .. }
        ));
        let mut body = b"--Bogus\r\n".to_vec();
        body.extend_from_slice(&body_of(&[(ROOT_HEAD, "<e/>")]));
        assert!(matches!(
            parse_error(&body),
            MtomParseError::MalformedDelimiter { offset: 3, ref found } if found == "o"
        ));
        let body = format!("--B\r\n{ROOT_HEAD}<e/>\r\n--B-x\r\n");
        assert!(matches!(
            parse_error(body.as_bytes()),
            MtomParseError::MalformedDelimiter { .. }
        ));
        let body = body_of(&[("Content-ID <root@x>\r\n\r\n", "<e/>")]);
        assert!(matches!(
            parse_error(&body),
            MtomParseError::MalformedHeaders { part: 0, .. }
        ));
        assert_eq!(parse_error(b"--B--\r\n"), MtomParseError::NoParts);
    }

    #[test]
    fn part_rules_are_enforced() {
        let no_id = body_of(&[
            (ROOT_HEAD, "<e/>"),
            ("Content-Type: text/plain\r\n\r\n", "a"),
        ]);
        assert_eq!(
            parse_error(&no_id),
            MtomParseError::MissingContentId { part: 1 }
        );
        let no_headers = body_of(&[(ROOT_HEAD, "<e/>"), ("\r\n", "a")]);
        assert_eq!(
            parse_error(&no_headers),
            MtomParseError::MissingContentId { part: 1 }
        );
        let duplicate = body_of(&[
            (ROOT_HEAD, "<e/>"),
            (&attachment_head("<d@x>"), "a"),
            (&attachment_head("d@x"), "b"),
        ]);
        assert_eq!(
            parse_error(&duplicate),
            MtomParseError::DuplicateContentId {
                content_id: "d@x".into(),
                first: 1,
                second: 2
            }
        );
        let twice = body_of(&[
            (ROOT_HEAD, "<e/>"),
            ("Content-ID: <a>\r\nContent-Id: <b>\r\n\r\n", ""),
        ]);
        assert_eq!(
            parse_error(&twice),
            MtomParseError::DuplicateHeader {
                part: 1,
                header: "Content-ID"
            }
        );
        let base64 = body_of(&[
            (ROOT_HEAD, "<e/>"),
            (
                "Content-ID: <d@x>\r\nContent-Transfer-Encoding: base64\r\n\r\n",
                "YWJj",
            ),
        ]);
        let error = parse_error(&base64);
        assert_eq!(
            error,
            MtomParseError::UnsupportedTransferEncoding {
                content_id: "d@x".into(),
                encoding: "base64".into()
            }
        );
        assert!(error.to_string().contains("only binary, 8bit and 7bit"));
        let not_xop = body_of(&[(
            "Content-Type: text/xml\r\nContent-ID: <root@x>\r\n\r\n",
            "<e/>",
        )]);
        assert!(matches!(
            parse_error(&not_xop),
            MtomParseError::RootNotXop { .. }
        ));
        let no_root = body_of(&[(&attachment_head("<d@x>"), "a")]);
        assert_eq!(
            parse_error(&no_root),
            MtomParseError::StartPartMissing {
                start: "root@x".into()
            }
        );
    }

    #[test]
    fn limits_are_enforced() {
        let limits = MtomLimits {
            max_header_bytes: 200,
            max_parts: 2,
            max_root_bytes: 8,
            max_preamble_bytes: 0,
        };
        let run = |body: &[u8]| {
            let error = parse_chunked(CT, limits, body, usize::MAX).unwrap_err();
            assert_eq!(parse_chunked(CT, limits, body, 3).unwrap_err(), error);
            error
        };
        let big_root = body_of(&[(ROOT_HEAD, "<e>12345</e>")]);
        assert!(matches!(
            run(&big_root),
            MtomParseError::RootTooLarge { limit: 8, .. }
        ));
        let fits = body_of(&[(ROOT_HEAD, "<e>1</e>")]);
        assert!(parse_chunked(CT, limits, &fits, 1).is_ok());
        let three = body_of(&[
            (ROOT_HEAD, "<e/>"),
            (&attachment_head("<a>"), ""),
            (&attachment_head("<b>"), ""),
        ]);
        assert_eq!(run(&three), MtomParseError::TooManyParts { limit: 2 });
        let long_header = format!("X-Padding: {}\r\n{ROOT_HEAD}", "p".repeat(200));
        let big_headers = body_of(&[(&long_header, "<e/>")]);
        assert_eq!(
            run(&big_headers),
            MtomParseError::HeadersTooLarge {
                part: 0,
                limit: 200
            }
        );
        // A header block that never ends is refused once over the limit,
        // before the input ends.
        let mut parser = MtomParser::new(CT, limits).unwrap();
        parser.feed(b"--B\r\n");
        parser.feed(&[b'x'; 201]);
        assert_eq!(
            parser.next_event(),
            Err(MtomParseError::HeadersTooLarge {
                part: 0,
                limit: 200
            })
        );
        let mut preamble = b"x".to_vec();
        preamble.extend_from_slice(&fits);
        assert!(matches!(
            run(&preamble),
            MtomParseError::GarbageBeforeFirstBoundary { limit: 0, .. }
        ));
    }

    #[test]
    fn errors_are_final_and_unfinished_messages_are_refused() {
        let mut parser = MtomParser::new(CT, MtomLimits::default()).unwrap();
        parser.feed(b"--B\r\n\r\n");
        let error = parser.next_event().unwrap_err();
        assert_eq!(error, MtomParseError::MissingContentId { part: 0 });
        parser.feed(b"more");
        assert_eq!(parser.next_event().unwrap_err(), error);
        assert_eq!(parser.into_message().unwrap_err(), error);

        let mut parser = MtomParser::new(CT, MtomLimits::default()).unwrap();
        parser.feed(format!("--B\r\n{ROOT_HEAD}<e/>").as_bytes());
        assert!(matches!(
            parser.next_event(),
            Ok(Some(MtomEvent::PartStart(_)))
        ));
        assert_eq!(parser.next_event(), Ok(None));
        assert_eq!(parser.root_body(), None);
        assert_eq!(
            parser.into_message().unwrap_err(),
            MtomParseError::NotFinished
        );
    }

    #[test]
    fn debug_output_does_not_show_the_envelope() {
        let body = body_of(&[(ROOT_HEAD, "<Assertion>bearer-token</Assertion>")]);
        let (message, _) = parse(&body).unwrap();
        let shown = format!("{message:?}");
        assert!(!shown.contains("bearer-token"), "{shown}");
        assert!(shown.contains("root_body_bytes: 35"), "{shown}");
    }

    #[test]
    fn root_body_is_available_once_the_root_ends() {
        let body = body_of(&[(ROOT_HEAD, "<e/>"), (&attachment_head("<d@x>"), "abc")]);
        let mut parser = MtomParser::new(CT, MtomLimits::default()).unwrap();
        parser.feed(&body);
        let mut seen_root_at_attachment = None;
        while let Some(event) = parser.next_event().unwrap() {
            if let MtomEvent::PartStart(part) = event
                && !part.is_root
            {
                seen_root_at_attachment = Some(parser.root_body().map(<[u8]>::to_vec));
            }
        }
        assert_eq!(seen_root_at_attachment, Some(Some(b"<e/>".to_vec())));
    }
}
