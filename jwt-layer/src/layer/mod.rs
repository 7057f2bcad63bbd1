//! [`JwtLayer`] (configuration, the tower [`Layer`]), the [`JwtService`] it
//! wraps around yours, and the service's [`ResponseFuture`].
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::request::Parts;
use http::{Request, Response};
use pin_project_lite::pin_project;
use serde::de::DeserializeOwned;
use tower_layer::Layer;
use tower_service::Service;

#[cfg(feature = "cache")]
use crate::cache::{CacheConfig, CacheStats, TokenCache};
use crate::claims::VerifiedToken;
use crate::csrf::{CsrfLayer, CsrfPolicy};
use crate::error::{AuthError, DEFAULT_REALM, ErrorHandler, ErrorResponder};
use crate::future::BoxFuture;
use crate::hook::{Hook, LoadUser, RevocationHook, UserError, UserHook};
use crate::resolve::KeyResolver;
use crate::revocation::RevocationCheck;
use crate::source::TokenSource;
use crate::validate::Validator;

mod authenticate;

/// Authenticates every request that passes through it.
///
/// `T` is the application's claims type; the layer deserializes the verified
/// claims into it once and puts them into the request extensions, as an
/// [`RequestAuth`](crate::RequestAuth): read them with
/// [`Verified::<T>::from_extensions`](crate::Verified::from_extensions) (or
/// `jwt-extractor`'s `Claims<T>`).
///
/// Cheap to clone: the configuration sits behind an `Arc`.
///
/// With the `cache` feature (on by default), verified tokens are kept in a
/// [verified-token cache](crate::cache) shared by the layer's clones; see
/// [`cache`](Self::cache) and [`without_cache`](Self::without_cache).
///
/// ```
/// use jwt_layer::{Algorithm, JwtLayer, VerifyingKey, KeySet, TokenSource, Validator};
/// use serde::Deserialize;
///
/// #[derive(Deserialize)]
/// struct MyClaims { sub: String }
///
/// # fn main() -> Result<(), jwt_layer::ConfigError> {
/// let validator = Validator::builder(KeySet::single(VerifyingKey::hmac(Algorithm::HS256, &[7; 32])?))
///     .issuer("https://auth.example.com")
///     .build()?;
/// let layer = JwtLayer::<MyClaims>::new(validator)
///     .sources([TokenSource::Bearer, TokenSource::cookie("__Host-access_token")])
///     .realm("example");
/// # let _ = layer; Ok(()) }
/// ```
pub struct JwtLayer<T> {
    config: Arc<LayerConfig>,
    _claims: PhantomData<fn() -> T>,
}

