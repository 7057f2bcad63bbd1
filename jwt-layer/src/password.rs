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
//!
//! Passwords longer than [`MAX_PASSWORD_BYTES`] are refused with
//! [`PasswordError::TooLong`] before any hashing (answer 400): Argon2id's cost
//! grows with the input, and no real password needs more.
//!
//! The dummy hash is a constant with the same parameters as real hashes, so the
//! first login of an unknown user costs what every later one costs: nothing is
//! computed lazily on a request.
//!
//! Each hash holds 19 MiB while it runs, so at most [`max_concurrent`] run at
//! once (twice the cores); further calls wait in line, and after
//! 5 s give up with [`PasswordError::Busy`] (answer 503). A flood of
//! login attempts then costs time, never unbounded memory.
use std::sync::OnceLock;
use std::time::Duration;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// Hashing could not be done (never a wrong password: that is `Ok(false)`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordError {
    /// Too many hashes were waiting: try again later (answer 503).
    #[error("too many password checks in progress")]
    Busy,
    /// The password is longer than [`MAX_PASSWORD_BYTES`]; nothing was hashed
    /// (answer 400, the same for known and unknown users).
    #[error("the password is longer than {MAX_PASSWORD_BYTES} bytes")]
    TooLong,
    /// Hashing failed, or a stored hash is not a valid PHC string.
    #[error("password hashing failed: {0}")]
    Failed(String),
}

/// The longest password accepted, in bytes of UTF-8 (1 KiB). Longer ones are
/// refused with [`PasswordError::TooLong`] before any work, so that a megabyte
/// "password" cannot buy a megabyte of hashing per request.
pub const MAX_PASSWORD_BYTES: usize = 1024;

fn check_length(password: &str) -> Result<(), PasswordError> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordError::TooLong);
    }
    Ok(())
}

/// How long a hash waits for its turn before giving up with [`PasswordError::Busy`].
pub(crate) const QUEUE_TIMEOUT: Duration = Duration::from_secs(5);

/// How many hashes may run at once: twice the available cores.
pub fn max_concurrent() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get() * 2)
}

static RUNNING: AtomicUsize = AtomicUsize::new(0);

/// How many hashes are running right now (at most [`max_concurrent`]).
pub fn running() -> usize {
    RUNNING.load(Ordering::SeqCst)
}

/// Counts a hash as running for as long as it lives.
struct Running;

impl Running {
    fn start() -> Self {
        RUNNING.fetch_add(1, Ordering::SeqCst);
        Running
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Waits for a turn (at most [`QUEUE_TIMEOUT`]).
async fn turn() -> Result<OwnedSemaphorePermit, PasswordError> {
    static PERMITS: OnceLock<Arc<Semaphore>> = OnceLock::new();
    let permits = PERMITS.get_or_init(|| Arc::new(Semaphore::new(max_concurrent())));
    match tokio::time::timeout(QUEUE_TIMEOUT, Arc::clone(permits).acquire_owned()).await {
        Ok(Ok(permit)) => Ok(permit),
        _ => Err(PasswordError::Busy),
    }
}

/// Hashes `password` with Argon2id and a random salt, as a PHC string.
///
/// Fails with [`PasswordError::TooLong`] beyond [`MAX_PASSWORD_BYTES`].
pub async fn hash_password(password: &str) -> Result<String, PasswordError> {
    check_length(password)?;
    let password = password.to_owned();
    off_runtime(move || hash_blocking(&password)).await
}

/// Runs one Argon2id job on the blocking pool, in its turn: the permit and the
/// running count live inside the job, so a job whose caller went away still
/// counts until it really ends.
async fn off_runtime<R: Send + 'static>(
    job: impl FnOnce() -> Result<R, PasswordError> + Send + 'static,
) -> Result<R, PasswordError> {
    let turn = turn().await?;
    tokio::task::spawn_blocking(move || {
        let _turn = turn;
        let _running = Running::start();
        job()
    })
    .await
    .map_err(|e| PasswordError::Failed(e.to_string()))?
}

/// Hashes synchronously (for seeding users at start-up or in tests).
///
/// Fails with [`PasswordError::TooLong`] beyond [`MAX_PASSWORD_BYTES`].
pub fn hash_blocking(password: &str) -> Result<String, PasswordError> {
    check_length(password)?;
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| PasswordError::Failed(e.to_string()))
}

