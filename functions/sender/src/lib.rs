//! The `sender` function: delivers messages from the sender queue.
//!
//! For each `deliver` job (one SQS message: a campaign batch or one transactional message):
//! 1. read the event's active snapshot (never the live layers), the recipients' contacts and
//!    the suppression entries of their addresses (BatchGetItem);
//! 2. decide per recipient: channel (preferred if allowed and reachable, else the first
//!    reachable allowed channel), suppression, consent; skipped recipients are recorded with
//!    their reason, never sent;
//! 3. claim the messages to send (a conditional write: absent or queued), so a batch delivered
//!    twice sends nothing twice;
//! 4. render and send each claimed message, failing over to the channel's next provider on a
//!    retryable failure (throttling, 5xx, timeout); a permanent failure is not retried;
//! 5. record the outcomes (BatchWriteItem). Messages whose every provider failed retryably go
//!    back to `queued` and the job is reported failed, so SQS delivers it again.
//!
//! A message found `sending` (another invocation holds it, or one crashed after its provider
//! call) is never sent again by this job: within [`SETTLE_SECONDS`] of its claim the job is
//! retried later; after that its outcome is unknown and it is recorded `failed` with that
//! reason rather than risk a second send.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::Utc;
use herald::config::Provider;
use herald::domain::Channel;
use herald::guests::Contact;
use herald::ids::{ContactId, ProviderId};
use herald::messages::{
    Decision, Delivery, Message, MessageStatus, SenderJob, choose_channel, decide, suppression_key,
};
use herald::providers::ProviderClients;
use herald::providers::send::{From, Outgoing, SendError, send};
use herald::render::CompiledTemplate;
use herald::secrets::Sealer;
use herald::store::{Claimed, Store};
use herald::wizard::Snapshot;

/// How long a claimed message may stay `sending` before its outcome counts as unknown.
pub const SETTLE_SECONDS: i64 = 300;

#[derive(Debug, Clone)]
pub struct Config {
    pub core: herald::aws::CoreSettings,
}

impl Config {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        Ok(Self {
            core: herald::aws::CoreSettings::from_lookup(&lookup)?,
        })
    }

    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }
}

/// Counts since the cold start.
#[derive(Debug, Default)]
pub struct Counters {
    pub malformed: AtomicU64,
    pub sent: AtomicU64,
    pub provider_calls: AtomicU64,
}

#[derive(Clone, Debug)]
pub struct Sender {
    store: Store,
    sealer: Sealer,
    providers: ProviderClients,
    pub counters: Arc<Counters>,
}

/// What a job came to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobOutcome {
    pub tally: BTreeMap<&'static str, u64>,
    /// Deliver the job again later (messages in flight elsewhere, or every provider failed).
    pub retry: bool,
}

impl Sender {
    pub fn new(store: Store, sealer: Sealer, providers: ProviderClients) -> Self {
        Self {
            store,
            sealer,
            providers,
            counters: Arc::default(),
        }
    }

