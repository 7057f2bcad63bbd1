//! What the layer hands to handlers: the verified claims, decoded once.
//!
//! ```
//! use jwt_layer::{Algorithm, KeySet, SigningKey, TokenIssuer, Validator};
//! use serde::Deserialize;
//! use serde_json::json;
//!
//! #[derive(Deserialize)]
//! struct User { name: String }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let signing = SigningKey::hmac(Algorithm::HS256, &[9; 32])?;
//! let validator = Validator::builder(KeySet::single(signing.verifying_key())).build()?;
//! let token = TokenIssuer::new(signing, validator.clone())?
//!     .issue("user-7", &json!({ "name": "Ada", "roles": ["admin"] }))?;
//!
//! // What the layer puts in the request extensions (here without HTTP):
//! let verified = validator.verify::<User>(&token.access_token)?;
//! assert_eq!(verified.name, "Ada");                          // your T, by Deref
//! assert_eq!(verified.token().subject(), Some("user-7"));    // registered claims
//! assert!(verified.token().has_role("admin"));               // roles
//! # Ok(()) }
//! ```
//!
//! Of a token that passes, the layer hands over:
//! - [`Verified<T>`]: the application's claims type `T`, deserialized once;
//! - [`VerifiedToken`]: the registered claims (`sub`, `exp`, `jti`, `sid`, …),
//!   the verified payload (and, parsed on first use, its JSON object), the
//!   header's `kid` and `alg`, and the roles.
//!
//! Both come from the same verified bytes and the same JSON rules: a duplicated
//! registered claim is refused, a struct `T` refuses a duplicated field, and a
//! map (`T = serde_json::Value`, the roles, [`VerifiedToken::raw`]) keeps the
//! last member, as RFC 7519 §4 allows. So an authorization check and the
//! handler never see two different values of one claim.
//!
//! # In the request extensions
//! The layer puts one value in the extensions of each request it lets through,
//! an [`RequestAuth`]: the verified token (shared, behind an `Arc`; `None`
//! for a request without any token in optional mode) and the
//! [`ErrorResponder`] that answers refusals behind the layer the way the layer
//! does. One value rather than one per type: each extension is a heap
//! allocation and a map insert on every request.
//!
//! ```
//! use http::Request;
//! use jwt_layer::{RequestAuth, Verified, VerifiedToken};
//! # #[derive(serde::Deserialize)] struct MyClaims { name: String }
//!
//! fn handle(request: &Request<()>) {
//!     // Behind a `JwtLayer::<MyClaims>` (what `jwt-extractor`'s `Claims<T>` reads):
//!     let claims: Option<Verified<MyClaims>> = Verified::from_extensions(request.extensions());
//!     // Without knowing the claims type (guards, logging):
//!     let token: Option<&VerifiedToken> = VerifiedToken::from_extensions(request.extensions());
//!     // Everything, anonymous requests of optional mode included:
//!     let anonymous = request.extensions().get::<RequestAuth>().is_some_and(RequestAuth::is_anonymous);
//!     # let _ = (claims, token, anonymous);
//! }
//! ```
use std::any::Any;
use std::sync::{Arc, OnceLock};

use http::Extensions;
use jsonwebtoken::Algorithm;
use serde_json::{Map, Value};

use crate::error::ErrorResponder;
use crate::source::TokenSourceKind;

/// The registered claims of RFC 7519 §4.1, as verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredClaims {
    /// `iss`: who issued the token (always a single string when present).
    pub iss: Option<String>,
    /// `sub`: whom the token is about.
    pub sub: Option<String>,
    /// `aud`: for whom it is meant (a single string is returned as one element).
    pub aud: Vec<String>,
    /// `exp`: expiry, seconds since the Unix epoch. Always present.
    pub exp: u64,
    /// `nbf`: not before, seconds since the Unix epoch.
    pub nbf: Option<u64>,
    /// `iat`: issued at, seconds since the Unix epoch.
    pub iat: Option<u64>,
    /// `jti`: the token's unique id.
    pub jti: Option<String>,
    /// `sid`: the session id (OpenID Connect); tokens issued by
    /// [`RefreshTokens`](crate::RefreshTokens) carry their refresh family here.
    pub sid: Option<String>,
}

