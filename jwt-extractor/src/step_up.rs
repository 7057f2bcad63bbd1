//! Step-up authentication (RFC 9470): routes that need a stronger
//! ([`RequireAcr<A>`]) or a more recent ([`MaxAuthAge<SECS>`]) login than the
//! token shows.
//!
//! ```
//! use axum::{Router, routing::{get, post}};
//! use jwt_extractor::{AnyOf, MaxAuthAge, RequireAcr, acr, require_max_auth_age};
//!
//! acr!(pub Mfa = "mfa", pub Phr = "phr");
//!
//! /// Needs a login at most five minutes old.
//! async fn change_password(_: MaxAuthAge<300>) -> &'static str { "changed" }
//! /// Needs a multi-factor or phishing-resistant login.
//! async fn pay(_: RequireAcr<AnyOf<(Mfa, Phr)>>) -> &'static str { "paid" }
//!
//! let account = Router::new()
//!     .route("/account/email", post(|| async { "changed" }))
//!     .route_layer(require_max_auth_age::<300>());
//! let app: Router = Router::new()
//!     .route("/account/password", post(change_password))
//!     .route("/payments", post(pay))
//!     .merge(account);
//! ```
//!
//! A token that falls short is not invalid, and logging in again with the same
//! session would not help: it is refused with 401 and a challenge that says
//! what kind of login to get (RFC 9470 §3):
//!
//! ```text
//! WWW-Authenticate: Bearer realm="api", error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="mfa phr"
//! WWW-Authenticate: Bearer realm="api", error="insufficient_user_authentication", error_description="More recent authentication is required", max_age="300"
//! ```
//!
//! The client sends the user back to the authorization server with
//! `acr_values` / `max_age` in the authorization request (for a first-party
//! login form: asks for the password, or the second factor, again), gets a new
//! token and retries. The values come from the types, never from the token.
//!
//! The claims: `acr` (a string) and `auth_time` (seconds since the Unix epoch,
//! the last *active* authentication: a refresh does not change it), which
//! [`TokenIssuer::issue_authenticated`](jwt_layer::TokenIssuer::issue_authenticated)
//! and [`RefreshTokens`](jwt_layer::RefreshTokens) set. A token without them
//! (or with one of the wrong JSON type) falls short: the same 401, never a 500.
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::FromRequestParts;
use http::request::Parts;
use jwt_layer::{AuthError, VerifiedToken};

use crate::rejection::Rejection;
use crate::requirement::{AcrValues, Requirement, authorize, requirement_extractor};

/// How far in the future an `auth_time` may lie and still count (as just
/// now): 60 s, the largest leeway a [`Validator`](jwt_layer::Validator)
/// accepts for `iat`. Beyond it, the claim is not a time of this world and the
/// guard refuses.
pub const AUTH_TIME_FUTURE_TOLERANCE_SECS: u64 = 60;

/// An authentication context class reference: a type with the `acr` value it
/// stands for (e.g. `"mfa"`, or a URI your identity provider defines).
///
/// Declare them with [`acr!`](crate::acr), which checks the value at compile
/// time, or implement this by hand (then `NAME` must be visible ASCII but `"`
/// and `\`, without spaces).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an acr value",
    label = "not an acr value",
    note = "declare acr values with `jwt_extractor::acr!(pub Mfa = \"mfa\");` (or implement `jwt_extractor::Acr`)",
    note = "accept any of several with `AnyOf<(A, B)>`, in order of preference"
)]
pub trait Acr: Send + Sync + 'static {
    /// The `acr` value, e.g. `"mfa"`.
    const NAME: &'static str;
}

impl<A: Acr> Requirement<AcrValues> for A {
    fn is_met(token: &VerifiedToken) -> bool {
        token.acr() == Some(A::NAME)
    }
    fn describe() -> String {
        A::NAME.to_owned()
    }
    fn challenge(values: &mut Vec<&'static str>) {
        values.push(A::NAME);
    }
}

/// Something [`RequireAcr`] can check: an [`Acr`], or
/// [`AnyOf`](crate::AnyOf) a tuple of them ([`Requirement`] over [`AcrValues`]).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an acr value or a choice of acr values",
    label = "not an acr value",
    note = "declare acr values with `jwt_extractor::acr!(pub Mfa = \"mfa\");` (or implement `jwt_extractor::Acr`)",
    note = "accept any of several with `AnyOf<(A, B)>`, in order of preference"
)]
pub trait AcrRequirement: Requirement<AcrValues> {}

