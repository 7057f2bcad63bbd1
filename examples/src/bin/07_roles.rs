//! 07 — roles: authorization the compiler checks. `RequireRole<Admin>` on a
//! handler, `AnyOf` for alternatives, and `require_role` on a whole route group;
//! OAuth scopes (`RequireScope<NotesWrite>`), and a recent login for a password
//! change (`MaxAuthAge<300>`, RFC 9470 step-up).
//!
//! ```console
//! cargo run -p examples --bin 07_roles
//! ```
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use examples::{ApiError, AppClaims, LoginRequest, Users};
use jwt_extractor::{
    AnyOf, Claims, MaxAuthAge, RequireRole, RequireScope, require_role, role, scope,
};
use jwt_layer::{Algorithm, Authentication, JwtLayer, KeySet, SigningKey, TokenIssuer, Validator};
use serde::Deserialize;
use serde_json::json;

// ANCHOR: roles
// A role is a type; the string is what the token's `roles` claim carries.
role!(pub Admin = "admin");
role!(pub Auditor = "auditor");
// ANCHOR_END: roles

// ANCHOR: scopes
// A scope is what a client was granted (OAuth): the token's `scope` claim.
scope!(pub NotesRead = "notes:read", pub NotesWrite = "notes:write");
/// What a login grants when the client does not ask for less.
const ALL_SCOPES: [&str; 2] = ["notes:read", "notes:write"];
// ANCHOR_END: scopes

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
        .route("/notes", get(list_notes).post(add_note))
        .route("/account/password", post(change_password))
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

// ANCHOR: scoped_handlers
/// Any token granted `notes:read`, whatever the user's roles.
async fn list_notes(notes: RequireScope<NotesRead>) -> String {
    format!("notes of {}", notes.token().subject().unwrap_or("?"))
}

/// Writing needs `notes:write`; a read-only client's token is refused (403).
async fn add_note(_: RequireScope<NotesWrite>) -> StatusCode {
    StatusCode::CREATED
}
// ANCHOR_END: scoped_handlers

#[derive(Deserialize)]
struct NewPassword {
    new_password: String,
}

// ANCHOR: step_up
/// A stolen token must not be enough to lock the owner out: changing the
/// password needs a login at most five minutes old (the token's `auth_time`).
/// Older: 401 `insufficient_user_authentication` with `max_age="300"`.
async fn change_password(
    fresh: MaxAuthAge<300>,
    Json(request): Json<NewPassword>,
) -> Result<StatusCode, ApiError> {
    if request.new_password.len() < 8 {
        return Err(ApiError::InvalidRequest("the new password is too short"));
    }
    // The example's users are fixed; a real handler would hash and store the
    // new password here, and log the user's other sessions out.
    tracing::info!(user = fresh.token().subject(), "password changed");
    Ok(StatusCode::NO_CONTENT)
}
// ANCHOR_END: step_up

// ANCHOR: login
/// `POST /login` with an optional `scope`: a client may ask for less than
/// everything (`"scope": "notes:read"`), never for more.
#[derive(Deserialize)]
struct ScopedLogin {
    #[serde(flatten)]
    credentials: LoginRequest,
    scope: Option<String>,
}

async fn login(
    State(state): State<Arc<AppState>>,
    Json(request): Json<ScopedLogin>,
) -> Result<Response, ApiError> {
    let ScopedLogin { credentials, scope } = request;
    let Some(user) = state
        .users
        .authenticate(&credentials.username, &credentials.password)
        .await?
    else {
        return Err(ApiError::InvalidCredentials);
    };
    // RFC 6749 §3.3: grant what was asked for and may be granted.
    let granted: Vec<&str> = match scope.as_deref() {
        Some(asked) => ALL_SCOPES
            .into_iter()
            .filter(|s| asked.split(' ').any(|a| a == *s))
            .collect(),
        None => ALL_SCOPES.to_vec(),
    };
    let claims = json!({ "roles": user.roles, "scope": granted.join(" ") });
    // The password was just checked: `auth_time` is now, the method `pwd`.
    let login = Authentication::now().with_amr(["pwd"]);
    let token = state
        .issuer
        .issue_authenticated(&user.username, &claims, &login)?;
    Ok(examples::no_store(Json(token)))
}
// ANCHOR_END: login
