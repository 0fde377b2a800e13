//! The fixed error codes shared by the IPC protocol and the C ABI.
//!
//! A code, once published, keeps its number and meaning forever; a retired
//! code is never reused. Codes are grouped by hundreds: 1xx API misuse,
//! 2xx talking to the daemon, 3xx bad input, 4xx card and session, 5xx the
//! platform, 9xx internal.

use std::fmt;

macro_rules! error_codes {
    ($( $(#[doc = $doc:literal])* $variant:ident = $num:literal, $name:literal; )*) => {
        /// A stable error code (see the module documentation).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u32)]
        pub enum ErrorCode {
            $( $(#[doc = $doc])* $variant = $num, )*
        }

        impl ErrorCode {
            /// Every code, in numeric order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The number carried on the wire and returned by `dsp_error_code()`.
            pub const fn number(self) -> u32 {
                self as u32
            }

            /// The symbolic name (`DSP_E_…`), as in the C header.
            pub const fn name(self) -> &'static str {
                match self { $( ErrorCode::$variant => $name, )* }
            }

            /// The code for a number, if it is one of ours.
            pub const fn from_number(n: u32) -> Option<ErrorCode> {
                match n { $( $num => Some(ErrorCode::$variant), )* _ => None }
            }

            /// One line saying what the code means.
            pub fn description(self) -> &'static str {
                match self { $( ErrorCode::$variant => concat!($($doc),*).trim_ascii(), )* }
            }
        }
    };
}

error_codes! {
    /// An argument is invalid (the message names it).
    InvalidArgument = 100, "DSP_E_INVALID_ARGUMENT";
    /// A required pointer or handle is NULL.
    NullArgument = 101, "DSP_E_NULL_ARGUMENT";
    /// A string is not valid UTF-8.
    InvalidUtf8 = 102, "DSP_E_INVALID_UTF8";
    /// A struct's size or version field does not match this library.
    StructVersion = 103, "DSP_E_STRUCT_VERSION";
    /// The library caught a panic; the call had no effect.
    Panic = 104, "DSP_E_PANIC";
    /// The daemon is not running or its socket cannot be reached.
    DaemonNotRunning = 200, "DSP_E_DAEMON_NOT_RUNNING";
    /// The connection to the daemon was lost during the call.
    ConnectionLost = 201, "DSP_E_CONNECTION_LOST";
    /// The call did not finish within its timeout.
    Timeout = 202, "DSP_E_TIMEOUT";
    /// The daemon or the caller broke the IPC protocol.
    Protocol = 203, "DSP_E_PROTOCOL";
    /// An IPC message line is longer than the 1 MiB limit.
    LineTooLong = 204, "DSP_E_LINE_TOO_LONG";
    /// An IPC message is not valid JSON.
    ParseError = 205, "DSP_E_PARSE_ERROR";
    /// The IPC method does not exist.
    MethodNotFound = 206, "DSP_E_METHOD_NOT_FOUND";
    /// The IPC method's parameters are missing or of the wrong type.
    InvalidParams = 207, "DSP_E_INVALID_PARAMS";
    /// The daemon refused the connection (another user's socket).
    PermissionDenied = 208, "DSP_E_PERMISSION_DENIED";
    /// The patient's matricule is not valid.
    BadMatricule = 300, "DSP_E_BAD_MATRICULE";
    /// The named file does not exist.
    FileNotFound = 301, "DSP_E_FILE_NOT_FOUND";
    /// The named path is not a regular file.
    NotAFile = 302, "DSP_E_NOT_A_FILE";
    /// The document's type is not one the DSP accepts.
    UnsupportedMimeType = 303, "DSP_E_UNSUPPORTED_MIME_TYPE";
    /// The document is larger than the configured limit.
    FileTooLarge = 304, "DSP_E_FILE_TOO_LARGE";
    /// The document is empty.
    EmptyFile = 305, "DSP_E_EMPTY_FILE";
    /// A document metadata field is missing or malformed (the message names it).
    BadMetadata = 306, "DSP_E_BAD_METADATA";
    /// The confidentiality mode is not one of the four.
    BadMode = 307, "DSP_E_BAD_MODE";
    /// The statement that the patient was informed and agrees is missing.
    MissingPatientStatement = 308, "DSP_E_MISSING_PATIENT_STATEMENT";
    /// The presence code is malformed.
    BadPresenceCode = 309, "DSP_E_BAD_PRESENCE_CODE";
    /// The PIN is malformed (not 4 to 8 digits).
    BadPin = 310, "DSP_E_BAD_PIN";
    /// The new password does not meet the password rules.
    WeakPassword = 311, "DSP_E_WEAK_PASSWORD";
    /// The output path cannot be used (exists, or its folder is missing).
    BadOutputPath = 312, "DSP_E_BAD_OUTPUT_PATH";
    /// No job has this id.
    UnknownJob = 313, "DSP_E_UNKNOWN_JOB";
    /// No document has this id, or it is not visible to this professional.
    UnknownDocument = 314, "DSP_E_UNKNOWN_DOCUMENT";
    /// No card reader is connected.
    NoReader = 400, "DSP_E_NO_READER";
    /// No card is in the reader.
    NoCard = 401, "DSP_E_NO_CARD";
    /// The PIN is wrong; the tries left are reported.
    WrongPin = 402, "DSP_E_WRONG_PIN";
    /// The card's PIN is blocked; it must be unblocked with the PUK.
    CardBlocked = 403, "DSP_E_CARD_BLOCKED";
    /// The session is locked; unlock it with the PIN.
    SessionLocked = 404, "DSP_E_SESSION_LOCKED";
    /// No platform session is open (authentication needed).
    NotAuthenticated = 405, "DSP_E_NOT_AUTHENTICATED";
    /// The platform session expired.
    SessionExpired = 406, "DSP_E_SESSION_EXPIRED";
    /// PIN entry on the reader's pinpad is in progress.
    PinpadPending = 407, "DSP_E_PINPAD_PENDING";
    /// A different card was inserted than the one the session belongs to.
    CardSwapped = 408, "DSP_E_CARD_SWAPPED";
    /// The card's certificate is expired or not yet valid.
    CertificateNotValid = 409, "DSP_E_CERTIFICATE_NOT_VALID";
    /// The card or reader failed.
    CardError = 410, "DSP_E_CARD_ERROR";
    /// A sandbox test card was offered to a production platform.
    TestCardRefused = 411, "DSP_E_TEST_CARD_REFUSED";
    /// A password session cannot do this: it needs the LuxTrust card.
    PasswordSessionLimited = 412, "DSP_E_PASSWORD_SESSION_LIMITED";
    /// The platform cannot be reached.
    PlatformUnreachable = 500, "DSP_E_PLATFORM_UNREACHABLE";
    /// The TLS connection to the platform failed (certificate not trusted?).
    Tls = 501, "DSP_E_TLS";
    /// The platform refused the authentication.
    AuthenticationRefused = 502, "DSP_E_AUTHENTICATION_REFUSED";
    /// The DSP's access rules refuse this to this professional.
    AccessDenied = 503, "DSP_E_ACCESS_DENIED";
    /// The charter does not allow this mode change for this professional.
    ModeChangeRefused = 504, "DSP_E_MODE_CHANGE_REFUSED";
    /// The platform already holds a different document with this id.
    Conflict = 505, "DSP_E_CONFLICT";
    /// The platform's registry or repository reported an error.
    Registry = 506, "DSP_E_REGISTRY";
    /// The presence code was refused (wrong, spent or expired).
    PresenceCodeRefused = 507, "DSP_E_PRESENCE_CODE_REFUSED";
    /// The consultation grant this needs has expired: ask the patient for a new presence code.
    GrantExpired = 508, "DSP_E_GRANT_EXPIRED";
    /// The account activation was refused (the message says why).
    ActivationRefused = 509, "DSP_E_ACTIVATION_REFUSED";
    /// The platform answered with an error not covered by another code.
    Platform = 510, "DSP_E_PLATFORM";
    /// Internal error (a bug: please report it).
    Internal = 900, "DSP_E_INTERNAL";
    /// A local file-system operation failed.
    Io = 901, "DSP_E_IO";
    /// The configuration is invalid (the message names the setting).
    Config = 902, "DSP_E_CONFIG";
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.number())
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(self.number())
    }
}

