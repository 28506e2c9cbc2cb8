//! The calendar in force through the API: every ticket and window listed with its source,
//! file ids refused to the API, broad tickets refused without `all_devices`, and every change
//! kept in the audit trail in sled (across a restart).

use std::path::Path;

use imagewatch::serve::{self, ServeConfig};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::service::config;

const CHANGES: &str = r#"
maintenance_windows:
  - id: MW-SUNDAY
    devices: ["core-*"]
    cron: "0 2 * * 0"
    duration: 4h
    timezone: Europe/Berlin
change_tickets:
  - id: CHG-FILE-1
    devices: ["rtr-0042"]
    start: 2026-06-02T20:00:00Z
    end: 2026-06-03T02:00:00Z
    images: ["c2900-universalk9-mz.SPA.157-3.M9.bin"]
"#;

fn service_config(dir: &Path) -> ServeConfig {
    let cfg = config(dir);
    std::fs::write(dir.join("changes.yaml"), CHANGES).unwrap();
    cfg
}

fn ticket(id: &str, devices: &[&str], start: &str, end: &str) -> Value {
    json!({"id": id, "devices": devices, "start": start, "end": end})
}

async fn get(url: &str) -> Value {
    let r = super::http_client().get(url).send().await.unwrap();
    assert_eq!(r.status(), 200, "{url}");
    r.json().await.unwrap()
}

/// Status and JSON body of a request.
async fn send(req: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let r = req.send().await.unwrap();
    let status = r.status();
    let body = r.json().await.unwrap_or(Value::Null);
    (status, body)
}

fn ids_and_sources(list: &Value) -> Vec<(String, String)> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["id"].as_str().unwrap().to_owned(),
                t["source"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// GET lists the file's ticket and window beside the API's, each with its source; the file's
/// id cannot be taken over (POST) or deleted through the API (409 naming `id`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listing_shows_every_entry_with_its_source_and_file_ids_stay_the_files() {
    let tmp = tempfile::tempdir().unwrap();
    let running = serve::start(service_config(tmp.path())).await.unwrap();
    let api = format!("http://{}/api/v1", running.http);
    let client = super::http_client();

    let (status, _) = send(client.post(format!("{api}/tickets")).json(&ticket(
        "CHG-API-1",
        &["edge-0091"],
        "2026-06-02T20:00:00Z",
        "2026-06-03T02:00:00Z",
    )))
    .await;
    assert_eq!(status, 201);
    let tickets = get(&format!("{api}/tickets")).await;
    assert_eq!(
        ids_and_sources(&tickets["tickets"]),
        [
            ("CHG-FILE-1".to_owned(), "file".to_owned()),
            ("CHG-API-1".to_owned(), "api".to_owned())
        ],
        "{tickets}"
    );
    let file_ticket = &tickets["tickets"][0];
    assert_eq!(file_ticket["devices"], json!(["rtr-0042"]));
    assert_eq!(file_ticket["start"], "2026-06-02T20:00:00.000Z");
    assert_eq!(
        file_ticket["images"],
        json!(["c2900-universalk9-mz.SPA.157-3.M9.bin"])
    );
    let windows = get(&format!("{api}/windows")).await;
    assert_eq!(
        ids_and_sources(&windows["windows"]),
        [("MW-SUNDAY".to_owned(), "file".to_owned())]
    );
    assert_eq!(windows["windows"][0]["cron"], "0 2 * * 0");
    assert_eq!(windows["windows"][0]["duration"], "4h");
    assert_eq!(windows["windows"][0]["timezone"], "Europe/Berlin");
    let one = get(&format!("{api}/tickets/CHG-FILE-1")).await;
    assert_eq!(one["source"], "file");

    let (status, body) = send(client.post(format!("{api}/tickets")).json(&ticket(
        "CHG-FILE-1",
        &["*"],
        "2026-06-02T20:00:00Z",
        "2126-06-03T02:00:00Z",
    )))
    .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["field"], "id", "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("changes.yaml"),
        "{body}"
    );
    let (status, body) = send(client.delete(format!("{api}/tickets/CHG-FILE-1"))).await;
    assert_eq!(status, 409, "{body}");
    let (status, _) = send(client.post(format!("{api}/windows")).json(&json!({
        "id": "MW-SUNDAY", "devices": ["core-*"], "cron": "0 3 * * 0", "duration": "1h"
    })))
    .await;
    assert_eq!(status, 409);
    let still = get(&format!("{api}/tickets/CHG-FILE-1")).await;
    assert_eq!(
        still["devices"],
        json!(["rtr-0042"]),
        "the file's ticket stands"
    );
    running.shutdown().await;
}

