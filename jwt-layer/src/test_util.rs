//! A test kit for your own handlers' tests (feature `test-util`; put it in
//! `[dev-dependencies]`): a key made per test, tokens of every kind a client
//! may send (valid, expired, not yet valid, for another audience, forged,
//! with or without a role, a scope, a recent login), and a way to call your
//! router with one. No identity provider, no key files, no hand-built JSON.
//!
//! ```
//! use axum::{Router, routing::get};
//! use http::StatusCode;
//! use jwt_layer::JwtLayer;
//! use jwt_layer::test_util::{TestAuthority, send};
//! use serde_json::Value;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! // A fresh HS256 key, issuer `https://issuer.test`, audience `https://api.test`.
//! let authority = TestAuthority::new();
//! // The app under test, built with the authority's validator.
//! let app = Router::new()
//!     .route("/me", get(|| async { "me" }))
//!     .layer(JwtLayer::<Value>::new(authority.validator()));
//!
//! let ok = send(app.clone(), authority.token("ada").get("/me")).await;
//! assert_eq!(ok.status, StatusCode::OK);
//! assert_eq!(ok.text(), "me");
//!
//! let expired = send(app.clone(), authority.token("ada").expired().get("/me")).await;
//! assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
//! assert_eq!(expired.json()["error_description"], "The access token expired");
//!
//! let forged = send(app, authority.token("ada").forged().get("/me")).await;
//! assert_eq!(forged.challenge(), Some(r#"Bearer realm="api", error="invalid_token", error_description="The access token signature is invalid""#));
//! # }
//! ```
//!
//! Tokens are signed like [`TokenIssuer`]'s (`typ: at+jwt`,
//! `iss`, `aud`, `sub`, `iat`, `nbf`, `exp` 15 minutes on, a `jti`), so what
//! passes here passes in production; each builder method changes one thing.
//!
//! This module is for tests: it panics on misuse (a malformed claims object, a
//! service error) instead of returning errors, which is what a test wants.
// Test code by purpose: a panic here is a failed test, and nothing here reads
// attacker-controlled input.
#![allow(clippy::expect_used, clippy::panic)]

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use jsonwebtoken::{Algorithm, Header};
use serde::Serialize;
use serde_json::{Map, Value};
use tower_service::Service;

use crate::issue::{SigningKey, TokenIssuer, random_id, random_token};
use crate::keys::KeySet;
use crate::validate::{ACCESS_TOKEN_TYPE, Validator, ValidatorBuilder, now};

/// The issuer of [`TestAuthority::new`]'s tokens.
pub const TEST_ISSUER: &str = "https://issuer.test";
/// The audience of [`TestAuthority::new`]'s tokens.
pub const TEST_AUDIENCE: &str = "https://api.test";

/// Lifetime of a test token unless changed: 15 minutes, as `TokenIssuer`'s default.
const TEST_TTL: u64 = 15 * 60;
/// How far outside the validator's leeway `expired` and `not_yet_valid` go.
const BEYOND_LEEWAY: u64 = 60;

/// Signs test tokens with a key of its own, and makes the validator that
/// accepts them.
#[derive(Clone, Debug)]
pub struct TestAuthority {
    signing: SigningKey,
    issuer: String,
    audience: String,
}

impl Default for TestAuthority {
    fn default() -> Self {
        Self::new()
    }
}

impl TestAuthority {
    /// A fresh random HS256 key (32 bytes from the OS's CSPRNG, new for every
    /// call, so tests never share one), issuer [`TEST_ISSUER`], audience
    /// [`TEST_AUDIENCE`].
    pub fn new() -> Self {
        let secret = random_token::<32>();
        Self::with_key(
            SigningKey::hmac(Algorithm::HS256, secret.as_bytes())
                .expect("43 base64 characters are a valid HS256 secret")
                .with_kid(format!("test-{}", random_id())),
        )
    }

    /// An authority signing with `key` (an RSA, EC or Ed25519 test key of
    /// yours, to test the algorithm you deploy).
    pub fn with_key(key: SigningKey) -> Self {
        Self {
            signing: key,
            issuer: TEST_ISSUER.to_owned(),
            audience: TEST_AUDIENCE.to_owned(),
        }
    }

