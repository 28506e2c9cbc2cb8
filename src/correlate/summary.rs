//! What a device machine reports: the finding a sequence instance stands for (facts,
//! confidence, severity) and its one-sentence summary, worded from the rule's steps so that a
//! renamed or added step speaks for itself. Which instance reports when is the machine's.

use crate::calendar::Allowlist;
use crate::classify::{RESUMED_BOOT_RULE, SignalKind};
use crate::correlate::access::AccessBook;
use crate::correlate::finding::{Facts, Finding, origin_of};
use crate::correlate::machine::{Context, EVIDENCE_DROPPED_RULE, Flood, Instance};
use crate::correlate::sequence::{Condition, JoinField, Sequence, Severity, TimeoutFinding};
use crate::correlate::version;
use crate::parse::trust::CLOCK_TOLERANCE;
use crate::time::Millis;

fn push_unique(list: &mut Vec<String>, value: &Option<String>) {
    if let Some(v) = value
        && !v.is_empty()
        && !list.iter().any(|x| x.eq_ignore_ascii_case(v))
    {
        list.push(v.clone());
    }
}

/// What the device machine knows besides the instance that a finding may need.
#[derive(Clone, Copy, Default)]
pub(crate) struct DeviceFacts<'a> {
    /// Privileged access to the device (new sources, new accounts).
    pub access: Option<&'a AccessBook>,
    /// The image file the device runs (the inventory's `baseline_image`) and since when
    /// (None: always): a file written before that is not the running one being overwritten,
    /// it is what became the running one.
    pub running_image: Option<(&'a str, Option<Millis>)>,
}

/// The finding a sequence instance stands for: its facts, confidence and severity, and the
/// summary. The revision is left to the caller, which knows what was reported before.
pub(crate) fn finding(
    device: &str,
    rule: &Sequence,
    inst: &Instance,
    allowlist: &Allowlist,
    dev: DeviceFacts<'_>,
) -> Finding {
    let mut facts = Facts::default();
    for (j, t) in inst.step_times.iter().enumerate() {
        if t.is_some() {
            facts.steps.push(rule.steps[j].name.clone());
        }
    }
    for e in &inst.evidence {
        push_unique(&mut facts.images, &e.fields.image);
        push_unique(&mut facts.servers, &e.fields.server);
        push_unique(&mut facts.users, &e.fields.user);
        if matches!(e.kind, SignalKind::Boot | SignalKind::Version) {
            push_unique(&mut facts.versions, &e.fields.version);
        }
    }
    facts.unlisted_servers = facts
        .servers
        .iter()
        .filter(|s| !allowlist.permits(s))
        .cloned()
        .collect();
    facts.version_before = inst.version_before.clone();
    facts.version_after = inst.version_after.clone();
    facts.version_inferred_from = inst.version_inferred_from.clone();
    if let (Some(b), Some(a)) = (&facts.version_before, &facts.version_after) {
        facts.version_changed = !version::same(None, b, a);
        facts.downgrade =
            facts.version_changed && version::compare(None, a, b) == Some(std::cmp::Ordering::Less);
    }

    let matched = facts.steps.len().max(1);
    let mut joins = 0;
    for f in &rule.same {
        let n = inst
            .evidence
            .iter()
            .filter(|e| match f {
                JoinField::Image => e.fields.image.is_some(),
                JoinField::Server => e.fields.server.is_some(),
            })
            .map(|e| e.kind)
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        if n >= 2 {
            joins += 1;
        }
    }
    let confidence = (rule.confidence
        + rule.confidence_per_step * (matched - 1) as f64
        + rule.confidence_per_join * joins as f64)
        .min(0.99);
    let confidence = (confidence * 100.0).round() / 100.0;

    // An image written over the file the device runs: a transfer whose file is the running one.
    facts.overwrites_running_image = dev.running_image.is_some_and(|(running, since)| {
        inst.evidence.iter().any(|e| {
            e.kind == SignalKind::Transfer
                && since.is_none_or(|s| s < e.time)
                && e.fields
                    .image
                    .as_deref()
                    .is_some_and(|i| i.eq_ignore_ascii_case(running))
        })
    });
    let mut severity = rule.severity;
    let mut access_lines = Vec::new();
    for e in &rule.escalate {
        let holds = match e.condition {
            Condition::VersionChanged => facts.version_changed,
            Condition::Downgrade => facts.downgrade,
            Condition::ServerNotAllowlisted => !facts.unlisted_servers.is_empty(),
            Condition::OverwritesRunningImage => facts.overwrites_running_image,
            // A condition on the signal that starts a step, not on an instance.
            Condition::ViaWebOrApi => false,
            Condition::NewPrivilegedAccess => {
                let fresh = dev
                    .access
                    .map(|a| a.fresh_before(inst.first, inst.last, e.within))
                    .unwrap_or_default();
                for a in &fresh {
                    let words = a.describe();
                    if !facts.new_access.contains(&words) {
                        facts.new_access.push(words);
                        access_lines.push(a.evidence.clone());
                    }
                }
                !fresh.is_empty()
            }
        };
        if holds {
            severity = severity.max(e.severity);
        }
    }
    let mut evidence = inst.evidence.clone();
    for line in access_lines {
        if !evidence
            .iter()
            .any(|e| e.time == line.time && e.message == line.message)
        {
            let pos = evidence.partition_point(|e| e.time <= line.time);
            evidence.insert(pos, line);
        }
    }
    let (vendor, sender) = origin_of(&inst.evidence);
    Finding {
        id: inst.id.clone(),
        revision: 0,
        device: device.to_string(),
        rule_id: rule.id.clone(),
        title: rule.title.clone(),
        rule_description: rule.description.trim().to_string(),
        vendor,
        sender,
        severity,
        confidence,
        first_seen: inst.first,
        // The last moment anything of it was seen: a device clock a little behind the
        // collector must not end the finding before its last line arrived. A line a relay
        // delivered late (its device clock kept, far behind arrival) says nothing of when the
        // work ended: its arrival is not counted.
        last_seen: inst
            .evidence
            .iter()
            .filter_map(|e| e.received.filter(|&r| r - e.time <= CLOCK_TOLERANCE))
            .fold(inst.last, Millis::max),
        evidence,
        summary: summarise(device, rule, &inst.step_times, &facts, resumed_boot(inst)),
        facts,
        never_suppress: rule.never_suppress,
    }
}

