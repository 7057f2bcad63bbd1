//! Configuration from the issuer's URL: OpenID Connect Discovery, falling back
//! to RFC 8414 (OAuth 2.0 Authorization Server Metadata), then the JWKS it
//! names as a [`RemoteJwks`].
//!
//! ```no_run
//! use jwt_layer::discovery::Discovery;
//! use jwt_layer::fetch::FetchDocument;
//! use jwt_layer::BoxFuture;
//! use jwt_layer::{JwtLayer, Validator};
//!
//! /// Your HTTP client: a GET that enforces `max_bytes` while reading the body.
//! struct Http;
//! impl FetchDocument for Http {
//!     fn get<'a>(&'a self, url: &'a str, max_bytes: usize) -> BoxFuture<'a, Result<bytes::Bytes, String>> {
//!         Box::pin(async move { Err(format!("GET {url}: not in this example")) })
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), jwt_layer::discovery::DiscoveryError> {
//! let jwks = Discovery::new("https://idp.example.com/realms/main")
//!     .start(Http, |keys, metadata| {
//!         Validator::builder(keys).issuer(&metadata.issuer).audience("my-api").build()
//!     })
//!     .await?;
//! let layer = JwtLayer::<serde_json::Value>::new(jwks.validator().clone()).resolver(jwks);
//! # let _ = layer; Ok(()) }
//! ```
//!
//! What is refused, at start-up, with a [`DiscoveryError`]:
//! - a document whose `issuer` is not exactly the configured one (OIDC
//!   Discovery §4.3, RFC 8414 §3.3): it would let one provider speak for another;
//! - a `jwks_uri` (or issuer) that is not `https`, unless
//!   [`allow_http_loopback`](Discovery::allow_http_loopback) was called and the
//!   host is a loopback address (`127.0.0.1`, `[::1]`, `localhost`), for
//!   development;
//! - a document larger than [`DEFAULT_MAX_DOCUMENT`] (64 KiB) or not JSON.
//!
//! The metadata is read once, at start-up. The JWKS it names is then fetched
//! the one way every JWKS is, as a [`JwksUrl`] over the same client (see
//! [`fetch`](crate::fetch)): capped, and with `ETag`/`If-None-Match` and
//! `Cache-Control: max-age` when the client implements
//! [`FetchDocument::get_conditional`] (the ready `http::HttpClient` of
//! feature `jwks-http` does), so an unchanged JWKS costs the provider a
//! `304`, not a document.
use std::time::Duration;

use bytes::Bytes;
use serde::Deserialize;

use crate::error::ConfigError;
use crate::fetch::{DEFAULT_MAX_DOCUMENT, FetchDocument, JwksUrl};
use crate::jwks::{DEFAULT_TIMEOUT, JwksError, RemoteJwks, RemoteJwksBuilder};
use crate::keys::KeySet;
use crate::validate::Validator;

/// Why discovery failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// The configured issuer is not a URL this library accepts.
    #[error("issuer {0:?} is not an absolute https URL (or loopback http, when allowed)")]
    BadIssuerUrl(String),
    /// Neither metadata document could be fetched.
    #[error("no metadata document at {url}: {reason}")]
    Fetch {
        /// The URL tried last.
        url: String,
        /// Why.
        reason: String,
    },
    /// The document is larger than the cap.
    #[error("the metadata document is larger than {0} bytes")]
    TooLarge(usize),
    /// The document is not a JSON object with `issuer` and `jwks_uri` strings.
    #[error("the metadata document is not usable: {0}")]
    Invalid(String),
    /// The document's `issuer` is not the configured one.
    #[error("the metadata document names issuer {found:?}, not the configured {expected:?}")]
    IssuerMismatch {
        /// The configured issuer.
        expected: String,
        /// What the document says.
        found: String,
    },
    /// The `jwks_uri` is not https (and loopback http was not allowed).
    #[error("jwks_uri {0:?} is not https")]
    InsecureJwksUri(String),
    /// The JWKS could not be fetched or used.
    #[error(transparent)]
    Jwks(#[from] JwksError),
}

impl From<ConfigError> for DiscoveryError {
    fn from(err: ConfigError) -> Self {
        Self::Jwks(JwksError::Keys(err))
    }
}

/// What the issuer's metadata document says (the parts this library uses).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ProviderMetadata {
    /// The issuer, equal to the configured one.
    pub issuer: String,
    /// Where the keys are.
    pub jwks_uri: String,
}

/// Reads an issuer's metadata, then its JWKS.
#[derive(Debug, Clone)]
#[must_use]
pub struct Discovery {
    issuer: String,
    allow_http_loopback: bool,
    max_document: usize,
    timeout: Duration,
    jwks: RemoteJwksBuilder,
}

