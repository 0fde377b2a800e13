//! A blocking IPC client: one connection, calls with timeouts, events
//! queued while a call waits for its answer.
//!
//! It uses `interprocess`'s blocking local sockets and no async runtime, so
//! the C library can embed it in any host process.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};

use interprocess::local_socket::prelude::*;
use interprocess::local_socket::{GenericFilePath, Stream};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use zeroize::Zeroize;

use super::Endpoint;
use super::protocol::{EVENT_NOTIFICATION, Event, MAX_LINE_BYTES, Method, RpcError};
use crate::error_code::ErrorCode;

/// How far a socket timeout already set may differ from the one wanted
/// before it is set again (one system call per change, not per call).
const TIMEOUT_SLACK: Duration = Duration::from_millis(10);

/// Bytes read from the socket at a time.
const READ_CHUNK: usize = 16 * 1024;

/// A request as sent: borrowed, serialized in one pass.
#[derive(Serialize)]
struct OutgoingRequest<'a, P: Serialize> {
    jsonrpc: &'static str,
    id: u64,
    method: &'static str,
    params: &'a P,
}

/// A message from the daemon, parsed in one pass: an event notification
/// (it has a `method`) or a response, whose result is read straight into
/// `R`, the method's own type (raw JSON when that is not known yet).
#[derive(Deserialize)]
#[serde(bound(deserialize = "R: Deserialize<'de>"))]
struct Incoming<'a, R = &'a RawValue> {
    /// Absent or null alike: a response the daemon could not tie to a request.
    #[serde(default)]
    id: Option<Value>,
    #[serde(default, borrow)]
    method: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    params: Option<&'a RawValue>,
    #[serde(default = "none")]
    result: Option<R>,
    #[serde(default)]
    error: Option<RpcError>,
}

fn none<R>() -> Option<R> {
    None
}

/// Why a call failed: our fixed code, a message, and the daemon's error
/// when the daemon answered one.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ClientError {
    pub code: ErrorCode,
    pub message: String,
    /// The daemon's error, with its field and hint.
    pub rpc: Option<Box<RpcError>>,
}

impl ClientError {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ClientError {
            code,
            message: message.into(),
            rpc: None,
        }
    }

    fn from_rpc(e: RpcError) -> Self {
        ClientError {
            code: e.code(),
            message: e.to_string(),
            rpc: Some(Box::new(e)),
        }
    }

    fn io(context: &str, e: &std::io::Error) -> Self {
        match e.kind() {
            ErrorKind::WouldBlock | ErrorKind::TimedOut => {
                ClientError::new(ErrorCode::Timeout, format!("{context}: timed out"))
            }
            ErrorKind::BrokenPipe
            | ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::UnexpectedEof => ClientError::new(
                ErrorCode::ConnectionLost,
                format!("{context}: the daemon closed the connection ({e})"),
            ),
            _ => ClientError::new(ErrorCode::ConnectionLost, format!("{context}: {e}")),
        }
    }
}

/// The event a notification carries (`method` must be the event one).
fn event_of(method: &str, params: Option<&RawValue>) -> Result<Event, ClientError> {
    if method != EVENT_NOTIFICATION {
        return Err(ClientError::new(
            ErrorCode::Protocol,
            format!("the daemon sent an unknown notification '{method}'"),
        ));
    }
    let params = params.ok_or_else(|| {
        ClientError::new(
            ErrorCode::Protocol,
            "the daemon sent an event without params",
        )
    })?;
    serde_json::from_str(params.get()).map_err(|e| {
        ClientError::new(
            ErrorCode::Protocol,
            format!("the daemon sent an unreadable event: {e}"),
        )
    })
}

