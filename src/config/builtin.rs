//! The shipped rules, compiled into the binary (by `build.rs`): used when no rules directory is
//! given, and written out by `imagewatch rules export` for customising.

use std::io;
use std::path::{Path, PathBuf};

/// Every shipped rule file as (path under `rules/`, text): `signals/*.yaml`, then
/// `sequences/*.yaml`, each in name order.
pub const FILES: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/builtin_rules.rs"));

/// How a built-in file is named in errors and example failures, so a rule author can find it
/// in the source tree or in an export: `builtin:rules/signals/cisco_ios.yaml`.
pub fn display_name(path: &str) -> String {
    format!("builtin:rules/{path}")
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{}: already exists (--force overwrites it)", .0.display())]
    Exists(PathBuf),
    #[error("{}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
}

/// Writes the built-in rules under `dir` (`dir/signals/…`, `dir/sequences/…`), the layout
/// `--rules DIR` reads. Without `force`, nothing is written when any of the files exists, so
/// an export never half-overwrites a customised set. Returns the files written.
pub fn export(dir: &Path, force: bool) -> Result<Vec<PathBuf>, ExportError> {
    let targets: Vec<(PathBuf, &str)> = FILES
        .iter()
        .map(|(path, text)| (dir.join(path), *text))
        .collect();
    if !force && let Some((existing, _)) = targets.iter().find(|(p, _)| p.exists()) {
        return Err(ExportError::Exists(existing.clone()));
    }
    let mut written = Vec::with_capacity(targets.len());
    for (path, text) in targets {
        let write = |path: &Path| {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(path, text)
        };
        write(&path).map_err(|source| ExportError::Write {
            path: path.clone(),
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_rule_file_is_built_in() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
        let mut on_disk = Vec::new();
        for sub in ["signals", "sequences"] {
            let mut names: Vec<String> = std::fs::read_dir(root.join(sub))
                .expect("rules directory")
                .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".yaml") || n.ends_with(".yml"))
                .collect();
            names.sort();
            on_disk.extend(names.into_iter().map(|n| format!("{sub}/{n}")));
        }
        let built_in: Vec<&str> = FILES.iter().map(|(p, _)| *p).collect();
        assert_eq!(built_in, on_disk);
        for (path, text) in FILES {
            assert_eq!(*text, std::fs::read_to_string(root.join(path)).unwrap());
        }
    }

    #[test]
    fn export_refuses_to_overwrite_unless_forced() {
        let dir = tempfile::tempdir().expect("temp dir");
        let written = export(dir.path(), false).expect("first export");
        assert_eq!(written.len(), FILES.len());
        let edited = dir.path().join(FILES[0].0);
        std::fs::write(&edited, "customised").expect("write");
        match export(dir.path(), false) {
            Err(ExportError::Exists(p)) => assert_eq!(p, edited),
            other => panic!("expected Exists, got {other:?}"),
        }
        assert_eq!(std::fs::read_to_string(&edited).unwrap(), "customised");
        export(dir.path(), true).expect("forced export");
        assert_eq!(std::fs::read_to_string(&edited).unwrap(), FILES[0].1);
    }
}
