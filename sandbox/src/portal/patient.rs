//! The patient portal (`/patient/…`): patients sign in with their matricule
//! and sandbox password, accompagnateurs with their login and password.
//!
//! The patient sees their documents (never a Visite d'annonce: the policy
//! hides it), chooses the médecin référent, edits the cercle de confiance
//! and the black list, names accompagnateurs, creates codes de présence,
//! changes modes as the charter allows and reads the access trail. The
//! accompagnateur reads the DSPs of the patients who named them as the
//! patient does and changes nothing: no edit form is shown, and every edit
//! is refused server-side for an accompagnateur session.
//!
//! Which DSP a page shows, and what it lists, is the policy's answer for
//! the signed-in subject (`SeeAccessTrail` on the DSP opens the patient-side
//! view: the titulaire and their accompagnateurs; `List`/`Read` per
//! document). Consent edits act on the signed-in patient's own DSP only.

use axum::Router;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Path, Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use dspconnect::model::ConfidentialityMode;
use serde::Deserialize;
use zeroize::Zeroizing;

use super::dsp::{self, ConsentEdit, ListedDocument, ModeChange, PRESENCE_CODE_LIFETIME};
use super::error::PortalError;
use super::html::{button_form, csrf_field, date_time, esc, mode_meaning, page, respond};
use super::names::Names;
use super::professional::{invisible, see_other};
use super::web_session::{
    LOGIN_COOKIE, LOGIN_FORM_LIFETIME, PATIENT_COOKIE, PATIENT_SESSION_LIFETIME, check_csrf,
    check_origin, clear_cookie, cookie, csrf_token, random_token, set_cookie,
};
use super::{PortalState, segment};
use crate::policy::{AccompagnateurId, EHealthId, Operation, PatientId, Subject};
use crate::store::{Store, StoreError, WebSubject};

/// Most professionals an HPD search shows.
const MAX_SEARCH_RESULTS: usize = 50;

pub(super) const ENDPOINTS: &[(&str, &str, &str)] = &[
    (
        "GET",
        "/patient/login",
        "patient portal: sign in (patient: matricule + password; accompagnateur: login + password)",
    ),
    (
        "GET",
        "/patient/dsp/{matricule}",
        "patient portal: a DSP's documents and, for its patient, the consents",
    ),
    (
        "GET",
        "/patient/dsp/{matricule}/trail",
        "patient portal: the access trail (who accessed the DSP, when, what)",
    ),
    (
        "GET",
        "/patient/hpd?q=…",
        "patient portal: find professionals in the HPD",
    ),
    (
        "POST",
        "/patient/referent, /patient/cercle, /patient/black-list, /patient/accompagnateurs",
        "patient portal: edit the consents",
    ),
    (
        "POST",
        "/patient/presence-code",
        "patient portal: create a code de présence (shown once)",
    ),
    (
        "POST",
        "/patient/document/{uniqueId}/mode",
        "patient portal: change a document's mode",
    ),
];

pub(super) fn routes() -> Router<PortalState> {
    Router::new()
        .route("/patient", get(|| async { see_other("/patient/") }))
        .route("/patient/", get(home))
        .route("/patient/login", get(login_form).post(login))
        .route("/patient/logout", post(logout))
        .route("/patient/dsp/{matricule}", get(dsp_page))
        .route(
            "/patient/dsp/{matricule}/document/{unique_id}",
            get(view_document),
        )
        .route("/patient/dsp/{matricule}/trail", get(trail_page))
        .route("/patient/hpd", get(hpd_search))
        .route("/patient/referent", post(set_referent))
        .route("/patient/cercle", post(edit_cercle))
        .route("/patient/black-list", post(edit_black_list))
        .route("/patient/accompagnateurs", post(edit_accompagnateurs))
        .route("/patient/presence-code", post(presence_code))
        .route("/patient/document/{unique_id}/mode", post(change_mode))
}

/// A patient-side browser session.
struct PatientSideSession {
    subject: Subject,
    token: Zeroizing<String>,
}

impl PatientSideSession {
    fn csrf(&self) -> String {
        csrf_token(&self.token)
    }

    /// The titulaire's matricule; an accompagnateur edits nothing.
    fn titulaire(&self) -> Result<&PatientId, PortalError> {
        match &self.subject {
            Subject::Patient(patient) => Ok(patient),
            _ => Err(PortalError::ReadOnly),
        }
    }
}

