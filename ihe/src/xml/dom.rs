//! A small owned XML tree: what every reader in this crate works on, and
//! what every writer builds before serializing.
//!
//! It keeps exactly what exclusive C14N needs (namespace URIs *and* the
//! prefixes and declarations as written, attribute values after XML
//! normalization, all text including whitespace) and drops what we never
//! accept on the wire (comments are removed, as exclusive C14N without
//! comments does; DTDs and processing instructions are refused by the
//! parser).

use std::fmt;

/// A namespace declaration as written on an element (`xmlns="…"` has
/// `prefix: None`; `xmlns=""` undeclares the default namespace).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NsDecl {
    pub prefix: Option<String>,
    pub uri: String,
}

/// An attribute other than a namespace declaration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribute {
    pub prefix: Option<String>,
    pub local: String,
    /// Namespace URI; `None` for unprefixed attributes (which never take the
    /// default namespace).
    pub ns: Option<String>,
    /// The value after attribute-value normalization and entity expansion.
    pub value: String,
}

impl Attribute {
    /// The name as written (`prefix:local` or `local`).
    pub fn qname(&self) -> String {
        qualified(self.prefix.as_deref(), &self.local)
    }
}

/// A child of an element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    Element(Element),
    /// Character data (CDATA sections are folded into text, as C14N does).
    Text(String),
}

/// An element with its namespace, declarations, attributes and children.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Element {
    pub prefix: Option<String>,
    pub local: String,
    /// Namespace URI of the element; `None` when it is in no namespace.
    pub ns: Option<String>,
    /// Declarations written on this element, in document order.
    pub ns_decls: Vec<NsDecl>,
    pub attrs: Vec<Attribute>,
    pub children: Vec<Node>,
}

impl zeroize::Zeroize for Element {
    /// Overwrites every string of the tree (names, namespaces, attribute
    /// values, text) with zeros: for trees that carried a bearer token or
    /// another secret.
    fn zeroize(&mut self) {
        self.prefix.zeroize();
        self.local.zeroize();
        self.ns.zeroize();
        for decl in &mut self.ns_decls {
            decl.prefix.zeroize();
            decl.uri.zeroize();
        }
        for attr in &mut self.attrs {
            attr.prefix.zeroize();
            attr.local.zeroize();
            attr.ns.zeroize();
            attr.value.zeroize();
        }
        for child in &mut self.children {
            match child {
                Node::Element(child) => child.zeroize(),
                Node::Text(text) => text.zeroize(),
            }
        }
    }
}

pub(crate) fn qualified(prefix: Option<&str>, local: &str) -> String {
    match prefix {
        Some(p) => format!("{p}:{local}"),
        None => local.to_owned(),
    }
}

impl Element {
    /// An element in namespace `ns`, written with `prefix` (an empty prefix
    /// means the default namespace). The declaration is added by the writer
    /// where it is first needed.
    pub fn new(ns: &str, prefix: &str, local: &str) -> Self {
        Element {
            prefix: (!prefix.is_empty()).then(|| prefix.to_owned()),
            local: local.to_owned(),
            ns: Some(ns.to_owned()),
            ns_decls: Vec::new(),
            attrs: Vec::new(),
            children: Vec::new(),
        }
    }

    /// An element in no namespace.
    pub fn unqualified(local: &str) -> Self {
        Element {
            prefix: None,
            local: local.to_owned(),
            ns: None,
            ns_decls: Vec::new(),
            attrs: Vec::new(),
            children: Vec::new(),
        }
    }

    /// The name as written (`prefix:local` or `local`).
    pub fn qname(&self) -> String {
        qualified(self.prefix.as_deref(), &self.local)
    }

