//! Exclusive XML Canonicalization 1.0, without comments
//! (<http://www.w3.org/2001/10/xml-exc-c14n#>), over whole subtrees of
//! our [`Element`] tree.
//!
//! This is the one canonicalization used both to *make* signatures (over
//! trees we built) and to *check* them (over trees we parsed). It covers
//! the subset of the recommendation that signed SOAP and SAML messages use:
//! a document subset that is one element and all its descendants (what a
//! same-document `#id` reference selects, minus an enveloped signature),
//! with an optional InclusiveNamespaces PrefixList. Node-sets selected by
//! XPath are not supported; the verifier refuses transforms that would need
//! them.
//!
//! Rules implemented (Exc-C14N §3 and C14N 1.0 §2.3):
//! - no XML declaration, no DTD, comments removed;
//! - elements as start/end tag pairs, never `<a/>`;
//! - on each element, the namespace declarations that the element or its
//!   attributes *visibly utilize* (plus those named in the PrefixList, from
//!   the in-scope bindings), unless the nearest output ancestor already
//!   rendered the same binding; `xmlns=""` only where an output ancestor
//!   rendered a non-empty default namespace;
//! - declarations sorted by prefix (default first), then attributes sorted by
//!   namespace URI and local name (unqualified first);
//! - text escaped as `&amp; &lt; &gt; &#xD;`, attribute values as
//!   `&amp; &lt; &quot; &#x9; &#xA; &#xD;`;
//! - `xml:*` attributes are ordinary attributes; they are not inherited
//!   (exclusive C14N).

use super::dom::{Element, Node};

/// In-scope namespace bindings: prefix (`""` for the default namespace) to
/// URI (`""` for "no default namespace").
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NsScope {
    bindings: Vec<(String, String)>,
}

impl NsScope {
    /// No bindings (the scope of a document's root element's parent).
    pub fn new() -> Self {
        NsScope::default()
    }

    /// The URI bound to `prefix` (`""` = the default namespace).
    pub fn lookup(&self, prefix: &str) -> Option<&str> {
        self.bindings
            .iter()
            .rev()
            .find(|(p, _)| p == prefix)
            .map(|(_, u)| u.as_str())
    }

    /// Adds a binding, shadowing an earlier one for the same prefix.
    pub fn bind(&mut self, prefix: &str, uri: &str) {
        if self.lookup(prefix) != Some(uri) {
            self.bindings.push((prefix.to_owned(), uri.to_owned()));
        }
    }

    /// Every prefix bound here with its current URI (shadowed bindings
    /// removed), sorted by prefix.
    pub fn effective(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for (p, u) in self.bindings.iter().rev() {
            if !out.iter().any(|(q, _)| q == p) {
                out.push((p.clone(), u.clone()));
            }
        }
        out.sort();
        out
    }

    /// The scope inside `el`: this scope plus `el`'s declarations and the
    /// bindings its own name and attribute names imply.
    pub fn inside(&self, el: &Element) -> NsScope {
        let mut s = self.clone();
        for d in &el.ns_decls {
            s.bind(d.prefix.as_deref().unwrap_or(""), &d.uri);
        }
        s.bind(
            el.prefix.as_deref().unwrap_or(""),
            el.ns.as_deref().unwrap_or(""),
        );
        for a in &el.attrs {
            if let (Some(p), Some(u)) = (a.prefix.as_deref(), a.ns.as_deref())
                && p != "xml"
            {
                s.bind(p, u);
            }
        }
        s
    }
}

/// Canonicalizes `el` and its descendants. `parent_scope` is the namespace
/// scope of `el`'s parent in its document (what it inherits);
/// `inclusive_prefixes` is the InclusiveNamespaces PrefixList (`#default`
/// for the default namespace).
pub fn exclusive_c14n(
    el: &Element,
    parent_scope: &NsScope,
    inclusive_prefixes: &[String],
) -> Vec<u8> {
    let mut out = String::new();
    let rendered = NsScope::new();
    write_element(el, parent_scope, &rendered, inclusive_prefixes, &mut out);
    out.into_bytes()
}

fn write_element(
    el: &Element,
    parent_scope: &NsScope,
    rendered: &NsScope,
    inclusive: &[String],
    out: &mut String,
) {
    let scope = parent_scope.inside(el);

    // Candidate namespace nodes: visibly utilized, then the PrefixList.
    let mut candidates: Vec<(String, String)> = Vec::new();
    let mut add = |p: &str, u: &str| {
        if !candidates.iter().any(|(q, _)| q == p) {
            candidates.push((p.to_owned(), u.to_owned()));
        }
    };
    add(
        el.prefix.as_deref().unwrap_or(""),
        el.ns.as_deref().unwrap_or(""),
    );
    for a in &el.attrs {
        if let (Some(p), Some(u)) = (a.prefix.as_deref(), a.ns.as_deref())
            && p != "xml"
        {
            add(p, u);
        }
    }
    for q in inclusive {
        let p = if q == "#default" { "" } else { q.as_str() };
        if let Some(u) = scope.lookup(p) {
            add(p, u);
        }
    }

    let mut now_rendered = rendered.clone();
    let mut decls: Vec<(String, String)> = Vec::new();
    for (p, u) in candidates {
        let prev = rendered.lookup(&p);
        let render = if p.is_empty() && u.is_empty() {
            matches!(prev, Some(v) if !v.is_empty())
        } else {
            prev != Some(u.as_str())
        };
        if render {
            now_rendered.bind(&p, &u);
            decls.push((p, u));
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
            Node::Element(c) => write_element(c, &scope, &now_rendered, inclusive, out),
            Node::Text(t) => escape_text(t, out),
        }
    }
    out.push_str("</");
    out.push_str(&qname);
    out.push('>');
}

