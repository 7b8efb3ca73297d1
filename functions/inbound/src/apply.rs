//! Apply: one located message through `herald::conversations::plan`, then its effects in the
//! order that keeps them whole when a delivery repeats or stops part way:
//!
//! 1. consent (STOP/START), written under a ledger id that follows from the inbound message,
//!    so a second delivery changes nothing twice;
//! 2. the RSVP (an answer that says what the guest's RSVP already says changes nothing);
//! 3. one transaction: the guest's message, Herald's answers to it (`queued`, their ids and
//!    times following from the message), the conversation as it now stands and the
//!    deduplication item — a second delivery finds the item and writes nothing;
//! 4. the answers go out, each marked `sent` or `failed` in the thread; a delivery that
//!    repeats after a crash sends the answers still `queued`, so a keyword gets one answer;
//! 5. webhooks (`conversation.message_received`).
//!
//! After the transaction, when the conversation's due time moved (the guest starts waiting,
//! another queue, another limit), its escalation clock is set (see [`crate::escalate`]); the
//! conversation records the time it was set for, so a repeated delivery sets it again.

use std::sync::atomic::Ordering;

use chrono::{Duration, Utc};
use herald::conversations::escalation::due;
use herald::conversations::plan::{ConsentMove, Plan, Situation, day, plan};
use herald::conversations::rules::{effective, render_reply};
use herald::conversations::send::{Reply, pick_provider, reply_subject, send_reply};
use herald::conversations::{Conversation, ThreadMessage, conversation_id};
use herald::domain::{Channel, ConsentSource, Direction, RsvpStatus, TemplateCategory};
use herald::ids::{TenantId, ThreadMessageId};
use herald::messages::Recipient;
use herald::render::{RenderContext, TenantVars};
use herald::rsvp::RsvpIn;
use herald::rsvp::record::Giver;
use herald::store::{Appended, ChangeContext, StoreError};
use herald::webhooks::WebhookEvent;

use crate::read::Located;
use crate::resolve::Who;

/// How many times a message is tried again when its conversation changed meanwhile.
const ATTEMPTS: usize = 5;

/// Categories whose messages invite an answer by reply.
const INVITING: &[TemplateCategory] = &[
    TemplateCategory::Invitation,
    TemplateCategory::Reminder,
    TemplateCategory::SaveTheDate,
];

