//! The platform profile: every value the real platform does not publish
//! (endpoints, CA, confidentiality codes, slot names) lives here, so that
//! moving from the sandbox to the real platform is a configuration change
//! (docs/platform-protocol.md).

use std::fmt;
use std::path::PathBuf;

use dspconnect::model::ConfidentialityMode;
use serde::{Deserialize, Serialize};

/// A platform profile (`[platform]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformProfile {
    /// Shown in status, tray and logs.
    pub name: String,
    pub kind: PlatformKind,
    /// `SAML2Server/AuthenticationService`.
    pub idp_url: String,
    /// ITI-18 and ITI-57.
    pub registry_url: String,
    /// ITI-41 and ITI-43.
    pub repository_url: String,
    /// The DSP services (presence code, portal ticket, anomaly, HPD, password).
    pub services_url: String,
    /// Account activation and password reset.
    pub activation_url: String,
    /// The CA certificate (PEM) the platform's TLS certificate must chain
    /// to; the only trust anchor used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// The IdP's signing certificate (PEM), to check assertions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idp_certificate_file: Option<PathBuf>,
    /// The repository's uniqueId (ITI-41/43 `RepositoryUniqueId`).
    pub repository_unique_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home_community_id: Option<String>,
    /// OID root for the uniqueIds we give documents and submission sets;
    /// absent: UUID-derived OIDs under `2.25` (ISO/IEC 9834-8), which need
    /// no registered root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unique_id_root: Option<String>,
    #[serde(default)]
    pub assertion_kind: AssertionKind,
    /// The DocumentEntry slot carrying the statement that the patient was
    /// informed and agrees.
    pub patient_informed_slot: String,
    pub confidentiality_codes: ConfidentialityCodes,
    #[serde(default)]
    pub defaults: DocumentDefaults,
    /// Whether sandbox test cards may authenticate (sandbox kind only).
    #[serde(default)]
    pub accepts_test_cards: bool,
}

/// Whether a profile is the sandbox (nothing reaches the real DSP) or the
/// real platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlatformKind {
    Sandbox,
    Production,
}

/// How the platform treats the SAML assertion on later calls.
///
/// Only `bearer` exists: the assertion is sent unchanged in each call's
/// security header, and one card signature buys one assertion. A
/// holder-of-key platform would need a card signature on every call, which
/// the session and the card thread are not built for; such a profile is
/// refused rather than silently treated as bearer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AssertionKind {
    #[default]
    Bearer,
}

impl<'de> Deserialize<'de> for AssertionKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.as_str() {
            "bearer" => Ok(AssertionKind::Bearer),
            other => Err(serde::de::Error::custom(format!(
                "'{other}' is not supported: only \"bearer\" is (one card signature per \
                 assertion; a holder-of-key platform would need the card to sign every call)"
            ))),
        }
    }
}

/// A code from a coding scheme, as the profile gives it.
///
/// Seam: `dspconnect::model` will carry the shared code types and the
/// `ConfidentialityCodeTable`; this struct is the profile's own until then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeEntry {
    pub code: String,
    pub scheme: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
}

impl CodeEntry {
    pub fn new(code: &str, scheme: &str, display: &str) -> CodeEntry {
        CodeEntry {
            code: code.to_owned(),
            scheme: scheme.to_owned(),
            display: Some(display.to_owned()),
        }
    }
}

impl fmt::Display for CodeEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}^^{}", self.code, self.scheme)
    }
}

/// The confidentialityCode of each charter mode (`[platform.confidentiality_codes]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfidentialityCodes {
    pub normal: CodeEntry,
    pub restreint: CodeEntry,
    pub prive: CodeEntry,
    pub visite_annonce: CodeEntry,
}

impl ConfidentialityCodes {
    /// The sandbox's values (docs/platform-protocol.md, "Confidentiality codes").
    pub fn sandbox() -> ConfidentialityCodes {
        const SCHEME: &str = "urn:dspconnect:sandbox:confidentiality";
        ConfidentialityCodes {
            normal: CodeEntry::new("N", SCHEME, "Normal"),
            restreint: CodeEntry::new("R", SCHEME, "Restreint"),
            prive: CodeEntry::new("P", SCHEME, "Privé"),
            visite_annonce: CodeEntry::new("VA", SCHEME, "Visite d'annonce"),
        }
    }

