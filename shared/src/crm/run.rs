//! A tenant's CRM connection and the reports of its sync runs, as stored.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Conflict, FieldMapping, MAX_LISTED};
use crate::config::SealedCredentials;
use crate::domain::{CrmKind, SyncStatus};
use crate::ids::{SyncRunId, TenantId};

/// Where the CRM is (no secrets: those are sealed apart).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ConnectionSettings {
    Hubspot {
        /// HubSpot's API (default `https://api.hubapi.com`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        base_url: Option<String>,
    },
    Salesforce {
        /// The org's My Domain URL, e.g. `https://acme.my.salesforce.com`.
        my_domain_url: String,
        /// The connected app's consumer key.
        client_id: String,
    },
}

impl ConnectionSettings {
    pub fn kind(&self) -> CrmKind {
        match self {
            ConnectionSettings::Hubspot { .. } => CrmKind::Hubspot,
            ConnectionSettings::Salesforce { .. } => CrmKind::Salesforce,
        }
    }
}

/// A tenant's CRM connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Connection {
    pub tenant_id: TenantId,
    pub settings: ConnectionSettings,
    /// The access token (HubSpot) or client secret (Salesforce), sealed with KMS.
    pub credentials: SealedCredentials,
    pub mappings: Vec<FieldMapping>,
    /// Scheduled runs are skipped while paused; `POST .../crm/sync` still runs.
    #[serde(default)]
    pub paused: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SyncTrigger {
    Schedule,
    Api,
}

/// One run's report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SyncRun {
    pub id: SyncRunId,
    pub tenant_id: TenantId,
    pub kind: CrmKind,
    pub trigger: SyncTrigger,
    pub status: SyncStatus,
    pub queued_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// CRM records read.
    #[serde(default)]
    pub pulled: u64,
    /// Contacts made from CRM records.
    #[serde(default)]
    pub created: u64,
    /// Contacts changed by CRM records.
    #[serde(default)]
    pub updated: u64,
    /// CRM records that changed nothing (already applied, or agreeing).
    #[serde(default)]
    pub unchanged: u64,
    /// CRM records updated with Herald's changes.
    #[serde(default)]
    pub pushed: u64,
    #[serde(default)]
    pub conflicts_total: u64,
    /// The first [`MAX_LISTED`] conflicts.
    #[serde(default)]
    pub conflicts: Vec<Conflict>,
    #[serde(default)]
    pub errors_total: u64,
    /// The first [`MAX_LISTED`] errors (ids and reasons, never values).
    #[serde(default)]
    pub errors: Vec<String>,
    /// HTTP requests made to the CRM, and how many of them it answered 429.
    #[serde(default)]
    pub crm_requests: u64,
    #[serde(default)]
    pub throttled: u64,
    /// The cursor (the last applied CRM change) before and after the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor_before: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor_after: Option<DateTime<Utc>>,
}

impl SyncRun {
    pub fn queued(
        id: SyncRunId,
        tenant: TenantId,
        kind: CrmKind,
        trigger: SyncTrigger,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            tenant_id: tenant,
            kind,
            trigger,
            status: SyncStatus::Queued,
            queued_at: now,
            started_at: None,
            finished_at: None,
            duration_ms: None,
            pulled: 0,
            created: 0,
            updated: 0,
            unchanged: 0,
            pushed: 0,
            conflicts_total: 0,
            conflicts: Vec::new(),
            errors_total: 0,
            errors: Vec::new(),
            crm_requests: 0,
            throttled: 0,
            cursor_before: None,
            cursor_after: None,
        }
    }

    pub fn conflict(&mut self, c: Conflict) {
        self.conflicts_total += 1;
        if self.conflicts.len() < MAX_LISTED {
            self.conflicts.push(c);
        }
    }

    pub fn error(&mut self, e: impl Into<String>) {
        self.errors_total += 1;
        if self.errors.len() < MAX_LISTED {
            self.errors.push(e.into());
        }
    }
}

/// The sealer's owner name for CRM credentials (the KMS encryption context's `owner`).
pub const CREDENTIALS_OWNER: &str = "crm";

/// A message on the crm-sync queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CrmJob {
    /// The schedule: queue a run for every connected tenant.
    Sweep,
    /// One tenant's run (its report is already written, queued).
    Sync {
        tenant_id: TenantId,
        run_id: SyncRunId,
        trigger: SyncTrigger,
    },
}

impl Connection {
    /// A client for this connection with its opened credentials.
    pub fn client(
        &self,
        http: reqwest::Client,
        credentials: &std::collections::BTreeMap<String, String>,
    ) -> anyhow::Result<super::client::CrmClient> {
        use super::client::{CrmClient, Http};
        let secret = |name: &str| {
            credentials
                .get(name)
                .cloned()
                .ok_or_else(|| anyhow::anyhow!("the CRM credentials lack {name}"))
        };
        let http = Http::new(http);
        Ok(match &self.settings {
            ConnectionSettings::Hubspot { base_url } => CrmClient::Hubspot(
                super::hubspot::Hubspot::new(http, base_url.as_deref(), &secret("access_token")?),
            ),
            ConnectionSettings::Salesforce {
                my_domain_url,
                client_id,
            } => CrmClient::Salesforce(super::salesforce::Salesforce::new(
                http,
                my_domain_url,
                client_id,
                &secret("client_secret")?,
            )),
        })
    }
}
