//! A gRPC server behind `JwtLayer`, with tonic's own server.
//!
//! The service is the standard gRPC health service of `tonic-health` (its code
//! is generated ahead of time, so this needs no `protoc`), and it requires the
//! role `monitoring`. gRPC clients are refused with gRPC statuses, as they
//! expect: `UNAUTHENTICATED` without a valid token, `PERMISSION_DENIED`
//! without the role.
//!
//! ```console
//! $ cargo run -p jwt-layer --example grpc --features issue
//! ```
//!
//! It calls itself with a real tonic client, prints what each call got, then
//! keeps serving (`PORT`, default 50051) and prints tokens for your own client.
//! The keys are made up at start: in production the validator comes from your
//! identity provider (see `jwks::RemoteJwks` and `discovery`).
use std::net::SocketAddr;

use jwt_extractor::{require_role, role};
use jwt_layer::{Algorithm, JwtLayer, KeySet, SigningKey, TokenIssuer, Validator};
use rand::RngCore;
use serde_json::json;
use tokio::net::TcpListener;
use tonic::metadata::MetadataValue;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;
use tower::util::MapResponseLayer;

// ANCHOR: server
role!(pub Monitoring = "monitoring");

/// Serves tonic-health's service on `listener`, behind the layer and a guard.
pub async fn serve(
    listener: TcpListener,
    validator: Validator,
) -> Result<(), tonic::transport::Error> {
    let (_reporter, health) = tonic_health::server::health_reporter();
    Server::builder()
        // Outermost first: authenticate, then authorize.
        .layer(JwtLayer::<serde_json::Value>::new(validator))
        .layer(require_role::<Monitoring>())
        // The layer writes its refusals into the response body type, from
        // bytes; tonic's body type cannot be made from bytes, axum's can, and
        // wraps tonic's as it is.
        .layer(MapResponseLayer::new(
            |response: http::Response<tonic::body::Body>| response.map(axum::body::Body::new),
        ))
        .add_service(health)
        .serve_with_incoming(TcpIncoming::from(listener))
        .await
}
// ANCHOR_END: server

// ANCHOR: client
/// One health check, with `authorization: Bearer <token>` when given: the
/// serving status, or the gRPC status the call was refused with.
pub async fn check(addr: SocketAddr, token: Option<&str>) -> Result<i32, tonic::Status> {
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .map_err(|e| tonic::Status::invalid_argument(e.to_string()))?
        .connect()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let mut request = tonic::Request::new(HealthCheckRequest {
        service: String::new(),
    });
    if let Some(token) = token {
        let value: MetadataValue<_> = format!("Bearer {token}")
            .parse()
            .map_err(|_| tonic::Status::invalid_argument("token"))?;
        request.metadata_mut().insert("authorization", value);
    }
    let response = HealthClient::new(channel).check(request).await?;
    Ok(response.into_inner().status)
}
// ANCHOR_END: client

/// A made-up key (32 random bytes, HS256), its validator and an issuer of
/// tokens the validator accepts.
pub fn demo_keys() -> (Validator, TokenIssuer) {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let signing = SigningKey::hmac(Algorithm::HS256, &secret)
        .expect("32 bytes")
        .with_kid("demo");
    let validator = Validator::builder(KeySet::single(signing.verifying_key()))
        .issuer("https://idp.example.com")
        .audience("health")
        .build()
        .expect("a valid configuration");
    let issuer = TokenIssuer::new(signing, validator.clone()).expect("matching keys");
    (validator, issuer)
}

/// A token for `subject` with `roles`.
pub fn token(issuer: &TokenIssuer, subject: &str, roles: &[&str]) -> String {
    issuer
        .issue(subject, &json!({ "roles": roles }))
        .expect("issuing a token")
        .access_token
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::var("PORT").map_or(Ok(50051), |p| p.parse())?;
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    let (validator, issuer) = demo_keys();
    tokio::spawn(serve(listener, validator));

    let without_role = token(&issuer, "alice", &["user"]);
    let with_role = token(&issuer, "prometheus", &["monitoring"]);
    println!("gRPC health service on {addr}, behind JwtLayer and require_role::<Monitoring>()");
    for (what, token) in [
        ("no token", None),
        ("a token without the role", Some(without_role.as_str())),
        ("a token with the role", Some(with_role.as_str())),
    ] {
        match check(addr, token).await {
            Ok(status) => println!("{what:>26}: OK, serving status {status}"),
            Err(status) => println!("{what:>26}: {:?} ({})", status.code(), status.message()),
        }
    }
    println!("\nStill serving; with your own client, send `authorization: Bearer <token>`:");
    println!("  without the role: {without_role}\n  with the role:    {with_role}");
    tokio::signal::ctrl_c().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;

    /// A real tonic client against the example's server on 127.0.0.1:0.
    #[tokio::test]
    async fn grpc_clients_get_grpc_statuses() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (validator, issuer) = demo_keys();
        tokio::spawn(serve(listener, validator));

        // No token: UNAUTHENTICATED, with the RFC 6750 challenge as metadata.
        let status = check(addr, None).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
        assert_eq!(status.message(), "No access token was provided");
        assert_eq!(
            status.metadata().get("www-authenticate").unwrap(),
            r#"Bearer realm="api""#
        );

        // A token signed with another key: UNAUTHENTICATED, invalid_token.
        let (_, stranger) = demo_keys();
        let status = check(addr, Some(&token(&stranger, "mallory", &["monitoring"])))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
        let challenge = status.metadata().get("www-authenticate").unwrap();
        assert!(
            challenge
                .to_str()
                .unwrap()
                .contains(r#"error="invalid_token""#),
            "{challenge:?}"
        );

        // Valid, without the role: PERMISSION_DENIED, insufficient_scope.
        let status = check(addr, Some(&token(&issuer, "alice", &["user"])))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
        let challenge = status.metadata().get("www-authenticate").unwrap();
        assert!(
            challenge
                .to_str()
                .unwrap()
                .contains(r#"error="insufficient_scope""#),
            "{challenge:?}"
        );

        // With the role: the call goes through (SERVING = 1).
        let serving = check(addr, Some(&token(&issuer, "prometheus", &["monitoring"])))
            .await
            .unwrap();
        assert_eq!(serving, 1);
    }
}
