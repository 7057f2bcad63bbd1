//! The book is a type-along tutorial: a reader who types what the chapters show
//! must end each chapter with exactly that chapter's snapshot
//! (`examples/chNN-name/`), and that project must build.
//!
//! The test replays the book. It keeps the reader's project in memory (path →
//! content) and, chapter by chapter in `SUMMARY.md` order, applies what the
//! chapter shows with the directives of `book/tutorial.py`:
//!
//! - `{{#file P}}` shows all of `P`: the reader's file becomes `P`;
//! - `{{#diff A B}}` shows the change from `A` to `B`: the reader's file must
//!   be `A` (else the diff does not apply to what they have), and becomes `B`.
//!
//! Files are compared as the book shows them: anchor comment lines removed and,
//! in a `Cargo.toml`, the path dependencies rewritten to where the reader's
//! clone of this repository is (`../jwt-layer/jwt-layer`). After each numbered
//! chapter the reader's project must equal the snapshot, file for file. A
//! snapshot whose package name differs from the previous one's (chapter 15's
//! resource server) is a new project: the reader starts from nothing.
//!
//! The replay is fast and always runs. Building every chapter's project takes
//! minutes, so that test is `#[ignore]`d and `.ci/run` runs it on its own.
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::process::Command;

use regex::Regex;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("examples/ is inside the workspace")
        .to_owned()
}

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tutorial")
}

/// The reader's project: path relative to the project (`src/main.rs`) → content.
type Project = BTreeMap<String, String>;

/// The reader's project at the end of a numbered chapter (equal to its snapshot).
#[derive(Debug)]
struct Step {
    chapter: PathBuf,
    snapshot: PathBuf,
    project: Project,
}

/// The same rewrite as `CARGO_PATH_REWRITES` in `book/tutorial.py`: a snapshot
/// sits at `examples/chNN-name/` in this repository, the reader's project next
/// to their clone of it, `jwt-layer/`.
const CARGO_PATH_REWRITES: [(&str, &str); 2] = [
    (
        r#"path = "../../jwt-layer""#,
        r#"path = "../jwt-layer/jwt-layer""#,
    ),
    (
        r#"path = "../../jwt-extractor""#,
        r#"path = "../jwt-layer/jwt-extractor""#,
    ),
];

/// Resolves `..` without touching the file system (the file may be missing).
fn clean(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// A file as the book shows it: the rules of `shown()` in `book/tutorial.py`.
fn shown(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    // mdBook's rule for anchor lines, whatever comment starts them.
    let anchor = Regex::new(r"ANCHOR(_END)?:\s*[\w_-]+").expect("valid regex");
    let mut text = text
        .split('\n')
        .filter(|line| !anchor.is_match(line))
        .collect::<Vec<_>>()
        .join("\n");
    if path.file_name().is_some_and(|name| name == "Cargo.toml") {
        for (from, to) in CARGO_PATH_REWRITES {
            text = text.replace(from, to);
        }
    }
    Ok(text)
}

/// The `name` of a Cargo.toml's `[package]`.
fn package_name(manifest: &str) -> Option<String> {
    let mut in_package = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package && let Some(value) = line.strip_prefix("name") {
            let value = value.trim_start().strip_prefix('=')?.trim();
            return Some(value.trim_matches('"').to_owned());
        }
    }
    None
}

/// The chapter files of `SUMMARY.md`, in order.
fn summary(book_src: &Path) -> Result<Vec<PathBuf>, String> {
    let path = book_src.join("SUMMARY.md");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(text
        .split("](")
        .skip(1)
        .filter_map(|part| part.find(')').map(|end| &part[..end]))
        .filter(|link| !link.is_empty())
        .map(|link| clean(&book_src.join(link)))
        .collect())
}

