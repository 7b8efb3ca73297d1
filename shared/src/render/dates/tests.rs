use chrono::NaiveDate;
use chrono_tz::Tz;

use super::formats::{MAX_CACHED_LOCALES, cached_locales};
use super::*;
use crate::render::{SmsEncoding, count_segments};

/// `value` in `tz`, in `locale`: the date in each style, the time, the date-time in each style.
fn every_format(value: &str, tz: &str, locale: &str) -> [String; 7] {
    let tz: Tz = tz.parse().unwrap();
    let at = parse_value(value, tz).unwrap();
    [
        format_date(at, "short", locale),
        format_date(at, "medium", locale),
        format_date(at, "long", locale),
        format_time(at, locale),
        format_datetime(at, "short", locale),
        format_datetime(at, "medium", locale),
        format_datetime(at, "long", locale),
    ]
}

/// Saturday 1 May 2027, 18:00 where the guest lives: each instant is converted in summer time
/// where the zone has it (London, New York, Paris, Berlin, Madrid, Rome and Cairo).
#[test]
fn every_style_in_every_language() {
    let cases: [(&str, &str, &str, [&str; 7]); 11] = [
        (
            "en-GB",
            "Europe/London",
            "2027-05-01T17:00:00Z",
            [
                "01/05/2027",
                "1 May 2027",
                "Saturday, 1 May 2027",
                "18:00",
                "01/05/2027, 18:00",
                "1 May 2027 at 18:00",
                "Saturday, 1 May 2027 at 18:00",
            ],
        ),
        (
            "en-US",
            "America/New_York",
            "2027-05-01T22:00:00Z",
            [
                "5/1/2027",
                "May 1, 2027",
                "Saturday, May 1, 2027",
                "6:00 PM",
                "5/1/2027, 6:00 PM",
                "May 1, 2027 at 6:00 PM",
                "Saturday, May 1, 2027 at 6:00 PM",
            ],
        ),
        (
            "fr-FR",
            "Europe/Paris",
            "2027-05-01T16:00:00Z",
            [
                "01/05/2027",
                "1 mai 2027",
                "samedi 1 mai 2027",
                "18:00",
                "01/05/2027 18:00",
                "1 mai 2027 à 18:00",
                "samedi 1 mai 2027 à 18:00",
            ],
        ),
        (
            "de-DE",
            "Europe/Berlin",
            "2027-05-01T16:00:00Z",
            [
                "01.05.2027",
                "1. Mai 2027",
                "Samstag, 1. Mai 2027",
                "18:00",
                "01.05.2027, 18:00",
                "1. Mai 2027 um 18:00",
                "Samstag, 1. Mai 2027 um 18:00",
            ],
        ),
        (
            "es-ES",
            "Europe/Madrid",
            "2027-05-01T16:00:00Z",
            [
                "1/5/2027",
                "1 de mayo de 2027",
                "sábado, 1 de mayo de 2027",
                "18:00",
                "1/5/2027, 18:00",
                "1 de mayo de 2027 a las 18:00",
                "sábado, 1 de mayo de 2027 a las 18:00",
            ],
        ),
        (
            "it-IT",
            "Europe/Rome",
            "2027-05-01T16:00:00Z",
            [
                "01/05/2027",
                "1 maggio 2027",
                "sabato 1 maggio 2027",
                "18:00",
                "01/05/2027, 18:00",
                "1 maggio 2027 alle ore 18:00",
                "sabato 1 maggio 2027 alle ore 18:00",
            ],
        ),
        (
            "ja-JP",
            "Asia/Tokyo",
            "2027-05-01T09:00:00Z",
            [
                "2027/05/01",
                "2027年5月1日",
                "2027年5月1日土曜日",
                "18:00",
                "2027/05/01 18:00",
                "2027年5月1日 18:00",
                "2027年5月1日土曜日 18:00",
            ],
        ),
        (
            "pt-BR",
            "America/Sao_Paulo",
            "2027-05-01T21:00:00Z",
            [
                "01/05/2027",
                "1 de maio de 2027",
                "sábado, 1 de maio de 2027",
                "18:00",
                "01/05/2027, 18:00",
                "1 de maio de 2027 às 18:00",
                "sábado, 1 de maio de 2027 às 18:00",
            ],
        ),
        (
            // Arabic-Indic digits, the 12-hour clock with م (evening), and right-to-left marks
            // (U+200F) that keep a numeric date's parts in order.
            "ar-EG",
            "Africa/Cairo",
            "2027-05-01T15:00:00Z",
            [
                "١\u{200f}/٥\u{200f}/٢٠٢٧",
                "١ مايو ٢٠٢٧",
                "السبت، ١ مايو ٢٠٢٧",
                "٦:٠٠ م",
                "١\u{200f}/٥\u{200f}/٢٠٢٧، ٦:٠٠ م",
                "١ مايو ٢٠٢٧ في ٦:٠٠ م",
                "السبت، ١ مايو ٢٠٢٧ في ٦:٠٠ م",
            ],
        ),
        (
            "zh-CN",
            "Asia/Shanghai",
            "2027-05-01T10:00:00Z",
            [
                "2027/5/1",
                "2027年5月1日",
                "2027年5月1日星期六",
                "18:00",
                "2027/5/1 18:00",
                "2027年5月1日 18:00",
                "2027年5月1日星期六 18:00",
            ],
        ),
        (
            // Taiwan's clock is 12-hour (下午, afternoon).
            "zh-Hant-TW",
            "Asia/Taipei",
            "2027-05-01T10:00:00Z",
            [
                "2027/5/1",
                "2027年5月1日",
                "2027年5月1日星期六",
                "下午6:00",
                "2027/5/1 下午6:00",
                "2027年5月1日 下午6:00",
                "2027年5月1日星期六 下午6:00",
            ],
        ),
    ];
    for (locale, tz, value, expected) in cases {
        assert_eq!(every_format(value, tz, locale), expected, "{locale}");
    }
}

