//! The Redis store: state shared by every instance of the application.
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::{Client, Script};

use super::{Family, RevocationQuery, Rotation, Store, StoreError};
use crate::source::BoxFuture;

/// A [`Store`] in Redis (feature `redis`), for applications running on several
/// instances.
///
/// Rotation is one Lua script, so it is atomic across instances. Every key gets a
/// TTL, so Redis cleans up expired families and revocations by itself. Keys are
/// prefixed (default `jwt:`) so one Redis can serve several applications.
///
/// Requests time out after one second (configurable) and fail closed: a refresh
/// or a revocation check against an unreachable Redis is refused with 503.
///
/// ```no_run
/// # async fn run() -> Result<(), jwt_layer::store::StoreError> {
/// use jwt_layer::store::RedisStore;
/// let store = RedisStore::connect("redis://127.0.0.1:6379/").await?;
/// # let _ = store; Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisStore {
    connection: ConnectionManager,
    prefix: String,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn store_error(err: redis::RedisError) -> StoreError {
    StoreError(format!("redis: {err}"))
}

/// Default timeout of one Redis request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);

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
            ConnectionManager::new_lazy_with_config(client, config).map_err(store_error)?;
        Ok(Self {
            connection,
            prefix: "jwt:".to_owned(),
        })
    }

    /// Prefixes every key with `prefix` (default `jwt:`).
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    async fn run<T: redis::FromRedisValue>(
        &self,
        script: &Script,
        args: &[String],
    ) -> Result<T, StoreError> {
        let mut connection = self.connection.clone();
        let mut invocation = script.prepare_invoke();
        invocation.arg(&self.prefix);
        for arg in args {
            invocation.arg(arg);
        }
        invocation
            .invoke_async(&mut connection)
            .await
            .map_err(store_error)
    }
}

/// Seconds from `now` until `until`, at least 1 (Redis refuses `EX 0`).
fn ttl(until: u64, now: u64) -> String {
    until.saturating_sub(now).max(1).to_string()
}

const CREATE: &str = r#"
local p, fid, sub, claims, abs, idle, hash, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], tonumber(ARGV[8])
local fkey = p..'fam:'..fid
redis.call('HSET', fkey, 'subject', sub, 'claims', claims, 'abs', abs, 'idle', idle, 'current', hash, 'revoked', '0')
redis.call('EXPIRE', fkey, ttl)
redis.call('SET', p..'tok:'..hash, fid, 'EX', ttl)
local skey = p..'sub:'..sub
redis.call('SADD', skey, fid)
if redis.call('TTL', skey) < ttl then redis.call('EXPIRE', skey, ttl) end
return 1
"#;

const ROTATE: &str = r#"
local p, old, new, now, idle = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local fid = redis.call('GET', p..'tok:'..old)
if not fid then return {'unknown'} end
local fkey = p..'fam:'..fid
local f = redis.call('HMGET', fkey, 'current', 'revoked', 'abs', 'idle', 'subject', 'claims')
if not f[1] then return {'unknown'} end
if f[2] == '1' then return {'revoked'} end
local ttl = redis.call('TTL', fkey)
if ttl < 1 then ttl = 1 end
if f[1] ~= old then
  redis.call('HSET', fkey, 'revoked', '1')
  redis.call('SET', p..'rf:'..fid, '1', 'EX', ttl + idle)
  return {'reused', fid, f[5]}
end
local abs, idle_exp = tonumber(f[3]), tonumber(f[4])
if now >= abs or now >= idle_exp then return {'expired'} end
local new_idle = math.min(now + idle, abs)
redis.call('HSET', fkey, 'current', new, 'idle', string.format('%d', new_idle))
redis.call('SET', p..'tok:'..new, fid, 'EX', ttl)
return {'rotated', fid, f[5], f[6], f[3], string.format('%d', new_idle)}
"#;

const FAMILY_OF: &str = r#"
local p, hash = ARGV[1], ARGV[2]
local fid = redis.call('GET', p..'tok:'..hash)
if not fid then return {} end
local f = redis.call('HMGET', p..'fam:'..fid, 'subject', 'claims', 'abs', 'idle', 'revoked')
if not f[1] or f[5] == '1' then return {} end
return {fid, f[1], f[2], f[3], f[4]}
"#;

const REVOKE_FAMILY: &str = r#"
local p, fid, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local fkey = p..'fam:'..fid
if redis.call('EXISTS', fkey) == 1 then redis.call('HSET', fkey, 'revoked', '1') end
redis.call('SET', p..'rf:'..fid, '1', 'EX', ttl)
return 1
"#;

const REVOKE_SUBJECT: &str = r#"
local p, sub, cutoff, ttl = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
for _, fid in ipairs(redis.call('SMEMBERS', p..'sub:'..sub)) do
  local fkey = p..'fam:'..fid
  if redis.call('EXISTS', fkey) == 1 then redis.call('HSET', fkey, 'revoked', '1') end
  redis.call('SET', p..'rf:'..fid, '1', 'EX', ttl)
end
redis.call('SET', p..'cut:'..sub, cutoff, 'EX', ttl)
return 1
"#;

const DENY: &str = r#"
redis.call('SET', ARGV[1]..'jti:'..ARGV[2], '1', 'EX', tonumber(ARGV[3]))
return 1
"#;

