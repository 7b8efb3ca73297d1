//! Communication providers: tenant defaults and event overrides. Credentials are sealed with
//! KMS on write and only ever shown as masked hints.

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use herald::config::Provider;
use herald::domain::{Channel, Layer, ProviderKind};
use herald::ids::{EventId, ProviderId, TenantId};
use herald::providers::{
    ConnectionCheck, FieldIssue, check_connection, validate_credentials, validate_settings,
};
use herald::store::ProviderHealth;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ListOf, check_name, next_version, reject_if_any};
use crate::auth::Principal;
use crate::extract::{JsonBody, StrictQuery, path_id};
use crate::problem::responses::{Conflict, Forbidden};
use crate::problem::{ApiError, ApiResult};
use crate::scope::{ScopeQuery, provider_owner_of};
use crate::state::AppState;

fn default_priority() -> u32 {
    100
}

fn default_true() -> bool {
    true
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderIn {
    pub kind: ProviderKind,
    #[schema(value_type = crate::doc::Name)]
    pub name: String,
    /// Lower goes first (default 100).
    #[serde(default = "default_priority")]
    pub priority: u32,
    #[serde(default = "default_true")]
    pub active: bool,
    /// The most messages per second to send through this provider (1 to 100,000), across
    /// every sender instance; leave out for no limit of its own. SES is always held to the
    /// account's maximum send rate as well.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100000)]
    pub send_rate: Option<u32>,
    /// Kind-specific (the schema states each kind's): ses {from_address, from_name?,
    /// configuration_set?}; brevo and sendgrid {from_address, from_name?, base_url?}; sns
    /// {sender_id?, sms_type?, origination_number?}; twilio {account_sid, from_number? |
    /// messaging_service_sid?, base_url?}; whatsapp_cloud {phone_number_id,
    /// business_account_id?, api_version?, base_url?}. Text settings are at most 256
    /// characters, `base_url` at most 2,048 (https, on a public address).
    #[schema(value_type = Object)]
    pub settings: serde_json::Value,
    /// brevo, sendgrid: {api_key}; twilio: {auth_token}; whatsapp_cloud: {access_token,
    /// app_secret?, verify_token?}; ses, sns: none (the function's IAM role). Each 1 to 2,048
    /// characters, not all white space.
    #[serde(default)]
    pub credentials: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderPut {
    /// The version you read; a stale one is a 409.
    pub version: u64,
    #[schema(value_type = crate::doc::Name)]
    pub name: String,
    pub priority: u32,
    pub active: bool,
    /// As on create; leave out for no limit.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100000)]
    pub send_rate: Option<u32>,
    /// As on create, for the provider's kind.
    #[schema(value_type = Object)]
    pub settings: serde_json::Value,
    /// New credentials (as on create, for the provider's kind); leave out to keep the stored
    /// ones.
    #[serde(default)]
    pub credentials: Option<BTreeMap<String, String>>,
}

/// A provider as the API shows it: credentials only as masked hints.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderOut {
    pub id: ProviderId,
    pub tenant_id: TenantId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<EventId>,
    pub layer: Layer,
    pub kind: ProviderKind,
    pub channel: Channel,
    pub name: String,
    pub priority: u32,
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send_rate: Option<u32>,
    #[schema(value_type = Object)]
    pub settings: serde_json::Value,
    /// Masked hints, e.g. `{"api_key": "••••abcd"}`.
    pub credentials: BTreeMap<String, String>,
    pub version: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// What the senders saw of it: sends, failures, the last error and its circuit breaker
    /// (absent until it has been used).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<ProviderHealth>,
}

impl ProviderOut {
    fn with_health(mut self, health: Option<ProviderHealth>) -> Self {
        self.health = health;
        self
    }
}

impl From<Provider> for ProviderOut {
    fn from(p: Provider) -> Self {
        Self {
            id: p.id,
            tenant_id: p.tenant_id,
            event_id: p.event_id,
            layer: p.layer,
            kind: p.kind,
            channel: p.channel,
            name: p.name,
            priority: p.priority,
            active: p.active,
            send_rate: p.send_rate,
            settings: p.settings,
            credentials: p.credentials.hints,
            version: p.version,
            created_at: p.created_at,
            updated_at: p.updated_at,
            health: None,
        }
    }
}

super::api_routes! {
    (create_provider, list_providers),
    (get_provider, update_provider, delete_provider),
    (test_provider),
}

fn check_provider(
    state: &AppState,
    kind: ProviderKind,
    name: &str,
    settings: &serde_json::Value,
    credentials: Option<&BTreeMap<String, String>>,
    send_rate: Option<u32>,
) -> ApiResult<(String, serde_json::Value)> {
    let mut issues: Vec<FieldIssue> = Vec::new();
    let name = check_name("name", name, &mut issues);
    if send_rate.is_some_and(|r| !(1..=100_000).contains(&r)) {
        issues.push(FieldIssue::new(
            "send_rate",
            "must be between 1 and 100000 messages per second",
        ));
    }
    let settings = validate_settings(kind, settings, state.url_policy).unwrap_or_else(|mut e| {
        issues.append(&mut e);
        serde_json::Value::Null
    });
    if let Some(Err(mut e)) = credentials.map(|c| validate_credentials(kind, c)) {
        issues.append(&mut e);
    }
    reject_if_any(issues)?;
    Ok((name, settings))
}

/// Add a provider at the tenant layer (a default) or an event (an override).
#[utoipa::path(post, path = "/api/v1/communication/providers", tag = "providers", params(ScopeQuery), request_body = ProviderIn,
    responses((status = 201, body = ProviderOut), Forbidden), security(("api_key" = [])))]
