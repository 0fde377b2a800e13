//! The certificate profiles of the test PKI: who each certificate names, its
//! key usages and its lifetime. Every name says SANDBOX so that no person
//! mistakes one of these certificates for a real one.

use rcgen::string::PrintableString;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, IsCa, KeyUsagePurpose, SanType, SerialNumber,
};
use rsa::rand_core::{OsRng, RngCore};
use time::{Duration, OffsetDateTime};

/// OID of the X.520 `serialNumber` attribute (2.5.4.5), which carries the
/// professional's eHealth id in the subject of a LuxTrust test certificate.
pub const SERIAL_NUMBER_ATTRIBUTE: [u64; 4] = [2, 5, 4, 5];

const ORGANISATION: &str = "dspconnect SANDBOX (not valid on the real platform)";
const COUNTRY: &str = "LU";

pub const PLATFORM_CA_NAME: &str = "eSante Platform Test CA (SANDBOX)";
pub const IDP_SIGNING_NAME: &str = "eSante IdP signing (SANDBOX)";
pub const LUXTRUST_CA_NAME: &str = "LuxTrust Test CA (SANDBOX)";
pub const SERVER_HOST: &str = "localhost";

/// CAs live long enough that a kept sandbox never needs a new one.
const CA_LIFETIME: Duration = Duration::days(20 * 365);
/// Server and IdP certificates.
const SERVICE_LIFETIME: Duration = Duration::days(5 * 365);
/// Certificates start slightly in the past so that a client whose clock is
/// a little behind does not see them as not yet valid.
const BACKDATE: Duration = Duration::minutes(5);

/// When a certificate is valid: `not_before` ..= `not_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
}

impl Validity {
    /// Valid from (a few minutes before) now for `days` days.
    pub fn days_from_now(days: i64) -> Self {
        Self::lasting(Duration::days(days))
    }

    /// Any window, also one entirely in the past (an expired card) or in
    /// the future (a card not yet valid) — the tests need both. Both ends
    /// are truncated to whole seconds, the precision of X.509 times.
    pub fn between(not_before: OffsetDateTime, not_after: OffsetDateTime) -> Self {
        Self {
            not_before: whole_seconds(not_before),
            not_after: whole_seconds(not_after),
        }
    }

    fn lasting(lifetime: Duration) -> Self {
        let now = OffsetDateTime::now_utc();
        Self::between(now - BACKDATE, now + lifetime)
    }
}

fn whole_seconds(at: OffsetDateTime) -> OffsetDateTime {
    at - Duration::nanoseconds(i64::from(at.nanosecond()))
}

/// Which of a LuxTrust card's two certificates: the authentication one
/// (what the IdP accepts) or the qualified signature one (non-repudiation,
/// which the IdP must refuse for login).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardCertificatePurpose {
    Authentication,
    Signature,
}

fn organisation_name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, printable(COUNTRY));
    dn.push(DnType::OrganizationName, ORGANISATION);
    dn.push(DnType::CommonName, common_name);
    dn
}

fn printable(text: &'static str) -> DnValue {
    match PrintableString::try_from(text) {
        Ok(value) => DnValue::PrintableString(value),
        // Only reached if a constant above gains a non-printable character;
        // UTF8String is then the correct encoding anyway.
        Err(_) => DnValue::Utf8String(text.to_owned()),
    }
}

/// A random positive 128-bit serial (RFC 5280 asks for at least 64 bits of
/// randomness; the top bit is cleared so the DER INTEGER stays positive
/// without padding, the next one set so it always has 16 bytes).
pub fn random_serial() -> SerialNumber {
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    SerialNumber::from_slice(&bytes)
}

fn base(common_name: &str, validity: Validity) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = organisation_name(common_name);
    params.not_before = validity.not_before;
    params.not_after = validity.not_after;
    params.serial_number = Some(random_serial());
    params
}

fn ca(common_name: &str) -> CertificateParams {
    let mut params = base(common_name, Validity::lasting(CA_LIFETIME));
    // Path length 0: these CAs sign end-entity certificates only.
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

/// The platform CA (ECDSA P-256): issues the TLS server certificate and the
/// IdP signing certificate; clients pin it.
pub fn platform_ca() -> CertificateParams {
    ca(PLATFORM_CA_NAME)
}

/// The LuxTrust test CA (RSA 2048): issues professionals' card certificates.
pub fn luxtrust_ca() -> CertificateParams {
    ca(LUXTRUST_CA_NAME)
}

fn end_entity(common_name: &str, validity: Validity) -> CertificateParams {
    let mut params = base(common_name, validity);
    params.is_ca = IsCa::ExplicitNoCa;
    params.use_authority_key_identifier_extension = true;
    params
}

/// The HTTPS server certificate for `localhost` and `127.0.0.1`.
pub fn server() -> Result<CertificateParams, rcgen::Error> {
    let mut params = end_entity(SERVER_HOST, Validity::lasting(SERVICE_LIFETIME));
    params.subject_alt_names = vec![
        SanType::DnsName(rcgen::string::Ia5String::try_from(SERVER_HOST)?),
        SanType::IpAddress(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)),
    ];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    Ok(params)
}

/// The IdP's SAML signing certificate (RSA 2048, RSA-SHA256 signatures).
pub fn idp_signing() -> CertificateParams {
    let mut params = end_entity(IDP_SIGNING_NAME, Validity::lasting(SERVICE_LIFETIME));
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::ContentCommitment,
    ];
    params
}

/// A professional's card certificate: CN = the professional's name,
/// `serialNumber` = the eHealth id. Authentication: key usage
/// digitalSignature, extended key usage clientAuth. Signature: key usage
/// nonRepudiation, extended key usage emailProtection.
pub fn professional(
    name: &str,
    ehealth_id: PrintableString,
    purpose: CardCertificatePurpose,
    validity: Validity,
) -> CertificateParams {
    let mut params = end_entity(name, validity);
    params.distinguished_name = {
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CountryName, printable(COUNTRY));
        dn.push(DnType::CommonName, name);
        dn.push(
            DnType::CustomDnType(SERIAL_NUMBER_ATTRIBUTE.to_vec()),
            DnValue::PrintableString(ehealth_id),
        );
        dn
    };
    match purpose {
        CardCertificatePurpose::Authentication => {
            params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        }
        CardCertificatePurpose::Signature => {
            params.key_usages = vec![KeyUsagePurpose::ContentCommitment];
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::EmailProtection];
        }
    }
    params
}
