//! 13 — production: everything together, the way it would be deployed.
//!
//! - ES256 (asymmetric) signing with a `kid`, the public key published at
//!   `/.well-known/jwks.json`, so other services verify without holding a secret;
//!   never a public key by default (a fresh key pair unless configured);
//! - refresh sessions in Redis when `REDIS_URL` is set (several instances share
//!   them), in memory otherwise (with a warning);
//! - API clients: JSON tokens and `Authorization: Bearer`;
//! - browsers: HttpOnly cookies, CSRF checks on unsafe cookie requests (the
//!   layer's, and its `csrf_layer()` on the cookie endpoints outside it);
//! - login throttling per account and per client address (429, `Retry-After`);
//! - rotation, reuse detection, logout, logout everywhere, revocation checks;
//! - `/` serves the browser demo page from `examples/static/`.
//!
//! It needs no external service by default:
//!
//! ```console
//! cargo run -p examples --bin 13_production
//! ```
//!
//! | variable                | default                                  |
//! |-------------------------|------------------------------------------|
//! | `PORT`                  | 3000 (0 picks a free port)               |
//! | `JWT_PRIVATE_KEY_FILE`  | unset: a key pair made at start-up (tokens do not survive a restart) |
//! | `DEV_KEYS`              | unset; `1` signs with the committed, PUBLIC `examples/keys/dev-es256-private.pem` |
//! | `JWT_KEY_ID`            | `es256-1` for a key file, `dev-es256-1` for the dev key, random otherwise |
//! | `JWT_PREVIOUS_PUBLIC_KEY_FILE` | unset; during a key rotation, the previous key's public PEM (still verifies, published in the JWKS) |
//! | `JWT_PREVIOUS_KEY_ID`   | the previous key's `kid` (required with the file) |
//! | `JWT_ISSUER`            | `examples-auth`                          |
//! | `JWT_AUDIENCE`          | `examples-api`                           |
//! | `JWT_CLIENT_ID`         | `examples-web`                           |
//! | `ACCESS_TTL_SECS`       | 300                                      |
//! | `LOGIN_ACCOUNT_PER_MIN` | 5 login attempts per username per minute (bursts of 5) |
//! | `LOGIN_ADDRESS_PER_MIN` | 20 login attempts per client address per minute (bursts of 20) |
//! | `REDIS_URL`             | unset: in-memory store                   |
//! | `STATIC_DIR`            | `examples/static`                        |
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use examples::throttle::LoginThrottle;
use examples::{ApiError, AppClaims, LoginRequest, Users};
use jwt_extractor::{Claims, RequireRole, require_role, role};
use jwt_layer::cookie::AuthCookies;
use jwt_layer::store::{MemoryStore, RedisStore, RevocationCache, Store};
use jwt_layer::{JwkSet, JwtLayer, RefreshTokens, TokenIssuer, TokenSource, Validator};
use serde::Deserialize;
use serde_json::{Value, json};
use tower_http::services::ServeDir;
use tower_http::trace::TraceLayer;

role!(pub Admin = "admin");

struct AppState {
    users: Users,
    tokens: RefreshTokens,
    cookies: AuthCookies,
    throttle: Arc<LoginThrottle>,
}

