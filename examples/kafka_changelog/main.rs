//! Makes a Kafka-mode changelog of many devices out of a few real ones, for the restore figure
//! of `benches/kafka.sh`.
//!
//! ```text
//! kafka_changelog DEVICES PARTITIONS < templates.ndjson > records.ndjson
//! ```
//!
//! Input: changelog records an `imagewatch serve` wrote (its machines, in the state store's own
//! versioned JSON), one per line as `{"key": device, "value": "<record value>"}`. Output:
//! DEVICES records, device `i` a copy of template `i % templates` renamed `<device>-b<i>` (in
//! the key and in the machine), each with the partition Kafka mode would put it on
//! ([`imagewatch::partition_of`]): `{"partition": p, "key": name, "value": "<record value>"}`.
//! The copies keep their template's bytes (size, state, evidence); only the name differs.

use std::io::{BufRead, BufWriter, Write};
use std::process::ExitCode;

use serde_json::{Value, json};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(devices), Some(partitions)) = (
        args.first().and_then(|a| a.parse::<usize>().ok()),
        args.get(1).and_then(|a| a.parse::<i32>().ok()),
    ) else {
        eprintln!("usage: kafka_changelog DEVICES PARTITIONS < templates.ndjson > records.ndjson");
        return ExitCode::FAILURE;
    };
    let mut templates = Vec::new();
    for (n, line) in std::io::stdin().lock().lines().enumerate() {
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                eprintln!("stdin line {}: {e}", n + 1);
                return ExitCode::FAILURE;
            }
        };
        match template(&line) {
            Ok(t) => templates.push(t),
            Err(reason) => {
                eprintln!("stdin line {}: {reason}", n + 1);
                return ExitCode::FAILURE;
            }
        }
    }
    if templates.is_empty() {
        eprintln!("stdin: no changelog records to copy");
        return ExitCode::FAILURE;
    }
    let mut out = BufWriter::new(std::io::stdout().lock());
    for i in 0..devices {
        let (device, value) = &templates[i % templates.len()];
        let name = format!("{device}-b{i}");
        // The record's own bytes, the name alone changed (a Value would reorder the fields).
        let value = value.replacen(&machine_prefix(device), &machine_prefix(&name), 1);
        let record = json!({
            "partition": imagewatch::partition_of(&name, partitions),
            "key": name,
            "value": value,
        });
        if writeln!(out, "{record}").is_err() {
            return ExitCode::FAILURE;
        }
    }
    if out.flush().is_err() {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// How a machine record names its device: the machine first, its device first (the field
/// order of the state store's encoder).
fn machine_prefix(device: &str) -> String {
    format!("\"machine\":{{\"device\":{}", Value::String(device.into()))
}

/// A template line: its device and its record value, which must hold that device's machine.
fn template(line: &str) -> Result<(String, String), String> {
    let t: Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
    let (Some(device), Some(value)) = (t["key"].as_str(), t["value"].as_str()) else {
        return Err("needs string fields key and value".into());
    };
    let parsed: Value = serde_json::from_str(value).map_err(|e| format!("value: {e}"))?;
    if parsed["machine"]["device"].as_str() != Some(device)
        || !value.contains(&machine_prefix(device))
    {
        return Err(format!(
            "value is not the changelog machine record of {device}"
        ));
    }
    Ok((device.to_string(), value.to_string()))
}
