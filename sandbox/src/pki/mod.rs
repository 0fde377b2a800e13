//! The sandbox's test PKI, created on first start in `<data dir>/pki/` and
//! reloaded afterwards:
//!
//! | file | what |
//! |---|---|
//! | `platform-ca.pem`, `platform-ca.key.pem` | platform CA (ECDSA P-256); clients pin it |
//! | `server.pem`, `server.key.pem` | HTTPS certificate for `localhost` and `127.0.0.1` |
//! | `idp-signing.pem`, `idp-signing.key.pem` | IdP SAML signing certificate (RSA 2048), issued by the platform CA |
//! | `luxtrust-test-ca.pem`, `luxtrust-test-ca.key.pem` | "LuxTrust test CA" (RSA 2048): issues card certificates |
//! | `revoked-serials.json` | revoked card certificates: `{"revoked": [{"serial": "<hex>", "revoked_at": "<RFC 3339>"}]}` |
//!
//! The directory is 0700, key files 0600 (PKCS#8 PEM); a key file or the
//! directory open to other users is refused. A first start builds the PKI in
//! a temporary directory and renames it into place, so an interrupted start
//! leaves no half PKI behind.
//!
//! Card certificates carry the professional's name as subject CN and the
//! eHealth id in the subject's X.520 `serialNumber` attribute (2.5.4.5),
//! where real qualified certificates carry a person's identifier; the IdP
//! reads both back with [`Pki::verify_professional_certificate`].

mod card;
pub(crate) mod files;
mod identifiers;
mod keys;
mod names;
mod profiles;
mod revocation;
mod verify;

use std::fmt;
use std::path::{Path, PathBuf};

use rcgen::string::PrintableString;
use rcgen::{CertificateParams, CertifiedIssuer, Issuer, KeyPair, KeyUsagePurpose};
use rsa::RsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::signature::{SignatureEncoding, Signer};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use sha2::Sha256;
use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;
use zeroize::Zeroizing;

pub use card::{CARD_FORMAT, CARD_MANIFEST, CardCredentials, CardError, CardPin};
pub use files::FileError;
pub use identifiers::{CertificateSerial, Fingerprint, InvalidSerial};
pub use keys::{KeyError, RSA_BITS};
pub use names::UnsupportedName;
pub use profiles::{CardCertificatePurpose, SERIAL_NUMBER_ATTRIBUTE, Validity};
pub use revocation::{RevocationError, RevokedCertificate};
pub use verify::{CertificateError, VerifiedProfessionalCertificate};

use revocation::RevocationList;

/// Name of the PKI directory inside the data directory.
pub const PKI_DIR: &str = "pki";
pub const PLATFORM_CA_CERT: &str = "platform-ca.pem";
pub const PLATFORM_CA_KEY: &str = "platform-ca.key.pem";
pub const SERVER_CERT: &str = "server.pem";
pub const SERVER_KEY: &str = "server.key.pem";
pub const IDP_SIGNING_CERT: &str = "idp-signing.pem";
pub const IDP_SIGNING_KEY: &str = "idp-signing.key.pem";
pub const LUXTRUST_CA_CERT: &str = "luxtrust-test-ca.pem";
pub const LUXTRUST_CA_KEY: &str = "luxtrust-test-ca.key.pem";
pub const REVOKED_SERIALS: &str = "revoked-serials.json";

/// Longest professional name accepted (the CN upper bound of RFC 5280).
const MAX_NAME_CHARS: usize = 64;
/// Longest eHealth id accepted.
const MAX_EHEALTH_ID_CHARS: usize = 64;

