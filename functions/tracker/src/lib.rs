//! The `tracker` function: SES events, published by Herald's configuration set to an SNS topic
//! and delivered to the tracker queue, recorded against the messages they are about — see
//! `herald::tracking` for the formats and `Store::ingest_events` for what a batch writes.
//!
//! A batch goes through its stages, one module each: [`decode`] (every SQS record into
//! reports; what does not parse, carries no Herald tags or is of a type Herald does not track
//! is logged with its SQS message id, counted and acknowledged), vouch (`herald::tracking::
//! Voucher`: a report counts only for a message Herald sent for the tenant it names — sealed by
//! the sender, or with the message's record there), [`consent`] (complaints, hard bounces and
//! SES unsubscribes), record (the events, suppressions and counters, in batches), the
//! webhooks, and [`hold`] (reports nobody vouches for yet come back later, and are dropped
//! as orphaned after 10 minutes). When AWS fails, every usable record of the batch is
//! delivered again (duplicates are recognised).

pub mod consent;
pub mod decode;
pub mod engagement;
pub mod hold;

pub use decode::{Parsed, Source, parse_batch};
pub use hold::{Fate, HoldPolicy};

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use herald::store::{Ingested, Store, StoreError};
use herald::tracking::{Tracked, Verdict, Voucher};

#[derive(Debug, Clone)]
pub struct Config {
    pub core: herald::aws::CoreSettings,
    /// `HERALD_WEBHOOK_QUEUE_URL` (optional): where `message.*` and `contact.unsubscribed`
    /// webhook deliveries are queued.
    pub webhook_queue_url: Option<String>,
    /// `HERALD_TRACKER_QUEUE_URL` (optional): the tracker's own queue, whose records holding
    /// reports nobody vouches for yet are delayed (without it they come back after the
    /// queue's visibility timeout).
    pub queue_url: Option<String>,
}

impl Config {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        Ok(Self {
            core: herald::aws::CoreSettings::from_lookup(&lookup)?,
            webhook_queue_url: lookup("HERALD_WEBHOOK_QUEUE_URL").filter(|v| !v.is_empty()),
            queue_url: lookup("HERALD_TRACKER_QUEUE_URL").filter(|v| !v.is_empty()),
        })
    }

    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }
}

/// How long an invocation keeps trying to record a batch while AWS fails (each try is bounded
/// by the SDK's timeouts; the function's own timeout is 60 s).
pub const RETRY_WITHIN: Duration = Duration::from_secs(30);

/// Counts since the cold start.
#[derive(Debug, Default)]
pub struct Counters {
    pub recorded: AtomicU64,
    pub duplicates: AtomicU64,
    pub suppressed: AtomicU64,
    pub malformed: AtomicU64,
    pub untagged: AtomicU64,
    pub unknown: AtomicU64,
    /// Reports with a seal that does not verify (or about a message sent by another channel).
    pub untrusted: AtomicU64,
    /// Reports nobody vouched for, held for another look.
    pub held: AtomicU64,
    /// Reports nobody vouched for within the hold, dropped.
    pub orphaned: AtomicU64,
}

/// The tracker's own queue, for delaying held records.
#[derive(Debug, Clone)]
struct OwnQueue {
    sqs: herald::aws::LazyClient<aws_sdk_sqs::Client>,
    url: String,
}

#[derive(Debug, Clone)]
pub struct Tracker {
    store: Store,
    voucher: Voucher,
    webhooks: Option<herald::webhooks::Emitter>,
    engagement: engagement::Engagement,
    queue: Option<OwnQueue>,
    hold: HoldPolicy,
    pub counters: Arc<Counters>,
}

/// What vouching made of a batch: the reports to record, and the records to hold.
#[derive(Debug, Default)]
struct Sorted {
    trusted: Vec<Tracked>,
    /// Records (by index in the batch) holding a report nobody vouched for, with its fate.
    unknown: BTreeMap<usize, Fate>,
    untrusted: usize,
    orphaned: usize,
}

impl Tracker {
    pub fn new(store: Store, sealer: herald::secrets::Sealer) -> Self {
        let keys = herald::consent::LinkKeys::new(store.clone(), sealer);
        Self {
            voucher: Voucher::new(store.clone(), keys),
            engagement: engagement::Engagement::new(store.clone()),
            store,
            webhooks: None,
            queue: None,
            hold: HoldPolicy::default(),
            counters: Arc::default(),
        }
    }

