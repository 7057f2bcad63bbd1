//! The API behind the `JwtLayer`: its handlers run only for a valid token.
use axum::Json;
use jwt_extractor::Claims;
use serde::Deserialize;
use serde_json::{Value, json};

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
    }))
}
// ANCHOR_END: me
