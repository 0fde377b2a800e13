//! A request signed by a professional's card (the login and both
//! activation steps), checked in the order `docs/platform-protocol.md`
//! gives: the WS-Security signature and its references, the Timestamp, the
//! MessageID, then the certificate. Each refusal has its own subcode.

use ihe::soap::Addressing;
use ihe::wssec::{FreshnessError, FreshnessPolicy, VerifiedEnvelope, WsSecurityError};
use ihe::xml::{self, ParseLimits};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::pki::{CertificateError, VerifiedProfessionalCertificate};
use crate::server::SandboxContext;
use crate::services::envelope::{internal, malformed};
use crate::soap_service::SandboxFault;

/// How far a sender's clock may be ahead of the sandbox's.
pub const MAX_CLOCK_SKEW: Duration = Duration::minutes(2);
/// The oldest Timestamp accepted (plus the skew).
pub const MAX_MESSAGE_AGE: Duration = Duration::minutes(5);
/// How long a MessageID (and a signed content) is remembered: longer than
/// any Timestamp is accepted, so a replay is caught either way.
pub const REPLAY_WINDOW: Duration = Duration::minutes(15);

pub const FRESHNESS: FreshnessPolicy = FreshnessPolicy {
    max_clock_skew: MAX_CLOCK_SKEW,
    max_age: MAX_MESSAGE_AGE,
};

/// A card-signed request whose signature, freshness, uniqueness and
/// certificate checked out.
#[derive(Debug)]
pub struct CardRequest {
    pub envelope: VerifiedEnvelope,
    pub certificate: VerifiedProfessionalCertificate,
}

/// Checks a card-signed request (see the module documentation).
pub fn verify_card_request(
    ctx: &SandboxContext,
    body: &[u8],
    now: OffsetDateTime,
) -> Result<CardRequest, SandboxFault> {
    let envelope = ihe::wssec::verify_signed_envelope(body, &ParseLimits::SOAP)
        .map_err(|e| signature_fault(&e))?;
    envelope
        .timestamp()
        .check_freshness(now, &FRESHNESS)
        .map_err(|e| timestamp_fault(&e))?;
    check_not_replayed(ctx, &envelope, now)?;
    let certificate = ctx
        .pki()
        .verify_professional_certificate(envelope.certificate_der(), now)
        .map_err(|e| certificate_fault(&e))?;
    tracing::info!(
        subject = %certificate.name,
        ehealth_id = %certificate.ehealth_id,
        serial = %certificate.serial,
        fingerprint = %certificate.fingerprint,
        "verified the card certificate of a signed request"
    );
    Ok(CardRequest {
        envelope,
        certificate,
    })
}

/// The MessageID must be new, and so must the signed content: the
/// MessageID is not covered by the signature, so a replay with a fresh
/// MessageID is caught by the digest of what the card signed.
fn check_not_replayed(
    ctx: &SandboxContext,
    envelope: &VerifiedEnvelope,
    now: OffsetDateTime,
) -> Result<(), SandboxFault> {
    check_message_id(ctx, envelope.addressing(), now)?;
    let store = ctx.store();
    let timestamp = envelope.timestamp();
    let mut digest = Sha256::new();
    digest.update(xml::to_string(envelope.body()).as_bytes());
    digest.update(format!("|{}|{}", timestamp.created, timestamp.expires).as_bytes());
    let signed = format!("signed-content:{:x}", digest.finalize());
    let new_content = store
        .remember_message_id(&signed, now, REPLAY_WINDOW)
        .map_err(|e| internal("checking the replay cache", e))?;
    if !new_content {
        return Err(SandboxFault::sender(
            "MessageReplayed",
            "this signed Body and Timestamp were already received; sign a new request",
        ));
    }
    Ok(())
}

/// Refuses a request without a `wsa:MessageID`, or with one seen within
/// [`REPLAY_WINDOW`].
pub fn check_message_id(
    ctx: &SandboxContext,
    addressing: Option<&Addressing>,
    now: OffsetDateTime,
) -> Result<(), SandboxFault> {
    let message_id = addressing
        .and_then(|a| a.message_id.as_deref())
        .ok_or_else(|| {
            malformed(
                "the request has no wsa:MessageID; send a new urn:uuid: MessageID with each request",
            )
        })?;
    let new_id = ctx
        .store()
        .remember_message_id(message_id, now, REPLAY_WINDOW)
        .map_err(|e| internal("checking the replay cache", e))?;
    if new_id {
        Ok(())
    } else {
        Err(SandboxFault::sender(
            "MessageReplayed",
            format!(
                "the MessageID {message_id} was already used; send each request with a new MessageID"
            ),
        ))
    }
}

/// The subcode of a signature refusal.
pub fn signature_fault(error: &WsSecurityError) -> SandboxFault {
    use WsSecurityError as E;
    let subcode = match error {
        E::Soap(_) | E::MalformedTimestamp { .. } => "Malformed",
        E::MissingTimestamp => "TimestampMissing",
        _ => "InvalidSignature",
    };
    SandboxFault::sender(subcode, error.to_string())
}

pub fn timestamp_fault(error: &FreshnessError) -> SandboxFault {
    let subcode = match error {
        FreshnessError::CreatedInFuture { .. } => "TimestampInFuture",
        FreshnessError::Expired { .. } | FreshnessError::TooOld { .. } => "TimestampStale",
    };
    SandboxFault::sender(subcode, error.to_string())
}

/// The subcode of a certificate refusal.
pub fn certificate_fault(error: &CertificateError) -> SandboxFault {
    use CertificateError as E;
    let subcode = match error {
        E::Malformed { .. }
        | E::UntrustedIssuer { .. }
        | E::BadSignature
        | E::WrongKeyUsage { .. }
        | E::MissingIdentity { .. } => "CertificateUntrusted",
        E::Expired { .. } => "CertificateExpired",
        E::NotYetValid { .. } => "CertificateNotYetValid",
        E::Revoked { .. } => "CertificateRevoked",
        E::RevocationUnknown(_) => return internal("reading the revocation list", error),
    };
    SandboxFault::sender(subcode, error.to_string())
}
