//! The metadata of a document submitted to the DSP (an XDS DocumentEntry).

use std::fmt;

use super::code::Code;
use super::hash::Sha1Hash;
use super::language::LanguageCode;
use super::matricule::Matricule;
use super::mime::MimeType;
use super::mode::ConfidentialityMode;
use super::oid::DocumentUniqueId;
use super::professional::Author;
use super::timestamp::UtcTimestamp;

/// Everything the registry records about one document, validated.
///
/// Build it with [`DocumentMetadata::builder`] (or deserialize it: the same
/// checks run). Field names are those of the IPC and config (snake case);
/// the matching XDS attribute is named in each getter's documentation.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "DocumentMetadataFields")]
pub struct DocumentMetadata {
    title: String,
    class_code: Code,
    type_code: Code,
    format_code: Code,
    practice_setting_code: Code,
    healthcare_facility_type_code: Code,
    mime_type: MimeType,
    language_code: LanguageCode,
    creation_time: UtcTimestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    service_start_time: Option<UtcTimestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    service_stop_time: Option<UtcTimestamp>,
    author: Author,
    patient: Matricule,
    confidentiality: ConfidentialityMode,
    unique_id: DocumentUniqueId,
    hash: Sha1Hash,
    size: u64,
}

/// The fields of a [`DocumentMetadata`] before the checks that span
/// fields (title, service period, size); each field's own type has already
/// validated it.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)] // Documented on the DocumentMetadata getters.
pub struct DocumentMetadataFields {
    pub title: String,
    pub class_code: Code,
    pub type_code: Code,
    pub format_code: Code,
    pub practice_setting_code: Code,
    pub healthcare_facility_type_code: Code,
    pub mime_type: MimeType,
    pub language_code: LanguageCode,
    pub creation_time: UtcTimestamp,
    #[serde(default)]
    pub service_start_time: Option<UtcTimestamp>,
    #[serde(default)]
    pub service_stop_time: Option<UtcTimestamp>,
    pub author: Author,
    pub patient: Matricule,
    pub confidentiality: ConfidentialityMode,
    pub unique_id: DocumentUniqueId,
    pub hash: Sha1Hash,
    pub size: u64,
}

/// One problem with one field of a document's metadata.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    /// A required field was not given.
    #[error("{field} is missing: {expected}")]
    Missing {
        /// The field (IPC name).
        field: &'static str,
        /// What to give.
        expected: &'static str,
    },
    /// A field was given but is wrong.
    #[error("{field} is invalid: {reason}")]
    Invalid {
        /// The field (IPC name).
        field: &'static str,
        /// What is wrong and what is expected.
        reason: String,
    },
}

impl FieldError {
    /// The field concerned.
    pub fn field(&self) -> &'static str {
        match self {
            FieldError::Missing { field, .. } | FieldError::Invalid { field, .. } => field,
        }
    }
}

/// Every problem found in a document's metadata (at least one).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct MetadataError {
    /// The problems, in field order.
    pub problems: Vec<FieldError>,
}

impl fmt::Display for MetadataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("document metadata: ")?;
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

/// Longest title, in UTF-8 bytes (IHE ITI TF-3 limits `title` to 128).
pub const MAX_TITLE_BYTES: usize = 128;

const TITLE_EXPECTED: &str = "a short title such as 'Lettre de sortie'";

fn check_title(title: &str) -> Result<String, FieldError> {
    let invalid = |reason: String| FieldError::Invalid {
        field: "title",
        reason,
    };
    let trimmed = title.trim();
    if trimmed.is_empty() {
        return Err(FieldError::Missing {
            field: "title",
            expected: TITLE_EXPECTED,
        });
    }
    if trimmed.chars().any(char::is_control) {
        return Err(invalid(
            "it contains a control character (tab, newline, …); use one line of text".into(),
        ));
    }
    if trimmed.len() > MAX_TITLE_BYTES {
        return Err(invalid(format!(
            "it is {} bytes long in UTF-8; XDS allows at most {MAX_TITLE_BYTES}",
            trimmed.len()
        )));
    }
    Ok(trimmed.to_owned())
}

impl DocumentMetadata {
    /// A builder with no field set.
    pub fn builder() -> DocumentMetadataBuilder {
        DocumentMetadataBuilder::default()
    }

