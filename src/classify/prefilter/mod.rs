//! The literal prefilter: one Aho-Corasick automaton over the `literals` of every message and
//! command rule.
//!
//! Nearly every syslog line is noise, so [`Prefilter::may_match`] is the hot path: one
//! SIMD search (Teddy) over the literals' rarest suffixes, no allocation. The same search,
//! with a comparison at each hit, also tells the slow path which rules are worth trying at all
//! ([`Prefilter::candidates`]), which is what gives `literals` their documented meaning ("at
//! least one must occur for the rule to be tried"); a full automaton answers where Teddy
//! cannot.
//!
//! Literals match ASCII case-insensitively. aho-corasick's own `ascii_case_insensitive` mode
//! disables its SIMD (Teddy) prefilter and leaves a DFA walk of roughly 2 ns per byte; so the
//! automaton is built case-sensitively over lower-cased literals and the line is lower-cased
//! first, into a stack buffer, in chunks that overlap by the longest literal. That keeps the
//! hot path at one vectorised copy plus one SIMD-accelerated automaton call per chunk (one
//! chunk for any ordinary line), with no allocation.

use aho_corasick::packed;
use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind, Span};

/// Upper bound on the automaton's heap, so a rule file with thousands of long literals fails to
/// load instead of eating memory.
const MAX_AUTOMATON_BYTES: usize = 64 << 20;
/// Bytes lower-cased per automaton call in [`Prefilter::may_match`]; covers an ordinary line.
const CHUNK: usize = 256;
/// Longest literal accepted; chunks overlap by `longest - 1`, which must stay below `CHUNK`.
pub(crate) const MAX_LITERAL_LEN: usize = 64;

pub(crate) struct Prefilter {
    /// Teddy (SIMD) over the lower-cased literals' rare suffixes, for [`Prefilter::may_match`]
    /// and [`Prefilter::candidates`]. `None` when the CPU has no SIMD support for it or there
    /// are too many literals for it to pay off; then `ac` answers instead, more slowly.
    hot: Option<packed::Searcher>,
    /// For each hot pattern, the (automaton pattern, offset of the hot pattern in it) pairs:
    /// every literal holds a hot pattern, so a literal occurs only where one of its hot
    /// patterns does, at that offset before it. With this, [`Prefilter::candidates`] finds
    /// every literal with the hot searcher and a comparison; `None` when the hot patterns
    /// cannot promise that (see [`literals_around`]).
    around: Option<Vec<Vec<(u32, u32)>>>,
    /// The same literals as a DFA with overlapping matches, for [`Prefilter::candidates`]
    /// when `around` is `None`.
    ac: AhoCorasick,
    /// The lower-cased, de-duplicated literals, by automaton pattern number.
    patterns: Vec<String>,
    /// For each automaton pattern, the rules (by global index) that listed it.
    owners: Vec<Vec<u32>>,
    rule_count: usize,
    /// Length of the longest literal, for the chunk overlap.
    longest: usize,
    /// The (lower-cased) literals with their rules, to build a narrower prefilter from.
    literals: Vec<(String, usize)>,
}

mod byte_freq;
mod plan;
mod trigrams;

use plan::{TEDDY_MAX_PATTERNS, bucket_order, contains, rare_suffix, shared_factors};

/// Builds the Teddy searcher for the hot path over the literals' rarest suffixes (see
/// [`plan`]), grouped into buckets for the fewest false candidates; with its patterns, by
/// pattern number.
fn hot_searcher(patterns: &[String]) -> Option<(packed::Searcher, Vec<Vec<u8>>)> {
    hot_searcher_with(patterns, Some(true)).or_else(|| hot_searcher_with(patterns, None))
}

