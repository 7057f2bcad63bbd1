//! The Redis store: state shared by every instance of the application.
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use redis::aio::ConnectionManager;
use redis::{Client, Script, Value};

use super::redis_scripts::scripts;
use sha2::{Digest, Sha256};

use super::redis_cache::{LocalCache, Piece, RevocationCache, RevocationCacheStats};
use super::{
    DEFAULT_MAX_SESSIONS_PER_SUBJECT, NewSession, RevocationQuery, Rotation, RotationRequest,
    Session, Store, StoreError,
};
use crate::future::BoxFuture;
use crate::issue::Authentication;

/// A [`Store`] in Redis (feature `redis`), for applications running on several
/// instances.
///
/// # Keys
/// With the default prefix `jwt:` (hash tags in braces):
/// - `jwt:{s:<sid>}`: one hash per session, whatever the number of rotations.
///   Its TTL ends when its last access token has expired (idle or absolute
///   expiry, whichever is first, plus the revocation horizon); revoking the
///   session deletes it, and an access token whose session is gone is refused;
/// - `jwt:{u:<h>}:sessions`: a sorted set of the subject's session ids by
///   creation time, trimmed to [`max_sessions_per_subject`](Self::max_sessions_per_subject);
/// - `jwt:{u:<h>}:cut`: the subject's logout epoch and time ("log out everywhere");
/// - `jwt:{j:<h>}`: one denied `jti`, until its token expires.
///
/// `<h>` is the SHA-256 (base64url) of the subject or `jti`, so no input can
/// break out of its hash tag or make keys long. Every Lua script touches only
/// keys passed in `KEYS`, all in one hash tag, so the scripts are valid on
/// Redis Cluster; session and subject data live in different slots and are
/// touched by separate commands.
///
/// # Operating it
/// - Use `maxmemory-policy noeviction`: an evicted subject key would forget a
///   "log out everywhere". (An evicted session only logs that session out.)
/// - Turn on persistence (`appendonly yes`) if revocations must survive a
///   Redis restart; without it, a restart logs everyone out (fail closed).
///
/// Requests time out after one second (configurable) and fail closed: a refresh
/// or a revocation check against an unreachable Redis is refused with 503.
///
/// Every revocation publishes the key it changed on the channel
/// `<prefix>revoked`, for the instances that keep a local cache of revocation
/// state ([`cache_revocations`](Self::cache_revocations); see
/// [`RevocationCache`](super::RevocationCache) for its staleness bound).
///
/// ```no_run
/// # async fn run() -> Result<(), jwt_layer::store::StoreError> {
/// use jwt_layer::store::RedisStore;
/// let store = RedisStore::connect("redis://127.0.0.1:6379/").await?;
/// # let _ = store; Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisStore {
    client: Client,
    connection: ConnectionManager,
    prefix: String,
    max_per_subject: usize,
    timeout: Duration,
    /// The local cache of revocation state, if turned on.
    cache: Option<Arc<LocalCache>>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .field("max_sessions_per_subject", &self.max_per_subject)
            .field(
                "revocation_cache",
                &self.cache.as_ref().map(|cache| cache.stats()),
            )
            .finish_non_exhaustive()
    }
}

fn store_error(err: redis::RedisError) -> StoreError {
    tracing::warn!(target: "jwt_layer", error = %err, "redis request failed; failing closed");
    StoreError(format!("redis: {err}"))
}

fn bad_reply(what: &str, reply: impl std::fmt::Debug) -> StoreError {
    tracing::error!(target: "jwt_layer", ?reply, "unexpected redis reply to {what}; failing closed");
    StoreError(format!("redis: unexpected reply to {what}"))
}

/// Default timeout of one Redis request.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);

