//! What stands between a message and a provider: the circuit breaker and the send rate.
//!
//! - Circuit breaker: [`BREAK_AFTER`] retryable failures in a row in one instance open a
//!   provider's circuit for [`COOL_DOWN`]; every instance skips it until then (it learns the
//!   state when it reports: after [`REPORT_CALLS`] calls, at least [`REPORT_EVERY`] and at
//!   most [`REPORT_AT_MOST`] apart, while it sends). After the cool-down one more
//!   failure opens it again at once (half-open). A new instance learns the circuit's state at
//!   its first report, so it may try a provider whose circuit is open until then.
//! - Health: each instance counts sends and failures per provider and adds them to the shared
//!   health item when it reports: when a circuit opens, at the end of an invocation with
//!   failures, and otherwise as above (or at the end of an invocation, [`REPORT_EVERY`] after
//!   the last report). Counted by calls, not time, so a slow provider costs no more reports
//!   per message than a fast one.
//! - Send rate: a provider with a `send_rate`, and every SES provider (held to the account's
//!   maximum send rate), sends only in stretches of its schedule booked in DynamoDB
//!   (see `Store::book_send_slots`), each message at its own slot, so the rate holds across
//!   every instance. A booking is what the job still has to send (up to [`BOOKING_SECONDS`]
//!   of the schedule): one UpdateItem per job and provider while the provider keeps up. Slots
//!   an instance does not use in time are lost, never spent late.
//! - Lanes: every such schedule is split between bulk and transactional messages (see
//!   [`crate::lanes`]): a job books only its own lane's share of the rate, so campaigns never
//!   book the share kept for transactional messages, and the two shares add up to the rate.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use herald::config::Provider;
use herald::domain::ProviderKind;
use herald::ids::{ProviderId, TenantId};
use herald::store::{HealthDelta, Store, keys};
use tokio::sync::{Mutex, OnceCell};

use crate::lanes::{self, Lane, Split};

/// Retryable failures in a row (in one instance) that open a provider's circuit.
pub const BREAK_AFTER: u32 = 5;
/// How long an open circuit keeps a provider out of use.
pub const COOL_DOWN: Duration = Duration::from_secs(30);
/// The least time between an instance's mid-invocation reports of a provider it uses.
pub const REPORT_EVERY: Duration = Duration::from_secs(5);
/// Calls counted since the last report that make a mid-invocation report due (with
/// [`REPORT_EVERY`] passed): reports cost at most one request per this many messages.
pub const REPORT_CALLS: u64 = 200;
/// The longest an instance that keeps sending goes without reporting a provider (and so
/// without learning whether another instance opened its circuit), however few its calls.
pub const REPORT_AT_MOST: Duration = Duration::from_secs(60);
/// The longest stretch of a provider's schedule one booking takes (a booking is the job's
/// demand for the provider, up to this).
pub const BOOKING_SECONDS: f64 = 10.0;
/// The most messages one booking takes.
pub const BOOKING_MAX: u32 = 1_000;
/// A booking that would start later than this is refused: the message waits for another job.
pub const MAX_WAIT_MS: i64 = 20_000;
/// The longest a provider's `Retry-After` holds it (a longer one is cut to this).
pub const MAX_HOLD: Duration = Duration::from_secs(900);

/// Why a provider may not be used now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closed {
    /// Its circuit is open until then (after failures in a row, or held for a 429's
    /// `Retry-After`).
    CircuitOpen(DateTime<Utc>),
    /// Its send rate is booked beyond [`MAX_WAIT_MS`].
    RateBooked,
}

impl std::fmt::Display for Closed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::CircuitOpen(until) => write!(
                f,
                "skipped: the provider's circuit is open until {} (repeated failures, or the provider asked to wait)",
                until.to_rfc3339()
            ),
            Self::RateBooked => write!(
                f,
                "skipped: the provider's send rate is booked for the next {} s",
                MAX_WAIT_MS / 1000
            ),
        }
    }
}

