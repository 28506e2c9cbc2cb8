//! What `replay` and `serve` run with, read from what people write: the rules (built in, or a
//! directory), the change calendar, and the one located error every such file reports.
//!
//! - [`error`]: [`ConfigError`], file, line, column and reason, for every loader.
//! - [`builtin`]: the shipped rules compiled into the binary; `imagewatch rules export`.
//! - [`loader`]: rules from their [`RuleSource`], and `changes.yaml`, compiled and checked.
//!
//! The service's own settings (listeners, limits) are `serve::config`.

mod builtin;
pub(crate) mod error;
mod loader;

pub use builtin::export as export_builtin_rules;
pub use error::ConfigError;
pub use loader::{Loaded, RuleSource, load};

use std::sync::Arc;

use crate::calendar::{ChangeCalendar, Inventory};
use crate::classify::{Classifier, Focus};
use crate::correlate::SequenceRules;

/// Rules and calendar as loaded, swapped whole on reload.
pub struct Configured {
    pub classifier: Arc<Classifier>,
    pub sequences: Arc<SequenceRules>,
    pub file_calendar: Arc<ChangeCalendar>,
    pub calendar: Arc<ChangeCalendar>,
    pub inventory: Arc<Inventory>,
    /// The classifier narrowed to the kinds the sequences use, for every listener.
    pub focus: Arc<Focus>,
}
