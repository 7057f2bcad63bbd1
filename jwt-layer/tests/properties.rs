//! Property tests (proptest, on stable) for every entry point that parses
//! hostile input: any input gives no panic and one of the documented outcomes.
//! The fuzz targets in `fuzz/` explore the same entry points with coverage
//! guidance; these run in every `cargo test`.
mod common;

use axum::body::Body;
use common::*;
use http::{HeaderValue, Request, StatusCode};
use jsonwebtoken::{Algorithm, AlgorithmFamily, EncodingKey};
use jwt_layer::{AuthError, JwkSet, JwtLayer, KeySet, TokenSource};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// Errors `Validator::verify` may give: only token-level ones.
fn is_token_error(err: &AuthError) -> bool {
    !matches!(
        err,
        AuthError::Missing
            | AuthError::MalformedHeader
            | AuthError::ConflictingCredentials
            | AuthError::Revoked
            | AuthError::StoreUnavailable
            | AuthError::SourceFailed
            | AuthError::CrossSiteRequest
            | AuthError::InsufficientScope
            | AuthError::MissingScope { .. }
            | AuthError::InsufficientUserAuthentication { .. }
    )
}

/// Any JSON value, with the strings that matter and non-ASCII ones.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-100_000i64..100_000).prop_map(|d| Value::from(now() as i64 + d)),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop_oneof![
            Just("at+jwt".to_owned()),
            Just("HS256".to_owned()),
            Just(ISSUER.to_owned()),
            Just(AUDIENCE.to_owned()),
            Just("aaaaaaaaaaaé".to_owned()),
            ".*",
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((member_name(), inner), 0..6)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

fn member_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "alg", "kid", "typ", "crit", "exp", "nbf", "iat", "iss", "aud", "sub", "jti", "sid",
            "roles", "name",
        ])
        .prop_map(str::to_owned),
        ".{0,8}",
    ]
}

/// Members written over a good base object (so most tokens get far).
fn object_over(base: Value) -> impl Strategy<Value = Value> {
    prop::collection::vec((member_name(), json_value()), 0..5).prop_map(move |members| {
        let mut object: Map<String, Value> = base.as_object().cloned().unwrap_or_default();
        for (name, value) in members {
            object.insert(name, value);
        }
        Value::Object(object)
    })
}