/// The outcome of one provider call, as the gate counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome<'a> {
    Sent,
    Retryable(&'a str),
    /// A 429, with its `Retry-After` when it gave one: the provider is held until then, in
    /// this instance at once and in every other at its next report.
    Throttled(&'a str, Option<Duration>),
    Permanent(&'a str),
}

#[derive(Debug)]
pub struct Gate {
    store: Store,
    ses: herald::aws::LazyClient<aws_sdk_sesv2::Client>,
    /// `HERALD_SES_MAX_SEND_RATE`, else SES's GetAccount (asked once per instance).
    ses_override: Option<f64>,
    ses_rate: OnceCell<Option<f64>>,
    state: Mutex<State>,
    /// Per rate bucket (each lane's its own), its booked stretch. Each bucket has its own
    /// lock, held while a booking is made (concurrent jobs wait for that one booking rather
    /// than each making one), so a booking round trip holds up neither other buckets (nor the
    /// other lane) nor circuit checks.
    bookings: std::sync::Mutex<HashMap<Bucket, Arc<Mutex<Option<Slots>>>>>,
}

#[derive(Debug, Default)]
struct State {
    providers: HashMap<(TenantId, ProviderId), Local>,
}

#[derive(Debug, Default)]
struct Local {
    reported_at: Option<Instant>,
    open_until: Option<DateTime<Utc>>,
    in_a_row: u32,
    delta: HealthDelta,
}

/// A rate bucket's key (partition, sort key).
type Bucket = (String, String);

/// Slots of a booked stretch: the next free one and the end.
#[derive(Debug, Clone, Copy)]
struct Slots {
    next_ms: f64,
    end_ms: f64,
    interval_ms: f64,
}

/// Whether a mid-invocation report is due, `since` the last with `calls` counted since.
fn report_due(since: Duration, calls: u64) -> bool {
    since >= REPORT_AT_MOST || (since >= REPORT_EVERY && calls >= REPORT_CALLS)
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

impl Gate {
    pub fn new(
        store: Store,
        ses: impl Into<herald::aws::LazyClient<aws_sdk_sesv2::Client>>,
        ses_override: Option<f64>,
    ) -> Self {
        Self {
            store,
            ses: ses.into(),
            ses_override,
            ses_rate: OnceCell::new(),
            state: Mutex::default(),
            bookings: std::sync::Mutex::default(),
        }
    }

    /// Waits until `provider` may take one more message in `lane`, or says why it may not.
    /// `demand`: how many messages the job still has for the provider's channel (the size of a
    /// booking).
    pub async fn admit(
        &self,
        lane: Lane,
        tenant: TenantId,
        provider: &Provider,
        demand: u32,
    ) -> anyhow::Result<Result<(), Closed>> {
        if let Some(until) = self.open_until(tenant, provider.id).await? {
            return Ok(Err(Closed::CircuitOpen(until)));
        }
        let mut at_ms = 0.0_f64;
        for (base, rate) in self.buckets(tenant, provider).await {
            let split = Split::of(rate);
            let mut slot = self
                .slot(&lanes::bucket(&base, lane), split.rate(lane), demand)
                .await?;
            // A burst of transactional messages beyond their share: the bulk lane next, rather
            // than waiting for a later job.
            if slot.is_none() && lane == Lane::Transactional {
                slot = self
                    .slot(&lanes::bucket(&base, Lane::Bulk), split.bulk, demand)
                    .await?;
            }
            match slot {
                Some(slot) => at_ms = at_ms.max(slot),
                None => return Ok(Err(Closed::RateBooked)),
            }
        }
        let wait = at_ms - now_ms() as f64;
        if wait > 0.0 {
            tokio::time::sleep(Duration::from_secs_f64(wait / 1000.0)).await;
        }
        Ok(Ok(()))
    }

    /// Counts a provider call; opens the provider's circuit after [`BREAK_AFTER`] retryable
    /// failures in a row, or at once until a 429's `Retry-After` (at most [`MAX_HOLD`]).
    pub async fn record(
        &self,
        tenant: TenantId,
        provider: ProviderId,
        outcome: Outcome<'_>,
    ) -> anyhow::Result<()> {
        let now = Utc::now();
        let open = {
            let mut state = self.state.lock().await;
            let local = state.providers.entry((tenant, provider)).or_default();
            if let Outcome::Throttled(reason, Some(wait)) = outcome {
                let until = now + chrono::Duration::from_std(wait.min(MAX_HOLD))?;
                // Held already as long (another job's 429 moments ago): one report is enough.
                if local.open_until.is_none_or(|open| open < until) {
                    local.open_until = Some(until);
                    local.delta.failed_retryable += 1;
                    local.delta.last_error = Some(format!(
                        "{reason} (held for its Retry-After, until {})",
                        until.to_rfc3339()
                    ));
                    local.delta.last_failure_at = Some(now);
                    drop(state);
                    tracing::warn!(tenant_id = %tenant, provider_id = %provider, until = %until.to_rfc3339(), "the provider answered 429; holding it for its Retry-After");
                    return self.report(tenant, provider, Some(until)).await;
                }
            }
            match outcome {
                Outcome::Sent => {
                    local.delta.sent += 1;
                    local.delta.last_success_at = Some(now);
                    local.in_a_row = 0;
                    false
                }
                Outcome::Permanent(reason) => {
                    local.delta.failed_permanent += 1;
                    local.delta.last_error = Some(reason.to_owned());
                    local.delta.last_failure_at = Some(now);
                    false
                }
                Outcome::Retryable(reason) | Outcome::Throttled(reason, _) => {
                    local.delta.failed_retryable += 1;
                    local.delta.last_error = Some(reason.to_owned());
                    local.delta.last_failure_at = Some(now);
                    local.in_a_row += 1;
                    local.in_a_row >= BREAK_AFTER
                }
            }
        };
        if open {
            let until = now + chrono::Duration::from_std(COOL_DOWN)?;
            tracing::warn!(tenant_id = %tenant, provider_id = %provider, until = %until.to_rfc3339(), "opening the provider's circuit after repeated failures");
            self.report(tenant, provider, Some(until)).await?;
        }
        Ok(())
    }

    /// At the end of an invocation: reports every provider with failures not yet reported, or
    /// with sends and no report for [`REPORT_EVERY`]. (An instance that then stays idle
    /// holds back at most that much of its providers' send counts until its next
    /// invocation; failures are never held back.)
    pub async fn flush(&self) -> anyhow::Result<()> {
        let pending: Vec<(TenantId, ProviderId)> = {
            let state = self.state.lock().await;
            state
                .providers
                .iter()
                .filter(|(_, l)| {
                    !l.delta.is_empty()
                        && (l.delta.failed_retryable + l.delta.failed_permanent > 0
                            || l.reported_at.is_none_or(|at| at.elapsed() >= REPORT_EVERY))
                })
                .map(|(k, _)| *k)
                .collect()
        };
        for (tenant, provider) in pending {
            self.report(tenant, provider, None).await?;
        }
        Ok(())
    }

    /// The provider's circuit, reporting first when a report is due: [`REPORT_CALLS`] calls
    /// and [`REPORT_EVERY`] since the last, or [`REPORT_AT_MOST`].
    async fn open_until(
        &self,
        tenant: TenantId,
        provider: ProviderId,
    ) -> anyhow::Result<Option<DateTime<Utc>>> {
        // A provider this instance has not reported yet counts as closed until its first
        // report (at the end of the invocation, or when its circuit opens here).
        let stale = {
            let state = self.state.lock().await;
            state
                .providers
                .get(&(tenant, provider))
                .and_then(|l| l.reported_at.map(|at| (at.elapsed(), l.delta.calls())))
                .is_some_and(|(since, calls)| report_due(since, calls))
        };
        if stale {
            self.report(tenant, provider, None).await?;
        }
        let state = self.state.lock().await;
        let now = Utc::now();
        Ok(state
            .providers
            .get(&(tenant, provider))
            .and_then(|l| l.open_until)
            .filter(|until| *until > now))
    }

    /// Adds the instance's counts to the shared health item and learns its circuit state.
    async fn report(
        &self,
        tenant: TenantId,
        provider: ProviderId,
        open_until: Option<DateTime<Utc>>,
    ) -> anyhow::Result<()> {
        let delta = {
            let mut state = self.state.lock().await;
            let local = state.providers.entry((tenant, provider)).or_default();
            if open_until.is_some() {
                // Half-open after the cool-down: one more failure opens it again.
                local.in_a_row = BREAK_AFTER - 1;
            }
            std::mem::take(&mut local.delta)
        };
        let result = self
            .store
            .report_provider(tenant, provider, &delta, open_until)
            .await;
        let mut state = self.state.lock().await;
        let local = state.providers.entry((tenant, provider)).or_default();
        match result {
            Ok(health) => {
                local.reported_at = Some(Instant::now());
                local.open_until = health.circuit_open_until;
                Ok(())
            }
            Err(e) => {
                // Keep the counts for the next report.
                local.delta.sent += delta.sent;
                local.delta.failed_retryable += delta.failed_retryable;
                local.delta.failed_permanent += delta.failed_permanent;
                Err(e.into())
            }
        }
    }

    /// The rate buckets a provider sends through, with their whole rates (messages per
    /// second), before the lanes split them.
    async fn buckets(&self, tenant: TenantId, provider: &Provider) -> Vec<((String, String), f64)> {
        let mut out = Vec::new();
        if provider.kind == ProviderKind::Ses
            && let Some(rate) = self.ses_rate().await
        {
            out.push((keys::ses_account_rate_bucket(), rate));
        }
        if let Some(rate) = provider.send_rate {
            out.push((
                keys::provider_rate_bucket(tenant, provider.id),
                f64::from(rate),
            ));
        }
        out
    }

    /// The SES account's maximum send rate, asked once per instance.
    async fn ses_rate(&self) -> Option<f64> {
        *self
            .ses_rate
            .get_or_init(|| async {
                if let Some(rate) = self.ses_override {
                    return (rate > 0.0).then_some(rate);
                }
                match self.ses.get_account().send().await {
                    Ok(account) => account
                        .send_quota
                        .map(|q| q.max_send_rate)
                        .filter(|r| *r > 0.0),
                    Err(e) => {
                        tracing::warn!(error = %aws_sdk_sesv2::error::DisplayErrorContext(&e), "SES GetAccount failed: SES sends are held to no account rate; set HERALD_SES_MAX_SEND_RATE");
                        None
                    }
                }
            })
            .await
    }

    /// The time (epoch ms) of this instance's next slot in a bucket, booking more when its
    /// stretch is used up; `None` when the bucket is booked too far ahead.
    async fn slot(
        &self,
        bucket: &(String, String),
        rate: f64,
        demand: u32,
    ) -> anyhow::Result<Option<f64>> {
        let booked = {
            let mut bookings = self
                .bookings
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            bookings.entry(bucket.clone()).or_default().clone()
        };
        let mut booked = booked.lock().await;
        let now = now_ms() as f64;
        let interval_ms = 1000.0 / rate;
        if let Some(slots) = booked.as_mut() {
            // A slot missed by more than one interval is lost, never spent late.
            if slots.next_ms < now - interval_ms {
                let missed = ((now - interval_ms - slots.next_ms) / slots.interval_ms).ceil();
                slots.next_ms += missed * slots.interval_ms;
            }
            if slots.next_ms < slots.end_ms {
                let at = slots.next_ms;
                slots.next_ms += slots.interval_ms;
                return Ok(Some(at));
            }
        }
        let most = ((rate * BOOKING_SECONDS).floor() as u32).clamp(1, BOOKING_MAX);
        let n = demand.clamp(1, most);
        let Some(booking) = self
            .store
            .book_send_slots(bucket, rate, n, now as i64, MAX_WAIT_MS)
            .await?
        else {
            return Ok(None);
        };
        let start = booking.start_ms as f64;
        *booked = Some(Slots {
            next_ms: start + interval_ms,
            end_ms: start + f64::from(n) * interval_ms,
            interval_ms,
        });
        Ok(Some(start))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_are_due_by_calls_not_only_by_time() {
        let secs = Duration::from_secs;
        // Quick calls: no report until the least interval has passed.
        assert!(!report_due(secs(1), 10_000));
        // A slow provider: time alone does not make a report due...
        assert!(!report_due(secs(30), REPORT_CALLS - 1));
        // ...enough calls do, or the longest interval.
        assert!(report_due(secs(5), REPORT_CALLS));
        assert!(report_due(REPORT_AT_MOST, 1));
    }
}
