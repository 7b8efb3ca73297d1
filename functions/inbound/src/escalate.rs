//! Escalation: the schedule of a conversation the guest is waiting on, and what its job does
//! when it comes (see `herald::conversations::escalation`): nothing when the guest was answered,
//! the schedule written again when the conversation is due later now, or the conversation
//! escalated (priority one step up) and `conversation.escalated` sent.

use chrono::{DateTime, Utc};
use herald::conversations::Conversation;
use herald::conversations::escalation::{Decision, Escalate, decide, due, escalate, schedule_name};
use herald::domain::WebhookEventType;
use herald::ids::TenantId;
use herald::store::StoreError;
use herald::webhooks::WebhookEvent;

/// How many times an escalation is tried again when its conversation changed meanwhile.
const ATTEMPTS: usize = 5;

impl super::Inbound {
    /// Writes the conversation's escalation schedule for `at` (none without a scheduler).
    pub(crate) async fn schedule_escalation(
        &self,
        c: &Conversation,
        at: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let Some(schedules) = &self.escalations else {
            return Ok(());
        };
        let job = Escalate {
            herald_escalate: c.tenant_id,
            conversation_id: c.id,
            due: Some(at),
        };
        schedules
            .put(
                &schedule_name(c.id),
                at,
                None,
                &serde_json::to_string(&job)?,
                false,
            )
            .await?;
        tracing::info!(tenant_id = %c.tenant_id, conversation_id = %c.id, due = %at, "escalation scheduled");
        Ok(())
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
