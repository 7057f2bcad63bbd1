//! How a refusal is answered: the RFC 6750 response (status, `WWW-Authenticate`
//! challenge, JSON body), the gRPC status for gRPC calls, and the
//! [`ErrorResponder`] the layer hands to the guards behind it so that every
//! refusal of the toolkit has one format.
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};

use super::{AuthError, DEFAULT_REALM, ErrorCode};

impl AuthError {
    /// The default response: status, RFC 6750 challenge and a JSON body.
    pub fn to_response(&self, realm: &str) -> Response<Bytes> {
        build_response(
            self.status(),
            self.code(),
            &self.to_string(),
            realm,
            &self.challenge_parameters(),
        )
    }

    /// The refusal of a gRPC request: a trailers-only response (HTTP 200,
    /// `content-type: application/grpc`, `grpc-status`, percent-encoded
    /// `grpc-message`), keeping the RFC 6750 `WWW-Authenticate` challenge.
    pub fn to_grpc_response(&self, realm: &str) -> Response<Bytes> {
        let http = self.to_response(realm);
        let mut response = Response::new(Bytes::new());
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc"),
        );
        headers.insert(
            "grpc-status",
            HeaderValue::from(u16::from(self.grpc_code())),
        );
        if let Ok(message) = HeaderValue::from_str(&grpc_percent_encode(&self.to_string())) {
            headers.insert("grpc-message", message);
        }
        if let Some(challenge) = http.headers().get(header::WWW_AUTHENTICATE) {
            headers.insert(header::WWW_AUTHENTICATE, challenge.clone());
        }
        response
    }
}

/// Whether the request is a gRPC call: `content-type` is `application/grpc`
/// or starts with `application/grpc+` / `application/grpc;`.
pub fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            let value = value.trim().as_bytes();
            let prefix = b"application/grpc";
            value.len() >= prefix.len()
                && value
                    .iter()
                    .zip(prefix)
                    .all(|(a, b)| a.eq_ignore_ascii_case(b))
                && matches!(value.get(prefix.len()), None | Some(b'+' | b';'))
        })
}

