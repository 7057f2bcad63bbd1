//! Password hashing for login handlers (feature `password`): Argon2id, PHC
//! strings, off the async runtime, and the same work for unknown users.
//!
//! ```
//! use jwt_layer::password::{hash_password, verify_password};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), jwt_layer::password::PasswordError> {
//! let phc = hash_password("correct horse battery staple").await?;
//! assert!(phc.starts_with("$argon2id$"));
//! assert!(verify_password("correct horse battery staple", Some(&phc)).await?);
//! assert!(!verify_password("wrong", Some(&phc)).await?);
//! // Unknown user: still one full Argon2id verification, still `false`.
//! assert!(!verify_password("anything", None).await?);
//! # Ok(()) }
//! ```
//!
//! Parameters are the `argon2` crate's defaults, Argon2id with m = 19 MiB,
//! t = 2, p = 1: the first of OWASP's recommended configurations. Hashing takes
//! tens of milliseconds of CPU, so it runs in `spawn_blocking` and never stalls
//! the async workers. Verifying for a user that does not exist runs against a
//! dummy hash, so "no such user" and "wrong password" take the same time and
//! give the same answer: the login handler cannot leak which accounts exist.
use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// Hashing failed (a bug or a resource problem, not a wrong password).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct PasswordError(String);

/// Hashes `password` with Argon2id and a random salt, as a PHC string.
pub async fn hash_password(password: &str) -> Result<String, PasswordError> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || hash_blocking(&password))
        .await
        .map_err(|e| PasswordError(e.to_string()))?
}

/// Hashes synchronously (for seeding users at start-up or in tests).
pub fn hash_blocking(password: &str) -> Result<String, PasswordError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| PasswordError(e.to_string()))
}

/// Checks `password` against the stored PHC string; `None` when the user does not
/// exist (compared against a dummy hash, to take the same time, and `false`).
/// A stored hash that does not parse is an error, never a match.
pub async fn verify_password(password: &str, phc: Option<&str>) -> Result<bool, PasswordError> {
    let password = password.to_owned();
    let phc = phc.map(str::to_owned);
    tokio::task::spawn_blocking(move || {
        let (phc, exists) = match phc {
            Some(phc) => (phc, true),
            None => (dummy_hash()?.to_owned(), false),
        };
        let parsed = PasswordHash::new(&phc).map_err(|e| PasswordError(e.to_string()))?;
        let matches = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok(exists && matches)
    })
    .await
    .map_err(|e| PasswordError(e.to_string()))?
}

fn dummy_hash() -> Result<&'static str, PasswordError> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(hash) = DUMMY.get() {
        return Ok(hash);
    }
    let hash = hash_blocking("dummy password for unknown users")?;
    Ok(DUMMY.get_or_init(|| hash))
}
