//! The professional web portal (`/portal/…`): a one-time ticket opens one
//! patient's DSP in the browser of the professional it was issued to.
//!
//! The ticket is a bearer secret. Only a real `GET` spends it: a `HEAD`, a
//! browser prefetch or a link preview (`Sec-Purpose: prefetch`,
//! `Purpose: prefetch`, `X-Moz: prefetch`, `X-Purpose: preview`) gets a
//! small page and leaves it unspent. Spent, it becomes a session cookie and
//! a 303 to the patient's page, so the ticket leaves the address bar.

use axum::Router;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Path, Query, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use zeroize::Zeroizing;

use super::dsp::{self, ListedDocument};
use super::error::PortalError;
use super::html::{self, button_form, csrf_field, date_time, esc, mode_meaning, page, respond};
use super::names::Names;
use super::web_session::{
    PROFESSIONAL_COOKIE, PROFESSIONAL_SESSION_LIFETIME, check_csrf, check_origin, clear_cookie,
    cookie, csrf_token, set_cookie,
};
use super::{PortalState, segment};
use crate::policy::{EHealthId, Operation, PatientId, Subject};
use crate::store::{TicketRedemption, WebSession, WebSubject};

/// Longest anomaly description accepted, in characters.
pub(crate) const MAX_DESCRIPTION_CHARS: usize = 4000;

pub(super) const ENDPOINTS: &[(&str, &str, &str)] = &[
    (
        "GET",
        "/portal/open?ticket=…",
        "professional portal: redeems a one-time ticket into a session (HEAD and prefetch do not)",
    ),
    (
        "GET",
        "/portal/patient/{matricule}",
        "professional portal: the patient's documents this professional may see",
    ),
    (
        "GET",
        "/portal/patient/{matricule}/document/{uniqueId}",
        "professional portal: one document, inline",
    ),
    (
        "POST",
        "/portal/patient/{matricule}/document/{uniqueId}/anomaly",
        "professional portal: report an anomaly (« signaler au gestionnaire »)",
    ),
    (
        "POST",
        "/portal/logout",
        "professional portal: end the session",
    ),
];

pub(super) fn routes() -> Router<PortalState> {
    Router::new()
        // The explicit HEAD route: axum would otherwise run the GET handler
        // for HEAD and spend the ticket.
        .route("/portal/open", get(open).head(open_without_spending))
        .route("/portal/patient/{matricule}", get(patient_page))
        .route(
            "/portal/patient/{matricule}/document/{unique_id}",
            get(view_document),
        )
        .route(
            "/portal/patient/{matricule}/document/{unique_id}/anomaly",
            post(report_anomaly),
        )
        .route("/portal/logout", post(logout))
}

#[derive(Deserialize)]
struct TicketQuery {
    ticket: Option<String>,
}

/// Whether the request is a prefetch or a link preview, not a person
/// opening the link.
fn is_speculative(headers: &HeaderMap) -> bool {
    let says = |name: &str, words: &[&str]| {
        headers.get_all(name).iter().any(|value| {
            let value = String::from_utf8_lossy(value.as_bytes()).to_ascii_lowercase();
            words.iter().any(|word| value.contains(word))
        })
    };
    says("sec-purpose", &["prefetch", "prerender"])
        || says("purpose", &["prefetch", "prerender"])
        || says("x-moz", &["prefetch"])
        || says("x-purpose", &["preview", "prefetch"])
}

fn ticket_of(
    query: Result<Query<TicketQuery>, QueryRejection>,
) -> Result<Zeroizing<String>, PortalError> {
    let missing = || PortalError::BadInput {
        field: "ticket",
        reason: "the link carries no ticket: open it again from your practice software".into(),
    };
    let Query(query) = query.map_err(|_| missing())?;
    match query.ticket {
        Some(ticket) if !ticket.trim().is_empty() => Ok(Zeroizing::new(ticket)),
        _ => Err(missing()),
    }
}

/// The answer to a request that must not spend the ticket.
fn unspent_page(ticket: &str) -> Response {
    respond(
        StatusCode::OK,
        "One-time link to a DSP",
        &format!(
            r#"<p id="unspent">This one-time link opens a patient's DSP. It was not used by this request (a preview or prefetch).</p><p><a id="open" href="/portal/open?ticket={}">Open the DSP</a></p>"#,
            esc(&segment(ticket))
        ),
    )
}

