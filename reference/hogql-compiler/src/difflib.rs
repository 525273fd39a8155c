//! A re-implementation of the parts of Python's `difflib` that PostHog uses for suggestions:
//! `SequenceMatcher.ratio()` and `get_close_matches(word, possibilities, n, cutoff)`.
//!
//! PostHog suggests a function name with `get_close_matches(name, ALL_EXPOSED_FUNCTION_NAMES, 1)`
//! (cutoff 0.6) and a table name with `n=3, cutoff=0.7`; to print the same "Perhaps you meant"
//! text we must pick the same candidate, so this follows CPython's algorithm exactly:
//!
//! * sequences are compared per Unicode code point;
//! * the second sequence (`b`, the word typed by the user) is indexed, and when it is at least 200
//!   long, elements occurring more than `len/100 + 1` times are "popular" and never start a match
//!   (the `autojunk` heuristic); there is no junk predicate;
//! * the longest matching block is the earliest in `a`, then earliest in `b`, among the longest,
//!   extended over equal neighbours; matching blocks are found recursively left and right of it;
//! * `ratio = 2 * matches / (len(a) + len(b))`, `1.0` when both are empty;
//! * candidates scoring at least `cutoff` are ranked by `(score, candidate)` descending, so ties
//!   go to the candidate that sorts last.
//!
//! The tests pin results computed with CPython 3.11's `difflib`.

use std::collections::HashMap;

/// Compares one fixed sequence `b` against many `a`s, like `SequenceMatcher` after `set_seq2`.
#[derive(Debug, Clone)]
pub struct SequenceMatcher {
    b: Vec<char>,
    /// Positions of each non-popular element of `b`, ascending.
    b2j: HashMap<char, Vec<usize>>,
    /// How often each ASCII element occurs in `b` (all elements, for `quick_ratio`).
    b_ascii_counts: [usize; 128],
    /// The same for non-ASCII elements.
    b_other_counts: HashMap<char, usize>,
}

/// Scratch space for [`SequenceMatcher::find_longest_match`]: the lengths of the matches ending
/// at each `j` for the previous and the current `i` (CPython keeps these in dicts; arrays indexed
/// by `j + 1` give the same values without hashing).
#[derive(Debug, Default)]
struct Scratch {
    prev: Vec<usize>,
    next: Vec<usize>,
    prev_touched: Vec<usize>,
    next_touched: Vec<usize>,
}

impl SequenceMatcher {
    /// Index `b` (Python's `set_seq2`), applying the `autojunk` heuristic.
    pub fn new(b: &str) -> Self {
        let b: Vec<char> = b.chars().collect();
        let mut b2j: HashMap<char, Vec<usize>> = HashMap::new();
        for (j, &c) in b.iter().enumerate() {
            b2j.entry(c).or_default().push(j);
        }
        let mut b_ascii_counts = [0usize; 128];
        let mut b_other_counts = HashMap::new();
        for (&c, js) in &b2j {
            match usize::try_from(u32::from(c)) {
                Ok(i) if i < 128 => b_ascii_counts[i] = js.len(),
                _ => {
                    b_other_counts.insert(c, js.len());
                }
            }
        }
        let n = b.len();
        if n >= 200 {
            let ntest = n / 100 + 1;
            b2j.retain(|_, js| js.len() <= ntest);
        }
        Self {
            b,
            b2j,
            b_ascii_counts,
            b_other_counts,
        }
    }

    /// Longest matching block of `a[alo..ahi]` and `b[blo..bhi]` as `(i, j, size)`.
    fn find_longest_match(
        &self,
        a: &[char],
        (alo, ahi): (usize, usize),
        (blo, bhi): (usize, usize),
        scratch: &mut Scratch,
    ) -> (usize, usize, usize) {
        let b = &self.b;
        let (mut besti, mut bestj, mut bestsize) = (alo, blo, 0usize);
        let width = b.len() + 1;
        for v in [&mut scratch.prev, &mut scratch.next] {
            if v.len() < width {
                v.resize(width, 0);
            }
        }
        // prev[j + 1] = length of the match ending at a[i-1], b[j]
        for (i, c) in a.iter().enumerate().take(ahi).skip(alo) {
            if let Some(js) = self.b2j.get(c) {
                for &j in js {
                    if j < blo {
                        continue;
                    }
                    if j >= bhi {
                        break;
                    }
                    let k = scratch.prev[j] + 1;
                    scratch.next[j + 1] = k;
                    scratch.next_touched.push(j + 1);
                    if k > bestsize {
                        besti = i + 1 - k;
                        bestj = j + 1 - k;
                        bestsize = k;
                    }
                }
            }
            for &t in &scratch.prev_touched {
                scratch.prev[t] = 0;
            }
            scratch.prev_touched.clear();
            std::mem::swap(&mut scratch.prev, &mut scratch.next);
            std::mem::swap(&mut scratch.prev_touched, &mut scratch.next_touched);
        }
        for &t in &scratch.prev_touched {
            scratch.prev[t] = 0;
        }
        scratch.prev_touched.clear();
        // Extend over equal elements that could not be indexed (the popular ones).
        while besti > alo && bestj > blo && a[besti - 1] == b[bestj - 1] {
            besti -= 1;
            bestj -= 1;
            bestsize += 1;
        }
        while besti + bestsize < ahi
            && bestj + bestsize < bhi
            && a[besti + bestsize] == b[bestj + bestsize]
        {
            bestsize += 1;
        }
        (besti, bestj, bestsize)
    }

