//! What the server calls for each request: the [`Handler`] trait, the
//! [`ConnectionContext`] it receives, and [`Router`], a handler built from
//! one typed function per [`Method`].

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use dspconnect::ErrorCode;
use dspconnect::ipc::protocol::{Method, RpcError};
use serde_json::value::RawValue;
use zeroize::Zeroize;

/// Who is on the other end of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionContext {
    /// Unique within one server's life; also in the server's log lines.
    pub connection_id: u64,
    /// The peer's effective uid (always the daemon's own: others are refused
    /// before any request is read). `None` where the platform does not say.
    pub peer_uid: Option<u32>,
    /// The peer's process id, when the platform says (for the audit log).
    pub peer_pid: Option<u32>,
}

/// Answers requests. The server has already checked the envelope and that
/// `method` is one of [`METHOD_NAMES`](dspconnect::ipc::protocol::METHOD_NAMES)
/// (except `events.subscribe`, which it answers itself); `params` is the
/// request's `params` object as raw JSON, `{}` when the request had none,
/// and the answer is the result encoded as JSON.
///
/// Errors the handler returns go to the caller as they are: use
/// [`RpcError::new`] with our [`ErrorCode`] and name the field at fault.
/// Requests on one connection run concurrently (see the module docs), so a
/// handler must not assume it sees a connection's requests one at a time.
pub trait Handler: Send + Sync + 'static {
    fn handle(
        &self,
        ctx: &ConnectionContext,
        method: &str,
        params: Box<RawValue>,
    ) -> impl Future<Output = Result<Box<RawValue>, RpcError>> + Send;
}

type BoxedAnswer = Pin<Box<dyn Future<Output = Result<Box<RawValue>, RpcError>> + Send>>;
type BoxedRoute = Arc<dyn Fn(ConnectionContext, Box<RawValue>) -> BoxedAnswer + Send + Sync>;

/// A [`Handler`] made of one typed function per method:
///
/// ```no_run
/// # use dspconnectd::ipc_server::Router;
/// # use dspconnect::ipc::protocol::*;
/// let router = Router::new()
///     .route::<JobStatus, _>(|_ctx, params: JobRef| async move {
///         Err(RpcError::new(dspconnect::ErrorCode::UnknownJob, format!("no job {}", params.job_id)))
///     });
/// ```
///
/// Parameters are deserialized into `M::Params` before the function runs;
/// when they do not fit, the caller gets `InvalidParams` with serde's
/// message and the path of the field at fault in `data.field`
/// (`metadata.patient`). A method with
/// no route answers `MethodNotFound` saying this daemon does not offer it.
#[derive(Clone, Default)]
pub struct Router {
    routes: HashMap<&'static str, BoxedRoute>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<_> = self.routes.keys().collect();
        names.sort();
        f.debug_struct("Router").field("routes", &names).finish()
    }
}

impl Router {
    pub fn new() -> Self {
        Router::default()
    }

    /// Routes method `M` to `f`. Routing a method again replaces its
    /// function. Routing `events.subscribe` has no effect: the server
    /// answers it itself.
    pub fn route<M, Fut>(
        mut self,
        f: impl Fn(ConnectionContext, M::Params) -> Fut + Send + Sync + 'static,
    ) -> Self
    where
        M: Method,
        M::Params: Send + 'static,
        Fut: Future<Output = Result<M::Result, RpcError>> + Send + 'static,
    {
        let f = Arc::new(f);
        let route: BoxedRoute = Arc::new(move |ctx: ConnectionContext, raw: Box<RawValue>| {
            let f = Arc::clone(&f);
            Box::pin(async move {
                let params = decode_params::<M>(&raw);
                // The params may carry a PIN, a password or a presence code.
                String::from(Box::<str>::from(raw)).zeroize();
                let result = f(ctx, params?).await?;
                serde_json::value::to_raw_value(&result).map_err(|e| {
                    RpcError::new(
                        ErrorCode::Internal,
                        format!("the daemon could not encode its answer to {}: {e}", M::NAME),
                    )
                })
            }) as BoxedAnswer
        });
        self.routes.insert(M::NAME, route);
        self
    }

