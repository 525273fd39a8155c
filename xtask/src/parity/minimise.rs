//! Delta debugging: shrink an input while a predicate (here: "the same kind of mismatch persists") holds.

use super::generate::tokenize;

/// Shrinks `src` by removing runs of tokens, then runs of characters, while `still_fails` holds; at most
/// `max_tries` predicate calls. Returns the smallest input found (the input itself when nothing shrinks).
pub(crate) fn minimise(
    src: &str,
    max_tries: usize,
    mut still_fails: impl FnMut(&str) -> bool,
) -> String {
    let mut tries = 0;
    let mut current = src.to_string();
    // Token passes then character passes, repeated until a round removes nothing (or the budget runs out).
    loop {
        let before = current.len();
        let tokens = ddmin(tokenize(&current), &mut tries, max_tries, &mut still_fails);
        let chars: Vec<String> = tokens.concat().chars().map(String::from).collect();
        current = ddmin(chars, &mut tries, max_tries, &mut still_fails).concat();
        if current.len() == before || tries >= max_tries {
            return current;
        }
    }
}

/// Greedy ddmin over pieces: try removing chunks of halving size; keep any removal that still fails.
fn ddmin(
    mut pieces: Vec<String>,
    tries: &mut usize,
    max_tries: usize,
    still_fails: &mut impl FnMut(&str) -> bool,
) -> Vec<String> {
    let mut chunk = pieces.len().div_ceil(2).max(1);
    loop {
        let mut i = 0;
        let mut removed_any = false;
        while i < pieces.len() {
            if *tries >= max_tries {
                return pieces;
            }
            let end = (i + chunk).min(pieces.len());
            let candidate: String = pieces[..i].concat() + &pieces[end..].concat();
            *tries += 1;
            if still_fails(&candidate) {
                pieces.drain(i..end);
                removed_any = true;
            } else {
                i += chunk;
            }
        }
        if chunk == 1 && !removed_any {
            return pieces;
        }
        if chunk > 1 {
            chunk = chunk.div_ceil(2);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shrinks_to_the_part_that_matters() {
        let src = "select a, b, c from t where x = 1 and bad_thing and y = 2";
        let out = minimise(src, 10_000, |s| s.contains("bad_thing"));
        assert_eq!(out, "bad_thing");
    }

    #[test]
    fn keeps_the_input_when_nothing_can_go() {
        let out = minimise("ab", 100, |s| s == "ab");
        assert_eq!(out, "ab");
    }
}
