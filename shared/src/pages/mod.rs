//! Server-rendered pages, made one way: minijinja templates (`templates/`, HTML-escaped by
//! default) and Fluent translations (`locales/{lang}/*.ftl`), both embedded in the binary at
//! compile time by `build.rs` (nothing is read from disk at run time). The guest pages of the
//! API (preferences, unsubscribe, RSVP) and the console render through here.
//!
//! - [`render`] renders a named page (`guest/preferences.html`) with a serializable context
//!   in a [`Lang`]; templates translate with `t("message-id", name=value, ...)`.
//! - [`Lang`] chooses the language: `Lang::negotiate("de-DE")` is German,
//!   `Lang::first_of([query, link, ...])` takes the first with a translation, else English.
//! - [`translate`] gives a message in Rust (for text computed by a handler, such as a form's
//!   errors).
//! - [`CONTENT_SECURITY_POLICY`] is the header every page is served with.
//!
//! Templates: `base.html` (the layout: `{% extends "base.html" %}`, blocks `title` and
//! `main`), `partials/error_summary.html` (`errors`: `[{field, message}]`),
//! `partials/status.html` (`status`: `{heading, text}`), `partials/fields.html` (macros for
//! labelled inputs that show their error). Adding a language is adding a folder of `.ftl`
//! files with the same messages as `locales/en`.

mod files {
    include!(concat!(env!("OUT_DIR"), "/pages_files.rs"));
}
mod env;
mod i18n;
mod lang;

use serde::Serialize;

pub use env::environment_with;
pub use i18n::{Arg, Catalogue, Sources, lookup, translate};
pub use lang::Lang;

/// What every page is served with: no script, no outside resource, forms post only to Herald,
/// never framed.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'";

/// A page that does not render: a template bug (the tests render every page).
#[derive(Debug, thiserror::Error)]
#[error("page {page} does not render")]
pub struct PageError {
    page: String,
    #[source]
    source: minijinja::Error,
}

/// Renders `page` (a template's name, e.g. `guest/preferences.html`) with `context` in
/// `lang`; the template sees the context's fields and `lang`.
pub fn render<C: Serialize>(page: &str, lang: Lang, context: C) -> Result<String, PageError> {
    env::render(page, lang, context).map_err(|source| PageError {
        page: page.to_owned(),
        source,
    })
}

/// The names of every template (pages and partials).
pub fn templates() -> impl Iterator<Item = &'static str> {
    files::TEMPLATES.iter().map(|(name, _)| *name)
}
