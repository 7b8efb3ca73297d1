//! Campaigns: their items, status transitions (conditional updates), delivery batch claims,
//! and live counts (summed over the batch items, so no single counter item is hot and a
//! redelivered batch counts nothing twice).

use std::collections::{BTreeMap, HashMap};

use anyhow::Context as _;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, Utc};

use super::{Item, Keys, Store, StoreResult, keys};
use crate::campaigns::{Campaign, CampaignCounts, CampaignStatus, counter_attribute};
use crate::ids::{CampaignId, TenantId};
use crate::messages::MessageStatus;

pub(crate) fn campaign_keys(tenant: TenantId, campaign: &Campaign) -> Keys {
    Keys::new(keys::campaign_pk(tenant, campaign.id), keys::META).with_gsi1(
        keys::campaigns_index_pk(tenant),
        format!("{}#{}", campaign.event_id, campaign.id),
    )
}

fn key(tenant: TenantId, id: CampaignId) -> Item {
    HashMap::from([
        (
            keys::PK.to_owned(),
            AttributeValue::S(keys::campaign_pk(tenant, id)),
        ),
        (
            keys::SK.to_owned(),
            AttributeValue::S(keys::META.to_owned()),
        ),
    ])
}

/// What claiming a delivery batch found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchClaim {
    /// The batch is this sender's; `retaken` when an earlier attempt stopped mid-batch (its
    /// claim went stale), so some of its messages may already have final records.
    Claimed { retaken: bool },
    /// Another attempt holds it (and its claim is recent): try again later.
    InFlight,
    /// It was delivered before.
    Done,
}

/// A batch item: one per delivery job of a campaign, holding its outcome counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct BatchItem {
    state: String,
    claimed_at: i64,
    #[serde(default)]
    tally: BTreeMap<String, u64>,
}

impl Store {
    pub async fn create_campaign(&self, tenant: TenantId, campaign: &Campaign) -> StoreResult<()> {
        self.put_new(&campaign_keys(tenant, campaign), campaign)
            .await
    }

    /// The campaign item alone (status, audience, total; outcome counts not summed): what the
    /// send path needs, in one GetItem.
    pub async fn campaign_item(
        &self,
        tenant: TenantId,
        id: CampaignId,
    ) -> StoreResult<Option<Campaign>> {
        self.get(&keys::campaign_pk(tenant, id), keys::META).await
    }

    /// A campaign with its live counts (the item's total, and the outcomes summed over its
    /// delivery batches).
    pub async fn get_campaign(
        &self,
        tenant: TenantId,
        id: CampaignId,
    ) -> StoreResult<Option<Campaign>> {
        let pk = keys::campaign_pk(tenant, id);
        let (campaign, batches) = tokio::try_join!(
            self.get::<Campaign>(&pk, keys::META),
            self.query_prefix::<BatchItem>(&pk, keys::BATCH_PREFIX)
        )?;
        Ok(campaign.map(|mut c| {
            let total = c.counts.total;
            c.counts = CampaignCounts {
                total,
                ..CampaignCounts::default()
            };
            for b in batches.iter().filter(|b| b.state == "done") {
                for (name, n) in &b.tally {
                    match name.as_str() {
                        "sent" => c.counts.sent += n,
                        "failed" => c.counts.failed += n,
                        "suppressed" => c.counts.suppressed += n,
                        "no_consent" => c.counts.no_consent += n,
                        "no_address" => c.counts.no_address += n,
                        _ => {}
                    }
                }
            }
            c
        }))
    }

