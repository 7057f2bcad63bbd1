//! Every verification rule, table-driven, through the real layer: each refusal
//! asserts status, RFC 6750 challenge, typed error, that the handler was not
//! called, and that the same service still serves a good token afterwards.
mod common;

use axum::body::Body;
use common::*;
use http::{Request, StatusCode, header};
use jsonwebtoken::EncodingKey;
use jwt_layer::{AuthError, JwtLayer, TokenSource};
use serde_json::{Value, json};

fn bearer_request(token: &str) -> Request<Body> {
    Request::get("/")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

fn with_header(name: &str, value: &str) -> Request<Body> {
    Request::get("/")
        .header(name, value)
        .body(Body::empty())
        .unwrap()
}

/// A good HS256 token whose header `edit` changes.
fn hs256_with_header(edit: impl FnOnce(&mut jsonwebtoken::Header)) -> String {
    let mut header = at_header(jwt_layer::Algorithm::HS256);
    edit(&mut header);
    sign(
        &header,
        &good_claims(),
        &EncodingKey::from_secret(common::SECRET),
    )
}

/// A token whose header is this exact JSON text, with good claims, validly signed.
fn signed_with_raw_header(header_json: &str) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let input = format!(
        "{}.{}",
        b64.encode(header_json),
        b64.encode(good_claims().to_string())
    );
    let signature = jsonwebtoken::crypto::sign(
        input.as_bytes(),
        &EncodingKey::from_secret(common::SECRET),
        jwt_layer::Algorithm::HS256,
    )
    .unwrap();
    format!("{input}.{signature}")
}

fn claims_with(edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
    let mut claims = good_claims();
    edit(claims.as_object_mut().unwrap());
    claims
}

struct Case {
    name: &'static str,
    request: Request<Body>,
    error: AuthError,
}

fn case(name: &'static str, request: Request<Body>, error: AuthError) -> Case {
    Case {
        name,
        request,
        error,
    }
}

