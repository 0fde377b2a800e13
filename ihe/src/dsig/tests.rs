//! Unit tests of the XML-DSig layer: keys, software signers and the strict
//! parsing of `ds:Signature`. End-to-end checks against xmlsec1 are in
//! `ihe/tests/`.

use super::*;
use crate::xml::{ParseLimits, parse_str};

fn pem_der(pem: &str) -> Vec<u8> {
    x509_parser::pem::parse_x509_pem(pem.as_bytes())
        .expect("PEM")
        .1
        .contents
}

const RSA_CERT: &str = include_str!("../../tests/data/keys/professional-rsa.cert.pem");
const RSA_KEY: &str = include_str!("../../tests/data/keys/professional-rsa.key.pem");
const P256_CERT: &str = include_str!("../../tests/data/keys/professional-p256.cert.pem");
const P256_KEY: &str = include_str!("../../tests/data/keys/professional-p256.key.pem");
const P384_CERT: &str = include_str!("../../tests/data/keys/unsupported-p384.cert.pem");
const OTHER_CERT: &str = include_str!("../../tests/data/keys/intruder-rsa.cert.pem");

#[test]
fn certificate_keys_by_type() {
    let rsa = CertificateKey::from_certificate(&pem_der(RSA_CERT)).unwrap();
    assert_eq!(rsa.algorithm(), SignatureAlgorithm::RsaSha256);
    let ec = CertificateKey::from_certificate(&pem_der(P256_CERT)).unwrap();
    assert_eq!(ec.algorithm(), SignatureAlgorithm::EcdsaP256Sha256);
    assert_eq!(ec.public_key_bytes().len(), 65);
    assert_eq!(
        CertificateKey::from_certificate(&pem_der(P384_CERT)),
        Err(CertificateError::UnsupportedCurve {
            curve: "1.3.132.0.34".into()
        })
    );
    assert!(matches!(
        CertificateKey::from_certificate(b"not a certificate"),
        Err(CertificateError::Unparsable { .. })
    ));
    let mut trailing = pem_der(RSA_CERT);
    trailing.extend_from_slice(b"xx");
    assert_eq!(
        CertificateKey::from_certificate(&trailing),
        Err(CertificateError::TrailingData { extra: 2 })
    );
}

#[test]
fn software_signers_sign_digests_their_certificate_verifies() {
    let message = b"<ds:SignedInfo>...</ds:SignedInfo>";
    let digest = sha256(message);
    let rsa = RsaSoftwareSigner::from_pkcs8_pem(RSA_KEY, pem_der(RSA_CERT)).unwrap();
    let sig = rsa
        .sign_prehashed(SignatureAlgorithm::RsaSha256, &digest)
        .unwrap();
    let key = CertificateKey::from_certificate(rsa.certificate_der()).unwrap();
    assert!(key.verifies(message, &sig));
    assert!(!key.verifies(b"another message", &sig));

    let ec = EcdsaP256SoftwareSigner::from_pkcs8_pem(P256_KEY, pem_der(P256_CERT)).unwrap();
    let sig = ec
        .sign_prehashed(SignatureAlgorithm::EcdsaP256Sha256, &digest)
        .unwrap();
    assert_eq!(sig.len(), 64);
    let key = CertificateKey::from_certificate(ec.certificate_der()).unwrap();
    assert!(key.verifies(message, &sig));

    assert!(matches!(
        ec.sign_prehashed(SignatureAlgorithm::RsaSha256, &digest),
        Err(SignerError::UnsupportedAlgorithm { .. })
    ));
    assert!(matches!(
        rsa.sign_prehashed(SignatureAlgorithm::RsaSha256, &digest[..20]),
        Err(SignerError::DigestLength { actual: 20 })
    ));
    let debug = format!("{rsa:?} {ec:?}");
    assert_eq!(debug.matches("<redacted>").count(), 2, "{debug}");
}

#[test]
fn software_signers_refuse_a_certificate_of_another_key() {
    assert!(matches!(
        RsaSoftwareSigner::from_pkcs8_pem(RSA_KEY, pem_der(OTHER_CERT)),
        Err(SignerError::KeyCertificateMismatch)
    ));
    assert!(matches!(
        EcdsaP256SoftwareSigner::from_pkcs8_pem(P256_KEY, pem_der(RSA_CERT)),
        Err(SignerError::KeyCertificateMismatch)
    ));
    assert!(matches!(
        RsaSoftwareSigner::from_pkcs8_pem("garbage", pem_der(RSA_CERT)),
        Err(SignerError::InvalidKey { .. })
    ));
}

