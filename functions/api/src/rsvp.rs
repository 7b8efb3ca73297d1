//! Recording a guest's RSVP, whoever gives it (the guest through their link, the tenant over
//! the API): read what it needs in one BatchGetItem, check it against the event's form and
//! deadline, write it with its confirmation in one transaction (conditional on the answer it
//! replaces: two answers at once are both applied, the later last), then queue the
//! confirmation on the transactional queue and tell the tenant's webhooks.
//!
//! An answer that says what the guest's RSVP already says changes nothing and sends nothing:
//! the confirmation is sent once per stored change (its message id follows from the guest and
//! the RSVP's version).

use chrono::{DateTime, Utc};
use herald::crm::Engagement;
use herald::domain::{Channel, RsvpSource, TemplateCategory};
use herald::guests::Guest;
use herald::ids::{EventId, GuestId, TenantId};
use herald::messages::{Delivery, Message, Recipient, SenderJob};
use herald::rsvp::{Rsvp, RsvpIn, check_answer, confirmation_id};
use herald::store::{Event, EventStatus, RsvpContext, RsvpWrite};
use herald::webhooks::WebhookEvent;

use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;

/// How many times an answer is tried again when another answer was written between its read
/// and its write.
const ATTEMPTS: usize = 5;

/// Who gives the answer, and what follows from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Giver {
    /// The guest, through their link: closed after the deadline; confirmed.
    Guest,
    /// The tenant, over the API: taken after the deadline too; confirmed when asked.
    Tenant { confirm: bool },
}

/// What an answer did.
#[derive(Debug, Clone)]
pub struct Answered {
    pub event: Event,
    pub guest: Guest,
    /// Whether the RSVP changed (false: it already said this).
    pub changed: bool,
    /// The confirmation queued for this change, if one was.
    pub confirmation: Option<herald::ids::MessageId>,
}

/// The event and guest of an answer, checked: the guest exists (404), the event takes
/// answers (409 when cancelled or, for the guest, past its deadline).
pub async fn context(
    state: &AppState,
    tenant: TenantId,
    event: EventId,
    guest: GuestId,
) -> ApiResult<RsvpContext> {
    let ctx = state.store.rsvp_context(tenant, event, guest).await?;
    if ctx.event.is_none() || ctx.guest.is_none() {
        return Err(ApiError::NotFound);
    }
    Ok(ctx)
}

/// The 409 of an answer after the deadline, naming it.
pub fn closed(event: &Event) -> ApiError {
    let closes = event.rsvp_closes();
    let local = closes.with_timezone(&event.fields.time_zone.tz());
    ApiError::Conflict {
        detail: format!(
            "answers closed at {} ({}, {}): the RSVP deadline has passed",
            closes.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            local.format("%Y-%m-%d %H:%M"),
            event.fields.time_zone.as_str(),
        ),
        current_version: None,
    }
}

/// Whether the event takes an answer from `giver` at `now`.
pub fn check_open(event: &Event, giver: Giver, now: DateTime<Utc>) -> ApiResult<()> {
    if event.fields.status == EventStatus::Cancelled {
        return Err(ApiError::Conflict {
            detail: "the event was cancelled: it takes no more answers".into(),
            current_version: None,
        });
    }
    if giver == Giver::Guest && now > event.rsvp_closes() {
        return Err(closed(event));
    }
    Ok(())
}

