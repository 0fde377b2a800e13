//! The LuxTrust card profile — **experimental**.
//!
//! LuxTrust does not publish the APDU set of its professional smartcards.
//! What follows is the IAS-ECC-style command set such cards are known to
//! follow, with the identifiers below *assumed*; it is kept in this one
//! module so that verifying it on a real card (or correcting it) touches
//! nothing else. Until it has been verified on a real card, deployments
//! should use the card vendor's PKCS#11 module ([`super::pkcs11`]), which
//! is the production default when configured.
//!
//! The assumed exchange:
//!
//! | step | APDU |
//! |---|---|
//! | select the application | `00 A4 04 0C 10` [`APPLICATION_AID`] |
//! | select the authentication certificate | `00 A4 02 0C 02` [`AUTH_CERTIFICATE_FID`] |
//! | read it | `00 B0 <offset> 00` until the DER length is read |
//! | select/read the issuing CA certificate (optional) | [`CA_CERTIFICATE_FID`] |
//! | PIN tries without a VERIFY | `00 20 00 81` (no data): `9000` verified, `63Cx`, `6983` |
//! | VERIFY | `00 20 00 81 08` PIN in ASCII, padded with [`PIN_PAD_BYTE`] to [`PIN_BLOCK_LEN`] |
//! | forget the verification | `00 20 FF 81` |
//! | MSE:SET for signing | `00 22 41 B6 06 80 01 02 84 01 82` |
//! | PSO: COMPUTE DIGITAL SIGNATURE | `00 2A 9E 9A 33` DigestInfo(SHA-256) `00` |
//!
//! RSA PKCS#1 v1.5: the host builds the DigestInfo
//! ([`ihe::dsig::rsa_sha256_digest_info`]); the card pads and signs.
//! `6982` (security status not satisfied) means the card has forgotten the
//! PIN (another program reset it): "PIN needed", never retried blindly.

use dspconnect::model::Pin;
use ihe::dsig::{Sha256Digest, SignatureAlgorithm};
use zeroize::Zeroizing;

use super::apdu::{Command, Response, StatusWord, Transmit, TransmitError, exchange, hex};
use super::{CardError, CardIdentity, PinOutcome, PinStatus};

/// The IAS-ECC application identifier (assumed for LuxTrust cards).
pub const APPLICATION_AID: [u8; 16] = [
    0xA0, 0x00, 0x00, 0x00, 0x77, 0x01, 0x08, 0x00, 0x07, 0x00, 0x00, 0xFE, 0x00, 0x00, 0x01, 0x00,
];
/// The elementary file holding the authentication certificate (DER).
pub const AUTH_CERTIFICATE_FID: [u8; 2] = [0xC0, 0x01];
/// The elementary file holding the issuing CA's certificate (DER), when
/// the card carries it.
pub const CA_CERTIFICATE_FID: [u8; 2] = [0xC0, 0x02];
/// The PIN's reference (the card's local PIN).
pub const PIN_REFERENCE: u8 = 0x81;
/// The authentication key's reference for MSE:SET.
pub const AUTH_KEY_REFERENCE: u8 = 0x82;
/// MSE algorithm reference: RSA PKCS#1 v1.5 over a host-built DigestInfo.
pub const ALGORITHM_RSA_PKCS1_DIGEST_INFO: u8 = 0x02;
/// The PIN block: ASCII digits, padded to this length…
pub const PIN_BLOCK_LEN: usize = 8;
/// …with this byte. VERIFY and the pinpad's `PIN_VERIFY_STRUCTURE` both
/// use it, so a PIN typed on the reader matches one given by the API.
pub const PIN_PAD_BYTE: u8 = 0xFF;
/// ATRs of cards known to carry this profile (informational: a card is
/// recognised by answering the SELECT of [`APPLICATION_AID`]).
pub const KNOWN_ATRS: &[&[u8]] = &[VIRTUAL_CARD_ATR];
/// The ATR of the sandbox's virtual LuxTrust card (its historical bytes
/// spell "DSPVIRTUAL").
pub const VIRTUAL_CARD_ATR: &[u8] = &[
    0x3B, 0x8A, 0x80, 0x01, 0x44, 0x53, 0x50, 0x56, 0x49, 0x52, 0x54, 0x55, 0x41, 0x4C, 0x1B,
];
/// Largest DER certificate read from a card: a guard against a file whose
/// length header is garbage.
const MAX_CERTIFICATE_LEN: usize = 16 * 1024;
/// Bytes asked per READ BINARY (the short-APDU maximum).
const READ_CHUNK: usize = 256;

