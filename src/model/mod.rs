//! Domain model: patients, professionals, documents and the charter's
//! vocabulary (modes de confidentialité, code de présence, …).

mod check_digits;
mod code;
mod confidentiality_codes;
mod entry_uuid;
mod matricule;
mod mode;
mod oid;
mod professional;
mod secrets;
mod timestamp;
mod unique_id;

pub use code::{Code, CodeError, CodeFields, CodePart};
pub use confidentiality_codes::{
    CodeTableError, ConfidentialityCodeTable, ConfidentialityCodeTableFields,
    UnknownConfidentialityCode,
};
pub use entry_uuid::{EntryUuid, EntryUuidError};
pub use matricule::{DatePart, MATRICULE_AUTHORITY_OID, Matricule, MatriculeError};
pub use mode::{ConfidentialityMode, UnknownMode};
pub use oid::{DocumentUniqueId, Oid, OidError, SourceId, SubmissionSetUniqueId};
pub use professional::{
    Author, EHealthId, EHealthIdError, NamePart, PersonName, PersonNameError, PersonNameFields,
};
pub use secrets::{
    ActivationCode, CharClass, EmailConfirmationCode, Password, PasswordError, Pin, PinError,
    PresenceCode, SecretCodeError,
};
pub use timestamp::{TimestampError, UtcTimestamp};
pub use unique_id::{UniqueIdError, UniqueIdGenerator};