#[test]
fn ncname_ids() {
    for ok in ["_a", "body-1", "ts-0f.x", "é1"] {
        assert!(is_ncname(ok), "{ok}");
    }
    for bad in ["", "1a", "-a", "a:b", "a b", "#a"] {
        assert!(!is_ncname(bad), "{bad}");
    }
}

// ------------------------------------------------------------ parsing

const DIGEST: &str = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";

fn signature_xml(c14n: &str, method: &str, reference: &str, extra_after_key_info: &str) -> String {
    format!(
        r#"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
  <ds:SignedInfo>
    {c14n}
    {method}
    {reference}
  </ds:SignedInfo>
  <ds:SignatureValue>AAEC
  AwQ=</ds:SignatureValue>
  <ds:KeyInfo></ds:KeyInfo>{extra_after_key_info}
</ds:Signature>"#
    )
}

const C14N: &str =
    r#"<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>"#;
const RSA: &str =
    r#"<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>"#;

fn reference(uri: &str, transforms: &str, digest_method: &str, digest: &str) -> String {
    format!(
        r#"<ds:Reference URI="{uri}"><ds:Transforms>{transforms}</ds:Transforms><ds:DigestMethod Algorithm="{digest_method}"/><ds:DigestValue>{digest}</ds:DigestValue></ds:Reference>"#
    )
}

const EXC: &str = r#"<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>"#;

fn good_reference() -> String {
    reference("#body-1", EXC, ALG_SHA256, DIGEST)
}

fn parse_sig(xml: &str) -> Result<ParsedSignature, DsigError> {
    parse_signature(&parse_str(xml, &ParseLimits::default()).unwrap())
}

fn is_malformed(r: Result<ParsedSignature, DsigError>) -> bool {
    matches!(r, Err(DsigError::MalformedSignature { .. }))
}

#[test]
fn parses_the_accepted_subset() {
    let with_list = reference(
        "#a",
        r#"<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"><ec:InclusiveNamespaces xmlns:ec="http://www.w3.org/2001/10/xml-exc-c14n#" PrefixList="xs  #default"/></ds:Transform>"#,
        ALG_SHA256,
        DIGEST,
    );
    let parsed = parse_sig(&signature_xml(C14N, RSA, &with_list, "")).unwrap();
    assert_eq!(parsed.algorithm, SignatureAlgorithm::RsaSha256);
    assert_eq!(parsed.signature_value, vec![0, 1, 2, 3, 4]);
    let r = &parsed.references[0];
    assert_eq!(r.id, "a");
    assert!(r.enveloped);
    assert_eq!(
        r.inclusive_prefixes,
        vec!["xs".to_owned(), "#default".to_owned()]
    );
}

