//! The document metadata a job carries: the caller's [`PushMetadata`]
//! checked and completed with the platform profile's defaults and code
//! table, fixed at enqueue (what the user pushed is what is sent, whatever
//! the profile says later).

use dspconnect::ipc::protocol::{CodeParam, PushMetadata};
use dspconnect::model::{Code, ConfidentialityCodeTable, ConfidentialityMode, Matricule};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::error::OutboxError;
use crate::config::{DocumentDefaults, PlatformProfile};

/// What enqueue needs from the platform profile, snapshotted by the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolveContext {
    pub codes: ConfidentialityCodeTable,
    pub defaults: DocumentDefaults,
    pub unique_id_root: Option<String>,
}

impl ResolveContext {
    pub fn from_profile(profile: &PlatformProfile) -> ResolveContext {
        ResolveContext {
            codes: profile.confidentiality_codes.clone(),
            defaults: profile.defaults.clone(),
            unique_id_root: profile.unique_id_root.clone(),
        }
    }
}

/// The metadata of a job, complete.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentMetadata {
    /// The patient's matricule.
    pub patient: String,
    pub title: String,
    pub mode: ConfidentialityMode,
    /// The mode's code in the profile's table at enqueue.
    pub confidentiality_code: Code,
    pub mime_type: String,
    pub class_code: Code,
    pub type_code: Code,
    pub format_code: Code,
    pub practice_setting_code: Code,
    pub healthcare_facility_type_code: Code,
    pub language: String,
    #[serde(with = "time::serde::rfc3339")]
    pub creation_time: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub service_start: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub service_stop: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comments: Option<String>,
    /// When the patient, informed, agreed (charter: « Obtenir
    /// l'approbation du patient, dûment averti »). A job exists only with it.
    #[serde(with = "time::serde::rfc3339")]
    pub patient_informed_at: OffsetDateTime,
}

/// The document types the DSP takes (DESIGN.md: PDF/A and CDA; DOC, DOCX,
/// RTF and ODT are converted by the platform).
pub const ACCEPTED_MIME_TYPES: &[&str] = &[
    "application/pdf",
    "text/xml",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/rtf",
    "application/vnd.oasis.opendocument.text",
];

/// Bytes of the content's start kept for recognising its type.
pub const SNIFF_BYTES: usize = 512;

/// The metadata checked before any content is copied (so that a bad
/// request fails before a large copy); the type is decided after.
#[derive(Debug, Clone)]
pub(crate) struct CheckedMetadata {
    partial: DocumentMetadata,
    declared_mime: Option<String>,
}

const MAX_TITLE_CHARS: usize = 256;
const MAX_COMMENTS_CHARS: usize = 4096;

/// Checks `push` and completes it from `context`; `now` is used for the
/// times the caller left out.
pub(crate) fn check(
    push: &PushMetadata,
    context: &ResolveContext,
    now: OffsetDateTime,
) -> Result<CheckedMetadata, OutboxError> {
    let patient = check_matricule(&push.patient)?;
    let title = push.title.trim();
    if title.is_empty() || title.chars().count() > MAX_TITLE_CHARS || has_control(title) {
        return Err(bad(
            "metadata.title",
            format!("must be 1 to {MAX_TITLE_CHARS} characters, without control characters"),
        ));
    }
    if !push.patient_statement.informed_and_agrees {
        return Err(OutboxError::MissingPatientStatement);
    }
    let patient_informed_at = optional_time(
        "metadata.patient_statement.stated_at",
        &push.patient_statement.stated_at,
    )?
    .unwrap_or(now);
    if patient_informed_at > now + time::Duration::minutes(5) {
        return Err(bad(
            "metadata.patient_statement.stated_at",
            "is in the future".to_owned(),
        ));
    }
    let creation_time =
        optional_time("metadata.creation_time", &push.creation_time)?.unwrap_or(now);
    let service_start = optional_time("metadata.service_start", &push.service_start)?;
    let service_stop = optional_time("metadata.service_stop", &push.service_stop)?;
    if let (Some(start), Some(stop)) = (service_start, service_stop)
        && stop < start
    {
        return Err(bad(
            "metadata.service_stop",
            "is before metadata.service_start".to_owned(),
        ));
    }
    let comments = match &push.comments {
        Some(c) if c.chars().count() > MAX_COMMENTS_CHARS => {
            return Err(bad(
                "metadata.comments",
                format!("must be at most {MAX_COMMENTS_CHARS} characters"),
            ));
        }
        Some(c) if c.trim().is_empty() => None,
        other => other.clone(),
    };
    let d = &context.defaults;
    let language = match (&push.language, &d.language) {
        (Some(l), _) | (None, Some(l)) => l.clone(),
        (None, None) => {
            return Err(bad(
                "metadata.language",
                "missing, and the platform profile has no default (platform.defaults.language)"
                    .to_owned(),
            ));
        }
    };
    if !crate::config::is_language_tag(&language) {
        return Err(bad(
            "metadata.language",
            format!("'{language}' is not a language tag such as fr-LU"),
        ));
    }
    let declared_mime = push
        .mime_type
        .as_ref()
        .map(|m| m.trim().to_ascii_lowercase());
    if let Some(m) = &declared_mime
        && !ACCEPTED_MIME_TYPES.contains(&m.as_str())
    {
        return Err(OutboxError::UnsupportedMimeType(format!(
            "metadata.mime_type '{m}' is not a type the DSP takes: send one of {}",
            ACCEPTED_MIME_TYPES.join(", ")
        )));
    }
    Ok(CheckedMetadata {
        partial: DocumentMetadata {
            patient,
            title: title.to_owned(),
            mode: push.mode,
            confidentiality_code: context.codes.code_for(push.mode).clone(),
            mime_type: String::new(),
            class_code: code("class_code", &push.class_code, &d.class_code)?,
            type_code: code("type_code", &push.type_code, &d.type_code)?,
            format_code: code("format_code", &push.format_code, &d.format_code)?,
            practice_setting_code: code(
                "practice_setting_code",
                &push.practice_setting_code,
                &d.practice_setting_code,
            )?,
            healthcare_facility_type_code: code(
                "healthcare_facility_type_code",
                &push.healthcare_facility_type_code,
                &d.healthcare_facility_type_code,
            )?,
            language,
            creation_time,
            service_start,
            service_stop,
            comments,
            patient_informed_at,
        },
        declared_mime,
    })
}

