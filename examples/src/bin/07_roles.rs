//! 07 — roles: authorization the compiler checks. `RequireRole<Admin>` on a
//! handler, `AnyOf` for alternatives, and `require_role` on a whole route group.
//!
//! ```console
//! cargo run -p examples --bin 07_roles
//! ```
use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use examples::{ApiError, AppClaims, LoginRequest, Users};
use jwt_extractor::{AnyOf, Claims, RequireRole, require_role, role};
use jwt_layer::{Algorithm, JwtLayer, KeySet, SigningKey, TokenIssuer, Validator};
use serde_json::json;

// ANCHOR: roles
// A role is a type; the string is what the token's `roles` claim carries.
role!(pub Admin = "admin");
role!(pub Auditor = "auditor");
// ANCHOR_END: roles

struct AppState {
    users: Users,
    issuer: TokenIssuer,
}

#[tokio::main]
async fn main() -> Result<(), examples::BoxError> {
    examples::init_tracing();
    let signing = SigningKey::hmac(Algorithm::HS256, &examples::jwt_secret())?;
    let validator = Validator::builder(KeySet::single(signing.verifying_key()))
        .issuer(examples::issuer())
        .audience(examples::audience())
        .build()?;
    let issuer = TokenIssuer::new(signing, validator.clone())?
        .access_ttl(examples::env_secs("ACCESS_TTL_SECS", 5 * 60));
    let state = Arc::new(AppState {
        users: Users::seed()?,
        issuer,
    });

    // ANCHOR: router
    // One guard for the whole group: every route under /admin needs `admin`.
    let admin = Router::new()
        .route("/admin/users", get(|| async { "alice, bob" }))
        .route("/admin/audit-log", get(|| async { "nothing to see" }))
        .route_layer(require_role::<Admin>());
    let api = Router::new()
        .route("/me", get(me))
        .route("/stats", get(stats))
        .route("/reports", get(reports))
        .merge(admin)
        // Outermost: authenticate first (401), then the guards authorize (403).
        .layer(JwtLayer::<AppClaims>::new(validator));
    // ANCHOR_END: router
    let public = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/login", post(login));
    examples::serve(public.merge(api).with_state(state)).await
}

// ANCHOR: handlers
async fn me(Claims(claims): Claims<AppClaims>) -> String {
    format!("{} has roles {:?}", claims.sub, claims.roles)
}

/// Admins only: the handler does not even run for anyone else (403).
async fn stats(admin: RequireRole<Admin>) -> String {
    format!("stats for {}", admin.token().subject().unwrap_or("?"))
}

/// Admins or auditors.
async fn reports(_: RequireRole<AnyOf<(Admin, Auditor)>>) -> &'static str {
    "quarterly report"
}
// ANCHOR_END: handlers

async fn login(
    State(state): State<Arc<AppState>>,
    Json(request): Json<LoginRequest>,
) -> Result<Response, ApiError> {
    let Some(user) = state
        .users
        .authenticate(&request.username, &request.password)
        .await?
    else {
        return Err(ApiError::InvalidCredentials);
    };
    let token = state
        .issuer
        .issue(&user.username, &json!({ "roles": user.roles }))?;
    Ok(examples::no_store(Json(token)))
}
