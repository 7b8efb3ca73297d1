//! The single-table repository. Every tenant-owned read and write takes the tenant first; the
//! key design and access patterns are documented in [`keys`].

pub mod keys;

mod api_keys;
mod audit;
pub mod batch;
mod campaigns;
mod config;
mod consent;
mod conversation_settings;
mod conversations;
mod crm;
mod crm_outbox;
mod events;
mod gdpr;
mod guest_import;
mod guests;
mod journeys;
mod messages;
mod platform;
mod provider_state;
mod providers;
mod rate_limits;
mod rsvp;
mod senders;
mod sessions;
mod suppressions;
mod templates;
mod tenants;
mod threads;
mod tracking;
mod webhooks;
mod wizard;

use std::collections::HashMap;

use anyhow::Context as _;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use api_keys::{ApiKey, ApiKeyRecord, SECRET_PREFIX, hash_secret, new_secret};
pub use audit::{AuditEntry, AuditPage};
pub use campaigns::{BatchClaim, WAITED_BATCH_PREFIX};
pub use config::LoadedEvent;
pub use consent::{ChangeContext, Changed};
pub use conversation_settings::InboundNumber;
pub use conversations::{
    Appended, ContactConversation, ConversationFilter, ConversationPage, SEEN_DAYS, valid_cursor,
};
pub use crm::{OUTBOX_TTL_DAYS, RUN_TTL_DAYS, SyncedWrite, contact_address_keys};
pub use crm_outbox::{OutboxEntry, outbox_shard};
pub use events::{Event, EventFields, EventStatus};
pub use gdpr::ContactData;
pub use guest_import::ImportWrite;
pub use journeys::{EventJourney, SyncMark, TenantJourney};
pub use messages::{Claimed, IDEMPOTENCY_SECONDS, IdempotencyRecord, SendEvent};
pub use provider_state::{Booking, HealthDelta, ProviderHealth};
pub use rate_limits::{Admission, ApiLimits, Bucket, Seen};
pub use rsvp::{RsvpContext, RsvpWrite};
pub use sessions::{SESSION_HOURS, Session};
pub use tenants::{DEFAULT_RETENTION_DAYS, RETENTION_DAYS, Tenant, message_ttl};
pub use threads::ConversationExport;
pub use tracking::{
    Counters, IngestPlan, Ingested, MINUTE_TTL_SECONDS, candidate_keys, distinct,
    plan as plan_ingest,
};
pub use webhooks::AttemptPage;
pub use wizard::RequestError;

pub type Item = HashMap<String, AttributeValue>;

/// What a repository call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("already exists")]
    AlreadyExists,
    #[error("version {expected} is stale; the current version is {current}")]
    StaleVersion { expected: u64, current: u64 },
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The keys of one item: its primary key and, when it is listed through GSI1, its index key.
#[derive(Debug, Clone)]
pub struct Keys {
    pub pk: String,
    pub sk: String,
    pub gsi1: Option<(String, String)>,
}

impl Keys {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            sk: sk.into(),
            gsi1: None,
        }
    }

    pub fn with_gsi1(mut self, pk: impl Into<String>, sk: impl Into<String>) -> Self {
        self.gsi1 = Some((pk.into(), sk.into()));
        self
    }

    fn primary(&self) -> Item {
        HashMap::from([
            (keys::PK.to_owned(), AttributeValue::S(self.pk.clone())),
            (keys::SK.to_owned(), AttributeValue::S(self.sk.clone())),
        ])
    }
}

/// Herald's table.
#[derive(Clone, Debug)]
pub struct Store {
    db: Client,
    table: String,
}

impl Store {
    pub fn new(db: Client, table: impl Into<String>) -> Self {
        Self {
            db,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn client(&self) -> &Client {
        &self.db
    }

    pub(crate) fn to_item<T: Serialize>(keys: &Keys, value: &T) -> StoreResult<Item> {
        let mut item: Item = serde_dynamo::to_item(value).context("serialising an item")?;
        item.extend(keys.primary());
        if let Some((pk, sk)) = &keys.gsi1 {
            item.insert(keys::GSI1PK.to_owned(), AttributeValue::S(pk.clone()));
            item.insert(keys::GSI1SK.to_owned(), AttributeValue::S(sk.clone()));
        }
        Ok(item)
    }

    fn from_item<T: DeserializeOwned>(item: Item) -> StoreResult<T> {
        let (pk, sk) = (string_attr(&item, keys::PK), string_attr(&item, keys::SK));
        serde_dynamo::from_item(item)
            .with_context(|| format!("reading item {pk} / {sk}"))
            .map_err(Into::into)
    }

    /// Writes a new item; `AlreadyExists` if one is there.
    pub async fn put_new<T: Serialize>(&self, keys: &Keys, value: &T) -> StoreResult<()> {
        let result = self
            .db
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::to_item(keys, value)?))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await;
        conditional(result, StoreError::AlreadyExists, || {
            format!("PutItem {}", keys.sk)
        })
    }

