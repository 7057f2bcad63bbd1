//! A request through `JwtLayer` against the same request through a hand-written
//! middleware that only calls `jsonwebtoken::decode`, per algorithm, in one run
//! (so the ratio, not the absolute time, is the figure).
//!
//! `cargo bench -p jwt-layer --bench verify`
use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use http::{Request, Response, header};
use http_body_util::Full;
use jsonwebtoken::{DecodingKey, Validation};
use jwt_layer::{Algorithm, JwtLayer, KeySet, SigningKey, TokenIssuer, Validator, Verified};
use serde::Deserialize;
use serde_json::json;
use tower::{Service, ServiceBuilder, ServiceExt, service_fn};

#[derive(Deserialize)]
#[allow(dead_code)]
struct Claims {
    sub: String,
    name: String,
    roles: Vec<String>,
    exp: u64,
}

fn key(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/keys/{name}", env!("CARGO_MANIFEST_DIR"))).expect("test key")
}

fn cases() -> Vec<(&'static str, SigningKey, DecodingKey)> {
    vec![
        (
            "HS256",
            SigningKey::hmac(Algorithm::HS256, &[7; 32]).unwrap(),
            DecodingKey::from_secret(&[7; 32]),
        ),
        (
            "RS256",
            SigningKey::rsa_pem(Algorithm::RS256, &key("rsa_private.pem")).unwrap(),
            DecodingKey::from_rsa_pem(&key("rsa_public.pem")).unwrap(),
        ),
        (
            "ES256",
            SigningKey::ec_pem(Algorithm::ES256, &key("ec_private.pem")).unwrap(),
            DecodingKey::from_ec_pem(&key("ec_public.pem")).unwrap(),
        ),
        (
            "EdDSA",
            SigningKey::ed_pem(&key("ed_private.pem")).unwrap(),
            DecodingKey::from_ed_pem(&key("ed_public.pem")).unwrap(),
        ),
    ]
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("verify");
    for (name, signing, raw_key) in cases() {
        let alg = signing.algorithm();
        let validator = Validator::builder(KeySet::single(signing.verifying_key()))
            .issuer("https://auth.bench")
            .audience("https://api.bench")
            .build()
            .unwrap();
        let token = TokenIssuer::new(signing, validator.clone())
            .unwrap()
            .issue(
                "user-1",
                &json!({ "name": "Ada", "roles": ["user", "admin"] }),
            )
            .unwrap()
            .access_token;

        // The baseline: a hand-written middleware around the same handler, doing
        // the least one can (take the Bearer header, `jsonwebtoken::decode` with
        // iss/aud, put the claims in the extensions), on the same runtime.
        let mut raw = Validation::new(alg);
        raw.set_issuer(&["https://auth.bench"]);
        raw.set_audience(&["https://api.bench"]);
        let handler = service_fn(|request: Request<Full<Bytes>>| async move {
            let ok = Verified::<Claims>::from_extensions(request.extensions()).is_some()
                || request.extensions().get::<Arc<Claims>>().is_some();
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(if ok {
                b"ok"
            } else {
                b"no"
            }))))
        });
        let authorization = format!("Bearer {token}");
        let request = |authorization: &str| {
            Request::builder()
                .uri("/")
                .header(header::AUTHORIZATION, authorization)
                .body(Full::new(Bytes::new()))
                .unwrap()
        };
        group.bench_with_input(
            BenchmarkId::new("hand-written decode", name),
            &authorization,
            |b, authorization| {
                let mut handler = handler;
                b.iter(|| {
                    let mut request = request(authorization);
                    let response = runtime.block_on(async {
                        let token = request.headers()[header::AUTHORIZATION].to_str().unwrap()
                            ["Bearer ".len()..]
                            .to_owned();
                        let claims = jsonwebtoken::decode::<Claims>(&token, &raw_key, &raw)
                            .unwrap()
                            .claims;
                        request.extensions_mut().insert(Arc::new(claims));
                        handler.ready().await.unwrap();
                        handler.call(request).await.unwrap()
                    });
                    assert_eq!(response.status(), 200);
                })
            },
        );

        // The verification alone, without HTTP: where the layer's time goes.
        group.bench_with_input(
            BenchmarkId::new("jsonwebtoken::decode alone", name),
            &token,
            |b, token| b.iter(|| jsonwebtoken::decode::<Claims>(token, &raw_key, &raw).unwrap()),
        );
        group.bench_with_input(
            BenchmarkId::new("Validator::verify alone", name),
            &token,
            |b, token| b.iter(|| validator.verify::<Claims>(token).unwrap()),
        );

        let mut service = ServiceBuilder::new()
            .layer(JwtLayer::<Claims>::new(validator))
            .service(handler);
        group.bench_with_input(
            BenchmarkId::new("JwtLayer", name),
            &authorization,
            |b, authorization| {
                b.iter(|| {
                    let request = request(authorization);
                    let response = runtime.block_on(async {
                        service.ready().await.unwrap();
                        service.call(request).await.unwrap()
                    });
                    assert_eq!(response.status(), 200);
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
