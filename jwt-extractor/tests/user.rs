//! `CurrentUser<U>`: the user the layer's verify callback loaded, in axum
//! handlers, with a real Router, the real layer and real signed tokens.
use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use jwt_extractor::{Claims, CurrentUser};
use jwt_layer::{Algorithm, JwtLayer, KeySet, SigningKey, TokenIssuer, UserError, Validator};
use serde_json::{Value, json};
use tower::ServiceExt;

const SECRET: &[u8] = b"extractor-tests-secret-32-bytes!";

#[derive(Debug, Clone, PartialEq)]
struct User {
    id: String,
    plan: &'static str,
}

fn validator() -> Validator {
    Validator::builder(KeySet::single(
        SigningKey::hmac(Algorithm::HS256, SECRET)
            .unwrap()
            .verifying_key(),
    ))
    .build()
    .unwrap()
}

fn token(sub: &str) -> String {
    let issuer = TokenIssuer::new(
        SigningKey::hmac(Algorithm::HS256, SECRET).unwrap(),
        validator(),
    )
    .unwrap();
    issuer.issue(sub, &json!({})).unwrap().access_token
}

/// Users `ada` (pro) and `bob` (free); anyone else is unknown.
fn layer() -> JwtLayer<Value> {
    JwtLayer::<Value>::new(validator()).load_user(|token, _parts| {
        let user = match token.subject() {
            Some("ada") => Ok(User {
                id: "ada".into(),
                plan: "pro",
            }),
            Some("bob") => Ok(User {
                id: "bob".into(),
                plan: "free",
            }),
            _ => Err(UserError::Unknown),
        };
        async move { user }
    })
}

async fn me(CurrentUser(user): CurrentUser<User>, Claims(claims): Claims<Value>) -> String {
    format!("{} {} {}", user.id, user.plan, claims["sub"])
}

async fn maybe(user: Option<CurrentUser<User>>) -> String {
    match user {
        Some(user) => format!("hello {}", user.id),
        None => "hello stranger".to_owned(),
    }
}

async fn call(app: &Router, path: &str, token: Option<&str>) -> (StatusCode, String) {
    let mut request = Request::get(path);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn current_user_is_what_the_loader_loaded() {
    let app = Router::new().route("/me", get(me)).layer(layer());
    assert_eq!(
        call(&app, "/me", Some(&token("ada"))).await,
        (StatusCode::OK, r#"ada pro "ada""#.to_owned())
    );
    let (status, _) = call(&app, "/me", Some(&token("mallory"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = call(&app, "/me", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn optional_current_user_is_none_only_without_a_token() {
    let app = Router::new()
        .route("/maybe", get(maybe))
        .route("/me", get(me))
        .layer(layer().optional());
    assert_eq!(
        call(&app, "/maybe", None).await,
        (StatusCode::OK, "hello stranger".to_owned())
    );
    assert_eq!(
        call(&app, "/maybe", Some(&token("bob"))).await,
        (StatusCode::OK, "hello bob".to_owned())
    );
    // An unknown user is refused by the layer, never turned into `None`.
    let (status, _) = call(&app, "/maybe", Some(&token("mallory"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The required extractor in optional mode without a token: 401.
    let (status, _) = call(&app, "/me", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn current_user_without_a_loader_is_a_500_not_a_pass() {
    // The layer verifies tokens but loads no user: a programming error.
    let app = Router::new()
        .route("/me", get(me))
        .route("/maybe", get(maybe))
        .layer(JwtLayer::<Value>::new(validator()));
    let (status, body) = call(&app, "/me", Some(&token("ada"))).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(!body.contains("User"), "{body}");
    let (status, _) = call(&app, "/maybe", Some(&token("ada"))).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    // No layer at all.
    let app = Router::new().route("/maybe", get(maybe));
    let (status, _) = call(&app, "/maybe", None).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
}
