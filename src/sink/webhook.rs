//! The webhook sink: alert records POSTed to an HTTP(S) receiver such as a SIEM's ingest
//! endpoint. One record per request with `Idempotency-Key: <id>:<revision>` (so a receiver can
//! recognise a record delivered again after a crash), or a batch per request: a JSON array,
//! NDJSON, or an Elasticsearch `_bulk` body whose `_id` is `<id>:<revision>`. Request headers
//! (an `Authorization` for Splunk HEC or an Elastic API key) may be read from files; their
//! values appear in no log and no error. A CA bundle and a client certificate (mutual TLS)
//! are optional.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;

use crate::suppress::Alert;

use super::render::{AlertFormat, render_bytes};

/// A header value that must not be seen: its `Debug` says nothing of it, so a logged
/// configuration cannot leak it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    pub fn new(value: String) -> SecretValue {
        SecretValue(value)
    }

    fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// How many records one request carries, and how.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Batch {
    /// One record per request, with `Idempotency-Key: <id>:<revision>`.
    #[default]
    Off,
    /// A JSON array of records (`application/json`).
    Array,
    /// One record per line (`application/x-ndjson`): Splunk HEC's raw endpoint, Vector, …
    Ndjson,
    /// An Elasticsearch `_bulk` body: `{"create":{"_id":"<id>:<revision>"}}` before each
    /// record, so a record delivered twice is refused as a conflict instead of stored twice.
    Bulk,
}

/// Everything the webhook sink needs.
#[derive(Clone, Debug, PartialEq)]
pub struct WebhookSettings {
    pub url: String,
    /// Extra request headers (checked names; values never logged).
    pub headers: Vec<(String, SecretValue)>,
    /// PEM bundle of the CAs that may sign the receiver's certificate. The build trusts no
    /// CA of its own: an `https` URL needs it.
    pub ca: Option<PathBuf>,
    /// Client certificate chain and key (PEM) for receivers that require mutual TLS.
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    pub batch: Batch,
    /// Most records per request in a batch mode.
    pub batch_max: usize,
    /// Longest a record waits for others to fill its batch.
    pub batch_wait: Duration,
}

impl WebhookSettings {
    /// Plain settings for `url`: one record per request, no extra header, no TLS files.
    pub fn new(url: impl Into<String>) -> WebhookSettings {
        WebhookSettings {
            url: url.into(),
            headers: Vec::new(),
            ca: None,
            client_cert: None,
            client_key: None,
            batch: Batch::Off,
            batch_max: 1,
            batch_wait: Duration::ZERO,
        }
    }

    /// (most records per request, longest wait for a batch to fill), or None unbatched.
    pub fn batching(&self) -> Option<(usize, Duration)> {
        (self.batch != Batch::Off).then_some((self.batch_max.max(1), self.batch_wait))
    }
}

/// Checks a header name and value as an HTTP request will carry them; the error never
/// contains the value.
pub fn check_header(name: &str, value: &str) -> Result<(), String> {
    HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("{name:?} is not a valid header name"))?;
    HeaderValue::from_str(value)
        .map_err(|_| format!("the value of header {name} is not a valid header value (a control character or non-ASCII byte?)"))?;
    Ok(())
}

/// One webhook receiver.
pub struct Webhook {
    settings: WebhookSettings,
    /// The client, or why it could not be built (bad CA or certificate files): reported at
    /// each delivery, so the outbox keeps the alerts until the files are fixed.
    client: Result<reqwest::Client, String>,
    headers: HeaderMap,
}

impl Webhook {
    pub fn new(settings: WebhookSettings) -> Webhook {
        let client = build_client(&settings);
        if let Err(e) = &client {
            tracing::error!(error = %e, "Cannot build the webhook client; alerts wait in the outbox.");
        }
        let mut headers = HeaderMap::new();
        for (name, value) in &settings.headers {
            // Checked when the configuration was read; a bad one is left out, never logged.
            if let (Ok(n), Ok(mut v)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value.expose()),
            ) {
                v.set_sensitive(true);
                headers.insert(n, v);
            }
        }
        Webhook {
            settings,
            client,
            headers,
        }
    }

    /// Delivers `alerts` (one, or a batch) as one request; Ok only on a 2xx answer (and, for a
    /// `_bulk` body, no item refused but as a duplicate).
    pub async fn deliver(&self, alerts: &[Alert], format: AlertFormat) -> Result<(), String> {
        let client = self.client.as_ref().map_err(Clone::clone)?;
        let mut request = client
            .post(&self.settings.url)
            .headers(self.headers.clone());
        let (content_type, body) = match self.settings.batch {
            Batch::Off => {
                let mut body = Vec::new();
                for a in alerts {
                    request = request.header("idempotency-key", format!("{}:{}", a.id, a.revision));
                    body = render_bytes(a, format);
                }
                ("application/json", body)
            }
            Batch::Array => {
                let mut body = b"[".to_vec();
                for (i, a) in alerts.iter().enumerate() {
                    if i > 0 {
                        body.push(b',');
                    }
                    body.extend(render_bytes(a, format));
                }
                body.push(b']');
                ("application/json", body)
            }
            Batch::Ndjson => {
                let mut body = Vec::new();
                for a in alerts {
                    body.extend(render_bytes(a, format));
                    body.push(b'\n');
                }
                ("application/x-ndjson", body)
            }
            Batch::Bulk => {
                let mut body = Vec::new();
                for a in alerts {
                    let action =
                        serde_json::json!({"create": {"_id": format!("{}:{}", a.id, a.revision)}});
                    body.extend(action.to_string().into_bytes());
                    body.push(b'\n');
                    body.extend(render_bytes(a, format));
                    body.push(b'\n');
                }
                ("application/x-ndjson", body)
            }
        };
        let resp = request
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .map_err(describe)?;
        let status = resp.status();
        if !status.is_success() {
            return Err(format!("HTTP {status}"));
        }
        if self.settings.batch == Batch::Bulk {
            let answer: serde_json::Value = resp.json().await.map_err(describe)?;
            return bulk_outcome(&answer);
        }
        Ok(())
    }
}

