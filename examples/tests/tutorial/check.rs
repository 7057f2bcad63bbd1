//! Building the reader's project at each chapter, outside the repository.
use std::path::PathBuf;
use std::process::Command;

use crate::replay::{Step, file_name};
use crate::root;

/// Writes each step's project outside the repository and `cargo check`s it;
/// `label` keeps the temporary directories of tests running at once apart.
pub(crate) fn check_builds(steps: &[Step], label: &str) -> Result<(), String> {
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
