//! Metadata values that have a syntax (times, sizes, hashes), kept even when
//! they are malformed.
//!
//! The readers do not judge metadata: the registry (the sandbox) must answer
//! `XDSRegistryMetadataError` naming the attribute and the bad value, so a
//! malformed value is captured as [`Checked::Malformed`] with the raw text and
//! the reason, and written back unchanged.

use std::fmt;

/// A value that was either well-formed or not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Checked<T> {
    Valid(T),
    Malformed {
        /// The text exactly as received.
        raw: String,
        /// Why it does not parse (for the registry's error message).
        problem: String,
    },
}

impl<T> Checked<T> {
    /// Parses `raw` with `parse`, keeping it as malformed if that fails.
    pub fn parse_with<E: fmt::Display>(
        raw: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Self {
        match parse(raw) {
            Ok(v) => Checked::Valid(v),
            Err(e) => Checked::Malformed {
                raw: raw.to_owned(),
                problem: e.to_string(),
            },
        }
    }

    /// The value when it is well-formed.
    pub fn valid(&self) -> Option<&T> {
        match self {
            Checked::Valid(v) => Some(v),
            Checked::Malformed { .. } => None,
        }
    }
}

impl<T: fmt::Display> Checked<T> {
    /// The wire form: the value written, or the raw text as received.
    pub fn to_wire(&self) -> String {
        match self {
            Checked::Valid(v) => v.to_string(),
            Checked::Malformed { raw, .. } => raw.clone(),
        }
    }
}

impl<T> From<T> for Checked<T> {
    fn from(v: T) -> Self {
        Checked::Valid(v)
    }
}

/// A SHA-1 digest, written as 40 lowercase hexadecimal digits (the `hash`
/// slot of a DocumentEntry).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sha1Hash(pub [u8; 20]);

/// Why a string is not a SHA-1 hex digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a SHA-1 digest: expected exactly 40 hexadecimal digits")]
pub struct Sha1HashError(pub String);

impl Sha1Hash {
    /// The digest of `data`.
    pub fn of(data: &[u8]) -> Self {
        use sha1::Digest;
        Sha1Hash(sha1::Sha1::digest(data).into())
    }

    /// Parses 40 hex digits (either case).
    pub fn from_hex(text: &str) -> Result<Self, Sha1HashError> {
        let bytes = text.as_bytes();
        if bytes.len() != 40 {
            return Err(Sha1HashError(text.to_owned()));
        }
        let mut out = [0u8; 20];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            let hi = hex_value(pair[0]).ok_or_else(|| Sha1HashError(text.to_owned()))?;
            let lo = hex_value(pair[1]).ok_or_else(|| Sha1HashError(text.to_owned()))?;
            out[i] = hi << 4 | lo;
        }
        Ok(Sha1Hash(out))
    }
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

impl fmt::Display for Sha1Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Sha1Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha1Hash({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha1_of_known_input() {
        assert_eq!(
            Sha1Hash::of(b"abc").to_string(),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
    }

    #[test]
    fn hex_parses_either_case_and_refuses_the_rest() {
        let h = Sha1Hash::from_hex("A9993E364706816ABA3E25717850C26C9CD0D89D").unwrap();
        assert_eq!(h, Sha1Hash::of(b"abc"));
        assert!(Sha1Hash::from_hex("a9993e36").is_err());
        assert!(Sha1Hash::from_hex("g9993e364706816aba3e25717850c26c9cd0d89d").is_err());
        assert!(Sha1Hash::from_hex("é9993e364706816aba3e25717850c26c9cd0d89").is_err());
    }

    #[test]
    fn malformed_values_keep_their_raw_text() {
        let c: Checked<u64> = Checked::parse_with("12a", |s| s.parse::<u64>());
        assert_eq!(c.to_wire(), "12a");
        assert!(c.valid().is_none());
        assert!(matches!(c, Checked::Malformed { ref problem, .. } if problem.contains("digit")));
    }
}
