//! Namespace URIs used across the wire formats, and the prefixes we write
//! them with. Readers match on the URI, never on the prefix.

/// SOAP 1.2 envelope.
pub const SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";
/// WS-Addressing 1.0.
pub const WSA: &str = "http://www.w3.org/2005/08/addressing";
/// WS-Security 1.0 extension (Security, BinarySecurityToken).
pub const WSSE: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
/// WS-Security utility (Timestamp, `wsu:Id`).
pub const WSU: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
/// XML-DSig core.
pub const DS: &str = "http://www.w3.org/2000/09/xmldsig#";
/// Exclusive XML canonicalization 1.0 (also the InclusiveNamespaces element's namespace).
pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
/// SAML 2.0 assertion.
pub const SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
/// SAML 2.0 protocol.
pub const SAMLP: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
/// XML Schema (for `xs:string` in `xsi:type` values).
pub const XS: &str = "http://www.w3.org/2001/XMLSchema";
/// XML Schema instance (`xsi:type`).
pub const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
/// ebXML RegRep 3.0 lifecycle manager.
pub const LCM: &str = "urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0";
/// ebXML RegRep 3.0 information model.
pub const RIM: &str = "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0";
/// ebXML RegRep 3.0 registry services.
pub const RS: &str = "urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0";
/// ebXML RegRep 3.0 query manager.
pub const QUERY: &str = "urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0";
/// IHE XDS.b (ProvideAndRegister, Retrieve).
pub const XDSB: &str = "urn:ihe:iti:xds-b:2007";
/// XOP include.
pub const XOP: &str = "http://www.w3.org/2004/08/xop/include";
/// The `xml:` prefix, bound by definition.
pub const XML: &str = "http://www.w3.org/XML/1998/namespace";
/// The `xmlns:` prefix, bound by definition.
pub const XMLNS: &str = "http://www.w3.org/2000/xmlns/";