    pub fn from_sdk_config(sdk: &aws_config::SdkConfig, config: &Config) -> anyhow::Result<Self> {
        let (store, sealer) = config.core.clients(sdk);
        Ok(Self::new(
            store,
            sealer,
            ProviderClients::from_sdk_config(sdk)?,
        ))
    }

    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        herald::batch::each_record(event, |message| {
            let this = self.clone();
            async move { this.handle_message(message).await }
        })
        .await
    }

    async fn handle_message(&self, message: SqsMessage) -> bool {
        let message_id = message.message_id.clone().unwrap_or_default();
        let Ok(job) =
            serde_json::from_str::<SenderJob>(message.body.as_deref().unwrap_or_default())
        else {
            self.counters.malformed.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%message_id, "skipping a sender message that does not parse");
            return true;
        };
        match self.run(&job).await {
            Ok(outcome) => {
                tracing::info!(%message_id, tally = ?outcome.tally, retry = outcome.retry, "sender job done");
                !outcome.retry
            }
            Err(e) => {
                tracing::error!(%message_id, error = ?e, "sender job failed; it will be delivered again");
                false
            }
        }
    }

    /// Runs one job. `Err` only when AWS (DynamoDB, KMS) failed: the job is retried whole, and
    /// its claims keep anything from being sent twice.
    pub async fn run(&self, job: &SenderJob) -> anyhow::Result<JobOutcome> {
        match job {
            SenderJob::Deliver {
                tenant_id,
                event_id,
                campaign_id,
                category,
                channels,
                deliveries,
            } => {
                let snapshot = self.store.get_snapshot(*tenant_id, *event_id, None).await?;
                let ctx = Job {
                    tenant: *tenant_id,
                    event: *event_id,
                    campaign: *campaign_id,
                    category: *category,
                    channels,
                };
                self.deliver(&ctx, snapshot.as_ref(), deliveries).await
            }
        }
    }

    async fn deliver(
        &self,
        job: &Job<'_>,
        snapshot: Option<&Snapshot>,
        deliveries: &[Delivery],
    ) -> anyhow::Result<JobOutcome> {
        let now = Utc::now();
        let base = |d: &Delivery, status: MessageStatus| Message {
            id: d.message_id,
            tenant_id: job.tenant,
            event_id: job.event,
            campaign_id: job.campaign,
            guest_id: d.recipient.guest_id,
            category: job.category,
            status,
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
        };
        // The checks before any send.
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
        let mut records: Vec<Message> = Vec::with_capacity(deliveries.len());
        for d in deliveries {
            let contact: Option<&Contact> = d.recipient.contact_id.and_then(|c| contacts.get(&c));
            let is_suppressed = |channel: Channel, address: &str| {
                suppressed.contains(&suppression_key(channel, address))
            };
            let mut record = base(d, MessageStatus::Queued);
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
                }
            }
            records.push(record);
        }
        // Claim everything (skips and failures are final records, claimed the same way, so a
        // redelivery never overwrites a message that was sent).
        let mut outcome = JobOutcome::default();
        let claimed = self.store.claim_messages(job.tenant, &records).await?;
        let mut held: Vec<(&Delivery, Message)> = Vec::new();
        let mut settled: Vec<Message> = Vec::new();
        for (d, record) in deliveries.iter().zip(records) {
            let blocker = match &claimed {
                Claimed::All => None,
                Claimed::Some(blocked) => blocked.get(&record.id),
            };
            match blocker {
                None => {
                    if record.status == MessageStatus::Sending {
                        held.push((d, record));
                    } else {
                        *outcome.tally.entry(record.status.as_str()).or_default() += 1;
                    }
                }
                Some(Some(stored)) if stored.status.is_final() => {
                    *outcome.tally.entry("already_done").or_default() += 1;
                }
                Some(Some(stored)) if stored.status == MessageStatus::Sending => {
                    let age = stored
                        .claimed_at
                        .map(|at| (now - at).num_seconds())
                        .unwrap_or(i64::MAX);
                    if age < SETTLE_SECONDS {
                        outcome.retry = true;
                        *outcome.tally.entry("in_flight").or_default() += 1;
                    } else {
                        let mut failed = stored.clone();
                        failed.status = MessageStatus::Failed;
                        failed.updated_at = now;
                        failed.last_error = Some(
                            "the outcome of the provider call is unknown (the sender stopped mid-send); not sent again to avoid a duplicate".to_owned(),
                        );
                        settled.push(failed);
                        *outcome.tally.entry("unknown").or_default() += 1;
                    }
                }
                Some(_) => {
                    outcome.retry = true;
                    *outcome.tally.entry("contended").or_default() += 1;
                }
            }
        }
        if let Some(snapshot) = snapshot {
            let finished = self.send_all(job, snapshot, held, &mut outcome).await?;
            settled.extend(finished);
        }
        self.store.record_messages(job.tenant, &settled).await?;
        Ok(outcome)
    }

    /// Renders and sends the held messages; returns their final (or re-queued) records.
    async fn send_all(
        &self,
        job: &Job<'_>,
        snapshot: &Snapshot,
        held: Vec<(&Delivery, Message)>,
        outcome: &mut JobOutcome,
    ) -> anyhow::Result<Vec<Message>> {
        let content = &snapshot.content;
        let mut compiled: HashMap<Channel, Option<CompiledTemplate<'_>>> = HashMap::new();
        let mut credentials: HashMap<ProviderId, BTreeMap<String, String>> = HashMap::new();
        let mut out = Vec::with_capacity(held.len());
        for (delivery, mut record) in held {
            let channel = record.channel.unwrap_or(Channel::Email);
            record.updated_at = Utc::now();
            let template = compiled.entry(channel).or_insert_with(|| {
                content
                    .config
                    .template(job.category, channel)
                    .and_then(|t| CompiledTemplate::new(channel, &t.template.content).ok())
            });
            let Some(template) = template else {
                record.status = MessageStatus::Failed;
                record.last_error = Some(format!(
                    "the snapshot has no usable {channel} template for {}",
                    job.category
                ));
                out.push(record);
                continue;
            };
            let rendered = match template.render(
                &content.render_context(Some(delivery.recipient.vars.clone())),
                &content.config.compliance,
            ) {
                Ok(r) => r,
                Err(issues) => {
                    record.status = MessageStatus::Failed;
                    record.last_error = Some(format!(
                        "rendering failed: {}",
                        issues
                            .iter()
                            .map(|i| format!("{} line {}: {}", i.field, i.line, i.message))
                            .collect::<Vec<_>>()
                            .join("; ")
                    ));
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
            let outgoing = Outgoing {
                to,
                from: content
                    .email_sender
                    .as_ref()
                    .filter(|_| channel == Channel::Email)
                    .map(|s| From {
                        address: s.from_address.as_str().to_owned(),
                        name: s.from_name.clone(),
                    }),
                message: &rendered,
                tags: tags(job, &record),
                headers: if channel == Channel::Email {
                    let links = content.render_context(None).links;
                    vec![
                        (
                            "List-Unsubscribe".to_owned(),
                            format!("<{}>", links.unsubscribe),
                        ),
                        (
                            "List-Unsubscribe-Post".to_owned(),
                            "List-Unsubscribe=One-Click".to_owned(),
                        ),
                    ]
                } else {
                    Vec::new()
                },
            };
            record.status = MessageStatus::Queued;
            record.last_error = Some(format!("no active {channel} provider"));
            for provider in providers {
                if let std::collections::hash_map::Entry::Vacant(slot) =
                    credentials.entry(provider.id)
                {
                    slot.insert(
                        self.sealer
                            .open(job.tenant, &provider.id.to_string(), &provider.credentials)
                            .await?,
                    );
                }
                record.attempts += 1;
                self.counters.provider_calls.fetch_add(1, Ordering::Relaxed);
                let result = send(
                    &self.providers,
                    provider,
                    &credentials[&provider.id],
                    &outgoing,
                )
                .await;
                record.provider_id = Some(provider.id);
                match result {
                    Ok(id) => {
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
                    Err(SendError::Retryable(reason)) => {
                        tracing::warn!(provider_id = %provider.id, message_id = %record.id, "retryable provider failure; trying the next provider");
                        record.last_error = Some(reason);
                    }
                }
            }
            if providers.is_empty() {
                record.status = MessageStatus::Failed;
            }
            if record.status == MessageStatus::Queued {
                outcome.retry = true;
            }
            *outcome.tally.entry(record.status.as_str()).or_default() += 1;
            out.push(record);
        }
        Ok(out)
    }
}

/// The fixed parts of a deliver job.
struct Job<'a> {
    tenant: herald::ids::TenantId,
    event: herald::ids::EventId,
    campaign: Option<herald::ids::CampaignId>,
    category: herald::domain::TemplateCategory,
    channels: &'a [Channel],
}

/// SES message tags: tracking needs no lookup to know whose message an event is about.
fn tags(job: &Job<'_>, record: &Message) -> Vec<(String, String)> {
    let mut tags = vec![
        ("herald_tenant".to_owned(), job.tenant.to_string()),
        ("herald_event".to_owned(), job.event.to_string()),
        ("herald_message".to_owned(), record.id.to_string()),
    ];
    if let Some(c) = job.campaign {
        tags.push(("herald_campaign".to_owned(), c.to_string()));
    }
    tags
}
