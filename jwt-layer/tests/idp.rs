//! An identity provider without outages: the layer's key resolver fetches the
//! JWKS again when a token names an unknown `kid` (single-flight, cooldown,
//! timeout, stale keys kept), and several issuers each verify with their own
//! keys. Against a real provider stand-in on 127.0.0.1:0 that rotates its
//! keys and can be made slow or failing.
mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use bytes::Bytes;
use common::*;
use http::{Request, StatusCode, header};
use jwt_layer::BoxFuture;
use jwt_layer::discovery::{Discovery, DiscoveryError};
use jwt_layer::fetch::{FetchDocument, JwksUrl};
use jwt_layer::jwks::{JwksError, RemoteJwks};
use jwt_layer::{
    Algorithm, AuthError, Issuers, JwkSet, JwtLayer, KeySet, SigningKey, TokenIssuer, Validator,
};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

/// The identity provider stand-in: serves `published` at `/jwks.json`, counts
/// the fetches, and can be made slow or failing.
#[derive(Clone)]
struct Provider {
    addr: SocketAddr,
    published: Arc<Mutex<JwkSet>>,
    hits: Arc<AtomicUsize>,
    delay_ms: Arc<AtomicU64>,
    failing: Arc<AtomicBool>,
    /// The OpenID configuration document, served as is.
    metadata: Arc<Mutex<String>>,
    /// How many `304 Not Modified` it answered.
    not_modified: Arc<AtomicUsize>,
}