    /// Claims a delivery batch: absent, or claimed more than `stale_after` seconds ago by an
    /// attempt that never finished it.
    pub async fn claim_batch(
        &self,
        tenant: TenantId,
        campaign: CampaignId,
        batch: &str,
        stale_after: i64,
    ) -> StoreResult<BatchClaim> {
        let now = Utc::now().timestamp();
        let item = BatchItem {
            state: "sending".into(),
            claimed_at: now,
            tally: BTreeMap::new(),
        };
        let keys = Keys::new(keys::campaign_pk(tenant, campaign), keys::batch_sk(batch));
        let result = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(Store::to_item(&keys, &item)?))
            .condition_expression(
                "attribute_not_exists(PK) OR (#state = :sending AND claimed_at < :stale)",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":sending", AttributeValue::S("sending".into()))
            .expression_attribute_values(
                ":stale",
                AttributeValue::N((now - stale_after).to_string()),
            )
            .return_values_on_condition_check_failure(
                aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
            )
            .send()
            .await;
        match result {
            Ok(out) => Ok(BatchClaim::Claimed {
                retaken: out.attributes.is_some_and(|a| !a.is_empty()),
            }),
            Err(e) => match e.as_service_error() {
                Some(
                    aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(c),
                ) => {
                    let done = c
                        .item()
                        .and_then(|i| i.get("state"))
                        .and_then(|v| v.as_s().ok())
                        .is_some_and(|s| s == "done");
                    Ok(if done { BatchClaim::Done } else { BatchClaim::InFlight })
                }
                _ => Err(anyhow::Error::new(e).context("PutItem batch claim").into()),
            },
        }
    }

    /// Marks a batch delivered, with the outcome of each of its messages counted once.
    pub async fn finish_batch(
        &self,
        tenant: TenantId,
        campaign: CampaignId,
        batch: &str,
        tally: &HashMap<MessageStatus, u64>,
    ) -> StoreResult<()> {
        let item = BatchItem {
            state: "done".into(),
            claimed_at: Utc::now().timestamp(),
            tally: tally
                .iter()
                .filter_map(|(s, n)| Some((counter_attribute(*s)?.to_owned(), *n)))
                .collect(),
        };
        let keys = Keys::new(keys::campaign_pk(tenant, campaign), keys::batch_sk(batch));
        self.client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(Store::to_item(&keys, &item)?))
            .send()
            .await
            .context("PutItem batch done")?;
        Ok(())
    }

    /// A tenant's campaigns, by event then id.
    pub async fn list_campaigns(&self, tenant: TenantId) -> StoreResult<Vec<Campaign>> {
        self.query_index(&keys::campaigns_index_pk(tenant), None)
            .await
    }

    pub async fn replace_campaign(
        &self,
        tenant: TenantId,
        campaign: &Campaign,
        expected: u64,
    ) -> StoreResult<()> {
        self.put_versioned(&campaign_keys(tenant, campaign), campaign, expected)
            .await
    }

    /// Moves a campaign from one of `from` to `to`, setting `extra` attributes; the campaign as
    /// it is now, or `None` when its status was not one of `from`.
    pub async fn transition_campaign(
        &self,
        tenant: TenantId,
        id: CampaignId,
        from: &[CampaignStatus],
        to: CampaignStatus,
        extra: &[(&str, AttributeValue)],
    ) -> StoreResult<Option<Campaign>> {
        let mut sets = vec!["#status = :to".to_owned(), "updated_at = :now".to_owned()];
        let mut request = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(tenant, id)))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":to", AttributeValue::S(to.as_str().into()))
            .expression_attribute_values(":now", AttributeValue::S(Utc::now().to_rfc3339()));
        let mut allowed = Vec::new();
        for (i, status) in from.iter().enumerate() {
            allowed.push(format!(":from{i}"));
            request = request.expression_attribute_values(
                format!(":from{i}"),
                AttributeValue::S(status.as_str().into()),
            );
        }
        for (i, (name, value)) in extra.iter().enumerate() {
            sets.push(format!("#x{i} = :x{i}"));
            request = request
                .expression_attribute_names(format!("#x{i}"), *name)
                .expression_attribute_values(format!(":x{i}"), value.clone());
        }
        let result = request
            .update_expression(format!("SET {}", sets.join(", ")))
            .condition_expression(format!(
                "attribute_exists(PK) AND #status IN ({})",
                allowed.join(", ")
            ))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => Ok(Some(Store::from_item(out.attributes.unwrap_or_default())?)),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(anyhow::Error::new(e)
                .context("UpdateItem campaign status")
                .into()),
        }
    }

    /// Records one page of the audience once: `found` more recipients and `shards_done` more
    /// finished shards, with `page` remembered so a redelivered expansion counts nothing twice.
    /// The campaign as it is now, or `None` when the page was counted before.
    pub async fn campaign_expanded(
        &self,
        tenant: TenantId,
        id: CampaignId,
        page: &str,
        found: u64,
        jobs: u64,
        shards_done: u32,
    ) -> StoreResult<Option<Campaign>> {
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(tenant, id)))
            .update_expression(
                "ADD #counts.#total :found, batches_expected :jobs, expanded_shards :done, expanded_pages :page",
            )
            .condition_expression("attribute_exists(PK) AND NOT contains(expanded_pages, :one)")
            .expression_attribute_names("#counts", "counts")
            .expression_attribute_names("#total", "total")
            .expression_attribute_values(":found", AttributeValue::N(found.to_string()))
            .expression_attribute_values(":done", AttributeValue::N(shards_done.to_string()))
            .expression_attribute_values(":jobs", AttributeValue::N(jobs.to_string()))
            .expression_attribute_values(":page", AttributeValue::Ss(vec![page.to_owned()]))
            .expression_attribute_values(":one", AttributeValue::S(page.to_owned()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => Ok(Some(Store::from_item(out.attributes.unwrap_or_default())?)),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(anyhow::Error::new(e)
                .context("UpdateItem campaign expansion")
                .into()),
        }
    }

    /// Counts one more finished delivery job; the campaign item as it is now.
    pub async fn campaign_batch_done(
        &self,
        tenant: TenantId,
        id: CampaignId,
    ) -> StoreResult<Campaign> {
        let out = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(tenant, id)))
            .update_expression("ADD batches_done :one")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .context("UpdateItem campaign batches")?;
        Store::from_item(out.attributes.unwrap_or_default())
    }

    /// Marks a campaign sent (or partially failed, when a message failed) once every shard is
    /// expanded and every queued delivery job finished. `campaign` is the item as last written.
    pub async fn finish_campaign_if_done(
        &self,
        tenant: TenantId,
        campaign: &Campaign,
        shards: u32,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Campaign>> {
        if campaign.status != CampaignStatus::Sending
            || campaign.expanded_shards < shards
            || campaign.batches_done < campaign.batches_expected
        {
            return Ok(None);
        }
        let counted = self
            .get_campaign(tenant, campaign.id)
            .await?
            .map(|c| c.counts)
            .unwrap_or_default();
        let to = if counted.failed > 0 {
            CampaignStatus::PartiallyFailed
        } else {
            CampaignStatus::Sent
        };
        self.transition_campaign(
            tenant,
            campaign.id,
            &[CampaignStatus::Sending],
            to,
            &[("finished_at", AttributeValue::S(now.to_rfc3339()))],
        )
        .await
    }
}
