//! 14_production and 15_resource_server together, as the book's last chapter
//! runs them: 15 knows only 14's URL, discovers its keys, and accepts the
//! tokens 14 issues; it refuses requests without one, pointing to its RFC 9728
//! metadata.
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `program` with `env`; returns it and its `host:port`.
fn start(program: &str, env: &[(&str, String)]) -> (KillOnDrop, String) {
    let mut command = Command::new(program);
    for name in examples::VARIABLES {
        command.env_remove(name);
    }
    let mut child = command
        .env("DATABASE_URL", "sqlite::memory:")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let address = first
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("{program}: first line {first:?}"))
        .to_owned();
    (KillOnDrop(child), address)
}

/// One HTTP/1.1 request; returns the status line, the head and the body.
fn request(
    address: &str,
    method: &str,
    path: &str,
    headers: &[&str],
    body: &str,
) -> (u16, String, String) {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut text = format!("{method} {path} HTTP/1.1\r\nhost: {address}\r\nconnection: close\r\n");
    for header in headers {
        text.push_str(header);
        text.push_str("\r\n");
    }
    text.push_str(&format!("content-length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(text.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head.to_owned(), body.to_owned())
}

/// A free loopback port, so 14's issuer URL can name it before it starts.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn the_resource_server_trusts_the_issuer_through_discovery() {
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let (_issuer_server, issuer_address) = start(
        env!("CARGO_BIN_EXE_14_production"),
        &[
            ("PORT", port.to_string()),
            ("JWT_ISSUER", issuer.clone()),
            ("DEMO_ACCOUNTS", "1".into()),
        ],
    );
    let (_resource_server, resource) = start(
        env!("CARGO_BIN_EXE_15_resource_server"),
        &[("PORT", "0".into()), ("ISSUER_URL", issuer.clone())],
    );

    // Log in at the issuer.
    let (status, _, body) = request(
        &issuer_address,
        "POST",
        "/auth/login",
        &["content-type: application/json"],
        r#"{"username":"alice","password":"wonderland"}"#,
    );
    assert_eq!(status, 200, "{body}");
    let login: serde_json::Value = serde_json::from_str(&body).unwrap();
    let token = login["access_token"].as_str().unwrap();

    // The resource server accepts it, having never shared a secret with 14.
    let (status, _, body) = request(
        &resource,
        "GET",
        "/api/whoami",
        &[&format!("authorization: Bearer {token}")],
        "",
    );
    assert_eq!(status, 200, "{body}");
    let whoami: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(whoami["sub"], "alice");
    assert_eq!(whoami["issuer"], issuer.as_str());
    // Verified with the key 14 publishes (a fresh one at each start).
    let (status, _, jwks) = request(&issuer_address, "GET", "/.well-known/jwks.json", &[], "");
    assert_eq!(status, 200, "{jwks}");
    let jwks: serde_json::Value = serde_json::from_str(&jwks).unwrap();
    assert_eq!(whoami["kid"], jwks["keys"][0]["kid"]);
    assert!(whoami["kid"].as_str().is_some_and(|kid| !kid.is_empty()));

    // Without a token: 401, and the challenge points to the RFC 9728 document.
    let (status, head, _) = request(&resource, "GET", "/api/whoami", &[], "");
    assert_eq!(status, 401);
    assert!(
        head.to_ascii_lowercase().contains(
            r#"www-authenticate: bearer realm="api", resource_metadata="http://127.0.0.1:4000/.well-known/oauth-protected-resource""#
        ),
        "{head}"
    );
    let (status, _, body) = request(
        &resource,
        "GET",
        "/.well-known/oauth-protected-resource",
        &[],
        "",
    );
    assert_eq!(status, 200);
    let metadata: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(metadata["authorization_servers"][0], issuer.as_str());
}

#[test]
fn the_resource_server_does_not_start_without_its_issuer() {
    // Nobody listens on this port: no keys, no service.
    let issuer = format!("http://127.0.0.1:{}", free_port());
    let status = Command::new(env!("CARGO_BIN_EXE_15_resource_server"))
        .env("PORT", "0")
        .env("ISSUER_URL", &issuer)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(!status.success());
}
