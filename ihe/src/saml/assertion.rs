//! SAML assertions: written and signed by the sandbox IdP, read and kept
//! as a namespace-complete copy by the client, verified by both.

use time::{Duration, OffsetDateTime};

use super::{
    CONFIRMATION_BEARER, SamlError, check_version, expect, optional_instant, parse_instant,
    required_attr, required_child, saml,
};
use crate::dsig::{
    CertificateKey, DsigError, IdIndex, PendingEnvelopedSignature, SignError, Signer,
    parse_signature,
};
use crate::soap::declare_inherited_namespaces;
use crate::xml::{Element, Node, NsScope, ns};
use crate::xsd_datetime;

/// A subject's NameID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameId {
    pub value: String,
    pub format: Option<String>,
}

/// A SAML attribute with string values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SamlAttribute {
    pub name: String,
    pub name_format: Option<String>,
    pub friendly_name: Option<String>,
    pub values: Vec<String>,
}

impl SamlAttribute {
    /// An attribute with one value and no NameFormat.
    pub fn single(name: &str, value: &str) -> Self {
        SamlAttribute {
            name: name.to_owned(),
            name_format: None,
            friendly_name: None,
            values: vec![value.to_owned()],
        }
    }
}

/// What the sandbox IdP asserts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssertionSpec {
    pub id: String,
    pub issue_instant: OffsetDateTime,
    pub issuer: String,
    pub subject: NameId,
    pub not_before: OffsetDateTime,
    pub not_on_or_after: OffsetDateTime,
    pub audience: Option<String>,
    pub authn_instant: OffsetDateTime,
    pub authn_context_class: String,
    pub session_index: Option<String>,
    /// Written as `xsi:type="xs:string"` values.
    pub attributes: Vec<SamlAttribute>,
}

impl AssertionSpec {
    /// The unsigned `saml:Assertion`, in schema order. It declares `xs` and
    /// `xsi` itself, so it is namespace-complete from the start.
    pub fn to_unsigned_element(&self) -> Element {
        let instant = xsd_datetime::format;
        let mut name_id = saml("NameID").with_text(self.subject.value.clone());
        if let Some(f) = &self.subject.format {
            name_id.set_attr("Format", f.clone());
        }
        let subject = saml("Subject").with_child(name_id).with_child(
            saml("SubjectConfirmation")
                .with_attr("Method", CONFIRMATION_BEARER)
                .with_child(
                    saml("SubjectConfirmationData")
                        .with_attr("NotOnOrAfter", instant(self.not_on_or_after)),
                ),
        );
        let mut conditions = saml("Conditions")
            .with_attr("NotBefore", instant(self.not_before))
            .with_attr("NotOnOrAfter", instant(self.not_on_or_after));
        if let Some(a) = &self.audience {
            conditions.push(
                saml("AudienceRestriction").with_child(saml("Audience").with_text(a.clone())),
            );
        }
        let mut authn =
            saml("AuthnStatement").with_attr("AuthnInstant", instant(self.authn_instant));
        if let Some(s) = &self.session_index {
            authn.set_attr("SessionIndex", s.clone());
        }
        authn.push(
            saml("AuthnContext").with_child(
                saml("AuthnContextClassRef").with_text(self.authn_context_class.clone()),
            ),
        );
        let mut assertion = saml("Assertion")
            .with_decl("xs", ns::XS)
            .with_decl("xsi", ns::XSI)
            .with_attr("ID", self.id.clone())
            .with_attr("Version", "2.0")
            .with_attr("IssueInstant", instant(self.issue_instant))
            .with_child(saml("Issuer").with_text(self.issuer.clone()))
            .with_child(subject)
            .with_child(conditions)
            .with_child(authn);
        if !self.attributes.is_empty() {
            let mut statement = saml("AttributeStatement");
            for a in &self.attributes {
                let mut attr = saml("Attribute").with_attr("Name", a.name.clone());
                if let Some(f) = &a.name_format {
                    attr.set_attr("NameFormat", f.clone());
                }
                if let Some(f) = &a.friendly_name {
                    attr.set_attr("FriendlyName", f.clone());
                }
                for v in &a.values {
                    attr.push(
                        saml("AttributeValue")
                            .with_attr_ns(ns::XSI, "xsi", "type", "xs:string")
                            .with_text(v.clone()),
                    );
                }
                statement.push(attr);
            }
            assertion.push(statement);
        }
        assertion
    }

