//! Signal-rule loader and classifier: compiles `rules/signals/*.yaml` and turns one syslog
//! message into at most one [`Classification`].
//!
//! # Semantics of the rule files
//!
//! - **Files** are loaded in file-name order; rule ids are unique across all files (carriers,
//!   commands and messages share one namespace). The file's `vendor` becomes
//!   `Classification::vendor`; for a command recognised through a carrier it is the
//!   *carrier's* vendor, because the carrier is what says which kind of device wrote the line.
//! - **Matching** is ASCII case-insensitive over bytes (`regex::bytes`, `unicode(false)`), and
//!   `.` matches `\n`: multi-line messages such as the `%SYS-5-RESTART` banner arrive with
//!   `\n` inside (the caller decodes rsyslog's `#012`). Regex size limits keep a hostile rule
//!   file from exhausting memory.
//! - **Order.** Message rules first, in file order then order in the file; they match anywhere
//!   in the whole message (header included) and the first one that matches and whose `unless`
//!   does not match wins. If none wins, the first carrier whose pattern matches extracts the
//!   command; then command rules, in the same order, are matched from the start of that
//!   command text, first match whose `unless` (over the command text) does not match wins.
//!   Only the first matching carrier is consulted.
//! - **Literals.** A message or command rule is tried only when at least one of its `literals`
//!   occurs in the line (ASCII case-insensitive). [`Classifier::may_match`], meant for every
//!   input line, is one SIMD literal search over all of them (see `prefilter`); a line it
//!   rejects cannot classify to anything.
//! - **Fields.** Named captures map onto [`SignalFields`]; allowed names are `image`, `path`,
//!   `server`, `proto`, `user`, `src`, `version`, `command` (carriers: `command`, `user`,
//!   `src`; `command` is required). Carrier fields merge under the command rule's captures.
//!   `command` is the carrier's command text, trimmed of whitespace and a trailing `<cr>`
//!   (tac_plus) — Junos writes a trailing space inside the quotes.
//! - **Normalisation** (code, not rules): captures are trimmed and empty ones dropped;
//!   `image` is reduced to its basename (after the last `/` or `:`); when that leaves no image
//!   (not captured, or `flash:` only), the basename of `path` is the image; `server` loses
//!   IPv6 brackets; `user` loses surrounding quotes; `version` loses trailing `,` and `.`.
//! - **Examples** are run by [`Classifier::check_examples`] through the whole classifier.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use regex::bytes::{Captures, Regex, RegexBuilder};
use serde_saphyr::{Location, Spanned};

use super::prefilter::{Candidates, MAX_LITERAL_LEN, Prefilter};
use super::rules::{RawCarrier, RawExamples, RawFields, RawFile, RawRule};
use super::signal::{Classification, SignalFields, SignalKind};
use crate::config::ConfigError;

/// Compiled program size limit per pattern. Real rules compile to a few tens of KiB; this stops
/// `(a{1000}){1000}`-style patterns at load time.
const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// Lazy-DFA cache per pattern (per thread that uses it).
const REGEX_DFA_SIZE_LIMIT: usize = 1 << 20;
/// Nesting depth limit, far above anything a readable rule needs.
const REGEX_NEST_LIMIT: u32 = 64;

/// A field a capture group can fill.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Image,
    Path,
    Server,
    Proto,
    User,
    Src,
    Version,
    Command,
}

impl Field {
    const ALL: [Field; 8] = [
        Field::Image,
        Field::Path,
        Field::Server,
        Field::Proto,
        Field::User,
        Field::Src,
        Field::Version,
        Field::Command,
    ];
    const CARRIER: [Field; 3] = [Field::Command, Field::User, Field::Src];

    fn name(self) -> &'static str {
        match self {
            Field::Image => "image",
            Field::Path => "path",
            Field::Server => "server",
            Field::Proto => "proto",
            Field::User => "user",
            Field::Src => "src",
            Field::Version => "version",
            Field::Command => "command",
        }
    }

    fn slot(self, f: &mut SignalFields) -> &mut Option<String> {
        match self {
            Field::Image => &mut f.image,
            Field::Path => &mut f.path,
            Field::Server => &mut f.server,
            Field::Proto => &mut f.proto,
            Field::User => &mut f.user,
            Field::Src => &mut f.src,
            Field::Version => &mut f.version,
            Field::Command => &mut f.command,
        }
    }

    fn get(self, f: &SignalFields) -> Option<&str> {
        match self {
            Field::Image => f.image.as_deref(),
            Field::Path => f.path.as_deref(),
            Field::Server => f.server.as_deref(),
            Field::Proto => f.proto.as_deref(),
            Field::User => f.user.as_deref(),
            Field::Src => f.src.as_deref(),
            Field::Version => f.version.as_deref(),
            Field::Command => f.command.as_deref(),
        }
    }
}

/// A compiled pattern and where its named groups go.
struct Pattern {
    regex: Regex,
    /// (capture-group index, field) for every named group.
    groups: Vec<(usize, Field)>,
}

