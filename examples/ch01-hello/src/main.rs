//! The notes API: the one application the book grows, chapter by chapter.
mod server;

use axum::{Router, routing::get};

#[tokio::main]
async fn main() -> Result<(), server::BoxError> {
    server::init_tracing();
    let app = Router::new().route("/health", get(health));
    server::serve(app).await
}

/// A handler is an async function; what it returns becomes the response.
async fn health() -> &'static str {
    "ok"
}
