//! The `sender` function: delivers messages from the sender queue.
//!
//! A campaign's `plan` job reads its audience page by page (`expand`) into `deliver` jobs of
//! [`DELIVERY_BATCH`] recipients. For each `deliver` job (a campaign batch or one
//! transactional message):
//! 1. read the event's snapshot (never the live layers), the recipients' contacts and the
//!    suppression entries of their addresses (one BatchGetItem each);
//! 2. decide per recipient: channel (preferred if allowed and reachable, else the first
//!    reachable allowed channel), suppression, consent; skipped recipients are recorded with
//!    their reason, never sent;
//! 3. claim: a campaign batch whole (one conditional write on its batch item), a
//!    transactional message by its record (absent or queued), so a job delivered twice sends
//!    nothing twice;
//! 4. render and send, in chunks of 25 whose records are written (BatchWriteItem) before the
//!    next chunk starts, through the provider gate (circuit breaker and send rate, see
//!    [`gate`]), failing over to the channel's next provider on a retryable failure
//!    (throttling, 5xx, timeout); a permanent failure is not retried. Messages whose every
//!    provider failed retryably go back to `queued`, the batch is released, and the job comes
//!    back after a backoff. A provider's 429 with `Retry-After` holds that provider until then
//!    (no instance calls it meanwhile), and the job comes back no earlier.
//!
//! **No duplicate sends, nothing lost.** A claim older than [`SETTLE_SECONDS`] whose job never
//! finished (the function crashed or timed out: its timeout is far shorter) is retaken. The
//! new attempt keeps what the old one recorded and sends what it left queued or never reached;
//! only the chunk in flight at the crash is uncertain, since the provider may have accepted
//! some of it. Those are *settled* before any retry: when the channel's providers are SES, by
//! SES's Send event, which carries the message's tags and which the tracker records within
//! seconds: a message with one was sent (recorded so, with SES's message id); one without was
//! never accepted and is sent now. Other providers publish no such event, so their uncertain
//! messages are recorded `failed`, outcome unknown, rather than risk a second send.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::Utc;
use herald::campaigns::{Audience, Campaign, CampaignStatus};
use herald::config::Provider;
use herald::domain::{Channel, ProviderKind};
use herald::guests::{Contact, GUEST_SHARDS, Guest};
use herald::ids::{CampaignId, ContactId, EventId, GuestId, MessageId, ProviderId, TenantId};
use herald::messages::{
    Decision, Delivery, Message, MessageStatus, Recipient, SenderJob, choose_channel, decide,
    suppression_key,
};
use herald::providers::ProviderClients;
use herald::providers::send::{SendError, Tracking, send};
use herald::secrets::Sealer;
use herald::store::{BatchClaim, Claimed, Store};
use herald::aws::sqs_batch::Outgoing;
use herald::tracking::seal::{SEAL_TAG, Seal, SealState, SealedIds};
use herald::tracking::{SentEntry, SentNotice};
use herald::wizard::Snapshot;

pub mod compose;
pub mod gate;
pub mod webhooks;
use compose::Composer;
use gate::{Gate, Outcome};

/// How long a claimed message may stay `sending` before its outcome counts as unknown. The
/// chunk in flight at a crash is settled by SES's Send events, so this outlasts the slowest
/// way those reach the store: the tracker retries a failing batch for 30 s, then SQS gives the
/// batch back after the tracker queue's visibility timeout (360 s in template.yaml).
pub const SETTLE_SECONDS: i64 = 480;

/// How long a job keeps trying to record the messages it sent while AWS fails (each try is
/// bounded by the SDK's timeouts). With [`SEND_BUDGET`] it stays inside the function's 60 s
/// timeout for a usual chunk; a job stopped anyway is settled when its claim is retaken.
pub const RECORD_WITHIN: Duration = Duration::from_secs(20);

#[derive(Debug, Clone)]
pub struct Config {
    pub core: herald::aws::CoreSettings,
    /// `HERALD_SENDER_QUEUE_URL`: its own queue, for the jobs a campaign's plan and expansion
    /// produce.
    pub queue_url: String,
    /// `HERALD_SENDER_DLQ_URL` (optional): where poison messages go at once.
    pub dead_letter_url: Option<String>,
    /// `HERALD_SES_CONFIGURATION_SET` (optional): Herald's SES configuration set, whose events
    /// reach the tracker; used for SES providers that name none.
    pub ses_configuration_set: Option<String>,
    /// `HERALD_SES_MAX_SEND_RATE` (optional): the SES send rate to hold to, in messages per
    /// second (0: none); without it, the account's maximum from SES GetAccount.
    pub ses_max_send_rate: Option<f64>,
    /// `HERALD_TRACKER_QUEUE_URL` (optional): where the sender notes messages sent through
    /// providers that publish no events of their own, so they count as sent in the analytics.
    pub tracker_queue_url: Option<String>,
    /// `HERALD_PUBLIC_URL` (optional): Herald's API URL, for Twilio's status callbacks.
    pub public_url: Option<String>,
    /// `HERALD_WEBHOOK_QUEUE_URL` (optional): the webhook queue, the sender's second event
    /// source (deliveries and their retries) and where `campaign.completed` events go.
    pub webhook_queue_url: Option<String>,
    /// `HERALD_ALLOW_LOOPBACK_WEBHOOK_URLS=1` (the local stack only): deliver to endpoints on
    /// 127.0.0.1 and over http; every other private address stays refused.
    pub webhook_policy: herald::webhooks::LoopbackPolicy,
}

impl Config {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        Ok(Self {
            core: herald::aws::CoreSettings::from_lookup(&lookup)?,
            queue_url: herald::aws::required(&lookup, "HERALD_SENDER_QUEUE_URL")?,
            dead_letter_url: lookup("HERALD_SENDER_DLQ_URL").filter(|v| !v.is_empty()),
            ses_configuration_set: lookup("HERALD_SES_CONFIGURATION_SET")
                .filter(|v| !v.is_empty()),
            tracker_queue_url: lookup("HERALD_TRACKER_QUEUE_URL").filter(|v| !v.is_empty()),
            public_url: lookup("HERALD_PUBLIC_URL").filter(|v| !v.is_empty()),
            webhook_queue_url: lookup("HERALD_WEBHOOK_QUEUE_URL").filter(|v| !v.is_empty()),
            webhook_policy: herald::webhooks::LoopbackPolicy::from_setting(
                lookup("HERALD_ALLOW_LOOPBACK_WEBHOOK_URLS").as_deref(),
            ),
            ses_max_send_rate: match lookup("HERALD_SES_MAX_SEND_RATE").filter(|v| !v.is_empty()) {
                None => None,
                Some(v) => Some(
                    v.parse::<f64>()
                        .ok()
                        .filter(|r| *r >= 0.0)
                        .ok_or_else(|| {
                            anyhow::anyhow!(
                                "HERALD_SES_MAX_SEND_RATE must be a number of messages per second (0: no limit)"
                            )
                        })?,
                ),
            },
        })
    }

    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }
}

/// The function as Lambda runs it: the sender queue's jobs, and the webhook queue's
/// deliveries (one event source mapping each; a batch comes from one queue).
#[derive(Clone, Debug)]
pub struct Function {
    pub sender: Sender,
    pub webhooks: Option<webhooks::Deliverer>,
}

impl Function {
    pub fn from_sdk_config(sdk: &aws_config::SdkConfig, config: &Config) -> anyhow::Result<Self> {
        let sender = Sender::from_sdk_config(sdk, config)?;
        // The sender's own clients: one of each per instance.
        let webhooks = match &config.webhook_queue_url {
            Some(url) => Some(webhooks::Deliverer::new(
                sender.store.clone(),
                sender.sealer.clone(),
                sender.queue.sqs.clone(),
                url.clone(),
                config.webhook_policy,
            )?),
            None => None,
        };
        Ok(Self { sender, webhooks })
    }

    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        if let Some(d) = &self.webhooks
            && event
                .records
                .first()
                .is_some_and(|r| herald::batch::from_queue(r, d.queue_url()))
        {
            return d.handle(event).await;
        }
        self.sender.handle(event).await
    }
}

/// Counts since the cold start.
#[derive(Debug, Default)]
pub struct Counters {
    pub malformed: AtomicU64,
    pub sent: AtomicU64,
    pub provider_calls: AtomicU64,
    /// Uncertain messages that SES's Send event showed were sent.
    pub settled_sent: AtomicU64,
    /// Uncertain messages that had no Send event, sent again.
    pub settled_resent: AtomicU64,
    /// AWS requests that failed around provider calls (the gate, credentials, health reports)
    /// and writes of sent messages' records that had to be tried again.
    pub aws_failures: AtomicU64,
}

