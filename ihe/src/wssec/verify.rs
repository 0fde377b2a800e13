//! Checking Security headers on the receiving side (the sandbox).

use super::{ENCODING_BASE64_BINARY, Timestamp, VALUE_TYPE_X509V3};
use crate::dsig::{
    CertificateKey, DsigError, IdIndex, decode_base64_xml, element_at, parent_scope_of,
    parse_signature,
};
use crate::saml::{self, Assertion, SamlError};
use crate::soap::{
    self, Addressing, EnvelopeParts, Fault, FaultCode, QName, SoapError, expanded_name,
};
use crate::xml::{self, Element, Node, NsScope, ParseLimits, ns};

/// Why a secured envelope is refused. Each refusal has its own variant;
/// [`WsSecurityError::to_fault`] gives the SOAP fault to answer with.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WsSecurityError {
    #[error(transparent)]
    Soap(#[from] SoapError),
    #[error("the signature is refused: {0}")]
    Signature(#[from] DsigError),
    #[error("the envelope has no SOAP Header, so no Security header")]
    MissingHeader,
    #[error("the envelope has no wsse:Security header (as a direct child of soap:Header)")]
    MissingSecurityHeader,
    #[error("the envelope has {count} wsse:Security headers; exactly one is accepted")]
    MultipleSecurityHeaders { count: usize },
    #[error("the Security header has no ds:Signature (as a direct child)")]
    MissingSignature,
    #[error("the Security header has {count} ds:Signature children; exactly one is accepted")]
    MultipleSignatures { count: usize },
    #[error("the Security header has no wsu:Timestamp (as a direct child)")]
    MissingTimestamp,
    #[error("the Security header has {count} wsu:Timestamp children; at most one is accepted")]
    MultipleTimestamps { count: usize },
    #[error("the Security header has {count} SAML assertions; exactly one is accepted")]
    MultipleAssertions { count: usize },
    #[error("the Security header carries no SAML assertion")]
    MissingAssertion,
    #[error("the Security header holds {found}, which is not accepted here")]
    UnexpectedSecurityChild { found: String },
    #[error("reference '#{id}' uses the enveloped-signature transform, which has no place here")]
    EnvelopedReference { id: String },
    #[error(
        "reference '#{id}' designates {element}; only the envelope's Body and the Security \
         header's Timestamp may be signed"
    )]
    UnexpectedReference { id: String, element: String },
    #[error("the element '#{id}' is referenced twice")]
    DuplicateReference { id: String },
    #[error(
        "reference '#{id}' designates a soap:Body that is not the Envelope's Body \
         (signature wrapping)"
    )]
    SignedBodyMisplaced { id: String },
    #[error(
        "reference '#{id}' designates a wsu:Timestamp that is not the Security header's \
         Timestamp (signature wrapping)"
    )]
    SignedTimestampMisplaced { id: String },
    #[error("the envelope's Body is not covered by the signature")]
    BodyNotSigned,
    #[error("the Security header's Timestamp is not covered by the signature")]
    TimestampNotSigned,
    #[error("ds:Signature has no KeyInfo; the key must come from a BinarySecurityToken")]
    MissingKeyInfo,
    #[error("KeyInfo is not accepted: {problem}")]
    UnsupportedKeyInfo { problem: String },
    #[error("the token reference '#{id}' designates no BinarySecurityToken of the Security header")]
    TokenNotFound { id: String },
    #[error("the token '#{id}' is not a direct child of the Security header")]
    TokenMisplaced { id: String },
    #[error(
        "BinarySecurityToken ValueType '{value_type}' is not accepted; use {VALUE_TYPE_X509V3}"
    )]
    UnsupportedTokenType { value_type: String },
    #[error("BinarySecurityToken EncodingType '{encoding}' is not accepted; use Base64Binary")]
    UnsupportedTokenEncoding { encoding: String },
    #[error("the BinarySecurityToken is not valid base64")]
    InvalidTokenBase64,
    #[error("the wsu:Timestamp is malformed: {problem}")]
    MalformedTimestamp { problem: String },
    #[error("the SAML assertion is refused: {0}")]
    Assertion(#[from] SamlError),
}

