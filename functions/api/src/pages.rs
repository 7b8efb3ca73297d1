//! The guest's preference page: server-rendered HTML, usable without JavaScript, in the
//! guest's language where Herald has a translation (English otherwise).
//!
//! Accessibility: the document names its language, every control has a label, each channel
//! is a fieldset with a legend, the outcome of a save is announced (`role="status"`), colours
//! meet WCAG AA contrast, and the layout reflows on small screens.

use herald::consent::{FrequencyCap, OptOut, Preferences, QuietHours};
use herald::domain::{CapPeriod, Channel, TemplateCategory};

/// The strings of one language.
pub struct Texts {
    pub lang: &'static str,
    title: &'static str,
    intro: &'static str,
    channels: [&'static str; 3],
    categories: [&'static str; 10],
    everything: &'static str,
    everything_hint: &'static str,
    cap: &'static str,
    cap_none: &'static str,
    cap_max: &'static str,
    per: [&'static str; 2],
    quiet: &'static str,
    quiet_hint: &'static str,
    quiet_from: &'static str,
    quiet_to: &'static str,
    time_zone: &'static str,
    save: &'static str,
    saved: &'static str,
    unsubscribed_from: &'static str,
    expired: &'static str,
    invalid: &'static str,
    gone: &'static str,
    error: &'static str,
}

const EN: Texts = Texts {
    lang: "en",
    title: "Your message preferences",
    intro: "Choose which messages you receive from {tenant}, and how.",
    channels: ["Email", "Text messages (SMS)", "WhatsApp"],
    categories: [
        "Save the date",
        "Invitations",
        "RSVP confirmations",
        "Reminders",
        "Schedule changes",
        "Logistics",
        "On the day",
        "Thank-you messages",
        "Surveys",
        "Cancellations",
    ],
    everything: "Unsubscribe from everything",
    everything_hint: "You will receive no messages at all, whatever is ticked above.",
    cap: "How often",
    cap_none: "No limit",
    cap_max: "At most this many messages",
    per: ["per day", "per week"],
    quiet: "Quiet hours",
    quiet_hint: "Messages due in these hours wait until they end. Leave empty for none.",
    quiet_from: "From",
    quiet_to: "Until",
    time_zone: "Time zone",
    save: "Save my preferences",
    saved: "Your preferences are saved.",
    unsubscribed_from: "You are unsubscribed from: {what}.",
    expired: "This link has expired. Use the link in a more recent message.",
    invalid: "This link is not valid. Use the link in one of your messages.",
    gone: "There is nothing to manage for this link any more.",
    error: "Please check the form",
};

const FR: Texts = Texts {
    lang: "fr",
    title: "Vos préférences de messages",
    intro: "Choisissez les messages que vous recevez de {tenant}, et comment.",
    channels: ["E-mail", "SMS", "WhatsApp"],
    categories: [
        "Réservez la date",
        "Invitations",
        "Confirmations de réponse",
        "Rappels",
        "Changements de programme",
        "Informations pratiques",
        "Le jour J",
        "Remerciements",
        "Questionnaires",
        "Annulations",
    ],
    everything: "Me désabonner de tout",
    everything_hint: "Vous ne recevrez plus aucun message, quels que soient les choix ci-dessus.",
    cap: "Fréquence",
    cap_none: "Sans limite",
    cap_max: "Au plus ce nombre de messages",
    per: ["par jour", "par semaine"],
    quiet: "Heures calmes",
    quiet_hint: "Les messages prévus pendant ces heures attendent leur fin. Laissez vide pour aucune.",
    quiet_from: "De",
    quiet_to: "À",
    time_zone: "Fuseau horaire",
    save: "Enregistrer mes préférences",
    saved: "Vos préférences sont enregistrées.",
    unsubscribed_from: "Vous êtes désabonné(e) de : {what}.",
    expired: "Ce lien a expiré. Utilisez le lien d’un message plus récent.",
    invalid: "Ce lien n’est pas valide. Utilisez le lien de l’un de vos messages.",
    gone: "Il n’y a plus rien à gérer pour ce lien.",
    error: "Veuillez vérifier le formulaire",
};

const DE: Texts = Texts {
    lang: "de",
    title: "Ihre Nachrichteneinstellungen",
    intro: "Wählen Sie, welche Nachrichten Sie von {tenant} erhalten und wie.",
    channels: ["E-Mail", "SMS", "WhatsApp"],
    categories: [
        "Save the Date",
        "Einladungen",
        "Antwortbestätigungen",
        "Erinnerungen",
        "Programmänderungen",
        "Organisatorisches",
        "Am Veranstaltungstag",
        "Dankesnachrichten",
        "Umfragen",
        "Absagen",
    ],
    everything: "Von allem abmelden",
    everything_hint: "Sie erhalten keine Nachrichten mehr, unabhängig von der Auswahl oben.",
    cap: "Häufigkeit",
    cap_none: "Keine Begrenzung",
    cap_max: "Höchstens so viele Nachrichten",
    per: ["pro Tag", "pro Woche"],
    quiet: "Ruhezeiten",
    quiet_hint: "Nachrichten in diesen Stunden warten bis zu deren Ende. Leer lassen für keine.",
    quiet_from: "Von",
    quiet_to: "Bis",
    time_zone: "Zeitzone",
    save: "Einstellungen speichern",
    saved: "Ihre Einstellungen sind gespeichert.",
    unsubscribed_from: "Sie sind abgemeldet von: {what}.",
    expired: "Dieser Link ist abgelaufen. Nutzen Sie den Link einer neueren Nachricht.",
    invalid: "Dieser Link ist ungültig. Nutzen Sie den Link aus einer Ihrer Nachrichten.",
    gone: "Für diesen Link gibt es nichts mehr zu verwalten.",
    error: "Bitte prüfen Sie das Formular",
};

const ES: Texts = Texts {
    lang: "es",
    title: "Tus preferencias de mensajes",
    intro: "Elige qué mensajes recibes de {tenant} y cómo.",
    channels: ["Correo electrónico", "SMS", "WhatsApp"],
    categories: [
        "Reserva la fecha",
        "Invitaciones",
        "Confirmaciones de asistencia",
        "Recordatorios",
        "Cambios de programa",
        "Logística",
        "El día del evento",
        "Agradecimientos",
        "Encuestas",
        "Cancelaciones",
    ],
    everything: "Darme de baja de todo",
    everything_hint: "No recibirás ningún mensaje, sea cual sea la selección de arriba.",
    cap: "Frecuencia",
    cap_none: "Sin límite",
    cap_max: "Como máximo este número de mensajes",
    per: ["al día", "a la semana"],
    quiet: "Horas de silencio",
    quiet_hint: "Los mensajes previstos en estas horas esperan a que terminen. Déjalo vacío para ninguna.",
    quiet_from: "Desde",
    quiet_to: "Hasta",
    time_zone: "Zona horaria",
    save: "Guardar mis preferencias",
    saved: "Tus preferencias se han guardado.",
    unsubscribed_from: "Te has dado de baja de: {what}.",
    expired: "Este enlace ha caducado. Usa el enlace de un mensaje más reciente.",
    invalid: "Este enlace no es válido. Usa el enlace de uno de tus mensajes.",
    gone: "Ya no hay nada que gestionar con este enlace.",
    error: "Revisa el formulario",
};

/// The texts of a language code (`en`, `fr`, `de`, `es`; English for any other).
pub fn texts(lang: &str) -> &'static Texts {
    match lang {
        "fr" => &FR,
        "de" => &DE,
        "es" => &ES,
        _ => &EN,
    }
}

/// The first language of an `Accept-Language` header that Herald has texts for.
pub fn accepted_language(header: Option<&str>) -> Option<&'static str> {
    header?
        .split(',')
        .filter_map(|part| part.split(';').next())
        .map(|tag| {
            tag.trim()
                .split('-')
                .next()
                .unwrap_or("")
                .to_ascii_lowercase()
        })
        .find_map(|l| {
            herald::consent::LANGUAGES
                .iter()
                .find(|k| **k == l)
                .copied()
        })
}

fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

impl Texts {
    pub fn category(&self, c: TemplateCategory) -> &'static str {
        let i = TemplateCategory::ALL
            .iter()
            .position(|x| *x == c)
            .unwrap_or(0);
        self.categories[i]
    }

