//! One mechanism for every type-level requirement on a token: roles, OAuth
//! scopes and `acr` values are each a [`ClaimKind`]; one [`Requirement<K>`]
//! trait, one pair of combinators ([`AnyOf`], [`AllOf`]), one declaring macro
//! and one check serve them all.
use std::marker::PhantomData;

use http::request::Parts;
use jwt_layer::{AuthError, RequestAuth, VerifiedToken};

use crate::rejection::Rejection;

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Roles {}
    impl Sealed for super::Scopes {}
    impl Sealed for super::AcrValues {}
}

/// A kind of claim a [`Requirement`] reads: [`Roles`], [`Scopes`] or
/// [`AcrValues`]. Sealed: the kinds and how each is refused are fixed.
pub trait ClaimKind: sealed::Sealed + Send + Sync + 'static {
    /// What one value of this kind is called, in logs: `role`, `scope`, `acr`.
    const NAME: &'static str;
    /// Whether a token holds one value at most (`acr`): then [`AnyOf`] names
    /// all its alternatives in the refusal, and [`AllOf`] does not apply.
    const SINGLE_VALUED: bool;

    /// The refusal when a requirement is not met; `values` are the ones the
    /// requirement names for the challenge (see [`Requirement::challenge`]).
    #[doc(hidden)]
    fn refusal(values: &[&'static str]) -> AuthError;
}

/// Roles, read from the layer's [`RoleClaim`](jwt_layer::RoleClaim) (default
/// `roles`). A missing role is a 403 `insufficient_scope` without parameters:
/// roles are the application's, not something a client can ask an
/// authorization server for.
#[derive(Debug)]
pub enum Roles {}

/// OAuth scopes, read from `scope` and `scp` (see
/// [`VerifiedToken::scopes`] for the rules, and what happens when both are
/// present). A missing scope is a 403 `insufficient_scope` whose `scope`
/// parameter names what to ask for (RFC 6750 §3).
#[derive(Debug)]
pub enum Scopes {}

/// Authentication context class references: the token's `acr` (one string).
/// A wrong or missing `acr` is a 401 `insufficient_user_authentication` whose
/// `acr_values` names the accepted ones (RFC 9470 §3): the client has the user
/// authenticate again at that level.
#[derive(Debug)]
pub enum AcrValues {}

impl ClaimKind for Roles {
    const NAME: &'static str = "role";
    const SINGLE_VALUED: bool = false;
    fn refusal(_: &[&'static str]) -> AuthError {
        AuthError::InsufficientScope
    }
}

impl ClaimKind for Scopes {
    const NAME: &'static str = "scope";
    const SINGLE_VALUED: bool = false;
    fn refusal(values: &[&'static str]) -> AuthError {
        AuthError::MissingScope {
            scope: values.join(" "),
        }
    }
}

impl ClaimKind for AcrValues {
    const NAME: &'static str = "acr";
    const SINGLE_VALUED: bool = true;
    fn refusal(values: &[&'static str]) -> AuthError {
        AuthError::InsufficientUserAuthentication {
            acr_values: Some(values.join(" ")),
            max_age: None,
        }
    }
}

/// Kinds whose claim holds several values at once (roles, scopes), so that
/// [`AllOf`] can be met. A token has one `acr`, so `AllOf` of acr values
/// cannot be: it does not compile.
#[diagnostic::on_unimplemented(
    message = "`AllOf` cannot be met by `{Self}`: a token carries one `acr`",
    label = "`AllOf` of acr values",
    note = "to accept any of several acr values, use `RequireAcr<AnyOf<(A, B)>>` (in order of preference)"
)]
pub trait MultiValued: ClaimKind {}
impl MultiValued for Roles {}
impl MultiValued for Scopes {}

/// Something a token must meet, over claims of kind `K`: a value declared
/// with [`role!`](crate::role) / [`scope!`](crate::scope) /
/// [`acr!`](crate::acr), or [`AnyOf`] / [`AllOf`] a tuple of requirements.
///
/// Implemented for you; [`RoleRequirement`](crate::RoleRequirement),
/// [`ScopeRequirement`](crate::ScopeRequirement) and
/// [`AcrRequirement`](crate::AcrRequirement) name it per kind. One mechanism
/// for every kind:
///
/// | kind `K` | declared with | extractor / route layer | refusal |
/// |---|---|---|---|
/// | [`Roles`] | `role!` | [`RequireRole`](crate::RequireRole) / [`require_role`](crate::require_role) | 403 `insufficient_scope` |
/// | [`Scopes`] | `scope!` | [`RequireScope`](crate::RequireScope) / [`require_scope`](crate::require_scope) | 403 `insufficient_scope`, `scope="…"` |
/// | [`AcrValues`] | `acr!` | [`RequireAcr`](crate::RequireAcr) / [`require_acr`](crate::require_acr) | 401 `insufficient_user_authentication`, `acr_values="…"` |
///
/// A value of one kind is not a requirement on another: `RequireRole<NotesWrite>`
/// with a scope `NotesWrite` does not compile.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a requirement on {K}",
    label = "not a requirement on {K}",
    note = "declare values with `role!`, `scope!` or `acr!` (one macro per kind: a scope is not a role), and combine them with `AnyOf<(A, B)>` or `AllOf<(A, B)>`",
    note = "`AllOf` is for roles and scopes: a token carries one `acr`, so accept several acr values with `AnyOf<(A, B)>`"
)]
pub trait Requirement<K: ClaimKind>: Send + Sync + 'static {
    /// Whether `token` meets the requirement.
    fn is_met(token: &VerifiedToken) -> bool;

    /// A human-readable form, for logs: `admin`, `any of (admin, editor)`.
    fn describe() -> String;

    /// Appends the values the refusal names, fixed by the type (never read
    /// from the token):
    /// - a value: itself;
    /// - [`AllOf`]: every member's values (what the token lacks is among them,
    ///   and all are needed);
    /// - [`AnyOf`] of scopes (or roles): the **first** member's values only,
    ///   because `scope="a b"` means "a token needs a *and* b" (RFC 6750 §3):
    ///   naming every alternative would have a client ask for more than
    ///   needed. List the least-privileged alternative first;
    /// - [`AnyOf`] of acr values: every member's, in order: `acr_values` is a
    ///   list of alternatives in order of preference (RFC 9470 §3).
    fn challenge(values: &mut Vec<&'static str>);
}

