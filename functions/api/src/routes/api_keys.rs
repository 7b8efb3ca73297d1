//! API keys: created with a role, listed, revoked. The secret is shown once, at creation.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use herald::domain::Role;
use herald::ids::{ApiKeyId, EventId, TenantId};
use herald::store::{ApiKey, ApiKeyRecord, new_secret};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ListOf, check_name, reject_if_any};
use crate::auth::Principal;
use crate::extract::{JsonBody, StrictQuery, path_id};
use crate::problem::responses::Forbidden;
use crate::problem::{ApiError, ApiResult};
use crate::scope::{TenantQuery, tenant_of};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyIn {
    #[schema(value_type = crate::doc::Name)]
    pub name: String,
    /// `platform_admin` keys are created without `tenant_id`; `tenant_admin` and
    /// `event_manager` keys with it (tenant keys imply their own tenant).
    pub role: Role,
    /// Event managers only, and for them required: the events of the tenant the key may see
    /// and configure (1 to 100, each an event of the tenant). Other roles leave it out or empty.
    #[serde(default)]
    #[schema(max_items = 100)]
    pub event_ids: Vec<EventId>,
    /// When the key stops working: in the future, at most 10 years away; never when absent.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateIn {
    /// How long the old key keeps working, so its users can switch: 0 to 2,592,000 seconds
    /// (30 days); 86,400 (a day) when absent.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 2592000)]
    pub grace_seconds: Option<i64>,
}

/// A rotation: the new key with its secret (shown once) and the old key with its expiry.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyRotated {
    pub key: ApiKeyCreated,
    pub previous: ApiKey,
}

/// A new key with its secret: store the secret now, it is never shown again.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyCreated {
    #[serde(flatten)]
    pub key: ApiKey,
    pub secret: String,
}

super::api_routes! {
    (create_api_key, list_api_keys),
    (get_api_key, revoke_api_key),
    (rotate_api_key),
}

/// Which keys a request is about: a tenant's, or with a platform key and no `tenant_id`, the
/// platform's own.
async fn key_owner(
    state: &AppState,
    principal: &Principal,
    requested: Option<TenantId>,
) -> ApiResult<Option<TenantId>> {
    principal.require_tenant_admin()?;
    match (principal.tenant, requested) {
        (None, None) => Ok(None),
        _ => Ok(Some(tenant_of(state, principal, requested).await?)),
    }
}

/// Create an API key. Platform administrators create platform keys (no `tenant_id`) or keys of
/// any tenant; tenant administrators create tenant_admin and event_manager keys of their tenant.
#[utoipa::path(post, path = "/api/v1/api-keys", tag = "api-keys", params(TenantQuery), request_body = ApiKeyIn,
    responses((status = 201, body = ApiKeyCreated), Forbidden), security(("api_key" = [])))]
pub async fn create_api_key(
    State(state): State<AppState>,
    principal: Principal,
    StrictQuery(query): StrictQuery<TenantQuery>,
    JsonBody(body): JsonBody<ApiKeyIn>,
) -> ApiResult<(StatusCode, Json<ApiKeyCreated>)> {
    let owner = key_owner(&state, &principal, query.tenant_id).await?;
    let mut issues = Vec::new();
    let name = check_name("name", &body.name, &mut issues);
    match (owner, body.role) {
        (None, Role::PlatformAdmin) | (Some(_), Role::TenantAdmin | Role::EventManager) => {}
        (None, _) => {
            return Err(ApiError::BadRequest(
                "tenant keys need the tenant_id query parameter".to_owned(),
            ));
        }
        (Some(_), Role::PlatformAdmin) => issues.push(herald::providers::FieldIssue::new(
            "role",
            "platform_admin keys belong to no tenant: leave tenant_id out",
        )),
    }
    if body.role == Role::EventManager && body.event_ids.is_empty() {
        issues.push(herald::providers::FieldIssue::new(
            "event_ids",
            "an event_manager key needs at least one event",
        ));
    }
    if body.role != Role::EventManager && !body.event_ids.is_empty() {
        issues.push(herald::providers::FieldIssue::new(
            "event_ids",
            "only event_manager keys are scoped to events",
        ));
    }
    let now = Utc::now();
    if let Some(at) = body.expires_at
        && (at <= now || at > now + chrono::Duration::days(3653))
    {
        issues.push(herald::providers::FieldIssue::new(
            "expires_at",
            "in the future, at most 10 years away",
        ));
    }
    if body.event_ids.len() > 100 {
        issues.push(herald::providers::FieldIssue::new(
            "event_ids",
            "at most 100 events",
        ));
    }
    reject_if_any(issues)?;
    if let Some(tenant) = owner {
        for (i, event) in body.event_ids.iter().enumerate() {
            if state.store.get_event(tenant, *event).await?.is_none() {
                return Err(ApiError::invalid_field(
                    &format!("event_ids[{i}]"),
                    "no such event in this tenant",
                ));
            }
        }
    }
    let (secret, secret_hash) = new_secret();
    let key = ApiKey {
        id: ApiKeyId::new(),
        name,
        role: body.role,
        tenant_id: owner,
        event_ids: body.event_ids,
        secret_hint: secret.chars().take(8).collect(),
        created_at: now,
        revoked_at: None,
        expires_at: body.expires_at,
        replaced_by: None,
    };
    state
        .store
        .create_api_key(
            owner,
            &ApiKeyRecord {
                key: key.clone(),
                secret_hash,
            },
        )
        .await?;
    tracing::info!(key_id = %key.id, role = %key.role, "API key created");
    Ok((StatusCode::CREATED, Json(ApiKeyCreated { key, secret })))
}

