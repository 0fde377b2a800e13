//! The registry of fuzz targets: one line per reader in [`TARGETS`].
//!
//! A target takes arbitrary bytes and panics only when an invariant breaks
//! (a reader error is a fine outcome, a crash or a wrong answer is not).
//! This file is shared: the libFuzzer binary (`fuzz/fuzz_targets/`) and the
//! seed replay test (`ihe/tests/fuzz_seeds.rs`, which includes it with
//! `#[path]`) both run it, so it may use only `ihe` and `std`.

use ihe::mtom::{
    MtomContentType, MtomEvent, MtomLimits, MtomParser, content_id_from_href, href_for_content_id,
};
use ihe::xds::{
    AdhocQueryRequest, AdhocQueryResponse, ProvideAndRegisterRequest, RegistryResponse,
    RetrieveDocumentSetRequest, RetrieveDocumentSetResponse, SubmitObjectsRequest, XdsMessage,
};
use ihe::xml::{self, Element, NsScope, ParseLimits};

/// A named fuzz target; its seeds live in `fuzz/seeds/<name>/`.
pub struct Target {
    pub name: &'static str,
    pub run: fn(&[u8]),
}

impl Target {
    pub const fn new(name: &'static str, run: fn(&[u8])) -> Target {
        Target { name, run }
    }
}

/// Every fuzz target. To add a reader (SOAP, SAML, ebRIM…), add one line,
/// e.g. `Target::new("soap", |data| drop(ihe::soap::…(data))),`, and a few
/// seed files under `fuzz/seeds/<name>/`.
pub const TARGETS: &[Target] = &[
    Target::new("xml", xml_round_trip),
    Target::new("mtom", mtom_any_chunking),
    Target::new("mtom_header", mtom_header_and_cid),
    Target::new("soap", soap_and_wssec),
    Target::new("saml", saml_readers),
    Target::new("xds", xds_round_trip),
];

/// Small limits, so that the fuzzer reaches every limit check.
const XML_LIMITS: ParseLimits = ParseLimits {
    max_bytes: 64 * 1024,
    max_depth: 32,
    max_elements: 2_000,
    max_attributes: 16,
};

/// `ihe::xml::parse`: whatever parses must survive `to_string` and a
/// second parse with the same exclusive canonical form.
fn xml_round_trip(data: &[u8]) {
    let Ok(tree) = xml::parse(data, &XML_LIMITS) else {
        return;
    };
    let written = xml::to_string(&tree);
    let reparsed = match xml::parse(written.as_bytes(), &ParseLimits::SOAP) {
        Ok(reparsed) => reparsed,
        Err(error) => panic!("our own output does not parse: {error}\n{written}"),
    };
    let scope = NsScope::new();
    assert_eq!(
        xml::exclusive_c14n(&tree, &scope, &[]),
        xml::exclusive_c14n(&reparsed, &scope, &[]),
        "c14n changed through to_string + parse:\n{written}"
    );
}

const MTOM_LIMITS: MtomLimits = MtomLimits {
    max_header_bytes: 512,
    max_parts: 8,
    max_root_bytes: 4096,
    max_preamble_bytes: 64,
};

/// What a parse produced, independent of how the input was chunked.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    /// (Content-ID, root?, bytes delivered or collected) per part.
    parts: Vec<(String, bool, Vec<u8>)>,
    result: Result<(), ihe::mtom::MtomParseError>,
}

fn parse_mtom(content_type: &str, body: &[u8], chunk: usize) -> Option<Outcome> {
    let mut parser = MtomParser::new(content_type, MTOM_LIMITS).ok()?;
    let mut parts: Vec<(String, bool, Vec<u8>)> = Vec::new();
    let mut pieces = body.chunks(chunk.max(1));
    let result = loop {
        let input_ended = match pieces.next() {
            Some(piece) => {
                parser.feed(piece);
                false
            }
            None => {
                parser.end_input();
                true
            }
        };
        let mut finished = false;
        let pulled = loop {
            match parser.next_event() {
                Ok(None) => break Ok(()),
                Err(error) => break Err(error),
                Ok(Some(MtomEvent::PartStart(part))) => {
                    assert_eq!(part.index, parts.len(), "parts numbered in order");
                    parts.push((part.content_id.clone(), part.is_root, Vec::new()));
                }
                Ok(Some(MtomEvent::AttachmentData { part, data })) => {
                    assert!(!part.is_root, "root bytes are collected, not streamed");
                    assert!(!data.is_empty(), "no empty data events");
                    if let Some(last) = parts.last_mut() {
                        last.2.extend_from_slice(data);
                    }
                }
                Ok(Some(MtomEvent::PartEnd(part))) => {
                    let (length, is_root) = (part.length, part.is_root);
                    let root_body = parser.root_body().map(<[u8]>::to_vec);
                    let Some(last) = parts.last_mut() else {
                        panic!("PartEnd without PartStart");
                    };
                    if is_root {
                        last.2 = root_body.expect("root body available at its PartEnd");
                        assert!(last.2.len() <= MTOM_LIMITS.max_root_bytes);
                    }
                    assert_eq!(length, last.2.len() as u64, "part length");
                }
                Ok(Some(MtomEvent::End)) => finished = true,
            }
        };
        if let Err(error) = pulled {
            break Err(error);
        }
        if finished {
            let message = parser.into_message();
            assert!(message.is_ok(), "End but no message: {message:?}");
            break Ok(());
        }
        assert!(!input_ended, "the parser asked for input after end_input");
    };
    assert!(parts.len() <= MTOM_LIMITS.max_parts);
    Some(Outcome { parts, result })
}

