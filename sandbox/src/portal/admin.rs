//! The admin JSON API (`/admin/api/…`): what the tests and the demo drive
//! the platform with. The patient operations are the patient portal's,
//! through the same policy decisions (a mode change is asked AS the
//! patient); the rest is the platform's back office: anomaly reports, the
//! mail outbox, the clock, card revocation.
//!
//! Every call carries `Authorization: Bearer <admin token>` (the token is
//! made at the first start, kept 0600 in the data directory and printed at
//! start). Bodies are JSON objects whose unknown fields are refused; every
//! error is `{"error": {"field": …, "reason": …}}` (plus `"rule"` when the
//! access policy refused).

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use dspconnect::model::ConfidentialityMode;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use super::PortalState;
use super::dsp::{self, ConsentEdit, ModeChange, PRESENCE_CODE_LIFETIME};
use super::error::refusal_status;
use crate::activation::{RESET_LETTER_LIFETIME, ResetLetterError, issue_reset_letter};
use crate::faults::{FaultPlan, FaultPlanError};
use crate::pki::{CertificateSerial, Fingerprint};
use crate::policy::{AccompagnateurId, EHealthId, Operation, PatientId, Subject};
use crate::store::{Store, StoreError};

/// Longest validity the admin API gives a code de présence.
const MAX_PRESENCE_CODE_LIFETIME: Duration = Duration::days(7);
/// Furthest the clock may be moved in one call (ten years).
const MAX_CLOCK_ADVANCE_SECONDS: i64 = 10 * 366 * 24 * 3600;

pub(super) const ENDPOINTS: &[(&str, &str, &str)] = &[
    (
        "GET",
        "/admin/api/patients/{matricule}",
        "admin API: a patient's consents (JSON; Authorization: Bearer <admin token>)",
    ),
    (
        "PUT",
        "/admin/api/patients/{matricule}/referent",
        "admin API: choose or clear the médecin référent",
    ),
    (
        "POST, DELETE",
        "/admin/api/patients/{matricule}/cercle[/{ehealthId}]",
        "admin API: edit the cercle de confiance",
    ),
    (
        "POST, DELETE",
        "/admin/api/patients/{matricule}/black-list[/{ehealthId}]",
        "admin API: edit the black list",
    ),
    (
        "POST, DELETE",
        "/admin/api/patients/{matricule}/accompagnateurs[/{login}]",
        "admin API: name or remove an accompagnateur",
    ),
    (
        "POST",
        "/admin/api/patients/{matricule}/presence-codes",
        "admin API: create a code de présence (returned once)",
    ),
    (
        "PUT",
        "/admin/api/patients/{matricule}/documents/{uniqueId}/mode",
        "admin API: change a document's mode as the patient (through the policy)",
    ),
    (
        "GET",
        "/admin/api/anomaly-reports",
        "admin API: anomaly reports",
    ),
    ("GET", "/admin/api/mail", "admin API: the mail outbox"),
    (
        "POST",
        "/admin/api/clock/advance",
        "admin API: move the sandbox's clock forward",
    ),
    (
        "POST",
        "/admin/api/cards/revoke",
        "admin API: revoke a card certificate",
    ),
    (
        "GET, PUT, DELETE",
        "/admin/api/faults",
        "admin API: the fault plan (503, delays, cut or lost answers) in force",
    ),
    (
        "POST",
        "/admin/api/professionals/{ehealthId}/reset-letter",
        "admin API: issue a new activation letter (password reset); its code is returned once",
    ),
];

