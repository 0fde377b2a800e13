//! DocumentEntry: the metadata of one document (ITI TF-3 4.2.3.2), an
//! `rim:ExtrinsicObject`.

use crate::xml::{Element, ns};

use super::checked::{Checked, Sha1Hash};
use super::code::{Author, Code};
use super::constants::{
    document_entry_identifier as ident, document_entry_scheme as scheme, identifier_name, slot,
};
use super::dtm::Dtm;
use super::error::{ReadError, WriteError};
use super::rim::{
    Classification, ExternalIdentifier, LONG_NAME, RegistryObjectParts, RegistryObjectWriter, Slot,
    check_len, derived_id, expect_root, rim,
};
use super::vocabulary::{AvailabilityStatus, DocumentEntryType};

/// The metadata of one document.
///
/// Every attribute is optional here: readers capture what is present and
/// the registry decides what is missing (see [`crate::xds`]). Slots the
/// type does not model, and a second slot of a name it does model, land in
/// `extra_slots`; classifications and external identifiers it does not
/// model (or a second one of a single-valued kind, or one that classifies
/// another object) land in `other_classifications` /
/// `other_external_identifiers`. A single-valued slot that does not carry
/// exactly one value is kept in `extra_slots` and leaves its field `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DocumentEntry {
    /// `id`: `urn:uuid:…`, or a symbolic id inside a submission.
    pub entry_uuid: String,
    /// `lid`: the id shared by all versions of the entry (ITI-57).
    pub logical_id: Option<String>,
    /// `VersionInfo/@versionName`, set by the registry.
    pub version: Option<String>,
    pub unique_id: Option<String>,
    /// Patient in the affinity domain, as an HL7 CX string
    /// (`id^^^&root&ISO`).
    pub patient_id: Option<String>,
    pub source_patient_id: Option<String>,
    /// `PID-n|value` lines.
    pub source_patient_info: Vec<String>,
    pub mime_type: Option<String>,
    pub title: Option<String>,
    pub comments: Option<String>,
    pub class_code: Option<Code>,
    pub type_code: Option<Code>,
    pub format_code: Option<Code>,
    pub practice_setting_code: Option<Code>,
    pub healthcare_facility_type_code: Option<Code>,
    pub confidentiality_codes: Vec<Code>,
    pub event_codes: Vec<Code>,
    pub creation_time: Option<Checked<Dtm>>,
    pub service_start_time: Option<Checked<Dtm>>,
    pub service_stop_time: Option<Checked<Dtm>>,
    pub language_code: Option<String>,
    pub hash: Option<Checked<Sha1Hash>>,
    pub size: Option<Checked<u64>>,
    pub authors: Vec<Author>,
    pub legal_authenticator: Option<String>,
    pub repository_unique_id: Option<String>,
    pub availability_status: Option<AvailabilityStatus>,
    pub home_community_id: Option<String>,
    pub object_type: Option<DocumentEntryType>,
    /// Other slots, e.g. `urn:`-named extension slots.
    pub extra_slots: Vec<Slot>,
    pub other_classifications: Vec<Classification>,
    pub other_external_identifiers: Vec<ExternalIdentifier>,
}

/// A byte count: decimal digits only.
pub(crate) fn parse_size(text: &str) -> Result<u64, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("'{text}' is not a size: expected decimal digits"));
    }
    text.parse::<u64>()
        .map_err(|e| format!("'{text}' is not a size: {e}"))
}

pub(crate) fn checked_dtm(raw: &str) -> Checked<Dtm> {
    Checked::parse_with(raw, Dtm::parse)
}

