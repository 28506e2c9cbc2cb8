//! Micro-benchmarks of the per-line hot path, on the shipped rules:
//!
//! - `prefilter_frame/noise`: framing a collector-prefixed noise line and running the literal
//!   prefilter over its message (what nearly every input line costs);
//! - `extract/noise` and `extract/signal`: the whole extract half for one line;
//! - `classify/signal`: the signal rules on a line that passed the prefilter;
//! - `engine/accept_advance`: one signal through the engine half (reorder buffer in a
//!   temporary state store, correlation, timers).
//!
//! Run with `cargo bench --bench hot_path` (`-- --quick` for a short run).

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use imagewatch::Alert;
use imagewatch::ChangeCalendar;
use imagewatch::Classifier;
use imagewatch::RuleSource;
use imagewatch::SequenceRules;
use imagewatch::StateStore;
use imagewatch::{DEFAULT_LATENESS, Engine, Extractor, Origin, Receipt, wanted_kinds};
use imagewatch::{Framed, InputFormat, StampCache};

const RULES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/rules");

/// Lines as `gen.py` writes them (collector prefix, then the raw message).
const NOISE: &[u8] = b"2026-06-01T00:46:23.936Z 10.64.76.1 <187>35343: sw-0077: Jun  1 00:46:23.786 UTC: %LINK-3-UPDOWN: Interface GigabitEthernet1/0/36, changed state to up";
const SIGNAL: &[u8] = b"2026-06-01T02:30:53.352Z 10.64.162.1 <190>83908: rtr-0163: Jun  1 02:30:53.177 UTC: %HA_EM-6-LOG: CLIaccounting: copy tftp://192.168.77.10/c2900-universalk9-mz.SPA.157-3.M9.bin flash:c2900-universalk9-mz.SPA.157-3.M9.bin";
/// The raw message of `SIGNAL` (what `classify` sees).
const SIGNAL_MESSAGE: &str = "<190>83908: rtr-0163: Jun  1 02:30:53.177 UTC: %HA_EM-6-LOG: CLIaccounting: copy tftp://192.168.77.10/c2900-universalk9-mz.SPA.157-3.M9.bin flash:c2900-universalk9-mz.SPA.157-3.M9.bin";

struct Loaded {
    classifier: Arc<Classifier>,
    rules: Arc<SequenceRules>,
    calendar: Arc<ChangeCalendar>,
}

fn load() -> Loaded {
    let dir = Path::new(RULES);
    Loaded {
        classifier: Arc::new(
            RuleSource::Dir(dir.to_path_buf())
                .classifier()
                .expect("signal rules load"),
        ),
        rules: Arc::new(
            RuleSource::Dir(dir.to_path_buf())
                .sequences()
                .expect("sequence rules load"),
        ),
        calendar: Arc::new(ChangeCalendar::empty()),
    }
}

fn extractor(l: &Loaded) -> Extractor {
    Extractor::new(
        Arc::clone(&l.classifier),
        Arc::new(l.calendar.inventory.clone()),
        Arc::new(l.classifier.focus(&wanted_kinds(&l.rules))),
        InputFormat::Auto,
    )
}

const ORIGIN: Origin<'static> = Origin {
    file: "bench",
    line: 1,
};

fn prefilter_frame(c: &mut Criterion, l: &Loaded) {
    let mut g = c.benchmark_group("prefilter_frame");
    g.throughput(Throughput::Bytes(NOISE.len() as u64));
    let mut cache = StampCache::default();
    g.bench_function("noise", |b| {
        b.iter(
            || match imagewatch::frame(black_box(NOISE), InputFormat::Auto, &mut cache) {
                Framed::Text { message, .. } => l.classifier.may_match(message),
                _ => unreachable!("a collector-prefixed line"),
            },
        )
    });
    g.finish();
}

fn extract(c: &mut Criterion, l: &Loaded) {
    let mut g = c.benchmark_group("extract");
    for (name, line) in [("noise", NOISE), ("signal", SIGNAL)] {
        let mut ex = extractor(l);
        let expect_signal = name == "signal";
        assert_eq!(
            ex.extract(line, 1, &ORIGIN, Receipt::default())
                .signal
                .is_some(),
            expect_signal,
            "{name} line"
        );
        g.throughput(Throughput::Bytes(line.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| ex.extract(black_box(line), 1, &ORIGIN, Receipt::default()))
        });
    }
    g.finish();
}

fn classify(c: &mut Criterion, l: &Loaded) {
    let mut g = c.benchmark_group("classify");
    assert!(l.classifier.classify(SIGNAL_MESSAGE).is_some());
    g.throughput(Throughput::Bytes(SIGNAL_MESSAGE.len() as u64));
    g.bench_function("signal", |b| {
        b.iter(|| l.classifier.classify(black_box(SIGNAL_MESSAGE)))
    });
    g.finish();
}

fn engine(c: &mut Criterion, l: &Loaded) {
    let mut ex = extractor(l);
    let template = ex
        .extract(SIGNAL, 1, &ORIGIN, Receipt::default())
        .signal
        .expect("the signal line yields a signal");
    let store = StateStore::temporary().expect("temporary state store");
    let mut engine = Engine::new(
        Arc::clone(&l.rules),
        Arc::clone(&l.calendar),
        store,
        DEFAULT_LATENESS,
        &|_| true,
    )
    .expect("engine");
    let mut out: Vec<Alert> = Vec::new();
    // Each iteration is a new delivery one minute after the previous one, on one of 1000
    // devices, and time moves past the lateness so `advance` processes it: the full
    // accept → stored buffer → correlate path.
    let mut t = template.time;
    let mut i = 0u32;
    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Elements(1));
    g.bench_function("accept_advance", |b| {
        b.iter_batched(
            || {
                t += 60_000;
                i += 1;
                let mut s = template.clone();
                s.device = format!("rtr-{:04}", i % 1000);
                s.time = t;
                s.fingerprint = t as u64;
                s
            },
            |s| {
                let time = s.time;
                engine.accept(*s).expect("accept");
                engine.observe(time + DEFAULT_LATENESS + 1);
                engine.advance(&mut out).expect("advance");
                out.clear();
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    let l = load();
    prefilter_frame(c, &l);
    extract(c, &l);
    classify(c, &l);
    engine(c, &l);
}

criterion_group!(hot_path, benches);
criterion_main!(hot_path);
