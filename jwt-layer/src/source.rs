//! Where the token is taken from: an ordered list of sources.
//!
//! ```
//! use jwt_layer::TokenSource;
//!
//! // The default: the `Authorization: Bearer` header only.
//! let default = vec![TokenSource::Bearer];
//!
//! // A browser app: bearer header for API clients, the HttpOnly cookie for the page.
//! let sources = vec![TokenSource::Bearer, TokenSource::cookie("__Host-access_token")];
//! # let _ = (default, sources);
//! ```
//!
//! Rules, in this order, so that a request never has two meanings:
//! - two `Authorization` headers, a cookie sent twice, or the same custom header
//!   twice: `400 invalid_request`;
//! - a token present in two sources with different values: `400 invalid_request`;
//! - the first source that has a token decides: if that token is malformed, the
//!   request is refused; it never falls back to the next source.
//!
//! An `Authorization` header with another scheme (`Basic …`) is not a bearer
//! credential and counts as absent, so the layer can sit beside other schemes.
//! A header that starts with `Bearer` (any case) but is not exactly
//! `Bearer 1*SP token` (`Bearer<TAB>x`, `Bearerx`, two tokens) is malformed:
//! `400 invalid_request`, never read as another scheme.
//!
//! Cookies are parsed by RFC 6265 §5.2 (only SP and HTAB are trimmed, a name
//! must be a token, names compare byte for byte), so a name padded with
//! Unicode whitespace is another cookie, not ours.
use std::borrow::Cow;
use std::sync::Arc;

use http::request::Parts;
use http::{HeaderName, header};

use crate::error::AuthError;
use crate::future::BoxFuture;
use crate::header::{at_most_one, bearer_token, cookie_values};

/// The default cookie name. The `__Host-` prefix makes browsers refuse the cookie
/// unless it is `Secure`, has `Path=/` and no `Domain`, so a sibling subdomain
/// cannot plant or overwrite it. (Read by the `Set-Cookie` helpers of `issue`.)
#[cfg(feature = "issue")]
pub(crate) const DEFAULT_COOKIE_NAME: &str = "__Host-access_token";

/// Finds a token in a request, for sources the built-in ones do not cover.
///
/// Return `Ok(None)` when this source has no token, `Ok(Some(token))` when it has
/// one, and `Err(_)` when the request is malformed for this source (400) or the
/// source failed (503); see [`SourceError`].
pub trait ExtractToken: Send + Sync + 'static {
    /// Looks for a token in the request head.
    fn extract<'a>(
        &'a self,
        parts: &'a Parts,
    ) -> BoxFuture<'a, Result<Option<String>, SourceError>>;
}

/// Why a custom source could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The credentials in the request are malformed (answered 400 `invalid_request`).
    #[error("malformed credentials")]
    Malformed,
    /// The source itself failed (answered 503, fail closed).
    #[error("token source failed: {0}")]
    Failed(String),
}

/// One place a token can come from.
#[derive(Clone)]
#[non_exhaustive]
pub enum TokenSource {
    /// `Authorization: Bearer <token>` (RFC 6750 §2.1). The scheme is matched
    /// case-insensitively; one or more spaces, then one token, nothing after it.
    Bearer,
    /// A cookie by name (RFC 6265 syntax), typically HttpOnly.
    Cookie(String),
    /// A custom header carrying the bare token.
    Header(HeaderName),
    /// A query parameter. **Discouraged** (RFC 6750 §2.3): URLs end up in logs,
    /// browser history and `Referer` headers. Only for clients that cannot set
    /// headers, such as a browser `WebSocket` or `EventSource`.
    Query(String),
    /// Anything else, possibly async.
    Custom(Arc<dyn ExtractToken>),
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenSource::Bearer => f.write_str("Bearer"),
            TokenSource::Cookie(name) => f.debug_tuple("Cookie").field(name).finish(),
            TokenSource::Header(name) => f.debug_tuple("Header").field(name).finish(),
            TokenSource::Query(name) => f.debug_tuple("Query").field(name).finish(),
            TokenSource::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

impl TokenSource {
    /// A cookie source.
    pub fn cookie(name: impl Into<String>) -> Self {
        TokenSource::Cookie(name.into())
    }

    /// A custom header source, e.g. `HeaderName::from_static("x-api-token")`.
    pub fn header(name: HeaderName) -> Self {
        TokenSource::Header(name)
    }

    /// A query parameter source. See the warning on [`TokenSource::Query`].
    pub fn query(name: impl Into<String>) -> Self {
        TokenSource::Query(name.into())
    }

    /// A custom source.
    pub fn custom(source: impl ExtractToken) -> Self {
        TokenSource::Custom(Arc::new(source))
    }

    /// Which kind of source this is; [`TokenSourceKind::as_str`] names it for logs.
    pub fn kind(&self) -> TokenSourceKind {
        match self {
            TokenSource::Bearer => TokenSourceKind::Bearer,
            TokenSource::Cookie(_) => TokenSourceKind::Cookie,
            TokenSource::Header(_) => TokenSourceKind::Header,
            TokenSource::Query(_) => TokenSourceKind::Query,
            TokenSource::Custom(_) => TokenSourceKind::Custom,
        }
    }

