//! Arbitrary text as a change calendar (`changes.yaml`): an error with a place, never a panic.
//! A calendar that loads is queried the way suppression queries it (ticket and window overlap,
//! the cron search of recurring windows, inventory and allowlist look-ups).

#![no_main]

use imagewatch::ChangeCalendar;
use libfuzzer_sys::fuzz_target;

/// 2026-06-01T00:00:00Z.
const T: i64 = 1_780_272_000_000;
const DAY: i64 = 86_400_000;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(calendar) = ChangeCalendar::from_yaml(text, "changes.yaml") else {
        return;
    };
    for device in ["rtr-0042", "10.64.0.42", ""] {
        let _ = calendar
            .tickets_overlapping(device, T - DAY, T + DAY)
            .count();
        for w in calendar.windows_for(device) {
            let _ = w.occurrence_at(T);
            let _ = w.overlaps(T - DAY, T + DAY);
        }
        let _ = calendar.inventory.resolve(device);
    }
    let _ = calendar.allowlist.contains_server("10.10.0.5");
});
