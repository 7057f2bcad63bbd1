//! Keeps the book and the examples in step:
//!
//! - every `{{#include}}` points to an existing file and, if it names an anchor,
//!   to an anchor that exists (`ANCHOR:` and `ANCHOR_END:`) and is not empty;
//! - code is never pasted: a ```` ```rust ```` or ```` ```js ```` block holds only
//!   `{{#include}}` lines;
//! - every example binary, script (`examples/node/*.js`, the browser demo's
//!   `examples/static/*.js`) and transcript is included by some chapter,
//!   transcripts only inside ```` ```console ```` blocks, and every `# server:`
//!   line of a transcript names one of those programs;
//! - every chapter is in `SUMMARY.md` and every `SUMMARY.md` entry exists;
//! - every `{{#file}}` and `{{#diff}}` (the tutorial's directives, expanded by
//!   `book/tutorial.py`) points to existing files;
//! - every file of a reader-project snapshot (`examples/chNN-name/`) is shown by
//!   some chapter (`{{#file}}`, `{{#diff}}` or `{{#include}}`), or is a symlink to
//!   a file that is (the snapshot of a chapter that did not change it);
//! - `mdbook build` succeeds (mdbook and mdbook-mermaid must be installed).
//!
//! That typing the chapters gives each snapshot is `tests/tutorial/`'s job.
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use regex::Regex;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("examples/ is inside the workspace")
        .to_owned()
}

fn files(dir: &Path, extension: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        // Installed packages (`npm ci`) and build output are not ours to check.
        if path.ends_with("node_modules") || path.ends_with("target") {
            continue;
        }
        if path.is_dir() {
            found.extend(files(&path, extension));
        } else if path.extension().is_some_and(|e| e == extension) {
            found.push(path);
        }
    }
    found.sort();
    found
}

/// Resolves `..` without touching the file system (the file may be missing).
fn clean(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

struct Include {
    chapter: PathBuf,
    line: usize,
    target: PathBuf,
    anchor: Option<String>,
    fence: Option<String>,
}

/// The fences whose contents must come from files: the languages of the examples.
fn is_code_fence(info: &str) -> bool {
    // `rust,ignore`, `js title=…`: the language is the first word.
    let language = info.split([',', ' ']).next().unwrap_or_default();
    CODE_FENCES.contains(&language)
}

/// Every `{{#include path[:anchor]}}` of a chapter, with the fence it sits in.
fn includes(chapter: &Path) -> Vec<Include> {
    let text = std::fs::read_to_string(chapter).expect("readable chapter");
    let dir = chapter.parent().expect("chapter in a directory");
    let mut fence: Option<String> = None;
    let mut found = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if let Some(info) = trimmed.strip_prefix("```") {
            fence = match fence {
                Some(_) => None,
                None => Some(info.trim().to_owned()),
            };
            continue;
        }
        let mut rest = line;
        while let Some(start) = rest.find("{{#include ") {
            let after = &rest[start + "{{#include ".len()..];
            let Some(end) = after.find("}}") else { break };
            let spec = after[..end].trim();
            let (path, anchor) = match spec.split_once(':') {
                Some((path, anchor)) => (path, Some(anchor.to_owned())),
                None => (spec, None),
            };
            found.push(Include {
                chapter: chapter.to_owned(),
                line: index + 1,
                target: clean(&dir.join(path)),
                anchor,
                fence: fence.clone(),
            });
            rest = &after[end..];
        }
    }
    found
}

/// Every path of a tutorial directive, `{{#file path}}` or `{{#diff before
/// after}}`, of a chapter (`\{{#…}}` is escaped: mdBook shows it as text).
fn tutorial_paths(chapter: &Path) -> Vec<Include> {
    let text = std::fs::read_to_string(chapter).expect("readable chapter");
    let dir = chapter.parent().expect("chapter in a directory");
    let mut found = Vec::new();
    for (index, line) in text.lines().enumerate() {
        for directive in ["{{#file ", "{{#diff "] {
            let mut rest = line;
            while let Some(start) = rest.find(directive) {
                let escaped = rest[..start].ends_with('\\');
                let after = &rest[start + directive.len()..];
                let Some(end) = after.find("}}") else { break };
                if !escaped {
                    for path in after[..end].split_whitespace() {
                        found.push(Include {
                            chapter: chapter.to_owned(),
                            line: index + 1,
                            target: clean(&dir.join(path)),
                            anchor: None,
                            fence: None,
                        });
                    }
                }
                rest = &after[end..];
            }
        }
    }
    found
}

