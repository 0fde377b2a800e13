//! The platform profile's table of confidentiality codes.

use super::code::Code;
use super::mode::ConfidentialityMode;

/// How each [`ConfidentialityMode`] is written on the wire
/// (`XDSDocumentEntry.confidentialityCode`), and back.
///
/// The real platform's values are not public, so they are configuration:
/// a platform profile carries one table, and nothing else in the code names a
/// confidentiality code. In TOML:
///
/// ```toml
/// [normal]
/// code = "N"
/// coding_scheme = "urn:dspconnect:sandbox:confidentiality"
/// display_name = "Normal"
/// # … and [restreint], [prive], [visite_annonce]
/// ```
///
/// Loading validates that all four modes are present and that no two share
/// the same (code, coding scheme) pair, so that [`mode_for`](Self::mode_for)
/// is unambiguous. Two modes may use the same code value in different
/// schemes: the pair still tells them apart.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(
    try_from = "ConfidentialityCodeTableFields",
    into = "ConfidentialityCodeTableFields"
)]
pub struct ConfidentialityCodeTable {
    /// In the order of [`ConfidentialityMode::ALL`].
    codes: [Code; 4],
}

/// The table as written in config: one optional entry per mode, so that a
/// missing mode is reported by name rather than as a serde error.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfidentialityCodeTableFields {
    /// « Normal ».
    #[serde(skip_serializing_if = "Option::is_none")]
    pub normal: Option<Code>,
    /// « Restreint ».
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restreint: Option<Code>,
    /// « Privé ».
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prive: Option<Code>,
    /// « Visite d'annonce ».
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visite_annonce: Option<Code>,
}

/// Why a code table is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CodeTableError {
    /// A mode has no code.
    #[error(
        "the confidentiality code table has no entry for mode '{}' ({mode}): add [{}] with code, coding_scheme and display_name",
        .mode.as_str(), .mode.as_str()
    )]
    MissingMode {
        /// The mode without a code.
        mode: ConfidentialityMode,
    },
    /// Two modes share one (code, scheme) pair.
    #[error(
        "the confidentiality code table gives modes '{}' and '{}' the same code '{code}' in scheme '{coding_scheme}': each mode needs its own code",
        .first.as_str(), .second.as_str()
    )]
    SharedCode {
        /// The first mode with that code.
        first: ConfidentialityMode,
        /// The second.
        second: ConfidentialityMode,
        /// The shared code.
        code: String,
        /// Its scheme.
        coding_scheme: String,
    },
}

/// A confidentiality code that is in no mode of the table.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "confidentiality code '{code}' (scheme '{coding_scheme}') is not in the platform profile's code table: the platform and the profile disagree; check the profile's confidentiality codes"
)]
pub struct UnknownConfidentialityCode {
    /// The code found.
    pub code: String,
    /// Its scheme.
    pub coding_scheme: String,
}

/// The sandbox's coding scheme for confidentiality codes.
const SANDBOX_SCHEME: &str = "urn:dspconnect:sandbox:confidentiality";

fn index(mode: ConfidentialityMode) -> usize {
    match mode {
        ConfidentialityMode::Normal => 0,
        ConfidentialityMode::Restreint => 1,
        ConfidentialityMode::Prive => 2,
        ConfidentialityMode::VisiteAnnonce => 3,
    }
}

impl ConfidentialityCodeTable {
    /// A table from one code per mode, validated.
    pub fn new(
        normal: Code,
        restreint: Code,
        prive: Code,
        visite_annonce: Code,
    ) -> Result<ConfidentialityCodeTable, CodeTableError> {
        let codes = [normal, restreint, prive, visite_annonce];
        for (i, first) in codes.iter().enumerate() {
            for (j, second) in codes.iter().enumerate().skip(i + 1) {
                if second.is(first.code(), first.coding_scheme()) {
                    return Err(CodeTableError::SharedCode {
                        first: ConfidentialityMode::ALL[i],
                        second: ConfidentialityMode::ALL[j],
                        code: first.code().to_owned(),
                        coding_scheme: first.coding_scheme().to_owned(),
                    });
                }
            }
        }
        Ok(ConfidentialityCodeTable { codes })
    }

    /// The sandbox's table (the sandbox defines these values; see
    /// `docs/platform-protocol.md`): scheme
    /// `urn:dspconnect:sandbox:confidentiality`, codes `N`, `R`, `P`, `VA`,
    /// display names the charter's.
    pub fn sandbox() -> ConfidentialityCodeTable {
        let code = |code: &str, mode: ConfidentialityMode| Code {
            code: code.to_owned(),
            coding_scheme: SANDBOX_SCHEME.to_owned(),
            display_name: mode.charter_name().to_owned(),
        };
        // Built directly: these literals are valid and distinct (the tests
        // check that `new` accepts them).
        ConfidentialityCodeTable {
            codes: [
                code("N", ConfidentialityMode::Normal),
                code("R", ConfidentialityMode::Restreint),
                code("P", ConfidentialityMode::Prive),
                code("VA", ConfidentialityMode::VisiteAnnonce),
            ],
        }
    }

    /// The wire code of `mode`.
    pub fn code_for(&self, mode: ConfidentialityMode) -> &Code {
        &self.codes[index(mode)]
    }