fn patient_side_session(
    state: &PortalState,
    headers: &HeaderMap,
) -> Result<PatientSideSession, PortalError> {
    let token = cookie(headers, PATIENT_COOKIE).ok_or(PortalError::NoPatientSession)?;
    let session = state
        .ctx
        .store()
        .web_session(token, state.ctx.clock().now())?
        .ok_or(PortalError::NoPatientSession)?;
    let subject = match session.subject {
        WebSubject::Patient(patient) => Subject::Patient(patient),
        WebSubject::Accompagnateur(login) => Subject::Accompagnateur(
            AccompagnateurId::new(login)
                .map_err(|e| PortalError::Internal(format!("stored session: {e}")))?,
        ),
        WebSubject::Professional { .. } => return Err(PortalError::NoPatientSession),
    };
    Ok(PatientSideSession {
        subject,
        token: Zeroizing::new(token.to_owned()),
    })
}

/// The checks of every edit: same origin, signed in, CSRF token, and the
/// titulaire (an accompagnateur is refused).
fn editor(
    state: &PortalState,
    headers: &HeaderMap,
    csrf: Option<&str>,
) -> Result<PatientId, PortalError> {
    check_origin(headers, state.ctx.base_url())?;
    let session = patient_side_session(state, headers)?;
    check_csrf(csrf, &session.csrf())?;
    Ok(session.titulaire()?.clone())
}

fn parse_patient(matricule: &str) -> Result<PatientId, PortalError> {
    PatientId::new(matricule).map_err(|_| PortalError::NotFound {
        what: format!("DSP '{matricule}'"),
    })
}

fn form_of<T>(form: Result<Form<T>, FormRejection>) -> Result<T, PortalError> {
    form.map(|Form(f)| f).map_err(|e| PortalError::BadInput {
        field: "form",
        reason: e.body_text(),
    })
}

