//! passport-jwt's `verify(payload, done)` callback that loads the user from
//! the database and sets `req.user = dbUser`.
//!
//! Written by hand first, as a 15-line axum extractor [`DbUser`]: it reads
//! the token the `JwtLayer` in front verified and looks the subject up in a
//! store kept in the app state. Then the same with the toolkit's hook,
//! [`JwtLayer::load_user`] and `jwt_extractor::CurrentUser<U>`, which does
//! what the hand-written one does not: it runs once per request before any
//! handler (not once per extractor, and not only on the routes that ask for
//! the user), after the revocation checks, and fails closed with `503` when
//! the store cannot answer.
use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jwt_extractor::CurrentUser;
use jwt_layer::{AuthError, JwtLayer, RequestAuth, UserError, Validator};
use serde_json::Value;

/// The app's own user record, as its database knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The id, which tokens carry as `sub`.
    pub id: String,
    /// The display name: in the database, not in the token.
    pub name: String,
}

/// Stands for the database: users by id, cheap to clone (as a pool is).
#[derive(Debug, Clone, Default)]
pub struct UserStore(Arc<HashMap<String, User>>);

impl UserStore {
    /// A store holding `users`.
    pub fn new(users: impl IntoIterator<Item = User>) -> Self {
        Self(Arc::new(
            users.into_iter().map(|u| (u.id.clone(), u)).collect(),
        ))
    }

    /// The user with this id, if there is one.
    pub fn get(&self, id: &str) -> Option<User> {
        self.0.get(id).cloned()
    }
}

// ANCHOR: extractor
/// `req.user`, loaded by hand: the store's user for the verified `sub`
/// (behind a layer in required mode: anonymous requests are refused too).
pub struct DbUser(pub User);

impl<S: Send + Sync> FromRequestParts<S> for DbUser
where
    UserStore: FromRef<S>,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        // Left by the JwtLayer in front; without it, a bug of ours: 500.
        let Some(auth) = parts.extensions.get::<RequestAuth>() else {
            return Err(StatusCode::INTERNAL_SERVER_ERROR.into_response());
        };
        let user = auth.token().and_then(|token| token.subject());
        match user.and_then(|id| UserStore::from_ref(state).get(id)) {
            Some(user) => Ok(DbUser(user)),
            // done(null, false): refused the way the layer refuses (401 invalid_token).
            None => Err(auth
                .responder()
                .respond(AuthError::UnknownUser)
                .map(Body::from)),
        }
    }
}
// ANCHOR_END: extractor

// ANCHOR: by_hand
async fn me_by_hand(DbUser(user): DbUser) -> String {
    format!("{} ({})", user.name, user.id)
}

/// `/me` with the hand-written extractor: the store is in the app state.
pub fn by_hand(validator: Validator, users: UserStore) -> Router {
    Router::new()
        .route("/me", get(me_by_hand))
        .layer(JwtLayer::<Value>::new(validator))
        .with_state(users)
}
// ANCHOR_END: by_hand

// ANCHOR: load_user
async fn me(CurrentUser(user): CurrentUser<User>) -> String {
    format!("{} ({})", user.name, user.id)
}

/// `/me` with the layer's verify callback: the closure captures the store.
pub fn with_load_user(validator: Validator, users: UserStore) -> Router {
    let layer = JwtLayer::<Value>::new(validator).load_user(move |token, _request| {
        // Looked up before `async`: the future owns its answer (clone a pool here).
        let found = token.subject().and_then(|id| users.get(id));
        async move { found.ok_or(UserError::Unknown) } // done(null, false): 401
    });
    Router::new().route("/me", get(me)).layer(layer)
}
// ANCHOR_END: load_user
