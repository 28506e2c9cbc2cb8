//! Loads what `replay` and `serve` run with: signal and sequence rules from their
//! [`RuleSource`], and the change calendar, each compiled and checked, failing with a
//! [`ConfigError`] that names the file.

use std::fmt;
use std::path::{Path, PathBuf};

use super::builtin;
use super::error::ConfigError;
use crate::calendar::ChangeCalendar;
use crate::classify::Classifier;
use crate::correlate::SequenceRules;

/// Where the rules come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleSource {
    /// The rules shipped in the binary: what runs when no directory is given.
    Builtin,
    /// A directory with `signals/` and `sequences/` (an export, or one's own).
    Dir(PathBuf),
}

/// The two kinds of rule file, each in its own subdirectory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleKind {
    Signals,
    Sequences,
}

impl RuleKind {
    pub fn dir_name(self) -> &'static str {
        match self {
            RuleKind::Signals => "signals",
            RuleKind::Sequences => "sequences",
        }
    }
}

impl fmt::Display for RuleSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuleSource::Builtin => f.write_str("built-in rules"),
            RuleSource::Dir(dir) => write!(f, "rules in {}", dir.display()),
        }
    }
}

impl RuleSource {
    /// A directory when one is given, else the built-in rules.
    pub fn new(dir: Option<&Path>) -> Self {
        dir.map_or(RuleSource::Builtin, |d| RuleSource::Dir(d.to_path_buf()))
    }

    /// The rule files of one kind as (name for errors, YAML text), in file-name order.
    pub fn files(&self, kind: RuleKind) -> Result<Vec<(String, String)>, ConfigError> {
        let sub = kind.dir_name();
        let files: Vec<(String, String)> = match self {
            RuleSource::Builtin => builtin::FILES
                .iter()
                .filter(|(path, _)| Path::new(path).starts_with(sub))
                .map(|(path, text)| (builtin::display_name(path), text.to_string()))
                .collect(),
            RuleSource::Dir(dir) => read_dir(&dir.join(sub))?,
        };
        if files.is_empty() {
            let shown = match self {
                RuleSource::Builtin => builtin::display_name(sub),
                RuleSource::Dir(dir) => dir.join(sub).display().to_string(),
            };
            return Err(ConfigError::whole(
                shown,
                "no *.yaml rule files in this directory",
            ));
        }
        Ok(files)
    }

    /// The signal rules, compiled.
    pub fn classifier(&self) -> Result<Classifier, ConfigError> {
        Classifier::from_sources(&self.files(RuleKind::Signals)?)
    }

    /// The sequence rules, compiled.
    pub fn sequences(&self) -> Result<SequenceRules, ConfigError> {
        SequenceRules::from_sources(&self.files(RuleKind::Sequences)?)
    }
}

/// `*.yaml` and `*.yml` files of `dir` as (path, text), in name order.
fn read_dir(dir: &Path) -> Result<Vec<(String, String)>, ConfigError> {
    let shown = dir.display().to_string();
    let entries = std::fs::read_dir(dir)
        .map_err(|e| ConfigError::whole(&shown, format!("cannot read directory: {e}")))?;
    let mut paths = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| ConfigError::whole(&shown, format!("cannot list: {e}")))?
            .path();
        if path.extension().is_some_and(|x| x == "yaml" || x == "yml") && path.is_file() {
            paths.push(path);
        }
    }
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let name = path.display().to_string();
            match std::fs::read_to_string(&path) {
                Ok(text) => Ok((name, text)),
                Err(e) => Err(ConfigError::whole(name, format!("cannot read: {e}"))),
            }
        })
        .collect()
}

/// Rules and calendar, compiled: what a replay or the service runs with.
pub struct Loaded {
    pub classifier: Classifier,
    pub sequences: SequenceRules,
    pub calendar: ChangeCalendar,
}

/// Loads the rules and, when given, `changes.yaml` (else an empty calendar).
pub fn load(rules: &RuleSource, changes: Option<&Path>) -> Result<Loaded, ConfigError> {
    Ok(Loaded {
        classifier: rules.classifier()?,
        sequences: rules.sequences()?,
        calendar: match changes {
            Some(path) => ChangeCalendar::load(path)?,
            None => ChangeCalendar::empty(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_rules() -> RuleSource {
        RuleSource::Dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("rules"))
    }

    #[test]
    fn built_in_rules_are_the_shipped_directory() {
        for kind in [RuleKind::Signals, RuleKind::Sequences] {
            let built_in = RuleSource::Builtin.files(kind).expect("built-in rules");
            let on_disk = repo_rules().files(kind).expect("shipped rules");
            assert_eq!(built_in.len(), on_disk.len());
            for ((b_name, b_text), (d_name, d_text)) in built_in.iter().zip(&on_disk) {
                assert_eq!(b_text, d_text);
                let file = Path::new(d_name).file_name().unwrap().to_str().unwrap();
                assert_eq!(b_name, &format!("builtin:rules/{}/{file}", kind.dir_name()));
            }
        }
        let loaded = load(&RuleSource::Builtin, None).expect("built-in rules compile");
        assert!(loaded.classifier.rule_count() > 0);
        assert!(!loaded.sequences.sequences.is_empty());
    }

    #[test]
    fn a_missing_or_empty_rules_directory_says_so_without_a_position() {
        let dir = tempfile::tempdir().expect("temp dir");
        let err = RuleSource::Dir(dir.path().to_path_buf())
            .classifier()
            .err()
            .expect("no signals dir");
        let signals = dir.path().join("signals").display().to_string();
        assert_eq!(err.file, signals);
        assert!(
            err.to_string()
                .starts_with(&format!("{signals}: cannot read directory: ")),
            "{err}"
        );
        std::fs::create_dir(dir.path().join("signals")).expect("mkdir");
        std::fs::write(dir.path().join("signals/readme.txt"), "not yaml").expect("write");
        let err = RuleSource::Dir(dir.path().to_path_buf())
            .classifier()
            .err()
            .expect("no yaml files");
        assert_eq!(
            err.to_string(),
            format!("{signals}: no *.yaml rule files in this directory")
        );
    }

    #[test]
    fn an_error_in_a_built_in_file_names_it() {
        let mut files = RuleSource::Builtin.files(RuleKind::Signals).unwrap();
        files[0].1.push_str("\nbogus_key: 1\n");
        let err = Classifier::from_sources(&files).err().expect("unknown key");
        assert!(err.file.starts_with("builtin:rules/signals/"), "{err}");
        assert!(err.line > 0, "{err}");
    }
}
