//! The DSP services (`dsp:` namespace, `docs/platform-protocol.md`):
//! presence-code access, portal ticket, anomaly report, HPD lookup,
//! password change; account activation (card-signed); the `doctor` probe.

use dspconnect::ipc::protocol::{
    ActivationDone, ActivationPending, AnomalyReported, ConsultationGrant, HpdLookupParams,
    HpdResult, Professional,
};
use dspconnect::model::{ActivationCode, EmailConfirmationCode, Password, PresenceCode};
use ihe::xml::Element;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use zeroize::Zeroizing;

use super::transport::CallFailure;
use super::{PlatformClient, PlatformError};
use crate::card::CardSigner;
use crate::session::{Assertion, AuthError, Matricule};

/// The DSP services' namespace (the sandbox's; the real one is not public).
const DSP_NS: &str = "urn:dspconnect:sandbox:dsp:1";
const SERVICES_ACTION_PREFIX: &str = "urn:dspconnect:sandbox:dsp:";
const ACTIVATION_ACTION_PREFIX: &str = "urn:dspconnect:sandbox:activation:";

/// A one-time URL opening the patient's DSP in the browser. A bearer
/// secret: never logged, `Debug` redacted.
pub struct PortalTicket {
    url: Zeroizing<String>,
    expires_at: String,
}

impl std::fmt::Debug for PortalTicket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortalTicket")
            .field("url", &"****")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl PortalTicket {
    pub fn url(&self) -> &str {
        &self.url
    }

    /// RFC 3339.
    pub fn expires_at(&self) -> String {
        self.expires_at.clone()
    }
}

/// What `dspctl doctor` learns from one call to the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformProbe {
    /// HTTP status of the IdP endpoint's answer to a GET.
    pub http_status: u16,
    /// The platform's clock minus ours, in seconds (from its `Date`).
    pub clock_skew_seconds: Option<i64>,
}

fn dsp(local: &str) -> Element {
    Element::new(DSP_NS, "dsp", local)
}

fn request(local: &str, fields: &[(&str, &str)]) -> Element {
    let mut el = dsp(local);
    for (name, value) in fields {
        el.push(dsp(name).with_text(*value));
    }
    el
}

fn field(payload: &Element, local: &str) -> Result<String, PlatformError> {
    payload
        .child(DSP_NS, local)
        .map(Element::text)
        .ok_or_else(|| PlatformError::InvalidResponse {
            reason: format!("the answer {} has no dsp:{local}", payload.local),
        })
}

fn cx(matricule: &Matricule) -> String {
    matricule.to_cx()
}

fn rfc3339_of(text: &str) -> String {
    // Normalised when it parses; passed on as given otherwise.
    OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| text.to_owned())
}

impl PlatformClient {
    async fn service(
        &self,
        assertion: &Assertion,
        payload: Element,
    ) -> Result<Element, PlatformError> {
        let operation = payload
            .local
            .strip_suffix("Request")
            .unwrap_or(&payload.local)
            .to_owned();
        let action = format!("{SERVICES_ACTION_PREFIX}{operation}");
        let url = self.profile().services_url.clone();
        let envelope = self.bearer_envelope(payload, &action, &url, assertion);
        self.transport()
            .soap(&url, &action, envelope)
            .await
            .map_err(CallFailure::into_error)
    }

    /// Presents the patient's code de présence; the code is spent here and
    /// only the grant is returned.
    pub async fn patient_access(
        &self,
        assertion: &Assertion,
        patient: &Matricule,
        code: PresenceCode,
    ) -> Result<ConsultationGrant, PlatformError> {
        let payload = request(
            "PresenceCodeAccessRequest",
            &[("PatientId", &cx(patient)), ("PresenceCode", code.expose())],
        );
        drop(code);
        let answer = self.service(assertion, payload).await?;
        Ok(ConsultationGrant {
            grant_id: field(&answer, "GrantId")?,
            patient: patient.as_digits(),
            expires_at: rfc3339_of(&field(&answer, "NotOnOrAfter")?),
        })
    }

    pub async fn portal_ticket(
        &self,
        assertion: &Assertion,
        patient: &Matricule,
    ) -> Result<PortalTicket, PlatformError> {
        let mut answer = self
            .service(
                assertion,
                request("PortalTicketRequest", &[("PatientId", &cx(patient))]),
            )
            .await?;
        let ticket = (|| {
            Ok(PortalTicket {
                url: Zeroizing::new(field(&answer, "Url")?),
                expires_at: rfc3339_of(&field(&answer, "NotOnOrAfter")?),
            })
        })();
        // The answer's copy of the one-time URL goes now.
        super::secret::wipe(&mut answer);
        ticket
    }

    pub async fn report_anomaly(
        &self,
        assertion: &Assertion,
        patient: &Matricule,
        unique_id: &str,
        description: &str,
    ) -> Result<AnomalyReported, PlatformError> {
        let answer = self
            .service(
                assertion,
                request(
                    "AnomalyReportRequest",
                    &[
                        ("PatientId", &cx(patient)),
                        ("DocumentUniqueId", unique_id),
                        ("Description", description),
                    ],
                ),
            )
            .await?;
        Ok(AnomalyReported {
            report_id: field(&answer, "ReportId")?,
        })
    }