pub(super) fn routes() -> Router<PortalState> {
    Router::new()
        .route("/admin/api/patients/{matricule}", get(patient_consents))
        .route(
            "/admin/api/patients/{matricule}/referent",
            put(set_referent),
        )
        .route(
            "/admin/api/patients/{matricule}/cercle",
            post(add_to_cercle),
        )
        .route(
            "/admin/api/patients/{matricule}/cercle/{ehealth_id}",
            delete(remove_from_cercle),
        )
        .route(
            "/admin/api/patients/{matricule}/black-list",
            post(add_to_black_list),
        )
        .route(
            "/admin/api/patients/{matricule}/black-list/{ehealth_id}",
            delete(remove_from_black_list),
        )
        .route(
            "/admin/api/patients/{matricule}/accompagnateurs",
            post(name_accompagnateur),
        )
        .route(
            "/admin/api/patients/{matricule}/accompagnateurs/{login}",
            delete(remove_accompagnateur),
        )
        .route(
            "/admin/api/patients/{matricule}/presence-codes",
            post(create_presence_code),
        )
        .route(
            "/admin/api/patients/{matricule}/documents/{unique_id}/mode",
            put(change_mode),
        )
        .route("/admin/api/anomaly-reports", get(anomaly_reports))
        .route("/admin/api/mail", get(mail))
        .route("/admin/api/clock/advance", post(advance_clock))
        .route("/admin/api/cards/revoke", post(revoke_card))
        .route(
            "/admin/api/professionals/{ehealth_id}/reset-letter",
            post(reset_letter),
        )
        .route(
            "/admin/api/faults",
            get(fault_plan).put(set_fault_plan).delete(lift_faults),
        )
}

/// An admin API refusal: `{"error": {"field", "reason"[, "rule"]}}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    field: String,
    reason: String,
    rule: Option<&'static str>,
}

impl ApiError {
    fn new(status: StatusCode, field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            status,
            field: field.into(),
            reason: reason.into(),
            rule: None,
        }
    }

    fn bad(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, field, reason)
    }

    /// A store error about the value of `field`.
    fn store(field: &str, error: StoreError) -> Self {
        let status = match &error {
            StoreError::NotFound { .. } => StatusCode::NOT_FOUND,
            StoreError::AlreadyExists { .. } => StatusCode::CONFLICT,
            StoreError::Invalid { .. } => StatusCode::BAD_REQUEST,
            _ => {
                tracing::error!(%error, "admin API: store failure");
                return Self::new(StatusCode::INTERNAL_SERVER_ERROR, field, error.to_string());
            }
        };
        Self::new(status, field, error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({ "field": self.field, "reason": self.reason });
        if let Some(rule) = self.rule {
            error["rule"] = Value::from(rule);
        }
        let mut response = (self.status, Json(json!({ "error": error }))).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Bearer realm="dspconnect-sandbox admin API""#),
            );
        }
        response
    }
}

type ApiResult = Result<Response, ApiError>;

/// The admin token must be presented as `Authorization: Bearer …`.
fn authorize(state: &PortalState, headers: &HeaderMap) -> Result<(), ApiError> {
    let refused = |reason: &str| ApiError::new(StatusCode::UNAUTHORIZED, "Authorization", reason);
    let value = headers
        .get(AUTHORIZATION)
        .ok_or_else(|| {
            refused("send the admin token printed at start as 'Authorization: Bearer <token>'")
        })?
        .to_str()
        .map_err(|_| refused("the Authorization header is not text"))?;
    let token = value
        .strip_prefix("Bearer ")
        .ok_or_else(|| refused("the Authorization header must be 'Bearer <token>'"))?;
    if state.admin_token.matches(token.trim()) {
        Ok(())
    } else {
        Err(refused(
            "wrong admin token: use the one printed at start (admin-token in the data directory)",
        ))
    }
}

/// The body as `T`, refusing unknown fields, naming the field at fault.
fn json_body<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    if body.is_empty() {
        return Err(ApiError::bad("body", "send a JSON object"));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let reason = error.inner().to_string();
        // serde names an unknown or missing field in its message, at the
        // path of the object that holds it.
        let named = reason.split('`').nth(1).map(str::to_owned);
        let field = match (path.as_str(), named) {
            ("." | "", Some(name)) => name,
            ("." | "", None) => "body".to_owned(),
            (path, _) => path.to_owned(),
        };
        ApiError::bad(field, reason)
    })
}

fn query_of<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    query
        .map(|Query(q)| q)
        .map_err(|e| ApiError::bad("query", e.body_text()))
}

fn patient_id(matricule: &str) -> Result<PatientId, ApiError> {
    PatientId::new(matricule).map_err(|e| ApiError::bad("matricule", e.to_string()))
}

fn ehealth_id(field: &str, text: &str) -> Result<EHealthId, ApiError> {
    EHealthId::new(text).map_err(|e| ApiError::bad(field, e.to_string()))
}

