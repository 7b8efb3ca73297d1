//! Date and time filters: `date(style)`, `time` and `datetime(style)` format a value in the
//! recipient's time zone and language.
//!
//! A value is an RFC 3339 instant (`2027-05-01T16:00:00Z`), converted to the render's time
//! zone (chrono-tz, so daylight saving time is applied), or a local date-time without offset
//! (`2027-05-01T18:00:00`, as events store them), shown as it is. Styles, in `en-GB`:
//! `short` (01/05/2027), `medium` (1 May 2027, the default and what any other style name
//! gives), `long` (Saturday, 1 May 2027); `time` is hours and minutes (18:00); `datetime`
//! joins the date and the time as the language does (1 May 2027 at 18:00).
//!
//! # Where the words and patterns come from
//! The Unicode CLDR, through ICU4X (`icu_datetime` with its compiled data): month and weekday
//! names, the order of the fields, the words around them ("1 de mayo de 2027", "2027年5月1日"),
//! the 12- or 24-hour clock of the guest's region (`en-US` 6:00 PM, `en-GB` 18:00; a
//! `-u-hc-h12` or `-u-hc-h23` extension overrides it), the region's digits (`ar-EG` ١ مايو
//! ٢٠٢٧) and the marks that keep right-to-left dates in order. A locale is a BCP 47 tag
//! (`pt-BR`, `zh-Hant-TW`; `pt_BR` is read the same); a tag that does not parse, or whose
//! language CLDR has no names for, gets English.
//!
//! Chosen over chrono's `unstable-locales` on purpose. Those tables come from glibc, not CLDR:
//! one numeric date, one time and one `%c` per locale, so a long date ("sabato 1 maggio
//! 2027", "2027年5月1日土曜日") still needs a hand-written pattern per language, which is what
//! this module replaces; the tables are keyed by POSIX names (`pt_BR`), not BCP 47 tags, with
//! no fallback from `zh-Hant-TW` or `es-419`; and some of their formats are wrong for a message
//! (`ar_EG`'s time prints "UTC", `zh_TW`'s date "西元", every time carries seconds). It would
//! have cost less, about 0.37 MB against ICU4X's 0.5 MB in a small binary; the api's and the
//! sender's measured growth is in BENCHMARKS.md ("Dates in every language").
//!
//! Dates are in the Gregorian calendar for every language (with the era where a region's own
//! calendar is another, as Thai "ค.ศ. 2027"): an event's date is one agreed date, and the
//! other calendars' data would add about 0.7 MB to each binary that renders. Only the formats
//! below are compiled in (static field sets), not ICU4X's time zone names or intervals.
//!
//! Spaces: CLDR puts narrow or no-break spaces in some formats (`en-US` "6:00\u{202f}PM").
//! None is in the SMS alphabet (GSM 03.38), and one would send a whole SMS as UCS-2 (70
//! characters a segment instead of 160), so every space separator comes out as a plain space.

mod formats;

use chrono::{DateTime, NaiveDateTime};
use chrono_tz::Tz;

use formats::{Format, with_formats};

/// How much of a date to show: `short` is numeric, `medium` names the month, `long` adds the
/// weekday.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateStyle {
    Short,
    Medium,
    Long,
}

impl DateStyle {
    /// A template's style argument; anything but `short` and `long` is `medium`, as it always
    /// was.
    pub fn from_name(name: &str) -> Self {
        match name {
            "short" => Self::Short,
            "long" => Self::Long,
            _ => Self::Medium,
        }
    }
}

/// Parses a value as an instant (converted to `tz`) or a local date-time.
pub fn parse_value(value: &str, tz: Tz) -> Option<NaiveDateTime> {
    // The common case first (events store local date-times): chrono's ISO 8601 parser is
    // twice as fast as a format string.
    if let Ok(local) = value.parse::<NaiveDateTime>() {
        return Some(local);
    }
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

/// The date of `at` in `style`, in the language of `locale`.
pub fn format_date(at: NaiveDateTime, style: &str, locale: &str) -> String {
    let format = match DateStyle::from_name(style) {
        DateStyle::Short => Format::ShortDate,
        DateStyle::Medium => Format::MediumDate,
        DateStyle::Long => Format::LongDate,
    };
    render(at, format, locale).unwrap_or_else(|| at.format("%Y-%m-%d").to_string())
}

/// The hours and minutes of `at`, on the clock of `locale`'s region.
pub fn format_time(at: NaiveDateTime, locale: &str) -> String {
    render(at, Format::Time, locale).unwrap_or_else(|| at.format("%H:%M").to_string())
}

/// The date of `at` in `style` and its time, joined as the language of `locale` joins them.
pub fn format_datetime(at: NaiveDateTime, style: &str, locale: &str) -> String {
    let format = match DateStyle::from_name(style) {
        DateStyle::Short => Format::ShortDateTime,
        DateStyle::Medium => Format::MediumDateTime,
        DateStyle::Long => Format::LongDateTime,
    };
    render(at, format, locale).unwrap_or_else(|| at.format("%Y-%m-%d %H:%M").to_string())
}

/// `None` only for a year outside ±9999, which CLDR's calendar does not take: the caller
/// writes ISO 8601 instead.
fn render(at: NaiveDateTime, format: Format, locale: &str) -> Option<String> {
    let formatted = with_formats(locale, |formats| formats.format(format, at))?;
    Some(plain_spaces(formatted))
}

/// Every Unicode space separator as U+0020 (see the module's doc); other characters, such as
/// the right-to-left marks of Arabic dates, stay.
fn plain_spaces(s: String) -> String {
    if s.chars().all(|c| c == ' ' || !c.is_whitespace()) {
        return s;
    }
    s.chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests;
