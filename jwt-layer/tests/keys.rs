//! Every algorithm family, key confusion, kid selection, JWKS and key configuration errors.
mod common;

use common::*;
use http::StatusCode;
use jsonwebtoken::EncodingKey;
use jwt_layer::{
    Algorithm, AuthError, ConfigError, JwtLayer, KeySet, SigningKey, TokenIssuer, Validator,
    VerifyingKey,
};
use serde_json::{Value, json};

fn validator_for(keys: KeySet) -> Validator {
    Validator::builder(keys)
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .build()
        .unwrap()
}

/// (algorithm, private key for signing, public key for verifying)
fn asymmetric() -> Vec<(Algorithm, SigningKey, VerifyingKey)> {
    let rsa = key_file("rsa_private.pem");
    let rsa_pub = key_file("rsa_public.pem");
    let mut all = Vec::new();
    for alg in [
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
    ] {
        all.push((
            alg,
            SigningKey::rsa_pem(alg, &rsa).unwrap(),
            VerifyingKey::rsa_pem(alg, &rsa_pub).unwrap(),
        ));
    }
    all.push((
        Algorithm::ES256,
        SigningKey::ec_pem(Algorithm::ES256, &key_file("ec_private.pem")).unwrap(),
        VerifyingKey::ec_pem(Algorithm::ES256, &key_file("ec_public.pem")).unwrap(),
    ));
    all.push((
        Algorithm::ES384,
        SigningKey::ec_pem(Algorithm::ES384, &key_file("ec384_private.pem")).unwrap(),
        VerifyingKey::ec_pem(Algorithm::ES384, &key_file("ec384_public.pem")).unwrap(),
    ));
    all.push((
        Algorithm::EdDSA,
        SigningKey::ed_pem(&key_file("ed_private.pem")).unwrap(),
        VerifyingKey::ed_pem(&key_file("ed_public.pem")).unwrap(),
    ));
    all
}

#[tokio::test]
async fn every_algorithm_verifies_through_the_layer() {
    for (alg, signing, public) in asymmetric() {
        let validator = validator_for(KeySet::single(public));
        let app = App::new(JwtLayer::new(validator.clone()));
        let issuer = TokenIssuer::new(signing, validator).unwrap();
        let token = issuer.issue("user-1", &json!({ "name": "Ada" })).unwrap();
        let reply = app.bearer(&token.access_token).await;
        assert_eq!(reply.status, StatusCode::OK, "{alg:?}: {}", reply.body);
        assert_eq!(reply.body, "user-1 Ada bearer");

        // Tampering with the payload breaks every algorithm's signature.
        let mut parts: Vec<&str> = token.access_token.split('.').collect();
        let tampered_payload = {
            use base64::Engine;
            let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
            let mut claims: serde_json::Value =
                serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
            claims["sub"] = "admin".into();
            b64.encode(claims.to_string())
        };
        parts[1] = &tampered_payload;
        let reply = app.bearer(&parts.join(".")).await;
        assert_eq!(reply.error, Some(AuthError::BadSignature), "{alg:?}");
    }
    for (alg, len) in [
        (Algorithm::HS256, 32),
        (Algorithm::HS384, 48),
        (Algorithm::HS512, 64),
    ] {
        let secret = vec![7u8; len];
        let signing = SigningKey::hmac(alg, &secret).unwrap();
        let validator = validator_for(KeySet::single(signing.verifying_key()));
        let app = App::new(JwtLayer::new(validator.clone()));
        let token = TokenIssuer::new(signing, validator)
            .unwrap()
            .issue("user-1", &json!({"name": "Ada"}))
            .unwrap();
        assert_eq!(
            app.bearer(&token.access_token).await.status,
            StatusCode::OK,
            "{alg:?}"
        );
    }
}

#[tokio::test]
async fn rs256_public_key_used_as_hmac_secret_is_refused() {
    // The classic confusion: the attacker signs HS256 with the server's RSA
    // *public* key as the HMAC secret, hoping the server verifies with it.
    let public_pem = key_file("rsa_public.pem");
    let validator = validator_for(KeySet::single(
        VerifyingKey::rsa_pem(Algorithm::RS256, &public_pem).unwrap(),
    ));
    let app = App::new_hs(JwtLayer::new(validator));
    let forged = sign(
        &at_header(Algorithm::HS256),
        &good_claims(),
        &EncodingKey::from_secret(&public_pem),
    );
    assert_eq!(
        app.bearer(&forged).await.error,
        Some(AuthError::DisallowedAlgorithm)
    );
}

