//! MIME `Content-Type` values (RFC 2045 §5.1): the generic media-type
//! grammar, and the `multipart/related` header an MTOM message is announced
//! with (RFC 2387, XOP §4, SOAP MTOM §3).
//!
//! Written here rather than taken from a crate because we need errors that
//! name the missing or repeated parameter, quoted-pair unescaping, and a
//! deliberately lenient reading of unquoted values: Java and .NET stacks
//! send `start=<0.urn:uuid:…@apache.org>` or `boundary=uuid:…` unquoted,
//! although `<`, `>`, `@` and `:` are tspecials.

use super::content_id::{self, ContentIdError};

/// The `type` parameter every MTOM message carries, and the media type of
/// its root part.
pub const XOP_MEDIA_TYPE: &str = "application/xop+xml";

/// Longest boundary we accept when parsing. RFC 2046 caps boundaries at 70
/// characters; some stacks exceed that slightly, and refusing them would
/// buy nothing, so parsing allows more while writing stays within 70.
pub const MAX_PARSED_BOUNDARY_LEN: usize = 200;

/// Longest boundary RFC 2046 allows (what the writer produces).
pub const MAX_RFC_BOUNDARY_LEN: usize = 70;

/// Why a `Content-Type` value cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContentTypeError {
    #[error("Content-Type is empty")]
    Empty,
    #[error(
        "Content-Type contains a non-ASCII or control character at byte {offset}; header values are ASCII"
    )]
    NotAscii { offset: usize },
    #[error("Content-Type '{value}' has no 'type/subtype' media type at its start")]
    NoMediaType { value: String },
    #[error("Content-Type syntax error at byte {offset}: {message}")]
    Syntax {
        offset: usize,
        message: &'static str,
    },
    #[error("Content-Type parameter '{name}' appears more than once")]
    DuplicateParameter { name: String },
    #[error(
        "Content-Type is '{found}', an MTOM message must be 'multipart/related' (is the body really MTOM/XOP?)"
    )]
    NotMultipartRelated { found: String },
    #[error("multipart/related Content-Type has no '{name}' parameter, which MTOM requires")]
    MissingParameter { name: &'static str },
    #[error("multipart/related 'type' parameter is '{found}', MTOM requires 'application/xop+xml'")]
    NotXop { found: String },
    #[error("boundary '{boundary}' is not usable: {reason}")]
    InvalidBoundary {
        boundary: String,
        reason: &'static str,
    },
    #[error("'start' parameter: {0}")]
    InvalidStart(ContentIdError),
    #[error(
        "parameter '{name}' value contains '\"', '\\\\' or a control character; it cannot be written as a quoted string"
    )]
    UnwritableParameter { name: &'static str },
}

/// A media type with its parameters, as read from a header value.
///
/// Type, subtype and parameter names are lower-cased (they are
/// case-insensitive); parameter values are kept as written, unquoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaType {
    /// `type/subtype`, lower-cased.
    pub essence: String,
    /// `(name, value)` in the order written; names lower-cased and unique.
    pub params: Vec<(String, String)>,
}

impl MediaType {
    /// Parses `type/subtype *(; name=value)`. A trailing `;` is tolerated.
    pub fn parse(value: &str) -> Result<MediaType, ContentTypeError> {
        if let Some(offset) = value
            .bytes()
            .position(|b| !(b.is_ascii_graphic() || b == b' ' || b == b'\t'))
        {
            return Err(ContentTypeError::NotAscii { offset });
        }
        let bytes = value.as_bytes();
        let mut cursor = Cursor { bytes, at: 0 };
        cursor.skip_whitespace();
        if cursor.at == bytes.len() {
            return Err(ContentTypeError::Empty);
        }
        let main = cursor.token();
        let slash = cursor.eat(b'/');
        let sub = cursor.token();
        if main.is_empty() || !slash || sub.is_empty() {
            return Err(ContentTypeError::NoMediaType {
                value: value.to_owned(),
            });
        }
        let essence = format!("{main}/{sub}").to_ascii_lowercase();
        let mut params: Vec<(String, String)> = Vec::new();
        loop {
            cursor.skip_whitespace();
            if cursor.at == bytes.len() {
                break;
            }
            if !cursor.eat(b';') {
                return Err(cursor.error("expected ';' before the next parameter"));
            }
            cursor.skip_whitespace();
            if cursor.at == bytes.len() {
                break; // a trailing ';' (some stacks write one)
            }
            let name = cursor.token().to_ascii_lowercase();
            if name.is_empty() {
                return Err(cursor.error("expected a parameter name"));
            }
            cursor.skip_whitespace();
            if !cursor.eat(b'=') {
                return Err(cursor.error("expected '=' after the parameter name"));
            }
            cursor.skip_whitespace();
            let value = if cursor.peek() == Some(b'"') {
                cursor.quoted_string()?
            } else {
                let raw = cursor.lenient_unquoted();
                if raw.is_empty() {
                    return Err(cursor.error("expected a parameter value"));
                }
                raw.to_owned()
            };
            if params.iter().any(|(existing, _)| *existing == name) {
                return Err(ContentTypeError::DuplicateParameter { name });
            }
            params.push((name, value));
        }
        Ok(MediaType { essence, params })
    }

