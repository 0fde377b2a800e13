//! Request bodies that carry secrets — the session's SAML assertion (a
//! bearer token), a password, a code de présence, an activation code — and
//! the XML trees they are written from, wiped once they are no longer
//! needed.
//!
//! - A tree is serialized into one buffer allocated at its final size up
//!   front ([`serialized_len_bound`]), so that no reallocation leaves a
//!   partial copy behind in freed memory; the tree is then wiped
//!   ([`wipe`]) and the buffer is a [`SecretBody`], zeroized on drop.
//! - The HTTP client gets the buffer as [`bytes::Bytes`] that own it
//!   ([`bytes::Bytes::from_owner`]): hyper's last reference dropping after
//!   the request was written is what zeroizes it, not a copy that outlives
//!   the call.
//!
//! - hyper does not copy it either: over rustls the connection writes
//!   vectored (tokio-rustls says so, reqwest's and hyper-util's wrappers
//!   pass it on), so hyper queues the `Bytes` instead of flattening them
//!   into its own header buffer (hyper 1.x `WriteStrategy::Queue`).
//!
//! What this does not reach: rustls copies the plaintext into its record
//! buffers and encrypts it there in place (what stays is ciphertext); the
//! card-signed requests are canonicalized inside `ihe::wssec` (C14N
//! strings it does not wipe); a request whose MTOM layout is refused drops
//! its envelope unwiped; and the strings the caller passed in are the
//! caller's to wipe (the secret types of `dspconnect::model` zeroize
//! themselves; the session's `Assertion` keeps the assertion it is given).

use ihe::soap::Envelope;
use ihe::xml::{Element, Node, NsScope};
use zeroize::{Zeroize, Zeroizing};

/// The XML declaration `to_document` writes.
const XML_DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>";

/// A serialized request body holding secrets: zeroized on drop, wherever
/// the last reference to it is dropped.
pub struct SecretBody(Zeroizing<Vec<u8>>);

impl std::fmt::Debug for SecretBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretBody({} bytes)", self.0.len())
    }
}

impl SecretBody {
    /// The envelope as a document; every string of its tree is wiped.
    pub fn of_envelope(envelope: Envelope) -> SecretBody {
        SecretBody::of_element(envelope.into_element())
    }

