//! Writing an MTOM/XOP message: a [`MtomLayout`] (sans-io: literal bytes
//! interleaved with "attachment i, n bytes" slots, exact Content-Length
//! known up front) and [`MtomBody`], a [`Read`] over that layout for
//! callers with blocking sources.
//!
//! The body has the shape SOAP 1.2 MTOM stacks send (CRLF line ends,
//! binary transfer encoding):
//!
//! ```text
//! --B
//! Content-Type: application/xop+xml; charset=UTF-8; type="application/soap+xml"
//! Content-Transfer-Encoding: binary
//! Content-ID: <root>
//!
//! <soap envelope>
//! --B
//! Content-Type: application/pdf
//! Content-Transfer-Encoding: binary
//! Content-ID: <doc1>
//!
//! <attachment bytes>
//! --B--
//! ```
//!
//! An async caller sends the segments itself, streaming each attachment
//! from its file (here with blocking reads, for the example):
//!
//! ```
//! # use ihe::mtom::*;
//! # use std::io::Read;
//! let root = RootPart { content_id: "root@example".into(), envelope: b"<env/>".to_vec() };
//! let pdf = b"%PDF-1.7 ...".to_vec();
//! let attachments = vec![AttachmentSpec {
//!     content_id: "doc1@example".into(),
//!     content_type: "application/pdf".into(),
//!     length: pdf.len() as u64,
//! }];
//! let layout = MtomLayout::new(root, attachments, Some("urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b"))?;
//! let (content_type, content_length) = (layout.content_type().to_owned(), layout.content_length());
//! let mut body = Vec::new(); // stands for the HTTP request body
//! for segment in layout.into_segments() {
//!     match segment {
//!         Segment::Bytes(bytes) => body.extend_from_slice(&bytes),
//!         Segment::Attachment { index: 0, length } => {
//!             (&pdf[..]).take(length).read_to_end(&mut body).unwrap();
//!         }
//!         Segment::Attachment { .. } => unreachable!("one attachment"),
//!     }
//! }
//! assert_eq!(body.len() as u64, content_length);
//! assert!(content_type.starts_with("multipart/related; boundary="));
//! # Ok::<(), MtomWriteError>(())
//! ```

use std::collections::HashSet;
use std::io::{self, Read};

use super::content_id::{self, ContentIdError};
use super::content_type::{self, ContentTypeError, MediaType, MtomContentType};

/// Content type of the root part: a SOAP 1.2 envelope in XOP packaging.
pub const ROOT_CONTENT_TYPE: &str =
    "application/xop+xml; charset=UTF-8; type=\"application/soap+xml\"";

/// `start-info` of the message: the root is a SOAP 1.2 envelope.
pub const SOAP12_START_INFO: &str = "application/soap+xml";

/// How many fresh random boundaries we try before giving up. One v4 UUID
/// occurring in the envelope by chance is already out of reach; the retry
/// bound only keeps the loop finite.
const BOUNDARY_ATTEMPTS: usize = 4;

/// The SOAP envelope that becomes the root part.
#[derive(Clone, PartialEq, Eq)]
pub struct RootPart {
    /// Content-ID without angle brackets (referenced by `start`).
    pub content_id: String,
    /// The envelope, UTF-8 XML, with `xop:Include` elements pointing at the
    /// attachments by `cid:` URL.
    pub envelope: Vec<u8>,
}

impl std::fmt::Debug for RootPart {
    // The envelope can carry a SAML assertion (a bearer token): show its
    // size, not its content.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RootPart")
            .field("content_id", &self.content_id)
            .field("envelope_bytes", &self.envelope.len())
            .finish()
    }
}

/// One attachment as announced before its bytes are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentSpec {
    /// Content-ID without angle brackets; the envelope refers to it as
    /// [`href_for_content_id`](super::href_for_content_id)`(content_id)`.
    pub content_id: String,
    /// Media type of the document (`application/pdf`, `text/xml`, …).
    pub content_type: String,
    /// Exact length in bytes; the source must deliver exactly this many.
    pub length: u64,
}

/// A piece of the body, in order.
#[derive(Clone, PartialEq, Eq)]
pub enum Segment {
    /// Bytes to send as they are (boundaries, part headers, the envelope).
    Bytes(Vec<u8>),
    /// The `index`-th attachment's content, exactly `length` bytes.
    Attachment { index: usize, length: u64 },
}

