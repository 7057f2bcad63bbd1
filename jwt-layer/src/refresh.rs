//! Refresh tokens: opaque, rotated at each use, with reuse detection (RFC 9700
//! §4.14.2), logout and "log out everywhere".
//!
//! ```
//! use jwt_layer::{Algorithm, KeySet, RefreshTokens, SigningKey, TokenIssuer, Validator};
//! use jwt_layer::store::MemoryStore;
//! use serde_json::json;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let signing = SigningKey::hmac(Algorithm::HS256, &[3; 32])?;
//! let validator = Validator::builder(KeySet::single(signing.verifying_key())).build()?;
//! let tokens = RefreshTokens::new(TokenIssuer::new(signing, validator)?, MemoryStore::new());
//!
//! // Login: a new family.
//! let first = tokens.login("user-1", &json!({ "roles": ["user"] })).await?;
//! // Refresh: the old refresh token dies, a new pair is issued.
//! let second = tokens.refresh(&first.refresh_token).await?;
//! // Replaying the old one is reuse: the whole family is revoked, newest token included.
//! assert!(tokens.refresh(&first.refresh_token).await.is_err());
//! assert!(tokens.refresh(&second.refresh_token).await.is_err());
//! # Ok(()) }
//! ```
//!
//! A refresh token is 256 random bits, base64url (43 characters, no dots), so it
//! can never pass as an access token (a JWT), nor an access token as a refresh
//! token. Only its SHA-256 is stored. Each login starts a *family*; each refresh
//! rotates within it. Access tokens carry the family as `sid`, so revoking the
//! family (logout, reuse) also revokes its access tokens when the layer runs
//! [`RefreshTokens`] as its [revocation check](crate::JwtLayer::revocation).
//!
//! Two refreshes racing with one token: exactly one wins; the other is a reuse
//! and revokes the family. Clients must refresh one request at a time.
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::claims::VerifiedToken;
use crate::issue::{IssueError, IssuedToken, TokenIssuer, random_id, random_token};
use crate::revocation::{RevocationCheck, RevocationError};
use crate::source::BoxFuture;
use crate::store::{Family, RevocationQuery, Rotation, Store, StoreError};
use crate::validate::now;

/// Default absolute lifetime of a family (a login): 30 days.
pub const DEFAULT_ABSOLUTE_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);
/// Default idle timeout of a family: 7 days without a refresh.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);
/// Length of a refresh token: 32 bytes, base64url without padding.
pub const REFRESH_TOKEN_LEN: usize = 43;

/// Issues, rotates and revokes refresh tokens, and mints the access tokens that go
/// with them. Cheap to clone.
#[derive(Clone)]
pub struct RefreshTokens {
    inner: Arc<Inner>,
}

struct Inner {
    issuer: TokenIssuer,
    store: Arc<dyn Store>,
    absolute: u64,
    idle: u64,
}

impl std::fmt::Debug for RefreshTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshTokens")
            .field("absolute_lifetime", &self.inner.absolute)
            .field("idle_timeout", &self.inner.idle)
            .finish_non_exhaustive()
    }
}

/// An access token and a refresh token, serialized as an RFC 6749 §5.1 response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenPair {
    /// The access token and its metadata.
    #[serde(flatten)]
    pub access: IssuedToken,
    /// The new refresh token. Store it like a password.
    pub refresh_token: String,
    /// Seconds until the refresh token dies if unused (idle timeout, capped by the
    /// family's absolute lifetime).
    pub refresh_expires_in: u64,
    /// The family (session) id, also the access token's `sid`.
    #[serde(skip)]
    pub session: String,
}

