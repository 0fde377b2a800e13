//! `rs:RegistryResponse` with its `RegistryErrorList` (ITI TF-3 4.2.4), and
//! the typed error codes and severities.

use std::fmt;

use crate::xml::{Element, ns};

use super::constants::{error_severity, response_status};
use super::error::{ReadError, WriteError};
use super::message::XdsMessage;
use super::rim::{Slot, expect_root, missing_child, only_children, required_attr, single_child};
use super::submit::{read_slot_list, slot_list};

macro_rules! code_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident => $code:expr ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A code this crate does not know, kept as received.
            Other(String),
        }

        impl $name {
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $code, )+
                    $name::Other(s) => s,
                }
            }

            /// Reads a code (error codes are case-sensitive strings).
            pub fn from_code(code: &str) -> Self {
                match code {
                    $( $code => $name::$variant, )+
                    other => $name::Other(other.to_owned()),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

code_enum! {
    /// Error codes of ITI TF-3 Table 4.2.4.1-2 (with the ITI-57 metadata
    /// update codes). There is no standard `XDSPolicyViolation`: a policy
    /// refusal is reported by the platform with a code of its own, which
    /// reads as `Other`.
    XdsErrorCode {
        DocumentUniqueIdError => "XDSDocumentUniqueIdError",
        DuplicateUniqueIdInRegistry => "XDSDuplicateUniqueIdInRegistry",
        ExtraMetadataNotSaved => "XDSExtraMetadataNotSaved",
        MissingDocument => "XDSMissingDocument",
        MissingDocumentMetadata => "XDSMissingDocumentMetadata",
        MissingHomeCommunityId => "XDSMissingHomeCommunityId",
        NonIdenticalHash => "XDSNonIdenticalHash",
        NonIdenticalSize => "XDSNonIdenticalSize",
        PatientIdDoesNotMatch => "XDSPatientIdDoesNotMatch",
        RegistryBusy => "XDSRegistryBusy",
        RegistryDeprecatedDocumentError => "XDSRegistryDeprecatedDocumentError",
        RegistryDuplicateUniqueIdInMessage => "XDSRegistryDuplicateUniqueIdInMessage",
        RegistryError => "XDSRegistryError",
        RegistryMetadataError => "XDSRegistryMetadataError",
        RegistryNotAvailable => "XDSRegistryNotAvailable",
        RegistryOutOfResources => "XDSRegistryOutOfResources",
        RepositoryBusy => "XDSRepositoryBusy",
        RepositoryDuplicateUniqueIdInMessage => "XDSRepositoryDuplicateUniqueIdInMessage",
        RepositoryError => "XDSRepositoryError",
        RepositoryMetadataError => "XDSRepositoryMetadataError",
        RepositoryNotAvailable => "XDSRepositoryNotAvailable",
        RepositoryOutOfResources => "XDSRepositoryOutOfResources",
        ResultNotSinglePatient => "XDSResultNotSinglePatient",
        StoredQueryMissingParam => "XDSStoredQueryMissingParam",
        StoredQueryParamNumber => "XDSStoredQueryParamNumber",
        TooManyResults => "XDSTooManyResults",
        UnavailableCommunity => "XDSUnavailableCommunity",
        UnknownCommunity => "XDSUnknownCommunity",
        UnknownPatientId => "XDSUnknownPatientId",
        UnknownRepositoryId => "XDSUnknownRepositoryId",
        UnknownStoredQuery => "XDSUnknownStoredQuery",
        MetadataUpdateError => "XDSMetadataUpdateError",
        MetadataUpdateOperationError => "XDSMetadataUpdateOperationError",
        MetadataVersionError => "XDSMetadataVersionError",
        PatientIdReconciliationError => "XDSPatientIDReconciliationError",
        UnresolvedReferenceException => "UnresolvedReferenceException",
        PartialReplaceContentNotProcessed => "PartialReplaceContentNotProcessed",
        PartialAppendContentNotProcessed => "PartialAppendContentNotProcessed",
        PartialFolderContentNotProcessed => "PartialFolderContentNotProcessed",
        PartialTransformNotProcessed => "PartialTransformNotProcessed",
        PartialTransformReplaceNotProcessed => "PartialTransformReplaceNotProcessed",
        InvalidDocumentContent => "InvalidDocumentContent",
        DocumentQueued => "DocumentQueued",
    }
}

/// Severity of a `RegistryError`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Severity {
    Error,
    Warning,
    Other(String),
}

impl Severity {
    pub fn as_uri(&self) -> &str {
        match self {
            Severity::Error => error_severity::ERROR,
            Severity::Warning => error_severity::WARNING,
            Severity::Other(s) => s,
        }
    }

    pub fn from_uri(uri: &str) -> Self {
        if uri == error_severity::ERROR {
            Severity::Error
        } else if uri == error_severity::WARNING {
            Severity::Warning
        } else {
            Severity::Other(uri.to_owned())
        }
    }

    /// Anything but a warning stops the transaction.
    pub fn is_error(&self) -> bool {
        !matches!(self, Severity::Warning)
    }
}

/// `status` of a registry response.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ResponseStatus {
    Success,
    Failure,
    PartialSuccess,
    Other(String),
}