impl App {
    fn new_hs(layer: JwtLayer<AppClaims>) -> Self {
        App::new(layer)
    }
}

#[tokio::test]
async fn keys_are_chosen_by_kid_and_bound_to_one_algorithm() {
    let rsa_private = key_file("rsa_private.pem");
    let rsa2_private = key_file("rsa2_private.pem");
    let old = SigningKey::rsa_pem(Algorithm::RS256, &rsa_private)
        .unwrap()
        .with_kid("2026-10");
    let new = SigningKey::rsa_pem(Algorithm::PS256, &rsa2_private)
        .unwrap()
        .with_kid("2026-11");
    let ec = SigningKey::ec_pem(Algorithm::ES256, &key_file("ec_private.pem"))
        .unwrap()
        .with_kid("ec");
    let keys = KeySet::new([old.verifying_key(), new.verifying_key(), ec.verifying_key()]).unwrap();
    let validator = validator_for(keys);
    let app = App::new(JwtLayer::new(validator.clone()));

    for signing in [&old, &new, &ec] {
        let token = TokenIssuer::new(signing.clone(), validator.clone())
            .unwrap()
            .issue("user-1", &json!({"name": "Ada"}))
            .unwrap();
        assert_eq!(
            app.bearer(&token.access_token).await.status,
            StatusCode::OK,
            "{:?}",
            signing.kid()
        );
    }

    // The right key, the wrong algorithm: RS256 under the PS256 key's kid.
    let mut header = at_header(Algorithm::RS256);
    header.kid = Some("2026-11".into());
    let token = sign(
        &header,
        &good_claims(),
        &EncodingKey::from_rsa_pem(&rsa2_private).unwrap(),
    );
    assert_eq!(
        app.bearer(&token).await.error,
        Some(AuthError::DisallowedAlgorithm)
    );

    // Signed with the old key but claiming the new kid.
    let mut header = at_header(Algorithm::PS256);
    header.kid = Some("2026-11".into());
    let token = sign(
        &header,
        &good_claims(),
        &EncodingKey::from_rsa_pem(&rsa_private).unwrap(),
    );
    assert_eq!(
        app.bearer(&token).await.error,
        Some(AuthError::BadSignature)
    );

    // No kid with several keys: which key would it be? Refused.
    let token = sign(
        &at_header(Algorithm::RS256),
        &good_claims(),
        &EncodingKey::from_rsa_pem(&rsa_private).unwrap(),
    );
    assert_eq!(app.bearer(&token).await.error, Some(AuthError::UnknownKey));

    // An issuer whose key the validator does not know fails at start-up.
    let stranger = SigningKey::hmac(Algorithm::HS256, &[1; 32])
        .unwrap()
        .with_kid("stranger");
    assert!(matches!(
        TokenIssuer::new(stranger, validator),
        Err(ConfigError::InvalidKey { .. })
    ));
}

#[tokio::test]
async fn jwks_round_trip_publishes_only_public_keys() {
    let rsa = SigningKey::rsa_pem(Algorithm::RS256, &key_file("rsa_private.pem"))
        .unwrap()
        .with_kid("r");
    let ed = SigningKey::ed_pem(&key_file("ed_private.pem"))
        .unwrap()
        .with_kid("e");
    let ec = SigningKey::ec_pem(Algorithm::ES384, &key_file("ec384_private.pem"))
        .unwrap()
        .with_kid("c");
    let hmac = SigningKey::hmac(Algorithm::HS256, &[5; 32])
        .unwrap()
        .with_kid("h");
    let keys = KeySet::new([
        rsa.verifying_key(),
        ed.verifying_key(),
        ec.verifying_key(),
        hmac.verifying_key(),
    ])
    .unwrap();
    let jwks = keys.jwks();
    let text = serde_json::to_string(&jwks).unwrap();
    assert_eq!(
        jwks.keys.len(),
        3,
        "HMAC secrets are never published: {text}"
    );
    assert!(!text.contains("\"d\""), "no private parts: {text}");

    // A resource server that only has the JWKS document verifies our tokens.
    let published: jwt_layer::JwkSet = serde_json::from_str(&text).unwrap();
    let remote = validator_for(KeySet::from_jwks(&published).unwrap());
    let app = App::new(JwtLayer::new(remote.clone()));
    let local = validator_for(keys);
    for signing in [rsa, ed, ec] {
        let token = TokenIssuer::new(signing, local.clone())
            .unwrap()
            .issue("user-1", &json!({"name": "Ada"}))
            .unwrap();
        assert_eq!(app.bearer(&token.access_token).await.status, StatusCode::OK);
    }
}

