//! The servers of `benches/wrk.sh`: one axum 0.8 app over TCP on a
//! single-threaded runtime (pin it to one core with `taskset`), in one of
//! these variants:
//!
//! - `bare`: no authentication (the ceiling);
//! - `raw`: a minimal extractor calling `jsonwebtoken::decode` (iss/aud checked);
//! - `layer`: `JwtLayer` (default verified-token cache) + `Claims<T>`, as
//!   `Router::layer` (what most applications write);
//! - `layer-around`: the same layer wrapped around the whole `Router`;
//! - `layer-nocache`: `JwtLayer::without_cache` + `Claims<T>`.
//!
//! ```text
//! cargo run --release -p jwt-layer --features issue --example wrk_server -- layer RS256
//! ```
//! prints `listening on http://127.0.0.1:PORT` and then `token <token>`: a
//! token for the variant's algorithm (HS256, RS256, ES256 or EdDSA), valid
//! for an hour, to send as `Authorization: Bearer <token>`.
use std::hint::black_box;
use std::sync::Arc;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::routing::get;
use http::request::Parts;
use http::{StatusCode, header};
use jsonwebtoken::{DecodingKey, Validation};
use jwt_extractor::Claims;
use jwt_layer::{Algorithm, JwtLayer, KeySet, SigningKey, TokenIssuer, Validator};
use serde::Deserialize;
use serde_json::json;

const ISSUER: &str = "https://auth.bench";
const AUDIENCE: &str = "https://api.bench";

#[derive(Deserialize)]
#[allow(dead_code)]
struct User {
    sub: String,
    name: String,
    roles: Vec<String>,
}

/// The hand-written baseline: `jsonwebtoken::decode` in an extractor.
struct RawClaims(User);

#[derive(Clone)]
struct RawState(Arc<(DecodingKey, Validation)>);

impl FromRequestParts<RawState> for RawClaims {
    type Rejection = StatusCode;

    async fn from_request_parts(parts: &mut Parts, state: &RawState) -> Result<Self, StatusCode> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(StatusCode::UNAUTHORIZED)?;
        let (key, validation) = &*state.0;
        jsonwebtoken::decode::<User>(token, key, validation)
            .map(|data| RawClaims(data.claims))
            .map_err(|_| StatusCode::UNAUTHORIZED)
    }
}

fn key(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/keys/{name}", env!("CARGO_MANIFEST_DIR"))).expect("test key")
}

fn keys(alg: &str) -> (SigningKey, DecodingKey, Algorithm) {
    match alg {
        "HS256" => (
            SigningKey::hmac(Algorithm::HS256, &[7; 32]).unwrap(),
            DecodingKey::from_secret(&[7; 32]),
            Algorithm::HS256,
        ),
        "RS256" => (
            SigningKey::rsa_pem(Algorithm::RS256, &key("rsa_private.pem")).unwrap(),
            DecodingKey::from_rsa_pem(&key("rsa_public.pem")).unwrap(),
            Algorithm::RS256,
        ),
        "ES256" => (
            SigningKey::ec_pem(Algorithm::ES256, &key("ec_private.pem")).unwrap(),
            DecodingKey::from_ec_pem(&key("ec_public.pem")).unwrap(),
            Algorithm::ES256,
        ),
        "EdDSA" => (
            SigningKey::ed_pem(&key("ed_private.pem")).unwrap(),
            DecodingKey::from_ed_pem(&key("ed_public.pem")).unwrap(),
            Algorithm::EdDSA,
        ),
        other => panic!("unknown algorithm {other}: HS256, RS256, ES256 or EdDSA"),
    }
}

fn claims_handler() -> Router {
    Router::new().route(
        "/",
        get(|Claims(user): Claims<User>| async move {
            black_box(&user.name);
            "ok"
        }),
    )
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let variant = args.next().unwrap_or_else(|| "layer".into());
    let alg = args.next().unwrap_or_else(|| "HS256".into());
    let (signing, decoding, algorithm) = keys(&alg);
    let validator = Validator::builder(KeySet::single(signing.verifying_key()))
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .build()
        .unwrap();
    let token = TokenIssuer::new(signing, validator.clone())
        .unwrap()
        .access_ttl(std::time::Duration::from_secs(3600))
        .issue(
            "user-1",
            &json!({ "name": "Ada Lovelace", "roles": ["user", "admin"] }),
        )
        .unwrap()
        .access_token;
    let layer = || JwtLayer::<User>::new(validator.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("listening on http://{}", listener.local_addr().unwrap());
    println!("token {token}");
    if variant == "layer-around" {
        // The layer as a service around the whole router (no per-route boxing).
        let service = tower::Layer::layer(&layer(), claims_handler());
        axum::serve(
            listener,
            axum::ServiceExt::<http::Request<axum::body::Body>>::into_make_service(service),
        )
        .await
        .unwrap();
        return;
    }
    let app: Router = match variant.as_str() {
        "bare" => Router::new().route("/", get(|| async { "ok" })),
        "raw" => {
            let mut validation = Validation::new(algorithm);
            validation.set_issuer(&[ISSUER]);
            validation.set_audience(&[AUDIENCE]);
            Router::new()
                .route(
                    "/",
                    get(|RawClaims(user): RawClaims| async move {
                        black_box(&user.name);
                        "ok"
                    }),
                )
                .with_state(RawState(Arc::new((decoding, validation))))
        }
        "layer" => claims_handler().layer(layer()),
        "layer-nocache" => claims_handler().layer(layer().without_cache()),
        other => panic!("unknown variant {other}"),
    };
    axum::serve(listener, app).await.unwrap();
}
