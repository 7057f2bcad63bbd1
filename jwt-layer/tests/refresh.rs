//! Refresh rotation, reuse detection and revocation: one scenario suite, run on
//! the memory store and on a real `redis-server` started by the test.
mod common;
#[path = "common/redis_server.rs"]
mod redis_server;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use http::StatusCode;
use jwt_layer::store::{MemoryStore, RedisStore, RevocationCache, Store};
use jwt_layer::{
    Algorithm, AuthError, Authentication, ConfigError, IssueError, JwtLayer, KeySet, RefreshError,
    RefreshTokens, SigningKey, StoreRevocations, TokenIssuer, TokenPair, Validator, VerifyingKey,
};
use redis_server::{Durability, RedisServer};
use serde_json::json;

fn tokens(store: Arc<dyn Store>, access_ttl: Duration) -> RefreshTokens {
    let signing = SigningKey::hmac(Algorithm::HS256, SECRET).unwrap();
    let validator = Validator::builder(KeySet::single(
        VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap(),
    ))
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

/// A store under test, and a way to measure how much it holds.
struct Harness {
    store: Arc<dyn Store>,
    /// Memory: entries of any kind. Redis: keys under this harness's prefix.
    footprint: Box<dyn Fn() -> usize + Send + Sync>,
    /// Live session records only.
    sessions: Box<dyn Fn() -> usize + Send + Sync>,
}

fn memory(max_per_subject: usize) -> Harness {
    let store = Arc::new(MemoryStore::new().max_sessions_per_subject(max_per_subject));
    let (a, b) = (Arc::clone(&store), Arc::clone(&store));
    Harness {
        store,
        footprint: Box::new(move || a.entries()),
        sessions: Box::new(move || b.len()),
    }
}

async fn redis(server: &Arc<RedisServer>, max_per_subject: usize) -> Harness {
    redis_with(server, max_per_subject, None).await
}

/// With a local cache of revocation state that never expires by itself
/// within a test: every scenario must pass on invalidations alone.
async fn redis_cached(server: &Arc<RedisServer>, max_per_subject: usize) -> Harness {
    let cache = RevocationCache::new().max_age(Duration::from_secs(600));
    redis_with(server, max_per_subject, Some(cache)).await
}

async fn redis_with(
    server: &Arc<RedisServer>,
    max_per_subject: usize,
    cache: Option<RevocationCache>,
) -> Harness {
    let prefix = format!("t{}:", rand_prefix());
    let mut store = RedisStore::connect(&server.url)
        .await
        .unwrap()
        .with_prefix(prefix.clone())
        .unwrap()
        .max_sessions_per_subject(max_per_subject);
    if let Some(cache) = cache {
        store = store.cache_revocations(cache).unwrap();
    }
    let (a, b) = (Arc::clone(server), Arc::clone(server));
    let (all, sessions) = (format!("{prefix}*"), format!("{prefix}{{s:*"));
    Harness {
        store: Arc::new(store),
        footprint: Box::new(move || a.count_keys(&all)),
        sessions: Box::new(move || b.count_keys(&sessions)),
    }
}

fn rand_prefix() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::Instant::now())
}

async fn assert_revoked(app: &App, pair: &TokenPair) {
    assert_eq!(
        app.bearer(&pair.access.access_token).await.error,
        Some(AuthError::Revoked)
    );
}

async fn assert_serves(app: &App, pair: &TokenPair) {
    let reply = app.bearer(&pair.access.access_token).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

// ---------------------------------------------------------------- scenarios

/// login → access → expiry → refresh → rotated token replayed (session
/// revoked, newest token dead) → new login → logout → refresh refused.
async fn lifecycle(h: Harness) {
    // `exp` is in whole seconds: a token of 2 s lives between 1 and 2 s, so
    // the checks right after an issue pass even on a loaded machine.
    let tokens = tokens(h.store, Duration::from_secs(2));
    let app = app(&tokens);

    let first = tokens.login("user-1", &claims()).await.unwrap();
    assert_eq!(first.refresh_token.len(), 66);
    assert_eq!(
        first.refresh_token.matches('.').count(),
        1,
        "<handle>.<secret>: one dot, never a JWT"
    );
    assert_eq!(
        app.bearer(&first.access.access_token).await.body,
        "user-1 Ada bearer"
    );
    // A refresh token is never an access token, nor the reverse.
    assert_eq!(
        app.bearer(&first.refresh_token).await.error,
        Some(AuthError::Malformed)
    );
    assert_eq!(
        tokens.refresh(&first.access.access_token).await,
        Err(RefreshError::Invalid)
    );
    // The handle is not the sid: an access token does not name the session.
    let (handle, _) = first.refresh_token.split_once('.').unwrap();
    assert_ne!(handle, first.session);
    assert!(!first.access.access_token.contains(handle));

    // Expiry (ttl 2 s, no leeway).
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        app.bearer(&first.access.access_token).await.error,
        Some(AuthError::Expired)
    );

    let second = tokens.refresh(&first.refresh_token).await.unwrap();
    assert_ne!(second.refresh_token, first.refresh_token);
    assert_eq!(second.session, first.session, "same session");
    assert_serves(&app, &second).await;

    // Replay of the rotated token: reuse. The session dies, newest token included.
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
    assert_revoked(&app, &second).await;

    // A new login is a new session, unaffected.
    let third = tokens.login("user-1", &claims()).await.unwrap();
    assert_ne!(third.session, first.session);
    let fourth = tokens.refresh(&third.refresh_token).await.unwrap();
    assert_serves(&app, &fourth).await;

    // Logout revokes the session: refresh refused, access token refused.
    tokens.logout(&fourth.refresh_token).await.unwrap();
    assert_eq!(
        tokens.refresh(&fourth.refresh_token).await,
        Err(RefreshError::Invalid)
    );
    assert_revoked(&app, &fourth).await;
    // Logging out twice, or with garbage, is not an error.
    tokens.logout(&fourth.refresh_token).await.unwrap();
    tokens.logout("garbage").await.unwrap();
}