pub async fn create_provider(
    State(state): State<AppState>,
    principal: Principal,
    StrictQuery(scope): StrictQuery<ScopeQuery>,
    JsonBody(body): JsonBody<ProviderIn>,
) -> ApiResult<(StatusCode, Json<ProviderOut>)> {
    let (tenant, event) = provider_owner_of(&state, &principal, &scope).await?;
    if event.is_none() {
        principal.require_tenant_admin()?;
    }
    let (name, settings) = check_provider(
        &state,
        body.kind,
        &body.name,
        &body.settings,
        Some(&body.credentials),
        body.send_rate,
    )?;
    let id = ProviderId::new();
    let credentials = state
        .sealer
        .seal(tenant, &id.to_string(), &body.credentials)
        .await?;
    let now = Utc::now();
    let provider = Provider {
        id,
        tenant_id: tenant,
        event_id: event,
        layer: if event.is_some() {
            Layer::Event
        } else {
            Layer::Tenant
        },
        kind: body.kind,
        channel: body.kind.channel(),
        name,
        priority: body.priority,
        active: body.active,
        send_rate: body.send_rate,
        settings,
        credentials,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    claim_number(&state, &provider).await?;
    state.store.create_provider(tenant, &provider).await?;
    tracing::info!(tenant_id = %tenant, provider_id = %id, kind = %provider.kind, "provider created");
    Ok((StatusCode::CREATED, Json(provider.into())))
}

/// List the providers of the scoped layer (no inheritance; see `/providers/effective`), each
/// with its health: sends, failures, the last error and its circuit breaker.
#[utoipa::path(get, path = "/api/v1/communication/providers", tag = "providers", params(ScopeQuery),
    responses((status = 200, body = ListOf<ProviderOut>)), security(("api_key" = [])))]
pub async fn list_providers(
    State(state): State<AppState>,
    principal: Principal,
    StrictQuery(scope): StrictQuery<ScopeQuery>,
) -> ApiResult<Json<ListOf<ProviderOut>>> {
    let (tenant, event) = provider_owner_of(&state, &principal, &scope).await?;
    let (mut providers, health) = tokio::try_join!(
        state.store.list_providers(tenant, event),
        state.store.provider_health(tenant)
    )?;
    providers.sort_by_key(|p| (p.channel, p.priority, p.id));
    let mut health: HashMap<ProviderId, ProviderHealth> =
        health.into_iter().map(|h| (h.provider_id, h)).collect();
    Ok(Json(ListOf::new(
        providers
            .into_iter()
            .map(|p| {
                let h = health.remove(&p.id);
                ProviderOut::from(p).with_health(h)
            })
            .collect(),
    )))
}

async fn find(
    state: &AppState,
    principal: &Principal,
    scope: &ScopeQuery,
    id: &str,
) -> ApiResult<Provider> {
    let (tenant, event) = provider_owner_of(state, principal, scope).await?;
    state
        .store
        .get_provider(tenant, event, path_id(id)?)
        .await?
        .ok_or(ApiError::NotFound)
}

/// Read a provider, with its health.
#[utoipa::path(get, path = "/api/v1/communication/providers/{id}", tag = "providers", params(("id" = ProviderId, Path), ScopeQuery),
    responses((status = 200, body = ProviderOut)), security(("api_key" = [])))]
