//! The metadata a Document Source must send (ITI TF-3 Table 4.3.1-3 for
//! XDS.b, "R" for the Document Source), checked. Every missing or
//! malformed attribute is one `XDSRegistryMetadataError` whose
//! `codeContext` starts with the attribute's name (`DocumentEntry.classCode
//! is missing: …`) and whose `location` is the object's id as sent. All
//! problems of a submission are reported together.
//!
//! The sandbox's decisions where ITI TF-3 leaves room (documented in
//! `docs/platform-protocol.md`):
//! - the DocumentEntry author (R2 in ITI TF-3) is required, exactly one,
//!   with an `authorPerson` naming the professional by eHealth id
//!   ([`super::EHEALTH_ID_AUTHORITY`]); a SubmissionSet author is optional,
//!   and when given names the professional the same way;
//! - `confidentialityCode` is exactly one code of the platform's table;
//! - `mimeType` is one of the formats the DSP takes;
//! - the patient-informed statement slot is required.

use std::fmt::Display;
use std::str::FromStr;

use dspconnect::model::{
    ConfidentialityCodeTable, ConfidentialityMode, LanguageCode, Matricule, MimeType, Oid,
    PatientInformedStatement,
};
use ihe::xds::{
    Author, Checked, Code, DocumentEntry, DocumentEntryType, Dtm, RegistryError, Sha1Hash,
    SubmissionSet, XdsErrorCode,
};

use super::EHEALTH_ID_AUTHORITY;
use crate::policy::PatientId;

/// Longest extension of a DocumentEntry uniqueId (`OID^extension`).
const MAX_UNIQUE_ID_EXTENSION: usize = 16;

/// The attributes of one object, checked one by one.
struct Problems {
    owner: &'static str,
    location: String,
    found: Vec<RegistryError>,
}

impl Problems {
    fn new(owner: &'static str, location: &str) -> Self {
        Problems {
            owner,
            location: location.to_owned(),
            found: Vec::new(),
        }
    }

    fn add(&mut self, attribute: &str, what: impl Display) {
        self.found.push(metadata_error(
            format!("{}.{attribute} {what}", self.owner),
            Some(self.location.clone()),
        ));
    }

    fn missing(&mut self, attribute: &str) {
        self.add(
            attribute,
            "is missing: ITI TF-3 requires it of a Document Source",
        );
    }

    fn malformed(&mut self, attribute: &str, why: impl Display) {
        self.add(attribute, format_args!("is malformed: {why}"));
    }

    /// A required value, or a note that it is missing.
    fn required<'a, T>(&mut self, attribute: &str, value: Option<&'a T>) -> Option<&'a T> {
        if value.is_none() {
            self.missing(attribute);
        }
        value
    }

    fn finish<T>(self, value: Option<T>) -> Result<T, Vec<RegistryError>> {
        match value {
            Some(value) if self.found.is_empty() => Ok(value),
            _ => Err(self.found),
        }
    }
}

/// An `XDSRegistryMetadataError`.
pub(crate) fn metadata_error(
    context: impl Into<String>,
    location: Option<String>,
) -> RegistryError {
    RegistryError::error(XdsErrorCode::RegistryMetadataError, context, location)
}

/// What the sandbox takes from a DocumentEntry that passed the checks.
#[derive(Debug)]
pub(crate) struct CheckedEntry {
    pub patient: PatientId,
    pub mode: ConfidentialityMode,
    pub unique_id: String,
    pub mime_type: String,
    /// The eHealth id in `authorPerson`.
    pub author: String,
    pub statement: PatientInformedStatement,
    pub hash: Option<Sha1Hash>,
    pub size: Option<u64>,
}

