//! The account endpoints: sign-up and login.
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
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
/// Checks the password. No token yet: that is the next chapter.
pub async fn login(
    State(state): State<Arc<AppState>>,
    Json(request): Json<Credentials>,
) -> Result<Json<Value>, ApiError> {
    let user = state
        .users
        .authenticate(&request.username, &request.password)
        .await?
        .ok_or(ApiError::InvalidCredentials)?;
    Ok(Json(json!({
        "message": format!("welcome, {}", user.username),
        "roles": user.roles,
    })))
}
// ANCHOR_END: login
