//! 08 — cookies: browsers keep the access token in an HttpOnly cookie, API clients
//! keep sending `Authorization: Bearer`; the same layer reads both. Cookies are
//! sent by the browser on its own, so cookie requests with unsafe methods get a
//! CSRF check (the layer's own, and `jwt_layer::csrf::CsrfLayer` on the browser
//! login and logout outside it); Bearer requests to the API do not need one.
//!
//! ```console
//! cargo run -p examples --bin 08_cookies
//! ```
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use examples::{ApiError, AppClaims, LoginRequest, Users};
use jwt_extractor::Claims;
use jwt_layer::cookie::AuthCookies;
use jwt_layer::{Algorithm, JwtLayer, KeySet, SigningKey, TokenIssuer, TokenSource, Validator};
use serde::Deserialize;
use serde_json::{Value, json};

struct AppState {
    users: Users,
    issuer: TokenIssuer,
    cookies: AuthCookies,
}

#[tokio::main]
async fn main() -> Result<(), examples::BoxError> {
    examples::init_tracing();
    let signing = SigningKey::hmac(Algorithm::HS256, &examples::jwt_secret())?;
    let validator = Validator::builder(KeySet::single(signing.verifying_key()))
        .issuer(examples::issuer())
        .audience(examples::audience())
        .build()?;
    let issuer = TokenIssuer::new(signing, validator.clone())?
        .access_ttl(examples::env_secs("ACCESS_TTL_SECS", 5 * 60));
    let cookies = AuthCookies::new();

    // ANCHOR: layer
    // API clients: the Bearer header. Browsers: the `__Host-access_token` cookie.
    // If both are sent they must agree, or the request is refused (400).
    let auth = JwtLayer::<AppClaims>::new(validator)
        .sources([TokenSource::Bearer, cookies.access_source()]);
    // ANCHOR_END: layer
    // ANCHOR: csrf
    // The layer checks cookie requests to the routes behind it. The browser
    // login and logout are outside it: the same check, as a middleware, for
    // every unsafe request to them, whatever headers come with it.
    let csrf = auth.csrf_layer();
    // ANCHOR_END: csrf
    let state = Arc::new(AppState {
        users: Users::seed()?,
        issuer,
        cookies,
    });

    // ANCHOR: router
    let api = Router::new()
        .route("/me", get(me))
        .route("/notes", post(add_note))
        .layer(auth);
    let browser = Router::new()
        .route("/session", post(start_session).delete(end_session))
        .layer(csrf);
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/login", post(login))
        .merge(browser)
        .merge(api)
        .with_state(state);
    // ANCHOR_END: router
    examples::serve(app).await
}

// ANCHOR: session
/// Browser login: the token goes into an HttpOnly cookie, never into the body,
/// so no script on the page (and no XSS) can read it.
async fn start_session(
    State(state): State<Arc<AppState>>,
    Json(request): Json<LoginRequest>,
) -> Result<Response, ApiError> {
    let Some(user) = state
        .users
        .authenticate(&request.username, &request.password)
        .await?
    else {
        return Err(ApiError::InvalidCredentials);
    };
    let token = state
        .issuer
        .issue(&user.username, &json!({ "roles": user.roles }))?;
    let mut headers = HeaderMap::new();
    state.cookies.set_access(&mut headers, &token);
    Ok((
        headers,
        Json(json!({ "sub": user.username, "roles": user.roles })),
    )
        .into_response())
}

/// Browser logout: the cookie is overwritten with an expired one.
async fn end_session(State(state): State<Arc<AppState>>) -> Response {
    let mut headers = HeaderMap::new();
    state.cookies.clear_access(&mut headers);
    (StatusCode::NO_CONTENT, headers).into_response()
}
// ANCHOR_END: session

async fn me(Claims(claims): Claims<AppClaims>) -> Json<Value> {
    // `source()` says whether this request was authenticated by "bearer" or "cookie".
    Json(json!({ "sub": claims.sub, "via": claims.token().source() }))
}

#[derive(Deserialize)]
struct NewNote {
    text: String,
}

async fn add_note(
    Claims(claims): Claims<AppClaims>,
    Json(note): Json<NewNote>,
) -> (StatusCode, Json<Value>) {
    (
        StatusCode::CREATED,
        Json(json!({ "author": claims.sub, "text": note.text })),
    )
}

/// API-client login, as in the chapters before: the token in a JSON body.
async fn login(
    State(state): State<Arc<AppState>>,
    Json(request): Json<LoginRequest>,
) -> Result<Response, ApiError> {
    let Some(user) = state
        .users
        .authenticate(&request.username, &request.password)
        .await?
    else {
        return Err(ApiError::InvalidCredentials);
    };
    let token = state
        .issuer
        .issue(&user.username, &json!({ "roles": user.roles }))?;
    Ok(examples::no_store(Json(token)))
}
