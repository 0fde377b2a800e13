//! One XDS call as a SOAP exchange: who calls (the bearer assertion, IHE
//! XUA), which transaction (the payload element, checked against the SOAP
//! action), and the answer with its WS-Addressing headers.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ihe::soap::{Addressing, Envelope};
use ihe::xml::{Element, ParseLimits, ns};
use uuid::Uuid;

use super::XdsService;
use super::receive::Received;
use crate::policy::{EHealthId, Operation, Role, RoleSet, Subject, decide_for_roles};
use crate::soap_service::{AccessLevel, Caller, SandboxFault, authenticate_bearer};

/// WS-Addressing action of a fault (WS-Addressing 1.0 SOAP binding).
const FAULT_ACTION: &str = "http://www.w3.org/2005/08/addressing/soap/fault";

/// The transactions the two endpoints serve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transaction {
    /// ITI-41.
    ProvideAndRegister,
    /// ITI-43.
    Retrieve,
    /// ITI-18.
    StoredQuery,
    /// ITI-57.
    UpdateDocumentSet,
}

impl Transaction {
    const ALL: [Transaction; 4] = [
        Transaction::ProvideAndRegister,
        Transaction::Retrieve,
        Transaction::StoredQuery,
        Transaction::UpdateDocumentSet,
    ];

    /// The SOAP action of the request.
    pub(crate) fn request_action(self) -> &'static str {
        match self {
            Transaction::ProvideAndRegister => "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b",
            Transaction::Retrieve => "urn:ihe:iti:2007:RetrieveDocumentSet",
            Transaction::StoredQuery => "urn:ihe:iti:2007:RegistryStoredQuery",
            Transaction::UpdateDocumentSet => "urn:ihe:iti:2010:UpdateDocumentSet",
        }
    }

    /// The SOAP action of the response.
    pub(crate) fn response_action(self) -> &'static str {
        match self {
            Transaction::ProvideAndRegister => {
                "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-bResponse"
            }
            Transaction::Retrieve => "urn:ihe:iti:2007:RetrieveDocumentSetResponse",
            Transaction::StoredQuery => "urn:ihe:iti:2007:RegistryStoredQueryResponse",
            Transaction::UpdateDocumentSet => "urn:ihe:iti:2010:UpdateDocumentSetResponse",
        }
    }

    /// The payload element of the request.
    fn payload(self) -> (&'static str, &'static str) {
        match self {
            Transaction::ProvideAndRegister => (ns::XDSB, "ProvideAndRegisterDocumentSetRequest"),
            Transaction::Retrieve => (ns::XDSB, "RetrieveDocumentSetRequest"),
            Transaction::StoredQuery => (ns::QUERY, "AdhocQueryRequest"),
            Transaction::UpdateDocumentSet => (ns::LCM, "SubmitObjectsRequest"),
        }
    }

    fn of_payload(payload: &Element) -> Option<Transaction> {
        Transaction::ALL.into_iter().find(|t| {
            let (uri, local) = t.payload();
            payload.is(uri, local)
        })
    }
}

/// An authenticated call to a transaction this endpoint serves.
pub(crate) struct Call {
    pub caller: Caller,
    /// The caller, as the policy engine knows them (a card session).
    pub subject: Subject,
    pub transaction: Transaction,
    pub payload: Element,
    /// The request's `wsa:MessageID`, for `wsa:RelatesTo`.
    pub relates_to: Option<String>,
}

impl Call {
    /// The caller's eHealth id.
    pub(crate) fn professional(&self) -> &str {
        &self.caller.ehealth_id
    }

    /// A plain SOAP answer with the transaction's response action.
    pub(crate) fn reply(&self, payload: Element) -> Response {
        let envelope = self.reply_envelope(payload);
        soap_response(
            StatusCode::OK,
            self.transaction.response_action(),
            envelope.to_bytes(),
        )
    }

    /// Answers with `payload`, or with a fault when it could not be written.
    pub(crate) fn reply_or_fault(
        &self,
        payload: Result<Element, ihe::xds::WriteError>,
    ) -> Response {
        match payload {
            Ok(payload) => self.reply(payload),
            Err(e) => {
                tracing::error!(error = %e, "cannot write an XDS response");
                fault_reply(
                    SandboxFault::receiver(
                        "Internal",
                        format!("the answer cannot be written: {e}"),
                    ),
                    self.relates_to.clone(),
                )
            }
        }
    }

    /// The envelope of an answer (for callers that package it themselves).
    pub(crate) fn reply_envelope(&self, payload: Element) -> Envelope {
        Envelope::new(payload).with_headers(
            response_addressing(
                self.transaction.response_action(),
                self.relates_to.as_deref(),
            )
            .to_headers(),
        )
    }
}