/// `NN` of a chapter file `NN-name.md` or a snapshot directory `chNN-name`.
fn number(name: &str, prefix: &str) -> Option<u32> {
    let rest = name.strip_prefix(prefix)?;
    let digits = rest.get(..2)?;
    (rest[2..].starts_with('-') && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The one `examples/chNN-*/` of chapter `NN`.
fn snapshot_of(examples: &Path, chapter: &Path, nn: u32) -> Result<PathBuf, String> {
    let entries = std::fs::read_dir(examples)
        .map_err(|e| format!("cannot list {}: {e}", examples.display()))?;
    let mut found: Vec<PathBuf> = entries
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.is_dir() && number(&file_name(path), "ch") == Some(nn))
        .collect();
    found.sort();
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(format!(
            "{}: no snapshot directory {}/ch{nn:02}-*/ for this chapter",
            chapter.display(),
            examples.display()
        )),
        many => Err(format!(
            "{}: more than one snapshot for this chapter: {many:?}",
            chapter.display()
        )),
    }
}

/// Every file of a snapshot, following symlinks (an unchanged file is a link to
/// an earlier snapshot's): build output, the lock file and databases aside.
fn walk(dir: &Path, prefix: &str, out: &mut BTreeMap<String, PathBuf>) -> Result<(), String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        let name = file_name(&path);
        let relative = format!("{prefix}{name}");
        let metadata = std::fs::metadata(&path)
            .map_err(|e| format!("{}: {e} (a dangling symlink?)", path.display()))?;
        if metadata.is_dir() {
            if name != "target" {
                walk(&path, &format!("{relative}/"), out)?;
            }
        } else if name != "Cargo.lock"
            && !name.ends_with(".db")
            && !name.ends_with(".db-wal")
            && !name.ends_with(".db-shm")
        {
            out.insert(relative, path);
        }
    }
    Ok(())
}

/// Where a directive's path is: its snapshot directory's name and the path
/// inside it (`src/main.rs`), which is the path in the reader's project.
fn locate(examples: &Path, path: &Path) -> Option<(String, String)> {
    let inside = path.strip_prefix(examples).ok()?;
    let mut parts = inside.components().map(|c| c.as_os_str().to_string_lossy());
    let snapshot = parts.next()?.into_owned();
    number(&snapshot, "ch")?;
    let relative = parts.collect::<Vec<_>>().join("/");
    (!relative.is_empty()).then_some((snapshot, relative))
}

/// Where two texts first differ, for the failure message.
fn first_difference(have: &str, want: &str, wanted_by: &str) -> String {
    let (mut a, mut b) = (have.split('\n'), want.split('\n'));
    let mut line = 1;
    loop {
        match (a.next(), b.next()) {
            (Some(x), Some(y)) if x == y => line += 1,
            (x, y) => {
                return format!(
                    "line {line}: the reader has {:?}, {wanted_by} has {:?}",
                    x.unwrap_or("<end of file>"),
                    y.unwrap_or("<end of file>")
                );
            }
        }
    }
}

