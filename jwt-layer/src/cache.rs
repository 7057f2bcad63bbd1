//! The verified-token cache: a token seen again is not verified again.
//!
//! An access token lives minutes and is sent with every request of its client,
//! so an API sees the same token many times. Verifying it each time costs a
//! signature check (tens of microseconds for RSA, ECDSA and EdDSA) and two JSON
//! parses. The cache keeps the verified, decoded claims of each token until the
//! moment the validator would refuse it, and hands the same [`Verified<T>`] to
//! every request that carries that token again.
//!
//! ```
//! use jwt_layer::cache::CacheConfig;
//! use jwt_layer::{Algorithm, JwtLayer, VerifyingKey, KeySet, Validator};
//!
//! # fn main() -> Result<(), jwt_layer::ConfigError> {
//! let validator = Validator::builder(KeySet::single(VerifyingKey::hmac(Algorithm::HS256, &[7; 32])?)).build()?;
//! // The default: on, at most 8192 tokens and 4 MiB.
//! let layer = JwtLayer::<serde_json::Value>::new(validator.clone());
//! // Sized for a bigger population of clients.
//! let layer = JwtLayer::<serde_json::Value>::new(validator.clone())
//!     .cache(CacheConfig::new().max_entries(50_000).max_bytes(16 << 20));
//! // Off: every request verifies its token from scratch.
//! let layer = JwtLayer::<serde_json::Value>::new(validator).without_cache();
//! # let _ = layer; Ok(()) }
//! ```
//!
//! # What is cached, and what still runs on every request
//! - The key is the whole token, compared byte for byte on a hit (a hash picks
//!   the bucket, never decides the match), so a token that differs in any byte
//!   is verified from scratch.
//! - An entry is served only while `now < exp + leeway`, the validator's own
//!   rule, so the cache never serves a token the validator would refuse as
//!   expired. A token that is not yet valid (`nbf` in the future, accepted within
//!   the leeway) is not cached.
//! - An entry is served only under the key set it was verified with:
//!   [`Validator::replace_keys`](crate::Validator::replace_keys) (a rotation, a
//!   refreshed JWKS) makes every entry stale, and the cache is emptied when it
//!   first sees the new keys.
//! - With a [resolver](crate::resolve), the resolver is still asked on every
//!   request (with what the token says of itself, read once per entry), and
//!   the entry is served only if it chose the very validator, with the same
//!   key set, that verified the token: a token cached for one tenant is
//!   verified afresh, and refused, for a tenant whose keys or policy differ.
//! - Only the token's origin that verified it is served from the entry (a token
//!   that arrives by another [source](crate::source) is verified again), so
//!   [`VerifiedToken::source`](crate::VerifiedToken::source) is always this
//!   request's.
//! - Finding the token, the [CSRF check](crate::csrf) of cookie tokens and the
//!   [revocation hook](crate::revocation) run on every request, hit or miss: a
//!   revoked token is refused at once, cached or not.
//! - Refused tokens are never cached: a refusal costs a full verification each
//!   time, as without the cache.
//!
//! # Size
//! The cache holds at most [`max_entries`](CacheConfig::max_entries) tokens and
//! about [`max_bytes`](CacheConfig::max_bytes) of memory (defaults
//! [`DEFAULT_MAX_ENTRIES`], [`DEFAULT_MAX_BYTES`]). Each entry is charged an
//! estimate of what it holds: the token, [`PAYLOAD_FACTOR`] times its payload
//! (the payload text, the registered claims, and the application's claims
//! decoded from it, which a `serde_json::Value` map holds at about four times
//! the size of its text) and [`ENTRY_OVERHEAD`] bytes of fixed cost (with a
//! resolver, also [`PEEKED_OVERHEAD`] and the token's `kid` and `iss`); an
//! entry is charged at least `max_bytes / max_entries`, which is how the entry
//! count is bounded. With typical access tokens (a payload of about 200 bytes, a
//! token of about 370) the defaults hold about 1900 tokens; measured heap at capacity stays under the
//! bound for a claims struct and for `serde_json::Value` (see the `layer`
//! benchmark). A claims type that holds much more than its token says (large
//! defaults, derived tables) uses more than it is charged. When full, the cache
//! evicts by S3-FIFO (tokens seen once go first). Expired entries are dropped
//! when next looked up or evicted, so a full cache of dead tokens still stays
//! within its bound.
//!
//! # Why `quick_cache`
//! A cache sits on every request, so it must cost less than what it saves
//! (about a microsecond for HS256 tokens). [`quick_cache`] gives a sharded
//! map with a weigher (the byte bound), lookups by `&str` without allocating,
//! `clear` for key replacement, and no background maintenance: no thread, no
//! timer wheel, no deferred work that lands on a random request. It depends on
//! `hashbrown`, `equivalent`, `foldhash` and `parking_lot`, all already common
//! in a tokio application. `moka` offers per-entry expiry, but its bookkeeping
//! (an access log drained on later calls, `crossbeam` channels and epochs)
//! costs more per hit than an exact `exp` comparison, which the cache does
//! itself, to the second, the way the validator does.
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use quick_cache::sync::Cache;

