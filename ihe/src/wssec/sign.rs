//! Building Security headers: signed by the professional's key for the
//! authentication request, bearer (Timestamp + assertion) for XDS calls.

use uuid::Uuid;

use super::{ENCODING_BASE64_BINARY, Timestamp, VALUE_TYPE_X509V3, WSSE_PREFIX, WSU_PREFIX};
use crate::dsig::{
    IdIndex, PendingSignature, Reference, Sha256Digest, SignError, SignatureAlgorithm, Signer,
    element_at, encode_base64, is_ncname, parent_scope_of,
};
use crate::soap::{Envelope, SOAP_PREFIX};
use crate::xml::{self, Element, Node, ns};

/// The `wsu:Id` values of the signed parts. They must be NCNames and
/// unique in the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecurityIds {
    pub body: String,
    pub timestamp: String,
    pub token: String,
}

impl SecurityIds {
    /// IDs derived from one UUID (`body-…`, `ts-…`, `x509-…`): pass a
    /// random one in production, a fixed one in tests.
    pub fn from_uuid(id: Uuid) -> Self {
        let u = id.hyphenated();
        SecurityIds {
            body: format!("body-{u}"),
            timestamp: format!("ts-{u}"),
            token: format!("x509-{u}"),
        }
    }
}

/// What goes into a signed Security header besides the signature.
#[derive(Clone, Debug)]
pub struct SecurityParams {
    pub timestamp: Timestamp,
    pub ids: SecurityIds,
    /// A SAML assertion to carry as is (namespace-complete: see
    /// [`crate::saml::Assertion::element`]); it keeps its own IdP signature.
    pub assertion: Option<Element>,
}

fn security_element() -> Element {
    Element::new(ns::WSSE, WSSE_PREFIX, "Security").with_attr_ns(
        ns::SOAP12,
        SOAP_PREFIX,
        "mustUnderstand",
        "true",
    )
}

/// The Security header of an XDS call (IHE XUA, bearer assertion):
/// Timestamp and the IdP's assertion, not signed by us.
pub fn bearer_security_header(
    timestamp: &Timestamp,
    timestamp_id: &str,
    assertion: Element,
) -> Element {
    security_element()
        .with_child(timestamp.to_element(timestamp_id))
        .with_child(assertion)
}

/// An envelope whose signature is being made: everything is in place but
/// the signature value. Plain data (`Send`), so an async caller can hold it
/// while the card thread signs [`PendingEnvelope::digest_to_sign`].
#[derive(Clone, Debug)]
pub struct PendingEnvelope {
    envelope: Element,
    security_path: Vec<usize>,
    token_id: String,
    certificate_der: Vec<u8>,
    pending: PendingSignature,
}