    /// Total size of all matching blocks between `a` and `b`.
    fn matches(&self, a: &[char]) -> usize {
        let mut scratch = Scratch::default();
        let mut total = 0;
        let mut queue = vec![(0, a.len(), 0, self.b.len())];
        while let Some((alo, ahi, blo, bhi)) = queue.pop() {
            let (i, j, k) = self.find_longest_match(a, (alo, ahi), (blo, bhi), &mut scratch);
            if k > 0 {
                total += k;
                if alo < i && blo < j {
                    queue.push((alo, i, blo, j));
                }
                if i + k < ahi && j + k < bhi {
                    queue.push((i + k, ahi, j + k, bhi));
                }
            }
        }
        total
    }

    fn ratio_of(matches: usize, total_len: usize) -> f64 {
        if total_len == 0 {
            1.0
        } else {
            2.0 * matches as f64 / total_len as f64
        }
    }

    /// `SequenceMatcher(None, a, b).ratio()`.
    pub fn ratio(&self, a: &str) -> f64 {
        let a: Vec<char> = a.chars().collect();
        Self::ratio_of(self.matches(&a), a.len() + self.b.len())
    }

    /// An upper bound on [`Self::ratio`] from element counts only (Python's `quick_ratio`).
    fn quick_ratio(&self, a: &[char]) -> f64 {
        let mut ascii = self.b_ascii_counts;
        let mut other: HashMap<char, usize> = HashMap::new();
        let mut matches = 0;
        for &c in a {
            let left = match usize::try_from(u32::from(c)) {
                Ok(i) if i < 128 => &mut ascii[i],
                _ => other
                    .entry(c)
                    .or_insert_with(|| self.b_other_counts.get(&c).copied().unwrap_or(0)),
            };
            if *left > 0 {
                *left -= 1;
                matches += 1;
            }
        }
        Self::ratio_of(matches, a.len() + self.b.len())
    }
}

