//! Conversation settings, at the tenant's layer and the event's: the HELP answer, the team's
//! hours, automatic-reply and routing rules, and queues' escalation limits (see
//! `herald::conversations::rules`). An event's rules are tried before the tenant's and replace
//! the tenant's rule of the same id.

use axum::Json;
use axum::extract::{Path, State};
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
    let stored = ConversationSettings {
        version: super::next_version(expected),
        ..settings
    };
    state
        .store
        .put_conversation_settings(tenant, event, &stored, expected)
        .await?;
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

/// Replaces an event's conversation settings.
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
