//! Replays every curl session shown in the book against the real example server
//! and checks that the output is what the book says.
//!
//! A transcript is `book/transcripts/NN_name[-part].txt`:
//!
//! ```text
//! # server: ACCESS_TTL_SECS=2 cargo run -p examples --bin 06_validation
//! $ BASE=http://127.0.0.1:3000
//! $ curl -s $BASE/health
//! ok
//! ```
//!
//! - the first line says how the server is started (environment and binary);
//!   more `# server:` lines right after it start more servers, in order (each
//!   once the one before is listening), for sessions with several services;
//!   a server is an example (`cargo run -p examples --bin NAME`) or a node
//!   script of the workspace (`node examples/node/server.js`, its packages
//!   installed with `npm ci`, as `.ci/install` does), which must print
//!   `listening on http://127.0.0.1:PORT` first on stdout, as the examples do;
//! - a line starting with `$ ` is a command for bash (a trailing ` \` continues it
//!   on the next line); every command of a file runs in one bash session, so
//!   shell variables carry over;
//! - other lines starting with `# ` are comments for the reader;
//! - every other line is expected output of the command above it.
//!
//! A variable whose value is the path of a file of the repository, relative to
//! the workspace root (`examples/keys/dev-es256-public.pem`), is given to the
//! server as an absolute path: servers run in a scratch directory.
//!
//! `http://127.0.0.1:3000` in commands is replaced by the address the server
//! (started with `PORT=0`) printed on its first line. With several servers,
//! each is named by its `PORT` (3000 when not given) in the header, the
//! commands and the other servers' variables (`ISSUER_URL=http://127.0.0.1:3000`),
//! and runs on a free port put in all those places instead. Values that differ at every
//! run (JWTs, refresh tokens, ids, timestamps, dates, ports) are normalised the
//! same way in the expected and the actual output before they are compared.
//!
//! `TRANSCRIPT=06` runs only the transcripts whose name contains `06`;
//! `UPDATE_TRANSCRIPTS=1` rewrites the files with the actual output (review the diff!).
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use regex::Regex;

/// Every example binary, by name (cargo builds them for integration tests).
const BINARIES: &[(&str, &str)] = &[
    ("01_hello", env!("CARGO_BIN_EXE_01_hello")),
    ("02_users", env!("CARGO_BIN_EXE_02_users")),
    ("03_login", env!("CARGO_BIN_EXE_03_login")),
    ("04_claims", env!("CARGO_BIN_EXE_04_claims")),
    ("05_router", env!("CARGO_BIN_EXE_05_router")),
    ("06_validation", env!("CARGO_BIN_EXE_06_validation")),
    ("07_roles", env!("CARGO_BIN_EXE_07_roles")),
    ("08_cookies", env!("CARGO_BIN_EXE_08_cookies")),
    ("09_refresh", env!("CARGO_BIN_EXE_09_refresh")),
    ("10_rotation", env!("CARGO_BIN_EXE_10_rotation")),
    ("11_logout", env!("CARGO_BIN_EXE_11_logout")),
    ("12_current_user", env!("CARGO_BIN_EXE_12_current_user")),
    ("13_testing", env!("CARGO_BIN_EXE_13_testing")),
    ("14_production", env!("CARGO_BIN_EXE_14_production")),
    (
        "15_resource_server",
        env!("CARGO_BIN_EXE_15_resource_server"),
    ),
];

const TIMEOUT: Duration = Duration::from_secs(60);
const MARKER: &str = "__TRANSCRIPT_COMMAND_DONE__";

struct Transcript {
    path: PathBuf,
    /// The `# server:` lines.
    header: Vec<String>,
    servers: Vec<Server>,
    steps: Vec<Step>,
}

/// One `# server:` line.
struct Server {
    program: Program,
    env: Vec<(String, String)>,
}

