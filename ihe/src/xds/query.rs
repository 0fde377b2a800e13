//! ITI-18 Registry Stored Query: `query:AdhocQueryRequest`, and the typed
//! FindDocuments and GetDocuments queries carried in its parameters.

use std::collections::HashMap;

use crate::xml::{Element, ns};

use super::code::Code;
use super::constants::{query_param, stored_query};
use super::dtm::Dtm;
use super::error::{ReadError, WriteError};
use super::message::XdsMessage;
use super::query_value::{QueryLiteral, QueryValue, QueryValueError};
use super::response::XdsErrorCode;
use super::rim::{
    LONG_NAME, RegistryObjectParts, Slot, expect_root, missing_child, only_children, parse_bool,
    rim, single_child,
};
use super::vocabulary::AvailabilityStatus;

/// `ResponseOption/@returnType`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ReturnType {
    /// Full metadata objects.
    LeafClass,
    /// References only (`rim:ObjectRef`).
    ObjectRef,
    RegistryObject,
    LeafClassWithRepositoryItem,
    Other(String),
}

impl ReturnType {
    pub fn as_str(&self) -> &str {
        match self {
            ReturnType::LeafClass => "LeafClass",
            ReturnType::ObjectRef => "ObjectRef",
            ReturnType::RegistryObject => "RegistryObject",
            ReturnType::LeafClassWithRepositoryItem => "LeafClassWithRepositoryItem",
            ReturnType::Other(s) => s,
        }
    }

    pub fn from_str_value(s: &str) -> Self {
        match s {
            "LeafClass" => ReturnType::LeafClass,
            "ObjectRef" => ReturnType::ObjectRef,
            "RegistryObject" => ReturnType::RegistryObject,
            "LeafClassWithRepositoryItem" => ReturnType::LeafClassWithRepositoryItem,
            other => ReturnType::Other(other.to_owned()),
        }
    }
}

/// `query:AdhocQueryRequest` as written: the stored query id and its
/// parameters as raw slots. [`AdhocQueryRequest::stored_query`] decodes
/// the parameters into a typed query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdhocQueryRequest {
    pub return_type: ReturnType,
    pub return_composed_objects: bool,
    /// `AdhocQuery/@id`: which stored query.
    pub query_id: String,
    /// `AdhocQuery/@home`.
    pub home_community_id: Option<String>,
    /// The parameters: one slot each, values in the query value syntax.
    pub parameters: Vec<Slot>,
}

/// FindDocuments (ITI TF-2 3.18.4.1.2.3.7.1): the entries of a patient.
///
/// Codes travel as `code^^codingScheme` ([`code_to_query_string`]): their
/// display names are not sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FindDocumentsQuery {
    /// CX string; required.
    pub patient_id: String,
    /// Any of these statuses (required by ITI-18: give at least one).
    pub statuses: Vec<AvailabilityStatus>,
    /// creationTime ≥ this.
    pub creation_time_from: Option<Dtm>,
    /// creationTime < this.
    pub creation_time_to: Option<Dtm>,
    /// Any of these class codes.
    pub class_codes: Vec<Code>,
    /// Any of these type codes.
    pub type_codes: Vec<Code>,
    /// Confidentiality filter in conjunctive normal form: every inner list
    /// is one `rim:Value` (any of its codes), and all values must match.
    pub confidentiality_codes: Vec<Vec<Code>>,
    /// Parameters this type does not model, as received.
    pub other_parameters: Vec<Slot>,
}

/// Which documents GetDocuments asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DocumentIds {
    EntryUuids(Vec<String>),
    UniqueIds(Vec<String>),
}

/// GetDocuments (ITI TF-2 3.18.4.1.2.3.7.5): entries by id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GetDocumentsQuery {
    pub ids: DocumentIds,
    pub other_parameters: Vec<Slot>,
}

/// A decoded stored query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoredQuery {
    FindDocuments(FindDocumentsQuery),
    GetDocuments(GetDocumentsQuery),
    /// Another stored query id, parameters undecoded.
    Other {
        query_id: String,
        parameters: Vec<Slot>,
    },
}

