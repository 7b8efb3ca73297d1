//! Escalation: the clock of a conversation the guest is waiting on, and what its job does
//! when it comes (see `herald::conversations::escalation`): nothing when the guest was answered,
//! the clock set again when the conversation is due later now, or the conversation escalated
//! (priority one step up) and `conversation.escalated` sent.
//!
//! The job comes back through this function's queue: as a delayed message when it is due
//! within SQS's 15-minute delay (a time already past included), else through a one-time
//! EventBridge Scheduler schedule.
//!
//! When a layer's queue limits change, a [`Reclock`] job sets the clocks of the conversations
//! guests wait on for the new limits, a page of the conversation index per job.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use chrono::{DateTime, Utc};
use herald::conversations::Conversation;
use herald::conversations::escalation::{
    Decision, Escalate, Reclock, decide, due, escalate, reclocked, schedule_name,
};
use herald::conversations::rules::ConversationSettings;
use herald::domain::{ConversationStatus, WebhookEventType};
use herald::ids::{EventId, TenantId};
use herald::rsvp::record::JobQueue;
use herald::store::ConversationFilter;
use herald::store::StoreError;
use herald::webhooks::WebhookEvent;

/// How many times an escalation is tried again when its conversation changed meanwhile.
const ATTEMPTS: usize = 5;
/// The longest delay SQS gives a message (seconds).
const MAX_DELAY: i64 = 900;
/// A reclock job's page: at most this many conversations, this many index items read; the
/// rest is queued as a job of its own.
const RECLOCK_PAGE: usize = 100;
const RECLOCK_BUDGET: usize = 1000;

/// Where escalation jobs come back from.
#[derive(Debug, Clone)]
pub struct Clock {
    /// One-time schedules targeting this function's queue.
    pub schedules: herald::schedules::OneTimeSchedules,
    /// This function's queue.
    pub queue: JobQueue,
}

impl super::Inbound {
    /// Sets the conversation's escalation for `at` (nothing without a clock): a delayed
    /// message when it is due within 15 minutes, else the conversation's schedule.
    pub(crate) async fn schedule_escalation(
        &self,
        c: &Conversation,
        at: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let Some(clock) = &self.escalations else {
            return Ok(());
        };
        let job = serde_json::to_string(&Escalate {
            herald_escalate: c.tenant_id,
            conversation_id: c.id,
            due: Some(at),
        })?;
        let wait = (at - Utc::now()).num_seconds();
        if wait <= MAX_DELAY {
            clock
                .queue
                .sqs
                .send_message()
                .queue_url(&clock.queue.url)
                .message_body(job)
                .delay_seconds(i32::try_from(wait.max(0)).unwrap_or(0))
                .send()
                .await
                .map_err(|e| anyhow::Error::new(e).context("SQS SendMessage escalation"))?;
        } else {
            clock
                .schedules
                .put(&schedule_name(c.id), at, None, &job, false)
                .await?;
        }
        tracing::info!(tenant_id = %c.tenant_id, conversation_id = %c.id, due = %at, "escalation set");
        Ok(())
    }

    /// [`Self::schedule_escalation`] for a guest's message being recorded: a failure must not
    /// lose the message, so the clock is asked for again through the queue (a job without a
    /// time), and only logged if that fails too.
    pub(crate) async fn start_escalation_clock(&self, c: &Conversation, at: DateTime<Utc>) {
        let Err(e) = self.schedule_escalation(c, at).await else {
            return;
        };
        tracing::warn!(tenant_id = %c.tenant_id, conversation_id = %c.id, error = ?e, "setting an escalation failed; asking again through the queue");
        let Some(clock) = &self.escalations else {
            return;
        };
        let again = Escalate {
            herald_escalate: c.tenant_id,
            conversation_id: c.id,
            due: None,
        };
        let sent = match serde_json::to_string(&again) {
            Ok(body) => clock.queue.send(body).await,
            Err(e) => Err(e.into()),
        };
        if let Err(e) = sent {
            tracing::error!(tenant_id = %c.tenant_id, conversation_id = %c.id, error = ?e, "asking for an escalation failed: it will be set at the guest's next message");
        }
    }

