//! The tenant's suppression list (see `crate::suppression`).

use std::collections::HashMap;

use anyhow::Context as _;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::batch::Transaction;
use super::{Keys, Store, StoreError, StoreResult, keys};
use crate::ids::TenantId;
use crate::suppression::Suppression;

/// A removed entry, kept with why it was removed.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Removed {
    #[serde(flatten)]
    entry: Suppression,
    removed_reason: String,
    removed_at: DateTime<Utc>,
}

impl Store {
    /// Puts an entry on the tenant's suppression list (replacing one for the same address).
    pub async fn add_suppression(&self, tenant: TenantId, entry: &Suppression) -> StoreResult<()> {
        self.client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(Store::to_item(
                &Keys::new(keys::suppression_pk(tenant), entry.key()),
                entry,
            )?))
            .send()
            .await
            .context("PutItem suppression")?;
        Ok(())
    }

    /// One entry by its sort key.
    pub async fn get_suppression(
        &self,
        tenant: TenantId,
        sk: &str,
    ) -> StoreResult<Option<Suppression>> {
        self.get(&keys::suppression_pk(tenant), sk).await
    }

    /// A page of entries in key order (`kind`: only `email` or `phone` entries), after the
    /// sort key `after`; the next page's `after` when there is more.
    pub async fn list_suppressions(
        &self,
        tenant: TenantId,
        kind: Option<&str>,
        after: Option<&str>,
        limit: i32,
    ) -> StoreResult<(Vec<Suppression>, Option<String>)> {
        let (from, to) = match kind {
            Some(k) => (format!("{k}#"), format!("{k}#\u{ffff}")),
            None => ("email#".to_owned(), "phone#\u{ffff}".to_owned()),
        };
        let mut request = self
            .client()
            .query()
            .table_name(self.table())
            .key_condition_expression("PK = :pk AND SK BETWEEN :from AND :to")
            .expression_attribute_values(":pk", AttributeValue::S(keys::suppression_pk(tenant)))
            .expression_attribute_values(":from", AttributeValue::S(from))
            .expression_attribute_values(":to", AttributeValue::S(to))
            .limit(limit);
        if let Some(after) = after {
            request = request.set_exclusive_start_key(Some(HashMap::from([
                (
                    keys::PK.to_owned(),
                    AttributeValue::S(keys::suppression_pk(tenant)),
                ),
                (keys::SK.to_owned(), AttributeValue::S(after.to_owned())),
            ])));
        }
        let out = request.send().await.context("Query suppressions")?;
        let next = out
            .last_evaluated_key()
            .and_then(|k| k.get(keys::SK))
            .and_then(|v| v.as_s().ok())
            .cloned();
        let entries = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(Store::from_item)
            .collect::<StoreResult<Vec<Suppression>>>()?;
        Ok((entries, next))
    }

    /// Takes an entry off the list, keeping a record of it with `reason` (one transaction);
    /// `NotFound` when it is not on the list.
    pub async fn remove_suppression(
        &self,
        tenant: TenantId,
        sk: &str,
        reason: &str,
    ) -> StoreResult<Suppression> {
        let Some(entry) = self.get_suppression(tenant, sk).await? else {
            return Err(StoreError::NotFound);
        };
        let now = Utc::now();
        let record = Removed {
            entry: entry.clone(),
            removed_reason: reason.to_owned(),
            removed_at: now,
        };
        let pk = keys::suppression_pk(tenant);
        let history = Keys::new(
            pk.clone(),
            format!(
                "{}{:013}#{}",
                keys::SUPPRESSION_REMOVED_PREFIX,
                now.timestamp_millis(),
                entry.id
            ),
        );
        let request = Transaction::new()
            .with(
                TransactWriteItem::builder()
                    .delete(
                        Delete::builder()
                            .table_name(self.table())
                            .key(keys::PK, AttributeValue::S(pk))
                            .key(keys::SK, AttributeValue::S(sk.to_owned()))
                            .condition_expression("attribute_exists(PK)")
                            .build()
                            .context("suppression delete")?,
                    )
                    .build(),
            )?
            .with(
                TransactWriteItem::builder()
                    .put(
                        Put::builder()
                            .table_name(self.table())
                            .set_item(Some(Store::to_item(&history, &record)?))
                            .build()
                            .context("suppression history")?,
                    )
                    .build(),
            )?;
        if self.transact(request, "remove suppression").await? {
            Ok(entry)
        } else {
            Err(StoreError::NotFound)
        }
    }
}
