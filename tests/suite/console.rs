//! The console's server side without a browser: triage through the API, the same-origin check
//! on state changes, no CORS headers, and the pages' headers.

use std::net::SocketAddr;
use std::time::Duration;

use imagewatch::serve;
use serde_json::{Value, json};

use super::http_client;
use super::service::{config, edge_swap, send_lines, wait_alerts};

async fn post(http: SocketAddr, path: &str, body: Value, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut req = http_client()
        .post(format!("http://{http}{path}"))
        .json(&body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn get(http: SocketAddr, path: &str) -> Value {
    http_client()
        .get(format!("http://{http}{path}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Triage is stored beside the alert with who and when, returned with it (list and single
/// alert), filterable, refused with the field named when malformed, 404 for an unknown alert,
/// and still there after a restart; the alert record itself does not change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triage_is_kept_beside_the_alert_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let running = serve::start(config(dir.path())).await.unwrap();
    let http = running.http;
    send_lines(running.tcp.unwrap(), &edge_swap()).await;
    let alert = wait_alerts(http, "device=edge-0091", Duration::from_secs(5))
        .await
        .expect("an alert")[0]
        .clone();
    assert_eq!(alert["triage"], Value::Null);
    let id = alert["id"].as_str().unwrap();
    let path = format!("/api/v1/alerts/{id}/triage");

    let (status, body) = post(http, &path, json!({"state": "closed"}), &[]).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("state")));
    let (status, _) = post(
        http,
        "/api/v1/alerts/nope/triage",
        json!({"state": "confirmed"}),
        &[],
    )
    .await;
    assert_eq!(status, 404);
    let (status, body) = post(
        http,
        &path,
        json!({"state": "confirmed", "note": "image from an unknown server"}),
        &[],
    )
    .await;
    assert_eq!(status, 201, "{body}");

    let one = get(http, &format!("/api/v1/alerts/{id}")).await;
    let current = &one["triage"]["history"][0];
    assert_eq!(current["state"], "confirmed");
    assert_eq!(current["by"], "local");
    assert!(current["at"].as_str().unwrap().ends_with('Z'));
    // The alert record is as it was: only `triage` was added beside it.
    let mut record = one.clone();
    record.as_object_mut().unwrap().remove("triage");
    let mut before = alert.clone();
    before.as_object_mut().unwrap().remove("triage");
    assert_eq!(record, before);
    assert_eq!(
        get(http, "/api/v1/alerts?triage=confirmed").await["alerts"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        get(http, "/api/v1/alerts?triage=none").await["alerts"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let bad = get(http, "/api/v1/alerts?triage=maybe").await;
    assert_eq!(bad["field"], "triage");
    let queue = http_client()
        .get(format!("http://{http}/console/part/queue?triage=confirmed"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        queue.contains("Confirmed") && queue.contains("edge-0091"),
        "{queue}"
    );

    running.shutdown().await;
    let running = serve::start(config(dir.path())).await.unwrap();
    let after = get(running.http, &format!("/api/v1/alerts/{id}")).await;
    assert_eq!(
        after["triage"]["history"][0]["state"], "confirmed",
        "{after}"
    );
    assert_eq!(after["revision"], alert["revision"]);
    running.shutdown().await;
}

/// A state change a browser sends from another origin (another port of 127.0.0.1 included) is
/// refused with 403 and changes nothing; the same origin and plain clients pass; a CORS
/// preflight gets no permission; pages carry a content security policy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_changes_from_another_origin_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let running = serve::start(config(dir.path())).await.unwrap();
    let http = running.http;
    let ticket = |id: &str| {
        json!({"id": id, "devices": ["rtr-*"], "start": "2026-06-01T00:00:00Z",
               "end": "2026-06-01T01:00:00Z"})
    };
    let foreign = format!("http://127.0.0.1:{}", http.port() + 1);
    for headers in [
        vec![("origin", foreign.as_str())],
        vec![("origin", "null")],
        vec![("sec-fetch-site", "cross-site")],
        vec![
            ("sec-fetch-site", "same-site"),
            ("origin", foreign.as_str()),
        ],
    ] {
        let (status, body) = post(http, "/api/v1/tickets", ticket("EVIL"), &headers).await;
        assert_eq!(status, 403, "{headers:?}: {body}");
        assert!(body["error"].as_str().unwrap().contains("refused"));
        let (status, _) = post(http, "/api/v1/reload", json!({}), &headers).await;
        assert_eq!(status, 403);
    }
    let gone = http_client()
        .get(format!("http://{http}/api/v1/tickets/EVIL"))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status().as_u16(), 404);
    let own = format!("http://{http}");
    let (status, _) = post(
        http,
        "/api/v1/tickets",
        ticket("OWN"),
        &[("origin", own.as_str()), ("sec-fetch-site", "same-origin")],
    )
    .await;
    assert_eq!(status, 201);
    let (status, _) = post(http, "/api/v1/tickets", ticket("CURL"), &[]).await;
    assert_eq!(status, 201);
    let delete = http_client()
        .delete(format!("http://{http}/api/v1/tickets/OWN"))
        .header("origin", foreign.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status().as_u16(), 403);

    let preflight = http_client()
        .request(
            reqwest::Method::OPTIONS,
            format!("http://{http}/api/v1/tickets"),
        )
        .header("origin", foreign.as_str())
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert!(
        !preflight
            .headers()
            .keys()
            .any(|k| k.as_str().starts_with("access-control-")),
        "{:?}",
        preflight.headers()
    );
    let page = http_client()
        .get(format!("http://{http}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"));
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"<label for="f-severity">"#), "{html}");
    running.shutdown().await;
}
