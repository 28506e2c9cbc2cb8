//! Builds a state directory with many synthetic devices through the engine and measures what
//! they cost, for `benches/scale.sh`.
//!
//! ```text
//! scale build --state DIR [--devices N] [--pending-every K] [--max-devices M] [--cache-mb C]
//!             [--touch T]
//! scale open --state DIR
//! ```
//!
//! `open` opens a state directory as a restart does (store, then engine) and prints how long
//! each took.
//!
//! Every device boots (a learned baseline and running version, one recent signal); every K-th
//! also sets a boot variable, so it has a pending sequence instance with a deadline a day
//! later. The signals go through the same engine as `replay` (reorder buffer, correlator,
//! store), with at most M machines in memory. Then T random devices, evicted by then, send
//! one more signal each: the cost of reading a machine back from the store.
//!
//! Prints `key=value` pairs: `rss_before_kib`, `rss_after_kib`, `bytes_per_device` (RSS
//! growth over the run divided by the number of devices), `in_memory`, `evicted`, `loaded`,
//! `build_secs`, `touch_us_per_signal` (median-free mean over T), `resident_us_per_signal`
//! (the same signals once the machines are back, for comparison), `pending` (devices with a
//! deadline).

use std::sync::Arc;
use std::time::Instant;

use imagewatch::Alert;
use imagewatch::ChangeCalendar;
use imagewatch::Engine;
use imagewatch::Limits;
use imagewatch::Millis;
use imagewatch::RuleSource;
use imagewatch::{Signal, SignalFields, SignalKind};
use imagewatch::{StateStore, StoreOptions};

/// The service's allocator (src/main.rs), so that the memory per device is the service's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The service's reorder delay (`lateness_ms`): signals wait this long for earlier lines.
const LATENESS: Millis = 250;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn device(i: u64) -> String {
    format!("dev-{i:07}")
}