/// Why the PKI cannot be created, loaded or used.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Revocation(#[from] RevocationError),
    #[error(
        "the PKI in {dir} is incomplete: {missing} is missing; restore it from a backup, or \
         remove {dir} to create a new PKI (every exported card then stops working)"
    )]
    Incomplete { dir: PathBuf, missing: String },
    #[error("{path} does not hold one PEM certificate: {reason}")]
    BadCertificateFile { path: PathBuf, reason: String },
    #[error("cannot rebuild the issuer from {path}: {source}")]
    BadIssuerName {
        path: PathBuf,
        #[source]
        source: UnsupportedName,
    },
    #[error("cannot issue the {what} certificate: {source}")]
    Issue {
        what: &'static str,
        #[source]
        source: rcgen::Error,
    },
    #[error(transparent)]
    Card(#[from] CardError),
    #[error("invalid professional {field}: {reason}")]
    InvalidProfessional {
        field: &'static str,
        reason: &'static str,
    },
}

/// A certificate as stored: its PEM text and DER bytes.
#[derive(Clone)]
struct StoredCertificate {
    pem: String,
    der: Vec<u8>,
}

impl StoredCertificate {
    fn from_rcgen(cert: &rcgen::Certificate) -> Self {
        Self {
            pem: cert.pem(),
            der: cert.der().to_vec(),
        }
    }

    fn read(path: &Path) -> Result<Self, PkiError> {
        let pem = files::read_text(path)?;
        let bad = |reason: String| PkiError::BadCertificateFile {
            path: path.to_path_buf(),
            reason,
        };
        let mut certs = CertificateDer::pem_slice_iter(pem.as_bytes());
        let der = certs
            .next()
            .ok_or_else(|| bad("no CERTIFICATE block".to_owned()))?
            .map_err(|e| bad(e.to_string()))?
            .to_vec();
        if certs.next().is_some() {
            return Err(bad("more than one CERTIFICATE block".to_owned()));
        }
        Ok(Self { pem, der })
    }
}

/// The IdP's signing identity: it signs SAML assertions with RSA-SHA256
/// (PKCS#1 v1.5) and publishes its certificate in them.
pub struct IdpSigningIdentity {
    certificate: StoredCertificate,
    signing_key: SigningKey<Sha256>,
}

impl IdpSigningIdentity {
    /// DER of the signing certificate (for `ds:X509Certificate`).
    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate.der
    }

    /// PEM of the signing certificate.
    pub fn certificate_pem(&self) -> &str {
        &self.certificate.pem
    }

    /// RSA-SHA256 (PKCS#1 v1.5) signature of `message`, e.g. the exclusive
    /// C14N of a `ds:SignedInfo`.
    pub fn sign_rsa_sha256(&self, message: &[u8]) -> Vec<u8> {
        self.signing_key.sign(message).to_vec()
    }
}

/// The IdP signs through the same [`ihe::dsig::Signer`] interface as a
/// card, so that assertions are signed by the code path the client's
/// requests use.
impl ihe::dsig::Signer for IdpSigningIdentity {
    fn certificate_der(&self) -> &[u8] {
        &self.certificate.der
    }

    fn sign_prehashed(
        &self,
        algorithm: ihe::dsig::SignatureAlgorithm,
        digest: &[u8],
    ) -> Result<Vec<u8>, ihe::dsig::SignerError> {
        use rsa::signature::{SignatureEncoding, hazmat::PrehashSigner};
        if algorithm != ihe::dsig::SignatureAlgorithm::RsaSha256 {
            return Err(ihe::dsig::SignerError::UnsupportedAlgorithm {
                requested: algorithm,
                supported: ihe::dsig::SignatureAlgorithm::RsaSha256,
            });
        }
        if digest.len() != 32 {
            return Err(ihe::dsig::SignerError::DigestLength {
                actual: digest.len(),
            });
        }
        self.signing_key
            .sign_prehash(digest)
            .map(|s| s.to_vec())
            .map_err(|e| ihe::dsig::SignerError::Device(Box::new(e)))
    }
}

impl fmt::Debug for IdpSigningIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdpSigningIdentity")
            .field("certificate", &Fingerprint::of_der(&self.certificate.der))
            .finish_non_exhaustive()
    }
}

