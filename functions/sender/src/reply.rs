//! A person's reply in a conversation (`SenderJob::Reply`, on the transactional queue): sent
//! through the channel's provider in the transactional lane of its send rate, to the address
//! the guest wrote from, and noted in the thread (`sent` or `failed: …`). A reply already
//! noted is not sent again (a second delivery of its job); one whose provider is closed or
//! failed retryably is tried again later.

use herald::conversations::ThreadMessage;
use herald::conversations::send::{Reply, pick_provider, reply_address, send_reply};

use super::*;

impl Sender {
    pub(crate) async fn reply(
        &self,
        tenant: TenantId,
        message: &ThreadMessage,
    ) -> anyhow::Result<JobOutcome> {
        let pending = self
            .store
            .pending_answers(tenant, std::slice::from_ref(message))
            .await?;
        if pending.is_empty() {
            return Ok(JobOutcome::noted("reply_already_noted"));
        }
        let Some(conversation) = self
            .store
            .get_conversation(tenant, message.conversation_id)
            .await?
        else {
            return Ok(JobOutcome::noted("reply_conversation_gone"));
        };
        let providers: Vec<Provider> = self
            .store
            .query_prefix(&herald::store::keys::providers_pk(tenant), "")
            .await?;
        let channel = message.channel;
        // The address the guest last wrote from; else the contact's (read only then).
        let to = match (
            conversation.addresses.get(&channel),
            conversation.contact_id,
        ) {
            (Some(a), _) => Some(a.clone()),
            (None, Some(id)) => self
                .store
                .get_contact(tenant, id)
                .await?
                .and_then(|k| k.address(channel).map(str::to_owned)),
            (None, None) => None,
        };
        let provider = pick_provider(
            &providers,
            channel,
            conversation.via.get(&channel).copied(),
            conversation.event_id,
        );
        let (Some(to), Some(provider)) = (to, provider) else {
            self.store
                .set_thread_delivery(
                    tenant,
                    message,
                    &format!("failed: no {channel} address or no active {channel} provider"),
                )
                .await?;
            return Ok(JobOutcome::noted("reply_failed"));
        };
        match self
            .gate
            .admit(lanes::Lane::Transactional, tenant, provider, 1)
            .await?
        {
            Ok(()) => {}
            Err(closed) => {
                tracing::info!(tenant_id = %tenant, provider_id = %provider.id, reason = %closed, "a reply waits for its provider");
                return Ok(JobOutcome {
                    tally: BTreeMap::from([("reply_waiting", 1)]),
                    retry: Some(Retry::Providers),
                    not_before: match closed {
                        gate::Closed::CircuitOpen(until) => Some(until),
                        gate::Closed::RateBooked => None,
                    },
                });
            }
        }
        // The guest's answer to an emailed reply threads back here too.
        let reply_to = match (&self.inbound_domain, channel) {
            (Some(domain), Channel::Email) => {
                let key = self.links.key(tenant).await?;
                Some(reply_address(key.as_ref(), tenant, message.id, domain))
            }
            _ => None,
        };
        let reply = Reply {
            to,
            subject: message.subject.clone(),
            text: message.text.clone(),
            reply_to,
            automatic: false,
        };
        let set = self.ses_configuration_set.as_deref();
        match send_reply(&self.providers, &self.sealer, tenant, provider, &reply, set).await {
            Ok(_) => {
                self.store
                    .set_thread_delivery(tenant, message, "sent")
                    .await?;
                tracing::info!(tenant_id = %tenant, conversation_id = %conversation.id, provider_id = %provider.id, "conversation reply sent");
                Ok(JobOutcome::noted("reply_sent"))
            }
            Err(e) if e.is_retryable() => {
                tracing::warn!(tenant_id = %tenant, provider_id = %provider.id, reason = %e.reason(), "a reply failed; it will be tried again");
                Ok(JobOutcome {
                    tally: BTreeMap::from([("reply_retry", 1)]),
                    retry: Some(Retry::Providers),
                    not_before: None,
                })
            }
            Err(e) => {
                self.store
                    .set_thread_delivery(tenant, message, &format!("failed: {}", e.reason()))
                    .await?;
                Ok(JobOutcome::noted("reply_failed"))
            }
        }
    }
}
