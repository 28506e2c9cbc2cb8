//! Which patterns the hot (Teddy) searcher looks for, and in which order.
//!
//! Teddy finds candidates by the first bytes (up to three) of each pattern, nybble by nybble,
//! per bucket of patterns, and verifies every pattern of a bucket at each candidate; false
//! candidates are what cost time on noise. Three choices here keep them few:
//!
//! - each literal is represented by the suffix that starts on its rarest bytes
//!   ([`rare_suffix`]): it occurs wherever the literal does, so nothing is lost;
//! - past Teddy's pattern limit, shared factors stand for many literals ([`shared_factors`]);
//! - patterns are grouped into buckets so that a bucket's nybble masks stay narrow
//!   ([`bucket_order`], judged by the byte model of [`super::byte_freq`]): a bucket holding
//!   `nfig_` and ` wr` also fires on ` fi` and `nwr`, so which patterns share a bucket
//!   changes the candidate count several-fold.

use super::byte_freq::probability;
use super::trigrams::lines_with;

/// Shortest suffix [`rare_suffix`] may pick.
pub(super) const MIN_HOT_LEN: usize = 5;
/// Most patterns one Teddy searcher takes (aho-corasick's packed searcher refuses more).
pub(super) const TEDDY_MAX_PATTERNS: usize = 64;
/// Bytes Teddy fingerprints per pattern (fewer when a pattern is shorter).
const MASK_LEN: usize = 3;
/// Cost of a candidate before any pattern is compared, in pattern comparisons.
const CANDIDATE_OVERHEAD: f64 = 2.0;

/// The byte model by nybbles: for each high nybble, the probability of every set of low
/// nybbles, as two tables (low nybbles 0-7 and 8-15) indexed by the set's bits: the planner
/// asks for thousands of sets, and this makes each a few look-ups.
struct Model(Box<[[[f64; 256]; 2]; 16]>);

impl Model {
    fn new() -> Self {
        let mut t = Box::new([[[0.0; 256]; 2]; 16]);
        for (high, halves) in t.iter_mut().enumerate() {
            for (half, sets) in halves.iter_mut().enumerate() {
                for (set, p) in sets.iter_mut().enumerate() {
                    *p = (0..8)
                        .filter(|l| set & (1 << l) != 0)
                        .map(|l| probability(((high << 4) | (half * 8 + l)) as u8))
                        .sum();
                }
            }
        }
        Model(t)
    }

    /// The probability that a byte has its low nybble in `lo` and its high nybble in `hi`
    /// (bit sets of nybble values): what one Teddy mask position lets through.
    fn passes(&self, lo: u16, hi: u16) -> f64 {
        let [low, high] = lo.to_le_bytes().map(usize::from);
        (0..16)
            .filter(|h| hi & (1 << h) != 0)
            .map(|h| self.0[h][0][low] + self.0[h][1][high])
            .sum()
    }

    /// Expected verification work per haystack byte for a bucket of `patterns`, with the
    /// pattern at `swap.0` replaced by `swap.1` when given.
    fn bucket_cost(
        &self,
        patterns: &[&[u8]],
        mask_len: usize,
        swap: Option<(usize, &[u8])>,
    ) -> f64 {
        if patterns.is_empty() {
            return 0.0;
        }
        let pattern = |i: usize| match swap {
            Some((at, with)) if at == i => with,
            _ => patterns[i],
        };
        let rate: f64 = (0..mask_len)
            .map(|k| {
                let (lo, hi) = (0..patterns.len()).fold((0u16, 0u16), |(lo, hi), i| {
                    let b = pattern(i)[k];
                    (lo | 1 << (b & 0xF), hi | 1 << (b >> 4))
                });
                self.passes(lo, hi)
            })
            .product();
        rate * (CANDIDATE_OVERHEAD + patterns.len() as f64)
    }
}

