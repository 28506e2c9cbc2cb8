//! The alert queue: newest first, filtered and paged through the API's one alert filter.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::serve::Shared;
use crate::serve::alert_query::{AlertParams, ListedAlert};
use crate::serve::api_error::ApiQuery;

use super::{html, internal, sev_icon, status};

/// Alerts per page of the queue.
pub const PAGE: usize = 50;

/// The queue's filters as a form sends them: every value text, empty meaning "any".
#[derive(Clone, Debug, Default, Deserialize)]
pub struct QueueParams {
    #[serde(default)]
    severity: String,
    /// `unsuppressed`, `suppressed` or `escalated`.
    #[serde(default)]
    status: String,
    #[serde(default)]
    triage: String,
    #[serde(default)]
    device: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    cursor: Option<u64>,
}

impl QueueParams {
    /// The query string of these filters (and `cursor`, when given), empty values left out.
    fn query(&self, cursor: Option<u64>) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("severity", &self.severity),
            ("status", &self.status),
            ("triage", &self.triage),
            ("device", &self.device),
            ("since", &self.since),
            ("until", &self.until),
        ] {
            if !v.trim().is_empty() {
                q.append_pair(k, v.trim());
            }
        }
        if let Some(c) = cursor {
            q.append_pair("cursor", &c.to_string());
        }
        q.finish()
    }

    fn alert_params(&self) -> AlertParams {
        let text = |s: &str| Some(s.to_string()).filter(|s| !s.trim().is_empty());
        AlertParams {
            device: text(&self.device),
            since: text(&self.since),
            until: text(&self.until),
            severity: text(&self.severity),
            suppressed: match self.status.as_str() {
                "suppressed" => Some(true),
                "unsuppressed" => Some(false),
                _ => None,
            },
            escalated: (self.status == "escalated").then_some(true),
            triage: text(&self.triage),
            limit: Some(PAGE),
            cursor: self.cursor,
        }
    }
}

const SEVERITIES: &[(&str, &str)] = &[
    ("", "Any"),
    ("low", "Low"),
    ("medium", "Medium"),
    ("high", "High"),
    ("critical", "Critical"),
];
const STATUSES: &[(&str, &str)] = &[
    ("", "Any"),
    ("unsuppressed", "Not suppressed"),
    ("suppressed", "Suppressed"),
    ("escalated", "Escalated (half-fitted a ticket)"),
];
const TRIAGES: &[(&str, &str)] = &[
    ("", "Any"),
    ("none", "Untriaged"),
    ("acknowledged", "Acknowledged"),
    ("confirmed", "Confirmed"),
    ("false_positive", "False positive"),
];

#[derive(Template)]
#[template(path = "queue.html")]
struct QueuePage {
    title: &'static str,
    nav: &'static str,
    severities: &'static [(&'static str, &'static str)],
    statuses: &'static [(&'static str, &'static str)],
    triages: &'static [(&'static str, &'static str)],
    severity: String,
    status: String,
    triage: String,
    device: String,
    since: String,
    until: String,
    part: String,
    /// 1 on the first page: the script shows new alerts as they come.
    live: u8,
}

/// `/`: the filter form, filled from the query, and the place the queue is loaded into.
pub async fn page(ApiQuery(q): ApiQuery<QueueParams>) -> Response {
    html(&QueuePage {
        title: "Alert queue",
        nav: "queue",
        severities: SEVERITIES,
        statuses: STATUSES,
        triages: TRIAGES,
        part: format!("/console/part/queue?{}", q.query(q.cursor)),
        live: u8::from(q.cursor.is_none()),
        severity: q.severity,
        status: q.status,
        triage: q.triage,
        device: q.device,
        since: q.since,
        until: q.until,
    })
}

struct TriageCell {
    state: &'static str,
    label: &'static str,
    by: String,
    at: String,
}

pub(super) struct Row {
    id: String,
    title: String,
    device: String,
    severity: &'static str,
    sev_icon: &'static str,
    status: String,
    status_class: &'static str,
    triage: Option<TriageCell>,
    revision: u32,
    last_seen: String,
}

impl Row {
    fn of(listed: ListedAlert) -> Row {
        let ListedAlert { alert, triage } = listed;
        let (status, status_class) = status(&alert);
        Row {
            triage: triage
                .as_ref()
                .and_then(|t| t.current())
                .map(|t| TriageCell {
                    state: t.state.as_str(),
                    label: t.state.label(),
                    by: t.by.clone(),
                    at: t.at.clone(),
                }),
            severity: alert.severity.as_str(),
            sev_icon: sev_icon(alert.severity),
            status,
            status_class,
            revision: alert.revision,
            last_seen: alert.last_seen,
            id: alert.id,
            title: alert.title,
            device: alert.device,
        }
    }
}

#[derive(Template)]
#[template(path = "queue_part.html")]
struct QueuePart {
    rows: Vec<Row>,
    paged: bool,
    first_query: String,
    next_query: Option<String>,
}

/// One page of the queue, rendered.
pub async fn part(
    State(shared): State<Arc<Shared>>,
    ApiQuery(q): ApiQuery<QueueParams>,
) -> Response {
    let params = q.alert_params();
    let inventory = Arc::clone(&shared.configured.load().inventory);
    let filter = match params.filter(|d| inventory.device_id(d)) {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    let store = shared.store.clone();
    let cursor = q.cursor;
    let page = match tokio::task::spawn_blocking(move || filter.page(&store, PAGE, cursor)).await {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => return internal(e),
        Err(e) => return internal(e),
    };
    html(&QueuePart {
        rows: page.alerts.into_iter().map(Row::of).collect(),
        paged: q.cursor.is_some(),
        first_query: q.query(None),
        next_query: page.next.map(|n| q.query(Some(n))),
    })
}
