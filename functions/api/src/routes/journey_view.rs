//! What an event's journey does: every step with its time (computed from the live event, in
//! UTC and on the event's clock), the layer it comes from, where it stands and, once sent,
//! its counts; and one guest's own timeline (what they were sent, and what they will get).

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use herald::campaigns::CampaignCounts;
use herald::domain::{Channel, DeliveryEvent, TemplateCategory};
use herald::ids::{CampaignId, MessageId};
use herald::journeys::{
    Move, Occurrence, OccurrenceStatus, ResolvedJourney, ResolvedStep, StepAudience, StepTime,
    check_journey, resolve_journey,
};
use herald::messages::MessageStatus;
use herald::providers::FieldIssue;
use herald::store::{Event, EventStatus};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Principal;
use crate::extract::{StrictQuery, path_id};
use crate::problem::{ApiError, ApiResult};
use crate::scope::{TenantQuery, event_of};
use crate::state::AppState;

super::api_routes! {
    (get_event_journey),
    (get_guest_timeline),
}

/// One step of the event's journey.
#[derive(Debug, Serialize, ToSchema)]
pub struct JourneyStepView {
    #[serde(flatten)]
    pub step: ResolvedStep,
    /// When it is due, from the live event (none for a step sent on cancellation, or anchored
    /// to an RSVP deadline the event does not have).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<StepTime>,
    /// `scheduled`, `sending`, `sent`, `skipped` or `cancelled` once the journey is active;
    /// before that `draft`; `off` for a step turned off; `on_cancel` for a step sent only if the
    /// event is cancelled; `no_deadline` for a step anchored to the RSVP deadline of an event
    /// whose form has none (it is scheduled once the form has one).
    pub status: String,
    /// Why it was skipped, cancelled or sent at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When it was due when it was skipped or started sending (it keeps that time).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due_at: Option<DateTime<Utc>>,
    /// Its moves with the event.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub moves: Vec<Move>,
    /// The campaign it sends as (once it started).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub campaign_id: Option<CampaignId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counts: Option<CampaignCounts>,
}

/// The event's journey as it runs.
#[derive(Debug, Serialize, ToSchema)]
pub struct JourneyView {
    pub time_zone: String,
    pub event_status: EventStatus,
    /// Whether a completed wizard activated it (then its steps are scheduled).
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_version: Option<u64>,
    /// The tenant's journey or the event's changes differ from what is active: completing the
    /// wizard takes them up.
    pub changed_since_activation: bool,
    pub steps: Vec<JourneyStepView>,
    /// What keeps the journey shown from going live (as the wizard's readiness says it).
    pub issues: Vec<FieldIssue>,
}

/// The event's journey: each step with its time, layer, status and counts.
#[utoipa::path(get, path = "/api/v1/events/{id}/journey", tag = "journeys",
    params(("id" = herald::ids::EventId, Path), TenantQuery),
    responses((status = 200, body = JourneyView)), security(("api_key" = [])))]
pub async fn get_event_journey(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(q): StrictQuery<TenantQuery>,
) -> ApiResult<Json<JourneyView>> {
    let (tenant, event_id) = event_of(&state, &principal, q.tenant_id, path_id(&id)?).await?;
    let (event, snapshot, occurrences, tenant_journey, event_journey) = tokio::try_join!(
        state.store.get_event(tenant, event_id),
        state.store.get_snapshot(tenant, event_id, None),
        state.store.occurrences(tenant, event_id),
        state.store.tenant_journey(tenant),
        state.store.event_journey(tenant, event_id),
    )?;
    let event = event.ok_or(ApiError::NotFound)?;
    let draft = resolve_journey(
        tenant_journey.as_ref().map(|t| &t.journey),
        event_journey.as_ref().map(|e| &e.changes),
    );
    let snapshot_version = snapshot.as_ref().map(|s| s.version);
    let active_journey = snapshot.and_then(|s| s.content.journey);
    let (journey, mut issues) = match (&active_journey, draft.clone()) {
        (Some(j), _) => (j.clone(), Vec::new()),
        (None, Ok(j)) => (j, Vec::new()),
        (None, Err(issues)) => (ResolvedJourney::default(), issues),
    };
    issues.extend(check_journey(&journey, &event.times()));
    let changed_since_activation = match (&active_journey, &draft) {
        (Some(active), Ok(d)) => active != d,
        (Some(_), Err(_)) => true,
        (None, _) => false,
    };
    let mut steps = Vec::with_capacity(journey.steps.len());
    for step in journey.steps {
        let occurrence = occurrences.iter().find(|o| o.key == step.key);
        let counts = match occurrence.filter(|o| o.status.started()) {
            Some(o) => state
                .store
                .get_campaign(tenant, o.campaign_id)
                .await?
                .map(|c| c.counts),
            None => None,
        };
        steps.push(step_view(
            step,
            occurrence,
            &event,
            active_journey.is_some(),
            counts,
        ));
    }
    Ok(Json(JourneyView {
        time_zone: event.fields.time_zone.as_str().to_owned(),
        event_status: event.fields.status,
        active: active_journey.is_some(),
        snapshot_version,
        changed_since_activation,
        steps,
        issues,
    }))
}

