//! Chapter 12: testing an authenticated API without a network.
//!
//! The app is built by `examples::app::app`, exactly as the server builds it, and
//! driven with `tower::ServiceExt::oneshot`. Tokens are real: signed by the app's
//! own issuer, verified by its own layer.
use std::sync::OnceLock;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use examples::Users;
use examples::app::{AppConfig, Auth, app};
use jwt_layer::store::MemoryStore;
use jwt_layer::{Algorithm, SigningKey, TokenIssuer};
use serde_json::{Value, json};
use tower::ServiceExt;

// ANCHOR: setup
/// A fixed configuration: no environment, no clock skew allowance.
fn config() -> AppConfig {
    AppConfig {
        secret: b"test-secret-test-secret-test-secret!".to_vec(),
        issuer: "test-issuer".into(),
        audience: "test-api".into(),
        access_ttl: Duration::from_secs(60),
        leeway: Duration::ZERO,
    }
}

/// The seed users, hashed once for all tests (Argon2id is slow on purpose).
fn users() -> Users {
    static USERS: OnceLock<Users> = OnceLock::new();
    USERS
        .get_or_init(|| Users::seed().expect("seed users"))
        .clone()
}

/// A fresh app with its own empty store, and the `Auth` to mint tokens for it.
fn setup() -> (Router, Auth) {
    let auth = Auth::new(&config(), MemoryStore::new()).expect("valid configuration");
    (app(&auth, users()), auth)
}

/// A real access token for `user` with `roles`, signed by the app's issuer.
fn token_for(auth: &Auth, user: &str, roles: &[&str]) -> String {
    let issued = auth.tokens.issuer().issue(user, &json!({ "roles": roles }));
    issued.expect("signed").access_token
}

/// Sends one request through the app: status and JSON (or `null`) body.
async fn send(app: &Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = app.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn get(uri: &str, token: Option<&str>) -> Request<Body> {
    let mut request = Request::get(uri);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    request.body(Body::empty()).expect("request")
}

fn post_json(uri: &str, body: Value) -> Request<Body> {
    Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .expect("request")
}
// ANCHOR_END: setup

// ANCHOR: basics
#[tokio::test]
async fn no_token_is_401_with_a_bare_challenge() {
    let (app, _) = setup();
    let response = app.oneshot(get("/me", None)).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()[header::WWW_AUTHENTICATE],
        r#"Bearer realm="api""#
    );
}

#[tokio::test]
async fn a_valid_token_reaches_the_handler() {
    let (app, auth) = setup();
    let token = token_for(&auth, "bob", &["user"]);
    let (status, body) = send(&app, get("/me", Some(&token))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({ "sub": "bob", "roles": ["user"] }));
}

#[tokio::test]
async fn roles_are_enforced() {
    let (app, auth) = setup();
    let bob = token_for(&auth, "bob", &["user"]);
    let (status, body) = send(&app, get("/admin/users", Some(&bob))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"], "insufficient_scope");

    let alice = token_for(&auth, "alice", &["admin"]);
    let (status, _) = send(&app, get("/admin/users", Some(&alice))).await;
    assert_eq!(status, StatusCode::OK);
}
// ANCHOR_END: basics

// ANCHOR: refusals
#[tokio::test]
async fn an_expired_token_is_refused() {
    let (app, auth) = setup();
    // Same key and validator, zero lifetime: expired the moment it is signed.
    let signing = SigningKey::hmac(Algorithm::HS256, &config().secret).expect("key");
    let issuer = TokenIssuer::new(signing, auth.validator.clone())
        .expect("issuer")
        .access_ttl(Duration::ZERO);
    let token = issuer
        .issue("bob", &json!({ "roles": ["user"] }))
        .expect("signed")
        .access_token;
    let (status, body) = send(&app, get("/me", Some(&token))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error_description"], "The access token expired");
}

#[tokio::test]
async fn a_token_from_another_key_is_refused() {
    let (app, _) = setup();
    let mut other = config();
    other.secret = b"another-secret-another-secret-another!".to_vec();
    let stranger = Auth::new(&other, MemoryStore::new()).expect("valid configuration");
    let token = token_for(&stranger, "alice", &["admin"]);
    let (status, body) = send(&app, get("/me", Some(&token))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body["error_description"],
        "The access token signature is invalid"
    );
}
// ANCHOR_END: refusals

// ANCHOR: flow
#[tokio::test]
async fn login_refresh_logout() {
    let (app, _) = setup();
    let login = json!({ "username": "alice", "password": "wonderland" });
    let (status, pair) = send(&app, post_json("/login", login)).await;
    assert_eq!(status, StatusCode::OK);
    let access = pair["access_token"]
        .as_str()
        .expect("access token")
        .to_owned();
    let refresh = pair["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_owned();

    let (status, _) = send(&app, get("/me", Some(&access))).await;
    assert_eq!(status, StatusCode::OK);

    let (status, next) = send(
        &app,
        post_json("/auth/refresh", json!({ "refresh_token": refresh })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let next_refresh = next["refresh_token"].as_str().expect("rotated").to_owned();
    assert_ne!(next_refresh, refresh);

    let (status, _) = send(
        &app,
        post_json("/auth/logout", json!({ "refresh_token": next_refresh })),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // The session is revoked: its access tokens too, not only its refresh token.
    let (status, body) = send(&app, get("/me", Some(&access))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error_description"], "The access token was revoked");
}

#[tokio::test]
async fn a_wrong_password_gets_no_token() {
    let (app, _) = setup();
    let login = json!({ "username": "alice", "password": "guess" });
    let (status, body) = send(&app, post_json("/login", login)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({ "error": "invalid_grant", "error_description": "invalid username or password" })
    );
}
// ANCHOR_END: flow
