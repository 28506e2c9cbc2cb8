//! The error every loader of user-written files returns: which file, where in it, and why.

/// A problem in a rules, changes or config file, located for the person who has to fix it.
/// Line and column are 1-based; 0 means the problem is with the file as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {reason}")]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub reason: String,
}

impl ConfigError {
    pub fn new(
        file: impl Into<String>,
        line: usize,
        column: usize,
        reason: impl Into<String>,
    ) -> Self {
        ConfigError {
            file: file.into(),
            line,
            column,
            reason: reason.into(),
        }
    }
}

/// Turns a YAML deserialisation error into a [`ConfigError`], keeping its location and the first
/// line of its message (the rest is a source snippet that only repeats the file).
pub fn yaml_error(file: &str, err: &serde_saphyr::Error) -> ConfigError {
    let (line, column) = err
        .location()
        .map(|l| (l.line() as usize, l.column() as usize))
        .unwrap_or((0, 0));
    let text = err.without_snippet().to_string();
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("invalid YAML")
        .trim_start_matches("error: ");
    // The position is in its own fields; said again in the reason it only gets in the way.
    let reason = first
        .strip_suffix(&format!(" at line {line}, column {column}"))
        .unwrap_or(first);
    let reason = reason
        .strip_prefix(&format!("line {line} column {column}: "))
        .unwrap_or(reason);
    ConfigError::new(file, line, column, reason)
}

impl From<crate::calendar::CalendarError> for ConfigError {
    fn from(e: crate::calendar::CalendarError) -> Self {
        ConfigError::new(e.file(), e.line(), e.column(), e.reason())
    }
}

impl From<crate::classify::RulesError> for ConfigError {
    fn from(e: crate::classify::RulesError) -> Self {
        ConfigError::new(e.file, e.line as usize, e.column as usize, e.reason)
    }
}
