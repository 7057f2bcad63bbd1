//! The test kit users write their own tests with: each kind of token it makes
//! gets the refusal it promises from the real layer (so a kit that silently
//! made valid tokens would fail here).
use axum::Router;
use axum::routing::get;
use http::{Method, StatusCode};
use jwt_layer::test_util::{TEST_AUDIENCE, TEST_ISSUER, TestAuthority, TestToken, send};
use jwt_layer::{Algorithm, AuthError, JwtLayer, SigningKey, VerifiedToken};
use serde_json::{Value, json};
use std::time::Duration;

fn app(authority: &TestAuthority) -> Router {
    Router::new()
        .route(
            "/me",
            get(|request: http::Request<axum::body::Body>| async move {
                let token = VerifiedToken::from_extensions(request.extensions()).unwrap();
                format!("{} {:?}", token.subject().unwrap(), token.roles())
            }),
        )
        .layer(JwtLayer::<Value>::new(authority.validator()))
}

async fn refusal(authority: &TestAuthority, token: TestToken) -> Option<AuthError> {
    let response = send(app(authority), token.get("/me")).await;
    let error = response.json()["error_description"]
        .as_str()
        .map(str::to_owned);
    match response.status {
        StatusCode::OK => None,
        _ => Some(
            [
                AuthError::Expired,
                AuthError::NotYetValid,
                AuthError::WrongAudience,
                AuthError::WrongIssuer,
                AuthError::BadSignature,
                AuthError::MissingSubject,
                AuthError::MissingExpiry,
                AuthError::WrongType,
                AuthError::UnknownKey,
            ]
            .into_iter()
            .find(|err| Some(err.to_string()) == error)
            .unwrap_or_else(|| panic!("unexpected refusal {error:?}")),
        ),
    }
}

#[tokio::test]
async fn a_default_token_passes_with_the_authoritys_claims() {
    let authority = TestAuthority::new();
    let token = authority.token("ada").roles(["admin", "user"]);
    let response = send(app(&authority), token.get("/me")).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert_eq!(response.text(), r#"ada ["admin", "user"]"#);
    let verified = authority
        .validator()
        .verify::<Value>(&token.sign())
        .unwrap();
    assert_eq!(verified["iss"], TEST_ISSUER);
    assert_eq!(verified["aud"], TEST_AUDIENCE);
    assert_eq!(verified.token().algorithm(), Algorithm::HS256);
}

#[tokio::test]
async fn each_kind_of_bad_token_gets_its_refusal() {
    let authority = TestAuthority::new();
    let token = || authority.token("ada");
    let cases = [
        (token().expired(), AuthError::Expired),
        (token().not_yet_valid(), AuthError::NotYetValid),
        (
            token().audience("https://other.test"),
            AuthError::WrongAudience,
        ),
        (token().issuer("https://evil.test"), AuthError::WrongIssuer),
        (token().forged(), AuthError::BadSignature),
        (token().without("sub"), AuthError::MissingSubject),
        (token().without("exp"), AuthError::MissingExpiry),
        (token().typ(Some("JWT")), AuthError::WrongType),
        (token().kid(Some("someone-else")), AuthError::UnknownKey),
    ];
    for (token, expected) in cases {
        assert_eq!(
            refusal(&authority, token).await,
            Some(expected.clone()),
            "{expected:?}"
        );
    }
    assert_eq!(
        refusal(&authority, token().expires_in(Duration::from_secs(5))).await,
        None
    );
}

#[tokio::test]
async fn every_authority_has_its_own_key() {
    let (a, b) = (TestAuthority::new(), TestAuthority::new());
    assert!(refusal(&a, b.token("ada")).await.is_some());
    assert!(
        refusal(&a, a.token("ada").signed_with(b.signing_key()))
            .await
            .is_some()
    );
}

#[tokio::test]
async fn claims_for_step_up_and_scopes_are_set_as_given() {
    let authority = TestAuthority::new();
    let token = authority
        .token("ada")
        .scope("notes:read notes:write")
        .acr("urn:example:mfa")
        .amr(["pwd", "otp"])
        .authenticated_ago(Duration::from_secs(120))
        .claims(json!({ "tenant": "acme" }))
        .claim("plan", "pro");
    let claims = authority
        .validator()
        .verify::<Value>(&token.sign())
        .unwrap();
    assert_eq!(claims["scope"], "notes:read notes:write");
    assert_eq!(claims["acr"], "urn:example:mfa");
    assert_eq!(claims["amr"], json!(["pwd", "otp"]));
    let auth_time = claims["auth_time"].as_u64().unwrap();
    let now = jsonwebtoken::get_current_timestamp();
    assert!(
        (now - 125..=now - 119).contains(&auth_time),
        "{auth_time} vs {now}"
    );
    assert_eq!(claims["tenant"], "acme");
    assert_eq!(claims["plan"], "pro");
}

#[tokio::test]
async fn an_authority_with_an_asymmetric_key_and_its_own_names() {
    let pem = std::fs::read(format!(
        "{}/tests/keys/ec_private.pem",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let authority = TestAuthority::with_key(SigningKey::ec_pem(Algorithm::ES256, &pem).unwrap())
        .issuer("https://login.example")
        .audience("notes");
    let response = send(app(&authority), authority.token("ada").get("/me")).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    let issuer = authority.token_issuer(authority.validator());
    let issued = issuer.issue("bob", &json!({})).unwrap();
    let request = http::Request::builder()
        .method(Method::GET)
        .uri("/me")
        .header("authorization", format!("Bearer {}", issued.access_token))
        .body(String::new())
        .unwrap();
    assert_eq!(send(app(&authority), request).await.text(), "bob []");
}