    /// The value of parameter `name` (lower-case).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The `Content-Type` of an MTOM message: `multipart/related` with the
/// parameters XOP and SOAP MTOM define.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MtomContentType {
    /// The boundary, without the leading `--`.
    pub boundary: String,
    /// Content-ID of the root part, without angle brackets; `None` means the
    /// first part is the root (RFC 2387 §3.2).
    pub start: Option<String>,
    /// Media type of the root part's content (`application/soap+xml`).
    pub start_info: Option<String>,
    /// SOAP 1.2 action, when the sender put it on the multipart header (as
    /// IHE ITI-41 and ITI-43 examples do).
    pub action: Option<String>,
}

impl MtomContentType {
    /// Parses and validates a header value: `multipart/related`, a usable
    /// boundary, `type="application/xop+xml"`, and a well-formed `start`.
    pub fn parse(value: &str) -> Result<MtomContentType, ContentTypeError> {
        let media = MediaType::parse(value)?;
        if media.essence != "multipart/related" {
            return Err(ContentTypeError::NotMultipartRelated {
                found: media.essence,
            });
        }
        let boundary = media
            .param("boundary")
            .ok_or(ContentTypeError::MissingParameter { name: "boundary" })?;
        check_boundary(boundary, MAX_PARSED_BOUNDARY_LEN)?;
        let root_type = media
            .param("type")
            .ok_or(ContentTypeError::MissingParameter { name: "type" })?;
        // The type parameter is a media type itself; compare its essence.
        let root_essence = MediaType::parse(root_type)
            .map(|m| m.essence)
            .unwrap_or_else(|_| root_type.to_ascii_lowercase());
        if root_essence != XOP_MEDIA_TYPE {
            return Err(ContentTypeError::NotXop {
                found: root_type.to_owned(),
            });
        }
        let start = media
            .param("start")
            .map(content_id::normalize)
            .transpose()
            .map_err(ContentTypeError::InvalidStart)?;
        Ok(MtomContentType {
            boundary: boundary.to_owned(),
            start,
            start_info: media.param("start-info").map(str::to_owned),
            action: media.param("action").map(str::to_owned),
        })
    }

    /// The header value, every parameter quoted:
    /// `multipart/related; boundary="…"; type="application/xop+xml";
    /// start="<…>"; start-info="…"; action="…"`.
    pub fn to_header_value(&self) -> Result<String, ContentTypeError> {
        check_boundary(&self.boundary, MAX_PARSED_BOUNDARY_LEN)?;
        let mut out = String::from("multipart/related");
        push_param(&mut out, "boundary", &self.boundary)?;
        push_param(&mut out, "type", XOP_MEDIA_TYPE)?;
        if let Some(start) = &self.start {
            push_param(&mut out, "start", &format!("<{start}>"))?;
        }
        if let Some(info) = &self.start_info {
            push_param(&mut out, "start-info", info)?;
        }
        if let Some(action) = &self.action {
            push_param(&mut out, "action", action)?;
        }
        Ok(out)
    }
}

fn push_param(out: &mut String, name: &'static str, value: &str) -> Result<(), ContentTypeError> {
    // Refusing rather than escaping keeps the output readable by parsers
    // that do not implement quoted-pairs (several MTOM stacks do not).
    if value
        .bytes()
        .any(|b| b == b'"' || b == b'\\' || !(b.is_ascii_graphic() || b == b' '))
    {
        return Err(ContentTypeError::UnwritableParameter { name });
    }
    out.push_str("; ");
    out.push_str(name);
    out.push_str("=\"");
    out.push_str(value);
    out.push('"');
    Ok(())
}

