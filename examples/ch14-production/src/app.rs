//! The whole application as a `Router`, built from a [`Config`]: no socket,
//! no environment, no globals. `main` serves it; the tests call it directly.
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post};
use jwt_extractor::require_role;
use jwt_layer::cookie::AuthCookies;
use jwt_layer::store::{MemoryStore, RedisStore, RevocationCache, Store};
use jwt_layer::{JwtLayer, KeySet, RefreshTokens, TokenIssuer, TokenSource, Validator};

use crate::api::{self, Admin, AppClaims};
use crate::config::Config;
use crate::server::BoxError;
use crate::throttle::Throttle;
use crate::users::Users;
use crate::{auth, browser, well_known};
use tower_http::services::ServeDir;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

// ANCHOR: state
/// What every handler may reach, shared by all requests (hence the `Arc`).
pub struct AppState {
    pub users: Users,
    pub tokens: RefreshTokens,
    pub cookies: AuthCookies,
    pub throttle: Arc<Throttle>,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<IpAddr>,
    /// Our `iss`, for the discovery document.
    pub issuer_url: String,
}
// ANCHOR_END: state

// ANCHOR: app
/// The application, configured by `config`.
pub async fn app(config: Config) -> Result<Router, BoxError> {
    let users = Users::connect(&config.database_url).await?;
    demo_accounts(&users, config.demo_accounts).await?;
    // ANCHOR: issuer
    let signing = config.signing_key;
    // ANCHOR: keys
    // The signing key's public half verifies; during a rotation, the previous
    // key too. Each token's `kid` picks its key.
    let mut keys = vec![signing.verifying_key()];
    keys.extend(config.previous_key);
    // ANCHOR_END: keys
    // The validator is the verification policy; the issuer signs tokens that
    // this very policy accepts (it checks that at start-up).
    // ANCHOR: validator
    let validator = Validator::builder(KeySet::new(keys)?)
        // `iss`: who minted the token. Required, and must match exactly.
        .issuer(config.issuer.clone())
        // `aud`: whom it is for. A token minted for another service that happens
        // to share the key (or the identity provider) is refused here.
        .audience(config.audience)
        // Clock skew allowed on `exp`, `nbf` and `iat` (default 30 s, at most 60 s).
        .leeway(config.leeway)
        .build()?;
    // Short-lived access tokens: a stolen one is useful for minutes, not days.
    let issuer = TokenIssuer::new(signing, validator.clone())?
        .access_ttl(config.access_ttl)
        // RFC 9068: access tokens name the client they were issued to.
        .client_id(config.client_id);
    // ANCHOR_END: validator
    // ANCHOR_END: issuer
    // ANCHOR: tokens
    // Refresh sessions live in a store: Redis when configured (several
    // instances share it), else this process's memory.
    let store = store(config.redis_url.as_deref(), config.revocation_cache).await?;
    let tokens = RefreshTokens::with_shared_store(issuer, store)
        // ANCHOR: lifetimes
        // A session dies after this long without a refresh (a forgotten laptop)...
        .idle_timeout(config.refresh_idle)
        // ...and after this long in any case: then the user types the password again.
        .absolute_lifetime(config.session_max)
        // Strict by default: a refresh token presented twice revokes the session.
        // Browser apps whose tabs race may allow a few seconds (at most 60), in
        // which the previous token is refused without revoking anything.
        .reuse_grace(config.reuse_grace)?;
    // ANCHOR_END: lifetimes
    // ANCHOR_END: tokens
    let cookies = AuthCookies::new();
    let state = Arc::new(AppState {
        users,
        tokens: tokens.clone(),
        cookies: cookies.clone(),
        throttle: Throttle::start(config.throttle),
        trusted_proxies: config.trusted_proxies,
        issuer_url: config.issuer,
    });
    let loader_state = Arc::clone(&state);
    // ANCHOR: sources
    // API clients: the Bearer header. Browsers: the `__Host-access_token` cookie.
    // If both are sent they must agree, or the request is refused (400).
    let auth = JwtLayer::<AppClaims>::new(validator)
        .sources([TokenSource::Bearer, cookies.access_source()])
        // ANCHOR: revocation
        // After signature and claims pass, ask the store whether the token's
        // session (`sid`), subject or `jti` was revoked. Store down: 503, never a pass.
        .revocation(tokens)
        // ANCHOR_END: revocation
        // ANCHOR: load_user
        // After the revocation check: the account, from the database, into the
        // request for `CurrentUser<Account>`. Unknown: 401; database down: 503.
        .load_user(move |token, _request| {
            let state = Arc::clone(&loader_state);
            async move { state.users.load_account(&token).await }
        });
    // ANCHOR_END: load_user
    // ANCHOR_END: sources
    // ANCHOR: csrf
    // The layer checks cookie requests to the routes behind it. The browser
    // login and logout are outside it: the same check, as a middleware, for
    // every unsafe request to them, whatever headers come with it.
    let csrf = auth.csrf_layer();
    // ANCHOR_END: csrf

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
        .route("/api/profile", get(api::profile))
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
        .route("/.well-known/jwks.json", get(well_known::jwks))
        .route(
            "/.well-known/openid-configuration",
            get(well_known::openid_configuration),
        )
        .route("/auth/signup", post(auth::signup))
        .route("/auth/login", post(auth::login))
        .route("/auth/refresh", post(auth::refresh))
        .route("/auth/logout", post(auth::logout))
        .merge(browser)
        .merge(api)
        .merge(greet)
        // Everything else: the files of the browser demo (`static/`).
        .fallback_service(ServeDir::new(config.static_dir))
        .with_state(state)
        // Request bodies are credentials and notes: 16 KiB is plenty, and an
        // attacker cannot make a handler buffer axum's default of 2 MiB (413).
        .layer(DefaultBodyLimit::max(16 * 1024))
        // A request gets 10 s, its body included: a client that trickles a
        // body to hold a connection is cut off (408). Slow headers, before a
        // request exists, are the reverse proxy's to time out.
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(10),
        ))
        // Outermost: one log line per request (`RUST_LOG=tower_http=debug`).
        .layer(TraceLayer::new_for_http());
    // ANCHOR_END: router
    Ok(app)
}
// ANCHOR_END: app

