//! Properties over generated input: (a) no bytes make any stage panic; (b) alerts do not
//! depend on lines of a device arriving out of order within the allowed lateness, or twice;
//! (c) a replay split at any line into two runs over one state directory gives the alerts of
//! one run. Inputs (b) and (c) are built from scenario lines, so the properties are about
//! real upgrade sequences, not about noise the prefilter drops.

use std::sync::{Arc, LazyLock};

use bytes::BytesMut;
use imagewatch::Alert;
use imagewatch::ChangeCalendar;
use imagewatch::Classifier;
use imagewatch::LineReader;
use imagewatch::RuleSource;
use imagewatch::SequenceRules;
use imagewatch::StateStore;
use imagewatch::SyslogFramer;
use imagewatch::parse_header;
use imagewatch::{DEFAULT_LATENESS, Origin, Pipeline};
use imagewatch::{Framed, InputFormat, StampCache};
use imagewatch::{SECOND, parse_rfc3339};
use proptest::prelude::*;
use proptest::test_runner::Config;
use tokio_util::codec::Decoder;

struct Rules {
    classifier: Arc<Classifier>,
    sequences: Arc<SequenceRules>,
}

static RULES: LazyLock<Rules> = LazyLock::new(|| Rules {
    classifier: Arc::new(
        RuleSource::Dir(super::rules_dir())
            .classifier()
            .expect("rules load"),
    ),
    sequences: Arc::new(
        RuleSource::Dir(super::rules_dir())
            .sequences()
            .expect("sequences load"),
    ),
});

/// M1 (rtr-0042, unknown server, no ticket) and B1 (moved to rtr-0043, inside its ticket) in
/// one calendar, so one feed holds a critical alert and a suppressed one.
const CHANGES: &str = r#"
change_tickets:
  - id: CHG0012345
    devices: ["rtr-0043"]
    start: 2026-06-02T00:45:00Z
    end: 2026-06-02T03:00:00Z
    images: ["c2900-universalk9-mz.SPA.157-3.M9.bin"]
    versions: ["15.7(3)M9"]
    users: ["jsmith"]
    servers: ["10.10.0.5"]
allowlist:
  servers: ["10.10.0.5", "10.10.0.6", "10.20.0.10"]
inventory:
  - device: rtr-0042
    vendor: cisco_ios
    aliases: ["10.64.0.42"]
    baseline_version: "15.7(3)M8"
    baseline_image: "c2900-universalk9-mz.SPA.157-3.M8.bin"
  - device: rtr-0043
    vendor: cisco_ios
    aliases: ["10.64.0.43"]
    baseline_version: "15.7(3)M8"
"#;

static CALENDAR: LazyLock<Arc<ChangeCalendar>> = LazyLock::new(|| {
    Arc::new(ChangeCalendar::from_yaml(CHANGES, "changes.yaml").expect("calendar loads"))
});

fn scenario_lines(file: &str) -> Vec<String> {
    #[derive(serde::Deserialize)]
    struct Lines {
        lines: String,
    }
    let path = super::root().join("tests/scenarios").join(file);
    let text = std::fs::read_to_string(&path).expect("scenario readable");
    // Only `lines` is needed; serde skips the other fields.
    let scenario: Lines = serde_saphyr::from_str(&text).expect("scenario parses");
    scenario.lines.lines().map(str::to_string).collect()
}

/// The fixed feed of (b) and (c): M1 and B1 on two devices, with noise of a third device and
/// of both, sorted by arrival as a collector writes it.
static FEED: LazyLock<Vec<String>> = LazyLock::new(|| {
    let mut lines = scenario_lines("m1_unknown_server_upgrade.yaml");
    lines.extend(
        scenario_lines("b1_authorised_upgrade.yaml")
            .iter()
            .map(|l| {
                l.replace("rtr-0042", "rtr-0043")
                    .replace("10.64.0.42", "10.64.0.43")
            }),
    );
    for (i, minute) in [0, 3, 9, 12, 14, 16, 20, 25, 40].iter().enumerate() {
        lines.push(format!(
            "2026-06-02T01:{minute:02}:30.000Z 10.64.0.7 <189>{i}: sw-0007: Jun  2 01:{minute:02}:29.900 UTC: %LINK-3-UPDOWN: Interface GigabitEthernet0/{i}, changed state to up"
        ));
        lines.push(format!(
            "2026-06-02T01:{minute:02}:45.000Z 10.64.0.43 <189>9{i}: rtr-0043: Jun  2 01:{minute:02}:44.900 UTC: %SEC_LOGIN-5-LOGIN_SUCCESS: Login Success [user: jsmith] [Source: 10.30.1.5] [localport: 22]"
        ));
    }
    lines.sort_by_key(|l| arrival(l));
    lines
});

