//! The request path of a [`JwtLayer`](super::JwtLayer), in order: find the
//! token, verify it (or take it from the verified-token cache), the cross-site
//! check, the hooks, and what is left in the request extensions.
#[cfg(feature = "cache")]
use std::sync::Arc;

use bytes::Bytes;
use http::Response;
use http::request::Parts;
use serde::de::DeserializeOwned;

#[cfg(feature = "cache")]
use crate::cache::TokenCache;
use crate::claims::{RequestAuth, Verified};
use crate::error::AuthError;
use crate::hook::run_hooks;
use crate::resolve::{KeyResolver, UnverifiedToken};
use crate::source::{Found, TokenSourceKind, find_token, find_token_now};
#[cfg(feature = "cache")]
use crate::validate::Validator;

use super::LayerConfig;

impl LayerConfig {
    /// Authenticates without awaiting; `None` when that takes an await (a
    /// hook, a custom source, a resolver), and nothing was changed then.
    pub(super) fn authenticate_now<T>(&self, parts: &mut Parts) -> Option<Result<(), AuthError>>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        if !self.sync {
            return None;
        }
        let found = match find_token_now(&self.sources, parts)? {
            Ok(found) => found,
            Err(err) => return Some(Err(err)),
        };
        Some(
            self.verify_found::<T>(found, parts)
                .map(|verified| match verified {
                    Some(verified) => self.accept(parts, verified),
                    None => self.accept_anonymous(parts),
                }),
        )
    }

    /// Finds, verifies and checks the token; on success the claims are in `parts.extensions`.
    pub(super) async fn authenticate<T>(&self, parts: &mut Parts) -> Result<(), AuthError>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        let found = find_token(&self.sources, parts).await?;
        let verified = match &self.resolver {
            None => self.verify_found::<T>(found, parts)?,
            Some(resolver) => {
                self.verify_resolved::<T>(resolver.as_ref(), found, parts)
                    .await?
            }
        };
        let Some(verified) = verified else {
            self.accept_anonymous(parts);
            return Ok(());
        };
        run_hooks(&self.hooks, verified.token(), parts).await?;
        self.accept(parts, verified);
        Ok(())
    }

    /// Verifies the token found (or takes it from the cache) and runs the CSRF
    /// check; `Ok(None)` for no token in optional mode.
    fn verify_found<T>(
        &self,
        found: Option<Found<'_>>,
        parts: &Parts,
    ) -> Result<Option<Verified<T>>, AuthError>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        let Some(found) = found else {
            return self.without_token();
        };
        let verified = self.verify::<T>(&found)?;
        self.check_cross_site(found.source, parts)?;
        Ok(Some(verified))
    }

    /// A request without a token: nothing to verify in optional mode, else 401.
    fn without_token<T>(&self) -> Result<Option<Verified<T>>, AuthError> {
        if self.optional {
            Ok(None)
        } else {
            Err(AuthError::Missing)
        }
    }

    /// Every request, cached token or not: a cookie is sent by the browser
    /// whoever made the page, so its requests are checked for cross-site
    /// origin. Matched exhaustively: a new kind of source must decide here.
    fn check_cross_site(&self, source: TokenSourceKind, parts: &Parts) -> Result<(), AuthError> {
        match source {
            TokenSourceKind::Cookie => {
                if !self.csrf.allows(parts) {
                    return Err(AuthError::CrossSiteRequest);
                }
            }
            TokenSourceKind::Bearer
            | TokenSourceKind::Header
            | TokenSourceKind::Query
            | TokenSourceKind::Custom
            | TokenSourceKind::Direct => {}
        }
        Ok(())
    }

    /// [`verify_found`](Self::verify_found) with the validator the resolver
    /// chooses for this token.
    async fn verify_resolved<T>(
        &self,
        resolver: &dyn KeyResolver,
        found: Option<Found<'_>>,
        parts: &Parts,
    ) -> Result<Option<Verified<T>>, AuthError>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        let Some(found) = found else {
            return self.without_token();
        };
        let verified = self.verify_with(resolver, &found, parts).await?;
        self.check_cross_site(found.source, parts)?;
        Ok(Some(verified))
    }

    #[cfg(not(feature = "cache"))]
    async fn verify_with<T>(
        &self,
        resolver: &dyn KeyResolver,
        found: &Found<'_>,
        parts: &Parts,
    ) -> Result<Verified<T>, AuthError>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        let unverified = UnverifiedToken::peek(&found.token)?;
        let validator = resolver.resolve(parts, &unverified).await?;
        let (verified, _) = validator.verify_from::<T>(&found.token, found.source)?;
        Ok(verified)
    }

    /// The token verified by the validator the resolver chooses for this
    /// request, from the cache when that very validator, with the same keys,
    /// verified it before. The resolver is asked on every request, hit or
    /// miss (it may choose by host name, say): an entry verified by another
    /// validator, or under keys since replaced, is never served.
    #[cfg(feature = "cache")]
    async fn verify_with<T>(
        &self,
        resolver: &dyn KeyResolver,
        found: &Found<'_>,
        parts: &Parts,
    ) -> Result<Verified<T>, AuthError>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        let Some(cache) = &self.cache else {
            let unverified = UnverifiedToken::peek(&found.token)?;
            let validator = resolver.resolve(parts, &unverified).await?;
            let (verified, _) = validator.verify_from::<T>(&found.token, found.source)?;
            return Ok(verified);
        };
        let now = crate::validate::now();
        let entry = cache.lookup(&found.token, now);
        // The same bytes say the same of themselves: peeked once per entry.
        let unverified = match entry.as_ref().and_then(|entry| entry.peeked()) {
            Some(peeked) => Arc::clone(peeked),
            None => Arc::new(UnverifiedToken::peek(&found.token)?),
        };
        let validator = resolver.resolve(parts, &unverified).await?;
        if let Some(verified) =
            entry.and_then(|entry| entry.serve(validator.key_generation(), found.source))
        {
            return Ok(verified);
        }
        let (verified, generation) = validator.verify_from::<T>(&found.token, found.source)?;
        remember(
            cache,
            &validator,
            &found.token,
            &verified,
            generation,
            now,
            Some(unverified),
        );
        Ok(verified)
    }

    #[cfg(not(feature = "cache"))]
    fn verify<T>(&self, found: &Found<'_>) -> Result<Verified<T>, AuthError>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        let (verified, _) = self.validator.verify_from(&found.token, found.source)?;
        Ok(verified)
    }

    /// The verified token, from the cache when it holds it.
    #[cfg(feature = "cache")]
    fn verify<T>(&self, found: &Found<'_>) -> Result<Verified<T>, AuthError>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        let Some(cache) = &self.cache else {
            let (verified, _) = self.validator.verify_from(&found.token, found.source)?;
            return Ok(verified);
        };
        let now = crate::validate::now();
        let generation = self.validator.key_generation();
        cache.observe(generation);
        if let Some(verified) = cache.get::<T>(&found.token, found.source, generation, now) {
            return Ok(verified);
        }
        let (verified, generation) = self
            .validator
            .verify_from::<T>(&found.token, found.source)?;
        // Verified under keys already replaced: it would never be served.
        if cache.observe(generation) {
            remember(
                cache,
                &self.validator,
                &found.token,
                &verified,
                generation,
                now,
                None,
            );
        }
        Ok(verified)
    }

    /// Puts the verified claims in the extensions, for the extractors, with
    /// the responder for their refusals: one [`RequestAuth`], since every
    /// extension costs an allocation and a map insert (three of them were
    /// about a tenth of a cache hit).
    fn accept<T: Send + Sync + 'static>(&self, parts: &mut Parts, verified: Verified<T>) {
        let responder = self.responder.for_request(&parts.headers);
        parts
            .extensions
            .insert(RequestAuth::new(Some(verified.into_erased()), responder));
    }

    fn accept_anonymous(&self, parts: &mut Parts) {
        let responder = self.responder.for_request(&parts.headers);
        parts.extensions.insert(RequestAuth::new(None, responder));
    }

    /// The refusal for `err`; its one log event carries the method and path.
    pub(super) fn reject(&self, err: AuthError, parts: &Parts) -> Response<Bytes> {
        let _request = tracing::info_span!(
            target: "jwt_layer",
            "request",
            method = %parts.method,
            path = parts.uri.path()
        )
        .entered();
        self.responder.for_request(&parts.headers).respond(err)
    }
}

/// Caches a token `validator` has just verified (under `generation`), until
/// the validator would refuse it.
#[cfg(feature = "cache")]
fn remember<T: Send + Sync + 'static>(
    cache: &TokenCache,
    validator: &Validator,
    token: &str,
    verified: &Verified<T>,
    generation: u64,
    now: u64,
    peeked: Option<Arc<UnverifiedToken>>,
) {
    let registered = verified.token().registered();
    // Not yet valid (accepted within the leeway): verified again next time.
    if registered.nbf.is_none_or(|nbf| nbf <= now) {
        let dies_at = registered.exp.saturating_add(validator.leeway_secs());
        cache.insert(token, verified, generation, dies_at, peeked);
    }
}
