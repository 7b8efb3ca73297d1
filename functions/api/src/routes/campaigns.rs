//! Campaigns: create (draft), edit while a draft, send now or at a time (an EventBridge
//! Scheduler one-time schedule that queues the plan job), cancel, and read live counts.

use aws_sdk_dynamodb::types::AttributeValue;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use herald::campaigns::{Audience, Campaign, CampaignCounts, CampaignStatus};
use herald::config::Owner;
use herald::domain::{Channel, TemplateCategory};
use herald::guests::GUEST_SHARDS;
use herald::ids::{CampaignId, EventId, TenantId};
use herald::messages::SenderJob;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::{ListOf, check_name, next_version, reject_if_any};
use crate::auth::Principal;
use crate::extract::{JsonBody, StrictQuery, path_id};
use crate::problem::responses::{BadGateway, Conflict, Unprocessable};
use crate::problem::{ApiError, ApiResult};
use crate::scope::{TenantQuery, event_of};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignIn {
    pub event_id: EventId,
    #[schema(value_type = crate::doc::Name)]
    pub name: String,
    pub category: TemplateCategory,
    /// In order of preference (at least one); a guest's preferred channel wins when it is
    /// listed.
    #[schema(min_items = 1)]
    pub channels: Vec<Channel>,
    pub audience: Audience,
    /// Send at this time (at least 10 seconds ahead) when `send` is called; now when absent.
    pub send_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignPut {
    /// The version you read.
    pub version: u64,
    #[schema(value_type = crate::doc::Name)]
    pub name: String,
    pub category: TemplateCategory,
    /// As on create.
    #[schema(min_items = 1)]
    pub channels: Vec<Channel>,
    pub audience: Audience,
    /// As on create: at least 10 seconds ahead.
    pub send_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CampaignQuery {
    /// The tenant (platform keys only; tenant keys are scoped to their own tenant).
    pub tenant_id: Option<TenantId>,
    /// Only this event's campaigns.
    pub event_id: Option<EventId>,
}

super::api_routes! {
    (create_campaign, list_campaigns),
    (get_campaign, update_campaign),
    (send_campaign),
    (cancel_campaign),
}

fn check(
    name: &str,
    channels: &[Channel],
    audience: &Audience,
    send_at: Option<DateTime<Utc>>,
) -> ApiResult<(String, Vec<Channel>)> {
    let mut issues = Vec::new();
    let name = check_name("name", name, &mut issues);
    let mut unique = Vec::new();
    for c in channels {
        if !unique.contains(c) {
            unique.push(*c);
        }
    }
    if unique.is_empty() {
        issues.push(herald::providers::FieldIssue::new(
            "channels",
            "name at least one channel",
        ));
    }
    if let Some((field, message)) = audience.check() {
        issues.push(herald::providers::FieldIssue::new(field, message));
    }
    if send_at.is_some_and(|at| at < Utc::now() + chrono::Duration::seconds(10)) {
        issues.push(herald::providers::FieldIssue::new(
            "send_at",
            "at least 10 seconds from now",
        ));
    }
    reject_if_any(issues)?;
    Ok((name, unique))
}

/// A follow-up's earlier campaign must be one of the same event (422 otherwise: another
/// tenant's, another event's, or none, alike).
async fn follow_up_of(
    state: &AppState,
    tenant: TenantId,
    event: herald::ids::EventId,
    audience: &herald::campaigns::Audience,
) -> ApiResult<()> {
    let herald::campaigns::Audience::FollowUp { campaign, .. } = audience else {
        return Ok(());
    };
    let earlier = state.store.campaign_item(tenant, *campaign).await?;
    if earlier.is_none_or(|c| c.event_id != event) {
        return Err(ApiError::invalid_field(
            "audience.campaign",
            "a campaign of the same event",
        ));
    }
    Ok(())
}

/// A campaign the key may see.
async fn visible(
    state: &AppState,
    principal: &Principal,
    tenant: Option<TenantId>,
    raw: &str,
) -> ApiResult<(TenantId, Campaign)> {
    let id: CampaignId = path_id(raw)?;
    let tenant = principal.tenant_scope(tenant)?;
    let campaign = state
        .store
        .get_campaign(tenant, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    principal.check_event(campaign.event_id)?;
    Ok((tenant, campaign))
}

/// Create a campaign (a draft): a template category, channels in order of preference, an
/// audience (all guests, by tags, by a field filter, or a list of guest ids), and optionally
/// when to send.
#[utoipa::path(post, path = "/api/v1/communication/campaigns", tag = "campaigns", params(TenantQuery),
    request_body = CampaignIn, responses((status = 201, body = Campaign)), security(("api_key" = [])))]
pub async fn create_campaign(
    State(state): State<AppState>,
    principal: Principal,
    StrictQuery(q): StrictQuery<TenantQuery>,
    JsonBody(body): JsonBody<CampaignIn>,
) -> ApiResult<(StatusCode, Json<Campaign>)> {
    let (tenant, event) = event_of(&state, &principal, q.tenant_id, body.event_id).await?;
    principal.check_write(Owner::Event(tenant, event))?;
    let (name, channels) = check(&body.name, &body.channels, &body.audience, body.send_at)?;
    follow_up_of(&state, tenant, event, &body.audience).await?;
    let now = Utc::now();
    let campaign = Campaign {
        id: CampaignId::new(),
        tenant_id: tenant,
        event_id: event,
        name,
        category: body.category,
        channels,
        audience: body.audience,
        send_at: body.send_at,
        status: CampaignStatus::Draft,
        counts: CampaignCounts::default(),
        expanded_shards: 0,
        batches_expected: 0,
        batches_done: 0,
        batches_waiting: 0,
        expanded_pages: Default::default(),
        snapshot_version: None,
        version: 1,
        created_at: now,
        updated_at: now,
        started_at: None,
        finished_at: None,
        journey_step: None,
    };
    state.store.create_campaign(tenant, &campaign).await?;
    tracing::info!(tenant_id = %tenant, campaign_id = %campaign.id, "campaign created");
    Ok((StatusCode::CREATED, Json(campaign)))
}

/// A tenant's campaigns (an event manager's: its events' only), optionally of one event.
#[utoipa::path(get, path = "/api/v1/communication/campaigns", tag = "campaigns", params(CampaignQuery),
    responses((status = 200, body = ListOf<Campaign>)), security(("api_key" = [])))]
