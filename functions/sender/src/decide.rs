//! Decide: the checks before any send (each delivery's record, channel, suppression, consent,
//! quiet hours, frequency caps).

use super::*;

impl Sender {
    /// The checks before any send: each delivery's record, `sending` for those to send, or
    /// final with the reason it is not sent; and the campaign messages due inside their
    /// contact's quiet hours, with when those end (`deliver` records them as waiting).
    pub(crate) async fn decide_all(
        &self,
        job: &Job<'_>,
        snapshot: Option<&Snapshot>,
        deliveries: &[Delivery],
        now: chrono::DateTime<Utc>,
    ) -> anyhow::Result<(Vec<Message>, HashMap<MessageId, chrono::DateTime<Utc>>)> {
        let contact_ids: Vec<ContactId> = deliveries
            .iter()
            .filter_map(|d| d.recipient.contact_id)
            .collect();
        let addresses: Vec<(Channel, String)> = deliveries
            .iter()
            .filter_map(|d| {
                let channel = choose_channel(job.channels, &d.recipient)?;
                Some((channel, d.recipient.address(channel)?.to_owned()))
            })
            .collect();
        let (contacts, suppressed) = tokio::try_join!(
            self.store.get_contacts(job.tenant, &contact_ids),
            self.store.suppressed(job.tenant, &addresses)
        )?;
        let retention = self.retention(job.tenant).await?;
        let mut records = Vec::with_capacity(deliveries.len());
        let mut deferred = HashMap::new();
        let mut capped: Vec<(usize, ContactId, herald::consent::FrequencyCap)> = Vec::new();
        for d in deliveries {
            let contact: Option<&Contact> = d.recipient.contact_id.and_then(|c| contacts.get(&c));
            let is_suppressed = |channel: Channel, address: &str| {
                suppressed.contains(&suppression_key(channel, address))
            };
            let mut record = Message {
                snapshot_version: snapshot.map(|s| s.version),
                ..Message::queued(
                    d.message_id,
                    (job.tenant, job.event, job.campaign),
                    d.recipient.guest_id,
                    job.category,
                    herald::store::message_ttl(retention, now),
                    now,
                )
            };
            match decide(
                job.channels,
                job.category,
                &d.recipient,
                contact,
                &is_suppressed,
            ) {
                Decision::Skip(status) => {
                    record.status = status;
                    record.channel = choose_channel(job.channels, &d.recipient);
                }
                Decision::Send(channel) if snapshot.is_none() => {
                    record.status = MessageStatus::Failed;
                    record.channel = Some(channel);
                    record.last_error =
                        Some("the event has no active snapshot: complete its wizard".to_owned());
                }
                Decision::Send(channel) => {
                    record.status = MessageStatus::Sending;
                    record.channel = Some(channel);
                    record.claimed_at = Some(now);
                    // Campaign messages respect the contact's quiet hours and frequency cap
                    // (transactional ones, such as an RSVP confirmation, go at once).
                    if job.campaign.is_some()
                        && let Some(c) = contact
                    {
                        // A job that waited is judged at its due time (never a moment early).
                        let at = job.not_before.map_or(now, |due| due.max(now));
                        if let Some(until) = c.quiet_hours.and_then(|q| q.until(at)) {
                            // Recorded as waiting by `deliver`, which decides what waits.
                            deferred.insert(record.id, until);
                        } else if let Some(cap) = c.frequency_cap {
                            capped.push((records.len(), c.id, cap));
                        }
                    }
                }
            }
            records.push(record);
        }
        // One conditional UpdateItem per capped contact's message, all at once.
        let booked = futures::future::try_join_all(capped.iter().map(|(i, contact, cap)| {
            self.store
                .book_frequency(job.tenant, *contact, cap, records[*i].id, now)
        }))
        .await?;
        for ((i, _, cap), fits) in capped.iter().zip(booked) {
            if !fits {
                let r = &mut records[*i];
                r.status = MessageStatus::FrequencyCapped;
                r.claimed_at = None;
                r.last_error = Some(format!(
                    "the contact's frequency cap of {} per {} is reached",
                    cap.max, cap.per
                ));
            }
        }
        Ok((records, deferred))
    }
}
