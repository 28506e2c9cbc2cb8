//! Analysts' triage of alerts (acknowledged, confirmed, false positive), kept beside the alert
//! records and never in them: an alert is what the engine concluded, triage is what a person
//! said about it, and a later revision of the alert keeps what was said.

use serde::{Deserialize, Serialize};

use super::{StateError, StateStore};

/// What an analyst said an alert is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriageState {
    /// Seen and being looked at.
    Acknowledged,
    /// The image change was real and unauthorised.
    Confirmed,
    /// Not an unauthorised change after all.
    FalsePositive,
}

impl TriageState {
    pub const ALL: [TriageState; 3] = [
        TriageState::Acknowledged,
        TriageState::Confirmed,
        TriageState::FalsePositive,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TriageState::Acknowledged => "acknowledged",
            TriageState::Confirmed => "confirmed",
            TriageState::FalsePositive => "false_positive",
        }
    }

    pub fn parse(text: &str) -> Option<TriageState> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// The words an analyst reads.
    pub fn label(self) -> &'static str {
        match self {
            TriageState::Acknowledged => "Acknowledged",
            TriageState::Confirmed => "Confirmed",
            TriageState::FalsePositive => "False positive",
        }
    }
}

/// One triage decision: what, why, who and when.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TriageEntry {
    pub state: TriageState,
    pub note: String,
    /// Who said so: the API token's identity, or `local` when the API has no token.
    pub by: String,
    /// Wall-clock time of the decision, RFC 3339 UTC.
    pub at: String,
}

/// Every decision about one alert, oldest first; the last one stands.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Triage {
    pub history: Vec<TriageEntry>,
}

impl Triage {
    pub fn current(&self) -> Option<&TriageEntry> {
        self.history.last()
    }
}

/// Decisions kept per alert; older ones stay readable as the alert's triage history.
const MAX_HISTORY: usize = 50;

impl StateStore {
    /// The triage of alert `id`, if anyone triaged it.
    pub fn triage(&self, id: &str) -> Result<Option<Triage>, StateError> {
        match self.triage.get(id.as_bytes())? {
            Some(v) => Ok(Some(Self::decode(id.as_bytes(), &v)?)),
            None => Ok(None),
        }
    }

    /// Adds a decision about alert `id` and makes it durable before returning.
    pub fn add_triage(&self, id: &str, entry: TriageEntry) -> Result<Triage, StateError> {
        let mut triage = self.triage(id)?.unwrap_or_default();
        triage.history.push(entry);
        if triage.history.len() > MAX_HISTORY {
            let extra = triage.history.len() - MAX_HISTORY;
            triage.history.drain(..extra);
        }
        self.triage.insert(id.as_bytes(), Self::encode(&triage))?;
        self.flush()?;
        Ok(triage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A decision survives reopening the store, the latest one stands, and the alert tree is
    /// not touched by it.
    #[test]
    fn triage_survives_reopen_and_the_latest_decision_stands() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = StateStore::open(dir.path()).unwrap();
            let entry = |state, at: &str| TriageEntry {
                state,
                note: "looked".into(),
                by: "local".into(),
                at: at.into(),
            };
            store
                .add_triage(
                    "a1",
                    entry(TriageState::Acknowledged, "2026-06-02T01:00:00.000Z"),
                )
                .unwrap();
            store
                .add_triage(
                    "a1",
                    entry(TriageState::FalsePositive, "2026-06-02T02:00:00.000Z"),
                )
                .unwrap();
            assert_eq!(store.alert("a1").unwrap(), None);
        }
        let store = StateStore::open(dir.path()).unwrap();
        let t = store.triage("a1").unwrap().expect("stored");
        assert_eq!(t.history.len(), 2);
        assert_eq!(t.current().unwrap().state, TriageState::FalsePositive);
        assert_eq!(store.triage("other").unwrap(), None);
        assert_eq!(
            TriageState::parse("false_positive"),
            Some(TriageState::FalsePositive)
        );
        assert_eq!(TriageState::parse("closed"), None);
    }
}
