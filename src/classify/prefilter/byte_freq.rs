//! How often each (lower-cased) byte occurs in real device syslog: the model behind the hot
//! searcher's plan ([`super::plan`]).
//!
//! Counted over every file of `../shared/corpus/external` (public device log lines, their
//! provenance in its README) except the READMEs, lower-cased, 57,824 bytes; the test
//! `byte_freq_table_is_the_external_corpus_count` recounts it at test time, so the table
//! cannot drift from the corpus it names. A model from real lines, not from the generator
//! the benchmarks run on.

/// Occurrences of each byte value.
#[rustfmt::skip]
pub(super) const COUNTS: [u32; 256] = [
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 590, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    6405, 2, 102, 6, 0, 273, 0, 40, 229, 229, 4, 17, 541, 1094, 1455, 397,
    3316, 2579, 1745, 1096, 843, 788, 723, 473, 693, 637, 1920, 14, 258, 402, 292, 0,
    7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 136, 1, 136, 0, 442,
    0, 2586, 353, 1528, 1318, 3356, 767, 733, 515, 1731, 161, 154, 1196, 984, 1923, 2080,
    1140, 16, 2021, 2273, 2435, 834, 371, 379, 646, 405, 34, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

const TOTAL: u32 = {
    let mut sum = 0;
    let mut i = 0;
    while i < COUNTS.len() {
        sum += COUNTS[i];
        i += 1;
    }
    sum
};

/// The probability of byte `b` in syslog text, smoothed so that no byte is impossible.
pub(super) fn probability(b: u8) -> f64 {
    (f64::from(COUNTS[usize::from(b)]) + 0.5) / (f64::from(TOTAL) + 128.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_freq_table_is_the_external_corpus_count() {
        let mut counts = [0u32; 256];
        for path in super::super::corpus_files() {
            for b in std::fs::read(&path).expect("corpus file is readable") {
                counts[usize::from(b.to_ascii_lowercase())] += 1;
            }
        }
        assert_eq!(counts, COUNTS, "recount: {counts:?}");
        assert!(probability(b' ') > probability(b'e') && probability(b'e') > probability(b'q'));
    }
}
