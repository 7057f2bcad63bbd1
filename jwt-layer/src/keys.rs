//! Verification keys, each bound to exactly one algorithm, selected by `kid`.
//!
//! ```
//! use jwt_layer::{Algorithm, VerifyingKey, KeySet};
//!
//! # fn main() -> Result<(), jwt_layer::ConfigError> {
//! // One HMAC key: tokens without a `kid` are verified with it.
//! let keys = KeySet::single(VerifyingKey::hmac(Algorithm::HS256, b"a-secret-of-at-least-32-bytes!!!")?);
//!
//! // During a rotation: two keys, chosen by the token's `kid`.
//! let keys = KeySet::new([
//!     VerifyingKey::hmac(Algorithm::HS256, &[7u8; 32])?.with_kid("2026-10"),
//!     VerifyingKey::hmac(Algorithm::HS512, &[9u8; 64])?.with_kid("2026-11"),
//! ])?;
//! assert_eq!(keys.len(), 2);
//! # Ok(()) }
//! ```
//!
//! A token's header never chooses the key material: `jwk`, `jku`, `x5u` and `x5c`
//! are ignored, an unknown `kid` is refused, and a header `alg` that is not the one
//! bound to the key is refused (no RS256/HS256 confusion, no `alg: none`).
use std::collections::HashMap;
use std::sync::Arc;

use jsonwebtoken::jwk::{
    AlgorithmParameters, Jwk, JwkSet, KeyAlgorithm, KeyOperations, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};

use crate::error::ConfigError;

/// A public key (or HMAC secret) and the one algorithm it verifies.
#[derive(Clone)]
pub struct VerifyingKey {
    pub(crate) kid: Option<String>,
    pub(crate) alg: Algorithm,
    pub(crate) decoding: DecodingKey,
    /// The public JWK, for publishing (never set for HMAC secrets).
    pub(crate) public_jwk: Option<Jwk>,
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

fn family_name(family: AlgorithmFamily) -> &'static str {
    match family {
        AlgorithmFamily::Hmac => "HMAC",
        AlgorithmFamily::Rsa => "RSA",
        AlgorithmFamily::Ec => "EC",
        AlgorithmFamily::Ed => "EdDSA",
    }
}

pub(crate) fn expect_family(alg: Algorithm, family: AlgorithmFamily) -> Result<(), ConfigError> {
    if alg.family() == family {
        Ok(())
    } else {
        Err(ConfigError::AlgorithmMismatch {
            alg,
            family: family_name(family),
        })
    }
}

pub(crate) fn invalid(what: &'static str, err: jsonwebtoken::errors::Error) -> ConfigError {
    ConfigError::InvalidKey {
        what,
        reason: err.to_string(),
    }
}

/// The smallest HMAC secret RFC 7518 §3.2 allows: the size of the hash output.
pub(crate) fn min_hmac_len(alg: Algorithm) -> usize {
    match alg {
        Algorithm::HS384 => 48,
        Algorithm::HS512 => 64,
        _ => 32,
    }
}

impl VerifyingKey {
    /// An HMAC secret for `HS256`, `HS384` or `HS512`.
    ///
    /// Refuses secrets shorter than the hash output (32, 48, 64 bytes).
    pub fn hmac(alg: Algorithm, secret: &[u8]) -> Result<Self, ConfigError> {
        expect_family(alg, AlgorithmFamily::Hmac)?;
        let min = min_hmac_len(alg);
        if secret.len() < min {
            return Err(ConfigError::SecretTooShort {
                alg,
                len: secret.len(),
                min,
            });
        }
        Ok(Self::from_parts(
            alg,
            DecodingKey::from_secret(secret),
            None,
        ))
    }

    /// An RSA public key in PEM, for `RS256/384/512` or `PS256/384/512`.
    pub fn rsa_pem(alg: Algorithm, pem: &[u8]) -> Result<Self, ConfigError> {
        expect_family(alg, AlgorithmFamily::Rsa)?;
        let key = DecodingKey::from_rsa_pem(pem).map_err(|e| invalid("RSA", e))?;
        Self::asymmetric(alg, key)
    }