impl Provider {
    async fn start(keys: &[&SigningKey]) -> Self {
        let published = Arc::new(Mutex::new(jwks(keys)));
        let hits = Arc::new(AtomicUsize::new(0));
        let delay_ms = Arc::new(AtomicU64::new(0));
        let failing = Arc::new(AtomicBool::new(false));
        let metadata = Arc::new(Mutex::new(String::new()));
        let not_modified = Arc::new(AtomicUsize::new(0));
        let not_modified_count = Arc::clone(&not_modified);
        let document = Arc::clone(&metadata);
        let state = (
            Arc::clone(&published),
            Arc::clone(&hits),
            Arc::clone(&delay_ms),
            Arc::clone(&failing),
        );
        let app = Router::new()
            .route(
                "/moved",
                get(|| async { axum::response::Redirect::permanent("/jwks.json") }),
            )
            .route(
                "/.well-known/openid-configuration",
                get(move || {
                    let document = document.lock().unwrap().clone();
                    async move {
                        if document.is_empty() {
                            Err(StatusCode::NOT_FOUND)
                        } else {
                            Ok(([(header::CONTENT_TYPE, "application/json")], document))
                        }
                    }
                }),
            )
            .route(
                "/jwks.json",
                get(move |request_headers: http::HeaderMap| {
                    let (published, hits, delay_ms, failing) = state.clone();
                    let not_modified_count = Arc::clone(&not_modified_count);
                    async move {
                        hits.fetch_add(1, Ordering::SeqCst);
                        let delay = delay_ms.load(Ordering::SeqCst);
                        if delay > 0 {
                            tokio::time::sleep(Duration::from_millis(delay)).await;
                        }
                        if failing.load(Ordering::SeqCst) {
                            return Err(StatusCode::SERVICE_UNAVAILABLE);
                        }
                        let document = serde_json::to_string(&*published.lock().unwrap()).unwrap();
                        // ETag: the document's length and a cheap checksum; max-age 120 s.
                        let sum: u64 = document.bytes().map(u64::from).sum();
                        let etag = format!("\"{}-{sum}\"", document.len());
                        let not_modified = request_headers
                            .get(header::IF_NONE_MATCH)
                            .is_some_and(|value| value.to_str().unwrap() == etag);
                        if not_modified {
                            not_modified_count.fetch_add(1, Ordering::SeqCst);
                        }
                        let status = if not_modified {
                            StatusCode::NOT_MODIFIED
                        } else {
                            StatusCode::OK
                        };
                        let body = if not_modified {
                            String::new()
                        } else {
                            document
                        };
                        Ok((
                            status,
                            [
                                (header::ETAG, etag),
                                (header::CACHE_CONTROL, "public, max-age=120".to_owned()),
                                (header::CONTENT_TYPE, "application/json".to_owned()),
                            ],
                            body,
                        ))
                    }
                }),
            );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            addr,
            published,
            hits,
            delay_ms,
            failing,
            metadata,
            not_modified,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn set_metadata(&self, document: serde_json::Value) {
        *self.metadata.lock().unwrap() = document.to_string();
    }

    fn publish(&self, keys: &[&SigningKey]) {
        *self.published.lock().unwrap() = jwks(keys);
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    fn not_modified(&self) -> usize {
        self.not_modified.load(Ordering::SeqCst)
    }

    fn fetcher(
        &self,
    ) -> impl Fn() -> std::pin::Pin<Box<dyn Future<Output = Result<JwkSet, String>> + Send>>
    + Send
    + Sync
    + 'static {
        let addr = self.addr;
        move || {
            Box::pin(async move {
                let body = http_get(addr, "/jwks.json").await?;
                serde_json::from_str(&body).map_err(|e| e.to_string())
            })
        }
    }
}

fn jwks(keys: &[&SigningKey]) -> JwkSet {
    KeySet::new(keys.iter().map(|k| k.verifying_key()))
        .unwrap()
        .jwks()
}

/// A tiny HTTP GET, standing in for the app's own HTTP client: the response
/// as received (status, headers, body), with `If-None-Match` when given.
async fn http_request(
    addr: SocketAddr,
    path: &str,
    etag: Option<&str>,
) -> Result<http::Response<Bytes>, String> {
    let mut stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let condition = etag
        .map(|e| format!("if-none-match: {e}\r\n"))
        .unwrap_or_default();
    let request =
        format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\n{condition}connection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .map_err(|e| e.to_string())?;
    let (head, body) = response.split_once("\r\n\r\n").ok_or("no body")?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .ok_or("no status line")?;
    let mut builder = http::Response::builder().status(status);
    for line in lines {
        let (name, value) = line.split_once(':').ok_or("bad header line")?;
        builder = builder.header(name.trim(), value.trim());
    }
    builder
        .body(Bytes::from(body.to_owned()))
        .map_err(|e| e.to_string())
}

/// A plain GET: the body of a 200.
async fn http_get(addr: SocketAddr, path: &str) -> Result<String, String> {
    let response = http_request(addr, path, None).await?;
    if response.status() != StatusCode::OK {
        return Err(response.status().to_string());
    }
    Ok(String::from_utf8_lossy(response.body()).into_owned())
}

fn loopback(url: &str) -> Result<(SocketAddr, String), String> {
    let rest = url.strip_prefix("http://").ok_or("http only")?;
    let (authority, path) = rest.split_once('/').ok_or("no path")?;
    let addr: SocketAddr = authority.parse().map_err(|_| "not an address")?;
    Ok((addr, format!("/{path}")))
}

/// The app's HTTP client for discovery: loopback only, like the rest, and
/// plain GETs only (no HTTP caching).
struct Http;

impl FetchDocument for Http {
    fn get<'a>(&'a self, url: &'a str, max_bytes: usize) -> BoxFuture<'a, Result<Bytes, String>> {
        Box::pin(async move {
            let (addr, path) = loopback(url)?;
            // A real client stops reading past `max_bytes`; this one reads a
            // little more, to show the library enforces the cap itself too.
            let body = http_get(addr, &path).await?;
            let keep = body.len().min(max_bytes + 1);
            Ok(Bytes::from(body).slice(..keep))
        })
    }
}

/// The same client, speaking HTTP caching too: conditional GETs.
struct CachingHttp;

impl FetchDocument for CachingHttp {
    fn get<'a>(&'a self, url: &'a str, max_bytes: usize) -> BoxFuture<'a, Result<Bytes, String>> {
        let plain: &'static Http = &Http;
        plain.get(url, max_bytes)
    }

