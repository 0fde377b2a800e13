//! ITI-18 answer: `query:AdhocQueryResponse`.

use crate::xml::{Element, ns};

use super::error::{ReadError, WriteError};
use super::message::XdsMessage;
use super::object_list::RegistryObjectList;
use super::response::{RegistryError, RegistryFailure, RegistryResponse, ResponseStatus};
use super::rim::{Slot, expect_root, only_children, single_child};

/// `query:AdhocQueryResponse`: the status, errors, and the objects found
/// (DocumentEntries for `LeafClass`, `ObjectRef`s for `ObjectRef`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdhocQueryResponse {
    pub status: ResponseStatus,
    pub request_id: Option<String>,
    pub response_slots: Vec<Slot>,
    pub errors: Vec<RegistryError>,
    pub objects: RegistryObjectList,
}

impl AdhocQueryResponse {
    /// A successful answer with `objects`.
    pub fn success(objects: RegistryObjectList) -> Self {
        AdhocQueryResponse {
            status: ResponseStatus::Success,
            request_id: None,
            response_slots: Vec::new(),
            errors: Vec::new(),
            objects,
        }
    }

    /// A failed answer.
    pub fn failure(errors: Vec<RegistryError>) -> Self {
        AdhocQueryResponse {
            status: ResponseStatus::Failure,
            errors,
            ..AdhocQueryResponse::success(RegistryObjectList::default())
        }
    }

    /// The objects and warnings on success; the failure as an error value
    /// otherwise (for PartialSuccess, read the fields instead).
    pub fn into_result(self) -> Result<(RegistryObjectList, Vec<RegistryError>), RegistryFailure> {
        let warnings = RegistryResponse::with_errors(self.status, self.errors).into_result()?;
        Ok((self.objects, warnings))
    }
}

impl XdsMessage for AdhocQueryResponse {
    const ROOT: (&'static str, &'static str) = (ns::QUERY, "AdhocQueryResponse");

    fn write_element(&self) -> Result<Element, WriteError> {
        let mut el = Element::new(ns::QUERY, "query", "AdhocQueryResponse");
        RegistryResponse {
            status: self.status.clone(),
            request_id: self.request_id.clone(),
            response_slots: self.response_slots.clone(),
            errors: self.errors.clone(),
        }
        .write_into(&mut el)?;
        el.push(self.objects.to_element()?);
        Ok(el)
    }

    /// Reads the response. A missing `RegistryObjectList` (which the schema
    /// requires) reads as empty: registries leave it out of failures, and
    /// the error list is then what matters.
    fn from_element(el: &Element) -> Result<Self, ReadError> {
        expect_root(el, ns::QUERY, "AdhocQueryResponse")?;
        only_children(
            el,
            &[
                (ns::RS, "ResponseSlotList"),
                (ns::RS, "RegistryErrorList"),
                (ns::RIM, "RegistryObjectList"),
            ],
        )?;
        let header = RegistryResponse::read_from(el)?;
        let objects = match single_child(el, ns::RIM, "RegistryObjectList")? {
            Some(list) => RegistryObjectList::from_element(list)?,
            None => RegistryObjectList::default(),
        };
        Ok(AdhocQueryResponse {
            status: header.status,
            request_id: header.request_id,
            response_slots: header.response_slots,
            errors: header.errors,
            objects,
        })
    }
}
