//! A transcript file: its servers, its commands and their expected output, and
//! the normalisation of what varies between runs.
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use regex::Regex;

pub(crate) struct Transcript {
    pub(crate) path: PathBuf,
    /// The `# server:` lines.
    pub(crate) header: Vec<String>,
    pub(crate) servers: Vec<Server>,
    pub(crate) steps: Vec<Step>,
}

/// One `# server:` line.
pub(crate) struct Server {
    pub(crate) program: Program,
    pub(crate) env: Vec<(String, String)>,
}

/// What a `# server:` line runs.
#[derive(Debug, PartialEq)]
pub(crate) enum Program {
    /// `cargo run -p examples --bin NAME`: one of `servers::BINARIES`.
    Example(String),
    /// `node PATH`, the path relative to the workspace root.
    Node(String),
}

impl Program {
    /// A name for messages and log files.
    pub(crate) fn name(&self) -> String {
        match self {
            Program::Example(name) => name.clone(),
            Program::Node(script) => format!("node-{}", script.replace('/', "_")),
        }
    }
}

impl Server {
    /// The port the transcript names this server by: its `PORT`, else 3000.
    pub(crate) fn nominal_port(&self) -> &str {
        self.env
            .iter()
            .find(|(name, _)| name == "PORT")
            .map_or("3000", |(_, port)| port.as_str())
    }
}

pub(crate) struct Step {
    /// The command lines (continuations included) and comment lines before it.
    pub(crate) comments: Vec<String>,
    pub(crate) command: String,
    pub(crate) expected: String,
}

pub(crate) fn transcripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../book/transcripts")
}

pub(crate) fn parse(path: &Path) -> Result<Transcript, String> {
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
pub(crate) fn parse_header(header: &str) -> Option<(Program, Vec<(String, String)>)> {
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
pub(crate) fn normalise(text: &str) -> String {
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
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim_end)
        .filter(|line| !is_slow_statement_warning(line))
        .collect();
    lines.join("\n").trim_end().to_owned()
}

/// sqlx's warning that a statement took longer than a second: it depends on
/// how busy the disk is (SQLite syncs the migrations, while the other
/// transcripts' servers start at the same time), not on the example, so a log
/// shown in the book neither has nor lacks it.
fn is_slow_statement_warning(line: &str) -> bool {
    line.contains("sqlx::query: slow statement")
}
