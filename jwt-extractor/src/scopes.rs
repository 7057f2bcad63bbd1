//! OAuth scopes as types, and [`RequireScope<S>`]: what an access token was
//! granted, checked by the compiler-named requirement of each route.
//!
//! ```
//! use axum::{Router, routing::get};
//! use jwt_extractor::{AllOf, AnyOf, RequireScope, require_scope, scope};
//!
//! scope!(pub NotesRead = "notes:read", pub NotesWrite = "notes:write", pub NotesAdmin = "notes:admin");
//!
//! async fn list(_: RequireScope<NotesRead>) -> &'static str { "notes" }
//! async fn edit(_: RequireScope<AnyOf<(NotesWrite, NotesAdmin)>>) -> &'static str { "edited" }
//! async fn purge(_: RequireScope<AllOf<(NotesWrite, NotesAdmin)>>) -> &'static str { "purged" }
//!
//! let admin = Router::new()
//!     .route("/notes/admin/stats", get(|| async { "stats" }))
//!     .route_layer(require_scope::<NotesAdmin>());
//! let app: Router = Router::new()
//!     .route("/notes", get(list).put(edit).delete(purge))
//!     .merge(admin);
//! ```
//!
//! Scopes are read from `scope` (a space-separated string, RFC 6749 §3.3,
//! RFC 8693 §4.2) and `scp` (an array of strings, or a space-separated string);
//! a token that carries both is granted only the scopes both grant
//! ([`VerifiedToken::scopes`](jwt_layer::VerifiedToken::scopes)).
//!
//! Answers: 401 when the request is not authenticated; 403 when the scope is
//! missing, with a challenge naming what to ask the authorization server for
//! (RFC 6750 §3):
//!
//! ```text
//! WWW-Authenticate: Bearer realm="api", error="insufficient_scope", error_description="The access token lacks the required scope", scope="notes:write"
//! ```
//!
//! For `AllOf` the parameter lists every member (`scope="notes:write
//! notes:admin"`); for `AnyOf` only the first alternative, since `scope` means
//! "a token needs all of these": put the least-privileged alternative first.
//! The parameter comes from the type, never from the token. A route without
//! the layer in front answers 500.
use crate::requirement::{Requirement, Scopes, requirement_extractor};

/// An OAuth scope: a type with the scope token (`notes:write`) it stands for.
///
/// Declare scopes with [`scope!`](crate::scope), which checks the name at
/// compile time, or implement this by hand (then `NAME` must be a valid scope
/// token: visible ASCII but `"` and `\`, no space).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a scope",
    label = "not a scope",
    note = "declare scopes with `jwt_extractor::scope!(pub NotesWrite = \"notes:write\");` (or implement `jwt_extractor::Scope`)",
    note = "combine scopes with `AnyOf<(A, B)>` or `AllOf<(A, B)>` (a tuple inside one pair of angle brackets)"
)]
pub trait Scope: Send + Sync + 'static {
    /// The scope token as the authorization server grants it, e.g. `"notes:write"`.
    const NAME: &'static str;
}

impl<S: Scope> Requirement<Scopes> for S {
    fn is_met(token: &jwt_layer::VerifiedToken) -> bool {
        token.has_scope(S::NAME)
    }
    fn describe() -> String {
        S::NAME.to_owned()
    }
    fn challenge(values: &mut Vec<&'static str>) {
        values.push(S::NAME);
    }
}

/// Something [`RequireScope`] can check: a [`Scope`], or [`AnyOf`](crate::AnyOf)
/// / [`AllOf`](crate::AllOf) a tuple of them ([`Requirement`] over [`Scopes`]).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a scope or a combination of scopes",
    label = "not a scope",
    note = "declare scopes with `jwt_extractor::scope!(pub NotesWrite = \"notes:write\");` (or implement `jwt_extractor::Scope`)",
    note = "combine scopes with `AnyOf<(A, B)>` or `AllOf<(A, B)>` (a tuple inside one pair of angle brackets)"
)]
pub trait ScopeRequirement: Requirement<Scopes> {}

impl<T: Requirement<Scopes>> ScopeRequirement for T {}

/// Declares scope types.
///
/// ```
/// jwt_extractor::scope!(pub NotesWrite = "notes:write");
/// jwt_extractor::scope!(Read = "read", pub(crate) Write = "write");
/// use jwt_extractor::Scope;
/// assert_eq!(NotesWrite::NAME, "notes:write");
/// ```
///
/// The name must be a scope token (RFC 6749 §3.3): non-empty, visible ASCII
/// other than `"` and `\`, no space. It is checked at compile time, so that a
/// scope can neither split in two in a space-separated list nor break out of
/// the quoted `scope="…"` of a challenge.
#[macro_export]
macro_rules! scope {
    ($($tokens:tt)+) => {
        $crate::__declare_values!(
            Scope, valid_token_name, "scope", "scope name",
            "must be a non-empty scope token (RFC 6749 §3.3): visible ASCII other than `\"` and `\\`, no space";
            $($tokens)+
        );
    };
}

/// Requires the authenticated token to grant `S` (a [`Scope`],
/// [`AnyOf`](crate::AnyOf) or [`AllOf`](crate::AllOf)); 403
/// `insufficient_scope` with `scope="…"` if it does not.
///
/// Holds the [`VerifiedToken`](jwt_layer::VerifiedToken) for handlers that want it.
pub struct RequireScope<S: ScopeRequirement> {
    token: jwt_layer::VerifiedToken,
    _requirement: std::marker::PhantomData<fn() -> S>,
}

requirement_extractor!(RequireScope, ScopeRequirement, Scopes);