pub async fn get_provider(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(scope): StrictQuery<ScopeQuery>,
) -> ApiResult<Json<ProviderOut>> {
    let provider = find(&state, &principal, &scope, &id).await?;
    let health = state
        .store
        .provider_health(provider.tenant_id)
        .await?
        .into_iter()
        .find(|h| h.provider_id == provider.id);
    Ok(Json(ProviderOut::from(provider).with_health(health)))
}

/// Replace a provider's name, priority, active flag, settings and (optionally) credentials.
#[utoipa::path(put, path = "/api/v1/communication/providers/{id}", tag = "providers", params(("id" = ProviderId, Path), ScopeQuery), request_body = ProviderPut,
    responses((status = 200, body = ProviderOut), Forbidden, Conflict), security(("api_key" = [])))]
pub async fn update_provider(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(scope): StrictQuery<ScopeQuery>,
    JsonBody(body): JsonBody<ProviderPut>,
) -> ApiResult<Json<ProviderOut>> {
    let current = find(&state, &principal, &scope, &id).await?;
    if current.event_id.is_none() {
        principal.require_tenant_admin()?;
    }
    let (name, settings) = check_provider(
        &state,
        current.kind,
        &body.name,
        &body.settings,
        body.credentials.as_ref(),
        body.send_rate,
    )?;
    let credentials = match &body.credentials {
        Some(fields) => {
            state
                .sealer
                .seal(current.tenant_id, &current.id.to_string(), fields)
                .await?
        }
        None => current.credentials.clone(),
    };
    let updated = Provider {
        name,
        priority: body.priority,
        active: body.active,
        send_rate: body.send_rate,
        settings,
        credentials,
        version: next_version(body.version),
        updated_at: Utc::now(),
        ..current
    };
    claim_number(&state, &updated).await?;
    state
        .store
        .replace_provider(updated.tenant_id, &updated, body.version)
        .await?;
    Ok(Json(updated.into()))
}

/// An SMS provider's origination number receives the guests' two-way SMS (End User Messaging
/// publishes them with the number they were sent to): it is claimed for the tenant, and a
/// number another tenant holds is a 409.
async fn claim_number(state: &AppState, provider: &Provider) -> ApiResult<()> {
    let Ok(herald::providers::ProviderSettings::Sns(s)) =
        herald::providers::ProviderSettings::parse(provider.kind, &provider.settings)
    else {
        return Ok(());
    };
    let Some(number) = s.origination_number else {
        return Ok(());
    };
    let claim = herald::store::InboundNumber {
        number: number.as_str().to_owned(),
        tenant_id: provider.tenant_id,
        provider_id: provider.id,
    };
    match state.store.claim_inbound_number(&claim).await {
        Err(herald::store::StoreError::AlreadyExists) => Err(ApiError::Conflict {
            detail:
                "settings.origination_number: another tenant's provider receives on this number"
                    .into(),
            current_version: None,
        }),
        other => Ok(other?),
    }
}

/// Delete a provider.
#[utoipa::path(delete, path = "/api/v1/communication/providers/{id}", tag = "providers", params(("id" = ProviderId, Path), ScopeQuery),
    responses((status = 204, description = "Deleted"), Forbidden), security(("api_key" = [])))]
pub async fn delete_provider(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(scope): StrictQuery<ScopeQuery>,
) -> ApiResult<StatusCode> {
    let current = find(&state, &principal, &scope, &id).await?;
    if current.event_id.is_none() {
        principal.require_tenant_admin()?;
    }
    state
        .store
        .delete_provider(current.tenant_id, current.event_id, current.id)
        .await?;
    tracing::info!(provider_id = %current.id, "provider deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// Test a provider's connection: SES GetEmailIdentity of the sender, SNS GetSMSAttributes, or
/// one cheap authenticated call to the HTTP provider's API.
#[utoipa::path(post, path = "/api/v1/communication/providers/{id}/test", tag = "providers", params(("id" = ProviderId, Path), ScopeQuery),
    responses((status = 200, body = ConnectionCheck)), security(("api_key" = [])))]
pub async fn test_provider(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(scope): StrictQuery<ScopeQuery>,
) -> ApiResult<Json<ConnectionCheck>> {
    let provider = find(&state, &principal, &scope, &id).await?;
    let credentials = state
        .sealer
        .open(
            provider.tenant_id,
            &provider.id.to_string(),
            &provider.credentials,
        )
        .await?;
    let check = check_connection(
        &state.providers,
        provider.kind,
        &provider.settings,
        &credentials,
    )
    .await;
    tracing::info!(provider_id = %provider.id, ok = check.ok, "provider connection tested");
    Ok(Json(check))
}