#[test]
fn refuses_what_is_outside_the_subset() {
    let r = good_reference();
    // ds:Object, HMACOutputLength, text in SignedInfo
    assert!(is_malformed(parse_sig(&signature_xml(
        C14N,
        RSA,
        &r,
        "<ds:Object>x</ds:Object>"
    ))));
    assert!(is_malformed(parse_sig(&signature_xml(
        C14N,
        r#"<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"><ds:HMACOutputLength>8</ds:HMACOutputLength></ds:SignatureMethod>"#,
        &r,
        ""
    ))));
    assert!(is_malformed(parse_sig(&signature_xml(
        C14N,
        RSA,
        &format!("text{r}"),
        ""
    ))));
    assert!(is_malformed(parse_sig(&signature_xml(C14N, RSA, "", ""))));
    assert!(is_malformed(parse_sig(&signature_xml(RSA, C14N, &r, ""))));
    // algorithms
    assert!(matches!(
        parse_sig(&signature_xml(
            r#"<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#WithComments"/>"#,
            RSA,
            &r,
            ""
        )),
        Err(DsigError::UnsupportedCanonicalization { .. })
    ));
    assert!(matches!(
        parse_sig(&signature_xml(
            C14N,
            r#"<ds:SignatureMethod Algorithm="http://www.w3.org/2000/09/xmldsig#hmac-sha1"/>"#,
            &r,
            ""
        )),
        Err(DsigError::UnsupportedSignatureMethod { .. })
    ));
    let xpath = r#"<ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116"><ds:XPath>1</ds:XPath></ds:Transform>"#;
    for transforms in [
        String::new(),
        xpath.to_owned(),
        format!("{EXC}{EXC}"),
        format!("{EXC}{xpath}"),
        r#"<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>"#
            .to_owned(),
    ] {
        assert!(
            matches!(
                parse_sig(&signature_xml(
                    C14N,
                    RSA,
                    &reference("#a", &transforms, ALG_SHA256, DIGEST),
                    ""
                )),
                Err(DsigError::UnsupportedTransforms { .. })
            ),
            "{transforms}"
        );
    }
    assert!(matches!(
        parse_sig(&signature_xml(
            C14N,
            RSA,
            &reference("#a", EXC, "http://www.w3.org/2000/09/xmldsig#sha1", DIGEST),
            ""
        )),
        Err(DsigError::UnsupportedDigestMethod { .. })
    ));
    // references
    for uri in ["", "#", "#xpointer(/)", "http://example/#a", "a"] {
        assert!(
            matches!(
                parse_sig(&signature_xml(
                    C14N,
                    RSA,
                    &reference(uri, EXC, ALG_SHA256, DIGEST),
                    ""
                )),
                Err(DsigError::UnsupportedReferenceUri { .. })
            ),
            "{uri}"
        );
    }
    let no_uri = good_reference().replace(r##"URI="#body-1""##, "");
    assert!(is_malformed(parse_sig(&signature_xml(
        C14N, RSA, &no_uri, ""
    ))));
    let no_transforms = format!(
        r##"<ds:Reference URI="#a"><ds:DigestMethod Algorithm="{ALG_SHA256}"/><ds:DigestValue>{DIGEST}</ds:DigestValue></ds:Reference>"##
    );
    assert!(is_malformed(parse_sig(&signature_xml(
        C14N,
        RSA,
        &no_transforms,
        ""
    ))));
    // values
    assert_eq!(
        parse_sig(&signature_xml(
            C14N,
            RSA,
            &reference("#a", EXC, ALG_SHA256, "!!"),
            ""
        )),
        Err(DsigError::InvalidBase64 {
            field: "DigestValue"
        })
    );
    assert_eq!(
        parse_sig(&signature_xml(
            C14N,
            RSA,
            &reference("#a", EXC, ALG_SHA256, "AAAA"),
            ""
        )),
        Err(DsigError::DigestValueLength {
            id: "a".into(),
            length: 3
        })
    );
    let bad_value = signature_xml(C14N, RSA, &r, "").replace("AAEC", "A*EC");
    assert_eq!(
        parse_sig(&bad_value),
        Err(DsigError::InvalidBase64 {
            field: "SignatureValue"
        })
    );
}

#[test]
fn id_index_finds_each_kind_of_id_and_refuses_duplicates() {
    let doc = r#"<r xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">
        <a wsu:Id="w"/><b Id="i"/><c ID="s"/><d xml:id="x"/><e id="lower"/></r>"#;
    let root = parse_str(doc, &ParseLimits::default()).unwrap();
    let index = IdIndex::build(&root).unwrap();
    for (id, local) in [("w", "a"), ("i", "b"), ("s", "c"), ("x", "d")] {
        let path = index.resolve(id).unwrap();
        assert_eq!(element_at(&root, path).unwrap().local, local);
    }
    // Lower-case id is data (ebRIM), not an XML-DSig target.
    assert_eq!(index.resolve("lower"), None);
    let dup = parse_str(
        r#"<r><a ID="x"/><b><c Id="x"/></b></r>"#,
        &ParseLimits::default(),
    )
    .unwrap();
    assert_eq!(
        IdIndex::build(&dup).unwrap_err(),
        DuplicateIdError { id: "x".into() }
    );
    let same_element = parse_str(r#"<r Id="x" ID="x"/>"#, &ParseLimits::default()).unwrap();
    assert!(IdIndex::build(&same_element).is_err());
}
