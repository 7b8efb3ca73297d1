//! A tenant's outgoing webhook endpoints: registration (the signing secret is shown once),
//! changes, secret rotation (old and new both sign for 24 hours), the attempts made and a
//! message's replay. Tenant administrators only; secrets are sealed with KMS and never shown
//! again, only a hint.
//!
//! (`/api/v1/webhooks/...` are the providers' inbound status callbacks, not these.)

use std::collections::{BTreeMap, BTreeSet};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use herald::config::SealedCredentials;
use herald::ids::{TenantId, WebhookId, WebhookMessageId};
use herald::providers::FieldIssue;
use herald::store::StoreError;
use herald::webhooks::{
    Attempt, Endpoint, EndpointStatus, MAX_ENDPOINTS, ROTATION_OVERLAP, SECRET_FIELD, SECRET_OWNER,
    WebhookEventType, WebhookJob, WebhookMessage, WebhookSecret, check_endpoint_host,
    check_endpoint_url,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ListOf, reject_if_any};
use crate::auth::Principal;
use crate::extract::{JsonBody, StrictQuery};
use crate::problem::responses::{BadGateway, Conflict, Forbidden, Unprocessable};
use crate::problem::{ApiError, ApiResult};
use crate::scope::{TenantQuery, admin_tenant_of};
use crate::state::AppState;

super::api_routes! {
    (list_endpoints, create_endpoint),
    (get_endpoint, update_endpoint, delete_endpoint),
    (rotate_secret),
    (list_attempts),
    (get_webhook_message),
    (replay_message),
}

const MAX_DESCRIPTION: usize = 200;

/// Register an endpoint.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointIn {
    #[schema(value_type = crate::doc::EndpointUrl)]
    pub url: String,
    /// The events to send it (at least one).
    #[schema(min_items = 1)]
    pub event_types: Vec<WebhookEventType>,
    /// At most 200 characters, no control characters.
    #[serde(default)]
    #[schema(max_length = 200, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub description: Option<String>,
}

/// Change an endpoint: what is given changes, the rest stays.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointPatch {
    #[serde(default)]
    #[schema(value_type = Option<crate::doc::EndpointUrl>)]
    pub url: Option<String>,
    /// At least one.
    #[serde(default)]
    #[schema(min_items = 1)]
    pub event_types: Option<Vec<WebhookEventType>>,
    /// At most 200 characters, no control characters; an empty text removes it.
    #[serde(default)]
    #[schema(max_length = 200, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub description: Option<String>,
    /// `true` re-enables a disabled endpoint (its failure history starts again); `false`
    /// disables it.
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// An endpoint as shown: its secret only as a hint.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointView {
    pub id: WebhookId,
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub event_types: Vec<WebhookEventType>,
    pub status: EndpointStatus,
    /// Why it is disabled: by the tenant, `answered 410 Gone ...`, or `every delivery failed
    /// since ...`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_at: Option<DateTime<Utc>>,
    /// Every delivery has failed since then (it is disabled after 5 days of it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<DateTime<Utc>>,
    /// e.g. `••••abcd`.
    pub secret_hint: String,
    /// Until then the previous secret signs too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Endpoint> for EndpointView {
    fn from(e: Endpoint) -> Self {
        let now = Utc::now();
        Self {
            id: e.id,
            url: e.url,
            description: e.description,
            event_types: e.event_types.into_iter().collect(),
            status: e.status,
            disabled_reason: e.disabled_reason,
            disabled_at: e.disabled_at,
            failing_since: e.failing_since,
            secret_hint: e
                .secret
                .hints
                .get(SECRET_FIELD)
                .cloned()
                .unwrap_or_default(),
            previous_secret_expires_at: e.previous_expires_at.filter(|t| *t > now),
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

/// A new endpoint, with its signing secret: shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointCreated {
    pub endpoint: EndpointView,
    /// `whsec_...`: verify `webhook-signature` with it (Standard Webhooks).
    pub secret: String,
}

/// A rotated secret: the new one is shown this once; the old one signs too until
/// `previous_secret_expires_at`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecretRotated {
    pub endpoint: EndpointView,
    pub secret: String,
    pub previous_secret_expires_at: DateTime<Utc>,
}

