//! The `inbound` function: everything guests send back reaches it through the inbound queue —
//! SES receiving's notifications (the mail itself in S3), End User Messaging's two-way SMS,
//! and what the API's signed Twilio and WhatsApp webhooks queued — and lands in a
//! conversation.
//!
//! A record goes through its stages, one module each: [`read`] (the record into messages with
//! their tenant: the mail fetched from S3 and parsed, its reply address verified; the number an
//! SMS was sent to claimed by a tenant), [`resolve`] (the contact and event the message
//! belongs to), and [`apply`] (deduplicate, keywords, RSVP replies, automatic replies,
//! routing, the thread and its search words, webhooks; see `herald::conversations::plan`).
//! [`escalate`] keeps the clock of conversations the guest is waiting on: a one-time schedule
//! per conversation whose job comes back through the same queue.
//! What does not parse or names no tenant is logged with its SQS message id, counted and
//! acknowledged; when AWS fails the record is delivered again (a second delivery of a message
//! writes nothing).

pub mod apply;
pub mod escalate;
pub mod read;
pub mod resolve;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::{DateTime, TimeZone as _, Utc};
use herald::providers::ProviderClients;
use herald::rsvp::record::{JobQueue, Recorder};
use herald::store::Store;

#[derive(Debug, Clone)]
pub struct Config {
    pub core: herald::aws::CoreSettings,
    /// `HERALD_INBOUND_DOMAIN` (optional): the domain replies are addressed to (without it,
    /// inbound email names no message and is dropped).
    pub inbound_domain: Option<String>,
    /// `HERALD_TRANSACTIONAL_QUEUE_URL`: RSVP confirmations of answers by reply.
    pub transactional_queue_url: String,
    /// `HERALD_WEBHOOK_QUEUE_URL` (optional): `conversation.*` and `guest.rsvp_changed`.
    pub webhook_queue_url: Option<String>,
    /// `HERALD_SES_CONFIGURATION_SET` (optional): for emailed replies through SES.
    pub ses_configuration_set: Option<String>,
    /// `HERALD_INBOUND_QUEUE_URL`, `HERALD_INBOUND_QUEUE_ARN` and `HERALD_SCHEDULER_ROLE_ARN`
    /// (optional, together): this function's own queue, which escalation jobs come back
    /// through (delayed messages, or schedules taking the role) — no escalation without them.
    pub escalations: Option<(String, String, String)>,
}

