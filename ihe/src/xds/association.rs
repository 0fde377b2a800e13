//! Associations between registry objects (ITI TF-3 4.2.2): membership of a
//! SubmissionSet, and the document relationships (RPLC, XFRM, APND…).

use crate::xml::{Element, ns};

use super::constants::{object_type, slot};
use super::document_entry::set_once;
use super::error::{ReadError, WriteError};
use super::rim::{
    RegistryObjectParts, RegistryObjectWriter, Slot, expect_root, required_reference, rim,
};
use super::vocabulary::{AssociationType, AvailabilityStatus, SubmissionSetStatus};

/// An `rim:Association`. Its source and target are ids as written; whether
/// they point at anything is for the registry to check, not the reader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Association {
    pub id: String,
    pub association_type: AssociationType,
    pub source: String,
    pub target: String,
    /// `SubmissionSetStatus` slot (HasMember from a SubmissionSet).
    pub submission_set_status: Option<SubmissionSetStatus>,
    /// `PreviousVersion` slot (ITI-57: the version the new one replaces).
    pub previous_version: Option<String>,
    pub availability_status: Option<AvailabilityStatus>,
    /// Other slots (e.g. `NewStatus`/`OriginalStatus` of an
    /// UpdateAvailabilityStatus association), as received.
    pub extra_slots: Vec<Slot>,
}

impl Association {
    /// An association with no slots.
    pub fn new(
        id: impl Into<String>,
        association_type: AssociationType,
        source: impl Into<String>,
        target: impl Into<String>,
    ) -> Self {
        Association {
            id: id.into(),
            association_type,
            source: source.into(),
            target: target.into(),
            submission_set_status: None,
            previous_version: None,
            availability_status: None,
            extra_slots: Vec::new(),
        }
    }

    /// HasMember from a SubmissionSet to an entry submitted with it
    /// (`SubmissionSetStatus` = `Original`).
    pub fn has_member(
        id: impl Into<String>,
        submission_set: impl Into<String>,
        entry: impl Into<String>,
    ) -> Self {
        Association {
            submission_set_status: Some(SubmissionSetStatus::Original),
            ..Association::new(id, AssociationType::HasMember, submission_set, entry)
        }
    }

    /// RPLC: `new_entry` replaces `replaced_entry` (which the registry then
    /// deprecates).
    pub fn replacement(
        id: impl Into<String>,
        new_entry: impl Into<String>,
        replaced_entry: impl Into<String>,
    ) -> Self {
        Association::new(id, AssociationType::Replace, new_entry, replaced_entry)
    }

    pub fn to_element(&self) -> Result<Element, WriteError> {
        let mut el = rim("Association")
            .with_attr("id", self.id.clone())
            .with_attr("objectType", object_type::ASSOCIATION)
            .with_attr("associationType", self.association_type.as_uri())
            .with_attr("sourceObject", self.source.clone())
            .with_attr("targetObject", self.target.clone());
        if let Some(s) = &self.availability_status {
            el.set_attr("status", s.as_uri());
        }
        let mut slots = Vec::new();
        if let Some(s) = &self.submission_set_status {
            slots.push(Slot::single(slot::SUBMISSION_SET_STATUS, s.as_uri()));
        }
        if let Some(v) = &self.previous_version {
            slots.push(Slot::single(slot::PREVIOUS_VERSION, v.clone()));
        }
        slots.extend(self.extra_slots.iter().cloned());
        RegistryObjectWriter {
            what: &format!("association '{}'", self.id),
            slots,
            name: None,
            description: None,
            version_name: None,
            classifications: Vec::new(),
            external_identifiers: Vec::new(),
        }
        .write_into(&mut el)?;
        Ok(el)
    }

    /// Reads a `rim:Association`. Its name, description, version,
    /// classifications and identifiers (XDS defines none) are not kept.
    pub fn from_element(el: &Element) -> Result<Self, ReadError> {
        expect_root(el, ns::RIM, "Association")?;
        let parts = RegistryObjectParts::read(el, &[])?;
        let association_type = el
            .attr("associationType")
            .map(AssociationType::from_uri)
            .ok_or_else(|| ReadError::MissingAttribute {
                element: "rim:Association".into(),
                attribute: "associationType",
            })?;
        let mut a = Association {
            availability_status: parts.status.as_deref().map(AvailabilityStatus::from_uri),
            ..Association::new(
                parts.id,
                association_type,
                required_reference(el, "sourceObject")?,
                required_reference(el, "targetObject")?,
            )
        };
        for s in parts.slots {
            let one = s.only_value().map(str::to_owned);
            let taken = match (s.name.as_str(), one) {
                (slot::SUBMISSION_SET_STATUS, Some(v)) => set_once(
                    &mut a.submission_set_status,
                    SubmissionSetStatus::from_uri(&v),
                ),
                (slot::PREVIOUS_VERSION, Some(v)) => set_once(&mut a.previous_version, v),
                _ => false,
            };
            if !taken {
                a.extra_slots.push(s);
            }
        }
        Ok(a)
    }
}