pub async fn list_campaigns(
    State(state): State<AppState>,
    principal: Principal,
    StrictQuery(q): StrictQuery<CampaignQuery>,
) -> ApiResult<Json<ListOf<Campaign>>> {
    let tenant = principal.tenant_scope(q.tenant_id)?;
    // A named event must be one this key sees, as on every other route (404 otherwise).
    if let Some(event) = q.event_id {
        crate::scope::event_of(&state, &principal, Some(tenant), event).await?;
    }
    let all = state.store.list_campaigns(tenant).await?;
    let items = all
        .into_iter()
        .filter(|c| q.event_id.is_none_or(|e| e == c.event_id))
        .filter(|c| principal.check_event(c.event_id).is_ok())
        .collect();
    Ok(Json(ListOf::new(items)))
}

/// One campaign with its status and live counts.
#[utoipa::path(get, path = "/api/v1/communication/campaigns/{id}", tag = "campaigns", params(("id" = CampaignId, Path), TenantQuery),
    responses((status = 200, body = Campaign)), security(("api_key" = [])))]
pub async fn get_campaign(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(q): StrictQuery<TenantQuery>,
) -> ApiResult<Json<Campaign>> {
    Ok(Json(visible(&state, &principal, q.tenant_id, &id).await?.1))
}

/// Edit a draft (its version must be the one you read).
#[utoipa::path(put, path = "/api/v1/communication/campaigns/{id}", tag = "campaigns", params(("id" = CampaignId, Path), TenantQuery),
    request_body = CampaignPut, responses((status = 200, body = Campaign), Conflict), security(("api_key" = [])))]
