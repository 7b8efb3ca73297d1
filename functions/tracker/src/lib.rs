//! The `tracker` function: SES events, published by Herald's configuration set to an SNS topic
//! and delivered to the tracker queue, recorded against the messages they are about (the
//! message tags the sender set) — see `herald::tracking` for the formats and
//! `Store::ingest_events` for what a batch writes.
//!
//! A whole SQS batch is ingested together: one read of the keys its events would take, the new
//! events and suppressions in BatchWriteItems, one counter update per counters item. An event
//! that does not parse, carries no Herald tags (mail sent by something else through the
//! configuration set) or is of a type Herald does not track is logged with its SQS message id,
//! counted (in the function's metrics) and acknowledged: it never fails the batch. When the
//! store fails, every usable record of the batch is delivered again (duplicates are recognised).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use herald::ids::{ContactId, TenantId};
use herald::store::Store;
use herald::tracking::{Tracked, Unusable, parse_record};

#[derive(Debug, Clone)]
pub struct Config {
    pub core: herald::aws::CoreSettings,
    /// `HERALD_WEBHOOK_QUEUE_URL` (optional): where `message.*` and `contact.unsubscribed`
    /// webhook deliveries are queued.
    pub webhook_queue_url: Option<String>,
}

impl Config {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        Ok(Self {
            core: herald::aws::CoreSettings::from_lookup(&lookup)?,
            webhook_queue_url: lookup("HERALD_WEBHOOK_QUEUE_URL").filter(|v| !v.is_empty()),
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
}

#[derive(Debug, Clone)]
pub struct Tracker {
    store: Store,
    webhooks: Option<herald::webhooks::Emitter>,
    /// Whether each tenant has a CRM connection, by when it was read.
    crm_tenants: Arc<tokio::sync::Mutex<HashMap<TenantId, (Instant, bool)>>>,
    pub counters: Arc<Counters>,
}

/// A batch read: the usable events with their SQS message ids, and the count of each kind of
/// unusable record (already logged).
#[derive(Debug, Default)]
pub struct Parsed {
    pub events: Vec<(String, Tracked)>,
    pub unusable: BTreeMap<&'static str, u64>,
}

/// Reads every record of a batch; logs (by SQS message id) what cannot be used.
pub fn parse_batch(event: &SqsEvent) -> Parsed {
    let mut out = Parsed::default();
    for record in &event.records {
        let id = record.message_id.clone().unwrap_or_default();
        match parse_record(record.body.as_deref().unwrap_or_default()) {
            Ok(events) => out
                .events
                .extend(events.into_iter().map(|e| (id.clone(), e))),
            Err(why) => {
                let kind = match &why {
                    Unusable::Malformed(_) => "malformed",
                    Unusable::Untagged => "untagged",
                    Unusable::Unknown(_) | Unusable::Ignored(_) => "unknown",
                };
                *out.unusable.entry(kind).or_default() += 1;
                if kind == "malformed" {
                    tracing::warn!(message_id = %id, reason = %why, "skipping a provider event that does not parse");
                } else {
                    tracing::info!(message_id = %id, reason = %why, "skipping a provider event");
                }
            }
        }
    }
    out
}

impl Tracker {
    /// A complaint opts the contact out of email; a hard bounce is noted in its ledger (the
    /// address is suppressed either way). Keyed by the event, so a redelivered batch writes
    /// nothing twice; a contact that no longer exists is skipped.
    async fn record_consent(
        &self,
        events: &[Tracked],
    ) -> anyhow::Result<Vec<herald::webhooks::WebhookEvent>> {
        use herald::domain::{Channel, ConsentSource, DeliveryEvent};
        let mut unsubscribed = Vec::new();
        for e in events.iter().filter(|e| !e.suppress.is_empty()) {
            let Some(contact) = e.contact else { continue };
            let source = match e.kind {
                DeliveryEvent::Complained => ConsentSource::Complaint,
                _ => ConsentSource::Bounce,
            };
            let context = herald::store::ChangeContext {
                message: Some(e.message),
                note: Some(format!("suppressed:{}", e.channel)),
                record_id: Some(format!("{:013}#{}", e.at_ms().max(0), e.identity)),
                ..Default::default()
            };
            let complaint = source == ConsentSource::Complaint;
            let result = self
                .store
                .change_preferences(e.tenant, contact, source, &context, |p| {
                    let mut next = p.clone();
                    let whole = herald::consent::OptOut {
                        channel: Channel::Email,
                        category: None,
                    };
                    if complaint && !next.opt_outs.contains(&whole) {
                        next.opt_outs.retain(|o| o.channel != Channel::Email);
                        next.opt_outs.push(whole);
                        next.opt_outs.sort();
                    }
                    next
                })
                .await;
            match result {
                Ok(changed) => unsubscribed.extend(
                    changed
                        .record
                        .as_ref()
                        .and_then(|r| herald::webhooks::unsubscribed_event(e.tenant, r)),
                ),
                Err(herald::store::StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(unsubscribed)
    }

    pub fn new(store: Store) -> Self {
        Self {
            store,
            webhooks: None,
            crm_tenants: Arc::default(),
            counters: Arc::default(),
        }
    }

    /// Queues webhook events through this emitter.
    pub fn with_webhooks(mut self, emitter: Option<herald::webhooks::Emitter>) -> Self {
        self.webhooks = emitter;
        self
    }

    pub fn from_sdk_config(sdk: &aws_config::SdkConfig, config: &Config) -> Self {
        let (store, _) = config.core.clients(sdk);
        let emitter =
            herald::webhooks::Emitter::for_queue(&store, sdk, config.webhook_queue_url.as_deref());
        Self::new(store).with_webhooks(emitter)
    }

    /// Whether the tenant has a CRM connection (read at most once a minute per instance).
    async fn has_crm(&self, tenant: TenantId) -> anyhow::Result<bool> {
        if let Some((at, yes)) = self.crm_tenants.lock().await.get(&tenant)
            && at.elapsed() < Duration::from_secs(60)
        {
            return Ok(*yes);
        }
        let yes = self.store.get_crm_connection(tenant).await?.is_some();
        let mut cache = self.crm_tenants.lock().await;
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(tenant, (Instant::now(), yes));
        Ok(yes)
    }

    /// The engagement a batch tells the CRM about (last message sent, opened, clicked), one
    /// outbox update per contact of a tenant with a CRM connection; how many contacts.
    async fn push_engagement(&self, events: &[Tracked]) -> anyhow::Result<usize> {
        use herald::domain::DeliveryEvent;
        let mut latest: HashMap<(TenantId, ContactId), herald::crm::Engagement> = HashMap::new();
        for e in events {
            let Some(contact) = e.contact else { continue };
            type Slot =
                fn(&mut herald::crm::Engagement) -> &mut Option<chrono::DateTime<chrono::Utc>>;
            let slot: Slot = match e.kind {
                DeliveryEvent::Sent => {
                    |g: &mut herald::crm::Engagement| &mut g.last_message_sent_at
                }
                DeliveryEvent::Opened => |g: &mut herald::crm::Engagement| &mut g.last_opened_at,
                DeliveryEvent::Clicked => |g: &mut herald::crm::Engagement| &mut g.last_clicked_at,
                _ => continue,
            };
            let entry = latest.entry((e.tenant, contact)).or_default();
            let field = slot(entry);
            if field.is_none_or(|t| t < e.at) {
                *field = Some(e.at);
            }
        }
        let now = chrono::Utc::now();
        let mut pushed = 0;
        for ((tenant, contact), engagement) in &latest {
            if self.has_crm(*tenant).await? {
                self.store
                    .touch_crm_outbox(*tenant, *contact, engagement, now)
                    .await?;
                pushed += 1;
            }
        }
        Ok(pushed)
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

    /// One try at a batch: consent changes, the events, the webhooks they queue.
    async fn record(
        &self,
        events: &[Tracked],
    ) -> Result<(herald::store::Ingested, usize), herald::store::StoreError> {
        let unsubscribed = self
            .record_consent(events)
            .await
            .map_err(|e| herald::store::StoreError::Unexpected(e.context("consent changes")))?;
        let report = self.store.ingest_events(events).await?;
        let queued = self
            .emit(events, unsubscribed)
            .await
            .map_err(|e| herald::store::StoreError::Unexpected(e.context("queuing webhooks")))?;
        Ok((report, queued))
    }

    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let parsed = parse_batch(&event);
        for (kind, n) in &parsed.unusable {
            let counter = match *kind {
                "malformed" => &self.counters.malformed,
                "untagged" => &self.counters.untagged,
                _ => &self.counters.unknown,
            };
            counter.fetch_add(*n, Ordering::Relaxed);
        }
        let events: Vec<Tracked> = parsed.events.iter().map(|(_, e)| e.clone()).collect();
        let mut response = SqsBatchResponse::default();
        // Complaints and hard bounces change the contact's consent (before the events are
        // recorded, and once per event however often it is delivered).
        let mut metrics: Vec<(&str, f64, &str)> = parsed
            .unusable
            .iter()
            .map(|(kind, n)| {
                let name = match *kind {
                    "malformed" => "EventsMalformed",
                    "untagged" => "EventsUntagged",
                    _ => "EventsUnknown",
                };
                (name, *n as f64, "Count")
            })
            .collect();
        // AWS failing for a few seconds is waited out here, so SES's Send events are recorded
        // within seconds of its return (the sender settles a crashed job's messages by them);
        // past the budget the batch fails and SQS delivers it again.
        let ingested = herald::aws::retry_within(
            RETRY_WITHIN,
            || self.record(&events),
            |e| {
                tracing::warn!(error = ?e, "recording a batch of events failed; trying again");
                metrics.push(("IngestRetries", 1.0, "Count"));
            },
        )
        .await;
        let ingested = ingested.map(|(report, queued)| {
            metrics.push(("WebhooksQueued", queued as f64, "Count"));
            report
        });
        match ingested {
            Ok(report) => {
                let c = &self.counters;
                c.recorded
                    .fetch_add(report.recorded as u64, Ordering::Relaxed);
                c.duplicates
                    .fetch_add(report.duplicates as u64, Ordering::Relaxed);
                c.suppressed
                    .fetch_add(report.suppressed as u64, Ordering::Relaxed);
                metrics.push(("EventsRecorded", report.recorded as f64, "Count"));
                metrics.push(("EventsDuplicate", report.duplicates as f64, "Count"));
                metrics.push(("AddressesSuppressed", report.suppressed as f64, "Count"));
                // Engagement for the CRM: best effort (a failure is logged; the next event
                // of the contact brings it up to date).
                match self.push_engagement(&events).await {
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
                    "events ingested"
                );
            }
            Err(e) => {
                tracing::error!(error = ?e, events = events.len(), "recording a batch of events failed; it will be delivered again");
                metrics.push(("IngestFailures", 1.0, "Count"));
                let ids: std::collections::BTreeSet<&String> =
                    parsed.events.iter().map(|(id, _)| id).collect();
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
