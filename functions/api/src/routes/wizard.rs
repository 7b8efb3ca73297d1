//! The event setup wizard: its steps (providers, templates, brand, email sender, review), a
//! PUT per step that switches an item between "use the default" and "customise for this
//! event", the readiness report, asynchronous completion, the diff against the active
//! snapshot, and the snapshots themselves.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::Utc;
use herald::config::{Brand, BrandFields, Owner, Provider, Template};
use herald::domain::{Channel, Layer, TemplateCategory};
use herald::ids::{EventId, ProviderId, TemplateId, TenantId};
use herald::store::{LoadedEvent, RequestError, StoreError};
use herald::wizard::diff::{Change, diff};
use herald::wizard::readiness::{Readiness, check_readiness};
use herald::wizard::snapshot::ResolvedEmailSender;
use herald::wizard::{
    ActiveSnapshot, CompletionMessage, CompletionRun, EmailSenderOverride, RUN_LEASE_SECONDS,
    RunStatus, SnapshotContent, SnapshotSummary, Uses, WizardRecord,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ListOf;
use crate::auth::Principal;
use crate::extract::{JsonBody, StrictQuery, path_id};
use crate::problem::responses::{BadGateway, Conflict};
use crate::problem::{ApiError, ApiResult};
use crate::scope::TenantQuery;
use crate::state::AppState;

/// Whether an item is inherited, customised for the event, or missing at every layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ItemMode {
    Inherited,
    Customised,
    Missing,
}

fn mode_of(source: Option<Layer>) -> ItemMode {
    match source {
        None => ItemMode::Missing,
        Some(Layer::Event) => ItemMode::Customised,
        Some(_) => ItemMode::Inherited,
    }
}

