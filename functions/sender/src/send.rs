//! Act: render and send the held messages through the provider gate with failover, each with
//! its signed links and its sealed tags; the notice of messages sent through providers without
//! events.

use super::*;

impl Sender {
    /// Renders and sends the held messages; returns their final (or re-queued) records.
    pub(crate) async fn send_all(
        &self,
        job: &Job<'_>,
        snapshot: &Snapshot,
        held: Vec<(&Delivery, Message)>,
        composer: &mut Composer<'_>,
        remaining: &mut HashMap<Channel, u32>,
        report: &mut SendReport,
    ) -> anyhow::Result<(Vec<Message>, bool)> {
        let content = &snapshot.content;
        // The tenant's key (cached per process): it signs the guest's preference links and
        // seals the ids every provider report will name (see `herald::tracking::seal`).
        let link_key = match held.is_empty() {
            false => Some(self.links.key(job.tenant).await?),
            true => None,
        };
        // The guests' RSVP links are signed under a key derived from it, once per job.
        let rsvp_key = link_key
            .as_ref()
            .map(|k| herald::rsvp::token::RsvpKey::derive(k.as_ref()));
        // Replies come back to a per-message address signed under another key derived from it.
        let reply_key = match (&self.inbound_domain, &link_key) {
            (Some(domain), Some(k)) => Some((
                domain,
                herald::inbound::address::ReplyKey::derive(k.as_ref()),
            )),
            _ => None,
        };
        // Their expiry follows from the event's end, the same for every message of the job.
        let event = &snapshot.content.event;
        let event_ends =
            herald::journeys::to_instant(event.fields.ends_at, event.fields.time_zone.tz()).utc;
        let mut out = Vec::with_capacity(held.len());
        let mut waiting = false;
        for (i, (delivery, mut record)) in held.into_iter().enumerate() {
            if report.aws_failed {
                record.status = MessageStatus::Queued;
                record.last_error = Some(AWS_FAILED.to_owned());
                out.push(record);
                continue;
            }
            // Past the budget; the first message of each chunk always goes, so a job whose
            // claim and reads alone took the budget still makes progress.
            if i > 0 && job.started.elapsed() > self.send_budget {
                // Out of time for this invocation: the rest waits for the job's next copy.
                record.status = MessageStatus::Queued;
                record.last_error = Some("waiting: the job's time ran out; it continues".into());
                waiting = true;
                out.push(record);
                continue;
            }
            let channel = record.channel.unwrap_or(Channel::Email);
            let demand = remaining.get(&channel).copied().unwrap_or(1);
            if let Some(n) = remaining.get_mut(&channel) {
                *n = n.saturating_sub(1);
            }
            record.updated_at = Utc::now();
            let links = match (&self.public_url, delivery.recipient.contact_id, &link_key) {
                (Some(base), Some(contact), Some(key)) => {
                    let claims = herald::consent::LinkClaims::for_message(
                        job.tenant,
                        contact,
                        Some(record.id),
                        job.category,
                        channel,
                        delivery.recipient.vars.locale.as_deref(),
                        record.updated_at,
                    );
                    let links = compose::Links::new(base, &claims.sign(key.as_ref()));
                    Some(match (delivery.recipient.guest_id, &rsvp_key) {
                        (Some(guest), Some(rsvp_key)) => links.with_rsvp(
                            base,
                            &herald::rsvp::RsvpClaims::for_guest(
                                job.tenant,
                                job.event,
                                guest,
                                delivery.recipient.vars.locale.as_deref(),
                                event_ends,
                                record.updated_at,
                            )
                            .sign_with(rsvp_key),
                        ),
                        _ => links,
                    })
                }
                _ => None,
            };
            // The tracker files the message's events to expire with it (`expires`).
            let ids = SealedIds {
                tenant: job.tenant,
                message: record.id,
                event: Some(job.event),
                campaign: job.campaign,
                contact: delivery.recipient.contact_id,
                expires: record.ttl,
            };
            let seal = link_key.as_ref().map(|key| Seal::of(key.as_ref(), &ids));
            let tags = message_tags(&ids, seal);
            let composed =
                match composer.compose(channel, &delivery.recipient, tags, links.as_ref()) {
                    Ok(c) => c,
                    Err(reason) => {
                        record.status = MessageStatus::Failed;
                        record.last_error = Some(reason);
                        out.push(record);
                        continue;
                    }
                };
            let providers: &[Provider] = content
                .config
                .providers_for(channel)
                .map(|p| p.providers.as_slice())
                .unwrap_or_default();
            let to = delivery.recipient.address(channel).unwrap_or_default();
            let mut outgoing = composed.outgoing(to);
            if let (Channel::Email, Some((domain, key))) = (channel, &reply_key) {
                let reply = herald::inbound::address::ReplyTo {
                    tenant: job.tenant,
                    message: record.id,
                };
                outgoing.reply_to = Some(reply.address(key, domain));
            }
            outgoing.tracking = Some(Tracking {
                tenant: job.tenant,
                event: Some(job.event),
                campaign: job.campaign,
                message: record.id,
                contact: ids.contact,
                expires: ids.expires,
                seal: seal.map_or(SealState::Absent, SealState::Given),
                public_url: self.public_url.clone(),
            });
            record.status = MessageStatus::Queued;
            record.last_error = Some(format!("no active {channel} provider"));
            let mut rate_booked = false;
            for provider in providers {
                let ready = match self
                    .gate
                    .admit(job.lane(), job.tenant, provider, demand)
                    .await
                {
                    Ok(Ok(())) => self.credentials(job.tenant, provider).await,
                    Ok(Err(closed)) => {
                        rate_booked |= closed == gate::Closed::RateBooked;
                        if let gate::Closed::CircuitOpen(until) = closed {
                            report.hold(until);
                        }
                        record.last_error = Some(closed.to_string());
                        continue;
                    }
                    Err(e) => Err(e),
                };
                let credentials = match ready {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(tenant_id = %job.tenant, provider_id = %provider.id, error = ?e, "AWS failed before a provider call; the rest of the chunk waits for the job's retry");
                        self.aws_failed();
                        record.last_error = Some(AWS_FAILED.to_owned());
                        report.aws_failed = true;
                        break;
                    }
                };
                record.attempts += 1;
                self.counters.provider_calls.fetch_add(1, Ordering::Relaxed);
                let result = send(&self.providers, provider, &credentials, &outgoing).await;
                record.provider_id = Some(provider.id);
                let counted = match &result {
                    Ok(_) => Outcome::Sent,
                    Err(SendError::Permanent(reason)) => Outcome::Permanent(reason),
                    Err(SendError::Retryable(reason)) => Outcome::Retryable(reason),
                    Err(SendError::Throttled {
                        reason,
                        retry_after,
                    }) => {
                        if let Some(wait) = retry_after {
                            report.hold(
                                Utc::now() + chrono::Duration::from_std(*wait).unwrap_or_default(),
                            );
                        }
                        Outcome::Throttled(reason, *retry_after)
                    }
                };
                // The provider's health is shared through DynamoDB; failing to report it must
                // not lose what the call did (the gate keeps the counts for its next report).
                if let Err(e) = self.gate.record(job.tenant, provider.id, counted).await {
                    tracing::warn!(tenant_id = %job.tenant, provider_id = %provider.id, error = ?e, "reporting the provider's health failed");
                    self.aws_failed();
                }
                match result {
                    Ok(id) => {
                        if self.crash_due() {
                            anyhow::bail!("injected crash after an accepted provider call");
                        }
                        record.status = MessageStatus::Sent;
                        record.provider_message_id = Some(id);
                        record.sent_at = Some(Utc::now());
                        record.subject = outgoing.message.subject.clone();
                        record.last_error = None;
                        self.counters.sent.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    Err(SendError::Permanent(reason)) => {
                        record.status = MessageStatus::Failed;
                        record.last_error = Some(reason);
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(provider_id = %provider.id, message_id = %record.id, "retryable provider failure; trying the next provider");
                        record.last_error = Some(e.reason().to_owned());
                    }
                }
            }
            if providers.is_empty() {
                record.status = MessageStatus::Failed;
            }
            // Only waiting for send-rate capacity (no provider failed it): the job continues.
            waiting |=
                rate_booked && record.status == MessageStatus::Queued && record.attempts == 0;
            out.push(record);
        }
        report.add(job, snapshot, &out);
        Ok((out, waiting))
    }

