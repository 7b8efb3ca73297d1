//! Scoping by query parameters, the same on every route:
//!
//! - `event_id` given: the event layer of that event;
//! - else `tenant_id` given, or the key belongs to a tenant: that tenant's layer;
//! - else (a platform key with neither): the platform layer.
//!
//! Tenant keys may leave `tenant_id` out; naming another tenant is a 404.

use herald::config::Owner;
use herald::ids::{EventId, TenantId};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::Principal;
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ScopeQuery {
    /// The tenant (platform keys only; tenant keys are scoped to their own tenant).
    pub tenant_id: Option<TenantId>,
    /// The event, for the event layer.
    pub event_id: Option<EventId>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TenantQuery {
    /// The tenant (platform keys only; tenant keys are scoped to their own tenant).
    pub tenant_id: Option<TenantId>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// The tenant (platform keys only; tenant keys are scoped to their own tenant).
    pub tenant_id: Option<TenantId>,
    /// The event whose effective configuration to show.
    pub event_id: EventId,
}

/// Resolves a tenant for the caller and checks that it exists (platform keys may name any id).
pub async fn tenant_of(
    state: &AppState,
    principal: &Principal,
    requested: Option<TenantId>,
) -> ApiResult<TenantId> {
    let tenant = principal.tenant_scope(requested)?;
    if principal.tenant.is_none() && state.store.get_tenant(tenant).await?.is_none() {
        return Err(ApiError::NotFound);
    }
    Ok(tenant)
}

/// As [`tenant_of`], for routes only tenant administrators (and platform keys) may use.
pub async fn admin_tenant_of(
    state: &AppState,
    principal: &Principal,
    requested: Option<TenantId>,
) -> ApiResult<TenantId> {
    principal.require_tenant_admin()?;
    tenant_of(state, principal, requested).await
}

/// Resolves an event of the caller's tenant that the key may see and that exists.
pub async fn event_of(
    state: &AppState,
    principal: &Principal,
    tenant: Option<TenantId>,
    event: EventId,
) -> ApiResult<(TenantId, EventId)> {
    let record = event_record(state, principal, tenant, event).await?;
    Ok((record.tenant_id, event))
}

/// As [`event_of`], the event itself.
pub async fn event_record(
    state: &AppState,
    principal: &Principal,
    tenant: Option<TenantId>,
    event: EventId,
) -> ApiResult<herald::store::Event> {
    let tenant = principal.tenant_scope(tenant)?;
    principal.check_event(event)?;
    state
        .store
        .get_event(tenant, event)
        .await?
        .ok_or(ApiError::NotFound)
}

/// The owner (layer) a scoped request addresses, checked to exist and to be visible to the key.
pub async fn owner_of(
    state: &AppState,
    principal: &Principal,
    scope: &ScopeQuery,
) -> ApiResult<Owner> {
    match (scope.tenant_id, scope.event_id) {
        (tenant, Some(event)) => {
            let (tenant, event) = event_of(state, principal, tenant, event).await?;
            Ok(Owner::Event(tenant, event))
        }
        (None, None) if principal.tenant.is_none() => Ok(Owner::Platform),
        (tenant, None) => Ok(Owner::Tenant(tenant_of(state, principal, tenant).await?)),
    }
}

/// Providers exist only at the tenant and event layers.
pub async fn provider_owner_of(
    state: &AppState,
    principal: &Principal,
    scope: &ScopeQuery,
) -> ApiResult<(TenantId, Option<EventId>)> {
    match owner_of(state, principal, scope).await? {
        Owner::Platform => Err(ApiError::BadRequest(
            "providers belong to a tenant or an event: name one with tenant_id or event_id"
                .to_owned(),
        )),
        Owner::Tenant(t) => Ok((t, None)),
        Owner::Event(t, e) => Ok((t, Some(e))),
    }
}