/// Checks a DocumentEntry of an ITI-41 submission.
pub(crate) fn check_entry(
    entry: &DocumentEntry,
    codes: &ConfidentialityCodeTable,
) -> Result<CheckedEntry, Vec<RegistryError>> {
    let mut p = Problems::new("DocumentEntry", &entry.entry_uuid);
    if entry.entry_uuid.trim().is_empty() {
        p.missing("entryUUID");
    }
    match &entry.object_type {
        None => p.missing("objectType"),
        Some(DocumentEntryType::Stable) => {}
        Some(other) => p.malformed(
            "objectType",
            format_args!(
                "'{other}' is not the stable DocumentEntry type {}: the repository stores documents, not on-demand entries",
                DocumentEntryType::Stable
            ),
        ),
    }
    let unique_id = p.required("uniqueId", entry.unique_id.as_ref()).cloned();
    if let Some(Err(why)) = unique_id.as_deref().map(check_document_unique_id) {
        p.malformed("uniqueId", why);
    }
    let patient = p
        .required("patientId", entry.patient_id.as_ref())
        .and_then(|cx| patient_of(&mut p, "patientId", cx));
    if let Some(Err(why)) = p
        .required("sourcePatientId", entry.source_patient_id.as_ref())
        .map(|cx| check_cx(cx))
    {
        p.malformed("sourcePatientId", why);
    }
    let mime_type = p.required("mimeType", entry.mime_type.as_ref()).cloned();
    if let Some(Err(why)) = mime_type.as_deref().map(MimeType::from_str) {
        p.malformed("mimeType", why);
    }
    for (attribute, code) in [
        ("classCode", &entry.class_code),
        ("typeCode", &entry.type_code),
        ("formatCode", &entry.format_code),
        ("practiceSettingCode", &entry.practice_setting_code),
        (
            "healthcareFacilityTypeCode",
            &entry.healthcare_facility_type_code,
        ),
    ] {
        check_code(&mut p, attribute, code.as_ref());
    }
    let mode = mode_of(&mut p, &entry.confidentiality_codes, codes);
    check_time(&mut p, "creationTime", entry.creation_time.as_ref(), true);
    check_time(
        &mut p,
        "serviceStartTime",
        entry.service_start_time.as_ref(),
        false,
    );
    check_time(
        &mut p,
        "serviceStopTime",
        entry.service_stop_time.as_ref(),
        false,
    );
    if let Some(Err(why)) = p
        .required("languageCode", entry.language_code.as_ref())
        .map(|code| LanguageCode::from_str(code))
    {
        p.malformed("languageCode", why);
    }
    let author = match entry.authors.as_slice() {
        [] => {
            p.add(
                "author",
                "is missing: the sandbox requires the submitting professional as the author (authorPerson)",
            );
            None
        }
        [one] => author_of(&mut p, "author", one),
        many => {
            p.malformed(
                "author",
                format_args!(
                    "{} authors are given; the sandbox takes exactly one, the submitting professional",
                    many.len()
                ),
            );
            None
        }
    };
    let hash = match &entry.hash {
        Some(Checked::Malformed { problem, .. }) => {
            p.malformed("hash", problem);
            None
        }
        other => other.as_ref().and_then(Checked::valid).copied(),
    };
    let size = match &entry.size {
        Some(Checked::Malformed { problem, .. }) => {
            p.malformed("size", problem);
            None
        }
        other => other.as_ref().and_then(Checked::valid).copied(),
    };
    let statement = statement_of(&mut p, entry);
    let checked = match (patient, mode, unique_id, mime_type, author, statement) {
        (
            Some(patient),
            Some(mode),
            Some(unique_id),
            Some(mime_type),
            Some(author),
            Some(statement),
        ) => Some(CheckedEntry {
            patient,
            mode,
            unique_id,
            mime_type,
            author,
            statement,
            hash,
            size,
        }),
        _ => None,
    };
    p.finish(checked)
}

/// What the sandbox takes from a SubmissionSet that passed the checks.
#[derive(Debug)]
pub(crate) struct CheckedSubmissionSet {
    pub patient: PatientId,
    /// The eHealth ids of its authors (none: the author is R2).
    pub authors: Vec<String>,
}

/// Checks the SubmissionSet of an ITI-41 or ITI-57 submission.
pub(crate) fn check_submission_set(
    set: &SubmissionSet,
) -> Result<CheckedSubmissionSet, Vec<RegistryError>> {
    let mut p = Problems::new("SubmissionSet", &set.entry_uuid);
    if set.entry_uuid.trim().is_empty() {
        p.missing("entryUUID");
    }
    for (attribute, value) in [("uniqueId", &set.unique_id), ("sourceId", &set.source_id)] {
        if let Some(Err(why)) = p
            .required(attribute, value.as_ref())
            .map(|v| Oid::from_str(v))
        {
            p.malformed(attribute, why);
        }
    }
    let patient = p
        .required("patientId", set.patient_id.as_ref())
        .and_then(|cx| patient_of(&mut p, "patientId", cx));
    check_time(&mut p, "submissionTime", set.submission_time.as_ref(), true);
    check_code(&mut p, "contentTypeCode", set.content_type_code.as_ref());
    let authors: Vec<String> = set
        .authors
        .iter()
        .filter_map(|author| author_of(&mut p, "author", author))
        .collect();
    let complete = authors.len() == set.authors.len();
    p.finish(
        patient
            .filter(|_| complete)
            .map(|patient| CheckedSubmissionSet { patient, authors }),
    )
}