#[derive(Clone, Debug)]
pub struct Sender {
    store: Store,
    sealer: Sealer,
    providers: ProviderClients,
    queue: Queue,
    /// Each tenant's preference-link key (the links in every message).
    links: herald::consent::LinkKeys,
    /// Snapshots by (tenant, event, version): immutable, so kept for the life of the instance.
    snapshots: SnapshotCache,
    gate: Arc<Gate>,
    statuses: Arc<tokio::sync::Mutex<StatusCache>>,
    retentions: Arc<tokio::sync::Mutex<RetentionCache>>,
    credentials: Arc<tokio::sync::Mutex<CredentialCache>>,
    pub counters: Arc<Counters>,
    /// [`SETTLE_SECONDS`], shorter in fault-injection tests.
    settle_seconds: i64,
    /// Herald's SES configuration set, for SES providers that name none.
    ses_configuration_set: Option<String>,
    /// Herald's public API URL, for Twilio's status callbacks.
    public_url: Option<String>,
    /// [`SEND_BUDGET`], or the local stack's (the emulator is many times slower than AWS).
    send_budget: Duration,
    /// Fault injection: stop a job (as a crash would, nothing recorded) right after this many
    /// more accepted provider calls.
    crash_after: Arc<std::sync::Mutex<Option<u64>>>,
    /// Fault injection: how long a job waits between its provider calls and recording their
    /// outcome (zero in production), so SES's events reach the tracker first.
    record_delay: Duration,
    /// Queues `campaign.completed` webhooks.
    webhooks: Option<herald::webhooks::Emitter>,
}

/// Tenants' message retention (days) by when it was read.
type RetentionCache = HashMap<TenantId, (Instant, Option<u32>)>;
type StatusCache = HashMap<(TenantId, CampaignId), (Instant, Option<CampaignStatus>)>;
type CredentialCache = HashMap<(TenantId, ProviderId, u64), Arc<BTreeMap<String, String>>>;

/// How old a campaign status read may be when a delivery job checks it.
pub const STATUS_MAX_AGE: Duration = Duration::from_secs(1);

/// Snapshots by (tenant, event, version).
type SnapshotCache = Arc<tokio::sync::Mutex<HashMap<(TenantId, EventId, u64), Arc<Snapshot>>>>;

/// The sender's own queue and its dead-letter queue.
#[derive(Clone, Debug)]
pub struct Queue {
    pub sqs: aws_sdk_sqs::Client,
    pub url: String,
    /// Where poison messages go at once.
    pub dead_letter_url: Option<String>,
    /// The tracker's queue, for notices of messages sent through providers without events.
    pub tracker_url: Option<String>,
}

/// Why a job is to be delivered again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// A claim is held (by another attempt, or by this one after an AWS error): back after the
    /// claim would have gone stale, so a dead holder's work is retaken then.
    Held,
    /// Every provider failed retryably for some messages (the batch is released): back after a
    /// backoff that grows with each delivery.
    Providers,
    /// Waiting for send-rate capacity or out of time for this invocation (the batch is
    /// released): a fresh copy of the job is queued with a delay, so waiting spends none of the
    /// job's deliveries.
    Continue,
}

/// What a job came to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobOutcome {
    pub tally: BTreeMap<&'static str, u64>,
    /// Deliver the job again later, and why.
    pub retry: Option<Retry>,
    /// With [`Retry::Providers`]: not before then (a provider's circuit or `Retry-After`).
    pub not_before: Option<chrono::DateTime<Utc>>,
}

impl Sender {
    pub fn new(
        store: Store,
        sealer: Sealer,
        providers: ProviderClients,
        queue: Queue,
        ses_max_send_rate: Option<f64>,
    ) -> Self {
        Self {
            gate: Arc::new(Gate::new(
                store.clone(),
                providers.ses.clone(),
                ses_max_send_rate,
            )),
            links: herald::consent::LinkKeys::new(store.clone(), sealer.clone()),
            store,
            sealer,
            providers,
            queue,
            snapshots: Arc::default(),
            statuses: Arc::default(),
            retentions: Arc::default(),
            webhooks: None,
            credentials: Arc::default(),
            counters: Arc::default(),
            settle_seconds: SETTLE_SECONDS,
            ses_configuration_set: None,
            public_url: None,
            send_budget: SEND_BUDGET,
            crash_after: Arc::default(),
            record_delay: Duration::ZERO,
        }
    }

    /// Herald's SES configuration set (its events reach the tracker), for SES providers that
    /// name none.
    pub fn with_ses_configuration_set(mut self, set: Option<String>) -> Self {
        self.ses_configuration_set = set;
        self
    }

    /// How long a job sends before it leaves the rest to a fresh copy of itself
    /// ([`SEND_BUDGET`] in Lambda). The local stack scales it to its emulator's speed, and
    /// tests shorten it to exercise the continuation.
    /// Queues webhook events (`campaign.completed`) through this emitter.
    pub fn with_webhooks(mut self, emitter: Option<herald::webhooks::Emitter>) -> Self {
        self.webhooks = emitter;
        self
    }

    pub fn with_send_budget(mut self, budget: Duration) -> Self {
        self.send_budget = budget;
        self
    }

    /// Herald's public API URL: Twilio messages get a status callback to it.
    pub fn with_public_url(mut self, url: Option<String>) -> Self {
        self.public_url = url;
        self
    }

    /// How long a claim may stand before it counts as abandoned (fault-injection tests shorten
    /// it from [`SETTLE_SECONDS`]).
    pub fn with_settle_seconds(mut self, seconds: i64) -> Self {
        self.settle_seconds = seconds;
        self
    }

    /// Fault injection (local stack tests): each chunk's records are written this long after
    /// its provider calls, so the providers' events arrive before the sender's records.
    pub fn with_record_delay(mut self, delay: Duration) -> Self {
        self.record_delay = delay;
        self
    }

    /// Fault injection (local stack tests): the job in progress stops, as if the function had
    /// crashed, right after the provider accepts `sends` more messages; nothing of its current
    /// chunk is recorded.
    pub fn crash_after_sends(&self, sends: u64) {
        if let Ok(mut c) = self.crash_after.lock() {
            *c = Some(sends);
        }
    }

    /// True (once) when an injected crash is due after an accepted send.
    fn crash_due(&self) -> bool {
        let Ok(mut c) = self.crash_after.lock() else {
            return false;
        };
        match *c {
            Some(0) | Some(1) => {
                *c = None;
                true
            }
            Some(n) => {
                *c = Some(n - 1);
                false
            }
            None => false,
        }
    }

