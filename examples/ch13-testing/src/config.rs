//! Configuration from the environment, with defaults that work on a laptop.
use std::time::Duration;

use jwt_layer::{Algorithm, ConfigError, SigningKey};

/// A string from the environment variable `name`, or `default`.
pub fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

// ANCHOR: secret
/// The development secret, used only when asked for with `DEV_KEYS=1` (the
/// book's transcripts do, to mint tokens with it). Public: anyone can sign
/// tokens with it, so never run anything reachable with it.
pub const DEV_SECRET: &str = "dev-only-secret-do-not-use-in-production!";

/// The shortest `JWT_SECRET` accepted, in bytes after base64 decoding: the
/// output size of SHA-256 (RFC 7518 §3.2), random bytes, not a passphrase.
pub const MIN_SECRET_BYTES: usize = 32;

/// The HMAC secret: `JWT_SECRET` (base64, at least [`MIN_SECRET_BYTES`] once
/// decoded), else [`DEV_SECRET`] if `DEV_KEYS=1`, else 32 random bytes made
/// now, with a warning. Never a public default. A bad value stops the program.
pub fn jwt_secret() -> Vec<u8> {
    match std::env::var("JWT_SECRET") {
        Ok(value) if !value.trim().is_empty() => match decode_secret(value.trim()) {
            Ok(secret) => secret,
            Err(why) => exit_with(&format!("JWT_SECRET: {why}")),
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

/// Decodes a base64 secret (standard or URL-safe, padded or not) of at least
/// [`MIN_SECRET_BYTES`].
fn decode_secret(value: &str) -> Result<Vec<u8>, String> {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let secret = [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(value).ok())
        .ok_or("not base64: generate one with `openssl rand -base64 32`")?;
    if secret.len() < MIN_SECRET_BYTES {
        return Err(format!(
            "{} bytes once decoded; at least {MIN_SECRET_BYTES} random bytes are needed",
            secret.len()
        ));
    }
    Ok(secret)
}

/// Whether `DEV_KEYS=1` asks for the committed development key. Anything but
/// unset, `0` or `1` stops the program: a typo must not decide which key signs.
pub fn dev_keys() -> bool {
    match std::env::var("DEV_KEYS").as_deref() {
        Err(_) | Ok("" | "0") => false,
        Ok("1") => true,
        Ok(_) => exit_with("DEV_KEYS must be 1 (or unset)"),
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
fn exit_with(why: &str) -> ! {
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
    pub signing_key: SigningKey,
    pub issuer: String,
    pub audience: String,
    pub leeway: Duration,
    pub access_ttl: Duration,
    pub refresh_idle: Duration,
    pub session_max: Duration,
    pub reuse_grace: Duration,
}

impl Config {
    /// The configuration of the running server: the environment, with defaults.
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            // By default a file in the directory the server starts from, created on the
            // first run.
            database_url: env_or("DATABASE_URL", "sqlite:notes.db"),
            // `SigningKey::hmac` refuses secrets shorter than 32 bytes for HS256.
            signing_key: SigningKey::hmac(Algorithm::HS256, &jwt_secret())?,
            issuer: issuer(),
            audience: audience(),
            leeway: env_secs("LEEWAY_SECS", 30),
            access_ttl: env_secs("ACCESS_TTL_SECS", 5 * 60),
            refresh_idle: env_secs("REFRESH_IDLE_SECS", 7 * 24 * 3600),
            session_max: env_secs("SESSION_MAX_SECS", 30 * 24 * 3600),
            reuse_grace: env_secs("REUSE_GRACE_SECS", 0),
        })
    }
}
// ANCHOR_END: config
