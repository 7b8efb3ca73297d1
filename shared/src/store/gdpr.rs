//! What Herald holds about a contact, found from the contact alone (for export and erasure):
//!
//! - its guests: one per event, at the id derived from the event and the contact (the
//!   tenant's events: one Query; the guests: BatchGetItem);
//! - its messages: a campaign's message id is derived from the campaign and the guest (the
//!   tenant's campaigns: one Query of GSI1; the messages: BatchGetItem), and a transactional
//!   message to a contact is indexed in the contact's partition (`MSG#{mid}`);
//! - its consent ledger, frequency-cap counts and message index: the contact's partition;
//! - its address keys and its suppression entries.

use anyhow::Context as _;
use aws_sdk_dynamodb::types::AttributeValue;

use super::batch::ItemKey;
use super::{Store, StoreResult, keys};
use crate::domain::Channel;
use crate::guests::{Contact, Guest};
use crate::ids::{ContactId, GuestId, MessageId, TenantId};
use crate::messages::Message;
use crate::suppression::{Suppression, SuppressionSource};
use crate::tracking::TimelineEvent;

/// Everything found for one contact.
#[derive(Debug, Clone, Default)]
pub struct ContactData {
    pub guests: Vec<Guest>,
    pub messages: Vec<(Message, Vec<TimelineEvent>)>,
    pub suppressions: Vec<Suppression>,
}

const MESSAGE_INDEX_PREFIX: &str = "MSG#";

