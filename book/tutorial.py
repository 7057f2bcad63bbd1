#!/usr/bin/env python3
"""mdBook preprocessor for the type-along tutorial: shows the reader's files.

Directives, each alone on its line, with paths relative to the chapter's .md
file (like {{#include}}):

  {{#file ../../examples/ch02-users/src/users.rs}}
      A caption naming the file inside its snapshot (`src/users.rs`), then the
      whole file in a fenced block.
  {{#diff ../../examples/ch08-cookies/src/main.rs ../../examples/ch09-refresh/src/main.rs}}
      A caption `src/main.rs (changed)`, then a unified diff (3 lines of
      context) from the first file to the second.

A snapshot is a directory named chNN-something (examples/ch02-users/): the
reader's project at the end of chapter NN. The caption is the path relative to
that directory. What is shown is the file with its mdBook anchor lines removed
and, in a Cargo.toml, the path dependencies rewritten (below).
examples/tests/tutorial/ applies the same rules when it replays the book, so
what the reader sees here is exactly what that test checks.

`\\{{#file ...}}` (a backslash before the braces) is left alone; mdBook's links
preprocessor then drops the backslash, which is how a chapter can mention a
directive without expanding it.

Any mistake (a missing file, a diff between identical files, a directive that
is not alone on its line or sits inside a code block) stops the build with a
message naming the chapter: a tutorial that silently shows the wrong thing is
worse than no build.
"""

import difflib
import html
import json
import os
import re
import sys

# Cargo.toml path rewrite. In the repository a snapshot sits at
# examples/chNN-name/, so its path dependencies are "../../jwt-layer" and
# "../../jwt-extractor". The reader instead clones the repository as
# `jwt-layer` next to their own project, so from their project the crates are
# "../jwt-layer/jwt-layer" and "../jwt-layer/jwt-extractor". The book shows the
# reader's version. (examples/tests/tutorial/ applies the same rewrite.)
CARGO_PATH_REWRITES = [
    ('path = "../../jwt-layer"', 'path = "../jwt-layer/jwt-layer"'),
    ('path = "../../jwt-extractor"', 'path = "../jwt-layer/jwt-extractor"'),
]

# mdBook's own rule for anchor lines ({{#include file:name}}): any line with
# `ANCHOR: name` or `ANCHOR_END: name` is a marker, whatever comment starts it.
ANCHOR_LINE = re.compile(r"ANCHOR(_END)?:\s*[\w_-]+")

SNAPSHOT_DIR = re.compile(r"^ch\d\d-")

LANGUAGES = {
    ".rs": "rust",
    ".toml": "toml",
    ".sql": "sql",
    ".js": "js",
    ".html": "html",
    ".css": "css",
    ".sh": "sh",
}

# A directive at the start of a line (after indentation), not escaped.
DIRECTIVE = re.compile(r"\{\{#(file|diff)\s+([^}]*)\}\}")


class TutorialError(Exception):
    pass


def shown(path):
    """The file as the book shows it (and as the reader types it)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise TutorialError(f"cannot read {path}: {e.strerror}") from None
    # Split on "\n" only, as examples/tests/tutorial/ does, so both agree.
    text = "\n".join(line for line in text.split("\n") if not ANCHOR_LINE.search(line))
    if os.path.basename(path) == "Cargo.toml":
        for old, new in CARGO_PATH_REWRITES:
            text = text.replace(old, new)
    return text


def in_snapshot(path):
    """The path of a file relative to its snapshot directory (examples/chNN-name/)."""
    parts = os.path.normpath(path).split(os.sep)
    # The last examples/chNN-name/ on the path (a fixture may nest one repo-like tree in another).
    for i in range(len(parts) - 2, 0, -1):
        if parts[i - 1] == "examples" and SNAPSHOT_DIR.match(parts[i]):
            return "/".join(parts[i + 1 :])
    raise TutorialError(f"{path} is not inside a snapshot directory (examples/chNN-name/)")


def caption(text):
    return f'<div class="filename">{html.escape(text)}</div>\n\n'


def fenced(language, body):
    if body and not body.endswith("\n"):
        body += "\n"
    # Longer than any run of backticks in the body (doc comments hold ```).
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{body}{fence}\n"


def language_of(path):
    return LANGUAGES.get(os.path.splitext(path)[1], "")


def expand_file(base, args):
    if len(args) != 1:
        raise TutorialError("{{#file}} takes one path")
    path = os.path.normpath(os.path.join(base, args[0]))
    return caption(in_snapshot(path)) + fenced(language_of(path), shown(path))


def expand_diff(base, args):
    if len(args) != 2:
        raise TutorialError("{{#diff}} takes two paths: before and after")
    before, after = (os.path.normpath(os.path.join(base, a)) for a in args)
    old, new = shown(before), shown(after)
    if old == new:
        raise TutorialError(
            f"{before} and {after} are identical as shown: a diff showing nothing is a mistake"
        )
    lines = difflib.unified_diff(
        old.splitlines(), new.splitlines(), n=3, lineterm=""
    )
    # No ---/+++ header (its first two lines): the caption names the file. Not
    # a filter on "---": a removed SQL comment line is "--- comment".
    body = list(lines)[2:]
    return caption(f"{in_snapshot(after)} (changed)") + fenced("diff", "\n".join(body))


def expand(content, base):
    out = []
    fence = None
    for line in content.splitlines(keepends=True):
        stripped = line.strip()
        marker = re.match(r"^(`{3,}|~{3,})", stripped)
        if marker:
            if fence is None:
                fence = marker.group(1)
            elif stripped.startswith(fence) and stripped.strip("`~") == "":
                fence = None
        matches = [m for m in DIRECTIVE.finditer(line) if not line[: m.start()].endswith("\\")]
        if not matches:
            out.append(line)
            continue
        directive = matches[0].group(0)
        if fence is not None:
            raise TutorialError(f"{directive} inside a code block: it makes its own")
        if len(matches) > 1 or stripped != directive:
            raise TutorialError(f"{directive} must be alone on its line")
        kind, args = matches[0].group(1), matches[0].group(2).split()
        try:
            expanded = expand_file(base, args) if kind == "file" else expand_diff(base, args)
        except TutorialError as e:
            raise TutorialError(f"{directive}: {e}") from None
        if "{{#" in expanded:
            # mdBook's links preprocessor runs after this one and would expand it.
            raise TutorialError(f"{directive}: the file contains '{{{{#', which mdBook would expand")
        out.append(expanded)
    return "".join(out)


def chapters(items):
    for item in items:
        if isinstance(item, dict) and "Chapter" in item:
            chapter = item["Chapter"]
            yield chapter
            yield from chapters(chapter.get("sub_items", []))


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "supports":
        sys.exit(0)  # Plain markdown in, plain markdown out: every renderer.
    context, book = json.load(sys.stdin)
    src = os.path.join(context["root"], context["config"]["book"].get("src", "src"))
    # mdBook 0.5 names the list `items`; 0.4 called it `sections`.
    items = book["items"] if "items" in book else book["sections"]
    failed = False
    for chapter in chapters(items):
        source = chapter.get("source_path") or chapter.get("path")
        if not source or chapter.get("content") is None:
            continue  # a draft chapter
        base = os.path.dirname(os.path.join(src, source))
        try:
            chapter["content"] = expand(chapter["content"], base)
        except TutorialError as e:
            print(f"tutorial preprocessor: {os.path.join(src, source)}: {e}", file=sys.stderr)
            failed = True
    if failed:
        sys.exit(1)
    json.dump(book, sys.stdout)


if __name__ == "__main__":
    main()