pub async fn update_campaign(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(q): StrictQuery<TenantQuery>,
    JsonBody(body): JsonBody<CampaignPut>,
) -> ApiResult<Json<Campaign>> {
    let (tenant, current) = visible(&state, &principal, q.tenant_id, &id).await?;
    principal.check_write(Owner::Event(tenant, current.event_id))?;
    if current.status != CampaignStatus::Draft {
        return Err(ApiError::Conflict {
            detail: format!("a {} campaign cannot be edited", current.status.as_str()),
            current_version: Some(current.version),
        });
    }
    let (name, channels) = check(&body.name, &body.channels, &body.audience, body.send_at)?;
    follow_up_of(&state, tenant, current.event_id, &body.audience).await?;
    let updated = Campaign {
        name,
        category: body.category,
        channels,
        audience: body.audience,
        send_at: body.send_at,
        version: next_version(body.version),
        updated_at: Utc::now(),
        ..current
    };
    state
        .store
        .replace_campaign(tenant, &updated, body.version)
        .await?;
    Ok(Json(updated))
}

/// Whether anyone at all is in the audience (reads until the first match).
async fn audience_has_anyone(
    state: &AppState,
    tenant: TenantId,
    campaign: &Campaign,
) -> ApiResult<bool> {
    if let Audience::Guests { ids } = &campaign.audience {
        for chunk in ids.chunks(100) {
            if !state
                .store
                .get_guests(tenant, campaign.event_id, chunk)
                .await?
                .is_empty()
            {
                return Ok(true);
            }
        }
        return Ok(false);
    }
    for shard in 0..GUEST_SHARDS {
        let mut after = None;
        loop {
            let (page, next) = state
                .store
                .guests_of_shard(tenant, campaign.event_id, shard, after, 500)
                .await?;
            if page.iter().any(|g| campaign.audience.includes(g)) {
                return Ok(true);
            }
            match next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
    }
    Ok(false)
}

fn schedule_name(campaign: CampaignId) -> String {
    format!("herald-{campaign}")
}

/// Send a campaign: every guest of the audience gets exactly one message (sent by the sender
/// function from the event's active snapshot). With `send_at` in the future the campaign is
/// scheduled instead (an EventBridge Scheduler one-time schedule). A campaign already sending
/// is resumed (safe: nothing is sent twice). 409 without an active snapshot; 422 for an empty
/// audience.
#[utoipa::path(post, path = "/api/v1/communication/campaigns/{id}/send", tag = "campaigns", params(("id" = CampaignId, Path), TenantQuery),
    responses((status = 202, body = Campaign), Conflict, Unprocessable, BadGateway), security(("api_key" = [])))]