impl DocumentEntry {
    /// Writes the entry as a `rim:ExtrinsicObject`.
    pub fn to_element(&self) -> Result<Element, WriteError> {
        let id = &self.entry_uuid;
        let mut el = rim("ExtrinsicObject").with_attr("id", id.clone());
        if let Some(t) = &self.object_type {
            el.set_attr("objectType", t.as_uri());
        }
        if let Some(m) = &self.mime_type {
            check_len(
                || format!("mimeType of entry '{id}'"),
                m,
                LONG_NAME,
                "LongName",
            )?;
            el.set_attr("mimeType", m.clone());
        }
        if let Some(lid) = &self.logical_id {
            el.set_attr("lid", lid.clone());
        }
        if let Some(s) = &self.availability_status {
            el.set_attr("status", s.as_uri());
        }
        if let Some(h) = &self.home_community_id {
            el.set_attr("home", h.clone());
        }

        let mut slots = Vec::new();
        let mut single = |name: &str, value: Option<String>| {
            if let Some(v) = value {
                slots.push(Slot::single(name, v));
            }
        };
        single(
            slot::CREATION_TIME,
            self.creation_time.as_ref().map(Checked::to_wire),
        );
        single(slot::HASH, self.hash.as_ref().map(Checked::to_wire));
        single(slot::LANGUAGE_CODE, self.language_code.clone());
        single(slot::LEGAL_AUTHENTICATOR, self.legal_authenticator.clone());
        single(
            slot::REPOSITORY_UNIQUE_ID,
            self.repository_unique_id.clone(),
        );
        single(
            slot::SERVICE_START_TIME,
            self.service_start_time.as_ref().map(Checked::to_wire),
        );
        single(
            slot::SERVICE_STOP_TIME,
            self.service_stop_time.as_ref().map(Checked::to_wire),
        );
        single(slot::SIZE, self.size.as_ref().map(Checked::to_wire));
        single(slot::SOURCE_PATIENT_ID, self.source_patient_id.clone());
        if !self.source_patient_info.is_empty() {
            slots.push(Slot::new(
                slot::SOURCE_PATIENT_INFO,
                self.source_patient_info.clone(),
            ));
        }
        slots.extend(self.extra_slots.iter().cloned());

        let mut classifications = Vec::new();
        for (i, a) in self.authors.iter().enumerate() {
            classifications.push(a.to_classification(
                scheme::AUTHOR,
                id,
                derived_id(id, "author", i),
            ));
        }
        let coded: [(&str, &str, Vec<&Code>); 7] = [
            (
                "classCode",
                scheme::CLASS_CODE,
                self.class_code.iter().collect(),
            ),
            (
                "confidentialityCode",
                scheme::CONFIDENTIALITY_CODE,
                self.confidentiality_codes.iter().collect(),
            ),
            (
                "eventCodeList",
                scheme::EVENT_CODE_LIST,
                self.event_codes.iter().collect(),
            ),
            (
                "formatCode",
                scheme::FORMAT_CODE,
                self.format_code.iter().collect(),
            ),
            (
                "healthcareFacilityTypeCode",
                scheme::HEALTHCARE_FACILITY_TYPE_CODE,
                self.healthcare_facility_type_code.iter().collect(),
            ),
            (
                "practiceSettingCode",
                scheme::PRACTICE_SETTING_CODE,
                self.practice_setting_code.iter().collect(),
            ),
            (
                "typeCode",
                scheme::TYPE_CODE,
                self.type_code.iter().collect(),
            ),
        ];
        for (role, scheme, codes) in coded {
            for (i, c) in codes.into_iter().enumerate() {
                classifications.push(c.to_classification(scheme, id, derived_id(id, role, i)));
            }
        }
        classifications.extend(self.other_classifications.iter().cloned());

        let mut identifiers = Vec::new();
        for (role, scheme, name, value) in [
            (
                "patientId",
                ident::PATIENT_ID,
                identifier_name::DOCUMENT_ENTRY_PATIENT_ID,
                &self.patient_id,
            ),
            (
                "uniqueId",
                ident::UNIQUE_ID,
                identifier_name::DOCUMENT_ENTRY_UNIQUE_ID,
                &self.unique_id,
            ),
        ] {
            if let Some(v) = value {
                identifiers.push(ExternalIdentifier {
                    id: derived_id(id, role, 0),
                    registry_object: id.clone(),
                    identification_scheme: scheme.to_owned(),
                    value: v.clone(),
                    name: Some(name.to_owned()),
                });
            }
        }
        identifiers.extend(self.other_external_identifiers.iter().cloned());

        RegistryObjectWriter {
            what: &format!("entry '{id}'"),
            slots,
            name: self.title.as_deref(),
            description: self.comments.as_deref(),
            version_name: self.version.as_deref(),
            classifications,
            external_identifiers: identifiers,
        }
        .write_into(&mut el)?;
        Ok(el)
    }

    /// Reads a `rim:ExtrinsicObject`.
    pub fn from_element(el: &Element) -> Result<Self, ReadError> {
        Self::read_with(el, Vec::new(), Vec::new())
    }

