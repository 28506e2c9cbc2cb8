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

/// `replay --lateness-ms` puts lines in order as far as the service does: a reload line that
/// arrives (per its collector prefix) 3.3 s after its own time is put before the line that
/// arrived ahead of it with the default 60 s, and taken as it comes, late, with the service's
/// 250 ms, so that a replay of what a service was sent orders it as the service did. The
/// wording is `tests/scenarios/b1_authorised_upgrade.yaml`'s reload line; the two copies
/// differ from it only in their sequence numbers and times.
#[test]
fn a_replay_with_the_service_lateness_takes_a_late_line_as_it_comes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("changes.yaml"), "{}\n").unwrap();
    let input = dir.join("late.log");
    std::fs::write(
        &input,
        "2026-06-02T01:15:10.100Z 10.64.0.42 <189>5008: rtr-0042: Jun  2 01:15:10.000 UTC: %SYS-5-RELOAD: Reload requested by jsmith on vty0 (10.30.1.5). Reload Reason: Reload Command.\n\
         2026-06-02T01:15:12.300Z 10.64.0.42 <189>5009: rtr-0042: Jun  2 01:15:09.000 UTC: %SYS-5-RELOAD: Reload requested by jsmith on vty0 (10.30.1.5). Reload Reason: Reload Command.\n",
    )
    .unwrap();
    let late = |extra: &[&str]| -> String {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_imagewatch"))
            .arg("replay")
            .arg("--rules")
            .arg(super::rules_dir())
            .arg("--changes")
            .arg(dir.join("changes.yaml"))
            .args(extra)
            .arg(&input)
            .output()
            .unwrap();
        assert!(out.status.success());
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        let at = err.find(", late ").unwrap_or_else(|| panic!("{err}"));
        err[at + 7..].split(',').next().unwrap().to_string()
    };
    assert_eq!(late(&[]), "0", "within the default 60 s: put in order");
    assert_eq!(late(&["--lateness-ms", "250"]), "1", "the service's 250 ms");
}
