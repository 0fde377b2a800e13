//! Serializing an [`Element`] tree as a document.
//!
//! The output is canonical by construction wherever it can be: start/end
//! tag pairs, C14N escaping, declarations sorted and written where first
//! needed (or where declared explicitly), attributes in C14N order. So the
//! exclusive canonical form of any subtree of what we write differs from the
//! written bytes only by the namespace declarations it inherits.

use super::c14n::{NsScope, escape_attr, escape_text};
use super::dom::{Element, Node};

/// The element as a document (no XML declaration).
pub fn to_string(el: &Element) -> String {
    let mut out = String::new();
    write_element(el, &NsScope::new(), &mut out);
    out
}

/// The element as a document with an XML declaration, in UTF-8.
pub fn to_document(el: &Element) -> Vec<u8> {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    write_element(el, &NsScope::new(), &mut out);
    out.into_bytes()
}

/// Writes `el` as it appears inside a parent whose in-scope (written)
/// namespaces are `scope`.
pub fn write_in_scope(el: &Element, scope: &NsScope, out: &mut String) {
    write_element(el, scope, out);
}

fn write_element(el: &Element, written: &NsScope, out: &mut String) {
    let mut scope = written.clone();
    let mut decls: Vec<(String, String)> = Vec::new();
    let mut need = |p: &str, u: &str, scope: &mut NsScope| {
        let current = scope.lookup(p);
        let missing = if p.is_empty() && u.is_empty() {
            matches!(current, Some(v) if !v.is_empty())
        } else {
            current != Some(u)
        };
        if missing {
            scope.bind(p, u);
            decls.retain(|(q, _)| q != p);
            decls.push((p.to_owned(), u.to_owned()));
        }
    };
    for d in &el.ns_decls {
        need(d.prefix.as_deref().unwrap_or(""), &d.uri, &mut scope);
    }
    need(
        el.prefix.as_deref().unwrap_or(""),
        el.ns.as_deref().unwrap_or(""),
        &mut scope,
    );
    for a in &el.attrs {
        if let (Some(p), Some(u)) = (a.prefix.as_deref(), a.ns.as_deref())
            && p != "xml"
        {
            need(p, u, &mut scope);
        }
    }
    decls.sort();

    let qname = el.qname();
    out.push('<');
    out.push_str(&qname);
    for (p, u) in &decls {
        if p.is_empty() {
            out.push_str(" xmlns=\"");
        } else {
            out.push_str(" xmlns:");
            out.push_str(p);
            out.push_str("=\"");
        }
        escape_attr(u, out);
        out.push('"');
    }
    let mut attrs: Vec<_> = el.attrs.iter().collect();
    attrs.sort_by(|a, b| {
        (a.ns.as_deref().unwrap_or(""), a.local.as_str())
            .cmp(&(b.ns.as_deref().unwrap_or(""), b.local.as_str()))
    });
    for a in attrs {
        out.push(' ');
        out.push_str(&a.qname());
        out.push_str("=\"");
        escape_attr(&a.value, out);
        out.push('"');
    }
    out.push('>');
    for child in &el.children {
        match child {
            Node::Element(c) => write_element(c, &scope, out),
            Node::Text(t) => escape_text(t, out),
        }
    }
    out.push_str("</");
    out.push_str(&qname);
    out.push('>');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{ParseLimits, exclusive_c14n, parse};
    use proptest::prelude::*;

    #[test]
    fn declares_namespaces_where_first_needed() {
        let el = Element::new("urn:s", "s", "Envelope").with_child(
            Element::new("urn:s", "s", "Body").with_child(
                Element::new("urn:x", "x", "a").with_attr_ns("urn:u", "u", "Id", "i&<\""),
            ),
        );
        assert_eq!(
            to_string(&el),
            r#"<s:Envelope xmlns:s="urn:s"><s:Body><x:a xmlns:u="urn:u" xmlns:x="urn:x" u:Id="i&amp;&lt;&quot;"></x:a></s:Body></s:Envelope>"#
        );
    }

    #[test]
    fn unqualified_child_of_default_namespace_gets_xmlns_empty() {
        let el = Element::new("urn:d", "", "a").with_child(Element::unqualified("b"));
        let s = to_string(&el);
        assert_eq!(s, r#"<a xmlns="urn:d"><b xmlns=""></b></a>"#);
        let back = parse(s.as_bytes(), &ParseLimits::default()).unwrap();
        assert_eq!(back.elements().next().unwrap().ns, None);
    }

    fn arb_name() -> impl Strategy<Value = String> {
        "[a-z][a-z0-9]{0,5}"
    }

    fn arb_element() -> impl Strategy<Value = Element> {
        let leaf = (
            prop::sample::select(vec!["", "p", "q", "r"]),
            prop::sample::select(vec!["urn:1", "urn:2", "urn:3"]),
            arb_name(),
            prop::collection::vec((arb_name(), "[ -~\t\n\u{e9}]{0,8}"), 0..3),
            prop::collection::vec((prop::sample::select(vec!["p", "q"]), arb_name()), 0..2),
            "[ -~\t\n\u{e9}]{0,8}",
        )
            .prop_map(|(prefix, ns, local, attrs, nsattrs, text)| {
                let mut e = Element::new(ns, prefix, &local);
                for (n, v) in attrs {
                    e.set_attr(&n, v);
                }
                for (p, n) in nsattrs {
                    let uri = if p == "p" { "urn:p" } else { "urn:q" };
                    // a prefix already used for another URI on this element
                    // would make the element unwritable; skip that case
                    if e.prefix.as_deref() != Some(p) {
                        e.set_attr_ns(uri, p, &n, "v");
                    }
                }
                if !text.is_empty() {
                    e.push_text(text);
                }
                e
            });
        leaf.prop_recursive(4, 24, 4, |inner| {
            (inner.clone(), prop::collection::vec(inner, 0..4)).prop_map(|(mut e, kids)| {
                for k in kids {
                    e.push(k);
                }
                e
            })
        })
    }

    proptest! {
        /// What we write parses back to a tree with the same canonical form,
        /// for every subtree: the invariant signing relies on.
        #[test]
        fn written_trees_keep_their_canonical_form(el in arb_element()) {
            let text = to_string(&el);
            let back = parse(text.as_bytes(), &ParseLimits::default()).unwrap();
            let a = exclusive_c14n(&el, &NsScope::new(), &[]);
            let b = exclusive_c14n(&back, &NsScope::new(), &[]);
            prop_assert_eq!(String::from_utf8(a).unwrap(), String::from_utf8(b).unwrap());
            // And the first child's canonical form is the same in both trees.
            if let (Some(x), Some(y)) = (el.elements().next(), back.elements().next()) {
                let a = exclusive_c14n(x, &NsScope::new().inside(&el), &[]);
                let b = exclusive_c14n(y, &NsScope::new().inside(&back), &[]);
                prop_assert_eq!(a, b);
            }
        }
    }
}