/// The WS-Security 1.0 fault codes (WSS 1.0 §12).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecurityFaultCode {
    UnsupportedSecurityToken,
    UnsupportedAlgorithm,
    InvalidSecurity,
    InvalidSecurityToken,
    FailedAuthentication,
    FailedCheck,
    SecurityTokenUnavailable,
    MessageExpired,
}

impl SecurityFaultCode {
    pub fn local_name(self) -> &'static str {
        match self {
            SecurityFaultCode::UnsupportedSecurityToken => "UnsupportedSecurityToken",
            SecurityFaultCode::UnsupportedAlgorithm => "UnsupportedAlgorithm",
            SecurityFaultCode::InvalidSecurity => "InvalidSecurity",
            SecurityFaultCode::InvalidSecurityToken => "InvalidSecurityToken",
            SecurityFaultCode::FailedAuthentication => "FailedAuthentication",
            SecurityFaultCode::FailedCheck => "FailedCheck",
            SecurityFaultCode::SecurityTokenUnavailable => "SecurityTokenUnavailable",
            SecurityFaultCode::MessageExpired => "MessageExpired",
        }
    }

    /// A `soap:Sender` fault with this subcode and `reason`.
    pub fn to_fault(self, reason: impl Into<String>) -> Fault {
        Fault::new(FaultCode::Sender, reason).with_subcode(QName::new(
            ns::WSSE,
            super::WSSE_PREFIX,
            self.local_name(),
        ))
    }
}

impl WsSecurityError {
    /// The WS-Security fault code that describes this refusal.
    pub fn fault_code(&self) -> SecurityFaultCode {
        use WsSecurityError as E;
        match self {
            E::Signature(
                DsigError::UnsupportedCanonicalization { .. }
                | DsigError::UnsupportedSignatureMethod { .. }
                | DsigError::UnsupportedDigestMethod { .. }
                | DsigError::UnsupportedTransforms { .. },
            ) => SecurityFaultCode::UnsupportedAlgorithm,
            E::Signature(
                DsigError::DigestMismatch { .. } | DsigError::SignatureValueInvalid { .. },
            ) => SecurityFaultCode::FailedCheck,
            E::Signature(DsigError::Certificate(_) | DsigError::KeyAlgorithmMismatch { .. })
            | E::InvalidTokenBase64 => SecurityFaultCode::InvalidSecurityToken,
            E::UnsupportedTokenType { .. } | E::UnsupportedTokenEncoding { .. } => {
                SecurityFaultCode::UnsupportedSecurityToken
            }
            E::TokenNotFound { .. } | E::MissingAssertion => {
                SecurityFaultCode::SecurityTokenUnavailable
            }
            E::Assertion(SamlError::Signature(_) | SamlError::NotSigned) => {
                SecurityFaultCode::FailedAuthentication
            }
            _ => SecurityFaultCode::InvalidSecurity,
        }
    }

    /// The SOAP fault to answer this refusal with.
    pub fn to_fault(&self) -> Fault {
        self.fault_code().to_fault(self.to_string())
    }
}

/// A signed envelope whose signature checked out. Only what the signature
/// covers is exposed as verified; the addressing headers are not signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedEnvelope {
    body: Element,
    timestamp: Timestamp,
    certificate_der: Vec<u8>,
    addressing: Option<Addressing>,
    assertion: Option<(Element, NsScope)>,
}

impl VerifiedEnvelope {
    /// The signed `soap:Body`.
    pub fn body(&self) -> &Element {
        &self.body
    }

    /// The one payload element of the signed Body.
    pub fn payload(&self) -> Result<&Element, SoapError> {
        single_payload(&self.body)
    }

    /// The signed Timestamp (check it with [`Timestamp::check_freshness`]).
    pub fn timestamp(&self) -> Timestamp {
        self.timestamp
    }

    /// The DER certificate whose key made the signature. Its trust is the
    /// caller's decision.
    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate_der
    }

    /// The WS-Addressing headers: NOT covered by the signature.
    pub fn addressing(&self) -> Option<&Addressing> {
        self.addressing.as_ref()
    }

    /// Verifies the SAML assertion carried in the Security header, if any,
    /// with the IdP's certificate.
    pub fn verify_assertion(
        &self,
        idp_certificate_der: &[u8],
    ) -> Option<Result<Assertion, SamlError>> {
        self.assertion
            .as_ref()
            .map(|(el, scope)| saml::verify_assertion(el, scope, idp_certificate_der))
    }
}