/// Replaying the first refresh token after 1, 32 and 1 000 rotations is
/// reuse: the session is revoked, with its latest refresh token and every
/// access token it issued.
async fn reuse_at_any_depth(h: Harness) {
    let tokens = tokens(h.store, Duration::from_secs(60));
    let app = app(&tokens);
    for depth in [1, 32, 1000] {
        let first = tokens.login("victim", &claims()).await.unwrap();
        let mut latest = tokens.refresh(&first.refresh_token).await.unwrap();
        let early = latest.clone();
        for _ in 1..depth {
            latest = tokens.refresh(&latest.refresh_token).await.unwrap();
        }
        assert_serves(&app, &latest).await;
        assert_eq!(
            tokens.refresh(&first.refresh_token).await,
            Err(RefreshError::Reused {
                session: first.session.clone(),
                subject: "victim".into()
            }),
            "replay after {depth} rotations"
        );
        assert_eq!(
            tokens.refresh(&latest.refresh_token).await,
            Err(RefreshError::Invalid),
            "the thief's latest token dies too (depth {depth})"
        );
        for pair in [&first, &early, &latest] {
            assert_revoked(&app, pair).await;
        }
    }
}

/// 1 000 rotations of one login hold exactly what one rotation holds.
async fn constant_storage(h: Harness) {
    let tokens = tokens(h.store, Duration::from_secs(60));
    let first = tokens.login("looper", &claims()).await.unwrap();
    let mut pair = tokens.refresh(&first.refresh_token).await.unwrap();
    let after_one = (h.footprint)();
    assert!(after_one > 0);
    for _ in 0..1000 {
        pair = tokens.refresh(&pair.refresh_token).await.unwrap();
    }
    assert_eq!((h.footprint)(), after_one, "nothing is kept per rotation");
    assert_eq!((h.sessions)(), 1);
    // And nothing was forgotten either.
    assert!(matches!(
        tokens.refresh(&first.refresh_token).await,
        Err(RefreshError::Reused { .. })
    ));
}

/// 1 000 logins of one subject leave at most the cap (64) of live sessions;
/// the evicted ones are logged out, the newest work.
async fn sessions_per_subject_are_capped(h: Harness) {
    let tokens = tokens(h.store, Duration::from_secs(60));
    let app = app(&tokens);
    let mut pairs = Vec::new();
    for _ in 0..1000 {
        pairs.push(tokens.login("greedy", &claims()).await.unwrap());
    }
    assert_eq!((h.sessions)(), 64);
    let before_others = (h.footprint)();
    assert!(before_others <= 64 + 2, "{before_others}");
    let evicted = &pairs[1000 - 65];
    let kept = &pairs[1000 - 64];
    assert_eq!(
        tokens.refresh(&evicted.refresh_token).await,
        Err(RefreshError::Invalid)
    );
    assert_revoked(&app, evicted).await;
    assert_revoked(&app, &pairs[0]).await;
    assert!(tokens.refresh(&kept.refresh_token).await.is_ok());
    assert!(tokens.refresh(&pairs[999].refresh_token).await.is_ok());
    // Others are unaffected.
    let other = tokens.login("someone-else", &claims()).await.unwrap();
    assert!(tokens.refresh(&other.refresh_token).await.is_ok());
}

