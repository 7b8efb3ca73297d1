//! A delivery job: claim (a campaign batch whole, a transactional message by its record),
//! settle what a stopped attempt left uncertain, decide and send chunk by chunk, record.

use super::*;

impl Sender {
    pub(crate) async fn deliver(
        &self,
        job: &Job<'_>,
        snapshot: Option<&Snapshot>,
        deliveries: &[Delivery],
    ) -> anyhow::Result<JobOutcome> {
        let now = Utc::now();
        let mut outcome = JobOutcome::default();
        // A campaign's batch is claimed whole; a stale claim is retaken, and then what the
        // earlier attempt recorded decides what is left to do.
        let batch = job.campaign.map(|_| batch_id(deliveries, job.not_before));
        let mut earlier: Option<HashMap<MessageId, Message>> = None;
        if let (Some(campaign), Some(batch)) = (job.campaign, &batch) {
            match self
                .store
                .claim_batch(job.tenant, campaign, batch, self.settle_seconds)
                .await?
            {
                BatchClaim::Done => {
                    // An earlier attempt may have stopped between recording the batch and
                    // finishing the campaign.
                    self.finish_if_done(job.tenant, campaign).await?;
                    return Ok(JobOutcome::noted("already_done"));
                }
                BatchClaim::InFlight => {
                    let mut o = JobOutcome::noted("in_flight");
                    o.retry = Some(Retry::Held);
                    return Ok(o);
                }
                BatchClaim::Claimed { retaken: false } => {}
                BatchClaim::Claimed { retaken: true } => {
                    let ids: Vec<MessageId> = deliveries.iter().map(|d| d.message_id).collect();
                    earlier = Some(self.store.get_messages(job.tenant, &ids).await?);
                }
            }
        }
        let (mut records, mut deferred) = self.decide_all(job, snapshot, deliveries, now).await?;
        // Recipients in their quiet hours wait in jobs of their own, due when the hours end
        // (one per end time); their records say so (and when) until then. The jobs are queued
        // before the records; a retried batch defers the ones an earlier attempt deferred to
        // the same time (same job, same batch id, claimed once), whatever the clock says now,
        // and never defers a message an earlier attempt finished or was sending. A job that
        // waited never defers to its own time again (it would be its own batch).
        if let Some(before) = &earlier {
            for (id, m) in before {
                match (m.status, m.not_before) {
                    (MessageStatus::Queued, Some(until)) => {
                        deferred.insert(*id, until);
                    }
                    (MessageStatus::Queued, None) => {}
                    _ => {
                        deferred.remove(id);
                    }
                }
            }
        }
        if let Some(due) = job.not_before {
            deferred.retain(|_, until| *until != due);
        }
        for r in records.iter_mut() {
            if let Some(until) = deferred.get(&r.id) {
                r.status = MessageStatus::Queued;
                r.claimed_at = None;
                r.not_before = Some(*until);
                r.last_error = Some(format!(
                    "waiting for the contact's quiet hours to end at {}",
                    until.to_rfc3339()
                ));
            }
        }
        let mut deliveries: Vec<Delivery> = deliveries.to_vec();
        if !deferred.is_empty() {
            let finished = |id: &MessageId| {
                earlier
                    .as_ref()
                    .and_then(|e| e.get(id))
                    .is_some_and(|m| m.status.is_final())
            };
            let mut waiting: BTreeMap<chrono::DateTime<Utc>, Vec<Delivery>> = BTreeMap::new();
            let mut kept = Vec::with_capacity(deliveries.len());
            let mut kept_records = Vec::with_capacity(records.len());
            let mut waiting_records = Vec::new();
            for (d, r) in deliveries.into_iter().zip(records) {
                match deferred.get(&d.message_id) {
                    Some(until) if !finished(&d.message_id) => {
                        waiting.entry(*until).or_default().push(d);
                        waiting_records.push(r);
                    }
                    _ => {
                        kept.push(d);
                        kept_records.push(r);
                    }
                }
            }
            let jobs: Vec<SenderJob> = waiting
                .into_iter()
                .map(|(until, ds)| SenderJob::Deliver {
                    tenant_id: job.tenant,
                    event_id: job.event,
                    campaign_id: job.campaign,
                    snapshot_version: job.snapshot_version,
                    category: job.category,
                    channels: job.channels.to_vec(),
                    deliveries: ds,
                    not_before: Some(until),
                })
                .collect();
            if let Some(campaign) = job.campaign {
                let ids: Vec<String> = jobs
                    .iter()
                    .filter_map(|j| match j {
                        SenderJob::Deliver {
                            deliveries,
                            not_before,
                            ..
                        } => Some(batch_id(deliveries, *not_before)),
                        _ => None,
                    })
                    .collect();
                self.store.wait_batches(job.tenant, campaign, &ids).await?;
            }
            self.enqueue(&jobs).await?;
            self.store
                .finish_messages(job.tenant, &waiting_records)
                .await?;
            *outcome.tally.entry("quiet_hours").or_default() += waiting_records.len() as u64;
            deliveries = kept;
            records = kept_records;
        }
        let deliveries = deliveries.as_slice();
        let mut composer = snapshot.map(|s| {
            Composer::for_snapshot(&s.content, job.category, job.channels)
                .with_configuration_set(self.ses_configuration_set.clone())
        });
        // What is left to send per channel: the size of the job's send-rate bookings (not
        // counting what an earlier attempt finished).
        let mut remaining: HashMap<Channel, u32> = HashMap::new();
        let finished_before = |id: &MessageId| {
            earlier
                .as_ref()
                .and_then(|e| e.get(id))
                .is_some_and(|m| m.status.is_final())
        };
        for r in records
            .iter()
            .filter(|r| r.status == MessageStatus::Sending && !finished_before(&r.id))
        {
            *remaining
                .entry(r.channel.unwrap_or(Channel::Email))
                .or_default() += 1;
        }
        let mut tally: HashMap<MessageStatus, u64> = HashMap::new();
        let mut report = SendReport::default();
        let mut requeued = false;
        let mut waiting = false;
        let mut batch_recorded = false;
        match (&batch, &earlier) {
            (Some(_), _) => {
                // Chunks of 25 in order; each chunk's records are written before the next
                // chunk starts, so after a crash only the first unrecorded chunk is uncertain.
                let mut uncertain_seen = false;
                let pairs: Vec<(&Delivery, Message)> = deliveries.iter().zip(records).collect();
                let chunks = pairs.len().div_ceil(CHUNK);
                for (i, chunk) in pairs.chunks(CHUNK).enumerate() {
                    let mut finals = Vec::new();
                    let mut held = Vec::new();
                    let mut uncertain = Vec::new();
                    // Recorded as waiting by an earlier attempt: marked `sending` before they
                    // go, so that if this attempt stops mid-chunk they count as uncertain.
                    let mut resumed = Vec::new();
                    for (d, record) in chunk {
                        let before = earlier.as_ref().and_then(|e| e.get(&record.id));
                        match before {
                            Some(m) if m.status.is_final() => {
                                *tally.entry(m.status).or_default() += 1;
                                continue;
                            }
                            Some(m)
                                if m.status == MessageStatus::Sending
                                    && record.status == MessageStatus::Sending =>
                            {
                                // An earlier attempt was re-sending it when it stopped.
                                uncertain.push((*d, record.clone()));
                                continue;
                            }
                            Some(m)
                                if m.status == MessageStatus::Queued
                                    && record.status == MessageStatus::Sending =>
                            {
                                resumed.push(record.clone());
                            }
                            None if earlier.is_some()
                                && !uncertain_seen
                                && record.status == MessageStatus::Sending =>
                            {
                                // The chunk in flight when the earlier attempt stopped.
                                uncertain.push((*d, record.clone()));
                                continue;
                            }
                            _ => {}
                        }
                        if record.status == MessageStatus::Sending {
                            held.push((*d, record.clone()));
                        } else {
                            finals.push(record.clone());
                        }
                    }
                    // Chunks are recorded in order: only the first chunk with unrecorded
                    // messages can have been in flight; the ones after it were never reached.
                    if let Some(e) = &earlier
                        && chunk.iter().any(|(_, r)| !e.contains_key(&r.id))
                    {
                        uncertain_seen = true;
                    }
                    if !resumed.is_empty() {
                        self.store.finish_messages(job.tenant, &resumed).await?;
                    }
                    if !uncertain.is_empty() {
                        let (settled, resend) = self.settle(job, snapshot, uncertain, now).await?;
                        finals.extend(settled);
                        held.extend(resend);
                    }
                    if let (Some(snapshot), Some(composer)) = (snapshot, composer.as_mut()) {
                        finals.extend({
                            let (sent, wait) = self
                                .send_all(
                                    job,
                                    snapshot,
                                    held,
                                    composer,
                                    &mut remaining,
                                    &mut report,
                                )
                                .await?;
                            waiting |= wait;
                            sent
                        });
                    }
                    requeued |= count(&finals, &mut tally);
                    if !self.record_delay().is_zero() {
                        tokio::time::sleep(self.record_delay()).await;
                    }
                    match (job.campaign, &batch) {
                        (Some(campaign), Some(batch)) if i + 1 == chunks && !requeued => {
                            self.record_sent(job, || {
                                self.store
                                    .finish_batch(job.tenant, campaign, batch, &tally, &finals)
                            })
                            .await?;
                            batch_recorded = true;
                        }
                        _ => {
                            self.record_sent(job, || {
                                self.store.finish_messages(job.tenant, &finals)
                            })
                            .await?
                        }
                    }
                }
            }
            (None, _) => {
                let claimed = self.store.claim_messages(job.tenant, &records).await?;
                let mut held = Vec::new();
                let mut finals = Vec::new();
                let mut stale = Vec::new();
                for (d, record) in deliveries.iter().zip(records) {
                    let blocker = match &claimed {
                        Claimed::All => None,
                        Claimed::Some(blocked) => blocked.get(&record.id),
                    };
                    match blocker {
                        None if record.status == MessageStatus::Sending => held.push((d, record)),
                        None => {
                            *tally.entry(record.status).or_default() += 1;
                        }
                        Some(Some(stored)) if stored.status.is_final() => {
                            *outcome.tally.entry("already_done").or_default() += 1;
                        }
                        Some(Some(stored)) if stored.status == MessageStatus::Sending => {
                            let age = stored
                                .claimed_at
                                .map(|at| (now - at).num_seconds())
                                .unwrap_or(i64::MAX);
                            if age < self.settle_seconds {
                                outcome.retry = Some(Retry::Held);
                                *outcome.tally.entry("in_flight").or_default() += 1;
                            } else {
                                stale.push((d, stored.clone()));
                            }
                        }
                        Some(_) => {
                            outcome.retry = Some(Retry::Held);
                            *outcome.tally.entry("contended").or_default() += 1;
                        }
                    }
                }
                if !stale.is_empty() {
                    // Claims whose sender stopped mid-send: settled, or taken over and sent.
                    let claims: HashMap<MessageId, Option<chrono::DateTime<Utc>>> =
                        stale.iter().map(|(_, m)| (m.id, m.claimed_at)).collect();
                    let (settled, resend) = self.settle(job, snapshot, stale, now).await?;
                    finals.extend(settled);
                    for (d, record) in resend {
                        let old = claims.get(&record.id).copied().flatten();
                        if self.store.retake_message(job.tenant, &record, old).await? {
                            held.push((d, record));
                        } else {
                            outcome.retry = Some(Retry::Held);
                            *outcome.tally.entry("contended").or_default() += 1;
                        }
                    }
                }
                if let (Some(snapshot), Some(composer)) = (snapshot, composer.as_mut()) {
                    finals.extend({
                        let (sent, wait) = self
                            .send_all(job, snapshot, held, composer, &mut remaining, &mut report)
                            .await?;
                        waiting |= wait;
                        sent
                    });
                }
                requeued |= count(&finals, &mut tally);
                self.record_sent(job, || self.store.finish_messages(job.tenant, &finals))
                    .await?;
            }
        }
        for (status, n) in &tally {
            *outcome.tally.entry(status.as_str()).or_default() += n;
        }
        // What the job's provider calls came to: metrics, and the notice of messages sent
        // through providers that publish no events (recorded before: a lost notice costs an
        // analytics count, never a message).
        report.emit(job.started.elapsed());
        self.send_notice(report.notice).await;
        if requeued {
            // Some messages wait: for a provider that failed, for send-rate capacity or for
            // time. The job comes back, and that delivery claims the batch at once.
            outcome.retry = Some(if waiting {
                Retry::Continue
            } else {
                Retry::Providers
            });
            outcome.not_before = report.reopens;
            if let (Some(campaign), Some(batch)) = (job.campaign, &batch) {
                self.store
                    .release_batch(job.tenant, campaign, batch)
                    .await?;
            }
        } else if let (Some(campaign), Some(batch)) = (job.campaign, &batch) {
            if !batch_recorded {
                self.store
                    .finish_batch(job.tenant, campaign, batch, &tally, &[])
                    .await?;
            }
            self.finish_if_done(job.tenant, campaign).await?;
        }
        Ok(outcome)
    }

