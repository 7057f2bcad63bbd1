//! The browser demo of `13_production`, driven in real headless Chromium through
//! ChromeDriver (WebDriver): login, a protected call, a silent refresh when the
//! access token expires, logout; and page script cannot read the tokens.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`bash .ci/install`); without
//! them the test fails with that hint.
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn require(binary: &str) -> String {
    for dir in ["/usr/bin", "/usr/local/bin", "/usr/lib/chromium"] {
        let path = format!("{dir}/{binary}");
        if std::path::Path::new(&path).exists() {
            return path;
        }
    }
    panic!(
        "`{binary}` not found: the browser test needs Debian's Chromium and ChromeDriver. \
         Install them with `sudo apt-get install -y chromium chromium-driver` (or `bash .ci/install`)."
    );
}

/// Starts the example server on a free port with a 2 s access token.
fn start_server() -> (Process, u16) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_13_production"))
        .env("PORT", "0")
        .env("ACCESS_TTL_SECS", "2")
        .env_remove("REDIS_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting 13_production");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("first line");
    let port = line
        .trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    (Process(child), port)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A minimal WebDriver client: JSON over HTTP/1.1 to ChromeDriver.
struct WebDriver {
    addr: SocketAddr,
    session: String,
}

fn http(addr: SocketAddr, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
    let mut stream = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .map_err(|e| e.to_string())?;
    let body = body.map(Value::to_string).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    // ChromeDriver keeps connections open: read the head, then Content-Length bytes.
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    let mut length = 0;
    loop {
        let mut line = String::new();
        let read = reader.read_line(&mut line).map_err(|e| e.to_string())?;
        if read == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value
                .trim()
                .parse()
                .map_err(|_| format!("bad length in {line:?}"))?;
        }
        head.push_str(&line);
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).map_err(|e| e.to_string())?;
    let body = String::from_utf8_lossy(&body);
    let value: Value = serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(format!("{method} {path}: {head}: {value}"));
    }
    Ok(value["value"].clone())
}

impl WebDriver {
    fn start(driver_port: u16, profile: &std::path::Path) -> Self {
        let addr: SocketAddr = ([127, 0, 0, 1], driver_port).into();
        let started = Instant::now();
        while http(addr, "GET", "/status", None)
            .map(|v| v["ready"] != true)
            .unwrap_or(true)
        {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": require("chromium"),
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    format!("--user-data-dir={}", profile.display()),
                ]
            }
        }}});
        let session =
            http(addr, "POST", "/session", Some(&capabilities)).expect("new WebDriver session");
        Self {
            addr,
            session: session["sessionId"].as_str().expect("sessionId").to_owned(),
        }
    }

    fn command(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}{path}", self.session);
        http(self.addr, method, &path, body.as_ref()).unwrap_or_else(|e| panic!("{e}"))
    }

    fn navigate(&self, url: &str) {
        self.command("POST", "/url", Some(json!({ "url": url })));
    }

    fn script(&self, script: &str) -> Value {
        self.command(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": [] })),
        )
    }

    fn click(&self, id: &str) {
        self.script(&format!("document.getElementById('{id}').click()"));
    }

    fn text(&self, id: &str) -> String {
        self.script(&format!(
            "return document.getElementById('{id}').textContent"
        ))
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// Waits until the page's log contains `needle`; returns the log.
    fn wait_for_log(&self, needle: &str) -> String {
        let started = Instant::now();
        loop {
            let log = self.text("log");
            if log.contains(needle) {
                return log;
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "waited for {needle:?}; log:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for WebDriver {
    fn drop(&mut self) {
        let _ = http(
            self.addr,
            "DELETE",
            &format!("/session/{}", self.session),
            None,
        );
    }
}

#[test]
fn browser_demo_logs_in_refreshes_silently_and_hides_tokens() {
    let chromedriver = require("chromedriver");
    let (_server, port) = start_server();
    let profile = std::env::temp_dir().join(format!("jwt-demo-chromium-{}", std::process::id()));
    let driver_port = free_port();
    let _driver = Process(
        Command::new(chromedriver)
            .arg(format!("--port={driver_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting chromedriver"),
    );
    let browser = WebDriver::start(driver_port, &profile);

    // `localhost` is a secure context, so `Secure` and `__Host-` cookies work over http.
    browser.navigate(&format!("http://localhost:{port}/"));
    assert_eq!(browser.text("status"), "not logged in");

    browser.click("login");
    browser.wait_for_log("logged in as alice");
    browser.click("me");
    browser.wait_for_log("hello alice, authenticated by cookie");

    // The tokens are in cookies the browser holds, but page script cannot read them.
    assert_eq!(browser.text("cookies"), "\"\"");
    assert_eq!(browser.script("return document.cookie"), json!(""));
    let cookies = browser.command("GET", "/cookie", None);
    let cookies = cookies.as_array().expect("cookie list");
    let access = cookies
        .iter()
        .find(|c| c["name"] == "__Host-access_token")
        .expect("access cookie");
    assert_eq!(access["httpOnly"], true);
    assert_eq!(access["secure"], true);
    assert_eq!(access["sameSite"], "Lax");
    assert_eq!(access["path"], "/");
    // The refresh cookie is scoped to /auth, so the browser does not even show it to "/".
    assert!(
        cookies
            .iter()
            .all(|c| c["name"] != "__Secure-refresh_token"),
        "{cookies:?}"
    );

    // A cookie POST from our own page passes the CSRF checks.
    browser.click("note");
    browser.wait_for_log("POST /api/notes → 201");

    // Let the 2 s access token expire: the next call refreshes silently and succeeds.
    std::thread::sleep(Duration::from_millis(3200));
    browser.click("me");
    let log = browser.wait_for_log("refreshed");
    browser.wait_for_log("GET /api/me → 200\nhello alice, authenticated by cookie\n");
    assert_eq!(
        log.matches("access token expired → refreshing").count(),
        1,
        "{log}"
    );
    assert_eq!(browser.text("status"), "logged in as alice");

    // Logout revokes the session and deletes the cookies: the API now says 401.
    browser.click("logout");
    browser.wait_for_log("logged out (204)");
    browser.click("me");
    let log = browser.wait_for_log("GET /api/me → 401");
    assert_eq!(browser.text("status"), "not logged in", "{log}");
    let cookies = browser.command("GET", "/cookie", None);
    assert!(
        cookies
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["name"] != "__Host-access_token"),
        "{cookies:?}"
    );
    let _ = std::fs::remove_dir_all(&profile);
}
