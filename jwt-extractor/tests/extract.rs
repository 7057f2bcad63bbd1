//! The extractors with a real Router, the real layer and real signed tokens.
use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use jwt_extractor::{
    AllOf, AnyOf, Claims, Policy, Require, RequireRole, require, require_claims, require_role, role,
};
use jwt_layer::{
    Algorithm, JwtLayer, KeySet, RoleClaim, SigningKey, TokenIssuer, Validator, VerifiedToken,
    VerifyingKey,
};
use serde::Deserialize;
use serde_json::{Value, json};
use tower::ServiceExt;

const SECRET: &[u8] = b"extractor-tests-secret-32-bytes!";

role!(pub Admin = "admin", pub Editor = "editor", pub Auditor = "auditor");

#[derive(Debug, Deserialize)]
struct User {
    sub: String,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    tenant: String,
}

fn validator(role_claim: RoleClaim) -> Validator {
    Validator::builder(KeySet::single(
        VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap(),
    ))
    .role_claim(role_claim)
    .build()
    .unwrap()
}

fn token(claims: Value) -> String {
    let validator = validator(RoleClaim::default());
    let issuer = TokenIssuer::new(
        SigningKey::hmac(Algorithm::HS256, SECRET).unwrap(),
        validator,
    )
    .unwrap();
    issuer.issue("ada", &claims).unwrap().access_token
}

async fn call(
    app: &Router,
    path: &str,
    token: Option<&str>,
) -> (StatusCode, String, Option<String>) {
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
    let challenge = response
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        String::from_utf8_lossy(&body).into_owned(),
        challenge,
    )
}

async fn me(Claims(user): Claims<User>) -> String {
    format!("{} {:?}", user.sub, user.roles)
}

async fn maybe(user: Option<Claims<User>>) -> String {
    match user {
        Some(Claims(user)) => format!("hello {}", user.sub),
        None => "hello stranger".into(),
    }
}

async fn admin(role: RequireRole<Admin>) -> String {
    format!("admin {}", role.token().subject().unwrap_or_default())
}
async fn any(_: RequireRole<AnyOf<(Admin, Editor)>>) -> &'static str {
    "admin or editor"
}
async fn all(_: RequireRole<AllOf<(Admin, Auditor)>>) -> &'static str {
    "admin and auditor"
}

fn routes() -> Router {
    Router::new()
        .route("/me", get(me))
        .route("/maybe", get(maybe))
        .route("/admin", get(admin))
        .route("/any", get(any))
        .route("/all", get(all))
}

fn app(role_claim: RoleClaim) -> Router {
    routes().layer(JwtLayer::<User>::new(validator(role_claim)).realm("tests"))
}

