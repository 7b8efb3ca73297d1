//! Events of a tenant.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{NaiveDateTime, Utc};
use herald::domain::{Locale, TimeZone};
use herald::ids::EventId;
use herald::providers::FieldIssue;
use herald::store::{Event, EventFields, EventStatus};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ListOf, check_name, next_version, reject_if_any};
use crate::auth::Principal;
use crate::extract::{JsonBody, StrictQuery, path_id};
use crate::problem::responses::{Conflict, Forbidden};
use crate::problem::{ApiError, ApiResult};
use crate::scope::{TenantQuery, tenant_of};
use crate::state::AppState;

/// A new event. Dates are local to `time_zone`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventIn {
    #[schema(value_type = crate::doc::Name)]
    pub name: String,
    #[schema(value_type = crate::doc::LocalDateTime)]
    pub starts_at: NaiveDateTime,
    /// After `starts_at`.
    #[schema(value_type = crate::doc::LocalDateTime)]
    pub ends_at: NaiveDateTime,
    pub time_zone: TimeZone,
    pub default_locale: Locale,
}

impl From<EventIn> for EventFields {
    fn from(e: EventIn) -> Self {
        Self {
            name: e.name,
            starts_at: e.starts_at,
            ends_at: e.ends_at,
            time_zone: e.time_zone,
            default_locale: e.default_locale,
            status: EventStatus::Active,
        }
    }
}

/// A whole event, with the version it replaces.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventPut {
    /// The version you read; a stale one is a 409.
    pub version: u64,
    #[schema(value_type = crate::doc::Name)]
    pub name: String,
    #[schema(value_type = crate::doc::LocalDateTime)]
    pub starts_at: NaiveDateTime,
    /// After `starts_at`.
    #[schema(value_type = crate::doc::LocalDateTime)]
    pub ends_at: NaiveDateTime,
    pub time_zone: TimeZone,
    pub default_locale: Locale,
    /// `cancelled` cancels the event for good: its pending journey steps are cancelled and
    /// its cancellation steps sent. Absent: unchanged.
    #[serde(default)]
    pub status: Option<EventStatus>,
}

/// An event after a change, with what the change did to its journey.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventChanged {
    #[serde(flatten)]
    pub event: Event,
    /// The journey's steps the change moved, skipped, sent now or cancelled (present when
    /// the event has an active journey).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub journey: Option<JourneyOutcome>,
}

/// What a change of the event did to its journey.
#[derive(Debug, Serialize, ToSchema)]
pub struct JourneyOutcome {
    /// `synced`: every pending step follows the change; `pending`: AWS failed part way, and
    /// the steps follow within a minute or two (the sweep finishes the change).
    pub status: String,
    pub changes: Vec<herald::journeys::StepChanged>,
}

super::api_routes! {
    (create_event, list_events),
    (get_event, update_event),
}

fn check_fields(fields: EventFields) -> ApiResult<EventFields> {
    let mut issues = Vec::new();
    let name = check_name("name", &fields.name, &mut issues);
    if fields.ends_at <= fields.starts_at {
        issues.push(FieldIssue::new("ends_at", "must be after starts_at"));
    }
    reject_if_any(issues)?;
    Ok(EventFields { name, ..fields })
}

/// Create an event (tenant administrators).
#[utoipa::path(post, path = "/api/v1/events", tag = "events", params(TenantQuery), request_body = EventIn,
    responses((status = 201, body = Event), Forbidden), security(("api_key" = [])))]
pub async fn create_event(
    State(state): State<AppState>,
    principal: Principal,
    StrictQuery(query): StrictQuery<TenantQuery>,
    JsonBody(body): JsonBody<EventIn>,
) -> ApiResult<(StatusCode, Json<Event>)> {
    principal.require_tenant_admin()?;
    let tenant = tenant_of(&state, &principal, query.tenant_id).await?;
    let fields = check_fields(body.into())?;
    let now = Utc::now();
    let event = Event {
        id: EventId::new(),
        tenant_id: tenant,
        fields,
        rsvp: None,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    state.store.create_event(tenant, &event).await?;
    tracing::info!(tenant_id = %tenant, event_id = %event.id, "event created");
    Ok((StatusCode::CREATED, Json(event)))
}

/// List the tenant's events (event managers see only theirs).
#[utoipa::path(get, path = "/api/v1/events", tag = "events", params(TenantQuery),
    responses((status = 200, body = ListOf<Event>)), security(("api_key" = [])))]