impl PendingEnvelope {
    /// Adds the Security header (Timestamp, BinarySecurityToken carrying
    /// `certificate_der`, the assertion if any) and the Body's `wsu:Id` to
    /// `envelope`, and digests the Body and the Timestamp. The signature
    /// algorithm follows from the certificate's key.
    pub fn prepare(
        envelope: Envelope,
        certificate_der: Vec<u8>,
        params: SecurityParams,
    ) -> Result<Self, SignError> {
        let ids = &params.ids;
        for id in [&ids.body, &ids.timestamp, &ids.token] {
            if !is_ncname(id) {
                return Err(SignError::InvalidId { id: id.clone() });
            }
        }
        let algorithm = SignatureAlgorithm::for_certificate(&certificate_der)?;
        let token = Element::new(ns::WSSE, WSSE_PREFIX, "BinarySecurityToken")
            .with_attr_ns(ns::WSU, WSU_PREFIX, "Id", ids.token.clone())
            .with_attr("EncodingType", ENCODING_BASE64_BINARY)
            .with_attr("ValueType", VALUE_TYPE_X509V3)
            .with_text(encode_base64(&certificate_der));
        let mut security = security_element()
            .with_child(params.timestamp.to_element(&ids.timestamp))
            .with_child(token);
        if let Some(assertion) = params.assertion {
            security.push(assertion);
        }
        let mut root = envelope.with_header(security).into_element();
        // The Body is the Envelope's last child (we just built it).
        if let Some(Node::Element(body)) = root.children.last_mut() {
            body.set_attr_ns(ns::WSU, WSU_PREFIX, "Id", ids.body.clone());
        }

        let index = IdIndex::build(&root).map_err(|e| SignError::DuplicateId { id: e.id })?;
        let reference = |id: &str| -> Result<(Reference, Vec<usize>), SignError> {
            // Both IDs were set just above, so they resolve.
            let path = index
                .resolve(id)
                .ok_or_else(|| SignError::MissingId { id: id.to_owned() })?
                .to_vec();
            let el = element_at(&root, &path)
                .ok_or_else(|| SignError::MissingId { id: id.to_owned() })?;
            Ok((
                Reference::detached(id, el, &parent_scope_of(&root, &path)),
                path,
            ))
        };
        let (body_ref, _) = reference(&ids.body)?;
        let (ts_ref, mut security_path) = reference(&ids.timestamp)?;
        security_path.pop();
        let pending = PendingSignature::new(algorithm, &[body_ref, ts_ref]);
        Ok(PendingEnvelope {
            envelope: root,
            security_path,
            token_id: ids.token.clone(),
            certificate_der,
            pending,
        })
    }

    pub fn algorithm(&self) -> SignatureAlgorithm {
        self.pending.algorithm()
    }

    /// The SHA-256 the card must sign.
    pub fn digest_to_sign(&self) -> &Sha256Digest {
        self.pending.digest_to_sign()
    }

    /// Puts the signature in place, after checking it against the
    /// certificate in the BinarySecurityToken.
    pub fn finish(self, signature_value: &[u8]) -> Result<SignedEnvelope, SignError> {
        let wsse = |local: &str| Element::new(ns::WSSE, WSSE_PREFIX, local);
        let key_info = Element::new(ns::DS, crate::dsig::DS_PREFIX, "KeyInfo").with_child(
            wsse("SecurityTokenReference").with_child(
                wsse("Reference")
                    .with_attr("URI", format!("#{}", self.token_id))
                    .with_attr("ValueType", VALUE_TYPE_X509V3),
            ),
        );
        let signature = self
            .pending
            .finish(signature_value, &self.certificate_der, key_info)?;
        let mut envelope = self.envelope;
        let mut el = &mut envelope;
        for &i in &self.security_path {
            el = match el.children.get_mut(i) {
                Some(Node::Element(c)) => c,
                // `prepare` resolved this path in this very tree, which is
                // private and unchanged since: the branch cannot be taken.
                _ => unreachable!("the Security header path was resolved by prepare"),
            };
        }
        el.push(signature);
        Ok(SignedEnvelope { envelope })
    }
}

/// Signs `envelope` with `signer` in one go (for callers that can block on
/// the signer).
pub fn sign_envelope(
    envelope: Envelope,
    params: SecurityParams,
    signer: &dyn Signer,
) -> Result<SignedEnvelope, SignError> {
    let pending = PendingEnvelope::prepare(envelope, signer.certificate_der().to_vec(), params)?;
    let value = signer.sign_prehashed(pending.algorithm(), pending.digest_to_sign())?;
    pending.finish(&value)
}

/// A signed envelope, ready to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedEnvelope {
    envelope: Element,
}

impl SignedEnvelope {
    /// The `soap:Envelope` tree.
    pub fn element(&self) -> &Element {
        &self.envelope
    }

    pub fn into_element(self) -> Element {
        self.envelope
    }

    /// The message as a UTF-8 document. Do not re-indent or otherwise
    /// rewrite it: the signature covers the exact text of the Body and the
    /// Timestamp.
    pub fn to_bytes(&self) -> Vec<u8> {
        xml::to_document(&self.envelope)
    }
}