/// The reader-project snapshots, `examples/chNN-name/`.
fn snapshots() -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(root().join("examples")) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            path.is_dir()
                && name.len() > 5
                && name.starts_with("ch")
                && name.as_bytes()[2..4].iter().all(u8::is_ascii_digit)
                && name.as_bytes()[4] == b'-'
        })
        .collect();
    found.sort();
    found
}

/// Every file of a snapshot (symlinks followed), build output, lock file and
/// databases aside: what `tests/tutorial/` compares with the reader's project.
fn snapshot_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if path.is_dir() {
            if name != "target" {
                found.extend(snapshot_files(&path));
            }
        } else if name != "Cargo.lock"
            && ![".db", ".db-wal", ".db-shm"]
                .iter()
                .any(|end| name.ends_with(end))
        {
            found.push(path);
        }
    }
    found.sort();
    found
}

/// The text between `ANCHOR: name` and `ANCHOR_END: name`, or why there is none.
fn anchored(text: &str, name: &str) -> Result<String, String> {
    let is_marker = |line: &str, kind: &str| {
        line.find(kind)
            .is_some_and(|at| line[at + kind.len()..].trim() == name)
    };
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .position(|l| is_marker(l, "ANCHOR: "))
        .ok_or_else(|| format!("no `ANCHOR: {name}`"))?;
    let end = lines[start..]
        .iter()
        .position(|l| is_marker(l, "ANCHOR_END: "))
        .ok_or_else(|| format!("no `ANCHOR_END: {name}` after `ANCHOR: {name}`"))?;
    let body: Vec<&str> = lines[start + 1..start + end]
        .iter()
        .filter(|l| !l.contains("ANCHOR: ") && !l.contains("ANCHOR_END: "))
        .copied()
        .collect();
    Ok(body.join("\n"))
}

/// The node scripts of the examples (the Express side of the migration appendix).
/// The JavaScript the book shows: the Express app of the migration appendix
/// and the browser demo's client.
fn scripts() -> Vec<PathBuf> {
    let mut scripts = files(&root().join("examples/node"), "js");
    scripts.extend(files(&root().join("examples/static"), "js"));
    scripts
}

/// Fences whose content is code and must therefore be included, never pasted.
const CODE_FENCES: &[&str] = &["rust", "js", "javascript"];

fn chapters() -> Vec<PathBuf> {
    files(&root().join("book/src"), "md")
}