#[tokio::main]
async fn main() -> Result<(), examples::BoxError> {
    examples::init_tracing();

    // ANCHOR: keys
    // The private key signs; only this service holds it. Its public half goes
    // into the validator and into the JWKS document, under a key id (`kid`).
    // Without `JWT_PRIVATE_KEY_FILE`, a key pair made at start-up: never a public default.
    let signing = examples::keys::es256_signing_key()?;
    // During a rotation, the previous public key verifies too (see below).
    let validator = Validator::builder(examples::keys::verifying_keys(&signing)?)
        .issuer(examples::issuer())
        .audience(examples::audience())
        .build()?;
    let issuer = TokenIssuer::new(signing, validator.clone())?
        .access_ttl(examples::env_secs("ACCESS_TTL_SECS", 5 * 60))
        // RFC 9068: access tokens name the client they were issued to.
        .client_id(examples::env_or("JWT_CLIENT_ID", "examples-web"));
    // ANCHOR_END: keys

    // ANCHOR: store
    let store: Arc<dyn Store> = match std::env::var("REDIS_URL") {
        Ok(url) if !url.is_empty() => {
            // Fails at start-up if Redis is unreachable; later outages fail closed (503).
            let mut store = RedisStore::connect(&url).await?;
            // Revocation checks answered from a local cache, each answer kept at
            // most REVOCATION_CACHE_SECS (default 1; 0: off) and dropped as soon
            // as any instance revokes (Redis pub/sub).
            let max_age = examples::env_secs("REVOCATION_CACHE_SECS", 1);
            if !max_age.is_zero() {
                store = store.cache_revocations(RevocationCache::new().max_age(max_age))?;
            }
            tracing::info!("refresh tokens and revocations are kept in Redis");
            Arc::new(store)
        }
        _ => {
            tracing::warn!(
                "REDIS_URL is not set: refresh tokens and revocations are kept in memory \
                 (lost on restart, not shared between instances)"
            );
            Arc::new(MemoryStore::new())
        }
    };
    // Tabs of one browser may race to refresh: REUSE_GRACE_SECS (at most 60)
    // lets the loser retry instead of revoking the session. Strict by default.
    let tokens = RefreshTokens::with_shared_store(issuer, store)
        .reuse_grace(examples::env_secs("REUSE_GRACE_SECS", 0))?;
    // ANCHOR_END: store

    // ANCHOR: layer
    let cookies = AuthCookies::new();
    let auth = JwtLayer::<AppClaims>::new(validator)
        .sources([TokenSource::Bearer, cookies.access_source()])
        .revocation(tokens.clone());
    // The layer's own cross-site check (same policy, same 403), as a middleware
    // for the cookie endpoints outside the layer.
    let csrf = auth.csrf_layer();
    // ANCHOR_END: layer
    let state = Arc::new(AppState {
        users: Users::seed()?,
        tokens,
        cookies,
        throttle: LoginThrottle::from_env(),
    });

    // ANCHOR: router
    let api = Router::new()
        .route("/api/me", get(me))
        .route("/api/notes", post(add_note))
        .route(
            "/api/admin/users",
            get(list_users).route_layer(require_role::<Admin>()),
        )
        .route("/auth/logout-everywhere", post(logout_everywhere))
        .layer(auth);
    // Browsers: tokens in HttpOnly cookies (the refresh cookie only travels to
    // /auth). These routes read cookies themselves, outside the JwtLayer, so the
    // layer's cross-site check guards every unsafe request to them, whatever
    // other headers it carries.
    let browser = Router::new()
        .route("/auth/session", post(start_session).delete(end_session))
        .route("/auth/session/refresh", post(refresh_session))
        .layer(csrf);
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/.well-known/jwks.json", get(jwks))
        // OIDC discovery, for resource servers (14_resource_server).
        .route(
            "/.well-known/openid-configuration",
            get(openid_configuration),
        )
        // API clients: tokens in JSON bodies, never cookies: no CSRF to fear.
        .route("/auth/login", post(login))
        .route("/auth/refresh", post(refresh))
        .route("/auth/logout", post(logout))
        .merge(browser)
        .merge(api)
        // ===== BROWSER DEMO PAGE =====
        // `/` serves the files of `examples/static/` (or `STATIC_DIR`). The demo
        // page (index.html) is added there separately; this example only serves it.
        .fallback_service(ServeDir::new(static_dir()))
        .with_state(state)
        .layer(TraceLayer::new_for_http());
    // ANCHOR_END: router
    examples::serve(app).await
}