    /// Reads an `ExtrinsicObject` together with classifications and
    /// identifiers that point at it from elsewhere in the object list.
    pub(crate) fn read_with(
        el: &Element,
        outside_classifications: Vec<Classification>,
        outside_identifiers: Vec<ExternalIdentifier>,
    ) -> Result<Self, ReadError> {
        expect_root(el, ns::RIM, "ExtrinsicObject")?;
        let mut parts = RegistryObjectParts::read(
            el,
            &[(ns::RIM, "ContentVersionInfo"), (ns::XDSB, "Document")],
        )?;
        parts.classifications.extend(outside_classifications);
        parts.external_identifiers.extend(outside_identifiers);
        let mut entry = DocumentEntry {
            entry_uuid: parts.id.clone(),
            logical_id: parts.lid,
            version: parts.version_name,
            mime_type: el.attr("mimeType").map(str::to_owned),
            title: parts.name,
            comments: parts.description,
            availability_status: parts.status.as_deref().map(AvailabilityStatus::from_uri),
            home_community_id: parts.home,
            object_type: parts
                .object_type
                .as_deref()
                .map(DocumentEntryType::from_uri),
            ..DocumentEntry::default()
        };
        entry.read_slots(parts.slots);
        entry.read_classifications(parts.classifications);
        entry.read_identifiers(parts.external_identifiers);
        Ok(entry)
    }

    fn read_slots(&mut self, slots: Vec<Slot>) {
        for s in slots {
            let one = s.only_value().map(str::to_owned);
            let taken = match (s.name.as_str(), one) {
                (slot::CREATION_TIME, Some(v)) => {
                    set_once(&mut self.creation_time, checked_dtm(&v))
                }
                (slot::SERVICE_START_TIME, Some(v)) => {
                    set_once(&mut self.service_start_time, checked_dtm(&v))
                }
                (slot::SERVICE_STOP_TIME, Some(v)) => {
                    set_once(&mut self.service_stop_time, checked_dtm(&v))
                }
                (slot::HASH, Some(v)) => {
                    set_once(&mut self.hash, Checked::parse_with(&v, Sha1Hash::from_hex))
                }
                (slot::SIZE, Some(v)) => {
                    set_once(&mut self.size, Checked::parse_with(&v, parse_size))
                }
                (slot::LANGUAGE_CODE, Some(v)) => set_once(&mut self.language_code, v),
                (slot::LEGAL_AUTHENTICATOR, Some(v)) => set_once(&mut self.legal_authenticator, v),
                (slot::REPOSITORY_UNIQUE_ID, Some(v)) => {
                    set_once(&mut self.repository_unique_id, v)
                }
                (slot::SOURCE_PATIENT_ID, Some(v)) => set_once(&mut self.source_patient_id, v),
                (slot::SOURCE_PATIENT_INFO, _) if self.source_patient_info.is_empty() => {
                    self.source_patient_info = s.values.clone();
                    true
                }
                _ => false,
            };
            if !taken {
                self.extra_slots.push(s);
            }
        }
    }

    fn read_classifications(&mut self, classifications: Vec<Classification>) {
        for c in classifications {
            if c.classified_object != self.entry_uuid {
                self.other_classifications.push(c);
                continue;
            }
            let code = || Code::from_classification(&c);
            let taken = if c.has_scheme(scheme::AUTHOR) {
                self.authors.push(Author::from_classification(&c));
                true
            } else if c.has_scheme(scheme::CONFIDENTIALITY_CODE) {
                self.confidentiality_codes.push(code());
                true
            } else if c.has_scheme(scheme::EVENT_CODE_LIST) {
                self.event_codes.push(code());
                true
            } else if c.has_scheme(scheme::CLASS_CODE) {
                set_once(&mut self.class_code, code())
            } else if c.has_scheme(scheme::TYPE_CODE) {
                set_once(&mut self.type_code, code())
            } else if c.has_scheme(scheme::FORMAT_CODE) {
                set_once(&mut self.format_code, code())
            } else if c.has_scheme(scheme::PRACTICE_SETTING_CODE) {
                set_once(&mut self.practice_setting_code, code())
            } else if c.has_scheme(scheme::HEALTHCARE_FACILITY_TYPE_CODE) {
                set_once(&mut self.healthcare_facility_type_code, code())
            } else {
                false
            };
            if !taken {
                self.other_classifications.push(c);
            }
        }
    }

    fn read_identifiers(&mut self, identifiers: Vec<ExternalIdentifier>) {
        for e in identifiers {
            let taken = e.registry_object == self.entry_uuid
                && if e.has_scheme(ident::PATIENT_ID) {
                    set_once(&mut self.patient_id, e.value.clone())
                } else if e.has_scheme(ident::UNIQUE_ID) {
                    set_once(&mut self.unique_id, e.value.clone())
                } else {
                    false
                };
            if !taken {
                self.other_external_identifiers.push(e);
            }
        }
    }
}

/// Sets `slot` when it is empty; tells whether it did.
pub(crate) fn set_once<T>(slot: &mut Option<T>, value: T) -> bool {
    if slot.is_some() {
        return false;
    }
    *slot = Some(value);
    true
}
