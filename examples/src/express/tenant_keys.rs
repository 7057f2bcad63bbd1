//! passport-jwt's `secretOrKeyProvider: (req, rawJwt, done) => …`: the key
//! depends on the request, here one key (and issuer) per tenant, the tenant
//! named by the host the request was sent to.
//!
//! A [`KeyResolver`] sees the request head and what the token says of itself
//! before verification (`alg`, `kid`, `iss`: [`UnverifiedToken`]) and returns
//! the whole [`Validator`] to verify with: keys *and* policy (issuer,
//! audience), so a tenant's token cannot pass on another tenant's host. It is
//! async: a real app may look tenants up in its database (and cache them).
//! An unknown tenant is refused before any signature is checked.
use std::collections::HashMap;

use axum::Router;
use axum::http::header::HOST;
use axum::http::request::Parts;
use axum::routing::get;
use jwt_extractor::Claims;
use jwt_layer::{AuthError, BoxFuture, JwtLayer, KeyResolver, UnverifiedToken, Validator};
use serde_json::Value;

// ANCHOR: resolver
/// One validator per tenant, by host name (`acme.example.com`).
#[derive(Debug, Clone, Default)]
pub struct TenantKeys(HashMap<String, Validator>);

impl TenantKeys {
    /// Adds a tenant: requests to `host` are verified with `validator`.
    pub fn tenant(mut self, host: &str, validator: Validator) -> Self {
        self.0.insert(host.to_owned(), validator);
        self
    }
}

impl KeyResolver for TenantKeys {
    fn resolve<'a>(
        &'a self,
        parts: &'a Parts,
        _token: &'a UnverifiedToken,
    ) -> BoxFuture<'a, Result<Validator, AuthError>> {
        let chosen = host(parts)
            .and_then(|host| self.0.get(host))
            .cloned()
            .ok_or(AuthError::UnknownKey); // not a tenant of ours: 401
        Box::pin(async move { chosen })
    }
}

/// The host name the request was sent to, without the port: the URI's
/// authority (HTTP/2) or the `Host` header (HTTP/1.1).
fn host(parts: &Parts) -> Option<&str> {
    let authority = match parts.uri.authority() {
        Some(authority) => authority.as_str(),
        None => parts.headers.get(HOST)?.to_str().ok()?,
    };
    authority.split(':').next()
}
// ANCHOR_END: resolver

// ANCHOR: layer
async fn whoami(Claims(claims): Claims<Value>) -> String {
    // The issuer is verified: it says which tenant's key signed the token.
    let token = claims.token();
    let issuer = token.registered().iss.as_deref().unwrap_or_default();
    format!("{} of {issuer}", token.subject().unwrap_or_default())
}

/// `/whoami` for every tenant. `fallback` is what `JwtLayer::validator()`
/// returns; with a resolver, it never verifies a request.
pub fn app(fallback: Validator, tenants: TenantKeys) -> Router {
    Router::new()
        .route("/whoami", get(whoami))
        .layer(JwtLayer::<Value>::new(fallback).resolver(tenants))
}
// ANCHOR_END: layer
