//! Scope and step-up guards through a real Router, the real layer and real
//! signed tokens: status, and the exact `WWW-Authenticate` challenge.
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use jwt_extractor::{
    AllOf, AnyOf, MaxAuthAge, RequireAcr, RequireScope, acr, require_acr, require_max_auth_age,
    require_scope, scope,
};
use jwt_layer::{
    Algorithm, AuthError, Authentication, JwtLayer, KeySet, SigningKey, TokenIssuer, Validator,
    VerifyingKey,
};
use serde_json::{Value, json};
use tower::ServiceExt;

const SECRET: &[u8] = b"step-up-tests-secret-of-32-bytes";

scope!(
    pub NotesRead = "notes:read",
    pub NotesWrite = "notes:write",
    pub NotesAdmin = "notes:admin",
);
acr!(pub Mfa = "mfa", pub Phr = "phr");

fn validator() -> Validator {
    Validator::builder(KeySet::single(
        VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap(),
    ))
    .build()
    .unwrap()
}

fn issuer() -> TokenIssuer {
    TokenIssuer::new(
        SigningKey::hmac(Algorithm::HS256, SECRET).unwrap(),
        validator(),
    )
    .unwrap()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A token with application claims (scopes live there).
fn token(claims: Value) -> String {
    issuer().issue("ada", &claims).unwrap().access_token
}

/// A token recording an authentication.
fn authenticated(authentication: &Authentication) -> String {
    issuer()
        .issue_authenticated("ada", &json!({}), authentication)
        .unwrap()
        .access_token
}

/// A token signed by hand, for claims `TokenIssuer` refuses to write (a
/// string `auth_time`, a numeric `acr`): a provider could send them.
fn hand_signed(extra: Value) -> String {
    let mut claims = json!({ "sub": "ada", "iat": now(), "exp": now() + 600 });
    for (name, value) in extra.as_object().unwrap() {
        claims[name] = value.clone();
    }
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.typ = Some("at+jwt".into());
    jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET),
    )
    .unwrap()
}

struct Reply {
    status: StatusCode,
    challenge: Option<String>,
    body: String,
    headers: http::HeaderMap,
}

async fn call(app: &Router, path: &str, token: Option<&str>) -> Reply {
    call_with(app, path, token, None).await
}

async fn call_with(
    app: &Router,
    path: &str,
    token: Option<&str>,
    content_type: Option<&str>,
) -> Reply {
    let mut request = Request::get(path);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    if let Some(content_type) = content_type {
        request = request.header(header::CONTENT_TYPE, content_type);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let challenge = headers
        .get(header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        challenge,
        body: String::from_utf8_lossy(&body).into_owned(),
        headers,
    }
}

const MISSING_SCOPE: &str = r#"Bearer realm="tests", error="insufficient_scope", error_description="The access token lacks the required scope""#;
const TOO_OLD: &str = r#"Bearer realm="tests", error="insufficient_user_authentication", error_description="More recent authentication is required", max_age="300""#;
const WRONG_LEVEL: &str = r#"Bearer realm="tests", error="insufficient_user_authentication", error_description="A different authentication level is required""#;

async fn read(_: RequireScope<NotesRead>) -> &'static str {
    "read"
}
async fn write(scope: RequireScope<NotesWrite>) -> String {
    format!("written by {}", scope.token().subject().unwrap_or("?"))
}
async fn edit(_: RequireScope<AnyOf<(NotesWrite, NotesAdmin)>>) -> &'static str {
    "edited"
}
async fn purge(_: RequireScope<AllOf<(NotesWrite, NotesAdmin)>>) -> &'static str {
    "purged"
}
/// Nested, with a member repeated.
type Nested = AllOf<(NotesRead, AnyOf<(NotesWrite, NotesAdmin)>, NotesRead)>;
async fn nested(_: RequireScope<Nested>) -> &'static str {
    "nested"
}
async fn change_password(fresh: MaxAuthAge<300>) -> String {
    format!("changed (auth_time {})", fresh.auth_time())
}
async fn pay(_: RequireAcr<Mfa>) -> &'static str {
    "paid"
}
async fn pay_either(_: RequireAcr<AnyOf<(Phr, Mfa)>>) -> &'static str {
    "paid"
}

