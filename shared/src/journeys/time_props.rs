//! Property tests of step times: any event start from 2020 to 2035, zones with and without
//! daylight saving, offsets within 400 days, with and without a clock time — half of the cases
//! aimed at the nights the clocks change.

use chrono::{
    Days, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset as _, TimeDelta, TimeZone as _,
};
use chrono_tz::Tz;
use proptest::prelude::*;

use super::{Anchor, DstAdjustment, LocalClock, Offset, StepTime, local_parts, step_time};

const ZONES: [Tz; 5] = [
    chrono_tz::Europe::Paris,
    chrono_tz::America::New_York,
    chrono_tz::Australia::Sydney,
    chrono_tz::Australia::Lord_Howe, // a 30-minute change
    chrono_tz::UTC,
];

fn date(days_from_2020: u64) -> NaiveDate {
    NaiveDate::from_ymd_opt(2020, 1, 1)
        .and_then(|d| d.checked_add_days(Days::new(days_from_2020)))
        .expect("a date after 2020")
}

/// The local dates on which each zone's clocks change, 2020–2035 (a day either side of the
/// change in UTC, so every local date of a change is in).
fn change_days() -> Vec<(Tz, NaiveDate)> {
    let mut out = Vec::new();
    for zone in ZONES {
        for n in 0..16 * 366 {
            let noon = |d: NaiveDate| d.and_hms_opt(12, 0, 0).expect("noon");
            let offset = |d| zone.offset_from_utc_datetime(&noon(d)).fix();
            if offset(date(n)) != offset(date(n + 1)) {
                out.extend([(zone, date(n)), (zone, date(n + 1))]);
            }
        }
    }
    out
}

fn offset_strategy() -> impl Strategy<Value = Offset> {
    (any::<bool>(), 0u32..=400, 0u32..=86_400 * 2)
        .prop_filter_map("within 400 days", |(n, d, s)| Offset::new(n, d, s).ok())
}

fn clock_strategy() -> impl Strategy<Value = Option<LocalClock>> {
    prop_oneof![
        Just(None),
        (0u32..24, 0u32..60).prop_map(|(h, m)| LocalClock::new(h, m)),
        // The hours the clocks change in.
        (0u32..4, 0u32..60).prop_map(|(h, m)| LocalClock::new(h, m)),
    ]
}

/// Any zone, any start (to the minute) from 2020 to 2035, an end within a week after.
fn any_event() -> impl Strategy<Value = (Tz, NaiveDateTime, NaiveDateTime)> {
    (
        prop::sample::select(ZONES.to_vec()),
        0u64..16 * 365,
        0u32..1440,
        0i64..7 * 1440,
    )
        .prop_map(|(zone, day, minute, length)| {
            let start = date(day).and_time(NaiveTime::MIN) + TimeDelta::minutes(minute.into());
            (zone, start, start + TimeDelta::minutes(length))
        })
}

/// A step and event placed so that the step's local time falls in the small hours of a day
/// the clocks change.
fn aimed_at_a_change() -> impl Strategy<Value = (Tz, NaiveDateTime, NaiveDateTime, Offset)> {
    (
        prop::sample::select(change_days()),
        0i64..4 * 3600,
        offset_strategy(),
        0i64..3 * 1440,
    )
        .prop_map(|((zone, day), second, offset, length)| {
            let target = day.and_time(NaiveTime::MIN) + TimeDelta::seconds(second);
            let start = target - offset.total();
            (zone, start, start + TimeDelta::minutes(length), offset)
        })
}

fn events_and_offsets() -> impl Strategy<Value = (Tz, NaiveDateTime, NaiveDateTime, Offset)> {
    prop_oneof![
        (any_event(), offset_strategy()).prop_map(|((z, s, e), o)| (z, s, e, o)),
        aimed_at_a_change(),
    ]
}

fn anchor_strategy() -> impl Strategy<Value = Anchor> {
    prop_oneof![Just(Anchor::EventStart), Just(Anchor::EventEnd)]
}

/// Rules 2–3 computed on the calendar: the date moved by whole days, then the wall clock by the
/// time part, then the clock time if any.
fn expected_local(base: NaiveDateTime, offset: &Offset, at: Option<LocalClock>) -> NaiveDateTime {
    let days = Days::new(offset.days().unsigned_abs());
    let date = if offset.is_negative() {
        base.date().checked_sub_days(days)
    } else {
        base.date().checked_add_days(days)
    }
    .expect("in range");
    let moved = date.and_time(base.time()) + offset.time();
    match at {
        Some(clock) => moved.date().and_time(clock.time()),
        None => moved,
    }
}

