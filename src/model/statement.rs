//! The professional's statement that the patient was informed and agrees.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use super::professional::EHealthId;
use super::timestamp::UtcTimestamp;

/// The professional's statement that the patient was informed of the
/// sharing and agrees to it (charter: "Obtenir l'approbation du patient,
/// dûment averti"; "L'enregistrement d'une donnée médicale dans le DSP
/// équivaut à un partage d'informations … pour lequel le patient est averti
/// et consentant"). Every [`Submission`](super::Submission) takes one by
/// value, so a document cannot be submitted without it.
///
/// # Wire form
///
/// One XDS slot value ([`Self::SLOT_NAME`]), at most 256 characters:
///
/// ```text
/// informed-and-agrees;by=<eHealth id>;at=<YYYYMMDDThhmmssZ>;source=<api|sidecar|folder-default>[;folder=<path>]
/// ```
///
/// e.g. `informed-and-agrees;by=2854201475;at=20261128T100000Z;source=api`.
/// `folder` appears exactly when the source is `folder-default`; its value
/// is the folder's path, UTF-8, with every byte other than `A-Z a-z 0-9 - .
/// _ ~ /` written `%XX` (upper-case hex). [`Self::from_wire`] takes the keys
/// in any order but refuses unknown, repeated or missing keys, and any
/// other spelling of the same path (so one statement has one wire form).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PatientInformedStatement {
    stated_by: EHealthId,
    stated_at: UtcTimestamp,
    source: StatementSource,
}

/// Where the statement came from.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StatementSource {
    /// Given for this document through the API (IPC or C library).
    Api,
    /// Given for this file in its drop-folder sidecar (`<file>.dsp.json`).
    Sidecar,
    /// The default that was explicitly configured for a drop folder, for
    /// files without a sidecar statement.
    FolderDefault {
        /// The drop folder the default was configured for.
        folder: DropFolderPath,
    },
}

/// The path of a drop folder whose default statement was configured:
/// absolute, UTF-8, and short enough that the statement's wire form stays
/// within one 256-character slot value (at most
/// [`DropFolderPath::MAX_ENCODED_LEN`] characters once percent-encoded).
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DropFolderPath(String);

/// Why a drop folder path cannot be recorded in a statement.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DropFolderPathError {
    /// Not valid UTF-8.
    #[error("the drop folder path {path:?} is not valid UTF-8: rename the folder")]
    NotUtf8 {
        /// The path, lossily converted for display.
        path: String,
    },
    /// Relative.
    #[error("the drop folder path '{path}' is relative: configure it as an absolute path")]
    NotAbsolute {
        /// The path.
        path: String,
    },
    /// Too long once encoded.
    #[error(
        "the drop folder path '{path}' is too long to record in the patient statement ({encoded_length} characters encoded, at most 160): use a shorter path"
    )]
    TooLong {
        /// The path.
        path: String,
        /// Its length once percent-encoded.
        encoded_length: usize,
    },
}

impl DropFolderPath {
    /// Longest percent-encoded path: the rest of the wire form takes at
    /// most 93 characters, and the slot value at most 256.
    pub const MAX_ENCODED_LEN: usize = 160;

    /// Validates a drop folder path.
    pub fn new(path: &Path) -> Result<DropFolderPath, DropFolderPathError> {
        let Some(text) = path.to_str() else {
            return Err(DropFolderPathError::NotUtf8 {
                path: path.to_string_lossy().into_owned(),
            });
        };
        if !path.is_absolute() {
            return Err(DropFolderPathError::NotAbsolute {
                path: text.to_owned(),
            });
        }
        let encoded_length = percent_encode(text).len();
        if encoded_length > Self::MAX_ENCODED_LEN {
            return Err(DropFolderPathError::TooLong {
                path: text.to_owned(),
                encoded_length,
            });
        }
        Ok(DropFolderPath(text.to_owned()))
    }

    /// The path.
    pub fn as_path(&self) -> &Path {
        Path::new(&self.0)
    }
}

impl TryFrom<String> for DropFolderPath {
    type Error = DropFolderPathError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        DropFolderPath::new(Path::new(&value))
    }
}

impl From<DropFolderPath> for String {
    fn from(value: DropFolderPath) -> Self {
        value.0
    }
}

impl fmt::Debug for DropFolderPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DropFolderPath({:?})", self.0)
    }
}

impl fmt::Display for DropFolderPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A slot value that is not a statement's wire form.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "'{value}' is not a patient-informed statement: {reason} (expected informed-and-agrees;by=<eHealth id>;at=<YYYYMMDDThhmmssZ>;source=<api|sidecar|folder-default>[;folder=<path>])"
)]
pub struct StatementWireError {
    /// The text given.
    pub value: String,
    /// What is wrong.
    pub reason: String,
}

const STATEMENT: &str = "informed-and-agrees";

