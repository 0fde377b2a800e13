//! Who writes: the professional's eHealth id, name and author record.

use std::fmt;
use std::str::FromStr;

use super::code::Code;

/// A professional's eHealth id, the identifier the platform's directory
/// (HPD) and its SAML `psEHealthID` extension use.
///
/// The platform's format is not public; we accept 6 to 20 ASCII letters and
/// digits (surrounding whitespace trimmed, case kept as given since the
/// platform compares ids as opaque strings). The sandbox issues numeric ids.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EHealthId(String);

/// Why a text is not an eHealth id.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EHealthIdError {
    /// Too short or too long.
    #[error(
        "the eHealth id has {length} characters: it has 6 to 20 letters and digits; copy it from the platform's activation letter or account page"
    )]
    WrongLength {
        /// Characters seen (after trimming).
        length: usize,
    },
    /// A character other than an ASCII letter or digit.
    #[error(
        "the eHealth id has {character:?} at position {position}: only letters A-Z and digits are allowed"
    )]
    InvalidCharacter {
        /// 1-based position in the trimmed text.
        position: usize,
        /// The character.
        character: char,
    },
}

impl EHealthId {
    /// Shortest id accepted.
    pub const MIN_LEN: usize = 6;
    /// Longest id accepted.
    pub const MAX_LEN: usize = 20;

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for EHealthId {
    type Err = EHealthIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let trimmed = s.trim();
        if let Some((index, character)) = trimmed
            .chars()
            .enumerate()
            .find(|(_, c)| !c.is_ascii_alphanumeric())
        {
            return Err(EHealthIdError::InvalidCharacter {
                position: index + 1,
                character,
            });
        }
        let length = trimmed.len();
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&length) {
            return Err(EHealthIdError::WrongLength { length });
        }
        Ok(EHealthId(trimmed.to_owned()))
    }
}

impl TryFrom<String> for EHealthId {
    type Error = EHealthIdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl TryFrom<&str> for EHealthId {
    type Error = EHealthIdError;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<EHealthId> for String {
    fn from(value: EHealthId) -> Self {
        value.0
    }
}

impl fmt::Display for EHealthId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for EHealthId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EHealthId({})", self.0)
    }
}

/// A person's name: given name(s) and family name, both required.
///
/// Each part is trimmed, non-empty, at most [`PersonName::MAX_LEN`]
/// characters, without control characters, and without the HL7 v2
/// delimiters `^ & ~ | \`: XDS carries author names inside an HL7 XCN
/// value, where those characters would split the name into other fields.
/// No real name needs them.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "PersonNameFields")]
pub struct PersonName {
    given: String,
    family: String,
}

/// The unvalidated parts of a [`PersonName`].
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonNameFields {
    /// Given name(s).
    pub given: String,
    /// Family name.
    pub family: String,
}

/// Which part of a name is wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NamePart {
    /// Given name(s).
    Given,
    /// Family name.
    Family,
}

impl fmt::Display for NamePart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NamePart::Given => "given name",
            NamePart::Family => "family name",
        })
    }
}

/// Why a name is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PersonNameError {
    /// Empty after trimming.
    #[error("the {part} is empty: both the given and the family name are required")]
    Empty {
        /// The part.
        part: NamePart,
    },
    /// Longer than allowed.
    #[error("the {part} has {length} characters: at most 64 are allowed")]
    TooLong {
        /// The part.
        part: NamePart,
        /// Characters seen.
        length: usize,
    },
    /// Contains a character XDS cannot carry in a name.
    #[error(
        "the {part} contains {character:?}: names cannot contain control characters or the HL7 separators ^ & ~ | \\"
    )]
    InvalidCharacter {
        /// The part.
        part: NamePart,
        /// The character.
        character: char,
    },
}

impl PersonName {
    /// Longest part accepted (the XCN name components of XDS author
    /// fields; 64 is generous for a name and keeps the slot value short).
    pub const MAX_LEN: usize = 64;

    /// Validates and builds a name.
    pub fn new(
        given: impl Into<String>,
        family: impl Into<String>,
    ) -> Result<PersonName, PersonNameError> {
        Ok(PersonName {
            given: checked_name(NamePart::Given, given.into())?,
            family: checked_name(NamePart::Family, family.into())?,
        })
    }