/// A call refused before its transaction runs.
pub(crate) struct Refusal {
    pub fault: SandboxFault,
    pub relates_to: Option<String>,
}

/// Authenticates the call and finds its transaction among `served`.
pub(crate) fn open(
    service: &XdsService,
    received: &Received,
    served: &[Transaction],
) -> Result<Call, Refusal> {
    let context = &service.context;
    let authenticated = authenticate_bearer(
        &received.envelope,
        &ParseLimits::SOAP,
        context.pki().idp_signing().certificate_der(),
        context.clock().now(),
    );
    let (caller, verified) = match authenticated {
        Ok(found) => found,
        Err(fault) => {
            return Err(Refusal {
                fault,
                relates_to: message_id_of(&received.envelope),
            });
        }
    };
    let relates_to = verified
        .addressing()
        .and_then(|addressing| addressing.message_id.clone());
    let refuse = |fault: SandboxFault| Refusal {
        fault,
        relates_to: relates_to.clone(),
    };
    let payload = verified
        .payload()
        .map_err(|e| refuse(SandboxFault::sender("Malformed", e.to_string())))?
        .clone();
    let transaction = Transaction::of_payload(&payload)
        .filter(|t| served.contains(t))
        .ok_or_else(|| {
            let expected: Vec<String> = served
                .iter()
                .map(|t| {
                    let (uri, local) = t.payload();
                    format!("{{{uri}}}{local}")
                })
                .collect();
            refuse(SandboxFault::sender(
                "Malformed",
                format!(
                    "this endpoint does not serve a {{{}}}{} payload; it takes {}",
                    payload.ns.as_deref().unwrap_or_default(),
                    payload.local,
                    expected.join(" or ")
                ),
            ))
        })?;
    // The action travels in the Content-Type and in wsa:Action; each that
    // is given must be the transaction's.
    let wsa_action = verified.addressing().map(|a| a.action.as_str());
    for (source, action) in [
        (
            "the Content-Type action parameter",
            received.action.as_deref(),
        ),
        ("wsa:Action", wsa_action),
    ] {
        if let Some(action) = action
            && action != transaction.request_action()
        {
            return Err(refuse(SandboxFault::sender(
                "Malformed",
                format!(
                    "{source} is '{action}', but the payload is a {} request (action {})",
                    payload.local,
                    transaction.request_action()
                ),
            )));
        }
    }
    if caller.access == AccessLevel::Limited {
        let decision =
            decide_for_roles(RoleSet::only(Role::PasswordSession), Operation::Read, None);
        return Err(refuse(
            SandboxFault::sender("PasswordSessionLimited", decision.reason())
                .with_detail("Rule", decision.rule.id)
                .with_detail("Citation", decision.rule.citation()),
        ));
    }
    let subject = EHealthId::new(caller.ehealth_id.clone())
        .map(Subject::card)
        .map_err(|e| {
            refuse(SandboxFault::sender(
                "AssertionInvalid",
                format!("the assertion's subject is not an eHealth id: {e}"),
            ))
        })?;
    Ok(Call {
        caller,
        subject,
        transaction,
        payload,
        relates_to,
    })
}

/// The MessageID of an envelope that could not be authenticated, if it can
/// be read at all.
fn message_id_of(envelope: &[u8]) -> Option<String> {
    let parsed = Envelope::parse(envelope, &ParseLimits::SOAP).ok()?;
    Addressing::from_headers(&parsed.headers)
        .ok()
        .flatten()
        .and_then(|addressing| addressing.message_id)
}

fn response_addressing(action: &str, relates_to: Option<&str>) -> Addressing {
    match relates_to {
        Some(request) => Addressing::response(action, Uuid::new_v4(), request),
        None => Addressing {
            relates_to: None,
            ..Addressing::response(action, Uuid::new_v4(), "")
        },
    }
}

/// A SOAP 1.2 fault with WS-Addressing headers: 400 for the sender's
/// faults, 500 for the sandbox's.
pub(crate) fn fault_reply(fault: SandboxFault, relates_to: Option<String>) -> Response {
    let status = if fault.sender {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    let mut envelope = fault.to_fault().to_envelope();
    envelope
        .headers
        .extend(response_addressing(FAULT_ACTION, relates_to.as_deref()).to_headers());
    soap_response(status, FAULT_ACTION, envelope.to_bytes())
}

/// A `Content-Type` header value carrying the SOAP action.
pub(crate) fn soap_content_type(action: &str) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "application/soap+xml; charset=UTF-8; action=\"{action}\""
    ))
    // The actions are constants of this module, printable ASCII without
    // quotes; the fallback is never taken.
    .unwrap_or_else(|_| HeaderValue::from_static("application/soap+xml; charset=UTF-8"))
}

fn soap_response(status: StatusCode, action: &str, body: Vec<u8>) -> Response {
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, soap_content_type(action));
    response
}
