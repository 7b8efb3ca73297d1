//! Bringing an event's step occurrences in line with its live record and its active journey:
//! [`Syncer::sync`] reads the event, the active snapshot's journey and the occurrences, plans
//! ([`super::plan_sync`]) and applies each action, concurrently, schedule first and record
//! second: a crash between the two leaves the record behind the schedule, so the next sync
//! sees the difference and writes both again (every write is idempotent). The event's sync
//! mark (written with the change that asked for the sync) is cleared last; a mark left by a
//! crash is found by the sweep ([`Syncer::sweep`], every minute) and the sync run again.
//!
//! Requests: one GetItem of the event, one of the active snapshot, one Query of the
//! occurrences; then per changed step one Scheduler call (CreateSchedule, or UpdateSchedule
//! after a conflict; DeleteSchedule) and one conditional PutItem; one DeleteItem of the mark.

use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use serde::Serialize;
use utoipa::ToSchema;

use super::{
    Action, MAX_MOVES, Move, Occurrence, OccurrenceStatus, StepKey, schedule_name, step_campaign,
};
use crate::ids::{EventId, TenantId};
use crate::messages::SenderJob;
use crate::schedules::OneTimeSchedules;
use crate::store::Store;

/// Scheduler and DynamoDB calls one sync keeps in flight.
const IN_FLIGHT: usize = 10;

/// What a sync changed about one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct StepChanged {
    #[schema(value_type = String)]
    pub key: StepKey,
    /// `scheduled`, `moved`, `skipped`, `sent_now` or `cancelled`.
    pub change: String,
    /// Its time before (a move).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<DateTime<Utc>>,
    /// Its time now (scheduled, moved, skipped).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What one sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Synced {
    /// The event version the occurrences now follow (none: no event, or no active journey).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_version: Option<u64>,
    pub changes: Vec<StepChanged>,
}

/// Applies journey plans.
#[derive(Debug, Clone)]
pub struct Syncer {
    pub store: Store,
    pub schedules: OneTimeSchedules,
    pub sqs: crate::aws::LazyClient<aws_sdk_sqs::Client>,
    /// The sender queue (steps sent now are queued there directly).
    pub sender_queue_url: String,
}

impl Syncer {
    /// Brings the event's occurrences in line (see the module's docs); clears its mark.
    pub async fn sync(&self, tenant: TenantId, event: EventId) -> anyhow::Result<Synced> {
        let now = Utc::now();
        let (record, snapshot, occurrences) = tokio::try_join!(
            self.store.get_event(tenant, event),
            self.store.get_snapshot(tenant, event, None),
            self.store.occurrences(tenant, event),
        )?;
        // A snapshot without a journey (or none yet) cancels whatever an earlier one scheduled.
        let journey = snapshot.and_then(|s| s.content.journey).unwrap_or_default();
        let Some(record) = record.filter(|_| !journey.steps.is_empty() || !occurrences.is_empty())
        else {
            // Nothing to bring in line: no event any more, or never a journey.
            self.store
                .clear_journey_mark(tenant, event, u64::MAX)
                .await?;
            return Ok(Synced::default());
        };
        let live = record.live();
        let zone = Some(record.fields.time_zone.tz());
        let actions = super::plan_sync(&journey, &live, &occurrences, now);
        let results: Vec<anyhow::Result<Option<StepChanged>>> =
            futures::stream::iter(actions.into_iter().map(|action| {
                let previous = occurrences.iter().find(|o| &o.key == action.key()).cloned();
                self.apply(tenant, &live, zone, action, previous, now)
            }))
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
        let mut changes = Vec::new();
        for result in results {
            if let Some(change) = result? {
                changes.push(change);
            }
        }
        changes.sort_by(|a, b| a.key.as_str().cmp(b.key.as_str()));
        self.store
            .clear_journey_mark(tenant, event, live.version)
            .await?;
        Ok(Synced {
            event_version: Some(live.version),
            changes,
        })
    }

    /// Syncs the events whose marks are older than a minute (their change's own sync did not
    /// finish), at most `limit`; how many were synced.
    pub async fn sweep(&self, limit: i32) -> anyhow::Result<usize> {
        let marks = self
            .store
            .journey_marks(Utc::now() - chrono::Duration::minutes(1), limit)
            .await?;
        let mut synced = 0;
        for mark in marks {
            match self.sync(mark.tenant_id, mark.event_id).await {
                Ok(_) => synced += 1,
                Err(e) => {
                    tracing::warn!(tenant_id = %mark.tenant_id, event_id = %mark.event_id, error = ?e, "syncing a marked journey failed; the sweep tries again");
                }
            }
        }
        Ok(synced)
    }

