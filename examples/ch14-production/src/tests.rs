//! Testing the authenticated API without a network: the app is built by
//! `app::app`, exactly as the server builds it, with a database in memory, and
//! called with `jwt_layer::test_util::send`. Tokens come from the test kit:
//! real signatures, made with the test's own key.
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use axum::Router;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Request, StatusCode};
use jwt_layer::test_util::{TestAuthority, send};
use serde_json::{Value, json};

use crate::app::app;
use crate::config::Config;
use crate::throttle::Limits;

// ANCHOR: setup
/// A fresh app with its own key, its own empty database (in memory) and
/// token store, and the test authority that signs tokens for it.
async fn setup() -> (Router, TestAuthority) {
    let authority = authority();
    let app = app(config("sqlite::memory:", &authority))
        .await
        .expect("the app starts");
    (from_localhost(app), authority)
}

/// The test kit's signer, with the issuer and audience of [`config`].
fn authority() -> TestAuthority {
    TestAuthority::new()
        .issuer("test-issuer")
        .audience("test-api")
}

/// The throttle reads the client's address, which a real server provides;
/// here every request comes from 127.0.0.1.
fn from_localhost(app: Router) -> Router {
    app.layer(MockConnectInfo(SocketAddr::from(([127, 0, 0, 1], 4000))))
}

/// The configuration of a test: the authority's key, the demo accounts, no
/// Redis, no cache, generous limits.
fn config(database_url: &str, authority: &TestAuthority) -> Config {
    Config {
        database_url: database_url.into(),
        demo_accounts: true,
        signing_key: authority.signing_key().clone(),
        previous_key: None,
        issuer: "test-issuer".into(),
        audience: "test-api".into(),
        client_id: "test-client".into(),
        leeway: Duration::ZERO,
        access_ttl: Duration::from_secs(60),
        refresh_idle: Duration::from_secs(3600),
        session_max: Duration::from_secs(24 * 3600),
        reuse_grace: Duration::ZERO,
        redis_url: None,
        revocation_cache: Duration::ZERO,
        throttle: Limits {
            logins_per_account: NonZeroU32::new(100).unwrap(),
            logins_per_address: NonZeroU32::new(100).unwrap(),
            signups_per_address: NonZeroU32::new(100).unwrap(),
        },
        trusted_proxies: Vec::new(),
        static_dir: PathBuf::from("static"),
    }
}

/// A JSON `POST` with no token.
fn post(uri: &str, body: Value) -> Request<String> {
    Request::post(uri)
        .header("content-type", "application/json")
        .body(body.to_string())
        .expect("a valid request")
}
// ANCHOR_END: setup

// ANCHOR: basics
#[tokio::test]
async fn no_token_is_401_with_a_bare_challenge() {
    let (app, _) = setup().await;
    let request = Request::get("/api/me").body(String::new()).unwrap();
    let response = send(app, request).await;
    assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    assert_eq!(response.challenge(), Some(r#"Bearer realm="api""#));
}

#[tokio::test]
async fn a_valid_token_reaches_the_handler() {
    let (app, authority) = setup().await;
    let token = authority.token("bob").roles(["user"]);
    let response = send(app, token.get("/api/me")).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.json()["sub"], "bob");
    assert_eq!(response.json()["roles"], json!(["user"]));
    assert_eq!(response.json()["via"], "bearer");
}

#[tokio::test]
async fn roles_are_enforced() {
    let (app, authority) = setup().await;
    let bob = authority.token("bob").roles(["user"]);
    let response = send(app.clone(), bob.get("/api/admin/users")).await;
    assert_eq!(response.status, StatusCode::FORBIDDEN);
    assert_eq!(response.json()["error"], "insufficient_scope");

    let alice = authority.token("alice").roles(["admin"]);
    let response = send(app, alice.get("/api/admin/users")).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.json(), json!({ "users": ["alice", "bob"] }));
}
// ANCHOR_END: basics

// ANCHOR: refusals
#[tokio::test]
async fn bad_tokens_are_refused_for_the_right_reason() {
    let (app, authority) = setup().await;
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
        let response = send(app.clone(), token.get("/api/me")).await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{description}");
        assert_eq!(response.json()["error"], "invalid_token");
        assert_eq!(response.json()["error_description"], description);
    }
}
// ANCHOR_END: refusals

// ANCHOR: users
#[tokio::test]
async fn handlers_see_the_user_as_the_database_has_it() {
    let (app, authority) = setup().await;
    // The token says "user" only; the database says alice is an admin too.
    let alice = authority.token("alice").roles(["user"]);
    let response = send(app.clone(), alice.get("/api/profile")).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(
        response.json(),
        json!({ "username": "alice", "roles": ["admin", "user"] })
    );

    // A valid token for an account that does not exist: refused everywhere.
    let ghost = authority.token("ghost").roles(["admin"]);
    let response = send(app, ghost.get("/api/me")).await;
    assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.json()["error_description"],
        "The access token's user is not accepted"
    );
}
// ANCHOR_END: users

