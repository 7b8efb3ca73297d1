//! Locales (BCP 47 language tags, the common subset) and IANA time zones.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a language tag such as 'en', 'en-GB' or 'zh-Hant-TW'")]
pub struct LocaleError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an IANA time zone name such as 'Europe/Paris'")]
pub struct TimeZoneError;

/// A language tag: a 2–3 letter language, then an optional 4-letter script and an optional
/// 2-letter or 3-digit region, normalised to `ll-Ssss-RR`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Locale(String);

impl Locale {
    pub fn parse(s: &str) -> Result<Self, LocaleError> {
        let mut parts = s.trim().split(['-', '_']);
        let lang = parts
            .next()
            .filter(|l| (2..=3).contains(&l.len()) && l.chars().all(|c| c.is_ascii_alphabetic()));
        let mut out = lang.ok_or(LocaleError)?.to_ascii_lowercase();
        let mut rest: Vec<&str> = parts.collect();
        if let Some(script) = rest
            .first()
            .filter(|p| p.len() == 4 && p.chars().all(|c| c.is_ascii_alphabetic()))
        {
            let mut chars = script.chars();
            let first = chars
                .next()
                .map(|c| c.to_ascii_uppercase())
                .unwrap_or_default();
            out.push('-');
            out.push(first);
            out.push_str(&chars.as_str().to_ascii_lowercase());
            rest.remove(0);
        }
        if let Some(region) = rest.first() {
            let alpha = region.len() == 2 && region.chars().all(|c| c.is_ascii_alphabetic());
            let digits = region.len() == 3 && region.chars().all(|c| c.is_ascii_digit());
            if !(alpha || digits) {
                return Err(LocaleError);
            }
            out.push('-');
            out.push_str(&region.to_ascii_uppercase());
            rest.remove(0);
        }
        if rest.is_empty() {
            Ok(Self(out))
        } else {
            Err(LocaleError)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The language alone (`en` for `en-GB`).
    pub fn language(&self) -> &str {
        self.0.split('-').next().unwrap_or(&self.0)
    }
}

/// An IANA time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeZone(chrono_tz::Tz);

impl TimeZone {
    pub fn parse(s: &str) -> Result<Self, TimeZoneError> {
        s.trim()
            .parse::<chrono_tz::Tz>()
            .map(Self)
            .map_err(|_| TimeZoneError)
    }

    pub fn tz(self) -> chrono_tz::Tz {
        self.0
    }

    pub fn as_str(&self) -> &'static str {
        self.0.name()
    }
}

/// What [`Locale::parse`] takes (besides surrounding white space), for the OpenAPI document.
pub const LOCALE_PATTERN: &str = "^[A-Za-z]{2,3}([-_][A-Za-z]{4})?([-_]([A-Za-z]{2}|[0-9]{3}))?$";

string_value!(Locale, |s| s
    .description(Some(
        "A language tag: a 2–3 letter language, an optional 4-letter script and an optional \
         2-letter or 3-digit region (`en`, `en-GB`, `zh-Hant-TW`, `es-419`); Herald writes it \
         as `ll-Ssss-RR`.",
    ))
    .pattern(Some(LOCALE_PATTERN))
    .examples([serde_json::json!("en-GB")]));
string_value!(TimeZone, |s| s
    .description(Some(
        "An IANA time zone name, as the tz database spells it."
    ))
    .enum_values(Some(chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name())))
    .examples([serde_json::json!("Europe/London")]));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locales_normalise() {
        assert_eq!(Locale::parse("en").unwrap().as_str(), "en");
        assert_eq!(Locale::parse("en_gb").unwrap().as_str(), "en-GB");
        assert_eq!(Locale::parse("ZH-hant-tw").unwrap().as_str(), "zh-Hant-TW");
        assert_eq!(Locale::parse("es-419").unwrap().language(), "es");
        for bad in ["", "e", "english", "en-GBR", "en-GB-x", "1a"] {
            assert!(Locale::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn time_zones() {
        assert_eq!(
            TimeZone::parse("Europe/Paris").unwrap().as_str(),
            "Europe/Paris"
        );
        assert!(TimeZone::parse("Mars/Olympus").is_err());
    }
}