    /// Guests just added to the event: when the journey's latest step sent (or sending) says
    /// `late_entry: catch_up`, they get it now (delivery jobs of its campaign; each message's
    /// id follows from the step and the guest, so none gets it twice); how many were queued.
    pub async fn catch_up(
        &self,
        tenant: TenantId,
        event: EventId,
        added: &[crate::guests::Guest],
    ) -> anyhow::Result<usize> {
        if added.is_empty() {
            return Ok(0);
        }
        let occurrences = self.store.occurrences(tenant, event).await?;
        let Some(latest) = occurrences
            .iter()
            .filter(|o| o.status.started())
            .max_by_key(|o| o.due_at)
        else {
            return Ok(0);
        };
        let Some(step) = latest.definition.as_ref().filter(|s| {
            s.late_entry == super::LateEntry::CatchUp && s.audience.follows().is_none()
        }) else {
            return Ok(0);
        };
        let Some(campaign) = self
            .store
            .campaign_item(tenant, latest.campaign_id)
            .await?
            .filter(|c| c.status != crate::campaigns::CampaignStatus::Cancelled)
        else {
            return Ok(0);
        };
        let guests: Vec<&crate::guests::Guest> = added
            .iter()
            .filter(|g| campaign.audience.includes(g))
            .collect();
        let jobs: Vec<crate::aws::sqs_batch::Outgoing> =
            crate::messages::deliver_jobs(&campaign, guests.clone())
                .iter()
                .map(|job| serde_json::to_string(job).map(crate::aws::sqs_batch::Outgoing::new))
                .collect::<Result<_, _>>()?;
        let sent =
            crate::aws::sqs_batch::send_all(&self.sqs, &self.sender_queue_url, &jobs).await?;
        anyhow::ensure!(
            sent.refused.is_empty(),
            "SQS refused {} catch-up jobs",
            sent.refused.len()
        );
        tracing::info!(tenant_id = %tenant, event_id = %event, step = %step.key, guests = guests.len(), "late guests catch up on the journey's latest step");
        Ok(guests.len())
    }

    /// The job a step's schedule (or a send-now) puts on the sender queue.
    fn fire_job(tenant: TenantId, event: EventId, key: &StepKey, due: DateTime<Utc>) -> String {
        serde_json::to_string(&SenderJob::JourneyStep {
            tenant_id: tenant,
            event_id: event,
            step: key.clone(),
            due_at: due,
        })
        .unwrap_or_default()
    }

    async fn apply(
        &self,
        tenant: TenantId,
        live: &super::LiveEvent,
        zone: Option<chrono_tz::Tz>,
        action: Action,
        previous: Option<Occurrence>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Option<StepChanged>> {
        let key = action.key().clone();
        let name = schedule_name(live.id, &key);
        let mut next = previous.clone().unwrap_or_else(|| Occurrence {
            key: key.clone(),
            tenant_id: tenant,
            event_id: live.id,
            status: OccurrenceStatus::Scheduled,
            due_at: None,
            due_local: None,
            adjusted: None,
            event_version: live.version,
            campaign_id: step_campaign(live.id, &key),
            definition: None,
            reason: None,
            moves: Vec::new(),
            version: 0,
            updated_at: now,
        });
        next.event_version = live.version;
        next.updated_at = now;
        next.version += 1;
        let change = match action {
            Action::Schedule {
                at, previous: from, ..
            } => {
                // A pending occurrence has its schedule (moved with one UpdateSchedule).
                let exists = previous
                    .as_ref()
                    .is_some_and(|p| p.status == OccurrenceStatus::Scheduled);
                self.schedules
                    .put(
                        &name,
                        at.utc,
                        zone,
                        &Self::fire_job(tenant, live.id, &key, at.utc),
                        exists,
                    )
                    .await?;
                next.status = OccurrenceStatus::Scheduled;
                next.due_at = Some(at.utc);
                next.due_local = Some(at.local);
                next.adjusted = at.adjusted;
                next.reason = None;
                if let Some(from) = from {
                    next.moves.push(Move {
                        from,
                        to: at.utc,
                        at: now,
                    });
                    let excess = next.moves.len().saturating_sub(MAX_MOVES);
                    next.moves.drain(..excess);
                }
                StepChanged {
                    key,
                    change: if from.is_some() { "moved" } else { "scheduled" }.into(),
                    from,
                    to: Some(at.utc),
                    reason: None,
                }
            }
            Action::SendNow { reason, .. } => {
                self.schedules.delete(&name).await?;
                self.sqs
                    .send_message()
                    .queue_url(&self.sender_queue_url)
                    .message_body(Self::fire_job(tenant, live.id, &key, now))
                    .send()
                    .await
                    .map_err(anyhow::Error::new)?;
                next.status = OccurrenceStatus::Scheduled;
                next.due_at = Some(now);
                next.due_local = Some(super::local_parts(now, live.times.zone));
                next.adjusted = None;
                next.reason = Some(reason.clone());
                StepChanged {
                    key,
                    change: "sent_now".into(),
                    from: previous.and_then(|p| p.due_at),
                    to: Some(now),
                    reason: Some(reason),
                }
            }
            Action::Skip { at, reason, .. } => {
                self.schedules.delete(&name).await?;
                next.status = OccurrenceStatus::Skipped;
                next.due_at = Some(at.utc);
                next.due_local = Some(at.local);
                next.adjusted = at.adjusted;
                next.reason = Some(reason.clone());
                StepChanged {
                    key,
                    change: "skipped".into(),
                    from: previous.and_then(|p| p.due_at),
                    to: Some(at.utc),
                    reason: Some(reason),
                }
            }
            Action::Cancel { reason, .. } => {
                self.schedules.delete(&name).await?;
                next.status = OccurrenceStatus::Cancelled;
                next.reason = Some(reason.clone());
                StepChanged {
                    key,
                    change: "cancelled".into(),
                    from: previous.and_then(|p| p.due_at),
                    to: None,
                    reason: Some(reason),
                }
            }
        };
        // A step that started sending meanwhile, or a later sync, keeps its record.
        if self.store.put_pending_occurrence(&next).await? {
            Ok(Some(change))
        } else {
            Ok(None)
        }
    }
}