    /// Counts an AWS failure around provider calls: the `AwsFailuresAroundSends` metric (an
    /// operator sees an outage the jobs rode out) and the instance's counter.
    pub(crate) fn aws_failed(&self) {
        self.counters.aws_failures.fetch_add(1, Ordering::Relaxed);
        herald::telemetry::emit(
            &[("Function", "sender")],
            &[("AwsFailuresAroundSends", 1.0, "Count")],
        );
    }

    /// Writes the records of messages this job handed to providers, trying again for
    /// [`RECORD_WITHIN`] while AWS fails: a record lost after the provider took the message
    /// would leave it to a retake's settling, minutes later.
    pub(crate) async fn record_sent<F, Fut, E>(&self, job: &Job<'_>, write: F) -> anyhow::Result<()>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<(), E>>,
        E: std::fmt::Debug + Into<anyhow::Error>,
    {
        herald::aws::retry_within(RECORD_WITHIN, write, |e| {
            tracing::warn!(tenant_id = %job.tenant, error = ?e, "recording sent messages failed; trying again");
            self.aws_failed();
        })
        .await
        .map_err(Into::into)
    }

    /// Settles messages whose earlier attempt stopped after claiming them (its provider call
    /// may or may not have happened). When every provider of the message's channel is SES,
    /// SES's Send event (recorded by the tracker, which gets it within seconds; a claim is only
    /// retaken minutes later) is the answer: with one the message was sent and is recorded so;
    /// without one SES never accepted it and it is sent now. Other providers publish no such
    /// event, so their uncertain messages are recorded failed, outcome unknown: never sent
    /// twice. Returns (final records, records to send).
    pub(crate) async fn settle<'d>(
        &self,
        job: &Job<'_>,
        snapshot: Option<&Snapshot>,
        uncertain: Vec<(&'d Delivery, Message)>,
        now: chrono::DateTime<Utc>,
    ) -> anyhow::Result<(Vec<Message>, Vec<(&'d Delivery, Message)>)> {
        // Only SES sends through Herald's configuration set publish Send events the tracker
        // sees: a provider with a configuration set of its own (or no Herald set at all)
        // cannot be settled this way.
        let through_herald = |p: &Provider| {
            self.ses_configuration_set.is_some()
                && matches!(
                    herald::providers::ProviderSettings::parse(p.kind, &p.settings),
                    Ok(herald::providers::ProviderSettings::Ses(s)) if s.configuration_set.is_none()
                )
        };
        let ses_only = |channel: Option<Channel>| -> Option<ProviderId> {
            let providers = &snapshot?.content.config.providers_for(channel?)?.providers;
            let active: Vec<&Provider> = providers.iter().filter(|p| p.active).collect();
            (!active.is_empty() && active.iter().all(|p| through_herald(p))).then(|| active[0].id)
        };
        let ids: Vec<MessageId> = uncertain
            .iter()
            .filter(|(_, m)| ses_only(m.channel).is_some())
            .map(|(_, m)| m.id)
            .collect();
        let events = if ids.is_empty() {
            HashMap::new()
        } else {
            self.store.send_events(job.tenant, &ids).await?
        };
        let mut finals = Vec::new();
        let mut resend = Vec::new();
        for (d, mut record) in uncertain {
            record.updated_at = now;
            match (ses_only(record.channel), events.get(&record.id)) {
                (Some(provider), Some(event)) => {
                    record.status = MessageStatus::Sent;
                    record.provider_id = Some(provider);
                    record.provider_message_id = Some(event.ses_message_id.clone());
                    record.sent_at = Some(event.at);
                    record.attempts = record.attempts.max(1);
                    record.last_error = None;
                    self.counters.settled_sent.fetch_add(1, Ordering::Relaxed);
                    finals.push(record);
                }
                (Some(_), None) => {
                    record.status = MessageStatus::Sending;
                    record.claimed_at = Some(now);
                    self.counters.settled_resent.fetch_add(1, Ordering::Relaxed);
                    resend.push((d, record));
                }
                (None, _) => {
                    record.status = MessageStatus::Failed;
                    record.last_error = Some(UNKNOWN.to_owned());
                    finals.push(record);
                }
            }
        }
        tracing::info!(tenant_id = %job.tenant, settled = finals.len(), resent = resend.len(), "settled messages an earlier attempt left uncertain");
        Ok((finals, resend))
    }
}
