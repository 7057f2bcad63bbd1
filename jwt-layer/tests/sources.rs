//! Token sources, conflicts, optional mode, the revocation hook and the error hook.
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::Body;
use common::*;
use http::{HeaderName, Request, StatusCode, header};
use jwt_layer::BoxFuture;
use jwt_layer::source::{ExtractToken, SourceError};
use jwt_layer::{
    AuthError, JwtLayer, RevocationCheck, RevocationError, TokenSource, VerifiedToken,
};

const COOKIE: &str = "__Host-access_token";

fn browser_layer() -> JwtLayer<AppClaims> {
    JwtLayer::new(validator()).sources([TokenSource::Bearer, TokenSource::cookie(COOKIE)])
}

fn get() -> http::request::Builder {
    Request::get("/")
}

#[tokio::test]
async fn cookie_source() {
    let app = App::new(browser_layer());
    let token = good_token();
    let reply = app
        .send(
            get()
                .header("cookie", format!("theme=dark; {COOKIE}={token}; x=1"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body, "user-1 Ada cookie");

    // Cookies split over two Cookie headers are read too.
    let reply = app
        .send(
            get()
                .header("cookie", "theme=dark")
                .header("cookie", format!("{COOKIE}={token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn conflicts_are_refused_without_falling_through() {
    let app = App::new(browser_layer());
    let token = good_token();
    let other = hs256(&{
        let mut c = good_claims();
        c["jti"] = "j-2".into();
        c
    });
    let cases = [
        (
            "cookie twice (cookie tossing)",
            get().header("cookie", format!("{COOKIE}={token}; {COOKIE}={other}")),
            AuthError::ConflictingCredentials,
        ),
        (
            "same cookie twice, same value",
            get().header("cookie", format!("{COOKIE}={token}; {COOKIE}={token}")),
            AuthError::ConflictingCredentials,
        ),
        (
            "bearer and cookie disagree",
            get()
                .header("authorization", format!("Bearer {token}"))
                .header("cookie", format!("{COOKIE}={other}")),
            AuthError::ConflictingCredentials,
        ),
        (
            "malformed bearer first, good cookie second",
            get()
                .header("authorization", "Bearer not-a-jwt")
                .header("cookie", format!("{COOKIE}={token}")),
            AuthError::ConflictingCredentials,
        ),
        (
            "malformed bearer alone",
            get().header("authorization", "Bearer not-a-jwt"),
            AuthError::Malformed,
        ),
        (
            "expired bearer first, good cookie second",
            get()
                .header(
                    "authorization",
                    format!(
                        "Bearer {}",
                        hs256(&{
                            let mut c = good_claims();
                            c["exp"] = (now() - 3600).into();
                            c
                        })
                    ),
                )
                .header("cookie", format!("{COOKIE}={token}")),
            AuthError::ConflictingCredentials,
        ),
        (
            "empty cookie",
            get().header("cookie", format!("{COOKIE}=")),
            AuthError::Malformed,
        ),
    ];
    for (name, request, error) in cases {
        let before = app.calls();
        let reply = app.send(request.body(Body::empty()).unwrap()).await;
        assert_eq!(reply.error, Some(error.clone()), "{name}");
        assert_eq!(reply.status, error.status(), "{name}");
        assert_eq!(app.calls(), before, "{name}: handler ran");
        app.still_serves_good_token().await;
    }

    // The same token in both places is one credential, not a conflict.
    let reply = app
        .send(
            get()
                .header("authorization", format!("Bearer {token}"))
                .header("cookie", format!("{COOKIE}={token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, "user-1 Ada bearer");
}

#[tokio::test]
async fn query_parameter_is_opt_in() {
    let token = good_token();
    let uri = format!("/?access_token={token}");

    let default = App::new(JwtLayer::new(validator()));
    let reply = default
        .send(Request::get(uri.as_str()).body(Body::empty()).unwrap())
        .await;
    assert_eq!(
        reply.error,
        Some(AuthError::Missing),
        "query must not be read unless configured"
    );

    let app = App::new(
        JwtLayer::new(validator())
            .sources([TokenSource::Bearer, TokenSource::query("access_token")]),
    );
    let reply = app
        .send(Request::get(uri.as_str()).body(Body::empty()).unwrap())
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, "user-1 Ada query");

    let twice = format!("/?access_token={token}&access_token={token}");
    let reply = app
        .send(Request::get(twice.as_str()).body(Body::empty()).unwrap())
        .await;
    assert_eq!(reply.error, Some(AuthError::ConflictingCredentials));
}

#[tokio::test]
async fn custom_header_source() {
    let app = App::new(JwtLayer::new(validator()).sources([TokenSource::header(
        HeaderName::from_static("x-access-token"),
    )]));
    let reply = app
        .send(
            get()
                .header("x-access-token", good_token())
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, "user-1 Ada header");
    let reply = app
        .send(
            get()
                .header("x-access-token", good_token())
                .header("x-access-token", good_token())
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(reply.error, Some(AuthError::ConflictingCredentials));
}

/// An async source: the token sits in a `Sec-WebSocket-Protocol` entry.
struct WebSocketProtocol {
    broken: Arc<AtomicBool>,
}

impl ExtractToken for WebSocketProtocol {
    fn extract<'a>(
        &'a self,
        parts: &'a http::request::Parts,
    ) -> BoxFuture<'a, Result<Option<String>, SourceError>> {
        Box::pin(async move {
            tokio::task::yield_now().await;
            if self.broken.load(Ordering::SeqCst) {
                return Err(SourceError::Failed("session backend down".into()));
            }
            let Some(value) = parts.headers.get("sec-websocket-protocol") else {
                return Ok(None);
            };
            let value = value.to_str().map_err(|_| SourceError::Malformed)?;
            Ok(value
                .split(',')
                .map(str::trim)
                .find_map(|p| p.strip_prefix("access_token."))
                .map(str::to_owned))
        })
    }
}

#[tokio::test]
async fn custom_async_source() {
    let broken = Arc::new(AtomicBool::new(false));
    let source = TokenSource::custom(WebSocketProtocol {
        broken: Arc::clone(&broken),
    });
    let app = App::new(JwtLayer::new(validator()).sources([TokenSource::Bearer, source]));
    let protocol = format!("chat, access_token.{}", good_token());
    let reply = app
        .send(
            get()
                .header("sec-websocket-protocol", protocol.as_str())
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, "user-1 Ada custom");

    let reply = app
        .send(
            get()
                .header("sec-websocket-protocol", &b"\xff"[..])
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(reply.error, Some(AuthError::MalformedHeader));

    broken.store(true, Ordering::SeqCst);
    let reply = app
        .send(
            get()
                .header("sec-websocket-protocol", protocol.as_str())
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.error, Some(AuthError::SourceFailed));
    assert!(reply.challenge().is_none(), "a 503 is not a challenge");
}

#[tokio::test]
async fn optional_mode() {
    let app = App::new(JwtLayer::new(validator()).optional());
    let reply = app.send(get().body(Body::empty()).unwrap()).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, "anonymous");

    let reply = app.bearer(&good_token()).await;
    assert_eq!(reply.body, "user-1 Ada bearer");

    // Present but invalid: refused, never anonymous.
    let before = app.calls();
    for token in [
        "garbage",
        &hs256(&{
            let mut c = good_claims();
            c["exp"] = (now() - 3600).into();
            c
        }),
    ] {
        let reply = app.bearer(token).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(app.calls(), before);
}

/// A revocation check whose answers the test controls.
#[derive(Clone, Default)]
struct Switch {
    revoked: Arc<AtomicBool>,
    down: Arc<AtomicBool>,
}

impl RevocationCheck for Switch {
    fn check<'a>(&'a self, token: &'a VerifiedToken) -> BoxFuture<'a, Result<(), RevocationError>> {
        Box::pin(async move {
            assert_eq!(token.registered().jti.as_deref(), Some("j-1"));
            if self.down.load(Ordering::SeqCst) {
                Err(RevocationError::Unavailable("connection refused".into()))
            } else if self.revoked.load(Ordering::SeqCst) {
                Err(RevocationError::Revoked)
            } else {
                Ok(())
            }
        })
    }
}

#[tokio::test]
async fn revocation_hook_fails_closed() {
    let switch = Switch::default();
    let app = App::new(JwtLayer::new(validator()).revocation(switch.clone()));
    assert_eq!(app.bearer(&good_token()).await.status, StatusCode::OK);

    switch.revoked.store(true, Ordering::SeqCst);
    let reply = app.bearer(&good_token()).await;
    assert_eq!(reply.error, Some(AuthError::Revoked));
    assert!(
        reply
            .challenge()
            .unwrap()
            .contains(r#"error="invalid_token""#)
    );

    switch.down.store(true, Ordering::SeqCst);
    let before = app.calls();
    let reply = app.bearer(&good_token()).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.error, Some(AuthError::StoreUnavailable));
    assert_eq!(
        reply.json()["error_description"],
        "The token revocation store is unavailable"
    );
    assert_eq!(
        app.calls(),
        before,
        "a request must never pass when the check cannot be made"
    );

    // Not even a bad token gets further than the 401 when the store is down.
    assert_eq!(app.bearer("bad").await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn error_hook_replaces_the_response_and_keeps_the_typed_error() {
    let app = App::new(
        JwtLayer::new(validator())
            .realm("example")
            .on_error(|err, realm| {
                let body = serde_json::json!({ "message": err.to_string(), "realm": realm, "code": err.reason() });
                http::Response::builder()
                    .status(err.status())
                    .header("content-type", "application/problem+json")
                    .body(body.to_string().into())
                    .unwrap()
            }),
    );
    let reply = app.bearer("x.y.z").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.headers[header::CONTENT_TYPE],
        "application/problem+json"
    );
    assert_eq!(reply.json()["realm"], "example");
    assert_eq!(reply.json()["code"], "malformed");
    assert_eq!(reply.error, Some(AuthError::Malformed));
}

#[tokio::test]
async fn default_realm_and_custom_realm() {
    let app = App::new(JwtLayer::new(validator()).realm("my \"app\""));
    let reply = app.send(get().body(Body::empty()).unwrap()).await;
    // Quotes cannot appear in a quoted-string here (RFC 6750 §3): they are dropped.
    assert_eq!(reply.challenge(), Some(r#"Bearer realm="my app""#));
}

#[tokio::test]
async fn works_as_a_plain_tower_service() {
    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};
    use tower::{ServiceBuilder, ServiceExt, service_fn};
    let service = ServiceBuilder::new()
        .layer(JwtLayer::<AppClaims>::new(validator()))
        .service(service_fn(|request: Request<String>| async move {
            let claims = jwt_layer::Verified::<AppClaims>::from_extensions(request.extensions());
            let name = claims.map(|c| c.name.clone()).unwrap_or_default();
            Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(Bytes::from(name))))
        }));
    let text = |response: http::Response<Full<Bytes>>| async move {
        String::from_utf8(
            response
                .into_body()
                .collect()
                .await
                .unwrap()
                .to_bytes()
                .to_vec(),
        )
        .unwrap()
    };
    let response = service
        .clone()
        .oneshot(
            Request::get("/")
                .header("authorization", format!("Bearer {}", good_token()))
                .body(String::new())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(text(response).await, "Ada");
    let response = service.oneshot(Request::new(String::new())).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(
        text(response)
            .await
            .contains("No access token was provided")
    );
}

#[tokio::test]
async fn non_ascii_cookies_neither_hide_nor_smuggle_tokens() {
    let app = App::new(browser_layer());
    let token = good_token();
    // Another cookie with non-ASCII bytes must not hide ours…
    let header =
        http::HeaderValue::from_bytes(format!("pref=caf\u{e9}; {COOKIE}={token}").as_bytes())
            .unwrap();
    let reply = app
        .send(get().header("cookie", header).body(Body::empty()).unwrap())
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    // …nor let a second access cookie slip past the duplicate check.
    let odd =
        http::HeaderValue::from_bytes(format!("x=\u{e9}; {COOKIE}=junk.junk.junk").as_bytes())
            .unwrap();
    let reply = app
        .send(
            get()
                .header("cookie", format!("{COOKIE}={token}"))
                .header("cookie", odd)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(reply.error, Some(AuthError::ConflictingCredentials));
}

/// A Cookie header value from raw bytes (non-ASCII names included).
fn cookie_header(text: &str) -> http::HeaderValue {
    http::HeaderValue::from_bytes(text.as_bytes()).unwrap()
}

#[tokio::test]
async fn cookie_names_padded_with_unicode_whitespace_are_other_cookies() {
    let app = App::new(browser_layer());
    let token = good_token();
    let other = hs256(&{
        let mut c = good_claims();
        c["sub"] = "mallory".into();
        c
    });
    // U+2000 and U+00A0 are whitespace to Unicode, not to RFC 6265: such a name
    // is not `__Host-access_token` (a sibling site can plant it; it has no
    // `__Host-` guarantee), so alone it is no credential at all.
    for padding in ["\u{2000}", "\u{a0}", "\u{3000}", "\u{feff}"] {
        let reply = app
            .send(
                get()
                    .header(
                        "cookie",
                        cookie_header(&format!("{padding}{COOKIE}={token}")),
                    )
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{padding:?}");
        assert_eq!(reply.error, Some(AuthError::Missing), "{padding:?}");
        assert_eq!(reply.challenge(), Some(r#"Bearer realm="api""#));

        // Beside the real cookie, the real one is used (and no conflict is seen).
        let reply = app
            .send(
                get()
                    .header(
                        "cookie",
                        cookie_header(&format!("{padding}{COOKIE}={other}; {COOKIE}={token}")),
                    )
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{padding:?}: {}", reply.body);
        assert_eq!(reply.body, "user-1 Ada cookie");
    }
    // SP and HTAB around names and values are trimmed (RFC 6265 §5.2).
    let reply = app
        .send(
            get()
                .header("cookie", format!("a=1;\t{COOKIE} = {token}\t"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

#[tokio::test]
async fn a_malformed_bearer_header_never_falls_through_to_the_cookie() {
    let app = App::new(browser_layer());
    let token = good_token();
    for authorization in [
        "Bearer\tgarbage".to_owned(),
        format!("Bearer\t{token}"),
        format!("BEARER{token}"),
        "Bearer".to_owned(),
        format!("Bearer {token} extra"),
    ] {
        let reply = app
            .send(
                get()
                    .header("authorization", &authorization)
                    .header("cookie", format!("{COOKIE}={token}"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{authorization:?}");
        assert_eq!(
            reply.error,
            Some(AuthError::MalformedHeader),
            "{authorization:?}"
        );
    }
    // Another scheme is still not ours: the cookie authenticates.
    let reply = app
        .send(
            get()
                .header("authorization", "Basic dXNlcjpwYXNz")
                .header("cookie", format!("{COOKIE}={token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
}