/// The suffix of `lit` whose first three bytes are least common in syslog text, among the
/// suffixes that keep two thirds of the literal and at least [`MIN_HOT_LEN`] bytes: a short
/// suffix (`all` of `install`, `_event` of `ui_load_event`) would pass ordinary lines.
///
/// Teddy's fingerprint is a pattern's first bytes, so they are judged together: first by how
/// many real lines hold them as a trigram ([`super::trigrams`]), then, among trigrams that
/// are not common, by letter ranks ([`commonness`]). The byte model alone judges bytes one by
/// one and prefers `start` of `restart` or `store` of `restore`, words of ordinary noise;
/// letter ranks alone judge `log` of `login_success` as rare as `n_s`, and on the seed-7
/// corpus `log` occurs in most lines: each that passes on a suffix but lacks its literal is
/// verified for nothing.
pub(super) fn rare_suffix(lit: &[u8]) -> &[u8] {
    let keep = MIN_HOT_LEN.max((2 * lit.len()).div_ceil(3));
    if lit.len() <= keep {
        return lit;
    }
    let score = |i: usize| {
        let first = &lit[i..i + 3];
        let letters: u32 = first.iter().map(|&b| commonness(b)).sum();
        (lines_with(first), letters)
    };
    // `min_by_key` keeps the first of equal scores: the longest suffix, the fewest false passes.
    let best = (0..=lit.len() - keep)
        .min_by_key(|&i| score(i))
        .unwrap_or(0);
    &lit[best..]
}

/// A rough, corpus-independent rank of how often a lower-case byte occurs in syslog text:
/// letters by English letter frequency, then what every header is made of (digits, spaces,
/// `:`, `.`, `/`), while `_`, `=` and quotes are rare.
fn commonness(b: u8) -> u32 {
    const LETTERS: &[u8; 26] = b"etaoinshrdlcumwfgypbvkjxqz";
    match b {
        b'a'..=b'z' => {
            let rank = LETTERS.iter().position(|&l| l == b).unwrap_or(25);
            26 - rank as u32
        }
        b' ' => 30,
        b':' | b'.' | b'/' | b',' => 25,
        b'0'..=b'9' => 20,
        b'-' => 15,
        b'%' | b'(' | b')' | b'[' | b']' => 12,
        b'\'' | b'"' => 10,
        b'_' | b'=' => 8,
        _ => 5,
    }
}

/// Past [`TEDDY_MAX_PATTERNS`] literals, Teddy cannot take them one by one; but large rule
/// sets share factors (`%SYS-`, `install`, a vendor's facility prefix), and a line can contain
/// a literal only where it contains a factor of it. So the hot searcher may look for at most
/// `budget` factors that together cover every literal, picked greedily: the factor (of at
/// least [`MIN_HOT_LEN`] bytes) in the most uncovered literals, rarer first on ties.
/// A factor passes more lines than its literals would, which only costs a `candidates` call
/// on them. `None` when no such cover fits the budget (the automaton answers then).
pub(super) fn shared_factors<'a>(literals: &[&'a [u8]], budget: usize) -> Option<Vec<&'a [u8]>> {
    use std::collections::{HashMap, HashSet};
    let mut uncovered: Vec<&[u8]> = literals.to_vec();
    let mut chosen: Vec<&[u8]> = Vec::new();
    while !uncovered.is_empty() {
        if chosen.len() == budget {
            return None;
        }
        let mut counts: HashMap<&[u8], usize> = HashMap::new();
        for lit in &uncovered {
            let mut seen: HashSet<&[u8]> = HashSet::new();
            for len in MIN_HOT_LEN.min(lit.len())..=lit.len() {
                for w in lit.windows(len) {
                    if seen.insert(w) {
                        *counts.entry(w).or_default() += 1;
                    }
                }
            }
        }
        let rarity = |f: &[u8]| f.iter().take(3).map(|&b| commonness(b)).sum::<u32>();
        let best = counts
            .into_iter()
            .max_by(|(a, na), (b, nb)| {
                na.cmp(nb)
                    .then_with(|| rarity(b).cmp(&rarity(a)))
                    .then_with(|| a.len().cmp(&b.len()))
                    .then_with(|| b.cmp(a))
            })
            .map(|(f, _)| f)?;
        uncovered.retain(|lit| !contains(lit, best));
        chosen.push(best);
    }
    Some(chosen)
}