/// 32 concurrent refreshes with one token, no grace: exactly one new pair, and
/// the others are reuse, so the session is revoked (strict).
async fn race_strict(h: Harness) {
    let tokens = tokens(h.store, Duration::from_secs(60));
    let app = app(&tokens);
    let (winners, reused, _) = race(&tokens).await;
    assert_eq!(
        winners.len(),
        1,
        "exactly one concurrent refresh may succeed"
    );
    assert!(reused >= 1, "the losers are reuse");
    assert_eq!(
        tokens.refresh(&winners[0].refresh_token).await,
        Err(RefreshError::Invalid)
    );
    assert_revoked(&app, &winners[0]).await;
}

/// 32 concurrent refreshes with a grace period: exactly one new pair, the
/// others `invalid_grant` without revoking; the winner's token goes on.
async fn race_with_grace(h: Harness) {
    let tokens = tokens(h.store, Duration::from_secs(60))
        .reuse_grace(Duration::from_secs(10))
        .unwrap();
    let app = app(&tokens);
    let (winners, reused, invalid) = race(&tokens).await;
    assert_eq!(
        winners.len(),
        1,
        "exactly one concurrent refresh may succeed"
    );
    assert_eq!((reused, invalid), (0, 31));
    assert_serves(&app, &winners[0]).await;
    assert!(tokens.refresh(&winners[0].refresh_token).await.is_ok());
}

async fn race(tokens: &RefreshTokens) -> (Vec<TokenPair>, usize, usize) {
    let pair = tokens.login("racer", &claims()).await.unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(32));
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let (tokens, barrier) = (tokens.clone(), Arc::clone(&barrier));
        let refresh = pair.refresh_token.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            tokens.refresh(&refresh).await
        }));
    }
    let (mut winners, mut reused, mut invalid) = (Vec::new(), 0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(pair) => winners.push(pair),
            Err(RefreshError::Reused { .. }) => reused += 1,
            Err(RefreshError::Invalid) => invalid += 1,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    (winners, reused, invalid)
}

/// The grace covers only the immediately previous secret, only within the
/// window; it is at most 60 s.
async fn grace_window(h: Harness) {
    let tokens = tokens(Arc::clone(&h.store), Duration::from_secs(60));
    assert_eq!(
        tokens.clone().reuse_grace(Duration::from_secs(61)).err(),
        Some(ConfigError::ReuseGraceTooLarge(61_000))
    );
    let tokens = tokens.reuse_grace(Duration::from_millis(1500)).unwrap();

    // Previous secret within the window: refused, session unharmed (twice).
    let first = tokens.login("tabs", &claims()).await.unwrap();
    let second = tokens.refresh(&first.refresh_token).await.unwrap();
    for _ in 0..2 {
        assert_eq!(
            tokens.refresh(&first.refresh_token).await,
            Err(RefreshError::Invalid)
        );
    }
    let third = tokens.refresh(&second.refresh_token).await.unwrap();
    // The one before the previous, even within the window: reuse.
    assert!(matches!(
        tokens.refresh(&first.refresh_token).await,
        Err(RefreshError::Reused { .. })
    ));
    assert_eq!(
        tokens.refresh(&third.refresh_token).await,
        Err(RefreshError::Invalid)
    );

    // Previous secret after the window: reuse.
    let first = tokens.login("tabs", &claims()).await.unwrap();
    let second = tokens.refresh(&first.refresh_token).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert!(matches!(
        tokens.refresh(&first.refresh_token).await,
        Err(RefreshError::Reused { .. })
    ));
    assert_eq!(
        tokens.refresh(&second.refresh_token).await,
        Err(RefreshError::Invalid)
    );
}

/// Log out everywhere with `count` sessions: every session and earlier access
/// token of the subject dies; other subjects are untouched; a login right
/// after works. Returns the sessions, for the caller to measure.
async fn everywhere(h: &Harness, count: usize) -> RefreshTokens {
    let tokens = tokens(Arc::clone(&h.store), Duration::from_secs(60));
    let app = app(&tokens);
    let mut pairs = Vec::new();
    for _ in 0..count {
        pairs.push(tokens.login("user-1", &claims()).await.unwrap());
    }
    let plain = tokens.issuer().issue("user-1", &claims()).unwrap();
    let other = tokens.login("user-2", &claims()).await.unwrap();
    let _ = tokens.refresh(&pairs[0].refresh_token).await.unwrap();

    tokens.logout_everywhere("user-1").await.unwrap();

    for pair in [&pairs[0], &pairs[count / 2], &pairs[count - 1]] {
        assert_eq!(
            tokens.refresh(&pair.refresh_token).await,
            Err(RefreshError::Invalid)
        );
        assert_revoked(&app, pair).await;
    }
    // Even an access token outside any session (no sid) dies, by its iat.
    assert_eq!(
        app.bearer(&plain.access_token).await.error,
        Some(AuthError::Revoked)
    );
    assert_serves(&app, &other).await;
    assert!(tokens.refresh(&other.refresh_token).await.is_ok());

    // A login right after it (most likely in the same second, even the same
    // millisecond) starts a new session, which the cut-off does not touch.
    let again = tokens.login("user-1", &claims()).await.unwrap();
    assert_serves(&app, &again).await;
    let again = tokens.refresh(&again.refresh_token).await.unwrap();
    assert_serves(&app, &again).await;

    // One access token revoked by jti; its session lives on.
    let verified = tokens
        .issuer()
        .validator()
        .verify::<serde_json::Value>(&again.access.access_token)
        .unwrap();
    tokens.revoke_access_token(verified.token()).await.unwrap();
    assert_revoked(&app, &again).await;
    let next = tokens.refresh(&again.refresh_token).await.unwrap();
    assert_serves(&app, &next).await;
    tokens
}