/// A DocumentEntry uniqueId: an OID, optionally `^extension` (at most 16
/// characters).
fn check_document_unique_id(value: &str) -> Result<(), String> {
    let (root, extension) = match value.split_once('^') {
        Some((root, extension)) => (root, Some(extension)),
        None => (value, None),
    };
    Oid::from_str(root).map_err(|e| format!("'{value}': {e}"))?;
    if let Some(extension) = extension
        && (extension.is_empty()
            || extension.chars().count() > MAX_UNIQUE_ID_EXTENSION
            || !extension.chars().all(|c| c.is_ascii_graphic() && c != '^'))
    {
        return Err(format!(
            "'{value}': the extension after '^' must be 1 to {MAX_UNIQUE_ID_EXTENSION} printable characters"
        ));
    }
    Ok(())
}

/// The patient of a `patientId`: a CX holding a matricule assigned by
/// `1.3.182.4.4`.
fn patient_of(p: &mut Problems, attribute: &str, cx: &str) -> Option<PatientId> {
    match Matricule::from_cx(cx) {
        Ok(matricule) if matricule.is_legacy() => {
            p.malformed(
                attribute,
                format_args!(
                    "'{cx}' is an 11-digit matricule; DSP patients are identified by their 13-digit matricule"
                ),
            );
            None
        }
        Ok(matricule) => Some(PatientId::from_matricule(&matricule)),
        Err(e) => {
            p.malformed(attribute, format_args!("'{cx}': {e}"));
            None
        }
    }
}

/// An HL7 CX with an id and an assigning authority (`id^^^&oid&ISO`).
fn check_cx(cx: &str) -> Result<(), String> {
    let components: Vec<&str> = cx.split('^').collect();
    let id = components.first().copied().unwrap_or_default();
    let authority = components.get(3).copied().unwrap_or_default();
    if id.trim().is_empty() || id.contains(char::is_whitespace) {
        return Err(format!(
            "'{cx}' has no id: expected id^^^&assigning-authority-OID&ISO"
        ));
    }
    if authority.trim().is_empty() {
        return Err(format!(
            "'{cx}' has no assigning authority (CX.4): expected id^^^&assigning-authority-OID&ISO"
        ));
    }
    Ok(())
}

/// A coded attribute: code, codingScheme and display name, all present.
fn check_code(p: &mut Problems, attribute: &str, code: Option<&Code>) {
    let Some(code) = p.required(attribute, code) else {
        return;
    };
    if code.code.trim().is_empty() {
        p.malformed(attribute, "it has no code (nodeRepresentation)");
    }
    if code
        .coding_scheme
        .as_deref()
        .is_none_or(|s| s.trim().is_empty())
    {
        p.malformed(
            attribute,
            format_args!("code '{}' has no codingScheme slot", code.code),
        );
    }
    if code
        .display_name
        .as_deref()
        .is_none_or(|s| s.trim().is_empty())
    {
        p.malformed(
            attribute,
            format_args!("code '{}' has no display name (Name)", code.code),
        );
    }
}

/// The mode the one confidentialityCode stands for.
fn mode_of(
    p: &mut Problems,
    codes_sent: &[Code],
    table: &ConfidentialityCodeTable,
) -> Option<ConfidentialityMode> {
    const ATTRIBUTE: &str = "confidentialityCode";
    let code = match codes_sent {
        [] => {
            p.missing(ATTRIBUTE);
            return None;
        }
        [one] => one,
        many => {
            p.malformed(
                ATTRIBUTE,
                format_args!(
                    "{} codes are given; a DSP document has exactly one confidentiality mode",
                    many.len()
                ),
            );
            return None;
        }
    };
    match table.mode_for(
        &code.code,
        code.coding_scheme.as_deref().unwrap_or_default(),
    ) {
        Ok(mode) => Some(mode),
        Err(e) => {
            p.malformed(
                ATTRIBUTE,
                format_args!("{e}; the platform's codes are {}", describe_table(table)),
            );
            None
        }
    }
}

/// `N (Normal), R (Restreint), … in scheme …`.
pub(crate) fn describe_table(table: &ConfidentialityCodeTable) -> String {
    let codes: Vec<String> = ConfidentialityMode::ALL
        .iter()
        .map(|&mode| {
            let code = table.code_for(mode);
            format!("{} ({}) in {}", code.code(), mode, code.coding_scheme())
        })
        .collect();
    codes.join(", ")
}

fn check_time(p: &mut Problems, attribute: &str, value: Option<&Checked<Dtm>>, required: bool) {
    match value {
        None if required => p.missing(attribute),
        None | Some(Checked::Valid(_)) => {}
        Some(Checked::Malformed { problem, .. }) => p.malformed(attribute, problem),
    }
}