/// List API keys (revoked ones included, marked by `revoked_at`).
#[utoipa::path(get, path = "/api/v1/api-keys", tag = "api-keys", params(TenantQuery),
    responses((status = 200, body = ListOf<ApiKey>), Forbidden), security(("api_key" = [])))]
pub async fn list_api_keys(
    State(state): State<AppState>,
    principal: Principal,
    StrictQuery(query): StrictQuery<TenantQuery>,
) -> ApiResult<Json<ListOf<ApiKey>>> {
    let owner = key_owner(&state, &principal, query.tenant_id).await?;
    Ok(Json(ListOf::new(state.store.list_api_keys(owner).await?)))
}

/// Read an API key.
#[utoipa::path(get, path = "/api/v1/api-keys/{id}", tag = "api-keys", params(("id" = ApiKeyId, Path), TenantQuery),
    responses((status = 200, body = ApiKey), Forbidden), security(("api_key" = [])))]
pub async fn get_api_key(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(query): StrictQuery<TenantQuery>,
) -> ApiResult<Json<ApiKey>> {
    let id: ApiKeyId = path_id(&id)?;
    let owner = key_owner(&state, &principal, query.tenant_id).await?;
    state
        .store
        .get_api_key(owner, id)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound)
}

/// Rotate an API key: a new key with the same name, role, tenant and events (its secret is
/// shown once), while the old one keeps working for `grace_seconds` and then expires. A
/// revoked, expired or already rotated key cannot be rotated (404).
#[utoipa::path(post, path = "/api/v1/api-keys/{id}/rotate", tag = "api-keys", params(("id" = ApiKeyId, Path), TenantQuery),
    request_body(content = Option<RotateIn>, description = "optional: an empty body keeps the defaults"),
    responses((status = 201, body = ApiKeyRotated), Forbidden), security(("api_key" = [])))]
pub async fn rotate_api_key(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(query): StrictQuery<TenantQuery>,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<ApiKeyRotated>)> {
    let id: ApiKeyId = path_id(&id)?;
    let body: RotateIn = if body.iter().all(u8::is_ascii_whitespace) {
        RotateIn::default()
    } else {
        crate::extract::parse_json::<Option<RotateIn>>(&body)?.unwrap_or_default()
    };
    let grace = body.grace_seconds.unwrap_or(86_400);
    if !(0..=2_592_000).contains(&grace) {
        return Err(ApiError::invalid_field(
            "grace_seconds",
            "0 to 2,592,000 seconds (30 days)",
        ));
    }
    let owner = key_owner(&state, &principal, query.tenant_id).await?;
    let old = state
        .store
        .get_api_key(owner, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let now = Utc::now();
    let (secret, secret_hash) = new_secret();
    let key = ApiKey {
        id: ApiKeyId::new(),
        name: old.name.clone(),
        role: old.role,
        tenant_id: owner,
        event_ids: old.event_ids.clone(),
        secret_hint: secret.chars().take(8).collect(),
        created_at: now,
        revoked_at: None,
        expires_at: old.expires_at,
        replaced_by: None,
    };
    let previous = state
        .store
        .rotate_api_key(
            owner,
            id,
            &ApiKeyRecord {
                key: key.clone(),
                secret_hash,
            },
            now + chrono::Duration::seconds(grace),
        )
        .await?;
    tracing::info!(key_id = %previous.id, new_key_id = %key.id, "API key rotated");
    Ok((
        StatusCode::CREATED,
        Json(ApiKeyRotated {
            key: ApiKeyCreated { key, secret },
            previous,
        }),
    ))
}

/// Revoke an API key; it stops working at once. Revoking twice is harmless.
#[utoipa::path(delete, path = "/api/v1/api-keys/{id}", tag = "api-keys", params(("id" = ApiKeyId, Path), TenantQuery),
    responses((status = 200, body = ApiKey), Forbidden), security(("api_key" = [])))]
pub async fn revoke_api_key(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(query): StrictQuery<TenantQuery>,
) -> ApiResult<Json<ApiKey>> {
    let id: ApiKeyId = path_id(&id)?;
    let owner = key_owner(&state, &principal, query.tenant_id).await?;
    let key = state.store.revoke_api_key(owner, id, Utc::now()).await?;
    tracing::info!(key_id = %key.id, "API key revoked");
    Ok(Json(key))
}