/// Idle timeout and absolute lifetime.
async fn lifetimes(h: Harness) {
    let idle =
        tokens(Arc::clone(&h.store), Duration::from_secs(60)).idle_timeout(Duration::from_secs(1));
    let absolute = tokens(h.store, Duration::from_secs(60))
        .absolute_lifetime(Duration::from_secs(2))
        .idle_timeout(Duration::from_secs(60));
    let idle_pair = idle.login("user-1", &claims()).await.unwrap();
    let abs_pair = absolute.login("user-1", &claims()).await.unwrap();
    assert!(idle_pair.refresh_expires_in <= 1);
    // An active session survives its idle timeout by refreshing…
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
    // Their access tokens live to their own `exp`: expiry is not revocation.
    let app = app(&absolute);
    assert_serves(&app, &abs_pair).await;
}

/// Access tokens naming a session that does not exist, or another subject's
/// session, are refused; hostile refresh tokens are refused without panics.
async fn forged_and_hostile(h: Harness) {
    let tokens = tokens(h.store, Duration::from_secs(60));
    let app = app(&tokens);
    let real = tokens.login("user-1", &claims()).await.unwrap();
    let unknown = tokens
        .issuer()
        .issue_in_session("user-1", &claims(), Some("no-such-session"))
        .unwrap();
    assert_eq!(
        app.bearer(&unknown.access_token).await.error,
        Some(AuthError::Revoked)
    );
    let borrowed = tokens
        .issuer()
        .issue_in_session("user-2", &claims(), Some(&real.session))
        .unwrap();
    assert_eq!(
        app.bearer(&borrowed.access_token).await.error,
        Some(AuthError::Revoked)
    );

    let (handle, secret) = real.refresh_token.split_once('.').unwrap();
    let hostile = [
        String::new(),
        ".".into(),
        "a.b".into(),
        "x".repeat(100_000),
        format!("{handle}.{secret}."),
        format!("{handle}..{secret}"),
        format!("{handle}.{}", &secret[1..]),
        format!("{handle}.{}é", &secret[2..]),
        format!("{handle}.{}+", &secret[1..]),
        format!("{}.{secret}", real.session),
        real.access.access_token.clone(),
        "\0".repeat(66),
        "é".repeat(33),
    ];
    for token in &hostile {
        assert_eq!(
            tokens.refresh(token).await,
            Err(RefreshError::Invalid),
            "{token:?}"
        );
        tokens.logout(token).await.unwrap();
    }
    // None of them touched the real session.
    assert!(tokens.refresh(&real.refresh_token).await.is_ok());
}

/// The logout epoch outlives every session that recorded it: a session
/// created after a "log out everywhere" and living longer than that logout's
/// record would otherwise survive the next one (the counter restarting at 0).
async fn epoch_outlives_sessions(h: Harness) {
    let short = tokens(Arc::clone(&h.store), Duration::from_secs(1))
        .absolute_lifetime(Duration::from_secs(1));
    // Access tokens of 2 s: one must still be alive (not expired) when it is
    // found revoked below.
    let long = tokens(h.store, Duration::from_secs(2)).absolute_lifetime(Duration::from_secs(10));
    short.logout_everywhere("user-1").await.unwrap();
    // A session created after it, living longer than its record (1 s + 2 s).
    let pair = long.login("user-1", &claims()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(3300)).await;
    let pair = long.refresh(&pair.refresh_token).await.unwrap();
    long.logout_everywhere("user-1").await.unwrap();
    assert_eq!(
        long.refresh(&pair.refresh_token).await,
        Err(RefreshError::Invalid)
    );
    assert_revoked(&app(&long), &pair).await;
}

