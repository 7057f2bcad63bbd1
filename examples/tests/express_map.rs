//! The snippets of the Express appendix (`examples/src/express`), each driven
//! through the real `JwtLayer` with real signatures: tokens from the test kit
//! (`jwt_layer::test_util`), requests through `send`.
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_REQUEST_HEADERS,
    ACCESS_CONTROL_REQUEST_METHOD, AUTHORIZATION, CONTENT_TYPE, COOKIE, HOST, ORIGIN,
};
use axum::http::{Method, Request, StatusCode};
use examples::express::{
    banned, cors, current_user, custom_callback, order, sign_verify, tenant_keys, token_sources,
};
use jwt_layer::test_util::{TestAuthority, TestResponse, send};
use jwt_layer::{AuthError, IssueError, JwtLayer};
use serde_json::{Value, json};

fn get(uri: &str) -> Request<String> {
    Request::get(uri).body(String::new()).unwrap()
}

fn invalid_token(response: &TestResponse) -> bool {
    response
        .challenge()
        .is_some_and(|c| c.contains(r#"error="invalid_token""#))
}

mod current_user_map {
    use super::*;
    use current_user::{User, UserStore};

    fn users() -> UserStore {
        UserStore::new([User {
            id: "ada".into(),
            name: "Ada Lovelace".into(),
        }])
    }

    /// The hand-written extractor and the layer's hook answer alike.
    #[tokio::test]
    async fn by_hand_and_with_load_user_agree() {
        let authority = TestAuthority::new();
        for app in [
            current_user::by_hand(authority.validator(), users()),
            current_user::with_load_user(authority.validator(), users()),
        ] {
            let known = send(app.clone(), authority.token("ada").get("/me")).await;
            assert_eq!(known.status, StatusCode::OK);
            assert_eq!(known.text(), "Ada Lovelace (ada)");

            // A genuine token for a user the store does not know: done(null, false).
            let unknown = send(app.clone(), authority.token("mallory").get("/me")).await;
            assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
            assert!(invalid_token(&unknown), "{:?}", unknown.challenge());

            let forged = send(app.clone(), authority.token("ada").forged().get("/me")).await;
            assert_eq!(forged.status, StatusCode::UNAUTHORIZED);

            let none = send(app, get("/me")).await;
            assert_eq!(none.status, StatusCode::UNAUTHORIZED);
            assert_eq!(none.challenge(), Some(r#"Bearer realm="api""#));
        }
    }
}

mod banned_map {
    use super::*;
    use banned::BannedUsers;

    #[tokio::test]
    async fn a_ban_refuses_tokens_issued_before_it() {
        let authority = TestAuthority::new();
        let banned = BannedUsers::default();
        let app = banned::app(authority.validator(), banned.clone());
        let token = authority.token("eve");

        let before = send(app.clone(), token.get("/me")).await;
        assert_eq!(before.status, StatusCode::OK);
        assert_eq!(before.text(), "eve");

        banned.ban("eve");
        // The very same token, already verified once (and cached): refused now.
        let after = send(app.clone(), token.get("/me")).await;
        assert_eq!(after.status, StatusCode::UNAUTHORIZED);
        assert!(invalid_token(&after));
        assert_eq!(
            after.json()["error_description"],
            "The access token was revoked"
        );

        // Others are not affected.
        let ada = send(app, authority.token("ada").get("/me")).await;
        assert_eq!(ada.status, StatusCode::OK);
    }
}

mod tenant_keys_map {
    use super::*;
    use tenant_keys::TenantKeys;

    fn on_host(token: &jwt_layer::test_util::TestToken, host: &str) -> Request<String> {
        token
            .request(Method::GET, "/whoami")
            .header(HOST, host)
            .body(String::new())
            .unwrap()
    }

    #[tokio::test]
    async fn each_tenant_is_verified_with_its_own_keys_and_unknown_tenants_are_refused() {
        let acme = TestAuthority::new().issuer("https://acme.example.com");
        let globex = TestAuthority::new().issuer("https://globex.example.com");
        let tenants = TenantKeys::default()
            .tenant("acme.example.com", acme.validator())
            .tenant("globex.example.com", globex.validator());
        // The fallback is a third key: were it ever used, every test below would fail.
        let app = tenant_keys::app(TestAuthority::new().validator(), tenants);

        let ada = acme.token("ada");
        let ok = send(app.clone(), on_host(&ada, "acme.example.com:8443")).await;
        assert_eq!(ok.status, StatusCode::OK);
        assert_eq!(ok.text(), "ada of https://acme.example.com");

        let bob = globex.token("bob");
        let ok = send(app.clone(), on_host(&bob, "globex.example.com")).await;
        assert_eq!(ok.status, StatusCode::OK);
        assert_eq!(ok.text(), "bob of https://globex.example.com");

        // Acme's genuine token on Globex's host: Globex's keys refuse it.
        let crossed = send(app.clone(), on_host(&ada, "globex.example.com")).await;
        assert_eq!(crossed.status, StatusCode::UNAUTHORIZED);
        assert!(invalid_token(&crossed));

        // A token signed with Acme's key but claiming Globex as issuer, on Acme's host.
        let lying = acme.token("ada").issuer("https://globex.example.com");
        let lying = send(app.clone(), on_host(&lying, "acme.example.com")).await;
        assert_eq!(lying.status, StatusCode::UNAUTHORIZED);

        let unknown = send(app.clone(), on_host(&ada, "initech.example.com")).await;
        assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            unknown.json()["error_description"],
            "The access token key is unknown"
        );

        let no_host = send(app, ada.get("/whoami")).await;
        assert_eq!(no_host.status, StatusCode::UNAUTHORIZED);
    }
}

mod token_sources_map {
    use super::*;

    fn with_header(name: &str, value: &str) -> Request<String> {
        Request::get("/me")
            .header(name, value)
            .body(String::new())
            .unwrap()
    }

    #[tokio::test]
    async fn bearer_custom_header_and_jwt_scheme_all_work() {
        let authority = TestAuthority::new();
        let app = token_sources::app(authority.validator());
        let jwt = authority.token("ada").sign();

        let bearer = send(
            app.clone(),
            with_header("authorization", &format!("Bearer {jwt}")),
        )
        .await;
        assert_eq!(bearer.text(), "ada via bearer");

        let header = send(app.clone(), with_header("x-access-token", &jwt)).await;
        assert_eq!(header.text(), "ada via header");

        for scheme in ["JWT", "jwt"] {
            let custom = send(
                app.clone(),
                with_header("authorization", &format!("{scheme} {jwt}")),
            )
            .await;
            assert_eq!(custom.status, StatusCode::OK);
            assert_eq!(custom.text(), "ada via custom");
        }
    }

    #[tokio::test]
    async fn malformed_or_conflicting_credentials_are_refused_never_skipped() {
        let authority = TestAuthority::new();
        let app = token_sources::app(authority.validator());
        let jwt = authority.token("ada").sign();
        let other = authority.token("eve").sign();

        for value in ["JWT".to_owned(), format!("JWT {jwt} {jwt}")] {
            let malformed = send(app.clone(), with_header("authorization", &value)).await;
            assert_eq!(malformed.status, StatusCode::BAD_REQUEST, "{value}");
        }

        let two = Request::get("/me")
            .header(AUTHORIZATION, format!("Bearer {jwt}"))
            .header("x-access-token", &other)
            .body(String::new())
            .unwrap();
        let two = send(app.clone(), two).await;
        assert_eq!(two.status, StatusCode::BAD_REQUEST);
        assert!(
            two.challenge()
                .is_some_and(|c| c.contains("invalid_request"))
        );

        // A scheme no source reads is no token at all.
        let basic = send(app.clone(), with_header("authorization", "Basic YWRhOnB3")).await;
        assert_eq!(basic.status, StatusCode::UNAUTHORIZED);
        assert_eq!(basic.challenge(), Some(r#"Bearer realm="api""#));

        let forged = authority.token("ada").forged().sign();
        let forged = send(app, with_header("authorization", &format!("JWT {forged}"))).await;
        assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
        assert!(invalid_token(&forged));
    }

    #[tokio::test]
    async fn a_body_field_is_verified_by_the_handler() {
        let authority = TestAuthority::new();
        let app = token_sources::app(authority.validator());
        let post = |token: String| {
            Request::post("/form")
                .header(CONTENT_TYPE, "application/json")
                .body(json!({ "token": token, "note": "hi" }).to_string())
                .unwrap()
        };

        let ok = send(app.clone(), post(authority.token("ada").sign())).await;
        assert_eq!(ok.status, StatusCode::CREATED);
        assert_eq!(ok.text(), r#"ada noted "hi""#);

        let expired = send(app.clone(), post(authority.token("ada").expired().sign())).await;
        assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            expired.json()["error_description"],
            "The access token expired"
        );

        let forged = send(app, post(authority.token("ada").forged().sign())).await;
        assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
        assert!(invalid_token(&forged));
    }
}

mod custom_callback_map {
    use super::*;

    #[tokio::test]
    async fn on_error_reshapes_the_layers_and_the_guards_refusals() {
        let authority = TestAuthority::new();
        let app = custom_callback::app(authority.validator());

        let ok = send(app.clone(), authority.token("ada").get("/me")).await;
        assert_eq!(ok.status, StatusCode::OK);

        let expired = send(app.clone(), authority.token("ada").expired().get("/me")).await;
        assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            expired.json(),
            json!({ "message": "The access token expired", "reason": "expired" })
        );
        assert!(invalid_token(&expired), "the challenge is kept");

        let missing = send(app.clone(), get("/me")).await;
        assert_eq!(missing.json()["reason"], "missing");

        // RequireRole's refusal goes through the same function.
        let not_admin = send(app.clone(), authority.token("ada").get("/admin")).await;
        assert_eq!(not_admin.status, StatusCode::FORBIDDEN);
        assert_eq!(not_admin.json()["reason"], "insufficient_scope");

        let admin = send(app, authority.token("ada").roles(["admin"]).get("/admin")).await;
        assert_eq!(admin.status, StatusCode::OK);
    }

    #[tokio::test]
    async fn an_outer_middleware_reads_the_typed_refusal() {
        let authority = TestAuthority::new();
        let app = custom_callback::app_with_error_handler(authority.validator());

        let forged = send(app.clone(), authority.token("ada").forged().get("/me")).await;
        assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
        assert_eq!(forged.headers["x-auth-refusal"], "bad_signature");

        let ok = send(app, authority.token("ada").get("/me")).await;
        assert_eq!(ok.status, StatusCode::OK);
        assert!(!ok.headers.contains_key("x-auth-refusal"));
    }
}

mod order_map {
    use super::*;

    #[tokio::test]
    async fn the_last_layer_runs_first() {
        let trace = send(order::two_layers(), get("/trace")).await;
        assert_eq!(trace.text(), "b,a");
    }

    #[tokio::test]
    async fn layer_guards_unknown_paths_route_layer_does_not() {
        let authority = TestAuthority::new();
        let layer = order::with_layer(authority.validator());
        let route_layer = order::with_route_layer(authority.validator());

        assert_eq!(
            send(layer.clone(), get("/nope")).await.status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            send(route_layer.clone(), get("/nope")).await.status,
            StatusCode::NOT_FOUND
        );
        // On the route itself both authenticate.
        for app in [layer, route_layer] {
            assert_eq!(
                send(app.clone(), get("/me")).await.status,
                StatusCode::UNAUTHORIZED
            );
            let ok = send(app, authority.token("ada").get("/me")).await;
            assert_eq!(ok.text(), "ada");
        }
    }
}

mod cors_map {
    use super::*;

    fn preflight(origin: &str) -> Request<String> {
        Request::options("/me")
            .header(ORIGIN, origin)
            .header(ACCESS_CONTROL_REQUEST_METHOD, "GET")
            .header(ACCESS_CONTROL_REQUEST_HEADERS, "authorization")
            .body(String::new())
            .unwrap()
    }

    #[tokio::test]
    async fn preflights_are_answered_before_authentication() {
        let authority = TestAuthority::new();
        let app = cors::app(authority.validator());

        let answer = send(app.clone(), preflight(cors::FRONT_END)).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.headers[ACCESS_CONTROL_ALLOW_ORIGIN], cors::FRONT_END);
        assert_eq!(answer.headers[ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");

        // Another origin is told the one allowed origin, which is not its own:
        // the browser compares, and stops there.
        let evil = send(app, preflight("https://evil.example")).await;
        assert_eq!(evil.headers[ACCESS_CONTROL_ALLOW_ORIGIN], cors::FRONT_END);
    }

    #[tokio::test]
    async fn in_the_wrong_order_the_layer_refuses_the_preflight() {
        let authority = TestAuthority::new();
        let wrong = cors::app_in_the_wrong_order(authority.validator());
        let answer = send(wrong, preflight(cors::FRONT_END)).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        assert!(!answer.headers.contains_key(ACCESS_CONTROL_ALLOW_ORIGIN));
    }

    #[tokio::test]
    async fn refusals_carry_cors_headers_so_the_page_can_read_them() {
        let authority = TestAuthority::new();
        let app = cors::app(authority.validator());
        let request = authority
            .token("ada")
            .expired()
            .request(Method::GET, "/me")
            .header(ORIGIN, cors::FRONT_END)
            .body(String::new())
            .unwrap();
        let refused = send(app, request).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            refused.headers[ACCESS_CONTROL_ALLOW_ORIGIN],
            cors::FRONT_END
        );
        assert_eq!(
            refused.json()["error_description"],
            "The access token expired"
        );
    }

    #[tokio::test]
    async fn cross_origin_cookie_requests_pass_only_from_the_trusted_front_end() {
        let authority = TestAuthority::new();
        let app = cors::app(authority.validator());
        let jwt = authority.token("ada").sign();
        let post = |origin: &str| {
            Request::post("/notes")
                .header(HOST, "api.example.com")
                .header(ORIGIN, origin)
                .header(COOKIE, format!("{}={jwt}", cors::COOKIE))
                .body(String::new())
                .unwrap()
        };
        let trusted = send(app.clone(), post(cors::FRONT_END)).await;
        assert_eq!(trusted.status, StatusCode::CREATED);
        let evil = send(app, post("https://evil.example")).await;
        assert_eq!(evil.status, StatusCode::FORBIDDEN);
    }
}

mod sign_verify_map {
    use super::*;
    use axum::Router;
    use axum::routing::get;

    const SECRET: &[u8] = b"a test secret of at least 32 bytes!!";

    #[tokio::test]
    async fn what_sign_makes_verify_and_the_layer_accept() {
        let issuer = sign_verify::token_issuer(SECRET).unwrap();
        let token = sign_verify::sign(&issuer, "ada", "Ada").unwrap();

        let verified = sign_verify::verify(issuer.validator(), &token).unwrap();
        assert_eq!(verified.name, "Ada");
        assert_eq!(verified.token().subject(), Some("ada"));
        assert_eq!(
            verified.token().registered().iss.as_deref(),
            Some(sign_verify::ISSUER)
        );
        let lifetime =
            verified.token().registered().exp - verified.token().registered().iat.unwrap();
        assert_eq!(lifetime, 15 * 60);

        // The same token through a real layer.
        let app = Router::new()
            .route("/", get(|| async { "ok" }))
            .layer(JwtLayer::<Value>::new(issuer.validator().clone()));
        let request = Request::get("/")
            .header(AUTHORIZATION, format!("Bearer {token}"))
            .body(String::new())
            .unwrap();
        assert_eq!(send(app, request).await.status, StatusCode::OK);
    }

    #[test]
    fn tampering_and_foreign_tokens_are_refused() {
        let issuer = sign_verify::token_issuer(SECRET).unwrap();
        let token = sign_verify::sign(&issuer, "ada", "Ada").unwrap();
        let other = sign_verify::token_issuer(b"another secret, also 32 bytes long").unwrap();
        let foreign = sign_verify::sign(&other, "ada", "Ada").unwrap();
        assert_eq!(
            sign_verify::verify(issuer.validator(), &foreign).unwrap_err(),
            AuthError::BadSignature
        );
        // Swap the payload for another user's: the signature no longer matches.
        let eve = sign_verify::sign(&issuer, "eve", "Eve").unwrap();
        let mut parts: Vec<&str> = token.split('.').collect();
        parts[1] = eve.split('.').nth(1).unwrap();
        let spliced = parts.join(".");
        assert_eq!(
            sign_verify::verify(issuer.validator(), &spliced).unwrap_err(),
            AuthError::BadSignature
        );
    }

    #[test]
    fn the_issuer_owns_the_registered_claims_and_short_secrets_are_refused() {
        let issuer = sign_verify::token_issuer(SECRET).unwrap();
        let err = issuer
            .issue("ada", &json!({ "name": "Ada", "exp": 4_000_000_000u64 }))
            .unwrap_err();
        assert!(matches!(err, IssueError::ReservedClaim(claim) if claim == "exp"));
        assert!(sign_verify::token_issuer(b"secret").is_err());
    }
}
