//! passport's verify callback (`JwtLayer::load_user`), through the real layer:
//! it attaches the app's user, refuses (401 / 403) through the layer's own
//! responder, fails closed (503), runs after revocation and on cached tokens,
//! sees the request, and serves a plain hyper service over a real socket.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use common::*;
use http::request::Parts;
use http::{Request, StatusCode, header};
use jwt_layer::{
    AuthError, BoxFuture, JwtLayer, LoadUser, RevocationCheck, RevocationError, UserError,
    VerifiedToken,
};
use serde_json::json;
use tower::ServiceExt;

/// The app's user, as its "database" knows it.
#[derive(Debug, Clone, PartialEq)]
struct User {
    id: String,
    display: String,
}

/// Stands for a database: subjects → users; `banned` are known but refused;
/// `down` makes every lookup fail.
#[derive(Default)]
struct Db {
    users: HashMap<String, User>,
    banned: Vec<String>,
    down: bool,
    lookups: AtomicUsize,
}

impl Db {
    fn new() -> Arc<Self> {
        let users = ["user-1", "user-2"]
            .into_iter()
            .map(|id| {
                let user = User {
                    id: id.to_owned(),
                    display: format!("db:{id}"),
                };
                (id.to_owned(), user)
            })
            .collect();
        Arc::new(Self {
            users,
            banned: vec!["user-2".to_owned()],
            ..Self::default()
        })
    }

    fn down() -> Arc<Self> {
        Arc::new(Self {
            down: true,
            ..Self::default()
        })
    }

    async fn find(&self, sub: Option<&str>) -> Result<User, UserError> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        // A real lookup awaits: let other requests interleave.
        tokio::task::yield_now().await;
        if self.down {
            return Err(UserError::Unavailable(
                "connection refused (db at 10.0.0.9)".into(),
            ));
        }
        let sub = sub.ok_or(UserError::Unknown)?;
        if self.banned.iter().any(|b| b == sub) {
            return Err(UserError::Forbidden);
        }
        self.users.get(sub).cloned().ok_or(UserError::Unknown)
    }

    fn lookups(&self) -> usize {
        self.lookups.load(Ordering::SeqCst)
    }
}

/// The layer with the database as its verify callback.
fn layer(db: &Arc<Db>) -> JwtLayer<AppClaims> {
    let db = Arc::clone(db);
    JwtLayer::<AppClaims>::new(validator()).load_user(move |token: VerifiedToken, _: &Parts| {
        let db = Arc::clone(&db);
        async move { db.find(token.subject()).await }
    })
}

/// A router whose handler answers with the user the layer attached.
fn router(layer: JwtLayer<AppClaims>) -> Router {
    Router::new()
        .route(
            "/",
            get(|request: Request<Body>| async move {
                match request.extensions().get::<User>() {
                    Some(user) => format!("{} {}", user.id, user.display),
                    None => "no user".to_owned(),
                }
            }),
        )
        .layer(layer)
}

fn token_for(sub: &str) -> String {
    let mut claims = good_claims();
    claims["sub"] = json!(sub);
    hs256(&claims)
}

async fn call(router: &Router, request: Request<Body>) -> Reply {
    Reply::read(router.clone().oneshot(request).await.unwrap()).await
}

fn bearer(token: &str) -> Request<Body> {
    Request::get("/")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn the_loaded_user_reaches_the_handler() {
    let db = Db::new();
    let app = router(layer(&db));
    let reply = call(&app, bearer(&token_for("user-1"))).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body, "user-1 db:user-1");
    assert_eq!(db.lookups(), 1);
}

#[tokio::test]
async fn an_unknown_user_is_refused_with_401_invalid_token() {
    let db = Db::new();
    let app = router(layer(&db));
    let reply = call(&app, bearer(&token_for("ghost"))).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.challenge(),
        Some(
            r#"Bearer realm="api", error="invalid_token", error_description="The access token's user is not accepted""#
        )
    );
    assert_eq!(reply.error, Some(AuthError::UnknownUser));
    assert_eq!(reply.json()["error"], "invalid_token");
}

#[tokio::test]
async fn a_forbidden_user_is_refused_with_403_and_no_challenge() {
    let db = Db::new();
    let app = router(layer(&db));
    let reply = call(&app, bearer(&token_for("user-2"))).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.challenge(), None);
    assert_eq!(reply.error, Some(AuthError::UserForbidden));
    assert_eq!(reply.json()["error"], "forbidden");
}

#[tokio::test]
async fn a_failing_loader_fails_closed_with_503_and_keeps_its_reason_out_of_the_response() {
    let db = Db::down();
    let app = router(layer(&db));
    let reply = call(&app, bearer(&token_for("user-1"))).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.error, Some(AuthError::UserUnavailable));
    assert!(!reply.body.contains("10.0.0.9"), "{}", reply.body);
    assert_eq!(reply.challenge(), None);
}