impl ResponseStatus {
    pub fn as_uri(&self) -> &str {
        match self {
            ResponseStatus::Success => response_status::SUCCESS,
            ResponseStatus::Failure => response_status::FAILURE,
            ResponseStatus::PartialSuccess => response_status::PARTIAL_SUCCESS,
            ResponseStatus::Other(s) => s,
        }
    }

    pub fn from_uri(uri: &str) -> Self {
        match uri {
            response_status::SUCCESS => ResponseStatus::Success,
            response_status::FAILURE => ResponseStatus::Failure,
            response_status::PARTIAL_SUCCESS => ResponseStatus::PartialSuccess,
            other => ResponseStatus::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for ResponseStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ResponseStatus::Success => "Success",
            ResponseStatus::Failure => "Failure",
            ResponseStatus::PartialSuccess => "PartialSuccess",
            ResponseStatus::Other(s) => s,
        })
    }
}

/// One `rs:RegistryError`. Its text content (IHE requires it empty) is not
/// kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryError {
    pub error_code: XdsErrorCode,
    /// Human-readable explanation (which attribute, which value).
    pub code_context: String,
    /// Where: an object id, a slot name, or the component that failed.
    pub location: Option<String>,
    pub severity: Severity,
}

impl RegistryError {
    /// An error of severity Error.
    pub fn error(code: XdsErrorCode, context: impl Into<String>, location: Option<String>) -> Self {
        RegistryError {
            error_code: code,
            code_context: context.into(),
            location,
            severity: Severity::Error,
        }
    }

    /// An error of severity Warning.
    pub fn warning(
        code: XdsErrorCode,
        context: impl Into<String>,
        location: Option<String>,
    ) -> Self {
        RegistryError {
            severity: Severity::Warning,
            ..RegistryError::error(code, context, location)
        }
    }

    fn to_element(&self) -> Element {
        let mut el = Element::new(ns::RS, "rs", "RegistryError")
            .with_attr("errorCode", self.error_code.as_str())
            .with_attr("codeContext", self.code_context.clone())
            .with_attr("severity", self.severity.as_uri());
        if let Some(l) = &self.location {
            el.set_attr("location", l.clone());
        }
        el
    }

    fn from_element(el: &Element) -> Result<Self, ReadError> {
        only_children(el, &[])?;
        Ok(RegistryError {
            error_code: XdsErrorCode::from_code(required_attr(el, "errorCode")?),
            code_context: required_attr(el, "codeContext")?.to_owned(),
            location: el.attr("location").map(str::to_owned),
            // The schema default.
            severity: el
                .attr("severity")
                .map_or(Severity::Error, Severity::from_uri),
        })
    }
}

impl fmt::Display for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.severity.is_error() {
            "error"
        } else {
            "warning"
        };
        write!(f, "{} ({kind}): {}", self.error_code, self.code_context)?;
        if let Some(l) = &self.location {
            write!(f, " [at {l}]")?;
        }
        Ok(())
    }
}

/// A registry or repository answer that is not a plain success, as a Rust
/// error.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct RegistryFailure {
    pub status: ResponseStatus,
    /// All entries of the error list (warnings included).
    pub errors: Vec<RegistryError>,
}

impl RegistryFailure {
    /// True when one of the errors has `code`.
    pub fn has(&self, code: &XdsErrorCode) -> bool {
        self.errors.iter().any(|e| &e.error_code == code)
    }
}

impl fmt::Display for RegistryFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the registry answered {}", self.status)?;
        if self.errors.is_empty() {
            return f.write_str(" without saying why");
        }
        for (i, e) in self.errors.iter().enumerate() {
            f.write_str(if i == 0 { ": " } else { "; " })?;
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// `rs:RegistryResponse`: the answer to ITI-41, ITI-42 and ITI-57, and the
/// fields of ebRS `RegistryResponseType` that every response shares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryResponse {
    pub status: ResponseStatus,
    pub request_id: Option<String>,
    pub response_slots: Vec<Slot>,
    pub errors: Vec<RegistryError>,
}

impl RegistryResponse {
    pub fn success() -> Self {
        RegistryResponse::with_errors(ResponseStatus::Success, Vec::new())
    }

    /// A response with `status` and `errors`.
    pub fn with_errors(status: ResponseStatus, errors: Vec<RegistryError>) -> Self {
        RegistryResponse {
            status,
            request_id: None,
            response_slots: Vec::new(),
            errors,
        }
    }

    /// `Ok` with the warnings when the status is Success and no entry is an
    /// error; otherwise the failure as an error value.
    pub fn into_result(self) -> Result<Vec<RegistryError>, RegistryFailure> {
        if self.status == ResponseStatus::Success
            && !self.errors.iter().any(|e| e.severity.is_error())
        {
            Ok(self.errors)
        } else {
            Err(RegistryFailure {
                status: self.status,
                errors: self.errors,
            })
        }
    }

