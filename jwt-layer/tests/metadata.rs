//! RFC 9728: the protected resource metadata document, and the
//! `resource_metadata` parameter in every challenge the layer sends.
mod common;

use axum::body::Body;
use common::*;
use http::{Request, StatusCode};
use jwt_layer::JwtLayer;
use jwt_layer::metadata::ProtectedResourceMetadata;
use serde_json::json;

#[tokio::test]
async fn challenges_point_to_the_metadata_document() {
    let metadata = ProtectedResourceMetadata::new("https://api.test/v1")
        .authorization_server(ISSUER)
        .scope("read");
    assert_eq!(
        metadata.well_known_path(),
        "/.well-known/oauth-protected-resource/v1"
    );
    let url = metadata.well_known_url();
    assert_eq!(
        url,
        "https://api.test/.well-known/oauth-protected-resource/v1"
    );
    let document: serde_json::Value =
        serde_json::from_slice(metadata.to_response().body()).unwrap();
    assert_eq!(
        document,
        json!({
            "resource": "https://api.test/v1",
            "authorization_servers": [ISSUER],
            "bearer_methods_supported": ["header"],
            "scopes_supported": ["read"],
        })
    );

    let app = App::new(JwtLayer::new(validator()).resource_metadata(&url));
    // No token: the bare challenge, with the pointer.
    let reply = app
        .send(Request::get("/").body(Body::empty()).unwrap())
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.challenge().unwrap(),
        format!(r#"Bearer realm="api", resource_metadata="{url}""#)
    );
    // A bad token: the error, then the pointer.
    let mut claims = good_claims();
    claims["aud"] = json!("https://other.test");
    let reply = app.bearer(&hs256(&claims)).await;
    let challenge = reply.challenge().unwrap();
    assert!(
        challenge.starts_with(r#"Bearer realm="api", error="invalid_token""#),
        "{challenge}"
    );
    assert!(
        challenge.ends_with(&format!(r#", resource_metadata="{url}""#)),
        "{challenge}"
    );
    // Without the option, no pointer.
    let plain = App::new(JwtLayer::new(validator()));
    let reply = plain
        .send(Request::get("/").body(Body::empty()).unwrap())
        .await;
    assert_eq!(reply.challenge().unwrap(), r#"Bearer realm="api""#);
}