impl Pattern {
    /// Writes every participating named group into `out` (trimmed, empty dropped).
    fn extract(&self, caps: &Captures<'_>, out: &mut SignalFields) {
        for &(i, field) in &self.groups {
            if let Some(m) = caps.get(i) {
                let text = String::from_utf8_lossy(m.as_bytes());
                let text = text.trim();
                if !text.is_empty() {
                    *field.slot(out) = Some(text.to_owned());
                }
            }
        }
    }
}

struct MatchExample {
    line: u64,
    text: String,
    fields: SignalFields,
}

struct NoMatchExample {
    line: u64,
    text: String,
}

#[derive(Default)]
struct Examples {
    matches: Vec<MatchExample>,
    no_match: Vec<NoMatchExample>,
}

impl Examples {
    fn len(&self) -> usize {
        self.matches.len() + self.no_match.len()
    }
}

/// Who a rule is and where it came from.
struct Origin {
    id: Arc<str>,
    vendor: Arc<str>,
    file: Arc<str>,
}

/// A compiled message or command rule.
struct Rule {
    origin: Origin,
    kind: SignalKind,
    pattern: Pattern,
    unless: Option<Regex>,
    examples: Examples,
}

/// A compiled carrier.
struct Carrier {
    origin: Origin,
    pattern: Pattern,
    /// Group index of `command` (required at load time).
    command: usize,
    examples: Examples,
}

/// Signal rules, compiled. Immutable after loading, so it is `Send + Sync` and shared behind
/// an `Arc`; reloading rules means building a new one.
pub struct Classifier {
    /// Message rules, in order; global rule index `i`.
    messages: Vec<Rule>,
    /// Command rules, in order; global rule index `messages.len() + i`.
    commands: Vec<Rule>,
    carriers: Vec<Carrier>,
    prefilter: Prefilter,
}

/// The classifier narrowed to the signal kinds someone consumes (the kinds some sequence rule
/// uses). Lines that contain no literal of such a rule go no further than the hot prefilter,
/// and a candidate line whose literals belong only to other kinds' rules skips the regexes:
/// whatever those rules said, the line would be discarded. Rule order is unchanged, so a line
/// an earlier rule of another kind claims still yields nothing.
pub struct Focus {
    prefilter: Prefilter,
    rules: Vec<u64>,
    kinds: Vec<SignalKind>,
}

impl Focus {
    /// The hot path: true when a literal of a focused rule occurs in `line`.
    #[inline]
    pub fn may_match(&self, line: &[u8]) -> bool {
        self.prefilter.may_match(line)
    }
}

/// One example that does not behave as its rule file says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExampleFailure {
    pub file: String,
    pub rule_id: String,
    /// Line of the example in the rule file.
    pub line: u64,
    pub example: String,
    pub problem: String,
}

impl fmt::Display for ExampleFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: rule {}: {}: {:?}",
            self.file, self.line, self.rule_id, self.problem, self.example
        )
    }
}

/// How a line was classified, with enough detail for example checking.
enum Verdict<'a> {
    Message(&'a Rule, SignalFields),
    Command(&'a Carrier, &'a Rule, SignalFields),
}

impl Classifier {
    /// Compiles rule files given as (name, YAML text), in the given order.
    pub fn from_sources(files: &[(String, String)]) -> Result<Classifier, ConfigError> {
        if files.is_empty() {
            return Err(ConfigError::whole(
                "<sources>",
                "no signal rule files given",
            ));
        }
        let mut seen: HashMap<String, (Arc<str>, Location)> = HashMap::new();
        let mut messages = Vec::new();
        let mut commands = Vec::new();
        let mut carriers = Vec::new();
        // Literals are collected per family and renumbered once the message count is known.
        let mut message_lits: Vec<(String, usize)> = Vec::new();
        let mut command_lits: Vec<(String, usize)> = Vec::new();

        for (name, text) in files {
            let file: Arc<str> = Arc::from(name.as_str());
            let raw: RawFile =
                serde_saphyr::from_str(text).map_err(|e| ConfigError::from_yaml(name, &e))?;
            let vendor: Arc<str> = Arc::from(raw.vendor.value.trim());
            if vendor.is_empty() {
                return Err(ConfigError::at(
                    name,
                    &raw.vendor.referenced,
                    "vendor must not be empty",
                ));
            }
            for c in raw.carriers {
                claim_id(&mut seen, &file, &c.id)?;
                carriers.push(compile_carrier(&file, &vendor, c)?);
            }
            for r in raw.commands {
                claim_id(&mut seen, &file, &r.id)?;
                let (rule, lits) = compile_rule(&file, &vendor, r, true)?;
                command_lits.extend(lits.into_iter().map(|l| (l, commands.len())));
                commands.push(rule);
            }
            for r in raw.messages {
                claim_id(&mut seen, &file, &r.id)?;
                let (rule, lits) = compile_rule(&file, &vendor, r, false)?;
                message_lits.extend(lits.into_iter().map(|l| (l, messages.len())));
                messages.push(rule);
            }
        }

        let offset = messages.len();
        let mut literals = message_lits;
        literals.extend(command_lits.into_iter().map(|(l, i)| (l, i + offset)));
        let prefilter = Prefilter::new(&literals, messages.len() + commands.len())
            .map_err(|e| ConfigError::whole(&files[0].0, e))?;
        Ok(Classifier {
            messages,
            commands,
            carriers,
            prefilter,
        })
    }