async fn open_without_spending(
    query: Result<Query<TicketQuery>, QueryRejection>,
) -> Result<Response, PortalError> {
    let ticket = ticket_of(query)?;
    Ok(unspent_page(&ticket))
}

async fn open(
    State(state): State<PortalState>,
    method: Method,
    headers: HeaderMap,
    query: Result<Query<TicketQuery>, QueryRejection>,
) -> Result<Response, PortalError> {
    let ticket = ticket_of(query)?;
    if method != Method::GET || is_speculative(&headers) {
        return Ok(unspent_page(&ticket));
    }
    let store = state.ctx.store();
    let now = state.ctx.clock().now();
    let refused = |status, title: &str, text: &str| {
        respond(
            status,
            title,
            &format!(r#"<p id="ticket-refused">{}</p>"#, esc(text)),
        )
    };
    match store.redeem_portal_ticket(&ticket, now)? {
        TicketRedemption::Redeemed {
            ehealth_id,
            patient,
        } => {
            let subject = WebSubject::Professional {
                ehealth_id: ehealth_id.clone(),
                patient: patient.clone(),
            };
            let token = store.open_web_session(&subject, now, PROFESSIONAL_SESSION_LIFETIME)?;
            tracing::info!(%ehealth_id, "portal ticket redeemed into a browser session");
            let location = format!("/portal/patient/{}", segment(patient.as_str()));
            Ok((
                StatusCode::SEE_OTHER,
                [
                    (
                        SET_COOKIE,
                        set_cookie(
                            PROFESSIONAL_COOKIE,
                            token.expose(),
                            PROFESSIONAL_SESSION_LIFETIME,
                        ),
                    ),
                    (
                        LOCATION,
                        HeaderValue::from_str(&location)
                            .map_err(|e| PortalError::Internal(e.to_string()))?,
                    ),
                ],
            )
                .into_response())
        }
        TicketRedemption::Unknown => Ok(refused(
            StatusCode::NOT_FOUND,
            "Link not valid",
            "This link is not valid. Open the patient's DSP again from your practice software.",
        )),
        TicketRedemption::Expired => Ok(refused(
            StatusCode::GONE,
            "Link expired",
            "This link has expired (links are valid for a few minutes). Open the patient's DSP again from your practice software.",
        )),
        TicketRedemption::AlreadyUsed => Ok(refused(
            StatusCode::GONE,
            "Link already used",
            "This link was already used: a link opens the DSP once. Open the patient's DSP again from your practice software.",
        )),
    }
}

/// The professional's browser session.
struct ProfessionalSession {
    ehealth_id: EHealthId,
    patient: PatientId,
    token: Zeroizing<String>,
    session: WebSession,
}

impl ProfessionalSession {
    fn subject(&self) -> Subject {
        Subject::card(self.ehealth_id.clone())
    }

    fn csrf(&self) -> String {
        csrf_token(&self.token)
    }
}

fn professional_session(
    state: &PortalState,
    headers: &HeaderMap,
) -> Result<ProfessionalSession, PortalError> {
    let token = cookie(headers, PROFESSIONAL_COOKIE).ok_or(PortalError::NoProfessionalSession)?;
    let session = state
        .ctx
        .store()
        .web_session(token, state.ctx.clock().now())?
        .ok_or(PortalError::NoProfessionalSession)?;
    match &session.subject {
        WebSubject::Professional {
            ehealth_id,
            patient,
        } => Ok(ProfessionalSession {
            ehealth_id: ehealth_id.clone(),
            patient: patient.clone(),
            token: Zeroizing::new(token.to_owned()),
            session,
        }),
        _ => Err(PortalError::NoProfessionalSession),
    }
}

/// The session, which must be on `matricule`'s DSP.
fn session_on(
    state: &PortalState,
    headers: &HeaderMap,
    matricule: &str,
) -> Result<ProfessionalSession, PortalError> {
    let session = professional_session(state, headers)?;
    if session.patient.as_str() != matricule {
        return Err(PortalError::OtherPatient);
    }
    Ok(session)
}

#[derive(Deserialize)]
struct NoticeQuery {
    notice: Option<String>,
}

fn notice_markup(notice: Option<&str>) -> &'static str {
    match notice {
        Some("anomaly-reported") => {
            r#"<p class="flash" id="notice">Your anomaly report was sent to the Agence eSanté (« signaler au gestionnaire »).</p>"#
        }
        _ => "",
    }
}

