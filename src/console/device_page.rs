//! A device's page: its image lifecycle drawn over time (running-version bands, transfers,
//! boot-variable and install changes, reloads, boots, integrity failures, tickets and windows
//! as shaded spans, deadlines of pending sequences), baseline and running version.

use std::collections::BTreeSet;
use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::response::Response;

use crate::calendar::ChangeCalendar;
use crate::correlate::{DeviceMachine, SequenceRules};
use crate::serve::Shared;
use crate::serve::alert_query::{AlertFilter, ListedAlert};
use crate::serve::api_error::ApiPath;
use crate::time::{Millis, format_rfc3339, parse_rfc3339};

use super::alert_page::short;
use super::timeline::{Mark, Span, Timeline, bands};
use super::{html, internal, item_shell, not_found, sev_icon, status};

/// Alerts of one device drawn and listed, newest first.
const DEVICE_ALERTS: usize = 50;
/// Occurrences of one recurring window drawn at most.
const MAX_OCCURRENCES: usize = 60;

/// `/devices/{id}`.
pub async fn page(ApiPath(id): ApiPath<String>) -> Response {
    item_shell("devices", format!("Device {id}"), &id)
}

pub struct PendingRow {
    rule: String,
    reached: String,
    first: String,
    last: String,
    deadline: String,
    alert: String,
    alert_short: String,
}

pub struct AlertRow {
    id: String,
    title: String,
    severity: &'static str,
    sev_icon: &'static str,
    status: String,
    last_seen: String,
}

#[derive(Template)]
#[template(path = "device_part.html")]
struct DevicePart {
    vendor: String,
    baseline: String,
    running: String,
    last_signal: String,
    has_events: bool,
    svg: String,
    pending: Vec<PendingRow>,
    alerts: Vec<AlertRow>,
}

/// Everything the drawing shows, from the machine, the device's alerts and the calendar.
fn lifecycle(
    m: &DeviceMachine,
    alerts: &[ListedAlert],
    calendar: &ChangeCalendar,
    rules: &SequenceRules,
) -> Timeline {
    let mut seen = BTreeSet::new();
    let mut marks = Vec::new();
    let mut add = |at: Millis, kind: &str, text: &str| {
        if seen.insert((at, kind.to_string(), text.to_string())) {
            marks.push(Mark {
                at,
                kind: kind.to_string(),
                text: text.to_string(),
            });
        }
    };
    for a in alerts {
        for e in &a.alert.evidence {
            if let Some(at) = parse_rfc3339(&e.time) {
                add(at, &e.kind, &e.message);
            }
        }
    }
    for i in &m.instances {
        for e in &i.evidence {
            add(e.time, e.kind.as_str(), &e.message);
        }
    }
    for r in &m.recent {
        add(r.time, r.kind.as_str(), &r.message);
    }
    for (at, no) in m.deadlines(rules) {
        let rule = m
            .instances
            .iter()
            .find(|i| i.no == no)
            .map(|i| i.rule.as_str());
        add(
            at,
            "deadline",
            &format!(
                "pending sequence {} times out",
                rule.unwrap_or("(evidence loss window)")
            ),
        );
    }
    let Some((from, to)) = Timeline::range_around(marks.iter().map(|m| m.at)) else {
        return Timeline::default();
    };
    // The version changes the alerts saw, at the boot that showed them.
    let mut changes = Vec::new();
    let mut start: Option<(Millis, String)> = None;
    for a in alerts {
        let a = &a.alert;
        let Some(after) = &a.version_after else {
            continue;
        };
        let at = a
            .evidence
            .iter()
            .filter(|e| e.kind == "boot" || e.kind == "version")
            .filter_map(|e| parse_rfc3339(&e.time))
            .max()
            .or_else(|| parse_rfc3339(&a.last_seen))
            .unwrap_or(to);
        changes.push((at, after.clone()));
        if let Some(before) = &a.version_before
            && start.as_ref().is_none_or(|(t, _)| at < *t)
        {
            start = Some((at, before.clone()));
        }
    }
    let first = start
        .map(|(_, v)| v)
        .or_else(|| m.baseline.as_ref().and_then(|b| b.version.clone()))
        .or_else(|| m.running.clone());
    let mut spans: Vec<Span> = calendar
        .tickets_overlapping(&m.device, from, to)
        .map(|t| Span {
            from: t.start,
            to: t.end,
            what: "ticket",
            id: t.id.clone(),
        })
        .collect();
    for w in calendar.windows_for(&m.device) {
        for (s, e) in w.occurrences(from, to, MAX_OCCURRENCES) {
            spans.push(Span {
                from: s,
                to: e,
                what: "window",
                id: w.id.clone(),
            });
        }
    }
    Timeline {
        from,
        to,
        bands: bands(from, to, first.as_deref(), changes),
        spans,
        marks,
    }
}

