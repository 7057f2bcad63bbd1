//! The notes API: the one application the book grows, chapter by chapter.
mod api;
mod auth;
mod browser;
mod config;
mod error;
mod server;
mod users;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use jwt_extractor::require_role;
use jwt_layer::cookie::AuthCookies;
use jwt_layer::store::MemoryStore;
use jwt_layer::{
    Algorithm, JwtLayer, KeySet, RefreshTokens, SigningKey, TokenIssuer, TokenSource, Validator,
};

use crate::api::{Admin, AppClaims};
use crate::users::Users;

// ANCHOR: state
/// What every handler may reach, shared by all requests (hence the `Arc`).
pub struct AppState {
    pub users: Users,
    pub tokens: RefreshTokens,
    pub cookies: AuthCookies,
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
    // ANCHOR: tokens
    // Refresh sessions live in a store; `MemoryStore` is this process's memory
    // (a restart logs everyone out). Chapter 14 uses Redis.
    let tokens = RefreshTokens::new(issuer, MemoryStore::new())
        // ANCHOR: lifetimes
        // A session dies after this long without a refresh (a forgotten laptop)...
        .idle_timeout(config::env_secs("REFRESH_IDLE_SECS", 7 * 24 * 3600))
        // ...and after this long in any case: then the user types the password again.
        .absolute_lifetime(config::env_secs("SESSION_MAX_SECS", 30 * 24 * 3600))
        // Strict by default: a refresh token presented twice revokes the session.
        // Browser apps whose tabs race may allow a few seconds (at most 60), in
        // which the previous token is refused without revoking anything.
        .reuse_grace(config::env_secs("REUSE_GRACE_SECS", 0))?;
    // ANCHOR_END: lifetimes
    // ANCHOR_END: tokens
    let cookies = AuthCookies::new();
    // ANCHOR: sources
    // API clients: the Bearer header. Browsers: the `__Host-access_token` cookie.
    // If both are sent they must agree, or the request is refused (400).
    let auth = JwtLayer::<AppClaims>::new(validator)
        .sources([TokenSource::Bearer, cookies.access_source()])
        // ANCHOR: revocation
        // After signature and claims pass, ask the store whether the token's
        // session (`sid`), subject or `jti` was revoked. Store down: 503, never a pass.
        .revocation(tokens.clone());
    // ANCHOR_END: revocation
    // ANCHOR_END: sources
    // ANCHOR: csrf
    // The layer checks cookie requests to the routes behind it. The browser
    // login and logout are outside it: the same check, as a middleware, for
    // every unsafe request to them, whatever headers come with it.
    let csrf = auth.csrf_layer();
    // ANCHOR_END: csrf
    let state = Arc::new(AppState {
        users,
        tokens,
        cookies,
    });

    // ANCHOR: router
    // One guard for the whole group: every route under /api/admin needs `admin`.
    let admin = Router::new()
        .route("/api/admin/users", get(api::list_users))
        .route_layer(require_role::<Admin>());
    // Everything in `api` needs a valid token: one layer, no per-handler code.
    // `.layer` wraps what is above it, so the layer added last runs first:
    // authenticate (401), then the guards authorize (403).
    let api = Router::new()
        .route("/api/me", get(api::me))
        .route("/api/notes", get(api::notes).post(api::add_note))
        .route("/api/reports", get(api::reports))
        .route("/api/account/password", post(api::change_password))
        .route("/auth/logout-everywhere", post(auth::logout_everywhere))
        .merge(admin)
        .layer(auth.clone());
    // `/api/greet` is for everyone; a token, if sent, must still be valid.
    let greet = Router::new()
        .route("/api/greet", get(api::greet))
        .layer(auth.optional());
    // ANCHOR: browser
    // Browsers log in and out here (cookies); API clients use /auth/login.
    let browser = Router::new()
        .route(
            "/auth/session",
            post(browser::start_session).delete(browser::end_session),
        )
        .route("/auth/session/refresh", post(browser::refresh_session))
        .layer(csrf);
    // ANCHOR_END: browser
    // Public routes: no layer at all.
    let app = Router::new()
        .route("/health", get(health))
        .route("/auth/signup", post(auth::signup))
        .route("/auth/login", post(auth::login))
        .route("/auth/refresh", post(auth::refresh))
        .route("/auth/logout", post(auth::logout))
        .merge(browser)
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
