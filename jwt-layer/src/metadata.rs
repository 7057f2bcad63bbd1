//! RFC 9728 OAuth 2.0 Protected Resource Metadata: the document a client reads
//! at `/.well-known/oauth-protected-resource` to learn which authorization
//! servers this resource trusts (required of MCP servers), and the
//! `resource_metadata` parameter that points to it from every challenge
//! ([`JwtLayer::resource_metadata`](crate::JwtLayer::resource_metadata)).
//!
//! ```
//! use jwt_layer::metadata::ProtectedResourceMetadata;
//!
//! let metadata = ProtectedResourceMetadata::new("https://api.example.com")
//!     .authorization_server("https://auth.example.com");
//! assert_eq!(metadata.well_known_path(), "/.well-known/oauth-protected-resource");
//! assert_eq!(
//!     metadata.well_known_url(),
//!     "https://api.example.com/.well-known/oauth-protected-resource"
//! );
//! let response = metadata.to_response(); // serve it at that path, unauthenticated
//! assert_eq!(response.headers()["content-type"], "application/json");
//! ```
use bytes::Bytes;
use http::{HeaderValue, Response, header};
use serde::Serialize;

/// The well-known path prefix of RFC 9728 §3.
pub const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// An RFC 9728 metadata document (the members this toolkit can vouch for).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[must_use]
pub struct ProtectedResourceMetadata {
    resource: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    authorization_servers: Vec<String>,
    bearer_methods_supported: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    scopes_supported: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_documentation: Option<String>,
}

impl ProtectedResourceMetadata {
    /// The document of `resource` (its identifier, an https URL, RFC 9728 §2),
    /// with `bearer_methods_supported: ["header"]`.
    pub fn new(resource: impl Into<String>) -> Self {
        Self {
            resource: resource.into(),
            authorization_servers: Vec::new(),
            bearer_methods_supported: vec!["header".to_owned()],
            scopes_supported: Vec::new(),
            resource_documentation: None,
        }
    }

    /// Adds an authorization server (its issuer identifier) this resource trusts.
    pub fn authorization_server(mut self, issuer: impl Into<String>) -> Self {
        self.authorization_servers.push(issuer.into());
        self
    }

    /// Adds a scope this resource understands.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scopes_supported.push(scope.into());
        self
    }

    /// The ways a token may be sent: `header`, `body`, `query` (default `["header"]`).
    pub fn bearer_methods<I, S>(mut self, methods: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.bearer_methods_supported = methods.into_iter().map(Into::into).collect();
        self
    }

    /// A page for developers.
    pub fn documentation(mut self, url: impl Into<String>) -> Self {
        self.resource_documentation = Some(url.into());
        self
    }

    /// The path to serve it at: the well-known prefix, then the resource's
    /// own path, if any (RFC 9728 §3.1).
    pub fn well_known_path(&self) -> String {
        let path = self
            .resource
            .parse::<http::Uri>()
            .ok()
            .map(|uri| uri.path().trim_end_matches('/').to_owned())
            .unwrap_or_default();
        format!("{WELL_KNOWN}{path}")
    }

    /// The document's URL, for [`JwtLayer::resource_metadata`](crate::JwtLayer::resource_metadata).
    pub fn well_known_url(&self) -> String {
        let origin = self
            .resource
            .parse::<http::Uri>()
            .ok()
            .and_then(|uri| Some(format!("{}://{}", uri.scheme_str()?, uri.authority()?)))
            .unwrap_or_default();
        format!("{origin}{}", self.well_known_path())
    }

    /// The JSON document.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }

    /// The response serving it: `200`, `application/json`.
    pub fn to_response(&self) -> Response<Bytes> {
        let mut response = Response::new(Bytes::from(self.to_json()));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    }
}