/// True when the instance's boot is a reloaded device's return (its first line after a
/// silence) rather than a line that says so: the analyst must know the boot was inferred.
fn resumed_boot(inst: &Instance) -> bool {
    inst.evidence.iter().any(|e| e.rule_id == RESUMED_BOOT_RULE)
}

/// The finding of an instance that stopped half-way: the rule's timeout finding, its summary
/// saying how long nothing followed.
pub(crate) fn timed_out(
    device: &str,
    rule: &Sequence,
    inst: &Instance,
    allowlist: &Allowlist,
    timeout: &TimeoutFinding,
    waited: Millis,
    dev: DeviceFacts<'_>,
) -> Finding {
    let mut f = finding(device, rule, inst, allowlist, dev);
    f.rule_id = timeout.rule_id.clone();
    f.title = timeout.title.clone();
    f.severity = timeout.severity;
    if let Some(c) = timeout.confidence {
        f.confidence = c;
    }
    f.summary = format!(
        "{} Nothing followed within {} of the last step.",
        f.summary,
        humantime::format_duration(std::time::Duration::from_millis(waited.unsigned_abs()))
    );
    f.revision = 1;
    f
}

/// The finding of a device that lost evidence at its limits: high, never suppressed (a flood of
/// sequence starts inside a maintenance window is exactly how a real one would be hidden),
/// naming the device, how much was lost and the images and servers of what was lost.
pub(crate) fn evidence_dropped(device: &str, flood: &Flood, ctx: &Context<'_>) -> Finding {
    let mut facts = Facts::default();
    for e in &flood.evidence {
        push_unique(&mut facts.images, &e.fields.image);
        push_unique(&mut facts.servers, &e.fields.server);
        push_unique(&mut facts.users, &e.fields.user);
    }
    facts.unlisted_servers = facts
        .servers
        .iter()
        .filter(|s| !ctx.allowlist.permits(s))
        .cloned()
        .collect();
    let plural = |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let mut summary = format!(
        "{device}: {} and {} dropped at its limits (max_pending {}, max_evidence {}) from {} to {}",
        plural(
            flood.instances,
            "pending sequence instance",
            "pending sequence instances"
        ),
        plural(flood.lines, "evidence line", "evidence lines"),
        ctx.max_pending,
        ctx.max_evidence,
        crate::time::format_rfc3339(flood.since),
        crate::time::format_rfc3339(flood.last),
    );
    if !facts.images.is_empty() {
        const NAMED: usize = 3;
        let named = facts.images[..facts.images.len().min(NAMED)].join(", ");
        summary.push_str(&format!("; the first images dropped: {named}"));
        if facts.images.len() > NAMED {
            summary.push_str(", …");
        }
    }
    summary.push_str(
        ". A flood of sequence starts can push a real one out; the first lines lost are attached.",
    );
    let (vendor, sender) = origin_of(&flood.evidence);
    Finding {
        id: flood.id.clone(),
        revision: 0,
        device: device.to_string(),
        rule_id: EVIDENCE_DROPPED_RULE.to_string(),
        title: "Evidence dropped at the device's limits (possible flooding to evade detection)"
            .to_string(),
        rule_description: "A device lost pending sequence instances or evidence lines at its \
            limits (max_pending, max_evidence): a flood of sequence starts can push a real image \
            change out of view, so the loss itself is reported and never suppressed."
            .to_string(),
        vendor,
        sender,
        severity: Severity::High,
        confidence: 0.9,
        first_seen: flood.since,
        last_seen: flood.last,
        evidence: flood.evidence.clone(),
        summary,
        facts,
        never_suppress: true,
    }
}

