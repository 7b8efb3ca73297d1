//! What the preference page and the unsubscribe page show (their templates' contexts in
//! `herald::pages`: `guest/preferences.html`, `guest/unsubscribe.html`).

use std::collections::BTreeMap;

use herald::consent::Preferences;
use herald::domain::{Channel, TemplateCategory};
use herald::pages::{Arg, Lang, translate};
use serde::Serialize;

use super::preference_form::{FieldError, PreferenceForm, box_value};

/// Who the page is for and whose messages it is about.
pub struct Guest<'a> {
    pub tenant: &'a str,
    pub whose: &'a str,
    /// The channels the guest can be reached on (the only ones the pages offer).
    pub reachable: &'a [Channel],
}

#[derive(Serialize)]
struct Status {
    heading: String,
    text: String,
}

#[derive(Serialize)]
struct ErrorLine {
    field: &'static str,
    message: String,
}

#[derive(Serialize)]
struct CheckBox {
    id: String,
    value: String,
    category: TemplateCategory,
    checked: bool,
}

#[derive(Serialize)]
struct ChannelBoxes {
    channel: Channel,
    boxes: Vec<CheckBox>,
}

#[derive(Serialize)]
pub struct PreferencePage<'a> {
    tenant: &'a str,
    whose: &'a str,
    action: &'a str,
    status: Option<Status>,
    errors: Vec<ErrorLine>,
    field_errors: BTreeMap<&'static str, String>,
    channels: Vec<ChannelBoxes>,
    cap_max: &'a str,
    cap_per: &'a str,
    quiet_start: &'a str,
    quiet_end: &'a str,
    time_zone: &'a str,
    unsubscribe_all: bool,
}

/// The preference page: `form` as saved or as typed, its `errors`, and whether it was just
/// saved.
pub fn preference_page<'a>(
    lang: Lang,
    guest: &Guest<'a>,
    form: &'a PreferenceForm,
    errors: &[FieldError],
    saved: bool,
    action: &'a str,
) -> PreferencePage<'a> {
    let errors: Vec<ErrorLine> = errors
        .iter()
        .map(|e| ErrorLine {
            field: e.field,
            message: translate(lang, e.message, &[("max", herald::consent::MAX_CAP.into())]),
        })
        .collect();
    // A field with two problems shows the first.
    let mut field_errors = BTreeMap::new();
    for e in &errors {
        field_errors
            .entry(e.field)
            .or_insert_with(|| e.message.clone());
    }
    let channels = guest
        .reachable
        .iter()
        .map(|channel| ChannelBoxes {
            channel: *channel,
            boxes: TemplateCategory::ALL
                .iter()
                .map(|category| {
                    let value = box_value(*category, *channel);
                    CheckBox {
                        id: format!("sub-{category}-{channel}"),
                        checked: form.subscribed.contains(&value),
                        value,
                        category: *category,
                    }
                })
                .collect(),
        })
        .collect();
    PreferencePage {
        tenant: guest.tenant,
        whose: guest.whose,
        action,
        status: saved.then(|| Status {
            heading: translate(lang, "preferences-saved", &[]),
            text: translate(lang, "preferences-saved-text", &[]),
        }),
        errors,
        field_errors,
        channels,
        cap_max: &form.cap_max,
        cap_per: &form.cap_per,
        quiet_start: &form.quiet_start,
        quiet_end: &form.quiet_end,
        time_zone: &form.time_zone,
        unsubscribe_all: form.unsubscribe_all,
    }
}

#[derive(Serialize)]
pub struct UnsubscribePage<'a> {
    tenant: &'a str,
    whose: &'a str,
    done: bool,
    just_done: bool,
    what: String,
    still: Vec<String>,
    action: &'a str,
    preferences_url: &'a str,
}

/// Whether the link's unsubscribe (from `target`, else from everything) is in effect.
pub fn is_unsubscribed(prefs: &Preferences, target: Option<(TemplateCategory, Channel)>) -> bool {
    match target {
        Some((category, channel)) => !prefs.allows(category, channel),
        None => prefs.unsubscribed,
    }
}

