//! Why a request was refused, and how the refusal is answered.
//!
//! ```
//! use jwt_layer::{AuthError, ErrorCode};
//! use http::StatusCode;
//!
//! let err = AuthError::Expired;
//! assert_eq!(err.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(err.code(), ErrorCode::InvalidToken);
//! let response = err.to_response("api");
//! assert_eq!(
//!     response.headers()["www-authenticate"],
//!     r#"Bearer realm="api", error="invalid_token", error_description="The access token expired""#
//! );
//! ```
//!
//! Every rejection is an [`AuthError`]. By default it is answered the RFC 6750 way:
//!
//! | error                                   | status | `WWW-Authenticate`                          |
//! |-----------------------------------------|--------|---------------------------------------------|
//! | no credentials at all                   | 401    | `Bearer realm="…"` (no error code, §3.1)    |
//! | malformed, forged, expired, wrong claim | 401    | `Bearer realm="…", error="invalid_token"`   |
//! | conflicting or duplicated credentials   | 400    | `Bearer realm="…", error="invalid_request"` |
//! | revoked                                 | 401    | `error="invalid_token"`                     |
//! | revocation store unreachable            | 503    | none (not the client's fault)               |
//! | user loader: unknown user               | 401    | `error="invalid_token"`                     |
//! | user loader: user not allowed           | 403    | none                                        |
//! | user loader: cannot load (database down)| 503    | none                                        |
//! | missing role or failed policy (guards)  | 403    | `error="insufficient_scope"`                |
//! | missing OAuth scope (scope guards)      | 403    | `error="insufficient_scope"`, `scope="…"` (RFC 6750 §3) |
//! | authentication too weak or too old (step-up guards) | 401 | `error="insufficient_user_authentication"`, `acr_values="…"` or `max_age="…"` (RFC 9470 §3) |
//! | cross-site cookie request (CSRF)        | 403    | none                                        |
//!
//! The body is a small JSON document with the same `error` and a fixed
//! `error_description`. Descriptions are constants: they never echo token bytes.
//! The parameters after the description (`scope`, `acr_values`, `max_age`)
//! say what the route requires; they come from the guard's configuration,
//! never from the token ([`AuthError::challenge_parameters`]):
//!
//! ```text
//! WWW-Authenticate: Bearer realm="api", error="insufficient_scope", error_description="The access token lacks the required scope", scope="notes:write"
//! WWW-Authenticate: Bearer realm="api", error="insufficient_user_authentication", error_description="More recent authentication is required", max_age="300"
//! ```
//! Expired tokens say `"The access token expired"` so a client knows to refresh.
//!
//! The typed error is also put in the response extensions, so an outer layer can
//! log or reshape it. Replace the whole response with
//! [`JwtLayer::on_error`](crate::JwtLayer::on_error).
//!
//! # gRPC
//! A request whose `content-type` is `application/grpc` (or `application/grpc+…`)
//! is refused with a gRPC status instead (a "trailers-only" response: HTTP 200,
//! `grpc-status` and `grpc-message` in the headers, no body), which is what gRPC
//! clients read; the `WWW-Authenticate` challenge is kept as a header:
//!
//! | HTTP refusal | `grpc-status` |
//! |---|---|
//! | 401 | 16 `UNAUTHENTICATED` |
//! | 403 | 7 `PERMISSION_DENIED` |
//! | 400 | 3 `INVALID_ARGUMENT` |
//! | 503 | 14 `UNAVAILABLE` |
//!
//! The choice is made by the [`ErrorResponder`], which the layer fits to each
//! request, so `jwt-extractor`'s guards behind it answer gRPC too. A custom
//! [`on_error`](crate::JwtLayer::on_error) hook shapes HTTP refusals only.
use http::StatusCode;

mod response;
pub use response::{ErrorHandler, ErrorResponder, challenge, error_response, is_grpc};

