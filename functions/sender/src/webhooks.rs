//! Webhook delivery: the sender's second event source, the webhook queue.
//!
//! Each queue message is one attempt to deliver one message to one endpoint
//! ([`WebhookJob`]). An attempt reads the endpoint (cached for a few seconds per instance; its
//! secrets are decrypted with KMS once per instance and kept), checks its URL against the SSRF
//! policy, signs the payload with every secret in force (Standard Webhooks: `webhook-id`,
//! `webhook-timestamp`, `webhook-signature`) and POSTs it through the guarded client (no
//! redirects, private addresses refused at connect time, 10 s in all). Then one BatchWriteItem
//! records the attempt and the message's state.
//!
//! A 2xx is delivered. A 410 disables the endpoint (`answered 410 Gone`). Anything else is a
//! failure: the next attempt of the round is queued with its delay (SQS delays are at most 15
//! minutes: a longer wait comes back early and is queued again for what is left), until the
//! schedule ends and the message is `failed` (it can be replayed). An endpoint that has failed
//! every attempt since its first failure for `disable_after` (5 days) is disabled with that
//! reason. Only AWS failures fail the queue message (SQS delivers it again; the attempt is
//! made again under the same webhook id, which receivers use to recognise copies).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::{DateTime, Utc};
use herald::config::SealedCredentials;
use herald::ids::{TenantId, WebhookId};
use herald::secrets::Sealer;
use herald::store::Store;
use herald::webhooks::{
    Attempt, AttemptOutcome, Endpoint, HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP,
    LoopbackPolicy, MessageState, RefusedAddress, RetryPolicy, SECRET_FIELD, SECRET_OWNER,
    WebhookJob, WebhookMessage, WebhookSecret, check_endpoint_url, signature_header, sqs_delay,
};
use tokio::sync::Mutex;

/// How long an instance trusts its copy of an endpoint (a rotation's new secret, a disable by
/// the tenant, reach deliveries within this).
pub const ENDPOINT_TTL: Duration = Duration::from_secs(10);

/// A job due within this is delivered now rather than queued again.
const EARLY_SLACK_MS: i64 = 500;

#[derive(Debug, Default)]
pub struct Counters {
    pub delivered: AtomicU64,
    pub failed: AtomicU64,
    pub disabled: AtomicU64,
    pub malformed: AtomicU64,
}

type EndpointCache = HashMap<(TenantId, WebhookId), (Instant, Option<Endpoint>)>;

#[derive(Clone, Debug)]
pub struct Deliverer {
    store: Store,
    sealer: Sealer,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    http: reqwest::Client,
    policy: LoopbackPolicy,
    retry: RetryPolicy,
    endpoints: Arc<Mutex<EndpointCache>>,
    /// Decrypted secrets by ciphertext.
    secrets: Arc<Mutex<HashMap<String, WebhookSecret>>>,
    pub counters: Arc<Counters>,
}

/// What one attempt came to, before it is recorded.
struct Tried {
    outcome: AttemptOutcome,
    status: Option<u16>,
    error: Option<String>,
    duration_ms: u64,
}

