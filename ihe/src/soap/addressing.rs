//! WS-Addressing 1.0 headers (SOAP binding) as IHE ITI TF-2x V.3.2 uses
//! them: `Action` and `To` with `mustUnderstand`, a `urn:uuid:` MessageID,
//! an anonymous `ReplyTo` on requests (synchronous exchange), `RelatesTo`
//! on responses.

use uuid::Uuid;

use super::{SOAP_PREFIX, SoapError};
use crate::xml::{Element, ns};

/// The prefix we write the WS-Addressing namespace with.
const WSA_PREFIX: &str = "wsa";

/// The address meaning "answer on the same connection".
pub const ANONYMOUS_ADDRESS: &str = "http://www.w3.org/2005/08/addressing/anonymous";

/// A MessageID as `urn:uuid:…`.
pub fn message_id_urn(id: Uuid) -> String {
    format!("urn:uuid:{}", id.hyphenated())
}

/// The WS-Addressing headers of one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Addressing {
    pub action: String,
    pub message_id: Option<String>,
    pub to: Option<String>,
    pub reply_to: Option<String>,
    pub relates_to: Option<String>,
}

impl Addressing {
    /// Headers of a request: Action, MessageID, To, and ReplyTo anonymous.
    pub fn request(action: &str, message_id: Uuid, to: &str) -> Self {
        Addressing {
            action: action.to_owned(),
            message_id: Some(message_id_urn(message_id)),
            to: Some(to.to_owned()),
            reply_to: Some(ANONYMOUS_ADDRESS.to_owned()),
            relates_to: None,
        }
    }

    /// Headers of a response to the request whose MessageID is `relates_to`.
    pub fn response(action: &str, message_id: Uuid, relates_to: &str) -> Self {
        Addressing {
            action: action.to_owned(),
            message_id: Some(message_id_urn(message_id)),
            to: None,
            reply_to: None,
            relates_to: Some(relates_to.to_owned()),
        }
    }

    /// The header blocks, in the order Action, MessageID, To, ReplyTo,
    /// RelatesTo.
    pub fn to_headers(&self) -> Vec<Element> {
        let wsa = |local: &str| Element::new(ns::WSA, WSA_PREFIX, local);
        let must_understand =
            |el: Element| el.with_attr_ns(ns::SOAP12, SOAP_PREFIX, "mustUnderstand", "true");
        let mut out = vec![must_understand(
            wsa("Action").with_text(self.action.clone()),
        )];
        if let Some(id) = &self.message_id {
            out.push(wsa("MessageID").with_text(id.clone()));
        }
        if let Some(to) = &self.to {
            out.push(must_understand(wsa("To").with_text(to.clone())));
        }
        if let Some(reply_to) = &self.reply_to {
            out.push(wsa("ReplyTo").with_child(wsa("Address").with_text(reply_to.clone())));
        }
        if let Some(rel) = &self.relates_to {
            out.push(wsa("RelatesTo").with_text(rel.clone()));
        }
        out
    }

    /// Reads the WS-Addressing headers among `headers`; `None` when there
    /// are none at all.
    pub fn from_headers(headers: &[Element]) -> Result<Option<Addressing>, SoapError> {
        let single = |local: &'static str| -> Result<Option<&Element>, SoapError> {
            let mut it = headers.iter().filter(|h| h.is(ns::WSA, local));
            let first = it.next();
            if it.next().is_some() {
                return Err(SoapError::DuplicateAddressingHeader { header: local });
            }
            Ok(first)
        };
        let text = |e: Option<&Element>| e.map(|e| e.text().trim().to_owned());
        let action = text(single("Action")?);
        let message_id = text(single("MessageID")?);
        let to = text(single("To")?);
        let relates_to = text(single("RelatesTo")?);
        let reply_to = single("ReplyTo")?
            .and_then(|r| r.child(ns::WSA, "Address"))
            .map(|a| a.text().trim().to_owned());
        let any =
            message_id.is_some() || to.is_some() || relates_to.is_some() || reply_to.is_some();
        match action {
            Some(action) => Ok(Some(Addressing {
                action,
                message_id,
                to,
                reply_to,
                relates_to,
            })),
            None if any => Err(SoapError::MissingAddressingAction),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::soap::Envelope;
    use crate::xml::ParseLimits;

    const ACTION: &str = "urn:ihe:iti:2007:RegistryStoredQuery";

    #[test]
    fn request_and_response_headers_round_trip() {
        let id = Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        let req = Addressing::request(ACTION, id, "https://platform.example/xds");
        assert_eq!(
            req.message_id.as_deref(),
            Some("urn:uuid:01234567-89ab-cdef-0123-456789abcdef")
        );
        let env = Envelope::new(Element::new("urn:p", "p", "Q")).with_headers(req.to_headers());
        let back = Envelope::parse(&env.to_bytes(), &ParseLimits::default()).unwrap();
        assert_eq!(
            Addressing::from_headers(&back.headers).unwrap(),
            Some(req.clone())
        );
        let action = back.header(ns::WSA, "Action").unwrap();
        assert_eq!(action.attr_ns(ns::SOAP12, "mustUnderstand"), Some("true"));

        let resp = Addressing::response(
            "urn:ihe:iti:2007:RegistryStoredQueryResponse",
            Uuid::from_u128(7),
            req.message_id.as_deref().unwrap(),
        );
        let back = Addressing::from_headers(&resp.to_headers())
            .unwrap()
            .unwrap();
        assert_eq!(back.relates_to, req.message_id);
        assert_eq!(back, resp);
    }

    #[test]
    fn absent_duplicate_and_incomplete_headers() {
        assert_eq!(Addressing::from_headers(&[]), Ok(None));
        let action = Element::new(ns::WSA, "wsa", "Action").with_text(ACTION);
        assert_eq!(
            Addressing::from_headers(&[action.clone(), action]),
            Err(SoapError::DuplicateAddressingHeader { header: "Action" })
        );
        let to = Element::new(ns::WSA, "wsa", "To").with_text("x");
        assert_eq!(
            Addressing::from_headers(&[to]),
            Err(SoapError::MissingAddressingAction)
        );
    }
}