/// What a step's PUT switches an item to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Choice {
    /// Use the tenant's (or platform's) item: the event's own is removed.
    Inherit,
    /// Give the event its own item, starting as a copy of the inherited one.
    Customise,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderBrief {
    pub id: ProviderId,
    pub name: String,
    pub kind: herald::domain::ProviderKind,
    pub priority: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderStepItem {
    pub channel: Channel,
    pub mode: ItemMode,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<Layer>,
    /// Active providers in failover order.
    pub providers: Vec<ProviderBrief>,
    /// Whether the event sends on this channel (see the review step's `uses`).
    pub used: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateStepItem {
    pub category: TemplateCategory,
    pub channel: Channel,
    pub mode: ItemMode,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<Layer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_id: Option<TemplateId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    pub used: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BrandStepItem {
    pub field: String,
    pub mode: ItemMode,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<Layer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmailSenderStep {
    pub mode: ItemMode,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender: Option<ResolvedEmailSender>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewStep {
    pub uses: Uses,
    /// True while `uses` is the default (channels with a provider, categories with a template).
    pub uses_default: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<ActiveSnapshot>,
    /// The latest completion: its progress and result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completion: Option<CompletionRun>,
    /// Whether resolving now differs from the active snapshot (`GET .../wizard/diff` says how).
    pub changed_since_active: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WizardSteps {
    pub providers: Vec<ProviderStepItem>,
    pub templates: Vec<TemplateStepItem>,
    pub brand: Vec<BrandStepItem>,
    pub email_sender: EmailSenderStep,
    pub review: ReviewStep,
}

/// An event's wizard.
#[derive(Debug, Serialize, ToSchema)]
pub struct WizardView {
    pub event_id: EventId,
    pub steps: WizardSteps,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderChoice {
    pub channel: Channel,
    pub mode: Choice,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateChoice {
    pub category: TemplateCategory,
    pub channel: Channel,
    pub mode: Choice,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BrandChoice {
    #[schema(inline, value_type = crate::doc::BrandField)]
    pub field: String,
    pub mode: Choice,
    /// With `customise`: the event's value, checked as `PUT /communication/brand` checks the
    /// field; without it, the tenant's value is copied (a 422 when the tenant has none).
    pub value: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailSenderChoice {
    pub mode: Choice,
    /// With `customise`: the event's From address (required).
    pub from_address: Option<herald::domain::EmailAddress>,
    /// At most 100 characters, no control characters.
    #[schema(max_length = 100, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub from_name: Option<String>,
}

/// The answer to a completion request.
#[derive(Debug, Serialize, ToSchema)]
pub struct CompletionAccepted {
    pub run_id: String,
    pub status: RunStatus,
    /// Where progress and the result appear (`steps.review.completion`).
    pub status_url: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WizardDiff {
    /// The active snapshot's version; absent before the first completion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_version: Option<u64>,
    pub up_to_date: bool,
    pub changes: Vec<Change>,
}

/// A snapshot with its content (provider credentials appear only as masked hints).
#[derive(Debug, Serialize, ToSchema)]
pub struct SnapshotOut {
    pub version: u64,
    pub hash: String,
    pub created_at: chrono::DateTime<Utc>,
    pub created_by: String,
    pub run_id: String,
    pub active: bool,
    #[schema(value_type = Object)]
    pub content: serde_json::Value,
}

super::api_routes! {
    (get_wizard),
    (put_providers_step),
    (put_templates_step),
    (put_brand_step),
    (put_email_sender_step),
    (put_uses),
    (validate),
    (complete),
    (get_diff),
    (list_snapshots),
    (get_snapshot),
}

/// The event (checked visible to the key), its layers and its wizard item.
pub(crate) struct Current {
    pub tenant: TenantId,
    pub event: EventId,
    pub loaded: LoadedEvent,
    pub wizard: WizardRecord,
}

impl Current {
    pub fn content(&self) -> SnapshotContent {
        SnapshotContent::build(
            &self.loaded.tenant,
            &self.loaded.event,
            &self.loaded.layers,
            Some(&self.wizard),
        )
    }
}

pub(crate) async fn load_current(
    state: &AppState,
    principal: &Principal,
    tenant: Option<TenantId>,
    raw_event: &str,
) -> ApiResult<Current> {
    let tenant = principal.tenant_scope(tenant)?;
    let event: EventId = path_id(raw_event)?;
    principal.check_event(event)?;
    let (loaded, wizard) = tokio::try_join!(
        state.store.load_event_layers(tenant, event),
        state.store.get_wizard(tenant, event)
    )?;
    let loaded = loaded.ok_or(ApiError::NotFound)?;
    Ok(Current {
        tenant,
        event,
        loaded,
        wizard: wizard.unwrap_or_else(|| WizardRecord::empty(tenant, event)),
    })
}

fn view(current: &Current) -> ApiResult<WizardView> {
    let content = current.content();
    let uses = &content.uses;
    let config = &content.config;
    let providers = Channel::ALL
        .iter()
        .map(|&channel| {
            let resolved = config.providers_for(channel);
            ProviderStepItem {
                channel,
                mode: mode_of(resolved.map(|p| p.source)),
                source: resolved.map(|p| p.source),
                providers: resolved
                    .map(|p| {
                        p.providers
                            .iter()
                            .map(|p| ProviderBrief {
                                id: p.id,
                                name: p.name.clone(),
                                kind: p.kind,
                                priority: p.priority,
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                used: uses.channels.contains(&channel),
            }
        })
        .collect();
    let mut templates = Vec::new();
    for &category in TemplateCategory::ALL {
        for &channel in Channel::ALL {
            let resolved = config.template(category, channel);
            let used = uses.categories.contains(&category) && uses.channels.contains(&channel);
            if !used && resolved.is_none() {
                continue;
            }
            templates.push(TemplateStepItem {
                category,
                channel,
                mode: mode_of(resolved.map(|t| t.source)),
                source: resolved.map(|t| t.source),
                template_id: resolved.map(|t| t.template.id),
                version: resolved.map(|t| t.template.version),
                used,
            });
        }
    }
    let brand = BrandFields::default()
        .entries()
        .iter()
        .map(|(name, _)| {
            let field = config.brand.get(*name);
            BrandStepItem {
                field: (*name).to_owned(),
                mode: mode_of(field.map(|f| f.source)),
                source: field.map(|f| f.source),
                value: field.map(|f| f.value.clone()),
            }
        })
        .collect();
    let email_sender = EmailSenderStep {
        mode: mode_of(content.email_sender.as_ref().map(|s| s.source)),
        sender: content.email_sender.clone(),
    };
    let changed_since_active = match &current.wizard.active {
        Some(active) => active.hash != content.hash()?,
        None => true,
    };
    Ok(WizardView {
        event_id: current.event,
        steps: WizardSteps {
            providers,
            templates,
            brand,
            email_sender,
            review: ReviewStep {
                uses: content.uses.clone(),
                uses_default: current.wizard.uses.is_none(),
                active: current.wizard.active.clone(),
                completion: current.wizard.run.clone(),
                changed_since_active,
            },
        },
    })
}

/// The event for a step that changes it: loaded, and the key allowed to write its layer.
pub(crate) async fn load_writable(
    state: &AppState,
    principal: &Principal,
    tenant: Option<TenantId>,
    raw_event: &str,
) -> ApiResult<(Current, Owner)> {
    let current = load_current(state, principal, tenant, raw_event).await?;
    let owner = Owner::Event(current.tenant, current.event);
    principal.check_write(owner)?;
    Ok((current, owner))
}

async fn reload(
    state: &AppState,
    principal: &Principal,
    tenant: TenantId,
    event: EventId,
) -> ApiResult<Json<WizardView>> {
    let current = load_current(state, principal, Some(tenant), &event.to_string()).await?;
    Ok(Json(view(&current)?))
}

/// The wizard's steps: for every provider channel, template slot, brand field and the email
/// sender, whether it is inherited (and from which layer), customised for the event, or
/// missing; and the review: what the event uses, the active snapshot and the latest completion.
#[utoipa::path(get, path = "/api/v1/events/{id}/wizard", tag = "wizard", params(("id" = EventId, Path), TenantQuery),
    responses((status = 200, body = WizardView)), security(("api_key" = [])))]
pub async fn get_wizard(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(q): StrictQuery<TenantQuery>,
) -> ApiResult<Json<WizardView>> {
    let current = load_current(&state, &principal, q.tenant_id, &id).await?;
    Ok(Json(view(&current)?))
}

/// Providers step: `customise` copies the tenant's providers of the channel to the event
/// (credentials re-sealed for the copies); `inherit` removes the event's own.
#[utoipa::path(put, path = "/api/v1/events/{id}/wizard/providers", tag = "wizard", params(("id" = EventId, Path), TenantQuery),
    request_body = ProviderChoice, responses((status = 200, body = WizardView), BadGateway), security(("api_key" = [])))]
pub async fn put_providers_step(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(q): StrictQuery<TenantQuery>,
    JsonBody(body): JsonBody<ProviderChoice>,
) -> ApiResult<Json<WizardView>> {
    let (current, _) = load_writable(&state, &principal, q.tenant_id, &id).await?;
    let (tenant, event) = (current.tenant, current.event);
    let of_channel = |ps: &[Provider]| -> Vec<Provider> {
        ps.iter()
            .filter(|p| p.channel == body.channel)
            .cloned()
            .collect()
    };
    let own = of_channel(&current.loaded.layers.event.providers);
    match body.mode {
        Choice::Inherit => {
            for p in own {
                match state.store.delete_provider(tenant, Some(event), p.id).await {
                    Ok(()) | Err(StoreError::NotFound) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Choice::Customise if !own.is_empty() => {}
        Choice::Customise => {
            let inherited = of_channel(&current.loaded.layers.tenant.providers);
            if inherited.is_empty() {
                return Err(ApiError::invalid_field(
                    "channel",
                    format!(
                        "the tenant has no {} provider to copy; add one for the event with POST /api/v1/communication/providers?event_id={event}",
                        body.channel
                    ),
                ));
            }
            let now = Utc::now();
            for p in inherited {
                let credentials = state
                    .sealer
                    .open(tenant, &p.id.to_string(), &p.credentials)
                    .await
                    .map_err(ApiError::Upstream)?;
                let copy_id = ProviderId::new();
                let sealed = state
                    .sealer
                    .seal(tenant, &copy_id.to_string(), &credentials)
                    .await
                    .map_err(ApiError::Upstream)?;
                let copy = Provider {
                    id: copy_id,
                    event_id: Some(event),
                    layer: Layer::Event,
                    credentials: sealed,
                    version: 1,
                    created_at: now,
                    updated_at: now,
                    ..p
                };
                state.store.create_provider(tenant, &copy).await?;
            }
        }
    }
    tracing::info!(tenant_id = %tenant, event_id = %event, channel = %body.channel, mode = ?body.mode, "wizard providers step");
    reload(&state, &principal, tenant, event).await
}

/// Templates step: `customise` copies the inherited template of the slot to the event (a new
/// event template, version 1); `inherit` deletes the event's template of the slot.
#[utoipa::path(put, path = "/api/v1/events/{id}/wizard/templates", tag = "wizard", params(("id" = EventId, Path), TenantQuery),
    request_body = TemplateChoice, responses((status = 200, body = WizardView)), security(("api_key" = [])))]
pub async fn put_templates_step(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(q): StrictQuery<TenantQuery>,
    JsonBody(body): JsonBody<TemplateChoice>,
) -> ApiResult<Json<WizardView>> {
    let (current, owner) = load_writable(&state, &principal, q.tenant_id, &id).await?;
    let (tenant, event) = (current.tenant, current.event);
    let layers = &current.loaded.layers;
    let in_slot = |ts: &[Template]| -> Option<Template> {
        ts.iter()
            .find(|t| t.category == body.category && t.channel == body.channel)
            .cloned()
    };
    let own = in_slot(&layers.event.templates);
    match (body.mode, own) {
        (Choice::Inherit, Some(t)) => match state.store.delete_template(owner, t.id).await {
            Ok(_) | Err(StoreError::NotFound) => {}
            Err(e) => return Err(e.into()),
        },
        (Choice::Inherit, None) | (Choice::Customise, Some(_)) => {}
        (Choice::Customise, None) => {
            let inherited = in_slot(&layers.tenant.templates)
                .or_else(|| in_slot(&layers.platform_templates))
                .ok_or_else(|| {
                    ApiError::invalid_field(
                        "category",
                        format!(
                            "no {} template for {} to copy; create one for the event with POST /api/v1/communication/templates?event_id={event}",
                            body.channel, body.category
                        ),
                    )
                })?;
            let now = Utc::now();
            let copy = Template {
                id: TemplateId::new(),
                layer: Layer::Event,
                tenant_id: Some(tenant),
                event_id: Some(event),
                version: 1,
                created_at: now,
                updated_at: now,
                ..inherited
            };
            match state.store.create_template(owner, &copy).await {
                Ok(()) | Err(StoreError::AlreadyExists) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    tracing::info!(tenant_id = %tenant, event_id = %event, category = %body.category, channel = %body.channel, mode = ?body.mode, "wizard templates step");
    reload(&state, &principal, tenant, event).await
}

/// Brand step: `customise` sets the event's value of a field (the given value, or the
/// inherited one); `inherit` clears it so the tenant's applies.
#[utoipa::path(put, path = "/api/v1/events/{id}/wizard/brand", tag = "wizard", params(("id" = EventId, Path), TenantQuery),
    request_body = BrandChoice, responses((status = 200, body = WizardView), Conflict), security(("api_key" = [])))]
pub async fn put_brand_step(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(q): StrictQuery<TenantQuery>,
    JsonBody(body): JsonBody<BrandChoice>,
) -> ApiResult<Json<WizardView>> {
    let (current, owner) = load_writable(&state, &principal, q.tenant_id, &id).await?;
    let (tenant, event) = (current.tenant, current.event);
    let inherited = current
        .loaded
        .layers
        .tenant
        .brand
        .as_ref()
        .and_then(|b| field_of(&b.fields, &body.field).cloned())
        .flatten();
    let value = match body.mode {
        Choice::Inherit => None,
        Choice::Customise => {
            let value = body.value.clone().or(inherited).ok_or_else(|| {
                ApiError::invalid_field("value", "the tenant has no value to copy; give one")
            })?;
            let mut issues = Vec::new();
            super::brand::check_field(&body.field, &value, &mut issues);
            super::reject_if_any(issues)?;
            Some(value)
        }
    };
    let stored = current.loaded.layers.event.brand.clone();
    let mut fields = stored
        .as_ref()
        .map(|b| b.fields.clone())
        .unwrap_or_default();
    let slot = field_mut(&mut fields, &body.field).ok_or_else(|| {
        ApiError::invalid_field(
            "field",
            "one of logo_url, primary_color, secondary_color, sender_name, footer",
        )
    })?;
    if *slot != value {
        *slot = value;
        let expected = stored.as_ref().map(|b| b.version).unwrap_or(0);
        let brand = Brand {
            fields,
            version: expected + 1,
            updated_at: Utc::now(),
        };
        state.store.put_brand(owner, &brand, expected).await?;
    }
    reload(&state, &principal, tenant, event).await
}

fn field_of<'a>(fields: &'a BrandFields, name: &str) -> Option<&'a Option<String>> {
    match name {
        "logo_url" => Some(&fields.logo_url),
        "primary_color" => Some(&fields.primary_color),
        "secondary_color" => Some(&fields.secondary_color),
        "sender_name" => Some(&fields.sender_name),
        "footer" => Some(&fields.footer),
        _ => None,
    }
}

fn field_mut<'a>(fields: &'a mut BrandFields, name: &str) -> Option<&'a mut Option<String>> {
    match name {
        "logo_url" => Some(&mut fields.logo_url),
        "primary_color" => Some(&mut fields.primary_color),
        "secondary_color" => Some(&mut fields.secondary_color),
        "sender_name" => Some(&mut fields.sender_name),
        "footer" => Some(&mut fields.footer),
        _ => None,
    }
}

/// Email sender step: `customise` gives the event its own From address (it must be covered by
/// a verified sender identity of the tenant to go live); `inherit` uses the email providers'.
#[utoipa::path(put, path = "/api/v1/events/{id}/wizard/email-sender", tag = "wizard", params(("id" = EventId, Path), TenantQuery),
    request_body = EmailSenderChoice, responses((status = 200, body = WizardView)), security(("api_key" = [])))]
pub async fn put_email_sender_step(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(q): StrictQuery<TenantQuery>,
    JsonBody(body): JsonBody<EmailSenderChoice>,
) -> ApiResult<Json<WizardView>> {
    let (current, _) = load_writable(&state, &principal, q.tenant_id, &id).await?;
    let (tenant, event) = (current.tenant, current.event);
    let choice = match body.mode {
        Choice::Inherit => None,
        Choice::Customise => {
            let from_address = body.from_address.clone().ok_or_else(|| {
                ApiError::invalid_field("from_address", "required to customise the sender")
            })?;
            let from_name = match body.from_name.as_deref().map(str::trim) {
                Some(n) if n.chars().count() > 100 || n.chars().any(char::is_control) => {
                    return Err(ApiError::invalid_field(
                        "from_name",
                        "at most 100 characters, no control characters",
                    ));
                }
                Some("") | None => None,
                Some(n) => Some(n.to_owned()),
            };
            Some(EmailSenderOverride {
                from_address,
                from_name,
            })
        }
    };
    state
        .store
        .set_wizard_choices(tenant, event, None, Some(choice.as_ref()))
        .await?;
    reload(&state, &principal, tenant, event).await
}

/// What the event sends: its channels and template categories. Every pair must resolve to a
/// template and every channel to a provider before the wizard can complete.
#[utoipa::path(put, path = "/api/v1/events/{id}/wizard/uses", tag = "wizard", params(("id" = EventId, Path), TenantQuery),
    request_body = Uses, responses((status = 200, body = WizardView)), security(("api_key" = [])))]
pub async fn put_uses(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(q): StrictQuery<TenantQuery>,
    JsonBody(body): JsonBody<Uses>,
) -> ApiResult<Json<WizardView>> {
    let tenant = principal.tenant_scope(q.tenant_id)?;
    let event: EventId = path_id(&id)?;
    principal.check_event(event)?;
    principal.check_write(Owner::Event(tenant, event))?;
    if state.store.get_event(tenant, event).await?.is_none() {
        return Err(ApiError::NotFound);
    }
    let uses = body.normalised();
    state
        .store
        .set_wizard_choices(tenant, event, Some(Some(&uses)), None)
        .await?;
    reload(&state, &principal, tenant, event).await
}

/// The readiness report: everything that blocks going live, each with a pointer to the item
/// and what to do. Renders every used template with sample guest data, runs each provider's
/// connection test, and checks the email sender's SES identity.
#[utoipa::path(post, path = "/api/v1/events/{id}/wizard/validate", tag = "wizard", params(("id" = EventId, Path), TenantQuery),
    responses((status = 200, body = Readiness), BadGateway), security(("api_key" = [])))]
pub async fn validate(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(q): StrictQuery<TenantQuery>,
) -> ApiResult<Json<Readiness>> {
    let current = load_current(&state, &principal, q.tenant_id, &id).await?;
    let readiness = check_readiness(
        &current.content(),
        &state.providers,
        &state.sealer,
        &state.store,
    )
    .await
    .map_err(ApiError::Upstream)?;
    Ok(Json(readiness))
}

/// Complete the wizard: answers 202 at once; the `wizard` function resolves, validates and
/// activates a new snapshot version (or none, when nothing changed). A completion already
/// queued or running for the event is a 409. Also the way to re-resolve after a change.
#[utoipa::path(post, path = "/api/v1/events/{id}/wizard/complete", tag = "wizard", params(("id" = EventId, Path), TenantQuery),
    responses((status = 202, body = CompletionAccepted), Conflict, BadGateway), security(("api_key" = [])))]
pub async fn complete(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(q): StrictQuery<TenantQuery>,
) -> ApiResult<(StatusCode, Json<CompletionAccepted>)> {
    let tenant = principal.tenant_scope(q.tenant_id)?;
    let event: EventId = path_id(&id)?;
    principal.check_event(event)?;
    principal.check_write(Owner::Event(tenant, event))?;
    if state.store.get_event(tenant, event).await?.is_none() {
        return Err(ApiError::NotFound);
    }
    let now = Utc::now();
    let mut run = CompletionRun {
        run_id: ulid::Ulid::generate().to_string().to_lowercase(),
        status: RunStatus::Queued,
        requested_by: principal.key_id.to_string(),
        requested_at: now,
        started_at: None,
        finished_at: None,
        lease_until: now.timestamp() + RUN_LEASE_SECONDS,
        snapshot_version: None,
        unchanged: false,
        blockers: Vec::new(),
        error: None,
    };
    match state
        .store
        .request_completion(tenant, event, &run, now)
        .await
    {
        Ok(()) => {}
        Err(RequestError::Busy(status, run_id)) => {
            return Err(ApiError::Conflict {
                detail: format!(
                    "a completion of this event is already {status} (run {run_id}); wait for it to finish"
                ),
                current_version: None,
            });
        }
        Err(RequestError::Store(e)) => return Err(e.into()),
    }
    let message = CompletionMessage {
        tenant_id: tenant,
        event_id: event,
        run_id: run.run_id.clone(),
    };
    let body = serde_json::to_string(&message).map_err(anyhow::Error::new)?;
    let queued = state
        .queues
        .sqs
        .send_message()
        .queue_url(&state.queues.wizard)
        .message_body(body)
        .send()
        .await;
    if let Err(e) = queued {
        run.status = RunStatus::Failed;
        run.finished_at = Some(Utc::now());
        run.error = Some("the completion could not be queued; try again".to_owned());
        let _ = state
            .store
            .update_run(tenant, event, &run, &[RunStatus::Queued])
            .await;
        return Err(ApiError::Upstream(
            anyhow::Error::new(e).context("SQS SendMessage wizard"),
        ));
    }
    tracing::info!(tenant_id = %tenant, event_id = %event, run_id = %run.run_id, "wizard completion queued");
    Ok((
        StatusCode::ACCEPTED,
        Json(CompletionAccepted {
            status_url: format!("/api/v1/events/{event}/wizard"),
            run_id: run.run_id,
            status: run.status,
        }),
    ))
}

/// What changed in the layers (or the wizard's choices) since the active snapshot; complete the
/// wizard again to re-resolve.
#[utoipa::path(get, path = "/api/v1/events/{id}/wizard/diff", tag = "wizard", params(("id" = EventId, Path), TenantQuery),
    responses((status = 200, body = WizardDiff)), security(("api_key" = [])))]
