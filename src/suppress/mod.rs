//! Suppress stage: consults the change calendar. A finding whose evidence *all* fits one change
//! ticket or maintenance window is suppressed (and kept, with the ticket or window that covered
//! it); one that falls in a ticket's or window's time but outside its scope is escalated.

use serde::{Deserialize, Serialize};

use crate::calendar::{ChangeCalendar, ChangeTicket, MaintenanceWindow};
use crate::correlate::{Finding, Severity};
use crate::time::{Millis, format_rfc3339};

/// One evidence line as the SIEM sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertEvidence {
    pub time: String,
    pub kind: String,
    pub message: String,
    /// `device` (the device's own log) or `host` (a management host's telemetry).
    #[serde(default = "device_origin")]
    pub origin: String,
}

fn device_origin() -> String {
    "device".to_string()
}

/// A finding after the change calendar was consulted: the record sinks deliver.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub id: String,
    pub revision: u32,
    pub device: String,
    pub rule_id: String,
    pub title: String,
    pub severity: Severity,
    pub confidence: f64,
    pub suppressed: bool,
    pub suppressed_by: Option<String>,
    /// What happened, then why it was (not) suppressed or escalated.
    pub reason: String,
    pub first_seen: String,
    pub last_seen: String,
    pub evidence: Vec<AlertEvidence>,
    pub images: Vec<String>,
    pub servers: Vec<String>,
    pub users: Vec<String>,
    pub version_before: Option<String>,
    pub version_after: Option<String>,
    /// True when the device did not report `version_after` and it was read from the staged
    /// image's file name (the reason names the image).
    #[serde(default)]
    pub version_inferred: bool,
    /// The ticket or window whose time the work fell in but whose scope it broke.
    pub escalated_by: Option<String>,
    pub mitre_technique: String,
    /// The ATT&CK subtechnique the evidence shows, when it shows one: T1601.002 (Downgrade
    /// System Image) for a downgrade, T1601.001 (Patch System Image) for a failed image
    /// integrity check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mitre_subtechnique: Option<String>,
    /// What the sequence rule looks for (the rule file's description).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub rule_description: String,
    /// The device's vendor (inventory, boot report, or the rules that read its lines).
    #[serde(default)]
    pub vendor: Option<String>,
    /// The address the latest evidence line came from (syslog peer, collector prefix or ECS
    /// `log.source.address`); null when the input did not say, as in a replay of plain syslog.
    #[serde(default)]
    pub sender: Option<String>,
    /// When this record was produced (RFC 3339, wall clock). The one field that differs
    /// between two runs over the same input: ids and revisions do not.
    #[serde(default)]
    pub emitted_at: Option<String>,
}

/// The calendar's verdict on a finding.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub suppressed_by: Option<String>,
    pub escalated_by: Option<String>,
    pub severity: Severity,
    pub reason: String,
}

/// A change the calendar authorised: it becomes the device's baseline. The suppress stage only
/// says so; whoever drives the correlator applies it.
#[derive(Clone, Debug, PartialEq)]
pub struct AuthorisedBaseline {
    pub version: Option<String>,
    pub image: Option<String>,
    /// When the authorised work was last seen.
    pub at: Millis,
}

/// Everything the suppress stage decides about one finding.
#[derive(Clone, Debug, PartialEq)]
pub struct Judgement {
    /// The record to store and deliver.
    pub alert: Alert,
    /// Set when the finding was suppressed and says what the device now runs.
    pub authorised_baseline: Option<AuthorisedBaseline>,
}

/// Consults the calendar: the alert, and the baseline it authorised, if any.
pub fn decide(calendar: &ChangeCalendar, finding: &Finding) -> Judgement {
    let verdict = judge(calendar, finding);
    let f = &finding.facts;
    let authorised_baseline = (verdict.suppressed_by.is_some()
        && (f.version_after.is_some() || !f.images.is_empty()))
    .then(|| AuthorisedBaseline {
        version: f.version_after.clone(),
        image: f.images.last().cloned(),
        at: finding.last_seen,
    });
    Judgement {
        alert: alert(finding, verdict),
        authorised_baseline,
    }
}

