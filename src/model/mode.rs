//! The charter's confidentiality modes ("modes de confidentialité").

use std::fmt;
use std::str::FromStr;

/// How widely a document in the DSP may be read (charter, "Le DSP permet au
/// professionnel de santé d'enregistrer les informations … selon plusieurs
/// modes de confidentialité"). The wire code of each mode is not fixed here:
/// it comes from the platform profile's code table.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ConfidentialityMode {
    /// « Normal »: the default; professionals in a therapeutic relationship.
    Normal,
    /// « Restreint »: médecin référent and cercle de confiance only.
    Restreint,
    /// « Privé »: the patient and the author only.
    Prive,
    /// « Visite d'annonce »: professionals; hidden from the patient until announced.
    VisiteAnnonce,
}

impl ConfidentialityMode {
    /// All four modes, in the charter's order.
    pub const ALL: [ConfidentialityMode; 4] = [
        ConfidentialityMode::Normal,
        ConfidentialityMode::Restreint,
        ConfidentialityMode::Prive,
        ConfidentialityMode::VisiteAnnonce,
    ];

    /// The stable identifier used in config files, IPC and the C ABI.
    pub fn as_str(self) -> &'static str {
        match self {
            ConfidentialityMode::Normal => "normal",
            ConfidentialityMode::Restreint => "restreint",
            ConfidentialityMode::Prive => "prive",
            ConfidentialityMode::VisiteAnnonce => "visite_annonce",
        }
    }

    /// The charter's name of the mode.
    pub fn charter_name(self) -> &'static str {
        match self {
            ConfidentialityMode::Normal => "Normal",
            ConfidentialityMode::Restreint => "Restreint",
            ConfidentialityMode::Prive => "Privé",
            ConfidentialityMode::VisiteAnnonce => "Visite d'annonce",
        }
    }
}

impl fmt::Display for ConfidentialityMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.charter_name())
    }
}

/// A mode name that is none of the four.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown confidentiality mode '{0}': use normal, restreint, prive or visite_annonce")]
pub struct UnknownMode(pub String);

impl FromStr for ConfidentialityMode {
    type Err = UnknownMode;

    /// Accepts the stable identifiers and the charter's names, in any case,
    /// with or without accents ("privé", "visite d'annonce", "visite-annonce").
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let folded: String = s
            .trim()
            .to_lowercase()
            .replace('é', "e")
            .chars()
            .map(|c| {
                if c == ' ' || c == '-' || c == '\'' {
                    '_'
                } else {
                    c
                }
            })
            .collect();
        match folded.as_str() {
            "normal" => Ok(ConfidentialityMode::Normal),
            "restreint" => Ok(ConfidentialityMode::Restreint),
            "prive" => Ok(ConfidentialityMode::Prive),
            "visite_annonce" | "visite_d_annonce" | "visite_dannonce" => {
                Ok(ConfidentialityMode::VisiteAnnonce)
            }
            _ => Err(UnknownMode(s.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_identifiers_and_charter_names() {
        for m in ConfidentialityMode::ALL {
            assert_eq!(m.as_str().parse::<ConfidentialityMode>(), Ok(m));
            assert_eq!(m.charter_name().parse::<ConfidentialityMode>(), Ok(m));
        }
        assert_eq!(
            "Visite-annonce".parse(),
            Ok(ConfidentialityMode::VisiteAnnonce)
        );
        assert_eq!("PRIVÉ".parse(), Ok(ConfidentialityMode::Prive));
        assert_eq!(
            "secret".parse::<ConfidentialityMode>(),
            Err(UnknownMode("secret".into()))
        );
    }
}
