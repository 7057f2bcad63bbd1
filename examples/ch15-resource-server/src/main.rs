//! 15 — a resource server: a second service that trusts 14_production through
//! its issuer URL alone. No shared secret: it reads the issuer's discovery
//! document, fetches the JWKS it names, and fetches again when a token names a
//! key it has not seen (the issuer rotated its keys).
//!
//! ```console
//! DEMO_ACCOUNTS=1 JWT_ISSUER=http://127.0.0.1:3000 cargo run -p examples --bin 14_production
//! PORT=4000 cargo run -p examples --bin 15_resource_server
//! ```
//!
//! | variable       | default                                  |
//! |----------------|------------------------------------------|
//! | `PORT`         | 3000 (0 picks a free port; use another than 13's) |
//! | `ISSUER_URL`   | `http://127.0.0.1:3000` (loopback http allowed, for development) |
//! | `JWT_AUDIENCE` | `notes-api`                              |
//! | `RESOURCE_URL` | `http://127.0.0.1:4000` (this service, for RFC 9728) |
//! | `ACCEPT_TYPES` | `at+jwt`: the accepted `typ` values, comma-separated (a relaxation, see the migration appendix) |
mod server;

use std::time::Duration;

use axum::routing::get;
use axum::{Json, Router};
use jwt_extractor::Claims;
use jwt_layer::discovery::Discovery;
use jwt_layer::http::HttpClient;
use jwt_layer::metadata::ProtectedResourceMetadata;
use jwt_layer::{JwtLayer, Validator};
use serde::Deserialize;
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), server::BoxError> {
    server::init_tracing();

    // ANCHOR: discovery
    // The issuer's URL is all this service is told. Discovery refuses a
    // document naming another issuer, and a non-https jwks_uri (here http is
    // allowed because the issuer runs on this machine). `HttpClient` (feature
    // `jwks-http`): rustls, bodies capped while read, no redirects, ETag and
    // max-age honoured.
    let issuer = env_or("ISSUER_URL", "http://127.0.0.1:3000");
    let jwks = Discovery::new(&issuer)
        .allow_http_loopback()
        // The periodic refresh follows the JWKS's `Cache-Control: max-age`,
        // within 1 to 10 minutes (10 when the issuer sends none).
        .refresh_bounds(Duration::from_secs(60), Duration::from_secs(600))
        .start(HttpClient::new()?, |keys, metadata| {
            Validator::builder(keys)
                .issuer(&metadata.issuer)
                .audience(env_or("JWT_AUDIENCE", "notes-api"))
                // Only `at+jwt` (RFC 9068) unless ACCEPT_TYPES says otherwise.
                .accept_types(accepted_types())
                .build()
        })
        .await?;
    // ANCHOR_END: discovery

    // ANCHOR: layer
    // The layer asks `jwks` for the keys of every token: a kid not seen yet
    // triggers one fetch (shared by all the requests waiting for it, at most
    // one per 30 s, at most 5 s long); if the issuer is down, the keys fetched
    // last stay in force. A timer refreshes them too, as the issuer's
    // max-age says (within the bounds above); an unchanged JWKS costs a 304.
    let _refresh = jwks.spawn_following_max_age();
    let resource = env_or("RESOURCE_URL", "http://127.0.0.1:4000");
    let metadata = ProtectedResourceMetadata::new(resource).authorization_server(&issuer);
    let auth = JwtLayer::<AppClaims>::new(jwks.validator().clone())
        .resolver(jwks)
        .resource_metadata(metadata.well_known_url());
    // ANCHOR_END: layer

    // ANCHOR: router
    let app = Router::new()
        .route("/api/whoami", get(whoami))
        .layer(auth)
        // RFC 9728: where clients learn which issuer this service trusts.
        .route(
            "/.well-known/oauth-protected-resource",
            get(move || {
                let document = metadata.to_response();
                async move { document.map(axum::body::Body::from) }
            }),
        );
    // ANCHOR_END: router
    server::serve(app).await
}

/// The `typ` values accepted from `ACCEPT_TYPES` (comma-separated), `at+jwt`
/// by default. Anything else is a relaxation for an issuer that does not type
/// its access tokens (node's jsonwebtoken writes `JWT`): said in the log.
fn accepted_types() -> Vec<String> {
    let types: Vec<String> = env_or("ACCEPT_TYPES", "at+jwt")
        .split(',')
        .map(str::trim)
        .filter(|typ| !typ.is_empty())
        .map(str::to_owned)
        .collect();
    if types.iter().any(|typ| !typ.eq_ignore_ascii_case("at+jwt")) {
        tracing::warn!(
            ?types,
            "accepting token types other than at+jwt: a JWT of another kind signed by this \
             issuer (an ID token, say) may pass as an access token"
        );
    }
    types
}

async fn whoami(Claims(claims): Claims<AppClaims>) -> Json<Value> {
    let token = claims.token();
    Json(json!({
        "sub": claims.sub,
        "roles": claims.roles,
        "issuer": token.registered().iss,
        "kid": token.kid(),
    }))
}

// ANCHOR: claims
/// The claims this service needs: the notes API's own (chapter 4).
#[derive(Debug, Clone, Deserialize)]
pub struct AppClaims {
    pub sub: String,
    pub roles: Vec<String>,
}
// ANCHOR_END: claims

/// A string from the environment variable `name`, or `default`.
fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}
