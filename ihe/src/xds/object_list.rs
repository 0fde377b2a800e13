//! `rim:RegistryObjectList`: the metadata of a submission or a query
//! result, sorted into typed objects.

use std::collections::{HashMap, HashSet};

use crate::xml::{Element, ns};

use super::association::Association;
use super::constants::classification_node;
use super::document_entry::DocumentEntry;
use super::error::{ReadError, WriteError, element_name};
use super::rim::{Classification, ExternalIdentifier, ObjectRef, expect_root, reference_attr, rim};
use super::submission_set::SubmissionSet;

/// The objects of a `rim:RegistryObjectList`.
///
/// Reading: a `RegistryPackage` is a SubmissionSet when a classification
/// with the SubmissionSet node classifies it, inside it or next to it in the
/// list; other packages (Folders) are kept in `other_objects`. Top-level
/// `Classification`/`ExternalIdentifier` elements that point at an entry or
/// submission set of the list are read as if written inside it; the others
/// are kept in `other_objects`. Writing puts every classification inside
/// its object and orders the list as submission sets, entries,
/// associations, object references, then the others: the document order of
/// the input is not kept.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RegistryObjectList {
    pub submission_sets: Vec<SubmissionSet>,
    pub document_entries: Vec<DocumentEntry>,
    pub associations: Vec<Association>,
    pub object_refs: Vec<ObjectRef>,
    /// Registry objects this crate does not model (Folders, Organizations…),
    /// as parsed.
    pub other_objects: Vec<Element>,
}

impl RegistryObjectList {
    pub fn is_empty(&self) -> bool {
        self.submission_sets.is_empty()
            && self.document_entries.is_empty()
            && self.associations.is_empty()
            && self.object_refs.is_empty()
            && self.other_objects.is_empty()
    }

    pub fn to_element(&self) -> Result<Element, WriteError> {
        let mut el = rim("RegistryObjectList");
        for s in &self.submission_sets {
            el.push(s.to_element()?);
        }
        for d in &self.document_entries {
            el.push(d.to_element()?);
        }
        for a in &self.associations {
            el.push(a.to_element()?);
        }
        for r in &self.object_refs {
            el.push(r.to_element());
        }
        for o in &self.other_objects {
            el.push(o.clone());
        }
        Ok(el)
    }

    pub fn from_element(el: &Element) -> Result<Self, ReadError> {
        expect_root(el, ns::RIM, "RegistryObjectList")?;
        for child in el.elements() {
            if child.ns.as_deref() != Some(ns::RIM) {
                return Err(ReadError::UnexpectedElement {
                    parent: "rim:RegistryObjectList".into(),
                    found: element_name(child),
                });
            }
        }

        // Which ids are entries and which packages are submission sets.
        let mut entry_ids = HashSet::new();
        let mut package_ids = HashSet::new();
        let mut submission_set_ids = HashSet::new();
        for child in el.elements() {
            if child.local == "ExtrinsicObject" {
                if let Some(id) = reference_attr(child, "id")? {
                    entry_ids.insert(id);
                }
            } else if child.local == "RegistryPackage"
                && let Some(id) = reference_attr(child, "id")?
            {
                if SubmissionSet::is_marked_inside(child) {
                    submission_set_ids.insert(id.clone());
                }
                package_ids.insert(id);
            }
        }
        let mut top_classifications = Vec::new();
        for child in el.children_named(ns::RIM, "Classification") {
            let c = Classification::from_element(child)?;
            if c.has_node(classification_node::SUBMISSION_SET)
                && package_ids.contains(&c.classified_object)
            {
                submission_set_ids.insert(c.classified_object.clone());
            }
            top_classifications.push((c, child));
        }

        let owned = |id: &str| entry_ids.contains(id) || submission_set_ids.contains(id);
        let mut list = RegistryObjectList::default();
        let mut outside_classifications: HashMap<String, Vec<Classification>> = HashMap::new();
        for (c, raw) in top_classifications {
            if owned(&c.classified_object) {
                outside_classifications
                    .entry(c.classified_object.clone())
                    .or_default()
                    .push(c);
            } else {
                list.other_objects.push(raw.clone());
            }
        }
        let mut outside_identifiers: HashMap<String, Vec<ExternalIdentifier>> = HashMap::new();
        for child in el.children_named(ns::RIM, "ExternalIdentifier") {
            let e = ExternalIdentifier::from_element(child)?;
            if owned(&e.registry_object) {
                outside_identifiers
                    .entry(e.registry_object.clone())
                    .or_default()
                    .push(e);
            } else {
                list.other_objects.push(child.clone());
            }
        }

        for child in el.elements() {
            match child.local.as_str() {
                "ExtrinsicObject" => {
                    let id = reference_attr(child, "id")?.unwrap_or_default();
                    list.document_entries.push(DocumentEntry::read_with(
                        child,
                        outside_classifications.remove(&id).unwrap_or_default(),
                        outside_identifiers.remove(&id).unwrap_or_default(),
                    )?);
                }
                "RegistryPackage" => {
                    let id = reference_attr(child, "id")?.unwrap_or_default();
                    if submission_set_ids.contains(&id) {
                        list.submission_sets.push(SubmissionSet::read_with(
                            child,
                            outside_classifications.remove(&id).unwrap_or_default(),
                            outside_identifiers.remove(&id).unwrap_or_default(),
                        )?);
                    } else {
                        list.other_objects.push(child.clone());
                    }
                }
                "Association" => list.associations.push(Association::from_element(child)?),
                "ObjectRef" => list.object_refs.push(ObjectRef::from_element(child)?),
                // Already sorted above.
                "Classification" | "ExternalIdentifier" => {}
                _ => list.other_objects.push(child.clone()),
            }
        }
        Ok(list)
    }
}
