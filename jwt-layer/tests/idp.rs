//! An identity provider without outages: the layer's key resolver fetches the
//! JWKS again when a token names an unknown `kid` (single-flight, cooldown,
//! timeout, stale keys kept), and several issuers each verify with their own
//! keys and policy. Against a real provider stand-in on 127.0.0.1:0 that
//! rotates its keys and can be made slow or failing (`provider`).
mod common;
mod provider;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use common::*;
use http::{Request, StatusCode, header};
use jwt_layer::jwks::{JwksError, RemoteJwks};
use jwt_layer::{Algorithm, AuthError, Issuers, JwtLayer, KeySet, SigningKey, Validator};
use provider::*;
use serde_json::json;
use tower::ServiceExt;

/// The provider rotates its keys while 500 requests carrying the new `kid`
/// arrive at once: one fetch serves them all, every one is answered 200, and
/// none waits longer than the timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_under_500_concurrent_requests_costs_one_fetch() {
    let old = ec("2026-10");
    let new = rsa("2026-11");
    let provider = Provider::start(&[&old]).await;
    // The default timeout.
    let timeout = jwt_layer::jwks::DEFAULT_TIMEOUT;
    let jwks = remote(&provider, Duration::from_secs(30), timeout).await;
    let app = app_for(&jwks);
    assert_eq!(provider.hits(), 1);
    assert_eq!(app.bearer(&token(&old)).await.status, StatusCode::OK);

    // Rotation; the provider is a little slow, so the requests pile up on the fetch.
    provider.publish(&[&old, &new]);
    provider.delay_ms.store(200, Ordering::SeqCst);
    let new_token = token(&new);
    let started = Instant::now();
    let requests = (0..500).map(|_| {
        let router = app.router.clone();
        let token = new_token.clone();
        tokio::spawn(async move {
            let began = Instant::now();
            let request = Request::get("/")
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap();
            let response = router.oneshot(request).await.unwrap();
            (response.status(), began.elapsed())
        })
    });
    let mut longest = Duration::ZERO;
    for request in requests.collect::<Vec<_>>() {
        let (status, waited) = request.await.unwrap();
        assert_eq!(status, StatusCode::OK);
        longest = longest.max(waited);
    }
    eprintln!(
        "500 requests with the new kid: provider fetches {} (1 at start), longest wait {longest:?}, all done in {:?}",
        provider.hits(),
        started.elapsed()
    );
    assert_eq!(provider.hits(), 2, "exactly one fetch for the rotation");
    assert_eq!(jwks.fetch_count(), 2);
    // Here the wait includes verifying 500 signatures on 2 shared cores; with
    // the pure-Rust backend in a debug build that alone takes seconds, so the
    // bound is checked with aws-lc-rs, and on the fetch alone below.
    #[cfg(feature = "aws-lc-rs")]
    assert!(longest < timeout, "a request waited {longest:?}");
    assert_eq!(app.calls(), 501);
    // The old key is still published, so still accepted.
    assert_eq!(app.bearer(&token(&old)).await.status, StatusCode::OK);
}

/// Made-up `kid`s, many and at once, then again: one fetch per cooldown, and
/// every such token refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_unknown_kids_costs_at_most_one_fetch_per_cooldown() {
    let known = ec("known");
    let provider = Provider::start(&[&known]).await;
    let jwks = remote(&provider, Duration::from_secs(30), Duration::from_secs(3)).await;
    let app = app_for(&jwks);
    for round in 0..2 {
        let floods = (0..200).map(|i| {
            let router = app.router.clone();
            let token = token(&ec(&format!("made-up-{round}-{i}")));
            tokio::spawn(async move {
                let request = Request::get("/")
                    .header(header::AUTHORIZATION, format!("Bearer {token}"))
                    .body(Body::empty())
                    .unwrap();
                Reply::read(router.oneshot(request).await.unwrap()).await
            })
        });
        for flood in floods.collect::<Vec<_>>() {
            let reply = flood.await.unwrap();
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
            assert_eq!(reply.error, Some(AuthError::UnknownKey));
        }
        // The start, then one refetch for both rounds: the second falls in the cooldown.
        assert_eq!(provider.hits(), 2, "round {round}");
    }
    assert_eq!(app.calls(), 0);
    assert_eq!(app.bearer(&token(&known)).await.status, StatusCode::OK);
}