/// A reqwest error without the URL (which may carry a token in its query) but with its causes
/// (a TLS refusal names the certificate problem there).
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// An Elasticsearch `_bulk` answer: every item created, or refused as a duplicate (409, the
/// record is there already), is a delivery; any other refusal is not, and is named.
fn bulk_outcome(answer: &serde_json::Value) -> Result<(), String> {
    if answer["errors"] != serde_json::Value::Bool(true) {
        return Ok(());
    }
    let items = answer["items"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    for item in items {
        let Some(result) = item.as_object().and_then(|o| o.values().next()) else {
            continue;
        };
        let status = result["status"].as_u64().unwrap_or(0);
        if !(200..300).contains(&status) && status != 409 {
            return Err(format!(
                "_bulk refused {}: HTTP {status}: {}",
                result["_id"].as_str().unwrap_or("a record"),
                result["error"]["reason"]
                    .as_str()
                    .unwrap_or("no reason given")
            ));
        }
    }
    Ok(())
}

fn build_client(s: &WebhookSettings) -> Result<reqwest::Client, String> {
    // reqwest here is built without a crypto provider of its own: ring, as everywhere else.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = reqwest::Client::builder().timeout(Duration::from_secs(10));
    if let Some(ca) = &s.ca {
        let pem = std::fs::read(ca).map_err(|e| format!("webhook CA {}: {e}", ca.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("webhook CA {}: {e}", ca.display()))?;
        if certs.is_empty() {
            return Err(format!("webhook CA {}: no certificate in it", ca.display()));
        }
        for c in certs {
            builder = builder.add_root_certificate(c);
        }
    }
    match (&s.client_cert, &s.client_key) {
        (Some(cert), Some(key)) => {
            let mut pem = std::fs::read(cert)
                .map_err(|e| format!("webhook client certificate {}: {e}", cert.display()))?;
            pem.push(b'\n');
            pem.extend(
                std::fs::read(key)
                    .map_err(|e| format!("webhook client key {}: {e}", key.display()))?,
            );
            // The error names no byte of the key.
            let identity = reqwest::Identity::from_pem(&pem).map_err(|_| {
                format!(
                    "webhook client certificate {} and key {}: not a PEM certificate chain and private key",
                    cert.display(),
                    key.display()
                )
            })?;
            builder = builder.identity(identity);
        }
        (None, None) => {}
        _ => return Err("webhook client certificate and key go together".to_string()),
    }
    builder
        .build()
        .map_err(|e| format!("cannot build HTTP client: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_show_in_debug() {
        let mut s = WebhookSettings::new("http://127.0.0.1:1/");
        s.headers.push((
            "Authorization".into(),
            SecretValue::new("Splunk s3cr3t".into()),
        ));
        assert!(!format!("{s:?}").contains("s3cr3t"));
        assert!(
            check_header("Authorization", "a\nb")
                .unwrap_err()
                .contains("Authorization")
        );
        assert!(
            !check_header("X", "s3cr3t\u{7f}")
                .unwrap_err()
                .contains("s3cr3t")
        );
        assert!(check_header("Bad Name", "v").is_err());
    }

    #[test]
    fn a_bulk_answer_fails_only_on_refusals_other_than_duplicates() {
        let ok = serde_json::json!({"errors": false, "items": []});
        assert!(bulk_outcome(&ok).is_ok());
        let dup = serde_json::json!({"errors": true, "items": [
            {"create": {"_id": "a:1", "status": 201}},
            {"create": {"_id": "b:1", "status": 409, "error": {"reason": "exists"}}}]});
        assert!(bulk_outcome(&dup).is_ok());
        let bad = serde_json::json!({"errors": true, "items": [
            {"create": {"_id": "c:2", "status": 400, "error": {"reason": "mapper_parsing_exception"}}}]});
        let e = bulk_outcome(&bad).unwrap_err();
        assert!(e.contains("c:2") && e.contains("400"), "{e}");
    }
}