fn step_view(
    step: ResolvedStep,
    occurrence: Option<&Occurrence>,
    event: &Event,
    active: bool,
    counts: Option<CampaignCounts>,
) -> JourneyStepView {
    let time = step.time(&event.times());
    let status = match occurrence {
        Some(o) => o.status.as_str(),
        None if !step.enabled => "off",
        None if step.on_cancel => "on_cancel",
        // Anchored to an RSVP deadline the event does not have (yet).
        None if time.is_none() => "no_deadline",
        None if !active => "draft",
        // Active, not synced yet (the sweep schedules it within a minute or two).
        None => "scheduled",
    };
    let kept_time = occurrence
        .filter(|o| o.status != OccurrenceStatus::Scheduled)
        .and_then(|o| o.due_at);
    JourneyStepView {
        time,
        status: status.to_owned(),
        reason: occurrence.and_then(|o| o.reason.clone()),
        due_at: kept_time,
        moves: occurrence.map(|o| o.moves.clone()).unwrap_or_default(),
        campaign_id: occurrence
            .filter(|o| o.status.started())
            .map(|o| o.campaign_id),
        counts,
        step,
    }
}

/// One entry of a guest's timeline.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineEntry {
    /// When it was sent, or when it is due.
    pub at: DateTime<Utc>,
    /// `sent` (a message of record, whatever became of it) or `upcoming` (a scheduled step
    /// whose audience holds the guest).
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub step: Option<herald::journeys::StepKey>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub campaign_id: Option<CampaignId>,
    pub category: TemplateCategory,
    /// The channel it went by, or those it may go by (in order of preference).
    pub channels: Vec<Channel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub message_id: Option<MessageId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<MessageStatus>,
    /// The furthest its delivery reports went.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_state: Option<DeliveryEvent>,
    /// A follow-up: only if the earlier step's message has not reached this state by then.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unless_reached: Option<herald::journeys::NotReached>,
}

/// A guest's timeline.
#[derive(Debug, Serialize, ToSchema)]
pub struct GuestTimeline {
    #[schema(value_type = String)]
    pub guest_id: herald::ids::GuestId,
    /// Oldest first: what the guest was sent, then what they will get.
    pub entries: Vec<TimelineEntry>,
}

/// One guest's timeline in the event: every message they were sent (campaigns, journey steps,
/// transactional) with its delivery story, and the journey's scheduled steps they will get.
#[utoipa::path(get, path = "/api/v1/events/{id}/guests/{guest_id}/timeline", tag = "journeys",
    params(("id" = herald::ids::EventId, Path), ("guest_id" = herald::ids::GuestId, Path), TenantQuery),
    responses((status = 200, body = GuestTimeline)), security(("api_key" = [])))]
pub async fn get_guest_timeline(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, guest_id)): Path<(String, String)>,
    StrictQuery(q): StrictQuery<TenantQuery>,
) -> ApiResult<Json<GuestTimeline>> {
    let (tenant, event_id, guest_id) =
        super::guests::guest_ids(&state, &principal, &q, &id, &guest_id).await?;
    let guest = state
        .store
        .get_guest(tenant, event_id, guest_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let campaigns: Vec<_> = state
        .store
        .list_campaigns(tenant)
        .await?
        .into_iter()
        .filter(|c| c.event_id == event_id)
        .collect();
    let mut ids: Vec<MessageId> = campaigns
        .iter()
        .map(|c| MessageId::derived(&[&c.id.to_string(), &guest.id.to_string()]))
        .collect();
    ids.extend(
        state
            .store
            .contact_message_ids(tenant, guest.contact_id)
            .await?,
    );
    let mut entries = Vec::new();
    for (m, events) in state.store.messages_with_events(tenant, ids).await? {
        if m.event_id != event_id {
            continue;
        }
        let step = campaigns
            .iter()
            .find(|c| Some(c.id) == m.campaign_id)
            .and_then(|c| c.journey_step.clone());
        entries.push(TimelineEntry {
            at: m.sent_at.unwrap_or(m.created_at),
            kind: "sent".into(),
            step,
            campaign_id: m.campaign_id,
            category: m.category,
            channels: m.channel.into_iter().collect(),
            message_id: Some(m.id),
            status: Some(m.status),
            delivery_state: herald::tracking::delivery_state(&events),
            unless_reached: None,
        });
    }
    let (event, snapshot, occurrences) = tokio::try_join!(
        state.store.get_event(tenant, event_id),
        state.store.get_snapshot(tenant, event_id, None),
        state.store.occurrences(tenant, event_id),
    )?;
    let journey = snapshot.and_then(|s| s.content.journey).unwrap_or_default();
    let now = Utc::now();
    for o in occurrences
        .iter()
        .filter(|o| o.status == OccurrenceStatus::Scheduled)
    {
        let Some(step) = journey.step(&o.key) else {
            continue;
        };
        let (includes, unless_reached) = match &step.audience {
            StepAudience::FollowUp { not_reached, .. } => (true, Some(*not_reached)),
            audience => (audience.campaign_audience(event_id).includes(&guest), None),
        };
        if !includes
            || event
                .as_ref()
                .is_some_and(|e| e.fields.status == EventStatus::Cancelled)
        {
            continue;
        }
        entries.push(TimelineEntry {
            at: o.due_at.unwrap_or(now),
            kind: "upcoming".into(),
            step: Some(o.key.clone()),
            campaign_id: Some(o.campaign_id),
            category: step.category,
            channels: step.channels.clone(),
            message_id: None,
            status: None,
            delivery_state: None,
            unless_reached,
        });
    }
    entries.sort_by_key(|e| (e.kind != "sent", e.at));
    Ok(Json(GuestTimeline {
        guest_id: guest.id,
        entries,
    }))
}
