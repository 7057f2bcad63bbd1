//! Browser flow: tokens in HttpOnly cookies, CSRF on cookie-authenticated
//! unsafe requests only, and `Cache-Control: no-store` on token responses.
mod common;

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::post;
use common::*;
use http::{Request, StatusCode, header};
use jwt_layer::cookie::AuthCookies;
use jwt_layer::store::MemoryStore;
use jwt_layer::{Algorithm, AuthError, JwtLayer, RefreshTokens, SigningKey, TokenIssuer};
use serde_json::json;
use tower::ServiceExt;

async fn pair() -> jwt_layer::TokenPair {
    let signing = SigningKey::hmac(Algorithm::HS256, SECRET).unwrap();
    let issuer = TokenIssuer::new(signing, validator())
        .unwrap()
        .access_ttl(Duration::from_secs(900));
    RefreshTokens::new(issuer, MemoryStore::new())
        .login("user-1", &json!({ "name": "Ada" }))
        .await
        .unwrap()
}

#[tokio::test]
async fn set_cookie_attributes_follow_owasp() {
    let pair = pair().await;
    let cookies = AuthCookies::new();
    let mut headers = http::HeaderMap::new();
    cookies.set_pair(&mut headers, &pair);
    let set: Vec<&str> = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(set.len(), 2);
    assert_eq!(
        set[0],
        format!(
            "__Host-access_token={}; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=900",
            pair.access.access_token
        )
    );
    assert_eq!(
        set[1],
        format!(
            "__Secure-refresh_token={}; HttpOnly; SameSite=Strict; Secure; Path=/auth; Max-Age={}",
            pair.refresh_token, pair.refresh_expires_in
        )
    );
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(headers[header::PRAGMA], "no-cache");

    let mut cleared = http::HeaderMap::new();
    cookies.clear(&mut cleared);
    let set: Vec<&str> = cleared
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(
        set[0],
        "__Host-access_token=; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=0"
    );
    assert_eq!(
        set[1],
        "__Secure-refresh_token=; HttpOnly; SameSite=Strict; Secure; Path=/auth; Max-Age=0"
    );

    // Reading the refresh cookie back, with the duplicate rule.
    let mut request = http::HeaderMap::new();
    request.insert(
        header::COOKIE,
        format!("a=b; __Secure-refresh_token={}", pair.refresh_token)
            .parse()
            .unwrap(),
    );
    assert_eq!(
        cookies.refresh_token(&request),
        Ok(Some(pair.refresh_token.clone()))
    );
    request.append(
        header::COOKIE,
        "__Secure-refresh_token=other".parse().unwrap(),
    );
    assert_eq!(
        cookies.refresh_token(&request),
        Err(AuthError::ConflictingCredentials)
    );
    assert_eq!(cookies.refresh_token(&http::HeaderMap::new()), Ok(None));
    // Logout revokes every refresh cookie presented, planted ones included.
    assert_eq!(
        cookies.refresh_tokens(&request),
        vec![pair.refresh_token.clone(), "other".to_owned()]
    );
}

fn transfer_app() -> Router {
    Router::new()
        .route("/transfer", post(|| async { "transferred" }))
        .layer(
            JwtLayer::<AppClaims>::new(validator())
                .sources([TokenSource::Bearer, AuthCookies::new().access_source()]),
        )
}

use jwt_layer::TokenSource;

async fn send(app: &Router, request: Request<Body>) -> Reply {
    Reply::read(app.clone().oneshot(request).await.unwrap()).await
}

