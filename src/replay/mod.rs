//! `imagewatch replay`: the engine over files or stdin, alerts as NDJSON, a summary on stderr.
//! For backtesting rules on historical logs, and for tests. A reading thread ([`read_ahead`])
//! reads and cuts the input into batches, and screening workers frame, prefilter and classify
//! them, ahead of the engine.

mod read_ahead;

use std::fs::File;
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use crate::classify::SignalKind;
use crate::config::{self, ConfigError, Loaded, RuleSource};
use crate::correlate::Limits;
use crate::pipeline::extract::looks_like_syslog;
use crate::pipeline::{EngineStats, ExtractStats, Origin, Pipeline};
pub use crate::sink::render::AlertFormat;
use crate::sink::stdout::write_alerts;
use crate::source::InputFormat;
use crate::state::{StateError, StateStore};
use crate::time::Millis;
use read_ahead::Handed;

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("{0}")]
    State(#[from] StateError),
    #[error("{path}: {source}")]
    Input { path: String, source: io::Error },
    #[error("cannot read the input, nothing was replayed: {}", .0.join("; "))]
    Unreadable(Vec<String>),
    #[error(
        "{path}: {unparsed} of {messages} lines do not parse as {format}; {hint}. \
         Stopped at this file; its alerts and those before it may be incomplete"
    )]
    MostlyUnparsed {
        path: String,
        unparsed: u64,
        messages: u64,
        format: &'static str,
        hint: &'static str,
    },
    #[error("writing alerts: {0}")]
    Output(io::Error),
}

impl ReplayError {
    /// Exit status: 2 for anything the user has to fix (files, rules, calendar, state dir).
    pub fn exit_code(&self) -> i32 {
        match self {
            ReplayError::Output(_) => 1,
            _ => 2,
        }
    }
}

pub struct ReplayOptions {
    pub changes: Option<PathBuf>,
    /// Rules directory; None runs the built-in rules.
    pub rules: Option<PathBuf>,
    pub state: Option<PathBuf>,
    pub format: InputFormat,
    /// Device machines held in memory (see `serve`'s `max_devices`).
    pub max_devices: usize,
    /// Input files; `-` is stdin.
    pub files: Vec<PathBuf>,
    /// How alert records are written: native or ECS.
    pub alert_format: AlertFormat,
    /// How far out of order a line may arrive and still be put in order (milliseconds).
    pub lateness: Millis,
}

/// What a replay read and concluded.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub read: ExtractStats,
    pub engine: EngineStats,
}