/// One sentence an analyst can read without opening the evidence: the images and servers, what
/// each step seen says (the rule's words), the version booted, the users.
fn summarise(
    device: &str,
    rule: &Sequence,
    step_times: &[Option<Millis>],
    f: &Facts,
    resumed: bool,
) -> String {
    let mut parts = Vec::new();
    if !f.images.is_empty() {
        let mut p = format!("image {}", f.images.join(", "));
        if !f.servers.is_empty() {
            p.push_str(&format!(" from {}", f.servers.join(", ")));
            if !f.unlisted_servers.is_empty() {
                p.push_str(&format!(
                    " ({} not on the allowlist)",
                    f.unlisted_servers.join(", ")
                ));
            }
        }
        parts.push(p);
    }
    let seen = rule
        .steps
        .iter()
        .zip(step_times)
        .filter(|(_, t)| t.is_some());
    for (step, _) in seen {
        // A boot step's own words are for a boot that reported no version.
        if step.reports_version() && f.version_after.is_some() {
            continue;
        }
        if let Some(words) = &step.summary {
            parts.push(words.clone());
        }
    }
    // A version the device did not report says where it came from, so that nobody takes it
    // for the device's own word.
    let inferred = f
        .version_inferred_from
        .as_ref()
        .map(|image| format!("version inferred from image name {image}"));
    match (&f.version_before, &f.version_after) {
        (Some(b), Some(a)) if f.version_changed => parts.push(format!(
            "booted {a} ({}was {b}{})",
            inferred.map(|w| w + ", ").unwrap_or_default(),
            if f.downgrade { ", a downgrade" } else { "" }
        )),
        (_, Some(a)) => parts.push(match inferred {
            Some(w) => format!("booted {a} ({w})"),
            None => format!("booted {a}"),
        }),
        _ => {}
    }
    if resumed {
        parts.push("the boot is the device logging again after a silence".to_string());
    }
    if !f.users.is_empty() {
        parts.push(format!("by {}", f.users.join(", ")));
    }
    if f.overwrites_running_image {
        parts.push("the image written is the file the device runs".to_string());
    }
    if !f.new_access.is_empty() {
        parts.push(format!("after {}", f.new_access.join(" and ")));
    }
    if parts.is_empty() {
        return format!("{device}: sequence matched.");
    }
    format!("{device}: {}.", parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::SignalFields;
    use crate::correlate::finding::Evidence;
    use crate::correlate::sequence::SequenceRules;

    const T0: Millis = 1_780_000_000_000;

    fn shipped() -> SequenceRules {
        crate::config::RuleSource::Builtin
            .sequences()
            .expect("shipped rules load")
    }

    fn evidence(kind: SignalKind, fields: SignalFields) -> Evidence {
        Evidence {
            time: T0,
            received: None,
            kind,
            rule_id: "test".into(),
            vendor: String::new(),
            sender: None,
            fields,
            message: kind.to_string(),
            origin: Default::default(),
        }
    }

    /// An instance of `rule` that saw the steps marked in `seen`, with one transfer line (image,
    /// server, user) and, when given, the version booted.
    fn instance(rule: &Sequence, seen: &[bool], booted: Option<&str>) -> Instance {
        let transfer = SignalFields {
            image: Some("x.bin".into()),
            server: Some("10.10.0.5".into()),
            user: Some("jsmith".into()),
            ..Default::default()
        };
        let mut lines = vec![evidence(SignalKind::Transfer, transfer)];
        if let Some(v) = booted {
            let boot = SignalFields {
                version: Some(v.into()),
                ..Default::default()
            };
            lines.push(evidence(SignalKind::Boot, boot));
        }
        Instance {
            no: 0,
            rule: rule.id.clone(),
            id: "id".into(),
            reached: seen.iter().rposition(|&s| s).unwrap_or(0),
            step_times: seen.iter().map(|&s| s.then_some(T0)).collect(),
            evidence: lines,
            line_keys: Default::default(),
            first: T0,
            last: T0,
            image: Some("x.bin".into()),
            server: Some("10.10.0.5".into()),
            version_before: booted.map(|_| "15.7(3)M8".into()),
            version_after: booted.map(str::to_string),
            version_inferred_from: None,
            completed: Some(T0),
            emitted: None,
        }
    }

    fn allowlist() -> Allowlist {
        Allowlist {
            servers: vec!["10.10.0.5".into()],
        }
    }

    /// The shipped rules' words give the sentences alerts have always carried.
    #[test]
    fn the_shipped_rules_word_summaries_as_before() {
        let rules = shipped();
        let replaced = &rules.sequences[0];
        let summary = |seen: &[bool], booted| {
            finding(
                "rtr-1",
                replaced,
                &instance(replaced, seen, booted),
                &allowlist(),
                DeviceFacts::default(),
            )
            .summary
        };
        assert_eq!(
            summary(&[true, true, true, true], None),
            "rtr-1: image x.bin from 10.10.0.5; boot variable or install set changed; reload; \
             booted (version not reported); by jsmith."
        );
        assert_eq!(
            summary(&[true, true, false, true], Some("15.2(4)M1")),
            "rtr-1: image x.bin from 10.10.0.5; boot variable or install set changed; \
             booted 15.2(4)M1 (was 15.7(3)M8, a downgrade); by jsmith."
        );
        assert_eq!(
            summary(&[true, false, false, false], None),
            "rtr-1: image x.bin from 10.10.0.5; by jsmith."
        );
    }

    /// The words come from the rule, not from step names the code knows: a rule that calls its
    /// steps something else, with its own words, is summarised in those words.
    #[test]
    fn a_step_is_worded_as_its_rule_says() {
        let yaml = "sequences:\n  - id: custom.swap\n    title: t\n    severity: high\n    \
                    confidence: 0.5\n    steps:\n      - name: activate\n        \
                    kinds: [install_activate]\n        summary: new image activated\n      \
                    - name: down\n        kinds: [reload]\n        within: 1h\n      \
                    - name: up\n        kinds: [boot]\n        within: 1h\n        \
                    summary: came back silent\n";
        let rules = SequenceRules::from_sources(&[("custom.yaml".into(), yaml.into())]).unwrap();
        let rule = &rules.sequences[0];
        let f = finding(
            "rtr-1",
            rule,
            &instance(rule, &[true, true, true], None),
            &allowlist(),
            DeviceFacts::default(),
        );
        assert_eq!(
            f.summary,
            "rtr-1: image x.bin from 10.10.0.5; new image activated; came back silent; by jsmith."
        );
        assert_eq!(f.facts.steps, ["activate", "down", "up"]);
        // The boot step's words are for a boot without a version; with one, the version speaks.
        let f = finding(
            "rtr-1",
            rule,
            &instance(rule, &[true, true, true], Some("15.7(3)M9")),
            &allowlist(),
            DeviceFacts::default(),
        );
        assert!(!f.summary.contains("came back silent"), "{}", f.summary);
        assert!(
            f.summary.contains("booted 15.7(3)M9 (was 15.7(3)M8)"),
            "{}",
            f.summary
        );
    }
}
