//! Arbitrary bytes as one NDJSON line (Filebeat / Elastic Agent, ECS).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = imagewatch::arrival_hint(data);
    if let Ok(rec) = imagewatch::decode_ndjson(data) {
        // What the extractor does with a record next.
        let _ = imagewatch::decode_message(rec.message.as_bytes());
        if let Some(s) = rec.sender.as_deref() {
            let _ = imagewatch::canonical_host(s);
        }
        if let Some(h) = rec.host.as_deref() {
            let _ = imagewatch::canonical_host(h);
        }
    }
});
