//! ISO 7816-4 APDUs: building commands, reading responses and status
//! words, and the response chaining (`61xx` GET RESPONSE, `6Cxx` wrong Le)
//! every card profile needs. Card profiles ([`super::luxtrust`]) speak in
//! terms of [`Command`] and [`Response`] over a [`Transmit`] channel, so they
//! are tested with recorded exchanges and run unchanged over PC/SC.

use std::fmt;

/// The longest response data a short APDU can ask for in one exchange.
pub const SHORT_LE_MAX: usize = 256;

/// Sends one command APDU and returns the raw response (data + SW1 SW2).
pub trait Transmit {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransmitError>;
}

/// Why an exchange failed below the APDU level.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransmitError {
    /// The card left the reader.
    #[error("the card was removed")]
    Removed,
    /// Another program reset the card: its security state is gone.
    #[error("the card was reset by another program")]
    Reset,
    /// The reader or the PC/SC service failed.
    #[error("{0}")]
    Reader(String),
    /// The card answered something that is not an APDU response.
    #[error("the card's answer is malformed: {0}")]
    Malformed(String),
}

/// A command APDU (short form: data up to 255 bytes, Le up to 256).
#[derive(Clone, PartialEq, Eq)]
pub struct Command {
    pub cla: u8,
    pub ins: u8,
    pub p1: u8,
    pub p2: u8,
    pub data: Vec<u8>,
    /// Expected response length; `Some(256)` is encoded as `00`.
    pub le: Option<usize>,
}

impl fmt::Debug for Command {
    /// Never shows the data: a VERIFY carries the PIN.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Command({:02X} {:02X} {:02X} {:02X}, {} data bytes, le {:?})",
            self.cla,
            self.ins,
            self.p1,
            self.p2,
            self.data.len(),
            self.le
        )
    }
}

impl Drop for Command {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.data);
    }
}

/// A command that cannot be encoded as a short APDU.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("APDU too long for the short form: {what} is {len} bytes (at most {max})")]
pub struct EncodeError {
    pub what: &'static str,
    pub len: usize,
    pub max: usize,
}

impl Command {
    pub fn new(cla: u8, ins: u8, p1: u8, p2: u8) -> Self {
        Command {
            cla,
            ins,
            p1,
            p2,
            data: Vec::new(),
            le: None,
        }
    }

    pub fn with_data(mut self, data: &[u8]) -> Self {
        self.data = data.to_vec();
        self
    }

    pub fn with_le(mut self, le: usize) -> Self {
        self.le = Some(le);
        self
    }

    /// The bytes on the wire (ISO 7816-4 short cases 1–4). The caller
    /// zeroizes them after sending when they carry a secret.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        if self.data.len() > 255 {
            return Err(EncodeError {
                what: "the command data",
                len: self.data.len(),
                max: 255,
            });
        }
        let mut out = Vec::with_capacity(6 + self.data.len());
        out.extend_from_slice(&[self.cla, self.ins, self.p1, self.p2]);
        if !self.data.is_empty() {
            // Length checked above.
            out.push(self.data.len() as u8);
            out.extend_from_slice(&self.data);
        }
        if let Some(le) = self.le {
            match le {
                1..=255 => out.push(le as u8),
                SHORT_LE_MAX => out.push(0),
                _ => {
                    return Err(EncodeError {
                        what: "Le",
                        len: le,
                        max: SHORT_LE_MAX,
                    });
                }
            }
        }
        Ok(out)
    }
}

/// The two status bytes ending every response.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct StatusWord(pub u16);

impl StatusWord {
    pub const OK: StatusWord = StatusWord(0x9000);
    /// Security status not satisfied: the PIN is not (or no longer) verified.
    pub const SECURITY_STATUS_NOT_SATISFIED: StatusWord = StatusWord(0x6982);
    /// Authentication method blocked: the PIN tries are used up.
    pub const AUTHENTICATION_BLOCKED: StatusWord = StatusWord(0x6983);
    pub const FILE_NOT_FOUND: StatusWord = StatusWord(0x6A82);
    pub const WRONG_P1_P2: StatusWord = StatusWord(0x6A86);
    pub const INS_NOT_SUPPORTED: StatusWord = StatusWord(0x6D00);
    pub const CLA_NOT_SUPPORTED: StatusWord = StatusWord(0x6E00);
    pub const CONDITIONS_NOT_SATISFIED: StatusWord = StatusWord(0x6985);
    pub const WRONG_DATA: StatusWord = StatusWord(0x6A80);
    pub const WRONG_LENGTH: StatusWord = StatusWord(0x6700);
    /// Offset beyond the end of the file (READ BINARY).
    pub const OFFSET_OUTSIDE_FILE: StatusWord = StatusWord(0x6B00);
    /// End of file reached before Le bytes were read (READ BINARY).
    pub const END_OF_FILE: StatusWord = StatusWord(0x6282);