impl<T> Clone for JwtLayer<T> {
    fn clone(&self) -> Self {
        Self {
            config: Arc::clone(&self.config),
            _claims: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for JwtLayer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtLayer")
            .field("claims", &std::any::type_name::<T>())
            .field("sources", &self.config.sources)
            .field("optional", &self.config.optional)
            .field("realm", &self.config.realm)
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
pub(crate) struct LayerConfig {
    validator: Validator,
    sources: Vec<TokenSource>,
    optional: bool,
    realm: String,
    /// Run after verification, in order: revocation checks and user loaders.
    hooks: Vec<Arc<dyn Hook>>,
    on_error: Option<Arc<ErrorHandler>>,
    responder: ErrorResponder,
    csrf: CsrfPolicy,
    /// Whether a request can be authenticated without awaiting (no custom
    /// source, no hook, no resolver): then the service needs no boxed future and
    /// no clone of the inner service.
    sync: bool,
    /// Chooses the validator per token; `None`: always `validator`.
    resolver: Option<Arc<dyn KeyResolver>>,
    /// RFC 9728: added to every challenge.
    resource_metadata: Option<String>,
    #[cfg(feature = "cache")]
    cache: Option<Arc<TokenCache>>,
}

impl<T> JwtLayer<T> {
    /// A layer in required mode, reading `Authorization: Bearer`, with realm `"api"`.
    pub fn new(validator: Validator) -> Self {
        Self {
            config: Arc::new(LayerConfig {
                #[cfg(feature = "cache")]
                cache: TokenCache::new(CacheConfig::default(), validator.key_generation())
                    .map(Arc::new),
                validator,
                sources: vec![TokenSource::Bearer],
                optional: false,
                realm: DEFAULT_REALM.to_owned(),
                hooks: Vec::new(),
                on_error: None,
                responder: ErrorResponder::default(),
                csrf: CsrfPolicy::default(),
                sync: true,
                resolver: None,
                resource_metadata: None,
            }),
            _claims: PhantomData,
        }
    }

    fn edit(mut self, f: impl FnOnce(&mut LayerConfig)) -> Self {
        let config = Arc::make_mut(&mut self.config);
        f(config);
        config.responder = ErrorResponder::new(&config.realm, config.on_error.clone())
            .with_resource_metadata(config.resource_metadata.as_deref());
        config.sync = config.hooks.is_empty()
            && config.resolver.is_none()
            && !config
                .sources
                .iter()
                .any(|source| matches!(source, TokenSource::Custom(_)));
        self
    }

    /// Where tokens are looked for, in order (default: only [`TokenSource::Bearer`]).
    /// See [`crate::source`] for the conflict rules. An empty list finds no token.
    pub fn sources(self, sources: impl IntoIterator<Item = TokenSource>) -> Self {
        let sources = sources.into_iter().collect();
        self.edit(|c| c.sources = sources)
    }

    /// Trusts cross-origin cookie-authenticated requests from `origin`
    /// (`https://app.example.com`), e.g. a front end on another origin. See
    /// [`crate::csrf`]: every other cross-site cookie request with an unsafe method
    /// is refused with 403; Bearer requests are never subject to it.
    pub fn trusted_origin(self, origin: impl Into<String>) -> Self {
        let origin = origin.into();
        self.edit(|c| c.csrf.trust(origin))
    }

    /// The layer's cross-site check as a middleware of its own, for the cookie
    /// endpoints that sit outside the layer (browser login, cookie refresh and
    /// logout): the same trusted origins, the same refusal (realm and
    /// [`on_error`](Self::on_error) hook), applied to every unsafe request. See
    /// [`crate::csrf`].
    pub fn csrf_layer(&self) -> CsrfLayer {
        CsrfLayer::with_policy(self.config.csrf.clone(), self.config.responder.clone())
    }

    /// Optional mode: a request without any token passes, its
    /// [`RequestAuth`](crate::RequestAuth) [anonymous](crate::RequestAuth::is_anonymous). A token
    /// that is present but invalid is still refused.
    pub fn optional(self) -> Self {
        self.edit(|c| c.optional = true)
    }

    /// The `realm` of the `WWW-Authenticate` challenge (default `"api"`).
    pub fn realm(self, realm: impl Into<String>) -> Self {
        let realm = realm.into();
        self.edit(|c| c.realm = realm)
    }

    /// Runs this check after signature and claims pass; see [`crate::revocation`].
    /// A hook like [`load_user`](Self::load_user): hooks run in the order they
    /// were added, on every request, cached token or not (see [`crate::hook`]).
    pub fn revocation(self, check: impl RevocationCheck) -> Self {
        let hook: Arc<dyn Hook> = Arc::new(RevocationHook(Arc::new(check)));
        self.edit(|c| c.hooks.push(hook))
    }

    /// passport's verify callback: after the token verified, `loader` loads the
    /// app's user (from the database its closure captures) and the layer puts
    /// it in the request extensions, or refuses: [`UserError::Unknown`](crate::UserError::Unknown)
    /// → 401, [`Forbidden`](crate::UserError::Forbidden) → 403,
    /// [`Unavailable`](crate::UserError::Unavailable) → 503 (fail closed,
    /// logged). Handlers read the user with `jwt_extractor::CurrentUser<User>`,
    /// other services with `request.extensions().get::<User>()`.
    ///
    /// Runs on every request (a token from the cache included), after the
    /// hooks added before it (add [`revocation`](Self::revocation) first: no
    /// database lookup for a revoked token). See [`crate::hook`].
    ///
    /// The closure gets the token and the request head (passport's
    /// `passReqToCallback`); clone what its future needs (a pool) before
    /// `async move`. For a loader whose future borrows from itself, implement
    /// [`LoadUser`] and use [`load_user_with`](Self::load_user_with).
    pub fn load_user<F, Fut, U>(self, loader: F) -> Self
    where
        F: Fn(VerifiedToken, &Parts) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<U, UserError>> + Send + 'static,
        U: Clone + Send + Sync + 'static,
    {
        self.load_user_with(loader)
    }

    /// [`load_user`](Self::load_user) with a [`LoadUser`] of your own type.
    pub fn load_user_with(self, loader: impl LoadUser) -> Self {
        let hook: Arc<dyn Hook> = Arc::new(UserHook(loader));
        self.edit(|c| c.hooks.push(hook))
    }

    /// Replaces the default refusal (status, headers, JSON body). The typed
    /// [`AuthError`] is still put in the response extensions.
    ///
    /// ```
    /// # use jwt_layer::{Algorithm, JwtLayer, VerifyingKey, KeySet, Validator};
    /// # let validator = Validator::builder(KeySet::single(VerifyingKey::hmac(Algorithm::HS256, &[7; 32]).unwrap())).build().unwrap();
    /// let layer = JwtLayer::<serde_json::Value>::new(validator).on_error(|err, realm| {
    ///     let mut response = err.to_response(realm);
    ///     *response.body_mut() = format!(r#"{{"message":"{err}"}}"#).into();
    ///     response
    /// });
    /// ```
    pub fn on_error<F>(self, handler: F) -> Self
    where
        F: Fn(&AuthError, &str) -> Response<Bytes> + Send + Sync + 'static,
    {
        let handler: Arc<ErrorHandler> = Arc::new(handler);
        self.edit(|c| c.on_error = Some(handler))
    }

    /// Sizes the [verified-token cache](crate::cache) (on by default, with
    /// [`CacheConfig::default`]). The layer gets a new, empty cache.
    #[cfg(feature = "cache")]
    #[cfg_attr(docsrs, doc(cfg(feature = "cache")))]
    pub fn cache(self, config: CacheConfig) -> Self {
        self.edit(|c| {
            c.cache = TokenCache::new(config, c.validator.key_generation()).map(Arc::new);
        })
    }

    /// Turns the [verified-token cache](crate::cache) off: every request
    /// verifies its token from scratch.
    #[cfg(feature = "cache")]
    #[cfg_attr(docsrs, doc(cfg(feature = "cache")))]
    pub fn without_cache(self) -> Self {
        self.edit(|c| c.cache = None)
    }

    /// How full the [verified-token cache](crate::cache) is; `None` when it is off.
    #[cfg(feature = "cache")]
    #[cfg_attr(docsrs, doc(cfg(feature = "cache")))]
    pub fn cache_stats(&self) -> Option<CacheStats> {
        self.config.cache.as_ref().map(|cache| cache.stats())
    }

    /// Verifies each token with the validator `resolver` chooses for it
    /// (see [`crate::resolve`]): an identity provider's JWKS fetched again on
    /// an unknown `kid`, several issuers, keys per tenant. The validator given
    /// to [`new`](Self::new) is then only what [`validator`](Self::validator)
    /// returns. Requests take the async path. The resolver is asked on every
    /// request; the [verified-token cache](crate::cache) serves a token only
    /// to a request for which the resolver chose the very validator (and key
    /// set) that verified it.
    pub fn resolver(self, resolver: impl KeyResolver) -> Self {
        let resolver: Arc<dyn KeyResolver> = Arc::new(resolver);
        self.edit(|c| c.resolver = Some(resolver))
    }

    /// Adds `resource_metadata="url"` to every `WWW-Authenticate` challenge
    /// (RFC 9728 §5.1): where clients find this resource's
    /// [metadata](crate::metadata::ProtectedResourceMetadata), hence which
    /// authorization server to get a token from.
    pub fn resource_metadata(self, url: impl Into<String>) -> Self {
        let url = url.into();
        self.edit(|c| c.resource_metadata = Some(url))
    }

    /// The validator.
    pub fn validator(&self) -> &Validator {
        &self.config.validator
    }
}

impl<S, T> Layer<S> for JwtLayer<T> {
    type Service = JwtService<S, T>;

    fn layer(&self, inner: S) -> Self::Service {
        JwtService {
            inner,
            layer: self.clone(),
        }
    }
}

/// Authenticates requests, then calls the inner service with the verified claims in
/// the request extensions, or answers the refusal itself.
///
/// Generic over request and response bodies; the response body must be buildable
/// from [`Bytes`] for refusals (true of `axum::body::Body`, `http_body_util::Full`,
/// and `String`-like bodies).
pub struct JwtService<S, T> {
    inner: S,
    layer: JwtLayer<T>,
}

impl<S: Clone, T> Clone for JwtService<S, T> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            layer: self.layer.clone(),
        }
    }
}

