//! Keys from a real JWKS endpoint on loopback: start, rotate, key server down.
mod common;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::get;
use common::*;
use http::StatusCode;
use jwt_layer::jwks::{JwksError, JwksRefresher};
use jwt_layer::{
    Algorithm, AuthError, JwkSet, JwtLayer, KeySet, SigningKey, TokenIssuer, Validator,
};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The identity provider: serves whatever JWKS the test puts in `published`.
async fn identity_provider(
    published: Arc<Mutex<JwkSet>>,
) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let app = Router::new().route(
        "/.well-known/jwks.json",
        get(move || {
            let published = Arc::clone(&published);
            async move { axum::Json(published.lock().unwrap().clone()) }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (addr, server)
}

/// A tiny HTTP GET, standing in for the app's own HTTP client.
async fn fetch(addr: std::net::SocketAddr) -> Result<JwkSet, String> {
    let mut stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let request =
        format!("GET /.well-known/jwks.json HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n");
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
    if !head.starts_with("HTTP/1.1 200") {
        return Err(head.lines().next().unwrap_or_default().to_owned());
    }
    serde_json::from_str(body).map_err(|e| e.to_string())
}

fn key(name: &str, kid: &str) -> SigningKey {
    SigningKey::ec_pem(Algorithm::ES256, &key_file(name))
        .unwrap()
        .with_kid(kid)
}

fn token(signing: &SigningKey) -> String {
    // The identity provider's own issuer, configured like the resource server's.
    let validator = Validator::builder(KeySet::single(signing.verifying_key()))
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .build()
        .unwrap();
    TokenIssuer::new(signing.clone(), validator)
        .unwrap()
        .issue("user-1", &json!({ "name": "Ada" }))
        .unwrap()
        .access_token
}

#[tokio::test]
async fn keys_follow_the_jwks_and_survive_an_outage() {
    let old = key("ec_private.pem", "2026-10");
    let rsa_new = SigningKey::rsa_pem(Algorithm::PS256, &key_file("rsa_private.pem"))
        .unwrap()
        .with_kid("2026-11");
    let published = Arc::new(Mutex::new(KeySet::single(old.verifying_key()).jwks()));
    let (addr, server) = identity_provider(Arc::clone(&published)).await;

    let refresher = JwksRefresher::start(
        move || fetch(addr),
        |keys| {
            Validator::builder(keys)
                .issuer(ISSUER)
                .audience(AUDIENCE)
                .build()
        },
    )
    .await
    .unwrap();
    let app = App::new(JwtLayer::new(refresher.validator().clone()));
    assert_eq!(app.bearer(&token(&old)).await.status, StatusCode::OK);
    assert_eq!(
        app.bearer(&token(&rsa_new)).await.error,
        Some(AuthError::UnknownKey)
    );

    // The provider rotates: publishes the new key beside the old one.
    *published.lock().unwrap() = KeySet::new([old.verifying_key(), rsa_new.verifying_key()])
        .unwrap()
        .jwks();
    assert_eq!(refresher.refresh().await, Ok(2));
    assert_eq!(app.bearer(&token(&rsa_new)).await.status, StatusCode::OK);
    assert_eq!(app.bearer(&token(&old)).await.status, StatusCode::OK);

    // A broken document never replaces good keys.
    *published.lock().unwrap() = JwkSet { keys: Vec::new() };
    assert!(matches!(refresher.refresh().await, Err(JwksError::Keys(_))));
    assert_eq!(app.bearer(&token(&rsa_new)).await.status, StatusCode::OK);

    // The key server goes down: the last keys stay in force, unknown ones are refused.
    server.abort();
    let _ = server.await;
    assert!(matches!(
        refresher.refresh().await,
        Err(JwksError::Fetch(_))
    ));
    assert_eq!(app.bearer(&token(&old)).await.status, StatusCode::OK);
    let stranger = key("ec_private.pem", "2026-12");
    assert_eq!(
        app.bearer(&token(&stranger)).await.error,
        Some(AuthError::UnknownKey)
    );
}

#[tokio::test]
async fn no_keys_no_start() {
    let unreachable: std::net::SocketAddr = "127.0.0.1:1".parse().unwrap();
    let result = JwksRefresher::start(
        move || fetch(unreachable),
        |keys| Validator::builder(keys).build(),
    )
    .await;
    assert!(matches!(result, Err(JwksError::Fetch(_))), "{result:?}");
}

#[tokio::test]
async fn background_refresh_picks_up_new_keys() {
    let first = key("ec_private.pem", "a");
    let second = SigningKey::ec_pem(Algorithm::ES384, &key_file("ec384_private.pem"))
        .unwrap()
        .with_kid("b");
    let published = Arc::new(Mutex::new(KeySet::single(first.verifying_key()).jwks()));
    let (addr, _server) = identity_provider(Arc::clone(&published)).await;
    let refresher = JwksRefresher::start(
        move || fetch(addr),
        |keys| {
            Validator::builder(keys)
                .issuer(ISSUER)
                .audience(AUDIENCE)
                .build()
        },
    )
    .await
    .unwrap();
    let app = App::new(JwtLayer::new(refresher.validator().clone()));
    let task = refresher.spawn(std::time::Duration::from_millis(50));
    *published.lock().unwrap() = KeySet::single(second.verifying_key()).jwks();
    let mut status = StatusCode::UNAUTHORIZED;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        status = app.bearer(&token(&second)).await.status;
        if status == StatusCode::OK {
            break;
        }
    }
    task.abort();
    assert_eq!(status, StatusCode::OK);
    // The old key left the document, so it left the validator too.
    assert_eq!(
        app.bearer(&token(&first)).await.error,
        Some(AuthError::UnknownKey)
    );
}
