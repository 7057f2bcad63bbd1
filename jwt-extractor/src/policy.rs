//! Custom authorization rules over the claims: the [`Policy`] trait and the
//! [`Require<P>`] extractor.
//!
//! ```
//! use jwt_extractor::{Policy, Require};
//! use jwt_layer::VerifiedToken;
//! use serde::Deserialize;
//!
//! #[derive(Deserialize)]
//! struct User { sub: String, tenant: String, email_verified: bool }
//!
//! /// Only users with a verified e-mail.
//! struct VerifiedEmail;
//!
//! impl Policy for VerifiedEmail {
//!     type Claims = User;
//!     fn allows(user: &User, _token: &VerifiedToken) -> bool {
//!         user.email_verified
//!     }
//! }
//!
//! async fn billing(Require(user, ..): Require<VerifiedEmail>) -> String {
//!     format!("billing for {} in {}", user.sub, user.tenant)
//! }
//! # let _: axum::routing::MethodRouter = axum::routing::get(billing);
//! ```
//!
//! For a rule that needs a value known only at run time, use a closure with
//! [`require_claims`](crate::require_claims) on a route group instead.
use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use http::request::Parts;
use jwt_layer::{AuthError, VerifiedToken};

use crate::claims::{Claims, ClaimsType, Found, find, unauthenticated};
use crate::rejection::Rejection;

/// An authorization rule over the verified claims.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an authorization policy",
    note = "implement `jwt_extractor::Policy` for `{Self}` (`type Claims = ...; fn allows(...) -> bool`); for roles use `RequireRole<R>`"
)]
pub trait Policy: Send + Sync + 'static {
    /// The claims type the rule reads (the layer's `T`).
    type Claims: ClaimsType;
    /// Whether the request may proceed.
    fn allows(claims: &Self::Claims, token: &VerifiedToken) -> bool;
}

/// The claims, if [`Policy`] `P` allows the request; 403 `insufficient_scope` if not.
pub struct Require<P: Policy>(pub Claims<P::Claims>, pub PhantomData<fn() -> P>);

impl<P: Policy> std::ops::Deref for Require<P> {
    type Target = P::Claims;
    fn deref(&self) -> &P::Claims {
        self.0.claims()
    }
}

impl<S: Send + Sync, P: Policy> FromRequestParts<S> for Require<P> {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let verified = match find::<P::Claims>(parts, "Require<P>")? {
            Found::Verified(verified) => verified,
            Found::Anonymous => return Err(unauthenticated(parts)),
        };
        if P::allows(verified.claims(), verified.token()) {
            Ok(Require(Claims(verified), PhantomData))
        } else {
            tracing::info!(
                target: "jwt_extractor",
                subject = verified.token().subject().unwrap_or(""),
                policy = std::any::type_name::<P>(),
                "authorization refused"
            );
            Err(Rejection::auth(
                AuthError::InsufficientScope,
                crate::claims::responder(parts),
            ))
        }
    }
}
