//! EventBridge Scheduler's one-time schedules, fired locally: moto stores schedules but never
//! runs them, so the local stack looks for due `at(...)` schedules every second, sends their
//! input to their target queue (one of this stack's) and deletes them, as
//! `ActionAfterCompletion: DELETE` does.
//!
//! The local stack also lets a person (or the browser test) move the clock on for one
//! schedule: `GET /_local/schedules` lists the pending ones and
//! `POST /_local/schedules/{name}/fire` fires one now, as if its time had come (a journey
//! step, a conversation's escalation).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
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

/// The schedules of this stack's queues, and firing them.
#[derive(Clone)]
pub struct Clock {
    scheduler: aws_sdk_scheduler::Client,
    sqs: aws_sdk_sqs::Client,
    /// Queue ARN → URL, for the queues this stack created.
    queues: Arc<HashMap<String, String>>,
}

impl Clock {
    pub fn new(physical: &Physical, sdk: &aws_config::SdkConfig) -> Self {
        let queues = physical
            .attributes
            .iter()
            .filter_map(|(name, arn)| {
                let logical = name.strip_suffix(".Arn")?;
                arn.starts_with("arn:aws:sqs:")
                    .then(|| Some((arn.clone(), physical.refs.get(logical)?.clone())))
                    .flatten()
            })
            .collect();
        Self {
            scheduler: aws_sdk_scheduler::Client::new(sdk),
            sqs: aws_sdk_sqs::Client::new(sdk),
            queues: Arc::new(queues),
        }
    }

    /// `GET /_local/schedules` and `POST /_local/schedules/{name}/fire`.
    pub fn routes<S: Clone + Send + Sync + 'static>(self) -> Router<S> {
        Router::new()
            .route("/_local/schedules", get(list_route))
            .route("/_local/schedules/{name}/fire", post(fire_route))
            .with_state(self)
    }

    /// The pending one-time schedules of this stack's queues: (name, time, zone).
    pub async fn pending(&self) -> anyhow::Result<Vec<(String, String, String)>> {
        let mut out = Vec::new();
        let listed = self.scheduler.list_schedules().send().await?;
        for summary in listed.schedules() {
            let Some(name) = summary.name() else { continue };
            let schedule = self.scheduler.get_schedule().name(name).send().await?;
            let ours = schedule
                .target()
                .is_some_and(|t| self.queues.contains_key(t.arn()));
            if let (true, Some(expression)) = (ours, schedule.schedule_expression()) {
                if at_time(expression).is_none() {
                    continue;
                }
                out.push((
                    name.to_owned(),
                    expression.to_owned(),
                    schedule
                        .schedule_expression_timezone()
                        .unwrap_or("UTC")
                        .to_owned(),
                ));
            }
        }
        Ok(out)
    }

    /// Fires the schedule `name` if it is due, or whatever its time when `now` is set: its
    /// input to its target queue, then the schedule deleted. False when there is no such
    /// schedule of this stack's queues (or it is not due).
    pub async fn fire(&self, name: &str, now: bool) -> anyhow::Result<bool> {
        let schedule = match self.scheduler.get_schedule().name(name).send().await {
            Ok(s) => s,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                return Ok(false);
            }
            Err(e) => return Err(e.into()),
        };
        let Some(target) = schedule.target() else {
            return Ok(false);
        };
        let Some(url) = self.queues.get(target.arn()) else {
            return Ok(false);
        };
        let zone = schedule.schedule_expression_timezone().unwrap_or("UTC");
        let due = schedule
            .schedule_expression()
            .and_then(at_time)
            .and_then(|at| instant_of(at, zone))
            .is_some_and(|at| now || at <= Utc::now());
        if !due {
            return Ok(false);
        }
        self.sqs
            .send_message()
            .queue_url(url)
            .message_body(target.input().unwrap_or_default())
            .send()
            .await?;
        // Fired by the loop and on request at once, the second delete finds it gone: done.
        match self.scheduler.delete_schedule().name(name).send().await {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                return Ok(false);
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(schedule = name, "local schedule fired");
        Ok(true)
    }
}

async fn list_route(State(clock): State<Clock>) -> Response {
    match clock.pending().await {
        Ok(found) => axum::Json(
            found
                .into_iter()
                .map(|(name, at, zone)| serde_json::json!({"name": name, "expression": at, "zone": zone}))
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(e) => (StatusCode::BAD_GATEWAY, format!("{e:#}")).into_response(),
    }
}

async fn fire_route(State(clock): State<Clock>, Path(name): Path<String>) -> Response {
    match clock.fire(&name, true).await {
        Ok(true) => StatusCode::ACCEPTED.into_response(),
        Ok(false) => (StatusCode::NOT_FOUND, "no such schedule of this stack").into_response(),
        Err(e) => (StatusCode::BAD_GATEWAY, format!("{e:#}")).into_response(),
    }
}

/// Starts firing the due schedules that target this stack's queues.
pub fn start(clock: Clock) -> Firer {
    let task = tokio::spawn(async move {
        loop {
            if let Err(e) = fire_due(&clock).await {
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

async fn fire_due(clock: &Clock) -> anyhow::Result<()> {
    let listed = clock.scheduler.list_schedules().send().await?;
    for summary in listed.schedules() {
        if let Some(name) = summary.name() {
            clock.fire(name, false).await?;
        }
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
