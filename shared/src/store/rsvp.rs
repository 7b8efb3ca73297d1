//! RSVP reads and writes: what an answer needs in one BatchGetItem (the event with its form,
//! the guest, the tenant, the wizard's active snapshot, whether a CRM is connected), and the
//! answer written in one TransactWriteItems with its confirmation message and the contact's
//! CRM outbox entry.

use std::collections::HashMap;

use anyhow::Context as _;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use chrono::{DateTime, Utc};

use super::batch::Transaction;
use super::{Event, Item, Store, StoreResult, Tenant, keys};
use crate::crm::Engagement;
use crate::guests::Guest;
use crate::ids::{ContactId, EventId, GuestId, TenantId};
use crate::messages::Message;
use crate::rsvp::Rsvp;
use crate::wizard::WizardRecord;

/// What answering an RSVP reads.
#[derive(Debug, Clone, Default)]
pub struct RsvpContext {
    pub event: Option<Event>,
    pub guest: Option<Guest>,
    pub tenant: Option<Tenant>,
    pub wizard: Option<WizardRecord>,
    /// The tenant has a CRM connection (the answer then goes to its outbox).
    pub crm_connected: bool,
}

/// A guest's RSVP change, with what goes with it.
#[derive(Debug, Clone)]
pub struct RsvpWrite<'a> {
    pub tenant: TenantId,
    pub event: EventId,
    pub guest: GuestId,
    /// The new RSVP (`None`: the answer is removed).
    pub rsvp: Option<&'a Rsvp>,
    /// The version of the RSVP it replaces (0: none): the write happens only if the guest
    /// still has it.
    pub replaces: u32,
    /// The confirmation to send, recorded queued with the contact's index entry.
    pub confirmation: Option<(&'a Message, ContactId)>,
    /// The contact's CRM outbox entry, when the tenant has a CRM.
    pub crm: Option<(ContactId, &'a Engagement)>,
    pub now: DateTime<Utc>,
}

fn key(pk: String, sk: &str) -> Item {
    HashMap::from([
        (keys::PK.to_owned(), AttributeValue::S(pk)),
        (keys::SK.to_owned(), AttributeValue::S(sk.to_owned())),
    ])
}

fn guest_key(tenant: TenantId, event: EventId, guest: GuestId) -> Item {
    key(
        keys::guests_pk(tenant, event, Guest::shard_of(guest)),
        &keys::guest_sk(guest),
    )
}

impl Store {
    /// The event, guest, tenant, wizard and CRM connection of an answer: one BatchGetItem.
    pub async fn rsvp_context(
        &self,
        tenant: TenantId,
        event: EventId,
        guest: GuestId,
    ) -> StoreResult<RsvpContext> {
        let wanted = vec![
            key(keys::tenant_pk(tenant), &keys::event_sk(event)),
            guest_key(tenant, event, guest),
            key(keys::tenant_pk(tenant), keys::META),
            key(keys::event_pk(tenant, event), keys::WIZARD),
            key(keys::crm_pk(tenant), keys::CRM_CONNECTION),
        ];
        let mut out = RsvpContext::default();
        for item in self.batch_get_all(wanted).await? {
            let (pk, sk) = (
                super::string_attr(&item, keys::PK),
                super::string_attr(&item, keys::SK),
            );
            if sk == keys::event_sk(event) {
                out.event = Some(Store::from_item(item)?);
            } else if sk == keys::guest_sk(guest) {
                out.guest = Some(Store::from_item(item)?);
            } else if sk == keys::META && pk == keys::tenant_pk(tenant) {
                out.tenant = Some(Store::from_item(item)?);
            } else if sk == keys::WIZARD {
                out.wizard = Some(Store::from_item(item)?);
            } else if sk == keys::CRM_CONNECTION {
                out.crm_connected = true;
            }
        }
        Ok(out)
    }

    /// Writes a guest's RSVP change in one TransactWriteItems: the guest (if its RSVP is still
    /// the one replaced), the confirmation's message record and index entry, the CRM outbox
    /// entry. `Ok(false)` when the guest is gone or its RSVP changed since it was read.
    pub async fn record_rsvp(&self, w: &RsvpWrite<'_>) -> StoreResult<bool> {
        let mut guest = Update::builder()
            .table_name(self.table())
            .set_key(Some(guest_key(w.tenant, w.event, w.guest)))
            .expression_attribute_names("#r", "rsvp")
            .expression_attribute_values(":now", super::stored_time(w.now));
        guest = match w.rsvp {
            Some(rsvp) => guest
                .update_expression("SET #r = :r, updated_at = :now")
                .expression_attribute_values(
                    ":r",
                    serde_dynamo::to_attribute_value(rsvp).context("serialising an RSVP")?,
                ),
            None => guest.update_expression("REMOVE #r SET updated_at = :now"),
        };
        guest = match w.replaces {
            0 => guest.condition_expression("attribute_exists(PK) AND attribute_not_exists(#r)"),
            v => guest
                .condition_expression("attribute_exists(PK) AND #r.version = :v")
                .expression_attribute_values(":v", AttributeValue::N(v.to_string())),
        };
        let mut transaction = Transaction::new().with(
            TransactWriteItem::builder()
                .update(guest.build().context("building the guest's RSVP Update")?)
                .build(),
        )?;
        if let Some((message, contact)) = w.confirmation {
            transaction.push(
                TransactWriteItem::builder()
                    .put(
                        Put::builder()
                            .table_name(self.table())
                            .set_item(Some(Store::to_item(
                                &super::messages::message_keys(w.tenant, message.id),
                                message,
                            )?))
                            .condition_expression("attribute_not_exists(PK)")
                            .build()
                            .context("put the confirmation")?,
                    )
                    .build(),
            )?;
            transaction.push(
                TransactWriteItem::builder()
                    .put(
                        Put::builder()
                            .table_name(self.table())
                            .set_item(Some(super::gdpr::contact_message_item(
                                w.tenant, contact, message.id,
                            )))
                            .build()
                            .context("put the contact's message index")?,
                    )
                    .build(),
            )?;
        }
        if let Some((contact, engagement)) = w.crm {
            transaction.push(
                TransactWriteItem::builder()
                    .update(self.outbox_update_with(w.tenant, contact, engagement, w.now)?)
                    .build(),
            )?;
        }
        self.transact(transaction, "RSVP").await
    }

    /// Every guest of an event, a page of each shard at a time, handed to `each`.
    pub async fn each_guest(
        &self,
        tenant: TenantId,
        event: EventId,
        mut each: impl FnMut(&Guest),
    ) -> StoreResult<u64> {
        let mut cursor = None;
        let mut count = 0;
        loop {
            let (page, next) = self.list_guests(tenant, event, cursor, 1000).await?;
            for guest in &page {
                each(guest);
            }
            count += page.len() as u64;
            match next {
                Some(n) => cursor = Some(n),
                None => return Ok(count),
            }
        }
    }
}
