//! What users get: a full axum `Router` per request (built request, `oneshot`,
//! routing, extractor, handler), with
//! - no authentication at all (the ceiling),
//! - a minimal extractor that calls `jsonwebtoken::decode` (the usual
//!   hand-written baseline: no `typ`, `crit` or lifetime rules),
//! - `JwtLayer` + `Claims<T>` with the verified-token cache (default) and without,
//!   and with a key resolver (the identity-provider setup),
//!
//! for HS256, RS256, ES256 and EdDSA, with one repeated token (cache hits) and
//! with distinct tokens (2048 cycled through a cache of 256 entries: every
//! lookup misses, every insert evicts, the worst case).
//!
//! After criterion's runs, a summary measured in the same process prints each
//! case's time per request, its ratios to "no auth" and to the raw decode of the
//! same tokens (interleaved rounds, median of 7), and its heap allocations per
//! request (a counting global allocator); then the memory of a cache filled to
//! capacity, against its documented bound.
//!
//! ```text
//! flock /tmp/cargo.lock cargo bench -p jwt-layer --bench layer -- --warm-up-time 1 --measurement-time 3
//! ```
//! `BENCH_SUMMARY_ONLY=1` skips criterion and prints the summary alone;
//! `BENCH_ALGS=HS256,RS256` runs only these algorithms.
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::routing::get;
use criterion::{BenchmarkId, Criterion};
use http::request::Parts;
use http::{HeaderValue, Request, StatusCode, header};
use jsonwebtoken::{DecodingKey, Validation};
use jwt_extractor::Claims;
use jwt_layer::cache::{CacheConfig, DEFAULT_MAX_BYTES, DEFAULT_MAX_ENTRIES};
use jwt_layer::{Algorithm, JwtLayer, KeySet, SigningKey, TokenIssuer, Validator};
use serde::Deserialize;
use serde_json::json;
use tower::ServiceExt;

