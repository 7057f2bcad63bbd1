//! The debug log of a claims-shape refusal, in a test binary of its own:
//! `tracing` caches per call site whether anyone listens, and a test on
//! another thread of the same process that reaches the call site first, with
//! no subscriber of its own, can make this test's scoped subscriber miss the
//! event (it did, once in CI).
mod common;

use common::*;
use jwt_layer::{AuthError, JwtLayer};
use serde_json::json;

/// A signed token that does not fit the claims type: the response says only
/// "shape"; the debug log says which field and why, for the developer.
#[tokio::test(flavor = "current_thread")]
async fn a_claims_shape_refusal_logs_the_field_at_debug_level_only() {
    let (captured, _guard) = capture_logs();
    let app = App::new(JwtLayer::new(validator()));
    let mut claims = good_claims();
    claims["name"] = json!(42);
    let reply = app.bearer(&hs256(&claims)).await;
    assert_eq!(reply.error, Some(AuthError::ClaimsShape));
    assert!(
        !reply.body.contains("42") && !reply.body.contains("name"),
        "{}",
        reply.body
    );
    let log = captured.text();
    let line = log
        .lines()
        .find(|line| line.contains("do not deserialize"))
        .unwrap_or_else(|| panic!("no shape log in:\n{log}"));
    assert!(line.contains("DEBUG"), "{line}");
    assert!(line.contains("AppClaims"), "{line}");
    assert!(line.contains("expected a string"), "{line}");
}
