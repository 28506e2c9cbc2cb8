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
