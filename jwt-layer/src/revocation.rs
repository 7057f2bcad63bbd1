//! The revocation hook: an async check run after signature and claims pass.
//!
//! ```
//! use jwt_layer::BoxFuture;
//! use jwt_layer::{RevocationCheck, RevocationError, VerifiedToken};
//!
//! /// Refuses tokens of banned users (looked up wherever you keep them).
//! struct Banned(Vec<String>);
//!
//! impl RevocationCheck for Banned {
//!     fn check<'a>(&'a self, token: &'a VerifiedToken) -> BoxFuture<'a, Result<(), RevocationError>> {
//!         Box::pin(async move {
//!             match token.subject() {
//!                 Some(sub) if self.0.iter().any(|b| b == sub) => Err(RevocationError::Revoked),
//!                 _ => Ok(()),
//!             }
//!         })
//!     }
//! }
//! # let _ = Banned(vec![]);
//! ```
//!
//! [`RevocationCheck`] is implemented by [`RefreshTokens`](crate::RefreshTokens),
//! over the stores of [`crate::store`], and by
//! [`StoreRevocations`](crate::StoreRevocations), the same check for a service
//! that shares the issuer's store without issuing; implement it yourself to
//! consult anything else. If the check cannot be made (store down, timeout), the request
//! fails closed with `503` and the reason is logged, never passed.
use crate::claims::VerifiedToken;
use crate::future::BoxFuture;

/// The answer of a revocation check that could not say yes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RevocationError {
    /// The token, its session or its subject was revoked.
    #[error("token revoked")]
    Revoked,
    /// The check could not be made; the request fails closed.
    #[error("revocation check unavailable: {0}")]
    Unavailable(String),
}

/// Decides whether a verified token is still good.
pub trait RevocationCheck: Send + Sync + 'static {
    /// `Ok(())` if the token is not revoked.
    fn check<'a>(&'a self, token: &'a VerifiedToken) -> BoxFuture<'a, Result<(), RevocationError>>;
}