pub async fn get_diff(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(q): StrictQuery<TenantQuery>,
) -> ApiResult<Json<WizardDiff>> {
    let current = load_current(&state, &principal, q.tenant_id, &id).await?;
    let now = current.content();
    let active = match &current.wizard.active {
        Some(_) => {
            state
                .store
                .get_snapshot(current.tenant, current.event, None)
                .await?
        }
        None => None,
    };
    let Some(active) = active else {
        let empty = SnapshotContent {
            email_sender: None,
            uses: Uses {
                channels: Vec::new(),
                categories: Vec::new(),
            },
            config: herald::resolve::resolve_event_config(&Default::default()),
            ..now.clone()
        };
        let mut changes = diff(&empty, &now);
        changes.retain(|c| c.path != "event" && c.path != "tenant/name");
        return Ok(Json(WizardDiff {
            active_version: None,
            up_to_date: false,
            changes,
        }));
    };
    let changes = diff(&active.content, &now);
    Ok(Json(WizardDiff {
        active_version: Some(active.version),
        up_to_date: changes.is_empty() && active.hash == now.hash()?,
        changes,
    }))
}

/// The event's snapshot versions, oldest first (without their content).
#[utoipa::path(get, path = "/api/v1/events/{id}/snapshots", tag = "wizard", params(("id" = EventId, Path), TenantQuery),
    responses((status = 200, body = ListOf<SnapshotSummary>)), security(("api_key" = [])))]
