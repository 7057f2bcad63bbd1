//! The Lua scripts of the Redis store: each touches only the keys passed in
//! `KEYS`, all in one hash tag (valid on Redis Cluster), and each revocation
//! publishes the key it changed on the channel passed in `ARGV`, in the same
//! atomic step as the change (see [`RevocationCache`](super::RevocationCache)).
use redis::Script;

/// KEYS: session. ARGV: subject, claims, secret hash, now, absolute expiry,
/// idle expiry, epoch, ttl (ms), authentication (JSON).
const CREATE: &str = r#"
redis.call('HSET', KEYS[1], 'sub', ARGV[1], 'claims', ARGV[2], 'cur', ARGV[3], 'prev', '',
  'rot', ARGV[4], 'created', ARGV[4], 'used', ARGV[4], 'gen', '0',
  'abs', ARGV[5], 'idle', ARGV[6], 'epoch', ARGV[7], 'authn', ARGV[9])
redis.call('PEXPIRE', KEYS[1], ARGV[8])
return 1
"#;

/// KEYS: the subject's sessions (sorted set), its cut-off hash. ARGV: session
/// id, now, max sessions, ttl (ms: the session's absolute lifetime plus the
/// revocation horizon). Registers the session, returns the subject's epoch
/// followed by the evicted session ids.
const REGISTER: &str = r#"
local epoch = redis.call('HGET', KEYS[2], 'epoch') or '0'
-- The new session is always the newest, even if another instance's clock is
-- ahead: never evict the session being created.
local score = tonumber(ARGV[2])
local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if top[2] and tonumber(top[2]) >= score then score = tonumber(top[2]) + 1 end
redis.call('ZADD', KEYS[1], string.format('%d', score), ARGV[1])
local excess = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[3])
local reply = {epoch}
if excess > 0 then
  local popped = redis.call('ZPOPMIN', KEYS[1], excess)
  for i = 1, #popped, 2 do reply[#reply + 1] = popped[i] end
end
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[4]) then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
-- The epoch must outlive every session that recorded it: were it to expire
-- first, the counter would restart at 0 and a later "log out everywhere"
-- would not reach this session.
if epoch ~= '0' and redis.call('PTTL', KEYS[2]) < tonumber(ARGV[4]) then redis.call('PEXPIRE', KEYS[2], ARGV[4]) end
return reply
"#;

/// KEYS: session. ARGV: presented hash, next hash, now, idle timeout, grace,
/// horizon (ms), channel.
const ROTATE: &str = r#"
local k = KEYS[1]
local presented, nxt = ARGV[1], ARGV[2]
local now, idle, grace, horizon = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local f = redis.call('HMGET', k, 'cur', 'prev', 'rot', 'abs', 'idle', 'sub', 'claims', 'gen', 'created', 'epoch', 'authn')
if not f[1] then return {'unknown'} end
local abs, idle_exp = tonumber(f[4]), tonumber(f[5])
if presented == f[1] then
  if now >= abs or now >= idle_exp then return {'expired'} end
  local new_idle = math.min(now + idle, abs)
  local gen = string.format('%d', tonumber(f[8]) + 1)
  local now_s, idle_s = string.format('%d', now), string.format('%d', new_idle)
  redis.call('HSET', k, 'cur', nxt, 'prev', presented, 'rot', now_s, 'used', now_s, 'idle', idle_s, 'gen', gen)
  redis.call('PEXPIRE', k, string.format('%d', math.max(new_idle + horizon - now, 1)))
  return {'rotated', f[6], f[7], gen, f[9], now_s, f[4], idle_s, f[10], f[11] or ''}
end
if presented == f[2] and now < tonumber(f[3]) + grace then return {'superseded'} end
redis.call('DEL', k)
redis.call('PUBLISH', ARGV[7], k)
return {'reused', f[6], f[10]}
"#;

/// KEYS: the subject's cut-off hash. ARGV: now, ttl (ms), channel.
const LOGOUT_EVERYWHERE: &str = r#"
redis.call('HINCRBY', KEYS[1], 'epoch', 1)
redis.call('HSET', KEYS[1], 'at', ARGV[1])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
redis.call('PUBLISH', ARGV[3], KEYS[1])
return 1
"#;

/// KEYS: a session. ARGV: channel. Deletes it and says so, in one step.
const REVOKE_KEY: &str = r#"
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[1], KEYS[1])
return 1
"#;

/// KEYS: a denied `jti`. ARGV: ttl (ms), channel.
const DENY: &str = r#"
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
redis.call('PUBLISH', ARGV[2], KEYS[1])
return 1
"#;

pub(super) struct Scripts {
    pub(super) create: Script,
    pub(super) register: Script,
    pub(super) rotate: Script,
    pub(super) logout_everywhere: Script,
    pub(super) revoke_key: Script,
    pub(super) deny: Script,
}

pub(super) fn scripts() -> &'static Scripts {
    static SCRIPTS: std::sync::OnceLock<Scripts> = std::sync::OnceLock::new();
    SCRIPTS.get_or_init(|| Scripts {
        create: Script::new(CREATE),
        register: Script::new(REGISTER),
        rotate: Script::new(ROTATE),
        logout_everywhere: Script::new(LOGOUT_EVERYWHERE),
        revoke_key: Script::new(REVOKE_KEY),
        deny: Script::new(DENY),
    })
}
