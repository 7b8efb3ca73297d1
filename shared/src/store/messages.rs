//! Message records, their claims, the suppression list and idempotency records.
//!
//! No duplicate sends: before a provider call the sender *claims* what it sends — a campaign's
//! delivery batch as a whole (one conditional PutItem, see `campaigns`), a transactional message
//! by its record (conditional: absent or still queued). A redelivery finds the claim and leaves
//! the messages alone.

use std::collections::{HashMap, HashSet};

use anyhow::Context as _;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::batch::Transaction;
use super::{Item, Keys, Store, StoreResult, keys, string_attr};
use crate::domain::Channel;
use crate::ids::{MessageId, TenantId};
use crate::messages::{Message, suppression_key};

/// How long an idempotency key holds.
pub const IDEMPOTENCY_SECONDS: i64 = 24 * 60 * 60;

/// The first answer given for an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// SHA-256 of the request body it answered.
    pub request_hash: String,
    pub message_id: MessageId,
    pub status: u16,
    pub response: String,
    pub created_at: DateTime<Utc>,
    /// Unix seconds; DynamoDB's TTL removes the record some time after.
    pub ttl: i64,
}

fn key(pk: String, sk: &str) -> Item {
    HashMap::from([
        (keys::PK.to_owned(), AttributeValue::S(pk)),
        (keys::SK.to_owned(), AttributeValue::S(sk.to_owned())),
    ])
}

/// SES's Send event for a message: SES accepted it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendEvent {
    pub ses_message_id: String,
    pub at: DateTime<Utc>,
}

pub(crate) fn message_keys(tenant: TenantId, id: MessageId) -> Keys {
    Keys::new(keys::message_pk(tenant, id), keys::META)
}

/// What became of a claim.
#[derive(Debug, Clone, PartialEq)]
pub enum Claimed {
    /// Every record was written: the messages are this sender's.
    All,
    /// Some records were there already (claimed or final): each message's stored record,
    /// `None` for those that are still free.
    Some(HashMap<MessageId, Option<Message>>),
}

