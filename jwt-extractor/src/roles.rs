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
//! [`RoleClaim`](jwt_layer::RoleClaim) (default `roles`; also a `role` string, one role compared
//! whole, a space-separated `scope`/`scp`, or a nested path such as Keycloak's
//! `realm_access.roles`), from the same decoded object the handler's claims came
//! from. For OAuth scopes as such (with the RFC 6750 `scope` challenge), use
//! [`RequireScope`](crate::RequireScope).
//!
//! Answers: 401 (RFC 6750 challenge) when the request is not authenticated, 403
//! with `WWW-Authenticate: Bearer error="insufficient_scope"` when the role is
//! missing, 500 when no layer is in front of the route.
use crate::requirement::{Requirement, Roles, requirement_extractor};

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

impl<R: Role> Requirement<Roles> for R {
    fn is_met(token: &jwt_layer::VerifiedToken) -> bool {
        token.has_role(R::NAME)
    }
    fn describe() -> String {
        R::NAME.to_owned()
    }
    fn challenge(values: &mut Vec<&'static str>) {
        values.push(R::NAME);
    }
}

/// Something [`RequireRole`] can check: a [`Role`], or [`AnyOf`](crate::AnyOf) /
/// [`AllOf`](crate::AllOf) a tuple of them ([`Requirement`] over [`Roles`]).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a role or a combination of roles",
    label = "not a role",
    note = "declare roles with `jwt_extractor::role!(pub Admin = \"admin\");` (or implement `jwt_extractor::Role`)",
    note = "combine roles with `AnyOf<(A, B)>` or `AllOf<(A, B)>` (a tuple inside one pair of angle brackets)"
)]
pub trait RoleRequirement: Requirement<Roles> {}

impl<T: Requirement<Roles>> RoleRequirement for T {}

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
    ($($tokens:tt)+) => {
        $crate::__declare_values!(
            Role, valid_role_name, "role", "role name", "must be non-empty and contain no whitespace";
            $($tokens)+
        );
    };
}

/// Requires the authenticated token to meet `R` (a [`Role`], [`AnyOf`](crate::AnyOf)
/// or [`AllOf`](crate::AllOf)); 403 `insufficient_scope` if it does not.
///
/// Holds the [`VerifiedToken`](jwt_layer::VerifiedToken) for handlers that want it.
pub struct RequireRole<R: RoleRequirement> {
    token: jwt_layer::VerifiedToken,
    _requirement: std::marker::PhantomData<fn() -> R>,
}

requirement_extractor!(RequireRole, RoleRequirement, Roles);