    /// The tree as a document (with the XML declaration); the tree is
    /// wiped.
    pub fn of_element(mut tree: Element) -> SecretBody {
        let bound = XML_DECLARATION.len() + serialized_len_bound(&tree);
        let mut out = Zeroizing::new(String::with_capacity(bound));
        let capacity = out.capacity();
        out.push_str(XML_DECLARATION);
        ihe::xml::write_in_scope(&tree, &NsScope::new(), &mut out);
        wipe(&mut tree);
        // The bound is an upper bound by construction; were it ever wrong,
        // the write would have reallocated and left a copy behind.
        debug_assert_eq!(out.capacity(), capacity, "the size bound was exceeded");
        // Moved out without a copy: the String's buffer becomes the Vec's.
        SecretBody(Zeroizing::new(std::mem::take(&mut *out).into_bytes()))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The buffer itself, still zeroizing (for the MTOM root part).
    pub fn into_zeroizing(self) -> Zeroizing<Vec<u8>> {
        self.0
    }

    /// The body for the HTTP client: `Bytes` owning the zeroizing buffer.
    pub fn into_bytes(self) -> bytes::Bytes {
        zeroizing_bytes(self.0)
    }
}

impl From<SecretBody> for reqwest::Body {
    fn from(body: SecretBody) -> reqwest::Body {
        reqwest::Body::from(body.into_bytes())
    }
}

/// `Bytes` that own `buffer` and zeroize it when their last clone drops.
pub fn zeroizing_bytes(buffer: Zeroizing<Vec<u8>>) -> bytes::Bytes {
    bytes::Bytes::from_owner(ZeroizingOwner(buffer))
}

struct ZeroizingOwner(Zeroizing<Vec<u8>>);

impl AsRef<[u8]> for ZeroizingOwner {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// Zeroizes every string of the tree: names, namespaces, attribute values
/// and text.
pub fn wipe(el: &mut Element) {
    el.prefix.zeroize();
    el.local.zeroize();
    el.ns.zeroize();
    for decl in &mut el.ns_decls {
        decl.prefix.zeroize();
        decl.uri.zeroize();
    }
    for attr in &mut el.attrs {
        attr.prefix.zeroize();
        attr.local.zeroize();
        attr.ns.zeroize();
        attr.value.zeroize();
    }
    for child in &mut el.children {
        match child {
            Node::Element(child) => wipe(child),
            Node::Text(text) => text.zeroize(),
        }
    }
}

/// The length of `s` escaped as text or as an attribute value (the larger
/// of C14N's two escapings, character by character).
fn escaped_len(s: &str) -> usize {
    s.len()
        + s.bytes()
            .map(|b| match b {
                b'&' => 4,                  // &amp;
                b'<' | b'>' => 3,           // &lt; &gt;
                b'"' => 5,                  // &quot;
                b'\t' | b'\n' | b'\r' => 4, // &#x9; &#xA; &#xD;
                _ => 0,
            })
            .sum::<usize>()
}

/// An upper bound of the length `ihe::xml::write_in_scope` writes for `el`
/// from an empty scope: tags, attributes, text (escaped), and one
/// namespace declaration for each namespace the element, its declarations
/// and its attributes may need.
pub fn serialized_len_bound(el: &Element) -> usize {
    let prefix_len = |p: &Option<String>| p.as_deref().map_or(0, |p| p.len() + 1);
    let qname = prefix_len(&el.prefix) + el.local.len();
    // `<q` `>` `</q>`
    let mut total = 2 * qname + 5;
    // ` xmlns:p="uri"` at most once per source of a binding.
    let decl = |prefix: Option<&str>, uri: &str| {
        " xmlns:".len() + prefix.map_or(0, str::len) + 2 + escaped_len(uri) + 1
    };
    for d in &el.ns_decls {
        total += decl(d.prefix.as_deref(), &d.uri);
    }
    total += decl(el.prefix.as_deref(), el.ns.as_deref().unwrap_or(""));
    for a in &el.attrs {
        total += decl(a.prefix.as_deref(), a.ns.as_deref().unwrap_or(""));
        // ` p:l="value"`
        total += 1 + prefix_len(&a.prefix) + a.local.len() + 2 + escaped_len(&a.value) + 1;
    }
    for child in &el.children {
        total += match child {
            Node::Element(c) => serialized_len_bound(c),
            Node::Text(t) => escaped_len(t),
        };
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use ihe::soap::Addressing;
    use ihe::xml::ns;

    fn secret_envelope() -> Envelope {
        let wsse = |local: &str| Element::new(ns::WSSE, "wsse", local);
        Envelope::new(
            Element::new(
                "urn:dspconnect:sandbox:dsp:1",
                "dsp",
                "PresenceCodeAccessRequest",
            )
            .with_child(
                Element::new("urn:dspconnect:sandbox:dsp:1", "dsp", "PresenceCode")
                    .with_text("K7P-93QX"),
            ),
        )
        .with_headers(
            Addressing::request("urn:x:y", uuid::Uuid::new_v4(), "https://h/p").to_headers(),
        )
        .with_header(
            wsse("Security")
                .with_attr_ns(ns::SOAP12, "soap", "mustUnderstand", "true")
                .with_child(
                    wsse("UsernameToken").with_child(
                        wsse("Password")
                            .with_attr("Type", "a&b<\"c\"\t>")
                            .with_text("s3cret & <more>\r\n"),
                    ),
                ),
        )
    }

    #[test]
    fn the_body_is_the_documents_bytes_written_without_reallocating() {
        let envelope = secret_envelope();
        let expected = envelope.to_bytes();
        let body = SecretBody::of_envelope(envelope);
        assert_eq!(body.as_bytes(), &expected[..]);
        // The buffer is still the one allocated at the bound: a write that
        // outgrew it would have doubled its capacity (and left the first
        // buffer's bytes behind in freed memory). The bound is not wildly
        // above the real size either.
        let bound = XML_DECLARATION.len() + serialized_len_bound(&secret_envelope().into_element());
        assert_eq!(body.0.capacity(), bound);
        assert!(
            bound >= expected.len() && bound < 4 * expected.len(),
            "{bound}"
        );
    }

    #[test]
    fn the_bound_holds_for_trees_full_of_escapes_and_namespaces() {
        let mut el = Element::new("urn:a&\"<", "a", "r");
        for i in 0..20 {
            el.push(
                Element::new(&format!("urn:n{i}\t"), &format!("p{i}"), "c")
                    .with_attr_ns(
                        &format!("urn:q{i}"),
                        &format!("q{i}"),
                        "x",
                        "\"\"\n\r&&<<>>",
                    )
                    .with_text("<>&\r".repeat(i)),
            );
        }
        let written = ihe::xml::to_string(&el);
        assert!(serialized_len_bound(&el) >= written.len());
        let body = SecretBody::of_element(el);
        assert_eq!(
            &body.as_bytes()[XML_DECLARATION.len()..],
            written.as_bytes()
        );
    }

    #[test]
    fn wiping_leaves_no_string_of_the_tree() {
        let mut tree = secret_envelope().into_element();
        wipe(&mut tree);
        let mut strings = Vec::new();
        fn collect(el: &Element, out: &mut Vec<String>) {
            out.extend(el.prefix.clone());
            out.push(el.local.clone());
            out.extend(el.ns.clone());
            for a in &el.attrs {
                out.push(a.value.clone());
                out.push(a.local.clone());
            }
            for c in &el.children {
                match c {
                    Node::Element(c) => collect(c, out),
                    Node::Text(t) => out.push(t.clone()),
                }
            }
        }
        collect(&tree, &mut strings);
        assert!(strings.iter().all(String::is_empty), "{strings:?}");
    }

    /// The body handed to the HTTP client owns the zeroizing buffer: the
    /// `Bytes` point into it (no copy was made), and dropping the last
    /// reference runs the buffer's zeroizing drop (observed through a
    /// drop flag on an owner of the same kind).
    #[test]
    fn the_http_body_owns_the_zeroizing_buffer_without_a_copy() {
        let body = SecretBody::of_envelope(secret_envelope());
        let address = body.as_bytes().as_ptr();
        let length = body.len();
        let bytes = body.into_bytes();
        assert_eq!(bytes.as_ptr(), address, "the body was copied");
        assert_eq!(bytes.len(), length);
        let clone = bytes.clone();
        assert_eq!(clone.as_ptr(), address);

        struct Flagged(
            Zeroizing<Vec<u8>>,
            std::sync::Arc<std::sync::atomic::AtomicBool>,
        );
        impl AsRef<[u8]> for Flagged {
            fn as_ref(&self) -> &[u8] {
                &self.0
            }
        }
        impl Drop for Flagged {
            fn drop(&mut self) {
                self.1.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
        let dropped = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let owned =
            bytes::Bytes::from_owner(Flagged(Zeroizing::new(vec![1, 2, 3]), dropped.clone()));
        let second = owned.clone();
        drop(owned);
        assert!(!dropped.load(std::sync::atomic::Ordering::SeqCst));
        drop(second);
        assert!(dropped.load(std::sync::atomic::Ordering::SeqCst));
    }
}