    /// The hot path, for every input line: true when some rule literal occurs in `line`.
    /// One automaton call, no allocation. A line that passes may still classify to nothing.
    #[inline]
    pub fn may_match(&self, line: &[u8]) -> bool {
        self.prefilter.may_match(line)
    }

    /// The classifier narrowed to `kinds` (see [`Focus`]).
    pub fn focus(&self, kinds: &[SignalKind]) -> Focus {
        let wanted = |r: usize| kinds.contains(&self.rule_by_index(r).kind);
        let prefilter = self
            .prefilter
            .narrowed(wanted)
            .expect("a subset of literals that built once builds again");
        Focus {
            prefilter,
            rules: self.prefilter.rule_set(wanted),
            kinds: kinds.to_vec(),
        }
    }

    fn rule_by_index(&self, i: usize) -> &Rule {
        self.messages
            .get(i)
            .unwrap_or_else(|| &self.commands[i - self.messages.len()])
    }

    /// Classifies one message for `focus`: `None` unless a focused kind results.
    pub fn classify_focused(&self, focus: &Focus, message: &str) -> Option<Classification> {
        let candidates = self.prefilter.candidates(message.as_bytes())?;
        if !candidates.intersects(&focus.rules) {
            return None;
        }
        let class = self.classification(self.verdict_among(message, candidates)?);
        focus.kinds.contains(&class.kind).then_some(class)
    }

    /// Classifies one message (header included; multi-line messages with `\n` inside).
    pub fn classify(&self, message: &str) -> Option<Classification> {
        Some(self.classification(self.verdict(message)?))
    }

    fn classification(&self, verdict: Verdict<'_>) -> Classification {
        match verdict {
            Verdict::Message(rule, fields) => Classification {
                rule_id: rule.origin.id.clone(),
                vendor: rule.origin.vendor.clone(),
                kind: rule.kind,
                fields,
            },
            Verdict::Command(carrier, rule, fields) => Classification {
                rule_id: rule.origin.id.clone(),
                vendor: carrier.origin.vendor.clone(),
                kind: rule.kind,
                fields,
            },
        }
    }

