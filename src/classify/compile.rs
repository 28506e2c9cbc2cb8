//! Signal-rule compiler: turns the serde mirror of `rules/signals/*.yaml` into the checked
//! form the classifier matches with (regexes under size limits, named groups mapped to
//! fields, unique ids, literals for the prefilter). A rule file that is wrong fails here, with
//! file, line, column and reason; the semantics are documented in [`super::classifier`].

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use regex::bytes::{Captures, Regex, RegexBuilder};
use serde_saphyr::{Location, Spanned};

use super::classifier::Classifier;
use super::examples::{Examples, MatchExample, NoMatchExample, VendorDecl};
use super::prefilter::{MAX_LITERAL_LEN, Prefilter};
use super::rules::{RawCarrier, RawExamples, RawFields, RawFile, RawNoMatch, RawRule};
use super::signal::{SignalFields, SignalKind};
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
pub(super) enum Field {
    Image,
    Path,
    Server,
    Proto,
    User,
    Src,
    Version,
    Command,
    Account,
}

impl Field {
    pub(super) const ALL: [Field; 9] = [
        Field::Image,
        Field::Path,
        Field::Server,
        Field::Proto,
        Field::User,
        Field::Src,
        Field::Version,
        Field::Command,
        Field::Account,
    ];
    pub(super) const CARRIER: [Field; 3] = [Field::Command, Field::User, Field::Src];

    pub(super) fn name(self) -> &'static str {
        match self {
            Field::Image => "image",
            Field::Path => "path",
            Field::Server => "server",
            Field::Proto => "proto",
            Field::User => "user",
            Field::Src => "src",
            Field::Version => "version",
            Field::Command => "command",
            Field::Account => "account",
        }
    }

    pub(super) fn slot(self, f: &mut SignalFields) -> &mut Option<String> {
        match self {
            Field::Image => &mut f.image,
            Field::Path => &mut f.path,
            Field::Server => &mut f.server,
            Field::Proto => &mut f.proto,
            Field::User => &mut f.user,
            Field::Src => &mut f.src,
            Field::Version => &mut f.version,
            Field::Command => &mut f.command,
            Field::Account => &mut f.account,
        }
    }

    pub(super) fn get(self, f: &SignalFields) -> Option<&str> {
        match self {
            Field::Image => f.image.as_deref(),
            Field::Path => f.path.as_deref(),
            Field::Server => f.server.as_deref(),
            Field::Proto => f.proto.as_deref(),
            Field::User => f.user.as_deref(),
            Field::Src => f.src.as_deref(),
            Field::Version => f.version.as_deref(),
            Field::Command => f.command.as_deref(),
            Field::Account => f.account.as_deref(),
        }
    }
}

/// A compiled pattern and where its named groups go.
pub(super) struct Pattern {
    pub(super) regex: Regex,
    /// (capture-group index, field) for every named group.
    pub(super) groups: Vec<(usize, Field)>,
    /// The fast way to its captures, when it has one.
    lead: Option<Lead>,
}

/// For a pattern that begins with fixed text and is one-pass (each byte decides the way on):
/// that text, lower-cased, and the pattern anchored at its start. Every match begins with the
/// text, so where the anchored pattern matches at the text's first occurrence, that is the
/// leftmost match; and an anchored one-pass pattern resolves its groups in one scan of it.
/// Unanchored, `regex` first scans the line forwards for where the match ends and backwards
/// for where it starts, then resolves the groups: three passes over a login line, the
/// commonest signal of a fleet.
struct Lead {
    text: Vec<u8>,
    anchored: Regex,
}

impl Pattern {
    #[cfg(test)]
    pub(super) fn has_lead(&self) -> bool {
        self.lead.is_some()
    }