    fn get_conditional<'a>(
        &'a self,
        url: &'a str,
        _max_bytes: usize,
        etag: Option<&'a str>,
    ) -> BoxFuture<'a, Result<http::Response<Bytes>, String>> {
        Box::pin(async move {
            let (addr, path) = loopback(url)?;
            // The whole body, whatever the cap: the library checks it too.
            http_request(addr, &path, etag).await
        })
    }
}

fn ec(kid: &str) -> SigningKey {
    SigningKey::ec_pem(Algorithm::ES256, &key_file("ec_private.pem"))
        .unwrap()
        .with_kid(kid)
}

fn rsa(kid: &str) -> SigningKey {
    SigningKey::rsa_pem(Algorithm::PS256, &key_file("rsa_private.pem"))
        .unwrap()
        .with_kid(kid)
}

/// A token of `issuer` for `audience`, signed with `signing`.
fn token_of(signing: &SigningKey, issuer: &str, audience: &str) -> String {
    let validator = Validator::builder(KeySet::single(signing.verifying_key()))
        .issuer(issuer)
        .audience(audience)
        .build()
        .unwrap();
    TokenIssuer::new(signing.clone(), validator)
        .unwrap()
        .issue("user-1", &json!({ "name": "Ada" }))
        .unwrap()
        .access_token
}

fn token(signing: &SigningKey) -> String {
    token_of(signing, ISSUER, AUDIENCE)
}

async fn remote(provider: &Provider, cooldown: Duration, timeout: Duration) -> RemoteJwks {
    RemoteJwks::builder()
        .cooldown(cooldown)
        .timeout(timeout)
        .start(provider.fetcher(), |keys| {
            Validator::builder(keys)
                .issuer(ISSUER)
                .audience(AUDIENCE)
                .build()
        })
        .await
        .unwrap()
}

fn app_for(jwks: &RemoteJwks) -> App {
    App::new(JwtLayer::new(jwks.validator().clone()).resolver(jwks.clone()))
}

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
                let token = request.extensions().get::<VerifiedToken>().unwrap();
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

