//! Making signatures: references digested over trees we built, a
//! `SignedInfo` canonical by construction, and a two-phase API
//! (prepare → [`PendingSignature::digest_to_sign`] → `finish`) so that an
//! async caller can send the digest to the card thread and come back with
//! the signature without holding a signer across an await.

use super::{
    ALG_ENVELOPED_SIGNATURE, ALG_EXC_C14N, ALG_SHA256, CertificateError, CertificateKey, DS_PREFIX,
    EC_PREFIX, IdIndex, Sha256Digest, SignatureAlgorithm, Signer, SignerError, digest_element,
    encode_base64, id_attribute_values, is_ncname, sha256,
};
use crate::xml::{Element, Node, NsScope, exclusive_c14n, ns};

/// Why a signature could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("the signer failed: {0}")]
    Signer(#[from] SignerError),
    #[error("the signing certificate cannot be used: {0}")]
    Certificate(#[from] CertificateError),
    #[error(
        "the signature was prepared for {prepared} but the certificate's key signs with {certificate}"
    )]
    AlgorithmMismatch {
        prepared: SignatureAlgorithm,
        certificate: SignatureAlgorithm,
    },
    #[error(
        "the signature value does not verify with the certificate's {algorithm} key: the device \
         signed with another key, or returned a DER ECDSA signature instead of raw r‖s"
    )]
    SignatureDoesNotVerify { algorithm: SignatureAlgorithm },
    #[error(
        "'{id}' cannot be an XML ID: it must be an NCName (a letter or '_' first, then letters, \
         digits, '-', '_' or '.')"
    )]
    InvalidId { id: String },
    #[error("the ID '{id}' is carried by more than one element; every ID must be unique")]
    DuplicateId { id: String },
    #[error("the element to sign carries no ID attribute with the value '{id}'")]
    MissingId { id: String },
}

/// A reference to sign: the ID it points to, its transforms, and the
/// digest of the canonical form of the element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    pub id: String,
    /// With the enveloped-signature transform before exc-c14n.
    pub enveloped: bool,
    /// The exc-c14n InclusiveNamespaces PrefixList (empty: none written).
    pub inclusive_prefixes: Vec<String>,
    pub digest: Sha256Digest,
}

impl Reference {
    /// A reference to `element` (identified by `id`), whose parent's
    /// namespace scope is `parent_scope`, with the `[exc-c14n]` transform.
    pub fn detached(id: &str, element: &Element, parent_scope: &NsScope) -> Self {
        Reference {
            id: id.to_owned(),
            enveloped: false,
            inclusive_prefixes: Vec::new(),
            digest: digest_element(element, parent_scope, &[]),
        }
    }

    fn to_element(&self) -> Element {
        let ds = |local: &str| Element::new(ns::DS, DS_PREFIX, local);
        let mut transforms = ds("Transforms");
        if self.enveloped {
            transforms.push(ds("Transform").with_attr("Algorithm", ALG_ENVELOPED_SIGNATURE));
        }
        let mut c14n = ds("Transform").with_attr("Algorithm", ALG_EXC_C14N);
        if !self.inclusive_prefixes.is_empty() {
            c14n.push(
                Element::new(ns::EXC_C14N, EC_PREFIX, "InclusiveNamespaces")
                    .with_attr("PrefixList", self.inclusive_prefixes.join(" ")),
            );
        }
        transforms.push(c14n);
        ds("Reference")
            .with_attr("URI", format!("#{}", self.id))
            .with_child(transforms)
            .with_child(ds("DigestMethod").with_attr("Algorithm", ALG_SHA256))
            .with_child(ds("DigestValue").with_text(encode_base64(&self.digest)))
    }
}

/// A `KeyInfo` carrying the certificate itself (`X509Data/X509Certificate`),
/// as SAML assertions do.
pub fn key_info_x509(certificate_der: &[u8]) -> Element {
    let ds = |local: &str| Element::new(ns::DS, DS_PREFIX, local);
    ds("KeyInfo").with_child(
        ds("X509Data").with_child(ds("X509Certificate").with_text(encode_base64(certificate_der))),
    )
}

/// A `SignedInfo` built and canonicalized, waiting for its signature value.
/// It is plain data (`Send`): keep it across awaits while the card signs.
#[derive(Clone, Debug)]
pub struct PendingSignature {
    algorithm: SignatureAlgorithm,
    signed_info: Element,
    signed_info_c14n: Vec<u8>,
    digest: Sha256Digest,
}

