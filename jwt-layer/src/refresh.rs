//! Refresh tokens: opaque, rotated at each use, with reuse detection at any
//! depth (RFC 9700 §4.14.2), logout and "log out everywhere".
//!
//! ```
//! use jwt_layer::{Algorithm, KeySet, RefreshError, RefreshTokens, SigningKey, TokenIssuer, Validator};
//! use jwt_layer::store::MemoryStore;
//! use serde_json::json;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let signing = SigningKey::hmac(Algorithm::HS256, &[3; 32])?;
//! let validator = Validator::builder(KeySet::single(signing.verifying_key())).build()?;
//! let tokens = RefreshTokens::new(TokenIssuer::new(signing, validator)?, MemoryStore::new());
//!
//! // Login: a new session.
//! let first = tokens.login("user-1", &json!({ "roles": ["user"] })).await?;
//! // Refresh: the old refresh token dies, a new pair is issued.
//! let second = tokens.refresh(&first.refresh_token).await?;
//! // Replaying the old one is reuse: the whole session is revoked, newest token included.
//! assert!(matches!(tokens.refresh(&first.refresh_token).await, Err(RefreshError::Reused { .. })));
//! assert_eq!(tokens.refresh(&second.refresh_token).await, Err(RefreshError::Invalid));
//! # Ok(()) }
//! ```
//!
//! # The token
//! A refresh token is `<handle>.<secret>`: a 128-bit session handle and a
//! 256-bit secret, both random and base64url (22 + 1 + 43 characters). It has
//! exactly one dot, so it can never pass as a JWT (which has two), nor a JWT as
//! a refresh token; its shape is checked before any store access.
//!
//! Each login starts a *session* (RFC 9700 calls it a refresh token family).
//! The store keeps per session a constant amount of state, whatever the number
//! of rotations: the subject, the claims, the login's
//! [`Authentication`] (`auth_time`, `acr`, `amr`,
//! which every access token of the session repeats: a refresh is not a new
//! login), the SHA-256 of the current secret
//! (and of the previous one), the generation and times. A refresh presents the
//! handle, which names the session, and the secret:
//! - the current secret: the session rotates atomically (new secret,
//!   generation + 1);
//! - any other secret: **reuse**. Someone holds a copy of a refresh token of
//!   this session, at any depth: the session is revoked, newest token and access
//!   tokens included, and [`RefreshError::Reused`] is returned;
//! - an unknown session or a malformed token: [`RefreshError::Invalid`]
//!   (`invalid_grant`).
//!
//! Nothing is remembered per rotation, so nothing is ever forgotten: replaying
//! the first token of a session after a million rotations is still reuse.
//!
//! The access tokens carry the session's id as `sid`. It is derived from the
//! handle by SHA-256, so an access token (which travels further: logs, other
//! services) does not reveal the handle, and only someone who has seen a
//! refresh token can present one of this session. The layer checks `sid` when
//! it runs [`RefreshTokens`] as its [revocation check](crate::JwtLayer::revocation):
//! an access token is good only while its session exists (revoking a session
//! deletes it; the store keeps it until its last access token has expired),
//! belongs to the token's subject, and predates no "log out everywhere".
//!
//! # Bounds
//! Per session, the store keeps one record, whatever the number of rotations.
//! Per subject, at most a fixed number of sessions (64 by default; the oldest
//! is evicted, which logs it out). "Log out everywhere" is one write: a
//! per-subject epoch that sessions created before it fail, at refresh and at
//! the revocation check.
//!
//! # Concurrent refreshes
//! By default (`reuse_grace` of 0) two refreshes racing with one token are
//! strict: exactly one wins, the other is reuse and revokes the session.
//! Browsers with several tabs do race; [`RefreshTokens::reuse_grace`] then
//! allows a short window (at most 60 s) in which the *immediately previous*
//! secret is answered `invalid_grant` **without** revoking: the losing tab
//! retries with the cookie the winner set. The losing request never gets a new
//! pair (that would fork the session into two live branches, one of which
//! could be a thief's). Older secrets, and the previous one after the window,
//! are reuse as always. The cost, per RFC 9700 §4.14.2, is that a thief who
//! replays a token in the window right after the victim's refresh is refused
//! but not detected; keep the window as short as your clients allow.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::claims::VerifiedToken;
use crate::error::ConfigError;
use crate::future::BoxFuture;
use crate::issue::{Authentication, IssueError, IssuedToken, TokenIssuer, random_token};
use crate::revocation::{RevocationCheck, RevocationError};
use crate::store::{NewSession, RevocationQuery, Rotation, RotationRequest, Store, StoreError};

