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
//!
//! The 19 MiB are allocated once per concurrent hash and reused, not allocated
//! per call: the blocking pool runs each hash on whichever of its (up to 512)
//! threads is free, and glibc keeps a freed buffer in that thread's arena
//! instead of returning it, so per-call buffers left 1–2 GB resident after a
//! few hundred failed logins. With reused buffers the process holds at most
//! [`PasswordHasher::limit`] × 19 MiB for hashing, whatever the allocator does.
//! A buffer is zeroed when its hash ends: Argon2's memory lets a guess be
//! checked without paying the memory-hard cost (its first blocks are a cheap
//! function of the password), so it must not outlive the hash (RFC 9106 §4).
//!
//! A stored hash names its own parameters, and a row of the database must not
//! decide what a login costs: a stored hash that asks for more than
//! [`MAX_STORED_MEMORY_KIB`] of memory or [`MAX_STORED_WORK`] (memory × passes),
//! or that does not parse, is never run. It is verified like an unknown user's
//! (the dummy hash, the same time), answers `false`, and is logged at `error`,
//! so a corrupt or hostile row neither exhausts the server nor tells an
//! attacker, by a status or a timing, that the account exists.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, ParamsString, PasswordHash, Salt, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

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
    /// Hashing failed: the blocking task ended without an answer, or Argon2
    /// refused to run. (A stored hash that is unusable is not this error:
    /// [`PasswordHasher::verify`] answers it like an unknown user.)
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

/// The most memory a stored hash may ask for, in KiB: four times the default
/// (76 MiB). Hashes made with costlier parameters are refused (see the module
/// documentation).
pub const MAX_STORED_MEMORY_KIB: u32 = 4 * Params::DEFAULT_M_COST;

