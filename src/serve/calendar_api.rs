//! Tickets and windows added at run time: validated like `changes.yaml` entries, stored in
//! sled, merged over the file's calendar (an API entry replaces a file entry with its id).

use serde_json::Value;

use crate::calendar::ChangeCalendar;
use crate::state::{StateError, StateStore};

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

    /// Checks one entry exactly as `changes.yaml` would; returns its id.
    pub fn validate(kind: EntryKind, body: &Value) -> Result<String, EntryError> {
        let Some(obj) = body.as_object() else {
            return Err(EntryError {
                field: None,
                reason: "the body must be a JSON object".into(),
            });
        };
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
        ChangeCalendar::from_yaml(&doc, "request body").map_err(|e| {
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
        Ok(id)
    }

    pub fn put(&self, kind: EntryKind, id: &str, body: &Value) -> Result<(), StateError> {
        self.tree.insert(
            format!("{}{id}", kind.prefix()),
            serde_json::to_vec(body).expect("JSON"),
        )?;
        Ok(())
    }

    pub fn delete(&self, kind: EntryKind, id: &str) -> Result<bool, StateError> {
        Ok(self
            .tree
            .remove(format!("{}{id}", kind.prefix()))?
            .is_some())
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
                let doc = format!("{section}:\n  - {body}\n");
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
