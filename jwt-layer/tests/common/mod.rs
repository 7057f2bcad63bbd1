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

/// Sends one raw HTTP/1.1 `GET /` with `headers` (each ending in `\r\n`) and
/// returns the whole response text.
pub async fn http_get(addr: std::net::SocketAddr, headers: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET / HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n{headers}\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

/// Serves `service` with plain hyper (no axum) on 127.0.0.1:0.
pub async fn serve_hyper<S, B>(service: S) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>)
where
    S: tower::Service<http::Request<hyper::body::Incoming>, Response = Response<B>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: std::error::Error + Send + Sync + 'static,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    use hyper_util::rt::TokioIo;
    use hyper_util::service::TowerToHyperService;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, server)
}

/// Log lines written while a [`capture_logs`] guard lives.
#[derive(Clone, Default)]
pub struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Captures every log event of this thread (use a current-thread runtime)
/// until the guard is dropped.
pub fn capture_logs() -> (Captured, tracing::subscriber::DefaultGuard) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    (captured, tracing::subscriber::set_default(subscriber))
}