impl RedisStore {
    /// Connects to `url` (`redis://host:port/db`, `redis+unix:///path`), failing if
    /// Redis cannot be reached now.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let store = Self::lazy(url, DEFAULT_TIMEOUT)?;
        let mut connection = store.connection.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
            .map_err(store_error)?;
        Ok(store)
    }

    /// A store that connects on first use (and reconnects after failures), with a
    /// per-request `timeout`.
    pub fn lazy(url: &str, timeout: Duration) -> Result<Self, StoreError> {
        let client = Client::open(url).map_err(store_error)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1);
        let connection =
            ConnectionManager::new_lazy_with_config(client.clone(), config).map_err(store_error)?;
        Ok(Self {
            client,
            connection,
            prefix: "jwt:".to_owned(),
            max_per_subject: DEFAULT_MAX_SESSIONS_PER_SUBJECT,
            timeout,
            cache: None,
        })
    }

    /// Prefixes every key with `prefix` (default `jwt:`), so one Redis can serve
    /// several applications. Braces are refused: they would change the keys'
    /// hash tags, and so which keys share a Cluster slot. Set it before
    /// [`cache_revocations`](Self::cache_revocations), which subscribes to the
    /// prefix's channel.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Result<Self, StoreError> {
        let prefix = prefix.into();
        if prefix.contains(['{', '}']) {
            return Err(StoreError(format!(
                "redis key prefix {prefix:?} must not contain braces"
            )));
        }
        if self.cache.is_some() {
            return Err(StoreError(
                "set the redis key prefix before cache_revocations".to_owned(),
            ));
        }
        self.prefix = prefix;
        Ok(self)
    }

    /// Keeps Redis's answers to revocation checks in this instance for at
    /// most [`RevocationCache::max_age`](super::RevocationCache::max_age),
    /// dropped as soon as any instance revokes (Redis pub/sub); see
    /// [`RevocationCache`](super::RevocationCache) for the staleness bound
    /// and the fail-closed rules. Subscribes from a task spawned on the
    /// current tokio runtime (an error outside one). Off by default: every
    /// check is a round trip to Redis.
    pub fn cache_revocations(mut self, config: RevocationCache) -> Result<Self, StoreError> {
        self.cache = Some(super::redis_cache::start(
            self.client.clone(),
            self.channel(),
            &config,
            self.timeout,
        )?);
        Ok(self)
    }

    /// How the revocation cache is doing; `None` when it is off.
    pub fn revocation_cache_stats(&self) -> Option<RevocationCacheStats> {
        self.cache.as_ref().map(|cache| cache.stats())
    }

    /// The channel revocations are published on.
    fn channel(&self) -> String {
        format!("{}revoked", self.prefix)
    }

    /// `key` was changed by this instance: its own cache forgets it before
    /// the call returns (the others hear of it through the channel).
    fn forget(&self, key: &str) {
        if let Some(cache) = &self.cache {
            cache.invalidate(key);
        }
    }

    /// Bounds the sessions one subject may hold (default
    /// [`DEFAULT_MAX_SESSIONS_PER_SUBJECT`](super::DEFAULT_MAX_SESSIONS_PER_SUBJECT),
    /// at least 1): a new login beyond it evicts (deletes) the oldest.
    pub fn max_sessions_per_subject(mut self, max: usize) -> Self {
        self.max_per_subject = max.max(1);
        self
    }

    fn session_key(&self, id: &str) -> String {
        format!("{}{{s:{id}}}", self.prefix)
    }

    /// The subject's cut-off key; built in one allocation (it is built on
    /// every revocation check).
    fn cut_key(&self, subject: &str) -> String {
        self.digest_key("{u:", subject, "}:cut")
    }

    /// `<prefix><open><digest of text><close>`, in one allocation.
    fn digest_key(&self, open: &str, text: &str, close: &str) -> String {
        // 43: an unpadded base64url SHA-256.
        let mut key = String::with_capacity(self.prefix.len() + open.len() + 43 + close.len());
        key.push_str(&self.prefix);
        key.push_str(open);
        URL_SAFE_NO_PAD.encode_string(Sha256::digest(text.as_bytes()), &mut key);
        key.push_str(close);
        key
    }

    fn subject_keys(&self, subject: &str) -> (String, String) {
        let tag = digest(subject);
        (
            format!("{}{{u:{tag}}}:sessions", self.prefix),
            format!("{}{{u:{tag}}}:cut", self.prefix),
        )
    }

    fn jti_key(&self, jti: &str) -> String {
        self.digest_key("{j:", jti, "}")
    }

    async fn run<T: redis::FromRedisValue>(
        &self,
        script: &Script,
        keys: &[&str],
        args: &[String],
    ) -> Result<T, StoreError> {
        let mut connection = self.connection.clone();
        let mut invocation = script.prepare_invoke();
        for key in keys {
            invocation.key(*key);
        }
        for arg in args {
            invocation.arg(arg);
        }
        invocation
            .invoke_async(&mut connection)
            .await
            .map_err(store_error)
    }

    /// The subject's logout epoch (0 if it never logged out everywhere).
    async fn epoch(&self, subject: &str) -> Result<u64, StoreError> {
        let (_, cut) = self.subject_keys(subject);
        let mut connection = self.connection.clone();
        let epoch: Option<String> = redis::cmd("HGET")
            .arg(&cut)
            .arg("epoch")
            .query_async(&mut connection)
            .await
            .map_err(store_error)?;
        epoch.as_deref().map_or(Ok(0), parse_u64)
    }

    /// Deletes session keys, publishing each (one script per key: the keys
    /// are in different slots).
    async fn delete(&self, keys: &[String]) -> Result<(), StoreError> {
        let channel = self.channel();
        for key in keys {
            let deleted = self
                .run::<i64>(
                    &scripts().revoke_key,
                    &[key],
                    std::slice::from_ref(&channel),
                )
                .await;
            // Forgotten even if the answer was lost: the delete may have happened.
            self.forget(key);
            deleted?;
        }
        Ok(())
    }

    /// The state of each key a revocation check reads, from the local cache
    /// where it is fresh, the rest from Redis in one pipelined round trip.
    async fn pieces<const N: usize>(
        &self,
        keys: [Option<(&str, Read)>; N],
    ) -> Result<[Option<Arc<Piece>>; N], StoreError> {
        let ticket = self.cache.as_ref().and_then(|cache| cache.ticket());
        let now = Instant::now();
        let mut pieces: [Option<Arc<Piece>>; N] = std::array::from_fn(|_| None);
        let mut pipe = redis::pipe();
        let mut asked = 0;
        for (key, piece) in keys.iter().zip(pieces.iter_mut()) {
            let Some((key, read)) = key else { continue };
            if let (Some(cache), Some(_)) = (&self.cache, ticket) {
                *piece = cache.get(key, now);
            }
            if piece.is_none() {
                match read {
                    Read::Exists => pipe.cmd("EXISTS").arg(*key),
                    Read::Fields(a, b) => pipe.cmd("HMGET").arg(*key).arg(*a).arg(*b),
                };
                asked += 1;
            }
        }
        if asked == 0 {
            return Ok(pieces);
        }
        let fetched = now;
        let mut connection = self.connection.clone();
        let replies: Vec<Value> = pipe
            .query_async(&mut connection)
            .await
            .map_err(store_error)?;
        let mut replies = replies.into_iter();
        for (key, piece) in keys.iter().zip(pieces.iter_mut()) {
            let (Some((key, read)), None) = (key, &piece) else {
                continue;
            };
            let reply = replies
                .next()
                .ok_or_else(|| bad_reply("a revocation check", "too few replies"))?;
            let read = Arc::new(match read {
                Read::Exists => Piece::Exists(parse(reply, "EXISTS")?),
                Read::Fields(..) => {
                    let (a, b) = parse(reply, "HMGET")?;
                    Piece::Fields(a, b)
                }
            });
            if let (Some(cache), Some(ticket)) = (&self.cache, ticket) {
                cache.put(ticket, key, Arc::clone(&read), fetched);
            }
            *piece = Some(read);
        }
        Ok(pieces)
    }
}