fn boot(dev: &str, t: Millis, version: &str) -> Signal {
    Signal {
        device: dev.to_string(),
        time: t,
        received: Some(t + 120),
        time_source: Default::default(),
        time_reason: Default::default(),
        kind: SignalKind::Boot,
        rule_id: "cisco_ios.restart_banner".into(),
        vendor: "cisco_ios".into(),
        sender: None,
        fields: SignalFields {
            version: Some(version.into()),
            ..Default::default()
        },
        fingerprint: (t as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
        message: format!(
            "<189>3: {dev}: *Jun  2 23:00:59.000 UTC: %SYS-5-RESTART: System restarted --#012Cisco IOS Software, C1900 Software (C1900-UNIVERSALK9-M), Version {version}, RELEASE SOFTWARE (fc2)"
        ),
        origin: Default::default(),
    }
}

fn boot_var(dev: &str, t: Millis) -> Signal {
    let image = "c1900-universalk9-mz.SPA.157-3.M9.bin";
    Signal {
        device: dev.to_string(),
        time: t,
        received: Some(t + 120),
        time_source: Default::default(),
        time_reason: Default::default(),
        kind: SignalKind::BootVar,
        rule_id: "cisco_ios.cfglog_boot_system".into(),
        vendor: "cisco_ios".into(),
        sender: None,
        fields: SignalFields {
            image: Some(image.into()),
            user: Some("jdoe".into()),
            ..Default::default()
        },
        fingerprint: (t as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 1,
        message: format!(
            "<189>812: {dev}: Jun  2 22:48:00.000 UTC: %PARSER-5-CFGLOG_LOGGEDCMD: User:jdoe  logged command:boot system flash:{image}"
        ),
        origin: Default::default(),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("open") {
        return open(&args);
    }
    if args.get(1).map(String::as_str) != Some("build") {
        eprintln!(
            "usage: scale build --state DIR [--devices N] [--pending-every K] [--max-devices M] [--cache-mb C] [--touch T]"
        );
        std::process::exit(2);
    }
    let state: String = arg(&args, "--state", String::new());
    let n: u64 = arg(&args, "--devices", 1_000_000);
    let pending_every: u64 = arg(&args, "--pending-every", 20);
    let max_devices: usize = arg(&args, "--max-devices", imagewatch::DEFAULT_MAX_DEVICES);
    let cache_mb: u64 = arg(&args, "--cache-mb", imagewatch::DEFAULT_CACHE_BYTES >> 20);
    let touch: u64 = arg(&args, "--touch", 20_000);
    let rules_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let rules = Arc::new(
        RuleSource::Dir(rules_dir)
            .sequences()
            .expect("shipped rules load"),
    );
    let calendar = Arc::new(ChangeCalendar::empty());
    let store = StateStore::open_with(
        std::path::Path::new(&state),
        StoreOptions {
            cache_bytes: cache_mb << 20,
        },
    )
    .expect("state opens");
    let mut engine = Engine::new(rules, calendar, store, LATENESS, &|_| true).expect("engine");
    engine.set_durable_buffer(false);
    engine.set_limits(Limits {
        max_devices,
        ..Limits::default()
    });
    let mut out: Vec<Alert> = Vec::new();
    // Event times end now, so that the pending deadlines (a day later) are still ahead when the
    // service starts on this state: its watermark follows the wall clock.
    let now = jiff::Timestamp::now().as_millisecond();
    let t0 = now - n as Millis - 60_000;
    let rss_before = rss_kib();
    let started = Instant::now();
    // One millisecond per device: the whole fleet within 17 minutes, so no deadline fires.
    let mut t = t0;
    let feed = |engine: &mut Engine, s: Signal, out: &mut Vec<Alert>| {
        engine.observe(s.time);
        engine.accept(s).expect("accept");
        engine.advance(out).expect("advance");
    };
    for i in 0..n {
        let dev = device(i);
        t += 1;
        feed(&mut engine, boot(&dev, t, "15.7(3)M8"), &mut out);
        if pending_every > 0 && i % pending_every == 0 {
            feed(&mut engine, boot_var(&dev, t), &mut out);
        }
        if i % 100_000 == 0 && i > 0 {
            eprintln!(
                "  {i} devices, {:.0}s, rss {} MiB",
                started.elapsed().as_secs_f64(),
                rss_kib() >> 10
            );
        }
    }
    engine.finish(&mut out).expect("finish");
    let build_secs = started.elapsed().as_secs_f64();
    let rss_after = rss_kib();
    let stats = engine.stats.clone();
    let build_loaded = stats.loaded;
    let in_memory = engine.correlator().in_memory();
    let pending = engine.correlator().pending_devices();

    // Devices idle since the start, evicted long ago: one signal each reads a machine back.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut pick = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % (n / 2).max(1)
    };
    let sample: Vec<u64> = (0..touch.min(n / 2)).map(|_| pick()).collect();
    let loaded_before = engine.stats.loaded;
    let timed = |engine: &mut Engine, t: &mut Millis, out: &mut Vec<Alert>| {
        let begun = Instant::now();
        for &i in &sample {
            *t += 1;
            let s = boot(&device(i), *t, "15.7(3)M8");
            engine.observe(s.time);
            engine.accept(s).expect("accept");
            engine.advance(out).expect("advance");
        }
        engine.finish(out).expect("finish");
        begun.elapsed().as_secs_f64() * 1e6 / sample.len().max(1) as f64
    };
    let touch_us = timed(&mut engine, &mut t, &mut out);
    let loaded = engine.stats.loaded - loaded_before;
    // The same devices again, now (mostly) in memory.
    let mut again = sample.clone();
    again.truncate(max_devices / 2);
    let resident_us = {
        let begun = Instant::now();
        for &i in &again {
            t += 1;
            let s = boot(&device(i), t, "15.7(3)M8");
            engine.observe(s.time);
            engine.accept(s).expect("accept");
            engine.advance(&mut out).expect("advance");
        }
        engine.finish(&mut out).expect("finish");
        begun.elapsed().as_secs_f64() * 1e6 / again.len().max(1) as f64
    };
    let per_device = (rss_after.saturating_sub(rss_before) * 1024) as f64 / n as f64;
    println!(
        "devices={n} pending={pending} max_devices={max_devices} cache_mb={cache_mb} rss_before_kib={rss_before} rss_after_kib={rss_after} bytes_per_device={per_device:.0} in_memory={in_memory} evicted={} build_loaded={build_loaded} build_secs={build_secs:.1} alerts={} touch_signals={} touch_loaded={loaded} touch_us_per_signal={touch_us:.1} resident_us_per_signal={resident_us:.1} size_on_disk={}",
        stats.evicted,
        out.len(),
        sample.len(),
        engine.store().size_on_disk()
    );
}

/// Opens a state directory as a restart does and says how long the store and the engine took.
fn open(args: &[String]) {
    let state: String = arg(args, "--state", String::new());
    let rules_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let rules = Arc::new(
        RuleSource::Dir(rules_dir)
            .sequences()
            .expect("shipped rules load"),
    );
    let begun = Instant::now();
    let store = StateStore::open(std::path::Path::new(&state)).expect("state opens");
    let open_ms = begun.elapsed().as_secs_f64() * 1e3;
    let engine = Engine::new(
        rules,
        Arc::new(ChangeCalendar::empty()),
        store,
        LATENESS,
        &|_| true,
    )
    .expect("engine");
    let total_ms = begun.elapsed().as_secs_f64() * 1e3;
    println!(
        "store_open_ms={open_ms:.0} engine_ms={:.0} in_memory={} pending={}",
        total_ms - open_ms,
        engine.correlator().in_memory(),
        engine.correlator().pending_devices()
    );
}