    pub async fn hpd_lookup(
        &self,
        assertion: &Assertion,
        params: &HpdLookupParams,
    ) -> Result<HpdResult, PlatformError> {
        let mut fields = Vec::new();
        if let Some(id) = params.ehealth_id.as_deref().filter(|s| !s.is_empty()) {
            fields.push(("EHealthId", id));
        }
        if let Some(name) = params.name.as_deref().filter(|s| !s.is_empty()) {
            fields.push(("Name", name));
        }
        let answer = self
            .service(assertion, request("HpdLookupRequest", &fields))
            .await?;
        let professionals = answer
            .children_named(DSP_NS, "Professional")
            .map(|p| {
                let text = |local: &str| p.child(DSP_NS, local).map(Element::text);
                Professional {
                    ehealth_id: p.attr("ehealthId").unwrap_or_default().to_owned(),
                    name: format!(
                        "{} {}",
                        text("GivenName").unwrap_or_default(),
                        text("FamilyName").unwrap_or_default()
                    )
                    .trim()
                    .to_owned(),
                    profession: text("Profession"),
                    specialty: text("Specialty"),
                }
            })
            .collect();
        Ok(HpdResult { professionals })
    }

    pub async fn change_password(
        &self,
        assertion: &Assertion,
        old: Password,
        new: Password,
    ) -> Result<(), PlatformError> {
        let payload = request(
            "PasswordChangeRequest",
            &[("OldPassword", old.expose()), ("NewPassword", new.expose())],
        );
        drop((old, new));
        self.service(assertion, payload).await.map(|_| ())
    }

    async fn activation_step(
        &self,
        signer: CardSigner,
        payload: Element,
    ) -> Result<Element, PlatformError> {
        let operation = payload
            .local
            .strip_suffix("Request")
            .unwrap_or(&payload.local)
            .to_owned();
        let action = format!("{ACTIVATION_ACTION_PREFIX}{operation}");
        let url = self.profile().activation_url.clone();
        let body = self
            .card_signed(signer, payload, &action, &url)
            .await
            .map_err(|e| match e {
                AuthError::Card(card) => PlatformError::Refused {
                    subcode: "Card".to_owned(),
                    message: card.to_string(),
                    rule: None,
                },
                other => PlatformError::InvalidResponse {
                    reason: other.to_string(),
                },
            })?;
        self.transport()
            .soap(&url, &action, body)
            .await
            .map_err(CallFailure::into_error)
    }

    /// Activation, first step: the letter's code, the matricule and an
    /// e-mail address, signed by the card (which the platform then binds).
    pub async fn activate(
        &self,
        signer: CardSigner,
        letter_code: ActivationCode,
        matricule: &Matricule,
        email: &str,
    ) -> Result<ActivationPending, PlatformError> {
        let payload = request(
            "ActivationRequest",
            &[
                ("ActivationCode", letter_code.expose()),
                ("Matricule", &matricule.as_digits()),
                ("Email", email),
            ],
        );
        drop(letter_code);
        let answer = self.activation_step(signer, payload).await?;
        Ok(ActivationPending {
            email_sent_to: field(&answer, "EmailSentTo")?,
            code_expires_at: rfc3339_of(&field(&answer, "NotOnOrAfter")?),
        })
    }

    /// Activation, second step: the e-mailed code and the new password,
    /// signed by the same card.
    pub async fn confirm_activation(
        &self,
        signer: CardSigner,
        letter_code: ActivationCode,
        matricule: &Matricule,
        email_code: EmailConfirmationCode,
        new_password: Password,
    ) -> Result<ActivationDone, PlatformError> {
        let payload = request(
            "ActivationConfirmRequest",
            &[
                ("ActivationCode", letter_code.expose()),
                ("Matricule", &matricule.as_digits()),
                ("EmailCode", email_code.expose()),
                ("NewPassword", new_password.expose()),
            ],
        );
        drop((letter_code, email_code, new_password));
        let answer = self.activation_step(signer, payload).await?;
        let ehealth_id = field(&answer, "EHealthId")?;
        Ok(ActivationDone {
            professional: Professional {
                name: ehealth_id.clone(),
                ehealth_id,
                profession: None,
                specialty: None,
            },
        })
    }

    /// One GET to the IdP endpoint: TLS with the pinned CA, and the
    /// platform's clock from its `Date` header.
    pub async fn probe(&self) -> Result<PlatformProbe, PlatformError> {
        let url = self.profile().idp_url.clone();
        let before = OffsetDateTime::now_utc();
        let response = self
            .transport()
            .client()
            .get(&url)
            .send()
            .await
            .map_err(|e| CallFailure::transport(&url, &e, true).into_error())?;
        let after = OffsetDateTime::now_utc();
        let ours: OffsetDateTime = before + (after - before) / 2;
        let skew = response
            .headers()
            .get("date")
            .and_then(|d| d.to_str().ok())
            .and_then(|d| {
                OffsetDateTime::parse(d, &time::format_description::well_known::Rfc2822).ok()
            })
            .map(|theirs| theirs.unix_timestamp() - ours.unix_timestamp());
        Ok(PlatformProbe {
            http_status: response.status().as_u16(),
            clock_skew_seconds: skew,
        })
    }
}
