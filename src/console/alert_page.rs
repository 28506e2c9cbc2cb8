//! An alert's page: the reason in plain words, the evidence on a time line, the ticket or
//! window that covered or half-fitted it (and which of its fields did not fit), triage and
//! revisions.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::response::Response;

use crate::calendar::ChangeCalendar;
use crate::serve::Shared;
use crate::serve::api_error::ApiPath;
use crate::state::triage::{TriageEntry, TriageState};
use crate::suppress::Alert;
use crate::time::{format_rfc3339, parse_rfc3339};

use super::timeline::{Mark, Span, Timeline};
use super::{html, internal, item_shell, not_found, sev_icon, status};

/// `/alerts/{id}`.
pub async fn page(ApiPath(id): ApiPath<String>) -> Response {
    item_shell("alerts", format!("Alert {}", short(&id)), &id)
}

/// The first characters of a long id, for headings.
pub fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

/// A field of the covering entry that the work did not fit, and why.
#[derive(Debug, PartialEq)]
pub struct Misfit {
    pub field: &'static str,
    pub text: String,
}

/// Which scope field a mismatch sentence of the suppress stage is about (the wording is
/// `suppress::mismatches`'s).
fn field_of(sentence: &str) -> &'static str {
    if sentence.starts_with("work ran") {
        "time"
    } else if sentence.starts_with("image from") {
        "servers"
    } else if sentence.starts_with("image ") {
        "images"
    } else if sentence.starts_with("device booted") {
        "versions"
    } else if sentence.starts_with("change made by") {
        "users"
    } else {
        "scope"
    }
}

/// The mismatches an escalation reason lists, each with its field.
pub fn misfits(reason: &str) -> Vec<Misfit> {
    let Some((_, list)) = reason.split_once("but outside its scope: ") else {
        return Vec::new();
    };
    let list = list.trim_end().trim_end_matches('.');
    list.split("; ")
        .map(|s| Misfit {
            field: field_of(s),
            text: s.to_string(),
        })
        .collect()
}

pub struct ScopeRow {
    field: &'static str,
    value: String,
    misfit: bool,
}

pub struct Cover {
    /// `Suppressed by` or `Half-fitted`.
    role: &'static str,
    what: &'static str,
    id: String,
    rows: Vec<ScopeRow>,
}

fn list(v: &Option<Vec<String>>) -> String {
    v.as_ref()
        .map_or_else(|| "any".to_string(), |l| l.join(", "))
}

/// The ticket or window an alert names, with its scope, misfitting fields marked.
fn cover(alert: &Alert, calendar: &ChangeCalendar, misfits: &[Misfit]) -> Option<Cover> {
    let (role, id) = match (&alert.suppressed_by, &alert.escalated_by) {
        (Some(id), _) => ("Suppressed by", id),
        (None, Some(id)) => ("Half-fitted", id),
        (None, None) => return None,
    };
    let bad = |f: &str| misfits.iter().any(|m| m.field == f);
    let row = |field: &'static str, value: String| ScopeRow {
        field,
        value,
        misfit: bad(field),
    };
    if let Some(t) = calendar.tickets.iter().find(|t| t.id == *id) {
        return Some(Cover {
            role,
            what: "change ticket",
            id: id.clone(),
            rows: vec![
                row("devices", t.device_patterns().join(", ")),
                row(
                    "time",
                    format!("{} – {}", format_rfc3339(t.start), format_rfc3339(t.end)),
                ),
                row("images", list(&t.images)),
                row("versions", list(&t.versions)),
                row("users", list(&t.users)),
                row("servers", list(&t.servers)),
            ],
        });
    }
    if let Some(w) = calendar.windows.iter().find(|w| w.id == *id) {
        let first = parse_rfc3339(&alert.first_seen).unwrap_or(0);
        let when = w.occurrence_at(first).map_or_else(
            || "no occurrence at the alert's first evidence".to_string(),
            |(s, e)| format!("{} – {}", format_rfc3339(s), format_rfc3339(e)),
        );
        return Some(Cover {
            role,
            what: "maintenance window",
            id: id.clone(),
            rows: vec![
                row("devices", w.device_patterns().join(", ")),
                row("time", when),
                row("users", list(&w.users)),
                row("servers", list(&w.servers)),
            ],
        });
    }
    Some(Cover {
        role,
        what: "ticket or window",
        id: id.clone(),
        rows: Vec::new(),
    })
}