/// Where roles are read from in the claims: a dotted path to an array of
/// strings or to one string.
///
/// A string is one role, compared whole (`"role": "user admin"` is the one role
/// `user admin`, not `admin`), except at a path that ends in `scope` or `scp`:
/// those are OAuth scope lists, space-separated by definition (RFC 6749 §3.3,
/// RFC 8693 §4.2).
///
/// ```
/// use jwt_layer::RoleClaim;
///
/// let plain = RoleClaim::path("roles");                 // {"roles": ["admin", "user"]}
/// let single = RoleClaim::path("role");                 // {"role": "admin"}
/// let scope = RoleClaim::path("scope");                 // {"scope": "read write"}
/// let keycloak = RoleClaim::path("realm_access.roles"); // {"realm_access": {"roles": [...]}}
/// # let _ = (plain, single, scope, keycloak);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleClaim {
    segments: Arc<[String]>,
    /// Whether a string value is a space-separated list (an OAuth scope).
    space_separated: bool,
}

impl RoleClaim {
    /// Roles at a dotted path. Keys containing dots cannot be addressed.
    pub fn path(path: &str) -> Self {
        let segments: Arc<[String]> = path.split('.').map(str::to_owned).collect();
        let space_separated = matches!(segments.last().map(String::as_str), Some("scope" | "scp"));
        Self {
            segments,
            space_separated,
        }
    }

    /// The roles found in `claims` (none when the path is absent or of another type).
    pub fn roles<'a>(&self, claims: &'a Map<String, Value>) -> Vec<&'a str> {
        let mut segments = self.segments.iter();
        let Some(first) = segments.next() else {
            return Vec::new();
        };
        let mut value = claims.get(first.as_str());
        for segment in segments {
            value = value.and_then(|v| v.get(segment.as_str()));
        }
        match value {
            Some(Value::String(text)) if self.space_separated => {
                text.split(' ').filter(|r| !r.is_empty()).collect()
            }
            Some(Value::String(role)) => vec![role.as_str()],
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    }
}

impl Default for RoleClaim {
    /// `roles`.
    fn default() -> Self {
        Self::path("roles")
    }
}

/// Facts about a verified token that do not depend on the claims type.
///
/// Cheap to clone.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    inner: Arc<TokenInner>,
}

#[derive(Debug)]
struct TokenInner {
    registered: RegisteredClaims,
    /// The verified payload JSON; parsed into `raw` only if someone asks.
    payload: String,
    raw: OnceLock<Map<String, Value>>,
    kid: Option<String>,
    alg: Algorithm,
    source: TokenSourceKind,
    role_claim: RoleClaim,
}

impl VerifiedToken {
    pub(crate) fn new(
        registered: RegisteredClaims,
        payload: String,
        kid: Option<String>,
        alg: Algorithm,
        source: TokenSourceKind,
        role_claim: RoleClaim,
    ) -> Self {
        Self {
            inner: Arc::new(TokenInner {
                registered,
                payload,
                raw: OnceLock::new(),
                kid,
                alg,
                source,
                role_claim,
            }),
        }
    }

    /// The registered claims.
    pub fn registered(&self) -> &RegisteredClaims {
        &self.inner.registered
    }

    /// The subject (`sub`), if any.
    pub fn subject(&self) -> Option<&str> {
        self.inner.registered.sub.as_deref()
    }

    /// The whole claims object, as verified (parsed on first use; for a
    /// duplicated member, the last one, as serde_json maps keep it).
    pub fn raw(&self) -> &Map<String, Value> {
        self.inner.raw.get_or_init(|| {
            // The payload was parsed as a JSON object during verification.
            serde_json::from_str(&self.inner.payload).unwrap_or_default()
        })
    }

    /// The verified payload, as the JSON text that was signed.
    pub fn payload(&self) -> &str {
        &self.inner.payload
    }

    /// The `kid` of the key that verified the token, if the header named one.
    pub fn kid(&self) -> Option<&str> {
        self.inner.kid.as_deref()
    }

