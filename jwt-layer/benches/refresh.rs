//! Login, refresh and the revocation check of one access token, on the memory
//! store and on a real Redis (a private `redis-server` on a unix socket,
//! started here; skipped with a message if `redis-server` is not installed).
//!
//! `cargo bench -p jwt-layer --features redis --bench refresh`
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use jwt_layer::store::{MemoryStore, RedisStore, RevocationCache, Store};
use jwt_layer::{
    Algorithm, KeySet, RefreshTokens, RevocationCheck, SigningKey, TokenIssuer, Validator,
};
use serde_json::json;

/// A private `redis-server`, killed (and its directory removed) on drop.
struct Server {
    child: Child,
    dir: std::path::PathBuf,
    url: String,
}

impl Server {
    fn start() -> Option<Self> {
        let binary = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let dir =
            std::env::temp_dir().join(format!("jwt-layer-bench-redis-{}", std::process::id()));
        std::fs::create_dir_all(&dir).ok()?;
        let socket = dir.join("redis.sock");
        let child = match Command::new(&binary)
            .args(["--port", "0", "--save", "", "--appendonly", "no"])
            .arg("--unixsocket")
            .arg(&socket)
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(child) => child,
            Err(e) => {
                eprintln!("skipping the Redis benchmarks: cannot start `{binary}` ({e})");
                return None;
            }
        };
        let started = Instant::now();
        while !socket.exists() && started.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let url = format!("redis+unix://{}", socket.display());
        Some(Self { child, dir, url })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn tokens(store: Arc<dyn Store>) -> RefreshTokens {
    let signing = SigningKey::hmac(Algorithm::HS256, &[7; 32]).unwrap();
    let validator = Validator::builder(KeySet::single(signing.verifying_key()))
        .issuer("https://auth.bench")
        .audience("https://api.bench")
        .build()
        .unwrap();
    RefreshTokens::with_shared_store(TokenIssuer::new(signing, validator).unwrap(), store)
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let server = Server::start();
    let mut stores: Vec<(&str, Arc<dyn Store>)> =
        vec![("MemoryStore", Arc::new(MemoryStore::new()))];
    if let Some(server) = &server {
        let store = runtime
            .block_on(RedisStore::connect(&server.url))
            .expect("connecting to the bench redis-server");
        stores.push(("RedisStore", Arc::new(store)));
        // The same with the local cache of revocation state (its subscriber
        // runs whenever the runtime does).
        let cached = runtime
            .block_on(async {
                RedisStore::connect(&server.url)
                    .await?
                    .cache_revocations(RevocationCache::new())
            })
            .expect("connecting to the bench redis-server");
        stores.push(("RedisStore + revocation cache", Arc::new(cached)));
    }

    let mut group = c.benchmark_group("refresh");
    let claims = json!({ "name": "Ada", "roles": ["user"] });
    for (name, store) in stores {
        let tokens = tokens(store);
        // One subject: its sessions stay at the per-subject bound (64), so the
        // store does not grow with the iterations.
        group.bench_function(BenchmarkId::new("login", name), |b| {
            b.iter(|| runtime.block_on(tokens.login("user-1", &claims)).unwrap())
        });
        let mut pair = runtime.block_on(tokens.login("user-2", &claims)).unwrap();
        group.bench_function(BenchmarkId::new("refresh", name), |b| {
            b.iter(|| {
                pair = runtime
                    .block_on(tokens.refresh(&pair.refresh_token))
                    .unwrap();
            })
        });
        let verified = tokens
            .issuer()
            .validator()
            .verify::<serde_json::Value>(&pair.access.access_token)
            .unwrap();
        group.bench_function(BenchmarkId::new("revocation check", name), |b| {
            b.iter(|| runtime.block_on(tokens.check(verified.token())).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
