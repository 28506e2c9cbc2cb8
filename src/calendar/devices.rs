//! Device scope of a window or ticket: a list of case-insensitive globs.

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use super::raw::Text;
use crate::config::ConfigError;
use serde_saphyr::Spanned;

/// Compiled device globs (`core-*`, `rtr-0042`), matched case-insensitively against the
/// canonical device name.
#[derive(Debug, Clone)]
pub(crate) struct DevicePatterns {
    patterns: Vec<String>,
    set: GlobSet,
}

impl DevicePatterns {
    pub(crate) fn compile(
        file: &str,
        owner: &str,
        raw: &Spanned<Vec<Text>>,
    ) -> Result<Self, ConfigError> {
        if raw.value.is_empty() {
            // An empty scope would silently match nothing; almost certainly a mistake.
            return Err(ConfigError::at(
                file,
                &raw.referenced,
                format!("{owner}: `devices` must list at least one device name or glob"),
            ));
        }
        let mut builder = GlobSetBuilder::new();
        let mut patterns = Vec::with_capacity(raw.value.len());
        for pattern in &raw.value {
            let text = pattern.value.trim();
            if text.is_empty() {
                return Err(ConfigError::at(
                    file,
                    &pattern.referenced,
                    format!("{owner}: empty device glob"),
                ));
            }
            let glob = GlobBuilder::new(text)
                .case_insensitive(true)
                // Device names have no path structure; `*` should match any characters.
                .literal_separator(false)
                .build()
                .map_err(|e| {
                    ConfigError::at(
                        file,
                        &pattern.referenced,
                        format!("{owner}: bad device glob `{text}`: {}", e.kind()),
                    )
                })?;
            builder.add(glob);
            patterns.push(text.to_owned());
        }
        let set = builder.build().map_err(|e| {
            ConfigError::at(
                file,
                &raw.referenced,
                format!("{owner}: device globs do not compile: {e}"),
            )
        })?;
        Ok(DevicePatterns { patterns, set })
    }

    pub(crate) fn is_match(&self, device: &str) -> bool {
        self.set.is_match(device)
    }

    /// Whether the globs match every device: `*` and its like. Tested on names of every shape
    /// a device takes (short and qualified names, both address families, odd characters),
    /// since a glob cannot be compared with "everything" directly.
    pub(crate) fn match_every_device(&self) -> bool {
        const SHAPES: [&str; 8] = [
            "a",
            "Z",
            "rtr-0042",
            "core_sw.dc1.example.net",
            "10.64.0.42",
            "2001:db8::1",
            "x~!@#$%^&()+=",
            "0",
        ];
        SHAPES.iter().all(|name| self.set.is_match(name))
    }

    pub(crate) fn patterns(&self) -> &[String] {
        &self.patterns
    }
}
