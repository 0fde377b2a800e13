//! Checking signatures: parsing `ds:Signature` within the subset described
//! in [`crate::dsig`], resolving `#id` references without ambiguity, and
//! checking digests and the signature value. Callers decide which elements
//! the references must designate and where those must sit.

use std::collections::HashMap;

use super::{
    ALG_ENVELOPED_SIGNATURE, ALG_EXC_C14N, ALG_SHA256, CertificateError, CertificateKey,
    Sha256Digest, SignatureAlgorithm, decode_base64_xml, sha256,
};
use crate::xml::{Attribute, Element, Node, NsScope, exclusive_c14n, ns};

/// Why a signature is refused. Each refusal has its own variant.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DsigError {
    #[error("ds:Signature is malformed: {problem}")]
    MalformedSignature { problem: String },
    #[error(
        "canonicalization '{algorithm}' is not accepted; SignedInfo must use exclusive C14N \
         ({ALG_EXC_C14N})"
    )]
    UnsupportedCanonicalization { algorithm: String },
    #[error("signature method '{algorithm}' is not accepted; use rsa-sha256 or ecdsa-sha256")]
    UnsupportedSignatureMethod { algorithm: String },
    #[error("digest method '{algorithm}' is not accepted; use SHA-256 ({ALG_SHA256})")]
    UnsupportedDigestMethod { algorithm: String },
    #[error(
        "the transforms {algorithms:?} are not accepted; a reference must use exactly \
         [exc-c14n] or [enveloped-signature, exc-c14n]"
    )]
    UnsupportedTransforms { algorithms: Vec<String> },
    #[error("reference URI '{uri}' is not accepted; only same-document '#id' references are")]
    UnsupportedReferenceUri { uri: String },
    #[error("{field} is not valid base64")]
    InvalidBase64 { field: &'static str },
    #[error("the DigestValue of reference '#{id}' is {length} bytes; SHA-256 gives 32")]
    DigestValueLength { id: String, length: usize },
    #[error(
        "the ID '{id}' is carried more than once in the document; references would be ambiguous"
    )]
    DuplicateId { id: String },
    #[error("reference '#{id}' designates no element of the document")]
    UnresolvedReference { id: String },
    #[error("the digest of reference '#{id}' does not match: the signed element was changed")]
    DigestMismatch { id: String },
    #[error("the signing certificate cannot be used: {0}")]
    Certificate(#[from] CertificateError),
    #[error("the signature method is {method} but the certificate's key is for {key}")]
    KeyAlgorithmMismatch {
        method: SignatureAlgorithm,
        key: SignatureAlgorithm,
    },
    #[error("the {algorithm} signature value does not verify with the certificate's key")]
    SignatureValueInvalid { algorithm: SignatureAlgorithm },
}

fn malformed(problem: impl Into<String>) -> DsigError {
    DsigError::MalformedSignature {
        problem: problem.into(),
    }
}

/// Two elements (or two attributes of one) carry the same ID value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateIdError {
    pub id: String,
}

impl From<DuplicateIdError> for DsigError {
    fn from(e: DuplicateIdError) -> Self {
        DsigError::DuplicateId { id: e.id }
    }
}

fn is_id_attribute(a: &Attribute) -> bool {
    matches!(
        (a.ns.as_deref(), a.local.as_str()),
        (Some(ns::WSU), "Id") | (None, "Id") | (None, "ID") | (Some(ns::XML), "id")
    )
}

/// The values of `el`'s ID attributes (`wsu:Id`, `Id`, `ID`, `xml:id`).
pub fn id_attribute_values(el: &Element) -> impl Iterator<Item = &str> {
    el.attrs
        .iter()
        .filter(|a| is_id_attribute(a))
        .map(|a| a.value.as_str())
}

/// Every ID of a document, each with the path (indices into `children`,
/// from the root) of the one element that carries it.
#[derive(Clone, Debug, Default)]
pub struct IdIndex {
    ids: HashMap<String, Vec<usize>>,
}

impl IdIndex {
    /// Indexes the IDs under `root` (included); refuses a value carried
    /// twice.
    pub fn build(root: &Element) -> Result<IdIndex, DuplicateIdError> {
        let mut index = IdIndex::default();
        let mut path = Vec::new();
        index.visit(root, &mut path)?;
        Ok(index)
    }

