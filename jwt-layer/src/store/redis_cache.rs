//! The local cache of revocation state of a [`RedisStore`](super::RedisStore),
//! invalidated through Redis pub/sub.
//!
//! Every authenticated request asks the store whether its token was revoked:
//! with Redis, a network round trip per request, which costs more than the
//! rest of the request once the [verified-token cache](crate::cache) has
//! removed the signature check. With [`RedisStore::cache_revocations`](super::RedisStore::cache_revocations),
//! each instance keeps what Redis answered for a short while, and drops it as
//! soon as any instance revokes something:
//!
//! ```no_run
//! # async fn run() -> Result<(), jwt_layer::store::StoreError> {
//! use std::time::Duration;
//! use jwt_layer::store::{RedisStore, RevocationCache};
//!
//! let store = RedisStore::connect("redis://127.0.0.1:6379/")
//!     .await?
//!     // The defaults: answers kept at most 1 s, 10 000 of them, about 4 MiB.
//!     .cache_revocations(RevocationCache::new().max_age(Duration::from_secs(1)))?;
//! # let _ = store; Ok(()) }
//! ```
//!
//! # How fresh an answer is
//! - What is cached is the state of each Redis key a check reads (a session,
//!   a subject's "log out everywhere" cut-off, a denied `jti`), never a
//!   verdict; every check still combines them by the store's rules.
//! - Every revocation (logout, log out everywhere, a denied `jti`, reuse of a
//!   refresh token, a session evicted or cut off) publishes the name of the
//!   key it changed on the channel `<prefix>revoked`, in the same Lua script
//!   as the change itself. Every instance subscribed drops that key at once:
//!   a revocation reaches every instance within the pub/sub delivery time
//!   (well under a millisecond on a local network), and the instance that
//!   revoked drops it before its call returns.
//! - An answer is never served older than [`RevocationCache::max_age`]
//!   (default 1 s), whatever happens to the subscription: that is the bound
//!   on staleness if a message is lost.
//! - **Fail closed**: the cache is used only while the subscription is known
//!   to be alive. The subscriber pings Redis when the channel is quiet; when
//!   the subscription drops or a ping goes unanswered, the cache is emptied
//!   and every check asks Redis again (so a Redis that is down is a 503, as
//!   without the cache) until the instance has subscribed again. An answer
//!   read while an invalidation arrived is not cached.
//! - A change made to Redis by hand (a `DEL` in `redis-cli`) publishes
//!   nothing: it is seen within `max_age`.
//!
//! # Size
//! At most [`max_entries`](RevocationCache::max_entries) keys and about
//! [`max_bytes`](RevocationCache::max_bytes) (each entry charged its key, its
//! strings and [`ENTRY_OVERHEAD`] bytes, and at least `max_bytes /
//! max_entries`); when full, `quick_cache` evicts (S3-FIFO, as the
//! verified-token cache).
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use quick_cache::sync::Cache;

use super::StoreError;

/// Default [`RevocationCache::max_age`]: 1 second.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(1);
/// Default [`RevocationCache::max_entries`].
pub const DEFAULT_MAX_ENTRIES: usize = 10_000;
/// Default [`RevocationCache::max_bytes`]: 4 MiB.
pub const DEFAULT_MAX_BYTES: usize = 4 << 20;
/// The fixed cost charged to each entry, in bytes (map slot, allocations).
pub const ENTRY_OVERHEAD: usize = 128;
/// The longest wait between two reconnection attempts of the subscriber.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// The longest a quiet subscription goes without a ping, whatever `max_age`.
const MAX_PING_INTERVAL: Duration = Duration::from_secs(1);

/// How a [`RedisStore`](super::RedisStore) caches revocation state; see the
/// [module](self) docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct RevocationCache {
    max_age: Duration,
    max_entries: usize,
    max_bytes: usize,
}

impl Default for RevocationCache {
    /// [`DEFAULT_MAX_AGE`], [`DEFAULT_MAX_ENTRIES`], [`DEFAULT_MAX_BYTES`].
    fn default() -> Self {
        Self::new()
    }
}

