//! 05 — router: one `JwtLayer` protects a whole group of routes; public routes
//! stay outside it; a greeting works with or without a token.
//!
//! ```console
//! cargo run -p examples --bin 05_router
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

    let auth = JwtLayer::<AppClaims>::new(validator);
    // Everything in `api` needs a valid token: one layer, no per-handler code.
    let api = Router::new()
        .route("/me", get(me))
        .route("/notes", get(notes))
        .layer(auth.clone());
    // `/greet` is for everyone; a token, if sent, must still be valid.
    let greet = Router::new()
        .route("/greet", get(greet))
        .layer(auth.optional());
    // Public routes: no layer at all.
    let public = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/login", post(login));

    let app = public.merge(api).merge(greet).with_state(state);
    examples::serve(app).await
}
// ANCHOR_END: main

// ANCHOR: handlers
async fn me(Claims(claims): Claims<AppClaims>) -> Json<Value> {
    Json(json!({ "sub": claims.sub, "roles": claims.roles }))
}

async fn notes(Claims(claims): Claims<AppClaims>) -> Json<Value> {
    Json(json!([format!("a note for {}", claims.sub)]))
}

/// `None` only when no token was sent at all; an invalid token never gets here.
async fn greet(user: Option<Claims<AppClaims>>) -> String {
    match user {
        Some(Claims(claims)) => format!("hello, {}", claims.sub),
        None => "hello, stranger".to_owned(),
    }
}
// ANCHOR_END: handlers

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