    /// The pattern's leftmost match in `hay` with its groups, the same text as
    /// `regex.captures` finds (positions may count from the match's start, not the line's).
    /// Past the lead text's first occurrence the plain regex takes over, so a line full of
    /// near-misses costs one scan, not one per occurrence.
    pub(super) fn captures<'h>(&self, hay: &'h [u8]) -> Option<Captures<'h>> {
        let Some(lead) = &self.lead else {
            return self.regex.captures(hay);
        };
        let first = lead.text[0];
        let mut from = 0;
        while let Some(at) = memchr::memchr2(first, first.to_ascii_uppercase(), &hay[from..]) {
            let i = from + at;
            if hay[i..].len() < lead.text.len() {
                return None;
            }
            if hay[i..i + lead.text.len()].eq_ignore_ascii_case(&lead.text) {
                return lead
                    .anchored
                    .captures(&hay[i..])
                    .or_else(|| self.regex.captures(&hay[i + 1..]));
            }
            from = i + 1;
        }
        None
    }

    /// Writes every participating named group into `out` (trimmed, empty dropped).
    pub(super) fn extract(&self, caps: &Captures<'_>, out: &mut SignalFields) {
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

/// Who a rule is and where it came from.
pub(super) struct Origin {
    pub(super) id: Arc<str>,
    pub(super) vendor: Arc<str>,
    pub(super) file: Arc<str>,
}

/// A compiled message or command rule.
pub(super) struct Rule {
    pub(super) origin: Origin,
    pub(super) kind: SignalKind,
    pub(super) pattern: Pattern,
    pub(super) unless: Option<Regex>,
    pub(super) examples: Examples,
}

/// A compiled carrier.
pub(super) struct Carrier {
    pub(super) origin: Origin,
    pub(super) pattern: Pattern,
    /// Group index of `command` (required at load time).
    pub(super) command: usize,
    pub(super) examples: Examples,
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
        // Files are read in order; the rules of every file that reads are then compiled on
        // every core (most of the start-up time is regex building); the results are taken
        // in rule order, so the first error is the one a one-by-one compile would meet.
        let mut read: Vec<Result<ReadFile, ConfigError>> = Vec::new();
        let mut jobs: Vec<Job> = Vec::new();
        for (name, text) in files {
            let file: Arc<str> = Arc::from(name.as_str());
            read.push(read_file(file, text, &mut jobs));
            if read.last().is_some_and(Result::is_err) {
                break;
            }
        }
        let mut compiled = compile_all(jobs).into_iter();

        let mut seen: HashMap<String, (Arc<str>, Location)> = HashMap::new();
        let mut messages = Vec::new();
        let mut commands = Vec::new();
        let mut carriers = Vec::new();
        let mut vendors: Vec<VendorDecl> = Vec::new();
        // Literals are collected per family and renumbered once the message count is known.
        let mut message_lits: Vec<(String, usize)> = Vec::new();
        let mut command_lits: Vec<(String, usize)> = Vec::new();

        for file in read {
            let ReadFile {
                file,
                vendor,
                not_logged,
                ids,
            } = file?;
            let not_logged = not_logged?;
            match vendors.iter_mut().find(|v| v.vendor == vendor) {
                Some(v) => v.not_logged.extend(not_logged),
                None => vendors.push(VendorDecl {
                    vendor: vendor.clone(),
                    not_logged,
                }),
            }
            for id in &ids {
                claim_id(&mut seen, &file, id)?;
                match compiled.next().expect("one result per rule")? {
                    Compiled::Carrier(c) => carriers.push(c),
                    Compiled::Command(rule, lits) => {
                        command_lits.extend(lits.into_iter().map(|l| (l, commands.len())));
                        commands.push(rule);
                    }
                    Compiled::Message(rule, lits) => {
                        message_lits.extend(lits.into_iter().map(|l| (l, messages.len())));
                        messages.push(rule);
                    }
                }
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
            vendors,
        })
    }
}

/// One rule file as read, before its rules are compiled: its vendor, what it declares it
/// does not log, and its rule ids in compile order (carriers, commands, messages).
struct ReadFile {
    file: Arc<str>,
    vendor: Arc<str>,
    not_logged: Result<Vec<(SignalKind, String)>, ConfigError>,
    ids: Vec<Spanned<String>>,
}

/// A rule to compile, with the file and vendor it comes from.
struct Job {
    file: Arc<str>,
    vendor: Arc<str>,
    rule: RawJob,
}

enum RawJob {
    Carrier(RawCarrier),
    Command(RawRule),
    Message(RawRule),
}

