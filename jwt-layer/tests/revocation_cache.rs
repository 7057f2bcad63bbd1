//! The Redis store's local cache of revocation state, with two instances
//! ("servers") sharing one real `redis-server` started by the test: a
//! revocation on one reaches the other within the bound, the cache saves the
//! round trips, and a subscription that is down is never trusted.
mod common;
#[path = "common/redis_server.rs"]
mod redis_server;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use http::StatusCode;
use jwt_layer::store::{RedisStore, RevocationCache, Store};
use jwt_layer::{
    Algorithm, AuthError, JwtLayer, KeySet, RefreshTokens, SigningKey, TokenIssuer, TokenPair,
    Validator, VerifyingKey,
};
use redis_server::RedisServer;
use serde_json::json;

/// Far longer than any test waits: whatever a test sees within [`BOUND`]
/// was not the cache's own expiry but an invalidation (or a refusal to
/// trust the cache).
const LONG: Duration = Duration::from_secs(120);
/// How long a change may take to reach the other instance in these tests
/// (in practice: the pub/sub delivery, well under a millisecond).
const BOUND: Duration = Duration::from_secs(5);

/// One instance of the application: its own store (own connections, own
/// cache, own subscription), its refresh tokens and its app.
struct Instance {
    store: RedisStore,
    tokens: RefreshTokens,
    app: App,
}

async fn instance(server: &RedisServer, cache: RevocationCache) -> Instance {
    let store = RedisStore::connect(&server.url)
        .await
        .unwrap()
        .cache_revocations(cache)
        .unwrap();
    let validator = Validator::builder(KeySet::single(
        VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap(),
    ))
    .issuer(ISSUER)
    .audience(AUDIENCE)
    .build()
    .unwrap();
    let issuer = TokenIssuer::new(
        SigningKey::hmac(Algorithm::HS256, SECRET).unwrap(),
        validator,
    )
    .unwrap()
    .access_ttl(Duration::from_secs(300));
    let tokens =
        RefreshTokens::with_shared_store(issuer, Arc::new(store.clone()) as Arc<dyn Store>);
    let app =
        App::new(JwtLayer::new(tokens.issuer().validator().clone()).revocation(tokens.clone()));
    let instance = Instance { store, tokens, app };
    instance.subscribed(1).await;
    instance
}