/// Default absolute lifetime of a session (a login): 30 days.
pub(crate) const DEFAULT_ABSOLUTE_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);
/// Default idle timeout of a session: 7 days without a refresh.
pub(crate) const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);
/// The longest [`RefreshTokens::reuse_grace`] allowed: 60 s.
pub const MAX_REUSE_GRACE: Duration = Duration::from_secs(60);
/// Length of a refresh token: a 16-byte handle, a dot, a 32-byte secret, each
/// base64url without padding (22 + 1 + 43).
pub(crate) const REFRESH_TOKEN_LEN: usize = HANDLE_LEN + 1 + SECRET_LEN;

const HANDLE_LEN: usize = 22;
const SECRET_LEN: usize = 43;

/// Issues, rotates and revokes refresh tokens, and mints the access tokens that go
/// with them. Cheap to clone.
#[derive(Clone)]
pub struct RefreshTokens {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    issuer: TokenIssuer,
    store: Arc<dyn Store>,
    absolute: Duration,
    idle: Duration,
    reuse_grace: Duration,
}

impl std::fmt::Debug for RefreshTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshTokens")
            .field("absolute_lifetime", &self.inner.absolute)
            .field("idle_timeout", &self.inner.idle)
            .field("reuse_grace", &self.inner.reuse_grace)
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
    /// session's absolute lifetime).
    pub refresh_expires_in: u64,
    /// The session id, also the access token's `sid`.
    #[serde(skip)]
    pub session: String,
}