pub async fn list_events(
    State(state): State<AppState>,
    principal: Principal,
    StrictQuery(query): StrictQuery<TenantQuery>,
) -> ApiResult<Json<ListOf<Event>>> {
    let tenant = tenant_of(&state, &principal, query.tenant_id).await?;
    let mut events = state.store.list_events(tenant).await?;
    events.retain(|e| principal.check_event(e.id).is_ok());
    Ok(Json(ListOf::new(events)))
}

/// Read an event.
#[utoipa::path(get, path = "/api/v1/events/{id}", tag = "events", params(("id" = EventId, Path), TenantQuery),
    responses((status = 200, body = Event)), security(("api_key" = [])))]
pub async fn get_event(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(query): StrictQuery<TenantQuery>,
) -> ApiResult<Json<Event>> {
    let event: EventId = path_id(&id)?;
    let tenant = principal.tenant_scope(query.tenant_id)?;
    principal.check_event(event)?;
    state
        .store
        .get_event(tenant, event)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound)
}

/// Update an event's name, dates, time zone, locale or status. Its journey's pending steps
/// move with it within the request (the answer lists what moved); a step already sent is
/// never sent again; a step whose new time has passed follows its `when_missed`. Cancelling
/// (`status: cancelled`) cancels every pending step and sends the `on_cancel` steps; a
/// cancelled event stays cancelled (409).
#[utoipa::path(put, path = "/api/v1/events/{id}", tag = "events", params(("id" = EventId, Path), TenantQuery), request_body = EventPut,
    responses((status = 200, body = EventChanged), Conflict), security(("api_key" = [])))]
pub async fn update_event(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(query): StrictQuery<TenantQuery>,
    JsonBody(body): JsonBody<EventPut>,
) -> ApiResult<Json<EventChanged>> {
    let event: EventId = path_id(&id)?;
    let tenant = principal.tenant_scope(query.tenant_id)?;
    principal.check_event(event)?;
    let version = body.version;
    let current = state
        .store
        .get_event(tenant, event)
        .await?
        .ok_or(ApiError::NotFound)?;
    let status = body.status.unwrap_or(current.fields.status);
    if current.fields.status == EventStatus::Cancelled && status == EventStatus::Active {
        return Err(ApiError::Conflict {
            detail: "the event was cancelled: a cancelled event stays cancelled".into(),
            current_version: Some(current.version),
        });
    }
    let fields = check_fields(EventFields {
        name: body.name,
        starts_at: body.starts_at,
        ends_at: body.ends_at,
        time_zone: body.time_zone,
        default_locale: body.default_locale,
        status,
    })?;
    let updated = Event {
        fields,
        version: next_version(version),
        updated_at: Utc::now(),
        ..current
    };
    let journey = replace_and_sync(&state, tenant, &updated, version).await?;
    if updated.fields.status != current.fields.status {
        tracing::info!(tenant_id = %tenant, event_id = %event, "event cancelled");
    }
    Ok(Json(EventChanged {
        event: updated,
        journey,
    }))
}

/// Replaces the event (its version `expected`) and brings its journey in line: the event and
/// its journey's mark in one write, so that if the sync stops part way the sweep finishes it.
pub(crate) async fn replace_and_sync(
    state: &AppState,
    tenant: herald::ids::TenantId,
    updated: &Event,
    expected: u64,
) -> ApiResult<Option<JourneyOutcome>> {
    let event = updated.id;
    state
        .store
        .replace_event_marked(tenant, updated, expected)
        .await?;
    Ok(match state.journeys().sync(tenant, event).await {
        Ok(synced) => synced.event_version.map(|_| JourneyOutcome {
            status: "synced".into(),
            changes: synced.changes,
        }),
        Err(e) => {
            tracing::warn!(tenant_id = %tenant, event_id = %event, error = ?e, "moving the journey's steps failed part way; the sweep finishes it");
            Some(JourneyOutcome {
                status: "pending".into(),
                changes: Vec::new(),
            })
        }
    })
}
