//! Sink stage: every output of alerts. The service writes each alert to a durable
//! [`outbox`] first and delivers it from there to the [`ndjson_file`] and [`webhook`] sinks;
//! `replay` writes alerts to standard output ([`stdout`]).

pub mod ndjson_file;
pub mod outbox;
pub mod stdout;
pub mod webhook;