/// A flood that lasts several cooldowns: waves of made-up `kid`s every
/// 50 ms for about 1.5 s, with a 300 ms cooldown. Fetches stay within one per
/// cooldown window (plus the start), however many tokens arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lasting_flood_costs_one_fetch_per_cooldown_window() {
    let known = ec("known");
    let provider = Provider::start(&[&known]).await;
    let cooldown = Duration::from_millis(300);
    let jwks = remote(&provider, cooldown, Duration::from_secs(3)).await;
    let app = app_for(&jwks);
    // One key under ever new kids. Signing takes time (much of it with the
    // pure-Rust backend in a debug build), so a wave may span several
    // windows; the bound below follows the time actually taken.
    let signing = ec("made-up");
    let started = Instant::now();
    let mut sent = 0;
    while started.elapsed() < Duration::from_millis(1_500) {
        let wave = (0..50).map(|i| {
            let router = app.router.clone();
            let token = token(&signing.clone().with_kid(format!("made-up-{sent}-{i}")));
            tokio::spawn(async move {
                let request = Request::get("/")
                    .header(header::AUTHORIZATION, format!("Bearer {token}"))
                    .body(Body::empty())
                    .unwrap();
                Reply::read(router.oneshot(request).await.unwrap()).await
            })
        });
        for reply in wave.collect::<Vec<_>>() {
            assert_eq!(reply.await.unwrap().error, Some(AuthError::UnknownKey));
        }
        sent += 50;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = started.elapsed();
    let refetches = provider.hits() - 1;
    // Refetches start at least one cooldown apart: at most one per window.
    let windows = (elapsed.as_millis() / cooldown.as_millis()) as usize + 1;
    eprintln!(
        "{sent} tokens with unknown kids over {elapsed:?}, cooldown {cooldown:?}: {refetches} refetches (at most {windows})"
    );
    assert!(refetches >= 1, "the first unknown kid fetches");
    assert!(
        refetches <= windows,
        "{refetches} refetches in {windows} windows"
    );
    assert_eq!(jwks.fetch_count(), provider.hits() as u64);
}

/// The provider fails: the keys fetched last still verify and an unknown
/// `kid` is refused; once it is back, its new keys are picked up.
#[tokio::test]
async fn provider_down_keeps_the_last_keys_and_back_brings_the_new_ones() {
    let old = ec("old");
    let new = rsa("new");
    let provider = Provider::start(&[&old]).await;
    let cooldown = Duration::from_millis(200);
    let jwks = remote(&provider, cooldown, Duration::from_secs(2)).await;
    let app = app_for(&jwks);

    provider.failing.store(true, Ordering::SeqCst);
    provider.publish(&[&old, &new]);
    let reply = app.bearer(&token(&new)).await;
    assert_eq!(reply.error, Some(AuthError::UnknownKey));
    assert_eq!(provider.hits(), 2, "the refetch was tried");
    assert_eq!(app.bearer(&token(&old)).await.status, StatusCode::OK);
    assert!(matches!(jwks.refresh().await, Err(JwksError::Fetch(_))));
    assert_eq!(app.bearer(&token(&old)).await.status, StatusCode::OK);

    // Back: after the cooldown, the next unknown kid fetches again.
    provider.failing.store(false, Ordering::SeqCst);
    tokio::time::sleep(cooldown).await;
    assert_eq!(app.bearer(&token(&new)).await.status, StatusCode::OK);
    assert_eq!(app.bearer(&token(&old)).await.status, StatusCode::OK);
}

