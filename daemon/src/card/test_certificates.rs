//! Certificates for unit tests, made with rcgen and P-256 keys (fast to
//! generate); the integration tests use the sandbox's real test PKI.

use std::sync::Arc;

use rcgen::string::PrintableString;
use rcgen::{CertificateParams, CertifiedIssuer, DistinguishedName, DnType, DnValue, KeyPair};
use time::{Duration, OffsetDateTime};

use super::CardIdentity;

fn professional_name(name: &str, ehealth_id: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "LU");
    dn.push(DnType::CommonName, name);
    dn.push(
        DnType::CustomDnType(vec![2, 5, 4, 5]),
        DnValue::PrintableString(PrintableString::try_from(ehealth_id).unwrap()),
    );
    dn
}

fn params(
    dn: DistinguishedName,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = dn;
    params.not_before = not_before;
    params.not_after = not_after;
    params
}

/// A CA named `common_name` (organisation `organisation`).
pub fn ca(common_name: &str, organisation: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, organisation);
    dn.push(DnType::CommonName, common_name);
    let now = OffsetDateTime::now_utc();
    let mut ca_params = params(dn, now - Duration::days(1), now + Duration::days(3650));
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap()
}

/// A professional's certificate issued by `issuer`, valid in the window.
pub fn issued_by(
    issuer: &CertifiedIssuer<'static, KeyPair>,
    name: &str,
    ehealth_id: &str,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> Vec<u8> {
    params(professional_name(name, ehealth_id), not_before, not_after)
        .signed_by(&KeyPair::generate().unwrap(), issuer)
        .unwrap()
        .der()
        .to_vec()
}

/// A self-signed professional's certificate valid now.
pub fn self_signed(name: &str, ehealth_id: &str) -> Vec<u8> {
    let now = OffsetDateTime::now_utc();
    params(
        professional_name(name, ehealth_id),
        now - Duration::days(1),
        now + Duration::days(365),
    )
    .self_signed(&KeyPair::generate().unwrap())
    .unwrap()
    .der()
    .to_vec()
}

/// The identity of a self-signed professional's certificate valid now.
pub fn identity(name: &str, ehealth_id: &str) -> Arc<CardIdentity> {
    Arc::new(CardIdentity::from_certificate(&self_signed(name, ehealth_id)).unwrap())
}
