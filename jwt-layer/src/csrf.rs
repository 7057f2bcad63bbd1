//! CSRF protection for cookie-authenticated requests: Fetch Metadata and `Origin`
//! checks, in [`JwtLayer`](crate::JwtLayer) for tokens that came from a cookie, and
//! as the [`CsrfLayer`] middleware for cookie endpoints outside it.
//!
//! ```
//! use jwt_layer::{Algorithm, JwtLayer, VerifyingKey, KeySet, TokenSource, Validator};
//!
//! # fn main() -> Result<(), jwt_layer::ConfigError> {
//! # let validator = Validator::builder(KeySet::single(VerifyingKey::hmac(Algorithm::HS256, &[1; 32])?)).build()?;
//! // On by default with a cookie source; trust a front end on another origin explicitly.
//! let layer = JwtLayer::<serde_json::Value>::new(validator)
//!     .sources([TokenSource::Bearer, TokenSource::cookie("__Host-access_token")])
//!     .trusted_origin("https://app.example.com");
//! // The same check (same trusted origins, same refusal) for the cookie login,
//! // refresh and logout endpoints, which the layer does not guard.
//! let csrf = layer.csrf_layer();
//! # let _ = (layer, csrf); Ok(()) }
//! ```
//!
//! A browser attaches cookies to cross-site requests by itself; it never attaches
//! an `Authorization` header by itself. So only cookie-authenticated requests
//! with unsafe methods need a CSRF check, and a Bearer request from any client
//! is left alone *by the layer*, which knows where the token it verified came
//! from. The check follows the scheme of Go 1.25's `CrossOriginProtection`
//! (the same one as `tower_http::csrf`). A request passes when:
//!
//! 1. its method is safe (`GET`, `HEAD`, `OPTIONS`, `TRACE`), or
//! 2. its `Origin` is one of the trusted origins, or
//! 3. `Sec-Fetch-Site` is `same-origin` or `none` (typed in the address bar), or
//! 4. neither `Sec-Fetch-Site` nor `Origin` is present (not a browser), or
//! 5. without `Sec-Fetch-Site`, the `Origin`'s host and port equal the `Host`.
//!
//! Anything else is refused with `403` and [`AuthError::CrossSiteRequest`].
//! The check is on by default for every layer with a cookie source; see
//! [`JwtLayer::trusted_origin`](crate::JwtLayer::trusted_origin).
//!
//! # Endpoints outside the layer
//!
//! A browser login, a cookie refresh or a cookie logout reads its cookie (or its
//! form) itself, behind no `JwtLayer`. Wrap those routes in [`CsrfLayer`]: it
//! applies the same [`CsrfPolicy`] to *every* unsafe request, and never looks at
//! `Authorization`. Such an endpoint does not read that header, so a `Bearer x`
//! added by an attacker's script must not switch the check off.
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::request::Parts;
use http::{Method, Request, Response, header};
use tower_layer::Layer;
use tower_service::Service;

use crate::error::DEFAULT_REALM;
use crate::error::{AuthError, ErrorResponder};

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

    /// Whether a request may proceed. The layer asks only for cookie-authenticated
    /// requests; [`CsrfLayer`] asks for every request it wraps.
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

/// Refuses cross-site unsafe requests to the services it wraps, whatever their
/// credentials: the [`CsrfPolicy`] of a [`JwtLayer`](crate::JwtLayer), for routes
/// outside it (cookie login, refresh and logout).
///
/// Refusals are the layer's own: `403` with [`AuthError::CrossSiteRequest`] in the
/// response extensions, answered by [`AuthError::to_response`] (or by the
/// layer's [`on_error`](crate::JwtLayer::on_error) hook when built with
/// [`JwtLayer::csrf_layer`](crate::JwtLayer::csrf_layer)).
///
/// ```
/// use axum::Router;
/// use axum::routing::post;
/// use jwt_layer::csrf::CsrfLayer;
///
/// let app: Router = Router::new()
///     .route("/auth/session/refresh", post(|| async { "new cookies" }))
///     .layer(CsrfLayer::new().trusted_origin("https://app.example.com"));
/// ```
#[derive(Debug, Clone)]
pub struct CsrfLayer {
    policy: Arc<CsrfPolicy>,
    responder: ErrorResponder,
}

impl Default for CsrfLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl CsrfLayer {
    /// The check with no trusted origin, answering in realm `"api"` with the
    /// default refusal.
    pub fn new() -> Self {
        Self::with_policy(
            CsrfPolicy::default(),
            ErrorResponder::new(DEFAULT_REALM, None),
        )
    }

    pub(crate) fn with_policy(policy: CsrfPolicy, responder: ErrorResponder) -> Self {
        Self {
            policy: Arc::new(policy),
            responder,
        }
    }

    /// Trusts cross-origin requests from `origin` (see [`CsrfPolicy::trust`]).
    pub fn trusted_origin(mut self, origin: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.policy).trust(origin);
        self
    }

    /// The policy applied.
    pub fn policy(&self) -> &CsrfPolicy {
        &self.policy
    }
}