/// What a `# server:` line runs.
#[derive(Debug, PartialEq)]
enum Program {
    /// `cargo run -p examples --bin NAME`: one of [`BINARIES`].
    Example(String),
    /// `node PATH`, the path relative to the workspace root.
    Node(String),
}

impl Program {
    /// A name for messages and log files.
    fn name(&self) -> String {
        match self {
            Program::Example(name) => name.clone(),
            Program::Node(script) => format!("node-{}", script.replace('/', "_")),
        }
    }
}

impl Server {
    /// The port the transcript names this server by: its `PORT`, else 3000.
    fn nominal_port(&self) -> &str {
        self.env
            .iter()
            .find(|(name, _)| name == "PORT")
            .map_or("3000", |(_, port)| port.as_str())
    }
}

struct Step {
    /// The command lines (continuations included) and comment lines before it.
    comments: Vec<String>,
    command: String,
    expected: String,
}

fn transcripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../book/transcripts")
}

fn parse(path: &Path) -> Result<Transcript, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut lines = text.lines().peekable();
    let first = lines.next().unwrap_or_default().to_owned();
    let (program, env) = parse_header(&first).ok_or_else(|| {
        format!(
            "{}: the first line must be `# server: [VAR=value ...] cargo run -p examples --bin NAME` \
             (or `node PATH`)",
            path.display()
        )
    })?;
    let mut header = vec![first];
    let mut servers = vec![Server { program, env }];
    while let Some(line) = lines.next_if(|line| line.starts_with("# server: ")) {
        let (program, env) = parse_header(line)
            .ok_or_else(|| format!("{}: malformed server line {line:?}", path.display()))?;
        header.push(line.to_owned());
        servers.push(Server { program, env });
    }
    let mut ports: Vec<&str> = servers.iter().map(Server::nominal_port).collect();
    ports.sort_unstable();
    ports.dedup();
    if ports.len() != servers.len() {
        return Err(format!(
            "{}: two servers on one port; give each its own PORT",
            path.display()
        ));
    }
    let mut steps: Vec<Step> = Vec::new();
    let mut comments = Vec::new();
    let mut continuing = false;
    for line in lines {
        if continuing {
            let step = steps.last_mut().ok_or("continuation without a command")?;
            step.command.push('\n');
            step.command.push_str(line);
            continuing = line.ends_with('\\');
        } else if let Some(command) = line.strip_prefix("$ ") {
            steps.push(Step {
                comments: std::mem::take(&mut comments),
                command: command.to_owned(),
                expected: String::new(),
            });
            continuing = line.ends_with('\\');
        } else if line.starts_with("# ") || line == "#" {
            comments.push(line.to_owned());
        } else {
            let step = steps.last_mut().ok_or_else(|| {
                format!(
                    "{}: output before the first command: {line:?}",
                    path.display()
                )
            })?;
            step.expected.push_str(line);
            step.expected.push('\n');
        }
    }
    if steps.is_empty() {
        return Err(format!("{}: no command", path.display()));
    }
    Ok(Transcript {
        path: path.to_owned(),
        header,
        servers,
        steps,
    })
}

/// `# server: A=1 B=2 cargo run -p examples --bin NAME` → (example NAME, [(A, 1), (B, 2)]);
/// `# server: A=1 node PATH` → (node PATH, [(A, 1)]).
fn parse_header(header: &str) -> Option<(Program, Vec<(String, String)>)> {
    let words: Vec<&str> = header
        .strip_prefix("# server: ")?
        .split_whitespace()
        .collect();
    let command = words.iter().position(|word| !word.contains('='))?;
    let (vars, command) = words.split_at(command);
    let env = vars
        .iter()
        .map(|pair| {
            pair.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
        })
        .collect::<Option<Vec<_>>>()?;
    let program = match command {
        ["cargo", "run", "-p", "examples", "--bin", name] => Program::Example((*name).to_owned()),
        ["node", script] => Program::Node((*script).to_owned()),
        _ => return None,
    };
    Some((program, env))
}

