//! Checking a professional's card certificate the way the IdP must before it
//! trusts a signed authentication request: issued by the LuxTrust test CA
//! (name and signature), valid at the given time, meant for authentication
//! (digitalSignature, clientAuth), carrying a name and an eHealth id, and not
//! revoked. Each failure is its own error so that the IdP can answer a SOAP
//! fault with the precise reason.

use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::oid_registry::{OID_X509_COMMON_NAME, OID_X509_SERIALNUMBER};
use x509_parser::prelude::FromDer;
use x509_parser::x509::X509Name;

use super::identifiers::{CertificateSerial, Fingerprint};
use super::revocation::{RevocationError, RevocationList};

/// Why a card certificate is not accepted.
#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    #[error("the certificate is not a DER X.509 certificate: {reason}")]
    Malformed { reason: String },
    #[error("the certificate is issued by '{issuer}', not by the LuxTrust test CA")]
    UntrustedIssuer { issuer: String },
    #[error(
        "the certificate names the LuxTrust test CA as issuer but its signature does not verify with the CA's key"
    )]
    BadSignature,
    #[error("the certificate expired at {not_after}")]
    Expired { not_after: OffsetDateTime },
    #[error("the certificate is not valid before {not_before}")]
    NotYetValid { not_before: OffsetDateTime },
    #[error("the certificate is not an authentication certificate: {reason}")]
    WrongKeyUsage { reason: &'static str },
    #[error("the certificate subject has no {field}")]
    MissingIdentity { field: &'static str },
    #[error("the certificate {serial} has been revoked (card deactivated)")]
    Revoked { serial: CertificateSerial },
    #[error("cannot tell whether the certificate is revoked: {0}")]
    RevocationUnknown(#[from] RevocationError),
}

/// What a verified card certificate says about its holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedProfessionalCertificate {
    /// Subject CN: the professional's name.
    pub name: String,
    /// Subject `serialNumber` (2.5.4.5): the professional's eHealth id.
    pub ehealth_id: String,
    pub serial: CertificateSerial,
    pub fingerprint: Fingerprint,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
}

pub(crate) fn verify_professional(
    leaf_der: &[u8],
    ca_der: &[u8],
    revocations: &RevocationList,
    at: OffsetDateTime,
) -> Result<VerifiedProfessionalCertificate, CertificateError> {
    let leaf = parse(leaf_der)?;
    let ca = parse(ca_der).map_err(|e| CertificateError::Malformed {
        reason: format!("the LuxTrust test CA certificate itself: {e}"),
    })?;

    if leaf.issuer().as_raw() != ca.subject().as_raw() {
        return Err(CertificateError::UntrustedIssuer {
            issuer: leaf.issuer().to_string(),
        });
    }
    leaf.verify_signature(Some(ca.public_key()))
        .map_err(|_| CertificateError::BadSignature)?;

    let not_before = leaf.validity().not_before.to_datetime();
    let not_after = leaf.validity().not_after.to_datetime();
    if at < not_before {
        return Err(CertificateError::NotYetValid { not_before });
    }
    if at > not_after {
        return Err(CertificateError::Expired { not_after });
    }

    check_authentication_usage(&leaf)?;

    let name = single_text(leaf.subject(), &OID_X509_COMMON_NAME).ok_or(
        CertificateError::MissingIdentity {
            field: "common name (CN)",
        },
    )?;
    let ehealth_id = single_text(leaf.subject(), &OID_X509_SERIALNUMBER).ok_or(
        CertificateError::MissingIdentity {
            field: "serialNumber attribute (the eHealth id)",
        },
    )?;

    let serial = CertificateSerial::from_bytes(leaf.raw_serial());
    if revocations.is_revoked(&serial)? {
        return Err(CertificateError::Revoked { serial });
    }

    Ok(VerifiedProfessionalCertificate {
        name,
        ehealth_id,
        serial,
        fingerprint: Fingerprint::of_der(leaf_der),
        not_before,
        not_after,
    })
}

fn parse(der: &[u8]) -> Result<X509Certificate<'_>, CertificateError> {
    match X509Certificate::from_der(der) {
        Ok(([], cert)) => Ok(cert),
        Ok(_) => Err(CertificateError::Malformed {
            reason: "bytes follow the certificate".to_owned(),
        }),
        Err(e) => Err(CertificateError::Malformed {
            reason: e.to_string(),
        }),
    }
}

fn check_authentication_usage(leaf: &X509Certificate<'_>) -> Result<(), CertificateError> {
    let wrong = |reason| CertificateError::WrongKeyUsage { reason };
    let key_usage = leaf
        .key_usage()
        .map_err(|_| wrong("the keyUsage extension is malformed or repeated"))?
        .ok_or(wrong("no keyUsage extension"))?;
    if !key_usage.value.digital_signature() {
        return Err(wrong("keyUsage lacks digitalSignature"));
    }
    let extended = leaf
        .extended_key_usage()
        .map_err(|_| wrong("the extendedKeyUsage extension is malformed or repeated"))?
        .ok_or(wrong("no extendedKeyUsage extension"))?;
    if !extended.value.client_auth {
        return Err(wrong("extendedKeyUsage lacks clientAuth"));
    }
    let is_ca = leaf
        .basic_constraints()
        .map_err(|_| wrong("the basicConstraints extension is malformed or repeated"))?
        .is_some_and(|constraints| constraints.value.ca);
    if is_ca {
        return Err(wrong("the certificate is a CA certificate"));
    }
    Ok(())
}

/// The value of an attribute that appears exactly once and is text.
fn single_text(name: &X509Name<'_>, oid: &x509_parser::der_parser::Oid<'_>) -> Option<String> {
    let mut values = name.iter_by_oid(oid);
    let first = values.next()?;
    if values.next().is_some() {
        return None;
    }
    first
        .as_str()
        .ok()
        .filter(|text| !text.trim().is_empty())
        .map(str::to_owned)
}
