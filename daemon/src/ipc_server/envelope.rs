//! The JSON-RPC 2.0 envelope: turning a line into a request (or the error
//! that answers it) and answers into lines.

use dspconnect::ErrorCode;
use dspconnect::ipc::protocol::{
    EVENT_NOTIFICATION, Event, MAX_LINE_BYTES, METHOD_NAMES, Notification, Response, RpcError,
};
use serde_json::{Map, Value};

/// A request that passed the envelope checks.
#[derive(Debug)]
pub(crate) struct Call {
    /// `None` for a notification: it runs, and nothing is answered.
    pub id: Option<Value>,
    /// One of `METHOD_NAMES`.
    pub method: String,
    /// The params object (`{}` when absent or null).
    pub params: Value,
}

/// Why a line is not a call, with the id to answer to (null when unknown).
#[derive(Debug)]
pub(crate) struct Rejection {
    pub id: Value,
    pub error: RpcError,
}

/// Checks one line: JSON, then the JSON-RPC 2.0 shape, then the method name.
pub(crate) fn parse_call(line: &[u8]) -> Result<Call, Box<Rejection>> {
    let value: Value = serde_json::from_slice(line).map_err(|e| {
        Box::new(Rejection {
            id: Value::Null,
            error: RpcError::new(
                ErrorCode::ParseError,
                format!("the line is not valid JSON: {e}"),
            )
            .with_hint("send one JSON-RPC 2.0 request object per line"),
        })
    })?;
    let Value::Object(mut object) = value else {
        let what = if value.is_array() {
            "batches (JSON arrays) are not supported: send one request object per line"
        } else {
            "a request must be a JSON object"
        };
        return Err(invalid_request(Value::Null, what, None));
    };
    let id = match object.remove("id") {
        None => None,
        Some(id @ (Value::Null | Value::String(_) | Value::Number(_))) => Some(id),
        Some(_) => {
            return Err(invalid_request(
                Value::Null,
                "'id' must be a string, a number or null",
                Some("id"),
            ));
        }
    };
    let answer_to = id.clone().unwrap_or(Value::Null);
    if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(invalid_request(
            answer_to,
            "'jsonrpc' must be \"2.0\"",
            Some("jsonrpc"),
        ));
    }
    let method = match object.remove("method") {
        Some(Value::String(m)) => m,
        Some(_) => {
            return Err(invalid_request(
                answer_to,
                "'method' must be a string",
                Some("method"),
            ));
        }
        None => {
            return Err(invalid_request(
                answer_to,
                "'method' is missing",
                Some("method"),
            ));
        }
    };
    let params = match object.remove("params") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(p @ Value::Object(_)) => p,
        Some(_) => {
            return Err(Box::new(Rejection {
                id: answer_to,
                error: RpcError::new(
                    ErrorCode::InvalidParams,
                    "'params' must be an object of named parameters",
                )
                .with_field("params"),
            }));
        }
    };
    if let Some(extra) = object.keys().find(|k| k.as_str() != "jsonrpc") {
        return Err(invalid_request(
            answer_to,
            &format!("unexpected member '{extra}' in the request"),
            Some(extra.as_str()),
        ));
    }
    if !METHOD_NAMES.contains(&method.as_str()) {
        return Err(Box::new(Rejection {
            id: answer_to,
            error: RpcError::new(ErrorCode::MethodNotFound, format!("no method '{method}'"))
                .with_field("method")
                .with_hint("docs/ipc.md lists the methods"),
        }));
    }
    Ok(Call { id, method, params })
}

