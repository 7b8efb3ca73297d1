//! Journeys' definitions, layered like the rest of Herald: a tenant's standard journey (its
//! usual life cycle, which every event inherits) and an event's changes to it (a step's time
//! moved, a step turned off, a step added). Completing the event's wizard freezes the resolved
//! journey and schedules it; `GET /events/{id}/journey` shows it step by step.

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use herald::config::Owner;
use herald::journeys::{EventJourneyChanges, JourneyDef, StepChange, StepDef, resolve_journey};
use herald::store::{EventJourney, TenantJourney};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::next_version;
use crate::auth::Principal;
use crate::extract::{JsonBody, StrictQuery, path_id};
use crate::problem::responses::{Conflict, Forbidden};
use crate::problem::{ApiError, ApiResult};
use crate::scope::{TenantQuery, event_of, tenant_of};
use crate::state::AppState;

super::api_routes! {
    (get_tenant_journey, put_tenant_journey),
    (get_journey_changes, put_journey_changes),
}

/// The tenant's standard journey.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantJourneyView {
    /// In order; each step's time is relative to the event.
    pub steps: Vec<StepDef>,
    /// 0 when the tenant has none yet.
    pub version: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
}

/// The tenant's whole standard journey, with the version it replaces.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantJourneyPut {
    /// The version you read (0 when the tenant has none yet); a stale one is a 409.
    pub version: u64,
    /// At most 50 steps, each key once. A follow-up must follow an earlier step (checked when
    /// an event's journey is validated, against its times).
    #[schema(max_items = 50)]
    pub steps: Vec<StepDef>,
}

/// An event's changes to the tenant's journey.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventJourneyView {
    /// Changes to the tenant's steps, by key.
    pub changes: Vec<StepChange>,
    /// Steps of the event only.
    pub added: Vec<StepDef>,
    /// 0 when the event has no changes yet.
    pub version: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
}

/// The event's whole set of changes, with the version it replaces.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventJourneyPut {
    /// The version you read (0 when the event has none yet); a stale one is a 409.
    pub version: u64,
    /// Each names a step of the tenant's journey, once; the fields it gives replace the
    /// tenant's (`at: null` clears the tenant's clock time).
    #[serde(default)]
    #[schema(max_items = 50)]
    pub changes: Vec<StepChange>,
    /// Steps of the event only; their keys differ from the tenant's steps'.
    #[serde(default)]
    #[schema(max_items = 50)]
    pub added: Vec<StepDef>,
}

fn invalid(issues: Vec<herald::providers::FieldIssue>) -> ApiResult<()> {
    if issues.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(issues))
    }
}

/// Read the tenant's standard journey (an empty one, version 0, until it has one).
#[utoipa::path(get, path = "/api/v1/communication/journey", tag = "journeys", params(TenantQuery),
    responses((status = 200, body = TenantJourneyView)), security(("api_key" = [])))]
pub async fn get_tenant_journey(
    State(state): State<AppState>,
    principal: Principal,
    StrictQuery(q): StrictQuery<TenantQuery>,
) -> ApiResult<Json<TenantJourneyView>> {
    let tenant = tenant_of(&state, &principal, q.tenant_id).await?;
    let stored = state.store.tenant_journey(tenant).await?;
    Ok(Json(match stored {
        Some(s) => TenantJourneyView {
            steps: s.journey.steps,
            version: s.version,
            updated_at: Some(s.updated_at),
        },
        None => TenantJourneyView {
            steps: Vec::new(),
            version: 0,
            updated_at: None,
        },
    }))
}

/// Write the tenant's standard journey (tenant administrators). Events take it up when their
/// wizard is completed next.
#[utoipa::path(put, path = "/api/v1/communication/journey", tag = "journeys", params(TenantQuery),
    request_body = TenantJourneyPut,
    responses((status = 200, body = TenantJourneyView), Forbidden, Conflict), security(("api_key" = [])))]
pub async fn put_tenant_journey(
    State(state): State<AppState>,
    principal: Principal,
    StrictQuery(q): StrictQuery<TenantQuery>,
    JsonBody(body): JsonBody<TenantJourneyPut>,
) -> ApiResult<Json<TenantJourneyView>> {
    let tenant = tenant_of(&state, &principal, q.tenant_id).await?;
    principal.check_write(Owner::Tenant(tenant))?;
    let journey = JourneyDef { steps: body.steps };
    invalid(journey.issues())?;
    let stored = TenantJourney {
        journey,
        version: next_version(body.version),
        updated_at: Utc::now(),
    };
    state
        .store
        .put_tenant_journey(tenant, &stored, body.version)
        .await?;
    tracing::info!(tenant_id = %tenant, steps = stored.journey.steps.len(), "tenant journey written");
    Ok(Json(TenantJourneyView {
        steps: stored.journey.steps,
        version: stored.version,
        updated_at: Some(stored.updated_at),
    }))
}

/// Read the event's changes to the tenant's journey (none, version 0, until it has some).
#[utoipa::path(get, path = "/api/v1/events/{id}/journey/changes", tag = "journeys",
    params(("id" = herald::ids::EventId, Path), TenantQuery),
    responses((status = 200, body = EventJourneyView)), security(("api_key" = [])))]
pub async fn get_journey_changes(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(q): StrictQuery<TenantQuery>,
) -> ApiResult<Json<EventJourneyView>> {
    let (tenant, event) = event_of(&state, &principal, q.tenant_id, path_id(&id)?).await?;
    Ok(Json(view(state.store.event_journey(tenant, event).await?)))
}

fn view(stored: Option<EventJourney>) -> EventJourneyView {
    match stored {
        Some(s) => EventJourneyView {
            changes: s.changes.changes,
            added: s.changes.added,
            version: s.version,
            updated_at: Some(s.updated_at),
        },
        None => EventJourneyView {
            changes: Vec::new(),
            added: Vec::new(),
            version: 0,
            updated_at: None,
        },
    }
}

/// Write the event's changes to the tenant's journey: they must resolve against the tenant's
/// journey as it is (a change names one of its steps; an added step's key is not one of
/// them). The event takes them up when its wizard is completed next; a step already sending
/// keeps the definition it started with.
#[utoipa::path(put, path = "/api/v1/events/{id}/journey/changes", tag = "journeys",
    params(("id" = herald::ids::EventId, Path), TenantQuery), request_body = EventJourneyPut,
    responses((status = 200, body = EventJourneyView), Conflict), security(("api_key" = [])))]
pub async fn put_journey_changes(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(q): StrictQuery<TenantQuery>,
    JsonBody(body): JsonBody<EventJourneyPut>,
) -> ApiResult<Json<EventJourneyView>> {
    let (tenant, event) = event_of(&state, &principal, q.tenant_id, path_id(&id)?).await?;
    principal.check_write(Owner::Event(tenant, event))?;
    let changes = EventJourneyChanges {
        changes: body.changes,
        added: body.added,
    };
    invalid(changes.issues())?;
    let base = state.store.tenant_journey(tenant).await?;
    if let Err(issues) = resolve_journey(base.as_ref().map(|b| &b.journey), Some(&changes)) {
        invalid(issues)?;
    }
    let stored = EventJourney {
        changes,
        version: next_version(body.version),
        updated_at: Utc::now(),
    };
    state
        .store
        .put_event_journey(tenant, event, &stored, body.version)
        .await?;
    tracing::info!(tenant_id = %tenant, event_id = %event, "event journey changes written");
    Ok(Json(view(Some(stored))))
}