/// Why a refresh, login or logout failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RefreshError {
    /// Unknown, malformed, expired or revoked refresh token (`invalid_grant`).
    #[error("the refresh token is invalid, expired or revoked")]
    Invalid,
    /// A rotated token was presented again: the family is now revoked. Someone
    /// holds a copy of a refresh token: worth a security alert.
    #[error("the refresh token was already used; the session has been revoked")]
    Reused {
        /// The revoked session (family) id.
        session: String,
        /// Its subject.
        subject: String,
    },
    /// The store could not be reached: nothing was issued (fail closed).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The access token could not be signed.
    #[error(transparent)]
    Issue(#[from] IssueError),
}

impl RefreshTokens {
    /// Refresh tokens kept in `store`, with access tokens signed by `issuer`.
    pub fn new(issuer: TokenIssuer, store: impl Store) -> Self {
        Self::with_shared_store(issuer, Arc::new(store))
    }

    /// As [`new`](Self::new), with a store shared with other users.
    pub fn with_shared_store(issuer: TokenIssuer, store: Arc<dyn Store>) -> Self {
        Self {
            inner: Arc::new(Inner {
                issuer,
                store,
                absolute: DEFAULT_ABSOLUTE_LIFETIME.as_secs(),
                idle: DEFAULT_IDLE_TIMEOUT.as_secs(),
            }),
        }
    }

