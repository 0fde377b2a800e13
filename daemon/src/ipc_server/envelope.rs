//! The JSON-RPC 2.0 envelope: turning a line into a request (or the error
//! that answers it) and answers into lines.

use std::collections::HashMap;

use dspconnect::ErrorCode;
use dspconnect::ipc::protocol::{
    EVENT_NOTIFICATION, Event, MAX_LINE_BYTES, METHOD_NAMES, Notification, RpcError,
};
use serde_json::value::RawValue;

/// A request that passed the envelope checks. The id and the params stay
/// raw JSON: the id is echoed as it came, and the params are read once,
/// straight into the method's own type.
#[derive(Debug)]
pub(crate) struct Call {
    /// `None` for a notification: it runs, and nothing is answered.
    pub id: Option<Box<RawValue>>,
    /// One of `METHOD_NAMES`.
    pub method: String,
    /// The params object (`{}` when absent or null).
    pub params: Box<RawValue>,
}

/// Why a line is not a call, with the id to answer to (`None`: null, when
/// the id is unknown or unusable).
#[derive(Debug)]
pub(crate) struct Rejection {
    pub id: Option<Box<RawValue>>,
    pub error: RpcError,
}

/// Checks one line: JSON, then the JSON-RPC 2.0 shape, then the method name.
pub(crate) fn parse_call(line: &[u8]) -> Result<Call, Box<Rejection>> {
    let mut members: HashMap<String, &RawValue> = match serde_json::from_slice(line) {
        Ok(members) => members,
        Err(e) if e.is_data() => {
            // Valid JSON, but not an object.
            let what = if line.trim_ascii_start().starts_with(b"[") {
                "batches (JSON arrays) are not supported: send one request object per line"
            } else {
                "a request must be a JSON object"
            };
            return Err(invalid_request(None, what, None));
        }
        Err(e) => {
            return Err(Box::new(Rejection {
                id: None,
                error: RpcError::new(
                    ErrorCode::ParseError,
                    format!("the line is not valid JSON: {e}"),
                )
                .with_hint("send one JSON-RPC 2.0 request object per line"),
            }));
        }
    };
    let id = match members.remove("id") {
        None => None,
        Some(id)
            if matches!(
                id.get().as_bytes().first(),
                Some(b'"' | b'-' | b'0'..=b'9' | b'n')
            ) =>
        {
            Some(id.to_owned())
        }
        Some(_) => {
            return Err(invalid_request(
                None,
                "'id' must be a string, a number or null",
                Some("id"),
            ));
        }
    };
    let answer_to = || id.clone();
    if members.remove("jsonrpc").and_then(json_string).as_deref() != Some("2.0") {
        return Err(invalid_request(
            answer_to(),
            "'jsonrpc' must be \"2.0\"",
            Some("jsonrpc"),
        ));
    }
    let method = match members.remove("method") {
        Some(m) => json_string(m).ok_or_else(|| {
            invalid_request(answer_to(), "'method' must be a string", Some("method"))
        })?,
        None => {
            return Err(invalid_request(
                answer_to(),
                "'method' is missing",
                Some("method"),
            ));
        }
    };
    let params = match members.remove("params") {
        None => empty_object(),
        Some(p) if p.get() == "null" => empty_object(),
        Some(p) if p.get().starts_with('{') => p.to_owned(),
        Some(_) => {
            return Err(Box::new(Rejection {
                id: answer_to(),
                error: RpcError::new(
                    ErrorCode::InvalidParams,
                    "'params' must be an object of named parameters",
                )
                .with_field("params"),
            }));
        }
    };
    // The first in name order, so the same line always gets the same error.
    if let Some(extra) = members.keys().min() {
        return Err(invalid_request(
            answer_to(),
            &format!("unexpected member '{extra}' in the request"),
            Some(extra.as_str()),
        ));
    }
    if !METHOD_NAMES.contains(&method.as_str()) {
        return Err(Box::new(Rejection {
            id: answer_to(),
            error: RpcError::new(ErrorCode::MethodNotFound, format!("no method '{method}'"))
                .with_field("method")
                .with_hint("docs/ipc.md lists the methods"),
        }));
    }
    Ok(Call { id, method, params })
}

/// The string a raw JSON value holds, `None` when it is not a string.
fn json_string(raw: &RawValue) -> Option<String> {
    serde_json::from_str(raw.get()).ok()
}