    /// Given name(s).
    pub fn given(&self) -> &str {
        &self.given
    }

    /// Family name.
    pub fn family(&self) -> &str {
        &self.family
    }
}

fn checked_name(part: NamePart, value: String) -> Result<String, PersonNameError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(PersonNameError::Empty { part });
    }
    if let Some(character) = trimmed
        .chars()
        .find(|&c| c.is_control() || matches!(c, '^' | '&' | '~' | '|' | '\\'))
    {
        return Err(PersonNameError::InvalidCharacter { part, character });
    }
    let length = trimmed.chars().count();
    if length > PersonName::MAX_LEN {
        return Err(PersonNameError::TooLong { part, length });
    }
    Ok(trimmed.to_owned())
}

impl TryFrom<PersonNameFields> for PersonName {
    type Error = PersonNameError;
    fn try_from(fields: PersonNameFields) -> Result<Self, Self::Error> {
        PersonName::new(fields.given, fields.family)
    }
}

impl fmt::Display for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.given, self.family)
    }
}

/// The author of a document or submission set: the professional who
/// submits it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Author {
    /// The professional's eHealth id (must be the authenticated one).
    pub ehealth_id: EHealthId,
    /// The professional's name.
    pub name: PersonName,
    /// `authorRole`, when the EHR knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Code>,
    /// `authorSpecialty`, when the EHR knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub specialty: Option<Code>,
}

impl Author {
    /// An author with neither role nor specialty.
    pub fn new(ehealth_id: EHealthId, name: PersonName) -> Author {
        Author {
            ehealth_id,
            name,
            role: None,
            specialty: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ehealth_id_format() {
        assert_eq!(
            " 2854201475 ".parse::<EHealthId>().unwrap().as_str(),
            "2854201475"
        );
        assert!("AB12cd".parse::<EHealthId>().is_ok());
        assert_eq!(
            "12345".parse::<EHealthId>(),
            Err(EHealthIdError::WrongLength { length: 5 })
        );
        assert_eq!(
            "1".repeat(21).parse::<EHealthId>(),
            Err(EHealthIdError::WrongLength { length: 21 })
        );
        assert_eq!(
            "12345-678".parse::<EHealthId>(),
            Err(EHealthIdError::InvalidCharacter {
                position: 6,
                character: '-'
            })
        );
        assert_eq!(
            serde_json::to_string(&"2854201475".parse::<EHealthId>().unwrap()).unwrap(),
            "\"2854201475\""
        );
        assert!(serde_json::from_str::<EHealthId>("\"12\"").is_err());
    }

    #[test]
    fn person_name_rules() {
        let name = PersonName::new(" Marie-Thérèse ", "Schmit").unwrap();
        assert_eq!((name.given(), name.family()), ("Marie-Thérèse", "Schmit"));
        assert_eq!(
            PersonName::new("Jean", "  "),
            Err(PersonNameError::Empty {
                part: NamePart::Family
            })
        );
        assert_eq!(
            PersonName::new("Jean^Paul", "Weber"),
            Err(PersonNameError::InvalidCharacter {
                part: NamePart::Given,
                character: '^'
            })
        );
        assert!(matches!(
            PersonName::new("a".repeat(65), "b"),
            Err(PersonNameError::TooLong { length: 65, .. })
        ));
        let json = serde_json::to_string(&name).unwrap();
        assert_eq!(serde_json::from_str::<PersonName>(&json).unwrap(), name);
        assert!(serde_json::from_str::<PersonName>(r#"{"given":"","family":"x"}"#).is_err());
    }

    #[test]
    fn author_serde_round_trip() {
        let mut author = Author::new(
            "2854201475".parse().unwrap(),
            PersonName::new("Anne", "Muller").unwrap(),
        );
        author.specialty = Some(Code::new("GP", "1.2.3", "Médecine générale").unwrap());
        let json = serde_json::to_string(&author).unwrap();
        assert!(!json.contains("role"));
        assert_eq!(serde_json::from_str::<Author>(&json).unwrap(), author);
    }
}