impl Store {
    /// Records a queued message and, with a key, its idempotency record, in one transaction.
    /// `Ok(false)` when the idempotency key (still valid) or the message already exists.
    pub async fn create_message(
        &self,
        tenant: TenantId,
        message: &Message,
        idempotency: Option<(&str, &IdempotencyRecord)>,
    ) -> StoreResult<bool> {
        let mut request = Transaction::new().with(
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(self.table())
                        .set_item(Some(Store::to_item(
                            &message_keys(tenant, message.id),
                            message,
                        )?))
                        .condition_expression("attribute_not_exists(PK)")
                        .build()
                        .context("put message")?,
                )
                .build(),
        )?;
        if let Some((hash, record)) = idempotency {
            request = request.with(
                TransactWriteItem::builder()
                    .put(
                        Put::builder()
                            .table_name(self.table())
                            .set_item(Some(Store::to_item(
                                &Keys::new(keys::idempotency_pk(tenant, hash), keys::IDEMPOTENCY),
                                record,
                            )?))
                            .condition_expression("attribute_not_exists(PK) OR #ttl < :now")
                            .expression_attribute_names("#ttl", keys::TTL)
                            .expression_attribute_values(
                                ":now",
                                AttributeValue::N(Utc::now().timestamp().to_string()),
                            )
                            .build()
                            .context("put idempotency")?,
                    )
                    .build(),
            )?;
        }
        self.transact(request, "message").await
    }

    /// The idempotency record of a key hash, unless it has expired.
    pub async fn get_idempotency(
        &self,
        tenant: TenantId,
        hash: &str,
    ) -> StoreResult<Option<IdempotencyRecord>> {
        let record: Option<IdempotencyRecord> = self
            .get(&keys::idempotency_pk(tenant, hash), keys::IDEMPOTENCY)
            .await?;
        Ok(record.filter(|r| r.ttl >= Utc::now().timestamp()))
    }

    pub async fn get_message(
        &self,
        tenant: TenantId,
        id: MessageId,
    ) -> StoreResult<Option<Message>> {
        self.get(&keys::message_pk(tenant, id), keys::META).await
    }

    pub async fn get_messages(
        &self,
        tenant: TenantId,
        ids: &[MessageId],
    ) -> StoreResult<HashMap<MessageId, Message>> {
        let found: Vec<Message> = self
            .batch_get_as(
                ids.iter()
                    .map(|id| key(keys::message_pk(tenant, *id), keys::META))
                    .collect(),
            )
            .await?;
        Ok(found.into_iter().map(|m| (m.id, m)).collect())
    }

    /// Claims messages one by one (transactional messages): writes each record if it is
    /// absent or still queued. The answer lists what stood in the way. (A campaign's batch is
    /// claimed whole instead: see `claim_batch`.)
    pub async fn claim_messages(
        &self,
        tenant: TenantId,
        messages: &[Message],
    ) -> StoreResult<Claimed> {
        let mut blocked: HashMap<MessageId, Option<Message>> = HashMap::new();
        for m in messages {
            let result = self
                .client()
                .put_item()
                .table_name(self.table())
                .set_item(Some(Store::to_item(&message_keys(tenant, m.id), m)?))
                .condition_expression("attribute_not_exists(PK) OR #status = :queued")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":queued", AttributeValue::S("queued".into()))
                .send()
                .await;
            match super::conditional(result, super::StoreError::AlreadyExists, || {
                "PutItem claim".to_owned()
            }) {
                Ok(()) => {}
                Err(super::StoreError::AlreadyExists) => {
                    blocked.insert(m.id, self.get_message(tenant, m.id).await?);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(if blocked.is_empty() {
            Claimed::All
        } else {
            Claimed::Some(blocked)
        })
    }

    /// Writes the records of messages this sender holds (BatchWriteItem, 25 per request).
    pub async fn finish_messages(&self, tenant: TenantId, messages: &[Message]) -> StoreResult<()> {
        let items = self.message_items(tenant, messages)?;
        self.batch_put_all(items).await
    }

    /// Messages as items to put.
    pub(crate) fn message_items(
        &self,
        tenant: TenantId,
        messages: &[Message],
    ) -> StoreResult<Vec<Item>> {
        messages
            .iter()
            .map(|m| Store::to_item(&message_keys(tenant, m.id), m))
            .collect()
    }

    /// Takes over a message whose claim (`sending`, claimed at `claimed_at`) was abandoned:
    /// a conditional put of `record`, so of two attempts to take it over one wins. True when
    /// this one did.
    pub async fn retake_message(
        &self,
        tenant: TenantId,
        record: &Message,
        claimed_at: Option<DateTime<Utc>>,
    ) -> StoreResult<bool> {
        let old =
            serde_dynamo::to_attribute_value(claimed_at).context("serializing a claim time")?;
        let result = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(Store::to_item(
                &message_keys(tenant, record.id),
                record,
            )?))
            .condition_expression("#status = :sending AND claimed_at = :old")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":sending", AttributeValue::S("sending".into()))
            .expression_attribute_values(":old", old)
            .send()
            .await;
        Ok(super::if_condition_met(result, "PutItem retake message")?.is_some())
    }

    /// The SES Send events recorded for these messages (BatchGetItem).
    pub async fn send_events(
        &self,
        tenant: TenantId,
        ids: &[MessageId],
    ) -> StoreResult<HashMap<MessageId, SendEvent>> {
        let found = self
            .batch_get_all(
                ids.iter()
                    .map(|id| {
                        key(
                            keys::message_pk(tenant, *id),
                            &keys::message_event_sk(crate::domain::DeliveryEvent::Sent),
                        )
                    })
                    .collect(),
            )
            .await?;
        let mut out = HashMap::new();
        for item in found {
            let pk = string_attr(&item, keys::PK);
            let Some(id) = pk.rsplit('#').next().and_then(|id| id.parse().ok()) else {
                continue;
            };
            let event: crate::tracking::TimelineEvent = Store::from_item(item)?;
            if let Some(ses_message_id) = event.provider_message_id {
                out.insert(
                    id,
                    SendEvent {
                        ses_message_id,
                        at: event.at,
                    },
                );
            }
        }
        Ok(out)
    }

    /// Which of these (channel, address) pairs are on the tenant's suppression list.
    pub async fn suppressed(
        &self,
        tenant: TenantId,
        addresses: &[(Channel, String)],
    ) -> StoreResult<HashSet<String>> {
        let mut wanted: Vec<String> = addresses
            .iter()
            .map(|(c, a)| suppression_key(*c, a))
            .collect();
        wanted.sort();
        wanted.dedup();
        let pk = keys::suppression_pk(tenant);
        let found = self
            .batch_get_all(wanted.iter().map(|sk| key(pk.clone(), sk)).collect())
            .await?;
        Ok(found
            .iter()
            .map(|item| string_attr(item, keys::SK))
            .collect())
    }
}