/// Why a refresh, login or logout failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RefreshError {
    /// Unknown, malformed, expired or revoked refresh token, or one just
    /// replaced by a concurrent refresh within the reuse grace (`invalid_grant`).
    #[error("the refresh token is invalid, expired or revoked")]
    Invalid,
    /// A secret of the session other than the current one was presented: the
    /// session is now revoked. Someone holds a copy of a refresh token: worth a
    /// security alert.
    #[error("the refresh token was already used; the session has been revoked")]
    Reused {
        /// The revoked session id.
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
                absolute: DEFAULT_ABSOLUTE_LIFETIME,
                idle: DEFAULT_IDLE_TIMEOUT,
                reuse_grace: Duration::ZERO,
            }),
        }
    }

    fn edit(mut self, f: impl FnOnce(&mut Inner)) -> Self {
        f(Arc::make_mut(&mut self.inner));
        self
    }

    /// How long a login lasts at most, however active (default 30 days).
    pub fn absolute_lifetime(self, lifetime: Duration) -> Self {
        self.edit(|i| i.absolute = lifetime)
    }

    /// How long a session lives without a refresh (default 7 days).
    pub fn idle_timeout(self, timeout: Duration) -> Self {
        self.edit(|i| i.idle = timeout)
    }

    /// Opt-in tolerance for concurrent refreshes (default 0: strict). Within
    /// `grace` after a rotation, the immediately previous secret is refused
    /// with [`RefreshError::Invalid`] *without* revoking the session (see the
    /// [module docs](self) for why it never gets a new pair). Older secrets,
    /// and the previous one after the grace, are reuse.
    ///
    /// Fails with [`ConfigError::ReuseGraceTooLarge`] above
    /// [`MAX_REUSE_GRACE`] (60 s): a longer window is a longer time in which a
    /// replayed token goes undetected.
    pub fn reuse_grace(self, grace: Duration) -> Result<Self, ConfigError> {
        if grace > MAX_REUSE_GRACE {
            return Err(ConfigError::ReuseGraceTooLarge(grace.as_millis()));
        }
        Ok(self.edit(|i| i.reuse_grace = grace))
    }

    /// The access token issuer.
    pub fn issuer(&self) -> &TokenIssuer {
        &self.inner.issuer
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// Starts a session for `subject` (after the password was checked) and
    /// issues the first pair. `claims` are the application claims of every
    /// access token of this login; a change of roles takes effect at the next
    /// login (call [`logout_everywhere`](Self::logout_everywhere) to force it).
    /// Beyond the store's per-subject bound, the subject's oldest session is
    /// evicted.
    ///
    /// The tokens carry `auth_time` = now (the user just authenticated); use
    /// [`login_authenticated`](Self::login_authenticated) to record `acr` and
    /// `amr` as well.
    pub async fn login<C: Serialize + ?Sized>(
        &self,
        subject: &str,
        claims: &C,
    ) -> Result<TokenPair, RefreshError> {
        self.login_authenticated(subject, claims, &Authentication::now())
            .await
    }

    /// As [`login`](Self::login), recording how and when the user
    /// authenticated. The session keeps `authentication`: every access token
    /// of this login, refreshed or not, carries its `auth_time`, `acr` and
    /// `amr`. A refresh is not an authentication, so it never makes a login
    /// look more recent to a step-up guard (RFC 9470); only a new login does.
    pub async fn login_authenticated<C: Serialize + ?Sized>(
        &self,
        subject: &str,
        claims: &C,
        authentication: &Authentication,
    ) -> Result<TokenPair, RefreshError> {
        let claims =
            serde_json::to_value(claims).map_err(|e| IssueError::Signing(e.to_string()))?;
        let now = now_ms();
        let handle = random_token::<16>();
        let secret = random_token::<32>();
        let session = session_id(&handle);
        let absolute_expiry_ms = now.saturating_add(millis(self.inner.absolute));
        let idle_expiry_ms = now
            .saturating_add(millis(self.inner.idle))
            .min(absolute_expiry_ms);
        // Sign first: nothing is stored for a login that cannot be completed.
        let access =
            self.inner
                .issuer
                .sign(subject, &claims, Some(&session), Some(authentication))?;
        self.inner
            .store
            .create_session(
                NewSession {
                    id: &session,
                    subject,
                    claims: &claims,
                    authentication,
                    secret_hash: &hash(&secret),
                    absolute_expiry_ms,
                    idle_expiry_ms,
                    revocation_horizon_ms: self.revocation_horizon_ms(),
                },
                now,
            )
            .await?;
        Ok(TokenPair {
            access,
            refresh_token: format!("{handle}.{secret}"),
            refresh_expires_in: idle_expiry_ms.saturating_sub(now) / 1000,
            session,
        })
    }

    /// Rotates `refresh_token`: it dies, and a new pair is issued in its session.
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, RefreshError> {
        let Some((handle, secret)) = parse(refresh_token) else {
            tracing::info!(target: "jwt_layer", "refresh refused: not a refresh token");
            return Err(RefreshError::Invalid);
        };
        let session = session_id(handle);
        let now = now_ms();
        let next = random_token::<32>();
        let rotation = self
            .inner
            .store
            .rotate(
                RotationRequest {
                    id: &session,
                    presented_hash: &hash(secret),
                    next_hash: &hash(&next),
                    idle_timeout_ms: millis(self.inner.idle),
                    reuse_grace_ms: millis(self.inner.reuse_grace),
                    revocation_horizon_ms: self.revocation_horizon_ms(),
                },
                now,
            )
            .await?;
        match rotation {
            Rotation::Rotated(state) => {
                // The login's authentication, not now: a refresh is not a login.
                let access = self.inner.issuer.sign(
                    &state.subject,
                    &state.claims,
                    Some(&session),
                    Some(&state.authentication),
                )?;
                Ok(TokenPair {
                    access,
                    refresh_token: format!("{handle}.{next}"),
                    refresh_expires_in: state.idle_expiry_ms.saturating_sub(now) / 1000,
                    session,
                })
            }
            Rotation::Reused { subject } => {
                tracing::warn!(target: "jwt_layer", security_event = "refresh_token_reuse", %subject, %session, "refresh token reuse detected; session revoked");
                Err(RefreshError::Reused { session, subject })
            }
            outcome @ (Rotation::Superseded
            | Rotation::Expired
            | Rotation::LoggedOut
            | Rotation::Unknown) => {
                tracing::info!(target: "jwt_layer", ?outcome, %session, "refresh refused");
                Err(RefreshError::Invalid)
            }
        }
    }

    /// Logout: revokes the session named by `refresh_token` (its refresh tokens
    /// and, through the revocation check, its access tokens). Only the handle is
    /// needed: whoever holds any refresh token of the session may end it. A
    /// malformed token or an unknown session is not an error: the session is
    /// gone either way.
    pub async fn logout(&self, refresh_token: &str) -> Result<(), RefreshError> {
        let Some((handle, _)) = parse(refresh_token) else {
            return Ok(());
        };
        self.revoke_session(&session_id(handle)).await
    }

    /// Revokes one session by id, e.g. the `sid` of an access token.
    pub async fn revoke_session(&self, session: &str) -> Result<(), RefreshError> {
        Ok(self.inner.store.revoke_session(session, now_ms()).await?)
    }

    /// Log out everywhere, in O(1) whatever the number of sessions: every
    /// session of `subject` created before now is revoked (refresh and access
    /// tokens), and every access token of it outside any session issued up to
    /// this second. A login right after it starts a new, unaffected session.
    pub async fn logout_everywhere(&self, subject: &str) -> Result<(), RefreshError> {
        let now = now_ms();
        // Kept for as long as a session created before now could live, plus
        // the life of its last access token.
        let until = now
            .saturating_add(millis(self.inner.absolute))
            .saturating_add(self.revocation_horizon_ms());
        Ok(self.inner.store.revoke_subject(subject, now, until).await?)
    }

    /// Revokes one access token by `jti`, until it expires.
    pub async fn revoke_access_token(&self, token: &VerifiedToken) -> Result<(), RefreshError> {
        let Some(jti) = token.registered().jti.as_deref() else {
            return Ok(());
        };
        let until = token
            .registered()
            .exp
            .saturating_add(self.inner.issuer.validator().leeway_secs())
            .saturating_add(1)
            .saturating_mul(1000);
        Ok(self.inner.store.deny_jti(jti, now_ms(), until).await?)
    }

    /// The longest an access token can still be accepted after it was issued:
    /// what a session record must outlive.
    fn revocation_horizon_ms(&self) -> u64 {
        millis(self.inner.issuer.ttl())
            .saturating_add(
                self.inner
                    .issuer
                    .validator()
                    .leeway_secs()
                    .saturating_mul(1000),
            )
            .saturating_add(1000)
    }
}

