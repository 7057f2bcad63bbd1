//! The verified-token cache, through the real layer: it never serves an expired
//! token, a token verified with replaced keys, a revoked token, a token that
//! differs in any byte, or a token it holds for another source; the CSRF check
//! and the revocation hook still run on every hit; it stays within its bounds.
#![cfg(feature = "cache")]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::any;
use common::*;
use http::{Request, StatusCode, header};
use jsonwebtoken::EncodingKey;
use jwt_layer::BoxFuture;
use jwt_layer::cache::{CacheConfig, CacheStats};
use jwt_layer::{
    Algorithm, AuthError, JwtLayer, KeySet, RevocationCheck, RevocationError, TokenSource,
    TokenSourceKind, Validator, VerifiedToken, VerifyingKey,
};
use serde_json::{Value, json};
use tower::ServiceExt;

fn stats(layer: &JwtLayer<AppClaims>) -> CacheStats {
    layer.cache_stats().expect("the cache is on by default")
}

#[tokio::test]
async fn a_repeated_token_is_cached_once_and_served_again() {
    let layer = JwtLayer::<AppClaims>::new(validator());
    let app = App::new(layer.clone());
    let token = good_token();
    for _ in 0..3 {
        let reply = app.bearer(&token).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(reply.body, "user-1 Ada bearer");
    }
    assert_eq!(stats(&layer).entries, 1);
    assert_eq!(app.calls(), 3);
}

#[tokio::test]
async fn an_expired_token_is_never_served_from_the_cache() {
    // No leeway: the token dies at `exp` itself, a second or two from now.
    let validator = Validator::builder(KeySet::single(
        VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap(),
    ))
    .issuer(ISSUER)
    .audience(AUDIENCE)
    .leeway(Duration::ZERO)
    .build()
    .unwrap();
    let layer = JwtLayer::<AppClaims>::new(validator);
    let app = App::new(layer.clone());
    let mut claims = good_claims();
    let exp = now() + 2;
    claims["exp"] = json!(exp);
    let token = hs256(&claims);

    assert_eq!(app.bearer(&token).await.status, StatusCode::OK);
    assert_eq!(stats(&layer).entries, 1, "the token was cached");
    while now() < exp {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let reply = app.bearer(&token).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.error, Some(AuthError::Expired));
    assert_eq!(stats(&layer).entries, 0, "the dead entry was dropped");
}

#[tokio::test]
async fn the_cache_honours_the_validators_leeway() {
    // `exp` already passed, but within the 30 s leeway: accepted, cached and
    // served again, exactly as the validator alone would.
    let layer = JwtLayer::<AppClaims>::new(validator());
    let app = App::new(layer.clone());
    let mut claims = good_claims();
    claims["exp"] = json!(now() - 5);
    claims["nbf"] = json!(now() - 60);
    claims["iat"] = json!(now() - 60);
    let token = hs256(&claims);
    assert_eq!(app.bearer(&token).await.status, StatusCode::OK);
    assert_eq!(app.bearer(&token).await.status, StatusCode::OK);
    assert_eq!(stats(&layer).entries, 1);
}

#[tokio::test]
async fn a_not_yet_valid_token_is_not_cached() {
    // `nbf` 10 s ahead: accepted within the leeway, but verified afresh each time.
    let layer = JwtLayer::<AppClaims>::new(validator());
    let app = App::new(layer.clone());
    let mut claims = good_claims();
    claims["nbf"] = json!(now() + 10);
    let token = hs256(&claims);
    assert_eq!(app.bearer(&token).await.status, StatusCode::OK);
    assert_eq!(app.bearer(&token).await.status, StatusCode::OK);
    assert_eq!(stats(&layer).entries, 0);
}

#[tokio::test]
async fn replaced_keys_empty_the_cache() {
    let validator = validator();
    let layer = JwtLayer::<AppClaims>::new(validator.clone());
    let app = App::new(layer.clone());
    let old = good_token();
    assert_eq!(app.bearer(&old).await.status, StatusCode::OK);
    assert_eq!(stats(&layer).entries, 1);

    // Rotation: the old secret is gone, a new one with a kid is in force.
    let secret = b"the-replacement-secret-of-32-byt";
    validator.replace_keys(KeySet::single(
        VerifyingKey::hmac(Algorithm::HS256, secret)
            .unwrap()
            .with_kid("k2"),
    ));
    let reply = app.bearer(&old).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
    assert_eq!(reply.error, Some(AuthError::BadSignature));
    assert_eq!(stats(&layer).entries, 0, "emptied on the new keys");

    let mut header = at_header(Algorithm::HS256);
    header.kid = Some("k2".into());
    let new = sign(&header, &good_claims(), &EncodingKey::from_secret(secret));
    assert_eq!(app.bearer(&new).await.status, StatusCode::OK);
    assert_eq!(app.bearer(&new).await.status, StatusCode::OK);
    assert_eq!(stats(&layer).entries, 1);

    // And back: a key set that verifies the old token again is a new
    // generation; the old token is verified afresh, not served stale.
    validator.replace_keys(KeySet::single(
        VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap(),
    ));
    assert_eq!(app.bearer(&new).await.error, Some(AuthError::UnknownKey));
    assert_eq!(app.bearer(&old).await.status, StatusCode::OK);
}

