//! Content-IDs (RFC 2045 §7, RFC 2392) and the `cid:` URLs that
//! `xop:Include/@href` uses to point at them.
//!
//! A Content-ID is written `<id>` in a header; senders are not consistent
//! about the brackets (some omit them in `start`), so ids are kept without
//! them. A `cid:` URL carries the same id percent-encoded (RFC 2392 §2):
//! `cid:foo4%25foo1@bar.net` names `<foo4%foo1@bar.net>`.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// Characters left as they are in a `cid:` URL we write: RFC 3986
/// unreserved characters plus the sub-delimiters, `:` and `@` allowed in a
/// path segment. Everything else, `%` included, is percent-encoded.
const CID_URL_KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=')
    .remove(b':')
    .remove(b'@');

/// Why a Content-ID or `cid:` URL cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContentIdError {
    #[error("Content-ID is empty")]
    Empty,
    #[error(
        "Content-ID '{id}' contains '{character}', which cannot appear in a Content-ID header (use printable ASCII without <, >, \", \\ or spaces)"
    )]
    ForbiddenCharacter { id: String, character: char },
    #[error("Content-ID '{value}' has unbalanced angle brackets")]
    UnbalancedBrackets { value: String },
    #[error("href '{href}' is not a cid: URL (XOP includes must point at a MIME part)")]
    NotCidUrl { href: String },
    #[error("href '{href}' does not decode to UTF-8 after percent-decoding")]
    NotUtf8 { href: String },
}

/// The id inside a Content-ID header value or `start` parameter: trimmed,
/// angle brackets removed when present.
pub fn normalize(value: &str) -> Result<String, ContentIdError> {
    let trimmed = value.trim_matches(|c| c == ' ' || c == '\t');
    let inner = match (trimmed.strip_prefix('<'), trimmed.ends_with('>')) {
        (Some(rest), true) => rest.strip_suffix('>').unwrap_or(rest),
        (None, false) => trimmed,
        _ => {
            return Err(ContentIdError::UnbalancedBrackets {
                value: value.to_owned(),
            });
        }
    };
    if inner.is_empty() {
        return Err(ContentIdError::Empty);
    }
    check_characters(inner)?;
    Ok(inner.to_owned())
}

/// Checks an id we are about to write in a `Content-ID: <…>` header and a
/// quoted `start="<…>"` parameter.
pub fn check_for_writing(id: &str) -> Result<(), ContentIdError> {
    if id.is_empty() {
        return Err(ContentIdError::Empty);
    }
    check_characters(id)
}

fn check_characters(id: &str) -> Result<(), ContentIdError> {
    match id
        .chars()
        .find(|&c| !c.is_ascii_graphic() || matches!(c, '<' | '>' | '"' | '\\'))
    {
        Some(character) => Err(ContentIdError::ForbiddenCharacter {
            id: id.to_owned(),
            character,
        }),
        None => Ok(()),
    }
}

/// The `cid:` URL that names Content-ID `id` (for `xop:Include/@href`).
pub fn href_for_content_id(id: &str) -> String {
    format!("cid:{}", utf8_percent_encode(id, CID_URL_KEEP))
}

/// The Content-ID a `cid:` URL names (scheme case-insensitive,
/// percent-decoded). Angle brackets are not part of a `cid:` URL, but a
/// bracketed id is accepted and unwrapped, as lenient senders write them.
pub fn content_id_from_href(href: &str) -> Result<String, ContentIdError> {
    let trimmed = href.trim();
    let rest = match trimmed.get(..4) {
        Some(scheme) if scheme.eq_ignore_ascii_case("cid:") => &trimmed[4..],
        _ => {
            return Err(ContentIdError::NotCidUrl {
                href: href.to_owned(),
            });
        }
    };
    let decoded = percent_decode_str(rest)
        .decode_utf8()
        .map_err(|_| ContentIdError::NotUtf8 {
            href: href.to_owned(),
        })?;
    normalize(&decoded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn normalizes_with_and_without_brackets() {
        assert_eq!(normalize("<a@b>").unwrap(), "a@b");
        assert_eq!(normalize("  <a@b> ").unwrap(), "a@b");
        assert_eq!(normalize("a@b").unwrap(), "a@b");
        assert_eq!(
            normalize("<rootpart*6c1c7b2b@example.jaxws.sun.com>").unwrap(),
            "rootpart*6c1c7b2b@example.jaxws.sun.com"
        );
        assert_eq!(normalize("<>"), Err(ContentIdError::Empty));
        assert!(matches!(
            normalize("<a@b"),
            Err(ContentIdError::UnbalancedBrackets { .. })
        ));
        assert!(matches!(
            normalize("<a b>"),
            Err(ContentIdError::ForbiddenCharacter { character: ' ', .. })
        ));
    }

    #[test]
    fn rfc2392_example_resolves() {
        // RFC 2392 §2: cid:foo4%25foo1@bar.net names <foo4%foo1@bar.net>.
        assert_eq!(
            content_id_from_href("cid:foo4%25foo1@bar.net").unwrap(),
            "foo4%foo1@bar.net"
        );
        assert_eq!(
            href_for_content_id("foo4%foo1@bar.net"),
            "cid:foo4%25foo1@bar.net"
        );
        assert_eq!(
            content_id_from_href("CID:1.urn%3Auuid%3Aabc%40apache.org").unwrap(),
            "1.urn:uuid:abc@apache.org"
        );
    }

    #[test]
    fn refuses_other_urls() {
        assert!(matches!(
            content_id_from_href("http://x/y"),
            Err(ContentIdError::NotCidUrl { .. })
        ));
        assert!(matches!(
            content_id_from_href("ci"),
            Err(ContentIdError::NotCidUrl { .. })
        ));
        assert!(matches!(
            content_id_from_href("cid:%ff%fe"),
            Err(ContentIdError::NotUtf8 { .. })
        ));
        assert_eq!(content_id_from_href("cid:"), Err(ContentIdError::Empty));
    }

    proptest! {
        #[test]
        fn href_round_trips(id in "[!-~&&[^<>\"\\\\]]{1,40}") {
            let href = href_for_content_id(&id);
            prop_assert!(href.bytes().all(|b| b.is_ascii_graphic()));
            prop_assert_eq!(content_id_from_href(&href).unwrap(), id);
        }
    }
}