pub async fn list_snapshots(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(q): StrictQuery<TenantQuery>,
) -> ApiResult<Json<ListOf<SnapshotSummary>>> {
    let (tenant, event) = visible_event(&state, &principal, q.tenant_id, &id).await?;
    let (mut items, wizard) = tokio::try_join!(
        state.store.list_snapshots(tenant, event),
        state.store.get_wizard(tenant, event)
    )?;
    let active = wizard.and_then(|w| w.active).map(|a| a.version);
    for item in &mut items {
        item.active = Some(item.version) == active;
    }
    Ok(Json(ListOf::new(items)))
}

/// One snapshot: a version number, or `active`.
#[utoipa::path(get, path = "/api/v1/events/{id}/snapshots/{version}", tag = "wizard",
    params(("id" = EventId, Path), ("version" = String, Path, pattern = "^([0-9]{1,20}|active)$", description = "a version number, or `active`"), TenantQuery),
    responses((status = 200, body = SnapshotOut)), security(("api_key" = [])))]
pub async fn get_snapshot(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, version)): Path<(String, String)>,
    StrictQuery(q): StrictQuery<TenantQuery>,
) -> ApiResult<Json<SnapshotOut>> {
    let (tenant, event) = visible_event(&state, &principal, q.tenant_id, &id).await?;
    let wanted = match version.as_str() {
        "active" => None,
        v => Some(v.parse::<u64>().map_err(|_| ApiError::NotFound)?),
    };
    let (snapshot, wizard) = tokio::try_join!(
        state.store.get_snapshot(tenant, event, wanted),
        state.store.get_wizard(tenant, event)
    )?;
    let snapshot = snapshot.ok_or(ApiError::NotFound)?;
    let active = wizard.and_then(|w| w.active).map(|a| a.version) == Some(snapshot.version);
    let mut content = serde_json::to_value(&snapshot.content).map_err(anyhow::Error::new)?;
    mask_credentials(&mut content);
    Ok(Json(SnapshotOut {
        version: snapshot.version,
        hash: snapshot.hash,
        created_at: snapshot.created_at,
        created_by: snapshot.created_by,
        run_id: snapshot.run_id,
        active,
        content,
    }))
}

