//! The platform profile: every value the real platform does not publish
//! (endpoints, CA, confidentiality codes, slot names) lives here, so that
//! moving from the sandbox to the real platform is a configuration change
//! (docs/platform-protocol.md).

use std::path::PathBuf;

use dspconnect::model::{Code, ConfidentialityCodeTable, PatientInformedStatement};
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
    /// The assigning authority (OID) of professionals' eHealth ids, in
    /// `authorPerson` (`<id>^…^&<authority>&ISO`). Required for a
    /// production profile (the real value is not public); a sandbox profile
    /// without it uses the sandbox's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ehealth_id_authority: Option<String>,
    /// The DocumentEntry slot carrying the statement that the patient was
    /// informed and agrees.
    pub patient_informed_slot: String,
    /// The confidentialityCode of each charter mode (`[platform.confidentiality_codes.<mode>]`,
    /// each with `code`, `coding_scheme` and `display_name`).
    pub confidentiality_codes: ConfidentialityCodeTable,
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

/// Metadata used when a push does not give it (`[platform.defaults]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentDefaults {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_code: Option<Code>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub type_code: Option<Code>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format_code: Option<Code>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub practice_setting_code: Option<Code>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcare_facility_type_code: Option<Code>,
    /// BCP 47 (`fr-LU`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

impl DocumentDefaults {
    /// What the embedded sandbox's profile uses (constant, valid codes: a
    /// test checks every one is present).
    pub fn sandbox() -> DocumentDefaults {
        const SCHEME: &str = "urn:dspconnect:sandbox:codes";
        DocumentDefaults {
            class_code: Code::new("REPORT", SCHEME, "Rapport").ok(),
            type_code: Code::new("CLINICAL-NOTE", SCHEME, "Note clinique").ok(),
            format_code: Code::new(
                "urn:ihe:iti:xds:2017:mimeTypeSufficient",
                "1.3.6.1.4.1.19376.1.2.3",
                "mimeType Sufficient",
            )
            .ok(),
            practice_setting_code: Code::new("GENERAL", SCHEME, "Médecine générale").ok(),
            healthcare_facility_type_code: Code::new("PRACTICE", SCHEME, "Cabinet médical").ok(),
            language: Some("fr-LU".to_owned()),
        }
    }
}

/// The slot name the sandbox uses for the patient-informed statement.
pub const SANDBOX_PATIENT_INFORMED_SLOT: &str = PatientInformedStatement::SLOT_NAME;

/// The sandbox's assigning authority of eHealth ids.
pub const SANDBOX_EHEALTH_ID_AUTHORITY: &str = "1.3.182.4.4.99.2";

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
            ehealth_id_authority: Some(SANDBOX_EHEALTH_ID_AUTHORITY.to_owned()),
            patient_informed_slot: SANDBOX_PATIENT_INFORMED_SLOT.to_owned(),
            confidentiality_codes: ConfidentialityCodeTable::sandbox(),
            defaults: DocumentDefaults::sandbox(),
            accepts_test_cards: true,
        }
    }

    /// The assigning authority of eHealth ids to write in `authorPerson`.
    pub fn ehealth_id_authority(&self) -> &str {
        self.ehealth_id_authority
            .as_deref()
            .unwrap_or(SANDBOX_EHEALTH_ID_AUTHORITY)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sandbox_defaults_are_all_present() {
        let d = DocumentDefaults::sandbox();
        for (name, code) in [
            ("class_code", &d.class_code),
            ("type_code", &d.type_code),
            ("format_code", &d.format_code),
            ("practice_setting_code", &d.practice_setting_code),
            (
                "healthcare_facility_type_code",
                &d.healthcare_facility_type_code,
            ),
        ] {
            assert!(code.is_some(), "{name} is not a valid code");
        }
    }
}