impl<'de> serde::Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = u32::deserialize(d)?;
        ErrorCode::from_number(n)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown dspconnect error code {n}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn numbers_and_names_are_unique_and_round_trip() {
        let mut numbers = HashSet::new();
        let mut names = HashSet::new();
        for &c in ErrorCode::ALL {
            assert!(numbers.insert(c.number()), "{c:?} reuses a number");
            assert!(names.insert(c.name()), "{c:?} reuses a name");
            assert_eq!(ErrorCode::from_number(c.number()), Some(c));
            assert!(c.name().starts_with("DSP_E_"));
            assert!(!c.description().is_empty());
        }
        assert_eq!(ErrorCode::from_number(0), None);
    }

    /// Published numbers never change: this list only ever grows.
    #[test]
    fn published_numbers_are_stable() {
        let published = [
            (100, "DSP_E_INVALID_ARGUMENT"),
            (104, "DSP_E_PANIC"),
            (200, "DSP_E_DAEMON_NOT_RUNNING"),
            (204, "DSP_E_LINE_TOO_LONG"),
            (300, "DSP_E_BAD_MATRICULE"),
            (402, "DSP_E_WRONG_PIN"),
            (403, "DSP_E_CARD_BLOCKED"),
            (503, "DSP_E_ACCESS_DENIED"),
            (508, "DSP_E_GRANT_EXPIRED"),
            (900, "DSP_E_INTERNAL"),
        ];
        for (n, name) in published {
            assert_eq!(ErrorCode::from_number(n).map(ErrorCode::name), Some(name));
        }
    }
}