/// The device's page body.
pub async fn part(State(shared): State<Arc<Shared>>, ApiPath(id): ApiPath<String>) -> Response {
    // The workers write a busy machine once per interval: what they processed first.
    shared.sync().await;
    let configured = shared.configured.load_full();
    let key = configured.inventory.device_id(&id);
    let store = shared.store.clone();
    let filter = AlertFilter {
        device: Some(key.clone()),
        ..AlertFilter::default()
    };
    let read = tokio::task::spawn_blocking(move || {
        Ok::<_, crate::state::StateError>((
            store.device(&key)?,
            filter.page(&store, DEVICE_ALERTS, None)?.alerts,
        ))
    })
    .await;
    let (machine, alerts) = match read {
        Ok(Ok((Some(m), a))) => (m, a),
        Ok(Ok((None, _))) => return not_found("device", &id),
        Ok(Err(e)) => return internal(e),
        Err(e) => return internal(e),
    };
    let rules = &configured.sequences;
    let timeline = lifecycle(&machine, &alerts, &configured.calendar, rules);
    let deadlines = machine.deadlines(rules);
    let pending = machine
        .instances
        .iter()
        .map(|i| {
            let steps = rules.sequences.iter().find(|s| s.id == i.rule).map(|s| {
                s.steps
                    .iter()
                    .take(i.reached + 1)
                    .map(|st| st.name.as_str())
                    .collect::<Vec<_>>()
                    .join(" → ")
            });
            PendingRow {
                rule: i.rule.clone(),
                reached: steps.unwrap_or_else(|| format!("step {}", i.reached + 1)),
                first: format_rfc3339(i.first),
                last: format_rfc3339(i.last),
                deadline: deadlines
                    .iter()
                    .find(|(_, no)| *no == i.no)
                    .map_or_else(|| "—".to_string(), |(at, _)| format_rfc3339(*at)),
                alert_short: short(&i.id).to_string(),
                alert: i.id.clone(),
            }
        })
        .collect();
    let baseline = machine.baseline.as_ref().map_or_else(
        || "unknown".to_string(),
        |b| {
            let mut s = b
                .version
                .clone()
                .unwrap_or_else(|| "unknown version".into());
            if let Some(img) = &b.image {
                s.push_str(&format!(" ({img})"));
            }
            s.push_str(&format!(", {:?}", b.source).to_lowercase());
            s
        },
    );
    html(&DevicePart {
        vendor: machine.vendor.clone().unwrap_or_else(|| "unknown".into()),
        baseline,
        running: machine.running.clone().unwrap_or_else(|| "unknown".into()),
        last_signal: machine
            .last_signal
            .map_or_else(|| "never".into(), format_rfc3339),
        has_events: !timeline.marks.is_empty(),
        svg: timeline.svg(&format!("Image lifecycle of {}", machine.device)),
        pending,
        alerts: alerts
            .into_iter()
            .map(|l| {
                let (status, _) = status(&l.alert);
                AlertRow {
                    severity: l.alert.severity.as_str(),
                    sev_icon: sev_icon(l.alert.severity),
                    status,
                    last_seen: l.alert.last_seen,
                    id: l.alert.id,
                    title: l.alert.title,
                }
            })
            .collect(),
    })
}
