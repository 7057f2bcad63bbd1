//! [`Claims<T>`]: the verified claims in a handler, and `Option<Claims<T>>` for
//! optional authentication.
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use http::request::Parts;
use jwt_layer::{AuthError, RequestAuth, Verified, VerifiedToken};

use crate::rejection::Rejection;

/// A type the layer can decode claims into.
///
/// Implemented for every `T: DeserializeOwned + Send + Sync + 'static`; derive
/// `serde::Deserialize` on your claims struct.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be used as JWT claims",
    label = "claims type must implement `serde::Deserialize` and be `Send + Sync + 'static`",
    note = "add `#[derive(serde::Deserialize)]` to `{Self}`; the same type must be given to `JwtLayer::<{Self}>`"
)]
pub trait ClaimsType: serde::de::DeserializeOwned + Send + Sync + 'static {}

impl<T: serde::de::DeserializeOwned + Send + Sync + 'static> ClaimsType for T {}

/// The claims the [`JwtLayer`](jwt_layer::JwtLayer) verified, decoded once into `T`.
///
/// Derefs to `T` (through [`Verified<T>`]); [`Claims::token`] gives the registered
/// claims, roles and key id. No parsing happens here: the extractor reads what the
/// layer put in the request extensions.
///
/// - `Claims<T>`: 401 if the layer is in optional mode and no token came;
/// - `Option<Claims<T>>`: `None` only when no token came (optional mode); an
///   invalid token never reaches the handler, so never becomes `None`;
/// - either, on a route without the layer (or with a layer for another `T`):
///   500, and an error log naming the missing `JwtLayer<T>`.
///
/// ```
/// use axum::{Router, routing::get};
/// use jwt_extractor::Claims;
/// use jwt_layer::{Algorithm, JwtLayer, VerifyingKey, KeySet, Validator};
/// use serde::Deserialize;
///
/// #[derive(Deserialize)]
/// struct User { sub: String, name: String }
///
/// async fn me(Claims(user): Claims<User>) -> String {
///     format!("{} ({})", user.name, user.sub)
/// }
///
/// async fn greet(user: Option<Claims<User>>) -> String {
///     match user {
///         Some(Claims(user)) => format!("hello {}", user.name),
///         None => "hello stranger".to_owned(),
///     }
/// }
///
/// # fn main() -> Result<(), jwt_layer::ConfigError> {
/// let validator = Validator::builder(KeySet::single(VerifyingKey::hmac(Algorithm::HS256, &[7; 32])?)).build()?;
/// let app: Router = Router::new()
///     .route("/me", get(me))
///     .layer(JwtLayer::<User>::new(validator.clone()))
///     .merge(Router::new().route("/greet", get(greet)).layer(JwtLayer::<User>::new(validator).optional()));
/// # let _ = app; Ok(()) }
/// ```
pub struct Claims<T: ClaimsType>(pub Verified<T>);

impl<T: ClaimsType> Claims<T> {
    /// The registered claims, roles, `kid` and source of the token.
    pub fn token(&self) -> &VerifiedToken {
        self.0.token()
    }

    /// The application's claims.
    pub fn claims(&self) -> &T {
        self.0.claims()
    }
}

impl<T: ClaimsType> Clone for Claims<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T: ClaimsType + std::fmt::Debug> std::fmt::Debug for Claims<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Claims").field(&self.0).finish()
    }
}

impl<T: ClaimsType> std::ops::Deref for Claims<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.0.claims()
    }
}

/// What the layer left in the extensions for claims type `T`.
pub(crate) enum Found<T> {
    Verified(Verified<T>),
    Anonymous,
}

pub(crate) fn find<T: Send + Sync + 'static>(
    parts: &Parts,
    extractor: &'static str,
) -> Result<Found<T>, Rejection> {
    let authentication = parts.extensions.get::<RequestAuth>();
    if let Some(verified) = authentication.and_then(RequestAuth::verified::<T>) {
        return Ok(Found::Verified(verified));
    }
    if authentication.is_some_and(RequestAuth::is_anonymous) {
        return Ok(Found::Anonymous);
    }
    Err(Rejection::missing_layer(
        extractor,
        std::any::type_name::<T>(),
    ))
}

/// The layer's responder for this request, if a layer let it through.
pub(crate) fn responder(parts: &Parts) -> Option<&jwt_layer::ErrorResponder> {
    parts
        .extensions
        .get::<RequestAuth>()
        .map(RequestAuth::responder)
}

pub(crate) fn unauthenticated(parts: &Parts) -> Rejection {
    Rejection::auth(AuthError::Missing, responder(parts))
}

impl<S: Send + Sync, T: ClaimsType> FromRequestParts<S> for Claims<T> {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match find::<T>(parts, "Claims<T>")? {
            Found::Verified(verified) => Ok(Claims(verified)),
            Found::Anonymous => Err(unauthenticated(parts)),
        }
    }
}

impl<S: Send + Sync, T: ClaimsType> OptionalFromRequestParts<S> for Claims<T> {
    type Rejection = Rejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        match find::<T>(parts, "Option<Claims<T>>")? {
            Found::Verified(verified) => Ok(Some(Claims(verified))),
            Found::Anonymous => Ok(None),
        }
    }
}
