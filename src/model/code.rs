//! Coded values (classCode, typeCode, confidentialityCode, …).

use std::fmt;

/// A coded value as XDS carries it: the code, the scheme that defines it and
/// a human-readable name.
///
/// Each part is trimmed, must not be empty, must not contain control
/// characters, and is at most [`Code::MAX_LEN`] characters (the ebRIM limit
/// on the slot values and classification node representations that carry
/// them).
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "CodeFields")]
pub struct Code {
    // Visible to the model so that `ConfidentialityCodeTable::sandbox` can
    // build its constant codes without a fallible call; its test checks them.
    pub(super) code: String,
    pub(super) coding_scheme: String,
    pub(super) display_name: String,
}

/// The unvalidated parts of a [`Code`], as they arrive from config or IPC.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeFields {
    /// The code value.
    pub code: String,
    /// The coding scheme (an OID or URN).
    pub coding_scheme: String,
    /// The display name.
    pub display_name: String,
}

/// Which part of a [`Code`] is wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodePart {
    /// The code value.
    Code,
    /// The coding scheme.
    CodingScheme,
    /// The display name.
    DisplayName,
}

impl fmt::Display for CodePart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CodePart::Code => "code",
            CodePart::CodingScheme => "coding_scheme",
            CodePart::DisplayName => "display_name",
        })
    }
}

/// Why a code is invalid.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// A part is empty or only whitespace.
    #[error(
        "coded value: the {part} is empty; every coded value needs a code, a coding_scheme and a display_name"
    )]
    Empty {
        /// The part.
        part: CodePart,
    },
    /// A part contains a control character.
    #[error(
        "coded value: the {part} '{value}' contains a control character (tab, newline, …); remove it"
    )]
    ControlCharacter {
        /// The part.
        part: CodePart,
        /// The part's text.
        value: String,
    },
    /// A part is too long.
    #[error("coded value: the {part} has {length} characters; at most 256 are allowed")]
    TooLong {
        /// The part.
        part: CodePart,
        /// Characters seen.
        length: usize,
    },
}

impl Code {
    /// Longest part accepted.
    pub const MAX_LEN: usize = 256;

    /// Validates and builds a code.
    pub fn new(
        code: impl Into<String>,
        coding_scheme: impl Into<String>,
        display_name: impl Into<String>,
    ) -> Result<Code, CodeError> {
        Ok(Code {
            code: checked(CodePart::Code, code.into())?,
            coding_scheme: checked(CodePart::CodingScheme, coding_scheme.into())?,
            display_name: checked(CodePart::DisplayName, display_name.into())?,
        })
    }

    /// The code value.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The coding scheme.
    pub fn coding_scheme(&self) -> &str {
        &self.coding_scheme
    }

    /// The display name.
    pub fn display_name(&self) -> &str {
        &self.display_name
    }

    /// True when `code` and `coding_scheme` match (the display name is not
    /// part of a code's identity).
    pub fn is(&self, code: &str, coding_scheme: &str) -> bool {
        self.code == code && self.coding_scheme == coding_scheme
    }
}

fn checked(part: CodePart, value: String) -> Result<String, CodeError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(CodeError::Empty { part });
    }
    if trimmed.chars().any(char::is_control) {
        return Err(CodeError::ControlCharacter {
            part,
            value: trimmed.escape_debug().to_string(),
        });
    }
    let length = trimmed.chars().count();
    if length > Code::MAX_LEN {
        return Err(CodeError::TooLong { part, length });
    }
    Ok(trimmed.to_owned())
}

impl TryFrom<CodeFields> for Code {
    type Error = CodeError;
    fn try_from(fields: CodeFields) -> Result<Self, Self::Error> {
        Code::new(fields.code, fields.coding_scheme, fields.display_name)
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}, scheme {})",
            self.display_name, self.code, self.coding_scheme
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_each_part() {
        let code = Code::new(
            " 34133-9 ",
            "2.16.840.1.113883.6.1",
            "Summary of episode note",
        )
        .unwrap();
        assert_eq!(code.code(), "34133-9");
        assert!(code.is("34133-9", "2.16.840.1.113883.6.1"));
        assert_eq!(
            Code::new("", "s", "d"),
            Err(CodeError::Empty {
                part: CodePart::Code
            })
        );
        assert_eq!(
            Code::new("c", "  ", "d"),
            Err(CodeError::Empty {
                part: CodePart::CodingScheme
            })
        );
        assert!(matches!(
            Code::new("c", "s", "a\u{7}b"),
            Err(CodeError::ControlCharacter {
                part: CodePart::DisplayName,
                ..
            })
        ));
        assert_eq!(
            Code::new("c", "s", "x".repeat(257)),
            Err(CodeError::TooLong {
                part: CodePart::DisplayName,
                length: 257
            })
        );
    }

    #[test]
    fn serde_validates() {
        let code = Code::new("N", "scheme", "Normal").unwrap();
        let json = serde_json::to_string(&code).unwrap();
        assert_eq!(
            json,
            r#"{"code":"N","coding_scheme":"scheme","display_name":"Normal"}"#
        );
        assert_eq!(serde_json::from_str::<Code>(&json).unwrap(), code);
        let err =
            serde_json::from_str::<Code>(r#"{"code":"","coding_scheme":"s","display_name":"d"}"#)
                .unwrap_err();
        assert!(err.to_string().contains("the code is empty"), "{err}");
    }
}