impl Config {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let optional = |name: &str| lookup(name).filter(|v| !v.is_empty());
        Ok(Self {
            core: herald::aws::CoreSettings::from_lookup(&lookup)?,
            inbound_domain: optional("HERALD_INBOUND_DOMAIN").map(|d| d.to_ascii_lowercase()),
            transactional_queue_url: herald::aws::required(
                &lookup,
                "HERALD_TRANSACTIONAL_QUEUE_URL",
            )?,
            webhook_queue_url: optional("HERALD_WEBHOOK_QUEUE_URL"),
            ses_configuration_set: optional("HERALD_SES_CONFIGURATION_SET"),
            escalations: match (
                optional("HERALD_INBOUND_QUEUE_URL"),
                optional("HERALD_INBOUND_QUEUE_ARN"),
                optional("HERALD_SCHEDULER_ROLE_ARN"),
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

/// Counts since the cold start (also logged per record).
#[derive(Debug, Default)]
pub struct Counters {
    /// Messages added to a conversation.
    pub recorded: AtomicU64,
    /// Second deliveries of a message already in its thread.
    pub duplicates: AtomicU64,
    /// Records that do not parse.
    pub malformed: AtomicU64,
    /// Records Herald does not act on (SES test notifications, ...).
    pub ignored: AtomicU64,
    /// Messages no tenant receives: a number nobody claimed, a mail to an address that names
    /// no message.
    pub unclaimed: AtomicU64,
    /// Mail to a reply address whose signature does not verify.
    pub forged: AtomicU64,
    /// Mail SES found a virus in: recorded as dropped, never parsed.
    pub viruses: AtomicU64,
    /// Replies Herald sent (keyword answers and automatic replies).
    pub replies: AtomicU64,
    /// Conversations escalated.
    pub escalated: AtomicU64,
}

/// The function: its clients and settings.
#[derive(Clone)]
pub struct Inbound {
    pub store: Store,
    pub sealer: herald::secrets::Sealer,
    pub s3: herald::aws::LazyClient<aws_sdk_s3::Client>,
    pub links: herald::consent::LinkKeys,
    pub providers: ProviderClients,
    pub recorder: Recorder,
    pub inbound_domain: Option<String>,
    pub ses_configuration_set: Option<String>,
    /// Escalation jobs' ways back (none without a scheduler role).
    pub escalations: Option<escalate::Clock>,
    pub counters: Arc<Counters>,
}

impl Inbound {
    pub fn from_sdk_config(sdk: &aws_config::SdkConfig, config: &Config) -> anyhow::Result<Self> {
        let (store, sealer) = config.core.clients(sdk);
        let webhooks =
            herald::webhooks::Emitter::for_queue(&store, sdk, config.webhook_queue_url.as_deref());
        // One SQS client for the transactional queue and this function's own.
        let sqs = herald::aws::LazyClient::new(sdk, aws_sdk_sqs::Client::new);
        Ok(Self {
            links: herald::consent::LinkKeys::new(store.clone(), sealer.clone()),
            s3: herald::aws::LazyClient::new(sdk, herald::aws::s3_client),
            providers: ProviderClients::from_sdk_config(sdk)?,
            recorder: Recorder {
                store: store.clone(),
                transactional: JobQueue {
                    sqs: sqs.clone(),
                    url: config.transactional_queue_url.clone(),
                },
                webhooks,
            },
            store,
            sealer,
            inbound_domain: config.inbound_domain.clone(),
            ses_configuration_set: config.ses_configuration_set.clone(),
            escalations: config
                .escalations
                .clone()
                .map(|(queue_url, target_arn, role_arn)| escalate::Clock {
                    schedules: herald::schedules::OneTimeSchedules {
                        client: herald::aws::LazyClient::new(sdk, aws_sdk_scheduler::Client::new),
                        target_arn,
                        role_arn,
                    },
                    queue: JobQueue {
                        sqs: sqs.clone(),
                        url: queue_url,
                    },
                }),
            counters: Arc::default(),
        })
    }

    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        herald::batch::each_record(event, |record| {
            let this = self.clone();
            async move { this.handle_record(record).await }
        })
        .await
    }

    /// One record: true when it is done with (recorded, a duplicate, or unusable and counted).
    pub async fn handle_record(&self, record: SqsMessage) -> bool {
        let id = record.message_id.clone().unwrap_or_default();
        let received = sent_at(&record);
        let body = record.body.as_deref().unwrap_or_default();
        let notice = match herald::inbound::decode(body, received) {
            Ok(n) => n,
            Err(e) => {
                self.count_unusable(&e);
                tracing::warn!(sqs_message_id = %id, reason = %e, "inbound record skipped");
                return true;
            }
        };
        match &notice {
            herald::inbound::Notice::EraseMail(job) => return self.erase_mail(job).await,
            herald::inbound::Notice::Escalate(job) => return self.handle_escalate(job).await,
            herald::inbound::Notice::Reclock(job) => return self.handle_reclock(job).await,
            _ => {}
        }
        let located = match self.locate(notice).await {
            Ok(l) => l,
            Err(read::Skip::Retry(e)) => {
                tracing::error!(sqs_message_id = %id, error = ?e, "reading an inbound record failed; it will be delivered again");
                return false;
            }
            Err(skip) => {
                self.count_skip(&skip);
                tracing::warn!(sqs_message_id = %id, reason = %skip, "inbound record skipped");
                return true;
            }
        };
        let mut done = true;
        for message in located {
            if let Err(e) = self.apply(message).await {
                tracing::error!(sqs_message_id = %id, error = ?e, "recording an inbound message failed; it will be delivered again");
                done = false;
            }
        }
        done
    }

    /// Deletes an erased contact's raw mails (a missing object is already gone).
    async fn erase_mail(&self, job: &herald::inbound::notice::EraseMail) -> bool {
        for key in &job.keys {
            if let Err(e) = self
                .s3
                .delete_object()
                .bucket(&job.bucket)
                .key(key)
                .send()
                .await
            {
                tracing::error!(tenant_id = %job.herald_erase_mail, error = %e, "deleting an erased contact's mail failed; it will be tried again");
                return false;
            }
        }
        tracing::info!(tenant_id = %job.herald_erase_mail, objects = job.keys.len(), "an erased contact's mails deleted");
        true
    }

    fn count_unusable(&self, e: &herald::inbound::Unusable) {
        let counter = match e {
            herald::inbound::Unusable::Malformed(_) => &self.counters.malformed,
            herald::inbound::Unusable::Ignored(_) => &self.counters.ignored,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn count_skip(&self, skip: &read::Skip) {
        let counter = match skip {
            read::Skip::Unusable(e) => return self.count_unusable(e),
            read::Skip::Unclaimed(_) => &self.counters.unclaimed,
            read::Skip::Forged => &self.counters.forged,
            read::Skip::Retry(_) => return,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// When SQS received the record (its `SentTimestamp`), else now.
fn sent_at(record: &SqsMessage) -> DateTime<Utc> {
    record
        .attributes
        .get("SentTimestamp")
        .and_then(|v| v.parse::<i64>().ok())
        .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
        .unwrap_or_else(Utc::now)
}