/// Records `answer` for a guest (see the module's documentation); `read` is what the caller
/// already read of it (the first attempt uses it instead of reading again).
pub async fn answer(
    state: &AppState,
    (tenant, event, guest): (TenantId, EventId, GuestId),
    answer: RsvpIn,
    giver: Giver,
    mut read: Option<RsvpContext>,
) -> ApiResult<Answered> {
    let source = match giver {
        Giver::Guest => RsvpSource::Link,
        Giver::Tenant { .. } => RsvpSource::Api,
    };
    for _ in 0..ATTEMPTS {
        let ctx = match read.take() {
            Some(ctx) => ctx,
            None => context(state, tenant, event, guest).await?,
        };
        let (Some(event_record), Some(guest_record)) = (ctx.event.clone(), ctx.guest.clone())
        else {
            return Err(ApiError::NotFound);
        };
        let now = Utc::now();
        check_open(&event_record, giver, now)?;
        let form = event_record.rsvp_form();
        let checked = check_answer(&form, answer.clone()).map_err(ApiError::invalid)?;
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
        let confirm = match giver {
            Giver::Guest => true,
            Giver::Tenant { confirm } => confirm,
        };
        let confirmation = match confirm {
            true => confirmation(&ctx, &event_record, &updated, &next, now),
            false => None,
        };
        let engagement = ctx.crm_connected.then(|| Engagement {
            last_event: Some(event_record.fields.name.clone()),
            last_event_rsvp: Some(next.status.to_string()),
            ..Engagement::default()
        });
        let written = state
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
            // The record is there: if queueing fails, the answer stands and the 502 says
            // the confirmation did not go (the message stays `queued`, visible).
            state.queues.to_transactional(&job).await?;
            queued = Some(message.id);
        }
        tracing::info!(tenant_id = %tenant, event_id = %event, guest_id = %guest,
            status = %next.status, version = next.version, source = %source, "RSVP recorded");
        state
            .emit_after(&[changed_event(tenant, &event_record, &updated)])
            .await;
        return Ok(Answered {
            event: event_record,
            guest: updated,
            changed: true,
            confirmation: queued,
        });
    }
    Err(ApiError::Conflict {
        detail: "the guest's answer kept changing while this one was written: try again".into(),
        current_version: None,
    })
}

/// The `guest.rsvp_changed` webhook of a guest's RSVP as it now stands.
pub fn changed_event(tenant: TenantId, event: &Event, guest: &Guest) -> WebhookEvent {
    let rsvp = guest.rsvp.as_ref();
    WebhookEvent {
        tenant,
        kind: herald::domain::WebhookEventType::GuestRsvpChanged,
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
            "state": herald::rsvp::state_of(rsvp),
        }),
    }
}

/// The confirmation of a change, when the event sends `rsvp_confirmation` and has an active
/// snapshot: its record (queued) and its job.
fn confirmation(
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
        herald::rsvp::label_answer_vars(&event.rsvp_form(), &mut vars.answers, language, fallback);
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
    let ttl = herald::store::message_ttl(ctx.tenant.as_ref().and_then(|t| t.retention_days), now);
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

/// After an import changed guests' RSVPs: their webhooks, and the CRM's outbox when the tenant
/// has a CRM. Best effort: the import stands; a failure is logged.
pub async fn imported(state: &AppState, event: &Event, guests: &[Guest]) {
    let tenant = event.tenant_id;
    let events: Vec<WebhookEvent> = guests
        .iter()
        .map(|g| changed_event(tenant, event, g))
        .collect();
    state.emit_after(&events).await;
    let outbox = async {
        if state.store.get_crm_connection(tenant).await?.is_none() {
            return anyhow::Ok(());
        }
        let entries: Vec<(herald::ids::ContactId, Engagement)> = guests
            .iter()
            .filter_map(|g| {
                let rsvp = g.rsvp.as_ref()?;
                Some((
                    g.contact_id,
                    Engagement {
                        last_event: Some(event.fields.name.clone()),
                        last_event_rsvp: Some(rsvp.status.to_string()),
                        ..Engagement::default()
                    },
                ))
            })
            .collect();
        state
            .store
            .touch_crm_outboxes(tenant, &entries, Utc::now())
            .await?;
        Ok(())
    };
    if let Err(e) = outbox.await {
        tracing::warn!(tenant_id = %tenant, event_id = %event.id, error = ?e, "putting imported RSVPs in the CRM outbox failed");
    }
}