#[test]
fn the_clock_follows_daylight_saving_time() {
    let paris = |value| every_format(value, "Europe/Paris", "fr-FR");
    // The same UTC hour is 18:00 in winter and 19:00 in summer.
    assert_eq!(
        paris("2027-01-15T17:00:00Z")[6],
        "vendredi 15 janvier 2027 à 18:00"
    );
    assert_eq!(
        paris("2027-07-15T17:00:00Z")[6],
        "jeudi 15 juillet 2027 à 19:00"
    );
    // The night the clocks go back, 02:30 comes twice, an hour apart.
    assert_eq!(paris("2027-10-31T00:30:00Z")[3], "02:30");
    assert_eq!(paris("2027-10-31T01:30:00Z")[3], "02:30");
    // The night they go forward in New York, 02:30 never comes.
    let new_york = |value| every_format(value, "America/New_York", "en-US")[3].clone();
    assert_eq!(new_york("2027-03-14T06:30:00Z"), "1:30 AM");
    assert_eq!(new_york("2027-03-14T07:30:00Z"), "3:30 AM");
    // Late evening in London is already the next morning in Tokyo.
    assert_eq!(
        every_format("2027-04-30T23:30:00Z", "Asia/Tokyo", "ja-JP")[6],
        "2027年5月1日土曜日 8:30"
    );
    // A local date-time stays as it is, whatever the zone.
    assert_eq!(
        every_format("2027-05-01T18:30:00", "Asia/Tokyo", "en-GB")[5],
        "1 May 2027 at 18:30"
    );
}

#[test]
fn an_unknown_language_gets_english() {
    let international = [
        "01/05/2027",
        "1 May 2027",
        "Saturday, 1 May 2027",
        "6:00 pm",
        "01/05/2027, 6:00 pm",
        "1 May 2027 at 6:00 pm",
        "Saturday, 1 May 2027 at 6:00 pm",
    ];
    // No language CLDR knows, an explicit "undetermined", no tag at all, not a tag.
    for locale in ["xx", "und", "", "not a language tag"] {
        assert_eq!(
            every_format("2027-05-01T18:00:00Z", "UTC", locale),
            international,
            "{locale:?}"
        );
    }
    // The region stays, with its clock and its order of day and month.
    let germany = every_format("2027-05-01T18:00:00Z", "UTC", "tlh-DE");
    assert_eq!(germany[6], "Saturday, 1 May 2027 at 18:00");
    let america = every_format("2027-05-01T18:00:00Z", "UTC", "zz-US");
    assert_eq!(america[4], "5/1/2027, 6:00 PM");
}

