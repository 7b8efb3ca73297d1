//! Journey steps: a step's schedule fired (or it is sent now), and the sweep that finishes
//! the journey syncs a crash left part way.
//!
//! A fire is checked against the live event before anything is sent: a fire for a time the
//! step no longer has (the event moved; its schedule was moved too, or will be by the sync
//! this starts) does nothing; a step whose time, computed from the live event and the active
//! journey, is not yet due is brought in line by a sync instead. Then the occurrence is
//! claimed (`scheduled` → `sending`, with the step as it is now: later edits leave it), its
//! campaign made (its id follows from the event and the step, so a redelivered fire makes
//! the same one) and planned like any campaign: consent, suppression, quiet hours, caps,
//! counts and webhooks need nothing new. The campaign's end marks the occurrence `sent`.

use herald::journeys::{Occurrence, OccurrenceStatus, StepKey};

use super::*;

/// How early a fire may come and still be on time (EventBridge Scheduler fires within a
/// minute of the time).
const EARLY: chrono::Duration = chrono::Duration::seconds(60);

impl Sender {
    /// A journey step's fire.
    pub(crate) async fn journey_step(
        &self,
        tenant: TenantId,
        event: EventId,
        key: &StepKey,
        due: chrono::DateTime<Utc>,
    ) -> anyhow::Result<JobOutcome> {
        let Some(occurrence) = self.store.occurrence(tenant, event, key).await? else {
            return Ok(JobOutcome::noted("journey_step_gone"));
        };
        match occurrence.status {
            OccurrenceStatus::Scheduled => {}
            // A redelivered fire, or one that stopped after the claim: make sure the campaign
            // exists and is planned (both idempotent).
            OccurrenceStatus::Sending => return self.start_step(&occurrence).await,
            _ => return Ok(JobOutcome::noted("journey_step_not_pending")),
        }
        let now = Utc::now();
        if occurrence.due_at != Some(due) {
            self.resync(tenant, event).await?;
            return Ok(JobOutcome::noted("journey_step_stale_fire"));
        }
        let (Some(record), Some(snapshot)) = (
            self.store.get_event(tenant, event).await?,
            self.store.get_snapshot(tenant, event, None).await?,
        ) else {
            return Ok(JobOutcome::noted("journey_step_no_event"));
        };
        let step = snapshot
            .content
            .journey
            .as_ref()
            .and_then(|j| j.step(key))
            .cloned();
        let live = record.live();
        let time = step
            .as_ref()
            .and_then(|s| s.time(&live.times))
            .map(|t| t.utc);
        let current = match &step {
            // The cancellation notice, once the event is cancelled.
            Some(s) if s.enabled && s.on_cancel => live.cancelled,
            // Sent now (its time had passed), or at its time as the live event computes it.
            Some(s) if s.enabled && !live.cancelled => {
                occurrence.reason.is_some() || time == Some(due)
            }
            _ => false,
        };
        let Some(step) = step.filter(|_| current) else {
            // The step, the event or its time changed and the occurrence does not show it
            // yet: a sync brings it in line (moves, skips or cancels it).
            self.resync(tenant, event).await?;
            return Ok(JobOutcome::noted("journey_step_not_current"));
        };
        if due > now + EARLY {
            // Fired early: back at its time (SQS delays by at most 15 minutes a time).
            self.enqueue_delayed(
                &SenderJob::JourneyStep {
                    tenant_id: tenant,
                    event_id: event,
                    step: key.clone(),
                    due_at: due,
                },
                seconds_until(Some(due)),
            )
            .await?;
            return Ok(JobOutcome::noted("journey_step_early"));
        }
        let claimed = Occurrence {
            status: OccurrenceStatus::Sending,
            definition: Some(step),
            version: occurrence.version + 1,
            updated_at: now,
            ..occurrence.clone()
        };
        if !self
            .store
            .transition_occurrence(&claimed, &[OccurrenceStatus::Scheduled])
            .await?
        {
            return Ok(JobOutcome::noted("journey_step_claimed_elsewhere"));
        }
        let mut outcome = self.start_step(&claimed).await?;
        *outcome.tally.entry("journey_steps_started").or_default() += 1;
        Ok(outcome)
    }

    /// Makes the step's campaign (once) from the occurrence's frozen step and plans it.
    async fn start_step(&self, occurrence: &Occurrence) -> anyhow::Result<JobOutcome> {
        let Some(step) = &occurrence.definition else {
            return Ok(JobOutcome::noted("journey_step_without_definition"));
        };
        let (tenant, event) = (occurrence.tenant_id, occurrence.event_id);
        let active = self
            .store
            .get_wizard(tenant, event)
            .await?
            .and_then(|w| w.active);
        let now = Utc::now();
        let campaign = Campaign {
            id: occurrence.campaign_id,
            tenant_id: tenant,
            event_id: event,
            name: format!("Journey step {}", step.key),
            category: step.category,
            channels: step.channels.clone(),
            audience: step.audience.campaign_audience(event),
            send_at: occurrence.due_at,
            status: CampaignStatus::Sending,
            counts: Default::default(),
            expanded_shards: 0,
            batches_expected: 0,
            batches_done: 0,
            batches_waiting: 0,
            expanded_pages: Default::default(),
            snapshot_version: active.map(|a| a.version),
            version: 1,
            created_at: now,
            updated_at: now,
            started_at: Some(now),
            finished_at: None,
            journey_step: Some(step.key.clone()),
        };
        match self.store.create_campaign(tenant, &campaign).await {
            Ok(()) | Err(herald::store::StoreError::AlreadyExists) => {}
            Err(e) => return Err(e.into()),
        }
        self.plan(tenant, campaign.id).await
    }

    /// Marks the occurrence of a journey campaign that just finished `sent`.
    pub(crate) async fn journey_step_sent(&self, campaign: &Campaign) -> anyhow::Result<()> {
        let Some(key) = &campaign.journey_step else {
            return Ok(());
        };
        let Some(occurrence) = self
            .store
            .occurrence(campaign.tenant_id, campaign.event_id, key)
            .await?
        else {
            return Ok(());
        };
        let sent = Occurrence {
            status: OccurrenceStatus::Sent,
            version: occurrence.version + 1,
            updated_at: Utc::now(),
            ..occurrence
        };
        self.store
            .transition_occurrence(&sent, &[OccurrenceStatus::Sending])
            .await?;
        Ok(())
    }

    /// Brings an event's journey in line (a sync), when this sender can write schedules.
    async fn resync(&self, tenant: TenantId, event: EventId) -> anyhow::Result<()> {
        match &self.journeys {
            Some(syncer) => {
                syncer.sync(tenant, event).await?;
            }
            None => {
                // Without a scheduler here, the sweep does it (the mark asks it to).
                self.store.mark_journey(tenant, event, 0).await?;
            }
        }
        Ok(())
    }

    /// The sweep's job: the marked journeys whose own sync did not finish.
    pub(crate) async fn sweep_journeys(&self) -> anyhow::Result<JobOutcome> {
        let Some(syncer) = &self.journeys else {
            return Ok(JobOutcome::noted("journeys_not_configured"));
        };
        let synced = syncer.sweep(100).await?;
        let mut outcome = JobOutcome::noted("journeys_swept");
        outcome.tally.insert("journeys_synced", synced as u64);
        Ok(outcome)
    }
}
