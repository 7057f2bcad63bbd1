//! 09 — refresh: short-lived access tokens plus a long-lived, opaque refresh token
//! kept server-side, so a client stays logged in without keeping a password.
//!
//! ```console
//! cargo run -p examples --bin 09_refresh
//! ```
use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use examples::{ApiError, AppClaims, LoginRequest, Users};
use jwt_extractor::Claims;
use jwt_layer::store::MemoryStore;
use jwt_layer::{Algorithm, JwtLayer, KeySet, RefreshTokens, SigningKey, TokenIssuer, Validator};
use serde::Deserialize;
use serde_json::json;

struct AppState {
    users: Users,
    tokens: RefreshTokens,
}

#[tokio::main]
async fn main() -> Result<(), examples::BoxError> {
    examples::init_tracing();
    let signing = SigningKey::hmac(Algorithm::HS256, &examples::jwt_secret())?;
    let validator = Validator::builder(KeySet::single(signing.verifying_key()))
        .issuer(examples::issuer())
        .audience(examples::audience())
        // 30 s by default (chapter 6); the transcript sets `LEEWAY_SECS=0` to
        // see a 3-second token expire after 3 seconds.
        .leeway(examples::env_secs("LEEWAY_SECS", 30))
        .build()?;
    // ANCHOR: tokens
    let issuer = TokenIssuer::new(signing, validator.clone())?
        .access_ttl(examples::env_secs("ACCESS_TTL_SECS", 5 * 60));
    // Refresh sessions live in a store; `MemoryStore` is one process's memory
    // (restart = everyone logs in again). Chapter 13 uses Redis.
    let tokens = RefreshTokens::new(issuer, MemoryStore::new());
    // ANCHOR_END: tokens
    let state = Arc::new(AppState {
        users: Users::seed()?,
        tokens,
    });

    let api = Router::new()
        .route("/me", get(me))
        .layer(JwtLayer::<AppClaims>::new(validator));
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/login", post(login))
        .route("/auth/refresh", post(refresh))
        .merge(api)
        .with_state(state);
    examples::serve(app).await
}

// ANCHOR: handlers
/// Login starts a new *session* and returns the first pair.
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
    let pair = state
        .tokens
        .login(&user.username, &json!({ "roles": user.roles }))
        .await?;
    Ok(examples::no_store(Json(pair)))
}

#[derive(Deserialize)]
struct RefreshRequest {
    refresh_token: String,
}

/// Trades a refresh token for a new pair. The old refresh token dies (rotation).
async fn refresh(
    State(state): State<Arc<AppState>>,
    Json(request): Json<RefreshRequest>,
) -> Result<Response, ApiError> {
    let pair = state.tokens.refresh(&request.refresh_token).await?;
    Ok(examples::no_store(Json(pair)))
}
// ANCHOR_END: handlers

async fn me(Claims(claims): Claims<AppClaims>) -> String {
    format!("hello, {}", claims.sub)
}
