//! The `sender` function: delivers messages from the sender queue (campaigns, journey steps)
//! and the transactional queue (one message to one person), two lanes that share no queue and
//! no part of a provider's send rate ([`lanes`]): no campaign delays a transactional message.
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
//!
//! The stages, one module each: [`plan`] (a job's dispatch, a campaign's plan and expansion),
//! [`deliver`] (claim, settle, record), [`decide`] (the checks before any send), [`send`]
//! (render and send through the gate, with sealed tags), [`report`] (what the calls came to);
//! [`reads`] holds the cached reads a job starts from and [`queue`] its work on SQS.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::Utc;
use herald::aws::sqs_batch::Outgoing;
use herald::campaigns::{Audience, Campaign, CampaignStatus};
use herald::config::Provider;
use herald::domain::{Channel, ProviderKind};
use herald::guests::{Contact, GUEST_SHARDS, Guest};
use herald::ids::{CampaignId, ContactId, EventId, GuestId, MessageId, ProviderId, TenantId};
use herald::messages::{
    Decision, Delivery, Message, MessageStatus, SenderJob, choose_channel, decide, suppression_key,
};
use herald::providers::ProviderClients;
use herald::providers::send::{SendError, Tracking, send};
use herald::secrets::Sealer;
use herald::store::{BatchClaim, Claimed, Store};
use herald::tracking::seal::{SEAL_TAG, Seal, SealState, SealedIds};
use herald::tracking::{SentEntry, SentNotice};
use herald::wizard::Snapshot;

pub mod compose;
mod decide;
mod deliver;
#[cfg(feature = "faults")]
mod faults;
pub mod gate;
mod journey;
pub mod lanes;
mod plan;
mod queue;
mod reads;
mod reply;
mod report;
mod send;
pub mod webhooks;

use compose::Composer;
use gate::{Gate, Outcome};
use plan::batch_id;
use report::SendReport;
pub use send::message_tags;

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
    /// `HERALD_TRANSACTIONAL_QUEUE_URL` and `HERALD_TRANSACTIONAL_DLQ_URL` (optional): the
    /// transactional queue, the sender's event source for transactional messages (their own
    /// lane, see [`lanes`]), and its dead-letter queue.
    pub transactional: Option<SourceQueue>,
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
    /// `HERALD_INBOUND_DOMAIN` (optional): the domain SES receives replies on; every email
    /// then carries a signed per-message `Reply-To` on it (see `herald::inbound::address`).
    pub inbound_domain: Option<String>,
    /// `HERALD_WEBHOOK_QUEUE_URL` (optional): the webhook queue, the sender's second event
    /// source (deliveries and their retries) and where `campaign.completed` events go.
    pub webhook_queue_url: Option<String>,
    /// `HERALD_ALLOW_LOOPBACK_WEBHOOK_URLS=1` (the local stack only): deliver to endpoints on
    /// 127.0.0.1 and over http; every other private address stays refused.
    pub webhook_policy: herald::webhooks::LoopbackPolicy,
    /// `HERALD_SENDER_QUEUE_ARN` and `HERALD_SCHEDULER_ROLE_ARN` (optional, together): the
    /// target and role of journey steps' schedules, which the sender moves when a fire finds
    /// its event changed, and with which the sweep finishes journey syncs.
    pub schedules: Option<(String, String)>,
}