impl<S: std::fmt::Debug, T> std::fmt::Debug for JwtService<S, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtService")
            .field("inner", &self.inner)
            .field("layer", &self.layer)
            .finish()
    }
}

impl<S, T> JwtService<S, T> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The wrapped service, consuming `self`.
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// The layer this service was made by.
    pub fn layer(&self) -> &JwtLayer<T> {
        &self.layer
    }
}

impl<S, T, ReqBody, ResBody> Service<Request<ReqBody>> for JwtService<S, T>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    T: DeserializeOwned + Send + Sync + 'static,
    ReqBody: Send + 'static,
    ResBody: From<Bytes> + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let config = &self.layer.config;
        let (mut parts, body) = request.into_parts();
        // The fast path: everything is synchronous, so the inner service is
        // called right here (no clone of it, no boxed future).
        match config.authenticate_now::<T>(&mut parts) {
            Some(Ok(())) => {
                return ResponseFuture::inner(self.inner.call(Request::from_parts(parts, body)));
            }
            Some(Err(err)) => return ResponseFuture::refused(config.reject(err, &parts)),
            None => {}
        }
        // A custom source, a hook or a resolver awaits: the inner service is
        // called later, so the ready one is moved into the future and a clone
        // (not polled ready) stays behind.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let config = Arc::clone(config);
        ResponseFuture::boxed(Box::pin(async move {
            match config.authenticate::<T>(&mut parts).await {
                Ok(()) => inner.call(Request::from_parts(parts, body)).await,
                Err(err) => Ok(config.reject(err, &parts).map(ResBody::from)),
            }
        }))
    }
}

