//! Queuing webhook deliveries where events happen (the tracker, the sender, the API, the CRM
//! sync): one webhook queue message per event and endpoint that wants it, sent ten to a
//! SendMessageBatch. A tenant's endpoints are read once per [`ENDPOINTS_TTL`] per instance,
//! so a tenant without endpoints costs one Query per instance per period, not one per event.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::Utc;
use tokio::sync::Mutex;

use super::model::{Endpoint, WebhookEvent, WebhookJob};
use crate::aws::sqs_batch::Outgoing;
use crate::ids::TenantId;
use crate::store::Store;

/// How long an instance trusts its copy of a tenant's endpoints: a new endpoint, or a change
/// to which events one wants, reaches every function within this.
pub const ENDPOINTS_TTL: Duration = Duration::from_secs(10);

type Cached = HashMap<TenantId, (Instant, Arc<Vec<Endpoint>>)>;

/// Queues deliveries. Without a queue (a function deployed without webhooks) it does nothing.
#[derive(Clone, Debug)]
pub struct Emitter {
    store: Store,
    sqs: crate::aws::LazyClient<aws_sdk_sqs::Client>,
    queue_url: Option<String>,
    endpoints: Arc<Mutex<Cached>>,
}

impl Emitter {
    pub fn new(
        store: Store,
        sqs: impl Into<crate::aws::LazyClient<aws_sdk_sqs::Client>>,
        queue_url: Option<String>,
    ) -> Self {
        Self {
            store,
            sqs: sqs.into(),
            queue_url: queue_url.filter(|u| !u.is_empty()),
            endpoints: Arc::default(),
        }
    }

    /// The emitter of a function whose configuration names the webhook queue (`None` without
    /// one: webhooks are then not queued by that function).
    pub fn for_queue(
        store: &Store,
        sdk: &aws_config::SdkConfig,
        url: Option<&str>,
    ) -> Option<Self> {
        url.map(|u| {
            Self::new(
                store.clone(),
                aws_sdk_sqs::Client::new(sdk),
                Some(u.to_owned()),
            )
        })
    }

    /// The tenant's endpoints (every one, enabled or not), at most [`ENDPOINTS_TTL`] old.
    async fn endpoints(&self, tenant: TenantId) -> anyhow::Result<Arc<Vec<Endpoint>>> {
        if let Some((at, list)) = self.endpoints.lock().await.get(&tenant)
            && at.elapsed() < ENDPOINTS_TTL
        {
            return Ok(list.clone());
        }
        let list = Arc::new(self.store.webhook_endpoints(tenant).await?);
        let mut cache = self.endpoints.lock().await;
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(tenant, (Instant::now(), list.clone()));
        Ok(list)
    }

    /// The deliveries these events make: one per event and enabled endpoint that wants it.
    pub async fn jobs(&self, events: &[WebhookEvent]) -> anyhow::Result<Vec<WebhookJob>> {
        let mut out = Vec::new();
        let now = Utc::now();
        for event in events {
            let endpoints = self.endpoints(event.tenant).await?;
            let wanting: Vec<&Endpoint> =
                endpoints.iter().filter(|e| e.wants(event.kind)).collect();
            if wanting.is_empty() {
                continue;
            }
            let payload = event.payload();
            for endpoint in wanting {
                out.push(WebhookJob {
                    tenant_id: event.tenant,
                    endpoint_id: endpoint.id,
                    message_id: event.message_id(endpoint.id),
                    event_type: event.kind,
                    payload: payload.clone(),
                    attempt: 1,
                    round: 1,
                    not_before: None,
                    created_at: now,
                });
            }
        }
        Ok(out)
    }

    /// Queues the deliveries of these events; how many were queued. `Err` when AWS failed:
    /// the caller handles the events again (their webhook ids do not change, so a receiver
    /// recognises a copy).
    pub async fn emit(&self, events: &[WebhookEvent]) -> anyhow::Result<usize> {
        if self.queue_url.is_none() || events.is_empty() {
            return Ok(0);
        }
        let jobs = self.jobs(events).await?;
        self.queue(&jobs, 0).await?;
        Ok(jobs.len())
    }

    /// Sends jobs to the webhook queue, ten to a request, each delayed by `delay_seconds`.
    pub async fn queue(&self, jobs: &[WebhookJob], delay_seconds: i32) -> anyhow::Result<()> {
        let Some(url) = &self.queue_url else {
            return Ok(());
        };
        send_jobs(&self.sqs, url, jobs, delay_seconds).await
    }
}

/// Sends jobs to the webhook queue at `url` (SendMessageBatch within SQS's limits: see
/// `herald::aws::sqs_batch`); `Err` when any was not taken.
pub async fn send_jobs(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    jobs: &[WebhookJob],
    delay_seconds: i32,
) -> anyhow::Result<()> {
    let messages = jobs
        .iter()
        .map(|job| Ok(Outgoing::new(serde_json::to_string(job)?).delayed(delay_seconds)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let sent = crate::aws::sqs_batch::send_all(sqs, url, &messages)
        .await
        .context("queuing webhook deliveries")?;
    if !sent.refused.is_empty() {
        anyhow::bail!(
            "SQS refused {} of {} webhook deliveries",
            sent.refused.len(),
            jobs.len()
        );
    }
    Ok(())
}