/// Who a card certificate is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Professional {
    /// Full name, the certificate's CN (1–64 characters).
    pub name: String,
    /// eHealth id, the certificate's `serialNumber` (1–64 characters of
    /// A–Z, a–z, 0–9 and `-`).
    pub ehealth_id: String,
}

/// A freshly issued card certificate with its private key.
pub struct ProfessionalCredentials {
    professional: Professional,
    certificate: StoredCertificate,
    private_key: RsaPrivateKey,
    serial: CertificateSerial,
    validity: Validity,
}

impl ProfessionalCredentials {
    pub fn professional(&self) -> &Professional {
        &self.professional
    }
    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate.der
    }
    pub fn certificate_pem(&self) -> &str {
        &self.certificate.pem
    }
    /// The card's authentication key (zeroized when dropped).
    pub fn private_key(&self) -> &RsaPrivateKey {
        &self.private_key
    }
    pub fn serial(&self) -> &CertificateSerial {
        &self.serial
    }
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of_der(&self.certificate.der)
    }
    pub fn validity(&self) -> Validity {
        self.validity
    }
}

impl fmt::Debug for ProfessionalCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProfessionalCredentials")
            .field("professional", &self.professional)
            .field("serial", &self.serial)
            .field("validity", &self.validity)
            .finish_non_exhaustive()
    }
}

/// The loaded test PKI. Cheap to share behind an `Arc`; every method takes
/// `&self`.
pub struct Pki {
    dir: PathBuf,
    platform_ca: StoredCertificate,
    server: StoredCertificate,
    server_key_der: Zeroizing<Vec<u8>>,
    idp: IdpSigningIdentity,
    luxtrust_ca: StoredCertificate,
    luxtrust_issuer: Issuer<'static, KeyPair>,
    revocations: RevocationList,
}

impl fmt::Debug for Pki {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pki")
            .field("dir", &self.dir)
            .field("platform_ca", &self.platform_ca_fingerprint())
            .field("luxtrust_ca", &self.luxtrust_ca_fingerprint())
            .finish_non_exhaustive()
    }
}