/// A fixed-length, brace-free stand-in for untrusted text in a key name.
fn digest(text: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(text.as_bytes()))
}

/// Milliseconds from `now_ms` until `until_ms`, at least 1 (Redis refuses 0).
fn ttl_ms(until_ms: u64, now_ms: u64) -> String {
    until_ms.saturating_sub(now_ms).max(1).to_string()
}

/// What a revocation check reads of one key.
#[derive(Debug, Clone, Copy)]
enum Read {
    Exists,
    Fields(&'static str, &'static str),
}

fn parse_u64(text: &str) -> Result<u64, StoreError> {
    text.parse().map_err(|_| bad_reply("a number", text))
}

fn parse_claims(text: &str) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(text).map_err(|_| bad_reply("stored claims", "not JSON"))
}

/// The stored authentication of a session. A session written before the
/// field existed has none: its login is its creation (what `login` records).
fn parse_authentication(text: &str, created_ms: u64) -> Result<Authentication, StoreError> {
    if text.is_empty() {
        return Ok(Authentication::at(created_ms / 1000));
    }
    serde_json::from_str(text).map_err(|_| bad_reply("stored authentication", "not JSON"))
}

fn parse<T: redis::FromRedisValue>(value: Value, what: &str) -> Result<T, StoreError> {
    redis::from_redis_value(value).map_err(|e| bad_reply(what, e))
}

