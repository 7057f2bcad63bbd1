//! 03 — login: a correct password earns a signed access token (a JWT).
//!
//! ```console
//! cargo run -p examples --bin 03_login
//! curl -s http://127.0.0.1:3000/login -H 'content-type: application/json' \
//!     -d '{"username":"alice","password":"wonderland"}'
//! ```
use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use examples::{ApiError, LoginRequest, Users};
use jwt_layer::{Algorithm, KeySet, SigningKey, TokenIssuer, Validator};
use serde_json::json;

struct AppState {
    users: Users,
    issuer: TokenIssuer,
}

// ANCHOR: main
#[tokio::main]
async fn main() -> Result<(), examples::BoxError> {
    examples::init_tracing();
    // One HMAC secret signs and verifies. `SigningKey::hmac` refuses secrets
    // shorter than 32 bytes for HS256 (RFC 7518 §3.2).
    let signing = SigningKey::hmac(Algorithm::HS256, &examples::jwt_secret())?;
    // The validator is the verification policy; the issuer signs tokens that
    // this very policy accepts (it checks that at start-up).
    let validator = Validator::builder(KeySet::single(signing.verifying_key())).build()?;
    let issuer = TokenIssuer::new(signing, validator)?
        .access_ttl(examples::env_secs("ACCESS_TTL_SECS", 15 * 60));

    let state = Arc::new(AppState {
        users: Users::seed()?,
        issuer,
    });
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/login", post(login))
        .with_state(state);
    examples::serve(app).await
}
// ANCHOR_END: main

// ANCHOR: login
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
    // `sub` is the username; `roles` is our own claim. The issuer adds `iat`,
    // `nbf`, `exp` and a random `jti`, and types the token `at+jwt`.
    let token = state
        .issuer
        .issue(&user.username, &json!({ "roles": user.roles }))?;
    // {"access_token": "...", "token_type": "Bearer", "expires_in": 900}, not cacheable.
    Ok(examples::no_store(Json(token)))
}
// ANCHOR_END: login
