//! The account endpoints: sign-up and login.
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;

// ANCHOR: credentials
/// The JSON body of `POST /auth/signup` and `POST /auth/login`.
#[derive(Deserialize)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}
// ANCHOR_END: credentials

// ANCHOR: signup
/// `201 Created` with the new account, `409` if the name is taken, `400` if
/// the name or the password breaks the rules.
pub async fn signup(
    State(state): State<Arc<AppState>>,
    Json(request): Json<Credentials>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
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
    Json(request): Json<Credentials>,
) -> Result<Response, ApiError> {
    let user = state
        .users
        .authenticate(&request.username, &request.password)
        .await?
        .ok_or(ApiError::InvalidCredentials)?;
    // `sub` is the username; `roles` is our own claim. The issuer adds `iat`,
    // `nbf`, `exp` and a random `jti`, and types the token `at+jwt`.
    let token = state
        .issuer
        .issue(&user.username, &json!({ "roles": user.roles }))?;
    // {"access_token": "...", "token_type": "Bearer", "expires_in": 900}
    Ok(no_store(Json(token)))
}
// ANCHOR_END: login

// ANCHOR: no_store
/// Tokens must not be cached by the browser or a proxy: `Cache-Control:
/// no-store` on every response that carries one (RFC 6749 §5.1).
pub fn no_store(body: impl IntoResponse) -> Response {
    let mut response = body.into_response();
    jwt_layer::cookie::no_store(response.headers_mut());
    response
}
// ANCHOR_END: no_store