#[test]
fn configuration_errors_are_clear() {
    for (alg, min) in [
        (Algorithm::HS256, 32),
        (Algorithm::HS384, 48),
        (Algorithm::HS512, 64),
    ] {
        let err = VerifyingKey::hmac(alg, &vec![1; min - 1]).unwrap_err();
        assert_eq!(
            err,
            ConfigError::SecretTooShort {
                alg,
                len: min - 1,
                min
            }
        );
        assert!(
            err.to_string().contains(&format!("at least {min} bytes")),
            "{err}"
        );
        assert!(SigningKey::hmac(alg, &vec![1; min - 1]).is_err());
    }
    assert!(matches!(
        VerifyingKey::hmac(Algorithm::RS256, &[1; 64]),
        Err(ConfigError::AlgorithmMismatch { .. })
    ));
    assert!(matches!(
        VerifyingKey::rsa_pem(Algorithm::ES256, &key_file("rsa_public.pem")),
        Err(ConfigError::AlgorithmMismatch { .. })
    ));
    assert!(matches!(
        VerifyingKey::rsa_pem(
            Algorithm::RS256,
            b"-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n"
        ),
        Err(ConfigError::InvalidKey { .. })
    ));
    assert!(matches!(
        VerifyingKey::ec_pem(Algorithm::ES256, b"garbage"),
        Err(ConfigError::InvalidKey { .. })
    ));
    assert!(matches!(
        VerifyingKey::ed_pem(b""),
        Err(ConfigError::InvalidKey { .. })
    ));
    assert!(matches!(
        SigningKey::rsa_pem(Algorithm::RS256, b"garbage"),
        Err(ConfigError::InvalidKey { .. })
    ));

    let a = VerifyingKey::hmac(Algorithm::HS256, &[1; 32]).unwrap();
    assert_eq!(KeySet::new(Vec::new()).unwrap_err(), ConfigError::NoKeys);
    assert!(matches!(
        KeySet::new([a.clone().with_kid("x"), a.clone().with_kid("x")]),
        Err(ConfigError::DuplicateKid(_))
    ));
    assert!(matches!(
        KeySet::new([a.clone(), a.clone().with_kid("y")]),
        Err(ConfigError::DuplicateKid(_))
    ));

    let build = |b: jwt_layer::ValidatorBuilder| b.build().map(drop);
    assert_eq!(
        build(
            Validator::builder(KeySet::single(a.clone()))
                .leeway(std::time::Duration::from_secs(61))
        ),
        Err(ConfigError::LeewayTooLarge(61))
    );
    assert_eq!(
        build(Validator::builder(KeySet::single(a.clone())).accept_types(Vec::<String>::new())),
        Err(ConfigError::NoTypes)
    );
    // A JWK must name its algorithm.
    let mut jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(
        &EncodingKey::from_secret(&[1; 32]),
        Algorithm::HS256,
    )
    .unwrap();
    jwk.common.key_algorithm = None;
    assert!(matches!(
        VerifyingKey::from_jwk(&jwk),
        Err(ConfigError::InvalidKey { .. })
    ));
}

#[tokio::test]
async fn accept_any_type_for_foreign_identity_providers() {
    let keys = KeySet::single(VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap());
    let validator = Validator::builder(keys)
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .accept_any_type()
        .build()
        .unwrap();
    let app = App::new(JwtLayer::new(validator));
    let mut header = at_header(Algorithm::HS256);
    header.typ = Some("JWT".into());
    let token = sign(&header, &good_claims(), &EncodingKey::from_secret(SECRET));
    assert_eq!(app.bearer(&token).await.status, StatusCode::OK);
}