    /// Queues webhook events through this emitter.
    pub fn with_webhooks(mut self, emitter: Option<herald::webhooks::Emitter>) -> Self {
        self.webhooks = emitter;
        self
    }

    /// Delays held records on this queue (the tracker's own).
    pub fn with_queue(
        mut self,
        sqs: herald::aws::LazyClient<aws_sdk_sqs::Client>,
        url: Option<String>,
    ) -> Self {
        self.queue = url.map(|url| OwnQueue { sqs, url });
        self
    }

    /// When held reports come back and when they are given up.
    pub fn with_hold(mut self, hold: HoldPolicy) -> Self {
        self.hold = hold;
        self
    }

    pub fn from_sdk_config(sdk: &aws_config::SdkConfig, config: &Config) -> Self {
        let (store, sealer) = config.core.clients(sdk);
        let emitter =
            herald::webhooks::Emitter::for_queue(&store, sdk, config.webhook_queue_url.as_deref());
        Self::new(store, sealer).with_webhooks(emitter).with_queue(
            herald::aws::LazyClient::new(sdk, aws_sdk_sqs::Client::new),
            config.queue_url.clone(),
        )
    }

    /// Queues the webhooks of a batch's events: every usable one, whether or not it was new
    /// (a batch that failed after recording its events is delivered again, and its webhooks
    /// must still go out; a copy has the same webhook id).
    async fn emit(
        &self,
        events: &[Tracked],
        mut more: Vec<herald::webhooks::WebhookEvent>,
    ) -> anyhow::Result<usize> {
        let Some(emitter) = &self.webhooks else {
            return Ok(0);
        };
        more.extend(events.iter().filter_map(herald::webhooks::message_event));
        emitter.emit(&more).await
    }

    /// Vouches for a batch's reports (see `herald::tracking::vouch`) and decides the fate of
    /// those nobody vouches for.
    async fn sort(&self, parsed: &Parsed) -> anyhow::Result<Sorted> {
        let reports: Vec<Tracked> = parsed.reports.iter().map(|(_, r)| r.clone()).collect();
        let verdicts = self.voucher.vouch(reports).await?;
        let now_ms = chrono::Utc::now().timestamp_millis();
        let mut sorted = Sorted::default();
        for ((at, _), verdict) in parsed.reports.iter().zip(verdicts) {
            match verdict {
                Verdict::Trusted(report) => sorted.trusted.push(report),
                Verdict::Untrusted(report, why) => {
                    tracing::warn!(tenant_id = %report.tenant, message_id = %report.message, sqs_message_id = %parsed.sources[*at].id, reason = why, "an untrusted provider report was dropped");
                    sorted.untrusted += 1;
                }
                Verdict::Unknown(report) => {
                    let fate = self.hold.fate(&parsed.sources[*at], now_ms);
                    if fate == Fate::Orphan {
                        tracing::warn!(tenant_id = %report.tenant, message_id = %report.message, sqs_message_id = %parsed.sources[*at].id, "a report about a message the tenant has no record of was dropped (orphaned)");
                        sorted.orphaned += 1;
                    } else {
                        tracing::info!(tenant_id = %report.tenant, message_id = %report.message, sqs_message_id = %parsed.sources[*at].id, "a report about a message not recorded yet is held");
                        sorted.unknown.insert(*at, fate);
                    }
                }
            }
        }
        Ok(sorted)
    }

    /// One try at a batch: vouching, consent changes, the events, the webhooks they queue.
    async fn record(&self, parsed: &Parsed) -> Result<(Sorted, Ingested, usize), StoreError> {
        let sorted = self
            .sort(parsed)
            .await
            .map_err(|e| StoreError::Unexpected(e.context("vouching for reports")))?;
        let unsubscribed = consent::record_consent(&self.store, &sorted.trusted)
            .await
            .map_err(|e| StoreError::Unexpected(e.context("consent changes")))?;
        let report = self.store.ingest_events(&sorted.trusted).await?;
        let queued = self
            .emit(&sorted.trusted, unsubscribed)
            .await
            .map_err(|e| StoreError::Unexpected(e.context("queuing webhooks")))?;
        Ok((sorted, report, queued))
    }