fn accompagnateur_id(field: &str, text: &str) -> Result<AccompagnateurId, ApiError> {
    AccompagnateurId::new(text).map_err(|e| ApiError::bad(field, e.to_string()))
}

/// An instant as RFC 3339.
fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        // Only years beyond 9999 fail to format; the store holds none.
        .unwrap_or_else(|_| at.unix_timestamp().to_string())
}

#[derive(Serialize)]
struct Consents {
    patient: String,
    referent: Option<String>,
    cercle: Vec<String>,
    black_list: Vec<String>,
    accompagnateurs: Vec<String>,
}

fn consents(store: &Store, patient: &PatientId) -> ApiResult {
    let relations = store
        .relations(patient)
        .map_err(|e| ApiError::store("matricule", e))?;
    let ids = |list: &[EHealthId]| list.iter().map(ToString::to_string).collect();
    Ok(Json(Consents {
        patient: patient.to_string(),
        referent: relations.referent.as_ref().map(ToString::to_string),
        cercle: ids(&relations.cercle),
        black_list: ids(&relations.black_list),
        accompagnateurs: relations
            .accompagnateurs
            .iter()
            .map(ToString::to_string)
            .collect(),
    })
    .into_response())
}

async fn patient_consents(
    State(state): State<PortalState>,
    Path(matricule): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    authorize(&state, &headers)?;
    consents(state.ctx.store(), &patient_id(&matricule)?)
}

/// Applies a consent edit and answers the consents as they now are.
fn edit(state: &PortalState, patient: &PatientId, edit: &ConsentEdit, field: &str) -> ApiResult {
    let store = state.ctx.store();
    if store
        .patient(patient)
        .map_err(|e| ApiError::store("matricule", e))?
        .is_none()
    {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "matricule",
            format!("no patient '{patient}' in the sandbox"),
        ));
    }
    dsp::edit_consent(store, patient, edit, state.ctx.clock().now())
        .map_err(|e| ApiError::store(field, e))?;
    consents(store, patient)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReferentBody {
    /// `null` clears; the key itself is required.
    #[serde(deserialize_with = "Option::deserialize")]
    ehealth_id: Option<String>,
}

