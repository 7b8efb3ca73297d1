//! The small values a step is made of: its key, its clock time and its policies.

use chrono::{NaiveTime, Timelike};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::string_value;
use crate::domain::DeliveryEvent;

const STEP_KEY_MAX: usize = 40;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "a step key is 1 to 40 characters: lowercase letters, digits, '_' and '-', \
     starting with a letter or digit (e.g. 'invitation' or 'reminder-1d')"
)]
pub struct StepKeyError;

/// A step's key, unique in its journey and chosen by the user: `[a-z0-9][a-z0-9_-]{0,39}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StepKey(String);

impl StepKey {
    pub fn parse(s: &str) -> Result<Self, StepKeyError> {
        let mut chars = s.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        let rest_ok =
            chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if first_ok && rest_ok && s.len() <= STEP_KEY_MAX {
            Ok(Self(s.to_owned()))
        } else {
            Err(StepKeyError)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_value!(StepKey, "^[a-z0-9][a-z0-9_-]{0,39}$", "invitation");

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a local time such as '10:00' (HH:MM, 00:00 to 23:59)")]
pub struct LocalClockError;

/// A wall-clock time of day in the event's time zone, to the minute (`"10:00"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LocalClock(NaiveTime);

impl LocalClock {
    pub fn parse(s: &str) -> Result<Self, LocalClockError> {
        let (h, m) = s.split_once(':').ok_or(LocalClockError)?;
        let two_digits = |p: &str| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit());
        if !two_digits(h) || !two_digits(m) {
            return Err(LocalClockError);
        }
        let (h, m) = (
            h.parse().map_err(|_| LocalClockError)?,
            m.parse().map_err(|_| LocalClockError)?,
        );
        Self::new(h, m).ok_or(LocalClockError)
    }

    /// `None` unless `hour < 24` and `minute < 60`.
    pub fn new(hour: u32, minute: u32) -> Option<Self> {
        NaiveTime::from_hms_opt(hour, minute, 0).map(Self)
    }

    pub fn time(self) -> NaiveTime {
        self.0
    }

    pub fn as_str(&self) -> String {
        format!("{:02}:{:02}", self.0.hour(), self.0.minute())
    }
}

string_value!(LocalClock, "^([01][0-9]|2[0-3]):[0-5][0-9]$", "10:00");

/// What a step's time is relative to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Anchor {
    /// The event's local `starts_at`.
    #[default]
    EventStart,
    /// The event's local `ends_at`.
    EventEnd,
    /// The local `deadline` of the event's RSVP form ("7 days before the deadline"): a step
    /// anchored to it waits while the event has no deadline, and moves when the deadline does.
    RsvpDeadline,
}

/// What happens to a step whose time has passed when it is (re)scheduled, e.g. after the event
/// moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WhenMissed {
    /// Not sent; recorded on the timeline as skipped.
    #[default]
    Skip,
    /// Sent at once.
    SendNow,
}

/// What a step does for guests added after it was sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LateEntry {
    /// Nothing: they start with the next step.
    #[default]
    Skip,
    /// They get it on joining, while it is the latest step sent.
    CatchUp,
}

/// The state an earlier step's message did not bring a guest to, for a follow-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotReached {
    Delivered,
    Opened,
    Clicked,
}

impl NotReached {
    /// The delivery event that would have reached the state.
    pub fn delivery_event(self) -> DeliveryEvent {
        match self {
            NotReached::Delivered => DeliveryEvent::Delivered,
            NotReached::Opened => DeliveryEvent::Opened,
            NotReached::Clicked => DeliveryEvent::Clicked,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_keys_are_short_lowercase_words() {
        for good in [
            "a",
            "0",
            "invitation",
            "reminder-1d",
            "day_of",
            &"x".repeat(40),
        ] {
            let key = StepKey::parse(good).expect(good);
            assert_eq!(key.as_str(), good);
            assert_eq!(key.to_string(), good);
        }
        let long = "x".repeat(41);
        for bad in ["", "-a", "_a", "Invitation", "a b", "é", "a.b", &long] {
            assert!(StepKey::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn step_keys_are_json_strings() {
        let key: StepKey = serde_json::from_str("\"day-of\"").expect("key");
        assert_eq!(serde_json::to_string(&key).expect("json"), "\"day-of\"");
        let err = serde_json::from_str::<StepKey>("\"Day Of\"").expect_err("refused");
        assert!(err.to_string().contains("1 to 40 characters"), "{err}");
    }

    #[test]
    fn local_clocks_are_hh_mm() {
        let ten = LocalClock::parse("10:00").expect("10:00");
        assert_eq!(ten.time(), NaiveTime::from_hms_opt(10, 0, 0).expect("time"));
        assert_eq!(
            LocalClock::parse("00:00").expect("midnight").as_str(),
            "00:00"
        );
        assert_eq!(
            LocalClock::parse("23:59").expect("late").to_string(),
            "23:59"
        );
        for bad in [
            "", "9:00", "24:00", "12:60", "10:00:00", "10h00", "1000", "+1:00", " 10:00",
        ] {
            assert!(LocalClock::parse(bad).is_err(), "{bad}");
        }
        let json: LocalClock = serde_json::from_str("\"07:05\"").expect("json");
        assert_eq!(serde_json::to_value(json).expect("out"), "07:05");
        assert!(serde_json::from_str::<LocalClock>("\"7:05\"").is_err());
    }

    #[test]
    fn policies_are_snake_case_with_defaults() {
        assert_eq!(Anchor::default(), Anchor::EventStart);
        assert_eq!(WhenMissed::default(), WhenMissed::Skip);
        assert_eq!(LateEntry::default(), LateEntry::Skip);
        for (value, text) in [
            (serde_json::to_value(Anchor::EventEnd), "event_end"),
            (serde_json::to_value(WhenMissed::SendNow), "send_now"),
            (serde_json::to_value(LateEntry::CatchUp), "catch_up"),
            (serde_json::to_value(NotReached::Opened), "opened"),
        ] {
            assert_eq!(value.expect("json"), text);
        }
        let anchor: Anchor = serde_json::from_str("\"event_start\"").expect("anchor");
        assert_eq!(anchor, Anchor::EventStart);
        assert!(serde_json::from_str::<WhenMissed>("\"later\"").is_err());
        assert_eq!(NotReached::Clicked.delivery_event(), DeliveryEvent::Clicked);
    }
}