    /// Tokens carry this `iss` (and the validator requires it).
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = issuer.into();
        self
    }

    /// Tokens carry this `aud` (and the validator requires it).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = audience.into();
        self
    }

    /// The validator builder for this authority's key, issuer and audience,
    /// to add what your app's validator has (a role claim, a leeway).
    pub fn validator_builder(&self) -> ValidatorBuilder {
        Validator::builder(KeySet::single(self.signing.verifying_key()))
            .issuer(&self.issuer)
            .audience(&self.audience)
    }

    /// The validator that accepts this authority's valid tokens, with the
    /// crate's defaults otherwise.
    pub fn validator(&self) -> Validator {
        self.validator_builder()
            .build()
            .expect("a test authority's validator is valid")
    }

    /// A [`TokenIssuer`] for `validator` (built from
    /// [`validator_builder`](Self::validator_builder)), for apps under test that
    /// issue tokens themselves (a login route).
    pub fn token_issuer(&self, validator: Validator) -> TokenIssuer {
        TokenIssuer::new(self.signing.clone(), validator)
            .expect("the validator accepts this authority's key")
    }

    /// The signing key.
    pub fn signing_key(&self) -> &SigningKey {
        &self.signing
    }

    /// A valid token for `subject`, to change with the builder's methods.
    pub fn token(&self, subject: &str) -> TestToken {
        let iat = now();
        let mut claims = Map::new();
        claims.insert("iss".into(), self.issuer.as_str().into());
        claims.insert("aud".into(), self.audience.as_str().into());
        claims.insert("sub".into(), subject.into());
        claims.insert("iat".into(), iat.into());
        claims.insert("nbf".into(), iat.into());
        claims.insert("exp".into(), iat.saturating_add(TEST_TTL).into());
        claims.insert("jti".into(), random_id().into());
        let mut header = Header::new(self.signing.algorithm());
        header.typ = Some(ACCESS_TOKEN_TYPE.to_owned());
        header.kid = self.signing.kid().map(str::to_owned);
        TestToken {
            signing: self.signing.clone(),
            header,
            claims,
        }
    }
}

/// A token being built by [`TestAuthority::token`]; [`sign`](Self::sign) it,
/// or make a request with it ([`get`](Self::get), [`request`](Self::request)).
#[derive(Clone, Debug)]
#[must_use = "a test token does nothing until signed or sent"]
pub struct TestToken {
    signing: SigningKey,
    header: Header,
    claims: Map<String, Value>,
}

impl TestToken {
    /// Sets claim `name` (any `Serialize`), replacing the one there.
    pub fn claim(mut self, name: &str, value: impl Serialize) -> Self {
        let value = serde_json::to_value(value).expect("a claim serializes to JSON");
        self.claims.insert(name.to_owned(), value);
        self
    }

    /// Sets every member of `claims` (a struct or `json!({...})`).
    pub fn claims(mut self, claims: impl Serialize) -> Self {
        match serde_json::to_value(claims).expect("claims serialize to JSON") {
            Value::Object(members) => self.claims.extend(members),
            other => panic!("claims must be a JSON object, not {other}"),
        }
        self
    }

    /// Removes claim `name` (e.g. `"exp"` or `"sub"`, to test their absence).
    pub fn without(mut self, name: &str) -> Self {
        self.claims.remove(name);
        self
    }

