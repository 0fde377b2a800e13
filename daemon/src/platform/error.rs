//! The platform's refusals and failures, each with our fixed code and what
//! to do about it.

use dspconnect::ErrorCode;
use dspconnect::ipc::protocol::RpcError;

/// Why a platform call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PlatformError {
    #[error("the platform cannot be reached ({url}): {reason}")]
    Unreachable { url: String, reason: String },
    #[error("TLS with the platform failed ({url}): {reason}")]
    Tls { url: String, reason: String },
    #[error("the platform's CA or IdP certificate file {path}: {reason}")]
    Certificate { path: String, reason: String },
    #[error("the platform did not answer in time ({url})")]
    Timeout { url: String },
    #[error("the platform refused: {message} ({subcode})")]
    Refused {
        subcode: String,
        message: String,
        /// The policy rule the refusal rests on, when the platform says.
        rule: Option<String>,
    },
    #[error("the platform's access rules refuse it: {message}")]
    AccessDenied { message: String },
    #[error("the consultation grant for this patient has expired: {message}")]
    GrantExpired { message: String },
    #[error("the charter does not allow this mode change: {message}")]
    ModeChangeRefused { message: String },
    #[error("no such document visible to you: {message}")]
    UnknownDocument { message: String },
    #[error("the session's assertion was refused ({subcode}): {message}")]
    Assertion { subcode: String, message: String },
    #[error("a password session cannot do this: {message}")]
    PasswordSessionLimited { message: String },
    #[error("the registry answered errors: {message}")]
    Registry { codes: Vec<String>, message: String },
    #[error("HTTP {status} from the platform ({url})")]
    Http { url: String, status: u16 },
    #[error("the platform's answer cannot be used: {reason}")]
    InvalidResponse { reason: String },
    #[error("writing the document where you asked failed: {reason}")]
    Sink { reason: String },
    #[error("the request could not be built: {reason}")]
    Request { reason: String },
}

impl PlatformError {
    /// Our fixed code.
    pub fn code(&self) -> ErrorCode {
        match self {
            PlatformError::Unreachable { .. }
            | PlatformError::Timeout { .. }
            | PlatformError::Http { .. } => ErrorCode::PlatformUnreachable,
            PlatformError::Tls { .. } => ErrorCode::Tls,
            PlatformError::Certificate { .. } => ErrorCode::Config,
            PlatformError::Refused { subcode, .. } => refusal_code(subcode),
            PlatformError::AccessDenied { .. } => ErrorCode::AccessDenied,
            PlatformError::GrantExpired { .. } => ErrorCode::GrantExpired,
            PlatformError::ModeChangeRefused { .. } => ErrorCode::ModeChangeRefused,
            PlatformError::UnknownDocument { .. } => ErrorCode::UnknownDocument,
            PlatformError::Assertion { subcode, .. } if subcode == "AssertionExpired" => {
                ErrorCode::SessionExpired
            }
            PlatformError::Assertion { .. } => ErrorCode::NotAuthenticated,
            PlatformError::PasswordSessionLimited { .. } => ErrorCode::PasswordSessionLimited,
            PlatformError::Registry { .. } => ErrorCode::Registry,
            PlatformError::InvalidResponse { .. } => ErrorCode::Platform,
            PlatformError::Sink { .. } => ErrorCode::Io,
            PlatformError::Request { .. } => ErrorCode::BadMetadata,
        }
    }

    /// What the user can do.
    pub fn hint(&self) -> Option<&'static str> {
        Some(match self {
            PlatformError::Unreachable { .. }
            | PlatformError::Timeout { .. }
            | PlatformError::Http { .. } => {
                "check the network; queued documents are sent when the platform answers again"
            }
            PlatformError::Tls { .. } | PlatformError::Certificate { .. } => {
                "check platform.ca_file (the platform's CA, PEM); `dspctl doctor` tells more"
            }
            PlatformError::AccessDenied { .. } => {
                "without a relationship to the patient (médecin référent, cercle de confiance), \
                 ask the patient for their code de présence: dspctl access <matricule>"
            }
            PlatformError::GrantExpired { .. } => {
                "the consultation is over; ask the patient for a new code de présence"
            }
            PlatformError::ModeChangeRefused { .. } => {
                "see the charter's mode table in docs/platform-protocol.md: only the patient \
                 takes a document out of Privé, and nobody puts one into Visite d'annonce later"
            }
            PlatformError::UnknownDocument { .. } => {
                "take the uniqueId from `dspctl list <matricule>`"
            }
            PlatformError::Assertion { .. } => "unlock again: dspctl unlock",
            PlatformError::PasswordSessionLimited { .. } => {
                "insert the LuxTrust card and unlock it: only the card reaches DSP documents"
            }
            PlatformError::Refused { subcode, .. } => return refusal_hint(subcode),
            _ => return None,
        })
    }

    /// The JSON-RPC error the IPC layer answers.
    pub fn to_rpc(&self) -> RpcError {
        let error = RpcError::new(self.code(), self.to_string());
        match self.hint() {
            Some(hint) => error.with_hint(hint),
            None => error,
        }
    }
}

fn refusal_code(subcode: &str) -> ErrorCode {
    match subcode {
        "PresenceCodeInvalid" | "PresenceCodeSpent" | "PresenceCodeExpired" => {
            ErrorCode::PresenceCodeRefused
        }
        "ActivationCodeInvalid"
        | "ActivationCodeExpired"
        | "ActivationCodeUsed"
        | "MatriculeMismatch"
        | "AlreadyActive"
        | "EmailCodeInvalid"
        | "EmailCodeExpired"
        | "CardChanged"
        | "CardHolderMismatch" => ErrorCode::ActivationRefused,
        "WeakPassword" => ErrorCode::WeakPassword,
        "WrongPassword"
        | "UnknownProfessional"
        | "ProfessionalNotActive"
        | "CertificateNotBound"
        | "CertificateRevoked"
        | "CertificateUntrusted"
        | "CertificateExpired"
        | "CertificateNotYetValid"
        | "InvalidSignature" => ErrorCode::AuthenticationRefused,
        "UnknownPatient" => ErrorCode::BadMatricule,
        _ => ErrorCode::Platform,
    }
}

fn refusal_hint(subcode: &str) -> Option<&'static str> {
    Some(match subcode {
        "PresenceCodeInvalid" => "check the code with the patient (their DSP shows it)",
        "PresenceCodeSpent" | "PresenceCodeExpired" => {
            "a code works once and for a short time; ask the patient for a new one"
        }
        "ActivationCodeInvalid" | "MatriculeMismatch" => {
            "type the code and your matricule exactly as on the Agence eSanté's letter"
        }
        "ActivationCodeExpired" | "ActivationCodeUsed" => {
            "ask the Agence eSanté for a new activation letter"
        }
        "AlreadyActive" => "the account is active: unlock with the card",
        "EmailCodeInvalid" => "type the 8-digit code from the latest confirmation e-mail",
        "EmailCodeExpired" => "start the activation again to get a new e-mail code",
        "CardChanged" | "CardHolderMismatch" => {
            "use your own LuxTrust card, the same for both activation steps"
        }
        "WeakPassword" => "at least 10 characters of two kinds (letters, digits, others)",
        "WrongPassword" => "check the matricule and the password chosen at activation",
        "ProfessionalNotActive" => "activate the account first (dspctl activate)",
        "CertificateRevoked" => "this card was deactivated; use your new card",
        "UnknownPatient" => "check the matricule: this patient has no DSP",
        _ => return None,
    })
}
