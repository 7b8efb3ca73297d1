//! Tenants: organisations that run events.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Keys, Store, StoreResult, keys};
use crate::ids::TenantId;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    /// How long message records (and their delivery events) are kept, in days: they expire
    /// through DynamoDB TTL. Absent: [`DEFAULT_RETENTION_DAYS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_days: Option<u32>,
    pub version: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Message records are kept this long unless the tenant says otherwise.
pub const DEFAULT_RETENTION_DAYS: u32 = 400;
/// The range a tenant may choose.
pub const RETENTION_DAYS: std::ops::RangeInclusive<u32> = 1..=3650;

impl Tenant {
    /// When a message record made at `at` expires (Unix seconds, for `ttl`).
    pub fn message_ttl(&self, at: DateTime<Utc>) -> i64 {
        message_ttl(self.retention_days, at)
    }
}

/// When a message record made at `at` expires under a retention of `days`.
pub fn message_ttl(days: Option<u32>, at: DateTime<Utc>) -> i64 {
    (at + chrono::Duration::days(i64::from(days.unwrap_or(DEFAULT_RETENTION_DAYS)))).timestamp()
}

fn tenant_keys(id: TenantId) -> Keys {
    Keys::new(keys::tenant_pk(id), keys::META).with_gsi1(keys::tenants_index_pk(), id.to_string())
}

impl Store {
    pub async fn create_tenant(&self, tenant: &Tenant) -> StoreResult<()> {
        self.put_new(&tenant_keys(tenant.id), tenant).await
    }

    pub async fn get_tenant(&self, tenant: TenantId) -> StoreResult<Option<Tenant>> {
        self.get(&keys::tenant_pk(tenant), keys::META).await
    }

    /// Replaces the tenant if its stored version is `expected`.
    pub async fn replace_tenant(&self, tenant: &Tenant, expected: u64) -> StoreResult<()> {
        self.put_versioned(&tenant_keys(tenant.id), tenant, expected)
            .await
    }

    /// All tenants, oldest first (platform administration only).
    pub async fn list_tenants(&self) -> StoreResult<Vec<Tenant>> {
        self.query_index(keys::tenants_index_pk(), None).await
    }
}
