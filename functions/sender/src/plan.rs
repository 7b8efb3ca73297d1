//! Running a job: a campaign's plan (one expansion per guest shard), the expansion of its
//! audience page by page into delivery jobs, and finishing the campaign after its last piece.

use super::*;

impl Sender {
    /// Runs one job. `Err` only when AWS (DynamoDB, KMS) failed: the job is retried whole, and
    /// its claims keep anything from being sent twice.
    pub async fn run(&self, job: &SenderJob) -> anyhow::Result<JobOutcome> {
        match job {
            SenderJob::Plan {
                tenant_id,
                campaign_id,
            } => self.plan(*tenant_id, *campaign_id).await,
            SenderJob::Expand {
                tenant_id,
                campaign_id,
                shard,
                after,
            } => self.expand(*tenant_id, *campaign_id, *shard, *after).await,
            SenderJob::Deliver {
                tenant_id,
                event_id,
                campaign_id,
                snapshot_version,
                category,
                channels,
                deliveries,
                not_before,
            } => {
                if let Some(at) = not_before
                    && *at > Utc::now()
                {
                    // Waiting for recipients' quiet hours to end: back in at most 15 minutes
                    // (SQS's longest delay), until the time comes (rounded up, never early).
                    let ms = (*at - Utc::now()).num_milliseconds();
                    let seconds = ((ms + 999) / 1000).clamp(1, 900) as i32;
                    self.enqueue_delayed(job, seconds).await?;
                    return Ok(JobOutcome::noted("waiting_for_quiet_hours"));
                }
                // A cancelled campaign sends nothing more. A finished one still takes the
                // jobs of guests a journey step catches up on (`late_entry: catch_up`).
                if let Some(c) = campaign_id
                    && !matches!(
                        self.campaign_status(*tenant_id, *c).await?,
                        Some(
                            CampaignStatus::Sending
                                | CampaignStatus::Sent
                                | CampaignStatus::PartiallyFailed
                        )
                    )
                {
                    return Ok(JobOutcome::noted("campaign_not_sending"));
                }
                let snapshot = self
                    .snapshot(*tenant_id, *event_id, *snapshot_version)
                    .await?;
                let ctx = Job {
                    tenant: *tenant_id,
                    event: *event_id,
                    campaign: *campaign_id,
                    category: *category,
                    channels,
                    snapshot_version: *snapshot_version,
                    not_before: *not_before,
                    started: Instant::now(),
                };
                self.deliver(&ctx, snapshot.as_deref(), deliveries).await
            }
            SenderJob::JourneyStep {
                tenant_id,
                event_id,
                step,
                due_at,
            } => {
                self.journey_step(*tenant_id, *event_id, step, *due_at)
                    .await
            }
            SenderJob::SyncJourneys => self.sweep_journeys().await,
            SenderJob::Reply { tenant_id, message } => self.reply(*tenant_id, message).await,
        }
    }

    /// Finishes the campaign when this was its last piece of work: one Query of its partition
    /// (the campaign and its batches), which also refreshes the cached status.
    pub(crate) async fn finish_if_done(
        &self,
        tenant: TenantId,
        id: CampaignId,
    ) -> anyhow::Result<()> {
        let Some(campaign) = self.store.get_campaign(tenant, id).await? else {
            return Ok(());
        };
        self.statuses
            .lock()
            .await
            .insert((tenant, id), (Instant::now(), Some(campaign.status)));
        let now = Utc::now();
        let finished = self
            .store
            .finish_campaign_if_done(tenant, &campaign, GUEST_SHARDS, now)
            .await?;
        // A journey step's campaign: its occurrence is sent (checked on every finish, so a
        // crash between the two is caught up by the next look).
        if finished.is_some()
            || matches!(
                campaign.status,
                CampaignStatus::Sent | CampaignStatus::PartiallyFailed
            )
        {
            self.journey_step_sent(&campaign).await?;
        }
        if let (Some(done), Some(webhooks)) = (finished, &self.webhooks) {
            // The counts are the batches' (read with the campaign), the status the new one.
            let done = Campaign {
                status: done.status,
                ..campaign
            };
            // The campaign is finished either way: a failure here loses this one event
            // (logged), it does not make the job run again.
            if let Err(e) = webhooks
                .emit(&[herald::webhooks::campaign_event(&done, now)])
                .await
            {
                tracing::error!(tenant_id = %tenant, campaign_id = %id, error = ?e, "queuing the campaign.completed webhook failed");
            }
        }
        Ok(())
    }

