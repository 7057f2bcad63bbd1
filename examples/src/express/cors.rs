//! Express's `app.use(cors({ origin: 'https://app.example.com', credentials: true }))`
//! before `passport.authenticate(…)`.
//!
//! A browser on another origin first sends a preflight `OPTIONS` request,
//! without the `Authorization` header and without cookies: behind the
//! `JwtLayer` it would be refused with 401, and the browser would never send
//! the real request. So `tower_http::cors::CorsLayer` goes *outside* the
//! `JwtLayer`: the **last** `.layer` call, which runs first. It then also
//! puts the CORS headers on the layer's refusals, so the front end can read a
//! 401 and refresh its token instead of seeing an opaque network error.
//!
//! `credentials: true` is about cookies. A front end that sends its token in
//! an HttpOnly cookie from another origin must also be trusted by the layer's
//! cross-site check ([`JwtLayer::trusted_origin`]): CORS decides what the
//! browser lets the page *read*, the CSRF check what the server *accepts*.
use axum::Router;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::routing::get;
use jwt_extractor::Claims;
use jwt_layer::{JwtLayer, TokenSource, Validator};
use serde_json::Value;
use tower_http::cors::CorsLayer;

/// The browser front end allowed to call the API with credentials.
pub const FRONT_END: &str = "https://app.example.com";

/// The access-token cookie name (the `__Host-` prefix: `Secure`, `Path=/`,
/// no `Domain`, so a sibling subdomain cannot plant it).
pub const COOKIE: &str = "__Host-access_token";

async fn me(Claims(claims): Claims<Value>) -> String {
    claims.token().subject().unwrap_or_default().to_owned()
}

async fn create_note() -> StatusCode {
    StatusCode::CREATED
}

/// `cors({ origin: FRONT_END, credentials: true })`. With credentials the
/// origin must be named: tower-http panics at start-up on `Any` (`*`), which
/// browsers refuse with credentials anyway. Never mirror the request's
/// `Origin` back: that lets every site read your users' data.
pub fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(HeaderValue::from_static(FRONT_END))
        .allow_credentials(true)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([AUTHORIZATION, CONTENT_TYPE])
}

/// The layer: Bearer for API clients, the cookie for the browser front end,
/// whose cross-origin cookie requests are trusted.
pub fn auth(validator: Validator) -> JwtLayer<Value> {
    JwtLayer::<Value>::new(validator)
        .sources([TokenSource::Bearer, TokenSource::cookie(COOKIE)])
        .trusted_origin(FRONT_END)
}

// ANCHOR: order
/// `app.use(cors(…))` then `passport.authenticate(…)`: in axum, in reverse.
pub fn app(validator: Validator) -> Router {
    Router::new()
        .route("/me", get(me))
        .route("/notes", axum::routing::post(create_note))
        .layer(auth(validator)) // runs second: authenticates
        .layer(cors()) // last `.layer`, outermost: runs first, answers preflights
}
// ANCHOR_END: order

/// The mistake, for the tests: CORS inside the `JwtLayer`, so the layer
/// refuses the preflight (401) before CORS can answer it.
pub fn app_in_the_wrong_order(validator: Validator) -> Router {
    Router::new()
        .route("/me", get(me))
        .layer(cors())
        .layer(auth(validator))
}