/// The identity on a card, as read by [`read_identity`].
#[derive(Debug, Clone)]
pub struct CardContents {
    pub identity: CardIdentity,
    pub issuer_certificates_der: Vec<Vec<u8>>,
}

fn transmit_error(error: TransmitError) -> CardError {
    match error {
        TransmitError::Removed => CardError::Removed,
        TransmitError::Reset => CardError::PinRequired,
        TransmitError::Reader(message) => CardError::Device { message },
        TransmitError::Malformed(message) => CardError::Device { message },
    }
}

fn send(channel: &mut dyn Transmit, command: &Command) -> Result<Response, CardError> {
    exchange(channel, command).map_err(transmit_error)
}

fn unexpected(step: &str, status: StatusWord) -> CardError {
    CardError::Device {
        message: format!("{step} answered status {status}"),
    }
}

/// The PIN block for VERIFY: ASCII digits padded with [`PIN_PAD_BYTE`].
pub fn pin_block(pin: &Pin) -> Zeroizing<[u8; PIN_BLOCK_LEN]> {
    let mut block = Zeroizing::new([PIN_PAD_BYTE; PIN_BLOCK_LEN]);
    // A Pin has at most 8 digits (checked when it was made).
    for (slot, digit) in block.iter_mut().zip(pin.expose().bytes()) {
        *slot = digit;
    }
    block
}

/// Selects the LuxTrust application. `Ok(false)` when the card does not
/// have it (another kind of card).
pub fn select_application(channel: &mut dyn Transmit) -> Result<bool, CardError> {
    let response = send(
        channel,
        &Command::new(0x00, 0xA4, 0x04, 0x0C).with_data(&APPLICATION_AID),
    )?;
    match response.status {
        StatusWord::OK => Ok(true),
        StatusWord::FILE_NOT_FOUND
        | StatusWord::WRONG_P1_P2
        | StatusWord::INS_NOT_SUPPORTED
        | StatusWord::CLA_NOT_SUPPORTED => Ok(false),
        other => Err(unexpected("SELECT of the LuxTrust application", other)),
    }
}

/// Reads a transparent file holding one DER object. `Ok(None)` when the
/// card has no such file.
fn read_der_file(channel: &mut dyn Transmit, fid: [u8; 2]) -> Result<Option<Vec<u8>>, CardError> {
    let selected = send(
        channel,
        &Command::new(0x00, 0xA4, 0x02, 0x0C).with_data(&fid),
    )?;
    match selected.status {
        StatusWord::OK => {}
        StatusWord::FILE_NOT_FOUND => return Ok(None),
        other => return Err(unexpected("SELECT of a certificate file", other)),
    }
    let mut content = Vec::new();
    let mut total: Option<usize> = None;
    loop {
        let offset = content.len();
        if offset > 0x7FFF {
            return Err(CardError::Device {
                message: "certificate file longer than READ BINARY can address".into(),
            });
        }
        let wanted = match total {
            Some(total) => (total - offset).min(READ_CHUNK),
            None => READ_CHUNK,
        };
        let response = send(
            channel,
            &Command::new(0x00, 0xB0, (offset >> 8) as u8, offset as u8).with_le(wanted),
        )?;
        match response.status {
            StatusWord::OK | StatusWord::END_OF_FILE => {}
            StatusWord::OFFSET_OUTSIDE_FILE if total.is_none() => break,
            other => return Err(unexpected("READ BINARY of a certificate", other)),
        }
        if response.data.is_empty() {
            break;
        }
        content.extend_from_slice(&response.data);
        if total.is_none() {
            total = Some(der_length(&content)?);
        }
        match total {
            Some(total) if content.len() >= total => {
                content.truncate(total);
                break;
            }
            _ => {}
        }
        if response.status == StatusWord::END_OF_FILE {
            break;
        }
    }
    match total {
        Some(total) if content.len() == total => Ok(Some(content)),
        _ => Err(CardError::BadCertificate {
            reason: format!(
                "the certificate file ends after {} bytes, before its DER length",
                content.len()
            ),
        }),
    }
}

