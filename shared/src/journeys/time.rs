//! When a step is due: rules 1–4 of the module documentation.

use chrono::{DateTime, LocalResult, NaiveDateTime, Offset as _, TimeDelta, TimeZone as _, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Anchor, LocalClock, Offset, ResolvedJourney, ResolvedStep};

/// What a step's time is computed from: the event's local times, its zone and its creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventTimes {
    /// Local to `zone`.
    pub starts_at: NaiveDateTime,
    /// Local to `zone`.
    pub ends_at: NaiveDateTime,
    pub zone: Tz,
    pub created_at: DateTime<Utc>,
    /// The RSVP form's deadline, local to `zone`, if it has one.
    pub rsvp_deadline: Option<NaiveDateTime>,
}

/// How the local time the rules asked for was changed to become an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DstAdjustment {
    /// The local time did not exist (the clocks jumped over it): moved later by the jump.
    ShiftedForward {
        requested: NaiveDateTime,
        /// How much later, in seconds (the length of the jump).
        seconds: i64,
    },
    /// The local time occurred twice (the clocks went back over it): the first occurrence.
    FirstOccurrence { requested: NaiveDateTime },
}

/// When a step is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StepTime {
    pub utc: DateTime<Utc>,
    /// The wall-clock time in the event's zone at `utc`.
    pub local: NaiveDateTime,
    /// Set when the requested local time did not exist or occurred twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adjusted: Option<DstAdjustment>,
}

impl StepTime {
    /// The local time rules 1–3 asked for, before any daylight-saving adjustment.
    pub fn requested(&self) -> NaiveDateTime {
        match self.adjusted {
            Some(
                DstAdjustment::ShiftedForward { requested, .. }
                | DstAdjustment::FirstOccurrence { requested },
            ) => requested,
            None => self.local,
        }
    }
}

/// When a step anchored to the event is due: rules 1–4 of the module documentation.
pub fn step_time(
    base: NaiveDateTime,
    zone: Tz,
    offset: &Offset,
    at: Option<LocalClock>,
) -> StepTime {
    to_instant(wall_clock(base, offset, at), zone)
}

impl EventTimes {
    /// The local time an anchor names; `None` for the RSVP deadline of an event without one.
    pub fn base(&self, anchor: Anchor) -> Option<NaiveDateTime> {
        match anchor {
            Anchor::EventStart => Some(self.starts_at),
            Anchor::EventEnd => Some(self.ends_at),
            Anchor::RsvpDeadline => self.rsvp_deadline,
        }
    }
}

/// Rules 2–3: the local date-time `offset` and `at` make of the anchor's local `base`. Beyond
/// the calendar's range (years past ±262,000) it stops at the range's end.
pub fn wall_clock(base: NaiveDateTime, offset: &Offset, at: Option<LocalClock>) -> NaiveDateTime {
    let moved = base
        .checked_add_signed(TimeDelta::days(offset.days()))
        .and_then(|date_moved| date_moved.checked_add_signed(offset.time()))
        .unwrap_or(if offset.is_negative() {
            NaiveDateTime::MIN
        } else {
            NaiveDateTime::MAX
        });
    match at {
        Some(clock) => moved.date().and_time(clock.time()),
        None => moved,
    }
}

/// Rule 4: the instant of a local time in `zone` — shifted forward by the jump when the clocks
/// skipped it, the first occurrence when they went back over it.
pub fn to_instant(local: NaiveDateTime, zone: Tz) -> StepTime {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(t) => StepTime {
            utc: t.with_timezone(&Utc),
            local,
            adjusted: None,
        },
        LocalResult::Ambiguous(a, b) => StepTime {
            utc: a.min(b).with_timezone(&Utc),
            local,
            adjusted: Some(DstAdjustment::FirstOccurrence { requested: local }),
        },
        LocalResult::None => {
            // Read the local time with the offset in force before the jump: the instant is
            // then as far past the jump as the local time was into the gap.
            let day_before = local
                .checked_sub_signed(TimeDelta::days(1))
                .unwrap_or(local);
            let before = zone.offset_from_utc_datetime(&day_before).fix();
            let utc = local.checked_sub_offset(before).unwrap_or(local).and_utc();
            let shifted = local_parts(utc, zone);
            StepTime {
                utc,
                local: shifted,
                adjusted: (shifted != local).then(|| DstAdjustment::ShiftedForward {
                    requested: local,
                    seconds: (shifted - local).num_seconds(),
                }),
            }
        }
    }
}