/// The default realm in `WWW-Authenticate` challenges (`Bearer realm="api"`);
/// see [`JwtLayer::realm`](crate::JwtLayer::realm).
pub const DEFAULT_REALM: &str = "api";
/// Why a token or a request was refused.
///
/// `Display` gives a fixed, client-safe description; it never contains token bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No credentials were sent (and the layer is in required mode).
    #[error("No access token was provided")]
    Missing,
    /// The token is not a well-formed compact JWS (length, charset, dots, base64, JSON).
    #[error("The access token is malformed")]
    Malformed,
    /// The `Authorization` header is not a valid `Bearer` credential.
    #[error("The Authorization header is malformed")]
    MalformedHeader,
    /// Credentials were sent twice, or two sources disagree.
    #[error("Conflicting or duplicated credentials")]
    ConflictingCredentials,
    /// The header names an algorithm that is not allowed, or not the one bound to the key.
    #[error("The access token algorithm is not accepted")]
    DisallowedAlgorithm,
    /// The header's `kid` is unknown, or no `kid` was sent and several keys are configured.
    #[error("The access token key is unknown")]
    UnknownKey,
    /// The header carries a `crit` parameter (none is understood, RFC 7515 §4.1.11).
    #[error("The access token has unsupported critical header parameters")]
    CriticalHeader,
    /// The header's `typ` is not one of the accepted types.
    #[error("The access token type is not accepted")]
    WrongType,
    /// The signature does not verify.
    #[error("The access token signature is invalid")]
    BadSignature,
    /// `exp` is missing.
    #[error("The access token has no expiry")]
    MissingExpiry,
    /// `exp` is in the past (leeway included).
    #[error("The access token expired")]
    Expired,
    /// `nbf` is in the future (leeway included).
    #[error("The access token is not valid yet")]
    NotYetValid,
    /// `iat` is in the future (leeway included).
    #[error("The access token was issued in the future")]
    IssuedInFuture,
    /// `exp` is further after `iat` (or, without `iat`, after now) than the
    /// validator's maximum lifetime allows.
    #[error("The access token lifetime is too long")]
    LifetimeTooLong,
    /// `sub` is missing (and the validator requires one) or empty.
    #[error("The access token has no subject")]
    MissingSubject,
    /// `iss` is missing, not a single string, or not the configured issuer.
    #[error("The access token issuer is not accepted")]
    WrongIssuer,
    /// `aud` is missing or does not contain the configured audience.
    #[error("The access token audience is not accepted")]
    WrongAudience,
    /// A registered claim has the wrong JSON type (e.g. a string `exp`).
    #[error("The access token has an invalid claim")]
    InvalidClaim,
    /// The claims do not deserialize into the application's claims type.
    #[error("The access token claims do not match the expected shape")]
    ClaimsShape,
    /// The token (or its session or subject) was revoked.
    #[error("The access token was revoked")]
    Revoked,
    /// The revocation store could not be asked: the request fails closed.
    #[error("The token revocation store is unavailable")]
    StoreUnavailable,
    /// A custom token source failed.
    #[error("The credentials could not be read")]
    SourceFailed,
    /// A cookie-authenticated request with an unsafe method came from another
    /// site (403); see [`crate::csrf`].
    #[error("Cross-site request refused")]
    CrossSiteRequest,
    /// Authenticated, but the token lacks a role or fails a policy (403).
    #[error("The access token lacks the required role or permission")]
    InsufficientScope,
    /// Authenticated, but the token lacks an OAuth scope the route requires
    /// (403, `error="insufficient_scope"` with `scope="…"`, RFC 6750 §3).
    #[error("The access token lacks the required scope")]
    MissingScope {
        /// What to ask the authorization server for: scope tokens separated by
        /// one space, the `scope` challenge parameter. It comes from the
        /// server's configuration (the guard's type), never from the token.
        scope: String,
    },
    /// Authenticated, but the user's authentication behind the token is too
    /// weak or too old for the route (401,
    /// `error="insufficient_user_authentication"`, RFC 9470 §3): the client
    /// has the user authenticate again, asking for `acr_values` / `max_age`,
    /// and retries with the new token.
    #[error("{}", step_up_description(.acr_values.is_some(), .max_age.is_some()))]
    InsufficientUserAuthentication {
        /// The acceptable `acr` values, space-separated, in order of
        /// preference: the `acr_values` challenge parameter.
        acr_values: Option<String>,
        /// The largest accepted age of the authentication (`now - auth_time`),
        /// in seconds: the `max_age` challenge parameter.
        max_age: Option<u64>,
    },
    /// The [user loader](crate::JwtLayer::load_user) knows no such user, or
    /// none to let in (passport's `done(null, false)`).
    #[error("The access token's user is not accepted")]
    UnknownUser,
    /// The [user loader](crate::JwtLayer::load_user) found the user, who may
    /// not use this service (403).
    #[error("The user is not allowed to use this service")]
    UserForbidden,
    /// The [user loader](crate::JwtLayer::load_user) could not load the user:
    /// the request fails closed (503).
    #[error("The user could not be loaded")]
    UserUnavailable,
}

