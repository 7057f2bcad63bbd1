//! What other services read to verify our tokens: the public keys (JWKS) and
//! the OpenID Connect discovery document that says where they are.
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use jwt_layer::JwkSet;
use serde_json::{Value, json};

use crate::AppState;

// ANCHOR: jwks
/// The public keys, for anyone who verifies our tokens (another service, a
/// gateway). Public by design: it holds no secret. During a rotation it holds
/// the previous key too.
pub async fn jwks(State(state): State<Arc<AppState>>) -> Json<JwkSet> {
    Json(state.tokens.issuer().jwks())
}
// ANCHOR_END: jwks

// ANCHOR: discovery
/// OpenID Connect Discovery: the issuer and where its keys are, so a resource
/// server configured with the issuer URL alone finds them (chapter 15).
/// `jwks_uri` is built from the issuer, so for discovery `JWT_ISSUER` must be
/// this server's public URL (`http://127.0.0.1:3000` locally).
pub async fn openid_configuration(State(state): State<Arc<AppState>>) -> Json<Value> {
    let issuer = state.issuer_url.trim_end_matches('/');
    Json(json!({
        "issuer": state.issuer_url,
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "id_token_signing_alg_values_supported": ["ES256"],
    }))
}
// ANCHOR_END: discovery