/// (c) and rule 4: the instant reads as the reported local time, and the adjustment (if any)
/// is the one the zone calls for.
fn check_instant(t: &StepTime, zone: Tz, requested: NaiveDateTime) -> Result<(), TestCaseError> {
    prop_assert_eq!(local_parts(t.utc, zone), t.local);
    prop_assert_eq!(t.requested(), requested);
    match (zone.from_local_datetime(&requested), t.adjusted) {
        (LocalResult::Single(only), None) => prop_assert_eq!(only, t.utc),
        (LocalResult::Ambiguous(a, b), Some(DstAdjustment::FirstOccurrence { .. })) => {
            prop_assert_eq!(a.min(b), t.utc);
            prop_assert_eq!(t.local, requested);
        }
        (LocalResult::None, Some(DstAdjustment::ShiftedForward { seconds, .. })) => {
            let jump = t.local - requested;
            prop_assert_eq!(jump.num_seconds(), seconds);
            prop_assert!(jump > TimeDelta::zero() && jump <= TimeDelta::hours(2));
            // Before the jump, the clocks read the requested time less the jump: the time
            // was read with the offset in force before the clocks changed.
            prop_assert_eq!(local_parts(t.utc - jump, zone), requested - jump);
            prop_assert!(zone.from_local_datetime(&t.local).single().is_some());
        }
        (mapping, adjusted) => {
            prop_assert!(
                false,
                "{requested} maps to {mapping:?} but adjusted is {adjusted:?}"
            );
        }
    }
    Ok(())
}

fn pick(anchor: Anchor, start: NaiveDateTime, end: NaiveDateTime) -> NaiveDateTime {
    if anchor == Anchor::EventStart {
        start
    } else {
        end
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// (a) and (c): the local time is what rules 2–3 say, unless a gap moved it forward.
    #[test]
    fn step_times_follow_the_local_rules(
        (zone, start, end, offset) in events_and_offsets(),
        anchor in anchor_strategy(),
        at in clock_strategy(),
    ) {
        let t = step_time(pick(anchor, start, end), zone, &offset, at);
        let base = if anchor == Anchor::EventStart { start } else { end };
        let expected = expected_local(base, &offset, at);
        check_instant(&t, zone, expected)?;
        if !matches!(t.adjusted, Some(DstAdjustment::ShiftedForward { .. })) {
            prop_assert_eq!(t.local, expected);
        }
        if let Some(clock) = at && t.adjusted.is_none() {
            prop_assert_eq!(t.local.time(), clock.time());
        }
        if zone == chrono_tz::UTC {
            prop_assert_eq!(t.adjusted, None);
            prop_assert_eq!(t.utc.naive_utc(), expected);
        }
    }

    /// (b): moving the event by whole days moves every step's local date by as many days and
    /// keeps its wall-clock time (as asked: a gap may shift either of the two).
    #[test]
    fn moving_the_event_by_days_moves_its_steps_by_days(
        (zone, start, end, offset) in events_and_offsets(),
        anchor in anchor_strategy(),
        at in clock_strategy(),
        days in -400i64..=400,
    ) {
        let before = step_time(pick(anchor, start, end), zone, &offset, at);
        let by = TimeDelta::days(days);
        let after = step_time(pick(anchor, start + by, end + by), zone, &offset, at);
        prop_assert_eq!(after.requested(), before.requested() + by);
        prop_assert_eq!(after.requested().time(), before.requested().time());
        if before.adjusted.is_none() && after.adjusted.is_none() {
            prop_assert_eq!(after.local, before.local + by);
        }
        check_instant(&after, zone, before.requested() + by)?;
    }

    /// Moving the event by any amount of local time moves a step without a clock time by the
    /// same amount of local time, and one with a clock time to that time of the day landed on.
    #[test]
    fn moving_the_event_by_any_amount_moves_its_steps_by_the_same_rule(
        (zone, start, end, offset) in events_and_offsets(),
        anchor in anchor_strategy(),
        at in clock_strategy(),
        minutes in -400i64 * 1440..=400 * 1440,
    ) {
        let by = TimeDelta::minutes(minutes);
        let before = step_time(pick(anchor, start, end), zone, &offset, None);
        let after = step_time(pick(anchor, start + by, end + by), zone, &offset, None);
        prop_assert_eq!(after.requested(), before.requested() + by);
        let clocked = step_time(pick(anchor, start + by, end + by), zone, &offset, at);
        let day = (before.requested() + by).date();
        let wall = at.map_or((before.requested() + by).time(), |c| c.time());
        prop_assert_eq!(clocked.requested(), day.and_time(wall));
        check_instant(&clocked, zone, day.and_time(wall))?;
    }
}

#[test]
fn the_aimed_cases_find_every_kind_of_change() {
    let days = change_days();
    // Paris, New York, Sydney, Lord Howe change twice a year for 16 years; UTC never.
    assert_eq!(days.len(), 4 * 2 * 16 * 2);
    let paris: Vec<_> = days
        .iter()
        .filter(|(z, _)| *z == chrono_tz::Europe::Paris)
        .map(|(_, d)| d.to_string())
        .collect();
    assert!(paris.contains(&"2026-03-29".to_owned()));
    assert!(paris.contains(&"2026-10-25".to_owned()));
}
