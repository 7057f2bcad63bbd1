//! Signing access tokens with the same configuration the layer verifies with.
//!
//! ```
//! use jwt_layer::{Algorithm, KeySet, SigningKey, TokenIssuer, Validator};
//! use serde_json::json;
//! use std::time::Duration;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let signing = SigningKey::hmac(Algorithm::HS256, &[1; 32])?.with_kid("k1");
//! let validator = Validator::builder(KeySet::single(signing.verifying_key()))
//!     .issuer("https://auth.example.com")
//!     .audience("https://api.example.com")
//!     .build()?;
//! let issuer = TokenIssuer::new(signing, validator.clone())?.access_ttl(Duration::from_secs(600));
//! let token = issuer.issue("user-1", &json!({ "roles": ["admin"] }))?;
//! assert_eq!(token.token_type, "Bearer");
//! assert_eq!(token.expires_in, 600);
//!
//! let verified = validator.verify::<serde_json::Value>(&token.access_token)?;
//! assert_eq!(verified.token().subject(), Some("user-1"));
//! assert!(verified.token().has_role("admin"));
//! # Ok(()) }
//! ```
//!
//! Every token carries `typ: at+jwt` (RFC 9068), the key's `kid`, `iss` and `aud`
//! from the [`Validator`], `sub`, `iat`, `nbf`, `exp` from the TTL, a random
//! `jti`, and `client_id` when set with [`TokenIssuer::client_id`] (with an
//! issuer and an audience configured, that makes a complete RFC 9068 token);
//! with [`TokenIssuer::issue_authenticated`], also `auth_time`, `acr` and
//! `amr` from an [`Authentication`]. [`TokenIssuer::new`] signs and verifies a probe token, so an issuer whose
//! key or claims the validator would refuse is a configuration error at start-up,
//! not a 401 at the first request.
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey, Header};
use rand::RngCore;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::ConfigError;
use crate::keys::{VerifyingKey, expect_family, invalid};
use crate::validate::{ACCESS_TOKEN_TYPE, Validator, now};

/// Default access token lifetime: 15 minutes.
pub(crate) const DEFAULT_ACCESS_TTL: Duration = Duration::from_secs(15 * 60);

/// Claims the issuer sets itself; application claims may not use these names.
/// `acr`, `amr` and `auth_time` come only from an [`Authentication`], so that
/// no application value (a profile field copied into the claims) can pass for
/// a recent or strong login.
pub(crate) const RESERVED_CLAIMS: [&str; 12] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "nbf",
    "iat",
    "jti",
    "sid",
    "client_id",
    "acr",
    "amr",
    "auth_time",
];

/// Signs access tokens.
#[derive(Clone, Debug)]
pub struct TokenIssuer {
    signing: SigningKey,
    validator: Validator,
    ttl: Duration,
    client_id: Option<String>,
}

/// An access token and its metadata, serialized as an RFC 6749 §5.1 token response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IssuedToken {
    /// The compact JWT.
    pub access_token: String,
    /// Always `"Bearer"`.
    pub token_type: &'static str,
    /// Seconds until it expires.
    pub expires_in: u64,
    /// Its `jti`.
    #[serde(skip)]
    pub jti: String,
    /// Its `exp`.
    #[serde(skip)]
    pub exp: u64,
}

/// Why a token could not be issued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IssueError {
    /// The application claims are not a JSON object.
    #[error("application claims must serialize to a JSON object")]
    NotAnObject,
    /// The application claims use a name the issuer sets itself.
    #[error("claim {0:?} is set by the issuer and cannot be given by the application")]
    ReservedClaim(String),
    /// Serialization or signing failed.
    #[error("signing failed: {0}")]
    Signing(String),
    /// The subject is empty: no validator of this crate would accept the token.
    #[error("the subject of a token cannot be empty")]
    EmptySubject,
    /// The access-token lifetime is longer than the validator's maximum
    /// lifetime, so the token would be refused.
    #[error("access tokens of {ttl} s would exceed the validator's maximum lifetime of {max} s")]
    LifetimeTooLong {
        /// The issuer's access-token lifetime, in seconds.
        ttl: u64,
        /// The validator's maximum lifetime, in seconds.
        max: u64,
    },
}

