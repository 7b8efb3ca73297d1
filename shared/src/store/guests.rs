//! Guests and contacts: reads, the guest list (a page across the event's shards, optionally
//! by RSVP), deletion. Imports are in `guest_import`.

use std::collections::{BTreeMap, HashMap};

use anyhow::Context as _;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Utc;

use super::{Item, Keys, Store, StoreResult, keys, string_attr};
use crate::domain::RsvpState;
use crate::guests::{Contact, GUEST_SHARDS, Guest};
use crate::ids::{ContactId, EventId, GuestId, TenantId};

pub(crate) fn key(pk: String, sk: &str) -> Item {
    HashMap::from([
        (keys::PK.to_owned(), AttributeValue::S(pk)),
        (keys::SK.to_owned(), AttributeValue::S(sk.to_owned())),
    ])
}

pub(crate) fn guest_keys(tenant: TenantId, event: EventId, id: GuestId) -> Keys {
    Keys::new(
        keys::guests_pk(tenant, event, Guest::shard_of(id)),
        keys::guest_sk(id),
    )
}

impl Store {
    pub async fn get_guest(
        &self,
        tenant: TenantId,
        event: EventId,
        id: GuestId,
    ) -> StoreResult<Option<Guest>> {
        let k = guest_keys(tenant, event, id);
        self.get(&k.pk, &k.sk).await
    }

    /// Guests by id (those that do not exist are left out).
    pub async fn get_guests(
        &self,
        tenant: TenantId,
        event: EventId,
        ids: &[GuestId],
    ) -> StoreResult<Vec<Guest>> {
        self.batch_get_as(
            ids.iter()
                .map(|id| {
                    let k = guest_keys(tenant, event, *id);
                    key(k.pk, &k.sk)
                })
                .collect(),
        )
        .await
    }

    pub async fn delete_guest(
        &self,
        tenant: TenantId,
        event: EventId,
        id: GuestId,
    ) -> StoreResult<()> {
        self.delete_with_id(&guest_keys(tenant, event, id), &id.to_string())
            .await
    }

    /// Up to `limit` guests of one shard after `after`, and where the next page starts.
    pub async fn guests_of_shard(
        &self,
        tenant: TenantId,
        event: EventId,
        shard: u32,
        after: Option<GuestId>,
        limit: i32,
    ) -> StoreResult<(Vec<Guest>, Option<GuestId>)> {
        let (guests, next, _) = self
            .guests_of_shard_where(tenant, event, shard, after, limit, None)
            .await?;
        Ok((guests, next))
    }

    /// As [`Store::guests_of_shard`], only guests whose RSVP stands at `rsvp` (a
    /// FilterExpression: `limit` guests are read, fewer may come back).
    async fn guests_of_shard_where(
        &self,
        tenant: TenantId,
        event: EventId,
        shard: u32,
        after: Option<GuestId>,
        limit: i32,
        rsvp: Option<RsvpState>,
    ) -> StoreResult<(Vec<Guest>, Option<GuestId>, usize)> {
        let pk = keys::guests_pk(tenant, event, shard);
        let mut request = self
            .client()
            .query()
            .table_name(self.table())
            .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
            .expression_attribute_values(":pk", AttributeValue::S(pk.clone()))
            .expression_attribute_values(":prefix", AttributeValue::S(keys::GUEST_PREFIX.into()))
            .limit(limit)
            .consistent_read(true);
        if let Some(after) = after {
            request = request.set_exclusive_start_key(Some(key(pk, &keys::guest_sk(after))));
        }
        request = match rsvp {
            None => request,
            Some(RsvpState::NoResponse) => request
                .filter_expression("attribute_not_exists(#r)")
                .expression_attribute_names("#r", "rsvp"),
            Some(state) => request
                .filter_expression("#r.#s = :rsvp")
                .expression_attribute_names("#r", "rsvp")
                .expression_attribute_names("#s", "status")
                .expression_attribute_values(":rsvp", AttributeValue::S(state.to_string())),
        };
        let out = request.send().await.context("Query guests")?;
        let scanned = usize::try_from(out.scanned_count).unwrap_or(0);
        let guests = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(Store::from_item)
            .collect::<StoreResult<Vec<Guest>>>()?;
        let next = out
            .last_evaluated_key
            .map(|k| string_attr(&k, keys::SK))
            .and_then(|sk| sk.strip_prefix(keys::GUEST_PREFIX)?.parse().ok());
        Ok((guests, next, scanned))
    }