    pub fn channel(&self, c: Channel) -> &'static str {
        let i = Channel::ALL.iter().position(|x| *x == c).unwrap_or(0);
        self.channels[i]
    }
}

/// What the page says above the form.
pub enum Notice {
    None,
    Saved,
    Unsubscribed(TemplateCategory, Channel),
    Errors(Vec<String>),
}

/// A whole page around `main`.
fn document(t: &Texts, main: &str) -> String {
    format!(
        r##"<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<meta name="referrer" content="no-referrer">
<title>{title}</title>
<style>
body{{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;line-height:1.5;color:#1b1f24;background:#fff;margin:0}}
main{{max-width:40rem;margin:0 auto;padding:1.5rem 1rem 3rem}}
h1{{font-size:1.6rem;margin:0 0 .5rem}}
fieldset{{border:1px solid #8c959f;border-radius:.4rem;margin:1.25rem 0;padding:.75rem 1rem}}
legend{{font-weight:600;padding:0 .25rem}}
label{{display:block;margin:.35rem 0}}
input,select,button{{font:inherit}}
input[type=checkbox]{{width:1.1rem;height:1.1rem;vertical-align:-.15rem;margin-right:.4rem}}
.hint{{color:#424a53;font-size:.95rem;margin:.25rem 0}}
.status{{border-left:.3rem solid #1a7f37;background:#dafbe1;padding:.6rem .9rem;margin:1rem 0}}
.problem{{border-left:.3rem solid #cf222e;background:#ffebe9;padding:.6rem .9rem;margin:1rem 0}}
button{{background:#0b57d0;color:#fff;border:0;border-radius:.4rem;padding:.65rem 1.2rem;cursor:pointer}}
button:focus,input:focus,select:focus{{outline:3px solid #0b57d0;outline-offset:2px}}
</style>
</head>
<body>
<main>
{main}
</main>
</body>
</html>
"##,
        lang = t.lang,
        title = esc(t.title),
    )
}

/// A page that only says something (an expired or invalid link).
pub fn message_page(t: &Texts, text: &str) -> String {
    document(
        t,
        &format!(
            "<h1>{}</h1>\n<p role=\"alert\">{}</p>",
            esc(t.title),
            esc(text)
        ),
    )
}

pub fn expired(t: &Texts) -> String {
    message_page(t, t.expired)
}

pub fn invalid(t: &Texts) -> String {
    message_page(t, t.invalid)
}

pub fn gone(t: &Texts) -> String {
    message_page(t, t.gone)
}

/// The preference form, filled with `prefs`; it posts back to `action`.
pub fn preference_page(
    t: &Texts,
    tenant_name: &str,
    prefs: &Preferences,
    action: &str,
    notice: &Notice,
) -> String {
    let mut main = format!(
        "<h1>{}</h1>\n<p>{}</p>\n",
        esc(t.title),
        esc(&t.intro.replace("{tenant}", tenant_name))
    );
    match notice {
        Notice::None => {}
        Notice::Saved => main.push_str(&format!(
            "<p class=\"status\" role=\"status\">{}</p>\n",
            esc(t.saved)
        )),
        Notice::Unsubscribed(category, channel) => main.push_str(&format!(
            "<p class=\"status\" role=\"status\">{}</p>\n",
            esc(&t.unsubscribed_from.replace(
                "{what}",
                &format!("{} ({})", t.category(*category), t.channel(*channel))
            ))
        )),
        Notice::Errors(errors) => {
            main.push_str(&format!(
                "<div class=\"problem\" role=\"alert\"><p>{}:</p><ul>",
                esc(t.error)
            ));
            for e in errors {
                main.push_str(&format!("<li>{}</li>", esc(e)));
            }
            main.push_str("</ul></div>\n");
        }
    }
    main.push_str(&format!(
        "<form method=\"post\" action=\"{}\">\n",
        esc(action)
    ));
    for channel in Channel::ALL {
        main.push_str(&format!(
            "<fieldset>\n<legend>{}</legend>\n",
            esc(t.channel(*channel))
        ));
        for category in TemplateCategory::ALL {
            let id = format!("sub-{category}-{channel}");
            let checked = if prefs
                .opt_outs
                .iter()
                .any(|o| o.channel == *channel && o.category.is_none_or(|c| c == *category))
            {
                ""
            } else {
                " checked"
            };
            main.push_str(&format!(
                "<label for=\"{id}\"><input type=\"checkbox\" id=\"{id}\" name=\"subscribe\" value=\"{category}#{channel}\"{checked}>{}</label>\n",
                esc(t.category(*category))
            ));
        }
        main.push_str("</fieldset>\n");
    }
    let (cap_max, cap_per) = match prefs.frequency_cap {
        Some(FrequencyCap { max, per }) => (max.to_string(), per),
        None => (String::new(), CapPeriod::Week),
    };
    main.push_str(&format!(
        "<fieldset>\n<legend>{}</legend>\n<p class=\"hint\" id=\"cap-hint\">{}</p>\n<label for=\"cap_max\">{}</label>\n<input type=\"number\" id=\"cap_max\" name=\"cap_max\" min=\"1\" max=\"{}\" inputmode=\"numeric\" value=\"{}\" aria-describedby=\"cap-hint\">\n<label for=\"cap_per\">{}</label>\n<select id=\"cap_per\" name=\"cap_per\">",
        esc(t.cap),
        esc(t.cap_none),
        esc(t.cap_max),
        herald::consent::MAX_CAP,
        esc(&cap_max),
        esc(&format!("{} / {}", t.per[0], t.per[1])),
    ));
    for (i, per) in CapPeriod::ALL.iter().enumerate() {
        let selected = if *per == cap_per { " selected" } else { "" };
        main.push_str(&format!(
            "<option value=\"{per}\"{selected}>{}</option>",
            esc(t.per[i])
        ));
    }
    main.push_str("</select>\n</fieldset>\n");
    let (from, to, zone) = match prefs.quiet_hours {
        Some(QuietHours {
            start,
            end,
            time_zone,
        }) => (
            start.format("%H:%M").to_string(),
            end.format("%H:%M").to_string(),
            time_zone.as_str().to_owned(),
        ),
        None => (String::new(), String::new(), String::new()),
    };
    main.push_str(&format!(
        "<fieldset>\n<legend>{}</legend>\n<p class=\"hint\" id=\"quiet-hint\">{}</p>\n<label for=\"quiet_start\">{}</label>\n<input type=\"time\" id=\"quiet_start\" name=\"quiet_start\" value=\"{}\" aria-describedby=\"quiet-hint\">\n<label for=\"quiet_end\">{}</label>\n<input type=\"time\" id=\"quiet_end\" name=\"quiet_end\" value=\"{}\">\n<label for=\"time_zone\">{}</label>\n<input type=\"text\" id=\"time_zone\" name=\"time_zone\" value=\"{}\" placeholder=\"Europe/Paris\" autocomplete=\"off\">\n</fieldset>\n",
        esc(t.quiet),
        esc(t.quiet_hint),
        esc(t.quiet_from),
        esc(&from),
        esc(t.quiet_to),
        esc(&to),
        esc(t.time_zone),
        esc(&zone),
    ));
    let all = if prefs.unsubscribed { " checked" } else { "" };
    main.push_str(&format!(
        "<fieldset>\n<legend>{}</legend>\n<label for=\"unsubscribe_all\"><input type=\"checkbox\" id=\"unsubscribe_all\" name=\"unsubscribe_all\" value=\"1\" aria-describedby=\"all-hint\"{all}>{}</label>\n<p class=\"hint\" id=\"all-hint\">{}</p>\n</fieldset>\n",
        esc(t.everything),
        esc(t.everything),
        esc(t.everything_hint),
    ));
    main.push_str(&format!(
        "<button type=\"submit\">{}</button>\n</form>",
        esc(t.save)
    ));
    document(t, &main)
}

/// Reads the posted form into preferences; the problems when it does not make sense.
pub fn read_form(body: &[u8]) -> Result<Preferences, Vec<String>> {
    let mut subscribed: Vec<String> = Vec::new();
    let mut unsubscribe_all = false;
    let (mut cap_max, mut cap_per, mut start, mut end, mut zone) = (
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
    );
    for (name, value) in form_urlencoded::parse(body) {
        let value = value.trim().to_owned();
        match name.as_ref() {
            "subscribe" => subscribed.push(value),
            "unsubscribe_all" => unsubscribe_all = !value.is_empty(),
            "cap_max" => cap_max = value,
            "cap_per" => cap_per = value,
            "quiet_start" => start = value,
            "quiet_end" => end = value,
            "time_zone" => zone = value,
            _ => {}
        }
    }
    let mut errors = Vec::new();
    let mut opt_outs = Vec::new();
    for channel in Channel::ALL {
        let off: Vec<TemplateCategory> = TemplateCategory::ALL
            .iter()
            .copied()
            .filter(|c| !subscribed.contains(&format!("{c}#{channel}")))
            .collect();
        if off.len() == TemplateCategory::ALL.len() {
            opt_outs.push(OptOut {
                channel: *channel,
                category: None,
            });
        } else {
            opt_outs.extend(off.into_iter().map(|c| OptOut {
                channel: *channel,
                category: Some(c),
            }));
        }
    }
    opt_outs.sort();
    let frequency_cap = if cap_max.is_empty() {
        None
    } else {
        match (cap_max.parse::<u32>(), cap_per.parse::<CapPeriod>()) {
            (Ok(max), Ok(per)) if (1..=herald::consent::MAX_CAP).contains(&max) => {
                Some(FrequencyCap { max, per })
            }
            _ => {
                errors.push(format!(
                    "cap_max: a whole number from 1 to {}",
                    herald::consent::MAX_CAP
                ));
                None
            }
        }
    };
    let quiet_hours = if start.is_empty() && end.is_empty() {
        None
    } else {
        let s = herald::consent::parse_clock(&start);
        let e = herald::consent::parse_clock(&end);
        let z = herald::domain::TimeZone::parse(&zone);
        match (s, e, z) {
            (Some(start), Some(end), Ok(time_zone)) if start != end => Some(QuietHours {
                start,
                end,
                time_zone,
            }),
            (s, e, z) => {
                if s.is_none() || e.is_none() {
                    errors.push("quiet_start, quiet_end: times as HH:MM".to_owned());
                } else if z.is_err() {
                    errors.push("time_zone: an IANA time zone such as Europe/Paris".to_owned());
                } else {
                    errors.push("quiet_end: must differ from quiet_start".to_owned());
                }
                None
            }
        }
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Preferences {
        unsubscribed: unsubscribe_all,
        opt_outs,
        frequency_cap,
        quiet_hours,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_round_trips_the_page() {
        let prefs = Preferences {
            unsubscribed: false,
            opt_outs: vec![
                OptOut {
                    channel: Channel::Email,
                    category: Some(TemplateCategory::Reminder),
                },
                OptOut {
                    channel: Channel::Sms,
                    category: None,
                },
            ],
            frequency_cap: Some(FrequencyCap {
                max: 2,
                per: CapPeriod::Day,
            }),
            quiet_hours: None,
        };
        let page = preference_page(&FR, "Acme <&>", &prefs, "/preferences/x", &Notice::Saved);
        assert!(page.contains("<html lang=\"fr\">"));
        assert!(page.contains("Acme &lt;&amp;&gt;"));
        assert!(page.contains("value=\"reminder#email\">"));
        assert!(page.contains("value=\"invitation#email\" checked>"));
        // What a browser would post back from this page.
        let mut form: Vec<(String, String)> = Vec::new();
        for ch in Channel::ALL {
            for c in TemplateCategory::ALL {
                if prefs.allows(*c, *ch) {
                    form.push(("subscribe".into(), format!("{c}#{ch}")));
                }
            }
        }
        form.push(("cap_max".into(), "2".into()));
        form.push(("cap_per".into(), "day".into()));
        form.push(("quiet_start".into(), String::new()));
        form.push(("quiet_end".into(), String::new()));
        let body = serde_urlencoded::to_string(&form).unwrap();
        let mut want = prefs.clone();
        want.opt_outs.sort();
        assert_eq!(read_form(body.as_bytes()), Ok(want));
        assert!(read_form(b"cap_max=0&cap_per=day").is_err());
        assert!(read_form(b"quiet_start=22:00&quiet_end=08:00&time_zone=Mars/Base").is_err());
    }

    #[test]
    fn accept_language_picks_a_translation() {
        assert_eq!(accepted_language(Some("de-CH,de;q=0.9")), Some("de"));
        assert_eq!(accepted_language(Some("ja, es;q=0.5")), Some("es"));
        assert_eq!(accepted_language(Some("ja")), None);
        assert_eq!(accepted_language(None), None);
    }
}
