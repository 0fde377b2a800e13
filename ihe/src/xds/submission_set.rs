//! SubmissionSet: the record of one act of submission (ITI TF-3 4.2.3.3), a
//! `rim:RegistryPackage` classified by the SubmissionSet node.

use crate::xml::{Element, ns};

use super::checked::Checked;
use super::code::{Author, Code};
use super::constants::{
    classification_node, identifier_name, object_type, slot, submission_set_identifier as ident,
    submission_set_scheme as scheme,
};
use super::document_entry::{checked_dtm, set_once};
use super::dtm::Dtm;
use super::error::{ReadError, WriteError};
use super::rim::{
    Classification, ExternalIdentifier, RegistryObjectParts, RegistryObjectWriter, Slot,
    derived_id, expect_root, rim,
};
use super::vocabulary::AvailabilityStatus;

/// The metadata of a submission. Optional fields and the `extra_…`/`other_…`
/// collections follow the same rules as [`super::DocumentEntry`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubmissionSet {
    pub entry_uuid: String,
    pub unique_id: Option<String>,
    /// OID of the submitting system.
    pub source_id: Option<String>,
    pub patient_id: Option<String>,
    pub submission_time: Option<Checked<Dtm>>,
    pub content_type_code: Option<Code>,
    pub authors: Vec<Author>,
    pub title: Option<String>,
    pub comments: Option<String>,
    /// XON/XCN/XTN strings of the intended recipients.
    pub intended_recipients: Vec<String>,
    pub availability_status: Option<AvailabilityStatus>,
    pub home_community_id: Option<String>,
    pub extra_slots: Vec<Slot>,
    pub other_classifications: Vec<Classification>,
    pub other_external_identifiers: Vec<ExternalIdentifier>,
}