pin_project! {
    /// The future of [`JwtService`]: the inner service's own future when the
    /// request was authenticated without awaiting, the refusal, or a boxed
    /// future when a custom source, a hook or a resolver awaits.
    pub struct ResponseFuture<F, B, E> {
        #[pin]
        kind: Kind<F, B, E>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, B, E> {
        Inner {
            #[pin]
            future: F,
        },
        Refused {
            // Built from `Bytes` when polled, so the future is `Send` whatever `B` is.
            response: Option<Response<Bytes>>,
            _body: PhantomData<fn() -> B>,
        },
        Async {
            future: BoxFuture<'static, Result<Response<B>, E>>,
        },
    }
}

impl<F, B, E> ResponseFuture<F, B, E> {
    fn inner(future: F) -> Self {
        Self {
            kind: Kind::Inner { future },
        }
    }

    fn refused(response: Response<Bytes>) -> Self {
        Self {
            kind: Kind::Refused {
                response: Some(response),
                _body: PhantomData,
            },
        }
    }

    fn boxed(future: BoxFuture<'static, Result<Response<B>, E>>) -> Self {
        Self {
            kind: Kind::Async { future },
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F, B, E>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: From<Bytes>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { future } => future.poll(cx),
            KindProj::Refused { response, .. } => match response.take() {
                Some(response) => Poll::Ready(Ok(response.map(B::from))),
                // Polled again after it completed, which the `Future` contract
                // leaves open: stay pending rather than panic.
                None => Poll::Pending,
            },
            KindProj::Async { future } => future.as_mut().poll(cx),
        }
    }
}

impl<F, B, E> std::fmt::Debug for ResponseFuture<F, B, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.kind {
            Kind::Inner { .. } => "Inner",
            Kind::Refused { .. } => "Refused",
            Kind::Async { .. } => "Async",
        };
        f.debug_tuple("ResponseFuture").field(&kind).finish()
    }
}
