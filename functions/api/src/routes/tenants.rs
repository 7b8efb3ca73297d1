//! Tenants: created and listed by platform administrators.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::Utc;
use herald::ids::TenantId;
use herald::store::Tenant;
use serde::Deserialize;
use utoipa::ToSchema;

use super::{ListOf, check_name, next_version, reject_if_any};
use crate::auth::Principal;
use crate::extract::{JsonBody, path_id};
use crate::problem::responses::{Conflict, Forbidden};
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantIn {
    #[schema(value_type = crate::doc::Name)]
    pub name: String,
    /// Days message records are kept (1 to 3,650; 400 when absent).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 3650)]
    pub retention_days: Option<u32>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantPut {
    /// The version you read; a stale one is a 409.
    pub version: u64,
    #[schema(value_type = crate::doc::Name)]
    pub name: String,
    /// Days message records are kept (1 to 3,650; 400 when absent). Applies to messages
    /// recorded from now on.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 3650)]
    pub retention_days: Option<u32>,
}

fn check_retention(days: Option<u32>, issues: &mut Vec<herald::providers::FieldIssue>) {
    if let Some(d) = days
        && !herald::store::RETENTION_DAYS.contains(&d)
    {
        issues.push(herald::providers::FieldIssue::new(
            "retention_days",
            "1 to 3,650 days",
        ));
    }
}

super::api_routes! {
    (create_tenant, list_tenants),
    (get_tenant, update_tenant),
}

/// Create a tenant (platform administrators).
#[utoipa::path(post, path = "/api/v1/tenants", tag = "tenants", request_body = TenantIn,
    responses((status = 201, body = Tenant), Forbidden), security(("api_key" = [])))]
pub async fn create_tenant(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<TenantIn>,
) -> ApiResult<(StatusCode, Json<Tenant>)> {
    principal.require_platform_admin()?;
    let mut issues = Vec::new();
    let name = check_name("name", &body.name, &mut issues);
    check_retention(body.retention_days, &mut issues);
    reject_if_any(issues)?;
    let now = Utc::now();
    let tenant = Tenant {
        id: TenantId::new(),
        name,
        retention_days: body.retention_days,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    state.store.create_tenant(&tenant).await?;
    tracing::info!(tenant_id = %tenant.id, "tenant created");
    Ok((StatusCode::CREATED, Json(tenant)))
}

/// List tenants: every tenant for platform administrators, one's own for tenant keys.
#[utoipa::path(get, path = "/api/v1/tenants", tag = "tenants",
    responses((status = 200, body = ListOf<Tenant>)), security(("api_key" = [])))]
pub async fn list_tenants(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<ListOf<Tenant>>> {
    let tenants = match principal.tenant {
        None => state.store.list_tenants().await?,
        Some(own) => state.store.get_tenant(own).await?.into_iter().collect(),
    };
    Ok(Json(ListOf::new(tenants)))
}

/// Read a tenant.
#[utoipa::path(get, path = "/api/v1/tenants/{id}", tag = "tenants", params(("id" = TenantId, Path)),
    responses((status = 200, body = Tenant)), security(("api_key" = [])))]
pub async fn get_tenant(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Tenant>> {
    let id = principal.tenant_scope(Some(path_id(&id)?))?;
    state
        .store
        .get_tenant(id)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound)
}

/// Rename a tenant (tenant or platform administrators).
#[utoipa::path(put, path = "/api/v1/tenants/{id}", tag = "tenants", params(("id" = TenantId, Path)), request_body = TenantPut,
    responses((status = 200, body = Tenant), Forbidden, Conflict), security(("api_key" = [])))]
pub async fn update_tenant(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<TenantPut>,
) -> ApiResult<Json<Tenant>> {
    let id = principal.tenant_scope(Some(path_id(&id)?))?;
    principal.require_tenant_admin()?;
    let mut issues = Vec::new();
    let name = check_name("name", &body.name, &mut issues);
    check_retention(body.retention_days, &mut issues);
    reject_if_any(issues)?;
    let current = state
        .store
        .get_tenant(id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let updated = Tenant {
        name,
        retention_days: body.retention_days,
        version: next_version(body.version),
        updated_at: Utc::now(),
        ..current
    };
    state.store.replace_tenant(&updated, body.version).await?;
    Ok(Json(updated))
}
