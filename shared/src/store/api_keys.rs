//! API keys: stored only as the SHA-256 of their secret.

use anyhow::Context as _;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::batch::Transaction;
use super::{Keys, Store, StoreError, StoreResult, keys};
use crate::domain::Role;
use crate::ids::{ApiKeyId, EventId, TenantId};

/// The prefix of every API key secret, so a leaked key is easy to recognise and scan for.
pub const SECRET_PREFIX: &str = "hrk_";

/// An API key as the API shows it: never its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub name: String,
    pub role: Role,
    /// Absent for platform administrators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<TenantId>,
    /// For event managers: the only events the key may see.
    #[serde(default)]
    pub event_ids: Vec<EventId>,
    /// The first characters of the secret, to tell keys apart.
    pub secret_hint: String,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
    /// The key stops working at this time (set at creation, or by a rotation's grace period).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// The key that replaced this one in a rotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced_by: Option<ApiKeyId>,
}

impl ApiKey {
    /// Whether the key may be used at `now`: neither revoked nor expired.
    pub fn usable(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| now < e)
    }
}

/// The stored form: the key and the hash of its secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    #[serde(flatten)]
    pub key: ApiKey,
    pub secret_hash: String,
}

/// A new random secret and its hash.
pub fn new_secret() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret = format!(
        "{SECRET_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    let hash = hash_secret(&secret);
    (secret, hash)
}

pub fn hash_secret(secret: &str) -> String {
    crate::digest::sha256_hex(secret)
}

fn api_key_keys(record: &ApiKeyRecord) -> Keys {
    Keys::new(keys::api_key_pk(&record.secret_hash), keys::API_KEY_SK).with_gsi1(
        keys::api_keys_index_pk(record.key.tenant_id),
        keys::api_key_index_sk(record.key.id),
    )
}

impl Store {
    pub async fn create_api_key(
        &self,
        tenant: Option<TenantId>,
        record: &ApiKeyRecord,
    ) -> StoreResult<()> {
        if record.key.tenant_id != tenant {
            return Err(anyhow::anyhow!("an API key must be created under its own tenant").into());
        }
        self.put_new(&api_key_keys(record), record).await
    }

    /// The key whose secret hashes to `secret_hash`, revoked or not.
    pub async fn find_api_key(&self, secret_hash: &str) -> StoreResult<Option<ApiKey>> {
        let record: Option<ApiKeyRecord> = self
            .get(&keys::api_key_pk(secret_hash), keys::API_KEY_SK)
            .await?;
        Ok(record.map(|r| r.key))
    }

    /// A tenant's keys (or the platform's own keys with `None`), oldest first.
    pub async fn list_api_keys(&self, tenant: Option<TenantId>) -> StoreResult<Vec<ApiKey>> {
        let records: Vec<ApiKeyRecord> = self
            .query_index(&keys::api_keys_index_pk(tenant), None)
            .await?;
        Ok(records.into_iter().map(|r| r.key).collect())
    }

    pub async fn get_api_key(
        &self,
        tenant: Option<TenantId>,
        id: ApiKeyId,
    ) -> StoreResult<Option<ApiKey>> {
        Ok(self.find_api_key_record(tenant, id).await?.map(|r| r.key))
    }

    async fn find_api_key_record(
        &self,
        tenant: Option<TenantId>,
        id: ApiKeyId,
    ) -> StoreResult<Option<ApiKeyRecord>> {
        let records: Vec<ApiKeyRecord> = self
            .query_index(
                &keys::api_keys_index_pk(tenant),
                Some(&keys::api_key_index_sk(id)),
            )
            .await?;
        Ok(records.into_iter().next())
    }

    /// Rotation: the new key (same name, role, tenant and events) is stored, and the old one
    /// expires at `old_expires_at` (or keeps an earlier expiry) and names its replacement. A
    /// revoked or expired key is not rotated (`NotFound`).
    pub async fn rotate_api_key(
        &self,
        tenant: Option<TenantId>,
        id: ApiKeyId,
        replacement: &ApiKeyRecord,
        old_expires_at: DateTime<Utc>,
    ) -> StoreResult<ApiKey> {
        let record = self
            .find_api_key_record(tenant, id)
            .await?
            .ok_or(StoreError::NotFound)?;
        if !record.key.usable(Utc::now()) || record.key.replaced_by.is_some() {
            return Err(StoreError::NotFound);
        }
        if replacement.key.tenant_id != tenant {
            return Err(anyhow::anyhow!("an API key must be created under its own tenant").into());
        }
        let expires = record
            .key
            .expires_at
            .map_or(old_expires_at, |e| e.min(old_expires_at));
        // One transaction: the new key appears only if the old one is still live and not
        // rotated, and the old one gains its expiry and successor without losing a revoke.
        let new_item = aws_sdk_dynamodb::types::Put::builder()
            .table_name(self.table())
            .set_item(Some(Store::to_item(
                &api_key_keys(replacement),
                replacement,
            )?))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .context("building the new key's Put")?;
        let old_update = aws_sdk_dynamodb::types::Update::builder()
            .table_name(self.table())
            .key(
                keys::PK,
                AttributeValue::S(keys::api_key_pk(&record.secret_hash)),
            )
            .key(keys::SK, AttributeValue::S(keys::API_KEY_SK.to_owned()))
            .update_expression("SET expires_at = :e, replaced_by = :r")
            .condition_expression(
                "attribute_exists(PK) AND attribute_not_exists(replaced_by) AND attribute_not_exists(revoked_at)",
            )
            .expression_attribute_values(":e", super::stored_time(expires))
            .expression_attribute_values(":r", AttributeValue::S(replacement.key.id.to_string()))
            .build()
            .context("building the old key's Update")?;
        let request = Transaction::new()
            .with(
                aws_sdk_dynamodb::types::TransactWriteItem::builder()
                    .put(new_item)
                    .build(),
            )?
            .with(
                aws_sdk_dynamodb::types::TransactWriteItem::builder()
                    .update(old_update)
                    .build(),
            )?;
        if !self.transact(request, "rotate API key").await? {
            return Err(StoreError::NotFound);
        }
        let mut old = record.key;
        old.expires_at = Some(expires);
        old.replaced_by = Some(replacement.key.id);
        Ok(old)
    }

    /// Revokes a key; revoking twice keeps the first time.
    pub async fn revoke_api_key(
        &self,
        tenant: Option<TenantId>,
        id: ApiKeyId,
        at: DateTime<Utc>,
    ) -> StoreResult<ApiKey> {
        let record = self
            .find_api_key_record(tenant, id)
            .await?
            .ok_or(StoreError::NotFound)?;
        if record.key.revoked_at.is_some() {
            return Ok(record.key);
        }
        self.client()
            .update_item()
            .table_name(self.table())
            .key(
                keys::PK,
                AttributeValue::S(keys::api_key_pk(&record.secret_hash)),
            )
            .key(keys::SK, AttributeValue::S(keys::API_KEY_SK.to_owned()))
            .update_expression("SET revoked_at = if_not_exists(revoked_at, :at)")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":at", AttributeValue::S(at.to_rfc3339()))
            .send()
            .await
            .context("UpdateItem revoke API key")?;
        Ok(ApiKey {
            revoked_at: Some(at),
            ..record.key
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_prefixed_and_hashed() {
        let (a, ha) = new_secret();
        let (b, hb) = new_secret();
        assert_ne!(a, b);
        assert!(a.starts_with(SECRET_PREFIX));
        assert_eq!(ha, hash_secret(&a));
        assert_ne!(ha, hb);
        assert_eq!(ha.len(), 64);
    }
}
