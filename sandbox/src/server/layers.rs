//! What wraps every route: a request id (kept from the client or made up,
//! echoed in `x-request-id`), a tracing span per request that names the
//! route template — never the raw URI, whose path or query may carry a
//! bearer secret such as a portal ticket — and never a body, a `SANDBOX`
//! response header, and the request body ceiling.

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath};
use axum::http::{HeaderName, HeaderValue, Request};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

/// Response header on every answer, so that a person reading raw traffic
/// sees where it came from.
/// (Constants: `from_static` is evaluated at compile time, so an invalid
/// header name or value fails the build instead of panicking at run time.)
pub const SANDBOX_HEADER: HeaderName = HeaderName::from_static("x-dspconnect-sandbox");
const SANDBOX_HEADER_VALUE: HeaderValue =
    HeaderValue::from_static("SANDBOX - nothing issued here is valid on the real platform");
const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Limits request bodies of `router`'s routes to `bytes` (413 beyond).
/// axum's own 2 MB default for buffered extractors is lifted so that this
/// limit alone applies, streamed bodies included.
pub(crate) fn with_body_limit(router: Router, bytes: usize) -> Router {
    router
        .layer(DefaultBodyLimit::disable())
        .layer(RequestBodyLimitLayer::new(bytes))
}

pub(crate) fn observed(router: Router) -> Router {
    let trace = TraceLayer::new_for_http()
        .make_span_with(|request: &Request<Body>| {
            let route = request
                .extensions()
                .get::<MatchedPath>()
                .map_or("(no route)", MatchedPath::as_str);
            let request_id = request
                .headers()
                .get(REQUEST_ID_HEADER)
                .and_then(|value| value.to_str().ok())
                .unwrap_or("-");
            tracing::info_span!(
                "request",
                method = %request.method(),
                route = %route,
                request_id = %request_id,
            )
        })
        .on_response(DefaultOnResponse::new().level(Level::INFO));
    router
        .layer(PropagateRequestIdLayer::new(REQUEST_ID_HEADER))
        .layer(trace)
        .layer(SetRequestIdLayer::new(REQUEST_ID_HEADER, MakeRequestUuid))
        .layer(SetResponseHeaderLayer::overriding(
            SANDBOX_HEADER,
            SANDBOX_HEADER_VALUE,
        ))
}
