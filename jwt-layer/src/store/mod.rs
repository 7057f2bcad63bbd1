//! The state behind refresh tokens and revocation: one async [`Store`] trait,
//! an embedded [`MemoryStore`], and a `RedisStore` (feature `redis`) for many
//! instances.
//!
//! ```
//! use std::sync::Arc;
//! use jwt_layer::store::{MemoryStore, Store};
//!
//! // One process: the embedded store, bounded (here to 10 000 logins).
//! let store: Arc<dyn Store> = Arc::new(MemoryStore::with_capacity(10_000));
//! // Several instances: `RedisStore::connect("redis://…").await?` (feature `redis`).
//! # let _ = store;
//! ```
//!
//! A store keeps:
//! - **families**: one per login. A family has a subject, the claims to put in
//!   its access tokens, the hash of its one current refresh token, an absolute
//!   expiry and an idle expiry;
//! - **token hashes**: every refresh token ever issued in a live family, current
//!   or rotated, pointing to its family, so that a rotated token presented again
//!   is recognised (reuse) and not just unknown;
//! - **revocations**: revoked families, per-subject cut-off times, and denied
//!   `jti`s, each kept until the access tokens they concern have expired.
//!
//! Rotation is one atomic step in every store: of two concurrent refreshes with
//! the same token, exactly one wins.
//!
//! Nothing is keyed on a token string: refresh tokens by their SHA-256, access
//! tokens by `jti`, family (`sid`) or subject (ECDSA signatures are malleable, so
//! the same access token has several valid spellings).
use serde::{Deserialize, Serialize};

use crate::source::BoxFuture;

mod memory;
pub use memory::{DEFAULT_MAX_FAMILIES, DEFAULT_MAX_FAMILIES_PER_SUBJECT, MemoryStore};

#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use self::redis::{DEFAULT_TIMEOUT, RedisStore};

/// A store could not be reached or answered nonsense. Callers fail closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("token store unavailable: {0}")]
pub struct StoreError(pub String);

/// A refresh family: the state of one login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Family {
    /// The family id (also the `sid` claim of its access tokens).
    pub id: String,
    /// The subject.
    pub subject: String,
    /// The application claims its access tokens carry (a JSON object).
    pub claims: serde_json::Value,
    /// Unix time after which no refresh is possible, however active the family.
    pub absolute_expiry: u64,
    /// Unix time after which an unused family dies; pushed back at each rotation.
    pub idle_expiry: u64,
}

/// What a rotation found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The token was current: it is now dead and `new_hash` is current.
    Rotated(Family),
    /// The token was already rotated: reuse. The family has been revoked.
    Reused {
        /// The family, now revoked.
        family_id: String,
        /// Its subject.
        subject: String,
    },
    /// The family was revoked (logout) before.
    Revoked,
    /// The family is past its absolute or idle expiry.
    Expired,
    /// No such token (never issued, or its family expired and was purged).
    Unknown,
}

/// What a revocation check asks, in one round trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevocationQuery<'a> {
    /// The token's `sid` (family), if any.
    pub family: Option<&'a str>,
    /// The token's `sub`, if any.
    pub subject: Option<&'a str>,
    /// The token's `jti`, if any.
    pub jti: Option<&'a str>,
    /// The token's `iat` (0 if absent, so a subject cut-off catches it).
    pub issued_at: u64,
}

/// Storage for refresh families and revocations. All methods are atomic.
///
/// `now` is passed in (Unix seconds) so that stores agree on one clock and
/// tests can move it.
pub trait Store: Send + Sync + 'static {
    /// Stores a new family whose current refresh token hashes to `token_hash`.
    fn create_family<'a>(
        &'a self,
        family: &'a Family,
        token_hash: &'a str,
        now: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Atomically: if `old_hash` is its family's current token and the family is
    /// live, make `new_hash` current and push the idle expiry to `now + idle`.
    /// If `old_hash` was already rotated, revoke the family (reuse).
    fn rotate<'a>(
        &'a self,
        old_hash: &'a str,
        new_hash: &'a str,
        now: u64,
        idle: u64,
    ) -> BoxFuture<'a, Result<Rotation, StoreError>>;

    /// Finds the family of a refresh token without changing anything.
    fn family_of<'a>(
        &'a self,
        token_hash: &'a str,
    ) -> BoxFuture<'a, Result<Option<Family>, StoreError>>;

    /// Revokes a family until `until` (refresh tokens and, through `sid`, access tokens).
    fn revoke_family<'a>(
        &'a self,
        family_id: &'a str,
        until: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Revokes every family of `subject`, and every access token of it outside
    /// any family (no `sid`) issued at or before `cutoff`; the cut-off is kept
    /// until `until`. Tokens of families created later are not affected.
    fn revoke_subject<'a>(
        &'a self,
        subject: &'a str,
        cutoff: u64,
        until: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Denies one access token by `jti` until `until` (its `exp`).
    fn deny_jti<'a>(&'a self, jti: &'a str, until: u64) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Whether an access token is revoked (family, subject cut-off, or `jti`).
    fn is_revoked<'a>(
        &'a self,
        query: RevocationQuery<'a>,
        now: u64,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;
}
