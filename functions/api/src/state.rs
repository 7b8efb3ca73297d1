//! What every handler shares: the store, the KMS sealer, provider clients and settings.

use std::sync::Arc;

use anyhow::Context as _;
use herald::aws::LazyClient;
use herald::providers::{ProviderClients, UrlPolicy};
use herald::secrets::Sealer;
use herald::store::Store;

/// Settings read from the environment once per cold start.
#[derive(Debug, Clone)]
pub struct Config {
    /// `HERALD_TABLE`: the DynamoDB table.
    pub table: String,
    /// `HERALD_KMS_KEY_ID`: the key id, ARN or alias that seals secrets.
    pub kms_key_id: String,
    /// `HERALD_ALLOW_LOOPBACK_PROVIDER_URLS=1`: let provider base URLs be `http://127.0.0.1`
    /// (the local stack and tests; never set in a deployment).
    pub url_policy: UrlPolicy,
    /// `HERALD_WIZARD_QUEUE_URL`: where wizard completions are queued for the `wizard` function.
    pub wizard_queue_url: String,
    /// `HERALD_SENDER_QUEUE_URL`: where campaign jobs are queued for the `sender` function.
    pub sender_queue_url: String,
    /// `HERALD_TRANSACTIONAL_QUEUE_URL`: where transactional messages are queued for the
    /// `sender` function, in a lane of their own (never behind a campaign);
    /// `HERALD_TRANSACTIONAL_DLQ_URL`: its dead-letter queue.
    pub transactional_queue_url: String,
    pub transactional_dlq_url: String,
    /// `HERALD_WIZARD_DLQ_URL` and `HERALD_SENDER_DLQ_URL`: the functions' dead-letter queues,
    /// inspected and redriven over the admin API.
    pub wizard_dlq_url: String,
    pub sender_dlq_url: String,
    /// `HERALD_TRACKER_QUEUE_URL` and `HERALD_TRACKER_DLQ_URL`: the tracker's queue and its
    /// dead-letter queue (inspected and redriven over the admin API).
    pub tracker_queue_url: String,
    pub tracker_dlq_url: String,
    /// `HERALD_CRM_SYNC_QUEUE_URL`: where CRM sync runs started over the API are queued;
    /// `HERALD_CRM_SYNC_DLQ_URL`: its dead-letter queue.
    pub crm_sync_queue_url: String,
    pub crm_sync_dlq_url: String,
    /// `HERALD_WEBHOOK_QUEUE_URL`: where webhook deliveries (events the API sees, replays)
    /// are queued; `HERALD_WEBHOOK_DLQ_URL`: its dead-letter queue.
    pub webhook_queue_url: String,
    pub webhook_dlq_url: String,
    /// `HERALD_INBOUND_QUEUE_URL`: where verified Twilio and WhatsApp inbound webhooks are
    /// queued for the `inbound` function.
    pub inbound_queue_url: String,
    /// `HERALD_INBOUND_BUCKET` (optional): where SES stores inbound mail.
    pub inbound_bucket: Option<String>,
    /// `HERALD_ALLOW_LOOPBACK_WEBHOOK_URLS=1`: let webhook endpoints be on 127.0.0.1 (the
    /// local stack only; never set in a deployment).
    pub webhook_policy: herald::webhooks::LoopbackPolicy,
    /// `HERALD_SENDER_QUEUE_ARN` and `HERALD_SCHEDULER_ROLE_ARN`: the target and role of the
    /// one-time schedules of scheduled campaigns.
    pub sender_queue_arn: String,
    pub scheduler_role_arn: String,
    /// `HERALD_PUBLIC_URL` (optional): the API's public URL, which Twilio signs its status
    /// callbacks with; without it, the request's own host and scheme.
    pub public_url: Option<String>,
    /// `HERALD_API_RATE_PER_KEY`, `HERALD_API_BURST_PER_KEY`, `HERALD_API_RATE_PER_TENANT`,
    /// `HERALD_API_BURST_PER_TENANT` (optional): requests per second and burst of each key and
    /// of each tenant's keys together (defaults 25/50 and 100/200); a rate of 0 turns the
    /// limits off.
    pub limits: Option<herald::store::ApiLimits>,
}

