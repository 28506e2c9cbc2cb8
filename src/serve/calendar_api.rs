//! Tickets and windows added at run time: validated like `changes.yaml` entries, stored in
//! sled, merged over the file's calendar; and the calendar in force as the API lists it, each
//! entry with its source (`file` or `api`). An id the file uses belongs to the file: the API
//! refuses it, so an API entry never silently replaces a file entry.

use serde_json::{Map, Value, json};

use crate::calendar::{ChangeCalendar, ChangeTicket, MaintenanceWindow, ScheduleView};
use crate::state::{StateError, StateStore};
use crate::time::{Millis, format_rfc3339};

/// Which list an entry belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    Ticket,
    Window,
}

impl EntryKind {
    fn section(self) -> &'static str {
        match self {
            EntryKind::Ticket => "change_tickets",
            EntryKind::Window => "maintenance_windows",
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            EntryKind::Ticket => "ticket:",
            EntryKind::Window => "window:",
        }
    }

    /// The word for one entry, in logs, errors and the audit trail.
    pub fn noun(self) -> &'static str {
        match self {
            EntryKind::Ticket => "ticket",
            EntryKind::Window => "window",
        }
    }

    /// The list's key in the API's answers.
    pub fn plural(self) -> &'static str {
        match self {
            EntryKind::Ticket => "tickets",
            EntryKind::Window => "windows",
        }
    }
}

/// Keys the API takes beside an entry's `changes.yaml` fields: `all_devices` (the sender knows
/// the ticket is broad) and `source` (what a listing adds, so a listed entry can be sent back).
const API_ONLY: [&str; 2] = ["all_devices", "source"];

/// Longest an API ticket may span without `"all_devices": true`: a month of change work is
/// already long; a century is a switched-off detector.
const MAX_TICKET_SPAN: Millis = 31 * 24 * 3600 * 1000;

