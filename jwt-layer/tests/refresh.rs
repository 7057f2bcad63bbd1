//! Refresh rotation, reuse detection and revocation: one scenario suite, run on the
//! memory store and on a real Redis.
mod common;
#[path = "common/redis_server.rs"]
mod redis_server;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use http::StatusCode;
use jwt_layer::store::{MemoryStore, RedisStore, Store};
use jwt_layer::{
    Algorithm, AuthError, JwtLayer, Key, KeySet, RefreshError, RefreshTokens, SigningKey,
    TokenIssuer, Validator,
};
use redis_server::RedisServer;
use serde_json::json;

fn tokens(store: Arc<dyn Store>, access_ttl: Duration) -> RefreshTokens {
    let signing = SigningKey::hmac(Algorithm::HS256, SECRET).unwrap();
    let validator =
        Validator::builder(KeySet::single(Key::hmac(Algorithm::HS256, SECRET).unwrap()))
            .issuer(ISSUER)
            .audience(AUDIENCE)
            .leeway(Duration::ZERO)
            .build()
            .unwrap();
    let issuer = TokenIssuer::new(signing, validator)
        .unwrap()
        .access_ttl(access_ttl);
    RefreshTokens::with_shared_store(issuer, store)
}

fn app(tokens: &RefreshTokens) -> App {
    App::new(JwtLayer::new(tokens.issuer().validator().clone()).revocation(tokens.clone()))
}

fn claims() -> serde_json::Value {
    json!({ "name": "Ada" })
}

/// login → access → expiry → refresh → rotated token replayed (family revoked,
/// newest token dead) → new login → logout → refresh refused.
async fn lifecycle(store: Arc<dyn Store>) {
    let tokens = tokens(store, Duration::from_secs(1));
    let app = app(&tokens);

    let first = tokens.login("user-1", &claims()).await.unwrap();
    assert_eq!(first.refresh_token.len(), 43);
    assert!(
        !first.refresh_token.contains('.'),
        "refresh tokens are opaque, never JWTs"
    );
    assert_eq!(
        app.bearer(&first.access.access_token).await.body,
        "user-1 Ada bearer"
    );

    // A refresh token is never an access token.
    assert_eq!(
        app.bearer(&first.refresh_token).await.error,
        Some(AuthError::Malformed)
    );
    // Nor the reverse.
    assert_eq!(
        tokens.refresh(&first.access.access_token).await,
        Err(RefreshError::Invalid)
    );

    // Expiry (ttl 1 s, no leeway).
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        app.bearer(&first.access.access_token).await.error,
        Some(AuthError::Expired)
    );

    let second = tokens.refresh(&first.refresh_token).await.unwrap();
    assert_ne!(second.refresh_token, first.refresh_token);
    assert_eq!(second.session, first.session, "same family");
    assert_eq!(
        app.bearer(&second.access.access_token).await.status,
        StatusCode::OK
    );

    // Replay of the rotated token: reuse. The family dies, newest token included.
    assert_eq!(
        tokens.refresh(&first.refresh_token).await,
        Err(RefreshError::Reused {
            session: first.session.clone(),
            subject: "user-1".into()
        })
    );
    assert_eq!(
        tokens.refresh(&second.refresh_token).await,
        Err(RefreshError::Invalid)
    );
    assert_eq!(
        app.bearer(&second.access.access_token).await.error,
        Some(AuthError::Revoked)
    );

    // A new login is a new family, unaffected.
    let third = tokens.login("user-1", &claims()).await.unwrap();
    assert_ne!(third.session, first.session);
    let fourth = tokens.refresh(&third.refresh_token).await.unwrap();
    assert_eq!(
        app.bearer(&fourth.access.access_token).await.status,
        StatusCode::OK
    );

    // Logout revokes the family: refresh refused, access token refused.
    tokens.logout(&fourth.refresh_token).await.unwrap();
    assert_eq!(
        tokens.refresh(&fourth.refresh_token).await,
        Err(RefreshError::Invalid)
    );
    assert_eq!(
        app.bearer(&fourth.access.access_token).await.error,
        Some(AuthError::Revoked)
    );
    // Logging out twice, or with garbage, is not an error.
    tokens.logout(&fourth.refresh_token).await.unwrap();
    tokens.logout("garbage").await.unwrap();
    assert_eq!(tokens.refresh("").await, Err(RefreshError::Invalid));
    assert_eq!(
        tokens.refresh(&"A".repeat(43)).await,
        Err(RefreshError::Invalid)
    );
}

