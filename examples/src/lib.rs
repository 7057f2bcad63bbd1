//! Shared boilerplate of the numbered examples: logging, configuration from the
//! environment, binding, the seed users and the JSON errors of the login endpoints.
//!
//! Each `src/bin/NN_*.rs` adds one idea to the one before; everything that is the
//! same in all of them lives here, so that the idea stays visible in its own file.
//! The book (`book/`) includes the code of these files by anchor.
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use jwt_layer::RefreshError;
use jwt_layer::password::{PasswordError, PasswordHasher};
use serde::{Deserialize, Serialize};

pub mod app;
pub mod express;
pub mod keys;
pub mod throttle;

/// The error type of the examples' `main` functions.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

// ANCHOR: tracing
/// Logs to stderr (stdout carries only the `listening on` line), `info` by default;
/// set `RUST_LOG=debug` to see why each request was refused.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}
// ANCHOR_END: tracing

// ANCHOR: env
/// The development secret, used only when asked for with `DEV_KEYS=1` (the
/// book's transcripts do, to mint tokens with it). Public: anyone can sign
/// tokens with it, so never run anything reachable with it.
pub const DEV_SECRET: &str = "dev-only-secret-do-not-use-in-production!";

/// The shortest `JWT_SECRET` accepted, in bytes after base64 decoding: the
/// output size of SHA-256 (RFC 7518 §3.2), random bytes, not a passphrase.
pub const MIN_SECRET_BYTES: usize = 32;

/// Whether `DEV_KEYS=1` asks for the committed development key or secret.
/// Anything but unset, `0` or `1` stops the program: a typo must not decide
/// which key signs.
pub fn dev_keys() -> bool {
    match std::env::var("DEV_KEYS").as_deref() {
        Err(_) | Ok("" | "0") => false,
        Ok("1") => true,
        Ok(other) => {
            tracing::error!(value = other, "DEV_KEYS must be 1 (or unset)");
            std::process::exit(2);
        }
    }
}

/// The HMAC secret: `JWT_SECRET` (base64, standard or URL-safe, at least
/// [`MIN_SECRET_BYTES`] once decoded), else [`DEV_SECRET`] if `DEV_KEYS=1`,
/// else 32 random bytes made now, with a warning. Never a public default.
pub fn jwt_secret() -> Vec<u8> {
    match std::env::var("JWT_SECRET") {
        Ok(value) if !value.trim().is_empty() => match decode_secret(value.trim()) {
            Ok(secret) => secret,
            Err(why) => {
                tracing::error!("JWT_SECRET: {why}");
                std::process::exit(2);
            }
        },
        _ if dev_keys() => {
            tracing::warn!("DEV_KEYS=1: signing with the PUBLIC development secret");
            DEV_SECRET.as_bytes().to_vec()
        }
        _ => {
            tracing::warn!(
                "JWT_SECRET is not set: signing with a random secret made at start-up; \
                 tokens will not survive a restart (set JWT_SECRET, e.g. `openssl rand -base64 32`)"
            );
            rand::random::<[u8; MIN_SECRET_BYTES]>().to_vec()
        }
    }
}

/// Decodes a base64 secret (any of the usual alphabets, padded or not) of at
/// least [`MIN_SECRET_BYTES`].
pub fn decode_secret(value: &str) -> Result<Vec<u8>, String> {
    let secret = [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(value).ok())
        .ok_or("not base64: generate one with `openssl rand -base64 32`")?;
    if secret.len() < MIN_SECRET_BYTES {
        return Err(format!(
            "{} bytes once decoded; at least {MIN_SECRET_BYTES} random bytes are needed \
             (`openssl rand -base64 32`)",
            secret.len()
        ));
    }
    Ok(secret)
}

/// A duration in seconds from the environment variable `name`, or `default`.
/// A value that is not a number stops the program: a typo in a token lifetime
/// must not silently become the default.
pub fn env_secs(name: &str, default: u64) -> Duration {
    match std::env::var(name) {
        Err(_) => Duration::from_secs(default),
        Ok(value) => match value.trim().parse::<u64>() {
            Ok(secs) => Duration::from_secs(secs),
            Err(_) => {
                tracing::error!(%name, %value, "not a number of seconds");
                std::process::exit(2);
            }
        },
    }
}

