//! `imagewatch explain` (the real binary) against Elastic's own pipeline-test expectations for
//! Cisco IOS and NX-OS syslog headers, read at test time from
//! `../shared/corpus/peer/elastic-integrations/*.jsonl` (row format and quirks in its README),
//! and on lines with an arrival time.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

/// Runs `imagewatch explain` with `args` over `input` on stdin; one JSON value per line out.
fn explain(args: &[&str], input: &str) -> Vec<Value> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_imagewatch"))
        .arg("explain")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("imagewatch runs");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(input.as_bytes())
        .expect("input is written");
    let out = child.wait_with_output().expect("imagewatch ends");
    assert!(
        out.status.success(),
        "explain failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("output is UTF-8")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// One expected document of Elastic's pipeline tests.
struct Row {
    /// File stem, e.g. `cisco_ios-date-format`.
    file: String,
    /// 1-based position in Elastic's `expected` array.
    n: u64,
    original: String,
    /// Elastic's `@timestamp`; `None` where the line carries only the device uptime.
    timestamp: Option<String>,
    /// `log.syslog.hostname` (IOS) or `observer.name` (NX-OS), when Elastic names a host.
    hostname: Option<String>,
}

fn elastic_rows() -> Vec<Row> {
    let dir = super::shared().join("corpus/peer/elastic-integrations");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    let mut rows = Vec::new();
    for path in files {
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            let text = |k: &str| v[k].as_str().map(str::to_string);
            rows.push(Row {
                file: stem.clone(),
                n: v["n"].as_u64().expect("n"),
                original: text("original").expect("original"),
                timestamp: text("timestamp"),
                hostname: text("hostname"),
            });
        }
    }
    rows
}

/// Rows whose stamp writes no year (the README's "Lines without a year take the year the file
/// was generated"): Elastic put 2024 or 2023, explain puts the current year, as a line without
/// an arrival time must. Compared by month, day and time.
fn year_written(file: &str, n: u64) -> bool {
    let yearless: &[u64] = match file {
        "cisco_ios-date-format" => &[10, 11, 12, 13, 14, 15, 16, 17, 18],
        "cisco_ios-syslog" => &[5, 6, 7, 8, 9, 12, 13, 14],
        "cisco_nexus" => &[
            16, 17, 18, 19, 20, 21, 31, 32, 33, 34, 35, 36, 42, 43, 47, 48, 54, 55, 59, 60, 66, 67,
            70, 71, 72,
        ],
        _ => &[],
    };
    !yearless.contains(&n)
}

/// Where explain reads a zone abbreviation differently from Elastic: (file, n, our offset,
/// Elastic's offset). Elastic maps an abbreviation to an IANA zone that follows daylight
/// saving (`AEST` → Australia/Sydney, `EDT` → America/New_York), so in January it reads AEST
/// as +11:00 and EDT as -05:00, offsets those names never denote. Explain reads a name as the
/// fixed offset it stands for: a Cisco clock writes the name it was configured with, the
/// summer-time name only while summer time is in force (`clock summer-time AEDT recurring`),
/// so `AEST` in January comes from a clock without summer time (Queensland keeps +10:00 all
/// year) and `EDT` in January from a clock configured with that name. Both read the same
/// wall-clock time; the instants differ by the hour between the offsets.
const ZONE_READINGS: &[(&str, u64, &str, &str)] = &[
    // `Jan  6 2022 22:11:43.398 AEST`
    ("cisco_ios-date-format", 1, "+10:00", "+11:00"),
    // `Jan 16 2022 22:11:43 EDT`
    ("cisco_ios-date-format", 9, "-04:00", "-05:00"),
    // `Jan 16 22:11:43 EDT`
    ("cisco_ios-date-format", 18, "-04:00", "-05:00"),
];

fn instant(text: &str) -> jiff::Timestamp {
    // RFC 3339's `-00:00` (offset unknown) is UTC.
    let text = text
        .strip_suffix("-00:00")
        .map_or(text.to_string(), |t| format!("{t}Z"));
    text.parse()
        .unwrap_or_else(|e| panic!("{text} is not RFC 3339: {e}"))
}

/// `YYYY-MM-DDTHH:MM:SS.sss` of `t` at `offset` (`+11:00`, `Z`).
fn wall(t: jiff::Timestamp, offset: &str) -> String {
    let seconds = if offset == "Z" {
        0
    } else {
        let sign = if offset.starts_with('-') { -1 } else { 1 };
        let h: i32 = offset[1..3].parse().unwrap();
        let m: i32 = offset[4..6].parse().unwrap();
        sign * (h * 3600 + m * 60)
    };
    let offset = jiff::tz::Offset::from_seconds(seconds).unwrap();
    offset
        .to_datetime(t)
        .strftime("%Y-%m-%dT%H:%M:%S%.3f")
        .to_string()
}

