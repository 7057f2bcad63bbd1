//! Over real sockets: an axum server and a plain hyper server on 127.0.0.1:0.
mod common;

use common::*;
use jwt_layer::JwtLayer;
use tokio::net::TcpListener;

#[tokio::test]
async fn axum_server_on_loopback() {
    let app = App::new(JwtLayer::new(validator()));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app.router).await });

    let ok = http_get(addr, &format!("authorization: Bearer {}\r\n", good_token())).await;
    assert!(ok.starts_with("HTTP/1.1 200 OK"), "{ok}");
    assert!(ok.ends_with("user-1 Ada bearer"), "{ok}");

    let missing = http_get(addr, "").await;
    assert!(
        missing.starts_with("HTTP/1.1 401 Unauthorized"),
        "{missing}"
    );
    assert!(
        missing.contains("www-authenticate: Bearer realm=\"api\"\r\n"),
        "{missing}"
    );

    let expired = hs256(&{
        let mut c = good_claims();
        c["exp"] = (now() - 3600).into();
        c
    });
    let refused = http_get(addr, &format!("authorization: Bearer {expired}\r\n")).await;
    assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");
    assert!(
        refused.contains(r#"error="invalid_token", error_description="The access token expired""#),
        "{refused}"
    );

    let conflict = http_get(
        addr,
        "authorization: Bearer a.b.c\r\nauthorization: Bearer d.e.f\r\n",
    )
    .await;
    assert!(conflict.starts_with("HTTP/1.1 400"), "{conflict}");
    server.abort();
}

#[tokio::test]
async fn plain_hyper_server_without_axum() {
    use bytes::Bytes;
    use http_body_util::Full;
    use hyper::body::Incoming;
    use tower::ServiceBuilder;

    let service = ServiceBuilder::new()
        .layer(JwtLayer::<AppClaims>::new(validator()))
        .service_fn(|request: http::Request<Incoming>| async move {
            let name = jwt_layer::Verified::<AppClaims>::from_extensions(request.extensions())
                .map(|c| c.name.clone())
                .unwrap_or_default();
            Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(Bytes::from(name))))
        });
    let (addr, server) = serve_hyper(service).await;
    let ok = http_get(addr, &format!("authorization: Bearer {}\r\n", good_token())).await;
    assert!(
        ok.starts_with("HTTP/1.1 200 OK") && ok.ends_with("Ada"),
        "{ok}"
    );
    let refused = http_get(addr, "authorization: Bearer nope\r\n").await;
    assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");
    server.abort();
}