fn endpoint_id(id: &str) -> ApiResult<WebhookId> {
    id.parse().map_err(|_| ApiError::NotFound)
}

async fn endpoint_of(state: &AppState, tenant: TenantId, id: WebhookId) -> ApiResult<Endpoint> {
    state
        .store
        .get_webhook_endpoint(tenant, id)
        .await?
        .ok_or(ApiError::NotFound)
}

/// Checks a URL as a tenant gives it: its form and, by resolving its host, where it leads.
async fn checked_url(state: &AppState, url: &str, issues: &mut Vec<FieldIssue>) -> String {
    let url = url.trim();
    match check_endpoint_url(url, state.webhook_policy) {
        Err(m) => issues.push(FieldIssue::new("url", m)),
        Ok(parsed) => {
            if let Err(m) = check_endpoint_host(&parsed, state.webhook_policy).await {
                issues.push(FieldIssue::new("url", m));
            }
        }
    }
    url.to_owned()
}

fn checked_types(
    types: &[WebhookEventType],
    issues: &mut Vec<FieldIssue>,
) -> BTreeSet<WebhookEventType> {
    if types.is_empty() {
        issues.push(FieldIssue::new("event_types", "at least one event type"));
    }
    types.iter().copied().collect()
}

fn checked_description(d: Option<&str>, issues: &mut Vec<FieldIssue>) -> Option<String> {
    let d = d?.trim();
    if d.chars().count() > MAX_DESCRIPTION || d.chars().any(char::is_control) {
        issues.push(FieldIssue::new(
            "description",
            format!("at most {MAX_DESCRIPTION} printable characters"),
        ));
    }
    (!d.is_empty()).then(|| d.to_owned())
}

/// A new secret, sealed for the tenant.
async fn new_secret(
    state: &AppState,
    tenant: TenantId,
) -> ApiResult<(WebhookSecret, SealedCredentials)> {
    let secret = WebhookSecret::generate();
    let sealed = state
        .sealer
        .seal(
            tenant,
            SECRET_OWNER,
            &BTreeMap::from([(SECRET_FIELD.to_owned(), secret.to_string())]),
        )
        .await?;
    Ok((secret, sealed))
}

/// The tenant's endpoints.
#[utoipa::path(get, path = "/api/v1/communication/webhook-endpoints", tag = "webhooks",
    params(TenantQuery),
    responses((status = 200, body = ListOf<EndpointView>), Forbidden), security(("api_key" = [])))]
pub async fn list_endpoints(
    State(state): State<AppState>,
    principal: Principal,
    StrictQuery(q): StrictQuery<TenantQuery>,
) -> ApiResult<Json<ListOf<EndpointView>>> {
    let tenant = admin_tenant_of(&state, &principal, q.tenant_id).await?;
    let list = state.store.webhook_endpoints(tenant).await?;
    Ok(Json(ListOf::new(
        list.into_iter().map(Into::into).collect(),
    )))
}

/// Registers an endpoint; the answer holds its signing secret, shown this once.
#[utoipa::path(post, path = "/api/v1/communication/webhook-endpoints", tag = "webhooks",
    params(TenantQuery), request_body = EndpointIn,
    responses((status = 201, body = EndpointCreated), Forbidden, Conflict), security(("api_key" = [])))]