/// The gRPC spec's percent-encoding of `grpc-message`: bytes outside
/// `0x20..=0x7E`, and `%`, as `%XX`.
fn grpc_percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if (0x20..=0x7E).contains(&byte) && byte != b'%' {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Builds an RFC 6750 error response: `status`, a `WWW-Authenticate: Bearer` challenge
/// (omitted for 5xx), `Cache-Control: no-store` and a JSON body
/// `{"error": code, "error_description": description}`.
///
/// Used by the layer and by the authorization guards of `jwt-extractor`, so every
/// refusal of the toolkit has one format.
pub fn error_response(
    status: StatusCode,
    code: ErrorCode,
    description: &str,
    realm: &str,
) -> Response<Bytes> {
    build_response(status, code, description, realm, &[])
}

/// [`error_response`] with extra challenge parameters (`scope`, `acr_values`, …).
fn build_response(
    status: StatusCode,
    code: ErrorCode,
    description: &str,
    realm: &str,
    parameters: &[(&'static str, String)],
) -> Response<Bytes> {
    let body = serde_json::json!({
        "error": code.as_str().unwrap_or(match status {
            StatusCode::FORBIDDEN => "forbidden",
            s if s.is_server_error() => "temporarily_unavailable",
            _ => "unauthorized",
        }),
        "error_description": description,
    });
    let mut response = Response::new(Bytes::from(body.to_string()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // A challenge answers "who are you?" (401) or names an RFC 6750 error; a
    // 503 or a cross-site 403 is not about the credentials.
    if status == StatusCode::UNAUTHORIZED || code != ErrorCode::None {
        headers.insert(
            header::WWW_AUTHENTICATE,
            challenge_with(realm, code, description, parameters),
        );
    }
    response
}

/// The `WWW-Authenticate` value for a Bearer challenge (RFC 6750 §3).
pub fn challenge(realm: &str, code: ErrorCode, description: &str) -> HeaderValue {
    challenge_with(realm, code, description, &[])
}

/// [`challenge`] with extra parameters after the description, each value
/// sanitized like the others (they come from configuration, but a header must
/// stay one header whatever a caller puts there).
fn challenge_with(
    realm: &str,
    code: ErrorCode,
    description: &str,
    parameters: &[(&'static str, String)],
) -> HeaderValue {
    let mut value = format!("Bearer realm=\"{}\"", quote_safe(realm));
    if let Some(code) = code.as_str() {
        value.push_str(&format!(
            ", error=\"{code}\", error_description=\"{}\"",
            quote_safe(description)
        ));
        for (name, parameter) in parameters {
            value.push_str(&format!(", {name}=\"{}\"", quote_safe(parameter)));
        }
    }
    // Realm and descriptions are sanitized to visible ASCII, so this cannot fail;
    // fall back to the bare scheme rather than panic if it ever did.
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("Bearer"))
}

/// RFC 6750 §3 restricts these values to %x20-21 / %x23-5B / %x5D-7E.
fn quote_safe(text: &str) -> String {
    text.chars()
        .filter(|c| matches!(*c, ' '..='~') && *c != '"' && *c != '\\')
        .collect()
}

/// Replaces the default refusal: given the error and the realm, build the response.
pub type ErrorHandler = dyn Fn(&AuthError, &str) -> Response<Bytes> + Send + Sync;

/// Answers refusals the way the layer was configured to (realm and response hook).
///
/// The layer hands one to every request it lets through (in its
/// [`RequestAuth`](crate::RequestAuth)), so that authorization guards
/// behind it (`jwt-extractor`'s `RequireRole`) answer in the same format.
/// Cheap to clone.
#[derive(Clone)]
pub struct ErrorResponder {
    realm: std::sync::Arc<str>,
    handler: Option<std::sync::Arc<ErrorHandler>>,
    /// Refusals are gRPC statuses (the request is a gRPC call).
    grpc: bool,
    /// RFC 9728: the metadata URL added to every challenge.
    resource_metadata: Option<std::sync::Arc<str>>,
}

impl std::fmt::Debug for ErrorResponder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ErrorResponder")
            .field("realm", &self.realm)
            .field("custom_handler", &self.handler.is_some())
            .field("grpc", &self.grpc)
            .finish()
    }
}

impl Default for ErrorResponder {
    /// Realm `"api"`, the default RFC 6750 responses.
    fn default() -> Self {
        Self::new(DEFAULT_REALM, None)
    }
}

impl ErrorResponder {
    pub(crate) fn new(realm: &str, handler: Option<std::sync::Arc<ErrorHandler>>) -> Self {
        Self {
            realm: realm.into(),
            handler,
            grpc: false,
            resource_metadata: None,
        }
    }

    /// Adds `resource_metadata="url"` (RFC 9728 §5.1) to every challenge.
    pub(crate) fn with_resource_metadata(mut self, url: Option<&str>) -> Self {
        self.resource_metadata = url.map(Into::into);
        self
    }

    /// This responder, fitted to a request: refusals of a gRPC call (see
    /// [`is_grpc`]) are gRPC statuses. The layer does this for every request.
    #[must_use]
    pub fn for_request(&self, headers: &HeaderMap) -> Self {
        Self {
            grpc: is_grpc(headers),
            ..self.clone()
        }
    }

    /// Whether refusals are gRPC statuses.
    pub fn is_grpc(&self) -> bool {
        self.grpc
    }

    /// The realm.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// The refusal for `err`, with `err` in the response extensions, logged at
    /// `debug` (no credentials) or `info` (anything else) with its reason.
    pub fn respond(&self, err: AuthError) -> Response<Bytes> {
        match err {
            AuthError::Missing => {
                tracing::debug!(target: "jwt_layer", reason = err.reason(), "request refused")
            }
            _ => tracing::info!(target: "jwt_layer", reason = err.reason(), "request refused"),
        }
        let mut response = match &self.handler {
            _ if self.grpc => err.to_grpc_response(&self.realm),
            Some(handler) => handler(&err, &self.realm),
            None => err.to_response(&self.realm),
        };
        if let Some(url) = &self.resource_metadata
            && let Some(challenge) = response.headers().get(header::WWW_AUTHENTICATE)
            && let Ok(challenge) = challenge.to_str()
            && let Ok(value) = HeaderValue::from_str(&format!(
                "{challenge}, resource_metadata=\"{}\"",
                quote_safe(url)
            ))
        {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response.extensions_mut().insert(err);
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_messages_are_percent_encoded() {
        assert_eq!(grpc_percent_encode("plain text"), "plain text");
        assert_eq!(grpc_percent_encode("100% sure"), "100%25 sure");
        assert_eq!(grpc_percent_encode("caf\u{e9}\n"), "caf%C3%A9%0A");
    }

    #[test]
    fn challenge_parameters_follow_the_description() {
        let challenge = |err: AuthError| {
            err.to_response("api").headers()[header::WWW_AUTHENTICATE]
                .to_str()
                .unwrap()
                .to_owned()
        };
        assert_eq!(
            challenge(AuthError::MissingScope {
                scope: "notes:write notes:admin".into()
            }),
            r#"Bearer realm="api", error="insufficient_scope", error_description="The access token lacks the required scope", scope="notes:write notes:admin""#
        );
        assert_eq!(
            challenge(AuthError::InsufficientUserAuthentication {
                acr_values: None,
                max_age: Some(300)
            }),
            r#"Bearer realm="api", error="insufficient_user_authentication", error_description="More recent authentication is required", max_age="300""#
        );
        assert_eq!(
            challenge(AuthError::InsufficientUserAuthentication {
                acr_values: Some("mfa phr".into()),
                max_age: None
            }),
            r#"Bearer realm="api", error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="mfa phr""#
        );
        // Built by hand with hostile text, a parameter still cannot end its
        // quoted string or the header.
        assert_eq!(
            challenge(AuthError::MissingScope {
                scope: "a\", error=\"x\r\nSet-Cookie: y".into()
            }),
            r#"Bearer realm="api", error="insufficient_scope", error_description="The access token lacks the required scope", scope="a, error=xSet-Cookie: y""#
        );
        assert!(AuthError::Expired.challenge_parameters().is_empty());
        assert!(
            AuthError::InsufficientScope
                .challenge_parameters()
                .is_empty()
        );
    }

    #[test]
    fn grpc_content_types() {
        let with = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(value));
            is_grpc(&headers)
        };
        assert!(with("application/grpc"));
        assert!(with("application/grpc+proto"));
        assert!(with("Application/GRPC;charset=utf-8"));
        assert!(!with("application/grpcx"));
        assert!(!with("application/json"));
        assert!(!is_grpc(&HeaderMap::new()));
    }
}
