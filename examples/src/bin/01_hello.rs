//! 01 — hello: an axum server with one public route.
//!
//! ```console
//! cargo run -p examples --bin 01_hello
//! curl http://127.0.0.1:3000/health
//! ```
use axum::{Router, routing::get};

// ANCHOR: main
#[tokio::main]
async fn main() -> Result<(), examples::BoxError> {
    examples::init_tracing();
    let app = Router::new().route("/health", get(health));
    examples::serve(app).await
}

async fn health() -> &'static str {
    "ok"
}
// ANCHOR_END: main