impl PatientInformedStatement {
    /// Name of the XDS slot (on the DocumentEntry) that carries the wire form.
    pub const SLOT_NAME: &'static str = "urn:dspconnect:patientInformedStatement";

    /// The statement of `stated_by` (the author of the submission), made at
    /// `stated_at`, from `source`.
    pub fn new(
        stated_by: EHealthId,
        stated_at: UtcTimestamp,
        source: StatementSource,
    ) -> PatientInformedStatement {
        PatientInformedStatement {
            stated_by,
            stated_at,
            source,
        }
    }

    /// Who states it.
    pub fn stated_by(&self) -> &EHealthId {
        &self.stated_by
    }

    /// When it was stated.
    pub fn stated_at(&self) -> UtcTimestamp {
        self.stated_at
    }

    /// Where it came from.
    pub fn source(&self) -> &StatementSource {
        &self.source
    }

    /// The slot value (see the type's documentation).
    pub fn to_wire(&self) -> String {
        let source = match &self.source {
            StatementSource::Api => "api".to_owned(),
            StatementSource::Sidecar => "sidecar".to_owned(),
            StatementSource::FolderDefault { folder } => {
                format!("folder-default;folder={}", percent_encode(&folder.0))
            }
        };
        format!(
            "{STATEMENT};by={};at={};source={source}",
            self.stated_by,
            self.stated_at.to_basic_iso()
        )
    }

    /// Parses a slot value written by [`Self::to_wire`].
    pub fn from_wire(value: &str) -> Result<PatientInformedStatement, StatementWireError> {
        let error = |reason: String| StatementWireError {
            value: value.to_owned(),
            reason,
        };
        let mut parts = value.split(';');
        if parts.next() != Some(STATEMENT) {
            return Err(error(format!("it does not start with '{STATEMENT}'")));
        }
        let mut pairs = BTreeMap::new();
        for part in parts {
            let Some((key, val)) = part.split_once('=') else {
                return Err(error(format!("'{part}' is not key=value")));
            };
            if !matches!(key, "by" | "at" | "source" | "folder") {
                return Err(error(format!("unknown key '{key}'")));
            }
            if pairs.insert(key, val).is_some() {
                return Err(error(format!("key '{key}' is repeated")));
            }
        }
        let get = |key: &str| {
            pairs
                .get(key)
                .copied()
                .ok_or_else(|| error(format!("key '{key}' is missing")))
        };
        let stated_by: EHealthId = get("by")?.parse().map_err(|e| error(format!("by: {e}")))?;
        let stated_at =
            UtcTimestamp::from_basic_iso(get("at")?).map_err(|e| error(format!("at: {e}")))?;
        let source = match (get("source")?, pairs.get("folder")) {
            ("api", None) => StatementSource::Api,
            ("sidecar", None) => StatementSource::Sidecar,
            ("folder-default", Some(encoded)) => {
                let path = percent_decode(encoded).ok_or_else(|| {
                    error("folder is not canonically percent-encoded UTF-8".into())
                })?;
                let folder = DropFolderPath::new(Path::new(&path))
                    .map_err(|e| error(format!("folder: {e}")))?;
                StatementSource::FolderDefault { folder }
            }
            ("folder-default", None) => {
                return Err(error("source folder-default needs a folder".into()));
            }
            ("api" | "sidecar", Some(_)) => {
                return Err(error("only source folder-default has a folder".into()));
            }
            (other, _) => return Err(error(format!("unknown source '{other}'"))),
        };
        Ok(PatientInformedStatement {
            stated_by,
            stated_at,
            source,
        })
    }
}

fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'/')
}

