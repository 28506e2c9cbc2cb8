//! Signal classifier: turns one syslog message into at most one [`Classification`] with the
//! rules [`compile`](super::compile) built; the rule files' examples are checked in
//! [`examples`](super::examples).
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
//!   `server`, `proto`, `user`, `src`, `version`, `command`, `account` (carriers: `command`, `user`,
//!   `src`; `command` is required). Carrier fields merge under the command rule's captures.
//!   `command` is the carrier's command text, trimmed of whitespace and a trailing `<cr>`
//!   (tac_plus) — Junos writes a trailing space inside the quotes.
//! - **Normalisation** (code, not rules): captures are trimmed and empty ones dropped;
//!   `image` is reduced to its basename (after the last `/` or `:`); when that leaves no image
//!   (not captured, or `flash:` only), the basename of `path` is the image; `server` loses
//!   IPv6 brackets; `user` loses surrounding quotes; `version` loses trailing `,` and `.`.
//! - **Examples** are run by [`Classifier::check_examples`] through the whole classifier.

use super::compile::{Carrier, Rule};
use super::prefilter::{Candidates, Prefilter};
use super::signal::{Classification, SignalFields, SignalKind};

/// Signal rules, compiled. Immutable after loading, so it is `Send + Sync` and shared behind
/// an `Arc`; reloading rules means building a new one.
pub struct Classifier {
    /// Message rules, in order; global rule index `i`.
    pub(super) messages: Vec<Rule>,
    /// Command rules, in order; global rule index `messages.len() + i`.
    pub(super) commands: Vec<Rule>,
    pub(super) carriers: Vec<Carrier>,
    pub(super) prefilter: Prefilter,
    /// One entry per vendor name of the rule files, in load order, with what it declares it
    /// does not log (for the coverage matrix of `rules test`).
    pub(super) vendors: Vec<super::examples::VendorDecl>,
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

/// How a line was classified, with enough detail for example checking.
pub(super) enum Verdict<'a> {
    Message(&'a Rule, SignalFields),
    Command(&'a Carrier, &'a Rule, SignalFields),
}

impl Classifier {
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

    pub(super) fn verdict(&self, message: &str) -> Option<Verdict<'_>> {
        let candidates = self.prefilter.candidates(message.as_bytes())?;
        self.verdict_among(message, candidates)
    }

    fn verdict_among(&self, message: &str, candidates: Candidates) -> Option<Verdict<'_>> {
        let hay = message.as_bytes();
        for (i, rule) in self.messages.iter().enumerate() {
            if !candidates.contains(i) {
                continue;
            }
            let Some(caps) = rule.pattern.captures(hay) else {
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
    pub(super) fn carry(&self, hay: &[u8]) -> Option<(usize, SignalFields)> {
        for (i, carrier) in self.carriers.iter().enumerate() {
            let Some(caps) = carrier.pattern.captures(hay) else {
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

    /// The vendor of the first carrier that matches `message`, whether or not a command rule
    /// reads the command: that a device logs its commands at all (the coverage report).
    pub fn carrier_vendor(&self, message: &str) -> Option<&str> {
        self.carriers
            .iter()
            .find(|c| c.pattern.regex.is_match(message.as_bytes()))
            .map(|c| &*c.origin.vendor)
    }

    /// Number of rules of all three families.
    pub fn rule_count(&self) -> usize {
        self.messages.len() + self.commands.len() + self.carriers.len()
    }

    pub(super) fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.messages.iter().chain(self.commands.iter())
    }
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
    for u in [f.user.as_mut(), f.account.as_mut()].into_iter().flatten() {
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
    f.account = f.account.filter(|s| !s.is_empty());
    f.version = f.version.filter(|s| !s.is_empty());
    f.server = f.server.filter(|s| !s.is_empty());
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigError;

    fn load(yaml: &str) -> Result<Classifier, ConfigError> {
        Classifier::from_sources(&[("t.yaml".to_owned(), yaml.to_owned())])
    }

    fn ok(yaml: &str) -> Classifier {
        match load(yaml) {
            Ok(c) => c,
            Err(e) => panic!("rules should load: {e}"),
        }
    }

    /// The commonest signal lines of a fleet (logins) must stay cheap: their rules are written
    /// so that regex-automata's one-pass DFA resolves their captures (a third cheaper than the
    /// backtracker per line). An edit that makes a byte ambiguous again fails here.
    #[test]
    fn the_login_rules_are_one_pass() {
        use regex_automata::dfa::onepass;
        use regex_automata::util::syntax;
        let rules = crate::config::RuleSource::Builtin
            .classifier()
            .expect("built-in rules load");
        for id in ["ios.msg.login_success", "junos.msg.login_super_user"] {
            let rule = rules
                .messages
                .iter()
                .find(|r| &*r.origin.id == id)
                .expect("the login rule");
            let built = onepass::DFA::builder()
                .syntax(
                    syntax::Config::new()
                        .case_insensitive(true)
                        .unicode(false)
                        .utf8(false)
                        .dot_matches_new_line(true),
                )
                .build(rule.pattern.regex.as_str());
            assert!(built.is_ok(), "{id} is not one-pass: {:?}", built.err());
        }
    }

    /// A rule with a lead (see `compile::Lead`) finds the same leftmost match and groups as
    /// its plain regex, on every example line of every rule and every line of the public
    /// corpus in `../shared/corpus/external`, and on lines that repeat the lead before the
    /// match; and the hot login rules have one.
    #[test]
    fn rules_with_a_lead_capture_what_the_plain_regex_does() {
        let rules = crate::config::RuleSource::Builtin
            .classifier()
            .expect("built-in rules load");
        let mut lines = super::super::external_corpus_lines();
        for rule in rules.messages.iter().chain(&rules.commands) {
            let ex = &rule.examples;
            lines.extend(ex.matches.iter().map(|m| m.text.clone().into_bytes()));
            lines.extend(ex.no_match.iter().map(|m| m.text.clone().into_bytes()));
        }
        // The lead text before the real match, cut short, and in another case.
        let tricky: Vec<Vec<u8>> = lines
            .iter()
            .filter(|l| {
                l.windows(14)
                    .any(|w| w.eq_ignore_ascii_case(b"ui_login_event"))
            })
            .map(|l| [b"ui_login_event: x ".as_slice(), l].concat())
            .collect();
        lines.extend(tricky);
        let spans = |c: Option<regex::bytes::Captures<'_>>| {
            c.map(|c| {
                c.iter()
                    .map(|m| m.map(|m| m.as_bytes().to_vec()))
                    .collect::<Vec<_>>()
            })
        };
        let mut with_lead = Vec::new();
        let patterns = rules.messages.iter().map(|r| (&r.origin.id, &r.pattern));
        let carriers = rules.carriers.iter().map(|c| (&c.origin.id, &c.pattern));
        for (id, pattern) in patterns.chain(carriers) {
            if !pattern.has_lead() {
                continue;
            }
            with_lead.push(&**id);
            for line in &lines {
                assert_eq!(
                    spans(pattern.captures(line)),
                    spans(pattern.regex.captures(line)),
                    "{id} on {:?}",
                    String::from_utf8_lossy(line)
                );
            }
        }
        for id in ["ios.msg.login_success", "junos.msg.login_super_user"] {
            assert!(with_lead.contains(&id), "{id} has no lead: {with_lead:?}");
        }
        assert!(
            lines.len() > 1000,
            "the corpus is there: {} lines",
            lines.len()
        );
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
