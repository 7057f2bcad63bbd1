//! `KeySet::from_jwks` and `from_jwks_assuming` on arbitrary JWKS documents
//! (bytes parsed as JSON by serde, as a JWKS refresher would).
//!
//! Invariants: no panic; no symmetric key is ever taken from a JWKS; every key
//! taken is bound to one algorithm of its key type.
#![no_main]
use jsonwebtoken::{Algorithm, AlgorithmFamily};
use jwt_layer::{JwkSet, KeySet};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(jwks) = serde_json::from_slice::<JwkSet>(data) else {
        return;
    };
    let mut sets = Vec::new();
    sets.extend(KeySet::from_jwks(&jwks).ok());
    for assumed in [
        Algorithm::RS256,
        Algorithm::ES256,
        Algorithm::EdDSA,
        Algorithm::HS256,
    ] {
        sets.extend(KeySet::from_jwks_assuming(&jwks, assumed).ok());
    }
    for set in sets {
        assert!(!set.is_empty());
        for key in set.keys() {
            assert_ne!(
                key.algorithm().family(),
                AlgorithmFamily::Hmac,
                "a symmetric key was taken from a JWKS document"
            );
        }
        // Publishing the set again must not panic either.
        let _ = set.jwks();
    }
});