    pub fn from_sdk_config(sdk: &aws_config::SdkConfig, config: &Config) -> anyhow::Result<Self> {
        let (store, sealer) = config.core.clients(sdk);
        let emitter =
            herald::webhooks::Emitter::for_queue(&store, sdk, config.webhook_queue_url.as_deref());
        Ok(Self::new(
            store,
            sealer,
            ProviderClients::from_sdk_config(sdk)?,
            Queue {
                sqs: aws_sdk_sqs::Client::new(sdk),
                url: config.queue_url.clone(),
                dead_letter_url: config.dead_letter_url.clone(),
                tracker_url: config.tracker_queue_url.clone(),
            },
            config.ses_max_send_rate,
        )
        .with_ses_configuration_set(config.ses_configuration_set.clone())
        .with_public_url(config.public_url.clone())
        .with_webhooks(emitter))
    }

    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let response = herald::batch::each_record(event, |message| {
            let this = self.clone();
            async move { this.handle_message(message).await }
        })
        .await;
        if let Err(e) = self.gate.flush().await {
            tracing::warn!(error = ?e, "reporting provider health failed; the counts wait for the next report");
        }
        response
    }

    async fn handle_message(&self, message: SqsMessage) -> bool {
        let message_id = message.message_id.clone().unwrap_or_default();
        let job = match serde_json::from_str::<SenderJob>(
            message.body.as_deref().unwrap_or_default(),
        ) {
            Ok(job) => job,
            Err(e) => {
                // A poison message: straight to the dead-letter queue (where the DLQ API shows
                // it), never retried and never holding up the rest of the batch.
                self.counters.malformed.fetch_add(1, Ordering::Relaxed);
                // The error's position only: its text can quote a value from the body.
                tracing::warn!(%message_id, line = e.line(), column = e.column(), kind = ?e.classify(), "a sender message does not parse; moving it to the dead-letter queue");
                return self
                    .dead_letter(&message, &format!("does not parse: {e}"))
                    .await;
            }
        };
        match self.run(&job).await {
            Ok(outcome) => {
                tracing::info!(%message_id, tally = ?outcome.tally, retry = ?outcome.retry, "sender job done");
                match outcome.retry {
                    None => true,
                    Some(Retry::Held) => {
                        self.retry_after(&message, self.held_delay()).await;
                        false
                    }
                    Some(Retry::Providers) => {
                        let delay = retry_backoff(herald::batch::receive_count(&message))
                            .max(seconds_until(outcome.not_before));
                        self.retry_after(&message, delay).await;
                        false
                    }
                    Some(Retry::Continue) => self.continue_later(&message).await,
                }
            }
            Err(e) => {
                // Its claims stay held: back when they would be stale.
                tracing::error!(%message_id, error = ?e, "sender job failed; it will be delivered again");
                self.retry_after(&message, self.held_delay()).await;
                false
            }
        }
    }

    /// Moves a message to the dead-letter queue with the reason; true when it is there (so it
    /// can be deleted here). Without a dead-letter queue it fails, and SQS's redrive policy
    /// moves it after its last delivery.
    async fn dead_letter(&self, message: &SqsMessage, reason: &str) -> bool {
        let Some(dlq) = &self.queue.dead_letter_url else {
            return false;
        };
        let moved = async {
            let reason = aws_sdk_sqs::types::MessageAttributeValue::builder()
                .data_type("String")
                .string_value(match reason.trim() {
                    // SQS refuses an empty attribute value.
                    "" => "no reason given".to_owned(),
                    r => r.chars().take(1000).collect::<String>(),
                })
                .build()?;
            self.queue
                .sqs
                .send_message()
                .queue_url(dlq)
                .message_body(message.body.clone().unwrap_or_default())
                .message_attributes(herald::batch::DEAD_LETTER_REASON, reason)
                .send()
                .await?;
            anyhow::Ok(())
        };
        match moved.await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = ?e, "moving a message to the dead-letter queue failed; it will be delivered again");
                false
            }
        }
    }

    /// Seconds until a held claim would be stale, and a little more.
    fn held_delay(&self) -> i32 {
        i32::try_from(self.settle_seconds + 5)
            .unwrap_or(i32::MAX)
            .min(12 * 3600)
    }

    /// The job comes back after `seconds` (not after the queue's whole visibility timeout).
    async fn retry_after(&self, message: &SqsMessage, seconds: i32) {
        let Some(handle) = message.receipt_handle.as_deref() else {
            return;
        };
        if let Err(e) = self
            .queue
            .sqs
            .change_message_visibility()
            .queue_url(&self.queue.url)
            .receipt_handle(handle)
            .visibility_timeout(seconds)
            .send()
            .await
        {
            tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(&e), "setting the retry delay failed; the job comes back after the visibility timeout");
        }
    }

    /// Queues a fresh copy of the job, delayed, and reports this one done (true); false when
    /// the copy could not be queued (then this one comes back instead).
    async fn continue_later(&self, message: &SqsMessage) -> bool {
        let sent = self
            .queue
            .sqs
            .send_message()
            .queue_url(&self.queue.url)
            .message_body(message.body.clone().unwrap_or_default())
            .delay_seconds(CONTINUE_DELAY_SECONDS)
            .send()
            .await;
        match sent {
            Ok(_) => true,
            Err(e) => {
                tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(&e), "queuing the rest of a job failed; it comes back instead");
                self.retry_after(message, CONTINUE_DELAY_SECONDS).await;
                false
            }
        }
    }

    /// Runs one job. `Err` only when AWS (DynamoDB, KMS) failed: the job is retried whole, and
    /// its claims keep anything from being sent twice.
    pub async fn run(&self, job: &SenderJob) -> anyhow::Result<JobOutcome> {
        match job {
            SenderJob::Plan {
                tenant_id,
                campaign_id,
            } => self.plan(*tenant_id, *campaign_id).await,
            SenderJob::Expand {
                tenant_id,
                campaign_id,
                shard,
                after,
            } => self.expand(*tenant_id, *campaign_id, *shard, *after).await,
            SenderJob::Deliver {
                tenant_id,
                event_id,
                campaign_id,
                snapshot_version,
                category,
                channels,
                deliveries,
                not_before,
            } => {
                if let Some(at) = not_before
                    && *at > Utc::now()
                {
                    // Waiting for recipients' quiet hours to end: back in at most 15 minutes
                    // (SQS's longest delay), until the time comes (rounded up, never early).
                    let ms = (*at - Utc::now()).num_milliseconds();
                    let seconds = ((ms + 999) / 1000).clamp(1, 900) as i32;
                    self.enqueue_delayed(job, seconds).await?;
                    return Ok(JobOutcome::noted("waiting_for_quiet_hours"));
                }
                if let Some(c) = campaign_id
                    && self.campaign_status(*tenant_id, *c).await? != Some(CampaignStatus::Sending)
                {
                    return Ok(JobOutcome::noted("campaign_not_sending"));
                }
                let snapshot = self
                    .snapshot(*tenant_id, *event_id, *snapshot_version)
                    .await?;
                let ctx = Job {
                    tenant: *tenant_id,
                    event: *event_id,
                    campaign: *campaign_id,
                    category: *category,
                    channels,
                    snapshot_version: *snapshot_version,
                    not_before: *not_before,
                    started: Instant::now(),
                };
                self.deliver(&ctx, snapshot.as_deref(), deliveries).await
            }
        }
    }

    /// The tenant's message retention in days (read at most once a minute per instance).
    async fn retention(&self, tenant: TenantId) -> anyhow::Result<Option<u32>> {
        let mut cache = self.retentions.lock().await;
        if let Some((at, days)) = cache.get(&tenant)
            && at.elapsed() < Duration::from_secs(60)
        {
            return Ok(*days);
        }
        let days = self
            .store
            .get_tenant(tenant)
            .await?
            .and_then(|t| t.retention_days);
        cache.insert(tenant, (Instant::now(), days));
        Ok(days)
    }

    /// A campaign's status as read at most [`STATUS_MAX_AGE`] ago: the delivery jobs of one
    /// invocation share one read, and a cancel stops new batches within that time.
    async fn campaign_status(
        &self,
        tenant: TenantId,
        id: CampaignId,
    ) -> anyhow::Result<Option<CampaignStatus>> {
        let mut statuses = self.statuses.lock().await;
        if let Some((at, status)) = statuses.get(&(tenant, id))
            && at.elapsed() < STATUS_MAX_AGE
        {
            return Ok(*status);
        }
        let status = self
            .store
            .campaign_item(tenant, id)
            .await?
            .map(|c| c.status);
        statuses.retain(|_, (at, _)| at.elapsed() < STATUS_MAX_AGE);
        statuses.insert((tenant, id), (Instant::now(), status));
        Ok(status)
    }

    /// A provider's credentials, opened once per instance (sealed credentials are immutable
    /// for a provider version).
    async fn credentials(
        &self,
        tenant: TenantId,
        provider: &Provider,
    ) -> anyhow::Result<Arc<BTreeMap<String, String>>> {
        let mut opened = self.credentials.lock().await;
        let key = (tenant, provider.id, provider.version);
        if let Some(c) = opened.get(&key) {
            return Ok(c.clone());
        }
        let c = Arc::new(
            self.sealer
                .open(tenant, &provider.id.to_string(), &provider.credentials)
                .await?,
        );
        opened.insert(key, c.clone());
        Ok(c)
    }

    /// A snapshot version (kept for the instance's life; concurrent jobs share one read) or,
    /// without one, the active snapshot.
    async fn snapshot(
        &self,
        tenant: TenantId,
        event: EventId,
        version: Option<u64>,
    ) -> anyhow::Result<Option<Arc<Snapshot>>> {
        let Some(version) = version else {
            return Ok(self
                .store
                .get_snapshot(tenant, event, None)
                .await?
                .map(Arc::new));
        };
        let mut cache = self.snapshots.lock().await;
        if let Some(s) = cache.get(&(tenant, event, version)) {
            return Ok(Some(s.clone()));
        }
        let found = self
            .store
            .get_snapshot(tenant, event, Some(version))
            .await?
            .map(Arc::new);
        if let Some(s) = &found {
            cache.insert((tenant, event, version), s.clone());
        }
        Ok(found)
    }

    /// Finishes the campaign when this was its last piece of work: one Query of its partition
    /// (the campaign and its batches), which also refreshes the cached status.
    async fn finish_if_done(&self, tenant: TenantId, id: CampaignId) -> anyhow::Result<()> {
        let Some(campaign) = self.store.get_campaign(tenant, id).await? else {
            return Ok(());
        };
        self.statuses
            .lock()
            .await
            .insert((tenant, id), (Instant::now(), Some(campaign.status)));
        let now = Utc::now();
        let finished = self
            .store
            .finish_campaign_if_done(tenant, &campaign, GUEST_SHARDS, now)
            .await?;
        if let (Some(done), Some(webhooks)) = (finished, &self.webhooks) {
            // The counts are the batches' (read with the campaign), the status the new one.
            let done = Campaign {
                status: done.status,
                ..campaign
            };
            // The campaign is finished either way: a failure here loses this one event
            // (logged), it does not make the job run again.
            if let Err(e) = webhooks
                .emit(&[herald::webhooks::campaign_event(&done, now)])
                .await
            {
                tracing::error!(tenant_id = %tenant, campaign_id = %id, error = ?e, "queuing the campaign.completed webhook failed");
            }
        }
        Ok(())
    }

    /// A campaign's first job: one expansion per guest shard, or the listed guests directly.
    async fn plan(&self, tenant: TenantId, id: CampaignId) -> anyhow::Result<JobOutcome> {
        let Some(mut campaign) = self.store.campaign_item(tenant, id).await? else {
            return Ok(JobOutcome::noted("campaign_gone"));
        };
        if campaign.status == CampaignStatus::Scheduled {
            // Its schedule fired: it sends from the snapshot active now.
            let active = self
                .store
                .get_wizard(tenant, campaign.event_id)
                .await?
                .and_then(|w| w.active);
            let mut extra = vec![(
                "started_at",
                aws_sdk_dynamodb::types::AttributeValue::S(Utc::now().to_rfc3339()),
            )];
            if let Some(a) = active {
                extra.push((
                    "snapshot_version",
                    aws_sdk_dynamodb::types::AttributeValue::N(a.version.to_string()),
                ));
            }
            match self
                .store
                .transition_campaign(
                    tenant,
                    id,
                    &[CampaignStatus::Scheduled],
                    CampaignStatus::Sending,
                    &extra,
                )
                .await?
            {
                Some(started) => campaign = started,
                None => return Ok(JobOutcome::noted("campaign_not_sending")),
            }
        }
        if campaign.status != CampaignStatus::Sending {
            return Ok(JobOutcome::noted("campaign_not_sending"));
        }
        let Audience::Guests { ids } = &campaign.audience else {
            // The first page at once; it queues the next.
            return self.expand_from(&campaign, 0, None).await;
        };
        let guests = self
            .store
            .get_guests(tenant, campaign.event_id, ids)
            .await?;
        let jobs = deliver_jobs(&campaign, guests.iter().collect());
        self.enqueue(&jobs).await?;
        let updated = self
            .store
            .campaign_expanded(
                tenant,
                id,
                "all",
                guests.len() as u64,
                jobs.len() as u64,
                GUEST_SHARDS,
            )
            .await?;
        // A redelivered plan (already counted) checks again too.
        if updated.is_none_or(|c| c.expanded_shards >= GUEST_SHARDS) {
            self.finish_if_done(tenant, id).await?;
        }
        Ok(JobOutcome::noted("planned"))
    }

    /// One page of the audience, read across the guest shards in order: delivery jobs for it,
    /// then the next page. Pages are sequential so jobs stay full whatever the shards hold (a
    /// page of 1,000 guests is ten full jobs when the whole page is in the audience).
    async fn expand(
        &self,
        tenant: TenantId,
        id: CampaignId,
        shard: u32,
        after: Option<GuestId>,
    ) -> anyhow::Result<JobOutcome> {
        let Some(campaign) = self.store.campaign_item(tenant, id).await? else {
            return Ok(JobOutcome::noted("campaign_gone"));
        };
        if campaign.status != CampaignStatus::Sending {
            return Ok(JobOutcome::noted("campaign_not_sending"));
        }
        self.expand_from(&campaign, shard, after).await
    }

    async fn expand_from(
        &self,
        campaign: &Campaign,
        shard: u32,
        after: Option<GuestId>,
    ) -> anyhow::Result<JobOutcome> {
        let (tenant, id) = (campaign.tenant_id, campaign.id);
        let (guests, next) = self
            .store
            .list_guests(tenant, campaign.event_id, Some((shard, after)), EXPAND_PAGE)
            .await?;
        let audience: Vec<&Guest> = guests
            .iter()
            .filter(|g| campaign.audience.includes(g))
            .collect();
        let found = audience.len() as u64;
        let mut jobs = deliver_jobs(campaign, audience);
        let deliveries = jobs.len() as u64;
        if let Some((shard, after)) = next {
            jobs.push(SenderJob::Expand {
                tenant_id: tenant,
                campaign_id: id,
                shard,
                after,
            });
        }
        self.enqueue(&jobs).await?;
        let page = format!(
            "{shard}:{}",
            after.map(|a| a.to_string()).unwrap_or_default()
        );
        let shards_done = next.map_or(GUEST_SHARDS, |(s, _)| s).saturating_sub(shard);
        let updated = self
            .store
            .campaign_expanded(tenant, id, &page, found, deliveries, shards_done)
            .await?;
        // The last page finishes the campaign when its jobs are done; a redelivered last page
        // (already counted) checks again, in case the first delivery stopped before it did.
        let last_page = next.is_none();
        if updated.map_or(last_page, |c| c.expanded_shards >= GUEST_SHARDS) {
            self.finish_if_done(tenant, id).await?;
        }
        Ok(JobOutcome::noted("expanded"))
    }

    /// Queues one job to come back after `seconds`.
    async fn enqueue_delayed(&self, job: &SenderJob, seconds: i32) -> anyhow::Result<()> {
        self.queue
            .sqs
            .send_message()
            .queue_url(&self.queue.url)
            .message_body(serde_json::to_string(job)?)
            .delay_seconds(seconds)
            .send()
            .await?;
        Ok(())
    }

    async fn enqueue(&self, jobs: &[SenderJob]) -> anyhow::Result<()> {
        let messages = jobs
            .iter()
            .map(|job| Ok(Outgoing::new(serde_json::to_string(job)?)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let sent = herald::aws::sqs_batch::send_all(&self.queue.sqs, &self.queue.url, &messages)
            .await?;
        if !sent.refused.is_empty() {
            anyhow::bail!("SQS refused {} of {} jobs", sent.refused.len(), jobs.len());
        }
        Ok(())
    }

    async fn deliver(
        &self,
        job: &Job<'_>,
        snapshot: Option<&Snapshot>,
        deliveries: &[Delivery],
    ) -> anyhow::Result<JobOutcome> {
        let now = Utc::now();
        let mut outcome = JobOutcome::default();
        // A campaign's batch is claimed whole; a stale claim is retaken, and then what the
        // earlier attempt recorded decides what is left to do.
        let batch = job.campaign.map(|_| batch_id(deliveries, job.not_before));
        let mut earlier: Option<HashMap<MessageId, Message>> = None;
        if let (Some(campaign), Some(batch)) = (job.campaign, &batch) {
            match self
                .store
                .claim_batch(job.tenant, campaign, batch, self.settle_seconds)
                .await?
            {
                BatchClaim::Done => {
                    // An earlier attempt may have stopped between recording the batch and
                    // finishing the campaign.
                    self.finish_if_done(job.tenant, campaign).await?;
                    return Ok(JobOutcome::noted("already_done"));
                }
                BatchClaim::InFlight => {
                    let mut o = JobOutcome::noted("in_flight");
                    o.retry = Some(Retry::Held);
                    return Ok(o);
                }
                BatchClaim::Claimed { retaken: false } => {}
                BatchClaim::Claimed { retaken: true } => {
                    let ids: Vec<MessageId> = deliveries.iter().map(|d| d.message_id).collect();
                    earlier = Some(self.store.get_messages(job.tenant, &ids).await?);
                }
            }
        }
        let (mut records, mut deferred) = self.decide_all(job, snapshot, deliveries, now).await?;
        // Recipients in their quiet hours wait in jobs of their own, due when the hours end
        // (one per end time); their records say so (and when) until then. The jobs are queued
        // before the records; a retried batch defers the ones an earlier attempt deferred to
        // the same time (same job, same batch id, claimed once), whatever the clock says now,
        // and never defers a message an earlier attempt finished or was sending. A job that
        // waited never defers to its own time again (it would be its own batch).
        if let Some(before) = &earlier {
            for (id, m) in before {
                match (m.status, m.not_before) {
                    (MessageStatus::Queued, Some(until)) => {
                        deferred.insert(*id, until);
                    }
                    (MessageStatus::Queued, None) => {}
                    _ => {
                        deferred.remove(id);
                    }
                }
            }
        }
        if let Some(due) = job.not_before {
            deferred.retain(|_, until| *until != due);
        }
        for r in records.iter_mut() {
            if let Some(until) = deferred.get(&r.id) {
                r.status = MessageStatus::Queued;
                r.claimed_at = None;
                r.not_before = Some(*until);
                r.last_error = Some(format!(
                    "waiting for the contact's quiet hours to end at {}",
                    until.to_rfc3339()
                ));
            }
        }
        let mut deliveries: Vec<Delivery> = deliveries.to_vec();
        if !deferred.is_empty() {
            let finished = |id: &MessageId| {
                earlier
                    .as_ref()
                    .and_then(|e| e.get(id))
                    .is_some_and(|m| m.status.is_final())
            };
            let mut waiting: BTreeMap<chrono::DateTime<Utc>, Vec<Delivery>> = BTreeMap::new();
            let mut kept = Vec::with_capacity(deliveries.len());
            let mut kept_records = Vec::with_capacity(records.len());
            let mut waiting_records = Vec::new();
            for (d, r) in deliveries.into_iter().zip(records) {
                match deferred.get(&d.message_id) {
                    Some(until) if !finished(&d.message_id) => {
                        waiting.entry(*until).or_default().push(d);
                        waiting_records.push(r);
                    }
                    _ => {
                        kept.push(d);
                        kept_records.push(r);
                    }
                }
            }
            let jobs: Vec<SenderJob> = waiting
                .into_iter()
                .map(|(until, ds)| SenderJob::Deliver {
                    tenant_id: job.tenant,
                    event_id: job.event,
                    campaign_id: job.campaign,
                    snapshot_version: job.snapshot_version,
                    category: job.category,
                    channels: job.channels.to_vec(),
                    deliveries: ds,
                    not_before: Some(until),
                })
                .collect();
            if let Some(campaign) = job.campaign {
                let ids: Vec<String> = jobs
                    .iter()
                    .filter_map(|j| match j {
                        SenderJob::Deliver {
                            deliveries,
                            not_before,
                            ..
                        } => Some(batch_id(deliveries, *not_before)),
                        _ => None,
                    })
                    .collect();
                self.store.wait_batches(job.tenant, campaign, &ids).await?;
            }
            self.enqueue(&jobs).await?;
            self.store
                .finish_messages(job.tenant, &waiting_records)
                .await?;
            *outcome.tally.entry("quiet_hours").or_default() += waiting_records.len() as u64;
            deliveries = kept;
            records = kept_records;
        }
        let deliveries = deliveries.as_slice();
        let mut composer = snapshot.map(|s| {
            Composer::for_snapshot(&s.content, job.category, job.channels)
                .with_configuration_set(self.ses_configuration_set.clone())
        });
        // What is left to send per channel: the size of the job's send-rate bookings (not
        // counting what an earlier attempt finished).
        let mut remaining: HashMap<Channel, u32> = HashMap::new();
        let finished_before = |id: &MessageId| {
            earlier
                .as_ref()
                .and_then(|e| e.get(id))
                .is_some_and(|m| m.status.is_final())
        };
        for r in records
            .iter()
            .filter(|r| r.status == MessageStatus::Sending && !finished_before(&r.id))
        {
            *remaining
                .entry(r.channel.unwrap_or(Channel::Email))
                .or_default() += 1;
        }
        let mut tally: HashMap<MessageStatus, u64> = HashMap::new();
        let mut report = SendReport::default();
        let mut requeued = false;
        let mut waiting = false;
        let mut batch_recorded = false;
        match (&batch, &earlier) {
            (Some(_), _) => {
                // Chunks of 25 in order; each chunk's records are written before the next
                // chunk starts, so after a crash only the first unrecorded chunk is uncertain.
                let mut uncertain_seen = false;
                let pairs: Vec<(&Delivery, Message)> = deliveries.iter().zip(records).collect();
                let chunks = pairs.len().div_ceil(CHUNK);
                for (i, chunk) in pairs.chunks(CHUNK).enumerate() {
                    let mut finals = Vec::new();
                    let mut held = Vec::new();
                    let mut uncertain = Vec::new();
                    // Recorded as waiting by an earlier attempt: marked `sending` before they
                    // go, so that if this attempt stops mid-chunk they count as uncertain.
                    let mut resumed = Vec::new();
                    for (d, record) in chunk {
                        let before = earlier.as_ref().and_then(|e| e.get(&record.id));
                        match before {
                            Some(m) if m.status.is_final() => {
                                *tally.entry(m.status).or_default() += 1;
                                continue;
                            }
                            Some(m)
                                if m.status == MessageStatus::Sending
                                    && record.status == MessageStatus::Sending =>
                            {
                                // An earlier attempt was re-sending it when it stopped.
                                uncertain.push((*d, record.clone()));
                                continue;
                            }
                            Some(m)
                                if m.status == MessageStatus::Queued
                                    && record.status == MessageStatus::Sending =>
                            {
                                resumed.push(record.clone());
                            }
                            None if earlier.is_some()
                                && !uncertain_seen
                                && record.status == MessageStatus::Sending =>
                            {
                                // The chunk in flight when the earlier attempt stopped.
                                uncertain.push((*d, record.clone()));
                                continue;
                            }
                            _ => {}
                        }
                        if record.status == MessageStatus::Sending {
                            held.push((*d, record.clone()));
                        } else {
                            finals.push(record.clone());
                        }
                    }
                    // Chunks are recorded in order: only the first chunk with unrecorded
                    // messages can have been in flight; the ones after it were never reached.
                    if let Some(e) = &earlier
                        && chunk.iter().any(|(_, r)| !e.contains_key(&r.id))
                    {
                        uncertain_seen = true;
                    }
                    if !resumed.is_empty() {
                        self.store.finish_messages(job.tenant, &resumed).await?;
                    }
                    if !uncertain.is_empty() {
                        let (settled, resend) = self.settle(job, snapshot, uncertain, now).await?;
                        finals.extend(settled);
                        held.extend(resend);
                    }
                    if let (Some(snapshot), Some(composer)) = (snapshot, composer.as_mut()) {
                        finals.extend({
                            let (sent, wait) = self
                                .send_all(
                                    job,
                                    snapshot,
                                    held,
                                    composer,
                                    &mut remaining,
                                    &mut report,
                                )
                                .await?;
                            waiting |= wait;
                            sent
                        });
                    }
                    requeued |= count(&finals, &mut tally);
                    if !self.record_delay.is_zero() {
                        tokio::time::sleep(self.record_delay).await;
                    }
                    match (job.campaign, &batch) {
                        (Some(campaign), Some(batch)) if i + 1 == chunks && !requeued => {
                            self.record_sent(job, || {
                                self.store
                                    .finish_batch(job.tenant, campaign, batch, &tally, &finals)
                            })
                            .await?;
                            batch_recorded = true;
                        }
                        _ => {
                            self.record_sent(job, || {
                                self.store.finish_messages(job.tenant, &finals)
                            })
                            .await?
                        }
                    }
                }
            }
            (None, _) => {
                let claimed = self.store.claim_messages(job.tenant, &records).await?;
                let mut held = Vec::new();
                let mut finals = Vec::new();
                let mut stale = Vec::new();
                for (d, record) in deliveries.iter().zip(records) {
                    let blocker = match &claimed {
                        Claimed::All => None,
                        Claimed::Some(blocked) => blocked.get(&record.id),
                    };
                    match blocker {
                        None if record.status == MessageStatus::Sending => held.push((d, record)),
                        None => {
                            *tally.entry(record.status).or_default() += 1;
                        }
                        Some(Some(stored)) if stored.status.is_final() => {
                            *outcome.tally.entry("already_done").or_default() += 1;
                        }
                        Some(Some(stored)) if stored.status == MessageStatus::Sending => {
                            let age = stored
                                .claimed_at
                                .map(|at| (now - at).num_seconds())
                                .unwrap_or(i64::MAX);
                            if age < self.settle_seconds {
                                outcome.retry = Some(Retry::Held);
                                *outcome.tally.entry("in_flight").or_default() += 1;
                            } else {
                                stale.push((d, stored.clone()));
                            }
                        }
                        Some(_) => {
                            outcome.retry = Some(Retry::Held);
                            *outcome.tally.entry("contended").or_default() += 1;
                        }
                    }
                }
                if !stale.is_empty() {
                    // Claims whose sender stopped mid-send: settled, or taken over and sent.
                    let claims: HashMap<MessageId, Option<chrono::DateTime<Utc>>> =
                        stale.iter().map(|(_, m)| (m.id, m.claimed_at)).collect();
                    let (settled, resend) = self.settle(job, snapshot, stale, now).await?;
                    finals.extend(settled);
                    for (d, record) in resend {
                        let old = claims.get(&record.id).copied().flatten();
                        if self.store.retake_message(job.tenant, &record, old).await? {
                            held.push((d, record));
                        } else {
                            outcome.retry = Some(Retry::Held);
                            *outcome.tally.entry("contended").or_default() += 1;
                        }
                    }
                }
                if let (Some(snapshot), Some(composer)) = (snapshot, composer.as_mut()) {
                    finals.extend({
                        let (sent, wait) = self
                            .send_all(job, snapshot, held, composer, &mut remaining, &mut report)
                            .await?;
                        waiting |= wait;
                        sent
                    });
                }
                requeued |= count(&finals, &mut tally);
                self.record_sent(job, || self.store.finish_messages(job.tenant, &finals))
                    .await?;
            }
        }
        for (status, n) in &tally {
            *outcome.tally.entry(status.as_str()).or_default() += n;
        }
        // What the job's provider calls came to: metrics, and the notice of messages sent
        // through providers that publish no events (recorded before: a lost notice costs an
        // analytics count, never a message).
        report.emit(job.started.elapsed());
        self.send_notice(report.notice).await;
        if requeued {
            // Some messages wait: for a provider that failed, for send-rate capacity or for
            // time. The job comes back, and that delivery claims the batch at once.
            outcome.retry = Some(if waiting {
                Retry::Continue
            } else {
                Retry::Providers
            });
            outcome.not_before = report.reopens;
            if let (Some(campaign), Some(batch)) = (job.campaign, &batch) {
                self.store
                    .release_batch(job.tenant, campaign, batch)
                    .await?;
            }
        } else if let (Some(campaign), Some(batch)) = (job.campaign, &batch) {
            if !batch_recorded {
                self.store
                    .finish_batch(job.tenant, campaign, batch, &tally, &[])
                    .await?;
            }
            self.finish_if_done(job.tenant, campaign).await?;
        }
        Ok(outcome)
    }

    /// Counts an AWS failure around provider calls: the `AwsFailuresAroundSends` metric (an
    /// operator sees an outage the jobs rode out) and the instance's counter.
    fn aws_failed(&self) {
        self.counters.aws_failures.fetch_add(1, Ordering::Relaxed);
        herald::telemetry::emit(
            &[("Function", "sender")],
            &[("AwsFailuresAroundSends", 1.0, "Count")],
        );
    }

    /// Writes the records of messages this job handed to providers, trying again for
    /// [`RECORD_WITHIN`] while AWS fails: a record lost after the provider took the message
    /// would leave it to a retake's settling, minutes later.
    async fn record_sent<F, Fut, E>(&self, job: &Job<'_>, write: F) -> anyhow::Result<()>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<(), E>>,
        E: std::fmt::Debug + Into<anyhow::Error>,
    {
        herald::aws::retry_within(RECORD_WITHIN, write, |e| {
            tracing::warn!(tenant_id = %job.tenant, error = ?e, "recording sent messages failed; trying again");
            self.aws_failed();
        })
        .await
        .map_err(Into::into)
    }

    /// Settles messages whose earlier attempt stopped after claiming them (its provider call
    /// may or may not have happened). When every provider of the message's channel is SES,
    /// SES's Send event (recorded by the tracker, which gets it within seconds; a claim is only
    /// retaken minutes later) is the answer: with one the message was sent and is recorded so;
    /// without one SES never accepted it and it is sent now. Other providers publish no such
    /// event, so their uncertain messages are recorded failed, outcome unknown: never sent
    /// twice. Returns (final records, records to send).
    async fn settle<'d>(
        &self,
        job: &Job<'_>,
        snapshot: Option<&Snapshot>,
        uncertain: Vec<(&'d Delivery, Message)>,
        now: chrono::DateTime<Utc>,
    ) -> anyhow::Result<(Vec<Message>, Vec<(&'d Delivery, Message)>)> {
        // Only SES sends through Herald's configuration set publish Send events the tracker
        // sees: a provider with a configuration set of its own (or no Herald set at all)
        // cannot be settled this way.
        let through_herald = |p: &Provider| {
            self.ses_configuration_set.is_some()
                && matches!(
                    herald::providers::ProviderSettings::parse(p.kind, &p.settings),
                    Ok(herald::providers::ProviderSettings::Ses(s)) if s.configuration_set.is_none()
                )
        };
        let ses_only = |channel: Option<Channel>| -> Option<ProviderId> {
            let providers = &snapshot?.content.config.providers_for(channel?)?.providers;
            let active: Vec<&Provider> = providers.iter().filter(|p| p.active).collect();
            (!active.is_empty() && active.iter().all(|p| through_herald(p))).then(|| active[0].id)
        };
        let ids: Vec<MessageId> = uncertain
            .iter()
            .filter(|(_, m)| ses_only(m.channel).is_some())
            .map(|(_, m)| m.id)
            .collect();
        let events = if ids.is_empty() {
            HashMap::new()
        } else {
            self.store.send_events(job.tenant, &ids).await?
        };
        let mut finals = Vec::new();
        let mut resend = Vec::new();
        for (d, mut record) in uncertain {
            record.updated_at = now;
            match (ses_only(record.channel), events.get(&record.id)) {
                (Some(provider), Some(event)) => {
                    record.status = MessageStatus::Sent;
                    record.provider_id = Some(provider);
                    record.provider_message_id = Some(event.ses_message_id.clone());
                    record.sent_at = Some(event.at);
                    record.attempts = record.attempts.max(1);
                    record.last_error = None;
                    self.counters.settled_sent.fetch_add(1, Ordering::Relaxed);
                    finals.push(record);
                }
                (Some(_), None) => {
                    record.status = MessageStatus::Sending;
                    record.claimed_at = Some(now);
                    self.counters.settled_resent.fetch_add(1, Ordering::Relaxed);
                    resend.push((d, record));
                }
                (None, _) => {
                    record.status = MessageStatus::Failed;
                    record.last_error = Some(UNKNOWN.to_owned());
                    finals.push(record);
                }
            }
        }
        tracing::info!(tenant_id = %job.tenant, settled = finals.len(), resent = resend.len(), "settled messages an earlier attempt left uncertain");
        Ok((finals, resend))
    }

    /// The checks before any send: each delivery's record, `sending` for those to send, or
    /// final with the reason it is not sent; and the campaign messages due inside their
    /// contact's quiet hours, with when those end (`deliver` records them as waiting).
    async fn decide_all(
        &self,
        job: &Job<'_>,
        snapshot: Option<&Snapshot>,
        deliveries: &[Delivery],
        now: chrono::DateTime<Utc>,
    ) -> anyhow::Result<(Vec<Message>, HashMap<MessageId, chrono::DateTime<Utc>>)> {
        let contact_ids: Vec<ContactId> = deliveries
            .iter()
            .filter_map(|d| d.recipient.contact_id)
            .collect();
        let addresses: Vec<(Channel, String)> = deliveries
            .iter()
            .filter_map(|d| {
                let channel = choose_channel(job.channels, &d.recipient)?;
                Some((channel, d.recipient.address(channel)?.to_owned()))
            })
            .collect();
        let (contacts, suppressed) = tokio::try_join!(
            self.store.get_contacts(job.tenant, &contact_ids),
            self.store.suppressed(job.tenant, &addresses)
        )?;
        let retention = self.retention(job.tenant).await?;
        let mut records = Vec::with_capacity(deliveries.len());
        let mut deferred = HashMap::new();
        let mut capped: Vec<(usize, ContactId, herald::consent::FrequencyCap)> = Vec::new();
        for d in deliveries {
            let contact: Option<&Contact> = d.recipient.contact_id.and_then(|c| contacts.get(&c));
            let is_suppressed = |channel: Channel, address: &str| {
                suppressed.contains(&suppression_key(channel, address))
            };
            let mut record = Message {
                id: d.message_id,
                tenant_id: job.tenant,
                event_id: job.event,
                campaign_id: job.campaign,
                guest_id: d.recipient.guest_id,
                category: job.category,
                status: MessageStatus::Queued,
                channel: None,
                provider_id: None,
                provider_message_id: None,
                attempts: 0,
                last_error: None,
                snapshot_version: snapshot.map(|s| s.version),
                created_at: now,
                updated_at: now,
                claimed_at: None,
                sent_at: None,
                pending_job: None,
                ttl: Some(herald::store::message_ttl(retention, now)),
                not_before: None,
            };
            match decide(
                job.channels,
                job.category,
                &d.recipient,
                contact,
                &is_suppressed,
            ) {
                Decision::Skip(status) => {
                    record.status = status;
                    record.channel = choose_channel(job.channels, &d.recipient);
                }
                Decision::Send(channel) if snapshot.is_none() => {
                    record.status = MessageStatus::Failed;
                    record.channel = Some(channel);
                    record.last_error =
                        Some("the event has no active snapshot: complete its wizard".to_owned());
                }
                Decision::Send(channel) => {
                    record.status = MessageStatus::Sending;
                    record.channel = Some(channel);
                    record.claimed_at = Some(now);
                    // Campaign messages respect the contact's quiet hours and frequency cap
                    // (transactional ones, such as an RSVP confirmation, go at once).
                    if job.campaign.is_some()
                        && let Some(c) = contact
                    {
                        // A job that waited is judged at its due time (never a moment early).
                        let at = job.not_before.map_or(now, |due| due.max(now));
                        if let Some(until) = c.quiet_hours.and_then(|q| q.until(at)) {
                            // Recorded as waiting by `deliver`, which decides what waits.
                            deferred.insert(record.id, until);
                        } else if let Some(cap) = c.frequency_cap {
                            capped.push((records.len(), c.id, cap));
                        }
                    }
                }
            }
            records.push(record);
        }
        // One conditional UpdateItem per capped contact's message, all at once.
        let booked = futures::future::try_join_all(capped.iter().map(|(i, contact, cap)| {
            self.store
                .book_frequency(job.tenant, *contact, cap, records[*i].id, now)
        }))
        .await?;
        for ((i, _, cap), fits) in capped.iter().zip(booked) {
            if !fits {
                let r = &mut records[*i];
                r.status = MessageStatus::FrequencyCapped;
                r.claimed_at = None;
                r.last_error = Some(format!(
                    "the contact's frequency cap of {} per {} is reached",
                    cap.max, cap.per
                ));
            }
        }
        Ok((records, deferred))
    }

    /// Renders and sends the held messages; returns their final (or re-queued) records.
    async fn send_all(
        &self,
        job: &Job<'_>,
        snapshot: &Snapshot,
        held: Vec<(&Delivery, Message)>,
        composer: &mut Composer<'_>,
        remaining: &mut HashMap<Channel, u32>,
        report: &mut SendReport,
    ) -> anyhow::Result<(Vec<Message>, bool)> {
        let content = &snapshot.content;
        // The tenant's key (cached per process): it signs the guest's preference links and
        // seals the ids every provider report will name (see `herald::tracking::seal`).
        let link_key = match held.is_empty() {
            false => Some(self.links.key(job.tenant).await?),
            true => None,
        };
        let mut out = Vec::with_capacity(held.len());
        let mut waiting = false;
        for (i, (delivery, mut record)) in held.into_iter().enumerate() {
            if report.aws_failed {
                record.status = MessageStatus::Queued;
                record.last_error = Some(AWS_FAILED.to_owned());
                out.push(record);
                continue;
            }
            // Past the budget; the first message of each chunk always goes, so a job whose
            // claim and reads alone took the budget still makes progress.
            if i > 0 && job.started.elapsed() > self.send_budget {
                // Out of time for this invocation: the rest waits for the job's next copy.
                record.status = MessageStatus::Queued;
                record.last_error = Some("waiting: the job's time ran out; it continues".into());
                waiting = true;
                out.push(record);
                continue;
            }
            let channel = record.channel.unwrap_or(Channel::Email);
            let demand = remaining.get(&channel).copied().unwrap_or(1);
            if let Some(n) = remaining.get_mut(&channel) {
                *n = n.saturating_sub(1);
            }
            record.updated_at = Utc::now();
            let links = match (&self.public_url, delivery.recipient.contact_id, &link_key) {
                (Some(base), Some(contact), Some(key)) => {
                    let claims = herald::consent::LinkClaims::for_message(
                        job.tenant,
                        contact,
                        Some(record.id),
                        job.category,
                        channel,
                        delivery.recipient.vars.locale.as_deref(),
                        record.updated_at,
                    );
                    Some(compose::Links::new(base, &claims.sign(key.as_ref())))
                }
                _ => None,
            };
            // The tracker files the message's events to expire with it (`expires`).
            let ids = SealedIds {
                tenant: job.tenant,
                message: record.id,
                event: Some(job.event),
                campaign: job.campaign,
                contact: delivery.recipient.contact_id,
                expires: record.ttl,
            };
            let seal = link_key.as_ref().map(|key| Seal::of(key.as_ref(), &ids));
            let tags = message_tags(&ids, seal);
            let composed =
                match composer.compose(channel, &delivery.recipient, tags, links.as_ref()) {
                    Ok(c) => c,
                    Err(reason) => {
                        record.status = MessageStatus::Failed;
                        record.last_error = Some(reason);
                        out.push(record);
                        continue;
                    }
                };
            let providers: &[Provider] = content
                .config
                .providers_for(channel)
                .map(|p| p.providers.as_slice())
                .unwrap_or_default();
            let to = delivery.recipient.address(channel).unwrap_or_default();
            let mut outgoing = composed.outgoing(to);
            outgoing.tracking = Some(Tracking {
                tenant: job.tenant,
                event: Some(job.event),
                campaign: job.campaign,
                message: record.id,
                contact: ids.contact,
                expires: ids.expires,
                seal: seal.map_or(SealState::Absent, SealState::Given),
                public_url: self.public_url.clone(),
            });
            record.status = MessageStatus::Queued;
            record.last_error = Some(format!("no active {channel} provider"));
            let mut rate_booked = false;
            for provider in providers {
                let ready = match self.gate.admit(job.tenant, provider, demand).await {
                    Ok(Ok(())) => self.credentials(job.tenant, provider).await,
                    Ok(Err(closed)) => {
                        rate_booked |= closed == gate::Closed::RateBooked;
                        if let gate::Closed::CircuitOpen(until) = closed {
                            report.hold(until);
                        }
                        record.last_error = Some(closed.to_string());
                        continue;
                    }
                    Err(e) => Err(e),
                };
                let credentials = match ready {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(tenant_id = %job.tenant, provider_id = %provider.id, error = ?e, "AWS failed before a provider call; the rest of the chunk waits for the job's retry");
                        self.aws_failed();
                        record.last_error = Some(AWS_FAILED.to_owned());
                        report.aws_failed = true;
                        break;
                    }
                };
                record.attempts += 1;
                self.counters.provider_calls.fetch_add(1, Ordering::Relaxed);
                let result = send(&self.providers, provider, &credentials, &outgoing).await;
                record.provider_id = Some(provider.id);
                let counted = match &result {
                    Ok(_) => Outcome::Sent,
                    Err(SendError::Permanent(reason)) => Outcome::Permanent(reason),
                    Err(SendError::Retryable(reason)) => Outcome::Retryable(reason),
                    Err(SendError::Throttled {
                        reason,
                        retry_after,
                    }) => {
                        if let Some(wait) = retry_after {
                            report.hold(
                                Utc::now() + chrono::Duration::from_std(*wait).unwrap_or_default(),
                            );
                        }
                        Outcome::Throttled(reason, *retry_after)
                    }
                };
                // The provider's health is shared through DynamoDB; failing to report it must
                // not lose what the call did (the gate keeps the counts for its next report).
                if let Err(e) = self.gate.record(job.tenant, provider.id, counted).await {
                    tracing::warn!(tenant_id = %job.tenant, provider_id = %provider.id, error = ?e, "reporting the provider's health failed");
                    self.aws_failed();
                }
                match result {
                    Ok(id) => {
                        if self.crash_due() {
                            anyhow::bail!("injected crash after an accepted provider call");
                        }
                        record.status = MessageStatus::Sent;
                        record.provider_message_id = Some(id);
                        record.sent_at = Some(Utc::now());
                        record.last_error = None;
                        self.counters.sent.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    Err(SendError::Permanent(reason)) => {
                        record.status = MessageStatus::Failed;
                        record.last_error = Some(reason);
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(provider_id = %provider.id, message_id = %record.id, "retryable provider failure; trying the next provider");
                        record.last_error = Some(e.reason().to_owned());
                    }
                }
            }
            if providers.is_empty() {
                record.status = MessageStatus::Failed;
            }
            // Only waiting for send-rate capacity (no provider failed it): the job continues.
            waiting |=
                rate_booked && record.status == MessageStatus::Queued && record.attempts == 0;
            out.push(record);
        }
        report.add(job, snapshot, &out);
        Ok((out, waiting))
    }

    /// Puts the notice of messages sent through providers without events on the tracker's
    /// queue (one SendMessage per job). A failure is logged, not retried: the messages are
    /// recorded; only their analytics count would be missing.
    async fn send_notice(&self, entries: Vec<SentEntry>) {
        let Some(url) = &self.queue.tracker_url else {
            return;
        };
        if entries.is_empty() {
            return;
        }
        let n = entries.len();
        let body = match serde_json::to_string(&SentNotice {
            herald_sent: entries,
        }) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "serialising a sent notice failed");
                return;
            }
        };
        if let Err(e) = self
            .queue
            .sqs
            .send_message()
            .queue_url(url)
            .message_body(body)
            .send()
            .await
        {
            tracing::warn!(messages = n, error = %aws_sdk_sqs::error::DisplayErrorContext(&e), "the tracker queue refused a sent notice; those messages are not counted as sent in the analytics");
        }
    }
}