    /// An escalation job: true when it is done with.
    pub(crate) async fn handle_escalate(&self, job: &Escalate) -> bool {
        match self.escalate(job).await {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(tenant_id = %job.herald_escalate, conversation_id = %job.conversation_id,
                    error = ?e, "an escalation failed; it will be tried again");
                false
            }
        }
    }

    async fn escalate(&self, job: &Escalate) -> anyhow::Result<()> {
        let tenant = job.herald_escalate;
        for _ in 0..ATTEMPTS {
            let Some(mut c) = self
                .store
                .get_conversation(tenant, job.conversation_id)
                .await?
            else {
                // Erased (or never written: the message's transaction failed after its schedule).
                return Ok(());
            };
            let (tenant_settings, event_settings) =
                self.store.conversation_settings(tenant, c.event_id).await?;
            let now = Utc::now();
            match decide(
                due(&c, &tenant_settings, event_settings.as_ref()),
                job.due,
                now,
            ) {
                Decision::Nothing => return Ok(()),
                Decision::Schedule(at) => return self.schedule_escalation(&c, at).await,
                Decision::Escalate => {}
            }
            let expected = c.version;
            escalate(&mut c, now);
            c.version = expected + 1;
            match self.store.replace_conversation(&c, expected).await {
                Ok(()) => {}
                Err(StoreError::StaleVersion { .. }) => continue,
                Err(StoreError::NotFound) => return Ok(()),
                Err(e) => return Err(e.into()),
            }
            self.counters
                .escalated
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::info!(tenant_id = %tenant, conversation_id = %c.id, queue = %c.queue,
                priority = %c.priority, "conversation escalated");
            self.emit_escalated(tenant, &c).await;
            return Ok(());
        }
        anyhow::bail!("the conversation kept changing while it was escalated")
    }

    /// A reclock job: true when it is done with.
    pub(crate) async fn handle_reclock(&self, job: &Reclock) -> bool {
        match self.reclock(job).await {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(tenant_id = %job.herald_reclock, error = ?e,
                    "setting escalation clocks for new queue limits failed; it will be tried again");
                false
            }
        }
    }

    /// One page of the tenant's (or the event's) conversations that are not escalated: each
    /// one a guest waits on gets its clock for the limits now in force (escalated at once
    /// when overdue under them); the next page is queued as a job of its own. Writing a
    /// schedule again is harmless, so a retried page does no harm.
    async fn reclock(&self, job: &Reclock) -> anyhow::Result<()> {
        let Some(clock) = &self.escalations else {
            return Ok(());
        };
        let tenant = job.herald_reclock;
        let filter = ConversationFilter {
            event: job.event_id,
            escalated: Some(false),
            ..ConversationFilter::default()
        };
        let page = self
            .store
            .list_conversations(
                tenant,
                &filter,
                job.cursor.as_deref(),
                RECLOCK_PAGE,
                RECLOCK_BUDGET,
            )
            .await?;
        type Layers = (ConversationSettings, Option<ConversationSettings>);
        let mut layers: HashMap<Option<EventId>, Layers> = HashMap::new();
        let now = Utc::now();
        let mut set = 0_usize;
        for c in &page.conversations {
            if c.unanswered_since.is_none() || c.status == ConversationStatus::Closed {
                continue;
            }
            let (tenant_layer, event_layer) = match layers.entry(c.event_id) {
                Entry::Occupied(read) => read.into_mut(),
                Entry::Vacant(slot) => {
                    slot.insert(self.store.conversation_settings(tenant, c.event_id).await?)
                }
            };
            let Some(at) = reclocked(c, tenant_layer, event_layer.as_ref()) else {
                continue;
            };
            match decide(Some(at), None, now) {
                Decision::Schedule(at) => self.schedule_escalation(c, at).await?,
                Decision::Escalate => {
                    self.escalate(&Escalate {
                        herald_escalate: tenant,
                        conversation_id: c.id,
                        due: None,
                    })
                    .await?;
                }
                Decision::Nothing => continue,
            }
            set += 1;
        }
        if let Some(cursor) = &page.cursor {
            let next = Reclock {
                cursor: Some(cursor.clone()),
                ..job.clone()
            };
            clock.queue.send(serde_json::to_string(&next)?).await?;
        }
        tracing::info!(tenant_id = %tenant, event_id = ?job.event_id, read = page.scanned,
            clocks_set = set, more = page.cursor.is_some(), "escalation clocks set for new queue limits");
        Ok(())
    }

    async fn emit_escalated(&self, tenant: TenantId, c: &Conversation) {
        let Some(emitter) = &self.recorder.webhooks else {
            return;
        };
        let at = c.escalated_at.unwrap_or_else(Utc::now);
        let event = WebhookEvent {
            tenant,
            kind: WebhookEventType::ConversationEscalated,
            key: format!("{}:{}", c.id, at.timestamp_millis()),
            at,
            data: serde_json::json!({
                "conversation_id": c.id,
                "event_id": c.event_id,
                "contact_id": c.contact_id,
                "queue": c.queue,
                "priority": c.priority,
                "status": c.status,
                "unanswered_since": c.unanswered_since,
                "escalated_at": c.escalated_at,
            }),
        };
        if let Err(e) = emitter.emit(&[event]).await {
            tracing::error!(error = ?e, "queuing webhooks failed");
        }
    }
}