/// The wall-clock time in `zone` at `utc`.
pub fn local_parts(utc: DateTime<Utc>, zone: Tz) -> NaiveDateTime {
    let utc = utc.naive_utc();
    let offset = zone.offset_from_utc_datetime(&utc).fix();
    // Only at the calendar's very ends is there no local time: the UTC one stands in.
    utc.checked_add_offset(offset).unwrap_or(utc)
}

/// Whether `local` occurs twice in `zone` (the clocks went back over it). A schedule at such a
/// time is better set in UTC, as the zone's name alone does not say which occurrence.
pub fn is_ambiguous(local: NaiveDateTime, zone: Tz) -> bool {
    matches!(zone.from_local_datetime(&local), LocalResult::Ambiguous(..))
}

impl ResolvedStep {
    /// When the step is due for `event`; `None` for a step sent on cancellation.
    pub fn time(&self, event: &EventTimes) -> Option<StepTime> {
        if self.on_cancel {
            return None;
        }
        let base = event.base(self.anchor)?;
        Some(step_time(base, event.zone, &self.offset, self.at))
    }
}

impl ResolvedJourney {
    /// Every step's time for `event`, in the journey's order (`None` for steps sent on
    /// cancellation).
    pub fn times(&self, event: &EventTimes) -> Vec<Option<StepTime>> {
        self.steps.iter().map(|s| s.time(event)).collect()
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use chrono_tz::America::New_York;
    use chrono_tz::Australia::Sydney;
    use chrono_tz::Europe::Paris;

    use super::*;

    pub(super) fn at(s: &str) -> NaiveDateTime {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn offset(s: &str) -> Offset {
        Offset::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn clock(h: u32, m: u32) -> Option<LocalClock> {
        Some(LocalClock::new(h, m).expect("clock"))
    }

    /// The step `offset`/`at` from an event starting at `start` in `zone`.
    fn from_start(start: &str, zone: Tz, off: &str, clock: Option<LocalClock>) -> StepTime {
        let start = at(start);
        step_time(start, zone, &offset(off), clock)
    }

    #[test]
    fn days_move_the_date_and_keep_the_wall_clock_across_dst() {
        // 30 days before an event in May, at 10:00: in March, before the clocks changed.
        let t = from_start("2026-05-01T18:00:00", Paris, "-P30D", clock(10, 0));
        assert_eq!(t.local, at("2026-04-01T10:00:00"));
        assert_eq!(t.utc, utc("2026-04-01T08:00:00Z"));
        let t = from_start("2026-04-15T18:00:00", Paris, "-P30D", None);
        assert_eq!(t.local, at("2026-03-16T18:00:00"));
        assert_eq!(t.utc, utc("2026-03-16T17:00:00Z"), "winter time in March");
        // A day after, across the night the clocks go forward: 23 hours later, same wall clock.
        let t = from_start("2026-03-28T18:00:00", Paris, "P1D", None);
        assert_eq!(t.local, at("2026-03-29T18:00:00"));
        assert_eq!(t.utc, utc("2026-03-29T16:00:00Z"));
        assert_eq!(t.adjusted, None);
    }

    #[test]
    fn the_time_part_moves_the_wall_clock_not_elapsed_time() {
        // Two hours before 04:00 on the night the clocks go forward is 02:00 on the clock...
        // which does not exist: 03:00. Three hours before is 01:00 (two hours elapsed).
        let t = from_start("2026-03-29T04:00:00", Paris, "-PT3H", None);
        assert_eq!(t.local, at("2026-03-29T01:00:00"));
        assert_eq!(t.utc, utc("2026-03-29T00:00:00Z"));
        let t = from_start("2026-03-29T18:00:00", Paris, "-PT2H", None);
        assert_eq!(t.local, at("2026-03-29T16:00:00"));
        let t = from_start("2026-03-28T18:00:00", Paris, "PT24H", None);
        assert_eq!(t.local, at("2026-03-29T18:00:00"));
        let t = from_start("2026-03-27T09:15:00", Paris, "P1DT12H30M", None);
        assert_eq!(t.local, at("2026-03-28T21:45:00"));
    }

    #[test]
    fn a_clock_time_replaces_the_wall_clock_of_the_day_landed_on() {
        let t = from_start("2026-06-10T23:30:00", Paris, "PT1H", clock(9, 0));
        assert_eq!(
            t.local,
            at("2026-06-11T09:00:00"),
            "the offset crossed midnight"
        );
        let t = from_start("2026-06-10T00:30:00", Paris, "-PT1H", clock(9, 0));
        assert_eq!(t.local, at("2026-06-09T09:00:00"));
        let t = from_start("2026-06-10T18:00:00", Paris, "PT0S", clock(8, 15));
        assert_eq!(
            t.local,
            at("2026-06-10T08:15:00"),
            "before the anchor, same day"
        );
    }

    #[test]
    fn the_anchor_chooses_start_or_end() {
        let (start, end) = (at("2026-06-10T18:00:00"), at("2026-06-12T17:00:00"));
        let event = EventTimes {
            starts_at: start,
            ends_at: end,
            zone: Paris,
            created_at: utc("2026-01-01T00:00:00Z"),
            rsvp_deadline: Some(at("2026-05-31T23:59:00")),
        };
        let base = |a| event.base(a).expect("anchored");
        let t = step_time(base(Anchor::EventEnd), Paris, &offset("P1D"), clock(10, 0));
        assert_eq!(t.local, at("2026-06-13T10:00:00"));
        let t = step_time(base(Anchor::EventStart), Paris, &offset("P1D"), None);
        assert_eq!(t.local, at("2026-06-11T18:00:00"));
        let t = step_time(
            base(Anchor::RsvpDeadline),
            Paris,
            &offset("-P7D"),
            clock(9, 0),
        );
        assert_eq!(t.local, at("2026-05-24T09:00:00"));
        let none = EventTimes {
            rsvp_deadline: None,
            ..event
        };
        assert_eq!(none.base(Anchor::RsvpDeadline), None);
    }

    /// (local asked, local given, UTC, adjustment) on the days the clocks change.
    #[test]
    fn dst_days_shift_gaps_forward_and_take_the_first_of_two() {
        let gap = |requested: &str, seconds| {
            Some(DstAdjustment::ShiftedForward {
                requested: at(requested),
                seconds,
            })
        };
        let twice = |requested: &str| {
            Some(DstAdjustment::FirstOccurrence {
                requested: at(requested),
            })
        };
        let cases = [
            (
                Paris,
                "2026-03-29T02:30:00",
                "2026-03-29T03:30:00",
                "2026-03-29T01:30:00Z",
                gap("2026-03-29T02:30:00", 3600),
            ),
            (
                Paris,
                "2026-03-29T02:00:00",
                "2026-03-29T03:00:00",
                "2026-03-29T01:00:00Z",
                gap("2026-03-29T02:00:00", 3600),
            ),
            (
                Paris,
                "2026-03-29T03:00:00",
                "2026-03-29T03:00:00",
                "2026-03-29T01:00:00Z",
                None,
            ),
            (
                Paris,
                "2026-10-25T02:30:00",
                "2026-10-25T02:30:00",
                "2026-10-25T00:30:00Z",
                twice("2026-10-25T02:30:00"),
            ),
            (
                Paris,
                "2026-10-25T03:00:00",
                "2026-10-25T03:00:00",
                "2026-10-25T02:00:00Z",
                None,
            ),
            (
                New_York,
                "2026-03-08T02:30:00",
                "2026-03-08T03:30:00",
                "2026-03-08T07:30:00Z",
                gap("2026-03-08T02:30:00", 3600),
            ),
            (
                New_York,
                "2026-11-01T01:30:00",
                "2026-11-01T01:30:00",
                "2026-11-01T05:30:00Z",
                twice("2026-11-01T01:30:00"),
            ),
            (
                Sydney,
                "2026-04-05T02:30:00",
                "2026-04-05T02:30:00",
                "2026-04-04T15:30:00Z",
                twice("2026-04-05T02:30:00"),
            ),
            (
                Sydney,
                "2026-10-04T02:30:00",
                "2026-10-04T03:30:00",
                "2026-10-03T16:30:00Z",
                gap("2026-10-04T02:30:00", 3600),
            ),
        ];
        for (zone, asked, local, instant, adjusted) in cases {
            let t = from_start(asked, zone, "PT0S", None);
            assert_eq!(
                (t.local, t.utc, t.adjusted),
                (at(local), utc(instant), adjusted),
                "{zone} {asked}"
            );
            assert_eq!(t.requested(), at(asked));
            assert_eq!(local_parts(t.utc, zone), t.local);
            assert_eq!(
                is_ambiguous(at(asked), zone),
                matches!(adjusted, Some(DstAdjustment::FirstOccurrence { .. }))
            );
        }
        // The same through a clock time: "the day before, at 02:30".
        let t = from_start("2026-03-30T19:00:00", Paris, "-P1D", clock(2, 30));
        assert_eq!(t.local, at("2026-03-29T03:30:00"));
    }

    #[test]
    fn a_half_hour_jump_shifts_by_half_an_hour() {
        let lord_howe = chrono_tz::Australia::Lord_Howe;
        let t = from_start("2026-10-04T02:15:00", lord_howe, "PT0S", None);
        assert_eq!(t.local, at("2026-10-04T02:45:00"));
        assert_eq!(
            t.adjusted
                .map(|a| matches!(a, DstAdjustment::ShiftedForward { seconds: 1800, .. })),
            Some(true)
        );
    }

    #[test]
    fn times_of_a_journey_leave_cancellation_steps_out() {
        let def = |on_cancel| {
            serde_json::from_value::<super::super::StepDef>(serde_json::json!({
                "key": if on_cancel { "cancelled" } else { "reminder" },
                "category": "reminder", "channels": ["email"], "offset": "-P1D",
                "on_cancel": on_cancel,
            }))
            .expect("step")
        };
        let journey = ResolvedJourney {
            steps: [def(false), def(true)]
                .iter()
                .map(|d| ResolvedStep::from_def(d, crate::domain::Layer::Tenant))
                .collect(),
        };
        let start = NaiveDate::from_ymd_opt(2026, 6, 10)
            .and_then(|d| d.and_hms_opt(18, 0, 0))
            .expect("date");
        let event = EventTimes {
            starts_at: start,
            ends_at: start,
            zone: Paris,
            created_at: utc("2026-01-01T00:00:00Z"),
            rsvp_deadline: None,
        };
        let times = journey.times(&event);
        assert_eq!(times[0].map(|t| t.local), Some(at("2026-06-09T18:00:00")));
        assert_eq!(times[1], None);
    }

    #[test]
    fn step_times_serialise_for_the_api() {
        let t = from_start("2026-03-29T02:30:00", Paris, "PT0S", None);
        assert_eq!(
            serde_json::to_value(t).expect("json"),
            serde_json::json!({
                "utc": "2026-03-29T01:30:00Z", "local": "2026-03-29T03:30:00",
                "adjusted": {
                    "kind": "shifted_forward", "requested": "2026-03-29T02:30:00", "seconds": 3600,
                },
            })
        );
        let back: StepTime =
            serde_json::from_value(serde_json::to_value(t).expect("json")).expect("back");
        assert_eq!(back, t);
    }

    #[test]
    fn the_calendar_s_ends_stop_steps_without_panicking() {
        let t = step_time(NaiveDateTime::MAX, Paris, &offset("P400D"), None);
        assert_eq!(
            t.requested(),
            NaiveDateTime::MAX,
            "stops at the calendar's end"
        );
        let t = step_time(NaiveDateTime::MIN, Sydney, &offset("-P400D"), clock(2, 30));
        assert_eq!(
            t.requested(),
            NaiveDateTime::MIN
                .date()
                .and_time(clock(2, 30).expect("clock").time())
        );
    }
}