/// What a line read while request `id` of method `M` waits says: its
/// answer, or `None` when it was an event (queued on `events`).
fn answer_in<M: Method>(
    line: &[u8],
    id: u64,
    events: &mut VecDeque<Event>,
) -> Option<Result<M::Result, ClientError>> {
    let message: Incoming<M::Result> = match serde_json::from_slice(line) {
        Ok(message) => message,
        // Not the answer expected: read again, raw, to say why.
        Err(e) => {
            return match serde_json::from_slice::<Incoming>(line) {
                Ok(Incoming {
                    method: Some(method),
                    params,
                    ..
                }) => match event_of(&method, params) {
                    Ok(event) => {
                        events.push_back(event);
                        None
                    }
                    Err(e) => Some(Err(e)),
                },
                Ok(other) if other.id.as_ref().and_then(Value::as_u64) == Some(id) => {
                    Some(Err(ClientError::new(
                        ErrorCode::Protocol,
                        format!("the daemon's answer to {} is malformed: {e}", M::NAME),
                    )))
                }
                Ok(other) => Some(Err(ClientError::new(
                    ErrorCode::Protocol,
                    format!(
                        "the daemon answered request {} while {id} was waiting",
                        other.id.unwrap_or(Value::Null)
                    ),
                ))),
                Err(e) => Some(Err(ClientError::new(
                    ErrorCode::Protocol,
                    format!("the daemon sent an unreadable message: {e}"),
                ))),
            };
        }
    };
    if let Some(method) = &message.method {
        return match event_of(method, message.params) {
            Ok(event) => {
                events.push_back(event);
                None
            }
            Err(e) => Some(Err(e)),
        };
    }
    Some(match message.id {
        Some(answered) if answered.as_u64() == Some(id) => match (message.result, message.error) {
            (_, Some(e)) => Err(ClientError::from_rpc(e)),
            (Some(result), None) => Ok(result),
            (None, None) => Err(ClientError::new(
                ErrorCode::Protocol,
                format!("the daemon's answer to {} has no result", M::NAME),
            )),
        },
        // An error the daemon could not tie to a request (id null): it
        // refused the connection, or could not read what was sent.
        None if message.error.is_some() => {
            Err(ClientError::from_rpc(message.error.expect("checked")))
        }
        other => Err(ClientError::new(
            ErrorCode::Protocol,
            format!(
                "the daemon answered request {} while {id} was waiting",
                other.unwrap_or(Value::Null)
            ),
        )),
    })
}