/// The entry's `changes.yaml` fields: the body without the API's own keys.
fn entry_fields(body: &Value) -> Value {
    match body.as_object() {
        Some(obj) => Value::Object(
            obj.iter()
                .filter(|(k, _)| !API_ONLY.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        None => body.clone(),
    }
}

/// What is stored for a body: everything but `source`, which the listing adds.
fn stored_form(body: &Value) -> Value {
    let mut stored = body.clone();
    if let Some(obj) = stored.as_object_mut() {
        obj.remove("source");
    }
    stored
}

/// `value` with `"source": source` added (an object; anything else as it is).
pub fn with_source(mut value: Value, source: &str) -> Value {
    if let Some(obj) = value.as_object_mut() {
        obj.insert("source".into(), Value::from(source));
    }
    value
}

/// Why a body was refused: the field (when known) and a reason.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryError {
    pub field: Option<String>,
    pub reason: String,
}

pub struct CalendarEntries {
    tree: sled::Tree,
}

/// What precedes the entry on its line in the YAML document it is checked as.
const ENTRY_INDENT: &str = "  - ";

/// Field names an entry may carry, to name the one an error is about.
const FIELDS: [&str; 13] = [
    "id", "devices", "start", "end", "images", "versions", "users", "servers", "cron", "duration",
    "timezone", "platform", "note",
];

impl CalendarEntries {
    pub fn open(store: &StateStore) -> Result<CalendarEntries, StateError> {
        Ok(CalendarEntries {
            tree: store.tree("calendar_api")?,
        })
    }

    /// Checks one entry exactly as `changes.yaml` would, and a ticket's breadth (every device
    /// or more than [`MAX_TICKET_SPAN`] needs `"all_devices": true`); returns its id.
    pub fn validate(kind: EntryKind, body: &Value) -> Result<String, EntryError> {
        let Some(with_api_keys) = body.as_object() else {
            return Err(EntryError {
                field: None,
                reason: "the body must be a JSON object".into(),
            });
        };
        let broad_allowed = match with_api_keys.get("all_devices") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                return Err(EntryError {
                    field: Some("all_devices".into()),
                    reason: "all_devices: must be true or false".into(),
                });
            }
        };
        let fields = entry_fields(body);
        let obj: &Map<String, Value> = fields.as_object().expect("an object stays one");
        let id = obj
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or(EntryError {
                field: Some("id".into()),
                reason: "missing or not a string".into(),
            })?;
        // JSON is YAML: the entry goes through the same loader as the file, on one line,
        // written a top-level field at a time so an error's column says which field it is in.
        let mut entry = String::from("{");
        let mut spans = Vec::with_capacity(obj.len());
        for (i, (key, value)) in obj.iter().enumerate() {
            if i > 0 {
                entry.push(',');
            }
            let start = entry.chars().count();
            entry.push_str(&Value::from(key.as_str()).to_string());
            entry.push(':');
            entry.push_str(&value.to_string());
            spans.push((start..entry.chars().count(), key));
        }
        entry.push('}');
        let doc = format!("{}:\n{ENTRY_INDENT}{entry}\n", kind.section());
        let checked = ChangeCalendar::from_yaml(&doc, "request body").map_err(|e| {
            // A field the reason names is the one (`missing field `start``, whose position is
            // wherever the loader noticed); otherwise the field whose text holds the error's
            // column (a bad device glob says only the glob). Columns are 1-based and count
            // the characters of line 2, the entry's line.
            let named = FIELDS
                .iter()
                .find(|f| {
                    e.reason.contains(&format!("`{f}`")) || e.reason.contains(&format!("{f}:"))
                })
                .map(|f| f.to_string());
            let at = (e.line == 2)
                .then(|| e.column.checked_sub(1 + ENTRY_INDENT.len()))
                .flatten();
            let placed = || {
                at.and_then(|at| spans.iter().find(|(span, _)| span.contains(&at)))
                    .map(|(_, key)| key.to_string())
            };
            let field = named.or_else(placed).or_else(|| {
                FIELDS
                    .iter()
                    .find(|f| e.reason.contains(*f))
                    .map(|f| f.to_string())
            });
            EntryError {
                field,
                reason: e.reason,
            }
        })?;
        match checked.tickets.first() {
            Some(ticket) if !broad_allowed => check_breadth(ticket)?,
            _ => {}
        }
        Ok(id)
    }

    /// Stores an entry (without `source`); returns the entry it replaced, if any.
    pub fn put(
        &self,
        kind: EntryKind,
        id: &str,
        body: &Value,
    ) -> Result<Option<Value>, StateError> {
        let old = self.tree.insert(
            format!("{}{id}", kind.prefix()),
            serde_json::to_vec(&stored_form(body)).expect("JSON"),
        )?;
        Ok(old.and_then(|v| serde_json::from_slice(&v).ok()))
    }

    /// Removes an entry; returns it if there was one.
    pub fn delete(&self, kind: EntryKind, id: &str) -> Result<Option<Value>, StateError> {
        let old = self.tree.remove(format!("{}{id}", kind.prefix()))?;
        Ok(old.map(|v| serde_json::from_slice(&v).unwrap_or(Value::Null)))
    }

    pub fn get(&self, kind: EntryKind, id: &str) -> Result<Option<Value>, StateError> {
        Ok(self
            .tree
            .get(format!("{}{id}", kind.prefix()))?
            .and_then(|v| serde_json::from_slice(&v).ok()))
    }

    pub fn list(&self, kind: EntryKind) -> Result<Vec<Value>, StateError> {
        let mut out = Vec::new();
        for kv in self.tree.scan_prefix(kind.prefix()) {
            let (_, v) = kv?;
            if let Ok(v) = serde_json::from_slice(&v) {
                out.push(v);
            }
        }
        Ok(out)
    }

    /// The file's calendar with the stored entries over it.
    pub fn merged(&self, file: &ChangeCalendar) -> Result<ChangeCalendar, StateError> {
        let mut cal = file.clone();
        for (kind, section) in [
            (EntryKind::Ticket, "change_tickets"),
            (EntryKind::Window, "maintenance_windows"),
        ] {
            for body in self.list(kind)? {
                let doc = format!("{section}:\n  - {}\n", entry_fields(&body));
                // Entries were validated when stored; one that no longer loads is skipped.
                let Ok(one) = ChangeCalendar::from_yaml(&doc, "stored entry") else {
                    continue;
                };
                match kind {
                    EntryKind::Ticket => {
                        for t in one.tickets {
                            cal.tickets.retain(|x| x.id != t.id);
                            cal.tickets.push(t);
                        }
                    }
                    EntryKind::Window => {
                        for w in one.windows {
                            cal.windows.retain(|x| x.id != w.id);
                            cal.windows.push(w);
                        }
                    }
                }
            }
        }
        Ok(cal)
    }

    /// Every entry of `kind` in force, each with its `source`: the file's (unless an API entry
    /// stored before the file took its id shadows it, as in [`CalendarEntries::merged`]), then
    /// the API's.
    pub fn in_force(
        &self,
        kind: EntryKind,
        file: &ChangeCalendar,
    ) -> Result<Vec<Value>, StateError> {
        let api = self.list(kind)?;
        let api_ids: Vec<&str> = api.iter().filter_map(|v| v["id"].as_str()).collect();
        let mut out: Vec<Value> = file_entries(kind, file)
            .into_iter()
            .filter(|v| !v["id"].as_str().is_some_and(|id| api_ids.contains(&id)))
            .collect();
        out.extend(api.into_iter().map(|v| with_source(v, "api")));
        Ok(out)
    }

    /// One entry in force by id: the API's, else the file's; with its `source`.
    pub fn find(
        &self,
        kind: EntryKind,
        id: &str,
        file: &ChangeCalendar,
    ) -> Result<Option<Value>, StateError> {
        if let Some(v) = self.get(kind, id)? {
            return Ok(Some(with_source(v, "api")));
        }
        Ok(file_entries(kind, file).into_iter().find(|v| v["id"] == id))
    }
}