/// Where the parts of a Security header are, by path from the root.
struct SecurityLayout<'a> {
    parts: EnvelopeParts<'a>,
    header_index: usize,
    security_index: usize,
    security: &'a Element,
}

impl<'a> SecurityLayout<'a> {
    fn of(root: &'a Element) -> Result<Self, WsSecurityError> {
        let parts = EnvelopeParts::of(root)?;
        soap::check_for_fault(parts.body, &NsScope::new().inside(root))?;
        let (header, header_index) = match (parts.header, parts.header_index) {
            (Some(h), Some(i)) => (h, i),
            _ => return Err(WsSecurityError::MissingHeader),
        };
        let securities: Vec<(usize, &Element)> = header
            .children
            .iter()
            .enumerate()
            .filter_map(|(i, n)| match n {
                Node::Element(e) if e.is(ns::WSSE, "Security") => Some((i, e)),
                _ => None,
            })
            .collect();
        let (security_index, security) = match securities.as_slice() {
            [one] => *one,
            [] => return Err(WsSecurityError::MissingSecurityHeader),
            many => return Err(WsSecurityError::MultipleSecurityHeaders { count: many.len() }),
        };
        Ok(SecurityLayout {
            parts,
            header_index,
            security_index,
            security,
        })
    }

    fn security_path(&self) -> Vec<usize> {
        vec![self.header_index, self.security_index]
    }

    fn child_path(&self, index: usize) -> Vec<usize> {
        vec![self.header_index, self.security_index, index]
    }

    /// Direct children of Security named `{ns}local`, with their indices.
    fn children_named(&self, ns: &str, local: &str) -> Vec<(usize, &'a Element)> {
        self.security
            .children
            .iter()
            .enumerate()
            .filter_map(|(i, n)| match n {
                Node::Element(e) if e.is(ns, local) => Some((i, e)),
                _ => None,
            })
            .collect()
    }

    fn addressing(&self) -> Result<Option<Addressing>, WsSecurityError> {
        let headers: Vec<Element> = self
            .parts
            .header
            .map(|h| {
                h.elements()
                    .filter(|e| e.ns.as_deref() == Some(ns::WSA))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        Ok(Addressing::from_headers(&headers)?)
    }

    /// Refuses Security children other than those named in `allowed`.
    fn only(&self, allowed: &[(&str, &str)]) -> Result<(), WsSecurityError> {
        for child in self.security.elements() {
            if !allowed.iter().any(|(n, l)| child.is(n, l)) {
                return Err(WsSecurityError::UnexpectedSecurityChild {
                    found: expanded_name(child),
                });
            }
        }
        Ok(())
    }

    fn assertions(&self) -> Result<Option<(usize, &'a Element)>, WsSecurityError> {
        let found = self.children_named(ns::SAML, "Assertion");
        match found.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(*one)),
            many => Err(WsSecurityError::MultipleAssertions { count: many.len() }),
        }
    }
}

/// Verifies the WS-Security signature of a SOAP 1.2 envelope (see the
/// module documentation for exactly what is required).
pub fn verify_signed_envelope(
    input: &[u8],
    limits: &ParseLimits,
) -> Result<VerifiedEnvelope, WsSecurityError> {
    let root = xml::parse(input, limits).map_err(SoapError::from)?;
    verify_signed_envelope_tree(&root)
}

