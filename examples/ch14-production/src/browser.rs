//! Browsers: tokens in HttpOnly cookies, which no script on the page can read.
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use jwt_layer::Authentication;
use serde_json::json;

use crate::AppState;
use crate::auth::{Credentials, access_claims, rotate};
use crate::client::ClientAddress;
use crate::error::ApiError;

// ANCHOR: session
/// Browser login: the token goes into an HttpOnly cookie, never into the body,
/// so no script on the page (and no XSS) can read it.
pub async fn start_session(
    State(state): State<Arc<AppState>>,
    ClientAddress(client): ClientAddress,
    Json(request): Json<Credentials>,
) -> Result<Response, ApiError> {
    state.throttle.check_login(client, &request.username)?;
    let user = state
        .users
        .authenticate(&request.username, &request.password)
        .await?
        .ok_or(ApiError::InvalidCredentials)?;
    let login = Authentication::now().with_amr(["pwd"]);
    let claims = access_claims(&user, None);
    let pair = state
        .tokens
        .login_authenticated(&user.username, &claims, &login)
        .await?;
    // Two cookies: the access token, and the refresh token (sent only to /auth).
    let mut headers = HeaderMap::new();
    state.cookies.set_pair(&mut headers, &pair);
    let body = json!({
        "sub": user.username,
        "roles": user.roles,
        "expires_in": pair.access.expires_in,
    });
    Ok((headers, Json(body)).into_response())
}

// ANCHOR: refresh_session
/// Refresh: the refresh cookie (sent only to /auth, SameSite=Strict) for new
/// cookies. The browser's script calls it after a 401, then retries.
pub async fn refresh_session(
    State(state): State<Arc<AppState>>,
    request_headers: HeaderMap,
) -> Result<Response, ApiError> {
    let token = match state.cookies.refresh_token(&request_headers) {
        Ok(Some(token)) => token,
        Ok(None) | Err(_) => return Err(ApiError::InvalidGrant("no valid refresh cookie")),
    };
    let pair = rotate(&state, &token).await?;
    let mut headers = HeaderMap::new();
    state.cookies.set_pair(&mut headers, &pair);
    let body = json!({ "expires_in": pair.access.expires_in });
    Ok((headers, Json(body)).into_response())
}
// ANCHOR_END: refresh_session

/// Browser logout: revoke the session, then delete both cookies. Every
/// refresh cookie sent is revoked: if another one was planted beside ours,
/// logging out must still end the real session.
pub async fn end_session(
    State(state): State<Arc<AppState>>,
    request_headers: HeaderMap,
) -> Result<Response, ApiError> {
    for token in state.cookies.refresh_tokens(&request_headers) {
        state.tokens.logout(&token).await?;
    }
    let mut headers = HeaderMap::new();
    state.cookies.clear(&mut headers);
    Ok((StatusCode::NO_CONTENT, headers).into_response())
}
// ANCHOR_END: session