pub async fn send_campaign(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(q): StrictQuery<TenantQuery>,
) -> ApiResult<(StatusCode, Json<Campaign>)> {
    let (tenant, campaign) = visible(&state, &principal, q.tenant_id, &id).await?;
    principal.check_write(Owner::Event(tenant, campaign.event_id))?;
    let plan = SenderJob::Plan {
        tenant_id: tenant,
        campaign_id: campaign.id,
    };
    let plan = serde_json::to_string(&plan).map_err(anyhow::Error::new)?;
    match campaign.status {
        CampaignStatus::Draft | CampaignStatus::Scheduled => {}
        CampaignStatus::Sending => {
            enqueue(&state, plan).await?;
            return Ok((StatusCode::ACCEPTED, Json(campaign)));
        }
        other => {
            return Err(ApiError::Conflict {
                detail: format!("the campaign is already {}", other.as_str()),
                current_version: None,
            });
        }
    }
    let active = state
        .store
        .get_wizard(tenant, campaign.event_id)
        .await?
        .and_then(|w| w.active)
        .ok_or_else(|| ApiError::Conflict {
            detail: "the event has no active snapshot: complete its setup wizard first".into(),
            current_version: None,
        })?;
    if !audience_has_anyone(&state, tenant, &campaign).await? {
        return Err(ApiError::invalid_field(
            "audience",
            "no guest of the event is in the audience",
        ));
    }
    if let Some(at) = campaign.send_at.filter(|at| *at > Utc::now()) {
        if campaign.status == CampaignStatus::Draft {
            schedule(&state, campaign.id, at, &plan).await?;
        }
        let scheduled = state
            .store
            .transition_campaign(
                tenant,
                campaign.id,
                &[CampaignStatus::Draft, CampaignStatus::Scheduled],
                CampaignStatus::Scheduled,
                &[],
            )
            .await?
            .ok_or_else(changed)?;
        return Ok((StatusCode::ACCEPTED, Json(scheduled)));
    }
    let started = state
        .store
        .transition_campaign(
            tenant,
            campaign.id,
            &[CampaignStatus::Draft, CampaignStatus::Scheduled],
            CampaignStatus::Sending,
            &[
                ("started_at", AttributeValue::S(Utc::now().to_rfc3339())),
                (
                    "snapshot_version",
                    AttributeValue::N(active.version.to_string()),
                ),
            ],
        )
        .await?
        .ok_or_else(changed)?;
    if let Err(e) = enqueue(&state, plan).await {
        // Nothing was queued: back to where it was, so sending can be asked for again.
        let _ = state
            .store
            .transition_campaign(
                tenant,
                campaign.id,
                &[CampaignStatus::Sending],
                campaign.status,
                &[],
            )
            .await;
        return Err(e);
    }
    tracing::info!(tenant_id = %tenant, campaign_id = %campaign.id, "campaign sending");
    Ok((StatusCode::ACCEPTED, Json(started)))
}

fn changed() -> ApiError {
    ApiError::Conflict {
        detail: "the campaign changed meanwhile; read it again".into(),
        current_version: None,
    }
}

async fn enqueue(state: &AppState, body: String) -> ApiResult<()> {
    state.queues.to_sender(body).await
}

/// A one-time schedule that queues the plan job at `at` and then deletes itself.
async fn schedule(
    state: &AppState,
    campaign: CampaignId,
    at: DateTime<Utc>,
    plan: &str,
) -> ApiResult<()> {
    state
        .one_time_schedules()
        .put(&schedule_name(campaign), at, None, plan, false)
        .await
        .map_err(ApiError::Upstream)
}

/// Cancel a draft, scheduled or sending campaign: its schedule is deleted and the sender stops
/// at its next batch. Messages already sent stay sent.
#[utoipa::path(post, path = "/api/v1/communication/campaigns/{id}/cancel", tag = "campaigns", params(("id" = CampaignId, Path), TenantQuery),
    responses((status = 200, body = Campaign), Conflict), security(("api_key" = [])))]
pub async fn cancel_campaign(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(q): StrictQuery<TenantQuery>,
) -> ApiResult<Json<Campaign>> {
    let (tenant, campaign) = visible(&state, &principal, q.tenant_id, &id).await?;
    principal.check_write(Owner::Event(tenant, campaign.event_id))?;
    let cancelled = state
        .store
        .transition_campaign(
            tenant,
            campaign.id,
            &[
                CampaignStatus::Draft,
                CampaignStatus::Scheduled,
                CampaignStatus::Sending,
            ],
            CampaignStatus::Cancelled,
            &[("finished_at", AttributeValue::S(Utc::now().to_rfc3339()))],
        )
        .await?
        .ok_or_else(|| ApiError::Conflict {
            detail: format!(
                "a {} campaign cannot be cancelled",
                campaign.status.as_str()
            ),
            current_version: None,
        })?;
    if campaign.status == CampaignStatus::Scheduled {
        let deleted = state
            .schedules
            .client
            .delete_schedule()
            .name(schedule_name(campaign.id))
            .send()
            .await;
        if let Err(e) = deleted
            && !e
                .as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception())
        {
            // The plan job would find the campaign cancelled and do nothing; log and go on.
            tracing::warn!(campaign_id = %campaign.id, error = %e, "deleting the schedule failed");
        }
    }
    Ok(Json(cancelled))
}