pub async fn create_endpoint(
    State(state): State<AppState>,
    principal: Principal,
    StrictQuery(q): StrictQuery<TenantQuery>,
    JsonBody(body): JsonBody<EndpointIn>,
) -> ApiResult<(StatusCode, Json<EndpointCreated>)> {
    let tenant = admin_tenant_of(&state, &principal, q.tenant_id).await?;
    let mut issues = Vec::new();
    let event_types = checked_types(&body.event_types, &mut issues);
    let description = checked_description(body.description.as_deref(), &mut issues);
    let url = checked_url(&state, &body.url, &mut issues).await;
    reject_if_any(issues)?;
    if state.store.webhook_endpoints(tenant).await?.len() >= MAX_ENDPOINTS {
        return Err(ApiError::Conflict {
            detail: format!("a tenant may register at most {MAX_ENDPOINTS} endpoints"),
            current_version: None,
        });
    }
    let (secret, sealed) = new_secret(&state, tenant).await?;
    let now = Utc::now();
    let endpoint = Endpoint {
        id: WebhookId::new(),
        tenant_id: tenant,
        url,
        description,
        event_types,
        status: EndpointStatus::Enabled,
        disabled_reason: None,
        disabled_at: None,
        failing_since: None,
        secret: sealed,
        previous_secret: None,
        previous_expires_at: None,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    state.store.put_webhook_endpoint(tenant, &endpoint).await?;
    tracing::info!(tenant_id = %tenant, endpoint_id = %endpoint.id, "webhook endpoint registered");
    Ok((
        StatusCode::CREATED,
        Json(EndpointCreated {
            endpoint: endpoint.into(),
            secret: secret.to_string(),
        }),
    ))
}

/// One endpoint, with its state (why it is disabled, since when it fails).
#[utoipa::path(get, path = "/api/v1/communication/webhook-endpoints/{id}", tag = "webhooks",
    params(("id" = WebhookId, Path), TenantQuery),
    responses((status = 200, body = EndpointView), Forbidden), security(("api_key" = [])))]
pub async fn get_endpoint(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(q): StrictQuery<TenantQuery>,
) -> ApiResult<Json<EndpointView>> {
    let tenant = admin_tenant_of(&state, &principal, q.tenant_id).await?;
    let id = endpoint_id(&id)?;
    Ok(Json(endpoint_of(&state, tenant, id).await?.into()))
}

/// Applies a read-modify-write to an endpoint, again when the deliverer changed it meanwhile.
async fn change_endpoint(
    state: &AppState,
    tenant: TenantId,
    id: WebhookId,
    change: impl Fn(&mut Endpoint),
) -> ApiResult<Endpoint> {
    for _ in 0..3 {
        let mut e = endpoint_of(state, tenant, id).await?;
        change(&mut e);
        e.version += 1;
        e.updated_at = Utc::now();
        match state.store.put_webhook_endpoint(tenant, &e).await {
            Ok(()) => return Ok(e),
            Err(StoreError::StaleVersion { .. }) => continue,
            Err(StoreError::NotFound) => return Err(ApiError::NotFound),
            Err(other) => return Err(other.into()),
        }
    }
    Err(ApiError::Conflict {
        detail: "the endpoint kept changing; try again".into(),
        current_version: None,
    })
}

/// Changes an endpoint's URL, event types or description, or enables or disables it.
#[utoipa::path(patch, path = "/api/v1/communication/webhook-endpoints/{id}", tag = "webhooks",
    params(("id" = WebhookId, Path), TenantQuery), request_body = EndpointPatch,
    responses((status = 200, body = EndpointView), Forbidden, Conflict), security(("api_key" = [])))]
pub async fn update_endpoint(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(q): StrictQuery<TenantQuery>,
    JsonBody(body): JsonBody<EndpointPatch>,
) -> ApiResult<Json<EndpointView>> {
    let tenant = admin_tenant_of(&state, &principal, q.tenant_id).await?;
    let id = endpoint_id(&id)?;
    let mut issues = Vec::new();
    let event_types = body
        .event_types
        .as_deref()
        .map(|t| checked_types(t, &mut issues));
    let description = body
        .description
        .as_deref()
        .map(|d| checked_description(Some(d), &mut issues));
    let url = match body.url.as_deref() {
        Some(u) => Some(checked_url(&state, u, &mut issues).await),
        None => None,
    };
    reject_if_any(issues)?;
    let now = Utc::now();
    let e = change_endpoint(&state, tenant, id, |e| {
        if let Some(u) = &url {
            e.url.clone_from(u);
        }
        if let Some(t) = &event_types {
            e.event_types.clone_from(t);
        }
        if let Some(d) = &description {
            e.description.clone_from(d);
        }
        match body.enabled {
            Some(true) if !e.enabled() => {
                e.status = EndpointStatus::Enabled;
                e.disabled_reason = None;
                e.disabled_at = None;
                e.failing_since = None;
            }
            Some(false) if e.enabled() => {
                e.status = EndpointStatus::Disabled;
                e.disabled_reason = Some("disabled over the API".into());
                e.disabled_at = Some(now);
            }
            _ => {}
        }
    })
    .await?;
    tracing::info!(tenant_id = %tenant, endpoint_id = %id, "webhook endpoint changed");
    Ok(Json(e.into()))
}

