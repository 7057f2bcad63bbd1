//! Roles as types, and [`RequireRole<R>`]: authorization the compiler checks.
//!
//! ```
//! use axum::{Router, routing::{get, delete}};
//! use jwt_extractor::{AllOf, AnyOf, RequireRole, role};
//!
//! role!(pub Admin = "admin");
//! role!(pub Editor = "editor");
//! role!(pub Auditor = "auditor");
//!
//! async fn dashboard(_: RequireRole<Admin>) -> &'static str { "admin only" }
//! async fn edit(_: RequireRole<AnyOf<(Admin, Editor)>>) -> &'static str { "admins or editors" }
//! async fn purge(_: RequireRole<AllOf<(Admin, Auditor)>>) -> &'static str { "both roles" }
//!
//! let app: Router = Router::new()
//!     .route("/dashboard", get(dashboard))
//!     .route("/edit", get(edit))
//!     .route("/purge", delete(purge));
//! ```
//!
//! Roles are read from the token's claims by the layer's
//! [`RoleClaim`](jwt_layer::RoleClaim) (default `roles`; also a `role` string, one role compared whole, a
//! space-separated `scope`/`scp`, or a nested path such as Keycloak's
//! `realm_access.roles`), from the same decoded object the handler's claims came
//! from.
//!
//! Answers: 401 (RFC 6750 challenge) when the request is not authenticated, 403
//! with `WWW-Authenticate: Bearer error="insufficient_scope"` when the role is
//! missing, 500 when no layer is in front of the route.
use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use http::request::Parts;
use jwt_layer::{AuthError, Authentication, VerifiedToken};

use crate::rejection::Rejection;

/// A role: a type with the string the token carries for it.
///
/// Declare roles with [`role!`](crate::role), or implement this by hand.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a role",
    label = "not a role",
    note = "declare roles with `jwt_extractor::role!(pub Admin = \"admin\");` (or implement `jwt_extractor::Role`)",
    note = "combine roles with `AnyOf<(A, B)>` or `AllOf<(A, B)>` (a tuple inside one pair of angle brackets)"
)]
pub trait Role: Send + Sync + 'static {
    /// The role as it appears in the claims, e.g. `"admin"`.
    const NAME: &'static str;
}

/// Something [`RequireRole`] can check: a [`Role`], or [`AnyOf`] / [`AllOf`] a
/// tuple of requirements.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a role or a combination of roles",
    label = "not a role",
    note = "declare roles with `jwt_extractor::role!(pub Admin = \"admin\");` (or implement `jwt_extractor::Role`)",
    note = "combine roles with `AnyOf<(A, B)>` or `AllOf<(A, B)>` (a tuple inside one pair of angle brackets)"
)]
pub trait RoleRequirement: Send + Sync + 'static {
    /// Whether `token` satisfies the requirement.
    fn is_met(token: &VerifiedToken) -> bool;
    /// A human-readable form, for logs: `admin`, `any of (admin, editor)`.
    fn describe() -> String;
}

impl<R: Role> RoleRequirement for R {
    fn is_met(token: &VerifiedToken) -> bool {
        token.has_role(R::NAME)
    }
    fn describe() -> String {
        R::NAME.to_owned()
    }
}

/// Met when any of the tuple's requirements is met: `AnyOf<(Admin, Editor)>`.
pub struct AnyOf<T>(PhantomData<fn() -> T>);

/// Met when all of the tuple's requirements are met: `AllOf<(Admin, Auditor)>`.
pub struct AllOf<T>(PhantomData<fn() -> T>);

macro_rules! combinations {
    ($($name:ident),+) => {
        impl<$($name: RoleRequirement),+> RoleRequirement for AnyOf<($($name,)+)> {
            fn is_met(token: &VerifiedToken) -> bool {
                false $(|| $name::is_met(token))+
            }
            fn describe() -> String {
                format!("any of ({})", [$($name::describe()),+].join(", "))
            }
        }
        impl<$($name: RoleRequirement),+> RoleRequirement for AllOf<($($name,)+)> {
            fn is_met(token: &VerifiedToken) -> bool {
                true $(&& $name::is_met(token))+
            }
            fn describe() -> String {
                format!("all of ({})", [$($name::describe()),+].join(", "))
            }
        }
    };
}

