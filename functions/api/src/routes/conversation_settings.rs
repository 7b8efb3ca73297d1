//! Conversation settings, at the tenant's layer and the event's: the HELP answer, the team's
//! hours, automatic-reply and routing rules, and queues' escalation limits (see
//! `herald::conversations::rules`). An event's rules are tried before the tenant's and replace
//! the tenant's rule of the same id.
//!
//! New queue limits apply to the conversations guests already wait on: when a layer's limits
//! change, the inbound function is asked (a `Reclock` job) to set their clocks again.

use axum::Json;
use axum::extract::{Path, State};
use herald::conversations::escalation::Reclock;
use herald::conversations::rules::ConversationSettings;
use herald::ids::{EventId, TenantId};

use crate::auth::Principal;
use crate::extract::{JsonBody, StrictQuery, path_id};
use crate::problem::responses::{Conflict, Forbidden, NotFound, Unprocessable};
use crate::problem::{ApiError, ApiResult};
use crate::scope::{TenantQuery, admin_tenant_of, event_of};
use crate::state::AppState;

super::api_routes! {
    (get_tenant_settings, put_tenant_settings),
    (get_event_settings, put_event_settings),
}

/// The most a layer's settings may take, as JSON.
const MAX_STORED_BYTES: usize = 256 * 1024;

async fn put_layer(
    state: &AppState,
    tenant: TenantId,
    event: Option<EventId>,
    settings: ConversationSettings,
) -> ApiResult<Json<ConversationSettings>> {
    let issues = settings.issues();
    if !issues.is_empty() {
        return Err(ApiError::invalid(issues));
    }
    if event.is_some() && settings.help_text.is_some() {
        return Err(ApiError::invalid_field(
            "help_text",
            "the HELP answer is the tenant's (set it on the tenant's settings)",
        ));
    }
    // One item holds a layer's settings: far under DynamoDB's 400 KB.
    if serde_json::to_vec(&settings).map_or(0, |b| b.len()) > MAX_STORED_BYTES {
        return Err(ApiError::invalid_field(
            "rules",
            "the settings take at most 256 KB in all: shorten the rules' words or replies",
        ));
    }
    let expected = settings.version;
    let previous = state
        .store
        .layer_conversation_settings(tenant, event)
        .await?;
    let stored = ConversationSettings {
        version: super::next_version(expected),
        ..settings
    };
    state
        .store
        .put_conversation_settings(tenant, event, &stored, expected)
        .await?;
    if previous.queues != stored.queues {
        // The settings are saved either way: should this fail, a waiting conversation gets
        // the new limit at its guest's next message.
        let job = Reclock {
            herald_reclock: tenant,
            event_id: event,
            cursor: None,
        };
        if let Err(e) = super::inbound_webhooks::to_inbound(state, &job).await {
            tracing::error!(tenant_id = %tenant, error = ?e, "asking for the escalation clocks of new queue limits failed");
        }
    }
    Ok(Json(stored))
}

/// The tenant's conversation settings (version 0 when never set).
#[utoipa::path(get, path = "/api/v1/communication/conversation-settings", tag = "conversations",
    params(TenantQuery),
    responses((status = 200, body = ConversationSettings), Forbidden), security(("api_key" = [])))]
pub async fn get_tenant_settings(
    State(state): State<AppState>,
    principal: Principal,
    StrictQuery(q): StrictQuery<TenantQuery>,
) -> ApiResult<Json<ConversationSettings>> {
    let tenant = admin_tenant_of(&state, &principal, q.tenant_id).await?;
    Ok(Json(
        state
            .store
            .layer_conversation_settings(tenant, None)
            .await?,
    ))
}

/// Replaces the tenant's conversation settings (`version`: the one read; 0 for the first).
/// New queue limits reach waiting conversations too.
#[utoipa::path(put, path = "/api/v1/communication/conversation-settings", tag = "conversations",
    params(TenantQuery), request_body = ConversationSettings,
    responses((status = 200, body = ConversationSettings), Forbidden, Conflict, Unprocessable), security(("api_key" = [])))]
pub async fn put_tenant_settings(
    State(state): State<AppState>,
    principal: Principal,
    StrictQuery(q): StrictQuery<TenantQuery>,
    JsonBody(settings): JsonBody<ConversationSettings>,
) -> ApiResult<Json<ConversationSettings>> {
    let tenant = admin_tenant_of(&state, &principal, q.tenant_id).await?;
    put_layer(&state, tenant, None, settings).await
}

/// An event's conversation settings (its own layer; version 0 when never set).
#[utoipa::path(get, path = "/api/v1/events/{id}/conversation-settings", tag = "conversations",
    params(("id" = EventId, Path), TenantQuery),
    responses((status = 200, body = ConversationSettings), Forbidden, NotFound), security(("api_key" = [])))]
pub async fn get_event_settings(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(q): StrictQuery<TenantQuery>,
) -> ApiResult<Json<ConversationSettings>> {
    let (tenant, event) = event_of(&state, &principal, q.tenant_id, path_id(&id)?).await?;
    Ok(Json(
        state
            .store
            .layer_conversation_settings(tenant, Some(event))
            .await?,
    ))
}

/// Replaces an event's conversation settings (new queue limits reach its waiting
/// conversations too).
#[utoipa::path(put, path = "/api/v1/events/{id}/conversation-settings", tag = "conversations",
    params(("id" = EventId, Path), TenantQuery), request_body = ConversationSettings,
    responses((status = 200, body = ConversationSettings), Forbidden, NotFound, Conflict, Unprocessable), security(("api_key" = [])))]
pub async fn put_event_settings(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(q): StrictQuery<TenantQuery>,
    JsonBody(settings): JsonBody<ConversationSettings>,
) -> ApiResult<Json<ConversationSettings>> {
    let (tenant, event) = event_of(&state, &principal, q.tenant_id, path_id(&id)?).await?;
    put_layer(&state, tenant, Some(event), settings).await
}
