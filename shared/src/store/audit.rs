//! The audit log's items (see the API's `audit` module): written once, never changed.

use anyhow::Context as _;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Keys, Store, StoreResult, keys};
use crate::domain::Role;
use crate::ids::{ApiKeyId, TenantId};

/// One mutating API call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditEntry {
    /// Orders the log: the time (ms) and the request id.
    pub id: String,
    pub at: DateTime<Utc>,
    pub request_id: String,
    pub key_id: ApiKeyId,
    pub role: Role,
    /// The tenant acted on; absent for the platform's own changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<TenantId>,
    /// The method and route, e.g. `PUT /api/v1/contacts/{contact_id}/preferences`.
    pub action: String,
    /// The path called.
    pub target: String,
    /// The answer's status.
    pub status: u16,
    /// `sha256:` and the hex SHA-256 of the request body; absent without a body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

/// A page of the log, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditPage {
    pub items: Vec<AuditEntry>,
    pub next: Option<String>,
}

impl Store {
    /// Writes an entry (conditional: an entry is never replaced).
    pub async fn add_audit_entry(&self, entry: &AuditEntry) -> StoreResult<()> {
        self.put_new(
            &Keys::new(keys::audit_pk(entry.tenant_id), &entry.id),
            entry,
        )
        .await
    }

    /// The log of a tenant (or the platform's), newest first, between `from` and `to`
    /// (entry ids: `{ms:013}`), a page at a time.
    pub async fn audit_log(
        &self,
        tenant: Option<TenantId>,
        from_ms: i64,
        to_ms: i64,
        after: Option<&str>,
        limit: i32,
    ) -> StoreResult<AuditPage> {
        let upper = match after {
            Some(cursor) => cursor.to_owned(),
            None => format!("{:013}~", to_ms.max(0)),
        };
        let out = self
            .client()
            .query()
            .table_name(self.table())
            .key_condition_expression("PK = :pk AND SK BETWEEN :lo AND :hi")
            .expression_attribute_values(":pk", AttributeValue::S(keys::audit_pk(tenant)))
            .expression_attribute_values(
                ":lo",
                AttributeValue::S(format!("{:013}", from_ms.max(0))),
            )
            .expression_attribute_values(":hi", AttributeValue::S(upper.clone()))
            .scan_index_forward(false)
            .limit(limit + 1 + i32::from(after.is_some()))
            .send()
            .await
            .context("Query audit log")?;
        let mut items: Vec<AuditEntry> = out
            .items
            .unwrap_or_default()
            .into_iter()
            .filter(|i| super::string_attr(i, keys::SK) != upper)
            .map(Store::from_item)
            .collect::<StoreResult<_>>()?;
        let more = items.len() > limit as usize;
        items.truncate(limit as usize);
        let next = if more {
            items.last().map(|e| e.id.clone())
        } else {
            None
        };
        Ok(AuditPage { items, next })
    }
}
