//! Arbitrary bytes as a syslog file: line framing (with continuation joining), the collector
//! wrapping, rsyslog escapes, the header parser and the classifier — everything `extract` does
//! to a line before the engine sees it. The first byte picks the format (`% 3`), whether the
//! file reader frames the input (bit 3; else it is split at newlines) and whether it joins
//! continuation lines (bit 2 clear).

#![no_main]

use imagewatch::parse_header;
use imagewatch::{LineReader, MAX_LINE};
use imagewatch::{Framed, InputFormat, StampCache};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

/// A fixed "now" for lines without an arrival time (2026-06-01T00:00:00Z).
const NOW: i64 = 1_780_272_000_000;

fn text_stages(text: &str, reference: i64) {
    let header = parse_header(text, reference);
    assert!(
        text.contains(header.body),
        "the body is a slice of the message"
    );
    if common::CLASSIFIER.may_match(text.as_bytes()) {
        let _ = common::CLASSIFIER.classify(text);
    }
}

fn line_stages(line: &[u8], format: InputFormat, cache: &mut StampCache) {
    match imagewatch::frame(line, format, cache) {
        Framed::Blank => {}
        Framed::Text {
            arrival, message, ..
        } => {
            let text = imagewatch::decode_message(message);
            text_stages(&text, arrival.unwrap_or(NOW));
        }
        Framed::Json(raw) => {
            let _ = imagewatch::arrival_hint(raw);
            if let Ok(rec) = imagewatch::decode_ndjson(raw) {
                let text = imagewatch::decode_message(rec.message.as_bytes());
                text_stages(&text, rec.arrival.unwrap_or(NOW));
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, input)) = data.split_first() else {
        return;
    };
    let format = match mode % 3 {
        0 => InputFormat::Auto,
        1 => InputFormat::Syslog,
        _ => InputFormat::Ndjson,
    };
    let mut cache = StampCache::default();
    let mut count = 0u64;
    if mode & 8 != 0 {
        // The file reader, joining continuation lines unless bit 2 says not to. It allocates
        // its 1 MiB buffer per input, so only some inputs take this path.
        let mut reader = LineReader::new(input, mode & 4 == 0);
        while let Some(m) = reader.next_message().expect("reading a slice cannot fail") {
            assert!(m.bytes.len() <= MAX_LINE * 32 + 32, "a message is bounded");
            assert!(m.lines >= 1);
            count += u64::from(m.lines);
            line_stages(m.bytes, format, &mut cache);
        }
    } else {
        for line in input.split(|b| *b == b'\n') {
            count += 1;
            line_stages(line.strip_suffix(b"\r").unwrap_or(line), format, &mut cache);
        }
    }
    let newlines = input.iter().filter(|b| **b == b'\n').count() as u64;
    assert!(count <= newlines + 1, "no more lines than the input has");
});