// ANCHOR: demo_accounts
/// The logins `Users::add_demo_accounts` creates; their passwords are in the book.
const DEMO_LOGINS: [(&str, &str); 2] = [("alice", "wonderland"), ("bob", "builder")];

/// With `DEMO_ACCOUNTS=1`, the demo accounts, and a warning. Without, the
/// server refuses to start while one of them still has its public password
/// (a database from an earlier chapter, say): an administrator whose password
/// anyone can read is an open door, and a production server fails closed.
async fn demo_accounts(users: &Users, wanted: bool) -> Result<(), BoxError> {
    if wanted {
        users.add_demo_accounts().await?;
        tracing::warn!(
            "DEMO_ACCOUNTS=1: alice (admin) and bob log in with the book's public \
             passwords; never on anything reachable"
        );
        return Ok(());
    }
    for (username, password) in DEMO_LOGINS {
        // Absent, as in any real deployment: nothing to hash at start-up.
        if users.find(username).await?.is_none() {
            continue;
        }
        let open = users
            .authenticate(username, password)
            .await
            .map_err(|err| format!("checking the demo accounts: {err:?}"))?;
        if open.is_some() {
            return Err(format!(
                "the database has the demo account {username:?} with its public password \
                 (an earlier chapter created it): set DEMO_ACCOUNTS=1 for a demo, or \
                 delete the account"
            )
            .into());
        }
    }
    Ok(())
}
// ANCHOR_END: demo_accounts

// ANCHOR: store
/// Redis at `redis_url`, or memory (with a warning). Redis must answer at
/// start-up; later outages fail closed: 503, never a pass.
async fn store(
    redis_url: Option<&str>,
    revocation_cache: Duration,
) -> Result<Arc<dyn Store>, BoxError> {
    let Some(url) = redis_url else {
        tracing::warn!(
            "REDIS_URL is not set: refresh tokens and revocations are kept in memory \
             (lost on restart, not shared between instances)"
        );
        return Ok(Arc::new(MemoryStore::new()));
    };
    let mut store = RedisStore::connect(url).await?;
    // Revocation checks answered from a local cache, each answer kept at most
    // `revocation_cache` (0: off) and dropped as soon as any instance revokes
    // (Redis pub/sub).
    if !revocation_cache.is_zero() {
        store = store.cache_revocations(RevocationCache::new().max_age(revocation_cache))?;
    }
    tracing::info!("refresh tokens and revocations are kept in Redis");
    Ok(Arc::new(store))
}
// ANCHOR_END: store

/// A handler is an async function; what it returns becomes the response.
async fn health() -> &'static str {
    "ok"
}