/// Replaces each provider's sealed credentials with their masked hints.
pub(crate) fn mask_credentials(content: &mut serde_json::Value) {
    let Some(channels) = content
        .pointer_mut("/config/providers")
        .and_then(|v| v.as_array_mut())
    else {
        return;
    };
    for channel in channels {
        let providers = channel.get_mut("providers").and_then(|v| v.as_array_mut());
        for provider in providers.into_iter().flatten() {
            if let Some(credentials) = provider.get_mut("credentials") {
                let hints = credentials
                    .get("hints")
                    .cloned()
                    .unwrap_or_else(|| serde_json::json!({}));
                *credentials = hints;
            }
        }
    }
}

async fn visible_event(
    state: &AppState,
    principal: &Principal,
    tenant: Option<TenantId>,
    raw: &str,
) -> ApiResult<(TenantId, EventId)> {
    let event: EventId = path_id(raw)?;
    crate::scope::event_of(state, principal, tenant, event).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking_leaves_only_hints() {
        let mut v = serde_json::json!({"config": {"providers": [{"providers": [
            {"id": "p", "credentials": {"ciphertext": "c2VjcmV0", "hints": {"api_key": "••••abcd"}}}
        ]}]}});
        mask_credentials(&mut v);
        assert_eq!(
            v.pointer("/config/providers/0/providers/0/credentials"),
            Some(&serde_json::json!({"api_key": "••••abcd"}))
        );
    }
}
