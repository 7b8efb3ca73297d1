//! Journeys: the event's life cycle as data — ordered steps, each a template category sent on
//! channels to an audience at a time relative to the event. Pure domain: parsing, layering with
//! provenance, step times and checks; no I/O.
//!
//! # Layers
//!
//! A tenant's standard journey ([`JourneyDef`]) is inherited by every event; an event changes
//! it with [`EventJourneyChanges`]: fields of tenant steps overridden (a step moved, turned
//! off, sent elsewhere) and steps of its own added. [`resolve_journey`] applies them and says,
//! per step, which layer it comes from and which fields the event changed (a field the event
//! names counts as changed even when it repeats the tenant's value: the event has pinned it).
//! Steps turned off stay in the resolved journey with `enabled: false`.
//!
//! # Step time: the contract
//!
//! [`step_time`] computes when a step is due from the event's local `starts_at`/`ends_at`
//! (wall-clock times in the event's time zone), the step's anchor, offset and optional clock
//! time:
//!
//! 1. Start from the anchor's local date-time (`event_start` or `event_end`).
//! 2. The offset's days (a week is seven days) move the local calendar date, keeping the
//!    wall-clock time; its time part (hours, minutes, seconds) then moves the wall-clock time.
//!    Both are counted on the local calendar and clock, never in elapsed UTC time: `-PT2H` from
//!    18:00 is 16:00 local even when the clocks change in between. Daylight-saving changes never
//!    shift a step's local time.
//! 3. A clock time (`at`) replaces the wall-clock time of the resulting local date.
//! 4. The local time becomes an instant in the event's zone. A local time that does not exist
//!    (the clocks jumped over it) is moved forward by the length of the jump: 02:30 on a day the
//!    clocks go from 02:00 to 03:00 becomes 03:30. A local time that occurs twice (the clocks
//!    went back) is the first of the two. Either case is reported in [`StepTime::adjusted`].
//!
//! Offsets are at most 400 days either way and have no years or months (their length varies:
//! give days). A step marked `on_cancel` has no time of its own: it is sent when the event is
//! cancelled.
//!
//! # Checks
//!
//! [`JourneyDef::issues`] and [`EventJourneyChanges::issues`] check one layer's shape when it is
//! written; [`check_journey`] checks the resolved journey against the event: the number of
//! steps, channels, audiences, follow-ups (to an earlier enabled step) and steps due before the
//! event was created.

mod checks;
mod layers;
mod occurrence;
mod offset;
mod steps;
mod sync;
mod time;
mod values;

#[cfg(test)]
mod time_props;

pub use checks::check_journey;
pub use layers::resolve_journey;
pub use occurrence::{
    Action, LiveEvent, MAX_MOVES, Move, Occurrence, OccurrenceStatus, plan_sync, schedule_name,
    step_campaign,
};
pub use offset::{MAX_OFFSET_DAYS, Offset, OffsetError};
pub use steps::{
    EventJourneyChanges, JourneyDef, ResolvedJourney, ResolvedStep, StepAudience, StepChange,
    StepDef,
};
pub use sync::{StepChanged, Synced, Syncer};
pub use time::{
    DstAdjustment, EventTimes, StepTime, is_ambiguous, local_parts, step_time, to_instant,
};
pub use values::{
    Anchor, LateEntry, LocalClock, LocalClockError, NotReached, StepKey, StepKeyError, WhenMissed,
};

/// Most steps a journey may have (a layer's, and the resolved one).
pub const MAX_STEPS: usize = 50;

/// Most channels a step may list.
pub const MAX_CHANNELS: usize = 3;

/// Display, serde (through `parse` and `as_str`) and an OpenAPI string schema with a pattern.
macro_rules! string_value {
    ($name:ident, $pattern:expr, $example:literal) => {
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .pattern(Some($pattern))
                    .examples([serde_json::json!($example)])
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}
use string_value;