use crate::claims::{ErasedVerified, Verified};
use crate::resolve::UnverifiedToken;
use crate::source::TokenSourceKind;

/// Default maximum number of cached tokens.
pub const DEFAULT_MAX_ENTRIES: usize = 8192;
/// Default bound on the cache's memory: 4 MiB.
pub const DEFAULT_MAX_BYTES: usize = 4 << 20;
/// The fixed cost charged to every entry, in bytes: the map slot, the key's and
/// the entry's allocations, the `Arc`s of the verified token and the registered
/// claims' strings.
pub const ENTRY_OVERHEAD: usize = 640;
/// How many times its payload's length an entry is charged; see the [module](self#size) docs.
pub const PAYLOAD_FACTOR: usize = 6;
/// What an entry of a layer with a [resolver](crate::resolve) is charged more,
/// besides the lengths of the token's `kid` and `iss`: the unverified header
/// and issuer kept for the resolver.
pub const PEEKED_OVERHEAD: usize = 96;

/// The size of a layer's verified-token cache. See the [module](self) docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct CacheConfig {
    max_entries: usize,
    max_bytes: usize,
}

impl Default for CacheConfig {
    /// [`DEFAULT_MAX_ENTRIES`] tokens, [`DEFAULT_MAX_BYTES`].
    fn default() -> Self {
        Self::new()
    }
}

impl CacheConfig {
    /// The defaults: [`DEFAULT_MAX_ENTRIES`] tokens, [`DEFAULT_MAX_BYTES`].
    pub const fn new() -> Self {
        Self {
            max_entries: DEFAULT_MAX_ENTRIES,
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }

    /// At most this many tokens (0 turns the cache off).
    pub const fn max_entries(mut self, entries: usize) -> Self {
        self.max_entries = entries;
        self
    }

    /// About this many bytes at most, as charged by the estimate of the
    /// [module](self#size) docs (0 turns the cache off).
    pub const fn max_bytes(mut self, bytes: usize) -> Self {
        self.max_bytes = bytes;
        self
    }

    /// The maximum number of tokens.
    pub const fn entries(&self) -> usize {
        self.max_entries
    }

    /// The bound on memory, in bytes.
    pub const fn bytes(&self) -> usize {
        self.max_bytes
    }
}

/// One verified token.
#[derive(Clone)]
pub(crate) struct Entry {
    /// The `Verified<T>` of the layer's `T`, type-erased because the layer's
    /// configuration is not generic.
    verified: Arc<dyn ErasedVerified>,
    source: TokenSourceKind,
    /// The generation of the validator and key set that verified it (unique
    /// in the process: it names the validator too).
    generation: u64,
    /// With a resolver: what the token says of itself unverified, read once
    /// (it depends on the token's bytes alone), for the resolver to choose
    /// again on every request.
    peeked: Option<Arc<UnverifiedToken>>,
    /// `exp + leeway`: from this second on, the validator refuses the token.
    dies_at: u64,
    /// What the entry is charged, computed once (the weigher must be cheap and
    /// constant for an entry).
    weight: u64,
}

#[derive(Clone)]
struct Weigh;

impl quick_cache::Weighter<Box<str>, Entry> for Weigh {
    fn weight(&self, _token: &Box<str>, entry: &Entry) -> u64 {
        entry.weight
    }
}

/// The cache of one layer (shared by its clones).
pub(crate) struct TokenCache {
    map: Cache<Box<str>, Entry, Weigh>,
    min_weight: u64,
    /// The key-set generation the entries were verified under; on a change the
    /// cache is emptied, so stale entries do not sit there until evicted.
    generation: AtomicU64,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("entries", &self.map.len())
            .field("weight", &self.map.weight())
            .field("capacity", &self.map.capacity())
            .finish()
    }
}

