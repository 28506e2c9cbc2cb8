//! The webhook sink: each alert record POSTed as JSON with `Idempotency-Key: <id>:<revision>`,
//! so a receiver can recognise a record delivered again after a crash.

use std::time::Duration;

/// One webhook receiver.
pub struct Webhook {
    url: String,
    client: Result<reqwest::Client, String>,
}

impl Webhook {
    pub fn new(url: String) -> Webhook {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("cannot build HTTP client: {e}"));
        Webhook { url, client }
    }

    /// Delivers one alert record; Ok only on a 2xx answer.
    pub async fn deliver(&self, json: &[u8]) -> Result<(), String> {
        let client = self.client.as_ref().map_err(Clone::clone)?;
        let v: serde_json::Value = serde_json::from_slice(json).map_err(|e| e.to_string())?;
        let key = format!(
            "{}:{}",
            v["id"].as_str().unwrap_or(""),
            v["revision"].as_u64().unwrap_or(0)
        );
        let resp = client
            .post(&self.url)
            .header("content-type", "application/json")
            .header("idempotency-key", key)
            .body(json.to_vec())
            .send()
            .await
            .map_err(reason)?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(format!("HTTP {}", resp.status()))
        }
    }
}

/// Why a request failed, without its URL (reqwest's message carries it, query and all, and the
/// query may hold the receiver's secret; the sink's target is logged beside the reason) and
/// with the causes that say what happened (`Connection refused`).
fn reason(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    text
}
