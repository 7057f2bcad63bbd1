//! `RefreshTokens::refresh` and `logout` on arbitrary strings, next to a real
//! session in a `MemoryStore` (the fuzzer may splice the real token's parts).
//!
//! Invariants: no panic; only the exact current refresh token rotates; anything
//! else is refused as invalid (or, for the session's own family with another
//! secret, as reuse).
#![no_main]
use std::sync::OnceLock;

use arbitrary::Arbitrary;
use jsonwebtoken::Algorithm;
use jwt_layer::store::MemoryStore;
use jwt_layer::{KeySet, RefreshError, RefreshTokens, SigningKey, TokenIssuer, Validator};
use jwt_layer_fuzz::SECRET;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Part {
    Text(String),
    /// The real refresh token of the session.
    Real,
    /// The real token, cut at this byte offset (on a char boundary or not).
    RealPrefix(u8),
    /// The real token without its first `n` bytes.
    RealSuffix(u8),
}

#[derive(Arbitrary, Debug)]
struct Input {
    parts: Vec<Part>,
    logout: bool,
}

fn piece(real: &str, keep: impl Fn(usize) -> bool) -> String {
    real.char_indices()
        .filter(|(i, _)| keep(*i))
        .map(|(_, c)| c)
        .collect()
}

fuzz_target!(|input: Input| {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    let runtime = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime")
    });
    static ISSUER: OnceLock<TokenIssuer> = OnceLock::new();
    let issuer = ISSUER.get_or_init(|| {
        let signing = SigningKey::hmac(Algorithm::HS256, SECRET).expect("a 32-byte secret");
        let validator = Validator::builder(KeySet::single(signing.verifying_key()))
            .build()
            .expect("valid configuration");
        TokenIssuer::new(signing, validator).expect("a consistent issuer")
    });
    runtime.block_on(async {
        // A fresh store each time, so that runs do not depend on each other.
        let tokens = RefreshTokens::new(issuer.clone(), MemoryStore::new());
        let session = tokens
            .login("user", &serde_json::json!({}))
            .await
            .expect("a login on an empty store");
        let real = session.refresh_token.clone();

        let mut candidate = String::new();
        for part in &input.parts {
            match part {
                Part::Text(t) => candidate.push_str(t),
                Part::Real => candidate.push_str(&real),
                Part::RealPrefix(n) => candidate.push_str(&piece(&real, |i| i < usize::from(*n))),
                Part::RealSuffix(n) => candidate.push_str(&piece(&real, |i| i >= usize::from(*n))),
            }
        }
        if input.logout {
            tokens
                .logout(&candidate)
                .await
                .expect("logout never fails on a memory store");
            return;
        }
        match tokens.refresh(&candidate).await {
            Ok(_) => assert_eq!(
                candidate, real,
                "a refresh token that was never issued rotated"
            ),
            Err(RefreshError::Invalid | RefreshError::Reused { .. }) => {
                assert_ne!(candidate, real, "the current refresh token was refused");
            }
            Err(other) => panic!("unexpected refresh error {other:?}"),
        }
    });
});
