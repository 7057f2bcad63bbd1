//! The browser demo of `14_production`, driven in real headless Chromium through
//! ChromeDriver (WebDriver): the page shows who is logged in with which roles
//! and when the access token expires; page script cannot read the tokens; an
//! expired access token is refreshed and the call retried (401 → refresh →
//! retry in the page's request log); concurrent calls, and two windows, share
//! ONE refresh; logout ends the session in every window.
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
    let mut child = Command::new(env!("CARGO_BIN_EXE_14_production"))
        .env("PORT", "0")
        .env("ACCESS_TTL_SECS", "2")
        .env("DEMO_ACCOUNTS", "1")
        .env_remove("REDIS_URL")
        .env("DATABASE_URL", "sqlite::memory:")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting 14_production");
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

    /// The page's request log, one entry per line (without the time).
    fn log(&self) -> Vec<String> {
        let lines = self.script(
            "return [...document.querySelectorAll('#log li .what')].map(what => what.textContent)",
        );
        serde_json::from_value(lines).expect("log lines")
    }

    /// The roles the page shows, in order.
    fn roles(&self) -> Vec<String> {
        let roles = self.script(
            "return [...document.querySelectorAll('#roles .role')].map(r => r.textContent)",
        );
        serde_json::from_value(roles).expect("roles")
    }

    /// Waits until `done` holds for the log lines from `from` on; returns them.
    fn wait_for(&self, from: usize, what: &str, done: impl Fn(&[String]) -> bool) -> Vec<String> {
        let started = Instant::now();
        loop {
            let log = self.log();
            let new = log.get(from..).unwrap_or_default();
            if done(new) {
                return new.to_vec();
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "waited for {what}; log:\n{}",
                log.join("\n")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until a log line from `from` on contains `needle`; returns the lines.
    fn wait_for_line(&self, from: usize, needle: &str) -> Vec<String> {
        self.wait_for(from, needle, |lines| {
            lines.iter().any(|line| line.contains(needle))
        })
    }

    fn window(&self) -> String {
        self.command("GET", "/window", None)
            .as_str()
            .expect("window handle")
            .to_owned()
    }

    /// Opens a new browser window (same profile: same cookies, same
    /// localStorage) and returns its handle.
    fn new_window(&self) -> String {
        let window = self.command("POST", "/window/new", Some(json!({ "type": "window" })));
        window["handle"].as_str().expect("handle").to_owned()
    }

    fn switch_to(&self, handle: &str) {
        self.command("POST", "/window", Some(json!({ "handle": handle })));
    }
}

/// How many lines contain `needle`.
fn count(lines: &[String], needle: &str) -> usize {
    lines.iter().filter(|line| line.contains(needle)).count()
}

/// The index of the first line that contains `needle`.
fn position(lines: &[String], needle: &str) -> usize {
    lines
        .iter()
        .position(|line| line.contains(needle))
        .unwrap_or_else(|| panic!("no {needle:?} in {lines:#?}"))
}

const REFRESH: &str = "POST /auth/session/refresh";

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
fn browser_demo_shows_the_session_and_refreshes_once_across_calls_and_tabs() {
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
    let expire = || std::thread::sleep(Duration::from_millis(3200));

    // `localhost` is a secure context, so `Secure` and `__Host-` cookies (and
    // the Web Locks API) work over http.
    let page = format!("http://localhost:{port}/");
    browser.navigate(&page);
    assert_eq!(browser.text("status"), "not logged in");
    assert_eq!(browser.text("countdown"), "no access token");

    // Who is logged in, with which roles, and for how long.
    browser.click("login");
    browser.wait_for_line(0, "POST /auth/session → 200: logged in as alice");
    assert_eq!(browser.text("status"), "logged in as alice");
    assert_eq!(browser.roles(), ["admin", "user"]);
    let countdown = browser.text("countdown");
    assert!(
        countdown == "the access token expires in 2 s"
            || countdown == "the access token expires in 1 s",
        "{countdown:?}"
    );
    let mark = browser.log().len();
    browser.click("me");
    let lines = browser.wait_for_line(mark, "authenticated by cookie");
    assert_eq!(lines[0], "GET /api/me → 200", "{lines:#?}");
    assert_eq!(
        lines[1],
        "hello alice (roles: admin, user), authenticated by cookie"
    );

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
    let mark = browser.log().len();
    browser.click("note");
    browser.wait_for_line(mark, "POST /api/notes → 201");

    // The 2 s access token expires (the browser drops its cookie): the next
    // call is refused, refreshed once, retried, and succeeds.
    expire();
    assert_eq!(
        browser.text("countdown"),
        "the access token has expired: the next call refreshes it"
    );
    let mark = browser.log().len();
    browser.click("me");
    let lines = browser.wait_for_line(mark, "authenticated by cookie");
    assert_eq!(
        lines[..3],
        [
            "GET /api/me → 401",
            "POST /auth/session/refresh → 200: rotated, new cookies, the old refresh token is spent",
            "GET /api/me → 200 (retry)",
        ],
        "{lines:#?}"
    );
    assert_eq!(browser.text("status"), "logged in as alice");
    assert!(
        browser
            .text("countdown")
            .starts_with("the access token expires in"),
        "{}",
        browser.text("countdown")
    );

    // Two calls at once, both refused: ONE refresh, shared, then both retry.
    // (Two refreshes would present the same refresh token twice: the server,
    // strict by default, would take it for a theft and revoke the session.)
    expire();
    let mark = browser.log().len();
    browser.click("both");
    let lines = browser.wait_for(mark, "both retries", |lines| count(lines, "(retry)") == 2);
    assert_eq!(count(&lines, "→ 401"), 2, "{lines:#?}");
    assert_eq!(count(&lines, "→ 401 (retry)"), 0, "{lines:#?}");
    assert_eq!(count(&lines, REFRESH), 1, "{lines:#?}");
    assert!(position(&lines, REFRESH) > position(&lines, "→ 401"));
    assert_eq!(count(&lines, "GET /api/me → 200 (retry)"), 1, "{lines:#?}");
    assert_eq!(
        count(&lines, "GET /api/admin/users → 200 (retry)"),
        1,
        "{lines:#?}"
    );

    // A second window of the same browser: same cookies, same localStorage.
    // It asks the API who is logged in.
    let first = browser.window();
    let second = browser.new_window();
    browser.switch_to(&second);
    browser.navigate(&page);
    browser.wait_for_line(0, "authenticated by cookie");
    assert_eq!(browser.roles(), ["admin", "user"]);
    // Both windows call the API at the same moment with an expired token: the
    // Web Locks API lets one refresh; the other sees the renewed cookies and
    // only retries. The second window clicks when the first says so.
    browser.script(
        "window.go = new BroadcastChannel('test-go');\
         window.go.onmessage = () => document.getElementById('me').click();",
    );
    expire();
    let second_mark = browser.log().len();
    browser.switch_to(&first);
    let first_mark = browser.log().len();
    browser.script(
        "new BroadcastChannel('test-go').postMessage('go');\
         document.getElementById('me').click();",
    );
    let first_lines = browser.wait_for_line(first_mark, "GET /api/me → 200 (retry)");
    browser.switch_to(&second);
    let second_lines = browser.wait_for_line(second_mark, "GET /api/me → 200 (retry)");
    let all: Vec<String> = first_lines.iter().chain(&second_lines).cloned().collect();
    assert_eq!(count(&all, "GET /api/me → 401"), 2, "{all:#?}");
    assert_eq!(count(&all, "GET /api/me → 401 (retry)"), 0, "{all:#?}");
    // No refresh token was presented twice: no refused refresh, the session
    // lives. Each window refreshed or waited for the other; in the usual
    // interleaving (the second 401 arrives while the first refresh is under
    // way) exactly one refreshes. A window whose 401 arrives after the other
    // has finished and before it heard of it rotates once more, with the new
    // token: sequential, so harmless.
    assert_eq!(count(&all, "→ 400"), 0, "{all:#?}");
    let refreshes = count(&all, REFRESH);
    assert!(refreshes >= 1, "{all:#?}");
    assert_eq!(refreshes + count(&all, "no refresh needed"), 2, "{all:#?}");
    assert_eq!(browser.text("status"), "logged in as alice");
    browser.switch_to(&first);
    assert_eq!(browser.text("status"), "logged in as alice");

    // Logout revokes the session and deletes the cookies; the other window
    // hears of it; the API now says 401, and a refresh cannot help.
    let second_mark = {
        browser.switch_to(&second);
        let mark = browser.log().len();
        browser.switch_to(&first);
        mark
    };
    let mark = browser.log().len();
    browser.click("logout");
    browser.wait_for_line(mark, "DELETE /auth/session → 204");
    assert_eq!(browser.text("status"), "not logged in");
    assert_eq!(browser.roles(), Vec::<String>::new());
    assert_eq!(browser.text("countdown"), "no access token");
    let mark = browser.log().len();
    browser.click("me");
    let lines = browser.wait_for_line(mark, "the session is over");
    assert_eq!(
        lines,
        [
            "GET /api/me → 401",
            "POST /auth/session/refresh → 400: refused",
            "GET /api/me → 401 (retry)",
            "the session is over: log in again",
        ]
    );
    let cookies = browser.command("GET", "/cookie", None);
    assert!(
        cookies
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["name"] != "__Host-access_token"),
        "{cookies:?}"
    );
    browser.switch_to(&second);
    browser.wait_for_line(second_mark, "logged out in another tab");
    assert_eq!(browser.text("status"), "not logged in");
    let _ = std::fs::remove_dir_all(&profile);
}