enum Compiled {
    Carrier(Carrier),
    Command(Rule, Vec<String>),
    Message(Rule, Vec<String>),
}

/// Parses one rule file, queueing its rules in `jobs`.
fn read_file(file: Arc<str>, text: &str, jobs: &mut Vec<Job>) -> Result<ReadFile, ConfigError> {
    let raw: RawFile =
        serde_saphyr::from_str(text).map_err(|e| ConfigError::from_yaml(&file, &e))?;
    let vendor: Arc<str> = Arc::from(raw.vendor.value.trim());
    if vendor.is_empty() {
        return Err(ConfigError::at(
            &file,
            &raw.vendor.referenced,
            "vendor must not be empty",
        ));
    }
    let not_logged = compile_not_logged(&file, raw.not_logged);
    let mut ids = Vec::new();
    let mut queue = |id: Spanned<String>, rule: RawJob| {
        ids.push(id);
        jobs.push(Job {
            file: file.clone(),
            vendor: vendor.clone(),
            rule,
        });
    };
    for c in raw.carriers {
        queue(c.id.clone(), RawJob::Carrier(c));
    }
    for r in raw.commands {
        queue(r.id.clone(), RawJob::Command(r));
    }
    for r in raw.messages {
        queue(r.id.clone(), RawJob::Message(r));
    }
    Ok(ReadFile {
        file,
        vendor,
        not_logged,
        ids,
    })
}

/// Compiles every job, on as many threads as the machine has cores; results in job order.
fn compile_all(jobs: Vec<Job>) -> Vec<Result<Compiled, ConfigError>> {
    fn compile(job: Job) -> Result<Compiled, ConfigError> {
        let (file, vendor) = (&job.file, &job.vendor);
        Ok(match job.rule {
            RawJob::Carrier(c) => Compiled::Carrier(compile_carrier(file, vendor, c)?),
            RawJob::Command(r) => {
                let (rule, lits) = compile_rule(file, vendor, r, true)?;
                Compiled::Command(rule, lits)
            }
            RawJob::Message(r) => {
                let (rule, lits) = compile_rule(file, vendor, r, false)?;
                Compiled::Message(rule, lits)
            }
        })
    }
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(jobs.len().div_ceil(8))
        .max(1);
    if threads == 1 {
        return jobs.into_iter().map(compile).collect();
    }
    let count = jobs.len();
    let queue = std::sync::Mutex::new(jobs.into_iter().enumerate());
    let mut done: Vec<(usize, Result<Compiled, ConfigError>)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let next = queue
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .next();
                        let Some((i, job)) = next else {
                            return out;
                        };
                        out.push((i, compile(job)));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| match w.join() {
                Ok(out) => out,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    });
    done.sort_unstable_by_key(|(i, _)| *i);
    debug_assert_eq!(done.len(), count);
    done.into_iter().map(|(_, r)| r).collect()
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
    let at_start = || build_regex(file, node, &format!(r"\A(?:{})", node.value));
    let regex = if anchored { at_start()? } else { plain };
    let lead = if anchored {
        None
    } else {
        lead(&node.value)
            .map(|text| {
                Ok::<_, ConfigError>(Lead {
                    text,
                    anchored: at_start()?,
                })
            })
            .transpose()?
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
    Ok(Pattern {
        regex,
        groups,
        lead,
    })
}

/// The fixed text `pattern` begins with (lower-cased; at least 3 bytes), when it is one-pass
/// read as the classifier reads it (see [`Lead`]); else None.
fn lead(pattern: &str) -> Option<Vec<u8>> {
    use regex_automata::dfa::onepass;
    use regex_automata::util::syntax;
    use regex_syntax::hir::HirKind;
    let config = syntax::Config::new()
        .case_insensitive(true)
        .unicode(false)
        .utf8(false)
        .dot_matches_new_line(true);
    onepass::DFA::builder().syntax(config).build(pattern).ok()?;
    // Read case-sensitively, the leading characters are one literal in the parsed form.
    let hir = regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .dot_matches_new_line(true)
        .build()
        .parse(pattern)
        .ok()?;
    let first = match hir.kind() {
        HirKind::Concat(parts) => parts.first()?,
        _ => &hir,
    };
    let HirKind::Literal(lit) = first.kind() else {
        return None;
    };
    (lit.0.len() >= 3 && lit.0.is_ascii()).then(|| lit.0.to_ascii_lowercase())
}