async fn home(
    State(state): State<PortalState>,
    headers: HeaderMap,
) -> Result<Response, PortalError> {
    let session = match patient_side_session(&state, &headers) {
        Ok(session) => session,
        Err(PortalError::NoPatientSession) => return see_other("/patient/login"),
        Err(other) => return Err(other),
    };
    let login = match &session.subject {
        Subject::Patient(patient) => {
            return see_other(&format!("/patient/dsp/{}", segment(patient.as_str())));
        }
        Subject::Accompagnateur(login) => login.clone(),
        Subject::Professional { .. } => return Err(PortalError::NoPatientSession),
    };
    let store = state.ctx.store();
    let mut items = String::new();
    for patient in store.patients_accompanied_by(&login)? {
        let name = match store.patient(&patient)? {
            Some(record) => format!("{} {}", record.given_name, record.family_name),
            None => patient.to_string(),
        };
        items.push_str(&format!(
            r#"<li><a class="dsp" href="/patient/dsp/{m}">{name}</a> (matricule {matricule})</li>"#,
            m = esc(&segment(patient.as_str())),
            name = esc(&name),
            matricule = esc(patient.as_str()),
        ));
    }
    let list = if items.is_empty() {
        "<p>No patient has named you accompagnateur.</p>".to_owned()
    } else {
        format!(r#"<ul id="accompanied">{items}</ul>"#)
    };
    let body = format!(
        r#"<p>Signed in as accompagnateur <strong>{who}</strong>. You read these DSPs as their patient does; you change nothing.</p>
<h2>DSPs you accompany</h2>
{list}
<p>{logout}</p>"#,
        who = esc(&Names::new(store).accompagnateur(&login)?),
        logout = button_form("/patient/logout", &session.csrf(), &[], "Sign out"),
    );
    Ok(Html(page("Patient portal", &body)).into_response())
}

async fn login_form(
    State(state): State<PortalState>,
    headers: HeaderMap,
) -> Result<Response, PortalError> {
    if patient_side_session(&state, &headers).is_ok() {
        return see_other("/patient/");
    }
    let nonce = random_token();
    let form = |id: &str, kind: &str, label: &str, autocomplete: &str| {
        format!(
            r#"<form id="{id}" method="post" action="/patient/login">{csrf}<input type="hidden" name="kind" value="{kind}">
<p><label>{label} <input name="identifier" required autocomplete="{autocomplete}"></label></p>
<p><label>Password <input name="password" type="password" required autocomplete="current-password"></label></p>
<p><button type="submit">Sign in</button></p></form>"#,
            csrf = csrf_field(&nonce),
        )
    };
    let body = format!(
        r#"<h2>Patient</h2>
{patient}
<h2>Accompagnateur DSP</h2>
{accompagnateur}
<p>Sandbox accounts: see the demo data printed at start (passwords are sandbox passwords, not secrets).</p>"#,
        patient = form("patient-login", "patient", "Matricule", "username"),
        accompagnateur = form(
            "accompagnateur-login",
            "accompagnateur",
            "Login",
            "username"
        ),
    );
    let mut response = Html(page("Patient portal — sign in", &body)).into_response();
    response.headers_mut().insert(
        SET_COOKIE,
        set_cookie(LOGIN_COOKIE, &nonce, LOGIN_FORM_LIFETIME),
    );
    Ok(response)
}

#[derive(Deserialize)]
struct LoginForm {
    csrf: Option<String>,
    kind: Option<String>,
    identifier: Option<String>,
    password: Option<Zeroizing<String>>,
}

async fn login(
    State(state): State<PortalState>,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Result<Response, PortalError> {
    check_origin(&headers, state.ctx.base_url())?;
    let form = form_of(form)?;
    let nonce = cookie(&headers, LOGIN_COOKIE).ok_or(PortalError::CsrfRefused)?;
    check_csrf(form.csrf.as_deref(), nonce)?;
    let identifier = form.identifier.unwrap_or_default().trim().to_owned();
    let password = form.password.unwrap_or_default();
    let store = state.ctx.store().clone();
    let kind = form.kind.unwrap_or_default();
    // argon2 takes milliseconds of CPU: off the async workers.
    let subject =
        tokio::task::spawn_blocking(move || check_login(&store, &kind, &identifier, &password))
            .await
            .map_err(|e| PortalError::Internal(e.to_string()))??;
    let Some(subject) = subject else {
        return Ok(respond(
            StatusCode::UNAUTHORIZED,
            "Sign-in refused",
            r#"<p id="login-refused">The matricule (or login) or the password is wrong.</p><p><a href="/patient/login">Try again</a></p>"#,
        ));
    };
    let now = state.ctx.clock().now();
    let token = state
        .ctx
        .store()
        .open_web_session(&subject, now, PATIENT_SESSION_LIFETIME)?;
    let mut response = see_other("/patient/")?;
    let headers = response.headers_mut();
    headers.append(
        SET_COOKIE,
        set_cookie(PATIENT_COOKIE, token.expose(), PATIENT_SESSION_LIFETIME),
    );
    headers.append(SET_COOKIE, clear_cookie(LOGIN_COOKIE));
    Ok(response)
}

/// Who the credentials are, if they are right.
fn check_login(
    store: &Store,
    kind: &str,
    identifier: &str,
    password: &str,
) -> Result<Option<WebSubject>, StoreError> {
    match kind {
        "patient" => {
            let Ok(patient) = PatientId::new(identifier) else {
                return Ok(None);
            };
            Ok(store
                .check_patient_password(&patient, password)?
                .then_some(WebSubject::Patient(patient)))
        }
        "accompagnateur" => {
            let Ok(login) = AccompagnateurId::new(identifier) else {
                return Ok(None);
            };
            Ok(store
                .check_accompagnateur_password(&login, password)?
                .then(|| WebSubject::Accompagnateur(login.to_string())))
        }
        _ => Ok(None),
    }
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
    let session = patient_side_session(&state, &headers)?;
    let csrf = form_of(form)?.csrf;
    check_csrf(csrf.as_deref(), &session.csrf())?;
    state
        .ctx
        .store()
        .close_web_session(&session.token, state.ctx.clock().now())?;
    let mut response = see_other("/patient/login")?;
    response
        .headers_mut()
        .insert(SET_COOKIE, clear_cookie(PATIENT_COOKIE));
    Ok(response)
}

#[derive(Deserialize)]
struct NoticeQuery {
    notice: Option<String>,
}

fn notice_markup(notice: Option<&str>) -> &'static str {
    match notice {
        Some("referent") => {
            r#"<p class="flash" id="notice">Your médecin référent was updated.</p>"#
        }
        Some("cercle") => {
            r#"<p class="flash" id="notice">Your cercle de confiance was updated.</p>"#
        }
        Some("black-list") => r#"<p class="flash" id="notice">Your black list was updated.</p>"#,
        Some("accompagnateurs") => {
            r#"<p class="flash" id="notice">Your accompagnateurs were updated.</p>"#
        }
        Some("mode") => r#"<p class="flash" id="notice">The document's mode was changed.</p>"#,
        _ => "",
    }
}

/// The DSP `matricule` as the signed-in subject may see it from the
/// patient's side (the policy's `SeeAccessTrail`: the titulaire and their
/// accompagnateurs).
fn opened_dsp(
    state: &PortalState,
    session: &PatientSideSession,
    matricule: &str,
) -> Result<PatientId, PortalError> {
    let patient = parse_patient(matricule)?;
    let now = state.ctx.clock().now();
    let decision = dsp::decide_on_dsp(
        state.ctx.store(),
        &session.subject,
        &patient,
        Operation::SeeAccessTrail,
        now,
    )?;
    if !decision.is_allowed() {
        return Err(PortalError::Refused(decision));
    }
    Ok(patient)
}

async fn dsp_page(
    State(state): State<PortalState>,
    Path(matricule): Path<String>,
    notice: Result<Query<NoticeQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, PortalError> {
    let session = patient_side_session(&state, &headers)?;
    let patient = opened_dsp(&state, &session, &matricule)?;
    let store = state.ctx.store();
    let now = state.ctx.clock().now();
    let documents = dsp::listed_documents(store, &session.subject, &patient, now)?;
    let editable = session.titulaire().ok() == Some(&patient);
    if !editable {
        // The titulaire looking at their own list is no access to report;
        // an accompagnateur's is.
        for document in &documents {
            dsp::record(
                store,
                &session.subject,
                &patient,
                &document.decide(Operation::List),
                Some(&document.record.entry_uuid),
                now,
            )?;
        }
    }
    let record = store
        .patient(&patient)?
        .ok_or_else(|| PortalError::NotFound {
            what: format!("DSP '{patient}'"),
        })?;
    let mut names = Names::new(store);
    let csrf = session.csrf();
    let base = format!("/patient/dsp/{}", segment(patient.as_str()));
    let mut rows = String::new();
    for document in &documents {
        rows.push_str(&document_row(
            &base,
            document,
            editable.then_some(csrf.as_str()),
            &mut names,
        )?);
    }
    let documents_markup = if documents.is_empty() {
        r#"<p id="no-documents">No document to show.</p>"#.to_owned()
    } else {
        format!(
            r#"<table id="documents"><tr><th>Title</th><th>Mode</th><th>Author</th><th>Date</th>{change}</tr>{rows}</table>"#,
            change = if editable {
                "<th>Change the mode</th>"
            } else {
                ""
            },
        )
    };
    let who = match &session.subject {
        Subject::Accompagnateur(login) => format!(
            "accompagnateur {} (read only)",
            names.accompagnateur(login)?
        ),
        _ => "the patient".to_owned(),
    };
    let consents = if editable {
        consents_markup(store, &patient, &csrf, &mut names)?
    } else {
        String::new()
    };
    let notice = notice.ok().and_then(|Query(q)| q.notice);
    let body = format!(
        r#"<p>DSP of <strong id="patient-name">{name}</strong>, matricule <code>{matricule}</code>. Signed in as <span id="signed-in-as">{who}</span>.</p>
{notice}
<h2>Documents</h2>
{documents_markup}
<p><a id="trail-link" href="{base}/trail">Access trail: who accessed this DSP, and when</a></p>
{consents}
<p>{back}{logout}</p>"#,
        name = esc(&format!("{} {}", record.given_name, record.family_name)),
        matricule = esc(patient.as_str()),
        who = esc(&who),
        notice = notice_markup(notice.as_deref()),
        base = esc(&base),
        back = if editable {
            String::new()
        } else {
            r#"<a href="/patient/">All DSPs you accompany</a> "#.to_owned()
        },
        logout = button_form("/patient/logout", &csrf, &[], "Sign out"),
    );
    Ok(Html(page("Patient portal — DSP", &body)).into_response())
}

fn document_row(
    base: &str,
    document: &ListedDocument,
    csrf: Option<&str>,
    names: &mut Names<'_>,
) -> Result<String, PortalError> {
    let record = &document.record;
    let link = format!("{base}/document/{}", segment(&record.unique_id));
    let change = match csrf {
        None => String::new(),
        Some(csrf) => {
            let options: String = ConfidentialityMode::ALL
                .into_iter()
                .filter(|mode| *mode != record.mode)
                .map(|mode| {
                    format!(
                        r#"<option value="{}">{}</option>"#,
                        esc(mode.as_str()),
                        esc(mode.charter_name())
                    )
                })
                .collect();
            format!(
                r#"<td><form class="mode-change" method="post" action="/patient/document/{uid}/mode">{csrf}<select name="mode">{options}</select> <button type="submit">Change</button></form></td>"#,
                uid = esc(&segment(&record.unique_id)),
                csrf = csrf_field(csrf),
            )
        }
    };
    Ok(format!(
        r#"<tr class="document" data-unique-id="{uid}" data-mode="{mode_id}"><td><a href="{link}">{title}</a></td><td title="{meaning}">{mode}</td><td>{author}</td><td>{date}</td>{change}</tr>"#,
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

/// The titulaire's consents, each with its edit forms.
fn consents_markup(
    store: &Store,
    patient: &PatientId,
    csrf: &str,
    names: &mut Names<'_>,
) -> Result<String, PortalError> {
    let relations = store.relations(patient)?;
    let referent = match &relations.referent {
        Some(id) => format!(
            r#"<span id="referent" data-ehealth-id="{id}">{name}</span> {clear}"#,
            id = esc(id.as_str()),
            name = esc(&names.professional(id)?),
            clear = button_form(
                "/patient/referent",
                csrf,
                &[("professional", "")],
                "No médecin référent"
            ),
        ),
        None => r#"<span id="referent">none chosen</span>"#.to_owned(),
    };
    let professional_list = |list_id: &str,
                             ids: &[EHealthId],
                             action: &str,
                             names: &mut Names<'_>|
     -> Result<String, PortalError> {
        if ids.is_empty() {
            return Ok(format!(r#"<ul id="{}"></ul><p>Nobody.</p>"#, esc(list_id)));
        }
        let mut items = String::new();
        for id in ids {
            items.push_str(&format!(
                r#"<li data-ehealth-id="{id}">{name} {remove}</li>"#,
                id = esc(id.as_str()),
                name = esc(&names.professional(id)?),
                remove = button_form(
                    action,
                    csrf,
                    &[("action", "remove"), ("professional", id.as_str())],
                    "Remove"
                ),
            ));
        }
        Ok(format!(r#"<ul id="{}">{items}</ul>"#, esc(list_id)))
    };
    let add_form = |action: &str, label: &str| {
        format!(
            r#"<form method="post" action="{action}">{csrf}<input type="hidden" name="action" value="add"><label>eHealth id <input name="professional" required></label> <button type="submit">{label}</button></form>"#,
            action = esc(action),
            csrf = csrf_field(csrf),
            label = esc(label),
        )
    };
    let cercle = professional_list("cercle", &relations.cercle, "/patient/cercle", names)?;
    let black_list = professional_list(
        "black-list",
        &relations.black_list,
        "/patient/black-list",
        names,
    )?;
    let mut accompagnateurs = String::new();
    for login in &relations.accompagnateurs {
        accompagnateurs.push_str(&format!(
            r#"<li data-login="{login}">{name} {remove}</li>"#,
            login = esc(login.as_str()),
            name = esc(&names.accompagnateur(login)?),
            remove = button_form(
                "/patient/accompagnateurs",
                csrf,
                &[("action", "remove"), ("login", login.as_str())],
                "Remove"
            ),
        ));
    }
    Ok(format!(
        r#"<h2>Médecin référent</h2>
<p>{referent}</p>
<form method="post" action="/patient/referent">{csrf_field}<label>eHealth id <input name="professional" required></label> <button type="submit">Choose as médecin référent</button></form>
<h2>Cercle de confiance</h2>
{cercle}
{add_cercle}
<h2>Black list</h2>
<p>A professional on the black list has no access to your DSP, even to documents they wrote.</p>
{black_list}
{add_black_list}
<h2>Accompagnateurs DSP</h2>
<p>An accompagnateur reads your DSP as you do (« des droits équivalents au patient pour la lecture ») and changes nothing.</p>
<ul id="accompagnateurs">{accompagnateurs}</ul>
<form method="post" action="/patient/accompagnateurs">{csrf_field}<input type="hidden" name="action" value="add"><label>Login <input name="login" required></label> <button type="submit">Name as accompagnateur</button></form>
<h2>Code de présence</h2>
<p>A code de présence lets one professional you consult see your Normal and Visite d'annonce documents for that consultation. It is shown once.</p>
{presence}
<h2>Find a professional</h2>
<form method="get" action="/patient/hpd"><label>Name or eHealth id <input name="q"></label> <button type="submit">Search the HPD</button></form>"#,
        csrf_field = csrf_field(csrf),
        add_cercle = add_form("/patient/cercle", "Add to the cercle de confiance"),
        add_black_list = add_form("/patient/black-list", "Add to the black list"),
        presence = button_form(
            "/patient/presence-code",
            csrf,
            &[],
            "Create a code de présence"
        ),
    ))
}

async fn view_document(
    State(state): State<PortalState>,
    Path((matricule, unique_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, PortalError> {
    let session = patient_side_session(&state, &headers)?;
    let patient = parse_patient(&matricule)?;
    let store = state.ctx.store();
    let now = state.ctx.clock().now();
    let document = dsp::current_document(store, &session.subject, &patient, &unique_id, now)?
        .ok_or_else(|| invisible(&unique_id))?;
    let decision = document.decide(Operation::Read);
    dsp::record(
        store,
        &session.subject,
        &patient,
        &decision,
        Some(&document.record.entry_uuid),
        now,
    )?;
    if !decision.is_allowed() {
        return Err(invisible(&unique_id));
    }
    super::document_body::serve(state.ctx.data_dir(), &document.record).await
}

/// The access trail's words for an operation.
fn operation_words(name: &str) -> &str {
    match name {
        "read" => "read the document",
        "list" => "saw the document listed",
        "change_mode" => "asked to change the document's mode",
        "submit" => "submitted a document",
        "replace" => "replaced the document",
        "report_anomaly" => "reported an anomaly in the document",
        "see_access_trail" => "looked at the access trail",
        other => other,
    }
}

async fn trail_page(
    State(state): State<PortalState>,
    Path(matricule): Path<String>,
    headers: HeaderMap,
) -> Result<Response, PortalError> {
    let session = patient_side_session(&state, &headers)?;
    let patient = opened_dsp(&state, &session, &matricule)?;
    let store = state.ctx.store();
    let now = state.ctx.clock().now();
    let lines = dsp::visible_trail(store, &session.subject, &patient, now)?;
    let mut names = Names::new(store);
    let mut rows = String::new();
    for line in lines.iter().rev() {
        let access = &line.access;
        rows.push_str(&format!(
            r#"<tr class="access" data-operation="{operation}" data-entry-uuid="{entry}"><td>{when}</td><td>{who}</td><td>{what}</td><td>{document}</td><td>{outcome}</td></tr>"#,
            operation = esc(&access.operation),
            entry = esc(access.entry_uuid.as_deref().unwrap_or("")),
            when = esc(&date_time(access.at)),
            who = esc(&names.subject(&access.subject)?),
            what = esc(operation_words(&access.operation)),
            document = esc(line.document_title.as_deref().unwrap_or("—")),
            outcome = if access.allowed {
                "allowed".to_owned()
            } else {
                format!("refused (rule <code>{}</code>)", esc(&access.rule))
            },
        ));
    }
    let body = format!(
        r#"<p>Every access to this DSP, newest first (CSS art. 60quater(4)).</p>
<table id="trail"><tr><th>When</th><th>Who</th><th>What</th><th>Document</th><th>Outcome</th></tr>{rows}</table>
<p><a href="/patient/dsp/{m}">Back to the DSP</a></p>"#,
        m = esc(&segment(patient.as_str())),
    );
    Ok(Html(page("Patient portal — access trail", &body)).into_response())
}

#[derive(Deserialize)]
struct SearchQuery {
    q: Option<String>,
}

async fn hpd_search(
    State(state): State<PortalState>,
    query: Result<Query<SearchQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, PortalError> {
    let session = patient_side_session(&state, &headers)?;
    let patient = session.titulaire()?.clone();
    let text = query
        .ok()
        .and_then(|Query(q)| q.q)
        .unwrap_or_default()
        .trim()
        .to_owned();
    let store = state.ctx.store();
    let mut found = match EHealthId::new(text.as_str()).ok() {
        Some(id) => store.professional(&id)?.into_iter().collect::<Vec<_>>(),
        None => Vec::new(),
    };
    if found.is_empty() {
        found = store.search_professionals(&text)?;
    }
    let csrf = session.csrf();
    let rows: String = found
        .iter()
        .take(MAX_SEARCH_RESULTS)
        .map(|p| {
            let id = p.ehealth_id.as_str();
            format!(
                r#"<tr class="professional" data-ehealth-id="{id_attr}"><td>{name}</td><td>{profession}</td><td>{specialty}</td><td><code>{id_text}</code></td><td>{referent} {cercle} {black}</td></tr>"#,
                id_attr = esc(id),
                name = esc(&p.full_name()),
                profession = esc(&p.profession),
                specialty = esc(p.specialty.as_deref().unwrap_or("—")),
                id_text = esc(id),
                referent = button_form("/patient/referent", &csrf, &[("professional", id)], "Médecin référent"),
                cercle = button_form(
                    "/patient/cercle",
                    &csrf,
                    &[("action", "add"), ("professional", id)],
                    "Cercle de confiance"
                ),
                black = button_form(
                    "/patient/black-list",
                    &csrf,
                    &[("action", "add"), ("professional", id)],
                    "Black list"
                ),
            )
        })
        .collect();
    let body = format!(
        r#"<form method="get" action="/patient/hpd"><label>Name or eHealth id <input name="q" value="{q}"></label> <button type="submit">Search</button></form>
<table id="hpd"><tr><th>Name</th><th>Profession</th><th>Specialty</th><th>eHealth id</th><th>Choose for</th></tr>{rows}</table>
<p><a href="/patient/dsp/{m}">Back to your DSP</a></p>"#,
        q = esc(&text),
        m = esc(&segment(patient.as_str())),
    );
    Ok(Html(page("Patient portal — HPD", &body)).into_response())
}

#[derive(Deserialize)]
struct ProfessionalForm {
    csrf: Option<String>,
    action: Option<String>,
    professional: Option<String>,
}

fn professional_field(text: Option<&str>) -> Result<EHealthId, PortalError> {
    EHealthId::new(text.unwrap_or_default().trim()).map_err(|e| PortalError::BadInput {
        field: "professional",
        reason: e.to_string(),
    })
}

/// Applies an edit to the titulaire's consents and goes back to the DSP page.
fn apply(
    state: &PortalState,
    patient: &PatientId,
    edit: &ConsentEdit,
    notice: &str,
) -> Result<Response, PortalError> {
    dsp::edit_consent(state.ctx.store(), patient, edit, state.ctx.clock().now())?;
    see_other(&format!(
        "/patient/dsp/{}?notice={notice}",
        segment(patient.as_str())
    ))
}

async fn set_referent(
    State(state): State<PortalState>,
    headers: HeaderMap,
    form: Result<Form<ProfessionalForm>, FormRejection>,
) -> Result<Response, PortalError> {
    let form = form_of(form)?;
    let patient = editor(&state, &headers, form.csrf.as_deref())?;
    let chosen = match form.professional.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(professional_field(Some(text))?),
    };
    apply(&state, &patient, &ConsentEdit::Referent(chosen), "referent")
}

fn add_or_remove(action: Option<&str>) -> Result<bool, PortalError> {
    match action.unwrap_or("add") {
        "add" => Ok(true),
        "remove" => Ok(false),
        other => Err(PortalError::BadInput {
            field: "action",
            reason: format!("'{other}' is neither add nor remove"),
        }),
    }
}

async fn edit_cercle(
    State(state): State<PortalState>,
    headers: HeaderMap,
    form: Result<Form<ProfessionalForm>, FormRejection>,
) -> Result<Response, PortalError> {
    let form = form_of(form)?;
    let patient = editor(&state, &headers, form.csrf.as_deref())?;
    let id = professional_field(form.professional.as_deref())?;
    let edit = if add_or_remove(form.action.as_deref())? {
        ConsentEdit::AddToCercle(id)
    } else {
        ConsentEdit::RemoveFromCercle(id)
    };
    apply(&state, &patient, &edit, "cercle")
}

async fn edit_black_list(
    State(state): State<PortalState>,
    headers: HeaderMap,
    form: Result<Form<ProfessionalForm>, FormRejection>,
) -> Result<Response, PortalError> {
    let form = form_of(form)?;
    let patient = editor(&state, &headers, form.csrf.as_deref())?;
    let id = professional_field(form.professional.as_deref())?;
    let edit = if add_or_remove(form.action.as_deref())? {
        ConsentEdit::AddToBlackList(id)
    } else {
        ConsentEdit::RemoveFromBlackList(id)
    };
    apply(&state, &patient, &edit, "black-list")
}

#[derive(Deserialize)]
struct AccompagnateurForm {
    csrf: Option<String>,
    action: Option<String>,
    login: Option<String>,
}

async fn edit_accompagnateurs(
    State(state): State<PortalState>,
    headers: HeaderMap,
    form: Result<Form<AccompagnateurForm>, FormRejection>,
) -> Result<Response, PortalError> {
    let form = form_of(form)?;
    let patient = editor(&state, &headers, form.csrf.as_deref())?;
    let login = AccompagnateurId::new(form.login.unwrap_or_default().trim()).map_err(|e| {
        PortalError::BadInput {
            field: "login",
            reason: e.to_string(),
        }
    })?;
    let edit = if add_or_remove(form.action.as_deref())? {
        ConsentEdit::NameAccompagnateur(login)
    } else {
        ConsentEdit::RemoveAccompagnateur(login)
    };
    apply(&state, &patient, &edit, "accompagnateurs")
}

async fn presence_code(
    State(state): State<PortalState>,
    headers: HeaderMap,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, PortalError> {
    let form = form_of(form)?;
    let patient = editor(&state, &headers, form.csrf.as_deref())?;
    let store = state.ctx.store().clone();
    let now = state.ctx.clock().now();
    let for_patient = patient.clone();
    // Hashing the code (argon2) takes milliseconds of CPU: off the async workers.
    let (code, not_on_or_after) = tokio::task::spawn_blocking(move || {
        dsp::create_presence_code(&store, &for_patient, now, PRESENCE_CODE_LIFETIME)
    })
    .await
    .map_err(|e| PortalError::Internal(e.to_string()))??;
    let body = format!(
        r#"<p>Your code de présence:</p>
<p class="code" id="presence-code">{code}</p>
<p>Give it to the professional you consult. It works once, for one professional, until {until}; it opens your Normal and Visite d'annonce documents for that consultation only. It is shown only this once.</p>
<p><a href="/patient/dsp/{m}">Back to your DSP</a></p>"#,
        code = esc(code.expose()),
        until = esc(&date_time(not_on_or_after)),
        m = esc(&segment(patient.as_str())),
    );
    Ok(Html(page("Code de présence", &body)).into_response())
}

#[derive(Deserialize)]
struct ModeForm {
    csrf: Option<String>,
    mode: Option<String>,
}

async fn change_mode(
    State(state): State<PortalState>,
    Path(unique_id): Path<String>,
    headers: HeaderMap,
    form: Result<Form<ModeForm>, FormRejection>,
) -> Result<Response, PortalError> {
    let form = form_of(form)?;
    let patient = editor(&state, &headers, form.csrf.as_deref())?;
    let to: ConfidentialityMode =
        form.mode
            .unwrap_or_default()
            .parse()
            .map_err(|e: dspconnect::model::UnknownMode| PortalError::BadInput {
                field: "mode",
                reason: e.to_string(),
            })?;
    let store = state.ctx.store();
    let now = state.ctx.clock().now();
    let subject = Subject::Patient(patient.clone());
    let document = dsp::current_document(store, &subject, &patient, &unique_id, now)?
        .filter(|document| document.decide(Operation::List).is_allowed())
        .ok_or_else(|| invisible(&unique_id))?;
    match dsp::change_mode(store, &subject, &document, to, now)? {
        ModeChange::Changed(_) => see_other(&format!(
            "/patient/dsp/{}?notice=mode",
            segment(patient.as_str())
        )),
        ModeChange::Refused(decision) => Err(PortalError::Refused(decision)),
    }
}