impl RevocationCache {
    /// The defaults: [`DEFAULT_MAX_AGE`], [`DEFAULT_MAX_ENTRIES`], [`DEFAULT_MAX_BYTES`].
    pub const fn new() -> Self {
        Self {
            max_age: DEFAULT_MAX_AGE,
            max_entries: DEFAULT_MAX_ENTRIES,
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }

    /// The longest an answer of Redis is served (default 1 s): the bound on
    /// how stale a check can be if an invalidation message is lost. A quiet
    /// subscription is pinged this often (at least every second). At least 10 ms.
    pub const fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// At most this many keys (default [`DEFAULT_MAX_ENTRIES`], at least 1).
    pub const fn max_entries(mut self, entries: usize) -> Self {
        self.max_entries = entries;
        self
    }

    /// About this many bytes at most (default [`DEFAULT_MAX_BYTES`], at least 1).
    pub const fn max_bytes(mut self, bytes: usize) -> Self {
        self.max_bytes = bytes;
        self
    }
}

/// How a [`RedisStore`](super::RedisStore)'s revocation cache is doing, for
/// metrics and health checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RevocationCacheStats {
    /// Keys cached.
    pub entries: usize,
    /// What they are charged, in bytes.
    pub bytes: usize,
    /// Whether the subscription is alive, hence the cache in use.
    pub subscribed: bool,
    /// How many times the instance subscribed (1 after start, one more per
    /// reconnection).
    pub subscriptions: u64,
}

/// The state of one Redis key, as a revocation check reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Piece {
    /// `EXISTS` of a denied `jti`.
    Exists(bool),
    /// Two fields of a hash (`HMGET`): a session's `sub` and `epoch`, a
    /// subject's cut-off `epoch` and `at`.
    Fields(Option<String>, Option<String>),
}

impl Piece {
    fn weight(&self) -> usize {
        match self {
            Piece::Exists(_) => 0,
            Piece::Fields(a, b) => {
                a.as_ref().map_or(0, String::len) + b.as_ref().map_or(0, String::len)
            }
        }
    }
}

#[derive(Clone)]
struct Entry {
    /// Shared: a hit clones a reference count, not the strings.
    piece: Arc<Piece>,
    fetched: Instant,
    weight: u64,
}

#[derive(Clone)]
struct Weigh;

impl quick_cache::Weighter<Box<str>, Entry> for Weigh {
    fn weight(&self, _key: &Box<str>, entry: &Entry) -> u64 {
        entry.weight
    }
}

/// Shared by a store's clones and its subscriber task (which holds it weakly,
/// and ends when the last clone of the store is dropped).
pub(super) struct LocalCache {
    map: Cache<Box<str>, Entry, Weigh>,
    max_age: Duration,
    min_weight: u64,
    /// Whether the subscription is known to be alive: the cache is read and
    /// filled only then.
    live: AtomicBool,
    /// Moves on every invalidation and every change of `live`: an answer
    /// read while it moved may predate the change, and is not cached.
    version: AtomicU64,
    subscriptions: AtomicU64,
}

/// Where a check stands with the cache, taken before it asks Redis.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ticket(u64);

impl LocalCache {
    fn new(config: &RevocationCache) -> Self {
        let max_bytes = u64::try_from(config.max_bytes.max(1)).unwrap_or(u64::MAX);
        let max_entries = u64::try_from(config.max_entries.max(1)).unwrap_or(u64::MAX);
        Self {
            map: Cache::with_weighter(config.max_entries.clamp(1, 256), max_bytes, Weigh),
            max_age: config.max_age.max(Duration::from_millis(10)),
            min_weight: (max_bytes / max_entries).max(1),
            live: AtomicBool::new(false),
            version: AtomicU64::new(0),
            subscriptions: AtomicU64::new(0),
        }
    }

    /// A ticket if the cache may be used now (the subscription is alive).
    pub(super) fn ticket(&self) -> Option<Ticket> {
        // The version first: a change of `live` after it moves it again.
        let version = self.version.load(Ordering::Acquire);
        self.live.load(Ordering::Acquire).then_some(Ticket(version))
    }

    /// The cached state of `key`, if fresh at `now`.
    pub(super) fn get(&self, key: &str, now: Instant) -> Option<Arc<Piece>> {
        let entry = self.map.get(key)?;
        if now.saturating_duration_since(entry.fetched) >= self.max_age {
            self.map.remove(key);
            return None;
        }
        Some(entry.piece)
    }

    /// Keeps what Redis answered for `key`, unless anything was invalidated
    /// (or the subscription changed) since `ticket` was taken. Called after
    /// the insert too: a message that arrives between the check and the
    /// insert removes what was inserted.
    pub(super) fn put(&self, ticket: Ticket, key: &str, piece: Arc<Piece>, fetched: Instant) {
        if self.version.load(Ordering::Acquire) != ticket.0 {
            return;
        }
        let estimate = ENTRY_OVERHEAD
            .saturating_add(key.len())
            .saturating_add(piece.weight());
        let weight = u64::try_from(estimate)
            .unwrap_or(u64::MAX)
            .max(self.min_weight);
        self.map.insert(
            key.into(),
            Entry {
                piece,
                fetched,
                weight,
            },
        );
        // An invalidation that raced the insert: undo it (the invalidation
        // may have run before the insert and removed nothing).
        if self.version.load(Ordering::Acquire) != ticket.0 {
            self.map.remove(key);
        }
    }

