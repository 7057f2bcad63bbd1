//! Keys from the issuer's URL, and the HTTP underneath: OIDC discovery and
//! what it refuses, the one conditional-fetch path every JWKS takes
//! (`fetch::JwksUrl`: `ETag`/`If-None-Match`, `Cache-Control: max-age`, the
//! size cap), and the ready client of feature `jwks-http` (caps, redirects,
//! connect timeout). Against the provider stand-in on 127.0.0.1:0, which
//! counts its requests and its `304`s (`provider`).
mod common;
mod provider;

use std::time::Duration;

use common::*;
use http::StatusCode;
use jwt_layer::discovery::{Discovery, DiscoveryError};
use jwt_layer::fetch::JwksUrl;
use jwt_layer::jwks::{JwksError, RemoteJwks};
use jwt_layer::{AuthError, Validator};
use provider::*;
use serde_json::json;

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
    use jwt_layer::fetch::FetchDocument;
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
    use std::time::Instant;

    use jwt_layer::http::HttpClient;
    use tokio::net::{TcpListener, TcpStream};
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
