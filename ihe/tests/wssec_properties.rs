//! Property tests of sign → write → parse → verify over generated
//! payloads (names, namespaces, attributes and text with characters that
//! need escaping): the message always verifies, the payload comes back
//! unchanged, and changing any one text node of the signed Body is caught.

mod signing;

use ihe::dsig::DsigError;
use ihe::soap::Envelope;
use ihe::wssec::{
    SecurityIds, SecurityParams, Timestamp, WsSecurityError, sign_envelope, verify_signed_envelope,
};
use ihe::xml::{Element, Node, NsScope, ParseLimits, exclusive_c14n};
use proptest::prelude::*;
use signing::*;
use time::Duration;
use time::macros::datetime;
use uuid::Uuid;

fn arb_text() -> impl Strategy<Value = String> {
    "[a-z &<>\"'\t\n\r\u{e9}\u{20ac}\u{1f600}]{0,12}"
}

fn arb_element() -> impl Strategy<Value = Element> {
    let leaf = (
        prop::sample::select(vec!["", "p", "q"]),
        prop::sample::select(vec!["urn:a", "urn:b"]),
        "[a-z][a-z0-9]{0,5}",
        prop::collection::vec(("[a-z][a-z0-9]{0,4}", arb_text()), 0..3),
        arb_text(),
    )
        .prop_map(|(prefix, ns, local, attrs, text)| {
            let mut e = Element::new(ns, prefix, &local);
            for (name, value) in attrs {
                e.set_attr(&name, value);
            }
            if !text.is_empty() {
                e.push_text(text);
            }
            e
        });
    leaf.prop_recursive(3, 16, 3, |inner| {
        (inner.clone(), prop::collection::vec(inner, 0..3)).prop_map(|(mut e, kids)| {
            for k in kids {
                e.push(k);
            }
            e
        })
    })
}

fn sign(payload: Element) -> Vec<u8> {
    let params = SecurityParams {
        timestamp: Timestamp::new(datetime!(2024-05-01 08:30 UTC), Duration::minutes(5)),
        ids: SecurityIds::from_uuid(Uuid::from_u128(5)),
        assertion: None,
    };
    // ECDSA: fast enough in debug builds for many cases.
    sign_envelope(
        Envelope::new(payload),
        params,
        &p256_signer("professional-p256"),
    )
    .unwrap()
    .to_bytes()
}

/// Appends "x" to the `n`-th text node (depth first) of the Body, if any.
fn change_nth_text(el: &mut Element, n: &mut usize) -> bool {
    for child in &mut el.children {
        match child {
            Node::Text(t) => {
                if *n == 0 {
                    t.push('x');
                    return true;
                }
                *n -= 1;
            }
            Node::Element(e) => {
                if change_nth_text(e, n) {
                    return true;
                }
            }
        }
    }
    false
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn signed_messages_verify_and_keep_their_payload(payload in arb_element()) {
        let doc = sign(payload.clone());
        let verified = verify_signed_envelope(&doc, &ParseLimits::SOAP)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{}", String::from_utf8_lossy(&doc))))?;
        let back = verified.payload().unwrap();
        prop_assert_eq!(
            exclusive_c14n(back, &NsScope::new(), &[]),
            exclusive_c14n(&payload, &NsScope::new(), &[])
        );
    }

    #[test]
    fn any_changed_text_in_the_body_is_caught(payload in arb_element(), pick in 0usize..8) {
        let doc = sign(payload);
        let mut root = parse_doc(&doc);
        let body = child_mut(&mut root, ihe::xml::ns::SOAP12, "Body");
        let texts = body.descendants().map(|e| e.children.iter().filter(|n| matches!(n, Node::Text(_))).count()).sum::<usize>();
        prop_assume!(texts > 0);
        let mut n = pick % texts;
        prop_assert!(change_nth_text(body, &mut n));
        let result = verify_signed_envelope(&write_doc(&root), &ParseLimits::SOAP);
        prop_assert!(
            matches!(result, Err(WsSecurityError::Signature(DsigError::DigestMismatch { .. }))),
            "{:?}", result
        );
    }
}
