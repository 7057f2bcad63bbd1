//! The HTTP GET that keys and metadata are fetched with: pluggable
//! ([`FetchDocument`]: bring the client your service already has), and one
//! way of reading a JWKS from a URL with HTTP caching ([`JwksUrl`]), used by
//! [`Discovery`](crate::discovery::Discovery) and by `http::HttpClient::jwks`
//! (feature `jwks-http`) alike.
//!
//! [`JwksUrl`] is where the caching rules live, whatever the client:
//! - the `ETag` of the last document is sent back as `If-None-Match`, and a
//!   `304 Not Modified` keeps the keys in force without a new document;
//! - `Cache-Control: max-age` is reported to [`RemoteJwks`](crate::jwks::RemoteJwks),
//!   which follows it within its refresh bounds (`no-cache`/`no-store`: the
//!   lower bound);
//! - the document is capped ([`DEFAULT_MAX_DOCUMENT`], 64 KiB, by default);
//!   the client should stop reading past the cap, and the cap is checked here
//!   again in case it does not.
//!
//! A client that implements only [`FetchDocument::get`] works too, without
//! HTTP caching (every fetch brings the whole document).
//!
//! ```no_run
//! use jwt_layer::fetch::{FetchDocument, JwksUrl};
//! use jwt_layer::jwks::RemoteJwks;
//! use jwt_layer::{BoxFuture, Validator};
//!
//! /// Your HTTP client: a GET that gives up past `max_bytes` while reading.
//! struct Http;
//! impl FetchDocument for Http {
//!     fn get<'a>(&'a self, url: &'a str, max_bytes: usize) -> BoxFuture<'a, Result<bytes::Bytes, String>> {
//!         Box::pin(async move { Err(format!("GET {url}: not in this example")) })
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), jwt_layer::jwks::JwksError> {
//! let jwks = RemoteJwks::builder()
//!     .start(JwksUrl::new(Http, "https://idp.example.com/jwks.json"), |keys| {
//!         Validator::builder(keys).issuer("https://idp.example.com/").audience("my-api").build()
//!     })
//!     .await?;
//! # let _ = jwks; Ok(()) }
//! ```
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Response, StatusCode, header};
use jsonwebtoken::jwk::JwkSet;

use crate::future::BoxFuture;
use crate::jwks::{FetchJwks, JwksResponse};

/// The default cap on a metadata or JWKS document: 64 KiB.
pub const DEFAULT_MAX_DOCUMENT: usize = 64 * 1024;

/// An HTTP GET, pluggable: bring the client your application already has.
///
/// Implementations must give up past `max_bytes` (while reading the body, not
/// after) and follow no redirect (or few). [`get`](Self::get) is required;
/// implement [`get_conditional`](Self::get_conditional) too for HTTP caching
/// of the JWKS (`ETag`, `Cache-Control: max-age`).
pub trait FetchDocument: Send + Sync + 'static {
    /// The body of `url` (status 200), at most `max_bytes` long; any other
    /// status is an error.
    fn get<'a>(&'a self, url: &'a str, max_bytes: usize) -> BoxFuture<'a, Result<Bytes, String>>;

    /// A conditional GET: sends `If-None-Match: <etag>` when `etag` is given,
    /// and answers the response as received (status 200 or 304, its headers,
    /// a body of at most `max_bytes`); any other status may be an error or be
    /// answered as is (then [`JwksUrl`] refuses it).
    ///
    /// The default calls [`get`](Self::get) and answers a `200 OK` without
    /// headers: no HTTP caching.
    fn get_conditional<'a>(
        &'a self,
        url: &'a str,
        max_bytes: usize,
        etag: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Response<Bytes>, String>> {
        let _ = etag;
        let fetched = self.get(url, max_bytes);
        Box::pin(async move { fetched.await.map(Response::new) })
    }
}

impl<H: FetchDocument + ?Sized> FetchDocument for Arc<H> {
    fn get<'a>(&'a self, url: &'a str, max_bytes: usize) -> BoxFuture<'a, Result<Bytes, String>> {
        (**self).get(url, max_bytes)
    }

    fn get_conditional<'a>(
        &'a self,
        url: &'a str,
        max_bytes: usize,
        etag: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Response<Bytes>, String>> {
        (**self).get_conditional(url, max_bytes, etag)
    }
}

/// A JWKS at a URL, fetched with a [`FetchDocument`]: a [`FetchJwks`] for
/// [`RemoteJwks`](crate::jwks::RemoteJwks), with HTTP caching (see the
/// [module docs](self)).
#[derive(Clone)]
#[must_use]
pub struct JwksUrl<H> {
    http: H,
    url: String,
    max_bytes: usize,
}

impl<H> std::fmt::Debug for JwksUrl<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksUrl")
            .field("url", &self.url)
            .field("max_bytes", &self.max_bytes)
            .finish_non_exhaustive()
    }
}

impl<H: FetchDocument> JwksUrl<H> {
    /// The JWKS at `url`, fetched with `http`.
    pub fn new(http: H, url: impl Into<String>) -> Self {
        Self {
            http,
            url: url.into(),
            max_bytes: DEFAULT_MAX_DOCUMENT,
        }
    }

    /// The cap on the document (default 64 KiB, [`DEFAULT_MAX_DOCUMENT`]).
    pub fn max_bytes(mut self, max_bytes: usize) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// The URL.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl<H: FetchDocument> FetchJwks for JwksUrl<H> {
    fn fetch(&self) -> BoxFuture<'_, Result<JwkSet, String>> {
        Box::pin(async move {
            self.fetch_cached(None)
                .await?
                .jwks
                .ok_or_else(|| format!("GET {}: 304 Not Modified", self.url))
        })
    }

    fn fetch_cached<'a>(
        &'a self,
        etag: Option<&'a str>,
    ) -> BoxFuture<'a, Result<JwksResponse, String>> {
        Box::pin(async move {
            let response = self
                .http
                .get_conditional(&self.url, self.max_bytes, etag)
                .await?;
            let (parts, body) = response.into_parts();
            let jwks = match parts.status {
                // A 304 answers an If-None-Match only; to a plain GET it is a
                // broken server, and keys must not be assumed unchanged.
                StatusCode::NOT_MODIFIED if etag.is_some() => None,
                StatusCode::OK if body.len() > self.max_bytes => {
                    return Err(format!(
                        "GET {}: JWKS larger than {} bytes",
                        self.url, self.max_bytes
                    ));
                }
                StatusCode::OK => Some(
                    serde_json::from_slice(&body)
                        .map_err(|e| format!("GET {}: JWKS: {e}", self.url))?,
                ),
                status => return Err(format!("GET {}: {status}", self.url)),
            };
            Ok(JwksResponse {
                jwks,
                etag: parts
                    .headers
                    .get(header::ETAG)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned),
                max_age: max_age(&parts.headers),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn cache_control(value: &str) -> Option<Duration> {
        let mut headers = HeaderMap::new();
        headers.insert(header::CACHE_CONTROL, value.parse().unwrap());
        max_age(&headers)
    }

    #[test]
    fn max_age_is_read_from_cache_control() {
        assert_eq!(
            cache_control("public, max-age=120"),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            cache_control("max-age=\"60\""),
            Some(Duration::from_secs(60))
        );
        assert_eq!(cache_control("max-age=60, no-cache"), Some(Duration::ZERO));
        assert_eq!(cache_control("no-store"), Some(Duration::ZERO));
        assert_eq!(cache_control("public"), None);
        assert_eq!(cache_control("max-age=-1"), None);
        assert_eq!(max_age(&HeaderMap::new()), None);
    }
}
