//! The change calendar's page: tickets and windows listed, and forms that create, replace and
//! delete them through the calendar API (`/api/v1/tickets`, `/api/v1/windows`), showing the
//! API's validation message next to the field it names.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use serde_json::Value;

use crate::serve::Shared;
use crate::serve::calendar_api::{CalendarEntries, EntryKind};
use crate::time::format_rfc3339;

use super::{html, internal};

/// One input of an entry form.
pub struct FormField {
    name: &'static str,
    label: &'static str,
    placeholder: &'static str,
    /// `1`: comma-separated, sent as a JSON list.
    list: u8,
    required: bool,
}

const fn field(
    name: &'static str,
    label: &'static str,
    placeholder: &'static str,
    list: u8,
    required: bool,
) -> FormField {
    FormField {
        name,
        label,
        placeholder,
        list,
        required,
    }
}

const TICKET_FIELDS: &[FormField] = &[
    field("id", "Ticket id", "CHG0012345", 0, true),
    field("devices", "Devices (globs)", "rtr-0042, core-*", 1, true),
    field("start", "Start", "2026-06-05T00:00:00Z", 0, true),
    field("end", "End", "2026-06-05T06:00:00Z", 0, true),
    field(
        "images",
        "Approved images",
        "c2900-universalk9-mz.SPA.157-3.M9.bin",
        1,
        false,
    ),
    field("versions", "Approved versions", "15.7(3)M9", 1, false),
    field("users", "Users", "jsmith", 1, false),
    field("servers", "Servers", "10.10.0.5", 1, false),
    field("note", "Note", "", 0, false),
];

const WINDOW_FIELDS: &[FormField] = &[
    field("id", "Window id", "MW-core-weekly", 0, true),
    field("devices", "Devices (globs)", "core-*, dist-*", 1, true),
    field("cron", "Cron (recurring)", "0 2 * * SUN", 0, false),
    field("duration", "Duration (recurring)", "4h", 0, false),
    field(
        "timezone",
        "Time zone (recurring)",
        "Europe/Berlin",
        0,
        false,
    ),
    field("start", "Start (once)", "2026-06-05T00:00:00Z", 0, false),
    field("end", "End (once)", "2026-06-05T06:00:00Z", 0, false),
    field("users", "Users", "svc-ansible", 1, false),
    field("servers", "Servers", "10.20.0.10", 1, false),
    field("note", "Note", "", 0, false),
];

#[derive(Template)]
#[template(path = "changes.html")]
struct ChangesPage {
    title: &'static str,
    nav: &'static str,
    ticket_fields: &'static [FormField],
    window_fields: &'static [FormField],
}

/// `/changes`: the forms, and the place the lists are loaded into.
pub async fn page() -> Response {
    html(&ChangesPage {
        title: "Changes",
        nav: "changes",
        ticket_fields: TICKET_FIELDS,
        window_fields: WINDOW_FIELDS,
    })
}

pub struct EntryRow {
    id: String,
    devices: String,
    start: String,
    end: String,
    scope: String,
    source: &'static str,
    /// The entry as stored, for the edit button (API entries only).
    json: Option<String>,
}

#[derive(Template)]
#[template(path = "changes_part.html")]
struct ChangesPart {
    tickets: Vec<EntryRow>,
    windows: Vec<EntryRow>,
}

fn text(v: &Value, key: &str) -> String {
    match &v[key] {
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
            .collect::<Vec<_>>()
            .join(", "),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `images: a; users: b` for the scope keys an entry sets.
fn scope(v: &Value) -> String {
    ["images", "versions", "users", "servers"]
        .iter()
        .filter(|k| !v[**k].is_null())
        .map(|k| format!("{k}: {}", text(v, k)))
        .collect::<Vec<_>>()
        .join("; ")
}

fn api_row(v: &Value, window: bool) -> EntryRow {
    let start = if window && !v["cron"].is_null() {
        format!(
            "{} for {} ({})",
            text(v, "cron"),
            text(v, "duration"),
            text(v, "timezone")
        )
    } else if window {
        format!("{} – {}", text(v, "start"), text(v, "end"))
    } else {
        text(v, "start")
    };
    EntryRow {
        id: text(v, "id"),
        devices: text(v, "devices"),
        start,
        end: text(v, "end"),
        scope: scope(v),
        source: "added here",
        json: Some(v.to_string()),
    }
}

fn opt(v: &Option<Vec<String>>, key: &str) -> Option<String> {
    v.as_ref().map(|l| format!("{key}: {}", l.join(", ")))
}

/// The lists: entries added through the API (editable), then the file's that they do not
/// replace.
pub async fn part(State(shared): State<Arc<Shared>>) -> Response {
    let stored = CalendarEntries::open(&shared.store)
        .and_then(|c| Ok((c.list(EntryKind::Ticket)?, c.list(EntryKind::Window)?)));
    let (api_tickets, api_windows) = match stored {
        Ok(s) => s,
        Err(e) => return internal(e),
    };
    let file = Arc::clone(&shared.configured.load().file_calendar);
    let mut tickets: Vec<EntryRow> = api_tickets.iter().map(|v| api_row(v, false)).collect();
    for t in &file.tickets {
        if tickets.iter().any(|r| r.id == t.id) {
            continue;
        }
        tickets.push(EntryRow {
            id: t.id.clone(),
            devices: t.device_patterns().join(", "),
            start: format_rfc3339(t.start),
            end: format_rfc3339(t.end),
            scope: [
                opt(&t.images, "images"),
                opt(&t.versions, "versions"),
                opt(&t.users, "users"),
                opt(&t.servers, "servers"),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("; "),
            source: "changes.yaml",
            json: None,
        });
    }
    let mut windows: Vec<EntryRow> = api_windows.iter().map(|v| api_row(v, true)).collect();
    for w in &file.windows {
        if windows.iter().any(|r| r.id == w.id) {
            continue;
        }
        windows.push(EntryRow {
            id: w.id.clone(),
            devices: w.device_patterns().join(", "),
            start: w.schedule_words(),
            end: String::new(),
            scope: [opt(&w.users, "users"), opt(&w.servers, "servers")]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join("; "),
            source: "changes.yaml",
            json: None,
        });
    }
    html(&ChangesPart { tickets, windows })
}
