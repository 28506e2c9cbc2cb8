//! How an alert record is written for its reader: the native record, or an Elastic Common
//! Schema document that Elastic (and other ECS-aware SIEMs) index as they are. Every sink (the
//! NDJSON file, the webhook, replay's stdout, Kafka) writes what [`render`] returns.
//!
//! The ECS field names, types and array normalisation follow ECS **9.4.0** (elastic/ecs, tag
//! `v9.4.0`, `generated/csv/fields.csv`); the allowed values of `event.kind`,
//! `event.category` and `event.type` follow its categorisation pages. Everything ECS has no
//! field for (evidence, suppression, ticket, revision) sits under `imagewatch.*`.

use std::net::IpAddr;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::correlate::Severity;
use crate::suppress::Alert;

/// The ECS version the documents declare in `ecs.version`.
pub const ECS_VERSION: &str = "9.4.0";

/// What an alert record looks like on the wire.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum AlertFormat {
    /// imagewatch's own record (the API's shape): `id`, `revision`, `device`, `reason`, ….
    #[default]
    Native,
    /// An ECS document: `@timestamp`, `event.*`, `rule.*`, `threat.*`, `host.name`,
    /// `related.*`, `file.name`, and `imagewatch.*` for the rest.
    Ecs,
}

/// The record for `alert` in `format`.
pub fn render(alert: &Alert, format: AlertFormat) -> Value {
    match format {
        AlertFormat::Native => serde_json::to_value(alert).expect("alerts always serialise"),
        AlertFormat::Ecs => ecs(alert),
    }
}

/// [`render`] as the bytes of one JSON text (no newline).
pub fn render_bytes(alert: &Alert, format: AlertFormat) -> Vec<u8> {
    match format {
        AlertFormat::Native => serde_json::to_vec(alert).expect("alerts always serialise"),
        AlertFormat::Ecs => {
            serde_json::to_vec(&render(alert, format)).expect("JSON values serialise")
        }
    }
}

/// The (id, revision) of a rendered record in either format: what a sink compares to
/// recognise a record it already holds.
pub fn record_key(record: &Value) -> Option<(String, u64)> {
    let (id, revision) = match record.get("imagewatch") {
        Some(iw) => (iw.get("alert_id")?, iw.get("revision")?),
        None => (record.get("id")?, record.get("revision")?),
    };
    Some((id.as_str()?.to_string(), revision.as_u64()?))
}

/// ATT&CK's name and page for the technique and the subtechniques an alert can name.
fn technique(id: &str) -> (&'static str, &'static str) {
    match id {
        "T1601.001" => (
            "Patch System Image",
            "https://attack.mitre.org/techniques/T1601/001/",
        ),
        "T1601.002" => (
            "Downgrade System Image",
            "https://attack.mitre.org/techniques/T1601/002/",
        ),
        _ => (
            "Modify System Image",
            "https://attack.mitre.org/techniques/T1601/",
        ),
    }
}

/// `event.severity` (ECS: a long, "according to your event source"): 1 (info) to 5
/// (critical), so that a range query (`event.severity >= 3`) means "medium and above".
fn severity_number(s: Severity) -> i64 {
    match s {
        Severity::Info => 1,
        Severity::Low => 2,
        Severity::Medium => 3,
        Severity::High => 4,
        Severity::Critical => 5,
    }
}

/// `event.risk_score` (ECS: a float, the source's own scale) on 0–100, inside the band Elastic
/// Security gives the severity (its rules API: 0–21 low, 22–47 medium, 48–73 high, 74–100
/// critical) and placed in it by the finding's confidence: a rule's "risk score override" on
/// this field then gives the alert its severity.
fn risk_score(s: Severity, confidence: f64) -> f64 {
    let (low, high) = match s {
        Severity::Info => (0.0, 10.0),
        Severity::Low => (11.0, 21.0),
        Severity::Medium => (22.0, 47.0),
        Severity::High => (48.0, 73.0),
        Severity::Critical => (74.0, 100.0),
    };
    let score = low + (high - low) * confidence.clamp(0.0, 1.0);
    (score * 10.0).round() / 10.0
}