/// A connection to the daemon.
pub struct Client {
    stream: Stream,
    /// Bytes read past the last complete line.
    buffer: Vec<u8>,
    events: VecDeque<Event>,
    next_id: u64,
    timeout: Duration,
    /// The timeouts last set on the socket.
    send_timeout: Option<Duration>,
    recv_timeout: Option<Duration>,
    /// Where reads land before they join `buffer`.
    scratch: Box<[u8]>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("queued_events", &self.events.len())
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Client {
    /// Connects to the daemon at `endpoint`; `timeout` bounds every call
    /// unless a call says otherwise.
    pub fn connect(endpoint: &Endpoint, timeout: Duration) -> Result<Client, ClientError> {
        let path = endpoint.path();
        let name = path.to_fs_name::<GenericFilePath>().map_err(|e| {
            ClientError::new(
                ErrorCode::InvalidArgument,
                format!("socket path {} is not usable: {e}", path.display()),
            )
        })?;
        let stream = Stream::connect(name).map_err(|e| match e.kind() {
            ErrorKind::NotFound | ErrorKind::ConnectionRefused => ClientError::new(
                ErrorCode::DaemonNotRunning,
                format!(
                    "the daemon is not running (no socket at {}); start it with `dspconnectd`",
                    path.display()
                ),
            ),
            ErrorKind::PermissionDenied => ClientError::new(
                ErrorCode::PermissionDenied,
                format!(
                    "not allowed to connect to {}: the daemon belongs to another user",
                    path.display()
                ),
            ),
            _ => ClientError::new(
                ErrorCode::DaemonNotRunning,
                format!("cannot connect to the daemon at {}: {e}", path.display()),
            ),
        })?;
        Ok(Client {
            stream,
            buffer: Vec::new(),
            events: VecDeque::new(),
            next_id: 1,
            timeout,
            send_timeout: None,
            recv_timeout: None,
            scratch: vec![0u8; READ_CHUNK].into_boxed_slice(),
        })
    }

    /// The default timeout of calls.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Calls a method with the default timeout.
    pub fn call<M: Method>(&mut self, params: &M::Params) -> Result<M::Result, ClientError> {
        self.call_with_timeout::<M>(params, self.timeout)
    }

    /// Calls a method; events arriving meanwhile are queued for
    /// [`Client::next_event`].
    pub fn call_with_timeout<M: Method>(
        &mut self,
        params: &M::Params,
        timeout: Duration,
    ) -> Result<M::Result, ClientError> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&OutgoingRequest {
            jsonrpc: "2.0",
            id,
            method: M::NAME,
            params,
        })?;
        let deadline = Instant::now() + timeout;
        loop {
            let len = self.read_line(deadline)?;
            let answer = answer_in::<M>(&self.buffer[..len], id, &mut self.events);
            self.buffer.drain(..=len);
            if let Some(answer) = answer {
                return answer;
            }
        }
    }

    /// The next event: a queued one, or one that arrives within `timeout`.
    /// `Ok(None)` when none came in time. Events flow only after a
    /// `events.subscribe` call.
    pub fn next_event(&mut self, timeout: Duration) -> Result<Option<Event>, ClientError> {
        if let Some(e) = self.events.pop_front() {
            return Ok(Some(e));
        }
        let deadline = Instant::now() + timeout;
        let len = match self.read_line(deadline) {
            Ok(len) => len,
            Err(e) if e.code == ErrorCode::Timeout => return Ok(None),
            Err(e) => return Err(e),
        };
        let event = match serde_json::from_slice::<Incoming>(&self.buffer[..len]) {
            Ok(Incoming {
                method: Some(method),
                params,
                ..
            }) => event_of(&method, params).map(Some),
            Ok(_) => Err(ClientError::new(
                ErrorCode::Protocol,
                "the daemon sent a response when only events were expected",
            )),
            Err(e) => Err(ClientError::new(
                ErrorCode::Protocol,
                format!("the daemon sent an unreadable event: {e}"),
            )),
        };
        self.buffer.drain(..=len);
        event
    }

    fn send<T: Serialize>(&mut self, message: &T) -> Result<(), ClientError> {
        let mut line = serde_json::to_vec(message).map_err(|e| {
            ClientError::new(ErrorCode::InvalidArgument, format!("cannot encode: {e}"))
        })?;
        if line.len() > MAX_LINE_BYTES {
            line.zeroize();
            return Err(ClientError::new(
                ErrorCode::LineTooLong,
                format!(
                    "the request is larger than {MAX_LINE_BYTES} bytes: send documents by path or in chunks"
                ),
            ));
        }
        line.push(b'\n');
        let mut result = Ok(());
        if self.send_timeout != Some(self.timeout) {
            result = self.stream.set_send_timeout(Some(self.timeout));
            self.send_timeout = result.is_ok().then_some(self.timeout);
        }
        let result = result
            .and_then(|()| self.stream.write_all(&line))
            .and_then(|()| self.stream.flush());
        // The line may carry a PIN, a password or a presence code.
        line.zeroize();
        result.map_err(|e| ClientError::io("sending to the daemon", &e))
    }

    /// Waits for a complete line at the start of `buffer`; gives its
    /// length (the newline is at that index). The caller reads it in place
    /// and then drains it with its newline.
    fn read_line(&mut self, deadline: Instant) -> Result<usize, ClientError> {
        loop {
            if let Some(pos) = self.buffer.iter().position(|&b| b == b'\n') {
                return Ok(pos);
            }
            if self.buffer.len() > MAX_LINE_BYTES {
                return Err(ClientError::new(
                    ErrorCode::LineTooLong,
                    "the daemon sent a message line over 1 MiB",
                ));
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(ClientError::new(
                    ErrorCode::Timeout,
                    "no answer from the daemon in time",
                ));
            }
            // Set again only when it changes by more than the slack: a
            // read that wakes early loops, one that wakes late is late by
            // at most the slack.
            let set = self
                .recv_timeout
                .is_none_or(|t| t > remaining + TIMEOUT_SLACK || t + TIMEOUT_SLACK < remaining);
            if set {
                self.recv_timeout = None;
                self.stream
                    .set_recv_timeout(Some(remaining))
                    .map_err(|e| ClientError::io("waiting for the daemon", &e))?;
                self.recv_timeout = Some(remaining);
            }
            match self.stream.read(&mut self.scratch) {
                Ok(0) => {
                    return Err(ClientError::new(
                        ErrorCode::ConnectionLost,
                        "the daemon closed the connection",
                    ));
                }
                Ok(n) => self.buffer.extend_from_slice(&self.scratch[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                // The socket's timeout passed; the deadline decides.
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    continue;
                }
                Err(e) => return Err(ClientError::io("waiting for the daemon", &e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! Framing, timeouts and event queueing, against a scripted peer on a
    //! real local socket (the daemon's own tests cover the real server).
    use super::*;
    use crate::ipc::protocol::{Empty, Request, StatusMethod, Subscribe};
    use interprocess::local_socket::{Listener, ListenerOptions};
    use std::io::{BufRead, BufReader, Read};

    fn listener(dir: &tempfile::TempDir) -> (Endpoint, Listener) {
        let path = dir.path().join("t.sock");
        let name = path.clone().to_fs_name::<GenericFilePath>().unwrap();
        let l = ListenerOptions::new().name(name).create_sync().unwrap();
        (Endpoint::at_path(path), l)
    }

    /// A peer that answers each request line with the given lines, where
    /// `{id}` stands for the request's id, then keeps the connection open
    /// until the client closes it or `linger` passes.
    fn scripted(
        l: Listener,
        answers: Vec<Vec<String>>,
        linger: Duration,
    ) -> std::thread::JoinHandle<Vec<String>> {
        std::thread::spawn(move || {
            let conn = l.accept().unwrap();
            let mut reader = BufReader::new(&conn);
            let mut seen = Vec::new();
            for script in answers {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap() == 0 {
                    break;
                }
                let req: Request = serde_json::from_str(&line).unwrap();
                seen.push(req.method.clone());
                for a in script {
                    let a = a.replace("{id}", &req.id.clone().unwrap().to_string());
                    (&conn).write_all(a.as_bytes()).unwrap();
                    (&conn).write_all(b"\n").unwrap();
                }
            }
            conn.set_recv_timeout(Some(linger)).unwrap();
            let mut rest = Vec::new();
            let _ = reader.read_to_end(&mut rest);
            seen
        })
    }

    #[test]
    fn queues_events_that_arrive_before_the_answer() {
        let dir = tempfile::tempdir().unwrap();
        let (ep, l) = listener(&dir);
        let peer = scripted(
            l,
            vec![vec![
                r#"{"jsonrpc":"2.0","method":"event","params":{"kind":"notice","message":"hello"}}"#.into(),
                r#"{"jsonrpc":"2.0","id":{id},"result":{"subscribed":true}}"#.into(),
            ]],
            Duration::from_secs(10),
        );
        let mut c = Client::connect(&ep, Duration::from_secs(5)).unwrap();
        let r = c.call::<Subscribe>(&Empty {}).unwrap();
        assert!(r.subscribed);
        assert_eq!(
            c.next_event(Duration::from_millis(10)).unwrap(),
            Some(Event::Notice {
                message: "hello".into()
            })
        );
        assert_eq!(c.next_event(Duration::from_millis(10)).unwrap(), None);
        drop(c);
        assert_eq!(peer.join().unwrap(), vec!["events.subscribe"]);
    }

    #[test]
    fn daemon_errors_keep_their_code_field_and_hint() {
        let dir = tempfile::tempdir().unwrap();
        let (ep, l) = listener(&dir);
        let _peer = scripted(
            l,
            vec![vec![r#"{"jsonrpc":"2.0","id":{id},"error":{"code":300,"message":"bad matricule","data":{"code":300,"name":"DSP_E_BAD_MATRICULE","field":"patient","hint":"check the Luhn digit"}}}"#.into()]],
            Duration::from_secs(10),
        );
        let mut c = Client::connect(&ep, Duration::from_secs(5)).unwrap();
        let e = c.call::<StatusMethod>(&Empty {}).unwrap_err();
        assert_eq!(e.code, ErrorCode::BadMatricule);
        assert_eq!(
            e.rpc.as_ref().unwrap().data.field.as_deref(),
            Some("patient")
        );
        assert!(e.message.contains("check the Luhn digit"), "{}", e.message);
    }

    #[test]
    fn a_silent_daemon_times_out_and_a_closed_one_is_lost() {
        let dir = tempfile::tempdir().unwrap();
        let (ep, l) = listener(&dir);
        let peer = scripted(l, vec![vec![]], Duration::from_millis(600));
        let mut c = Client::connect(&ep, Duration::from_millis(200)).unwrap();
        let e = c.call::<StatusMethod>(&Empty {}).unwrap_err();
        assert_eq!(e.code, ErrorCode::Timeout);
        peer.join().unwrap();
        let e = c.call::<StatusMethod>(&Empty {}).unwrap_err();
        assert!(matches!(e.code, ErrorCode::ConnectionLost), "{e:?}");
    }

    #[test]
    fn no_daemon_means_daemon_not_running() {
        let dir = tempfile::tempdir().unwrap();
        let e = Client::connect(
            &Endpoint::at_path(dir.path().join("none.sock")),
            Duration::from_secs(1),
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::DaemonNotRunning);
        assert!(e.message.contains("dspconnectd"));
    }

    #[test]
    fn an_error_without_id_answers_the_waiting_call() {
        let dir = tempfile::tempdir().unwrap();
        let (ep, l) = listener(&dir);
        let _peer = scripted(
            l,
            vec![vec![r#"{"jsonrpc":"2.0","id":null,"error":{"code":208,"message":"connections from uid 65534 are refused","data":{"code":208,"name":"DSP_E_PERMISSION_DENIED"}}}"#.into()]],
            Duration::from_secs(10),
        );
        let mut c = Client::connect(&ep, Duration::from_secs(5)).unwrap();
        let e = c.call::<StatusMethod>(&Empty {}).unwrap_err();
        assert_eq!(e.code, ErrorCode::PermissionDenied);
        assert!(e.message.contains("uid 65534"), "{}", e.message);
    }

    #[test]
    fn mismatched_answers_are_protocol_errors() {
        let dir = tempfile::tempdir().unwrap();
        let (ep, l) = listener(&dir);
        let _peer = scripted(
            l,
            vec![vec![r#"{"jsonrpc":"2.0","id":999,"result":{}}"#.into()]],
            Duration::from_secs(10),
        );
        let mut c = Client::connect(&ep, Duration::from_secs(5)).unwrap();
        let e = c.call::<StatusMethod>(&Empty {}).unwrap_err();
        assert_eq!(e.code, ErrorCode::Protocol);
        assert!(
            e.message
                .contains("answered request 999 while 1 was waiting"),
            "{}",
            e.message
        );
    }

    #[test]
    fn an_answer_that_does_not_fit_the_method_says_so_and_events_still_queue() {
        let dir = tempfile::tempdir().unwrap();
        let (ep, l) = listener(&dir);
        let _peer = scripted(
            l,
            vec![vec![
                r#"{"jsonrpc":"2.0","method":"event","params":{"kind":"notice","message":"before"}}"#.into(),
                r#"{"jsonrpc":"2.0","id":{id},"result":{"subscribed":"yes"}}"#.into(),
            ]],
            Duration::from_secs(10),
        );
        let mut c = Client::connect(&ep, Duration::from_secs(5)).unwrap();
        let e = c.call::<Subscribe>(&Empty {}).unwrap_err();
        assert_eq!(e.code, ErrorCode::Protocol);
        assert!(
            e.message
                .contains("the daemon's answer to events.subscribe is malformed"),
            "{}",
            e.message
        );
        assert_eq!(
            c.next_event(Duration::from_millis(10)).unwrap(),
            Some(Event::Notice {
                message: "before".into()
            })
        );
    }
}