// ANCHOR: flow
#[tokio::test]
async fn sign_up_login_refresh_logout() {
    let (app, _) = setup().await;
    let carol = json!({ "username": "carol", "password": "correct horse" });
    let created = send(app.clone(), post("/auth/signup", carol.clone())).await;
    assert_eq!(created.status, StatusCode::CREATED);
    let again = send(app.clone(), post("/auth/signup", carol.clone())).await;
    assert_eq!(again.status, StatusCode::CONFLICT);

    let pair = send(app.clone(), post("/auth/login", carol)).await;
    assert_eq!(pair.status, StatusCode::OK);
    let access = pair.json()["access_token"].as_str().unwrap().to_owned();
    let refresh = pair.json()["refresh_token"].as_str().unwrap().to_owned();
    let me = |token: &str| {
        Request::get("/api/me")
            .header("authorization", format!("Bearer {token}"))
            .body(String::new())
            .unwrap()
    };
    assert_eq!(send(app.clone(), me(&access)).await.status, StatusCode::OK);

    let next = send(
        app.clone(),
        post("/auth/refresh", json!({ "refresh_token": refresh })),
    )
    .await;
    assert_eq!(next.status, StatusCode::OK);
    let next_refresh = next.json()["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(next_refresh, refresh);

    let logout = post("/auth/logout", json!({ "refresh_token": next_refresh }));
    assert_eq!(
        send(app.clone(), logout).await.status,
        StatusCode::NO_CONTENT
    );
    // The session is revoked: its access tokens too, not only its refresh token.
    let response = send(app, me(&access)).await;
    assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.json()["error_description"],
        "The access token was revoked"
    );
}

#[tokio::test]
async fn a_wrong_password_gets_no_token() {
    let (app, _) = setup().await;
    let login = json!({ "username": "alice", "password": "guess" });
    let response = send(app, post("/auth/login", login)).await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        response.json(),
        json!({ "error": "invalid_grant", "error_description": "invalid username or password" })
    );
}
// ANCHOR_END: flow

// ANCHOR: password
#[tokio::test]
async fn changing_the_password_logs_out_every_session() {
    let (app, _) = setup().await;
    let bob = json!({ "username": "bob", "password": "builder" });
    let laptop = send(app.clone(), post("/auth/login", bob.clone()))
        .await
        .json();
    let phone = send(app.clone(), post("/auth/login", bob)).await.json();
    let bearer = |pair: &Value| format!("Bearer {}", pair["access_token"].as_str().unwrap());

    let change = Request::post("/api/account/password")
        .header("authorization", bearer(&laptop))
        .header("content-type", "application/json")
        .body(json!({ "new_password": "a much better one" }).to_string())
        .unwrap();
    assert_eq!(
        send(app.clone(), change).await.status,
        StatusCode::NO_CONTENT
    );

    // The phone's tokens, and the laptop's own, are dead.
    for pair in [&laptop, &phone] {
        let me = Request::get("/api/me")
            .header("authorization", bearer(pair))
            .body(String::new())
            .unwrap();
        assert_eq!(send(app.clone(), me).await.status, StatusCode::UNAUTHORIZED);
        let refresh = json!({ "refresh_token": pair["refresh_token"] });
        let refused = send(app.clone(), post("/auth/refresh", refresh)).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    }
    // The new password works.
    let login = json!({ "username": "bob", "password": "a much better one" });
    assert_eq!(
        send(app, post("/auth/login", login)).await.status,
        StatusCode::OK
    );
}
// ANCHOR_END: password

/// Accounts whose passwords are in the book exist only when asked for, and a
/// database that still has one stops a server that did not ask.
#[tokio::test]
async fn demo_accounts_are_opt_in_and_never_left_open() {
    let authority = authority();
    let file = std::env::temp_dir().join(format!("notes-demo-{}.db", std::process::id()));
    let remove = || {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
        }
    };
    remove(); // left by a run that failed, perhaps
    let url = format!("sqlite:{}", file.display());
    let alice = || {
        post(
            "/auth/login",
            json!({"username": "alice", "password": "wonderland"}),
        )
    };
    let login = async |demo_accounts: bool| {
        let config = Config {
            demo_accounts,
            ..config(&url, &authority)
        };
        let app = from_localhost(app(config).await?);
        Ok::<_, crate::server::BoxError>(send(app, alice()).await.status)
    };
    assert_eq!(login(false).await.unwrap(), StatusCode::BAD_REQUEST);
    assert_eq!(login(true).await.unwrap(), StatusCode::OK);
    let refused = login(false).await.unwrap_err().to_string();
    assert!(
        refused.contains("\"alice\"") && refused.contains("DEMO_ACCOUNTS=1"),
        "{refused}"
    );
    remove();
}

/// Bodies over 16 KiB are refused before any handler runs (413).
#[tokio::test]
async fn request_bodies_are_capped() {
    let (app, _) = setup().await;
    let password = "x".repeat(32 * 1024);
    let body = json!({"username": "alice", "password": password});
    let response = send(app, post("/auth/login", body)).await;
    assert_eq!(response.status, StatusCode::PAYLOAD_TOO_LARGE);
}
