//! Which alerts a query selects, newest first, one page at a time: the API's `/alerts` and the
//! console's queue read the store through this one filter, so they always agree, and neither
//! loads more alerts than a page needs.

use serde::Serialize;

use crate::correlate::Severity;
use crate::state::triage::{Triage, TriageState};
use crate::state::{StateError, StateStore};
use crate::suppress::Alert;
use crate::time::{Millis, parse_rfc3339};

use super::api_error::ApiError;

/// Largest page, and the default one.
pub const MAX_LIMIT: usize = 1000;
pub const DEFAULT_LIMIT: usize = 100;

/// Which triage state an alert must have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TriageFilter {
    /// Nobody triaged it yet.
    Untriaged,
    Is(TriageState),
}

/// A checked alert query.
#[derive(Clone, Debug, Default)]
pub struct AlertFilter {
    /// Canonical device id.
    pub device: Option<String>,
    /// `last_seen` at or after.
    pub since: Option<Millis>,
    /// `first_seen` at or before.
    pub until: Option<Millis>,
    pub min_severity: Option<Severity>,
    pub suppressed: Option<bool>,
    /// Escalated: in a ticket's or window's time but outside its scope.
    pub escalated: Option<bool>,
    pub triage: Option<TriageFilter>,
}

/// The query parameters as sent (API and console use the same names).
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct AlertParams {
    pub device: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub severity: Option<String>,
    pub suppressed: Option<bool>,
    pub escalated: Option<bool>,
    pub triage: Option<String>,
    pub limit: Option<usize>,
    pub cursor: Option<u64>,
}

pub fn parse_severity(s: &str) -> Option<Severity> {
    serde_json::from_value(serde_json::Value::String(s.to_ascii_lowercase())).ok()
}

impl AlertParams {
    /// Checks the parameters; an empty text counts as absent (an HTML form sends empty
    /// fields). `device_id` canonicalises a device name as a line's would be.
    pub fn filter(&self, device_id: impl Fn(&str) -> String) -> Result<AlertFilter, ApiError> {
        let given = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
        let time = |name: &str, v: &Option<String>| match given(v) {
            None => Ok(None),
            Some(t) => parse_rfc3339(&t)
                .map(Some)
                .ok_or_else(|| ApiError::bad_field(name, "not an RFC 3339 time")),
        };
        let min_severity = match given(&self.severity) {
            None => None,
            Some(s) => Some(parse_severity(&s).ok_or_else(|| {
                ApiError::bad_field("severity", "one of info, low, medium, high, critical")
            })?),
        };
        let triage = match given(&self.triage) {
            None => None,
            Some(t) if t == "none" => Some(TriageFilter::Untriaged),
            Some(t) => Some(TriageFilter::Is(TriageState::parse(&t).ok_or_else(
                || {
                    ApiError::bad_field(
                        "triage",
                        "one of none, acknowledged, confirmed, false_positive",
                    )
                },
            )?)),
        };
        Ok(AlertFilter {
            device: given(&self.device).map(|d| device_id(d.trim())),
            since: time("since", &self.since)?,
            until: time("until", &self.until)?,
            min_severity,
            suppressed: self.suppressed,
            escalated: self.escalated,
            triage,
        })
    }

    pub fn limit(&self) -> usize {
        self.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT)
    }
}

/// An alert with its triage, as listed.
#[derive(Clone, Debug, Serialize)]
pub struct ListedAlert {
    #[serde(flatten)]
    pub alert: Alert,
    /// Every decision, the latest last; absent (`null`) when nobody triaged it.
    pub triage: Option<Triage>,
}

/// One page, and the cursor of the next (None: this was the last).
pub struct AlertPage {
    pub alerts: Vec<ListedAlert>,
    pub next: Option<u64>,
}

/// The fields of a stored alert a filter looks at: decoding only these skips the evidence,
/// which is most of a record, for the alerts a filter drops.
#[derive(serde::Deserialize)]
struct AlertHead {
    device: String,
    severity: Severity,
    suppressed: bool,
    escalated_by: Option<String>,
    first_seen: String,
    last_seen: String,
}