const IS_REVOKED: &str = r#"
local p, fid, jti, sub, iat = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
if fid ~= '' and redis.call('EXISTS', p..'rf:'..fid) == 1 then return 1 end
if jti ~= '' and redis.call('EXISTS', p..'jti:'..jti) == 1 then return 1 end
if fid == '' and sub ~= '' then
  local cut = redis.call('GET', p..'cut:'..sub)
  if cut and iat <= tonumber(cut) then return 1 end
end
return 0
"#;

fn scripts() -> &'static Scripts {
    static SCRIPTS: std::sync::OnceLock<Scripts> = std::sync::OnceLock::new();
    SCRIPTS.get_or_init(|| Scripts {
        create: Script::new(CREATE),
        rotate: Script::new(ROTATE),
        family_of: Script::new(FAMILY_OF),
        revoke_family: Script::new(REVOKE_FAMILY),
        revoke_subject: Script::new(REVOKE_SUBJECT),
        deny: Script::new(DENY),
        is_revoked: Script::new(IS_REVOKED),
    })
}

struct Scripts {
    create: Script,
    rotate: Script,
    family_of: Script,
    revoke_family: Script,
    revoke_subject: Script,
    deny: Script,
    is_revoked: Script,
}

fn parse_u64(text: &str) -> Result<u64, StoreError> {
    text.parse()
        .map_err(|_| StoreError(format!("redis returned a non-numeric time {text:?}")))
}

fn parse_claims(text: &str) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError(format!("stored claims are not JSON: {e}")))
}

impl Store for RedisStore {
    fn create_family<'a>(
        &'a self,
        family: &'a Family,
        token_hash: &'a str,
        now: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let args = [
                family.id.clone(),
                family.subject.clone(),
                family.claims.to_string(),
                family.absolute_expiry.to_string(),
                family.idle_expiry.to_string(),
                token_hash.to_owned(),
                ttl(family.absolute_expiry, now),
            ];
            self.run::<i64>(&scripts().create, &args).await.map(drop)
        })
    }

    fn rotate<'a>(
        &'a self,
        old_hash: &'a str,
        new_hash: &'a str,
        now: u64,
        idle: u64,
    ) -> BoxFuture<'a, Result<Rotation, StoreError>> {
        Box::pin(async move {
            let args = [
                old_hash.to_owned(),
                new_hash.to_owned(),
                now.to_string(),
                idle.to_string(),
            ];
            let reply: Vec<String> = self.run(&scripts().rotate, &args).await?;
            match reply.as_slice() {
                [status] if status == "unknown" => Ok(Rotation::Unknown),
                [status] if status == "revoked" => Ok(Rotation::Revoked),
                [status] if status == "expired" => Ok(Rotation::Expired),
                [status, fid, subject] if status == "reused" => Ok(Rotation::Reused {
                    family_id: fid.clone(),
                    subject: subject.clone(),
                }),
                [status, fid, subject, claims, abs, idle] if status == "rotated" => {
                    Ok(Rotation::Rotated(Family {
                        id: fid.clone(),
                        subject: subject.clone(),
                        claims: parse_claims(claims)?,
                        absolute_expiry: parse_u64(abs)?,
                        idle_expiry: parse_u64(idle)?,
                    }))
                }
                other => Err(StoreError(format!("unexpected rotate reply {other:?}"))),
            }
        })
    }

    fn family_of<'a>(
        &'a self,
        token_hash: &'a str,
    ) -> BoxFuture<'a, Result<Option<Family>, StoreError>> {
        Box::pin(async move {
            let reply: Vec<String> = self
                .run(&scripts().family_of, &[token_hash.to_owned()])
                .await?;
            match reply.as_slice() {
                [] => Ok(None),
                [fid, subject, claims, abs, idle] => Ok(Some(Family {
                    id: fid.clone(),
                    subject: subject.clone(),
                    claims: parse_claims(claims)?,
                    absolute_expiry: parse_u64(abs)?,
                    idle_expiry: parse_u64(idle)?,
                })),
                other => Err(StoreError(format!("unexpected family reply {other:?}"))),
            }
        })
    }

    fn revoke_family<'a>(
        &'a self,
        family_id: &'a str,
        until: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let args = [family_id.to_owned(), ttl(until, crate::validate::now())];
            self.run::<i64>(&scripts().revoke_family, &args)
                .await
                .map(drop)
        })
    }

    fn revoke_subject<'a>(
        &'a self,
        subject: &'a str,
        cutoff: u64,
        until: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let args = [
                subject.to_owned(),
                cutoff.to_string(),
                ttl(until, crate::validate::now()),
            ];
            self.run::<i64>(&scripts().revoke_subject, &args)
                .await
                .map(drop)
        })
    }

    fn deny_jti<'a>(&'a self, jti: &'a str, until: u64) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let args = [jti.to_owned(), ttl(until, crate::validate::now())];
            self.run::<i64>(&scripts().deny, &args).await.map(drop)
        })
    }

    fn is_revoked<'a>(
        &'a self,
        query: RevocationQuery<'a>,
        _now: u64,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let args = [
                query.family.unwrap_or_default().to_owned(),
                query.jti.unwrap_or_default().to_owned(),
                query.subject.unwrap_or_default().to_owned(),
                query.issued_at.to_string(),
            ];
            self.run::<i64>(&scripts().is_revoked, &args)
                .await
                .map(|r| r == 1)
        })
    }
}
