//! The state behind refresh tokens and revocation: one async [`Store`] trait,
//! an embedded [`MemoryStore`], and a `RedisStore` (feature `redis`) for many
//! instances.
//!
//! ```
//! use std::sync::Arc;
//! use jwt_layer::store::{MemoryStore, Store};
//!
//! // One process: the embedded store, bounded (here to 10 000 sessions).
//! let store: Arc<dyn Store> = Arc::new(MemoryStore::with_capacity(10_000));
//! // Several instances: `RedisStore::connect("redis://…").await?` (feature `redis`).
//! # let _ = store;
//! ```
//!
//! A store keeps, and nothing else:
//! - **sessions** (what RFC 9700 calls a refresh token *family*): one per login,
//!   a constant amount of state however many rotations happen: subject, claims,
//!   the login's authentication (`auth_time`, `acr`, `amr`), the SHA-256 of the current refresh secret and of the previous one, the
//!   generation (number of rotations), the subject's logout epoch at creation,
//!   and times (created, last used, last rotated, absolute and idle expiry);
//! - **per subject**: the ids of its sessions, in creation order (at most a
//!   fixed number, the oldest evicted), and the *logout epoch*: a counter that
//!   "log out everywhere" increments, which kills every session created before
//!   in one write, without walking them;
//! - **denied `jti`s**, each until its access token expires.
//!
//! A session's record is kept until its access tokens have expired (its own
//! expiry plus the revocation horizon), and revoking a session deletes it: an
//! access token whose `sid` names no session is refused. So a revocation cannot
//! be forgotten while its tokens live, and nothing is kept per rotation.
//!
//! Rotation is one atomic step in every store: of concurrent refreshes with the
//! same secret, exactly one wins.
//!
//! Times are Unix milliseconds and always supplied by the caller
//! ([`RefreshTokens`](crate::RefreshTokens)), so every store and instance agrees
//! on one clock per request, and tests can reason about it.
use serde::{Deserialize, Serialize};

use crate::future::BoxFuture;
use crate::issue::Authentication;

mod memory;
pub use memory::{DEFAULT_MAX_SESSIONS, MemoryStore};

#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use self::redis::RedisStore;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod redis_cache;
#[cfg(feature = "redis")]
mod redis_scripts;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use self::redis_cache::{RevocationCache, RevocationCacheStats};

/// Default bound on the live sessions (logins) of one subject, in every store:
/// a new login beyond it evicts the subject's oldest session.
pub const DEFAULT_MAX_SESSIONS_PER_SUBJECT: usize = 64;

/// A store could not be reached or answered nonsense. Callers fail closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("token store unavailable: {0}")]
pub struct StoreError(pub String);

/// The state of one login, as the store returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The session id: the `sid` claim of its access tokens.
    pub id: String,
    /// The subject.
    pub subject: String,
    /// The application claims its access tokens carry (a JSON object).
    pub claims: serde_json::Value,
    /// How and when the user authenticated at login: every access token of
    /// the session carries it, so a refresh never looks like a new login.
    pub authentication: Authentication,
    /// How many times it was rotated.
    pub generation: u64,
    /// Unix ms of the login.
    pub created_ms: u64,
    /// Unix ms of the last refresh (or of the login).
    pub last_used_ms: u64,
    /// Unix ms after which no refresh is possible, however active the session.
    pub absolute_expiry_ms: u64,
    /// Unix ms after which an unused session dies; pushed back at each rotation.
    pub idle_expiry_ms: u64,
}

/// A session to create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewSession<'a> {
    /// The session id (`sid`).
    pub id: &'a str,
    /// The subject.
    pub subject: &'a str,
    /// The application claims (a JSON object).
    pub claims: &'a serde_json::Value,
    /// How and when the user authenticated (kept for the session's life).
    pub authentication: &'a Authentication,
    /// SHA-256 of the first refresh secret, base64url.
    pub secret_hash: &'a str,
    /// Unix ms after which no refresh is possible.
    pub absolute_expiry_ms: u64,
    /// Unix ms after which the unused session dies.
    pub idle_expiry_ms: u64,
    /// How long the record must outlive the session's expiry or revocation: the
    /// longest an access token issued in it can still be accepted.
    pub revocation_horizon_ms: u64,
}

