//! The identity provider stand-in of the `idp` and `discovery` tests: an axum
//! server on 127.0.0.1:0 serving discovery and a JWKS that rotates its keys,
//! counts its requests (and its `304`s), and can be made slow or failing; and
//! the HTTP clients the tests' applications fetch it with.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use bytes::Bytes;
use http::{StatusCode, header};
use jwt_layer::BoxFuture;
use jwt_layer::fetch::FetchDocument;
use jwt_layer::jwks::RemoteJwks;
use jwt_layer::{Algorithm, JwkSet, JwtLayer, KeySet, SigningKey, TokenIssuer, Validator};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::common::*;

/// The identity provider stand-in: serves `published` at `/jwks.json`, counts
/// the fetches, and can be made slow or failing.
#[derive(Clone)]
pub struct Provider {
    pub addr: SocketAddr,
    pub published: Arc<Mutex<JwkSet>>,
    pub hits: Arc<AtomicUsize>,
    pub delay_ms: Arc<AtomicU64>,
    pub failing: Arc<AtomicBool>,
    /// The OpenID configuration document, served as is.
    pub metadata: Arc<Mutex<String>>,
    /// How many `304 Not Modified` it answered.
    pub not_modified: Arc<AtomicUsize>,
}

impl Provider {
    pub async fn start(keys: &[&SigningKey]) -> Self {
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

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set_metadata(&self, document: serde_json::Value) {
        *self.metadata.lock().unwrap() = document.to_string();
    }

    pub fn publish(&self, keys: &[&SigningKey]) {
        *self.published.lock().unwrap() = jwks(keys);
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    pub fn not_modified(&self) -> usize {
        self.not_modified.load(Ordering::SeqCst)
    }

    pub fn fetcher(
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

pub fn jwks(keys: &[&SigningKey]) -> JwkSet {
    KeySet::new(keys.iter().map(|k| k.verifying_key()))
        .unwrap()
        .jwks()
}

/// A tiny HTTP GET, standing in for the app's own HTTP client: the response
/// as received (status, headers, body), with `If-None-Match` when given.
pub async fn http_request(
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
pub async fn http_get(addr: SocketAddr, path: &str) -> Result<String, String> {
    let response = http_request(addr, path, None).await?;
    if response.status() != StatusCode::OK {
        return Err(response.status().to_string());
    }
    Ok(String::from_utf8_lossy(response.body()).into_owned())
}

pub fn loopback(url: &str) -> Result<(SocketAddr, String), String> {
    let rest = url.strip_prefix("http://").ok_or("http only")?;
    let (authority, path) = rest.split_once('/').ok_or("no path")?;
    let addr: SocketAddr = authority.parse().map_err(|_| "not an address")?;
    Ok((addr, format!("/{path}")))
}

/// The app's HTTP client for discovery: loopback only, like the rest, and
/// plain GETs only (no HTTP caching).
pub struct Http;

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
pub struct CachingHttp;

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

pub fn ec(kid: &str) -> SigningKey {
    SigningKey::ec_pem(Algorithm::ES256, &key_file("ec_private.pem"))
        .unwrap()
        .with_kid(kid)
}

pub fn rsa(kid: &str) -> SigningKey {
    SigningKey::rsa_pem(Algorithm::PS256, &key_file("rsa_private.pem"))
        .unwrap()
        .with_kid(kid)
}

/// A token of `issuer` for `audience`, signed with `signing`.
pub fn token_of(signing: &SigningKey, issuer: &str, audience: &str) -> String {
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

pub fn token(signing: &SigningKey) -> String {
    token_of(signing, ISSUER, AUDIENCE)
}

pub async fn remote(provider: &Provider, cooldown: Duration, timeout: Duration) -> RemoteJwks {
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

pub fn app_for(jwks: &RemoteJwks) -> App {
    App::new(JwtLayer::new(jwks.validator().clone()).resolver(jwks.clone()))
}
