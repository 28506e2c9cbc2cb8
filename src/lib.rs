//! imagewatch detects tampering with the operating-system image of network devices
//! (MITRE ATT&CK T1601, Modify System Image) by correlating each device's syslog: image
//! transferred, boot variable changed, reload, device boots a different version.
//!
//! # Layout
//!
//! Data flows one way, one stage per folder, a plain type between stages:
//! `source → parse → classify → correlate → suppress → sink`; `pipeline` chains them.
//!
//! - `source/`: every input and its framing: files and stdin (`lines`), the one continuation
//!   rule (`continuation`), TCP/TLS framing (`framing`), UDP (`udp`, `recv`), TCP and TLS
//!   listeners (`tcp`), what a listener hands the workers (`listener`), collector prefixes,
//!   rsyslog file formats and ECS NDJSON (`ndjson`).
//! - `parse/`: the syslog header (PRI, RFC 5424/3164, Cisco/NX-OS/Junos/EOS/ASA), firewall
//!   records that carry their own device and clock (`firewall`), device clocks and zones, and
//!   which clock to trust per device (`trust`).
//! - `classify/`: signal rules (`rules/signals/*.yaml`): serde mirror (`rules`), compiling
//!   (`compile`), the literal prefilter (`prefilter`), matching (`classifier`), example checks
//!   (`examples`); the closed set of signal kinds (`signal`).
//! - `correlate/`: per-device machines (`machine`), sequence rules (`sequence`), findings and
//!   their wording from the rules (`finding`, `summary`), vendor versions (`version`), the
//!   machines held in memory (`resident`).
//! - `suppress/`: the change calendar's verdict on a finding: suppressed, escalated or plain,
//!   and the baseline an authorised change moves.
//! - `calendar/`: `changes.yaml`: maintenance windows, change tickets, allowlist, inventory,
//!   and the one canonical device id (`device_id`).
//! - `state/`: sled trees: machines, evidence lines, deadlines, alerts, outbox, reorder
//!   buffer, clock, triage.
//! - `sink/`: every output: the durable outbox, the NDJSON alert file, the webhook (headers,
//!   CA and client certificate, batches), replay's stdout, each sink's delivery health
//!   (`health`), and the one rendering of an alert record, native or ECS (`render`).
//! - `kafka/`: Kafka mode of `serve` (feature `kafka`; its settings always): input topics
//!   extracted and repartitioned by device (`input`), per-partition engines of the signals
//!   topic (`owner`), the changelog read back on assignment (`restore`), what the topics hold
//!   (`records`), the librdkafka clients (`client`).
//! - `pipeline/`: the one path shared by `replay` and `serve`: the stateless first steps of a
//!   line (`screen`: framing, literal prefilter, classification), extract (line → signal), the
//!   reorder buffer and watermark (`reorder`), the engine, the write-back order (`write_back`),
//!   devices awaiting their boot after a reload (`awaiting`).
//! - `config/`: what a run is configured with: rules built in or from a directory
//!   (`builtin`, `loader`), the calendar, and the one located error (`error`).
//! - `serve/`: the service: its settings (`config`), the HTTP API, calendar entries added
//!   through it (`calendar_api`) and their audit trail (`calendar_audit`), alert queries,
//!   triage, the same-origin check, engine workers, start-up and shutdown.
//! - `console/`: the analyst console on the API's port: page shells, server-rendered fragments
//!   (askama templates), the SVG time line (`timeline`), a small script and style sheet.
//! - `replay/`: the `replay` command, its reading thread and screening workers (`read_ahead`); `explain`: the
//!   `explain` command, how each line is read; `coverage`: which devices log what T1601
//!   needs, and what to enable where they do not;
//!   `telemetry`: the service's metrics; `time`: milliseconds since the epoch, the one time
//!   unit of every stage.

mod calendar;
mod classify;
mod config;
mod console;
mod correlate;
pub mod coverage;
pub mod explain;
mod kafka;
mod parse;
mod pipeline;
pub mod replay;
pub mod serve;
mod sink;
mod source;
mod state;
mod suppress;
pub mod telemetry;
mod time;

// What the binary, the integration tests, the benchmarks and the fuzz targets use; everything
// else is crate-private, so the compiler reports what nothing calls.
pub use calendar::{ChangeCalendar, canonical_host};
pub use classify::examples::{CoverageCell, CoverageMatrix};
pub use classify::rules::{RawExamples, RawFile};
pub use classify::{Classification, Classifier, Signal, SignalFields, SignalKind};
pub use config::{ConfigError, Loaded, RuleSource, export_builtin_rules, load as load_config};
pub use correlate::{DEFAULT_MAX_DEVICES, Limits, SequenceRules};
// The device-to-partition map of the signals and changelog topics, for `examples/kafka_changelog`.
#[cfg(feature = "kafka")]
pub use kafka::records::partition_of;
pub use parse::parse_header;
pub use pipeline::{DEFAULT_LATENESS, Engine, Extractor, Origin, Pipeline, Receipt, wanted_kinds};
pub use sink::render::{AlertFormat, render};
pub use sink::webhook::{Batch, SecretValue};
pub use source::framing::SyslogFramer;
pub use source::lines::{LineReader, MAX_LINE};
pub use source::ndjson::{arrival_hint, decode as decode_ndjson};
pub use source::{Framed, InputFormat, StampCache, decode_message, frame};
pub use state::{DEFAULT_CACHE_BYTES, StateStore, StoreOptions};
pub use suppress::Alert;
pub use time::{Millis, SECOND, parse_rfc3339};
