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
use std::path::{Path, PathBuf};
use std::process::Command;

mod check;
mod replay;

use check::check_builds;
use replay::{Step, file_name, replay, shown};

pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("examples/ is inside the workspace")
        .to_owned()
}

pub(crate) fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tutorial")
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
