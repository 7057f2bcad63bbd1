//! jsonwebtoken's `jwt.sign(payload, secret, { expiresIn, issuer, audience })`
//! and `jwt.verify(token, secret, { issuer, audience })`.
//!
//! [`TokenIssuer::issue`] signs and [`Validator::verify`] verifies, under one
//! policy built once: the issuer checks at start-up that its validator
//! accepts what it signs. Unlike `jwt.sign`, the issuer sets the registered
//! claims itself (`iss`, `aud`, `iat`, `nbf`, `exp`, `jti`, and the header's
//! `typ: at+jwt`): a payload that tries to set one is refused, so a token
//! cannot be minted with a lifetime or an audience the policy does not know.
//! `jwt.decode` (reading a payload without verifying it) has no equivalent;
//! `UnverifiedToken::peek` reads only what is needed to pick keys (`alg`,
//! `kid`, `iss`).
use std::time::Duration;

use jwt_layer::{
    Algorithm, AuthError, ConfigError, IssueError, KeySet, SigningKey, TokenIssuer, Validator,
    Verified,
};
use serde::Deserialize;
use serde_json::json;

/// The `iss` of the tokens.
pub const ISSUER: &str = "https://auth.example.com";
/// The `aud` of the tokens.
pub const AUDIENCE: &str = "https://api.example.com";

// ANCHOR: sign
/// `jwt.sign(…, secret, { expiresIn: '15m', issuer: ISSUER, audience: AUDIENCE })`,
/// configured once: a secret under 32 bytes is refused here, at start-up.
pub fn token_issuer(secret: &[u8]) -> Result<TokenIssuer, ConfigError> {
    let signing = SigningKey::hmac(Algorithm::HS256, secret)?;
    let validator = Validator::builder(KeySet::single(signing.verifying_key()))
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .build()?;
    Ok(TokenIssuer::new(signing, validator)?.access_ttl(Duration::from_secs(15 * 60)))
}

/// `jwt.sign({ sub: user, name }, …)`: the application's claims only.
pub fn sign(issuer: &TokenIssuer, user: &str, name: &str) -> Result<String, IssueError> {
    let issued = issuer.issue(user, &json!({ "name": name }))?;
    Ok(issued.access_token)
}
// ANCHOR_END: sign

// ANCHOR: verify
/// The application's claims.
#[derive(Debug, Deserialize)]
pub struct Profile {
    /// The display name.
    pub name: String,
}

/// `jwt.verify(token, secret, { issuer, audience })`, where there is no HTTP
/// request for the layer to read (a WebSocket message, a queued job).
pub fn verify(validator: &Validator, token: &str) -> Result<Verified<Profile>, AuthError> {
    // Signature, `typ`, issuer, audience, expiry; then the claims into `Profile`.
    validator.verify::<Profile>(token)
}
// ANCHOR_END: verify
