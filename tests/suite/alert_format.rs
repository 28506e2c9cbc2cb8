//! Alert records as ECS documents (`replay --alert-format ecs`): every field checked against
//! the ECS reference (types, array fields, allowed values, required fields), the same alerts
//! as the native records, and both still scored perfectly by score.py. And what every native
//! record carries besides: `emitted_at`, the sender and the vendor.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::Path;

use serde_json::Value;

/// The ECS 9.4.0 fields the documents may use: (name, type, array-normalised). Copied from
/// elastic/ecs tag v9.4.0, `generated/csv/fields.csv` (columns Field, Type, Normalization).
const ECS_FIELDS: &[(&str, &str, bool)] = &[
    ("@timestamp", "date", false),
    ("message", "match_only_text", false),
    ("ecs.version", "keyword", false),
    ("event.kind", "keyword", false),
    ("event.category", "keyword", true),
    ("event.type", "keyword", true),
    ("event.severity", "long", false),
    ("event.risk_score", "float", false),
    ("event.risk_score_norm", "float", false),
    ("event.start", "date", false),
    ("event.end", "date", false),
    ("event.created", "date", false),
    ("event.id", "keyword", false),
    ("event.module", "keyword", false),
    ("event.dataset", "keyword", false),
    ("event.provider", "keyword", false),
    ("rule.id", "keyword", false),
    ("rule.name", "keyword", false),
    ("rule.description", "keyword", false),
    ("rule.ruleset", "keyword", false),
    ("threat.framework", "keyword", false),
    ("threat.tactic.id", "keyword", true),
    ("threat.tactic.name", "keyword", true),
    ("threat.tactic.reference", "keyword", true),
    ("threat.technique.id", "keyword", true),
    ("threat.technique.name", "keyword", true),
    ("threat.technique.reference", "keyword", true),
    ("threat.technique.subtechnique.id", "keyword", true),
    ("threat.technique.subtechnique.name", "keyword", true),
    ("threat.technique.subtechnique.reference", "keyword", true),
    ("host.name", "keyword", false),
    ("related.user", "keyword", true),
    ("related.ip", "ip", true),
    ("related.hosts", "keyword", true),
    ("file.name", "keyword", false),
];

/// ECS 9.4.0's allowed values of `event.category` and `event.type` (its categorisation pages).
const CATEGORIES: &[&str] = &[
    "api",
    "authentication",
    "configuration",
    "database",
    "driver",
    "email",
    "file",
    "host",
    "iam",
    "intrusion_detection",
    "library",
    "malware",
    "network",
    "package",
    "process",
    "registry",
    "session",
    "threat",
    "vulnerability",
    "web",
];
const TYPES: &[&str] = &[
    "access",
    "admin",
    "allowed",
    "change",
    "connection",
    "creation",
    "deletion",
    "denied",
    "device",
    "end",
    "error",
    "group",
    "indicator",
    "info",
    "installation",
    "protocol",
    "start",
    "user",
];

/// Every leaf of `v` below `prefix` (arrays are leaves: ECS fields hold arrays of values).
fn leaves(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let name = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaves(&name, child, out);
            }
        }
        other => out.push((prefix.to_string(), other.clone())),
    }
}

/// One value checked against its ECS type.
fn has_type(v: &Value, ty: &str) -> bool {
    match ty {
        "date" => v
            .as_str()
            .is_some_and(|s| imagewatch::parse_rfc3339(s).is_some()),
        "keyword" | "match_only_text" => v.as_str().is_some_and(|s| !s.is_empty()),
        "long" => v.as_i64().is_some(),
        "float" => v.as_f64().is_some(),
        "ip" => v.as_str().is_some_and(|s| s.parse::<IpAddr>().is_ok()),
        _ => false,
    }
}