/// Runs a replay; alerts go to `out` as they are produced.
pub fn run(opts: &ReplayOptions, out: &mut dyn Write) -> Result<Summary, ReplayError> {
    let started = Instant::now();
    check_inputs(&opts.files)?;
    // A temporary store opens on its own thread while the rules and calendar load: opening
    // sled is a fifth of a short replay's start (its metrics tables are zeroed page by page).
    // A `--state` directory opens only once they have loaded: a configuration that does not
    // load leaves it untouched.
    let (loaded, temporary) = std::thread::scope(|scope| {
        let temporary = opts
            .state
            .is_none()
            .then(|| scope.spawn(StateStore::temporary));
        let loaded = config::load(
            &RuleSource::new(opts.rules.as_deref()),
            opts.changes.as_deref(),
        );
        let temporary = temporary.map(|t| {
            t.join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        });
        (loaded, temporary)
    });
    let Loaded {
        classifier,
        sequences,
        calendar,
    } = loaded?;
    if opts.changes.is_none() {
        eprintln!(
            "notice: no --changes: nothing will be suppressed (no maintenance windows, change \
             tickets or allowlist); every finding is reported as an alert."
        );
    }
    let store = match &opts.state {
        Some(dir) => StateStore::open(dir)?,
        None => temporary.expect("opened above when there is no --state")?,
    };
    let mut pipeline = Pipeline::new(
        Arc::new(classifier),
        Arc::new(sequences),
        Arc::new(calendar),
        store,
        opts.format,
    )?;
    pipeline.engine.set_lateness(opts.lateness);
    pipeline.engine.set_limits(Limits {
        max_devices: opts.max_devices,
        ..Limits::default()
    });
    let total_bytes: u64 = opts
        .files
        .iter()
        .filter(|p| p.as_os_str() != "-")
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let progress = progress_bar(total_bytes);
    let mut alerts = Vec::new();
    let mut bytes_done = 0u64;
    let mut stopped = None;
    let mut ahead = read_ahead::start(
        opts.files.clone(),
        pipeline.extractor.screen(),
        read_ahead::workers(),
    )
    .map_err(|source| ReplayError::Input {
        path: "(reading thread)".to_string(),
        source,
    })?;
    let names: Vec<String> = opts.files.iter().map(|p| p.display().to_string()).collect();
    let mut file = 0;
    let mut before = pipeline.extractor.stats.clone();
    while let Some(handed) = ahead.next() {
        match handed {
            Handed::Batch(mut batch) => {
                let name = &names[file];
                let mut wrote = false;
                for (bytes, m) in batch.drain() {
                    if m.truncated {
                        pipeline.extractor.stats.truncated += 1;
                    }
                    let origin = Origin {
                        file: name,
                        line: m.line_no,
                    };
                    pipeline.ingest_screened(bytes, m.screened, m.lines, &origin, &mut alerts)?;
                    wrote |= !alerts.is_empty();
                    write_alerts(&mut alerts, opts.alert_format, out)
                        .map_err(ReplayError::Output)?;
                }
                // A batch's alerts go out with it (a replay of a pipe that stays open must not
                // sit on them; alerts are few, so this is a flush now and then).
                if wrote {
                    out.flush().map_err(ReplayError::Output)?;
                }
                if let Some(pb) = &progress {
                    pb.set_position(bytes_done + batch.consumed);
                }
                ahead.recycle(batch);
            }
            Handed::End {
                file: done,
                consumed,
                shape,
            } => {
                bytes_done += consumed;
                let after = &pipeline.extractor.stats;
                let (parsed, unparsed) = (
                    after.parsed - before.parsed,
                    after.unparsed - before.unparsed,
                );
                if unparsed > parsed {
                    stopped = Some(shape.verdict(&names[done], opts.format, parsed, unparsed));
                    break;
                }
                before = after.clone();
                file = done + 1;
            }
            Handed::Failed { file, error } => {
                return Err(ReplayError::Input {
                    path: names[file].clone(),
                    source: error,
                });
            }
        }
    }
    // Let the reading threads go (they stop at their next hand-over when the replay stopped
    // early) and wait for them only when they have finished: a reader blocked on stdin must
    // not hold a replay that is done with it. A panic in one is raised again here (its
    // channel closed early: the input was not all read).
    if stopped.is_none() {
        ahead.join();
        pipeline.finish(&mut alerts)?;
    } else {
        drop(ahead);
    }
    write_alerts(&mut alerts, opts.alert_format, out).map_err(ReplayError::Output)?;
    out.flush().map_err(ReplayError::Output)?;
    if let Some(pb) = progress {
        pb.finish_and_clear();
    }
    let stats = Summary {
        read: pipeline.extractor.stats.clone(),
        engine: pipeline.engine.stats.clone(),
    };
    let mut err = io::stderr().lock();
    for p in &pipeline.extractor.problems {
        let _ = writeln!(err, "warning: {}:{}: {}", p.file, p.line, p.reason);
    }
    let _ = write_summary(
        &mut err,
        &stats,
        bytes_done,
        started.elapsed().as_secs_f64(),
    );
    match stopped {
        Some(unreadable) => Err(unreadable),
        None => Ok(stats),
    }
}

