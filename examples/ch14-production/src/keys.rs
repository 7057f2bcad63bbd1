//! The ES256 keys: the signing key (never a public one by default) and,
//! during a key rotation, the previous key's public half.
use std::path::PathBuf;

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jwt_layer::{Algorithm, SigningKey, VerifyingKey};

use crate::config::{dev_keys, env_or};
use crate::server::BoxError;

/// Where the committed development key lives (`DEV_KEYS=1` only).
pub fn dev_key_file() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/keys/dev-es256-private.pem"
    ))
}

// ANCHOR: signing_key
/// The signing key, in this order:
///
/// 1. `JWT_PRIVATE_KEY_FILE`, a P-256 private key in PEM (PKCS#8), named
///    `JWT_KEY_ID` (default `es256-1`): what production uses;
/// 2. with `DEV_KEYS=1` only, the committed development key `dev-es256-1`,
///    which is public: anyone can sign tokens with it;
/// 3. otherwise a key pair made now, with a random `kid`: safe, but tokens
///    (and the published JWKS) do not survive a restart.
pub fn es256_signing_key() -> Result<SigningKey, BoxError> {
    let configured = std::env::var("JWT_PRIVATE_KEY_FILE").unwrap_or_default();
    if !configured.is_empty() {
        let pem =
            std::fs::read(&configured).map_err(|e| format!("cannot read {configured}: {e}"))?;
        let kid = env_or("JWT_KEY_ID", "es256-1");
        return Ok(SigningKey::ec_pem(Algorithm::ES256, &pem)?.with_kid(kid));
    }
    if dev_keys() {
        tracing::warn!(
            "DEV_KEYS=1: signing with the committed DEVELOPMENT key (public: never use it in production)"
        );
        let pem = std::fs::read(dev_key_file())?;
        let kid = env_or("JWT_KEY_ID", "dev-es256-1");
        return Ok(SigningKey::ec_pem(Algorithm::ES256, &pem)?.with_kid(kid));
    }
    tracing::warn!(
        "JWT_PRIVATE_KEY_FILE is not set: signing with a key pair made at start-up; \
         tokens will not survive a restart"
    );
    let kid = match std::env::var("JWT_KEY_ID") {
        Ok(kid) if !kid.is_empty() => kid,
        // A new kid for a new key: verifiers that cached the last JWKS fetch it again.
        _ => format!(
            "ephemeral-{}",
            URL_SAFE_NO_PAD.encode(rand::random::<[u8; 6]>())
        ),
    };
    Ok(SigningKey::ec_pem(Algorithm::ES256, generate_es256_pem()?.as_bytes())?.with_kid(kid))
}
// ANCHOR_END: signing_key

// ANCHOR: previous_key
/// During a key rotation, the previous key's public half
/// (`JWT_PREVIOUS_PUBLIC_KEY_FILE`, under `JWT_PREVIOUS_KEY_ID`): it still
/// verifies, so that tokens signed before the switch stay valid until they
/// expire. Each token's `kid` picks its key.
pub fn previous_key() -> Result<Option<VerifyingKey>, BoxError> {
    let previous = std::env::var("JWT_PREVIOUS_PUBLIC_KEY_FILE").unwrap_or_default();
    if previous.is_empty() {
        return Ok(None);
    }
    let pem = std::fs::read(&previous).map_err(|e| format!("cannot read {previous}: {e}"))?;
    let kid = std::env::var("JWT_PREVIOUS_KEY_ID")
        .ok()
        .filter(|kid| !kid.is_empty())
        .ok_or("JWT_PREVIOUS_KEY_ID must name the previous key (its `kid`)")?;
    Ok(Some(
        VerifyingKey::ec_pem(Algorithm::ES256, &pem)?.with_kid(kid),
    ))
}
// ANCHOR_END: previous_key

/// A fresh P-256 private key as PKCS#8 PEM (aws-lc-rs, the crypto backend the
/// tokens are signed with anyway).
pub fn generate_es256_pem() -> Result<String, BoxError> {
    let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
        .map_err(|_| "cannot generate an ES256 key pair")?;
    let der = key
        .to_pkcs8v1()
        .map_err(|_| "cannot serialize the ES256 key pair")?;
    let base64 = STANDARD.encode(der.as_ref());
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    // PEM lines hold 64 characters (RFC 7468).
    for line in base64.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    Ok(pem)
}
