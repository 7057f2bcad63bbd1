//! The notes API: the one application the book grows, chapter by chapter.
mod api;
mod auth;
mod config;
mod error;
mod server;
mod users;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use jwt_layer::{Algorithm, JwtLayer, KeySet, SigningKey, TokenIssuer, Validator};

use crate::api::AppClaims;
use crate::users::Users;

// ANCHOR: state
/// What every handler may reach, shared by all requests (hence the `Arc`).
pub struct AppState {
    pub users: Users,
    pub issuer: TokenIssuer,
}
// ANCHOR_END: state

#[tokio::main]
async fn main() -> Result<(), server::BoxError> {
    server::init_tracing();
    // ANCHOR: main
    // By default a file in the directory the server starts from, created on the
    // first run.
    let users = Users::connect(&config::env_or("DATABASE_URL", "sqlite:notes.db")).await?;
    users.add_demo_accounts().await?;
    // ANCHOR: issuer
    // One HMAC secret signs and verifies. `SigningKey::hmac` refuses secrets
    // shorter than 32 bytes for HS256 (RFC 7518 §3.2).
    let signing = SigningKey::hmac(Algorithm::HS256, &config::jwt_secret())?;
    // The validator is the verification policy; the issuer signs tokens that
    // this very policy accepts (it checks that at start-up).
    // ANCHOR: validator
    let validator = Validator::builder(KeySet::single(signing.verifying_key()))
        // `iss`: who minted the token. Required, and must match exactly.
        .issuer(config::issuer())
        // `aud`: whom it is for. A token minted for another service that happens
        // to share the key (or the identity provider) is refused here.
        .audience(config::audience())
        // Clock skew allowed on `exp`, `nbf` and `iat` (default 30 s, at most 60 s).
        .leeway(config::env_secs("LEEWAY_SECS", 30))
        .build()?;
    // Short-lived access tokens: a stolen one is useful for minutes, not days.
    let issuer = TokenIssuer::new(signing, validator.clone())?
        .access_ttl(config::env_secs("ACCESS_TTL_SECS", 5 * 60));
    // ANCHOR_END: validator
    // ANCHOR_END: issuer
    let state = Arc::new(AppState { users, issuer });

    // ANCHOR: router
    let auth = JwtLayer::<AppClaims>::new(validator);
    // Everything in `api` needs a valid token: one layer, no per-handler code.
    let api = Router::new()
        .route("/api/me", get(api::me))
        .route("/api/notes", get(api::notes))
        .layer(auth.clone());
    // `/api/greet` is for everyone; a token, if sent, must still be valid.
    let greet = Router::new()
        .route("/api/greet", get(api::greet))
        .layer(auth.optional());
    // Public routes: no layer at all.
    let app = Router::new()
        .route("/health", get(health))
        .route("/auth/signup", post(auth::signup))
        .route("/auth/login", post(auth::login))
        .merge(api)
        .merge(greet)
        .with_state(state);
    // ANCHOR_END: router
    // ANCHOR_END: main
    server::serve(app).await
}

/// A handler is an async function; what it returns becomes the response.
async fn health() -> &'static str {
    "ok"
}