async fn set_referent(
    State(state): State<PortalState>,
    Path(matricule): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    authorize(&state, &headers)?;
    let patient = patient_id(&matricule)?;
    let body: ReferentBody = json_body(&body)?;
    let referent = body
        .ehealth_id
        .as_deref()
        .map(|id| ehealth_id("ehealth_id", id))
        .transpose()?;
    edit(
        &state,
        &patient,
        &ConsentEdit::Referent(referent),
        "ehealth_id",
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfessionalBody {
    ehealth_id: String,
}

async fn add_to_cercle(
    State(state): State<PortalState>,
    Path(matricule): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    authorize(&state, &headers)?;
    let patient = patient_id(&matricule)?;
    let body: ProfessionalBody = json_body(&body)?;
    let id = ehealth_id("ehealth_id", &body.ehealth_id)?;
    edit(
        &state,
        &patient,
        &ConsentEdit::AddToCercle(id),
        "ehealth_id",
    )
}

async fn remove_from_cercle(
    State(state): State<PortalState>,
    Path((matricule, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult {
    authorize(&state, &headers)?;
    let patient = patient_id(&matricule)?;
    let id = ehealth_id("ehealth_id", &id)?;
    edit(
        &state,
        &patient,
        &ConsentEdit::RemoveFromCercle(id),
        "ehealth_id",
    )
}

async fn add_to_black_list(
    State(state): State<PortalState>,
    Path(matricule): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    authorize(&state, &headers)?;
    let patient = patient_id(&matricule)?;
    let body: ProfessionalBody = json_body(&body)?;
    let id = ehealth_id("ehealth_id", &body.ehealth_id)?;
    edit(
        &state,
        &patient,
        &ConsentEdit::AddToBlackList(id),
        "ehealth_id",
    )
}

async fn remove_from_black_list(
    State(state): State<PortalState>,
    Path((matricule, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult {
    authorize(&state, &headers)?;
    let patient = patient_id(&matricule)?;
    let id = ehealth_id("ehealth_id", &id)?;
    edit(
        &state,
        &patient,
        &ConsentEdit::RemoveFromBlackList(id),
        "ehealth_id",
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccompagnateurBody {
    login: String,
}

async fn name_accompagnateur(
    State(state): State<PortalState>,
    Path(matricule): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    authorize(&state, &headers)?;
    let patient = patient_id(&matricule)?;
    let body: AccompagnateurBody = json_body(&body)?;
    let login = accompagnateur_id("login", &body.login)?;
    edit(
        &state,
        &patient,
        &ConsentEdit::NameAccompagnateur(login),
        "login",
    )
}

async fn remove_accompagnateur(
    State(state): State<PortalState>,
    Path((matricule, login)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult {
    authorize(&state, &headers)?;
    let patient = patient_id(&matricule)?;
    let login = accompagnateur_id("login", &login)?;
    edit(
        &state,
        &patient,
        &ConsentEdit::RemoveAccompagnateur(login),
        "login",
    )
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PresenceCodeBody {
    /// Default: the portal's lifetime (24 h).
    valid_for_seconds: Option<i64>,
}

async fn create_presence_code(
    State(state): State<PortalState>,
    Path(matricule): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    authorize(&state, &headers)?;
    let patient = patient_id(&matricule)?;
    let body: PresenceCodeBody = if body.is_empty() {
        PresenceCodeBody::default()
    } else {
        json_body(&body)?
    };
    let lifetime = match body.valid_for_seconds {
        None => PRESENCE_CODE_LIFETIME,
        Some(seconds) if (1..=MAX_PRESENCE_CODE_LIFETIME.whole_seconds()).contains(&seconds) => {
            Duration::seconds(seconds)
        }
        Some(_) => {
            return Err(ApiError::bad(
                "valid_for_seconds",
                format!(
                    "give 1 to {} seconds",
                    MAX_PRESENCE_CODE_LIFETIME.whole_seconds()
                ),
            ));
        }
    };
    let store = state.ctx.store().clone();
    let now = state.ctx.clock().now();
    let for_patient = patient.clone();
    // argon2 hashing: off the async workers.
    let (code, not_on_or_after) = tokio::task::spawn_blocking(move || {
        dsp::create_presence_code(&store, &for_patient, now, lifetime)
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "body", e.to_string()))?
    .map_err(|e| ApiError::store("matricule", e))?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "patient": patient.to_string(),
            "code": code.expose(),
            "not_on_or_after": rfc3339(not_on_or_after),
        })),
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModeBody {
    mode: String,
}

async fn change_mode(
    State(state): State<PortalState>,
    Path((matricule, unique_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    authorize(&state, &headers)?;
    let patient = patient_id(&matricule)?;
    let body: ModeBody = json_body(&body)?;
    let to: ConfidentialityMode = body
        .mode
        .parse()
        .map_err(|e: dspconnect::model::UnknownMode| ApiError::bad("mode", e.to_string()))?;
    let store = state.ctx.store();
    let now = state.ctx.clock().now();
    let subject = Subject::Patient(patient.clone());
    let not_found = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unique_id",
            format!("no document '{unique_id}' visible to patient {patient}"),
        )
    };
    let document = dsp::current_document(store, &subject, &patient, &unique_id, now)
        .map_err(|e| ApiError::store("matricule", e))?
        // As in the portal: a document hidden from the patient (Visite
        // d'annonce) is not confirmed to exist.
        .filter(|document| document.decide(Operation::List).is_allowed())
        .ok_or_else(not_found)?;
    match dsp::change_mode(store, &subject, &document, to, now) {
        Ok(ModeChange::Changed(record)) => Ok(Json(json!({
            "unique_id": record.unique_id,
            "entry_uuid": record.entry_uuid,
            "logical_id": record.logical_id,
            "version": record.version,
            "mode": record.mode.as_str(),
        }))
        .into_response()),
        Ok(ModeChange::Refused(decision)) => Err(ApiError {
            status: refusal_status(&decision),
            field: "mode".to_owned(),
            reason: decision.reason().to_owned(),
            rule: Some(decision.rule.id),
        }),
        Err(dsp::DspError::Store(e)) => Err(ApiError::store("unique_id", e)),
        Err(e) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "unique_id",
            e.to_string(),
        )),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AnomalyQuery {
    patient: Option<String>,
}

async fn anomaly_reports(
    State(state): State<PortalState>,
    headers: HeaderMap,
    query: Result<Query<AnomalyQuery>, QueryRejection>,
) -> ApiResult {
    authorize(&state, &headers)?;
    let query = query_of(query)?;
    let patient = query
        .patient
        .as_deref()
        .map(|m| PatientId::new(m).map_err(|e| ApiError::bad("patient", e.to_string())))
        .transpose()?;
    let store = state.ctx.store();
    let reports = store
        .anomaly_reports(patient.as_ref())
        .map_err(|e| ApiError::store("patient", e))?;
    let mut out = Vec::with_capacity(reports.len());
    for report in reports {
        let unique_id = store
            .document(&report.entry_uuid)
            .map_err(|e| ApiError::store("patient", e))?
            .map(|document| document.unique_id);
        out.push(json!({
            "id": report.id,
            "entry_uuid": report.entry_uuid,
            "unique_id": unique_id,
            "patient": report.patient.to_string(),
            "reporter": report.reporter.to_string(),
            "description": report.description,
            "created_at": rfc3339(report.created_at),
        }));
    }
    Ok(Json(json!({ "anomaly_reports": out })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MailQuery {
    recipient: Option<String>,
}

async fn mail(
    State(state): State<PortalState>,
    headers: HeaderMap,
    query: Result<Query<MailQuery>, QueryRejection>,
) -> ApiResult {
    authorize(&state, &headers)?;
    let query = query_of(query)?;
    let mails = state
        .ctx
        .store()
        .outbox(query.recipient.as_deref())
        .map_err(|e| ApiError::store("recipient", e))?;
    let out: Vec<Value> = mails
        .into_iter()
        .map(|mail| {
            json!({
                "id": mail.id,
                "recipient": mail.recipient,
                "subject": mail.subject,
                "body": mail.body,
                "created_at": rfc3339(mail.created_at),
            })
        })
        .collect();
    Ok(Json(json!({ "mail": out })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdvanceBody {
    seconds: i64,
}

async fn advance_clock(
    State(state): State<PortalState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    authorize(&state, &headers)?;
    let body: AdvanceBody = json_body(&body)?;
    if !(1..=MAX_CLOCK_ADVANCE_SECONDS).contains(&body.seconds) {
        return Err(ApiError::bad(
            "seconds",
            format!(
                "move the clock forward by 1 to {MAX_CLOCK_ADVANCE_SECONDS} seconds (it never goes back)"
            ),
        ));
    }
    let clock = state.ctx.clock();
    clock.advance(Duration::seconds(body.seconds));
    Ok(Json(json!({
        "now": rfc3339(clock.now()),
        "offset_seconds": clock.offset().whole_seconds(),
    }))
    .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeBody {
    /// The card certificate (PEM): revoked in the PKI and, if it is bound to
    /// a professional, in the HPD.
    certificate_pem: Option<String>,
    /// Or only a serial (hex): revoked in the PKI.
    serial: Option<String>,
}

async fn revoke_card(
    State(state): State<PortalState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    authorize(&state, &headers)?;
    let body: RevokeBody = json_body(&body)?;
    let (serial, fingerprint) = match (body.certificate_pem, body.serial) {
        (Some(pem), None) => {
            let der = CertificateDer::from_pem_slice(pem.as_bytes()).map_err(|e| {
                ApiError::bad("certificate_pem", format!("not a PEM certificate: {e}"))
            })?;
            let (_, certificate) = X509Certificate::from_der(der.as_ref()).map_err(|e| {
                ApiError::bad("certificate_pem", format!("not an X.509 certificate: {e}"))
            })?;
            (
                CertificateSerial::from_bytes(certificate.raw_serial()),
                Some(Fingerprint::of_der(der.as_ref())),
            )
        }
        (None, Some(serial)) => (
            CertificateSerial::from_hex(&serial)
                .map_err(|e| ApiError::bad("serial", e.to_string()))?,
            None,
        ),
        _ => {
            return Err(ApiError::bad(
                "certificate_pem",
                "give either certificate_pem or serial",
            ));
        }
    };
    state
        .ctx
        .pki()
        .revoke(&serial)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "serial", e.to_string()))?;
    let store = state.ctx.store();
    let mut bound_to = None;
    if let Some(fingerprint) = &fingerprint {
        let binding = store
            .card_binding(fingerprint)
            .map_err(|e| ApiError::store("certificate_pem", e))?;
        if let Some(binding) = binding {
            store
                .revoke_card_certificate(fingerprint, state.ctx.clock().now())
                .map_err(|e| ApiError::store("certificate_pem", e))?;
            bound_to = Some(binding.ehealth_id.to_string());
        }
    }
    tracing::info!(%serial, "card certificate revoked through the admin API");
    Ok(Json(json!({
        "serial": serial.to_string(),
        "fingerprint": fingerprint.map(|f| f.to_string()),
        "bound_to": bound_to,
    }))
    .into_response())
}

/// A new letter for a professional who lost their credentials (or whose
/// first letter expired): the Agence's side of the reset path. The code is
/// what the letter would carry; it is answered once and stored hashed.
async fn reset_letter(
    State(state): State<PortalState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    authorize(&state, &headers)?;
    let id = ehealth_id("ehealth_id", &id)?;
    if !body.is_empty() {
        // No options yet; an object with unknown fields is refused.
        let _: EmptyBody = json_body(&body)?;
    }
    let store = state.ctx.store().clone();
    let now = state.ctx.clock().now();
    let for_professional = id.clone();
    // argon2 hashing: off the async workers.
    let code =
        tokio::task::spawn_blocking(move || issue_reset_letter(&store, &for_professional, now))
            .await
            .map_err(|e| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "ehealth_id",
                    e.to_string(),
                )
            })?
            .map_err(|e| match e {
                ResetLetterError::UnknownProfessional(_) => {
                    ApiError::new(StatusCode::NOT_FOUND, "ehealth_id", e.to_string())
                }
                ResetLetterError::Deactivated(_) => {
                    ApiError::new(StatusCode::CONFLICT, "ehealth_id", e.to_string())
                }
                ResetLetterError::Store(store) => ApiError::store("ehealth_id", store),
            })?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "ehealth_id": id.to_string(),
            "code": code.expose(),
            "not_on_or_after": rfc3339(now + RESET_LETTER_LIFETIME),
        })),
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EmptyBody {}

async fn fault_plan(State(state): State<PortalState>, headers: HeaderMap) -> ApiResult {
    authorize(&state, &headers)?;
    Ok(Json(state.ctx.faults().plan()).into_response())
}

/// Puts a fault plan in force (an empty one lifts every fault); answers
/// the plan now in force.
async fn set_fault_plan(
    State(state): State<PortalState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    authorize(&state, &headers)?;
    let plan: FaultPlan = json_body(&body)?;
    let faults = state.ctx.faults();
    faults.set(plan.clone()).map_err(|error| {
        let (prefix, field) = match &error {
            FaultPlanError::RelativePrefix { prefix }
            | FaultPlanError::ControlPath { prefix }
            | FaultPlanError::DuplicatePrefix { prefix } => (prefix, "path_prefix"),
            FaultPlanError::SharesOver100 { prefix, .. } => (prefix, "unavailable_percent"),
            FaultPlanError::DelayWithoutDuration { prefix, .. }
            | FaultPlanError::DelayTooLong { prefix, .. } => (prefix, "delay_ms"),
        };
        // The last rule with that prefix: for a duplicate, the second one.
        let index = plan
            .rules
            .iter()
            .rposition(|rule| &rule.path_prefix == prefix)
            .unwrap_or_default();
        ApiError::bad(format!("rules[{index}].{field}"), error.to_string())
    })?;
    tracing::info!(
        rules = plan.rules.len(),
        "fault plan set through the admin API"
    );
    Ok(Json(faults.plan()).into_response())
}

async fn lift_faults(State(state): State<PortalState>, headers: HeaderMap) -> ApiResult {
    authorize(&state, &headers)?;
    state.ctx.faults().clear();
    Ok(Json(state.ctx.faults().plan()).into_response())
}