/// Opens every input before any is read: a missing or unreadable file named after the earlier
/// files' alerts were written would leave a half replay behind.
fn check_inputs(files: &[PathBuf]) -> Result<(), ReplayError> {
    let mut problems = Vec::new();
    for path in files.iter().filter(|p| p.as_os_str() != "-") {
        let opened = File::open(path).and_then(|f| f.metadata());
        match opened {
            Ok(m) if m.is_dir() => problems.push(format!("{}: is a directory", path.display())),
            Ok(_) => {}
            Err(e) => problems.push(format!("{}: {e}", path.display())),
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ReplayError::Unreadable(problems))
    }
}

/// What one input file's messages looked like: enough to tell a wrong `--format` from a file
/// that is in neither format.
#[derive(Default)]
struct FileShape {
    json: u64,
    syslog: u64,
    other: u64,
}

impl FileShape {
    fn note(&mut self, message: &[u8]) {
        let m = message.trim_ascii_start();
        if m.is_empty() {
            return;
        }
        if m[0] == b'{' {
            self.json += 1;
        } else if looks_like_syslog(m) {
            self.syslog += 1;
        } else {
            self.other += 1;
        }
    }

    /// The error for a file most of whose lines did not parse, with the format that would
    /// read them when there is one.
    fn verdict(&self, path: &str, format: InputFormat, parsed: u64, unparsed: u64) -> ReplayError {
        let most = |n: u64| 2 * n > self.json + self.syslog + self.other;
        let hint = match format {
            InputFormat::Syslog if most(self.json) => {
                "they are JSON objects: read them with --format ndjson (or without --format)"
            }
            InputFormat::Ndjson if most(self.syslog) => {
                "they look like syslog text: read them with --format syslog (or without --format)"
            }
            _ => "they are neither syslog nor NDJSON as imagewatch reads them (see the warnings)",
        };
        ReplayError::MostlyUnparsed {
            path: path.to_owned(),
            unparsed,
            messages: parsed + unparsed,
            format: match format {
                InputFormat::Auto => "syslog or NDJSON",
                InputFormat::Syslog => "syslog",
                InputFormat::Ndjson => "NDJSON",
            },
            hint,
        }
    }
}

fn progress_bar(total: u64) -> Option<indicatif::ProgressBar> {
    if !io::stderr().is_terminal() {
        return None;
    }
    let pb = if total > 0 {
        indicatif::ProgressBar::new(total)
    } else {
        indicatif::ProgressBar::new_spinner()
    };
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} replay [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .expect("the template is a literal and valid")
        .progress_chars("=> "),
    );
    Some(pb)
}

