//! Coded values and authors: the two kinds of classification XDS metadata
//! is built from.

use super::constants::slot;
use super::rim::{Classification, Slot, find_slot};

/// A coded value (classCode, typeCode, confidentialityCode…): written as a
/// classification whose `nodeRepresentation` is the code, with a
/// `codingScheme` slot and the display name as its `Name`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Code {
    pub code: String,
    pub coding_scheme: Option<String>,
    pub display_name: Option<String>,
}

impl Code {
    pub fn new(
        code: impl Into<String>,
        coding_scheme: impl Into<String>,
        display_name: impl Into<String>,
    ) -> Self {
        Code {
            code: code.into(),
            coding_scheme: Some(coding_scheme.into()),
            display_name: Some(display_name.into()),
        }
    }

    pub(crate) fn to_classification(
        &self,
        scheme: &str,
        owner: &str,
        id: String,
    ) -> Classification {
        Classification {
            id,
            classified_object: owner.to_owned(),
            classification_scheme: Some(scheme.to_owned()),
            classification_node: None,
            node_representation: Some(self.code.clone()),
            name: self.display_name.clone(),
            slots: self
                .coding_scheme
                .iter()
                .map(|s| Slot::single(slot::CODING_SCHEME, s.clone()))
                .collect(),
        }
    }

    /// Reads a code classification. A missing `nodeRepresentation` reads as
    /// an empty code; slots other than `codingScheme` are not kept (XDS
    /// defines none).
    pub(crate) fn from_classification(c: &Classification) -> Code {
        Code {
            code: c.node_representation.clone().unwrap_or_default(),
            coding_scheme: find_slot(&c.slots, slot::CODING_SCHEME)
                .and_then(Slot::first)
                .map(str::to_owned),
            display_name: c.name.clone(),
        }
    }
}

/// The author of a document or submission (ITI TF-3 4.2.3.1.4): an author
/// classification with `nodeRepresentation=""` and one slot per attribute.
///
/// `person` is an XCN (`id^family^given^^^^^^&authority&ISO`), institutions
/// are XON, telecom values are XTN; they are kept as strings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Author {
    pub person: Option<String>,
    pub institutions: Vec<String>,
    pub roles: Vec<String>,
    pub specialties: Vec<String>,
    pub telecom: Vec<String>,
    /// Slots of the author classification other than the five above
    /// (kept as received, e.g. the old spelling `authorSpeciality`).
    pub extra_slots: Vec<Slot>,
}

impl Author {
    pub(crate) fn to_classification(
        &self,
        scheme: &str,
        owner: &str,
        id: String,
    ) -> Classification {
        let mut slots = Vec::new();
        if let Some(p) = &self.person {
            slots.push(Slot::single(slot::AUTHOR_PERSON, p.clone()));
        }
        for (name, values) in [
            (slot::AUTHOR_INSTITUTION, &self.institutions),
            (slot::AUTHOR_ROLE, &self.roles),
            (slot::AUTHOR_SPECIALTY, &self.specialties),
            (slot::AUTHOR_TELECOMMUNICATION, &self.telecom),
        ] {
            if !values.is_empty() {
                slots.push(Slot::new(name, values.clone()));
            }
        }
        slots.extend(self.extra_slots.iter().cloned());
        Classification {
            id,
            classified_object: owner.to_owned(),
            classification_scheme: Some(scheme.to_owned()),
            classification_node: None,
            node_representation: Some(String::new()),
            name: None,
            slots,
        }
    }

    /// Reads an author classification. `authorPerson` is single-valued in
    /// XDS; extra values after the first are dropped.
    pub(crate) fn from_classification(c: &Classification) -> Author {
        let mut author = Author::default();
        for s in &c.slots {
            match s.name.as_str() {
                slot::AUTHOR_PERSON if author.person.is_none() => {
                    author.person = s.first().map(str::to_owned);
                }
                slot::AUTHOR_INSTITUTION => author.institutions.extend(s.values.iter().cloned()),
                slot::AUTHOR_ROLE => author.roles.extend(s.values.iter().cloned()),
                slot::AUTHOR_SPECIALTY => author.specialties.extend(s.values.iter().cloned()),
                slot::AUTHOR_TELECOMMUNICATION => author.telecom.extend(s.values.iter().cloned()),
                _ => author.extra_slots.push(s.clone()),
            }
        }
        author
    }
}
