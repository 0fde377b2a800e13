//! The test PKI: creation and reload, card certificates and their
//! verification (each refusal its own error), revocation, card export.

mod common;

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use dspconnect_sandbox::pki::{
    self, CardCertificatePurpose, CardCredentials, CardError, CardPin, CertificateError, FileError,
    Pki, PkiError, Professional, Validity,
};
use time::{Duration, OffsetDateTime};

struct Shared {
    data_dir: PathBuf,
    pki: Pki,
}

/// One PKI for the tests that only issue and verify (RSA keys are slow to
/// make).
static SHARED: LazyLock<Shared> = LazyLock::new(|| {
    let data_dir = common::fresh_shared_dir("pki-tests").join("data");
    let pki = Pki::load_or_create(&data_dir).expect("PKI created");
    Shared { data_dir, pki }
});

fn anne() -> Professional {
    Professional {
        name: "Dr Anne Müller".to_owned(),
        ehealth_id: "2854201475".to_owned(),
    }
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

const PKI_FILES: [&str; 9] = [
    pki::PLATFORM_CA_CERT,
    pki::PLATFORM_CA_KEY,
    pki::SERVER_CERT,
    pki::SERVER_KEY,
    pki::IDP_SIGNING_CERT,
    pki::IDP_SIGNING_KEY,
    pki::LUXTRUST_CA_CERT,
    pki::LUXTRUST_CA_KEY,
    pki::REVOKED_SERIALS,
];

#[test]
fn pki_is_created_once_private_and_reloaded_identically() {
    let temp = tempfile::tempdir().expect("tempdir");
    let data_dir = temp.path().join("sandbox-data");
    let first = Pki::load_or_create(&data_dir).expect("created");
    let pki_dir = data_dir.join(pki::PKI_DIR);
    assert_eq!(first.dir(), pki_dir);
    assert_eq!(common::mode_of(&data_dir), 0o700);
    assert_eq!(common::mode_of(&pki_dir), 0o700);
    let contents_before: Vec<Vec<u8>> = PKI_FILES
        .iter()
        .map(|name| {
            let path = pki_dir.join(name);
            assert_eq!(common::mode_of(&path), 0o600, "{name}");
            std::fs::read(&path).expect("read")
        })
        .collect();
    // Nothing else (no staging directory) is left behind.
    assert_eq!(std::fs::read_dir(&data_dir).expect("ls").count(), 1);

    let second = Pki::load_or_create(&data_dir).expect("reloaded");
    assert_eq!(
        second.platform_ca_fingerprint(),
        first.platform_ca_fingerprint()
    );
    assert_eq!(
        second.luxtrust_ca_fingerprint(),
        first.luxtrust_ca_fingerprint()
    );
    assert_eq!(
        second.server_certificate_der(),
        first.server_certificate_der()
    );
    assert_eq!(
        second.idp_signing().certificate_der(),
        first.idp_signing().certificate_der()
    );
    let contents_after: Vec<Vec<u8>> = PKI_FILES
        .iter()
        .map(|name| std::fs::read(pki_dir.join(name)).expect("read"))
        .collect();
    assert_eq!(contents_after, contents_before, "reload rewrote a file");

    // The reloaded LuxTrust CA issues certificates that chain to the
    // certificate created on the first start.
    let card = second
        .issue_professional_certificate(&anne(), Validity::days_from_now(30))
        .expect("issued after reload");
    first
        .verify_professional_certificate(card.certificate_der(), now())
        .expect("a card issued after reload verifies against the original CA");
    let card_path = temp.path().join("card.pem");
    std::fs::write(&card_path, card.certificate_pem()).expect("write");
    assert_openssl_accepts(&first.luxtrust_ca_path(), &card_path, "sslclient");
    assert_openssl_accepts(
        &first.platform_ca_path(),
        &pki_dir.join(pki::SERVER_CERT),
        "sslserver",
    );
}

#[test]
fn a_key_file_open_to_others_or_a_missing_file_is_refused() {
    let temp = tempfile::tempdir().expect("tempdir");
    let data_dir = temp.path().join("data");
    Pki::load_or_create(&data_dir).expect("created");
    let pki_dir = data_dir.join(pki::PKI_DIR);

    let key = pki_dir.join(pki::LUXTRUST_CA_KEY);
    common::set_mode(&key, 0o644);
    match Pki::load_or_create(&data_dir) {
        Err(PkiError::File(FileError::TooOpen { path, mode, .. })) => {
            assert_eq!(path, key);
            assert_eq!(mode, 0o644);
        }
        other => panic!("expected TooOpen, got {other:?}"),
    }
    common::set_mode(&key, 0o600);

    common::set_mode(&pki_dir, 0o755);
    assert!(matches!(
        Pki::load_or_create(&data_dir),
        Err(PkiError::File(FileError::TooOpen { .. }))
    ));
    common::set_mode(&pki_dir, 0o700);

    std::fs::remove_file(pki_dir.join(pki::IDP_SIGNING_CERT)).expect("rm");
    match Pki::load_or_create(&data_dir) {
        Err(PkiError::Incomplete { missing, .. }) => assert_eq!(missing, pki::IDP_SIGNING_CERT),
        other => panic!("expected Incomplete, got {other:?}"),
    }
}

#[test]
fn a_card_certificate_chains_to_the_luxtrust_test_ca_and_names_its_holder() {
    let pki = &SHARED.pki;
    let card = pki
        .issue_professional_certificate(&anne(), Validity::days_from_now(365))
        .expect("issued");
    let verified = pki
        .verify_professional_certificate(card.certificate_der(), now())
        .expect("valid card");
    assert_eq!(verified.name, "Dr Anne Müller");
    assert_eq!(verified.ehealth_id, "2854201475");
    assert_eq!(&verified.serial, card.serial());
    assert_eq!(verified.fingerprint, card.fingerprint());
    assert_eq!(verified.not_after, card.validity().not_after);
}

#[test]
fn an_expired_card_is_refused_with_its_end_date() {
    let pki = &SHARED.pki;
    let validity = Validity::between(now() - Duration::days(400), now() - Duration::days(1));
    let card = pki
        .issue_professional_certificate(&anne(), validity)
        .expect("issued");
    match pki.verify_professional_certificate(card.certificate_der(), now()) {
        Err(CertificateError::Expired { not_after }) => assert_eq!(not_after, validity.not_after),
        other => panic!("expected Expired, got {other:?}"),
    }
    // The same card was fine while it was valid.
    pki.verify_professional_certificate(card.certificate_der(), now() - Duration::days(10))
        .expect("valid ten days ago");
}

#[test]
fn a_card_not_yet_valid_is_refused_with_its_start_date() {
    let pki = &SHARED.pki;
    let validity = Validity::between(now() + Duration::days(2), now() + Duration::days(400));
    let card = pki
        .issue_professional_certificate(&anne(), validity)
        .expect("issued");
    match pki.verify_professional_certificate(card.certificate_der(), now()) {
        Err(CertificateError::NotYetValid { not_before }) => {
            assert_eq!(not_before, validity.not_before)
        }
        other => panic!("expected NotYetValid, got {other:?}"),
    }
}

#[test]
fn a_revoked_card_is_refused_and_the_revocation_persists() {
    let pki = &SHARED.pki;
    let card = pki
        .issue_professional_certificate(&anne(), Validity::days_from_now(365))
        .expect("issued");
    let other = pki
        .issue_professional_certificate(&anne(), Validity::days_from_now(365))
        .expect("issued");
    assert!(!pki.is_revoked(card.serial()).expect("readable"));

    pki.revoke(card.serial()).expect("revoked");
    pki.revoke(card.serial())
        .expect("revoking twice is harmless");
    assert!(pki.is_revoked(card.serial()).expect("readable"));
    match pki.verify_professional_certificate(card.certificate_der(), now()) {
        Err(CertificateError::Revoked { serial }) => assert_eq!(&serial, card.serial()),
        other => panic!("expected Revoked, got {other:?}"),
    }
    // Another card of the same professional is unaffected.
    pki.verify_professional_certificate(other.certificate_der(), now())
        .expect("the other card still works");

    // A fresh load (another process) reads the same list.
    let reloaded = Pki::load_or_create(&SHARED.data_dir).expect("reloaded");
    assert!(reloaded.is_revoked(card.serial()).expect("readable"));
    let listed = reloaded.revoked_certificates().expect("list");
    assert_eq!(
        listed.iter().filter(|r| &r.serial == card.serial()).count(),
        1
    );
}

#[test]
fn a_card_from_a_foreign_ca_is_refused_as_untrusted() {
    let pki = &SHARED.pki;
    // A CA of our own making, outside the sandbox PKI.
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Some Other CA");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign];
    let foreign_ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).expect("CA");

    let leaf_key = rcgen::KeyPair::generate().expect("key");
    let mut leaf = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    leaf.distinguished_name
        .push(rcgen::DnType::CommonName, "Dr Anne Müller");
    leaf.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let leaf = leaf.signed_by(&leaf_key, &*foreign_ca).expect("leaf");

    match pki.verify_professional_certificate(leaf.der(), now()) {
        Err(CertificateError::UntrustedIssuer { issuer }) => {
            assert!(issuer.contains("Some Other CA"), "{issuer}")
        }
        other => panic!("expected UntrustedIssuer, got {other:?}"),
    }
}

