//! The reader's project, replayed chapter by chapter from what the book shows.
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use regex::Regex;

/// The reader's project: path relative to the project (`src/main.rs`) → content.
pub(crate) type Project = BTreeMap<String, String>;

/// The reader's project at the end of a numbered chapter (equal to its snapshot).
#[derive(Debug)]
pub(crate) struct Step {
    pub(crate) chapter: PathBuf,
    pub(crate) snapshot: PathBuf,
    pub(crate) project: Project,
}

/// The same rewrite as `CARGO_PATH_REWRITES` in `book/tutorial.py`: a snapshot
/// sits at `examples/chNN-name/` in this repository, the reader's project next
/// to their clone of it, `jwt-layer/`.
pub(crate) const CARGO_PATH_REWRITES: [(&str, &str); 2] = [
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
pub(crate) fn clean(path: &Path) -> PathBuf {
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
pub(crate) fn shown(path: &Path) -> Result<String, String> {
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
pub(crate) fn package_name(manifest: &str) -> Option<String> {
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
pub(crate) fn summary(book_src: &Path) -> Result<Vec<PathBuf>, String> {
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
pub(crate) fn number(name: &str, prefix: &str) -> Option<u32> {
    let rest = name.strip_prefix(prefix)?;
    let digits = rest.get(..2)?;
    (rest[2..].starts_with('-') && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

pub(crate) fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The one `examples/chNN-*/` of chapter `NN`.
pub(crate) fn snapshot_of(examples: &Path, chapter: &Path, nn: u32) -> Result<PathBuf, String> {
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
pub(crate) fn walk(
    dir: &Path,
    prefix: &str,
    out: &mut BTreeMap<String, PathBuf>,
) -> Result<(), String> {
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
pub(crate) fn locate(examples: &Path, path: &Path) -> Option<(String, String)> {
    let inside = path.strip_prefix(examples).ok()?;
    let mut parts = inside.components().map(|c| c.as_os_str().to_string_lossy());
    let snapshot = parts.next()?.into_owned();
    number(&snapshot, "ch")?;
    let relative = parts.collect::<Vec<_>>().join("/");
    (!relative.is_empty()).then_some((snapshot, relative))
}

/// Where two texts first differ, for the failure message.
pub(crate) fn first_difference(have: &str, want: &str, wanted_by: &str) -> String {
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
pub(crate) fn replay(book_src: &Path, examples: &Path) -> Result<Vec<Step>, String> {
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
