//! Over real sockets: an axum server and a plain hyper server on 127.0.0.1:0.
mod common;

use common::*;
use jwt_layer::JwtLayer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Sends one raw HTTP/1.1 request and returns the whole response text.
async fn http_get(addr: std::net::SocketAddr, headers: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET / HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n{headers}\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

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
    use hyper_util::rt::TokioIo;
    use hyper_util::service::TowerToHyperService;
    use tower::ServiceBuilder;

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = ServiceBuilder::new()
        .layer(JwtLayer::<AppClaims>::new(validator()))
        .service_fn(|request: http::Request<Incoming>| async move {
            let name = jwt_layer::Verified::<AppClaims>::from_extensions(request.extensions())
                .map(|c| c.name.clone())
                .unwrap_or_default();
            Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(Bytes::from(name))))
        });
    let server = tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    let ok = http_get(addr, &format!("authorization: Bearer {}\r\n", good_token())).await;
    assert!(
        ok.starts_with("HTTP/1.1 200 OK") && ok.ends_with("Ada"),
        "{ok}"
    );
    let refused = http_get(addr, "authorization: Bearer nope\r\n").await;
    assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");
    server.abort();
}