/// The preferences once the link's unsubscribe is done.
pub fn after_unsubscribe(
    prefs: &Preferences,
    target: Option<(TemplateCategory, Channel)>,
) -> Preferences {
    match target {
        Some((category, channel)) => prefs.without(category, channel),
        None => Preferences {
            unsubscribed: true,
            ..prefs.clone()
        },
    }
}

/// The unsubscribe page: the unsubscribe to confirm, or (once done) what it stopped; either
/// way what the guest still receives. `just_done`: by this request or the one redirected here.
pub fn unsubscribe_page<'a>(
    lang: Lang,
    guest: &Guest<'a>,
    prefs: &Preferences,
    target: Option<(TemplateCategory, Channel)>,
    just_done: bool,
    action: &'a str,
    preferences_url: &'a str,
) -> UnsubscribePage<'a> {
    let done = is_unsubscribed(prefs, target);
    let tenant: Arg = guest.tenant.into();
    let what = match target {
        Some((category, channel)) => translate(
            lang,
            if done {
                "unsubscribed-text"
            } else {
                "unsubscribe-will-stop"
            },
            &[
                ("category", category_label(lang, category).into()),
                (
                    "channel",
                    translate(lang, &format!("channel-by-{channel}"), &[]).into(),
                ),
                ("tenant", tenant),
            ],
        ),
        None => translate(
            lang,
            if done {
                "unsubscribed-text-all"
            } else {
                "unsubscribe-will-stop-all"
            },
            &[("tenant", tenant)],
        ),
    };
    let after = if done {
        prefs.clone()
    } else {
        after_unsubscribe(prefs, target)
    };
    UnsubscribePage {
        tenant: guest.tenant,
        whose: guest.whose,
        done,
        just_done: done && just_done,
        what,
        still: still_receives(lang, &after, guest.reachable, target),
        action,
        preferences_url,
    }
}

fn category_label(lang: Lang, category: TemplateCategory) -> String {
    translate(lang, &format!("category-{category}"), &[])
}