// ---- a counting allocator: allocations and live bytes -------------------------

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static ALLOCATED: AtomicU64 = AtomicU64::new(0);
static FREED: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; the
// counters are only read by the summary.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        ALLOCATED.fetch_add(layout.size() as u64, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        FREED.fetch_add(layout.size() as u64, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        ALLOCATED.fetch_add(new_size as u64, Ordering::Relaxed);
        FREED.fetch_add(layout.size() as u64, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn live_bytes() -> i64 {
    ALLOCATED.load(Ordering::Relaxed) as i64 - FREED.load(Ordering::Relaxed) as i64
}

// ---- the applications ------------------------------------------------------------

#[derive(Deserialize)]
#[allow(dead_code)]
struct User {
    sub: String,
    name: String,
    roles: Vec<String>,
}

const ISSUER: &str = "https://auth.bench";
const AUDIENCE: &str = "https://api.bench";
const DISTINCT: usize = 2048;
const MISS_CACHE_ENTRIES: usize = 256;

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

fn no_auth() -> Router {
    Router::new().route("/", get(|| async { "ok" }))
}

fn raw(alg: Algorithm, key: DecodingKey) -> Router {
    let mut validation = Validation::new(alg);
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
        .with_state(RawState(Arc::new((key, validation))))
}

/// The app of the layer cases: `Claims<T>` in the handler.
fn extracting() -> Router {
    Router::new().route(
        "/",
        get(|Claims(user): Claims<User>| async move {
            black_box(&user.name);
            "ok"
        }),
    )
}

fn layered(layer: JwtLayer<User>) -> Router {
    extracting().layer(layer)
}

fn key(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/keys/{name}", env!("CARGO_MANIFEST_DIR"))).expect("test key")
}

fn signing_keys() -> Vec<(&'static str, SigningKey, DecodingKey)> {
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

fn validator(keys: KeySet) -> Validator {
    Validator::builder(keys)
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .build()
        .unwrap()
}

/// `Bearer <token>` header values, shared (a clone is a reference count).
fn bearer_values(issuer: &TokenIssuer, count: usize) -> Vec<HeaderValue> {
    (0..count)
        .map(|i| {
            let token = issuer
                .issue(
                    &format!("user-{i}"),
                    &json!({ "name": "Ada Lovelace", "roles": ["user", "admin"] }),
                )
                .unwrap()
                .access_token;
            HeaderValue::from_str(&format!("Bearer {token}")).unwrap()
        })
        .collect()
}

/// An app: a `Router` (layers added with `Router::layer`), or a `Router`
/// wrapped in the layer as a tower service (no per-route boxing by axum).
#[derive(Clone)]
enum App {
    Router(Router),
    Wrapped(jwt_layer::JwtService<Router, User>),
}

impl From<Router> for App {
    fn from(router: Router) -> Self {
        App::Router(router)
    }
}

/// One benchmarked case: an app and the tokens it is sent, in turn.
struct Case {
    name: String,
    alg: &'static str,
    app: App,
    tokens: Arc<Vec<HeaderValue>>,
    next: usize,
}

impl Case {
    fn request(&mut self) -> Request<Body> {
        let value = self.tokens[self.next % self.tokens.len()].clone();
        self.next = self.next.wrapping_add(1);
        let mut request = Request::new(Body::empty());
        request.headers_mut().insert(header::AUTHORIZATION, value);
        request
    }

    fn send(&mut self, runtime: &tokio::runtime::Runtime) {
        let request = self.request();
        let response = match &self.app {
            App::Router(router) => runtime.block_on(router.clone().oneshot(request)),
            App::Wrapped(service) => runtime.block_on(service.clone().oneshot(request)),
        }
        .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{}", self.name);
    }
}

fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    // `BENCH_ALGS=HS256,RS256` limits the runs to these algorithms.
    let only = std::env::var("BENCH_ALGS").ok();
    for (alg, signing, decoding) in signing_keys() {
        if only
            .as_deref()
            .is_some_and(|only| !only.split(',').any(|a| a == alg))
        {
            continue;
        }
        let keys = KeySet::single(signing.verifying_key());
        let issuer = TokenIssuer::new(signing, validator(keys.clone())).unwrap();
        let all = bearer_values(&issuer, DISTINCT);
        let one = Arc::new(vec![all[0].clone()]);
        let all = Arc::new(all);
        if cases.is_empty() {
            cases.push(Case {
                name: "no auth".into(),
                alg: "-",
                app: no_auth().into(),
                tokens: one.clone(),
                next: 0,
            });
            // What any tower layer costs on an axum `Router` (a boxed service
            // and a boxed future more per request), before it does anything.
            cases.push(Case {
                name: "no auth, no-op layer".into(),
                alg: "-",
                app: no_auth().layer(tower::layer::util::Identity::new()).into(),
                tokens: one.clone(),
                next: 0,
            });
        }
        let mut push = |name: &str, app: App, tokens: &Arc<Vec<HeaderValue>>| {
            cases.push(Case {
                name: name.into(),
                alg,
                app,
                tokens: tokens.clone(),
                next: 0,
            })
        };
        let raw_app = || raw(issuer_alg(alg), decoding.clone()).into();
        push("raw decode, repeated", raw_app(), &one);
        push("raw decode, distinct", raw_app(), &all);
        let layer = || JwtLayer::<User>::new(validator(keys.clone()));
        push(
            "JwtLayer, repeated (cache hits)",
            layered(layer()).into(),
            &one,
        );
        push(
            "JwtLayer around the Router, repeated (cache hits)",
            App::Wrapped(tower::Layer::layer(&layer(), extracting())),
            &one,
        );
        // What identity-provider setups run: a resolver (here the validator
        // itself) asked on every request, on the async path.
        push(
            "JwtLayer with a resolver, repeated (cache hits)",
            layered(layer().resolver(validator(keys.clone()))).into(),
            &one,
        );
        push(
            "JwtLayer, distinct (cache misses)",
            layered(layer().cache(CacheConfig::new().max_entries(MISS_CACHE_ENTRIES))).into(),
            &all,
        );
        push(
            "JwtLayer without cache, repeated",
            layered(layer().without_cache()).into(),
            &one,
        );
    }
    cases
}

fn issuer_alg(name: &str) -> Algorithm {
    name.parse().unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

fn criterion_runs(cases: &mut [Case], runtime: &tokio::runtime::Runtime) {
    let mut criterion = Criterion::default().configure_from_args();
    let mut group = criterion.benchmark_group("request");
    for case in cases.iter_mut() {
        group.bench_function(BenchmarkId::new(case.name.clone(), case.alg), |b| {
            b.iter(|| case.send(runtime))
        });
    }
    group.finish();
    criterion.final_summary();
}

/// Time per request: interleaved rounds of about `round` each, median of `rounds`.
fn timings(cases: &mut [Case], runtime: &tokio::runtime::Runtime) -> Vec<f64> {
    const ROUNDS: usize = 7;
    let round = Duration::from_millis(150);
    // Requests per round, from a short calibration (also the warm-up).
    let counts: Vec<usize> = cases
        .iter_mut()
        .map(|case| {
            let start = Instant::now();
            let mut n = 0;
            while start.elapsed() < Duration::from_millis(50) || n < 2 * DISTINCT {
                case.send(runtime);
                n += 1;
            }
            let per = start.elapsed().as_secs_f64() / n as f64;
            ((round.as_secs_f64() / per) as usize).max(100)
        })
        .collect();
    let mut samples = vec![Vec::new(); cases.len()];
    for _ in 0..ROUNDS {
        for (i, case) in cases.iter_mut().enumerate() {
            let start = Instant::now();
            for _ in 0..counts[i] {
                case.send(runtime);
            }
            samples[i].push(start.elapsed().as_secs_f64() * 1e9 / counts[i] as f64);
        }
    }
    samples
        .into_iter()
        .map(|mut s| {
            s.sort_by(f64::total_cmp);
            s[s.len() / 2]
        })
        .collect()
}

/// Heap allocations and bytes allocated per request, over 1000 requests.
fn allocations(case: &mut Case, runtime: &tokio::runtime::Runtime) -> (f64, f64) {
    const N: u64 = 1000;
    let (a0, b0) = (
        ALLOCATIONS.load(Ordering::Relaxed),
        ALLOCATED.load(Ordering::Relaxed),
    );
    for _ in 0..N {
        case.send(runtime);
    }
    (
        (ALLOCATIONS.load(Ordering::Relaxed) - a0) as f64 / N as f64,
        (ALLOCATED.load(Ordering::Relaxed) - b0) as f64 / N as f64,
    )
}

fn summary(cases: &mut [Case], runtime: &tokio::runtime::Runtime) {
    let times = timings(cases, runtime);
    let allocs: Vec<(f64, f64)> = cases.iter_mut().map(|c| allocations(c, runtime)).collect();
    let no_auth = times[0];
    println!("\n## Per request, one run (median of 7 interleaved rounds)\n");
    println!(
        "| case | alg | ns/request | vs no auth | vs raw decode | allocations | bytes allocated |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|");
    for (i, case) in cases.iter().enumerate() {
        // The raw decode of the same algorithm and the same token pattern.
        let distinct = case.tokens.len() > 1;
        let raw = cases
            .iter()
            .position(|c| {
                c.alg == case.alg && c.name.starts_with("raw") && (c.tokens.len() > 1) == distinct
            })
            .map(|j| format!("{:.3}", times[j] / times[i]))
            .unwrap_or_else(|| "-".into());
        println!(
            "| {} | {} | {:.0} | {:.3} | {} | {:.1} | {:.0} |",
            case.name,
            case.alg,
            times[i],
            no_auth / times[i],
            raw,
            allocs[i].0,
            allocs[i].1
        );
    }
}

/// The heap a default cache holds when full of distinct tokens.
fn cache_memory(runtime: &tokio::runtime::Runtime) {
    println!(
        "\n## Cache memory at capacity (defaults: {DEFAULT_MAX_ENTRIES} entries, {DEFAULT_MAX_BYTES} bytes)\n"
    );
    println!("| claims type | tokens sent | entries | charged bytes | heap held | bound |");
    println!("|---|---:|---:|---:|---:|---:|");
    let signing = SigningKey::hmac(Algorithm::HS256, &[7; 32]).unwrap();
    let keys = KeySet::single(signing.verifying_key());
    let issuer = TokenIssuer::new(signing, validator(keys.clone())).unwrap();
    let sent = 3 * DEFAULT_MAX_ENTRIES;
    let tokens = bearer_values(&issuer, sent);

    fn fill<T>(
        name: &str,
        layer: JwtLayer<T>,
        app: Router,
        tokens: &[HeaderValue],
        runtime: &tokio::runtime::Runtime,
    ) {
        // Warm the app (lazy statics, the runtime) before the baseline.
        let send = |value: &HeaderValue| {
            let mut request = Request::new(Body::empty());
            request
                .headers_mut()
                .insert(header::AUTHORIZATION, value.clone());
            let response = runtime.block_on(app.clone().oneshot(request)).unwrap();
            assert_eq!(response.status(), StatusCode::OK);
        };
        send(&tokens[0]);
        let before = live_bytes();
        for value in tokens {
            send(value);
        }
        let held = live_bytes() - before;
        let stats = layer.cache_stats().unwrap();
        println!(
            "| {name} | {} | {} | {} | {} | {} |",
            tokens.len(),
            stats.entries,
            stats.bytes,
            held,
            DEFAULT_MAX_BYTES
        );
    }

    let layer = JwtLayer::<User>::new(validator(keys.clone()));
    fill(
        "struct (sub, name, roles)",
        layer.clone(),
        layered(layer),
        &tokens,
        runtime,
    );

    let layer = JwtLayer::<serde_json::Value>::new(validator(keys));
    let app = Router::new()
        .route(
            "/",
            get(|Claims(claims): Claims<serde_json::Value>| async move {
                black_box(&claims);
                "ok"
            }),
        )
        .layer(layer.clone());
    fill("serde_json::Value", layer, app, &tokens, runtime);
}

fn main() {
    let runtime = runtime();
    let mut cases = cases();
    if std::env::var_os("BENCH_SUMMARY_ONLY").is_none() {
        criterion_runs(&mut cases, &runtime);
    }
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this once as a smoke test.
    // `--profile-time` (criterion's mode for profilers) runs the chosen cases alone.
    let profiling = std::env::args().any(|a| a == "--profile-time");
    if !profiling
        && (std::env::args().any(|a| a == "--bench")
            || std::env::var_os("BENCH_SUMMARY_ONLY").is_some())
    {
        summary(&mut cases, &runtime);
        cache_memory(&runtime);
    }
}