/// The most work a stored hash may ask for: memory in KiB × passes, four times
/// the default's (19 MiB × 2 passes), so m = 9 MiB with t = 8 is as fine as the
/// default and m = 19 MiB with t = 10 000 is refused.
pub const MAX_STORED_WORK: u64 = 4 * Params::DEFAULT_M_COST as u64 * Params::DEFAULT_T_COST as u64;

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
    /// Argon2 working memory, at most one buffer per permit.
    memory: Arc<MemoryPool>,
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
            memory: Arc::new(MemoryPool::default()),
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

    /// How many Argon2 working buffers (19 MiB each) this hasher has allocated
    /// so far: at most [`limit`](Self::limit), however many hashes ran.
    pub fn buffers(&self) -> usize {
        self.memory.allocated.load(Ordering::SeqCst)
    }

    /// Hashes `password` with Argon2id and a random salt, as a PHC string.
    ///
    /// Fails with [`PasswordError::TooLong`] beyond [`MAX_PASSWORD_BYTES`].
    pub async fn hash(&self, password: &str) -> Result<String, PasswordError> {
        check_length(password)?;
        let password = password.to_owned();
        self.off_runtime(move |memory| hash_with(&password, memory))
            .await
    }

    /// Hashes synchronously, on the calling thread (for seeding users at
    /// start-up or in tests; never in a request handler).
    ///
    /// Fails with [`PasswordError::TooLong`] beyond [`MAX_PASSWORD_BYTES`].
    pub fn hash_blocking(&self, password: &str) -> Result<String, PasswordError> {
        // Outside the pool: start-up code, whose buffer is freed once.
        hash_with(password, &mut Vec::new())
    }

    /// Checks `password` against the stored PHC string; `None` when the user
    /// does not exist (compared against a dummy hash, to take the same time, and
    /// `false`). A stored hash that does not parse, or whose parameters exceed
    /// [`MAX_STORED_MEMORY_KIB`] or [`MAX_STORED_WORK`], is never a match: it is
    /// treated like an unknown user (same time, `false`) and logged at `error`.
    ///
    /// A password longer than [`MAX_PASSWORD_BYTES`] fails with
    /// [`PasswordError::TooLong`] at once, whether the user exists or not.
    pub async fn verify(&self, password: &str, phc: Option<&str>) -> Result<bool, PasswordError> {
        check_length(password)?;
        let password = password.to_owned();
        let phc = phc.map(str::to_owned);
        self.off_runtime(move |memory| {
            if let Some(phc) = phc {
                match verify_with(&password, &phc, memory) {
                    Ok(matches) => return Ok(matches),
                    // The same answer and time as an unknown user: a 500, or a
                    // quick answer, would tell which accounts exist.
                    Err(unusable) => tracing::error!(
                        target: "jwt_layer",
                        error = %unusable,
                        "stored password hash refused; answered as a wrong password"
                    ),
                }
            }
            verify_with(&password, DUMMY_HASH, memory)?;
            Ok(false)
        })
        .await
    }

    /// Runs one Argon2id job on the blocking pool, in its turn: the permit and
    /// the running count live inside the job, so a job whose caller went away
    /// still counts until it really ends.
    async fn off_runtime<R: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Vec<Block>) -> Result<R, PasswordError> + Send + 'static,
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
        let memory = Arc::clone(&self.memory);
        tokio::task::spawn_blocking(move || {
            let _permit: OwnedSemaphorePermit = permit;
            let _running = Running::start(running);
            // Taken under the permit, so no more buffers exist than permits.
            let mut buffer = MemoryPool::take(&memory);
            job(&mut buffer.0)
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

/// Argon2 working buffers, reused from one hash to the next.
#[derive(Default)]
struct MemoryPool {
    idle: Mutex<Vec<Vec<Block>>>,
    allocated: AtomicUsize,
}

impl std::fmt::Debug for MemoryPool {
    // Not derived: that would print 19 MiB of blocks per buffer.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryPool")
            .field("allocated", &self.allocated.load(Ordering::SeqCst))
            .finish_non_exhaustive()
    }
}

impl MemoryPool {
    /// An idle buffer, or a new (empty) one that the first hash sizes.
    fn take(pool: &Arc<Self>) -> PooledBuffer {
        // A panic while the lock was held cannot leave the list inconsistent
        // (push and pop are whole), so a poisoned lock is still usable.
        let idle = pool
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let buffer = idle.unwrap_or_else(|| {
            pool.allocated.fetch_add(1, Ordering::SeqCst);
            Vec::new()
        });
        PooledBuffer(buffer, Arc::clone(pool))
    }
}

/// A buffer out of the pool, returned to it, zeroed, when the hash ends (or
/// panics).
struct PooledBuffer(Vec<Block>, Arc<MemoryPool>);

impl Drop for PooledBuffer {
    fn drop(&mut self) {
        let mut buffer = std::mem::take(&mut self.0);
        // Kept for the next hash, so this write is not a dead store.
        buffer.fill(Block::default());
        self.1
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(buffer);
    }
}

fn failed(error: impl std::fmt::Display) -> PasswordError {
    PasswordError::Failed(error.to_string())
}

/// Argon2 of `password` and `salt` with these settings, into an output of
/// `length` bytes, in `memory`. `memory` grows to the size of `params` up to
/// the default's 19 MiB and is kept at that size; a stored hash with larger
/// parameters (at most [`MAX_STORED_MEMORY_KIB`]) gets a buffer of its own for
/// this call, zeroed before it is freed, so the pool's size is set by this
/// module, not by what a database holds.
fn compute(
    (algorithm, version, params): (Algorithm, Version, Params),
    password: &str,
    salt: Salt<'_>,
    length: usize,
    memory: &mut Vec<Block>,
) -> Result<Output, PasswordError> {
    let mut salt_bytes = [0_u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_bytes).map_err(failed)?;
    let needed = params.block_count();
    let argon2 = Argon2::new(algorithm, version, params);
    let password = password.as_bytes();
    Output::init_with(length, |out| {
        let done = if needed > Params::default().block_count() {
            let mut own = vec![Block::default(); needed];
            let done = argon2.hash_password_into_with_memory(password, salt_bytes, out, &mut own);
            own.fill(Block::default());
            // Freed right after: without this the zeroing is a dead store the
            // optimiser may remove.
            std::hint::black_box(&mut own);
            done
        } else {
            if memory.len() < needed {
                memory.resize(needed, Block::default());
            }
            argon2.hash_password_into_with_memory(password, salt_bytes, out, memory.as_mut_slice())
        };
        done.map_err(Into::into)
    })
    .map_err(failed)
}

/// Hashes `password` with Argon2id (the `argon2` crate's default parameters)
/// and a random salt into a PHC string. What `argon2`'s `PasswordHasher`
/// does, but with the caller's memory (that trait allocates per call).
fn hash_with(password: &str, memory: &mut Vec<Block>) -> Result<String, PasswordError> {
    check_length(password)?;
    let salt = SaltString::generate(&mut OsRng);
    let params = Params::default();
    let length = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    let settings = (Algorithm::Argon2id, Version::V0x13, params.clone());
    let output = compute(settings, password, salt.as_salt(), length, memory)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(failed)?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches the PHC string `phc`, with the algorithm,
/// version and parameters that `phc` names. What `argon2`'s
/// `PasswordVerifier` does, but with the caller's memory. A PHC string that
/// does not parse, names parameters Argon2 refuses, or costs more than
/// [`MAX_STORED_MEMORY_KIB`] / [`MAX_STORED_WORK`] is an error, before any work.
fn verify_with(password: &str, phc: &str, memory: &mut Vec<Block>) -> Result<bool, PasswordError> {
    let parsed = PasswordHash::new(phc).map_err(failed)?;
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Err(PasswordError::Failed(
            "the stored hash has no salt or no output".into(),
        ));
    };
    let algorithm = Algorithm::try_from(parsed.algorithm).map_err(failed)?;
    let version = match parsed.version {
        Some(version) => Version::try_from(version).map_err(failed)?,
        None => Version::default(),
    };
    // The output length is the stored hash's (`Params::try_from` reads it).
    let params = Params::try_from(&parsed).map_err(failed)?;
    let work = u64::from(params.m_cost()).saturating_mul(u64::from(params.t_cost()));
    if params.m_cost() > MAX_STORED_MEMORY_KIB || work > MAX_STORED_WORK {
        return Err(PasswordError::Failed(format!(
            "the stored hash asks for m={} KiB, t={}: more than this hasher runs \
             (m at most {MAX_STORED_MEMORY_KIB} KiB, m×t at most {MAX_STORED_WORK})",
            params.m_cost(),
            params.t_cost()
        )));
    }
    let computed = compute(
        (algorithm, version, params),
        password,
        salt,
        expected.len(),
        memory,
    )?;
    // `Output`'s equality is constant-time.
    Ok(computed == expected)
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
    use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};

    #[test]
    fn hashes_are_the_argon2_crates_own_both_ways() {
        // Ours, checked by `argon2`'s verifier.
        let ours = hash_with("correct horse", &mut Vec::new()).unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );
        assert!(
            Argon2::default()
                .verify_password(b"wrong horse", &parsed)
                .is_err()
        );
        // `argon2`'s own, with other parameters and output length, checked by ours.
        let salt = SaltString::generate(&mut OsRng);
        let params = Params::new(8 * 1024, 3, 1, Some(24)).unwrap();
        let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(b"correct horse", &salt)
            .unwrap()
            .to_string();
        let mut memory = Vec::new();
        assert!(verify_with("correct horse", &theirs, &mut memory).unwrap());
        assert!(!verify_with("wrong horse", &theirs, &mut memory).unwrap());
        // Argon2i and larger-than-default memory (a buffer of its own).
        let big = Params::new(32 * 1024, 1, 1, None).unwrap();
        let argon2i = Argon2::new(Algorithm::Argon2i, Version::V0x13, big)
            .hash_password(b"pw", &salt)
            .unwrap()
            .to_string();
        assert!(verify_with("pw", &argon2i, &mut memory).unwrap());
        assert!(memory.len() <= Params::default().block_count());
        // Not a PHC string, or without its output: an error, never a match.
        assert!(verify_with("pw", "$argon2id$v=19$m=19456,t=2,p=1", &mut memory).is_err());
        assert!(verify_with("pw", "plain text", &mut memory).is_err());
    }

    /// A PHC string for `password` with these parameters, made by `argon2` itself.
    fn stored(m_cost: u32, t_cost: u32, password: &str) -> String {
        let salt = SaltString::generate(&mut OsRng);
        let params = Params::new(m_cost, t_cost, 1, None).unwrap();
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(password.as_bytes(), &salt)
            .unwrap()
            .to_string()
    }

    #[test]
    fn stored_hashes_costlier_than_the_ceiling_are_never_run() {
        let mut memory = Vec::new();
        // Half the memory, four times the passes (twice the default's work,
        // under the ceiling): run, and correct.
        let cheap_memory_more_passes = stored(Params::DEFAULT_M_COST / 2, 8, "pw");
        assert!(verify_with("pw", &cheap_memory_more_passes, &mut memory).unwrap());
        // A hostile row: 4 TiB of memory, or years of passes. Written by hand,
        // since nobody can compute them; refused before any allocation or work.
        let salt = "c29tZXNhbHRzb21lc2FsdA";
        let output = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        for params in [
            format!("m={},t=1,p=1", u32::MAX),
            format!("m={},t=1,p=1", MAX_STORED_MEMORY_KIB + 8),
            format!("m={},t={},p=1", Params::DEFAULT_M_COST, u32::MAX),
            format!("m={},t=9,p=1", Params::DEFAULT_M_COST),
        ] {
            let phc = format!("$argon2id$v=19${params}${salt}${output}");
            // Run, the first would abort the process and the third would not
            // end: the refusal is the only way this test finishes.
            let refused = verify_with("pw", &phc, &mut memory);
            assert!(
                matches!(&refused, Err(PasswordError::Failed(why)) if why.contains("asks for")),
                "{params}: {refused:?}"
            );
        }
        assert!(memory.len() <= Params::default().block_count());
    }

    #[tokio::test]
    async fn an_unusable_stored_hash_answers_like_an_unknown_user() {
        let passwords = PasswordHasher::new().max_concurrent(1);
        let hostile = format!(
            "$argon2id$v=19$m={},t=1,p=1$c29tZXNhbHRzb21lc2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            u32::MAX
        );
        for phc in [
            hostile.as_str(),
            "plain text",
            "$argon2id$v=19$m=19456,t=2,p=1",
        ] {
            assert_eq!(passwords.verify("pw", Some(phc)).await, Ok(false), "{phc}");
        }
        assert_eq!(passwords.verify("pw", None).await, Ok(false));
        // The dummy hash ran, in the pool's one buffer (sized by the first
        // hash, so empty had nothing run), and nothing of 4 TiB was allocated.
        assert_eq!(passwords.buffers(), 1);
        let idle = passwords.memory.idle.lock().unwrap();
        assert_eq!(idle[0].len(), Params::default().block_count());
    }

    #[tokio::test]
    async fn working_memory_is_zeroed_when_a_hash_ends() {
        let passwords = PasswordHasher::new().max_concurrent(1);
        let phc = passwords.hash("a password").await.unwrap();
        assert!(passwords.verify("a password", Some(&phc)).await.unwrap());
        let idle = passwords.memory.idle.lock().unwrap();
        assert_eq!(idle.len(), 1);
        assert_eq!(idle[0].len(), Params::default().block_count());
        assert!(
            idle[0]
                .iter()
                .all(|block| block.as_ref().iter().all(|word| *word == 0))
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn working_memory_is_reused_never_more_buffers_than_permits() {
        let passwords = PasswordHasher::new().max_concurrent(2);
        let phc = passwords.hash("a password").await.unwrap();
        let checks = (0..12).map(|i| {
            let passwords = passwords.clone();
            let phc = phc.clone();
            tokio::spawn(async move {
                let known = if i % 2 == 0 { Some(phc.as_str()) } else { None };
                passwords.verify("a password", known).await
            })
        });
        for (i, check) in checks.enumerate() {
            let matched = check.await.unwrap().unwrap();
            assert_eq!(matched, i % 2 == 0, "check {i}");
        }
        assert!((1..=2).contains(&passwords.buffers()), "{passwords:?}");
    }

    #[test]
    fn the_dummy_hash_costs_what_a_real_hash_costs() {
        let dummy = PasswordHash::new(DUMMY_HASH).unwrap();
        let real_phc = hash_with("a real password", &mut Vec::new()).unwrap();
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
