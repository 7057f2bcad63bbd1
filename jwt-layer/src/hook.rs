//! What runs after a token verified: passport's verify callback, as
//! [`LoadUser`], and the [revocation check](crate::revocation), one mechanism.
//!
//! passport-jwt calls `verify(payload, done)` once the signature checked out;
//! the app loads its user and answers `done(null, user)` (every handler then
//! has `req.user`), `done(null, false)` (refused) or `done(err)`. Here:
//!
//! ```
//! use std::collections::HashMap;
//! use std::sync::Arc;
//!
//! use bytes::Bytes;
//! use http::{Request, Response, StatusCode, header};
//! use http_body_util::Full;
//! use jwt_layer::{Algorithm, JwtLayer, KeySet, SigningKey, TokenIssuer, UserError, Validator};
//! use serde_json::{Value, json};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! /// The app's own user, as its database knows it.
//! #[derive(Clone)]
//! struct User { name: String, banned: bool }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let signing = SigningKey::hmac(Algorithm::HS256, &[3; 32])?;
//! # let validator = Validator::builder(KeySet::single(signing.verifying_key())).build()?;
//! # let issuer = TokenIssuer::new(signing, validator.clone())?;
//! // Stands for a database pool: cheap to clone, shared by the closure.
//! let users = Arc::new(HashMap::from([
//!     ("ada".to_owned(), User { name: "Ada".into(), banned: false }),
//!     ("eve".to_owned(), User { name: "Eve".into(), banned: true }),
//! ]));
//!
//! let layer = JwtLayer::<Value>::new(validator).load_user(move |token, _parts| {
//!     let users = Arc::clone(&users);
//!     async move {
//!         match token.subject().and_then(|sub| users.get(sub)) {
//!             Some(user) if !user.banned => Ok(user.clone()), // done(null, user)
//!             Some(_) => Err(UserError::Forbidden),           // banned: 403
//!             None => Err(UserError::Unknown),                // done(null, false): 401
//!         }
//!     }
//! });
//!
//! // A plain tower service reads the user from the extensions (axum
//! // handlers use `jwt_extractor::CurrentUser<User>`).
//! let service = ServiceBuilder::new().layer(layer).service(service_fn(|request: Request<String>| async move {
//!     let user = request.extensions().get::<User>().map_or("?", |user| user.name.as_str()).to_owned();
//!     Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from(user))))
//! }));
//!
//! let call = |sub: &str| {
//!     let token = issuer.issue(sub, &json!({})).map(|t| t.access_token);
//!     let service = service.clone();
//!     async move {
//!         let request = Request::get("/me")
//!             .header(header::AUTHORIZATION, format!("Bearer {}", token?))
//!             .body(String::new())?;
//!         Ok::<_, Box<dyn std::error::Error>>(service.oneshot(request).await?.status())
//!     }
//! };
//! assert_eq!(call("ada").await?, StatusCode::OK);
//! assert_eq!(call("eve").await?, StatusCode::FORBIDDEN);
//! assert_eq!(call("mallory").await?, StatusCode::UNAUTHORIZED);
//! # Ok(()) }
//! ```
//!
//! The hooks of a layer ([`revocation`](crate::JwtLayer::revocation) and
//! [`load_user`](crate::JwtLayer::load_user)) run in the order they were
//! added, after the signature, the claims and the cross-site check, on every
//! request (a token from the [verified-token cache](crate::JwtLayer::cache)
//! included); the first refusal wins. Refusals go through the layer's
//! responder: its realm, its [`on_error`](crate::JwtLayer::on_error) hook,
//! gRPC statuses for gRPC calls. A hook that cannot answer (database down)
//! fails closed: 503, with the reason in the log, never in the response.
use std::future::Future;
use std::sync::Arc;

use http::Extensions;
use http::request::Parts;

use crate::claims::VerifiedToken;
use crate::error::AuthError;
use crate::future::BoxFuture;
use crate::revocation::{RevocationCheck, RevocationError};

/// Why [`LoadUser`] did not give a user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UserError {
    /// No such user, or not one to let in (passport's `done(null, false)`):
    /// 401 `invalid_token`, as for a token the app does not accept.
    #[error("unknown user")]
    Unknown,
    /// The user is known but may not use this service (banned, suspended): 403.
    #[error("user not allowed")]
    Forbidden,
    /// The user could not be loaded (database down, timeout): the request
    /// fails closed with 503. The reason is logged, never sent.
    #[error("user could not be loaded: {0}")]
    Unavailable(String),
}