/// Discovery against the provider stand-in: its `jwks_uri` is used, and a
/// mismatched issuer, a non-https `jwks_uri` or an oversized document are
/// start-up errors.
#[tokio::test]
async fn discovery_finds_the_keys_and_refuses_what_it_must() {
    let signing = ec("d-1");
    let provider = Provider::start(&[&signing]).await;
    let issuer = provider.url();
    let build = |keys, metadata: &jwt_layer::discovery::ProviderMetadata| {
        Validator::builder(keys)
            .issuer(&metadata.issuer)
            .audience(AUDIENCE)
            .build()
    };

    // Nothing at either well-known URL.
    let err = Discovery::new(&issuer)
        .allow_http_loopback()
        .start(Http, build)
        .await
        .unwrap_err();
    assert!(matches!(err, DiscoveryError::Fetch { .. }), "{err}");

    provider.set_metadata(json!({ "issuer": issuer, "jwks_uri": format!("{issuer}/jwks.json") }));
    let jwks = Discovery::new(&issuer)
        .allow_http_loopback()
        .start(Http, build)
        .await
        .unwrap();
    let app = app_for(&jwks);
    let token = token_of(&signing, &issuer, AUDIENCE);
    assert_eq!(app.bearer(&token).await.status, StatusCode::OK);

    // http is refused unless allowed (and then only to loopback).
    let err = Discovery::new(&issuer)
        .start(Http, build)
        .await
        .unwrap_err();
    assert_eq!(err, DiscoveryError::BadIssuerUrl(issuer.clone()));

    // The document speaks for another issuer.
    provider.set_metadata(
        json!({ "issuer": "https://evil.test", "jwks_uri": format!("{issuer}/jwks.json") }),
    );
    let err = Discovery::new(&issuer)
        .allow_http_loopback()
        .start(Http, build)
        .await
        .unwrap_err();
    assert!(
        matches!(err, DiscoveryError::IssuerMismatch { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("https://evil.test"));

    // A jwks_uri over plain http to a host that is not loopback.
    provider
        .set_metadata(json!({ "issuer": issuer, "jwks_uri": "http://keys.example.com/jwks.json" }));
    let err = Discovery::new(&issuer)
        .allow_http_loopback()
        .start(Http, build)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        DiscoveryError::InsecureJwksUri("http://keys.example.com/jwks.json".into())
    );

    // An oversized document.
    let padding = "x".repeat(100 * 1024);
    provider.set_metadata(
        json!({ "issuer": issuer, "jwks_uri": format!("{issuer}/jwks.json"), "padding": padding }),
    );
    let err = Discovery::new(&issuer)
        .allow_http_loopback()
        .start(Http, build)
        .await
        .unwrap_err();
    assert_eq!(err, DiscoveryError::TooLarge(64 * 1024));
}

/// Discovery's JWKS is fetched the one way every JWKS is (`JwksUrl`): with a
/// client that speaks HTTP caching, an unchanged JWKS costs the provider a
/// `304` (the keys stay), a changed one is fetched whole, `max-age` sets the
/// refresh interval, and the document cap applies to the JWKS too.
#[tokio::test]
async fn discovery_fetches_the_jwks_with_http_caching() {
    let first = ec("c-1");
    let second = rsa("c-2");
    let provider = Provider::start(&[&first]).await;
    let issuer = provider.url();
    let metadata = json!({ "issuer": issuer, "jwks_uri": format!("{issuer}/jwks.json") });
    provider.set_metadata(metadata.clone());
    let build = |keys, metadata: &jwt_layer::discovery::ProviderMetadata| {
        Validator::builder(keys)
            .issuer(&metadata.issuer)
            .audience(AUDIENCE)
            .build()
    };
    let remote = Discovery::new(&issuer)
        .allow_http_loopback()
        .start(CachingHttp, build)
        .await
        .unwrap();
    assert_eq!(provider.hits(), 1);
    assert_eq!(remote.next_refresh(), Duration::from_secs(120), "max-age");
    let app = app_for(&remote);
    let first_token = token_of(&first, &issuer, AUDIENCE);
    assert_eq!(app.bearer(&first_token).await.status, StatusCode::OK);

    // Unchanged: the refresh sends the ETag back, the provider answers 304.
    assert_eq!(remote.refresh().await, Ok(1));
    assert_eq!((provider.hits(), provider.not_modified()), (2, 1));
    assert_eq!(app.bearer(&first_token).await.status, StatusCode::OK);

    // Rotated: a token with the new kid makes the resolver fetch; the ETag no
    // longer matches, so the whole document comes, and its ETag is sent next.
    provider.publish(&[&first, &second]);
    let second_token = token_of(&second, &issuer, AUDIENCE);
    assert_eq!(app.bearer(&second_token).await.status, StatusCode::OK);
    assert_eq!((provider.hits(), provider.not_modified()), (3, 1));
    assert_eq!(remote.refresh().await, Ok(2));
    assert_eq!((provider.hits(), provider.not_modified()), (4, 2));
    assert_eq!(remote.fetch_count(), 4);
    assert_eq!(app.bearer(&first_token).await.status, StatusCode::OK);
    assert_eq!(app.bearer(&second_token).await.status, StatusCode::OK);

    // A client of plain GETs works too, without caching: whole documents,
    // and the refresh interval is the upper bound.
    let plain = Discovery::new(&issuer)
        .allow_http_loopback()
        .refresh_bounds(Duration::from_secs(60), Duration::from_secs(600))
        .start(Http, build)
        .await
        .unwrap();
    assert_eq!(plain.next_refresh(), Duration::from_secs(600));
    assert_eq!(plain.refresh().await, Ok(2));
    assert_eq!((provider.hits(), provider.not_modified()), (6, 2));

    // The document cap applies to the JWKS too: the metadata fits, the JWKS
    // does not.
    let jwks_len = serde_json::to_string(&jwks(&[&first, &second]))
        .unwrap()
        .len();
    let cap = metadata.to_string().len() + 16;
    assert!(cap < jwks_len);
    let err = Discovery::new(&issuer)
        .allow_http_loopback()
        .max_document(cap)
        .start(CachingHttp, build)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, DiscoveryError::Jwks(JwksError::Fetch(reason)) if reason.contains("larger than")),
        "{err}"
    );
}