/// The full length of the DER object at the start of `bytes` (tag, length
/// and content), from its header.
fn der_length(bytes: &[u8]) -> Result<usize, CardError> {
    let bad = |reason: &str| CardError::BadCertificate {
        reason: format!("the certificate file does not start with a DER object: {reason}"),
    };
    if bytes.first() != Some(&0x30) {
        return Err(bad("no SEQUENCE tag"));
    }
    let first = *bytes.get(1).ok_or_else(|| bad("no length"))?;
    let (header, content) = if first < 0x80 {
        (2, usize::from(first))
    } else {
        let count = usize::from(first & 0x7F);
        if count == 0 || count > 3 {
            return Err(bad("unsupported length form"));
        }
        let digits = bytes
            .get(2..2 + count)
            .ok_or_else(|| bad("truncated length"))?;
        (
            2 + count,
            digits
                .iter()
                .fold(0usize, |n, b| (n << 8) | usize::from(*b)),
        )
    };
    let total = header + content;
    if total > MAX_CERTIFICATE_LEN {
        return Err(bad("longer than a certificate can be"));
    }
    Ok(total)
}

/// Selects the application and reads the authentication certificate (and
/// the CA certificate when the card has it). `Ok(None)`: not a LuxTrust
/// card.
pub fn read_identity(channel: &mut dyn Transmit) -> Result<Option<CardContents>, CardError> {
    if !select_application(channel)? {
        return Ok(None);
    }
    let certificate =
        read_der_file(channel, AUTH_CERTIFICATE_FID)?.ok_or_else(|| CardError::BadCertificate {
            reason: "the card has the LuxTrust application but no authentication certificate"
                .into(),
        })?;
    let identity = CardIdentity::from_certificate(&certificate)?;
    let issuer_certificates_der = read_der_file(channel, CA_CERTIFICATE_FID)?
        .into_iter()
        .collect();
    Ok(Some(CardContents {
        identity,
        issuer_certificates_der,
    }))
}

/// The PIN state without a VERIFY: `Ok(true)` when the card is verified.
pub fn pin_state(channel: &mut dyn Transmit) -> Result<(bool, PinStatus), CardError> {
    select_application(channel)?;
    let response = send(channel, &Command::new(0x00, 0x20, 0x00, PIN_REFERENCE))?;
    Ok(match response.status {
        StatusWord::OK => (true, PinStatus::default()),
        StatusWord::AUTHENTICATION_BLOCKED => (
            false,
            PinStatus {
                tries_left: Some(0),
                blocked: true,
            },
        ),
        status => match status.tries_left() {
            Some(0) => (
                false,
                PinStatus {
                    tries_left: Some(0),
                    blocked: true,
                },
            ),
            Some(n) => (
                false,
                PinStatus {
                    tries_left: Some(n),
                    blocked: false,
                },
            ),
            // Cards that cannot tell without a VERIFY.
            None => (false, PinStatus::default()),
        },
    })
}

/// What a VERIFY status word means.
pub fn verify_outcome(status: StatusWord) -> Result<PinOutcome, CardError> {
    match status {
        StatusWord::OK => Ok(PinOutcome::Verified),
        StatusWord::AUTHENTICATION_BLOCKED => Ok(PinOutcome::Blocked),
        status => match status.tries_left() {
            Some(0) => Ok(PinOutcome::Blocked),
            Some(tries_left) => Ok(PinOutcome::Wrong { tries_left }),
            None => Err(unexpected("VERIFY", status)),
        },
    }
}