    /// Finds this source's token in `parts` without awaiting, or `None` for a
    /// custom source (which may be async; the layer takes the async path then).
    fn find_now<'a>(&self, parts: &'a Parts) -> Option<Result<Option<Cow<'a, str>>, AuthError>> {
        Some(match self {
            TokenSource::Bearer => bearer(parts),
            TokenSource::Cookie(name) => cookie(parts, name),
            TokenSource::Header(name) => single_header(parts, name),
            TokenSource::Query(name) => query(parts, name),
            TokenSource::Custom(_) => return None,
        })
    }

    /// Finds this source's token in `parts`.
    pub(crate) async fn find<'a>(
        &self,
        parts: &'a Parts,
    ) -> Result<Option<Cow<'a, str>>, AuthError> {
        match self {
            TokenSource::Custom(custom) => match custom.extract(parts).await {
                Ok(token) => Ok(token.map(Cow::Owned)),
                Err(SourceError::Malformed) => Err(AuthError::MalformedHeader),
                Err(SourceError::Failed(reason)) => {
                    tracing::warn!(%reason, "custom token source failed");
                    Err(AuthError::SourceFailed)
                }
            },
            // Only a custom source has no answer without awaiting.
            _ => self.find_now(parts).unwrap_or(Ok(None)),
        }
    }
}

/// Where a verified token came from: the kind of [`TokenSource`] that found it,
/// or [`Direct`](Self::Direct) for [`Validator::verify`](crate::Validator::verify)
/// called outside the layer.
///
/// Serializes as its [`as_str`](Self::as_str) name (`"bearer"`, `"cookie"`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenSourceKind {
    /// [`TokenSource::Bearer`].
    Bearer,
    /// [`TokenSource::Cookie`]: the request is subject to the [CSRF check](crate::csrf).
    Cookie,
    /// [`TokenSource::Header`].
    Header,
    /// [`TokenSource::Query`].
    Query,
    /// [`TokenSource::Custom`].
    Custom,
    /// Verified by [`Validator::verify`](crate::Validator::verify), outside the layer.
    Direct,
}

impl TokenSourceKind {
    /// A short lowercase name for logs and responses: `"bearer"`, `"cookie"`,
    /// `"header"`, `"query"`, `"custom"` or `"direct"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            TokenSourceKind::Bearer => "bearer",
            TokenSourceKind::Cookie => "cookie",
            TokenSourceKind::Header => "header",
            TokenSourceKind::Query => "query",
            TokenSourceKind::Custom => "custom",
            TokenSourceKind::Direct => "direct",
        }
    }
}

impl std::fmt::Display for TokenSourceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for TokenSourceKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// The token found (borrowed from the request where it can be), and the source
/// it came from.
#[derive(Debug)]
pub(crate) struct Found<'a> {
    pub(crate) token: Cow<'a, str>,
    pub(crate) source: TokenSourceKind,
}

/// Runs the sources in order and applies the conflict rules.
pub(crate) async fn find_token<'a>(
    sources: &[TokenSource],
    parts: &'a Parts,
) -> Result<Option<Found<'a>>, AuthError> {
    let mut found: Option<Found<'a>> = None;
    for source in sources {
        let token = source.find(parts).await?;
        merge(&mut found, token, source.kind())?;
    }
    Ok(found)
}

/// As [`find_token`], without awaiting: `None` if a source is custom (possibly
/// async), so the caller must take the async path. The layer's fast path: no
/// boxed future and no clone of the inner service.
pub(crate) fn find_token_now<'a>(
    sources: &[TokenSource],
    parts: &'a Parts,
) -> Option<Result<Option<Found<'a>>, AuthError>> {
    let mut found: Option<Found<'a>> = None;
    for source in sources {
        let token = match source.find_now(parts)? {
            Ok(token) => token,
            Err(err) => return Some(Err(err)),
        };
        if let Err(err) = merge(&mut found, token, source.kind()) {
            return Some(Err(err));
        }
    }
    Some(Ok(found))
}

/// The conflict rule, in one place for both paths: the first source with a
/// token decides, and another source with a different token is a conflict.
fn merge<'a>(
    found: &mut Option<Found<'a>>,
    token: Option<Cow<'a, str>>,
    source: TokenSourceKind,
) -> Result<(), AuthError> {
    let Some(token) = token else {
        return Ok(());
    };
    match found {
        None => *found = Some(Found { token, source }),
        Some(first) if first.token != token => return Err(AuthError::ConflictingCredentials),
        Some(_) => {}
    }
    Ok(())
}

fn bearer(parts: &Parts) -> Result<Option<Cow<'_, str>>, AuthError> {
    let Some(value) = at_most_one(parts.headers.get_all(header::AUTHORIZATION).iter())? else {
        return Ok(None);
    };
    Ok(bearer_token(value.as_bytes())?.map(Cow::Borrowed))
}

fn cookie<'a>(parts: &'a Parts, name: &str) -> Result<Option<Cow<'a, str>>, AuthError> {
    match at_most_one(cookie_values(&parts.headers, name))? {
        Some(value) if value.is_empty() => Err(AuthError::Malformed),
        other => Ok(other.map(Cow::Owned)),
    }
}

fn single_header<'a>(
    parts: &'a Parts,
    name: &HeaderName,
) -> Result<Option<Cow<'a, str>>, AuthError> {
    let Some(value) = at_most_one(parts.headers.get_all(name).iter())? else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(token) if !token.trim().is_empty() => Ok(Some(Cow::Borrowed(token.trim()))),
        _ => Err(AuthError::MalformedHeader),
    }
}

fn query<'a>(parts: &'a Parts, name: &str) -> Result<Option<Cow<'a, str>>, AuthError> {
    let Some(query) = parts.uri.query() else {
        return Ok(None);
    };
    let values = query.split('&').filter_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then_some(value)
    });
    match at_most_one(values)? {
        // JWTs are base64url with dots: they never need percent-encoding, so a
        // value that does is not one of ours; the shape check refuses it.
        Some("") => Err(AuthError::Malformed),
        other => Ok(other.map(Cow::Borrowed)),
    }
}