    fn visit(&mut self, el: &Element, path: &mut Vec<usize>) -> Result<(), DuplicateIdError> {
        for id in id_attribute_values(el) {
            if self.ids.insert(id.to_owned(), path.clone()).is_some() {
                return Err(DuplicateIdError { id: id.to_owned() });
            }
        }
        for (i, child) in el.children.iter().enumerate() {
            if let Node::Element(c) = child {
                path.push(i);
                self.visit(c, path)?;
                path.pop();
            }
        }
        Ok(())
    }

    /// The path of the element carrying `id`.
    pub fn resolve(&self, id: &str) -> Option<&[usize]> {
        self.ids.get(id).map(Vec::as_slice)
    }
}

/// The element at `path` (indices into `children`) under `root`.
pub fn element_at<'a>(root: &'a Element, path: &[usize]) -> Option<&'a Element> {
    let mut el = root;
    for &i in path {
        match el.children.get(i) {
            Some(Node::Element(c)) => el = c,
            _ => return None,
        }
    }
    Some(el)
}

/// The namespace scope of the parent of the element at `path`: the scope
/// that element inherits.
pub fn parent_scope_of(root: &Element, path: &[usize]) -> NsScope {
    let mut scope = NsScope::new();
    let mut el = root;
    for &i in path {
        scope = scope.inside(el);
        match el.children.get(i) {
            Some(Node::Element(c)) => el = c,
            _ => break,
        }
    }
    scope
}

/// SHA-256 of the exclusive canonical form of `element`.
pub fn digest_element(
    element: &Element,
    parent_scope: &NsScope,
    inclusive_prefixes: &[String],
) -> Sha256Digest {
    sha256(&exclusive_c14n(element, parent_scope, inclusive_prefixes))
}

/// One `ds:Reference`, checked against the subset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedReference {
    /// The ID the `#id` URI points to.
    pub id: String,
    /// True when the transforms are `[enveloped-signature, exc-c14n]`.
    pub enveloped: bool,
    pub inclusive_prefixes: Vec<String>,
    pub digest_value: Sha256Digest,
}

impl ParsedReference {
    /// Checks the digest over `element` (with the enveloped signature
    /// already removed when [`ParsedReference::enveloped`]).
    pub fn check_digest(&self, element: &Element, parent_scope: &NsScope) -> Result<(), DsigError> {
        if digest_element(element, parent_scope, &self.inclusive_prefixes) == self.digest_value {
            Ok(())
        } else {
            Err(DsigError::DigestMismatch {
                id: self.id.clone(),
            })
        }
    }
}

/// A `ds:Signature`, checked against the subset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedSignature {
    pub algorithm: SignatureAlgorithm,
    /// PrefixList of SignedInfo's CanonicalizationMethod.
    pub c14n_inclusive_prefixes: Vec<String>,
    pub references: Vec<ParsedReference>,
    pub signature_value: Vec<u8>,
    signed_info_index: usize,
    key_info_index: Option<usize>,
}

impl ParsedSignature {
    /// The `KeyInfo` of `signature` (the element this was parsed from).
    pub fn key_info<'a>(&self, signature: &'a Element) -> Option<&'a Element> {
        match self.key_info_index.and_then(|i| signature.children.get(i)) {
            Some(Node::Element(k)) => Some(k),
            _ => None,
        }
    }

    /// Checks the signature value over the canonical `SignedInfo` of
    /// `signature` (the element this was parsed from), whose parent's
    /// namespace scope is `parent_scope`.
    pub fn verify_value(
        &self,
        signature: &Element,
        parent_scope: &NsScope,
        key: &CertificateKey,
    ) -> Result<(), DsigError> {
        if key.algorithm() != self.algorithm {
            return Err(DsigError::KeyAlgorithmMismatch {
                method: self.algorithm,
                key: key.algorithm(),
            });
        }
        let Some(Node::Element(signed_info)) = signature.children.get(self.signed_info_index)
        else {
            return Err(malformed("SignedInfo is missing"));
        };
        let scope = parent_scope.inside(signature);
        let c14n = exclusive_c14n(signed_info, &scope, &self.c14n_inclusive_prefixes);
        if key.verifies(&c14n, &self.signature_value) {
            Ok(())
        } else {
            Err(DsigError::SignatureValueInvalid {
                algorithm: self.algorithm,
            })
        }
    }
}