/// Many tasks refresh with the same token at once: exactly one wins.
async fn race(store: Arc<dyn Store>) {
    let tokens = tokens(store, Duration::from_secs(60));
    let pair = tokens.login("racer", &claims()).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let tokens = tokens.clone();
        let refresh = pair.refresh_token.clone();
        tasks.push(tokio::spawn(async move { tokens.refresh(&refresh).await }));
    }
    let mut winners = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => winners += 1,
            Err(RefreshError::Reused { .. } | RefreshError::Invalid) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(winners, 1, "exactly one concurrent refresh may succeed");
}

/// Log out everywhere: every family of the subject dies, and its earlier access
/// tokens too; other subjects are untouched.
async fn everywhere(store: Arc<dyn Store>) {
    let tokens = tokens(store, Duration::from_secs(60));
    let app = app(&tokens);
    let laptop = tokens.login("user-1", &claims()).await.unwrap();
    let phone = tokens.login("user-1", &claims()).await.unwrap();
    let plain = tokens.issuer().issue("user-1", &claims()).unwrap();
    let other = tokens.login("user-2", &claims()).await.unwrap();

    tokens.logout_everywhere("user-1").await.unwrap();
    for pair in [&laptop, &phone] {
        assert_eq!(
            tokens.refresh(&pair.refresh_token).await,
            Err(RefreshError::Invalid)
        );
        assert_eq!(
            app.bearer(&pair.access.access_token).await.error,
            Some(AuthError::Revoked)
        );
    }
    // Even an access token outside any family (no sid) dies by the iat cut-off.
    assert_eq!(
        app.bearer(&plain.access_token).await.error,
        Some(AuthError::Revoked)
    );
    assert_eq!(
        app.bearer(&other.access.access_token).await.status,
        StatusCode::OK
    );
    assert!(tokens.refresh(&other.refresh_token).await.is_ok());

    // A login right after it (most likely in the same second) starts a new
    // family, which the cut-off does not touch.
    let again = tokens.login("user-1", &claims()).await.unwrap();
    assert_eq!(
        app.bearer(&again.access.access_token).await.status,
        StatusCode::OK
    );

    // One access token revoked by jti.
    let verified = tokens
        .issuer()
        .validator()
        .verify::<serde_json::Value>(&again.access.access_token)
        .unwrap();
    tokens.revoke_access_token(verified.token()).await.unwrap();
    assert_eq!(
        app.bearer(&again.access.access_token).await.error,
        Some(AuthError::Revoked)
    );
    assert!(
        tokens.refresh(&again.refresh_token).await.is_ok(),
        "the family lives on"
    );
}

