//! Real device lines from public sources (`../shared/corpus/external`): every line goes
//! through replay without a panic or an error, and none of them is mistaken for image work.

use std::process::Command;

#[test]
fn every_external_line_replays_without_alerts() {
    let root = super::shared().join("corpus/external");
    let tmp = tempfile::tempdir().unwrap();
    let mut all = String::new();
    let mut count = 0;
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if name.ends_with(".md") {
                continue;
            }
            let text = std::fs::read_to_string(&p).unwrap();
            for line in text.lines() {
                let line = if name.ends_with(".ini") {
                    match line.split_once(" pass = ") {
                        Some((_, l)) => l,
                        None => continue,
                    }
                } else {
                    line
                };
                all.push_str(line);
                all.push('\n');
                count += 1;
            }
        }
    }
    assert!(count > 250, "expected the whole corpus, read {count} lines");
    let input = tmp.path().join("external.log");
    std::fs::write(&input, &all).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_imagewatch"))
        .args(["replay", "--rules"])
        .arg(super::rules_dir())
        .arg(&input)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        out.stdout.is_empty(),
        "no real line here is image work: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(err.contains(&format!("{count} lines")), "{err}");
    assert!(
        err.contains(" 0 unparsed"),
        "every real line is recognised as syslog: {err}"
    );
}
