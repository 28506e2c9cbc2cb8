//! Classify stage: signal rules turn a syslog message into a signal kind with fields.

pub mod signal;

pub use signal::{Classification, SignalFields, SignalKind};