impl Instance {
    /// Waits until the instance has subscribed `times` times in all.
    async fn subscribed(&self, times: u64) {
        let deadline = Instant::now() + BOUND;
        loop {
            let stats = self.store.revocation_cache_stats().unwrap();
            if stats.subscribed && stats.subscriptions >= times {
                return;
            }
            assert!(Instant::now() < deadline, "not subscribed: {stats:?}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn status(&self, token: &str) -> (StatusCode, Option<AuthError>) {
        let reply = self.app.bearer(token).await;
        (reply.status, reply.error)
    }

    /// Asks until the answer is `expected`, for at most [`BOUND`].
    async fn until(&self, token: &str, expected: StatusCode) {
        let deadline = Instant::now() + BOUND;
        loop {
            let (status, error) = self.status(token).await;
            if status == expected {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "still {status} ({error:?}), expected {expected}"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

fn access(pair: &TokenPair) -> &str {
    &pair.access.access_token
}

/// The revocation checks (`EXISTS`, `HMGET`) Redis ran since `reset_stats`.
fn checks(server: &RedisServer) -> u64 {
    server
        .command_calls()
        .iter()
        .filter(|(name, _)| name == "exists" || name == "hmget")
        .map(|(_, calls)| calls)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_on_one_instance_reaches_the_other_within_the_bound() {
    let server = RedisServer::start();
    let cache = RevocationCache::new().max_age(LONG);
    let a = instance(&server, cache).await;
    let b = instance(&server, cache).await;

    // B serves A's login, and once it has asked Redis, serves it from its cache.
    let pair = a
        .tokens
        .login("user-1", &json!({ "name": "Ada" }))
        .await
        .unwrap();
    assert_eq!(b.status(access(&pair)).await.0, StatusCode::OK);
    server.reset_stats();
    for _ in 0..50 {
        assert_eq!(b.status(access(&pair)).await.0, StatusCode::OK);
    }
    assert_eq!(checks(&server), 0, "50 checks, no round trip");

    // Logout on A: refused on B, long before the cache's own expiry.
    a.tokens.logout(&pair.refresh_token).await.unwrap();
    b.until(access(&pair), StatusCode::UNAUTHORIZED).await;
    assert_eq!(b.status(access(&pair)).await.1, Some(AuthError::Revoked));
    // A itself refuses at once (its own write drops its own entry).
    let pair = a
        .tokens
        .login("user-1", &json!({ "name": "Ada" }))
        .await
        .unwrap();
    assert_eq!(a.status(access(&pair)).await.0, StatusCode::OK);
    a.tokens.logout(&pair.refresh_token).await.unwrap();
    assert_eq!(a.status(access(&pair)).await.1, Some(AuthError::Revoked));

    // Log out everywhere on A: sessions and session-less tokens of the subject.
    let session = a
        .tokens
        .login("user-2", &json!({ "name": "Bo" }))
        .await
        .unwrap();
    let plain = a
        .tokens
        .issuer()
        .issue("user-2", &json!({ "name": "Bo" }))
        .unwrap();
    // Issued in an earlier second than the cut-off below (`iat` has seconds).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(b.status(access(&session)).await.0, StatusCode::OK);
    assert_eq!(b.status(&plain.access_token).await.0, StatusCode::OK);
    a.tokens.logout_everywhere("user-2").await.unwrap();
    b.until(access(&session), StatusCode::UNAUTHORIZED).await;
    b.until(&plain.access_token, StatusCode::UNAUTHORIZED).await;

    // One access token denied by `jti` on A.
    let denied = a
        .tokens
        .issuer()
        .issue("user-3", &json!({ "name": "Cy" }))
        .unwrap();
    assert_eq!(b.status(&denied.access_token).await.0, StatusCode::OK);
    let verified = a
        .tokens
        .issuer()
        .validator()
        .verify::<serde_json::Value>(&denied.access_token)
        .unwrap();
    a.tokens
        .revoke_access_token(verified.token())
        .await
        .unwrap();
    b.until(&denied.access_token, StatusCode::UNAUTHORIZED)
        .await;

    // A refresh token replayed on A: the session is revoked (a Lua script
    // deletes it and says so); B refuses the thief's access token.
    let stolen = a
        .tokens
        .login("user-4", &json!({ "name": "Di" }))
        .await
        .unwrap();
    let thief = b.tokens.refresh(&stolen.refresh_token).await.unwrap();
    assert_eq!(b.status(access(&thief)).await.0, StatusCode::OK);
    assert!(a.tokens.refresh(&stolen.refresh_token).await.is_err());
    b.until(access(&thief), StatusCode::UNAUTHORIZED).await;
}

/// A change that publishes nothing (a `DEL` by hand) is seen once the
/// cached answer is older than `max_age`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unannounced_change_is_seen_within_max_age() {
    let server = RedisServer::start();
    let b = instance(
        &server,
        RevocationCache::new().max_age(Duration::from_millis(300)),
    )
    .await;
    let pair = b
        .tokens
        .login("user-1", &json!({ "name": "Ada" }))
        .await
        .unwrap();
    assert_eq!(b.status(access(&pair)).await.0, StatusCode::OK);
    let mut connection = server.connection();
    let deleted: i64 = redis::cmd("DEL")
        .arg(format!("jwt:{{s:{}}}", pair.session))
        .query(&mut connection)
        .unwrap();
    assert_eq!(deleted, 1);
    b.until(access(&pair), StatusCode::UNAUTHORIZED).await;
}

/// Redis goes down: the subscription with it, so the cache is not trusted
/// and every check fails closed (503), though the cached answers are fresh.
/// Back up (memory only, so every session is gone): refused, never served
/// from what was cached before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_that_is_down_is_never_trusted() {
    let mut server = RedisServer::start();
    let b = instance(&server, RevocationCache::new().max_age(LONG)).await;
    let pair = b
        .tokens
        .login("user-1", &json!({ "name": "Ada" }))
        .await
        .unwrap();
    assert_eq!(b.status(access(&pair)).await.0, StatusCode::OK);

    server.kill();
    b.until(access(&pair), StatusCode::SERVICE_UNAVAILABLE)
        .await;
    assert!(!b.store.revocation_cache_stats().unwrap().subscribed);
    let calls = b.app.calls();
    for _ in 0..20 {
        assert_eq!(
            b.status(access(&pair)).await,
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Some(AuthError::StoreUnavailable)
            )
        );
    }
    assert_eq!(b.app.calls(), calls, "nothing accepted while Redis is down");

    server.restart();
    b.subscribed(2).await;
    assert_eq!(b.status(access(&pair)).await.1, Some(AuthError::Revoked));
}

/// The subscription alone is killed (`CLIENT KILL TYPE pubsub`): the
/// instance subscribes again, and revocations made meanwhile still reach it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_subscription_is_replaced_and_nothing_is_missed() {
    let server = RedisServer::start();
    let cache = RevocationCache::new().max_age(LONG);
    let a = instance(&server, cache).await;
    let b = instance(&server, cache).await;
    let pair = a
        .tokens
        .login("user-1", &json!({ "name": "Ada" }))
        .await
        .unwrap();
    assert_eq!(b.status(access(&pair)).await.0, StatusCode::OK);

    let mut connection = server.connection();
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query(&mut connection)
        .unwrap();
    assert_eq!(killed, 2, "both instances' subscriptions");
    // Revoked while B may not be subscribed: the message is lost to B, but B
    // either asks Redis (not subscribed) or emptied its cache on subscribing.
    a.tokens.logout(&pair.refresh_token).await.unwrap();
    b.until(access(&pair), StatusCode::UNAUTHORIZED).await;
    b.subscribed(2).await;

    // Subscribed again: invalidations arrive as before.
    let pair = a
        .tokens
        .login("user-1", &json!({ "name": "Ada" }))
        .await
        .unwrap();
    assert_eq!(b.status(access(&pair)).await.0, StatusCode::OK);
    a.tokens.logout(&pair.refresh_token).await.unwrap();
    b.until(access(&pair), StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn the_cache_needs_a_runtime_and_is_bounded() {
    let store = RedisStore::lazy("redis://127.0.0.1:1/", Duration::from_secs(1)).unwrap();
    let outside = std::thread::spawn(move || store.cache_revocations(RevocationCache::new()).err())
        .join()
        .unwrap();
    assert!(
        outside.is_some(),
        "no runtime, no subscriber: an error, not a panic"
    );

    let server = RedisServer::start();
    let b = instance(
        &server,
        RevocationCache::new()
            .max_age(LONG)
            .max_entries(8)
            .max_bytes(64 * 1024),
    )
    .await;
    for i in 0..50 {
        let token = b
            .tokens
            .issuer()
            .issue(&format!("user-{i}"), &json!({ "name": "Ada" }))
            .unwrap();
        assert_eq!(b.status(&token.access_token).await.0, StatusCode::OK);
        let stats = b.store.revocation_cache_stats().unwrap();
        assert!(stats.entries <= 8, "{stats:?}");
    }
    // The prefix is set before the subscription, never after.
    assert!(b.store.clone().with_prefix("other:").is_err());
}

/// An instance sees its own revocations at once: its write drops its own
/// entry before the call returns, without waiting for its own message. (Its
/// subscriber often hears the message first anyway, so this catches a store
/// that forgets to, only on some runs.)
#[tokio::test(flavor = "current_thread")]
async fn an_instance_sees_its_own_revocation_at_once() {
    let server = RedisServer::start();
    let a = instance(&server, RevocationCache::new().max_age(LONG)).await;
    for _ in 0..20 {
        let pair = a
            .tokens
            .login("user-1", &json!({ "name": "Ada" }))
            .await
            .unwrap();
        assert_eq!(a.status(access(&pair)).await.0, StatusCode::OK);
        a.tokens.logout(&pair.refresh_token).await.unwrap();
        assert_eq!(a.status(access(&pair)).await.1, Some(AuthError::Revoked));
    }
}
