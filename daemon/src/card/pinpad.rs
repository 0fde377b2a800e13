//! PIN entry on the reader's pinpad: PC/SC part 10 (v2.02) feature
//! discovery and `FEATURE_VERIFY_PIN_DIRECT` with a `PIN_VERIFY_STRUCTURE`
//! built for the [`super::luxtrust`] VERIFY (same PIN reference, block
//! length and pad byte as a PIN given through the API).
//!
//! **Not yet verified on hardware**: vpcd offers no reader control, so the
//! structure's bytes and the feature parsing are checked by unit tests
//! against the specification, and the SCardControl path runs only on a
//! real pinpad reader.

use super::luxtrust::{PIN_BLOCK_LEN, PIN_PAD_BYTE, PIN_REFERENCE};
use dspconnect::model::Pin;

/// `CM_IOCTL_GET_FEATURE_REQUEST` is `SCARD_CTL_CODE(3400)`.
pub const GET_FEATURE_REQUEST_FUNCTION: u32 = 3400;
/// The feature tag of `FEATURE_VERIFY_PIN_DIRECT`.
pub const FEATURE_VERIFY_PIN_DIRECT: u8 = 0x06;
/// Seconds the reader waits for the PIN.
pub const ENTRY_TIMEOUT_SECONDS: u8 = 30;

/// What a reader offers for PIN entry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PinpadFeatures {
    /// The control code of `FEATURE_VERIFY_PIN_DIRECT`, when offered.
    pub verify_pin_direct: Option<u32>,
}

/// Parses the TLV list a reader answers to `CM_IOCTL_GET_FEATURE_REQUEST`:
/// tag (1 byte), length (1 byte, 4), control code (4 bytes, big-endian).
/// Malformed entries end the parse; what was read before stands.
pub fn parse_features(tlv: &[u8]) -> PinpadFeatures {
    let mut features = PinpadFeatures::default();
    let mut rest = tlv;
    while let [tag, len, tail @ ..] = rest {
        let len = usize::from(*len);
        let Some((value, next)) = tail.split_at_checked(len) else {
            break;
        };
        if *tag == FEATURE_VERIFY_PIN_DIRECT
            && let Ok(code) = <[u8; 4]>::try_from(value)
        {
            features.verify_pin_direct = Some(u32::from_be_bytes(code));
        }
        rest = next;
    }
    features
}

/// The `PIN_VERIFY_STRUCTURE` (PC/SC part 10, 2.5.2) for the LuxTrust
/// VERIFY: ASCII PIN, left-justified at offset 0 of an
/// [`PIN_BLOCK_LEN`]-byte block padded with [`PIN_PAD_BYTE`], 4–8 digits,
/// validated with the OK key. Multi-byte fields are little-endian.
pub fn verify_structure() -> Vec<u8> {
    let apdu = verify_apdu_template();
    let mut s = Vec::with_capacity(19 + apdu.len());
    s.push(ENTRY_TIMEOUT_SECONDS); // bTimerOut
    s.push(ENTRY_TIMEOUT_SECONDS); // bTimerOut2
    // bmFormatString: units in bytes (bit 7), PIN at offset 0 (bits 6-3),
    // left justified (bit 2 = 0), ASCII (bits 1-0 = 10).
    s.push(0x82);
    // bmPINBlockString: no PIN length field (bits 7-4), block size.
    s.push(PIN_BLOCK_LEN as u8);
    s.push(0x00); // bmPINLengthFormat: no length in the block
    // wPINMaxExtraDigit: 0xXXYY, XX = minimum, YY = maximum digits.
    s.extend_from_slice(
        &u16::from_be_bytes([Pin::MIN_LEN as u8, Pin::MAX_LEN as u8]).to_le_bytes(),
    );
    s.push(0x02); // bEntryValidationCondition: validation key pressed
    s.push(0x01); // bNumberMessage: one message ("Enter PIN")
    s.extend_from_slice(&0x040Cu16.to_le_bytes()); // wLangId: French
    s.push(0x00); // bMsgIndex
    s.extend_from_slice(&[0x00, 0x00, 0x00]); // bTeoPrologue (T=1 only)
    s.extend_from_slice(&(apdu.len() as u32).to_le_bytes()); // ulDataLength
    s.extend_from_slice(&apdu);
    s
}

/// The VERIFY the reader completes with the typed digits: the PIN block
/// holds only pad bytes, which the reader overwrites.
pub fn verify_apdu_template() -> Vec<u8> {
    let mut apdu = vec![0x00, 0x20, 0x00, PIN_REFERENCE, PIN_BLOCK_LEN as u8];
    apdu.extend_from_slice(&[PIN_PAD_BYTE; PIN_BLOCK_LEN]);
    apdu
}

#[cfg(feature = "pcsc")]
pub(crate) use with_pcsc::{discover, discover_without_card, verify_on_reader};

#[cfg(feature = "pcsc")]
mod with_pcsc {
    use std::ffi::CStr;