fn signed(header: &Value, claims: &Value) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let input = format!(
        "{}.{}",
        b64.encode(header.to_string()),
        b64.encode(claims.to_string())
    );
    let signature = jsonwebtoken::crypto::sign(
        input.as_bytes(),
        &EncodingKey::from_secret(SECRET),
        Algorithm::HS256,
    )
    .unwrap();
    format!("{input}.{signature}")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Any text as a token: refused with a token-level error, never a panic.
    #[test]
    fn any_text_is_refused_cleanly(token in ".{0,200}") {
        match validator().verify::<Value>(&token) {
            Ok(_) => prop_assert!(false, "random text verified: {token:?}"),
            Err(err) => prop_assert!(is_token_error(&err), "{err:?}"),
        }
    }

    /// Structured, validly signed tokens with any header and claims members:
    /// an accepted token satisfies the policy; a refused one gives a token error.
    #[test]
    fn signed_tokens_with_any_members(
        header in object_over(json!({"alg": "HS256", "typ": "at+jwt"})),
        claims in object_over(good_claims()),
    ) {
        let token = signed(&header, &claims);
        match validator().verify::<Value>(&token) {
            Ok(verified) => {
                let registered = verified.token().registered();
                let now = now();
                prop_assert!(registered.exp + 30 > now);
                prop_assert!(registered.exp.saturating_sub(registered.iat.unwrap_or(now)) <= 24 * 3600);
                prop_assert!(registered.sub.as_deref().is_some_and(|s| !s.is_empty()));
                prop_assert_eq!(registered.iss.as_deref(), Some(ISSUER));
                prop_assert!(registered.aud.iter().any(|a| a == AUDIENCE));
                prop_assert!(header.get("crit").is_none());
                let _ = verified.token().roles();
            }
            Err(err) => prop_assert!(is_token_error(&err), "{err:?}"),
        }
    }

    /// Any bytes in `Authorization` and `Cookie` headers (several of each),
    /// through the real layer: 200 only with the valid token, else 400/401/403.
    #[test]
    fn any_credential_headers(
        headers in prop::collection::vec(
            (any::<bool>(), prop::collection::vec(any::<u8>(), 0..80), any::<bool>(), any::<bool>()),
            0..4,
        ),
    ) {
        let good = good_token();
        let app = App::new(JwtLayer::new(validator()).sources([
            TokenSource::Bearer,
            TokenSource::cookie("__Host-access_token"),
        ]));
        let mut request = Request::get("/");
        let mut with_token = false;
        for (is_cookie, bytes, prefix, splice) in headers {
            let mut value = Vec::new();
            if prefix {
                value.extend_from_slice(if is_cookie { b"__Host-access_token=" } else { b"Bearer " });
            }
            value.extend_from_slice(&bytes);
            if splice {
                value.extend_from_slice(good.as_bytes());
                with_token = true;
            }
            let Ok(value) = HeaderValue::from_bytes(&value) else { continue };
            request = request.header(if is_cookie { "cookie" } else { "authorization" }, value);
        }
        let reply = runtime().block_on(app.send(request.body(Body::empty()).unwrap()));
        prop_assert!(
            matches!(reply.status, StatusCode::OK | StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN),
            "{}", reply.status
        );
        if reply.status == StatusCode::OK {
            prop_assert!(with_token);
            prop_assert!(
                reply.body == "user-1 Ada bearer" || reply.body == "user-1 Ada cookie",
                "{}", reply.body
            );
        }
    }

    /// Any JWKS-shaped document: no panic, and never a symmetric key.
    #[test]
    fn any_jwks_document(keys in prop::collection::vec(object_over(json!({"kty": "RSA"})), 0..4)) {
        let document = json!({ "keys": keys });
        if let Ok(jwks) = serde_json::from_value::<JwkSet>(document) {
            let sets = [
                KeySet::from_jwks(&jwks),
                KeySet::from_jwks_assuming(&jwks, Algorithm::RS256),
                KeySet::from_jwks_assuming(&jwks, Algorithm::HS256),
            ];
            for set in sets.into_iter().flatten() {
                for key in set.keys() {
                    prop_assert!(key.algorithm().family() != AlgorithmFamily::Hmac);
                }
            }
        }
    }
}

/// Refresh tokens (feature `refresh`).
#[cfg(feature = "refresh")]
mod refresh_tokens {
    use super::*;
    use jwt_layer::store::MemoryStore;
    use jwt_layer::{RefreshError, RefreshTokens, SigningKey, TokenIssuer, Validator};

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        /// Any text as a refresh token: invalid, never a rotation, never a panic;
        /// logout of it never fails on a reachable store.
        #[test]
        fn any_text_as_a_refresh_token(candidate in ".{0,120}", logout in any::<bool>()) {
            let signing = SigningKey::hmac(Algorithm::HS256, SECRET).unwrap();
            let validator = Validator::builder(KeySet::single(signing.verifying_key())).build().unwrap();
            let tokens = RefreshTokens::new(TokenIssuer::new(signing, validator).unwrap(), MemoryStore::new());
            runtime().block_on(async {
                let session = tokens.login("user-1", &json!({})).await.unwrap();
                prop_assume!(candidate != session.refresh_token);
                if logout {
                    prop_assert!(tokens.logout(&candidate).await.is_ok());
                } else {
                    let outcome = tokens.refresh(&candidate).await;
                    prop_assert!(
                        matches!(outcome, Err(RefreshError::Invalid | RefreshError::Reused { .. })),
                        "{outcome:?}"
                    );
                }
                // The real session is untouched by anything that is not its token.
                prop_assert!(tokens.refresh(&session.refresh_token).await.is_ok());
                Ok(())
            })?;
        }
    }
}
