//! The notes API: the one application the book grows, chapter by chapter.
mod api;
mod app;
mod auth;
mod browser;
mod client;
mod config;
mod error;
mod keys;
mod server;
mod throttle;
mod users;
mod well_known;
// ANCHOR: tests_mod
// Compiled only for `cargo test`.
#[cfg(test)]
mod tests;
// ANCHOR_END: tests_mod

use crate::app::AppState;

// ANCHOR: main
#[tokio::main]
async fn main() -> Result<(), server::BoxError> {
    server::init_tracing();
    let config = config::Config::from_env()?;
    server::serve(app::app(config).await?).await
}
// ANCHOR_END: main