impl std::fmt::Debug for Segment {
    // Literal segments include the envelope, which can carry a SAML
    // assertion (a bearer token): show sizes only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Segment::Bytes(bytes) => write!(f, "Bytes({} bytes)", bytes.len()),
            Segment::Attachment { index, length } => f
                .debug_struct("Attachment")
                .field("index", index)
                .field("length", length)
                .finish(),
        }
    }
}

impl Segment {
    /// Bytes this segment contributes to the body.
    pub fn len(&self) -> u64 {
        match self {
            Segment::Bytes(bytes) => bytes.len() as u64,
            Segment::Attachment { length, .. } => *length,
        }
    }

    /// True for an empty segment (an empty attachment).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Why a message cannot be laid out or streamed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MtomWriteError {
    #[error("root part Content-ID: {0}")]
    RootContentId(ContentIdError),
    #[error("attachment {index} Content-ID: {source}")]
    AttachmentContentId {
        index: usize,
        source: ContentIdError,
    },
    #[error("Content-ID <{content_id}> is used by two parts; each part needs its own")]
    DuplicateContentId { content_id: String },
    #[error(
        "attachment <{content_id}> content type '{content_type}' is not a valid media type: {source}"
    )]
    AttachmentContentType {
        content_id: String,
        content_type: String,
        source: ContentTypeError,
    },
    #[error("message Content-Type header: {0}")]
    Header(ContentTypeError),
    #[error(
        "the boundary occurs inside the root part; choose another boundary (MtomLayout::new picks a random one)"
    )]
    BoundaryInRoot,
    #[error(
        "every random boundary tried occurs in the root part; this cannot happen by chance, check the envelope"
    )]
    NoUsableBoundary,
    #[error("{given} attachment sources given for {expected} announced attachments")]
    SourceCountMismatch { expected: usize, given: usize },
    #[error(
        "attachment <{content_id}> ended after {delivered} of its announced {announced} bytes; the Content-Length already sent is now wrong"
    )]
    AttachmentTooShort {
        content_id: String,
        announced: u64,
        delivered: u64,
    },
    #[error(
        "attachment <{content_id}> has more than its announced {announced} bytes (did the file change after its size was taken?)"
    )]
    AttachmentTooLong { content_id: String, announced: u64 },
}

/// The complete plan of an MTOM body: header value, exact length, and the
/// segments to send in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MtomLayout {
    header: MtomContentType,
    header_value: String,
    attachments: Vec<AttachmentSpec>,
    segments: Vec<Segment>,
    content_length: u64,
}

impl MtomLayout {
    /// Lays out a message with a fresh unguessable boundary (a v4 UUID)
    /// checked not to occur in the root part. `action` goes on the
    /// `Content-Type` header as the SOAP 1.2 action parameter.
    pub fn new(
        root: RootPart,
        attachments: Vec<AttachmentSpec>,
        action: Option<&str>,
    ) -> Result<MtomLayout, MtomWriteError> {
        for _ in 0..BOUNDARY_ATTEMPTS {
            let boundary = format!("MIMEBoundary_{}", uuid::Uuid::new_v4().simple());
            if memchr::memmem::find(&root.envelope, boundary.as_bytes()).is_none() {
                return Self::with_boundary(&boundary, root, attachments, action);
            }
        }
        Err(MtomWriteError::NoUsableBoundary)
    }

