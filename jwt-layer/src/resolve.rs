//! Choosing the keys and the policy for each token: the async [`KeyResolver`],
//! passport-jwt's `secretOrKeyProvider` for tower.
//!
//! A [`JwtLayer`](crate::JwtLayer) built with [`JwtLayer::resolver`](crate::JwtLayer::resolver)
//! asks its resolver, for every token, which [`Validator`] (keys and policy) to
//! verify it with. The resolver sees the request's [`Parts`] and the token's
//! **unverified** header and issuer ([`UnverifiedToken`]): they are read only
//! to choose. Whatever it returns then verifies the token in full: signature,
//! `typ`, issuer, audience, lifetime. A resolver that refuses answers with an
//! [`AuthError`].
//!
//! Implementations:
//! - [`Validator`]: always itself (the static case; what [`JwtLayer::new`](crate::JwtLayer::new) does);
//! - [`Issuers`]: several issuers, each with its own validator (own keys,
//!   audience, leeway, `typ` rule, role claim), chosen by the token's `iss`;
//! - `jwks::RemoteJwks` (feature `jwks`): an identity provider's JWKS, fetched
//!   again when a token names a `kid` not seen yet (single-flight, cooldown, timeout);
//! - yours: keys per tenant chosen by host name, keys from a database, …
//!
//! ```
//! use http::request::Parts;
//! use jwt_layer::resolve::{KeyResolver, UnverifiedToken};
//! use jwt_layer::BoxFuture;
//! use jwt_layer::{AuthError, Validator};
//!
//! /// One validator per tenant, chosen by the `Host` header.
//! struct PerTenant { acme: Validator, globex: Validator }
//!
//! impl KeyResolver for PerTenant {
//!     fn resolve<'a>(&'a self, parts: &'a Parts, _token: &'a UnverifiedToken)
//!         -> BoxFuture<'a, Result<Validator, AuthError>>
//!     {
//!         let host = parts.headers.get(http::header::HOST).and_then(|h| h.to_str().ok());
//!         let chosen = match host {
//!             Some("acme.example.com") => Ok(self.acme.clone()),
//!             Some("globex.example.com") => Ok(self.globex.clone()),
//!             _ => Err(AuthError::UnknownKey),
//!         };
//!         Box::pin(async move { chosen })
//!     }
//! }
//! ```
//!
//! With a resolver, the [verified-token cache](crate::cache) still saves the
//! signature check, never the choice: the resolver is asked on every request
//! (the same token may be resolved differently per request, by host name say),
//! and a cached token is served only if the validator it returns is the very
//! one, with the same key set, that verified it. Another tenant's validator,
//! or keys replaced since (a JWKS refetched after a rotation), and the token
//! is verified afresh.
use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::request::Parts;
use jsonwebtoken::Algorithm;
use serde::Deserialize;
use serde_json::Value;

use crate::error::{AuthError, ConfigError};
use crate::future::BoxFuture;
use crate::validate::Validator;

/// The longest token [`UnverifiedToken::peek`] reads (64 KiB); the chosen
/// validator then applies its own, usually smaller, cap.
pub const PEEK_MAX_LEN: usize = 64 * 1024;

/// What a resolver may read of a token before it is verified: never trust it
/// beyond choosing the keys.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnverifiedToken {
    /// The header's `alg`.
    pub alg: Algorithm,
    /// The header's `kid`, when it is a string.
    pub kid: Option<String>,
    /// The payload's `iss`, when it is a string.
    pub issuer: Option<String>,
}

impl UnverifiedToken {
    /// Reads `alg`, `kid` and `iss` of a compact JWS without verifying
    /// anything. A token that cannot be read that far is `Malformed`.
    pub fn peek(token: &str) -> Result<Self, AuthError> {
        if token.len() > PEEK_MAX_LEN {
            return Err(AuthError::Malformed);
        }
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(_), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AuthError::Malformed);
        };
        #[derive(Deserialize)]
        struct Header {
            alg: Algorithm,
            #[serde(default)]
            kid: Option<Value>,
        }
        #[derive(Deserialize)]
        struct Payload {
            #[serde(default)]
            iss: Option<Value>,
        }
        let header: Header = decode(header)?;
        let payload: Payload = decode(payload)?;
        let string = |value: Option<Value>| match value {
            Some(Value::String(s)) => Some(s),
            _ => None,
        };
        Ok(Self {
            alg: header.alg,
            kid: string(header.kid),
            issuer: string(payload.iss),
        })
    }
}