/// A provider slower than the timeout: the request is answered within the
/// timeout (refused, the key being unknown), and the keys in force stay.
#[tokio::test]
async fn a_slow_provider_never_holds_a_request_past_the_timeout() {
    let old = ec("old");
    let new = rsa("new");
    let provider = Provider::start(&[&old]).await;
    let timeout = Duration::from_millis(300);
    let jwks = remote(&provider, Duration::from_secs(30), timeout).await;
    let app = app_for(&jwks);
    provider.publish(&[&old, &new]);
    provider.delay_ms.store(5_000, Ordering::SeqCst);
    let began = Instant::now();
    let reply = app.bearer(&token(&new)).await;
    let waited = began.elapsed();
    assert_eq!(reply.error, Some(AuthError::UnknownKey));
    assert!(
        waited >= timeout && waited < timeout * 3,
        "waited {waited:?}"
    );
    assert_eq!(app.bearer(&token(&old)).await.status, StatusCode::OK);
}

/// A provider whose first fetch fails: no start.
#[tokio::test]
async fn no_keys_no_start() {
    let provider = Provider::start(&[&ec("k")]).await;
    provider.failing.store(true, Ordering::SeqCst);
    let result = RemoteJwks::builder()
        .start(provider.fetcher(), |keys| Validator::builder(keys).build())
        .await;
    assert!(matches!(result, Err(JwksError::Fetch(_))), "{result:?}");
}

