//! Browsers: tokens in HttpOnly cookies, which no script on the page can read.
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use jwt_layer::Authentication;
use serde_json::json;

use crate::AppState;
use crate::auth::{Credentials, access_claims};
use crate::error::ApiError;

// ANCHOR: session
/// Browser login: the token goes into an HttpOnly cookie, never into the body,
/// so no script on the page (and no XSS) can read it.
pub async fn start_session(
    State(state): State<Arc<AppState>>,
    Json(request): Json<Credentials>,
) -> Result<Response, ApiError> {
    let user = state
        .users
        .authenticate(&request.username, &request.password)
        .await?
        .ok_or(ApiError::InvalidCredentials)?;
    let login = Authentication::now().with_amr(["pwd"]);
    let claims = access_claims(&user, None);
    let token = state
        .issuer
        .issue_authenticated(&user.username, &claims, &login)?;
    let mut headers = HeaderMap::new();
    state.cookies.set_access(&mut headers, &token);
    let body = json!({ "sub": user.username, "roles": user.roles });
    Ok((headers, Json(body)).into_response())
}

/// Browser logout: the cookie is overwritten with an expired one.
pub async fn end_session(State(state): State<Arc<AppState>>) -> Response {
    let mut headers = HeaderMap::new();
    state.cookies.clear_access(&mut headers);
    (StatusCode::NO_CONTENT, headers).into_response()
}
// ANCHOR_END: session
