//! ISO object identifiers as XDS uses them, and the two kinds of uniqueId.

use std::fmt;
use std::str::FromStr;

/// An ISO OID in dotted-decimal form (`1.3.182.4.4`), as XDS requires for
/// uniqueIds and source ids: at least two arcs, the first 0, 1 or 2, no empty
/// arc, no leading zero in an arc (`1.03` is refused: it would compare
/// unequal to `1.3` as text), and at most [`Oid::MAX_LEN`] characters
/// (IHE ITI TF-3 limits uniqueId OIDs to 64).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Oid(String);

/// Why a text is not an OID.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OidError {
    /// Nothing given.
    #[error("the OID is empty: expected dotted decimal numbers such as 1.3.182.4.4")]
    Empty,
    /// Longer than XDS allows.
    #[error("the OID has {length} characters: XDS allows at most 64; use a shorter root")]
    TooLong {
        /// Characters seen.
        length: usize,
    },
    /// A character other than a digit or a dot.
    #[error(
        "the OID has {character:?} at position {position}: only digits and dots are allowed (e.g. 1.3.182.4.4)"
    )]
    InvalidCharacter {
        /// 1-based position.
        position: usize,
        /// The character.
        character: char,
    },
    /// Two dots in a row, or a dot at either end.
    #[error("arc {arc} of the OID is empty: remove the extra dot")]
    EmptyArc {
        /// 1-based arc number.
        arc: usize,
    },
    /// An arc written with a leading zero.
    #[error(
        "arc {arc} of the OID ('{value}') has a leading zero: write it without (e.g. 7, not 07)"
    )]
    LeadingZero {
        /// 1-based arc number.
        arc: usize,
        /// The arc as written.
        value: String,
    },
    /// Only one arc.
    #[error("the OID has a single arc: an OID has at least two (e.g. 1.3)")]
    SingleArc,
    /// First arc other than 0, 1 or 2.
    #[error("the OID starts with '{first}': the first arc is 0, 1 or 2")]
    InvalidFirstArc {
        /// The first arc.
        first: String,
    },
}

impl Oid {
    /// Longest OID XDS accepts as a uniqueId.
    pub const MAX_LEN: usize = 64;

    /// The dotted-decimal text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// This OID with `arcs` appended, as long as the result stays a valid OID.
    pub fn child(&self, arcs: &str) -> Result<Oid, OidError> {
        format!("{}.{arcs}", self.0).parse()
    }
}

impl FromStr for Oid {
    type Err = OidError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(OidError::Empty);
        }
        if let Some((index, character)) = s
            .chars()
            .enumerate()
            .find(|(_, c)| !c.is_ascii_digit() && *c != '.')
        {
            return Err(OidError::InvalidCharacter {
                position: index + 1,
                character,
            });
        }
        // ASCII only from here on: length in bytes is length in characters.
        if s.len() > Oid::MAX_LEN {
            return Err(OidError::TooLong { length: s.len() });
        }
        let arcs: Vec<&str> = s.split('.').collect();
        for (index, arc) in arcs.iter().enumerate() {
            if arc.is_empty() {
                return Err(OidError::EmptyArc { arc: index + 1 });
            }
            if arc.len() > 1 && arc.starts_with('0') {
                return Err(OidError::LeadingZero {
                    arc: index + 1,
                    value: (*arc).to_owned(),
                });
            }
        }
        if arcs.len() < 2 {
            return Err(OidError::SingleArc);
        }
        if !matches!(arcs[0], "0" | "1" | "2") {
            return Err(OidError::InvalidFirstArc {
                first: arcs[0].to_owned(),
            });
        }
        Ok(Oid(s.to_owned()))
    }
}

impl TryFrom<String> for Oid {
    type Error = OidError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl TryFrom<&str> for Oid {
    type Error = OidError;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Oid> for String {
    fn from(value: Oid) -> Self {
        value.0
    }
}

impl fmt::Display for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Oid({})", self.0)
    }
}

/// Declares a newtype over [`Oid`] with the same parsing, display and serde.
macro_rules! oid_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(Oid);

        impl $name {
            /// The OID.
            pub fn oid(&self) -> &Oid {
                &self.0
            }

            /// The dotted-decimal text.
            pub fn as_str(&self) -> &str {
                self.0.as_str()
            }
        }

        impl From<Oid> for $name {
            fn from(oid: Oid) -> Self {
                $name(oid)
            }
        }

        impl FromStr for $name {
            type Err = OidError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map($name)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = OidError;
            fn try_from(value: &str) -> Result<Self, Self::Error> {
                value.parse()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.0.as_str())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0.as_str())
            }
        }
    };
}

oid_newtype!(
    /// A document's XDS uniqueId (`XDSDocumentEntry.uniqueId`): stable across
    /// versions and the key of the duplicate check on retries.
    DocumentUniqueId
);

oid_newtype!(
    /// A submission set's XDS uniqueId (`XDSSubmissionSet.uniqueId`).
    SubmissionSetUniqueId
);

oid_newtype!(
    /// The OID of the software that submits (`XDSSubmissionSet.sourceId`).
    SourceId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_dotted_decimal() {
        for ok in ["1.3.182.4.4", "2.25", "0.0", "1.2.840.10008.1.2.1"] {
            assert_eq!(ok.parse::<Oid>().unwrap().as_str(), ok);
        }
        let max = format!("1.{}", "2".repeat(62));
        assert_eq!(max.len(), 64);
        assert!(max.parse::<Oid>().is_ok());
    }

    #[test]
    fn refuses_with_the_reason() {
        assert_eq!("".parse::<Oid>(), Err(OidError::Empty));
        assert_eq!(
            "1.2.x".parse::<Oid>(),
            Err(OidError::InvalidCharacter {
                position: 5,
                character: 'x'
            })
        );
        assert_eq!("1..2".parse::<Oid>(), Err(OidError::EmptyArc { arc: 2 }));
        assert_eq!("1.2.".parse::<Oid>(), Err(OidError::EmptyArc { arc: 3 }));
        assert_eq!(
            "1.02".parse::<Oid>(),
            Err(OidError::LeadingZero {
                arc: 2,
                value: "02".into()
            })
        );
        assert_eq!("1".parse::<Oid>(), Err(OidError::SingleArc));
        assert_eq!(
            "3.1".parse::<Oid>(),
            Err(OidError::InvalidFirstArc { first: "3".into() })
        );
        assert_eq!(
            format!("1.{}", "2".repeat(63)).parse::<Oid>(),
            Err(OidError::TooLong { length: 65 })
        );
    }

    #[test]
    fn newtypes_share_parsing_and_serde() {
        let id: DocumentUniqueId = "1.2.3.4".parse().unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"1.2.3.4\"");
        assert_eq!(
            serde_json::from_str::<DocumentUniqueId>("\"1.2.3.4\"").unwrap(),
            id
        );
        assert!(serde_json::from_str::<SourceId>("\"1.02\"").is_err());
        assert_eq!(
            Oid::try_from("1.2").unwrap().child("3.4").unwrap().as_str(),
            "1.2.3.4"
        );
    }
}
