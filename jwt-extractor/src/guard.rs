//! [`GuardLayer`]: one authorization rule for a whole group of routes.
//!
//! ```
//! use axum::{Router, routing::get};
//! use jwt_extractor::{require_claims, require_role, role};
//! use jwt_layer::{Algorithm, JwtLayer, VerifyingKey, KeySet, Validator};
//! use serde::Deserialize;
//!
//! role!(pub Admin = "admin");
//!
//! #[derive(Deserialize)]
//! struct User { tenant: String }
//!
//! # fn main() -> Result<(), jwt_layer::ConfigError> {
//! let validator = Validator::builder(KeySet::single(VerifyingKey::hmac(Algorithm::HS256, &[7; 32])?)).build()?;
//! let admin = Router::new()
//!     .route("/admin/users", get(|| async { "all users" }))
//!     .route("/admin/stats", get(|| async { "stats" }))
//!     .route_layer(require_role::<Admin>());
//! let acme = Router::new()
//!     .route("/acme/reports", get(|| async { "reports" }))
//!     .route_layer(require_claims(|user: &User| user.tenant == "acme"));
//! // Layers run outside in: the JwtLayer authenticates, then the guards authorize.
//! let app: Router = admin.merge(acme).layer(JwtLayer::<User>::new(validator));
//! # let _ = app; Ok(()) }
//! ```
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::response::{IntoResponse, Response};
use http::Request;
use jwt_layer::{AuthError, VerifiedToken};
use tower_layer::Layer;
use tower_service::Service;

use crate::claims::{ClaimsType, Found, find, unauthenticated};
use crate::rejection::Rejection;
use crate::requirement::{AcrValues, Roles, Scopes, authorize, check};
use crate::roles::RoleRequirement;
use crate::scopes::ScopeRequirement;
use crate::step_up::{AcrRequirement, check_max_age};

type Check = dyn Fn(&http::request::Parts) -> Result<(), Rejection> + Send + Sync;

/// Runs an authorization check before the routes it wraps; use with
/// `Router::route_layer` behind a [`JwtLayer`](jwt_layer::JwtLayer).
#[derive(Clone)]
pub struct GuardLayer {
    check: Arc<Check>,
}

impl std::fmt::Debug for GuardLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardLayer").finish_non_exhaustive()
    }
}

impl GuardLayer {
    /// A guard from a check over the request head. The building block of
    /// [`require_role`], [`require_scope`], [`require_acr`],
    /// [`require_max_auth_age`], [`require`] and [`require_claims`].
    pub fn new<F>(check: F) -> Self
    where
        F: Fn(&http::request::Parts) -> Result<(), Rejection> + Send + Sync + 'static,
    {
        Self {
            check: Arc::new(check),
        }
    }
}

/// Requires role `R` (or [`AnyOf`](crate::AnyOf) / [`AllOf`](crate::AllOf)) on
/// every route of the group, as [`RequireRole`](crate::RequireRole) does.
pub fn require_role<R: RoleRequirement>() -> GuardLayer {
    GuardLayer::new(|parts| check::<Roles, R>(parts, "require_role").map(drop))
}

/// Requires scope `S` (or [`AnyOf`](crate::AnyOf) / [`AllOf`](crate::AllOf))
/// on every route of the group, as [`RequireScope`](crate::RequireScope) does
/// (403 with `scope="…"`).
pub fn require_scope<S: ScopeRequirement>() -> GuardLayer {
    GuardLayer::new(|parts| check::<Scopes, S>(parts, "require_scope").map(drop))
}

/// Requires acr `A` (or [`AnyOf`](crate::AnyOf) several) on every route of
/// the group, as [`RequireAcr`](crate::RequireAcr) does (401 with
/// `acr_values="…"`).
pub fn require_acr<A: AcrRequirement>() -> GuardLayer {
    GuardLayer::new(|parts| check::<AcrValues, A>(parts, "require_acr").map(drop))
}

/// Requires an `auth_time` at most `SECS` seconds old on every route of the
/// group, as [`MaxAuthAge`](crate::MaxAuthAge) does (401 with
/// `max_age="SECS"`).
pub fn require_max_auth_age<const SECS: u64>() -> GuardLayer {
    GuardLayer::new(|parts| check_max_age(parts, "require_max_auth_age", SECS).map(drop))
}

/// Requires `allowed(token)` on every route of the group.
pub fn require<F>(allowed: F) -> GuardLayer
where
    F: Fn(&VerifiedToken) -> bool + Send + Sync + 'static,
{
    GuardLayer::new(move |parts| {
        authorize(
            parts,
            "require",
            &allowed,
            || "custom predicate".to_owned(),
            || AuthError::InsufficientScope,
        )
        .map(drop)
    })
}

/// Requires `allowed(claims)` on every route of the group, over the layer's claims type.
pub fn require_claims<T, F>(allowed: F) -> GuardLayer
where
    T: ClaimsType,
    F: Fn(&T) -> bool + Send + Sync + 'static,
{
    GuardLayer::new(move |parts| match find::<T>(parts, "require_claims")? {
        Found::Verified(verified) => {
            let claims = verified.claims();
            authorize(
                parts,
                "require_claims",
                |_| allowed(claims),
                || "claims predicate".to_owned(),
                || AuthError::InsufficientScope,
            )
            .map(drop)
        }
        Found::Anonymous => Err(unauthenticated(parts)),
    })
}

impl<S> Layer<S> for GuardLayer {
    type Service = Guard<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Guard {
            inner,
            check: Arc::clone(&self.check),
        }
    }
}

/// The service of a [`GuardLayer`].
#[derive(Clone)]
pub struct Guard<S> {
    inner: S,
    check: Arc<Check>,
}

impl<S: std::fmt::Debug> std::fmt::Debug for Guard<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, B> Service<Request<B>> for Guard<S>
where
    S: Service<Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = GuardFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let (parts, body) = request.into_parts();
        match (self.check)(&parts) {
            Ok(()) => GuardFuture {
                state: State::Inner {
                    future: self.inner.call(Request::from_parts(parts, body)),
                },
            },
            Err(rejection) => GuardFuture {
                state: State::Refused {
                    response: Some(rejection.into_response()),
                },
            },
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`Guard`]: the inner service's, or an immediate refusal.
    pub struct GuardFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project_lite::pin_project! {
    #[project = StateProj]
    enum State<F> {
        Inner { #[pin] future: F },
        Refused { response: Option<Response> },
    }
}

impl<F, E> Future for GuardFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Inner { future } => future.poll(cx),
            StateProj::Refused { response } => match response.take() {
                Some(response) => Poll::Ready(Ok(response)),
                // Polled again after completion: stay pending rather than panic.
                None => Poll::Pending,
            },
        }
    }
}