/// `ETag` and `Cache-Control: max-age` are honoured: an unchanged document
/// is not sent again (304, the keys stay), and the periodic refresh follows
/// `max-age` within the configured bounds.
#[tokio::test]
async fn etag_and_max_age_are_honoured_within_bounds() {
    let first = ec("e-1");
    let second = rsa("e-2");
    let provider = Provider::start(&[&first]).await;
    let start = |bounds: (u64, u64)| {
        RemoteJwks::builder()
            .refresh_bounds(Duration::from_secs(bounds.0), Duration::from_secs(bounds.1))
            .start(
                JwksUrl::new(CachingHttp, format!("{}/jwks.json", provider.url())),
                |keys| {
                    Validator::builder(keys)
                        .issuer(ISSUER)
                        .audience(AUDIENCE)
                        .build()
                },
            )
    };
    let jwks = start((60, 3600)).await.unwrap();
    assert_eq!(jwks.next_refresh(), Duration::from_secs(120));
    assert_eq!(
        start((300, 3600)).await.unwrap().next_refresh(),
        Duration::from_secs(300)
    );
    assert_eq!(
        start((10, 60)).await.unwrap().next_refresh(),
        Duration::from_secs(60)
    );
    let app = app_for(&jwks);
    let generation_token = token(&first);
    assert_eq!(app.bearer(&generation_token).await.status, StatusCode::OK);

    // Unchanged: a 304, and the keys in force stay.
    assert_eq!(jwks.refresh().await, Ok(1));
    assert_eq!(provider.not_modified(), 1);
    assert_eq!(app.bearer(&generation_token).await.status, StatusCode::OK);
    // Changed: the new document (its new ETag) replaces the keys.
    provider.publish(&[&second]);
    assert_eq!(jwks.refresh().await, Ok(1));
    assert_eq!(provider.not_modified(), 1);
    assert_eq!(app.bearer(&token(&second)).await.status, StatusCode::OK);
    assert_eq!(
        app.bearer(&generation_token).await.error,
        Some(AuthError::UnknownKey)
    );
}