impl CheckedMetadata {
    /// Decides the type from the declared one and the content's start.
    pub(crate) fn finish(self, head: &[u8]) -> Result<DocumentMetadata, OutboxError> {
        let sniffed = sniff(head);
        let mime_type = match (self.declared_mime, sniffed) {
            (Some(declared), Some(found)) if declared != found && found == "application/pdf" => {
                return Err(bad(
                    "metadata.mime_type",
                    format!("says {declared}, but the content is a PDF"),
                ));
            }
            (Some(declared), _) if declared == "application/pdf" && sniffed.is_none() => {
                return Err(bad(
                    "metadata.mime_type",
                    "says application/pdf, but the content does not start as a PDF (%PDF-)"
                        .to_owned(),
                ));
            }
            (Some(declared), _) => declared,
            (None, Some(found)) => found.to_owned(),
            (None, None) => {
                return Err(OutboxError::UnsupportedMimeType(format!(
                    "the document's type is not recognised from its content; give \
                     metadata.mime_type (one of {})",
                    ACCEPTED_MIME_TYPES.join(", ")
                )));
            }
        };
        Ok(DocumentMetadata {
            mime_type,
            ..self.partial
        })
    }
}

/// The type a document's first bytes show, when they show one.
pub fn sniff(head: &[u8]) -> Option<&'static str> {
    let trimmed = head
        .strip_prefix(b"\xEF\xBB\xBF")
        .unwrap_or(head)
        .trim_ascii_start();
    if head.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else if trimmed.starts_with(b"<?xml") || trimmed.starts_with(b"<ClinicalDocument") {
        Some("text/xml")
    } else if head.starts_with(b"{\\rtf") {
        Some("application/rtf")
    } else if head.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        Some("application/msword")
    } else if head.starts_with(b"PK\x03\x04")
        && head.get(30..).is_some_and(|rest| {
            rest.starts_with(b"mimetypeapplication/vnd.oasis.opendocument.text")
        })
    {
        // ODF puts an uncompressed `mimetype` entry first.
        Some("application/vnd.oasis.opendocument.text")
    } else {
        // A DOCX is a zip like many others: it must be declared.
        None
    }
}

/// The matricule in its canonical digits (all checks of
/// [`Matricule`]: length, date, Luhn and Verhoeff or the legacy mod-11).
fn check_matricule(s: &str) -> Result<String, OutboxError> {
    s.parse::<Matricule>()
        .map(|m| m.to_string())
        .map_err(OutboxError::BadMatricule)
}

fn code(
    name: &'static str,
    given: &Option<CodeParam>,
    default: &Option<Code>,
) -> Result<Code, OutboxError> {
    let field = field_name(name);
    match (given, default) {
        // A caller may leave the display name out: the code then names itself.
        (Some(p), _) => Code::new(
            p.code.clone(),
            p.scheme.clone(),
            p.display.clone().unwrap_or_else(|| p.code.clone()),
        )
        .map_err(|e| bad(field, e.to_string())),
        (None, Some(d)) => Ok(d.clone()),
        (None, None) => Err(bad(
            field,
            format!("missing, and the platform profile has no default (platform.defaults.{name})"),
        )),
    }
}