impl TokenCache {
    /// `None` when `config` turns the cache off.
    pub(crate) fn new(config: CacheConfig, generation: u64) -> Option<Self> {
        if config.max_entries == 0 || config.max_bytes == 0 {
            return None;
        }
        let max_bytes = u64::try_from(config.max_bytes).unwrap_or(u64::MAX);
        let max_entries = u64::try_from(config.max_entries).unwrap_or(u64::MAX);
        // A modest initial table: memory grows with use, not with the bound.
        let estimated = config.max_entries.min(256);
        Some(Self {
            map: Cache::with_weighter(estimated, max_bytes, Weigh),
            min_weight: (max_bytes / max_entries).max(1),
            generation: AtomicU64::new(generation),
        })
    }

    /// The verified token for `token`, if it was verified from `source` under
    /// `generation` and is still alive at `now`.
    pub(crate) fn get<T: Send + Sync + 'static>(
        &self,
        token: &str,
        source: TokenSourceKind,
        generation: u64,
        now: u64,
    ) -> Option<Verified<T>> {
        self.lookup(token, now)?.serve(generation, source)
    }

    /// The entry of `token` if it is still alive at `now`, whoever verified
    /// it: [`Entry::serve`] decides whether it may be served.
    pub(crate) fn lookup(&self, token: &str, now: u64) -> Option<Entry> {
        let entry = self.map.get(token)?;
        if now >= entry.dies_at {
            self.map.remove(token);
            return None;
        }
        Some(entry)
    }

    /// Keeps `verified` for `token` until `dies_at` (`exp + leeway`).
    pub(crate) fn insert<T: Send + Sync + 'static>(
        &self,
        token: &str,
        verified: &Verified<T>,
        generation: u64,
        dies_at: u64,
        peeked: Option<Arc<UnverifiedToken>>,
    ) {
        let peeked_len = peeked.as_deref().map_or(0, |peeked| {
            PEEKED_OVERHEAD
                .saturating_add(peeked.kid.as_ref().map_or(0, String::len))
                .saturating_add(peeked.issuer.as_ref().map_or(0, String::len))
        });
        let estimate = ENTRY_OVERHEAD
            .saturating_add(token.len())
            .saturating_add(peeked_len)
            .saturating_add(
                verified
                    .token()
                    .payload()
                    .len()
                    .saturating_mul(PAYLOAD_FACTOR),
            );
        let weight = u64::try_from(estimate)
            .unwrap_or(u64::MAX)
            .max(self.min_weight);
        let entry = Entry {
            verified: verified.clone().into_erased(),
            source: verified.token().source(),
            generation,
            peeked,
            dies_at,
            weight,
        };
        self.map.insert(token.into(), entry);
    }

    /// For a layer with one validator: notes the generation in force and
    /// empties the cache when it moved on (a rotation), so stale entries do
    /// not sit there until evicted. `false` if `generation` is older than one
    /// already seen: what it verified would never be served.
    pub(crate) fn observe(&self, generation: u64) -> bool {
        let seen = self.generation.load(Ordering::Acquire);
        if seen == generation {
            return true;
        }
        // Generations only grow (wrapping after 2^64 replacements, never in practice).
        if generation < seen {
            return false;
        }
        if self
            .generation
            .compare_exchange(seen, generation, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.map.clear();
        }
        true
    }

    /// How full the cache is.
    pub(crate) fn stats(&self) -> CacheStats {
        CacheStats {
            entries: self.map.len(),
            bytes: usize::try_from(self.map.weight()).unwrap_or(usize::MAX),
        }
    }
}

impl Entry {
    /// The verified token, if it was verified under `generation` (the
    /// validator and key set in force for this request) from `source`, for
    /// the layer's `T`.
    pub(crate) fn serve<T: Send + Sync + 'static>(
        self,
        generation: u64,
        source: TokenSourceKind,
    ) -> Option<Verified<T>> {
        if self.generation != generation || self.source != source {
            return None;
        }
        // The entry is a clone: its reference becomes the request's.
        Verified::from_erased(self.verified)
    }

    /// What the token says of itself, if it was cached with a resolver.
    pub(crate) fn peeked(&self) -> Option<&Arc<UnverifiedToken>> {
        self.peeked.as_ref()
    }
}

/// How full a layer's cache is, for metrics: see
/// [`JwtLayer::cache_stats`](crate::JwtLayer::cache_stats).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStats {
    /// Tokens cached (live or expired but not yet dropped).
    pub entries: usize,
    /// What they are charged, in bytes (the estimate of the [module](self#size) docs).
    pub bytes: usize,
}