combinations!(A);
combinations!(A, B);
combinations!(A, B, C);
combinations!(A, B, C, D);
combinations!(A, B, C, D, E);
combinations!(A, B, C, D, E, F);
combinations!(A, B, C, D, E, F, G);
combinations!(A, B, C, D, E, F, G, H);

/// Declares role types.
///
/// ```
/// jwt_extractor::role!(pub Admin = "admin");
/// jwt_extractor::role!(Reader = "read", pub(crate) Writer = "write");
/// use jwt_extractor::Role;
/// assert_eq!(Admin::NAME, "admin");
/// ```
///
/// The name must be non-empty and contain no space (roles in a `scope` claim are
/// space-separated); this is checked at compile time.
#[macro_export]
macro_rules! role {
    ($($(#[$meta:meta])* $vis:vis $name:ident = $value:literal),+ $(,)?) => {
        $(
            $(#[$meta])*
            #[doc = concat!("The `", $value, "` role.")]
            #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
            $vis struct $name;

            impl $crate::Role for $name {
                const NAME: &'static str = $value;
            }

            const _: () = assert!(
                $crate::__private::valid_role_name($value),
                concat!("role name `", $value, "` must be non-empty and contain no whitespace")
            );
        )+
    };
}

/// Requires the authenticated token to meet `R` (a [`Role`], [`AnyOf`] or [`AllOf`]).
///
/// Holds the [`VerifiedToken`] for handlers that want it.
pub struct RequireRole<R: RoleRequirement> {
    token: VerifiedToken,
    _requirement: PhantomData<fn() -> R>,
}

impl<R: RoleRequirement> RequireRole<R> {
    /// The verified token.
    pub fn token(&self) -> &VerifiedToken {
        &self.token
    }
}

impl<R: RoleRequirement> std::fmt::Debug for RequireRole<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequireRole")
            .field("requirement", &R::describe())
            .field("subject", &self.token.subject())
            .finish()
    }
}

/// Checks an authorization rule against the request head: the shared core of the
/// role and policy extractors and of [`GuardLayer`](crate::GuardLayer).
pub(crate) fn authorize(
    parts: &Parts,
    what: &'static str,
    allowed: impl FnOnce(&VerifiedToken) -> bool,
    describe: impl FnOnce() -> String,
) -> Result<VerifiedToken, Rejection> {
    let Some(authentication) = parts.extensions.get::<Authentication>() else {
        return Err(Rejection::missing_layer(what, "any claims type"));
    };
    let responder = Some(authentication.responder());
    let Some(token) = authentication.token() else {
        return Err(Rejection::auth(AuthError::Missing, responder));
    };
    if allowed(token) {
        Ok(token.clone())
    } else {
        tracing::info!(
            target: "jwt_extractor",
            subject = token.subject().unwrap_or(""),
            required = %describe(),
            "authorization refused"
        );
        Err(Rejection::auth(AuthError::InsufficientScope, responder))
    }
}

impl<S: Send + Sync, R: RoleRequirement> FromRequestParts<S> for RequireRole<R> {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let token = authorize(parts, "RequireRole<R>", R::is_met, R::describe)?;
        Ok(Self {
            token,
            _requirement: PhantomData,
        })
    }
}

#[doc(hidden)]
pub mod __private {
    /// Used by [`role!`](crate::role) at compile time.
    #[expect(
        clippy::indexing_slicing,
        reason = "const fn, where iterators are not available; `i < bytes.len()` is the loop condition"
    )]
    pub const fn valid_role_name(name: &str) -> bool {
        let bytes = name.as_bytes();
        if bytes.is_empty() {
            return false;
        }
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i].is_ascii_whitespace() {
                return false;
            }
            i += 1;
        }
        true
    }
}