impl SubmissionSet {
    /// Writes the set as a `rim:RegistryPackage` with its SubmissionSet
    /// classification inside.
    pub fn to_element(&self) -> Result<Element, WriteError> {
        let id = &self.entry_uuid;
        let mut el = rim("RegistryPackage")
            .with_attr("id", id.clone())
            .with_attr("objectType", object_type::REGISTRY_PACKAGE);
        if let Some(s) = &self.availability_status {
            el.set_attr("status", s.as_uri());
        }
        if let Some(h) = &self.home_community_id {
            el.set_attr("home", h.clone());
        }

        let mut slots = Vec::new();
        if let Some(t) = &self.submission_time {
            slots.push(Slot::single(slot::SUBMISSION_TIME, t.to_wire()));
        }
        if !self.intended_recipients.is_empty() {
            slots.push(Slot::new(
                slot::INTENDED_RECIPIENT,
                self.intended_recipients.clone(),
            ));
        }
        slots.extend(self.extra_slots.iter().cloned());

        let mut classifications = vec![Classification {
            id: derived_id(id, "submissionSet", 0),
            classified_object: id.clone(),
            classification_node: Some(classification_node::SUBMISSION_SET.to_owned()),
            ..Classification::default()
        }];
        for (i, a) in self.authors.iter().enumerate() {
            classifications.push(a.to_classification(
                scheme::AUTHOR,
                id,
                derived_id(id, "author", i),
            ));
        }
        if let Some(c) = &self.content_type_code {
            classifications.push(c.to_classification(
                scheme::CONTENT_TYPE_CODE,
                id,
                derived_id(id, "contentTypeCode", 0),
            ));
        }
        classifications.extend(self.other_classifications.iter().cloned());

        let mut identifiers = Vec::new();
        for (role, scheme, name, value) in [
            (
                "uniqueId",
                ident::UNIQUE_ID,
                identifier_name::SUBMISSION_SET_UNIQUE_ID,
                &self.unique_id,
            ),
            (
                "sourceId",
                ident::SOURCE_ID,
                identifier_name::SUBMISSION_SET_SOURCE_ID,
                &self.source_id,
            ),
            (
                "patientId",
                ident::PATIENT_ID,
                identifier_name::SUBMISSION_SET_PATIENT_ID,
                &self.patient_id,
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
            what: &format!("submission set '{id}'"),
            slots,
            name: self.title.as_deref(),
            description: self.comments.as_deref(),
            version_name: None,
            classifications,
            external_identifiers: identifiers,
        }
        .write_into(&mut el)?;
        Ok(el)
    }

    /// True when the package element is classified as a SubmissionSet by a
    /// classification inside it.
    pub(crate) fn is_marked_inside(el: &Element) -> bool {
        el.children_named(ns::RIM, "Classification").any(|c| {
            c.attr("classificationNode")
                .is_some_and(|n| same_uuid(n, classification_node::SUBMISSION_SET))
        })
    }

    /// Reads a `rim:RegistryPackage` known to be a SubmissionSet, with the
    /// classifications and identifiers that point at it from elsewhere.
    pub(crate) fn read_with(
        el: &Element,
        outside_classifications: Vec<Classification>,
        outside_identifiers: Vec<ExternalIdentifier>,
    ) -> Result<Self, ReadError> {
        expect_root(el, ns::RIM, "RegistryPackage")?;
        let mut parts = RegistryObjectParts::read(el, &[(ns::RIM, "RegistryObjectList")])?;
        parts.classifications.extend(outside_classifications);
        parts.external_identifiers.extend(outside_identifiers);
        let mut set = SubmissionSet {
            entry_uuid: parts.id.clone(),
            title: parts.name,
            comments: parts.description,
            availability_status: parts.status.as_deref().map(AvailabilityStatus::from_uri),
            home_community_id: parts.home,
            ..SubmissionSet::default()
        };
        for s in parts.slots {
            let one = s.only_value().map(str::to_owned);
            let taken = match (s.name.as_str(), one) {
                (slot::SUBMISSION_TIME, Some(v)) => {
                    set_once(&mut set.submission_time, checked_dtm(&v))
                }
                (slot::INTENDED_RECIPIENT, _) if set.intended_recipients.is_empty() => {
                    set.intended_recipients = s.values.clone();
                    true
                }
                _ => false,
            };
            if !taken {
                set.extra_slots.push(s);
            }
        }
        let mut marker_seen = false;
        for c in parts.classifications {
            let mine = c.classified_object == set.entry_uuid;
            let taken = mine
                && if c.has_node(classification_node::SUBMISSION_SET) && !marker_seen {
                    // The marker is implied by the type; it is written back
                    // by `to_element`.
                    marker_seen = true;
                    true
                } else if c.has_scheme(scheme::AUTHOR) {
                    set.authors.push(Author::from_classification(&c));
                    true
                } else if c.has_scheme(scheme::CONTENT_TYPE_CODE) {
                    set_once(&mut set.content_type_code, Code::from_classification(&c))
                } else {
                    false
                };
            if !taken {
                set.other_classifications.push(c);
            }
        }
        for e in parts.external_identifiers {
            let taken = e.registry_object == set.entry_uuid
                && if e.has_scheme(ident::UNIQUE_ID) {
                    set_once(&mut set.unique_id, e.value.clone())
                } else if e.has_scheme(ident::SOURCE_ID) {
                    set_once(&mut set.source_id, e.value.clone())
                } else if e.has_scheme(ident::PATIENT_ID) {
                    set_once(&mut set.patient_id, e.value.clone())
                } else {
                    false
                };
            if !taken {
                set.other_external_identifiers.push(e);
            }
        }
        Ok(set)
    }
}

/// Compares two UUID references, ignoring case and stray whitespace.
pub(crate) fn same_uuid(a: &str, b: &str) -> bool {
    let strip = |s: &str| -> String { s.chars().filter(|c| !c.is_whitespace()).collect() };
    strip(a).eq_ignore_ascii_case(&strip(b))
}
