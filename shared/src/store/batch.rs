//! Every multi-item request Herald sends to DynamoDB goes through here, shaped so that DynamoDB
//! cannot refuse it whole for repeating an item: BatchWriteItem and BatchGetItem refuse a
//! request that names one key twice ("Provided list of item keys contains duplicates"), and
//! TransactWriteItems one with two operations on one item ("Transaction request cannot include
//! multiple operations on one item"). On AWS such a refusal fails the whole batch, every time
//! it is retried.
//!
//! - [`Writes`]: a BatchWriteItem's requests keyed by item, so a key holds one request (a later
//!   write of a key replaces the earlier, as writing them one after the other would leave the
//!   table); sent 25 to a request.
//! - Keys to read are a set before they are read, 100 to a BatchGetItem.
//! - [`Transaction`]: its operations keyed by item; a second operation on an item is refused
//!   before anything is sent (a bug in the caller, never a request DynamoDB sees).

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context as _;
use aws_sdk_dynamodb::types::{
    AttributeValue, DeleteRequest, KeysAndAttributes, PutRequest, TransactWriteItem, WriteRequest,
};

use super::{Item, Store, StoreResult, keys, string_attr};

const BATCH_GET_ATTEMPTS: usize = 5;
const BATCH_WRITE_ATTEMPTS: usize = 6;
/// DynamoDB's limits: keys per BatchGetItem, requests per BatchWriteItem, actions per
/// TransactWriteItems.
pub const MAX_BATCH_GET: usize = 100;
pub const MAX_BATCH_WRITE: usize = 25;
pub const MAX_TRANSACTION: usize = 100;

/// An item's primary key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ItemKey {
    pub pk: String,
    pub sk: String,
}

impl ItemKey {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            sk: sk.into(),
        }
    }

    /// The key of an item (or of a key map).
    pub fn of(item: &Item) -> Self {
        Self::new(string_attr(item, keys::PK), string_attr(item, keys::SK))
    }

    /// The key as DynamoDB takes it.
    pub fn item(&self) -> Item {
        Item::from([
            (keys::PK.to_owned(), AttributeValue::S(self.pk.clone())),
            (keys::SK.to_owned(), AttributeValue::S(self.sk.clone())),
        ])
    }
}

/// One BatchWriteItem request of an item.
#[derive(Debug, Clone)]
enum Write {
    Put(Item),
    Delete,
}

/// BatchWriteItem requests, one per item key.
#[derive(Debug, Clone, Default)]
pub struct Writes(BTreeMap<ItemKey, Write>);

impl Writes {
    /// Puts `item` (replacing any earlier request for its key).
    pub fn put(&mut self, item: Item) {
        self.0.insert(ItemKey::of(&item), Write::Put(item));
    }

    /// Deletes the item at `key` (replacing any earlier request for it).
    pub fn delete(&mut self, key: ItemKey) {
        self.0.insert(key, Write::Delete);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn requests(self) -> anyhow::Result<Vec<WriteRequest>> {
        self.0
            .into_iter()
            .map(|(key, write)| {
                Ok(match write {
                    Write::Put(item) => WriteRequest::builder()
                        .put_request(PutRequest::builder().set_item(Some(item)).build()?)
                        .build(),
                    Write::Delete => WriteRequest::builder()
                        .delete_request(DeleteRequest::builder().set_key(Some(key.item())).build()?)
                        .build(),
                })
            })
            .collect()
    }
}

impl FromIterator<Item> for Writes {
    /// Puts of these items.
    fn from_iter<I: IntoIterator<Item = Item>>(items: I) -> Self {
        let mut writes = Self::default();
        for item in items {
            writes.put(item);
        }
        writes
    }
}

/// A TransactWriteItems request's operations, one per item.
#[derive(Debug, Clone, Default)]
pub struct Transaction {
    keys: BTreeSet<ItemKey>,
    items: Vec<TransactWriteItem>,
}

impl Transaction {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an operation; refused when the transaction already has one on its item, or holds
    /// DynamoDB's most.
    pub fn push(&mut self, operation: TransactWriteItem) -> anyhow::Result<&mut Self> {
        let key = Self::key_of(&operation).context("a transaction operation without a key")?;
        anyhow::ensure!(
            self.items.len() < MAX_TRANSACTION,
            "a transaction takes at most {MAX_TRANSACTION} operations"
        );
        anyhow::ensure!(
            self.keys.insert(key.clone()),
            "two operations on one item ({} / {}) in one transaction",
            key.pk,
            key.sk
        );
        self.items.push(operation);
        Ok(self)
    }

    /// [`Transaction::push`], by value.
    pub fn with(mut self, operation: TransactWriteItem) -> anyhow::Result<Self> {
        self.push(operation)?;
        Ok(self)
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    fn key_of(operation: &TransactWriteItem) -> Option<ItemKey> {
        let map = operation
            .put()
            .map(|p| p.item())
            .or_else(|| operation.update().map(|u| u.key()))
            .or_else(|| operation.delete().map(|d| d.key()))
            .or_else(|| operation.condition_check().map(|c| c.key()))?;
        Some(ItemKey::of(map))
    }

    pub(crate) fn into_items(self) -> Vec<TransactWriteItem> {
        self.items
    }
}

impl Store {
    /// BatchGetItem of any number of keys (each read once, 100 per request), asking again for
    /// unprocessed keys.
    pub(crate) async fn batch_get_all(&self, wanted: Vec<Item>) -> StoreResult<Vec<Item>> {
        let unique: BTreeSet<ItemKey> = wanted.iter().map(ItemKey::of).collect();
        let unique: Vec<ItemKey> = unique.into_iter().collect();
        let mut found = Vec::with_capacity(unique.len());
        for chunk in unique.chunks(MAX_BATCH_GET) {
            found.extend(self.batch_get_chunk(chunk).await?);
        }
        Ok(found)
    }

