//! [`CurrentUser<U>`]: the user the layer's verify callback loaded (passport's
//! `req.user`), and `Option<CurrentUser<U>>` for optional authentication.
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use http::request::Parts;
use jwt_layer::RequestAuth;

use crate::claims::unauthenticated;
use crate::rejection::Rejection;

/// The user that [`JwtLayer::load_user`](jwt_layer::JwtLayer::load_user)
/// loaded for this request: passport's `req.user`.
///
/// - `CurrentUser<U>`: 401 if the layer is in optional mode and no token came;
/// - `Option<CurrentUser<U>>`: `None` only when no token came;
/// - either, on a route without a layer whose `load_user` gives a `U`: 500,
///   and an error log naming what to add.
///
/// ```
/// use axum::{Router, routing::get};
/// use jwt_extractor::CurrentUser;
/// use jwt_layer::{Algorithm, JwtLayer, KeySet, UserError, Validator, VerifyingKey};
///
/// #[derive(Clone)]
/// struct User { id: String, name: String }
///
/// async fn me(CurrentUser(user): CurrentUser<User>) -> String {
///     format!("{} ({})", user.name, user.id)
/// }
///
/// # fn main() -> Result<(), jwt_layer::ConfigError> {
/// # let validator = Validator::builder(KeySet::single(VerifyingKey::hmac(Algorithm::HS256, &[7; 32])?)).build()?;
/// let layer = JwtLayer::<serde_json::Value>::new(validator).load_user(|token, _parts| {
///     // A database lookup in a real app (clone the pool before `async move`).
///     let found = token.subject().map(|id| User { id: id.to_owned(), name: "Ada".into() });
///     async move { found.ok_or(UserError::Unknown) }
/// });
/// let app: Router = Router::new().route("/me", get(me)).layer(layer);
/// # let _ = app; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct CurrentUser<U>(pub U);

impl<U> std::ops::Deref for CurrentUser<U> {
    type Target = U;
    fn deref(&self) -> &U {
        &self.0
    }
}

/// What the layer left in the extensions for user type `U`.
fn find<U: Clone + Send + Sync + 'static>(
    parts: &Parts,
    extractor: &'static str,
) -> Result<Option<U>, Rejection> {
    if let Some(user) = parts.extensions.get::<U>() {
        return Ok(Some(user.clone()));
    }
    if parts
        .extensions
        .get::<RequestAuth>()
        .is_some_and(RequestAuth::is_anonymous)
    {
        return Ok(None);
    }
    Err(Rejection::missing_user_loader(
        extractor,
        std::any::type_name::<U>(),
    ))
}

impl<S: Send + Sync, U: Clone + Send + Sync + 'static> FromRequestParts<S> for CurrentUser<U> {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match find::<U>(parts, "CurrentUser<U>")? {
            Some(user) => Ok(CurrentUser(user)),
            None => Err(unauthenticated(parts)),
        }
    }
}

impl<S: Send + Sync, U: Clone + Send + Sync + 'static> OptionalFromRequestParts<S>
    for CurrentUser<U>
{
    type Rejection = Rejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(find::<U>(parts, "Option<CurrentUser<U>>")?.map(CurrentUser))
    }
}