    use pcsc::{Card, Context, Protocols, Scope, ShareMode};

    use super::super::apdu::{Response, StatusWord};
    use super::super::luxtrust::{self, select_application};
    use super::super::pcsc::{PcscChannel, card_error};
    use super::super::{CardError, PinOutcome};
    use super::{GET_FEATURE_REQUEST_FUNCTION, PinpadFeatures, parse_features, verify_structure};

    fn features_of(card: &Card) -> Option<PinpadFeatures> {
        let mut buffer = [0u8; 256];
        card.control(
            pcsc::ctl_code(GET_FEATURE_REQUEST_FUNCTION.into()),
            &[],
            &mut buffer,
        )
        .ok()
        .map(parse_features)
    }

    /// The features of the reader a card is connected in (`None` when the
    /// reader answers no feature request, as vpcd does).
    pub(crate) fn discover(card: &Card) -> Option<PinpadFeatures> {
        features_of(card)
    }

    /// The features of a reader without a card (direct connection); none
    /// when the driver does not allow it.
    pub(crate) fn discover_without_card(context: &Context, reader: &CStr) -> PinpadFeatures {
        context
            .connect(reader, ShareMode::Direct, Protocols::UNDEFINED)
            .ok()
            .and_then(|card| features_of(&card))
            .unwrap_or_default()
    }

    /// PIN entry on `reader`'s pinpad, on the calling thread (which waits
    /// for the user): its own context and card handle, one transaction.
    pub(crate) fn verify_on_reader(reader: &CStr, ioctl: u32) -> Result<PinOutcome, CardError> {
        let name = reader.to_string_lossy();
        let context = Context::establish(Scope::User).map_err(|e| card_error(&name, &e))?;
        let mut card = context
            .connect(reader, ShareMode::Shared, Protocols::ANY)
            .map_err(|e| card_error(&name, &e))?;
        let transaction = card.transaction().map_err(|e| card_error(&name, &e))?;
        let mut channel = PcscChannel { card: &transaction };
        select_application(&mut channel)?;
        let mut buffer = [0u8; 64];
        let answer = transaction
            .control(ioctl.into(), &verify_structure(), &mut buffer)
            .map_err(|e| card_error(&name, &e))?;
        let response = Response::parse(answer).map_err(|e| CardError::Device {
            message: e.to_string(),
        })?;
        match response.status {
            StatusWord(0x6400) => Err(CardError::Device {
                message: "no PIN was typed on the reader in time".into(),
            }),
            StatusWord(0x6401) => Err(CardError::Device {
                message: "PIN entry was cancelled on the reader".into(),
            }),
            status => luxtrust::verify_outcome(status),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_verify_pin_direct_among_the_features() {
        // A reader offering VERIFY_PIN_DIRECT (06), MODIFY_PIN_DIRECT (07)
        // and IFD_PIN_PROPERTIES (0A), as a Cherry ST-2000 answers.
        let tlv = [
            0x06, 0x04, 0x42, 0x33, 0x00, 0x06, 0x07, 0x04, 0x42, 0x33, 0x00, 0x07, 0x0A, 0x04,
            0x42, 0x33, 0x00, 0x0A,
        ];
        assert_eq!(parse_features(&tlv).verify_pin_direct, Some(0x4233_0006));
        assert_eq!(parse_features(&tlv[6..]).verify_pin_direct, None);
        assert_eq!(parse_features(&[]), PinpadFeatures::default());
        // A truncated entry ends the parse without a panic.
        assert_eq!(parse_features(&[0x06, 0x04, 0x42]).verify_pin_direct, None);
        assert_eq!(
            parse_features(&[0x06, 0x02, 0x42, 0x33]).verify_pin_direct,
            None
        );
    }

    #[test]
    fn the_verify_structure_has_the_exact_part_10_bytes() {
        assert_eq!(
            verify_structure(),
            [
                30, 30,   // timeouts
                0x82, // bytes, offset 0, left, ASCII
                0x08, // 8-byte block
                0x00, // no length field
                0x08, 0x04, // wPINMaxExtraDigit = 0x0408 (min 4, max 8), little-endian
                0x02, // OK key
                0x01, // one message
                0x0C, 0x04, // French
                0x00, // message index
                0x00, 0x00, 0x00, // TeoPrologue
                13, 0, 0, 0, // APDU length
                0x00, 0x20, 0x00, 0x81, 0x08, // VERIFY, PIN reference 81, Lc 8
                0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
            ]
        );
    }

    #[test]
    fn the_pinpad_and_the_api_pad_the_pin_alike() {
        let typed = Pin::new("4321".into()).unwrap();
        let block = super::super::luxtrust::pin_block(&typed);
        let template = verify_apdu_template();
        // The reader writes the digits over the template's first bytes.
        assert_eq!(&template[5 + 4..], &block[4..]);
        assert_eq!(template[..5], [0x00, 0x20, 0x00, PIN_REFERENCE, 8]);
    }
}
