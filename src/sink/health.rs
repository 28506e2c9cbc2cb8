//! Whether each sink is delivering: since when one has been failing and why, for `/healthz`
//! and the log. A sink that cannot deliver holds every alert after the first in its outbox, so
//! a failure that lasts must be seen by whoever watches the service, not only in its log.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One sink's delivery health, shared by its delivery task (which writes it) and the API.
#[derive(Debug)]
pub struct SinkHealth {
    /// `ndjson` or `webhook`.
    pub sink: &'static str,
    /// What the sink delivers to, safe to show: the file's path, the webhook URL without its
    /// credentials and query.
    pub target: String,
    /// The ongoing failure, if the last delivery failed. A std mutex: held for a copy, never
    /// across an `.await`.
    failing: Mutex<Option<Failing>>,
}

#[derive(Clone, Debug)]
struct Failing {
    since: Instant,
    reason: String,
}

/// A sink that has been failing for longer than allowed, as `/healthz` reports it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SinkFailure {
    pub sink: &'static str,
    pub target: String,
    pub reason: String,
    pub failing_for_secs: u64,
}

impl SinkHealth {
    pub fn new(sink: &'static str, target: String) -> SinkHealth {
        SinkHealth {
            sink,
            target,
            failing: Mutex::new(None),
        }
    }

    /// Notes a failed delivery: the failure lasts from the first of a run of them, with the
    /// latest reason.
    pub fn failed(&self, reason: &str) {
        let mut f = self.failing.lock().expect("no panic while holding it");
        match f.as_mut() {
            Some(ongoing) => ongoing.reason = reason.to_owned(),
            None => {
                *f = Some(Failing {
                    since: Instant::now(),
                    reason: reason.to_owned(),
                })
            }
        }
    }

    /// Notes a delivery; returns how long the sink had been failing, if it had.
    pub fn delivered(&self) -> Option<Duration> {
        let mut f = self.failing.lock().expect("no panic while holding it");
        f.take().map(|ongoing| ongoing.since.elapsed())
    }

    /// The ongoing failure if it has lasted longer than `allowed`.
    pub fn failing_longer_than(&self, allowed: Duration) -> Option<SinkFailure> {
        let f = self.failing.lock().expect("no panic while holding it");
        let ongoing = f.as_ref()?;
        let lasted = ongoing.since.elapsed();
        (lasted > allowed).then(|| SinkFailure {
            sink: self.sink,
            target: self.target.clone(),
            reason: ongoing.reason.clone(),
            failing_for_secs: lasted.as_secs(),
        })
    }
}

/// A webhook URL as it may be logged and shown: without user name, password and query (where
/// receivers often take their secret); an unparsable URL is not shown at all.
pub fn shown_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.to_string()
        }
        Err(_) => "<unparsable URL>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_credentials_or_query() {
        assert_eq!(
            shown_url("https://alice:s3cret@siem.example.net:8443/hook?token=abc"),
            "https://siem.example.net:8443/hook"
        );
        assert_eq!(
            shown_url("http://127.0.0.1:9/alerts"),
            "http://127.0.0.1:9/alerts"
        );
        assert_eq!(shown_url("not a url"), "<unparsable URL>");
    }

    #[test]
    fn a_failure_counts_from_its_first_attempt_until_a_delivery() {
        let h = SinkHealth::new("ndjson", "/x".into());
        assert!(h.failing_longer_than(Duration::ZERO).is_none());
        h.failed("first");
        h.failed("second");
        let f = h.failing_longer_than(Duration::ZERO).expect("failing");
        assert_eq!((f.sink, f.reason.as_str()), ("ndjson", "second"));
        assert!(h.failing_longer_than(Duration::from_secs(60)).is_none());
        assert!(h.delivered().is_some());
        assert!(h.failing_longer_than(Duration::ZERO).is_none());
        assert!(h.delivered().is_none());
    }
}
