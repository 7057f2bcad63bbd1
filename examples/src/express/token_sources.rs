//! passport-jwt's extractors: `ExtractJwt.fromHeader('x-access-token')`,
//! `fromAuthHeaderWithScheme('JWT')` and `fromBodyField('token')`.
//!
//! - `fromHeader` is built in: [`TokenSource::header`], the header carrying
//!   the bare token.
//! - `fromAuthHeaderWithScheme` is a few lines of [`ExtractToken`], given to
//!   [`TokenSource::custom`]: [`AuthScheme`] below. Listed after
//!   [`TokenSource::Bearer`], it lets old clients that send `JWT <token>`
//!   and new ones that send `Bearer <token>` use the same routes (the Bearer
//!   source ignores other schemes).
//! - `fromBodyField` is not offered, on purpose. A source sees the request
//!   head only: to read a body field the layer would have to buffer the body
//!   of every unauthenticated request before refusing it (memory spent on
//!   anyone's behalf), and take the stream the handler needs. passport-jwt
//!   could only do it because `body-parser` ran before it, for everyone. The
//!   honest alternative is a route outside the layer whose handler parses the
//!   (size-limited) body and calls [`Validator::verify`] itself: see
//!   [`form_post`]. That route gets none of the layer's hooks (revocation,
//!   `load_user`): call what you need yourself, or better, have the client
//!   send a header.
use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jwt_extractor::Claims;
use jwt_layer::source::{ExtractToken, SourceError};
use jwt_layer::{BoxFuture, DEFAULT_REALM, JwtLayer, TokenSource, Validator};
use serde::Deserialize;
use serde_json::Value;

// ANCHOR: scheme
/// `Authorization: <scheme> <token>`, the scheme compared case-insensitively:
/// `ExtractJwt.fromAuthHeaderWithScheme(scheme)`.
pub struct AuthScheme(pub &'static str);

impl ExtractToken for AuthScheme {
    fn extract<'a>(
        &'a self,
        parts: &'a Parts,
    ) -> BoxFuture<'a, Result<Option<String>, SourceError>> {
        let mut values = parts.headers.get_all(AUTHORIZATION).iter();
        let found = match (values.next(), values.next()) {
            (None, _) => Ok(None),
            // Two Authorization headers: ambiguous, 400 (as the Bearer source does).
            (Some(_), Some(_)) => Err(SourceError::Malformed),
            (Some(value), None) => self.token(value.to_str().unwrap_or_default()),
        };
        Box::pin(async move { found })
    }
}

impl AuthScheme {
    fn token(&self, value: &str) -> Result<Option<String>, SourceError> {
        let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
        if !scheme.eq_ignore_ascii_case(self.0) {
            return Ok(None); // another scheme (Bearer, Basic): not this source's
        }
        match token.trim_start_matches(' ') {
            // `JWT`, `JWT a b`: ours, but not one token. Never "no token".
            "" => Err(SourceError::Malformed),
            token if token.contains(' ') => Err(SourceError::Malformed),
            token => Ok(Some(token.to_owned())),
        }
    }
}
// ANCHOR_END: scheme

// ANCHOR: sources
async fn me(Claims(claims): Claims<Value>) -> String {
    // Which source found the token: "bearer", "header" or "custom".
    let token = claims.token();
    format!(
        "{} via {}",
        token.subject().unwrap_or_default(),
        token.source()
    )
}

/// `/me` taking its token from `Authorization: Bearer`, `x-access-token` or
/// `Authorization: JWT`; `/form` taking it from a JSON body field.
pub fn app(validator: Validator) -> Router {
    let layer = JwtLayer::<Value>::new(validator.clone()).sources([
        TokenSource::Bearer, // fromAuthHeaderAsBearerToken()
        TokenSource::header(HeaderName::from_static("x-access-token")), // fromHeader('x-access-token')
        TokenSource::custom(AuthScheme("JWT")), // fromAuthHeaderWithScheme('JWT')
    ]);
    let api = Router::new().route("/me", get(me)).layer(layer);
    // Merged after `.layer`: `/form` is not behind the layer.
    let form = Router::new()
        .route("/form", post(form_post))
        .with_state(validator);
    api.merge(form)
}
// ANCHOR_END: sources

// ANCHOR: body
/// A form that carries its token in the body (`fromBodyField('token')`).
#[derive(Deserialize)]
pub struct TokenForm {
    /// The access token.
    pub token: String,
    /// The form's own data.
    pub note: String,
}

/// Verifies the body's token itself: the layer never reads bodies. axum's
/// `Json` stops at 2 MB (`DefaultBodyLimit`) before anything is verified.
pub async fn form_post(
    State(validator): State<Validator>,
    Json(form): Json<TokenForm>,
) -> Response {
    match validator.verify::<Value>(&form.token) {
        Ok(claims) => {
            let subject = claims.token().subject().unwrap_or_default();
            (
                StatusCode::CREATED,
                format!("{subject} noted {:?}", form.note),
            )
                .into_response()
        }
        // The layer's own refusal: 401, RFC 6750 challenge, JSON body.
        Err(err) => err.to_response(DEFAULT_REALM).map(Body::from),
    }
}
// ANCHOR_END: body