    /// `roles: [...]` (the default role claim).
    pub fn roles<'a>(self, roles: impl IntoIterator<Item = &'a str>) -> Self {
        let roles: Vec<&str> = roles.into_iter().collect();
        self.claim("roles", roles)
    }

    /// `scope: "a b"` (OAuth scopes, space-separated).
    pub fn scope(self, scope: &str) -> Self {
        self.claim("scope", scope)
    }

    /// `acr`: how the user authenticated (e.g. `"urn:example:mfa"`).
    pub fn acr(self, acr: &str) -> Self {
        self.claim("acr", acr)
    }

    /// `amr`: the methods used (e.g. `["pwd", "otp"]`).
    pub fn amr<'a>(self, methods: impl IntoIterator<Item = &'a str>) -> Self {
        let methods: Vec<&str> = methods.into_iter().collect();
        self.claim("amr", methods)
    }

    /// `auth_time`: the user logged in `ago` ago (step-up tests).
    pub fn authenticated_ago(self, ago: Duration) -> Self {
        self.claim("auth_time", now().saturating_sub(ago.as_secs()))
    }

    /// `aud` is `audience` instead of the authority's.
    pub fn audience(self, audience: &str) -> Self {
        self.claim("aud", audience)
    }

    /// `iss` is `issuer` instead of the authority's.
    pub fn issuer(self, issuer: &str) -> Self {
        self.claim("iss", issuer)
    }

    /// `exp` is `ttl` from now (and `iat`/`nbf` now).
    pub fn expires_in(self, ttl: Duration) -> Self {
        let iat = now();
        self.claim("iat", iat)
            .claim("nbf", iat)
            .claim("exp", iat.saturating_add(ttl.as_secs()))
    }

    /// Expired beyond any reasonable leeway: issued 16 minutes ago, `exp` a
    /// minute past the validator's default leeway.
    pub fn expired(self) -> Self {
        let exp = now().saturating_sub(BEYOND_LEEWAY + BEYOND_LEEWAY);
        self.claim("iat", exp.saturating_sub(TEST_TTL))
            .claim("nbf", exp.saturating_sub(TEST_TTL))
            .claim("exp", exp)
    }

    /// Not valid yet beyond any reasonable leeway: `nbf` two minutes ahead.
    pub fn not_yet_valid(self) -> Self {
        let nbf = now().saturating_add(BEYOND_LEEWAY + BEYOND_LEEWAY);
        self.claim("nbf", nbf)
            .claim("exp", nbf.saturating_add(TEST_TTL))
    }

    /// The header's `typ` (default `at+jwt`); `None` removes it.
    pub fn typ(mut self, typ: Option<&str>) -> Self {
        self.header.typ = typ.map(str::to_owned);
        self
    }

    /// The header's `kid` (default the key's); `None` removes it.
    pub fn kid(mut self, kid: Option<&str>) -> Self {
        self.header.kid = kid.map(str::to_owned);
        self
    }

    /// Signed with `key` instead of the authority's (a key the app does not trust).
    pub fn signed_with(mut self, key: &SigningKey) -> Self {
        self.header.alg = key.algorithm();
        self.signing = key.clone();
        self
    }

    /// Signed with a fresh HS256 key nobody trusts, under the authority's
    /// `kid`: a forgery, refused as a bad signature.
    pub fn forged(self) -> Self {
        let kid = self.header.kid.clone();
        let stranger = TestAuthority::new();
        self.signed_with(stranger.signing_key()).kid(kid.as_deref())
    }

    /// The compact JWT.
    pub fn sign(&self) -> String {
        jsonwebtoken::encode(&self.header, &self.claims, &self.signing.encoding)
            .expect("signing a test token")
    }

    /// `Bearer <jwt>`, for an `Authorization` header.
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.sign())
    }

    /// A request builder with `Authorization: Bearer <jwt>`.
    pub fn request(&self, method: Method, uri: &str) -> http::request::Builder {
        Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, self.bearer())
    }

    /// A `GET uri` request with the token and an empty body, for [`send`]
    /// (an axum `Router` takes any body; for another body type, use
    /// [`request`](Self::request)).
    pub fn get(&self, uri: &str) -> Request<String> {
        self.request(Method::GET, uri)
            .body(String::new())
            .expect("a valid test request")
    }

    /// A `POST uri` request with the token and a JSON body, for [`send`].
    pub fn post_json(&self, uri: &str, body: &Value) -> Request<String> {
        self.request(Method::POST, uri)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .expect("a valid test request")
    }
}

/// A response read whole by [`send`].
#[derive(Debug, Clone)]
pub struct TestResponse {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl TestResponse {
    /// The body as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; `Value::Null` when it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The `WWW-Authenticate` challenge, if any.
    pub fn challenge(&self) -> Option<&str> {
        self.headers
            .get(header::WWW_AUTHENTICATE)
            .and_then(|value| value.to_str().ok())
    }
}

/// Calls `service` (an axum `Router`, any tower service) with `request` and
/// reads the whole response. Panics if the service fails (axum's never does).
pub async fn send<S, ReqBody, ResBody>(mut service: S, request: Request<ReqBody>) -> TestResponse
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Error: std::fmt::Debug,
    ResBody: http_body::Body,
    ResBody::Error: std::fmt::Debug,
{
    std::future::poll_fn(|cx| service.poll_ready(cx))
        .await
        .expect("the service is ready");
    let response = service.call(request).await.expect("the service answers");
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .expect("the response body is readable")
        .to_bytes();
    TestResponse {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}
