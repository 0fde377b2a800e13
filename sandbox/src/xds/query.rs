//! ITI-18 Registry Stored Query: FindDocuments and GetDocuments, answered
//! as LeafClass (the entries) or ObjectRef (their ids). An entry is in the
//! answer only when the policy lets the caller list it, and every entry
//! listed is written to the patient's access trail. Query values are data
//! throughout: a patient id is a matricule or nothing.

use axum::response::Response;
use dspconnect::model::Matricule;
use ihe::xds::constants::{object_type, query_param};
use ihe::xds::{
    AdhocQueryRequest, AdhocQueryResponse, AvailabilityStatus, Code, DocumentIds,
    FindDocumentsQuery, GetDocumentsQuery, ObjectRef, QueryValue, RegistryError,
    RegistryObjectList, ReturnType, StoredQuery, XdsErrorCode, XdsMessage,
};

use super::XdsService;
use super::access;
use super::call::Call;
use super::stored;
use crate::policy::{Decision, Operation, PatientId};
use crate::store::{DocumentRecord, DocumentStatus, StoreError};

type Errors = Vec<RegistryError>;

fn registry_error(context: impl Into<String>) -> Errors {
    vec![RegistryError::error(
        XdsErrorCode::RegistryError,
        context,
        None,
    )]
}

fn store_error(error: &StoreError) -> Errors {
    vec![access::store_failure(error, XdsErrorCode::RegistryError)]
}

pub(crate) fn stored_query(service: &XdsService, call: &Call) -> Response {
    let response = match run(service, call) {
        Ok(objects) => AdhocQueryResponse::success(objects),
        Err(errors) => AdhocQueryResponse::failure(errors),
    };
    call.reply_or_fault(response.to_element())
}

fn run(service: &XdsService, call: &Call) -> Result<RegistryObjectList, Errors> {
    let request = AdhocQueryRequest::from_element(&call.payload)
        .map_err(|e| registry_error(format!("the AdhocQueryRequest cannot be read: {e}")))?;
    let leaf_class = match &request.return_type {
        ReturnType::LeafClass => true,
        ReturnType::ObjectRef => false,
        other => {
            return Err(registry_error(format!(
                "returnType {} is not offered: ask for LeafClass or ObjectRef",
                other.as_str()
            )));
        }
    };
    let query = request
        .stored_query()
        .map_err(|e| vec![RegistryError::error(e.error_code(), e.to_string(), None)])?;
    let records = match &query {
        StoredQuery::FindDocuments(find) => find_documents(service, call, find)?,
        StoredQuery::GetDocuments(get) => get_documents(service, call, get)?,
        StoredQuery::Other { query_id, .. } => {
            return Err(vec![RegistryError::error(
                XdsErrorCode::UnknownStoredQuery,
                format!(
                    "stored query {query_id} is not offered by the sandbox: use FindDocuments or GetDocuments"
                ),
                None,
            )]);
        }
    };
    let mut objects = RegistryObjectList::default();
    for record in records {
        if leaf_class {
            let entry = stored::answered(&record, &service.codes)
                .map_err(|e| registry_error(e.to_string()))?;
            objects.document_entries.push(entry);
        } else {
            objects.object_refs.push(ObjectRef {
                id: record.entry_uuid,
                home: None,
            });
        }
    }
    Ok(objects)
}

/// The records the caller may list, with the decisions that let them.
fn listable(
    service: &XdsService,
    call: &Call,
    records: Vec<DocumentRecord>,
) -> Result<Vec<(DocumentRecord, Decision)>, Errors> {
    let mut kept = Vec::new();
    for record in records {
        let verdict = access::decide(
            service,
            call,
            &record.patient,
            Some(&record.entry_uuid),
            Operation::List,
        )
        .map_err(|e| store_error(&e))?;
        if verdict.is_allowed() {
            kept.push((record, verdict.decision));
        }
    }
    Ok(kept)
}

/// Writes each listed record to its patient's trail.
fn listed(
    service: &XdsService,
    call: &Call,
    kept: Vec<(DocumentRecord, Decision)>,
) -> Result<Vec<DocumentRecord>, Errors> {
    kept.into_iter()
        .map(|(record, decision)| {
            access::record(
                service,
                call,
                &record.patient,
                &decision,
                Some(&record.entry_uuid),
            )
            .map_err(|e| store_error(&e))?;
            Ok(record)
        })
        .collect()
}

/// The DSP a FindDocuments names: a matricule CX of a patient the sandbox
/// knows. Anything else is `XDSUnknownPatientId`.
fn patient_of(service: &XdsService, cx: &str) -> Result<PatientId, Errors> {
    let unknown = |why: String| {
        vec![RegistryError::error(
            XdsErrorCode::UnknownPatientId,
            format!(
                "{} names no DSP of the sandbox: {why}",
                query_param::PATIENT_ID
            ),
            None,
        )]
    };
    let matricule = Matricule::from_cx(cx).map_err(|e| unknown(e.to_string()))?;
    if matricule.is_legacy() {
        return Err(unknown(
            "an 11-digit matricule; DSP patients are identified by their 13-digit matricule".into(),
        ));
    }
    let patient = PatientId::from_matricule(&matricule);
    match service.context.store().patient(&patient) {
        Ok(Some(_)) => Ok(patient),
        Ok(None) => Err(unknown(format!("patient {patient} has no DSP"))),
        Err(e) => Err(store_error(&e)),
    }
}