fn verify_signed_envelope_tree(root: &Element) -> Result<VerifiedEnvelope, WsSecurityError> {
    let layout = SecurityLayout::of(root)?;
    let ids = IdIndex::build(root).map_err(DsigError::from)?;
    layout.only(&[
        (ns::WSU, "Timestamp"),
        (ns::WSSE, "BinarySecurityToken"),
        (ns::DS, "Signature"),
        (ns::SAML, "Assertion"),
    ])?;

    let signatures = layout.children_named(ns::DS, "Signature");
    let (signature_index, signature) = match signatures.as_slice() {
        [one] => *one,
        [] => return Err(WsSecurityError::MissingSignature),
        many => return Err(WsSecurityError::MultipleSignatures { count: many.len() }),
    };
    let timestamps = layout.children_named(ns::WSU, "Timestamp");
    let (timestamp_index, timestamp_el) = match timestamps.as_slice() {
        [one] => *one,
        [] => return Err(WsSecurityError::MissingTimestamp),
        many => return Err(WsSecurityError::MultipleTimestamps { count: many.len() }),
    };

    let parsed = parse_signature(signature)?;
    let body_path = vec![layout.parts.body_index];
    let timestamp_path = layout.child_path(timestamp_index);
    let mut body_signed = false;
    let mut timestamp_signed = false;
    for reference in &parsed.references {
        let id = &reference.id;
        if reference.enveloped {
            return Err(WsSecurityError::EnvelopedReference { id: id.clone() });
        }
        let path = ids
            .resolve(id)
            .ok_or_else(|| DsigError::UnresolvedReference { id: id.clone() })?;
        let element = element_at(root, path)
            .ok_or_else(|| DsigError::UnresolvedReference { id: id.clone() })?;
        let seen = if path == body_path.as_slice() {
            &mut body_signed
        } else if path == timestamp_path.as_slice() {
            &mut timestamp_signed
        } else if element.is(ns::SOAP12, "Body") {
            return Err(WsSecurityError::SignedBodyMisplaced { id: id.clone() });
        } else if element.is(ns::WSU, "Timestamp") {
            return Err(WsSecurityError::SignedTimestampMisplaced { id: id.clone() });
        } else {
            return Err(WsSecurityError::UnexpectedReference {
                id: id.clone(),
                element: expanded_name(element),
            });
        };
        if *seen {
            return Err(WsSecurityError::DuplicateReference { id: id.clone() });
        }
        *seen = true;
        reference.check_digest(element, &parent_scope_of(root, path))?;
    }
    if !body_signed {
        return Err(WsSecurityError::BodyNotSigned);
    }
    if !timestamp_signed {
        return Err(WsSecurityError::TimestampNotSigned);
    }

    let key_info = parsed
        .key_info(signature)
        .ok_or(WsSecurityError::MissingKeyInfo)?;
    let token_id = token_reference(key_info)?;
    let token_path = ids
        .resolve(&token_id)
        .ok_or_else(|| WsSecurityError::TokenNotFound {
            id: token_id.clone(),
        })?;
    let token = element_at(root, token_path)
        .filter(|t| t.is(ns::WSSE, "BinarySecurityToken"))
        .ok_or_else(|| WsSecurityError::TokenNotFound {
            id: token_id.clone(),
        })?;
    if token_path.len() != 3 || token_path[..2] != layout.security_path()[..] {
        return Err(WsSecurityError::TokenMisplaced { id: token_id });
    }
    let certificate_der = token_certificate(token)?;
    let key = CertificateKey::from_certificate(&certificate_der).map_err(DsigError::from)?;
    parsed.verify_value(
        signature,
        &parent_scope_of(root, &layout.child_path(signature_index)),
        &key,
    )?;

    let timestamp = Timestamp::from_element(timestamp_el)?;
    let assertion = layout
        .assertions()?
        .map(|(i, el)| (el.clone(), parent_scope_of(root, &layout.child_path(i))));
    Ok(VerifiedEnvelope {
        body: detached_body(root, &layout),
        timestamp,
        certificate_der,
        addressing: layout.addressing()?,
        assertion,
    })
}

fn single_payload(body: &Element) -> Result<&Element, SoapError> {
    let mut it = body.elements();
    match (it.next(), it.next()) {
        (Some(p), None) => Ok(p),
        (None, _) => Err(SoapError::EmptyBody),
        (Some(_), Some(_)) => Err(SoapError::MultiplePayloads {
            count: body.elements().count(),
        }),
    }
}

/// A copy of the Body that keeps the namespaces it inherited.
fn detached_body(root: &Element, layout: &SecurityLayout<'_>) -> Element {
    let mut body = layout.parts.body.clone();
    soap::declare_inherited_namespaces(&mut body, &NsScope::new().inside(root));
    body
}