impl Config {
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup` (the environment, or a function's declared variables).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let var = |name: &str| lookup(name).with_context(|| format!("{name} is not set"));
        Ok(Self {
            table: var("HERALD_TABLE")?,
            kms_key_id: var("HERALD_KMS_KEY_ID")?,
            wizard_queue_url: var("HERALD_WIZARD_QUEUE_URL")?,
            sender_queue_url: var("HERALD_SENDER_QUEUE_URL")?,
            transactional_queue_url: var("HERALD_TRANSACTIONAL_QUEUE_URL")?,
            transactional_dlq_url: var("HERALD_TRANSACTIONAL_DLQ_URL")?,
            wizard_dlq_url: var("HERALD_WIZARD_DLQ_URL")?,
            sender_dlq_url: var("HERALD_SENDER_DLQ_URL")?,
            tracker_queue_url: var("HERALD_TRACKER_QUEUE_URL")?,
            tracker_dlq_url: var("HERALD_TRACKER_DLQ_URL")?,
            crm_sync_queue_url: var("HERALD_CRM_SYNC_QUEUE_URL")?,
            crm_sync_dlq_url: var("HERALD_CRM_SYNC_DLQ_URL")?,
            webhook_queue_url: var("HERALD_WEBHOOK_QUEUE_URL")?,
            webhook_dlq_url: var("HERALD_WEBHOOK_DLQ_URL")?,
            inbound_queue_url: var("HERALD_INBOUND_QUEUE_URL")?,
            inbound_bucket: lookup("HERALD_INBOUND_BUCKET").filter(|v| !v.is_empty()),
            webhook_policy: herald::webhooks::LoopbackPolicy::from_setting(
                lookup("HERALD_ALLOW_LOOPBACK_WEBHOOK_URLS").as_deref(),
            ),
            sender_queue_arn: var("HERALD_SENDER_QUEUE_ARN")?,
            scheduler_role_arn: var("HERALD_SCHEDULER_ROLE_ARN")?,
            public_url: lookup("HERALD_PUBLIC_URL").filter(|v| !v.is_empty()),
            limits: limits_from(&lookup)?,
            url_policy: match lookup("HERALD_ALLOW_LOOPBACK_PROVIDER_URLS").as_deref() {
                Some("1" | "true") => UrlPolicy::AllowLoopbackHttp,
                _ => UrlPolicy::HttpsOnly,
            },
        })
    }
}

/// The API's rate limits from the environment (see [`Config::limits`]).
fn limits_from(
    lookup: &impl Fn(&str) -> Option<String>,
) -> anyhow::Result<Option<herald::store::ApiLimits>> {
    let defaults = herald::store::ApiLimits::default();
    let number = |name: &str, default: f64| -> anyhow::Result<f64> {
        match lookup(name).filter(|v| !v.is_empty()) {
            None => Ok(default),
            Some(v) => v
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite() && *n >= 0.0)
                .with_context(|| format!("{name} must be a number ≥ 0")),
        }
    };
    let key_rate = number("HERALD_API_RATE_PER_KEY", defaults.per_key.per_second)?;
    let tenant_rate = number("HERALD_API_RATE_PER_TENANT", defaults.per_tenant.per_second)?;
    if key_rate == 0.0 || tenant_rate == 0.0 {
        return Ok(None);
    }
    let burst = |name: &str, default: u32| -> anyhow::Result<u32> {
        Ok(number(name, f64::from(default))?.clamp(1.0, 1e6) as u32)
    };
    Ok(Some(herald::store::ApiLimits {
        per_key: herald::store::Bucket {
            per_second: key_rate,
            burst: burst("HERALD_API_BURST_PER_KEY", defaults.per_key.burst)?,
        },
        per_tenant: herald::store::Bucket {
            per_second: tenant_rate,
            burst: burst("HERALD_API_BURST_PER_TENANT", defaults.per_tenant.burst)?,
        },
    }))
}

#[derive(Clone, Debug)]
pub struct AppState(Arc<Inner>);

/// The queues the API feeds.
#[derive(Debug, Clone)]
pub struct Queues {
    pub sqs: herald::aws::LazyClient<aws_sdk_sqs::Client>,
    pub wizard: String,
    pub sender: String,
    pub wizard_dlq: String,
    pub sender_dlq: String,
    /// Transactional messages: the sender's second event source and its dead-letter queue.
    pub transactional: String,
    pub transactional_dlq: String,
    pub tracker: String,
    pub tracker_dlq: String,
    pub crm_sync: String,
    pub crm_sync_dlq: String,
    pub webhooks: String,
    pub webhooks_dlq: String,
    /// What guests send back through HTTP providers, for the `inbound` function.
    pub inbound: String,
    /// The bucket SES stores inbound mail in (`HERALD_INBOUND_BUCKET`): the inbound function
    /// deletes an erased contact's raw mails from it, and keeps mails' attachments there.
    pub inbound_bucket: Option<String>,
    /// Signs the download URLs of attachments (no request to S3 is made).
    pub s3: LazyClient<aws_sdk_s3::Client>,
}

impl Queues {
    /// Queues one job for the sender function.
    pub async fn to_sender(&self, body: String) -> Result<(), crate::problem::ApiError> {
        self.sqs
            .send_message()
            .queue_url(&self.sender)
            .message_body(body)
            .send()
            .await
            .map_err(|e| {
                crate::problem::ApiError::Upstream(
                    anyhow::Error::new(e).context("SQS SendMessage sender"),
                )
            })?;
        Ok(())
    }

    /// Queues one transactional job (a `SenderJob::Deliver` without a campaign: one message
    /// to one person, such as an RSVP confirmation) on the transactional queue, which no
    /// campaign's jobs share; the sender sends it in the transactional lane of its providers'
    /// send rates (see `herald_sender::lanes`).
    pub async fn to_transactional(
        &self,
        job: &herald::messages::SenderJob,
    ) -> Result<(), crate::problem::ApiError> {
        let body = serde_json::to_string(job).map_err(anyhow::Error::new)?;
        self.to_transactional_body(body).await
    }

    /// [`Queues::to_transactional`] with the job already serialised (a message's
    /// `pending_job`).
    pub async fn to_transactional_body(
        &self,
        body: String,
    ) -> Result<(), crate::problem::ApiError> {
        self.sqs
            .send_message()
            .queue_url(&self.transactional)
            .message_body(body)
            .send()
            .await
            .map_err(|e| {
                crate::problem::ApiError::Upstream(
                    anyhow::Error::new(e).context("SQS SendMessage transactional"),
                )
            })?;
        Ok(())
    }
}

/// EventBridge Scheduler, for scheduled campaigns.
#[derive(Debug, Clone)]
pub struct Schedules {
    pub client: herald::aws::LazyClient<aws_sdk_scheduler::Client>,
    pub sender_queue_arn: String,
    pub role_arn: String,
}

#[derive(Debug)]
pub struct Inner {
    pub store: Store,
    pub sealer: Sealer,
    pub providers: ProviderClients,
    pub url_policy: UrlPolicy,
    pub queues: Queues,
    pub schedules: Schedules,
    pub public_url: Option<String>,
    /// Each tenant's preference-link key.
    pub links: herald::consent::LinkKeys,
    /// Queues webhook deliveries of the events the API sees (unsubscribes, status callbacks).
    pub webhooks: herald::webhooks::Emitter,
    /// Whether webhook endpoints may be on this machine (the local stack).
    pub webhook_policy: herald::webhooks::LoopbackPolicy,
    /// Rate limits (none: off), and this instance's last view of each bucket item.
    pub limits: Option<herald::store::ApiLimits>,
    pub rate_seen: std::sync::Mutex<
        std::collections::HashMap<
            (Option<herald::ids::TenantId>, herald::ids::ApiKeyId),
            herald::store::Seen,
        >,
    >,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn new(
        store: Store,
        sealer: Sealer,
        providers: ProviderClients,
        url_policy: UrlPolicy,
        queues: Queues,
        schedules: Schedules,
        public_url: Option<String>,
    ) -> Self {
        let links = herald::consent::LinkKeys::new(store.clone(), sealer.clone());
        let webhooks = herald::webhooks::Emitter::new(
            store.clone(),
            queues.sqs.clone(),
            Some(queues.webhooks.clone()),
        );
        Self(Arc::new(Inner {
            webhooks,
            webhook_policy: herald::webhooks::LoopbackPolicy::Refuse,
            limits: Some(herald::store::ApiLimits::default()),
            rate_seen: std::sync::Mutex::default(),
            links,
            store,
            sealer,
            providers,
            url_policy,
            queues,
            schedules,
            public_url,
        }))
    }

    /// Queues the webhooks of a change already made: a failure is logged (the change stands;
    /// this event's deliveries are lost), never the request's failure.
    pub async fn emit_after(&self, events: &[herald::webhooks::WebhookEvent]) {
        if let Err(e) = self.webhooks.emit(events).await {
            tracing::error!(error = ?e, events = events.len(), "queuing webhooks failed");
        }
    }

    /// Herald's public base URL (`HERALD_PUBLIC_URL`) or, without one, the request's own
    /// scheme and host.
    pub fn public_base(&self, headers: &axum::http::HeaderMap) -> String {
        if let Some(base) = &self.public_url {
            return base.trim_end_matches('/').to_owned();
        }
        let host = headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        let scheme = headers
            .get("x-forwarded-proto")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("https");
        format!("{scheme}://{host}")
    }

    /// One-time schedules putting jobs on the sender queue (scheduled campaigns, journey steps).
    pub fn one_time_schedules(&self) -> herald::schedules::OneTimeSchedules {
        herald::schedules::OneTimeSchedules {
            client: self.schedules.client.clone(),
            target_arn: self.schedules.sender_queue_arn.clone(),
            role_arn: self.schedules.role_arn.clone(),
        }
    }

    /// Brings events' journey occurrences in line with their changes.
    pub fn journeys(&self) -> herald::journeys::Syncer {
        herald::journeys::Syncer {
            store: self.store.clone(),
            schedules: self.one_time_schedules(),
            sqs: self.queues.sqs.clone(),
            sender_queue_url: self.queues.sender.clone(),
        }
    }

    /// The same state with other rate limits (none: off).
    pub fn with_limits(&self, limits: Option<herald::store::ApiLimits>) -> Self {
        self.rebuild(limits, self.webhook_policy)
    }

    /// The same state with another webhook endpoint policy.
    pub fn with_webhook_policy(&self, policy: herald::webhooks::LoopbackPolicy) -> Self {
        self.rebuild(self.limits, policy)
    }

    fn rebuild(
        &self,
        limits: Option<herald::store::ApiLimits>,
        webhook_policy: herald::webhooks::LoopbackPolicy,
    ) -> Self {
        Self(Arc::new(Inner {
            webhooks: self.webhooks.clone(),
            webhook_policy,
            store: self.store.clone(),
            sealer: self.sealer.clone(),
            providers: self.providers.clone(),
            url_policy: self.url_policy,
            queues: self.queues.clone(),
            schedules: self.schedules.clone(),
            public_url: self.public_url.clone(),
            links: self.links.clone(),
            limits,
            rate_seen: std::sync::Mutex::default(),
        }))
    }

    /// Takes a request's tokens from its key's and tenant's buckets; 429 when over either.
    pub async fn admit(&self, key: &herald::store::ApiKey) -> Result<(), crate::problem::ApiError> {
        let Some(limits) = self.limits else {
            return Ok(());
        };
        let id = (key.tenant_id, key.id);
        let mut seen = self
            .rate_seen
            .lock()
            .map(|m| m.get(&id).copied().unwrap_or_default())
            .unwrap_or_default();
        let now_ms = chrono::Utc::now().timestamp_millis();
        let admission = self
            .store
            .take_api_token(key.tenant_id, key.id, &limits, now_ms, &mut seen)
            .await?;
        if let Ok(mut m) = self.rate_seen.lock() {
            if m.len() > 10_000 {
                m.clear();
            }
            m.insert(id, seen);
        }
        match admission {
            herald::store::Admission::Allowed => Ok(()),
            herald::store::Admission::Limited {
                bucket,
                retry_after_ms,
            } => {
                tracing::info!(key_id = %key.id, bucket, "rate limited");
                Err(crate::problem::ApiError::TooManyRequests {
                    detail: format!("over the {bucket}'s rate limit; retry later"),
                    retry_after_secs: u64::try_from(retry_after_ms.max(0) / 1000 + 1).unwrap_or(1),
                })
            }
        }
    }

    /// Builds every client once from the shared SDK configuration.
    /// DynamoDB is built now: every request reads its API key. The other clients are built on
    /// first use ([`LazyClient`]): most requests need none of them.
    pub fn from_sdk_config(sdk: &aws_config::SdkConfig, config: &Config) -> anyhow::Result<Self> {
        Ok(Self::new(
            Store::new(aws_sdk_dynamodb::Client::new(sdk), &config.table),
            Sealer::new(
                LazyClient::new(sdk, aws_sdk_kms::Client::new),
                &config.kms_key_id,
            ),
            ProviderClients::from_sdk_config(sdk)?,
            config.url_policy,
            Queues {
                sqs: LazyClient::new(sdk, aws_sdk_sqs::Client::new),
                wizard: config.wizard_queue_url.clone(),
                sender: config.sender_queue_url.clone(),
                wizard_dlq: config.wizard_dlq_url.clone(),
                sender_dlq: config.sender_dlq_url.clone(),
                transactional: config.transactional_queue_url.clone(),
                transactional_dlq: config.transactional_dlq_url.clone(),
                tracker: config.tracker_queue_url.clone(),
                tracker_dlq: config.tracker_dlq_url.clone(),
                crm_sync: config.crm_sync_queue_url.clone(),
                crm_sync_dlq: config.crm_sync_dlq_url.clone(),
                webhooks: config.webhook_queue_url.clone(),
                webhooks_dlq: config.webhook_dlq_url.clone(),
                inbound: config.inbound_queue_url.clone(),
                inbound_bucket: config.inbound_bucket.clone(),
                s3: LazyClient::new(sdk, herald::aws::s3_client),
            },
            Schedules {
                client: LazyClient::new(sdk, aws_sdk_scheduler::Client::new),
                sender_queue_arn: config.sender_queue_arn.clone(),
                role_arn: config.scheduler_role_arn.clone(),
            },
            config.public_url.clone(),
        )
        .rebuild(config.limits, config.webhook_policy))
    }
}
