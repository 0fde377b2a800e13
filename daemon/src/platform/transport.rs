//! HTTPS to the platform: rustls with the ring provider and the profile's
//! CA as the only root (no system store, no verification bypass), SOAP
//! answers read and faults classified.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ihe::soap::{Envelope, Fault, SoapError};
use ihe::xml::{Element, ParseLimits};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use zeroize::Zeroizing;

use super::PlatformError;
use super::secret::SecretBody;
use crate::config::PlatformProfile;
use crate::outbox::{PlatformFault, TransportFailure, UploadFailure};

/// No connection within this long: the platform is unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// No byte from the platform for this long: the call timed out.
const READ_TIMEOUT: Duration = Duration::from_secs(120);

/// The largest SOAP answer (non-MTOM) read into memory.
const MAX_SOAP_ANSWER: usize = 16 * 1024 * 1024;

#[derive(Clone)]
pub(super) struct Transport {
    client: reqwest::Client,
}

/// Reads the first certificate of a PEM file.
pub(super) fn read_pem_certificate(path: &Path) -> Result<Vec<u8>, PlatformError> {
    let failed = |reason: String| PlatformError::Certificate {
        path: path.display().to_string(),
        reason,
    };
    let pem = std::fs::read(path).map_err(|e| failed(e.to_string()))?;
    let first = CertificateDer::pem_slice_iter(&pem)
        .next()
        .ok_or_else(|| failed("no PEM certificate in it".to_owned()))?
        .map_err(|e| failed(e.to_string()))?;
    Ok(first.as_ref().to_vec())
}

impl Transport {
    pub(super) fn new(profile: &PlatformProfile) -> Result<Transport, PlatformError> {
        let Some(ca_file) = &profile.ca_file else {
            return Err(PlatformError::Certificate {
                path: "platform.ca_file".to_owned(),
                reason: "not set: the platform's CA is pinned, and no other is trusted".to_owned(),
            });
        };
        let failed = |reason: String| PlatformError::Certificate {
            path: ca_file.display().to_string(),
            reason,
        };
        let pem = std::fs::read(ca_file).map_err(|e| failed(e.to_string()))?;
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&pem) {
            roots
                .add(cert.map_err(|e| failed(e.to_string()))?)
                .map_err(|e| failed(e.to_string()))?;
        }
        if roots.is_empty() {
            return Err(failed("no PEM certificate in it".to_owned()));
        }
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| failed(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("dspconnectd/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| failed(e.to_string()))?;
        Ok(Transport { client })
    }

    pub(super) fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// POSTs a SOAP 1.2 message and returns the answer's payload. The
    /// body is zeroized when the HTTP client lets go of it.
    pub(super) async fn soap(
        &self,
        url: &str,
        action: &str,
        envelope: SecretBody,
    ) -> Result<Element, CallFailure> {
        let response = self
            .client
            .post(url)
            .header(
                "content-type",
                format!("application/soap+xml; charset=UTF-8; action=\"{action}\""),
            )
            .body(envelope)
            .send()
            .await
            .map_err(|e| CallFailure::transport(url, &e, true))?;
        let (content_type, body) = read_body(url, response).await?;
        if content_type.starts_with("multipart/related") {
            return Err(CallFailure::invalid(format!(
                "{url} answered MTOM where a SOAP message was expected"
            )));
        }
        payload_of(&body)
    }
}

/// Reads a whole answer body (bounded), failing on HTTP errors that carry
/// no SOAP message. The body (an assertion, a grant, a portal ticket…) is
/// zeroized when dropped.
pub(super) async fn read_body(
    url: &str,
    response: reqwest::Response,
) -> Result<(String, Zeroizing<Vec<u8>>), CallFailure> {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if let Some(length) = response.content_length()
        && length > MAX_SOAP_ANSWER as u64
    {
        return Err(CallFailure::invalid(format!(
            "{url} answered {length} bytes, more than a SOAP answer may hold"
        )));
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| CallFailure::transport(url, &e, true))?;
    let soapish = content_type.starts_with("application/soap+xml")
        || content_type.starts_with("multipart/related");
    if !soapish && status >= 400 {
        return Err(CallFailure::Http {
            url: url.to_owned(),
            status,
        });
    }
    // Without a copy when the client's buffer is not shared.
    Ok((content_type, Zeroizing::new(Vec::from(body))))
}

/// The payload of a SOAP answer, or the fault it carries.
pub(super) fn payload_of(body: &[u8]) -> Result<Element, CallFailure> {
    match Envelope::parse(body, &ParseLimits::SOAP) {
        Ok(envelope) => envelope
            .into_payload()
            .map_err(|e| CallFailure::invalid(e.to_string())),
        Err(SoapError::Fault(fault)) => Err(CallFailure::Fault(fault)),
        Err(e) => Err(CallFailure::invalid(format!(
            "the answer is not a SOAP 1.2 message: {e}"
        ))),
    }
}

/// A failed call, before it is turned into what the caller reports.
#[derive(Debug)]
pub(super) enum CallFailure {
    Transport {
        url: String,
        failure: TransportFailure,
        reason: String,
    },
    Http {
        url: String,
        status: u16,
    },
    Fault(Box<Fault>),
    Invalid(String),
}

impl CallFailure {
    pub(super) fn invalid(reason: impl Into<String>) -> CallFailure {
        CallFailure::Invalid(reason.into())
    }