    /// Prepares the enveloped signature (placed after Issuer, as the schema
    /// requires) for the key of `certificate_der`: exc-c14n with the `xs`
    /// prefix listed, since it is used only inside `xsi:type` values.
    pub fn prepare_signature(
        &self,
        certificate_der: Vec<u8>,
    ) -> Result<PendingEnvelopedSignature, SignError> {
        PendingEnvelopedSignature::prepare(
            self.to_unsigned_element(),
            &NsScope::new(),
            &self.id,
            1,
            certificate_der,
            vec!["xs".to_owned()],
        )
    }

    /// The signed assertion, signed by `signer`.
    pub fn sign(&self, signer: &dyn Signer) -> Result<Element, SignError> {
        self.prepare_signature(signer.certificate_der().to_vec())?
            .sign_with(signer)
    }
}

/// A copy of `assertion` (whose parent's namespace scope is `parent_scope`)
/// declaring every namespace it inherited, so that moved into another
/// document (a WS-Security header) its signature still verifies.
pub fn namespace_complete_copy(assertion: &Element, parent_scope: &NsScope) -> Element {
    let mut copy = assertion.clone();
    declare_inherited_namespaces(&mut copy, parent_scope);
    copy
}

/// An assertion as the client reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assertion {
    pub id: String,
    pub issue_instant: OffsetDateTime,
    pub issuer: String,
    pub subject: NameId,
    pub subject_confirmation_method: Option<String>,
    pub not_before: Option<OffsetDateTime>,
    pub not_on_or_after: Option<OffsetDateTime>,
    pub audiences: Vec<String>,
    pub authn_instant: Option<OffsetDateTime>,
    pub authn_context_class: Option<String>,
    pub session_index: Option<String>,
    pub attributes: Vec<SamlAttribute>,
    element: Element,
}

/// An assertion is a bearer token for as long as it is valid: whoever
/// holds its XML acts as its subject. Its copy is wiped when dropped.
impl Drop for Assertion {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.element.zeroize();
        self.id.zeroize();
        self.subject.value.zeroize();
        self.session_index.zeroize();
        for attribute in &mut self.attributes {
            attribute.values.zeroize();
        }
    }
}

impl Assertion {
    /// Reads `el` (a `saml:Assertion` whose parent's namespace scope is
    /// `parent_scope`) WITHOUT checking its signature; keeps a
    /// namespace-complete copy of it. Use [`verify_assertion`] when the
    /// signature matters.
    pub fn from_element(el: &Element, parent_scope: &NsScope) -> Result<Self, SamlError> {
        expect(el, ns::SAML, "Assertion", "saml:Assertion")?;
        check_version(el, "Assertion")?;
        let id = required_attr(el, "Assertion", "ID")?.to_owned();
        let issue_instant = parse_instant(
            "IssueInstant",
            required_attr(el, "Assertion", "IssueInstant")?,
        )?;
        let issuer = required_child(el, ns::SAML, "Assertion", "Issuer")?
            .text()
            .trim()
            .to_owned();
        let subject_el = required_child(el, ns::SAML, "Assertion", "Subject")?;
        let name_id = required_child(subject_el, ns::SAML, "Subject", "NameID")?;
        let subject = NameId {
            value: name_id.text().trim().to_owned(),
            format: name_id.attr("Format").map(str::to_owned),
        };
        let subject_confirmation_method = subject_el
            .child(ns::SAML, "SubjectConfirmation")
            .and_then(|c| c.attr("Method"))
            .map(str::to_owned);

        let (mut not_before, mut not_on_or_after, mut audiences) = (None, None, Vec::new());
        if let Some(c) = el.child(ns::SAML, "Conditions") {
            not_before = optional_instant(c, "Conditions/NotBefore", "NotBefore")?;
            not_on_or_after = optional_instant(c, "Conditions/NotOnOrAfter", "NotOnOrAfter")?;
            audiences = c
                .children_named(ns::SAML, "AudienceRestriction")
                .flat_map(|r| r.children_named(ns::SAML, "Audience"))
                .map(|a| a.text().trim().to_owned())
                .collect();
        }
        let (mut authn_instant, mut authn_context_class, mut session_index) = (None, None, None);
        if let Some(a) = el.child(ns::SAML, "AuthnStatement") {
            authn_instant = optional_instant(a, "AuthnInstant", "AuthnInstant")?;
            session_index = a.attr("SessionIndex").map(str::to_owned);
            authn_context_class = a
                .child(ns::SAML, "AuthnContext")
                .and_then(|c| c.child(ns::SAML, "AuthnContextClassRef"))
                .map(|r| r.text().trim().to_owned());
        }
        let mut attributes = Vec::new();
        for statement in el.children_named(ns::SAML, "AttributeStatement") {
            for a in statement.children_named(ns::SAML, "Attribute") {
                attributes.push(SamlAttribute {
                    name: required_attr(a, "Attribute", "Name")?.to_owned(),
                    name_format: a.attr("NameFormat").map(str::to_owned),
                    friendly_name: a.attr("FriendlyName").map(str::to_owned),
                    values: a
                        .children_named(ns::SAML, "AttributeValue")
                        .map(Element::text)
                        .collect(),
                });
            }
        }
        Ok(Assertion {
            id,
            issue_instant,
            issuer,
            subject,
            subject_confirmation_method,
            not_before,
            not_on_or_after,
            audiences,
            authn_instant,
            authn_context_class,
            session_index,
            attributes,
            element: namespace_complete_copy(el, parent_scope),
        })
    }

