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
//! - [`time`]: milliseconds since the epoch, the one time unit of every stage.
//! - [`config`]: rules (built in or a directory) and the calendar loaded for `replay` and
//!   `serve`; the located error of every user-written file.

pub mod calendar;
pub mod classify;
pub mod config;
pub mod correlate;
pub mod parse;
pub mod pipeline;
pub mod replay;
pub mod serve;
pub mod sink;
pub mod source;
pub mod state;
pub mod suppress;
pub mod time;