/// Scope checks against one ticket or window; empty when everything fits.
fn mismatches(
    finding: &Finding,
    calendar: &ChangeCalendar,
    window: Option<(Millis, Millis)>,
    images: Option<&[String]>,
    versions: Option<&[String]>,
    users: Option<&[String]>,
    servers: Option<&[String]>,
) -> Vec<String> {
    let f = &finding.facts;
    let mut out = Vec::new();
    if let Some((start, end)) = window
        && (finding.first_seen < start || finding.last_seen > end)
    {
        out.push(format!(
            "work ran from {} to {}, outside {}–{}",
            format_rfc3339(finding.first_seen),
            format_rfc3339(finding.last_seen),
            format_rfc3339(start),
            format_rfc3339(end)
        ));
    }
    let listed = |list: &[String], v: &str| list.iter().any(|x| x.eq_ignore_ascii_case(v));
    if let Some(approved) = images {
        for image in &f.images {
            if !listed(approved, image) {
                out.push(format!(
                    "image {image} is not approved (approved: {})",
                    approved.join(", ")
                ));
            }
        }
    }
    if let Some(approved) = versions {
        let booted = f.version_after.iter().chain(f.versions.iter());
        for v in booted {
            if !approved
                .iter()
                .any(|a| crate::correlate::version::same(None, a, v))
            {
                out.push(format!(
                    "device booted {v}, approved: {}",
                    approved.join(", ")
                ));
                break;
            }
        }
    }
    if let Some(allowed) = users {
        for u in &f.users {
            if !listed(allowed, u) {
                out.push(format!(
                    "change made by {u}, allowed: {}",
                    allowed.join(", ")
                ));
            }
        }
    }
    match servers {
        Some(allowed) => {
            for s in &f.servers {
                if !listed(allowed, s) {
                    out.push(format!(
                        "image from {s}, allowed servers: {}",
                        allowed.join(", ")
                    ));
                }
            }
        }
        None if !calendar.allowlist.servers.is_empty() => {
            for s in &f.unlisted_servers {
                out.push(format!("image from {s}, which is not on the allowlist"));
            }
        }
        None => {}
    }
    out
}

fn ticket_mismatches(f: &Finding, cal: &ChangeCalendar, t: &ChangeTicket) -> Vec<String> {
    mismatches(
        f,
        cal,
        Some((t.start, t.end)),
        t.images.as_deref(),
        t.versions.as_deref(),
        t.users.as_deref(),
        t.servers.as_deref(),
    )
}

fn window_mismatches(f: &Finding, cal: &ChangeCalendar, w: &MaintenanceWindow) -> Vec<String> {
    let occurrence = w
        .occurrence_at(f.first_seen)
        .or_else(|| w.occurrence_at(f.last_seen));
    let mut out = match occurrence {
        Some(o) => mismatches(
            f,
            cal,
            Some(o),
            None,
            None,
            w.users.as_deref(),
            w.servers.as_deref(),
        ),
        None => vec!["work ran outside every occurrence of the window".to_string()],
    };
    out.dedup();
    out
}

