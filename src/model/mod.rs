//! Domain model: patients, professionals, documents and the charter's
//! vocabulary (modes de confidentialité, code de présence, …).

mod check_digits;
mod code;
mod confidentiality_codes;
mod document;
mod entry_uuid;
mod hash;
mod language;
mod matricule;
mod mime;
mod mode;
mod oid;
mod professional;
mod secrets;
mod statement;
mod submission;
mod timestamp;
mod unique_id;

pub use code::{Code, CodeError, CodeFields, CodePart};
pub use confidentiality_codes::{
    CodeTableError, ConfidentialityCodeTable, ConfidentialityCodeTableFields,
    UnknownConfidentialityCode,
};
pub use document::{
    DocumentMetadata, DocumentMetadataBuilder, DocumentMetadataFields, FieldError, MAX_TITLE_BYTES,
    MetadataError,
};
pub use entry_uuid::{EntryUuid, EntryUuidError};
pub use hash::{Sha1Hash, Sha1HashError};
pub use language::{LanguageCode, LanguageCodeError};
pub use matricule::{DatePart, MATRICULE_AUTHORITY_OID, Matricule, MatriculeError};
pub use mime::{MimeType, UnsupportedMimeType};
pub use mode::{ConfidentialityMode, UnknownMode};
pub use oid::{DocumentUniqueId, Oid, OidError, SourceId, SubmissionSetUniqueId};
pub use professional::{
    Author, EHealthId, EHealthIdError, NamePart, PersonName, PersonNameError, PersonNameFields,
};
pub use secrets::{
    ActivationCode, CharClass, EmailConfirmationCode, Password, PasswordError, Pin, PinError,
    PresenceCode, SecretCodeError,
};
pub use statement::{
    DropFolderPath, DropFolderPathError, PatientInformedStatement, StatementSource,
    StatementWireError,
};
pub use submission::{Replacement, Submission, SubmissionError, SubmissionFields, SubmissionSet};
pub use timestamp::{TimestampError, UtcTimestamp};
pub use unique_id::{UniqueIdError, UniqueIdGenerator};
