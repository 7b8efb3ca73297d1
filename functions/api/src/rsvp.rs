//! Recording a guest's RSVP from the API's routes: `herald::rsvp::record` does the work (see
//! there); this maps its outcome to problem details.

use chrono::{DateTime, Utc};
use herald::crm::Engagement;
use herald::guests::Guest;
use herald::ids::{EventId, GuestId, TenantId};
use herald::rsvp::RsvpIn;
use herald::rsvp::record::{AnswerError, Recorder};
pub use herald::rsvp::record::{Answered, Giver, changed_event};
use herald::store::{Event, RsvpContext};
use herald::webhooks::WebhookEvent;

use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;

impl From<AnswerError> for ApiError {
    fn from(e: AnswerError) -> Self {
        match e {
            AnswerError::NotFound => ApiError::NotFound,
            AnswerError::Closed(detail) => ApiError::Conflict {
                detail,
                current_version: None,
            },
            AnswerError::Invalid(issues) => ApiError::invalid(issues),
            AnswerError::Busy => ApiError::Conflict {
                detail: e.to_string(),
                current_version: None,
            },
            AnswerError::Store(e) => e.into(),
            AnswerError::Queue(e) => ApiError::Upstream(e),
        }
    }
}

/// The API's recorder: its store, transactional queue and webhooks.
pub fn recorder(state: &AppState) -> Recorder {
    Recorder {
        store: state.store.clone(),
        transactional: herald::rsvp::record::JobQueue {
            sqs: state.queues.sqs.clone(),
            url: state.queues.transactional.clone(),
        },
        webhooks: Some(state.webhooks.clone()),
    }
}

/// The event and guest of an answer, checked: the guest exists (404).
pub async fn context(
    state: &AppState,
    tenant: TenantId,
    event: EventId,
    guest: GuestId,
) -> ApiResult<RsvpContext> {
    Ok(recorder(state).context(tenant, event, guest).await?)
}

/// The 409 of an answer after the deadline, naming it.
pub fn closed(event: &Event) -> ApiError {
    ApiError::Conflict {
        detail: herald::rsvp::record::closed(event),
        current_version: None,
    }
}

/// Whether the event takes an answer from `giver` at `now`.
pub fn check_open(event: &Event, giver: Giver, now: DateTime<Utc>) -> ApiResult<()> {
    Ok(herald::rsvp::record::check_open(event, giver, now)?)
}

/// Records `answer` for a guest; `read` is what the caller already read of it.
pub async fn answer(
    state: &AppState,
    ids: (TenantId, EventId, GuestId),
    answer: RsvpIn,
    giver: Giver,
    read: Option<RsvpContext>,
) -> ApiResult<Answered> {
    Ok(recorder(state).answer(ids, answer, giver, read).await?)
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
