//! The card side of the virtual LuxTrust card: the applet that answers the
//! APDU set the daemon's LuxTrust profile assumes (documented in
//! `daemon/src/card/luxtrust.rs` and docs/card.md). Written independently
//! of the daemon's client code: the two meet only on the wire.

use rsa::{Pkcs1v15Sign, RsaPrivateKey};
use zeroize::{Zeroize, Zeroizing};

use crate::pki::{CardCredentials, CardPin};

/// The applet's AID (IAS-ECC).
pub const AID: [u8; 16] = [
    0xA0, 0x00, 0x00, 0x00, 0x77, 0x01, 0x08, 0x00, 0x07, 0x00, 0x00, 0xFE, 0x00, 0x00, 0x01, 0x00,
];
/// The ATR the card answers with; its historical bytes spell "DSPVIRTUAL".
pub const ATR: [u8; 15] = [
    0x3B, 0x8A, 0x80, 0x01, 0x44, 0x53, 0x50, 0x56, 0x49, 0x52, 0x54, 0x55, 0x41, 0x4C, 0x1B,
];
const AUTH_CERTIFICATE_FID: [u8; 2] = [0xC0, 0x01];
const CA_CERTIFICATE_FID: [u8; 2] = [0xC0, 0x02];
const PIN_REFERENCE: u8 = 0x81;
const KEY_REFERENCE: u8 = 0x82;
const PIN_BLOCK_LEN: usize = 8;
const PAD: u8 = 0xFF;
/// Wrong PINs before the card blocks.
pub const PIN_TRIES: u8 = 3;

const OK: u16 = 0x9000;
const END_OF_FILE: u16 = 0x6282;
const WRONG_LENGTH: u16 = 0x6700;
const SECURITY_NOT_SATISFIED: u16 = 0x6982;
const BLOCKED: u16 = 0x6983;
const CONDITIONS_NOT_SATISFIED: u16 = 0x6985;
const WRONG_DATA: u16 = 0x6A80;
const FILE_NOT_FOUND: u16 = 0x6A82;
const WRONG_P1_P2: u16 = 0x6A86;
const OFFSET_OUTSIDE: u16 = 0x6B00;
const INS_NOT_SUPPORTED: u16 = 0x6D00;
const CLA_NOT_SUPPORTED: u16 = 0x6E00;
const NO_PRECISE_DIAGNOSIS: u16 = 0x6F00;

/// A command's answer: its data, or data and a status word other than 9000.
type Answer = Result<Vec<u8>, (Vec<u8>, u16)>;

/// What the applet did, for the virtual card's log (never a PIN).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    pub command: &'static str,
    pub status: u16,
}

/// The applet's state. Verification lasts until power-off, reset or an
/// explicit reset of the security state; the PIN counter lasts as long as
/// the card.
pub struct Applet {
    certificate_der: Vec<u8>,
    ca_certificate_der: Option<Vec<u8>>,
    key: RsaPrivateKey,
    pin: CardPin,
    tries_left: u8,
    verified: bool,
    application_selected: bool,
    selected_file: Option<[u8; 2]>,
    signing_environment_set: bool,
    pending_response: Vec<u8>,
    /// Signatures made, for tests that count card operations.
    pub signatures: u64,
    /// VERIFYs with a PIN received.
    pub verifies: u64,
}

impl Applet {
    pub fn new(credentials: CardCredentials) -> Self {
        Applet {
            certificate_der: credentials.certificate_der,
            ca_certificate_der: credentials.issuer_certificates_der.into_iter().next(),
            key: credentials.private_key,
            pin: credentials.pin,
            tries_left: PIN_TRIES,
            verified: false,
            application_selected: false,
            selected_file: None,
            signing_environment_set: false,
            pending_response: Vec::new(),
            signatures: 0,
            verifies: 0,
        }
    }

    pub fn tries_left(&self) -> u8 {
        self.tries_left
    }

    /// Power on, power off or reset: the volatile state goes.
    pub fn reset(&mut self) {
        self.verified = false;
        self.application_selected = false;
        self.selected_file = None;
        self.signing_environment_set = false;
        self.pending_response.zeroize();
        self.pending_response.clear();
    }

    /// Answers one command APDU (data + SW1 SW2).
    pub fn process(&mut self, apdu: &[u8]) -> (Vec<u8>, Logged) {
        let (command, data, status) = match Command::parse(apdu) {
            Some(command) => {
                let (name, result) = self.dispatch(&command);
                match result {
                    Ok(data) => (name, data, OK),
                    Err((data, status)) => (name, data, status),
                }
            }
            None => ("malformed", Vec::new(), WRONG_LENGTH),
        };
        let mut out = data;
        out.extend_from_slice(&status.to_be_bytes());
        (out, Logged { command, status })
    }

