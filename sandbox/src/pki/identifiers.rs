//! How certificates are named outside X.509: serial numbers (revocation,
//! logs) and SHA-256 fingerprints (pinning, binding a card to a person).

use std::fmt;

use sha2::{Digest, Sha256};

/// A certificate serial number, kept as its unsigned big-endian magnitude
/// (leading zero bytes removed, as DER may add one for the sign) so that
/// the same serial always compares equal. Shown and parsed as lowercase hex.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CertificateSerial(Vec<u8>);

impl CertificateSerial {
    /// From the bytes of the DER INTEGER (or any big-endian magnitude).
    pub fn from_bytes(bytes: &[u8]) -> Self {
        let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
        Self(bytes[first..].to_vec())
    }

    /// Parses the hex form (as printed by [`fmt::Display`]; colons allowed,
    /// as `openssl x509 -serial` and browsers print them).
    pub fn from_hex(text: &str) -> Result<Self, InvalidSerial> {
        let digits: String = text.chars().filter(|c| *c != ':').collect();
        if digits.is_empty() || !digits.len().is_multiple_of(2) {
            return Err(InvalidSerial(text.to_owned()));
        }
        let bytes = (0..digits.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&digits[i..i + 2], 16))
            .collect::<Result<Vec<u8>, _>>()
            .map_err(|_| InvalidSerial(text.to_owned()))?;
        Ok(Self::from_bytes(&bytes))
    }

    /// The big-endian magnitude.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for CertificateSerial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("00");
        }
        write_hex(f, &self.0)
    }
}

impl fmt::Debug for CertificateSerial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CertificateSerial({self})")
    }
}

/// A serial number that is not hex.
#[derive(Debug, thiserror::Error)]
#[error("'{0}' is not a certificate serial number: expected hex digits (pairs, colons allowed)")]
pub struct InvalidSerial(pub String);

/// SHA-256 of a certificate's DER encoding.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The fingerprint of a DER-encoded certificate.
    pub fn of_der(der: &[u8]) -> Self {
        Self(Sha256::digest(der).into())
    }

    /// The 32 digest bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    /// Lowercase hex, no separators.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    bytes.iter().try_for_each(|b| write!(f, "{b:02x}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_drops_sign_padding_and_round_trips_through_hex() {
        let padded = CertificateSerial::from_bytes(&[0x00, 0x81, 0x02]);
        assert_eq!(padded.as_bytes(), &[0x81, 0x02]);
        assert_eq!(padded.to_string(), "8102");
        assert_eq!(
            CertificateSerial::from_hex("81:02").ok(),
            Some(padded.clone())
        );
        assert_eq!(CertificateSerial::from_hex("008102").ok(), Some(padded));
    }

    #[test]
    fn serial_refuses_text_that_is_not_hex_pairs() {
        for bad in ["", "abc", "zz", "0x12"] {
            assert!(CertificateSerial::from_hex(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn fingerprint_is_sha256_of_the_der() {
        // SHA-256 of the empty string.
        assert_eq!(
            Fingerprint::of_der(b"").to_string(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