    /// An RSA public key in DER (PKCS#1), for `RS*` or `PS*`.
    pub fn rsa_der(alg: Algorithm, der: &[u8]) -> Result<Self, ConfigError> {
        expect_family(alg, AlgorithmFamily::Rsa)?;
        Self::asymmetric(alg, DecodingKey::from_rsa_der(der))
    }

    /// An EC public key in PEM, for `ES256` (P-256) or `ES384` (P-384).
    pub fn ec_pem(alg: Algorithm, pem: &[u8]) -> Result<Self, ConfigError> {
        expect_family(alg, AlgorithmFamily::Ec)?;
        let key = DecodingKey::from_ec_pem(pem).map_err(|e| invalid("EC", e))?;
        Self::asymmetric(alg, key)
    }

    /// An EC public key in DER, for `ES256` or `ES384`.
    pub fn ec_der(alg: Algorithm, der: &[u8]) -> Result<Self, ConfigError> {
        expect_family(alg, AlgorithmFamily::Ec)?;
        Self::asymmetric(alg, DecodingKey::from_ec_der(der))
    }

    /// An Ed25519 public key in PEM, for `EdDSA`.
    pub fn ed_pem(pem: &[u8]) -> Result<Self, ConfigError> {
        let key = DecodingKey::from_ed_pem(pem).map_err(|e| invalid("Ed25519", e))?;
        Self::asymmetric(Algorithm::EdDSA, key)
    }

    /// An Ed25519 public key in DER, for `EdDSA`.
    pub fn ed_der(der: &[u8]) -> Result<Self, ConfigError> {
        Self::asymmetric(Algorithm::EdDSA, DecodingKey::from_ed_der(der))
    }

    /// A key from a JWK. The JWK must name its algorithm (`alg`); its `kid`, if any,
    /// is kept. Symmetric (`oct`) JWKs go through the same length check as [`VerifyingKey::hmac`].
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, ConfigError> {
        let alg = match jwk.common.key_algorithm {
            Some(key_alg) => algorithm_of(key_alg)?,
            None => {
                return Err(ConfigError::InvalidKey {
                    what: "JWK",
                    reason: "the JWK has no \"alg\"; each key must be bound to one algorithm"
                        .into(),
                });
            }
        };
        let decoding = DecodingKey::from_jwk(jwk).map_err(|e| invalid("JWK", e))?;
        expect_family(alg, decoding.family())?;
        let mut key = if alg.family() == AlgorithmFamily::Hmac {
            let secret = decoding.try_get_as_bytes().map_err(|e| invalid("JWK", e))?;
            Self::hmac(alg, secret)?
        } else {
            Self::asymmetric(alg, decoding)?
        };
        key.kid = jwk.common.key_id.clone();
        if let Some(public) = key.public_jwk.as_mut() {
            public.common.key_id = key.kid.clone();
        }
        Ok(key)
    }

    /// Names this key: tokens whose header carries this `kid` are verified with it.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        let kid = kid.into();
        if let Some(public) = self.public_jwk.as_mut() {
            public.common.key_id = Some(kid.clone());
        }
        self.kid = Some(kid);
        self
    }

    /// The key id, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The one algorithm this key verifies.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The public key as a JWK (`None` for HMAC secrets, which are never published).
    pub fn public_jwk(&self) -> Option<&Jwk> {
        self.public_jwk.as_ref()
    }

    fn asymmetric(alg: Algorithm, decoding: DecodingKey) -> Result<Self, ConfigError> {
        let jwk = Jwk::from_decoding_key(&decoding, Some(alg)).ok();
        Ok(Self::from_parts(alg, decoding, jwk))
    }

    pub(crate) fn from_parts(
        alg: Algorithm,
        decoding: DecodingKey,
        public_jwk: Option<Jwk>,
    ) -> Self {
        Self {
            kid: None,
            alg,
            decoding,
            public_jwk,
        }
    }
}

