//! The ICU4X formatters of one locale, built the first time a thread formats for it.
//!
//! Building a locale's seven formatters takes about 15 µs; formatting with one, well under
//! 1 µs. A message formats several dates in the same locale and a campaign sends in a handful
//! of locales, so each thread keeps the formatters of the last [`MAX_CACHED_LOCALES`] tags it
//! met (thread-local: ICU4X formatters are not `Sync`, and a render needs no lock), and with
//! them the texts of the last [`MAX_REMEMBERED`] dates they formatted: every guest of a
//! campaign is shown the same event dates, so the filter finds most of its texts made (a
//! standard email renders 1.7 µs faster with its dates remembered).

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::OnceLock;

use chrono::{Datelike, NaiveDateTime, Timelike};
use icu_calendar::Gregorian;
use icu_datetime::fieldsets::{T, YMD, YMDE, YMDET, YMDT};
use icu_datetime::input::{Date, DateTime, Time};
use icu_datetime::options::{TimePrecision, YearStyle};
use icu_datetime::{DateTimeFormatterLoadError, FixedCalendarDateTimeFormatter};
use icu_locale_core::subtags::{language, region};
use icu_locale_core::{Locale, locale};

/// Locale tags whose formatters a thread keeps; past this the cache starts again, so guest
/// data with many odd tags cannot grow it.
pub(super) const MAX_CACHED_LOCALES: usize = 32;
/// Dates a locale's formatters remember having formatted: a campaign renders the same event
/// dates for every guest, so most filters find their text here.
const MAX_REMEMBERED: usize = 256;

type Formatter<F> = FixedCalendarDateTimeFormatter<Gregorian, F>;

/// What the filters format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Format {
    ShortDate,
    MediumDate,
    LongDate,
    Time,
    ShortDateTime,
    MediumDateTime,
    LongDateTime,
}

/// One locale's formatters. A date's styles are CLDR lengths: `short` is the short numeric
/// date with the full year (CLDR's short pattern often has two digits), `medium` CLDR's long
/// date (the month by name), `long` the long date with the weekday.
pub(super) struct LocaleFormats {
    short_date: Formatter<YMD>,
    medium_date: Formatter<YMD>,
    long_date: Formatter<YMDE>,
    time: Formatter<T>,
    short_date_time: Formatter<YMDT>,
    medium_date_time: Formatter<YMDT>,
    long_date_time: Formatter<YMDET>,
    remembered: RefCell<HashMap<(Format, NaiveDateTime), String>>,
}

impl LocaleFormats {
    fn try_new(locale: &Locale) -> Result<Self, DateTimeFormatterLoadError> {
        let short = YMD::short().with_year_style(YearStyle::Full);
        let minutes = TimePrecision::Minute;
        Ok(Self {
            short_date: Formatter::try_new(locale.into(), short)?,
            medium_date: Formatter::try_new(locale.into(), YMD::long())?,
            long_date: Formatter::try_new(locale.into(), YMDE::long())?,
            time: Formatter::try_new(locale.into(), T::hm())?,
            short_date_time: Formatter::try_new(locale.into(), short.with_time(minutes))?,
            medium_date_time: Formatter::try_new(locale.into(), YMD::long().with_time(minutes))?,
            long_date_time: Formatter::try_new(locale.into(), YMDE::long().with_time(minutes))?,
            remembered: RefCell::default(),
        })
    }

    /// The formatters for a guest's tag: its own language's where CLDR has them, else
    /// English's, keeping the tag's region (which sets the clock and the day-month order) or,
    /// without one, international English (`en-001`: 1 May 2027, 6:00 pm).
    fn for_tag(tag: &str) -> Result<Self, DateTimeFormatterLoadError> {
        let Ok(mut locale) = Locale::try_from_str(&tag.replace('_', "-")) else {
            return Self::try_new(&locale!("en-001"));
        };
        let formats = Self::try_new(&locale)?;
        if formats.has_own_names(&locale) {
            return Ok(formats);
        }
        locale.id.language = language!("en");
        locale.id.script = None;
        locale.id.variants.clear();
        locale.id.region = locale.id.region.or(Some(region!("001")));
        Self::try_new(&locale)
    }

    /// Whether CLDR has this language. ICU4X falls back from a language it lacks to the root
    /// locale, whose month names are placeholders ("2027 M05 1"), never to English.
    fn has_own_names(&self, locale: &Locale) -> bool {
        static ROOT: OnceLock<Option<String>> = OnceLock::new();
        let probe = || Date::try_new_gregorian(2027, 5, 1).ok();
        let root = ROOT.get_or_init(|| {
            let root = Formatter::try_new((&Locale::UNKNOWN).into(), YMD::long()).ok()?;
            Some(root.format(&probe()?).to_string())
        });
        let own = probe().map(|date| self.medium_date.format(&date).to_string());
        !locale.id.language.is_unknown() && own != *root
    }

    /// `None` for a year outside ±9999, which ICU4X's calendar does not take.
    pub(super) fn format(&self, format: Format, at: NaiveDateTime) -> Option<String> {
        if let Some(text) = self.remembered.borrow().get(&(format, at)) {
            return Some(text.clone());
        }
        let text = self.format_anew(format, at)?;
        let mut remembered = self.remembered.borrow_mut();
        if remembered.len() >= MAX_REMEMBERED {
            remembered.clear();
        }
        remembered.insert((format, at), text.clone());
        Some(text)
    }

    fn format_anew(&self, format: Format, at: NaiveDateTime) -> Option<String> {
        let date = Date::try_new_gregorian(
            at.year(),
            u8::try_from(at.month()).ok()?,
            u8::try_from(at.day()).ok()?,
        )
        .ok()?;
        let time = Time::try_new(
            u8::try_from(at.hour()).ok()?,
            u8::try_from(at.minute()).ok()?,
            0,
            0,
        )
        .ok()?;
        let at = DateTime { date, time };
        Some(match format {
            Format::ShortDate => self.short_date.format(&at).to_string(),
            Format::MediumDate => self.medium_date.format(&at).to_string(),
            Format::LongDate => self.long_date.format(&at).to_string(),
            Format::Time => self.time.format(&at).to_string(),
            Format::ShortDateTime => self.short_date_time.format(&at).to_string(),
            Format::MediumDateTime => self.medium_date_time.format(&at).to_string(),
            Format::LongDateTime => self.long_date_time.format(&at).to_string(),
        })
    }
}

thread_local! {
    static CACHE: RefCell<HashMap<String, LocaleFormats>> = RefCell::new(HashMap::new());
}

/// Runs `f` with the formatters for `tag`. `None` when `f` returns it, or in the one case the
/// compiled data could not build them (a bug in this module, which the tests would show).
pub(super) fn with_formats<R>(tag: &str, f: impl FnOnce(&LocaleFormats) -> Option<R>) -> Option<R> {
    CACHE.with_borrow_mut(|cache| {
        if !cache.contains_key(tag) {
            let formats = LocaleFormats::for_tag(tag).ok()?;
            if cache.len() >= MAX_CACHED_LOCALES {
                cache.clear();
            }
            cache.insert(tag.to_owned(), formats);
        }
        cache.get(tag).and_then(f)
    })
}

#[cfg(test)]
pub(super) fn cached_locales() -> usize {
    CACHE.with_borrow(HashMap::len)
}