/// Revokes every token once told to; counts its calls.
#[derive(Clone, Default)]
struct Switch {
    revoked: Arc<AtomicBool>,
    calls: Arc<AtomicUsize>,
}

impl RevocationCheck for Switch {
    fn check<'a>(
        &'a self,
        _token: &'a VerifiedToken,
    ) -> BoxFuture<'a, Result<(), RevocationError>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let revoked = self.revoked.load(Ordering::SeqCst);
        Box::pin(async move {
            if revoked {
                Err(RevocationError::Revoked)
            } else {
                Ok(())
            }
        })
    }
}

#[tokio::test]
async fn the_revocation_hook_runs_on_every_cache_hit() {
    let switch = Switch::default();
    let layer = JwtLayer::<AppClaims>::new(validator()).revocation(switch.clone());
    let app = App::new(layer.clone());
    let token = good_token();
    assert_eq!(app.bearer(&token).await.status, StatusCode::OK);
    assert_eq!(app.bearer(&token).await.status, StatusCode::OK);
    assert_eq!(stats(&layer).entries, 1, "cached on the async path too");
    assert_eq!(switch.calls.load(Ordering::SeqCst), 2);

    switch.revoked.store(true, Ordering::SeqCst);
    let reply = app.bearer(&token).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.error, Some(AuthError::Revoked));
    assert_eq!(switch.calls.load(Ordering::SeqCst), 3);
    assert_eq!(app.calls(), 2);
}

/// Base64url characters: every byte of a token is one of these.
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

