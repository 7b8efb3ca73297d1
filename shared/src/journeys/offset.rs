//! A step's offset from its anchor: a signed ISO 8601 duration in weeks, days, hours, minutes
//! and seconds, at most 400 days either way.

use chrono::TimeDelta;

use super::string_value;

/// The largest offset, in days, either way.
pub const MAX_OFFSET_DAYS: u32 = 400;

const SECONDS_PER_DAY: u64 = 86_400;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OffsetError {
    #[error(
        "not an ISO 8601 duration such as 'P30D', '-P30D', '-PT2H', 'P1DT12H' or 'P2W' \
         (weeks, days, hours, minutes and seconds, largest unit first)"
    )]
    Syntax,
    #[error(
        "years and months vary in length: give the offset in days or weeks \
         (e.g. 'P30D' rather than 'P1M')"
    )]
    YearsOrMonths,
    #[error("fractions are not supported: use a smaller unit (e.g. 'PT90M' rather than 'PT1.5H')")]
    Fraction,
    #[error("an offset is at most 400 days (P400D) before or after its anchor")]
    TooLarge,
}

/// A signed offset from a step's anchor. The days (weeks are stored as seven days) move the
/// local calendar date and the time part moves the wall-clock time, so they are kept apart:
/// `PT36H` stays `PT36H`, written back as such, not `P1DT12H`.
///
/// Written back normalised: the sign, days, then hours, minutes and seconds below 60
/// (`-P1DT2H`, `PT1H30M` for `PT90M`, `P14D` for `P2W`, `PT0S` for nothing).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Offset {
    negative: bool,
    days: u32,
    seconds: u32,
}

impl Offset {
    /// No offset: the anchor itself.
    pub const ZERO: Offset = Offset {
        negative: false,
        days: 0,
        seconds: 0,
    };

    /// `days` and `seconds` (of the time part) before (`negative`) or after the anchor.
    pub fn new(negative: bool, days: u32, seconds: u32) -> Result<Self, OffsetError> {
        let total = u64::from(days) * SECONDS_PER_DAY + u64::from(seconds);
        if total > u64::from(MAX_OFFSET_DAYS) * SECONDS_PER_DAY {
            return Err(OffsetError::TooLarge);
        }
        Ok(Self {
            negative: negative && total > 0,
            days,
            seconds,
        })
    }

    pub fn parse(s: &str) -> Result<Self, OffsetError> {
        let (negative, unsigned) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        let body = unsigned
            .strip_prefix(['P', 'p'])
            .ok_or(OffsetError::Syntax)?;
        let (date, time) = match body.split_once(['T', 't']) {
            Some((date, time)) if !time.is_empty() => (date, Some(time)),
            Some(_) => return Err(OffsetError::Syntax),
            None => (body, None),
        };
        if date.is_empty() && time.is_none() {
            return Err(OffsetError::Syntax);
        }
        let [years, months, weeks, days] = components(date, ['Y', 'M', 'W', 'D'])?;
        if years.is_some() || months.is_some() {
            return Err(OffsetError::YearsOrMonths);
        }
        let [hours, minutes, seconds] = match time {
            Some(time) => components(time, ['H', 'M', 'S'])?,
            None => [None; 3],
        };
        let sum = |parts: &[(Option<u64>, u64)]| {
            parts.iter().try_fold(0u64, |acc, (n, unit)| {
                acc.checked_add(n.unwrap_or(0).checked_mul(*unit)?)
            })
        };
        let days = sum(&[(weeks, 7), (days, 1)]).ok_or(OffsetError::TooLarge)?;
        let seconds =
            sum(&[(hours, 3600), (minutes, 60), (seconds, 1)]).ok_or(OffsetError::TooLarge)?;
        let days = u32::try_from(days).map_err(|_| OffsetError::TooLarge)?;
        let seconds = u32::try_from(seconds).map_err(|_| OffsetError::TooLarge)?;
        Self::new(negative, days, seconds)
    }

    /// Whether the step comes before its anchor.
    pub fn is_negative(&self) -> bool {
        self.negative
    }

    /// The signed number of days that move the local date.
    pub fn days(&self) -> i64 {
        self.signed(i64::from(self.days))
    }

    /// The signed time part that moves the wall-clock time.
    pub fn time(&self) -> TimeDelta {
        TimeDelta::seconds(self.signed(i64::from(self.seconds)))
    }

    /// The whole offset as a signed duration (days counted as 24 hours of local time).
    pub fn total(&self) -> TimeDelta {
        TimeDelta::days(self.days()) + self.time()
    }

    pub fn as_str(&self) -> String {
        let mut out = String::with_capacity(12);
        if self.negative {
            out.push('-');
        }
        out.push('P');
        if self.days > 0 {
            out.push_str(&format!("{}D", self.days));
        }
        if self.seconds > 0 || self.days == 0 {
            out.push('T');
            let (h, m, s) = (
                self.seconds / 3600,
                self.seconds / 60 % 60,
                self.seconds % 60,
            );
            for (n, unit) in [(h, 'H'), (m, 'M'), (s, 'S')] {
                if n > 0 {
                    out.push_str(&format!("{n}{unit}"));
                }
            }
            if self.seconds == 0 {
                out.push_str("0S");
            }
        }
        out
    }

    fn signed(&self, n: i64) -> i64 {
        if self.negative { -n } else { n }
    }
}

