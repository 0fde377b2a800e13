//! Who a card belongs to, read from its authentication certificate: the
//! holder's name (subject CN), eHealth id (the subject's X.520
//! `serialNumber`, 2.5.4.5, where qualified certificates carry a person's
//! identifier), the SHA-256 fingerprint that tells one card from another,
//! and the validity period checked before every use.

use std::fmt;

use dspconnect::ipc::protocol::Professional;
use ihe::dsig::SignatureAlgorithm;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::oid_registry::{OID_X509_COMMON_NAME, OID_X509_SERIALNUMBER};
use x509_parser::prelude::FromDer;
use x509_parser::x509::X509Name;

use super::CardError;

/// SHA-256 of a certificate's DER: the identity of a card.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    pub fn of_der(der: &[u8]) -> Self {
        Fingerprint(Sha256::digest(der).into())
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    /// Lowercase hex, as the sandbox's card manifest writes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

/// A card as identified by its authentication certificate.
#[derive(Clone, PartialEq, Eq)]
pub struct CardIdentity {
    certificate_der: Vec<u8>,
    /// Subject CN.
    pub holder_name: String,
    /// Subject `serialNumber` (2.5.4.5).
    pub ehealth_id: String,
    pub fingerprint: Fingerprint,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// The algorithm the card's key signs with.
    pub algorithm: SignatureAlgorithm,
    /// The issuer's distinguished name, DER, for the test-card guard.
    issuer_der: Vec<u8>,
    /// The issuer's name as text, for messages.
    pub issuer: String,
}

impl fmt::Debug for CardIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CardIdentity")
            .field("holder_name", &self.holder_name)
            .field("ehealth_id", &self.ehealth_id)
            .field("fingerprint", &self.fingerprint)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

impl CardIdentity {
    /// Reads the identity out of a DER certificate. A certificate without
    /// a single CN and a single `serialNumber`, or with a key we cannot
    /// sign with, is not a professional's card certificate.
    pub fn from_certificate(certificate_der: &[u8]) -> Result<Self, CardError> {
        let bad = |reason: String| CardError::BadCertificate { reason };
        let certificate = match X509Certificate::from_der(certificate_der) {
            Ok(([], certificate)) => certificate,
            Ok((rest, _)) => {
                return Err(bad(format!("{} bytes follow the certificate", rest.len())));
            }
            Err(e) => return Err(bad(e.to_string())),
        };
        let holder_name = single_text(certificate.subject(), &OID_X509_COMMON_NAME)
            .ok_or_else(|| bad("the subject has no single common name (CN)".to_owned()))?;
        let ehealth_id =
            single_text(certificate.subject(), &OID_X509_SERIALNUMBER).ok_or_else(|| {
                bad("the subject has no single serialNumber (the eHealth id)".to_owned())
            })?;
        let algorithm =
            SignatureAlgorithm::for_certificate(certificate_der).map_err(|e| bad(e.to_string()))?;
        Ok(CardIdentity {
            holder_name,
            ehealth_id,
            fingerprint: Fingerprint::of_der(certificate_der),
            not_before: certificate.validity().not_before.to_datetime(),
            not_after: certificate.validity().not_after.to_datetime(),
            algorithm,
            issuer_der: certificate.issuer().as_raw().to_vec(),
            issuer: certificate.issuer().to_string(),
            certificate_der: certificate_der.to_vec(),
        })
    }

    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate_der
    }

    /// The issuer's distinguished name as DER.
    pub fn issuer_der(&self) -> &[u8] {
        &self.issuer_der
    }

    /// Refuses a certificate that is expired or not yet valid at `now`:
    /// checked when the card is inserted and again before each signature.
    pub fn check_validity(&self, now: OffsetDateTime) -> Result<(), CardError> {
        if now < self.not_before {
            return Err(CardError::CertificateNotYetValid {
                not_before: self.not_before,
            });
        }
        if now > self.not_after {
            return Err(CardError::CertificateExpired {
                not_after: self.not_after,
            });
        }
        Ok(())
    }

    /// The holder, as the IPC protocol shows a professional.
    pub fn professional(&self) -> Professional {
        Professional {
            ehealth_id: self.ehealth_id.clone(),
            name: self.holder_name.clone(),
            profession: None,
            specialty: None,
        }
    }
}

/// The value of a name attribute that appears exactly once and is text.
fn single_text(name: &X509Name<'_>, oid: &x509_parser::der_parser::Oid<'_>) -> Option<String> {
    let mut values = name.iter_by_oid(oid);
    let first = values.next()?;
    if values.next().is_some() {
        return None;
    }
    let text = first.as_str().ok()?.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use time::Duration;

    use super::*;
    use crate::card::test_certificates::{ca, issued_by, self_signed};

    #[test]
    fn the_identity_comes_from_the_subject() {
        let der = self_signed("Dr Anne Muller", "2854201475");
        let identity = CardIdentity::from_certificate(&der).unwrap();
        assert_eq!(identity.holder_name, "Dr Anne Muller");
        assert_eq!(identity.ehealth_id, "2854201475");
        assert_eq!(identity.fingerprint, Fingerprint::of_der(&der));
        assert_eq!(identity.fingerprint.to_string().len(), 64);
        assert_eq!(identity.algorithm, SignatureAlgorithm::EcdsaP256Sha256);
        assert_eq!(identity.professional().ehealth_id, "2854201475");
        assert!(identity.check_validity(OffsetDateTime::now_utc()).is_ok());
    }

    #[test]
    fn a_certificate_without_an_ehealth_id_is_not_a_card_certificate() {
        let issuer = ca("Some CA", "Org");
        let der = issuer.der().to_vec();
        let err = CardIdentity::from_certificate(&der).unwrap_err();
        assert!(
            matches!(&err, CardError::BadCertificate { reason } if reason.contains("serialNumber")),
            "{err}"
        );
        let err = CardIdentity::from_certificate(b"not a certificate").unwrap_err();
        assert!(matches!(err, CardError::BadCertificate { .. }));
    }

    #[test]
    fn expired_and_future_certificates_are_refused_before_use() {
        let issuer = ca("Some CA", "Org");
        let now = OffsetDateTime::now_utc();
        let expired = issued_by(
            &issuer,
            "Dr Old",
            "1111",
            now - Duration::days(30),
            now - Duration::days(1),
        );
        let expired = CardIdentity::from_certificate(&expired).unwrap();
        let err = expired.check_validity(now).unwrap_err();
        assert!(matches!(err, CardError::CertificateExpired { .. }));
        assert_eq!(err.code(), dspconnect::ErrorCode::CertificateNotValid);
        let future = issued_by(
            &issuer,
            "Dr New",
            "2222",
            now + Duration::days(1),
            now + Duration::days(30),
        );
        let future = CardIdentity::from_certificate(&future).unwrap();
        assert!(matches!(
            future.check_validity(now),
            Err(CardError::CertificateNotYetValid { .. })
        ));
    }
}