#[tokio::test]
async fn an_invalid_token_never_reaches_the_loader() {
    let db = Db::new();
    let app = router(layer(&db));
    let mut claims = good_claims();
    claims["exp"] = json!(now() - 3600);
    claims["iat"] = json!(now() - 3700);
    claims["nbf"] = json!(now() - 3700);
    let reply = call(&app, bearer(&hs256(&claims))).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.error, Some(AuthError::Expired));
    let reply = call(&app, Request::get("/").body(Body::empty()).unwrap()).await;
    assert_eq!(reply.error, Some(AuthError::Missing));
    assert_eq!(db.lookups(), 0);
}

#[tokio::test]
async fn the_loader_runs_on_every_request_even_for_a_cached_token() {
    let db = Db::new();
    let layer = layer(&db);
    let app = router(layer.clone());
    let token = token_for("user-1");
    for _ in 0..3 {
        assert_eq!(call(&app, bearer(&token)).await.status, StatusCode::OK);
    }
    assert_eq!(db.lookups(), 3, "a banned user must be refused at once");
    #[cfg(feature = "cache")]
    assert_eq!(layer.cache_stats().map(|s| s.entries), Some(1));
}

/// Refuses every token of subject `user-1`.
struct RevokeUser1;

impl RevocationCheck for RevokeUser1 {
    fn check<'a>(&'a self, token: &'a VerifiedToken) -> BoxFuture<'a, Result<(), RevocationError>> {
        Box::pin(async move {
            match token.subject() {
                Some("user-1") => Err(RevocationError::Revoked),
                _ => Ok(()),
            }
        })
    }
}

#[tokio::test]
async fn hooks_run_in_order_and_a_revoked_token_costs_no_lookup() {
    let db = Db::new();
    let app = router(
        JwtLayer::<AppClaims>::new(validator())
            .revocation(RevokeUser1)
            .load_user({
                let db = Arc::clone(&db);
                move |token: VerifiedToken, _: &Parts| {
                    let db = Arc::clone(&db);
                    async move { db.find(token.subject()).await }
                }
            }),
    );
    let reply = call(&app, bearer(&token_for("user-1"))).await;
    assert_eq!(reply.error, Some(AuthError::Revoked));
    assert_eq!(db.lookups(), 0);
    let reply = call(&app, bearer(&token_for("ghost"))).await;
    assert_eq!(reply.error, Some(AuthError::UnknownUser));
    assert_eq!(db.lookups(), 1);
}

#[tokio::test]
async fn refusals_go_through_the_layers_realm_error_hook_and_grpc_statuses() {
    let db = Db::new();
    let app = router(layer(&db).realm("notes").on_error(|err, realm| {
        let mut response = err.to_response(realm);
        *response.body_mut() = format!("custom: {}", err.reason()).into();
        response
    }));
    let reply = call(&app, bearer(&token_for("ghost"))).await;
    assert_eq!(reply.body, "custom: unknown_user");
    assert!(
        reply
            .challenge()
            .unwrap()
            .starts_with(r#"Bearer realm="notes""#)
    );

    for (sub, status) in [("ghost", "16"), ("user-2", "7")] {
        let request = Request::post("/")
            .header(header::AUTHORIZATION, format!("Bearer {}", token_for(sub)))
            .header(header::CONTENT_TYPE, "application/grpc")
            .body(Body::empty())
            .unwrap();
        let reply = call(&app, request).await;
        assert_eq!(reply.status, StatusCode::OK, "trailers-only gRPC refusal");
        assert_eq!(reply.headers["grpc-status"], status, "{sub}");
    }
    let down = router(layer(&Db::down()));
    let request = Request::post("/")
        .header(
            header::AUTHORIZATION,
            format!("Bearer {}", token_for("user-1")),
        )
        .header(header::CONTENT_TYPE, "application/grpc")
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&down, request).await.headers["grpc-status"], "14");
}

#[tokio::test]
async fn concurrent_requests_each_get_their_own_user() {
    let mut db = Db::new();
    let users = &mut Arc::get_mut(&mut db).unwrap().users;
    for i in 0..100 {
        let id = format!("u{i}");
        users.insert(
            id.clone(),
            User {
                id: id.clone(),
                display: format!("db:{id}"),
            },
        );
    }
    let app = router(layer(&db));
    let mut tasks = tokio::task::JoinSet::new();
    for round in 0..4 {
        for i in 0..100 {
            let app = app.clone();
            tasks.spawn(async move {
                let sub = format!("u{i}");
                let reply = call(&app, bearer(&token_for(&sub))).await;
                (round, sub, reply)
            });
        }
    }
    while let Some(done) = tasks.join_next().await {
        let (_, sub, reply) = done.unwrap();
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(reply.body, format!("{sub} db:{sub}"));
    }
    assert_eq!(db.lookups(), 400);
}