    /// Lays out a message with a caller-chosen boundary (tests,
    /// reproducible output). The boundary must follow RFC 2046 and must not
    /// occur in the root part. Attachments are not scanned (they are not in
    /// memory): a boundary that is not random may collide with their
    /// content, which is why [`MtomLayout::new`] exists.
    pub fn with_boundary(
        boundary: &str,
        root: RootPart,
        attachments: Vec<AttachmentSpec>,
        action: Option<&str>,
    ) -> Result<MtomLayout, MtomWriteError> {
        content_type::check_boundary(boundary, content_type::MAX_RFC_BOUNDARY_LEN)
            .map_err(MtomWriteError::Header)?;
        if memchr::memmem::find(&root.envelope, boundary.as_bytes()).is_some() {
            return Err(MtomWriteError::BoundaryInRoot);
        }
        content_id::check_for_writing(&root.content_id).map_err(MtomWriteError::RootContentId)?;
        let mut seen = HashSet::from([root.content_id.as_str()]);
        for (index, attachment) in attachments.iter().enumerate() {
            content_id::check_for_writing(&attachment.content_id)
                .map_err(|source| MtomWriteError::AttachmentContentId { index, source })?;
            if !seen.insert(attachment.content_id.as_str()) {
                return Err(MtomWriteError::DuplicateContentId {
                    content_id: attachment.content_id.clone(),
                });
            }
            // Parsing proves it is one header line of ASCII (no CR/LF can
            // smuggle a header in) with a type/subtype.
            MediaType::parse(&attachment.content_type).map_err(|source| {
                MtomWriteError::AttachmentContentType {
                    content_id: attachment.content_id.clone(),
                    content_type: attachment.content_type.clone(),
                    source,
                }
            })?;
        }

        let header = MtomContentType {
            boundary: boundary.to_owned(),
            start: Some(root.content_id.clone()),
            start_info: Some(SOAP12_START_INFO.to_owned()),
            action: action.map(str::to_owned),
        };
        let header_value = header.to_header_value().map_err(MtomWriteError::Header)?;

        let mut segments = Vec::with_capacity(2 * attachments.len() + 3);
        segments.push(Segment::Bytes(part_head(
            boundary,
            true,
            ROOT_CONTENT_TYPE,
            &root.content_id,
        )));
        segments.push(Segment::Bytes(root.envelope));
        for (index, attachment) in attachments.iter().enumerate() {
            segments.push(Segment::Bytes(part_head(
                boundary,
                false,
                &attachment.content_type,
                &attachment.content_id,
            )));
            segments.push(Segment::Attachment {
                index,
                length: attachment.length,
            });
        }
        segments.push(Segment::Bytes(
            format!("\r\n--{boundary}--\r\n").into_bytes(),
        ));
        let content_length = segments.iter().map(Segment::len).sum();
        Ok(MtomLayout {
            header,
            header_value,
            attachments,
            segments,
            content_length,
        })
    }

    /// The value for the HTTP `Content-Type` header.
    pub fn content_type(&self) -> &str {
        &self.header_value
    }

    /// The exact body length, for the HTTP `Content-Length` header.
    pub fn content_length(&self) -> u64 {
        self.content_length
    }

    /// The boundary (without `--`).
    pub fn boundary(&self) -> &str {
        &self.header.boundary
    }

    /// The parsed form of [`content_type`](Self::content_type).
    pub fn header(&self) -> &MtomContentType {
        &self.header
    }

    /// The attachments, in the order their slots appear.
    pub fn attachments(&self) -> &[AttachmentSpec] {
        &self.attachments
    }

    /// The segments in sending order.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The segments, owned (for an async caller building a body stream).
    pub fn into_segments(self) -> Vec<Segment> {
        self.segments
    }

    /// A blocking reader over the whole body, one source per attachment in
    /// order. Each source must yield exactly the announced length; a short
    /// or long source makes `read` fail (the Content-Length would lie).
    pub fn into_reader<R: Read>(self, sources: Vec<R>) -> Result<MtomBody<R>, MtomWriteError> {
        if sources.len() != self.attachments.len() {
            return Err(MtomWriteError::SourceCountMismatch {
                expected: self.attachments.len(),
                given: sources.len(),
            });
        }
        Ok(MtomBody {
            content_ids: self.attachments.into_iter().map(|a| a.content_id).collect(),
            segments: self.segments.into_iter(),
            sources: sources.into_iter().map(Some).collect(),
            current: Current::Idle,
        })
    }
}

/// Boundary line and headers opening a part. Every part but the first
/// starts with the CRLF that, per RFC 2046, belongs to its delimiter.
fn part_head(boundary: &str, first: bool, content_type: &str, content_id: &str) -> Vec<u8> {
    let lead = if first { "" } else { "\r\n" };
    format!(
        "{lead}--{boundary}\r\n\
         Content-Type: {content_type}\r\n\
         Content-Transfer-Encoding: binary\r\n\
         Content-ID: <{content_id}>\r\n\
         \r\n"
    )
    .into_bytes()
}

/// A blocking [`Read`] over an [`MtomLayout`], pulling each attachment from
/// its source as it goes: memory use is one read buffer, whatever the
/// attachments' sizes.
pub struct MtomBody<R> {
    content_ids: Vec<String>,
    segments: std::vec::IntoIter<Segment>,
    sources: Vec<Option<R>>,
    current: Current,
}

enum Current {
    Idle,
    Bytes {
        bytes: Vec<u8>,
        sent: usize,
    },
    Attachment {
        index: usize,
        length: u64,
        sent: u64,
    },
}

