//! The sidecar (`report.pdf.dsp.json`) and the inbox defaults
//! (`inbox/defaults.dsp.json`): what a dropped document is, mapped onto the
//! IPC push's [`PushMetadata`].

use std::path::Path;

use dspconnect::ipc::protocol::{CodeParam, PatientStatement, PushMetadata};
use dspconnect::model::{ConfidentialityMode, Matricule};
use serde::{Deserialize, Serialize};

use crate::outbox::StatementSource;

/// Suffix of a sidecar: `report.pdf` + `.dsp.json`.
pub const SIDECAR_SUFFIX: &str = ".dsp.json";
/// Name of the inbox defaults file.
pub const DEFAULTS_FILE: &str = "defaults.dsp.json";
/// Largest sidecar read (a sidecar is a few hundred bytes).
pub const MAX_SIDECAR_BYTES: u64 = 64 * 1024;

/// One sidecar. Every field of a push may be given; unknown fields are
/// refused by name (a misspelt `mode` must not silently become Normal).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sidecar {
    /// The patient's matricule (required next to a document in the drop
    /// folder itself; in `inbox/<matricule>/` it may be left out and must
    /// match when given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient: Option<String>,
    /// Default: the file name without its extension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Default: the inbox defaults', else `normal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<ConfidentialityMode>,
    /// The professional's statement that the patient was informed and
    /// agrees. Required unless `drop_folder.patient_statement_default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient_statement: Option<PatientStatement>,
    /// uniqueId of the document this one replaces (RPLC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_code: Option<CodeParam>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub type_code: Option<CodeParam>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format_code: Option<CodeParam>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub practice_setting_code: Option<CodeParam>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcare_facility_type_code: Option<CodeParam>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_start: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_stop: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comments: Option<String>,
}

/// A sidecar or defaults file that cannot be used, with the field it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SidecarProblem {
    pub field: Option<String>,
    pub message: String,
}

impl SidecarProblem {
    fn new(field: Option<&str>, message: impl Into<String>) -> SidecarProblem {
        SidecarProblem {
            field: field.map(str::to_owned),
            message: message.into(),
        }
    }
}

/// Parses a sidecar's bytes; the error names the field (or the line and
/// column of bad JSON).
pub fn parse(bytes: &[u8], name: &str) -> Result<Sidecar, SidecarProblem> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let sidecar = serde_path_to_error::deserialize::<_, Sidecar>(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let field = (path != ".").then_some(path);
        let message = if inner.is_syntax() || inner.is_eof() {
            format!("{name} is not valid JSON: {inner}")
        } else {
            format!("{name}: {inner}")
        };
        SidecarProblem { field, message }
    })?;
    de.end().map_err(|e| SidecarProblem {
        field: None,
        message: format!("{name} is not valid JSON: {e}"),
    })?;
    Ok(sidecar)
}

/// Checks an inbox defaults file: it may not name a patient, a replaced
/// document or a patient statement (a folder-wide statement is only ever
/// the explicit configuration setting).
pub fn check_defaults(d: &Sidecar) -> Result<(), SidecarProblem> {
    let refuse = |field: &str, why: &str| {
        Err(SidecarProblem::new(
            Some(field),
            format!("inbox/{DEFAULTS_FILE} may not contain '{field}': {why}"),
        ))
    };
    if d.patient.is_some() {
        return refuse("patient", "the patient is the inbox sub-folder's name");
    }
    if d.replaces.is_some() {
        return refuse(
            "replaces",
            "a replacement names one document, in its sidecar",
        );
    }
    if d.patient_statement.is_some() {
        return refuse(
            "patient_statement",
            "the statement comes with each document's sidecar, or from the setting \
             drop_folder.patient_statement_default = true",
        );
    }
    Ok(())
}

/// The extensions taken, with the type each one declares.
pub const EXTENSIONS: &[(&str, &str)] = &[
    ("pdf", "application/pdf"),
    ("xml", "text/xml"),
    ("doc", "application/msword"),
    (
        "docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    ("rtf", "application/rtf"),
    ("odt", "application/vnd.oasis.opendocument.text"),
];

/// The type an extension declares (case-insensitive), if it is taken.
pub fn mime_for(path: &Path) -> Option<&'static str> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    EXTENSIONS.iter().find(|(e, _)| *e == ext).map(|(_, m)| *m)
}

/// Everything the handoff needs, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub metadata: PushMetadata,
    pub replaces: Option<String>,
    pub statement_source: StatementSource,
}

