//! The `wizard` function: completes an event's setup wizard.
//!
//! Triggered by the wizard queue (one message per completion the API accepted). For each
//! message: take over the run (only the run the message names, only if it is still queued or
//! running, so a redelivered message does nothing twice), resolve the event's layers with the
//! wizard's choices, check readiness, and then either record the blockers (the active snapshot
//! stays), or record "unchanged" (the content hash equals the active snapshot's), or write the
//! next snapshot version and activate it in one transaction.
//!
//! A message that does not parse is logged, counted and acknowledged. An AWS failure fails the
//! message alone (`ReportBatchItemFailures`); on its last delivery the run is marked failed with
//! the error, and the message goes to the dead-letter queue.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::Utc;
use herald::providers::ProviderClients;
use herald::secrets::Sealer;
use herald::store::Store;
use herald::wizard::readiness::check_readiness;
use herald::wizard::{CompletionMessage, RunStatus, Snapshot, SnapshotContent};

/// Settings read once per cold start.
#[derive(Debug, Clone)]
pub struct Config {
    /// The table, and the KMS key that opens provider credentials for connection tests.
    pub core: herald::aws::CoreSettings,
    /// `HERALD_WIZARD_MAX_RECEIVES`: the queue's `maxReceiveCount` (default 3); the delivery that
    /// reaches it marks the run failed before the message moves to the dead-letter queue.
    pub max_receives: u32,
    /// `HERALD_SENDER_QUEUE_URL`, `HERALD_SENDER_QUEUE_ARN` and `HERALD_SCHEDULER_ROLE_ARN`
    /// (optional, together): where journey steps' schedules put their jobs, with which role,
    /// so that completing the wizard activates the journey at once (without them, the sweep
    /// does, within a minute or two).
    pub journey_schedules: Option<(String, String, String)>,
}

impl Config {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        Ok(Self {
            core: herald::aws::CoreSettings::from_lookup(&lookup)?,
            max_receives: match lookup("HERALD_WIZARD_MAX_RECEIVES") {
                Some(v) => v.parse().map_err(|_| {
                    anyhow::anyhow!("HERALD_WIZARD_MAX_RECEIVES={v} is not a count")
                })?,
                None => 3,
            },
            journey_schedules: match (
                lookup("HERALD_SENDER_QUEUE_URL").filter(|v| !v.is_empty()),
                lookup("HERALD_SENDER_QUEUE_ARN").filter(|v| !v.is_empty()),
                lookup("HERALD_SCHEDULER_ROLE_ARN").filter(|v| !v.is_empty()),
            ) {
                (Some(url), Some(arn), Some(role)) => Some((url, arn, role)),
                _ => None,
            },
        })
    }

    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }
}

/// What one message led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A new snapshot version is active.
    Activated(u64),
    /// Nothing changed since the active version; no new version.
    Unchanged(u64),
    /// Validation failed; the previous snapshot stays active.
    Blocked(usize),
    /// The run is no longer this message's to do (finished, or replaced by a newer run).
    Superseded,
    /// The event no longer exists.
    EventGone,
}

/// Counts since the cold start, for logs and tests.
#[derive(Debug, Default)]
pub struct Counters {
    pub malformed: AtomicU64,
    pub failed: AtomicU64,
    pub processed: AtomicU64,
}

#[derive(Clone, Debug)]
pub struct Wizard {
    store: Store,
    sealer: Sealer,
    providers: ProviderClients,
    max_receives: u32,
    /// Activates the journey of a completed snapshot.
    journeys: Option<herald::journeys::Syncer>,
    pub counters: Arc<Counters>,
}

impl Wizard {
    pub fn new(
        store: Store,
        sealer: Sealer,
        providers: ProviderClients,
        max_receives: u32,
    ) -> Self {
        Self {
            store,
            sealer,
            providers,
            max_receives,
            journeys: None,
            counters: Arc::default(),
        }
    }

    /// Activates journeys with this syncer.
    pub fn with_journeys(mut self, syncer: Option<herald::journeys::Syncer>) -> Self {
        self.journeys = syncer;
        self
    }

    pub fn from_sdk_config(sdk: &aws_config::SdkConfig, config: &Config) -> anyhow::Result<Self> {
        let (store, sealer) = config.core.clients(sdk);
        let journeys =
            config
                .journey_schedules
                .clone()
                .map(|(url, arn, role)| herald::journeys::Syncer {
                    store: store.clone(),
                    schedules: herald::schedules::OneTimeSchedules {
                        client: herald::aws::LazyClient::new(sdk, aws_sdk_scheduler::Client::new),
                        target_arn: arn,
                        role_arn: role,
                    },
                    sqs: herald::aws::LazyClient::new(sdk, aws_sdk_sqs::Client::new),
                    sender_queue_url: url,
                });
        Ok(Self::new(
            store,
            sealer,
            ProviderClients::from_sdk_config(sdk)?,
            config.max_receives,
        )
        .with_journeys(journeys))
    }