/// Checks a boundary against RFC 2046 §5.1.1 (`bchars`, no trailing space),
/// allowing up to `max_len` characters.
pub fn check_boundary(boundary: &str, max_len: usize) -> Result<(), ContentTypeError> {
    let invalid = |reason| ContentTypeError::InvalidBoundary {
        boundary: boundary.to_owned(),
        reason,
    };
    if boundary.is_empty() {
        return Err(invalid("it is empty"));
    }
    if boundary.len() > max_len {
        return Err(invalid("it is longer than allowed"));
    }
    if boundary.ends_with(' ') {
        return Err(invalid("it ends with a space"));
    }
    let is_bchar = |b: u8| b.is_ascii_alphanumeric() || b"'()+_,-./:=? ".contains(&b);
    if !boundary.bytes().all(is_bchar) {
        return Err(invalid(
            "it contains a character outside RFC 2046 bchars (letters, digits, '()+_,-./:=? and space)",
        ));
    }
    Ok(())
}

/// RFC 2045 tspecials, which end a token.
fn is_tspecial(b: u8) -> bool {
    b"()<>@,;:\\\"/[]?=".contains(&b)
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn eat(&mut self, wanted: u8) -> bool {
        if self.peek() == Some(wanted) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.at += 1;
        }
    }

    fn take_while(&mut self, keep: impl Fn(u8) -> bool) -> &'a str {
        let start = self.at;
        while self.peek().is_some_and(&keep) {
            self.at += 1;
        }
        // The whole input was checked to be ASCII, so any sub-slice is UTF-8.
        std::str::from_utf8(&self.bytes[start..self.at]).unwrap_or_default()
    }

    fn token(&mut self) -> &'a str {
        self.take_while(|b| b.is_ascii_graphic() && !is_tspecial(b))
    }

    /// An unquoted value read leniently: everything up to whitespace or `;`.
    fn lenient_unquoted(&mut self) -> &'a str {
        self.take_while(|b| b.is_ascii_graphic() && b != b';' && b != b'"')
    }

    fn quoted_string(&mut self) -> Result<String, ContentTypeError> {
        let open = self.at;
        self.at += 1; // the opening quote, checked by the caller
        let mut value = String::new();
        loop {
            match self.peek() {
                None => {
                    return Err(ContentTypeError::Syntax {
                        offset: open,
                        message: "quoted string is not closed",
                    });
                }
                Some(b'"') => {
                    self.at += 1;
                    return Ok(value);
                }
                Some(b'\\') => {
                    self.at += 1;
                    match self.peek() {
                        Some(escaped) => {
                            value.push(char::from(escaped));
                            self.at += 1;
                        }
                        None => {
                            return Err(ContentTypeError::Syntax {
                                offset: self.at,
                                message: "quoted string ends with a lone '\\'",
                            });
                        }
                    }
                }
                Some(other) => {
                    value.push(char::from(other));
                    self.at += 1;
                }
            }
        }
    }

    fn error(&self, message: &'static str) -> ContentTypeError {
        ContentTypeError::Syntax {
            offset: self.at,
            message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_axis2_style_header() {
        let ct = MtomContentType::parse(
            "multipart/related; boundary=MIMEBoundaryurn_uuid_F3D5B5ABCAF3C9AE271292322232578; \
             type=\"application/xop+xml\"; start=\"<0.urn:uuid:F3D5B5ABCAF3C9AE271292322232579@apache.org>\"; \
             start-info=\"application/soap+xml\"; action=\"urn:ihe:iti:2007:RetrieveDocumentSet\"",
        )
        .unwrap();
        assert_eq!(
            ct.boundary,
            "MIMEBoundaryurn_uuid_F3D5B5ABCAF3C9AE271292322232578"
        );
        assert_eq!(
            ct.start.as_deref(),
            Some("0.urn:uuid:F3D5B5ABCAF3C9AE271292322232579@apache.org")
        );
        assert_eq!(ct.start_info.as_deref(), Some("application/soap+xml"));
        assert_eq!(
            ct.action.as_deref(),
            Some("urn:ihe:iti:2007:RetrieveDocumentSet")
        );
    }

    #[test]
    fn tolerates_case_unquoted_tspecials_and_trailing_semicolon() {
        let ct = MtomContentType::parse(
            "Multipart/Related;TYPE=\"Application/XOP+XML\";Boundary=uuid:1a2b-3c;start=<root@x>;",
        )
        .unwrap();
        assert_eq!(ct.boundary, "uuid:1a2b-3c");
        assert_eq!(ct.start.as_deref(), Some("root@x"));
        assert_eq!(ct.start_info, None);
    }

    #[test]
    fn unescapes_quoted_pairs() {
        let media = MediaType::parse(r#"a/b; x="q\"uo\\te""#).unwrap();
        assert_eq!(media.param("x"), Some(r#"q"uo\te"#));
    }

    #[test]
    fn refuses_what_is_not_mtom() {
        use ContentTypeError as E;
        type Check = fn(&ContentTypeError) -> bool;
        let cases: &[(&str, Check)] = &[
            ("", |e| matches!(e, E::Empty)),
            (
                "multipart/form-data; boundary=x",
                |e| matches!(e, E::NotMultipartRelated { found } if found == "multipart/form-data"),
            ),
            ("multipart/related; type=\"application/xop+xml\"", |e| {
                matches!(e, E::MissingParameter { name: "boundary" })
            }),
            ("multipart/related; boundary=abc", |e| {
                matches!(e, E::MissingParameter { name: "type" })
            }),
            (
                "multipart/related; boundary=abc; type=text/xml",
                |e| matches!(e, E::NotXop { found } if found == "text/xml"),
            ),
            (
                "multipart/related; boundary=a; boundary=b; type=application/xop+xml",
                |e| matches!(e, E::DuplicateParameter { name } if name == "boundary"),
            ),
            ("multipart/related; boundary=\"abc", |e| {
                matches!(e, E::Syntax { .. })
            }),
            (
                "multipart/related; boundary=\"\"; type=application/xop+xml",
                |e| matches!(e, E::InvalidBoundary { .. }),
            ),
            (
                "multipart/related; boundary=\"a \"; type=application/xop+xml",
                |e| matches!(e, E::InvalidBoundary { .. }),
            ),
            (
                "multipart/related; boundary=a{b; type=application/xop+xml",
                |e| matches!(e, E::InvalidBoundary { .. }),
            ),
            (
                "multipart/related; boundary=ab; type=application/xop+xml; start=\"<>\"",
                |e| matches!(e, E::InvalidStart(_)),
            ),
            ("multipart/related; boundary=é", |e| {
                matches!(e, E::NotAscii { .. })
            }),
            ("multipart/related\r\n; boundary=x", |e| {
                matches!(e, E::NotAscii { .. })
            }),
            ("multipart/related boundary=x", |e| {
                matches!(e, E::Syntax { .. })
            }),
            ("multipart; boundary=x", |e| {
                matches!(e, E::NoMediaType { .. })
            }),
        ];
        for (value, expected) in cases {
            let err = MtomContentType::parse(value).unwrap_err();
            assert!(expected(&err), "{value:?} gave {err:?}");
            assert!(!err.to_string().is_empty());
        }
    }

    #[test]
    fn written_header_parses_back() {
        let ct = MtomContentType {
            boundary: "MIMEBoundary_0123456789abcdef".into(),
            start: Some("root.message@dspconnect".into()),
            start_info: Some("application/soap+xml".into()),
            action: Some("urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b".into()),
        };
        let value = ct.to_header_value().unwrap();
        assert_eq!(
            value,
            "multipart/related; boundary=\"MIMEBoundary_0123456789abcdef\"; \
             type=\"application/xop+xml\"; start=\"<root.message@dspconnect>\"; \
             start-info=\"application/soap+xml\"; \
             action=\"urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b\""
        );
        assert_eq!(MtomContentType::parse(&value).unwrap(), ct);
    }

    #[test]
    fn refuses_to_write_unquotable_values() {
        let ct = MtomContentType {
            boundary: "b".into(),
            start: None,
            start_info: None,
            action: Some("urn:\"x".into()),
        };
        assert_eq!(
            ct.to_header_value(),
            Err(ContentTypeError::UnwritableParameter { name: "action" })
        );
    }
}