/// Arrival time (ms) of a collector-prefixed line.
fn arrival(line: &str) -> i64 {
    parse_rfc3339(line.split(' ').next().expect("a stamp")).expect("an RFC 3339 stamp")
}

fn pipeline(store: StateStore) -> Pipeline {
    Pipeline::new(
        Arc::clone(&RULES.classifier),
        Arc::clone(&RULES.sequences),
        Arc::clone(&CALENDAR),
        store,
        InputFormat::Auto,
    )
    .expect("pipeline builds")
}

/// Feeds lines (one message each) and finishes; returns every alert record as JSON.
fn run(p: &mut Pipeline, lines: &[&str]) -> Vec<String> {
    let mut alerts: Vec<Alert> = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        let origin = Origin {
            file: "property",
            line: n as u64 + 1,
        };
        p.ingest(line.as_bytes(), 1, &origin, &mut alerts)
            .expect("ingest");
    }
    p.finish(&mut alerts).expect("finish");
    let records = alerts
        .iter()
        .map(|a| serde_json::to_string(a).expect("alert serialises"))
        .collect();
    super::without_emitted_at(records)
}

fn run_temporary(lines: &[&str]) -> Vec<String> {
    let mut p = pipeline(StateStore::temporary().expect("temporary store"));
    let mut alerts = run(&mut p, lines);
    alerts.sort();
    alerts
}

static CLEAN: LazyLock<Vec<String>> = LazyLock::new(|| {
    let lines: Vec<&str> = FEED.iter().map(String::as_str).collect();
    let alerts = run_temporary(&lines);
    assert!(
        alerts.iter().any(|a| a.contains("\"suppressed\":true"))
            && alerts
                .iter()
                .any(|a| a.contains("\"severity\":\"critical\"")),
        "the clean feed must give a suppressed and a critical alert: {alerts:#?}"
    );
    alerts
});

// ---------------------------------------------------------------------------------------
// (a) No input bytes panic any stage.

/// Arbitrary bytes, or a real line with a few bytes inserted, replaced or cut off (which
/// reaches deeper into the parsers than random bytes do).
fn hostile_bytes() -> impl Strategy<Value = Vec<u8>> {
    let mutated = (
        0..FEED.len(),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 0..8),
    )
        .prop_map(|(i, edits)| {
            let mut line = FEED[i].clone().into_bytes();
            for (at, byte, op) in edits {
                let pos = at.index(line.len() + 1);
                match op {
                    0 => line.insert(pos, byte),
                    1 if pos < line.len() => line[pos] = byte,
                    _ => line.truncate(pos),
                }
            }
            line
        });
    let json = (
        "[ -~]{0,40}",
        prop::sample::select(vec![
            "@timestamp",
            "event.created",
            "message",
            "host",
            "log.source.address",
        ]),
    )
        .prop_map(|(s, k)| {
            format!("{{\"{k}\":\"{s}\",\"message\":{{\"{k}\":[\"{s}\"]}}}}").into_bytes()
        });
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        mutated,
        json,
        "(<[0-9]{1,3}>)?[0-9 :.*A-Za-z%#-]{0,80}".prop_map(String::into_bytes),
    ]
}

fn every_stage(input: &[u8], reference: i64, cuts: &[usize]) {
    let classifier = &RULES.classifier;
    for join in [true, false] {
        let mut reader = LineReader::new(input, join);
        let mut cache = StampCache::default();
        while let Some(m) = reader.next_message().expect("a slice reads") {
            for format in [InputFormat::Auto, InputFormat::Syslog, InputFormat::Ndjson] {
                match imagewatch::frame(m.bytes, format, &mut cache) {
                    Framed::Blank => {}
                    Framed::Text {
                        arrival, message, ..
                    } => {
                        let text = imagewatch::decode_message(message);
                        let header = parse_header(&text, arrival.unwrap_or(reference));
                        let _ = header.body.len();
                        if classifier.may_match(text.as_bytes()) {
                            let _ = classifier.classify(&text);
                        }
                    }
                    Framed::Json(raw) => {
                        let _ = imagewatch::arrival_hint(raw);
                        if let Ok(rec) = imagewatch::decode_ndjson(raw) {
                            let _ = parse_header(&rec.message, rec.arrival.unwrap_or(reference));
                            let _ = classifier.classify(&rec.message);
                        }
                    }
                }
            }
        }
    }
    let _ = imagewatch::decode_ndjson(input);
    // The stream framer, with the input split into the chosen reads.
    let mut framer = SyslogFramer::new(64);
    let mut buf = BytesMut::new();
    let mut at = 0;
    for cut in cuts.iter().chain(std::iter::repeat(&input.len())) {
        if at >= input.len() {
            break;
        }
        let end = (at + cut.max(&1)).min(input.len());
        buf.extend_from_slice(&input[at..end]);
        at = end;
        while let Ok(Some((frame, _))) = framer.decode(&mut buf) {
            assert!(frame.len() <= 64);
        }
    }
    while let Ok(Some(_)) = framer.decode_eof(&mut buf) {}
}