    /// Puts the notice of messages sent through providers without events on the tracker's
    /// queue (one SendMessage per job). A failure is logged, not retried: the messages are
    /// recorded; only their analytics count would be missing.
    pub(crate) async fn send_notice(&self, entries: Vec<SentEntry>) {
        let Some(url) = &self.queue.tracker_url else {
            return;
        };
        if entries.is_empty() {
            return;
        }
        let n = entries.len();
        let body = match serde_json::to_string(&SentNotice {
            herald_sent: entries,
        }) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "serialising a sent notice failed");
                return;
            }
        };
        if let Err(e) = self
            .queue
            .sqs
            .send_message()
            .queue_url(url)
            .message_body(body)
            .send()
            .await
        {
            tracing::warn!(messages = n, error = %aws_sdk_sqs::error::DisplayErrorContext(&e), "the tracker queue refused a sent notice; those messages are not counted as sent in the analytics");
        }
    }
}

/// The SES message tags of a message: its ids (tenant, event, campaign, message, contact,
/// expiry) and the seal over them, so the tracker believes SES's events about it.
pub fn message_tags(ids: &SealedIds, seal: Option<Seal>) -> Vec<(String, String)> {
    let mut tags = vec![
        ("herald_tenant".to_owned(), ids.tenant.to_string()),
        ("herald_message".to_owned(), ids.message.to_string()),
    ];
    let optional = [
        ("herald_event", ids.event.map(|e| e.to_string())),
        ("herald_campaign", ids.campaign.map(|c| c.to_string())),
        ("herald_contact", ids.contact.map(|c| c.to_string())),
        ("herald_expires", ids.expires.map(|e| e.to_string())),
        (SEAL_TAG, seal.map(|s| s.to_string())),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            tags.push((name.to_owned(), value));
        }
    }
    tags
}