impl<R: Read> MtomBody<R> {
    fn attachment_error(
        &self,
        index: usize,
        make: impl FnOnce(String) -> MtomWriteError,
    ) -> io::Error {
        let content_id = self.content_ids.get(index).cloned().unwrap_or_default();
        let error = make(content_id);
        let kind = match error {
            MtomWriteError::AttachmentTooShort { .. } => io::ErrorKind::UnexpectedEof,
            _ => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, error)
    }

    /// Reads from attachment `index`, retrying on `Interrupted`.
    fn read_source(&mut self, index: usize, buf: &mut [u8]) -> io::Result<usize> {
        let Some(Some(source)) = self.sources.get_mut(index) else {
            // A source is only taken after its segment is complete.
            return Ok(0);
        };
        loop {
            match source.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }
}

impl<R: Read> Read for MtomBody<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            match &mut self.current {
                Current::Idle => match self.segments.next() {
                    None => return Ok(0),
                    Some(Segment::Bytes(bytes)) => {
                        self.current = Current::Bytes { bytes, sent: 0 };
                    }
                    Some(Segment::Attachment { index, length }) => {
                        self.current = Current::Attachment {
                            index,
                            length,
                            sent: 0,
                        };
                    }
                },
                Current::Bytes { bytes, sent } => {
                    let rest = &bytes[*sent..];
                    if rest.is_empty() {
                        self.current = Current::Idle;
                        continue;
                    }
                    let n = rest.len().min(buf.len());
                    buf[..n].copy_from_slice(&rest[..n]);
                    *sent += n;
                    return Ok(n);
                }
                Current::Attachment {
                    index,
                    length,
                    sent,
                } => {
                    let (index, length, already) = (*index, *length, *sent);
                    if already == length {
                        // The source must now be exhausted; one probe byte
                        // tells a file that grew since its size was taken.
                        let mut probe = [0u8; 1];
                        if self.read_source(index, &mut probe)? != 0 {
                            return Err(self.attachment_error(index, |content_id| {
                                MtomWriteError::AttachmentTooLong {
                                    content_id,
                                    announced: length,
                                }
                            }));
                        }
                        if let Some(slot) = self.sources.get_mut(index) {
                            *slot = None; // close the file as soon as it is sent
                        }
                        self.current = Current::Idle;
                        continue;
                    }
                    let want = usize::try_from(length - already)
                        .unwrap_or(usize::MAX)
                        .min(buf.len());
                    let n = self.read_source(index, &mut buf[..want])?;
                    if n == 0 {
                        return Err(self.attachment_error(index, |content_id| {
                            MtomWriteError::AttachmentTooShort {
                                content_id,
                                announced: length,
                                delivered: already,
                            }
                        }));
                    }
                    if let Current::Attachment { sent, .. } = &mut self.current {
                        *sent += n as u64;
                    }
                    return Ok(n);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(envelope: &[u8]) -> RootPart {
        RootPart {
            content_id: "root@dspconnect".into(),
            envelope: envelope.to_vec(),
        }
    }

    fn pdf(length: u64) -> AttachmentSpec {
        AttachmentSpec {
            content_id: "doc1@dspconnect".into(),
            content_type: "application/pdf".into(),
            length,
        }
    }

    fn read_all(layout: MtomLayout, sources: Vec<&[u8]>) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        layout.into_reader(sources).unwrap().read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn writes_the_exact_expected_body() {
        let layout = MtomLayout::with_boundary(
            "B",
            root(b"<e/>"),
            vec![pdf(3)],
            Some("urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b"),
        )
        .unwrap();
        assert_eq!(
            layout.content_type(),
            "multipart/related; boundary=\"B\"; type=\"application/xop+xml\"; \
             start=\"<root@dspconnect>\"; start-info=\"application/soap+xml\"; \
             action=\"urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b\""
        );
        let expected: &[u8] = b"--B\r\n\
            Content-Type: application/xop+xml; charset=UTF-8; type=\"application/soap+xml\"\r\n\
            Content-Transfer-Encoding: binary\r\n\
            Content-ID: <root@dspconnect>\r\n\
            \r\n\
            <e/>\r\n\
            --B\r\n\
            Content-Type: application/pdf\r\n\
            Content-Transfer-Encoding: binary\r\n\
            Content-ID: <doc1@dspconnect>\r\n\
            \r\n\
            %PD\r\n\
            --B--\r\n";
        assert_eq!(layout.content_length(), expected.len() as u64);
        let body = read_all(layout, vec![b"%PD"]).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&body),
            String::from_utf8_lossy(expected)
        );
    }