/// What a job's provider calls came to.
#[derive(Debug, Default)]
struct SendReport {
    /// Messages by (channel, provider kind, sent or failed).
    counts: BTreeMap<(Channel, &'static str, bool), u64>,
    notice: Vec<SentEntry>,
    /// The earliest a provider this job found closed (circuit open, or held for a 429's
    /// `Retry-After`) takes messages again: the job comes back no earlier.
    reopens: Option<chrono::DateTime<Utc>>,
    /// AWS failed the gate or a provider's credentials: nothing more is sent in this job (what
    /// was sent is recorded), the rest waits for its retry.
    aws_failed: bool,
}

impl SendReport {
    fn hold(&mut self, until: chrono::DateTime<Utc>) {
        self.reopens = Some(self.reopens.map_or(until, |r| r.min(until)));
    }

    fn add(&mut self, job: &Job<'_>, snapshot: &Snapshot, records: &[Message]) {
        for r in records {
            let (Some(channel), Some(pid)) = (r.channel, r.provider_id) else {
                continue;
            };
            let kind = snapshot
                .content
                .config
                .providers_for(channel)
                .and_then(|p| p.providers.iter().find(|p| p.id == pid))
                .map(|p| p.kind);
            let sent = r.status == MessageStatus::Sent;
            if matches!(r.status, MessageStatus::Sent | MessageStatus::Failed) {
                let name = kind.map(ProviderKind::as_str).unwrap_or("unknown");
                *self.counts.entry((channel, name, sent)).or_default() += 1;
            }
            // SES publishes its own Send events; every other provider is noted here.
            if sent
                && kind.is_some_and(|k| k != ProviderKind::Ses)
                && let Some(id) = &r.provider_message_id
            {
                self.notice.push(SentEntry {
                    tenant: job.tenant,
                    message: r.id,
                    event: Some(job.event),
                    campaign: job.campaign,
                    provider: pid,
                    channel,
                    provider_message_id: id.clone(),
                    at: r.sent_at.unwrap_or_else(Utc::now),
                    expires: r.ttl,
                });
            }
        }
    }

