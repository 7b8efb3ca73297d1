//! An event's configuration with inheritance resolved: each item says which layer supplied it
//! and shows the chain behind it (global → tenant → event).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use herald::config::{ComplianceBlock, Template};
use herald::domain::{Channel, Layer, TemplateCategory};
use herald::ids::{EventId, TenantId};
use herald::resolve::{
    ProviderLink, ResolvedBrandField, ResolvedConfig, TemplateLink, resolve_event_config,
};
use herald::store::Event;
use serde::Serialize;
use utoipa::ToSchema;

use super::providers::ProviderOut;
use crate::auth::Principal;
use crate::extract::{StrictQuery, path_id};
use crate::problem::{ApiError, ApiResult};
use crate::scope::{EventQuery, TenantQuery};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct EffectiveTemplate {
    pub category: TemplateCategory,
    pub channel: Channel,
    /// The layer whose template is in effect.
    pub source: Layer,
    pub template: Template,
    /// Every layer defining this slot, global first.
    pub chain: Vec<TemplateLink>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EffectiveProviders {
    pub channel: Channel,
    pub source: Layer,
    /// Active providers in failover order.
    pub providers: Vec<ProviderOut>,
    /// Each layer's providers for the channel, tenant first.
    pub chain: Vec<ProviderLink>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EffectiveTemplates {
    pub event_id: EventId,
    pub items: Vec<EffectiveTemplate>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EffectiveProviderList {
    pub event_id: EventId,
    pub items: Vec<EffectiveProviders>,
}

/// An event's whole effective configuration.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventConfiguration {
    pub event: Event,
    pub templates: Vec<EffectiveTemplate>,
    pub providers: Vec<EffectiveProviders>,
    /// Per brand field: its value, the layer that supplied it, and the chain.
    pub brand: BTreeMap<String, ResolvedBrandField>,
    /// The platform's locked compliance blocks, always present in every message.
    pub compliance: Vec<ComplianceBlock>,
}

super::api_routes! {
    (effective_templates),
    (effective_providers),
    (get_event_configuration),
}

async fn resolve(
    state: &AppState,
    principal: &Principal,
    tenant: Option<TenantId>,
    event: EventId,
) -> ApiResult<(Event, ResolvedConfig)> {
    let tenant = principal.tenant_scope(tenant)?;
    principal.check_event(event)?;
    let loaded = state
        .store
        .load_event_layers(tenant, event)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok((loaded.event, resolve_event_config(&loaded.layers)))
}

fn templates_of(config: &ResolvedConfig) -> Vec<EffectiveTemplate> {
    config
        .templates
        .iter()
        .map(|t| EffectiveTemplate {
            category: t.category,
            channel: t.channel,
            source: t.source,
            template: t.template.clone(),
            chain: t.chain.clone(),
        })
        .collect()
}

fn providers_of(config: &ResolvedConfig) -> Vec<EffectiveProviders> {
    config
        .providers
        .iter()
        .map(|p| EffectiveProviders {
            channel: p.channel,
            source: p.source,
            providers: p.providers.iter().cloned().map(Into::into).collect(),
            chain: p.chain.clone(),
        })
        .collect()
}

/// The event's effective templates, one per (category, channel) that some layer defines.
#[utoipa::path(get, path = "/api/v1/communication/templates/effective", tag = "templates", params(EventQuery),
    responses((status = 200, body = EffectiveTemplates)), security(("api_key" = [])))]
pub async fn effective_templates(
    State(state): State<AppState>,
    principal: Principal,
    StrictQuery(q): StrictQuery<EventQuery>,
) -> ApiResult<Json<EffectiveTemplates>> {
    let (event, config) = resolve(&state, &principal, q.tenant_id, q.event_id).await?;
    Ok(Json(EffectiveTemplates {
        event_id: event.id,
        items: templates_of(&config),
    }))
}

/// The event's effective providers per channel.
#[utoipa::path(get, path = "/api/v1/communication/providers/effective", tag = "providers", params(EventQuery),
    responses((status = 200, body = EffectiveProviderList)), security(("api_key" = [])))]
pub async fn effective_providers(
    State(state): State<AppState>,
    principal: Principal,
    StrictQuery(q): StrictQuery<EventQuery>,
) -> ApiResult<Json<EffectiveProviderList>> {
    let (event, config) = resolve(&state, &principal, q.tenant_id, q.event_id).await?;
    Ok(Json(EffectiveProviderList {
        event_id: event.id,
        items: providers_of(&config),
    }))
}

/// The event's whole effective configuration: templates, providers, brand and compliance blocks,
/// read in two DynamoDB requests.
#[utoipa::path(get, path = "/api/v1/events/{id}/configuration", tag = "events", params(("id" = EventId, Path), TenantQuery),
    responses((status = 200, body = EventConfiguration)), security(("api_key" = [])))]
pub async fn get_event_configuration(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(q): StrictQuery<TenantQuery>,
) -> ApiResult<Json<EventConfiguration>> {
    let (event, config) = resolve(&state, &principal, q.tenant_id, path_id(&id)?).await?;
    Ok(Json(EventConfiguration {
        templates: templates_of(&config),
        providers: providers_of(&config),
        brand: config
            .brand
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        compliance: config.compliance,
        event,
    }))
}