/// VERIFY with `pin` (the caller drops it right after, which zeroizes
/// it). A card known to be blocked gets no VERIFY.
pub fn verify(channel: &mut dyn Transmit, pin: &Pin) -> Result<PinOutcome, CardError> {
    let (_, status) = pin_state(channel)?;
    if status.blocked {
        return Ok(PinOutcome::Blocked);
    }
    let block = pin_block(pin);
    let command = Command::new(0x00, 0x20, 0x00, PIN_REFERENCE).with_data(&block[..]);
    drop(block);
    // `command` zeroizes its data when dropped, and `exchange` its wire bytes.
    let response = send(channel, &command)?;
    verify_outcome(response.status)
}

/// Makes the card forget the PIN verification.
pub fn logout(channel: &mut dyn Transmit) -> Result<(), CardError> {
    select_application(channel)?;
    let response = send(channel, &Command::new(0x00, 0x20, 0xFF, PIN_REFERENCE))?;
    match response.status {
        StatusWord::OK => Ok(()),
        other => Err(unexpected("VERIFY (reset of the verification)", other)),
    }
}

/// Signs `digest` with the authentication key (the PIN must be verified).
pub fn sign(
    channel: &mut dyn Transmit,
    algorithm: SignatureAlgorithm,
    digest: &Sha256Digest,
) -> Result<Vec<u8>, CardError> {
    if algorithm != SignatureAlgorithm::RsaSha256 {
        return Err(CardError::UnsupportedAlgorithm {
            requested: algorithm,
            supported: SignatureAlgorithm::RsaSha256,
        });
    }
    let digest_info =
        ihe::dsig::rsa_sha256_digest_info(digest.as_ref()).map_err(|e| CardError::Device {
            message: e.to_string(),
        })?;
    select_application(channel)?;
    let mse = send(
        channel,
        &Command::new(0x00, 0x22, 0x41, 0xB6).with_data(&[
            0x80,
            0x01,
            ALGORITHM_RSA_PKCS1_DIGEST_INFO,
            0x84,
            0x01,
            AUTH_KEY_REFERENCE,
        ]),
    )?;
    if !mse.status.is_ok() {
        return Err(unexpected("MSE:SET for the signature", mse.status));
    }
    let response = send(
        channel,
        &Command::new(0x00, 0x2A, 0x9E, 0x9A)
            .with_data(&digest_info)
            .with_le(256),
    )?;
    match response.status {
        StatusWord::OK if !response.data.is_empty() => Ok(response.data),
        StatusWord::SECURITY_STATUS_NOT_SATISFIED => Err(CardError::PinRequired),
        StatusWord::AUTHENTICATION_BLOCKED => Err(CardError::Blocked),
        other => Err(unexpected("PSO: COMPUTE DIGITAL SIGNATURE", other)),
    }
}

/// Describes an ATR for logs.
pub fn describe_atr(atr: &[u8]) -> String {
    if KNOWN_ATRS.contains(&atr) {
        format!("{} (known LuxTrust-profile card)", hex(atr))
    } else {
        hex(atr)
    }
}

#[cfg(test)]
mod tests {
    use super::super::apdu::hex;
    use super::super::apdu::recorded::Recorded;
    use super::*;
    use crate::card::test_certificates::{ca, issued_by};
    use time::{Duration, OffsetDateTime};

    const SELECT_APP: &str = "00A4040C10 A0000000770108000700 00FE00000100";

    fn certificate() -> Vec<u8> {
        let now = OffsetDateTime::now_utc();
        issued_by(
            &ca("LuxTrust Test CA (SANDBOX)", "dspconnect SANDBOX"),
            "Dr Anne Muller",
            "2854201475",
            now - Duration::days(1),
            now + Duration::days(30),
        )
    }

    #[test]
    fn the_pin_block_is_ascii_padded_with_the_shared_pad_byte() {
        let pin = Pin::new("1234".into()).unwrap();
        assert_eq!(
            &pin_block(&pin)[..],
            &[b'1', b'2', b'3', b'4', 0xFF, 0xFF, 0xFF, 0xFF]
        );
        let pin = Pin::new("12345678".into()).unwrap();
        assert_eq!(&pin_block(&pin)[..], b"12345678");
    }