impl Pki {
    /// Loads the PKI from `<data_dir>/pki`, creating it (and `data_dir`,
    /// mode 0700) on first use. Creating takes two RSA 2048 key generations.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, PkiError> {
        // Group/other may read the data directory but never write it: whoever
        // can write it can swap the PKI directory.
        files::ensure_private_dir(data_dir, 0o022)?;
        let dir = data_dir.join(PKI_DIR);
        if !dir.exists() {
            let staging = tempfile::Builder::new()
                .prefix(".pki-being-created-")
                .tempdir_in(data_dir)
                .map_err(|e| FileError::io("create a temporary directory in", data_dir, e))?;
            files::restrict_dir(staging.path())?;
            create_in(staging.path())?;
            match std::fs::rename(staging.path(), &dir) {
                Ok(()) => {
                    // The directory now lives on as `dir`; nothing left to clean.
                    let _ = staging.keep();
                }
                // Another process created the PKI at the same time: use
                // theirs (the staging directory is removed on drop).
                Err(_) if dir.is_dir() => {}
                Err(e) => return Err(FileError::io("move the new PKI into", &dir, e).into()),
            }
        }
        Self::load(&dir)
    }

    fn load(dir: &Path) -> Result<Self, PkiError> {
        files::check_not_open(dir, 0o077, files::PRIVATE_DIR_MODE)?;
        for name in [
            PLATFORM_CA_CERT,
            SERVER_CERT,
            SERVER_KEY,
            IDP_SIGNING_CERT,
            IDP_SIGNING_KEY,
            LUXTRUST_CA_CERT,
            LUXTRUST_CA_KEY,
            REVOKED_SERIALS,
        ] {
            if !dir.join(name).is_file() {
                return Err(PkiError::Incomplete {
                    dir: dir.to_path_buf(),
                    missing: name.to_owned(),
                });
            }
        }
        let platform_ca = StoredCertificate::read(&dir.join(PLATFORM_CA_CERT))?;
        let server = StoredCertificate::read(&dir.join(SERVER_CERT))?;
        let server_key_pem = files::read_private_text(&dir.join(SERVER_KEY))?;
        let server_key = keys::ecdsa_from_pem(&server_key_pem, SERVER_KEY)?;
        let server_key_der = Zeroizing::new(server_key.serialize_der());

        let idp_key_pem = files::read_private_text(&dir.join(IDP_SIGNING_KEY))?;
        let idp = IdpSigningIdentity {
            certificate: StoredCertificate::read(&dir.join(IDP_SIGNING_CERT))?,
            signing_key: SigningKey::new(keys::rsa_from_pkcs8_pem(&idp_key_pem, IDP_SIGNING_KEY)?),
        };

        let luxtrust_ca_path = dir.join(LUXTRUST_CA_CERT);
        let luxtrust_ca = StoredCertificate::read(&luxtrust_ca_path)?;
        let luxtrust_key_pem = files::read_private_text(&dir.join(LUXTRUST_CA_KEY))?;
        let luxtrust_key = keys::rsa_from_pkcs8_pem(&luxtrust_key_pem, LUXTRUST_CA_KEY)?;
        let luxtrust_issuer = reload_issuer(
            &luxtrust_ca,
            &luxtrust_ca_path,
            keys::rsa_signing_key_pair(&luxtrust_key, LUXTRUST_CA_KEY)?,
        )?;

        Ok(Self {
            dir: dir.to_path_buf(),
            platform_ca,
            server,
            server_key_der,
            idp,
            luxtrust_ca,
            luxtrust_issuer,
            revocations: RevocationList::at(dir.join(REVOKED_SERIALS)),
        })
    }

    /// The PKI directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// PEM of the platform CA, the one root a client pins.
    pub fn platform_ca_pem(&self) -> &str {
        &self.platform_ca.pem
    }

    /// DER of the platform CA.
    pub fn platform_ca_der(&self) -> &[u8] {
        &self.platform_ca.der
    }

    /// Path of the platform CA's PEM file.
    pub fn platform_ca_path(&self) -> PathBuf {
        self.dir.join(PLATFORM_CA_CERT)
    }

    pub fn platform_ca_fingerprint(&self) -> Fingerprint {
        Fingerprint::of_der(&self.platform_ca.der)
    }

    /// DER of the HTTPS server certificate.
    pub fn server_certificate_der(&self) -> &[u8] {
        &self.server.der
    }

    /// PKCS#8 DER of the HTTPS server key, for the TLS acceptor.
    pub(crate) fn server_private_key_der(&self) -> &[u8] {
        &self.server_key_der
    }

    /// The IdP's SAML signing identity.
    pub fn idp_signing(&self) -> &IdpSigningIdentity {
        &self.idp
    }

    /// PEM of the LuxTrust test CA.
    pub fn luxtrust_ca_pem(&self) -> &str {
        &self.luxtrust_ca.pem
    }

    /// DER of the LuxTrust test CA.
    pub fn luxtrust_ca_der(&self) -> &[u8] {
        &self.luxtrust_ca.der
    }

    /// Path of the LuxTrust test CA's PEM file.
    pub fn luxtrust_ca_path(&self) -> PathBuf {
        self.dir.join(LUXTRUST_CA_CERT)
    }

    pub fn luxtrust_ca_fingerprint(&self) -> Fingerprint {
        Fingerprint::of_der(&self.luxtrust_ca.der)
    }

    /// Issues a card authentication certificate and its fresh RSA 2048 key
    /// for `professional`, valid during `validity` (which may lie wholly in
    /// the past or the future, for tests of expired and not-yet-valid cards).
    pub fn issue_professional_certificate(
        &self,
        professional: &Professional,
        validity: Validity,
    ) -> Result<ProfessionalCredentials, PkiError> {
        self.issue_card_certificate(
            professional,
            CardCertificatePurpose::Authentication,
            validity,
        )
    }

    /// Issues either of a card's certificates with a fresh RSA 2048 key.
    pub fn issue_card_certificate(
        &self,
        professional: &Professional,
        purpose: CardCertificatePurpose,
        validity: Validity,
    ) -> Result<ProfessionalCredentials, PkiError> {
        let ehealth_id = checked_ehealth_id(&professional.ehealth_id)?;
        check_name(&professional.name)?;
        let private_key = keys::generate_rsa()?;
        let key_pair = keys::rsa_signing_key_pair(&private_key, "the new card key")?;
        let params = profiles::professional(&professional.name, ehealth_id, purpose, validity);
        let serial = serial_of(&params);
        let certificate = params
            .signed_by(&key_pair, &self.luxtrust_issuer)
            .map_err(|source| PkiError::Issue {
                what: "card",
                source,
            })?;
        Ok(ProfessionalCredentials {
            professional: professional.clone(),
            certificate: StoredCertificate::from_rcgen(&certificate),
            private_key,
            serial,
            validity,
        })
    }

    /// Issues a card for `professional` and writes its credentials (see
    /// [`CardCredentials`] for the format) into `out_dir`, which must be new
    /// or empty.
    pub fn export_card(
        &self,
        professional: &Professional,
        validity: Validity,
        pin: &CardPin,
        out_dir: &Path,
    ) -> Result<ProfessionalCredentials, PkiError> {
        let credentials = self.issue_professional_certificate(professional, validity)?;
        CardCredentials::write(out_dir, &credentials, pin, self.luxtrust_ca_pem())?;
        Ok(credentials)
    }

    /// Checks a card certificate against the LuxTrust test CA at time `at`:
    /// issuer, signature, validity, key usage, identity, revocation.
    pub fn verify_professional_certificate(
        &self,
        leaf_der: &[u8],
        at: OffsetDateTime,
    ) -> Result<VerifiedProfessionalCertificate, CertificateError> {
        verify::verify_professional(leaf_der, &self.luxtrust_ca.der, &self.revocations, at)
    }

    /// Revokes a card certificate (a lost or deactivated card).
    pub fn revoke(&self, serial: &CertificateSerial) -> Result<(), PkiError> {
        Ok(self.revocations.revoke(serial, OffsetDateTime::now_utc())?)
    }

    /// Whether `serial` is on the revocation list (read from the file now).
    pub fn is_revoked(&self, serial: &CertificateSerial) -> Result<bool, PkiError> {
        Ok(self.revocations.is_revoked(serial)?)
    }

    /// Every revoked certificate.
    pub fn revoked_certificates(&self) -> Result<Vec<RevokedCertificate>, PkiError> {
        Ok(self.revocations.list()?)
    }

    /// Path of the revocation list.
    pub fn revocation_list_path(&self) -> &Path {
        self.revocations.path()
    }
}

