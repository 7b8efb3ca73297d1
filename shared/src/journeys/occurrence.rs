//! A step's occurrence: the one time an event's step is (or was) sent, with its status, its
//! schedule and its campaign; and the plan that brings the occurrences of an event in line
//! with its live record and its active journey (pure: [`plan_sync`]).
//!
//! Rules of the plan (the product's contract):
//! - A step's time always follows from the *live* event (its times, zone and status) and the
//!   journey frozen in the active snapshot. An occurrence is scheduled, moved, skipped or
//!   cancelled to match; one `sending` or `sent` is never touched again, however often the
//!   event moves (a guest gets a step at most once).
//! - A step whose time has passed when it is activated or moved follows its `when_missed`:
//!   `skip` (recorded, with why) or `send_now`. A skipped step whose time is in the future
//!   again (the event moved later) is scheduled again.
//! - A cancelled event: every pending occurrence is cancelled, and the steps marked
//!   `on_cancel` are sent now. A cancelled event stays cancelled.
//! - A step turned off or removed from the journey: its pending occurrence is cancelled; one
//!   turned on again later is scheduled again.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    DstAdjustment, EventTimes, ResolvedJourney, ResolvedStep, StepKey, StepTime, WhenMissed,
};
use crate::ids::{CampaignId, EventId, TenantId};

/// Where an occurrence stands.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum OccurrenceStatus {
    /// Waiting for its time (a schedule will fire it).
    Scheduled,
    /// Its campaign is sending.
    Sending,
    /// Its campaign finished.
    Sent,
    /// Its time passed before it could be sent (`when_missed: skip`).
    Skipped,
    /// The event was cancelled, or the step turned off.
    Cancelled,
}

impl OccurrenceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Skipped => "skipped",
            Self::Cancelled => "cancelled",
        }
    }

    /// Sending or sent: never changed by a move again.
    pub fn started(self) -> bool {
        matches!(self, Self::Sending | Self::Sent)
    }
}

/// A move of a scheduled step (the event moved).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Move {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// When it was moved.
    pub at: DateTime<Utc>,
}

/// The most moves an occurrence keeps (the latest).
pub const MAX_MOVES: usize = 20;

/// One step of one event, as it stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Occurrence {
    pub key: StepKey,
    pub tenant_id: TenantId,
    pub event_id: EventId,
    pub status: OccurrenceStatus,
    /// When it is (or was) due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<DateTime<Utc>>,
    /// `due_at` on the event's wall clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_local: Option<NaiveDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adjusted: Option<DstAdjustment>,
    /// The event version its time follows.
    pub event_version: u64,
    /// The campaign the step sends as (the same for the same event and step, whenever sent).
    pub campaign_id: CampaignId,
    /// The step as it was when it started sending (later edits of the journey leave it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition: Option<ResolvedStep>,
    /// Why it was skipped, cancelled or sent now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default)]
    pub moves: Vec<Move>,
    pub version: u64,
    pub updated_at: DateTime<Utc>,
}

/// The campaign a step of an event sends as: derived from the event and the step, never from
/// its time, so each guest's message of a step has one id however often the event moves.
pub fn step_campaign(event: EventId, key: &StepKey) -> CampaignId {
    CampaignId::derived(&["journey", &event.to_string(), key.as_str()])
}

/// The schedule of a step's occurrence: `hj-{event}-{digest of the key}` (at most 64
/// characters, as EventBridge Scheduler takes).
pub fn schedule_name(event: EventId, key: &StepKey) -> String {
    format!(
        "hj-{event}-{}",
        &crate::digest::sha256_hex(key.as_str())[..12]
    )
}

/// What the live event is, for the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveEvent {
    pub id: EventId,
    pub version: u64,
    pub times: EventTimes,
    pub cancelled: bool,
}

/// What to do to one occurrence.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Schedule it (first time, again, or moved) at `at`.
    Schedule {
        key: StepKey,
        at: StepTime,
        /// Its time before, when it moves.
        previous: Option<DateTime<Utc>>,
    },
    /// Send it now.
    SendNow { key: StepKey, reason: String },
    /// Its time passed: skipped.
    Skip {
        key: StepKey,
        at: StepTime,
        reason: String,
    },
    /// No longer to be sent.
    Cancel { key: StepKey, reason: String },
}