    /// A page of an event's guests across its shards: `cursor` is (shard, last guest id).
    pub async fn list_guests(
        &self,
        tenant: TenantId,
        event: EventId,
        cursor: Option<(u32, Option<GuestId>)>,
        limit: usize,
    ) -> StoreResult<(Vec<Guest>, Option<(u32, Option<GuestId>)>)> {
        self.list_guests_where(tenant, event, cursor, limit, None)
            .await
    }

    /// As [`Store::list_guests`], only guests whose RSVP stands at `rsvp`. A filtered page
    /// holds at most `limit` guests and reads at most `4 × limit` (it may then come back
    /// short, even empty, with a cursor to go on).
    pub async fn list_guests_where(
        &self,
        tenant: TenantId,
        event: EventId,
        cursor: Option<(u32, Option<GuestId>)>,
        limit: usize,
        rsvp: Option<RsvpState>,
    ) -> StoreResult<(Vec<Guest>, Option<(u32, Option<GuestId>)>)> {
        let (mut shard, mut after) = cursor.unwrap_or((0, None));
        let mut out = Vec::new();
        // What a filtered page may read (a page without a filter reads what it returns): the
        // guests the queries scanned, matching or not.
        let mut budget = match rsvp {
            Some(_) => limit.saturating_mul(4),
            None => usize::MAX,
        };
        while shard < GUEST_SHARDS && out.len() < limit && budget > 0 {
            let want = (limit - out.len()).min(budget);
            let (page, next, scanned) = self
                .guests_of_shard_where(
                    tenant,
                    event,
                    shard,
                    after,
                    i32::try_from(want).unwrap_or(i32::MAX),
                    rsvp,
                )
                .await?;
            budget = budget.saturating_sub(scanned.max(1));
            out.extend(page);
            match next {
                Some(n) => after = Some(n),
                None => {
                    shard += 1;
                    after = None;
                }
            }
        }
        let cursor = (shard < GUEST_SHARDS).then_some((shard, after));
        Ok((out, cursor))
    }

    pub async fn get_contact(
        &self,
        tenant: TenantId,
        id: ContactId,
    ) -> StoreResult<Option<Contact>> {
        self.get(&keys::contact_pk(tenant, id), keys::META).await
    }

    /// Sets whether a contact is unsubscribed from everything.
    pub async fn set_unsubscribed(
        &self,
        tenant: TenantId,
        id: ContactId,
        unsubscribed: bool,
    ) -> StoreResult<()> {
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(keys::contact_pk(tenant, id), keys::META)))
            .update_expression("SET unsubscribed = :u, updated_at = :now")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":u", AttributeValue::Bool(unsubscribed))
            .expression_attribute_values(":now", super::stored_time(Utc::now()))
            .send()
            .await;
        super::conditional(result, super::StoreError::NotFound, || {
            "UpdateItem contact".to_owned()
        })
    }

    /// Contacts by id (missing ones are left out).
    pub async fn get_contacts(
        &self,
        tenant: TenantId,
        ids: &[ContactId],
    ) -> StoreResult<BTreeMap<ContactId, Contact>> {
        let mut unique = ids.to_vec();
        unique.sort();
        unique.dedup();
        let found: Vec<Contact> = self
            .batch_get_as(
                unique
                    .iter()
                    .map(|id| key(keys::contact_pk(tenant, *id), keys::META))
                    .collect(),
            )
            .await?;
        Ok(found.into_iter().map(|c| (c.id, c)).collect())
    }
}

impl Store {
    /// The contact's guests at these events (one BatchGetItem per 100 events; a guest's id
    /// follows from its event and contact).
    pub async fn guests_of_contact(
        &self,
        tenant: TenantId,
        contact: ContactId,
        events: &[EventId],
    ) -> StoreResult<Vec<Guest>> {
        let wanted = events
            .iter()
            .map(|e| {
                let id = GuestId::derived(&[&e.to_string(), &contact.to_string()]);
                let k = guest_keys(tenant, *e, id);
                key(k.pk, &k.sk)
            })
            .collect();
        self.batch_get_as(wanted).await
    }
}