    /// CloudWatch metrics (EMF): messages sent and failed by channel and provider kind, and the
    /// job's duration.
    fn emit(&self, took: Duration) {
        for ((channel, provider, sent), n) in &self.counts {
            let name = if *sent {
                "MessagesSent"
            } else {
                "MessagesFailed"
            };
            herald::telemetry::emit(
                &[
                    ("Function", "sender"),
                    ("Channel", channel.as_str()),
                    ("Provider", provider),
                ],
                &[(name, *n as f64, "Count")],
            );
        }
        if !self.counts.is_empty() {
            herald::telemetry::emit(
                &[("Function", "sender")],
                &[(
                    "DeliveryJobDuration",
                    took.as_secs_f64() * 1000.0,
                    "Milliseconds",
                )],
            );
        }
    }
}

impl JobOutcome {
    fn noted(what: &'static str) -> Self {
        Self {
            tally: BTreeMap::from([(what, 1)]),
            retry: None,
            not_before: None,
        }
    }
}

/// How long a job that waits for send-rate capacity or for a new invocation waits.
const CONTINUE_DELAY_SECONDS: i32 = 5;

/// How long a job sends before it leaves the rest to a fresh copy of itself (the function's
/// timeout is 60 s; a send-rate booking may wait up to 20 s).
pub const SEND_BUDGET: Duration = Duration::from_secs(30);

/// Seconds before a job to retry comes back: 10 s, doubling with each delivery, at most 5 min.
pub fn retry_backoff(receive_count: u32) -> i32 {
    10_i32
        .saturating_mul(1 << receive_count.saturating_sub(1).min(5))
        .min(300)
}

/// Whole seconds from now until `at` (rounded up; 0 when absent or past), at most
/// [`gate::MAX_HOLD`].
fn seconds_until(at: Option<chrono::DateTime<Utc>>) -> i32 {
    let Some(at) = at else { return 0 };
    let ms = (at - Utc::now()).num_milliseconds().max(0);
    let max = i64::try_from(gate::MAX_HOLD.as_secs()).unwrap_or(900);
    i32::try_from(((ms + 999) / 1000).min(max)).unwrap_or(0)
}

/// Messages per recorded chunk of a delivery job (one BatchWriteItem).
const CHUNK: usize = 25;

const AWS_FAILED: &str = "waiting: AWS failed before the provider call; the job tries again";

const UNKNOWN: &str = "the outcome of the provider call is unknown (the sender stopped mid-send, and this provider publishes no event to settle it by); not sent again to avoid a duplicate";

/// Adds the final records to `tally`; true when some went back to `queued` (to retry).
fn count(records: &[Message], tally: &mut HashMap<MessageStatus, u64>) -> bool {
    let mut requeued = false;
    for m in records {
        if m.status == MessageStatus::Queued {
            requeued = true;
        } else {
            *tally.entry(m.status).or_default() += 1;
        }
    }
    requeued
}

/// A delivery job's id: the same for the same recipients, whoever queued it.
fn batch_id(deliveries: &[Delivery], not_before: Option<chrono::DateTime<Utc>>) -> String {
    let mut ids: Vec<String> = deliveries
        .iter()
        .map(|d| d.message_id.to_string())
        .collect();
    // A job waiting for quiet hours is a batch of its own, even with the same recipients,
    // and one the campaign counts apart from the batches its expansion planned.
    match not_before {
        Some(at) => {
            ids.push(at.timestamp().to_string());
            format!(
                "{}{}",
                herald::store::WAITED_BATCH_PREFIX,
                &herald::digest::sha256_hex(ids.join(","))[..31]
            )
        }
        None => herald::digest::sha256_hex(ids.join(","))[..32].to_owned(),
    }
}

/// Recipients per delivery job: 100, so that one claim, one BatchGetItem of contacts, one of
/// suppressions, four BatchWriteItem of records and one PutItem of the batch's outcome serve
/// 100 messages.
pub const DELIVERY_BATCH: usize = 100;
/// Guests read per expansion page: ten full delivery jobs.
const EXPAND_PAGE: usize = 10 * DELIVERY_BATCH;

/// Delivery jobs of `DELIVERY_BATCH` recipients for these guests of a campaign.
fn deliver_jobs(campaign: &Campaign, guests: Vec<&Guest>) -> Vec<SenderJob> {
    guests
        .chunks(DELIVERY_BATCH)
        .map(|chunk| SenderJob::Deliver {
            tenant_id: campaign.tenant_id,
            event_id: campaign.event_id,
            campaign_id: Some(campaign.id),
            snapshot_version: campaign.snapshot_version,
            category: campaign.category,
            channels: campaign.channels.clone(),
            not_before: None,
            deliveries: chunk
                .iter()
                .map(|g| Delivery {
                    message_id: MessageId::derived(&[&campaign.id.to_string(), &g.id.to_string()]),
                    recipient: Recipient::from(*g),
                })
                .collect(),
        })
        .collect()
}

/// The fixed parts of a deliver job.
struct Job<'a> {
    tenant: TenantId,
    event: EventId,
    campaign: Option<CampaignId>,
    category: herald::domain::TemplateCategory,
    channels: &'a [Channel],
    snapshot_version: Option<u64>,
    /// A job that waited for quiet hours: when it was due.
    not_before: Option<chrono::DateTime<Utc>>,
    /// When this delivery of the job started (its time budget).
    started: Instant,
}

