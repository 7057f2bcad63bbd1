//! [`JwtLayer`]: configuration, and the tower [`Layer`].
use std::marker::PhantomData;
use std::sync::Arc;

use bytes::Bytes;
use http::Response;
use http::request::Parts;
use serde::de::DeserializeOwned;
use tower_layer::Layer;

use crate::claims::Anonymous;
use crate::csrf::{CsrfLayer, CsrfPolicy};
use crate::error::{AuthError, ErrorHandler, ErrorResponder};
use crate::revocation::{RevocationCheck, RevocationError};
use crate::service::JwtService;
use crate::source::{TokenSource, find_token};
use crate::validate::Validator;

/// The default realm in `WWW-Authenticate`.
pub const DEFAULT_REALM: &str = "api";

/// Authenticates every request that passes through it.
///
/// `T` is the application's claims type; the layer deserializes the verified
/// claims into it once and puts a [`Verified<T>`](crate::Verified) and a
/// [`VerifiedToken`](crate::VerifiedToken) into the request extensions.
///
/// Cheap to clone: the configuration sits behind an `Arc`.
///
/// ```
/// use jwt_layer::{Algorithm, JwtLayer, Key, KeySet, TokenSource, Validator};
/// use serde::Deserialize;
///
/// #[derive(Deserialize)]
/// struct MyClaims { sub: String }
///
/// # fn main() -> Result<(), jwt_layer::ConfigError> {
/// let validator = Validator::builder(KeySet::single(Key::hmac(Algorithm::HS256, &[7; 32])?))
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
    revocation: Option<Arc<dyn RevocationCheck>>,
    on_error: Option<Arc<ErrorHandler>>,
    responder: ErrorResponder,
    csrf: CsrfPolicy,
}

impl<T> JwtLayer<T> {
    /// A layer in required mode, reading `Authorization: Bearer`, with realm `"api"`.
    pub fn new(validator: Validator) -> Self {
        Self {
            config: Arc::new(LayerConfig {
                validator,
                sources: vec![TokenSource::Bearer],
                optional: false,
                realm: DEFAULT_REALM.to_owned(),
                revocation: None,
                on_error: None,
                responder: ErrorResponder::default(),
                csrf: CsrfPolicy::default(),
            }),
            _claims: PhantomData,
        }
    }

    fn edit(mut self, f: impl FnOnce(&mut LayerConfig)) -> Self {
        let config = Arc::make_mut(&mut self.config);
        f(config);
        config.responder = ErrorResponder::new(&config.realm, config.on_error.clone());
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

    /// Optional mode: a request without any token passes, with [`Anonymous`] in its
    /// extensions instead of claims. A token that is present but invalid is still refused.
    pub fn optional(self) -> Self {
        self.edit(|c| c.optional = true)
    }

    /// The `realm` of the `WWW-Authenticate` challenge (default `"api"`).
    pub fn realm(self, realm: impl Into<String>) -> Self {
        let realm = realm.into();
        self.edit(|c| c.realm = realm)
    }

    /// Runs this check after signature and claims pass; see [`crate::revocation`].
    pub fn revocation(self, check: impl RevocationCheck) -> Self {
        let check: Arc<dyn RevocationCheck> = Arc::new(check);
        self.edit(|c| c.revocation = Some(check))
    }

    /// Replaces the default refusal (status, headers, JSON body). The typed
    /// [`AuthError`] is still put in the response extensions.
    ///
    /// ```
    /// # use jwt_layer::{Algorithm, JwtLayer, Key, KeySet, Validator};
    /// # let validator = Validator::builder(KeySet::single(Key::hmac(Algorithm::HS256, &[7; 32]).unwrap())).build().unwrap();
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

    /// The validator.
    pub fn validator(&self) -> &Validator {
        &self.config.validator
    }

    pub(crate) fn config(&self) -> &Arc<LayerConfig> {
        &self.config
    }
}

impl<S, T> Layer<S> for JwtLayer<T> {
    type Service = JwtService<S, T>;

    fn layer(&self, inner: S) -> Self::Service {
        JwtService::new(inner, self.clone())
    }
}

impl LayerConfig {
    /// Finds, verifies and checks the token; on success the claims are in `parts.extensions`.
    pub(crate) async fn authenticate<T>(&self, parts: &mut Parts) -> Result<(), AuthError>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        let Some(found) = find_token(&self.sources, parts).await? else {
            if self.optional {
                parts.extensions.insert(self.responder.clone());
                parts.extensions.insert(Anonymous);
                return Ok(());
            }
            return Err(AuthError::Missing);
        };
        let verified = self
            .validator
            .verify::<T>(&found.token)?
            .with_source(found.source);
        if found.source == "cookie" && !self.csrf.allows(parts) {
            return Err(AuthError::CrossSiteRequest);
        }
        if let Some(check) = &self.revocation {
            match check.check(verified.token()).await {
                Ok(()) => {}
                Err(RevocationError::Revoked) => return Err(AuthError::Revoked),
                Err(RevocationError::Unavailable(reason)) => {
                    tracing::error!(target: "jwt_layer", %reason, "revocation check failed; refusing the request (fail closed)");
                    return Err(AuthError::StoreUnavailable);
                }
            }
        }
        parts.extensions.insert(self.responder.clone());
        parts.extensions.insert(verified.token().clone());
        parts.extensions.insert(verified);
        Ok(())
    }

    /// The refusal for `err`; its one log event carries the method and path.
    pub(crate) fn reject(&self, err: AuthError, parts: &Parts) -> Response<Bytes> {
        let _request = tracing::info_span!(
            target: "jwt_layer",
            "request",
            method = %parts.method,
            path = parts.uri.path()
        )
        .entered();
        self.responder.respond(err)
    }
}