/// `difflib.get_close_matches(word, possibilities, n, cutoff)`: the best `n` candidates whose
/// ratio against `word` is at least `cutoff`, best first.
pub fn get_close_matches<'a, I>(word: &str, possibilities: I, n: usize, cutoff: f64) -> Vec<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    if n == 0 || !(0.0..=1.0).contains(&cutoff) {
        return Vec::new();
    }
    let matcher = SequenceMatcher::new(word);
    let mut scored: Vec<(f64, &'a str)> = Vec::new();
    for candidate in possibilities {
        let a: Vec<char> = candidate.chars().collect();
        let total_len = a.len() + matcher.b.len();
        // real_quick_ratio: an upper bound from the lengths alone.
        let real_quick = SequenceMatcher::ratio_of(a.len().min(matcher.b.len()), total_len);
        if real_quick < cutoff || matcher.quick_ratio(&a) < cutoff {
            continue;
        }
        let score = SequenceMatcher::ratio_of(matcher.matches(&a), total_len);
        if score >= cutoff {
            scored.push((score, candidate));
        }
    }
    // heapq.nlargest over (score, candidate) tuples: score descending, then candidate descending.
    scored.sort_by(|(sa, ca), (sb, cb)| sb.total_cmp(sa).then_with(|| cb.cmp(ca)));
    scored.into_iter().take(n).map(|(_, c)| c).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn ratio_is_a_bounded_symmetric_score_and_never_panics(a in "\\PC{0,40}", b in "\\PC{0,40}") {
            let ab = SequenceMatcher::new(b.as_str()).ratio(&a);
            prop_assert!((0.0..=1.0).contains(&ab));
            if a == b {
                prop_assert_eq!(ab, 1.0);
            }
        }

        #[test]
        fn close_matches_are_candidates_above_cutoff(word in "[a-cA-C]{0,8}", words in proptest::collection::vec("[a-cA-C]{0,8}", 0..12)) {
            let found = get_close_matches(&word, words.iter().map(String::as_str), 3, 0.6);
            prop_assert!(found.len() <= 3);
            for f in found {
                prop_assert!(words.iter().any(|w| w == f));
                prop_assert!(SequenceMatcher::new(&word).ratio(f) >= 0.6);
            }
        }
    }

    /// `round(SequenceMatcher(None, a, b).ratio(), 6)` from CPython 3.11.
    #[test]
    fn ratios_match_cpython() {
        let cases: &[(&str, &str, f64)] = &[
            ("abcd", "bcde", 0.75),
            ("toString", "tostring", 0.875),
            ("hamburger", "hamburger", 1.0),
            ("", "", 1.0),
            ("", "abc", 0.0),
            (
                "private Thread currentThread;",
                "private volatile Thread currentThread;",
                0.865672,
            ),
            ("qabxcd", "abycdf", 0.666667),
            ("countIf", "countif", 0.857143),
        ];
        for &(a, b, expected) in cases {
            let got = SequenceMatcher::new(b).ratio(a);
            assert!(
                (got - expected).abs() < 1e-6,
                "ratio({a:?}, {b:?}) = {got}, expected {expected}"
            );
        }
    }

    #[test]
    fn close_matches_match_cpython() {
        let words = ["ape", "apple", "peach", "puppy"];
        assert_eq!(get_close_matches("appel", words, 3, 0.6), ["apple", "ape"]);
        let keywords = [
            "and", "as", "assert", "break", "class", "continue", "def", "del", "elif", "else",
            "except", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda",
            "not", "or", "pass", "raise", "return", "try", "while", "with", "yield",
        ];
        assert_eq!(get_close_matches("wheel", keywords, 3, 0.6), ["while"]);
        assert!(get_close_matches("pineapple", keywords, 3, 0.6).is_empty());
        assert_eq!(get_close_matches("accept", keywords, 3, 0.6), ["except"]);
    }

    #[test]
    fn ties_go_to_the_candidate_that_sorts_last() {
        // Both score 0.75 against "abcd"; Python's nlargest keeps the larger string.
        assert_eq!(
            get_close_matches("abcd", ["abce", "abcf"], 1, 0.6),
            ["abcf"]
        );
    }

    #[test]
    fn autojunk_applies_to_long_words() {
        // 250 'a's then 'b': 'a' is popular, so only the 'b' is indexed; the match found there is
        // then extended backwards over the equal 'a's, giving 3 matching characters.
        let long = format!("{}b", "a".repeat(250));
        let matcher = SequenceMatcher::new(&long);
        let got = matcher.ratio("aab");
        // With no indexed seed the empty match at (0, 0) is still extended forwards: 10/256.
        assert_eq!(matcher.ratio("aaaaa"), 0.0390625);
        // A case where autojunk changes the answer: CPython gives 0.00784313725490196 (with
        // autojunk=False it would be 0.01568627450980392).
        let matcher = SequenceMatcher::new(&format!("x{}b", "a".repeat(250)));
        assert_eq!(matcher.ratio("bxa"), 0.00784313725490196);
        // CPython: SequenceMatcher(None, "aab", "a"*250 + "b").ratio() == 0.023622047244094488
        assert!((got - 0.023622047244094488).abs() < 1e-15, "got {got}");
    }

    /// 400 random pairs scored by CPython 3.11 (`difflib_cases/ratios.tsv`), compared exactly.
    #[test]
    fn random_pairs_match_cpython_exactly() {
        let mut n = 0;
        for line in include_str!("difflib_cases/ratios.tsv").lines() {
            if line.starts_with('#') || line.is_empty() {
                continue;
            }
            let mut cols = line.split('\t');
            let (a, b, expected) = (
                cols.next().unwrap(),
                cols.next().unwrap(),
                cols.next().unwrap(),
            );
            let expected: f64 = expected.parse().unwrap();
            let got = SequenceMatcher::new(b).ratio(a);
            assert_eq!(
                got.to_bits(),
                expected.to_bits(),
                "ratio({a:?}, {b:?}) = {got}, CPython {expected}"
            );
            n += 1;
        }
        assert_eq!(n, 400);
    }

    #[test]
    fn bad_arguments_give_no_matches() {
        assert!(get_close_matches("x", ["x"], 0, 0.6).is_empty());
        assert!(get_close_matches("x", ["x"], 1, 1.5).is_empty());
    }
}