/// Met when any of the tuple's requirements is met: `AnyOf<(Admin, Editor)>`.
pub struct AnyOf<T>(PhantomData<fn() -> T>);

/// Met when all of the tuple's requirements are met: `AllOf<(Admin, Auditor)>`.
/// Not for acr values (a token carries one).
pub struct AllOf<T>(PhantomData<fn() -> T>);

macro_rules! combinations {
    ($first:ident $(, $rest:ident)*) => {
        impl<K: ClaimKind, $first: Requirement<K> $(, $rest: Requirement<K>)*> Requirement<K>
            for AnyOf<($first, $($rest,)*)>
        {
            fn is_met(token: &VerifiedToken) -> bool {
                $first::is_met(token) $(|| $rest::is_met(token))*
            }
            fn describe() -> String {
                format!("any of ({})", [$first::describe() $(, $rest::describe())*].join(", "))
            }
            fn challenge(values: &mut Vec<&'static str>) {
                $first::challenge(values);
                $(
                    if K::SINGLE_VALUED {
                        $rest::challenge(values);
                    }
                )*
            }
        }
        impl<K: MultiValued, $first: Requirement<K> $(, $rest: Requirement<K>)*> Requirement<K>
            for AllOf<($first, $($rest,)*)>
        {
            fn is_met(token: &VerifiedToken) -> bool {
                $first::is_met(token) $(&& $rest::is_met(token))*
            }
            fn describe() -> String {
                format!("all of ({})", [$first::describe() $(, $rest::describe())*].join(", "))
            }
            fn challenge(values: &mut Vec<&'static str>) {
                $first::challenge(values);
                $($rest::challenge(values);)*
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

/// The values `R`'s refusal names, each once, in order.
pub(crate) fn challenge_values<K: ClaimKind, R: Requirement<K>>() -> Vec<&'static str> {
    let mut values = Vec::new();
    R::challenge(&mut values);
    let mut seen = std::collections::BTreeSet::new();
    values.retain(|value| seen.insert(*value));
    values
}

/// Checks `R` against the request head: the verified token if it is met, the
/// kind's refusal (through the layer's responder) if not, 401 without a
/// token, 500 without a layer.
pub(crate) fn check<K: ClaimKind, R: Requirement<K>>(
    parts: &Parts,
    what: &'static str,
) -> Result<VerifiedToken, Rejection> {
    authorize(
        parts,
        what,
        R::is_met,
        || format!("{} {}", K::NAME, R::describe()),
        || K::refusal(&challenge_values::<K, R>()),
    )
}

/// Checks an authorization rule against the request head: the shared core of
/// every extractor and [`GuardLayer`](crate::GuardLayer) that reads the
/// [`VerifiedToken`].
pub(crate) fn authorize(
    parts: &Parts,
    what: &'static str,
    allowed: impl FnOnce(&VerifiedToken) -> bool,
    describe: impl FnOnce() -> String,
    refusal: impl FnOnce() -> AuthError,
) -> Result<VerifiedToken, Rejection> {
    let Some(auth) = parts.extensions.get::<RequestAuth>() else {
        return Err(Rejection::missing_layer(what, "any claims type"));
    };
    let responder = Some(auth.responder());
    let Some(token) = auth.token() else {
        return Err(Rejection::auth(AuthError::Missing, responder));
    };
    if allowed(token) {
        Ok(token.clone())
    } else {
        tracing::info!(
            target: "jwt_extractor",
            subject = token.subject().unwrap_or(""),
            guard = what,
            required = %describe(),
            "authorization refused"
        );
        Err(Rejection::auth(refusal(), responder))
    }
}

/// Declares value types of one kind; the engine of `role!`, `scope!`, `acr!`.
#[doc(hidden)]
#[macro_export]
macro_rules! __declare_values {
    (
        $trait:ident, $valid:ident, $what:literal, $label:literal, $rule:literal;
        $($(#[$meta:meta])* $vis:vis $name:ident = $value:literal),+ $(,)?
    ) => {
        $(
            $(#[$meta])*
            #[doc = concat!("The `", $value, "` ", $what, ".")]
            #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
            $vis struct $name;

            impl $crate::$trait for $name {
                const NAME: &'static str = $value;
            }

            const _: () = assert!(
                $crate::__private::$valid($value),
                concat!($label, " `", $value, "` ", $rule)
            );
        )+
    };
}

#[doc(hidden)]
pub mod __private {
    /// Used by [`role!`](crate::role) at compile time: non-empty, no ASCII
    /// whitespace (roles in a `scope` claim are space-separated).
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

    /// Used by [`scope!`](crate::scope) and [`acr!`](crate::acr) at compile
    /// time: a non-empty run of NQCHAR (RFC 6749 §3.3: `%x21 / %x23-5B /
    /// %x5D-7E`, visible ASCII but `"` and `\`), so that it can stand in a
    /// space-separated list and inside a quoted challenge parameter as is.
    #[expect(
        clippy::indexing_slicing,
        reason = "const fn, where iterators are not available; `i < bytes.len()` is the loop condition"
    )]
    pub const fn valid_token_name(name: &str) -> bool {
        let bytes = name.as_bytes();
        if bytes.is_empty() {
            return false;
        }
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if !(b == 0x21 || (b >= 0x23 && b <= 0x5B) || (b >= 0x5D && b <= 0x7E)) {
                return false;
            }
            i += 1;
        }
        true
    }
}

/// The impls of an extractor over one kind's requirement (`RequireRole<R>`,
/// …): the same accessor, `Debug` and `FromRequestParts` for every kind. The
/// structs themselves are written out, so that a compile error about their
/// bound points at plain code.
macro_rules! requirement_extractor {
    ($name:ident, $bound:ident, $kind:ty) => {
        impl<R: $bound> $name<R> {
            /// The verified token.
            pub fn token(&self) -> &jwt_layer::VerifiedToken {
                &self.token
            }
        }

        impl<R: $bound> std::fmt::Debug for $name<R> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field(
                        "requirement",
                        &<R as $crate::Requirement<$kind>>::describe(),
                    )
                    .field("subject", &self.token.subject())
                    .finish()
            }
        }

        impl<S: Send + Sync, R: $bound> axum::extract::FromRequestParts<S> for $name<R> {
            type Rejection = $crate::Rejection;

            async fn from_request_parts(
                parts: &mut http::request::Parts,
                _state: &S,
            ) -> Result<Self, Self::Rejection> {
                let token = $crate::requirement::check::<$kind, R>(
                    parts,
                    concat!(stringify!($name), "<R>"),
                )?;
                Ok(Self {
                    token,
                    _requirement: std::marker::PhantomData,
                })
            }
        }
    };
}
pub(crate) use requirement_extractor;
