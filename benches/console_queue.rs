//! The console's alert queue with 10,000 alerts in the store: how long the first page takes
//! to serve over HTTP, end to end (request, filter, sled reads, template, response), for the
//! console's fragment and the JSON API, and for a device filter that matches nothing (the
//! whole log is scanned: the worst case of a filtered page).
//!
//! Run with `cargo bench --bench console_queue` (`-- --quick` for a short run). The issue's
//! bound is 200 ms for the first page; criterion prints the median's estimate.

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use imagewatch::serve::{self, ServeConfig};
use imagewatch::{Alert, StateStore};
use serde_json::json;

const ALERTS: usize = 10_000;

fn alert(i: usize) -> Alert {
    let device = format!("rtr-{:04}", i % 500);
    let severity = ["medium", "high", "critical"][i % 3];
    serde_json::from_value(json!({
        "id": format!("bench-{i:06}"), "revision": 1, "device": device,
        "rule_id": "t1601.image_replaced", "title": "Network device OS image replaced and booted",
        "severity": severity, "confidence": 0.9,
        "suppressed": i.is_multiple_of(4), "suppressed_by": if i.is_multiple_of(4) { Some("CHG1") } else { None },
        "reason": format!("{device}: image x.bin from 203.0.113.45; reload; booted 15.7(3)M9 (was 15.6(3)M9)."),
        "first_seen": "2026-06-02T22:41:00.000Z", "last_seen": "2026-06-02T23:01:00.300Z",
        "evidence": (0..4).map(|k| json!({"time": "2026-06-02T22:41:00.000Z", "kind": "transfer",
            "message": format!("<189>81{k}: {device}: Jun  2 22:41:00.000 UTC: %HA_EM-6-LOG: CLIaccounting: copy tftp://203.0.113.45/x.bin flash:")})).collect::<Vec<_>>(),
        "images": ["x.bin"], "servers": ["203.0.113.45"], "users": ["jdoe"],
        "version_before": "15.6(3)M9", "version_after": "15.7(3)M9", "version_inferred": false,
        "escalated_by": null, "mitre_technique": "T1601"
    }))
    .expect("an alert")
}

fn queue(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temp dir");
    {
        let store = StateStore::open(&dir.path().join("state")).expect("a store");
        for i in 0..ALERTS {
            store.put_alert(&alert(i)).expect("stored");
        }
        store.flush().expect("flushed");
    }
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let running = rt
        .block_on(serve::start(ServeConfig {
            udp: None,
            tcp: None,
            http: "127.0.0.1:0".parse().expect("an address"),
            state: dir.path().join("state"),
            alerts: dir.path().join("alerts.ndjson"),
            ..ServeConfig::default()
        }))
        .expect("the service starts");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let http = running.http;
    let rt_ref = &rt;
    let get = |path: &str| {
        let url = format!("http://{http}{path}");
        let client = client.clone();
        move || {
            rt_ref.block_on(async {
                let r = client.get(&url).send().await.expect("an answer");
                assert!(r.status().is_success());
                r.bytes().await.expect("a body").len()
            })
        }
    };
    let mut group = c.benchmark_group("queue_10k_alerts");
    group.measurement_time(Duration::from_secs(5));
    let mut console = get("/console/part/queue");
    assert!(console() > 10_000, "the page lists alerts");
    group.bench_function("console_first_page", |b| b.iter(&mut console));
    let mut api = get("/api/v1/alerts?limit=50");
    group.bench_function("api_first_page_50", |b| b.iter(&mut api));
    let mut none = get("/console/part/queue?device=no-such-device");
    group.sample_size(10);
    group.bench_function("console_filter_matching_nothing", |b| b.iter(&mut none));
    group.finish();
    rt.block_on(running.shutdown());
}

criterion_group!(benches, queue);
criterion_main!(benches);
