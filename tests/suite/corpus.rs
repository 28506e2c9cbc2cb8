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
    score_labels(&dir.join("labels.jsonl"), alerts)
}

/// score.py over `labels` (a labels.jsonl, or a part of one).
fn score_labels(labels: &Path, alerts: &Path) -> Value {
    let out = Command::new("python3")
        .arg(super::shared().join("tools/corpus/score.py"))
        .arg("--labels")
        .arg(labels)
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

pub fn assert_perfect(s: &Value, what: &str) {
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
    add_firewalls(dir);
    let alerts = replay(dir, "syslog.log", &[]);
    assert_perfect(&score(dir, &alerts), "syslog");
    assert_firewalls_scored(dir, &alerts);

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

/// `tests/tools/vendors_extra.py`: three PAN-OS and three FortiGate firewalls, one instance each
/// (attack from an unknown server with no ticket, an authorised ticketed upgrade, a half-fit
/// ticket with another image), with their noise, inventory, tickets and labels.
fn add_firewalls(dir: &Path) {
    let out = Command::new("python3")
        .arg(super::root().join("tests/tools/vendors_extra.py"))
        .arg("--dir")
        .arg(dir)
        .args(["--seed", "11", "--per-vendor", "3", "--noise-per-hour", "4"])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "vendors_extra.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The firewalls' own instances, scored apart from the routers' (so a corpus in which they were
/// missing, or hidden among the others' perfect scores, fails): every vendor has an attack, an
/// authorised and a half-fit instance; both alert kinds are hit, the authorised ones are
/// suppressed citing their ticket.
fn assert_firewalls_scored(dir: &Path, alerts: &Path) {
    let labels = std::fs::read_to_string(dir.join("labels.jsonl")).unwrap();
    let mut part = String::new();
    let mut kinds = std::collections::BTreeSet::new();
    for line in labels.lines() {
        let l: Value = serde_json::from_str(line).unwrap();
        let vendor = l["vendor"].as_str().unwrap();
        if vendor == "paloalto_panos" || vendor == "fortinet_fortigate" {
            kinds.insert(format!("{vendor} {}", l["scenario"].as_str().unwrap()));
            part.push_str(line);
            part.push('\n');
        }
    }
    let want: std::collections::BTreeSet<String> = ["paloalto_panos", "fortinet_fortigate"]
        .iter()
        .flat_map(|v| ["M1", "B1", "M2"].map(|k| format!("{v} {k}")))
        .collect();
    assert_eq!(kinds, want, "firewall instances in labels.jsonl");
    let path = dir.join("labels-firewalls.jsonl");
    std::fs::write(&path, part).unwrap();
    let s = score_labels(&path, alerts);
    assert_eq!(s["malicious_total"], 4, "{s:#}");
    assert_eq!(s["malicious_hit"], 4, "firewalls: {s:#}");
    assert_eq!(s["suppressed_expected_total"], 2, "{s:#}");
    assert_eq!(s["suppressed_expected_correct"], 2, "firewalls: {s:#}");
    assert_eq!(s["suppression_audit_rate"], 1.0, "firewalls: {s:#}");
}
