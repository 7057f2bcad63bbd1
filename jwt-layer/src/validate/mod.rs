//! The verification policy: strict by default (RFC 7519, RFC 8725, RFC 9068).
//!
//! ```
//! use jwt_layer::{Algorithm, VerifyingKey, KeySet, Validator};
//! use std::time::Duration;
//!
//! # fn main() -> Result<(), jwt_layer::ConfigError> {
//! let validator = Validator::builder(KeySet::single(VerifyingKey::hmac(Algorithm::HS256, &[42; 32])?))
//!     .issuer("https://auth.example.com")
//!     .audience("https://api.example.com")
//!     .leeway(Duration::from_secs(5))
//!     .build()?;
//! # let _ = validator; Ok(()) }
//! ```
//!
//! What a token must satisfy, in the order checked (each failure has its own
//! [`AuthError`]):
//!
//! 1. at most 8 KiB ([`ValidatorBuilder::max_token_len`]), only base64url characters, exactly two
//!    dots, no empty part (so no unsigned `alg: none` token);
//! 2. header: a JSON object whose `alg`, `kid`, `typ` have their JSON types
//!    when present (`null` is not absent); no `crit`, whatever its value; `typ` one of the accepted types (default `at+jwt`,
//!    compared case-insensitively, `application/` prefix optional); `kid` names a
//!    configured key (or there is one key); `alg` is exactly the key's algorithm;
//!    `jwk`, `jku`, `x5u`, `x5c` are never used;
//! 3. signature (by `jsonwebtoken::crypto::verify`, over the bytes received);
//! 4. claims: `exp` present and `now < exp + leeway`; `nbf`, if present,
//!    `nbf <= now + leeway`; `iat`, if present, `iat <= now + leeway`;
//!    `exp − iat` (or `exp − now` without `iat`) at most the maximum lifetime
//!    (default 24 h, [`ValidatorBuilder::max_lifetime`]); `sub` a non-empty string
//!    (RFC 9068 §2.2; [`ValidatorBuilder::allow_missing_subject`] to opt out);
//!    `iss` a single string equal to the configured issuer (required when one is
//!    configured); `aud` containing the configured audience (required when one is
//!    configured; a token that carries `aud` is refused when none is configured,
//!    since nothing says it is meant for this service);
//! 5. the claims deserialize into the application's type.
//!
//! `jsonwebtoken` verifies the signature (`jsonwebtoken::crypto::verify`, over the
//! bytes received); the header and claims rules are applied here, in one place,
//! because `jsonwebtoken::decode` misses several of them (`crit`, `typ`, `iat`,
//! `exp == now`, a missing `iss`/`aud`) and would parse the claims twice more.
//!
//! The default leeway is 30 s, at most 60 s ([`ValidatorBuilder::leeway`]).
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::claims::{RegisteredClaims, RoleClaim, Verified, VerifiedToken};
use crate::error::{AuthError, ConfigError};
use crate::keys::KeySet;
use crate::source::TokenSourceKind;

mod parse;
use parse::{
    JoseHeader, Registered, check_shape, decode_part, numeric_date, parse_object, same_media_type,
    string_claim,
};

/// Default clock-skew allowance: 30 seconds.
pub(crate) const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);
/// The largest leeway the builder accepts.
pub(crate) const MAX_LEEWAY: Duration = Duration::from_secs(60);
/// Default cap on a token's length, checked before any decoding: 8 KiB.
pub(crate) const DEFAULT_MAX_TOKEN_LEN: usize = 8 * 1024;
/// Default cap on a token's lifetime (`exp − iat`, or `exp − now` without `iat`): 24 hours.
pub(crate) const DEFAULT_MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// The `typ` of access tokens (RFC 9068 §2.1).
pub(crate) const ACCESS_TOKEN_TYPE: &str = "at+jwt";

/// Verifies tokens: keys plus policy. Cheap to clone; shared by
/// [`JwtLayer`](crate::JwtLayer) and [`TokenIssuer`](crate::TokenIssuer), so the
/// tokens you issue are checked with exactly the configuration you serve.
#[derive(Clone, Debug)]
pub struct Validator {
    inner: Arc<Policy>,
}

