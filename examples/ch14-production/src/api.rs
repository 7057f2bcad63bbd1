//! The API behind the `JwtLayer`: its handlers run only for a valid token.
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use jwt_extractor::{
    AnyOf, Claims, CurrentUser, MaxAuthAge, RequireRole, RequireScope, role, scope,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::client::ClientAddress;
use crate::error::ApiError;
use crate::users::Account;

// ANCHOR: roles
// A role is a type; the string is what the token's `roles` claim carries.
// `role!` writes a unit struct and its `Role` impl (the name it checks).
role!(pub Admin = "admin");
role!(pub Auditor = "auditor");
// ANCHOR_END: roles

// ANCHOR: scopes
// A scope is what a client was granted (OAuth): the token's `scope` claim.
scope!(pub NotesRead = "notes:read", pub NotesWrite = "notes:write");
// ANCHOR_END: scopes

// ANCHOR: claims
/// What a handler needs to know about the caller. The layer decodes every
/// verified token into this type, once; a token whose claims do not fit is
/// refused (401) before any handler runs.
#[derive(Debug, Clone, Deserialize)]
pub struct AppClaims {
    /// The username (`sub`, set by the issuer).
    pub sub: String,
    /// The roles granted at login.
    pub roles: Vec<String>,
}
// ANCHOR_END: claims

// ANCHOR: me
/// `Claims<AppClaims>` in the arguments: the handler runs only with a verified
/// token, and `claims` is the decoded payload (passport's `req.user`).
pub async fn me(Claims(claims): Claims<AppClaims>) -> Json<Value> {
    // Beyond your claims: the registered ones (`exp`, `jti`, ...), the source.
    let token = claims.token();
    Json(json!({
        "sub": claims.sub,
        "roles": claims.roles,
        "expires_at": token.registered().exp,
        // "bearer" or "cookie": how this request was authenticated.
        "via": token.source(),
        // Which key signed it (chapter 14: keys have ids).
        "kid": token.kid(),
    }))
}
// ANCHOR_END: me

// ANCHOR: notes
/// Any token granted `notes:read`, whatever the user's roles.
pub async fn notes(notes: RequireScope<NotesRead>) -> Json<Value> {
    let owner = notes.token().subject().unwrap_or_default();
    Json(json!([format!("a note for {owner}")]))
}

/// The body of `POST /api/notes`.
#[derive(Deserialize)]
pub struct NewNote {
    text: String,
}

/// Writing needs `notes:write`; a read-only client's token is refused (403).
/// (Extractors run in order; the body, `Json`, must come last.)
pub async fn add_note(
    notes: RequireScope<NotesWrite>,
    Json(note): Json<NewNote>,
) -> (StatusCode, Json<Value>) {
    let author = notes.token().subject().unwrap_or_default();
    let body = json!({ "author": author, "text": note.text });
    (StatusCode::CREATED, Json(body))
}
// ANCHOR_END: notes

// ANCHOR: greet
/// Behind `JwtLayer::optional()`: `None` only when no token was sent at all;
/// an invalid token never gets here (401).
pub async fn greet(user: Option<Claims<AppClaims>>) -> String {
    match user {
        Some(Claims(claims)) => format!("hello, {}", claims.sub),
        None => "hello, stranger".to_owned(),
    }
}
// ANCHOR_END: greet

// ANCHOR: admin
/// Admins only: the handler does not even run for anyone else (403).
pub async fn list_users(
    _: RequireRole<Admin>,
    State(state): State<Arc<AppState>>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({ "users": state.users.list().await? })))
}

/// Admins or auditors.
pub async fn reports(_: RequireRole<AnyOf<(Admin, Auditor)>>) -> &'static str {
    "quarterly report"
}
// ANCHOR_END: admin

/// The body of `POST /api/account/password`.
#[derive(Deserialize)]
pub struct NewPassword {
    new_password: String,
}

// ANCHOR: step_up
/// A stolen token must not be enough to lock the owner out: changing the
/// password needs a login at most five minutes old (the token's `auth_time`).
/// Older: 401 `insufficient_user_authentication` with `max_age="300"`.
pub async fn change_password(
    fresh: MaxAuthAge<300>,
    State(state): State<Arc<AppState>>,
    ClientAddress(client): ClientAddress,
    Json(request): Json<NewPassword>,
) -> Result<StatusCode, ApiError> {
    let username = fresh.token().subject().unwrap_or_default();
    // It hashes a password, like a login: counted with the logins, so a burst
    // of changes with one fresh token cannot take every hashing permit.
    state.throttle.check_login(client, username)?;
    state
        .users
        .set_password(username, &request.new_password)
        .await?;
    // Whoever else holds a session (a thief with a stolen refresh token)
    // loses it now, and every access token issued until now stops working:
    // this one too, so the client logs in again with the new password.
    state.tokens.logout_everywhere(username).await?;
    tracing::info!(username, "password changed; every session logged out");
    Ok(StatusCode::NO_CONTENT)
}
// ANCHOR_END: step_up

// ANCHOR: profile
/// `CurrentUser<Account>`: what `load_user` loaded for this request (`req.user`).
pub async fn profile(CurrentUser(account): CurrentUser<Account>) -> Json<Value> {
    Json(json!({ "username": account.username, "roles": account.roles }))
}
// ANCHOR_END: profile
