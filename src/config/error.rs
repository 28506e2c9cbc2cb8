//! The one located error of every loader of user-written files (signal rules, sequence rules,
//! `changes.yaml`, the service's TOML), and the one place that reads serde-saphyr's and TOML's
//! positions into it.

use std::fmt;

use serde_saphyr::Location;

/// A problem in a rules, changes or config file, located for the person who has to fix it.
/// Line and column are 1-based; 0 means the problem is with the file as a whole (it cannot be
/// read, it is missing), and then no position is shown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            // `rules/signals:0:0:` reads like a place in a file that does not exist.
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

    /// A problem with the file (or directory) as a whole: unreadable, missing, empty.
    pub fn whole(file: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::new(file, 0, 0, reason)
    }

    /// A problem at a YAML node.
    pub fn at(file: &str, loc: &Location, reason: impl Into<String>) -> Self {
        Self::new(file, to_usize(loc.line()), to_usize(loc.column()), reason)
    }

    /// A problem at a byte offset of `text` (TOML reports spans as byte ranges).
    pub fn at_offset(file: &str, text: &str, offset: usize, reason: impl Into<String>) -> Self {
        let (line, column) = position(text, offset);
        Self::new(file, line, column, reason)
    }

    /// Converts a serde-saphyr error (syntax, unknown field, wrong type, budget breach).
    pub fn from_yaml(file: &str, err: &serde_saphyr::Error) -> Self {
        let text = err.without_snippet().to_string();
        match err.location() {
            Some(loc) if loc.line() > 0 => {
                let reason = yaml_reason(&text, loc.line(), loc.column());
                Self::at(file, &loc, reason)
            }
            _ => Self::whole(file, first_line(&text)),
        }
    }

    /// Converts a TOML error; `text` is the file's text, to turn its byte span into a position.
    pub fn from_toml(file: &str, text: &str, err: &toml::de::Error) -> Self {
        match err.span() {
            Some(span) => Self::at_offset(file, text, span.start, err.message()),
            None => Self::whole(file, err.message()),
        }
    }
}

/// The sentence of a serde-saphyr message, without what the error's fields already hold: the
/// message repeats the position (` at line L, column C`, or a `line L column C: ` prefix), and
/// lines after the first are a source snippet.
fn yaml_reason(text: &str, line: u64, column: u64) -> String {
    let first = first_line(text);
    let reason = match first.strip_suffix(&format!(" at line {line}, column {column}")) {
        Some(r) => r,
        // Some messages place the position differently; anything from " at line " on is it.
        None => first
            .rfind(" at line ")
            .map_or(first, |i| first[..i].trim_end()),
    };
    reason
        .strip_prefix(&format!("line {line} column {column}: "))
        .unwrap_or(reason)
        .to_string()
}

/// The 1-based line and column (in characters) of a byte offset of `text`.
pub fn position(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

fn first_line(text: &str) -> &str {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("invalid YAML")
        .trim_start_matches("error: ")
}

fn to_usize(n: u64) -> usize {
    // Positions come from u32 counters inside serde-saphyr, so this never saturates in practice.
    usize::try_from(n).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whole_file_problem_shows_no_position() {
        let e = ConfigError::whole("rules/signals", "cannot read directory: gone");
        assert_eq!(e.to_string(), "rules/signals: cannot read directory: gone");
        let e = ConfigError::new("x.yaml", 3, 7, "bad");
        assert_eq!(e.to_string(), "x.yaml:3:7: bad");
    }

    #[test]
    fn yaml_and_toml_positions_are_read_the_same_way() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Doc {
            a: u32,
        }
        assert_eq!(serde_saphyr::from_str::<Doc>("a: 1\n").unwrap().a, 1);
        let yaml = serde_saphyr::from_str::<Doc>("a: 1\nb: 2\n").unwrap_err();
        let e = ConfigError::from_yaml("f.yaml", &yaml);
        assert_eq!((e.line, e.column), (2, 1), "{e}");
        assert!(e.reason.contains('b') && !e.reason.contains("line"), "{e}");

        let text = "a = 1\nb = 2\n";
        let toml = toml::from_str::<Doc>(text).unwrap_err();
        let e = ConfigError::from_toml("f.toml", text, &toml);
        assert_eq!((e.line, e.column), (2, 1), "{e}");
        assert!(e.reason.contains('b'), "{e}");
    }
}
