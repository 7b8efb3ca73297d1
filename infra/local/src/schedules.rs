//! EventBridge Scheduler's one-time schedules, fired locally: moto stores schedules but never
//! runs them, so the local stack looks for due `at(...)` schedules every second, sends their
//! input to their target queue (one of this stack's) and deletes them, as
//! `ActionAfterCompletion: DELETE` does.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{NaiveDateTime, Utc};

use crate::template::Physical;

/// A running firer; dropping it stops it.
pub struct Firer {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Firer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts firing the due schedules that target this stack's queues.
pub fn start(physical: &Physical, sdk: &aws_config::SdkConfig) -> Firer {
    // Queue ARN → URL, for the queues this stack created.
    let queues: HashMap<String, String> = physical
        .attributes
        .iter()
        .filter_map(|(name, arn)| {
            let logical = name.strip_suffix(".Arn")?;
            arn.starts_with("arn:aws:sqs:")
                .then(|| Some((arn.clone(), physical.refs.get(logical)?.clone())))
                .flatten()
        })
        .collect();
    let scheduler = aws_sdk_scheduler::Client::new(sdk);
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let task = tokio::spawn(async move {
        loop {
            if let Err(e) = fire_due(&scheduler, &sqs, &queues).await {
                tracing::warn!(error = %e, "firing local schedules failed; retrying in 1 s");
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    Firer { task }
}

/// Fires the template's recurring schedules (the CRM sweep) on their rate, as EventBridge
/// Scheduler would: the first time one period after the start.
pub fn start_recurring(
    template: &crate::template::Template,
    physical: &Physical,
    sdk: &aws_config::SdkConfig,
) -> anyhow::Result<Vec<Firer>> {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let mut out = Vec::new();
    for (name, expression, queue, input) in template.recurring_schedules()? {
        let period = rate(&expression)
            .ok_or_else(|| anyhow::anyhow!("{name}: {expression} is not a rate expression"))?;
        let url = physical.get_ref(&queue)?.to_owned();
        let sqs = sqs.clone();
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            loop {
                ticks.tick().await;
                match sqs
                    .send_message()
                    .queue_url(&url)
                    .message_body(&input)
                    .send()
                    .await
                {
                    Ok(_) => tracing::info!(schedule = %name, "local recurring schedule fired"),
                    Err(e) => {
                        tracing::warn!(schedule = %name, error = %e, "firing a local schedule failed")
                    }
                }
            }
        });
        out.push(Firer { task });
    }
    Ok(out)
}

/// The period of a `rate(N unit)` expression.
pub fn rate(expression: &str) -> Option<Duration> {
    let inner = expression.strip_prefix("rate(")?.strip_suffix(')')?;
    let (n, unit) = inner.split_once(' ')?;
    let n: u64 = n.parse().ok().filter(|n| *n > 0)?;
    let seconds = match unit {
        "minute" | "minutes" => 60,
        "hour" | "hours" => 3600,
        "day" | "days" => 86_400,
        _ => return None,
    };
    Some(Duration::from_secs(n * seconds))
}

/// The time of an `at(yyyy-mm-ddThh:mm:ss)` expression (UTC).
pub fn at_time(expression: &str) -> Option<NaiveDateTime> {
    let inner = expression.strip_prefix("at(")?.strip_suffix(')')?;
    NaiveDateTime::parse_from_str(inner, "%Y-%m-%dT%H:%M:%S").ok()
}

/// The instant of a schedule's local time in its zone (as EventBridge Scheduler reads
/// `ScheduleExpressionTimezone`: a time the clocks skip fires at the jump, a repeated one at
/// its first occurrence).
pub fn instant_of(local: NaiveDateTime, zone: &str) -> Option<chrono::DateTime<Utc>> {
    use chrono::TimeZone as _;
    let tz: chrono_tz::Tz = zone.parse().ok()?;
    match tz.from_local_datetime(&local) {
        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => {
            Some(t.with_timezone(&Utc))
        }
        chrono::LocalResult::None => {
            let later = local + chrono::Duration::hours(1);
            tz.from_local_datetime(&later)
                .earliest()
                .map(|t| t.with_timezone(&Utc))
        }
    }
}

async fn fire_due(
    scheduler: &aws_sdk_scheduler::Client,
    sqs: &aws_sdk_sqs::Client,
    queues: &HashMap<String, String>,
) -> anyhow::Result<()> {
    let listed = scheduler.list_schedules().send().await?;
    for summary in listed.schedules() {
        let Some(name) = summary.name() else { continue };
        let schedule = scheduler.get_schedule().name(name).send().await?;
        let Some(target) = schedule.target() else {
            continue;
        };
        let Some(url) = queues.get(target.arn()) else {
            continue;
        };
        let zone = schedule.schedule_expression_timezone().unwrap_or("UTC");
        let due = schedule
            .schedule_expression()
            .and_then(at_time)
            .and_then(|at| instant_of(at, zone))
            .is_some_and(|at| at <= Utc::now());
        if !due {
            continue;
        }
        sqs.send_message()
            .queue_url(url)
            .message_body(target.input().unwrap_or_default())
            .send()
            .await?;
        scheduler.delete_schedule().name(name).send().await?;
        tracing::info!(schedule = name, "local schedule fired");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_one_time_expressions() {
        assert!(super::at_time("at(2027-05-01T18:00:00)").is_some());
        assert!(super::at_time("rate(5 minutes)").is_none());
        assert_eq!(super::rate("rate(15 minutes)").unwrap().as_secs(), 900);
        assert_eq!(super::rate("rate(1 hour)").unwrap().as_secs(), 3600);
        assert!(super::rate("rate(0 minutes)").is_none());
        assert!(super::rate("cron(0 * * * ? *)").is_none());
        let at = super::at_time("at(2027-05-01T10:00:00)").unwrap();
        assert_eq!(
            super::instant_of(at, "Europe/Paris").unwrap().to_rfc3339(),
            "2027-05-01T08:00:00+00:00"
        );
        assert_eq!(
            super::instant_of(at, "UTC").unwrap().to_rfc3339(),
            "2027-05-01T10:00:00+00:00"
        );
    }
}