/// Makes two outputs comparable: the same normalisation on both sides.
fn normalise(text: &str) -> String {
    static RULES: OnceLock<Vec<(Regex, &'static str)>> = OnceLock::new();
    let rules = RULES.get_or_init(|| {
        [
            // A JWT (possibly with an empty signature, as in an `alg: none` forgery).
            (
                r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*",
                "<jwt>",
            ),
            // Refresh tokens: `<handle>.<secret>`, 22 and 43 base64url characters.
            (
                r"(^|[^A-Za-z0-9_.-])[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}([^A-Za-z0-9_.-]|$)",
                "${1}<refresh-token>${2}",
            ),
            // Random ids (jti, sid) in JSON, compact or pretty-printed.
            (r#""(jti|sid)":\s*"[A-Za-z0-9_-]*""#, r#""$1": "<id>""#),
            // 43-character base64url words: session ids, 256-bit key coordinates.
            (
                r"(^|[^A-Za-z0-9_-])[A-Za-z0-9_-]{43}([^A-Za-z0-9_-]|$)",
                "${1}<token>${2}",
            ),
            // HTTP dates.
            (
                r"[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT",
                "<date>",
            ),
            // Unix timestamps (2001 to 2286).
            (r"\b1\d{9}\b", "<time>"),
            // Ports.
            (r"127\.0\.0\.1:\d+", "127.0.0.1:<port>"),
        ]
        .into_iter()
        .map(|(pattern, replacement)| (Regex::new(pattern).expect("valid regex"), replacement))
        .collect()
    });
    let mut text = text.replace('\r', "");
    for (regex, replacement) in rules {
        text = regex.replace_all(&text, *replacement).into_owned();
    }
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    lines.join("\n").trim_end().to_owned()
}

/// Kills the child when dropped, so a failing test leaves no server behind.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn lines_of(reader: impl std::io::Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Starts `server` with `env` (on top of its own); returns it and the
/// address it printed on its first line.
fn start_server(
    transcript: &Transcript,
    server: &Server,
    env: &[(String, String)],
    work: &Path,
) -> Result<(KillOnDrop, String), String> {
    let name = server.program.name();
    let mut command = match &server.program {
        Program::Example(binary) => {
            let Some((_, program)) = BINARIES.iter().find(|(name, _)| name == binary) else {
                return Err(format!(
                    "{}: no example binary named {binary:?}",
                    transcript.path.display(),
                ));
            };
            Command::new(program)
        }
        Program::Node(script) => node(script)?,
    };
    let log_path = work.join(format!("{name}.log"));
    let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
    for name in examples::VARIABLES {
        command.env_remove(name);
    }
    command
        .envs(env.iter().map(|(k, v)| (k, repository_path(v))))
        .current_dir(work)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log);
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start {name}: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let child = KillOnDrop(child);
    let first = lines_of(stdout)
        .recv_timeout(TIMEOUT)
        .map_err(|_| format!("{name} printed no first line; see {}", log_path.display()))?;
    let address = first
        .strip_prefix("listening on ")
        .ok_or_else(|| format!("{name}: first line is {first:?}, not `listening on ...`"))?;
    Ok((child, address.to_owned()))
}

/// `node <workspace>/script`, once its packages are installed.
/// A variable's value, with a relative path of a file in the repository
/// (`examples/keys/dev-es256-public.pem`) made absolute: servers run in a
/// scratch directory, and the transcript names files as the reader does, from
/// the workspace root.
fn repository_path(value: &str) -> String {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(value);
    if !value.starts_with('/') && value.contains('/') && file.is_file() {
        file.display().to_string()
    } else {
        value.to_owned()
    }
}

fn node(script: &str) -> Result<Command, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(script);
    if !script.is_file() {
        return Err(format!("no node script {}", script.display()));
    }
    let dir = script.parent().ok_or("a script is in a directory")?;
    let node_runs = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !node_runs {
        return Err(format!(
            "`node` is needed to run {} and was not found (`.ci/install` installs it; \
             Debian: `apt-get install -y nodejs npm`)",
            script.display()
        ));
    }
    if !dir.join("node_modules").is_dir() {
        return Err(format!(
            "the node packages of {} are not installed: run `npm ci --prefix {}` \
             (`.ci/install` does; Debian: `apt-get install -y nodejs npm`)",
            script.display(),
            dir.display()
        ));
    }
    let mut command = Command::new("node");
    // Nothing from the machine's node setup changes what the script does.
    command.arg(script).env_remove("NODE_OPTIONS");
    Ok(command)
}