/// Parameters FindDocuments accepts besides those [`FindDocumentsQuery`]
/// decodes.
fn entry_types_wanted(query: &FindDocumentsQuery) -> Result<Option<bool>, Errors> {
    let mut stable_wanted = None;
    for parameter in &query.other_parameters {
        if parameter.name == "$XDSDocumentEntryType" {
            let mut stable = false;
            for value in &parameter.values {
                let parsed = QueryValue::parse(value)
                    .map_err(|e| registry_error(format!("parameter $XDSDocumentEntryType: {e}")))?;
                stable |= parsed.literals().iter().any(|literal| {
                    literal
                        .as_string()
                        .eq_ignore_ascii_case(object_type::STABLE_DOCUMENT_ENTRY)
                });
            }
            stable_wanted = Some(stable);
        } else if parameter.name != query_param::HOME_COMMUNITY_ID {
            return Err(registry_error(format!(
                "FindDocuments parameter {} is not supported by the sandbox; it takes the patient id, \
                 status, creation time range, class, type and confidentiality codes, and the entry type",
                parameter.name
            )));
        }
    }
    Ok(stable_wanted)
}

fn find_documents(
    service: &XdsService,
    call: &Call,
    query: &FindDocumentsQuery,
) -> Result<Vec<DocumentRecord>, Errors> {
    if query.statuses.is_empty() {
        return Err(vec![RegistryError::error(
            XdsErrorCode::StoredQueryMissingParam,
            format!("required parameter {} is missing", query_param::STATUS),
            None,
        )]);
    }
    let stable_wanted = entry_types_wanted(query)?;
    let patient = patient_of(service, &query.patient_id)?;
    if stable_wanted == Some(false) {
        // The sandbox holds stable entries only.
        return Ok(Vec::new());
    }
    let statuses: Vec<DocumentStatus> = query
        .statuses
        .iter()
        .filter_map(|status| match status {
            AvailabilityStatus::Approved => Some(DocumentStatus::Approved),
            AvailabilityStatus::Deprecated => Some(DocumentStatus::Deprecated),
            _ => None,
        })
        .collect();
    let records = service
        .context
        .store()
        .documents_of_patient(&patient, None)
        .map_err(|e| store_error(&e))?;
    let mut matching = Vec::new();
    for record in records {
        if !statuses.contains(&record.status) {
            continue;
        }
        let entry = stored::from_stored(&record).map_err(|e| registry_error(e.to_string()))?;
        let code = stored::confidentiality_code(&service.codes, record.mode);
        let created = entry
            .creation_time
            .as_ref()
            .and_then(|t| t.valid())
            .map(|t| t.start());
        let in_range = match (&query.creation_time_from, &query.creation_time_to, created) {
            (None, None, _) => true,
            (_, _, None) => false,
            (from, to, Some(created)) => {
                from.is_none_or(|from| created >= from.start())
                    && to.is_none_or(|to| created < to.start())
            }
        };
        let selected = in_range
            && any_matches(&query.class_codes, entry.class_code.as_ref())
            && any_matches(&query.type_codes, entry.type_code.as_ref())
            && query
                .confidentiality_codes
                .iter()
                .all(|group| group.iter().any(|wanted| code_matches(wanted, &code)));
        if selected {
            matching.push(record);
        }
    }
    let kept = listable(service, call, matching)?;
    listed(service, call, kept)
}

/// Whether an OR-list filter lets `code` through (an empty list does).
fn any_matches(wanted: &[Code], code: Option<&Code>) -> bool {
    wanted.is_empty() || code.is_some_and(|code| wanted.iter().any(|w| code_matches(w, code)))
}

/// A query code (`code^^scheme`, or a bare code) against an entry's code.
fn code_matches(wanted: &Code, code: &Code) -> bool {
    wanted.code == code.code
        && wanted
            .coding_scheme
            .as_ref()
            .is_none_or(|scheme| Some(scheme) == code.coding_scheme.as_ref())
}

fn get_documents(
    service: &XdsService,
    call: &Call,
    query: &GetDocumentsQuery,
) -> Result<Vec<DocumentRecord>, Errors> {
    if let Some(parameter) = query
        .other_parameters
        .iter()
        .find(|p| p.name != query_param::HOME_COMMUNITY_ID && p.name != "$MetadataLevel")
    {
        return Err(registry_error(format!(
            "GetDocuments parameter {} is not supported by the sandbox",
            parameter.name
        )));
    }
    let store = service.context.store();
    let mut records: Vec<DocumentRecord> = Vec::new();
    match &query.ids {
        DocumentIds::EntryUuids(ids) => {
            for id in ids {
                if let Some(record) = store.document(id).map_err(|e| store_error(&e))? {
                    records.push(record);
                }
            }
        }
        DocumentIds::UniqueIds(ids) => {
            for id in ids {
                if let Some(record) = store
                    .document_by_unique_id(id)
                    .map_err(|e| store_error(&e))?
                {
                    records.push(record);
                }
            }
        }
    }
    records.dedup_by(|a, b| a.entry_uuid == b.entry_uuid);
    let kept = listable(service, call, records)?;
    if let Some((first, _)) = kept.first()
        && kept.iter().any(|(r, _)| r.patient != first.patient)
    {
        return Err(vec![RegistryError::error(
            XdsErrorCode::ResultNotSinglePatient,
            "the documents asked for belong to more than one patient: ask for one patient's documents at a time",
            None,
        )]);
    }
    listed(service, call, kept)
}