/// The SES message tags of a message: its ids (tenant, event, campaign, message, contact,
/// expiry) and the seal over them, so the tracker believes SES's events about it.
pub fn message_tags(ids: &SealedIds, seal: Option<Seal>) -> Vec<(String, String)> {
    let mut tags = vec![
        ("herald_tenant".to_owned(), ids.tenant.to_string()),
        ("herald_message".to_owned(), ids.message.to_string()),
    ];
    let optional = [
        ("herald_event", ids.event.map(|e| e.to_string())),
        ("herald_campaign", ids.campaign.map(|c| c.to_string())),
        ("herald_contact", ids.contact.map(|c| c.to_string())),
        ("herald_expires", ids.expires.map(|e| e.to_string())),
        (SEAL_TAG, seal.map(|s| s.to_string())),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            tags.push((name.to_owned(), value));
        }
    }
    tags
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery() -> Delivery {
        Delivery {
            message_id: MessageId::new(),
            recipient: Recipient::default(),
        }
    }

    #[test]
    fn a_batch_that_waited_is_its_own_and_marked_as_such() {
        let ds = vec![delivery(), delivery()];
        let due = Utc::now();
        let planned = batch_id(&ds, None);
        let waited = batch_id(&ds, Some(due));
        assert_ne!(planned, waited);
        assert!(!planned.starts_with(herald::store::WAITED_BATCH_PREFIX));
        assert!(waited.starts_with(herald::store::WAITED_BATCH_PREFIX));
        assert_eq!(waited.len(), 32);
        // The same recipients waiting for the same time are the same batch (claimed once).
        assert_eq!(waited, batch_id(&ds, Some(due)));
        assert_ne!(
            waited,
            batch_id(&ds, Some(due + chrono::Duration::minutes(1)))
        );
    }
}
