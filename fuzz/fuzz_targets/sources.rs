//! The token sources through the real layer: arbitrary `Authorization`,
//! `Cookie`, custom-header, `Origin`/`Sec-Fetch-Site` bytes (several headers,
//! with valid tokens spliced in), methods and query strings.
//!
//! Invariants: no panic; the answer is 200 (and then the handler saw verified
//! claims), 400, 401 or 403; a 200 needs a valid token somewhere in the request.
#![no_main]
use std::convert::Infallible;
use std::sync::OnceLock;

use arbitrary::Arbitrary;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use jwt_layer::{JwtLayer, TokenSource, Verified};
use jwt_layer_fuzz::{good_token, validators};
use libfuzzer_sys::fuzz_target;
use tower::{Layer, ServiceExt, service_fn};

#[derive(Arbitrary, Debug)]
enum Part {
    Bytes(Vec<u8>),
    Text(String),
    /// A valid token for subject `a`.
    Token,
    /// Another valid token (subject `b`).
    OtherToken,
    Bearer,
    CookieName,
}

#[derive(Arbitrary, Debug)]
enum Which {
    Authorization,
    Cookie,
    XToken,
    Origin,
    SecFetchSite,
    Host,
}

#[derive(Arbitrary, Debug)]
struct Input {
    headers: Vec<(Which, Vec<Part>)>,
    query: Vec<Part>,
    post: bool,
}

fn render(parts: &[Part], tokens: &(String, String)) -> Vec<u8> {
    let mut out = Vec::new();
    for part in parts {
        match part {
            Part::Bytes(b) => out.extend_from_slice(b),
            Part::Text(t) => out.extend_from_slice(t.as_bytes()),
            Part::Token => out.extend_from_slice(tokens.0.as_bytes()),
            Part::OtherToken => out.extend_from_slice(tokens.1.as_bytes()),
            Part::Bearer => out.extend_from_slice(b"Bearer "),
            Part::CookieName => out.extend_from_slice(b"__Host-access_token="),
        }
    }
    out
}

fuzz_target!(|input: Input| {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    let runtime = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime")
    });
    // Built once: the tokens stay valid for an hour, longer than any run.
    static SETUP: OnceLock<((String, String), JwtLayer<serde_json::Value>)> = OnceLock::new();
    let (tokens, layer) = SETUP.get_or_init(|| {
        let [strict, _] = validators();
        let layer = JwtLayer::<serde_json::Value>::new(strict).sources([
            TokenSource::Bearer,
            TokenSource::cookie("__Host-access_token"),
            TokenSource::header(HeaderName::from_static("x-token")),
            TokenSource::query("access_token"),
        ]);
        ((good_token("a"), good_token("b")), layer)
    });
    let service = layer.layer(service_fn(|request: Request<()>| async move {
        assert!(
            Verified::<serde_json::Value>::from_extensions(request.extensions()).is_some(),
            "the handler ran without verified claims"
        );
        Ok::<_, Infallible>(Response::new(Bytes::new()))
    }));

    let method = if input.post {
        Method::POST
    } else {
        Method::GET
    };
    let query = render(&input.query, tokens);
    let uri = format!("/path?{}", String::from_utf8_lossy(&query));
    let mut builder = Request::builder().method(method);
    builder = match uri.parse::<http::Uri>() {
        Ok(uri) => builder.uri(uri),
        Err(_) => builder.uri("/path"),
    };
    let mut any_token = uri.contains(&tokens.0) || uri.contains(&tokens.1);
    for (which, parts) in &input.headers {
        let name = match which {
            Which::Authorization => http::header::AUTHORIZATION,
            Which::Cookie => http::header::COOKIE,
            Which::XToken => HeaderName::from_static("x-token"),
            Which::Origin => http::header::ORIGIN,
            Which::SecFetchSite => HeaderName::from_static("sec-fetch-site"),
            Which::Host => http::header::HOST,
        };
        let bytes = render(parts, tokens);
        // Bytes no HTTP parser would deliver as a header value are skipped.
        let Ok(value) = HeaderValue::from_bytes(&bytes) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        any_token |= text.contains(&tokens.0) || text.contains(&tokens.1);
        builder = builder.header(name, value);
    }
    let Ok(request) = builder.body(()) else {
        return;
    };
    let response = runtime
        .block_on(service.oneshot(request))
        .expect("the layer never fails");
    let status = response.status();
    assert!(
        matches!(
            status,
            StatusCode::OK
                | StatusCode::BAD_REQUEST
                | StatusCode::UNAUTHORIZED
                | StatusCode::FORBIDDEN
        ),
        "unexpected status {status}"
    );
    if status == StatusCode::OK {
        assert!(any_token, "200 without a valid token in the request");
    }
});
