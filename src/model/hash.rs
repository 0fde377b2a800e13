//! The SHA-1 digest XDS records for each document.

use std::fmt;
use std::str::FromStr;

/// A document's SHA-1 digest (`XDSDocumentEntry.hash`), 20 bytes written as
/// 40 hexadecimal digits. Parsing accepts either case; the canonical form is
/// lower case. XDS still mandates SHA-1 here: it identifies the content for
/// the registry's duplicate check, it does not protect it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sha1Hash([u8; 20]);

/// A text that is not a SHA-1 digest.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Sha1HashError {
    /// Not 40 characters.
    #[error("the SHA-1 hash has {length} characters: it has 40 hexadecimal digits")]
    WrongLength {
        /// Characters seen.
        length: usize,
    },
    /// A character that is not a hex digit.
    #[error(
        "the SHA-1 hash has {character:?} at position {position}: only 0-9 and a-f are allowed"
    )]
    NonHex {
        /// 1-based position.
        position: usize,
        /// The character.
        character: char,
    },
}

impl Sha1Hash {
    /// The digest bytes.
    pub fn from_bytes(bytes: [u8; 20]) -> Sha1Hash {
        Sha1Hash(bytes)
    }

    /// The digest bytes.
    pub fn as_bytes(&self) -> &[u8; 20] {
        &self.0
    }

    /// Lower-case hex, as XDS writes it.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl FromStr for Sha1Hash {
    type Err = Sha1HashError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some((index, character)) =
            s.chars().enumerate().find(|(_, c)| !c.is_ascii_hexdigit())
        {
            return Err(Sha1HashError::NonHex {
                position: index + 1,
                character,
            });
        }
        // All ASCII from here on.
        if s.len() != 40 {
            return Err(Sha1HashError::WrongLength { length: s.len() });
        }
        let mut bytes = [0u8; 20];
        for (byte, pair) in bytes.iter_mut().zip(s.as_bytes().chunks_exact(2)) {
            // Both characters are hex digits, so to_digit succeeds and the
            // pair fits a byte.
            let high = char::from(pair[0]).to_digit(16).unwrap_or_default();
            let low = char::from(pair[1]).to_digit(16).unwrap_or_default();
            *byte = (high * 16 + low) as u8;
        }
        Ok(Sha1Hash(bytes))
    }
}

impl TryFrom<&str> for Sha1Hash {
    type Error = Sha1HashError;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl TryFrom<String> for Sha1Hash {
    type Error = Sha1HashError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Sha1Hash> for String {
    fn from(value: Sha1Hash) -> Self {
        value.to_hex()
    }
}

impl fmt::Display for Sha1Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Sha1Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha1Hash({})", self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // SHA-1 of "abc" (FIPS 180 test vector).
    const ABC: &str = "a9993e364706816aba3e25717850c26c9cd0d89d";

    #[test]
    fn parses_either_case_and_writes_lower_case() {
        let hash: Sha1Hash = ABC.to_uppercase().parse().unwrap();
        assert_eq!(hash.to_hex(), ABC);
        assert_eq!(hash.as_bytes()[0], 0xa9);
        assert_eq!(Sha1Hash::from_bytes(*hash.as_bytes()), hash);
        assert_eq!(serde_json::to_string(&hash).unwrap(), format!("\"{ABC}\""));
    }

    #[test]
    fn refuses_wrong_length_and_non_hex() {
        assert_eq!(
            ABC[..39].parse::<Sha1Hash>(),
            Err(Sha1HashError::WrongLength { length: 39 })
        );
        assert_eq!(
            format!("{}g", &ABC[..39]).parse::<Sha1Hash>(),
            Err(Sha1HashError::NonHex {
                position: 40,
                character: 'g'
            })
        );
    }
}