impl super::Inbound {
    pub(crate) async fn apply(&self, l: Located) -> anyhow::Result<()> {
        let who = self.resolve(&l).await?;
        let tenant = l.tenant;
        let m = &l.message;
        let event_id = who.event.as_ref().map(|e| e.id);
        let (tenant_settings, event_settings) =
            self.store.conversation_settings(tenant, event_id).await?;
        let tenant_record = self.store.get_tenant(tenant).await?;
        let sender_name = who
            .event
            .as_ref()
            .map(|e| e.fields.name.clone())
            .or_else(|| tenant_record.as_ref().map(|t| t.name.clone()))
            .unwrap_or_else(|| "Herald".into());
        let preferences = who.contact.as_ref().map(herald::consent::Preferences::of);
        let opted_out = preferences
            .as_ref()
            .is_some_and(|p| p.channel_off(m.channel));
        let rsvp_open = who.guest.is_some()
            && who.event.as_ref().is_some_and(|e| {
                herald::rsvp::record::check_open(e, Giver::Reply, Utc::now()).is_ok()
            })
            && match m.channel {
                Channel::Email => l
                    .replied
                    .as_ref()
                    .is_some_and(|r| INVITING.contains(&r.category)),
                Channel::Sms | Channel::Whatsapp => true,
            };
        let tags = who
            .guest
            .as_ref()
            .map(|g| g.tags.clone())
            .unwrap_or_default();
        let rules = effective(&tenant_settings, event_settings.as_ref());
        let id = conversation_id(tenant, &who.party, event_id);
        for _ in 0..ATTEMPTS {
            let existing = self.store.get_conversation(tenant, id).await?;
            let expected = existing.as_ref().map_or(0, |c| c.version);
            let stored_clock = existing.as_ref().and_then(|c| c.escalation_set_for);
            let mut conversation =
                existing.unwrap_or_else(|| Conversation::new(tenant, &who.party, event_id, m.at));
            let mut decided = match l.virus {
                true => Plan {
                    flags: vec!["virus"],
                    actions: vec!["dropped:virus".into()],
                    ..Plan::default()
                },
                false => plan(&Situation {
                    inbound: m,
                    conversation: &conversation,
                    opted_out,
                    stopped_by_keyword: opted_out,
                    rsvp_open,
                    tags: &tags,
                    rules: rules.clone(),
                    help_text: tenant_settings.help_text.as_deref(),
                    sender_name: &sender_name,
                }),
            };
            // 1. Consent first, always.
            if let (Some(change), Some(contact)) = (decided.consent, &who.contact) {
                let context = ChangeContext {
                    note: Some(format!("keyword:{}", m.channel)),
                    record_id: Some(format!(
                        "keyword-{}",
                        herald::digest::sha256_hex(&m.provider_id)
                    )),
                    ..ChangeContext::default()
                };
                match self
                    .store
                    .change_preferences(tenant, contact.id, ConsentSource::Keyword, &context, |p| {
                        match change {
                            ConsentMove::OptOut(c) => p.without_channel(c),
                            ConsentMove::OptIn(c) => p.with_channel(c),
                        }
                    })
                    .await
                {
                    Ok(_) | Err(StoreError::NotFound) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            // 2. The RSVP.
            if let (Some(status), Some(event), Some(guest)) = (decided.rsvp, &who.event, &who.guest)
            {
                let answer = RsvpIn {
                    status,
                    party_size: match status {
                        RsvpStatus::Declined => None,
                        _ => Some(guest.rsvp.as_ref().map_or(1, |r| r.party_size.max(1))),
                    },
                    answers: guest
                        .rsvp
                        .as_ref()
                        .map(|r| r.answers.clone())
                        .unwrap_or_default(),
                };
                if let Err(e) = self
                    .recorder
                    .answer((tenant, event.id, guest.id), answer, Giver::Reply, None)
                    .await
                {
                    // The form wants more than a yes (a required question): a person follows up.
                    tracing::info!(tenant_id = %tenant, guest_id = %guest.id, reason = %e, "an RSVP by reply was not recorded");
                    decided.actions.retain(|a| !a.starts_with("rsvp:"));
                    decided.actions.push("rsvp:needs_a_person".into());
                    decided.flags.push("rsvp_incomplete");
                }
            }
            // 3. The thread.
            let inbound = self.thread_message(&l, &conversation, &decided);
            let answers = self.answers(&l, &who, &conversation, &decided, &tenant_record);
            let now_day = day(m.at);
            for (rule, _) in &decided.replies {
                conversation
                    .auto_replied
                    .insert(rule.clone(), now_day.clone());
            }
            conversation.add(&inbound);
            for a in &answers {
                conversation.add(a);
            }
            if let Some(q) = &decided.queue {
                conversation.queue = q.clone();
            }
            if let Some(p) = decided.priority {
                conversation.priority = p;
            }
            conversation
                .flags
                .extend(decided.flags.iter().map(|f| (*f).to_owned()));
            conversation.version = expected + 1;
            conversation.ttl = Some(retention(&tenant_record, m.at));
            // The escalation clock is set when the due time moves: the guest starts waiting,
            // the message moved the conversation to another queue, or the queue's limit changed.
            let due_now = due(&conversation, &tenant_settings, event_settings.as_ref());
            let set_clock = due_now.filter(|d| conversation.escalation_set_for != Some(*d));
            conversation.escalation_set_for = due_now;
            match self
                .store
                .append_messages(
                    &conversation,
                    expected,
                    &[&[inbound.clone()][..], &answers[..]].concat(),
                    Some((m.channel, &m.provider_id)),
                )
                .await?
            {
                Appended::Stale => continue,
                Appended::Duplicate => {
                    self.counters.duplicates.fetch_add(1, Ordering::Relaxed);
                    // A delivery that stopped before the clock was set sets it now.
                    if let Some(at) = stored_clock {
                        self.start_escalation_clock(&conversation, at).await;
                    }
                    // A delivery that stopped before its answers went sends them now.
                    let pending = self.store.pending_answers(tenant, &answers).await?;
                    self.send_answers(tenant, &conversation, pending).await;
                    return Ok(());
                }
                Appended::Written => {}
            }
            self.counters.recorded.fetch_add(1, Ordering::Relaxed);
            tracing::info!(tenant_id = %tenant, conversation_id = %conversation.id,
                channel = %m.channel, actions = ?inbound.actions, "inbound message recorded");
            if let Some(at) = set_clock {
                self.start_escalation_clock(&conversation, at).await;
            }
            // 4. The answers.
            self.send_answers(tenant, &conversation, answers).await;
            // 5. Webhooks.
            self.emit(tenant, &conversation, &inbound).await;
            return Ok(());
        }
        anyhow::bail!("the conversation kept changing while the message was recorded")
    }

    /// The guest's message as the thread keeps it.
    fn thread_message(&self, l: &Located, c: &Conversation, p: &Plan) -> ThreadMessage {
        let m = &l.message;
        ThreadMessage {
            id: inbound_id(l.tenant, m.channel, &m.provider_id),
            conversation_id: c.id,
            direction: Direction::Inbound,
            channel: m.channel,
            at: m.at,
            from: (!m.from.is_empty()).then(|| m.from.clone()),
            subject: m.subject.clone(),
            text: m.text.clone(),
            written: m.written.clone(),
            attachments: m.attachments.clone(),
            message_id: l.replied.as_ref().map(|r| r.id),
            via: l.provider,
            automatic: m.automatic.map(str::to_owned),
            spam: m.spam,
            actions: p.actions.clone(),
            sent_by: None,
            auto: None,
            delivery: None,
            raw_object: m.raw_object.clone(),
            ttl: None,
        }
    }

    /// Herald's answers to the message (`queued`): the keyword's, then automatic replies;
    /// their ids and times follow from the message, so a second delivery names the same.
    fn answers(
        &self,
        l: &Located,
        who: &Who,
        c: &Conversation,
        p: &Plan,
        tenant: &Option<herald::store::Tenant>,
    ) -> Vec<ThreadMessage> {
        let m = &l.message;
        let mut texts: Vec<(String, String)> = Vec::new();
        if let Some(text) = &p.confirmation {
            texts.push(("keyword".into(), text.clone()));
        }
        for (rule, template) in &p.replies {
            let context = RenderContext {
                guest: who
                    .guest
                    .as_ref()
                    .map(|g| Recipient::from(g).vars)
                    .unwrap_or_default(),
                event: who
                    .event
                    .as_ref()
                    .map(|e| e.fields.vars())
                    .unwrap_or_default(),
                tenant: TenantVars {
                    name: tenant.as_ref().map(|t| t.name.clone()).unwrap_or_default(),
                },
                ..RenderContext::default()
            };
            match render_reply(template, &context) {
                Ok(text) => texts.push((format!("auto_reply:{rule}"), text)),
                Err(e) => {
                    tracing::warn!(rule = %rule, reason = %e, "an automatic reply did not render")
                }
            }
        }
        texts
            .into_iter()
            .enumerate()
            .map(|(i, (auto, text))| ThreadMessage {
                id: ThreadMessageId::derived(&[
                    &inbound_id(l.tenant, m.channel, &m.provider_id).to_string(),
                    &auto,
                ]),
                conversation_id: c.id,
                direction: Direction::Outbound,
                channel: m.channel,
                at: m.at + Duration::milliseconds(1 + i as i64),
                from: None,
                subject: (m.channel == Channel::Email)
                    .then(|| reply_subject(m.subject.as_deref(), &c.preview)),
                written: text.clone(),
                text,
                attachments: Vec::new(),
                message_id: None,
                via: l.provider,
                automatic: None,
                spam: false,
                actions: Vec::new(),
                sent_by: None,
                auto: Some(auto),
                delivery: Some("queued".into()),
                raw_object: None,
                ttl: None,
            })
            .collect()
    }

    /// Sends answers through the channel's provider and notes each outcome in the thread.
    async fn send_answers(&self, tenant: TenantId, c: &Conversation, answers: Vec<ThreadMessage>) {
        if answers.is_empty() {
            return;
        }
        let providers = match self
            .store
            .query_prefix::<herald::config::Provider>(
                &herald::store::keys::providers_pk(tenant),
                "",
            )
            .await
        {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(tenant_id = %tenant, error = ?e, "reading providers for answers failed");
                return;
            }
        };
        for a in answers {
            let to = c.addresses.get(&a.channel).cloned().unwrap_or_default();
            let outcome = match pick_provider(
                &providers,
                a.channel,
                c.via.get(&a.channel).copied(),
                c.event_id,
            ) {
                None => format!("failed: no active {} provider", a.channel),
                Some(provider) => {
                    let reply = Reply {
                        to,
                        subject: a.subject.clone(),
                        text: a.text.clone(),
                        reply_to: self.reply_address(tenant, &a).await,
                        automatic: true,
                    };
                    match send_reply(
                        &self.providers,
                        &self.sealer,
                        tenant,
                        provider,
                        &reply,
                        self.ses_configuration_set.as_deref(),
                    )
                    .await
                    {
                        Ok(_) => {
                            self.counters.replies.fetch_add(1, Ordering::Relaxed);
                            "sent".to_owned()
                        }
                        Err(e) => format!("failed: {}", e.reason()),
                    }
                }
            };
            if let Err(e) = self.store.set_thread_delivery(tenant, &a, &outcome).await {
                tracing::error!(tenant_id = %tenant, error = ?e, "noting an answer's delivery failed");
            }
        }
    }

    /// The reply address of an emailed answer, so the guest's next mail threads too (none
    /// without an inbound domain, or for SMS and WhatsApp).
    async fn reply_address(&self, tenant: TenantId, answer: &ThreadMessage) -> Option<String> {
        let domain = self
            .inbound_domain
            .as_ref()
            .filter(|_| answer.channel == Channel::Email)?;
        let key = self.links.existing(tenant).await.ok().flatten()?;
        Some(herald::conversations::send::reply_address(
            key.as_ref(),
            tenant,
            answer.id,
            domain,
        ))
    }

    async fn emit(&self, tenant: TenantId, c: &Conversation, m: &ThreadMessage) {
        let Some(emitter) = &self.recorder.webhooks else {
            return;
        };
        let event = WebhookEvent {
            tenant,
            kind: herald::domain::WebhookEventType::ConversationMessageReceived,
            key: m.id.to_string(),
            at: m.at,
            data: serde_json::json!({
                "conversation_id": c.id,
                "message_id": m.id,
                "event_id": c.event_id,
                "contact_id": c.contact_id,
                "channel": m.channel,
                "queue": c.queue,
                "priority": c.priority,
                "status": c.status,
                "actions": m.actions,
            }),
        };
        if let Err(e) = emitter.emit(&[event]).await {
            tracing::error!(error = ?e, "queuing webhooks failed");
        }
    }
}

/// The thread id of an inbound message: the same for every delivery of it.
pub fn inbound_id(tenant: TenantId, channel: Channel, provider_id: &str) -> ThreadMessageId {
    ThreadMessageId::derived(&[&tenant.to_string(), channel.as_str(), provider_id])
}

fn retention(tenant: &Option<herald::store::Tenant>, at: chrono::DateTime<Utc>) -> i64 {
    herald::store::message_ttl(tenant.as_ref().and_then(|t| t.retention_days), at)
}