    fn edit(mut self, f: impl FnOnce(&mut Inner)) -> Self {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => f(inner),
            None => {
                let mut inner = Inner {
                    issuer: self.inner.issuer.clone(),
                    store: Arc::clone(&self.inner.store),
                    absolute: self.inner.absolute,
                    idle: self.inner.idle,
                };
                f(&mut inner);
                self.inner = Arc::new(inner);
            }
        }
        self
    }

    /// How long a login lasts at most, however active (default 30 days).
    pub fn absolute_lifetime(self, lifetime: Duration) -> Self {
        self.edit(|i| i.absolute = lifetime.as_secs())
    }

    /// How long a family lives without a refresh (default 7 days).
    pub fn idle_timeout(self, timeout: Duration) -> Self {
        self.edit(|i| i.idle = timeout.as_secs())
    }

    /// The access token issuer.
    pub fn issuer(&self) -> &TokenIssuer {
        &self.inner.issuer
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// Starts a family for `subject` (after the password was checked) and issues
    /// the first pair. `claims` are the application claims of every access token
    /// of this login; a change of roles takes effect at the next login (call
    /// [`logout_everywhere`](Self::logout_everywhere) to force it).
    pub async fn login<C: Serialize + ?Sized>(
        &self,
        subject: &str,
        claims: &C,
    ) -> Result<TokenPair, RefreshError> {
        let claims =
            serde_json::to_value(claims).map_err(|e| IssueError::Signing(e.to_string()))?;
        let now = now();
        let family = Family {
            id: random_id(),
            subject: subject.to_owned(),
            claims,
            absolute_expiry: now.saturating_add(self.inner.absolute),
            idle_expiry: now.saturating_add(self.inner.idle.min(self.inner.absolute)),
        };
        // Sign first: nothing is stored for a login that cannot be completed.
        let access =
            self.inner
                .issuer
                .issue_in_session(subject, &family.claims, Some(&family.id))?;
        let refresh_token = new_refresh_token();
        self.inner
            .store
            .create_family(&family, &hash(&refresh_token), now)
            .await?;
        Ok(TokenPair {
            access,
            refresh_token,
            refresh_expires_in: family.idle_expiry - now,
            session: family.id,
        })
    }

    /// Rotates `refresh_token`: it dies, and a new pair is issued in its family.
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, RefreshError> {
        if !is_refresh_token_shape(refresh_token) {
            return Err(RefreshError::Invalid);
        }
        let now = now();
        let next = new_refresh_token();
        let rotation = self
            .inner
            .store
            .rotate(&hash(refresh_token), &hash(&next), now, self.inner.idle)
            .await?;
        match rotation {
            Rotation::Rotated(family) => {
                let access = self.inner.issuer.issue_in_session(
                    &family.subject,
                    &family.claims,
                    Some(&family.id),
                )?;
                Ok(TokenPair {
                    access,
                    refresh_token: next,
                    refresh_expires_in: family.idle_expiry.saturating_sub(now),
                    session: family.id,
                })
            }
            Rotation::Reused { family_id, subject } => {
                tracing::warn!(target: "jwt_layer", family = %family_id, %subject, "refresh token reuse detected; family revoked");
                // The store revoked the family; make sure its access tokens stay
                // refused for as long as they could live.
                self.inner
                    .store
                    .revoke_family(&family_id, self.revocation_horizon(now))
                    .await?;
                Err(RefreshError::Reused {
                    session: family_id,
                    subject,
                })
            }
            Rotation::Revoked | Rotation::Expired | Rotation::Unknown => {
                tracing::info!(target: "jwt_layer", outcome = ?rotation, "refresh refused");
                Err(RefreshError::Invalid)
            }
        }
    }

    /// Logout: revokes the family of `refresh_token` (its refresh tokens and,
    /// through the revocation check, its access tokens). An unknown token is not
    /// an error: the session is gone either way.
    pub async fn logout(&self, refresh_token: &str) -> Result<(), RefreshError> {
        if !is_refresh_token_shape(refresh_token) {
            return Ok(());
        }
        if let Some(family) = self.inner.store.family_of(&hash(refresh_token)).await? {
            self.revoke_session(&family.id).await?;
        }
        Ok(())
    }

    /// Revokes one session (family) by id, e.g. the `sid` of an access token.
    pub async fn revoke_session(&self, session: &str) -> Result<(), RefreshError> {
        let horizon = self.revocation_horizon(now());
        Ok(self.inner.store.revoke_family(session, horizon).await?)
    }

    /// Log out everywhere: revokes every family of `subject` (with their refresh
    /// and access tokens), and every access token of it issued up to now outside
    /// any family. A login right after it starts a new, unaffected family.
    pub async fn logout_everywhere(&self, subject: &str) -> Result<(), RefreshError> {
        let now = now();
        Ok(self
            .inner
            .store
            .revoke_subject(subject, now, self.revocation_horizon(now))
            .await?)
    }

    /// Revokes one access token by `jti`, until it expires.
    pub async fn revoke_access_token(&self, token: &VerifiedToken) -> Result<(), RefreshError> {
        let Some(jti) = token.registered().jti.as_deref() else {
            return Ok(());
        };
        let until = token
            .registered()
            .exp
            .saturating_add(self.inner.issuer.validator().leeway_secs() + 1);
        Ok(self.inner.store.deny_jti(jti, until).await?)
    }

    /// Until when a revocation must be remembered: the longest an access token
    /// issued before `now` can still be accepted.
    fn revocation_horizon(&self, now: u64) -> u64 {
        now.saturating_add(self.inner.issuer.ttl().as_secs())
            .saturating_add(self.inner.issuer.validator().leeway_secs() + 1)
    }
}

impl RevocationCheck for RefreshTokens {
    fn check<'a>(&'a self, token: &'a VerifiedToken) -> BoxFuture<'a, Result<(), RevocationError>> {
        Box::pin(async move {
            let query = RevocationQuery {
                family: token.registered().sid.as_deref(),
                subject: token.subject(),
                jti: token.registered().jti.as_deref(),
                issued_at: token.registered().iat.unwrap_or(0),
            };
            match self.inner.store.is_revoked(query, now()).await {
                Ok(false) => Ok(()),
                Ok(true) => Err(RevocationError::Revoked),
                Err(err) => Err(RevocationError::Unavailable(err.0)),
            }
        })
    }
}

/// 256 random bits.
fn new_refresh_token() -> String {
    random_token::<32>()
}

fn is_refresh_token_shape(token: &str) -> bool {
    token.len() == REFRESH_TOKEN_LEN
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The stored form of a refresh token. A plain hash suffices: the token has
/// 256 bits of entropy, so there is nothing to brute-force.
fn hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}