/// For each server, the port the transcript names it by and the one it
/// listens on.
type Ports = Vec<(String, String)>;

/// Starts the transcript's servers, in order. Returns them and their [`Ports`].
fn start_servers(transcript: &Transcript, work: &Path) -> Result<(Vec<KillOnDrop>, Ports), String> {
    let port_of = |address: &str| {
        address
            .rsplit_once(':')
            .map(|(_, port)| port.to_owned())
            .ok_or_else(|| format!("no port in {address:?}"))
    };
    let mut running = Vec::new();
    if let [server] = transcript.servers.as_slice() {
        // One server: it picks its own port and says which.
        let mut env: Vec<(String, String)> = server
            .env
            .iter()
            .filter(|(name, _)| name != "PORT")
            .cloned()
            .collect();
        env.push(("PORT".to_owned(), "0".to_owned()));
        let (child, address) = start_server(transcript, server, &env, work)?;
        running.push(child);
        let ports = vec![(server.nominal_port().to_owned(), port_of(&address)?)];
        return Ok((running, ports));
    }
    // Several: they name each other (an issuer URL), so each port is chosen
    // before any starts, and put wherever the transcript names it.
    let mut ports = Vec::new();
    for server in &transcript.servers {
        let free = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        ports.push((server.nominal_port().to_owned(), free.to_string()));
    }
    for (server, (_, free)) in transcript.servers.iter().zip(&ports) {
        let mut env: Vec<(String, String)> = server
            .env
            .iter()
            .filter(|(name, _)| name != "PORT")
            .map(|(name, value)| (name.clone(), renumber(value, &ports)))
            .collect();
        env.push(("PORT".to_owned(), free.clone()));
        let (child, address) = start_server(transcript, server, &env, work)?;
        if port_of(&address)? != *free {
            return Err(format!(
                "{} listens on {address}, not port {free}",
                server.program.name()
            ));
        }
        running.push(child);
    }
    Ok((running, ports))
}

/// `http://127.0.0.1:<nominal>` → `http://127.0.0.1:<actual>` for each pair of
/// `ports`, in one pass (so a new port is never renamed again).
fn renumber(text: &str, ports: &[(String, String)]) -> String {
    static URL: OnceLock<Regex> = OnceLock::new();
    let url = URL.get_or_init(|| Regex::new(r"http://127\.0\.0\.1:(\d+)").expect("valid regex"));
    url.replace_all(text, |found: &regex::Captures<'_>| {
        let port = &found[1];
        let actual = ports
            .iter()
            .find(|(nominal, _)| nominal == port)
            .map_or(port, |(_, actual)| actual.as_str());
        format!("http://127.0.0.1:{actual}")
    })
    .into_owned()
}

struct Shell {
    _child: KillOnDrop,
    stdin: ChildStdin,
    output: Receiver<String>,
}