/// Idle timeout and absolute lifetime.
async fn lifetimes(store: Arc<dyn Store>) {
    let idle =
        tokens(Arc::clone(&store), Duration::from_secs(60)).idle_timeout(Duration::from_secs(1));
    let absolute = tokens(store, Duration::from_secs(60))
        .absolute_lifetime(Duration::from_secs(2))
        .idle_timeout(Duration::from_secs(60));
    let idle_pair = idle.login("user-1", &claims()).await.unwrap();
    let abs_pair = absolute.login("user-1", &claims()).await.unwrap();
    assert!(idle_pair.refresh_expires_in <= 1);
    // An active family survives its idle timeout by refreshing…
    let abs_pair = absolute.refresh(&abs_pair.refresh_token).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    // …but not its absolute lifetime; an idle one dies after the idle timeout.
    assert_eq!(
        idle.refresh(&idle_pair.refresh_token).await,
        Err(RefreshError::Invalid)
    );
    assert_eq!(
        absolute.refresh(&abs_pair.refresh_token).await,
        Err(RefreshError::Invalid)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_store_lifecycle() {
    lifecycle(Arc::new(MemoryStore::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_store_race() {
    race(Arc::new(MemoryStore::new())).await;
}

#[tokio::test]
async fn memory_store_logout_everywhere() {
    everywhere(Arc::new(MemoryStore::new())).await;
}

#[tokio::test]
async fn memory_store_lifetimes() {
    lifetimes(Arc::new(MemoryStore::new())).await;
}

#[tokio::test]
async fn memory_store_is_bounded_and_fails_closed_when_full() {
    let store = Arc::new(MemoryStore::with_capacity(2));
    let tokens = tokens(store.clone(), Duration::from_secs(60));
    tokens.login("a", &claims()).await.unwrap();
    tokens.login("b", &claims()).await.unwrap();
    assert!(matches!(
        tokens.login("c", &claims()).await,
        Err(RefreshError::Store(_))
    ));
    assert_eq!(store.len(), 2);

    // Expired families are purged to make room.
    let store = Arc::new(MemoryStore::with_capacity(1));
    let short = RefreshTokens::with_shared_store(tokens.issuer().clone(), store.clone())
        .absolute_lifetime(Duration::from_secs(1));
    short.login("a", &claims()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    short.login("b", &claims()).await.unwrap();
    assert_eq!(store.len(), 1);
}

async fn redis_store(server: &RedisServer) -> Arc<dyn Store> {
    let prefix = format!("t{}:", rand_prefix());
    Arc::new(
        RedisStore::connect(&server.url)
            .await
            .unwrap()
            .with_prefix(prefix),
    )
}

fn rand_prefix() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::Instant::now())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_store_scenarios() {
    let server = RedisServer::start();
    let (a, b, c, d) = (
        redis_store(&server).await,
        redis_store(&server).await,
        redis_store(&server).await,
        redis_store(&server).await,
    );
    tokio::join!(lifecycle(a), race(b), everywhere(c), lifetimes(d));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_store_shared_by_two_instances() {
    let server = RedisServer::start();
    // Two "instances": separate connections to one Redis, same key prefix.
    let connect =
        || async { Arc::new(RedisStore::connect(&server.url).await.unwrap()) as Arc<dyn Store> };
    let instance_a = tokens(connect().await, Duration::from_secs(60));
    let instance_b = tokens(connect().await, Duration::from_secs(60));
    let pair = instance_a.login("user-1", &claims()).await.unwrap();
    let next = instance_b.refresh(&pair.refresh_token).await.unwrap();
    assert!(matches!(
        instance_a.refresh(&pair.refresh_token).await,
        Err(RefreshError::Reused { session, .. }) if session == pair.session
    ));
    assert_eq!(
        instance_b.refresh(&next.refresh_token).await,
        Err(RefreshError::Invalid)
    );
    let app_b = app(&instance_b);
    assert_eq!(
        app_b.bearer(&next.access.access_token).await.error,
        Some(AuthError::Revoked)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_fails_closed_with_503() {
    let mut server = RedisServer::start();
    let store = redis_store(&server).await;
    let tokens = tokens(store, Duration::from_secs(60));
    let app = app(&tokens);
    let pair = tokens.login("user-1", &claims()).await.unwrap();
    assert_eq!(
        app.bearer(&pair.access.access_token).await.status,
        StatusCode::OK
    );

    server.kill();
    let before = app.calls();
    let reply = app.bearer(&pair.access.access_token).await;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        reply.body
    );
    assert_eq!(reply.error, Some(AuthError::StoreUnavailable));
    assert_eq!(
        app.calls(),
        before,
        "nothing is accepted while the store is down"
    );
    assert!(matches!(
        tokens.refresh(&pair.refresh_token).await,
        Err(RefreshError::Store(_))
    ));
    assert!(matches!(
        tokens.login("user-1", &claims()).await,
        Err(RefreshError::Store(_))
    ));
    assert!(matches!(
        tokens.logout(&pair.refresh_token).await,
        Err(RefreshError::Store(_))
    ));

    // A store that was never reachable fails at connect, with the reason.
    let err = RedisStore::connect("redis://127.0.0.1:1/")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("redis"), "{err}");
}

#[tokio::test]
async fn memory_store_forgets_old_rotations_but_still_refuses_them() {
    let tokens = tokens(Arc::new(MemoryStore::new()), Duration::from_secs(60));
    let first = tokens.login("looper", &claims()).await.unwrap();
    let mut pair = tokens.refresh(&first.refresh_token).await.unwrap();
    for _ in 0..100 {
        pair = tokens.refresh(&pair.refresh_token).await.unwrap();
    }
    // The first token is long forgotten: refused, though no longer flagged as reuse.
    assert_eq!(
        tokens.refresh(&first.refresh_token).await,
        Err(RefreshError::Invalid)
    );
    assert!(
        tokens.refresh(&pair.refresh_token).await.is_ok(),
        "the family lives on"
    );
}

#[tokio::test]
async fn one_subject_cannot_fill_the_memory_store() {
    let store = Arc::new(MemoryStore::with_capacity(10).max_families_per_subject(3));
    let tokens = tokens(store.clone(), Duration::from_secs(60));
    let mut pairs = Vec::new();
    for _ in 0..20 {
        pairs.push(tokens.login("greedy", &claims()).await.unwrap());
    }
    assert_eq!(store.len(), 3, "only the newest three sessions are kept");
    // Others can still log in.
    let other = tokens.login("someone-else", &claims()).await.unwrap();
    assert!(tokens.refresh(&other.refresh_token).await.is_ok());
    // The oldest sessions' refresh tokens are gone; the newest still work.
    assert_eq!(
        tokens.refresh(&pairs[0].refresh_token).await,
        Err(RefreshError::Invalid)
    );
    assert_eq!(
        tokens.refresh(&pairs[16].refresh_token).await,
        Err(RefreshError::Invalid)
    );
    for pair in &pairs[17..] {
        assert!(tokens.refresh(&pair.refresh_token).await.is_ok());
    }
}
