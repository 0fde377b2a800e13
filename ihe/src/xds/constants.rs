//! The fixed identifiers of XDS.b metadata, in one place.
//!
//! Values from IHE ITI TF-3 4.2.5 (classification schemes, external
//! identifier schemes, object types, classification nodes), ITI TF-3 4.2.2
//! (association types), ITI TF-3 4.2.4.1 (response statuses and error
//! severities) and ITI TF-2 3.18.4.1.2.4 (stored query ids). Readers compare
//! them case-insensitively (UUIDs are case-insensitive); writers use them
//! exactly as given here.

/// Prefix of every UUID reference in ebRIM.
pub const URN_UUID_PREFIX: &str = "urn:uuid:";

/// DocumentEntry object types (the `objectType` of an `ExtrinsicObject`).
pub mod object_type {
    /// A stable DocumentEntry: a document that exists and does not change.
    pub const STABLE_DOCUMENT_ENTRY: &str = "urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1";
    /// An on-demand DocumentEntry: content made at retrieval time.
    pub const ON_DEMAND_DOCUMENT_ENTRY: &str = "urn:uuid:34268e47-fdf5-41a6-ba33-82133c465248";
    /// ebRIM object type of a `RegistryPackage`.
    pub const REGISTRY_PACKAGE: &str =
        "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:RegistryPackage";
    /// ebRIM object type of an `Association`.
    pub const ASSOCIATION: &str =
        "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Association";
    /// ebRIM object type of a `Classification`.
    pub const CLASSIFICATION: &str =
        "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Classification";
    /// ebRIM object type of an `ExternalIdentifier`.
    pub const EXTERNAL_IDENTIFIER: &str =
        "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:ExternalIdentifier";
}

/// Classification nodes that say what a `RegistryPackage` is.
pub mod classification_node {
    /// The `RegistryPackage` is a SubmissionSet.
    pub const SUBMISSION_SET: &str = "urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd";
    /// The `RegistryPackage` is a Folder.
    pub const FOLDER: &str = "urn:uuid:d9d542f3-6cc4-48b6-8870-ea235fbc94c2";
}

/// Classification schemes of DocumentEntry attributes.
pub mod document_entry_scheme {
    pub const AUTHOR: &str = "urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d";
    pub const CLASS_CODE: &str = "urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a";
    pub const CONFIDENTIALITY_CODE: &str = "urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f";
    pub const EVENT_CODE_LIST: &str = "urn:uuid:2c6b8cb7-8b2a-4051-b291-b1ae6a575ef4";
    pub const FORMAT_CODE: &str = "urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d";
    pub const HEALTHCARE_FACILITY_TYPE_CODE: &str = "urn:uuid:f33fb8ac-18af-42cc-ae0e-ed0b0bdb91e1";
    pub const PRACTICE_SETTING_CODE: &str = "urn:uuid:cccf5598-8b07-4b77-a05e-ae952c785ead";
    pub const TYPE_CODE: &str = "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983";
    /// Marks metadata submitted under the Metadata-Limited option.
    pub const LIMITED_METADATA: &str = "urn:uuid:ab9b591b-83ab-4d03-8f5d-f93b1fb92e85";
}

/// External identifier schemes of DocumentEntry attributes.
pub mod document_entry_identifier {
    pub const PATIENT_ID: &str = "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427";
    pub const UNIQUE_ID: &str = "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab";
}

/// Classification schemes of SubmissionSet attributes.
pub mod submission_set_scheme {
    pub const AUTHOR: &str = "urn:uuid:a7058bb9-b4e4-4307-ba5b-e3f0ab85e12d";
    pub const CONTENT_TYPE_CODE: &str = "urn:uuid:aa543740-bdda-424e-8c96-df4873be8500";
    pub const LIMITED_METADATA: &str = "urn:uuid:5003a9db-8d8d-49e6-bf0c-990e34ac7707";
}

/// External identifier schemes of SubmissionSet attributes.
pub mod submission_set_identifier {
    pub const PATIENT_ID: &str = "urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446";
    pub const SOURCE_ID: &str = "urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832";
    pub const UNIQUE_ID: &str = "urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8";
}