impl Store {
    /// Notes a transactional message to a contact in the contact's partition (so export and
    /// erasure find it).
    pub async fn index_contact_message(
        &self,
        tenant: TenantId,
        contact: ContactId,
        message: MessageId,
    ) -> StoreResult<()> {
        self.client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(contact_message_item(tenant, contact, message)))
            .send()
            .await
            .context("PutItem contact message index")?;
        Ok(())
    }

    /// The messages of these ids that exist, each with its events (oldest first): one
    /// BatchGetItem, then one Query per message found.
    pub async fn messages_with_events(
        &self,
        tenant: TenantId,
        mut ids: Vec<MessageId>,
    ) -> StoreResult<Vec<(Message, Vec<TimelineEvent>)>> {
        ids.sort();
        ids.dedup();
        let found = self.get_messages(tenant, &ids).await?;
        let mut messages = Vec::with_capacity(found.len());
        for id in ids.iter().filter(|id| found.contains_key(id)) {
            if let Some((Some(m), events)) = self.message_with_events(tenant, *id).await? {
                messages.push((m, events));
            }
        }
        Ok(messages)
    }

    /// The transactional messages indexed in a contact's partition.
    pub async fn contact_message_ids(
        &self,
        tenant: TenantId,
        contact: ContactId,
    ) -> StoreResult<Vec<MessageId>> {
        Ok(self
            .query_items(&keys::contact_pk(tenant, contact), MESSAGE_INDEX_PREFIX)
            .await?
            .iter()
            .filter_map(|item| super::string_attr(item, "message_id").parse().ok())
            .collect())
    }

    /// The contact's guests, messages (with their events) and suppression entries.
    pub async fn contact_data(
        &self,
        tenant: TenantId,
        contact: &Contact,
    ) -> StoreResult<ContactData> {
        let events = self.list_events(tenant).await?;
        let mut guests = Vec::new();
        for event in &events {
            let id = GuestId::derived(&[&event.id.to_string(), &contact.id.to_string()]);
            guests.extend(self.get_guests(tenant, event.id, &[id]).await?);
        }
        // A campaign message's id follows from the campaign and the guest, and a guest's from
        // the event and the contact: found even if the guest was deleted since.
        let campaigns = self.list_campaigns(tenant).await?;
        let mut ids: Vec<MessageId> = Vec::new();
        for c in &campaigns {
            let guest = GuestId::derived(&[&c.event_id.to_string(), &contact.id.to_string()]);
            ids.push(MessageId::derived(&[&c.id.to_string(), &guest.to_string()]));
        }
        ids.extend(self.contact_message_ids(tenant, contact.id).await?);
        let messages = self.messages_with_events(tenant, ids).await?;
        let mut suppressions = Vec::new();
        for (channel, address) in addresses(contact) {
            let probe = Suppression::new(channel, &address, SuppressionSource::Manual, "", None);
            suppressions.extend(self.get_suppression(tenant, &probe.key()).await?);
        }
        Ok(ContactData {
            guests,
            messages,
            suppressions,
        })
    }

    /// Erases a contact: its addresses go on the suppression list as hashes (so an opt-out
    /// still holds), its messages keep only what analytics need (no guest, no recipient, no
    /// subject, no error text; their events are deleted), then its guests, address keys, ledger and the
    /// contact itself are deleted, the contact last: a run that stops part-way is finished
    /// by running it again.
    pub async fn erase_contact(
        &self,
        tenant: TenantId,
        contact: &Contact,
        data: &ContactData,
    ) -> StoreResult<()> {
        for (channel, address) in addresses(contact) {
            let mut entry = Suppression::new(
                channel,
                &address,
                SuppressionSource::Erasure,
                "the contact was erased (GDPR)",
                None,
            );
            entry.hint = String::new();
            self.add_suppression(tenant, &entry).await?;
        }
        let scrubbed: Vec<Message> = data
            .messages
            .iter()
            .map(|(m, _)| Message {
                guest_id: None,
                last_error: None,
                pending_job: None,
                subject: None,
                ..m.clone()
            })
            .collect();
        self.finish_messages(tenant, &scrubbed).await?;
        let mut doomed: Vec<ItemKey> = Vec::new();
        for (m, _) in &data.messages {
            for item in self
                .query_items(&keys::message_pk(tenant, m.id), keys::MESSAGE_EVENT_PREFIX)
                .await?
            {
                doomed.push(ItemKey::of(&item));
            }
        }
        for g in &data.guests {
            doomed.push(ItemKey::new(
                keys::guests_pk(tenant, g.event_id, Guest::shard_of(g.id)),
                keys::guest_sk(g.id),
            ));
        }
        // The address keys go only if they are this contact's (a contact that lost an import
        // race holds none of its own).
        let mut address_keys = Vec::new();
        if let Some(email) = &contact.email {
            address_keys.push(keys::contact_key_pk(tenant, "email", email.as_str()));
        }
        if let Some(phone) = &contact.phone {
            address_keys.push(keys::contact_key_pk(tenant, "phone", phone.as_str()));
        }
        for pk in address_keys {
            let result = self
                .client()
                .delete_item()
                .table_name(self.table())
                .key(keys::PK, AttributeValue::S(pk))
                .key(keys::SK, AttributeValue::S(keys::KEY.to_owned()))
                .condition_expression("contact_id = :c")
                .expression_attribute_values(":c", AttributeValue::S(contact.id.to_string()))
                .send()
                .await;
            super::if_condition_met(result, "DeleteItem contact key")?;
        }
        let pk = keys::contact_pk(tenant, contact.id);
        for item in self.query_items(&pk, "").await? {
            let sk = super::string_attr(&item, keys::SK);
            if sk != keys::META {
                doomed.push(ItemKey::new(pk.clone(), sk));
            }
        }
        self.batch_delete_all(doomed).await?;
        self.batch_delete_all(vec![ItemKey::new(pk, keys::META)])
            .await
    }
}

/// A contact's addresses by channel kind (a phone's entry covers SMS and WhatsApp).
fn addresses(contact: &Contact) -> Vec<(Channel, String)> {
    let mut out = Vec::new();
    if let Some(e) = &contact.email {
        out.push((Channel::Email, e.as_str().to_owned()));
    }
    if let Some(p) = &contact.phone {
        out.push((Channel::Sms, p.as_str().to_owned()));
    }
    out
}

/// A contact's index entry for a transactional message to it.
pub(crate) fn contact_message_item(
    tenant: TenantId,
    contact: ContactId,
    message: MessageId,
) -> super::Item {
    std::collections::HashMap::from([
        (
            keys::PK.to_owned(),
            AttributeValue::S(keys::contact_pk(tenant, contact)),
        ),
        (
            keys::SK.to_owned(),
            AttributeValue::S(format!("{MESSAGE_INDEX_PREFIX}{message}")),
        ),
        (
            "message_id".to_owned(),
            AttributeValue::S(message.to_string()),
        ),
    ])
}