#[test]
fn a_tampered_card_certificate_fails_its_signature_check() {
    let pki = &SHARED.pki;
    let card = pki
        .issue_professional_certificate(&anne(), Validity::days_from_now(365))
        .expect("issued");
    // Flip one bit of the signature (the last bytes of the DER).
    let mut der = card.certificate_der().to_vec();
    let last = der.len() - 1;
    der[last] ^= 0x01;
    assert!(matches!(
        pki.verify_professional_certificate(&der, now()),
        Err(CertificateError::BadSignature)
    ));
}

#[test]
fn a_signature_certificate_is_refused_for_authentication() {
    let pki = &SHARED.pki;
    let signing = pki
        .issue_card_certificate(
            &anne(),
            CardCertificatePurpose::Signature,
            Validity::days_from_now(365),
        )
        .expect("issued");
    match pki.verify_professional_certificate(signing.certificate_der(), now()) {
        Err(CertificateError::WrongKeyUsage { reason }) => {
            assert!(reason.contains("digitalSignature"), "{reason}")
        }
        other => panic!("expected WrongKeyUsage, got {other:?}"),
    }
}

#[test]
fn garbage_is_refused_as_malformed() {
    assert!(matches!(
        SHARED
            .pki
            .verify_professional_certificate(b"not a certificate", now()),
        Err(CertificateError::Malformed { .. })
    ));
}