/// The ready client (feature `jwks-http`) against the provider stand-in:
/// discovery, the JWKS with `ETag`/`max-age`, a cap enforced while streaming,
/// and no redirect followed.
#[cfg(feature = "jwks-http")]
#[tokio::test]
async fn the_ready_http_client_discovers_caches_and_caps() {
    use jwt_layer::http::HttpClient;
    let signing = ec("h-1");
    let provider = Provider::start(&[&signing]).await;
    let issuer = provider.url();
    provider.set_metadata(json!({ "issuer": issuer, "jwks_uri": format!("{issuer}/jwks.json") }));
    let client = HttpClient::new().unwrap();
    let jwks = Discovery::new(&issuer)
        .allow_http_loopback()
        .start(client.clone(), |keys, metadata| {
            Validator::builder(keys)
                .issuer(&metadata.issuer)
                .audience(AUDIENCE)
                .build()
        })
        .await
        .unwrap();
    let app = app_for(&jwks);
    assert_eq!(
        app.bearer(&token_of(&signing, &issuer, AUDIENCE))
            .await
            .status,
        StatusCode::OK
    );
    // Discovery's JWKS with the ready client: max-age read, a 304 next time.
    assert_eq!(jwks.next_refresh(), Duration::from_secs(120));
    assert_eq!(provider.not_modified(), 0);
    assert_eq!(jwks.refresh().await, Ok(1));
    assert_eq!(provider.not_modified(), 1);

    // The JWKS through the client: max-age read, and a 304 the second time.
    let remote = RemoteJwks::builder()
        .start(client.jwks(format!("{issuer}/jwks.json")), |keys| {
            Validator::builder(keys)
                .issuer(&issuer)
                .audience(AUDIENCE)
                .build()
        })
        .await
        .unwrap();
    assert_eq!(remote.next_refresh(), Duration::from_secs(120));
    let before = provider.not_modified();
    assert_eq!(remote.refresh().await, Ok(1));
    assert_eq!(provider.not_modified(), before + 1);

    // A cap smaller than the document: refused while streaming.
    let small = RemoteJwks::builder()
        .start(
            client.jwks(format!("{issuer}/jwks.json")).max_bytes(16),
            |keys| Validator::builder(keys).build(),
        )
        .await;
    assert!(matches!(small, Err(JwksError::Fetch(_))), "{small:?}");

    // A redirect is not followed.
    let err = FetchDocument::get(&client, &format!("{issuer}/moved"), 1024)
        .await
        .unwrap_err();
    assert!(err.contains("308"), "{err}");
}

/// The ready client's connect timeout, apart from the fetch timeout.
///
/// What is tested: a TCP connection that cannot be established. On loopback
/// that is deterministic with a listener whose accept queue is full: Linux
/// drops a SYN to such a listener (it does not refuse it), so the client's
/// `connect` waits for retransmissions that are dropped too. The test first
/// checks that a bare connect does hang, then that the client gives up after
/// its connect timeout and says so, not after the fetch timeout.
///
/// The contrast, also tested: a listener that accepts (the kernel completes
/// the handshake) but never answers is not a connect failure; only the fetch
/// timeout of `RemoteJwks` ends that wait.
#[cfg(all(feature = "jwks-http", target_os = "linux"))]
#[tokio::test]
async fn the_ready_client_gives_up_connecting_after_its_connect_timeout() {
    use jwt_layer::http::HttpClient;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let full = socket.listen(1).unwrap();
    let addr = full.local_addr().unwrap();
    // Fill the accept queue (nobody accepts): connects complete until it is
    // full, then the next one hangs.
    let mut queued = Vec::new();
    let mut hangs = false;
    for _ in 0..16 {
        match tokio::time::timeout(Duration::from_millis(300), TcpStream::connect(addr)).await {
            Ok(stream) => queued.push(stream.unwrap()),
            Err(_) => {
                hangs = true;
                break;
            }
        }
    }
    assert!(
        hangs,
        "a connect to a full accept queue should hang ({} completed)",
        queued.len()
    );

    let client = HttpClient::builder()
        .connect_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let start = |url: String, timeout: Duration| {
        RemoteJwks::builder()
            .timeout(timeout)
            .start(client.jwks(url), |keys| Validator::builder(keys).build())
    };
    let began = Instant::now();
    let result = start(format!("http://{addr}/jwks.json"), Duration::from_secs(5)).await;
    let waited = began.elapsed();
    let Err(JwksError::Fetch(reason)) = result else {
        panic!("{result:?}")
    };
    assert!(
        reason.contains("no connection within 300 ms (connect timeout)"),
        "{reason}"
    );
    eprintln!("connect timeout 300 ms, fetch timeout 5 s: gave up after {waited:?}: {reason}");

    // Connected, never answered: the fetch timeout, not the connect timeout.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    let result = start(
        format!("http://{silent_addr}/jwks.json"),
        Duration::from_millis(800),
    )
    .await;
    let Err(JwksError::Fetch(reason)) = result else {
        panic!("{result:?}")
    };
    assert!(reason.contains("no answer within 800 ms"), "{reason}");
    drop((queued, full, silent));
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