/// The fixed descriptions of RFC 9470 refusals (the RFC's own wording where
/// it has one).
fn step_up_description(acr: bool, max_age: bool) -> &'static str {
    match (acr, max_age) {
        (true, false) => "A different authentication level is required",
        (false, true) => "More recent authentication is required",
        _ => "A more recent or stronger authentication is required",
    }
}

/// The RFC 6750 §3.1 error code an [`AuthError`] maps to.
///
/// Non-exhaustive: later RFCs add codes (RFC 9470 added
/// `insufficient_user_authentication`), and a new one must not break your
/// `match`; `as_str` gives the wire form of any of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorCode {
    /// No code: the request carried no credentials at all.
    None,
    /// `invalid_request`: the request is malformed.
    InvalidRequest,
    /// `invalid_token`: the token is malformed, forged, expired or otherwise invalid.
    InvalidToken,
    /// `insufficient_scope`: authenticated, but not allowed (used by authorization guards).
    InsufficientScope,
    /// `insufficient_user_authentication` (RFC 9470): authenticated, but the
    /// user must authenticate again, more recently or more strongly.
    InsufficientUserAuthentication,
}

impl ErrorCode {
    /// The code as it appears in `error="…"`, if any.
    pub fn as_str(self) -> Option<&'static str> {
        match self {
            ErrorCode::None => None,
            ErrorCode::InvalidRequest => Some("invalid_request"),
            ErrorCode::InvalidToken => Some("invalid_token"),
            ErrorCode::InsufficientScope => Some("insufficient_scope"),
            ErrorCode::InsufficientUserAuthentication => Some("insufficient_user_authentication"),
        }
    }
}

impl AuthError {
    /// The RFC 6750 error code.
    pub fn code(&self) -> ErrorCode {
        match self {
            AuthError::Missing => ErrorCode::None,
            AuthError::MalformedHeader | AuthError::ConflictingCredentials => {
                ErrorCode::InvalidRequest
            }
            AuthError::StoreUnavailable | AuthError::SourceFailed | AuthError::UserUnavailable => {
                ErrorCode::None
            }
            AuthError::InsufficientScope | AuthError::MissingScope { .. } => {
                ErrorCode::InsufficientScope
            }
            AuthError::InsufficientUserAuthentication { .. } => {
                ErrorCode::InsufficientUserAuthentication
            }
            AuthError::CrossSiteRequest | AuthError::UserForbidden => ErrorCode::None,
            _ => ErrorCode::InvalidToken,
        }
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            AuthError::MalformedHeader | AuthError::ConflictingCredentials => {
                StatusCode::BAD_REQUEST
            }
            AuthError::StoreUnavailable | AuthError::SourceFailed | AuthError::UserUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            AuthError::InsufficientScope
            | AuthError::MissingScope { .. }
            | AuthError::CrossSiteRequest
            | AuthError::UserForbidden => StatusCode::FORBIDDEN,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    /// A short machine-readable reason, used in logs (`reason = "expired"`).
    pub fn reason(&self) -> &'static str {
        match self {
            AuthError::Missing => "missing",
            AuthError::Malformed => "malformed",
            AuthError::MalformedHeader => "malformed_header",
            AuthError::ConflictingCredentials => "conflicting_credentials",
            AuthError::DisallowedAlgorithm => "disallowed_algorithm",
            AuthError::UnknownKey => "unknown_key",
            AuthError::CriticalHeader => "critical_header",
            AuthError::WrongType => "wrong_type",
            AuthError::BadSignature => "bad_signature",
            AuthError::MissingExpiry => "missing_expiry",
            AuthError::Expired => "expired",
            AuthError::NotYetValid => "not_yet_valid",
            AuthError::IssuedInFuture => "issued_in_future",
            AuthError::LifetimeTooLong => "lifetime_too_long",
            AuthError::MissingSubject => "missing_subject",
            AuthError::WrongIssuer => "wrong_issuer",
            AuthError::WrongAudience => "wrong_audience",
            AuthError::InvalidClaim => "invalid_claim",
            AuthError::ClaimsShape => "claims_shape",
            AuthError::Revoked => "revoked",
            AuthError::StoreUnavailable => "store_unavailable",
            AuthError::SourceFailed => "source_failed",
            AuthError::InsufficientScope => "insufficient_scope",
            AuthError::CrossSiteRequest => "cross_site_request",
            AuthError::UnknownUser => "unknown_user",
            AuthError::UserForbidden => "user_forbidden",
            AuthError::UserUnavailable => "user_unavailable",
            AuthError::MissingScope { .. } => "missing_scope",
            AuthError::InsufficientUserAuthentication { .. } => "insufficient_user_authentication",
        }
    }