impl<S> Layer<S> for CsrfLayer {
    type Service = CsrfService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CsrfService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service of [`CsrfLayer`]: calls the inner service for requests the
/// policy allows, answers the refusal itself for the others.
///
/// The response body must be buildable from [`Bytes`] (as for
/// [`JwtService`](crate::JwtService)).
#[derive(Debug, Clone)]
pub struct CsrfService<S> {
    inner: S,
    layer: CsrfLayer,
}

impl<S> CsrfService<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for CsrfService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: From<Bytes>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let (parts, body) = request.into_parts();
        if self.layer.policy.allows(&parts) {
            return ResponseFuture {
                kind: Kind::Inner {
                    future: self.inner.call(Request::from_parts(parts, body)),
                },
            };
        }
        // One log event per refusal, with the method and path, as the layer does.
        let _request = tracing::info_span!(
            target: "jwt_layer",
            "request",
            method = %parts.method,
            path = parts.uri.path()
        )
        .entered();
        let refusal = self.layer.responder.respond(AuthError::CrossSiteRequest);
        ResponseFuture {
            kind: Kind::Refused {
                refusal: std::future::ready(refusal),
            },
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`CsrfService`]: the inner service's, or the refusal.
    pub struct ResponseFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project_lite::pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        Inner { #[pin] future: F },
        Refused { refusal: std::future::Ready<Response<Bytes>> },
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.kind {
            Kind::Inner { .. } => "inner",
            Kind::Refused { .. } => "refused",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish()
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    ResBody: From<Bytes>,
{
    type Output = Result<Response<ResBody>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { future } => future.poll(cx),
            KindProj::Refused { refusal } => Pin::new(refusal)
                .poll(cx)
                .map(|response| Ok(response.map(ResBody::from))),
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

    use std::convert::Infallible;

    use tower::{ServiceExt, service_fn};

    async fn logged_out(_: Request<String>) -> Result<Response<Bytes>, Infallible> {
        Ok(Response::new(Bytes::from_static(b"logged out")))
    }

    async fn call(headers: &[(&str, &str)]) -> Response<Bytes> {
        let mut builder = Request::post("/auth/session").header("host", "api.example.com");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder.body(String::new()).unwrap();
        let endpoint = CsrfLayer::new()
            .trusted_origin("https://app.example.com")
            .layer(service_fn(logged_out));
        endpoint.oneshot(request).await.unwrap()
    }

    #[tokio::test]
    async fn middleware_refuses_cross_site_posts_even_with_a_bearer_header() {
        let cross_site: &[(&str, &str)] = &[
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://evil.example"),
            ("cookie", "__Secure-refresh_token=abc"),
        ];
        for extra in [None, Some(("authorization", "Bearer x"))] {
            let mut headers = cross_site.to_vec();
            headers.extend(extra);
            let response = call(&headers).await;
            assert_eq!(
                response.status(),
                http::StatusCode::FORBIDDEN,
                "{headers:?}"
            );
            assert_eq!(
                response.extensions().get::<AuthError>(),
                Some(&AuthError::CrossSiteRequest)
            );
            let expected = AuthError::CrossSiteRequest.to_response(DEFAULT_REALM);
            assert_eq!(response.headers(), expected.headers());
            assert_eq!(response.body(), expected.body());
        }
    }

    #[tokio::test]
    async fn middleware_lets_same_origin_trusted_and_safe_requests_through() {
        for headers in [
            &[("sec-fetch-site", "same-origin")][..],
            &[("origin", "https://api.example.com")][..],
            &[
                ("sec-fetch-site", "cross-site"),
                ("origin", "https://app.example.com"),
            ][..],
            &[][..],
        ] {
            let response = call(headers).await;
            assert_eq!(response.status(), http::StatusCode::OK, "{headers:?}");
            assert_eq!(response.body(), "logged out");
        }
        let get = Request::get("/auth/session")
            .header("sec-fetch-site", "cross-site")
            .body(String::new())
            .unwrap();
        let endpoint = CsrfLayer::new().layer(service_fn(logged_out));
        assert_eq!(
            endpoint.oneshot(get).await.unwrap().status(),
            http::StatusCode::OK
        );
    }

    #[tokio::test]
    async fn the_layers_csrf_layer_shares_its_origins_and_refusal() {
        use crate::{Algorithm, JwtLayer, KeySet, Validator, VerifyingKey};

        let validator = Validator::builder(KeySet::single(
            VerifyingKey::hmac(Algorithm::HS256, &[7; 32]).unwrap(),
        ))
        .build()
        .unwrap();
        let csrf = JwtLayer::<serde_json::Value>::new(validator)
            .trusted_origin("https://app.example.com")
            .realm("bank")
            .on_error(|err, realm| {
                let mut response = err.to_response(realm);
                *response.body_mut() = Bytes::from(format!("{realm}: {err}"));
                response
            })
            .csrf_layer();
        let endpoint = csrf.layer(service_fn(logged_out));
        let from = |origin: &str| {
            Request::post("/auth/session/refresh")
                .header("sec-fetch-site", "cross-site")
                .header("origin", origin)
                .header("authorization", "Bearer x")
                .body(String::new())
                .unwrap()
        };
        let trusted = endpoint.clone().oneshot(from("https://app.example.com"));
        assert_eq!(trusted.await.unwrap().status(), http::StatusCode::OK);
        let refused = endpoint
            .oneshot(from("https://evil.example"))
            .await
            .unwrap();
        assert_eq!(refused.status(), http::StatusCode::FORBIDDEN);
        assert_eq!(refused.body(), "bank: Cross-site request refused");
    }
}