/// Whether `changes.yaml` defines an entry of `kind` with `id`.
pub fn file_owns(kind: EntryKind, id: &str, file: &ChangeCalendar) -> bool {
    match kind {
        EntryKind::Ticket => file.tickets.iter().any(|t| t.id == id),
        EntryKind::Window => file.windows.iter().any(|w| w.id == id),
    }
}

/// A ticket for every device, or for longer than [`MAX_TICKET_SPAN`], suppresses so much that
/// the sender must say so; the error names the field that makes it broad.
fn check_breadth(ticket: &ChangeTicket) -> Result<(), EntryError> {
    if ticket.covers_every_device() {
        return Err(EntryError {
            field: Some("devices".into()),
            reason: format!(
                "devices: {:?} matches every device; a ticket for every device needs \
                 \"all_devices\": true",
                ticket.device_patterns()
            ),
        });
    }
    if ticket.end - ticket.start > MAX_TICKET_SPAN {
        return Err(EntryError {
            field: Some("end".into()),
            reason: format!(
                "end: the ticket spans {} days, more than 31; a ticket that long needs \
                 \"all_devices\": true",
                (ticket.end - ticket.start) / (24 * 3600 * 1000)
            ),
        });
    }
    Ok(())
}

/// The file's entries of `kind` as the API shows them, with `"source": "file"`.
fn file_entries(kind: EntryKind, file: &ChangeCalendar) -> Vec<Value> {
    match kind {
        EntryKind::Ticket => file.tickets.iter().map(ticket_json).collect(),
        EntryKind::Window => file.windows.iter().map(window_json).collect(),
    }
}

/// Adds the optional lists that are present.
fn lists(v: &mut Value, named: &[(&str, &Option<Vec<String>>)]) {
    for (key, list) in named {
        if let Some(list) = list {
            v[*key] = json!(list);
        }
    }
}

fn ticket_json(t: &ChangeTicket) -> Value {
    let mut v = json!({
        "id": t.id,
        "devices": t.device_patterns(),
        "start": format_rfc3339(t.start),
        "end": format_rfc3339(t.end),
    });
    lists(
        &mut v,
        &[
            ("images", &t.images),
            ("versions", &t.versions),
            ("users", &t.users),
            ("servers", &t.servers),
        ],
    );
    with_source(v, "file")
}

fn window_json(w: &MaintenanceWindow) -> Value {
    let mut v = json!({"id": w.id, "devices": w.device_patterns()});
    match w.schedule() {
        ScheduleView::Recurring {
            cron,
            duration,
            timezone,
        } => {
            v["cron"] = json!(cron);
            v["duration"] = json!(
                humantime::format_duration(
                    std::time::Duration::from_millis(duration.max(0) as u64)
                )
                .to_string()
            );
            if let Some(zone) = timezone {
                v["timezone"] = json!(zone);
            }
        }
        ScheduleView::Once { start, end } => {
            v["start"] = json!(format_rfc3339(start));
            v["end"] = json!(format_rfc3339(end));
        }
    }
    lists(&mut v, &[("users", &w.users), ("servers", &w.servers)]);
    with_source(v, "file")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn field_of(body: Value) -> Option<String> {
        CalendarEntries::validate(EntryKind::Ticket, &body)
            .expect_err("the entry is refused")
            .field
    }

    /// The field an entry is refused for is found from the error's position, so a reason
    /// that does not spell the field's name (a bad device glob) still names it.
    #[test]
    fn refused_entries_name_the_field_at_fault() {
        let ok = json!({"id": "C1", "devices": ["rtr-*"], "start": "2026-06-01T00:00:00Z",
                        "end": "2026-06-01T01:00:00Z", "images": ["bild-übergang.bin"]});
        assert_eq!(
            CalendarEntries::validate(EntryKind::Ticket, &ok),
            Ok("C1".into())
        );
        let with = |key: &str, value: Value| {
            let mut body = ok.clone();
            body[key] = value;
            body
        };
        assert_eq!(
            field_of(with("devices", json!(["rtr-[0-9"]))).as_deref(),
            Some("devices")
        );
        assert_eq!(
            field_of(with("start", json!("yesterday"))).as_deref(),
            Some("start")
        );
        // After a non-ASCII value (`images`): columns count characters, not bytes.
        assert_eq!(
            field_of(with("versions", json!("15.1"))).as_deref(),
            Some("versions")
        );
        assert_eq!(field_of(with("crn", json!("x"))).as_deref(), Some("crn"));
        let mut missing = ok.clone();
        missing.as_object_mut().unwrap().remove("start");
        assert_eq!(field_of(missing).as_deref(), Some("start"));
    }
}