/// Two issuers, each with its own keys and audience: each token verifies with
/// its issuer's keys only; an unknown issuer, or a token claiming issuer A but
/// signed with B's key, is refused.
#[tokio::test]
async fn two_issuers_each_with_its_own_keys_and_audience() {
    const A: &str = "https://a.test";
    const B: &str = "https://b.test";
    let key_a = ec("a-1");
    let key_b = rsa("b-1");
    let provider_b = Provider::start(&[&key_b]).await;
    let a = Validator::builder(KeySet::single(key_a.verifying_key()))
        .issuer(A)
        .audience("api-a")
        .build()
        .unwrap();
    let b = RemoteJwks::builder()
        .start(provider_b.fetcher(), |keys| {
            Validator::builder(keys).issuer(B).audience("api-b").build()
        })
        .await
        .unwrap();
    let issuers = Issuers::new()
        .validator(a.clone())
        .unwrap()
        .issuer(B, b.clone())
        .unwrap();
    let app = App::new(JwtLayer::new(a.clone()).resolver(issuers));

    assert_eq!(
        app.bearer(&token_of(&key_a, A, "api-a")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.bearer(&token_of(&key_b, B, "api-b")).await.status,
        StatusCode::OK
    );
    // Each issuer's own audience.
    assert_eq!(
        app.bearer(&token_of(&key_b, B, "api-a")).await.error,
        Some(AuthError::WrongAudience)
    );
    // Issuer A's name, B's key (and kid): verified with A's keys, refused.
    assert_eq!(
        app.bearer(&token_of(&key_b, A, "api-a")).await.error,
        Some(AuthError::UnknownKey)
    );
    // Issuer A's name, signed with B's key under A's kid: the signature fails.
    let b_as_a = SigningKey::rsa_pem(Algorithm::PS256, &key_file("rsa_private.pem"))
        .unwrap()
        .with_kid("a-1");
    assert!(matches!(
        app.bearer(&token_of(&b_as_a, A, "api-a")).await.error,
        Some(AuthError::DisallowedAlgorithm | AuthError::BadSignature)
    ));
    // An issuer nobody configured.
    assert_eq!(
        app.bearer(&token_of(&key_a, "https://evil.test", "api-a"))
            .await
            .error,
        Some(AuthError::WrongIssuer)
    );
    assert_eq!(app.calls(), 2);
    // Building: an issuer twice, or a validator without issuer.
    assert!(
        Issuers::new()
            .validator(a.clone())
            .unwrap()
            .validator(a)
            .is_err()
    );
    let anonymous = Validator::builder(KeySet::single(key_a.verifying_key()))
        .build()
        .unwrap();
    assert!(Issuers::new().validator(anonymous).is_err());
}

/// Two issuers, each with its own policy, through the real layer: leeway (A
/// 60 s, B none), `typ` rule (A only `at+jwt`, B only `JWT`) and role claim (A
/// Keycloak's `realm_access.roles`, B `roles`), read by a guard behind the layer.
#[tokio::test]
async fn several_issuers_each_with_its_own_leeway_type_rule_and_roles() {
    use jsonwebtoken::{EncodingKey, Header};
    use jwt_layer::{RoleClaim, VerifiedToken};
    const A: &str = "https://a.test";
    const B: &str = "https://b.test";
    let key_a = ec("a-1");
    let key_b = rsa("b-1");
    let provider_b = Provider::start(&[&key_b]).await;
    let a = Validator::builder(KeySet::single(key_a.verifying_key()))
        .issuer(A)
        .audience("api")
        .leeway(Duration::from_secs(60))
        .accept_types(["at+jwt"])
        .role_claim(RoleClaim::path("realm_access.roles"))
        .build()
        .unwrap();
    let b = RemoteJwks::builder()
        .start(provider_b.fetcher(), |keys| {
            Validator::builder(keys)
                .issuer(B)
                .audience("api")
                .leeway(Duration::ZERO)
                .accept_types(["JWT"])
                .build()
        })
        .await
        .unwrap();
    let issuers = Issuers::new()
        .validator(a.clone())
        .unwrap()
        .issuer(B, b)
        .unwrap();
    // `/` answers the roles the token's issuer reads; `/admin` requires the
    // role `admin` (a guard of jwt-extractor, behind the layer).
    let router = Router::new()
        .route(
            "/",
            get(|request: Request<Body>| async move {
                let token = VerifiedToken::from_extensions(request.extensions()).unwrap();
                token.roles().join(",")
            }),
        )
        .merge(
            Router::new()
                .route("/admin", get(|| async { "admin area" }))
                .route_layer(jwt_extractor::require(|token| token.has_role("admin"))),
        )
        .layer(JwtLayer::<serde_json::Value>::new(a).resolver(issuers));
    let call = |path: &'static str, token: String| {
        let router = router.clone();
        async move {
            let request = Request::get(path)
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap();
            Reply::read(router.oneshot(request).await.unwrap()).await
        }
    };
    let ec_key = EncodingKey::from_ec_pem(&key_file("ec_private.pem")).unwrap();
    let rsa_key = EncodingKey::from_rsa_pem(&key_file("rsa_private.pem")).unwrap();
    // A token of `issuer`, typed `typ`, expiring `exp_offset` seconds from now.
    let signed = |signing: &SigningKey, issuer: &str, typ: &str, exp_offset: i64| {
        let mut header = Header::new(signing.algorithm());
        header.kid = signing.kid().map(str::to_owned);
        header.typ = Some(typ.to_owned());
        let now = now() as i64;
        let claims = json!({
            "iss": issuer, "aud": "api", "sub": "user-1",
            "iat": now - 300, "nbf": now - 300, "exp": now + exp_offset,
            "roles": ["user"], "realm_access": { "roles": ["admin"] },
        });
        let key = if signing.algorithm() == Algorithm::ES256 {
            &ec_key
        } else {
            &rsa_key
        };
        sign(&header, &claims, key)
    };

    // Valid tokens of each: each issuer's own role claim.
    let reply = call("/", signed(&key_a, A, "at+jwt", 60)).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::OK, "admin")
    );
    let reply = call("/", signed(&key_b, B, "JWT", 60)).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::OK, "user")
    );
    assert_eq!(
        call("/admin", signed(&key_a, A, "at+jwt", 60)).await.status,
        StatusCode::OK
    );
    let reply = call("/admin", signed(&key_b, B, "JWT", 60)).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.error, Some(AuthError::InsufficientScope));

    // Leeway: expired 30 s ago passes A (60 s) and not B (none).
    assert_eq!(
        call("/", signed(&key_a, A, "at+jwt", -30)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        call("/", signed(&key_b, B, "JWT", -30)).await.error,
        Some(AuthError::Expired)
    );
    // Past A's leeway too.
    assert_eq!(
        call("/", signed(&key_a, A, "at+jwt", -90)).await.error,
        Some(AuthError::Expired)
    );

    // typ: A requires at+jwt, B accepts JWT only.
    assert_eq!(
        call("/", signed(&key_a, A, "JWT", 60)).await.error,
        Some(AuthError::WrongType)
    );
    assert_eq!(
        call("/", signed(&key_b, B, "at+jwt", 60)).await.error,
        Some(AuthError::WrongType)
    );

    // Issuer A's name with B's key: verified with A's keys, refused.
    assert_eq!(
        call("/", signed(&key_b, A, "at+jwt", 60)).await.error,
        Some(AuthError::UnknownKey)
    );
    // Issuer B's name with A's key: the same the other way round.
    assert_eq!(
        call("/", signed(&key_a, B, "JWT", 60)).await.error,
        Some(AuthError::UnknownKey)
    );
    // An issuer nobody configured, or none at all.
    assert_eq!(
        call("/", signed(&key_a, "https://evil.test", "at+jwt", 60))
            .await
            .error,
        Some(AuthError::WrongIssuer)
    );
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("a-1".to_owned());
    header.typ = Some("at+jwt".to_owned());
    let now = now();
    let no_issuer = sign(
        &header,
        &json!({ "aud": "api", "sub": "user-1", "iat": now, "exp": now + 60 }),
        &ec_key,
    );
    assert_eq!(
        call("/", no_issuer).await.error,
        Some(AuthError::WrongIssuer)
    );
}