fn empty_object() -> Box<RawValue> {
    RawValue::from_string("{}".to_owned()).unwrap_or_else(|_| unreachable!("`{{}}` is JSON"))
}

fn invalid_request(
    id: Option<Box<RawValue>>,
    message: &str,
    field: Option<&str>,
) -> Box<Rejection> {
    let mut error = RpcError::new(
        ErrorCode::Protocol,
        format!("not a JSON-RPC 2.0 request: {message}"),
    );
    if let Some(field) = field {
        error = error.with_field(field);
    }
    Box::new(Rejection { id, error })
}

/// The error for a line over the cap.
pub(crate) fn line_too_long() -> RpcError {
    RpcError::new(
        ErrorCode::LineTooLong,
        format!("a message line was longer than {MAX_LINE_BYTES} bytes and was discarded"),
    )
    .with_hint("send documents by path or in chunks (document.upload_begin/chunk/commit)")
}

/// A response line, newline included: `{"jsonrpc":"2.0","id":…,"result":…}`
/// or `…"error":…}`, the id as the request gave it (null when `None`), the
/// result as the handler encoded it. An answer that would break the line
/// limit is replaced by an error saying so (clients refuse such lines).
pub(crate) fn response_line(
    id: Option<&RawValue>,
    outcome: Result<Box<RawValue>, RpcError>,
) -> Vec<u8> {
    const HEAD: &[u8] = br#"{"jsonrpc":"2.0","id":"#;
    let id_json = id.map_or("null", RawValue::get);
    let mut line = Vec::with_capacity(
        HEAD.len() + id_json.len() + 16 + outcome.as_ref().map_or(256, |r| r.get().len()),
    );
    line.extend_from_slice(HEAD);
    line.extend_from_slice(id_json.as_bytes());
    match outcome {
        Ok(result) => {
            line.extend_from_slice(br#","result":"#);
            line.extend_from_slice(result.get().as_bytes());
        }
        Err(error) => {
            line.extend_from_slice(br#","error":"#);
            // An RpcError of plain values and strings always serializes; the
            // fallback only guards against a future type change.
            if serde_json::to_writer(&mut line, &error).is_err() {
                line.truncate(HEAD.len() + id_json.len());
                line.extend_from_slice(
                    br#","error":{"code":900,"message":"internal error","data":{"code":900,"name":"DSP_E_INTERNAL"}}"#,
                );
            }
        }
    }
    line.push(b'}');
    if line.len() > MAX_LINE_BYTES {
        let answer_length = line.len();
        return response_line(
            id,
            Err(RpcError::new(
                ErrorCode::Internal,
                format!(
                    "the answer is {answer_length} bytes, over the {MAX_LINE_BYTES}-byte line limit"
                ),
            )),
        );
    }
    with_newline(line)
}

/// An event notification line, `None` if it cannot be encoded.
pub(crate) fn event_line(event: Event) -> Option<Vec<u8>> {
    let notification = Notification {
        jsonrpc: "2.0".into(),
        method: EVENT_NOTIFICATION.into(),
        params: event,
    };
    serde_json::to_vec(&notification)
        .ok()
        .filter(|l| l.len() <= MAX_LINE_BYTES)
        .map(with_newline)
}

fn with_newline(mut line: Vec<u8>) -> Vec<u8> {
    line.push(b'\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn rejected(line: &str) -> Rejection {
        *parse_call(line.as_bytes()).unwrap_err()
    }

    /// The id a rejection answers to, as a JSON value.
    fn id_of(id: &Option<Box<RawValue>>) -> Value {
        id.as_ref()
            .map_or(Value::Null, |raw| serde_json::from_str(raw.get()).unwrap())
    }

    #[test]
    fn accepts_requests_and_notifications() {
        let c = parse_call(br#"{"jsonrpc":"2.0","id":"a","method":"status"}"#).unwrap();
        assert_eq!(
            (id_of(&c.id), c.method.as_str(), c.params.get()),
            (json!("a"), "status", "{}")
        );
        let c = parse_call(br#"{"jsonrpc":"2.0","method":"session.lock","params":null}"#).unwrap();
        assert!(c.id.is_none());
        assert_eq!(c.params.get(), "{}");
        let c = parse_call(
            br#" { "params" : {"job_id": "j\u00e9"}, "id": 1.50, "method": "job.status", "jsonrpc": "2.0" } "#,
        )
        .unwrap();
        // The id goes back exactly as it came.
        assert_eq!(c.id.as_deref().map(RawValue::get), Some("1.50"));
        assert_eq!(c.params.get(), r#"{"job_id": "j\u00e9"}"#);
        let c = parse_call(br#"{"jsonrpc":"2.0","id":null,"method":"status"}"#).unwrap();
        assert_eq!(c.id.as_deref().map(RawValue::get), Some("null"));
    }

    #[test]
    fn each_malformation_has_its_code_and_keeps_the_id_when_it_can() {
        let r = rejected("{not json");
        assert_eq!((r.error.code, id_of(&r.id)), (-32700, Value::Null));
        assert_eq!(r.error.code(), ErrorCode::ParseError);
        let r = rejected(r#"{"jsonrpc":"2.0","id":1,"method":"status"} trailing"#);
        assert_eq!(r.error.code(), ErrorCode::ParseError);
        for (line, id, says) in [
            (
                r#"[{"jsonrpc":"2.0","id":1,"method":"status"}]"#,
                Value::Null,
                "batches",
            ),
            (r#""status""#, Value::Null, "must be a JSON object"),
            (
                r#"{"jsonrpc":"1.0","id":4,"method":"status"}"#,
                json!(4),
                "'jsonrpc'",
            ),
            (
                r#"{"jsonrpc":"2.0","id":5}"#,
                json!(5),
                "'method' is missing",
            ),
            (
                r#"{"jsonrpc":"2.0","id":6,"method":7}"#,
                json!(6),
                "'method' must be a string",
            ),
            (
                r#"{"jsonrpc":"2.0","id":[1],"method":"status"}"#,
                Value::Null,
                "'id'",
            ),
            (
                r#"{"jsonrpc":"2.0","id":{"a":1},"method":"status"}"#,
                Value::Null,
                "'id'",
            ),
            (
                r#"{"jsonrpc":"2.0","id":true,"method":"status"}"#,
                Value::Null,
                "'id'",
            ),
            (
                r#"{"jsonrpc":"2.0","id":8,"method":"status","zz":1,"extra":1}"#,
                json!(8),
                "unexpected member 'extra'",
            ),
        ] {
            let r = rejected(line);
            assert_eq!(
                (r.error.code, r.error.code()),
                (-32600, ErrorCode::Protocol),
                "{line}"
            );
            assert_eq!(id_of(&r.id), id, "{line}");
            assert!(
                r.error.message.contains(says),
                "{line}: {}",
                r.error.message
            );
        }
        let r = rejected(r#"{"jsonrpc":"2.0","id":9,"method":"nope"}"#);
        assert_eq!((r.error.code, id_of(&r.id)), (-32601, json!(9)));
        assert!(r.error.message.contains("'nope'"));
        let r = rejected(r#"{"jsonrpc":"2.0","id":10,"method":"status","params":[1]}"#);
        assert_eq!((r.error.code, id_of(&r.id)), (-32602, json!(10)));
    }

    #[test]
    fn answers_are_json_rpc_responses_echoing_the_id() {
        let id = RawValue::from_string(r#""a\"b""#.to_owned()).unwrap();
        let result = serde_json::value::to_raw_value(&json!({"x": [1, "é"]})).unwrap();
        let line = response_line(Some(&id), Ok(result));
        assert!(line.ends_with(b"}\n"));
        let v: Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(
            v,
            json!({"jsonrpc": "2.0", "id": "a\"b", "result": {"x": [1, "é"]}})
        );
        let line = response_line(None, Err(RpcError::new(ErrorCode::UnknownJob, "no job j")));
        let v: Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(v["id"], Value::Null);
        assert_eq!(v["error"]["data"]["name"], "DSP_E_UNKNOWN_JOB");
        assert_eq!(v.as_object().unwrap().len(), 3);
    }

    #[test]
    fn over_long_answers_become_errors() {
        let big = serde_json::value::to_raw_value(&"x".repeat(MAX_LINE_BYTES)).unwrap();
        let id = RawValue::from_string("3".to_owned()).unwrap();
        let line = response_line(Some(&id), Ok(big));
        let v: Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(v["id"], 3);
        assert_eq!(v["error"]["data"]["name"], "DSP_E_INTERNAL");
        assert!(line.ends_with(b"\n"));
    }
}
