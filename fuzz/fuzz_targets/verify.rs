//! `Validator::verify` on structured tokens: arbitrary header and claims JSON
//! (non-ASCII strings, nulls, wrong types, duplicates, deep nesting), signed with
//! the test key so that every rule after the signature is reached.
//!
//! Invariants: no panic; an error is a token-level one; an accepted token
//! satisfies the policy (unexpired, lifetime within the cap, `sub` non-empty
//! where required, issuer and audience as configured).
#![no_main]
use jwt_layer::Verified;
use jwt_layer_fuzz::{AUDIENCE, ISSUER, TokenInput, is_token_error, now, validators};
use libfuzzer_sys::fuzz_target;
use serde::Deserialize;
use std::sync::OnceLock;

/// A typed claims struct, as an application would have.
#[derive(Deserialize)]
#[allow(dead_code)]
struct AppClaims {
    sub: String,
    #[serde(default)]
    roles: Vec<String>,
}

fuzz_target!(|input: TokenInput| {
    static VALIDATORS: OnceLock<[jwt_layer::Validator; 2]> = OnceLock::new();
    let [strict, relaxed] = VALIDATORS.get_or_init(validators);
    let token = input.token();
    for (validator, is_strict) in [(strict, true), (relaxed, false)] {
        match validator.verify::<serde_json::Value>(&token) {
            Ok(verified) => check_accepted(&verified, validator, is_strict),
            Err(err) => assert!(is_token_error(&err), "unexpected error {err:?}"),
        }
        if let Err(err) = validator.verify::<AppClaims>(&token) {
            assert!(is_token_error(&err), "unexpected error {err:?}");
        }
    }
});

fn check_accepted<T>(verified: &Verified<T>, validator: &jwt_layer::Validator, strict: bool) {
    let token = verified.token();
    let claims = token.registered();
    let now = now();
    assert!(
        claims.exp + validator.leeway_secs() > now,
        "expired token accepted"
    );
    let issued = claims.iat.unwrap_or(now);
    assert!(
        claims.exp.saturating_sub(issued) <= validator.max_lifetime_secs() + 1,
        "token beyond the maximum lifetime accepted"
    );
    assert!(claims.sub.as_deref() != Some(""), "empty subject accepted");
    if strict {
        assert!(claims.sub.is_some(), "missing subject accepted");
        assert_eq!(claims.iss.as_deref(), Some(ISSUER));
        assert!(claims.aud.iter().any(|a| a == AUDIENCE));
    }
    // Every accessor a handler or a guard may call.
    let _ = token.roles();
    let _ = token.raw();
    let _ = token.has_role("admin");
}