impl Store for RedisStore {
    fn create_session<'a>(
        &'a self,
        new: NewSession<'a>,
        now_ms: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let expiry = new.idle_expiry_ms.min(new.absolute_expiry_ms);
            let keep_until = expiry.saturating_add(new.revocation_horizon_ms);
            // Register first: it reads the epoch the session must record, and a
            // registration without a session (if the next step fails) is harmless.
            let (sessions, cut) = self.subject_keys(new.subject);
            let subject_ttl = ttl_ms(
                new.absolute_expiry_ms
                    .saturating_add(new.revocation_horizon_ms),
                now_ms,
            );
            let reply: Vec<String> = self
                .run(
                    &scripts().register,
                    &[&sessions, &cut],
                    &[
                        new.id.to_owned(),
                        now_ms.to_string(),
                        self.max_per_subject.to_string(),
                        subject_ttl,
                    ],
                )
                .await?;
            let Some((epoch, evicted)) = reply.split_first() else {
                return Err(bad_reply("register", reply));
            };
            self.run::<i64>(
                &scripts().create,
                &[&self.session_key(new.id)],
                &[
                    new.subject.to_owned(),
                    new.claims.to_string(),
                    new.secret_hash.to_owned(),
                    now_ms.to_string(),
                    new.absolute_expiry_ms.to_string(),
                    new.idle_expiry_ms.to_string(),
                    parse_u64(epoch)?.to_string(),
                    ttl_ms(keep_until, now_ms),
                    serde_json::to_string(new.authentication)
                        .map_err(|e| StoreError(format!("authentication: {e}")))?,
                ],
            )
            .await?;
            if !evicted.is_empty() {
                tracing::info!(target: "jwt_layer", subject = %new.subject, count = evicted.len(), "too many sessions; evicting the oldest");
            }
            let keys: Vec<String> = evicted.iter().map(|id| self.session_key(id)).collect();
            self.delete(&keys).await
        })
    }

    fn rotate<'a>(
        &'a self,
        request: RotationRequest<'a>,
        now_ms: u64,
    ) -> BoxFuture<'a, Result<Rotation, StoreError>> {
        Box::pin(async move {
            let key = self.session_key(request.id);
            let reply: Result<Vec<String>, _> = self
                .run(
                    &scripts().rotate,
                    &[&key],
                    &[
                        request.presented_hash.to_owned(),
                        request.next_hash.to_owned(),
                        now_ms.to_string(),
                        request.idle_timeout_ms.to_string(),
                        request.reuse_grace_ms.to_string(),
                        request.revocation_horizon_ms.to_string(),
                        self.channel(),
                    ],
                )
                .await;
            // A reuse deletes the session (the answer may be lost on the way).
            if !matches!(&reply, Ok(reply) if reply.first().is_some_and(|s| s != "reused")) {
                self.forget(&key);
            }
            let reply = reply?;
            let session = match reply.as_slice() {
                [status] if status == "unknown" => return Ok(Rotation::Unknown),
                [status] if status == "expired" => return Ok(Rotation::Expired),
                [status] if status == "superseded" => return Ok(Rotation::Superseded),
                [status, subject, epoch] if status == "reused" => {
                    // A session already cut off by "log out everywhere" is not
                    // a theft signal: report it as the memory store does.
                    if parse_u64(epoch)? < self.epoch(subject).await? {
                        return Ok(Rotation::LoggedOut);
                    }
                    return Ok(Rotation::Reused {
                        subject: subject.clone(),
                    });
                }
                [
                    status,
                    subject,
                    claims,
                    generation,
                    created,
                    used,
                    absolute,
                    idle,
                    epoch,
                    authentication,
                ] if status == "rotated" => (
                    Session {
                        id: request.id.to_owned(),
                        subject: subject.clone(),
                        claims: parse_claims(claims)?,
                        authentication: parse_authentication(authentication, parse_u64(created)?)?,
                        generation: parse_u64(generation)?,
                        created_ms: parse_u64(created)?,
                        last_used_ms: parse_u64(used)?,
                        absolute_expiry_ms: parse_u64(absolute)?,
                        idle_expiry_ms: parse_u64(idle)?,
                    },
                    parse_u64(epoch)?,
                ),
                other => return Err(bad_reply("rotate", other)),
            };
            // The cut-off lives in the subject's slot, so it is read after the
            // rotation, by a separate command. A "log out everywhere" racing
            // this refresh is still seen by the next check: the session keeps
            // its old epoch, so the pair issued now is refused at first use.
            let (session, epoch) = session;
            if epoch < self.epoch(&session.subject).await? {
                self.delete(&[self.session_key(request.id)]).await?;
                return Ok(Rotation::LoggedOut);
            }
            Ok(Rotation::Rotated(session))
        })
    }

    fn revoke_session<'a>(
        &'a self,
        session: &'a str,
        _now_ms: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move { self.delete(&[self.session_key(session)]).await })
    }

    fn revoke_subject<'a>(
        &'a self,
        subject: &'a str,
        now_ms: u64,
        until_ms: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let cut = self.cut_key(subject);
            let written = self
                .run::<i64>(
                    &scripts().logout_everywhere,
                    &[&cut],
                    &[now_ms.to_string(), ttl_ms(until_ms, now_ms), self.channel()],
                )
                .await;
            self.forget(&cut);
            written.map(drop)
        })
    }

    fn deny_jti<'a>(
        &'a self,
        jti: &'a str,
        now_ms: u64,
        until_ms: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let key = self.jti_key(jti);
            let written = self
                .run::<i64>(
                    &scripts().deny,
                    &[&key],
                    &[ttl_ms(until_ms, now_ms), self.channel()],
                )
                .await;
            self.forget(&key);
            written.map(drop)
        })
    }

    fn is_revoked<'a>(
        &'a self,
        query: RevocationQuery<'a>,
        _now_ms: u64,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        // Redis expires what no longer matters by itself: no time to compare.
        Box::pin(async move {
            // Up to three reads in three slots: from the local cache where it
            // is fresh, the rest pipelined in one round trip.
            let jti = query.jti.map(|jti| self.jti_key(jti));
            let cut = query.subject.map(|subject| self.cut_key(subject));
            let session = query.session.map(|session| self.session_key(session));
            let [jti, cut, session] = self
                .pieces([
                    jti.as_deref().map(|key| (key, Read::Exists)),
                    cut.as_deref().map(|key| (key, Read::Fields("epoch", "at"))),
                    session
                        .as_deref()
                        .map(|key| (key, Read::Fields("sub", "epoch"))),
                ])
                .await?;
            if let Some(Piece::Exists(true)) = jti.as_deref() {
                return Ok(true);
            }
            let (subject_epoch, logged_out_at) = match cut.as_deref() {
                Some(Piece::Fields(epoch, at)) => (
                    epoch.as_deref().map_or(Ok(0), parse_u64)?,
                    at.as_deref().map(parse_u64).transpose()?,
                ),
                _ => (0, None),
            };
            if query.session.is_some() {
                // A session token is good only while its session exists,
                // belongs to the token's subject and predates no logout.
                return Ok(match session.as_deref() {
                    Some(Piece::Fields(Some(subject), Some(epoch))) => {
                        Some(subject.as_str()) != query.subject || parse_u64(epoch)? < subject_epoch
                    }
                    _ => true,
                });
            }
            Ok(logged_out_at.is_some_and(|at| query.issued_at.saturating_mul(1000) <= at))
        })
    }
}