    /// Replaces an item if its stored `version` is `expected`; `value` must carry `expected + 1`.
    /// `expected == 0` means the item must not exist yet (a first write of a singleton).
    pub async fn put_versioned<T: Serialize>(
        &self,
        keys: &Keys,
        value: &T,
        expected: u64,
    ) -> StoreResult<()> {
        let mut request = self
            .db
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::to_item(keys, value)?))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        request = if expected == 0 {
            request.condition_expression("attribute_not_exists(PK)")
        } else {
            request
                .condition_expression("attribute_exists(PK) AND version = :expected")
                .expression_attribute_values(":expected", AttributeValue::N(expected.to_string()))
        };
        match request.send().await {
            Ok(_) => Ok(()),
            Err(e) => match e.as_service_error() {
                Some(s) if s.is_conditional_check_failed_exception() => {
                    let current = match s {
                        aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(c) => {
                            c.item().and_then(version_of)
                        }
                        _ => None,
                    };
                    match current {
                        None if expected != 0 => Err(StoreError::NotFound),
                        current => Err(StoreError::StaleVersion {
                            expected,
                            current: current.unwrap_or(0),
                        }),
                    }
                }
                _ => Err(anyhow::Error::new(e)
                    .context(format!("PutItem {}", keys.sk))
                    .into()),
            },
        }
    }

    pub async fn get<T: DeserializeOwned>(&self, pk: &str, sk: &str) -> StoreResult<Option<T>> {
        let out = self
            .db
            .get_item()
            .table_name(&self.table)
            .key(keys::PK, AttributeValue::S(pk.to_owned()))
            .key(keys::SK, AttributeValue::S(sk.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .with_context(|| format!("GetItem {sk}"))?;
        out.item.map(Self::from_item).transpose()
    }

    /// Every item of a partition whose sort key starts with `prefix` (all of it when empty), all pages.
    pub async fn query_prefix<T: DeserializeOwned>(
        &self,
        pk: &str,
        prefix: &str,
    ) -> StoreResult<Vec<T>> {
        let items = self.query_items(pk, prefix).await?;
        items.into_iter().map(Self::from_item).collect()
    }

    /// As `query_prefix`, the raw items.
    pub(crate) async fn query_items(&self, pk: &str, prefix: &str) -> StoreResult<Vec<Item>> {
        let mut request = self
            .db
            .query()
            .table_name(&self.table)
            .expression_attribute_values(":pk", AttributeValue::S(pk.to_owned()));
        request = if prefix.is_empty() {
            request.key_condition_expression("PK = :pk")
        } else {
            request
                .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
                .expression_attribute_values(":prefix", AttributeValue::S(prefix.to_owned()))
        };
        let items = request
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .with_context(|| format!("Query {prefix}"))?;
        Ok(items)
    }

    /// Items of a GSI1 partition, optionally only the one with an exact GSI1 sort key.
    pub async fn query_index<T: DeserializeOwned>(
        &self,
        pk: &str,
        sk: Option<&str>,
    ) -> StoreResult<Vec<T>> {
        let mut request = self
            .db
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI1)
            .expression_attribute_values(":pk", AttributeValue::S(pk.to_owned()));
        request = match sk {
            Some(sk) => request
                .key_condition_expression("GSI1PK = :pk AND GSI1SK = :sk")
                .expression_attribute_values(":sk", AttributeValue::S(sk.to_owned())),
            None => request.key_condition_expression("GSI1PK = :pk"),
        };
        let items = request
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .context("Query GSI1")?;
        items.into_iter().map(Self::from_item).collect()
    }

    /// Deletes an item if it exists and its attribute `id` is `id`; `NotFound` otherwise.
    pub async fn delete_with_id(&self, keys: &Keys, id: &str) -> StoreResult<()> {
        let result = self
            .db
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(keys.primary()))
            .condition_expression("attribute_exists(PK) AND id = :id")
            .expression_attribute_values(":id", AttributeValue::S(id.to_owned()))
            .send()
            .await;
        conditional(result, StoreError::NotFound, || {
            format!("DeleteItem {}", keys.sk)
        })
    }
}