#[test]
fn invalid_professional_identities_are_refused_before_issuing() {
    let pki = &SHARED.pki;
    for (name, ehealth_id) in [
        ("", "2854201475"),
        ("Dr X", ""),
        ("Dr X", "28 54"),
        ("Dr X", "2854/201475"),
        ("Dr\nX", "2854201475"),
    ] {
        let professional = Professional {
            name: name.to_owned(),
            ehealth_id: ehealth_id.to_owned(),
        };
        assert!(
            matches!(
                pki.issue_professional_certificate(&professional, Validity::days_from_now(1)),
                Err(PkiError::InvalidProfessional { .. })
            ),
            "{name:?} / {ehealth_id:?}"
        );
    }
}

#[test]
fn the_idp_signs_with_rsa_sha256_under_its_certificate() {
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use rsa::pkcs8::DecodePublicKey;
    use rsa::signature::Verifier;

    let idp = SHARED.pki.idp_signing();
    let message = b"<ds:SignedInfo>...</ds:SignedInfo>";
    let signature = idp.sign_rsa_sha256(message);
    let (_, certificate) =
        x509_parser::parse_x509_certificate(idp.certificate_der()).expect("IdP certificate");
    let public = rsa::RsaPublicKey::from_public_key_der(certificate.public_key().raw)
        .expect("RSA public key");
    let verifying = VerifyingKey::<sha2::Sha256>::new(public);
    let signature = Signature::try_from(signature.as_slice()).expect("signature bytes");
    verifying
        .verify(message, &signature)
        .expect("signature verifies with the certificate's key");
    assert!(verifying.verify(b"other", &signature).is_err());
}

