//! 04 — claims: a handler that only runs for a valid token, and receives its
//! claims already verified and decoded.
//!
//! ```console
//! cargo run -p examples --bin 04_claims
//! TOKEN=$(curl -s http://127.0.0.1:3000/login -H 'content-type: application/json' \
//!     -d '{"username":"alice","password":"wonderland"}' | jq -r .access_token)
//! curl -s http://127.0.0.1:3000/me -H "authorization: Bearer $TOKEN"
//! ```
use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use examples::{ApiError, AppClaims, LoginRequest, Users};
use jwt_extractor::Claims;
use jwt_layer::{Algorithm, JwtLayer, KeySet, SigningKey, TokenIssuer, Validator};
use serde_json::{Value, json};

struct AppState {
    users: Users,
    issuer: TokenIssuer,
}

// ANCHOR: main
#[tokio::main]
async fn main() -> Result<(), examples::BoxError> {
    examples::init_tracing();
    let signing = SigningKey::hmac(Algorithm::HS256, &examples::jwt_secret())?;
    let validator = Validator::builder(KeySet::single(signing.verifying_key())).build()?;
    let issuer = TokenIssuer::new(signing, validator.clone())?
        .access_ttl(examples::env_secs("ACCESS_TTL_SECS", 15 * 60));
    let state = Arc::new(AppState {
        users: Users::seed()?,
        issuer,
    });

    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/login", post(login))
        // The layer verifies the token; the extractor in `me` reads the result.
        .route("/me", get(me).layer(JwtLayer::<AppClaims>::new(validator)))
        // A mistake on purpose: `Claims<T>` without a `JwtLayer` in front.
        .route("/forgot-the-layer", get(me))
        .with_state(state);
    examples::serve(app).await
}
// ANCHOR_END: main

// ANCHOR: me
/// Runs only for a valid token: `Claims<AppClaims>` is the decoded claims.
async fn me(Claims(claims): Claims<AppClaims>) -> Json<Value> {
    let token = claims.token();
    Json(json!({
        "sub": claims.sub,
        "roles": claims.roles,
        "expires_at": token.registered().exp,
    }))
}
// ANCHOR_END: me

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