/// Folder schemes (folders are not built by this crate; the readers keep
/// them as unparsed objects, and these let callers recognise them).
pub mod folder_scheme {
    pub const CODE_LIST: &str = "urn:uuid:1ba97051-7806-41a8-a48b-8fce7af683c5";
    pub const PATIENT_ID: &str = "urn:uuid:f64ffdf0-4b97-4e06-b79f-a52b38ec2f8a";
    pub const UNIQUE_ID: &str = "urn:uuid:75df8f67-9973-4fbe-a900-df66cefecc5a";
}

/// Association types.
pub mod association_type {
    pub const HAS_MEMBER: &str = "urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember";
    /// Replacement: the source DocumentEntry replaces the target.
    pub const REPLACE: &str = "urn:ihe:iti:2007:AssociationType:RPLC";
    /// Transformation.
    pub const TRANSFORM: &str = "urn:ihe:iti:2007:AssociationType:XFRM";
    /// Addendum.
    pub const APPEND: &str = "urn:ihe:iti:2007:AssociationType:APND";
    /// Transformation that also replaces.
    pub const TRANSFORM_AND_REPLACE: &str = "urn:ihe:iti:2007:AssociationType:XFRM_RPLC";
    /// Digital signature.
    pub const SIGNS: &str = "urn:ihe:iti:2007:AssociationType:signs";
    /// Snapshot of an on-demand document.
    pub const IS_SNAPSHOT_OF: &str = "urn:ihe:iti:2010:AssociationType:IsSnapshotOf";
    /// Metadata update (ITI-57): change of availability status.
    pub const UPDATE_AVAILABILITY_STATUS: &str =
        "urn:ihe:iti:2010:AssociationType:UpdateAvailabilityStatus";
    /// Metadata update (ITI-57): submission of an association on its own.
    pub const SUBMIT_ASSOCIATION: &str = "urn:ihe:iti:2010:AssociationType:SubmitAssociation";
}

/// Availability status of registry objects (the `status` attribute).
pub mod status {
    pub const APPROVED: &str = "urn:oasis:names:tc:ebxml-regrep:StatusType:Approved";
    pub const DEPRECATED: &str = "urn:oasis:names:tc:ebxml-regrep:StatusType:Deprecated";
    pub const SUBMITTED: &str = "urn:oasis:names:tc:ebxml-regrep:StatusType:Submitted";
}

/// Status of a registry response.
pub mod response_status {
    pub const SUCCESS: &str = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success";
    pub const FAILURE: &str = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Failure";
    pub const PARTIAL_SUCCESS: &str = "urn:ihe:iti:2007:ResponseStatusType:PartialSuccess";
}

/// Severity of a `RegistryError`.
pub mod error_severity {
    pub const ERROR: &str = "urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error";
    pub const WARNING: &str = "urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Warning";
}

/// Stored query ids (`AdhocQuery/@id`).
pub mod stored_query {
    pub const FIND_DOCUMENTS: &str = "urn:uuid:14d4debf-8f97-4251-9a74-a90016b0af0d";
    pub const FIND_SUBMISSION_SETS: &str = "urn:uuid:f26abbcb-ac74-4422-8a30-edb644bbc1a9";
    pub const FIND_FOLDERS: &str = "urn:uuid:958f3006-baad-4929-a4de-ff1114824431";
    pub const GET_ALL: &str = "urn:uuid:10b545ea-725c-446d-9b95-8aeb444eddf3";
    pub const GET_DOCUMENTS: &str = "urn:uuid:5c4f972b-d56b-40ac-a5fc-c8ca9b40b9d4";
    pub const GET_FOLDERS: &str = "urn:uuid:5737b14c-8a1a-4539-b659-e03a34a5e1e4";
    pub const GET_ASSOCIATIONS: &str = "urn:uuid:a7ae438b-4bc2-4642-93e9-be891f7bb155";
    pub const GET_DOCUMENTS_AND_ASSOCIATIONS: &str =
        "urn:uuid:bab9529a-4a10-40b3-a01f-f68a615d247a";
    pub const GET_SUBMISSION_SETS: &str = "urn:uuid:51224314-5390-4169-9b91-b1980040715a";
    pub const GET_SUBMISSION_SET_AND_CONTENTS: &str =
        "urn:uuid:e8e3cb2c-e39c-46b9-99e4-c12f57260b83";
    pub const GET_FOLDER_AND_CONTENTS: &str = "urn:uuid:b909a503-523d-4517-8acf-8e5834dfc4c7";
    pub const GET_FOLDERS_FOR_DOCUMENT: &str = "urn:uuid:10cae35a-c7f9-4cf5-b61e-fc3278ffb578";
    pub const GET_RELATED_DOCUMENTS: &str = "urn:uuid:d90e5407-b356-4d91-a89f-873917b4b0e6";
}