#[test]
fn includes_point_to_existing_files_and_non_empty_anchors() {
    let mut problems = Vec::new();
    for chapter in chapters() {
        for include in includes(&chapter) {
            let at = format!("{}:{}", include.chapter.display(), include.line);
            let Ok(text) = std::fs::read_to_string(&include.target) else {
                problems.push(format!("{at}: missing file {}", include.target.display()));
                continue;
            };
            match include.anchor.as_deref() {
                // Line ranges (`:10:20`) are not used: anchors survive edits, line numbers do not.
                Some(anchor) if anchor.chars().next().is_some_and(|c| c.is_ascii_digit()) => {
                    problems.push(format!(
                        "{at}: use an ANCHOR instead of the line range {anchor:?}"
                    ))
                }
                Some(anchor) => match anchored(&text, anchor) {
                    Ok(body) if body.trim().is_empty() => problems.push(format!(
                        "{at}: anchor {anchor:?} in {} is empty",
                        include.target.display()
                    )),
                    Ok(_) => {}
                    Err(why) => {
                        problems.push(format!("{at}: {} has {why}", include.target.display()))
                    }
                },
                None => {}
            }
        }
    }
    for chapter in chapters() {
        for path in tutorial_paths(&chapter) {
            if !path.target.is_file() {
                problems.push(format!(
                    "{}:{}: missing file {}",
                    path.chapter.display(),
                    path.line,
                    path.target.display()
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "broken includes:\n{}",
        problems.join("\n")
    );
}

#[test]
fn code_is_included_never_pasted() {
    let mut problems = Vec::new();
    for chapter in chapters() {
        let text = std::fs::read_to_string(&chapter).expect("readable");
        let mut in_code = false;
        let mut in_fence = false;
        for (index, line) in text.lines().enumerate() {
            let trimmed = line.trim();
            if let Some(info) = trimmed.strip_prefix("```") {
                if in_fence {
                    in_fence = false;
                    in_code = false;
                } else {
                    in_fence = true;
                    in_code = is_code_fence(info.trim());
                }
                continue;
            }
            if in_code && !trimmed.is_empty() && !trimmed.starts_with("{{#include ") {
                problems.push(format!(
                    "{}:{}: pasted code: {trimmed}",
                    chapter.display(),
                    index + 1
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "code must come from the examples via {{{{#include}}}}:\n{}",
        problems.join("\n")
    );
}

#[test]
fn mermaid_messages_have_no_semicolons() {
    // In a mermaid sequence diagram `;` ends a statement: a message containing one
    // renders as "Syntax error in text".
    let mut problems = Vec::new();
    for chapter in chapters() {
        let text = std::fs::read_to_string(&chapter).expect("readable");
        let mut in_mermaid = false;
        for (index, line) in text.lines().enumerate() {
            let trimmed = line.trim();
            if let Some(info) = trimmed.strip_prefix("```") {
                in_mermaid = !in_mermaid && info.trim() == "mermaid";
                continue;
            }
            if in_mermaid && trimmed.contains(';') {
                problems.push(format!("{}:{}: {trimmed}", chapter.display(), index + 1));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "`;` in mermaid diagrams:\n{}",
        problems.join("\n")
    );
}

#[test]
fn every_example_and_transcript_is_in_the_book() {
    let root = root();
    let all: Vec<Include> = chapters().iter().flat_map(|c| includes(c)).collect();
    let included: BTreeSet<PathBuf> = all.iter().map(|i| i.target.clone()).collect();
    let mut problems = Vec::new();
    // The numbered examples are the bins of the examples package, each the
    // `src/main.rs` of a chapter's snapshot (checked below with the snapshots).
    let manifest =
        std::fs::read_to_string(root.join("examples/Cargo.toml")).expect("examples/Cargo.toml");
    let bin = Regex::new(r#"(?m)^name = "(\w+)"\npath = "([^"]+)""#).expect("regex");
    let binaries: BTreeSet<String> = bin
        .captures_iter(&manifest)
        .map(|c| c[1].to_owned())
        .collect();
    assert!(binaries.len() >= 15, "expected the 15 numbered examples");
    let scripts = scripts();
    assert!(
        scripts
            .iter()
            .any(|script| script.ends_with("static/app.js")),
        "expected the browser demo's app.js"
    );
    for program in &scripts {
        if !included.contains(program) {
            problems.push(format!("no chapter includes {}", program.display()));
        }
    }
    // A snapshot's file is shown when a chapter points at it or at the file it
    // links to (an unchanged file is a symlink to an earlier snapshot's).
    let shown: BTreeSet<PathBuf> = chapters()
        .iter()
        .flat_map(|c| tutorial_paths(c))
        .map(|p| p.target)
        .chain(included.iter().cloned())
        .filter_map(|path| path.canonicalize().ok())
        .collect();
    for snapshot in snapshots() {
        for file in snapshot_files(&snapshot) {
            if !file.canonicalize().is_ok_and(|real| shown.contains(&real)) {
                problems.push(format!("no chapter shows {}", file.display()));
            }
        }
    }
    let transcripts = files(&root.join("book/transcripts"), "txt");
    assert!(!transcripts.is_empty(), "no transcripts");
    for transcript in &transcripts {
        if !included.contains(transcript) {
            problems.push(format!("no chapter includes {}", transcript.display()));
        }
        let text = std::fs::read_to_string(transcript).expect("readable");
        let servers: Vec<&str> = text
            .lines()
            .take_while(|line| line.starts_with("# server: "))
            .collect();
        if servers.is_empty() {
            problems.push(format!(
                "{}: the first line must be a `# server:` line",
                transcript.display()
            ));
        }
        for header in servers {
            let known = if let Some(name) = header.split("cargo run -p examples --bin ").nth(1) {
                binaries.contains(name.trim())
            } else {
                header
                    .split(" node ")
                    .nth(1)
                    .is_some_and(|script| scripts.contains(&clean(&root.join(script.trim()))))
            };
            if !known {
                problems.push(format!(
                    "{}: {header:?} names no example binary or node script",
                    transcript.display()
                ));
            }
        }
    }
    for include in all
        .iter()
        .filter(|i| i.target.starts_with(root.join("book/transcripts")))
    {
        if include.fence.as_deref() != Some("console") {
            problems.push(format!(
                "{}:{}: include transcripts inside a ```console block",
                include.chapter.display(),
                include.line
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn summary_lists_every_chapter() {
    let src = root().join("book/src");
    let summary = std::fs::read_to_string(src.join("SUMMARY.md")).expect("book/src/SUMMARY.md");
    let mut listed = BTreeSet::new();
    let mut problems = Vec::new();
    for part in summary.split("](").skip(1) {
        let Some(end) = part.find(')') else { continue };
        let link = &part[..end];
        if link.is_empty() {
            continue;
        }
        let path = clean(&src.join(link));
        if !path.exists() {
            problems.push(format!("SUMMARY.md links to missing {link}"));
        }
        listed.insert(path);
    }
    for chapter in chapters() {
        if chapter.file_name().is_some_and(|n| n != "SUMMARY.md") && !listed.contains(&chapter) {
            problems.push(format!("{} is not in SUMMARY.md", chapter.display()));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn anchors_in_the_examples_are_balanced() {
    let root = root();
    let mut sources = files(&root.join("examples/src"), "rs");
    sources.extend(files(&root.join("examples/tests"), "rs"));
    sources.extend(scripts());
    sources.extend(snapshots().iter().flat_map(|s| snapshot_files(s)));
    let mut problems = Vec::new();
    for source in sources {
        let text = std::fs::read_to_string(&source).expect("readable");
        for line in text.lines() {
            // Rust and JavaScript, TOML, SQL comments.
            let line = line.trim_start();
            let Some(name) = ["// ANCHOR: ", "# ANCHOR: ", "-- ANCHOR: "]
                .iter()
                .find_map(|marker| line.strip_prefix(marker))
            else {
                continue;
            };
            let name = name.trim();
            if let Err(why) = anchored(&text, name) {
                problems.push(format!("{}: {why}", source.display()));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn installed(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn mdbook_builds_the_book() {
    assert!(
        installed("mdbook") && installed("mdbook-mermaid"),
        "mdbook and mdbook-mermaid are needed to build the book; install them with\n  \
         cargo install mdbook --version 0.5.4 --locked --no-default-features --features search\n  \
         cargo install mdbook-mermaid --version 0.17.1 --locked"
    );
    let out = std::env::temp_dir().join(format!("examples-book-{}", std::process::id()));
    let output = Command::new("mdbook")
        .arg("build")
        .arg(root().join("book"))
        .arg("--dest-dir")
        .arg(&out)
        .output()
        .expect("mdbook runs");
    let log = String::from_utf8_lossy(&output.stderr);
    let _ = std::fs::remove_dir_all(&out);
    assert!(output.status.success(), "mdbook build failed:\n{log}");
    assert!(
        !log.contains("WARN") && !log.contains("ERROR"),
        "mdbook build warned:\n{log}"
    );
}