/// Why the parameters of a stored query do not make a query. Each maps to
/// the XDS error code a registry answers with ([`QueryParamError::error_code`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryParamError {
    #[error("required parameter {name} is missing")]
    Missing { name: &'static str },
    #[error("parameter {name} is given more than once")]
    Repeated { name: String },
    #[error("parameter {name} takes one value, got {count}")]
    NotSingle { name: &'static str, count: usize },
    #[error("give either {first} or {second}, not both")]
    Exclusive {
        first: &'static str,
        second: &'static str,
    },
    #[error("parameter {name}: {source}")]
    Syntax {
        name: String,
        #[source]
        source: QueryValueError,
    },
    #[error("parameter {name}: '{value}' {problem}")]
    BadValue {
        name: &'static str,
        value: String,
        problem: String,
    },
}

impl QueryParamError {
    /// The error code a registry answers this problem with.
    pub fn error_code(&self) -> XdsErrorCode {
        match self {
            QueryParamError::Missing { .. } => XdsErrorCode::StoredQueryMissingParam,
            QueryParamError::Repeated { .. }
            | QueryParamError::NotSingle { .. }
            | QueryParamError::Exclusive { .. } => XdsErrorCode::StoredQueryParamNumber,
            QueryParamError::Syntax { .. } | QueryParamError::BadValue { .. } => {
                XdsErrorCode::RegistryError
            }
        }
    }
}

// --------------------------------------------------------------- writing

/// A coded value in a query: `code^^codingScheme`.
pub fn code_to_query_string(code: &Code) -> String {
    match &code.coding_scheme {
        Some(s) => format!("{}^^{s}", code.code),
        None => code.code.clone(),
    }
}

/// The inverse of [`code_to_query_string`].
pub fn code_from_query_string(s: &str) -> Code {
    match s.split_once("^^") {
        Some((code, scheme)) => Code {
            code: code.to_owned(),
            coding_scheme: Some(scheme.to_owned()),
            display_name: None,
        },
        None => Code {
            code: s.to_owned(),
            coding_scheme: None,
            display_name: None,
        },
    }
}

fn single_param(name: &str, literal: QueryLiteral) -> Slot {
    Slot::single(name, QueryValue::Single(literal).to_wire())
}

/// An OR-list parameter, packed into as few `rim:Value`s as the 256
/// character limit allows (values of such a parameter are OR-ed, ITI TF-2
/// 3.18.4.1.2.3.5).
fn list_param(name: &str, items: Vec<QueryLiteral>) -> Slot {
    let mut values = Vec::new();
    let mut current: Vec<QueryLiteral> = Vec::new();
    for item in items {
        let mut candidate = current.clone();
        candidate.push(item.clone());
        if !current.is_empty()
            && QueryValue::List(candidate.clone())
                .to_wire()
                .chars()
                .count()
                > LONG_NAME
        {
            values.push(QueryValue::List(std::mem::take(&mut current)).to_wire());
            current.push(item);
        } else {
            current = candidate;
        }
    }
    if !current.is_empty() {
        values.push(QueryValue::List(current).to_wire());
    }
    Slot::new(name, values)
}

fn time_literal(t: &Dtm) -> QueryLiteral {
    // A DTM is at most 14 digits: always an i64.
    t.to_string()
        .parse::<i64>()
        .map(QueryLiteral::Number)
        .unwrap_or_else(|_| QueryLiteral::Text(t.to_string()))
}

fn codes(list: &[Code]) -> Vec<QueryLiteral> {
    list.iter()
        .map(|c| QueryLiteral::Text(code_to_query_string(c)))
        .collect()
}

impl FindDocumentsQuery {
    fn parameters(&self) -> Result<Vec<Slot>, WriteError> {
        let mut p = vec![single_param(
            query_param::PATIENT_ID,
            QueryLiteral::text(self.patient_id.clone()),
        )];
        if !self.statuses.is_empty() {
            p.push(list_param(
                query_param::STATUS,
                self.statuses
                    .iter()
                    .map(|s| QueryLiteral::text(s.as_uri()))
                    .collect(),
            ));
        }
        if let Some(t) = &self.creation_time_from {
            p.push(single_param(
                query_param::CREATION_TIME_FROM,
                time_literal(t),
            ));
        }
        if let Some(t) = &self.creation_time_to {
            p.push(single_param(query_param::CREATION_TIME_TO, time_literal(t)));
        }
        if !self.class_codes.is_empty() {
            p.push(list_param(
                query_param::CLASS_CODE,
                codes(&self.class_codes),
            ));
        }
        if !self.type_codes.is_empty() {
            p.push(list_param(query_param::TYPE_CODE, codes(&self.type_codes)));
        }
        if !self.confidentiality_codes.is_empty() {
            let mut values = Vec::new();
            for group in &self.confidentiality_codes {
                if group.is_empty() {
                    return Err(WriteError::Empty {
                        field: "a confidentiality code group of FindDocuments".into(),
                        why: "each group is one rim:Value and needs at least one code",
                    });
                }
                values.push(QueryValue::List(codes(group)).to_wire());
            }
            p.push(Slot::new(query_param::CONFIDENTIALITY_CODE, values));
        }
        p.extend(self.other_parameters.iter().cloned());
        Ok(p)
    }
}

impl GetDocumentsQuery {
    fn parameters(&self) -> Result<Vec<Slot>, WriteError> {
        let (name, ids) = match &self.ids {
            DocumentIds::EntryUuids(ids) => (query_param::ENTRY_UUID, ids),
            DocumentIds::UniqueIds(ids) => (query_param::UNIQUE_ID, ids),
        };
        if ids.is_empty() {
            return Err(WriteError::Empty {
                field: format!("{name} of GetDocuments"),
                why: "ask for at least one document",
            });
        }
        let mut p = vec![list_param(
            name,
            ids.iter().map(|i| QueryLiteral::text(i.clone())).collect(),
        )];
        p.extend(self.other_parameters.iter().cloned());
        Ok(p)
    }
}

impl AdhocQueryRequest {
    /// A request for `query`, returning `return_type`.
    pub fn new(query: &StoredQuery, return_type: ReturnType) -> Result<Self, WriteError> {
        let (query_id, parameters) = match query {
            StoredQuery::FindDocuments(q) => {
                (stored_query::FIND_DOCUMENTS.to_owned(), q.parameters()?)
            }
            StoredQuery::GetDocuments(q) => {
                (stored_query::GET_DOCUMENTS.to_owned(), q.parameters()?)
            }
            StoredQuery::Other {
                query_id,
                parameters,
            } => (query_id.clone(), parameters.clone()),
        };
        Ok(AdhocQueryRequest {
            return_type,
            return_composed_objects: true,
            query_id,
            home_community_id: None,
            parameters,
        })
    }

    /// Decodes the parameters of a FindDocuments or GetDocuments query;
    /// other query ids come back undecoded.
    pub fn stored_query(&self) -> Result<StoredQuery, QueryParamError> {
        let mut params = Params::new(&self.parameters)?;
        if self
            .query_id
            .eq_ignore_ascii_case(stored_query::FIND_DOCUMENTS)
        {
            let patient_id = params
                .single(query_param::PATIENT_ID)?
                .ok_or(QueryParamError::Missing {
                    name: query_param::PATIENT_ID,
                })?
                .as_string();
            let statuses = params
                .or_list(query_param::STATUS)?
                .iter()
                .map(|l| AvailabilityStatus::from_uri(&l.as_string()))
                .collect();
            let creation_time_from = params.time(query_param::CREATION_TIME_FROM)?;
            let creation_time_to = params.time(query_param::CREATION_TIME_TO)?;
            let class_codes = params.codes(query_param::CLASS_CODE)?;
            let type_codes = params.codes(query_param::TYPE_CODE)?;
            let confidentiality_codes = params
                .and_of_or(query_param::CONFIDENTIALITY_CODE)?
                .into_iter()
                .map(|group| {
                    group
                        .iter()
                        .map(|l| code_from_query_string(&l.as_string()))
                        .collect()
                })
                .collect();
            Ok(StoredQuery::FindDocuments(FindDocumentsQuery {
                patient_id,
                statuses,
                creation_time_from,
                creation_time_to,
                class_codes,
                type_codes,
                confidentiality_codes,
                other_parameters: params.rest(),
            }))
        } else if self
            .query_id
            .eq_ignore_ascii_case(stored_query::GET_DOCUMENTS)
        {
            let uuids = params.or_list(query_param::ENTRY_UUID)?;
            let unique = params.or_list(query_param::UNIQUE_ID)?;
            let strings = |l: Vec<QueryLiteral>| l.iter().map(QueryLiteral::as_string).collect();
            let ids = match (uuids.is_empty(), unique.is_empty()) {
                (false, true) => DocumentIds::EntryUuids(strings(uuids)),
                (true, false) => DocumentIds::UniqueIds(strings(unique)),
                (false, false) => {
                    return Err(QueryParamError::Exclusive {
                        first: query_param::ENTRY_UUID,
                        second: query_param::UNIQUE_ID,
                    });
                }
                (true, true) => {
                    return Err(QueryParamError::Missing {
                        name: query_param::UNIQUE_ID,
                    });
                }
            };
            Ok(StoredQuery::GetDocuments(GetDocumentsQuery {
                ids,
                other_parameters: params.rest(),
            }))
        } else {
            Ok(StoredQuery::Other {
                query_id: self.query_id.clone(),
                parameters: self.parameters.clone(),
            })
        }
    }
}

/// The parameters of a query by name, taken out as they are decoded.
struct Params {
    by_name: HashMap<String, Slot>,
    order: Vec<String>,
}

impl Params {
    fn new(slots: &[Slot]) -> Result<Self, QueryParamError> {
        let mut by_name = HashMap::new();
        let mut order = Vec::new();
        for s in slots {
            if by_name.insert(s.name.clone(), s.clone()).is_some() {
                return Err(QueryParamError::Repeated {
                    name: s.name.clone(),
                });
            }
            order.push(s.name.clone());
        }
        Ok(Params { by_name, order })
    }

    /// Each `rim:Value` of `name`, parsed.
    fn values(&mut self, name: &'static str) -> Result<Vec<QueryValue>, QueryParamError> {
        let Some(slot) = self.by_name.remove(name) else {
            return Ok(Vec::new());
        };
        slot.values
            .iter()
            .map(|v| {
                QueryValue::parse(v).map_err(|source| QueryParamError::Syntax {
                    name: name.to_owned(),
                    source,
                })
            })
            .collect()
    }

    /// A single-valued parameter (a one-item list is accepted too).
    fn single(&mut self, name: &'static str) -> Result<Option<QueryLiteral>, QueryParamError> {
        let literals: Vec<QueryLiteral> = self
            .values(name)?
            .iter()
            .flat_map(|v| v.literals().to_vec())
            .collect();
        match literals.len() {
            0 => Ok(None),
            1 => Ok(literals.into_iter().next()),
            count => Err(QueryParamError::NotSingle { name, count }),
        }
    }

    /// A multi-valued parameter whose values are OR-ed.
    fn or_list(&mut self, name: &'static str) -> Result<Vec<QueryLiteral>, QueryParamError> {
        Ok(self
            .values(name)?
            .iter()
            .flat_map(|v| v.literals().to_vec())
            .collect())
    }

    /// A parameter with AND/OR semantics: values are AND-ed, the items of a
    /// value are OR-ed.
    fn and_of_or(&mut self, name: &'static str) -> Result<Vec<Vec<QueryLiteral>>, QueryParamError> {
        Ok(self
            .values(name)?
            .iter()
            .map(|v| v.literals().to_vec())
            .collect())
    }

    fn codes(&mut self, name: &'static str) -> Result<Vec<Code>, QueryParamError> {
        Ok(self
            .or_list(name)?
            .iter()
            .map(|l| code_from_query_string(&l.as_string()))
            .collect())
    }

    fn time(&mut self, name: &'static str) -> Result<Option<Dtm>, QueryParamError> {
        match self.single(name)? {
            None => Ok(None),
            Some(l) => {
                let text = l.as_string();
                Dtm::parse(&text)
                    .map(Some)
                    .map_err(|e| QueryParamError::BadValue {
                        name,
                        value: text,
                        problem: e.to_string(),
                    })
            }
        }
    }

    /// The parameters not decoded, in their original order.
    fn rest(mut self) -> Vec<Slot> {
        self.order
            .iter()
            .filter_map(|n| self.by_name.remove(n))
            .collect()
    }
}

impl XdsMessage for AdhocQueryRequest {
    const ROOT: (&'static str, &'static str) = (ns::QUERY, "AdhocQueryRequest");

    fn write_element(&self) -> Result<Element, WriteError> {
        let mut query = rim("AdhocQuery").with_attr("id", self.query_id.clone());
        if let Some(h) = &self.home_community_id {
            query.set_attr("home", h.clone());
        }
        for p in &self.parameters {
            query.push(p.to_element()?);
        }
        Ok(Element::new(ns::QUERY, "query", "AdhocQueryRequest")
            .with_child(
                Element::new(ns::QUERY, "query", "ResponseOption")
                    .with_attr(
                        "returnComposedObjects",
                        if self.return_composed_objects {
                            "true"
                        } else {
                            "false"
                        },
                    )
                    .with_attr("returnType", self.return_type.as_str()),
            )
            .with_child(query))
    }

    /// Reads the request. A `RequestSlotList` and the query's name,
    /// description and `QueryExpression` are accepted and not kept.
    fn from_element(el: &Element) -> Result<Self, ReadError> {
        expect_root(el, ns::QUERY, "AdhocQueryRequest")?;
        only_children(
            el,
            &[
                (ns::RS, "RequestSlotList"),
                (ns::QUERY, "ResponseOption"),
                (ns::RIM, "AdhocQuery"),
            ],
        )?;
        let option = single_child(el, ns::QUERY, "ResponseOption")?
            .ok_or_else(|| missing_child(el, "query:ResponseOption"))?;
        only_children(option, &[])?;
        let query = single_child(el, ns::RIM, "AdhocQuery")?
            .ok_or_else(|| missing_child(el, "rim:AdhocQuery"))?;
        let parts = RegistryObjectParts::read(query, &[(ns::RIM, "QueryExpression")])?;
        Ok(AdhocQueryRequest {
            // The schema default.
            return_type: option
                .attr("returnType")
                .map_or(ReturnType::RegistryObject, ReturnType::from_str_value),
            return_composed_objects: parse_bool(option, "returnComposedObjects")?.unwrap_or(false),
            query_id: parts.id,
            home_community_id: parts.home,
            parameters: parts.slots,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_or_lists_are_split_over_values_under_the_limit() {
        let ids: Vec<String> = (0..40)
            .map(|i| format!("1.2.250.1.999.{i:04}.123456789"))
            .collect();
        let q = GetDocumentsQuery {
            ids: DocumentIds::UniqueIds(ids.clone()),
            other_parameters: vec![],
        };
        let params = q.parameters().unwrap();
        assert!(params[0].values.len() > 1);
        assert!(
            params[0]
                .values
                .iter()
                .all(|v| v.chars().count() <= LONG_NAME)
        );
        let request =
            AdhocQueryRequest::new(&StoredQuery::GetDocuments(q), ReturnType::LeafClass).unwrap();
        match request.stored_query().unwrap() {
            StoredQuery::GetDocuments(back) => assert_eq!(back.ids, DocumentIds::UniqueIds(ids)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parameter_problems_map_to_xds_codes() {
        let req = |params: Vec<Slot>| AdhocQueryRequest {
            return_type: ReturnType::LeafClass,
            return_composed_objects: true,
            query_id: stored_query::FIND_DOCUMENTS.into(),
            home_community_id: None,
            parameters: params,
        };
        let missing = req(vec![]).stored_query().unwrap_err();
        assert_eq!(missing.error_code(), XdsErrorCode::StoredQueryMissingParam);
        let twice = req(vec![Slot::single(query_param::PATIENT_ID, "('a','b')")])
            .stored_query()
            .unwrap_err();
        assert_eq!(twice.error_code(), XdsErrorCode::StoredQueryParamNumber);
        let bad_time = req(vec![
            Slot::single(query_param::PATIENT_ID, "'a'"),
            Slot::single(query_param::CREATION_TIME_FROM, "'2022-10-15'"),
        ])
        .stored_query()
        .unwrap_err();
        assert_eq!(bad_time.error_code(), XdsErrorCode::RegistryError);
        assert!(
            bad_time
                .to_string()
                .contains("$XDSDocumentEntryCreationTimeFrom")
        );
        let syntax = req(vec![Slot::single(query_param::PATIENT_ID, "a' OR 1=1")])
            .stored_query()
            .unwrap_err();
        assert!(matches!(syntax, QueryParamError::Syntax { .. }));
    }

    #[test]
    fn codes_in_queries_carry_their_scheme() {
        let c = code_from_query_string("N^^2.16.840.1.113883.5.25");
        assert_eq!(c.code, "N");
        assert_eq!(c.coding_scheme.as_deref(), Some("2.16.840.1.113883.5.25"));
        assert_eq!(code_to_query_string(&c), "N^^2.16.840.1.113883.5.25");
    }
}
