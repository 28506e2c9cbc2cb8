//! The one error type of the calendar loader: where in which file, and why.
//!
//! Every check that can fail points at a YAML node, so the error carries the file name, the
//! 1-based line and column of that node and a sentence a person can act on.

use serde_saphyr::Location;

/// A calendar file that could not be read, parsed or validated.
///
/// `line` and `column` are 1-based; both are 0 when the problem has no position in the text
/// (the file could not be read at all).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {reason}")]
pub struct CalendarError {
    file: String,
    line: usize,
    column: usize,
    reason: String,
}

impl CalendarError {
    pub(crate) fn new(file: &str, line: usize, column: usize, reason: impl Into<String>) -> Self {
        CalendarError {
            file: file.to_owned(),
            line,
            column,
            reason: reason.into(),
        }
    }

    pub(crate) fn at(file: &str, loc: &Location, reason: impl Into<String>) -> Self {
        Self::new(file, to_usize(loc.line()), to_usize(loc.column()), reason)
    }

    /// Converts a serde-saphyr error (syntax, unknown field, wrong type, budget breach).
    pub(crate) fn from_yaml(file: &str, err: &serde_saphyr::Error) -> Self {
        // The plain (snippet-free) rendering ends in " at line L, column C"; the position is
        // kept in its own fields, so the suffix is cut to keep `reason` a clean sentence.
        let text = err.without_snippet().to_string();
        match err.location() {
            Some(loc) => {
                let suffix = format!(" at line {}, column {}", loc.line(), loc.column());
                let reason = text.strip_suffix(&suffix).unwrap_or(&text);
                Self::at(file, &loc, reason)
            }
            None => Self::new(file, 0, 0, text),
        }
    }

    /// The file name given to the loader (`origin`), as passed in.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// 1-based line of the offending node; 0 when there is none.
    pub fn line(&self) -> usize {
        self.line
    }

    /// 1-based column of the offending node; 0 when there is none.
    pub fn column(&self) -> usize {
        self.column
    }

    /// Why the file was rejected.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

fn to_usize(n: u64) -> usize {
    // Positions come from u32 counters inside serde-saphyr, so this never saturates in practice.
    usize::try_from(n).unwrap_or(usize::MAX)
}
