//! The application of chapter 12 ("testing an authenticated API"): the server of
//! chapter 11 with the roles of chapter 7, built by a function from its
//! configuration, so that tests can build it too and drive it with
//! `jwt_layer::test_util::send`, without a network or a running server.
//!
//! `src/bin/12_testing.rs` serves it; `tests/12_testing.rs` tests it.
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use jwt_extractor::{Claims, CurrentUser, RequireRole, require_role, role};
use jwt_layer::store::Store;
use jwt_layer::{
    Algorithm, ConfigError, JwtLayer, KeySet, RefreshTokens, SigningKey, TokenIssuer, UserError,
    Validator, VerifiedToken,
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
        Self::with_key(signing, config, store)
    }

    /// The same with the signing key given (tests give their own).
    pub fn with_key(
        signing: SigningKey,
        config: &AppConfig,
        store: impl Store,
    ) -> Result<Self, ConfigError> {
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
    users: Arc<Users>,
    tokens: RefreshTokens,
}

// ANCHOR: account
/// The user as handlers see it, loaded from the database on every request:
/// the roles are today's, not those frozen into the token at login, and the
/// password hash stays in the database layer.
#[derive(Debug, Clone)]
pub struct Account {
    pub username: String,
    pub roles: Vec<String>,
}

/// passport's `verify(payload, done)`: the token's subject, looked up.
async fn load_account(users: Arc<Users>, token: VerifiedToken) -> Result<Account, UserError> {
    match token.subject().and_then(|name| users.get(name)) {
        Some(user) => Ok(Account {
            username: user.username.clone(),
            roles: user.roles.clone(),
        }),
        // Deleted since the token was issued: `done(null, false)`, a 401.
        None => Err(UserError::Unknown),
    }
}
// ANCHOR_END: account

// ANCHOR: app
/// The whole application as a `Router`: no socket, no environment, no globals.
pub fn app(auth: &Auth, users: Users) -> Router {
    let users = Arc::new(users);
    let state = Arc::new(AppState {
        users: Arc::clone(&users),
        tokens: auth.tokens.clone(),
    });
    let layer = JwtLayer::<AppClaims>::new(auth.validator.clone())
        .revocation(auth.tokens.clone())
        .load_user(move |token, _request| load_account(Arc::clone(&users), token));
    let admin = Router::new()
        .route("/admin/users", get(list_users))
        .route_layer(require_role::<Admin>());
    let api = Router::new()
        .route("/me", get(me))
        .route("/profile", get(profile))
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

// ANCHOR: profile
async fn profile(CurrentUser(account): CurrentUser<Account>) -> Json<Value> {
    Json(json!({ "username": account.username, "roles": account.roles }))
}
// ANCHOR_END: profile

async fn list_users(admin: RequireRole<Admin>) -> Json<Value> {
    Json(json!({ "users": ["alice", "bob"], "asked_by": admin.token().subject() }))
}