    pub fn sw1(self) -> u8 {
        (self.0 >> 8) as u8
    }

    pub fn sw2(self) -> u8 {
        self.0 as u8
    }

    pub fn is_ok(self) -> bool {
        self == Self::OK
    }

    /// `63Cx`: a verification failed, x tries left.
    pub fn tries_left(self) -> Option<u8> {
        (self.sw1() == 0x63 && self.sw2() & 0xF0 == 0xC0).then_some(self.sw2() & 0x0F)
    }
}

impl fmt::Debug for StatusWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04X}", self.0)
    }
}

impl fmt::Display for StatusWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04X}", self.0)
    }
}

/// A response APDU.
#[derive(Clone, PartialEq, Eq)]
pub struct Response {
    pub data: Vec<u8>,
    pub status: StatusWord,
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Response({} data bytes, SW {})",
            self.data.len(),
            self.status
        )
    }
}

impl Response {
    /// Splits a raw response into data and status word.
    pub fn parse(raw: &[u8]) -> Result<Self, TransmitError> {
        let Some(split) = raw.len().checked_sub(2) else {
            return Err(TransmitError::Malformed(format!(
                "{} bytes, fewer than the two status bytes",
                raw.len()
            )));
        };
        let status = StatusWord(u16::from_be_bytes([raw[split], raw[split + 1]]));
        Ok(Response {
            data: raw[..split].to_vec(),
            status,
        })
    }
}

/// Sends `command` and follows the card's chaining: `61xx` (more data:
/// GET RESPONSE for xx bytes, repeatedly) and `6Cxx` (wrong Le: the same
/// command again with Le = xx). Returns the whole data with the final SW.
pub fn exchange(channel: &mut dyn Transmit, command: &Command) -> Result<Response, TransmitError> {
    let mut wire = command
        .encode()
        .map_err(|e| TransmitError::Malformed(e.to_string()))?;
    let raw = channel.transmit(&wire);
    zeroize::Zeroize::zeroize(&mut wire);
    let mut response = Response::parse(&raw?)?;
    if response.status.sw1() == 0x6C {
        let mut again = command.clone();
        again.le = Some(match response.status.sw2() {
            0 => SHORT_LE_MAX,
            n => usize::from(n),
        });
        let mut wire = again
            .encode()
            .map_err(|e| TransmitError::Malformed(e.to_string()))?;
        let raw = channel.transmit(&wire);
        zeroize::Zeroize::zeroize(&mut wire);
        response = Response::parse(&raw?)?;
    }
    let mut data = std::mem::take(&mut response.data);
    // A card cannot have more than a few kilobytes to give; a loop of 61xx
    // beyond that is a broken card, not data.
    let mut rounds = 0;
    while response.status.sw1() == 0x61 {
        rounds += 1;
        if rounds > 64 {
            return Err(TransmitError::Malformed(
                "the card keeps announcing more data (61xx) beyond 64 GET RESPONSE rounds".into(),
            ));
        }
        let le = match response.status.sw2() {
            0 => SHORT_LE_MAX,
            n => usize::from(n),
        };
        let get_response = Command::new(command.cla & 0x03, 0xC0, 0x00, 0x00).with_le(le);
        let wire = get_response
            .encode()
            .map_err(|e| TransmitError::Malformed(e.to_string()))?;
        response = Response::parse(&channel.transmit(&wire)?)?;
        data.append(&mut response.data);
    }
    Ok(Response {
        data,
        status: response.status,
    })
}

/// Lower-case hex, for logs of non-secret bytes (ATRs, status words).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
pub(crate) mod recorded {
    //! A channel that replays a recorded exchange and checks every command.
    use super::{Transmit, TransmitError};

    /// Expected command (hex) → response (hex); `Err` entries replay an error.
    pub struct Recorded {
        pub steps: std::collections::VecDeque<(String, Result<String, TransmitError>)>,
        pub sent: Vec<String>,
    }