/// A ticket for every device (`*`) or over more than 31 days is refused naming the field,
/// unless the body says `"all_devices": true`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broad_tickets_need_all_devices() {
    let tmp = tempfile::tempdir().unwrap();
    let running = serve::start(service_config(tmp.path())).await.unwrap();
    let url = format!("http://{}/api/v1/tickets", running.http);
    let client = super::http_client();
    let (day, next_day) = ("2026-06-02T20:00:00Z", "2026-06-03T02:00:00Z");

    for (devices, end, field) in [
        (&["*"][..], next_day, "devices"),
        (&["rtr-*", "**"][..], next_day, "devices"),
        (&["rtr-0042"][..], "2126-06-03T02:00:00Z", "end"),
        (&["rtr-0042"][..], "2026-07-03T20:00:01Z", "end"),
    ] {
        let body = ticket("CHG-BROAD", devices, day, end);
        let (status, refused) = send(client.post(&url).json(&body)).await;
        assert_eq!(status, 400, "{devices:?} to {end}: {refused}");
        assert_eq!(refused["field"], field, "{refused}");
        assert!(
            refused["error"].as_str().unwrap().contains("all_devices"),
            "{refused}"
        );
        let mut allowed = body.clone();
        allowed["all_devices"] = json!(true);
        let (status, created) = send(client.post(&url).json(&allowed)).await;
        assert_eq!(status, 201, "{created}");
    }
    // 31 days exactly, a glob of some devices: no flag needed.
    let (status, _) = send(client.post(&url).json(&ticket(
        "CHG-MONTH",
        &["rtr-*"],
        day,
        "2026-07-03T20:00:00Z",
    )))
    .await;
    assert_eq!(status, 201);
    let (status, body) = send(client.post(&url).json(&json!({
        "id": "CHG-X", "devices": ["*"], "start": day, "end": next_day, "all_devices": "yes"
    })))
    .await;
    assert_eq!(
        (status, body["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("all_devices"))
    );
    running.shutdown().await;
}

/// Create, replace and delete through the API each leave a record (time, source address, old
/// and new entry) in the audit trail, newest first, kept in sled across a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_calendar_change_is_in_the_audit_trail() {
    let tmp = tempfile::tempdir().unwrap();
    let running = serve::start(service_config(tmp.path())).await.unwrap();
    let api = format!("http://{}/api/v1", running.http);
    let client = super::http_client();
    let first = ticket(
        "CHG-AUDIT",
        &["edge-0091"],
        "2026-06-02T20:00:00Z",
        "2026-06-03T02:00:00Z",
    );
    let mut second = first.clone();
    second["end"] = json!("2026-06-03T04:00:00Z");
    assert_eq!(
        send(client.post(format!("{api}/tickets")).json(&first))
            .await
            .0,
        201
    );
    assert_eq!(
        send(client.post(format!("{api}/tickets")).json(&second))
            .await
            .0,
        201
    );
    assert_eq!(
        send(client.delete(format!("{api}/tickets/CHG-AUDIT")))
            .await
            .0,
        204
    );
    let window = json!({"id": "MW-API", "devices": ["edge-*"], "start": "2026-06-02T20:00:00Z",
                        "end": "2026-06-02T22:00:00Z"});
    assert_eq!(
        send(client.post(format!("{api}/windows")).json(&window))
            .await
            .0,
        201
    );
    running.shutdown().await;

    // The trail is in the state directory: a restarted service still shows it.
    let running = serve::start(service_config(tmp.path())).await.unwrap();
    let api = format!("http://{}/api/v1", running.http);
    let trail = get(&format!("{api}/calendar/audit")).await;
    let changes = trail["changes"].as_array().unwrap();
    let seen: Vec<(&str, &str, &str)> = changes
        .iter()
        .map(|c| {
            (
                c["action"].as_str().unwrap(),
                c["kind"].as_str().unwrap(),
                c["id"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("create", "window", "MW-API"),
            ("delete", "ticket", "CHG-AUDIT"),
            ("replace", "ticket", "CHG-AUDIT"),
            ("create", "ticket", "CHG-AUDIT"),
        ],
        "{trail}"
    );
    let (delete, replace, create) = (&changes[1], &changes[2], &changes[3]);
    assert_eq!(create["old"], Value::Null);
    assert_eq!(create["new"], first);
    assert_eq!(replace["old"], first);
    assert_eq!(replace["new"], second);
    assert_eq!(delete["old"], second);
    assert_eq!(delete["new"], Value::Null);
    for c in changes {
        assert!(c["from"].as_str().unwrap().starts_with("127.0.0.1:"), "{c}");
        assert!(
            imagewatch::parse_rfc3339(c["time"].as_str().unwrap()).is_some(),
            "{c}"
        );
    }
    let page = get(&format!("{api}/calendar/audit?limit=3")).await;
    assert_eq!(page["changes"].as_array().unwrap().len(), 3);
    let rest = get(&format!(
        "{api}/calendar/audit?limit=3&before={}",
        page["next"]
    ))
    .await;
    assert_eq!(rest["changes"].as_array().unwrap().len(), 1);
    assert_eq!(rest["changes"][0]["action"], "create");
    assert_eq!(rest["next"], Value::Null);
    running.shutdown().await;
}
