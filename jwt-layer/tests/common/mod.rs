//! Shared helpers of the integration tests: real keys, real signatures, real
//! requests through the real layer.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use jsonwebtoken::{EncodingKey, Header, encode};
use jwt_layer::{Algorithm, JwtLayer, KeySet, Validator, Verified, VerifiedToken, VerifyingKey};
use serde::Deserialize;
use serde_json::{Value, json};
use tower::ServiceExt;

pub const SECRET: &[u8] = b"integration-test-secret-of-32-by";
pub const ISSUER: &str = "https://auth.test";
pub const AUDIENCE: &str = "https://api.test";

pub fn key_file(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/keys/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

pub fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

/// The application's claims type in the tests.
#[derive(Debug, Deserialize, Clone, PartialEq)]
pub struct AppClaims {
    pub sub: String,
    pub name: String,
}

/// Good claims: valid now for a minute.
pub fn good_claims() -> Value {
    let now = now();
    json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": "user-1", "name": "Ada",
        "iat": now, "nbf": now, "exp": now + 60, "jti": "j-1"
    })
}

pub fn at_header(alg: Algorithm) -> Header {
    let mut header = Header::new(alg);
    header.typ = Some("at+jwt".into());
    header
}

/// Signs `claims` with the HMAC test secret and an `at+jwt` header.
pub fn hs256(claims: &Value) -> String {
    sign(
        &at_header(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(SECRET),
    )
}

pub fn sign(header: &Header, claims: &Value, key: &EncodingKey) -> String {
    encode(header, claims, key).expect("signing test token")
}

pub fn good_token() -> String {
    hs256(&good_claims())
}

/// A token with arbitrary header and payload JSON and signature text, for
/// tokens no honest encoder would produce.
pub fn raw_token(header: &Value, payload: &Value, signature: &str) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!(
        "{}.{}.{}",
        b64.encode(header.to_string()),
        b64.encode(payload.to_string()),
        signature
    )
}

pub fn validator() -> Validator {
    Validator::builder(KeySet::single(
        VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap(),
    ))
    .issuer(ISSUER)
    .audience(AUDIENCE)
    .build()
    .unwrap()
}

/// A router behind `layer` whose handler counts its calls and echoes the claims.
pub struct App {
    pub router: Router,
    pub calls: Arc<AtomicUsize>,
}

impl App {
    pub fn new(layer: JwtLayer<AppClaims>) -> Self {
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&calls);
        let router = Router::new()
            .route(
                "/",
                get(move |request: Request<Body>| {
                    let counter = Arc::clone(&counter);
                    async move {
                        counter.fetch_add(1, Ordering::SeqCst);
                        match Verified::<AppClaims>::from_extensions(request.extensions()) {
                            Some(claims) => {
                                let token =
                                    VerifiedToken::from_extensions(request.extensions()).unwrap();
                                format!("{} {} {}", claims.sub, claims.name, token.source())
                            }
                            None => "anonymous".to_owned(),
                        }
                    }
                }),
            )
            .layer(layer);
        Self { router, calls }
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.unwrap();
        Reply::read(response).await
    }

    /// Sends a request with `Authorization: Bearer <token>`.
    pub async fn bearer(&self, token: &str) -> Reply {
        self.send(
            Request::get("/")
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
    }

    /// Asserts a good token is still served (the layer is not left broken).
    pub async fn still_serves_good_token(&self) {
        let before = self.calls();
        let reply = self.bearer(&good_token()).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "good token refused: {}",
            reply.body
        );
        assert_eq!(self.calls(), before + 1);
    }
}

/// A response, read.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub body: String,
    pub error: Option<jwt_layer::AuthError>,
}

impl Reply {
    pub async fn read(response: Response<Body>) -> Self {
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        Self {
            status: parts.status,
            error: parts.extensions.get::<jwt_layer::AuthError>().cloned(),
            headers: parts.headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    pub fn challenge(&self) -> Option<&str> {
        self.headers
            .get(header::WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}