fn compile_examples(raw: RawExamples) -> Examples {
    Examples {
        matches: raw
            .matches
            .into_iter()
            .map(|m| MatchExample {
                line: m.line.referenced.line(),
                text: m.line.value,
                source: m.source,
                fields: fields_of(m.fields),
            })
            .collect(),
        no_match: raw
            .no_match
            .into_iter()
            .map(|n| {
                let line = n.referenced.line();
                let (text, source) = match n.value {
                    RawNoMatch::Plain(text) => (text, None),
                    RawNoMatch::Sourced { line, source } => (line, source),
                };
                NoMatchExample { line, text, source }
            })
            .collect(),
    }
}

/// Parses a file's `not_logged` map (kind → reason): known kinds, non-empty reasons.
fn compile_not_logged(
    file: &Arc<str>,
    raw: Option<Spanned<BTreeMap<String, String>>>,
) -> Result<Vec<(SignalKind, String)>, ConfigError> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(raw.value.len());
    for (name, reason) in raw.value {
        let kind = parse_kind(&name)
            .ok_or_else(|| ConfigError::at(file, &raw.referenced, unknown_kind(&name)))?;
        if reason.trim().is_empty() {
            return Err(ConfigError::at(
                file,
                &raw.referenced,
                format!("not_logged `{name}` needs a reason"),
            ));
        }
        out.push((kind, reason.trim().to_owned()));
    }
    Ok(out)
}

fn parse_kind(name: &str) -> Option<SignalKind> {
    SignalKind::ALL
        .into_iter()
        .find(|k| k.as_str() == name.trim())
}

fn unknown_kind(name: &str) -> String {
    let names: Vec<&str> = SignalKind::ALL.iter().map(|k| k.as_str()).collect();
    format!(
        "unknown kind `{name}`; expected one of: {}",
        names.join(", ")
    )
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
        account: raw.account,
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
    let kind = parse_kind(&r.kind.value)
        .ok_or_else(|| ConfigError::at(file, &r.kind.referenced, unknown_kind(&r.kind.value)))?;
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

    /// Rules compile on several threads; rule order and the first error are those of a
    /// one-by-one compile.
    #[test]
    fn rules_compiled_together_keep_their_order_and_first_error() {
        let rules = |prefix: &str, bad_at: Option<usize>| {
            let mut y = String::from("vendor: x\nmessages:\n");
            for i in 0..40 {
                let pattern = if Some(i) == bad_at { "'a(b'" } else { "a" };
                y.push_str(&format!(
                    "  - id: {prefix}{i}\n    kind: boot\n    literals: [a]\n    pattern: {pattern}\n"
                ));
            }
            y
        };
        let good = Classifier::from_sources(&[
            ("1.yaml".to_owned(), rules("a", None)),
            ("2.yaml".to_owned(), rules("b", None)),
        ])
        .expect("rules load");
        let ids: Vec<&str> = good.messages.iter().map(|r| &*r.origin.id).collect();
        let want: Vec<String> = (0..40)
            .map(|i| format!("a{i}"))
            .chain((0..40).map(|i| format!("b{i}")))
            .collect();
        assert_eq!(ids, want);
        // A bad pattern late in the first file wins over a duplicate id in the second, and
        // over a bad pattern after it.
        let err = Classifier::from_sources(&[
            ("1.yaml".to_owned(), rules("a", Some(30))),
            ("2.yaml".to_owned(), rules("a", Some(1))),
        ])
        .err()
        .expect("the rules fail to load");
        assert_eq!((&*err.file, err.line), ("1.yaml", 3 + 4 * 30 + 3), "{err}");
        assert!(err.reason.contains("unclosed group"), "{err}");
        let err = Classifier::from_sources(&[
            ("1.yaml".to_owned(), rules("a", None)),
            ("2.yaml".to_owned(), rules("a", Some(1))),
        ])
        .err()
        .expect("the rules fail to load");
        assert!(err.reason.contains("duplicate rule id `a0`"), "{err}");
    }

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