    /// `key` changed in Redis: drop it, and refuse to cache answers in flight.
    pub(super) fn invalidate(&self, key: &str) {
        self.version.fetch_add(1, Ordering::AcqRel);
        self.map.remove(key);
    }

    /// Drops everything, and refuses to cache answers in flight.
    fn clear(&self) {
        self.version.fetch_add(1, Ordering::AcqRel);
        self.map.clear();
        self.version.fetch_add(1, Ordering::AcqRel);
    }

    fn set_live(&self, live: bool) {
        self.version.fetch_add(1, Ordering::AcqRel);
        self.live.store(live, Ordering::Release);
        self.map.clear();
        self.version.fetch_add(1, Ordering::AcqRel);
        if live {
            self.subscriptions.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(super) fn stats(&self) -> RevocationCacheStats {
        RevocationCacheStats {
            entries: self.map.len(),
            bytes: usize::try_from(self.map.weight()).unwrap_or(usize::MAX),
            subscribed: self.live.load(Ordering::Acquire),
            subscriptions: self.subscriptions.load(Ordering::Relaxed),
        }
    }
}

/// Starts the subscriber of a new cache on the current tokio runtime.
pub(super) fn start(
    client: redis::Client,
    channel: String,
    config: &RevocationCache,
    timeout: Duration,
) -> Result<Arc<LocalCache>, StoreError> {
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
        StoreError("the revocation cache needs a tokio runtime to subscribe from".to_owned())
    })?;
    let cache = Arc::new(LocalCache::new(config));
    runtime.spawn(subscribe(client, channel, Arc::downgrade(&cache), timeout));
    Ok(cache)
}

/// Keeps the subscription to `channel` alive for as long as the cache lives:
/// applies invalidations, pings a quiet connection, reconnects with backoff,
/// and switches the cache off whenever the subscription is not known to be
/// alive.
async fn subscribe(
    client: redis::Client,
    channel: String,
    cache: Weak<LocalCache>,
    timeout: Duration,
) {
    // However this task ends (the store dropped, a panic), the cache is no
    // longer trusted: nobody applies invalidations any more.
    let _down = DownOnDrop(cache.clone());
    let mut backoff = Duration::from_millis(50);
    loop {
        let Some(ping_every) = cache
            .upgrade()
            .map(|cache| cache.max_age.min(MAX_PING_INTERVAL))
        else {
            return;
        };
        match tokio::time::timeout(timeout, connect(&client, &channel)).await {
            Ok(Ok(pubsub)) => {
                let (mut sink, mut stream) = pubsub.split();
                let Some(live) = cache.upgrade() else {
                    return;
                };
                live.set_live(true);
                drop(live);
                tracing::debug!(target: "jwt_layer", %channel, "revocation cache subscribed");
                backoff = Duration::from_millis(50);
                let reason = loop {
                    match tokio::time::timeout(ping_every, stream.next()).await {
                        Ok(Some(message)) => {
                            let Some(cache) = cache.upgrade() else {
                                return;
                            };
                            match std::str::from_utf8(message.get_payload_bytes()) {
                                Ok(key) => cache.invalidate(key),
                                // Not a key of ours: drop everything rather than guess.
                                Err(_) => cache.clear(),
                            }
                        }
                        Ok(None) => break "connection closed",
                        // Quiet for a while: is anybody there?
                        Err(_) => {
                            if cache.strong_count() == 0 {
                                return;
                            }
                            match tokio::time::timeout(timeout, sink.ping::<redis::Value>()).await {
                                Ok(Ok(_)) => {}
                                Ok(Err(_)) => break "ping failed",
                                Err(_) => break "ping unanswered",
                            }
                        }
                    }
                };
                let Some(down) = cache.upgrade() else {
                    return;
                };
                down.set_live(false);
                tracing::warn!(target: "jwt_layer", %channel, reason, "revocation cache unsubscribed; every check asks Redis until subscribed again");
            }
            Ok(Err(err)) => {
                tracing::warn!(target: "jwt_layer", %channel, error = %err, "revocation cache cannot subscribe; every check asks Redis");
            }
            Err(_) => {
                tracing::warn!(target: "jwt_layer", %channel, "revocation cache subscription timed out; every check asks Redis");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Switches the cache off when the subscriber ends.
struct DownOnDrop(Weak<LocalCache>);

impl Drop for DownOnDrop {
    fn drop(&mut self) {
        if let Some(cache) = self.0.upgrade() {
            cache.set_live(false);
        }
    }
}

async fn connect(client: &redis::Client, channel: &str) -> redis::RedisResult<redis::aio::PubSub> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    Ok(pubsub)
}