    /// Runs the checks that span fields (title, service period, size) on
    /// fields whose own types are already valid, and builds the metadata.
    pub fn from_fields(fields: DocumentMetadataFields) -> Result<DocumentMetadata, MetadataError> {
        let mut builder = DocumentMetadata::builder()
            .title(fields.title)
            .class_code(fields.class_code)
            .type_code(fields.type_code)
            .format_code(fields.format_code)
            .practice_setting_code(fields.practice_setting_code)
            .healthcare_facility_type_code(fields.healthcare_facility_type_code)
            .mime_type(fields.mime_type)
            .language_code(fields.language_code)
            .creation_time(fields.creation_time)
            .author(fields.author)
            .patient(fields.patient)
            .confidentiality(fields.confidentiality)
            .unique_id(fields.unique_id)
            .hash(fields.hash)
            .size(fields.size);
        builder.service_start_time = fields.service_start_time;
        builder.service_stop_time = fields.service_stop_time;
        builder.build()
    }

    /// `title`.
    pub fn title(&self) -> &str {
        &self.title
    }
    /// `classCode`: the kind of document at the broadest level.
    pub fn class_code(&self) -> &Code {
        &self.class_code
    }
    /// `typeCode`: the precise kind of document.
    pub fn type_code(&self) -> &Code {
        &self.type_code
    }
    /// `formatCode`: the document's technical format profile.
    pub fn format_code(&self) -> &Code {
        &self.format_code
    }
    /// `practiceSettingCode`: the clinical specialty of the care.
    pub fn practice_setting_code(&self) -> &Code {
        &self.practice_setting_code
    }
    /// `healthcareFacilityTypeCode`: where the care took place.
    pub fn healthcare_facility_type_code(&self) -> &Code {
        &self.healthcare_facility_type_code
    }
    /// `mimeType`.
    pub fn mime_type(&self) -> MimeType {
        self.mime_type
    }
    /// `languageCode`.
    pub fn language_code(&self) -> &LanguageCode {
        &self.language_code
    }
    /// `creationTime`: when the document was written.
    pub fn creation_time(&self) -> UtcTimestamp {
        self.creation_time
    }
    /// `serviceStartTime`: when the care it reports started.
    pub fn service_start_time(&self) -> Option<UtcTimestamp> {
        self.service_start_time
    }
    /// `serviceStopTime`: when the care it reports ended.
    pub fn service_stop_time(&self) -> Option<UtcTimestamp> {
        self.service_stop_time
    }
    /// `author`: the submitting professional.
    pub fn author(&self) -> &Author {
        &self.author
    }
    /// `patientId`: the patient's matricule.
    pub fn patient(&self) -> &Matricule {
        &self.patient
    }
    /// `confidentialityCode`, as the charter's mode (the wire code comes
    /// from the platform profile's [`ConfidentialityCodeTable`](super::ConfidentialityCodeTable)).
    pub fn confidentiality(&self) -> ConfidentialityMode {
        self.confidentiality
    }
    /// `uniqueId`.
    pub fn unique_id(&self) -> &DocumentUniqueId {
        &self.unique_id
    }
    /// `hash`: SHA-1 of the document bytes.
    pub fn hash(&self) -> Sha1Hash {
        self.hash
    }
    /// `size`: the document's length in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }
}

impl TryFrom<DocumentMetadataFields> for DocumentMetadata {
    type Error = MetadataError;
    fn try_from(fields: DocumentMetadataFields) -> Result<Self, Self::Error> {
        DocumentMetadata::from_fields(fields)
    }
}

/// A value given to the builder: the typed value, or why it could not be
/// converted.
type Given<T> = Option<Result<T, String>>;

fn convert<T, V>(value: V) -> Result<T, String>
where
    V: TryInto<T>,
    V::Error: fmt::Display,
{
    value.try_into().map_err(|e| e.to_string())
}

/// Collects a document's metadata field by field; [`build`](Self::build)
/// reports every missing or invalid field at once, each by name.
///
/// Setters for text-like fields take either the typed value or a `&str`
/// (`mime_type(MimeType::Pdf)` or `mime_type("application/pdf")`); a text
/// that does not convert is reported by `build` under the field's name.
#[derive(Clone, Debug, Default)]
pub struct DocumentMetadataBuilder {
    title: Option<String>,
    class_code: Option<Code>,
    type_code: Option<Code>,
    format_code: Option<Code>,
    practice_setting_code: Option<Code>,
    healthcare_facility_type_code: Option<Code>,
    mime_type: Given<MimeType>,
    language_code: Given<LanguageCode>,
    creation_time: Option<UtcTimestamp>,
    service_start_time: Option<UtcTimestamp>,
    service_stop_time: Option<UtcTimestamp>,
    author: Option<Author>,
    patient: Given<Matricule>,
    confidentiality: Option<ConfidentialityMode>,
    unique_id: Given<DocumentUniqueId>,
    hash: Given<Sha1Hash>,
    size: Option<u64>,
}