    /// Reports the held records as failures and delays them.
    async fn hold_back(
        &self,
        parsed: &Parsed,
        held: &BTreeMap<usize, Fate>,
        response: &mut SqsBatchResponse,
    ) {
        let mut delays = Vec::new();
        for (at, fate) in held {
            let source = &parsed.sources[*at];
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = source.id.clone();
            response.batch_item_failures.push(failure);
            if let (Fate::Hold(delay), Some(receipt)) = (fate, &source.receipt_handle) {
                delays.push((receipt.clone(), *delay));
            }
        }
        if let Some(queue) = &self.queue
            && !delays.is_empty()
        {
            hold::delay_records(&queue.sqs, &queue.url, &delays).await;
        }
    }

    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let parsed = parse_batch(&event);
        let c = &self.counters;
        let mut metrics: Vec<(&str, f64, &str)> = Vec::new();
        for (kind, n) in &parsed.unusable {
            let counter = match *kind {
                "malformed" => &c.malformed,
                "untagged" => &c.untagged,
                _ => &c.unknown,
            };
            counter.fetch_add(*n, Ordering::Relaxed);
            metrics.push((decode::unusable_metric(kind), *n as f64, "Count"));
        }
        let mut response = SqsBatchResponse::default();
        // AWS failing for a few seconds is waited out here, so SES's Send events are recorded
        // within seconds of its return (the sender settles a crashed job's messages by them);
        // past the budget the batch fails and SQS delivers it again.
        let recorded = herald::aws::retry_within(
            RETRY_WITHIN,
            || self.record(&parsed),
            |e| {
                tracing::warn!(error = ?e, "recording a batch of events failed; trying again");
                metrics.push(("IngestRetries", 1.0, "Count"));
            },
        )
        .await;
        match recorded {
            Ok((sorted, report, queued)) => {
                c.recorded
                    .fetch_add(report.recorded as u64, Ordering::Relaxed);
                c.duplicates
                    .fetch_add(report.duplicates as u64, Ordering::Relaxed);
                c.suppressed
                    .fetch_add(report.suppressed as u64, Ordering::Relaxed);
                c.untrusted
                    .fetch_add(sorted.untrusted as u64, Ordering::Relaxed);
                c.orphaned
                    .fetch_add(sorted.orphaned as u64, Ordering::Relaxed);
                c.held
                    .fetch_add(sorted.unknown.len() as u64, Ordering::Relaxed);
                metrics.extend([
                    ("WebhooksQueued", queued as f64, "Count"),
                    ("EventsRecorded", report.recorded as f64, "Count"),
                    ("EventsDuplicate", report.duplicates as f64, "Count"),
                    ("AddressesSuppressed", report.suppressed as f64, "Count"),
                    ("EventsUntrusted", sorted.untrusted as f64, "Count"),
                    ("EventsOrphaned", sorted.orphaned as f64, "Count"),
                    ("EventsHeld", sorted.unknown.len() as f64, "Count"),
                ]);
                // Engagement for the CRM: best effort (a failure is logged; the next event
                // of the contact brings it up to date).
                match self.engagement.push(&sorted.trusted).await {
                    Ok(n) => metrics.push(("CrmEngagementQueued", n as f64, "Count")),
                    Err(e) => {
                        tracing::warn!(error = ?e, "noting engagement for the CRM failed");
                    }
                }
                // Per event type, for the bounce and complaint rate alarms.
                for (kind, n) in &report.by_kind {
                    herald::telemetry::emit(
                        &[("Function", "tracker"), ("EventType", kind.as_str())],
                        &[("Events", *n as f64, "Count")],
                    );
                }
                tracing::info!(
                    recorded = report.recorded,
                    duplicates = report.duplicates,
                    suppressed = report.suppressed,
                    untrusted = sorted.untrusted,
                    held = sorted.unknown.len(),
                    orphaned = sorted.orphaned,
                    "events ingested"
                );
                self.hold_back(&parsed, &sorted.unknown, &mut response)
                    .await;
            }
            Err(e) => {
                tracing::error!(error = ?e, events = parsed.reports.len(), "recording a batch of events failed; it will be delivered again");
                metrics.push(("IngestFailures", 1.0, "Count"));
                let ids: BTreeSet<&String> = parsed
                    .reports
                    .iter()
                    .map(|(at, _)| &parsed.sources[*at].id)
                    .collect();
                for id in ids {
                    let mut failure = BatchItemFailure::default();
                    failure.item_identifier = id.clone();
                    response.batch_item_failures.push(failure);
                }
            }
        }
        herald::telemetry::emit(&[("Function", "tracker")], &metrics);
        response
    }
}
