//! gRPC refusals: behind the layer, a real tonic client (tonic-health's
//! pre-generated client, over loopback HTTP/2) sees `UNAUTHENTICATED` and
//! `PERMISSION_DENIED` statuses, not HTTP JSON.
mod common;

use std::net::SocketAddr;

use axum::body::Body;
use axum::middleware::{self, Next};
use axum::response::Response;
use common::*;
use http::Request;
use jwt_layer::{AuthError, JwtLayer, RequestAuth, VerifiedToken};
use serde_json::json;
use tokio::net::TcpListener;
use tonic::Code;
use tonic::metadata::MetadataValue;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

/// A guard the way `jwt-extractor`'s are written: refuses through the
/// responder the layer left in the extensions.
async fn require_role(request: Request<Body>, next: Next) -> Response {
    let allowed = VerifiedToken::from_extensions(request.extensions())
        .is_some_and(|token| token.has_role("health"));
    if allowed {
        return next.run(request).await;
    }
    let responder = request
        .extensions()
        .get::<RequestAuth>()
        .map(|authentication| authentication.responder().clone())
        .unwrap_or_default();
    responder
        .respond(AuthError::InsufficientScope)
        .map(Body::from)
}

/// The health service of tonic-health, behind the layer (and the guard), on 127.0.0.1:0.
async fn grpc_server() -> SocketAddr {
    let (_reporter, health) = tonic_health::server::health_reporter();
    let router = tonic::service::Routes::new(health)
        .into_axum_router()
        .layer(middleware::from_fn(require_role))
        .layer(JwtLayer::<serde_json::Value>::new(validator()));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

async fn check(addr: SocketAddr, token: Option<&str>) -> Result<i32, tonic::Status> {
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = HealthClient::new(channel);
    let mut request = tonic::Request::new(HealthCheckRequest {
        service: String::new(),
    });
    if let Some(token) = token {
        let value: MetadataValue<_> = format!("Bearer {token}").parse().unwrap();
        request.metadata_mut().insert("authorization", value);
    }
    client
        .check(request)
        .await
        .map(|response| response.into_inner().status)
}

#[tokio::test]
async fn a_tonic_client_sees_grpc_statuses() {
    let addr = grpc_server().await;

    // No token: UNAUTHENTICATED, with the RFC 6750 challenge kept as metadata.
    let status = check(addr, None).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert_eq!(status.message(), "No access token was provided");
    assert_eq!(
        status.metadata().get("www-authenticate").unwrap(),
        r#"Bearer realm="api""#
    );

    // A forged token: UNAUTHENTICATED, invalid_token.
    let mut claims = good_claims();
    claims["exp"] = json!(now() - 3600);
    claims["iat"] = json!(now() - 3700);
    claims["nbf"] = json!(now() - 3700);
    let status = check(addr, Some(&hs256(&claims))).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(status.message(), "The access token expired");
    assert!(
        status
            .metadata()
            .get("www-authenticate")
            .unwrap()
            .to_str()
            .unwrap()
            .contains(r#"error="invalid_token""#)
    );

    // A valid token without the role: the guard behind the layer refuses
    // through the layer's responder, so PERMISSION_DENIED.
    let status = check(addr, Some(&good_token())).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");

    // With the role: the call goes through (SERVING = 1).
    let mut claims = good_claims();
    claims["roles"] = json!(["health"]);
    assert_eq!(check(addr, Some(&hs256(&claims))).await.unwrap(), 1);
}

/// `jwt-extractor`'s step-up and scope guards behind the layer: a tonic client
/// sees `UNAUTHENTICATED` with the RFC 9470 challenge (the login is too old),
/// `PERMISSION_DENIED` with the RFC 6750 `scope` (a scope is missing), and
/// gets through with a recent login and the scope.
#[tokio::test]
async fn a_tonic_client_sees_step_up_and_scope_refusals() {
    jwt_extractor::scope!(HealthRead = "health:read");
    let (_reporter, health) = tonic_health::server::health_reporter();
    let router = tonic::service::Routes::new(health)
        .into_axum_router()
        .route_layer(jwt_extractor::require_scope::<HealthRead>())
        .route_layer(jwt_extractor::require_max_auth_age::<300>())
        .layer(JwtLayer::<serde_json::Value>::new(validator()));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let token = |auth_time: u64, scope: &str| {
        let mut claims = good_claims();
        claims["auth_time"] = json!(auth_time);
        claims["scope"] = json!(scope);
        hs256(&claims)
    };

    let status = check(addr, Some(&token(now() - 600, "health:read")))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert_eq!(status.message(), "More recent authentication is required");
    assert_eq!(
        status.metadata().get("www-authenticate").unwrap(),
        r#"Bearer realm="api", error="insufficient_user_authentication", error_description="More recent authentication is required", max_age="300""#
    );

    let status = check(addr, Some(&token(now() - 10, "openid")))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert_eq!(
        status.metadata().get("www-authenticate").unwrap(),
        r#"Bearer realm="api", error="insufficient_scope", error_description="The access token lacks the required scope", scope="health:read""#
    );

    assert_eq!(
        check(addr, Some(&token(now() - 10, "openid health:read")))
            .await
            .unwrap(),
        1
    );
}

/// Plain HTTP requests to the same layer are still refused in JSON.
#[tokio::test]
async fn http_requests_still_get_json() {
    let app = App::new(JwtLayer::new(validator()));
    let reply = app
        .send(Request::get("/").body(Body::empty()).unwrap())
        .await;
    assert_eq!(reply.status, http::StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.headers[http::header::CONTENT_TYPE],
        "application/json"
    );
    assert!(reply.headers.get("grpc-status").is_none());

    // The same request as a gRPC call: a trailers-only gRPC refusal.
    let reply = app
        .send(
            Request::post("/pkg.Service/Method")
                .header(http::header::CONTENT_TYPE, "application/grpc+proto")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, http::StatusCode::OK);
    assert_eq!(reply.headers["grpc-status"], "16");
    assert_eq!(reply.headers["content-type"], "application/grpc");
    assert_eq!(reply.body, "");
    assert_eq!(reply.error, Some(AuthError::Missing));
}