impl RefreshTokens {
    /// The revocations these refresh tokens record, as a [`StoreRevocations`]
    /// on the same store: for another layer in this process that verifies
    /// these tokens (another router, another audience). `RefreshTokens` is a
    /// [`RevocationCheck`] itself; this is the part of it that needs no issuer.
    pub fn revocations(&self) -> StoreRevocations {
        StoreRevocations::shared(Arc::clone(&self.inner.store))
    }
}

impl RevocationCheck for RefreshTokens {
    fn check<'a>(&'a self, token: &'a VerifiedToken) -> BoxFuture<'a, Result<(), RevocationError>> {
        Box::pin(check_store(self.inner.store.as_ref(), token))
    }
}

/// The revocations that an issuer's [`RefreshTokens`] records in a shared
/// [`Store`], as a [`RevocationCheck`] for a service that verifies the
/// issuer's tokens but does not issue them.
///
/// A resource server that only checks signatures accepts a token its issuer
/// has revoked (a logout, "log out everywhere", a password change) until the
/// token expires. Given the issuer's store, a Redis both can reach, it refuses
/// such a token at once, with exactly the answers of the issuer's own layer:
/// `401` for a revoked token, and `503`, never a pass, when the store cannot
/// answer. Use it for the tokens of the one issuer whose store it is.
///
/// It must read exactly what the issuer writes: with Redis, the same server,
/// database and key prefix ([`RedisStore::with_prefix`](crate::store::RedisStore::with_prefix)).
/// Pointed elsewhere, it finds no session for a token that names one (`sid`),
/// which it refuses (401, at once visible), but it also finds no "log out
/// everywhere" and no denied `jti`, which it cannot tell from "none made".
///
/// ```
/// use jwt_layer::store::Store;
/// use jwt_layer::{JwtLayer, KeySet, StoreRevocations, Validator, VerifyingKey};
/// // `issuers_store`: a `RedisStore` connected to the issuer's Redis.
/// # fn demo(issuer_key: VerifyingKey, issuers_store: impl Store + Clone) -> Result<(), jwt_layer::ConfigError> {
/// let validator = Validator::builder(KeySet::single(issuer_key))
///     .issuer("https://auth.example.com")
///     .audience("reports-api")
///     .build()?;
/// let auth = JwtLayer::<serde_json::Value>::new(validator)
///     .revocation(StoreRevocations::new(issuers_store));
/// # let _ = auth; Ok(()) }
/// ```
///
/// A store that lives in this process, such as a `MemoryStore`, is not a
/// handle: moved in here it would be a private copy the issuer never writes
/// to, and every revoked token would pass. `new` therefore takes only stores
/// whose clones share their data, and this does not compile:
///
/// ```compile_fail,E0277
/// # use jwt_layer::{store::MemoryStore, StoreRevocations};
/// let revocations = StoreRevocations::new(MemoryStore::new());
/// ```
///
/// In one process, share the issuer's store itself:
/// [`RefreshTokens::revocations`], or [`shared`](Self::shared) with the
/// `Arc` the issuer was built with.
#[derive(Clone)]
pub struct StoreRevocations {
    store: Arc<dyn Store>,
}