/// For each hot pattern, where it lies in each literal (see `Prefilter::around`). `None`
/// unless every literal holds a hot pattern and no hot pattern begins another: then at most
/// one hot pattern starts at any position, so searching again one byte past each match
/// start finds every occurrence of every hot pattern.
fn literals_around(hot: &[Vec<u8>], literals: &[String]) -> Option<Vec<Vec<(u32, u32)>>> {
    let begins_another = hot.iter().enumerate().any(|(i, h)| {
        hot.iter()
            .enumerate()
            .any(|(j, o)| i != j && o.starts_with(h))
    });
    if begins_another {
        return None;
    }
    let mut around = vec![Vec::new(); hot.len()];
    for (p, lit) in literals.iter().enumerate() {
        let lit = lit.as_bytes();
        let mut held = false;
        for (h, pattern) in hot.iter().enumerate() {
            for off in (0..=lit.len().saturating_sub(pattern.len()))
                .filter(|&o| lit[o..].starts_with(pattern))
            {
                around[h].push((u32::try_from(p).ok()?, u32::try_from(off).ok()?));
                held = true;
            }
        }
        if !held {
            return None;
        }
    }
    Some(around)
}

/// `fat`: `Some(true)` asks for "fat" Teddy (16 buckets, AVX2): with a few dozen literals it
/// verifies fewer false candidates than the 8-bucket variant aho-corasick would pick.
/// Unavailable without AVX2, hence the fallback to aho-corasick's own choice (planned for 8
/// buckets, the slim variant's count).
fn hot_searcher_with(
    patterns: &[String],
    fat: Option<bool>,
) -> Option<(packed::Searcher, Vec<Vec<u8>>)> {
    let mut hot: Vec<&[u8]> = patterns.iter().map(|p| rare_suffix(p.as_bytes())).collect();
    hot.sort_unstable();
    hot.dedup();
    let mut minimal: Vec<&[u8]> = hot
        .iter()
        .copied()
        .filter(|h| !hot.iter().any(|o| o.len() < h.len() && contains(h, o)))
        .collect();
    if minimal.len() > TEDDY_MAX_PATTERNS {
        minimal = shared_factors(&minimal, TEDDY_MAX_PATTERNS)?;
    }
    let buckets = if fat == Some(true) { 16 } else { 8 };
    let ordered = bucket_order(&minimal, buckets);
    let searcher = packed::Config::new()
        .match_kind(packed::MatchKind::LeftmostFirst)
        .only_teddy_fat(fat)
        .builder()
        .extend(&ordered)
        .build()?;
    Some((searcher, ordered.into_iter().map(<[u8]>::to_vec).collect()))
}

/// Rules whose literals occur in one line, as a bit set over global rule indices.
pub(crate) struct Candidates {
    bits: Vec<u64>,
}

impl Candidates {
    #[inline]
    pub(crate) fn contains(&self, rule: usize) -> bool {
        self.bits
            .get(rule / 64)
            .is_some_and(|w| w & (1u64 << (rule % 64)) != 0)
    }

    pub(crate) fn any_in(&self, range: std::ops::Range<usize>) -> bool {
        range.into_iter().any(|r| self.contains(r))
    }

    /// True when some rule of `set` (a [`Prefilter::rule_set`]) is a candidate.
    pub(crate) fn intersects(&self, set: &[u64]) -> bool {
        self.bits.iter().zip(set).any(|(a, b)| a & b != 0)
    }
}

