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
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

mod replay;
mod servers;
mod transcript;

use replay::replay;
use servers::renumber;
use transcript::{Program, Transcript, normalise, parse, parse_header, transcripts_dir};

/// How long a server may take to start, and a command to finish.
const TIMEOUT: Duration = Duration::from_secs(60);

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
    // A slow disk's warning is not part of any log the book shows.
    assert_eq!(
        normalise(
            "WARN sqlx::query: slow statement: execution time exceeded alert threshold elapsed=4.01s\nWARN app: shown"
        ),
        normalise("WARN app: shown")
    );
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