    /// The namespace-complete assertion element, to put as is into the
    /// WS-Security header of later calls.
    pub fn element(&self) -> &Element {
        &self.element
    }

    /// The element, handed over (the assertion's own copy is wiped when it
    /// drops: the caller now holds the token).
    pub fn into_element(self) -> Element {
        self.element.clone()
    }

    /// The first attribute named `name`.
    pub fn attribute(&self, name: &str) -> Option<&SamlAttribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    /// Checks the Conditions validity period against `now`, allowing
    /// `max_clock_skew` either way.
    pub fn check_validity(
        &self,
        now: OffsetDateTime,
        max_clock_skew: Duration,
    ) -> Result<(), SamlError> {
        if let Some(nb) = self.not_before
            && now + max_clock_skew < nb
        {
            return Err(SamlError::NotYetValid {
                not_before: nb,
                now,
            });
        }
        if let Some(noa) = self.not_on_or_after
            && now >= noa + max_clock_skew
        {
            return Err(SamlError::Expired {
                not_on_or_after: noa,
                now,
            });
        }
        Ok(())
    }

    /// Verifies this assertion's signature with the IdP's certificate (the
    /// copy is namespace-complete, so no outer scope is needed).
    pub fn verify(&self, idp_certificate_der: &[u8]) -> Result<(), SamlError> {
        verify_assertion(&self.element, &NsScope::new(), idp_certificate_der).map(|_| ())
    }
}

/// Verifies the enveloped signature of `assertion` (whose parent's
/// namespace scope is `parent_scope`) with the IdP's certificate, then
/// reads it.
///
/// Required: exactly one `ds:Signature` as a direct child of the assertion;
/// exactly one Reference, to the assertion's own `ID`, with the transforms
/// `[enveloped-signature, exc-c14n]`; no ID carried twice inside the
/// assertion; the XML-DSig subset of [`crate::dsig`]. The `KeyInfo` is not
/// used: the key is the IdP's, given by the caller. Because the checked
/// element is the one returned, moving a signed assertion elsewhere cannot
/// make another one pass.
pub fn verify_assertion(
    assertion: &Element,
    parent_scope: &NsScope,
    idp_certificate_der: &[u8],
) -> Result<Assertion, SamlError> {
    expect(assertion, ns::SAML, "Assertion", "saml:Assertion")?;
    let id = required_attr(assertion, "Assertion", "ID")?;
    let signatures: Vec<usize> = assertion
        .children
        .iter()
        .enumerate()
        .filter_map(|(i, n)| match n {
            Node::Element(e) if e.is(ns::DS, "Signature") => Some(i),
            _ => None,
        })
        .collect();
    let signature_index = match signatures.as_slice() {
        [one] => *one,
        [] => return Err(SamlError::NotSigned),
        many => return Err(SamlError::MultipleSignatures { count: many.len() }),
    };
    let Some(Node::Element(signature)) = assertion.children.get(signature_index) else {
        return Err(SamlError::NotSigned);
    };
    IdIndex::build(assertion).map_err(DsigError::from)?;
    let parsed = parse_signature(signature)?;
    let reference = match parsed.references.as_slice() {
        [one] => one,
        many => {
            return Err(SamlError::SignatureReferenceCount { count: many.len() });
        }
    };
    if reference.id != id {
        return Err(SamlError::SignatureReferenceMismatch {
            expected: id.to_owned(),
            found: reference.id.clone(),
        });
    }
    if !reference.enveloped {
        return Err(SamlError::SignatureNotEnveloped);
    }
    let mut without_signature = assertion.clone();
    without_signature.children.remove(signature_index);
    reference.check_digest(&without_signature, parent_scope)?;
    let key = CertificateKey::from_certificate(idp_certificate_der).map_err(DsigError::from)?;
    parsed.verify_value(signature, &parent_scope.inside(assertion), &key)?;
    Assertion::from_element(assertion, parent_scope)
}