impl AlertFilter {
    fn keeps(&self, alert: &AlertHead, triage: Option<&Triage>) -> bool {
        let first = parse_rfc3339(&alert.first_seen).unwrap_or(0);
        let last = parse_rfc3339(&alert.last_seen).unwrap_or(0);
        let state = triage.and_then(Triage::current).map(|t| t.state);
        self.device.as_ref().is_none_or(|d| *d == alert.device)
            && self.since.is_none_or(|s| last >= s)
            && self.until.is_none_or(|u| first <= u)
            && self.min_severity.is_none_or(|m| alert.severity >= m)
            && self.suppressed.is_none_or(|s| s == alert.suppressed)
            && self
                .escalated
                .is_none_or(|e| e == alert.escalated_by.is_some())
            && self.triage.is_none_or(|t| match t {
                TriageFilter::Untriaged => state.is_none(),
                TriageFilter::Is(want) => state == Some(want),
            })
    }

    /// Up to `limit` alerts, newest record first, starting below `cursor`. An alert is listed
    /// once, at its newest revision's place: older log entries of an alert already listed are
    /// skipped, and so is a log entry older than the record it points to (its id was revised
    /// later and appears, or appeared, above).
    pub fn page(
        &self,
        store: &StateStore,
        limit: usize,
        cursor: Option<u64>,
    ) -> Result<AlertPage, StateError> {
        let mut seen = std::collections::HashSet::new();
        let mut alerts = Vec::new();
        let mut next = None;
        for item in store.alert_ids_newest_first(cursor) {
            let (seq, id) = item?;
            if !seen.insert(id.clone()) {
                continue;
            }
            // The first entry of an id met on a later page may be an older revision whose
            // newest one a previous page listed.
            if store
                .latest_alert_seq(&id)?
                .is_some_and(|latest| latest != seq)
            {
                continue;
            }
            let Some(head) = store.alert_as::<AlertHead>(&id)? else {
                continue;
            };
            // Triage is read before filtering only when the filter asks about it.
            let mut triage = None;
            if self.triage.is_some() {
                triage = store.triage(&id)?;
            }
            if !self.keeps(&head, triage.as_ref()) {
                continue;
            }
            if alerts.len() == limit {
                next = Some(seq + 1);
                break;
            }
            let Some(alert) = store.alert(&id)? else {
                continue;
            };
            if self.triage.is_none() {
                triage = store.triage(&id)?;
            }
            alerts.push(ListedAlert { alert, triage });
        }
        Ok(AlertPage { alerts, next })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn alert(id: &str, revision: u32, device: &str) -> Alert {
        serde_json::from_value(json!({
            "id": id, "revision": revision, "device": device, "rule_id": "r", "title": "t",
            "severity": "high", "confidence": 0.9, "suppressed": false, "suppressed_by": null,
            "reason": "r", "first_seen": "2026-06-02T00:00:00.000Z",
            "last_seen": "2026-06-02T01:00:00.000Z", "evidence": [], "images": [], "servers": [],
            "users": [], "version_before": null, "version_after": null, "escalated_by": null,
            "mitre_technique": "T1601"
        }))
        .unwrap()
    }

    /// Paging through the log lists an alert once, at its newest revision's place, however
    /// the pages fall; a device filter keeps only that device's alerts.
    #[test]
    fn pages_list_each_alert_once_at_its_newest_revision() {
        let store = StateStore::temporary().unwrap();
        store.put_alert(&alert("a", 1, "rtr-1")).unwrap();
        store.put_alert(&alert("b", 1, "rtr-2")).unwrap();
        store.put_alert(&alert("a", 2, "rtr-1")).unwrap();
        store.put_alert(&alert("c", 1, "rtr-1")).unwrap();
        let all = AlertFilter::default();
        let mut ids = Vec::new();
        let mut cursor = None;
        loop {
            let page = all.page(&store, 1, cursor).unwrap();
            ids.extend(
                page.alerts
                    .iter()
                    .map(|l| (l.alert.id.clone(), l.alert.revision)),
            );
            match page.next {
                Some(n) => cursor = Some(n),
                None => break,
            }
        }
        assert_eq!(
            ids,
            [("c".into(), 1), ("a".into(), 2), ("b".into(), 1)],
            "newest first, once each"
        );
        let rtr1 = AlertFilter {
            device: Some("rtr-1".into()),
            ..AlertFilter::default()
        };
        let page = rtr1.page(&store, 10, None).unwrap();
        let ids: Vec<&str> = page.alerts.iter().map(|l| l.alert.id.as_str()).collect();
        assert_eq!(ids, ["c", "a"]);
        assert_eq!(store.alert_revisions("a").unwrap().len(), 2);
    }
}
