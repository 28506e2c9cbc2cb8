//! Classify stage: signal rules turn a syslog message into a signal kind with fields.
//!
//! - [`signal`]: the output types.
//! - [`rules`]: the serde mirror of `rules/signals/*.yaml`.
//! - `compile`: rule files compiled into checked rules, with located errors.
//! - [`classifier`]: classifying messages (the rule files' semantics are documented there).
//! - [`examples`]: the rule files' example lines, checked through the whole classifier.
//! - `prefilter`: the literal automaton every input line goes through.

pub(crate) mod classifier;
mod compile;
pub(crate) mod examples;
mod prefilter;
pub(crate) mod rules;
pub(crate) mod signal;

pub use classifier::{Classifier, Focus};
pub use signal::{
    Classification, EventOrigin, RESUMED_BOOT_RULE, Signal, SignalFields, SignalKind,
};

/// Every line of every file under `../shared/corpus/external` (public device log lines), for
/// tests that hold the classifier's fast paths to its plain ones.
#[cfg(test)]
pub(crate) fn external_corpus_lines() -> Vec<Vec<u8>> {
    fn lines_under(dir: &std::path::Path, out: &mut Vec<Vec<u8>>) {
        for entry in std::fs::read_dir(dir).expect("../shared/corpus/external is readable") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                lines_under(&path, out);
            } else {
                let bytes = std::fs::read(&path).expect("corpus file is readable");
                out.extend(bytes.split(|&b| b == b'\n').map(<[u8]>::to_vec));
            }
        }
    }
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus/external");
    let mut lines = Vec::new();
    lines_under(std::path::Path::new(root), &mut lines);
    lines
}