proptest! {
    #![proptest_config(Config { cases: 512, failure_persistence: None, ..Config::default() })]

    #[test]
    fn no_bytes_panic_the_line_stages(
        input in hostile_bytes(),
        reference in -62_000_000_000_000i64..253_000_000_000_000,
        cuts in prop::collection::vec(1usize..40, 0..6),
    ) {
        every_stage(&input, reference, &cuts);
    }
}

proptest! {
    #![proptest_config(Config { cases: 64, failure_persistence: None, ..Config::default() })]

    #[test]
    fn no_lines_panic_the_pipeline(lines in prop::collection::vec(hostile_bytes(), 1..24)) {
        let mut p = pipeline(StateStore::temporary().expect("temporary store"));
        let mut alerts = Vec::new();
        for (n, line) in lines.iter().enumerate() {
            let origin = Origin { file: "property", line: n as u64 + 1 };
            p.ingest(line, 1, &origin, &mut alerts).expect("ingest");
        }
        p.finish(&mut alerts).expect("finish");
    }
}

// ---------------------------------------------------------------------------------------
// (b) Reordering within the lateness and duplicate delivery change nothing.

/// Largest delay a line may suffer: the allowed lateness less a margin for the device clock
/// running behind the collector's stamp (the event time, not the arrival, is what must not
/// fall behind the watermark).
const MAX_DELAY: i64 = DEFAULT_LATENESS - 5 * SECOND;

/// Each line is delayed by up to [`MAX_DELAY`] (lines then arrive in order of stamp + delay,
/// so two lines swap only when their stamps are closer than that); some lines are delivered a
/// second time, with a delay of their own.
fn perturbation() -> impl Strategy<Value = Vec<(i64, Option<i64>)>> {
    let n = FEED.len();
    prop::collection::vec(
        (
            prop_oneof![Just(0i64), 0..MAX_DELAY],
            prop::option::weighted(0.2, 0..MAX_DELAY),
        ),
        n..=n,
    )
}

fn perturbed(plan: &[(i64, Option<i64>)]) -> Vec<&'static str> {
    let mut keyed: Vec<(i64, usize, &'static str)> = Vec::new();
    for (i, (line, (delay, again))) in FEED.iter().zip(plan).enumerate() {
        let t = arrival(line);
        keyed.push((t + delay, i, line));
        if let Some(d) = again {
            keyed.push((t + d, i, line));
        }
    }
    keyed.sort();
    keyed.into_iter().map(|k| k.2).collect()
}

proptest! {
    #![proptest_config(Config { cases: 160, failure_persistence: None, ..Config::default() })]

    #[test]
    fn alerts_ignore_reordering_within_lateness_and_duplicates(plan in perturbation()) {
        let lines = perturbed(&plan);
        prop_assert_eq!(&run_temporary(&lines), &*CLEAN, "feed: {:#?}", lines);
    }
}

// ---------------------------------------------------------------------------------------
// (c) Two runs over one state directory equal one run.

proptest! {
    #![proptest_config(Config { cases: 32, failure_persistence: None, ..Config::default() })]

    #[test]
    fn a_replay_split_at_any_line_equals_one_run(split in 0..=FEED.len()) {
        let lines: Vec<&str> = FEED.iter().map(String::as_str).collect();
        let tmp = tempfile::tempdir().expect("temp dir");
        let state = tmp.path().join("state");
        let mut first = {
            let mut p = pipeline(StateStore::open(&state).expect("state opens"));
            run(&mut p, &lines[..split])
        };
        // The first store is dropped; the second run reopens the directory.
        let second = {
            let mut p = pipeline(StateStore::open(&state).expect("state reopens"));
            run(&mut p, &lines[split..])
        };
        first.extend(second);
        first.sort();
        prop_assert_eq!(&first, &*CLEAN, "split after line {}", split);
    }
}