fn static_dir() -> PathBuf {
    match std::env::var("STATIC_DIR") {
        Ok(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/static")),
    }
}

// ANCHOR: jwks
/// The public keys, for anyone who verifies our tokens (another service, a
/// gateway). Public by design: it holds no secret.
async fn jwks(State(state): State<Arc<AppState>>) -> Json<JwkSet> {
    Json(state.tokens.issuer().jwks())
}
// ANCHOR_END: jwks

#[derive(Deserialize)]
struct RefreshRequest {
    refresh_token: String,
}

// API clients ---------------------------------------------------------------

async fn login(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Json(request): Json<LoginRequest>,
) -> Result<Response, ApiError> {
    // ANCHOR: throttled
    // Before any hashing: per client address, then per username as submitted.
    state.throttle.check(peer.ip(), &request.username)?;
    // ANCHOR_END: throttled
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

async fn refresh(
    State(state): State<Arc<AppState>>,
    Json(request): Json<RefreshRequest>,
) -> Result<Response, ApiError> {
    let pair = state.tokens.refresh(&request.refresh_token).await?;
    Ok(examples::no_store(Json(pair)))
}

async fn logout(
    State(state): State<Arc<AppState>>,
    Json(request): Json<RefreshRequest>,
) -> Result<Response, ApiError> {
    state.tokens.logout(&request.refresh_token).await?;
    Ok(examples::no_store(StatusCode::NO_CONTENT))
}

// ANCHOR: browser
// Browsers ------------------------------------------------------------------

/// Login: both tokens in HttpOnly cookies; the body only says who logged in.
async fn start_session(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Json(request): Json<LoginRequest>,
) -> Result<Response, ApiError> {
    state.throttle.check(peer.ip(), &request.username)?;
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
    let mut headers = HeaderMap::new();
    state.cookies.set_pair(&mut headers, &pair);
    let body =
        json!({ "sub": user.username, "roles": user.roles, "expires_in": pair.access.expires_in });
    Ok((headers, Json(body)).into_response())
}

/// Refresh: the refresh cookie (sent only to /auth, SameSite=Strict) for new cookies.
async fn refresh_session(
    State(state): State<Arc<AppState>>,
    request_headers: HeaderMap,
) -> Result<Response, ApiError> {
    let token = match state.cookies.refresh_token(&request_headers) {
        Ok(Some(token)) => token,
        Ok(None) | Err(_) => return Err(ApiError::InvalidGrant("no valid refresh cookie")),
    };
    let pair = state.tokens.refresh(&token).await?;
    let mut headers = HeaderMap::new();
    state.cookies.set_pair(&mut headers, &pair);
    Ok((
        headers,
        Json(json!({ "expires_in": pair.access.expires_in })),
    )
        .into_response())
}

/// Logout: revoke the session, then delete both cookies. Every refresh cookie
/// sent is revoked: if another one was planted beside ours, logging out must
/// still end the real session.
async fn end_session(
    State(state): State<Arc<AppState>>,
    request_headers: HeaderMap,
) -> Result<Response, ApiError> {
    for token in state.cookies.refresh_tokens(&request_headers) {
        state.tokens.logout(&token).await?;
    }
    let mut headers = HeaderMap::new();
    state.cookies.clear(&mut headers);
    Ok((StatusCode::NO_CONTENT, headers).into_response())
}
// ANCHOR_END: browser

// Protected API -------------------------------------------------------------

async fn me(Claims(claims): Claims<AppClaims>) -> Json<Value> {
    let token = claims.token();
    Json(json!({
        "sub": claims.sub,
        "roles": claims.roles,
        "via": token.source(),
        "kid": token.kid(),
        "expires_at": token.registered().exp,
    }))
}

#[derive(Deserialize)]
struct NewNote {
    text: String,
}

async fn add_note(
    Claims(claims): Claims<AppClaims>,
    Json(note): Json<NewNote>,
) -> (StatusCode, Json<Value>) {
    (
        StatusCode::CREATED,
        Json(json!({ "author": claims.sub, "text": note.text })),
    )
}

async fn list_users(admin: RequireRole<Admin>) -> Json<Value> {
    Json(json!({ "users": ["alice", "bob"], "asked_by": admin.token().subject() }))
}

async fn logout_everywhere(
    State(state): State<Arc<AppState>>,
    Claims(claims): Claims<AppClaims>,
) -> Result<Response, ApiError> {
    state.tokens.logout_everywhere(&claims.sub).await?;
    Ok(examples::no_store(StatusCode::NO_CONTENT))
}

// ===== OIDC DISCOVERY (issue #13, for 14_resource_server) =====
// ANCHOR: discovery
/// OpenID Connect Discovery: the issuer and where its keys are, so a resource
/// server configured with the issuer URL alone finds them. `jwks_uri` is built
/// from the issuer, so for discovery `JWT_ISSUER` must be this server's public
/// URL (`http://127.0.0.1:3000` locally).
async fn openid_configuration() -> Json<Value> {
    let issuer = examples::issuer();
    Json(json!({
        "issuer": issuer,
        "jwks_uri": format!("{}/.well-known/jwks.json", issuer.trim_end_matches('/')),
        "id_token_signing_alg_values_supported": ["ES256"],
    }))
}
// ANCHOR_END: discovery