async fn patient_page(
    State(state): State<PortalState>,
    Path(matricule): Path<String>,
    notice: Result<Query<NoticeQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, PortalError> {
    let session = session_on(&state, &headers, &matricule)?;
    let store = state.ctx.store();
    let now = state.ctx.clock().now();
    let subject = session.subject();
    let patient = &session.patient;
    let documents = dsp::listed_documents(store, &subject, patient, now)?;
    for document in &documents {
        dsp::record(
            store,
            &subject,
            patient,
            &document.decide(Operation::List),
            Some(&document.record.entry_uuid),
            now,
        )?;
    }
    let record = store
        .patient(patient)?
        .ok_or_else(|| PortalError::NotFound {
            what: format!("patient '{patient}'"),
        })?;
    let mut names = Names::new(store);
    let csrf = session.csrf();
    let base = format!("/portal/patient/{}", segment(patient.as_str()));
    let mut rows = String::new();
    for document in &documents {
        rows.push_str(&document_row(&base, document, &csrf, &mut names)?);
    }
    let table = if documents.is_empty() {
        r#"<p id="no-documents">No document of this DSP is open to you.</p>"#.to_owned()
    } else {
        format!(
            r#"<table id="documents"><tr><th>Title</th><th>Mode</th><th>Author</th><th>Date</th><th>Report an anomaly</th></tr>{rows}</table>"#
        )
    };
    let notice = notice.ok().and_then(|Query(q)| q.notice);
    let body = format!(
        r#"<p>Patient: <strong id="patient-name">{name}</strong>, matricule <code>{matricule}</code></p>
<p>Signed in as <span id="professional">{professional}</span>, through a one-time link; this session ends at {until}.</p>
{notice}
<h2>Documents you may see</h2>
{table}
<p>{logout}</p>"#,
        name = esc(&format!("{} {}", record.given_name, record.family_name)),
        matricule = esc(patient.as_str()),
        professional = esc(&names.professional(&session.ehealth_id)?),
        until = esc(&date_time(session.session.not_on_or_after)),
        notice = notice_markup(notice.as_deref()),
        logout = button_form("/portal/logout", &csrf, &[], "Sign out"),
    );
    Ok(Html(page("DSP — professional portal", &body)).into_response())
}

fn document_row(
    base: &str,
    document: &ListedDocument,
    csrf: &str,
    names: &mut Names<'_>,
) -> Result<String, PortalError> {
    let record = &document.record;
    let link = format!("{base}/document/{}", segment(&record.unique_id));
    let report = if document.decide(Operation::ReportAnomaly).is_allowed() {
        format!(
            r#"<form method="post" action="{action}">{csrf}<textarea name="description" required maxlength="{max}" rows="2" cols="30"></textarea> <button type="submit">Report</button></form>"#,
            action = esc(&format!("{link}/anomaly")),
            csrf = csrf_field(csrf),
            max = MAX_DESCRIPTION_CHARS,
        )
    } else {
        "—".to_owned()
    };
    Ok(format!(
        r#"<tr class="document" data-unique-id="{uid}" data-mode="{mode_id}"><td><a href="{link}">{title}</a></td><td title="{meaning}">{mode}</td><td>{author}</td><td>{date}</td><td>{report}</td></tr>"#,
        uid = esc(&record.unique_id),
        mode_id = esc(record.mode.as_str()),
        link = esc(&link),
        title = esc(&document.title),
        meaning = esc(mode_meaning(record.mode)),
        mode = esc(record.mode.charter_name()),
        author = esc(&names.professional(&record.author)?),
        date = esc(&date_time(document.date)),
    ))
}

async fn view_document(
    State(state): State<PortalState>,
    Path((matricule, unique_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, PortalError> {
    let session = session_on(&state, &headers, &matricule)?;
    let store = state.ctx.store();
    let now = state.ctx.clock().now();
    let subject = session.subject();
    let document = dsp::current_document(store, &subject, &session.patient, &unique_id, now)?
        .ok_or_else(|| invisible(&unique_id))?;
    let decision = document.decide(Operation::Read);
    dsp::record(
        store,
        &subject,
        &session.patient,
        &decision,
        Some(&document.record.entry_uuid),
        now,
    )?;
    if !decision.is_allowed() {
        // As for an unknown uniqueId: a document this professional may not
        // read is not confirmed to exist.
        return Err(invisible(&unique_id));
    }
    super::document_body::serve(state.ctx.data_dir(), &document.record).await
}

#[derive(Deserialize)]
struct AnomalyForm {
    csrf: Option<String>,
    description: Option<String>,
}

async fn report_anomaly(
    State(state): State<PortalState>,
    Path((matricule, unique_id)): Path<(String, String)>,
    headers: HeaderMap,
    form: Result<Form<AnomalyForm>, FormRejection>,
) -> Result<Response, PortalError> {
    check_origin(&headers, state.ctx.base_url())?;
    let session = session_on(&state, &headers, &matricule)?;
    let Form(form) = form.map_err(|e| PortalError::BadInput {
        field: "form",
        reason: e.body_text(),
    })?;
    check_csrf(form.csrf.as_deref(), &session.csrf())?;
    let description = form.description.unwrap_or_default();
    let description = description.trim();
    if description.is_empty() || description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(PortalError::BadInput {
            field: "description",
            reason: format!("describe the anomaly in 1 to {MAX_DESCRIPTION_CHARS} characters"),
        });
    }
    let store = state.ctx.store();
    let now = state.ctx.clock().now();
    let subject = session.subject();
    let document = dsp::current_document(store, &subject, &session.patient, &unique_id, now)?
        .ok_or_else(|| invisible(&unique_id))?;
    if !document.decide(Operation::List).is_allowed() {
        return Err(invisible(&unique_id));
    }
    let decision = document.decide(Operation::ReportAnomaly);
    dsp::record(
        store,
        &subject,
        &session.patient,
        &decision,
        Some(&document.record.entry_uuid),
        now,
    )?;
    if !decision.is_allowed() {
        return Err(PortalError::Refused(decision));
    }
    store.add_anomaly_report(
        &document.record.entry_uuid,
        &session.ehealth_id,
        description,
        now,
    )?;
    let location = format!(
        "/portal/patient/{}?notice=anomaly-reported",
        segment(session.patient.as_str())
    );
    see_other(&location)
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: Option<String>,
}

async fn logout(
    State(state): State<PortalState>,
    headers: HeaderMap,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, PortalError> {
    check_origin(&headers, state.ctx.base_url())?;
    let session = professional_session(&state, &headers)?;
    let csrf = form.ok().and_then(|Form(f)| f.csrf);
    check_csrf(csrf.as_deref(), &session.csrf())?;
    state
        .ctx
        .store()
        .close_web_session(&session.token, state.ctx.clock().now())?;
    let mut response = html::respond(
        StatusCode::OK,
        "Signed out",
        r#"<p id="signed-out">You are signed out of the patient's DSP.</p>"#,
    );
    response
        .headers_mut()
        .insert(SET_COOKIE, clear_cookie(PROFESSIONAL_COOKIE));
    Ok(response)
}

/// The answer for a document that does not exist or is not visible.
pub(crate) fn invisible(unique_id: &str) -> PortalError {
    PortalError::NotFound {
        what: format!("document '{unique_id}' among those of this DSP visible to you"),
    }
}

/// A 303 to a path of ours.
pub(crate) fn see_other(location: &str) -> Result<Response, PortalError> {
    let location =
        HeaderValue::from_str(location).map_err(|e| PortalError::Internal(e.to_string()))?;
    Ok((StatusCode::SEE_OTHER, [(LOCATION, location)]).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefetch_and_previews_are_recognised() {
        let cases: [(&str, &str, bool); 7] = [
            ("sec-purpose", "prefetch", true),
            ("sec-purpose", "prefetch;prerender", true),
            ("purpose", "prefetch", true),
            ("x-moz", "prefetch", true),
            ("x-purpose", "preview", true),
            ("sec-fetch-mode", "navigate", false),
            ("purpose", "", false),
        ];
        for (name, value, speculative) in cases {
            let mut headers = HeaderMap::new();
            headers.insert(
                axum::http::HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
            assert_eq!(is_speculative(&headers), speculative, "{name}: {value}");
        }
        assert!(!is_speculative(&HeaderMap::new()));
    }
}