/// The MTOM parser: input is `<Content-Type value>\n<body>`. Whole,
/// byte by byte, and in odd chunks, the outcome (parts, bytes, error) must
/// be the same.
fn mtom_any_chunking(data: &[u8]) {
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let Ok(content_type) = std::str::from_utf8(&data[..split]) else {
        return;
    };
    let body = data.get(split + 1..).unwrap_or_default();
    let Some(whole) = parse_mtom(content_type, body, usize::MAX) else {
        return;
    };
    for chunk in [1, body.len() % 61 + 2] {
        let chunked = parse_mtom(content_type, body, chunk);
        assert_eq!(chunked.as_ref(), Some(&whole), "chunk size {chunk}");
    }
}

/// The Content-Type header parser and `cid:` URLs: what parses is written
/// back to something that parses to the same value.
fn mtom_header_and_cid(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(header) = MtomContentType::parse(text)
        && let Ok(written) = header.to_header_value()
    {
        assert_eq!(
            MtomContentType::parse(&written).as_ref(),
            Ok(&header),
            "{written}"
        );
    }
    if let Ok(id) = content_id_from_href(text) {
        let href = href_for_content_id(&id);
        assert_eq!(content_id_from_href(&href).as_ref(), Ok(&id), "{href}");
    }
}

/// `ihe::soap` and `ihe::wssec`: the envelope reader and the signature
/// verifier refuse or accept; they never panic.
fn soap_and_wssec(data: &[u8]) {
    if let Ok(envelope) = ihe::soap::Envelope::parse(data, &XML_LIMITS) {
        let _ = envelope.payload();
        let _ = ihe::soap::Addressing::from_headers(&envelope.headers);
    }
    let _ = ihe::wssec::verify_signed_envelope(data, &XML_LIMITS);
}

/// `ihe::saml`: AuthnRequest, Response and Assertion readers.
fn saml_readers(data: &[u8]) {
    let Ok(root) = xml::parse(data, &XML_LIMITS) else {
        return;
    };
    let scope = NsScope::new();
    let _ = ihe::saml::AuthnRequest::from_element(&root);
    let _ = ihe::saml::Response::from_element(&root, &scope);
    let _ = ihe::saml::Assertion::from_element(&root, &scope);
}

/// `ihe::xds`: whatever one of the ebRIM/XDS readers accepts is written back
/// and read again to the same value.
fn xds_round_trip(data: &[u8]) {
    let Ok(root) = xml::parse(data, &XML_LIMITS) else {
        return;
    };
    round_trip::<SubmitObjectsRequest>(&root);
    round_trip::<ProvideAndRegisterRequest>(&root);
    round_trip::<AdhocQueryRequest>(&root);
    round_trip::<AdhocQueryResponse>(&root);
    round_trip::<RegistryResponse>(&root);
    round_trip::<RetrieveDocumentSetRequest>(&root);
    round_trip::<RetrieveDocumentSetResponse>(&root);
}

fn round_trip<M: XdsMessage + PartialEq + std::fmt::Debug>(root: &Element) {
    let Ok(message) = M::from_element(root) else {
        return;
    };
    // Content XML 1.0 cannot carry is refused by the writer: fine.
    let Ok(written) = message.to_element() else {
        return;
    };
    match M::from_element(&written) {
        Ok(again) => assert_eq!(message, again, "changed through write + read"),
        Err(error) => panic!("our own output does not read back: {error}"),
    }
}
