//! The registry's entry ids (`urn:uuid:…`).

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

/// An XDS entryUUID: `urn:uuid:` followed by a hyphenated UUID. Unlike the
/// uniqueId, it names one version of a registry entry (a confidentiality
/// change through ITI-57 makes a new entryUUID for the same document).
///
/// Parsing accepts the prefix and hex digits in any case; the canonical
/// (displayed, serialized) form is lower case.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct EntryUuid(Uuid);

/// A text that is not an entryUUID.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "'{value}' is not an entryUUID: expected urn:uuid: followed by a hyphenated UUID (urn:uuid:6f1a0b0e-…)"
)]
pub struct EntryUuidError {
    /// The text given.
    pub value: String,
}

const PREFIX: &str = "urn:uuid:";

impl EntryUuid {
    /// A fresh random (version 4) entryUUID, for a new registry object.
    pub fn new_random() -> EntryUuid {
        EntryUuid(Uuid::new_v4())
    }

    /// The UUID.
    pub fn uuid(&self) -> Uuid {
        self.0
    }
}

impl From<Uuid> for EntryUuid {
    fn from(value: Uuid) -> Self {
        EntryUuid(value)
    }
}

impl FromStr for EntryUuid {
    type Err = EntryUuidError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let error = || EntryUuidError {
            value: s.to_owned(),
        };
        let prefix = s.get(..PREFIX.len()).ok_or_else(error)?;
        if !prefix.eq_ignore_ascii_case(PREFIX) {
            return Err(error());
        }
        let rest = &s[PREFIX.len()..];
        // Only the hyphenated form: `Uuid::parse_str` also takes simple,
        // braced and urn forms, which XDS does not use after the prefix.
        if rest.len() != 36 {
            return Err(error());
        }
        Uuid::try_parse(rest).map(EntryUuid).map_err(|_| error())
    }
}

impl TryFrom<String> for EntryUuid {
    type Error = EntryUuidError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl TryFrom<&str> for EntryUuid {
    type Error = EntryUuidError;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<EntryUuid> for String {
    fn from(value: EntryUuid) -> Self {
        value.to_string()
    }
}

impl fmt::Display for EntryUuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PREFIX}{}", self.0.hyphenated())
    }
}

impl fmt::Debug for EntryUuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EntryUuid({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalises() {
        let text = "URN:UUID:6F1A0B0E-8B3C-4D2E-9F00-0123456789AB";
        let id: EntryUuid = text.parse().unwrap();
        assert_eq!(
            id.to_string(),
            "urn:uuid:6f1a0b0e-8b3c-4d2e-9f00-0123456789ab"
        );
        assert_eq!(id.to_string().parse::<EntryUuid>(), Ok(id));
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(serde_json::from_str::<EntryUuid>(&json).unwrap(), id);
    }

    #[test]
    fn refuses_other_forms() {
        for bad in [
            "6f1a0b0e-8b3c-4d2e-9f00-0123456789ab",
            "urn:uuid:6f1a0b0e8b3c4d2e9f000123456789ab",
            "urn:uuid:{6f1a0b0e-8b3c-4d2e-9f00-0123456789ab}",
            "urn:uuid:6f1a0b0e-8b3c-4d2e-9f00-0123456789ag",
            "urn:oid:1.2.3",
            "",
            "urn:uuid:é",
        ] {
            assert!(bad.parse::<EntryUuid>().is_err(), "{bad}");
        }
    }

    #[test]
    fn random_ids_differ() {
        assert_ne!(EntryUuid::new_random(), EntryUuid::new_random());
    }
}