impl TokenIssuer {
    /// An issuer signing with `signing`, for tokens `validator` accepts.
    ///
    /// Fails if a probe token signed with this key is refused by the validator
    /// (key not in the set, wrong `kid` or algorithm).
    pub fn new(signing: SigningKey, validator: Validator) -> Result<Self, ConfigError> {
        let issuer = Self {
            signing,
            validator,
            ttl: DEFAULT_ACCESS_TTL,
            client_id: None,
        };
        let probe = issuer
            .issue("probe", &Map::new())
            .map_err(|e| ConfigError::InvalidKey {
                what: "signing",
                reason: e.to_string(),
            })?;
        if let Err(err) = issuer.validator.verify::<Value>(&probe.access_token) {
            return Err(ConfigError::InvalidKey {
                what: "signing",
                reason: format!("the validator refuses tokens signed with this key: {err}"),
            });
        }
        Ok(issuer)
    }

    /// Sets the access token lifetime (default 15 minutes).
    ///
    /// It must not exceed the validator's
    /// [maximum lifetime](crate::ValidatorBuilder::max_lifetime) (default 24 h):
    /// [`issue`](Self::issue) refuses with [`IssueError::LifetimeTooLong`].
    pub fn access_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Puts `client_id` in every token: the OAuth client the token was issued
    /// to, which RFC 9068 §2.2 requires of access tokens (e.g. `"web-app"`).
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    /// The access token lifetime.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The validator the tokens are issued for.
    pub fn validator(&self) -> &Validator {
        &self.validator
    }

    /// The signing key.
    pub fn signing_key(&self) -> &SigningKey {
        &self.signing
    }

    /// Signs an access token for `subject` with the application's `claims`
    /// (any `Serialize` that is a JSON object, e.g. a struct or `json!({...})`).
    pub fn issue<C: Serialize + ?Sized>(
        &self,
        subject: &str,
        claims: &C,
    ) -> Result<IssuedToken, IssueError> {
        self.issue_in_session(subject, claims, None)
    }

    /// As [`issue`](Self::issue), recording how and when the user
    /// authenticated: the token carries `auth_time`, and `acr` / `amr` when
    /// set (RFC 9068 §2.2.1), which step-up guards (RFC 9470) check.
    ///
    /// ```
    /// # use jwt_layer::{Algorithm, KeySet, SigningKey, TokenIssuer, Validator};
    /// use jwt_layer::Authentication;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let signing = SigningKey::hmac(Algorithm::HS256, &[1; 32])?;
    /// # let validator = Validator::builder(KeySet::single(signing.verifying_key())).build()?;
    /// # let issuer = TokenIssuer::new(signing, validator.clone())?;
    /// // After the password and a one-time code were checked:
    /// let login = Authentication::now().with_acr("mfa").with_amr(["pwd", "otp"]);
    /// let token = issuer.issue_authenticated("user-1", &serde_json::json!({}), &login)?;
    /// let verified = validator.verify::<serde_json::Value>(&token.access_token)?;
    /// assert_eq!(verified.token().acr(), Some("mfa"));
    /// assert_eq!(verified.token().auth_time(), Some(login.auth_time()));
    /// # Ok(()) }
    /// ```
    pub fn issue_authenticated<C: Serialize + ?Sized>(
        &self,
        subject: &str,
        claims: &C,
        authentication: &Authentication,
    ) -> Result<IssuedToken, IssueError> {
        self.sign(subject, claims, None, Some(authentication))
    }

    /// As [`issue`](Self::issue), with a session id (`sid`): the refresh session the
    /// token belongs to, so that revoking the session also revokes the token.
    pub fn issue_in_session<C: Serialize + ?Sized>(
        &self,
        subject: &str,
        claims: &C,
        session: Option<&str>,
    ) -> Result<IssuedToken, IssueError> {
        self.sign(subject, claims, session, None)
    }