    fn verdict(&self, message: &str) -> Option<Verdict<'_>> {
        let candidates = self.prefilter.candidates(message.as_bytes())?;
        self.verdict_among(message, candidates)
    }

    fn verdict_among(&self, message: &str, candidates: Candidates) -> Option<Verdict<'_>> {
        let hay = message.as_bytes();
        for (i, rule) in self.messages.iter().enumerate() {
            if !candidates.contains(i) {
                continue;
            }
            let Some(caps) = rule.pattern.regex.captures(hay) else {
                continue;
            };
            if rule.unless.as_ref().is_some_and(|u| u.is_match(hay)) {
                continue;
            }
            let mut fields = SignalFields::default();
            rule.pattern.extract(&caps, &mut fields);
            return Some(Verdict::Message(rule, normalise(fields)));
        }
        let offset = self.messages.len();
        // No command literal in the line means no command rule can be tried: skip carriers.
        if !candidates.any_in(offset..offset + self.commands.len()) {
            return None;
        }
        let (ci, carried) = self.carry(hay)?;
        let carrier = &self.carriers[ci];
        let command = carried.command.as_deref().unwrap_or_default();
        for (j, rule) in self.commands.iter().enumerate() {
            if !candidates.contains(offset + j) {
                continue;
            }
            let Some(caps) = rule.pattern.regex.captures(command.as_bytes()) else {
                continue;
            };
            if rule
                .unless
                .as_ref()
                .is_some_and(|u| u.is_match(command.as_bytes()))
            {
                continue;
            }
            let mut fields = carried.clone();
            rule.pattern.extract(&caps, &mut fields);
            // The command text is the carrier's, whatever the command rule captured.
            fields.command = carried.command.clone();
            return Some(Verdict::Command(carrier, rule, normalise(fields)));
        }
        None
    }

    /// The first carrier whose pattern matches, with its fields (`command` trimmed).
    fn carry(&self, hay: &[u8]) -> Option<(usize, SignalFields)> {
        for (i, carrier) in self.carriers.iter().enumerate() {
            let Some(caps) = carrier.pattern.regex.captures(hay) else {
                continue;
            };
            let mut fields = SignalFields::default();
            carrier.pattern.extract(&caps, &mut fields);
            let raw = caps
                .get(carrier.command)
                .map(|m| m.as_bytes())
                .unwrap_or_default();
            fields.command = Some(trim_command(&String::from_utf8_lossy(raw)).to_owned());
            return Some((i, normalise(fields)));
        }
        None
    }

    /// Number of rules of all three families.
    pub fn rule_count(&self) -> usize {
        self.messages.len() + self.commands.len() + self.carriers.len()
    }

    /// Number of `match` and `no_match` examples of all rules.
    pub fn example_count(&self) -> usize {
        self.rules().map(|r| r.examples.len()).sum::<usize>()
            + self
                .carriers
                .iter()
                .map(|c| c.examples.len())
                .sum::<usize>()
    }

    fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.messages.iter().chain(self.commands.iter())
    }

    /// Runs every rule's examples through the whole classifier (prefilter and all rules).
    ///
    /// A `match` example of a message or command rule must pass the prefilter and be won by
    /// that rule with at least the given fields; a `no_match` example must not be won by it.
    /// For a carrier, "won" means it is the first carrier whose pattern matches (carriers
    /// have no literals, and a carried `show version` rightly classifies to nothing).
    pub fn check_examples(&self) -> Vec<ExampleFailure> {
        let mut failures = Vec::new();
        for rule in self.rules() {
            let fail = |ex_line: u64, text: &str, problem: String| ExampleFailure {
                file: rule.origin.file.to_string(),
                rule_id: rule.origin.id.to_string(),
                line: ex_line,
                example: text.to_owned(),
                problem,
            };
            for ex in &rule.examples.matches {
                if !self.may_match(ex.text.as_bytes()) {
                    failures.push(fail(
                        ex.line,
                        &ex.text,
                        "does not pass the prefilter".into(),
                    ));
                    continue;
                }
                match self.verdict(&ex.text) {
                    None => failures.push(fail(ex.line, &ex.text, "classified as nothing".into())),
                    Some(v) => {
                        let (winner, fields) = match &v {
                            Verdict::Message(r, f) | Verdict::Command(_, r, f) => (*r, f),
                        };
                        if !std::ptr::eq(winner, rule) {
                            let problem =
                                format!("won by {} ({}) instead", winner.origin.id, winner.kind);
                            failures.push(fail(ex.line, &ex.text, problem));
                        } else if let Some(problem) = field_mismatch(&ex.fields, fields) {
                            failures.push(fail(ex.line, &ex.text, problem));
                        }
                    }
                }
            }
            for ex in &rule.examples.no_match {
                let won = match self.verdict(&ex.text) {
                    Some(Verdict::Message(r, _)) | Some(Verdict::Command(_, r, _)) => {
                        std::ptr::eq(r, rule)
                    }
                    None => false,
                };
                if won {
                    failures.push(fail(
                        ex.line,
                        &ex.text,
                        "no_match example won by the rule".into(),
                    ));
                }
            }
        }
        for (ci, carrier) in self.carriers.iter().enumerate() {
            let fail = |ex_line: u64, text: &str, problem: String| ExampleFailure {
                file: carrier.origin.file.to_string(),
                rule_id: carrier.origin.id.to_string(),
                line: ex_line,
                example: text.to_owned(),
                problem,
            };
            for ex in &carrier.examples.matches {
                match self.carry(ex.text.as_bytes()) {
                    None => failures.push(fail(ex.line, &ex.text, "no carrier matches".into())),
                    Some((i, _)) if i != ci => {
                        let problem = format!("carried by {} instead", self.carriers[i].origin.id);
                        failures.push(fail(ex.line, &ex.text, problem));
                    }
                    Some((_, fields)) => {
                        if let Some(problem) = field_mismatch(&ex.fields, &fields) {
                            failures.push(fail(ex.line, &ex.text, problem));
                        }
                    }
                }
            }
            for ex in &carrier.examples.no_match {
                if self.carry(ex.text.as_bytes()).is_some_and(|(i, _)| i == ci) {
                    failures.push(fail(ex.line, &ex.text, "no_match example carried".into()));
                }
            }
        }
        failures
    }
}

/// The first expected field that is missing or different, described.
fn field_mismatch(expected: &SignalFields, got: &SignalFields) -> Option<String> {
    Field::ALL.into_iter().find_map(|f| {
        let want = f.get(expected)?;
        match f.get(got) {
            Some(have) if have == want => None,
            Some(have) => Some(format!(
                "field {}: expected {want:?}, got {have:?}",
                f.name()
            )),
            None => Some(format!(
                "field {}: expected {want:?}, got nothing",
                f.name()
            )),
        }
    })
}

/// Strips what accounting sources append to a command: whitespace (Junos writes a trailing
/// space inside the quotes) and tac_plus's ` <cr>`.
fn trim_command(text: &str) -> &str {
    let mut t = text.trim();
    while let Some(rest) = t.strip_suffix("<cr>") {
        t = rest.trim_end();
    }
    t
}

/// Field normalisation shared by all rules, so rule files stay about recognition.
fn normalise(mut f: SignalFields) -> SignalFields {
    let base = |s: &str| -> Option<String> {
        let b = s.rsplit(['/', ':']).next().unwrap_or(s).trim();
        (!b.is_empty()).then(|| b.to_owned())
    };
    f.image = f.image.as_deref().and_then(base);
    if f.image.is_none() {
        f.image = f.path.as_deref().and_then(base);
    }
    if let Some(s) = f.server.as_mut()
        && let Some(inner) = s.strip_prefix('[').and_then(|x| x.strip_suffix(']'))
    {
        *s = inner.to_owned();
    }
    if let Some(u) = f.user.as_mut() {
        let t = u.trim_matches(|c| c == '\'' || c == '"');
        if t.len() != u.len() {
            *u = t.to_owned();
        }
    }
    if let Some(v) = f.version.as_mut() {
        let t = v.trim_end_matches([',', '.']);
        if t.len() != v.len() {
            *v = t.to_owned();
        }
    }
    f.image = f.image.filter(|s| !s.is_empty());
    f.user = f.user.filter(|s| !s.is_empty());
    f.version = f.version.filter(|s| !s.is_empty());
    f.server = f.server.filter(|s| !s.is_empty());
    f
}

