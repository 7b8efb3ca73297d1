//! The template environment: every embedded template, HTML auto-escaping (by the `.html`
//! extension), an error on printing an undefined value, and the `t` function.

use std::sync::OnceLock;

use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind, State, UndefinedBehavior, context};
use serde::Serialize;

use super::files::{LOCALES, TEMPLATES};
use super::i18n::{self, Arg, Catalogue, Sources};
use super::lang::Lang;

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = base(&[]);
        env.add_function("t", |state: &State, id: &str, kwargs: Kwargs| {
            t(i18n::pages(), state, id, kwargs)
        });
        env
    })
}

/// The templates (this crate's and `extra`), escaping and strictness of every environment.
fn base(extra: &'static [(&'static str, &'static str)]) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
    // Templates are trusted files of their crate; their syntax is tested.
    for (name, source) in TEMPLATES.iter().chain(extra) {
        if let Err(e) = env.add_template(name, source) {
            tracing::error!(template = name, error = %e, "template does not parse");
        }
    }
    env
}

/// A template environment with this crate's templates and `extra` ones (a front end's own
/// pages, embedded in its binary, such as the console's), the same escaping and strictness,
/// and `t` translating from this crate's catalogues and `locales` (the front end's own `.ftl`
/// files, by language) together.
pub fn environment_with(
    extra: &'static [(&'static str, &'static str)],
    locales: &'static Sources,
) -> Environment<'static> {
    let catalogue = Catalogue::new([LOCALES, locales]);
    let mut env = base(extra);
    env.add_function("t", move |state: &State, id: &str, kwargs: Kwargs| {
        t(&catalogue, state, id, kwargs)
    });
    env
}

/// `t("message-id", name=value, ...)`: the message in the page's language (`lang` of the
/// context). A message no language has is an error, so a typo fails the page's test.
fn t(catalogue: &Catalogue, state: &State, id: &str, kwargs: Kwargs) -> Result<String, Error> {
    let lang = state
        .lookup("lang")
        .and_then(|v| v.as_str().and_then(Lang::negotiate))
        .unwrap_or(Lang::ENGLISH);
    let mut args: Vec<(&str, Arg)> = Vec::new();
    for name in kwargs.args() {
        let value: Value = kwargs.get(name)?;
        let arg = match value.kind() {
            ValueKind::Number => match f64::try_from(value.clone()) {
                Ok(n) => Arg::Number(n),
                Err(_) => Arg::Text(value.to_string()),
            },
            _ => Arg::Text(value.to_string()),
        };
        args.push((name, arg));
    }
    kwargs.assert_all_used()?;
    catalogue.lookup(lang, id, &args).ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("no translation has the message {id:?}"),
        )
    })
}

pub(super) fn render<C: Serialize>(page: &str, lang: Lang, context: C) -> Result<String, Error> {
    let template = environment().get_template(page)?;
    template
        .render(context! { lang => lang.as_str(), ..Value::from(minijinja::value::Serde(context)) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        for (name, _) in TEMPLATES {
            assert!(environment().get_template(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn values_are_escaped_and_translated() {
        let fr = Lang::negotiate("fr").unwrap_or(Lang::ENGLISH);
        let html = render(
            "guest/link_refused.html",
            fr,
            context! { reason => "expired" },
        )
        .unwrap_or_else(|e| panic!("{e:#}"));
        assert!(html.contains("<html lang=\"fr\">"), "{html}");
        assert!(html.contains("Ce lien a expiré"), "{html}");
        let status = render(
            "partials/status.html",
            fr,
            context! { status => context! { heading => "<script>x</script>", text => "a & b" } },
        )
        .unwrap_or_else(|e| panic!("{e:#}"));
        assert!(
            status.contains("&lt;script&gt;x&lt;&#x2f;script&gt;"),
            "{status}"
        );
        assert!(status.contains("a &amp; b"), "{status}");
        assert!(!status.contains("<script>"), "{status}");
    }

    #[test]
    fn an_unknown_message_or_value_fails_the_page() {
        let env = environment_with(&[], &[]);
        let missing = env.render_str("{{ t('no-such-message') }}", context! { lang => "en" });
        assert!(missing.is_err());
        let undefined = env.render_str("{{ nothing }}", context! {});
        // A front end's own catalogue is looked up with the pages'.
        static MORE: &Sources = &[("en", &[("more.ftl", "more-hello = Hello { $who }")])];
        let more = environment_with(&[], MORE);
        let both = more.render_str(
            "{{ t('more-hello', who='Ada') }} / {{ t('page-whose', name='Ana') }}",
            context! { lang => "en" },
        );
        assert!(both.is_ok_and(|s| s.starts_with("Hello Ada / ") && s.contains("Ana")));
        assert!(undefined.is_err());
        let found = env.render_str(
            "{{ t('page-whose', name=n) }}",
            context! { lang => "es", n => "Ana" },
        );
        assert!(found.is_ok_and(|s| s.contains("Ana")));
    }
}
