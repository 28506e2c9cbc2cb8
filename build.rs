//! Embeds the shipped rules (`rules/signals/*.yaml`, `rules/sequences/*.yaml`) in the binary, so
//! an installed `imagewatch` runs without a checkout beside it (see `src/config/builtin.rs`).
//!
//! A build script rather than a crate such as `include_dir`: the list is a dozen files, and
//! `rerun-if-changed` on the directory makes cargo rebuild when a rule file is added, changed
//! or removed, which a proc macro cannot ask for on stable Rust.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let rules = root.join("rules");
    println!("cargo::rerun-if-changed={}", rules.display());
    let mut out = String::from("&[\n");
    for sub in ["signals", "sequences"] {
        for path in rule_files(&rules.join(sub)) {
            let name = path.file_name().expect("a file").to_string_lossy();
            writeln!(
                out,
                "    ({:?}, include_str!({:?})),",
                format!("{sub}/{name}"),
                path.display().to_string()
            )
            .expect("writing to a String");
        }
    }
    out.push_str("]\n");
    let dest = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    std::fs::write(dest.join("builtin_rules.rs"), out).expect("OUT_DIR is writable");
}

/// `*.yaml` and `*.yml` files of `dir`, in name order (the order the loader reads them in).
fn rule_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    files
}