impl Prefilter {
    /// `literals` holds (literal, global rule index) pairs; literals are compared ASCII
    /// case-insensitively, so they are de-duplicated after lower-casing.
    pub(crate) fn new(literals: &[(String, usize)], rule_count: usize) -> Result<Self, String> {
        let mut patterns: Vec<String> = Vec::new();
        let mut owners: Vec<Vec<u32>> = Vec::new();
        let mut longest = 1;
        for (lit, rule) in literals {
            if lit.is_empty() || lit.len() > MAX_LITERAL_LEN {
                return Err(format!(
                    "literal {lit:?} must have 1 to {MAX_LITERAL_LEN} bytes"
                ));
            }
            longest = longest.max(lit.len());
            let key = lit.to_ascii_lowercase();
            let idx = match patterns.iter().position(|p| *p == key) {
                Some(i) => i,
                None => {
                    patterns.push(key);
                    owners.push(Vec::new());
                    patterns.len() - 1
                }
            };
            let rule = u32::try_from(*rule).map_err(|_| "too many rules".to_owned())?;
            if !owners[idx].contains(&rule) {
                owners[idx].push(rule);
            }
        }
        // Case-sensitive over lower-cased literals (see the module comment); a DFA for the
        // fastest verification after the SIMD prefilter; Standard match kind because
        // `candidates` needs overlapping matches where it falls back to this automaton.
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&patterns)
            .map_err(|e| format!("cannot build the literal prefilter: {e}"))?;
        if ac.memory_usage() > MAX_AUTOMATON_BYTES {
            return Err(format!(
                "the literal prefilter would need {} bytes (limit {MAX_AUTOMATON_BYTES})",
                ac.memory_usage()
            ));
        }
        // aho-corasick only uses Teddy as a prefilter for its automata in some configurations,
        // and its DFA walk costs about 2 ns per byte; the packed searcher is Teddy itself.
        let (hot, around) = match hot_searcher(&patterns) {
            Some((searcher, hot)) => (Some(searcher), literals_around(&hot, &patterns)),
            None => (None, None),
        };
        Ok(Prefilter {
            hot,
            around,
            ac,
            patterns,
            owners,
            rule_count,
            longest,
            literals: literals.to_vec(),
        })
    }

    /// A prefilter over the literals of the rules `keep` accepts only (same rule numbering).
    pub(crate) fn narrowed(&self, keep: impl Fn(usize) -> bool) -> Result<Prefilter, String> {
        let kept: Vec<(String, usize)> = self
            .literals
            .iter()
            .filter(|(_, rule)| keep(*rule))
            .cloned()
            .collect();
        Prefilter::new(&kept, self.rule_count)
    }

    /// Rule numbers as a bit set, for [`Candidates::intersects`].
    pub(crate) fn rule_set(&self, keep: impl Fn(usize) -> bool) -> Vec<u64> {
        let mut bits = vec![0u64; self.rule_count.div_ceil(64)];
        for r in (0..self.rule_count).filter(|&r| keep(r)) {
            bits[r / 64] |= 1u64 << (r % 64);
        }
        bits
    }

    /// True when at least one literal occurs in `line` (ASCII case-insensitively).
    #[inline]
    pub(crate) fn may_match(&self, line: &[u8]) -> bool {
        let mut buf = [0u8; CHUNK];
        // Consecutive chunks share `longest - 1` bytes, so a literal straddling a chunk border
        // is wholly inside the next chunk; `longest <= MAX_LITERAL_LEN < CHUNK` guarantees
        // progress.
        let overlap = self.longest - 1;
        let mut start = 0;
        loop {
            let end = line.len().min(start + CHUNK);
            let chunk = &mut buf[..end - start];
            for (d, s) in chunk.iter_mut().zip(&line[start..end]) {
                *d = s.to_ascii_lowercase();
            }
            let found = match &self.hot {
                Some(hot) => hot.find(&*chunk).is_some(),
                None => self.ac.is_match(&*chunk),
            };
            if found {
                return true;
            }
            if end == line.len() {
                return false;
            }
            start = end - overlap;
        }
    }

    /// The rules worth trying on `line`, or `None` when no literal occurs.
    pub(crate) fn candidates(&self, line: &[u8]) -> Option<Candidates> {
        let lower = line.to_ascii_lowercase();
        let mut found = Found::new(self);
        match (&self.hot, &self.around) {
            // Every occurrence of a hot pattern, each checked against the literals around it:
            // one SIMD search per occurrence instead of an automaton step per byte.
            (Some(hot), Some(around)) => {
                let mut from = 0;
                while let Some(m) = hot.find_in(&lower, Span::from(from..lower.len())) {
                    for &(p, off) in &around[m.pattern().as_usize()] {
                        let (p, off) = (p as usize, off as usize);
                        if m.start()
                            .checked_sub(off)
                            .is_some_and(|at| lower[at..].starts_with(self.patterns[p].as_bytes()))
                        {
                            found.mark(p);
                        }
                    }
                    from = m.start() + 1;
                }
            }
            _ => self.overlapping(&lower, &mut found),
        }
        found.candidates()
    }

    /// Marks every literal of the lower-cased `line` with the overlapping automaton.
    fn overlapping(&self, lower: &[u8], found: &mut Found<'_>) {
        for m in self.ac.find_overlapping_iter(lower) {
            found.mark(m.pattern().as_usize());
        }
    }
}