#[derive(Template)]
#[template(path = "alert_part.html")]
struct AlertPart {
    a: Alert,
    sev_icon: &'static str,
    status: String,
    status_class: &'static str,
    confidence: String,
    cover: Option<Cover>,
    misfits: Vec<Misfit>,
    svg: String,
    triage_now: Option<TriageEntry>,
    history: Vec<TriageEntry>,
    states: Vec<(&'static str, &'static str)>,
    revisions: Vec<Alert>,
}

/// The evidence as marks, and the covering ticket's span when it is one.
fn evidence_line(alert: &Alert, calendar: &ChangeCalendar) -> String {
    let marks: Vec<Mark> = alert
        .evidence
        .iter()
        .filter_map(|e| {
            Some(Mark {
                at: parse_rfc3339(&e.time)?,
                kind: e.kind.clone(),
                text: e.message.clone(),
            })
        })
        .collect();
    let id = alert.suppressed_by.as_ref().or(alert.escalated_by.as_ref());
    let ticket = id
        .and_then(|id| calendar.tickets.iter().find(|t| t.id == *id))
        .map(|t| Span {
            from: t.start,
            to: t.end,
            what: "ticket",
            id: t.id.clone(),
        });
    // A window: its occurrence at the first evidence.
    let window = id
        .and_then(|id| calendar.windows.iter().find(|w| w.id == *id))
        .and_then(|w| {
            let (from, to) = w.occurrence_at(marks.first()?.at)?;
            Some(Span {
                from,
                to,
                what: "window",
                id: w.id.clone(),
            })
        });
    let spans: Vec<Span> = ticket.into_iter().chain(window).collect();
    let times = marks.iter().map(|m| m.at);
    let Some((from, to)) = Timeline::range_around(times) else {
        return String::new();
    };
    Timeline {
        from,
        to,
        bands: Vec::new(),
        spans,
        marks,
    }
    .svg(&format!("Evidence of alert on {}", alert.device))
}

/// The alert's page body.
pub async fn part(State(shared): State<Arc<Shared>>, ApiPath(id): ApiPath<String>) -> Response {
    let store = shared.store.clone();
    let key = id.clone();
    let read = tokio::task::spawn_blocking(move || {
        Ok::<_, crate::state::StateError>((
            store.alert(&key)?,
            store.triage(&key)?,
            store.alert_revisions(&key)?,
        ))
    })
    .await;
    let (alert, triage, mut revisions) = match read {
        Ok(Ok((Some(a), t, r))) => (a, t, r),
        Ok(Ok((None, ..))) => return not_found("alert", &id),
        Ok(Err(e)) => return internal(e),
        Err(e) => return internal(e),
    };
    if revisions
        .last()
        .is_none_or(|r| r.revision != alert.revision)
    {
        revisions.push(alert.clone());
    }
    let calendar = Arc::clone(&shared.configured.load().calendar);
    let misfits = if alert.escalated_by.is_some() {
        misfits(&alert.reason)
    } else {
        Vec::new()
    };
    let (status, status_class) = status(&alert);
    let history = triage.map(|t| t.history).unwrap_or_default();
    html(&AlertPart {
        sev_icon: sev_icon(alert.severity),
        status,
        status_class,
        confidence: format!("{:.2}", alert.confidence),
        cover: cover(&alert, &calendar, &misfits),
        misfits,
        svg: evidence_line(&alert, &calendar),
        triage_now: history.last().cloned(),
        history,
        states: TriageState::ALL
            .iter()
            .map(|s| (s.as_str(), s.label()))
            .collect(),
        revisions,
        a: alert,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sentences of an escalation reason name the scope field each is about.
    #[test]
    fn an_escalation_reason_names_the_fields_that_did_not_fit() {
        let reason = "edge-1: image a.bin … In the time of change ticket CHG1 but outside its \
                      scope: image a.bin is not approved (approved: b.bin); change made by \
                      jdoe, allowed: jsmith; image from 1.2.3.4, allowed servers: 10.0.0.1.";
        let m = misfits(reason);
        let fields: Vec<&str> = m.iter().map(|m| m.field).collect();
        assert_eq!(fields, ["images", "users", "servers"]);
        assert_eq!(m[2].text, "image from 1.2.3.4, allowed servers: 10.0.0.1");
        assert!(misfits("No change ticket or maintenance window covers this work.").is_empty());
        assert_eq!(field_of("work ran from a to b, outside c–d"), "time");
        assert_eq!(field_of("device booted 15.8, approved: 15.7"), "versions");
    }
}
