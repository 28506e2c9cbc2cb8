//! imagewatch detects tampering with the operating-system image of network devices
//! (MITRE ATT&CK T1601, Modify System Image) by correlating each device's syslog: image
//! transferred, boot variable changed, reload, device boots a different version.
//!
//! # Layout
//!
//! Data flows one way, one stage per module, a plain type between stages:
//! `source → parse → classify → correlate → suppress → sink`.
//!
//! - [`source`]: every input: files, stdin, UDP, TCP, TLS; framing, collector prefixes, rsyslog file formats, ECS NDJSON.
//! - [`parse`]: the syslog header (PRI, RFC 5424/3164, Cisco/NX-OS/Junos/EOS/ASA) and device clocks.
//! - [`classify`]: signal rules (`rules/signals/*.yaml`) turn a message into a [`classify::Signal`].
//! - [`correlate`]: per-device machines run sequence rules (`rules/sequences/*.yaml`) into [`correlate::Finding`]s.
//! - [`suppress`]: the change calendar turns findings into [`suppress::Alert`]s (suppressed, escalated or plain).
//! - [`calendar`]: `changes.yaml`: maintenance windows, change tickets, allowlist, inventory.
//! - [`sink`]: every output: the durable outbox, the NDJSON alert file, the webhook, replay's stdout.
//! - [`state`]: device machines, alerts and the clock in sled.
//! - [`pipeline`]: the one code path from a line to alerts, shared by `replay` and `serve`.
//! - [`replay`]: the `replay` command.
//! - [`explain`]: the `explain` command: how each line is read, as JSON.
//! - [`time`]: milliseconds since the epoch, the one time unit of every stage.
//! - [`config`]: rules (built in or a directory) and the calendar loaded for `replay` and
//!   `serve`; the located error of every user-written file.

mod calendar;
mod classify;
mod config;
mod correlate;
pub mod explain;
mod parse;
mod pipeline;
pub mod replay;
pub mod serve;
mod sink;
mod source;
mod state;
mod suppress;
mod time;

// What the binary, the integration tests, the benchmarks and the fuzz targets use; everything
// else is crate-private, so the compiler reports what nothing calls.
pub use calendar::{ChangeCalendar, canonical_host};
pub use classify::rules::{RawExamples, RawFile};
pub use classify::{Classification, Classifier, Signal, SignalFields, SignalKind};
pub use config::{ConfigError, Loaded, RuleSource, export_builtin_rules, load as load_config};
pub use correlate::{DEFAULT_MAX_DEVICES, Limits, SequenceRules};
pub use parse::parse_header;
pub use pipeline::{DEFAULT_LATENESS, Engine, Extractor, Origin, Pipeline, Receipt, wanted_kinds};
pub use source::framing::SyslogFramer;
pub use source::lines::{LineReader, MAX_LINE};
pub use source::ndjson::{arrival_hint, decode as decode_ndjson};
pub use source::{Framed, InputFormat, StampCache, decode_message, frame};
pub use state::{DEFAULT_CACHE_BYTES, StateStore, StoreOptions};
pub use suppress::Alert;
pub use time::{Millis, SECOND, parse_rfc3339};