#[tokio::test]
async fn cross_site_cookie_post_is_refused_but_bearer_is_not() {
    let app = transfer_app();
    let token = good_token();
    let cross_site = || {
        Request::post("/transfer")
            .header("host", "bank.test")
            .header("origin", "https://evil.test")
            .header("sec-fetch-site", "cross-site")
    };

    // The attack: the browser attaches the cookie to a cross-site form POST.
    let reply = send(
        &app,
        cross_site()
            .header("cookie", format!("__Host-access_token={token}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.error, Some(AuthError::CrossSiteRequest));
    assert!(reply.challenge().is_none());

    // The same POST with a Bearer header: a browser never adds that by itself, so it is no CSRF.
    let reply = send(
        &app,
        cross_site()
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body, "transferred");

    // Same-origin cookie POSTs from our own page pass, by Fetch Metadata or by Origin == Host.
    for request in [
        Request::post("/transfer").header("sec-fetch-site", "same-origin"),
        Request::post("/transfer")
            .header("host", "bank.test")
            .header("origin", "https://bank.test"),
        Request::post("/transfer"), // not a browser: no Origin, no Sec-Fetch-Site
    ] {
        let reply = send(
            &app,
            request
                .header("cookie", format!("__Host-access_token={token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }

    // A same-site (sibling subdomain) POST is cross-origin too.
    let reply = send(
        &app,
        Request::post("/transfer")
            .header("sec-fetch-site", "same-site")
            .header("cookie", format!("__Host-access_token={token}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);

    // A trusted front end on another origin can be allowed explicitly.
    let trusting = Router::new()
        .route("/transfer", post(|| async { "transferred" }))
        .layer(
            JwtLayer::<AppClaims>::new(validator())
                .sources([AuthCookies::new().access_source()])
                .trusted_origin("https://app.bank.test"),
        );
    let reply = send(
        &trusting,
        Request::post("/transfer")
            .header("origin", "https://app.bank.test")
            .header("sec-fetch-site", "same-site")
            .header("cookie", format!("__Host-access_token={token}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn password_hashing_is_argon2id_and_uniform_for_unknown_users() {
    use jwt_layer::password::PasswordHasher;
    let passwords = PasswordHasher::new();
    let phc = passwords.hash("wonderland").await.unwrap();
    assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
    assert_ne!(phc, passwords.hash("wonderland").await.unwrap(), "salted");
    assert!(passwords.verify("wonderland", Some(&phc)).await.unwrap());
    assert!(!passwords.verify("Wonderland", Some(&phc)).await.unwrap());
    assert!(!passwords.verify("wonderland", None).await.unwrap());
    // A stored hash that is unusable (corrupt, or costlier than the hasher
    // runs) is never a match, and answers like an unknown user, not an error:
    // an error would tell an attacker that the account exists.
    assert_eq!(
        passwords.verify("x", Some("not a phc string")).await,
        Ok(false)
    );

    // Unknown user and wrong password do the same work: compare their timings
    // loosely (same order of magnitude), without asserting absolute speed.
    let time = |phc: Option<String>| {
        let passwords = passwords.clone();
        async move {
            let start = std::time::Instant::now();
            for _ in 0..3 {
                passwords.verify("guess", phc.as_deref()).await.unwrap();
            }
            start.elapsed()
        }
    };
    let wrong = time(Some(phc.clone())).await;
    let unknown = time(None).await;
    let corrupt = time(Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA".into())).await;
    for (what, elapsed) in [("wrong password", wrong), ("corrupt stored hash", corrupt)] {
        let ratio = elapsed.as_secs_f64() / unknown.as_secs_f64();
        assert!(
            (0.33..3.0).contains(&ratio),
            "{what} {elapsed:?} vs unknown user {unknown:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_password_checks_is_bounded() {
    use jwt_layer::password::PasswordHasher;
    let passwords = PasswordHasher::new().max_concurrent(3);
    // Many unknown-user logins at once queue behind a bounded number of Argon2id
    // runs instead of all allocating 19 MiB at the same time.
    let limit = passwords.limit();
    let tasks: Vec<_> = (0..limit * 4)
        .map(|_| {
            let passwords = passwords.clone();
            tokio::spawn(async move { passwords.verify("guess", None).await })
        })
        .collect();
    let mut most = 0;
    while !tasks.iter().all(|t| t.is_finished()) {
        most = most.max(passwords.running());
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    for task in tasks {
        // Each one finishes (well within the queue timeout here): false, not an error.
        assert_eq!(task.await.unwrap(), Ok(false));
    }
    assert!(most >= 1, "never saw a hash running");
    assert!(
        most <= limit,
        "{most} hashes ran at once; the limit is {limit}"
    );
}

#[tokio::test]
async fn a_custom_access_cookie_name_is_written_and_read_back() {
    let pair = pair().await;
    let cookies = AuthCookies::new()
        .with_access_name("__Host-legacy_session")
        .unwrap()
        .with_refresh_name("__Secure-legacy_refresh")
        .unwrap();
    let mut headers = http::HeaderMap::new();
    cookies.set_pair(&mut headers, &pair);
    let set: Vec<&str> = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert!(set[0].starts_with("__Host-legacy_session="), "{}", set[0]);
    assert!(set[1].starts_with("__Secure-legacy_refresh="), "{}", set[1]);

    // The layer reading that name accepts the cookie the helper wrote.
    let app = App::new(JwtLayer::new(validator()).sources([cookies.access_source()]));
    let cookie = set[0].split(';').next().unwrap();
    let request = Request::get("/")
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .unwrap();
    let reply = app.send(request).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body, "user-1 Ada cookie");
}

#[test]
fn cookie_names_that_no_browser_sends_back_are_refused() {
    for name in [
        "",
        "a b",
        "a;b",
        "a=b",
        "\u{2000}x",
        "x\u{a0}",
        "a\"b",
        "a,b",
    ] {
        assert_eq!(
            AuthCookies::new().with_access_name(name),
            Err(jwt_layer::ConfigError::InvalidCookieName(name.to_owned())),
            "{name:?}"
        );
        assert!(
            AuthCookies::new().with_refresh_name(name).is_err(),
            "{name:?}"
        );
    }
}

/// A logout revokes every refresh cookie sent, but a client that sends
/// thousands in one header buys at most `MAX_REFRESH_COOKIES` store operations.
#[test]
fn refresh_cookies_taken_from_one_request_are_capped() {
    use jwt_layer::cookie::{AuthCookies, MAX_REFRESH_COOKIES};
    let cookies = AuthCookies::new();
    let name = cookies.refresh_name().to_owned();
    let header: Vec<String> = (0..1000).map(|i| format!("{name}=token-{i}")).collect();
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::COOKIE,
        http::HeaderValue::from_str(&header.join("; ")).unwrap(),
    );
    let taken = cookies.refresh_tokens(&headers);
    assert_eq!(taken.len(), MAX_REFRESH_COOKIES);
    // The first and the last ones sent: ours is among them wherever planted
    // cookies with longer or shorter paths put it, unless more were planted.
    let half = MAX_REFRESH_COOKIES / 2;
    assert_eq!(taken[0], "token-0");
    assert_eq!(taken[half - 1], format!("token-{}", half - 1));
    assert_eq!(taken[half], format!("token-{}", 1000 - half));
    assert_eq!(taken[MAX_REFRESH_COOKIES - 1], "token-999");
    // Two or more still make a refresh ambiguous, hence refused.
    assert!(cookies.refresh_token(&headers).is_err());
}