/// One line per channel the guest still receives something on: all of it, all but what the
/// link unsubscribed from, or the categories by name.
fn still_receives(
    lang: Lang,
    prefs: &Preferences,
    reachable: &[Channel],
    target: Option<(TemplateCategory, Channel)>,
) -> Vec<String> {
    let mut lines = Vec::new();
    for channel in reachable {
        let allowed: Vec<TemplateCategory> = TemplateCategory::ALL
            .iter()
            .copied()
            .filter(|c| prefs.allows(*c, *channel))
            .collect();
        if allowed.is_empty() {
            continue;
        }
        let name: Arg = translate(lang, &format!("channel-{channel}"), &[]).into();
        let all_but_target = target.is_some_and(|(category, ch)| {
            ch == *channel
                && allowed.len() + 1 == TemplateCategory::ALL.len()
                && !allowed.contains(&category)
        });
        let line = if allowed.len() == TemplateCategory::ALL.len() {
            translate(lang, "unsubscribe-still-all", &[("channel", name)])
        } else if all_but_target {
            translate(lang, "unsubscribe-still-all-other", &[("channel", name)])
        } else {
            let categories = allowed
                .iter()
                .map(|c| category_label(lang, *c))
                .collect::<Vec<_>>()
                .join(", ");
            translate(
                lang,
                "unsubscribe-still-some",
                &[("channel", name), ("categories", categories.into())],
            )
        };
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use herald::consent::OptOut;

    use super::*;

    fn render<C: Serialize>(page: &str, lang: &str, context: C) -> String {
        let lang = Lang::negotiate(lang).unwrap_or(Lang::ENGLISH);
        herald::pages::render(page, lang, context).unwrap_or_else(|e| panic!("{e:?}"))
    }

    const EMAIL_ONLY: Guest<'static> = Guest {
        tenant: "Acme <&>",
        whose: "a•••@example.com",
        reachable: &[Channel::Email],
    };

    #[test]
    fn the_preference_page_offers_reachable_channels_and_shows_every_error() {
        let form = PreferenceForm::parse(b"cap_max=many&cap_per=day&quiet_start=22%3A00");
        let errors = form
            .check(&[Channel::Email], &Preferences::default())
            .err()
            .unwrap_or_default();
        let fr = Lang::negotiate("fr").unwrap_or(Lang::ENGLISH);
        let context = preference_page(fr, &EMAIL_ONLY, &form, &errors, false, "/preferences/t");
        let html = render("guest/preferences.html", "fr", context);
        assert!(html.contains("<html lang=\"fr\">"), "{html}");
        assert!(html.contains("Acme &lt;&amp;&gt;"), "{html}");
        assert!(html.contains("Pour a•••@example.com"), "{html}");
        assert!(html.contains("<legend>E-mail</legend>"), "{html}");
        assert!(!html.contains("<legend>SMS</legend>"), "{html}");
        assert!(html.contains("<title>Erreur : "), "{html}");
        for field in ["cap_max", "quiet_end", "time_zone"] {
            assert!(
                html.contains(&format!("href=\"#{field}\"")),
                "{field}: {html}"
            );
            assert!(
                html.contains(&format!("id=\"{field}-error\"")),
                "{field}: {html}"
            );
        }
        assert!(html.contains("value=\"many\""), "the input is kept: {html}");
        assert!(html.contains("aria-invalid=\"true\" aria-describedby=\"cap_max-error\""));
        assert!(html.contains("aria-describedby=\"time_zone-hint time_zone-error\""));
        assert!(html.contains("tabindex=\"-1\" autofocus"), "{html}");
        assert!(
            html.contains("Au plus ce nombre de messages : saisissez"),
            "{html}"
        );
    }

    #[test]
    fn a_saved_page_says_so_in_its_title_heading_and_status() {
        let form = PreferenceForm::of(&Preferences::default());
        let de = Lang::negotiate("de").unwrap_or(Lang::ENGLISH);
        let context = preference_page(de, &EMAIL_ONLY, &form, &[], true, "/p");
        let html = render("guest/preferences.html", "de", context);
        assert!(
            html.contains("<title>Ihre Einstellungen sind gespeichert – "),
            "{html}"
        );
        assert!(html.contains("role=\"status\""), "{html}");
        assert!(
            html.contains("value=\"invitation#email\" checked"),
            "{html}"
        );
    }

    #[test]
    fn the_unsubscribe_page_says_what_stops_and_what_stays() {
        let both = Guest {
            reachable: Channel::ALL,
            ..EMAIL_ONLY
        };
        let mut prefs = Preferences::default();
        prefs.opt_outs.push(OptOut {
            channel: Channel::Whatsapp,
            category: Some(TemplateCategory::Survey),
        });
        let target = Some((TemplateCategory::Invitation, Channel::Email));
        let en = Lang::ENGLISH;
        let before = unsubscribe_page(en, &both, &prefs, target, false, "/u", "/p");
        assert!(!before.done);
        assert_eq!(
            before.what,
            "You will no longer receive “Invitations” messages by email from Acme <&>."
        );
        assert_eq!(before.still[0], "Email: all other messages");
        assert_eq!(before.still[1], "Text messages (SMS): all messages");
        assert!(before.still[2].starts_with("WhatsApp: Save the date, Invitations"));
        assert!(!before.still[2].contains("Surveys"));
        let html = render("guest/unsubscribe.html", "en", &before);
        let button = html.find("<button").unwrap_or(usize::MAX);
        assert!(
            html.find("<a ").is_some_and(|a| a > button),
            "the button comes first: {html}"
        );

        let after = after_unsubscribe(&prefs, target);
        let done = unsubscribe_page(en, &both, &after, target, true, "/u", "/p");
        assert!(done.done && done.just_done);
        let html = render("guest/unsubscribe.html", "en", &done);
        assert!(html.contains("<title>You are unsubscribed – "), "{html}");
        assert!(html.contains("role=\"status\""), "{html}");
        assert!(!html.contains("<button"), "{html}");

        let everything = after_unsubscribe(&prefs, None);
        let all = unsubscribe_page(en, &both, &everything, None, false, "/u", "/p");
        assert!(all.done && !all.just_done && all.still.is_empty());
        let html = render("guest/unsubscribe.html", "es", &all);
        assert!(html.contains("no te enviará ningún mensaje"), "{html}");
    }
}
