//! The resident memory of a small server at idle: an axum app behind
//! `JwtLayer` + `Claims<T>` (ES256, the default verified-token cache) on a
//! two-worker tokio runtime, on 127.0.0.1, after serving 200 requests over one
//! keep-alive connection (so the cache holds a token and the runtime has run).
//! Linux only (reads `/proc/self/status`).
//!
//! ```text
//! flock /tmp/cargo.lock cargo bench -p jwt-layer --bench idle_rss
//! ```
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use jwt_extractor::Claims;
use jwt_layer::{Algorithm, JwtLayer, KeySet, SigningKey, TokenIssuer, Validator};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
struct User {
    name: String,
}

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let pem = std::fs::read(format!(
        "{}/tests/keys/ec_private.pem",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let signing = SigningKey::ec_pem(Algorithm::ES256, &pem).unwrap();
    let validator = Validator::builder(KeySet::single(signing.verifying_key()))
        .issuer("https://auth.bench")
        .audience("https://api.bench")
        .build()
        .unwrap();
    let token = TokenIssuer::new(signing, validator.clone())
        .unwrap()
        .issue("user-1", &json!({ "name": "Ada" }))
        .unwrap()
        .access_token;
    let app = Router::new()
        .route(
            "/",
            get(|Claims(user): Claims<User>| async move { user.name.clone() }),
        )
        .layer(JwtLayer::<User>::new(validator));
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let address = listener.local_addr().unwrap();
    runtime.spawn(async move { axum::serve(listener, app).await });

    let before = rss_kib();
    let mut stream = TcpStream::connect(address).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    for _ in 0..200 {
        write!(
            stream,
            "GET / HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\r\n"
        )
        .unwrap();
        let mut length = 0;
        let mut status = String::new();
        reader.read_line(&mut status).unwrap();
        assert!(status.contains(" 200 "), "{status}");
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        assert_eq!(body, b"Ada");
    }
    std::thread::sleep(Duration::from_millis(500));
    let idle = rss_kib();
    println!(
        "RSS before serving: {before:?} KiB; idle after 200 requests: {idle:?} KiB (goal: at most 8192 KiB)"
    );
}