/// Elastic's expected results for its cisco_ios and cisco_nexus pipeline tests: explain names
/// the same host wherever Elastic names one, reads the same wall-clock time from every stamp
/// (with its year where the stamp writes one) and the same instant wherever the zone is UTC
/// or absent; where a zone abbreviation is read differently, the case is listed in
/// [`ZONE_READINGS`] with the reason, and the list is exact.
#[test]
fn explain_agrees_with_elastic_pipeline_tests() {
    let rows = elastic_rows();
    assert_eq!(rows.len(), 121, "the README counts 121 entries");
    let input: String = rows.iter().map(|r| format!("{}\n", r.original)).collect();
    let out = explain(&[], &input);
    assert_eq!(out.len(), rows.len(), "one object per line");
    let this_year = jiff::Zoned::now().year().to_string();
    let mut zone_differences = Vec::new();
    let mut hosts = 0;
    for (i, (row, got)) in rows.iter().zip(&out).enumerate() {
        let ctx = format!("{} n={}: {}\n got: {got}", row.file, row.n, row.original);
        assert_eq!(got["line"], i as u64 + 1, "{ctx}");
        if let Some(h) = &row.hostname {
            assert_eq!(got["host"].as_str(), Some(h.as_str()), "host\n{ctx}");
            assert!(
                got["device"].is_string(),
                "a named host names a device\n{ctx}"
            );
            hosts += 1;
        }
        let Some(want) = &row.timestamp else {
            assert!(got["device_time"].is_null(), "an uptime is no time\n{ctx}");
            continue;
        };
        let ours = got["device_time"]
            .as_str()
            .unwrap_or_else(|| panic!("no time\n{ctx}"));
        let (our_wall, our_offset) = ours.split_at(23);
        let elastic = instant(want);
        let with_year = year_written(&row.file, row.n);
        if !with_year {
            assert_eq!(
                &ours[..4],
                this_year,
                "a year-less stamp is this year's\n{ctx}"
            );
        }
        // Compare from the month on where the stamp wrote no year.
        let from = if with_year { 0 } else { 5 };
        let listed = ZONE_READINGS
            .iter()
            .find(|(f, n, _, _)| *f == row.file && *n == row.n);
        if let Some((_, _, ours_listed, theirs)) = listed {
            assert_eq!(our_offset, *ours_listed, "our reading\n{ctx}");
            assert_eq!(
                our_wall[from..],
                wall(elastic, theirs)[from..],
                "the same wall-clock time\n{ctx}"
            );
            zone_differences.push((row.file.clone(), row.n));
            continue;
        }
        let ours_utc = wall(instant(ours), "Z");
        assert_eq!(
            ours_utc[from..],
            wall(elastic, "Z")[from..],
            "the same instant\n{ctx}"
        );
    }
    assert_eq!(zone_differences.len(), ZONE_READINGS.len());
    assert_eq!(hosts, 72, "rows where Elastic names a host");
}

/// A year-less stamp takes the year nearest the line's arrival time (a collector prefix), not
/// the current year; a device clock within five minutes of the arrival is the event time,
/// one further off is replaced by the arrival time and explain says why.
#[test]
fn a_year_less_stamp_takes_the_year_of_its_arrival() {
    // Elastic's cisco_ios test line (test-date-format.log), behind the collector prefix
    // rsyslog writes (`%timegenerated% %fromhost-ip% %rawmsg%`).
    let line = "<190>2361044: sw01: Jan  6 22:11:43.398: %FOO-6-BAR: Test date format.";
    let input = format!(
        "2024-01-06T22:11:50Z 10.0.0.9 {line}\n2024-01-07T03:11:50Z 10.0.0.9 {line}\n{line}\n"
    );
    let out = explain(&[], &input);
    assert_eq!(out[0]["device_time"], "2024-01-06T22:11:43.398-00:00");
    assert_eq!(out[0]["event_time"], "2024-01-06T22:11:43.398Z");
    assert_eq!(out[0]["time_source"], "device");
    assert!(out[0]["time_reason"].is_null(), "{}", out[0]);
    assert_eq!(out[0]["received"], "2024-01-06T22:11:50.000Z");

    assert_eq!(out[1]["event_time"], "2024-01-07T03:11:50.000Z");
    assert_eq!(out[1]["time_source"], "arrival");
    let reason = out[1]["time_reason"].as_str().unwrap();
    assert!(
        reason.contains("5h 6s") && reason.contains("behind"),
        "{reason}"
    );

    let this_year = jiff::Zoned::now().year();
    assert_eq!(
        out[2]["device_time"],
        format!("{this_year}-01-06T22:11:43.398-00:00")
    );
    assert_eq!(out[2]["time_source"], "device");
    for o in &out {
        assert_eq!(o["device"], "sw01");
        assert_eq!(o["why_not"], "prefilter");
    }
}

/// The inventory names the device behind an address, with its vendor and clock zone: a stamp
/// without a zone is read in the device's zone, and explain shows the offset it used.
#[test]
fn the_inventory_names_the_device_and_its_clock_zone() {
    let tmp = tempfile::tempdir().unwrap();
    let changes = tmp.path().join("changes.yaml");
    std::fs::write(
        &changes,
        "inventory:\n  - device: core-sw1\n    vendor: cisco_nxos\n    aliases: [\"10.100.0.36\"]\n    timezone: Europe/Berlin\n",
    )
    .unwrap();
    // Elastic's cisco_nexus test line (test-nexus.log, n=59): an IP in the host position.
    let line = "<190>109692: 10.100.0.36: May 9 14:40:12.903: %AAA-6-AAA_ACCOUNTING_MESSAGE: update:10.63.12.105@ssh.26046:SRVC_A00A12_0006_PRD:show ip route vrf all (SUCCESS)";
    let out = explain(
        &["--changes", changes.to_str().unwrap()],
        &format!("2023-05-09T12:40:13Z 10.9.9.9 {line}\n"),
    );
    let o = &out[0];
    assert_eq!(o["device"], "core-sw1", "{o}");
    assert_eq!(o["host"], "10.100.0.36", "{o}");
    assert_eq!(o["device_time"], "2023-05-09T14:40:12.903+02:00", "{o}");
    assert_eq!(o["event_time"], "2023-05-09T12:40:12.903Z", "{o}");
    assert_eq!(o["time_source"], "device", "{o}");
    assert_eq!(o["vendor"], "cisco_nxos", "{o}");
    assert_eq!(
        o["why_not"], "prefilter",
        "no rule literal in a `show` command: {o}"
    );
}