fn field_name(name: &'static str) -> &'static str {
    match name {
        "class_code" => "metadata.class_code",
        "type_code" => "metadata.type_code",
        "format_code" => "metadata.format_code",
        "practice_setting_code" => "metadata.practice_setting_code",
        _ => "metadata.healthcare_facility_type_code",
    }
}

fn optional_time(
    field: &'static str,
    value: &Option<String>,
) -> Result<Option<OffsetDateTime>, OutboxError> {
    value
        .as_deref()
        .map(|v| {
            OffsetDateTime::parse(v, &Rfc3339).map_err(|_| {
                bad(
                    field,
                    format!("'{v}' is not an RFC 3339 time such as 2026-03-01T10:30:00+01:00"),
                )
            })
        })
        .transpose()
}

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

fn bad(field: &'static str, problem: String) -> OutboxError {
    OutboxError::BadMetadata { field, problem }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dspconnect::ErrorCode;
    use dspconnect::ipc::protocol::PatientStatement;

    fn context() -> ResolveContext {
        ResolveContext {
            codes: ConfidentialityCodeTable::sandbox(),
            defaults: DocumentDefaults::sandbox(),
            unique_id_root: None,
        }
    }

    pub(crate) fn push(patient: &str) -> PushMetadata {
        PushMetadata {
            patient: patient.into(),
            title: "Lettre de sortie".into(),
            mode: ConfidentialityMode::Restreint,
            patient_statement: PatientStatement {
                informed_and_agrees: true,
                stated_at: None,
            },
            mime_type: None,
            class_code: None,
            type_code: None,
            format_code: None,
            practice_setting_code: None,
            healthcare_facility_type_code: None,
            language: None,
            creation_time: None,
            service_start: None,
            service_stop: None,
            comments: None,
        }
    }

    fn code_of(r: Result<CheckedMetadata, OutboxError>) -> (ErrorCode, Option<&'static str>) {
        let e = r.unwrap_err();
        (e.code(), e.field())
    }

    #[test]
    fn defaults_fill_what_is_absent() {
        let now = OffsetDateTime::now_utc();
        let m = check(&push("1893120105732"), &context(), now)
            .unwrap()
            .finish(b"%PDF-1.7\n")
            .unwrap();
        assert_eq!(m.mime_type, "application/pdf");
        assert_eq!(m.confidentiality_code.code(), "R");
        assert_eq!(m.language, "fr-LU");
        assert_eq!(
            m.class_code,
            DocumentDefaults::sandbox().class_code.unwrap()
        );
        assert_eq!(m.creation_time, now);
        assert_eq!(m.patient_informed_at, now);
    }

    #[test]
    fn each_bad_field_is_named() {
        let now = OffsetDateTime::now_utc();
        let ctx = context();
        assert_eq!(
            code_of(check(&push("12345"), &ctx, now)),
            (ErrorCode::BadMatricule, Some("metadata.patient"))
        );
        let mut p = push("1893120105732");
        p.patient_statement.informed_and_agrees = false;
        assert_eq!(
            code_of(check(&p, &ctx, now)),
            (
                ErrorCode::MissingPatientStatement,
                Some("metadata.patient_statement")
            )
        );
        let mut p = push("1893120105732");
        p.title = " ".into();
        assert_eq!(
            code_of(check(&p, &ctx, now)),
            (ErrorCode::BadMetadata, Some("metadata.title"))
        );
        let mut p = push("1893120105732");
        p.creation_time = Some("yesterday".into());
        assert_eq!(
            code_of(check(&p, &ctx, now)),
            (ErrorCode::BadMetadata, Some("metadata.creation_time"))
        );
        let mut p = push("1893120105732");
        p.mime_type = Some("image/png".into());
        assert_eq!(
            code_of(check(&p, &ctx, now)),
            (ErrorCode::UnsupportedMimeType, Some("metadata.mime_type"))
        );
        let mut no_defaults = ctx.clone();
        no_defaults.defaults.type_code = None;
        assert_eq!(
            code_of(check(&push("1893120105732"), &no_defaults, now)),
            (ErrorCode::BadMetadata, Some("metadata.type_code"))
        );
    }

    #[test]
    fn the_type_comes_from_the_content_or_the_caller() {
        let now = OffsetDateTime::now_utc();
        let checked = || check(&push("1893120105732"), &context(), now).unwrap();
        assert_eq!(
            checked()
                .finish(b"\xEF\xBB\xBF  <?xml version=\"1.0\"?><ClinicalDocument/>")
                .unwrap()
                .mime_type,
            "text/xml"
        );
        let err = checked().finish(b"GIF89a").unwrap_err();
        assert_eq!(err.code(), ErrorCode::UnsupportedMimeType);
        let mut p = push("1893120105732");
        p.mime_type = Some("application/pdf".into());
        let err = check(&p, &context(), now)
            .unwrap()
            .finish(b"hello")
            .unwrap_err();
        assert_eq!(err.field(), Some("metadata.mime_type"));
        p.mime_type =
            Some("application/vnd.openxmlformats-officedocument.wordprocessingml.document".into());
        let m = check(&p, &context(), now)
            .unwrap()
            .finish(b"PK\x03\x04rest")
            .unwrap();
        assert!(m.mime_type.ends_with("wordprocessingml.document"));
    }
}