    async fn batch_get_chunk(&self, keys: &[ItemKey]) -> StoreResult<Vec<Item>> {
        let mut found = Vec::with_capacity(keys.len());
        let mut pending = Some(
            KeysAndAttributes::builder()
                .set_keys(Some(keys.iter().map(ItemKey::item).collect()))
                .consistent_read(true)
                .build()
                .context("batch keys")?,
        );
        for attempt in 0..BATCH_GET_ATTEMPTS {
            let Some(request) = pending.take() else { break };
            if attempt > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(25 << attempt)).await;
            }
            let out = self
                .client()
                .batch_get_item()
                .request_items(self.table(), request)
                .send()
                .await
                .context("BatchGetItem")?;
            if let Some(mut responses) = out.responses {
                found.extend(responses.remove(self.table()).unwrap_or_default());
            }
            pending = out
                .unprocessed_keys
                .and_then(|mut u| u.remove(self.table()))
                .filter(|k| !k.keys.is_empty());
        }
        if pending.is_some() {
            return Err(anyhow::anyhow!(
                "BatchGetItem left keys unprocessed after {BATCH_GET_ATTEMPTS} attempts"
            )
            .into());
        }
        Ok(found)
    }

    /// BatchWriteItem puts of `items` (one per key: a later item of a key replaces an earlier).
    pub(crate) async fn batch_put_all(&self, items: Vec<Item>) -> StoreResult<()> {
        self.batch_write_all(items.into_iter().collect()).await
    }

    /// BatchWriteItem deletes of these keys (each once).
    pub(crate) async fn batch_delete_all(&self, doomed: Vec<ItemKey>) -> StoreResult<()> {
        let mut writes = Writes::default();
        for key in doomed {
            writes.delete(key);
        }
        self.batch_write_all(writes).await
    }

    /// BatchWriteItem of `writes`, 25 at a time, sending what DynamoDB leaves unprocessed
    /// again (with a growing pause) up to [`BATCH_WRITE_ATTEMPTS`] times.
    pub(crate) async fn batch_write_all(&self, writes: Writes) -> StoreResult<()> {
        let requests = writes.requests()?;
        for chunk in requests.chunks(MAX_BATCH_WRITE) {
            let mut pending: Vec<WriteRequest> = chunk.to_vec();
            for attempt in 0..BATCH_WRITE_ATTEMPTS {
                if pending.is_empty() {
                    break;
                }
                if attempt > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(25 << attempt)).await;
                }
                let out = self
                    .client()
                    .batch_write_item()
                    .request_items(self.table(), std::mem::take(&mut pending))
                    .send()
                    .await
                    .context("BatchWriteItem")?;
                pending = out
                    .unprocessed_items
                    .and_then(|mut u| u.remove(self.table()))
                    .unwrap_or_default();
            }
            if !pending.is_empty() {
                return Err(anyhow::anyhow!(
                    "BatchWriteItem left items unprocessed after {BATCH_WRITE_ATTEMPTS} attempts"
                )
                .into());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::{ConditionCheck, Put, Update};

    fn item(pk: &str, sk: &str, v: &str) -> Item {
        let mut i = ItemKey::new(pk, sk).item();
        i.insert("v".into(), AttributeValue::S(v.into()));
        i
    }

    #[test]
    fn a_key_holds_one_write_the_last() {
        let writes: Writes = [
            item("A", "1", "old"),
            item("A", "2", "x"),
            item("A", "1", "new"),
        ]
        .into_iter()
        .collect();
        assert_eq!(writes.len(), 2);
        let requests = writes.requests().expect("requests");
        let first = requests[0].put_request().expect("put").item();
        assert_eq!(first.get("v"), Some(&AttributeValue::S("new".into())));
        let mut writes = Writes::default();
        writes.put(item("A", "1", "x"));
        writes.delete(ItemKey::new("A", "1"));
        let requests = writes.requests().expect("requests");
        assert_eq!(requests.len(), 1);
        assert!(requests[0].delete_request().is_some());
    }

    #[test]
    fn a_transaction_refuses_a_second_operation_on_an_item() {
        let put = |pk: &str| {
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name("t")
                        .set_item(Some(item(pk, "META", "x")))
                        .build()
                        .expect("put"),
                )
                .build()
        };
        let check = TransactWriteItem::builder()
            .condition_check(
                ConditionCheck::builder()
                    .table_name("t")
                    .set_key(Some(ItemKey::new("A", "META").item()))
                    .condition_expression("attribute_exists(PK)")
                    .build()
                    .expect("check"),
            )
            .build();
        let update = TransactWriteItem::builder()
            .update(
                Update::builder()
                    .table_name("t")
                    .set_key(Some(ItemKey::new("B", "META").item()))
                    .update_expression("SET v = :v")
                    .build()
                    .expect("update"),
            )
            .build();
        let mut tx = Transaction::new();
        tx.push(put("A")).expect("first");
        tx.push(update.clone()).expect("another item");
        assert!(
            tx.push(check).is_err(),
            "a check of an item already written"
        );
        assert!(tx.push(update).is_err(), "the same update twice");
        assert_eq!(tx.len(), 2);
        let mut full = Transaction::new();
        for i in 0..MAX_TRANSACTION {
            full.push(put(&i.to_string())).expect("within the limit");
        }
        assert!(full.push(put("one more")).is_err());
    }
}
