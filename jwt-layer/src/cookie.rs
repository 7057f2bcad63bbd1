//! `Set-Cookie` helpers for browser apps: tokens in HttpOnly cookies.
//!
//! ```
//! use jwt_layer::cookie::AuthCookies;
//!
//! let cookies = AuthCookies::new();
//! let set = cookies.access_cookie("eyJ.a.b", 900);
//! assert_eq!(
//!     set.to_string(),
//!     "__Host-access_token=eyJ.a.b; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=900"
//! );
//! ```
//!
//! Why these attributes (OWASP session management):
//! - `HttpOnly`: page scripts (and so XSS) cannot read the tokens;
//! - `Secure`: never sent over plain HTTP (browsers treat `http://localhost` as
//!   secure, so development still works);
//! - `__Host-` prefix on the access cookie: the browser only accepts it with
//!   `Secure`, `Path=/` and no `Domain`, so a sibling subdomain cannot plant one;
//! - `SameSite=Lax` on the access cookie (top-level navigations keep you logged
//!   in) and `Strict` on the refresh cookie, which is also scoped to the refresh
//!   endpoints' path (default `/auth`) so it travels with no other request;
//! - `Max-Age` equal to the token lifetime.
//!
//! The refresh cookie cannot have the `__Host-` prefix (that needs `Path=/`), so
//! its `__Secure-` prefix does not stop a sibling subdomain from planting a
//! second one. Hence a refresh reads it with [`AuthCookies::refresh_token`],
//! which refuses duplicates, and a logout with [`AuthCookies::refresh_tokens`],
//! which revokes every one presented.
//!
//! Cookies are sent by the browser automatically, so cookie-authenticated
//! requests with unsafe methods need CSRF protection. The layer does that by
//! itself for tokens that came from a cookie (see [`crate::csrf`]); Bearer-header
//! requests are not exposed to CSRF. Endpoints that read the refresh cookie
//! outside the layer (refresh, logout) are protected by its `SameSite=Strict`
//! and narrow path; put `tower_http::csrf::CsrfLayer` in front of them too for
//! defence in depth.
use ::cookie::{Cookie, SameSite};
use http::header::{self, HeaderMap, HeaderValue};

use crate::error::{AuthError, ConfigError};
use crate::header::is_cookie_name;
use crate::issue::IssuedToken;
#[cfg(feature = "refresh")]
use crate::refresh::TokenPair;
use crate::source::{DEFAULT_COOKIE_NAME, TokenSource};

/// The default refresh cookie name (`__Secure-`: it needs a narrower path than
/// `__Host-` allows).
pub(crate) const DEFAULT_REFRESH_COOKIE_NAME: &str = "__Secure-refresh_token";
/// The default path of the refresh cookie: where the refresh and logout endpoints live.
pub(crate) const DEFAULT_REFRESH_PATH: &str = "/auth";

/// Names and attributes of the access and refresh cookies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthCookies {
    access_name: String,
    refresh_name: String,
    refresh_path: String,
}

impl Default for AuthCookies {
    fn default() -> Self {
        Self::new()
    }
}

impl AuthCookies {
    /// `__Host-access_token` and `__Secure-refresh_token` on `/auth`.
    pub fn new() -> Self {
        Self {
            access_name: DEFAULT_COOKIE_NAME.to_owned(),
            refresh_name: DEFAULT_REFRESH_COOKIE_NAME.to_owned(),
            refresh_path: DEFAULT_REFRESH_PATH.to_owned(),
        }
    }

    /// Names the access cookie (default `__Host-access_token`), e.g. to match
    /// a [`TokenSource::cookie`] an existing app reads. Keep the `__Host-`
    /// prefix if you can: with it, browsers refuse the cookie unless it is
    /// `Secure`, on `Path=/` and without `Domain`, so a sibling subdomain cannot
    /// plant or overwrite it. Refuses a name that is not an RFC 6265 token.
    pub fn with_access_name(mut self, name: impl Into<String>) -> Result<Self, ConfigError> {
        self.access_name = cookie_name(name.into())?;
        Ok(self)
    }

    /// Names the refresh cookie (default `__Secure-refresh_token`; keep the
    /// `__Secure-` prefix: browsers then refuse it unless it is `Secure`).
    /// Refuses a name that is not an RFC 6265 token.
    pub fn with_refresh_name(mut self, name: impl Into<String>) -> Result<Self, ConfigError> {
        self.refresh_name = cookie_name(name.into())?;
        Ok(self)
    }

    /// Scopes the refresh cookie to `path` (where refresh and logout are served).
    pub fn refresh_path(mut self, path: impl Into<String>) -> Self {
        self.refresh_path = path.into();
        self
    }

    /// The access cookie's name.
    pub fn access_name(&self) -> &str {
        &self.access_name
    }

    /// The refresh cookie's name.
    pub fn refresh_name(&self) -> &str {
        &self.refresh_name
    }

