//! EventBridge Scheduler one-time schedules that put a job on the sender queue at a time and
//! then delete themselves (`ActionAfterCompletion: DELETE`): a scheduled campaign's plan job, a
//! journey step's occurrence.
//!
//! Writing a schedule is idempotent: [`OneTimeSchedules::put`] creates it, or replaces the one
//! of that name (a retried request, or a move of the event), and [`OneTimeSchedules::delete`]
//! of one that is gone is done. A schedule is written in the time zone it belongs to (an
//! event's steps in the event's zone, so the console shows the time as the organiser thinks
//! of it), except for an instant whose local time occurs twice in that zone (the hour the
//! clocks go back), which is written in UTC so the schedule fires at the one instant meant.

use anyhow::Context as _;
use aws_sdk_scheduler::types::{
    ActionAfterCompletion, FlexibleTimeWindow, FlexibleTimeWindowMode, Target,
};
use chrono::{DateTime, TimeZone as _, Utc};

use crate::aws::LazyClient;

/// The most characters a schedule name takes.
pub const MAX_NAME: usize = 64;

/// Writes and deletes one-time schedules targeting one queue.
#[derive(Debug, Clone)]
pub struct OneTimeSchedules {
    pub client: LazyClient<aws_sdk_scheduler::Client>,
    /// The queue the schedules put their input on (the sender queue's ARN).
    pub target_arn: String,
    /// The role EventBridge Scheduler takes to send to it.
    pub role_arn: String,
}

/// How a schedule's `at(...)` expression is written: the local time and its zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct At {
    pub expression: String,
    pub zone: String,
}

/// The `at(...)` expression of `at` in `zone` (UTC when the local time is ambiguous there).
pub fn at_expression(at: DateTime<Utc>, zone: Option<chrono_tz::Tz>) -> At {
    let utc = || At {
        expression: format!("at({})", at.format("%Y-%m-%dT%H:%M:%S")),
        zone: "UTC".to_owned(),
    };
    let Some(zone) = zone else { return utc() };
    let local = at.with_timezone(&zone).naive_local();
    match zone.from_local_datetime(&local) {
        chrono::LocalResult::Single(_) => At {
            expression: format!("at({})", local.format("%Y-%m-%dT%H:%M:%S")),
            zone: zone.name().to_owned(),
        },
        _ => utc(),
    }
}

impl OneTimeSchedules {
    /// Creates the schedule `name`, or replaces the one of that name: at `at` (written in
    /// `zone`), it puts `input` on the target queue, then deletes itself. `exists` says which
    /// to try first (UpdateSchedule for a schedule being moved, CreateSchedule for a new one),
    /// so one call does it unless the guess is wrong.
    pub async fn put(
        &self,
        name: &str,
        at: DateTime<Utc>,
        zone: Option<chrono_tz::Tz>,
        input: &str,
        exists: bool,
    ) -> anyhow::Result<()> {
        let when = at_expression(at, zone);
        let target = Target::builder()
            .arn(&self.target_arn)
            .role_arn(&self.role_arn)
            .input(input)
            .build()?;
        let window = FlexibleTimeWindow::builder()
            .mode(FlexibleTimeWindowMode::Off)
            .build()?;
        let create = || {
            self.client
                .create_schedule()
                .name(name)
                .schedule_expression(&when.expression)
                .schedule_expression_timezone(&when.zone)
                .flexible_time_window(window.clone())
                .target(target.clone())
                .action_after_completion(ActionAfterCompletion::Delete)
                .send()
        };
        let update = || {
            self.client
                .update_schedule()
                .name(name)
                .schedule_expression(&when.expression)
                .schedule_expression_timezone(&when.zone)
                .flexible_time_window(window.clone())
                .target(target.clone())
                .action_after_completion(ActionAfterCompletion::Delete)
                .send()
        };
        if exists {
            match update().await {
                Ok(_) => return Ok(()),
                // Fired (and deleted itself) or never made: create it.
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_resource_not_found_exception()) => {}
                Err(e) => return Err(anyhow::Error::new(e).context("Scheduler UpdateSchedule")),
            }
        }
        match create().await {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conflict_exception()) =>
            {
                update().await.context("Scheduler UpdateSchedule")?;
                Ok(())
            }
            Err(e) => Err(anyhow::Error::new(e).context("Scheduler CreateSchedule")),
        }
    }

    /// Deletes the schedule `name`; one that is gone (fired, or deleted before) is done.
    pub async fn delete(&self, name: &str) -> anyhow::Result<()> {
        match self.client.delete_schedule().name(name).send().await {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(anyhow::Error::new(e).context("Scheduler DeleteSchedule")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("time")
            .with_timezone(&Utc)
    }

    #[test]
    fn written_in_the_zone_unless_the_local_time_repeats_there() {
        let paris = chrono_tz::Europe::Paris;
        assert_eq!(
            at_expression(utc("2027-05-01T08:00:00Z"), Some(paris)),
            At {
                expression: "at(2027-05-01T10:00:00)".into(),
                zone: "Europe/Paris".into()
            }
        );
        // 02:30 happens twice in Paris on 25 October 2026 (00:30 and 01:30 UTC).
        for instant in ["2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z"] {
            assert_eq!(
                at_expression(utc(instant), Some(paris)).zone,
                "UTC",
                "{instant}"
            );
        }
        assert_eq!(
            at_expression(utc("2027-05-01T08:00:00Z"), None).expression,
            "at(2027-05-01T08:00:00)"
        );
    }
}
