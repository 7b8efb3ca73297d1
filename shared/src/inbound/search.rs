//! Words for search: Unicode-aware, accent- and case-insensitive.
//!
//! Both sides of a search go through [`words`]: a message's text when it is indexed and the
//! words a person types. Letters are decomposed (NFKD), their combining marks dropped and the
//! rest lower-cased, so `Café`, `CAFE` and `cafe` are one word; anything that is neither a
//! letter nor a digit separates words (`e-mail` is `e` and `mail`, in the index and in the
//! query alike).

use std::collections::HashSet;

use unicode_normalization::char::{decompose_compatible, is_combining_mark};

/// The folded form of `text`: decomposed, marks dropped, lower case. ASCII (most of most
/// mail) is lower-cased as it is; other characters are decomposed one by one, which gives what
/// decomposing the whole text (NFKD) gives, since canonical reordering moves only the
/// combining marks that are dropped.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
            continue;
        }
        decompose_compatible(c, |d| {
            if !is_combining_mark(d) {
                out.extend(d.to_lowercase());
            }
        });
    }
    out
}

/// The folded words of `text`, in order (repeats kept).
pub fn words(text: &str) -> Vec<String> {
    fold(text)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The longest word the index keeps (longer runs are cut: a pasted URL or a token).
pub const MAX_WORD: usize = 40;

/// The distinct folded words of `texts` as one space-separated string with a space at each
/// end, the form a search's `contains(" word ")` matches whole words in; at most `budget`
/// bytes (the first words win).
pub fn index_text<'a>(texts: impl IntoIterator<Item = &'a str>, budget: usize) -> String {
    let mut seen: HashSet<String> = HashSet::new();
    let mut out = String::from(" ");
    for text in texts {
        let folded = fold(text);
        for word in folded.split(|c: char| !c.is_alphanumeric()) {
            if word.is_empty() {
                continue;
            }
            let word = match word.char_indices().nth(MAX_WORD) {
                Some((cut, _)) => &word[..cut],
                None => word,
            };
            if out.len() + word.len() + 1 > budget {
                return out;
            }
            if !seen.contains(word) {
                seen.insert(word.to_owned());
                out.push_str(word);
                out.push(' ');
            }
        }
    }
    out
}

/// Adds the words of `text` to an existing index string, within `budget` bytes.
pub fn extend_index(index: &str, text: &str, budget: usize) -> String {
    let existing = index.split(' ').filter(|w| !w.is_empty());
    index_text(existing.chain(std::iter::once(text)), budget)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accents_case_and_width_fold_away() {
        assert_eq!(
            words("Café CRÈME, s'il vous plaît!"),
            ["cafe", "creme", "s", "il", "vous", "plait"]
        );
        assert_eq!(words("Ｆｕｌｌ width"), ["full", "width"]);
        assert_eq!(words("Straße Ærø"), ["straße", "ærø"]);
        assert_eq!(words("Ελληνικά 日本語"), ["ελληνικα", "日本語"]);
    }

    #[test]
    fn folding_char_by_char_is_folding_the_decomposed_text() {
        use unicode_normalization::UnicodeNormalization as _;
        for text in [
            "Café CRÈME, s'il vous plaît!",
            "Ｆｕｌｌ width ﬁ ligature ① ㎏",
            "Straße Ærø İstanbul ΣΊΣΥΦΟΣ",
            "한국어 텍스트 日本語 ｶﾀｶﾅ",
            "e\u{301}\u{323} a\u{323}\u{301} Ǆ ǅ",
            "Ελληνικά ῶ ᾯ",
            "emoji 👍🏽 and ZWJ 👩‍👩‍👧",
        ] {
            let whole: String = text
                .nfkd()
                .filter(|c| !is_combining_mark(*c))
                .flat_map(char::to_lowercase)
                .collect();
            assert_eq!(fold(text), whole, "{text}");
        }
    }

    #[test]
    fn the_index_holds_each_word_once_within_its_budget() {
        let index = index_text(["Merci pour le café", "le CAFÉ était bon"], 1000);
        assert_eq!(index, " merci pour le cafe etait bon ");
        assert!(index.contains(" cafe "));
        let small = index_text(["alpha beta gamma"], 12);
        assert_eq!(small, " alpha beta ");
        assert_eq!(
            extend_index(&small, "Beta delta", 100),
            " alpha beta delta "
        );
    }
}
