//! Translations: one Fluent bundle per language folder (every `.ftl` file in it), built once
//! per process from the embedded sources. A message missing from a language is taken from
//! English; the tests below keep every language complete.

use std::collections::HashMap;
use std::sync::OnceLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};

use super::files::LOCALES;
use super::lang::Lang;

type Bundle = FluentBundle<FluentResource>;

/// A value to put in a translation (`{ $name }`): text, or a number (which plural forms
/// select on).
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Text(String),
    Number(f64),
}

impl From<&str> for Arg {
    fn from(s: &str) -> Self {
        Arg::Text(s.to_owned())
    }
}

impl From<String> for Arg {
    fn from(s: String) -> Self {
        Arg::Text(s)
    }
}

impl From<u32> for Arg {
    fn from(n: u32) -> Self {
        Arg::Number(f64::from(n))
    }
}

impl From<i64> for Arg {
    fn from(n: i64) -> Self {
        // Counts on a page are far below 2^53.
        Arg::Number(n as f64)
    }
}

/// Translations: one Fluent bundle per language, from `.ftl` sources (the pages' own, and a
/// front end's added to them: see [`super::environment_with`]).
pub struct Catalogue {
    bundles: HashMap<&'static str, Bundle>,
}

/// Sources by language: `(language, [(file name, Fluent source)])`.
pub type Sources = [(&'static str, &'static [(&'static str, &'static str)])];

impl Catalogue {
    /// A bundle per language of `sources`; a language named twice gets both lists' files.
    pub fn new<'a>(sources: impl IntoIterator<Item = &'a Sources>) -> Self {
        let mut files: HashMap<&'static str, Vec<(&'static str, &'static str)>> = HashMap::new();
        for list in sources {
            for (code, those) in list {
                files.entry(code).or_default().extend(those.iter().copied());
            }
        }
        Self {
            bundles: files
                .into_iter()
                .map(|(code, files)| (code, bundle(code, &files)))
                .collect(),
        }
    }

    /// The translation of message `id` in `lang` (English when `lang` lacks it), `None` when
    /// no language has it.
    pub fn lookup(&self, lang: Lang, id: &str, args: &[(&str, Arg)]) -> Option<String> {
        let bundle = [lang.as_str(), Lang::ENGLISH.as_str()]
            .iter()
            .filter_map(|code| self.bundles.get(code))
            .find(|b| b.has_message(id))?;
        let pattern = bundle.get_message(id)?.value()?;
        let mut fluent_args = FluentArgs::new();
        for (name, value) in args {
            let value = match value {
                Arg::Text(s) => FluentValue::from(s.as_str()),
                Arg::Number(n) => FluentValue::from(*n),
            };
            fluent_args.set(*name, value);
        }
        let mut errors = Vec::new();
        let text = bundle.format_pattern(pattern, Some(&fluent_args), &mut errors);
        if !errors.is_empty() {
            tracing::warn!(language = %lang, message = id, errors = ?errors, "translation needs an argument it was not given");
        }
        Some(text.into_owned())
    }
}

/// The pages' own translations, built once per process.
pub(super) fn pages() -> &'static Catalogue {
    static PAGES: OnceLock<Catalogue> = OnceLock::new();
    PAGES.get_or_init(|| Catalogue::new([LOCALES]))
}

fn bundle(code: &str, files: &[(&str, &str)]) -> Bundle {
    let id = code.parse().unwrap_or_default();
    let mut bundle = Bundle::new_concurrent(vec![id]);
    // No Unicode isolation marks around values: pages are left-to-right, and the marks
    // would end up in titles and form values.
    bundle.set_use_isolating(false);
    for (name, source) in files {
        // A file with syntax errors still gives its good messages (the tests refuse it).
        let resource = FluentResource::try_new((*source).to_owned()).unwrap_or_else(|(r, e)| {
            tracing::error!(language = code, file = name, errors = ?e, "translation file does not parse");
            r
        });
        bundle.add_resource_overriding(resource);
    }
    bundle
}

/// The translation of message `id` in `lang` (English when `lang` lacks it), `None` when no
/// language has it.
pub fn lookup(lang: Lang, id: &str, args: &[(&str, Arg)]) -> Option<String> {
    pages().lookup(lang, id, args)
}

/// As [`lookup`], the message id itself when no language has it (a page never fails on a
/// missing translation; the tests find them).
pub fn translate(lang: Lang, id: &str, args: &[(&str, Arg)]) -> String {
    lookup(lang, id, args).unwrap_or_else(|| id.to_owned())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// The message ids of a language's files (lines `id = ...` outside comments).
    fn ids(files: &[(&str, &str)]) -> BTreeSet<String> {
        files
            .iter()
            .flat_map(|(_, source)| source.lines())
            .filter(|l| l.starts_with(|c: char| c.is_ascii_alphabetic()))
            .filter_map(|l| l.split_once('=').map(|(id, _)| id.trim().to_owned()))
            .collect()
    }

    #[test]
    fn every_file_parses_and_every_language_has_every_message() {
        let english = LOCALES
            .iter()
            .find(|(code, _)| *code == "en")
            .map(|(_, files)| ids(files))
            .unwrap_or_default();
        assert!(english.len() > 20, "{english:?}");
        for (code, files) in LOCALES {
            for (name, source) in *files {
                if let Err((_, errors)) = FluentResource::try_new((*source).to_owned()) {
                    panic!("{code}/{name}: {errors:?}");
                }
            }
            let theirs = ids(files);
            let missing: Vec<_> = english.difference(&theirs).collect();
            let extra: Vec<_> = theirs.difference(&english).collect();
            assert!(missing.is_empty(), "{code} lacks {missing:?}");
            assert!(
                extra.is_empty(),
                "{code} has messages English lacks: {extra:?}"
            );
        }
    }

    #[test]
    fn arguments_and_fallbacks() {
        let de = Lang::negotiate("de").unwrap_or(Lang::ENGLISH);
        let text = translate(de, "page-whose", &[("name", "Léa <M>".into())]);
        assert!(text.contains("Léa <M>"), "{text}");
        assert!(!text.contains('\u{2068}'), "no isolation marks: {text:?}");
        assert_eq!(translate(de, "no-such-message", &[]), "no-such-message");
        assert_eq!(lookup(de, "no-such-message", &[]), None);
    }
}