impl Shell {
    fn start(work: &Path) -> Result<Self, String> {
        let mut child = Command::new("bash")
            .args(["--noprofile", "--norc"])
            .current_dir(work)
            .env("TERM", "dumb")
            // curl must talk to the local server directly, never through a proxy.
            .env_remove("http_proxy")
            .env_remove("HTTP_PROXY")
            .env_remove("all_proxy")
            .env_remove("ALL_PROXY")
            .env("NO_PROXY", "127.0.0.1,localhost")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start bash: {e}"))?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut shell = Self {
            _child: KillOnDrop(child),
            stdin,
            output: lines_of(stdout),
        };
        shell.run("exec 2>&1")?;
        Ok(shell)
    }

    /// Runs one command and returns everything it printed.
    fn run(&mut self, command: &str) -> Result<String, String> {
        writeln!(self.stdin, "{command}\nprintf '\\n%s\\n' '{MARKER}'")
            .map_err(|e| e.to_string())?;
        self.stdin.flush().map_err(|e| e.to_string())?;
        let mut output = String::new();
        loop {
            let line = self
                .output
                .recv_timeout(TIMEOUT)
                .map_err(|_| format!("command did not finish within {TIMEOUT:?}: {command}"))?;
            if line == MARKER {
                return Ok(output);
            }
            output.push_str(&line);
            output.push('\n');
        }
    }
}

/// Replays one transcript; returns the failures (empty if all matched).
fn replay(transcript: &Transcript, update: bool) -> Result<Vec<String>, String> {
    let name = transcript
        .path
        .file_stem()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let work = std::env::temp_dir().join(format!("transcript-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    let (_servers, ports) = start_servers(transcript, &work)?;
    let nominal_ports: Ports = ports
        .iter()
        .map(|(nominal, actual)| (actual.clone(), nominal.clone()))
        .collect();
    let mut shell = Shell::start(&work)?;
    let mut failures = Vec::new();
    let mut rewritten = format!("{}\n", transcript.header.join("\n"));
    for step in &transcript.steps {
        let command = renumber(&step.command, &ports);
        let actual = shell.run(&command)?;
        let (want, got) = (normalise(&step.expected), normalise(&actual));
        if want != got {
            failures.push(format!(
                "{}: `{}`\n--- expected (normalised)\n{want}\n--- actual (normalised)\n{got}\n",
                transcript.path.display(),
                step.command
            ));
        }
        for comment in &step.comments {
            rewritten.push_str(comment);
            rewritten.push('\n');
        }
        rewritten.push_str(&format!("$ {}\n", step.command));
        // The book names the servers by the ports its commands use.
        let actual = renumber(&actual.replace('\r', ""), &nominal_ports);
        let actual: Vec<&str> = actual.lines().map(str::trim_end).collect();
        let actual = actual.join("\n");
        if !actual.trim().is_empty() {
            rewritten.push_str(actual.trim_end());
            rewritten.push('\n');
        }
    }
    // Rewritten whenever asked, not only on a mismatch: tokens are normalised
    // away in the comparison, yet readers may decode the ones the book shows.
    if update {
        std::fs::write(&transcript.path, rewritten).map_err(|e| e.to_string())?;
    }
    if failures.is_empty() {
        let _ = std::fs::remove_dir_all(&work);
    } else {
        failures.push(format!("server logs: {}/*.log", work.display()));
    }
    Ok(failures)
}

fn require_tools() {
    for (tool, arg) in [
        ("curl", "--version"),
        ("jq", "--version"),
        ("bash", "--version"),
        ("openssl", "version"),
        ("sqlite3", "--version"),
    ] {
        let found = Command::new(tool)
            .arg(arg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            found,
            "`{tool}` is needed to replay the book's transcripts and was not found; \
             install it (Debian/Ubuntu: `apt-get install -y curl jq openssl`)"
        );
    }
}

fn all_transcripts() -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(transcripts_dir())
        .expect("book/transcripts exists")
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "txt"))
        .collect();
    paths.sort();
    paths
}

