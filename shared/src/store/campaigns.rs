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

/// The state of a batch of recipients waiting for their quiet hours to end.
const WAITING: &str = "waiting";
/// The id prefix of such batches (ids are otherwise hex).
pub const WAITED_BATCH_PREFIX: &str = "q";

impl Store {
    /// Notes delivery batches that wait for quiet hours (each once: a retried job finds them
    /// there), so the campaign is not finished before they are sent.
    pub async fn wait_batches(
        &self,
        tenant: TenantId,
        campaign: CampaignId,
        batches: &[String],
    ) -> StoreResult<()> {
        for batch in batches {
            let item = BatchItem {
                state: WAITING.into(),
                claimed_at: 0,
                tally: BTreeMap::new(),
            };
            let keys = Keys::new(keys::campaign_pk(tenant, campaign), keys::batch_sk(batch));
            match self.put_new(&keys, &item).await {
                Ok(()) | Err(super::StoreError::AlreadyExists) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

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
    /// delivery batches) and `batches_done`: one Query of the campaign's partition, which
    /// holds the campaign item and its batch items.
    pub async fn get_campaign(
        &self,
        tenant: TenantId,
        id: CampaignId,
    ) -> StoreResult<Option<Campaign>> {
        let pk = keys::campaign_pk(tenant, id);
        let items: Vec<Item> = self.query_items(&pk, "").await?;
        let mut campaign: Option<Campaign> = None;
        let mut batches = Vec::new();
        for item in items {
            let sk = super::string_attr(&item, keys::SK);
            if sk == keys::META {
                campaign = Some(Store::from_item(item)?);
            } else if let Some(id) = sk.strip_prefix(keys::BATCH_PREFIX) {
                let waited = id.starts_with(WAITED_BATCH_PREFIX);
                batches.push((waited, Store::from_item::<BatchItem>(item)?));
            }
        }
        Ok(campaign.map(|mut c| {
            c.counts = CampaignCounts {
                total: c.counts.total,
                ..CampaignCounts::default()
            };
            c.batches_done = 0;
            // Batches of recipients who waited for quiet hours are extra to the expected ones:
            // the campaign waits for every one of them to be done.
            c.batches_waiting = batches
                .iter()
                .filter(|(waited, b)| *waited && b.state != "done")
                .count() as u64;
            for (waited, b) in batches.iter().filter(|(_, b)| b.state == "done") {
                if !waited {
                    c.batches_done += 1;
                }
                for (name, n) in &b.tally {
                    match name.as_str() {
                        "sent" => c.counts.sent += n,
                        "failed" => c.counts.failed += n,
                        "suppressed" => c.counts.suppressed += n,
                        "no_consent" => c.counts.no_consent += n,
                        "frequency_capped" => c.counts.frequency_capped += n,
                        "no_address" => c.counts.no_address += n,
                        _ => {}
                    }
                }
            }
            c
        }))
    }

    /// Claims a delivery batch: absent, released by an attempt that will retry it, or claimed
    /// more than `stale_after` seconds ago by an attempt that never finished it. `retaken`
    /// when an earlier attempt had it: what that attempt recorded decides what is left to do.
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
                "attribute_not_exists(PK) OR #state IN (:released, :waiting) OR (#state = :sending AND claimed_at < :stale)",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":waiting", AttributeValue::S(WAITING.into()))
            .expression_attribute_values(":sending", AttributeValue::S("sending".into()))
            .expression_attribute_values(":released", AttributeValue::S("released".into()))
            .return_values(ReturnValue::AllOld)
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
            // A waiting batch was never attempted: nothing of it is recorded but its wait.
            Ok(out) => Ok(BatchClaim::Claimed {
                retaken: out.attributes.is_some_and(|a| {
                    !a.is_empty()
                        && a.get("state").and_then(|v| v.as_s().ok()).map(String::as_str)
                            != Some(WAITING)
                }),
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

    /// Gives a batch back so its next delivery can claim it at once (some of its messages wait
    /// for a provider).
    pub async fn release_batch(
        &self,
        tenant: TenantId,
        campaign: CampaignId,
        batch: &str,
    ) -> StoreResult<()> {
        let item = BatchItem {
            state: "released".into(),
            claimed_at: Utc::now().timestamp(),
            tally: BTreeMap::new(),
        };
        let keys = Keys::new(keys::campaign_pk(tenant, campaign), keys::batch_sk(batch));
        self.client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(Store::to_item(&keys, &item)?))
            .send()
            .await
            .context("PutItem batch released")?;
        Ok(())
    }

    /// Marks a batch delivered, with the outcome of each of its messages counted once; the
    /// batch's last `records` go in the same BatchWriteItem (one request for up to 24).
    pub async fn finish_batch(
        &self,
        tenant: TenantId,
        campaign: CampaignId,
        batch: &str,
        tally: &HashMap<MessageStatus, u64>,
        records: &[crate::messages::Message],
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
        // The records first, then the done item: a BatchWriteItem is not atomic, and a done
        // batch is never looked at again, so it may only land once every record has.
        if !records.is_empty() {
            self.batch_put_all(self.message_items(tenant, records)?)
                .await?;
        }
        self.client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(Store::to_item(&keys, &item)?))
            .send()
            .await
            .context("PutItem BATCH")?;
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
        super::if_condition_met(result, "UpdateItem campaign status")?
            .map(|out| Store::from_item(out.attributes.unwrap_or_default()))
            .transpose()
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
        super::if_condition_met(result, "UpdateItem campaign expansion")?
            .map(|out| Store::from_item(out.attributes.unwrap_or_default()))
            .transpose()
    }

    /// Marks a campaign sent (or partially failed, when a message failed) once every shard is
    /// expanded and every queued delivery job finished. `campaign` comes from `get_campaign`
    /// (its counts and finished batches summed). The campaign as it is now when this call
    /// finished it.
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
            || campaign.batches_waiting > 0
        {
            return Ok(None);
        }
        let to = if campaign.counts.failed > 0 {
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