/// Generates every key and certificate into the (empty, private) `dir`.
fn create_in(dir: &Path) -> Result<(), PkiError> {
    let issue = |what| move |source| PkiError::Issue { what, source };

    let platform_key = keys::generate_ecdsa()?;
    let platform_ca = CertifiedIssuer::self_signed(profiles::platform_ca(), platform_key)
        .map_err(issue("platform CA"))?;

    let server_key = keys::generate_ecdsa()?;
    let server = profiles::server()
        .and_then(|params| params.signed_by(&server_key, &*platform_ca))
        .map_err(issue("server"))?;

    let idp_key = keys::generate_rsa()?;
    let idp_key_pair = keys::rsa_signing_key_pair(&idp_key, "the new IdP key")?;
    let idp = profiles::idp_signing()
        .signed_by(&idp_key_pair, &*platform_ca)
        .map_err(issue("IdP signing"))?;

    let luxtrust_key = keys::generate_rsa()?;
    let luxtrust_key_pair = keys::rsa_signing_key_pair(&luxtrust_key, "the new LuxTrust CA key")?;
    let luxtrust_ca = profiles::luxtrust_ca()
        .self_signed(&luxtrust_key_pair)
        .map_err(issue("LuxTrust test CA"))?;

    let write_cert =
        |name: &str, pem: String| files::create_private_file(&dir.join(name), pem.as_bytes());
    let write_key =
        |name: &str, pem: &str| files::create_private_file(&dir.join(name), pem.as_bytes());

    write_cert(PLATFORM_CA_CERT, platform_ca.pem())?;
    write_key(
        PLATFORM_CA_KEY,
        &Zeroizing::new(platform_ca.key().serialize_pem()),
    )?;
    write_cert(SERVER_CERT, server.pem())?;
    write_key(SERVER_KEY, &Zeroizing::new(server_key.serialize_pem()))?;
    write_cert(IDP_SIGNING_CERT, idp.pem())?;
    write_key(IDP_SIGNING_KEY, &keys::rsa_to_pkcs8_pem(&idp_key)?)?;
    write_cert(LUXTRUST_CA_CERT, luxtrust_ca.pem())?;
    write_key(LUXTRUST_CA_KEY, &keys::rsa_to_pkcs8_pem(&luxtrust_key)?)?;
    RevocationList::create_empty(&dir.join(REVOKED_SERIALS))?;
    Ok(())
}