/// A string from the environment, or `default`.
pub fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}
// ANCHOR_END: env

/// Every environment variable an example reads. The tests that start the
/// examples clear them all first, so the machine's environment cannot leak into
/// a run: one list, kept next to the code that reads them.
pub const VARIABLES: &[&str] = &[
    "PORT",
    "JWT_SECRET",
    "JWT_ISSUER",
    "JWT_AUDIENCE",
    "JWT_CLIENT_ID",
    "JWT_PRIVATE_KEY_FILE",
    "JWT_KEY_ID",
    "JWT_PREVIOUS_PUBLIC_KEY_FILE",
    "JWT_PREVIOUS_KEY_ID",
    "DEV_KEYS",
    "ACCESS_TTL_SECS",
    "LEEWAY_SECS",
    "REFRESH_IDLE_SECS",
    "SESSION_MAX_SECS",
    "REUSE_GRACE_SECS",
    "LOGIN_ACCOUNT_PER_MIN",
    "LOGIN_ADDRESS_PER_MIN",
    "REDIS_URL",
    "REVOCATION_CACHE_SECS",
    "STATIC_DIR",
    "ISSUER_URL",
    "RESOURCE_URL",
    "ACCEPT_TYPES",
    "RUST_LOG",
];

/// The issuer (`iss`) of the examples' tokens, from `JWT_ISSUER`.
pub fn issuer() -> String {
    env_or("JWT_ISSUER", "examples-auth")
}

/// The audience (`aud`) of the examples' tokens, from `JWT_AUDIENCE`.
pub fn audience() -> String {
    env_or("JWT_AUDIENCE", "examples-api")
}

// ANCHOR: serve
/// Binds `127.0.0.1:$PORT` (default 3000; 0 picks a free port), prints
/// `listening on http://127.0.0.1:PORT` as the first line on stdout, and serves
/// `app` until Ctrl-C. Handlers may ask for the peer address
/// (`ConnectInfo<SocketAddr>`), as the login throttle of chapter 13 does.
pub async fn serve(app: Router) -> Result<(), BoxError> {
    let port = match std::env::var("PORT") {
        Ok(port) => port.trim().parse::<u16>()?,
        Err(_) => 3000,
    };
    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
    let address = listener.local_addr()?;
    println!("listening on http://{address}");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
// ANCHOR_END: serve

// ANCHOR: users
/// A user account as the database would hold it: never the password itself.
#[derive(Debug, Clone)]
pub struct User {
    pub username: String,
    /// Argon2id, as a PHC string: `$argon2id$v=19$m=19456,t=2,p=1$salt$hash`.
    pub password_hash: String,
    pub roles: Vec<String>,
}

/// The user "database": two fixed accounts, hashed at start-up, and the
/// password hasher every login goes through (it bounds how many Argon2id hashes
/// run at once).
#[derive(Debug, Clone)]
pub struct Users {
    by_name: HashMap<String, User>,
    passwords: PasswordHasher,
}

impl Users {
    /// `alice` / `wonderland` (admin, user) and `bob` / `builder` (user).
    pub fn seed() -> Result<Self, PasswordError> {
        let accounts = [
            ("alice", "wonderland", &["admin", "user"][..]),
            ("bob", "builder", &["user"][..]),
        ];
        let passwords = PasswordHasher::new();
        let mut by_name = HashMap::new();
        for (username, password, roles) in accounts {
            let user = User {
                username: username.to_owned(),
                password_hash: passwords.hash_blocking(password)?,
                roles: roles.iter().map(|r| r.to_string()).collect(),
            };
            by_name.insert(username.to_owned(), user);
        }
        Ok(Self { by_name, passwords })
    }

    /// The user called `username`, if any.
    pub fn get(&self, username: &str) -> Option<&User> {
        self.by_name.get(username)
    }

    /// The password hasher of the application.
    pub fn passwords(&self) -> &PasswordHasher {
        &self.passwords
    }
}
// ANCHOR_END: users

// ANCHOR: authenticate
impl Users {
    /// The user, if `username` exists and `password` is theirs. An unknown user
    /// costs the same Argon2id verification as a wrong password, and gives the
    /// same answer: the caller cannot tell which accounts exist.
    pub async fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<&User>, ApiError> {
        let user = self.get(username);
        let stored = user.map(|u| u.password_hash.as_str());
        if self.passwords.verify(password, stored).await? {
            Ok(user)
        } else {
            Ok(None)
        }
    }
}
// ANCHOR_END: authenticate

// ANCHOR: login_request
/// The body of `POST /login`.
#[derive(Deserialize)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}
// ANCHOR_END: login_request

// ANCHOR: claims
/// The application's claims: what a handler needs to know about the caller.
/// The layer decodes every verified token into this type, once.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppClaims {
    /// The username (`sub`, set by the issuer).
    pub sub: String,
    /// The roles granted at login.
    pub roles: Vec<String>,
}
// ANCHOR_END: claims

