//! Errors of the signal-rule loader: always a file, a position and a reason a rule author
//! can act on.

use std::fmt;

/// What went wrong, for callers (and tests) that branch on it; the text is in `reason`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RulesErrorKind {
    /// The rules directory or a file in it could not be read.
    Io,
    /// No `*.yaml` file in `signals/`.
    EmptyDir,
    /// YAML syntax, a missing or unknown key, a wrong type.
    Syntax,
    UnknownKind,
    InvalidRegex,
    UnknownCapture,
    CarrierWithoutCommand,
    MissingLiterals,
    /// A literal that is empty or longer than the prefilter accepts.
    InvalidLiteral,
    DuplicateId,
}

/// A rule file that cannot be loaded. `line` and `column` are 1-based; 0 when the problem has
/// no position (an unreadable directory).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct RulesError {
    pub file: String,
    pub line: u64,
    pub column: u64,
    pub kind: RulesErrorKind,
    pub reason: String,
}

impl fmt::Display for RulesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.reason)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file, self.line, self.column, self.reason
            )
        }
    }
}

impl RulesError {
    pub(crate) fn at(
        file: &str,
        loc: serde_saphyr::Location,
        kind: RulesErrorKind,
        reason: impl Into<String>,
    ) -> RulesError {
        RulesError {
            file: file.to_owned(),
            line: loc.line(),
            column: loc.column(),
            kind,
            reason: reason.into(),
        }
    }

    pub(crate) fn nowhere(file: &str, kind: RulesErrorKind, reason: impl Into<String>) -> Self {
        RulesError {
            file: file.to_owned(),
            line: 0,
            column: 0,
            kind,
            reason: reason.into(),
        }
    }
}