#[derive(Debug)]
struct Policy {
    /// Replaceable at run time (key rotation, a refreshed JWKS); read once per
    /// token. An atomically swapped `Arc`: a read takes no lock and clones
    /// nothing, so requests never contend with each other or with a rotation.
    keys: ArcSwap<Generation>,
    /// The number of the generation in `keys`, for the cache's check on every
    /// hit: one atomic load, where loading `keys` costs several. Raised after
    /// each swap, never lowered.
    generation: AtomicU64,
    leeway: u64,
    issuer: Option<String>,
    audience: Option<String>,
    types: Option<Vec<String>>,
    max_len: usize,
    max_lifetime: u64,
    require_subject: bool,
    role_claim: RoleClaim,
}

/// A key set and its generation, swapped together so that whatever was
/// verified with a set can be traced to it: the verified-token cache serves an
/// entry only if it was verified under the generation in force.
///
/// Numbers are unique in the process (one counter for every validator), so a
/// number names one validator's policy and one of its key sets: a cache that
/// serves tokens of several validators (chosen by a
/// [`KeyResolver`](crate::KeyResolver)) tells them apart by the number alone.
#[derive(Debug)]
struct Generation {
    keys: KeySet,
    number: u64,
}

/// The next generation number of any validator.
fn next_generation() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    // Relaxed: only uniqueness matters; a swap publishes its number itself.
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Builds a [`Validator`].
#[derive(Debug)]
#[must_use]
pub struct ValidatorBuilder {
    keys: KeySet,
    leeway: Duration,
    issuer: Option<String>,
    audience: Option<String>,
    types: Option<Vec<String>>,
    max_len: usize,
    max_lifetime: Duration,
    require_subject: bool,
    role_claim: RoleClaim,
}

impl Validator {
    /// Starts a validator for these keys, with the strict defaults.
    pub fn builder(keys: KeySet) -> ValidatorBuilder {
        ValidatorBuilder {
            keys,
            leeway: DEFAULT_LEEWAY,
            issuer: None,
            audience: None,
            types: Some(vec![ACCESS_TOKEN_TYPE.to_owned()]),
            max_len: DEFAULT_MAX_TOKEN_LEN,
            max_lifetime: DEFAULT_MAX_LIFETIME,
            require_subject: true,
            role_claim: RoleClaim::default(),
        }
    }

    /// The keys in force now (cheap to clone).
    pub fn keys(&self) -> KeySet {
        self.inner.keys.load().keys.clone()
    }

    /// The generation of the key set in force: changes with every
    /// [`replace_keys`](Self::replace_keys).
    #[cfg_attr(not(feature = "cache"), allow(dead_code))]
    pub(crate) fn key_generation(&self) -> u64 {
        self.inner.generation.load(Ordering::Acquire)
    }

    /// Replaces the keys, for every layer and issuer sharing this validator:
    /// key rotation without a restart, or a refreshed JWKS (see
    /// [`crate::jwks`]). Tokens in flight are verified with the set they started with.
    ///
    /// Every token verified with the old set is dropped from the verified-token
    /// caches of the layers sharing this validator: a cached entry is served
    /// only under the generation it was verified with. The same public keys
    /// again (a periodic JWKS refresh that found nothing new) change nothing,
    /// and the caches keep their entries.
    pub fn replace_keys(&self, keys: KeySet) {
        if self.inner.keys.load().keys.same_as(&keys) {
            return;
        }
        // `rcu`: two concurrent replacements still give two distinct
        // generations; a number drawn after the current one was installed is
        // larger, so `fetch_max` keeps the mirror on the newest.
        self.inner.keys.rcu(|_| Generation {
            keys: keys.clone(),
            number: next_generation(),
        });
        let installed = self.inner.keys.load().number;
        self.inner.generation.fetch_max(installed, Ordering::AcqRel);
    }

    /// The configured issuer.
    pub fn issuer(&self) -> Option<&str> {
        self.inner.issuer.as_deref()
    }

    /// The configured audience.
    pub fn audience(&self) -> Option<&str> {
        self.inner.audience.as_deref()
    }

    /// The leeway in seconds.
    pub fn leeway_secs(&self) -> u64 {
        self.inner.leeway
    }

    /// The longest lifetime a token may claim, in seconds.
    pub fn max_lifetime_secs(&self) -> u64 {
        self.inner.max_lifetime
    }

    /// Verifies `token` and deserializes its claims into `T`, once.
    ///
    /// This is what the layer runs for each request; call it directly where there
    /// is no HTTP request (a WebSocket message, a gRPC interceptor, a job queue).
    pub fn verify<T: DeserializeOwned>(&self, token: &str) -> Result<Verified<T>, AuthError> {
        self.verify_from(token, TokenSourceKind::Direct)
            .map(|(verified, _)| verified)
    }