/// The summary on stderr: what was read, what it meant, how fast.
pub fn write_summary(w: &mut dyn Write, s: &Summary, bytes: u64, secs: f64) -> io::Result<()> {
    let (r, e) = (&s.read, &s.engine);
    let secs = secs.max(1e-9);
    writeln!(
        w,
        "imagewatch replay: {} lines ({} parsed, {} unparsed, {} truncated) in {:.2}s: {:.0} lines/s, {:.1} MB/s",
        r.lines,
        r.parsed,
        r.unparsed,
        r.truncated,
        secs,
        r.lines as f64 / secs,
        bytes as f64 / secs / 1e6
    )?;
    let mut kinds: Vec<String> = SignalKind::ALL
        .iter()
        .filter_map(|k| r.signals.get(k).map(|n| format!("{k} {n}")))
        .collect();
    if kinds.is_empty() {
        kinds.push("none".to_string());
    }
    writeln!(w, "  signals: {}", kinds.join(", "))?;
    writeln!(
        w,
        "  candidates {}, duplicates dropped {}, late {}, without device {}",
        r.candidates, e.duplicates, e.late, r.no_device
    )?;
    writeln!(
        w,
        "  findings {}, alerts {} ({} suppressed, {} escalated, {} unsuppressed)",
        e.findings,
        e.alerts,
        e.suppressed,
        e.escalated,
        e.alerts - e.suppressed
    )?;
    if e.evicted + e.loaded + e.evidence_dropped > 0 {
        writeln!(
            w,
            "  machines evicted {}, read back {}; evidence lines dropped {}",
            e.evicted, e.loaded, e.evidence_dropped
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{RuleSource, load};
    use crate::source::lines::LineReader;

    /// Alert records without the wall-clock `emitted_at`.
    fn records(ndjson: &[u8]) -> Vec<serde_json::Value> {
        ndjson
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_slice(l).expect("an alert record");
                v.as_object_mut().expect("an object").remove("emitted_at");
                v
            })
            .collect()
    }

    /// The reading thread and the screening workers hand messages over in batches; what the
    /// engine makes of them must be what one thread makes of the same files, line by line,
    /// across batch and file ends.
    #[test]
    fn reading_ahead_changes_no_alert() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let gen_py =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/tools/corpus/gen.py");
        let made = std::process::Command::new("python3")
            .arg(&gen_py)
            .args([
                "--out",
                dir.to_str().unwrap(),
                "--seed",
                "11",
                "--devices",
                "30",
            ])
            .args(["--days", "3", "--noise-per-device-per-hour", "20"])
            .output()
            .expect("python3 runs");
        assert!(
            made.status.success(),
            "{}",
            String::from_utf8_lossy(&made.stderr)
        );
        let text = std::fs::read_to_string(dir.join("syslog.log")).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines.len() > 3 * read_ahead::BATCH_MESSAGES,
            "several batches: {} lines",
            lines.len()
        );
        let mid = lines.len() / 2;
        let files = [dir.join("a.log"), dir.join("b.log")];
        std::fs::write(&files[0], lines[..mid].join("\n") + "\n").unwrap();
        std::fs::write(&files[1], lines[mid..].join("\n") + "\n").unwrap();
        let changes = dir.join("changes.yaml");

        let opts = ReplayOptions {
            changes: Some(changes.clone()),
            rules: None,
            state: None,
            format: InputFormat::Auto,
            max_devices: 10_000,
            files: files.to_vec(),
            alert_format: AlertFormat::Native,
            lateness: crate::pipeline::DEFAULT_LATENESS,
        };
        let mut ahead = Vec::new();
        let summary = run(&opts, &mut ahead).expect("the replay runs");

        let loaded = load(&RuleSource::new(None), Some(&changes)).unwrap();
        let mut pipeline = Pipeline::new(
            Arc::new(loaded.classifier),
            Arc::new(loaded.sequences),
            Arc::new(loaded.calendar),
            StateStore::temporary().unwrap(),
            InputFormat::Auto,
        )
        .unwrap();
        pipeline.engine.set_limits(Limits {
            max_devices: 10_000,
            ..Limits::default()
        });
        let (mut alerts, mut one) = (Vec::new(), Vec::new());
        for path in &files {
            let mut reader = LineReader::new(File::open(path).unwrap(), true);
            let name = path.display().to_string();
            while let Some(msg) = reader.next_message().unwrap() {
                let origin = Origin {
                    file: &name,
                    line: msg.line_no,
                };
                pipeline
                    .ingest(msg.bytes, msg.lines, &origin, &mut alerts)
                    .unwrap();
                write_alerts(&mut alerts, AlertFormat::Native, &mut one).unwrap();
            }
        }
        pipeline.finish(&mut alerts).unwrap();
        write_alerts(&mut alerts, AlertFormat::Native, &mut one).unwrap();

        let (ahead, one) = (records(&ahead), records(&one));
        assert!(one.len() > 5, "the corpus raises alerts: {}", one.len());
        assert_eq!(ahead.len(), one.len(), "as many alerts");
        for (i, (a, b)) in ahead.iter().zip(&one).enumerate() {
            assert!(a == b, "alert {i} differs: {} vs {}", a["id"], b["id"]);
        }
        assert_eq!(summary.read.lines, lines.len() as u64);
        assert_eq!(summary.read.lines, pipeline.extractor.stats.lines);
        assert_eq!(summary.read.candidates, pipeline.extractor.stats.candidates);
    }
}