impl From<UserError> for AuthError {
    fn from(err: UserError) -> Self {
        match err {
            UserError::Unknown => AuthError::UnknownUser,
            UserError::Forbidden => AuthError::UserForbidden,
            UserError::Unavailable(reason) => {
                tracing::error!(target: "jwt_layer", %reason, "loading the user failed; refusing the request (fail closed)");
                AuthError::UserUnavailable
            }
        }
    }
}

/// passport's verify callback: given the verified token and the request,
/// loads the app's user (put in the request extensions for handlers) or
/// refuses.
///
/// Give a closure to [`JwtLayer::load_user`](crate::JwtLayer::load_user)
/// (every `Fn(VerifiedToken, &Parts) -> impl Future<Output = Result<User,
/// UserError>>` implements this trait); implement it on a type of yours when
/// the future must borrow from `self`, the token or the request, and give it to
/// [`JwtLayer::load_user_with`](crate::JwtLayer::load_user_with).
pub trait LoadUser: Send + Sync + 'static {
    /// The user handlers receive: `jwt_extractor::CurrentUser<User>` in axum,
    /// `request.extensions().get::<User>()` anywhere else. Give it a type of
    /// its own: the extensions hold one value per type.
    type User: Clone + Send + Sync + 'static;

    /// Loads the user `token` names, or says why not.
    fn load<'a>(
        &'a self,
        token: &'a VerifiedToken,
        parts: &'a Parts,
    ) -> BoxFuture<'a, Result<Self::User, UserError>>;
}

impl<F, Fut, U> LoadUser for F
where
    F: Fn(VerifiedToken, &Parts) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<U, UserError>> + Send + 'static,
    U: Clone + Send + Sync + 'static,
{
    type User = U;

    fn load<'a>(
        &'a self,
        token: &'a VerifiedToken,
        parts: &'a Parts,
    ) -> BoxFuture<'a, Result<U, UserError>> {
        Box::pin(self(token.clone(), parts))
    }
}

/// What a hook adds to the request when it lets it through.
pub(crate) type Attach = Box<dyn FnOnce(&mut Extensions) + Send>;

/// A hook of the layer, type-erased: revocation and user loading alike.
pub(crate) trait Hook: Send + Sync + 'static {
    fn run<'a>(
        &'a self,
        token: &'a VerifiedToken,
        parts: &'a Parts,
    ) -> BoxFuture<'a, Result<Option<Attach>, AuthError>>;
}

/// [`LoadUser`] as a hook: the user goes into the extensions.
pub(crate) struct UserHook<L>(pub(crate) L);

impl<L: LoadUser> Hook for UserHook<L> {
    fn run<'a>(
        &'a self,
        token: &'a VerifiedToken,
        parts: &'a Parts,
    ) -> BoxFuture<'a, Result<Option<Attach>, AuthError>> {
        Box::pin(async move {
            let user = self.0.load(token, parts).await?;
            let attach: Attach = Box::new(move |extensions: &mut Extensions| {
                extensions.insert(user);
            });
            Ok(Some(attach))
        })
    }
}

/// A [`RevocationCheck`] as a hook that attaches nothing.
pub(crate) struct RevocationHook(pub(crate) Arc<dyn RevocationCheck>);

impl Hook for RevocationHook {
    fn run<'a>(
        &'a self,
        token: &'a VerifiedToken,
        _parts: &'a Parts,
    ) -> BoxFuture<'a, Result<Option<Attach>, AuthError>> {
        Box::pin(async move {
            match self.0.check(token).await {
                Ok(()) => Ok(None),
                Err(RevocationError::Revoked) => Err(AuthError::Revoked),
                Err(RevocationError::Unavailable(reason)) => {
                    tracing::error!(target: "jwt_layer", %reason, "revocation check failed; refusing the request (fail closed)");
                    Err(AuthError::StoreUnavailable)
                }
            }
        })
    }
}

/// Runs `hooks` in order; the first refusal wins, nothing is attached then.
pub(crate) async fn run_hooks(
    hooks: &[Arc<dyn Hook>],
    token: &VerifiedToken,
    parts: &mut Parts,
) -> Result<(), AuthError> {
    let mut attached = Vec::new();
    for hook in hooks {
        if let Some(attach) = hook.run(token, parts).await? {
            attached.push(attach);
        }
    }
    for attach in attached {
        attach(&mut parts.extensions);
    }
    Ok(())
}