impl Config {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        Ok(Self {
            core: herald::aws::CoreSettings::from_lookup(&lookup)?,
            queue_url: herald::aws::required(&lookup, "HERALD_SENDER_QUEUE_URL")?,
            dead_letter_url: lookup("HERALD_SENDER_DLQ_URL").filter(|v| !v.is_empty()),
            transactional: lookup("HERALD_TRANSACTIONAL_QUEUE_URL")
                .filter(|v| !v.is_empty())
                .map(|url| SourceQueue {
                    url,
                    dead_letter_url: lookup("HERALD_TRANSACTIONAL_DLQ_URL")
                        .filter(|v| !v.is_empty()),
                }),
            ses_configuration_set: lookup("HERALD_SES_CONFIGURATION_SET")
                .filter(|v| !v.is_empty()),
            tracker_queue_url: lookup("HERALD_TRACKER_QUEUE_URL").filter(|v| !v.is_empty()),
            public_url: lookup("HERALD_PUBLIC_URL").filter(|v| !v.is_empty()),
            inbound_domain: lookup("HERALD_INBOUND_DOMAIN").filter(|v| !v.is_empty()),
            webhook_queue_url: lookup("HERALD_WEBHOOK_QUEUE_URL").filter(|v| !v.is_empty()),
            webhook_policy: herald::webhooks::LoopbackPolicy::from_setting(
                lookup("HERALD_ALLOW_LOOPBACK_WEBHOOK_URLS").as_deref(),
            ),
            schedules: lookup("HERALD_SENDER_QUEUE_ARN")
                .filter(|v| !v.is_empty())
                .zip(lookup("HERALD_SCHEDULER_ROLE_ARN").filter(|v| !v.is_empty())),
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

/// The function as Lambda runs it: the sender queue's and the transactional queue's jobs, and
/// the webhook queue's deliveries (one event source mapping each; a batch comes from one
/// queue).
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
    /// The transactional queue: its jobs' retries and continuations go back to it.
    transactional: Option<SourceQueue>,
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
    /// SES receives replies on it (see [`Sender::with_inbound_domain`]).
    inbound_domain: Option<String>,
    /// [`SEND_BUDGET`], or the local stack's (the emulator is many times slower than AWS).
    send_budget: Duration,
    /// Fault injection, in the local stack's tests only (the `faults` feature).
    #[cfg(feature = "faults")]
    faults: faults::Hooks,
    /// Queues `campaign.completed` webhooks.
    webhooks: Option<herald::webhooks::Emitter>,
    /// Brings journeys in line (a stale fire, the sweep): with the Scheduler's settings.
    journeys: Option<herald::journeys::Syncer>,
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

/// A queue the sender takes jobs from besides its own, with its dead-letter queue.
#[derive(Clone, Debug)]
pub struct SourceQueue {
    pub url: String,
    pub dead_letter_url: Option<String>,
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
            transactional: None,
            snapshots: Arc::default(),
            statuses: Arc::default(),
            retentions: Arc::default(),
            webhooks: None,
            journeys: None,
            credentials: Arc::default(),
            counters: Arc::default(),
            settle_seconds: SETTLE_SECONDS,
            ses_configuration_set: None,
            public_url: None,
            inbound_domain: None,
            send_budget: SEND_BUDGET,
            #[cfg(feature = "faults")]
            faults: faults::Hooks::default(),
        }
    }

    /// Writes journey schedules (stale fires are brought in line at once, and the sweep
    /// finishes syncs a crash left part way).
    pub fn with_journeys(mut self, syncer: Option<herald::journeys::Syncer>) -> Self {
        self.journeys = syncer;
        self
    }

    /// The transactional queue (a second event source): its jobs' retries, continuations and
    /// poison messages stay with it and its dead-letter queue.
    pub fn with_transactional_queue(mut self, queue: Option<SourceQueue>) -> Self {
        self.transactional = queue;
        self
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

    /// The domain replies are received on: emails get a per-message `Reply-To` on it.
    pub fn with_inbound_domain(mut self, domain: Option<String>) -> Self {
        self.inbound_domain = domain;
        self
    }

    /// True (once) when an injected crash is due after an accepted send (never, without the
    /// `faults` feature).
    fn crash_due(&self) -> bool {
        #[cfg(feature = "faults")]
        return self.faults.crash_due();
        #[cfg(not(feature = "faults"))]
        false
    }

    /// How long a job waits between its provider calls and recording their outcome: zero,
    /// but in the local stack's fault-injection tests.
    fn record_delay(&self) -> Duration {
        #[cfg(feature = "faults")]
        return self.faults.record_delay;
        #[cfg(not(feature = "faults"))]
        Duration::ZERO
    }

    pub fn from_sdk_config(sdk: &aws_config::SdkConfig, config: &Config) -> anyhow::Result<Self> {
        let (store, sealer) = config.core.clients(sdk);
        let emitter =
            herald::webhooks::Emitter::for_queue(&store, sdk, config.webhook_queue_url.as_deref());
        let journeys = journey_syncer(sdk, &store, config);
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
        .with_transactional_queue(config.transactional.clone())
        .with_ses_configuration_set(config.ses_configuration_set.clone())
        .with_public_url(config.public_url.clone())
        .with_inbound_domain(config.inbound_domain.clone())
        .with_webhooks(emitter)
        .with_journeys(journeys))
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

pub use herald::messages::DELIVERY_BATCH;
/// Guests read per expansion page: ten full delivery jobs.
const EXPAND_PAGE: usize = 10 * DELIVERY_BATCH;

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

impl Job<'_> {
    /// The lane its messages take through the providers' send rates.
    fn lane(&self) -> lanes::Lane {
        lanes::Lane::of(self.campaign)
    }
}

/// The journey syncer of a sender configured with the Scheduler's settings.
pub fn journey_syncer(
    sdk: &aws_config::SdkConfig,
    store: &Store,
    config: &Config,
) -> Option<herald::journeys::Syncer> {
    let (target_arn, role_arn) = config.schedules.clone()?;
    Some(herald::journeys::Syncer {
        store: store.clone(),
        schedules: herald::schedules::OneTimeSchedules {
            client: herald::aws::LazyClient::new(sdk, aws_sdk_scheduler::Client::new),
            target_arn,
            role_arn,
        },
        sqs: herald::aws::LazyClient::new(sdk, aws_sdk_sqs::Client::new),
        sender_queue_url: config.queue_url.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald::messages::Recipient;

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
