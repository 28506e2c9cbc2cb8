//! Arbitrary input as a replay: every line through `Pipeline::ingest` with the shipped rules
//! and a small calendar, then `finish`, on a fresh temporary state store per input.

#![no_main]

use std::sync::{Arc, LazyLock};

use imagewatch::ChangeCalendar;
use imagewatch::Classifier;
use imagewatch::SequenceRules;
use imagewatch::{Origin, Pipeline};
use imagewatch::InputFormat;
use imagewatch::LineReader;
use imagewatch::StateStore;
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

const CHANGES: &str = r#"
change_tickets:
  - id: CHG0012345
    devices: ["rtr-00*"]
    start: 2026-06-02T00:45:00Z
    end: 2026-06-02T03:00:00Z
    images: ["c2900-universalk9-mz.SPA.157-3.M9.bin"]
    versions: ["15.7(3)M9"]
    users: ["jsmith"]
    servers: ["10.10.0.5"]
maintenance_windows:
  - id: MW-weekly
    devices: ["edge-*"]
    cron: "0 2 * * SUN"
    duration: 3h
    timezone: Europe/Berlin
allowlist:
  servers: ["10.10.0.5", "10.10.0.6"]
inventory:
  - device: rtr-0042
    vendor: cisco_ios
    aliases: ["10.64.0.42"]
    baseline_version: "15.7(3)M8"
"#;

struct Shared {
    classifier: Arc<Classifier>,
    sequences: Arc<SequenceRules>,
    calendar: Arc<ChangeCalendar>,
}

static SHARED: LazyLock<Shared> = LazyLock::new(|| Shared {
    classifier: Arc::new(
        Classifier::from_sources(&common::owned(&common::SIGNAL_FILES)).expect("signal rules"),
    ),
    sequences: Arc::new(
        SequenceRules::from_sources(&common::owned(&[common::SEQUENCE_FILE])).expect("sequences"),
    ),
    calendar: Arc::new(ChangeCalendar::from_yaml(CHANGES, "changes.yaml").expect("calendar")),
});

fuzz_target!(|data: &[u8]| {
    let Some((&mode, input)) = data.split_first() else {
        return;
    };
    let format = match mode % 3 {
        0 => InputFormat::Auto,
        1 => InputFormat::Syslog,
        _ => InputFormat::Ndjson,
    };
    let shared = &*SHARED;
    let mut pipeline = Pipeline::new(
        Arc::clone(&shared.classifier),
        Arc::clone(&shared.sequences),
        Arc::clone(&shared.calendar),
        StateStore::temporary().expect("temporary store"),
        format,
    )
    .expect("pipeline");
    let mut alerts = Vec::new();
    let mut reader = LineReader::new(input, format != InputFormat::Ndjson);
    while let Some(m) = reader.next_message().expect("reading a slice cannot fail") {
        let origin = Origin {
            file: "fuzz",
            line: m.line_no,
        };
        pipeline
            .ingest(m.bytes, m.lines, &origin, &mut alerts)
            .expect("ingest");
    }
    pipeline.finish(&mut alerts).expect("finish");
    for a in &alerts {
        assert!(a.revision >= 1);
        let _ = serde_json::to_string(a);
    }
});
