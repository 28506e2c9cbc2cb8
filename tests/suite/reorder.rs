//! Lines of one device that arrive out of order (within the allowed lateness) or twice give
//! the same alerts as the clean feed.

fn replay(dir: &std::path::Path, input: &std::path::Path) -> Vec<String> {
    let mut v = super::without_emitted_at(super::replay(dir, input, &[]));
    v.sort();
    v
}

/// Arrival time (ms) of a collector-prefixed line.
fn arrival(line: &str) -> i64 {
    imagewatch::parse_rfc3339(line.split(' ').next().unwrap()).unwrap()
}

#[test]
fn reordered_and_duplicated_feed_gives_the_same_alerts() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    super::generate(
        dir,
        &[
            "--seed",
            "9",
            "--devices",
            "30",
            "--days",
            "4",
            "--noise-per-device-per-hour",
            "20",
        ],
    );
    let text = std::fs::read_to_string(dir.join("syslog.log")).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    // Deterministic perturbation: swap neighbours less than 30 s apart, and deliver every
    // seventh line a second time a few lines later.
    let mut swapped = 0;
    let mut i = 0;
    while i + 1 < lines.len() {
        if i % 3 == 0 && (arrival(lines[i + 1]) - arrival(lines[i])).abs() < 30_000 {
            lines.swap(i, i + 1);
            swapped += 1;
        }
        i += 2;
    }
    let mut noisy: Vec<&str> = Vec::with_capacity(lines.len() * 2);
    let mut pending: Vec<(usize, &str)> = Vec::new();
    for (n, l) in lines.iter().enumerate() {
        noisy.push(l);
        if n % 7 == 0 {
            pending.push((n + 3, l));
        }
        while let Some(pos) = pending.iter().position(|p| p.0 == n) {
            noisy.push(pending.remove(pos).1);
        }
    }
    let perturbed = dir.join("perturbed.log");
    std::fs::write(&perturbed, noisy.join("\n") + "\n").unwrap();
    assert!(swapped > 100, "the test must actually reorder: {swapped}");

    let clean = replay(dir, &dir.join("syslog.log"));
    let noisy = replay(dir, &perturbed);
    assert!(clean.len() > 10);
    assert_eq!(clean, noisy);
}
