//! 06 — validation: bind tokens to an issuer and an audience, keep them short-lived,
//! and see every refusal answered the RFC 6750 way.
//!
//! ```console
//! ACCESS_TTL_SECS=5 LEEWAY_SECS=0 cargo run -p examples --bin 06_validation
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

#[tokio::main]
async fn main() -> Result<(), examples::BoxError> {
    examples::init_tracing();
    let signing = SigningKey::hmac(Algorithm::HS256, &examples::jwt_secret())?;
    // ANCHOR: validator
    let validator = Validator::builder(KeySet::single(signing.verifying_key()))
        // `iss`: who minted the token. Required, and must match exactly.
        .issuer(examples::issuer())
        // `aud`: whom it is for. A token minted for another service that happens
        // to share the key (or the identity provider) is refused here.
        .audience(examples::audience())
        // Clock skew allowed on `exp`, `nbf` and `iat` (default 30 s, at most 60 s).
        .leeway(examples::env_secs("LEEWAY_SECS", 30))
        .build()?;
    // Short-lived access tokens: a stolen one is useful for minutes, not days.
    let issuer = TokenIssuer::new(signing, validator.clone())?
        .access_ttl(examples::env_secs("ACCESS_TTL_SECS", 5 * 60));
    // ANCHOR_END: validator
    let state = Arc::new(AppState {
        users: Users::seed()?,
        issuer,
    });

    let api = Router::new()
        .route("/me", get(me))
        .layer(JwtLayer::<AppClaims>::new(validator));
    let public = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/login", post(login));
    examples::serve(public.merge(api).with_state(state)).await
}

async fn me(Claims(claims): Claims<AppClaims>) -> Json<Value> {
    let registered = claims.token().registered();
    Json(json!({ "sub": claims.sub, "iss": registered.iss, "aud": registered.aud }))
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
    let token = state
        .issuer
        .issue(&user.username, &json!({ "roles": user.roles }))?;
    Ok(examples::no_store(Json(token)))
}
