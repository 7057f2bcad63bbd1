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
//! - a **connect timeout** of its own ([`HttpClientBuilder::connect_timeout`],
//!   default 2 s), below the 5 s that `RemoteJwks` and `Discovery` allow a
//!   whole fetch: a provider address that does not answer at all fails fast
//!   and says so, instead of using up the whole fetch timeout;
//! - conditional GETs ([`FetchDocument::get_conditional`]), so the JWKS is
//!   fetched with `If-None-Match`, `ETag` and `Cache-Control: max-age`
//!   ([`JwksUrl`], the same for discovery and for [`HttpClient::jwks`]).
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
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::fetch::{FetchDocument, JwksUrl};
use crate::future::BoxFuture;

/// The default limit on establishing a TCP connection: 2 s.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// An HTTPS client (rustls, Mozilla roots; plain `http` too, which
/// [`Discovery`](crate::discovery::Discovery) allows only to loopback when told).
#[derive(Clone, Debug)]
pub struct HttpClient {
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    connect_timeout: Duration,
}

/// Builds an [`HttpClient`].
#[derive(Debug, Clone, Copy)]
#[must_use]
pub struct HttpClientBuilder {
    connect_timeout: Duration,
}

impl HttpClientBuilder {
    /// The longest a TCP connection may take to establish (default 2 s,
    /// [`DEFAULT_CONNECT_TIMEOUT`]). Keep it below the fetch timeout of
    /// `RemoteJwks` and `Discovery` (5 s by default), which bounds the whole
    /// request: connecting, TLS, headers and body.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// A client with rustls (aws-lc-rs) and the Mozilla roots.
    pub fn build(self) -> Result<HttpClient, String> {
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(self.connect_timeout));
        // `https://` URLs pass to the TLS layer wrapped around this one.
        http.enforce_http(false);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::aws_lc_rs::default_provider())
            .map_err(|e| e.to_string())?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Ok(HttpClient {
            client: Client::builder(TokioExecutor::new()).build(connector),
            connect_timeout: self.connect_timeout,
        })
    }
}

impl HttpClient {
    /// A client with the defaults (see [`HttpClientBuilder`]).
    pub fn new() -> Result<Self, String> {
        Self::builder().build()
    }

    /// Starts the configuration.
    pub fn builder() -> HttpClientBuilder {
        HttpClientBuilder {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }

    /// The JWKS at `url` as a [`FetchJwks`](crate::jwks::FetchJwks) (for
    /// `RemoteJwks`), with HTTP caching, at most 64 KiB unless
    /// [`JwksUrl::max_bytes`] says otherwise.
    pub fn jwks(&self, url: impl Into<String>) -> JwksUrl<HttpClient> {
        JwksUrl::new(self.clone(), url)
    }

    /// GET `url`: status 200 (or 304 when `etag` matched), headers, body of at
    /// most `max_bytes`.
    async fn get_with(
        &self,
        url: &str,
        max_bytes: usize,
        etag: Option<&str>,
    ) -> Result<Response<Bytes>, String> {
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
            .map_err(|e| self.describe(url, &e))?;
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
        Ok(Response::from_parts(parts, body))
    }

    /// What went wrong, for the log: the client's error says only "client
    /// error (Connect)"; the cause is further down its chain.
    fn describe(&self, url: &str, err: &(dyn std::error::Error + 'static)) -> String {
        let mut causes = Vec::new();
        let mut next = Some(err);
        while let Some(cause) = next {
            if cause
                .downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
            {
                return format!(
                    "GET {url}: no connection within {} ms (connect timeout)",
                    self.connect_timeout.as_millis()
                );
            }
            causes.push(cause.to_string());
            next = cause.source();
        }
        format!("GET {url}: {}", causes.join(": "))
    }
}

impl FetchDocument for HttpClient {
    fn get<'a>(&'a self, url: &'a str, max_bytes: usize) -> BoxFuture<'a, Result<Bytes, String>> {
        Box::pin(async move {
            let response = self.get_with(url, max_bytes, None).await?;
            if response.status() != StatusCode::OK {
                return Err(format!("GET {url}: {}", response.status()));
            }
            Ok(response.into_body())
        })
    }

    fn get_conditional<'a>(
        &'a self,
        url: &'a str,
        max_bytes: usize,
        etag: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Response<Bytes>, String>> {
        Box::pin(self.get_with(url, max_bytes, etag))
    }
}