/// The token ID of `KeyInfo/wsse:SecurityTokenReference/wsse:Reference`.
fn token_reference(key_info: &Element) -> Result<String, WsSecurityError> {
    let unsupported = |problem: &str| WsSecurityError::UnsupportedKeyInfo {
        problem: problem.to_owned(),
    };
    let mut children = key_info.elements();
    let str_el = match (children.next(), children.next()) {
        (Some(s), None) if s.is(ns::WSSE, "SecurityTokenReference") => s,
        _ => {
            return Err(unsupported(
                "it must hold exactly one wsse:SecurityTokenReference",
            ));
        }
    };
    let mut refs = str_el.elements();
    let reference = match (refs.next(), refs.next()) {
        (Some(r), None) if r.is(ns::WSSE, "Reference") => r,
        _ => {
            return Err(unsupported(
                "the SecurityTokenReference must hold exactly one wsse:Reference",
            ));
        }
    };
    if let Some(vt) = reference.attr("ValueType")
        && vt != VALUE_TYPE_X509V3
    {
        return Err(WsSecurityError::UnsupportedTokenType {
            value_type: vt.to_owned(),
        });
    }
    match reference.attr("URI").and_then(|u| u.strip_prefix('#')) {
        Some(id) if !id.is_empty() => Ok(id.to_owned()),
        _ => Err(unsupported(
            "the token reference must be a same-document '#id' URI",
        )),
    }
}

fn token_certificate(token: &Element) -> Result<Vec<u8>, WsSecurityError> {
    match token.attr("ValueType") {
        Some(VALUE_TYPE_X509V3) => {}
        other => {
            return Err(WsSecurityError::UnsupportedTokenType {
                value_type: other.unwrap_or("(none)").to_owned(),
            });
        }
    }
    if let Some(enc) = token.attr("EncodingType")
        && enc != ENCODING_BASE64_BINARY
    {
        return Err(WsSecurityError::UnsupportedTokenEncoding {
            encoding: enc.to_owned(),
        });
    }
    decode_base64_xml(&token.text()).ok_or(WsSecurityError::InvalidTokenBase64)
}

/// An XDS call whose bearer assertion checked out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedBearerEnvelope {
    body: Element,
    timestamp: Option<Timestamp>,
    assertion: Assertion,
    addressing: Option<Addressing>,
}

impl VerifiedBearerEnvelope {
    /// The `soap:Body` (not signed: a bearer assertion authenticates the
    /// caller, not the message; TLS protects the message).
    pub fn body(&self) -> &Element {
        &self.body
    }

    /// The one payload element of the Body.
    pub fn payload(&self) -> Result<&Element, SoapError> {
        single_payload(&self.body)
    }

    /// The Security header's Timestamp, if it has one (unsigned).
    pub fn timestamp(&self) -> Option<Timestamp> {
        self.timestamp
    }

    /// The assertion, its IdP signature verified. Check its validity
    /// period with [`Assertion::check_validity`].
    pub fn assertion(&self) -> &Assertion {
        &self.assertion
    }

    pub fn addressing(&self) -> Option<&Addressing> {
        self.addressing.as_ref()
    }
}

/// Verifies an XDS call carrying a bearer assertion: one Security header
/// (direct child of the Header) holding exactly one `saml:Assertion`, at
/// most one Timestamp and nothing else; every ID in the document unique;
/// the assertion's enveloped signature valid for `idp_certificate_der`.
pub fn verify_bearer_envelope(
    input: &[u8],
    limits: &ParseLimits,
    idp_certificate_der: &[u8],
) -> Result<VerifiedBearerEnvelope, WsSecurityError> {
    let root = xml::parse(input, limits).map_err(SoapError::from)?;
    let layout = SecurityLayout::of(&root)?;
    IdIndex::build(&root).map_err(DsigError::from)?;
    layout.only(&[(ns::WSU, "Timestamp"), (ns::SAML, "Assertion")])?;
    let (assertion_index, assertion_el) = layout
        .assertions()?
        .ok_or(WsSecurityError::MissingAssertion)?;
    let timestamps = layout.children_named(ns::WSU, "Timestamp");
    let timestamp = match timestamps.as_slice() {
        [] => None,
        [(_, t)] => Some(Timestamp::from_element(t)?),
        many => return Err(WsSecurityError::MultipleTimestamps { count: many.len() }),
    };
    let assertion = saml::verify_assertion(
        assertion_el,
        &parent_scope_of(&root, &layout.child_path(assertion_index)),
        idp_certificate_der,
    )?;
    Ok(VerifiedBearerEnvelope {
        body: detached_body(&root, &layout),
        timestamp,
        assertion,
        addressing: layout.addressing()?,
    })
}
