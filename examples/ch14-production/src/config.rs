//! Configuration from the environment, with defaults that work on a laptop.
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use jwt_layer::{SigningKey, VerifyingKey};

use crate::keys;
use crate::server::BoxError;
use crate::throttle::Limits;

/// A string from the environment variable `name`, or `default`.
pub fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

// ANCHOR: secret
/// Whether `DEV_KEYS=1` asks for the committed development key.
pub fn dev_keys() -> bool {
    flag("DEV_KEYS")
}

/// Whether the environment variable `name` is `1`. Anything but unset, `0` or
/// `1` stops the program: a typo must not decide which key signs, or whether
/// accounts with public passwords exist.
pub fn flag(name: &str) -> bool {
    match std::env::var(name).as_deref() {
        Err(_) | Ok("" | "0") => false,
        Ok("1") => true,
        Ok(_) => exit_with(&format!("{name} must be 1 (or unset)")),
    }
}
// ANCHOR_END: secret

// ANCHOR: secs
/// A duration in seconds from the environment variable `name`, or `default`.
/// A value that is not a number stops the program: a typo in a token lifetime
/// must not silently become the default.
pub fn env_secs(name: &str, default: u64) -> Duration {
    match std::env::var(name) {
        Err(_) => Duration::from_secs(default),
        Ok(value) => match value.trim().parse::<u64>() {
            Ok(secs) => Duration::from_secs(secs),
            Err(_) => exit_with(&format!("{name}={value:?} is not a number of seconds")),
        },
    }
}

/// Logs `why` and stops: a configuration mistake is found at start-up.
pub fn exit_with(why: &str) -> ! {
    tracing::error!("{why}");
    std::process::exit(2)
}
// ANCHOR_END: secs

// ANCHOR: names
/// Who mints our tokens (`iss`), from `JWT_ISSUER`.
pub fn issuer() -> String {
    env_or("JWT_ISSUER", "notes-auth")
}

/// Whom our tokens are for (`aud`), from `JWT_AUDIENCE`.
pub fn audience() -> String {
    env_or("JWT_AUDIENCE", "notes-api")
}
// ANCHOR_END: names

// ANCHOR: config
/// Everything the application needs from the outside world, as plain values:
/// `main` reads it from the environment, a test writes it out.
pub struct Config {
    pub database_url: String,
    /// Create the book's demo accounts (public passwords): for a demo only.
    pub demo_accounts: bool,
    pub signing_key: SigningKey,
    /// During a key rotation, the previous key: it still verifies.
    pub previous_key: Option<VerifyingKey>,
    pub issuer: String,
    pub audience: String,
    /// RFC 9068: access tokens name the client they were issued to.
    pub client_id: String,
    pub leeway: Duration,
    pub access_ttl: Duration,
    pub refresh_idle: Duration,
    pub session_max: Duration,
    pub reuse_grace: Duration,
    /// Refresh sessions and revocations in Redis; in memory when `None`.
    pub redis_url: Option<String>,
    /// How long a revocation answer may be served from the local cache (0: off).
    pub revocation_cache: Duration,
    /// How many logins and sign-ups each account and client address may try.
    pub throttle: Limits,
    /// Reverse proxies in front of the server, whose `X-Forwarded-For` is
    /// believed (none: the header is ignored).
    pub trusted_proxies: Vec<IpAddr>,
    /// Where the browser demo's files are.
    pub static_dir: PathBuf,
}

impl Config {
    /// The configuration of the running server: the environment, with defaults.
    pub fn from_env() -> Result<Self, BoxError> {
        Ok(Self {
            // By default a file in the directory the server starts from, created on the
            // first run.
            database_url: env_or("DATABASE_URL", "sqlite:notes.db"),
            demo_accounts: flag("DEMO_ACCOUNTS"),
            // ES256: the private key signs, and only this service holds it.
            signing_key: keys::es256_signing_key()?,
            previous_key: keys::previous_key()?,
            issuer: issuer(),
            audience: audience(),
            client_id: env_or("JWT_CLIENT_ID", "notes-web"),
            leeway: env_secs("LEEWAY_SECS", 30),
            access_ttl: env_secs("ACCESS_TTL_SECS", 5 * 60),
            refresh_idle: env_secs("REFRESH_IDLE_SECS", 7 * 24 * 3600),
            session_max: env_secs("SESSION_MAX_SECS", 30 * 24 * 3600),
            reuse_grace: env_secs("REUSE_GRACE_SECS", 0),
            redis_url: std::env::var("REDIS_URL")
                .ok()
                .filter(|url| !url.is_empty()),
            revocation_cache: env_secs("REVOCATION_CACHE_SECS", 1),
            throttle: Limits {
                logins_per_account: attempts("LOGIN_ACCOUNT_PER_MIN", 5),
                logins_per_address: attempts("LOGIN_ADDRESS_PER_MIN", 20),
                signups_per_address: attempts("SIGNUP_ADDRESS_PER_HOUR", 10),
            },
            trusted_proxies: addresses("TRUSTED_PROXIES"),
            static_dir: match std::env::var("STATIC_DIR") {
                Ok(dir) if !dir.is_empty() => PathBuf::from(dir),
                _ => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/static")),
            },
        })
    }
}
// ANCHOR_END: config

/// Comma-separated IP addresses from the environment (unset: none); anything
/// else stops the program (a typo must not trust the wrong machine).
pub fn addresses(name: &str) -> Vec<IpAddr> {
    let value = std::env::var(name).unwrap_or_default();
    value
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            entry
                .parse()
                .unwrap_or_else(|_| exit_with(&format!("{name}: {entry:?} is not an IP address")))
        })
        .collect()
}

/// A positive number of attempts from the environment; anything else stops
/// the program (a typo must not switch a limit off).
pub fn attempts(name: &str, default: u32) -> NonZeroU32 {
    let value = std::env::var(name).unwrap_or_else(|_| default.to_string());
    match value.trim().parse::<NonZeroU32>() {
        Ok(limit) => limit,
        Err(_) => exit_with(&format!(
            "{name}={value:?} is not a positive number of attempts"
        )),
    }
}