    pub fn code_for(&self, mode: ConfidentialityMode) -> &CodeEntry {
        match mode {
            ConfidentialityMode::Normal => &self.normal,
            ConfidentialityMode::Restreint => &self.restreint,
            ConfidentialityMode::Prive => &self.prive,
            ConfidentialityMode::VisiteAnnonce => &self.visite_annonce,
        }
    }

    /// The mode a registered code stands for.
    pub fn mode_for(&self, code: &str, scheme: &str) -> Option<ConfidentialityMode> {
        ConfidentialityMode::ALL.into_iter().find(|&m| {
            let entry = self.code_for(m);
            entry.code == code && entry.scheme == scheme
        })
    }
}

/// Metadata used when a push does not give it (`[platform.defaults]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentDefaults {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_code: Option<CodeEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub type_code: Option<CodeEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format_code: Option<CodeEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub practice_setting_code: Option<CodeEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcare_facility_type_code: Option<CodeEntry>,
    /// BCP 47 (`fr-LU`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

impl DocumentDefaults {
    /// What the embedded sandbox's profile uses.
    pub fn sandbox() -> DocumentDefaults {
        const SCHEME: &str = "urn:dspconnect:sandbox:codes";
        DocumentDefaults {
            class_code: Some(CodeEntry::new("REPORT", SCHEME, "Rapport")),
            type_code: Some(CodeEntry::new("CLINICAL-NOTE", SCHEME, "Note clinique")),
            format_code: Some(CodeEntry::new(
                "urn:ihe:iti:xds:2017:mimeTypeSufficient",
                "1.3.6.1.4.1.19376.1.2.3",
                "mimeType Sufficient",
            )),
            practice_setting_code: Some(CodeEntry::new("GENERAL", SCHEME, "Médecine générale")),
            healthcare_facility_type_code: Some(CodeEntry::new(
                "PRACTICE",
                SCHEME,
                "Cabinet médical",
            )),
            language: Some("fr-LU".to_owned()),
        }
    }
}

/// The slot name the sandbox uses for the patient-informed statement.
pub const SANDBOX_PATIENT_INFORMED_SLOT: &str = "urn:dspconnect:sandbox:patientInformed";

/// The sandbox's repository uniqueId.
pub const SANDBOX_REPOSITORY_UNIQUE_ID: &str = "1.3.182.4.4.99.1";

impl PlatformProfile {
    /// The profile of a sandbox at `base_url` (`https://127.0.0.1:PORT`),
    /// as the daemon builds it for the embedded sandbox once the sandbox
    /// has its port and test CA.
    pub fn sandbox(base_url: &str, ca_file: PathBuf, idp_certificate_file: PathBuf) -> Self {
        let base = base_url.trim_end_matches('/');
        PlatformProfile {
            name: "sandbox".to_owned(),
            kind: PlatformKind::Sandbox,
            idp_url: format!("{base}/SAML2Server/AuthenticationService"),
            registry_url: format!("{base}/xds/registry"),
            repository_url: format!("{base}/xds/repository"),
            services_url: format!("{base}/dsp/services"),
            activation_url: format!("{base}/activation"),
            ca_file: Some(ca_file),
            idp_certificate_file: Some(idp_certificate_file),
            repository_unique_id: SANDBOX_REPOSITORY_UNIQUE_ID.to_owned(),
            home_community_id: None,
            unique_id_root: None,
            assertion_kind: AssertionKind::Bearer,
            patient_informed_slot: SANDBOX_PATIENT_INFORMED_SLOT.to_owned(),
            confidentiality_codes: ConfidentialityCodes::sandbox(),
            defaults: DocumentDefaults::sandbox(),
            accepts_test_cards: true,
        }
    }

    /// The endpoint URLs with their keys, for validation and diagnostics.
    pub fn endpoints(&self) -> [(&'static str, &str); 5] {
        [
            ("idp_url", &self.idp_url),
            ("registry_url", &self.registry_url),
            ("repository_url", &self.repository_url),
            ("services_url", &self.services_url),
            ("activation_url", &self.activation_url),
        ]
    }
}
