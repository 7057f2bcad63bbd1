//! The account endpoints: sign-up and login.
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jwt_extractor::Claims;
use jwt_layer::{Authentication, RefreshError, TokenPair};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::api::AppClaims;
use crate::client::ClientAddress;
use crate::error::ApiError;
use crate::users::User;

// ANCHOR: credentials
/// The JSON body of `POST /auth/signup` and `POST /auth/login`.
#[derive(Deserialize)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}
// ANCHOR_END: credentials

// ANCHOR: scoped
/// The body of `POST /auth/login`: credentials and, optionally, the scopes the
/// client asks for (`"scope": "notes:read"`): less than everything, never more.
#[derive(Deserialize)]
pub struct LoginRequest {
    #[serde(flatten)]
    pub credentials: Credentials,
    pub scope: Option<String>,
}

/// What a login grants when the client does not ask for less.
const ALL_SCOPES: [&str; 2] = ["notes:read", "notes:write"];

/// The claims of `user`'s access tokens: `roles`, and `scope` as RFC 6749
/// §3.3 says: what was asked for and may be granted.
pub fn access_claims(user: &User, asked_scope: Option<&str>) -> Value {
    let granted: Vec<&str> = match asked_scope {
        Some(asked) => ALL_SCOPES
            .into_iter()
            .filter(|s| asked.split(' ').any(|a| a == *s))
            .collect(),
        None => ALL_SCOPES.to_vec(),
    };
    json!({ "roles": user.roles, "scope": granted.join(" ") })
}
// ANCHOR_END: scoped

// ANCHOR: signup
/// `201 Created` with the new account, `409` if the name is taken, `400` if
/// the name or the password breaks the rules.
pub async fn signup(
    State(state): State<Arc<AppState>>,
    ClientAddress(client): ClientAddress,
    Json(request): Json<Credentials>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    // Before the password is hashed: every attempt counts, taken name or not.
    state.throttle.check_signup(client)?;
    let user = state
        .users
        .sign_up(&request.username, &request.password)
        .await?;
    let body = json!({ "username": user.username, "roles": user.roles });
    Ok((StatusCode::CREATED, Json(body)))
}
// ANCHOR_END: signup

// ANCHOR: login
/// A correct password earns a signed access token (a JWT).
pub async fn login(
    State(state): State<Arc<AppState>>,
    ClientAddress(client): ClientAddress,
    Json(request): Json<LoginRequest>,
) -> Result<Response, ApiError> {
    let LoginRequest { credentials, scope } = request;
    // ANCHOR: throttled
    // Before any hashing: per client address, then per username as submitted.
    state.throttle.check_login(client, &credentials.username)?;
    // ANCHOR_END: throttled
    let user = state
        .users
        .authenticate(&credentials.username, &credentials.password)
        .await?
        .ok_or(ApiError::InvalidCredentials)?;
    // `sub` is the username; `roles` and `scope` are our claims. The issuer adds
    // `iat`, `nbf`, `exp` and a random `jti`, and types the token `at+jwt`.
    let claims = access_claims(&user, scope.as_deref());
    // The password was just checked: `auth_time` is now, the method `pwd`.
    let login = Authentication::now().with_amr(["pwd"]);
    // A login starts a new *session* and returns its first pair of tokens.
    let pair = state
        .tokens
        .login_authenticated(&user.username, &claims, &login)
        .await?;
    // {"access_token": "...", ..., "refresh_token": "...", "refresh_expires_in": ...}
    Ok(no_store(Json(pair)))
}
// ANCHOR_END: login

// ANCHOR: refresh
/// The body of `POST /auth/refresh` (and of `/auth/logout`, chapter 11).
#[derive(Deserialize)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// Trades a refresh token for a new pair. The old refresh token dies (rotation).
pub async fn refresh(
    State(state): State<Arc<AppState>>,
    Json(request): Json<RefreshRequest>,
) -> Result<Response, ApiError> {
    let pair = rotate(&state, &request.refresh_token).await?;
    Ok(no_store(Json(pair)))
}
// ANCHOR_END: refresh

// ANCHOR: reuse
/// `RefreshTokens::refresh`, with reuse reported as the security event it is.
/// Both refresh endpoints (JSON here, the cookie in `browser.rs`) go through it.
pub async fn rotate(state: &AppState, refresh_token: &str) -> Result<TokenPair, ApiError> {
    match state.tokens.refresh(refresh_token).await {
        Ok(pair) => Ok(pair),
        Err(RefreshError::Reused { session, subject }) => {
            // A security event, not a routine failure: someone holds a copy of a
            // refresh token. The session is already revoked; alert on this log.
            tracing::warn!(
                security_event = "refresh_token_reuse",
                %session,
                %subject,
                "session revoked after refresh token reuse"
            );
            Err(ApiError::from(RefreshError::Reused { session, subject }))
        }
        Err(other) => Err(other.into()),
    }
}
// ANCHOR_END: reuse

// ANCHOR: no_store
/// Tokens must not be cached by the browser or a proxy: `Cache-Control:
/// no-store` on every response that carries one (RFC 6749 §5.1).
pub fn no_store(body: impl IntoResponse) -> Response {
    let mut response = body.into_response();
    jwt_layer::cookie::no_store(response.headers_mut());
    response
}
// ANCHOR_END: no_store

// ANCHOR: logout
/// Logout of this session: the session is revoked, and with it every access
/// token it issued (they carry its id as `sid`).
pub async fn logout(
    State(state): State<Arc<AppState>>,
    Json(request): Json<RefreshRequest>,
) -> Result<Response, ApiError> {
    state.tokens.logout(&request.refresh_token).await?;
    Ok(no_store(StatusCode::NO_CONTENT))
}

/// "Log out everywhere" (a lost phone, a changed password): every session of
/// the user, and every access token issued to them until now. One write,
/// however many sessions. Behind the layer: it needs a valid access token.
pub async fn logout_everywhere(
    State(state): State<Arc<AppState>>,
    Claims(claims): Claims<AppClaims>,
) -> Result<Response, ApiError> {
    state.tokens.logout_everywhere(&claims.sub).await?;
    Ok(no_store(StatusCode::NO_CONTENT))
}
// ANCHOR_END: logout