fn claim_id(
    seen: &mut HashMap<String, (Arc<str>, Location)>,
    file: &Arc<str>,
    id: &Spanned<String>,
) -> Result<(), ConfigError> {
    let key = id.value.trim();
    if key.is_empty() {
        return Err(ConfigError::at(
            file,
            &id.referenced,
            "rule id must not be empty",
        ));
    }
    if let Some((first_file, first)) = seen.get(key) {
        return Err(ConfigError::at(
            file,
            &id.referenced,
            format!(
                "duplicate rule id `{key}`: first defined at {first_file}:{}:{}",
                first.line(),
                first.column()
            ),
        ));
    }
    seen.insert(key.to_owned(), (file.clone(), id.referenced));
    Ok(())
}

fn build_regex(file: &str, node: &Spanned<String>, source: &str) -> Result<Regex, ConfigError> {
    RegexBuilder::new(source)
        .case_insensitive(true)
        .unicode(false)
        .dot_matches_new_line(true)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_DFA_SIZE_LIMIT)
        .nest_limit(REGEX_NEST_LIMIT)
        .build()
        .map_err(|e| {
            ConfigError::at(
                file,
                &node.referenced,
                format!("invalid regex: {}", e.to_string().trim()),
            )
        })
}

/// Compiles a pattern and maps its named groups, rejecting names outside `allowed`.
fn compile_pattern(
    file: &str,
    node: &Spanned<String>,
    anchored: bool,
    allowed: &[Field],
) -> Result<Pattern, ConfigError> {
    if node.value.trim().is_empty() {
        return Err(ConfigError::at(
            file,
            &node.referenced,
            "pattern must not be empty",
        ));
    }
    // Validate the pattern as written first, so regex's error positions refer to the author's
    // text and not to the anchoring wrapper.
    let plain = build_regex(file, node, &node.value)?;
    let regex = if anchored {
        build_regex(file, node, &format!(r"\A(?:{})", node.value))?
    } else {
        plain
    };
    let mut groups = Vec::new();
    for (i, name) in regex.capture_names().enumerate() {
        let Some(name) = name else { continue };
        match allowed.iter().find(|f| f.name() == name) {
            Some(&f) => groups.push((i, f)),
            None => {
                let names: Vec<&str> = allowed.iter().map(|f| f.name()).collect();
                return Err(ConfigError::at(
                    file,
                    &node.referenced,
                    format!(
                        "unknown capture group name `{name}`; allowed: {}",
                        names.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(Pattern { regex, groups })
}

fn compile_examples(raw: RawExamples) -> Examples {
    Examples {
        matches: raw
            .matches
            .into_iter()
            .map(|m| MatchExample {
                line: m.line.referenced.line(),
                text: m.line.value,
                fields: fields_of(m.fields),
            })
            .collect(),
        no_match: raw
            .no_match
            .into_iter()
            .map(|n| NoMatchExample {
                line: n.referenced.line(),
                text: n.value,
            })
            .collect(),
    }
}

fn fields_of(raw: RawFields) -> SignalFields {
    SignalFields {
        image: raw.image,
        path: raw.path,
        server: raw.server,
        proto: raw.proto,
        user: raw.user,
        src: raw.src,
        version: raw.version,
        command: raw.command,
    }
}

fn compile_carrier(
    file: &Arc<str>,
    vendor: &Arc<str>,
    c: RawCarrier,
) -> Result<Carrier, ConfigError> {
    let pattern = compile_pattern(file, &c.pattern, false, &Field::CARRIER)?;
    let Some(&(command, _)) = pattern.groups.iter().find(|(_, f)| *f == Field::Command) else {
        return Err(ConfigError::at(
            file,
            &c.pattern.referenced,
            format!(
                "carrier `{}` must capture the command: (?P<command>...)",
                c.id.value
            ),
        ));
    };
    Ok(Carrier {
        origin: Origin {
            id: Arc::from(c.id.value.trim()),
            vendor: vendor.clone(),
            file: file.clone(),
        },
        pattern,
        command,
        examples: compile_examples(c.examples),
    })
}

fn compile_rule(
    file: &Arc<str>,
    vendor: &Arc<str>,
    r: RawRule,
    anchored: bool,
) -> Result<(Rule, Vec<String>), ConfigError> {
    let kind = SignalKind::ALL
        .into_iter()
        .find(|k| k.as_str() == r.kind.value.trim())
        .ok_or_else(|| {
            let names: Vec<&str> = SignalKind::ALL.iter().map(|k| k.as_str()).collect();
            ConfigError::at(
                file,
                &r.kind.referenced,
                format!(
                    "unknown kind `{}`; expected one of: {}",
                    r.kind.value,
                    names.join(", ")
                ),
            )
        })?;
    let literals = match &r.literals {
        None => {
            return Err(ConfigError::at(
                file,
                &r.id.referenced,
                format!(
                    "rule `{}` has no `literals` (at least one is required)",
                    r.id.value
                ),
            ));
        }
        Some(l) if l.value.is_empty() => {
            return Err(ConfigError::at(
                file,
                &l.referenced,
                format!(
                    "rule `{}`: `literals` must list at least one string",
                    r.id.value
                ),
            ));
        }
        Some(l)
            if l.value
                .iter()
                .any(|s| s.is_empty() || s.len() > MAX_LITERAL_LEN) =>
        {
            return Err(ConfigError::at(
                file,
                &l.referenced,
                format!(
                    "rule `{}`: every literal must have 1 to {MAX_LITERAL_LEN} bytes",
                    r.id.value
                ),
            ));
        }
        Some(l) => l.value.clone(),
    };
    let pattern = compile_pattern(file, &r.pattern, anchored, &Field::ALL)?;
    let unless = match &r.unless {
        Some(u) => Some(build_regex(file, u, &u.value)?),
        None => None,
    };
    let rule = Rule {
        origin: Origin {
            id: Arc::from(r.id.value.trim()),
            vendor: vendor.clone(),
            file: file.clone(),
        },
        kind,
        pattern,
        unless,
        examples: compile_examples(r.examples),
    };
    Ok((rule, literals))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(yaml: &str) -> Result<Classifier, ConfigError> {
        Classifier::from_sources(&[("t.yaml".to_owned(), yaml.to_owned())])
    }

    fn ok(yaml: &str) -> Classifier {
        match load(yaml) {
            Ok(c) => c,
            Err(e) => panic!("rules should load: {e}"),
        }
    }

    const BASE: &str = r#"
vendor: test
carriers:
  - id: c.eem
    pattern: '%HA_EM-\d-LOG:\s*\S*?:\s*(?P<command>.+)'
  - id: c.junos
    pattern: "UI_CMDLINE_READ_LINE: User '(?P<user>[^']+)', command '(?P<command>.*)'"
  - id: c.tac
    pattern: '\tuser=(?P<user>\S+)\tsrc=(?P<src>\S+)\tcmd=(?P<command>[^\t\n]+)'
commands:
  - id: cmd.copy
    kind: transfer
    literals: ["copy"]
    pattern: 'copy\s+(?P<proto>tftp|scp):/+(?:[^@/\s]+@)?(?P<server>\[[^\]]+\]|[^/\s:]+)/(?P<path>\S+)\s+flash:(?P<image>\S*)'
    unless: 'running-config'
  - id: cmd.reload
    kind: reload_cmd
    literals: ["reload"]
    pattern: 'reload\b'
  - id: cmd.user
    kind: verify
    literals: ["verify"]
    pattern: 'verify\s+(?P<user>\S+)'
messages:
  - id: m.restart
    kind: boot
    literals: ["RESTART"]
    pattern: '%SYS-\d-RESTART:\s*System restarted(?:.*?\bVersion\s+(?P<version>[^,\s]+))?'
  - id: m.reload
    kind: reload
    literals: ["%SYS-5-RELOAD:"]
    pattern: 'Reload requested by (?P<user>\S+)'
    unless: 'by console'
  - id: m.reload2
    kind: reload_cmd
    literals: ["reload"]
    pattern: 'Reload requested by'
"#;

    #[test]
    fn message_rules_match_case_insensitively_across_newlines() {
        let c = ok(BASE);
        let msg = "<189>1: r: *Jun  1 00:00:00: %sys-5-restart: System restarted --\nCisco IOS \
                   Software, C2900 Software (C2900-UNIVERSALK9-M), Version 15.7(3)M8, RELEASE";
        let got = c.classify(msg).expect("restart classifies");
        assert_eq!(got.kind, SignalKind::Boot);
        assert_eq!(&*got.rule_id, "m.restart");
        assert_eq!(&*got.vendor, "test");
        assert_eq!(got.fields.version.as_deref(), Some("15.7(3)M8"));
        let bare = c
            .classify("%SYS-5-RESTART: System restarted --")
            .expect("bare restart");
        assert_eq!(bare.fields.version, None);
    }

    #[test]
    fn unless_passes_to_the_next_rule() {
        let c = ok(BASE);
        let a = c
            .classify("%SYS-5-RELOAD: Reload requested by 'jsmith'.")
            .expect("reload");
        assert_eq!(&*a.rule_id, "m.reload");
        assert_eq!(
            a.fields.user.as_deref(),
            Some("jsmith'."),
            "quotes stripped only around"
        );
        let b = c
            .classify("%SYS-5-RELOAD: Reload requested by console.")
            .expect("reload");
        assert_eq!(
            &*b.rule_id, "m.reload2",
            "unless matched, so the next rule wins"
        );
    }

    #[test]
    fn commands_come_through_the_first_matching_carrier() {
        let c = ok(BASE);
        let got = c
            .classify("%HA_EM-6-LOG: CLIaccounting: copy scp://u@[2001:db8::5]/dir/img.bin flash:")
            .expect("copy classifies");
        assert_eq!(got.kind, SignalKind::Transfer);
        assert_eq!(got.fields.server.as_deref(), Some("2001:db8::5"));
        assert_eq!(
            got.fields.image.as_deref(),
            Some("img.bin"),
            "basename of path"
        );
        assert_eq!(got.fields.path.as_deref(), Some("dir/img.bin"));
        assert_eq!(got.fields.proto.as_deref(), Some("scp"));
        assert_eq!(
            got.fields.command.as_deref(),
            Some("copy scp://u@[2001:db8::5]/dir/img.bin flash:")
        );
        // The destination name, when given, is the image.
        let named = c
            .classify("%HA_EM-6-LOG: x: copy tftp://h/a.bin flash:b.bin")
            .expect("copy");
        assert_eq!(named.fields.image.as_deref(), Some("b.bin"));
        // `unless` over the command text.
        assert_eq!(
            c.classify("%HA_EM-6-LOG: x: copy tftp://h/a flash: running-config"),
            None
        );
        // Command rules are anchored at the start of the command.
        assert_eq!(c.classify("%HA_EM-6-LOG: x: show reload"), None);
        // Show commands go through a carrier and classify to nothing.
        assert_eq!(
            c.classify("%HA_EM-6-LOG: CLIaccounting: show version"),
            None
        );
    }

    #[test]
    fn carrier_fields_merge_under_command_captures_and_command_is_trimmed() {
        let c = ok(BASE);
        let j = c
            .classify("mgd[1]: UI_CMDLINE_READ_LINE: User 'jdoe', command 'reload in 5 '")
            .expect("reload");
        assert_eq!(j.kind, SignalKind::ReloadCmd);
        assert_eq!(j.fields.user.as_deref(), Some("jdoe"));
        assert_eq!(j.fields.command.as_deref(), Some("reload in 5"));
        let t = c
            .classify("x\tuser=alice\tsrc=10.1.1.1\tcmd=verify bob <cr>")
            .expect("verify");
        assert_eq!(
            t.fields.user.as_deref(),
            Some("bob"),
            "command capture wins"
        );
        assert_eq!(t.fields.src.as_deref(), Some("10.1.1.1"));
        assert_eq!(t.fields.command.as_deref(), Some("verify bob"));
    }

    #[test]
    fn may_match_gates_classify() {
        let c = ok(BASE);
        assert!(!c.may_match(b"%LINK-3-UPDOWN: Interface Gi0/1, changed state to down"));
        assert!(c.may_match(b"%HA_EM-6-LOG: x: COPY tftp://h/a flash:"));
        assert_eq!(c.rule_count(), 9);
        assert_eq!(c.example_count(), 0);
    }

    #[test]
    fn classifier_is_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Classifier>();
    }

    #[test]
    fn normalisation() {
        let f = normalise(SignalFields {
            image: Some("bootflash:/sub/x.bin".into()),
            server: Some("[fe80::1]".into()),
            user: Some("'admin'".into()),
            version: Some("15.7(3)M8,".into()),
            ..SignalFields::default()
        });
        assert_eq!(f.image.as_deref(), Some("x.bin"));
        assert_eq!(f.server.as_deref(), Some("fe80::1"));
        assert_eq!(f.user.as_deref(), Some("admin"));
        assert_eq!(f.version.as_deref(), Some("15.7(3)M8"));
        let p = normalise(SignalFields {
            path: Some("flash:".into()),
            ..SignalFields::default()
        });
        assert_eq!(p.image, None, "an empty basename is no image");
        assert_eq!(trim_command("copy a b <cr>"), "copy a b");
        assert_eq!(trim_command(" show log | match x "), "show log | match x");
    }

    #[test]
    fn examples_are_checked_through_the_whole_classifier() {
        let yaml = r#"
vendor: test
messages:
  - id: m.first
    kind: reload
    literals: ["reload"]
    pattern: 'reload'
    examples:
      match:
        - line: "x reload y"
      no_match:
        - "x reboot y"
  - id: m.shadowed
    kind: boot
    literals: ["reload"]
    pattern: 'reload'
    examples:
      match:
        - line: "x reload z"
          fields: {version: "1.0"}
        - line: "nothing here"
      no_match:
        - "reload again"
"#;
        let c = ok(yaml);
        assert_eq!(c.example_count(), 5);
        let failures = c.check_examples();
        let text: Vec<String> = failures.iter().map(ToString::to_string).collect();
        assert_eq!(failures.len(), 2, "{text:#?}");
        assert!(
            text[0].contains("t.yaml:19: rule m.shadowed: won by m.first"),
            "{}",
            text[0]
        );
        assert!(
            text[1].contains("does not pass the prefilter"),
            "{}",
            text[1]
        );
    }

    /// (rule file, expected line, expected column, substring of the reason)
    const BAD: &[(&str, usize, usize, &str)] = &[
        ("vendor: x\nmessages: [\n", 2, 11, "unclosed bracket"),
        (
            "vendor: x\nmessages:\n  - id: a\n    kind: boot\n    literals: [a]\n    pattern: a\n    unles: b\n",
            7,
            5,
            "unles",
        ),
        (
            "vendor: x\nmessages:\n  - id: a\n    kind: rebooted\n    literals: [a]\n    pattern: a\n",
            4,
            11,
            "unknown kind `rebooted`; expected one of: transfer",
        ),
        (
            "vendor: x\nmessages:\n  - id: a\n    kind: boot\n    literals: [a]\n    pattern: 'a(b'\n",
            6,
            14,
            "unclosed group",
        ),
        (
            "vendor: x\nmessages:\n  - id: a\n    kind: boot\n    literals: [a]\n    pattern: '(?P<host>a)'\n",
            6,
            14,
            "`host`; allowed: image, path, server, proto, user, src, version, command",
        ),
        (
            "vendor: x\ncarriers:\n  - id: c\n    pattern: '(?P<image>a)'\n",
            4,
            14,
            "allowed: command, user, src",
        ),
        (
            "vendor: x\ncarriers:\n  - id: c\n    pattern: '(?P<user>a)'\n",
            4,
            14,
            "must capture the command",
        ),
        (
            "vendor: x\ncommands:\n  - id: a\n    kind: boot\n    pattern: a\n",
            3,
            9,
            "no `literals`",
        ),
        (
            "vendor: x\ncommands:\n  - id: a\n    kind: boot\n    literals: []\n    pattern: a\n",
            5,
            15,
            "at least one",
        ),
        (
            "vendor: x\ncommands:\n  - id: a\n    kind: boot\n    literals: ['']\n    pattern: a\n",
            5,
            15,
            "1 to 64 bytes",
        ),
        (
            "vendor: x\nmessages:\n  - id: a\n    kind: boot\n    literals: [a]\n    pattern: a\n  - id: a\n    kind: boot\n    literals: [a]\n    pattern: b\n",
            7,
            9,
            "duplicate rule id `a`: first defined at t.yaml:3:9",
        ),
        (
            "vendor: x\nmessages:\n  - id: a\n    kind: boot\n    literals: [a]\n    pattern: '(?:a{1000}){1000}'\n",
            6,
            14,
            "size limit",
        ),
        (
            "vendor: x\nmessages:\n  - id: a\n    kind: boot\n    literals: [a]\n    pattern: a\n    unless: '['\n",
            7,
            13,
            "unclosed character class",
        ),
    ];

    #[test]
    fn bad_rule_files_are_reported_with_position_and_reason() {
        for (i, (yaml, line, column, reason)) in BAD.iter().enumerate() {
            let err = match load(yaml) {
                Ok(_) => panic!("case {i} should fail to load:\n{yaml}"),
                Err(e) => e,
            };
            assert_eq!(err.file, "t.yaml", "case {i}: {err}");
            assert_eq!((err.line, err.column), (*line, *column), "case {i}: {err}");
            assert!(err.reason.contains(reason), "case {i}: {err}");
        }
    }

    #[test]
    fn duplicate_ids_are_found_across_files() {
        let a = "vendor: a\nmessages:\n  - id: same\n    kind: boot\n    literals: [x]\n    pattern: x\n";
        let b = "vendor: b\ncarriers:\n  - id: same\n    pattern: '(?P<command>.+)'\n";
        let err =
            Classifier::from_sources(&[("a.yaml".into(), a.into()), ("b.yaml".into(), b.into())])
                .err()
                .expect("duplicate id across files");
        assert_eq!(err.file, "b.yaml");
        assert!(err.reason.contains("first defined at a.yaml:3:9"), "{err}");
    }

    #[test]
    fn empty_rule_sets_are_refused() {
        let err = Classifier::from_sources(&[]).err().expect("no files");
        assert!(err.reason.contains("no signal rule files"), "{err}");
    }
}

#[cfg(test)]
mod focus_tests {
    use super::*;

    /// Every example line of the shipped rules, classified narrowed to each kind in turn, gives
    /// exactly what the whole classifier gives for that kind, and nothing for other kinds.
    #[test]
    fn focused_classification_agrees_with_the_whole_classifier() {
        let c = crate::config::RuleSource::Builtin
            .classifier()
            .expect("shipped rules load");
        let lines: Vec<&str> = c
            .rules()
            .flat_map(|r| {
                let m = r.examples.matches.iter().map(|e| e.text.as_str());
                m.chain(r.examples.no_match.iter().map(|e| e.text.as_str()))
            })
            .chain(c.carriers.iter().flat_map(|k| {
                let m = k.examples.matches.iter().map(|e| e.text.as_str());
                m.chain(k.examples.no_match.iter().map(|e| e.text.as_str()))
            }))
            .collect();
        assert!(lines.len() > 200);
        let mut agreed = 0;
        for kind in SignalKind::ALL.iter().copied() {
            let focus = c.focus(&[kind]);
            for line in &lines {
                let whole = c.classify(line).filter(|x| x.kind == kind);
                let narrow = c.classify_focused(&focus, line);
                assert_eq!(
                    whole.as_ref().map(|x| (&x.rule_id, &x.fields)),
                    narrow.as_ref().map(|x| (&x.rule_id, &x.fields)),
                    "{kind:?}: {line}"
                );
                if whole.is_some() {
                    agreed += 1;
                    assert!(focus.may_match(line.as_bytes()), "{kind:?}: {line}");
                }
            }
        }
        assert!(agreed > 100, "only {agreed} lines classified");
    }
}