/// Deletes an endpoint: nothing more is delivered to it (its records expire in 30 days).
#[utoipa::path(delete, path = "/api/v1/communication/webhook-endpoints/{id}", tag = "webhooks",
    params(("id" = WebhookId, Path), TenantQuery),
    responses((status = 204, description = "Deleted"), Forbidden), security(("api_key" = [])))]
pub async fn delete_endpoint(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(q): StrictQuery<TenantQuery>,
) -> ApiResult<StatusCode> {
    let tenant = admin_tenant_of(&state, &principal, q.tenant_id).await?;
    let id = endpoint_id(&id)?;
    if !state.store.delete_webhook_endpoint(tenant, id).await? {
        return Err(ApiError::NotFound);
    }
    tracing::info!(tenant_id = %tenant, endpoint_id = %id, "webhook endpoint deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// Rotates the signing secret: the answer holds the new one (shown this once); for 24 hours
/// every delivery is signed with both.
#[utoipa::path(post, path = "/api/v1/communication/webhook-endpoints/{id}/rotate-secret",
    tag = "webhooks", params(("id" = WebhookId, Path), TenantQuery),
    responses((status = 200, body = SecretRotated), Forbidden, Conflict), security(("api_key" = [])))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(q): StrictQuery<TenantQuery>,
) -> ApiResult<Json<SecretRotated>> {
    let tenant = admin_tenant_of(&state, &principal, q.tenant_id).await?;
    let id = endpoint_id(&id)?;
    endpoint_of(&state, tenant, id).await?;
    let (secret, sealed) = new_secret(&state, tenant).await?;
    let until = Utc::now()
        + chrono::Duration::from_std(ROTATION_OVERLAP).unwrap_or(chrono::Duration::hours(24));
    let e = change_endpoint(&state, tenant, id, |e| {
        e.previous_secret = Some(std::mem::replace(&mut e.secret, sealed.clone()));
        e.previous_expires_at = Some(until);
    })
    .await?;
    tracing::info!(tenant_id = %tenant, endpoint_id = %id, "webhook secret rotated");
    Ok(Json(SecretRotated {
        endpoint: e.into(),
        secret: secret.to_string(),
        previous_secret_expires_at: until,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AttemptsQuery {
    /// Platform administrators: the tenant.
    #[serde(default)]
    pub tenant_id: Option<TenantId>,
    /// At most this many (1–100, default 20).
    #[serde(default, deserialize_with = "crate::extract::query_integer")]
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i32>,
    /// The `next` of the previous page.
    #[serde(default)]
    #[param(max_length = 200, pattern = "^[A-Za-z0-9#_]*$")]
    pub before: Option<String>,
}

/// A page of attempts, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptList {
    pub items: Vec<Attempt>,
    /// Pass as `before` for the next (older) page; absent on the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// The attempts made to deliver to an endpoint, newest first (kept 30 days).
#[utoipa::path(get, path = "/api/v1/communication/webhook-endpoints/{id}/attempts",
    tag = "webhooks", params(("id" = WebhookId, Path), AttemptsQuery),
    responses((status = 200, body = AttemptList), Forbidden, Unprocessable), security(("api_key" = [])))]
pub async fn list_attempts(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(q): StrictQuery<AttemptsQuery>,
) -> ApiResult<Json<AttemptList>> {
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid_field("limit", "1 to 100"));
    }
    if let Some(b) = &q.before
        && (b.len() > 200
            || !b
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '#' || c == '_'))
    {
        return Err(ApiError::invalid_field(
            "before",
            "the `next` of a previous page",
        ));
    }
    let tenant = admin_tenant_of(&state, &principal, q.tenant_id).await?;
    let id = endpoint_id(&id)?;
    endpoint_of(&state, tenant, id).await?;
    let page = state
        .store
        .webhook_attempts(tenant, id, limit, q.before.as_deref())
        .await?;
    Ok(Json(AttemptList {
        items: page.items,
        next: page.next,
    }))
}

