//! passport's `failWithError: true` (refusals go to the Express error
//! handler) and the custom callback `passport.authenticate('jwt', (err, user,
//! info) => …)` that decides what a refusal looks like.
//!
//! Here a refusal is a typed [`AuthError`] (passport's `info`: expired, bad
//! signature, no token, …; its `err`, a store that could not answer, is the
//! `503` kinds, which fail closed). Two places reshape it:
//! - [`JwtLayer::on_error`], for one layer: every refusal of the layer *and*
//!   of the guards behind it (`RequireRole`, …) goes through it, so one
//!   function gives the whole API one error format;
//! - an outer middleware, like an Express error handler for the whole app:
//!   the refusal's [`AuthError`] is in the response extensions.
//!
//! What a custom callback can do and this cannot: let a request with an
//! *invalid* token through as anonymous. `JwtLayer::optional()` lets
//! requests *without* a token through (`Option<Claims<T>>`), never a bad one.
use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderValue, Response};
use axum::middleware::map_response;
use axum::routing::get;
use jwt_extractor::{Claims, RequireRole, role};
use jwt_layer::{AuthError, JwtLayer, Validator};
use serde_json::{Value, json};

role!(pub Admin = "admin");

// ANCHOR: on_error
/// Every refusal as `{"message", "reason"}`: the app's own error format. The
/// status, the `WWW-Authenticate` challenge and `Cache-Control: no-store`
/// of the default response are kept: clients (and proxies) rely on them.
fn refusal(err: &AuthError, realm: &str) -> Response<Bytes> {
    let mut response = err.to_response(realm);
    // `err` displays a fixed, client-safe text; it never echoes the token.
    let body = json!({ "message": err.to_string(), "reason": err.reason() });
    *response.body_mut() = Bytes::from(body.to_string());
    response
}

async fn me(Claims(claims): Claims<Value>) -> String {
    claims.token().subject().unwrap_or_default().to_owned()
}

async fn admin(_: RequireRole<Admin>) -> &'static str {
    "admin"
}

/// `/me` and `/admin`, all refusals (the layer's and `RequireRole`'s) reshaped.
pub fn app(validator: Validator) -> Router {
    Router::new()
        .route("/me", get(me))
        .route("/admin", get(admin))
        .layer(JwtLayer::<Value>::new(validator).on_error(refusal))
}
// ANCHOR_END: on_error

// ANCHOR: error_handler
/// The app-wide error handler's part: tags every authentication refusal with
/// its reason, for the logs of a gateway (`x-auth-refusal: expired`).
async fn tag_refusals(mut response: axum::response::Response) -> axum::response::Response {
    let reason = response
        .extensions()
        .get::<AuthError>()
        .map(AuthError::reason);
    if let Some(reason) = reason {
        let value = HeaderValue::from_static(reason);
        response.headers_mut().insert("x-auth-refusal", value);
    }
    response
}

/// [`app`] with the app-wide middleware outside it (last `.layer`: runs first,
/// sees the response last).
pub fn app_with_error_handler(validator: Validator) -> Router {
    app(validator).layer(map_response(tag_refusals))
}
// ANCHOR_END: error_handler