pub(super) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// `patterns` reordered so that Teddy's bucket assignment groups them well.
///
/// aho-corasick's Teddy puts the pattern with id `i` into bucket `buckets - 1 - i % buckets`
/// (unless an earlier pattern has the same low nybbles, which then takes it), so the order of
/// the patterns is the grouping. The groups are found greedily (likeliest patterns first, each
/// into the bucket whose cost it raises least) and improved by swapping pairs between buckets
/// while a swap lowers the modelled cost. Bucket sizes are what round-robin gives.
pub(super) fn bucket_order<'a>(patterns: &[&'a [u8]], buckets: usize) -> Vec<&'a [u8]> {
    let n = patterns.len();
    if n <= buckets || buckets == 0 {
        return patterns.to_vec();
    }
    let model = Model::new();
    let mask_len = MASK_LEN.min(patterns.iter().map(|p| p.len()).min().unwrap_or(1));
    let slot = |id: usize| buckets - 1 - id % buckets;
    let capacity: Vec<usize> = (0..buckets)
        .map(|b| (0..n).filter(|&id| slot(id) == b).count())
        .collect();
    let cost = |g: &[&[u8]]| model.bucket_cost(g, mask_len, None);
    let mut likeliest: Vec<&[u8]> = patterns.to_vec();
    likeliest.sort_by(|a, b| cost(&[b]).total_cmp(&cost(&[a])).then_with(|| a.cmp(b)));
    let mut groups: Vec<Vec<&[u8]>> = vec![Vec::new(); buckets];
    for p in likeliest {
        let added = |g: &Vec<&'a [u8]>| {
            let mut with = g.clone();
            with.push(p);
            cost(&with) - cost(g)
        };
        let best = (0..buckets)
            .filter(|&b| groups[b].len() < capacity[b])
            .min_by(|&a, &b| added(&groups[a]).total_cmp(&added(&groups[b])))
            .expect("capacities add up to the pattern count");
        groups[best].push(p);
    }
    // Each accepted swap lowers the cost by a factor, so this ends; the bound is a guard.
    for _ in 0..n * n {
        if !improve_by_swaps(&model, &mut groups, mask_len) {
            break;
        }
    }
    let mut order = Vec::with_capacity(n);
    for id in 0..n {
        order.push(
            groups[slot(id)]
                .pop()
                .expect("capacity matches the slot count"),
        );
    }
    order
}

/// One pass over all pairs of buckets, making every swap of two patterns between them that
/// lowers their cost. True when some swap was made.
fn improve_by_swaps(model: &Model, groups: &mut [Vec<&[u8]>], mask_len: usize) -> bool {
    let mut improved = false;
    for a in 0..groups.len() {
        for b in a + 1..groups.len() {
            let cost = |g: &[&[u8]]| model.bucket_cost(g, mask_len, None);
            let mut before = cost(&groups[a]) + cost(&groups[b]);
            for i in 0..groups[a].len() {
                for j in 0..groups[b].len() {
                    let (ga, gb) = (&groups[a], &groups[b]);
                    let after = model.bucket_cost(ga, mask_len, Some((i, gb[j])))
                        + model.bucket_cost(gb, mask_len, Some((j, ga[i])));
                    if after < before * (1.0 - 1e-9) {
                        let (x, y) = (ga[i], gb[j]);
                        groups[a][i] = y;
                        groups[b][j] = x;
                        before = after;
                        improved = true;
                    }
                }
            }
        }
    }
    improved
}