/// Combines a document's sidecar, the inbox defaults and the folder's
/// patient (for `inbox/<matricule>/`) into a push.
pub fn resolve(
    document: &Path,
    sidecar: Option<&Sidecar>,
    defaults: Option<&Sidecar>,
    folder_patient: Option<&str>,
    statement_default: bool,
) -> Result<Resolved, SidecarProblem> {
    let empty = Sidecar::default();
    let s = sidecar.unwrap_or(&empty);
    let d = defaults.unwrap_or(&empty);
    let patient = match (&s.patient, folder_patient) {
        (Some(p), Some(folder)) => {
            let same = match (p.parse::<Matricule>(), folder.parse::<Matricule>()) {
                (Ok(a), Ok(b)) => a == b,
                _ => p.trim() == folder,
            };
            if !same {
                return Err(SidecarProblem::new(
                    Some("patient"),
                    format!(
                        "the sidecar names patient {p}, but the document is in the folder of \
                         patient {folder}: move it to the right folder or correct the sidecar"
                    ),
                ));
            }
            folder.to_owned()
        }
        (Some(p), None) => p.clone(),
        (None, Some(folder)) => folder.to_owned(),
        (None, None) => {
            return Err(SidecarProblem::new(
                Some("patient"),
                "the sidecar must give the patient's matricule (\"patient\": \"1893120105732\"), \
                 or the document must be dropped into inbox/<matricule>/",
            ));
        }
    };
    if let Err(e) = patient.parse::<Matricule>() {
        return Err(SidecarProblem::new(
            Some("patient"),
            format!("'{patient}' is not a valid matricule: {e}"),
        ));
    }
    let (patient_statement, statement_source) = match &s.patient_statement {
        Some(st) if st.informed_and_agrees => (st.clone(), StatementSource::Sidecar),
        Some(_) => {
            return Err(SidecarProblem::new(
                Some("patient_statement.informed_and_agrees"),
                "is false: the document is sent only once the patient, informed, agrees",
            ));
        }
        None if statement_default => (
            PatientStatement {
                informed_and_agrees: true,
                stated_at: None,
            },
            StatementSource::FolderDefault,
        ),
        None => {
            return Err(SidecarProblem::new(
                Some("patient_statement"),
                "missing: state that the patient was informed and agrees with \
                 \"patient_statement\": {\"informed_and_agrees\": true} in the sidecar (the \
                 folder-wide default drop_folder.patient_statement_default is off)",
            ));
        }
    };
    let title = s
        .title
        .clone()
        .or_else(|| d.title.clone())
        .or_else(|| {
            document
                .file_stem()
                .and_then(|n| n.to_str())
                .map(str::to_owned)
        })
        .unwrap_or_default();
    let pick = |a: &Option<String>, b: &Option<String>| a.clone().or_else(|| b.clone());
    let pick_code = |a: &Option<CodeParam>, b: &Option<CodeParam>| a.clone().or_else(|| b.clone());
    let mime_type =
        pick(&s.mime_type, &d.mime_type).or_else(|| mime_for(document).map(str::to_owned));
    Ok(Resolved {
        metadata: PushMetadata {
            patient,
            title,
            mode: s.mode.or(d.mode).unwrap_or(ConfidentialityMode::Normal),
            patient_statement,
            mime_type,
            class_code: pick_code(&s.class_code, &d.class_code),
            type_code: pick_code(&s.type_code, &d.type_code),
            format_code: pick_code(&s.format_code, &d.format_code),
            practice_setting_code: pick_code(&s.practice_setting_code, &d.practice_setting_code),
            healthcare_facility_type_code: pick_code(
                &s.healthcare_facility_type_code,
                &d.healthcare_facility_type_code,
            ),
            language: pick(&s.language, &d.language),
            creation_time: pick(&s.creation_time, &d.creation_time),
            service_start: pick(&s.service_start, &d.service_start),
            service_stop: pick(&s.service_stop, &d.service_stop),
            comments: pick(&s.comments, &d.comments),
        },
        replaces: s.replaces.clone(),
        statement_source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_and_bad_json_are_named() {
        let e = parse(
            br#"{"patient": "1893120105732", "colour": "red"}"#,
            "r.pdf.dsp.json",
        )
        .unwrap_err();
        assert!(e.message.contains("colour"), "{e:?}");
        let e = parse(b"{\"patient\": ", "r.pdf.dsp.json").unwrap_err();
        assert!(e.message.contains("not valid JSON"), "{e:?}");
        let e = parse(br#"{"mode": "secret"}"#, "x").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("mode"), "{e:?}");
        let e = parse(br#"{"patient_statement": {"informed": true}}"#, "x").unwrap_err();
        assert!(e.message.contains("informed"), "{e:?}");
    }

    #[test]
    fn statement_comes_from_the_sidecar_or_the_explicit_default() {
        let doc = Path::new("/d/Lettre.pdf");
        let s = parse(
            br#"{"patient": "1893120105732", "patient_statement": {"informed_and_agrees": true}}"#,
            "x",
        )
        .unwrap();
        let r = resolve(doc, Some(&s), None, None, false).unwrap();
        assert_eq!(r.statement_source, StatementSource::Sidecar);
        assert_eq!(r.metadata.title, "Lettre");
        assert_eq!(r.metadata.mime_type.as_deref(), Some("application/pdf"));
        let bare = parse(br#"{"patient": "1893120105732"}"#, "x").unwrap();
        let e = resolve(doc, Some(&bare), None, None, false).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("patient_statement"));
        let r = resolve(doc, Some(&bare), None, None, true).unwrap();
        assert_eq!(r.statement_source, StatementSource::FolderDefault);
        let r = resolve(doc, None, None, Some("1893120105732"), true).unwrap();
        assert_eq!(r.metadata.patient, "1893120105732");
        let e = resolve(doc, Some(&bare), None, Some("1234567890123"), true).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("patient"));
    }
}