    /// Signs a token: the application's claims, then the issuer's own.
    pub(crate) fn sign<C: Serialize + ?Sized>(
        &self,
        subject: &str,
        claims: &C,
        session: Option<&str>,
        authentication: Option<&Authentication>,
    ) -> Result<IssuedToken, IssueError> {
        let mut object = match serde_json::to_value(claims) {
            Ok(Value::Object(map)) => map,
            Ok(Value::Null) => Map::new(),
            Ok(_) => return Err(IssueError::NotAnObject),
            Err(e) => return Err(IssueError::Signing(e.to_string())),
        };
        if let Some(name) = RESERVED_CLAIMS
            .iter()
            .find(|name| object.contains_key(**name))
        {
            return Err(IssueError::ReservedClaim((*name).to_owned()));
        }
        if subject.is_empty() {
            return Err(IssueError::EmptySubject);
        }
        let expires_in = self.ttl.as_secs();
        let max = self.validator.max_lifetime_secs();
        if expires_in > max {
            return Err(IssueError::LifetimeTooLong {
                ttl: expires_in,
                max,
            });
        }
        let iat = now();
        let exp = iat.saturating_add(expires_in);
        let jti = random_id();
        if let Some(issuer) = self.validator.issuer() {
            object.insert("iss".into(), issuer.into());
        }
        if let Some(audience) = self.validator.audience() {
            object.insert("aud".into(), audience.into());
        }
        object.insert("sub".into(), subject.into());
        object.insert("iat".into(), iat.into());
        object.insert("nbf".into(), iat.into());
        object.insert("exp".into(), exp.into());
        object.insert("jti".into(), jti.clone().into());
        if let Some(client_id) = &self.client_id {
            object.insert("client_id".into(), client_id.as_str().into());
        }
        if let Some(session) = session {
            object.insert("sid".into(), session.into());
        }
        if let Some(authentication) = authentication {
            object.insert("auth_time".into(), authentication.auth_time.into());
            if let Some(acr) = &authentication.acr {
                object.insert("acr".into(), acr.as_str().into());
            }
            if !authentication.amr.is_empty() {
                object.insert("amr".into(), authentication.amr.clone().into());
            }
        }
        let mut header = Header::new(self.signing.algorithm());
        header.typ = Some(ACCESS_TOKEN_TYPE.to_owned());
        header.kid = self.signing.kid().map(str::to_owned);
        let access_token = jsonwebtoken::encode(&header, &object, &self.signing.encoding)
            .map_err(|e| IssueError::Signing(e.to_string()))?;
        Ok(IssuedToken {
            access_token,
            token_type: "Bearer",
            expires_in,
            jti,
            exp,
        })
    }

    /// The public keys of the validator as a JWKS document (HMAC keys are never published).
    pub fn jwks(&self) -> jsonwebtoken::jwk::JwkSet {
        self.validator.keys().jwks()
    }
}

/// How and when the user authenticated: the `auth_time`, `acr` and `amr`
/// claims of the tokens of one login (RFC 9068 §2.2.1, OpenID Connect Core
/// §2).
///
/// Give it to [`TokenIssuer::issue_authenticated`] or
/// [`RefreshTokens::login_authenticated`](crate::RefreshTokens::login_authenticated);
/// refresh sessions keep it, so every access token of a login carries the
/// login's `auth_time`, however often it is refreshed: a refresh is not an
/// authentication.
///
/// ```
/// use jwt_layer::Authentication;
///
/// let password_only = Authentication::now().with_amr(["pwd"]);
/// let strong = Authentication::now().with_acr("mfa").with_amr(["pwd", "otp"]);
/// assert_eq!(strong.acr(), Some("mfa"));
/// assert_eq!(password_only.acr(), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Authentication {
    auth_time: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    acr: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    amr: Vec<String>,
}

impl Authentication {
    /// The user authenticated just now (`auth_time` = the current second), no
    /// `acr`, no `amr`.
    pub fn now() -> Self {
        Self::at(now())
    }

    /// The user authenticated at `auth_time` (seconds since the Unix epoch),
    /// e.g. when an identity provider's login happened before this call.
    pub fn at(auth_time: u64) -> Self {
        Self {
            auth_time,
            acr: None,
            amr: Vec::new(),
        }
    }