    #[test]
    fn reads_the_certificate_in_chunks_up_to_its_der_length() {
        let der = certificate();
        assert!(der.len() > 256, "the test needs more than one chunk");
        let first = format!("{} 9000", hex(&der[..256]));
        let second_len = der.len() - 256;
        let second = format!("{} 9000", hex(&der[256..]));
        let read_second = format!("00B00100{:02X}", second_len.min(256));
        let mut card = Recorded::new(&[
            (SELECT_APP, Ok("9000")),
            ("00A4020C02C001", Ok("9000")),
            ("00B0000000", Ok(&first)),
            (&read_second, Ok(&second)),
            ("00A4020C02C002", Ok("6A82")),
        ]);
        let contents = read_identity(&mut card).unwrap().unwrap();
        assert_eq!(contents.identity.certificate_der(), der.as_slice());
        assert_eq!(contents.identity.ehealth_id, "2854201475");
        assert!(contents.issuer_certificates_der.is_empty());
        assert!(card.finished());
    }

    #[test]
    fn another_kind_of_card_is_not_ours() {
        let mut card = Recorded::new(&[(SELECT_APP, Ok("6A82"))]);
        assert!(read_identity(&mut card).unwrap().is_none());
    }

    #[test]
    fn a_certificate_file_cut_short_is_refused() {
        let der = certificate();
        let first = format!("{} 6282", hex(&der[..100]));
        let mut card = Recorded::new(&[
            (SELECT_APP, Ok("9000")),
            ("00A4020C02C001", Ok("9000")),
            ("00B0000000", Ok(&first)),
        ]);
        let err = read_identity(&mut card).unwrap_err();
        assert!(matches!(err, CardError::BadCertificate { .. }), "{err}");
    }

    #[test]
    fn verify_reports_tries_left_then_blocked_and_sends_no_verify_when_blocked() {
        let pin = || Pin::new("0000".into()).unwrap();
        let wrong_verify = "0020008108 30303030FFFFFFFF";
        let mut card = Recorded::new(&[
            (SELECT_APP, Ok("9000")),
            ("00200081", Ok("63C3")),
            (wrong_verify, Ok("63C2")),
        ]);
        assert_eq!(
            verify(&mut card, &pin()).unwrap(),
            PinOutcome::Wrong { tries_left: 2 }
        );
        let mut card = Recorded::new(&[
            (SELECT_APP, Ok("9000")),
            ("00200081", Ok("63C1")),
            (wrong_verify, Ok("6983")),
        ]);
        assert_eq!(verify(&mut card, &pin()).unwrap(), PinOutcome::Blocked);
        // Blocked: the status check is the last command sent.
        let mut card = Recorded::new(&[(SELECT_APP, Ok("9000")), ("00200081", Ok("6983"))]);
        assert_eq!(verify(&mut card, &pin()).unwrap(), PinOutcome::Blocked);
        assert!(card.finished());
        assert!(card.sent.iter().all(|c| !c.starts_with("0020008108")));
    }

    #[test]
    fn signs_a_digest_info_and_maps_a_forgotten_pin() {
        let digest: ihe::dsig::Sha256Digest = [7u8; 32];
        let info = ihe::dsig::rsa_sha256_digest_info(&[7u8; 32]).unwrap();
        let pso = format!("002A9E9A33{}00", hex(&info));
        let signature = "AB".repeat(256);
        let mut card = Recorded::new(&[
            (SELECT_APP, Ok("9000")),
            ("0022 41B6 06 800102 840182", Ok("9000")),
            (&pso, Ok("6100")),
            ("00C0000000", Ok(&format!("{signature} 9000"))),
        ]);
        let value = sign(&mut card, SignatureAlgorithm::RsaSha256, &digest).unwrap();
        assert_eq!(value, vec![0xAB; 256]);

        let mut card = Recorded::new(&[
            (SELECT_APP, Ok("9000")),
            ("0022 41B6 06 800102 840182", Ok("9000")),
            (&pso, Ok("6982")),
        ]);
        let err = sign(&mut card, SignatureAlgorithm::RsaSha256, &digest).unwrap_err();
        assert_eq!(err, CardError::PinRequired);

        let mut card = Recorded::new(&[(SELECT_APP, Err(TransmitError::Reset))]);
        let err = sign(&mut card, SignatureAlgorithm::RsaSha256, &digest).unwrap_err();
        assert_eq!(err, CardError::PinRequired);
    }
}