/// A refresh is not a login: every access token of a session carries the
/// login's `auth_time`, `acr` and `amr`, however often it is refreshed; a
/// plain login records now. The application cannot set them as claims.
async fn authentication_survives_refresh(h: Harness) {
    let tokens = tokens(h.store, Duration::from_secs(60));
    let verify = |pair: &TokenPair| {
        tokens
            .issuer()
            .validator()
            .verify::<serde_json::Value>(&pair.access.access_token)
            .unwrap()
    };
    let login_time = now() - 3600;
    let login = Authentication::at(login_time)
        .with_acr("mfa")
        .with_amr(["pwd", "otp"]);
    let mut pair = tokens
        .login_authenticated("user-1", &claims(), &login)
        .await
        .unwrap();
    for _ in 0..3 {
        let verified = verify(&pair);
        assert_eq!(verified.token().auth_time(), Some(login_time));
        assert_eq!(verified.token().acr(), Some("mfa"));
        assert_eq!(verified.token().amr(), ["pwd", "otp"]);
        assert_eq!(verified.claims()["name"], "Ada");
        pair = tokens.refresh(&pair.refresh_token).await.unwrap();
    }

    let before = now();
    let plain = tokens.login("user-2", &claims()).await.unwrap();
    let auth_time = verify(&plain).token().auth_time().unwrap();
    assert!((before..=now()).contains(&auth_time));
    assert_eq!(verify(&plain).token().acr(), None);
    assert!(verify(&plain).token().amr().is_empty());
    // A second later, a refresh issues a token of a later `iat`, same `auth_time`.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let refreshed = tokens.refresh(&plain.refresh_token).await.unwrap();
    let verified = verify(&refreshed);
    assert!(verified.token().registered().iat > Some(auth_time));
    assert_eq!(verified.token().auth_time(), Some(auth_time));

    for name in ["auth_time", "acr", "amr"] {
        assert_eq!(
            tokens.login("user-3", &json!({ name: 1 })).await,
            Err(RefreshError::Issue(IssueError::ReservedClaim(name.into())))
        );
    }
}

// ------------------------------------------------------------- memory store