    /// The token source that reads the access cookie, for [`crate::JwtLayer::sources`].
    pub fn access_source(&self) -> TokenSource {
        TokenSource::cookie(self.access_name.clone())
    }

    /// The access token cookie.
    pub fn access_cookie(&self, token: &str, max_age_secs: u64) -> Cookie<'static> {
        Cookie::build((self.access_name.clone(), token.to_owned()))
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(true)
            .path("/")
            .max_age(::cookie::time::Duration::seconds(clamp(max_age_secs)))
            .build()
    }

    /// The refresh token cookie.
    pub fn refresh_cookie(&self, token: &str, max_age_secs: u64) -> Cookie<'static> {
        Cookie::build((self.refresh_name.clone(), token.to_owned()))
            .http_only(true)
            .same_site(SameSite::Strict)
            .secure(true)
            .path(self.refresh_path.clone())
            .max_age(::cookie::time::Duration::seconds(clamp(max_age_secs)))
            .build()
    }

    /// Appends `Set-Cookie` for both tokens of `pair`, and `Cache-Control: no-store`.
    #[cfg(feature = "refresh")]
    #[cfg_attr(docsrs, doc(cfg(feature = "refresh")))]
    pub fn set_pair(&self, headers: &mut HeaderMap, pair: &TokenPair) {
        append(
            headers,
            &self.access_cookie(&pair.access.access_token, pair.access.expires_in),
        );
        append(
            headers,
            &self.refresh_cookie(&pair.refresh_token, pair.refresh_expires_in),
        );
        no_store(headers);
    }

    /// Appends `Set-Cookie` for an access token alone (no refresh token), and
    /// `Cache-Control: no-store`.
    pub fn set_access(&self, headers: &mut HeaderMap, token: &IssuedToken) {
        append(
            headers,
            &self.access_cookie(&token.access_token, token.expires_in),
        );
        no_store(headers);
    }

    /// Appends a `Set-Cookie` header that deletes the access cookie.
    pub fn clear_access(&self, headers: &mut HeaderMap) {
        append(headers, &self.access_cookie("", 0));
    }

    /// Appends `Set-Cookie` headers that delete both cookies (logout).
    pub fn clear(&self, headers: &mut HeaderMap) {
        append(headers, &self.access_cookie("", 0));
        append(headers, &self.refresh_cookie("", 0));
        no_store(headers);
    }

    /// The refresh token from the request's refresh cookie, for a refresh. A
    /// duplicated cookie is refused, like a duplicated access cookie.
    pub fn refresh_token(&self, headers: &HeaderMap) -> Result<Option<String>, AuthError> {
        crate::header::at_most_one(self.refresh_values(headers))
    }

    /// Every refresh cookie value in the request, for a logout: when a planted
    /// cookie sits beside the real one, revoke them all rather than none. At
    /// most [`MAX_REFRESH_COOKIES`], duplicates dropped: past that, the first
    /// and the last half. Browsers send cookies with longer paths first, so
    /// planted cookies with longer and shorter paths than ours would surround
    /// it; ours is in neither half only if more than that were planted.
    pub fn refresh_tokens(&self, headers: &HeaderMap) -> Vec<String> {
        let mut values = self.refresh_values(headers);
        let mut seen = std::collections::HashSet::new();
        values.retain(|value| seen.insert(value.clone()));
        if values.len() > MAX_REFRESH_COOKIES {
            let half = MAX_REFRESH_COOKIES / 2;
            values.drain(half..values.len() - half);
        }
        values
    }

    /// The non-empty refresh cookie values, in the order sent (a cleared
    /// cookie is empty, not a token).
    fn refresh_values(&self, headers: &HeaderMap) -> Vec<String> {
        let mut values = crate::header::cookie_values(headers, &self.refresh_name);
        values.retain(|value| !value.is_empty());
        values
    }
}

/// The most refresh cookie values [`AuthCookies::refresh_tokens`] returns. A
/// browser sends one per matching path and domain, a handful at most; a
/// client that sends thousands in one request (a `Cookie` header may hold
/// hundreds of kilobytes) must not buy one store operation each.
pub const MAX_REFRESH_COOKIES: usize = 16;

fn clamp(secs: u64) -> i64 {
    i64::try_from(secs).unwrap_or(i64::MAX / 1000)
}

fn append(headers: &mut HeaderMap, cookie: &Cookie<'_>) {
    // Names are ours and values are base64url tokens: always valid header bytes.
    if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
        headers.append(header::SET_COOKIE, value);
    }
}

/// Sets `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1): token
/// responses must not be cached.
pub fn no_store(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// `name`, if it is a cookie name a browser sends back as it is.
fn cookie_name(name: String) -> Result<String, ConfigError> {
    if is_cookie_name(&name) {
        Ok(name)
    } else {
        Err(ConfigError::InvalidCookieName(name))
    }
}