impl Action {
    pub fn key(&self) -> &StepKey {
        match self {
            Self::Schedule { key, .. }
            | Self::SendNow { key, .. }
            | Self::Skip { key, .. }
            | Self::Cancel { key, .. } => key,
        }
    }
}

/// The actions that bring `occurrences` in line with `event` and `journey` at `now`.
pub fn plan_sync(
    journey: &ResolvedJourney,
    event: &LiveEvent,
    occurrences: &[Occurrence],
    now: DateTime<Utc>,
) -> Vec<Action> {
    let by_key: BTreeMap<&StepKey, &Occurrence> = occurrences.iter().map(|o| (&o.key, o)).collect();
    let mut out = Vec::new();
    for step in &journey.steps {
        let occurrence = by_key.get(&step.key).copied();
        let status = occurrence.map(|o| o.status);
        if status.is_some_and(OccurrenceStatus::started) {
            continue;
        }
        let key = step.key.clone();
        if event.cancelled {
            if step.enabled && step.on_cancel {
                if status != Some(OccurrenceStatus::Scheduled)
                    || occurrence.and_then(|o| o.due_at).is_none_or(|d| d > now)
                {
                    out.push(Action::SendNow {
                        key,
                        reason: "the event was cancelled".into(),
                    });
                }
            } else if step.enabled && matches!(status, None | Some(OccurrenceStatus::Scheduled)) {
                out.push(Action::Cancel {
                    key,
                    reason: "the event was cancelled".into(),
                });
            }
            continue;
        }
        let off = if !step.enabled {
            Some("the step was turned off")
        } else if step.on_cancel {
            Some("the step is sent only if the event is cancelled")
        } else if event.times.base(step.anchor).is_none() {
            Some("the event's RSVP form has no deadline to count from")
        } else {
            None
        };
        let Some(at) = step.time(&event.times).filter(|_| off.is_none()) else {
            if status == Some(OccurrenceStatus::Scheduled) {
                out.push(Action::Cancel {
                    key,
                    reason: off.unwrap_or("the step was turned off").into(),
                });
            }
            continue;
        };
        let due = occurrence.and_then(|o| o.due_at);
        let pending = status == Some(OccurrenceStatus::Scheduled);
        if at.utc >= now {
            if !pending || due != Some(at.utc) {
                out.push(Action::Schedule {
                    key,
                    at,
                    previous: due.filter(|_| pending),
                });
            }
            continue;
        }
        // Its time has passed. Already due (its schedule fires, or it was sent now): leave it.
        if pending && due.is_some_and(|d| d <= now) {
            continue;
        }
        if status == Some(OccurrenceStatus::Skipped) && due == Some(at.utc) {
            continue;
        }
        let moved = pending || status == Some(OccurrenceStatus::Skipped);
        let reason = if moved {
            "its new time had already passed when the event moved"
        } else {
            "its time had already passed when the journey was activated"
        };
        match step.when_missed {
            WhenMissed::SendNow => out.push(Action::SendNow {
                key,
                reason: format!("{reason}: sent now (when_missed: send_now)"),
            }),
            WhenMissed::Skip => {
                if status != Some(OccurrenceStatus::Skipped) || due != Some(at.utc) {
                    out.push(Action::Skip {
                        key,
                        at,
                        reason: format!("{reason} (when_missed: skip)"),
                    });
                }
            }
        }
    }
    // Occurrences of steps no longer in the journey.
    for o in occurrences {
        if o.status == OccurrenceStatus::Scheduled && journey.step(&o.key).is_none() {
            out.push(Action::Cancel {
                key: o.key.clone(),
                reason: if event.cancelled {
                    "the event was cancelled".into()
                } else {
                    "the step was removed from the journey".into()
                },
            });
        }
    }
    out
}

#[cfg(test)]
#[path = "occurrence_tests.rs"]
mod tests;