    fn dispatch(&mut self, c: &Command<'_>) -> (&'static str, Answer) {
        if c.cla & 0xF0 != 0x00 {
            return ("unknown class", Err((Vec::new(), CLA_NOT_SUPPORTED)));
        }
        if c.ins != 0xC0 {
            // Any other command ends an unfinished response chain.
            self.pending_response.clear();
        }
        match c.ins {
            0xA4 => ("SELECT", self.select(c).map_err(|s| (Vec::new(), s))),
            0xB0 => ("READ BINARY", self.read_binary(c)),
            0x20 => ("VERIFY", self.verify(c).map_err(|s| (Vec::new(), s))),
            0x22 => (
                "MSE:SET",
                self.manage_environment(c).map_err(|s| (Vec::new(), s)),
            ),
            0x2A => ("PSO:CDS", self.sign(c)),
            0xC0 => ("GET RESPONSE", self.get_response(c)),
            _ => ("unsupported", Err((Vec::new(), INS_NOT_SUPPORTED))),
        }
    }

    fn select(&mut self, c: &Command<'_>) -> Result<Vec<u8>, u16> {
        match (c.p1, c.data) {
            (0x04, aid) if aid == AID => {
                self.application_selected = true;
                self.selected_file = None;
                self.signing_environment_set = false;
                Ok(Vec::new())
            }
            (0x04, _) => Err(FILE_NOT_FOUND),
            (0x02, fid) if self.application_selected => {
                let fid: [u8; 2] = fid.try_into().map_err(|_| WRONG_LENGTH)?;
                let exists = fid == AUTH_CERTIFICATE_FID
                    || (fid == CA_CERTIFICATE_FID && self.ca_certificate_der.is_some());
                if !exists {
                    return Err(FILE_NOT_FOUND);
                }
                self.selected_file = Some(fid);
                Ok(Vec::new())
            }
            (0x02, _) => Err(CONDITIONS_NOT_SATISFIED),
            _ => Err(WRONG_P1_P2),
        }
    }

    fn read_binary(&mut self, c: &Command<'_>) -> Answer {
        let file = match self.selected_file {
            Some(AUTH_CERTIFICATE_FID) => &self.certificate_der,
            Some(_) => self
                .ca_certificate_der
                .as_ref()
                .ok_or((Vec::new(), FILE_NOT_FOUND))?,
            None => return Err((Vec::new(), CONDITIONS_NOT_SATISFIED)),
        };
        let offset = usize::from(u16::from_be_bytes([c.p1 & 0x7F, c.p2]));
        if offset >= file.len() {
            return Err((Vec::new(), OFFSET_OUTSIDE));
        }
        let wanted = c.le.unwrap_or(256);
        let end = (offset + wanted).min(file.len());
        let data = file[offset..end].to_vec();
        if data.len() < wanted {
            return Err((data, END_OF_FILE));
        }
        Ok(data)
    }

    fn verify(&mut self, c: &Command<'_>) -> Result<Vec<u8>, u16> {
        if !self.application_selected {
            return Err(CONDITIONS_NOT_SATISFIED);
        }
        if c.p2 != PIN_REFERENCE {
            return Err(WRONG_P1_P2);
        }
        match c.p1 {
            // Reset of the verification status.
            0xFF => {
                self.verified = false;
                Ok(Vec::new())
            }
            0x00 if c.data.is_empty() => {
                if self.tries_left == 0 {
                    Err(BLOCKED)
                } else if self.verified {
                    Ok(Vec::new())
                } else {
                    Err(0x63C0 | u16::from(self.tries_left))
                }
            }
            0x00 => {
                if self.tries_left == 0 {
                    return Err(BLOCKED);
                }
                if c.data.len() != PIN_BLOCK_LEN {
                    return Err(WRONG_LENGTH);
                }
                self.verifies += 1;
                // The try counts before the comparison, as on a real card.
                self.tries_left -= 1;
                let typed: Zeroizing<Vec<u8>> =
                    Zeroizing::new(c.data.iter().copied().take_while(|b| *b != PAD).collect());
                let reference = self.pin.expose().as_bytes();
                let matches = typed.len() == reference.len()
                    && typed
                        .iter()
                        .zip(reference)
                        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                        == 0;
                if matches {
                    self.tries_left = PIN_TRIES;
                    self.verified = true;
                    Ok(Vec::new())
                } else {
                    self.verified = false;
                    Err(0x63C0 | u16::from(self.tries_left))
                }
            }
            _ => Err(WRONG_P1_P2),
        }
    }