impl PendingSignature {
    /// Builds `SignedInfo` over `references`. Its canonical form does not
    /// depend on where it is later placed: it uses no PrefixList and only
    /// the `ds` namespace, which exclusive C14N always renders on it.
    pub fn new(algorithm: SignatureAlgorithm, references: &[Reference]) -> Self {
        let ds = |local: &str| Element::new(ns::DS, DS_PREFIX, local);
        let mut signed_info = ds("SignedInfo")
            .with_child(ds("CanonicalizationMethod").with_attr("Algorithm", ALG_EXC_C14N))
            .with_child(ds("SignatureMethod").with_attr("Algorithm", algorithm.uri()));
        for r in references {
            signed_info.push(r.to_element());
        }
        let signed_info_c14n = exclusive_c14n(&signed_info, &NsScope::new(), &[]);
        let digest = sha256(&signed_info_c14n);
        PendingSignature {
            algorithm,
            signed_info,
            signed_info_c14n,
            digest,
        }
    }

    pub fn algorithm(&self) -> SignatureAlgorithm {
        self.algorithm
    }

    /// The SHA-256 of the canonical `SignedInfo`: what the signer signs.
    pub fn digest_to_sign(&self) -> &Sha256Digest {
        &self.digest
    }

    /// The canonical `SignedInfo` bytes the signature covers.
    pub fn signed_info_c14n(&self) -> &[u8] {
        &self.signed_info_c14n
    }

    /// Asks `signer` for the signature value.
    pub fn sign_with(&self, signer: &dyn Signer) -> Result<Vec<u8>, SignError> {
        Ok(signer.sign_prehashed(self.algorithm, &self.digest)?)
    }

    /// Builds `ds:Signature` with `signature_value`, after checking that it
    /// verifies with the key of `certificate_der`.
    pub fn finish(
        self,
        signature_value: &[u8],
        certificate_der: &[u8],
        key_info: Element,
    ) -> Result<Element, SignError> {
        let key = CertificateKey::from_certificate(certificate_der)?;
        if key.algorithm() != self.algorithm {
            return Err(SignError::AlgorithmMismatch {
                prepared: self.algorithm,
                certificate: key.algorithm(),
            });
        }
        if !key.verifies(&self.signed_info_c14n, signature_value) {
            return Err(SignError::SignatureDoesNotVerify {
                algorithm: self.algorithm,
            });
        }
        Ok(Element::new(ns::DS, DS_PREFIX, "Signature")
            .with_child(self.signed_info)
            .with_child(
                Element::new(ns::DS, DS_PREFIX, "SignatureValue")
                    .with_text(encode_base64(signature_value)),
            )
            .with_child(key_info))
    }
}

/// An element waiting for its enveloped signature (a SAML assertion):
/// digested without the signature, which `finish` then inserts.
#[derive(Clone, Debug)]
pub struct PendingEnvelopedSignature {
    element: Element,
    insert_at: usize,
    certificate_der: Vec<u8>,
    pending: PendingSignature,
}

impl PendingEnvelopedSignature {
    /// Prepares the signature of `element`, identified by its ID attribute
    /// `id`; `parent_scope` is the namespace scope the element will sit in
    /// (it matters only for prefixes in `inclusive_prefixes` that the
    /// element does not declare itself). The signature will be inserted as
    /// child number `insert_at` of `element` (a position in `children`).
    pub fn prepare(
        element: Element,
        parent_scope: &NsScope,
        id: &str,
        insert_at: usize,
        certificate_der: Vec<u8>,
        inclusive_prefixes: Vec<String>,
    ) -> Result<Self, SignError> {
        if !is_ncname(id) {
            return Err(SignError::InvalidId { id: id.to_owned() });
        }
        if !id_attribute_values(&element).any(|v| v == id) {
            return Err(SignError::MissingId { id: id.to_owned() });
        }
        IdIndex::build(&element).map_err(|e| SignError::DuplicateId { id: e.id })?;
        let algorithm = SignatureAlgorithm::for_certificate(&certificate_der)?;
        let digest = digest_element(&element, parent_scope, &inclusive_prefixes);
        let pending = PendingSignature::new(
            algorithm,
            &[Reference {
                id: id.to_owned(),
                enveloped: true,
                inclusive_prefixes,
                digest,
            }],
        );
        let insert_at = insert_at.min(element.children.len());
        Ok(PendingEnvelopedSignature {
            element,
            insert_at,
            certificate_der,
            pending,
        })
    }

    pub fn algorithm(&self) -> SignatureAlgorithm {
        self.pending.algorithm()
    }

    /// What the signer signs.
    pub fn digest_to_sign(&self) -> &Sha256Digest {
        self.pending.digest_to_sign()
    }

    /// Inserts the signature (checked against the certificate) and returns
    /// the signed element.
    pub fn finish(self, signature_value: &[u8]) -> Result<Element, SignError> {
        let key_info = key_info_x509(&self.certificate_der);
        let signature = self
            .pending
            .finish(signature_value, &self.certificate_der, key_info)?;
        let mut element = self.element;
        element
            .children
            .insert(self.insert_at, Node::Element(signature));
        Ok(element)
    }

    /// Signs with `signer` in one go.
    pub fn sign_with(self, signer: &dyn Signer) -> Result<Element, SignError> {
        let value = self.pending.sign_with(signer)?;
        self.finish(&value)
    }
}