/// Checks one document field by field; returns what is wrong with it.
fn ecs_problems(doc: &Value) -> Vec<String> {
    let mut bad = Vec::new();
    let mut fields = Vec::new();
    leaves("", doc, &mut fields);
    for (name, value) in &fields {
        if name.starts_with("imagewatch.") {
            continue;
        }
        let Some(&(_, ty, array)) = ECS_FIELDS.iter().find(|f| f.0 == name) else {
            bad.push(format!("{name}: not an ECS 9.4.0 field"));
            continue;
        };
        let ok = match value {
            Value::Array(items) => {
                array && !items.is_empty() && items.iter().all(|i| has_type(i, ty))
            }
            single => !array && has_type(single, ty),
        };
        if !ok {
            bad.push(format!(
                "{name}: {value} is not a {ty}{}",
                if array { " array" } else { "" }
            ));
        }
    }
    let get = |path: &str| path.split('.').try_fold(doc, |v, k| v.get(k));
    let required = [
        "@timestamp",
        "ecs.version",
        "message",
        "event.kind",
        "event.category",
        "event.type",
        "event.severity",
        "event.risk_score",
        "event.start",
        "event.end",
        "event.created",
        "event.id",
        "rule.id",
        "rule.name",
        "rule.description",
        "threat.framework",
        "threat.technique.id",
        "threat.technique.name",
        "threat.technique.reference",
        "host.name",
        "related.hosts",
        "imagewatch.alert_id",
        "imagewatch.revision",
        "imagewatch.reason",
        "imagewatch.evidence",
        "imagewatch.suppressed",
    ];
    for r in required {
        if get(r).is_none_or(Value::is_null) {
            bad.push(format!("{r}: missing"));
        }
    }
    if get("event.kind") != Some(&Value::from("alert")) {
        bad.push("event.kind is not alert".into());
    }
    if get("threat.framework") != Some(&Value::from("MITRE ATT&CK")) {
        bad.push("threat.framework is not MITRE ATT&CK".into());
    }
    if get("threat.technique.id") != Some(&serde_json::json!(["T1601"])) {
        bad.push("threat.technique.id is not [T1601]".into());
    }
    for (field, allowed) in [("event.category", CATEGORIES), ("event.type", TYPES)] {
        for v in get(field).and_then(Value::as_array).into_iter().flatten() {
            if !allowed.contains(&v.as_str().unwrap_or("")) {
                bad.push(format!("{field}: {v} is not an allowed value"));
            }
        }
    }
    if get("imagewatch.evidence")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty)
    {
        bad.push("imagewatch.evidence: empty".into());
    }
    bad
}

fn key(id: &Value, revision: &Value) -> (String, u64) {
    (id.as_str().unwrap().to_string(), revision.as_u64().unwrap())
}

/// An ECS document as score.py reads a native record: what it scores must be in the ECS form.
fn as_native_for_scoring(doc: &Value) -> Value {
    let iw = &doc["imagewatch"];
    serde_json::json!({
        "id": iw["alert_id"],
        "revision": iw["revision"],
        "device": doc["host"]["name"],
        "rule_id": doc["rule"]["id"],
        "severity": iw["severity"],
        "first_seen": doc["event"]["start"],
        "last_seen": doc["event"]["end"],
        "suppressed": iw["suppressed"],
        "suppressed_by": iw["suppressed_by"],
    })
}