impl Store {
    /// Sends a TransactWriteItems request; `Ok(false)` when a condition cancelled it. A request
    /// cancelled only because another transaction held one of its items (`TransactionConflict`,
    /// e.g. two batches updating one campaign's counters) is sent again, with jittered backoff.
    pub(crate) async fn transact(
        &self,
        transaction: batch::Transaction,
        what: &'static str,
    ) -> StoreResult<bool> {
        const ATTEMPTS: u32 = 10;
        let request = self
            .client()
            .transact_write_items()
            .set_transact_items(Some(transaction.into_items()));
        for attempt in 1..=ATTEMPTS {
            let e = match request.clone().send().await {
                Ok(_) => return Ok(true),
                Err(e) => e,
            };
            let Some(cancelled) = e.as_service_error().and_then(|s| match s {
                aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c) => Some(c),
                _ => None,
            }) else {
                let conflict = e
                    .as_service_error()
                    .is_some_and(|s| s.is_transaction_in_progress_exception());
                if conflict && attempt < ATTEMPTS {
                    backoff(attempt).await;
                    continue;
                }
                return Err(anyhow::Error::new(e)
                    .context(format!("TransactWriteItems {what}"))
                    .into());
            };
            let codes: Vec<&str> = cancelled
                .cancellation_reasons()
                .iter()
                .filter_map(|r| r.code())
                .filter(|c| *c != "None")
                .collect();
            let only_conflicts =
                !codes.is_empty() && codes.iter().all(|c| *c == "TransactionConflict");
            if !only_conflicts {
                return Ok(false);
            }
            if attempt == ATTEMPTS {
                return Err(anyhow::anyhow!(
                    "TransactWriteItems {what}: still conflicting after {ATTEMPTS} attempts"
                )
                .into());
            }
            backoff(attempt).await;
        }
        Ok(false)
    }

    /// BatchGetItem of `keys`, each found item read as a `T`.
    pub(crate) async fn batch_get_as<T: DeserializeOwned>(
        &self,
        keys: Vec<Item>,
    ) -> StoreResult<Vec<T>> {
        self.batch_get_all(keys)
            .await?
            .into_iter()
            .map(Store::from_item)
            .collect()
    }
}

/// Sleeps 10 ms × 2^attempt at most, jittered.
async fn backoff(attempt: u32) {
    let cap = 10u64 << attempt.min(6);
    let wait = rand::random_range(cap / 2..=cap);
    tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
}

/// A time as items store it (serde's form of `DateTime<Utc>`), for expressions that write or
/// compare a stored time.
pub(crate) fn stored_time(at: chrono::DateTime<chrono::Utc>) -> AttributeValue {
    AttributeValue::S(
        serde_json::to_value(at)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
    )
}

/// A string attribute of an item, or "" when it is absent.
pub(crate) fn string_attr(item: &Item, name: &str) -> String {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default()
}

/// Maps a conditional write's outcome: a failed condition is `failed`, any other error is
/// unexpected with the context `what`.
fn conditional<T, E, R>(
    result: Result<T, aws_smithy_runtime_api::client::result::SdkError<E, R>>,
    failed: StoreError,
    what: impl FnOnce() -> String,
) -> StoreResult<()>
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata
        + std::error::Error
        + Send
        + Sync
        + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error().and_then(|s| s.code())
                == Some("ConditionalCheckFailedException") =>
        {
            Err(failed)
        }
        Err(e) => Err(anyhow::Error::new(e).context(what()).into()),
    }
}

/// A conditional write's output, or `None` when its condition failed; any other error is
/// unexpected with the context `what`.
pub(crate) fn if_condition_met<T, E, R>(
    result: Result<T, aws_smithy_runtime_api::client::result::SdkError<E, R>>,
    what: &str,
) -> StoreResult<Option<T>>
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata
        + std::error::Error
        + Send
        + Sync
        + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match result {
        Ok(out) => Ok(Some(out)),
        Err(e)
            if e.as_service_error().and_then(|s| s.code())
                == Some("ConditionalCheckFailedException") =>
        {
            Ok(None)
        }
        Err(e) => Err(anyhow::Error::new(e).context(what.to_owned()).into()),
    }
}

fn version_of(item: &Item) -> Option<u64> {
    item.get("version")
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
}