impl<T: Requirement<AcrValues>> AcrRequirement for T {}

/// Declares `acr` value types.
///
/// ```
/// jwt_extractor::acr!(pub Mfa = "mfa");
/// jwt_extractor::acr!(pub Silver = "urn:mace:incommon:iap:silver");
/// use jwt_extractor::Acr;
/// assert_eq!(Mfa::NAME, "mfa");
/// ```
///
/// The value must be non-empty, visible ASCII other than `"` and `\`, without
/// spaces (it goes into the space-separated, quoted `acr_values` of a
/// challenge); checked at compile time.
#[macro_export]
macro_rules! acr {
    ($($tokens:tt)+) => {
        $crate::__declare_values!(
            Acr, valid_token_name, "acr value", "acr value",
            "must be non-empty, visible ASCII other than `\"` and `\\`, no space";
            $($tokens)+
        );
    };
}

/// Requires the user to have authenticated at level `A` (an [`Acr`], or
/// [`AnyOf`](crate::AnyOf) several in order of preference): the token's
/// `acr` must be one of them. If not (or no `acr`): 401
/// `insufficient_user_authentication` with `acr_values="…"`, every
/// accepted value in order (RFC 9470 §3).
///
/// Values are compared exactly: no level implies another unless you list
/// both (`AnyOf<(Mfa, Phr)>`).
pub struct RequireAcr<A: AcrRequirement> {
    token: jwt_layer::VerifiedToken,
    _requirement: std::marker::PhantomData<fn() -> A>,
}

requirement_extractor!(RequireAcr, AcrRequirement, AcrValues);

/// Requires the user's last active authentication (`auth_time`) to be at most
/// `SECS` seconds old: `MaxAuthAge<300>` for "logged in within five minutes",
/// before a password change or a payment (RFC 9470 `max_age`).
///
/// If it is older, or the token has no integer `auth_time`, or one more than
/// [`AUTH_TIME_FUTURE_TOLERANCE_SECS`] in the future: 401
/// `insufficient_user_authentication` with `max_age="SECS"`.
///
/// No leeway is added to `SECS`: a clock skew between the authorization server
/// and this one can only ask for a new login a few seconds early (harmless),
/// never accept one older than the route allows.
///
/// Holds the [`VerifiedToken`] for handlers that want it.
pub struct MaxAuthAge<const SECS: u64> {
    token: VerifiedToken,
}

impl<const SECS: u64> MaxAuthAge<SECS> {
    /// The verified token.
    pub fn token(&self) -> &VerifiedToken {
        &self.token
    }

    /// When the user authenticated (`auth_time`), checked to be recent enough.
    pub fn auth_time(&self) -> u64 {
        self.token.auth_time().unwrap_or_default()
    }
}

impl<const SECS: u64> std::fmt::Debug for MaxAuthAge<SECS> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MaxAuthAge")
            .field("max_age", &SECS)
            .field("auth_time", &self.token.auth_time())
            .field("subject", &self.token.subject())
            .finish()
    }
}

/// Whether `token`'s `auth_time` is at most `max_age` seconds before `now`.
fn recent_enough(token: &VerifiedToken, max_age: u64, now: u64) -> bool {
    let Some(auth_time) = token.auth_time() else {
        return false;
    };
    auth_time <= now.saturating_add(AUTH_TIME_FUTURE_TOLERANCE_SECS)
        && now.saturating_sub(auth_time) <= max_age
}

/// The core of [`MaxAuthAge`] and [`require_max_auth_age`](crate::require_max_auth_age).
pub(crate) fn check_max_age(
    parts: &Parts,
    what: &'static str,
    max_age: u64,
) -> Result<VerifiedToken, Rejection> {
    // A clock before 1970 makes every auth_time look like the future: refused.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    authorize(
        parts,
        what,
        |token| recent_enough(token, max_age, now),
        || format!("auth_time within {max_age} s"),
        || AuthError::InsufficientUserAuthentication {
            acr_values: None,
            max_age: Some(max_age),
        },
    )
}

impl<S: Send + Sync, const SECS: u64> FromRequestParts<S> for MaxAuthAge<SECS> {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let token = check_max_age(parts, "MaxAuthAge<SECS>", SECS)?;
        Ok(Self { token })
    }
}