/// Names of the slots this crate reads and writes.
pub mod slot {
    pub const CREATION_TIME: &str = "creationTime";
    pub const LANGUAGE_CODE: &str = "languageCode";
    pub const SERVICE_START_TIME: &str = "serviceStartTime";
    pub const SERVICE_STOP_TIME: &str = "serviceStopTime";
    pub const SOURCE_PATIENT_ID: &str = "sourcePatientId";
    pub const SOURCE_PATIENT_INFO: &str = "sourcePatientInfo";
    pub const HASH: &str = "hash";
    pub const SIZE: &str = "size";
    pub const LEGAL_AUTHENTICATOR: &str = "legalAuthenticator";
    pub const REPOSITORY_UNIQUE_ID: &str = "repositoryUniqueId";
    pub const SUBMISSION_TIME: &str = "submissionTime";
    pub const INTENDED_RECIPIENT: &str = "intendedRecipient";
    pub const CODING_SCHEME: &str = "codingScheme";
    pub const AUTHOR_PERSON: &str = "authorPerson";
    pub const AUTHOR_INSTITUTION: &str = "authorInstitution";
    pub const AUTHOR_ROLE: &str = "authorRole";
    pub const AUTHOR_SPECIALTY: &str = "authorSpecialty";
    pub const AUTHOR_TELECOMMUNICATION: &str = "authorTelecommunication";
    pub const SUBMISSION_SET_STATUS: &str = "SubmissionSetStatus";
    /// ITI-57: the version of the DocumentEntry an update replaces.
    pub const PREVIOUS_VERSION: &str = "PreviousVersion";
}

/// Stored query parameter names.
pub mod query_param {
    pub const PATIENT_ID: &str = "$XDSDocumentEntryPatientId";
    pub const STATUS: &str = "$XDSDocumentEntryStatus";
    pub const CREATION_TIME_FROM: &str = "$XDSDocumentEntryCreationTimeFrom";
    pub const CREATION_TIME_TO: &str = "$XDSDocumentEntryCreationTimeTo";
    pub const CLASS_CODE: &str = "$XDSDocumentEntryClassCode";
    pub const TYPE_CODE: &str = "$XDSDocumentEntryTypeCode";
    pub const CONFIDENTIALITY_CODE: &str = "$XDSDocumentEntryConfidentialityCode";
    pub const ENTRY_UUID: &str = "$XDSDocumentEntryEntryUUID";
    pub const UNIQUE_ID: &str = "$XDSDocumentEntryUniqueId";
    pub const HOME_COMMUNITY_ID: &str = "$homeCommunityId";
}

/// Names written in the `Name` of external identifiers, as ITI TF-3 shows
/// them (informative; readers go by the scheme).
pub mod identifier_name {
    pub const DOCUMENT_ENTRY_PATIENT_ID: &str = "XDSDocumentEntry.patientId";
    pub const DOCUMENT_ENTRY_UNIQUE_ID: &str = "XDSDocumentEntry.uniqueId";
    pub const SUBMISSION_SET_PATIENT_ID: &str = "XDSSubmissionSet.patientId";
    pub const SUBMISSION_SET_SOURCE_ID: &str = "XDSSubmissionSet.sourceId";
    pub const SUBMISSION_SET_UNIQUE_ID: &str = "XDSSubmissionSet.uniqueId";
}