/// The wait for the fetch alone: 500 concurrent lookups of a new `kid` through
/// the resolver share one fetch, and none waits longer than the timeout, even
/// when the provider is slower than that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_lookups_share_one_fetch_and_none_outlasts_the_timeout() {
    use jwt_layer::{KeyResolver, UnverifiedToken};
    let old = ec("old");
    let new = rsa("new");
    let provider = Provider::start(&[&old]).await;
    let timeout = Duration::from_millis(500);
    provider.publish(&[&old, &new]);
    let unverified = Arc::new(UnverifiedToken::peek(&token(&new)).unwrap());
    // First a provider slower than the timeout, then a merely slow one.
    for (delay_ms, keys_after) in [(2_000, 1), (100, 2)] {
        provider.publish(&[&old]);
        provider.delay_ms.store(0, Ordering::SeqCst);
        let jwks = remote(&provider, Duration::from_secs(30), timeout).await;
        provider.publish(&[&old, &new]);
        provider.delay_ms.store(delay_ms, Ordering::SeqCst);
        let hits_before = provider.hits();
        let lookups = (0..500).map(|_| {
            let jwks = jwks.clone();
            let unverified = Arc::clone(&unverified);
            tokio::spawn(async move {
                let parts = Request::new(()).into_parts().0;
                let began = Instant::now();
                let validator = jwks.resolve(&parts, &unverified).await.unwrap();
                (began.elapsed(), validator.keys().len())
            })
        });
        let mut longest = Duration::ZERO;
        for lookup in lookups.collect::<Vec<_>>() {
            let (waited, keys) = lookup.await.unwrap();
            longest = longest.max(waited);
            assert_eq!(keys, keys_after, "keys in force");
        }
        let fetches = provider.hits() - hits_before;
        eprintln!(
            "500 lookups, provider delay {delay_ms} ms, timeout {timeout:?}: {fetches} fetch, longest wait {longest:?}"
        );
        assert_eq!(fetches, 1);
        assert!(
            longest < timeout + Duration::from_millis(250),
            "waited {longest:?}"
        );
    }
}
