//! State carries over: a replay in two halves over one `--state` directory gives the same
//! alerts as one replay over the whole file, and so does a replay that keeps only two device
//! machines in memory (the others wait in the store).

fn run(state: &std::path::Path, dir: &std::path::Path, input: &std::path::Path) -> Vec<String> {
    super::without_emitted_at(super::replay(
        dir,
        input,
        &["--state", state.to_str().unwrap()],
    ))
}

#[test]
fn two_halves_over_one_state_dir_equal_one_run() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    super::generate(
        dir,
        &[
            "--seed",
            "5",
            "--devices",
            "40",
            "--days",
            "4",
            "--noise-per-device-per-hour",
            "4",
        ],
    );
    let text = std::fs::read_to_string(dir.join("syslog.log")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mid = lines.len() / 2;
    let first = dir.join("first.log");
    let second = dir.join("second.log");
    std::fs::write(&first, lines[..mid].join("\n") + "\n").unwrap();
    std::fs::write(&second, lines[mid..].join("\n") + "\n").unwrap();

    let whole = run(&dir.join("state-whole"), dir, &dir.join("syslog.log"));
    let mut split = run(&dir.join("state-split"), dir, &first);
    let after_first = split.len();
    split.extend(run(&dir.join("state-split"), dir, &second));
    assert!(
        whole.len() > 10,
        "the corpus must produce alerts: {}",
        whole.len()
    );
    assert!(
        after_first > 0 && after_first < split.len(),
        "both halves must produce alerts"
    );
    assert_eq!(whole, split);

    let evicting = super::without_emitted_at(super::replay(
        dir,
        &dir.join("syslog.log"),
        &[
            "--state",
            dir.join("state-evicting").to_str().unwrap(),
            "--max-devices",
            "2",
        ],
    ));
    assert_eq!(whole, evicting);
}
