//! Who acts on a DSP: the identifiers of patients, accompagnateurs and
//! professionals, and the session a subject acts in.

use std::fmt;

/// Longest identifier accepted (the PKI's limit for the eHealth id in a card
/// certificate, kept for every identifier here).
const MAX_ID_CHARS: usize = 64;

/// An identifier that is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{value}' is not a valid {what}: {expected}")]
pub struct InvalidIdentifier {
    /// Which identifier ("eHealth id", "patient matricule", …).
    pub what: &'static str,
    /// The rejected text.
    pub value: String,
    /// What a valid one looks like.
    pub expected: &'static str,
}

fn check_token(value: &str, what: &'static str) -> Result<(), InvalidIdentifier> {
    let valid = !value.is_empty()
        && value.chars().count() <= MAX_ID_CHARS
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    if valid {
        Ok(())
    } else {
        Err(InvalidIdentifier {
            what,
            value: value.to_owned(),
            expected: "1 to 64 characters of A-Z, a-z, 0-9, '-', '.' or '_'",
        })
    }
}

/// A professional's identifier in the HPD (annuaire national), the
/// `psEHealthID` of the authentication request.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EHealthId(String);

impl EHealthId {
    /// Accepts 1–64 characters of A–Z, a–z, 0–9 and `-` (what a card
    /// certificate's `serialNumber` can carry).
    pub fn new(value: impl Into<String>) -> Result<Self, InvalidIdentifier> {
        let value = value.into();
        let valid = !value.is_empty()
            && value.chars().count() <= MAX_ID_CHARS
            && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if valid {
            Ok(Self(value))
        } else {
            Err(InvalidIdentifier {
                what: "eHealth id",
                value,
                expected: "1 to 64 characters of A-Z, a-z, 0-9 and '-'",
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A patient, by the 13-digit national matricule that identifies their DSP
/// (`1893120105732^^^&1.3.182.4.4&ISO` in XDS).
///
/// Only the shape (13 digits) is checked here; the check digits are the
/// business of `dspconnect::model`'s matricule type, which callers should
/// use to validate what they receive from outside.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PatientId(String);

impl PatientId {
    pub fn new(value: impl Into<String>) -> Result<Self, InvalidIdentifier> {
        let value = value.into();
        if value.len() == 13 && value.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(value))
        } else {
            Err(InvalidIdentifier {
                what: "patient matricule",
                value,
                expected: "13 digits (YYYYMMDD, 3-digit serial, Luhn and Verhoeff check digits)",
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An accompagnateur DSP, by their sandbox portal login. The charter's
/// accompagnateur is « une personne civile … sans obligation d'être un
/// professionnel de santé »: a person with their own login, not an HPD entry.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccompagnateurId(String);

impl AccompagnateurId {
    pub fn new(value: impl Into<String>) -> Result<Self, InvalidIdentifier> {
        let value = value.into();
        check_token(&value, "accompagnateur login")?;
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! show_as_str {
    ($($ty:ident),*) => {$(
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($ty), "({})"), self.0)
            }
        }
    )*};
}
show_as_str!(EHealthId, PatientId, AccompagnateurId);

/// How a professional authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SessionKind {
    /// LuxTrust card (« moyen d'authentification forte »): the only way to
    /// DSP documents.
    Card,
    /// Matricule + password (« avec des accès limités »).
    Password,
}

/// Who asks.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Subject {
    /// A patient logged in to the patient portal.
    Patient(PatientId),
    /// An accompagnateur logged in to the patient portal.
    Accompagnateur(AccompagnateurId),
    /// A professional, by eHealth id, in a card or password session.
    Professional { id: EHealthId, session: SessionKind },
}

impl Subject {
    /// A professional in a card session.
    pub fn card(id: EHealthId) -> Self {
        Subject::Professional {
            id,
            session: SessionKind::Card,
        }
    }

    /// A professional in a password session.
    pub fn password(id: EHealthId) -> Self {
        Subject::Professional {
            id,
            session: SessionKind::Password,
        }
    }

    /// The professional's eHealth id, if the subject is one.
    pub fn professional_id(&self) -> Option<&EHealthId> {
        match self {
            Subject::Professional { id, .. } => Some(id),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_refuse_what_cannot_be_one() {
        assert!(EHealthId::new("9900000001").is_ok());
        assert!(EHealthId::new("").is_err());
        assert!(EHealthId::new("a b").is_err());
        assert!(EHealthId::new("x".repeat(65)).is_err());
        assert!(PatientId::new("1893120105732").is_ok());
        assert!(PatientId::new("189312010573").is_err());
        assert!(PatientId::new("1893120105732' OR 1=1").is_err());
        assert!(AccompagnateurId::new("jean.reuter").is_ok());
        assert!(AccompagnateurId::new("jean reuter").is_err());
        let err = PatientId::new("12").unwrap_err();
        assert!(err.to_string().contains("13 digits"), "{err}");
    }
}