/// Replays the book in `book_src` against the snapshots in `examples`: the
/// reader's project after each numbered chapter, or what went wrong first.
fn replay(book_src: &Path, examples: &Path) -> Result<Vec<Step>, String> {
    let book_src = clean(book_src);
    let examples = clean(examples);
    let directive = Regex::new(r"\{\{#(file|diff)\s+([^}]*)\}\}").expect("valid regex");
    let mut steps: Vec<Step> = Vec::new();
    let mut reader = Project::new();
    let mut package: Option<String> = None;
    let chapters = summary(&book_src)?;
    for chapter in chapters {
        let Some(nn) = number(&file_name(&chapter), "") else {
            continue; // the introduction, appendices: no snapshot
        };
        let at = chapter.display().to_string();
        let snapshot = snapshot_of(&examples, &chapter, nn)?;
        let snapshot_name = file_name(&snapshot);
        let here = format!("{at} (snapshot {})", snapshot.display());

        let manifest = shown(&snapshot.join("Cargo.toml")).map_err(|e| format!("{here}: {e}"))?;
        let name = package_name(&manifest)
            .ok_or_else(|| format!("{here}: Cargo.toml has no [package] name"))?;
        if package.as_ref().is_some_and(|previous| *previous != name) {
            // A second project (the resource server): the reader starts anew.
            reader.clear();
        }
        package = Some(name);

        let text = std::fs::read_to_string(&chapter).map_err(|e| format!("{at}: {e}"))?;
        let dir = chapter.parent().unwrap_or(Path::new("."));
        // A path of a directive: inside a snapshot, the chapter's own or
        // (the "before" of a diff) an earlier one.
        let resolve = |arg: &str, earlier_allowed: bool| -> Result<(PathBuf, String), String> {
            let path = clean(&dir.join(arg));
            let Some((owner, relative)) = locate(&examples, &path) else {
                return Err(format!(
                    "{arg} is not inside a snapshot ({examples:?}/chNN-*/)"
                ));
            };
            let allowed = if earlier_allowed {
                number(&owner, "ch").is_some_and(|n| n <= nn)
            } else {
                owner == snapshot_name
            };
            if !allowed {
                return Err(format!(
                    "{arg} is in {owner}, not in this chapter's snapshot ({snapshot_name}){}",
                    if earlier_allowed {
                        " or an earlier one"
                    } else {
                        ""
                    }
                ));
            }
            Ok((path, relative))
        };
        for (index, line) in text.lines().enumerate() {
            for found in directive.captures_iter(line) {
                let whole = found.get(0).expect("the match");
                if line[..whole.start()].ends_with('\\') {
                    continue; // escaped: mdBook shows it as text
                }
                let line_at = format!("{at}:{}", index + 1);
                let args: Vec<&str> = found[2].split_whitespace().collect();
                match (&found[1], args.as_slice()) {
                    ("file", [path]) => {
                        let (path, relative) =
                            resolve(path, false).map_err(|e| format!("{line_at}: {e}"))?;
                        let content = shown(&path).map_err(|e| format!("{line_at}: {e}"))?;
                        reader.insert(relative, content);
                    }
                    ("diff", [before, after]) => {
                        let (before, _) =
                            resolve(before, true).map_err(|e| format!("{line_at}: {e}"))?;
                        let (after, relative) =
                            resolve(after, false).map_err(|e| format!("{line_at}: {e}"))?;
                        let old = shown(&before).map_err(|e| format!("{line_at}: {e}"))?;
                        let new = shown(&after).map_err(|e| format!("{line_at}: {e}"))?;
                        if old == new {
                            return Err(format!(
                                "{line_at}: {} and {} are the same: the diff shows nothing",
                                before.display(),
                                after.display()
                            ));
                        }
                        match reader.get(&relative) {
                            Some(have) if *have == old => {}
                            Some(have) => {
                                return Err(format!(
                                    "{line_at}: chapter {nn} shows a diff against {} but the \
                                     reader's {relative} is not that file: {}",
                                    before.display(),
                                    first_difference(have, &old, "the diff's \"before\"")
                                ));
                            }
                            None => {
                                return Err(format!(
                                    "{line_at}: chapter {nn} shows a diff against {} but the \
                                     reader has no {relative} yet",
                                    before.display()
                                ));
                            }
                        }
                        reader.insert(relative, new);
                    }
                    (kind, _) => {
                        return Err(format!(
                            "{line_at}: {{{{#{kind}}}}} takes {}",
                            if kind == "file" {
                                "one path"
                            } else {
                                "two paths"
                            }
                        ));
                    }
                }
            }
        }

        let mut files = BTreeMap::new();
        walk(&snapshot, "", &mut files).map_err(|e| format!("{here}: {e}"))?;
        let mut problems = Vec::new();
        for (relative, path) in &files {
            let want = shown(path)?;
            match reader.get(relative) {
                None => problems.push(format!(
                    "{relative} is in the snapshot but the reader does not have it: \
                     show it with {{{{#file}}}} (or {{{{#diff}}}} if it changed)"
                )),
                Some(have) if *have != want => problems.push(format!(
                    "{relative}: the reader's differs from the snapshot's, {}",
                    first_difference(have, &want, "the snapshot")
                )),
                Some(_) => {}
            }
        }
        for relative in reader.keys().filter(|r| !files.contains_key(*r)) {
            problems.push(format!(
                "{relative}: the reader has it, the snapshot does not"
            ));
        }
        if !problems.is_empty() {
            return Err(format!(
                "{here}: after this chapter the reader's project is not the snapshot:\n  {}",
                problems.join("\n  ")
            ));
        }
        steps.push(Step {
            chapter,
            snapshot,
            project: reader.clone(),
        });
    }
    if steps.is_empty() {
        return Err(format!(
            "{}: no numbered chapter (NN-name.md)",
            book_src.join("SUMMARY.md").display()
        ));
    }
    Ok(steps)
}

