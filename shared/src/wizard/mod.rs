//! The event setup wizard: what an event uses, the choices made in its steps, the readiness
//! report, and the immutable snapshot that completing the wizard writes and activates.
//!
//! Completion is asynchronous. The API records a *run* on the event's wizard item (refusing a
//! second one while the first is queued or running) and queues a message; the `wizard`
//! function resolves the layers, validates the result and, when nothing blocks, writes
//! `RESOLVED#{version}` and `RESOLVED#ACTIVE` in one transaction with the run's outcome. A run
//! whose content hash equals the active snapshot's writes no new version.

pub mod diff;
pub mod readiness;
pub mod snapshot;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::{Channel, EmailAddress, TemplateCategory};
use crate::ids::{EventId, TenantId};
use crate::resolve::ResolvedConfig;

pub use readiness::{Blocker, BlockerCode};
pub use snapshot::{Snapshot, SnapshotContent, SnapshotSummary};

/// How long a queued or running completion holds the event before another may start (a run
/// whose function crashed must not hold the event for ever).
pub const RUN_LEASE_SECONDS: i64 = 15 * 60;

/// The channels and template categories an event sends: every (category, channel) pair of
/// them must resolve to a template, and every channel to a provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Uses {
    pub channels: Vec<Channel>,
    pub categories: Vec<TemplateCategory>,
}

impl Uses {
    /// What an event uses until someone says otherwise: the channels that have an active
    /// provider (email when none has), and the categories some layer has a template for on one
    /// of those channels.
    pub fn default_for(config: &ResolvedConfig) -> Self {
        let mut channels: Vec<Channel> = config.providers.iter().map(|p| p.channel).collect();
        if channels.is_empty() {
            channels.push(Channel::Email);
        }
        let mut categories: Vec<TemplateCategory> = config
            .templates
            .iter()
            .filter(|t| channels.contains(&t.channel))
            .map(|t| t.category)
            .collect();
        categories.dedup();
        Self {
            channels,
            categories,
        }
        .normalised()
    }

    /// Sorted and without repeats, so equal choices hash equally.
    pub fn normalised(mut self) -> Self {
        self.channels.sort();
        self.channels.dedup();
        self.categories.sort();
        self.categories.dedup();
        self
    }

    /// Every (category, channel) pair the event sends.
    pub fn slots(&self) -> impl Iterator<Item = (TemplateCategory, Channel)> + '_ {
        self.categories
            .iter()
            .flat_map(|&cat| self.channels.iter().map(move |&ch| (cat, ch)))
    }
}

/// The event's own From address, replacing the one its email providers are configured with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailSenderOverride {
    pub from_address: EmailAddress,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_name: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
        }
    }

    pub fn is_finished(self) -> bool {
        matches!(self, RunStatus::Succeeded | RunStatus::Failed)
    }
}

/// One completion of the wizard: its progress and its result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CompletionRun {
    pub run_id: String,
    pub status: RunStatus,
    /// The API key that asked for it.
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    /// Until when (Unix seconds) this run holds the event against another completion.
    pub lease_until: i64,
    /// On success: the version that is active now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_version: Option<u64>,
    /// On success: true when nothing had changed, so no new version was written.
    #[serde(default)]
    pub unchanged: bool,
    /// On failure: what blocks going live; the previous snapshot stays active.
    #[serde(default)]
    pub blockers: Vec<Blocker>,
    /// On failure for another reason (the event was deleted, a service kept failing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The snapshot the send path uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ActiveSnapshot {
    pub version: u64,
    /// SHA-256 of the snapshot's content.
    pub hash: String,
    pub activated_at: DateTime<Utc>,
    pub activated_by: String,
    pub run_id: String,
}

/// The wizard item of one event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WizardRecord {
    pub tenant_id: TenantId,
    pub event_id: EventId,
    /// What the event sends; `None` until set, meaning [`Uses::default_for`].
    #[serde(default)]
    pub uses: Option<Uses>,
    /// The event's own From address; `None` inherits the email providers'.
    #[serde(default)]
    pub email_sender: Option<EmailSenderOverride>,
    #[serde(default)]
    pub run: Option<CompletionRun>,
    #[serde(default)]
    pub active: Option<ActiveSnapshot>,
}

impl WizardRecord {
    pub fn empty(tenant_id: TenantId, event_id: EventId) -> Self {
        Self {
            tenant_id,
            event_id,
            uses: None,
            email_sender: None,
            run: None,
            active: None,
        }
    }
}

/// The message the API queues for the `wizard` function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompletionMessage {
    pub tenant_id: TenantId,
    pub event_id: EventId,
    pub run_id: String,
}

#[cfg(test)]
mod tests;