    /// Sets the authentication context class reference (`acr`), e.g. `"mfa"`
    /// or a URI your identity provider defines (default: none).
    pub fn with_acr(mut self, acr: impl Into<String>) -> Self {
        self.acr = Some(acr.into());
        self
    }

    /// Sets the authentication methods (`amr`, RFC 8176 values such as
    /// `"pwd"`, `"otp"`, `"hwk"`; default: none).
    pub fn with_amr<I, S>(mut self, methods: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.amr = methods.into_iter().map(Into::into).collect();
        self
    }

    /// When the user authenticated, in seconds since the Unix epoch.
    pub fn auth_time(&self) -> u64 {
        self.auth_time
    }

    /// The `acr`, if set.
    pub fn acr(&self) -> Option<&str> {
        self.acr.as_deref()
    }

    /// The `amr`.
    pub fn amr(&self) -> &[String] {
        &self.amr
    }
}

/// 128 random bits, base64url: for `jti`s.
pub(crate) fn random_id() -> String {
    random_token::<16>()
}

/// `N` random bytes from a CSPRNG, base64url without padding.
pub(crate) fn random_token<const N: usize>() -> String {
    let mut bytes = [0u8; N];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A private key for signing, bound to one algorithm, with its verifying twin.
#[derive(Clone)]
pub struct SigningKey {
    pub(crate) encoding: EncodingKey,
    pub(crate) verifying: VerifyingKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.verifying.kid)
            .field("alg", &self.verifying.alg)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// An HMAC secret (same length rule as [`VerifyingKey::hmac`]).
    pub fn hmac(alg: Algorithm, secret: &[u8]) -> Result<Self, ConfigError> {
        let verifying = VerifyingKey::hmac(alg, secret)?;
        Ok(Self {
            encoding: EncodingKey::from_secret(secret),
            verifying,
        })
    }

    /// An RSA private key in PEM (PKCS#1 or PKCS#8), for `RS*` or `PS*`.
    pub fn rsa_pem(alg: Algorithm, pem: &[u8]) -> Result<Self, ConfigError> {
        expect_family(alg, AlgorithmFamily::Rsa)?;
        let encoding = EncodingKey::from_rsa_pem(pem).map_err(|e| invalid("RSA private", e))?;
        Self::asymmetric(alg, encoding)
    }

    /// An EC private key in PEM (PKCS#8), for `ES256` or `ES384`.
    pub fn ec_pem(alg: Algorithm, pem: &[u8]) -> Result<Self, ConfigError> {
        expect_family(alg, AlgorithmFamily::Ec)?;
        let encoding = EncodingKey::from_ec_pem(pem).map_err(|e| invalid("EC private", e))?;
        Self::asymmetric(alg, encoding)
    }

    /// An Ed25519 private key in PEM (PKCS#8), for `EdDSA`.
    pub fn ed_pem(pem: &[u8]) -> Result<Self, ConfigError> {
        let encoding = EncodingKey::from_ed_pem(pem).map_err(|e| invalid("Ed25519 private", e))?;
        Self::asymmetric(Algorithm::EdDSA, encoding)
    }

    fn asymmetric(alg: Algorithm, encoding: EncodingKey) -> Result<Self, ConfigError> {
        let public = Jwk::from_encoding_key(&encoding, alg).map_err(|e| invalid("private", e))?;
        let decoding = DecodingKey::from_jwk(&public).map_err(|e| invalid("public", e))?;
        Ok(Self {
            encoding,
            verifying: VerifyingKey::from_parts(alg, decoding, Some(public)),
        })
    }

    /// Names this key; issued tokens carry this `kid`.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.verifying = self.verifying.with_kid(kid);
        self
    }

    /// The verifying key, to put into the layer's [`KeySet`](crate::KeySet).
    pub fn verifying_key(&self) -> VerifyingKey {
        self.verifying.clone()
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.verifying.alg
    }

    /// The key id, if any.
    pub fn kid(&self) -> Option<&str> {
        self.verifying.kid.as_deref()
    }
}