/// Why a key of a JWKS document must not verify signatures, or `None` if it may.
///
/// A JWKS is a public document: a symmetric (`oct`) key in it is a published
/// secret with which anyone can sign, so it is never used, whatever its other
/// members say. Otherwise a key verifies only if its `use` is absent or `sig`
/// and its `key_ops` are absent or include `verify` (RFC 7517 §4.2, §4.3).
fn unusable_in_jwks(jwk: &Jwk) -> Option<&'static str> {
    if matches!(jwk.algorithm, AlgorithmParameters::OctetKey(_)) {
        return Some(
            "a symmetric (\"oct\") key in a JWKS document is a published secret: anyone could sign with it",
        );
    }
    if !matches!(
        jwk.common.public_key_use,
        None | Some(PublicKeyUse::Signature)
    ) {
        return Some("its \"use\" is not \"sig\"");
    }
    if let Some(ops) = &jwk.common.key_operations
        && !ops.iter().any(|op| matches!(op, KeyOperations::Verify))
    {
        return Some("its \"key_ops\" do not include \"verify\"");
    }
    None
}

fn key_algorithm_of(alg: Algorithm) -> Option<KeyAlgorithm> {
    format!("{alg:?}").parse().ok()
}

fn algorithm_of(key_alg: KeyAlgorithm) -> Result<Algorithm, ConfigError> {
    let name = format!("{key_alg:?}");
    name.parse::<Algorithm>()
        .map_err(|_| ConfigError::InvalidKey {
            what: "JWK",
            reason: format!("algorithm {name} is not a JWS signing algorithm"),
        })
}

/// The keys a layer verifies with.
///
/// Cheap to clone. With one key, tokens without `kid` use it; with several, every key
/// needs a distinct `kid` and tokens must name one.
#[derive(Clone, Debug)]
pub struct KeySet {
    inner: Arc<KeySetInner>,
}

#[derive(Debug)]
struct KeySetInner {
    keys: Vec<VerifyingKey>,
    by_kid: HashMap<String, usize>,
}

impl KeySet {
    /// A set of one key.
    pub fn single(key: VerifyingKey) -> Self {
        let by_kid = key.kid.iter().map(|k| (k.clone(), 0)).collect();
        Self {
            inner: Arc::new(KeySetInner {
                keys: vec![key],
                by_kid,
            }),
        }
    }

    /// A set of keys. With more than one key, each needs a distinct `kid`.
    pub fn new(keys: impl IntoIterator<Item = VerifyingKey>) -> Result<Self, ConfigError> {
        let keys: Vec<VerifyingKey> = keys.into_iter().collect();
        if keys.is_empty() {
            return Err(ConfigError::NoKeys);
        }
        let mut by_kid = HashMap::new();
        for (index, key) in keys.iter().enumerate() {
            match &key.kid {
                Some(kid) if by_kid.insert(kid.clone(), index).is_some() => {
                    return Err(ConfigError::DuplicateKid(kid.clone()));
                }
                None if keys.len() > 1 => return Err(ConfigError::DuplicateKid(String::new())),
                _ => {}
            }
        }
        Ok(Self {
            inner: Arc::new(KeySetInner { keys, by_kid }),
        })
    }