// ANCHOR: api_error
/// Errors of the login, refresh and logout endpoints, answered like RFC 6749 §5.2:
/// `{"error": "...", "error_description": "..."}`, never cached.
#[derive(Debug)]
pub enum ApiError {
    /// Wrong username or password: one answer for both.
    InvalidCredentials,
    /// A request refused before any work, e.g. a password longer than
    /// `MAX_PASSWORD_BYTES` (the same answer whether the user exists or not).
    InvalidRequest(&'static str),
    /// Too many login attempts for this account or from this address.
    TooManyRequests {
        /// When to try again (`Retry-After`, in whole seconds, rounded up).
        retry_after: Duration,
    },
    /// A refresh token that is unknown, expired, revoked or reused.
    InvalidGrant(&'static str),
    /// The token store cannot be reached: nothing was issued (fail closed).
    Unavailable,
    /// A bug or a resource problem; the details go to the log only.
    Internal,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, error, description) = match self {
            ApiError::InvalidCredentials => (
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "invalid username or password",
            ),
            ApiError::InvalidGrant(why) => (StatusCode::BAD_REQUEST, "invalid_grant", why),
            ApiError::InvalidRequest(why) => (StatusCode::BAD_REQUEST, "invalid_request", why),
            ApiError::TooManyRequests { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                "too many login attempts; try again later",
            ),
            ApiError::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "try again later",
            ),
            ApiError::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "internal error",
            ),
        };
        let body = Json(serde_json::json!({ "error": error, "error_description": description }));
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let ApiError::TooManyRequests { retry_after } = self {
            // Whole seconds, rounded up: retrying after that many always succeeds.
            let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        response
    }
}

impl From<PasswordError> for ApiError {
    fn from(err: PasswordError) -> Self {
        match err {
            // A flood of logins: refuse for now rather than queue without end.
            PasswordError::Busy => ApiError::Unavailable,
            PasswordError::TooLong => ApiError::InvalidRequest("the password is too long"),
            other => {
                tracing::error!(err = %other, "password check failed");
                ApiError::Internal
            }
        }
    }
}

impl From<jwt_layer::issue::IssueError> for ApiError {
    fn from(err: jwt_layer::issue::IssueError) -> Self {
        tracing::error!(%err, "could not sign a token");
        ApiError::Internal
    }
}

impl From<RefreshError> for ApiError {
    fn from(err: RefreshError) -> Self {
        match err {
            RefreshError::Invalid => {
                ApiError::InvalidGrant("the refresh token is invalid, expired or revoked")
            }
            RefreshError::Reused { .. } => ApiError::InvalidGrant(
                "the refresh token was already used; the session has been revoked",
            ),
            RefreshError::Store(err) => {
                tracing::error!(%err, "token store unavailable");
                ApiError::Unavailable
            }
            other => {
                tracing::error!(err = %other, "refresh failed");
                ApiError::Internal
            }
        }
    }
}
// ANCHOR_END: api_error

/// `Cache-Control: no-store` on a token response (RFC 6749 §5.1).
pub fn no_store<T: IntoResponse>(body: T) -> Response {
    let mut response = body.into_response();
    jwt_layer::cookie::no_store(response.headers_mut());
    response
}
