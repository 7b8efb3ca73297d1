//! Date and time filters: `date`, `time` and `datetime` format a value in the recipient's time
//! zone and language.
//!
//! A value is an RFC 3339 instant (`2027-05-01T16:00:00Z`), converted to the render's time
//! zone, or a local date-time without offset (`2027-05-01T18:00:00`, as events store them),
//! shown as it is. Styles: `short` (01/05/2027), `medium` (1 May 2027, the default), `long`
//! (Saturday 1 May 2027).

use chrono::{DateTime, Datelike, NaiveDateTime, Timelike};
use chrono_tz::Tz;

/// Month and weekday names of the languages Herald formats; others fall back to English.
struct Names {
    months: [&'static str; 12],
    weekdays: [&'static str; 7],
    /// Day-month order and the 24-hour clock.
    day_first: bool,
    h24: bool,
}

const EN: Names = Names {
    months: [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
    weekdays: [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ],
    day_first: true,
    h24: false,
};
const FR: Names = Names {
    months: [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ],
    weekdays: [
        "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche",
    ],
    day_first: true,
    h24: true,
};
const DE: Names = Names {
    months: [
        "Januar",
        "Februar",
        "März",
        "April",
        "Mai",
        "Juni",
        "Juli",
        "August",
        "September",
        "Oktober",
        "November",
        "Dezember",
    ],
    weekdays: [
        "Montag",
        "Dienstag",
        "Mittwoch",
        "Donnerstag",
        "Freitag",
        "Samstag",
        "Sonntag",
    ],
    day_first: true,
    h24: true,
};
const ES: Names = Names {
    months: [
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ],
    weekdays: [
        "lunes",
        "martes",
        "miércoles",
        "jueves",
        "viernes",
        "sábado",
        "domingo",
    ],
    day_first: true,
    h24: true,
};

fn names(locale: &str) -> &'static Names {
    match locale.split(['-', '_']).next().unwrap_or_default() {
        "fr" => &FR,
        "de" => &DE,
        "es" => &ES,
        _ => &EN,
    }
}

/// Parses a value as an instant (converted to `tz`) or a local date-time.
pub fn parse_value(value: &str, tz: Tz) -> Option<NaiveDateTime> {
    if let Ok(instant) = DateTime::parse_from_rfc3339(value) {
        return Some(instant.with_timezone(&tz).naive_local());
    }
    NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M"))
        .ok()
        .or_else(|| {
            chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })
}

pub fn format_date(at: NaiveDateTime, style: &str, locale: &str) -> String {
    let n = names(locale);
    let (d, m, y) = (at.day(), at.month0() as usize, at.year());
    let us = locale.eq_ignore_ascii_case("en-US");
    match style {
        "short" if us => format!("{:02}/{:02}/{y}", m + 1, d),
        "short" if locale.starts_with("de") => format!("{d:02}.{:02}.{y}", m + 1),
        "short" => format!("{d:02}/{:02}/{y}", m + 1),
        "long" => {
            let weekday = n.weekdays[at.weekday().num_days_from_monday() as usize];
            match locale.split(['-', '_']).next().unwrap_or_default() {
                "de" => format!("{weekday}, {d}. {} {y}", n.months[m]),
                "es" => format!("{weekday}, {d} de {} de {y}", n.months[m]),
                _ if us => format!("{weekday}, {} {d}, {y}", n.months[m]),
                _ => format!("{weekday} {d} {} {y}", n.months[m]),
            }
        }
        _ => match locale.split(['-', '_']).next().unwrap_or_default() {
            "de" => format!("{d}. {} {y}", n.months[m]),
            "es" => format!("{d} de {} de {y}", n.months[m]),
            _ if us || !n.day_first => format!("{} {d}, {y}", n.months[m]),
            _ => format!("{d} {} {y}", n.months[m]),
        },
    }
}

pub fn format_time(at: NaiveDateTime, locale: &str) -> String {
    let n = names(locale);
    if n.h24 {
        format!("{:02}:{:02}", at.hour(), at.minute())
    } else {
        let (pm, h) = at.hour12();
        format!("{h}:{:02} {}", at.minute(), if pm { "pm" } else { "am" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        parse_value(s, chrono_tz::Europe::Paris).unwrap()
    }

    #[test]
    fn instants_move_to_the_time_zone_and_local_times_stay() {
        assert_eq!(format_time(at("2027-05-01T16:00:00Z"), "fr-FR"), "18:00");
        assert_eq!(format_time(at("2027-05-01T18:30:00"), "en-GB"), "6:30 pm");
        assert!(parse_value("next tuesday", chrono_tz::UTC).is_none());
    }

    #[test]
    fn styles_and_languages() {
        let v = at("2027-05-01T18:00:00");
        assert_eq!(format_date(v, "medium", "en-GB"), "1 May 2027");
        assert_eq!(format_date(v, "medium", "en-US"), "May 1, 2027");
        assert_eq!(format_date(v, "long", "fr-FR"), "samedi 1 mai 2027");
        assert_eq!(format_date(v, "long", "de-DE"), "Samstag, 1. Mai 2027");
        assert_eq!(format_date(v, "short", "de"), "01.05.2027");
        assert_eq!(format_date(v, "short", "en-US"), "05/01/2027");
        assert_eq!(format_date(v, "medium", "es"), "1 de mayo de 2027");
        assert_eq!(format_date(v, "medium", "ja"), "1 May 2027");
    }
}
