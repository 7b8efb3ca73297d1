//! The CRM outbox: contacts with something for the tenant's CRM (consent, profile edits,
//! engagement, RSVPs), sharded by contact; the CRM sync pushes and then removes them.

use anyhow::Context as _;
use aws_sdk_dynamodb::types::{AttributeValue, Update};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::crm::{OUTBOX_TTL_DAYS, key, n};
use super::{Item, Store, StoreResult, keys};
use crate::crm::Engagement;
use crate::ids::{ContactId, TenantId};

/// The outbox shard of a contact.
pub fn outbox_shard(contact: ContactId) -> u32 {
    contact
        .to_string()
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
        % keys::CRM_OUTBOX_SHARDS
}

/// A contact waiting in the outbox, as read.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OutboxEntry {
    pub contact_id: ContactId,
    /// When it was last touched (ms): removing it is conditional on this.
    pub at_ms: i64,
    #[serde(flatten)]
    pub engagement: Engagement,
}

impl Store {
    /// The outbox entry of a contact with changes for the CRM, for a transaction.
    pub(crate) fn outbox_update(
        &self,
        tenant: TenantId,
        contact: ContactId,
        now: DateTime<Utc>,
    ) -> StoreResult<Update> {
        Ok(Update::builder()
            .table_name(self.table())
            .set_key(Some(key(
                keys::crm_outbox_pk(tenant, outbox_shard(contact)),
                &contact.to_string(),
            )))
            .update_expression("SET contact_id = :cid, at_ms = :at, #ttl = :ttl")
            .expression_attribute_names("#ttl", keys::TTL)
            .expression_attribute_values(":cid", AttributeValue::S(contact.to_string()))
            .expression_attribute_values(":at", n(now.timestamp_millis()))
            .expression_attribute_values(
                ":ttl",
                n((now + chrono::Duration::days(OUTBOX_TTL_DAYS)).timestamp()),
            )
            .build()
            .context("building the outbox Update")?)
    }

    /// The outbox entry of a contact with the engagement given (fields left out are kept),
    /// for a transaction or on its own.
    pub(crate) fn outbox_update_with(
        &self,
        tenant: TenantId,
        contact: ContactId,
        engagement: &Engagement,
        now: DateTime<Utc>,
    ) -> StoreResult<Update> {
        let update = self.outbox_update(tenant, contact, now)?;
        let mut expression = update.update_expression().to_owned();
        let mut values = update
            .expression_attribute_values()
            .cloned()
            .unwrap_or_default();
        let value = serde_json::to_value(engagement).context("engagement")?;
        if let Some(fields) = value.as_object() {
            for (name, v) in fields {
                if let Some(text) = v.as_str() {
                    expression.push_str(&format!(", {name} = :{name}"));
                    values.insert(format!(":{name}"), AttributeValue::S(text.into()));
                }
            }
        }
        Ok(Update::builder()
            .table_name(self.table())
            .set_key(Some(update.key().clone()))
            .update_expression(expression)
            .set_expression_attribute_names(update.expression_attribute_names().cloned())
            .set_expression_attribute_values(Some(values))
            .build()
            .context("building the outbox Update")?)
    }

    /// Puts a contact in the outbox, with the engagement given (fields left out are kept).
    pub async fn touch_crm_outbox(
        &self,
        tenant: TenantId,
        contact: ContactId,
        engagement: &Engagement,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let update = self.outbox_update_with(tenant, contact, engagement, now)?;
        self.client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(update.key().clone()))
            .update_expression(update.update_expression())
            .set_expression_attribute_names(update.expression_attribute_names().cloned())
            .set_expression_attribute_values(update.expression_attribute_values().cloned())
            .send()
            .await
            .context("UpdateItem CRM outbox")?;
        Ok(())
    }

    /// One page (at most `limit`) of an outbox shard, and where the next starts.
    pub async fn crm_outbox_page(
        &self,
        tenant: TenantId,
        shard: u32,
        start: Option<Item>,
        limit: i32,
    ) -> StoreResult<(Vec<OutboxEntry>, Option<Item>)> {
        let out = self
            .client()
            .query()
            .table_name(self.table())
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(
                ":pk",
                AttributeValue::S(keys::crm_outbox_pk(tenant, shard)),
            )
            .set_exclusive_start_key(start)
            .limit(limit)
            .consistent_read(true)
            .send()
            .await
            .context("Query CRM outbox")?;
        let entries = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(Store::from_item)
            .collect::<StoreResult<Vec<OutboxEntry>>>()?;
        Ok((entries, out.last_evaluated_key))
    }

    /// Removes entries the CRM now has, each only if nothing touched it since it was read
    /// (16 at a time).
    pub async fn remove_crm_outbox(
        &self,
        tenant: TenantId,
        entries: &[OutboxEntry],
    ) -> StoreResult<()> {
        for chunk in entries.chunks(16) {
            let mut tasks = tokio::task::JoinSet::new();
            for e in chunk.iter().cloned() {
                let this = self.clone();
                tasks.spawn(async move {
                    let result = this
                        .client()
                        .delete_item()
                        .table_name(this.table())
                        .set_key(Some(key(
                            keys::crm_outbox_pk(tenant, outbox_shard(e.contact_id)),
                            &e.contact_id.to_string(),
                        )))
                        .condition_expression("at_ms = :at")
                        .expression_attribute_values(":at", n(e.at_ms))
                        .send()
                        .await;
                    super::if_condition_met(result, "DeleteItem CRM outbox").map(|_| ())
                });
            }
            while let Some(joined) = tasks.join_next().await {
                joined.map_err(|e| anyhow::anyhow!("an outbox delete task failed: {e}"))??;
            }
        }
        Ok(())
    }

    /// Puts contacts in the outbox, each with its engagement (16 at a time).
    pub async fn touch_crm_outboxes(
        &self,
        tenant: TenantId,
        entries: &[(ContactId, Engagement)],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        for chunk in entries.chunks(16) {
            let mut tasks = tokio::task::JoinSet::new();
            for (contact, engagement) in chunk.iter().cloned() {
                let this = self.clone();
                tasks.spawn(async move {
                    this.touch_crm_outbox(tenant, contact, &engagement, now)
                        .await
                });
            }
            while let Some(joined) = tasks.join_next().await {
                joined.map_err(|e| anyhow::anyhow!("an outbox update task failed: {e}"))??;
            }
        }
        Ok(())
    }
}
