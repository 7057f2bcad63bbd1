//! 02 — users: seed accounts hashed with Argon2id, and a login that checks the
//! password. No token yet: this chapter is only about knowing who is who.
//!
//! ```console
//! cargo run -p examples --bin 02_users
//! curl -s http://127.0.0.1:3000/login -H 'content-type: application/json' \
//!     -d '{"username":"alice","password":"wonderland"}'
//! ```
use std::sync::Arc;

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use examples::{ApiError, LoginRequest, Users};
use serde_json::{Value, json};

// ANCHOR: main
#[tokio::main]
async fn main() -> Result<(), examples::BoxError> {
    examples::init_tracing();
    // Hashing is deliberately slow (Argon2id): done once, at start-up.
    let users = Arc::new(Users::seed()?);
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/login", post(login))
        .with_state(users);
    examples::serve(app).await
}
// ANCHOR_END: main

// ANCHOR: login
async fn login(
    State(users): State<Arc<Users>>,
    Json(request): Json<LoginRequest>,
) -> Result<Json<Value>, ApiError> {
    let user = users.get(&request.username);
    // `None` (no such user) still runs one full Argon2id verification against a
    // dummy hash: same time, same answer as a wrong password.
    let stored_hash = user.map(|u| u.password_hash.as_str());
    let password_ok = users
        .passwords()
        .verify(&request.password, stored_hash)
        .await?;
    match user {
        Some(user) if password_ok => Ok(Json(json!({
            "message": format!("welcome, {}", user.username),
            "roles": user.roles,
        }))),
        _ => Err(ApiError::InvalidCredentials),
    }
}
// ANCHOR_END: login
