//! The order of middleware: Express runs `app.use(a); app.use(b)` as `a`
//! then `b`; axum runs `.layer(a).layer(b)` as `b` then `a`, because each
//! `.layer` wraps everything built so far. And Express's `router.use(mw)`
//! runs for every request that enters the router, while
//! `router.get('/x', mw, handler)` runs only when the route matched: axum's
//! `.layer` and `.route_layer`.
use axum::Router;
use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::map_request;
use axum::routing::get;
use jwt_extractor::Claims;
use jwt_layer::{JwtLayer, Validator};
use serde_json::Value;

/// The header each middleware appends its name to, which `/trace` echoes.
const TRACE: &str = "x-trace";

/// Appends `name` to the request's `x-trace` header.
fn mark(mut request: Request, name: &str) -> Request {
    let trace = match request.headers().get(TRACE).and_then(|v| v.to_str().ok()) {
        Some(before) => format!("{before},{name}"),
        None => name.to_owned(),
    };
    if let Ok(value) = HeaderValue::from_str(&trace) {
        request.headers_mut().insert(TRACE, value);
    }
    request
}

async fn a(request: Request) -> Request {
    mark(request, "a")
}

async fn b(request: Request) -> Request {
    mark(request, "b")
}

async fn trace(request: Request) -> String {
    let trace = request.headers().get(TRACE).and_then(|v| v.to_str().ok());
    trace.unwrap_or_default().to_owned()
}

// ANCHOR: layers
/// `/trace` answers `b,a`: the last `.layer` runs first.
pub fn two_layers() -> Router {
    Router::new()
        .route("/trace", get(trace))
        .layer(map_request(a)) // inner: runs second
        .layer(map_request(b)) // outer: runs first (Express: the first `app.use`)
}
// ANCHOR_END: layers

async fn me(Claims(claims): Claims<Value>) -> String {
    claims.token().subject().unwrap_or_default().to_owned()
}

// ANCHOR: route_layer
/// `router.use(auth)`: every request into the router is authenticated, an
/// unknown path included (401 before any 404: no probing without a token).
pub fn with_layer(validator: Validator) -> Router {
    Router::new()
        .route("/me", get(me))
        .layer(JwtLayer::<Value>::new(validator))
}

/// `router.get('/me', auth, handler)`: only matched routes are authenticated;
/// an unknown path is a plain 404, token or not.
pub fn with_route_layer(validator: Validator) -> Router {
    Router::new()
        .route("/me", get(me))
        .route_layer(JwtLayer::<Value>::new(validator))
}
// ANCHOR_END: route_layer