    /// Writes the attributes and children of `RegistryResponseType` into
    /// `el` (a `RegistryResponse` or a type extending it).
    pub(crate) fn write_into(&self, el: &mut Element) -> Result<(), WriteError> {
        el.set_attr("status", self.status.as_uri());
        if let Some(r) = &self.request_id {
            el.set_attr("requestId", r.clone());
        }
        if let Some(list) = slot_list(ns::RS, "rs", "ResponseSlotList", &self.response_slots)? {
            el.push(list);
        }
        if !self.errors.is_empty() {
            let highest = if self.errors.iter().any(|e| e.severity.is_error()) {
                Severity::Error
            } else {
                Severity::Warning
            };
            let mut list = Element::new(ns::RS, "rs", "RegistryErrorList")
                .with_attr("highestSeverity", highest.as_uri());
            for e in &self.errors {
                list.push(e.to_element());
            }
            el.push(list);
        }
        Ok(())
    }

    /// Reads the attributes and the `ResponseSlotList`/`RegistryErrorList`
    /// children of `el`; the caller checks its other children.
    pub(crate) fn read_from(el: &Element) -> Result<Self, ReadError> {
        let status = ResponseStatus::from_uri(required_attr(el, "status")?);
        let response_slots = read_slot_list(el, ns::RS, "ResponseSlotList")?;
        let errors = match single_child(el, ns::RS, "RegistryErrorList")? {
            None => Vec::new(),
            Some(list) => {
                only_children(list, &[(ns::RS, "RegistryError")])?;
                list.children_named(ns::RS, "RegistryError")
                    .map(RegistryError::from_element)
                    .collect::<Result<_, _>>()?
            }
        };
        Ok(RegistryResponse {
            status,
            request_id: el.attr("requestId").map(str::to_owned),
            response_slots,
            errors,
        })
    }
}

impl XdsMessage for RegistryResponse {
    const ROOT: (&'static str, &'static str) = (ns::RS, "RegistryResponse");

    fn write_element(&self) -> Result<Element, WriteError> {
        let mut el = Element::new(ns::RS, "rs", "RegistryResponse");
        self.write_into(&mut el)?;
        Ok(el)
    }

    fn from_element(el: &Element) -> Result<Self, ReadError> {
        expect_root(el, ns::RS, "RegistryResponse")?;
        only_children(
            el,
            &[(ns::RS, "ResponseSlotList"), (ns::RS, "RegistryErrorList")],
        )?;
        RegistryResponse::read_from(el)
    }
}

/// Reads the `rs:RegistryResponse` child required inside `parent`.
pub(crate) fn required_registry_response(parent: &Element) -> Result<RegistryResponse, ReadError> {
    let el = single_child(parent, ns::RS, "RegistryResponse")?
        .ok_or_else(|| missing_child(parent, "rs:RegistryResponse"))?;
    RegistryResponse::from_element(el)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_lists_every_error() {
        let r = RegistryResponse::with_errors(
            ResponseStatus::Failure,
            vec![
                RegistryError::error(
                    XdsErrorCode::RegistryMetadataError,
                    "creationTime is missing",
                    Some("Document01".into()),
                ),
                RegistryError::warning(XdsErrorCode::ExtraMetadataNotSaved, "urn:x ignored", None),
            ],
        );
        let failure = r.into_result().unwrap_err();
        assert!(failure.has(&XdsErrorCode::RegistryMetadataError));
        assert_eq!(
            failure.to_string(),
            "the registry answered Failure: XDSRegistryMetadataError (error): creationTime is missing [at Document01]; XDSExtraMetadataNotSaved (warning): urn:x ignored"
        );
    }

    #[test]
    fn success_with_warnings_is_ok_and_success_with_an_error_is_not() {
        let warn = RegistryError::warning(XdsErrorCode::ExtraMetadataNotSaved, "x", None);
        let ok = RegistryResponse::with_errors(ResponseStatus::Success, vec![warn.clone()]);
        assert_eq!(ok.into_result().unwrap(), vec![warn]);
        let bad = RegistryResponse::with_errors(
            ResponseStatus::Success,
            vec![RegistryError::error(XdsErrorCode::RegistryError, "x", None)],
        );
        assert!(bad.into_result().is_err());
        let partial = RegistryResponse::with_errors(ResponseStatus::PartialSuccess, vec![]);
        assert_eq!(
            partial.into_result().unwrap_err().to_string(),
            "the registry answered PartialSuccess without saying why"
        );
    }

    #[test]
    fn unknown_codes_are_kept() {
        assert_eq!(
            XdsErrorCode::from_code("XDSPolicyViolation"),
            XdsErrorCode::Other("XDSPolicyViolation".into())
        );
        assert_eq!(
            XdsErrorCode::from_code("XDSUnknownPatientId"),
            XdsErrorCode::UnknownPatientId
        );
    }
}