fn routes() -> Router {
    let admin = Router::new()
        .route("/group/admin", get(|| async { "admin" }))
        .route_layer(require_scope::<NotesAdmin>());
    let recent = Router::new()
        .route("/group/recent", get(|| async { "recent" }))
        .route_layer(require_max_auth_age::<300>());
    let strong = Router::new()
        .route("/group/strong", get(|| async { "strong" }))
        .route_layer(require_acr::<AnyOf<(Mfa, Phr)>>());
    Router::new()
        .route("/read", get(read))
        .route("/write", get(write))
        .route("/edit", get(edit))
        .route("/purge", get(purge))
        .route("/nested", get(nested))
        .route("/password", get(change_password))
        .route("/pay", get(pay))
        .route("/pay-either", get(pay_either))
        .merge(admin)
        .merge(recent)
        .merge(strong)
}

fn app() -> Router {
    routes().layer(JwtLayer::<Value>::new(validator()).realm("tests"))
}

#[tokio::test]
async fn scope_string_allows_and_the_refusal_names_the_scope() {
    let app = app();
    let reader = token(json!({ "scope": "openid notes:read" }));
    let writer = token(json!({ "scope": "notes:read notes:write" }));

    assert_eq!(
        call(&app, "/read", Some(&reader)).await.status,
        StatusCode::OK
    );
    let reply = call(&app, "/write", Some(&writer)).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::OK, "written by ada")
    );

    let reply = call(&app, "/write", Some(&reader)).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(
        reply.challenge.as_deref(),
        Some(&*format!(r#"{MISSING_SCOPE}, scope="notes:write""#))
    );
    let body: Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(
        body,
        json!({ "error": "insufficient_scope", "error_description": "The access token lacks the required scope" })
    );

    // No token: the layer answers first, a bare challenge.
    let reply = call(&app, "/write", None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.challenge.as_deref(), Some(r#"Bearer realm="tests""#));
}

#[tokio::test]
async fn scp_array_or_string_and_both_claims_never_widen() {
    let app = app();
    let status = |claims: Value| {
        let app = app.clone();
        async move { call(&app, "/write", Some(&token(claims))).await.status }
    };
    // `scp` alone: an array (one scope per element) or a space-separated string.
    assert_eq!(
        status(json!({ "scp": ["notes:read", "notes:write"] })).await,
        StatusCode::OK
    );
    assert_eq!(
        status(json!({ "scp": "notes:read notes:write" })).await,
        StatusCode::OK
    );
    // An array element is one scope, never split.
    assert_eq!(
        status(json!({ "scp": ["notes:read notes:write"] })).await,
        StatusCode::FORBIDDEN
    );
    // Both claims: a scope counts only if both grant it.
    assert_eq!(
        status(json!({ "scope": "notes:write", "scp": ["notes:write"] })).await,
        StatusCode::OK
    );
    assert_eq!(
        status(json!({ "scope": "notes:read", "scp": ["notes:write"] })).await,
        StatusCode::FORBIDDEN,
        "a second claim cannot add a scope"
    );
    assert_eq!(
        status(json!({ "scope": "notes:write", "scp": ["notes:read"] })).await,
        StatusCode::FORBIDDEN
    );
    // Wrong JSON types grant nothing, and a malformed claim next to a good one
    // takes the good one down with it.
    for claims in [
        json!({ "scope": 7 }),
        json!({ "scope": null }),
        json!({ "scope": { "notes:write": true } }),
        json!({ "scp": ["notes:write", 1] }),
        json!({ "scope": "notes:write", "scp": 1 }),
        json!({ "scope": "notes:write", "scp": null }),
        json!({ "scopes": "notes:write" }),
        json!({ "roles": ["notes:write"] }),
        json!({ "scope": "notes:writer notes: write notes:Write" }),
    ] {
        assert_eq!(
            status(claims.clone()).await,
            StatusCode::FORBIDDEN,
            "{claims}"
        );
    }
    // Extra spaces are tolerated in a string.
    assert_eq!(
        status(json!({ "scope": "  notes:write  " })).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn any_of_names_its_first_alternative_all_of_names_every_member() {
    let app = app();
    let reply = |path: &'static str, claims: Value| {
        let app = app.clone();
        async move { call(&app, path, Some(&token(claims))).await }
    };
    assert_eq!(
        reply("/edit", json!({ "scope": "notes:admin" }))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        reply("/edit", json!({ "scope": "notes:write" }))
            .await
            .status,
        StatusCode::OK
    );
    let refused = reply("/edit", json!({ "scope": "notes:read" })).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(
        refused.challenge.as_deref(),
        Some(&*format!(r#"{MISSING_SCOPE}, scope="notes:write""#)),
        "scope lists what a token needs together: for AnyOf, the first alternative"
    );

    assert_eq!(
        reply("/purge", json!({ "scope": "notes:write notes:admin" }))
            .await
            .status,
        StatusCode::OK
    );
    // Whatever the token holds, the challenge is the type's: every member.
    for claims in [json!({ "scope": "notes:write" }), json!({})] {
        let refused = reply("/purge", claims).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert_eq!(
            refused.challenge.as_deref(),
            Some(&*format!(
                r#"{MISSING_SCOPE}, scope="notes:write notes:admin""#
            ))
        );
    }
    // Nested, with a repeated member: each scope once, in order.
    assert_eq!(
        reply("/nested", json!({ "scope": "notes:read notes:admin" }))
            .await
            .status,
        StatusCode::OK
    );
    let refused = reply("/nested", json!({ "scope": "notes:admin" })).await;
    assert_eq!(
        refused.challenge.as_deref(),
        Some(&*format!(
            r#"{MISSING_SCOPE}, scope="notes:read notes:write""#
        ))
    );
}

#[tokio::test]
async fn max_auth_age_allows_a_recent_login_and_asks_for_a_new_one_otherwise() {
    let app = app();
    let reply = |token: String| {
        let app = app.clone();
        async move { call(&app, "/password", Some(&token)).await }
    };
    let login = now() - 10;
    let fresh = reply(authenticated(&Authentication::at(login))).await;
    assert_eq!(fresh.status, StatusCode::OK);
    assert_eq!(fresh.body, format!("changed (auth_time {login})"));
    // A few seconds in the future (the provider's clock ahead of ours): now.
    assert_eq!(
        reply(authenticated(&Authentication::at(now() + 30)))
            .await
            .status,
        StatusCode::OK
    );

    let stale = [
        authenticated(&Authentication::at(now() - 301)),
        authenticated(&Authentication::at(now() - 86_400)),
        authenticated(&Authentication::at(0)),
        // Far in the future: not a time; never "fresh" for a day.
        authenticated(&Authentication::at(now() + 3600)),
        authenticated(&Authentication::at(u64::MAX)),
        // No auth_time at all (a token from `issue`), or of the wrong type.
        token(json!({})),
        hand_signed(json!({ "auth_time": (now() - 10).to_string() })),
        hand_signed(json!({ "auth_time": -1 })),
        hand_signed(json!({ "auth_time": (now() - 10) as f64 + 0.5 })),
        hand_signed(json!({ "auth_time": null })),
    ];
    for token in stale {
        let refused = reply(token).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
        assert_eq!(refused.challenge.as_deref(), Some(TOO_OLD));
        let body: Value = serde_json::from_str(&refused.body).unwrap();
        assert_eq!(
            body,
            json!({ "error": "insufficient_user_authentication", "error_description": "More recent authentication is required" })
        );
    }
}

#[tokio::test]
async fn require_acr_checks_the_level_and_lists_the_accepted_ones() {
    let app = app();
    let status_and_challenge = |path: &'static str, token: String| {
        let app = app.clone();
        async move {
            let reply = call(&app, path, Some(&token)).await;
            (reply.status, reply.challenge)
        }
    };
    let mfa = authenticated(
        &Authentication::now()
            .with_acr("mfa")
            .with_amr(["pwd", "otp"]),
    );
    let phr = authenticated(&Authentication::now().with_acr("phr"));
    let pwd = authenticated(&Authentication::now().with_acr("pwd").with_amr(["pwd"]));
    assert_eq!(
        status_and_challenge("/pay", mfa.clone()).await.0,
        StatusCode::OK
    );
    assert_eq!(
        status_and_challenge("/pay-either", phr.clone()).await.0,
        StatusCode::OK
    );
    assert_eq!(
        status_and_challenge("/pay-either", mfa).await.0,
        StatusCode::OK
    );

    let one = Some(format!(r#"{WRONG_LEVEL}, acr_values="mfa""#));
    let both = Some(format!(r#"{WRONG_LEVEL}, acr_values="phr mfa""#));
    assert_eq!(
        status_and_challenge("/pay", phr).await,
        (StatusCode::UNAUTHORIZED, one.clone())
    );
    for token in [
        pwd,
        authenticated(&Authentication::now()),
        token(json!({})),
        hand_signed(json!({ "acr": ["mfa"] })),
        hand_signed(json!({ "acr": "MFA" })),
        hand_signed(json!({ "acr": "mfa " })),
    ] {
        assert_eq!(
            status_and_challenge("/pay", token.clone()).await,
            (StatusCode::UNAUTHORIZED, one.clone())
        );
        // AnyOf of acr values: every alternative, in the order of the type.
        assert_eq!(
            status_and_challenge("/pay-either", token).await,
            (StatusCode::UNAUTHORIZED, both.clone())
        );
    }
}

#[tokio::test]
async fn route_layers_answer_like_the_extractors() {
    let app = app();
    let admin = token(json!({ "scope": "notes:admin" }));
    let reader = token(json!({ "scope": "notes:read" }));
    assert_eq!(
        call(&app, "/group/admin", Some(&admin)).await.status,
        StatusCode::OK
    );
    let refused = call(&app, "/group/admin", Some(&reader)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(
        refused.challenge.as_deref(),
        Some(&*format!(r#"{MISSING_SCOPE}, scope="notes:admin""#))
    );

    let recent = authenticated(&Authentication::now());
    let old = authenticated(&Authentication::at(now() - 600));
    assert_eq!(
        call(&app, "/group/recent", Some(&recent)).await.status,
        StatusCode::OK
    );
    let refused = call(&app, "/group/recent", Some(&old)).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.challenge.as_deref(), Some(TOO_OLD));

    let mfa = authenticated(&Authentication::now().with_acr("mfa"));
    assert_eq!(
        call(&app, "/group/strong", Some(&mfa)).await.status,
        StatusCode::OK
    );
    let refused = call(&app, "/group/strong", Some(&recent)).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        refused.challenge.as_deref(),
        Some(&*format!(r#"{WRONG_LEVEL}, acr_values="mfa phr""#))
    );
}

/// In optional mode, a request without a token reaches the guards: they
/// answer 401 with a bare challenge (who are you?), not the step-up one.
#[tokio::test]
async fn without_a_token_every_guard_asks_for_one() {
    let app = routes().layer(
        JwtLayer::<Value>::new(validator())
            .realm("tests")
            .optional(),
    );
    for path in [
        "/write",
        "/password",
        "/pay",
        "/group/admin",
        "/group/recent",
        "/group/strong",
    ] {
        let reply = call(&app, path, None).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(
            reply.challenge.as_deref(),
            Some(r#"Bearer realm="tests""#),
            "{path}"
        );
    }
    // Without any layer: the programming error, 500, not a pass.
    let naked = routes();
    for path in [
        "/write",
        "/password",
        "/pay",
        "/group/admin",
        "/group/recent",
        "/group/strong",
    ] {
        let reply = call(
            &naked,
            path,
            Some(&authenticated(&Authentication::now().with_acr("mfa"))),
        )
        .await;
        assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR, "{path}");
    }
}

/// The refusals go through the layer's responder: the `resource_metadata`
/// parameter comes last, the user's hook sees the typed error and its
/// parameters.
#[tokio::test]
async fn refusals_go_through_the_layers_responder_and_hook() {
    let app = routes().layer(
        JwtLayer::<Value>::new(validator())
            .realm("tests")
            .resource_metadata("https://api.example.com/.well-known/oauth-protected-resource"),
    );
    let reply = call(&app, "/write", Some(&token(json!({})))).await;
    assert_eq!(
        reply.challenge.as_deref(),
        Some(&*format!(
            r#"{MISSING_SCOPE}, scope="notes:write", resource_metadata="https://api.example.com/.well-known/oauth-protected-resource""#
        ))
    );

    let app = routes().layer(JwtLayer::<Value>::new(validator()).on_error(|err, realm| {
        let parameters: Vec<String> = err
            .challenge_parameters()
            .into_iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        http::Response::builder()
            .status(err.status())
            .body(format!("{realm} {} {}", err.reason(), parameters.join(",")).into())
            .unwrap()
    }));
    let reply = call(&app, "/edit", Some(&token(json!({})))).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::FORBIDDEN, "api missing_scope scope=notes:write")
    );
    let reply = call(&app, "/password", Some(&token(json!({})))).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (
            StatusCode::UNAUTHORIZED,
            "api insufficient_user_authentication max_age=300"
        )
    );
    let reply = call(&app, "/pay-either", Some(&token(json!({})))).await;
    assert_eq!(
        reply.body,
        "api insufficient_user_authentication acr_values=phr mfa"
    );
}

/// A gRPC call refused by a step-up guard gets `UNAUTHENTICATED` (16), by a
/// scope guard `PERMISSION_DENIED` (7), trailers-only, challenge kept.
#[tokio::test]
async fn grpc_calls_get_grpc_statuses() {
    let app = app();
    let grpc = |path: &'static str, token: String| {
        let app = app.clone();
        async move { call_with(&app, path, Some(&token), Some("application/grpc")).await }
    };
    let reply = grpc("/password", authenticated(&Authentication::at(now() - 600))).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers["grpc-status"], "16");
    assert_eq!(
        reply.headers["grpc-message"],
        "More recent authentication is required"
    );
    assert_eq!(reply.challenge.as_deref(), Some(TOO_OLD));
    assert!(reply.body.is_empty());

    let reply = grpc("/write", token(json!({ "scope": "notes:read" }))).await;
    assert_eq!(reply.headers["grpc-status"], "7");
    assert_eq!(
        reply.challenge.as_deref(),
        Some(&*format!(r#"{MISSING_SCOPE}, scope="notes:write""#))
    );

    let reply = grpc("/group/strong", authenticated(&Authentication::now())).await;
    assert_eq!(reply.headers["grpc-status"], "16");

    let reply = grpc("/password", authenticated(&Authentication::now())).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.headers.get("grpc-status").is_none());
}

/// The typed errors the guards answer with, for `on_error` hooks and tests.
#[test]
fn refusal_errors_are_typed() {
    let missing = AuthError::MissingScope {
        scope: "notes:write".into(),
    };
    assert_eq!(missing.status(), StatusCode::FORBIDDEN);
    assert_eq!(missing.grpc_code(), 7);
    let step_up = AuthError::InsufficientUserAuthentication {
        acr_values: Some("mfa".into()),
        max_age: Some(60),
    };
    assert_eq!(step_up.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(step_up.grpc_code(), 16);
    assert_eq!(
        step_up.to_response("api").headers()[header::WWW_AUTHENTICATE],
        r#"Bearer realm="api", error="insufficient_user_authentication", error_description="A more recent or stronger authentication is required", acr_values="mfa", max_age="60""#
    );
}