/// The element children of `el` with their positions, refusing
/// non-whitespace text (structural elements of a signature hold none).
fn structural_children<'a>(
    el: &'a Element,
    what: &str,
) -> Result<Vec<(usize, &'a Element)>, DsigError> {
    let mut out = Vec::new();
    for (i, n) in el.children.iter().enumerate() {
        match n {
            Node::Element(e) => out.push((i, e)),
            Node::Text(t) if t.chars().all(|c| matches!(c, ' ' | '\t' | '\n' | '\r')) => {}
            Node::Text(_) => return Err(malformed(format!("{what} contains text"))),
        }
    }
    Ok(out)
}

fn expect_ds<'a>(
    found: Option<&(usize, &'a Element)>,
    local: &str,
    parent: &str,
) -> Result<(usize, &'a Element), DsigError> {
    match found {
        Some(&(i, e)) if e.is(ns::DS, local) => Ok((i, e)),
        Some((_, e)) => Err(malformed(format!(
            "{parent} has {} where ds:{local} was expected",
            crate::soap::expanded_name(e)
        ))),
        None => Err(malformed(format!("{parent} has no ds:{local}"))),
    }
}

fn algorithm_of(el: &Element) -> Result<&str, DsigError> {
    el.attr("Algorithm")
        .ok_or_else(|| malformed(format!("ds:{} has no Algorithm", el.local)))
}

/// Reads an exc-c14n method or transform element: only an optional
/// `ec:InclusiveNamespaces` child is allowed.
fn inclusive_prefixes_of(el: &Element) -> Result<Vec<String>, DsigError> {
    let children = structural_children(el, &format!("ds:{}", el.local))?;
    match children.as_slice() {
        [] => Ok(Vec::new()),
        [(_, inc)] if inc.is(ns::EXC_C14N, "InclusiveNamespaces") => {
            if inc.has_content() {
                return Err(malformed("InclusiveNamespaces has content"));
            }
            Ok(inc
                .attr("PrefixList")
                .unwrap_or("")
                .split_ascii_whitespace()
                .map(str::to_owned)
                .collect())
        }
        _ => Err(malformed(format!(
            "ds:{} holds elements other than one InclusiveNamespaces",
            el.local
        ))),
    }
}

/// Parses `signature` (a `ds:Signature` element) and checks it against the
/// subset; digests and the value are checked later, by the caller, once it
/// has decided what each reference must designate.
pub fn parse_signature(signature: &Element) -> Result<ParsedSignature, DsigError> {
    if !signature.is(ns::DS, "Signature") {
        return Err(malformed(format!(
            "expected ds:Signature, found {}",
            crate::soap::expanded_name(signature)
        )));
    }
    let children = structural_children(signature, "ds:Signature")?;
    let (signed_info_index, signed_info) =
        expect_ds(children.first(), "SignedInfo", "ds:Signature")?;
    let (_, value_el) = expect_ds(children.get(1), "SignatureValue", "ds:Signature")?;
    let key_info_index = match children.get(2) {
        None => None,
        Some(&(i, k)) if k.is(ns::DS, "KeyInfo") => Some(i),
        Some((_, other)) => {
            return Err(malformed(format!(
                "ds:Signature holds {} (ds:Object and other content are not accepted)",
                crate::soap::expanded_name(other)
            )));
        }
    };
    if children.len() > 3 {
        return Err(malformed(
            "ds:Signature holds more than SignedInfo, SignatureValue and KeyInfo",
        ));
    }
    let signature_value = decode_base64_xml(&value_el.text()).ok_or(DsigError::InvalidBase64 {
        field: "SignatureValue",
    })?;
    if value_el.elements().next().is_some() {
        return Err(malformed("SignatureValue holds elements"));
    }

    let si = structural_children(signed_info, "ds:SignedInfo")?;
    let (_, c14n_method) = expect_ds(si.first(), "CanonicalizationMethod", "ds:SignedInfo")?;
    let c14n_alg = algorithm_of(c14n_method)?;
    if c14n_alg != ALG_EXC_C14N {
        return Err(DsigError::UnsupportedCanonicalization {
            algorithm: c14n_alg.to_owned(),
        });
    }
    let c14n_inclusive_prefixes = inclusive_prefixes_of(c14n_method)?;
    let (_, method) = expect_ds(si.get(1), "SignatureMethod", "ds:SignedInfo")?;
    let method_alg = algorithm_of(method)?;
    let algorithm = SignatureAlgorithm::from_uri(method_alg).ok_or_else(|| {
        DsigError::UnsupportedSignatureMethod {
            algorithm: method_alg.to_owned(),
        }
    })?;
    if method.has_content() {
        return Err(malformed(
            "ds:SignatureMethod has content (HMACOutputLength?)",
        ));
    }
    let mut references = Vec::new();
    for entry in si.iter().skip(2) {
        let (_, r) = expect_ds(Some(entry), "Reference", "ds:SignedInfo")?;
        references.push(parse_reference(r)?);
    }
    if references.is_empty() {
        return Err(malformed("ds:SignedInfo has no ds:Reference"));
    }
    Ok(ParsedSignature {
        algorithm,
        c14n_inclusive_prefixes,
        references,
        signature_value,
        signed_info_index,
        key_info_index,
    })
}