    /// The algorithm that verified the token.
    pub fn algorithm(&self) -> Algorithm {
        self.inner.alg
    }

    /// Where the token came from: the kind of [`TokenSource`](crate::TokenSource)
    /// that found it, or [`TokenSourceKind::Direct`] when verified outside the
    /// layer. [`TokenSourceKind::as_str`] names it for logs.
    pub fn source(&self) -> TokenSourceKind {
        self.inner.source
    }

    /// The roles, read from the configured [`RoleClaim`].
    pub fn roles(&self) -> Vec<&str> {
        self.inner.role_claim.roles(self.raw())
    }

    /// Whether the token carries `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles().contains(&role)
    }

    /// The OAuth scopes the token grants, read from `scope` and `scp`.
    ///
    /// Each of the two claims may be a space-separated string (RFC 6749 §3.3,
    /// RFC 8693 §4.2) or an array of strings (one scope per element, as
    /// several providers write `scp`). A claim of any other JSON type, or an
    /// array holding anything but strings, grants nothing.
    ///
    /// When a token carries **both**, a scope is granted only if both grant
    /// it: a second claim can narrow what the token allows, never widen it
    /// (an issuer that copies some outside value into one of them cannot add
    /// a scope that way).
    pub fn scopes(&self) -> Vec<&str> {
        let (scope, scp) = (self.raw().get("scope"), self.raw().get("scp"));
        match (scope.map(scope_list), scp.map(scope_list)) {
            (Some(Some(one)), None) | (None, Some(Some(one))) => one,
            (Some(Some(scope)), Some(Some(scp))) => {
                let scp: std::collections::BTreeSet<&str> = scp.into_iter().collect();
                scope.into_iter().filter(|s| scp.contains(s)).collect()
            }
            _ => Vec::new(),
        }
    }

    /// Whether the token grants the OAuth scope `scope` (see [`scopes`](Self::scopes)).
    pub fn has_scope(&self, scope: &str) -> bool {
        let grants = |claim: &str| {
            self.raw()
                .get(claim)
                .map(|value| scope_list(value).is_some_and(|list| list.contains(&scope)))
        };
        match (grants("scope"), grants("scp")) {
            (None, None) => false,
            (Some(one), None) | (None, Some(one)) => one,
            (Some(a), Some(b)) => a && b,
        }
    }

    /// The authentication context class reference (`acr`, OpenID Connect
    /// Core §2, RFC 9068 §2.2.1): how the user authenticated, e.g. `"mfa"`.
    /// `None` when absent or not a string.
    pub fn acr(&self) -> Option<&str> {
        self.raw().get("acr").and_then(Value::as_str)
    }

    /// The authentication methods (`amr`, RFC 8176), e.g. `["pwd", "otp"]`;
    /// empty when absent or not an array (non-string elements are skipped).
    pub fn amr(&self) -> Vec<&str> {
        match self.raw().get("amr") {
            Some(Value::Array(methods)) => methods.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    }

    /// When the user last actively authenticated (`auth_time`, seconds since
    /// the Unix epoch): a login, not a refresh. `None` when absent or not a
    /// non-negative integer.
    pub fn auth_time(&self) -> Option<u64> {
        self.raw().get("auth_time").and_then(Value::as_u64)
    }

    /// The token a [`JwtLayer`](crate::JwtLayer) verified for this request,
    /// whatever its claims type: from the request's [`RequestAuth`].
    pub fn from_extensions(extensions: &Extensions) -> Option<&VerifiedToken> {
        extensions.get::<RequestAuth>()?.token()
    }
}

/// A `scope` or `scp` value as a list: a space-separated string, or an array
/// of strings; `None` for anything else (which then grants nothing).
fn scope_list(value: &Value) -> Option<Vec<&str>> {
    match value {
        Value::String(text) => Some(text.split(' ').filter(|s| !s.is_empty()).collect()),
        Value::Array(items) => items.iter().map(Value::as_str).collect(),
        _ => None,
    }
}

/// The application's claims `T`, verified and decoded once, plus the [`VerifiedToken`].
///
/// Cheap to clone (an `Arc`); `T` itself need not be `Clone`.
pub struct Verified<T> {
    inner: Arc<(T, VerifiedToken)>,
}