#[tokio::test]
async fn memory_authentication_survives_refresh() {
    authentication_survives_refresh(memory(64)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_lifecycle() {
    lifecycle(memory(64)).await;
}

#[tokio::test]
async fn memory_reuse_detected_at_any_depth() {
    reuse_at_any_depth(memory(64)).await;
}

#[tokio::test]
async fn memory_storage_is_constant_per_session() {
    constant_storage(memory(64)).await;
}

#[tokio::test]
async fn memory_sessions_per_subject_are_capped() {
    sessions_per_subject_are_capped(memory(64)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_race_strict() {
    race_strict(memory(64)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_race_with_grace() {
    race_with_grace(memory(64)).await;
}

#[tokio::test]
async fn memory_grace_window() {
    grace_window(memory(64)).await;
}

#[tokio::test]
async fn memory_logout_everywhere() {
    let h = memory(10_000);
    everywhere(&h, 10_000).await;
}

#[tokio::test]
async fn memory_lifetimes() {
    lifetimes(memory(64)).await;
}

#[tokio::test]
async fn memory_logout_epoch_outlives_every_session() {
    epoch_outlives_sessions(memory(64)).await;
}

#[tokio::test]
async fn memory_forged_and_hostile() {
    forged_and_hostile(memory(64)).await;
}

/// Reuse is a security event: a warning naming the subject and the session,
/// and never any part of a refresh token.
#[tokio::test(flavor = "current_thread")]
async fn reuse_is_logged_with_subject_and_session_never_the_token() {
    let (captured, _guard) = capture_logs();

    let tokens = tokens(Arc::new(MemoryStore::new()), Duration::from_secs(60));
    let first = tokens.login("mallory-target", &claims()).await.unwrap();
    let second = tokens.refresh(&first.refresh_token).await.unwrap();
    assert!(matches!(
        tokens.refresh(&first.refresh_token).await,
        Err(RefreshError::Reused { .. })
    ));
    let _ = tokens.refresh(&second.refresh_token).await;
    tokens.logout(&second.refresh_token).await.unwrap();

    let log = captured.text();
    let warning = log
        .lines()
        .find(|line| line.contains("WARN") && line.contains("reuse"))
        .unwrap_or_else(|| panic!("no reuse warning in:\n{log}"));
    assert!(warning.contains("mallory-target"), "{warning}");
    assert!(warning.contains(&first.session), "{warning}");
    for token in [&first.refresh_token, &second.refresh_token] {
        let (handle, secret) = token.split_once('.').unwrap();
        assert!(!log.contains(handle), "the handle leaked into the log");
        assert!(!log.contains(secret), "a secret leaked into the log");
    }
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

    // Full, a subject at its own bound still logs in (replacing its oldest
    // session), and a refused login evicts nothing.
    let store = Arc::new(MemoryStore::with_capacity(2).max_sessions_per_subject(1));
    let bounded = RefreshTokens::with_shared_store(tokens.issuer().clone(), store.clone());
    let a1 = bounded.login("a", &claims()).await.unwrap();
    let b = bounded.login("b", &claims()).await.unwrap();
    let a2 = bounded.login("a", &claims()).await.unwrap();
    assert!(matches!(
        bounded.login("c", &claims()).await,
        Err(RefreshError::Store(_))
    ));
    assert_eq!(
        bounded.refresh(&a1.refresh_token).await,
        Err(RefreshError::Invalid)
    );
    assert!(bounded.refresh(&a2.refresh_token).await.is_ok());
    assert!(bounded.refresh(&b.refresh_token).await.is_ok());

    // Records are purged once their access tokens have expired, to make room.
    let store = Arc::new(MemoryStore::with_capacity(1));
    let short = RefreshTokens::with_shared_store(
        tokens.issuer().clone().access_ttl(Duration::from_secs(1)),
        store.clone(),
    )
    .absolute_lifetime(Duration::from_secs(1));
    short.login("a", &claims()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(3100)).await;
    short.login("b", &claims()).await.unwrap();
    assert_eq!(store.len(), 1);
}

// -------------------------------------------------------------- redis store

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_scenarios() {
    let server = Arc::new(RedisServer::start());
    tokio::join!(
        lifecycle(redis(&server, 64).await),
        reuse_at_any_depth(redis(&server, 64).await),
        constant_storage(redis(&server, 64).await),
        sessions_per_subject_are_capped(redis(&server, 64).await),
        race_strict(redis(&server, 64).await),
        race_with_grace(redis(&server, 64).await),
        grace_window(redis(&server, 64).await),
        lifetimes(redis(&server, 64).await),
        forged_and_hostile(redis(&server, 64).await),
        epoch_outlives_sessions(redis(&server, 64).await),
        authentication_survives_refresh(redis(&server, 64).await),
    );
}

/// A session stored before sessions kept their authentication has no `authn`
/// field: its login time is its creation, which is what `login` records.
#[tokio::test]
async fn redis_session_without_authentication_is_its_creation() {
    let server = RedisServer::start();
    let store: Arc<dyn Store> = Arc::new(RedisStore::connect(&server.url).await.unwrap());
    let tokens = tokens(store, Duration::from_secs(60));
    let before = now();
    let pair = tokens
        .login_authenticated(
            "user-1",
            &claims(),
            &Authentication::at(before - 600).with_acr("mfa"),
        )
        .await
        .unwrap();
    let removed: i64 = redis::cmd("HDEL")
        .arg(format!("jwt:{{s:{}}}", pair.session))
        .arg("authn")
        .query(&mut server.connection())
        .unwrap();
    assert_eq!(
        removed, 1,
        "the session keeps its authentication in `authn`"
    );
    let next = tokens.refresh(&pair.refresh_token).await.unwrap();
    let verified = tokens
        .issuer()
        .validator()
        .verify::<serde_json::Value>(&next.access.access_token)
        .unwrap();
    let auth_time = verified.token().auth_time().unwrap();
    assert!((before..=now()).contains(&auth_time), "{auth_time}");
    assert_eq!(verified.token().acr(), None);
}

/// The same scenarios with the revocation cache on: one instance sees its
/// own revocations at once, whatever it cached.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_scenarios_with_revocation_cache() {
    let server = Arc::new(RedisServer::start());
    tokio::join!(
        lifecycle(redis_cached(&server, 64).await),
        reuse_at_any_depth(redis_cached(&server, 64).await),
        constant_storage(redis_cached(&server, 64).await),
        sessions_per_subject_are_capped(redis_cached(&server, 64).await),
        race_strict(redis_cached(&server, 64).await),
        race_with_grace(redis_cached(&server, 64).await),
        grace_window(redis_cached(&server, 64).await),
        lifetimes(redis_cached(&server, 64).await),
        forged_and_hostile(redis_cached(&server, 64).await),
        epoch_outlives_sessions(redis_cached(&server, 64).await),
        authentication_survives_refresh(redis_cached(&server, 64).await),
    );
}

/// Log out everywhere with 10 000 sessions of one subject costs a constant
/// number of Redis commands (counted with `INFO commandstats`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_logout_everywhere_is_constant_time() {
    let server = Arc::new(RedisServer::start());
    let h = redis(&server, 10_000).await;
    let tokens = everywhere(&h, 10_000).await;
    assert!(
        (h.sessions)() >= 10_000 - 3,
        "the 10 000 sessions were all there"
    );

    // Measure one more, with the script already loaded.
    server.reset_stats();
    tokens.logout_everywhere("user-1").await.unwrap();
    let calls = server.command_calls();
    let total: u64 = calls.iter().map(|(_, n)| n).sum();
    eprintln!("log out everywhere, 10 000 sessions: {total} commands {calls:?}");
    // The script: HINCRBY, HSET, PTTL, PEXPIRE and the PUBLISH for the
    // instances that cache revocation state.
    assert!(total <= 6, "{calls:?}");
    assert!(calls.iter().all(|(name, _)| !name.contains("scan")
        && !name.contains("smembers")
        && !name.contains("zrange")));

    // The same with a subject of one session: the same count.
    let single = tokens.login("user-3", &claims()).await.unwrap();
    server.reset_stats();
    tokens.logout_everywhere("user-3").await.unwrap();
    let small: u64 = server.command_calls().iter().map(|(_, n)| n).sum();
    assert_eq!(small, total);
    assert_eq!(
        tokens.refresh(&single.refresh_token).await,
        Err(RefreshError::Invalid)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_shared_by_two_instances() {
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
    assert_revoked(&app(&instance_b), &next).await;
}

/// A resource server that verifies the issuer's tokens and reads the issuer's
/// store (`revocations`: on the same store, or on another connection to it)
/// sees every revocation the issuer makes, at once, and nothing else.
/// `warm` runs once the resource server has answered for every token (and,
/// with a cache, cached the answers), before the first revocation.
async fn resource_server_sees_the_issuers_revocations(
    issuer_store: Arc<dyn Store>,
    revocations: impl FnOnce(&RefreshTokens) -> StoreRevocations,
    warm: impl AsyncFnOnce(),
) {
    // Across connections a revocation arrives by pub/sub (well under a
    // millisecond): wait up to 2 s for it, far below the 10 minutes a missed
    // invalidation would leave a cached answer standing.
    async fn revoked(app: &App, token: &str) {
        for _ in 0..200 {
            if app.bearer(token).await.error == Some(AuthError::Revoked) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the resource server still accepts a revoked token");
    }
    let tokens = tokens(issuer_store, Duration::from_secs(60));
    // Only the issuer's validator and its store: no `RefreshTokens`, no key
    // that signs.
    let resource = App::new(
        JwtLayer::new(tokens.issuer().validator().clone()).revocation(revocations(&tokens)),
    );
    let laptop = tokens.login("user-1", &claims()).await.unwrap();
    let phone = tokens.login("user-1", &claims()).await.unwrap();
    let other = tokens.login("user-2", &claims()).await.unwrap();
    let plain = tokens.issuer().issue("user-3", &claims()).unwrap();
    for pair in [&laptop, &phone, &other] {
        assert_serves(&resource, pair).await;
    }
    assert_eq!(
        resource.bearer(&plain.access_token).await.status,
        StatusCode::OK
    );
    warm().await;

    tokens.logout(&laptop.refresh_token).await.unwrap();
    revoked(&resource, &laptop.access.access_token).await;
    assert_serves(&resource, &phone).await;

    tokens.logout_everywhere("user-1").await.unwrap();
    revoked(&resource, &phone.access.access_token).await;
    assert_serves(&resource, &other).await;

    let verified = tokens
        .issuer()
        .validator()
        .verify::<serde_json::Value>(&plain.access_token)
        .unwrap();
    tokens.revoke_access_token(verified.token()).await.unwrap();
    revoked(&resource, &plain.access_token).await;
    assert_serves(&resource, &other).await;
}

/// Another layer of the issuer's own process, on its in-memory store.
#[tokio::test]
async fn memory_resource_server_sees_the_issuers_revocations() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    resource_server_sees_the_issuers_revocations(store, RefreshTokens::revocations, async || {})
        .await;
}

/// Two services, two connections to one Redis; the resource server caches
/// revocation answers for 10 minutes, so only the issuer's invalidations can
/// make it see the revocations in time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_resource_server_sees_the_issuers_revocations() {
    let server = RedisServer::start();
    let issuer: Arc<dyn Store> = Arc::new(RedisStore::connect(&server.url).await.unwrap());
    let resource = RedisStore::connect(&server.url)
        .await
        .unwrap()
        .cache_revocations(RevocationCache::new().max_age(Duration::from_secs(600)))
        .unwrap();
    let stats = resource.clone();
    // Answers are cached only while the subscription is alive: wait for it,
    // then make sure the first answers were cached, so that what follows
    // tests invalidation, not a cache that was never used.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !stats.revocation_cache_stats().unwrap().subscribed {
        assert!(std::time::Instant::now() < deadline, "never subscribed");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let cached = async || {
        let stats = stats.revocation_cache_stats().unwrap();
        assert!(stats.subscribed && stats.entries > 0, "{stats:?}");
    };
    resource_server_sees_the_issuers_revocations(
        issuer,
        move |_| StoreRevocations::new(resource),
        cached,
    )
    .await;
}

/// The issuer's Redis cannot be reached: every token is refused with a 503
/// (the store cannot say it is not revoked), none is served.
#[tokio::test]
async fn store_revocations_fail_closed_when_the_store_is_down() {
    let tokens = tokens(Arc::new(MemoryStore::new()), Duration::from_secs(60));
    let unreachable = RedisStore::lazy("redis://127.0.0.1:1/", Duration::from_secs(1)).unwrap();
    let resource = App::new(
        JwtLayer::new(tokens.issuer().validator().clone())
            .revocation(StoreRevocations::new(unreachable)),
    );
    let pair = tokens.login("user-1", &claims()).await.unwrap();
    let plain = tokens.issuer().issue("user-2", &claims()).unwrap();
    for token in [&pair.access.access_token, &plain.access_token] {
        let reply = resource.bearer(token).await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(reply.error, Some(AuthError::StoreUnavailable));
    }
}

#[tokio::test]
async fn redis_prefix_cannot_break_hash_tags() {
    let store = RedisStore::lazy("redis://127.0.0.1:1/", Duration::from_secs(1)).unwrap();
    assert!(store.clone().with_prefix("app{1}:").is_err());
    assert!(store.with_prefix("app:").is_ok());
}

/// Redis killed mid-test: 503, nothing accepted, nothing issued. Restarted
/// (append-only file, fsync always): no revocation is lost, live sessions go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_fails_closed_and_restart_loses_no_revocation() {
    let mut server = RedisServer::start_with(Durability::AppendOnlyAlways);
    let store: Arc<dyn Store> = Arc::new(RedisStore::connect(&server.url).await.unwrap());
    let tokens = tokens(store, Duration::from_secs(60));
    let app = app(&tokens);

    // Revocations of every kind: reuse, logout, log out everywhere, jti.
    let stolen = tokens.login("victim", &claims()).await.unwrap();
    let thief = tokens.refresh(&stolen.refresh_token).await.unwrap();
    assert!(matches!(
        tokens.refresh(&stolen.refresh_token).await,
        Err(RefreshError::Reused { .. })
    ));
    let logged_out = tokens.login("user-1", &claims()).await.unwrap();
    tokens.logout(&logged_out.refresh_token).await.unwrap();
    let everywhere = tokens.login("user-2", &claims()).await.unwrap();
    let plain = tokens.issuer().issue("user-2", &claims()).unwrap();
    tokens.logout_everywhere("user-2").await.unwrap();
    let denied = tokens.issuer().issue("user-3", &claims()).unwrap();
    let verified = tokens
        .issuer()
        .validator()
        .verify::<serde_json::Value>(&denied.access_token)
        .unwrap();
    tokens.revoke_access_token(verified.token()).await.unwrap();
    let live = tokens.login("user-4", &claims()).await.unwrap();
    assert_serves(&app, &live).await;
    // Every key ends when its data stops mattering.
    assert!(server.count_keys("*") >= 6);
    assert_eq!(server.keys_without_ttl("*"), Vec::<String>::new());

    server.kill();
    let before = app.calls();
    let reply = app.bearer(&live.access.access_token).await;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        reply.body
    );
    assert_eq!(reply.error, Some(AuthError::StoreUnavailable));
    for token in [&thief.access.access_token, &plain.access_token] {
        assert_eq!(
            app.bearer(token).await.status,
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
    assert_eq!(
        app.calls(),
        before,
        "nothing is accepted while the store is down"
    );
    assert!(matches!(
        tokens.refresh(&live.refresh_token).await,
        Err(RefreshError::Store(_))
    ));
    assert!(matches!(
        tokens.login("user-1", &claims()).await,
        Err(RefreshError::Store(_))
    ));
    assert!(matches!(
        tokens.logout(&live.refresh_token).await,
        Err(RefreshError::Store(_))
    ));
    assert!(matches!(
        tokens.logout_everywhere("user-4").await,
        Err(RefreshError::Store(_))
    ));

    server.restart();
    // The connection manager reconnects on the next requests.
    let mut answered = false;
    for _ in 0..50 {
        if app.bearer(&live.access.access_token).await.status == StatusCode::OK {
            answered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(answered, "the live session works again after the restart");
    for token in [
        &thief.access.access_token,
        &stolen.access.access_token,
        &logged_out.access.access_token,
        &everywhere.access.access_token,
        &plain.access_token,
        &denied.access_token,
    ] {
        assert_eq!(app.bearer(token).await.error, Some(AuthError::Revoked));
    }
    for refresh in [
        &thief.refresh_token,
        &logged_out.refresh_token,
        &everywhere.refresh_token,
    ] {
        assert_eq!(tokens.refresh(refresh).await, Err(RefreshError::Invalid));
    }
    assert!(tokens.refresh(&live.refresh_token).await.is_ok());
    assert_eq!(server.keys_without_ttl("*"), Vec::<String>::new());

    // A store that was never reachable fails at connect, with the reason.
    let err = RedisStore::connect("redis://127.0.0.1:1/")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("redis"), "{err}");
}
