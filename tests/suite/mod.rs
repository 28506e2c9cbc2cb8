//! Integration tests of imagewatch, by area.

mod alert_format;
mod api_errors;
mod api_tls;
mod calendar_in_force;
mod classify_external_corpus;
mod classify_generated_corpus;
mod classify_rules_examples;
mod cli;
mod config_errors;
mod console;
mod console_browser;
mod corpus;
mod coverage;
mod crash_loop;
mod deploy;
mod explain;
mod external;
#[cfg(feature = "kafka")]
mod kafka;
mod limits;
mod one_framing;
mod properties;
mod reorder;
mod replay_input;
mod scenarios;
mod security;
mod service;
mod service_interop;
mod sink_health;
mod split_replay;
mod syslog_tls;
mod variants;
mod webhook_siem;

use std::path::{Path, PathBuf};

/// The project's root (where `rules/` lives).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared` beside the project: the corpus tools and real device lines (read-only).
pub fn shared() -> PathBuf {
    root().join("../shared")
}

/// An HTTP client for tests (reqwest here has TLS without a built-in crypto provider: ring is
/// installed first).
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .expect("an HTTP client")
}

pub fn rules_dir() -> PathBuf {
    root().join("rules")
}

/// Runs `imagewatch replay` with the shipped rules, the corpus calendar in `dir` and `extra`
/// arguments over `input`; panics with its stderr unless it succeeds. Returns stdout lines.
pub fn replay(dir: &Path, input: &Path, extra: &[&str]) -> Vec<String> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_imagewatch"))
        .arg("replay")
        .arg("--rules")
        .arg(rules_dir())
        .arg("--changes")
        .arg(dir.join("changes.yaml"))
        .args(extra)
        .arg(input)
        .output()
        .expect("imagewatch runs");
    assert!(
        out.status.success(),
        "replay failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("alerts are UTF-8")
        .lines()
        .map(str::to_string)
        .collect()
}

/// Alert records as two runs over the same input must agree on them: without `emitted_at`,
/// the wall clock of the run that wrote them (ids and revisions do not depend on it).
pub fn without_emitted_at(lines: Vec<String>) -> Vec<String> {
    lines
        .iter()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).expect("an alert record");
            v.as_object_mut()
                .expect("an alert is an object")
                .remove("emitted_at")
                .expect("every record carries emitted_at");
            v.to_string()
        })
        .collect()
}

/// Runs gen.py into `out` with the given arguments; panics with its stderr on failure.
pub fn generate(out: &Path, args: &[&str]) {
    let gen_py = shared().join("tools/corpus/gen.py");
    let status = std::process::Command::new("python3")
        .arg(&gen_py)
        .arg("--out")
        .arg(out)
        .args(args)
        .output()
        .expect("python3 runs");
    assert!(
        status.status.success(),
        "gen.py failed: {}",
        String::from_utf8_lossy(&status.stderr)
    );
}
