//! Email sender identities of a tenant, and the platform-wide claim on each.

use std::collections::HashMap;

use anyhow::Context as _;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};

use super::batch::Transaction;
use super::{Keys, Store, StoreError, StoreResult, keys};
use crate::ids::TenantId;
use crate::senders::Sender;

fn claim_key(identity: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (
            keys::PK.to_owned(),
            AttributeValue::S(keys::sender_claim_pk(identity)),
        ),
        (
            keys::SK.to_owned(),
            AttributeValue::S(keys::CLAIM.to_owned()),
        ),
    ])
}

impl Store {
    /// Records a tenant's sender and claims the identity; `AlreadyExists` when any tenant
    /// (this one included) holds it.
    pub async fn create_sender(&self, tenant: TenantId, sender: &Sender) -> StoreResult<()> {
        let item = Store::to_item(
            &Keys::new(keys::tenant_pk(tenant), keys::sender_sk(&sender.identity)),
            sender,
        )?;
        let mut claim = claim_key(&sender.identity);
        claim.insert("tenant_id".into(), AttributeValue::S(tenant.to_string()));
        let put = |item, what: &str| -> anyhow::Result<TransactWriteItem> {
            Ok(TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(self.table())
                        .set_item(Some(item))
                        .condition_expression("attribute_not_exists(PK)")
                        .build()
                        .with_context(|| format!("put {what}"))?,
                )
                .build())
        };
        let request = Transaction::new()
            .with(put(claim, "claim")?)?
            .with(put(item, "sender")?)?;
        match self.transact(request, "sender").await? {
            true => Ok(()),
            false => Err(StoreError::AlreadyExists),
        }
    }

    pub async fn get_sender(
        &self,
        tenant: TenantId,
        identity: &str,
    ) -> StoreResult<Option<Sender>> {
        self.get(&keys::tenant_pk(tenant), &keys::sender_sk(identity))
            .await
    }

    pub async fn list_senders(&self, tenant: TenantId) -> StoreResult<Vec<Sender>> {
        self.query_prefix(&keys::tenant_pk(tenant), keys::SENDER_PREFIX)
            .await
    }

    /// Removes a tenant's sender and releases its claim; `NotFound` if the tenant has none.
    pub async fn delete_sender(&self, tenant: TenantId, identity: &str) -> StoreResult<()> {
        let sender_key = HashMap::from([
            (
                keys::PK.to_owned(),
                AttributeValue::S(keys::tenant_pk(tenant)),
            ),
            (
                keys::SK.to_owned(),
                AttributeValue::S(keys::sender_sk(identity)),
            ),
        ]);
        let delete = |key, condition: &str| -> anyhow::Result<TransactWriteItem> {
            Ok(TransactWriteItem::builder()
                .delete(
                    Delete::builder()
                        .table_name(self.table())
                        .set_key(Some(key))
                        .condition_expression(condition)
                        .expression_attribute_values(":t", AttributeValue::S(tenant.to_string()))
                        .build()
                        .context("delete")?,
                )
                .build())
        };
        let request = Transaction::new()
            .with(delete(
                sender_key,
                "attribute_exists(PK) AND tenant_id = :t",
            )?)?
            .with(delete(claim_key(identity), "tenant_id = :t")?)?;
        match self.transact(request, "delete sender").await? {
            true => Ok(()),
            false => Err(StoreError::NotFound),
        }
    }
}