impl Deliverer {
    pub fn new(
        store: Store,
        sealer: Sealer,
        sqs: aws_sdk_sqs::Client,
        queue_url: String,
        policy: LoopbackPolicy,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            store,
            sealer,
            sqs,
            queue_url,
            http: herald::webhooks::webhook_http_client(policy)?,
            policy,
            retry: RetryPolicy::default(),
            endpoints: Arc::default(),
            secrets: Arc::default(),
            counters: Arc::default(),
        })
    }

    /// Another SSRF policy (a test of the deployed policy on the local stack).
    pub fn with_policy(mut self, policy: LoopbackPolicy) -> anyhow::Result<Self> {
        self.http = herald::webhooks::webhook_http_client(policy)?;
        self.policy = policy;
        Ok(self)
    }

    /// Another retry schedule (tests compress it to seconds).
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn queue_url(&self) -> &str {
        &self.queue_url
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
        let job = match serde_json::from_str::<WebhookJob>(message.body.as_deref().unwrap_or("")) {
            Ok(job) => job,
            Err(e) => {
                // Nothing to retry: logged (by position, never the text) and dropped.
                self.counters.malformed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%message_id, line = e.line(), column = e.column(), "a webhook job does not parse; skipping it");
                herald::telemetry::emit(
                    &[("Function", "sender")],
                    &[("WebhookJobsMalformed", 1.0, "Count")],
                );
                return true;
            }
        };
        match self.run(&job, Utc::now()).await {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(%message_id, tenant_id = %job.tenant_id, endpoint_id = %job.endpoint_id, webhook_message_id = %job.message_id, error = ?e, "a webhook delivery could not be recorded; it will be delivered again");
                false
            }
        }
    }

    /// The endpoint, from this instance's copy when it is recent.
    async fn endpoint(&self, tenant: TenantId, id: WebhookId) -> anyhow::Result<Option<Endpoint>> {
        if let Some((at, e)) = self.endpoints.lock().await.get(&(tenant, id))
            && at.elapsed() < ENDPOINT_TTL
        {
            return Ok(e.clone());
        }
        let e = self.store.get_webhook_endpoint(tenant, id).await?;
        self.remember(tenant, id, e.clone()).await;
        Ok(e)
    }

    async fn remember(&self, tenant: TenantId, id: WebhookId, e: Option<Endpoint>) {
        let mut cache = self.endpoints.lock().await;
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert((tenant, id), (Instant::now(), e));
    }

    async fn secret(
        &self,
        tenant: TenantId,
        sealed: &SealedCredentials,
    ) -> anyhow::Result<WebhookSecret> {
        if let Some(s) = self.secrets.lock().await.get(&sealed.ciphertext) {
            return Ok(s.clone());
        }
        let fields = self.sealer.open(tenant, SECRET_OWNER, sealed).await?;
        let text = fields
            .get(SECRET_FIELD)
            .context("a sealed webhook secret without its field")?;
        let secret = WebhookSecret::parse(text).context("a stored webhook secret")?;
        let mut cache = self.secrets.lock().await;
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(sealed.ciphertext.clone(), secret.clone());
        Ok(secret)
    }

    /// Makes the attempt a job stands for, or queues it again when it is not due yet.
    pub async fn run(&self, job: &WebhookJob, now: DateTime<Utc>) -> anyhow::Result<()> {
        if let Some(at) = job.not_before
            && (at - now).num_milliseconds() > EARLY_SLACK_MS
        {
            return self.requeue(job, sqs_delay(at, now)).await;
        }
        let Some(endpoint) = self.endpoint(job.tenant_id, job.endpoint_id).await? else {
            tracing::info!(tenant_id = %job.tenant_id, endpoint_id = %job.endpoint_id, "a webhook for a deleted endpoint; dropped");
            return Ok(());
        };
        if !endpoint.enabled() {
            let mut record = self.message_record(job, &endpoint, now);
            record.state = MessageState::Failed;
            record.attempts = job.attempt.saturating_sub(1);
            record.last_error = Some("the endpoint is disabled".into());
            self.store
                .put_webhook_message(job.tenant_id, &record)
                .await?;
            return Ok(());
        }
        let tried = self.attempt(job, &endpoint, now).await?;
        self.settle(job, endpoint, tried, now).await
    }

    /// One POST, signed with every secret in force.
    async fn attempt(
        &self,
        job: &WebhookJob,
        endpoint: &Endpoint,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Tried> {
        if let Err(why) = check_endpoint_url(&endpoint.url, self.policy) {
            return Ok(Tried {
                outcome: AttemptOutcome::Refused,
                status: None,
                error: Some(why),
                duration_ms: 0,
            });
        }
        let mut secrets = Vec::new();
        for sealed in endpoint.signing_secrets(now) {
            secrets.push(self.secret(job.tenant_id, sealed).await?);
        }
        let refs: Vec<&WebhookSecret> = secrets.iter().collect();
        let id = job.message_id.to_string();
        let timestamp = now.timestamp();
        let signature = signature_header(&refs, &id, timestamp, job.payload.as_bytes());
        let started = Instant::now();
        let sent = self
            .http
            .post(&endpoint.url)
            .header("content-type", "application/json")
            .header(HEADER_ID, &id)
            .header(HEADER_TIMESTAMP, timestamp.to_string())
            .header(HEADER_SIGNATURE, signature)
            .body(job.payload.clone())
            .send()
            .await;
        let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        Ok(match sent {
            Ok(answer) => {
                let status = answer.status().as_u16();
                // The body is not read: it is not kept, and a slow one must not hold us.
                drop(answer);
                let outcome = match status {
                    200..=299 => AttemptOutcome::Delivered,
                    410 => AttemptOutcome::Gone,
                    _ => AttemptOutcome::Failed,
                };
                Tried {
                    outcome,
                    status: Some(status),
                    error: (outcome == AttemptOutcome::Failed)
                        .then(|| format!("answered {status}")),
                    duration_ms,
                }
            }
            Err(e) => {
                let refused =
                    std::iter::successors(Some(&e as &(dyn std::error::Error + 'static)), |e| {
                        e.source()
                    })
                    .any(|e| e.downcast_ref::<RefusedAddress>().is_some());
                let (outcome, error) = if refused {
                    (
                        AttemptOutcome::Refused,
                        "the host resolves only to private or loopback addresses".to_owned(),
                    )
                } else if e.is_timeout() {
                    (AttemptOutcome::Failed, "timed out after 10 s".to_owned())
                } else if e.is_connect() {
                    (AttemptOutcome::Failed, "could not connect".to_owned())
                } else {
                    (AttemptOutcome::Failed, "the request failed".to_owned())
                };
                Tried {
                    outcome,
                    status: None,
                    error: Some(error),
                    duration_ms,
                }
            }
        })
    }

    fn message_record(
        &self,
        job: &WebhookJob,
        endpoint: &Endpoint,
        now: DateTime<Utc>,
    ) -> WebhookMessage {
        WebhookMessage {
            id: job.message_id,
            endpoint_id: endpoint.id,
            tenant_id: job.tenant_id,
            event_type: job.event_type,
            payload: job.payload.clone(),
            state: MessageState::Pending,
            attempts: job.attempt,
            created_at: job.created_at,
            last_attempt_at: Some(now),
            next_attempt_at: None,
            last_status_code: None,
            last_error: None,
        }
    }

    /// Records the attempt, marks the endpoint's health and queues the next attempt.
    async fn settle(
        &self,
        job: &WebhookJob,
        endpoint: Endpoint,
        tried: Tried,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let tenant = job.tenant_id;
        let mut record = self.message_record(job, &endpoint, now);
        record.last_status_code = tried.status;
        record.last_error = tried.error.clone();
        let mut next_at = None;
        let metric;
        match tried.outcome {
            AttemptOutcome::Delivered => {
                record.state = MessageState::Delivered;
                self.counters.delivered.fetch_add(1, Ordering::Relaxed);
                metric = "WebhooksDelivered";
                if endpoint.failing_since.is_some() {
                    self.store
                        .clear_webhook_failure(tenant, endpoint.id)
                        .await?;
                    let mut healthy = endpoint.clone();
                    healthy.failing_since = None;
                    self.remember(tenant, endpoint.id, Some(healthy)).await;
                }
            }
            AttemptOutcome::Gone => {
                record.state = MessageState::Failed;
                metric = "WebhookEndpointsDisabled";
                self.disable(
                    tenant,
                    &endpoint,
                    &format!("answered 410 Gone at {}", now.to_rfc3339()),
                    now,
                )
                .await?;
            }
            AttemptOutcome::Failed | AttemptOutcome::Refused => {
                self.counters.failed.fetch_add(1, Ordering::Relaxed);
                metric = "WebhookAttemptsFailed";
                let current = match endpoint.failing_since {
                    Some(_) => Some(endpoint.clone()),
                    None => {
                        let e = self
                            .store
                            .note_webhook_failure(tenant, endpoint.id, now)
                            .await?;
                        self.remember(tenant, endpoint.id, e.clone()).await;
                        e
                    }
                };
                let since = current
                    .as_ref()
                    .and_then(|e| e.failing_since)
                    .unwrap_or(now);
                let limit = chrono::Duration::from_std(self.retry.disable_after)
                    .unwrap_or(chrono::Duration::MAX);
                if now - since >= limit {
                    record.state = MessageState::Failed;
                    let days = self.retry.disable_after.as_secs_f64() / 86_400.0;
                    self.disable(
                        tenant,
                        &endpoint,
                        &format!(
                            "every delivery failed since {} ({days:.1} days)",
                            since.to_rfc3339()
                        ),
                        now,
                    )
                    .await?;
                } else if let Some(wait) = self.retry.delay_after(job.round) {
                    let at =
                        now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
                    record.state = MessageState::Pending;
                    record.next_attempt_at = Some(at);
                    next_at = Some(at);
                } else {
                    record.state = MessageState::Failed;
                }
            }
        }
        let attempt = Attempt {
            message_id: job.message_id,
            endpoint_id: endpoint.id,
            event_type: job.event_type,
            attempt: job.attempt,
            at: now,
            outcome: tried.outcome,
            status_code: tried.status,
            duration_ms: tried.duration_ms,
            error: tried.error,
            next_attempt_at: next_at,
            replay: job.round == 1 && job.attempt > 1,
        };
        self.store
            .record_webhook_attempt(tenant, &record, &attempt)
            .await?;
        if let Some(at) = next_at {
            let next = WebhookJob {
                attempt: job.attempt + 1,
                round: job.round + 1,
                not_before: Some(at),
                ..job.clone()
            };
            self.requeue(&next, sqs_delay(at, now)).await?;
        }
        tracing::info!(
            tenant_id = %tenant,
            endpoint_id = %endpoint.id,
            webhook_message_id = %job.message_id,
            attempt = job.attempt,
            outcome = ?attempt.outcome,
            status = ?attempt.status_code,
            duration_ms = attempt.duration_ms,
            "webhook attempt"
        );
        herald::telemetry::emit(&[("Function", "sender")], &[(metric, 1.0, "Count")]);
        Ok(())
    }

    async fn disable(
        &self,
        tenant: TenantId,
        endpoint: &Endpoint,
        reason: &str,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let after = self
            .store
            .disable_webhook_endpoint(tenant, endpoint.id, reason, now)
            .await?;
        if after.is_some() {
            self.counters.disabled.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(tenant_id = %tenant, endpoint_id = %endpoint.id, reason, "webhook endpoint disabled");
        }
        let current = match after {
            Some(e) => Some(e),
            None => self.store.get_webhook_endpoint(tenant, endpoint.id).await?,
        };
        self.remember(tenant, endpoint.id, current).await;
        Ok(())
    }

    async fn requeue(&self, job: &WebhookJob, delay: i32) -> anyhow::Result<()> {
        herald::webhooks::emit::send_jobs(
            &self.sqs,
            &self.queue_url,
            std::slice::from_ref(job),
            delay,
        )
        .await
    }
}