    pub fn decode(hex: &str) -> Vec<u8> {
        let clean: String = hex.chars().filter(|c| !c.is_whitespace()).collect();
        (0..clean.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&clean[i..i + 2], 16).unwrap())
            .collect()
    }

    impl Recorded {
        pub fn new(steps: &[(&str, Result<&str, TransmitError>)]) -> Self {
            Recorded {
                steps: steps
                    .iter()
                    .map(|(c, r)| (c.replace(' ', ""), r.clone().map(|r| r.replace(' ', ""))))
                    .collect(),
                sent: Vec::new(),
            }
        }

        pub fn finished(&self) -> bool {
            self.steps.is_empty()
        }
    }

    impl Transmit for Recorded {
        fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransmitError> {
            let sent = super::hex(command).to_uppercase();
            self.sent.push(sent.clone());
            let (expected, response) = self
                .steps
                .pop_front()
                .unwrap_or_else(|| panic!("unexpected command {sent}: the recording has ended"));
            assert_eq!(sent, expected.to_uppercase(), "command sent");
            response.map(|r| decode(&r))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::recorded::Recorded;
    use super::*;

    #[test]
    fn encodes_the_four_short_cases() {
        assert_eq!(
            Command::new(0, 0x20, 0, 0x81).encode().unwrap(),
            [0, 0x20, 0, 0x81]
        );
        assert_eq!(
            Command::new(0, 0xB0, 0, 0).with_le(256).encode().unwrap(),
            [0, 0xB0, 0, 0, 0]
        );
        assert_eq!(
            Command::new(0, 0xA4, 2, 0x0C)
                .with_data(&[0xC0, 0x01])
                .encode()
                .unwrap(),
            [0, 0xA4, 2, 0x0C, 2, 0xC0, 0x01]
        );
        assert_eq!(
            Command::new(0, 0x2A, 0x9E, 0x9A)
                .with_data(&[1, 2, 3])
                .with_le(256)
                .encode()
                .unwrap(),
            [0, 0x2A, 0x9E, 0x9A, 3, 1, 2, 3, 0]
        );
        assert!(
            Command::new(0, 0, 0, 0)
                .with_data(&[0; 256])
                .encode()
                .is_err()
        );
        assert!(Command::new(0, 0, 0, 0).with_le(257).encode().is_err());
    }

    #[test]
    fn debug_output_never_shows_command_data() {
        let verify = Command::new(0, 0x20, 0, 0x81).with_data(b"123456\xFF\xFF");
        assert!(!format!("{verify:?}").contains("123456"));
        assert!(!format!("{verify:?}").contains("49"));
    }

    #[test]
    fn status_words_say_tries_left() {
        assert_eq!(StatusWord(0x63C2).tries_left(), Some(2));
        assert_eq!(StatusWord(0x63C0).tries_left(), Some(0));
        assert_eq!(StatusWord(0x6300).tries_left(), None);
        assert_eq!(StatusWord::OK.tries_left(), None);
        assert!(Response::parse(&[0x90]).is_err());
    }

    #[test]
    fn follows_get_response_chaining() {
        let mut card = Recorded::new(&[
            ("00 2A 9E 9A 02 AA BB 00", Ok("6104")),
            ("00 C0 00 00 04", Ok("01020304 6102")),
            ("00 C0 00 00 02", Ok("0506 9000")),
        ]);
        let command = Command::new(0, 0x2A, 0x9E, 0x9A)
            .with_data(&[0xAA, 0xBB])
            .with_le(256);
        let response = exchange(&mut card, &command).unwrap();
        assert_eq!(response.data, [1, 2, 3, 4, 5, 6]);
        assert!(response.status.is_ok());
        assert!(card.finished());
    }

    #[test]
    fn repeats_a_command_with_the_le_the_card_asks_for() {
        let mut card = Recorded::new(&[
            ("00 B0 00 00 00", Ok("6C10")),
            (
                "00 B0 00 00 10",
                Ok("00112233445566778899AABBCCDDEEFF 9000"),
            ),
        ]);
        let response = exchange(&mut card, &Command::new(0, 0xB0, 0, 0).with_le(256)).unwrap();
        assert_eq!(response.data.len(), 16);
        assert!(card.finished());
    }

    #[test]
    fn an_endless_chain_is_a_broken_card() {
        struct Endless;
        impl Transmit for Endless {
            fn transmit(&mut self, _: &[u8]) -> Result<Vec<u8>, TransmitError> {
                Ok(vec![0xAB, 0x61, 0x01])
            }
        }
        let err = exchange(&mut Endless, &Command::new(0, 0xB0, 0, 0).with_le(1)).unwrap_err();
        assert!(matches!(err, TransmitError::Malformed(_)), "{err}");
    }
}
