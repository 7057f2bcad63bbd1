//! Running a transcript's commands in one bash session and comparing their
//! output with the book's.
use std::io::Write;
use std::path::Path;
use std::process::{ChildStdin, Command, Stdio};
use std::sync::mpsc::Receiver;

use crate::TIMEOUT;
use crate::servers::{KillOnDrop, Ports, lines_of, renumber, start_servers};
use crate::transcript::{Transcript, normalise};

const MARKER: &str = "__TRANSCRIPT_COMMAND_DONE__";

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
pub(crate) fn replay(transcript: &Transcript, update: bool) -> Result<Vec<String>, String> {
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