    /// A campaign's first job: one expansion per guest shard, or the listed guests directly.
    pub(crate) async fn plan(
        &self,
        tenant: TenantId,
        id: CampaignId,
    ) -> anyhow::Result<JobOutcome> {
        let Some(mut campaign) = self.store.campaign_item(tenant, id).await? else {
            return Ok(JobOutcome::noted("campaign_gone"));
        };
        if campaign.status == CampaignStatus::Scheduled {
            // Its schedule fired: it sends from the snapshot active now.
            let active = self
                .store
                .get_wizard(tenant, campaign.event_id)
                .await?
                .and_then(|w| w.active);
            let mut extra = vec![(
                "started_at",
                aws_sdk_dynamodb::types::AttributeValue::S(Utc::now().to_rfc3339()),
            )];
            if let Some(a) = active {
                extra.push((
                    "snapshot_version",
                    aws_sdk_dynamodb::types::AttributeValue::N(a.version.to_string()),
                ));
            }
            match self
                .store
                .transition_campaign(
                    tenant,
                    id,
                    &[CampaignStatus::Scheduled],
                    CampaignStatus::Sending,
                    &extra,
                )
                .await?
            {
                Some(started) => campaign = started,
                None => return Ok(JobOutcome::noted("campaign_not_sending")),
            }
        }
        if campaign.status != CampaignStatus::Sending {
            return Ok(JobOutcome::noted("campaign_not_sending"));
        }
        let Audience::Guests { ids } = &campaign.audience else {
            // The first page at once; it queues the next.
            return self.expand_from(&campaign, 0, None).await;
        };
        let guests = self
            .store
            .get_guests(tenant, campaign.event_id, ids)
            .await?;
        let jobs = herald::messages::deliver_jobs(&campaign, guests.iter().collect());
        self.enqueue(&jobs).await?;
        let updated = self
            .store
            .campaign_expanded(
                tenant,
                id,
                "all",
                guests.len() as u64,
                jobs.len() as u64,
                GUEST_SHARDS,
            )
            .await?;
        // A redelivered plan (already counted) checks again too.
        if updated.is_none_or(|c| c.expanded_shards >= GUEST_SHARDS) {
            self.finish_if_done(tenant, id).await?;
        }
        Ok(JobOutcome::noted("planned"))
    }

    /// One page of the audience, read across the guest shards in order: delivery jobs for it,
    /// then the next page. Pages are sequential so jobs stay full whatever the shards hold (a
    /// page of 1,000 guests is ten full jobs when the whole page is in the audience).
    pub(crate) async fn expand(
        &self,
        tenant: TenantId,
        id: CampaignId,
        shard: u32,
        after: Option<GuestId>,
    ) -> anyhow::Result<JobOutcome> {
        let Some(campaign) = self.store.campaign_item(tenant, id).await? else {
            return Ok(JobOutcome::noted("campaign_gone"));
        };
        if campaign.status != CampaignStatus::Sending {
            return Ok(JobOutcome::noted("campaign_not_sending"));
        }
        self.expand_from(&campaign, shard, after).await
    }

    pub(crate) async fn expand_from(
        &self,
        campaign: &Campaign,
        shard: u32,
        after: Option<GuestId>,
    ) -> anyhow::Result<JobOutcome> {
        let (tenant, id) = (campaign.tenant_id, campaign.id);
        let (guests, next) = self
            .store
            .list_guests(tenant, campaign.event_id, Some((shard, after)), EXPAND_PAGE)
            .await?;
        let mut audience: Vec<&Guest> = guests
            .iter()
            .filter(|g| campaign.audience.includes(g))
            .collect();
        if let Audience::FollowUp {
            campaign: earlier,
            not_reached,
        } = &campaign.audience
        {
            let ids: Vec<GuestId> = audience.iter().map(|g| g.id).collect();
            let wanted = self
                .store
                .not_reached(tenant, *earlier, &ids, *not_reached)
                .await?;
            audience.retain(|g| wanted.contains(&g.id));
        }
        let found = audience.len() as u64;
        let mut jobs = herald::messages::deliver_jobs(campaign, audience);
        let deliveries = jobs.len() as u64;
        if let Some((shard, after)) = next {
            jobs.push(SenderJob::Expand {
                tenant_id: tenant,
                campaign_id: id,
                shard,
                after,
            });
        }
        self.enqueue(&jobs).await?;
        let page = format!(
            "{shard}:{}",
            after.map(|a| a.to_string()).unwrap_or_default()
        );
        let shards_done = next.map_or(GUEST_SHARDS, |(s, _)| s).saturating_sub(shard);
        let updated = self
            .store
            .campaign_expanded(tenant, id, &page, found, deliveries, shards_done)
            .await?;
        // The last page finishes the campaign when its jobs are done; a redelivered last page
        // (already counted) checks again, in case the first delivery stopped before it did.
        let last_page = next.is_none();
        if updated.map_or(last_page, |c| c.expanded_shards >= GUEST_SHARDS) {
            self.finish_if_done(tenant, id).await?;
        }
        Ok(JobOutcome::noted("expanded"))
    }
}

/// A delivery job's id: the same for the same recipients, whoever queued it.
pub(crate) fn batch_id(
    deliveries: &[Delivery],
    not_before: Option<chrono::DateTime<Utc>>,
) -> String {
    let mut ids: Vec<String> = deliveries
        .iter()
        .map(|d| d.message_id.to_string())
        .collect();
    // A job waiting for quiet hours is a batch of its own, even with the same recipients,
    // and one the campaign counts apart from the batches its expansion planned.
    match not_before {
        Some(at) => {
            ids.push(at.timestamp().to_string());
            format!(
                "{}{}",
                herald::store::WAITED_BATCH_PREFIX,
                &herald::digest::sha256_hex(ids.join(","))[..31]
            )
        }
        None => herald::digest::sha256_hex(ids.join(","))[..32].to_owned(),
    }
}