/// A message with its attempts.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookMessageView {
    pub message: WebhookMessage,
    pub attempts: Vec<Attempt>,
}

async fn message_of(
    state: &AppState,
    tenant: TenantId,
    endpoint: WebhookId,
    id: &str,
) -> ApiResult<WebhookMessage> {
    let id: WebhookMessageId = id.parse().map_err(|_| ApiError::NotFound)?;
    state
        .store
        .get_webhook_message(tenant, id)
        .await?
        .filter(|m| m.endpoint_id == endpoint)
        .ok_or(ApiError::NotFound)
}

/// One message sent (or being sent) to an endpoint: its payload, state and attempts.
#[utoipa::path(get, path = "/api/v1/communication/webhook-endpoints/{id}/messages/{message_id}",
    tag = "webhooks",
    params(("id" = WebhookId, Path), ("message_id" = WebhookMessageId, Path), TenantQuery),
    responses((status = 200, body = WebhookMessageView)), security(("api_key" = [])))]
pub async fn get_webhook_message(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, message_id)): Path<(String, String)>,
    StrictQuery(q): StrictQuery<TenantQuery>,
) -> ApiResult<Json<WebhookMessageView>> {
    let tenant = admin_tenant_of(&state, &principal, q.tenant_id).await?;
    let id = endpoint_id(&id)?;
    let message = message_of(&state, tenant, id, &message_id).await?;
    let attempts = state
        .store
        .webhook_message_attempts(tenant, message.id)
        .await?;
    Ok(Json(WebhookMessageView { message, attempts }))
}

/// A replay, queued.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayQueued {
    pub message_id: WebhookMessageId,
    /// The number the replay's first attempt will have.
    pub attempt: u32,
}

/// Delivers a message again, with the same id and payload (and, if it fails, the whole retry
/// schedule again). The endpoint must be enabled.
#[utoipa::path(post,
    path = "/api/v1/communication/webhook-endpoints/{id}/messages/{message_id}/replay",
    tag = "webhooks",
    params(("id" = WebhookId, Path), ("message_id" = WebhookMessageId, Path), TenantQuery),
    responses((status = 202, body = ReplayQueued), Forbidden, Conflict, BadGateway), security(("api_key" = [])))]
pub async fn replay_message(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, message_id)): Path<(String, String)>,
    StrictQuery(q): StrictQuery<TenantQuery>,
) -> ApiResult<(StatusCode, Json<ReplayQueued>)> {
    let tenant = admin_tenant_of(&state, &principal, q.tenant_id).await?;
    let id = endpoint_id(&id)?;
    let endpoint = endpoint_of(&state, tenant, id).await?;
    let message = message_of(&state, tenant, id, &message_id).await?;
    if !endpoint.enabled() {
        return Err(ApiError::Conflict {
            detail: "the endpoint is disabled; enable it first".into(),
            current_version: None,
        });
    }
    let job = WebhookJob {
        tenant_id: tenant,
        endpoint_id: id,
        message_id: message.id,
        event_type: message.event_type,
        payload: message.payload,
        attempt: message.attempts + 1,
        round: 1,
        not_before: None,
        created_at: message.created_at,
    };
    herald::webhooks::emit::send_jobs(&state.queues.sqs, &state.queues.webhooks, &[job], 0)
        .await
        .map_err(ApiError::Upstream)?;
    tracing::info!(tenant_id = %tenant, endpoint_id = %id, webhook_message_id = %message.id, "webhook message replay queued");
    Ok((
        StatusCode::ACCEPTED,
        Json(ReplayQueued {
            message_id: message.id,
            attempt: message.attempts + 1,
        }),
    ))
}