#[test]
fn book_transcripts_match_the_examples() {
    require_tools();
    let filter = std::env::var("TRANSCRIPT").unwrap_or_default();
    let update = std::env::var_os("UPDATE_TRANSCRIPTS").is_some();
    let transcripts: Vec<Transcript> = all_transcripts()
        .iter()
        .filter(|path| path.to_string_lossy().contains(&filter))
        .map(|path| parse(path).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    assert!(
        !transcripts.is_empty(),
        "no transcript in {}",
        transcripts_dir().display()
    );

    // Each transcript has its own server and shell: run them side by side.
    let results: Vec<(String, Result<Vec<String>, String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = transcripts
            .iter()
            .map(|t| {
                (
                    t.path.display().to_string(),
                    scope.spawn(|| replay(t, update)),
                )
            })
            .collect();
        handles
            .into_iter()
            .map(|(name, handle)| {
                (
                    name,
                    handle.join().unwrap_or_else(|_| Err("panicked".into())),
                )
            })
            .collect()
    });

    let mut failures = Vec::new();
    for (name, result) in &results {
        match result {
            Ok(problems) if problems.is_empty() => eprintln!("ok: {name}"),
            Ok(problems) => failures.extend(problems.iter().cloned()),
            Err(err) => failures.push(format!("{name}: {err}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} transcript step(s) differ from the book{}:\n\n{}",
        failures.len(),
        if update {
            " (files rewritten; review `git diff book/transcripts`)"
        } else {
            ""
        },
        failures.join("\n")
    );
}

#[test]
fn normalisation_hides_only_varying_values() {
    let a = r#"{"access_token":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.abc","jti":"AAAAAAAAAAAAAAAAAAAAAA","exp":1795635321}"#;
    let b = r#"{"access_token":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJiIn0.xyz","jti":"BBBBBBBBBBBBBBBBBBBBBB","exp":1795639999}"#;
    assert_eq!(normalise(a), normalise(b));
    assert_ne!(
        normalise(r#"{"sub":"alice"}"#),
        normalise(r#"{"sub":"bob"}"#)
    );
    // Refresh tokens, in JSON and in a cookie, become one placeholder.
    assert_eq!(
        normalise(
            r#""refresh_token": "qgMT6M-pq5kECk__pnjW9Q.5cpBYvcVbDPWBAnF4OJPQbS8auZxnglNt_RQmy-gwlY","#
        ),
        r#""refresh_token": "<refresh-token>","#
    );
    assert_eq!(
        normalise(
            "refresh_token=UfscMAX5PRojrEm8mgQrvw.-yw7EbQoX4jd1ePv09ymbDa5tqRkmJN6ZWTeSTfPuxY; HttpOnly"
        ),
        "refresh_token=<refresh-token>; HttpOnly"
    );
    assert_eq!(
        normalise("date: Wed, 25 Nov 2026 19:30:21 GMT\r\n"),
        normalise("date: Thu, 01 Jan 2026 00:00:00 GMT")
    );
    let ports = [
        ("3000".to_owned(), "40001".to_owned()),
        ("4000".to_owned(), "3000".to_owned()),
    ];
    assert_eq!(
        renumber(
            "curl http://127.0.0.1:3000/a http://127.0.0.1:4000/b http://127.0.0.1:30000/c",
            &ports
        ),
        "curl http://127.0.0.1:40001/a http://127.0.0.1:3000/b http://127.0.0.1:30000/c"
    );
    assert_eq!(
        parse_header("# server: ACCESS_TTL_SECS=2 cargo run -p examples --bin 06_validation"),
        Some((
            Program::Example("06_validation".to_owned()),
            vec![("ACCESS_TTL_SECS".to_owned(), "2".to_owned())]
        ))
    );
    assert_eq!(
        parse_header("# server: PORT=3001 node examples/node/server.js"),
        Some((
            Program::Node("examples/node/server.js".to_owned()),
            vec![("PORT".to_owned(), "3001".to_owned())]
        ))
    );
    assert_eq!(parse_header("# server: PORT=3001 node a.js b.js"), None);
    assert_eq!(parse_header("# server: PORT=3001 python3 a.py"), None);
}