fn ecs(a: &Alert) -> Value {
    // `@timestamp` is when the work was last seen (event time), not when the record was made:
    // a backtest over old logs puts its alerts where the work happened, and a revision of an
    // alert lands next to the evidence that raised it. `event.created` holds the wall clock.
    let mut event = json!({
        "kind": "alert",
        // An image swap is a change to the device's configuration (what it boots) reported by
        // a detection: both categories are ECS allowed values, and `info` is an expected
        // event type of both.
        "category": ["intrusion_detection", "configuration"],
        "type": ["info"],
        "severity": severity_number(a.severity),
        "risk_score": risk_score(a.severity, a.confidence),
        "risk_score_norm": risk_score(a.severity, a.confidence),
        "start": a.first_seen,
        "end": a.last_seen,
        // One document per revision: the id a receiver deduplicates on is both.
        "id": format!("{}:{}", a.id, a.revision),
        "module": "imagewatch",
        "dataset": "imagewatch.alert",
        "provider": "imagewatch",
    });
    if let Some(created) = &a.emitted_at {
        event["created"] = json!(created);
    }

    let (name, reference) = technique(&a.mitre_technique);
    let mut technique_obj = json!({
        "id": [a.mitre_technique],
        "name": [name],
        "reference": [reference],
    });
    if let Some(sub) = &a.mitre_subtechnique {
        let (sub_name, sub_ref) = technique(sub);
        technique_obj["subtechnique"] = json!({
            "id": [sub],
            "name": [sub_name],
            "reference": [sub_ref],
        });
    }

    let mut related_ip: Vec<String> = Vec::new();
    let mut related_hosts: Vec<String> = vec![a.device.clone()];
    for addr in a.sender.iter().chain(a.servers.iter()) {
        // `related.ip` is of type ip: a name that is not an address goes to `related.hosts`.
        let list = if addr.parse::<IpAddr>().is_ok() {
            &mut related_ip
        } else {
            &mut related_hosts
        };
        if !list.contains(addr) {
            list.push(addr.clone());
        }
    }
    let mut related = Map::new();
    related.insert("hosts".into(), json!(related_hosts));
    if !related_ip.is_empty() {
        related.insert("ip".into(), json!(related_ip));
    }
    if !a.users.is_empty() {
        related.insert("user".into(), json!(a.users));
    }

    let mut doc = json!({
        "@timestamp": a.last_seen,
        "message": a.reason,
        "ecs": { "version": ECS_VERSION },
        "event": event,
        "rule": {
            "id": a.rule_id,
            "name": a.title,
            "description": a.rule_description,
            "ruleset": "imagewatch",
        },
        "threat": {
            "framework": "MITRE ATT&CK",
            // ATT&CK lists T1601 under Defense Evasion (TA0005).
            "tactic": {
                "id": ["TA0005"],
                "name": ["Defense Evasion"],
                "reference": ["https://attack.mitre.org/tactics/TA0005/"],
            },
            "technique": technique_obj,
        },
        "host": { "name": a.device },
        "related": related,
        "imagewatch": {
            "alert_id": a.id,
            "revision": a.revision,
            "severity": a.severity.as_str(),
            "confidence": a.confidence,
            "suppressed": a.suppressed,
            "suppressed_by": a.suppressed_by,
            "escalated_by": a.escalated_by,
            // The ticket or window the alert was judged against: the one that covered it, or
            // the one whose time it fell in but whose scope it broke.
            "ticket": a.suppressed_by.as_ref().or(a.escalated_by.as_ref()),
            "reason": a.reason,
            "first_seen": a.first_seen,
            "last_seen": a.last_seen,
            "images": a.images,
            "servers": a.servers,
            "version_before": a.version_before,
            "version_after": a.version_after,
            "version_inferred": a.version_inferred,
            "vendor": a.vendor,
            "sender": a.sender,
            "emitted_at": a.emitted_at,
            "evidence": a.evidence,
        },
    });
    if let Some(image) = a.images.last() {
        // The image booted or staged last: the one the alert is about. All of them are in
        // `imagewatch.images`.
        doc["file"] = json!({ "name": image });
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suppress::AlertEvidence;

    fn alert() -> Alert {
        Alert {
            id: "a1".into(),
            revision: 2,
            device: "edge-1".into(),
            rule_id: "t1601.image_replaced".into(),
            title: "Network device OS image replaced and booted".into(),
            severity: Severity::Critical,
            confidence: 0.95,
            suppressed: false,
            suppressed_by: None,
            reason: "Swapped.".into(),
            first_seen: "2026-06-02T01:00:00.000Z".into(),
            last_seen: "2026-06-02T01:20:00.000Z".into(),
            evidence: vec![AlertEvidence {
                time: "2026-06-02T01:00:00.000Z".into(),
                kind: "transfer".into(),
                message: "copy".into(),
                origin: "device".into(),
            }],
            images: vec!["old.bin".into(), "new.bin".into()],
            servers: vec!["10.9.9.9".into(), "files.example".into()],
            users: vec!["jdoe".into()],
            version_before: Some("15.1".into()),
            version_after: Some("15.0".into()),
            version_inferred: false,
            escalated_by: Some("CHG7".into()),
            mitre_technique: "T1601".into(),
            mitre_subtechnique: Some("T1601.002".into()),
            rule_description: "What the rule looks for.".into(),
            vendor: Some("cisco_ios".into()),
            sender: Some("10.1.1.1".into()),
            emitted_at: Some("2026-06-02T01:20:01.000Z".into()),
        }
    }

    #[test]
    fn ecs_document_maps_the_alert() {
        let d = render(&alert(), AlertFormat::Ecs);
        assert_eq!(d["@timestamp"], "2026-06-02T01:20:00.000Z");
        assert_eq!(d["event"]["kind"], "alert");
        assert_eq!(d["event"]["severity"], 5);
        assert_eq!(d["event"]["risk_score"], 98.7);
        assert_eq!(d["event"]["created"], "2026-06-02T01:20:01.000Z");
        assert_eq!(d["threat"]["technique"]["id"], json!(["T1601"]));
        assert_eq!(
            d["threat"]["technique"]["subtechnique"]["name"],
            json!(["Downgrade System Image"])
        );
        assert_eq!(d["related"]["ip"], json!(["10.1.1.1", "10.9.9.9"]));
        assert_eq!(d["related"]["hosts"], json!(["edge-1", "files.example"]));
        assert_eq!(d["file"]["name"], "new.bin");
        assert_eq!(d["imagewatch"]["ticket"], "CHG7");
        assert_eq!(record_key(&d), Some(("a1".to_string(), 2)));
        let n = render(&alert(), AlertFormat::Native);
        assert_eq!(record_key(&n), Some(("a1".to_string(), 2)));
        assert_eq!(
            serde_json::from_slice::<Value>(&render_bytes(&alert(), AlertFormat::Ecs)).unwrap(),
            d
        );
    }
}
