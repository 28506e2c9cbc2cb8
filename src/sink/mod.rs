//! Sink stage: every output of alerts. The service writes each alert to a durable
//! [`outbox`] first and delivers it from there to the [`ndjson_file`] and [`webhook`] sinks;
//! `replay` writes alerts to standard output ([`stdout`]). Each writes the record [`render`]
//! makes of an alert: the native record or an ECS document. Each sink's [`health`] says
//! whether it is delivering.

pub(crate) mod health;
pub(crate) mod ndjson_file;
pub(crate) mod outbox;
pub(crate) mod render;
pub(crate) mod stdout;
pub(crate) mod webhook;

/// An alert as every sink writes it: the NDJSON file's line, the webhook's body, the Kafka
/// alerts topic's value.
pub(crate) fn alert_record(alert: &crate::suppress::Alert) -> Vec<u8> {
    serde_json::to_vec(alert).expect("alerts always serialise")
}