    fn manage_environment(&mut self, c: &Command<'_>) -> Result<Vec<u8>, u16> {
        if !self.application_selected {
            return Err(CONDITIONS_NOT_SATISFIED);
        }
        if (c.p1, c.p2) != (0x41, 0xB6) {
            return Err(WRONG_P1_P2);
        }
        if c.data != [0x80, 0x01, 0x02, 0x84, 0x01, KEY_REFERENCE] {
            return Err(WRONG_DATA);
        }
        self.signing_environment_set = true;
        Ok(Vec::new())
    }

    fn sign(&mut self, c: &Command<'_>) -> Answer {
        let fail = |status| Err((Vec::new(), status));
        if (c.p1, c.p2) != (0x9E, 0x9A) {
            return fail(WRONG_P1_P2);
        }
        if !self.signing_environment_set {
            return fail(CONDITIONS_NOT_SATISFIED);
        }
        if self.tries_left == 0 {
            return fail(BLOCKED);
        }
        if !self.verified {
            return fail(SECURITY_NOT_SATISFIED);
        }
        // A SHA-256 DigestInfo is 51 bytes; the card pads and signs it.
        if c.data.len() != 51 {
            return fail(WRONG_DATA);
        }
        let signature = match self.key.sign(Pkcs1v15Sign::new_unprefixed(), c.data) {
            Ok(signature) => signature,
            Err(_) => return fail(NO_PRECISE_DIAGNOSIS),
        };
        self.signatures += 1;
        self.respond(signature, c.le.unwrap_or(256))
    }

    /// Returns up to `le` bytes now and announces the rest with `61xx`.
    fn respond(&mut self, mut data: Vec<u8>, le: usize) -> Answer {
        if data.len() <= le {
            return Ok(data);
        }
        let rest = data.split_off(le);
        let more = rest.len().min(256);
        self.pending_response = rest;
        Err((data, 0x6100 | (more % 256) as u16))
    }

    fn get_response(&mut self, c: &Command<'_>) -> Answer {
        if self.pending_response.is_empty() {
            return Err((Vec::new(), CONDITIONS_NOT_SATISFIED));
        }
        let pending = std::mem::take(&mut self.pending_response);
        self.respond(pending, c.le.unwrap_or(256))
    }
}

/// A parsed short command APDU.
struct Command<'a> {
    cla: u8,
    ins: u8,
    p1: u8,
    p2: u8,
    data: &'a [u8],
    /// Expected length; `00` means 256.
    le: Option<usize>,
}

impl<'a> Command<'a> {
    fn parse(apdu: &'a [u8]) -> Option<Self> {
        let (header, body) = apdu.split_at_checked(4)?;
        let le_of = |b: u8| if b == 0 { 256 } else { usize::from(b) };
        let (data, le) = match body {
            [] => (&body[..0], None),
            [le] => (&body[..0], Some(le_of(*le))),
            [lc, rest @ ..] => {
                let lc = usize::from(*lc);
                match rest.len().checked_sub(lc)? {
                    0 => (&rest[..lc], None),
                    1 => (&rest[..lc], Some(le_of(rest[lc]))),
                    _ => return None,
                }
            }
        };
        Some(Command {
            cla: header[0],
            ins: header[1],
            p1: header[2],
            p2: header[3],
            data,
            le,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_four_short_cases_and_rejects_bad_lengths() {
        let c = Command::parse(&[0, 0x20, 0, 0x81]).unwrap();
        assert!(c.data.is_empty() && c.le.is_none());
        let c = Command::parse(&[0, 0xB0, 0, 0, 0]).unwrap();
        assert_eq!(c.le, Some(256));
        let c = Command::parse(&[0, 0xA4, 2, 0x0C, 2, 0xC0, 0x01]).unwrap();
        assert_eq!(c.data, [0xC0, 0x01]);
        let c = Command::parse(&[0, 0x2A, 0x9E, 0x9A, 1, 7, 0]).unwrap();
        assert_eq!((c.data, c.le), (&[7u8][..], Some(256)));
        assert!(Command::parse(&[0, 0xA4, 2]).is_none());
        assert!(Command::parse(&[0, 0xA4, 2, 0x0C, 5, 1]).is_none());
        assert!(Command::parse(&[0, 0xA4, 2, 0x0C, 1, 1, 2, 3]).is_none());
    }
}
