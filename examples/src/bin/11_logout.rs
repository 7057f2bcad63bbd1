//! 11 — logout: revoke one session (one login on one device) or every session
//! of a user, and make the layer refuse the access tokens of revoked sessions too.
//!
//! ```console
//! cargo run -p examples --bin 11_logout
//! ```
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
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
        .build()?;
    let issuer = TokenIssuer::new(signing, validator.clone())?
        .access_ttl(examples::env_secs("ACCESS_TTL_SECS", 5 * 60));
    let tokens = RefreshTokens::new(issuer, MemoryStore::new());
    let state = Arc::new(AppState {
        users: Users::seed()?,
        tokens: tokens.clone(),
    });

    // ANCHOR: layer
    // After signature and claims pass, ask the store whether the token's session
    // (`sid`), subject or `jti` was revoked. Store down = 503, never a pass.
    let auth = JwtLayer::<AppClaims>::new(validator).revocation(tokens);
    let api = Router::new()
        .route("/me", get(me))
        .route("/auth/logout-everywhere", post(logout_everywhere))
        .layer(auth);
    // ANCHOR_END: layer
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/login", post(login))
        .route("/auth/refresh", post(refresh))
        .route("/auth/logout", post(logout))
        .merge(api)
        .with_state(state);
    examples::serve(app).await
}

#[derive(Deserialize)]
struct RefreshRequest {
    refresh_token: String,
}

// ANCHOR: logout
/// Logout of this session: the session is revoked, and with it every access
/// token it issued (they carry its id as `sid`).
async fn logout(
    State(state): State<Arc<AppState>>,
    Json(request): Json<RefreshRequest>,
) -> Result<Response, ApiError> {
    state.tokens.logout(&request.refresh_token).await?;
    Ok(examples::no_store(StatusCode::NO_CONTENT))
}

/// "Log out everywhere" (a lost phone, a changed password): every session of
/// the user, and every access token issued to them until now. One write,
/// however many sessions.
async fn logout_everywhere(
    State(state): State<Arc<AppState>>,
    Claims(claims): Claims<AppClaims>,
) -> Result<Response, ApiError> {
    state.tokens.logout_everywhere(&claims.sub).await?;
    Ok(examples::no_store(StatusCode::NO_CONTENT))
}
// ANCHOR_END: logout

async fn refresh(
    State(state): State<Arc<AppState>>,
    Json(request): Json<RefreshRequest>,
) -> Result<Response, ApiError> {
    let pair = state.tokens.refresh(&request.refresh_token).await?;
    Ok(examples::no_store(Json(pair)))
}

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

async fn me(Claims(claims): Claims<AppClaims>) -> String {
    format!("hello, {}", claims.sub)
}