    /// [`verify`](Self::verify) for a token found by `source`; also returns the
    /// generation of the key set that verified it.
    pub(crate) fn verify_from<T: DeserializeOwned>(
        &self,
        token: &str,
        source: TokenSourceKind,
    ) -> Result<(Verified<T>, u64), AuthError> {
        let policy = &*self.inner;
        check_shape(token, policy.max_len)?;

        let (message, signature) = token.rsplit_once('.').ok_or(AuthError::Malformed)?;
        let (header, payload) = message.split_once('.').ok_or(AuthError::Malformed)?;
        let header: JoseHeader = decode_part(header)?;
        if header.crit {
            return Err(AuthError::CriticalHeader);
        }
        if let Some(types) = &policy.types
            && !header
                .typ
                .as_deref()
                .is_some_and(|typ| types.iter().any(|t| same_media_type(t, typ)))
        {
            return Err(AuthError::WrongType);
        }
        let generation = policy.keys.load();
        let key = generation
            .keys
            .key_for(header.kid.as_deref())
            .ok_or(AuthError::UnknownKey)?;
        if header.alg != key.alg {
            return Err(AuthError::DisallowedAlgorithm);
        }

        // The signature, by jsonwebtoken, over the exact bytes received.
        let valid =
            jsonwebtoken::crypto::verify(signature, message.as_bytes(), &key.decoding, key.alg)
                .map_err(map_jwt_error)?;
        if !valid {
            return Err(AuthError::BadSignature);
        }

        // The claims: the registered ones for the policy, then the application's
        // `T`, each straight from the verified bytes (as jsonwebtoken does). A
        // duplicated registered claim is refused; for the rest, every reader of
        // the payload uses serde_json's rule (a struct refuses a duplicated
        // field, a map keeps the last), so no two readers disagree.
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| AuthError::Malformed)?;
        let registered: Registered = parse_object(&payload)?;
        let registered = policy.check_claims(registered, now())?;
        let claims: T = serde_json::from_slice(&payload).map_err(|err| {
            // Which field failed and why, for the developer (a signed token
            // that does not fit `T` is a contract mismatch between issuer and
            // app); at debug level, and never in the response.
            tracing::debug!(target: "jwt_layer", claims_type = std::any::type_name::<T>(), error = %err, "verified claims do not deserialize into the claims type");
            AuthError::ClaimsShape
        })?;
        let payload = String::from_utf8(payload).map_err(|_| AuthError::Malformed)?;
        let token = VerifiedToken::new(
            registered,
            payload,
            header.kid,
            key.alg,
            source,
            policy.role_claim.clone(),
        );
        Ok((Verified::new(claims, token), generation.number))
    }
}

impl ValidatorBuilder {
    /// Requires `iss` to be exactly this string.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Requires `aud` to be, or contain, this string.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Clock-skew allowance for `exp`, `nbf` and `iat` (default 30 s, at most 60 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The accepted `typ` header values (default: only `at+jwt`).
    pub fn accept_types<I, S>(mut self, types: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.types = Some(types.into_iter().map(Into::into).collect());
        self
    }

    /// Accepts any `typ`, or none. For tokens from identity providers that do not
    /// type their access tokens; it weakens the defence against token confusion
    /// (an ID token or another JWT signed by the same key passing as an access
    /// token), so pair it with a dedicated audience.
    pub fn accept_any_type(mut self) -> Self {
        self.types = None;
        self
    }

    /// Cap on the token length, checked before any decoding (default 8 KiB).
    pub fn max_token_len(mut self, bytes: usize) -> Self {
        self.max_len = bytes;
        self
    }

    /// The longest lifetime a token may claim (default 24 hours): `exp − iat`,
    /// or `exp − now` for a token without `iat`. A longer-lived token is refused
    /// as `invalid_token` ([`AuthError::LifetimeTooLong`]), whoever signed it: a
    /// leaked signing key or a buggy issuer must not mint tokens that outlive
    /// every rotation and revocation horizon. Access tokens should live minutes.
    pub fn max_lifetime(mut self, lifetime: Duration) -> Self {
        self.max_lifetime = lifetime;
        self
    }

    /// Accepts tokens without a `sub` claim. By default `sub` is required and
    /// must be a non-empty string (RFC 9068 §2.2); use this only for services
    /// that accept tokens not issued to a user (client-credentials tokens of
    /// some providers). An empty `sub` is refused either way.
    pub fn allow_missing_subject(mut self) -> Self {
        self.require_subject = false;
        self
    }