#[tokio::test]
async fn hostile_configuration_values_do_not_panic() {
    use jwt_layer::store::MemoryStore;
    use jwt_layer::{RefreshTokens, RoleClaim};
    // Absurd lifetimes saturate instead of overflowing.
    let signing = SigningKey::hmac(Algorithm::HS256, SECRET).unwrap();
    // With the default maximum lifetime (24 h), such an issuer refuses to issue.
    let strict = Validator::builder(KeySet::single(signing.verifying_key()))
        .build()
        .unwrap();
    let refused = TokenIssuer::new(signing.clone(), strict)
        .unwrap()
        .access_ttl(std::time::Duration::MAX)
        .issue("user-1", &json!({}));
    assert!(matches!(
        refused,
        Err(jwt_layer::IssueError::LifetimeTooLong { .. })
    ));
    let validator = Validator::builder(KeySet::single(signing.verifying_key()))
        .role_claim(RoleClaim::path(""))
        .max_lifetime(std::time::Duration::MAX)
        .build()
        .unwrap();
    let issuer = TokenIssuer::new(signing, validator.clone())
        .unwrap()
        .access_ttl(std::time::Duration::MAX);
    let token = issuer.issue("user-1", &json!({})).unwrap();
    let verified = validator
        .verify::<serde_json::Value>(&token.access_token)
        .unwrap();
    assert!(verified.token().roles().is_empty());
    let tokens = RefreshTokens::new(issuer, MemoryStore::new())
        .absolute_lifetime(std::time::Duration::MAX)
        .idle_timeout(std::time::Duration::MAX);
    let pair = tokens.login("user-1", &json!({})).await.unwrap();
    tokens.refresh(&pair.refresh_token).await.unwrap();
    tokens.logout_everywhere("user-1").await.unwrap();
    tokens.revoke_access_token(verified.token()).await.unwrap();
    // Empty or odd source names never match anything, and never panic.
    let app = App::new(JwtLayer::new(common::validator()).sources([
        jwt_layer::TokenSource::cookie(""),
        jwt_layer::TokenSource::query("=&"),
    ]));
    let request = http::Request::get("/?=&=x")
        .header("cookie", "=; ==")
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(app.send(request).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn jwks_without_alg_needs_an_explicit_assumption() {
    let rsa = SigningKey::rsa_pem(Algorithm::RS256, &key_file("rsa_private.pem"))
        .unwrap()
        .with_kid("r1");
    let ec = SigningKey::ec_pem(Algorithm::ES256, &key_file("ec_private.pem"))
        .unwrap()
        .with_kid("e1");
    let keys = KeySet::new([rsa.verifying_key(), ec.verifying_key()]).unwrap();
    // An Entra-style document: no "alg" on the keys.
    let mut jwks = keys.jwks();
    for jwk in &mut jwks.keys {
        jwk.common.key_algorithm = None;
    }
    assert!(matches!(
        KeySet::from_jwks(&jwks),
        Err(ConfigError::InvalidKey { .. })
    ));

    // Assuming RS256 binds the RSA key; the EC key cannot be RS256 and is skipped.
    let assumed = KeySet::from_jwks_assuming(&jwks, Algorithm::RS256).unwrap();
    assert_eq!(assumed.len(), 1);
    assert_eq!(assumed.keys()[0].kid(), Some("r1"));
    assert_eq!(assumed.keys()[0].algorithm(), Algorithm::RS256);
    let app = App::new(JwtLayer::new(validator_for(assumed)));
    let token = TokenIssuer::new(rsa, validator_for(keys.clone()))
        .unwrap()
        .issue("user-1", &json!({"name": "Ada"}))
        .unwrap();
    assert_eq!(app.bearer(&token.access_token).await.status, StatusCode::OK);
    // A PS256 token under the RS256-bound key is still refused.
    let mut header = at_header(Algorithm::PS256);
    header.kid = Some("r1".into());
    let forged = sign(
        &header,
        &good_claims(),
        &EncodingKey::from_rsa_pem(&key_file("rsa_private.pem")).unwrap(),
    );
    assert_eq!(
        app.bearer(&forged).await.error,
        Some(AuthError::DisallowedAlgorithm)
    );
    // Nothing usable at all: an error, not an empty set.
    assert_eq!(
        KeySet::from_jwks_assuming(&jwks, Algorithm::EdDSA).unwrap_err(),
        ConfigError::NoKeys
    );
}

#[tokio::test]
async fn issued_tokens_carry_the_rfc_9068_claims() {
    let signing = SigningKey::hmac(Algorithm::HS256, SECRET)
        .unwrap()
        .with_kid("k");
    let validator = validator_for(KeySet::single(signing.verifying_key()));
    let issuer = TokenIssuer::new(signing, validator.clone())
        .unwrap()
        .client_id("web-app");
    let token = issuer.issue("user-1", &json!({ "name": "Ada" })).unwrap();
    let header = jsonwebtoken::decode_header(&token.access_token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(header.kid.as_deref(), Some("k"));
    let verified = validator
        .verify::<serde_json::Value>(&token.access_token)
        .unwrap();
    let claims = verified.claims();
    for claim in ["iss", "exp", "aud", "sub", "client_id", "iat", "jti"] {
        assert!(claims.get(claim).is_some(), "{claim} missing: {claims}");
    }
    assert_eq!(claims["client_id"], "web-app");
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        900
    );
    // Application claims cannot overwrite what the issuer sets.
    for reserved in ["sub", "exp", "client_id", "sid"] {
        let err = issuer
            .issue("user-1", &json!({ reserved: "x" }))
            .unwrap_err();
        assert_eq!(err, jwt_layer::IssueError::ReservedClaim(reserved.into()));
    }
    assert_eq!(
        issuer.issue("user-1", &json!([1, 2])).unwrap_err(),
        jwt_layer::IssueError::NotAnObject
    );
}

#[tokio::test]
async fn jwks_documents_never_yield_symmetric_or_non_signature_keys() {
    let rsa = SigningKey::rsa_pem(Algorithm::RS256, &key_file("rsa_private.pem"))
        .unwrap()
        .with_kid("r1");
    let published = KeySet::single(rsa.verifying_key()).jwks();
    let rsa_jwk = serde_json::to_value(&published.keys[0]).unwrap();
    let jwks = |keys: Vec<Value>| -> jwt_layer::JwkSet {
        serde_json::from_value(json!({ "keys": keys })).unwrap()
    };
    // A symmetric key in a public document: anyone could sign with it.
    let oct = json!({
        "kty": "oct", "alg": "HS256", "kid": "h1",
        "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldC0zMg"
    });
    let err = KeySet::from_jwks(&jwks(vec![rsa_jwk.clone(), oct.clone()])).unwrap_err();
    assert!(err.to_string().contains("\"oct\""), "{err}");
    // The lenient reading skips it (and says so in the log) and keeps the rest.
    let lenient =
        KeySet::from_jwks_assuming(&jwks(vec![rsa_jwk.clone(), oct.clone()]), Algorithm::RS256)
            .unwrap();
    assert_eq!(lenient.len(), 1);
    assert_eq!(lenient.keys()[0].kid(), Some("r1"));
    assert_eq!(
        KeySet::from_jwks_assuming(&jwks(vec![oct.clone()]), Algorithm::HS256).unwrap_err(),
        ConfigError::NoKeys
    );
    // A token forged with the published secret is refused by the lenient set.
    let app = App::new(JwtLayer::new(validator_for(lenient)));
    let mut header = at_header(Algorithm::HS256);
    header.kid = Some("h1".into());
    let forged = sign(
        &header,
        &good_claims(),
        &EncodingKey::from_secret(b"secret-secret-secret-secret-secret-32"),
    );
    assert_eq!(app.bearer(&forged).await.error, Some(AuthError::UnknownKey));

    // `use` and `key_ops` are honoured: only signature-verification keys count.
    let with = |extra: Value| {
        let mut jwk = rsa_jwk.clone();
        for (name, value) in extra.as_object().unwrap() {
            jwk[name] = value.clone();
        }
        jwk
    };
    for (extra, usable) in [
        (json!({"use": "sig"}), true),
        (json!({"use": "enc"}), false),
        (json!({"key_ops": ["verify"]}), true),
        (json!({"key_ops": ["sign", "verify"]}), true),
        (json!({"key_ops": ["sign"]}), false),
        (json!({"key_ops": ["encrypt"]}), false),
        (json!({"key_ops": []}), false),
    ] {
        let set = KeySet::from_jwks(&jwks(vec![with(extra.clone())]));
        assert_eq!(set.is_ok(), usable, "{extra}");
        if !usable {
            assert_eq!(set.unwrap_err(), ConfigError::NoKeys, "{extra}");
        }
    }
}
