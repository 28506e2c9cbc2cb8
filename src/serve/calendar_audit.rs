//! The calendar's audit trail: every ticket or window created, replaced or deleted through the
//! API, with when, from which address, and the entry before and after, kept in sled (tree
//! `calendar_audit`, keyed by an increasing number) and read newest first. What suppresses
//! alerts must be traceable after the fact, not only while the log is kept.

use std::net::SocketAddr;

use serde_json::{Value, json};

use super::calendar_api::EntryKind;
use crate::state::{StateError, StateStore};
use crate::time::{format_rfc3339, now_ms};

/// What a change did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Create,
    Replace,
    Delete,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Replace => "replace",
            Action::Delete => "delete",
        }
    }
}

/// One calendar change, as recorded.
pub struct Change<'a> {
    pub action: Action,
    pub kind: EntryKind,
    pub id: &'a str,
    /// The request's peer address (the client, or the proxy in front of the API).
    pub from: SocketAddr,
    pub old: Option<&'a Value>,
    pub new: Option<&'a Value>,
}

pub struct CalendarAudit {
    store: StateStore,
    tree: sled::Tree,
}

impl CalendarAudit {
    pub fn open(store: &StateStore) -> Result<CalendarAudit, StateError> {
        Ok(CalendarAudit {
            store: store.clone(),
            tree: store.tree("calendar_audit")?,
        })
    }

    /// Appends one change to the trail.
    pub fn record(&self, c: &Change<'_>) -> Result<(), StateError> {
        let seq = self.store.next_id()?;
        let record = json!({
            "seq": seq,
            "time": format_rfc3339(now_ms()),
            "from": c.from.to_string(),
            "action": c.action.as_str(),
            "kind": c.kind.noun(),
            "id": c.id,
            "old": c.old,
            "new": c.new,
        });
        self.tree.insert(
            seq.to_be_bytes(),
            serde_json::to_vec(&record).expect("JSON"),
        )?;
        Ok(())
    }

    /// Up to `limit` records, newest first, older than `before` (a `seq`) when given; and the
    /// `before` of the next page, if there is one.
    pub fn page(
        &self,
        before: Option<u64>,
        limit: usize,
    ) -> Result<(Vec<Value>, Option<u64>), StateError> {
        let end = before.unwrap_or(u64::MAX).to_be_bytes();
        let mut out = Vec::with_capacity(limit);
        for kv in self.tree.range(..end).rev() {
            let (k, v) = kv?;
            if out.len() == limit {
                let seq = u64::from_be_bytes(k.as_ref().try_into().unwrap_or([0; 8]));
                return Ok((out, Some(seq + 1)));
            }
            if let Ok(record) = serde_json::from_slice(&v) {
                out.push(record);
            }
        }
        Ok((out, None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records come back newest first, a page at a time, each page's cursor leading to the
    /// next older record and none repeated or skipped.
    #[test]
    fn the_trail_pages_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::open(dir.path()).unwrap();
        let audit = CalendarAudit::open(&store).unwrap();
        let from: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        for id in ["a", "b", "c"] {
            let new = json!({"id": id});
            audit
                .record(&Change {
                    action: Action::Create,
                    kind: EntryKind::Ticket,
                    id,
                    from,
                    old: None,
                    new: Some(&new),
                })
                .unwrap();
        }
        let (first, next) = audit.page(None, 2).unwrap();
        let ids: Vec<&str> = first.iter().map(|r| r["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["c", "b"]);
        assert_eq!(first[0]["from"], "127.0.0.1:40000");
        assert_eq!(first[0]["old"], Value::Null);
        let (rest, next) = audit.page(next, 2).unwrap();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0]["id"], "a");
        assert_eq!(next, None);
    }
}
