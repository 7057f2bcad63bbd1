//! CSRF protection for cookie-authenticated requests: Fetch Metadata and `Origin`
//! checks, applied only when the token came from a cookie.
//!
//! ```
//! use jwt_layer::{Algorithm, JwtLayer, Key, KeySet, TokenSource, Validator};
//!
//! # fn main() -> Result<(), jwt_layer::ConfigError> {
//! # let validator = Validator::builder(KeySet::single(Key::hmac(Algorithm::HS256, &[1; 32])?)).build()?;
//! // On by default with a cookie source; trust a front end on another origin explicitly.
//! let layer = JwtLayer::<serde_json::Value>::new(validator)
//!     .sources([TokenSource::Bearer, TokenSource::cookie("__Host-access_token")])
//!     .trusted_origin("https://app.example.com");
//! # let _ = layer; Ok(()) }
//! ```
//!
//! A browser attaches cookies to cross-site requests by itself; it never attaches
//! an `Authorization` header by itself. So only cookie-authenticated requests
//! with unsafe methods need a CSRF check, and a Bearer request from any client
//! is left alone. The check follows the scheme of Go 1.25's `CrossOriginProtection`
//! (the same one as `tower_http::csrf`, which cannot know where the credential
//! came from). A request passes when:
//!
//! 1. its method is safe (`GET`, `HEAD`, `OPTIONS`, `TRACE`), or
//! 2. its `Origin` is one of the trusted origins, or
//! 3. `Sec-Fetch-Site` is `same-origin` or `none` (typed in the address bar), or
//! 4. neither `Sec-Fetch-Site` nor `Origin` is present (not a browser), or
//! 5. without `Sec-Fetch-Site`, the `Origin`'s host and port equal the `Host`.
//!
//! Anything else is refused with `403` and [`AuthError::CrossSiteRequest`](crate::AuthError::CrossSiteRequest).
//! The check is on by default for every layer with a cookie source; see
//! [`JwtLayer::trusted_origin`](crate::JwtLayer::trusted_origin).
use http::request::Parts;
use http::{Method, header};

/// The cross-site request policy of a layer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CsrfPolicy {
    trusted_origins: Vec<String>,
}

impl CsrfPolicy {
    /// Trusts cross-origin requests from `origin` (`scheme://host[:port]`, compared
    /// byte for byte with the `Origin` header).
    pub fn trust(&mut self, origin: impl Into<String>) {
        self.trusted_origins
            .push(origin.into().trim_end_matches('/').to_owned());
    }

    /// Whether a cookie-authenticated request may proceed.
    pub fn allows(&self, parts: &Parts) -> bool {
        if matches!(
            parts.method,
            Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
        ) {
            return true;
        }
        let origin = parts.headers.get(header::ORIGIN).map(|v| v.as_bytes());
        if let Some(origin) = origin
            && self.trusted_origins.iter().any(|t| t.as_bytes() == origin)
        {
            return true;
        }
        match parts.headers.get("sec-fetch-site").map(|v| v.as_bytes()) {
            Some(b"same-origin" | b"none") => return true,
            Some(_) => return false,
            None => {}
        }
        let Some(origin) = origin else {
            return true;
        };
        let host = parts
            .uri
            .authority()
            .map(|a| a.as_str().as_bytes())
            .or_else(|| parts.headers.get(header::HOST).map(|v| v.as_bytes()));
        match (origin_authority(origin), host) {
            (Some(origin_host), Some(host)) => origin_host == host,
            _ => false,
        }
    }
}

/// `https://example.com:8443` → `example.com:8443`; `null` and garbage → `None`.
fn origin_authority(origin: &[u8]) -> Option<&[u8]> {
    let text = std::str::from_utf8(origin).ok()?;
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))?;
    (!rest.is_empty() && !rest.contains('/')).then_some(rest.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(method: Method, headers: &[(&str, &str)]) -> Parts {
        let mut builder = http::Request::builder().method(method).uri("/transfer");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap().into_parts().0
    }

    type Case<'a> = (Method, &'a [(&'a str, &'a str)], bool);

    #[test]
    fn rules() {
        let mut policy = CsrfPolicy::default();
        policy.trust("https://app.example.com");
        let cases: &[Case] = &[
            (Method::GET, &[("sec-fetch-site", "cross-site")], true),
            (Method::POST, &[("sec-fetch-site", "cross-site")], false),
            (Method::POST, &[("sec-fetch-site", "same-site")], false),
            (Method::POST, &[("sec-fetch-site", "same-origin")], true),
            (Method::POST, &[("sec-fetch-site", "none")], true),
            (Method::POST, &[], true),
            (
                Method::POST,
                &[
                    ("origin", "https://app.example.com"),
                    ("sec-fetch-site", "cross-site"),
                ],
                true,
            ),
            (
                Method::POST,
                &[
                    ("origin", "https://evil.example"),
                    ("host", "api.example.com"),
                ],
                false,
            ),
            (
                Method::POST,
                &[
                    ("origin", "https://api.example.com"),
                    ("host", "api.example.com"),
                ],
                true,
            ),
            (
                Method::POST,
                &[("origin", "null"), ("host", "api.example.com")],
                false,
            ),
            (
                Method::DELETE,
                &[
                    ("origin", "http://127.0.0.1:3000"),
                    ("host", "127.0.0.1:3000"),
                ],
                true,
            ),
            (
                Method::PUT,
                &[
                    ("origin", "http://127.0.0.1:3001"),
                    ("host", "127.0.0.1:3000"),
                ],
                false,
            ),
        ];
        for (method, headers, allowed) in cases {
            assert_eq!(
                policy.allows(&parts(method.clone(), headers)),
                *allowed,
                "{method} {headers:?}"
            );
        }
    }
}