#[tokio::test]
async fn a_token_that_differs_in_any_byte_is_verified_afresh() {
    let signing = jwt_layer::SigningKey::ed_pem(&key_file("ed_private.pem")).unwrap();
    let validator = Validator::builder(KeySet::single(signing.verifying_key()))
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .build()
        .unwrap();
    let layer = JwtLayer::<AppClaims>::new(validator);
    let app = App::new(layer.clone());
    let token = sign(
        &at_header(Algorithm::EdDSA),
        &good_claims(),
        &EncodingKey::from_ed_pem(&key_file("ed_private.pem")).unwrap(),
    );
    assert_eq!(app.bearer(&token).await.status, StatusCode::OK);
    assert_eq!(stats(&layer).entries, 1);

    let bytes = token.as_bytes();
    for i in 0..bytes.len() {
        if bytes[i] == b'.' {
            continue;
        }
        // Another base64url character at position `i`, everything else equal.
        let other = ALPHABET.iter().copied().find(|&c| c != bytes[i]).unwrap();
        let mut altered = bytes.to_vec();
        altered[i] = other;
        let altered = String::from_utf8(altered).unwrap();
        let reply = app.bearer(&altered).await;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "byte {i} altered: {}",
            reply.body
        );
    }
    // Longer and shorter by one byte.
    for altered in [format!("{token}A"), token[..token.len() - 1].to_owned()] {
        assert_eq!(app.bearer(&altered).await.status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(stats(&layer).entries, 1, "refusals are never cached");
    assert_eq!(app.bearer(&token).await.status, StatusCode::OK);
    assert_eq!(app.calls(), 2);
}

#[tokio::test]
async fn the_csrf_check_runs_on_every_cache_hit() {
    let layer = JwtLayer::<AppClaims>::new(validator()).sources([
        TokenSource::Bearer,
        TokenSource::cookie("__Host-access_token"),
    ]);
    let router = Router::new()
        .route("/transfer", any(|| async { "done" }))
        .layer(layer.clone());
    let cookie = format!("__Host-access_token={}", good_token());
    let send = |request: http::request::Builder| {
        let router = router.clone();
        let request = request
            .header(header::COOKIE, &cookie)
            .body(Body::empty())
            .unwrap();
        async move { router.oneshot(request).await.unwrap() }
    };
    // Same-origin: verified and cached.
    let response = send(Request::post("/transfer").header("sec-fetch-site", "same-origin")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(stats(&layer).entries, 1);
    // The same cookie on a cross-site POST: the cache hit is still checked.
    let response = send(
        Request::post("/transfer")
            .header("origin", "https://evil.test")
            .header("sec-fetch-site", "cross-site"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        response.extensions().get::<AuthError>(),
        Some(&AuthError::CrossSiteRequest)
    );
}

#[tokio::test]
async fn the_source_is_the_requests_own_on_a_cache_hit() {
    let layer = JwtLayer::<AppClaims>::new(validator())
        .sources([TokenSource::Bearer, TokenSource::cookie("session")]);
    let app = App::new(layer.clone());
    let token = good_token();
    assert_eq!(app.bearer(&token).await.body, "user-1 Ada bearer");
    let by_cookie = || {
        Request::get("/")
            .header(header::COOKIE, format!("session={token}"))
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(app.send(by_cookie()).await.body, "user-1 Ada cookie");
    assert_eq!(app.send(by_cookie()).await.body, "user-1 Ada cookie");
    assert_eq!(app.bearer(&token).await.body, "user-1 Ada bearer");
}

#[tokio::test]
async fn the_cache_stays_within_its_bounds() {
    let config = CacheConfig::new().max_entries(16).max_bytes(64 * 1024);
    let layer = JwtLayer::<AppClaims>::new(validator()).cache(config);
    let app = App::new(layer.clone());
    for i in 0..200 {
        let mut claims = good_claims();
        claims["jti"] = json!(format!("token-{i}"));
        assert_eq!(app.bearer(&hs256(&claims)).await.status, StatusCode::OK);
        let stats = stats(&layer);
        assert!(stats.entries <= 16, "{stats:?}");
        assert!(stats.bytes <= 64 * 1024, "{stats:?}");
    }
    assert!(stats(&layer).entries > 0);

    // A byte bound smaller than the entry bound wins.
    let layer =
        JwtLayer::<AppClaims>::new(validator()).cache(CacheConfig::new().max_bytes(8 * 1024));
    let app = App::new(layer.clone());
    for i in 0..200 {
        let mut claims = good_claims();
        claims["jti"] = json!(format!("token-{i}"));
        assert_eq!(app.bearer(&hs256(&claims)).await.status, StatusCode::OK);
        assert!(stats(&layer).bytes <= 8 * 1024, "{:?}", stats(&layer));
    }
}

#[tokio::test]
async fn the_cache_can_be_turned_off() {
    let layer = JwtLayer::<AppClaims>::new(validator()).without_cache();
    assert_eq!(layer.cache_stats(), None);
    let app = App::new(layer);
    let token = good_token();
    assert_eq!(app.bearer(&token).await.status, StatusCode::OK);
    assert_eq!(app.bearer(&token).await.status, StatusCode::OK);
    let layer = JwtLayer::<AppClaims>::new(validator()).cache(CacheConfig::new().max_entries(0));
    assert_eq!(layer.cache_stats(), None);
}

#[test]
fn verified_outside_the_layer_is_direct() {
    let token = validator().verify::<Value>(&good_token()).unwrap();
    assert_eq!(token.token().source(), TokenSourceKind::Direct);
    assert_eq!(token.token().source().as_str(), "direct");
    assert_eq!(
        serde_json::to_value(TokenSourceKind::Bearer).unwrap(),
        json!("bearer")
    );
    assert_eq!(TokenSourceKind::Cookie.to_string(), "cookie");
}

/// A handler that answers with the address of the verified payload: the same
/// address on two requests means the second was served the first one's
/// verification (a cache hit); a verification afresh allocates anew while
/// the old entry still lives.
fn echo_payload_address(layer: JwtLayer<AppClaims>) -> Router {
    Router::new()
        .route(
            "/",
            any(|claims: jwt_extractor::Claims<AppClaims>| async move {
                format!("{:p}", claims.token().payload().as_ptr())
            }),
        )
        .layer(layer)
}

async fn send_to(router: &Router, host: &str, token: &str) -> common::Reply {
    let request = Request::get("/")
        .header(header::HOST, host)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    common::Reply::read(router.clone().oneshot(request).await.unwrap()).await
}

/// One validator per tenant, chosen by the `Host` header; counts its calls.
struct PerTenant {
    tenants: Vec<(&'static str, Validator)>,
    calls: Arc<AtomicUsize>,
}

impl jwt_layer::KeyResolver for PerTenant {
    fn resolve<'a>(
        &'a self,
        parts: &'a http::request::Parts,
        _token: &'a jwt_layer::UnverifiedToken,
    ) -> BoxFuture<'a, Result<Validator, AuthError>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok());
        let chosen = self
            .tenants
            .iter()
            .find(|(name, _)| Some(*name) == host)
            .map(|(_, validator)| validator.clone())
            .ok_or(AuthError::UnknownKey);
        Box::pin(async move { chosen })
    }
}

#[tokio::test]
async fn a_token_cached_for_one_tenant_is_verified_afresh_for_another() {
    let acme = validator();
    // Same secret, another audience: the policy differs, not the key.
    let globex = Validator::builder(KeySet::single(
        VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap(),
    ))
    .issuer(ISSUER)
    .audience("https://globex.test")
    .build()
    .unwrap();
    // Another secret altogether.
    let initech = Validator::builder(KeySet::single(
        VerifyingKey::hmac(Algorithm::HS256, b"initech-secret-of-at-least-32-by").unwrap(),
    ))
    .issuer(ISSUER)
    .audience(AUDIENCE)
    .build()
    .unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let resolver = PerTenant {
        tenants: vec![
            ("acme.test", acme.clone()),
            ("globex.test", globex),
            ("initech.test", initech),
        ],
        calls: Arc::clone(&calls),
    };
    let layer = JwtLayer::<AppClaims>::new(acme).resolver(resolver);
    let router = echo_payload_address(layer.clone());
    let token = good_token();

    // Acme: verified once, then served from the cache (the same verification).
    let first = send_to(&router, "acme.test", &token).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let second = send_to(&router, "acme.test", &token).await;
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(second.body, first.body, "a cache hit under the resolver");
    assert_eq!(stats(&layer).entries, 1);

    // The very same bytes for the other tenants: verified with their own
    // validator, and refused by it.
    let globex = send_to(&router, "globex.test", &token).await;
    assert_eq!(globex.status, StatusCode::UNAUTHORIZED, "{}", globex.body);
    assert_eq!(globex.error, Some(AuthError::WrongAudience));
    let initech = send_to(&router, "initech.test", &token).await;
    assert_eq!(initech.status, StatusCode::UNAUTHORIZED, "{}", initech.body);
    assert_eq!(initech.error, Some(AuthError::BadSignature));
    let unknown = send_to(&router, "unknown.test", &token).await;
    assert_eq!(unknown.error, Some(AuthError::UnknownKey));

    // The resolver was asked every time, hit or miss; acme is still served
    // from its entry.
    assert_eq!(calls.load(Ordering::SeqCst), 5);
    let again = send_to(&router, "acme.test", &token).await;
    assert_eq!(again.body, first.body);
}

/// An identity provider rotates its keys: the RemoteJwks resolver fetches the
/// new set, and a token cached under the old set is verified afresh (and
/// refused, its key being gone), never served stale.
#[cfg(feature = "jwks")]
#[tokio::test]
async fn a_jwks_rotation_invalidates_what_the_old_keys_verified() {
    use jwt_layer::SigningKey;
    use jwt_layer::jwks::RemoteJwks;

    let old = SigningKey::ec_pem(Algorithm::ES256, &key_file("ec_private.pem"))
        .unwrap()
        .with_kid("old");
    let new = SigningKey::ed_pem(&key_file("ed_private.pem"))
        .unwrap()
        .with_kid("new");
    let published = Arc::new(std::sync::Mutex::new(
        KeySet::single(old.verifying_key()).jwks(),
    ));
    let fetch = {
        let published = Arc::clone(&published);
        move || {
            let jwks = published.lock().unwrap().clone();
            async move { Ok::<_, String>(jwks) }
        }
    };
    let remote = RemoteJwks::builder()
        .cooldown(Duration::ZERO)
        .start(fetch, |keys| {
            Validator::builder(keys)
                .issuer(ISSUER)
                .audience(AUDIENCE)
                .build()
        })
        .await
        .unwrap();
    let layer = JwtLayer::<AppClaims>::new(remote.validator().clone()).resolver(remote.clone());
    let router = echo_payload_address(layer.clone());
    let issue = |signing: &SigningKey| {
        let validator = Validator::builder(KeySet::single(signing.verifying_key()))
            .issuer(ISSUER)
            .audience(AUDIENCE)
            .build()
            .unwrap();
        jwt_layer::TokenIssuer::new(signing.clone(), validator)
            .unwrap()
            .issue("user-1", &json!({ "name": "Ada" }))
            .unwrap()
            .access_token
    };
    let old_token = issue(&old);
    let first = send_to(&router, "api.test", &old_token).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(
        send_to(&router, "api.test", &old_token).await.body,
        first.body
    );
    // A refresh that finds the same keys changes nothing: still a hit.
    remote.refresh().await.unwrap();
    assert_eq!(
        send_to(&router, "api.test", &old_token).await.body,
        first.body
    );

    // The provider rotates; a token with the new kid makes the resolver fetch.
    *published.lock().unwrap() = KeySet::single(new.verifying_key()).jwks();
    let new_token = issue(&new);
    let reply = send_to(&router, "api.test", &new_token).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);

    let stale = send_to(&router, "api.test", &old_token).await;
    assert_eq!(stale.status, StatusCode::UNAUTHORIZED, "{}", stale.body);
    assert_eq!(stale.error, Some(AuthError::UnknownKey));
    // The new token is cached in turn.
    let again = send_to(&router, "api.test", &new_token).await;
    assert_eq!(again.body, reply.body);
}