    /// Classifies a reqwest error; `sent` says whether the whole request
    /// may have reached the platform.
    pub(super) fn transport(url: &str, e: &reqwest::Error, sent: bool) -> CallFailure {
        let reason = error_chain(e);
        let failure = if e.is_timeout() {
            if sent {
                TransportFailure::Timeout
            } else {
                TransportFailure::Connect
            }
        } else if e.is_connect() {
            // The handshake is part of connecting: a certificate the pinned
            // CA does not vouch for fails here, before anything is sent.
            if is_tls(&reason) {
                TransportFailure::Tls
            } else {
                TransportFailure::Connect
            }
        } else if sent || e.is_body() || e.is_decode() {
            TransportFailure::CutAfterSend
        } else {
            TransportFailure::Connect
        };
        CallFailure::Transport {
            url: url.to_owned(),
            failure,
            reason,
        }
    }

    /// The subcode of a fault (its innermost subcode's local name).
    fn subcode(fault: &Fault) -> String {
        fault
            .subcodes
            .last()
            .map(|q| q.local.clone())
            .unwrap_or_else(|| "Fault".to_owned())
    }

    fn rule(fault: &Fault) -> Option<String> {
        fault
            .detail
            .iter()
            .find(|d| d.local == "Rule")
            .map(|d| d.text())
    }

    /// What the IPC caller sees.
    pub(super) fn into_error(self) -> PlatformError {
        match self {
            CallFailure::Transport {
                url,
                failure: TransportFailure::Tls,
                reason,
            } => PlatformError::Tls { url, reason },
            CallFailure::Transport {
                url,
                failure: TransportFailure::Timeout,
                ..
            } => PlatformError::Timeout { url },
            CallFailure::Transport { url, reason, .. } => {
                PlatformError::Unreachable { url, reason }
            }
            CallFailure::Http { url, status } => PlatformError::Http { url, status },
            CallFailure::Invalid(reason) => PlatformError::InvalidResponse { reason },
            CallFailure::Fault(fault) => {
                let subcode = Self::subcode(&fault);
                let message = fault.reason().to_owned();
                match subcode.as_str() {
                    "AccessDenied" => PlatformError::AccessDenied { message },
                    "GrantExpired" => PlatformError::GrantExpired { message },
                    "UnknownDocument" => PlatformError::UnknownDocument { message },
                    "PasswordSessionLimited" => PlatformError::PasswordSessionLimited { message },
                    "AssertionMissing" | "AssertionInvalid" | "AssertionExpired" => {
                        PlatformError::Assertion { subcode, message }
                    }
                    _ => PlatformError::Refused {
                        rule: Self::rule(&fault),
                        subcode,
                        message,
                    },
                }
            }
        }
    }

    /// What the outbox's retry table sees.
    pub(super) fn into_upload_failure(self) -> UploadFailure {
        match self {
            CallFailure::Transport {
                failure, reason, ..
            } => UploadFailure::Transport {
                failure,
                message: reason,
            },
            CallFailure::Http { status, url } => UploadFailure::Http {
                status,
                message: format!("HTTP {status} from {url}"),
            },
            CallFailure::Fault(fault) => UploadFailure::Fault {
                fault: PlatformFault::from_subcode(&Self::subcode(&fault)),
                message: fault.reason().to_owned(),
            },
            CallFailure::Invalid(reason) => UploadFailure::Fault {
                fault: PlatformFault::Other("InvalidAnswer".to_owned()),
                message: reason,
            },
        }
    }
}

/// The error and its sources, for messages (reqwest's own message is terse).
pub(super) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn is_tls(reason: &str) -> bool {
    let lower = reason.to_ascii_lowercase();
    lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake")
}
