//! The AuthnRequest the client sends to the platform's authentication
//! service over the SAML SOAP binding.

use time::OffsetDateTime;

use super::{
    AUTHN_CONTEXT_X509, BINDING_SOAP, PS_EHEALTH_ID_NS, PS_EHEALTH_ID_PREFIX, SamlError,
    check_version, expect, parse_instant, required_attr, required_child, saml, samlp,
};
use crate::xml::{Element, ns};
use crate::xsd_datetime;

/// A SAML 2.0 AuthnRequest naming the professional by `psEHealthID`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthnRequest {
    /// The request ID (an NCName; the Response's `InResponseTo`).
    pub id: String,
    pub issue_instant: OffsetDateTime,
    /// The requesting software (the practice software's registered id).
    pub issuer: String,
    /// The service URL, when the platform wants it stated.
    pub destination: Option<String>,
    /// The professional's eHealth identifier.
    pub ps_ehealth_id: String,
    /// The namespace of the `psEHealthID` extension element: a platform
    /// profile value ([`PS_EHEALTH_ID_NS`] in the sandbox).
    pub ps_ehealth_id_namespace: String,
    /// The authentication context class asked for (X509 by default).
    pub authn_context_class: String,
}

impl AuthnRequest {
    /// A request for X509 authentication of `ps_ehealth_id`, with the
    /// sandbox's extension namespace.
    pub fn new(id: &str, issue_instant: OffsetDateTime, issuer: &str, ps_ehealth_id: &str) -> Self {
        AuthnRequest {
            id: id.to_owned(),
            issue_instant,
            issuer: issuer.to_owned(),
            destination: None,
            ps_ehealth_id: ps_ehealth_id.to_owned(),
            ps_ehealth_id_namespace: PS_EHEALTH_ID_NS.to_owned(),
            authn_context_class: AUTHN_CONTEXT_X509.to_owned(),
        }
    }

    /// The `samlp:AuthnRequest` element, in schema order (Issuer,
    /// Extensions, RequestedAuthnContext).
    pub fn to_element(&self) -> Element {
        let mut el = samlp("AuthnRequest")
            .with_attr("ID", self.id.clone())
            .with_attr("Version", "2.0")
            .with_attr("IssueInstant", xsd_datetime::format(self.issue_instant))
            .with_attr("ProtocolBinding", BINDING_SOAP);
        if let Some(d) = &self.destination {
            el.set_attr("Destination", d.clone());
        }
        el.with_child(saml("Issuer").with_text(self.issuer.clone()))
            .with_child(
                samlp("Extensions").with_child(
                    Element::new(
                        &self.ps_ehealth_id_namespace,
                        PS_EHEALTH_ID_PREFIX,
                        "psEHealthID",
                    )
                    .with_text(self.ps_ehealth_id.clone()),
                ),
            )
            .with_child(
                samlp("RequestedAuthnContext")
                    .with_attr("Comparison", "exact")
                    .with_child(
                        saml("AuthnContextClassRef").with_text(self.authn_context_class.clone()),
                    ),
            )
    }

    /// Reads a `samlp:AuthnRequest`; the Issuer, the `psEHealthID`
    /// extension (in whatever namespace: it is reported, and the receiver
    /// checks it against its profile) and a requested authentication
    /// context are required.
    pub fn from_element(el: &Element) -> Result<Self, SamlError> {
        expect(el, ns::SAMLP, "AuthnRequest", "samlp:AuthnRequest")?;
        check_version(el, "AuthnRequest")?;
        let id = required_attr(el, "AuthnRequest", "ID")?.to_owned();
        let issue_instant = parse_instant(
            "IssueInstant",
            required_attr(el, "AuthnRequest", "IssueInstant")?,
        )?;
        let issuer = required_child(el, ns::SAML, "AuthnRequest", "Issuer")?
            .text()
            .trim()
            .to_owned();
        let extensions = required_child(el, ns::SAMLP, "AuthnRequest", "Extensions")?;
        let (ps_ehealth_id, ps_ehealth_id_namespace) = extensions
            .elements()
            .find_map(|e| match (&e.ns, e.local.as_str()) {
                (Some(uri), "psEHealthID") => Some((e.text().trim().to_owned(), uri.clone())),
                _ => None,
            })
            .ok_or(SamlError::MissingElement {
                parent: "Extensions",
                element: "psEHealthID",
            })?;
        let context = required_child(el, ns::SAMLP, "AuthnRequest", "RequestedAuthnContext")?;
        let authn_context_class = required_child(
            context,
            ns::SAML,
            "RequestedAuthnContext",
            "AuthnContextClassRef",
        )?
        .text()
        .trim()
        .to_owned();
        Ok(AuthnRequest {
            id,
            issue_instant,
            issuer,
            destination: el.attr("Destination").map(str::to_owned),
            ps_ehealth_id,
            ps_ehealth_id_namespace,
            authn_context_class,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{ParseLimits, parse, to_string};
    use time::macros::datetime;

    fn request() -> AuthnRequest {
        AuthnRequest {
            destination: Some("https://idp.example/SAML2Server/AuthenticationService".into()),
            ..AuthnRequest::new(
                "_a1b2",
                datetime!(2024-05-01 08:30 UTC),
                "urn:dspconnect:software:test",
                "2854201975",
            )
        }
    }

    #[test]
    fn round_trips_through_text() {
        let req = request();
        let text = to_string(&req.to_element());
        let back =
            AuthnRequest::from_element(&parse(text.as_bytes(), &ParseLimits::default()).unwrap())
                .unwrap();
        assert_eq!(back, req);
        assert!(
            text.contains(r#"IssueInstant="2024-05-01T08:30:00Z""#),
            "{text}"
        );
    }

    #[test]
    fn refuses_incomplete_requests() {
        let mut el = request().to_element();
        el.set_attr("Version", "1.1");
        assert_eq!(
            AuthnRequest::from_element(&el),
            Err(SamlError::UnsupportedVersion {
                found: "1.1".into()
            })
        );
        let mut el = request().to_element();
        el.children
            .retain(|n| !matches!(n, crate::xml::Node::Element(e) if e.local == "Extensions"));
        assert_eq!(
            AuthnRequest::from_element(&el),
            Err(SamlError::MissingElement {
                parent: "AuthnRequest",
                element: "Extensions"
            })
        );
        let mut el = request().to_element();
        el.set_attr("IssueInstant", "2024-05-01T08:30:00");
        assert!(matches!(
            AuthnRequest::from_element(&el),
            Err(SamlError::InvalidDateTime { .. })
        ));
        assert!(matches!(
            AuthnRequest::from_element(&Element::new(ns::SAMLP, "samlp", "Response")),
            Err(SamlError::UnexpectedElement { .. })
        ));
    }
}