fn decode<P: serde::de::DeserializeOwned>(part: &str) -> Result<P, AuthError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| AuthError::Malformed)?;
    if bytes.trim_ascii_start().first() != Some(&b'{') {
        return Err(AuthError::Malformed);
    }
    serde_json::from_slice(&bytes).map_err(|_| AuthError::Malformed)
}

/// Chooses the [`Validator`] (keys and policy) that verifies a token, or refuses.
///
/// Called by the layer for every token (in its async path), with the request
/// parts and what the token says of itself before verification.
pub trait KeyResolver: Send + Sync + 'static {
    /// The validator for this token.
    fn resolve<'a>(
        &'a self,
        parts: &'a Parts,
        token: &'a UnverifiedToken,
    ) -> BoxFuture<'a, Result<Validator, AuthError>>;
}

impl KeyResolver for Validator {
    fn resolve<'a>(
        &'a self,
        _parts: &'a Parts,
        _token: &'a UnverifiedToken,
    ) -> BoxFuture<'a, Result<Validator, AuthError>> {
        let validator = self.clone();
        Box::pin(async move { Ok(validator) })
    }
}

impl<R: KeyResolver + ?Sized> KeyResolver for Arc<R> {
    fn resolve<'a>(
        &'a self,
        parts: &'a Parts,
        token: &'a UnverifiedToken,
    ) -> BoxFuture<'a, Result<Validator, AuthError>> {
        (**self).resolve(parts, token)
    }
}

/// Several issuers, each verified with its own resolver (a [`Validator`], a
/// `jwks::RemoteJwks`, …), chosen by the token's `iss`.
///
/// The `iss` is read unverified, only to choose: the chosen validator must be
/// configured with that very issuer (checked when it is added, and again for
/// each token), so a token that claims issuer A but is signed with issuer B's
/// key is verified with A's keys, and fails. A token without `iss`, or with
/// an issuer not added, is refused as [`AuthError::WrongIssuer`].
///
/// ```
/// use jwt_layer::resolve::Issuers;
/// use jwt_layer::{Algorithm, JwtLayer, VerifyingKey, KeySet, Validator};
///
/// # fn main() -> Result<(), jwt_layer::ConfigError> {
/// let a = Validator::builder(KeySet::single(VerifyingKey::hmac(Algorithm::HS256, &[1; 32])?))
///     .issuer("https://a.example").audience("api").build()?;
/// let b = Validator::builder(KeySet::single(VerifyingKey::hmac(Algorithm::HS256, &[2; 32])?))
///     .issuer("https://b.example").audience("api").build()?;
/// let issuers = Issuers::new().validator(a.clone())?.validator(b)?;
/// let layer = JwtLayer::<serde_json::Value>::new(a).resolver(issuers);
/// # let _ = layer; Ok(()) }
/// ```
#[derive(Clone, Default)]
pub struct Issuers {
    by_issuer: HashMap<String, Arc<dyn KeyResolver>>,
}

impl std::fmt::Debug for Issuers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issuers")
            .field("issuers", &self.by_issuer.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Issuers {
    /// No issuer yet: every token is refused.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a validator under its configured issuer. A validator without an
    /// issuer, or an issuer added twice, is a configuration error.
    pub fn validator(self, validator: Validator) -> Result<Self, ConfigError> {
        let issuer = validator
            .issuer()
            .ok_or(ConfigError::MissingIssuer)?
            .to_owned();
        self.issuer(issuer, validator)
    }

    /// Adds `resolver` for tokens whose `iss` is `issuer`. Whatever validator
    /// it returns must be configured with that issuer, or the token is refused.
    pub fn issuer(
        mut self,
        issuer: impl Into<String>,
        resolver: impl KeyResolver,
    ) -> Result<Self, ConfigError> {
        let issuer = issuer.into();
        if self.by_issuer.contains_key(&issuer) {
            return Err(ConfigError::DuplicateIssuer(issuer));
        }
        self.by_issuer.insert(issuer, Arc::new(resolver));
        Ok(self)
    }
}

impl KeyResolver for Issuers {
    fn resolve<'a>(
        &'a self,
        parts: &'a Parts,
        token: &'a UnverifiedToken,
    ) -> BoxFuture<'a, Result<Validator, AuthError>> {
        Box::pin(async move {
            let issuer = token.issuer.as_deref().ok_or(AuthError::WrongIssuer)?;
            let resolver = self.by_issuer.get(issuer).ok_or(AuthError::WrongIssuer)?;
            let validator = resolver.resolve(parts, token).await?;
            // Fail closed: the validator must check this very issuer.
            if validator.issuer() != Some(issuer) {
                return Err(AuthError::WrongIssuer);
            }
            Ok(validator)
        })
    }
}