fn parse_reference(r: &Element) -> Result<ParsedReference, DsigError> {
    let uri = r.attr("URI").ok_or_else(|| {
        malformed("ds:Reference has no URI (the whole document cannot be signed)")
    })?;
    let id = match uri.strip_prefix('#') {
        Some(id) if !id.is_empty() && !id.starts_with("xpointer(") => id.to_owned(),
        _ => {
            return Err(DsigError::UnsupportedReferenceUri {
                uri: uri.to_owned(),
            });
        }
    };
    let children = structural_children(r, "ds:Reference")?;
    let (_, transforms) = expect_ds(children.first(), "Transforms", "ds:Reference")?;
    let (_, digest_method) = expect_ds(children.get(1), "DigestMethod", "ds:Reference")?;
    let (_, digest_value) = expect_ds(children.get(2), "DigestValue", "ds:Reference")?;
    if children.len() > 3 {
        return Err(malformed("ds:Reference has content after DigestValue"));
    }

    let mut algorithms = Vec::new();
    let mut transform_elements = Vec::new();
    for (_, t) in structural_children(transforms, "ds:Transforms")? {
        if !t.is(ns::DS, "Transform") {
            return Err(malformed(format!(
                "ds:Transforms holds {}",
                crate::soap::expanded_name(t)
            )));
        }
        algorithms.push(algorithm_of(t)?.to_owned());
        transform_elements.push(t);
    }
    let (enveloped, c14n_transform) = match (algorithms.as_slice(), transform_elements.as_slice()) {
        ([c], [t]) if c == ALG_EXC_C14N => (false, *t),
        ([e, c], [env, t]) if e == ALG_ENVELOPED_SIGNATURE && c == ALG_EXC_C14N => {
            if env.has_content() {
                return Err(malformed("the enveloped-signature transform has content"));
            }
            (true, *t)
        }
        _ => return Err(DsigError::UnsupportedTransforms { algorithms }),
    };
    let inclusive_prefixes = inclusive_prefixes_of(c14n_transform)?;

    let digest_alg = algorithm_of(digest_method)?;
    if digest_alg != ALG_SHA256 {
        return Err(DsigError::UnsupportedDigestMethod {
            algorithm: digest_alg.to_owned(),
        });
    }
    let digest = decode_base64_xml(&digest_value.text()).ok_or(DsigError::InvalidBase64 {
        field: "DigestValue",
    })?;
    let digest_value: Sha256Digest =
        digest
            .as_slice()
            .try_into()
            .map_err(|_| DsigError::DigestValueLength {
                id: id.clone(),
                length: digest.len(),
            })?;
    Ok(ParsedReference {
        id,
        enveloped,
        inclusive_prefixes,
        digest_value,
    })
}