#[tokio::test]
async fn claims_extractor_reads_what_the_layer_verified() {
    let app = app(RoleClaim::default());
    let user = token(json!({ "roles": ["user"] }));
    assert_eq!(call(&app, "/me", Some(&user)).await.1, r#"ada ["user"]"#);
    let (status, _, challenge) = call(&app, "/me", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(challenge.as_deref(), Some(r#"Bearer realm="tests""#));
    assert_eq!(
        call(&app, "/me", Some("bad.token.here")).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn optional_auth_is_none_only_without_a_token() {
    let app = routes().layer(
        JwtLayer::<User>::new(validator(RoleClaim::default()))
            .optional()
            .realm("opt"),
    );
    assert_eq!(call(&app, "/maybe", None).await.1, "hello stranger");
    assert_eq!(
        call(&app, "/maybe", Some(&token(json!({})))).await.1,
        "hello ada"
    );
    // An invalid token is never "anonymous".
    let (status, _, challenge) = call(&app, "/maybe", Some("x.y.z")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(challenge.unwrap().contains("invalid_token"));
    // A required extractor behind an optional layer: 401, in the layer's realm.
    let (status, _, challenge) = call(&app, "/me", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(challenge.as_deref(), Some(r#"Bearer realm="opt""#));
    let (status, _, _) = call(&app, "/admin", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn missing_layer_is_a_500_not_a_pass() {
    let app = routes();
    for path in ["/me", "/maybe", "/admin"] {
        let (status, body, challenge) = call(&app, path, Some(&token(json!({})))).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{path}");
        assert_eq!(
            body, "internal server error",
            "{path}: no details to the client"
        );
        assert!(challenge.is_none());
    }
    // A layer for another claims type is the same mistake.
    let other = routes().layer(JwtLayer::<Value>::new(validator(RoleClaim::default())));
    assert_eq!(
        call(&other, "/me", Some(&token(json!({})))).await.0,
        StatusCode::INTERNAL_SERVER_ERROR
    );
}

#[tokio::test]
async fn rejection_names_the_missing_layer() {
    use axum::extract::FromRequestParts;
    let (mut parts, ()) = Request::new(()).into_parts();
    let rejection = match Claims::<User>::from_request_parts(&mut parts, &()).await {
        Err(rejection) => rejection,
        Ok(_) => panic!("no layer, yet claims were found"),
    };
    assert!(rejection.is_missing_layer());
    assert_eq!(rejection.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        rejection.to_string().contains("JwtLayer<extract::User>"),
        "{rejection}"
    );
}

#[tokio::test]
async fn roles_allow_and_deny() {
    let app = app(RoleClaim::default());
    let cases = [
        (json!({"roles": ["admin"]}), "/admin", StatusCode::OK),
        (json!({"roles": ["user"]}), "/admin", StatusCode::FORBIDDEN),
        (json!({}), "/admin", StatusCode::FORBIDDEN),
        (json!({"roles": ["Admin"]}), "/admin", StatusCode::FORBIDDEN),
        (json!({"roles": ["editor"]}), "/any", StatusCode::OK),
        (json!({"roles": ["admin"]}), "/any", StatusCode::OK),
        (json!({"roles": ["auditor"]}), "/any", StatusCode::FORBIDDEN),
        (
            json!({"roles": ["admin", "auditor"]}),
            "/all",
            StatusCode::OK,
        ),
        (json!({"roles": ["admin"]}), "/all", StatusCode::FORBIDDEN),
    ];
    for (claims, path, expected) in cases {
        let (status, body, challenge) = call(&app, path, Some(&token(claims.clone()))).await;
        assert_eq!(status, expected, "{claims} on {path}: {body}");
        if expected == StatusCode::FORBIDDEN {
            let challenge = challenge.unwrap();
            assert!(
                challenge.starts_with(r#"Bearer realm="tests", error="insufficient_scope""#),
                "{challenge}"
            );
            assert_eq!(
                serde_json::from_str::<Value>(&body).unwrap()["error"],
                "insufficient_scope"
            );
        }
    }
}

#[tokio::test]
async fn role_sources_are_configurable() {
    let cases = [
        ("role", json!({"role": "admin"})),
        ("roles", json!({"roles": ["user", "admin"]})),
        ("scope", json!({"scope": "read admin write"})),
        ("scp", json!({"scp": ["read", "admin"]})),
        (
            "realm_access.roles",
            json!({"realm_access": {"roles": ["admin"]}}),
        ),
        (
            "resource_access.api.roles",
            json!({"resource_access": {"api": {"roles": ["admin"]}}}),
        ),
    ];
    for (path, claims) in cases {
        let app = app(RoleClaim::path(path));
        assert_eq!(
            call(&app, "/admin", Some(&token(claims.clone()))).await.0,
            StatusCode::OK,
            "{path}"
        );
        // The same claims read from another path give no role.
        let elsewhere = app_with_other_path(path);
        assert_eq!(
            call(&elsewhere, "/admin", Some(&token(claims))).await.0,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    // "admin" hidden in another claim does not count.
    let app = app(RoleClaim::path("realm_access.roles"));
    let sneaky = token(json!({"roles": ["admin"], "realm_access": {"roles": ["user"]}}));
    assert_eq!(
        call(&app, "/admin", Some(&sneaky)).await.0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn role_strings_are_one_role_only_scopes_are_lists() {
    // `role`/`roles` strings are compared whole: "user admin" is not "admin".
    for path in ["role", "roles", "realm_access.roles"] {
        let app = app(RoleClaim::path(path));
        for value in ["user admin", "admin ", " admin", "admin\tuser"] {
            let mut claims = json!({});
            let mut slot = &mut claims;
            for segment in path.split('.') {
                slot = slot
                    .as_object_mut()
                    .unwrap()
                    .entry(segment)
                    .or_insert(json!({}));
            }
            *slot = json!(value);
            // 403, or 401 where the app's own claims type wants an array.
            let status = call(&app, "/admin", Some(&token(claims))).await.0;
            assert!(
                matches!(status, StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED),
                "{path}: {value:?} must not grant admin ({status})"
            );
        }
        let exact = match path {
            "realm_access.roles" => json!({"realm_access": {"roles": "admin"}}),
            // The test app's claims type reads `roles` as an array.
            "roles" => json!({"roles": ["admin"]}),
            _ => json!({ path: "admin" }),
        };
        assert_eq!(
            call(&app, "/admin", Some(&token(exact))).await.0,
            StatusCode::OK,
            "{path}"
        );
    }
    // `scope`/`scp` are space-separated lists (RFC 6749 §3.3).
    for path in ["scope", "scp"] {
        let app = app(RoleClaim::path(path));
        let claims = json!({ path: "read admin  write" });
        assert_eq!(
            call(&app, "/admin", Some(&token(claims))).await.0,
            StatusCode::OK,
            "{path}"
        );
    }
}

fn app_with_other_path(path: &str) -> Router {
    app(RoleClaim::path(if path == "roles" {
        "role"
    } else {
        "roles"
    }))
}

#[tokio::test]
async fn duplicated_roles_key_gives_guard_and_handler_one_value() {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let exp = jsonwebtoken::get_current_timestamp() + 60;
    let payload = format!(r#"{{"sub":"ada","roles":["admin"],"exp":{exp},"roles":["user"]}}"#);
    let input = format!(
        "{}.{}",
        b64.encode(r#"{"alg":"HS256","typ":"at+jwt"}"#),
        b64.encode(payload)
    );
    let signature = jsonwebtoken::crypto::sign(
        input.as_bytes(),
        &jsonwebtoken::EncodingKey::from_secret(SECRET),
        Algorithm::HS256,
    )
    .unwrap();
    let token = format!("{input}.{signature}");
    // `User` reads `roles`: a struct refuses a duplicated field, so the token is
    // refused outright, for the handler and the guard alike.
    let app = app(RoleClaim::default());
    assert_eq!(
        call(&app, "/me", Some(&token)).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(&app, "/admin", Some(&token)).await.0,
        StatusCode::UNAUTHORIZED
    );

    // A claims type that is a map keeps the last member, and so does the guard:
    // both see ["user"], never one ["admin"] and the other ["user"].
    async fn raw_roles(Claims(claims): Claims<Value>) -> String {
        claims["roles"].to_string()
    }
    let map_app = Router::new()
        .route("/raw", get(raw_roles))
        .route("/admin", get(admin))
        .layer(JwtLayer::<Value>::new(validator(RoleClaim::default())));
    assert_eq!(call(&map_app, "/raw", Some(&token)).await.1, r#"["user"]"#);
    assert_eq!(
        call(&map_app, "/admin", Some(&token)).await.0,
        StatusCode::FORBIDDEN
    );
}

struct SameTenant;
impl Policy for SameTenant {
    type Claims = User;
    fn allows(user: &User, token: &VerifiedToken) -> bool {
        user.tenant == "acme" && token.has_role("user")
    }
}

async fn tenant(Require(user, ..): Require<SameTenant>) -> String {
    format!("tenant {}", user.tenant)
}

#[tokio::test]
async fn guards_for_route_groups_and_policies() {
    let admin_group = Router::new()
        .route("/admin/stats", get(|| async { "stats" }))
        .route_layer(require_role::<AnyOf<(Admin, Auditor)>>());
    let acme_group = Router::new()
        .route("/acme", get(|| async { "acme" }))
        .route_layer(require_claims(|user: &User| user.tenant == "acme"));
    let fresh_group = Router::new()
        .route("/fresh", get(|| async { "fresh" }))
        .route_layer(require(|token: &VerifiedToken| {
            token.registered().jti.is_some()
        }));
    let app = admin_group
        .merge(acme_group)
        .merge(fresh_group)
        .route("/tenant", get(tenant))
        .layer(
            JwtLayer::<User>::new(validator(RoleClaim::default()))
                .optional()
                .realm("g"),
        );

    let auditor = token(json!({"roles": ["auditor"], "tenant": "acme"}));
    let user = token(json!({"roles": ["user"], "tenant": "acme"}));
    let other = token(json!({"roles": ["user"], "tenant": "globex"}));
    assert_eq!(
        call(&app, "/admin/stats", Some(&auditor)).await.0,
        StatusCode::OK
    );
    assert_eq!(
        call(&app, "/admin/stats", Some(&user)).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(&app, "/admin/stats", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(call(&app, "/acme", Some(&user)).await.0, StatusCode::OK);
    assert_eq!(
        call(&app, "/acme", Some(&other)).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(call(&app, "/acme", None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(call(&app, "/fresh", Some(&user)).await.0, StatusCode::OK);
    assert_eq!(call(&app, "/tenant", Some(&user)).await.1, "tenant acme");
    assert_eq!(
        call(&app, "/tenant", Some(&auditor)).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(&app, "/tenant", Some(&other)).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(&app, "/tenant", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    // A guard with no layer in front is the programming error, not a pass.
    let naked = Router::new()
        .route("/x", get(|| async { "x" }))
        .route_layer(require_role::<Admin>());
    assert_eq!(
        call(&naked, "/x", Some(&auditor)).await.0,
        StatusCode::INTERNAL_SERVER_ERROR
    );
}

#[tokio::test]
async fn guards_answer_through_the_layers_error_hook() {
    let app = routes().layer(
        JwtLayer::<User>::new(validator(RoleClaim::default())).on_error(|err, _realm| {
            http::Response::builder()
                .status(err.status())
                .body(format!("custom: {}", err.reason()).into())
                .unwrap()
        }),
    );
    let (status, body, _) = call(&app, "/admin", Some(&token(json!({"roles": ["user"]})))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body, "custom: insufficient_scope");
}

/// Behind the layer, a gRPC call refused by a guard gets a gRPC status
/// (`PERMISSION_DENIED`, 7), trailers-only, not a JSON 403; the layer's own
/// refusal is `UNAUTHENTICATED` (16).
#[tokio::test]
async fn guards_answer_grpc_calls_with_grpc_statuses() {
    let app = app(RoleClaim::default());
    let grpc = |token: Option<String>| {
        let mut request = Request::get("/admin").header(header::CONTENT_TYPE, "application/grpc");
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let app = app.clone();
        async move {
            let response = app
                .oneshot(request.body(Body::empty()).unwrap())
                .await
                .unwrap();
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            (status, headers, body)
        }
    };
    let (status, headers, body) = grpc(Some(token(json!({"roles": ["user"]})))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["grpc-status"], "7");
    assert_eq!(headers["content-type"], "application/grpc");
    assert!(body.is_empty());
    assert!(
        headers[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .contains("insufficient_scope")
    );
    let (_, headers, _) = grpc(None).await;
    assert_eq!(headers["grpc-status"], "16");
    let (status, headers, _) = grpc(Some(token(json!({"roles": ["admin"]})))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers.get("grpc-status").is_none());
}
