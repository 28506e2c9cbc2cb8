//! Classify stage: signal rules turn a syslog message into a signal kind with fields.
//!
//! - [`signal`]: the output types.
//! - [`rules`]: the serde mirror of `rules/signals/*.yaml`.
//! - [`classifier`]: compiling rule files and classifying messages (semantics documented there).
//! - `prefilter`: the literal automaton every input line goes through.

pub mod classifier;
mod prefilter;
pub mod rules;
pub mod signal;

pub use classifier::{Classifier, ExampleFailure, Focus};
pub use signal::{Classification, Signal, SignalFields, SignalKind};
