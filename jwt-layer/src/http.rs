//! A ready HTTP client for [discovery](crate::discovery) and [JWKS](crate::jwks)
//! (feature `jwks-http`).
//!
//! Built on hyper-util's client (the hyper project's own, already under axum
//! and tonic, so little new code in your tree) with rustls and the Mozilla
//! root certificates (webpki-roots): no OpenSSL, no system roots to trust by
//! accident. reqwest would do as well, but brings its own stack of features
//! (cookies, proxies, redirects by default) that a key fetcher must not use.
//!
//! What it does for you:
//! - bodies are capped **while streaming** (`http_body_util::Limited`), so an
//!   oversized document is dropped before it is held in memory;
//! - **no redirects** are followed (a 3xx is an error): a metadata document or
//!   JWKS that moved is a configuration change to make on purpose;
//! - `If-None-Match`, `ETag` and `Cache-Control: max-age` for the JWKS
//!   ([`JwksUrl`]); the timeout is applied by `RemoteJwks` and `Discovery`.
//!
//! ```no_run
//! use jwt_layer::discovery::Discovery;
//! use jwt_layer::http::HttpClient;
//! use jwt_layer::{JwtLayer, Validator};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let jwks = Discovery::new("https://idp.example.com/realms/main")
//!     .start(HttpClient::new()?, |keys, metadata| {
//!         Validator::builder(keys).issuer(&metadata.issuer).audience("my-api").build()
//!     })
//!     .await?;
//! let layer = JwtLayer::<serde_json::Value>::new(jwks.validator().clone()).resolver(jwks);
//! # let _ = layer; Ok(()) }
//! ```
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, StatusCode, header};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::discovery::{DEFAULT_MAX_DOCUMENT, FetchDocument};
use crate::future::BoxFuture;
use crate::jwks::{FetchJwks, JwksResponse};

/// An HTTPS client (rustls, Mozilla roots; plain `http` too, which
/// [`Discovery`](crate::discovery::Discovery) allows only to loopback when told).
#[derive(Clone, Debug)]
pub struct HttpClient {
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
}

impl HttpClient {
    /// A client with rustls (aws-lc-rs) and the Mozilla roots.
    pub fn new() -> Result<Self, String> {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::aws_lc_rs::default_provider())
            .map_err(|e| e.to_string())?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
        })
    }

    /// The JWKS at `url` as a [`FetchJwks`] (for `RemoteJwks`), with HTTP
    /// caching, at most `max_bytes` (default 64 KiB).
    pub fn jwks(&self, url: impl Into<String>) -> JwksUrl {
        JwksUrl {
            client: self.clone(),
            url: url.into(),
            max_bytes: DEFAULT_MAX_DOCUMENT,
        }
    }

    /// GET `url`: status 200 (or 304 when `etag` matched), headers, body of at
    /// most `max_bytes`.
    async fn get_with(
        &self,
        url: &str,
        max_bytes: usize,
        etag: Option<&str>,
    ) -> Result<(StatusCode, HeaderMap, Bytes), String> {
        let uri: http::Uri = url.parse().map_err(|_| format!("not a URL: {url}"))?;
        let mut request = Request::get(uri)
            .header(header::ACCEPT, "application/json")
            .body(Empty::new())
            .map_err(|e| e.to_string())?;
        if let Some(etag) = etag
            && let Ok(value) = HeaderValue::from_str(etag)
        {
            request.headers_mut().insert(header::IF_NONE_MATCH, value);
        }
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        let status = response.status();
        if status != StatusCode::OK && status != StatusCode::NOT_MODIFIED {
            // Redirects included: never followed.
            return Err(format!("GET {url}: {status}"));
        }
        let (parts, body) = response.into_parts();
        let body = Limited::new(body, max_bytes)
            .collect()
            .await
            .map_err(|e| format!("GET {url}: {e} (limit {max_bytes} bytes)"))?
            .to_bytes();
        Ok((status, parts.headers, body))
    }
}

impl FetchDocument for HttpClient {
    fn get<'a>(&'a self, url: &'a str, max_bytes: usize) -> BoxFuture<'a, Result<Bytes, String>> {
        Box::pin(async move {
            let (status, _, body) = self.get_with(url, max_bytes, None).await?;
            if status != StatusCode::OK {
                return Err(format!("GET {url}: {status}"));
            }
            Ok(body)
        })
    }
}

/// A JWKS URL fetched with [`HttpClient`]: see [`HttpClient::jwks`].
#[derive(Clone, Debug)]
pub struct JwksUrl {
    client: HttpClient,
    url: String,
    max_bytes: usize,
}

impl JwksUrl {
    /// The cap on the document (default 64 KiB).
    #[must_use]
    pub fn max_bytes(mut self, max_bytes: usize) -> Self {
        self.max_bytes = max_bytes;
        self
    }
}

impl FetchJwks for JwksUrl {
    fn fetch(&self) -> BoxFuture<'_, Result<jsonwebtoken::jwk::JwkSet, String>> {
        Box::pin(async move {
            self.fetch_cached(None)
                .await?
                .jwks
                .ok_or_else(|| "304 Not Modified without If-None-Match".to_owned())
        })
    }

    fn fetch_cached<'a>(
        &'a self,
        etag: Option<&'a str>,
    ) -> BoxFuture<'a, Result<JwksResponse, String>> {
        Box::pin(async move {
            let (status, headers, body) = self
                .client
                .get_with(&self.url, self.max_bytes, etag)
                .await?;
            let jwks = if status == StatusCode::NOT_MODIFIED {
                None
            } else {
                Some(serde_json::from_slice(&body).map_err(|e| format!("JWKS: {e}"))?)
            };
            Ok(JwksResponse {
                jwks,
                etag: headers
                    .get(header::ETAG)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned),
                max_age: max_age(&headers),
            })
        })
    }
}

/// `Cache-Control: max-age=N` (`no-store`/`no-cache`: zero).
fn max_age(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(header::CACHE_CONTROL)?.to_str().ok()?;
    let mut age = None;
    for directive in value.split(',') {
        let directive = directive.trim();
        if directive.eq_ignore_ascii_case("no-store") || directive.eq_ignore_ascii_case("no-cache")
        {
            return Some(Duration::ZERO);
        }
        if let Some((name, seconds)) = directive.split_once('=')
            && name.trim().eq_ignore_ascii_case("max-age")
        {
            age = seconds
                .trim()
                .trim_matches('"')
                .parse()
                .ok()
                .map(Duration::from_secs);
        }
    }
    age
}