fn token_cases() -> Vec<Case> {
    let now = now();
    let other_secret = EncodingKey::from_secret(b"another-secret-another-secret-32");
    let good = good_token();
    let (head, rest) = good.split_once('.').unwrap();
    let (_payload, signature) = rest.split_once('.').unwrap();
    let forged_payload = {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let claims = claims_with(|c| {
            c.insert("sub".into(), json!("admin"));
        });
        format!("{head}.{}.{signature}", b64.encode(claims.to_string()))
    };
    let hs = |claims: Value| hs256(&claims);
    vec![
        // Shape, before any decoding.
        case("not a jwt", bearer_request("abc"), AuthError::Malformed),
        case("two parts", bearer_request("abc.def"), AuthError::Malformed),
        case(
            "four parts",
            bearer_request(&format!("{good}.x")),
            AuthError::Malformed,
        ),
        case(
            "empty part",
            bearer_request("abc..def"),
            AuthError::Malformed,
        ),
        case(
            "over the 8 KiB cap",
            bearer_request(&format!(
                "{}.{}.{}",
                "a".repeat(4000),
                "b".repeat(4200),
                "c"
            )),
            AuthError::Malformed,
        ),
        case(
            "padding",
            bearer_request(&format!("{good}=")),
            AuthError::Malformed,
        ),
        case(
            "standard base64",
            bearer_request("ab+c.de/f.ghi"),
            AuthError::Malformed,
        ),
        case(
            "refresh token as access token",
            bearer_request("dGhpcyBpcyBhbiBvcGFxdWUgcmVmcmVzaCB0b2tlbiEhIQ"),
            AuthError::Malformed,
        ),
        case(
            "header not json",
            bearer_request(&format!("bm90IGpzb24.{}", rest)),
            AuthError::Malformed,
        ),
        case(
            "header is a JSON array",
            bearer_request(&raw_token(
                &json!(["HS256", null, "at+jwt"]),
                &good_claims(),
                "c2ln",
            )),
            AuthError::Malformed,
        ),
        case(
            "payload is a JSON array, validly signed",
            bearer_request(&{
                use base64::Engine;
                let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
                let input = format!(
                    "{}.{}",
                    b64.encode(r#"{"alg":"HS256","typ":"at+jwt"}"#),
                    b64.encode(format!("[{}, {}]", now + 60, now))
                );
                let sig = jsonwebtoken::crypto::sign(
                    input.as_bytes(),
                    &EncodingKey::from_secret(common::SECRET),
                    jwt_layer::Algorithm::HS256,
                )
                .unwrap();
                format!("{input}.{sig}")
            }),
            AuthError::Malformed,
        ),
        // Header.
        case(
            "alg none, empty signature",
            bearer_request(&raw_token(
                &json!({"alg": "none", "typ": "at+jwt"}),
                &good_claims(),
                "",
            )),
            AuthError::Malformed,
        ),
        case(
            "alg none, with a signature",
            bearer_request(&raw_token(
                &json!({"alg": "none", "typ": "at+jwt"}),
                &good_claims(),
                "c2ln",
            )),
            AuthError::Malformed,
        ),
        case(
            "alg HS384 on an HS256 key",
            bearer_request(&sign(
                &at_header(jwt_layer::Algorithm::HS384),
                &good_claims(),
                &EncodingKey::from_secret(common::SECRET),
            )),
            AuthError::DisallowedAlgorithm,
        ),
        case(
            "crit header",
            bearer_request(&hs256_with_header(|h| h.crit = Some(vec!["exp".into()]))),
            AuthError::CriticalHeader,
        ),
        case(
            "crit null",
            bearer_request(&signed_with_raw_header(
                r#"{"alg":"HS256","typ":"at+jwt","crit":null}"#,
            )),
            AuthError::CriticalHeader,
        ),
        case(
            "crit empty array",
            bearer_request(&signed_with_raw_header(
                r#"{"alg":"HS256","typ":"at+jwt","crit":[]}"#,
            )),
            AuthError::CriticalHeader,
        ),
        case(
            "typ with a multibyte character straddling byte 12",
            bearer_request(&signed_with_raw_header(
                r#"{"alg":"HS256","typ":"aaaaaaaaaaaé"}"#,
            )),
            AuthError::WrongType,
        ),
        case(
            "typ application/ with a multibyte character after it",
            bearer_request(&signed_with_raw_header(
                r#"{"alg":"HS256","typ":"applicationé/at+jwt"}"#,
            )),
            AuthError::WrongType,
        ),
        case(
            "alg null",
            bearer_request(&signed_with_raw_header(r#"{"alg":null,"typ":"at+jwt"}"#)),
            AuthError::Malformed,
        ),
        case(
            "alg a number",
            bearer_request(&signed_with_raw_header(r#"{"alg":256,"typ":"at+jwt"}"#)),
            AuthError::Malformed,
        ),
        case(
            "alg an array",
            bearer_request(&signed_with_raw_header(
                r#"{"alg":["HS256"],"typ":"at+jwt"}"#,
            )),
            AuthError::Malformed,
        ),
        case(
            "kid null",
            bearer_request(&signed_with_raw_header(
                r#"{"alg":"HS256","typ":"at+jwt","kid":null}"#,
            )),
            AuthError::Malformed,
        ),
        case(
            "kid a number",
            bearer_request(&signed_with_raw_header(
                r#"{"alg":"HS256","typ":"at+jwt","kid":1}"#,
            )),
            AuthError::Malformed,
        ),
        case(
            "kid an array",
            bearer_request(&signed_with_raw_header(
                r#"{"alg":"HS256","typ":"at+jwt","kid":["a"]}"#,
            )),
            AuthError::Malformed,
        ),
        case(
            "typ null",
            bearer_request(&signed_with_raw_header(r#"{"alg":"HS256","typ":null}"#)),
            AuthError::Malformed,
        ),
        case(
            "typ a number",
            bearer_request(&signed_with_raw_header(r#"{"alg":"HS256","typ":9068}"#)),
            AuthError::Malformed,
        ),
        case(
            "typ an array",
            bearer_request(&signed_with_raw_header(
                r#"{"alg":"HS256","typ":["at+jwt"]}"#,
            )),
            AuthError::Malformed,
        ),
        case(
            "typ missing",
            bearer_request(&hs256_with_header(|h| h.typ = None)),
            AuthError::WrongType,
        ),
        case(
            "typ JWT (an ID token or another JWT)",
            bearer_request(&hs256_with_header(|h| h.typ = Some("JWT".into()))),
            AuthError::WrongType,
        ),
        case(
            "typ of a refresh token",
            bearer_request(&hs256_with_header(|h| h.typ = Some("rt+jwt".into()))),
            AuthError::WrongType,
        ),
        case(
            "unknown kid",
            bearer_request(&hs256_with_header(|h| h.kid = Some("nope".into()))),
            AuthError::UnknownKey,
        ),
        case(
            "attacker key embedded as jwk",
            bearer_request(&{
                let attacker = b"attacker-secret-attacker-secret!";
                let mut h = at_header(jwt_layer::Algorithm::HS256);
                h.jwk = Some(
                    jsonwebtoken::jwk::Jwk::from_encoding_key(
                        &EncodingKey::from_secret(attacker),
                        jwt_layer::Algorithm::HS256,
                    )
                    .unwrap(),
                );
                h.jku = Some("https://attacker.example/jwks.json".into());
                sign(&h, &good_claims(), &EncodingKey::from_secret(attacker))
            }),
            AuthError::BadSignature,
        ),
        // Signature.
        case(
            "signed with another secret",
            bearer_request(&sign(
                &at_header(jwt_layer::Algorithm::HS256),
                &good_claims(),
                &other_secret,
            )),
            AuthError::BadSignature,
        ),
        case(
            "payload tampered",
            bearer_request(&forged_payload),
            AuthError::BadSignature,
        ),
        case(
            "signature cut to three bytes",
            bearer_request(&format!("{head}.{}.AAAA", rest.split_once('.').unwrap().0)),
            AuthError::BadSignature,
        ),
        case(
            "signature not base64url",
            bearer_request(&format!("{head}.{}.A", rest.split_once('.').unwrap().0)),
            AuthError::Malformed,
        ),
        // Claims.
        case(
            "expired",
            bearer_request(&hs(claims_with(|c| {
                c.insert("exp".into(), json!(now - 3600));
            }))),
            AuthError::Expired,
        ),
        case(
            "exp missing",
            bearer_request(&hs(claims_with(|c| {
                c.remove("exp");
            }))),
            AuthError::MissingExpiry,
        ),
        case(
            "exp a string",
            bearer_request(&hs(claims_with(|c| {
                c.insert("exp".into(), json!("tomorrow"));
            }))),
            AuthError::InvalidClaim,
        ),
        case(
            "exp negative",
            bearer_request(&hs(claims_with(|c| {
                c.insert("exp".into(), json!(-5));
            }))),
            AuthError::InvalidClaim,
        ),
        case(
            "nbf in the future",
            bearer_request(&hs(claims_with(|c| {
                c.insert("nbf".into(), json!(now + 3600));
            }))),
            AuthError::NotYetValid,
        ),
        case(
            "iat in the future",
            bearer_request(&hs(claims_with(|c| {
                c.insert("iat".into(), json!(now + 3600));
            }))),
            AuthError::IssuedInFuture,
        ),
        case(
            "wrong issuer",
            bearer_request(&hs(claims_with(|c| {
                c.insert("iss".into(), json!("https://evil.test"));
            }))),
            AuthError::WrongIssuer,
        ),
        case(
            "issuer missing",
            bearer_request(&hs(claims_with(|c| {
                c.remove("iss");
            }))),
            AuthError::WrongIssuer,
        ),
        case(
            "issuer as an array",
            bearer_request(&hs(claims_with(|c| {
                c.insert("iss".into(), json!([ISSUER]));
            }))),
            AuthError::WrongIssuer,
        ),
        case(
            "wrong audience",
            bearer_request(&hs(claims_with(|c| {
                c.insert("aud".into(), json!("https://other.test"));
            }))),
            AuthError::WrongAudience,
        ),
        case(
            "audience missing",
            bearer_request(&hs(claims_with(|c| {
                c.remove("aud");
            }))),
            AuthError::WrongAudience,
        ),
        case(
            "audience a number",
            bearer_request(&hs(claims_with(|c| {
                c.insert("aud".into(), json!(7));
            }))),
            AuthError::WrongAudience,
        ),
        case(
            "claims of another shape",
            bearer_request(&hs(claims_with(|c| {
                c.remove("name");
            }))),
            AuthError::ClaimsShape,
        ),
        case(
            "exp at 2^64-1",
            bearer_request(&hs(claims_with(|c| {
                c.insert("exp".into(), json!(u64::MAX));
            }))),
            AuthError::LifetimeTooLong,
        ),
        case(
            "exp ten years ahead",
            bearer_request(&hs(claims_with(|c| {
                c.insert("exp".into(), json!(now + 10 * 365 * 24 * 3600));
            }))),
            AuthError::LifetimeTooLong,
        ),
        case(
            "no iat, exp 25 hours ahead",
            bearer_request(&hs(claims_with(|c| {
                c.remove("iat");
                c.insert("exp".into(), json!(now + 25 * 3600));
            }))),
            AuthError::LifetimeTooLong,
        ),
        case(
            "iat long ago, exp soon (a 48 h token)",
            bearer_request(&hs(claims_with(|c| {
                c.insert("iat".into(), json!(now - 47 * 3600));
                c.insert("exp".into(), json!(now + 3600));
            }))),
            AuthError::LifetimeTooLong,
        ),
        case(
            "sub empty",
            bearer_request(&hs(claims_with(|c| {
                c.insert("sub".into(), json!(""));
            }))),
            AuthError::MissingSubject,
        ),
        case(
            "sub missing",
            bearer_request(&hs(claims_with(|c| {
                c.remove("sub");
            }))),
            AuthError::MissingSubject,
        ),
        case(
            "sub null",
            bearer_request(&hs(claims_with(|c| {
                c.insert("sub".into(), Value::Null);
            }))),
            AuthError::InvalidClaim,
        ),
        case(
            "nbf null",
            bearer_request(&hs(claims_with(|c| {
                c.insert("nbf".into(), Value::Null);
            }))),
            AuthError::InvalidClaim,
        ),
        case(
            "exp null",
            bearer_request(&hs(claims_with(|c| {
                c.insert("exp".into(), Value::Null);
            }))),
            AuthError::InvalidClaim,
        ),
        case(
            "aud null",
            bearer_request(&hs(claims_with(|c| {
                c.insert("aud".into(), Value::Null);
            }))),
            AuthError::WrongAudience,
        ),
        case(
            "sub not a string",
            bearer_request(&hs(claims_with(|c| {
                c.insert("sub".into(), json!(42));
            }))),
            AuthError::InvalidClaim,
        ),
    ]
}

fn request_cases() -> Vec<Case> {
    let good = good_token();
    vec![
        case(
            "no credentials",
            Request::get("/").body(Body::empty()).unwrap(),
            AuthError::Missing,
        ),
        case(
            "other scheme only",
            with_header("authorization", "Basic dXNlcjpwYXNz"),
            AuthError::Missing,
        ),
        case(
            "bearer without token",
            with_header("authorization", "Bearer"),
            AuthError::MalformedHeader,
        ),
        case(
            "bearer with empty token",
            with_header("authorization", "Bearer "),
            AuthError::MalformedHeader,
        ),
        case(
            "bearer with two tokens",
            with_header("authorization", &format!("Bearer {good} {good}")),
            AuthError::MalformedHeader,
        ),
        case(
            "bearer then a tab",
            with_header("authorization", &format!("Bearer \t{good}")),
            AuthError::MalformedHeader,
        ),
        case(
            "bearer then a tab, no space",
            with_header("authorization", "Bearer\tgarbage"),
            AuthError::MalformedHeader,
        ),
        case(
            "bearer glued to the token",
            with_header("authorization", &format!("Bearer{good}")),
            AuthError::MalformedHeader,
        ),
        case(
            "bearer, lower case, tab",
            with_header("authorization", &format!("bearer\t{good}")),
            AuthError::MalformedHeader,
        ),
        case(
            "bearer with a trailing space",
            with_header("authorization", &format!("Bearer {good} ")),
            AuthError::MalformedHeader,
        ),
        case(
            "bearer with a quote",
            with_header("authorization", "Bearer \"abc\""),
            AuthError::MalformedHeader,
        ),
        case(
            "two authorization headers",
            Request::get("/")
                .header("authorization", format!("Bearer {good}"))
                .header("authorization", format!("Bearer {good}"))
                .body(Body::empty())
                .unwrap(),
            AuthError::ConflictingCredentials,
        ),
    ]
}

async fn assert_refused(app: &App, case: Case) {
    let before = app.calls();
    let reply = app.send(case.request).await;
    let name = case.name;
    let error = case.error;
    assert_eq!(
        reply.status,
        error.status(),
        "{name}: status ({})",
        reply.body
    );
    assert_eq!(reply.error.as_ref(), Some(&error), "{name}: typed error");
    assert_eq!(app.calls(), before, "{name}: the handler must not run");
    let challenge = reply.challenge().unwrap_or_default().to_owned();
    match error.code().as_str() {
        None => assert_eq!(challenge, r#"Bearer realm="api""#, "{name}: challenge"),
        Some(code) => {
            assert!(
                challenge.starts_with(r#"Bearer realm="api", error=""#),
                "{name}: {challenge}"
            );
            assert!(
                challenge.contains(&format!(r#"error="{code}""#)),
                "{name}: {challenge}"
            );
            assert!(
                challenge.contains(&format!(r#"error_description="{error}""#)),
                "{name}: {challenge}"
            );
        }
    }
    let body = reply.json();
    assert_eq!(body["error_description"], error.to_string(), "{name}: body");
    assert_eq!(reply.headers["cache-control"], "no-store", "{name}");
    app.still_serves_good_token().await;
}

#[tokio::test]
async fn every_bad_token_is_refused_and_the_layer_keeps_serving() {
    let app = App::new(JwtLayer::new(validator()));
    let cases = token_cases();
    assert!(cases.len() > 30);
    for case in cases {
        assert_refused(&app, case).await;
    }
}

#[tokio::test]
async fn every_malformed_request_is_refused_and_the_layer_keeps_serving() {
    let app = App::new(JwtLayer::new(validator()));
    for case in request_cases() {
        assert_refused(&app, case).await;
    }
}

#[tokio::test]
async fn descriptions_never_echo_token_bytes() {
    let app = App::new(JwtLayer::new(validator()));
    for case in token_cases() {
        let token = case
            .request
            .headers()
            .get(header::AUTHORIZATION)
            .unwrap()
            .to_str()
            .unwrap()
            .trim_start_matches("Bearer ")
            .to_owned();
        let reply = app.send(case.request).await;
        for piece in token.split('.').filter(|p| p.len() >= 4) {
            assert!(
                !reply.body.contains(piece),
                "{}: body echoes the token",
                case.name
            );
            assert!(
                !reply.challenge().unwrap().contains(piece),
                "{}: challenge echoes the token",
                case.name
            );
        }
    }
}

#[tokio::test]
async fn good_tokens_pass_with_their_claims() {
    let app = App::new(JwtLayer::new(validator()));
    let reply = app.bearer(&good_token()).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, "user-1 Ada bearer");

    // RFC 6750: "Bearer" 1*SP b64token.
    let reply = app
        .send(with_header(
            "authorization",
            &format!("Bearer   {}", good_token()),
        ))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    // Scheme is case-insensitive; typ may carry the application/ prefix, any case.
    let reply = app
        .send(with_header(
            "authorization",
            &format!("bEaReR {}", good_token()),
        ))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let mut header = at_header(jwt_layer::Algorithm::HS256);
    header.typ = Some("Application/AT+JWT".into());
    let token = sign(&header, &good_claims(), &EncodingKey::from_secret(SECRET));
    assert_eq!(app.bearer(&token).await.status, StatusCode::OK);

    // aud as an array containing ours.
    let claims = claims_with(|c| {
        c.insert("aud".into(), json!(["https://other.test", AUDIENCE]));
    });
    assert_eq!(app.bearer(&hs256(&claims)).await.status, StatusCode::OK);
    // Fractional NumericDate.
    let claims = claims_with(|c| {
        c.insert("exp".into(), json!(now() as f64 + 60.5));
    });
    assert_eq!(app.bearer(&hs256(&claims)).await.status, StatusCode::OK);
    assert_eq!(app.calls(), 6);
}

#[tokio::test]
async fn leeway_is_applied_and_exp_equal_to_now_is_expired() {
    use jwt_layer::{KeySet, Validator, VerifyingKey};
    use std::time::Duration;
    let strict = Validator::builder(KeySet::single(
        VerifyingKey::hmac(jwt_layer::Algorithm::HS256, SECRET).unwrap(),
    ))
    .issuer(ISSUER)
    .audience(AUDIENCE)
    .leeway(Duration::ZERO)
    .build()
    .unwrap();
    let app = App::new(JwtLayer::new(strict));
    let at_now = hs256(&claims_with(|c| {
        c.insert("exp".into(), json!(now()));
    }));
    let reply = app.bearer(&at_now).await;
    assert_eq!(reply.error, Some(AuthError::Expired));
    assert!(
        reply
            .challenge()
            .unwrap()
            .contains("The access token expired")
    );

    // Default leeway (30 s): expired 10 s ago still passes, 40 s ago does not.
    let app = App::new(JwtLayer::new(validator()));
    let recent = hs256(&claims_with(|c| {
        c.insert("exp".into(), json!(now() - 10));
    }));
    assert_eq!(app.bearer(&recent).await.status, StatusCode::OK);
    let old = hs256(&claims_with(|c| {
        c.insert("exp".into(), json!(now() - 40));
    }));
    assert_eq!(app.bearer(&old).await.error, Some(AuthError::Expired));
    let soon = hs256(&claims_with(|c| {
        c.insert("nbf".into(), json!(now() + 10));
        c.insert("iat".into(), json!(now() + 10));
    }));
    assert_eq!(app.bearer(&soon).await.status, StatusCode::OK);
}

#[tokio::test]
async fn maximum_lifetime_and_subject_rules_are_configurable() {
    use jwt_layer::{ConfigError, KeySet, Validator, VerifyingKey};
    use std::time::Duration;
    let keys = || KeySet::single(VerifyingKey::hmac(jwt_layer::Algorithm::HS256, SECRET).unwrap());
    assert_eq!(
        Validator::builder(keys())
            .max_lifetime(Duration::ZERO)
            .build()
            .unwrap_err(),
        ConfigError::ZeroMaxLifetime
    );
    // A one-hour cap refuses a two-hour token and takes a 59-minute one.
    let hourly = Validator::builder(keys())
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .max_lifetime(Duration::from_secs(3600))
        .build()
        .unwrap();
    let app = App::new(JwtLayer::new(hourly));
    let two_hours = hs256(&claims_with(|c| {
        c.insert("exp".into(), json!(now() + 7200));
    }));
    assert_eq!(
        app.bearer(&two_hours).await.error,
        Some(AuthError::LifetimeTooLong)
    );
    let short = hs256(&claims_with(|c| {
        c.insert("exp".into(), json!(now() + 3540));
    }));
    assert_eq!(app.bearer(&short).await.status, StatusCode::OK);

    // The default validator refuses a token without `sub`; the opt-out takes it
    // (but never an empty one).
    let no_sub = hs256(&claims_with(|c| {
        c.remove("sub");
    }));
    assert_eq!(
        validator().verify::<Value>(&no_sub).unwrap_err(),
        AuthError::MissingSubject
    );
    let relaxed = Validator::builder(keys())
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .allow_missing_subject()
        .build()
        .unwrap();
    let verified = relaxed.verify::<Value>(&no_sub).unwrap();
    assert_eq!(verified.token().subject(), None);
    let empty_sub = hs256(&claims_with(|c| {
        c.insert("sub".into(), json!(""));
    }));
    assert_eq!(
        relaxed.verify::<Value>(&empty_sub).unwrap_err(),
        AuthError::MissingSubject
    );
}

#[tokio::test]
async fn duplicated_claim_keys_are_refused_not_guessed() {
    let app = App::new(JwtLayer::new(validator()));
    // {"name":"Mallory", ..., "name":"Ada"}
    let json_text = good_claims()
        .to_string()
        .replacen('{', r#"{"name":"Mallory","#, 1);
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = b64.encode(r#"{"alg":"HS256","typ":"at+jwt"}"#);
    let payload = b64.encode(&json_text);
    let signing_input = format!("{header}.{payload}");
    let signature = jsonwebtoken::crypto::sign(
        signing_input.as_bytes(),
        &EncodingKey::from_secret(SECRET),
        jwt_layer::Algorithm::HS256,
    )
    .unwrap();
    let token = format!("{signing_input}.{signature}");
    // The handler's struct reads `name`: a duplicated field is refused, never guessed.
    let reply = app.bearer(&token).await;
    assert_eq!(reply.error, Some(AuthError::ClaimsShape));

    // A duplicated registered claim is refused too.
    let exp = now() + 60;
    let json_text = good_claims()
        .to_string()
        .replacen('{', &format!(r#"{{"exp":{exp},"#), 1);
    let payload = b64.encode(&json_text);
    let signing_input = format!("{header}.{payload}");
    let signature = jsonwebtoken::crypto::sign(
        signing_input.as_bytes(),
        &EncodingKey::from_secret(SECRET),
        jwt_layer::Algorithm::HS256,
    )
    .unwrap();
    let reply = app.bearer(&format!("{signing_input}.{signature}")).await;
    assert_eq!(reply.error, Some(AuthError::Malformed));
    app.still_serves_good_token().await;
}

#[tokio::test]
async fn hostile_inputs_never_panic() {
    let app = App::new(JwtLayer::new(validator()).sources([
        TokenSource::Bearer,
        TokenSource::cookie("__Host-access_token"),
        TokenSource::query("access_token"),
    ]));
    // A small deterministic generator: no external fuzzing crate needed here.
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let alphabet = b"abcXYZ019-_.=+/ \"%;,{}\\\x7f";
    for round in 0..2000 {
        let len = (next() % 120) as usize;
        let text: String = (0..len)
            .map(|_| alphabet[(next() % alphabet.len() as u64) as usize] as char)
            .collect();
        let request = match round % 3 {
            0 => http::HeaderValue::from_str(&format!("Bearer {text}"))
                .ok()
                .map(|v| Request::get("/").header("authorization", v)),
            1 => http::HeaderValue::from_str(&format!("__Host-access_token={text}"))
                .ok()
                .map(|v| Request::get("/").header("cookie", v)),
            _ => format!(
                "/?access_token={}",
                text.replace([' ', '"', '\\', '{', '}', '%', '\x7f'], "")
            )
            .parse::<http::Uri>()
            .ok()
            .map(Request::get),
        };
        let Some(request) = request else { continue };
        let reply = app.send(request.body(Body::empty()).unwrap()).await;
        assert!(
            reply.status.is_client_error(),
            "round {round}: {text:?} gave {}",
            reply.status
        );
    }
    // Random but well-shaped tokens: valid base64url parts with junk inside.
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    for round in 0..500 {
        let junk: Vec<u8> = (0..(next() % 64)).map(|_| next() as u8).collect();
        let header = match round % 4 {
            0 => b64.encode(&junk),
            1 => b64.encode(r#"{"alg":"HS256","typ":"at+jwt"}"#),
            2 => b64.encode(r#"{"alg":"RS256","kid":[1,2],"typ":"at+jwt"}"#),
            _ => b64.encode(r#"{"alg":"HS256","typ":"at+jwt","crit":"x"}"#),
        };
        let token = format!("{header}.{}.{}", b64.encode(&junk), b64.encode(&junk));
        let reply = app.bearer(&token).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "round {round}");
    }
    app.still_serves_good_token().await;
}