/// The rules of the literals found so far in one line.
struct Found<'a> {
    owners: &'a [Vec<u32>],
    bits: Vec<u64>,
    any: bool,
}

impl<'a> Found<'a> {
    fn new(p: &'a Prefilter) -> Self {
        Found {
            owners: &p.owners,
            bits: vec![0u64; p.rule_count.div_ceil(64)],
            any: false,
        }
    }

    fn mark(&mut self, pattern: usize) {
        self.any = true;
        for &r in &self.owners[pattern] {
            let r = r as usize;
            self.bits[r / 64] |= 1u64 << (r % 64);
        }
    }

    fn candidates(self) -> Option<Candidates> {
        self.any.then_some(Candidates { bits: self.bits })
    }
}

/// The files of `../shared/corpus/external` but its READMEs: what the byte and trigram
/// models are counted over.
#[cfg(test)]
fn corpus_files() -> Vec<std::path::PathBuf> {
    fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("../shared/corpus/external is readable") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                files(&path, out);
            } else if path.extension().is_none_or(|e| e != "md") {
                out.push(path);
            }
        }
    }
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus/external");
    let mut out = Vec::new();
    files(std::path::Path::new(root), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefilter(lits: &[&str]) -> Prefilter {
        let lits: Vec<(String, usize)> = lits
            .iter()
            .enumerate()
            .map(|(i, l)| (l.to_string(), i))
            .collect();
        Prefilter::new(&lits, lits.len()).expect("prefilter builds")
    }

    #[test]
    fn may_match_is_ascii_case_insensitive() {
        let p = prefilter(&["%SYS-5-RELOAD", "copy", "integrity_fail"]);
        assert!(p.may_match(b"<189>1: r: Jun  1 00:00:00: %sys-5-reload: Reload requested"));
        assert!(p.may_match(b"CLIaccounting: COPY tftp://x/y flash:"));
        assert!(p.may_match(b"%SYS-2-IMAGE_INTEGRITY_FAILED: x"));
        assert!(!p.may_match(b"%LINK-3-UPDOWN: Interface Gi0/1, changed state to down"));
        assert!(!p.may_match(b""));
    }

    #[test]
    fn may_match_finds_literals_across_chunk_borders() {
        let p = prefilter(&["integrity_fail"]);
        for pad in 0..(2 * CHUNK + 40) {
            let mut line = vec![b'x'; pad];
            line.extend_from_slice(b"INTEGRITY_FAIL");
            line.extend(std::iter::repeat_n(b'y', 300));
            assert!(p.may_match(&line), "missed at offset {pad}");
        }
        assert!(!p.may_match(&vec![b'z'; 3 * CHUNK]));
    }

    #[test]
    fn candidates_name_every_rule_whose_literal_occurs() {
        let p = prefilter(&["copy", "boot", "COPY"]);
        let c = p
            .candidates(b"copy tftp://x/y flash:")
            .expect("a literal occurs");
        assert!(c.contains(0) && c.contains(2) && !c.contains(1));
        assert!(p.candidates(b"show version").is_none());
    }

    #[test]
    fn many_literals_share_factors_in_the_hot_searcher() {
        let lits: Vec<String> = (0..300)
            .flat_map(|i| [format!("%SYNFAC{i:04}-"), format!("zq{i:04}imgevt")])
            .collect();
        let refs: Vec<&[u8]> = lits.iter().map(|l| l.as_bytes()).collect();
        let lower: Vec<Vec<u8>> = refs.iter().map(|l| l.to_ascii_lowercase()).collect();
        let lower: Vec<&[u8]> = lower.iter().map(Vec::as_slice).collect();
        let factors = shared_factors(&lower, TEDDY_MAX_PATTERNS).expect("a cover fits");
        assert!(factors.len() <= 4, "{factors:?}");
        let p = prefilter(&lits.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(p.hot.is_some() || !cfg!(target_arch = "x86_64"));
        assert!(p.may_match(b"x %synfac0042-5-IMG: image a.bin"));
        assert!(p.may_match(b"ZQ0299IMGEVT: file b.bin"));
        assert!(!p.may_match(b"%LINK-3-UPDOWN: Interface Gi0/1, changed state to down"));
        // A factor that passes a line where no literal occurs: no candidates.
        assert!(p.candidates(b"%synfac-no-number").is_none());
    }

    #[test]
    fn unrelated_literals_past_the_budget_fall_back_to_the_automaton() {
        let lits: Vec<String> = (0..200u32)
            .map(|i| format!("{}{}", char::from(b'a' + (i % 26) as u8), i * 7919))
            .collect();
        let lower: Vec<&[u8]> = lits.iter().map(|l| l.as_bytes()).collect();
        assert!(shared_factors(&lower, 8).is_none());
        let p = prefilter(&lits.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(p.may_match(lits[150].as_bytes()));
        assert!(!p.may_match(b"nothing here"));
    }

    #[test]
    fn narrowed_prefilter_keeps_only_the_chosen_rules_literals() {
        let p = prefilter(&["copy", "config_", "reload"]);
        let n = p.narrowed(|r| r != 1).unwrap();
        assert!(!n.may_match(b"%SYS-5-CONFIG_I: Configured from console"));
        assert!(n.may_match(b"%SYS-5-RELOAD: Reload requested"));
        let set = p.rule_set(|r| r != 1);
        let c = p.candidates(b"%SYS-5-CONFIG_I: Configured").unwrap();
        assert!(!c.intersects(&set));
        let c = p.candidates(b"copy tftp: config_x").unwrap();
        assert!(c.intersects(&set));
    }

    /// The hot search's candidates are the overlapping automaton's: on every line of
    /// `../shared/corpus/external`, every example line of the built-in rules, and lines made
    /// of their literals, overlapping, repeated and in other case.
    #[test]
    fn hot_candidates_are_the_overlapping_automatons() {
        let rules = crate::config::RuleSource::Builtin
            .classifier()
            .expect("built-in rules load");
        let p = &rules.prefilter;
        assert!(p.around.is_some() || !cfg!(target_arch = "x86_64"));
        let mut lines = crate::classify::external_corpus_lines();
        for rule in rules.rules() {
            let ex = &rule.examples;
            lines.extend(ex.matches.iter().map(|m| m.text.clone().into_bytes()));
            lines.extend(ex.no_match.iter().map(|m| m.text.clone().into_bytes()));
        }
        for (i, a) in p.patterns.iter().enumerate() {
            let b = &p.patterns[(i * 7 + 3) % p.patterns.len()];
            let upper = a.to_ascii_uppercase();
            // Overlapping by a byte, twice over, cut short, behind text.
            let half = &b[..b.len() / 2];
            let overlap = format!("{a}{}", &b[1.min(b.len())..]);
            lines.push(format!("x {a}{b} {a}{a} {upper} {half}").into_bytes());
            lines.push(format!("{overlap} {a}").into_bytes());
        }
        let mut with_literals = 0;
        for line in &lines {
            let mut found = Found::new(p);
            p.overlapping(&line.to_ascii_lowercase(), &mut found);
            let want = found.candidates().map(|c| c.bits);
            with_literals += usize::from(want.is_some());
            assert_eq!(
                p.candidates(line).map(|c| c.bits),
                want,
                "{:?}",
                String::from_utf8_lossy(line)
            );
        }
        assert!(
            with_literals > 500,
            "only {with_literals} lines hold a literal"
        );
    }

    #[test]
    fn overlong_literals_are_refused() {
        let long = "x".repeat(MAX_LITERAL_LEN + 1);
        assert!(Prefilter::new(&[(long, 0)], 1).is_err());
    }
}