/// Escapes character data as C14N does.
pub fn escape_text(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

/// Escapes an attribute value as C14N does.
pub fn escape_attr(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{ParseLimits, parse};

    fn c14n_of(doc: &str, path: &[usize], inclusive: &[&str]) -> String {
        let root = parse(doc.as_bytes(), &ParseLimits::default()).unwrap();
        let mut scope = NsScope::new();
        let mut el = &root;
        for &i in path {
            scope = scope.inside(el);
            el = el.elements().nth(i).unwrap();
        }
        let inc: Vec<String> = inclusive.iter().map(|s| s.to_string()).collect();
        String::from_utf8(exclusive_c14n(el, &scope, &inc)).unwrap()
    }

    #[test]
    fn renders_only_visibly_utilized_namespaces() {
        let doc = r#"<s:Envelope xmlns:s="urn:s" xmlns:u="urn:u" xmlns:x="urn:x"><s:Body u:Id="b"><x:a/><y/></s:Body></s:Envelope>"#;
        assert_eq!(
            c14n_of(doc, &[0], &[]),
            r#"<s:Body xmlns:s="urn:s" xmlns:u="urn:u" u:Id="b"><x:a xmlns:x="urn:x"></x:a><y></y></s:Body>"#
        );
    }

    #[test]
    fn inclusive_prefix_list_renders_declarations_used_in_values() {
        let doc = r#"<p:R xmlns:p="urn:p" xmlns:xs="urn:xs" xmlns:xsi="urn:xsi"><p:A><p:V xsi:type="xs:string">v</p:V></p:A></p:R>"#;
        assert_eq!(
            c14n_of(doc, &[0], &["xs"]),
            r#"<p:A xmlns:p="urn:p" xmlns:xs="urn:xs"><p:V xmlns:xsi="urn:xsi" xsi:type="xs:string">v</p:V></p:A>"#
        );
    }

    #[test]
    fn sorts_attributes_by_namespace_then_name() {
        let doc = r#"<a xmlns:b="urn:b" xmlns:c="urn:a" z="1" b:y="2" c:x="3" a="4"></a>"#;
        assert_eq!(
            c14n_of(doc, &[], &[]),
            r#"<a xmlns:b="urn:b" xmlns:c="urn:a" a="4" z="1" c:x="3" b:y="2"></a>"#
        );
    }

    #[test]
    fn escapes_text_and_attributes() {
        let doc = "<a v=\"&lt;&amp;&quot;&#9;&#10;&#13;>\">&lt;&amp;&gt;&#13;\"'</a>";
        assert_eq!(
            c14n_of(doc, &[], &[]),
            "<a v=\"&lt;&amp;&quot;&#x9;&#xA;&#xD;>\">&lt;&amp;&gt;&#xD;\"'</a>"
        );
    }

    #[test]
    fn default_namespace_undeclared_only_under_a_rendered_default() {
        let doc = r#"<a xmlns="urn:d"><b xmlns=""><c/></b></a>"#;
        assert_eq!(
            c14n_of(doc, &[], &[]),
            r#"<a xmlns="urn:d"><b xmlns=""><c></c></b></a>"#
        );
        // As the apex, <b> has no output ancestor: no xmlns="" needed.
        assert_eq!(c14n_of(doc, &[0], &[]), r#"<b><c></c></b>"#);
    }

    #[test]
    fn redeclaration_with_another_uri_is_rendered() {
        let doc = r#"<p:a xmlns:p="urn:1"><p:b xmlns:p="urn:2"><p:c xmlns:p="urn:1"/></p:b></p:a>"#;
        assert_eq!(
            c14n_of(doc, &[], &[]),
            r#"<p:a xmlns:p="urn:1"><p:b xmlns:p="urn:2"><p:c xmlns:p="urn:1"></p:c></p:b></p:a>"#
        );
    }

    #[test]
    fn inherited_default_namespace_is_rendered_on_apex() {
        let doc = r#"<r xmlns="urn:d"><a><b/></a></r>"#;
        assert_eq!(c14n_of(doc, &[0], &[]), r#"<a xmlns="urn:d"><b></b></a>"#);
    }
}