    /// Where roles are read from (default `roles`).
    pub fn role_claim(mut self, claim: RoleClaim) -> Self {
        self.role_claim = claim;
        self
    }

    /// Checks the configuration.
    pub fn build(self) -> Result<Validator, ConfigError> {
        let leeway = self.leeway.as_secs();
        if self.leeway > MAX_LEEWAY {
            return Err(ConfigError::LeewayTooLarge(leeway));
        }
        if self.types.as_ref().is_some_and(Vec::is_empty) {
            return Err(ConfigError::NoTypes);
        }
        if self.keys.is_empty() {
            return Err(ConfigError::NoKeys);
        }
        if self.max_lifetime.as_secs() == 0 {
            return Err(ConfigError::ZeroMaxLifetime);
        }
        if self.issuer.is_none() && self.audience.is_none() {
            tracing::warn!(
                target: "jwt_layer",
                "validator has neither issuer nor audience: any unexpired token signed by \
                 these keys is accepted, whoever it was issued by and for"
            );
        }
        let generation = next_generation();
        Ok(Validator {
            inner: Arc::new(Policy {
                keys: ArcSwap::from_pointee(Generation {
                    keys: self.keys,
                    number: generation,
                }),
                generation: AtomicU64::new(generation),
                leeway,
                issuer: self.issuer,
                audience: self.audience,
                types: self.types,
                max_len: self.max_len,
                max_lifetime: self.max_lifetime.as_secs(),
                require_subject: self.require_subject,
                role_claim: self.role_claim,
            }),
        })
    }
}

impl Policy {
    /// Every claim rule, in one place.
    fn check_claims(&self, raw: Registered, now: u64) -> Result<RegisteredClaims, AuthError> {
        let exp = numeric_date(raw.exp.as_ref())?.ok_or(AuthError::MissingExpiry)?;
        // Strict: a token is dead at `exp` itself (RFC 7519 §4.1.4 "on or after").
        if now >= exp.saturating_add(self.leeway) {
            return Err(AuthError::Expired);
        }
        let nbf = numeric_date(raw.nbf.as_ref())?;
        if nbf.is_some_and(|nbf| nbf > now.saturating_add(self.leeway)) {
            return Err(AuthError::NotYetValid);
        }
        let iat = numeric_date(raw.iat.as_ref())?;
        if iat.is_some_and(|iat| iat > now.saturating_add(self.leeway)) {
            return Err(AuthError::IssuedInFuture);
        }
        if exp.saturating_sub(iat.unwrap_or(now)) > self.max_lifetime {
            return Err(AuthError::LifetimeTooLong);
        }
        let sub = match string_claim(raw.sub)? {
            Some(sub) if sub.is_empty() => return Err(AuthError::MissingSubject),
            None if self.require_subject => return Err(AuthError::MissingSubject),
            sub => sub,
        };
        let iss = match raw.iss {
            None => None,
            Some(Value::String(iss)) => Some(iss),
            Some(_) => return Err(AuthError::WrongIssuer),
        };
        if let Some(expected) = &self.issuer
            && iss.as_deref() != Some(expected.as_str())
        {
            return Err(AuthError::WrongIssuer);
        }
        let aud = match raw.aud {
            None => Vec::new(),
            Some(Value::String(aud)) => vec![aud],
            Some(Value::Array(items)) => items
                .into_iter()
                .map(|item| match item {
                    Value::String(aud) => Ok(aud),
                    _ => Err(AuthError::WrongAudience),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(AuthError::WrongAudience),
        };
        match &self.audience {
            Some(expected) if !aud.iter().any(|a| a == expected) => {
                return Err(AuthError::WrongAudience);
            }
            None if !aud.is_empty() => return Err(AuthError::WrongAudience),
            _ => {}
        }
        Ok(RegisteredClaims {
            iss,
            sub,
            aud,
            exp,
            nbf,
            iat,
            jti: string_claim(raw.jti)?,
            sid: string_claim(raw.sid)?,
        })
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

/// The errors `jsonwebtoken::crypto::verify` can give.
fn map_jwt_error(err: jsonwebtoken::errors::Error) -> AuthError {
    match err.kind() {
        ErrorKind::Base64(_) => AuthError::Malformed,
        ErrorKind::InvalidAlgorithm
        | ErrorKind::MissingAlgorithm
        | ErrorKind::UnsupportedAlgorithm => AuthError::DisallowedAlgorithm,
        // A signature of the wrong length or encoding for the key, or a key the
        // backend refuses: in every case the token does not verify.
        _ => AuthError::BadSignature,
    }
}
