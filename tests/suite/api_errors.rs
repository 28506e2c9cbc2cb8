//! Every API error has one shape, `{"error": …, "field": …}` as JSON, over real HTTP: bad
//! query strings and bodies included (axum's own rejections are plain text), with `field`
//! naming the parameter or body field at fault.

use std::net::SocketAddr;

use imagewatch::serve::{self, ServeConfig};
use serde_json::{Value, json};

use super::service::config;

/// Sends `req` and returns its status and JSON body, failing unless the body is the error
/// shape: a JSON object with exactly `error` (a non-empty string) and `field`.
async fn api_error(req: reqwest::RequestBuilder) -> (u16, Value) {
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let content_type = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = r.text().await.unwrap();
    assert_eq!(content_type, "application/json", "{status}: {text}");
    let body: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let keys: Vec<&String> = body.as_object().expect("an object").keys().collect();
    assert_eq!(keys, ["error", "field"], "{body}");
    assert!(
        body["error"].as_str().is_some_and(|s| !s.is_empty()),
        "{body}"
    );
    (status, body)
}

fn url(http: SocketAddr, path: &str) -> String {
    format!("http://{http}/api/v1/{path}")
}

/// A query parameter that does not parse is a 400 naming it, not axum's plain-text
/// `Failed to deserialize query string: cursor: …`; so are values the handler checks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_query_parameters_are_json_errors_naming_the_parameter() {
    let tmp = tempfile::tempdir().unwrap();
    let running = serve::start(config(tmp.path())).await.unwrap();
    let client = reqwest::Client::new();
    for (path, field) in [
        ("alerts?cursor=abc", "cursor"),
        ("alerts?limit=-1", "limit"),
        ("alerts?suppressed=maybe", "suppressed"),
        ("alerts?since=yesterday", "since"),
        ("alerts?until=2026", "until"),
        ("alerts?severity=loud", "severity"),
        ("devices?limit=many", "limit"),
    ] {
        let (status, body) = api_error(client.get(url(running.http, path))).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["field"], field, "{path}: {body}");
        let reason = body["error"].as_str().unwrap();
        assert!(reason.starts_with(&format!("{field}: ")), "{path}: {body}");
    }
    running.shutdown().await;
}

/// A body that is not JSON (400), has no JSON content type (415) or a ticket whose device
/// glob is bad (400 naming `devices`) all answer in the one shape.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_are_json_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let running = serve::start(config(tmp.path())).await.unwrap();
    let client = reqwest::Client::new();
    let tickets = url(running.http, "tickets");

    let (status, body) = api_error(
        client
            .post(&tickets)
            .header("content-type", "application/json")
            .body("{not json"),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["field"], Value::Null, "{body}");

    let (status, body) = api_error(client.post(&tickets).body(r#"{"id": "C1"}"#)).await;
    assert_eq!(status, 415, "{body}");
    assert_eq!(body["field"], Value::Null, "{body}");

    let bad_glob = json!({"id": "CHG-GLOB", "devices": ["rtr-[0-9"],
                          "start": "2026-06-01T00:00:00Z", "end": "2026-06-01T01:00:00Z"});
    let (status, body) = api_error(client.post(&tickets).json(&bad_glob)).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["field"], "devices", "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("bad device glob"),
        "{body}"
    );

    let (status, body) =
        api_error(client.post(url(running.http, "windows")).json(&json!([1]))).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["field"], Value::Null, "{body}");
    running.shutdown().await;
}

/// Unknown routes, wrong methods, missing entries and a missing token: the same shape.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_and_auth_errors_are_json() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = ServeConfig {
        token: Some("s3cret-token".into()),
        ..config(tmp.path())
    };
    let running = serve::start(cfg).await.unwrap();
    let client = reqwest::Client::new();
    let http = running.http;

    let (status, _) = api_error(client.get(url(http, "alerts"))).await;
    assert_eq!(status, 401);
    let (status, _) = api_error(
        client
            .get(url(http, "nothing-here"))
            .bearer_auth("s3cret-token"),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = api_error(
        client
            .delete(url(http, "alerts"))
            .bearer_auth("s3cret-token"),
    )
    .await;
    assert_eq!(status, 405);
    let (status, _) = api_error(
        client
            .get(url(http, "tickets/NONE"))
            .bearer_auth("s3cret-token"),
    )
    .await;
    assert_eq!(status, 404);
    running.shutdown().await;
}
