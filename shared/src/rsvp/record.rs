//! Recording a guest's RSVP, whoever gives it (the guest through their link or by replying to
//! a message, the tenant over the API): read what it needs in one BatchGetItem, check it
//! against the event's form and deadline, write it with its confirmation in one transaction
//! (conditional on the answer it replaces: two answers at once are both applied, the later
//! last), then queue the confirmation on the transactional queue and tell the tenant's
//! webhooks.
//!
//! An answer that says what the guest's RSVP already says changes nothing and sends nothing:
//! the confirmation is sent once per stored change (its message id follows from the guest and
//! the RSVP's version).

use chrono::{DateTime, Utc};

use super::{Rsvp, RsvpIn, check_answer, confirmation_id};
use crate::crm::Engagement;
use crate::domain::{Channel, RsvpSource, TemplateCategory};
use crate::guests::Guest;
use crate::ids::{EventId, GuestId, MessageId, TenantId};
use crate::messages::{Delivery, Message, Recipient, SenderJob};
use crate::providers::FieldIssue;
use crate::store::{Event, EventStatus, RsvpContext, RsvpWrite, Store, StoreError};
use crate::webhooks::WebhookEvent;

/// How many times an answer is tried again when another answer was written between its read
/// and its write.
const ATTEMPTS: usize = 5;

/// Who gives the answer, and what follows from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Giver {
    /// The guest, through their link: closed after the deadline; confirmed.
    Guest,
    /// The guest, by replying "yes" or "no" to a message: as through the link.
    Reply,
    /// The tenant, over the API: taken after the deadline too; confirmed when asked.
    Tenant { confirm: bool },
}

impl Giver {
    fn source(self) -> RsvpSource {
        match self {
            Giver::Guest => RsvpSource::Link,
            Giver::Reply => RsvpSource::Reply,
            Giver::Tenant { .. } => RsvpSource::Api,
        }
    }

    fn confirms(self) -> bool {
        match self {
            Giver::Guest | Giver::Reply => true,
            Giver::Tenant { confirm } => confirm,
        }
    }

    fn is_guest(self) -> bool {
        matches!(self, Giver::Guest | Giver::Reply)
    }
}

/// What an answer did.
#[derive(Debug, Clone)]
pub struct Answered {
    pub event: Event,
    pub guest: Guest,
    /// Whether the RSVP changed (false: it already said this).
    pub changed: bool,
    /// The confirmation queued for this change, if one was.
    pub confirmation: Option<MessageId>,
}

/// Why an answer was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    #[error("no such event or guest")]
    NotFound,
    /// The event takes no answers (cancelled, or past its deadline for the guest): the detail.
    #[error("{0}")]
    Closed(String),
    #[error("the answer does not fit the form")]
    Invalid(Vec<FieldIssue>),
    #[error("the guest's answer kept changing while this one was written: try again")]
    Busy,
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Recorded, but the confirmation could not be queued (it stays `queued`, visible).
    #[error("queueing the confirmation: {0}")]
    Queue(anyhow::Error),
}

/// An SQS queue jobs are sent to.
#[derive(Debug, Clone)]
pub struct JobQueue {
    pub sqs: crate::aws::LazyClient<aws_sdk_sqs::Client>,
    pub url: String,
}

impl JobQueue {
    pub async fn send(&self, body: String) -> anyhow::Result<()> {
        self.sqs
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| anyhow::Error::new(e).context("SQS SendMessage"))?;
        Ok(())
    }
}

/// What recording an answer needs.
#[derive(Debug, Clone)]
pub struct Recorder {
    pub store: Store,
    /// The transactional queue (confirmations).
    pub transactional: JobQueue,
    pub webhooks: Option<crate::webhooks::Emitter>,
}

/// The detail of an answer after the deadline, naming it.
pub fn closed(event: &Event) -> String {
    let closes = event.rsvp_closes();
    let local = closes.with_timezone(&event.fields.time_zone.tz());
    format!(
        "answers closed at {} ({}, {}): the RSVP deadline has passed",
        closes.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        local.format("%Y-%m-%d %H:%M"),
        event.fields.time_zone.as_str(),
    )
}

/// Whether the event takes an answer from `giver` at `now`.
pub fn check_open(event: &Event, giver: Giver, now: DateTime<Utc>) -> Result<(), AnswerError> {
    if event.fields.status == EventStatus::Cancelled {
        return Err(AnswerError::Closed(
            "the event was cancelled: it takes no more answers".into(),
        ));
    }
    if giver.is_guest() && now > event.rsvp_closes() {
        return Err(AnswerError::Closed(closed(event)));
    }
    Ok(())
}

impl Recorder {
    /// The event and guest of an answer: both must exist.
    pub async fn context(
        &self,
        tenant: TenantId,
        event: EventId,
        guest: GuestId,
    ) -> Result<RsvpContext, AnswerError> {
        let ctx = self.store.rsvp_context(tenant, event, guest).await?;
        if ctx.event.is_none() || ctx.guest.is_none() {
            return Err(AnswerError::NotFound);
        }
        Ok(ctx)
    }

