//! Password hashing for login handlers (feature `password`): Argon2id, PHC
//! strings, off the async runtime, and the same work for unknown users.
//!
//! ```
//! use jwt_layer::password::PasswordHasher;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), jwt_layer::password::PasswordError> {
//! let passwords = PasswordHasher::new();   // once, at start-up; cheap to clone
//! let phc = passwords.hash("correct horse battery staple").await?;
//! assert!(phc.starts_with("$argon2id$"));
//! assert!(passwords.verify("correct horse battery staple", Some(&phc)).await?);
//! assert!(!passwords.verify("wrong", Some(&phc)).await?);
//! // Unknown user: still one full Argon2id verification, still `false`.
//! assert!(!passwords.verify("anything", None).await?);
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
//! Each hash holds 19 MiB while it runs, so a [`PasswordHasher`] runs at most
//! [`PasswordHasher::max_concurrent`] at once (twice the cores by default);
//! further calls wait in line, and after [`PasswordHasher::queue_timeout`] (5 s)
//! give up with [`PasswordError::Busy`] (answer 503). A flood of login attempts
//! then costs time, never unbounded memory.
use std::time::Duration;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};

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

/// How long a hash waits for its turn by default before giving up with
/// [`PasswordError::Busy`].
const DEFAULT_QUEUE_TIMEOUT: Duration = Duration::from_secs(5);

/// Hashes and verifies passwords with Argon2id, off the async runtime, with a
/// bound on how many run at once.
///
/// A value with its own limits, not process-wide state: build one at start-up
/// (it is cheap to clone and share), and every hash of the application goes
/// through its bound. Two services in one process, or two tests, each have
/// their own.
///
/// ```
/// use std::time::Duration;
/// use jwt_layer::password::PasswordHasher;
///
/// let passwords = PasswordHasher::new()            // 2 × cores at once, 5 s in line
///     .max_concurrent(4)
///     .queue_timeout(Duration::from_secs(2));
/// assert_eq!(passwords.limit(), 4);
/// ```
#[derive(Clone, Debug)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    running: Arc<AtomicUsize>,
    limit: usize,
    queue_timeout: Duration,
}

impl Default for PasswordHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl PasswordHasher {
    /// At most twice the available cores hash at once; a hash waits at most
    /// 5 s for its turn.
    pub fn new() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::with_limit(cores.saturating_mul(2), DEFAULT_QUEUE_TIMEOUT)
    }

    fn with_limit(limit: usize, queue_timeout: Duration) -> Self {
        let limit = limit.max(1);
        Self {
            permits: Arc::new(Semaphore::new(limit)),
            running: Arc::new(AtomicUsize::new(0)),
            limit,
            queue_timeout,
        }
    }

    /// How many hashes may run at once (default: twice the cores; at least 1).
    /// Each holds 19 MiB while it runs.
    pub fn max_concurrent(self, limit: usize) -> Self {
        Self::with_limit(limit, self.queue_timeout)
    }

    /// How long a hash waits for its turn before [`PasswordError::Busy`]
    /// (default 5 s).
    pub fn queue_timeout(mut self, timeout: Duration) -> Self {
        self.queue_timeout = timeout;
        self
    }

    /// How many hashes may run at once.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// How many hashes are running right now (at most [`limit`](Self::limit)).
    pub fn running(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }

    /// Hashes `password` with Argon2id and a random salt, as a PHC string.
    ///
    /// Fails with [`PasswordError::TooLong`] beyond [`MAX_PASSWORD_BYTES`].
    pub async fn hash(&self, password: &str) -> Result<String, PasswordError> {
        check_length(password)?;
        let password = password.to_owned();
        self.off_runtime(move || hash_now(&password)).await
    }

    /// Hashes synchronously, on the calling thread (for seeding users at
    /// start-up or in tests; never in a request handler).
    ///
    /// Fails with [`PasswordError::TooLong`] beyond [`MAX_PASSWORD_BYTES`].
    pub fn hash_blocking(&self, password: &str) -> Result<String, PasswordError> {
        hash_now(password)
    }

    /// Checks `password` against the stored PHC string; `None` when the user
    /// does not exist (compared against a dummy hash, to take the same time, and
    /// `false`). A stored hash that does not parse is an error, never a match.
    ///
    /// A password longer than [`MAX_PASSWORD_BYTES`] fails with
    /// [`PasswordError::TooLong`] at once, whether the user exists or not.
    pub async fn verify(&self, password: &str, phc: Option<&str>) -> Result<bool, PasswordError> {
        check_length(password)?;
        let password = password.to_owned();
        let phc = phc.map(str::to_owned);
        self.off_runtime(move || {
            let (phc, exists) = match phc {
                Some(phc) => (phc, true),
                None => (DUMMY_HASH.to_owned(), false),
            };
            let parsed =
                PasswordHash::new(&phc).map_err(|e| PasswordError::Failed(e.to_string()))?;
            let matches = Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok();
            Ok(exists && matches)
        })
        .await
    }

    /// Runs one Argon2id job on the blocking pool, in its turn: the permit and
    /// the running count live inside the job, so a job whose caller went away
    /// still counts until it really ends.
    async fn off_runtime<R: Send + 'static>(
        &self,
        job: impl FnOnce() -> Result<R, PasswordError> + Send + 'static,
    ) -> Result<R, PasswordError> {
        let permit = match tokio::time::timeout(
            self.queue_timeout,
            Arc::clone(&self.permits).acquire_owned(),
        )
        .await
        {
            Ok(Ok(permit)) => permit,
            _ => return Err(PasswordError::Busy),
        };
        let running = Arc::clone(&self.running);
        tokio::task::spawn_blocking(move || {
            let _permit: OwnedSemaphorePermit = permit;
            let _running = Running::start(running);
            job()
        })
        .await
        .map_err(|e| PasswordError::Failed(e.to_string()))?
    }
}

/// Counts a hash as running for as long as it lives.
struct Running(Arc<AtomicUsize>);

impl Running {
    fn start(count: Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Running(count)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn hash_now(password: &str) -> Result<String, PasswordError> {
    check_length(password)?;
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| PasswordError::Failed(e.to_string()))
}

/// What unknown users are verified against: Argon2id with the parameters of
/// [`PasswordHasher::hash`] (the `argon2` defaults, checked by a test), a fixed salt
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
        let real_phc = hash_now("a real password").unwrap();
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
        let passwords = PasswordHasher::new();
        let phc = passwords.hash_blocking(&limit).unwrap();
        assert!(passwords.verify(&limit, Some(&phc)).await.unwrap());
        assert_eq!(passwords.hash_blocking(&long), Err(PasswordError::TooLong));
        assert_eq!(passwords.hash(&long).await, Err(PasswordError::TooLong));
        // Known or unknown user: the same error, and no hash is run.
        let huge = "x".repeat(2_000_000);
        let started = std::time::Instant::now();
        assert_eq!(
            passwords.verify(&huge, Some(&phc)).await,
            Err(PasswordError::TooLong)
        );
        assert_eq!(
            passwords.verify(&huge, None).await,
            Err(PasswordError::TooLong)
        );
        assert!(started.elapsed() < Duration::from_millis(50));
    }
}