    /// Handles a batch; the messages run concurrently and fail one by one.
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        herald::batch::each_record(event, |message| {
            let this = self.clone();
            async move { this.handle_message(message).await }
        })
        .await
    }

    /// True when the message is done with (processed, superseded or malformed).
    async fn handle_message(&self, message: SqsMessage) -> bool {
        let message_id = message.message_id.clone().unwrap_or_default();
        let parsed: Result<CompletionMessage, _> =
            serde_json::from_str(message.body.as_deref().unwrap_or_default());
        let Ok(completion) = parsed else {
            self.counters.malformed.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%message_id, "skipping a wizard message that does not parse");
            return true;
        };
        let receives = herald::batch::receive_count(&message);
        match self.complete(&completion).await {
            Ok(outcome) => {
                self.counters.processed.fetch_add(1, Ordering::Relaxed);
                tracing::info!(%message_id, tenant_id = %completion.tenant_id, event_id = %completion.event_id,
                    run_id = %completion.run_id, outcome = ?outcome, "wizard completion processed");
                true
            }
            Err(e) => {
                self.counters.failed.fetch_add(1, Ordering::Relaxed);
                tracing::error!(%message_id, run_id = %completion.run_id, receives, error = ?e, "wizard completion failed");
                if receives >= self.max_receives {
                    self.give_up(&completion, &e).await;
                }
                false
            }
        }
    }

    /// Marks the run failed after its last attempt, so the event is not held until the lease ends.
    async fn give_up(&self, c: &CompletionMessage, error: &anyhow::Error) {
        let Ok(Some(wizard)) = self.store.get_wizard(c.tenant_id, c.event_id).await else {
            return;
        };
        let Some(mut run) = wizard.run.filter(|r| r.run_id == c.run_id) else {
            return;
        };
        run.status = RunStatus::Failed;
        run.finished_at = Some(Utc::now());
        run.error = Some(format!(
            "gave up after {} attempts: {error}",
            self.max_receives
        ));
        let _ = self
            .store
            .update_run(
                c.tenant_id,
                c.event_id,
                &run,
                &[RunStatus::Queued, RunStatus::Running],
            )
            .await;
    }

    /// Completes one run. `Err` only for failures worth retrying (AWS unreachable).
    pub async fn complete(&self, c: &CompletionMessage) -> anyhow::Result<Outcome> {
        let (tenant, event) = (c.tenant_id, c.event_id);
        let Some(wizard) = self.store.get_wizard(tenant, event).await? else {
            return Ok(Outcome::Superseded);
        };
        let Some(mut run) = wizard
            .run
            .clone()
            .filter(|r| r.run_id == c.run_id && !r.status.is_finished())
        else {
            return Ok(Outcome::Superseded);
        };
        run.status = RunStatus::Running;
        run.started_at = Some(Utc::now());
        if !self
            .store
            .update_run(
                tenant,
                event,
                &run,
                &[RunStatus::Queued, RunStatus::Running],
            )
            .await?
        {
            return Ok(Outcome::Superseded);
        }
        let Some(loaded) = self.store.load_event_layers(tenant, event).await? else {
            run.status = RunStatus::Failed;
            run.finished_at = Some(Utc::now());
            run.error = Some("the event no longer exists".to_owned());
            self.store
                .update_run(tenant, event, &run, &[RunStatus::Running])
                .await?;
            return Ok(Outcome::EventGone);
        };
        let content =
            SnapshotContent::build(&loaded.tenant, &loaded.event, &loaded.layers, Some(&wizard));
        let readiness =
            check_readiness(&content, &self.providers, &self.sealer, &self.store).await?;
        let now = Utc::now();
        run.finished_at = Some(now);
        if !readiness.ready {
            let blocked = readiness.blockers.len();
            run.status = RunStatus::Failed;
            run.blockers = readiness.blockers;
            run.error = Some(format!("{blocked} problems block going live"));
            self.store
                .update_run(tenant, event, &run, &[RunStatus::Running])
                .await?;
            return Ok(Outcome::Blocked(blocked));
        }
        let hash = content.hash()?;
        run.status = RunStatus::Succeeded;
        if let Some(active) = wizard.active.as_ref().filter(|a| a.hash == hash) {
            run.unchanged = true;
            run.snapshot_version = Some(active.version);
            self.store
                .update_run(tenant, event, &run, &[RunStatus::Running])
                .await?;
            return Ok(Outcome::Unchanged(active.version));
        }
        let previous = wizard.active.as_ref().map(|a| a.version);
        let version = previous.unwrap_or(0) + 1;
        run.snapshot_version = Some(version);
        let snapshot = Snapshot {
            version,
            hash,
            created_at: now,
            created_by: run.requested_by.clone(),
            run_id: run.run_id.clone(),
            content,
        };
        if self
            .store
            .activate_snapshot(tenant, event, &snapshot, previous, &run)
            .await?
        {
            // The journey: every future step scheduled. A failure leaves the mark written
            // with the snapshot, and the sweep finishes the activation.
            if let Some(syncer) = &self.journeys
                && let Err(e) = syncer.sync(tenant, event).await
            {
                tracing::warn!(tenant_id = %tenant, event_id = %event, error = ?e, "activating the journey failed part way; the sweep finishes it");
            }
            Ok(Outcome::Activated(version))
        } else {
            tracing::warn!(run_id = %run.run_id, "another run activated a snapshot first");
            Ok(Outcome::Superseded)
        }
    }
}
