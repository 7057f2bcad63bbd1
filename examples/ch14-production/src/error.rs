//! The errors of the account endpoints, as JSON in the style of RFC 6749 §5.2:
//! `{"error": "...", "error_description": "..."}`, never cached.
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jwt_layer::RefreshError;
use jwt_layer::issue::IssueError;
use jwt_layer::password::PasswordError;

// ANCHOR: api_error
/// Every way an account endpoint can refuse. Each variant is one answer; the
/// details of internal failures go to the log, never to the client.
#[derive(Debug)]
pub enum ApiError {
    /// Wrong username or password: one answer for both.
    InvalidCredentials,
    /// A request refused before any work (a short password, a bad username).
    InvalidRequest(&'static str),
    /// Sign-up with a name that exists.
    UsernameTaken,
    /// A refresh token that is unknown, expired, revoked or reused.
    InvalidGrant(&'static str),
    /// Too many login attempts for this account or from this address, or too
    /// many sign-ups from this address.
    TooManyRequests {
        /// When to try again (`Retry-After`, in whole seconds, rounded up).
        retry_after: std::time::Duration,
    },
    /// Overloaded, or the database cannot be reached: try again later.
    Unavailable,
    /// A bug or a resource problem.
    Internal,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, error, description) = match self {
            ApiError::InvalidCredentials => (
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "invalid username or password",
            ),
            ApiError::InvalidRequest(why) => (StatusCode::BAD_REQUEST, "invalid_request", why),
            ApiError::InvalidGrant(why) => (StatusCode::BAD_REQUEST, "invalid_grant", why),
            ApiError::UsernameTaken => (
                StatusCode::CONFLICT,
                "username_taken",
                "this username is taken",
            ),
            ApiError::TooManyRequests { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                "too many attempts; try again later",
            ),
            ApiError::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "try again later",
            ),
            ApiError::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "internal error",
            ),
        };
        let body = Json(serde_json::json!({ "error": error, "error_description": description }));
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let ApiError::TooManyRequests { retry_after } = self {
            // Whole seconds, rounded up: retrying after that many always succeeds.
            let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        response
    }
}
// ANCHOR_END: api_error

// ANCHOR: from
/// `?` on a password operation in a handler turns its error into an answer.
impl From<PasswordError> for ApiError {
    fn from(err: PasswordError) -> Self {
        match err {
            // A flood of logins: refuse for now rather than queue without end.
            PasswordError::Busy => ApiError::Unavailable,
            PasswordError::TooLong => ApiError::InvalidRequest("the password is too long"),
            other => {
                tracing::error!(err = %other, "password hashing failed");
                ApiError::Internal
            }
        }
    }
}

/// The database: down or overloaded means 503 (fail closed), anything else is a bug.
impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        tracing::error!(%err, "database error");
        match err {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                ApiError::Unavailable
            }
            _ => ApiError::Internal,
        }
    }
}
// ANCHOR_END: from

// ANCHOR: issue
/// Signing failed: a bug or a broken key, never the client's fault.
impl From<IssueError> for ApiError {
    fn from(err: IssueError) -> Self {
        tracing::error!(%err, "could not sign a token");
        ApiError::Internal
    }
}
// ANCHOR_END: issue

// ANCHOR: refresh
/// A refused refresh is `invalid_grant` (RFC 6749 §5.2): the client must log
/// in again. A store that cannot be reached is 503: nothing was issued.
impl From<RefreshError> for ApiError {
    fn from(err: RefreshError) -> Self {
        match err {
            RefreshError::Invalid => {
                ApiError::InvalidGrant("the refresh token is invalid, expired or revoked")
            }
            RefreshError::Reused { .. } => ApiError::InvalidGrant(
                "the refresh token was already used; the session has been revoked",
            ),
            RefreshError::Store(err) => {
                tracing::error!(%err, "token store unavailable");
                ApiError::Unavailable
            }
            other => {
                tracing::error!(err = %other, "refresh failed");
                ApiError::Internal
            }
        }
    }
}
// ANCHOR_END: refresh
