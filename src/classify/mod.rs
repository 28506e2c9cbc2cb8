//! Classify stage: signal rules turn a syslog message into a signal kind with fields.
//!
//! - [`signal`]: the output types.
//! - [`rules`]: the serde mirror of `rules/signals/*.yaml`.
//! - `compile`: rule files compiled into checked rules, with located errors.
//! - [`classifier`]: classifying messages (the rule files' semantics are documented there).
//! - [`examples`]: the rule files' example lines, checked through the whole classifier.
//! - `prefilter`: the literal automaton every input line goes through.

pub(crate) mod classifier;
mod compile;
pub(crate) mod examples;
mod prefilter;
pub(crate) mod rules;
pub(crate) mod signal;

pub use classifier::{Classifier, Focus};
pub use signal::{
    Classification, EventOrigin, RESUMED_BOOT_RULE, Signal, SignalFields, SignalKind,
};