/// Checks `password` against the stored PHC string; `None` when the user does not
/// exist (compared against a dummy hash, to take the same time, and `false`).
/// A stored hash that does not parse is an error, never a match.
///
/// A password longer than [`MAX_PASSWORD_BYTES`] fails with
/// [`PasswordError::TooLong`] at once, whether the user exists or not.
pub async fn verify_password(password: &str, phc: Option<&str>) -> Result<bool, PasswordError> {
    check_length(password)?;
    let password = password.to_owned();
    let phc = phc.map(str::to_owned);
    off_runtime(move || {
        let (phc, exists) = match phc {
            Some(phc) => (phc, true),
            None => (DUMMY_HASH.to_owned(), false),
        };
        let parsed = PasswordHash::new(&phc).map_err(|e| PasswordError::Failed(e.to_string()))?;
        let matches = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok(exists && matches)
    })
    .await
}

/// What unknown users are verified against: Argon2id with the parameters of
/// [`hash_blocking`] (the `argon2` defaults, checked by a test), a fixed salt
/// and an all-zero output. Verifying costs one full hash whatever the output
/// holds; no password hashes to all zeros, and a match would still be `false`.
/// A constant, so no request ever pays for building it.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$ZHVtbXlzYWx0ZHVtbXlzYQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::Params;

    #[test]
    fn the_dummy_hash_costs_what_a_real_hash_costs() {
        let dummy = PasswordHash::new(DUMMY_HASH).unwrap();
        let real_phc = hash_blocking("a real password").unwrap();
        let real = PasswordHash::new(&real_phc).unwrap();
        assert_eq!(dummy.algorithm, real.algorithm);
        assert_eq!(dummy.version, real.version);
        assert_eq!(
            Params::try_from(&dummy).unwrap(),
            Params::try_from(&real).unwrap()
        );
        let (dummy_params, default) = (Params::try_from(&dummy).unwrap(), Params::default());
        assert_eq!(
            (
                dummy_params.m_cost(),
                dummy_params.t_cost(),
                dummy_params.p_cost()
            ),
            (default.m_cost(), default.t_cost(), default.p_cost())
        );
        assert_eq!(
            dummy.hash.map(|h| h.len()),
            Some(Params::DEFAULT_OUTPUT_LEN)
        );
        assert_eq!(dummy.salt.map(|s| s.len()), real.salt.map(|s| s.len()));
    }

    #[tokio::test]
    async fn passwords_longer_than_the_limit_are_refused_before_hashing() {
        let limit = "x".repeat(MAX_PASSWORD_BYTES);
        let long = "x".repeat(MAX_PASSWORD_BYTES + 1);
        let phc = hash_blocking(&limit).unwrap();
        assert!(verify_password(&limit, Some(&phc)).await.unwrap());
        assert_eq!(hash_blocking(&long), Err(PasswordError::TooLong));
        assert_eq!(hash_password(&long).await, Err(PasswordError::TooLong));
        // Known or unknown user: the same error, and no hash is run.
        let huge = "x".repeat(2_000_000);
        let started = std::time::Instant::now();
        assert_eq!(
            verify_password(&huge, Some(&phc)).await,
            Err(PasswordError::TooLong)
        );
        assert_eq!(
            verify_password(&huge, None).await,
            Err(PasswordError::TooLong)
        );
        assert!(started.elapsed() < Duration::from_millis(50));
    }
}