/// Writes each step's project outside the repository and `cargo check`s it;
/// `label` keeps the temporary directories of tests running at once apart.
fn check_builds(steps: &[Step], label: &str) -> Result<(), String> {
    let root = root();
    let base = std::env::temp_dir().join(format!("tutorial-check-{}-{label}", std::process::id()));
    // The reader's project is not part of any workspace: nothing above it may
    // have a Cargo.toml that cargo would take for one.
    if let Some(manifest) = base
        .ancestors()
        .map(|dir| dir.join("Cargo.toml"))
        .find(|manifest| manifest.exists())
    {
        return Err(format!(
            "{} is above the temporary directory: cargo would see it",
            manifest.display()
        ));
    }
    // The outer `cargo test` holds the lock of its own target directory: the
    // reader's builds get one of their own beside it (target/tutorial-check).
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("tutorial-check");
    let lock = std::fs::read(root.join("Cargo.lock")).map_err(|e| format!("Cargo.lock: {e}"))?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut result = Ok(());
    for step in steps {
        let project = base.join(file_name(&step.snapshot));
        let _ = std::fs::remove_dir_all(&project);
        for (relative, content) in &step.project {
            let mut content = content.clone();
            if relative == "Cargo.toml" {
                for krate in ["jwt-layer", "jwt-extractor"] {
                    let absolute = root.join(krate).display().to_string();
                    content = content.replace(
                        &format!(r#""../jwt-layer/{krate}""#),
                        &format!("{absolute:?}"),
                    );
                }
            }
            let path = project.join(relative);
            std::fs::create_dir_all(path.parent().expect("a file in the project"))
                .and_then(|()| std::fs::write(&path, content))
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        // The workspace's versions: the reader's build checks the code, not
        // whatever crates.io has today (and --offline could not fetch it).
        std::fs::write(project.join("Cargo.lock"), &lock).map_err(|e| e.to_string())?;
        let mut command = Command::new(&cargo);
        command
            .args(["check", "--offline", "--quiet", "--all-targets"])
            .current_dir(&project)
            .env("CARGO_TARGET_DIR", &target);
        // What the outer cargo set for this test binary describes the
        // workspace's `examples` package, not the reader's project.
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy();
            if key.starts_with("CARGO_PKG_")
                || key.starts_with("CARGO_MANIFEST_")
                || [
                    "CARGO_CRATE_NAME",
                    "CARGO_PRIMARY_PACKAGE",
                    "CARGO_TARGET_TMPDIR",
                ]
                .contains(&key.as_ref())
            {
                command.env_remove(key.as_ref());
            }
        }
        let output = command
            .output()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        if !output.status.success() {
            result = Err(format!(
                "{} (snapshot {}): the reader's project, written to {}, does not build:\n{}",
                step.chapter.display(),
                step.snapshot.display(),
                project.display(),
                String::from_utf8_lossy(&output.stderr)
            ));
            break; // keep the failing project to look at
        }
        let _ = std::fs::remove_dir_all(&project);
    }
    if result.is_ok() {
        let _ = std::fs::remove_dir_all(&base);
    }
    result
}

#[test]
fn a_reader_typing_the_book_gets_each_snapshot() {
    let root = root();
    if let Err(problem) = replay(&root.join("book/src"), &root.join("examples")) {
        panic!("{problem}");
    }
}

#[test]
#[ignore = "builds every chapter's project (minutes); .ci/run runs it"]
fn each_chapters_project_builds() {
    let root = root();
    let steps = replay(&root.join("book/src"), &root.join("examples")).unwrap_or_else(|e| {
        panic!("{e}");
    });
    if let Err(problem) = check_builds(&steps, "book") {
        panic!("{problem}");
    }
}

#[test]
fn fixture_replays_file_by_file_diff_by_diff() {
    let fixture = fixture();
    let steps = replay(&fixture.join("book/src"), &fixture.join("examples")).unwrap();
    assert_eq!(steps.len(), 3);
    let files = |step: &Step| step.project.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        files(&steps[0]),
        [
            "Cargo.toml",
            "migrations/0001_notes.sql",
            "src/main.rs",
            "src/server.rs"
        ]
    );
    // Chapter 2: a new file, two diffs, and src/server.rs unchanged (a symlink).
    assert_eq!(
        files(&steps[1]),
        [
            "Cargo.toml",
            "migrations/0001_notes.sql",
            "src/main.rs",
            "src/server.rs",
            "src/users.rs"
        ]
    );
    let manifest = &steps[1].project["Cargo.toml"];
    assert!(manifest.contains(r#"jwt-layer = { path = "../jwt-layer/jwt-layer" }"#));
    assert!(manifest.contains(r#"jwt-extractor = { path = "../jwt-layer/jwt-extractor" }"#));
    assert!(!manifest.contains("ANCHOR"));
    let main = &steps[1].project["src/main.rs"];
    assert!(main.contains("users::count()") && !main.contains("ANCHOR"));
    // Chapter 3 is another package: a new project, nothing carried over.
    assert_eq!(files(&steps[2]), ["Cargo.toml", "src/main.rs"]);
}

#[test]
fn fixture_with_a_change_not_shown_fails_naming_the_file() {
    let fixture = fixture();
    let problem = replay(&fixture.join("book-unshown/src"), &fixture.join("examples")).unwrap_err();
    assert!(problem.contains("02-users.md"), "{problem}");
    assert!(problem.contains("ch02-users"), "{problem}");
    assert!(
        problem.contains("src/users.rs is in the snapshot but the reader does not have it"),
        "{problem}"
    );
}

#[test]
fn fixture_with_a_diff_against_the_wrong_file_fails() {
    let fixture = fixture();
    let problem = replay(
        &fixture.join("book-wrong-base/src"),
        &fixture.join("examples"),
    )
    .unwrap_err();
    assert!(
        problem.contains("chapter 2 shows a diff against")
            && problem.contains("ch01-hello/src/server.rs")
            && problem.contains("reader's src/main.rs is not that file")
            && problem.contains("line 1: the reader has \"mod server;\""),
        "{problem}"
    );
}

#[test]
fn fixture_without_a_snapshot_fails() {
    let fixture = fixture();
    // The fixture's chapters, but snapshots looked for where there are none.
    let problem = replay(&fixture.join("book/src"), &fixture.join("book")).unwrap_err();
    assert!(
        problem.contains("01-hello.md") && problem.contains("no snapshot directory"),
        "{problem}"
    );
}

#[test]
fn the_build_check_reports_cargos_errors() {
    let fixture = fixture();
    let mut steps = replay(&fixture.join("book/src"), &fixture.join("examples")).unwrap();
    // Chapter 3's project has no dependencies: a build of seconds.
    let mut other = steps.remove(2);
    assert_eq!(file_name(&other.snapshot), "ch03-other");
    check_builds(std::slice::from_ref(&other), "fixture-good").unwrap();
    other.project.insert(
        "src/main.rs".to_owned(),
        "fn main() {\n    let x: u8 = \"not a number\";\n}\n".to_owned(),
    );
    let problem = check_builds(&[other], "fixture-bad").unwrap_err();
    // check_builds keeps a failing project for a look: not this one.
    let _ = std::fs::remove_dir_all(
        std::env::temp_dir().join(format!("tutorial-check-{}-fixture-bad", std::process::id())),
    );
    assert!(
        problem.contains("03-other.md")
            && problem.contains("does not build")
            && problem.contains("mismatched types")
            && problem.contains("src/main.rs:2"),
        "{problem}"
    );
}

/// Runs `book/tutorial.py` as mdBook would, on a chapter `02-users.md` of the
/// fixture's book whose text is `content`.
fn preprocess(content: &str) -> (bool, String, String) {
    let fixture = fixture();
    let input = serde_json::json!([
        {
            "root": fixture.join("book"),
            "config": {"book": {"src": "src"}},
            "renderer": "html",
            "mdbook_version": "0.5.4"
        },
        {
            "items": [
                "Separator",
                {"Chapter": {
                    "name": "A chapter",
                    "content": content,
                    "number": [2],
                    "sub_items": [],
                    "path": "02-users.md",
                    "source_path": "02-users.md",
                    "parent_names": []
                }}
            ]
        }
    ]);
    let mut child = Command::new("python3")
        .arg(root().join("book/tutorial.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    serde_json::to_writer(child.stdin.take().expect("stdin"), &input).expect("written");
    let output = child.wait_with_output().expect("the preprocessor ends");
    let book: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_default();
    let shown = book["items"][1]["Chapter"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (
        output.status.success(),
        shown,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn the_preprocessor_shows_what_the_replay_expects() {
    let fixture = fixture();
    let chapter = std::fs::read_to_string(fixture.join("book/src/02-users.md")).unwrap();
    let (ok, shown, stderr) = preprocess(&chapter);
    assert!(ok, "{stderr}");
    let users = shown_file(&fixture.join("examples/ch02-users/src/users.rs"));
    assert!(
        shown.contains(&format!(
            "<div class=\"filename\">src/users.rs</div>\n\n```rust\n{users}```\n"
        )),
        "{shown}"
    );
    assert!(
        shown.contains(
            "<div class=\"filename\">src/main.rs (changed)</div>\n\n```diff\n\
             @@ -1,7 +1,10 @@\n mod server;\n+mod users;\n \n use jwt_extractor as _;\n+use jwt_layer as _;\n"
        ),
        "{shown}"
    );
    assert!(
        shown.contains(
            "@@ -5,3 +5,4 @@\n \n [dependencies]\n jwt-extractor = { path = \
             \"../jwt-layer/jwt-extractor\" }\n+jwt-layer = { path = \"../jwt-layer/jwt-layer\" }\n"
        ),
        "{shown}"
    );
    // A removed SQL comment is a diff line "--- …": kept, unlike the ---/+++ header.
    assert!(
        shown.contains(
            "<div class=\"filename\">migrations/0001_notes.sql (changed)</div>\n\n```diff\n\
             @@ -1,2 +1 @@\n--- Notes, one row each.\n\
             -CREATE TABLE notes (id INTEGER PRIMARY KEY);\n\
             +CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);\n```\n"
        ),
        "{shown}"
    );
    assert!(
        !shown.contains("ANCHOR") && !shown.contains("+++"),
        "{shown}"
    );
    // Escaped: left for mdBook's links preprocessor, which drops the backslash.
    assert!(shown.contains(r"`\{{#file path}}`"), "{shown}");
}

fn shown_file(path: &Path) -> String {
    shown(path).unwrap()
}

#[test]
fn the_preprocessor_fails_on_a_missing_file_or_an_empty_diff() {
    let missing = "{{#file ../../examples/ch02-users/src/nothing.rs}}\n";
    let (ok, _, stderr) = preprocess(missing);
    assert!(!ok);
    assert!(
        stderr.contains("02-users.md") && stderr.contains("nothing.rs"),
        "{stderr}"
    );
    let empty = "{{#diff ../../examples/ch01-hello/src/server.rs ../../examples/ch02-users/src/server.rs}}\n";
    let (ok, _, stderr) = preprocess(empty);
    assert!(!ok);
    assert!(
        stderr.contains("02-users.md") && stderr.contains("identical"),
        "{stderr}"
    );
}