/// The numbers of `part` by unit (in `units`' order, each at most once, none out of order).
fn components<const N: usize>(
    part: &str,
    units: [char; N],
) -> Result<[Option<u64>; N], OffsetError> {
    let mut found = [None; N];
    let mut next_unit = 0;
    let mut rest = part;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (number, tail) = rest.split_at(digits);
        let mut tail_chars = tail.chars();
        let unit = tail_chars.next().map(|c| c.to_ascii_uppercase());
        if matches!(unit, Some('.' | ',')) {
            return Err(OffsetError::Fraction);
        }
        if number.is_empty() {
            return Err(OffsetError::Syntax);
        }
        let index = units[next_unit..]
            .iter()
            .position(|u| Some(*u) == unit)
            .ok_or(OffsetError::Syntax)?
            + next_unit;
        // Too many digits for u64 is far over the limit.
        found[index] = Some(number.parse().map_err(|_| OffsetError::TooLarge)?);
        next_unit = index + 1;
        rest = tail_chars.as_str();
    }
    Ok(found)
}

string_value!(
    Offset,
    "^[-+]?P([0-9]+W)?([0-9]+D)?(T([0-9]+H)?([0-9]+M)?([0-9]+S)?)?$",
    "-P30D"
);

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(s: &str) -> Offset {
        Offset::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn offsets_keep_days_and_the_time_part_apart() {
        let o = parsed("P1DT12H");
        assert_eq!((o.days(), o.time()), (1, TimeDelta::hours(12)));
        let o = parsed("-P30D");
        assert_eq!((o.days(), o.time()), (-30, TimeDelta::zero()));
        assert!(o.is_negative());
        let o = parsed("-PT2H");
        assert_eq!((o.days(), o.time()), (0, TimeDelta::hours(-2)));
        assert_eq!(parsed("P2W").days(), 14);
        assert_eq!(parsed("P1W2D").days(), 9);
        assert_eq!(parsed("PT36H").days(), 0);
        assert_eq!(parsed("PT36H").time(), TimeDelta::hours(36));
        assert_eq!(
            parsed("-P1DT1M1S").total(),
            -TimeDelta::seconds(86_400 + 61)
        );
        assert_eq!(parsed("+P1D"), parsed("P1D"));
        assert_eq!(parsed("p1dt2h"), parsed("P1DT2H"));
    }

    #[test]
    fn offsets_are_written_back_normalised() {
        for (input, normal) in [
            ("P30D", "P30D"),
            ("-P30D", "-P30D"),
            ("-PT2H", "-PT2H"),
            ("-P1DT2H", "-P1DT2H"),
            ("P1DT12H", "P1DT12H"),
            ("P2W", "P14D"),
            ("PT90M", "PT1H30M"),
            ("PT3661S", "PT1H1M1S"),
            ("PT36H", "PT36H"),
            ("PT0S", "PT0S"),
            ("-PT0S", "PT0S"),
            ("P0D", "PT0S"),
            ("+P1DT0H5M", "P1DT5M"),
            ("PT0H0M30S", "PT30S"),
        ] {
            assert_eq!(parsed(input).as_str(), normal, "{input}");
            assert_eq!(parsed(normal).as_str(), normal, "{normal} is stable");
        }
    }

    #[test]
    fn offsets_are_at_most_400_days() {
        assert_eq!(parsed("P400D").days(), 400);
        assert_eq!(parsed("-P400D").days(), -400);
        assert_eq!(parsed("PT9600H").time(), TimeDelta::hours(9600));
        assert_eq!(parsed("P57W1D").days(), 400);
        for big in [
            "P401D",
            "-P401D",
            "PT9601H",
            "P400DT1S",
            "P58W",
            "PT34560001S",
            "P99999999999999999999999D",
            "P18446744073709551615W",
        ] {
            assert_eq!(Offset::parse(big), Err(OffsetError::TooLarge), "{big}");
        }
        assert_eq!(Offset::new(false, 401, 0), Err(OffsetError::TooLarge));
        assert_eq!(Offset::new(true, 0, 0), Ok(Offset::ZERO));
    }

    #[test]
    fn years_and_months_are_refused_with_a_reason() {
        for input in ["P1M", "-P1M", "P1Y", "P1Y2M3D", "P1MT2H", "-P2Y"] {
            assert_eq!(
                Offset::parse(input),
                Err(OffsetError::YearsOrMonths),
                "{input}"
            );
        }
        let message = OffsetError::YearsOrMonths.to_string();
        assert!(message.contains("days"), "{message}");
        // After T, M means minutes.
        assert_eq!(parsed("PT1M").time(), TimeDelta::minutes(1));
    }

    #[test]
    fn malformed_offsets_are_refused() {
        for input in [
            "", "P", "PT", "-P", "30D", "P30", "PD", "P1DT", "P1H", "PT1D", "P1D1W", "P1D2D",
            "PT1S1M", "P-1D", "--P1D", "P 1D", " P1D", "P1DT2H ", "P1X", "1 day", "PT1W",
        ] {
            assert_eq!(Offset::parse(input), Err(OffsetError::Syntax), "{input:?}");
        }
        for input in ["PT1.5H", "P1,5D", "PT0.5S"] {
            assert_eq!(Offset::parse(input), Err(OffsetError::Fraction), "{input}");
        }
    }

    #[test]
    fn offsets_are_json_strings() {
        let o: Offset = serde_json::from_str("\"-P1DT2H\"").expect("offset");
        assert_eq!(o.days(), -1);
        assert_eq!(serde_json::to_string(&o).expect("json"), "\"-P1DT2H\"");
        let o: Offset = serde_json::from_str("\"PT120M\"").expect("offset");
        assert_eq!(serde_json::to_string(&o).expect("json"), "\"PT2H\"");
        let err = serde_json::from_str::<Offset>("\"P1M\"").expect_err("months");
        assert!(err.to_string().contains("years and months"), "{err}");
        assert!(serde_json::from_str::<Offset>("30").is_err());
    }
}