fn percent_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for &byte in text.as_bytes() {
        if is_unreserved(byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// Decodes `%XX` escapes; `None` unless the input is exactly what
/// [`percent_encode`] makes of the decoded text.
fn percent_decode(encoded: &str) -> Option<String> {
    let bytes = encoded.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = encoded.get(i + 1..i + 3)?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    let text = String::from_utf8(decoded).ok()?;
    (percent_encode(&text) == encoded).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> UtcTimestamp {
        "2026-11-28T10:00:00Z".parse().unwrap()
    }

    fn by() -> EHealthId {
        "2854201475".parse().unwrap()
    }

    #[test]
    fn wire_form_of_each_source() {
        let api = PatientInformedStatement::new(by(), at(), StatementSource::Api);
        assert_eq!(
            api.to_wire(),
            "informed-and-agrees;by=2854201475;at=20261128T100000Z;source=api"
        );
        let folder = DropFolderPath::new(Path::new("/srv/dsp drop/médecine;x")).unwrap();
        let default =
            PatientInformedStatement::new(by(), at(), StatementSource::FolderDefault { folder });
        assert_eq!(
            default.to_wire(),
            "informed-and-agrees;by=2854201475;at=20261128T100000Z;source=folder-default;folder=/srv/dsp%20drop/m%C3%A9decine%3Bx"
        );
        let sidecar = PatientInformedStatement::new(by(), at(), StatementSource::Sidecar);
        for statement in [api, default, sidecar] {
            assert_eq!(
                PatientInformedStatement::from_wire(&statement.to_wire()),
                Ok(statement)
            );
        }
    }

    #[test]
    fn the_longest_statement_fits_one_slot_value() {
        // 1 + 26 × 6 + 3 = 160 characters once encoded.
        let longest_path = format!("/{}abc", "é".repeat(26));
        let folder = DropFolderPath::new(Path::new(&longest_path)).unwrap();
        let statement = PatientInformedStatement::new(
            "A".repeat(20).parse().unwrap(),
            at(),
            StatementSource::FolderDefault { folder },
        );
        let wire = statement.to_wire();
        assert!(wire.len() <= 256, "{} characters", wire.len());
        assert_eq!(PatientInformedStatement::from_wire(&wire), Ok(statement));
        let too_long = format!("/{}", "a".repeat(DropFolderPath::MAX_ENCODED_LEN));
        assert!(matches!(
            DropFolderPath::new(Path::new(&too_long)),
            Err(DropFolderPathError::TooLong {
                encoded_length: 161,
                ..
            })
        ));
        assert!(matches!(
            DropFolderPath::new(Path::new("relative/dir")),
            Err(DropFolderPathError::NotAbsolute { .. })
        ));
    }

    #[test]
    fn keys_may_come_in_any_order() {
        let statement = PatientInformedStatement::from_wire(
            "informed-and-agrees;source=sidecar;at=20261128T100000Z;by=2854201475",
        )
        .unwrap();
        assert_eq!(statement.source(), &StatementSource::Sidecar);
        assert_eq!(statement.stated_by(), &by());
    }

    #[test]
    fn malformed_wire_forms_are_refused_with_the_reason() {
        let cases = [
            (
                "informed;by=2854201475;at=20261128T100000Z;source=api",
                "does not start",
            ),
            (
                "informed-and-agrees;by=2854201475;at=20261128T100000Z",
                "'source' is missing",
            ),
            (
                "informed-and-agrees;by=2854201475;by=2854201475;at=20261128T100000Z;source=api",
                "repeated",
            ),
            (
                "informed-and-agrees;by=2854201475;at=20261128T100000Z;source=api;x=1",
                "unknown key",
            ),
            (
                "informed-and-agrees;by=2854201475;at=2026-11-28;source=api",
                "at:",
            ),
            (
                "informed-and-agrees;by=28;at=20261128T100000Z;source=api",
                "by:",
            ),
            (
                "informed-and-agrees;by=2854201475;at=20261128T100000Z;source=email",
                "unknown source",
            ),
            (
                "informed-and-agrees;by=2854201475;at=20261128T100000Z;source=folder-default",
                "needs a folder",
            ),
            (
                "informed-and-agrees;by=2854201475;at=20261128T100000Z;source=api;folder=/x",
                "only source",
            ),
            (
                "informed-and-agrees;by=2854201475;at=20261128T100000Z;source=folder-default;folder=/a%2",
                "percent",
            ),
            (
                "informed-and-agrees;by=2854201475;at=20261128T100000Z;source=folder-default;folder=/a%2f",
                "percent",
            ),
            (
                "informed-and-agrees;by=2854201475;at=20261128T100000Z;source=folder-default;folder=/a%41",
                "percent",
            ),
            (
                "informed-and-agrees;by=2854201475;at=20261128T100000Z;source=folder-default;folder=/a%FF",
                "percent",
            ),
            (
                "informed-and-agrees;by=2854201475;at=20261128T100000Z;source=folder-default;folder=rel",
                "absolute",
            ),
            (
                "informed-and-agrees;by=2854201475;at=20261128T100000Z;source",
                "key=value",
            ),
        ];
        for (wire, reason) in cases {
            let error = PatientInformedStatement::from_wire(wire).unwrap_err();
            assert!(
                error.reason.contains(reason) || error.to_string().contains(reason),
                "{wire}: {error}"
            );
        }
    }

    #[test]
    fn serde_keeps_the_source_and_folder() {
        let folder = DropFolderPath::new(Path::new("/srv/dsp")).unwrap();
        let statement =
            PatientInformedStatement::new(by(), at(), StatementSource::FolderDefault { folder });
        let json = serde_json::to_value(&statement).unwrap();
        assert_eq!(json["source"]["kind"], "folder_default");
        assert_eq!(json["source"]["folder"], "/srv/dsp");
        assert_eq!(
            serde_json::from_value::<PatientInformedStatement>(json).unwrap(),
            statement
        );
        assert!(
            serde_json::from_str::<StatementSource>(r#"{"kind":"folder_default","folder":"x"}"#)
                .is_err()
        );
    }
}