    /// True when this element is `{ns}local`.
    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.local == local && self.ns.as_deref() == Some(ns)
    }

    // ------------------------------------------------------------ building

    /// Adds (or replaces) an unprefixed attribute.
    pub fn set_attr(&mut self, local: &str, value: impl Into<String>) -> &mut Self {
        let value = value.into();
        match self
            .attrs
            .iter_mut()
            .find(|a| a.ns.is_none() && a.local == local)
        {
            Some(a) => a.value = value,
            None => self.attrs.push(Attribute {
                prefix: None,
                local: local.to_owned(),
                ns: None,
                value,
            }),
        }
        self
    }

    /// Adds (or replaces) a namespaced attribute written as `prefix:local`.
    pub fn set_attr_ns(
        &mut self,
        ns: &str,
        prefix: &str,
        local: &str,
        value: impl Into<String>,
    ) -> &mut Self {
        let value = value.into();
        match self
            .attrs
            .iter_mut()
            .find(|a| a.ns.as_deref() == Some(ns) && a.local == local)
        {
            Some(a) => a.value = value,
            None => self.attrs.push(Attribute {
                prefix: Some(prefix.to_owned()),
                local: local.to_owned(),
                ns: Some(ns.to_owned()),
                value,
            }),
        }
        self
    }

    /// Declares a namespace on this element even where no name uses it
    /// (for QNames inside attribute values, such as `xsi:type="xs:string"`).
    pub fn declare(&mut self, prefix: &str, uri: &str) -> &mut Self {
        let prefix = (!prefix.is_empty()).then(|| prefix.to_owned());
        match self.ns_decls.iter_mut().find(|d| d.prefix == prefix) {
            Some(d) => d.uri = uri.to_owned(),
            None => self.ns_decls.push(NsDecl {
                prefix,
                uri: uri.to_owned(),
            }),
        }
        self
    }

    pub fn push(&mut self, child: Element) -> &mut Self {
        self.children.push(Node::Element(child));
        self
    }

    pub fn push_text(&mut self, text: impl Into<String>) -> &mut Self {
        self.children.push(Node::Text(text.into()));
        self
    }

    /// Builder form of [`Element::set_attr`].
    pub fn with_attr(mut self, local: &str, value: impl Into<String>) -> Self {
        self.set_attr(local, value);
        self
    }

    /// Builder form of [`Element::set_attr_ns`].
    pub fn with_attr_ns(
        mut self,
        ns: &str,
        prefix: &str,
        local: &str,
        value: impl Into<String>,
    ) -> Self {
        self.set_attr_ns(ns, prefix, local, value);
        self
    }

    /// Builder form of [`Element::declare`].
    pub fn with_decl(mut self, prefix: &str, uri: &str) -> Self {
        self.declare(prefix, uri);
        self
    }

    /// Builder form of [`Element::push`].
    pub fn with_child(mut self, child: Element) -> Self {
        self.push(child);
        self
    }

    /// Builder form of [`Element::push_text`].
    pub fn with_text(mut self, text: impl Into<String>) -> Self {
        self.push_text(text);
        self
    }

    // ------------------------------------------------------------ reading

    /// Value of the unprefixed attribute `local`.
    pub fn attr(&self, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.ns.is_none() && a.local == local)
            .map(|a| a.value.as_str())
    }

    /// Value of the attribute `{ns}local`.
    pub fn attr_ns(&self, ns: &str, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.ns.as_deref() == Some(ns) && a.local == local)
            .map(|a| a.value.as_str())
    }

    /// Child elements, in order.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// Mutable child elements, in order.
    pub fn elements_mut(&mut self) -> impl Iterator<Item = &mut Element> {
        self.children.iter_mut().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// Child elements named `{ns}local`.
    pub fn children_named<'a>(
        &'a self,
        ns: &'a str,
        local: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.elements().filter(move |e| e.is(ns, local))
    }

    /// The first child element named `{ns}local`.
    pub fn child(&self, ns: &str, local: &str) -> Option<&Element> {
        self.elements().find(|e| e.is(ns, local))
    }

    /// The concatenated text of the direct text children.
    pub fn text(&self) -> String {
        let mut s = String::new();
        for n in &self.children {
            if let Node::Text(t) = n {
                s.push_str(t);
            }
        }
        s
    }

    /// True when the element has child elements or non-whitespace text.
    pub fn has_content(&self) -> bool {
        self.children.iter().any(|n| match n {
            Node::Element(_) => true,
            Node::Text(t) => !t.trim().is_empty(),
        })
    }

    /// All descendant elements (not `self`), depth first, in document order.
    pub fn descendants(&self) -> Descendants<'_> {
        Descendants {
            stack: vec![self.children.iter()],
        }
    }

    /// Number of elements in this subtree, `self` included.
    pub fn element_count(&self) -> usize {
        1 + self.descendants().count()
    }
}

/// Iterator over descendant elements, depth first.
pub struct Descendants<'a> {
    stack: Vec<std::slice::Iter<'a, Node>>,
}

impl<'a> Iterator for Descendants<'a> {
    type Item = &'a Element;
    fn next(&mut self) -> Option<&'a Element> {
        loop {
            let top = self.stack.last_mut()?;
            match top.next() {
                Some(Node::Element(e)) => {
                    self.stack.push(e.children.iter());
                    return Some(e);
                }
                Some(Node::Text(_)) => continue,
                None => {
                    self.stack.pop();
                }
            }
        }
    }
}

impl fmt::Display for Element {
    /// The element as a standalone XML fragment (see [`crate::xml::to_string`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::xml::write::to_string(self))
    }
}

#[cfg(test)]
mod tests {
    use zeroize::Zeroize;

    use crate::xml::{ParseLimits, parse};

    #[test]
    fn zeroize_leaves_no_string_of_the_tree() {
        let mut tree = parse(
            br#"<a:Assertion xmlns:a="urn:x" ID="secret-id"><a:NameID>2854201475</a:NameID><b x="token"/></a:Assertion>"#,
            &ParseLimits::SOAP,
        )
        .unwrap();
        tree.zeroize();
        let debug = format!("{tree:?}");
        for secret in [
            "secret-id",
            "2854201475",
            "token",
            "urn:x",
            "Assertion",
            "NameID",
        ] {
            assert!(!debug.contains(secret), "{secret} survived: {debug}");
        }
    }
}