    /// A set from a JWKS document (for example one fetched from an identity
    /// provider).
    ///
    /// - Keys that are not for verifying signatures (`use` other than `sig`,
    ///   `key_ops` without `verify`) are skipped.
    /// - A symmetric (`kty: "oct"`) key refuses the whole set: a secret in a public
    ///   document lets anyone sign, so the provider is misconfigured and none of
    ///   its keys should be trusted until it is fixed.
    /// - Every other key must name its `alg`, or the whole set is refused (a key
    ///   must be bound to one algorithm, and guessing it is how algorithm
    ///   confusion starts).
    pub fn from_jwks(jwks: &JwkSet) -> Result<Self, ConfigError> {
        let mut keys = Vec::new();
        for jwk in &jwks.keys {
            match unusable_in_jwks(jwk) {
                None => keys.push(VerifyingKey::from_jwk(jwk)?),
                Some(reason) if matches!(jwk.algorithm, AlgorithmParameters::OctetKey(_)) => {
                    return Err(ConfigError::InvalidKey {
                        what: "JWKS",
                        reason: reason.to_owned(),
                    });
                }
                Some(reason) => {
                    tracing::debug!(target: "jwt_layer", kid = ?jwk.common.key_id, reason, "skipping a JWKS key");
                }
            }
        }
        Self::new(keys)
    }

    /// As [`from_jwks`](Self::from_jwks), for providers whose JWKS leaves out
    /// `alg` (Microsoft Entra ID, for one): keys without `alg` are bound to
    /// `assumed`, when their type fits it. Keys that cannot be used (another key
    /// type, an unsupported curve, a symmetric key, not for signatures) are
    /// skipped with a warning instead of failing the whole set; it fails only
    /// if no key is left.
    pub fn from_jwks_assuming(jwks: &JwkSet, assumed: Algorithm) -> Result<Self, ConfigError> {
        let keys: Vec<VerifyingKey> = jwks
            .keys
            .iter()
            .filter_map(|jwk| {
                if let Some(reason) = unusable_in_jwks(jwk) {
                    tracing::warn!(target: "jwt_layer", kid = ?jwk.common.key_id, reason, "skipping a JWKS key");
                    return None;
                }
                let mut jwk = jwk.clone();
                if jwk.common.key_algorithm.is_none() {
                    jwk.common.key_algorithm = key_algorithm_of(assumed);
                }
                match VerifyingKey::from_jwk(&jwk) {
                    Ok(key) => Some(key),
                    Err(err) => {
                        tracing::warn!(target: "jwt_layer", kid = ?jwk.common.key_id, %err, "skipping a JWKS key");
                        None
                    }
                }
            })
            .collect();
        Self::new(keys)
    }

    /// How many keys are in the set.
    pub fn len(&self) -> usize {
        self.inner.keys.len()
    }

    /// Whether the set is empty (never, for a constructed set).
    pub fn is_empty(&self) -> bool {
        self.inner.keys.is_empty()
    }

    /// The keys, in the order given.
    pub fn keys(&self) -> &[VerifyingKey] {
        &self.inner.keys
    }

    /// The public keys as a JWKS document, for `/.well-known/jwks.json`.
    /// HMAC secrets are never included.
    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: self
                .inner
                .keys
                .iter()
                .filter_map(|key| key.public_jwk.clone())
                .collect(),
        }
    }

    /// Whether a token naming `kid` (or none) would find a key here.
    pub fn has_key_for(&self, kid: Option<&str>) -> bool {
        self.key_for(kid).is_some()
    }

    /// Whether `other` verifies exactly what this set verifies: the same
    /// public keys with the same `kid`s and algorithms, in the same order. An
    /// HMAC secret never compares equal (its material is not kept to compare).
    pub(crate) fn same_as(&self, other: &KeySet) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
            || (self.inner.keys.len() == other.inner.keys.len()
                && self.inner.keys.iter().zip(&other.inner.keys).all(|(a, b)| {
                    a.kid == b.kid
                        && a.alg == b.alg
                        && a.public_jwk.is_some()
                        && a.public_jwk == b.public_jwk
                }))
    }

    /// The key for a token header's `kid`: the one named, or the only key
    /// when the token names none.
    pub(crate) fn key_for(&self, kid: Option<&str>) -> Option<&VerifyingKey> {
        let index = match kid {
            Some(kid) => *self.inner.by_kid.get(kid)?,
            None if self.inner.keys.len() == 1 => 0,
            None => return None,
        };
        self.inner.keys.get(index)
    }
}
