//! passport-jwt's `done(null, false)` for a banned user: the token is
//! genuine, but its user was banned after it was issued.
//!
//! A [`RevocationCheck`] runs after the signature and the claims passed, on
//! every request (a token from the verified-token cache included), and its
//! `Err(Revoked)` is a `401 invalid_token`, as `done(null, false)` is a 401.
//! An `Err(Unavailable(..))` (the ban list cannot be read) fails closed with
//! `503`, never lets the request through. To answer `403` instead ("we know
//! you, and you may not"), refuse in `load_user` with `UserError::Forbidden`
//! (see [`super::current_user`]).
use std::collections::HashSet;
use std::sync::{Arc, RwLock};

use axum::Router;
use axum::routing::get;
use jwt_extractor::Claims;
use jwt_layer::{BoxFuture, JwtLayer, RevocationCheck, RevocationError, Validator, VerifiedToken};
use serde_json::Value;

/// The subjects banned so far: a table in a real app, shared by the layer
/// and the admin endpoint that bans.
#[derive(Debug, Clone, Default)]
pub struct BannedUsers(Arc<RwLock<HashSet<String>>>);

impl BannedUsers {
    /// Bans `subject`: its tokens are refused from the next request on.
    pub fn ban(&self, subject: &str) {
        // A poisoned lock only means another thread panicked mid-insert; the
        // set itself is still a set.
        let mut banned = self.0.write().unwrap_or_else(|e| e.into_inner());
        banned.insert(subject.to_owned());
    }
}

// ANCHOR: check
impl RevocationCheck for BannedUsers {
    fn check<'a>(&'a self, token: &'a VerifiedToken) -> BoxFuture<'a, Result<(), RevocationError>> {
        Box::pin(async move {
            // Cannot read the list: refuse (503), never guess "not banned".
            let banned = self
                .0
                .read()
                .map_err(|_| RevocationError::Unavailable("ban list lock poisoned".into()))?;
            match token.subject() {
                Some(subject) if banned.contains(subject) => Err(RevocationError::Revoked),
                _ => Ok(()),
            }
        })
    }
}
// ANCHOR_END: check

// ANCHOR: layer
async fn me(Claims(claims): Claims<Value>) -> String {
    claims.token().subject().unwrap_or_default().to_owned()
}

/// `/me`, refusing the tokens of banned users.
pub fn app(validator: Validator, banned: BannedUsers) -> Router {
    Router::new()
        .route("/me", get(me))
        .layer(JwtLayer::<Value>::new(validator).revocation(banned))
}
// ANCHOR_END: layer