/// An rcgen issuer for a CA whose certificate and key were stored earlier.
fn reload_issuer(
    ca: &StoredCertificate,
    path: &Path,
    key: KeyPair,
) -> Result<Issuer<'static, KeyPair>, PkiError> {
    let bad = |reason: String| PkiError::BadCertificateFile {
        path: path.to_path_buf(),
        reason,
    };
    let (_, parsed) = X509Certificate::from_der(&ca.der).map_err(|e| bad(e.to_string()))?;
    let mut params = CertificateParams::default();
    params.distinguished_name =
        names::distinguished_name_of(parsed.subject()).map_err(|source| {
            PkiError::BadIssuerName {
                path: path.to_path_buf(),
                source,
            }
        })?;
    // The authority key identifier of issued certificates is derived from
    // the key with the default method, as the CA's own subject key
    // identifier was when the CA was created.
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    Ok(Issuer::new(params, key))
}

fn serial_of(params: &CertificateParams) -> CertificateSerial {
    params
        .serial_number
        .as_ref()
        .map(|serial| CertificateSerial::from_bytes(&serial.to_bytes()))
        .unwrap_or_else(|| CertificateSerial::from_bytes(&[]))
}

fn checked_ehealth_id(ehealth_id: &str) -> Result<PrintableString, PkiError> {
    let invalid = |reason| PkiError::InvalidProfessional {
        field: "eHealth id",
        reason,
    };
    if ehealth_id.is_empty() || ehealth_id.chars().count() > MAX_EHEALTH_ID_CHARS {
        return Err(invalid("must be 1 to 64 characters long"));
    }
    if !ehealth_id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(invalid("only letters A-Z, a-z, digits and '-' are allowed"));
    }
    PrintableString::try_from(ehealth_id).map_err(|_| invalid("not a PrintableString"))
}

fn check_name(name: &str) -> Result<(), PkiError> {
    let invalid = |reason| PkiError::InvalidProfessional {
        field: "name",
        reason,
    };
    let length = name.chars().count();
    if name.trim().is_empty() || length > MAX_NAME_CHARS {
        return Err(invalid("must be 1 to 64 characters long and not blank"));
    }
    if name.chars().any(char::is_control) {
        return Err(invalid("control characters are not allowed"));
    }
    Ok(())
}