#[test]
fn tags_are_bcp47_with_their_extensions() {
    let at = parse_value("2027-05-01T18:00:00", chrono_tz::UTC).unwrap();
    assert_eq!(format_date(at, "medium", "pt_BR"), "1 de maio de 2027");
    assert_eq!(format_time(at, "zh-TW"), "下午6:00");
    assert_eq!(format_time(at, "es-419"), "6:00 p.m.");
    assert_eq!(format_time(at, "fr-CA"), "18 h 00");
    // The hour-cycle extension overrides the region's clock.
    assert_eq!(format_time(at, "en-GB-u-hc-h12"), "6:00 pm");
    assert_eq!(format_time(at, "en-US-u-hc-h23"), "18:00");
    // Plain "en" is CLDR's, American English.
    assert_eq!(format_date(at, "medium", "en"), "May 1, 2027");
}

#[test]
fn styles_other_than_short_and_long_are_medium() {
    let at = parse_value("2027-05-01T18:00:00", chrono_tz::UTC).unwrap();
    assert_eq!(format_date(at, "full", "it-IT"), "1 maggio 2027");
    assert_eq!(
        format_datetime(at, "", "it-IT"),
        "1 maggio 2027 alle ore 18:00"
    );
}

#[test]
fn spaces_are_plain_so_an_sms_stays_in_gsm7() {
    let at = parse_value("2027-05-01T18:00:00", chrono_tz::UTC).unwrap();
    // CLDR writes "6:00\u{202f}PM" (a narrow no-break space, not in the SMS alphabet).
    let time = format_time(at, "en-US");
    assert_eq!(time, "6:00 PM");
    let sms = format!("Doors open {}", format_datetime(at, "long", "en-US"));
    assert_eq!(count_segments(&sms).encoding, SmsEncoding::Gsm7, "{sms}");
    // Russian's "г." and Taiwan's date-time carry other special spaces.
    for locale in ["ru-RU", "zh-TW", "es-MX", "en-AU"] {
        for text in every_format("2027-05-01T18:00:00Z", "UTC", locale) {
            assert!(
                text.chars().all(|c| c == ' ' || !c.is_whitespace()),
                "{locale}: {text:?}"
            );
        }
    }
}

#[test]
fn values_that_are_not_dates_are_refused_and_far_years_are_iso() {
    assert!(parse_value("next tuesday", chrono_tz::UTC).is_none());
    assert!(parse_value("2027-02-30", chrono_tz::UTC).is_none());
    assert_eq!(
        parse_value("2027-05-01", chrono_tz::UTC),
        NaiveDate::from_ymd_opt(2027, 5, 1).and_then(|d| d.and_hms_opt(0, 0, 0))
    );
    // CLDR's calendar takes years up to 9999; later ones are written in ISO 8601.
    let far = NaiveDate::from_ymd_opt(10_000, 5, 1)
        .and_then(|d| d.and_hms_opt(18, 0, 0))
        .unwrap();
    assert_eq!(format_date(far, "long", "fr-FR"), "+10000-05-01");
    assert_eq!(format_time(far, "fr-FR"), "18:00");
}

#[test]
fn the_formatter_cache_stays_bounded() {
    let at = parse_value("2027-05-01T18:00:00", chrono_tz::UTC).unwrap();
    for i in 0..(3 * MAX_CACHED_LOCALES) {
        let tag = format!("en-GB-x-guest{i}");
        assert_eq!(format_date(at, "medium", &tag), "1 May 2027");
        assert!(cached_locales() <= MAX_CACHED_LOCALES);
    }
}