/// The total modelled cost of `order` as Teddy would bucket it (tests and diagnostics).
#[cfg(test)]
pub(super) fn modelled_cost(order: &[&[u8]], buckets: usize) -> f64 {
    let model = Model::new();
    let mask_len = MASK_LEN.min(order.iter().map(|p| p.len()).min().unwrap_or(1));
    let mut groups: Vec<Vec<&[u8]>> = vec![Vec::new(); buckets];
    let mut by_low_nybbles: std::collections::HashMap<Vec<u8>, usize> = Default::default();
    for (id, p) in order.iter().enumerate() {
        let key: Vec<u8> = p[..mask_len].iter().map(|b| b & 0xF).collect();
        let bucket = *by_low_nybbles
            .entry(key)
            .or_insert(buckets - 1 - id % buckets);
        groups[bucket].push(p);
    }
    groups
        .iter()
        .map(|g| model.bucket_cost(g, mask_len, None))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table's answer is the byte model's: the sum over every byte the two sets admit.
    #[test]
    fn passes_sums_the_bytes_a_mask_admits() {
        let model = Model::new();
        for (lo, hi) in [
            (0u16, 0u16),
            (1, 1),
            (0xFFFF, 0xFFFF),
            (0x8421, 0x0F0F),
            (0xA5C3, 0x7001),
        ] {
            let want: f64 = (0..=255u8)
                .filter(|b| lo & (1 << (b & 0xF)) != 0 && hi & (1 << (b >> 4)) != 0)
                .map(probability)
                .sum();
            let got = model.passes(lo, hi);
            assert!(
                (got - want).abs() < 1e-12,
                "{lo:#x} {hi:#x}: {got} vs {want}"
            );
        }
        assert!((model.passes(0xFFFF, 0xFFFF) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn rare_suffix_keeps_two_thirds_and_prefers_rare_bytes() {
        // `ins` begins words of more real lines than `nst`; `log` of many more than `n_s`.
        assert_eq!(rare_suffix(b"install"), b"nstall");
        assert_eq!(rare_suffix(b"login_success"), b"n_success");
        assert_eq!(rare_suffix(b"integrity_fail"), b"grity_fail");
        assert_eq!(rare_suffix(b"ui_load_event"), b"ui_load_event");
        assert_eq!(rare_suffix(b"wr"), b"wr");
    }

    #[test]
    fn grouping_lowers_the_modelled_cost_and_keeps_every_pattern() {
        let pats: Vec<&[u8]> = vec![
            b"nfig_",
            b" wr",
            b"install",
            b"reload",
            b"boot",
            b"copy",
            b"32200",
            b"32215",
            b"022094",
            b"veriexec",
            b"shutdown",
            b"kernel",
            b"signature",
            b"ui_commit:",
            b"ui_load_event",
            b"restart",
            b"restore",
            b"-1990",
            b"-1110",
            b"=wr",
            b":wr",
            b"'wr",
            b"panos_",
            b"mghdr",
            b"ftware",
            b"vdc_online",
            b"f_control",
            b"ecksum",
            b"digisign",
            b"fgwrite_",
            b"grity_fail",
            b"ldstart",
            b"m_initialized",
            b"w file",
        ];
        let order = bucket_order(&pats, 16);
        let mut sorted_in = pats.clone();
        let mut sorted_out = order.clone();
        sorted_in.sort();
        sorted_out.sort();
        assert_eq!(sorted_in, sorted_out, "a permutation");
        let (given, planned) = (modelled_cost(&pats, 16), modelled_cost(&order, 16));
        assert!(
            planned < given / 2.0,
            "planned {planned:e} vs given {given:e}"
        );
    }

    #[test]
    fn few_patterns_keep_their_order() {
        let pats: Vec<&[u8]> = vec![b"copy", b"boot"];
        assert_eq!(bucket_order(&pats, 16), pats);
    }
}