/// The eHealth id of an author classification's `authorPerson`.
fn author_of(p: &mut Problems, attribute: &str, author: &Author) -> Option<String> {
    let Some(person) = author.person.as_deref() else {
        p.malformed(
            attribute,
            format_args!(
                "it has no authorPerson; name the submitting professional as {}",
                author_person_example()
            ),
        );
        return None;
    };
    match author_person_id(person) {
        Ok(id) => Some(id),
        Err(why) => {
            p.malformed(attribute, format_args!("authorPerson {why}"));
            None
        }
    }
}

fn author_person_example() -> String {
    format!("<eHealth id>^<family name>^<given name>^^^^^^&{EHEALTH_ID_AUTHORITY}&ISO")
}

/// The eHealth id an `authorPerson` XCN names: component 1 is the id,
/// component 9 its assigning authority, which must be the sandbox's
/// eHealth id authority.
pub(crate) fn author_person_id(xcn: &str) -> Result<String, String> {
    let components: Vec<&str> = xcn.split('^').collect();
    let id = components.first().copied().unwrap_or_default();
    let authority = components.get(8).copied().unwrap_or_default();
    if id.trim().is_empty() || id.contains(char::is_whitespace) {
        return Err(format!(
            "'{xcn}' has no id (XCN.1); expected {}",
            author_person_example()
        ));
    }
    let expected = format!("&{EHEALTH_ID_AUTHORITY}&ISO");
    if authority != expected {
        return Err(format!(
            "'{xcn}' does not name an eHealth id: its assigning authority (XCN.9) is '{authority}', not '{expected}'"
        ));
    }
    Ok(id.to_owned())
}

/// The patient-informed statement slot.
fn statement_of(p: &mut Problems, entry: &DocumentEntry) -> Option<PatientInformedStatement> {
    let attribute = format!("slot {}", PatientInformedStatement::SLOT_NAME);
    let slots: Vec<_> = entry
        .extra_slots
        .iter()
        .filter(|slot| slot.name == PatientInformedStatement::SLOT_NAME)
        .collect();
    let value = match slots.as_slice() {
        [] => {
            p.add(
                &attribute,
                "is missing: every submission carries the professional's statement that the patient \
                 was informed and agrees (charter: « Obtenir l'approbation du patient, dûment averti »)",
            );
            return None;
        }
        [slot] => match slot.values.as_slice() {
            [value] => value,
            values => {
                p.malformed(
                    &attribute,
                    format_args!("it has {} values; it takes exactly one", values.len()),
                );
                return None;
            }
        },
        many => {
            p.malformed(
                &attribute,
                format_args!("it is given {} times; it takes one slot", many.len()),
            );
            return None;
        }
    };
    match PatientInformedStatement::from_wire(value) {
        Ok(statement) => Some(statement),
        Err(e) => {
            p.malformed(&attribute, e);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn author_person_names_an_ehealth_id_under_the_sandbox_authority() {
        assert_eq!(
            author_person_id("SBX1001^Weber^Anne^^^^^^&1.3.182.4.4.99.2&ISO").as_deref(),
            Ok("SBX1001")
        );
        assert_eq!(
            author_person_id("SBX1001^^^^^^^^&1.3.182.4.4.99.2&ISO").as_deref(),
            Ok("SBX1001")
        );
        for bad in [
            "^Weber^Anne^^^^^^&1.3.182.4.4.99.2&ISO",
            "SBX1001^Weber^Anne",
            "SBX1001^Weber^Anne^^^^^^&1.3.182.4.4&ISO",
            "SBX 1001^Weber^Anne^^^^^^&1.3.182.4.4.99.2&ISO",
        ] {
            assert!(author_person_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn document_unique_ids_are_oids_with_an_optional_short_extension() {
        assert!(check_document_unique_id("1.3.182.4.4.77.1").is_ok());
        assert!(check_document_unique_id("1.3.182.4.4.77.1^abc").is_ok());
        assert!(check_document_unique_id("1.3.182.4.4.77.1^").is_err());
        assert!(check_document_unique_id("1.3.182.4.4.77.1^12345678901234567").is_err());
        assert!(check_document_unique_id("urn:oid:1.2.3").is_err());
        assert!(check_document_unique_id("1..2").is_err());
    }

    #[test]
    fn cx_needs_an_id_and_an_authority() {
        assert!(check_cx("12345^^^&1.2.3&ISO").is_ok());
        assert!(check_cx("^^^&1.2.3&ISO").is_err());
        assert!(check_cx("12345").is_err());
        assert!(check_cx("12345^^^").is_err());
    }
}
