//! The application of chapter 12 ("testing an authenticated API"): the server of
//! chapter 11 with the roles of chapter 7, built by a function from its
//! configuration, so that tests can build it too and drive it with
//! `tower::ServiceExt::oneshot`, without a network or a running server.
//!
//! `src/bin/12_testing.rs` serves it; `tests/12_testing.rs` tests it.
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use jwt_extractor::{Claims, RequireRole, require_role, role};
use jwt_layer::store::Store;
use jwt_layer::{
    Algorithm, ConfigError, JwtLayer, KeySet, RefreshTokens, SigningKey, TokenIssuer, Validator,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{ApiError, AppClaims, LoginRequest, Users};

role!(pub Admin = "admin");

// ANCHOR: config
/// Everything the application needs from the outside world, as plain values.
#[derive(Debug, Clone)]
pub struct AppConfig {
    pub secret: Vec<u8>,
    pub issuer: String,
    pub audience: String,
    pub access_ttl: Duration,
    pub leeway: Duration,
}

impl AppConfig {
    /// The configuration of the running server: the environment, with defaults.
    pub fn from_env() -> Self {
        Self {
            secret: crate::jwt_secret(),
            issuer: crate::issuer(),
            audience: crate::audience(),
            access_ttl: crate::env_secs("ACCESS_TTL_SECS", 5 * 60),
            leeway: crate::env_secs("LEEWAY_SECS", 30),
        }
    }
}

/// The token machinery built from an [`AppConfig`]: the validator the layer
/// uses and the refresh tokens (which hold the issuer and the store).
#[derive(Clone)]
pub struct Auth {
    pub validator: Validator,
    pub tokens: RefreshTokens,
}

impl Auth {
    pub fn new(config: &AppConfig, store: impl Store) -> Result<Self, ConfigError> {
        let signing = SigningKey::hmac(Algorithm::HS256, &config.secret)?;
        let validator = Validator::builder(KeySet::single(signing.verifying_key()))
            .issuer(config.issuer.clone())
            .audience(config.audience.clone())
            .leeway(config.leeway)
            .build()?;
        let issuer = TokenIssuer::new(signing, validator.clone())?.access_ttl(config.access_ttl);
        Ok(Self {
            validator,
            tokens: RefreshTokens::new(issuer, store),
        })
    }
}
// ANCHOR_END: config

struct AppState {
    users: Users,
    tokens: RefreshTokens,
}

// ANCHOR: app
/// The whole application as a `Router`: no socket, no environment, no globals.
pub fn app(auth: &Auth, users: Users) -> Router {
    let state = Arc::new(AppState {
        users,
        tokens: auth.tokens.clone(),
    });
    let layer = JwtLayer::<AppClaims>::new(auth.validator.clone()).revocation(auth.tokens.clone());
    let admin = Router::new()
        .route("/admin/users", get(list_users))
        .route_layer(require_role::<Admin>());
    let api = Router::new()
        .route("/me", get(me))
        .route("/auth/logout-everywhere", post(logout_everywhere))
        .merge(admin)
        .layer(layer);
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/login", post(login))
        .route("/auth/refresh", post(refresh))
        .route("/auth/logout", post(logout))
        .merge(api)
        .with_state(state)
}
// ANCHOR_END: app

#[derive(Deserialize)]
struct RefreshRequest {
    refresh_token: String,
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
    Ok(crate::no_store(Json(pair)))
}

async fn refresh(
    State(state): State<Arc<AppState>>,
    Json(request): Json<RefreshRequest>,
) -> Result<Response, ApiError> {
    let pair = state.tokens.refresh(&request.refresh_token).await?;
    Ok(crate::no_store(Json(pair)))
}

async fn logout(
    State(state): State<Arc<AppState>>,
    Json(request): Json<RefreshRequest>,
) -> Result<Response, ApiError> {
    state.tokens.logout(&request.refresh_token).await?;
    Ok(crate::no_store(StatusCode::NO_CONTENT))
}

async fn logout_everywhere(
    State(state): State<Arc<AppState>>,
    Claims(claims): Claims<AppClaims>,
) -> Result<Response, ApiError> {
    state.tokens.logout_everywhere(&claims.sub).await?;
    Ok(crate::no_store(StatusCode::NO_CONTENT))
}

async fn me(Claims(claims): Claims<AppClaims>) -> Json<Value> {
    Json(json!({ "sub": claims.sub, "roles": claims.roles }))
}

async fn list_users(admin: RequireRole<Admin>) -> Json<Value> {
    Json(json!({ "users": ["alice", "bob"], "asked_by": admin.token().subject() }))
}