impl<T> Clone for Verified<T> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Verified<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verified")
            .field("claims", &self.inner.0)
            .field("token", &self.inner.1)
            .finish()
    }
}

impl<T> Verified<T> {
    pub(crate) fn new(claims: T, token: VerifiedToken) -> Self {
        Self {
            inner: Arc::new((claims, token)),
        }
    }

    /// Type-erased, for the request extensions and the verified-token cache
    /// (neither is generic over `T`).
    pub(crate) fn into_erased(self) -> Arc<dyn ErasedVerified>
    where
        T: Send + Sync + 'static,
    {
        self.inner
    }

    /// Back from [`into_erased`](Self::into_erased); `None` for another `T`.
    pub(crate) fn from_erased(erased: Arc<dyn ErasedVerified>) -> Option<Self>
    where
        T: Send + Sync + 'static,
    {
        let any: Arc<dyn Any + Send + Sync> = erased;
        any.downcast::<(T, VerifiedToken)>()
            .ok()
            .map(|inner| Self { inner })
    }

    /// The claims a [`JwtLayer<T>`](crate::JwtLayer) verified for this
    /// request: from the request's [`RequestAuth`]. `None` without a
    /// token (optional mode), without the layer, or for a layer of another
    /// claims type. A clone of an `Arc`.
    pub fn from_extensions(extensions: &Extensions) -> Option<Self>
    where
        T: Send + Sync + 'static,
    {
        extensions.get::<RequestAuth>()?.verified()
    }

    /// The application's claims.
    pub fn claims(&self) -> &T {
        &self.inner.0
    }

    /// The registered claims, raw object, key and roles.
    pub fn token(&self) -> &VerifiedToken {
        &self.inner.1
    }
}

impl<T> std::ops::Deref for Verified<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.inner.0
    }
}

/// A `Verified<T>` of some `T`: its token can be read without knowing `T`,
/// and it is downcast back to `Verified<T>` by whoever knows `T`.
pub(crate) trait ErasedVerified: Any + Send + Sync {
    fn token(&self) -> &VerifiedToken;
}

impl<T: Send + Sync + 'static> ErasedVerified for (T, VerifiedToken) {
    fn token(&self) -> &VerifiedToken {
        &self.1
    }
}

/// What a [`JwtLayer`](crate::JwtLayer) leaves in the extensions of each
/// request it lets through: the verified token, or none for a request without
/// any token in optional mode (an invalid token is refused, never anonymous),
/// and the responder for refusals behind the layer. See the
/// [module](self#in-the-request-extensions) docs.
///
/// Cheap to clone: the verified token is shared (an `Arc`), with every request
/// that carries the same token while it is in the
/// [verified-token cache](crate::cache).
#[derive(Clone)]
pub struct RequestAuth {
    verified: Option<Arc<dyn ErasedVerified>>,
    responder: ErrorResponder,
}

impl std::fmt::Debug for RequestAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestAuth")
            .field("token", &self.token())
            .field("responder", &self.responder)
            .finish()
    }
}

impl RequestAuth {
    pub(crate) fn new(
        verified: Option<Arc<dyn ErasedVerified>>,
        responder: ErrorResponder,
    ) -> Self {
        Self {
            verified,
            responder,
        }
    }

    /// The verified claims, if the layer's claims type is `T` (a clone of an `Arc`).
    pub fn verified<T: Send + Sync + 'static>(&self) -> Option<Verified<T>> {
        Verified::from_erased(Arc::clone(self.verified.as_ref()?))
    }

    /// The verified token, whatever the claims type.
    pub fn token(&self) -> Option<&VerifiedToken> {
        self.verified.as_deref().map(ErasedVerified::token)
    }

    /// Whether the request carried no token at all (the layer is in
    /// [optional](crate::JwtLayer::optional) mode).
    pub fn is_anonymous(&self) -> bool {
        self.verified.is_none()
    }

    /// Answers refusals the way the layer does (realm, hook, gRPC), for the
    /// guards and extractors behind it.
    pub fn responder(&self) -> &ErrorResponder {
        &self.responder
    }
}
