//! The labeled corpus: gen.py writes syslog, labels and a change calendar; `imagewatch replay`
//! turns the syslog into alerts; score.py scores them against the labels.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// Replays `input` with the corpus calendar; returns the alerts file path.
pub fn replay(dir: &Path, input: &str, extra: &[&str]) -> std::path::PathBuf {
    let alerts = dir.join(format!("{input}.alerts.ndjson"));
    let lines = super::replay(dir, &dir.join(input), extra);
    std::fs::write(&alerts, lines.join("\n") + "\n").unwrap();
    alerts
}

pub fn score(dir: &Path, alerts: &Path) -> Value {
    let out = Command::new("python3")
        .arg(super::shared().join("tools/corpus/score.py"))
        .arg("--labels")
        .arg(dir.join("labels.jsonl"))
        .arg("--alerts")
        .arg(alerts)
        .arg("--json")
        .output()
        .expect("score.py runs");
    assert!(
        out.status.success(),
        "score.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("score.py prints JSON")
}

fn assert_perfect(s: &Value, what: &str) {
    assert_eq!(s["recall"], 1.0, "{what}: recall: {s:#}");
    assert!(
        s["precision"].as_f64().unwrap() >= 0.99,
        "{what}: precision: {s:#}"
    );
    assert_eq!(
        s["false_positive_instances"], 0,
        "{what}: false positives: {s:#}"
    );
    assert_eq!(s["suppression_audit_rate"], 1.0, "{what}: audit: {s:#}");
    assert_eq!(s["alerts_unparsable"], 0, "{what}: {s:#}");
}

/// Every scenario class of the corpus README, scored: all malicious instances alerted, no
/// benign instance alerted, every suppressed instance audited with its ticket or window.
#[test]
fn generated_corpus_scores_perfectly_in_both_formats() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    super::generate(
        dir,
        &[
            "--seed",
            "11",
            "--devices",
            "80",
            "--days",
            "5",
            "--noise-per-device-per-hour",
            "6",
            "--min-per-scenario",
            "3",
        ],
    );
    let alerts = replay(dir, "syslog.log", &[]);
    assert_perfect(&score(dir, &alerts), "syslog");

    let nd = tmp.path().join("nd");
    std::fs::create_dir_all(&nd).unwrap();
    super::generate(
        &nd,
        &[
            "--seed",
            "11",
            "--devices",
            "80",
            "--days",
            "5",
            "--noise-per-device-per-hour",
            "6",
            "--min-per-scenario",
            "3",
            "--format",
            "ndjson",
        ],
    );
    let alerts = replay(&nd, "syslog.ndjson", &["--format", "ndjson"]);
    assert_perfect(&score(&nd, &alerts), "ndjson");
}