    /// Records `answer` for a guest (see the module's documentation); `read` is what the
    /// caller already read of it (the first attempt uses it instead of reading again).
    pub async fn answer(
        &self,
        (tenant, event, guest): (TenantId, EventId, GuestId),
        answer: RsvpIn,
        giver: Giver,
        mut read: Option<RsvpContext>,
    ) -> Result<Answered, AnswerError> {
        let source = giver.source();
        for _ in 0..ATTEMPTS {
            let ctx = match read.take() {
                Some(ctx) => ctx,
                None => self.context(tenant, event, guest).await?,
            };
            let (Some(event_record), Some(guest_record)) = (ctx.event.clone(), ctx.guest.clone())
            else {
                return Err(AnswerError::NotFound);
            };
            let now = Utc::now();
            check_open(&event_record, giver, now)?;
            let form = event_record.rsvp_form();
            let checked = check_answer(&form, answer.clone()).map_err(AnswerError::Invalid)?;
            let current = guest_record.rsvp.as_ref();
            if current.is_some_and(|r| r.same_as(&checked)) {
                return Ok(Answered {
                    event: event_record,
                    guest: guest_record,
                    changed: false,
                    confirmation: None,
                });
            }
            let next = Rsvp::next(current, checked, source, now);
            let updated = Guest {
                rsvp: Some(next.clone()),
                updated_at: now,
                ..guest_record.clone()
            };
            let confirmation = match giver.confirms() {
                true => confirmation(&ctx, &event_record, &updated, &next, now),
                false => None,
            };
            let engagement = ctx.crm_connected.then(|| Engagement {
                last_event: Some(event_record.fields.name.clone()),
                last_event_rsvp: Some(next.status.to_string()),
                ..Engagement::default()
            });
            let written = self
                .store
                .record_rsvp(&RsvpWrite {
                    tenant,
                    event,
                    guest,
                    rsvp: Some(&next),
                    replaces: current.map_or(0, |r| r.version),
                    confirmation: confirmation
                        .as_ref()
                        .map(|(m, _)| (m, guest_record.contact_id)),
                    crm: engagement.as_ref().map(|e| (guest_record.contact_id, e)),
                    now,
                })
                .await?;
            if !written {
                // Another answer landed first: read it and apply this one over it.
                continue;
            }
            let mut queued = None;
            if let Some((message, job)) = confirmation {
                let body = serde_json::to_string(&job).map_err(|e| AnswerError::Queue(e.into()))?;
                self.transactional
                    .send(body)
                    .await
                    .map_err(AnswerError::Queue)?;
                queued = Some(message.id);
            }
            tracing::info!(tenant_id = %tenant, event_id = %event, guest_id = %guest,
                status = %next.status, version = next.version, source = %source, "RSVP recorded");
            if let Some(emitter) = &self.webhooks
                && let Err(e) = emitter
                    .emit(&[changed_event(tenant, &event_record, &updated)])
                    .await
            {
                tracing::error!(error = ?e, "queuing webhooks failed");
            }
            return Ok(Answered {
                event: event_record,
                guest: updated,
                changed: true,
                confirmation: queued,
            });
        }
        Err(AnswerError::Busy)
    }
}

/// The `guest.rsvp_changed` webhook of a guest's RSVP as it now stands.
pub fn changed_event(tenant: TenantId, event: &Event, guest: &Guest) -> WebhookEvent {
    let rsvp = guest.rsvp.as_ref();
    WebhookEvent {
        tenant,
        kind: crate::domain::WebhookEventType::GuestRsvpChanged,
        key: match rsvp {
            Some(r) => format!("{}#{}", guest.id, r.version),
            None => format!(
                "{}#cleared#{}",
                guest.id,
                guest.updated_at.timestamp_millis()
            ),
        },
        at: rsvp.map_or(guest.updated_at, |r| r.at),
        data: serde_json::json!({
            "event_id": event.id,
            "guest_id": guest.id,
            "contact_id": guest.contact_id,
            "rsvp": rsvp,
            "state": super::state_of(rsvp),
        }),
    }
}

/// The confirmation of a change, when the event sends `rsvp_confirmation` and has an active
/// snapshot: its record (queued) and its job.
pub fn confirmation(
    ctx: &RsvpContext,
    event: &Event,
    guest: &Guest,
    rsvp: &Rsvp,
    now: DateTime<Utc>,
) -> Option<(Message, SenderJob)> {
    let wizard = ctx.wizard.as_ref()?;
    wizard.active.as_ref()?;
    let channels: Vec<Channel> = match &wizard.uses {
        Some(uses)
            if !uses
                .categories
                .contains(&TemplateCategory::RsvpConfirmation) =>
        {
            return None;
        }
        Some(uses) => uses.channels.clone(),
        None => Channel::ALL.to_vec(),
    };
    let id = confirmation_id(guest.id, rsvp.version);
    // The answers as the guest saw them, by the live form (the snapshot's may be older):
    // options by their label in the guest's language, every question there.
    let mut recipient = Recipient::from(guest);
    if let Some(vars) = recipient.vars.rsvp.as_mut() {
        let fallback = event.fields.default_locale.as_str();
        let language = guest.locale.as_ref().map_or(fallback, |l| l.as_str());
        super::label_answer_vars(&event.rsvp_form(), &mut vars.answers, language, fallback);
    }
    let job = SenderJob::Deliver {
        tenant_id: event.tenant_id,
        event_id: event.id,
        campaign_id: None,
        snapshot_version: None,
        category: TemplateCategory::RsvpConfirmation,
        channels,
        deliveries: vec![Delivery {
            message_id: id,
            recipient,
        }],
        not_before: None,
    };
    let ttl = crate::store::message_ttl(ctx.tenant.as_ref().and_then(|t| t.retention_days), now);
    let message = Message {
        pending_job: serde_json::to_string(&job).ok(),
        ..Message::queued(
            id,
            (event.tenant_id, event.id, None),
            Some(guest.id),
            TemplateCategory::RsvpConfirmation,
            ttl,
            now,
        )
    };
    Some((message, job))
}