impl DocumentMetadataBuilder {
    /// `title` (required).
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }
    /// `class_code` (required).
    pub fn class_code(mut self, code: Code) -> Self {
        self.class_code = Some(code);
        self
    }
    /// `type_code` (required).
    pub fn type_code(mut self, code: Code) -> Self {
        self.type_code = Some(code);
        self
    }
    /// `format_code` (required).
    pub fn format_code(mut self, code: Code) -> Self {
        self.format_code = Some(code);
        self
    }
    /// `practice_setting_code` (required).
    pub fn practice_setting_code(mut self, code: Code) -> Self {
        self.practice_setting_code = Some(code);
        self
    }
    /// `healthcare_facility_type_code` (required).
    pub fn healthcare_facility_type_code(mut self, code: Code) -> Self {
        self.healthcare_facility_type_code = Some(code);
        self
    }
    /// `mime_type` (required).
    pub fn mime_type<V: TryInto<MimeType>>(mut self, value: V) -> Self
    where
        V::Error: fmt::Display,
    {
        self.mime_type = Some(convert(value));
        self
    }
    /// `language_code` (required).
    pub fn language_code<V: TryInto<LanguageCode>>(mut self, value: V) -> Self
    where
        V::Error: fmt::Display,
    {
        self.language_code = Some(convert(value));
        self
    }
    /// `creation_time` (required).
    pub fn creation_time(mut self, at: impl Into<UtcTimestamp>) -> Self {
        self.creation_time = Some(at.into());
        self
    }
    /// `service_start_time` (optional).
    pub fn service_start_time(mut self, at: impl Into<UtcTimestamp>) -> Self {
        self.service_start_time = Some(at.into());
        self
    }
    /// `service_stop_time` (optional; not before the start).
    pub fn service_stop_time(mut self, at: impl Into<UtcTimestamp>) -> Self {
        self.service_stop_time = Some(at.into());
        self
    }
    /// `author` (required).
    pub fn author(mut self, author: Author) -> Self {
        self.author = Some(author);
        self
    }
    /// `patient` (required).
    pub fn patient<V: TryInto<Matricule>>(mut self, value: V) -> Self
    where
        V::Error: fmt::Display,
    {
        self.patient = Some(convert(value));
        self
    }
    /// `confidentiality` (required: the professional chooses the mode
    /// with the patient; there is no silent default).
    pub fn confidentiality(mut self, mode: ConfidentialityMode) -> Self {
        self.confidentiality = Some(mode);
        self
    }
    /// `unique_id` (required; see [`UniqueIdGenerator`](super::UniqueIdGenerator)).
    pub fn unique_id<V: TryInto<DocumentUniqueId>>(mut self, value: V) -> Self
    where
        V::Error: fmt::Display,
    {
        self.unique_id = Some(convert(value));
        self
    }
    /// `hash` (required).
    pub fn hash<V: TryInto<Sha1Hash>>(mut self, value: V) -> Self
    where
        V::Error: fmt::Display,
    {
        self.hash = Some(convert(value));
        self
    }
    /// `size` in bytes (required).
    pub fn size(mut self, size: u64) -> Self {
        self.size = Some(size);
        self
    }

    /// Checks every field and builds the metadata, or lists every problem
    /// in field order.
    pub fn build(self) -> Result<DocumentMetadata, MetadataError> {
        const CODE: &str = "a Code (code, coding_scheme, display_name)";
        let mut problems = Vec::new();
        let p = &mut problems;
        let title = match self.title.as_deref().map(check_title) {
            Some(Ok(title)) => Some(title),
            Some(Err(problem)) => {
                p.push(problem);
                None
            }
            None => required(p, "title", TITLE_EXPECTED, None),
        };
        let class_code = required(p, "class_code", CODE, self.class_code);
        let type_code = required(p, "type_code", CODE, self.type_code);
        let format_code = required(p, "format_code", CODE, self.format_code);
        let practice_setting_code =
            required(p, "practice_setting_code", CODE, self.practice_setting_code);
        let healthcare_facility_type_code = required(
            p,
            "healthcare_facility_type_code",
            CODE,
            self.healthcare_facility_type_code,
        );
        let mime_type = given(p, "mime_type", "e.g. application/pdf", self.mime_type);
        let language_code = given(p, "language_code", "e.g. fr-LU", self.language_code);
        let creation_time = required(
            p,
            "creation_time",
            "when the document was written (UTC)",
            self.creation_time,
        );
        if let (Some(start), Some(stop)) = (self.service_start_time, self.service_stop_time)
            && stop < start
        {
            p.push(FieldError::Invalid {
                field: "service_stop_time",
                reason: format!("it ({stop}) is before service_start_time ({start})"),
            });
        }
        let author = required(
            p,
            "author",
            "the submitting professional (eHealth id and name)",
            self.author,
        );
        let patient = given(
            p,
            "patient",
            "the patient's 13-digit matricule",
            self.patient,
        );
        let confidentiality = required(
            p,
            "confidentiality",
            "the mode chosen with the patient: normal, restreint, prive or visite_annonce",
            self.confidentiality,
        );
        let unique_id = given(
            p,
            "unique_id",
            "an OID from the UniqueIdGenerator",
            self.unique_id,
        );
        let hash = given(
            p,
            "hash",
            "the SHA-1 of the document, 40 hex digits",
            self.hash,
        );
        let size = match self.size {
            Some(0) => {
                p.push(FieldError::Invalid {
                    field: "size",
                    reason: "the document is empty (0 bytes); submit a document with content"
                        .into(),
                });
                None
            }
            size => required(p, "size", "the document's length in bytes", size),
        };

        let (
            Some(title),
            Some(class_code),
            Some(type_code),
            Some(format_code),
            Some(practice_setting_code),
            Some(healthcare_facility_type_code),
            Some(mime_type),
            Some(language_code),
            Some(creation_time),
            Some(author),
            Some(patient),
            Some(confidentiality),
            Some(unique_id),
            Some(hash),
            Some(size),
        ) = (
            title,
            class_code,
            type_code,
            format_code,
            practice_setting_code,
            healthcare_facility_type_code,
            mime_type,
            language_code,
            creation_time,
            author,
            patient,
            confidentiality,
            unique_id,
            hash,
            size,
        )
        else {
            // Every `None` above recorded its problem.
            return Err(MetadataError { problems });
        };
        if !problems.is_empty() {
            return Err(MetadataError { problems });
        }
        Ok(DocumentMetadata {
            title,
            class_code,
            type_code,
            format_code,
            practice_setting_code,
            healthcare_facility_type_code,
            mime_type,
            language_code,
            creation_time,
            service_start_time: self.service_start_time,
            service_stop_time: self.service_stop_time,
            author,
            patient,
            confidentiality,
            unique_id,
            hash,
            size,
        })
    }
}