impl Discovery {
    /// Discovery for `issuer` (exactly as the tokens' `iss` says it).
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            allow_http_loopback: false,
            max_document: DEFAULT_MAX_DOCUMENT,
            timeout: DEFAULT_TIMEOUT,
            jwks: RemoteJwks::builder(),
        }
    }

    /// Accepts `http` for the issuer and `jwks_uri` when the host is a
    /// loopback address: for development against a local provider.
    pub fn allow_http_loopback(mut self) -> Self {
        self.allow_http_loopback = true;
        self
    }

    /// The cap on each document, the metadata and the JWKS (default 64 KiB,
    /// [`DEFAULT_MAX_DOCUMENT`]).
    pub fn max_document(mut self, bytes: usize) -> Self {
        self.max_document = bytes;
        self
    }

    /// The [`RemoteJwks`] cooldown (default 30 s, see [`RemoteJwksBuilder::cooldown`]).
    pub fn cooldown(mut self, cooldown: Duration) -> Self {
        self.jwks = self.jwks.cooldown(cooldown);
        self
    }

    /// The limit on each fetch, the metadata's and the JWKS's (default 5 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self.jwks = self.jwks.timeout(timeout);
        self
    }

    /// The bounds of the [`RemoteJwks`] refresh that follows the JWKS's
    /// `Cache-Control: max-age` (default 1 min to 1 day, see
    /// [`RemoteJwksBuilder::refresh_bounds`]).
    pub fn refresh_bounds(mut self, min: Duration, max: Duration) -> Self {
        self.jwks = self.jwks.refresh_bounds(min, max);
        self
    }

    /// Fetches and checks the metadata document:
    /// `{issuer}/.well-known/openid-configuration`, else RFC 8414's
    /// `/.well-known/oauth-authorization-server{path}`.
    pub async fn metadata(
        &self,
        http: &dyn FetchDocument,
    ) -> Result<ProviderMetadata, DiscoveryError> {
        let uri: http::Uri = self
            .issuer
            .parse()
            .map_err(|_| DiscoveryError::BadIssuerUrl(self.issuer.clone()))?;
        if !self.acceptable(&uri) || uri.query().is_some() {
            return Err(DiscoveryError::BadIssuerUrl(self.issuer.clone()));
        }
        let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
            return Err(DiscoveryError::BadIssuerUrl(self.issuer.clone()));
        };
        let path = uri.path().trim_end_matches('/');
        let candidates = [
            format!("{scheme}://{authority}{path}/.well-known/openid-configuration"),
            format!("{scheme}://{authority}/.well-known/oauth-authorization-server{path}"),
        ];
        let mut last = None;
        for url in candidates {
            match self.fetch(http, &url).await {
                Ok(bytes) => return self.check(&bytes),
                Err(err @ DiscoveryError::TooLarge(_)) => return Err(err),
                Err(err) => last = Some(err),
            }
        }
        Err(last.unwrap_or_else(|| DiscoveryError::BadIssuerUrl(self.issuer.clone())))
    }

    /// Discovers the metadata, then fetches its JWKS into a [`RemoteJwks`]
    /// whose validator `build` makes (give it the issuer and your audience).
    ///
    /// The JWKS is a [`JwksUrl`] over the same `http`: capped at the
    /// [document limit](Self::max_document), with HTTP caching (`ETag`,
    /// `Cache-Control: max-age`) when `http` implements
    /// [`FetchDocument::get_conditional`].
    pub async fn start<H, B>(self, http: H, build: B) -> Result<RemoteJwks, DiscoveryError>
    where
        H: FetchDocument,
        B: FnOnce(KeySet, &ProviderMetadata) -> Result<Validator, ConfigError>,
    {
        let metadata = self.metadata(&http).await?;
        let jwks = JwksUrl::new(http, metadata.jwks_uri.clone()).max_bytes(self.max_document);
        let jwks = self.jwks.start(jwks, |keys| build(keys, &metadata)).await?;
        Ok(jwks)
    }

    async fn fetch(&self, http: &dyn FetchDocument, url: &str) -> Result<Bytes, DiscoveryError> {
        let fetched = tokio::time::timeout(self.timeout, http.get(url, self.max_document)).await;
        let bytes = match fetched {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(reason)) => {
                return Err(DiscoveryError::Fetch {
                    url: url.to_owned(),
                    reason,
                });
            }
            Err(_) => {
                return Err(DiscoveryError::Fetch {
                    url: url.to_owned(),
                    reason: "timed out".to_owned(),
                });
            }
        };
        if bytes.len() > self.max_document {
            return Err(DiscoveryError::TooLarge(self.max_document));
        }
        Ok(bytes)
    }

    fn check(&self, bytes: &[u8]) -> Result<ProviderMetadata, DiscoveryError> {
        if bytes.trim_ascii_start().first() != Some(&b'{') {
            return Err(DiscoveryError::Invalid("not a JSON object".to_owned()));
        }
        let metadata: ProviderMetadata =
            serde_json::from_slice(bytes).map_err(|e| DiscoveryError::Invalid(e.to_string()))?;
        if metadata.issuer != self.issuer {
            return Err(DiscoveryError::IssuerMismatch {
                expected: self.issuer.clone(),
                found: metadata.issuer,
            });
        }
        let jwks: http::Uri = metadata
            .jwks_uri
            .parse()
            .map_err(|_| DiscoveryError::InsecureJwksUri(metadata.jwks_uri.clone()))?;
        if !self.acceptable(&jwks) {
            return Err(DiscoveryError::InsecureJwksUri(metadata.jwks_uri));
        }
        Ok(metadata)
    }

    /// `https`, or `http` to a loopback host when allowed.
    fn acceptable(&self, uri: &http::Uri) -> bool {
        match uri.scheme_str() {
            Some("https") => uri.host().is_some(),
            Some("http") if self.allow_http_loopback => uri.host().is_some_and(is_loopback),
            _ => false,
        }
    }
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}
