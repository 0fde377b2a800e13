//! Test keys (ihe/tests/data/keys, made with openssl: see the README there)
//! and `xmlsec1`, the independent XML-DSig implementation our signatures
//! are judged against.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use ihe::dsig::{EcdsaP256SoftwareSigner, RsaSoftwareSigner};
use ihe::xml::ns;

pub fn key_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/keys")
}

pub fn cert_pem_path(name: &str) -> PathBuf {
    key_dir().join(format!("{name}.cert.pem"))
}

pub fn key_pem_path(name: &str) -> PathBuf {
    key_dir().join(format!("{name}.key.pem"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The DER of a PEM block.
pub fn pem_to_der(pem: &str) -> Vec<u8> {
    let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).expect("PEM block");
    block.contents
}

pub fn der_to_pem(der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

pub fn cert_der(name: &str) -> Vec<u8> {
    pem_to_der(&read(&cert_pem_path(name)))
}

pub fn rsa_signer(name: &str) -> RsaSoftwareSigner {
    RsaSoftwareSigner::from_pkcs8_pem(&read(&key_pem_path(name)), cert_der(name))
        .expect("RSA test key")
}

pub fn p256_signer(name: &str) -> EcdsaP256SoftwareSigner {
    EcdsaP256SoftwareSigner::from_pkcs8_pem(&read(&key_pem_path(name)), cert_der(name))
        .expect("P-256 test key")
}

/// `--id-attr` options for a WS-Security envelope: `wsu:Id` on Body and
/// Timestamp, `Id` on BinarySecurityToken.
pub fn envelope_id_attrs() -> Vec<(String, String)> {
    vec![
        ("Id".into(), format!("{}:Body", ns::SOAP12)),
        ("Id".into(), format!("{}:Timestamp", ns::WSU)),
        ("Id".into(), format!("{}:BinarySecurityToken", ns::WSSE)),
    ]
}

/// `--id-attr` option for SAML assertions.
pub fn assertion_id_attrs() -> Vec<(String, String)> {
    vec![("ID".into(), format!("{}:Assertion", ns::SAML))]
}

fn xmlsec1(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new("xmlsec1")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run xmlsec1 ({e}): install the Debian package xmlsec1"))
}

fn temp_with(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().expect("temporary file");
    f.write_all(bytes).expect("write temporary file");
    f
}

/// `xmlsec1 --verify` with the certificate `cert_der` as the key; `node`
/// is an XPath selecting the ds:Signature to check (default: the first one
/// in the document). `Err` holds xmlsec1's output.
pub fn xmlsec1_verify(
    xml: &[u8],
    cert_der: &[u8],
    id_attrs: &[(String, String)],
    node: Option<&str>,
) -> Result<(), String> {
    let doc = temp_with(xml);
    let cert = temp_with(der_to_pem(cert_der).as_bytes());
    let mut args: Vec<std::ffi::OsString> = vec!["--verify".into()];
    args.push("--pubkey-cert-pem".into());
    args.push(cert.path().into());
    for (attr, node) in id_attrs {
        args.push(format!("--id-attr:{attr}").into());
        args.push(node.into());
    }
    if let Some(xpath) = node {
        args.push("--node-xpath".into());
        args.push(xpath.into());
    }
    args.push(doc.path().into());
    let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    let out = xmlsec1(&refs);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() && text.contains("OK") {
        Ok(())
    } else {
        Err(text)
    }
}

/// `xmlsec1 --sign` of a template (empty DigestValue/SignatureValue) with
/// the key `name`. Panics when xmlsec1 refuses: a template is test input.
pub fn xmlsec1_sign(template: &[u8], name: &str, id_attrs: &[(String, String)]) -> Vec<u8> {
    let doc = temp_with(template);
    let out_file = tempfile::NamedTempFile::new().expect("temporary file");
    let mut args: Vec<std::ffi::OsString> = vec!["--sign".into(), "--privkey-pem".into()];
    args.push(key_pem_path(name).into());
    for (attr, node) in id_attrs {
        args.push(format!("--id-attr:{attr}").into());
        args.push(node.into());
    }
    args.push("--output".into());
    args.push(out_file.path().into());
    args.push(doc.path().into());
    let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    let out = xmlsec1(&refs);
    assert!(
        out.status.success(),
        "xmlsec1 --sign failed: {}\ntemplate:\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(template)
    );
    std::fs::read(out_file.path()).expect("signed output")
}

// ------------------------------------------------------------ tree surgery

use ihe::xml::{Element, Node, ParseLimits};

pub fn parse_doc(doc: &[u8]) -> Element {
    ihe::xml::parse(doc, &ParseLimits::SOAP).expect("test document parses")
}

pub fn write_doc(el: &Element) -> Vec<u8> {
    ihe::xml::to_document(el)
}

/// The first direct child `{ns}local`, mutably.
pub fn child_mut<'a>(parent: &'a mut Element, ns: &str, local: &str) -> &'a mut Element {
    parent
        .elements_mut()
        .find(|e| e.is(ns, local))
        .unwrap_or_else(|| panic!("no {{{ns}}}{local}"))
}

/// Removes and returns the first direct child `{ns}local`.
pub fn take_child(parent: &mut Element, ns: &str, local: &str) -> (usize, Element) {
    let i = parent
        .children
        .iter()
        .position(|n| matches!(n, Node::Element(e) if e.is(ns, local)))
        .unwrap_or_else(|| panic!("no {{{ns}}}{local}"));
    match parent.children.remove(i) {
        Node::Element(e) => (i, e),
        Node::Text(_) => unreachable!("position matched an element"),
    }
}

pub fn header_mut(envelope: &mut Element) -> &mut Element {
    child_mut(envelope, ns::SOAP12, "Header")
}

pub fn security_mut(envelope: &mut Element) -> &mut Element {
    child_mut(header_mut(envelope), ns::WSSE, "Security")
}

/// A header block `<w:Wrapper>` holding `inner`.
pub fn wrapper(inner: Element) -> Element {
    Element::new("urn:attacker", "w", "Wrapper").with_child(inner)
}

/// The certificate in the first BinarySecurityToken of `doc` (what our
/// verifier uses as the key; xmlsec1 is given the same one).
pub fn token_certificate(doc: &[u8]) -> Vec<u8> {
    use base64::Engine;
    let root = parse_doc(doc);
    let token = root
        .descendants()
        .find(|e| e.is(ns::WSSE, "BinarySecurityToken"))
        .expect("a BinarySecurityToken");
    let text: String = token.text().split_ascii_whitespace().collect();
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("token base64")
}
