//! 10 — rotation: every refresh token works once. Presenting one again means it
//! was copied (stolen, or a client bug): the whole session is revoked, the
//! thief's newest token included, however many rotations ago the copy was made.
//!
//! ```console
//! cargo run -p examples --bin 10_rotation
//! ```
use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use examples::{ApiError, AppClaims, LoginRequest, Users};
use jwt_extractor::Claims;
use jwt_layer::store::MemoryStore;
use jwt_layer::{
    Algorithm, JwtLayer, KeySet, RefreshError, RefreshTokens, SigningKey, TokenIssuer, Validator,
};
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
    // ANCHOR: lifetimes
    let tokens = RefreshTokens::new(issuer, MemoryStore::new())
        // A session dies after this long without a refresh (a forgotten laptop)...
        .idle_timeout(examples::env_secs("REFRESH_IDLE_SECS", 7 * 24 * 3600))
        // ...and after this long in any case: then the user types the password again.
        .absolute_lifetime(examples::env_secs("SESSION_MAX_SECS", 30 * 24 * 3600))
        // Strict by default: a refresh token presented twice revokes the session.
        // Browser apps whose tabs race may allow a few seconds (at most 60), in
        // which the previous token is refused without revoking anything.
        .reuse_grace(examples::env_secs("REUSE_GRACE_SECS", 0))?;
    // ANCHOR_END: lifetimes
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

#[derive(Deserialize)]
struct RefreshRequest {
    refresh_token: String,
}

// ANCHOR: refresh
async fn refresh(
    State(state): State<Arc<AppState>>,
    Json(request): Json<RefreshRequest>,
) -> Result<Response, ApiError> {
    match state.tokens.refresh(&request.refresh_token).await {
        Ok(pair) => Ok(examples::no_store(Json(pair))),
        Err(err @ RefreshError::Reused { .. }) => {
            // A security event, not a routine failure: someone holds a copy of a
            // refresh token. The session is already revoked; alert on this log.
            if let RefreshError::Reused { session, subject } = &err {
                tracing::warn!(
                    security_event = "refresh_token_reuse",
                    %session,
                    %subject,
                    "session revoked after refresh token reuse"
                );
            }
            Err(err.into())
        }
        Err(other) => Err(other.into()),
    }
}
// ANCHOR_END: refresh

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