/// A loader that reads the request (passport's `passReqToCallback`) and
/// borrows from itself: implemented as a trait rather than a closure.
struct TenantUsers {
    tenants: HashMap<&'static str, Vec<&'static str>>,
}

impl LoadUser for TenantUsers {
    type User = User;

    fn load<'a>(
        &'a self,
        token: &'a VerifiedToken,
        parts: &'a Parts,
    ) -> BoxFuture<'a, Result<User, UserError>> {
        Box::pin(async move {
            let tenant = parts
                .headers
                .get("x-tenant")
                .and_then(|value| value.to_str().ok())
                .ok_or(UserError::Unknown)?;
            let sub = token.subject().ok_or(UserError::Unknown)?;
            let members = self.tenants.get(tenant).ok_or(UserError::Unknown)?;
            if !members.contains(&sub) {
                return Err(UserError::Forbidden);
            }
            Ok(User {
                id: sub.to_owned(),
                display: format!("{tenant}:{sub}"),
            })
        })
    }
}

#[tokio::test]
async fn a_loader_sees_the_request() {
    let app = router(
        JwtLayer::<AppClaims>::new(validator()).load_user_with(TenantUsers {
            tenants: HashMap::from([("acme", vec!["user-1"]), ("globex", vec![])]),
        }),
    );
    let with_tenant = |tenant: &str| {
        Request::get("/")
            .header(
                header::AUTHORIZATION,
                format!("Bearer {}", token_for("user-1")),
            )
            .header("x-tenant", tenant)
            .body(Body::empty())
            .unwrap()
    };
    let reply = call(&app, with_tenant("acme")).await;
    assert_eq!(reply.body, "user-1 acme:user-1");
    assert_eq!(
        call(&app, with_tenant("globex")).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(&app, with_tenant("initech")).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn optional_mode_without_a_token_loads_no_user() {
    let db = Db::new();
    let app = router(layer(&db).optional());
    let reply = call(&app, Request::get("/").body(Body::empty()).unwrap()).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, "no user");
    assert_eq!(db.lookups(), 0);
    // A token that is present is still verified and its user loaded or refused.
    assert_eq!(
        call(&app, bearer(&token_for("ghost"))).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(&app, bearer(&token_for("user-1"))).await.body,
        "user-1 db:user-1"
    );
}

#[tokio::test]
async fn a_slow_loader_does_not_hold_up_other_requests() {
    // One lookup hangs (until the test ends); others are answered meanwhile.
    let gate = Arc::new(tokio::sync::Notify::new());
    let layer = JwtLayer::<AppClaims>::new(validator()).load_user({
        let gate = Arc::clone(&gate);
        move |token: VerifiedToken, _: &Parts| {
            let gate = Arc::clone(&gate);
            async move {
                if token.subject() == Some("slow") {
                    gate.notified().await;
                }
                Ok(User {
                    id: token.subject().unwrap_or_default().to_owned(),
                    display: "quick".into(),
                })
            }
        }
    });
    let app = router(layer);
    let slow = tokio::spawn({
        let app = app.clone();
        async move { call(&app, bearer(&token_for("slow"))).await }
    });
    let quick = tokio::time::timeout(
        Duration::from_secs(10),
        call(&app, bearer(&token_for("user-1"))),
    )
    .await
    .expect("a quick request is not blocked by a slow lookup");
    assert_eq!(quick.body, "user-1 quick");
    assert!(!slow.is_finished());
    gate.notify_one();
    assert_eq!(slow.await.unwrap().body, "slow quick");
}

#[tokio::test]
async fn a_plain_hyper_service_reads_the_user_over_a_real_socket() {
    use bytes::Bytes;
    use http_body_util::Full;
    use hyper::body::Incoming;
    use tower::ServiceBuilder;

    let db = Db::new();
    let service = ServiceBuilder::new().layer(layer(&db)).service_fn(
        |request: http::Request<Incoming>| async move {
            let display = request
                .extensions()
                .get::<User>()
                .map(|user| user.display.clone())
                .unwrap_or_default();
            Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(Bytes::from(display))))
        },
    );
    let (addr, server) = serve_hyper(service).await;
    let get = |sub: &str| {
        let header = format!("authorization: Bearer {}\r\n", token_for(sub));
        async move { http_get(addr, &header).await }
    };
    let ok = get("user-1").await;
    assert!(
        ok.starts_with("HTTP/1.1 200") && ok.ends_with("db:user-1"),
        "{ok}"
    );
    let banned = get("user-2").await;
    assert!(banned.starts_with("HTTP/1.1 403"), "{banned}");
    server.abort();
}