    /// The methods routed so far.
    pub fn methods(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.routes.keys().copied()
    }
}

impl Handler for Router {
    fn handle(
        &self,
        ctx: &ConnectionContext,
        method: &str,
        params: Box<RawValue>,
    ) -> impl Future<Output = Result<Box<RawValue>, RpcError>> + Send {
        let answer = match self.routes.get(method) {
            Some(route) => Ok(route(*ctx, params)),
            None => Err(RpcError::new(
                ErrorCode::MethodNotFound,
                format!("method '{method}' is not available in this daemon"),
            )
            .with_field("method")),
        };
        async move {
            match answer {
                Ok(future) => future.await,
                Err(e) => Err(e),
            }
        }
    }
}

/// Deserializes a method's parameters (a JSON object), naming the field at fault.
pub fn decode_params<M: Method>(params: &RawValue) -> Result<M::Params, RpcError> {
    let mut json = serde_json::Deserializer::from_str(params.get());
    serde_path_to_error::deserialize(&mut json).map_err(|e| {
        let path = e.path().to_string();
        let error = RpcError::new(
            ErrorCode::InvalidParams,
            format!("invalid params for {}: {}", M::NAME, e.inner()),
        )
        .with_hint("docs/ipc.md gives the parameters of every method");
        // At the top level serde's message names the missing or unknown
        // member itself; deeper down the path says where the fault is.
        if path == "." {
            error
        } else {
            error.with_field(path)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use dspconnect::ipc::protocol::{Empty, JobRef, JobStatus, Push, StatusMethod};
    use serde_json::json;
    use serde_json::value::to_raw_value;

    fn ctx() -> ConnectionContext {
        ConnectionContext {
            connection_id: 1,
            peer_uid: Some(1000),
            peer_pid: None,
        }
    }

    fn run<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn routes_typed_params_and_names_the_bad_field() {
        let router = Router::new().route::<JobStatus, _>(|_, p: JobRef| async move {
            Err(RpcError::new(ErrorCode::UnknownJob, p.job_id))
        });
        let e = run(router.handle(
            &ctx(),
            "job.status",
            to_raw_value(&json!({"job_id": "j7"})).unwrap(),
        ))
        .unwrap_err();
        assert_eq!(
            (e.code(), e.message.as_str()),
            (ErrorCode::UnknownJob, "j7")
        );

        let e = run(router.handle(
            &ctx(),
            "job.status",
            to_raw_value(&json!({"job_id": 7})).unwrap(),
        ))
        .unwrap_err();
        assert_eq!(e.code, -32602);
        assert_eq!(e.data.field.as_deref(), Some("job_id"));
        assert!(e.message.contains("invalid type"), "{}", e.message);

        let e = run(router.handle(&ctx(), "job.status", to_raw_value(&json!({})).unwrap()))
            .unwrap_err();
        assert_eq!(e.data.field, None);
        assert!(
            e.message.contains("missing field `job_id`"),
            "{}",
            e.message
        );
    }

    #[test]
    fn nested_fields_are_named_by_path() {
        let p = json!({
            "source": {"path": "/tmp/a.pdf"},
            "metadata": {"patient": 1893120105732u64, "title": "t",
                         "patient_statement": {"informed_and_agrees": true}}
        });
        let e = decode_params::<Push>(&to_raw_value(&p).unwrap()).unwrap_err();
        assert_eq!(e.data.field.as_deref(), Some("metadata.patient"));
    }

    #[test]
    fn an_unrouted_method_is_not_found_and_results_are_encoded() {
        let router = Router::new().route::<StatusMethod, _>(|_, _: Empty| async move {
            Err::<dspconnect::ipc::protocol::Status, _>(RpcError::new(ErrorCode::Internal, "x"))
        });
        let e = run(router.handle(&ctx(), "document.push", to_raw_value(&json!({})).unwrap()))
            .unwrap_err();
        assert_eq!(e.code(), ErrorCode::MethodNotFound);
        assert_eq!(router.methods().collect::<Vec<_>>(), vec!["status"]);
    }
}