/// A rotation to attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationRequest<'a> {
    /// The session named by the refresh token.
    pub id: &'a str,
    /// SHA-256 of the presented secret.
    pub presented_hash: &'a str,
    /// SHA-256 of the secret to make current.
    pub next_hash: &'a str,
    /// How long the session may now stay unused (ms): the new idle expiry is
    /// `now + idle`, capped by the absolute expiry.
    pub idle_timeout_ms: u64,
    /// Within this long after a rotation (ms), the immediately previous secret
    /// is [`Rotation::Superseded`] rather than reuse. 0 disables it.
    pub reuse_grace_ms: u64,
    /// As [`NewSession::revocation_horizon_ms`].
    pub revocation_horizon_ms: u64,
}

/// What a rotation found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The secret was current: it is now the previous one, and `next_hash` is current.
    Rotated(Session),
    /// The secret is the one replaced less than the reuse grace ago: refused,
    /// nothing changed (a concurrent refresh won the race).
    Superseded,
    /// Any other secret of a known session: reuse. The session has been deleted
    /// (revoked, with its access tokens).
    Reused {
        /// Its subject.
        subject: String,
    },
    /// The session is past its absolute or idle expiry.
    Expired,
    /// The session was cut off by "log out everywhere"; it has been deleted.
    LoggedOut,
    /// No such session (never created, revoked, evicted or purged).
    Unknown,
}

/// What a revocation check asks about one verified access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevocationQuery<'a> {
    /// The token's `sid`, if any: then the session must exist, belong to
    /// `subject` and not be cut off by "log out everywhere".
    pub session: Option<&'a str>,
    /// The token's `sub`, if any.
    pub subject: Option<&'a str>,
    /// The token's `jti`, if any.
    pub jti: Option<&'a str>,
    /// The token's `iat` in Unix **seconds** (0 if absent), compared with the
    /// subject's last "log out everywhere" for tokens without a session.
    pub issued_at: u64,
}

/// Storage for sessions and revocations. Each method is atomic where it matters
/// (rotation), and every method takes the current time (`now_ms`, Unix ms) from
/// the caller.
pub trait Store: Send + Sync + 'static {
    /// Creates a session, records the subject's current logout epoch in it, and
    /// evicts (deletes) the subject's oldest sessions beyond the store's
    /// per-subject bound.
    fn create_session<'a>(
        &'a self,
        session: NewSession<'a>,
        now_ms: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Atomically checks the presented secret against the session and rotates it
    /// (see [`Rotation`] for the outcomes).
    fn rotate<'a>(
        &'a self,
        request: RotationRequest<'a>,
        now_ms: u64,
    ) -> BoxFuture<'a, Result<Rotation, StoreError>>;

    /// Revokes (deletes) one session; its access tokens are refused from now on.
    /// Revoking an unknown session is not an error.
    fn revoke_session<'a>(
        &'a self,
        session: &'a str,
        now_ms: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Log out everywhere, in O(1): every session of `subject` created before
    /// now, and every access token of it without a session issued up to now,
    /// is revoked. Kept until `until_ms` (the longest any of them could live).
    fn revoke_subject<'a>(
        &'a self,
        subject: &'a str,
        now_ms: u64,
        until_ms: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Denies one access token by `jti` until `until_ms` (its `exp`).
    fn deny_jti<'a>(
        &'a self,
        jti: &'a str,
        now_ms: u64,
        until_ms: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Whether an access token is revoked (session gone or cut off, subject
    /// cut-off, or `jti` denied).
    fn is_revoked<'a>(
        &'a self,
        query: RevocationQuery<'a>,
        now_ms: u64,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;
}