/// `value`, or records that the field is missing.
fn required<T>(
    problems: &mut Vec<FieldError>,
    field: &'static str,
    expected: &'static str,
    value: Option<T>,
) -> Option<T> {
    if value.is_none() {
        problems.push(FieldError::Missing { field, expected });
    }
    value
}

/// The converted value, or records that the field is missing or invalid.
fn given<T>(
    problems: &mut Vec<FieldError>,
    field: &'static str,
    expected: &'static str,
    value: Given<T>,
) -> Option<T> {
    match required(problems, field, expected, value)? {
        Ok(value) => Some(value),
        Err(reason) => {
            problems.push(FieldError::Invalid { field, reason });
            None
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::professional::PersonName;

    pub(crate) fn code(code: &str) -> Code {
        Code::new(code, "1.3.6.1.4.1.99999.2", format!("display of {code}")).unwrap()
    }

    pub(crate) fn author() -> Author {
        Author::new(
            "2854201475".parse().unwrap(),
            PersonName::new("Anne", "Muller").unwrap(),
        )
    }

    pub(crate) fn complete() -> DocumentMetadataBuilder {
        DocumentMetadata::builder()
            .title("Lettre de sortie")
            .class_code(code("REPORTS"))
            .type_code(code("34105-7"))
            .format_code(code("urn:ihe:iti:xds:2017:mimeTypeSufficient"))
            .practice_setting_code(code("GEN"))
            .healthcare_facility_type_code(code("HOSP"))
            .mime_type("application/pdf")
            .language_code("fr-LU")
            .creation_time("2026-11-28T10:00:00Z".parse::<UtcTimestamp>().unwrap())
            .author(author())
            .patient("1893120105732")
            .confidentiality(ConfidentialityMode::Normal)
            .unique_id("1.3.6.1.4.1.99999.1.20261128100000.123456789012345678")
            .hash("a9993e364706816aba3e25717850c26c9cd0d89d")
            .size(1234)
    }

    #[test]
    fn a_complete_builder_builds() {
        let metadata = complete().build().unwrap();
        assert_eq!(metadata.title(), "Lettre de sortie");
        assert_eq!(metadata.mime_type(), MimeType::Pdf);
        assert_eq!(metadata.patient().to_string(), "1893120105732");
        assert_eq!(metadata.language_code().as_str(), "fr-LU");
        assert_eq!(metadata.size(), 1234);
        assert_eq!(metadata.service_start_time(), None);
    }

    #[test]
    fn missing_fields_are_all_named() {
        let error = DocumentMetadata::builder().title("x").build().unwrap_err();
        let fields: Vec<&str> = error.problems.iter().map(FieldError::field).collect();
        assert_eq!(
            fields,
            [
                "class_code",
                "type_code",
                "format_code",
                "practice_setting_code",
                "healthcare_facility_type_code",
                "mime_type",
                "language_code",
                "creation_time",
                "author",
                "patient",
                "confidentiality",
                "unique_id",
                "hash",
                "size"
            ]
        );
        assert!(
            error
                .to_string()
                .starts_with("document metadata: class_code is missing")
        );
    }

    #[test]
    fn invalid_values_are_named_with_what_is_expected() {
        let error = complete()
            .title("  ")
            .mime_type("image/png")
            .language_code("french")
            .patient("1893120105742")
            .unique_id("1.02")
            .hash("xyz")
            .size(0)
            .build()
            .unwrap_err();
        let fields: Vec<&str> = error.problems.iter().map(FieldError::field).collect();
        assert_eq!(
            fields,
            [
                "title",
                "mime_type",
                "language_code",
                "patient",
                "unique_id",
                "hash",
                "size"
            ]
        );
        let message = error.to_string();
        for expected in [
            "DOCX",
            "fr-LU",
            "Luhn",
            "leading zero",
            "0-9 and a-f",
            "empty (0 bytes)",
        ] {
            assert!(message.contains(expected), "{expected} not in {message}");
        }
    }

    #[test]
    fn service_period_must_be_ordered_and_title_bounded() {
        let start: UtcTimestamp = "2026-11-28T10:00:00Z".parse().unwrap();
        let stop: UtcTimestamp = "2026-11-28T09:00:00Z".parse().unwrap();
        let error = complete()
            .service_start_time(start)
            .service_stop_time(stop)
            .build()
            .unwrap_err();
        assert_eq!(error.problems[0].field(), "service_stop_time");
        assert!(
            complete()
                .service_start_time(stop)
                .service_stop_time(start)
                .build()
                .is_ok()
        );
        assert!(complete().title("é".repeat(64)).build().is_ok());
        let error = complete().title("é".repeat(65)).build().unwrap_err();
        assert!(error.to_string().contains("130 bytes"), "{error}");
        assert!(complete().title("a\nb").build().is_err());
    }

    #[test]
    fn serde_round_trips_and_revalidates() {
        let metadata = complete().build().unwrap();
        let json = serde_json::to_value(&metadata).unwrap();
        assert_eq!(json["patient"], "1893120105732");
        assert_eq!(json["confidentiality"], "normal");
        assert_eq!(
            serde_json::from_value::<DocumentMetadata>(json.clone()).unwrap(),
            metadata
        );
        let mut empty = json.clone();
        empty["size"] = 0.into();
        let err = serde_json::from_value::<DocumentMetadata>(empty).unwrap_err();
        assert!(err.to_string().contains("size is invalid"), "{err}");
        let mut bad_patient = json;
        bad_patient["patient"] = "1893120105731".into();
        assert!(serde_json::from_value::<DocumentMetadata>(bad_patient).is_err());
    }
}
