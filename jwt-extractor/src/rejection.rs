//! Rejections of the extractors: small types that answer like the layer does.
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use jwt_layer::{AuthError, ErrorResponder};

/// An extractor refused the request: no credentials (401), not allowed (403), or
/// the route has no [`JwtLayer`](jwt_layer::JwtLayer) in front of it (500).
///
/// 401 and 403 are answered with the layer's own [`ErrorResponder`] (realm and
/// response hook), so every refusal of an application has one format.
#[derive(Debug)]
pub struct Rejection {
    kind: RejectionKind,
    responder: ErrorResponder,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum RejectionKind {
    Auth(AuthError),
    MissingLayer(&'static str),
    MissingUserLoader(&'static str),
}

impl Rejection {
    pub(crate) fn auth(err: AuthError, responder: Option<&ErrorResponder>) -> Self {
        Self {
            kind: RejectionKind::Auth(err),
            responder: responder.cloned().unwrap_or_default(),
        }
    }

    pub(crate) fn missing_layer(what: &'static str, claims_type: &'static str) -> Self {
        tracing::error!(
            target: "jwt_extractor",
            claims_type,
            "{what} used on a route without `JwtLayer<{claims_type}>` in front of it \
             (add `.layer(JwtLayer::<{claims_type}>::new(...))` or `.route_layer(...)` to the router, \
             and check the claims type is the same in the layer and the extractor)"
        );
        Self {
            kind: RejectionKind::MissingLayer(claims_type),
            responder: ErrorResponder::default(),
        }
    }

    pub(crate) fn missing_user_loader(what: &'static str, user_type: &'static str) -> Self {
        tracing::error!(
            target: "jwt_extractor",
            user_type,
            "{what} used on a route whose JwtLayer loads no `{user_type}` \
             (add `.load_user(...)` returning `{user_type}` to the JwtLayer in front of it, \
             and check the user type is the same in the loader and the extractor)"
        );
        Self {
            kind: RejectionKind::MissingUserLoader(user_type),
            responder: ErrorResponder::default(),
        }
    }

    /// The authentication error, if this is a 401 or 403.
    pub fn auth_error(&self) -> Option<&AuthError> {
        match &self.kind {
            RejectionKind::Auth(err) => Some(err),
            RejectionKind::MissingLayer(_) | RejectionKind::MissingUserLoader(_) => None,
        }
    }

    /// The status this rejection answers with.
    pub fn status(&self) -> StatusCode {
        match &self.kind {
            RejectionKind::Auth(err) => err.status(),
            RejectionKind::MissingLayer(_) | RejectionKind::MissingUserLoader(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// Whether this is the "no layer in front" programming error (no
    /// `JwtLayer` for the claims type, or none that loads the user type).
    pub fn is_missing_layer(&self) -> bool {
        matches!(
            self.kind,
            RejectionKind::MissingLayer(_) | RejectionKind::MissingUserLoader(_)
        )
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            RejectionKind::Auth(err) => err.fmt(f),
            RejectionKind::MissingLayer(claims) => {
                write!(f, "no JwtLayer<{claims}> in front of this route")
            }
            RejectionKind::MissingUserLoader(user) => {
                write!(f, "no JwtLayer loading a {user} in front of this route")
            }
        }
    }
}

impl std::error::Error for Rejection {}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        match self.kind {
            RejectionKind::Auth(err) => self.responder.respond(err).map(Body::from),
            // The details went to the log; the client learns nothing about our setup.
            RejectionKind::MissingLayer(_) | RejectionKind::MissingUserLoader(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal server error").into_response()
            }
        }
    }
}
