//! The languages pages are translated into (one folder of `.ftl` files each under
//! `locales/`), and choosing one for a request: a guest's locale (`de-DE`), a `?lang=`
//! override (`fr`, `fr-FR`), a browser's `Accept-Language`; English when none has a
//! translation.

use std::fmt;

use fluent_langneg::{NegotiationStrategy, negotiate_languages};
use serde::{Serialize, Serializer};
use unic_langid::LanguageIdentifier;

use super::files::LOCALES;

/// A language that pages have a translation for (the name of its folder under `locales/`).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Lang(&'static str);

impl Lang {
    /// English: the language every translation falls back to.
    pub const ENGLISH: Lang = Lang("en");

    /// Every language with a translation, in folder order.
    pub fn all() -> impl Iterator<Item = Lang> {
        LOCALES.iter().map(|(code, _)| Lang(code))
    }

    /// The language's code, as in `<html lang>` (`en`, `fr`, ...).
    pub fn as_str(self) -> &'static str {
        self.0
    }

    /// The translation that suits a language tag: `de`, `de-DE`, `de_CH` and `DE` are German;
    /// a tag without a translation (or not a tag) is `None`.
    pub fn negotiate(tag: &str) -> Option<Lang> {
        let requested: LanguageIdentifier = tag.trim().replace('_', "-").parse().ok()?;
        best(&[requested])
    }

    /// The first language of an `Accept-Language` header that has a translation (in the
    /// header's order; weights are not reordered).
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        let requested: Vec<LanguageIdentifier> = header
            .split(',')
            .filter_map(|part| part.split(';').next())
            .filter_map(|tag| tag.trim().parse().ok())
            .collect();
        best(&requested)
    }

    /// The first of `tags` that has a translation, else English.
    pub fn first_of<'a>(tags: impl IntoIterator<Item = Option<&'a str>>) -> Lang {
        tags.into_iter()
            .flatten()
            .find_map(Lang::negotiate)
            .unwrap_or(Lang::ENGLISH)
    }
}

fn best(requested: &[LanguageIdentifier]) -> Option<Lang> {
    let available: Vec<LanguageIdentifier> = LOCALES
        .iter()
        .filter_map(|(code, _)| code.parse().ok())
        .collect();
    let chosen = negotiate_languages(requested, &available, None, NegotiationStrategy::Lookup);
    let code = chosen.first()?.to_string();
    Lang::all().find(|l| l.0 == code)
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl fmt::Debug for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Lang({})", self.0)
    }
}

impl Serialize for Lang {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_locale_finds_its_language() {
        let code = |tag: &str| Lang::negotiate(tag).map(Lang::as_str);
        assert_eq!(code("de-DE"), Some("de"));
        assert_eq!(code("fr-FR"), Some("fr"));
        assert_eq!(code("fr_CA"), Some("fr"));
        assert_eq!(code("ES"), Some("es"));
        assert_eq!(code("en-GB"), Some("en"));
        assert_eq!(code("ja-JP"), None);
        assert_eq!(code("not a tag"), None);
        assert_eq!(code(""), None);
    }

    #[test]
    fn the_first_translated_language_wins_and_english_is_the_default() {
        assert_eq!(
            Lang::first_of([None, Some("ja"), Some("de-AT")]).as_str(),
            "de"
        );
        assert_eq!(Lang::first_of([Some("x-klingon"), None]), Lang::ENGLISH);
        assert_eq!(
            Lang::from_accept_language("de-CH,de;q=0.9").map(Lang::as_str),
            Some("de")
        );
        assert_eq!(
            Lang::from_accept_language("ja, es;q=0.5").map(Lang::as_str),
            Some("es")
        );
        assert_eq!(Lang::from_accept_language("ja"), None);
        assert_eq!(Lang::from_accept_language(""), None);
    }

    #[test]
    fn every_folder_is_a_language() {
        let all: Vec<&str> = Lang::all().map(Lang::as_str).collect();
        for code in ["en", "fr", "de", "es"] {
            assert!(all.contains(&code), "{all:?}");
        }
        for code in all {
            assert_eq!(Lang::negotiate(code).map(Lang::as_str), Some(code));
        }
    }
}