    #[test]
    fn debug_output_does_not_show_the_envelope() {
        let layout =
            MtomLayout::new(root(b"<Assertion>bearer-token</Assertion>"), vec![], None).unwrap();
        let shown = format!("{layout:?} {:?}", root(b"bearer-token"));
        assert!(!shown.contains("bearer-token"), "{shown}");
        assert!(shown.contains("Bytes(35 bytes)"), "{shown}");
    }

    #[test]
    fn random_boundaries_differ_and_are_rfc_boundaries() {
        let a = MtomLayout::new(root(b"<e/>"), vec![], None).unwrap();
        let b = MtomLayout::new(root(b"<e/>"), vec![], None).unwrap();
        assert_ne!(a.boundary(), b.boundary());
        content_type::check_boundary(a.boundary(), content_type::MAX_RFC_BOUNDARY_LEN).unwrap();
        assert!(!a.content_type().contains("action"));
    }

    #[test]
    fn refuses_a_boundary_inside_the_root() {
        assert_eq!(
            MtomLayout::with_boundary("xyz", root(b"<e>xyz</e>"), vec![], None),
            Err(MtomWriteError::BoundaryInRoot)
        );
    }

    #[test]
    fn refuses_bad_ids_types_and_duplicates() {
        let bad_id = AttachmentSpec {
            content_id: "a>b".into(),
            ..pdf(1)
        };
        assert!(matches!(
            MtomLayout::new(root(b""), vec![bad_id], None),
            Err(MtomWriteError::AttachmentContentId { index: 0, .. })
        ));
        let injected = AttachmentSpec {
            content_type: "application/pdf\r\nX-Evil: 1".into(),
            ..pdf(1)
        };
        assert!(matches!(
            MtomLayout::new(root(b""), vec![injected], None),
            Err(MtomWriteError::AttachmentContentType { .. })
        ));
        let same_as_root = AttachmentSpec {
            content_id: "root@dspconnect".into(),
            ..pdf(1)
        };
        assert!(matches!(
            MtomLayout::new(root(b""), vec![same_as_root], None),
            Err(MtomWriteError::DuplicateContentId { .. })
        ));
        assert!(matches!(
            MtomLayout::new(root(b""), vec![], Some("urn:\"")),
            Err(MtomWriteError::Header(_))
        ));
        assert!(matches!(
            MtomLayout::with_boundary("bad boundary ", root(b""), vec![], None),
            Err(MtomWriteError::Header(_))
        ));
    }

    #[test]
    fn sources_must_match_their_announced_lengths() {
        let layout = || MtomLayout::with_boundary("B", root(b"<e/>"), vec![pdf(4)], None).unwrap();
        let short = read_all(layout(), vec![b"abc"]).unwrap_err();
        assert_eq!(short.kind(), io::ErrorKind::UnexpectedEof);
        assert!(
            short
                .to_string()
                .contains("after 3 of its announced 4 bytes"),
            "{short}"
        );
        let long = read_all(layout(), vec![b"abcde"]).unwrap_err();
        assert_eq!(long.kind(), io::ErrorKind::InvalidData);
        assert!(
            long.to_string().contains("more than its announced 4"),
            "{long}"
        );
        assert_eq!(
            read_all(layout(), vec![b"abcd"]).unwrap().len() as u64,
            layout().content_length()
        );
        assert!(matches!(
            layout().into_reader(Vec::<&[u8]>::new()),
            Err(MtomWriteError::SourceCountMismatch {
                expected: 1,
                given: 0
            })
        ));
    }

    #[test]
    fn segments_add_up_to_the_content_length() {
        let layout = MtomLayout::new(
            root(b"<e/>"),
            vec![
                pdf(1000),
                AttachmentSpec {
                    content_id: "doc2".into(),
                    content_type: "text/xml; charset=UTF-8".into(),
                    length: 0,
                },
            ],
            None,
        )
        .unwrap();
        let total: u64 = layout.segments().iter().map(Segment::len).sum();
        assert_eq!(total, layout.content_length());
        let slots: Vec<_> = layout
            .segments()
            .iter()
            .filter_map(|s| match s {
                Segment::Attachment { index, length } => Some((*index, *length)),
                Segment::Bytes(_) => None,
            })
            .collect();
        assert_eq!(slots, vec![(0, 1000), (1, 0)]);
    }
}