    /// The mode a wire code stands for. The display name is ignored: only
    /// the code and its scheme identify it.
    pub fn mode_for(
        &self,
        code: &str,
        coding_scheme: &str,
    ) -> Result<ConfidentialityMode, UnknownConfidentialityCode> {
        ConfidentialityMode::ALL
            .into_iter()
            .find(|&mode| self.code_for(mode).is(code, coding_scheme))
            .ok_or_else(|| UnknownConfidentialityCode {
                code: code.to_owned(),
                coding_scheme: coding_scheme.to_owned(),
            })
    }
}

impl TryFrom<ConfidentialityCodeTableFields> for ConfidentialityCodeTable {
    type Error = CodeTableError;

    fn try_from(fields: ConfidentialityCodeTableFields) -> Result<Self, Self::Error> {
        let missing = |mode| CodeTableError::MissingMode { mode };
        ConfidentialityCodeTable::new(
            fields.normal.ok_or(missing(ConfidentialityMode::Normal))?,
            fields
                .restreint
                .ok_or(missing(ConfidentialityMode::Restreint))?,
            fields.prive.ok_or(missing(ConfidentialityMode::Prive))?,
            fields
                .visite_annonce
                .ok_or(missing(ConfidentialityMode::VisiteAnnonce))?,
        )
    }
}

impl From<ConfidentialityCodeTable> for ConfidentialityCodeTableFields {
    fn from(table: ConfidentialityCodeTable) -> Self {
        let [normal, restreint, prive, visite_annonce] = table.codes;
        ConfidentialityCodeTableFields {
            normal: Some(normal),
            restreint: Some(restreint),
            prive: Some(prive),
            visite_annonce: Some(visite_annonce),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(code: &str, scheme: &str) -> Code {
        Code::new(code, scheme, "name").unwrap()
    }

    #[test]
    fn sandbox_table_is_valid_and_round_trips_every_mode() {
        let table = ConfidentialityCodeTable::sandbox();
        let [n, r, p, va] = table.codes.clone();
        assert_eq!(
            ConfidentialityCodeTable::new(n, r, p, va),
            Ok(table.clone())
        );
        for mode in ConfidentialityMode::ALL {
            let code = table.code_for(mode);
            assert_eq!(
                code.coding_scheme(),
                "urn:dspconnect:sandbox:confidentiality"
            );
            assert_eq!(code.display_name(), mode.charter_name());
            assert_eq!(table.mode_for(code.code(), code.coding_scheme()), Ok(mode));
        }
        assert_eq!(
            table.code_for(ConfidentialityMode::VisiteAnnonce).code(),
            "VA"
        );
        assert_eq!(
            table.mode_for("N", "other-scheme"),
            Err(UnknownConfidentialityCode {
                code: "N".into(),
                coding_scheme: "other-scheme".into()
            })
        );
    }

    #[test]
    fn loads_from_toml_and_json() {
        let toml_text = r#"
            [normal]
            code = "17621005"
            coding_scheme = "2.16.840.1.113883.6.96"
            display_name = "Normal"
            [restreint]
            code = "R"
            coding_scheme = "2.16.840.1.113883.5.25"
            display_name = "Restreint"
            [prive]
            code = "V"
            coding_scheme = "2.16.840.1.113883.5.25"
            display_name = "Privé"
            [visite_annonce]
            code = "ANN"
            coding_scheme = "1.2.3.4"
            display_name = "Visite d'annonce"
        "#;
        let table: ConfidentialityCodeTable = toml::from_str(toml_text).unwrap();
        assert_eq!(
            table.mode_for("V", "2.16.840.1.113883.5.25"),
            Ok(ConfidentialityMode::Prive)
        );
        let json = serde_json::to_string(&table).unwrap();
        let back: ConfidentialityCodeTable = serde_json::from_str(&json).unwrap();
        assert_eq!(back, table);
        let toml_back: ConfidentialityCodeTable =
            toml::from_str(&toml::to_string(&table).unwrap()).unwrap();
        assert_eq!(toml_back, table);
    }

    #[test]
    fn refuses_a_missing_mode_by_name() {
        let mut fields = ConfidentialityCodeTableFields::from(ConfidentialityCodeTable::sandbox());
        fields.prive = None;
        let json = serde_json::to_string(&fields).unwrap();
        let err = serde_json::from_str::<ConfidentialityCodeTable>(&json).unwrap_err();
        assert!(
            err.to_string().contains("no entry for mode 'prive'"),
            "{err}"
        );
        assert_eq!(
            ConfidentialityCodeTable::try_from(fields),
            Err(CodeTableError::MissingMode {
                mode: ConfidentialityMode::Prive
            })
        );
    }

    #[test]
    fn refuses_shared_codes_but_not_same_value_in_other_scheme() {
        assert_eq!(
            ConfidentialityCodeTable::new(
                code("N", "s"),
                code("R", "s"),
                code("N", "s"),
                code("VA", "s")
            ),
            Err(CodeTableError::SharedCode {
                first: ConfidentialityMode::Normal,
                second: ConfidentialityMode::Prive,
                code: "N".into(),
                coding_scheme: "s".into()
            })
        );
        let table = ConfidentialityCodeTable::new(
            code("X", "s1"),
            code("X", "s2"),
            code("P", "s1"),
            code("VA", "s1"),
        )
        .unwrap();
        assert_eq!(
            table.mode_for("X", "s2"),
            Ok(ConfidentialityMode::Restreint)
        );
    }

    #[test]
    fn refuses_unknown_keys() {
        let err = toml::from_str::<ConfidentialityCodeTable>(
            "[secret]\ncode = \"S\"\ncoding_scheme = \"s\"\ndisplay_name = \"S\"\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("secret"), "{err}");
    }
}
