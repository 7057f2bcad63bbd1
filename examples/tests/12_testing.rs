//! Chapter 12: testing an authenticated API without a network.
//!
//! The app is built by `examples::app::app`, exactly as the server builds it,
//! and driven with `jwt_layer::test_util::send`. Tokens come from the test kit
//! (`jwt_layer::test_util`): real signatures, made with a key of the test's own.
use std::sync::OnceLock;
use std::time::Duration;

use axum::Router;
use axum::http::{Request, StatusCode};
use examples::Users;
use examples::app::{AppConfig, Auth, app};
use jwt_layer::store::MemoryStore;
use jwt_layer::test_util::{TestAuthority, send};
use serde_json::json;

// ANCHOR: setup
/// A fixed configuration: no environment, no clock skew allowance.
fn config() -> AppConfig {
    AppConfig {
        secret: Vec::new(), // unused: the test authority's key signs
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

/// A fresh app with its own key and its own empty store, and the test
/// authority that signs tokens for it.
fn setup() -> (Router, TestAuthority) {
    let config = config();
    let authority = TestAuthority::new()
        .issuer(&config.issuer)
        .audience(&config.audience);
    let key = authority.signing_key().clone();
    let auth = Auth::with_key(key, &config, MemoryStore::new()).expect("valid configuration");
    (app(&auth, users()), authority)
}
// ANCHOR_END: setup

// ANCHOR: basics
#[tokio::test]
async fn no_token_is_401_with_a_bare_challenge() {
    let (app, _) = setup();
    let response = send(app, Request::get("/me").body(String::new()).unwrap()).await;
    assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    assert_eq!(response.challenge(), Some(r#"Bearer realm="api""#));
}

#[tokio::test]
async fn a_valid_token_reaches_the_handler() {
    let (app, authority) = setup();
    let token = authority.token("bob").roles(["user"]);
    let response = send(app, token.get("/me")).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.json(), json!({ "sub": "bob", "roles": ["user"] }));
}

#[tokio::test]
async fn roles_are_enforced() {
    let (app, authority) = setup();
    let bob = authority.token("bob").roles(["user"]);
    let response = send(app.clone(), bob.get("/admin/users")).await;
    assert_eq!(response.status, StatusCode::FORBIDDEN);
    assert_eq!(response.json()["error"], "insufficient_scope");

    let alice = authority.token("alice").roles(["admin"]);
    let response = send(app, alice.get("/admin/users")).await;
    assert_eq!(response.status, StatusCode::OK);
}
// ANCHOR_END: basics

// ANCHOR: refusals
#[tokio::test]
async fn bad_tokens_are_refused_for_the_right_reason() {
    let (app, authority) = setup();
    let bob = || authority.token("bob").roles(["user"]);
    let cases = [
        (bob().expired(), "The access token expired"),
        (bob().not_yet_valid(), "The access token is not valid yet"),
        (bob().forged(), "The access token signature is invalid"),
        (
            bob().audience("another-api"),
            "The access token audience is not accepted",
        ),
        (
            bob().issuer("evil-issuer"),
            "The access token issuer is not accepted",
        ),
    ];
    for (token, description) in cases {
        let response = send(app.clone(), token.get("/me")).await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{description}");
        assert_eq!(response.json()["error"], "invalid_token");
        assert_eq!(response.json()["error_description"], description);
    }
}
// ANCHOR_END: refusals

// ANCHOR: users
#[tokio::test]
async fn handlers_see_the_user_as_the_database_has_it() {
    let (app, authority) = setup();
    // The token says "user" only; the database says alice is an admin too.
    let alice = authority.token("alice").roles(["user"]);
    let response = send(app.clone(), alice.get("/profile")).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(
        response.json(),
        json!({ "username": "alice", "roles": ["admin", "user"] })
    );

    // A valid token for an account that no longer exists: refused everywhere.
    let ghost = authority.token("ghost").roles(["admin"]);
    let response = send(app, ghost.get("/me")).await;
    assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.json()["error_description"],
        "The access token's user is not accepted"
    );
}
// ANCHOR_END: users

// ANCHOR: flow
#[tokio::test]
async fn login_refresh_logout() {
    let (app, authority) = setup();
    let request = |uri: &str, body: serde_json::Value| {
        Request::post(uri)
            .header("content-type", "application/json")
            .body(body.to_string())
            .unwrap()
    };
    let login = json!({ "username": "alice", "password": "wonderland" });
    let pair = send(app.clone(), request("/login", login)).await;
    assert_eq!(pair.status, StatusCode::OK);
    let access = pair.json()["access_token"].as_str().unwrap().to_owned();
    let refresh = pair.json()["refresh_token"].as_str().unwrap().to_owned();

    // The app's own tokens and the kit's are signed by the same key.
    let me = |token: &str| {
        Request::get("/me")
            .header("authorization", format!("Bearer {token}"))
            .body(String::new())
            .unwrap()
    };
    assert_eq!(send(app.clone(), me(&access)).await.status, StatusCode::OK);

    let next = send(
        app.clone(),
        request("/auth/refresh", json!({ "refresh_token": refresh })),
    )
    .await;
    assert_eq!(next.status, StatusCode::OK);
    let next_refresh = next.json()["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(next_refresh, refresh);

    let logout = request("/auth/logout", json!({ "refresh_token": next_refresh }));
    assert_eq!(
        send(app.clone(), logout).await.status,
        StatusCode::NO_CONTENT
    );
    // The session is revoked: its access tokens too, not only its refresh token.
    let response = send(app.clone(), me(&access)).await;
    assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.json()["error_description"],
        "The access token was revoked"
    );
    // A token of the kit has no session: it is untouched by that logout.
    let other = authority.token("alice").roles(["user"]);
    assert_eq!(send(app, other.get("/me")).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_wrong_password_gets_no_token() {
    let (app, _) = setup();
    let login = json!({ "username": "alice", "password": "guess" });
    let request = Request::post("/login")
        .header("content-type", "application/json")
        .body(login.to_string())
        .unwrap();
    let response = send(app, request).await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        response.json(),
        json!({ "error": "invalid_grant", "error_description": "invalid username or password" })
    );
}
// ANCHOR_END: flow
