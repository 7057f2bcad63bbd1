//! axum integration for [`jwt_layer`]: a typed [`Claims<T>`] extractor, optional
//! authentication, and authorization guards the compiler checks.
//!
//! ```
//! use axum::{Router, body::Body, routing::get};
//! use http::{Request, StatusCode, header};
//! use jwt_extractor::{Claims, RequireRole, role};
//! use jwt_layer::{Algorithm, JwtLayer, KeySet, SigningKey, TokenIssuer, Validator};
//! use serde::Deserialize;
//! use serde_json::json;
//! use tower::ServiceExt;
//!
//! #[derive(Deserialize)]
//! struct User { sub: String }
//! role!(pub Admin = "admin");
//!
//! async fn me(Claims(user): Claims<User>) -> String { user.sub.clone() }
//! async fn admin(_: RequireRole<Admin>) -> &'static str { "welcome, admin" }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let signing = SigningKey::hmac(Algorithm::HS256, b"0123456789abcdef0123456789abcdef")?;
//! let validator = Validator::builder(KeySet::single(signing.verifying_key())).build()?;
//! let issuer = TokenIssuer::new(signing, validator.clone())?;
//!
//! let app = Router::new()
//!     .route("/me", get(me))
//!     .route("/admin", get(admin))
//!     .layer(JwtLayer::<User>::new(validator));
//!
//! let token = issuer.issue("ada", &json!({ "roles": ["user"] }))?.access_token;
//! let get = |path: &str| Request::get(path)
//!     .header(header::AUTHORIZATION, format!("Bearer {token}"))
//!     .body(Body::empty());
//!
//! let response = app.clone().oneshot(get("/me")?).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//!
//! // Authenticated, but not an admin: 403 insufficient_scope.
//! let response = app.oneshot(get("/admin")?).await?;
//! assert_eq!(response.status(), StatusCode::FORBIDDEN);
//! assert!(response.headers()[header::WWW_AUTHENTICATE].to_str()?.contains(r#"error="insufficient_scope""#));
//! # Ok(()) }
//! ```
//!
//! | passport-jwt / Express        | here                                         |
//! |-------------------------------|----------------------------------------------|
//! | `passport.authenticate('jwt', { session: false })` | `.layer(JwtLayer::<T>::new(validator))` (no server session: every request carries its token) |
//! | `req.user` (the token's claims) | `Claims(claims): Claims<T>`                |
//! | `verify(payload, done)` loading the user | `JwtLayer::load_user(...)` (see `jwt_layer::hook`) |
//! | `req.user` (the loaded user)  | `CurrentUser(user): CurrentUser<U>`          |
//! | `done(null, false)` / `done(err)` | `Err(UserError::Unknown)` (401) / `Err(UserError::Unavailable(..))` (503) |
//! | express-jwt's `credentialsRequired: false` | `JwtLayer::optional()` + `Option<Claims<T>>` |
//! | a role-checking middleware    | `RequireRole<Admin>`, `require_role::<Admin>()` |
//! | express-jwt-permissions' `guard.check('notes:write')` on OAuth scopes | `RequireScope<NotesWrite>`, `require_scope::<S>()` (403, `scope="notes:write"`) |
//! | "log in again to continue" (a recent login) | `MaxAuthAge<300>`, `require_max_auth_age::<300>()` (401, RFC 9470 `max_age="300"`) |
//! | "use your second factor" (a stronger login) | `RequireAcr<Mfa>`, `require_acr::<A>()` (401, RFC 9470 `acr_values="mfa"`) |
//!
//! The extractors never parse a token: they read what the layer verified, so a
//! route without the layer in front answers 500 and logs which layer is missing.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// Hostile input never panics: no slicing or indexing of data, no unwrap/expect,
// no panic! in library code (see jwt-layer's lib.rs).
#![cfg_attr(
    not(test),
    deny(
        clippy::string_slice,
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

mod claims;
mod guard;
mod policy;
mod rejection;
mod requirement;
mod roles;
mod scopes;
mod step_up;
mod user;

pub use claims::{Claims, ClaimsType};
pub use guard::{
    Guard, GuardFuture, GuardLayer, require, require_acr, require_claims, require_max_auth_age,
    require_role, require_scope,
};
pub use policy::{Policy, Require};
pub use rejection::Rejection;
#[doc(hidden)]
pub use requirement::__private;
pub use requirement::{
    AcrValues, AllOf, AnyOf, ClaimKind, MultiValued, Requirement, Roles, Scopes,
};
pub use roles::{RequireRole, Role, RoleRequirement};
pub use scopes::{RequireScope, Scope, ScopeRequirement};
pub use step_up::{AUTH_TIME_FUTURE_TOLERANCE_SECS, Acr, AcrRequirement, MaxAuthAge, RequireAcr};
pub use user::CurrentUser;

/// The README's quick start, compiled as a doctest so that it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeQuickStart;