    /// The challenge parameters this error adds after `error_description`:
    /// `scope` ([`MissingScope`](Self::MissingScope)), `acr_values` and
    /// `max_age` ([`InsufficientUserAuthentication`](Self::InsufficientUserAuthentication)),
    /// in that order; empty for every other error. For an
    /// [`on_error`](crate::JwtLayer::on_error) hook that writes its own challenge.
    pub fn challenge_parameters(&self) -> Vec<(&'static str, String)> {
        match self {
            AuthError::MissingScope { scope } => vec![("scope", scope.clone())],
            AuthError::InsufficientUserAuthentication {
                acr_values,
                max_age,
            } => acr_values
                .iter()
                .map(|acr| ("acr_values", acr.clone()))
                .chain(max_age.map(|age| ("max_age", age.to_string())))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The gRPC status code this error is answered with on a gRPC request:
    /// 16 `UNAUTHENTICATED`, 7 `PERMISSION_DENIED`, 3 `INVALID_ARGUMENT` or
    /// 14 `UNAVAILABLE`.
    pub fn grpc_code(&self) -> u8 {
        match self.status() {
            StatusCode::FORBIDDEN => 7,
            StatusCode::BAD_REQUEST => 3,
            StatusCode::SERVICE_UNAVAILABLE => 14,
            _ => 16,
        }
    }
}

/// An error in the layer's or a key's configuration, found when it is built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// An HMAC secret shorter than the hash output (RFC 7518 §3.2).
    #[error(
        "HMAC secret for {alg:?} is {len} bytes; at least {min} bytes are required (RFC 7518 §3.2)"
    )]
    SecretTooShort {
        /// The algorithm.
        alg: jsonwebtoken::Algorithm,
        /// The length given.
        len: usize,
        /// The minimum length.
        min: usize,
    },
    /// A key could not be parsed.
    #[error("invalid {what} key: {reason}")]
    InvalidKey {
        /// What kind of key was expected.
        what: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// The algorithm does not fit the key's family.
    #[error("algorithm {alg:?} cannot be used with a {family} key")]
    AlgorithmMismatch {
        /// The algorithm.
        alg: jsonwebtoken::Algorithm,
        /// The key family.
        family: &'static str,
    },
    /// The key set is empty.
    #[error("the key set is empty: add at least one key")]
    NoKeys,
    /// Two keys share a `kid`, or several keys were added without a `kid`.
    #[error("duplicate key id {0:?}: each key needs a distinct kid")]
    DuplicateKid(String),
    /// The leeway is larger than the 60 s this library allows.
    #[error("leeway of {0} s is larger than the maximum of 60 s")]
    LeewayTooLarge(u64),
    /// The refresh token reuse grace is larger than the 60 s this library allows.
    #[error("refresh token reuse grace of {0} ms is larger than the maximum of 60 s")]
    ReuseGraceTooLarge(u128),
    /// The list of accepted `typ` values is empty.
    #[error("the list of accepted token types is empty")]
    NoTypes,
    /// The maximum token lifetime is zero.
    #[error("the maximum token lifetime must be at least one second")]
    ZeroMaxLifetime,
    /// A validator chosen by issuer has no issuer configured.
    #[error("a validator chosen by issuer must have an issuer configured")]
    MissingIssuer,
    /// The same issuer was added twice.
    #[error("issuer {0:?} was added twice")]
    DuplicateIssuer(String),
    /// A cookie name that is not an RFC 6265 token (empty, or with spaces,
    /// separators or non-ASCII bytes): no browser would send it back as named.
    #[error("{0:?} is not a valid cookie name (RFC 6265 §4.1.1: a token)")]
    InvalidCookieName(String),
}