impl std::fmt::Debug for StoreRevocations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreRevocations").finish_non_exhaustive()
    }
}

impl StoreRevocations {
    /// Checks tokens against `store`, a handle to the issuer's store whose
    /// clones share its data (a `RedisStore`: every clone talks to the same
    /// Redis). `Clone` is required so that an in-process store cannot be moved
    /// in by mistake (see above).
    pub fn new<S: Store + Clone>(store: S) -> Self {
        Self::shared(Arc::new(store))
    }

    /// Checks tokens against `store`, the very store (the same `Arc`) the
    /// issuer's [`RefreshTokens`] was built with
    /// ([`RefreshTokens::with_shared_store`]).
    pub fn shared(store: Arc<dyn Store>) -> Self {
        Self { store }
    }
}

impl RevocationCheck for StoreRevocations {
    fn check<'a>(&'a self, token: &'a VerifiedToken) -> BoxFuture<'a, Result<(), RevocationError>> {
        Box::pin(check_store(self.store.as_ref(), token))
    }
}

/// The one revocation check of this crate, for [`RefreshTokens`] and
/// [`StoreRevocations`] alike: the token's session (`sid`), subject
/// ("log out everywhere") and `jti`, asked of `store`.
async fn check_store(store: &dyn Store, token: &VerifiedToken) -> Result<(), RevocationError> {
    let query = RevocationQuery {
        session: token.registered().sid.as_deref(),
        subject: token.subject(),
        jti: token.registered().jti.as_deref(),
        issued_at: token.registered().iat.unwrap_or(0),
    };
    match store.is_revoked(query, now_ms()).await {
        Ok(false) => Ok(()),
        Ok(true) => Err(RevocationError::Revoked),
        Err(err) => Err(RevocationError::Unavailable(err.0)),
    }
}

/// Unix milliseconds, the clock of every store call.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, millis)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Splits a refresh token into handle and secret if it has the exact shape
/// this module issues; anything else (a JWT, garbage, an oversized string) is
/// refused before any store access, without allocating.
fn parse(token: &str) -> Option<(&str, &str)> {
    if token.len() != REFRESH_TOKEN_LEN {
        return None;
    }
    let (handle, secret) = token.split_once('.')?;
    let base64url = |part: &str| {
        part.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    (handle.len() == HANDLE_LEN
        && secret.len() == SECRET_LEN
        && base64url(handle)
        && base64url(secret))
    .then_some((handle, secret))
}

/// The session id (`sid`) of a handle. One-way, so that `sid`, which every
/// access token shows, does not let anyone name the session in a refresh.
fn session_id(handle: &str) -> String {
    let mut digest = Sha256::new();
    digest.update(b"jwt-layer session id\0");
    digest.update(handle.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.finalize())
}

/// The stored form of a secret. A plain hash suffices: the secret has 256
/// bits of entropy, so there is nothing to brute-force.
fn hash(secret: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_check_refuses_everything_but_handle_dot_secret() {
        let good = format!("{}.{}", "a".repeat(22), "b".repeat(43));
        assert!(parse(&good).is_some());
        for bad in [
            String::new(),
            ".".repeat(66),
            format!("{}.{}", "a".repeat(21), "b".repeat(44)),
            format!("{}..{}", "a".repeat(22), "b".repeat(42)),
            format!("{}.{}", "a".repeat(22), "b+".repeat(21) + "b"),
            "a".repeat(66),
            format!("{}.{}", "é".repeat(11), "b".repeat(43)),
            "x.y.z".into(),
        ] {
            assert!(parse(&bad).is_none(), "{bad:?}");
        }
    }
}