#[test]
fn a_card_export_is_private_complete_and_reads_back() {
    let pki = &SHARED.pki;
    let temp = tempfile::tempdir().expect("tempdir");
    let out = temp.path().join("card");
    let pin = CardPin::new("4711".to_owned()).expect("pin");
    let issued = pki
        .export_card(&anne(), Validity::days_from_now(365), &pin, &out)
        .expect("exported");

    assert_eq!(common::mode_of(&out), 0o700);
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .expect("ls")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "card.json",
            "certificate.pem",
            "luxtrust-test-ca.pem",
            "private-key.pem"
        ]
    );
    for name in &names {
        assert_eq!(common::mode_of(&out.join(name)), 0o600, "{name}");
    }

    let card = CardCredentials::load(&out).expect("loads");
    assert_eq!(card.professional, anne());
    assert_eq!(card.pin, pin);
    assert_eq!(card.certificate_der, issued.certificate_der());
    assert_eq!(&card.private_key, issued.private_key());
    assert_eq!(&card.serial, issued.serial());
    assert_eq!(
        card.issuer_certificates_der,
        [pki.luxtrust_ca_der().to_vec()]
    );
    pki.verify_professional_certificate(&card.certificate_der, now())
        .expect("exported card verifies");
    assert_openssl_accepts(
        &out.join("luxtrust-test-ca.pem"),
        &out.join("certificate.pem"),
        "sslclient",
    );

    // Never over an existing export.
    assert!(matches!(
        pki.export_card(&anne(), Validity::days_from_now(1), &pin, &out),
        Err(PkiError::Card(CardError::DirectoryNotEmpty { .. }))
    ));
}

#[test]
fn a_card_export_whose_files_were_swapped_is_refused() {
    let pki = &SHARED.pki;
    let temp = tempfile::tempdir().expect("tempdir");
    let first = temp.path().join("first");
    let second = temp.path().join("second");
    let pin = CardPin::generate();
    pki.export_card(&anne(), Validity::days_from_now(30), &pin, &first)
        .expect("exported");
    pki.export_card(&anne(), Validity::days_from_now(30), &pin, &second)
        .expect("exported");

    // Someone else's key next to this certificate.
    std::fs::copy(
        second.join("private-key.pem"),
        first.join("private-key.pem"),
    )
    .expect("cp");
    assert!(matches!(
        CardCredentials::load(&first),
        Err(CardError::Inconsistent { .. })
    ));
    // Someone else's certificate under this manifest.
    std::fs::copy(
        second.join("certificate.pem"),
        first.join("certificate.pem"),
    )
    .expect("cp");
    assert!(matches!(
        CardCredentials::load(&first),
        Err(CardError::Inconsistent { .. })
    ));
}

#[test]
fn openssl_also_rejects_an_expired_card() {
    let pki = &SHARED.pki;
    let temp = tempfile::tempdir().expect("tempdir");
    let card = pki
        .issue_professional_certificate(
            &anne(),
            Validity::between(now() - Duration::days(30), now() - Duration::days(1)),
        )
        .expect("issued");
    let path = temp.path().join("expired.pem");
    std::fs::write(&path, card.certificate_pem()).expect("write");
    let out = common::openssl(&[
        "verify",
        "-CAfile",
        path_str(&pki.luxtrust_ca_path()),
        path_str(&path),
    ]);
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("expired"), "{text}");
}

fn assert_openssl_accepts(ca: &Path, certificate: &Path, purpose: &str) {
    let out = common::openssl(&[
        "verify",
        "-CAfile",
        path_str(ca),
        "-purpose",
        purpose,
        path_str(certificate),
    ]);
    let text = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && text.contains(": OK"),
        "openssl verify: {text}"
    );
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("UTF-8 test path")
}