fn invalid_request(id: Value, message: &str, field: Option<&str>) -> Box<Rejection> {
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

/// A response line, newline included. An answer that would break the line
/// limit is replaced by an error saying so (clients refuse such lines).
pub(crate) fn response_line(id: Value, outcome: Result<Value, RpcError>) -> Vec<u8> {
    let (result, error) = match outcome {
        Ok(v) => (Some(v), None),
        Err(e) => (None, Some(e)),
    };
    let response = Response {
        jsonrpc: "2.0".into(),
        id: id.clone(),
        result,
        error,
    };
    match serde_json::to_vec(&response) {
        Ok(line) if line.len() <= MAX_LINE_BYTES => with_newline(line),
        Ok(line) => error_line(
            id,
            RpcError::new(
                ErrorCode::Internal,
                format!(
                    "the answer is {} bytes, over the {MAX_LINE_BYTES}-byte line limit",
                    line.len()
                ),
            ),
        ),
        Err(e) => error_line(
            id,
            RpcError::new(
                ErrorCode::Internal,
                format!("cannot encode the answer: {e}"),
            ),
        ),
    }
}

fn error_line(id: Value, error: RpcError) -> Vec<u8> {
    let response = Response {
        jsonrpc: "2.0".into(),
        id,
        result: None,
        error: Some(error),
    };
    // A Response of plain values and strings always serializes; the
    // fallback line only guards against a future type change.
    let line = serde_json::to_vec(&response).unwrap_or_else(|_| {
        br#"{"jsonrpc":"2.0","id":null,"error":{"code":900,"message":"internal error","data":{"code":900,"name":"DSP_E_INTERNAL"}}}"#.to_vec()
    });
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
    use serde_json::json;

    fn rejected(line: &str) -> Rejection {
        *parse_call(line.as_bytes()).unwrap_err()
    }

    #[test]
    fn accepts_requests_and_notifications() {
        let c = parse_call(br#"{"jsonrpc":"2.0","id":"a","method":"status"}"#).unwrap();
        assert_eq!(
            (c.id, c.method.as_str(), c.params),
            (Some(json!("a")), "status", json!({}))
        );
        let c = parse_call(br#"{"jsonrpc":"2.0","method":"session.lock","params":null}"#).unwrap();
        assert_eq!(c.id, None);
    }

    #[test]
    fn each_malformation_has_its_code_and_keeps_the_id_when_it_can() {
        let r = rejected("{not json");
        assert_eq!((r.error.code, r.id), (-32700, Value::Null));
        assert_eq!(r.error.code(), ErrorCode::ParseError);
        for (line, id) in [
            (
                r#"[{"jsonrpc":"2.0","id":1,"method":"status"}]"#,
                Value::Null,
            ),
            (r#""status""#, Value::Null),
            (r#"{"jsonrpc":"1.0","id":4,"method":"status"}"#, json!(4)),
            (r#"{"jsonrpc":"2.0","id":5}"#, json!(5)),
            (r#"{"jsonrpc":"2.0","id":6,"method":7}"#, json!(6)),
            (
                r#"{"jsonrpc":"2.0","id":[1],"method":"status"}"#,
                Value::Null,
            ),
            (
                r#"{"jsonrpc":"2.0","id":8,"method":"status","extra":1}"#,
                json!(8),
            ),
        ] {
            let r = rejected(line);
            assert_eq!(
                (r.error.code, r.error.code()),
                (-32600, ErrorCode::Protocol),
                "{line}"
            );
            assert_eq!(r.id, id, "{line}");
        }
        let r = rejected(r#"{"jsonrpc":"2.0","id":9,"method":"nope"}"#);
        assert_eq!((r.error.code, r.id), (-32601, json!(9)));
        assert!(r.error.message.contains("'nope'"));
        let r = rejected(r#"{"jsonrpc":"2.0","id":10,"method":"status","params":[1]}"#);
        assert_eq!((r.error.code, r.id), (-32602, json!(10)));
    }

    #[test]
    fn over_long_answers_become_errors() {
        let big = Value::String("x".repeat(MAX_LINE_BYTES));
        let line = response_line(json!(3), Ok(big));
        let v: Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(v["id"], 3);
        assert_eq!(v["error"]["data"]["name"], "DSP_E_INTERNAL");
        assert!(line.ends_with(b"\n"));
    }
}