fn write_lines(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

/// A generated corpus (every scenario class) replayed as ECS: every document passes the field
/// by field check against ECS 9.4.0; the ECS documents are exactly the native records' alerts
/// (id, revision, subtechnique); the native records score perfectly, and so do the ECS
/// documents read back into score.py's fields.
#[test]
fn ecs_replay_is_valid_ecs_and_scores_like_native() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    super::generate(
        dir,
        &[
            "--seed",
            "13",
            "--devices",
            "40",
            "--days",
            "3",
            "--noise-per-device-per-hour",
            "3",
            "--min-per-scenario",
            "2",
        ],
    );
    let input = dir.join("syslog.log");
    let native = super::replay(dir, &input, &[]);
    let ecs = super::replay(dir, &input, &["--alert-format", "ecs"]);
    assert!(
        native.len() > 10,
        "the corpus raises alerts: {}",
        native.len()
    );
    assert_eq!(native.len(), ecs.len());

    let native_path = dir.join("native.ndjson");
    write_lines(&native_path, &native);
    super::corpus::assert_perfect(&super::corpus::score(dir, &native_path), "native");

    let docs: Vec<Value> = ecs
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for doc in &docs {
        let bad = ecs_problems(doc);
        assert!(bad.is_empty(), "{bad:#?}\nin {doc:#}");
    }
    let natives: Vec<Value> = native
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let native_keys: BTreeSet<(String, u64)> = natives
        .iter()
        .map(|a| key(&a["id"], &a["revision"]))
        .collect();
    let ecs_keys: BTreeSet<(String, u64)> = docs
        .iter()
        .map(|d| key(&d["imagewatch"]["alert_id"], &d["imagewatch"]["revision"]))
        .collect();
    assert_eq!(ecs_keys, native_keys, "the same alerts and revisions");
    for (a, d) in natives.iter().zip(&docs) {
        assert_eq!(a["id"], d["imagewatch"]["alert_id"], "in the same order");
        assert_eq!(a["device"], d["host"]["name"]);
        assert_eq!(a["last_seen"], d["@timestamp"]);
        let sub = &d["threat"]["technique"]["subtechnique"]["id"];
        match a["mitre_subtechnique"].as_str() {
            Some(s) => assert_eq!(*sub, serde_json::json!([s])),
            None => assert!(sub.is_null()),
        }
    }
    assert!(
        natives
            .iter()
            .any(|a| a["mitre_subtechnique"] == "T1601.002"),
        "the corpus' downgrades name T1601.002"
    );

    let projected: Vec<String> = docs
        .iter()
        .map(|d| as_native_for_scoring(d).to_string())
        .collect();
    let ecs_path = dir.join("ecs-as-native.ndjson");
    write_lines(&ecs_path, &projected);
    super::corpus::assert_perfect(&super::corpus::score(dir, &ecs_path), "ecs");
}

/// Every native record carries `emitted_at` (RFC 3339), the vendor and the sender: the
/// collector prefix's address when the line had one, null for a bare syslog line. Ids and
/// revisions do not depend on it: two replays differ in `emitted_at` only.
#[test]
fn records_carry_emitted_at_sender_and_vendor() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("changes.yaml"), "{}\n").unwrap();
    // A swap on one Cisco device, behind an rsyslog-style prefix (`<arrival> <sender> <raw>`).
    let raw = super::service::swap(
        "rtr-9",
        "c2900-universalk9-mz.SPA.157-3.M9.bin",
        "203.0.113.45",
        "15.7(3)M9",
        "jdoe",
    );
    let arrivals = ["22:41:00", "22:48:00", "22:55:10", "23:00:59"];
    let prefixed: Vec<String> = raw
        .iter()
        .zip(arrivals)
        .map(|(l, at)| format!("2026-06-02T{at}.300Z 10.64.9.1 {l}"))
        .collect();
    for (lines, sender) in [(&prefixed, Some("10.64.9.1")), (&raw, None)] {
        let input = dir.join("in.log");
        write_lines(&input, lines);
        let first = super::replay(dir, &input, &[]);
        let again = super::replay(dir, &input, &[]);
        assert!(!first.is_empty(), "the swap alerts");
        for (a, b) in first.iter().zip(&again) {
            let mut a: Value = serde_json::from_str(a).unwrap();
            let mut b: Value = serde_json::from_str(b).unwrap();
            let stamp = a["emitted_at"].as_str().expect("emitted_at is set");
            assert!(imagewatch::parse_rfc3339(stamp).is_some(), "{stamp}");
            assert_eq!(a["sender"].as_str(), sender, "{a:#}");
            assert_eq!(a["vendor"], "cisco_ios", "{a:#}");
            a.as_object_mut().unwrap().remove("emitted_at");
            b.as_object_mut().unwrap().remove("emitted_at");
            assert_eq!(a, b, "only emitted_at differs between runs");
        }
    }
}