/// Decides whether the calendar covers a finding.
pub fn judge(calendar: &ChangeCalendar, finding: &Finding) -> Verdict {
    let summary = finding.summary.clone();
    if finding.never_suppress {
        return Verdict {
            suppressed_by: None,
            escalated_by: None,
            severity: finding.severity,
            reason: format!(
                "{summary} {}",
                if finding.rule_id == crate::correlate::EVIDENCE_DROPPED_RULE {
                    "Dropped evidence is never suppressed."
                } else {
                    "Integrity failures are never suppressed."
                }
            ),
        };
    }
    let device = finding.device.as_str();
    // (id, mismatches) of every ticket or window whose time the work touches.
    let mut candidates: Vec<(String, &'static str, Vec<String>)> = Vec::new();
    for t in calendar.tickets_overlapping(device, finding.first_seen, finding.last_seen) {
        candidates.push((
            t.id.clone(),
            "change ticket",
            ticket_mismatches(finding, calendar, t),
        ));
    }
    for w in calendar.windows_for(device) {
        if w.overlaps(finding.first_seen, finding.last_seen) {
            candidates.push((
                w.id.clone(),
                "maintenance window",
                window_mismatches(finding, calendar, w),
            ));
        }
    }
    if let Some((id, what, _)) = candidates.iter().find(|c| c.2.is_empty()) {
        return Verdict {
            suppressed_by: Some(id.clone()),
            escalated_by: None,
            severity: finding.severity,
            reason: format!(
                "{summary} Covered by {what} {id}: device, time{} are within its scope.",
                scope_words(finding)
            ),
        };
    }
    if let Some((id, what, why)) = candidates.iter().min_by_key(|c| c.2.len()) {
        return Verdict {
            suppressed_by: None,
            escalated_by: Some(id.clone()),
            severity: finding.severity.max(Severity::High),
            reason: format!(
                "{summary} In the time of {what} {id} but outside its scope: {}.",
                why.join("; ")
            ),
        };
    }
    Verdict {
        suppressed_by: None,
        escalated_by: None,
        severity: finding.severity,
        reason: format!("{summary} No change ticket or maintenance window covers this work."),
    }
}

fn scope_words(f: &Finding) -> String {
    let mut w = String::new();
    if !f.facts.images.is_empty() {
        w.push_str(", image");
    }
    if f.facts.version_after.is_some() {
        w.push_str(", version");
    }
    if !f.facts.users.is_empty() {
        w.push_str(", user");
    }
    if !f.facts.servers.is_empty() {
        w.push_str(", server");
    }
    w
}

/// Builds the delivered record from a finding and its verdict.
pub fn alert(finding: &Finding, verdict: Verdict) -> Alert {
    Alert {
        id: finding.id.clone(),
        revision: finding.revision,
        device: finding.device.clone(),
        rule_id: finding.rule_id.clone(),
        title: finding.title.clone(),
        severity: verdict.severity,
        confidence: finding.confidence,
        suppressed: verdict.suppressed_by.is_some(),
        suppressed_by: verdict.suppressed_by,
        reason: verdict.reason,
        first_seen: format_rfc3339(finding.first_seen),
        last_seen: format_rfc3339(finding.last_seen),
        evidence: finding
            .evidence
            .iter()
            .map(|e| AlertEvidence {
                time: format_rfc3339(e.time),
                kind: e.kind.as_str().to_string(),
                message: e.message.clone(),
                origin: e.origin.as_str().to_string(),
            })
            .collect(),
        images: finding.facts.images.clone(),
        servers: finding.facts.servers.clone(),
        users: finding.facts.users.clone(),
        version_before: finding.facts.version_before.clone(),
        version_after: finding.facts.version_after.clone(),
        version_inferred: finding.facts.version_inferred_from.is_some(),
        escalated_by: verdict.escalated_by,
        mitre_technique: "T1601".to_string(),
        mitre_subtechnique: subtechnique(finding),
        rule_description: finding.rule_description.clone(),
        vendor: finding.vendor.clone(),
        sender: finding.sender.clone(),
        emitted_at: None,
    }
}

/// The T1601 subtechnique a finding's evidence fits, if any: a downgrade is T1601.002; a failed
/// image integrity check is the sign of a patched image, T1601.001. A plain replacement (even
/// by the same version) says nothing about which.
fn subtechnique(finding: &Finding) -> Option<String> {
    if finding.facts.downgrade {
        Some("T1601.002".to_string())
    } else if finding
        .evidence
        .iter()
        .any(|e| e.kind == crate::classify::SignalKind::IntegrityFailure)
    {
        Some("T1601.001".to_string())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::SignalKind;
    use crate::correlate::finding::{Evidence, Facts};
    use crate::time::parse_rfc3339;

    const CAL: &str = r#"
maintenance_windows:
  - {id: MW-sun, devices: ["core-*"], cron: "0 2 * * SUN", duration: 4h, timezone: UTC, users: [svc-ansible], servers: [10.20.0.10]}
change_tickets:
  - {id: CHG1, devices: ["rtr-*"], start: 2026-06-02T00:00:00Z, end: 2026-06-02T04:00:00Z,
     images: [new.bin], versions: ["15.7(3)M9"], users: [jsmith], servers: [10.10.0.5]}
allowlist: {servers: [10.10.0.5, 10.20.0.10]}
"#;

    fn finding(device: &str, from: &str, to: &str, f: Facts) -> Finding {
        let t0 = parse_rfc3339(from).unwrap();
        Finding {
            id: "id".into(),
            revision: 1,
            device: device.into(),
            rule_id: "t1601.image_replaced".into(),
            title: "t".into(),
            rule_description: String::new(),
            vendor: None,
            sender: None,
            severity: Severity::High,
            confidence: 0.9,
            first_seen: t0,
            last_seen: parse_rfc3339(to).unwrap(),
            evidence: vec![Evidence {
                time: t0,
                received: None,
                kind: SignalKind::Transfer,
                rule_id: "r".into(),
                vendor: String::new(),
                sender: None,
                fields: Default::default(),
                message: "m".into(),
                origin: Default::default(),
            }],
            facts: f,
            summary: "S.".into(),
            never_suppress: false,
        }
    }

    fn facts(image: &str, version: &str, user: &str, server: &str, unlisted: bool) -> Facts {
        Facts {
            images: vec![image.into()],
            versions: vec![version.into()],
            version_after: Some(version.into()),
            users: vec![user.into()],
            servers: vec![server.into()],
            unlisted_servers: if unlisted {
                vec![server.into()]
            } else {
                vec![]
            },
            ..Default::default()
        }
    }

    fn cal() -> ChangeCalendar {
        ChangeCalendar::from_yaml(CAL, "t.yaml").unwrap()
    }

    #[test]
    fn a_ticket_that_fits_everything_suppresses() {
        let f = finding(
            "rtr-1",
            "2026-06-02T01:00:00Z",
            "2026-06-02T02:00:00Z",
            facts("NEW.bin", "15.7(3)M9", "jsmith", "10.10.0.5", false),
        );
        let v = judge(&cal(), &f);
        assert_eq!(v.suppressed_by.as_deref(), Some("CHG1"));
        assert!(
            v.reason.contains("Covered by change ticket CHG1"),
            "{}",
            v.reason
        );
    }

    #[test]
    fn half_fits_are_escalated_with_the_mismatch() {
        let cases = [
            (
                facts("other.bin", "15.7(3)M9", "jsmith", "10.10.0.5", false),
                "image other.bin is not approved",
            ),
            (
                facts("new.bin", "15.6(3)M9", "jsmith", "10.10.0.5", false),
                "device booted 15.6(3)M9",
            ),
            (
                facts("new.bin", "15.7(3)M9", "mallory", "10.10.0.5", false),
                "change made by mallory",
            ),
            (
                facts("new.bin", "15.7(3)M9", "jsmith", "10.66.3.8", true),
                "image from 10.66.3.8",
            ),
        ];
        for (f, needle) in cases {
            let f = finding("rtr-1", "2026-06-02T01:00:00Z", "2026-06-02T02:00:00Z", f);
            let v = judge(&cal(), &f);
            assert_eq!(v.suppressed_by, None, "{needle}");
            assert_eq!(v.escalated_by.as_deref(), Some("CHG1"));
            assert!(v.reason.contains(needle), "{needle}: {}", v.reason);
        }
        // Work that runs past the ticket's end is not covered either.
        let f = finding(
            "rtr-1",
            "2026-06-02T03:00:00Z",
            "2026-06-02T05:00:00Z",
            facts("new.bin", "15.7(3)M9", "jsmith", "10.10.0.5", false),
        );
        let v = judge(&cal(), &f);
        assert!(
            v.suppressed_by.is_none() && v.reason.contains("outside"),
            "{}",
            v.reason
        );
    }

    #[test]
    fn windows_cover_their_occurrences_and_scope() {
        let ok = facts("x.bin", "1", "svc-ansible", "10.20.0.10", false);
        let f = finding(
            "core-1",
            "2026-06-07T02:10:00Z",
            "2026-06-07T03:00:00Z",
            ok.clone(),
        );
        assert_eq!(judge(&cal(), &f).suppressed_by.as_deref(), Some("MW-sun"));
        let f = finding(
            "core-1",
            "2026-06-07T05:10:00Z",
            "2026-06-07T06:30:00Z",
            ok.clone(),
        );
        assert_eq!(
            judge(&cal(), &f).escalated_by.as_deref(),
            Some("MW-sun"),
            "runs past the occurrence"
        );
        let f = finding("core-1", "2026-06-08T02:10:00Z", "2026-06-08T03:00:00Z", ok);
        let v = judge(&cal(), &f);
        assert!(
            v.suppressed_by.is_none() && v.escalated_by.is_none(),
            "Monday: no window"
        );
        assert!(v.reason.contains("No change ticket"));
    }

    #[test]
    fn a_suppressed_change_authorises_what_it_booted_and_nothing_else_does() {
        let fits = facts("new.bin", "15.7(3)M9", "jsmith", "10.10.0.5", false);
        let f = finding(
            "rtr-1",
            "2026-06-02T01:00:00Z",
            "2026-06-02T02:00:00Z",
            fits.clone(),
        );
        let j = decide(&cal(), &f);
        assert!(j.alert.suppressed);
        assert_eq!(
            j.authorised_baseline,
            Some(AuthorisedBaseline {
                version: Some("15.7(3)M9".into()),
                image: Some("new.bin".into()),
                at: parse_rfc3339("2026-06-02T02:00:00Z").unwrap(),
            })
        );
        // Escalated (wrong image): the device's baseline stays what it was.
        let mut wrong = fits.clone();
        wrong.images = vec!["other.bin".into()];
        let f = finding(
            "rtr-1",
            "2026-06-02T01:00:00Z",
            "2026-06-02T02:00:00Z",
            wrong,
        );
        let j = decide(&cal(), &f);
        assert_eq!(j.alert.escalated_by.as_deref(), Some("CHG1"));
        assert_eq!(j.authorised_baseline, None);
        // Suppressed, but nothing said what the device runs: nothing to authorise.
        let bare = Facts {
            users: vec!["jsmith".into()],
            ..Default::default()
        };
        let f = finding(
            "rtr-1",
            "2026-06-02T01:00:00Z",
            "2026-06-02T02:00:00Z",
            bare,
        );
        let j = decide(&cal(), &f);
        assert!(j.alert.suppressed);
        assert_eq!(j.authorised_baseline, None);
    }

    #[test]
    fn integrity_failures_are_never_suppressed() {
        let mut f = finding(
            "rtr-1",
            "2026-06-02T01:00:00Z",
            "2026-06-02T01:00:00Z",
            facts("new.bin", "15.7(3)M9", "jsmith", "10.10.0.5", false),
        );
        f.never_suppress = true;
        let v = judge(&cal(), &f);
        assert!(v.suppressed_by.is_none() && v.reason.contains("never suppressed"));
    }
}
